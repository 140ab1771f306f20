/**
 * Makes the plugin versions a prompt (or a generator) needs present on this
 * machine: a replica or worker that lacks an installed plugin, or has another
 * version, installs exactly the recorded one (spec and integrity from the
 * database; for packages installed from a local path, their tarball stored in
 * the database) before using it.
 */
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Config } from '../shared/config';
import type { Logger } from '../shared/logger';
import { installRecorded } from '../plugins/installer';
import { withPluginChange } from '../plugins/plugin-changes';
import type { Store } from '../store/store';
import type { TensorRuntime } from '../plugins/tensor-runtime';

export class PluginUnavailable extends Error {}

export interface PluginSyncDeps {
  store: Store;
  runtime: TensorRuntime;
  config: Pick<Config, 'dataDir'>;
  log: Logger;
}

/** Throws PluginUnavailable (with a readable reason) when a version cannot be had here. */
export function ensurePluginVersions(versions: Record<string, string>, deps: PluginSyncDeps): Promise<void> {
  const missing = Object.entries(versions).filter(([name, version]) => {
    const loaded = deps.runtime.registry.plugin(name);
    return !(loaded?.status === 'LOADED' && loaded.version === version);
  });
  if (missing.length === 0) return Promise.resolve();
  // After every other plugin change of this process (an admin install included): npm and the registry are not re-entrant.
  return withPluginChange(deps.config.dataDir, async () => {
    for (const [name, version] of missing) await ensureOne(name, version, deps);
  });
}

async function ensureOne(
  name: string,
  version: string,
  { store, runtime, config, log }: PluginSyncDeps,
): Promise<void> {
  const { registry } = runtime;
  const loaded = registry.plugin(name);
  if (loaded?.status === 'LOADED' && loaded.version === version) return; // installed meanwhile
  const row = await store.pluginByName(name);
  if (!row || row.source === 'BUILTIN' || !row.spec || !row.integrity) {
    const have = loaded
      ? `this machine has ${loaded.version}${loaded.status === 'FAILED' ? ' (failed to load)' : ''}`
      : 'this machine does not have it';
    throw new PluginUnavailable(
      `plugin ${name}@${version} is needed and ${have}; it cannot be installed here (no recorded spec and integrity)`,
    );
  }
  if (row.version !== version) {
    throw new PluginUnavailable(
      `plugin ${name}@${version} is needed but ${row.version} is installed now; reinstall ${version} to use it`,
    );
  }
  log.info(`installing ${name}@${version} on this machine`);
  const tarball = await store.loadPluginPackage(name, version);
  let resolvedSpec = row.spec;
  let scratch: string | null = null;
  if (tarball) {
    scratch = await fsp.mkdtemp(path.join(os.tmpdir(), 'promptgen-plugin-'));
    resolvedSpec = path.join(scratch, 'package.tgz');
    await fsp.writeFile(resolvedSpec, tarball.tarball);
  } else if (row.spec.startsWith('file:') || path.isAbsolute(row.spec)) {
    throw new PluginUnavailable(
      `plugin ${name}@${version} was installed from a local file on another machine and its package is not in the database`,
    );
  }
  try {
    const result = await installRecorded(
      { name, resolvedSpec, integrity: row.integrity, version },
      { dataDir: config.dataDir, conflicts: registry },
    );
    if (!result.ok)
      throw new PluginUnavailable(
        `installing plugin ${name}@${version} on this machine failed: ${result.message}`,
      );
    const added = registry.add(result.plugin);
    await store.recordPlugin(added, { spec: row.spec, integrity: row.integrity });
  } finally {
    if (scratch) await fsp.rm(scratch, { recursive: true, force: true });
  }
}
