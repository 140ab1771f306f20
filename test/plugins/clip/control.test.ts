/**
 * The clip-text control (plugins/clip) on the cpu backend, with the small CLIP-shaped
 * encoders of ./helpers.ts loaded from model.json files. The wasm backend is covered
 * by wasm.test.ts.
 */
import * as os from 'os';
import * as path from 'path';
import { loadPluginPackage } from '../../../src/plugins/loader';
import { PluginRegistry } from '../../../src/plugins/registry';
import { validateParams } from '../../../src/plugins/validate';
import type {
  ControlDefinition,
  LoadContext,
  Tensor,
  Tensor1D,
  Tensor2D,
  Tensor4D,
  Tf,
} from '../../../src/sdk';
import { makeTf, repoRoot, silentLogger, tmpDir } from '../helpers';
import { D, normalisedBrightness, writeClipFixture, type ClipFixture } from './helpers';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const clip = require('../../../plugins/clip/src/index');

const PLUGIN_DIR = path.join(repoRoot, 'plugins', 'clip');
const GEN = { name: 'toy', latentDim: 4, output: { width: 8, height: 8, channels: 1 } };

let tf: Tf;
let fx: ClipFixture;
let ctx: LoadContext;
const def: ControlDefinition = clip.controls[0];

beforeAll(async () => {
  tf = await makeTf();
  fx = await writeClipFixture(tf, tmpDir('clip'));
  const registry = new PluginRegistry({
    logger: silentLogger,
    assets: { dirs: [os.tmpdir()], urlPrefixes: [] },
  });
  ctx = registry.createContext({ name: '@promptgen/clip', dir: PLUGIN_DIR }, tf, 'cpu', silentLogger);
});

const baseParams = (extra: Record<string, unknown> = {}) => ({
  text: 'a bright photo',
  imageEncoder: fx.imageEncoder,
  textEncoder: fx.textEncoder,
  vocabulary: fx.vocabulary,
  inputSize: fx.inputSize,
  augmentations: 4,
  ...extra,
});

const grey = (values: number[], size = 8, channels = 1) =>
  tf.tidy(() =>
    tf.mul(
      tf.ones([values.length, size, size, channels]),
      tf.reshape(tf.tensor1d(values), [values.length, 1, 1, 1]),
    ),
  ) as Tensor4D;

const arr = (t: { dataSync(): ArrayLike<number> }) => Array.from(t.dataSync());

describe('plugin package', () => {
  test('loads as a built-in plugin with the clip-text control; params get their defaults', async () => {
    const p = await loadPluginPackage(PLUGIN_DIR, { source: 'BUILTIN' });
    expect(p.error).toBeUndefined();
    expect(p).toMatchObject({ name: '@promptgen/clip', status: 'LOADED' });
    expect(p.definition!.controls!.map((c) => c.name)).toEqual(['clip-text']);
    const v = validateParams(def, {
      text: 'a cat',
      imageEncoder: '/m/i',
      textEncoder: '/m/t',
      vocabulary: '/v.txt.gz',
    });
    expect(v.errors).toEqual([]);
    expect(v.params).toEqual({
      text: 'a cat',
      imageEncoder: '/m/i',
      textEncoder: '/m/t',
      vocabulary: '/v.txt.gz',
      inputSize: 224,
      layout: 'auto',
      augmentations: 8,
      augment: { colour: 0.1, translate: 0.125, rescale: [0.8, 1.2], cutout: 0.25 },
      seed: 0,
      freshAugmentations: true,
      truncate: true,
      imageEncoderFormat: 'auto',
      textEncoderFormat: 'auto',
    });
    const bad = validateParams(def, {
      text: 'x'.repeat(301),
      imageEncoder: 'i',
      augmentations: 0,
      layout: 'HWC',
    });
    expect(bad.valid).toBe(false);
    const fields = bad.errors.map((e) => e.field.join('.'));
    expect(fields).toEqual(
      expect.arrayContaining(['text', 'augmentations', 'layout', 'textEncoder', 'vocabulary']),
    );
  });
});

