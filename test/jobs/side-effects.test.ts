/**
 * Pure parts of the side-effect audit: which classifiers a prompt steers, and the typed
 * GraphQL view of stored metrics (older prompts and malformed entries give []).
 */
import 'reflect-metadata';
import { steeredClassifiers } from '../../src/jobs/side-effect-audit';
import { sideEffectsOf } from '../../src/schema/types/side-effects';

describe('side-effect audit helpers', () => {
  test('steeredClassifiers: a control named like a classifier, and every classifier field in params (any depth)', () => {
    const known = ['face-gender', 'mnist-digit', 'mnist-ink'];
    expect(
      steeredClassifiers(
        [
          { control: 'classifier', params: { targets: [{ classifier: 'mnist-digit', classes: [7] }] } },
          {
            control: 'debias',
            params: { attributes: [{ classifier: 'unknown-one' }, { classifier: 'mnist-ink' }] },
          },
          { control: 'face-gender', params: { target: 'male' } },
          { control: 'clip', params: { text: 'classifier' } },
        ],
        known,
      ),
    ).toEqual(['face-gender', 'mnist-digit', 'mnist-ink']);
    expect(steeredClassifiers([{ control: 'clip', params: null }], known)).toEqual([]);
  });

  test('sideEffectsOf: typed entries sorted by shift; absent or malformed audits give [] or are skipped', () => {
    const entry = (classifier: string, shift: number) => ({
      classifier,
      steered: classifier === 'a',
      samples: 10,
      shift,
      classNames: ['x', 'y'],
      baseMarginal: [0.5, 0.5],
      promptMarginal: [0.5 + shift, 0.5 - shift],
      baseMeanProbability: [0.5, 0.5],
      promptMeanProbability: [0.5, 0.5],
      classes: [
        { className: 'x', base: 0.5, prompt: 0.5 + shift, change: shift },
        { className: 'y', base: 0.5, prompt: 0.5 - shift, change: -shift },
        { bad: 1 },
      ],
    });
    const out = sideEffectsOf({
      sideEffects: {
        samples: 10,
        classifiers: [entry('b', 0.1), entry('a', 0.3), { classifier: 'c', shift: 'no' }],
        failed: [],
      },
    });
    expect(out.map((c) => c.classifier)).toEqual(['a', 'b']);
    expect(out[0]!.steered).toBe(true);
    expect(out[0]!.classes).toHaveLength(2);
    expect(sideEffectsOf(null)).toEqual([]);
    expect(sideEffectsOf({ controls: [] })).toEqual([]);
    expect(sideEffectsOf({ sideEffects: { classifiers: 'nope' } })).toEqual([]);
  });
});
