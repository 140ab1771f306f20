/** The Studio shows the server's training defaults, which the public API does not expose: they must not drift. */
import { TRAINING_DEFAULTS as SERVER, resolveTrainingOptions } from '../../src/services/training-options';
import { TRAINING_DEFAULTS as STUDIO, defaultPreviewEvery } from '../../web/src/training-defaults';
import { loadConfig } from '../../src/config';

describe('Studio training defaults', () => {
  it('equal the server defaults', () => {
    expect({ ...STUDIO }).toEqual(SERVER);
  });

  it('derive previewEvery from steps as the server does', () => {
    const { limits } = loadConfig({});
    for (const steps of [1, 5, 40, 100, 499, 500, 5000]) {
      expect([steps, defaultPreviewEvery(steps)]).toEqual([steps, resolveTrainingOptions({ steps }, limits).options.previewEvery]);
    }
  });
});
