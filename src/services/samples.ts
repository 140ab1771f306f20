/** Sampling trained prompts and bare generators (feed-forward only). */
import type { SampleSetRow } from '../store/entities';
import type { Result } from '../shared/result';

export interface SampleRequest {
  prompt?: string | null;
  generator?: string | null;
  count?: number | null;
  seed?: number | null;
  truncation?: number | null;
  condition?: number[] | null;
}

export interface SampleService {
  sample(request: SampleRequest): Promise<Result<SampleSetRow>>;
}
