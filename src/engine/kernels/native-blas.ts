/**
 * Matrix products on the machine's OpenBLAS, in place on the wasm heap.
 *
 * wasm's matmul (XNNPACK, one thread) reaches ~4 GMAC/s here against ~34 for
 * OpenBLAS on one core (docs/PERFORMANCE.md), and matmul is nearly all of a
 * training step. The optional addon `native/build/blas.node` (built by
 * `native/build.js` during `npm ci`, loading OpenBLAS with dlopen) runs
 * cblas_sgemm directly on Float32Array views of the wasm heap, so nothing is
 * copied. Where it is missing, or PROMPTGEN_NATIVE_BLAS=0, the wasm kernels run.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { alloc, callKernel, view, type KernelArgs } from './wasm-util';

export interface NativeBlas {
  sgemm(
    a: Float32Array,
    b: Float32Array,
    c: Float32Array,
    m: number,
    n: number,
    k: number,
    transA: boolean,
    transB: boolean,
  ): void;
  library(): string | null;
  /** Sets OpenBLAS's thread count; false where the library cannot. */
  setThreads(n: number): boolean;
  /** +1 when a training starts, −1 when it ends: sets ⌊cores / trainings⌋ threads and returns it (0: cannot). */
  shareCores?(delta: number, cores: number): number;
  /** OpenBLAS's current thread count (0: the library cannot tell). */
  threadCount?(): number;
  /** c = α·op(a)·op(b) + β·c with leading dimensions (kernels/gemm.ts). Missing in addons built before it. */
  gemm?(
    a: Float32Array,
    lda: number,
    b: Float32Array,
    ldb: number,
    c: Float32Array,
    ldc: number,
    m: number,
    n: number,
    k: number,
    transA: boolean,
    transB: boolean,
    alpha: number,
    beta: number,
  ): void;
  /** NHWC im2col of rows p[14]..p[15] (p: see native-conv.ts convParams). */
  im2col?(x: Float32Array, cols: Float32Array, p: Int32Array): void;
  /** The adjoint of im2col: x += scatter of cols. */
  col2im?(cols: Float32Array, x: Float32Array, p: Int32Array): void;
  /** y = act(y + bias) in place on rows of n values; activation codes as ACTIVATION_CODES. */
  biasActivation?(
    y: Float32Array,
    bias: Float32Array | null,
    n: number,
    activation: number,
    alpha: number,
  ): void;
  /** Σ a_i² in double. */
  sumSquares?(a: Float32Array): number;
  /** One Adam step in place (src/engine/adam.ts). */
  adamUpdate?(p: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array, hyper: Float64Array): void;
  /** Σ a_i² over all arrays, on up to `threads` threads (chunked: the same sum for any count). */
  sumSquaresAll?(arrays: Float32Array[], threads: number): number;
  /** adamUpdate of every variable; m and v hold all variables' state end to end. */
  adamUpdateAll?(
    ps: Float32Array[],
    gs: Float32Array[],
    m: Float32Array,
    v: Float32Array,
    hyper: Float64Array,
    threads: number,
  ): void;
}

/**
 * OpenBLAS threads: a fixed count per process where PROMPTGEN_BLAS_THREADS is
 * set, else null for the shared policy of `shareBlasCores`.
 */
export function blasThreads(env: NodeJS.ProcessEnv = process.env): number | null {
  const raw = env.PROMPTGEN_BLAS_THREADS;
  if (raw === undefined || raw === '') return null;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 256)
    throw new Error(`PROMPTGEN_BLAS_THREADS must be an integer from 1 to 256, got '${raw}'`);
  return n;
}

function cores(): number {
  return typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
}

