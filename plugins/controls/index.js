'use strict';
/**
 * @promptgen/controls — built-in PromptGen plugin with the paper's generic
 * controls, written against the public SDK only (no require of the host):
 *
 *   - `classifier`: E(x) = Σ_k −log Σ_{c ∈ S_k} p_k(c | x) over targets k, each a
 *     named classifier (any plugin's `classifiers`, or a tfjs-model classifier
 *     manifest) and a set S_k of classes. Classes of one target are alternatives
 *     ("3 or 8"); several targets are combined (energies summed, "AND").
 *   - `debias`: the moment constraint. For each attribute (a classifier and an
 *     optional subset of its classes, renormalised), φ(x) is the classifier's
 *     softmax over those classes and h(x) the one-hot of its predicted class;
 *     calibrate() fits β̂ on N base samples so that the self-normalised importance
 *     weights ω_j = exp(βᵀφ(x_j)) move the counted marginal Σ_j ω_j h(x_j) / Σ_j ω_j
 *     (the share of images per class) onto the target (uniform by default; h = φ,
 *     the mean probability, with `marginal: 'mean'`), correcting only the part of
 *     the deviation that stands out from the N samples' noise (noiseShrinkage,
 *     `shrink: false` to fit exactly). Energy E(x) = −Σ_a β̂_aᵀ φ_a(x); with weight 1
 *     the prompt's target density is exactly the tilted base the fit describes.
 *
 * Both energies are averaged over differentiable augmentations of the images
 * (the host's ctx.augment; `augment` param), so that the flow cannot lower them
 * with pixel changes nobody sees (issue #14).
 *
 * Plain CommonJS, no build step. Tensors only through ctx.tf; differentiable paths
 * use masks and matMul (no gather, whose gradient is slow or missing on wasm).
 * Classifiers come from ctx.classifiers (owned and cached by the host: never
 * disposed here).
 *
 * @typedef {import('../../src/plugins/sdk').LoadContext} LoadContext
 * @typedef {import('../../src/plugins/sdk').ControlDefinition} ControlDefinition
 * @typedef {import('../../src/plugins/sdk').Classifier} Classifier
 */

/** Augmentation draws averaged per calibration sample (no gradient there, so more draws are cheap). */
const CALIBRATION_DRAWS = 4;

/** Version of the calibration and training states these controls save. */
const STATE_VERSION = 1;

const CLASSIFIER_NAME = { type: 'string', pattern: '^[a-z][a-z0-9-]{1,62}$', description: 'Name of a classifier offered by a loaded plugin, e.g. "mnist-digit"' };
/**
 * The `augment` param: the classifier energies are averaged over K differentiable
 * augmentations (the host's LoadContext.augment: shifts, zoom, noise; flips off, since
 * they do not keep every class, e.g. digits), so a flow cannot lower them with pixel
 * changes nobody sees. Same ranges as the host checks (src/engine/augment.ts).
 */
const AUGMENT_PARAM = {
  type: 'object',
  description:
    'Augmentations the energy is averaged over (against adversarial shortcuts): copies fresh transforms per image and step; copies: 0 turns them off. ' +
    'Defaults: 1 copy, shift 0.08, scale 0.08, noise 0.03, no flip',
  properties: {
    copies: { type: 'integer', minimum: 0, maximum: 64, description: 'Augmented copies per image (0: none)' },
    shift: { type: 'number', minimum: 0, maximum: 0.5, description: 'Largest shift, fraction of the image side' },
    scale: { type: 'number', minimum: 0, maximum: 0.5, description: 'Largest zoom change (zoom in [1 − scale, 1 + scale])' },
    flip: { type: 'boolean', description: 'Mirror left–right at random (only where that keeps the class)' },
    noise: { type: 'number', minimum: 0, maximum: 0.5, description: 'Pixel noise σ (images in [0, 1])' },
  },
  additionalProperties: false,
};

/** The host's augmenter for these params, or null (copies 0, or a host without LoadContext.augment). */
function augmenterOf(ctx, spec, seed) {
  if (!ctx.augment) return null;
  const a = ctx.augment.create(spec || null, seed);
  return a.spec.copies > 0 ? a : null;
}

const CLASS_REF = { anyOf: [{ type: 'integer', minimum: 0 }, { type: 'string', minLength: 1 }] };

// ---------------------------------------------------------------------------
// Helpers shared by both controls
// ---------------------------------------------------------------------------

/** Index of a class given as an index or a name, against a list of class names (no model needed). */
function classIndexByName(names, c) {
  if (typeof c === 'number') return Number.isInteger(c) && c >= 0 && c < names.length ? c : -1;
  const i = names.indexOf(c);
  if (i >= 0) return i;
  if (/^\d+$/.test(c) && Number(c) < names.length) return Number(c);
  return -1;
}

function knownList(list) {
  return list.length ? list.slice(0, 20).join(', ') + (list.length > 20 ? ', …' : '') : 'none';
}

