/**
 * One training job, on the main thread of a worker process: prepares what
 * the training thread needs from the database, runs the thread, and writes
 * what it reports (progress, previews, checkpoints, the trained flow) back to
 * the database and the event bus. A cancelled prompt stops the thread within
 * a poll interval; a killed process leaves its last checkpoint for the next
 * worker, which resumes from it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { Config } from '../config';
import type { Logger } from '../logger';
import { resolveGeneratorChain } from '../runtime/generator-chain';
import { ensurePluginVersions, PluginUnavailable } from '../runtime/plugin-sync';
import type { TensorRuntime } from '../runtime/tensor-runtime';
import { isTerminal, progressEventOf, type ProgressEvent } from '../services/prompts';
import { GeneratorRow, PromptRow, type StoredProgress } from '../store/entities';
import type { Store } from '../store/store';
import { topics, type EventBus } from './event-bus';
import type { TrainJob } from './queue';
import type { MainMessage, ThreadMessage, TrainingThreadInput } from './training-protocol';

export interface TrainingDeps {
  store: Store;
  events: EventBus;
  config: Config;
  runtime: TensorRuntime;
  log: Logger;
  /** Aborted when this worker shuts down: the thread stops and the job is left for a retry. */
  shutdown: AbortSignal;
}

const CANCEL_POLL_MS = 1000;

function threadScript(): string {
  const here = path.join(__dirname, 'training-thread.js');
  if (fs.existsSync(here)) return here;
  return path.resolve(__dirname, '../../dist/src/jobs/training-thread.js');
}

/** A failure that retrying will not fix (bad plugin, bad model): the prompt ends FAILED. */
class PermanentFailure extends Error {}

export async function runTrainingJob(job: TrainJob, deps: TrainingDeps): Promise<void> {
  const { store, log } = deps;
  const promptId = job.data.promptId;
  const prompt = await store.promptById(promptId);
  if (!prompt) {
    log.warn(`job ${job.id}: prompt ${promptId} no longer exists`);
    return;
  }
  if (isTerminal(prompt.status)) return;
  try {
    await ensurePluginVersions(prompt.pluginVersions, deps).catch((err) => {
      throw err instanceof PluginUnavailable ? new PermanentFailure(err.message) : err;
    });
    await runThread(prompt, job, deps);
  } catch (err) {
    if (err instanceof PermanentFailure) {
      await finish(deps, promptId, { status: 'FAILED', error: err.message });
      return;
    }
    throw err; // pg-boss retries; training resumes from the last checkpoint
  }
}

