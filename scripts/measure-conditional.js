#!/usr/bin/env node
'use strict';
/**
 * Measures conditional prompts on the bundled MNIST generator (the testbed of
 * issue #19): `mnist-slant` (conditional on a target slant) with and without
 * the paired `mnist-same-digit` energy. For each run: requested vs measured
 * slant per level across the trained range (slope), and how often a sample keeps
 * its digit across conditions, judged by the INDEPENDENT ml5 MNIST MLP
 * (../shared/models/mnist-mlp) and by the control's own classifier. Writes
 * docs/results/conditional*.png grids (rows = seeds, columns = conditions) and
 * prints the figures as JSON.
 *
 * Usage (after `npm run build`; the engine and evaluation come from dist/):
 *   nice node scripts/measure-conditional.js [--steps 1500] [--batch 32] [--blocks 8] [--hidden 256]
 *        [--lr 0.001] [--eval 1000] [--weight-slant 1] [--weight-same 1] [--out docs/results] [--no-write]
 *
 * `measureConditional` takes the engine and the evaluation as arguments, so the
 * small-scale test (test/plugins/controls/conditional.test.ts) runs the same code from src/.
 */
const fs = require('fs');
const path = require('path');

const REPO = path.resolve(__dirname, '..');
const JUDGE_FILE = path.resolve(REPO, '..', 'shared', 'models', 'mnist-mlp', 'model.json');
const EVAL_SEED = 7919;

/**
 * @param {object} o
 * @param {object} o.engine  { Flow, train, sampleImages }
 * @param {Function} o.evaluateConditional  src/jobs/conditional-evaluation.ts
 * @param {object} o.tf
 * @param {object} o.registry  a PluginRegistry with the mnist plugin
 * @param {object} o.runtime   { tf, backend, logger }
 * @param {(images) => Promise<number[]>} o.judge  predicted digit per image (independent model)
 * @param {object} o.scale  { steps, batch, blocks, hidden, lr, eval, range, weightSlant, weightSame }
 * @param {string[]} [o.only] runs: 'paired' (slant + same digit), 'slantOnly'
 * @param {number} [o.levels] conditions per sweep for the judged figures (default 5)
 * @param {(msg: string) => void} [o.log]
 */
