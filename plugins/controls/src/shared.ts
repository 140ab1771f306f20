/**
 * What the `classifier` and `debias` controls share: their params' building blocks, the
 * checks of (classifier, classes) references, and tensor helpers. Tensors only through
 * ctx.tf; differentiable paths use masks and matMul (no gather, whose gradient is slow
 * or missing on wasm). Classifiers come from ctx.classifiers (owned and cached by the
 * host: never disposed here).
 */
import type {
  Augmenter,
  AugmentSpec,
  Classifier,
  GeneratorInfo,
  JsonSchema,
  LoadContext,
  ParamsCheckHost,
  ParamsProblem,
  Tensor2D,
  Tensor4D,
  Tf,
} from 'promptgen/plugin';

/** Augmentation draws averaged per calibration sample (no gradient there, so more draws are cheap). */
export const CALIBRATION_DRAWS = 4;

/** Version of the calibration and training states these controls save. */
export const STATE_VERSION = 1;

export const CLASSIFIER_NAME: JsonSchema = {
  type: 'string',
  pattern: '^[a-z][a-z0-9-]{1,62}$',
  description: 'Name of a classifier offered by a loaded plugin, e.g. "mnist-digit"',
};
/**
 * The `augment` param: the classifier energies are averaged over K differentiable
 * augmentations (the host's LoadContext.augment: shifts, zoom, noise; flips off, since
 * they do not keep every class, e.g. digits), so a flow cannot lower them with pixel
 * changes nobody sees. Same ranges as the host checks (src/engine/augment.ts).
 */
export const AUGMENT_PARAM: JsonSchema = {
  type: 'object',
  description:
    'Augmentations the energy is averaged over (against adversarial shortcuts): copies fresh transforms per image and step; copies: 0 turns them off. ' +
    'Defaults: 1 copy, shift 0.08, scale 0.08, noise 0.03, no flip',
  properties: {
    copies: { type: 'integer', minimum: 0, maximum: 64, description: 'Augmented copies per image (0: none)' },
    shift: {
      type: 'number',
      minimum: 0,
      maximum: 0.5,
      description: 'Largest shift, fraction of the image side',
    },
    scale: {
      type: 'number',
      minimum: 0,
      maximum: 0.5,
      description: 'Largest zoom change (zoom in [1 − scale, 1 + scale])',
    },
    flip: { type: 'boolean', description: 'Mirror left–right at random (only where that keeps the class)' },
    noise: { type: 'number', minimum: 0, maximum: 0.5, description: 'Pixel noise σ (images in [0, 1])' },
  },
  additionalProperties: false,
};

/** The host's augmenter for these params, or null (copies 0, or a host without LoadContext.augment). */
export function augmenterOf(
  ctx: LoadContext,
  spec: AugmentParams | undefined,
  seed: number,
): Augmenter | null {
  if (!ctx.augment) return null;
  const a = ctx.augment.create(spec || null, seed);
  return a.spec.copies > 0 ? a : null;
}

export const CLASS_REF: JsonSchema = {
  anyOf: [
    { type: 'integer', minimum: 0 },
    { type: 'string', minLength: 1 },
  ],
};

/** A class given by index or by name. */
export type ClassRef = number | string;

/** The `augment` param (partial AugmentSpec; the host fills in its defaults). */
export type AugmentParams = Partial<AugmentSpec>;

/** Index of a class given as an index or a name, against a list of class names (no model needed). */
function classIndexByName(names: string[], c: ClassRef): number {
  if (typeof c === 'number') return Number.isInteger(c) && c >= 0 && c < names.length ? c : -1;
  const i = names.indexOf(c);
  if (i >= 0) return i;
  if (/^\d+$/.test(c) && Number(c) < names.length) return Number(c);
  return -1;
}

function knownList(list: string[]): string {
  return list.length ? list.slice(0, 20).join(', ') + (list.length > 20 ? ', …' : '') : 'none';
}

