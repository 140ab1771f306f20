import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tfcore from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tflayers from '@tensorflow/tfjs-layers';
import * as tfconverter from '@tensorflow/tfjs-converter';
import type { Logger, Tf } from '../../src/sdk';

export const repoRoot = path.resolve(__dirname, '..', '..');
export const fixturesDir = path.join(repoRoot, 'test', 'fixtures', 'plugins');
export const fixture = (name: string) => path.join(fixturesDir, name);

/** The host tf the engine will provide later: core + layers + converter on the cpu backend. */
export async function makeTf(): Promise<Tf> {
  await tfcore.setBackend('cpu');
  await tfcore.ready();
  return Object.assign({}, tfcore, tflayers, tfconverter) as unknown as Tf;
}

export const silentLogger: Logger = { info() {}, warn() {}, error() {} };

export function tmpDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `promptgen-${prefix}-`));
}

/** `<repo>/../shared`, or null (with the reason printed) when absent and not required. */
export function sharedDir(): string | null {
  const dir = path.resolve(repoRoot, '..', 'shared');
  if (fs.existsSync(path.join(dir, 'models'))) return dir;
  const why = `../shared/models not found at ${dir}`;
  if (process.env.PROMPTGEN_REQUIRE_SHARED === '1') throw new Error(`${why} (PROMPTGEN_REQUIRE_SHARED=1)`);
  console.warn(`skipping tests with real models: ${why}`);
  return null;
}

/** Saves a layers model as model.json + weights.bin in dir (what tfjs-converter writes). */
export async function saveLayersModel(tf: Tf, model: tflayers.LayersModel, dir: string): Promise<string> {
  fs.mkdirSync(dir, { recursive: true });
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      const json = {
        format: 'layers-model',
        modelTopology: artifacts.modelTopology,
        weightsManifest: [{ paths: ['weights.bin'], weights: artifacts.weightSpecs }],
      };
      fs.writeFileSync(path.join(dir, 'model.json'), JSON.stringify(json));
      fs.writeFileSync(path.join(dir, 'weights.bin'), Buffer.from(artifacts.weightData as ArrayBuffer));
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  return path.join(dir, 'model.json');
}

/** Writes a package folder with the given package.json (and optional index.js). */
export function writePackage(dir: string, pkg: Record<string, unknown>, indexJs?: string): string {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify(pkg, null, 2));
  if (indexJs !== undefined) fs.writeFileSync(path.join(dir, 'index.js'), indexJs);
  return dir;
}
