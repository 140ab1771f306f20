/**
 * The set of plugins a process knows: built-in and installed packages, name
 * lookups for generators and controls, load contexts, and a cache of loaded
 * generator/control instances.
 */
import { promises as fsp, existsSync } from 'fs';
import * as path from 'path';
import { createAssetResolver } from './assets';
import { loadPluginPackage, type LoadedPlugin } from './loader';
import type {
  ControlDefinition,
  ControlInstance,
  GeneratorDefinition,
  GeneratorInfo,
  GeneratorInstance,
  LoadContext,
  Logger,
  Tf,
} from './sdk';
import { validateParams } from './validate';
import { readInstalledRecords } from './installer';

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

export interface LoadAllOptions {
  /** Built-in plugin packages: every sub-folder with a package.json (default: none). */
  builtinDir?: string;
  /** The installer's npm prefix, `<dataDir>/plugins` (default: none). */
  installedDir?: string;
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

async function subdirs(dir: string): Promise<string[]> {
  if (!existsSync(dir)) return [];
  const entries = await fsp.readdir(dir, { withFileTypes: true });
  return entries
    .filter((e) => (e.isDirectory() || e.isSymbolicLink()) && !e.name.startsWith('.'))
    .map((e) => path.join(dir, e.name))
    .sort();
}

/** Package folders of the plugins installed in an installer prefix (`<dataDir>/plugins`). */
export async function installedPackageDirs(installedDir: string): Promise<string[]> {
  const pkgFile = path.join(installedDir, 'package.json');
  if (existsSync(pkgFile)) {
    const pkg = JSON.parse(await fsp.readFile(pkgFile, 'utf8')) as { dependencies?: Record<string, string> };
    return Object.keys(pkg.dependencies ?? {})
      .sort()
      .map((name) => path.join(installedDir, 'node_modules', ...name.split('/')));
  }
  const nm = path.join(installedDir, 'node_modules');
  const out: string[] = [];
  for (const d of await subdirs(nm)) {
    if (path.basename(d).startsWith('@')) out.push(...(await subdirs(d)));
    else out.push(d);
  }
  return out.filter((d) => existsSync(path.join(d, 'package.json')));
}

export class PluginRegistry {
  private plugins = new Map<string, LoadedPlugin>();
  private generatorIndex = new Map<string, RegisteredGenerator>();
  private controlIndex = new Map<string, RegisteredControl>();
  private instances = new Map<string, { plugin: string; promise: Promise<GeneratorInstance | ControlInstance> }>();

  constructor(private readonly options: { logger?: Logger } = {}) {}

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
        const plugin = await loadPluginPackage(dir, { source: 'INSTALLED' });
        plugin.integrity ??= records[plugin.name]?.integrity;
        loaded.push(this.addNew(plugin));
      }
    }
    for (const p of loaded) {
      if (p.status === 'FAILED') this.options.logger?.warn(`plugin ${p.name}@${p.version} failed to load: ${p.error}`, { dir: p.dir });
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
      if (other && other.plugin.name !== plugin.name) out.push(`generator name "${g.name}" is already used by plugin ${other.plugin.name}`);
    }
    for (const c of plugin.definition?.controls ?? []) {
      const other = this.controlIndex.get(c.name);
      if (other && other.plugin.name !== plugin.name) out.push(`control name "${c.name}" is already used by plugin ${other.plugin.name}`);
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
      if (clashes.length) stored = { ...plugin, status: 'FAILED', definition: undefined, error: clashes.join('; ') };
    }
    this.plugins.set(stored.name, stored);
    if (stored.status === 'LOADED' && stored.definition) {
      for (const g of stored.definition.generators ?? []) this.generatorIndex.set(g.name, { plugin: stored, definition: g });
      for (const c of stored.definition.controls ?? []) this.controlIndex.set(c.name, { plugin: stored, definition: c });
    }
    return stored;
  }

  /** Removes a plugin by package name and disposes its cached instances. */
  remove(name: string): boolean {
    const plugin = this.plugins.get(name);
    if (!plugin) return false;
    void this.disposeInstances(name);
    for (const [k, v] of this.generatorIndex) if (v.plugin.name === name) this.generatorIndex.delete(k);
    for (const [k, v] of this.controlIndex) if (v.plugin.name === name) this.controlIndex.delete(k);
    this.plugins.delete(name);
    return true;
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

  /** The LoadContext a plugin's load() receives: the host tf, assets of the plugin folder, a logger. */
  createContext(plugin: Pick<LoadedPlugin, 'name' | 'dir'>, tf: Tf, backend: string, logger?: Logger): LoadContext {
    return {
      tf,
      backend,
      assets: createAssetResolver(plugin.dir, tf),
      logger: logger ?? this.options.logger ?? consoleLogger(plugin.name),
    };
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
      const why = checked.errors.map((e) => `${e.field.length ? e.field.join('.') + ': ' : ''}${e.message}`).join('; ');
      return Promise.reject(new Error(`invalid params for control "${name}": ${why}`));
    }
    const load = async () => {
      const ctx = this.createContext(reg.plugin, runtime.tf, runtime.backend, runtime.logger);
      return reg.definition.load(ctx, checked.params, generator);
    };
    if (options.cache === false) return load();
    const key = `c\u0000${name}\u0000${runtime.backend}\u0000${stableStringify(checked.params)}\u0000${stableStringify(generator)}`;
    return this.cached(key, reg.plugin.name, load) as Promise<ControlInstance>;
  }

  private cached(key: string, plugin: string, make: () => Promise<GeneratorInstance | ControlInstance> | GeneratorInstance | ControlInstance) {
    const hit = this.instances.get(key);
    if (hit) return hit.promise;
    const promise = Promise.resolve().then(make);
    this.instances.set(key, { plugin, promise });
    promise.catch(() => {
      if (this.instances.get(key)?.promise === promise) this.instances.delete(key);
    });
    return promise;
  }

  /** Disposes cached instances (of one plugin, or all); resolves when all are disposed. */
  async disposeInstances(pluginName?: string): Promise<void> {
    const pending: Promise<void>[] = [];
    for (const [key, entry] of this.instances) {
      if (pluginName && entry.plugin !== pluginName) continue;
      this.instances.delete(key);
      const p = entry.promise.then(
        (inst) => {
          try {
            inst.dispose();
          } catch (e) {
            this.options.logger?.warn(`dispose failed for ${key.split('\u0000')[1]}: ${(e as Error).message}`);
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
    await done;
  }
}
