import { initBackend, getTf } from '../../src/engine/backend';
import type { Tf } from '../../src/sdk/index';
import type { Flow } from '../../src/engine/flow';
import { unpackArtifact } from '../../src/engine/artifact';

export const BACKENDS = ['cpu', 'wasm'] as const;
export type BackendName = (typeof BACKENDS)[number];

let ready: Promise<unknown> | undefined;

/** Loads wasm (with our kernel patches) once per test file, then switches to `name`. */
export async function useBackend(name: BackendName): Promise<Tf> {
  const tf = getTf();
  ready ??= (async () => {
    // IS_TEST only while the cpu backend is created (silences its "install tfjs-node" banner);
    // left on it would turn on tfjs's per-kernel leak checks, which miscount saved tensors.
    tf.env().set('IS_TEST', true);
    await tf.setBackend('cpu');
    tf.env().set('IS_TEST', false);
    await initBackend('wasm');
  })();
  await ready;
  const ok = await tf.setBackend(name);
  if (!ok) throw new Error(`backend ${name} failed`);
  return tf;
}

/** Reads the flow's weights (float64 copies) by name, from its serialized artifact. */
export function flowWeights(flow: Flow): Map<string, { shape: number[]; data: Float64Array }> {
  const art = unpackArtifact(flow.serialize());
  const out = new Map<string, { shape: number[]; data: Float64Array }>();
  for (const n of art.names()) {
    const { shape, data } = art.float32(n);
    out.set(n, { shape, data: Float64Array.from(data) });
  }
  return out;
}

/** Float64 reference of the flow's forward pass for one sample (no condition or given condition). */
export function referenceForward(
  flow: Flow,
  eps: number[],
  cond: number[] = [],
): { z: number[]; logDet: number } {
  const W = flowWeights(flow);
  const { dim: d, hidden, blocks } = flow.config;
  const h1 = Math.floor(d / 2);
  const h2 = d - h1;
  let x = eps.slice();
  let logDet = 0;
  for (let i = 0; i < blocks; i++) {
    const g = (n: string) => W.get(`block${i}.${n}`)!.data;
    const w1 = g('w1'),
      b1 = g('b1'),
      w2 = g('w2'),
      b2 = g('b2'),
      gs = g('g'),
      off = g('offset'),
      R = g('rotation');
    const input = [...x.slice(0, h1), ...cond];
    const h = new Array(hidden).fill(0).map((_, j) => {
      let s = b1[j];
      for (let k = 0; k < input.length; k++) s += input[k] * w1[k * hidden + j];
      return s > 0 ? s : 0.1 * s;
    });
    const st = new Array(2 * h2).fill(0).map((_, j) => {
      let s = b2[j];
      for (let k = 0; k < hidden; k++) s += h[k] * w2[k * 2 * h2 + j];
      return 0.1 * s;
    });
    const y = x.slice();
    for (let j = 0; j < h2; j++) {
      const s = 2 * Math.tanh(st[j]);
      y[h1 + j] = x[h1 + j] * Math.exp(s) + st[h2 + j];
      logDet += s;
    }
    for (let j = 0; j < d; j++) {
      const scale = 0.2 * Math.log1p(Math.exp(0.5 * gs[j]));
      y[j] = y[j] * scale + off[j];
      logDet += Math.log(scale);
    }
    const z = new Array(d).fill(0);
    for (let r = 0; r < d; r++) for (let c = 0; c < d; c++) z[c] += y[r] * R[r * d + c];
    x = z;
  }
  return { z: x, logDet };
}

/** log|det A| by LU with partial pivoting, float64. */
export function logAbsDet(A: number[][]): number {
  const n = A.length;
  const M = A.map((r) => r.slice());
  let s = 0;
  for (let k = 0; k < n; k++) {
    let p = k;
    for (let i = k + 1; i < n; i++) if (Math.abs(M[i][k]) > Math.abs(M[p][k])) p = i;
    [M[k], M[p]] = [M[p], M[k]];
    const piv = M[k][k];
    s += Math.log(Math.abs(piv));
    for (let i = k + 1; i < n; i++) {
      const f = M[i][k] / piv;
      for (let j = k; j < n; j++) M[i][j] -= f * M[k][j];
    }
  }
  return s;
}

/** Gives a flow non-trivial weights (so s, scale and offset all matter). */
export function randomizeFlow(tf: Tf, flow: Flow, seed: number, amount = 1): void {
  let x = seed >>> 0;
  const rnd = () => {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    return x / 4294967296 - 0.5;
  };
  const names = flow.variableNames();
  flow.variables().forEach((v, i) => {
    const name = names[i];
    const vals = v.dataSync() as Float32Array;
    const next = new Float32Array(vals.length);
    for (let k = 0; k < vals.length; k++) {
      if (name.endsWith('.g')) next[k] = vals[k] + amount * (2 + 4 * rnd());
      else if (name.endsWith('.offset')) next[k] = amount * rnd();
      // A fresh flow's w2, b2 are zero (identity at creation): give them values of the scale of a
      // random init (5 × U(±1/√hidden)); non-zero values are scaled as before.
      else if (name.endsWith('.w2') || name.endsWith('.b2')) {
        next[k] =
          vals[k] === 0 ? (amount * 10 * rnd()) / Math.sqrt(flow.config.hidden) : vals[k] * (1 + amount * 4);
      } else next[k] = vals[k];
    }
    tf.tidy(() => v.assign(tf.tensor(next, v.shape)));
  });
}
