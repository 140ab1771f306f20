/** Default training options: conditional prompts get more steps by default (issue #19); given steps win. */
import {
  CONDITIONAL_DEFAULT_STEPS,
  resolveTrainingOptions,
  TRAINING_DEFAULTS,
} from '../../src/services/training-options';

const limits = {
  maxQueryDepth: 12,
  maxQueryComplexity: 5000,
  bodyLimitBytes: 1 << 20,
  maxSteps: 20000,
  maxBatchSize: 256,
  maxSampleCount: 256,
};

test('a conditional prompt defaults to CONDITIONAL_DEFAULT_STEPS, others to the plain default; given steps always win', () => {
  expect(CONDITIONAL_DEFAULT_STEPS).toBeGreaterThan(TRAINING_DEFAULTS.steps);
  expect(resolveTrainingOptions({}, limits).options.steps).toBe(TRAINING_DEFAULTS.steps);
  expect(resolveTrainingOptions({}, limits, { conditional: true }).options.steps).toBe(
    CONDITIONAL_DEFAULT_STEPS,
  );
  expect(resolveTrainingOptions({ steps: 40 }, limits, { conditional: true }).options.steps).toBe(40);
  // never above the server's limit
  expect(resolveTrainingOptions({}, { ...limits, maxSteps: 800 }, { conditional: true })).toMatchObject({
    options: { steps: 800 },
    errors: [],
  });
  // previews follow the resolved steps
  expect(resolveTrainingOptions({}, limits, { conditional: true }).options.previewEvery).toBe(
    TRAINING_DEFAULTS.previewEvery,
  );
});
