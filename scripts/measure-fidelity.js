#!/usr/bin/env node
'use strict';
/**
 * Issue #14 on an unconditional MNIST generator, judged by the independent ml5 MNIST MLP
 * (../shared/models/mnist-mlp), never the control's own `mnist-digit`. Two generators:
 * `mnist-dcgan` (the default; plugins/mnist-dcgan: the digit is entangled in the whole latent,
 * the classifiers are unsure of many samples, and the digits are almost uniform) and
 * `mnist-biased` (`--generator mnist-biased`; plugins/mnist-biased: trained on imbalanced digits,
 * so debias to uniform has a change to make that is larger than the classifiers' disagreement):
 *
 *   - oneStep: a prompt trained for one step shows the same images as its base generator on
 *     the same seed (mean |Δ| per pixel; the flow is the identity at creation);
 *   - target7: classifier target 7, with the default augmentations; the judged effect
 *     (Δ share of 7s by the judge) against the effect the control's classifier sees;
 *   - target7Plain: the same with `augment: { copies: 0 }` (the energy of the bare image);
 *   - debias: uniform over the digits with the defaults (counted marginal, augmentations):
 *     KL(marginal ‖ uniform), judged and by the control's classifier, before and after;
 *   - debiasMean: the same with the earlier fit (`marginal: 'mean'`, no augmentations);
 *   - debiasTarget: debias toward a skewed target (7s at 4/13): KL to it, judged and seen;
 *   - audit: the side-effect audit of the target7 prompt (every classifier that fits 28×28:
 *     `mnist-digit` and `mnist-ink`, a stroke-weight classifier defined here), largest first.
 *
 * Usage (after `npm run build`):
 *   nice node scripts/measure-fidelity.js [--generator mnist-dcgan|mnist-biased] [--steps 600]
 *        [--batch 64] [--blocks 8] [--hidden 256] [--lr 0.001] [--eval 5000] [--calibration 4096]
 *        [--only a,b] [--debias-params JSON] [--out docs] [--no-write]
 * It rewrites only its generator's generated block of docs/RESULTS-FIDELITY.md (between the
 * `<!-- generated: NAME -->` markers; the hand-written reading around it stays) and
 * docs/results/fidelity/ (mnist-dcgan) or docs/results/fidelity/NAME/ (another generator).
 * The experiments (`measureFidelity`) take the engine and the audit function as arguments,
 * so the small-scale test (test/plugins/controls/fidelity.test.ts) runs the same code from src/.
 */
const fs = require('fs');
const path = require('path');
const { REPO, JUDGE_FILE, shares, klToUniform, klTo, loadJudge, machineLine } = require('./lib/judge');
const { makeRegistry } = require('./lib/registry');
const { writeReport } = require('./lib/fidelity-report');

const GENERATORS = ['mnist-dcgan', 'mnist-biased'];
/** Plugin folder and one line on each generator, for the report. */
const ABOUT = {
  'mnist-dcgan': 'plugins/mnist-dcgan, the digit entangled in the latent, its digits almost uniform',
  'mnist-biased':
    'plugins/mnist-biased, the digit entangled in the latent, trained on imbalanced digits (share of digit k ∝ 0.8^k)',
};
const EVAL_SEED = 7919;
const ALL = ['oneStep', 'target7', 'target7Plain', 'debias', 'debiasMean', 'debiasTarget', 'audit'];
/** The skewed target of debiasTarget: 7s four times as likely as each other digit (4/13 ≈ 31 %). */
const SKEWED = [1, 1, 1, 1, 1, 1, 1, 4, 1, 1];

/**
 * `mnist-ink`: how much ink a digit has (light / medium / heavy), a smooth classifier of the
 * mean pixel value. Thresholds are the terciles of the base generator's ink (measured on
 * 4,000 mnist-dcgan samples: 0.12 and 0.15). An attribute nobody steers: the audit shows
 * how a digit prompt moves it (a 7 has less ink than an 8).
 */
