/**
 * The sweep for prompts nobody will finish: a prompt QUEUED or TRAINING whose
 * training job has ended (failed its last retry, completed, cancelled, or was
 * deleted) would otherwise show TRAINING for ever. The job's last attempt
 * normally marks its prompt FAILED itself; this catches the cases where it
 * could not (the database was away at that moment, the worker was killed).
 * Every process with a queue runs it; the update only touches live prompts,
 * so replicas sweeping at once do no harm.
 */
import type { Logger } from '../shared/logger';
import type { Store } from '../store/store';
import type { EventBus } from '../events/event-bus';
import type { JobQueue } from './queue';
import { finish } from './training-job';

export const SWEEP_EVERY_MS = 30_000;

export async function sweepStuckPrompts(deps: {
  store: Store;
  events: EventBus;
  log: Logger;
  queue: JobQueue;
}): Promise<number> {
  let ended = 0;
  for (const prompt of await deps.store.livePrompts()) {
    if (!prompt.jobId) continue;
    if ((await deps.queue.jobFate(prompt.jobId)) === 'live') continue;
    deps.log.warn(
      `prompt ${prompt.id} was ${prompt.status} but its job ${prompt.jobId} has ended: marking it FAILED`,
    );
    await finish(deps, prompt.id, {
      status: 'FAILED',
      error: 'training gave up: its job ended without finishing the prompt',
    });
    ended += 1;
  }
  return ended;
}

/** Sweeps now and every SWEEP_EVERY_MS; returns the function that stops it. */
export function startStuckPromptSweep(
  deps: Parameters<typeof sweepStuckPrompts>[0],
  everyMs = SWEEP_EVERY_MS,
): () => Promise<void> {
  let running: Promise<unknown> = Promise.resolve();
  const tick = () => {
    running = sweepStuckPrompts(deps).catch((err) =>
      deps.log.debug(`stuck-prompt sweep skipped: ${(err as Error).message}`),
    );
  };
  const timer = setInterval(tick, everyMs);
  timer.unref();
  tick();
  return async () => {
    clearInterval(timer);
    await running;
  };
}
