/**
 * The sampling path's fast parts against their references: the batched
 * normals (the same values as normal(), state included), the addon's
 * vectorised exp / sigmoid / coupling loops / clamp (native/src/vecloops.c)
 * against float64 maths and the cpu backend, and same seed → same images
 * at sizes where the SIMD loops run (rows of 32+ values). The native-only parts
 * are skipped, with a warning, where the addon is not built; the rest runs
 * either way.
 */
import { Rng } from '../../src/engine/rng';
import { Flow } from '../../src/engine/flow';
import { sampleImages } from '../../src/engine/sampler';
import { clampUnit, readImageBatch, toImageBatch } from '../../src/engine/images';
import { loadNativeBlas, nativeBlasStatus } from '../../src/engine/kernels/native-blas';
import type { Tensor2D, Tensor4D } from '@tensorflow/tfjs-core'; // (the SDK's aliases of these)
import { useBackend, referenceForward, randomizeFlow } from './helpers';
import { optionalPart } from '../helpers/optional';

type Fast = {
  fastExp?: (x: Float32Array, out: Float32Array) => void;
  clampUnit?: (s: Float32Array, d: Float32Array) => void;
};
const addon = loadNativeBlas() as (Fast & object) | null;
// Skipped with a reason without the addon; a failure in CI, which builds it.
const native = optionalPart(
  'the vectorised-loop tests',
  addon?.fastExp && addon.clampUnit
    ? null
    : addon
      ? 'the addon predates them (run node native/build.js)'
      : nativeBlasStatus,
);

describe('Rng.normals', () => {
  it('gives the values of normal() × scale, leaving the same state and spare, in chunks of any parity', () => {
    for (const seed of [0, 1, 42, 2 ** 40 + 3]) {
      const a = new Rng(seed);
      const b = new Rng(seed);
      for (const [n, scale] of [
        [1, 1],
        [4, 0.5],
        [0, 1],
        [1001, 1],
        [7, -2],
        [2, 0.7],
      ] as const) {
        const fast = a.normals(n, scale);
        const slow = new Float32Array(n);
        for (let i = 0; i < n; i++) slow[i] = b.normal() * scale;
        expect(Array.from(fast)).toEqual(Array.from(slow));
        expect(a.getState()).toEqual(b.getState());
      }
      expect(a.random()).toBe(b.random()); // and the stream goes on in step
    }
  });

  it('continues from a restored state like normal() does', () => {
    const a = new Rng(9);
    a.normals(3); // leaves a spare
    const saved = a.getState();
    expect(saved.spare).not.toBeNull();
    const b = new Rng(saved);
    const c = new Rng(saved);
    const want = Array.from({ length: 6 }, () => Math.fround(c.normal()));
    expect(Array.from(b.normals(6))).toEqual(want);
  });
});

describe('clampUnit (images)', () => {
  it('clamps to [0, 1] with NaN → 0, into a new array', () => {
    const src = Float32Array.from([-1, 0, 0.25, 1, 1.5, NaN, Infinity, -Infinity, -0]);
    const out = clampUnit(src);
    expect(out).not.toBe(src);
    expect(Array.from(out)).toEqual([0, 0, 0.25, 1, 1, 0, 1, 0, -0]);
    expect(src[0]).toBe(-1); // the source is left alone (on the cpu backend it is a tensor's storage)
  });
});

describe.each(['cpu', 'wasm'] as const)('reading images (%s)', (backend) => {
  it('readImageBatch and toImageBatch copy and clamp, leaving the tensor as it was', async () => {
    const tf = await useBackend(backend);
    const vals = Float32Array.from({ length: 2 * 3 * 2 * 3 }, (_, i) => (i % 7) * 0.4 - 0.9);
    vals[5] = NaN;
    const want = Array.from(vals, (v) => (v > 1 ? 1 : v >= 0 ? v : 0));
    const flat = tf.tensor2d(vals, [2, 18]);
    const t = tf.reshape(flat, [2, 3, 2, 3]) as Tensor4D; // shares the data of `flat`
    for (const batch of [await readImageBatch(t), toImageBatch(t)]) {
      expect(batch).toMatchObject({ n: 2, height: 3, width: 2, channels: 3 });
      expect(Array.from(batch.data)).toEqual(want);
      batch.data.fill(0.5); // a copy: the tensor does not change
    }
    const after = Array.from(flat.dataSync());
    expect(after.map((v) => (Number.isNaN(v) ? 'NaN' : v))).toEqual(
      Array.from(vals, (v) => (Number.isNaN(v) ? 'NaN' : v)),
    );
    tf.dispose([flat, t]);
  });
});