/** Problems with one (classifier, classes) reference, for checkParams. */
function checkClassifierRef(host, at, name, classes) {
  const out = [];
  if (!host.classifiers.includes(name)) {
    out.push({ field: [...at, 'classifier'], message: `unknown classifier ${JSON.stringify(name)} (known: ${knownList(host.classifiers)})` });
    return { problems: out, numClasses: null };
  }
  const names = host.classNames ? host.classNames(name) : undefined;
  if (!names || !names.length) return { problems: out, numClasses: null };
  (classes || []).forEach((c, j) => {
    if (classIndexByName(names, c) < 0) {
      out.push({ field: [...at, 'classes', String(j)], message: `unknown class ${JSON.stringify(c)} of classifier ${JSON.stringify(name)} (classes: ${knownList(names)})` });
    }
  });
  return { problems: out, numClasses: names.length };
}

/** Resolves classes to distinct indices with the loaded classifier; throws for unknown or repeated ones. */
function resolveClasses(clf, classes, what) {
  const idx = classes.map((c) => clf.classIndex(c));
  if (new Set(idx).size !== idx.length) throw new Error(`${what}: classes ${JSON.stringify(classes)} name the same class twice`);
  return idx;
}

async function loadNamedClassifier(ctx, name, generator, control) {
  if (!ctx.classifiers) throw new Error(`${control}: this host offers no named classifiers (LoadContext.classifiers is missing)`);
  return ctx.classifiers.load(name, generator);
}

/** A [K, m] one-hot selection matrix: column j picks class idx[j]. */
function selectionMatrix(tf, numClasses, idx) {
  const m = new Float32Array(numClasses * idx.length);
  idx.forEach((c, j) => {
    m[c * idx.length + j] = 1;
  });
  return tf.tensor2d(m, [numClasses, idx.length]);
}

/** φ [n, m]: class probabilities [n, K] restricted by a selection matrix [K, m], renormalised over the selected classes. */
function renormalisedOver(tf, probs, select) {
  const p = tf.matMul(probs, select);
  return tf.div(p, tf.add(tf.sum(p, 1, true), 1e-12));
}

/** True for a saved β that fits m classes: an array of m finite numbers. */
function isBeta(beta, m) {
  return Array.isArray(beta) && beta.length === m && beta.every((v) => typeof v === 'number' && Number.isFinite(v));
}

/** Predicted (argmax) index per row of a JS matrix. */
function argmaxRows(rows) {
  return rows.map((r) => {
    let best = 0;
    for (let k = 1; k < r.length; k++) if (r[k] > r[best]) best = k;
    return best;
  });
}

/** KL(p ‖ q) in nats; terms with p = 0 contribute 0. */
function kl(p, q) {
  let s = 0;
  for (let k = 0; k < p.length; k++) if (p[k] > 0) s += p[k] * Math.log(p[k] / Math.max(q[k], 1e-12));
  return s;
}

/**
 * One step of online moment matching (dual ascent on the constraint E_q[φ] = target
 * over the prompt's own samples q): β ← β + rate · (target − mean φ of the batch),
 * centred (Σφ = 1, so βᵀφ is defined up to a constant) and kept within ±20.
 * Its fixed point is the exponential tilt exp(βᵀφ) that matches the moments, the
 * same family as debias's β̂, but measured where the flow actually puts its
 * samples: reverse-KL training is mode-seeking and may otherwise settle on one
 * of several equally good classes.
 */
function momentStep(beta, meanPhi, target, rate) {
  const next = beta.map((b, k) => b + rate * (target[k] - meanPhi[k]));
  const mu = next.reduce((a, b) => a + b, 0) / next.length;
  return next.map((b) => Math.max(-20, Math.min(20, b - mu)));
}

/** Batch mean of φ [n, m] as a JS array (disposes φ). Asynchronous: the webgpu backend has no synchronous read. */
async function meanRows(tf, phi) {
  const mean = tf.tidy(() => tf.mean(phi, 0));
  phi.dispose();
  try {
    return Array.from(await mean.data());
  } finally {
    mean.dispose();
  }
}

/** Runs fn over the images in chunks (no gradients), concatenating the JS rows it returns. */
async function rowsInChunks(tf, images, chunk, fn) {
  const n = images.shape[0];
  const out = [];
  for (let s = 0; s < n; s += chunk) {
    const k = Math.min(chunk, n - s);
    const t = tf.tidy(() => fn(k === n ? images : tf.slice(images, [s, 0, 0, 0], [k, -1, -1, -1])));
    const rows = await t.array();
    t.dispose();
    out.push(...rows);
  }
  return out;
}

// ---------------------------------------------------------------------------
// De-biasing fit (pure JS: N × K is small)
// ---------------------------------------------------------------------------

