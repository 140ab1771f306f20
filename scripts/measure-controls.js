#!/usr/bin/env node
'use strict';
/**
 * Measures the effects of the `classifier` and `debias` controls (plugins/controls)
 * on the MNIST generator, judged by an independent classifier (the ml5 MNIST MLP of
 * ../shared/models/mnist-mlp, never the control's own `mnist-digit`), and writes
 * docs/RESULTS.md with sample grids under docs/results/.
 *
 * Usage (after `npm run build`; the engine and plugin host come from dist/):
 *   nice node scripts/measure-controls.js [--steps 400] [--batch 16] [--blocks 8] [--hidden 256]
 *        [--lr 0.002] [--eval 1000] [--backend wasm] [--out docs] [--no-write]
 *
 * The experiments themselves (`measureAll`) take the engine as an argument, so the
 * small-scale test (test/plugins/controls/effects.test.ts) runs the same code from src/.
 */
const fs = require('fs');
const path = require('path');
const { REPO, JUDGE_FILE, shares, klTo, klToUniform, loadJudge, machineLine } = require('./lib/judge');
const { makeRegistry } = require('./lib/registry');
const { writeReport } = require('./lib/controls-report');

const EVENS = [0, 2, 4, 6, 8];

/** The skewed target of the `debiasTarget` experiment: 7s four times as likely as each other digit. */
const SKEWED = [1, 1, 1, 1, 1, 1, 1, 4, 1, 1];

/**
 * Runs every experiment.
 * @param {object} o
 * @param {object} o.engine  { Flow, train, sampleImages, composeGenerator }
 * @param {object} o.tf
 * @param {object} o.registry a PluginRegistry with the mnist and controls plugins and the `mnist-digit` classifier
 * @param {object} o.runtime  { tf, backend, logger }
 * @param {(images) => Promise<number[]>} o.judge  predicted digit per image (independent model)
 * @param {object} o.scale   { steps, batch, blocks, hidden, lr, eval, calibration }
 * @param {string[]} [o.only] experiment ids to run (default all): target7, target38, target38Plain, target38Balanced, debias, debiasTarget, iterative
 * @param {(msg: string) => void} [o.log]
 */
