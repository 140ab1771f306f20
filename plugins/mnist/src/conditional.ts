/**
 * The conditional testbed of @promptgen/mnist: two controls that exercise the
 * conditional-flow and paired-energy machinery without any face net, so CI can
 * measure it on the bundled generator (docs/RESULTS.md, "Conditional prompts").
 *
 *   - `mnist-slant` (conditional, conditionDim 1): the digit's slant, measured
 *     from the image's second moments, pulled towards the condition ρ.
 *   - `mnist-same-digit` (paired): G(f(ε; ρ)) keeps the digit and the style of
 *     G(f(ε; 0)), judged by the plugin's own CNN classifier.
 *
 * Slant. With the image as a mass distribution w(x, y) = pixel value (x to the
 * right, y UP, in pixels), centred moments μ11 = E[(x − x̄)(y − ȳ)] and
 * μ02 = E[(y − ȳ)²]; the least-squares shear that explains x by y is
 *
 *   slant(x) = μ11 / μ02      (dx per dy: 0 upright, + leaning right like "/", − like "\")
 *
 * A pure shear x ← x + k·y of an upright digit gives exactly slant k, so the
 * value is a geometric quantity, not a learned one, and serves both as energy
 * and as the measurement in evaluation. It is smooth wherever μ02 > 0 (always
 * for a digit; a small floor keeps a blank image finite).
 *
 * Energy ((slant − ρ) / tolerance)²: squared error in units of `tolerance`
 * (0.1 by default, about a third of the spread of slants among MNIST digits),
 * so E ≈ 1 at the tolerance whatever the condition. The condition is the
 * target slant itself; training draws ρ uniformly in ±range per sample.
 *
 * Same digit and style. With p(·|x) the classifier's softmax and φ(x) its
 * 128-unit penultimate ReLU layer (c_dense1):
 *
 *   E = KL(p(·|pair) ‖ p(·|x)) + (1 − cos(φ(x), φ(pair)))
 *
 * Both parts are 0 for the same image; the KL (nats) grows without bound when
 * the digit changes, the cosine part (≤ 1 for these non-negative features)
 * measures style. Its scale was chosen so that the documented weights
 * (plugins/mnist/README.md) keep the digit; the measured figures are in
 * docs/RESULTS.md.
 *
 * Types from the public SDK only; no run-time dependency (the host passes `tf`).
 */
import type {
  AssetResolver,
  ControlDefinition,
  EnergyExtras,
  Tensor,
  Tensor1D,
  Tensor2D,
  Tensor4D,
  Tf,
} from 'promptgen/plugin';
import { toMnist } from './images';

/** The host's TF.js layers model, as the SDK's asset resolver loads it. */
type LayersModel = Awaited<ReturnType<AssetResolver['loadLayersModel']>>;

const CLASSIFIER_MODEL = 'models/classifier/model.json';
const FEATURE_LAYER = 'c_dense1';
/** μ02 floor (pixels²): a blank image has no slant; this keeps its value finite. */
const MIN_MU02 = 1;
/**
 * Default training range of the slant condition (± this). This generator's digits have slant
 * 0.10 ± 0.16 (5–95 %: −0.15 … 0.36); a flow keeps the digit reliably within ±0.2 of upright
 * (at ±0.3 the judge saw 72 % kept at −0.3, docs/RESULTS.md).
 */
const SLANT_RANGE = 0.2;
/** Default tolerance of the slant energy (slant units). */
const SLANT_TOLERANCE = 0.05;

/**
 * slant = μ11 / μ02 per image, [n] (see the header). Only sums, products and
 * one division: differentiable on every backend.
 */
