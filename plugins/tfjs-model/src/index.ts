/**
 * @promptgen/tfjs-model — built-in PromptGen plugin.
 *
 * Turns a small JSON manifest describing a TensorFlow.js layers or graph model
 * into a generator definition or a "classifier" control definition. The plugin
 * declares no generators of its own: a declarative plugin package lists
 * manifests in package.json (`"promptgen": { "apiVersion": 1, "models": [...] }`)
 * and the host builds them through these factories (`fromManifests`,
 * `loadClassifier`; the host's loader states the same contract as its
 * `TfjsModelModule` and checks this module against it when it loads it).
 *
 * Everything that touches tensors comes from the load context (`ctx.tf`), so no
 * second TensorFlow.js is ever loaded. Split by concern: manifest.ts (checks),
 * model.ts (load and run a model), generator.ts, classifier.ts.
 */
import type {
  ControlDefinition,
  GeneratorDefinition,
  PluginDefinition,
  TfjsModelManifest,
} from 'promptgen/plugin';
import { loadClassifier, tfjsClassifier } from './classifier';
import { tfjsGenerator } from './generator';
import { assertManifest, validateManifest } from './manifest';

/**
 * Definitions for a declarative package's manifests.
 * `options.baseDir`: the declaring package (relative classNamesFile paths).
 */
function fromManifests(
  manifests: TfjsModelManifest[],
  options?: { baseDir?: string },
): { generators: GeneratorDefinition[]; controls: ControlDefinition[] } {
  const generators: GeneratorDefinition[] = [];
  const controls: ControlDefinition[] = [];
  manifests.forEach((m, i) => {
    try {
      if (m && m.kind === 'generator') generators.push(tfjsGenerator(m));
      else if (m && m.kind === 'classifier') controls.push(tfjsClassifier(m, options));
      else assertManifest(m);
    } catch (e) {
      throw new Error(`models[${i}]: ${(e as Error).message}`, { cause: e });
    }
  });
  return { generators, controls };
}

/** The factories this module offers beside its (empty) plugin definition. */
interface TfjsModelFactories {
  tfjsGenerator: typeof tfjsGenerator;
  tfjsClassifier: typeof tfjsClassifier;
  loadClassifier: typeof loadClassifier;
  fromManifests: typeof fromManifests;
  validateManifest: typeof validateManifest;
}

const plugin: PluginDefinition & TfjsModelFactories = {
  apiVersion: 1,
  generators: [],
  controls: [],
  tfjsGenerator,
  tfjsClassifier,
  loadClassifier,
  fromManifests,
  validateManifest,
};

export = plugin;
