/**
 * The tensor side of a process: the TF.js backend and the plugin registry
 * (built-in plugins from `plugins/`, installed ones from the data directory).
 */
import { initBackend } from '../engine';
import { describeAdapter } from '../engine/backend';
import type { GpuAdapter } from '../engine/webgpu';
import { nativeBlasStatus } from '../engine/kernels/native-blas';
import type { Config } from '../shared/config';
import type { Logger } from '../shared/logger';
import { builtinPluginsDir, PluginRegistry, type LoadedPlugin, type PluginRuntime } from './index';
import { pluginsPrefix } from './installer';
import type { Tf } from '../sdk';

export interface TensorRuntime {
  tf: Tf;
  backend: string;
  /** The GPU adapter when backend is webgpu. */
  adapter?: GpuAdapter;
  registry: PluginRegistry;
  /** What plugin instances are loaded with. */
  pluginRuntime: PluginRuntime;
  loaded: LoadedPlugin[];
  dispose(): Promise<void>;
}

export async function startTensorRuntime(
  config: Pick<Config, 'backend' | 'dataDir'> & Partial<Pick<Config, 'security'>>,
  log: Logger,
): Promise<TensorRuntime> {
  const info = await initBackend(config.backend, (msg) => log.debug(msg));
  const skipped = info.skipped.map((s) => `${s.name}: ${s.reason}`).join('; ');
  log.info(
    `tensor backend: ${info.backend}${info.adapter ? ` on ${describeAdapter(info.adapter)}` : ''}${skipped ? ` (not used — ${skipped})` : ''}`,
  );
  if (info.backend === 'wasm') {
    // Say it at start: the README's training times assume OpenBLAS, which npm cannot install (README, "Quick start").
    const native = nativeBlasStatus.startsWith('OpenBLAS');
    log.info(
      `matrix products: ${native ? `native, ${nativeBlasStatus}` : `wasm kernels, no native BLAS (${nativeBlasStatus}); training runs faster with OpenBLAS: apt-get install libopenblas0-pthread`}`,
    );
  }
  const pluginLog = log.child('plugins');
  const registry = new PluginRegistry({
    logger: pluginLog,
    assets: config.security
      ? { dirs: config.security.assetDirs, urlPrefixes: config.security.assetUrlPrefixes }
      : undefined,
  });
  const loaded = await registry.loadAll({
    builtinDir: builtinPluginsDir(),
    installedDir: pluginsPrefix(config.dataDir),
  });
  for (const p of loaded) {
    if (p.status === 'LOADED') pluginLog.info(`loaded ${p.name}@${p.version} (${p.source.toLowerCase()})`);
  }
  return {
    tf: info.tf,
    backend: info.backend,
    adapter: info.adapter,
    registry,
    pluginRuntime: { tf: info.tf, backend: info.backend, logger: pluginLog },
    loaded,
    dispose: () => registry.dispose(),
  };
}