function slantOf(tf: Tf, images: Tensor4D): Tensor1D {
  return tf.tidy(() => {
    const x = toMnist(tf, images);
    const [n, h, w] = x.shape;
    const m = tf.reshape(x, [n, h * w]);
    // Pixel coordinates: column index to the right, row index UP (so "/" has positive slant).
    const xs = new Float32Array(h * w);
    const ys = new Float32Array(h * w);
    for (let r = 0; r < h; r++) {
      for (let c = 0; c < w; c++) {
        xs[r * w + c] = c - (w - 1) / 2;
        ys[r * w + c] = (h - 1) / 2 - r;
      }
    }
    const X = tf.tensor1d(xs);
    const Y = tf.tensor1d(ys);
    const mass = tf.add(tf.sum(m, 1), 1e-6);
    const mean = (f: Tensor1D): Tensor1D => tf.div(tf.sum(tf.mul(m, f), 1), mass);
    const xbar = mean(X);
    const ybar = mean(Y);
    const exy = mean(tf.mul(X, Y));
    const eyy = mean(tf.mul(Y, Y));
    const mu11 = tf.sub(exy, tf.mul(xbar, ybar));
    const mu02 = tf.sub(eyy, tf.mul(ybar, ybar));
    return tf.div(mu11, tf.maximum(mu02, MIN_MU02));
  });
}

interface SlantParams {
  range?: number;
  tolerance?: number;
}

const mnistSlant: ControlDefinition<SlantParams | undefined> = {
  name: 'mnist-slant',
  title: 'MNIST digit slant (conditional)',
  description:
    'Conditional on a target slant ρ (dx per dy of the strokes: 0 upright, + leaning right): energy ((slant − ρ)/tolerance)², ' +
    "slant = μ11/μ02 from the image's second moments. Training draws ρ uniformly in ±range.",
  paramsSchema: {
    type: 'object',
    properties: {
      range: {
        type: 'number',
        exclusiveMinimum: 0,
        maximum: 1.5,
        default: SLANT_RANGE,
        description: 'Training conditions drawn uniformly in ±range (slant units)',
      },
      tolerance: {
        type: 'number',
        exclusiveMinimum: 0,
        maximum: 1,
        default: SLANT_TOLERANCE,
        description: 'Slant error at which the energy is 1',
      },
    },
    additionalProperties: false,
  },
  conditionDim: 1,
  paired: false,
  load(ctx, params) {
    const { tf } = ctx;
    const range = params && typeof params.range === 'number' ? params.range : SLANT_RANGE;
    const tol = params && typeof params.tolerance === 'number' ? params.tolerance : SLANT_TOLERANCE;
    return {
      conditionNames: ['slant'],
      conditionRange: () => ({ min: [-range], max: [range] }),
      energy(images, extras) {
        return tf.tidy(() => {
          const n = images.shape[0];
          const s = slantOf(tf, images);
          const cond = extras && extras.condition;
          if (cond && (cond.shape[0] !== n || cond.shape[1] !== 1))
            throw new Error(`mnist-slant: condition must be [${n}, 1] (got [${cond.shape}])`);
          const target: Tensor1D = cond ? tf.reshape(cond, [n]) : tf.zeros([n]);
          return tf.square(tf.div<Tensor1D>(tf.sub(s, target), tol));
        });
      },
      measureCondition: (images) => tf.tidy(() => tf.reshape(slantOf(tf, images), [-1, 1])),
      sampleCondition(n, random) {
        const out = new Float32Array(n);
        for (let i = 0; i < n; i++) out[i] = (2 * random() - 1) * range;
        return tf.tensor2d(out, [n, 1]);
      },
      async evaluate(images) {
        const s = slantOf(tf, images);
        const v = Array.from(await s.data());
        s.dispose();
        const n = v.length;
        const mean = n ? v.reduce((a, b) => a + b, 0) / n : 0;
        const sd = n ? Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / n) : 0;
        return { count: n, meanSlant: mean, sdSlant: sd };
      },
      dispose() {},
    };
  },
};

