/** Defaults and limits of a prompt's training options, with field-precise errors. */
import type { Config } from '../shared/config';
import type { StoredTrainingOptions } from '../store/entities';

export interface FieldError {
  field: string[];
  message: string;
}

export const TRAINING_DEFAULTS: StoredTrainingOptions = {
  steps: 500,
  batchSize: 16,
  learningRate: 1e-3,
  flowBlocks: 8,
  hiddenUnits: 256,
  seed: 42,
  previewEvery: 50,
};

/**
 * Default steps of a conditional prompt (one with a control that declares conditionDim).
 * A conditional flow must learn a whole family of targets, not one: on the MNIST testbed
 * (docs/RESULTS.md, "Conditional prompts") 500 steps of batch 16 left the requested-vs-measured
 * slope well below 1, 1,500 reached it. Given steps always win.
 */
export const CONDITIONAL_DEFAULT_STEPS = 1500;

type Input = Partial<Record<keyof StoredTrainingOptions, number | null | undefined>>;

export function resolveTrainingOptions(
  input: Input | null | undefined,
  limits: Config['limits'],
  opts: { conditional?: boolean } = {},
): { options: StoredTrainingOptions; errors: FieldError[] } {
  const errors: FieldError[] = [];
  const given = input ?? {};
  const pick = (key: keyof StoredTrainingOptions) => given[key] ?? TRAINING_DEFAULTS[key];
  const steps =
    given.steps ??
    (opts.conditional ? Math.min(CONDITIONAL_DEFAULT_STEPS, limits.maxSteps) : TRAINING_DEFAULTS.steps);
  const options: StoredTrainingOptions = {
    steps,
    batchSize: pick('batchSize'),
    learningRate: pick('learningRate'),
    flowBlocks: pick('flowBlocks'),
    hiddenUnits: pick('hiddenUnits'),
    seed: pick('seed'),
    previewEvery:
      given.previewEvery ?? Math.max(1, Math.min(TRAINING_DEFAULTS.previewEvery, Math.ceil(steps / 10))),
  };
  const check = (key: keyof StoredTrainingOptions, ok: boolean, expected: string) => {
    if (!ok)
      errors.push({ field: ['training', key], message: `${key} must be ${expected} (got ${options[key]})` });
  };
  const intIn = (v: number, lo: number, hi: number) => Number.isInteger(v) && v >= lo && v <= hi;
  check('steps', intIn(options.steps, 1, limits.maxSteps), `an integer from 1 to ${limits.maxSteps}`);
  check(
    'batchSize',
    intIn(options.batchSize, 1, limits.maxBatchSize),
    `an integer from 1 to ${limits.maxBatchSize}`,
  );
  // From 1e-8: smaller rates (down to subnormal 1e-320) are accepted by "> 0" yet never move a float32 weight.
  check(
    'learningRate',
    Number.isFinite(options.learningRate) && options.learningRate >= 1e-8 && options.learningRate <= 1,
    'from 1e-8 to 1',
  );
  check('flowBlocks', intIn(options.flowBlocks, 1, 32), 'an integer from 1 to 32');
  check('hiddenUnits', intIn(options.hiddenUnits, 1, 4096), 'an integer from 1 to 4096');
  check('seed', intIn(options.seed, 0, 2 ** 31 - 1), `an integer from 0 to ${2 ** 31 - 1}`);
  // Only meaningful against valid steps; otherwise the steps error says it all.
  if (!errors.some((e) => e.field[1] === 'steps')) {
    check(
      'previewEvery',
      intIn(options.previewEvery, 0, options.steps),
      `an integer from 0 (no previews) to steps (${options.steps})`,
    );
  }
  return { options, errors };
}
