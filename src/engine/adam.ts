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
 *  - `hostAdam` on cpu and wasm, where tensor data lives in this process's
 *    memory: one loop over the 1.6 M values of the benchmark's flow instead of
 *    ~50 TF.js kernels (a concat, ~10 element-wise ops over the flat vector, a
 *    split and a subtract/assign per variable), which took ~13 ms of a ~60 ms
 *    mlp step (profile in docs/PERFORMANCE.md);
 *  - `tensorAdam` on every other backend (tensorflow, webgpu: a host loop would
 *    read every gradient back from the device).
 */
import type { Tf } from '../plugins/sdk/index';
import type { NamedTensorMap, Scalar, Variable } from '@tensorflow/tfjs-core';

export interface AdamSettings {
  lr: number;
  weightDecay: number;
  beta1: number;
  beta2: number;
  epsilon: number;
  /** 0 or Infinity: no clip. */
  clipNorm: number;
}

export interface StepResult {
  gradNorm(): number;
  dispose(): void;
}

export interface FlatAdam {
  /** Update k (0-based) with learning rate `lrT`. The gradient norm before clipping is read lazily (no device sync unless asked). */
  step(grads: NamedTensorMap, k: number, lrT: number): StepResult;
  state(): { m: Float32Array; v: Float32Array };
  setState(m: Float32Array, v: Float32Array): void;
  dispose(): void;
}

/** The backends whose tensors the host can read and write without a device round trip. */
export function hostOptimizerFits(tf: Tf): boolean {
  const be = tf.getBackend();
  return be === 'cpu' || be === 'wasm';
}

export function makeAdam(tf: Tf, vars: Variable[], s: AdamSettings): FlatAdam {
  return hostOptimizerFits(tf) ? hostAdam(tf, vars, s) : tensorAdam(tf, vars, s);
}

function clipCoef(norm: number, clip: number): number {
  return clip > 0 && Number.isFinite(clip) ? Math.min(1, clip / (norm + 1e-6)) : 1;
}

export function hostAdam(tf: Tf, vars: Variable[], s: AdamSettings): FlatAdam {
  const total = vars.reduce((a, x) => a + x.size, 0);
  let m = new Float32Array(total);
  let v = new Float32Array(total);
  return {
    step(grads, k, lrT) {
      const gs = vars.map((x) => grads[x.name]!.dataSync() as Float32Array);
      let sq = 0;
      for (const g of gs) for (let i = 0; i < g.length; i++) sq += g[i]! * g[i]!;
      const norm = Math.fround(Math.sqrt(sq));
      const coef = clipCoef(norm, s.clipNorm);
      const t = k + 1;
      const bc1 = 1 - Math.pow(s.beta1, t);
      const sbc2 = Math.sqrt(1 - Math.pow(s.beta2, t));
      const stepSize = lrT / bc1;
      const decay = 1 - lrT * s.weightDecay;
      let o = 0;
      vars.forEach((x, vi) => {
        const g = gs[vi]!;
        const p = Float32Array.from(x.dataSync() as Float32Array);
        for (let i = 0; i < p.length; i++, o++) {
          const gi = g[i]! * coef;
          const mi = (m[o] = s.beta1 * m[o]! + (1 - s.beta1) * gi);
          const vi2 = (v[o] = s.beta2 * v[o]! + (1 - s.beta2) * gi * gi);
          p[i] = p[i]! * decay - (stepSize * mi) / (Math.sqrt(vi2) / sbc2 + s.epsilon);
        }
        tf.tidy(() => x.assign(tf.tensor(p, x.shape)));
      });
      return { gradNorm: () => norm, dispose: () => undefined };
    },
    state: () => ({ m, v }),
    setState(nm, nv) {
      if (nm.length !== total || nv.length !== total) throw new Error(`optimizer state has ${nm.length}/${nv.length} values, expected ${total}`);
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
        const coef = s.clipNorm > 0 && Number.isFinite(s.clipNorm) ? tf.minimum(1, tf.div(s.clipNorm, tf.add(norm, 1e-6))) : tf.scalar(1);
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
      return { gradNorm: () => (gnorm.dataSync() as Float32Array)[0]!, dispose: () => gnorm.dispose() };
    },
    state: () => ({ m: m.dataSync() as Float32Array, v: v.dataSync() as Float32Array }),
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