/** Runs the classifier layer by layer: logits and the penultimate features. */
function featuresAndLogits(
  tf: Tf,
  model: LayersModel,
  images: Tensor4D,
): { features: Tensor2D; logits: Tensor2D } {
  let x: Tensor = toMnist(tf, images);
  let features: Tensor | null = null;
  for (const layer of model.layers) {
    x = layer.apply(x, { training: false }) as Tensor;
    if (layer.name === FEATURE_LAYER) features = x;
  }
  if (!features) throw new Error(`mnist-same-digit: the classifier has no layer ${FEATURE_LAYER}`);
  return { features: features as Tensor2D, logits: x as Tensor2D };
}

function cosine(tf: Tf, a: Tensor2D, b: Tensor2D): Tensor1D {
  const dot = tf.sum(tf.mul(a, b), 1);
  const na = tf.sqrt(tf.add(tf.sum(tf.square(a), 1), 1e-12));
  const nb = tf.sqrt(tf.add(tf.sum(tf.square(b), 1), 1e-12));
  return tf.div(dot, tf.mul(na, nb));
}

const mnistSameDigit: ControlDefinition = {
  name: 'mnist-same-digit',
  title: 'MNIST: same digit and style (paired)',
  description:
    "Paired energy KL(p(·|pair) ‖ p(·|image)) + (1 − cos of the classifier's 128-d features): keeps G(f(ε; ρ)) the same digit, " +
    'drawn alike, as G(f(ε; 0)). Use it next to a conditional control such as mnist-slant.',
  paramsSchema: { type: 'object', properties: {}, additionalProperties: false },
  conditionDim: null,
  paired: true,
  async load(ctx) {
    const { tf } = ctx;
    const model = await ctx.assets.loadLayersModel(CLASSIFIER_MODEL);
    const parts = (images: Tensor4D, pair: Tensor4D) => {
      const n = images.shape[0];
      const both = featuresAndLogits(tf, model, tf.concat([toMnist(tf, images), toMnist(tf, pair)], 0));
      const half = (t: Tensor2D, i: number): Tensor2D => tf.slice(t, [i * n, 0], [n, -1]);
      return {
        fa: half(both.features, 0),
        fb: half(both.features, 1),
        la: half(both.logits, 0),
        lb: half(both.logits, 1),
      };
    };
    const checkPair = (images: Tensor4D, extras: EnergyExtras | undefined): Tensor4D => {
      const pair = extras && extras.pairImages;
      if (!pair) throw new Error('mnist-same-digit is a paired control: extras.pairImages is missing');
      if (pair.shape[0] !== images.shape[0])
        throw new Error(
          `mnist-same-digit: pairImages has ${pair.shape[0]} samples, images ${images.shape[0]}`,
        );
      return pair;
    };
    return {
      energy(images, extras) {
        const pair = checkPair(images, extras);
        return tf.tidy(() => {
          const { fa, fb, la, lb } = parts(images, pair);
          const logPa = tf.logSoftmax(la);
          const logPb = tf.logSoftmax(lb);
          const kl = tf.sum(tf.mul(tf.exp(logPb), tf.sub(logPb, logPa)), 1);
          return tf.add(kl, tf.sub(1, cosine(tf, fa, fb)));
        });
      },
      /** Paired similarity per sample (the evaluation averages it per condition): same predicted digit (0/1), feature cosine. */
      async evaluatePair(images, pair) {
        const out = tf.tidy(() => {
          const { fa, fb, la, lb } = parts(images, pair);
          const same = tf.cast(tf.equal(tf.argMax(la, 1), tf.argMax(lb, 1)), 'float32');
          return tf.stack([same, cosine(tf, fa, fb)], 1);
        });
        const rows = (await out.array()) as number[][];
        out.dispose();
        return { sameDigit: rows.map((r) => r[0]), featureCosine: rows.map((r) => r[1]) };
      },
      dispose: () => model.dispose(),
    };
  },
};

export const controls: ControlDefinition[] = [mnistSlant, mnistSameDigit];
export { slantOf, SLANT_RANGE, SLANT_TOLERANCE };
