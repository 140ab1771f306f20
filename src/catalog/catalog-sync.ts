/**
 * Records what a plugin registry holds in the database at start-up (the
 * queries themselves, and the rule that rows prompts refer to are kept, are
 * the store's: `Store.syncPlugins`).
 */
import type { PluginRegistry } from '../plugins';
import type { Store } from '../store/store';

/**
 * Start-up sync: records every plugin of the registry. Built-in plugins that
 * no longer ship are forgotten; installed plugins missing locally are left
 * recorded (another replica may have them; workers install them on demand).
 */
export function syncCatalog(store: Store, registry: PluginRegistry): Promise<void> {
  return store.syncPlugins(registry.listPlugins());
}
