/**
 * The plugin catalog as the database holds it: one row per plugin package,
 * generator and control, plus the tarballs of packages installed from a local
 * file. Rows that prompts refer to are never deleted; generators and controls
 * whose plugin is gone or FAILED are marked unavailable instead.
 */
import { In, type EntityManager } from 'typeorm';
import {
  ControlRow,
  GeneratorRow,
  PluginPackageRow,
  PluginRow,
  PromptRow,
  type PluginSourceValue,
  type PluginStatusValue,
} from './entities';
import { Queries } from './queries';

/** How a plugin was installed, kept so other machines can install the same. */
export interface InstallInfo {
  spec?: string | null;
  integrity?: string | null;
}

/**
 * What the catalog records of a loaded plugin (the registry's `LoadedPlugin`
 * fits it). Spelled out here so the store needs nothing of the plugin layer.
 */
export interface CatalogPlugin {
  name: string;
  version: string;
  source: PluginSourceValue;
  status: PluginStatusValue;
  error?: string;
  integrity?: string;
  definition?: {
    generators?: Array<{
      name: string;
      title: string;
      description?: string;
      latentDim: number;
      output: { width: number; height: number; channels: number };
    }>;
    controls?: Array<{
      name: string;
      title: string;
      description?: string;
      paramsSchema: unknown;
      conditionDim?: number | null;
      paired?: boolean;
    }>;
  };
}

export class CatalogQueries extends Queries {
  // --- reading ---------------------------------------------------------------

  listPlugins(): Promise<PluginRow[]> {
    return this.m.find(PluginRow, { order: { source: 'ASC', name: 'ASC' } });
  }
  pluginById(id: string): Promise<PluginRow | null> {
    return this.m.findOneBy(PluginRow, { id });
  }
  pluginByName(name: string): Promise<PluginRow | null> {
    return this.m.findOneBy(PluginRow, { name });
  }
  pluginsByIds(ids: string[]): Promise<PluginRow[]> {
    return ids.length ? this.m.findBy(PluginRow, { id: In(ids) }) : Promise.resolve([]);
  }

  listGenerators(includeUnavailable = false): Promise<GeneratorRow[]> {
    return this.m.find(GeneratorRow, {
      where: includeUnavailable ? {} : { available: true },
      order: { name: 'ASC' },
    });
  }
  /**
   * The generators to offer: plugin generators (`BASE`), trained prompts
   * (`PROMPT`) or both (null). A trained prompt samples through its base
   * generator, so it counts as available only while every generator down its
   * chain is (an uninstalled base plugin makes its prompts unavailable too);
   * the rows come back with `available` set to that.
   */
  async listOfferedGenerators(
    kind: 'BASE' | 'PROMPT' | null,
    includeUnavailable = false,
  ): Promise<GeneratorRow[]> {
    const rows = await this.m.find(GeneratorRow, { order: { name: 'ASC' } });
    const promptIds = rows.flatMap((r) => (r.basePromptId ? [r.basePromptId] : []));
    const prompts = promptIds.length
      ? await this.m.find(PromptRow, {
          select: { id: true, generatorId: true },
          where: { id: In(promptIds) },
        })
      : [];
    const baseOf = new Map(prompts.map((p) => [p.id, p.generatorId]));
    const byId = new Map(rows.map((r) => [r.id, r]));
    const usable = new Map<string, boolean>();
    const resolve = (row: GeneratorRow, depth: number): boolean => {
      const known = usable.get(row.id);
      if (known !== undefined) return known;
      let ok = row.available;
      if (ok && row.basePromptId) {
        const below = byId.get(baseOf.get(row.basePromptId) ?? '');
        ok = !!below && depth < 64 && resolve(below, depth + 1); // 64: far deeper than any real stack; stops a cycle
      }
      usable.set(row.id, ok);
      return ok;
    };
    for (const row of rows) row.available = resolve(row, 0);
    return rows.filter(
      (r) =>
        (includeUnavailable || r.available) &&
        (kind === null || (kind === 'PROMPT') === (r.basePromptId !== null)),
    );
  }
  generatorById(id: string): Promise<GeneratorRow | null> {
    return this.m.findOneBy(GeneratorRow, { id });
  }
  generatorByName(name: string): Promise<GeneratorRow | null> {
    return this.m.findOneBy(GeneratorRow, { name });
  }
  generatorForPrompt(promptId: string): Promise<GeneratorRow | null> {
    return this.m.findOneBy(GeneratorRow, { basePromptId: promptId });
  }
  generatorsOfPlugin(pluginId: string): Promise<GeneratorRow[]> {
    return this.m.find(GeneratorRow, { where: { pluginId, available: true }, order: { name: 'ASC' } });
  }