/**
 * Fits β so that the exponential tilt ω_j = exp(βᵀφ_j) of N base samples moves a
 * marginal onto the target, by Adam on ‖Σ_j ω_j h_j / Σ_j ω_j − target‖².
 *
 * φ_j are the tilt's features (the energy is −βᵀφ(x), so φ must be smooth in x: a
 * softmax). h_j are what the marginal is taken of, and by default h = φ (the
 * mean-probability constraint). With `opts.counts`, h_j is the one-hot of image j's
 * predicted class: the tilt then puts the target share of *images* in each class as
 * the classifier counts them. The two differ for an uncertain classifier: its mean
 * softmax can sit at the target while the share of images it calls each class does
 * not (35.5 % "male" counted against 43.4 % mean probability, issue #14), and then
 * the mean-probability fit has nothing left to correct.
 *
 * Gradient: ∂m/∂β = Cov_ω(h, φ), so ∂loss/∂β_l = 2 Σ_j ω̄_j (d·(h_j − m)) (φ_jl − φ̄_l)
 * with ω̄ normalised, d = m − target, φ̄ = Σ ω̄_j φ_j. Starts from the one-hot solution
 * β₀ = log(target / mean h) (or 0 if that is worse). β is returned centred (βᵀφ is
 * defined up to a constant since Σ_k φ_k = 1).
 *
 * @param {number[][]} phi N rows of K probabilities (each row sums to 1)
 * @param {number[]} target K probabilities
 * @param {{ iterations?: number, learningRate?: number, counts?: number[][] }} [opts]
 * @returns {{ beta: number[], loss: number, initialLoss: number, marginalBefore: number[], marginalAfter: number[], softBefore: number[], softAfter: number[], iterations: number, effectiveSampleSize: number }}
 */
function fitDebias(phi, target, opts = {}) {
  const N = phi.length;
  const K = target.length;
  if (!N) throw new Error('debias: no samples to fit on');
  if (phi.some((r) => r.length !== K)) throw new Error(`debias: every φ row must have ${K} entries`);
  const h = opts.counts || phi;
  if (h.length !== N || h.some((r) => r.length !== K)) throw new Error(`debias: counts must have ${N} rows of ${K} entries`);
  const iterations = opts.iterations ?? 500;
  const lr = opts.learningRate ?? 0.05;
  const tsum = target.reduce((a, b) => a + b, 0);
  const t = target.map((x) => x / tsum);

  const meanOf = (rows, a) => {
    const m = new Array(K).fill(0);
    for (let j = 0; j < N; j++) for (let k = 0; k < K; k++) m[k] += (a ? a[j] : 1 / N) * rows[j][k];
    return m;
  };
  const mean0 = meanOf(h);

  const weights = (beta) => {
    const logits = phi.map((r) => r.reduce((s, v, k) => s + v * beta[k], 0));
    const mx = Math.max(...logits);
    const w = logits.map((l) => Math.exp(l - mx));
    const z = w.reduce((a, b) => a + b, 0);
    return w.map((x) => x / z);
  };
  const state = (beta) => {
    const a = weights(beta);
    const m = meanOf(h, a);
    const d = m.map((x, k) => x - t[k]);
    const loss = d.reduce((s, x) => s + x * x, 0);
    return { a, m, d, loss };
  };
  const centre = (b) => {
    const mu = b.reduce((s, x) => s + x, 0) / K;
    return b.map((x) => x - mu);
  };

  let beta = centre(t.map((x, k) => Math.log(x / Math.max(mean0[k], 1e-4))));
  let st = state(beta);
  const zero = new Array(K).fill(0);
  if (st.loss > state(zero).loss) {
    beta = zero.slice();
    st = state(beta);
  }
  const initialLoss = state(zero).loss;
  let best = { beta: beta.slice(), st };
  const m1 = new Array(K).fill(0);
  const m2 = new Array(K).fill(0);
  const b1 = 0.9;
  const b2 = 0.999;
  let it = 0;
  for (; it < iterations; it++) {
    const phiBar = meanOf(phi, st.a);
    const g = new Array(K).fill(0);
    for (let j = 0; j < N; j++) {
      let dc = 0;
      for (let k = 0; k < K; k++) dc += st.d[k] * (h[j][k] - st.m[k]);
      const c = 2 * st.a[j] * dc;
      for (let l = 0; l < K; l++) g[l] += c * (phi[j][l] - phiBar[l]);
    }
    for (let l = 0; l < K; l++) {
      m1[l] = b1 * m1[l] + (1 - b1) * g[l];
      m2[l] = b2 * m2[l] + (1 - b2) * g[l] * g[l];
      const mh = m1[l] / (1 - Math.pow(b1, it + 1));
      const vh = m2[l] / (1 - Math.pow(b2, it + 1));
      beta[l] -= (lr * mh) / (Math.sqrt(vh) + 1e-12);
    }
    beta = centre(beta);
    st = state(beta);
    if (st.loss < best.st.loss) best = { beta: beta.slice(), st };
    if (best.st.loss < 1e-12) break;
  }
  const a = best.st.a;
  const ess = 1 / a.reduce((s, x) => s + x * x, 0);
  return {
    beta: best.beta,
    loss: best.st.loss,
    initialLoss,
    marginalBefore: mean0,
    marginalAfter: best.st.m,
    softBefore: meanOf(phi),
    softAfter: meanOf(phi, a),
    iterations: Math.min(it + 1, iterations),
    effectiveSampleSize: ess,
  };
}

/** One-hot rows of each row's argmax (the classifier's count of each image). */
function oneHotRows(rows) {
  return argmaxRows(rows).map((c) => {
    const r = new Array(rows[0].length).fill(0);
    r[c] = 1;
    return r;
  });
}