function inkClassifierPlugin() {
  const names = ['light', 'medium', 'heavy'];
  return {
    name: '@measure/mnist-ink',
    version: '0.0.0',
    dir: path.join(REPO, 'plugins', 'mnist'),
    source: 'BUILTIN',
    status: 'LOADED',
    definition: {
      apiVersion: 1,
      classifiers: [
        {
          name: 'mnist-ink',
          title: 'MNIST ink (light / medium / heavy)',
          classNames: names,
          fits: (o) => o.width === 28 && o.height === 28,
          load(ctx) {
            const { tf } = ctx;
            // logits of an ordinal model: l_k = s·(k·ink − Σ_{j<k} t_j), softmax over k
            const t = [0.12, 0.15];
            const s = 120;
            const logits = (x) => {
              const ink = tf.mean(tf.reshape(x, [x.shape[0], -1]), 1, true);
              return tf.concat(
                [
                  tf.zerosLike(ink),
                  tf.mul(tf.sub(ink, t[0]), s),
                  tf.mul(tf.sub(tf.mul(ink, 2), t[0] + t[1]), s),
                ],
                1,
              );
            };
            return {
              classNames: names.slice(),
              numClasses: 3,
              probs: (x) => tf.tidy(() => tf.softmax(logits(x))),
              logProbs: (x) => tf.tidy(() => tf.logSoftmax(logits(x))),
              classIndex: (c) => {
                const i = typeof c === 'number' ? c : names.indexOf(c);
                if (!(i >= 0 && i < 3)) throw new Error(`mnist-ink: unknown class ${JSON.stringify(c)}`);
                return i;
              },
              dispose: () => undefined,
            };
          },
        },
      ],
    },
  };
}

/**
 * Runs the experiments.
 * @param {object} o { engine, tf, registry (with the generator, mnist-digit, controls, mnist-ink), runtime,
 *   judge: images → predicted digits, audit: auditSideEffects, scale, generator? (default
 *   mnist-dcgan), only?, log? }
 */