async function measureConditional(o) {
  const { engine, tf, registry, runtime, judge, scale } = o;
  const log = o.log || (() => undefined);
  const only = o.only || ['paired', 'slantOnly'];
  const L = o.levels || 5;
  const gen = await registry.loadGenerator('mnist', runtime);
  const def = registry.generator('mnist').definition;
  const info = { name: 'mnist', latentDim: def.latentDim, output: def.output };
  const generator = { latentDim: def.latentDim, generate: (z) => gen.generate(z), dispose: () => undefined };
  const range = scale.range || 0.2;
  const conditions = Array.from({ length: L }, (_, k) => -range + (2 * range * k) / (L - 1));

  async function run(id, withPair) {
    const slant = await registry.loadControl('mnist-slant', { range }, info, runtime, { cache: false });
    const same = withPair
      ? await registry.loadControl('mnist-same-digit', {}, info, runtime, { cache: false })
      : null;
    const terms = [
      { name: 'mnist-slant', weight: scale.weightSlant, energy: (im, ex) => slant.energy(im, ex) },
    ];
    if (same)
      terms.push({
        name: 'mnist-same-digit',
        weight: scale.weightSame,
        paired: true,
        energy: (im, ex) => same.energy(im, ex),
      });
    const flow = new engine.Flow(tf, {
      dim: def.latentDim,
      blocks: scale.blocks,
      hidden: scale.hidden,
      conditionDim: 1,
      seed: 11,
    });
    const t0 = Date.now();
    let last = null;
    await engine.train({
      flow,
      generator,
      terms,
      steps: scale.steps,
      batchSize: scale.batch,
      learningRate: scale.lr,
      seed: 11,
      sampleCondition: (n, random) => slant.sampleCondition(n, random),
      progressEvery: Math.max(1, Math.floor(scale.steps / 5)),
      onProgress: (p) => {
        last = p;
        log(
          `  [${id}] step ${p.step}/${p.totalSteps} loss ${p.loss.toFixed(3)} energies ${p.energies.map((e) => e.value.toFixed(3)).join(' ')} (${p.stepsPerSecond.toFixed(2)} steps/s)`,
        );
      },
    });
    const seconds = (Date.now() - t0) / 1000;
    const flowK = flow;
    // The product's own per-condition metrics (what a prompt's metrics.conditional holds).
    const metrics = await o.evaluateConditional({
      tf,
      flow: flowK,
      generator,
      latentDim: def.latentDim,
      conditional: { control: slant, name: 'mnist-slant', range: slant.conditionRange() },
      paired: same ? [{ control: same, name: 'mnist-same-digit' }] : [],
      samples: scale.eval,
      seed: EVAL_SEED,
    });
    // Judged digit retention: the same ε at every condition against condition 0 (the pair) and against the base generator.
    const n = Math.max(8, Math.floor(scale.eval / L));
    const judgeOf = async (flowOrNull, condition) => {
      const b = await engine.sampleImages({
        tf,
        flow: flowOrNull || undefined,
        generator,
        latentDim: def.latentDim,
        count: n,
        seed: EVAL_SEED,
        condition,
        batchSize: 32,
      });
      const t = tf.tensor4d(b.data, [b.n, b.height, b.width, b.channels]);
      const pred = await judge(t);
      t.dispose();
      return pred;
    };
    const basePred = await judgeOf(null);
    const pairPred = await judgeOf(flowK, [0]);
    const perCondition = [];
    for (const c of conditions) {
      const pred = await judgeOf(flowK, [c]);
      perCondition.push({
        condition: c,
        sameAsPair: pred.filter((p, i) => p === pairPred[i]).length / n,
        sameAsBase: pred.filter((p, i) => p === basePred[i]).length / n,
      });
    }
    const avg = (k, rows = perCondition) => rows.reduce((s, r) => s + r[k], 0) / rows.length;
    // ρ = 0 is its own pair (trivially the same digit): the retention that counts is away from it.
    const offZero = perCondition.filter((r) => Math.abs(r.condition) > 1e-9);
    const comp = metrics.components[0];
    const grid = await gridImages(flowK);
    slant.dispose();
    if (same) same.dispose();
    flow.dispose();
    return {
      id,
      withPair,
      seconds,
      finalEnergies: last ? last.energies.map((e) => ({ name: e.name, value: e.value })) : [],
      slope: comp.slope,
      intercept: comp.intercept,
      r2: comp.r2,
      levels: comp.levels,
      judged: {
        samplesPerCondition: n,
        perCondition,
        sameAsPair: avg('sameAsPair', offZero),
        sameAsBase: avg('sameAsBase'),
        pairSameAsBase: pairPred.filter((p, i) => p === basePred[i]).length / n,
      },
      grid,
    };
  }

  /** Rows = 8 seeds (ε), columns = the L conditions, as one [8·L, 28, 28, 1] batch in row order. */
  async function gridImages(flow) {
    const rows = 8;
    const cols = [];
    for (const c of conditions)
      cols.push(
        await engine.sampleImages({
          tf,
          flow,
          generator,
          latentDim: def.latentDim,
          count: rows,
          seed: EVAL_SEED + 1,
          condition: [c],
        }),
      );
    const per = 28 * 28;
    const data = new Float32Array(rows * L * per);
    for (let r = 0; r < rows; r++)
      for (let k = 0; k < L; k++) data.set(cols[k].data.subarray(r * per, (r + 1) * per), (r * L + k) * per);
    return { n: rows * L, width: 28, height: 28, channels: 1, data, columns: L };
  }

  const out = { scale: { ...scale, range }, backend: runtime.backend, conditions, runs: [] };
  if (only.includes('paired')) out.runs.push(await run('paired', true));
  if (only.includes('slantOnly')) out.runs.push(await run('slantOnly', false));
  return out;
}

