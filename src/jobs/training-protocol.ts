/** Messages between a training job (main thread) and its training thread. */
import type { StoredProgress, StoredTrainingOptions } from '../store/entities';
import type { GeneratorChain } from '../catalog/generator-chain';
import type { BackendPreference } from '../shared/config';
import type { AssetPolicy } from '../plugins/asset-policy';

export interface TrainingTerm {
  control: string;
  weight: number;
  params: unknown;
}

export interface TrainingThreadInput {
  promptId: string;
  chain: GeneratorChain;
  terms: TrainingTerm[];
  training: StoredTrainingOptions;
  backend: BackendPreference;
  dataDir: string;
  checkpointEvery: number;
  /** The latest checkpoint of this run, to resume from. */
  resume: Uint8Array | null;
  /** Calibration states fitted by an earlier attempt, by term index. */
  calibration: Record<string, unknown> | null;
  /** Samples used for the metrics after training. */
  evaluationSamples: number;
  /** Where params may point besides plugin packages (PROMPTGEN_ASSET_DIRS / PROMPTGEN_ASSET_URLS). */
  assets?: AssetPolicy;
}

export type ThreadMessage =
  | { type: 'started'; backend: string; resumedAt: number }
  | { type: 'calibrated'; calibration: Record<string, unknown> }
  | { type: 'progress'; progress: Omit<StoredProgress, 'at'> }
  | { type: 'preview'; step: number; width: number; height: number; pngs: Uint8Array[] }
  | { type: 'checkpoint'; step: number; data: Uint8Array }
  | { type: 'done'; step: number; flow: Uint8Array; metrics: Record<string, unknown> }
  | { type: 'cancelled'; step: number }
  | { type: 'failed'; error: string };

export type MainMessage = { type: 'cancel' };