/**
 * How much of the base marginal's deviation from the target is more than sampling
 * noise. With m₀ the mean of the N rows of φ, d = m₀ − target and Σ their
 * covariance (on K − 1 coordinates: the rows sum to 1), Hotelling's
 * T² = N·dᵀΣ⁻¹d has expectation (K − 1) + N·δᵀΣ⁻¹δ for a true deviation δ, so
 * s = max(0, 1 − (K − 1)/T²) estimates the share of d that is real (positive part,
 * as in James–Stein). The fit then aims at m₀ − s·d instead of the target: a base
 * already at the target up to noise gets β̂ ≈ 0, not a tilt toward its noise, while
 * a clearly biased base (T² ≫ K) is corrected in full.
 *
 * @param {number[][]} phi N rows of K probabilities
 * @param {number[]} target K probabilities (normalised)
 * @returns {{ shrinkage: number, t2: number, fitTarget: number[] }}
 */
function noiseShrinkage(phi, target) {
  const N = phi.length;
  const K = target.length;
  const p = K - 1;
  const mean = new Array(K).fill(0);
  for (const r of phi) for (let k = 0; k < K; k++) mean[k] += r[k] / N;
  const d = mean.map((m, k) => m - target[k]);
  if (N < 2 || p < 1) return { shrinkage: 1, t2: Infinity, fitTarget: target.slice() };
  // covariance of the first K − 1 coordinates, with a small ridge for classes that never vary
  const S = Array.from({ length: p }, () => new Array(p).fill(0));
  for (const r of phi) {
    for (let i = 0; i < p; i++) {
      const ci = r[i] - mean[i];
      for (let j = 0; j <= i; j++) S[i][j] += (ci * (r[j] - mean[j])) / (N - 1);
    }
  }
  let trace = 0;
  for (let i = 0; i < p; i++) {
    for (let j = 0; j < i; j++) S[j][i] = S[i][j];
    trace += S[i][i];
  }
  const ridge = 1e-9 + 1e-6 * (trace / p);
  for (let i = 0; i < p; i++) S[i][i] += ridge;
  // solve S x = d[0..p) by Cholesky (S is symmetric positive definite)
  const L = Array.from({ length: p }, () => new Array(p).fill(0));
  for (let i = 0; i < p; i++) {
    for (let j = 0; j <= i; j++) {
      let v = S[i][j];
      for (let k = 0; k < j; k++) v -= L[i][k] * L[j][k];
      L[i][j] = i === j ? Math.sqrt(Math.max(v, 1e-300)) : v / L[j][j];
    }
  }
  const y = new Array(p).fill(0);
  for (let i = 0; i < p; i++) {
    let v = d[i];
    for (let k = 0; k < i; k++) v -= L[i][k] * y[k];
    y[i] = v / L[i][i];
  }
  const t2 = N * y.reduce((a, v) => a + v * v, 0); // N · dᵀS⁻¹d = N · ‖L⁻¹d‖²
  const shrinkage = t2 > p ? 1 - p / t2 : 0;
  return { shrinkage, t2, fitTarget: mean.map((m, k) => m - shrinkage * d[k]) };
}

// ---------------------------------------------------------------------------
// classifier control
// ---------------------------------------------------------------------------

