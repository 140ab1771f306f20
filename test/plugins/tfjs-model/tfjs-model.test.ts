import * as fs from 'fs';
import * as http from 'http';
import * as net from 'net';
import * as path from 'path';
import { loadPluginPackage } from '../../../src/plugins/loader';
import { PluginRegistry } from '../../../src/plugins/registry';
import type {
  Classifier,
  LoadContext,
  Tf,
  TfjsClassifierManifest,
  TfjsGeneratorManifest,
} from '../../../src/sdk';
import { validateParams } from '../../../src/plugins/validate';
import { makeTf, saveLayersModel, sharedDir, silentLogger, tmpDir, writePackage } from '../helpers';
import * as os from 'os';

/** The admin's allow-lists for these tests: temp dirs, ../shared, a local HTTP server (PROMPTGEN_ASSET_DIRS / _URLS). */
const TEST_ASSETS = {
  dirs: [os.tmpdir(), path.resolve(__dirname, '../../../..', 'shared')],
  urlPrefixes: ['http://127.0.0.1:'],
};

// eslint-disable-next-line @typescript-eslint/no-require-imports
const tfjsModel = require('../../../plugins/tfjs-model/src/index');

let tf: Tf;
const registry = new PluginRegistry({ logger: silentLogger, assets: TEST_ASSETS });
const ctxFor = (dir: string): LoadContext =>
  registry.createContext({ name: 'test', dir }, tf, 'cpu', silentLogger);

beforeAll(async () => {
  tf = await makeTf();
});

const shared = sharedDir();
const withShared = shared ? describe : describe.skip;