  listControls(includeUnavailable = false): Promise<ControlRow[]> {
    return this.m.find(ControlRow, {
      where: includeUnavailable ? {} : { available: true },
      order: { name: 'ASC' },
    });
  }
  controlById(id: string): Promise<ControlRow | null> {
    return this.m.findOneBy(ControlRow, { id });
  }
  controlByName(name: string): Promise<ControlRow | null> {
    return this.m.findOneBy(ControlRow, { name });
  }
  controlsOfPlugin(pluginId: string): Promise<ControlRow[]> {
    return this.m.find(ControlRow, { where: { pluginId, available: true }, order: { name: 'ASC' } });
  }

  // --- recording what a registry holds -------------------------------------------

  /** Records one plugin with its generators and controls, in one transaction. */
  recordPlugin(plugin: CatalogPlugin, install: InstallInfo = {}): Promise<PluginRow> {
    return this.m.transaction((tx) => recordPluginIn(tx, plugin, install));
  }

  /** Marks a removed plugin's generators and controls unavailable and deletes its package row; false when unknown. */
  forgetPlugin(name: string): Promise<boolean> {
    return this.m.transaction((tx) => forgetPluginIn(tx, name));
  }

  /**
   * Start-up sync, in one transaction: records every plugin given. Built-in
   * plugins that no longer ship are forgotten; installed plugins missing
   * locally are left recorded (another replica may have them; workers install
   * them on demand).
   */
  syncPlugins(plugins: CatalogPlugin[]): Promise<void> {
    return this.m.transaction(async (tx) => {
      const present = new Set<string>();
      for (const plugin of plugins) {
        await recordPluginIn(tx, plugin, {});
        present.add(plugin.name);
      }
      const builtins = await tx.findBy(PluginRow, { source: 'BUILTIN' });
      for (const row of builtins) if (!present.has(row.name)) await forgetPluginIn(tx, row.name);
    });
  }

  // --- plugin tarballs ---------------------------------------------------------

  savePluginPackage(name: string, version: string, integrity: string, tarball: Buffer): Promise<void> {
    return this.upsert(
      PluginPackageRow,
      { name, version, integrity, tarball },
      ['integrity', 'tarball'],
      ['name', 'version'],
    );
  }

  async loadPluginPackage(
    name: string,
    version: string,
  ): Promise<{ integrity: string; tarball: Buffer } | null> {
    const row = await this.m
      .createQueryBuilder(PluginPackageRow, 'p')
      .addSelect('p.tarball')
      .where('p.name = :name AND p.version = :version', { name, version })
      .getOne();
    return row ? { integrity: row.integrity, tarball: row.tarball } : null;
  }
}

async function upsertPlugin(
  tx: EntityManager,
  plugin: CatalogPlugin,
  install: InstallInfo,
): Promise<PluginRow> {
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

async function recordPluginIn(
  tx: EntityManager,
  plugin: CatalogPlugin,
  install: InstallInfo,
): Promise<PluginRow> {
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
  for (const [entity, names] of [
    [GeneratorRow, gNames],
    [ControlRow, cNames],
  ] as const) {
    await tx
      .createQueryBuilder()
      .update(entity)
      .set({ available: false })
      .where('plugin_id = :id', { id: row.id })
      .andWhere(names.length ? 'name NOT IN (:...names)' : 'TRUE', { names })
      .execute();
  }
  return row;
}

async function forgetPluginIn(tx: EntityManager, name: string): Promise<boolean> {
  const row = await tx.findOneBy(PluginRow, { name });
  if (!row) return false;
  await tx.update(GeneratorRow, { pluginId: row.id }, { available: false });
  await tx.update(ControlRow, { pluginId: row.id }, { available: false });
  await tx.delete(PluginRow, { id: row.id });
  return true;
}
