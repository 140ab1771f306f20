/**
 * The built-in @promptgen/mnist plugin with its committed weights (trained by
 * scripts/train-mnist-demo.py): loads it with the cpu backend through a minimal
 * local load context and checks, on a few hundred seeded samples, that the
 * weights still meet (looser) versions of the bars of plugins/mnist/README.md.
 *
 * The independent judge (ml5's MNIST MLP) is read from ../shared/models/mnist-mlp
 * relative to the repo root; where that folder is absent the judge checks are
 * skipped with a printed reason, unless PROMPTGEN_REQUIRE_SHARED=1 (then they fail).
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tfcore from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import * as tfc from '@tensorflow/tfjs-converter';
import Ajv from 'ajv';
import type {
  AssetResolver,
  ControlInstance,
  GeneratorInstance,
  LoadContext,
  PluginDefinition,
  Tf,
} from '../../../src/sdk';

const tf = Object.assign({}, tfcore, tfl, tfc) as unknown as Tf;

const REPO = path.resolve(__dirname, '..', '..', '..');
const PLUGIN_DIR = path.join(REPO, 'plugins', 'mnist');
const JUDGE_DIR = path.resolve(REPO, '..', 'shared', 'models', 'mnist-mlp');
const FIXTURE = path.join(REPO, 'test', 'fixtures', 'mnist-test-500');
const HAVE_JUDGE = fs.existsSync(path.join(JUDGE_DIR, 'model.json'));
const REQUIRE_SHARED = process.env.PROMPTGEN_REQUIRE_SHARED === '1';
const N_SAMPLES = 300;
/** Judge p >= 0.9 share required of the N_SAMPLES seeded samples (see the judge test). */
const JUDGE_CONFIDENT_FLOOR = 0.7;

// eslint-disable-next-line @typescript-eslint/no-require-imports
const plugin: PluginDefinition = require(PLUGIN_DIR);

/** Reads a layers model.json and its weight shards from disk into tf.io.fromMemory. */
async function loadLayersModelFromDisk(file: string): Promise<tfl.LayersModel> {
  const spec = JSON.parse(fs.readFileSync(file, 'utf8'));
  const dir = path.dirname(file);
  const groups: Array<{ paths: string[]; weights: tfcore.io.WeightsManifestEntry[] }> = spec.weightsManifest;
  const weightSpecs = groups.flatMap((g) => g.weights);
  const buf = Buffer.concat(groups.flatMap((g) => g.paths.map((p) => fs.readFileSync(path.join(dir, p)))));
  const weightData = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer;
  return tfl.loadLayersModel(
    tfcore.io.fromMemory({
      modelTopology: spec.modelTopology,
      weightSpecs,
      weightData,
      userDefinedMetadata: spec.userDefinedMetadata,
    }),
  );
}

/** A minimal asset resolver rooted at the plugin folder (the host has its own). */
function localAssets(root: string): AssetResolver {
  const resolve = (rel: string): string => {
    const p = path.resolve(root, rel);
    if (p !== root && !p.startsWith(root + path.sep))
      throw new Error(`asset path escapes the plugin: ${rel}`);
    return p;
  };
  return {
    resolve,
    readFile: async (rel) => fs.readFileSync(resolve(rel)),
    readAsset: async (rel) => fs.readFileSync(resolve(rel)),
    loadLayersModel: async (p) => loadLayersModelFromDisk(path.isAbsolute(p) ? p : resolve(p)),
    loadGraphModel: async () => {
      throw new Error('loadGraphModel is not needed by this test');
    },
  };
}

const quietLogger = { info: () => {}, warn: () => {}, error: () => {} };
const ctx: LoadContext = { tf, assets: localAssets(PLUGIN_DIR), logger: quietLogger, backend: 'cpu' };

function readFixture(): { images: tfcore.Tensor4D; labels: Int32Array } {
  const px = fs.readFileSync(FIXTURE + '.bin');
  const lb = fs.readFileSync(FIXTURE + '.labels.bin');
  expect(px.length).toBe(500 * 784);
  expect(lb.length).toBe(500);
  const images = tfcore.tidy(() =>
    tfcore.div(tfcore.tensor4d(Float32Array.from(px), [500, 28, 28, 1]), 255),
  ) as tfcore.Tensor4D;
  return { images, labels: Int32Array.from(lb) };
}