describe('preprocessing', () => {
  test('without augmentation: bilinear resize equal to tf.image.resizeBilinear (half-pixel), grey → 3 channels, CLIP normalisation', () => {
    const img = tf.tidy(() => tf.randomUniform([2, 5, 7, 1], 0, 1, 'float32', 3)) as Tensor4D;
    const x = clip.preprocess(tf, img, 12, 1, clip.normalizeParams(baseParams()).augment, null) as Tensor4D;
    expect(x.shape).toEqual([2, 12, 12, 3]);
    const ref = tf.tidy(() => {
      const r = tf.image.resizeBilinear(tf.concat([img, img, img], 3) as Tensor4D, [12, 12], false, true);
      return tf.div(tf.sub(r, tf.tensor1d(clip.CLIP_MEAN)), tf.tensor1d(clip.CLIP_STD));
    });
    const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(x, ref))).dataSync()[0]);
    expect(diff).toBeLessThan(1e-5);
    // A 2× downscale averages 4×4 neighbourhoods' tent weights (antialiased), a constant stays constant.
    const c = clip.preprocess(tf, grey([0.3], 32), 16, 1, null, null) as Tensor4D;
    const cv = arr(c);
    const expected = clip.CLIP_MEAN.map((m: number, i: number) => (0.3 - m) / clip.CLIP_STD[i]);
    for (let i = 0; i < cv.length; i++) expect(cv[i]).toBeCloseTo(expected[i % 3], 5);
    tf.dispose([img, x, ref, c]);
  });

  test('translation moves content; zoom 1 and shift 0 give the identity; rows sum to 1', () => {
    const I = clip.interpolationMatrices(tf, 6, 6, new Float32Array([1]), new Float32Array([0]));
    expect(
      tf.tidy(() => tf.max(tf.abs(tf.sub(I, tf.reshape(tf.eye(6), [1, 6, 6])))).dataSync()[0]),
    ).toBeLessThan(1e-6);
    // Shift by +1/6 of the side: output pixel o reads source pixel o − 1 (edge replicated at 0).
    const T = clip.interpolationMatrices(
      tf,
      6,
      6,
      new Float32Array([1, 0.8]),
      new Float32Array([1 / 6, 0.1]),
    );
    const rows = (T.arraySync() as number[][][])[0];
    expect(rows[0][0]).toBeCloseTo(1, 5);
    expect(rows[3][2]).toBeCloseTo(1, 5);
    const sums = arr(tf.sum(T, 2));
    sums.forEach((s) => expect(s).toBeCloseTo(1, 5));
    tf.dispose([I, T]);
  });

  test('augmented copies: K·n images, copy k of sample i at k·n + i, cut-out squares at the mean colour', () => {
    const p = clip.normalizeParams(
      baseParams({ augment: { colour: 0, translate: 0, rescale: [1, 1], cutout: 0.5 } }),
    );
    const aug = clip.drawAugmentations(3 * 2, p.augment, () => 0.5);
    const x = clip.preprocess(tf, grey([0.2, 0.9], 8), 8, 3, p.augment, aug) as Tensor4D;
    expect(x.shape).toEqual([6, 8, 8, 3]);
    const v = x.arraySync() as number[][][][];
    const n = (g: number) => (g - clip.CLIP_MEAN[0]) / clip.CLIP_STD[0];
    // cutout 0.5 of 8 = a 4×4 square centred at (4, 4): rows/cols 2..5 are 0.
    for (const b of [0, 2, 4]) {
      expect(v[b][0][0][0]).toBeCloseTo(n(0.2), 5);
      expect(Math.abs(v[b][3][3][0])).toBe(0);
      expect(v[b + 1][0][7][0]).toBeCloseTo(n(0.9), 5);
      expect(Math.abs(v[b + 1][5][2][0])).toBe(0);
      expect(v[b + 1][6][2][0]).toBeCloseTo(n(0.9), 5);
    }
    x.dispose();
  });
});