async function measureAll(o) {
  const { engine, tf, registry, runtime, judge, scale } = o;
  const log = o.log || (() => undefined);
  const only = o.only || [
    'target7',
    'target38',
    'target38Plain',
    'target38Balanced',
    'debias',
    'debiasTarget',
    'iterative',
  ];
  const genName = scale.generator || 'mnist';
  const gen = await registry.loadGenerator(genName, runtime);
  const def = registry.generator(genName).definition;
  const info = { name: genName, latentDim: def.latentDim, output: def.output };
  const generator = { latentDim: def.latentDim, generate: (z) => gen.generate(z), dispose: () => undefined };
  const EVAL_SEED = 7919;

  /** Judge's digit shares on the evaluation ε (and what `evaluator`, a control's evaluate(), reports there). */
  async function judged(g, flow, evaluator) {
    const batch = await engine.sampleImages({
      tf,
      flow,
      generator: g,
      latentDim: def.latentDim,
      count: scale.eval,
      seed: EVAL_SEED,
    });
    const t = tf.tensor4d(batch.data, [batch.n, batch.height, batch.width, batch.channels]);
    const pred = await judge(t);
    const evaluated = evaluator ? await evaluator.evaluate(t) : undefined;
    t.dispose();
    const grid = await engine.sampleImages({
      tf,
      flow,
      generator: g,
      latentDim: def.latentDim,
      count: 64,
      seed: EVAL_SEED,
    });
    return { shares: shares(pred), grid, evaluated };
  }

  async function control(name, params, weight) {
    const c = await registry.loadControl(name, params, info, runtime, { cache: false });
    return { name, params, weight, c };
  }

  async function trainFlow(g, terms, seed) {
    const flow = new engine.Flow(tf, {
      dim: def.latentDim,
      blocks: scale.blocks,
      hidden: scale.hidden,
      seed,
    });
    const t0 = Date.now();
    let last = null;
    await engine.train({
      flow,
      generator: g,
      terms: terms.map((t) => ({
        name: t.name,
        weight: t.weight,
        energy: (im, ex) => t.c.energy(im, ex),
        observe: t.c.observe && ((im) => t.c.observe(im)),
      })),
      steps: scale.steps,
      batchSize: scale.batch,
      learningRate: scale.lr,
      seed,
      progressEvery: Math.max(1, Math.floor(scale.steps / 4)),
      onProgress: (p) => {
        last = p;
        log(
          `  step ${p.step}/${p.totalSteps} loss ${p.loss.toFixed(3)} energies ${p.energies.map((e) => e.value.toFixed(3)).join(' ')} (${p.stepsPerSecond.toFixed(2)} steps/s)`,
        );
      },
    });
    return { flow, seconds: (Date.now() - t0) / 1000, finalEnergies: last ? last.energies : [] };
  }

  const results = { scale: { ...scale }, backend: runtime.backend, experiments: [] };
  const debiasExtra = scale.debiasAdaptive ? { adaptive: true } : {};

  /**
   * A debias prompt over generator g: calibrates β̂ on g's samples (timed), judges g
   * (with the control's own evaluate()), trains, and judges the prompt.
   */
  async function debiasRun(g, attributes, calibrationSeed, trainSeed) {
    const d = await control(
      'debias',
      { attributes, samples: scale.calibration, ...debiasExtra },
      scale.debiasWeight,
    );
    const c0 = Date.now();
    await d.c.calibrate((n) => engine.sampleBase(g, n, calibrationSeed, { tf, latentDim: def.latentDim }));
    const calibrationSeconds = (Date.now() - c0) / 1000;
    const state = d.c.calibrationState();
    const baseSeen = await judged(g, undefined, d.c);
    const f = await trainFlow(g, [d], trainSeed);
    const after = await judged(g, f.flow, d.c);
    return { d, state, calibrationSeconds, baseSeen, f, after };
  }

  log('base generator');
  const base = await judged(generator, undefined);
  results.base = { judge: base.shares, klUniform: klToUniform(base.shares) };
  results.grids = { base: base.grid };

  if (only.includes('target7')) {
    log('classifier: target 7');
    const t = await control(
      'classifier',
      { targets: [{ classifier: 'mnist-digit', classes: [7] }] },
      scale.classifierWeight,
    );
    const f = await trainFlow(generator, [t], 42);
    const after = await judged(generator, f.flow);
    results.experiments.push({
      id: 'target7',
      title: 'classifier: digit 7',
      params: t.params,
      weight: t.weight,
      seconds: f.seconds,
      before: { share7: base.shares[7] },
      after: { share7: after.shares[7] },
      judgeAfter: after.shares,
    });
    results.grids.target7 = after.grid;
    t.c.dispose();
    f.flow.dispose();
  }
  if (only.includes('target38')) {
    log('classifier: 3 or 8 (balance "equal", the default)');
    const t = await control(
      'classifier',
      {
        targets: [{ classifier: 'mnist-digit', classes: [3, 8] }],
        ...(scale.balanceRate ? { balanceRate: scale.balanceRate } : {}),
      },
      scale.classifierWeight,
    );
    const f = await trainFlow(generator, [t], 43);
    const after = await judged(generator, f.flow);
    results.experiments.push({
      id: 'target38',
      title: 'classifier: 3 or 8',
      params: t.params,
      weight: t.weight,
      seconds: f.seconds,
      before: { share3: base.shares[3], share8: base.shares[8] },
      after: { share3: after.shares[3], share8: after.shares[8] },
      judgeAfter: after.shares,
      balanceBeta: t.c.trainingState().balance[0],
    });
    results.grids.target38 = after.grid;
    t.c.dispose();
    f.flow.dispose();
  }
  if (only.includes('target38Plain') || only.includes('target38Balanced')) {
    log('classifier: 3 or 8 with balance "none" (the paper\'s energy alone)');
    const t = await control(
      'classifier',
      { targets: [{ classifier: 'mnist-digit', classes: [3, 8], balance: 'none' }] },
      scale.classifierWeight,
    );
    const f = await trainFlow(generator, [t], 43);
    const after = await judged(generator, f.flow);
    results.experiments.push({
      id: 'target38Plain',
      title: 'classifier: 3 or 8, balance none',
      params: t.params,
      weight: t.weight,
      seconds: f.seconds,
      before: { share3: base.shares[3], share8: base.shares[8] },
      after: { share3: after.shares[3], share8: after.shares[8] },
      judgeAfter: after.shares,
    });
    results.grids.target38Plain = after.grid;
    if (only.includes('target38Balanced')) {
      // Reverse KL is mode-seeking: without balance the flow may favour one of the alternatives.
      // The paper's remedy is iterative: debias over the same classes on top of the first prompt.
      log('iterative: debias over [3, 8] on top of the plain "3 or 8" prompt');
      const composed = engine.composeGenerator(f.flow, generator);
      const d = await control(
        'debias',
        {
          attributes: [{ classifier: 'mnist-digit', classes: [3, 8] }],
          samples: scale.calibration,
          ...debiasExtra,
        },
        scale.debiasWeight,
      );
      await d.c.calibrate((n) => engine.sampleBase(composed, n, 1004, { tf, latentDim: def.latentDim }));
      const state = d.c.calibrationState();
      const f2 = await trainFlow(composed, [d], 48);
      const second = await judged(composed, f2.flow);
      results.experiments.push({
        id: 'target38Balanced',
        title: 'plain "3 or 8", then debias over [3, 8] on top (iterative)',
        params: d.params,
        weight: d.weight,
        seconds: f2.seconds,
        beta: state.attributes[0].beta,
        fit: state.attributes[0].fit,
        before: { share3: base.shares[3], share8: base.shares[8] },
        first: { share3: after.shares[3], share8: after.shares[8], judge: after.shares },
        after: { share3: second.shares[3], share8: second.shares[8] },
        judgeAfter: second.shares,
      });
      results.grids.target38Balanced = second.grid;
      d.c.dispose();
      f2.flow.dispose();
    }
    t.c.dispose();
    f.flow.dispose();
  }
  if (only.includes('debias')) {
    log('debias: uniform over digits');
    const { d, state, calibrationSeconds, baseSeen, f, after } = await debiasRun(
      generator,
      [{ classifier: 'mnist-digit' }],
      1001,
      44,
    );
    results.experiments.push({
      id: 'debias',
      title: 'debias: uniform over the 10 digits',
      params: d.params,
      weight: d.weight,
      seconds: f.seconds,
      calibrationSeconds,
      beta: state.attributes[0].beta,
      fit: state.attributes[0].fit,
      before: { klUniform: results.base.klUniform, controlKl: baseSeen.evaluated.kl },
      after: { klUniform: klToUniform(after.shares), controlKl: after.evaluated.kl },
      judgeAfter: after.shares,
    });
    results.grids.debias = after.grid;
    d.c.dispose();
    f.flow.dispose();
  }
  if (only.includes('debiasTarget')) {
    log('debias: skewed target (7s four times as likely as each other digit)');
    const { d, state, baseSeen, f, after } = await debiasRun(
      generator,
      [{ classifier: 'mnist-digit', target: SKEWED }],
      1003,
      47,
    );
    results.experiments.push({
      id: 'debiasTarget',
      title: 'debias: skewed target (7s at 4/13 ≈ 31 %, other digits 1/13 each)',
      params: d.params,
      weight: d.weight,
      seconds: f.seconds,
      beta: state.attributes[0].beta,
      fit: state.attributes[0].fit,
      before: {
        klTarget: klTo(base.shares, SKEWED),
        share7: base.shares[7],
        controlKl: baseSeen.evaluated.kl,
      },
      after: { klTarget: klTo(after.shares, SKEWED), share7: after.shares[7], controlKl: after.evaluated.kl },
      judgeAfter: after.shares,
    });
    results.grids.debiasTarget = after.grid;
    d.c.dispose();
    f.flow.dispose();
  }
  if (only.includes('iterative')) {
    log('iterative: classifier "even digits", then debias over the even digits on top of it');
    const t = await control(
      'classifier',
      { targets: [{ classifier: 'mnist-digit', classes: EVENS, balance: 'none' }] },
      scale.classifierWeight,
    );
    const f1 = await trainFlow(generator, [t], 45);
    const first = await judged(generator, f1.flow);
    const composed = engine.composeGenerator(f1.flow, generator);
    const {
      d,
      state,
      baseSeen: firstSeen,
      f: f2,
      after: second,
    } = await debiasRun(composed, [{ classifier: 'mnist-digit', classes: EVENS }], 1002, 46);
    const even = (s) => EVENS.reduce((a, i) => a + s[i], 0);
    results.experiments.push({
      id: 'iterative',
      title: 'iterative: "even digits", then debias over the evens on top',
      params: [t.params, d.params],
      weight: [t.weight, d.weight],
      seconds: f1.seconds + f2.seconds,
      beta: state.attributes[0].beta,
      fit: state.attributes[0].fit,
      before: { evenShare: even(base.shares), evenKlUniform: klToUniform(base.shares, EVENS) },
      first: {
        evenShare: even(first.shares),
        evenKlUniform: klToUniform(first.shares, EVENS),
        controlKl: firstSeen.evaluated.kl,
        judge: first.shares,
      },
      after: {
        evenShare: even(second.shares),
        evenKlUniform: klToUniform(second.shares, EVENS),
        controlKl: second.evaluated.kl,
      },
      judgeAfter: second.shares,
    });
    results.grids.evens = first.grid;
    results.grids.evensDebiased = second.grid;
    t.c.dispose();
    d.c.dispose();
    f2.flow.dispose();
    f1.flow.dispose();
  }
  return results;
}

