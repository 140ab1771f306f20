import { PNG } from 'pngjs';
import { Flow } from '../../src/engine/flow';
import { sampleImages, sampleBase, autoBatchSize, MAX_AUTO_BATCH } from '../../src/engine/sampler';
import { encodePng, encodeGrid } from '../../src/engine/png';
import { initBackend, findNativeAddon } from '../../src/engine/backend';
import type { Tensor2D, Tensor4D } from '../../src/sdk/index';
import { BACKENDS, useBackend, randomizeFlow } from './helpers';

type TfT = Awaited<ReturnType<typeof useBackend>>;

function toyGenerator(tf: TfT, d: number, h: number, w: number, c: number) {
  const W = tf.tidy(() => tf.randomNormal([d, h * w * c], 0, 1, 'float32', 3));
  return {
    latentDim: d,
    generate: (z: Tensor2D) =>
      tf.tidy(() => tf.reshape(tf.sigmoid(tf.matMul(z, W)), [z.shape[0], h, w, c]) as Tensor4D),
    dispose: () => W.dispose(),
  };
}

describe.each(BACKENDS)('sampling on %s', (backend) => {
  let tf: TfT;
  beforeAll(async () => {
    tf = await useBackend(backend);
  });
  beforeEach(async () => {
    await tf.setBackend(backend);
  });

  it('same seed gives identical images, whatever the batch size; other seeds differ', async () => {
    const G = toyGenerator(tf, 5, 4, 3, 3);
    const flow = new Flow(tf, { dim: 5, blocks: 2, hidden: 8, conditionDim: 2, seed: 1 });
    randomizeFlow(tf, flow, 4);
    const before = tf.memory().numTensors;
    const a = await sampleImages({
      tf,
      flow,
      generator: G,
      count: 10,
      seed: 5,
      batchSize: 4,
      condition: [0.5, -1],
    });
    const b = await sampleImages({
      tf,
      flow,
      generator: G,
      count: 10,
      seed: 5,
      batchSize: 10,
      condition: [0.5, -1],
    });
    const c = await sampleImages({
      tf,
      flow,
      generator: G,
      count: 10,
      seed: 6,
      batchSize: 10,
      condition: [0.5, -1],
    });
    const t = await sampleImages({
      tf,
      flow,
      generator: G,
      count: 10,
      seed: 5,
      truncation: 0.5,
      condition: [0.5, -1],
    });
    expect(tf.memory().numTensors).toBe(before);
    expect(a).toMatchObject({ n: 10, height: 4, width: 3, channels: 3 });
    expect(a.data.length).toBe(10 * 4 * 3 * 3);
    expect(Array.from(b.data)).toEqual(Array.from(a.data));
    expect(Array.from(c.data)).not.toEqual(Array.from(a.data));
    expect(Array.from(t.data)).not.toEqual(Array.from(a.data));
    for (const v of a.data) expect(v >= 0 && v <= 1).toBe(true);
    const base = await sampleBase(G, 6, 5, { tf });
    expect(base.shape).toEqual([6, 4, 3, 3]);
    const base2 = await sampleBase(G, 6, 5, { tf, batchSize: 4 });
    expect(Array.from(base2.dataSync())).toEqual(Array.from(base.dataSync()));
    tf.dispose([base, base2]);
    flow.dispose();
    G.dispose();
  });

  it('the automatic batch size (a probe batch, then sized by the image) gives the same images as one batch', async () => {
    const G = toyGenerator(tf, 6, 2, 2, 1);
    const flow = new Flow(tf, { dim: 6, blocks: 2, hidden: 8, conditionDim: 1, seed: 2 });
    randomizeFlow(tf, flow, 5);
    const condition = (i: number) => [i % 3];
    const before = tf.memory().numTensors;
    const auto = await sampleImages({ tf, flow, generator: G, count: 300, seed: 9, condition });
    const one = await sampleImages({
      tf,
      flow,
      generator: G,
      count: 300,
      seed: 9,
      condition,
      batchSize: 300,
    });
    expect(tf.memory().numTensors).toBe(before);
    expect(auto.n).toBe(300);
    let worst = 0;
    for (let i = 0; i < one.data.length; i++) worst = Math.max(worst, Math.abs(auto.data[i]! - one.data[i]!));
    expect(worst).toBeLessThan(1e-6);
    flow.dispose();
    G.dispose();
  });
});

describe('autoBatchSize', () => {
  it('is 256 for small images and shrinks with the image', () => {
    expect(autoBatchSize(32 * 32 * 3)).toBe(MAX_AUTO_BATCH);
    expect(autoBatchSize(64 * 64 * 3)).toBe(MAX_AUTO_BATCH);
    expect(autoBatchSize(256 * 256 * 3)).toBe(42);
    expect(autoBatchSize(1024 * 1024 * 3)).toBe(2);
    expect(autoBatchSize(8192 * 8192 * 3)).toBe(1);
  });
});

describe('png', () => {
  it('encodes single images and grids that decode to the right size and colours', async () => {
    await useBackend('cpu');
    const rgb = { n: 5, height: 4, width: 3, channels: 3, data: new Float32Array(5 * 4 * 3 * 3) };
    rgb.data[0] = 1; // image 0, pixel (0,0), red
    const png = PNG.sync.read(encodePng(rgb, 0));
    expect([png.width, png.height]).toEqual([3, 4]);
    expect(Array.from(png.data.subarray(0, 4))).toEqual([255, 0, 0, 255]);
    const grid = PNG.sync.read(encodeGrid(rgb, 2));
    expect([grid.width, grid.height]).toEqual([2 * 3 + 1, 3 * 4 + 2]);
    const gray = { n: 2, height: 2, width: 5, channels: 1, data: new Float32Array(20).fill(0.5) };
    const g = PNG.sync.read(encodePng(gray, 1));
    expect([g.width, g.height]).toEqual([5, 2]);
    expect(g.data[0]).toBe(128);
    expect(() => encodePng(gray, 2)).toThrow();
  });
});

describe('backend', () => {
  it('is idempotent and reports why native backends were skipped', async () => {
    await useBackend('wasm');
    const a = await initBackend('wasm');
    const b = await initBackend('cpu');
    expect(b).toBe(a);
    expect(a.backend).toBe('wasm');
    expect(findNativeAddon('@tensorflow/tfjs-node').ok).toBe(false);
  });
});