/**
 * Claims this training's share of the cores for OpenBLAS; call the returned
 * function when the training ends. The thread count is one setting for the
 * whole process (trainings are worker threads of one process), so the addon
 * counts the trainings running and sets ⌊cores / trainings⌋ threads
 * (native/src/threads.c): one training alone multiplies on every core, as
 * PyTorch does on the same library (mlp step 1.72× → 1.34× PyTorch's time on
 * 2 cores, docs/PERFORMANCE.md), and N trainings never ask for more product
 * threads than there are cores, so none waits on a helper thread that another
 * training's helper has pushed off its core. Idle helpers sleep at once
 * instead of spinning (THREAD_TIMEOUT in native/src/openblas.c), so between
 * products the cores are free for the API and the other trainings. A no-op
 * with PROMPTGEN_BLAS_THREADS set, without the addon, or on a backend whose
 * products do not run on it (only wasm and cpu register the addon's kernels).
 */
export function shareBlasCores(backend: string): () => void {
  if (backend !== 'wasm' && backend !== 'cpu') return () => {};
  const blas = loadNativeBlas();
  if (!blas?.shareCores || blasThreads() !== null) return () => {};
  const n = cores();
  blas.shareCores(1, n);
  let released = false;
  return () => {
    if (released) return;
    released = true;
    blas.shareCores!(-1, n);
  };
}

let cached: NativeBlas | null | undefined;

function addonPath(): string | null {
  let dir = __dirname;
  for (let i = 0; i < 6; i++) {
    const candidate = path.join(dir, 'native', 'build', 'blas.node');
    if (fs.existsSync(candidate)) return candidate;
    dir = path.dirname(dir);
  }
  return null;
}

/** The addon with a working OpenBLAS, or null (with the reason in `nativeBlasStatus`). */
export function loadNativeBlas(): NativeBlas | null {
  if (cached !== undefined) return cached;
  cached = null;
  if (process.env.PROMPTGEN_NATIVE_BLAS === '0') {
    nativeBlasStatus = 'disabled by PROMPTGEN_NATIVE_BLAS=0';
    return null;
  }
  const file = addonPath();
  if (!file) {
    nativeBlasStatus = 'native/build/blas.node is not built';
    return null;
  }
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const addon = require(file) as NativeBlas;
    const lib = addon.library();
    if (!lib) {
      nativeBlasStatus = 'no OpenBLAS library found (install libopenblas0)';
      return null;
    }
    const threads = blasThreads();
    if (threads === null) {
      nativeBlasStatus = `OpenBLAS (${lib}, ${addon.shareCores ? `${cores()} cores shared by the running trainings` : 'its own thread count'})`;
    } else {
      const set = typeof addon.setThreads === 'function' && addon.setThreads(threads);
      nativeBlasStatus = `OpenBLAS (${lib}, ${set ? `${threads} thread${threads === 1 ? '' : 's'}` : 'its own thread count'})`;
    }
    cached = addon;
  } catch (err) {
    nativeBlasStatus = `the addon failed to load: ${(err as Error).message}`;
  }
  return cached;
}

export let nativeBlasStatus = 'not checked';

/** Products run on OpenBLAS so far (how a test or a profile sees which kernel ran). */
export const nativeBlasStats = { calls: 0 };

type Activation = (x: number) => number;
/** A fused op's activation as a scalar function; null for none, undefined where only the wasm kernel can do it. */
export function activationOf(attrs: Record<string, unknown>): Activation | null | undefined {
  const name = (attrs.activation as string | undefined) ?? 'linear';
  const alpha = (attrs.leakyreluAlpha as number | undefined) ?? 0.2;
  switch (name) {
    case 'linear':
      return null;
    case 'relu':
      return (x) => (x > 0 ? x : 0);
    case 'relu6':
      return (x) => (x < 0 ? 0 : x > 6 ? 6 : x);
    case 'leakyrelu':
      return (x) => (x > 0 ? x : alpha * x);
    case 'sigmoid':
      return (x) => 1 / (1 + Math.exp(-x));
    case 'elu':
      return (x) => (x > 0 ? x : Math.exp(x) - 1);
    default:
      return undefined; // prelu etc.: leave to the wasm kernel
  }
}

