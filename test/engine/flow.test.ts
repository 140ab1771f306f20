import { Flow, composeGenerator } from '../../src/engine/flow';
import type { Tensor2D, Tensor4D } from '../../src/sdk/index';
import { BACKENDS, useBackend, referenceForward, logAbsDet, randomizeFlow } from './helpers';
import { Rng } from '../../src/engine/rng';
import { packArtifact, unpackArtifact } from '../../src/engine/artifact';

const maxAbs = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};

describe.each(BACKENDS)('flow on %s', (backend) => {
  let tf: Awaited<ReturnType<typeof useBackend>>;
  beforeAll(async () => {
    tf = await useBackend(backend);
  });
  beforeEach(async () => {
    await tf.setBackend(backend);
  });

  it.each([
    ['even d, no condition', 8, 0],
    ['odd d, no condition', 7, 0],
    ['odd d, with condition', 5, 3],
  ])('inverse(forward(ε)) ≈ ε (%s)', (_label, dim, conditionDim) => {
    const flow = new Flow(tf, { dim, blocks: 4, hidden: 32, conditionDim, seed: 3 });
    randomizeFlow(tf, flow, 11);
    const rng = new Rng(5);
    const n = 64;
    const eps = tf.tensor2d(rng.normals(n * dim), [n, dim]);
    const cond = conditionDim ? tf.tensor2d(rng.normals(n * conditionDim), [n, conditionDim]) : undefined;
    const { z, logDet } = flow.forward(eps, cond);
    const back = flow.inverse(z, cond);
    expect(maxAbs(back.dataSync(), eps.dataSync())).toBeLessThan(1e-4);
    // the flow is not the identity
    expect(maxAbs(z.dataSync(), eps.dataSync())).toBeGreaterThan(0.1);
    if (cond) {
      // the condition matters
      const z0 = flow.forward(eps).z;
      expect(maxAbs(z0.dataSync(), z.dataSync())).toBeGreaterThan(1e-3);
      tf.dispose(z0);
    }
    tf.dispose([eps, z, logDet, back, ...(cond ? [cond] : [])]);
    flow.dispose();
  });

  it('forward matches a float64 reference and logDet equals log|det J| of the finite-difference Jacobian (d=8)', () => {
    const d = 8;
    const flow = new Flow(tf, { dim: d, blocks: 3, hidden: 16, conditionDim: 2, seed: 9 });
    randomizeFlow(tf, flow, 21);
    const rng = new Rng(7);
    for (let trial = 0; trial < 3; trial++) {
      const e = Array.from(rng.normals(d));
      const c = Array.from(rng.normals(2));
      const eps = tf.tensor2d(e, [1, d]);
      const cond = tf.tensor2d(c, [1, 2]);
      const { z, logDet } = flow.forward(eps, cond);
      const ref = referenceForward(flow, e, c);
      expect(maxAbs(z.dataSync(), ref.z)).toBeLessThan(1e-3 * Math.max(1, ...ref.z.map(Math.abs)));
      // Numerical Jacobian (central differences, float64 reference)
      const h = 1e-5;
      const J: number[][] = Array.from({ length: d }, () => new Array(d).fill(0));
      for (let j = 0; j < d; j++) {
        const ep = e.slice();
        const em = e.slice();
        ep[j] += h;
        em[j] -= h;
        const zp = referenceForward(flow, ep, c).z;
        const zm = referenceForward(flow, em, c).z;
        for (let i = 0; i < d; i++) J[i][j] = (zp[i] - zm[i]) / (2 * h);
      }
      const numeric = logAbsDet(J);
      const ours = logDet.dataSync()[0];
      expect(Math.abs(numeric)).toBeGreaterThan(0.5); // a non-trivial volume change
      expect(Math.abs(ours - numeric) / Math.abs(numeric)).toBeLessThan(1e-3);
      expect(Math.abs(ref.logDet - numeric) / Math.abs(numeric)).toBeLessThan(1e-3);
      tf.dispose([eps, cond, z, logDet]);
    }
    flow.dispose();
  });

  it('serialize / deserialize gives identical outputs (rotations included)', () => {
    const flow = new Flow(tf, { dim: 6, blocks: 3, hidden: 8, conditionDim: 1, seed: 1 });
    randomizeFlow(tf, flow, 2);
    const bytes = flow.serialize();
    const copy = Flow.deserialize(tf, bytes);
    expect(copy.config).toEqual(flow.config);
    const other = new Flow(tf, { ...flow.config, seed: 2 });
    const eps = tf.tensor2d(new Rng(1).normals(10 * 6), [10, 6]);
    const cond = tf.ones([10, 1]) as Tensor2D;
    const a = flow.forward(eps, cond);
    const b = copy.forward(eps, cond);
    expect(Array.from(b.z.dataSync())).toEqual(Array.from(a.z.dataSync()));
    expect(Array.from(b.logDet.dataSync())).toEqual(Array.from(a.logDet.dataSync()));
    other.load(bytes);
    const c = other.forward(eps, cond);
    expect(Array.from(c.z.dataSync())).toEqual(Array.from(a.z.dataSync()));
    expect(() => Flow.deserialize(tf, bytes.slice(0, 20))).toThrow();
    tf.dispose([eps, cond, a.z, a.logDet, b.z, b.logDet, c.z, c.logDet]);
    [flow, copy, other].forEach((f) => f.dispose());
  });

  it.each([
    ['d=7, 4 blocks', 7, 4, 0],
    ['d=64, 8 blocks, conditional', 64, 8, 3],
    ['d=5, 1 block', 5, 1, 0],
  ])('a fresh flow is the identity on ε (%s), and stays invertible', (_label, dim, blocks, conditionDim) => {
    const flow = new Flow(tf, { dim, blocks, hidden: 16, conditionDim, seed: 4 });
    const n = 32;
    const eps = tf.tensor2d(new Rng(8).normals(n * dim), [n, dim]);
    const cond = conditionDim
      ? tf.tensor2d(new Rng(9).normals(n * conditionDim), [n, conditionDim])
      : undefined;
    const { z, logDet } = flow.forward(eps, cond);
    expect(maxAbs(z.dataSync(), eps.dataSync())).toBeLessThan(1e-5);
    expect(maxAbs(logDet.dataSync(), new Float32Array(n))).toBeLessThan(1e-5);
    // the identity comes from the rotations' product, not from rotations left out
    const names = flow.variableNames();
    expect(names.filter((x) => x.endsWith('.w2')).length).toBe(blocks);
    tf.dispose([eps, z, logDet, ...(cond ? [cond] : [])]);
    flow.dispose();
  });

  it('reads version-1 artifacts (random init, no identity) unchanged', () => {
    const flow = new Flow(tf, { dim: 6, blocks: 3, hidden: 8, conditionDim: 0, seed: 1 });
    randomizeFlow(tf, flow, 5);
    const v2 = unpackArtifact(flow.serialize());
    expect(v2.meta.version).toBe(2);
    const blobs = v2.names().map((name) => {
      const b = v2.float32(name);
      return { name, dtype: 'float32' as const, shape: b.shape, data: b.data };
    });
    const v1 = packArtifact({ ...v2.meta, version: 1 }, blobs);
    const old = Flow.deserialize(tf, v1);
    const eps = tf.tensor2d(new Rng(2).normals(4 * 6), [4, 6]);
    const a = flow.forward(eps);
    const b = old.forward(eps);
    expect(Array.from(b.z.dataSync())).toEqual(Array.from(a.z.dataSync()));
    expect(() => Flow.deserialize(tf, packArtifact({ ...v2.meta, version: 3 }, blobs))).toThrow(/version 3/);
    tf.dispose([eps, a.z, a.logDet, b.z, b.logDet]);
    flow.dispose();
    old.dispose();
  });

  it('composeGenerator gives G∘f with a standard-normal latent', () => {
    const flow = new Flow(tf, { dim: 4, blocks: 2, hidden: 8, conditionDim: 0, seed: 1 });
    randomizeFlow(tf, flow, 3);
    const G = {
      generate: (z: Tensor2D) => tf.reshape(tf.sigmoid(z), [z.shape[0], 2, 2, 1]) as Tensor4D,
      dispose() {},
    };
    const composed = composeGenerator(flow, G);
    expect(composed.latentDim).toBe(4);
    const eps = tf.tensor2d(new Rng(4).normals(12), [3, 4]);
    const before = tf.memory().numTensors;
    const img = composed.generate(eps);
    expect(tf.memory().numTensors).toBe(before + 1);
    const { z, logDet } = flow.forward(eps);
    const expected = G.generate(z);
    expect(maxAbs(img.dataSync(), expected.dataSync())).toBe(0);
    tf.dispose([eps, img, z, logDet, expected]);
    flow.dispose();
  });
});
