/**
 * Issue #14's de-biasing bar at small scale on the BIASED unconditional generator
 * `mnist-biased` (plugins/mnist-biased: trained on imbalanced digits, 0s ≈ 22 %, 9s ≈ 3 %),
 * judged by the INDEPENDENT ml5 MNIST MLP (../shared/models/mnist-mlp), with the experiment
 * code of scripts/measure-fidelity.js (full figures: docs/RESULTS-FIDELITY.md): `debias` to
 * uniform over `mnist-digit` cuts the judged KL(marginal ‖ uniform) by half or more (the
 * issue's bar), and the judge sees most of the cut the control's own classifier sees.
 *
 * The issue's second bar, judged cut ≥ 80 % of the control's, is NOT met on this generator
 * (measured 0.74 at this scale, 0.67 in the full run): its samples are poor, the two
 * classifiers pick the same digit for only 65 % of them, and they disagree most on the rare
 * digits debias must add (the judge reads many of its 6s and 7s as other digits). This test
 * asserts what holds (≥ 0.5) so that a regression shows; raise it to 0.8 with a better generator.
 *
 * On the near-uniform `mnist-dcgan` this bar is out of reach for any control driven by
 * mnist-digit (the two classifiers disagree by more than the marginal's distance from uniform;
 * test/controls/fidelity.test.ts); here the change the control must make is far larger.
 * Skipped with a printed reason where ../shared is absent, unless PROMPTGEN_REQUIRE_SHARED=1.
 */
import { haveJudge } from './setup';
import { runFidelity, type FidelityBase } from './fidelity-run';

const maybe = haveJudge() ? describe : describe.skip;

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

    beforeAll(async () => {
      const res = await runFidelity<DebiasExperiment>('mnist-biased', ['debias'], {
        steps: 600,
        batch: 32,
        blocks: 4,
        hidden: 128,
        lr: 0.003,
        eval: 2000,
        calibration: 2048,
        classifierWeight: 2,
        debiasWeight: 1.5,
      });
      base = res.base;
      debias = res.experiments.find((e) => e.id === 'debias')!;
    }, 600_000);

    test('the testbed is biased: the judge sees a digit marginal far from uniform (KL ≥ 0.1) and few 9s', () => {
      expect(base.klJudge).toBeGreaterThanOrEqual(0.1);
      expect(base.judge[0]!).toBeGreaterThan(2 * base.judge[9]!);
    });

    test('debias to uniform cuts the judged KL by half or more (it would not move without the control)', () => {
      expect(debias.judgedCut).toBeGreaterThanOrEqual(0.5);
      expect(debias.after.klJudge).toBeLessThan(0.5 * debias.before.klJudge);
    });

    test('the control reaches its own target, and the judge sees more than half of that cut (the issue asks 80 %: not met here)', () => {
      expect(debias.controlCut).toBeGreaterThanOrEqual(0.8);
      expect(debias.judgedShareOfEffect).toBeGreaterThanOrEqual(0.5);
    });
  },
);
