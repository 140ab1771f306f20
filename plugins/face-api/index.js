'use strict';
/**
 * @promptgen/face-api — built-in PromptGen plugin: face controls.
 *
 * Runs the nets of @vladmandic/face-api (age/gender, expression, 68 landmarks,
 * face descriptor) on the HOST's TensorFlow.js (ctx.tf, any backend), from the
 * weight files shipped in that package's `model/` folder, so gradients flow
 * from every energy back to the generator's images. face-api's own bundles
 * (which carry their own TF.js) are never loaded.
 *
 * Images are the generator's output, [n, h, w, c] in [0, 1] (c = 1, 3 or 4),
 * assumed to be roughly centred face crops (there is no detector in the loop).
 * Each net pads them to a square and resizes them (bilinear) to its input size
 * (112, or 150 for the descriptor), exactly as face-api does for a face crop.
 *
 * Controls: face-gender, face-age, face-expression (−log p(target | x)),
 * face-pose (conditional: squared angle error of a landmark-geometry pose
 * estimate), face-identity (paired: 1 − cos of face descriptors).
 * Classifiers (for the generic classifier / debias controls): face-gender,
 * face-expression, face-age-bucket.
 *
 * Plain CommonJS, no build step; never requires promptgen/plugin at run time.
 *
 * @typedef {import('../../src/plugins/sdk').LoadContext} LoadContext
 * @typedef {import('../../src/plugins/sdk').ControlDefinition} ControlDefinition
 * @typedef {import('../../src/plugins/sdk').ClassifierDefinition} ClassifierDefinition
 * @typedef {import('../../src/plugins/sdk').Classifier} Classifier
 */
const { loadNet, EXPRESSIONS, GENDERS } = require('./lib/nets');
const { poseFromLandmarks } = require('./lib/pose');

const DEG = Math.PI / 180;
/** Pose conditions are angles in degrees divided by this (so ±45° ↔ ±1). */
const POSE_CONDITION_SCALE_DEG = 45;
/** Age buckets of the face-age-bucket classifier: [lower, upper) in years. */
const AGE_BUCKETS = [
  { name: '<20', lo: -Infinity, hi: 20 },
  { name: '20-40', lo: 20, hi: 40 },
  { name: '40-60', lo: 40, hi: 60 },
  { name: '60+', lo: 60, hi: Infinity },
];
/**
 * face-identity's scale: E = (1 − cos(d(x), d(pair))) / IDENTITY_SCALE, so E ≈ 1 between two
 * different people. Measured on the three faces of face-api's sample1.jpg (test/plugins/face-api/fixtures):
 * 1 − cos is 0.048–0.062 between different people, 0.013–0.033 for the same face shifted by
 * a few pixels, rotated by 10° or mirrored. Unscaled, λ_id = 10 put ~0.5 on changing the person,
 * against ~6 for 10° of pose error at λ_pose = 200: the identity term did nothing (issue #19).
 */
const IDENTITY_SCALE = 0.05;
/** Default spread (years) of the logistic noise model put around the age regression. */
const AGE_SOFTNESS = 4;

// ---------------------------------------------------------------------------
// helpers

/**
 * The `augment` param of the face classifier controls: their energy is the mean over K
 * differentiable augmentations from the host (LoadContext.augment), so the flow cannot
 * lower it with pixel changes a person does not see (issue #14). Mirroring keeps a face's
 * gender, age and expression, so faces flip by default (digits do not: plugins/controls).
 */
const FACE_AUGMENT = { copies: 1, shift: 0.06, scale: 0.06, flip: true, noise: 0.02 };
const AUGMENT_PARAM = {
  type: 'object',
  description: `Augmentations the energy is averaged over; copies: 0 turns them off. Defaults: ${JSON.stringify(FACE_AUGMENT)}`,
  properties: {
    copies: { type: 'integer', minimum: 0, maximum: 64, description: 'Augmented copies per image (0: none)' },
    shift: { type: 'number', minimum: 0, maximum: 0.5, description: 'Largest shift, fraction of the image side' },
    scale: { type: 'number', minimum: 0, maximum: 0.5, description: 'Largest zoom change' },
    flip: { type: 'boolean', description: 'Mirror left–right at random' },
    noise: { type: 'number', minimum: 0, maximum: 0.5, description: 'Pixel noise σ (images in [0, 1])' },
  },
  additionalProperties: false,
};

