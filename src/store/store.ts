/**
 * Every query the API and the workers make, in one place. Resolvers and
 * services call these; nothing else builds SQL.
 */
import { type DataSource, type EntityManager, In } from 'typeorm';
import {
  CheckpointRow,
  ControlRow,
  GeneratorRow,
  ImageRow,
  PluginPackageRow,
  PluginRow,
  ProgressPointRow,
  PromptRow,
  SampleSetRow,
  type CheckpointKindValue,
  type PromptStatusValue,
  type StoredProgress,
} from './entities';
import { decodeCursor, encodeCursor, type CursorKey } from './pagination';

export interface Page<T> {
  rows: T[];
  cursors: string[];
  hasNextPage: boolean;
  totalCount: number;
}

export class Store {
  constructor(readonly dataSource: DataSource) {}

  private get m(): EntityManager {
    return this.dataSource.manager;
  }

  // --- plugins, generators, controls -------------------------------------

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
  async listOfferedGenerators(kind: 'BASE' | 'PROMPT' | null, includeUnavailable = false): Promise<GeneratorRow[]> {
    const rows = await this.m.find(GeneratorRow, { order: { name: 'ASC' } });
    const promptIds = rows.flatMap((r) => (r.basePromptId ? [r.basePromptId] : []));
    const prompts = promptIds.length ? await this.m.find(PromptRow, { select: { id: true, generatorId: true }, where: { id: In(promptIds) } }) : [];
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
      (r) => (includeUnavailable || r.available) && (kind === null || (kind === 'PROMPT') === (r.basePromptId !== null)),
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

  // --- prompts -----------------------------------------------------------

  promptById(id: string, manager: EntityManager = this.m): Promise<PromptRow | null> {
    return manager.findOneBy(PromptRow, { id });
  }

  /** Prompts still waiting on their training job (QUEUED or TRAINING), oldest first. */
  livePrompts(): Promise<Array<Pick<PromptRow, 'id' | 'jobId' | 'status'>>> {
    return this.m.find(PromptRow, {
      select: { id: true, jobId: true, status: true },
      where: { status: In(['QUEUED', 'TRAINING']) },
      order: { createdAt: 'ASC' },
    });
  }

  async listPrompts(opts: { first: number; after?: string | null; status?: PromptStatusValue | null }): Promise<Page<PromptRow>> {
    const base = this.m.createQueryBuilder(PromptRow, 'p');
    if (opts.status) base.where('p.status = :status', { status: opts.status });
    const totalCount = await base.clone().getCount();
    return this.keysetPage(base, 'p', opts.first, opts.after ?? null, totalCount);
  }

  /** The prompt's newest preview batch (samples drawn after training do not count). */
  latestPreview(promptId: string): Promise<SampleSetRow | null> {
    return this.m.findOne(SampleSetRow, { where: { promptId, kind: 'PREVIEW' }, order: { createdAt: 'DESC', id: 'DESC' } });
  }

  async listSampleSets(promptId: string, first: number, after: string | null): Promise<Page<SampleSetRow>> {
    const base = this.m.createQueryBuilder(SampleSetRow, 's').where('s.prompt_id = :promptId', { promptId });
    const totalCount = await base.clone().getCount();
    return this.keysetPage(base, 's', first, after, totalCount);
  }

  private async keysetPage<T extends { createdAt: Date; id: string }>(
    qb: ReturnType<EntityManager['createQueryBuilder']>,
    alias: string,
    first: number,
    after: string | null,
    totalCount: number,
  ): Promise<Page<T>> {
    const key: CursorKey | null = after ? decodeCursor(after) : null;
    if (key) {
      qb.andWhere(`(${alias}.created_at, ${alias}.id) < (:createdAt, :id)`, { createdAt: key.createdAt, id: key.id });
    }
    const rows = (await qb
      .orderBy(`${alias}.created_at`, 'DESC')
      .addOrderBy(`${alias}.id`, 'DESC')
      .take(first + 1)
      .getMany()) as T[];
    const hasNextPage = rows.length > first;
    const page = rows.slice(0, first);
    return { rows: page, cursors: page.map((r) => encodeCursor(r)), hasNextPage, totalCount };
  }

  progressHistory(promptId: string): Promise<ProgressPointRow[]> {
    return this.m.find(ProgressPointRow, { where: { promptId }, order: { step: 'ASC' } });
  }

  /**
   * The prompt's latest progress and its history point, together. A step
   * recorded again (a resumed job repeats the steps after its checkpoint, or a
   * retried write) replaces the earlier point: one row per step.
   */
  async recordProgress(promptId: string, progress: StoredProgress): Promise<void> {
    await this.m.transaction(async (tx) => {
      await tx.update(PromptRow, { id: promptId }, { progress });
      await tx
        .createQueryBuilder()
        .insert()
        .into(ProgressPointRow)
        .values({ promptId, step: progress.step, data: progress })
        .orUpdate(['data'], ['prompt_id', 'step'])
        .execute();
    });
  }

  // --- sample sets and images ---------------------------------------------

  sampleSetById(id: string): Promise<SampleSetRow | null> {
    return this.m.findOneBy(SampleSetRow, { id });
  }
  imagesOfSet(sampleSetId: string): Promise<ImageRow[]> {
    return this.m.find(ImageRow, { where: { sampleSetId }, order: { index: 'ASC' } });
  }
  async imagePng(imageId: string): Promise<Buffer | null> {
    const row = await this.m
      .createQueryBuilder(ImageRow, 'i')
      .addSelect('i.png')
      .where('i.id = :imageId', { imageId })
      .getOne();
    return row?.png ?? null;
  }

  async imagePngsOfSet(sampleSetId: string): Promise<Buffer[]> {
    const rows = await this.m
      .createQueryBuilder(ImageRow, 'i')
      .addSelect('i.png')
      .where('i.sample_set_id = :sampleSetId', { sampleSetId })
      .orderBy('i.index', 'ASC')
      .getMany();
    return rows.map((r) => r.png);
  }

  /** Stores a sample set and its PNGs in one transaction. */
  async saveSampleSet(
    set: Omit<SampleSetRow, 'id' | 'createdAt' | 'images'>,
    pngs: Array<{ png: Buffer; width: number; height: number }>,
  ): Promise<SampleSetRow> {
    return this.m.transaction(async (tx) => {
      const saved = await tx.save(SampleSetRow, tx.create(SampleSetRow, set));
      if (pngs.length) {
        await tx.insert(
          ImageRow,
          pngs.map((p, index) => ({ sampleSetId: saved.id, index, width: p.width, height: p.height, png: p.png })),
        );
      }
      return saved;
    });
  }

  // --- plugin tarballs ------------------------------------------------------

  async savePluginPackage(name: string, version: string, integrity: string, tarball: Buffer): Promise<void> {
    await this.m
      .createQueryBuilder()
      .insert()
      .into(PluginPackageRow)
      .values({ name, version, integrity, tarball })
      .orUpdate(['integrity', 'tarball'], ['name', 'version'])
      .execute();
  }

  async loadPluginPackage(name: string, version: string): Promise<{ integrity: string; tarball: Buffer } | null> {
    const row = await this.m
      .createQueryBuilder(PluginPackageRow, 'p')
      .addSelect('p.tarball')
      .where('p.name = :name AND p.version = :version', { name, version })
      .getOne();
    return row ? { integrity: row.integrity, tarball: row.tarball } : null;
  }

  // --- checkpoints ---------------------------------------------------------

  async saveCheckpoint(promptId: string, kind: CheckpointKindValue, step: number, data: Buffer): Promise<void> {
    await this.m
      .createQueryBuilder()
      .insert()
      .into(CheckpointRow)
      .values({ promptId, kind, step, data })
      .orUpdate(['step', 'data', 'created_at'], ['prompt_id', 'kind'])
      .execute();
  }

  async loadCheckpoint(promptId: string, kind: CheckpointKindValue): Promise<{ step: number; data: Buffer } | null> {
    const row = await this.m
      .createQueryBuilder(CheckpointRow, 'c')
      .addSelect('c.data')
      .where('c.prompt_id = :promptId AND c.kind = :kind', { promptId, kind })
      .getOne();
    return row ? { step: row.step, data: row.data } : null;
  }
}