const BEGIN =
  '<!-- conditional:begin (written by scripts/measure-conditional.js; rerun it, do not edit by hand) -->';
const END = '<!-- conditional:end -->';

/** The "Conditional prompts" section of docs/RESULTS.md for a finished measurement. */
function renderSection(res, command, machine) {
  const pct = (x) => `${(100 * x).toFixed(1)} %`;
  const f2 = (x) => (x == null ? '—' : x.toFixed(2));
  const lines = [];
  lines.push('## Conditional prompts (issue #19): the MNIST testbed', '');
  lines.push(
    'A conditional prompt on the bundled `mnist` generator: `mnist-slant` (conditional on a target slant ρ, measured as',
    'μ11/μ02 of the image) with the paired `mnist-same-digit` energy, and the same prompt without the paired term.',
    "Slope: least-squares fit of the measured slant on the requested ρ over all samples of the product's own",
    'per-condition evaluation (`metrics.conditional`). Same digit: share of samples whose digit, **by the independent',
    'ml5 MNIST MLP judge**, is that of their pair G(f(ε; 0)) (same ε), over the conditions ρ ≠ 0 of the sweep.',
    '',
    'Command:',
    '',
    `    ${command}`,
    '',
    `Training: flow of ${res.scale.blocks} blocks, ${res.scale.hidden} hidden units, batch ${res.scale.batch}, ${res.scale.steps} steps, Adam lr ${res.scale.lr},`,
    `trained range ρ ∈ [−${res.scale.range}, ${res.scale.range}], λ_slant = ${res.scale.weightSlant} (tolerance 0.05), λ_same = ${res.scale.weightSame}; ${res.scale.eval} evaluation samples.`,
    `Backend: ${res.backend}. ${machine}`,
    '',
    '| prompt | slope (r²) | measured slant at ρ = ' +
      res.runs[0].levels.map((l) => f2(l.requested)).join(' / ') +
      ' | same digit (judge), ρ ≠ 0 | per ρ | training time | grid (rows = seeds, columns = ρ) |',
    '|---|---|---|---|---|---|---|',
  );
  for (const r of res.runs) {
    const name = r.withPair
      ? '`mnist-slant` + `mnist-same-digit`'
      : '`mnist-slant` alone (paired term removed)';
    lines.push(
      `| ${name} | **${f2(r.slope)}** (${f2(r.r2)}) | ${r.levels.map((l) => f2(l.measuredMean)).join(' / ')} | **${pct(r.judged.sameAsPair)}** | ` +
        `${r.judged.perCondition.map((c) => `${f2(c.condition)}: ${pct(c.sameAsPair)}`).join(', ')} | ${Math.round(r.seconds)} s | ![](results/conditional-${r.id}.png) |`,
    );
  }
  lines.push('', 'All numbers: `docs/results/conditional-metrics.json`.');
  return lines.join('\n');
}

/** Replaces (or appends) the section between the markers in RESULTS.md. */
function writeSection(file, section) {
  const old = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
  const block = `${BEGIN}\n${section}\n${END}`;
  const i = old.indexOf(BEGIN);
  const j = old.indexOf(END);
  const next =
    i >= 0 && j > i
      ? old.slice(0, i) + block + old.slice(j + END.length)
      : `${old.replace(/\s*$/, '')}\n\n${block}\n`;
  fs.writeFileSync(file, next);
}