/** @type {ControlDefinition} */
const classifierControl = {
  name: 'classifier',
  title: 'Classifier targets',
  description:
    'Steers towards target classes of one or more named classifiers (e.g. "mnist-digit"): E = Σ_targets −log Σ_{c ∈ classes} p(c | x). ' +
    'Classes of one target are alternatives ("3 or 8"); several targets must all hold.',
  paramsSchema: {
    type: 'object',
    properties: {
      targets: {
        type: 'array',
        minItems: 1,
        maxItems: 8,
        description: 'One entry per classifier head; their energies are summed.',
        items: {
          type: 'object',
          properties: {
            classifier: CLASSIFIER_NAME,
            classes: { type: 'array', minItems: 1, uniqueItems: true, items: CLASS_REF, description: 'Target classes (indices or names): the energy is −log of their total probability' },
            weight: { type: 'number', exclusiveMinimum: 0, maximum: 1000, default: 1, description: 'Relative weight of this head' },
            balance: {
              type: 'string',
              enum: ['equal', 'none'],
              default: 'equal',
              description:
                'With several classes: "equal" keeps them equally frequent among the prompt\'s samples (online moment matching, ' +
                'an extra term −βᵀφ(x) with β adapted after every training step); "none" uses −log Σ p(c|x) alone, under which ' +
                'training often settles on one of the classes',
            },
          },
          required: ['classifier', 'classes'],
          additionalProperties: false,
        },
      },
      balanceRate: { type: 'number', exclusiveMinimum: 0, maximum: 10, default: 0.1, description: 'Step size of the balance adaptation (per training step)' },
      augment: AUGMENT_PARAM,
    },
    required: ['targets'],
    additionalProperties: false,
  },
  conditionDim: null,
  paired: false,
  checkParams(params, host) {
    const out = [];
    (params.targets || []).forEach((t, i) => out.push(...checkClassifierRef(host, ['targets', String(i)], t.classifier, t.classes).problems));
    return out;
  },
  async load(ctx, params, generator) {
    const { tf } = ctx;
    const heads = [];
    try {
      for (const [i, t] of params.targets.entries()) {
        const clf = await loadNamedClassifier(ctx, t.classifier, generator, 'classifier');
        const idx = resolveClasses(clf, t.classes, `classifier targets[${i}]`);
        const add = new Float32Array(clf.numClasses).fill(-1e9);
        for (const c of idx) add[c] = 0;
        const head = { name: t.classifier, clf, idx, weight: t.weight == null ? 1 : t.weight, logMask: tf.tensor1d(add), balance: null };
        heads.push(head);
        if (idx.length > 1 && (t.balance || 'equal') === 'equal') {
          head.balance = { select: selectionMatrix(tf, clf.numClasses, idx), beta: new Array(idx.length).fill(0), betaT: null };
          head.balance.betaT = tf.zeros([idx.length, 1]);
        }
      }
    } catch (e) {
      heads.forEach(disposeHead);
      throw e;
    }
    const rate = params.balanceRate || 0.1;
    const aug = augmenterOf(ctx, params.augment, 3);
    const balanced = heads.filter((h) => h.balance);
    const setBeta = (h, beta) => {
      h.balance.beta = beta.slice();
      h.balance.betaT.dispose();
      h.balance.betaT = tf.tensor2d(beta, [beta.length, 1]);
    };
    /** φ(x) [n, m]: the head's probabilities over its target classes, renormalised. */
    const phiOf = (h, probs) => renormalisedOver(tf, probs, h.balance.select);
    const instance = {
      energy(images) {
        return tf.tidy(() => {
          // Every head sees the same augmented copies; the energy is their mean per image.
          const x = aug ? aug.expand(images) : images;
          let e = null;
          for (const h of heads) {
            const logp = h.clf.logProbs(x);
            // −log Σ_{c∈S} p(c|x) = −logsumexp(log p + log 1_S)
            let term = tf.neg(tf.logSumExp(tf.add(logp, h.logMask), 1));
            if (h.balance) term = tf.sub(term, tf.reshape(tf.matMul(phiOf(h, tf.exp(logp)), h.balance.betaT), [-1]));
            term = tf.mul(term, h.weight);
            e = e ? tf.add(e, term) : term;
          }
          return aug ? aug.mean(e) : e;
        });
      },
      async evaluate(images) {
        const n = images.shape[0];
        const out = { count: n, targets: [] };
        let all = new Array(n).fill(true);
        for (const h of heads) {
          const rows = await rowsInChunks(tf, images, 256, (x) => h.clf.probs(x));
          const pred = argmaxRows(rows);
          const histogram = {};
          for (const name of h.clf.classNames) histogram[name] = 0;
          let hits = 0;
          let prob = 0;
          pred.forEach((p, j) => {
            histogram[h.clf.classNames[p]] += 1;
            const hit = h.idx.includes(p);
            if (hit) hits += 1;
            else all[j] = false;
            for (const c of h.idx) prob += rows[j][c];
          });
          out.targets.push({
            classifier: h.name,
            classes: h.idx.map((c) => h.clf.classNames[c]),
            histogram,
            targetRate: n ? hits / n : 0,
            meanTargetProb: n ? prob / n : 0,
          });
        }
        out.allTargetsRate = n ? all.filter(Boolean).length / n : 0;
        if (heads.length === 1) out.histogram = out.targets[0].histogram;
        heads.forEach((h, i) => {
          if (h.balance) out.targets[i].balanceBeta = h.balance.beta;
        });
        return out;
      },
      dispose() {
        heads.forEach(disposeHead);
      },
    };
    if (balanced.length) {
      instance.observe = async (images) => {
        for (const h of balanced) {
          const m = h.idx.length;
          const mean = await meanRows(tf, tf.tidy(() => phiOf(h, h.clf.probs(images))));
          setBeta(h, momentStep(h.balance.beta, mean, new Array(m).fill(1 / m), rate));
        }
      };
      instance.trainingState = () => ({ version: STATE_VERSION, balance: heads.map((h) => (h.balance ? h.balance.beta.slice() : null)) });
      instance.restoreTrainingState = (state) => {
        const b = state && state.version === STATE_VERSION && Array.isArray(state.balance) ? state.balance : null;
        if (!b || b.length !== heads.length) throw new Error('classifier: training state does not match this control');
        heads.forEach((h, i) => {
          if (!h.balance) return;
          const beta = b[i];
          if (!isBeta(beta, h.idx.length)) {
            throw new Error(`classifier: training state of targets[${i}] does not match (${h.idx.length} classes)`);
          }
          setBeta(h, beta);
        });
      };
    }
    return instance;
  },
};

function disposeHead(h) {
  h.logMask.dispose();
  if (h.balance) {
    h.balance.select.dispose();
    if (h.balance.betaT) h.balance.betaT.dispose();
  }
}

// ---------------------------------------------------------------------------
// debias control
// ---------------------------------------------------------------------------