/** The fused ops' epilogue, in place on rows of `n` values: + bias (size 1 or n), then the activation. */
export function applyBiasActivation(
  y: Float32Array,
  bias: Float32Array | null,
  n: number,
  activation: Activation | null,
): void {
  if (!bias && !activation) return;
  for (let i = 0; i < y.length; i++) {
    let v = y[i]!;
    if (bias) v += bias.length === 1 ? bias[0]! : bias[i % n]!;
    y[i] = activation ? activation(v) : v;
  }
}

/** Activation codes of the addon's biasActivation (native/src/conv.c). */
const ACTIVATION_CODES: Record<string, number> = {
  linear: 0,
  relu: 1,
  relu6: 2,
  leakyrelu: 3,
  sigmoid: 4,
  elu: 5,
};

/**
 * The fused epilogue in C where the addon has it (a JS loop calling a closure per
 * value was measurable on the conv case's 64×64×32 activations), else in JS.
 */
export function biasActivation(
  blas: NativeBlas,
  y: Float32Array,
  bias: Float32Array | null,
  n: number,
  attrs: Record<string, unknown>,
  activation: Activation | null,
): void {
  if (!bias && !activation) return;
  const code = ACTIVATION_CODES[(attrs.activation as string | undefined) ?? 'linear'];
  if (blas.biasActivation && code !== undefined) {
    blas.biasActivation(y, bias, n, code, (attrs.leakyreluAlpha as number | undefined) ?? 0.2);
    return;
  }
  applyBiasActivation(y, bias, n, activation);
}

/** BatchMatMul (or _FusedMatMul with a bias of size 1 or N and a simple activation) on OpenBLAS. */
export function makeNativeMatMulKernel(blas: NativeBlas, fallback: KernelFunc, fused: boolean): KernelFunc {
  const fn = (args: KernelArgs): TensorInfo => {
    const { inputs, backend, attrs = {} } = args;
    const { a, b } = inputs;
    const transA = !!attrs.transposeA;
    const transB = !!attrs.transposeB;
    const activation = fused ? activationOf(attrs) : null;
    const bias = fused ? inputs.bias : undefined;
    if (
      a.dtype !== 'float32' ||
      b.dtype !== 'float32' ||
      a.shape.length < 2 ||
      b.shape.length < 2 ||
      activation === undefined
    ) {
      return callKernel(fallback, args);
    }
    // Rank ≥ 2; leading dimensions are a batch (TF.js hands rank-2 operands to this kernel as they are).
    const aBatch = a.shape.slice(0, -2);
    const bBatch = b.shape.slice(0, -2);
    const ba = aBatch.reduce((x, y) => x * y, 1);
    const bb = bBatch.reduce((x, y) => x * y, 1);
    const [a1, a2] = a.shape.slice(-2) as [number, number];
    const [b1, b2] = b.shape.slice(-2) as [number, number];
    const m = transA ? a2 : a1;
    const k = transA ? a1 : a2;
    const n = transB ? b1 : b2;
    const batch = Math.max(ba, bb);
    const biasSize = bias ? bias.shape.reduce((x, y) => x * y, 1) : 0;
    if (
      (ba !== bb && ba !== 1 && bb !== 1) ||
      (bias && bias.dtype !== 'float32') ||
      (bias && biasSize !== 1 && biasSize !== n)
    ) {
      return callKernel(fallback, args);
    }
    const outBatch = aBatch.length >= bBatch.length && ba >= bb ? aBatch : bBatch;
    nativeBlasStats.calls += 1;
    const [out] = alloc(backend, [{ shape: [...outBatch, m, n] }]);
    const A = view(backend, a);
    const B = view(backend, b);
    const C = view(backend, out);
    for (let i = 0; i < batch; i++) {
      const ai = ba === 1 ? 0 : i;
      const bi = bb === 1 ? 0 : i;
      blas.sgemm(
        A.subarray(ai * m * k, (ai + 1) * m * k),
        B.subarray(bi * k * n, (bi + 1) * k * n),
        C.subarray(i * m * n, (i + 1) * m * n),
        m,
        n,
        k,
        transA,
        transB,
      );
    }
    biasActivation(blas, C, bias ? view(backend, bias) : null, n, attrs, activation);
    return out;
  };
  return fn as unknown as KernelFunc;
}
