/**
 * Loads every model a package declares in `promptgen.models`, so a package
 * that left a model file out of its npm `files` is refused at install naming
 * the missing file, instead of installing as LOADED and failing when first
 * used. The models are read with the host's own loader (weights included,
 * sizes checked) and disposed at once. Models given as http(s) URLs are not
 * fetched here: an install must not make the server fetch a URL.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { createAssetResolver } from './assets';
import type { LoadedPlugin } from './loader';
import type { Tf, TfjsModelManifest } from '../sdk';

/** The package's declared model manifests (none for a code-only plugin). */
async function declaredModels(dir: string): Promise<TfjsModelManifest[]> {
  const pkg = JSON.parse(await fsp.readFile(path.join(dir, 'package.json'), 'utf8')) as {
    promptgen?: { models?: unknown };
  };
  const models = pkg.promptgen?.models;
  return Array.isArray(models) ? (models as TfjsModelManifest[]) : [];
}

/** Throws, naming the model and the file relative to the package, when a declared model cannot be loaded. */
export async function loadDeclaredModels(plugin: Pick<LoadedPlugin, 'dir'>, tf: Tf): Promise<number> {
  const assets = createAssetResolver(plugin.dir, tf);
  let loaded = 0;
  for (const manifest of await declaredModels(plugin.dir)) {
    if (typeof manifest.model !== 'string' || /^https?:\/\//i.test(manifest.model)) continue;
    try {
      const model =
        manifest.format === 'graph'
          ? await assets.loadGraphModel(manifest.model)
          : await assets.loadLayersModel(manifest.model);
      model.dispose();
      loaded++;
    } catch (e) {
      // Paths inside the package as the author wrote them; no server paths in the message.
      const message = (e as Error).message.split(plugin.dir + path.sep).join('');
      throw new Error(
        `model ${JSON.stringify(manifest.name)} (${manifest.model}) cannot be loaded: ${message}`,
        { cause: e },
      );
    }
  }
  return loaded;
}