// ---------------------------------------------------------------------------
// Command line: full-size run, docs/RESULTS.md + docs/results/*.png
// ---------------------------------------------------------------------------

function parseArgs(argv) {
  const o = {
    steps: 400,
    batch: 16,
    blocks: 8,
    hidden: 256,
    lr: 0.002,
    eval: 1000,
    calibration: 1024,
    classifierWeight: 5,
    debiasWeight: 1.5,
    backend: 'wasm',
    out: path.join(REPO, 'docs'),
    write: true,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => argv[++i];
    if (a === '--steps') o.steps = Number(next());
    else if (a === '--batch') o.batch = Number(next());
    else if (a === '--blocks') o.blocks = Number(next());
    else if (a === '--hidden') o.hidden = Number(next());
    else if (a === '--lr') o.lr = Number(next());
    else if (a === '--eval') o.eval = Number(next());
    else if (a === '--calibration') o.calibration = Number(next());
    else if (a === '--classifier-weight') o.classifierWeight = Number(next());
    else if (a === '--debias-weight') o.debiasWeight = Number(next());
    else if (a === '--balance-rate') o.balanceRate = Number(next());
    else if (a === '--debias-adaptive') o.debiasAdaptive = true;
    else if (a === '--backend') o.backend = next();
    else if (a === '--generator') o.generator = next();
    else if (a === '--out') o.out = path.resolve(next());
    else if (a === '--only') o.only = next().split(',');
    else if (a === '--no-write') o.write = false;
    else throw new Error(`unknown argument ${a}`);
  }
  return o;
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const dist = path.join(REPO, 'dist', 'src');
  if (!fs.existsSync(path.join(dist, 'engine', 'index.js')))
    throw new Error('dist/ is missing: run `npm run build` first');
  if (!fs.existsSync(JUDGE_FILE))
    throw new Error(`the judge ${JUDGE_FILE} is missing (../shared must sit beside the repository)`);
  const engine = require(path.join(dist, 'engine'));
  const plugins = require(path.join(dist, 'plugins'));
  const log = (m) => process.stderr.write(`${m}\n`);
  const { tf, backend } = await engine.initBackend(o.backend);
  const { registry, note } = await makeRegistry(plugins, log);
  const runtime = { tf, backend, logger: { info: () => undefined, warn: log, error: log } };
  const judge = await loadJudge(plugins, tf);
  const t0 = Date.now();
  const res = await measureAll({ engine, tf, registry, runtime, judge, scale: o, only: o.only, log });
  res.totalSeconds = (Date.now() - t0) / 1000;
  const { grids, ...json } = res;
  process.stdout.write(JSON.stringify(json, null, 2) + '\n');
  if (o.write) {
    const cmd =
      `npm run build && nice node scripts/measure-controls.js ${process.argv.slice(2).join(' ')}`.trim();
    writeReport(res, { ...o, encodeGrid: engine.encodeGrid }, cmd, note, machineLine());
    log(`wrote ${path.join(o.out, 'RESULTS.md')} and ${path.join(o.out, 'results')}/`);
  }
  await registry.dispose();
}

module.exports = { measureAll, shares, klToUniform, klTo, makeRegistry, EVENS, SKEWED };

if (require.main === module) {
  main().catch((e) => {
    process.stderr.write(`${e && e.stack ? e.stack : e}\n`);
    process.exit(1);
  });
}
