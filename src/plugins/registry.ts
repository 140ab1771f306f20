/**
 * The set of plugins a process knows: built-in and installed packages, name
 * lookups for generators and controls, load contexts, and a cache of loaded
 * generator/control instances.
 */
import { existsSync } from 'fs';
import * as path from 'path';
import { pathToFileURL } from 'url';
import { createAssetResolver } from './assets';
import { ASSET_REFUSAL, checkAssetLocation, type AssetPolicy } from './asset-policy';
import { pluginClassifiers } from './classifier-manifests';
import { installedPackageDirs, subdirs } from './installed-dirs';
import { loadPluginPackage, type LoadedPlugin } from './loader';
import { loadPluginTrialFirst } from './trial-load';
import type {
  Classifier,
  ClassifierAccessor,
  ClassifierDefinition,
  ControlDefinition,
  ControlInstance,
  GeneratorDefinition,
  GeneratorInfo,
  GeneratorInstance,
  LoadContext,
  Logger,
  Tf,
} from '../sdk';
import { validateParams } from './validate';
import { createAugmenter, DEFAULT_AUGMENT, resolveAugmentSpec } from '../engine/augment';
import { readInstalledRecords } from './install-prefix';

export { installedPackageDirs } from './installed-dirs';

/** What loading an instance needs from the host. */
export interface PluginRuntime {
  tf: Tf;
  backend: string;
  logger?: Logger;
}

export interface RegisteredGenerator {
  plugin: LoadedPlugin;
  definition: GeneratorDefinition;
}
export interface RegisteredControl {
  plugin: LoadedPlugin;
  definition: ControlDefinition;
}
export interface RegisteredClassifier {
  plugin: LoadedPlugin;
  definition: ClassifierDefinition;
}

type Disposable = { dispose(): void };

export interface LoadAllOptions {
  /** Built-in plugin packages: every sub-folder with a package.json (default: none). */
  builtinDir?: string;
  /** The installer's npm prefix, `<dataDir>/plugins` (default: none). */
  installedDir?: string;
  /**
   * Try installed plugins in a child process before importing them here
   * (default true). A worker thread, which a plugin's crash cannot take the
   * process down from, may skip it.
   */
  trialInstalled?: boolean;
}

/** A logger that prefixes messages with the plugin name. */
export function consoleLogger(prefix: string): Logger {
  const fmt = (m: string, extra?: Record<string, unknown>) => [`[${prefix}] ${m}`, ...(extra ? [extra] : [])];
  return {
    info: (m, e) => console.info(...fmt(m, e)),
    warn: (m, e) => console.warn(...fmt(m, e)),
    error: (m, e) => console.error(...fmt(m, e)),
  };
}