withShared('real models from ../shared/models', () => {
  const models = path.join(shared ?? '', 'models');

  test('quickdraw-cvae as a declarative generator: latent 67, [n,28,28,1] in [0,1], differentiable', async () => {
    const labels: string[] = JSON.parse(
      fs.readFileSync(path.join(models, 'quickdraw-cvae', 'manifest.json'), 'utf8'),
    ).labels;
    const manifest: TfjsGeneratorManifest = {
      kind: 'generator',
      name: 'quickdraw',
      title: 'Quick, Draw! doodles (CVAE decoder)',
      model: path.join(models, 'quickdraw-cvae', 'models', 'model.json'),
      format: 'layers',
      latentDim: 67,
      inputs: [
        { name: 'latent_input', from: [0, 16] },
        { name: 'label', from: [16, 67], transform: 'softmax' },
      ],
      output: { width: 28, height: 28, channels: 1, layout: 'NHWC', range: [0, 1] },
    };
    expect(labels).toHaveLength(50);
    const dir = writePackage(path.join(tmpDir('decl'), 'quickdraw'), {
      name: 'promptgen-quickdraw',
      version: '1.0.0',
      promptgen: { apiVersion: 1, models: [manifest] },
    });
    const plugin = await loadPluginPackage(dir, { source: 'INSTALLED' });
    expect(plugin.error).toBeUndefined();
    expect(plugin.status).toBe('LOADED');
    const reg = new PluginRegistry({ logger: silentLogger, assets: TEST_ASSETS });
    reg.add(plugin);
    const g = reg.generator('quickdraw')!;
    expect(g.definition.latentDim).toBe(67);
    expect(g.definition.output).toEqual({ width: 28, height: 28, channels: 1 });
    const inst = await reg.loadGenerator('quickdraw', { tf, backend: 'cpu' });
    const z = tf.randomNormal([8, 67], 0, 1, 'float32', 7) as any;
    const images = inst.generate(z);
    expect(images.shape).toEqual([8, 28, 28, 1]);
    const [min, max] = [(await tf.min(images).data())[0], (await tf.max(images).data())[0]];
    expect(min).toBeGreaterThanOrEqual(0);
    expect(max).toBeLessThanOrEqual(1);
    expect(max).toBeGreaterThan(0.3); // some strokes
    const grad = tf.grad((x: any) => tf.mean(inst.generate(x)))(z);
    const gAbs = (await tf.sum(tf.abs(grad)).data())[0];
    expect(Number.isFinite(gAbs) && gAbs > 0).toBe(true);
    await reg.dispose();
  });

  test('mnist-mlp as a classifier scores the 50 sample digits with >= 90% accuracy', async () => {
    const sample = JSON.parse(
      fs.readFileSync(path.join(models, 'mnist-mlp', 'raw', 'sample_data.json'), 'utf8'),
    ) as {
      images: number[][];
      labels: number[];
    };
    const manifest: TfjsClassifierManifest = {
      kind: 'classifier',
      name: 'mnist-judge',
      model: path.join(models, 'mnist-mlp', 'model.json'),
      input: { width: 28, height: 28, channels: 1, layout: 'flat', range: [0, 1] },
      classNames: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'],
      outputs: 'logits',
    };
    const clf: Classifier = await tfjsModel.loadClassifier(ctxFor(models), manifest);
    expect(clf.numClasses).toBe(10);
    const images = tf.tensor4d(sample.images.flat(), [50, 28, 28, 1]);
    const p = clf.probs(images);
    expect(p.shape).toEqual([50, 10]);
    const pred = (await tf.argMax(p, 1).array()) as number[];
    const correct = pred.filter((c, i) => c === sample.labels[i]).length;
    expect(correct / 50).toBeGreaterThanOrEqual(0.9);
    const rowSums = (await tf.sum(p, 1).array()) as number[];
    rowSums.forEach((s) => expect(s).toBeCloseTo(1, 4));
    clf.dispose();
  });

  test('a classifier manifest becomes a "classifier" control: params schema, energy, evaluate', async () => {
    const sample = JSON.parse(
      fs.readFileSync(path.join(models, 'mnist-mlp', 'raw', 'sample_data.json'), 'utf8'),
    );
    const def = tfjsModel.tfjsClassifier({
      kind: 'classifier',
      name: 'mnist-judge',
      title: 'MNIST digit (independent judge)',
      model: path.join(models, 'mnist-mlp', 'model.json'),
      input: { width: 28, height: 28, channels: 1, layout: 'flat' },
      classNames: ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine'],
    });
    expect(validateParams(def, { classes: ['three', 7] })).toEqual({
      valid: true,
      params: { classes: ['three', 7] },
      errors: [],
    });
    const bad = validateParams(def, { classes: [3, 'cat', 12] });
    expect(bad.valid).toBe(false);
    expect(bad.errors.map((e) => e.field)).toEqual([
      ['classes', '1'],
      ['classes', '2'],
    ]);
    expect(bad.errors[0].message).toContain('"three"');
    expect(validateParams(def, {}).errors).toEqual([{ field: ['classes'], message: 'is required' }]);

    const control = await def.load(
      ctxFor(models),
      { classes: ['three'] },
      { name: 'x', latentDim: 1, output: { width: 28, height: 28, channels: 1 } },
    );
    const images = tf.tensor4d(sample.images.flat(), [50, 28, 28, 1]);
    const energy = control.energy(images, { z: tf.zeros([50, 1]) as any });
    expect(energy.shape).toEqual([50]);
    const e = (await energy.array()) as number[];
    const labels: number[] = sample.labels;
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    expect(mean(e.filter((_, i) => labels[i] === 3))).toBeLessThan(mean(e.filter((_, i) => labels[i] !== 3)));
    // Differentiable in the images.
    const g = tf.grad((x: any) => tf.sum(control.energy(x, { z: tf.zeros([50, 1]) as any })))(images);
    expect(Number.isFinite((await tf.sum(tf.abs(g)).data())[0])).toBe(true);
    const metrics = await control.evaluate!(images);
    expect(metrics.count).toBe(50);
    expect((metrics.histogram as Record<string, number>).three).toBe(labels.filter((l) => l === 3).length);
    await expect(
      def.load(
        ctxFor(models),
        { classes: ['cat'] },
        { name: 'x', latentDim: 1, output: { width: 28, height: 28, channels: 1 } },
      ),
    ).rejects.toThrow(/unknown class "cat"/);
    control.dispose();
  });
});

