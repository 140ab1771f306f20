/**
 * Prompts: reading them, their progress history and checkpoints, and every
 * change of their status. Each transition is one guarded UPDATE whose
 * `status IN (...)` comes from the table in prompt-status.ts, so two
 * replicas racing (a cancel against a finish, two workers on one retried
 * job) cannot move a prompt along a path that table forbids: the loser's
 * UPDATE finds no row and the method says so.
 */
import { In } from 'typeorm';
import {
  CheckpointRow,
  GeneratorRow,
  ProgressPointRow,
  PromptRow,
  type CheckpointKindValue,
  type PromptStatusValue,
  type StoredProgress,
} from './entities';
import { keysetPage, type Page } from './pagination';
import { canMove, LIVE_STATUSES, statusesBefore } from './prompt-status';
import { Queries, type ExecuteSql } from './queries';

/** What a new prompt is created with (it always starts QUEUED). */
export type NewPrompt = Pick<PromptRow, 'name' | 'generatorId' | 'controls' | 'training' | 'pluginVersions'>;

/** How a prompt's training ended on its own (cancelling is `cancelPrompt`). */
export interface PromptEnd {
  status: 'SUCCEEDED' | 'FAILED';
  error?: string | null;
  metrics?: Record<string, unknown> | null;
}

/** The generator a succeeded prompt becomes (its base generator steered by its controls). */
export type TrainedGenerator = Pick<
  GeneratorRow,
  'name' | 'title' | 'description' | 'latentDim' | 'width' | 'height' | 'channels'
>;

export class PromptQueries extends Queries {
  // --- reading ---------------------------------------------------------------

  promptById(id: string): Promise<PromptRow | null> {
    return this.m.findOneBy(PromptRow, { id });
  }

  /** Prompts still waiting on their training job (QUEUED or TRAINING), oldest first. */
  livePrompts(): Promise<Array<Pick<PromptRow, 'id' | 'jobId' | 'status'>>> {
    return this.m.find(PromptRow, {
      select: { id: true, jobId: true, status: true },
      where: { status: In([...LIVE_STATUSES]) },
      order: { createdAt: 'ASC' },
    });
  }

  /** How many prompts are QUEUED or TRAINING now. */
  countLivePrompts(): Promise<number> {
    return this.m.count(PromptRow, { where: { status: In([...LIVE_STATUSES]) } });
  }

  async listPrompts(opts: {
    first: number;
    after?: string | null;
    status?: PromptStatusValue | null;
  }): Promise<Page<PromptRow>> {
    const base = this.m.createQueryBuilder(PromptRow, 'p');
    if (opts.status) base.where('p.status = :status', { status: opts.status });
    const totalCount = await base.clone().getCount();
    return keysetPage(base, 'p', opts.first, opts.after ?? null, totalCount);
  }

  progressHistory(promptId: string): Promise<ProgressPointRow[]> {
    return this.m.find(ProgressPointRow, { where: { promptId }, order: { step: 'ASC' } });
  }

  // --- status transitions ---------------------------------------------------------

  /**
   * Records a prompt QUEUED together with its training job, in one
   * transaction: `enqueue` gets the new prompt's id and the transaction's SQL
   * runner (for pg-boss's `send`) and returns the job id. No prompt without a job, no job without a prompt.
   */
  createQueuedPrompt(
    fields: NewPrompt,
    enqueue: (promptId: string, executeSql: ExecuteSql) => Promise<string>,
  ): Promise<PromptRow> {
    return this.m.transaction(async (tx) => {
      const saved = await tx.save(PromptRow, tx.create(PromptRow, { ...fields, status: 'QUEUED' }));
      const runner = tx.queryRunner!;
      const jobId = await enqueue(saved.id, async (text, values) => {
        const rows = await runner.query(text, values ?? []);
        return { rows: Array.isArray(rows) ? rows : [] };
      });
      await tx.update(PromptRow, { id: saved.id }, { jobId });
      saved.jobId = jobId;
      return saved;
    });
  }