describe('@promptgen/mnist plugin (committed weights)', () => {
  let generator: GeneratorInstance;
  let samples: tfcore.Tensor4D;
  let fixture: { images: tfcore.Tensor4D; labels: Int32Array };

  beforeAll(async () => {
    await tfcore.setBackend('cpu');
    const def = plugin.generators![0];
    generator = await def.load(ctx);
    const z = tfcore.randomNormal([N_SAMPLES, def.latentDim], 0, 1, 'float32', 42) as tfcore.Tensor2D;
    samples = generator.generate(z);
    z.dispose();
    fixture = readFixture();
  });

  afterAll(() => {
    samples?.dispose();
    fixture?.images.dispose();
    generator?.dispose();
  });

  it('declares the plugin contract', () => {
    expect(plugin.apiVersion).toBe(1);
    const pkg = JSON.parse(fs.readFileSync(path.join(PLUGIN_DIR, 'package.json'), 'utf8'));
    expect(pkg.name).toBe('@promptgen/mnist');
    expect(pkg.promptgen).toEqual({ apiVersion: 1 });
    for (const f of pkg.files) expect(fs.existsSync(path.join(PLUGIN_DIR, f))).toBe(true);

    const [g] = plugin.generators!;
    expect(g.name).toBe('mnist');
    expect(g.title).toBe('MNIST digits');
    expect(g.output).toEqual({ width: 28, height: 28, channels: 1 });
    expect(g.latentDim).toBeGreaterThanOrEqual(32);
    expect(g.latentDim).toBeLessThanOrEqual(128);

    const c = plugin.controls!.find((x) => x.name === 'mnist-digit')!;
    expect(c).toBeDefined();
    const validate = new Ajv().compile(c.paramsSchema);
    const withDefault: Record<string, unknown> = {};
    expect(validate({ classes: [7] })).toBe(true);
    expect(validate({ classes: [0, 9], temperature: 2 })).toBe(true);
    expect(validate({ classes: [] })).toBe(false);
    expect(validate({ classes: [10] })).toBe(false);
    expect(validate({ classes: [1.5] })).toBe(false);
    expect(validate({ classes: [3, 3] })).toBe(false);
    expect(validate({ classes: [3], other: 1 })).toBe(false);
    expect(validate(withDefault)).toBe(false); // classes is required
    expect((c.paramsSchema as any).properties.classes.default).toEqual([7]);
  });

  it('generates [n,28,28,1] images in [0,1], differentiable in z', async () => {
    expect(samples.shape).toEqual([N_SAMPLES, 28, 28, 1]);
    const [lo, hi] = await Promise.all([tfcore.min(samples).data(), tfcore.max(samples).data()]);
    expect(lo[0]).toBeGreaterThanOrEqual(0);
    expect(hi[0]).toBeLessThanOrEqual(1);
    // MNIST-like: mostly dark background, some bright strokes
    const mean = (await tfcore.mean(samples).data())[0];
    expect(mean).toBeGreaterThan(0.05);
    expect(mean).toBeLessThan(0.3);
    const z = tfcore.randomNormal(
      [4, plugin.generators![0].latentDim],
      0,
      1,
      'float32',
      7,
    ) as tfcore.Tensor2D;
    const g = tfcore.grad((zz: tfcore.Tensor) => tfcore.sum(generator.generate(zz as tfcore.Tensor2D)))(z);
    const gd = await g.data();
    expect(gd.every(Number.isFinite)).toBe(true);
    expect(gd.some((v) => v !== 0)).toBe(true);
    tfcore.dispose([z, g]);
  });

  const judgeIt = HAVE_JUDGE ? it : it.skip;
  if (!HAVE_JUDGE) {
    const reason = `judge absent: ${JUDGE_DIR} not found (the shared ml5 MNIST MLP)`;
    if (REQUIRE_SHARED) {
      it('needs the shared judge (PROMPTGEN_REQUIRE_SHARED=1)', () => {
        throw new Error(reason);
      });
    } else {
      console.warn(`skipping the judge checks of mnist-plugin.test.ts: ${reason}`);
    }
  }

  /** Judge's view of the N_SAMPLES seeded samples: fraction with p >= 0.9 and digit shares. */
  let judged: { confident: number; shares: number[] } | undefined;
  async function judge(): Promise<{ confident: number; shares: number[] }> {
    if (judged) return judged;
    const model = await loadLayersModelFromDisk(path.join(JUDGE_DIR, 'model.json'));
    const probs = tfcore.tidy(() =>
      tfcore.softmax(model.predict(tfcore.reshape(samples, [N_SAMPLES, 784])) as tfcore.Tensor2D),
    );
    const conf = await tfcore.max(probs, 1).data();
    const pred = await tfcore.argMax(probs, 1).data();
    probs.dispose();
    model.dispose();
    const confident = conf.filter((p) => p >= 0.9).length / N_SAMPLES;
    const shares = Array.from({ length: 10 }, (_, d) => pred.filter((k) => k === d).length / N_SAMPLES);
    console.log(
      `judge on ${N_SAMPLES} samples: p>=0.9 ${confident.toFixed(3)}, shares ${shares.map((s) => s.toFixed(3)).join(' ')}`,
    );
    judged = { confident, shares };
    return judged;
  }

  // Looser version of the bar (>= 70 % of 10,000 samples judged with p >= 0.9,
  // every digit 4-20 %) for the committed weights; the figures measured at training
  // time are in plugins/mnist/README.md.
  judgeIt('the independent judge finds confident, balanced digits', async () => {
    const { confident, shares } = await judge();
    expect(confident).toBeGreaterThanOrEqual(JUDGE_CONFIDENT_FLOOR);
    for (const s of shares) {
      expect(s).toBeGreaterThanOrEqual(0.03);
      expect(s).toBeLessThanOrEqual(0.22);
    }
  });

  it('the digit a sample shows is the class region its latent lies in', async () => {
    const spec = JSON.parse(fs.readFileSync(path.join(PLUGIN_DIR, 'models/generator/model.json'), 'utf8'));
    const cc = spec.userDefinedMetadata.classCode;
    expect(cc.dims).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    // Latents pushed into region k: the same seeded z with z[k] raised above the rest.
    const n = 20;
    const base = (await tfcore.randomNormal([n, 64], 0, 1, 'float32', 11).array()) as number[][];
    const classifier = await ctx.assets.loadLayersModel('models/classifier/model.json');
    const agree: number[] = [];
    for (let k = 0; k < 10; k++) {
      const z = base.map((row) => {
        const r = row.slice();
        const top = Math.max(...r.slice(0, 10).map((v, i) => v + cc.offsets[i]));
        r[k] = top - cc.offsets[k] + 1; // a margin of 1 inside region k
        return r;
      });
      const pred = tfcore.tidy(() =>
        tfcore.argMax(classifier.predict(generator.generate(tfcore.tensor2d(z))) as tfcore.Tensor2D, 1),
      );
      const p = await pred.data();
      pred.dispose();
      agree.push(p.filter((c) => c === k).length / n);
    }
    classifier.dispose();
    console.log(`own classifier = latent region, per digit: ${agree.map((a) => a.toFixed(2)).join(' ')}`);
    // measured 20/20 for every digit with the committed weights
    for (const a of agree) expect(a).toBeGreaterThanOrEqual(0.85);
    expect(agree.reduce((s, a) => s + a, 0) / 10).toBeGreaterThanOrEqual(0.95);
  });

  it('refuses a generator whose class-code metadata is malformed', async () => {
    const assets = localAssets(PLUGIN_DIR);
    const withBadOffsets = async (p: string) => {
      const m = await assets.loadLayersModel(p);
      const meta = m.getUserDefinedMetadata() as { classCode: Record<string, unknown> };
      m.setUserDefinedMetadata({ ...meta, classCode: { ...meta.classCode, offsets: [0, 1] } }); // 2 offsets for 10 dims
      return m;
    };
    const bad: LoadContext = { ...ctx, assets: { ...assets, loadLayersModel: withBadOffsets } };
    await expect(plugin.generators![0].load(bad)).rejects.toThrow(/malformed classCode metadata/);
  });

  describe('control mnist-digit', () => {
    let seven: ControlInstance;
    let threeOrFive: ControlInstance;
    let classifier: tfl.LayersModel;

    beforeAll(async () => {
      const def = plugin.controls!.find((x) => x.name === 'mnist-digit')!;
      const info = { name: 'mnist', latentDim: 64, output: { width: 28, height: 28, channels: 1 } };
      seven = await def.load(ctx, { classes: [7] }, info);
      threeOrFive = await def.load(ctx, { classes: [3, 5] }, info);
      classifier = await ctx.assets.loadLayersModel('models/classifier/model.json');
    });

    afterAll(() => {
      seven?.dispose();
      threeOrFive?.dispose();
      classifier?.dispose();
    });

    let fixturePred: Int32Array;

    it('its classifier is >= 97 % accurate on 500 MNIST test digits', async () => {
      const pred = tfcore.tidy(() => tfcore.argMax(classifier.predict(fixture.images) as tfcore.Tensor2D, 1));
      const p = (await pred.data()) as Int32Array;
      fixturePred = p;
      pred.dispose();
      const acc = p.filter((k, i) => k === fixture.labels[i]).length / 500;
      console.log(`classifier accuracy on the 500-digit fixture: ${acc.toFixed(3)}`);
      expect(acc).toBeGreaterThanOrEqual(0.97);
    });

    it('evaluate() gives an argmax histogram', async () => {
      const first = tfcore.slice(fixture.images, 0, 100) as tfcore.Tensor4D;
      const r = await seven.evaluate!(first);
      first.dispose();
      expect(r.n).toBe(100);
      const h = r.histogram as number[];
      expect(h).toHaveLength(10);
      expect(h.reduce((a, b) => a + b, 0)).toBe(100);
      const want = Array.from(
        { length: 10 },
        (_, d) => fixturePred.subarray(0, 100).filter((k) => k === d).length,
      );
      expect(h).toEqual(want);
    });

    it('energy for [7] is lower on 7s than on other digits, with finite gradients', async () => {
      const idx7 = [...fixture.labels.keys()].filter((i) => fixture.labels[i] === 7).slice(0, 25);
      const idxOther = [...fixture.labels.keys()].filter((i) => fixture.labels[i] !== 7).slice(0, 40);
      const sevens = tfcore.gather(fixture.images, idx7) as tfcore.Tensor4D;
      const others = tfcore.gather(fixture.images, idxOther) as tfcore.Tensor4D;
      const z = tfcore.zeros([1, 64]) as tfcore.Tensor2D;
      const e7 = seven.energy(sevens, { z });
      const eo = seven.energy(others, { z });
      expect(e7.shape).toEqual([idx7.length]);
      const m7 = (await tfcore.mean(e7).data())[0];
      const mo = (await tfcore.mean(eo).data())[0];
      expect(m7).toBeLessThan(0.5);
      expect(mo).toBeGreaterThan(3);
      expect(m7).toBeLessThan(mo);

      const g = tfcore.grad((x: tfcore.Tensor) => tfcore.sum(seven.energy(x as tfcore.Tensor4D, { z })))(
        tfcore.slice(others, 0, 4),
      );
      const gd = await g.data();
      expect(gd.every(Number.isFinite)).toBe(true);
      expect(gd.some((v) => v !== 0)).toBe(true);

      // a very confident image must not give inf/nan either (logSumExp is stable)
      const sharp = tfcore.mul(tfcore.slice(sevens, 0, 4), 50) as tfcore.Tensor4D;
      const es = await seven.energy(sharp, { z }).data();
      expect(Array.from(es).every(Number.isFinite)).toBe(true);
      tfcore.dispose([sevens, others, z, e7, eo, g, sharp]);
    });

    it('energy for a set of classes is -log of their summed probability', async () => {
      const x = tfcore.slice(fixture.images, 0, 20) as tfcore.Tensor4D;
      const e = await threeOrFive.energy(x, { z: tfcore.zeros([1, 64]) as tfcore.Tensor2D }).data();
      const p = (await tfcore.softmax(classifier.predict(x) as tfcore.Tensor2D).array()) as number[][];
      for (let i = 0; i < 20; i++) {
        const want = -Math.log(p[i][3] + p[i][5]);
        if (Number.isFinite(want) && want < 30) expect(e[i]).toBeCloseTo(want, 2);
        else expect(e[i]).toBeGreaterThan(25);
      }
      x.dispose();
    });
  });
});
