/**
 * How many trainings one process runs at once.
 *
 * Each training is a worker thread that keeps one core busy (TF.js on wasm is
 * single-threaded; OpenBLAS gets PROMPTGEN_BLAS_THREADS threads, 1 by
 * default). More trainings than cores do not add throughput: they time-slice
 * the same cores, each step gets slower, and the API's own thread has to
 * compete with all of them for a core. So the process runs at most
 *
 *   slots = ⌊(cores − reserved) / blasThreads⌋   (at least 1)
 *
 * trainings, where `reserved` is 1 for `serve` (a core kept for the GraphQL
 * API) and 0 for `worker`. PROMPTGEN_WORKERS asks for a concurrency;
 * PROMPTGEN_TRAINING_THREADS overrides the slot count. Jobs beyond it stay
 * queued (pg-boss fetches only as many as run), so another worker process
 * can take them. Measured with scripts/bench-concurrency.js (docs/PERFORMANCE.md).
 */
import * as os from 'node:os';

export interface ConcurrencyInput {
  /** PROMPTGEN_WORKERS. */
  requested: number;
  /** PROMPTGEN_TRAINING_THREADS, undefined for automatic. */
  trainingThreads?: number;
  blasThreads: number;
  /** true in `serve` (the API shares the process), false in `worker`. */
  serving: boolean;
  cores?: number;
}

export function cpuCores(): number {
  return typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
}

/** Training slots of this process for the configured machine. */
export function trainingSlots(input: Omit<ConcurrencyInput, 'requested'>): number {
  if (input.trainingThreads !== undefined) return Math.max(1, input.trainingThreads);
  const cores = input.cores ?? cpuCores();
  const reserved = input.serving ? 1 : 0;
  return Math.max(1, Math.floor((cores - reserved) / Math.max(1, input.blasThreads)));
}

/** Trainings to run at once: what was asked for, capped by the slots. */
export function effectiveConcurrency(input: ConcurrencyInput): number {
  return Math.max(1, Math.min(input.requested, trainingSlots(input)));
}
