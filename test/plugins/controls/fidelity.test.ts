/**
 * Issue #14 at small scale on the unconditional generator `mnist-dcgan` (plugins/mnist-dcgan),
 * judged by the INDEPENDENT ml5 MNIST MLP (../shared/models/mnist-mlp), with the experiment
 * code of scripts/measure-fidelity.js (the full figures: docs/RESULTS-FIDELITY.md):
 * same seed before and after one step, target 7 and debias to a skewed target with the judged
 * effect most of what the control's own classifier sees, and the side-effect audit's order.
 * Skipped with a printed reason where ../shared is absent, unless PROMPTGEN_REQUIRE_SHARED=1.
 */
import { haveJudge } from './setup';
import { CI_FLOW, runFidelity } from './fidelity-run';

const maybe = haveJudge() ? describe : describe.skip;

interface Experiment {
  id: string;
  meanAbsDiff?: number;
  before?: Record<string, number>;
  after?: Record<string, number>;
  judgedShareOfEffect?: number | null;
  judgedCut?: number;
  controlCut?: number;
  audit?: { classifiers: Array<{ classifier: string; steered: boolean; shift: number }> };
}

maybe('issue #14 on the unconditional MNIST generator, judged by the independent MLP (small scale)', () => {
  let res: { experiments: Experiment[] };
  const get = (id: string) => res.experiments.find((e) => e.id === id)!;

  beforeAll(async () => {
    // Debias to uniform is left to the full run (docs/RESULTS-FIDELITY.md): on this generator the
    // judge and the control's classifier disagree on the base marginal by more than its distance
    // from uniform (they pick the same digit for ~70 % of images), so no control driven by
    // mnist-digit can make the judge's marginal uniform. A skewed target moves it far enough
    // for both to see. The biased generator's test (fidelity-biased.test.ts) measures that bar.
    res = await runFidelity<Experiment>('mnist-dcgan', ['oneStep', 'target7', 'audit', 'debiasTarget'], {
      ...CI_FLOW,
      steps: 400,
      classifierWeight: 2,
      debiasWeight: 1.5,
    });
  }, 900_000);

  test('a prompt trained for one step shows the same images as its base generator on the same seed', () => {
    expect(get('oneStep').meanAbsDiff).toBeLessThan(0.02);
  });

  test('target 7: the judge sees far more 7s, and most of the effect the control sees', () => {
    const e = get('target7');
    expect(e.after!.judge7).toBeGreaterThan(e.before!.judge7! + 0.4);
    expect(e.judgedShareOfEffect).toBeGreaterThanOrEqual(0.8);
  });

  test('debias to a skewed target (7s at 4/13): the judged KL to the target falls by half or more, most of what the control sees', () => {
    const e = get('debiasTarget');
    expect(e.judgedCut).toBeGreaterThanOrEqual(0.5);
    expect(e.judgedShareOfEffect).toBeGreaterThanOrEqual(0.8);
  });

  test('the side-effect audit lists the steered classifier first, then the unsteered ink classifier', () => {
    const list = get('audit').audit!.classifiers;
    expect(list.map((c) => c.classifier)).toEqual(['mnist-digit', 'mnist-ink']);
    expect(list[0]!.steered).toBe(true);
    expect(list[0]!.shift).toBeGreaterThan(list[1]!.shift);
  });
});
