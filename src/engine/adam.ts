/**
 * Adam (AdamW with decoupled weight decay) over all the flow's variables as
 * one flat vector, after a global gradient-norm clip:
 *
 *   g ← g · min(1, clip / (‖g‖ + 1e-6))
 *   m ← β1 m + (1 − β1) g;  v ← β2 v + (1 − β2) g²
 *   p ← p (1 − lr·wd) − lr/bc1 · m / (√v / √bc2 + ε),  bc_i = 1 − β_i^t
 *
 * Two implementations with one contract (same state layout, saved in
 * checkpoints as `adam.m` / `adam.v`):
 *  - `hostAdam` on cpu and wasm where the native addon is built, where tensor
 *    data lives in this process's memory: one C loop (native/src/adam.c
 *    `adamUpdate`) over the 1.6 M values of the benchmark's flow instead of
 *    ~50 TF.js kernels (a concat, ~10 element-wise ops over the flat vector, a
 *    split and a subtract/assign per variable). Measured by CPU time on the
 *    loaded 2-core machine: tensor 16–18 ms per update, host with the JS loop
 *    26–31 ms (slower: V8 does not vectorise it), host with the C loop: see
 *    docs/PERFORMANCE.md. So the JS loop is only the reference for tests;
 *  - `tensorAdam` everywhere else (no addon; tensorflow, webgpu: a host loop
 *    would read every gradient back from the device).
 */
import type { Tf } from '../sdk/index';
import type { NamedTensorMap, Scalar, Tensor, Variable } from '@tensorflow/tfjs-core';
import { loadNativeBlas } from './kernels/native-blas';

export interface AdamSettings {
  lr: number;
  weightDecay: number;
  beta1: number;
  beta2: number;
  epsilon: number;
  /** 0 or Infinity: no clip. */
  clipNorm: number;
}

// Reads are asynchronous (`await data()`): the webgpu backend has no synchronous read in Node.
export interface StepResult {
  gradNorm(): Promise<number>;
  dispose(): void;
}

export interface FlatAdam {
  /** Update k (0-based) with learning rate `lrT`. The gradient norm before clipping is read lazily (no device sync unless asked). */
  step(grads: NamedTensorMap, k: number, lrT: number): StepResult;
  state(): Promise<{ m: Float32Array; v: Float32Array }>;
  setState(m: Float32Array, v: Float32Array): void;
  dispose(): void;
}

/** The backends whose tensors the host can read and write without a device round trip. */
export function hostOptimizerFits(tf: Tf): boolean {
  const be = tf.getBackend();
  return be === 'cpu' || be === 'wasm';
}

/** The host loops: native (C) or JS. */
export interface HostAdamLoops {
  sumSquares(a: Float32Array): number;
  /** In place; h = [coef, beta1, beta2, stepSize, sqrtBc2, eps, decay]. */
  adamUpdate(p: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array, h: Float64Array): void;
  /**
   * Both over all variables in one call each, split over the threads the
   * trainings' share of the cores allows (native only): the loops are
   * memory-bound, and one core does not saturate the memory bus.
   */
  all?: {
    sumSquares(gs: Float32Array[]): number;
    /** m and v: all variables' state end to end, in the order of ps. */
    adamUpdate(
      ps: Float32Array[],
      gs: Float32Array[],
      m: Float32Array,
      v: Float32Array,
      h: Float64Array,
    ): void;
  };
}

export const jsAdamLoops: HostAdamLoops = {
  sumSquares(a) {
    let s = 0;
    for (let i = 0; i < a.length; i++) s += a[i]! * a[i]!;
    return s;
  },
  adamUpdate(p, g, m, v, h) {
    const [coef, b1, b2, stepSize, sbc2, eps, decay] = h as unknown as number[];
    for (let i = 0; i < p.length; i++) {
      const gi = g[i]! * coef!;
      const mi = (m[i] = b1! * m[i]! + (1 - b1!) * gi);
      const vi = (v[i] = b2! * v[i]! + (1 - b2!) * gi * gi);
      p[i] = p[i]! * decay! - (stepSize! * mi) / (Math.sqrt(vi) / sbc2! + eps!);
    }
  },
};

