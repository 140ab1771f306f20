'use strict';
/**
 * The independent judge of the measurement scripts (the ml5 MNIST MLP of ../shared/models/mnist-mlp,
 * never a control's own classifier) and the statistics of its predictions: digit shares and KL
 * divergences of a marginal.
 */
const path = require('path');

const REPO = path.resolve(__dirname, '..', '..');
const JUDGE_FILE = path.resolve(REPO, '..', 'shared', 'models', 'mnist-mlp', 'model.json');

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
 * Loads the judge with the host's asset resolver (`plugins` is dist/src/plugins): returns the
 * predicted digit per image of a [n, 28, 28, 1] batch.
 */
async function loadJudge(plugins, tf) {
  const model = await plugins
    .createAssetResolver(path.dirname(JUDGE_FILE), tf)
    .loadLayersModel(path.basename(JUDGE_FILE));
  return async (images) => {
    const p = tf.tidy(() => tf.argMax(model.predict(tf.reshape(images, [images.shape[0], 784])), 1));
    const out = Array.from(await p.data());
    p.dispose();
    return out;
  };
}

/** The machine, for a report: core count, CPU model and Node version. */
function machineLine() {
  const os = require('os');
  return `${os.cpus().length} × ${os.cpus()[0] ? os.cpus()[0].model : 'cpu'}, Node ${process.version}`;
}

module.exports = { REPO, JUDGE_FILE, shares, klTo, klToUniform, loadJudge, machineLine };
