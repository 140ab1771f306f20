'use strict';
/**
 * docs/RESULTS.md and docs/results/ from a run of scripts/measure-controls.js: the sample grids,
 * metrics.json, and a table of each prompt's effect as the independent judge sees it.
 */
const fs = require('fs');
const path = require('path');

const pct = (x) => `${(100 * x).toFixed(1)} %`;
/** "53.1 % lower" / "12.0 % higher" for a change from `before` to `after`. */
const change = (before, after) =>
  after <= before ? `${pct(1 - after / before)} lower` : `${pct(after / before - 1)} higher`;
const fmtShares = (s) => s.map((x, i) => `${i}: ${(100 * x).toFixed(0)}`).join(' · ');
/** One Markdown table row. */
const row = (cells) => `| ${cells.join(' | ')} |`;
/** Shares of 3s / 8s, as the [3, 8] rows show them. */
const threeEight = (m) => `${pct(m.share3)} / ${pct(m.share8)}`;

/** The table's rows, one per experiment that ran. */
function tableRows(e) {
  const rows = [];
  if (e.target7) {
    const x = e.target7;
    const prompt = `classifier \`{ targets: [{ classifier: 'mnist-digit', classes: [7] }] }\`, λ = ${x.weight}`;
    const grids = '![](results/base.png) → ![](results/target7.png)';
    rows.push(
      row([
        prompt,
        'share of 7s',
        pct(x.before.share7),
        `**${pct(x.after.share7)}**`,
        '≥ 85 %',
        `${x.seconds.toFixed(0)} s`,
        grids,
      ]),
    );
  }
  if (e.target38) {
    const x = e.target38;
    const prompt = `classifier \`classes: [3, 8]\` (balance \`'equal'\`, the default), λ = ${x.weight}`;
    rows.push(
      row([
        prompt,
        'share of 3s / 8s',
        threeEight(x.before),
        `**${threeEight(x.after)}**`,
        'each ≥ 30 %',
        `${x.seconds.toFixed(0)} s`,
        '![](results/target38.png)',
      ]),
    );
  }
  if (e.target38Plain) {
    const x = e.target38Plain;
    const prompt = `classifier \`classes: [3, 8], balance: 'none'\` (the paper's energy alone), λ = ${x.weight}`;
    rows.push(
      row([
        prompt,
        'share of 3s / 8s',
        threeEight(x.before),
        `**${threeEight(x.after)}**`,
        '(reference)',
        `${x.seconds.toFixed(0)} s`,
        '![](results/target38Plain.png)',
      ]),
    );
  }
  if (e.target38Balanced) {
    const x = e.target38Balanced;
    const prompt = `then debias \`{ classifier: 'mnist-digit', classes: [3, 8] }\`, λ = ${x.weight}, on G∘f₁ of the row above`;
    rows.push(
      row([
        prompt,
        'share of 3s / 8s',
        `after f₁: ${threeEight(x.first)}`,
        `**${threeEight(x.after)}**`,
        'each ≥ 30 %',
        `${x.seconds.toFixed(0)} s`,
        '![](results/target38Balanced.png)',
      ]),
    );
  }
  if (e.debias) {
    const x = e.debias;
    rows.push(
      row([
        `debias \`{ attributes: [{ classifier: 'mnist-digit' }] }\` (uniform), λ = ${x.weight}`,
        "KL(judge's digit marginal ‖ uniform)",
        `${x.before.klUniform.toFixed(4)} (control's own classifier: ${x.before.controlKl.toFixed(4)})`,
        `**${x.after.klUniform.toFixed(4)}** (${change(x.before.klUniform, x.after.klUniform)}; control's classifier: ${x.after.controlKl.toFixed(4)})`,
        '≥ 50 % lower',
        `${x.seconds.toFixed(0)} s + ${x.calibrationSeconds.toFixed(0)} s fit`,
        '![](results/debias.png)',
      ]),
    );
  }
  if (e.debiasTarget) {
    const x = e.debiasTarget;
    rows.push(
      row([
        `debias \`target: [1,1,1,1,1,1,1,4,1,1]\`, λ = ${x.weight}`,
        "KL(judge's marginal ‖ target); share of 7s",
        `${x.before.klTarget.toFixed(4)}; ${pct(x.before.share7)}`,
        `**${x.after.klTarget.toFixed(4)}; ${pct(x.after.share7)}** (KL ${change(x.before.klTarget, x.after.klTarget)})`,
        '(extra)',
        `${x.seconds.toFixed(0)} s`,
        '![](results/debiasTarget.png)',
      ]),
    );
  }
  if (e.iterative) {
    const it = e.iterative;
    const even = (m) => `${pct(m.evenShare)}, ${m.evenKlUniform.toFixed(4)}`;
    rows.push(
      row([
        `iterative: classifier evens, \`balance: 'none'\` (λ = ${it.weight[0]}), then debias \`classes: [0,2,4,6,8]\` (λ = ${it.weight[1]}) on G∘f₁`,
        'even share; KL(even marginal ‖ uniform)',
        `base ${even(it.before)}; after f₁ ${even(it.first)}`,
        `**${even(it.after)}**`,
        "≥ 85 % even, KL below f₁'s",
        `${it.seconds.toFixed(0)} s (both)`,
        '![](results/evens.png) → ![](results/evensDebiased.png)',
      ]),
    );
  }
  return rows;
}

