/**
 * How many trainings one process runs at once.
 *
 * Each training is a worker thread that keeps one core busy (TF.js on wasm is
 * single-threaded) and, during its matrix products, OpenBLAS threads. Unless
 * PROMPTGEN_BLAS_THREADS fixes their count, the running trainings share the
 * cores for those (⌊cores / trainings⌋ threads each, native/src/threads.c):
 * one training alone multiplies on every core, N trainings never ask for more
 * product threads than cores. More trainings than cores do not add
 * throughput: they time-slice the same cores and the API's own thread has to
 * compete with all of them. So the process runs at most
 *
 *   slots = ⌊(cores − reserved) / blasThreads⌋   (at least 1; blasThreads 1 when shared)
 *
 * trainings, where `reserved` is 1 for `serve` beyond 2 cores (a core kept
 * for the GraphQL API) and 0 otherwise. On 2 cores the reserve would halve
 * the training capacity: there two prompts side by side did 1.37× the steps
 * of one with the API's p99 at 151 ms, against 0.96× (one waiting) with the
 * reserve (docs/PERFORMANCE.md); beyond that it costs at most a third, and
 * from 4 cores a quarter or less. PROMPTGEN_WORKERS asks for a concurrency;
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
  /** PROMPTGEN_BLAS_THREADS; undefined where the trainings share the cores (then each can go down to one). */
  blasThreads?: number;
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
  const reserved = input.serving && cores > 2 ? 1 : 0;
  return Math.max(1, Math.floor((cores - reserved) / Math.max(1, input.blasThreads ?? 1)));
}

/** Trainings to run at once: what was asked for, capped by the slots. */
export function effectiveConcurrency(input: ConcurrencyInput): number {
  return Math.max(1, Math.min(input.requested, trainingSlots(input)));
}