/**
 * energy(images) averaged over the host's augmentations (or as is: copies 0, or a host without them).
 * One fresh copy per image and step by default: an unbiased estimate of the average, at the cost of
 * one net pass (the host's DEFAULT_AUGMENT explains the choice).
 */
function augmented(ctx, spec, seed, energy) {
  const aug = ctx.augment ? ctx.augment.create({ ...FACE_AUGMENT, ...(spec || {}) }, seed) : null;
  if (!aug || aug.spec.copies === 0) return energy;
  return (images) => ctx.tf.tidy(() => aug.mean(energy(aug.expand(images))));
}

/** One-hot row [1, k] for class index i (used instead of gather: no gather gradient on wasm). */
const oneHotRow = (tf, i, k) => tf.cast(tf.oneHot(tf.tensor1d([i], 'int32'), k), 'float32');

/** log σ(x) = −softplus(−x), stable. */
const logSigmoid = (tf, x) => tf.neg(tf.softplus(tf.neg(x)));

/**
 * log P(lo ≤ A < hi) for A ~ Logistic(age, s) (per sample, [n]), stable for ages
 * far outside the interval: with a = (hi − age)/s, b = (lo − age)/s,
 * σ(a) − σ(b) = σ(a)·σ(−b)·(1 − e^{b−a}), and b − a = (lo − hi)/s is a constant.
 */
function logIntervalProb(tf, age, lo, hi, s) {
  const hasLo = Number.isFinite(lo);
  const hasHi = Number.isFinite(hi);
  if (!hasLo && !hasHi) return tf.zerosLike(age);
  let out = null;
  if (hasHi) out = logSigmoid(tf, tf.div(tf.sub(hi, age), s));
  if (hasLo) {
    const t = logSigmoid(tf, tf.div(tf.sub(age, lo), s));
    out = out ? tf.add(out, t) : t;
  }
  if (hasLo && hasHi) out = tf.add(out, Math.log(-Math.expm1((lo - hi) / s)));
  return out;
}

/** Runs fn on chunks of `size` samples and concatenates the host arrays (for evaluate). */
async function rowsInChunks(tf, images, size, fn) {
  const n = images.shape[0];
  const rows = [];
  for (let i = 0; i < n; i += size) {
    const m = Math.min(size, n - i);
    const out = tf.tidy(() => fn(tf.slice(images, [i, 0, 0, 0], [m, -1, -1, -1])));
    const data = await out.array();
    out.dispose();
    rows.push(...data);
  }
  return rows;
}

function histogramOf(rows, names) {
  const histogram = Object.fromEntries(names.map((c) => [c, 0]));
  for (const r of rows) {
    let best = 0;
    for (let j = 1; j < r.length; j++) if (r[j] > r[best]) best = j;
    histogram[names[best]]++;
  }
  return histogram;
}

function classIndexFn(classNames) {
  return (c) => {
    if (typeof c === 'number' && Number.isInteger(c) && c >= 0 && c < classNames.length) return c;
    const i = classNames.indexOf(String(c));
    if (i < 0) throw new Error(`unknown class ${JSON.stringify(c)} (classes: ${classNames.join(', ')})`);
    return i;
  };
}

/** Builds a Classifier from a logits/log-probs function [n,h,w,c] → [n,k]. */
function makeClassifier(tf, classNames, logProbsFn, dispose) {
  return {
    classNames: classNames.slice(),
    numClasses: classNames.length,
    logProbs: (images) => tf.tidy(() => logProbsFn(images)),
    probs: (images) => tf.tidy(() => tf.exp(logProbsFn(images))),
    classIndex: classIndexFn(classNames),
    dispose,
  };
}