/** Problems with one (classifier, classes) reference, for checkParams. */
export function checkClassifierRef(
  host: ParamsCheckHost,
  at: string[],
  name: string,
  classes: ClassRef[] | undefined,
): { problems: ParamsProblem[]; numClasses: number | null } {
  const out: ParamsProblem[] = [];
  if (!host.classifiers.includes(name)) {
    out.push({
      field: [...at, 'classifier'],
      message: `unknown classifier ${JSON.stringify(name)} (known: ${knownList(host.classifiers)})`,
    });
    return { problems: out, numClasses: null };
  }
  const names = host.classNames ? host.classNames(name) : undefined;
  if (!names || !names.length) return { problems: out, numClasses: null };
  (classes || []).forEach((c, j) => {
    if (classIndexByName(names, c) < 0) {
      out.push({
        field: [...at, 'classes', String(j)],
        message: `unknown class ${JSON.stringify(c)} of classifier ${JSON.stringify(name)} (classes: ${knownList(names)})`,
      });
    }
  });
  return { problems: out, numClasses: names.length };
}

/** Resolves classes to distinct indices with the loaded classifier; throws for unknown or repeated ones. */
export function resolveClasses(clf: Classifier, classes: ClassRef[], what: string): number[] {
  const idx = classes.map((c) => clf.classIndex(c));
  if (new Set(idx).size !== idx.length)
    throw new Error(`${what}: classes ${JSON.stringify(classes)} name the same class twice`);
  return idx;
}

export async function loadNamedClassifier(
  ctx: LoadContext,
  name: string,
  generator: GeneratorInfo,
  control: string,
): Promise<Classifier> {
  if (!ctx.classifiers)
    throw new Error(`${control}: this host offers no named classifiers (LoadContext.classifiers is missing)`);
  return ctx.classifiers.load(name, generator);
}

/** A [K, m] one-hot selection matrix: column j picks class idx[j]. */
export function selectionMatrix(tf: Tf, numClasses: number, idx: number[]): Tensor2D {
  const m = new Float32Array(numClasses * idx.length);
  idx.forEach((c, j) => {
    m[c * idx.length + j] = 1;
  });
  return tf.tensor2d(m, [numClasses, idx.length]);
}

/** φ [n, m]: class probabilities [n, K] restricted by a selection matrix [K, m], renormalised over the selected classes. */
export function renormalisedOver(tf: Tf, probs: Tensor2D, select: Tensor2D): Tensor2D {
  const p = tf.matMul(probs, select);
  return tf.div(p, tf.add(tf.sum(p, 1, true), 1e-12));
}

/** True for a saved β that fits m classes: an array of m finite numbers. */
export function isBeta(beta: unknown, m: number): beta is number[] {
  return (
    Array.isArray(beta) && beta.length === m && beta.every((v) => typeof v === 'number' && Number.isFinite(v))
  );
}

/** Batch mean of φ [n, m] as a JS array (disposes φ). Asynchronous: the webgpu backend has no synchronous read. */
export async function meanRows(tf: Tf, phi: Tensor2D): Promise<number[]> {
  const mean = tf.tidy(() => tf.mean(phi, 0));
  phi.dispose();
  try {
    return Array.from(await mean.data());
  } finally {
    mean.dispose();
  }
}

/** Runs fn over the images in chunks (no gradients), concatenating the JS rows it returns. */
export async function rowsInChunks(
  tf: Tf,
  images: Tensor4D,
  chunk: number,
  fn: (x: Tensor4D) => Tensor2D,
): Promise<number[][]> {
  const n = images.shape[0];
  const out: number[][] = [];
  for (let s = 0; s < n; s += chunk) {
    const k = Math.min(chunk, n - s);
    const t = tf.tidy(() => fn(k === n ? images : tf.slice(images, [s, 0, 0, 0], [k, -1, -1, -1])));
    const rows = await t.array();
    t.dispose();
    out.push(...rows);
  }
  return out;
}