/** One line per experiment: the judge's shares after it, and what the control fitted. */
function detailLine(x) {
  const parts = [`- **${x.title}**: judge's digit shares after: ${fmtShares(x.judgeAfter)}`];
  if (x.first) parts.push(`; after the first prompt: ${fmtShares(x.first.judge)}`);
  if (x.beta) parts.push(`; β̂ = [${x.beta.map((b) => b.toFixed(2)).join(', ')}]`);
  if (x.fit && x.fit.shrinkage != null)
    parts.push(` (noise shrinkage s = ${x.fit.shrinkage.toFixed(2)}, T² = ${Number(x.fit.t2).toFixed(1)})`);
  return parts.join('');
}

/** Writes docs/results/*.png, docs/results/metrics.json and docs/RESULTS.md under `o.out`. */
function writeReport(res, o, cmd, note, machine) {
  const dir = path.join(o.out, 'results');
  fs.mkdirSync(dir, { recursive: true });
  for (const [name, batch] of Object.entries(res.grids))
    fs.writeFileSync(path.join(dir, `${name}.png`), o.encodeGrid(batch, 8));
  const { grids, ...json } = res;
  fs.writeFileSync(path.join(dir, 'metrics.json'), JSON.stringify(json, null, 2) + '\n');
  const rows = tableRows(Object.fromEntries(res.experiments.map((x) => [x.id, x])));
  const detail = res.experiments.map(detailLine);
  const s = res.scale;
  const adaptive = s.debiasAdaptive ? ', debias with `adaptive: true`' : '';
  const md = `# Measured effects of the classifier and debias controls

Generated by \`scripts/measure-controls.js\` (do not edit by hand; rerun it).

Generator: \`mnist\` (plugins/mnist). Controls: \`classifier\` and \`debias\` of
\`@promptgen/controls\` (plugins/controls) over the \`mnist-digit\` classifier.
**Judge: the independent ml5 MNIST MLP** (\`../shared/models/mnist-mlp\`), never the
control's own classifier. Every share below is the judge's prediction over
${s.eval} samples of a fixed evaluation ε buffer (seed 7919), the same ε for
the base generator and every prompt.
${note ? `\nNote: ${note}.\n` : ''}
Command:

    ${cmd}

Training: flow of ${s.blocks} blocks, ${s.hidden} hidden units, batch ${s.batch},
${s.steps} steps, Adam lr ${s.lr} decayed linearly to 0, clip 1.0; classifier λ =
${s.classifierWeight}, debias λ = ${s.debiasWeight}, β̂ fitted on ${s.calibration} base samples with the default noise shrinkage${adaptive}.
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

module.exports = { writeReport };
