/**
 * A prompt's status vocabulary, shared by the layers that write it (the
 * training job) and those that read it (the prompt service, the GraphQL
 * subscription). It sits in the store, below all of them, so that none has to
 * import another sideways or upwards for it.
 */
import type { PromptRow, StoredProgress } from './entities';

const TERMINAL = new Set(['SUCCEEDED', 'FAILED', 'CANCELLED']);
/** True once a prompt can change no more: it succeeded, failed or was cancelled. */
export const isTerminal = (status: string) => TERMINAL.has(status);

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