// ---------------------------------------------------------------------------
// face models on the host tf (exported for tests and for other plugins)

/** Gender: logits [n,2] in GENDERS order (male, female). */
function loadGenderModel(tf) {
  const net = loadNet(tf, 'ageGender');
  return { logits: (images) => net.run(images).genderLogits, dispose: net.dispose };
}

/** Age regression: years [n]. */
function loadAgeModel(tf) {
  const net = loadNet(tf, 'ageGender');
  return { age: (images) => net.run(images).age, dispose: net.dispose };
}

/** Expression: logits [n,7] in EXPRESSIONS order. */
function loadExpressionModel(tf) {
  const net = loadNet(tf, 'expression');
  return { logits: (images) => net.run(images), dispose: net.dispose };
}

/** 68 landmarks [n,68,2] (fractions of the square-padded image) and pose [n,3] (radians: yaw, pitch, roll). */
function loadPoseModel(tf) {
  const net = loadNet(tf, 'landmarks');
  const landmarks = (images) => net.run(images);
  return { landmarks, pose: (images) => poseFromLandmarks(tf, landmarks(images)), dispose: net.dispose };
}

/** Face descriptor [n,128] (faceRecognitionNet). */
function loadDescriptorModel(tf) {
  const net = loadNet(tf, 'recognition');
  return { descriptor: (images) => net.run(images), dispose: net.dispose };
}

/** Cosine similarity of rows [n,d] × [n,d] → [n]. */
function cosine(tf, a, b) {
  const dot = tf.sum(tf.mul(a, b), 1);
  const na = tf.sqrt(tf.add(tf.sum(tf.square(a), 1), 1e-12));
  const nb = tf.sqrt(tf.add(tf.sum(tf.square(b), 1), 1e-12));
  return tf.div(dot, tf.mul(na, nb));
}

// ---------------------------------------------------------------------------
// classifiers (named, for the generic classifier / debias controls)

/** Face nets mean something on colour face crops of at least 48 px (the side-effect audit asks). */
const fitsFaces = (output) => output.channels >= 3 && Math.min(output.width, output.height) >= 48;

/** @type {ClassifierDefinition[]} */
const classifiers = [
  {
    name: 'face-gender',
    title: 'Face gender (face-api ageGenderNet)',
    description: 'p(male), p(female) of a centred face crop',
    classNames: GENDERS.slice(),
    fits: fitsFaces,
    load(ctx) {
      const { tf } = ctx;
      const m = loadGenderModel(tf);
      return makeClassifier(tf, GENDERS, (x) => tf.logSoftmax(m.logits(x)), m.dispose);
    },
  },
  {
    name: 'face-expression',
    title: 'Face expression (face-api faceExpressionNet)',
    description: `p(${EXPRESSIONS.join(', ')}) of a centred face crop`,
    classNames: EXPRESSIONS.slice(),
    fits: fitsFaces,
    load(ctx) {
      const { tf } = ctx;
      const m = loadExpressionModel(tf);
      return makeClassifier(tf, EXPRESSIONS, (x) => tf.logSoftmax(m.logits(x)), m.dispose);
    },
  },
  {
    name: 'face-age-bucket',
    title: 'Face age bucket (face-api ageGenderNet)',
    description: `P(age in ${AGE_BUCKETS.map((b) => b.name).join(' | ')}) with a logistic spread of ${AGE_SOFTNESS} years around the regressed age`,
    classNames: AGE_BUCKETS.map((b) => b.name),
    fits: fitsFaces,
    load(ctx) {
      const { tf } = ctx;
      const m = loadAgeModel(tf);
      const names = AGE_BUCKETS.map((b) => b.name);
      return makeClassifier(
        tf,
        names,
        (x) => {
          const age = m.age(x);
          return tf.stack(AGE_BUCKETS.map((b) => logIntervalProb(tf, age, b.lo, b.hi, AGE_SOFTNESS)), 1);
        },
        m.dispose,
      );
    },
  },
];

// ---------------------------------------------------------------------------
// controls

