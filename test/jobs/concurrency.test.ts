import { effectiveConcurrency, trainingSlots } from '../../src/jobs/concurrency';
import { loadConfig } from '../../src/shared/config';

describe('training concurrency', () => {
  it('keeps a core for the API in serve beyond 2 cores, uses all in worker, divides by fixed BLAS threads', () => {
    expect(trainingSlots({ cores: 2, serving: true })).toBe(2); // shared BLAS threads: one training per core
    expect(trainingSlots({ cores: 2, serving: false })).toBe(2);
    expect(trainingSlots({ cores: 3, serving: true })).toBe(2);
    expect(trainingSlots({ cores: 16, serving: true })).toBe(15);
    expect(trainingSlots({ cores: 16, serving: false })).toBe(16);
    expect(trainingSlots({ cores: 2, blasThreads: 1, serving: true })).toBe(2);
    expect(trainingSlots({ cores: 16, blasThreads: 4, serving: false })).toBe(4);
    expect(trainingSlots({ cores: 16, blasThreads: 4, serving: true })).toBe(3);
    expect(trainingSlots({ cores: 1, serving: true })).toBe(1); // never zero
    expect(trainingSlots({ cores: 2, blasThreads: 4, serving: false })).toBe(1);
    expect(trainingSlots({ cores: 2, serving: true, trainingThreads: 3 })).toBe(3); // explicit override
  });

  it('caps PROMPTGEN_WORKERS by the slots and never raises it', () => {
    expect(effectiveConcurrency({ requested: 4, cores: 2, serving: true })).toBe(2);
    expect(effectiveConcurrency({ requested: 4, cores: 3, serving: true })).toBe(2);
    expect(effectiveConcurrency({ requested: 4, cores: 2, blasThreads: 2, serving: true })).toBe(1);
    expect(effectiveConcurrency({ requested: 1, cores: 16, blasThreads: 1, serving: true })).toBe(1);
    expect(
      effectiveConcurrency({ requested: 4, cores: 2, blasThreads: 1, serving: true, trainingThreads: 4 }),
    ).toBe(4);
  });

  it('reads PROMPTGEN_TRAINING_THREADS (unset: automatic) and rejects bad values', () => {
    expect(loadConfig({}).trainingThreads).toBeUndefined();
    expect(loadConfig({ PROMPTGEN_TRAINING_THREADS: '3' }).trainingThreads).toBe(3);
    expect(() => loadConfig({ PROMPTGEN_TRAINING_THREADS: '0' })).toThrow(/PROMPTGEN_TRAINING_THREADS/);
    expect(() => loadConfig({ PROMPTGEN_FUSED_COUPLING: 'yes' })).toThrow(/PROMPTGEN_FUSED_COUPLING/);
  });

  it('reads PROMPTGEN_BLAS_THREADS as a fixed count, unset: the trainings share the cores', () => {
    expect(loadConfig({}).blasThreads).toBeUndefined();
    expect(loadConfig({ PROMPTGEN_BLAS_THREADS: '2' }).blasThreads).toBe(2);
    expect(() => loadConfig({ PROMPTGEN_BLAS_THREADS: '0' })).toThrow(/PROMPTGEN_BLAS_THREADS/);
  });
});