function parseArgs(argv) {
  const a = {
    steps: 1500,
    batch: 16,
    blocks: 8,
    hidden: 256,
    lr: 0.001,
    eval: 1000,
    range: 0.2,
    weightSlant: 4,
    weightSame: 16,
    out: path.join(REPO, 'docs', 'results'),
    write: true,
    backend: 'wasm',
  };
  for (let i = 2; i < argv.length; i++) {
    const k = argv[i];
    const v = argv[i + 1];
    const num = () => {
      i++;
      return Number(v);
    };
    if (k === '--steps') a.steps = num();
    else if (k === '--batch') a.batch = num();
    else if (k === '--blocks') a.blocks = num();
    else if (k === '--hidden') a.hidden = num();
    else if (k === '--lr') a.lr = num();
    else if (k === '--eval') a.eval = num();
    else if (k === '--range') a.range = num();
    else if (k === '--only') a.only = argv[++i].split(',');
    else if (k === '--weight-slant') a.weightSlant = num();
    else if (k === '--weight-same') a.weightSame = num();
    else if (k === '--out') a.out = path.resolve(argv[++i]);
    else if (k === '--backend') a.backend = argv[++i];
    else if (k === '--no-write') a.write = false;
    else throw new Error(`unknown argument ${k}`);
  }
  return a;
}

async function main() {
  const args = parseArgs(process.argv);
  const dist = path.join(REPO, 'dist', 'src');
  const engine = require(path.join(dist, 'engine'));
  const { evaluateConditional } = require(path.join(dist, 'jobs', 'conditional-evaluation'));
  const { loadPluginPackage } = require(path.join(dist, 'plugins', 'loader'));
  const { PluginRegistry } = require(path.join(dist, 'plugins', 'registry'));
  const { createAssetResolver } = require(path.join(dist, 'plugins', 'assets'));
  const { tf, backend } = await engine.initBackend(args.backend);
  const silent = { info: () => undefined, warn: () => undefined, error: () => undefined };
  const registry = new PluginRegistry({ logger: silent });
  registry.add(await loadPluginPackage(path.join(REPO, 'plugins', 'mnist'), { source: 'BUILTIN' }));
  const runtime = { tf, backend, logger: silent };
  const judgeModel = await createAssetResolver(path.dirname(JUDGE_FILE), tf).loadLayersModel(
    path.basename(JUDGE_FILE),
  );
  const judge = async (images) => {
    const pred = tf.tidy(() => tf.argMax(judgeModel.predict(tf.reshape(images, [images.shape[0], 784])), 1));
    const v = Array.from(await pred.data());
    pred.dispose();
    return v;
  };
  const t0 = Date.now();
  const res = await measureConditional({
    engine,
    evaluateConditional,
    tf,
    registry,
    runtime,
    judge,
    scale: {
      steps: args.steps,
      batch: args.batch,
      blocks: args.blocks,
      hidden: args.hidden,
      lr: args.lr,
      eval: args.eval,
      range: args.range,
      weightSlant: args.weightSlant,
      weightSame: args.weightSame,
    },
    only: args.only,
    log: (m) => process.stderr.write(m + '\n'),
  });
  res.totalSeconds = (Date.now() - t0) / 1000;
  if (args.write) {
    fs.mkdirSync(args.out, { recursive: true });
    for (const r of res.runs) {
      const png = engine.encodeGrid(r.grid, r.grid.columns);
      fs.writeFileSync(path.join(args.out, `conditional-${r.id}.png`), png);
    }
  }
  const printable = { ...res, runs: res.runs.map(({ grid, ...r }) => r) };
  if (args.write) {
    fs.writeFileSync(
      path.join(args.out, 'conditional-metrics.json'),
      JSON.stringify(printable, null, 2) + '\n',
    );
    const os = require('os');
    const machine = `Machine: ${os.cpus().length} × ${os.cpus()[0].model.trim()}, Node ${process.version}; wall-clock times while other work shared it (total ${Math.round(res.totalSeconds)} s).`;
    const command = `npm run build && nice node scripts/measure-conditional.js ${process.argv.slice(2).join(' ')}`;
    writeSection(path.join(args.out, '..', 'RESULTS.md'), renderSection(printable, command, machine));
  }
  process.stdout.write(JSON.stringify(printable, null, 2) + '\n');
}

module.exports = { measureConditional };

if (require.main === module) {
  main().catch((e) => {
    process.stderr.write(`${e.stack || e}\n`);
    process.exit(1);
  });
}