/** The addon's loops, or null where it is missing or older than them. */
export function nativeAdamLoops(): HostAdamLoops | null {
  const blas = loadNativeBlas();
  if (!blas || typeof blas.adamUpdate !== 'function' || typeof blas.sumSquares !== 'function') return null;
  const loops: HostAdamLoops = {
    sumSquares: (a) => blas.sumSquares!(a),
    adamUpdate: (p, g, m, v, h) => blas.adamUpdate!(p, g, m, v, h),
  };
  if (blas.sumSquaresAll && blas.adamUpdateAll && blas.threadCount) {
    // OpenBLAS's count at the call: the share of the cores this training holds (shareBlasCores)
    const threads = () => Math.max(1, blas.threadCount!());
    loops.all = {
      sumSquares: (gs) => blas.sumSquaresAll!(gs, threads()),
      adamUpdate: (ps, gs, m, v, h) => blas.adamUpdateAll!(ps, gs, m, v, h, threads()),
    };
  }
  return loops;
}

export function makeAdam(tf: Tf, vars: Variable[], s: AdamSettings): FlatAdam {
  const loops = hostOptimizerFits(tf) ? nativeAdamLoops() : null;
  return loops ? hostAdam(tf, vars, s, loops) : tensorAdam(tf, vars, s);
}

interface HostBackend {
  refCount(dataId: object): number;
  typedArrayFromHeap?(t: { dataId: object; shape: number[]; dtype: string }): Float32Array;
  data?: { get(dataId: object): { values?: unknown } | undefined };
}

/**
 * A float32 tensor's data in place (wasm: a view of the heap, cpu: its store),
 * or null. Read-only use, or writes only through ownedData. Views of the wasm
 * heap stay valid only until the next allocation: use them at once.
 */
function hostData(tf: Tf, t: Tensor): Float32Array | null {
  if (t.dtype !== 'float32') return null;
  const be = tf.backend() as unknown as HostBackend;
  const name = tf.getBackend();
  if (name === 'wasm' && be.typedArrayFromHeap) return be.typedArrayFromHeap(t);
  if (name === 'cpu' && be.data) {
    const values = be.data.get(t.dataId)?.values;
    return values instanceof Float32Array ? values : null;
  }
  return null;
}

/** hostData of a tensor no other tensor shares data with (safe to write), else null. */
function ownedData(tf: Tf, t: Tensor): Float32Array | null {
  const be = tf.backend() as unknown as HostBackend;
  return be.refCount(t.dataId) === 1 ? hostData(tf, t) : null;
}

function clipCoef(norm: number, clip: number): number {
  return clip > 0 && Number.isFinite(clip) ? Math.min(1, clip / (norm + 1e-6)) : 1;
}

