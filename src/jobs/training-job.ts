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
import type { Config } from '../shared/config';
import type { Logger } from '../shared/logger';
import { publicMessage, scrubText } from '../shared/public-error';
import { resolveGeneratorChain } from '../catalog/generator-chain';
import { ensurePluginVersions, PluginUnavailable } from '../catalog/plugin-sync';
import type { TensorRuntime } from '../plugins/tensor-runtime';
import { isTerminal, progressEventOf, type ProgressEvent } from '../store/prompt-status';
import type { PromptRow, StoredProgress } from '../store/entities';
import type { Store } from '../store/store';
import { topics, type EventBus } from '../events/event-bus';
import { OutputWriter } from './output-writer';
import type { TrainJob } from './queue';
import { isDiskFull, type WriteHealth } from './write-health';
import type { MainMessage, ThreadMessage, TrainingThreadInput } from './training-protocol';

export interface TrainingDeps {
  store: Store;
  events: EventBus;
  config: Config;
  runtime: TensorRuntime;
  log: Logger;
  /** Aborted when this worker shuts down: the thread stops and the job is left for a retry. */
  shutdown: AbortSignal;
  /** Told about every output write, for readiness. */
  writeHealth?: WriteHealth;
}

const CANCEL_POLL_MS = 1000;
/**
 * Output writes waiting for the database at most: at one progress point per
 * step this is minutes of training; beyond it the job stops and resumes from
 * its last stored checkpoint later, rather than hold ever more in memory.
 */
const MAX_PENDING_WRITES = 5_000;
/** A write retried this long through an outage is given up (then the job retries). */
const WRITE_GIVE_UP_MS = 60_000;
/** A full disk rarely clears within seconds; the prompt then ends FAILED, saying so. */
const DISK_FULL_GIVE_UP_MS = 10_000;
/** On shutdown, buffered writes get this long to land before they are dropped (the job resumes from its checkpoint). */
const SHUTDOWN_WRITE_WAIT_MS = 5_000;

function threadScript(): string {
  const here = path.join(__dirname, 'training-thread.js');
  if (fs.existsSync(here)) return here;
  return path.resolve(__dirname, '../../dist/src/jobs/training-thread.js');
}

/** A failure that retrying will not fix (bad plugin, bad model, a full disk): the prompt ends FAILED. */
class PermanentFailure extends Error {}

/** A retryable failure whose text is fit for the prompt's public error when the retries run out. */
class ReadableFailure extends Error {}