/** A classifier-style control: energy −log p(target | x), evaluate reports a histogram. */
function classifierControl({ name, title, description, paramsSchema, classNames, target, loadLogProbs }) {
  return {
    name,
    title,
    description,
    paramsSchema,
    load(ctx, params) {
      const { tf } = ctx;
      const idx = classNames.indexOf(target(params));
      if (idx < 0) throw new Error(`${name}: unknown target ${JSON.stringify(target(params))}`);
      const m = loadLogProbs(tf);
      return {
        energy: augmented(ctx, params.augment, 5, (images) => tf.tidy(() => tf.neg(tf.sum(tf.mul(m.logProbs(images), oneHotRow(tf, idx, classNames.length)), 1)))),
        async evaluate(images) {
          const rows = await rowsInChunks(tf, images, 64, (x) => tf.exp(m.logProbs(x)));
          const histogram = histogramOf(rows, classNames);
          const meanTargetProb = rows.length ? rows.reduce((s, r) => s + r[idx], 0) / rows.length : 0;
          return { count: rows.length, histogram, target: classNames[idx], targetRate: rows.length ? histogram[classNames[idx]] / rows.length : 0, meanTargetProb };
        },
        dispose: m.dispose,
      };
    },
  };
}

const faceGender = classifierControl({
  name: 'face-gender',
  title: 'Face: gender',
  description: 'Energy −log p(target gender | image) from face-api\'s ageGenderNet; the image should be a roughly centred face crop',
  paramsSchema: {
    type: 'object',
    properties: { target: { type: 'string', enum: GENDERS, description: 'Wanted gender' }, augment: AUGMENT_PARAM },
    required: ['target'],
    additionalProperties: false,
  },
  classNames: GENDERS,
  target: (p) => p.target,
  loadLogProbs: (tf) => {
    const m = loadGenderModel(tf);
    return { logProbs: (x) => tf.logSoftmax(m.logits(x)), dispose: m.dispose };
  },
});

const faceExpression = classifierControl({
  name: 'face-expression',
  title: 'Face: expression',
  description: `Energy −log p(expression | image) from face-api's faceExpressionNet (${EXPRESSIONS.join(', ')}); the image should be a roughly centred face crop`,
  paramsSchema: {
    type: 'object',
    properties: { expression: { type: 'string', enum: EXPRESSIONS, description: 'Wanted expression' }, augment: AUGMENT_PARAM },
    required: ['expression'],
    additionalProperties: false,
  },
  classNames: EXPRESSIONS,
  target: (p) => p.expression,
  loadLogProbs: (tf) => {
    const m = loadExpressionModel(tf);
    return { logProbs: (x) => tf.logSoftmax(m.logits(x)), dispose: m.dispose };
  },
});

/** Resolves face-age params to an interval [lo, hi] in years. */
function ageInterval(params) {
  if (typeof params.target === 'number') {
    const tol = typeof params.tolerance === 'number' ? params.tolerance : 5;
    return [params.target - tol, params.target + tol];
  }
  const lo = typeof params.min === 'number' ? params.min : -Infinity;
  const hi = typeof params.max === 'number' ? params.max : Infinity;
  if (!(lo < hi)) throw new Error(`face-age: min (${lo}) must be below max (${hi})`);
  return [lo, hi];
}

