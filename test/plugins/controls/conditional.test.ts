/**
 * The conditional testbed at small scale (issue #19): on the bundled MNIST generator,
 * `mnist-slant` (conditional on a target slant) with the paired `mnist-same-digit`
 * energy, and the same prompt without the paired term. Runs the experiment code of
 * scripts/measure-conditional.js (the full-size figures are in docs/RESULTS.md) with
 * the product's own per-condition evaluation (src/jobs/conditional-evaluation.ts).
 *
 * Checked: requested vs measured slant across the trained range (slope), and how
 * often a sample keeps its digit away from ρ = 0, judged by the INDEPENDENT ml5 MNIST
 * MLP (../shared/models/mnist-mlp); removing the paired term must lower that.
 * Skipped with a printed reason where ../shared is absent, unless PROMPTGEN_REQUIRE_SHARED=1.
 */
import * as path from 'path';
import * as engine from '../../../src/engine';
import { evaluateConditional } from '../../../src/jobs/conditional-evaluation';
import { harness, haveJudge, loadJudge, REPO } from './setup';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { measureConditional } = require(path.join(REPO, 'scripts', 'measure-conditional.js'));

interface Run {
  id: string;
  seconds: number;
  slope: number;
  r2: number;
  levels: { requested: number; measuredMean: number; paired: Record<string, Record<string, number>> }[];
  judged: { sameAsPair: number; perCondition: { condition: number; sameAsPair: number }[] };
}

const maybe = haveJudge() ? describe : describe.skip;

maybe('conditional testbed: mnist-slant with and without the paired mnist-same-digit (small scale)', () => {
  let paired: Run;
  let slantOnly: Run;

  beforeAll(async () => {
    const h = await harness('wasm');
    const judge = await loadJudge(h.tf);
    const t0 = Date.now();
    const res = await measureConditional({
      engine,
      evaluateConditional,
      tf: h.tf,
      registry: h.registry,
      runtime: h.runtime,
      judge,
      scale: SCALE,
    });
    paired = res.runs.find((r: Run) => r.id === 'paired');
    slantOnly = res.runs.find((r: Run) => r.id === 'slantOnly');
    const brief = (r: Run) => ({
      id: r.id,
      seconds: Math.round(r.seconds),
      slope: r.slope,
      r2: r.r2,
      measured: r.levels.map((l) => [l.requested, l.measuredMean]),
      judgedSameAsPair: r.judged.sameAsPair,
      perCondition: r.judged.perCondition.map((c) => [c.condition, c.sameAsPair]),
    });
    console.log(
      `conditional testbed (${((Date.now() - t0) / 1000).toFixed(0)} s): ${JSON.stringify([brief(paired), brief(slantOnly)])}`,
    );
  }, 1_200_000);

  test('the prompt follows its condition: measured slant against requested has slope ≥ 0.8 across the trained range', () => {
    expect(paired.slope).toBeGreaterThanOrEqual(SLOPE_BAR);
    expect(paired.r2).toBeGreaterThan(0.5);
    // monotonic across the five levels
    const m = paired.levels.map((l) => l.measuredMean);
    for (let i = 1; i < m.length; i++) expect(m[i]).toBeGreaterThan(m[i - 1]!);
    // without the paired term nothing holds the flow back from the target slant
    expect(slantOnly.slope).toBeGreaterThanOrEqual(paired.slope - 0.05);
  });

  test('the paired energy keeps the digit across conditions (judge, ρ ≠ 0), and removing it lowers that', () => {
    expect(paired.judged.sameAsPair).toBeGreaterThanOrEqual(KEEP_BAR);
    expect(paired.judged.sameAsPair).toBeGreaterThan(slantOnly.judged.sameAsPair + 0.15);
  });
});

/**
 * CI scale = the full run of docs/RESULTS.md: the default flow (8 × 256) for a conditional
 * prompt's default 1,500 steps, lr 0.001, 1,000 evaluation samples. There (AMD EPYC): slope
 * 0.85, digit kept for 97.1 % away from ρ = 0, 64.9 % without the paired term; here on an
 * Intel Xeon (2026-12-02): slope 0.895, 96.1 %, 54.6 %. This test ran at lr 0.002 with 400
 * samples before: 95.9 % kept on the AMD machine, 93.8 % on the Intel one (the BLAS kernels
 * differ, so the training's rounding does). The margin is small by nature: the judge itself
 * keeps the digit of only 96–98 % of base images sheared by this much (docs/RESULTS.md), and
 * λ_same = 24 gave 94.3 % (chaotic, not better). At 500 steps the code gave slope 0.79 and 91 %,
 * under both bars, so CI trains the full length. The bars are the issue's.
 */
const SCALE = {
  steps: 1500,
  batch: 16,
  blocks: 8,
  hidden: 256,
  lr: 0.001,
  eval: 1000,
  range: 0.2,
  weightSlant: 4,
  weightSame: 16,
};
const SLOPE_BAR = 0.8;
const KEEP_BAR = 0.95;
