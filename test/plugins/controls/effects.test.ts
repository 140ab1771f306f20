/**
 * Measured effects of the classifier and debias controls at small scale (the full
 * figures are in docs/RESULTS.md, made by scripts/measure-controls.js with the same
 * experiment code): MNIST generator, the `mnist-digit` classifier as the control,
 * and the INDEPENDENT judge ../shared/models/mnist-mlp for every number checked.
 *
 * The bounds are looser than the full run's, but each fails if the control does
 * nothing (the base generator is the "did nothing" reference, measured on the same ε).
 * Skipped with a printed reason where ../shared is absent, unless PROMPTGEN_REQUIRE_SHARED=1.
 */
import * as path from 'path';
import * as engine from '../../../src/engine';
import { harness, haveJudge, loadJudge, REPO } from './setup';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { measureAll } = require(path.join(REPO, 'scripts', 'measure-controls.js'));

const judgeAvailable = haveJudge();
const maybe = judgeAvailable ? describe : describe.skip;

interface Experiment {
  id: string;
  seconds: number;
  before: Record<string, number>;
  first?: Record<string, number>;
  after: Record<string, number>;
  judgeAfter: number[];
}

maybe('measured effects, judged by the independent MNIST MLP (small scale)', () => {
  let res: { base: { judge: number[]; klUniform: number }; experiments: Experiment[] };
  const get = (id: string) => res.experiments.find((e) => e.id === id)!;

  beforeAll(async () => {
    const h = await harness('wasm');
    const judge = await loadJudge(h.tf);
    const t0 = Date.now();
    res = await measureAll({
      engine,
      tf: h.tf,
      registry: h.registry,
      runtime: h.runtime,
      judge,
      // The plain "debias to uniform" run is left to the full measurement: this generator's
      // digits are already near-uniform for the judge (KL ≈ 0.003; the sampling floor of
      // 1,000 judged samples is ≈ 0.0045), so a small run cannot show a judged change
      // there; the skewed target and the iterative run show the debias control moving
      // a marginal where there is room to.
      only: ['target7', 'target38', 'target38Plain', 'target38Balanced', 'debiasTarget', 'iterative'],
      scale: {
        steps: 500,
        batch: 32,
        blocks: 4,
        hidden: 128,
        lr: 0.003,
        eval: 1000,
        calibration: 2048,
        classifierWeight: 2,
        debiasWeight: 2,
      },
    });
    console.log(
      `effects (${((Date.now() - t0) / 1000).toFixed(0)} s): ${JSON.stringify({ base: res.base, experiments: res.experiments.map(({ judgeAfter, ...e }) => e) })}`,
    );
  }, 1_200_000); // ~510 s in CI beside the other suites (two jest workers on two cores)

  test('classifier target 7: the judge sees far more 7s', () => {
    const e = get('target7');
    expect(e.before.share7).toBeLessThan(0.2);
    expect(e.after.share7).toBeGreaterThanOrEqual(0.6);
    expect(e.after.share7).toBeGreaterThan(e.before.share7! + 0.4);
  });

  test('classifier target "3 or 8" (balance "equal", the default): mostly 3s and 8s, each well represented, unlike without balance', () => {
    const e = get('target38');
    const plain = get('target38Plain');
    expect(e.after.share3! + e.after.share8!).toBeGreaterThanOrEqual(0.6);
    // Measured at this scale: 46.6 % / 46.2 % with balance, 69.8 % / 22.2 % without (the full
    // run, 1,000 steps: 47 % / 47 % against 69 % / 26 %, docs/RESULTS.md).
    expect(e.after.share3).toBeGreaterThanOrEqual(0.3);
    expect(e.after.share8).toBeGreaterThanOrEqual(0.3);
    const rarer = Math.min(e.after.share3!, e.after.share8!);
    expect(rarer).toBeGreaterThan(Math.min(plain.after.share3!, plain.after.share8!) + 0.1);
  });

  test('"3 or 8" without balance, then debias over [3, 8] on top (iterative): both digits, each well represented', () => {
    const plain = get('target38Plain');
    expect(plain.after.share3! + plain.after.share8!).toBeGreaterThanOrEqual(0.6);
    const e = get('target38Balanced');
    expect(e.after.share3).toBeGreaterThanOrEqual(0.2);
    expect(e.after.share8).toBeGreaterThanOrEqual(0.2);
    // not more lopsided than the first prompt
    expect(Math.abs(e.after.share3! - e.after.share8!)).toBeLessThanOrEqual(
      Math.abs(e.first!.share3! - e.first!.share8!) + 0.1,
    );
  });

  test('debias to a skewed target (7s four times as likely): KL(judge marginal ‖ target) falls, 7s rise', () => {
    const e = get('debiasTarget');
    expect(e.after.klTarget).toBeLessThan(0.6 * e.before.klTarget!);
    expect(e.after.share7).toBeGreaterThan(e.before.share7! + 0.07);
    expect(e.after.controlKl).toBeLessThan(e.before.controlKl!);
  });

  test('iterative: "even digits", then debias over the evens on top: stays even, evens move toward uniform', () => {
    const e = get('iterative');
    expect(e.first!.evenShare).toBeGreaterThanOrEqual(0.75);
    expect(e.after.evenShare).toBeGreaterThanOrEqual(0.7);
    // Measured at this scale: even KL 0.0138 -> 0.0098 by the judge, 0.0117 -> 0.0113 by the
    // control's classifier (the full run: 0.0073 -> 0.0007). A second flow that does nothing
    // keeps the first prompt's marginal on the same ε.
    expect(e.after.evenKlUniform).toBeLessThan(0.85 * e.first!.evenKlUniform!);
    expect(e.after.controlKl).toBeLessThan(e.first!.controlKl!);
  });
});