function stableStringify(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v) ?? 'undefined';
  if (Array.isArray(v)) return `[${v.map(stableStringify).join(',')}]`;
  const o = v as Record<string, unknown>;
  return `{${Object.keys(o)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${stableStringify(o[k])}`)
    .join(',')}}`;
}

export class PluginRegistry {
  private plugins = new Map<string, LoadedPlugin>();
  private generatorIndex = new Map<string, RegisteredGenerator>();
  private controlIndex = new Map<string, RegisteredControl>();
  private classifierIndex = new Map<string, RegisteredClassifier>();
  private instances = new Map<string, { plugin: string; promise: Promise<Disposable> }>();

  /** `assets`: where params and manifests may point besides the plugin package (default: nowhere). */
  constructor(private readonly options: { logger?: Logger; assets?: AssetPolicy } = {}) {}

  /**
   * Loads the built-in plugins, then the installed ones. A plugin whose package
   * name or generator/control names are already taken is kept as FAILED.
   */
  async loadAll(dirs: LoadAllOptions): Promise<LoadedPlugin[]> {
    const loaded: LoadedPlugin[] = [];
    if (dirs.builtinDir) {
      for (const dir of await subdirs(dirs.builtinDir)) {
        if (!existsSync(path.join(dir, 'package.json'))) continue;
        loaded.push(this.addNew(await loadPluginPackage(dir, { source: 'BUILTIN' })));
      }
    }
    if (dirs.installedDir) {
      const records = await readInstalledRecords(dirs.installedDir);
      for (const dir of await installedPackageDirs(dirs.installedDir)) {
        // Installed code is third-party: tried in a child process first, so it cannot take this one down.
        const plugin =
          dirs.trialInstalled === false
            ? await loadPluginPackage(dir, { source: 'INSTALLED' })
            : await loadPluginTrialFirst(dir, { source: 'INSTALLED' });
        plugin.integrity ??= records[plugin.name]?.integrity;
        loaded.push(this.addNew(plugin));
      }
    }
    for (const p of loaded) {
      if (p.status === 'FAILED')
        this.options.logger?.warn(`plugin ${p.name}@${p.version} failed to load: ${p.error}`, { dir: p.dir });
    }
    return loaded;
  }

  /** Adds a plugin unless its package name is already loaded; then returns it FAILED without storing it. */
  private addNew(plugin: LoadedPlugin): LoadedPlugin {
    const existing = this.plugins.get(plugin.name);
    if (existing) {
      return {
        ...plugin,
        status: 'FAILED',
        definition: undefined,
        error: `plugin package ${plugin.name} is already loaded from ${existing.dir} (${existing.source.toLowerCase()})`,
      };
    }
    return this.add(plugin);
  }

  /**
   * Why `plugin` cannot join: generator/control names other plugins already use, or an
   * installed package with the name of a built-in one. Empty when it can.
   */
  conflicts(plugin: LoadedPlugin): string[] {
    const out: string[] = [];
    const same = this.plugins.get(plugin.name);
    if (same && same.source === 'BUILTIN' && plugin.source !== 'BUILTIN') {
      out.push(`plugin package ${plugin.name} is built in and cannot be replaced by an installed package`);
    }
    for (const g of plugin.definition?.generators ?? []) {
      const other = this.generatorIndex.get(g.name);
      if (other && other.plugin.name !== plugin.name)
        out.push(`generator name "${g.name}" is already used by plugin ${other.plugin.name}`);
    }
    for (const c of plugin.definition?.controls ?? []) {
      const other = this.controlIndex.get(c.name);
      if (other && other.plugin.name !== plugin.name)
        out.push(`control name "${c.name}" is already used by plugin ${other.plugin.name}`);
    }
    if (plugin.status === 'LOADED') {
      for (const c of pluginClassifiers(plugin)) {
        const other = this.classifierIndex.get(c.name);
        if (other && other.plugin.name !== plugin.name)
          out.push(`classifier name "${c.name}" is already used by plugin ${other.plugin.name}`);
      }
    }
    return out;
  }

  /**
   * Adds (or replaces, by package name) a plugin and returns it as stored: FAILED
   * with a clear error when its generator/control names clash with another plugin.
   */
  add(plugin: LoadedPlugin): LoadedPlugin {
    if (this.plugins.has(plugin.name)) this.remove(plugin.name);
    let stored = plugin;
    if (plugin.status === 'LOADED') {
      const clashes = this.conflicts(plugin);
      if (clashes.length)
        stored = { ...plugin, status: 'FAILED', definition: undefined, error: clashes.join('; ') };
    }
    this.plugins.set(stored.name, stored);
    if (stored.status === 'LOADED' && stored.definition) {
      for (const g of stored.definition.generators ?? [])
        this.generatorIndex.set(g.name, { plugin: stored, definition: g });
      for (const c of stored.definition.controls ?? [])
        this.controlIndex.set(c.name, { plugin: stored, definition: c });
      for (const c of pluginClassifiers(stored))
        this.classifierIndex.set(c.name, { plugin: stored, definition: c });
    }
    return stored;
  }

  /** Removes a plugin by package name and disposes its cached instances. */
  remove(name: string): boolean {
    const plugin = this.plugins.get(name);
    if (!plugin) return false;
    const offeredClassifiers = [...this.classifierIndex.values()].some((c) => c.plugin.name === name);
    void this.disposeInstances(name);
    // Cached controls of other plugins may hold one of its classifiers: drop those too.
    if (offeredClassifiers) void this.disposeInstances(undefined, 'c');
    for (const [k, v] of this.generatorIndex) if (v.plugin.name === name) this.generatorIndex.delete(k);
    for (const [k, v] of this.controlIndex) if (v.plugin.name === name) this.controlIndex.delete(k);
    for (const [k, v] of this.classifierIndex) if (v.plugin.name === name) this.classifierIndex.delete(k);
    this.plugins.delete(name);
    return true;
  }

  /**
   * The loaded plugin whose files appear in an error's stack (its own code or
   * its dependencies under its folder), innermost frame first.
   */
  pluginOfStack(stack: string): LoadedPlugin | undefined {
    const loaded = [...this.plugins.values()].filter((p) => p.status === 'LOADED');
    for (const line of stack.split('\n').slice(1)) {
      const owner = loaded.find(
        (p) => line.includes(p.dir + path.sep) || line.includes(pathToFileURL(p.dir).href + '/'),
      );
      if (owner) return owner;
    }
    return undefined;
  }

  /** Takes a misbehaving plugin out of service: kept as FAILED with `error`, its names freed. */
  markFailed(name: string, error: string): LoadedPlugin | undefined {
    const plugin = this.plugins.get(name);
    if (!plugin) return undefined;
    this.remove(name);
    const failed: LoadedPlugin = { ...plugin, status: 'FAILED', definition: undefined, error };
    this.plugins.set(name, failed);
    return failed;
  }

  listPlugins(): LoadedPlugin[] {
    return [...this.plugins.values()];
  }
  plugin(name: string): LoadedPlugin | undefined {
    return this.plugins.get(name);
  }
  generator(name: string): RegisteredGenerator | undefined {
    return this.generatorIndex.get(name);
  }
  control(name: string): RegisteredControl | undefined {
    return this.controlIndex.get(name);
  }
  generators(): RegisteredGenerator[] {
    return [...this.generatorIndex.values()];
  }
  controls(): RegisteredControl[] {
    return [...this.controlIndex.values()];
  }
  classifier(name: string): RegisteredClassifier | undefined {
    return this.classifierIndex.get(name);
  }
  classifiers(): RegisteredClassifier[] {
    return [...this.classifierIndex.values()];
  }
  /** Names of the classifiers loaded plugins offer, sorted. */
  classifierNames(): string[] {
    return [...this.classifierIndex.keys()].sort();
  }

  /**
   * The LoadContext a plugin's load() receives: the host tf, assets of the plugin folder,
   * a logger, and the named classifiers of all loaded plugins.
   */
  createContext(
    plugin: Pick<LoadedPlugin, 'name' | 'dir'>,
    tf: Tf,
    backend: string,
    logger?: Logger,
  ): LoadContext {
    const runtime: PluginRuntime = { tf, backend, logger };
    const classifiers: ClassifierAccessor = {
      names: () => this.classifierNames(),
      load: (name, generator) => this.loadClassifier(name, generator, runtime),
    };
    return {
      tf,
      backend,
      assets: createAssetResolver(plugin.dir, tf, this.options.assets),
      logger: logger ?? this.options.logger ?? consoleLogger(plugin.name),
      classifiers,
      augment: {
        defaults: { ...DEFAULT_AUGMENT },
        create: (spec, seed) => createAugmenter(tf, resolveAugmentSpec(spec), seed),
      },
    };
  }

  /**
   * Loads (once per name, backend and generator, then from the cache) the classifier `name`,
   * with a context of the plugin that offers it. Cached instances belong to the registry.
   */
  loadClassifier(name: string, generator: GeneratorInfo, runtime: PluginRuntime): Promise<Classifier> {
    const reg = this.classifierIndex.get(name);
    if (!reg) {
      const known = this.classifierNames();
      return Promise.reject(
        new Error(`unknown classifier "${name}" (known: ${known.length ? known.join(', ') : 'none'})`),
      );
    }
    const key = `k\u0000${name}\u0000${runtime.backend}\u0000${stableStringify(generator)}`;
    return this.cached(key, reg.plugin.name, async () => {
      const ctx = this.createContext(reg.plugin, runtime.tf, runtime.backend, runtime.logger);
      return reg.definition.load(ctx, generator);
    }) as Promise<Classifier>;
  }

  /**
   * Loads (once, then from the cache) the generator instance of `name`.
   * Cached instances belong to the registry: do not dispose them yourself.
   */
  loadGenerator(name: string, runtime: PluginRuntime): Promise<GeneratorInstance> {
    const reg = this.generatorIndex.get(name);
    if (!reg) return Promise.reject(new Error(`unknown generator "${name}"`));
    const key = `g\u0000${name}\u0000${runtime.backend}`;
    return this.cached(key, reg.plugin.name, async () => {
      const ctx = this.createContext(reg.plugin, runtime.tf, runtime.backend, runtime.logger);
      return reg.definition.load(ctx);
    }) as Promise<GeneratorInstance>;
  }

  /**
   * Validates params (defaults applied) and loads the control instance. With
   * `cache: true` (default) equal (name, params, generator) share one instance owned by
   * the registry; with `cache: false` the caller owns and disposes it (use this for
   * controls whose calibrate() keeps per-prompt state).
   */
  loadControl(
    name: string,
    params: unknown,
    generator: GeneratorInfo,
    runtime: PluginRuntime,
    options: { cache?: boolean } = {},
  ): Promise<ControlInstance> {
    const reg = this.controlIndex.get(name);
    if (!reg) return Promise.reject(new Error(`unknown control "${name}"`));
    const checked = validateParams(reg.definition, params);
    if (!checked.valid) {
      const why = checked.errors
        .map((e) => `${e.field.length ? e.field.join('.') + ': ' : ''}${e.message}`)
        .join('; ');
      return Promise.reject(new Error(`invalid params for control "${name}": ${why}`));
    }
    // Checked again here (createPrompt checks first): a prompt queued before a policy change must not load.
    const refused = (checked.assets ?? []).find((a) => !checkAssetLocation(a.value, this.options.assets).ok);
    if (refused)
      return Promise.reject(
        new Error(`invalid params for control "${name}": ${refused.field.join('.')} ${ASSET_REFUSAL}`),
      );
    const load = async () => {
      const ctx = this.createContext(reg.plugin, runtime.tf, runtime.backend, runtime.logger);
      return reg.definition.load(ctx, checked.params, generator);
    };
    if (options.cache === false) return load();
    const key = `c\u0000${name}\u0000${runtime.backend}\u0000${stableStringify(checked.params)}\u0000${stableStringify(generator)}`;
    return this.cached(key, reg.plugin.name, load) as Promise<ControlInstance>;
  }

  private cached(key: string, plugin: string, make: () => Promise<Disposable> | Disposable) {
    const hit = this.instances.get(key);
    if (hit) return hit.promise;
    const promise = Promise.resolve().then(make);
    this.instances.set(key, { plugin, promise });
    promise.catch(() => {
      if (this.instances.get(key)?.promise === promise) this.instances.delete(key);
    });
    return promise;
  }

  /**
   * Disposes cached instances (of one plugin, or all; `kind` 'g' | 'c' | 'k' limits it to
   * generators, controls or classifiers); resolves when all are disposed.
   */
  async disposeInstances(pluginName?: string, kind?: 'g' | 'c' | 'k'): Promise<void> {
    const pending: Promise<void>[] = [];
    for (const [key, entry] of this.instances) {
      if (pluginName && entry.plugin !== pluginName) continue;
      if (kind && !key.startsWith(`${kind}\u0000`)) continue;
      this.instances.delete(key);
      const p = entry.promise.then(
        (inst) => {
          try {
            inst.dispose();
          } catch (e) {
            this.options.logger?.warn(
              `dispose failed for ${key.split('\u0000')[1]}: ${(e as Error).message}`,
            );
          }
        },
        () => undefined,
      );
      pending.push(p);
    }
    await Promise.all(pending);
  }

  /** Disposes every cached instance and forgets all plugins. */
  async dispose(): Promise<void> {
    const done = this.disposeInstances();
    this.plugins.clear();
    this.generatorIndex.clear();
    this.controlIndex.clear();
    this.classifierIndex.clear();
    await done;
  }
}
