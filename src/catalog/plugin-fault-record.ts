/**
 * Writes down that a loaded plugin was taken out of service for a fault (plugins/containment.ts).
 *
 * Containment marks the plugin FAILED in the registry at once, in the fault handler, so nothing
 * calls into it again. The row is a change to the stored catalog like an install's, so it goes
 * through the same queue (plugins/plugin-changes.ts): written between an install's writes it
 * could leave the row FAILED over the version the install just loaded. And it is written only
 * if the failed copy is still the one the registry holds when its turn comes; an install or
 * uninstall of the same plugin that ran meanwhile has recorded what it did.
 */
import type { LoadedPlugin, PluginRegistry } from '../plugins';
import { withPluginChange } from '../plugins/plugin-changes';
import type { Store } from '../store/store';

/** -> whether the FAILED row was written (false: the registry moved on before its turn). */
export function recordPluginFault(
  store: Store,
  registry: PluginRegistry,
  dataDir: string,
  failed: LoadedPlugin,
): Promise<boolean> {
  return withPluginChange(dataDir, async () => {
    if (registry.plugin(failed.name) !== failed) return false;
    await store.recordPlugin(failed);
    return true;
  });
}