async function runThread(prompt: PromptRow, job: TrainJob, deps: TrainingDeps): Promise<void> {
  const { store, events, config, log } = deps;
  const generator = await store.generatorById(prompt.generatorId);
  if (!generator) throw new PermanentFailure('the generator of this prompt no longer exists');
  let chain;
  try {
    chain = await resolveGeneratorChain(store, generator);
  } catch (err) {
    throw new PermanentFailure((err as Error).message);
  }
  const checkpoint = await store.loadCheckpoint(prompt.id, 'PROGRESS');
  const input: TrainingThreadInput = {
    promptId: prompt.id,
    chain,
    terms: prompt.controls.map((c) => ({ control: c.controlName, weight: c.weight, params: c.params })),
    training: prompt.training,
    backend: config.backend,
    dataDir: config.dataDir,
    checkpointEvery: config.checkpointEvery,
    resume: checkpoint ? new Uint8Array(checkpoint.data) : null,
    calibration: prompt.calibration,
    evaluationSamples: config.evaluationSamples,
  };
  const started = await store.dataSource.manager
    .createQueryBuilder()
    .update(PromptRow)
    .set({ status: 'TRAINING', startedAt: () => 'COALESCE(started_at, now())', attempts: () => 'attempts + 1', error: null })
    .where('id = :id AND status IN (:...live)', { id: prompt.id, live: ['QUEUED', 'TRAINING'] })
    .execute();
  if (!started.affected) return; // cancelled meanwhile
  await publish(deps, prompt.id);
  if (checkpoint) log.info(`prompt ${prompt.id}: resuming from step ${checkpoint.step}`);
  else log.info(`prompt ${prompt.id}: training ${prompt.training.steps} steps`);

  const worker = new Worker(threadScript(), { workerData: input, transferList: input.resume ? [input.resume.buffer as ArrayBuffer] : [] });
  let outcome: 'done' | 'cancelled' | 'failed' | 'stopped' | null = null;
  let failure: string | null = null;
  let writes = Promise.resolve();
  const enqueueWrite = (work: () => Promise<void>) => {
    writes = writes.then(work).catch((err) => log.error(`prompt ${prompt.id}: writing training output failed: ${err}`));
  };
  const cancel = () => worker.postMessage({ type: 'cancel' } satisfies MainMessage);

  // Cancellation from any replica lands in the database; poll it (and honour pg-boss's own signal).
  let stopping = false;
  const poll = setInterval(async () => {
    try {
      const row = await store.promptById(prompt.id);
      if (!row || row.status === 'CANCELLED') cancel();
    } catch {
      /* next poll */
    }
  }, CANCEL_POLL_MS);
  const onAbort = () => cancel();
  const onShutdown = () => {
    stopping = true;
    cancel();
  };
  job.signal.addEventListener('abort', onAbort);
  deps.shutdown.addEventListener('abort', onShutdown);

  await new Promise<void>((resolve) => {
    worker.on('message', (msg: ThreadMessage) => {
      switch (msg.type) {
        case 'started':
          log.debug(`prompt ${prompt.id}: thread started on ${msg.backend}`);
          break;
        case 'calibrated':
          enqueueWrite(async () => {
            await store.dataSource.manager
              .createQueryBuilder()
              .update(PromptRow)
              .set({ calibration: () => ':calibration' })
              .setParameter('calibration', JSON.stringify(msg.calibration))
              .where('id = :id', { id: prompt.id })
              .execute();
          });
          break;
        case 'progress': {
          const progress: StoredProgress = { ...msg.progress, at: new Date().toISOString() };
          enqueueWrite(async () => {
            await store.recordProgress(prompt.id, progress);
            const event: ProgressEvent = { promptId: prompt.id, status: 'TRAINING', progress };
            await events.publish(topics.progress(prompt.id), event);
          });
          break;
        }
        case 'preview':
          enqueueWrite(async () => {
            const set = await store.saveSampleSet(
              { promptId: prompt.id, generatorId: prompt.generatorId, kind: 'PREVIEW', step: msg.step, seed: prompt.training.seed, truncation: 1, condition: null, count: msg.pngs.length },
              msg.pngs.map((png) => ({ png: Buffer.from(png), width: msg.width, height: msg.height })),
            );
            await events.publish(topics.samples(prompt.id), { sampleSetId: set.id });
          });
          break;
        case 'checkpoint':
          enqueueWrite(() => store.saveCheckpoint(prompt.id, 'PROGRESS', msg.step, Buffer.from(msg.data)));
          break;
        case 'done':
          outcome = 'done';
          enqueueWrite(async () => {
            await store.saveCheckpoint(prompt.id, 'FINAL', msg.step, Buffer.from(msg.flow));
            await store.dataSource.transaction(async (tx) => {
              const exists = await tx.findOneBy(GeneratorRow, { basePromptId: prompt.id });
              if (!exists) {
                await tx.insert(GeneratorRow, {
                  name: `prompt-${prompt.id}`,
                  title: prompt.name ? `${prompt.name} (trained prompt)` : `Trained prompt ${prompt.id.slice(0, 8)}`,
                  description: `${generator.title} steered by ${prompt.controls.map((c) => c.controlName).join(' + ')}`,
                  latentDim: generator.latentDim,
                  width: generator.width,
                  height: generator.height,
                  channels: generator.channels,
                  pluginId: null,
                  basePromptId: prompt.id,
                  available: true,
                });
              }
            });
            await finish(deps, prompt.id, { status: 'SUCCEEDED', metrics: msg.metrics });
          });
          break;
        case 'cancelled':
          outcome = stopping ? 'stopped' : 'cancelled';
          break;
        case 'failed':
          outcome = 'failed';
          failure = msg.error;
          break;
      }
    });
    worker.on('error', (err) => {
      outcome ??= 'failed';
      failure ??= err.message;
    });
    worker.on('exit', () => resolve());
  });
  clearInterval(poll);
  job.signal.removeEventListener('abort', onAbort);
  deps.shutdown.removeEventListener('abort', onShutdown);
  await writes;

  if (outcome === 'failed') throw new PermanentFailure(`training failed: ${failure}`);
  if (outcome === 'stopped') throw new Error('worker shut down during training; the job will resume from its last checkpoint');
  if (outcome === null) throw new Error('the training thread exited without a result');
}

async function finish(
  deps: TrainingDeps,
  promptId: string,
  end: { status: 'SUCCEEDED' | 'FAILED'; error?: string; metrics?: Record<string, unknown> },
): Promise<void> {
  const result = await deps.store.dataSource.manager
    .createQueryBuilder()
    .update(PromptRow)
    .set({ status: end.status, error: end.error ?? null, metrics: end.metrics ?? null, finishedAt: () => 'now()' })
    .where('id = :id AND status IN (:...live)', { id: promptId, live: ['QUEUED', 'TRAINING'] })
    .execute();
  if (result.affected) {
    if (end.status === 'FAILED') deps.log.warn(`prompt ${promptId} failed: ${end.error}`);
    else deps.log.info(`prompt ${promptId} succeeded`);
    await publish(deps, promptId);
  }
}

async function publish(deps: TrainingDeps, promptId: string): Promise<void> {
  const row = await deps.store.promptById(promptId);
  if (row) await deps.events.publish(topics.progress(promptId), progressEventOf(row));
}