/** @type {ControlDefinition} */
const faceAge = {
  name: 'face-age',
  title: 'Face: age',
  description:
    'Energy −log P(min ≤ age ≤ max | image): face-api\'s age regression with a logistic spread (softness, years) around it. ' +
    'Give { min, max } (either may be left out), or { target, tolerance } for [target − tolerance, target + tolerance]',
  paramsSchema: {
    type: 'object',
    properties: {
      min: { type: 'number', minimum: 0, maximum: 120, description: 'Lowest wanted age (years)' },
      max: { type: 'number', minimum: 0, maximum: 120, description: 'Highest wanted age (years)' },
      target: { type: 'number', minimum: 0, maximum: 120, description: 'Wanted age (years); with tolerance instead of min/max' },
      tolerance: { type: 'number', exclusiveMinimum: 0, maximum: 60, default: 5, description: 'Half-width of the interval around target (years)' },
      softness: { type: 'number', exclusiveMinimum: 0, maximum: 30, default: AGE_SOFTNESS, description: 'Spread of the logistic noise model around the regressed age (years)' },
      augment: AUGMENT_PARAM,
    },
    anyOf: [{ required: ['target'] }, { required: ['min'] }, { required: ['max'] }],
    not: { anyOf: [{ required: ['target', 'min'] }, { required: ['target', 'max'] }] },
    additionalProperties: false,
  },
  load(ctx, params) {
    const { tf } = ctx;
    const [lo, hi] = ageInterval(params);
    const s = typeof params.softness === 'number' ? params.softness : AGE_SOFTNESS;
    const m = loadAgeModel(tf);
    return {
      energy: augmented(ctx, params.augment, 5, (images) => tf.tidy(() => tf.neg(logIntervalProb(tf, m.age(images), lo, hi, s)))),
      async evaluate(images) {
        const ages = (await rowsInChunks(tf, images, 64, (x) => tf.reshape(m.age(x), [-1, 1]))).map((r) => r[0]);
        const n = ages.length;
        const mean = n ? ages.reduce((a, b) => a + b, 0) / n : 0;
        const inRange = ages.filter((a) => a >= lo && a <= hi).length;
        const histogram = Object.fromEntries(AGE_BUCKETS.map((b) => [b.name, ages.filter((a) => a >= b.lo && a < b.hi).length]));
        return { count: n, meanAge: mean, min: Number.isFinite(lo) ? lo : null, max: Number.isFinite(hi) ? hi : null, inRangeRate: n ? inRange / n : 0, histogram };
      },
      dispose: m.dispose,
    };
  },
};

/** @type {ControlDefinition} */
const facePose = {
  name: 'face-pose',
  title: 'Face: head pose (conditional)',
  description:
    'Conditional on a target (yaw, pitch, roll) given as degrees / 45; energy Σ (estimate − target)² in radians², ' +
    'with the pose estimated from face-api\'s 68 landmarks (closed-form geometry, see docs/FACES.md). ' +
    'Training draws targets uniformly in ±yawRange, ±pitchRange, ±rollRange degrees',
  paramsSchema: {
    type: 'object',
    properties: {
      yawRange: { type: 'number', minimum: 0, maximum: 45, default: 20, description: 'Targets drawn in ±yawRange degrees' },
      pitchRange: { type: 'number', minimum: 0, maximum: 45, default: 20, description: 'Targets drawn in ±pitchRange degrees' },
      rollRange: { type: 'number', minimum: 0, maximum: 45, default: 0, description: 'Targets drawn in ±rollRange degrees' },
    },
    additionalProperties: false,
  },
  conditionDim: 3,
  load(ctx, params) {
    const { tf } = ctx;
    const ranges = [params.yawRange ?? 20, params.pitchRange ?? 20, params.rollRange ?? 0];
    const m = loadPoseModel(tf);
    const toRad = POSE_CONDITION_SCALE_DEG * DEG;
    return {
      conditionNames: ['yaw', 'pitch', 'roll'],
      conditionRange: () => ({ min: ranges.map((r) => -r / POSE_CONDITION_SCALE_DEG), max: ranges.map((r) => r / POSE_CONDITION_SCALE_DEG) }),
      measureCondition: (images) => tf.tidy(() => tf.div(m.pose(images), toRad)),
      energy(images, extras) {
        return tf.tidy(() => {
          const est = m.pose(images);
          const n = images.shape[0];
          let target;
          if (extras && extras.condition) {
            if (extras.condition.shape[1] !== 3 || extras.condition.shape[0] !== n) {
              throw new Error(`face-pose: condition must be [${n}, 3] (got [${extras.condition.shape}])`);
            }
            target = tf.mul(extras.condition, toRad);
          } else target = tf.zeros([n, 3]);
          return tf.sum(tf.square(tf.sub(est, target)), 1);
        });
      },
      sampleCondition(n, random) {
        const out = new Float32Array(n * 3);
        for (let i = 0; i < n; i++) for (let j = 0; j < 3; j++) out[i * 3 + j] = ((2 * random() - 1) * ranges[j]) / POSE_CONDITION_SCALE_DEG;
        return tf.tensor2d(out, [n, 3]);
      },
      async evaluate(images) {
        const rows = await rowsInChunks(tf, images, 64, (x) => tf.div(m.pose(x), DEG));
        const n = rows.length;
        const mean = [0, 1, 2].map((j) => (n ? rows.reduce((s, r) => s + r[j], 0) / n : 0));
        const sd = [0, 1, 2].map((j) => (n ? Math.sqrt(rows.reduce((s, r) => s + (r[j] - mean[j]) ** 2, 0) / n) : 0));
        return { count: n, meanYawDeg: mean[0], meanPitchDeg: mean[1], meanRollDeg: mean[2], sdYawDeg: sd[0], sdPitchDeg: sd[1], sdRollDeg: sd[2] };
      },
      dispose: m.dispose,
    };
  },
};