describe('energy', () => {
  let control: any;
  beforeAll(async () => {
    control = await def.load(ctx, baseParams(), GEN);
  });
  afterAll(() => control.dispose());

  test('text embedding, dimension and layout; energy per sample in [0, 2]', () => {
    expect(control.embeddingDim).toBe(D);
    expect(control.layout).toBe('NHWC');
    expect(control.textEmbedding.shape).toEqual([1, D]);
    const t = arr(control.textEmbedding);
    // ≈ (3 e0 + 2 e1)/√13 plus small noise from the "a" and "photo" token rows.
    expect(t[0]).toBeGreaterThan(0.75);
    expect(t[1]).toBeGreaterThan(0.5);
    const e = control.energy(grey([0, 0.2, 0.5, 0.8, 1]), { z: tf.zeros([5, 4]) as Tensor2D }) as Tensor1D;
    expect(e.shape).toEqual([5]);
    const v = arr(e);
    v.forEach((x) => {
      expect(x).toBeGreaterThanOrEqual(0);
      expect(x).toBeLessThanOrEqual(2);
    });
    // brighter (up to ≈ 0.86) → lower energy
    expect(v[0]).toBeGreaterThan(v[1]);
    expect(v[1]).toBeGreaterThan(v[2]);
    expect(v[2]).toBeGreaterThan(v[3]);
    e.dispose();
  });

  test('deterministic for a seed: same seed → same values, new draws per call, fixed mode repeats', async () => {
    const images = tf.tidy(() => tf.randomUniform([3, 8, 8, 1], 0, 1, 'float32', 5)) as Tensor4D;
    const z = tf.zeros([3, 4]) as Tensor2D;
    const a = await def.load(ctx, baseParams({ seed: 7 }), GEN);
    const b = await def.load(ctx, baseParams({ seed: 7 }), GEN);
    const c = await def.load(ctx, baseParams({ seed: 8 }), GEN);
    const f = await def.load(ctx, baseParams({ seed: 7, freshAugmentations: false }), GEN);
    const a0 = arr(a.energy(images, { z }));
    const a1 = arr(a.energy(images, { z }));
    const b0 = arr(b.energy(images, { z }));
    const b1 = arr(b.energy(images, { z }));
    const c0 = arr(c.energy(images, { z }));
    const f0 = arr(f.energy(images, { z }));
    const f1 = arr(f.energy(images, { z }));
    expect(b0).toEqual(a0);
    expect(b1).toEqual(a1);
    expect(a1).not.toEqual(a0);
    expect(c0).not.toEqual(a0);
    expect(f0).toEqual(a0); // fixed mode = call 0 every time
    expect(f1).toEqual(f0);
    [a, b, c, f].forEach((x) => x.dispose());
    tf.dispose([images, z]);
  });

  test('with every augmentation off and K = 1 the energy is 1 − the clean cosine', async () => {
    const plain = await def.load(
      ctx,
      baseParams({ augmentations: 1, augment: { colour: 0, translate: 0, rescale: [1, 1], cutout: 0 } }),
      GEN,
    );
    const images = tf.tidy(() => tf.randomUniform([4, 8, 8, 1], 0, 1, 'float32', 9)) as Tensor4D;
    const e = arr(plain.energy(images, { z: tf.zeros([4, 4]) as Tensor2D }));
    const cos = arr((plain as any).cosine(images));
    e.forEach((x, i) => expect(x).toBeCloseTo(1 - cos[i], 5));
    plain.dispose();
    images.dispose();
  });

  test('gradient w.r.t. the images is finite and non-zero, and matches a finite difference', async () => {
    const images = tf.tidy(() => tf.randomUniform([2, 8, 8, 1], 0.2, 0.8, 'float32', 1)) as Tensor4D;
    const inst = await def.load(ctx, baseParams({ freshAugmentations: false }), GEN);
    {
      const f = (x: Tensor) => tf.sum(inst.energy(x as Tensor4D, { z: tf.zeros([2, 4]) as Tensor2D }));
      const g = tf.grad(f)(images);
      const gv = arr(g);
      expect(gv.every(Number.isFinite)).toBe(true);
      expect(gv.some((v) => Math.abs(v) > 1e-6)).toBe(true);
      // Directional derivative along the gradient vs a central difference.
      const h = 1e-2;
      const unit = tf.div(g, tf.norm(g));
      const fd =
        (f(tf.add(images, tf.mul(unit, h)) as Tensor4D).dataSync()[0] -
          f(tf.sub(images, tf.mul(unit, h)) as Tensor4D).dataSync()[0]) /
        (2 * h);
      const analytic = tf.norm(g).dataSync()[0];
      expect(Math.abs(fd - analytic) / analytic).toBeLessThan(0.05);
      inst.dispose();
      tf.dispose([images, g, unit]);
    }
  });

  test('evaluate reports the clean cosine similarity', async () => {
    const r = await control.evaluate(grey([0.1, 0.9]));
    expect(r.count).toBe(2);
    expect(r.text).toBe('a bright photo');
    expect(r.maxCosine).toBeGreaterThan(r.minCosine);
    expect(r.meanEnergy).toBeCloseTo(1 - r.meanCosine, 6);
  });

  test('RGB and RGBA images of any size are accepted', () => {
    const z = tf.zeros([2, 4]) as Tensor2D;
    const rgb = control.energy(grey([0.4, 0.6], 20, 3), { z });
    const rgba = control.energy(grey([0.4, 0.6], 10, 4), { z });
    expect(rgb.shape).toEqual([2]);
    expect(rgba.shape).toEqual([2]);
    expect(() => control.energy(grey([0.5], 8, 2), { z })).toThrow(/cannot use 2-channel images/);
    tf.dispose([z, rgb, rgba]);
  });
});

