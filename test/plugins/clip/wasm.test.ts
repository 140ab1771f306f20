/**
 * clip-text on the wasm backend (the server's default), compared with the cpu
 * backend in the same process (test/engine/helpers loads wasm once, then switches).
 * The encoders include a fused Conv2D (layers) and a graph model (NCHW), whose
 * input gradients need Conv2DBackpropInput/-Filter, BatchMatMul with transposes,
 * Mean and AddV2 gradients on wasm.
 */
import * as os from 'os';
import * as path from 'path';
import { Flow } from '../../../src/engine/flow';
import { train } from '../../../src/engine/trainer';
import { PluginRegistry } from '../../../src/plugins/registry';
import type { ControlDefinition, Tensor, Tensor2D, Tensor4D, Tf } from '../../../src/sdk';
import { useBackend } from '../../engine/helpers';
import { repoRoot, silentLogger, tmpDir } from '../helpers';
import { noise, writeClipFixture, type ClipFixture } from './helpers';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const clip = require('../../../plugins/clip/src/index');
const def: ControlDefinition = clip.controls[0];
const GEN = { name: 'toy', latentDim: 4, output: { width: 8, height: 8, channels: 1 } };

let tf: Tf;
let fx: ClipFixture;
const registry = new PluginRegistry({
  logger: silentLogger,
  assets: { dirs: [os.tmpdir()], urlPrefixes: [] },
});
const ctxFor = (backend: string) =>
  registry.createContext(
    { name: '@promptgen/clip', dir: path.join(repoRoot, 'plugins', 'clip') },
    tf,
    backend,
    silentLogger,
  );

beforeAll(async () => {
  tf = await useBackend('wasm');
  fx = await writeClipFixture(tf, tmpDir('clip-wasm'));
});

/** Energy [n] and its gradient w.r.t. the images on one backend, as plain arrays. */
async function energyAndGrad(
  backend: 'cpu' | 'wasm',
  imageEncoder: string,
  values: Float32Array,
  shape: [number, number, number, number],
) {
  await useBackend(backend);
  expect(tf.getBackend()).toBe(backend);
  const inst = await def.load(
    ctxFor(backend),
    {
      text: 'a bright photo',
      imageEncoder,
      textEncoder: fx.textEncoder,
      vocabulary: fx.vocabulary,
      inputSize: fx.inputSize,
      augmentations: 3,
      seed: 4,
    },
    GEN,
  );
  const images = tf.tensor4d(values, shape) as Tensor4D;
  const z = tf.zeros([shape[0], 4]) as Tensor2D;
  const e = Array.from(await inst.energy(images, { z }).data());
  // A second instance with the same seed: its first call draws the same augmentations.
  const again = await def.load(
    ctxFor(backend),
    {
      text: 'a bright photo',
      imageEncoder,
      textEncoder: fx.textEncoder,
      vocabulary: fx.vocabulary,
      inputSize: fx.inputSize,
      augmentations: 3,
      seed: 4,
    },
    GEN,
  );
  const g = tf.grad((x: Tensor) => tf.sum(again.energy(x as Tensor4D, { z })))(images);
  const grad = Array.from(await g.data());
  tf.dispose([images, z, g]);
  inst.dispose();
  again.dispose();
  return { e, grad };
}

const maxAbs = (a: number[]) => a.reduce((m, v) => Math.max(m, Math.abs(v)), 0);

describe.each([
  [
    'layers encoder with a convolution (NHWC)',
    () => fx.imageEncoder,
    [3, 8, 8, 1] as [number, number, number, number],
  ],
  ['graph encoder (NCHW)', () => fx.imageEncoderGraph, [2, 20, 20, 3] as [number, number, number, number]],
])('%s', (_name, encoder, shape) => {
  test('wasm: energy in [0, 2], gradient finite and non-zero; both match the cpu backend', async () => {
    const values = noise(
      21,
      shape.reduce((a, b) => a * b, 1),
    ).map((v) => 0.5 + 0.4 * v);
    const wasm = await energyAndGrad('wasm', encoder(), values, shape);
    const cpu = await energyAndGrad('cpu', encoder(), values, shape);
    expect(wasm.e).toHaveLength(shape[0]);
    wasm.e.forEach((v) => {
      expect(v).toBeGreaterThanOrEqual(0);
      expect(v).toBeLessThanOrEqual(2);
    });
    expect(wasm.grad.every(Number.isFinite)).toBe(true);
    const scale = maxAbs(wasm.grad);
    expect(scale).toBeGreaterThan(1e-6);
    wasm.e.forEach((v, i) => expect(v).toBeCloseTo(cpu.e[i], 4));
    expect(maxAbs(wasm.grad.map((v, i) => v - cpu.grad[i]))).toBeLessThan(1e-3 * scale + 1e-7);
  });
});

test('wasm: a short training with "a bright photo" raises the brightness of the samples', async () => {
  await useBackend('wasm');
  const control: any = await def.load(
    ctxFor('wasm'),
    {
      text: 'a bright photo',
      imageEncoder: fx.imageEncoderDense,
      textEncoder: fx.textEncoder,
      vocabulary: fx.vocabulary,
      inputSize: fx.inputSize,
      augmentations: 2,
      seed: 1,
    },
    GEN,
  );
  const w = noise(42, 4 * 64).map((v) => 0.5 * v);
  for (let j = 0; j < 64; j++) w[j] += 1;
  const W = tf.tensor2d(w, [4, 64]);
  const G = {
    latentDim: 4,
    generate: (z: Tensor2D) =>
      tf.tidy(() => tf.reshape(tf.sigmoid(tf.mul(tf.matMul(z, W), 2)), [z.shape[0], 8, 8, 1]) as Tensor4D),
    dispose: () => W.dispose(),
  };
  const eps = tf.tensor2d(
    noise(99, 256 * 4).map((u) => u * 1.7),
    [256, 4],
  );
  const brightness = async (flow?: Flow) => {
    const m = tf.tidy(() => tf.mean(G.generate((flow ? flow.forward(eps).z : eps) as Tensor2D)));
    const v = (await m.data())[0];
    m.dispose();
    return v;
  };
  const flow = new Flow(tf, { dim: 4, blocks: 4, hidden: 32, conditionDim: 0, seed: 3 });
  const before = await brightness();
  const started = Date.now();
  await train({
    flow,
    generator: G,
    terms: [{ name: 'clip-text', weight: 20, energy: (x, e) => control.energy(x, e) }],
    steps: 60,
    batchSize: 16,
    seed: 5,
    learningRate: 1e-2,
  });
  const after = await brightness(flow);
  console.log(
    `clip-text training (wasm, 60 steps, batch 16, K = 2): brightness ${before.toFixed(3)} → ${after.toFixed(3)} (${((Date.now() - started) / 1000).toFixed(1)} s)`,
  );
  expect(after - before).toBeGreaterThan(0.1);
  flow.dispose();
  control.dispose();
  G.dispose();
  eps.dispose();
}, 600_000);