export function hostAdam(
  tf: Tf,
  vars: Variable[],
  s: AdamSettings,
  loops: HostAdamLoops = jsAdamLoops,
): FlatAdam {
  const total = vars.reduce((a, x) => a + x.size, 0);
  let m = new Float32Array(total);
  let v = new Float32Array(total);
  const h = new Float64Array(7);
  return {
    step(grads, k, lrT) {
      // Views of the wasm heap are taken right before each use: an allocation
      // (the assign() path below) may grow the heap and detach older views.
      const gradOf = (x: Variable): Float32Array =>
        hostData(tf, grads[x.name]!) ?? (grads[x.name]!.dataSync() as Float32Array);
      let sq = 0;
      if (loops.all) sq = loops.all.sumSquares(vars.map(gradOf));
      else for (const x of vars) sq += loops.sumSquares(gradOf(x));
      const norm = Math.fround(Math.sqrt(sq));
      const t = k + 1;
      h[0] = clipCoef(norm, s.clipNorm);
      h[1] = s.beta1;
      h[2] = s.beta2;
      h[3] = lrT / (1 - Math.pow(s.beta1, t));
      h[4] = Math.sqrt(1 - Math.pow(s.beta2, t));
      h[5] = s.epsilon;
      h[6] = 1 - lrT * s.weightDecay;
      // A variable whose data no other tensor shares is updated where it lies
      // (no copy out, no new tensor: ~20 MB less copying per step for the
      // benchmark's flow); otherwise through a copy and assign(). The copies
      // are taken first: they allocate no wasm memory, so the views stay valid
      // until the update, and the assigns (which may) come after it.
      const copies = vars.map((x) =>
        ownedData(tf, x) ? null : Float32Array.from(x.dataSync() as Float32Array),
      );
      const ps = vars.map((x, i) => copies[i] ?? ownedData(tf, x)!);
      const gs = vars.map(gradOf);
      if (loops.all) loops.all.adamUpdate(ps, gs, m, v, h);
      else {
        let o = 0;
        vars.forEach((x, i) => {
          loops.adamUpdate(ps[i]!, gs[i]!, m.subarray(o, o + x.size), v.subarray(o, o + x.size), h);
          o += x.size;
        });
      }
      vars.forEach((x, i) => {
        const p = copies[i];
        if (p) tf.tidy(() => x.assign(tf.tensor(p, x.shape)));
      });
      return { gradNorm: () => Promise.resolve(norm), dispose: () => undefined };
    },
    state: () => Promise.resolve({ m, v }),
    setState(nm, nv) {
      if (nm.length !== total || nv.length !== total)
        throw new Error(`optimizer state has ${nm.length}/${nv.length} values, expected ${total}`);
      m = Float32Array.from(nm);
      v = Float32Array.from(nv);
    },
    dispose() {
      /* plain arrays */
    },
  };
}

export function tensorAdam(tf: Tf, vars: Variable[], s: AdamSettings): FlatAdam {
  const sizes = vars.map((x) => x.size);
  const total = sizes.reduce((a, b) => a + b, 0);
  const m = tf.tidy(() => tf.variable(tf.zeros([total]), false));
  const v = tf.tidy(() => tf.variable(tf.zeros([total]), false));
  return {
    step(grads, k, lrT) {
      const gnorm = tf.tidy(() => {
        const flat = tf.concat(vars.map((x) => tf.reshape(grads[x.name]!, [-1])));
        const norm = tf.sqrt(tf.sum(tf.square(flat)));
        const coef =
          s.clipNorm > 0 && Number.isFinite(s.clipNorm)
            ? tf.minimum(1, tf.div(s.clipNorm, tf.add(norm, 1e-6)))
            : tf.scalar(1);
        const g = tf.mul(flat, coef);
        const t = k + 1;
        const bc1 = 1 - Math.pow(s.beta1, t);
        const bc2 = 1 - Math.pow(s.beta2, t);
        const newM = tf.add(tf.mul(m, s.beta1), tf.mul(g, 1 - s.beta1));
        const newV = tf.add(tf.mul(v, s.beta2), tf.mul(tf.square(g), 1 - s.beta2));
        m.assign(newM);
        v.assign(newV);
        const denom = tf.add(tf.div(tf.sqrt(newV), Math.sqrt(bc2)), s.epsilon);
        const update = tf.mul(tf.div(newM, denom), lrT / bc1);
        const parts = tf.split(update, sizes);
        vars.forEach((x, i) => {
          let p = x as unknown as Scalar;
          if (s.weightDecay > 0) p = tf.mul(p, 1 - lrT * s.weightDecay);
          x.assign(tf.sub(p, tf.reshape(parts[i]!, x.shape)));
        });
        return norm;
      });
      return {
        gradNorm: async () => ((await gnorm.data()) as Float32Array)[0]!,
        dispose: () => gnorm.dispose(),
      };
    },
    state: async () => ({ m: (await m.data()) as Float32Array, v: (await v.data()) as Float32Array }),
    setState(nm, nv) {
      tf.tidy(() => {
        m.assign(tf.tensor1d(nm));
        v.assign(tf.tensor1d(nv));
      });
    },
    dispose() {
      m.dispose();
      v.dispose();
    },
  };
}