describe('tfjs-model errors and loading paths (small models built here)', () => {
  let modelDir: string;
  beforeAll(async () => {
    // z [n,3] → Dense(16, sigmoid) → Reshape [4,4,1]
    const model = tf.sequential({
      layers: [
        tf.layers.dense({ inputShape: [3], units: 16, activation: 'sigmoid' }),
        tf.layers.reshape({ targetShape: [4, 4, 1] }),
      ],
    });
    modelDir = tmpDir('tiny');
    await saveLayersModel(tf, model, path.join(modelDir, 'pkg', 'model'));
    model.dispose();
  });
  const manifest = (over: Partial<TfjsGeneratorManifest> = {}): TfjsGeneratorManifest => ({
    kind: 'generator',
    name: 'tiny',
    title: 'Tiny',
    model: 'model/model.json',
    latentDim: 3,
    output: { width: 4, height: 4, channels: 1 },
    ...over,
  });

  test('relative model path inside the package loads', async () => {
    const gen = await tfjsModel.tfjsGenerator(manifest()).load(ctxFor(path.join(modelDir, 'pkg')));
    const out = gen.generate(tf.zeros([2, 3]));
    expect(out.shape).toEqual([2, 4, 4, 1]);
    gen.dispose();
  });

  test('a missing weight shard is named', async () => {
    const dir = path.join(tmpDir('noshard'), 'pkg');
    fs.cpSync(path.join(modelDir, 'pkg'), dir, { recursive: true });
    fs.rmSync(path.join(dir, 'model', 'weights.bin'));
    await expect(tfjsModel.tfjsGenerator(manifest()).load(ctxFor(dir))).rejects.toThrow(
      `weight file not found: ${path.join(dir, 'model', 'weights.bin')}`,
    );
  });

  test('a truncated weight shard is reported', async () => {
    const dir = path.join(tmpDir('short'), 'pkg');
    fs.cpSync(path.join(modelDir, 'pkg'), dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'model', 'weights.bin'), Buffer.alloc(8));
    await expect(tfjsModel.tfjsGenerator(manifest()).load(ctxFor(dir))).rejects.toThrow(
      /hold 8 bytes but the manifest needs 256/,
    );
  });

  test('a wrong declared output shape fails at load with both shapes', async () => {
    await expect(
      tfjsModel
        .tfjsGenerator(manifest({ output: { width: 8, height: 8, channels: 1 } }))
        .load(ctxFor(path.join(modelDir, 'pkg'))),
    ).rejects.toThrow(/model output shape \[1,4,4,1\] does not match the declared output 8×8×1/);
  });

  test('a wrong latent size fails at load naming the model input', async () => {
    await expect(
      tfjsModel.tfjsGenerator(manifest({ latentDim: 5 })).load(ctxFor(path.join(modelDir, 'pkg'))),
    ).rejects.toThrow(/has shape \[null,3\] but the manifest feeds it \[n, 5\]/);
  });

  test('model paths may not escape the package', async () => {
    await expect(
      tfjsModel
        .tfjsGenerator(manifest({ model: '../../etc/model.json' }))
        .load(ctxFor(path.join(modelDir, 'pkg'))),
    ).rejects.toThrow(/is not an allowed asset location/);
  });

  test('invalid manifests are refused with specific messages', () => {
    expect(() => tfjsModel.tfjsGenerator({ ...manifest(), latentDim: 0, name: 'Bad Name' })).toThrow(
      /name "Bad Name" is invalid.*latentDim must be a positive integer/,
    );
    expect(
      tfjsModel.validateManifest({
        kind: 'generator',
        name: 'ok-name',
        model: 'm.json',
        latentDim: 4,
        output: { width: 2, height: 2, channels: 1 },
        inputs: [{ name: 'a', from: [0, 9] }],
      }),
    ).toEqual(['inputs[0].from [0, 9) exceeds latentDim 4']);
  });

  test('http(s) URLs load through fetch; an unreachable URL gives a clear error', async () => {
    const root = path.join(modelDir, 'pkg', 'model');
    const server = http.createServer((req, res) => {
      const file = path.join(root, path.basename(req.url ?? ''));
      if (!fs.existsSync(file)) {
        res.statusCode = 404;
        return res.end();
      }
      res.end(fs.readFileSync(file));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as net.AddressInfo).port;
    try {
      const gen = await tfjsModel
        .tfjsGenerator(manifest({ model: `http://127.0.0.1:${port}/model.json` }))
        .load(ctxFor(modelDir));
      expect(gen.generate(tf.zeros([1, 3])).shape).toEqual([1, 4, 4, 1]);
      gen.dispose();
    } finally {
      await new Promise((r) => server.close(r));
    }
    // A port nothing listens on.
    const probe = net.createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const closedPort = (probe.address() as net.AddressInfo).port;
    await new Promise((r) => probe.close(r));
    const url = `http://127.0.0.1:${closedPort}/model.json`;
    await expect(ctxFor(modelDir).assets.loadLayersModel(url)).rejects.toThrow(
      `could not fetch ${url}: ECONNREFUSED`,
    );
  });
});