async function measureFidelity(o) {
  const { engine, tf, registry, runtime, judge, scale } = o;
  const generatorName = o.generator || GENERATORS[0];
  const log = o.log || (() => undefined);
  const only = o.only || ALL;
  const gen = await registry.loadGenerator(generatorName, runtime);
  const def = registry.generator(generatorName).definition;
  const info = { name: generatorName, latentDim: def.latentDim, output: def.output };
  const generator = { latentDim: def.latentDim, generate: (z) => gen.generate(z), dispose: () => undefined };
  const own = await registry.loadClassifier('mnist-digit', info, runtime);

  /** Images of G∘f (or G) on the evaluation ε, as a tensor (caller disposes). */
  async function imagesOf(flow, count = scale.eval, seed = EVAL_SEED) {
    const b = await engine.sampleImages({ tf, flow, generator, latentDim: def.latentDim, count, seed });
    return { t: tf.tensor4d(b.data, [b.n, b.height, b.width, b.channels]), batch: b };
  }
  /** Judge's and the control classifier's digit shares on images. */
  async function seen(t) {
    const judged = shares(await judge(t));
    const p = tf.tidy(() => tf.argMax(own.probs(t), 1));
    const mine = shares(Array.from(await p.data()));
    p.dispose();
    return { judge: judged, control: mine };
  }
  /** Share of images on which the judge and the control's classifier pick the same digit. */
  async function agreement(t) {
    const j = await judge(t);
    const p = tf.tidy(() => tf.argMax(own.probs(t), 1));
    const mine = Array.from(await p.data());
    p.dispose();
    return mine.filter((c, i) => c === j[i]).length / Math.max(mine.length, 1);
  }
  async function control(name, params, weight) {
    const c = await registry.loadControl(name, params, info, runtime, { cache: false });
    return { name, params, weight, c };
  }
  async function trainFlow(terms, seed, steps = scale.steps) {
    const flow = new engine.Flow(tf, {
      dim: def.latentDim,
      blocks: scale.blocks,
      hidden: scale.hidden,
      seed,
    });
    const t0 = Date.now();
    await engine.train({
      flow,
      generator,
      terms: terms.map((t) => ({
        name: t.name,
        weight: t.weight,
        energy: (im, ex) => t.c.energy(im, ex),
        observe: t.c.observe && ((im) => t.c.observe(im)),
      })),
      steps,
      batchSize: scale.batch,
      learningRate: scale.lr,
      seed,
      progressEvery: Math.max(1, Math.floor(steps / 4)),
      onProgress: (p) =>
        log(
          `  step ${p.step}/${p.totalSteps} loss ${p.loss.toFixed(3)} (${p.stepsPerSecond.toFixed(2)} steps/s)`,
        ),
    });
    return { flow, seconds: (Date.now() - t0) / 1000 };
  }

  const res = {
    generator: generatorName,
    scale: { ...scale },
    backend: runtime.backend,
    experiments: [],
    grids: {},
  };
  const baseImgs = await imagesOf(undefined);
  const base = await seen(baseImgs.t);
  res.base = {
    judge: base.judge,
    control: base.control,
    klJudge: klToUniform(base.judge),
    klControl: klToUniform(base.control),
    agreement: await agreement(baseImgs.t),
  };
  res.grids.base = (await imagesOf(undefined, 64)).batch;

  if (only.includes('oneStep')) {
    log('one training step: same seed, same images?');
    const t = await control(
      'classifier',
      { targets: [{ classifier: 'mnist-digit', classes: [7] }] },
      scale.classifierWeight,
    );
    const f = await trainFlow([t], 42, 1);
    const a = await imagesOf(undefined, 256, 11);
    const b = await imagesOf(f.flow, 256, 11);
    const d = tf.tidy(() => tf.mean(tf.abs(tf.sub(a.t, b.t))).dataSync()[0]);
    res.experiments.push({
      id: 'oneStep',
      title: 'one training step (classifier target 7)',
      meanAbsDiff: d,
      samples: 256,
    });
    tf.dispose([a.t, b.t]);
    t.c.dispose();
    f.flow.dispose();
  }

  let target7Flow = null;
  for (const [id, augment] of [
    ['target7', undefined],
    ['target7Plain', { copies: 0 }],
  ]) {
    if (!only.includes(id) && !(id === 'target7' && only.includes('audit'))) continue;
    log(`classifier: target 7 (${augment ? 'no augmentations' : 'default augmentations'})`);
    const t = await control(
      'classifier',
      { targets: [{ classifier: 'mnist-digit', classes: [7] }], ...(augment ? { augment } : {}) },
      scale.classifierWeight,
    );
    const f = await trainFlow([t], 42);
    const imgs = await imagesOf(f.flow);
    const after = await seen(imgs.t);
    imgs.t.dispose();
    const judged = after.judge[7] - base.judge[7];
    const controlSees = after.control[7] - base.control[7];
    res.experiments.push({
      id,
      title: `classifier: digit 7${augment ? ', augment: { copies: 0 }' : ''}`,
      params: t.params,
      weight: t.weight,
      seconds: f.seconds,
      before: { judge7: base.judge[7], control7: base.control[7] },
      after: { judge7: after.judge[7], control7: after.control[7] },
      judgedShareOfEffect: controlSees > 0 ? judged / controlSees : null,
      judgeAfter: after.judge,
    });
    res.grids[id] = (await imagesOf(f.flow, 64)).batch;
    t.c.dispose();
    if (id === 'target7') target7Flow = f.flow;
    else f.flow.dispose();
  }

  if (only.includes('audit') && target7Flow) {
    log('side-effect audit of the target-7 prompt');
    const imgs = await imagesOf(target7Flow);
    const audit = await o.audit({
      tf,
      registry,
      runtime,
      generator: info,
      steered: ['mnist-digit'],
      base: baseImgs.t,
      prompt: imgs.t,
    });
    imgs.t.dispose();
    res.experiments.push({ id: 'audit', title: 'side-effect audit of the target-7 prompt', audit });
  }
  if (target7Flow) target7Flow.dispose();

  for (const [id, extra, target] of [
    ['debias', {}, null],
    ['debiasMean', { marginal: 'mean', augment: { copies: 0 } }, null],
    ['debiasTarget', {}, SKEWED],
  ]) {
    if (!only.includes(id)) continue;
    log(`debias: ${target ? 'skewed target' : 'uniform'} (${id})`);
    const klT = (m) => (target ? klTo(m, target) : klToUniform(m));
    // scale.debiasParams (--debias-params JSON): more debias params for every debias row, to try settings
    const d = await control(
      'debias',
      {
        attributes: [{ classifier: 'mnist-digit', ...(target ? { target } : {}) }],
        samples: scale.calibration,
        ...extra,
        ...(scale.debiasParams || {}),
      },
      scale.debiasWeight,
    );
    await d.c.calibrate((n) => engine.sampleBase(generator, n, 1001, { tf, latentDim: def.latentDim }));
    const state = d.c.calibrationState();
    const f = await trainFlow([d], 44);
    const imgs = await imagesOf(f.flow);
    const after = await seen(imgs.t);
    const evaluated = await d.c.evaluate(imgs.t);
    imgs.t.dispose();
    const kj = [klT(base.judge), klT(after.judge)];
    const kc = [klT(base.control), klT(after.control)];
    const cut = (k) => 1 - k[1] / k[0];
    res.experiments.push({
      id,
      title: target
        ? 'debias: skewed target (7s at 4/13 ≈ 31 %, other digits 1/13 each)'
        : `debias: uniform over the 10 digits${id === 'debiasMean' ? " (marginal: 'mean', no augmentations: the earlier control)" : ''}`,
      target: target ? target.slice() : null,
      params: d.params,
      weight: d.weight,
      seconds: f.seconds,
      fit: state.attributes[0].fit,
      beta: state.attributes[0].beta,
      adaptive: evaluated.attributes[0].adaptive,
      before: { klJudge: kj[0], klControl: kc[0] },
      after: { klJudge: kj[1], klControl: kc[1], softMarginal: evaluated.softMarginal },
      judgedCut: cut(kj),
      controlCut: cut(kc),
      judgedShareOfEffect: cut(kc) > 0 ? cut(kj) / cut(kc) : null,
      judgeAfter: after.judge,
      controlAfter: after.control,
    });
    res.grids[id] = (await imagesOf(f.flow, 64)).batch;
    d.c.dispose();
    f.flow.dispose();
  }
  baseImgs.t.dispose();
  return res;
}

