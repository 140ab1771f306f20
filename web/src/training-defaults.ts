/**
 * The server's training defaults, shown in the compose form. The public API
 * does not expose them, so they are mirrored here; test/services/studio-defaults.test.ts
 * fails when they drift from src/services/training-options.ts.
 */
export const TRAINING_DEFAULTS = {
  steps: 500,
  batchSize: 16,
  learningRate: 1e-3,
  flowBlocks: 8,
  hiddenUnits: 256,
  seed: 42,
  previewEvery: 50,
} as const;

/**
 * Steps the server uses when left empty for a conditional prompt (a control with a
 * conditionDim): src/services/training-options.ts CONDITIONAL_DEFAULT_STEPS.
 */
export const CONDITIONAL_DEFAULT_STEPS = 1500;

/** The steps the server will train when the field is left empty (capped by its maxSteps). */
export function defaultSteps(conditional: boolean): number {
  return conditional ? CONDITIONAL_DEFAULT_STEPS : TRAINING_DEFAULTS.steps;
}

export type TrainingKey = keyof typeof TRAINING_DEFAULTS;

/** previewEvery when left empty: the server previews about ten times, at most every 50 steps. */
export function defaultPreviewEvery(steps: number): number {
  return Math.max(1, Math.min(TRAINING_DEFAULTS.previewEvery, Math.ceil(steps / 10)));
}
