/**
 * What the face controls share: the `augment` param and the averaging of an energy over
 * the host's augmentations, and the evaluation helpers.
 */
import type {
  AugmentSpec,
  JsonSchema,
  LoadContext,
  Tensor1D,
  Tensor2D,
  Tensor4D,
  Tf,
} from 'promptgen/plugin';

/**
 * The `augment` param of the face classifier controls: their energy is the mean over K
 * differentiable augmentations from the host (LoadContext.augment), so the flow cannot
 * lower it with pixel changes a person does not see (issue #14). Mirroring keeps a face's
 * gender, age and expression, so faces flip by default (digits do not: plugins/controls).
 */
/** The `augment` param (partial AugmentSpec over FACE_AUGMENT). */
export type AugmentParams = Partial<AugmentSpec>;

const FACE_AUGMENT: AugmentSpec = { copies: 1, shift: 0.06, scale: 0.06, flip: true, noise: 0.02 };
export const AUGMENT_PARAM: JsonSchema = {
  type: 'object',
  description: `Augmentations the energy is averaged over; copies: 0 turns them off. Defaults: ${JSON.stringify(FACE_AUGMENT)}`,
  properties: {
    copies: { type: 'integer', minimum: 0, maximum: 64, description: 'Augmented copies per image (0: none)' },
    shift: {
      type: 'number',
      minimum: 0,
      maximum: 0.5,
      description: 'Largest shift, fraction of the image side',
    },
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
export function augmented(
  ctx: LoadContext,
  spec: AugmentParams | undefined,
  seed: number,
  energy: (images: Tensor4D) => Tensor1D,
): (images: Tensor4D) => Tensor1D {
  const aug = ctx.augment ? ctx.augment.create({ ...FACE_AUGMENT, ...(spec || {}) }, seed) : null;
  if (!aug || aug.spec.copies === 0) return energy;
  return (images: Tensor4D) => ctx.tf.tidy(() => aug.mean(energy(aug.expand(images))));
}

/** One-hot row [1, k] for class index i (used instead of gather: no gather gradient on wasm). */
export const oneHotRow = (tf: Tf, i: number, k: number): Tensor2D =>
  tf.cast(tf.oneHot(tf.tensor1d([i], 'int32'), k) as Tensor2D, 'float32');

/** Runs fn on chunks of `size` samples and concatenates the host arrays (for evaluate). */
export async function rowsInChunks(
  tf: Tf,
  images: Tensor4D,
  size: number,
  fn: (x: Tensor4D) => Tensor2D,
): Promise<number[][]> {
  const n = images.shape[0];
  const rows: number[][] = [];
  for (let i = 0; i < n; i += size) {
    const m = Math.min(size, n - i);
    const out = tf.tidy(() => fn(tf.slice(images, [i, 0, 0, 0], [m, -1, -1, -1])));
    const data = await out.array();
    out.dispose();
    rows.push(...data);
  }
  return rows;
}

export function histogramOf(rows: number[][], names: string[]): Record<string, number> {
  const histogram: Record<string, number> = Object.fromEntries(names.map((c) => [c, 0]));
  for (const r of rows) {
    let best = 0;
    for (let j = 1; j < r.length; j++) if (r[j] > r[best]) best = j;
    histogram[names[best]]++;
  }
  return histogram;
}