describe('tfjs-model constant inputs (a fixed class without spending latent columns)', () => {
  let pkgDir: string;
  let model: any;
  beforeAll(async () => {
    // Two named inputs, z [n,3] and label [n,2] → concat → Dense(16, sigmoid) → [4,4,1]
    const z = (tf as any).input({ shape: [3], name: 'z' });
    const label = (tf as any).input({ shape: [2], name: 'label' });
    const joined = (tf as any).layers.concatenate().apply([z, label]);
    const dense = (tf as any).layers.dense({ units: 16, activation: 'sigmoid' }).apply(joined);
    const out = (tf as any).layers.reshape({ targetShape: [4, 4, 1] }).apply(dense);
    model = (tf as any).model({ inputs: [z, label], outputs: out });
    pkgDir = path.join(tmpDir('const'), 'pkg');
    await saveLayersModel(tf, model, path.join(pkgDir, 'model'));
  });
  afterAll(() => model?.dispose());

  const manifest = (label: unknown, over: Record<string, unknown> = {}): TfjsGeneratorManifest =>
    ({
      kind: 'generator',
      name: 'tiny-conditional',
      model: 'model/model.json',
      latentDim: 3,
      inputs: [
        { name: 'z', from: [0, 3] },
        { name: 'label', value: label, ...over },
      ],
      output: { width: 4, height: 4, channels: 1 },
    }) as TfjsGeneratorManifest;

  test('feeds the same row to every sample: images equal the model run on that label', async () => {
    const gen = await tfjsModel.tfjsGenerator(manifest([0, 1])).load(ctxFor(pkgDir));
    const z = tf.randomNormal([5, 3], 0, 1, 'float32', 3) as any;
    const ours = await gen.generate(z).data();
    const direct = await (
      model.predict([
        z,
        tf.tensor2d([
          [0, 1],
          [0, 1],
          [0, 1],
          [0, 1],
          [0, 1],
        ]),
      ]) as any
    ).data();
    expect(Array.from(ours)).toEqual(Array.from(direct));
    // Another constant, other images; and z still steers them (differentiable in z).
    const other = await tfjsModel.tfjsGenerator(manifest([1, 0])).load(ctxFor(pkgDir));
    expect(Array.from(await other.generate(z).data())).not.toEqual(Array.from(ours));
    const grad = tf.grad((x: any) => tf.sum(gen.generate(x)))(z);
    expect((await tf.sum(tf.abs(grad)).data())[0]).toBeGreaterThan(0);
    gen.dispose();
    other.dispose();
  });

  test('a constant of the wrong width fails at load with both shapes', async () => {
    await expect(tfjsModel.tfjsGenerator(manifest([0, 0, 1])).load(ctxFor(pkgDir))).rejects.toThrow(
      'model input "label" has shape [null,2] but the manifest feeds it [n, 3] (a constant value of 3)',
    );
  });

  test('a constant with latent columns, or not numbers, is refused by the manifest check', () => {
    expect(tfjsModel.validateManifest(manifest([0, 1], { from: [0, 2] }))).toEqual([
      'inputs[1] has a constant "value"; it takes no "from"',
    ]);
    expect(tfjsModel.validateManifest(manifest(['a', 1]))).toEqual([
      'inputs[1].value must be a non-empty array of finite numbers',
    ]);
    expect(tfjsModel.validateManifest(manifest([]))).toEqual([
      'inputs[1].value must be a non-empty array of finite numbers',
    ]);
  });
});
