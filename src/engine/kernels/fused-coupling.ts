/**
 * One FrEIA-style coupling block of the flow (src/engine/flow.ts) as one
 * forward and one backward kernel, on the packed state X = [x | ℓ] of shape
 * [n, d + 1] (ℓ: the log-det accumulated so far), h1 = ⌊d/2⌋, h2 = d − h1:
 *
 *   a = x[:, :h1], b = x[:, h1:]
 *   h  = LeakyReLU_0.1([a | cond] W1 + b1)                       [n, H]
 *   st = 0.1 · (h W2 + b2) = [s̃ | t]                              [n, 2 h2]
 *   s  = 2 tanh(s̃),  e = exp(s),  b' = b·e + t,  v = [a | b']
 *   σ  = 0.2 · softplus(0.5 g)   (= 0.1 · softplus_β=0.5(g))
 *   y  = (v·σ + offset) R,  ℓ' = ℓ + Σ_j s_j + Σ_j log σ_j
 *
 * Backward, from (dy, dℓ') = dOut (dℓ = dℓ'):
 *   dw = dy Rᵀ; dσ_j = Σ_i dw_ij v_ij + (Σ_i dℓ_i)/σ_j; doffset = Σ_i dw
 *   dg = 0.1 · sigmoid(0.5 g) · dσ;  dv = dw · σ
 *   db = dv_b · e;  dt = dv_b;  ds = dv_b · b · e + dℓ;  ds̃ = 2 (1 − (s/2)²) ds
 *   dpre = 0.1 [ds̃ | dt]; dW2 = hᵀ dpre; db2 = Σ_i dpre; dh = dpre W2ᵀ
 *   du = dh · (h > 0 ? 1 : 0.1); dW1 = [a | cond]ᵀ du; db1 = Σ_i du
 *   da = dv_a + (du W1ᵀ)[:, :h1];  dX = [da | db | dℓ]
 *
 * Why: unfused, a block is ~140 small TF.js kernels per training step
 * (slices, concats, element-wise ops and their gradients); in the `mlp`
 * benchmark that per-op overhead was about half of the step
 * (docs/PERFORMANCE.md). Here a block is 3 GEMMs forward and 5 backward (one
 * more each with a condition; OpenBLAS, or jsGemm) and a few loops over n·d
 * values, with no intermediate tensors. The forward saves
 * h, s and v for the backward (outputs 2–4) only when asked (`save`), so the
 * sampling path allocates nothing but the output.
 *
 * The same code serves the cpu backend (plain typed arrays) and the wasm
 * backend (views of its heap); `KernelIo` hides the difference.
 */