  /**
   * QUEUED or TRAINING → TRAINING, counting the attempt (a retry or a resume
   * starts again; `started_at` keeps the first start). False when the prompt
   * ended meanwhile (e.g. it was cancelled).
   */
  async startTraining(promptId: string): Promise<boolean> {
    const result = await this.m
      .createQueryBuilder()
      .update(PromptRow)
      .set({
        status: 'TRAINING',
        startedAt: () => 'COALESCE(started_at, now())',
        attempts: () => 'attempts + 1',
        error: null,
      })
      .where('id = :id AND status IN (:...from)', { id: promptId, from: statusesBefore('TRAINING') })
      .execute();
    return Boolean(result.affected);
  }

  /** Ends a QUEUED or TRAINING prompt. False when it had ended already (it is left as it was). */
  async finishPrompt(promptId: string, end: PromptEnd): Promise<boolean> {
    const result = await this.m
      .createQueryBuilder()
      .update(PromptRow)
      .set({
        status: end.status,
        error: end.error ?? null,
        metrics: end.metrics ?? null,
        finishedAt: () => 'now()',
      })
      .where('id = :id AND status IN (:...from)', { id: promptId, from: statusesBefore(end.status) })
      .execute();
    return Boolean(result.affected);
  }

  /**
   * Moves a QUEUED or TRAINING prompt to CANCELLED. The row comes back as it
   * is afterwards (null when unknown); `changed` is false when it had ended already.
   */
  cancelPrompt(promptId: string): Promise<{ row: PromptRow | null; changed: boolean }> {
    return this.m.transaction(async (tx) => {
      const found = await tx.findOne(PromptRow, {
        where: { id: promptId },
        lock: { mode: 'pessimistic_write' },
      });
      if (!found || !canMove(found.status, 'CANCELLED')) return { row: found, changed: false };
      found.status = 'CANCELLED';
      found.finishedAt = new Date();
      await tx.update(PromptRow, { id: found.id }, { status: 'CANCELLED', finishedAt: found.finishedAt });
      return { row: found, changed: true };
    });
  }

  // --- what training writes -------------------------------------------------------

  /** The control calibration fitted at the start of training (reused on resume). */
  async saveCalibration(promptId: string, calibration: Record<string, unknown>): Promise<void> {
    await this.m
      .createQueryBuilder()
      .update(PromptRow)
      .set({ calibration: () => ':calibration' })
      .setParameter('calibration', JSON.stringify(calibration))
      .where('id = :id', { id: promptId })
      .execute();
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

  /** Adds the generator a trained prompt offers, once (a retried write finds it there). */
  async addTrainedGenerator(promptId: string, generator: TrainedGenerator): Promise<void> {
    await this.m.transaction(async (tx) => {
      if (await tx.findOneBy(GeneratorRow, { basePromptId: promptId })) return;
      await tx.insert(GeneratorRow, {
        ...generator,
        pluginId: null,
        basePromptId: promptId,
        available: true,
      });
    });
  }

  // --- checkpoints -----------------------------------------------------------------

  /** One checkpoint per prompt and kind: a newer one replaces it. */
  saveCheckpoint(promptId: string, kind: CheckpointKindValue, step: number, data: Buffer): Promise<void> {
    return this.upsert(
      CheckpointRow,
      { promptId, kind, step, data },
      ['step', 'data', 'created_at'],
      ['prompt_id', 'kind'],
    );
  }

  async loadCheckpoint(
    promptId: string,
    kind: CheckpointKindValue,
  ): Promise<{ step: number; data: Buffer } | null> {
    const row = await this.m
      .createQueryBuilder(CheckpointRow, 'c')
      .addSelect('c.data')
      .where('c.prompt_id = :promptId AND c.kind = :kind', { promptId, kind })
      .getOne();
    return row ? { step: row.step, data: row.data } : null;
  }
}
