/**
 * Issue #14's effect bars at small scale on the BIASED unconditional generator
 * `mnist-biased` (plugins/mnist-biased: trained on imbalanced digits, 0s ≈ 22 %, 9s ≈ 3 %,
 * the digit entangled in the whole latent), judged by the INDEPENDENT ml5 MNIST MLP
 * (../shared/models/mnist-mlp), with the experiment code of scripts/measure-fidelity.js (full
 * figures: docs/RESULTS-FIDELITY.md):
 * - `debias` to uniform over `mnist-digit` cuts the judged KL(marginal ‖ uniform) by half or
 *   more, and the judge sees at least 80 % of the cut the control's own classifier sees;
 * - `classifier` toward 7 makes ≥ 85 % of the images 7s by the judge, again with ≥ 80 % of the
 *   effect the control's classifier sees.
 * Either would fail for a control that only fools its classifier (the judge would not move),
 * for one that does nothing, or for a testbed whose digits the two classifiers read apart.
 *
 * On the near-uniform `mnist-dcgan` debias to uniform is out of reach for any control driven
 * by mnist-digit (the two classifiers disagree by more than the marginal's distance from
 * uniform; fidelity.test.ts); here the change the control must make is far larger.
 * Skipped with a printed reason where ../shared is absent, unless PROMPTGEN_REQUIRE_SHARED=1.
 */
import { haveJudge } from './setup';
import { CI_FLOW, runFidelity, type FidelityBase } from './fidelity-run';

const maybe = haveJudge() ? describe : describe.skip;

interface Target7Experiment {
  id: string;
  before: { judge7: number; control7: number };
  after: { judge7: number; control7: number };
  judgedShareOfEffect: number;
}

interface DebiasExperiment {
  id: string;
  before: { klJudge: number; klControl: number };
  after: { klJudge: number; klControl: number };
  judgedCut: number;
  controlCut: number;
  judgedShareOfEffect: number | null;
  judgeAfter: number[];
}

maybe(
  'issue #14: debias to uniform on the biased unconditional MNIST generator, judged by the independent MLP (small scale)',
  () => {
    let base: FidelityBase;
    let debias: DebiasExperiment;
    let target7: Target7Experiment;

    beforeAll(async () => {
      const res = await runFidelity<DebiasExperiment | Target7Experiment>(
        'mnist-biased',
        ['debias', 'target7'],
        {
          ...CI_FLOW,
          steps: 600,
          // λ = 3 for the classifier, as in the full run of docs/RESULTS-FIDELITY.md: at λ = 2 the
          // control's own share of 7s stops near 86 %, too close to the judged bar of 85 %.
          classifierWeight: 3,
          debiasWeight: 1.5,
        },
      );
      base = res.base;
      debias = res.experiments.find((e) => e.id === 'debias') as DebiasExperiment;
      target7 = res.experiments.find((e) => e.id === 'target7') as Target7Experiment;
    }, 600_000);

    test('the testbed is biased: the judge sees a digit marginal far from uniform (KL ≥ 0.1) and few 9s', () => {
      expect(base.klJudge).toBeGreaterThanOrEqual(0.1);
      expect(base.judge[0]!).toBeGreaterThan(2 * base.judge[9]!);
    });

    test('debias to uniform cuts the judged KL by half or more (it would not move without the control)', () => {
      expect(debias.judgedCut).toBeGreaterThanOrEqual(0.5);
      expect(debias.after.klJudge).toBeLessThan(0.5 * debias.before.klJudge);
    });

    test('the control reaches its own target, and the judge sees at least 80 % of that cut', () => {
      expect(debias.controlCut).toBeGreaterThanOrEqual(0.8);
      expect(debias.judgedShareOfEffect).toBeGreaterThanOrEqual(0.8);
    });

    test('target 7: at least 85 % 7s by the judge, and the judge sees at least 80 % of the effect', () => {
      expect(target7.before.judge7).toBeLessThan(0.1);
      expect(target7.after.judge7).toBeGreaterThanOrEqual(0.85);
      expect(target7.judgedShareOfEffect).toBeGreaterThanOrEqual(0.8);
    });
  },
);