export async function runTrainingJob(job: TrainJob, deps: TrainingDeps): Promise<void> {
  const { store, log } = deps;
  const promptId = job.data.promptId;
  try {
    const prompt = await store.promptById(promptId);
    if (!prompt) {
      log.warn(`job ${job.id}: prompt ${promptId} no longer exists`);
      return;
    }
    if (isTerminal(prompt.status)) return;
    await ensurePluginVersions(prompt.pluginVersions, deps).catch((err) => {
      throw err instanceof PluginUnavailable ? new PermanentFailure(err.message) : err;
    });
    await runThread(prompt, job, deps);
  } catch (err) {
    if (err instanceof PermanentFailure) {
      await finish(deps, promptId, { status: 'FAILED', error: err.message });
      return;
    }
    const message = (err as Error)?.message ?? String(err);
    // A shutdown is no failure of the job, even on its last attempt: another worker resumes it.
    if (!job.finalAttempt || deps.shutdown.aborted) {
      log.warn(
        `prompt ${promptId}: attempt ${job.retryCount + 1} failed, the job will be retried: ${message}`,
      );
      throw err; // pg-boss retries; training resumes from the last checkpoint
    }
    // The last attempt: end the prompt FAILED rather than leave it TRAINING for ever. If even
    // that write fails (the database is still away), the stuck-prompt sweep ends it later.
    log.error(
      `prompt ${promptId}: job ${job.id} failed its last attempt (${job.retryCount + 1}): ${message}`,
    );
    const reason = err instanceof ReadableFailure ? message : 'the training job kept failing';
    await finish(deps, promptId, {
      status: 'FAILED',
      error: `training gave up after ${job.retryCount + 1} attempts: ${reason}`,
    });
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
    assets: { dirs: config.security.assetDirs, urlPrefixes: config.security.assetUrlPrefixes },
  };
  if (!(await store.startTraining(prompt.id))) return; // cancelled meanwhile
  await publish(deps, prompt.id);
  if (checkpoint) log.info(`prompt ${prompt.id}: resuming from step ${checkpoint.step}`);
  else log.info(`prompt ${prompt.id}: training ${prompt.training.steps} steps`);

  const worker = new Worker(threadScript(), {
    workerData: input,
    transferList: input.resume ? [input.resume.buffer as ArrayBuffer] : [],
  });
  let outcome: 'done' | 'cancelled' | 'failed' | 'stopped' | null = null;
  let failure: string | null = null;
  const cancel = () => worker.postMessage({ type: 'cancel' } satisfies MainMessage);
  // Output is retried through outages; once a write is given up the thread is stopped: there is a hole.
  const writer = new OutputWriter({
    maxPending: MAX_PENDING_WRITES,
    giveUpAfterMs: WRITE_GIVE_UP_MS,
    giveUpSoonerFor: { matches: isDiskFull, afterMs: DISK_FULL_GIVE_UP_MS },
    health: deps.writeHealth,
    onRetry: (label, err, attempt) => {
      if (attempt === 1) log.warn(`prompt ${prompt.id}: writing ${label} failed, retrying: ${err.message}`);
    },
    onFailure: (err) => {
      log.error(`prompt ${prompt.id}: ${err.message}; stopping the training`);
      cancel();
    },
  });
  const enqueueWrite = (label: string, work: () => Promise<void>) => writer.enqueue(label, work);

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
          enqueueWrite('the calibration', () => store.saveCalibration(prompt.id, msg.calibration));
          break;
        case 'progress': {
          const progress: StoredProgress = { ...msg.progress, at: new Date().toISOString() };
          enqueueWrite(`progress of step ${msg.progress.step}`, async () => {
            await store.recordProgress(prompt.id, progress);
            const event: ProgressEvent = { promptId: prompt.id, status: 'TRAINING', progress };
            await events.publish(topics.progress(prompt.id), event);
          });
          break;
        }
        case 'preview':
          enqueueWrite(`the preview of step ${msg.step}`, async () => {
            const set = await store.saveSampleSet(
              {
                promptId: prompt.id,
                generatorId: prompt.generatorId,
                kind: 'PREVIEW',
                step: msg.step,
                seed: prompt.training.seed,
                truncation: 1,
                condition: null,
                count: msg.pngs.length,
              },
              msg.pngs.map((png) => ({ png: Buffer.from(png), width: msg.width, height: msg.height })),
            );
            await events.publish(topics.samples(prompt.id), { sampleSetId: set.id });
          });
          break;
        case 'checkpoint':
          enqueueWrite(`the checkpoint of step ${msg.step}`, () =>
            store.saveCheckpoint(prompt.id, 'PROGRESS', msg.step, Buffer.from(msg.data)),
          );
          break;
        case 'done':
          outcome = 'done';
          enqueueWrite('the trained flow', async () => {
            await store.saveCheckpoint(prompt.id, 'FINAL', msg.step, Buffer.from(msg.flow));
            await store.addTrainedGenerator(prompt.id, {
              name: `prompt-${prompt.id}`,
              title: prompt.name
                ? `${prompt.name} (trained prompt)`
                : `Trained prompt ${prompt.id.slice(0, 8)}`,
              description: `${generator.title} steered by ${prompt.controls.map((c) => c.controlName).join(' + ')}`,
              latentDim: generator.latentDim,
              width: generator.width,
              height: generator.height,
              channels: generator.channels,
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
      failure ??= publicMessage(err, { error: (m) => log.error(m) }, `prompt ${prompt.id}`);
    });
    worker.on('exit', () => resolve());
  });
  clearInterval(poll);
  job.signal.removeEventListener('abort', onAbort);
  deps.shutdown.removeEventListener('abort', onShutdown);
  const giveUp = stopping
    ? setTimeout(
        () => writer.abort('the worker shut down with training output unwritten'),
        SHUTDOWN_WRITE_WAIT_MS,
      )
    : null;
  await writer.drain();
  if (giveUp) clearTimeout(giveUp);

  const lost = writer.failed;
  if (lost && !stopping) {
    // Never SUCCEEDED with output missing. A full disk will not clear by itself within
    // the retries: say so now. Anything else (an outage) retries from the last checkpoint.
    if (isDiskFull(lost.cause)) {
      throw new PermanentFailure(
        'the server ran out of disk space while storing the training output (no space left on device)',
      );
    }
    throw new ReadableFailure('its output could not be written to the database');
  }
  if (outcome === 'failed') throw new PermanentFailure(`training failed: ${failure}`);
  if (outcome === 'stopped')
    throw new Error('worker shut down during training; the job will resume from its last checkpoint');
  if (outcome === null) throw new Error('the training thread exited without a result');
}

/** Ends a QUEUED or TRAINING prompt (a prompt already ended is left as it is). */
export async function finish(
  deps: Pick<TrainingDeps, 'store' | 'events' | 'log'>,
  promptId: string,
  end: { status: 'SUCCEEDED' | 'FAILED'; error?: string; metrics?: Record<string, unknown> },
): Promise<void> {
  const ended = await deps.store.finishPrompt(promptId, {
    status: end.status,
    error: end.error ? scrubText(end.error) : null,
    metrics: end.metrics,
  });
  if (ended) {
    if (end.status === 'FAILED') deps.log.warn(`prompt ${promptId} failed: ${end.error}`);
    else deps.log.info(`prompt ${promptId} succeeded`);
    // The end is stored: a failed notification must not undo or repeat it. Subscribers
    // read the stored state when they subscribe and again when the bus reconnects.
    await publish(deps, promptId).catch((err) =>
      deps.log.warn(`prompt ${promptId}: announcing its end failed: ${(err as Error).message}`),
    );
  }
}

async function publish(deps: Pick<TrainingDeps, 'store' | 'events'>, promptId: string): Promise<void> {
  const row = await deps.store.promptById(promptId);
  if (row) await deps.events.publish(topics.progress(promptId), progressEventOf(row));
}
