import { Rng } from '../../../src/engine/rng';
import * as fs from 'fs';
import * as path from 'path';
import * as jpeg from 'jpeg-js';
import type { LoadContext, Tf, Tensor4D, GeneratorInfo } from '../../../src/sdk/index';

export const repoRoot = path.resolve(__dirname, '..', '..', '..');
export const pluginDir = path.join(repoRoot, 'plugins', 'face-api');
export const faceApiDir = path.dirname(
  require.resolve('@vladmandic/face-api/package.json', { paths: [pluginDir] }),
);

// eslint-disable-next-line @typescript-eslint/no-require-imports
export const facePlugin = require('../../../plugins/face-api/src/index');

export interface CropSpec {
  x: number;
  y: number;
  size: number;
}
export const cropSpec: { image: string; crops: Record<string, CropSpec> } = JSON.parse(
  fs.readFileSync(path.join(__dirname, 'fixtures', 'crops.json'), 'utf8'),
);
export interface Expected {
  age: number;
  gender: number[];
  expressions: number[];
  landmarks: number[];
  descriptor: number[];
}
export const expected: { crops: Record<string, Expected> } = JSON.parse(
  fs.readFileSync(path.join(__dirname, 'fixtures', 'faceapi-expected.json'), 'utf8'),
);

// One backend set-up for every engine-facing test.
export { useBackend } from '../../engine/helpers';

export const silentLogger = { info() {}, warn() {}, error() {} };

export function ctxFor(tf: Tf): LoadContext {
  return {
    tf,
    backend: tf.getBackend(),
    logger: silentLogger,
    assets: {
      resolve: (p: string) => path.join(pluginDir, p),
      readFile: async (p: string) => fs.readFileSync(path.join(pluginDir, p)),
      readAsset: () => Promise.reject(new Error('unused')),
      loadLayersModel: () => Promise.reject(new Error('unused')),
      loadGraphModel: () => Promise.reject(new Error('unused')),
    },
  };
}

export const generatorInfo = (size: number, channels = 3): GeneratorInfo => ({
  name: 'test',
  latentDim: 8,
  output: { width: size, height: size, channels },
});

let decoded: { width: number; height: number; data: Uint8Array } | undefined;

/** sample1.jpg of face-api's demo folder as RGB bytes (decoded once per test file). */
export function sampleImage(): { width: number; height: number; data: Uint8Array } {
  if (!decoded) {
    const img = jpeg.decode(fs.readFileSync(path.join(faceApiDir, 'demo', cropSpec.image)), {
      useTArray: true,
      formatAsRGBA: false,
    });
    decoded = { width: img.width, height: img.height, data: img.data as Uint8Array };
  }
  return decoded;
}

/** A square crop of sample1 as [1, size, size, 3] in [0, 1], optionally shifted by (dx, dy) pixels. */
export function crop(tf: Tf, name: string, dx = 0, dy = 0): Tensor4D {
  const c = cropSpec.crops[name];
  if (!c) throw new Error(`no crop ${name}`);
  const img = sampleImage();
  const out = new Float32Array(c.size * c.size * 3);
  for (let y = 0; y < c.size; y++) {
    const row = (c.y + dy + y) * img.width;
    for (let x = 0; x < c.size; x++) {
      const src = (row + c.x + dx + x) * 3;
      const dst = (y * c.size + x) * 3;
      out[dst] = img.data[src] / 255;
      out[dst + 1] = img.data[src + 1] / 255;
      out[dst + 2] = img.data[src + 2] / 255;
    }
  }
  return tf.tensor4d(out, [1, c.size, c.size, 3]);
}

/** Deterministic pseudo-random numbers in [0, 1): the engine's own seeded generator. */
export function seeded(seed: number): () => number {
  return new Rng(seed).uniform();
}

export const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};
