/**
 * Loads one plugin package from a directory. Never throws for a bad plugin:
 * the result says FAILED with a clear message instead.
 */
import { promises as fsp, existsSync, statSync } from 'fs';
import * as path from 'path';
import { pathToFileURL } from 'url';
import {
  PLUGIN_API_VERSION,
  type Classifier,
  type LoadContext,
  type PluginDefinition,
  type TfjsClassifierManifest,
  type TfjsModelManifest,
} from '../sdk';
import { describeLoadError } from './load-error';
import { validatePluginDefinition, validatePromptgenField } from './validate';

export type PluginSource = 'BUILTIN' | 'INSTALLED';
export type PluginStatus = 'LOADED' | 'FAILED';

export interface LoadedPlugin {
  /** npm package name. */
  name: string;
  version: string;
  /** Absolute package directory. */
  dir: string;
  source: PluginSource;
  status: PluginStatus;
  /** Why it failed to load (status FAILED). */
  error?: string;
  /** The validated definition (status LOADED). Declarative models are included as generators/controls. */
  definition?: PluginDefinition;
  /** npm integrity (SRI) of the installed tarball, when known. */
  integrity?: string;
  /** package.json "description". */
  description?: string;
}

export interface LoadOptions {
  source: PluginSource;
  integrity?: string;
}