/** @type {ControlDefinition} */
const debiasControl = {
  name: 'debias',
  title: 'De-bias (moment constraint)',
  description:
    "Moves the share of images in each of a classifier's classes towards a target distribution (uniform by default): β̂ is fitted on " +
    'base-generator samples so that the importance weights exp(βᵀφ(x)), φ = softmax over the chosen classes, put the target share of ' +
    'images in each class as the classifier counts them (argmax); E = −Σ β̂ᵀφ(x), averaged over augmentations. Use weight 1–2.',
  paramsSchema: {
    type: 'object',
    properties: {
      attributes: {
        type: 'array',
        minItems: 1,
        maxItems: 8,
        description: 'One entry per attribute (one β each; energies summed).',
        items: {
          type: 'object',
          properties: {
            classifier: CLASSIFIER_NAME,
            classes: {
              type: 'array',
              minItems: 2,
              uniqueItems: true,
              items: CLASS_REF,
              description: "Restrict to these classes (the classifier's probabilities renormalised over them); default all",
            },
            target: {
              type: 'array',
              minItems: 2,
              items: { type: 'number', exclusiveMinimum: 0 },
              description: 'Target distribution over the classes (normalised; default uniform)',
            },
          },
          required: ['classifier'],
          additionalProperties: false,
        },
      },
      samples: { type: 'integer', minimum: 16, maximum: 16384, default: 1024, description: 'Base-generator samples for the fit of β̂' },
      iterations: { type: 'integer', minimum: 1, maximum: 20000, default: 500, description: 'Adam iterations of the fit' },
      learningRate: { type: 'number', exclusiveMinimum: 0, maximum: 10, default: 0.05, description: 'Adam learning rate of the fit' },
      marginal: {
        type: 'string',
        enum: ['counted', 'mean'],
        default: 'counted',
        description:
          '"counted": the target is the share of images the classifier assigns to each class (argmax); "mean": the mean probability ' +
          '(the earlier fit, which does not move the counts of an uncertain classifier)',
      },
      temperature: {
        type: 'number',
        exclusiveMinimum: 0,
        maximum: 10,
        default: 1,
        description: 'φ = softmax(log p / temperature) over the classes: below 1 sharpens φ towards the counted class',
      },
      shrink: {
        type: 'boolean',
        default: true,
        description:
          "Correct only the part of the base marginal's deviation from the target that stands out from the sampling noise of " +
          'the N samples (Hotelling T², positive-part shrinkage); false fits the N samples exactly',
      },
      adaptive: {
        type: 'boolean',
        description:
          "Refine β during training from the prompt's own samples (online moment matching on the same marginal, starting at the " +
          'fitted β̂). Default: on where the base deviates clearly from the target (noise shrinkage s ≥ 0.9), off where the ' +
          "deviation is near the sampling noise (a batch's shares would then steer β by noise)",
      },
      adaptRate: { type: 'number', exclusiveMinimum: 0, maximum: 10, default: 0.1, description: 'Step size of the adaptation (per training step)' },
      augment: AUGMENT_PARAM,
    },
    required: ['attributes'],
    additionalProperties: false,
  },
  conditionDim: null,
  paired: false,
  checkParams(params, host) {
    const out = [];
    (params.attributes || []).forEach((a, i) => {
      const at = ['attributes', String(i)];
      const { problems, numClasses } = checkClassifierRef(host, at, a.classifier, a.classes);
      out.push(...problems);
      const k = a.classes ? a.classes.length : numClasses;
      if (a.target && k != null && a.target.length !== k) {
        out.push({ field: [...at, 'target'], message: `must have ${k} entries (one per class${a.classes ? ' listed in classes' : ` of ${a.classifier}`}), got ${a.target.length}` });
      }
      if (!a.classes && numClasses != null && numClasses < 2) out.push({ field: [...at, 'classifier'], message: 'needs at least 2 classes' });
    });
    return out;
  },
  async load(ctx, params, generator) {
    const { tf } = ctx;
    const attrs = [];
    try {
      for (const [i, a] of params.attributes.entries()) {
        const clf = await loadNamedClassifier(ctx, a.classifier, generator, 'debias');
        const idx = a.classes ? resolveClasses(clf, a.classes, `debias attributes[${i}]`) : clf.classNames.map((_, k) => k);
        if (idx.length < 2) throw new Error(`debias attributes[${i}]: needs at least 2 classes`);
        let target = a.target ? a.target.slice() : new Array(idx.length).fill(1);
        if (target.length !== idx.length) throw new Error(`debias attributes[${i}]: target has ${target.length} entries for ${idx.length} classes`);
        const ts = target.reduce((s, x) => s + x, 0);
        target = target.map((x) => x / ts);
        attrs.push({ name: a.classifier, clf, idx, target, select: selectionMatrix(tf, clf.numClasses, idx), beta: null, betaT: null, fit: null });
      }
    } catch (e) {
      attrs.forEach((x) => x.select.dispose());
      throw e;
    }
    const samples = params.samples || 1024;
    const fitOpts = { iterations: params.iterations || 500, learningRate: params.learningRate || 0.05 };
    const shrink = params.shrink !== false;
    const counted = (params.marginal || 'counted') === 'counted';
    const temperature = params.temperature || 1;
    const aug = augmenterOf(ctx, params.augment, 7);
    const adaptRate = params.adaptRate || 0.1;

    /** φ_a(x) [n, m] of images as given: softmax(log p / T) over the attribute's classes. */
    const phiPlain = (a, images) => {
      const p = renormalisedOver(tf, a.clf.probs(images), a.select);
      if (temperature === 1) return p;
      return tf.softmax(tf.div(tf.log(tf.add(p, 1e-12)), temperature));
    };
    /** φ_a as the energy sees it: the mean over augmented copies. */
    const phiOf = (a, images) => (aug ? aug.mean(phiPlain(a, aug.expand(images))) : phiPlain(a, images));
    /**
     * φ rows of the calibration samples: the mean of CALIBRATION_DRAWS calls of phiOf (fresh augmentations
     * each), so β̂ is fitted on the average the training steps estimate one draw at a time.
     */
    const calibrationPhi = async (a, images) => {
      const draws = aug ? CALIBRATION_DRAWS : 1;
      let sum = null;
      for (let d = 0; d < draws; d++) {
        const rows = await rowsInChunks(tf, images, 256, (x) => phiOf(a, x));
        sum = sum ? sum.map((r, j) => r.map((v, k) => v + rows[j][k])) : rows;
      }
      return sum.map((r) => r.map((v) => v / draws));
    };
    /** Rows of the probabilities over the attribute's classes (renormalised), no augmentation: what is counted. */
    const probsRows = (a, images) => rowsInChunks(tf, images, 256, (x) => renormalisedOver(tf, a.clf.probs(x), a.select));
    const setBeta = (a, beta) => {
      if (a.betaT) a.betaT.dispose();
      a.beta = beta.slice();
      a.betaT = tf.tensor2d(beta, [beta.length, 1]);
    };
    const describe = (a) => ({ classifier: a.name, classes: a.idx.map((c) => a.clf.classNames[c]) });
    /** Whether observe() refines β: the param, or by default a deviation well above the noise. */
    const adapting = (a) => (params.adaptive != null ? params.adaptive : Boolean(a.fit && a.fit.shrinkage >= 0.9));

    const instance = {
      async calibrate(sampleBase) {
        const images = await sampleBase(samples);
        try {
          for (const a of attrs) {
            const phi = await calibrationPhi(a, images);
            const probs = await probsRows(a, images);
            const h = counted ? oneHotRows(probs) : phi;
            const noise = shrink ? noiseShrinkage(h, a.target) : { shrinkage: 1, t2: null, fitTarget: a.target };
            const fit = fitDebias(phi, noise.fitTarget, { ...fitOpts, counts: counted ? h : undefined });
            // Both marginals of the base, before and after the tilt, whichever one was fitted.
            const w = tiltWeights(phi, fit.beta);
            const cnt = oneHotRows(probs);
            setBeta(a, fit.beta);
            a.fit = {
              marginal: counted ? 'counted' : 'mean', temperature,
              samples: phi.length, loss: fit.loss, initialLoss: fit.initialLoss, iterations: fit.iterations,
              marginalBefore: fit.marginalBefore, marginalAfter: fit.marginalAfter, effectiveSampleSize: fit.effectiveSampleSize,
              countedBefore: weightedMean(cnt, null), countedAfter: weightedMean(cnt, w),
              meanProbBefore: weightedMean(probs, null), meanProbAfter: weightedMean(probs, w),
              shrinkage: noise.shrinkage, t2: noise.t2, fitTarget: noise.fitTarget,
            };
            ctx.logger.info(`debias: fitted β̂ for ${a.name} on ${phi.length} base samples`, { marginal: a.fit.marginal, loss: fit.loss, initialLoss: fit.initialLoss, beta: fit.beta, shrinkage: noise.shrinkage, t2: noise.t2 });
          }
        } finally {
          images.dispose();
        }
      },
      calibrationState() {
        return {
          version: STATE_VERSION,
          attributes: attrs.map((a) => ({ ...describe(a), classIndices: a.idx, target: a.target, beta: a.beta, fit: a.fit })),
        };
      },
      restoreCalibration(state) {
        const s = state;
        if (!s || s.version !== STATE_VERSION || !Array.isArray(s.attributes) || s.attributes.length !== attrs.length) {
          throw new Error(`debias: calibration state does not match this control (${attrs.length} attribute(s), version ${STATE_VERSION})`);
        }
        s.attributes.forEach((x, i) => {
          const a = attrs[i];
          if (!x || x.classifier !== a.name || !isBeta(x.beta, a.idx.length)) {
            throw new Error(`debias: calibration state of attribute ${i} does not match (${a.name}, ${a.idx.length} classes)`);
          }
          if (Array.isArray(x.classIndices) && x.classIndices.join(',') !== a.idx.join(',')) {
            throw new Error(`debias: calibration state of attribute ${i} is for classes ${x.classIndices.join(',')}, not ${a.idx.join(',')}`);
          }
          setBeta(a, x.beta);
          a.fit = x.fit || null;
        });
      },
      energy(images) {
        for (const a of attrs) if (!a.betaT) throw new Error('debias: calibrate() (or restoreCalibration()) must run before energy()');
        return tf.tidy(() => {
          let e = null;
          for (const a of attrs) {
            const term = tf.neg(tf.reshape(tf.matMul(phiOf(a, images), a.betaT), [-1]));
            e = e ? tf.add(e, term) : term;
          }
          return e;
        });
      },
      async evaluate(images) {
        const n = images.shape[0];
        const out = { count: n, attributes: [] };
        let klSum = 0;
        for (const a of attrs) {
          const rows = await rowsInChunks(tf, images, 256, (x) => a.clf.probs(x));
          const m = a.idx.length;
          const histogram = {};
          for (const c of a.idx) histogram[a.clf.classNames[c]] = 0;
          const counts = new Array(m).fill(0);
          const soft = new Array(m).fill(0);
          let outside = 0;
          for (const r of rows) {
            // Predicted class among the attribute's classes; `outside` counts images whose overall argmax is elsewhere.
            let best = 0;
            let s = 0;
            for (let j = 0; j < m; j++) {
              if (r[a.idx[j]] > r[a.idx[best]]) best = j;
              s += r[a.idx[j]];
            }
            counts[best] += 1;
            for (let j = 0; j < m; j++) soft[j] += r[a.idx[j]] / Math.max(s, 1e-12) / Math.max(n, 1);
            let top = 0;
            for (let k = 1; k < r.length; k++) if (r[k] > r[top]) top = k;
            if (!a.idx.includes(top)) outside += 1;
          }
          a.idx.forEach((c, j) => {
            histogram[a.clf.classNames[c]] = counts[j];
          });
          const marginal = counts.map((c) => (n ? c / n : 0));
          const d = kl(marginal, a.target);
          klSum += d;
          out.attributes.push({
            ...describe(a),
            histogram,
            // counted: share of images per class (argmax among the classes); softMarginal: mean probability
            marginal,
            softMarginal: soft,
            target: a.target,
            kl: d,
            softKl: kl(soft, a.target),
            outside,
            beta: a.beta,
            adaptive: adapting(a),
          });
        }
        out.kl = klSum;
        if (attrs.length === 1) {
          out.histogram = out.attributes[0].histogram;
          out.marginal = out.attributes[0].marginal;
          out.softMarginal = out.attributes[0].softMarginal;
        }
        return out;
      },
      /**
       * Online moment matching on the fitted marginal (counted shares of the batch by default),
       * for attributes that adapt: the flow may stop short of the fitted tilt in a short run.
       */
      async observe(images) {
        for (const a of attrs) {
          if (!a.betaT) throw new Error('debias: calibrate() (or restoreCalibration()) must run before training');
          if (!adapting(a)) continue;
          const rows = tf.tidy(() => (counted ? renormalisedOver(tf, a.clf.probs(images), a.select) : phiPlain(a, images)));
          const js = await rows.array(); // asynchronous: webgpu has no synchronous read in Node
          rows.dispose();
          const mean = weightedMean(counted ? oneHotRows(js) : js, null);
          setBeta(a, momentStep(a.beta, mean, a.target, adaptRate));
        }
      },
      trainingState: () => ({ version: STATE_VERSION, beta: attrs.map((a) => (a.beta ? a.beta.slice() : null)) }),
      restoreTrainingState(state) {
        const b = state && state.version === STATE_VERSION && Array.isArray(state.beta) ? state.beta : null;
        if (!b || b.length !== attrs.length) throw new Error('debias: training state does not match this control');
        attrs.forEach((a, i) => {
          const beta = b[i];
          if (!isBeta(beta, a.idx.length)) {
            throw new Error(`debias: training state of attribute ${i} does not match (${a.idx.length} classes)`);
          }
          setBeta(a, beta);
        });
      },
      dispose() {
        for (const a of attrs) {
          a.select.dispose();
          if (a.betaT) a.betaT.dispose();
        }
      },
    };
    return instance;
  },
};

/** Normalised tilt weights exp(βᵀφ_j) / Σ. */
function tiltWeights(phi, beta) {
  const l = phi.map((r) => r.reduce((s, v, k) => s + v * beta[k], 0));
  const mx = Math.max(...l);
  const w = l.map((x) => Math.exp(x - mx));
  const z = w.reduce((s, x) => s + x, 0);
  return w.map((x) => x / z);
}

/** Σ_j w_j rows_j (w null: the plain mean). */
function weightedMean(rows, w) {
  const K = rows[0] ? rows[0].length : 0;
  const m = new Array(K).fill(0);
  rows.forEach((r, j) => {
    const wj = w ? w[j] : 1 / rows.length;
    for (let k = 0; k < K; k++) m[k] += wj * r[k];
  });
  return m;
}

module.exports = {
  apiVersion: 1,
  controls: [classifierControl, debiasControl],
  // Exposed for tests and other plugins (not part of the SDK contract).
  fitDebias,
  noiseShrinkage,
  oneHotRows,
  tiltWeights,
  kl,
  momentStep,
};
