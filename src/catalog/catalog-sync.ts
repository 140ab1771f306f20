/**
 * Records what a plugin registry holds in the database: one row per plugin
 * package, generator and control. Rows that prompts refer to are never
 * deleted; generators and controls whose plugin is gone or FAILED are marked
 * unavailable instead.
 */
import type { EntityManager } from 'typeorm';
import type { LoadedPlugin, PluginRegistry } from '../plugins';
import { ControlRow, GeneratorRow, PluginRow } from '../store/entities';
import type { Store } from '../store/store';

export interface InstallInfo {
  spec?: string | null;
  integrity?: string | null;
}

async function upsertPlugin(tx: EntityManager, plugin: LoadedPlugin, install: InstallInfo): Promise<PluginRow> {
  const existing = await tx.findOneBy(PluginRow, { name: plugin.name });
  const fields = {
    name: plugin.name,
    version: plugin.version,
    source: plugin.source,
    status: plugin.status,
    error: plugin.error ?? null,
    spec: install.spec ?? existing?.spec ?? null,
    integrity: install.integrity ?? plugin.integrity ?? existing?.integrity ?? null,
  };
  if (existing) {
    await tx.update(PluginRow, { id: existing.id }, fields);
    return { ...existing, ...fields };
  }
  return tx.save(PluginRow, tx.create(PluginRow, fields));
}

/** Writes one plugin's rows (inside a transaction of the caller's or its own). */
export async function recordPlugin(tx: EntityManager, plugin: LoadedPlugin, install: InstallInfo = {}): Promise<PluginRow> {
  const row = await upsertPlugin(tx, plugin, install);
  const def = plugin.status === 'LOADED' ? plugin.definition : undefined;
  const generators = def?.generators ?? [];
  const controls = def?.controls ?? [];
  for (const g of generators) {
    const fields = {
      name: g.name,
      title: g.title,
      description: g.description ?? null,
      latentDim: g.latentDim,
      width: g.output.width,
      height: g.output.height,
      channels: g.output.channels,
      pluginId: row.id,
      basePromptId: null,
      available: true,
    };
    const existing = await tx.findOneBy(GeneratorRow, { name: g.name });
    if (existing) await tx.update(GeneratorRow, { id: existing.id }, fields);
    else await tx.insert(GeneratorRow, fields);
  }
  for (const c of controls) {
    const fields = {
      name: c.name,
      title: c.title,
      description: c.description ?? null,
      // jsonb: typeorm's deep-partial type cannot express arbitrary JSON.
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      paramsSchema: c.paramsSchema as any,
      conditionDim: c.conditionDim ?? null,
      paired: Boolean(c.paired),
      pluginId: row.id,
      available: true,
    };
    const existing = await tx.findOneBy(ControlRow, { name: c.name });
    if (existing) await tx.update(ControlRow, { id: existing.id }, fields);
    else await tx.insert(ControlRow, fields);
  }
  // Whatever this plugin offered before and no longer does becomes unavailable.
  const gNames = generators.map((g) => g.name);
  const cNames = controls.map((c) => c.name);
  await tx
    .createQueryBuilder()
    .update(GeneratorRow)
    .set({ available: false })
    .where('plugin_id = :id', { id: row.id })
    .andWhere(gNames.length ? 'name NOT IN (:...gNames)' : 'TRUE', { gNames })
    .execute();
  await tx
    .createQueryBuilder()
    .update(ControlRow)
    .set({ available: false })
    .where('plugin_id = :id', { id: row.id })
    .andWhere(cNames.length ? 'name NOT IN (:...cNames)' : 'TRUE', { cNames })
    .execute();
  return row;
}

/** Marks a removed plugin's generators and controls unavailable and deletes its package row. */
export async function forgetPlugin(tx: EntityManager, name: string): Promise<boolean> {
  const row = await tx.findOneBy(PluginRow, { name });
  if (!row) return false;
  await tx.update(GeneratorRow, { pluginId: row.id }, { available: false });
  await tx.update(ControlRow, { pluginId: row.id }, { available: false });
  await tx.delete(PluginRow, { id: row.id });
  return true;
}

/**
 * Start-up sync: records every plugin of the registry. Built-in plugins that
 * no longer ship are forgotten; installed plugins missing locally are left
 * recorded (another replica may have them; workers install them on demand).
 */
export async function syncCatalog(store: Store, registry: PluginRegistry): Promise<void> {
  await store.dataSource.transaction(async (tx) => {
    const present = new Set<string>();
    for (const plugin of registry.listPlugins()) {
      await recordPlugin(tx, plugin);
      present.add(plugin.name);
    }
    const builtins = await tx.findBy(PluginRow, { source: 'BUILTIN' });
    for (const row of builtins) if (!present.has(row.name)) await forgetPlugin(tx, row.name);
  });
}