(native ? describe : describe.skip)('native vectorised loops (native/src/vecloops.c)', () => {
  it('fastExp is within 2e-7 relative of exp over [-87.3, 88.3] and keeps NaN', () => {
    const n = 1_000_003;
    const x = new Float32Array(n);
    for (let i = 0; i < n; i++) x[i] = -87.3 + (175.6 * i) / (n - 1);
    const out = new Float32Array(n);
    addon!.fastExp!(x, out);
    let worst = 0;
    for (let i = 0; i < n; i++) {
      const e = Math.exp(x[i]!);
      worst = Math.max(worst, Math.abs(out[i]! - e) / e);
    }
    expect(worst).toBeLessThan(2e-7);
    expect(worst).toBeGreaterThan(0); // a polynomial, not libm: the test would notice a swap
    const special = new Float32Array(3);
    addon!.fastExp!(Float32Array.from([NaN, 0, 1]), special);
    expect(special[0]).toBeNaN();
    expect(special[1]).toBe(1);
    expect(special[2]).toBeCloseTo(Math.E, 6);
    expect(() => addon!.fastExp!(new Float32Array(2), new Float32Array(3))).toThrow(/same length/);
  });

  it('clampUnit in C equals the JS rule, in place too', () => {
    const src = new Float32Array(new Rng(4).normals(1000, 2));
    src[3] = NaN;
    const want = src.map((v) => (v > 1 ? 1 : v >= 0 ? v : 0));
    const out = new Float32Array(src.length);
    addon!.clampUnit!(src, out);
    expect(Array.from(out)).toEqual(Array.from(want));
    addon!.clampUnit!(src, src);
    expect(Array.from(src)).toEqual(Array.from(want));
    expect(() => addon!.clampUnit!(src, new Float32Array(3))).toThrow(/same length/);
  });

  it('the fused matMul + bias + sigmoid / relu epilogue on wasm matches the cpu backend', async () => {
    const tf = await useBackend('wasm');
    // rows of 96 values: SIMD body and a remainder at every vector width
    const a = new Rng(5).normals(37 * 64, 1);
    const b = new Rng(6).normals(64 * 97, 0.5);
    const bias = new Rng(7).normals(97, 2);
    const run = async (backend: 'cpu' | 'wasm', activation: 'sigmoid' | 'relu') => {
      await tf.setBackend(backend);
      return tf.tidy(() =>
        tf.fused
          .matMul({
            a: tf.tensor2d(a, [37, 64]),
            b: tf.tensor2d(b, [64, 97]),
            bias: tf.tensor1d(bias),
            activation,
          })
          .dataSync(),
      );
    };
    for (const act of ['sigmoid', 'relu'] as const) {
      const w = await run('wasm', act);
      const c = await run('cpu', act);
      let worst = 0;
      for (let i = 0; i < c.length; i++) worst = Math.max(worst, Math.abs(w[i]! - c[i]!));
      // the products' float rounding differs (OpenBLAS vs the cpu backend's loop), values ~4
      expect(worst).toBeLessThan(act === 'sigmoid' ? 2e-6 : 2e-5);
    }
  });

  it('the flow on the sampling path (no tape) matches the float64 reference at dim 64', async () => {
    const tf = await useBackend('wasm');
    const flow = new Flow(tf, { dim: 64, blocks: 3, hidden: 48, conditionDim: 0, seed: 3 });
    randomizeFlow(tf, flow, 8);
    const n = 5;
    const eps = new Rng(10).normals(n * 64);
    const { z, logDet } = tf.tidy(() => {
      const out = flow.forward(tf.tensor2d(eps, [n, 64]));
      return { z: out.z.dataSync(), logDet: out.logDet.dataSync() };
    });
    for (let i = 0; i < n; i++) {
      const ref = referenceForward(flow, Array.from(eps.subarray(i * 64, (i + 1) * 64)));
      let num = 0;
      let den = 0;
      for (let j = 0; j < 64; j++) {
        num += (z[i * 64 + j]! - ref.z[j]!) ** 2;
        den += ref.z[j]! ** 2;
      }
      expect(Math.sqrt(num / den)).toBeLessThan(1e-5);
      expect(Math.abs(logDet[i]! - ref.logDet)).toBeLessThan(1e-4 * Math.max(1, Math.abs(ref.logDet)));
    }
    flow.dispose();
  });
});

describe.each(['cpu', 'wasm'] as const)('same seed → same images at SIMD sizes (%s)', (backend) => {
  it('batch sizes 3, 16 and 40 give the same images (bit for bit without the addon)', async () => {
    const tf = await useBackend(backend);
    const d = 48;
    const W = tf.tidy(() => tf.randomNormal([d, 8 * 8 * 3], 0, 0.3, 'float32', 12));
    const B = tf.tidy(() => tf.randomNormal([8 * 8 * 3], 0, 0.3, 'float32', 13));
    const generator = {
      latentDim: d,
      generate: (zz: Tensor2D) =>
        tf.tidy(
          () =>
            tf.reshape(tf.fused.matMul({ a: zz, b: W, bias: B, activation: 'sigmoid' }), [
              zz.shape[0],
              8,
              8,
              3,
            ]) as Tensor4D,
        ),
      dispose: () => undefined,
    };
    const flow = new Flow(tf, { dim: d, blocks: 2, hidden: 40, conditionDim: 0, seed: 4 });
    randomizeFlow(tf, flow, 6);
    const before = tf.memory().numTensors;
    const runs = [];
    for (const batchSize of [3, 16, 40])
      runs.push(await sampleImages({ tf, flow, generator, count: 40, seed: 77, batchSize }));
    expect(tf.memory().numTensors).toBe(before);
    for (const r of runs.slice(1)) {
      if (!addon) {
        expect(Array.from(r.data)).toEqual(Array.from(runs[0]!.data));
        continue;
      }
      // With OpenBLAS a product's rounding depends on the number of rows (its
      // kernels block by rows; checked with the addon before vecloops.c too),
      // so batch sizes agree to float rounding rather than bit for bit.
      let worst = 0;
      for (let i = 0; i < r.data.length; i++)
        worst = Math.max(worst, Math.abs(r.data[i]! - runs[0]!.data[i]!));
      expect(worst).toBeLessThan(1e-5);
    }
    const other = await sampleImages({ tf, flow, generator, count: 40, seed: 78, batchSize: 40 });
    expect(Array.from(other.data)).not.toEqual(Array.from(runs[0]!.data));
    flow.dispose();
    tf.dispose([W, B]);
  });
});