import * as tfcore from '@tensorflow/tfjs-core';
import type { KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import type { Gemm } from './gemm';

export const COUPLING_FORWARD = 'PromptgenCouplingForward';
export const COUPLING_BACKWARD = 'PromptgenCouplingBackward';

const LEAK = 0.1; // LeakyReLU slope of the subnet (PAPER.md)
const ST_SCALE = 0.1; // the subnet's output is multiplied by 0.1 (PAPER.md)

/** How a kernel reaches tensor data on a backend. Outputs are allocated before inputs are read (wasm's heap may grow). */
export interface KernelIo {
  outputs(shapes: number[][]): { infos: TensorInfo[]; arrays: Float32Array[] };
  read(t: TensorInfo): Float32Array;
}

interface CpuBackendLike {
  data: { get(dataId: object): { values: unknown } };
  makeTensorInfo(shape: number[], dtype: 'float32', values?: Float32Array): TensorInfo;
}
interface WasmBackendLike {
  makeOutput(shape: number[], dtype: 'float32'): TensorInfo;
  typedArrayFromHeap(t: TensorInfo): Float32Array | Int32Array | Uint8Array;
}

const size = (shape: number[]): number => shape.reduce((a, b) => a * b, 1);

export function cpuIo(backend: unknown): KernelIo {
  const be = backend as CpuBackendLike;
  return {
    outputs(shapes) {
      const arrays = shapes.map((s) => new Float32Array(size(s)));
      return { arrays, infos: arrays.map((a, i) => be.makeTensorInfo(shapes[i]!, 'float32', a)) };
    },
    read(t) {
      const v = be.data.get(t.dataId).values;
      if (!(v instanceof Float32Array))
        throw new Error(`coupling kernel: expected float32 data, got ${t.dtype}`);
      return v;
    },
  };
}

export function wasmIo(backend: unknown): KernelIo {
  const be = backend as WasmBackendLike;
  const view = (t: TensorInfo): Float32Array => {
    const a = be.typedArrayFromHeap(t);
    if (!(a instanceof Float32Array))
      throw new Error(`coupling kernel: expected float32 data, got ${t.dtype}`);
    return a;
  };
  return {
    outputs(shapes) {
      const infos = shapes.map((s) => be.makeOutput(s, 'float32'));
      return { infos, arrays: infos.map(view) };
    },
    read: view,
  };
}

// Scratch for values that are not outputs; reused across calls (one kernel runs at a time per thread).
const pool = new Map<string, Float32Array>();
function scratch(key: string, n: number): Float32Array {
  let a = pool.get(key);
  if (!a || a.length < n) {
    a = new Float32Array(n);
    pool.set(key, a);
  }
  return a.subarray(0, n);
}

/** σ_j = 0.2 · softplus(0.5 g_j), computed without overflow; returns Σ log σ_j (float64). */
function scales(g: Float32Array, out: Float32Array): number {
  let logSum = 0;
  for (let j = 0; j < g.length; j++) {
    const z = 0.5 * g[j]!;
    const sp = z > 0 ? z + Math.log1p(Math.exp(-z)) : Math.log1p(Math.exp(z));
    out[j] = 0.2 * sp;
    logSum += Math.log(out[j]!);
  }
  return logSum;
}

type Args = { inputs: Record<string, TensorInfo>; backend: unknown; attrs?: Record<string, unknown> };

interface Dims {
  n: number;
  d: number;
  h1: number;
  h2: number;
  c: number;
  H: number;
}

function dimsOf(inputs: Record<string, TensorInfo>): Dims {
  const { x, w1, w2, rotation, cond } = inputs;
  if (!x || !w1 || !w2 || !rotation) throw new Error('coupling kernel: missing inputs');
  const n = x.shape[0]!;
  const d = x.shape[1]! - 1;
  const h1 = Math.floor(d / 2);
  const h2 = d - h1;
  const c = cond ? cond.shape[1]! : 0;
  const H = w1.shape[1]!;
  if (
    w1.shape[0] !== h1 + c ||
    w2.shape[0] !== H ||
    w2.shape[1] !== 2 * h2 ||
    rotation.shape[0] !== d ||
    (cond && cond.shape[0] !== n)
  ) {
    throw new Error('coupling kernel: inconsistent shapes');
  }
  return { n, d, h1, h2, c, H };
}

/**
 * The addon's whole-block kernels (native/src/coupling.c): the same loops in C around
 * OpenBLAS. The JS loops below took ~14 ms forward and ~11 ms backward per
 * 8-block mlp step (CPU time, GEMMs excluded), more than the GEMMs themselves.
 */
export interface NativeCoupling {
  couplingForward(
    X: Float32Array,
    W1: Float32Array,
    B1: Float32Array,
    W2: Float32Array,
    B2: Float32Array,
    G: Float32Array,
    OFF: Float32Array,
    R: Float32Array,
    C: Float32Array | null,
    out: Float32Array,
    h: Float32Array,
    S: Float32Array,
    v: Float32Array,
    dims: Int32Array,
  ): void;
  couplingBackward(
    DY: Float32Array,
    X: Float32Array,
    h: Float32Array,
    S: Float32Array,
    v: Float32Array,
    W1: Float32Array,
    W2: Float32Array,
    G: Float32Array,
    R: Float32Array,
    C: Float32Array | null,
    dx: Float32Array,
    dW1: Float32Array,
    db1: Float32Array,
    dW2: Float32Array,
    db2: Float32Array,
    dg: Float32Array,
    doff: Float32Array,
    dims: Int32Array,
  ): void;
}

/** The addon's coupling kernels where it has them (older builds do not). */
export function nativeCouplingOf(blas: object | null): NativeCoupling | null {
  const b = blas as Partial<NativeCoupling> | null;
  return b && typeof b.couplingForward === 'function' && typeof b.couplingBackward === 'function'
    ? (b as NativeCoupling)
    : null;
}

/** inputs {x [n,d+1], w1, b1, w2, b2, g, offset, rotation, cond?}, attrs {save}; outputs [out] or [out, h, s, v]. */
export function makeCouplingForward(
  io: (backend: unknown) => KernelIo,
  gemm: Gemm,
  native: NativeCoupling | null = null,
): KernelFunc {
  return ((args: Args): TensorInfo | TensorInfo[] => {
    const { inputs, attrs = {} } = args;
    const save = !!attrs.save;
    const { n, d, h1, h2, c, H } = dimsOf(inputs);
    const D1 = d + 1;
    const k = io(args.backend);
    const shapes = save
      ? [
          [n, D1],
          [n, H],
          [n, h2],
          [n, d],
        ]
      : [[n, D1]];
    const { infos, arrays } = k.outputs(shapes);
    const out = arrays[0]!;
    const h = save ? arrays[1]! : scratch('h', n * H);
    const S = save ? arrays[2]! : scratch('s', n * h2);
    const v = save ? arrays[3]! : scratch('v', n * d);
    const X = k.read(inputs.x!);
    const W1 = k.read(inputs.w1!);
    const B1 = k.read(inputs.b1!);
    const W2 = k.read(inputs.w2!);
    const B2 = k.read(inputs.b2!);
    const G = k.read(inputs.g!);
    const OFF = k.read(inputs.offset!);
    const R = k.read(inputs.rotation!);
    const C = inputs.cond ? k.read(inputs.cond) : null;
    if (native) {
      native.couplingForward(X, W1, B1, W2, B2, G, OFF, R, C, out, h, S, v, Int32Array.of(n, d, c, H));
      return save ? infos : infos[0]!;
    }

    // h = LeakyReLU([a | cond] W1 + b1): two products into h, no concat
    gemm(X, D1, W1, H, h, H, n, H, h1, false, false, 1, 0);
    if (C) gemm(C, c, W1.subarray(h1 * H), H, h, H, n, H, c, false, false, 1, 1);
    for (let i = 0, o = 0; i < n; i++) {
      for (let j = 0; j < H; j++, o++) {
        const u = h[o]! + B1[j]!;
        h[o] = u > 0 ? u : LEAK * u;
      }
    }
    // st = 0.1 (h W2 + b2)
    const W = 2 * h2;
    const st = scratch('st', n * W);
    gemm(h, H, W2, W, st, W, n, W, H, false, false, 1, 0);
    const sigma = scratch('sigma', d);
    const logSigma = scales(G, sigma);
    // coupling, global affine (into the pre-rotation y), log-det
    const y = scratch('y', n * d);
    for (let i = 0; i < n; i++) {
      const xo = i * D1;
      const vo = i * d;
      const so = i * W;
      for (let j = 0; j < h1; j++) {
        const a = X[xo + j]!;
        v[vo + j] = a;
        y[vo + j] = a * sigma[j]! + OFF[j]!;
      }
      let sumS = 0;
      for (let j = 0; j < h2; j++) {
        const s = 2 * Math.tanh(ST_SCALE * (st[so + j]! + B2[j]!));
        const t = ST_SCALE * (st[so + h2 + j]! + B2[h2 + j]!);
        const sf = Math.fround(s);
        S[i * h2 + j] = sf;
        sumS += sf;
        const bp = X[xo + h1 + j]! * Math.exp(sf) + t;
        v[vo + h1 + j] = bp;
        y[vo + h1 + j] = Math.fround(bp) * sigma[h1 + j]! + OFF[h1 + j]!;
      }
      out[xo + d] = X[xo + d]! + sumS + logSigma;
    }
    // out[:, :d] = y R (written into the packed rows, leading dimension d + 1)
    gemm(y, d, R, d, out, D1, n, d, d, false, false, 1, 0);
    return save ? infos : infos[0]!; // one output: runKernel then returns a tensor, not a list
  }) as unknown as KernelFunc;
}

/**
 * inputs {dy [n,d+1], x, h, s, v, w1, w2, g, rotation, cond?};
 * outputs [dx [n,d+1], dw1, db1, dw2, db2, dg, doffset].
 */
export function makeCouplingBackward(
  io: (backend: unknown) => KernelIo,
  gemm: Gemm,
  native: NativeCoupling | null = null,
): KernelFunc {
  return ((args: Args): TensorInfo[] => {
    const { inputs } = args;
    const { n, d, h1, h2, c, H } = dimsOf(inputs);
    const D1 = d + 1;
    const W = 2 * h2;
    const k = io(args.backend);
    const { infos, arrays } = k.outputs([[n, D1], [h1 + c, H], [H], [H, W], [W], [d], [d]]);
    const [dx, dW1, db1, dW2, db2, dg, doff] = arrays as [
      Float32Array,
      Float32Array,
      Float32Array,
      Float32Array,
      Float32Array,
      Float32Array,
      Float32Array,
    ];
    const DY = k.read(inputs.dy!);
    const X = k.read(inputs.x!);
    const h = k.read(inputs.h!);
    const S = k.read(inputs.s!);
    const v = k.read(inputs.v!);
    const W1 = k.read(inputs.w1!);
    const W2 = k.read(inputs.w2!);
    const G = k.read(inputs.g!);
    const R = k.read(inputs.rotation!);
    const C = inputs.cond ? k.read(inputs.cond) : null;
    if (native) {
      native.couplingBackward(
        DY,
        X,
        h,
        S,
        v,
        W1,
        W2,
        G,
        R,
        C,
        dx,
        dW1,
        db1,
        dW2,
        db2,
        dg,
        doff,
        Int32Array.of(n, d, c, H),
      );
      return infos;
    }

    // dw = dy[:, :d] Rᵀ
    const dw = scratch('dw', n * d);
    gemm(DY, D1, R, d, dw, d, n, d, d, false, true, 1, 0);
    const sigma = scratch('sigma', d);
    scales(G, sigma);
    // dσ, doffset: column sums (float64), then dv = dw·σ in place
    const dSigma = new Float64Array(d);
    const dOff = new Float64Array(d);
    let dlSum = 0;
    for (let i = 0; i < n; i++) {
      const o = i * d;
      dlSum += DY[i * D1 + d]!;
      for (let j = 0; j < d; j++) {
        const gw = dw[o + j]!;
        dSigma[j]! += gw * v[o + j]!;
        dOff[j]! += gw;
        dw[o + j] = gw * sigma[j]!;
      }
    }
    for (let j = 0; j < d; j++) {
      const ds = dSigma[j]! + dlSum / sigma[j]!;
      const z = 0.5 * G[j]!;
      dg[j] = (0.1 * ds) / (1 + Math.exp(-z));
      doff[j] = dOff[j]!;
    }
    // coupling backward into dpre = 0.1·[ds̃ | dt]; dx gets dv_a, db, dℓ
    const dpre = scratch('dpre', n * W);
    for (let i = 0; i < n; i++) {
      const xo = i * D1;
      const o = i * d;
      const dl = DY[xo + d]!;
      for (let j = 0; j < h1; j++) dx[xo + j] = dw[o + j]!;
      for (let j = 0; j < h2; j++) {
        const dbp = dw[o + h1 + j]!;
        const s = S[i * h2 + j]!;
        const e = Math.exp(s);
        dx[xo + h1 + j] = dbp * e;
        const ds = dbp * X[xo + h1 + j]! * e + dl;
        const th = 0.5 * s;
        dpre[i * W + j] = ST_SCALE * 2 * (1 - th * th) * ds;
        dpre[i * W + h2 + j] = ST_SCALE * dbp;
      }
      dx[xo + d] = dl;
    }
    // W2, b2 and dh
    gemm(h, H, dpre, W, dW2, W, H, W, n, true, false, 1, 0);
    colSums(dpre, n, W, db2);
    const du = scratch('du', n * H);
    gemm(dpre, W, W2, W, du, H, n, H, W, false, true, 1, 0);
    for (let o = 0; o < n * H; o++) if (!(h[o]! > 0)) du[o] = LEAK * du[o]!;
    // W1, b1 and the subnet's input gradient (accumulated into dx[:, :h1])
    gemm(X, D1, du, H, dW1, H, h1, H, n, true, false, 1, 0);
    if (C) gemm(C, c, du, H, dW1.subarray(h1 * H), H, c, H, n, true, false, 1, 0);
    colSums(du, n, H, db1);
    gemm(du, H, W1, H, dx, D1, n, h1, H, false, true, 1, 1);
    return infos;
  }) as unknown as KernelFunc;
}

function colSums(a: Float32Array, rows: number, cols: number, out: Float32Array): void {
  const acc = new Float64Array(cols);
  for (let i = 0; i < rows; i++) {
    const o = i * cols;
    for (let j = 0; j < cols; j++) acc[j]! += a[o + j]!;
  }
  for (let j = 0; j < cols; j++) out[j] = acc[j]!;
}

/** Registers the fused kernels for one backend (idempotent). */
export function registerCouplingKernels(
  backendName: string,
  io: (backend: unknown) => KernelIo,
  gemm: Gemm,
  native: NativeCoupling | null = null,
): void {
  for (const [name, fn] of [
    [COUPLING_FORWARD, makeCouplingForward(io, gemm, native)],
    [COUPLING_BACKWARD, makeCouplingBackward(io, gemm, native)],
  ] as const) {
    (fn as unknown as Record<string, boolean>).__promptgenPatched = true; // as kernels/index.ts marks its patches
    if (tfcore.getKernel(name, backendName)) tfcore.unregisterKernel(name, backendName);
    tfcore.registerKernel({ kernelName: name, backendName, kernelFunc: fn });
  }
}
