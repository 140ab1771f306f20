/** The classifier's view of an image batch, shared by every control of this plugin. */
import type { Tensor4D, Tf } from 'promptgen/plugin';

/** Brings any NHWC image batch to [n, 28, 28, 1] grey in [0, 1] (RGB averaged, alpha dropped, bilinear resize). */
export function toMnist(tf: Tf, images: Tensor4D): Tensor4D {
  let x = images;
  const c = x.shape[3];
  if (c === 3) x = tf.mean(x, 3, true);
  else if (c === 4) x = tf.mean(tf.slice(x, [0, 0, 0, 0], [-1, -1, -1, 3]), 3, true);
  if (x.shape[1] !== 28 || x.shape[2] !== 28) x = tf.image.resizeBilinear(x, [28, 28]);
  return x;
}
