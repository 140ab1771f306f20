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
 * small-scale test (test/controls/effects.test.ts) runs the same code from src/.
 */
const fs = require('fs');
const path = require('path');

const REPO = path.resolve(__dirname, '..');
const JUDGE_FILE = path.resolve(REPO, '..', 'shared', 'models', 'mnist-mlp', 'model.json');
const EVENS = [0, 2, 4, 6, 8];

/** Share of each digit among predictions. */
function shares(pred, k = 10) {
  const c = new Array(k).fill(0);
  for (const p of pred) c[p] += 1;
  return c.map((x) => x / Math.max(pred.length, 1));
}

/** KL(p ‖ q) in nats (q normalised). */
function klTo(p, q) {
  const qs = q.reduce((a, b) => a + b, 0);
  let d = 0;
  p.forEach((pi, i) => {
    if (pi > 0) d += pi * Math.log(pi / (q[i] / qs));
  });
  return d;
}

/** The skewed target of the `debiasTarget` experiment: 7s four times as likely as each other digit. */
const SKEWED = [1, 1, 1, 1, 1, 1, 1, 4, 1, 1];

/** KL(p restricted to `over`, renormalised ‖ uniform over `over`), nats. */
function klToUniform(p, over) {
  const idx = over || p.map((_, i) => i);
  const total = idx.reduce((s, i) => s + p[i], 0);
  let d = 0;
  for (const i of idx) {
    const pi = p[i] / Math.max(total, 1e-12);
    if (pi > 0) d += pi * Math.log(pi * idx.length);
  }
  return d;
}

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
  const only = o.only || ['target7', 'target38', 'target38Plain', 'target38Balanced', 'debias', 'debiasTarget', 'iterative'];
  const genName = scale.generator || 'mnist';
  const gen = await registry.loadGenerator(genName, runtime);
  const def = registry.generator(genName).definition;
  const info = { name: genName, latentDim: def.latentDim, output: def.output };
  const generator = { latentDim: def.latentDim, generate: (z) => gen.generate(z), dispose: () => undefined };
  const EVAL_SEED = 7919;

  /** Judge's digit shares on the evaluation ε (and what `evaluator`, a control's evaluate(), reports there). */
  async function judged(g, flow, evaluator) {
    const batch = await engine.sampleImages({ tf, flow, generator: g, latentDim: def.latentDim, count: scale.eval, seed: EVAL_SEED });
    const t = tf.tensor4d(batch.data, [batch.n, batch.height, batch.width, batch.channels]);
    const pred = await judge(t);
    const evaluated = evaluator ? await evaluator.evaluate(t) : undefined;
    t.dispose();
    const grid = await engine.sampleImages({ tf, flow, generator: g, latentDim: def.latentDim, count: 64, seed: EVAL_SEED });
    return { shares: shares(pred), grid, evaluated };
  }

  async function control(name, params, weight) {
    const c = await registry.loadControl(name, params, info, runtime, { cache: false });
    return { name, params, weight, c };
  }

  async function trainFlow(g, terms, seed) {
    const flow = new engine.Flow(tf, { dim: def.latentDim, blocks: scale.blocks, hidden: scale.hidden, seed });
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
        log(`  step ${p.step}/${p.totalSteps} loss ${p.loss.toFixed(3)} energies ${p.energies.map((e) => e.value.toFixed(3)).join(' ')} (${p.stepsPerSecond.toFixed(2)} steps/s)`);
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
    const d = await control('debias', { attributes, samples: scale.calibration, ...debiasExtra }, scale.debiasWeight);
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
    const t = await control('classifier', { targets: [{ classifier: 'mnist-digit', classes: [7] }] }, scale.classifierWeight);
    const f = await trainFlow(generator, [t], 42);
    const after = await judged(generator, f.flow);
    results.experiments.push({ id: 'target7', title: 'classifier: digit 7', params: t.params, weight: t.weight, seconds: f.seconds, before: { share7: base.shares[7] }, after: { share7: after.shares[7] }, judgeAfter: after.shares });
    results.grids.target7 = after.grid;
    t.c.dispose();
    f.flow.dispose();
  }
  if (only.includes('target38')) {
    log('classifier: 3 or 8 (balance "equal", the default)');
    const t = await control('classifier', { targets: [{ classifier: 'mnist-digit', classes: [3, 8] }], ...(scale.balanceRate ? { balanceRate: scale.balanceRate } : {}) }, scale.classifierWeight);
    const f = await trainFlow(generator, [t], 43);
    const after = await judged(generator, f.flow);
    results.experiments.push({ id: 'target38', title: 'classifier: 3 or 8', params: t.params, weight: t.weight, seconds: f.seconds, before: { share3: base.shares[3], share8: base.shares[8] }, after: { share3: after.shares[3], share8: after.shares[8] }, judgeAfter: after.shares, balanceBeta: t.c.trainingState().balance[0] });
    results.grids.target38 = after.grid;
    t.c.dispose();
    f.flow.dispose();
  }
  if (only.includes('target38Plain') || only.includes('target38Balanced')) {
    log('classifier: 3 or 8 with balance "none" (the paper\'s energy alone)');
    const t = await control('classifier', { targets: [{ classifier: 'mnist-digit', classes: [3, 8], balance: 'none' }] }, scale.classifierWeight);
    const f = await trainFlow(generator, [t], 43);
    const after = await judged(generator, f.flow);
    results.experiments.push({ id: 'target38Plain', title: 'classifier: 3 or 8, balance none', params: t.params, weight: t.weight, seconds: f.seconds, before: { share3: base.shares[3], share8: base.shares[8] }, after: { share3: after.shares[3], share8: after.shares[8] }, judgeAfter: after.shares });
    results.grids.target38Plain = after.grid;
    if (only.includes('target38Balanced')) {
      // Reverse KL is mode-seeking: without balance the flow may favour one of the alternatives.
      // The paper's remedy is iterative: debias over the same classes on top of the first prompt.
      log('iterative: debias over [3, 8] on top of the plain "3 or 8" prompt');
      const composed = engine.composeGenerator(f.flow, generator);
      const d = await control('debias', { attributes: [{ classifier: 'mnist-digit', classes: [3, 8] }], samples: scale.calibration, ...debiasExtra }, scale.debiasWeight);
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
    const { d, state, calibrationSeconds, baseSeen, f, after } = await debiasRun(generator, [{ classifier: 'mnist-digit' }], 1001, 44);
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
    const { d, state, baseSeen, f, after } = await debiasRun(generator, [{ classifier: 'mnist-digit', target: SKEWED }], 1003, 47);
    results.experiments.push({
      id: 'debiasTarget',
      title: 'debias: skewed target (7s at 4/13 ≈ 31 %, other digits 1/13 each)',
      params: d.params,
      weight: d.weight,
      seconds: f.seconds,
      beta: state.attributes[0].beta,
      fit: state.attributes[0].fit,
      before: { klTarget: klTo(base.shares, SKEWED), share7: base.shares[7], controlKl: baseSeen.evaluated.kl },
      after: { klTarget: klTo(after.shares, SKEWED), share7: after.shares[7], controlKl: after.evaluated.kl },
      judgeAfter: after.shares,
    });
    results.grids.debiasTarget = after.grid;
    d.c.dispose();
    f.flow.dispose();
  }
  if (only.includes('iterative')) {
    log('iterative: classifier "even digits", then debias over the even digits on top of it');
    const t = await control('classifier', { targets: [{ classifier: 'mnist-digit', classes: EVENS, balance: 'none' }] }, scale.classifierWeight);
    const f1 = await trainFlow(generator, [t], 45);
    const first = await judged(generator, f1.flow);
    const composed = engine.composeGenerator(f1.flow, generator);
    const { d, state, baseSeen: firstSeen, f: f2, after: second } = await debiasRun(composed, [{ classifier: 'mnist-digit', classes: EVENS }], 1002, 46);
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
      first: { evenShare: even(first.shares), evenKlUniform: klToUniform(first.shares, EVENS), controlKl: firstSeen.evaluated.kl, judge: first.shares },
      after: { evenShare: even(second.shares), evenKlUniform: klToUniform(second.shares, EVENS), controlKl: second.evaluated.kl },
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
  const o = { steps: 400, batch: 16, blocks: 8, hidden: 256, lr: 0.002, eval: 1000, calibration: 1024, classifierWeight: 5, debiasWeight: 1.5, backend: 'wasm', out: path.join(REPO, 'docs'), write: true };
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

/** A registry with the tfjs-model, mnist and controls plugins; offers `mnist-digit` from the model file if plugins/mnist does not. */
async function makeRegistry(plugins, log) {
  const registry = new plugins.PluginRegistry({ logger: { info: () => undefined, warn: log, error: log } });
  for (const dir of ['tfjs-model', 'mnist', 'mnist-dcgan', 'mnist-biased', 'controls']) {
    const p = registry.add(await plugins.loadPluginPackage(path.join(REPO, 'plugins', dir), { source: 'BUILTIN' }));
    if (p.status !== 'LOADED') throw new Error(`plugin ${dir} failed to load: ${p.error}`);
  }
  let note = null;
  if (!registry.classifier('mnist-digit')) {
    const tfjsModel = require(path.join(REPO, 'plugins', 'tfjs-model'));
    const manifest = { kind: 'classifier', name: 'mnist-digit', model: path.join(REPO, 'plugins', 'mnist', 'models', 'classifier', 'model.json'), input: { width: 28, height: 28, channels: 1 }, classNames: '0123456789'.split(''), outputs: 'logits' };
    registry.add({ name: '@measure/mnist-classifier', version: '0.0.0', dir: path.join(REPO, 'plugins', 'mnist'), source: 'BUILTIN', status: 'LOADED', definition: { apiVersion: 1, classifiers: [{ name: 'mnist-digit', title: 'MNIST digit', classNames: manifest.classNames, load: (ctx) => tfjsModel.loadClassifier(ctx, manifest) }] } });
    note = 'plugins/mnist did not offer the `mnist-digit` classifier: it was loaded from plugins/mnist/models/classifier/model.json directly';
  }
  return { registry, note };
}

const pct = (x) => `${(100 * x).toFixed(1)} %`;
/** "53.1 % lower" / "12.0 % higher" for a change from `before` to `after`. */
const change = (before, after) => (after <= before ? `${pct(1 - after / before)} lower` : `${pct(after / before - 1)} higher`);
const fmtShares = (s) => s.map((x, i) => `${i}: ${(100 * x).toFixed(0)}`).join(' · ');

function writeReport(res, o, cmd, note, machine) {
  const dir = path.join(o.out, 'results');
  fs.mkdirSync(dir, { recursive: true });
  for (const [name, batch] of Object.entries(res.grids)) fs.writeFileSync(path.join(dir, `${name}.png`), o.encodeGrid(batch, 8));
  const { grids, ...json } = res;
  fs.writeFileSync(path.join(dir, 'metrics.json'), JSON.stringify(json, null, 2) + '\n');
  const e = Object.fromEntries(res.experiments.map((x) => [x.id, x]));
  const rows = [];
  if (e.target7) rows.push(`| classifier \`{ targets: [{ classifier: 'mnist-digit', classes: [7] }] }\`, λ = ${e.target7.weight} | share of 7s | ${pct(e.target7.before.share7)} | **${pct(e.target7.after.share7)}** | ≥ 85 % | ${e.target7.seconds.toFixed(0)} s | ![](results/base.png) → ![](results/target7.png) |`);
  if (e.target38) rows.push(`| classifier \`classes: [3, 8]\` (balance \`'equal'\`, the default), λ = ${e.target38.weight} | share of 3s / 8s | ${pct(e.target38.before.share3)} / ${pct(e.target38.before.share8)} | **${pct(e.target38.after.share3)} / ${pct(e.target38.after.share8)}** | each ≥ 30 % | ${e.target38.seconds.toFixed(0)} s | ![](results/target38.png) |`);
  if (e.target38Plain) rows.push(`| classifier \`classes: [3, 8], balance: 'none'\` (the paper's energy alone), λ = ${e.target38Plain.weight} | share of 3s / 8s | ${pct(e.target38Plain.before.share3)} / ${pct(e.target38Plain.before.share8)} | **${pct(e.target38Plain.after.share3)} / ${pct(e.target38Plain.after.share8)}** | (reference) | ${e.target38Plain.seconds.toFixed(0)} s | ![](results/target38Plain.png) |`);
  if (e.target38Balanced) {
    const x = e.target38Balanced;
    rows.push(`| then debias \`{ classifier: 'mnist-digit', classes: [3, 8] }\`, λ = ${x.weight}, on G∘f₁ of the row above | share of 3s / 8s | after f₁: ${pct(x.first.share3)} / ${pct(x.first.share8)} | **${pct(x.after.share3)} / ${pct(x.after.share8)}** | each ≥ 30 % | ${x.seconds.toFixed(0)} s | ![](results/target38Balanced.png) |`);
  }
  if (e.debias) rows.push(`| debias \`{ attributes: [{ classifier: 'mnist-digit' }] }\` (uniform), λ = ${e.debias.weight} | KL(judge's digit marginal ‖ uniform) | ${e.debias.before.klUniform.toFixed(4)} (control's own classifier: ${e.debias.before.controlKl.toFixed(4)}) | **${e.debias.after.klUniform.toFixed(4)}** (${change(e.debias.before.klUniform, e.debias.after.klUniform)}; control's classifier: ${e.debias.after.controlKl.toFixed(4)}) | ≥ 50 % lower | ${e.debias.seconds.toFixed(0)} s + ${e.debias.calibrationSeconds.toFixed(0)} s fit | ![](results/debias.png) |`);
  if (e.debiasTarget) {
    const x = e.debiasTarget;
    rows.push(`| debias \`target: [1,1,1,1,1,1,1,4,1,1]\`, λ = ${x.weight} | KL(judge's marginal ‖ target); share of 7s | ${x.before.klTarget.toFixed(4)}; ${pct(x.before.share7)} | **${x.after.klTarget.toFixed(4)}; ${pct(x.after.share7)}** (KL ${change(x.before.klTarget, x.after.klTarget)}) | (extra) | ${x.seconds.toFixed(0)} s | ![](results/debiasTarget.png) |`);
  }
  if (e.iterative) {
    const it = e.iterative;
    rows.push(`| iterative: classifier evens, \`balance: 'none'\` (λ = ${it.weight[0]}), then debias \`classes: [0,2,4,6,8]\` (λ = ${it.weight[1]}) on G∘f₁ | even share; KL(even marginal ‖ uniform) | base ${pct(it.before.evenShare)}, ${it.before.evenKlUniform.toFixed(4)}; after f₁ ${pct(it.first.evenShare)}, ${it.first.evenKlUniform.toFixed(4)} | **${pct(it.after.evenShare)}, ${it.after.evenKlUniform.toFixed(4)}** | ≥ 85 % even, KL below f₁'s | ${it.seconds.toFixed(0)} s (both) | ![](results/evens.png) → ![](results/evensDebiased.png) |`);
  }
  const detail = res.experiments.map((x) => `- **${x.title}**: judge's digit shares after: ${fmtShares(x.judgeAfter)}${x.first ? `; after the first prompt: ${fmtShares(x.first.judge)}` : ''}${x.beta ? `; β̂ = [${x.beta.map((b) => b.toFixed(2)).join(', ')}]` : ''}${x.fit && x.fit.shrinkage != null ? ` (noise shrinkage s = ${x.fit.shrinkage.toFixed(2)}, T² = ${Number(x.fit.t2).toFixed(1)})` : ''}`);
  const md = `# Measured effects of the classifier and debias controls

Generated by \`scripts/measure-controls.js\` (do not edit by hand; rerun it).

Generator: \`mnist\` (plugins/mnist). Controls: \`classifier\` and \`debias\` of
\`@promptgen/controls\` (plugins/controls) over the \`mnist-digit\` classifier.
**Judge: the independent ml5 MNIST MLP** (\`../shared/models/mnist-mlp\`), never the
control's own classifier. Every share below is the judge's prediction over
${res.scale.eval} samples of a fixed evaluation ε buffer (seed 7919), the same ε for
the base generator and every prompt.
${note ? `\nNote: ${note}.\n` : ''}
Command:

    ${cmd}

Training: flow of ${res.scale.blocks} blocks, ${res.scale.hidden} hidden units, batch ${res.scale.batch},
${res.scale.steps} steps, Adam lr ${res.scale.lr} decayed linearly to 0, clip 1.0; classifier λ =
${res.scale.classifierWeight}, debias λ = ${res.scale.debiasWeight}, β̂ fitted on ${res.scale.calibration} base samples with the default noise shrinkage${res.scale.debiasAdaptive ? ', debias with `adaptive: true`' : ''}.
Backend: ${res.backend}. Machine: ${machine}. Training times are wall-clock on that
machine while other work shared it.

| prompt | measure (judge) | base generator | prompt | bar | training time | samples (8×8, same ε) |
|---|---|---|---|---|---|---|
${rows.join('\n')}

Judge's base-generator digit shares: ${fmtShares(res.base.judge)}.

${detail.join('\n')}

Grids: \`docs/results/base.png\` (base generator), \`target7.png\`, \`target38.png\`, \`target38Plain.png\`,
\`debias.png\`, \`evens.png\` (first prompt of the iterative run) and
\`evensDebiased.png\` (the second prompt on top of it). All numbers:
\`docs/results/metrics.json\`.

The unconditional generator \`mnist-dcgan\` (issue #14: same seed before and after, augmented
energies, counted debias, side-effect audit): [RESULTS-FIDELITY.md](RESULTS-FIDELITY.md).
`;
  fs.writeFileSync(path.join(o.out, 'RESULTS.md'), md);
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const dist = path.join(REPO, 'dist', 'src');
  if (!fs.existsSync(path.join(dist, 'engine', 'index.js'))) throw new Error('dist/ is missing: run `npm run build` first');
  if (!fs.existsSync(JUDGE_FILE)) throw new Error(`the judge ${JUDGE_FILE} is missing (../shared must sit beside the repository)`);
  const engine = require(path.join(dist, 'engine'));
  const plugins = require(path.join(dist, 'plugins'));
  const log = (m) => process.stderr.write(`${m}\n`);
  const { tf, backend } = await engine.initBackend(o.backend);
  const { registry, note } = await makeRegistry(plugins, log);
  const runtime = { tf, backend, logger: { info: () => undefined, warn: log, error: log } };
  const judgeModel = await plugins.createAssetResolver(path.dirname(JUDGE_FILE), tf).loadLayersModel(path.basename(JUDGE_FILE));
  const judge = async (images) => {
    const p = tf.tidy(() => tf.argMax(judgeModel.predict(tf.reshape(images, [images.shape[0], 784])), 1));
    const out = Array.from(await p.data());
    p.dispose();
    return out;
  };
  const t0 = Date.now();
  const res = await measureAll({ engine, tf, registry, runtime, judge, scale: o, only: o.only, log });
  res.totalSeconds = (Date.now() - t0) / 1000;
  const { grids, ...json } = res;
  process.stdout.write(JSON.stringify(json, null, 2) + '\n');
  if (o.write) {
    const cmd = `npm run build && nice node scripts/measure-controls.js ${process.argv.slice(2).join(' ')}`.trim();
    const os = require('os');
    const machine = `${os.cpus().length} × ${os.cpus()[0] ? os.cpus()[0].model : 'cpu'}, Node ${process.version}`;
    writeReport(res, { ...o, encodeGrid: engine.encodeGrid }, cmd, note, machine);
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
