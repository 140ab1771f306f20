/**
 * The training queue on pg-boss: jobs live in PostgreSQL next to the prompts,
 * so enqueueing can share the prompt's transaction, and any worker pointed at
 * the same database can take them. pg-boss sends heartbeats while a handler
 * runs; a worker that dies stops them and the job is retried elsewhere
 * (training resumes from the prompt's last checkpoint).
 */
import type { PgBoss as PgBossType } from 'pg-boss' with { 'resolution-mode': 'import' };

export const TRAIN_QUEUE = 'promptgen-train';

export interface TrainJobData {
  promptId: string;
}

export interface TrainJob {
  id: string;
  data: TrainJobData;
  /** How many earlier attempts this job had (0 on the first). */
  retryCount: number;
  /** True on the last attempt pg-boss will make: a failure now is final. */
  finalAttempt: boolean;
  /** Aborted when pg-boss no longer considers this worker the job's owner (e.g. cancelled). */
  signal: AbortSignal;
}

/** Runs SQL on the caller's transaction, so the job commits or rolls back with it. */
export type ExecuteSql = (text: string, values?: unknown[]) => Promise<{ rows: unknown[] }>;

export interface QueueOptions {
  url: string;
  heartbeatSeconds: number;
  /** Pool size of pg-boss's own connections. */
  poolSize?: number;
  onError: (err: Error) => void;
}

/**
 * Attempts per training job after the first. With exponential backoff from 1 s
 * capped at RETRY_DELAY_MAX_SECONDS they span about a quarter of an hour, so a
 * database restart or a short outage does not use them all up.
 */
export const RETRY_LIMIT = 20;
const RETRY_DELAY_MAX_SECONDS = 60;

/** Where a job stands, as far as a prompt still waiting on it is concerned. */
export type JobFate = 'live' | 'gone';

export class JobQueue {
  private constructor(private readonly boss: PgBossType) {}

  static async start(options: QueueOptions): Promise<JobQueue> {
    // pg-boss is ESM-only; a dynamic import loads it from this CommonJS build.
    const { PgBoss } = await import('pg-boss');
    // Supervise (and so reclaim jobs whose heartbeat stopped) at the heartbeat's own pace.
    const supervise = Math.max(1, Math.floor(options.heartbeatSeconds / 2));
    const boss = new PgBoss({
      connectionString: options.url,
      max: options.poolSize ?? 4,
      schema: 'pgboss',
      superviseIntervalSeconds: supervise,
      monitorIntervalSeconds: supervise,
    });
    boss.on('error', options.onError);
    await boss.start();
    const queue = {
      heartbeatSeconds: options.heartbeatSeconds,
      // Training can be long; liveness comes from heartbeats, not from a deadline.
      expireInSeconds: 24 * 3600, // pg-boss maximum
      retryLimit: RETRY_LIMIT,
      retryDelay: 1,
      retryBackoff: true,
      retryDelayMax: RETRY_DELAY_MAX_SECONDS,
    };
    const existing = await boss.getQueue(TRAIN_QUEUE);
    if (!existing) await boss.createQueue(TRAIN_QUEUE, queue);
    else await boss.updateQueue(TRAIN_QUEUE, queue);
    return new JobQueue(boss);
  }

  /** Enqueues a training job inside the caller's transaction; returns the job id. */
  async enqueueTraining(data: TrainJobData, executeSql: ExecuteSql): Promise<string> {
    const id = await this.boss.send(TRAIN_QUEUE, data, { db: { executeSql } });
    if (!id) throw new Error('the queue refused the training job');
    return id;
  }

  /** Starts `concurrency` local consumers of training jobs. */
  async work(concurrency: number, handler: (job: TrainJob) => Promise<void>): Promise<string> {
    return this.boss.work<TrainJobData>(
      TRAIN_QUEUE,
      { localConcurrency: concurrency, batchSize: 1, pollingIntervalSeconds: 1 },
      async ([job]) =>
        handler({
          id: job.id,
          data: job.data,
          signal: job.signal,
          retryCount: job.retryCount,
          finalAttempt: job.retryCount >= RETRY_LIMIT,
        }),
    );
  }

  /**
   * 'gone' when no worker will ever run this job again: it failed its last
   * retry, was cancelled or completed, or no longer exists. A prompt still
   * QUEUED or TRAINING on such a job is stuck and must be ended.
   */
  async jobFate(jobId: string): Promise<JobFate> {
    const [job] = await this.boss.findJobs(TRAIN_QUEUE, { id: jobId });
    if (!job) return 'gone';
    return job.state === 'created' || job.state === 'retry' || job.state === 'active' ? 'live' : 'gone';
  }

  async cancel(jobId: string): Promise<void> {
    await this.boss.cancel(TRAIN_QUEUE, jobId);
  }

  async offWork(workerId: string): Promise<void> {
    await this.boss.offWork(TRAIN_QUEUE, { id: workerId, wait: true });
  }

  async stop(graceful = true, timeoutMs = 10_000): Promise<void> {
    await this.boss.stop({ graceful, timeout: timeoutMs });
  }
}