describe('graph-model image encoder with NCHW input', () => {
  test('layout detected from the model, cosine as computed by hand, gradient through GraphModel.execute', async () => {
    const inst: any = await def.load(ctx, baseParams({ imageEncoder: fx.imageEncoderGraph }), GEN);
    expect(inst.layout).toBe('NCHW');
    // Embedding = s·e0 + e1 exactly, so cos = (s·t0 + t1)/√(s² + 1).
    const t = arr(inst.textEmbedding);
    const values = [0.1, 0.5, 0.9];
    const cos = arr(inst.cosine(grey(values)));
    values.forEach((g, i) => {
      const s = normalisedBrightness(g);
      expect(cos[i]).toBeCloseTo((s * t[0] + t[1]) / Math.sqrt(s * s + 1), 4);
    });
    const images = grey([0.3, 0.6]);
    const g = tf.grad((x: Tensor) => tf.sum(inst.energy(x as Tensor4D, { z: tf.zeros([2, 4]) as Tensor2D })))(
      images,
    );
    const gv = arr(g);
    expect(gv.every(Number.isFinite)).toBe(true);
    expect(gv.some((v) => Math.abs(v) > 1e-6)).toBe(true);
    inst.dispose();
    tf.dispose([images, g]);
  });
});

describe('loading errors', () => {
  test('missing vocabulary file', async () => {
    const missing = path.join(fx.dir, 'nope', 'bpe_simple_vocab_16e6.txt.gz');
    await expect(def.load(ctx, baseParams({ vocabulary: missing }), GEN)).rejects.toThrow(
      `clip-text: vocabulary file not found: ${missing} (expected CLIP's bpe_simple_vocab_16e6.txt or .txt.gz)`,
    );
  });

  test('encoder output dimensions differ', async () => {
    await expect(def.load(ctx, baseParams({ textEncoder: fx.textEncoder8 }), GEN)).rejects.toThrow(
      'clip-text: the image encoder outputs 16-dimensional embeddings but the text encoder outputs 8-dimensional ones: use the image and text towers (with their projections) of the same CLIP model',
    );
  });

  test('missing encoder file, wrong input size, per-token text output', async () => {
    const missing = path.join(fx.dir, 'none', 'model.json');
    await expect(def.load(ctx, baseParams({ imageEncoder: missing }), GEN)).rejects.toThrow(
      `clip-text: cannot load the image encoder (layers model): cannot load layers model ${missing}: model file not found: ${missing}`,
    );
    await expect(def.load(ctx, baseParams({ inputSize: 224 }), GEN)).rejects.toThrow(
      "clip-text: the image encoder's input is [n, 16, 16, 3] but inputSize 224 with layout NHWC gives [n, 224, 224, 3] (set inputSize / layout to match the model)",
    );
    await expect(def.load(ctx, baseParams({ textEncoder: fx.textEncoderSeq }), GEN)).rejects.toThrow(
      'clip-text: the text encoder outputs [1, 77, 16], not embeddings [n, D] (export the pooled, projected embedding)',
    );
    expect(tf.memory().numTensors).toBeLessThan(200); // failed loads dispose what they made
  });
});