/** Registry of measure-controls (with plugins/mnist-dcgan and plugins/mnist-biased) plus the mnist-ink classifier. */
async function makeFidelityRegistry(plugins, log) {
  const { registry, note } = await makeRegistry(plugins, log); // includes both generators
  registry.add(inkClassifierPlugin());
  return { registry, note };
}

function parseArgs(argv) {
  const o = {
    generator: GENERATORS[0],
    steps: 600,
    batch: 64,
    blocks: 8,
    hidden: 256,
    lr: 0.001,
    eval: 5000,
    calibration: 4096,
    classifierWeight: 2,
    debiasWeight: 1.5,
    backend: 'wasm',
    out: path.join(REPO, 'docs'),
    write: true,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => argv[++i];
    if (a === '--generator') o.generator = next();
    else if (a === '--steps') o.steps = Number(next());
    else if (a === '--batch') o.batch = Number(next());
    else if (a === '--blocks') o.blocks = Number(next());
    else if (a === '--hidden') o.hidden = Number(next());
    else if (a === '--lr') o.lr = Number(next());
    else if (a === '--eval') o.eval = Number(next());
    else if (a === '--calibration') o.calibration = Number(next());
    else if (a === '--classifier-weight') o.classifierWeight = Number(next());
    else if (a === '--debias-weight') o.debiasWeight = Number(next());
    else if (a === '--debias-params') o.debiasParams = JSON.parse(next());
    else if (a === '--backend') o.backend = next();
    else if (a === '--out') o.out = path.resolve(next());
    else if (a === '--only') o.only = next().split(',');
    else if (a === '--no-write') o.write = false;
    else throw new Error(`unknown argument ${a}`);
  }
  if (!GENERATORS.includes(o.generator))
    throw new Error(`--generator must be one of ${GENERATORS.join(', ')}`);
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
  const { auditSideEffects } = require(path.join(dist, 'jobs', 'side-effect-audit'));
  const log = (m) => process.stderr.write(`${m}\n`);
  const { tf, backend } = await engine.initBackend(o.backend);
  const { registry } = await makeFidelityRegistry(plugins, log);
  const runtime = { tf, backend, logger: { info: () => undefined, warn: log, error: log } };
  const judge = await loadJudge(plugins, tf);
  const t0 = Date.now();
  const res = await measureFidelity({
    engine,
    tf,
    registry,
    runtime,
    judge,
    audit: auditSideEffects,
    scale: o,
    generator: o.generator,
    only: o.only,
    log,
  });
  res.totalSeconds = (Date.now() - t0) / 1000;
  const { grids, ...json } = res;
  process.stdout.write(JSON.stringify(json, null, 2) + '\n');
  if (o.write) {
    const cmd =
      `npm run build && nice node scripts/measure-fidelity.js ${process.argv.slice(2).join(' ')}`.trim();
    writeReport(
      res,
      {
        ...o,
        encodeGrid: engine.encodeGrid,
        evalSeed: EVAL_SEED,
        about: ABOUT[res.generator],
        defaultGenerator: GENERATORS[0],
      },
      cmd,
      machineLine(),
    );
    log(`wrote ${path.join(o.out, 'RESULTS-FIDELITY.md')}`);
  }
  await registry.dispose();
}

module.exports = { measureFidelity, makeFidelityRegistry, inkClassifierPlugin, ALL, GENERATORS };

if (require.main === module) {
  main().catch((e) => {
    process.stderr.write(`${e && e.stack ? e.stack : e}\n`);
    process.exit(1);
  });
}
