/** The Studio shows the server's training defaults, which the public API does not expose: they must not drift. */
import {
  CONDITIONAL_DEFAULT_STEPS,
  TRAINING_DEFAULTS as SERVER,
  resolveTrainingOptions,
} from '../../src/services/training-options';
import { loadConfig } from '../../src/shared/config';

// web/ is an ES module package, which tsc (Node16) will not let this CommonJS test import;
// jest compiles it all the same, so it is required and given its shape here.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const studio = require('../../web/src/training-defaults') as {
  TRAINING_DEFAULTS: Record<string, number>;
  defaultPreviewEvery(steps: number): number;
  defaultSteps(conditional: boolean): number;
};

describe('Studio training defaults', () => {
  it('equal the server defaults', () => {
    expect({ ...studio.TRAINING_DEFAULTS }).toEqual(SERVER);
  });

  it('show the steps the server trains when the field is left empty, conditional prompts included', () => {
    const { limits } = loadConfig({});
    expect(studio.defaultSteps(false)).toBe(resolveTrainingOptions({}, limits).options.steps);
    expect(studio.defaultSteps(true)).toBe(
      resolveTrainingOptions({}, limits, { conditional: true }).options.steps,
    );
    expect(studio.defaultSteps(true)).toBe(CONDITIONAL_DEFAULT_STEPS);
  });

  it('derive previewEvery from steps as the server does', () => {
    const { limits } = loadConfig({});
    for (const steps of [1, 5, 40, 100, 499, 500, 5000]) {
      expect([steps, studio.defaultPreviewEvery(steps)]).toEqual([
        steps,
        resolveTrainingOptions({ steps }, limits).options.previewEvery,
      ]);
    }
  });
});