/** The folder holding the built-in plugins (`<repo>/plugins`), found from this file's location. */
export function builtinPluginsDir(): string {
  let dir = __dirname;
  for (let i = 0; i < 6; i++) {
    const candidate = path.join(dir, 'plugins', 'tfjs-model', 'package.json');
    if (existsSync(candidate)) return path.join(dir, 'plugins');
    const parent = path.dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  return path.resolve(__dirname, '..', '..', 'plugins');
}

/** What the host uses of the built-in tfjs-model plugin: the factories behind declarative packages. */
export interface TfjsModelModule {
  fromManifests(
    manifests: TfjsModelManifest[],
    options?: { baseDir?: string },
  ): Pick<PluginDefinition, 'generators' | 'controls'>;
  loadClassifier(ctx: LoadContext, manifest: TfjsClassifierManifest): Promise<Classifier>;
}

/** Checked at the boundary: the plugin is a separately built package, loaded at run time. */
function isTfjsModelModule(m: unknown): m is TfjsModelModule {
  return (
    typeof m === 'object' &&
    m !== null &&
    'fromManifests' in m &&
    typeof m.fromManifests === 'function' &&
    'loadClassifier' in m &&
    typeof m.loadClassifier === 'function'
  );
}

let tfjsModelModule: Promise<TfjsModelModule> | undefined;
/** The built-in tfjs-model plugin module (its package's main module, built to its dist/). */
export function tfjsModelPlugin(): Promise<TfjsModelModule> {
  return (tfjsModelModule ??= (async () => {
    const dir = path.join(builtinPluginsDir(), 'tfjs-model');
    const main = resolveMain(dir, JSON.parse(await fsp.readFile(path.join(dir, 'package.json'), 'utf8')));
    const m = main ? unwrapDefinition(await importModule(main)) : null;
    if (!isTfjsModelModule(m))
      throw new Error(
        'the built-in tfjs-model plugin offers no fromManifests / loadClassifier (is it built? npm run build)',
      );
    return m;
  })().catch((e: unknown) => {
    tfjsModelModule = undefined;
    throw e;
  }));
}

/** Forgets cached CommonJS modules below dir so a replaced package is loaded afresh. */
function forgetModulesUnder(dir: string): void {
  const cache =
    typeof require !== 'undefined' ? (require.cache as Record<string, unknown> | undefined) : undefined;
  if (!cache) return;
  const prefix = path.resolve(dir) + path.sep;
  for (const key of Object.keys(cache)) if (key.startsWith(prefix)) delete cache[key];
}

/**
 * Dynamic import that also works where import() is compiled to require (jest):
 * the caller unwraps `mod.default ?? mod`.
 */
async function importModule(file: string, bust?: string): Promise<unknown> {
  const spec = IMPORT_IS_NATIVE ? pathToFileURL(file).href + (bust ? `?v=${bust}` : '') : file;
  return import(spec);
}

/**
 * True where import() is a real dynamic import (the tsc build); false where a transpiler
 * turned it into require() (swc under jest), which takes no file URL or query string.
 */
const IMPORT_IS_NATIVE = !/\brequire\s*\(/.test(importModule.toString());

/** Each load gets a fresh module instance (Node caches import() by URL, CJS included). */
let loadCounter = 0;

/** `mod.default ?? mod`, and once more for a transpiled `exports.default`. */
export function unwrapDefinition(mod: unknown): unknown {
  const m = mod as Record<string, unknown> | null;
  let d: unknown = m && typeof m === 'object' && 'default' in m && m.default !== undefined ? m.default : m;
  const looksLike = (x: unknown) =>
    !!x && typeof x === 'object' && ('generators' in x || 'controls' in x || 'apiVersion' in x);
  if (!looksLike(d) && d && typeof d === 'object' && looksLike((d as Record<string, unknown>).default)) {
    d = (d as Record<string, unknown>).default;
  }
  return d;
}

/** The main module file of a package, or null when it has none; throws when "main" points nowhere. */
function resolveMain(dir: string, pkg: Record<string, unknown>): string | null {
  const candidates = (p: string) => [p, `${p}.js`, `${p}.cjs`, `${p}.mjs`, path.join(p, 'index.js')];
  const find = (rel: string) =>
    candidates(path.resolve(dir, rel)).find((f) => existsSync(f) && statSync(f).isFile());
  let entry: string | undefined;
  const exp = pkg.exports as unknown;
  if (typeof exp === 'string') entry = exp;
  else if (exp && typeof exp === 'object') {
    const dot = (exp as Record<string, unknown>)['.'] ?? exp;
    if (typeof dot === 'string') entry = dot;
    else if (dot && typeof dot === 'object') {
      const c = dot as Record<string, unknown>;
      const pick = [c.require, c.node, c.default, c.import].find((v) => typeof v === 'string');
      if (typeof pick === 'string') entry = pick;
    }
  }
  if (!entry && typeof pkg.main === 'string' && pkg.main) entry = pkg.main;
  if (entry) {
    const f = find(entry);
    if (!f) throw new Error(`main module ${JSON.stringify(entry)} not found in ${dir}`);
    return f;
  }
  return find('index.js') ?? null;
}

/** Loads and validates the plugin package in `dir`. */
export async function loadPluginPackage(dir: string, options: LoadOptions): Promise<LoadedPlugin> {
  const abs = path.resolve(dir);
  const base: LoadedPlugin = {
    name: path.basename(abs),
    version: '0.0.0',
    dir: abs,
    source: options.source,
    status: 'FAILED',
    integrity: options.integrity,
  };
  const fail = (error: string): LoadedPlugin => ({ ...base, status: 'FAILED', error });

  let pkg: Record<string, unknown>;
  try {
    pkg = JSON.parse(await fsp.readFile(path.join(abs, 'package.json'), 'utf8'));
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'ENOENT') return fail(`no package.json in ${abs}`);
    return fail(`package.json is not valid JSON: ${err.message}`);
  }
  if (!pkg || typeof pkg !== 'object') return fail('package.json must contain a JSON object');
  if (typeof pkg.name === 'string' && pkg.name) base.name = pkg.name;
  if (typeof pkg.version === 'string' && pkg.version) base.version = pkg.version;
  if (typeof pkg.description === 'string') base.description = pkg.description;

  const fieldErrors = validatePromptgenField(pkg);
  if (fieldErrors.length) return fail(fieldErrors.join('; '));
  const field = pkg.promptgen as { apiVersion: number; models?: TfjsModelManifest[] };

  let main: string | null;
  try {
    main = resolveMain(abs, pkg);
  } catch (e) {
    return fail((e as Error).message);
  }
  if (!main && !field.models) {
    return fail(
      'package has no main module (package.json "main" or index.js) and declares no "promptgen.models"',
    );
  }

  let definition: PluginDefinition = { apiVersion: PLUGIN_API_VERSION };
  if (main) {
    let mod: unknown;
    try {
      forgetModulesUnder(abs);
      mod = await importModule(main, `${encodeURIComponent(base.version)}-${++loadCounter}`);
    } catch (e) {
      return fail(`plugin threw while loading: ${await describeLoadError(e, abs, main)}`);
    }
    const def = unwrapDefinition(mod);
    const errors = validatePluginDefinition(def);
    if (errors.length) return fail(`invalid plugin definition: ${errors.join('; ')}`);
    definition = def as PluginDefinition;
  }

  if (field.models && field.models.length) {
    try {
      const tfjs = await tfjsModelPlugin();
      const built = tfjs.fromManifests(field.models, { baseDir: abs });
      definition = {
        ...definition,
        apiVersion: PLUGIN_API_VERSION,
        generators: [...(definition.generators ?? []), ...(built.generators ?? [])],
        controls: [...(definition.controls ?? []), ...(built.controls ?? [])],
      };
    } catch (e) {
      return fail(`invalid "promptgen.models": ${(e as Error).message}`);
    }
    const errors = validatePluginDefinition(definition);
    if (errors.length) return fail(`invalid plugin definition: ${errors.join('; ')}`);
  }

  return { ...base, status: 'LOADED', definition };
}