/** @type {ControlDefinition} */
const faceIdentity = {
  name: 'face-identity',
  title: 'Face: keep identity (paired)',
  description:
    'Paired energy (1 − cos(descriptor(image), descriptor(pair image))) / 0.05 with face-api\'s 128-d faceRecognitionNet descriptors ' +
    '(≈ 1 between two different people): keeps G(f(ε; ρ)) the same person as G(f(ε; 0))',
  paramsSchema: { type: 'object', properties: {}, additionalProperties: false },
  paired: true,
  load(ctx) {
    const { tf } = ctx;
    const m = loadDescriptorModel(tf);
    return {
      energy(images, extras) {
        const pair = extras && extras.pairImages;
        if (!pair) throw new Error('face-identity is a paired control: extras.pairImages is missing');
        if (pair.shape[0] !== images.shape[0]) throw new Error(`face-identity: pairImages has ${pair.shape[0]} samples, images ${images.shape[0]}`);
        return tf.tidy(() => {
          const n = images.shape[0];
          const sameShape = pair.shape.every((v, i) => v === images.shape[i]);
          let a;
          let b;
          if (sameShape) {
            // One pass over both halves (one batch through the net).
            const d = m.descriptor(tf.concat([images, pair], 0));
            a = tf.slice(d, [0, 0], [n, -1]);
            b = tf.slice(d, [n, 0], [n, -1]);
          } else {
            a = m.descriptor(images);
            b = m.descriptor(pair);
          }
          return tf.div(tf.sub(1, cosine(tf, a, b)), IDENTITY_SCALE);
        });
      },
      /** Per sample: the energy, descriptor cosine and Euclidean distance to the pair (one pass of each half). */
      async evaluatePair(images, pair) {
        const out = tf.tidy(() => {
          const a = m.descriptor(images);
          const b = m.descriptor(pair);
          const cos = cosine(tf, a, b);
          return tf.stack([tf.div(tf.sub(1, cos), IDENTITY_SCALE), cos, tf.sqrt(tf.sum(tf.square(tf.sub(a, b)), 1))], 1);
        });
        const rows = await out.array();
        out.dispose();
        return { energy: rows.map((r) => r[0]), descriptorCosine: rows.map((r) => r[1]), descriptorDistance: rows.map((r) => r[2]) };
      },
      dispose: m.dispose,
    };
  },
};

/** @type {import('../../src/plugins/sdk').PluginDefinition} */
module.exports = {
  apiVersion: 1,
  controls: [faceGender, faceAge, faceExpression, facePose, faceIdentity],
  classifiers,
  // Not part of the plugin contract: building blocks for tests and other built-in plugins.
  EXPRESSIONS,
  GENDERS,
  AGE_BUCKETS,
  POSE_CONDITION_SCALE_DEG,
  IDENTITY_SCALE,
  loadGenderModel,
  loadAgeModel,
  loadExpressionModel,
  loadPoseModel,
  loadDescriptorModel,
  logIntervalProb,
  cosine,
};
