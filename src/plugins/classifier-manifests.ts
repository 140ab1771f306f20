/**
 * The classifiers a plugin offers by name to generic controls: those its
 * definition lists, and those its package.json declares as tfjs models.
 */
import { existsSync, readFileSync } from 'fs';
import * as path from 'path';
import type { LoadedPlugin } from './loader';
import { tfjsModelPlugin } from './loader';
import type { ClassifierDefinition, ImageShape, TfjsClassifierManifest } from '../sdk';
import { PLUGIN_ITEM_NAME_PATTERN } from '../sdk';

/**
 * Classifier definitions for the classifier manifests of a declarative package
 * (`"promptgen": { "models": [{ "kind": "classifier", ... }] }`): the same model the
 * package's classifier control uses, offered by name to generic controls. Class names
 * come from the manifest (`classNames` or `classNamesFile`); a manifest with neither
 * gets `classNames: []` (known only once loaded, so params cannot be checked early).
 */
function manifestClassifiers(plugin: Pick<LoadedPlugin, 'dir'>): ClassifierDefinition[] {
  let models: unknown;
  try {
    const file = path.join(plugin.dir, 'package.json');
    if (!existsSync(file)) return [];
    models = (JSON.parse(readFileSync(file, 'utf8')) as { promptgen?: { models?: unknown } }).promptgen
      ?.models;
  } catch {
    return [];
  }
  if (!Array.isArray(models)) return [];
  const out: ClassifierDefinition[] = [];
  for (const m of models as TfjsClassifierManifest[]) {
    if (!m || m.kind !== 'classifier' || typeof m.name !== 'string' || !PLUGIN_ITEM_NAME_PATTERN.test(m.name))
      continue;
    let classNames: string[] = Array.isArray(m.classNames) ? m.classNames.slice() : [];
    if (!classNames.length && typeof m.classNamesFile === 'string') {
      try {
        classNames = readFileSync(path.resolve(plugin.dir, m.classNamesFile), 'utf8')
          .split(/\r?\n/)
          .map((x) => x.trim())
          .filter(Boolean);
      } catch {
        classNames = [];
      }
    }
    out.push({
      name: m.name,
      title: m.title || m.name,
      description: m.description,
      classNames,
      fits: (o: ImageShape) => Boolean(m.input) && o.width === m.input.width && o.height === m.input.height,
      async load(ctx) {
        return (await tfjsModelPlugin()).loadClassifier(ctx, m);
      },
    });
  }
  return out;
}

/** Every classifier a loaded plugin offers: its definition's `classifiers` and its classifier manifests. */
export function pluginClassifiers(plugin: LoadedPlugin): ClassifierDefinition[] {
  const own = plugin.definition?.classifiers ?? [];
  const names = new Set(own.map((c) => c.name));
  return [...own, ...manifestClassifiers(plugin).filter((c) => !names.has(c.name))];
}
