/**
 * Shared setup of the controls tests: a registry with the built-in tfjs-model,
 * mnist and controls plugins (plus, where plugins/mnist does not yet offer the
 * `mnist-digit` classifier, a test plugin offering it from the same model file),
 * the MNIST generator, and the independent judge (../shared/models/mnist-mlp).
 */
import * as fs from 'fs';
import * as path from 'path';
import { initBackend } from '../../../src/engine/backend';
import { loadPluginPackage } from '../../../src/plugins/loader';
import { PluginRegistry, type PluginRuntime } from '../../../src/plugins/registry';
import { createAssetResolver } from '../../../src/plugins/assets';
import type { Classifier, GeneratorInfo, GeneratorInstance, Tf, Tensor4D } from '../../../src/sdk';

export const REPO = path.resolve(__dirname, '..', '..', '..');
export const PLUGINS = path.join(REPO, 'plugins');
export const JUDGE_FILE = path.resolve(REPO, '..', 'shared', 'models', 'mnist-mlp', 'model.json');
export const MNIST_CLASSIFIER_FILE = path.join(PLUGINS, 'mnist', 'models', 'classifier', 'model.json');

export const silent = { info: () => undefined, warn: () => undefined, error: () => undefined };

export interface Harness {
  tf: Tf;
  backend: string;
  registry: PluginRegistry;
  runtime: PluginRuntime;
  generator: GeneratorInstance & { latentDim: number };
  info: GeneratorInfo;
  /** True when plugins/mnist itself offers the `mnist-digit` classifier. */
  mnistOffersClassifier: boolean;
}

export async function harness(backend: 'wasm' | 'cpu' = 'wasm'): Promise<Harness> {
  const { tf, backend: used } = await initBackend(backend);
  // The declarative-package test names a model file by absolute path: allowed as an admin would (PROMPTGEN_ASSET_DIRS).
  const registry = new PluginRegistry({ logger: silent, assets: { dirs: [PLUGINS], urlPrefixes: [] } });
  for (const dir of ['tfjs-model', 'mnist', 'controls']) {
    const p = registry.add(await loadPluginPackage(path.join(PLUGINS, dir), { source: 'BUILTIN' }));
    if (p.status !== 'LOADED') throw new Error(`plugin ${dir} failed: ${p.error}`);
  }
  const mnistOffersClassifier = Boolean(registry.classifier('mnist-digit'));
  if (!mnistOffersClassifier) {
    // plugins/mnist does not offer its classifier (yet): offer the same model file by name.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const tfjsModel = require(path.join(PLUGINS, 'tfjs-model'));
    const manifest = {
      kind: 'classifier',
      name: 'mnist-digit',
      model: MNIST_CLASSIFIER_FILE,
      input: { width: 28, height: 28, channels: 1 },
      classNames: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'],
      outputs: 'logits',
    };
    registry.add({
      name: '@test/mnist-classifier',
      version: '0.0.0',
      dir: path.join(PLUGINS, 'mnist'),
      source: 'BUILTIN',
      status: 'LOADED',
      definition: {
        apiVersion: 1,
        classifiers: [
          {
            name: 'mnist-digit',
            title: 'MNIST digit',
            classNames: manifest.classNames,
            load: (ctx) => tfjsModel.loadClassifier(ctx, manifest) as Promise<Classifier>,
          },
        ],
      },
    });
  }
  const runtime: PluginRuntime = { tf, backend: used, logger: silent };
  const gen = await registry.loadGenerator('mnist', runtime);
  const def = registry.generator('mnist')!.definition;
  const info: GeneratorInfo = { name: 'mnist', latentDim: def.latentDim, output: def.output };
  const generator = Object.assign(Object.create(gen), {
    latentDim: def.latentDim,
    generate: gen.generate.bind(gen),
    dispose: () => undefined,
  });
  return { tf, backend: used, registry, runtime, generator, info, mnistOffersClassifier };
}

export function haveJudge(): boolean {
  if (fs.existsSync(JUDGE_FILE)) return true;
  if (process.env.PROMPTGEN_REQUIRE_SHARED === '1')
    throw new Error(`${JUDGE_FILE} is missing and PROMPTGEN_REQUIRE_SHARED=1`);
  console.warn(
    `skipping the judged effects: ${JUDGE_FILE} is absent (../shared is not beside the repository)`,
  );
  return false;
}

/** The independent judge: digit predicted by the ml5 MNIST MLP for each image. */
export async function loadJudge(tf: Tf): Promise<(images: Tensor4D) => Promise<number[]>> {
  const model = await createAssetResolver(path.dirname(JUDGE_FILE), tf).loadLayersModel(
    path.basename(JUDGE_FILE),
  ); // relative: an asset of its folder
  return async (images) => {
    const pred = tf.tidy(() =>
      tf.argMax(model.predict(tf.reshape(images, [images.shape[0], 784])) as Tensor4D, 1),
    );
    const out = Array.from(await pred.data());
    pred.dispose();
    return out;
  };
}

export function shares(pred: number[], k = 10): number[] {
  const c = new Array(k).fill(0);
  for (const p of pred) c[p] += 1;
  return c.map((x) => x / Math.max(pred.length, 1));
}

export function klToUniform(p: number[], over?: number[]): number {
  const idx = over ?? p.map((_, i) => i);
  const total = idx.reduce((s, i) => s + p[i], 0);
  const q = 1 / idx.length;
  let d = 0;
  for (const i of idx) {
    const pi = p[i] / Math.max(total, 1e-12);
    if (pi > 0) d += pi * Math.log(pi / q);
  }
  return d;
}

/** n seeded uniform-noise 28×28 images: classifier inputs that need not look like digits. */
export function noiseImages(tf: Tf, n: number, seed: number): Tensor4D {
  return tf.randomUniform([n, 28, 28, 1], 0, 1, 'float32', seed) as Tensor4D;
}
