/**
 * A prompt's status vocabulary and the one table of the moves between
 * statuses, shared by the layers that write it (the store's transitions, the
 * training job) and those that read it (the prompt service, the GraphQL
 * subscription). It sits in the store, below all of them, so that none has to
 * import another sideways or upwards for it.
 *
 *   QUEUED ──▶ TRAINING ──▶ SUCCEEDED | FAILED | CANCELLED
 *      └────────────────────▶ SUCCEEDED | FAILED | CANCELLED
 *
 * TRAINING → TRAINING is a move too: a retried or resumed job starts again.
 * The three ends are final: nothing moves a prompt out of them.
 */
import type { PromptRow, PromptStatusValue, StoredProgress } from './entities';

/** Where each status may go next. The store's UPDATEs take their `status IN (...)` guard from it. */
const MOVES: Readonly<Record<PromptStatusValue, readonly PromptStatusValue[]>> = {
  QUEUED: ['TRAINING', 'SUCCEEDED', 'FAILED', 'CANCELLED'],
  TRAINING: ['TRAINING', 'SUCCEEDED', 'FAILED', 'CANCELLED'],
  SUCCEEDED: [],
  FAILED: [],
  CANCELLED: [],
};

/** The statuses of a prompt whose training is still to come or under way. */
export const LIVE_STATUSES: readonly PromptStatusValue[] = ['QUEUED', 'TRAINING'];

/** True once a prompt can change no more: it succeeded, failed or was cancelled. */
export const isTerminal = (status: string) =>
  (MOVES as Record<string, readonly string[]>)[status]?.length === 0;

/** True when a prompt in `from` may be moved to `to`. */
export const canMove = (from: PromptStatusValue, to: PromptStatusValue) => MOVES[from].includes(to);

/** Every status from which a prompt may move to `to` (what an UPDATE to `to` must find). */
export function statusesBefore(to: PromptStatusValue): PromptStatusValue[] {
  return (Object.keys(MOVES) as PromptStatusValue[]).filter((from) => canMove(from, to));
}

/** The progress event every subscriber receives (small: fits in a NOTIFY). */
export interface ProgressEvent {
  promptId: string;
  status: string;
  progress: StoredProgress;
}

/** The prompt's status with its latest progress (step 0 before the first reported step). */
export function progressEventOf(row: PromptRow): ProgressEvent {
  const progress: StoredProgress = row.progress ?? {
    step: 0,
    totalSteps: row.training.steps,
    loss: null,
    logDet: null,
    energies: [],
    stepsPerSecond: null,
    etaSeconds: null,
    at: row.createdAt.toISOString(),
  };
  return { promptId: row.id, status: row.status, progress };
}
