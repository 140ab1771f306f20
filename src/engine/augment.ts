/**
 * Differentiable image augmentations for classifier energies (issue #14, "no
 * adversarial shortcuts").
 *
 * A classifier's energy E(x) = ℓ(C(x)) has a gradient that a flow can follow with
 * pixel changes a person never sees (an adversarial example): the change is tuned
 * to one exact rendering of the image. Averaging over K random, label-preserving
 * transforms a_k,
 *     E_aug(x) = (1/K) Σ_k ℓ(C(a_k(x))),
 * makes such a change pay only if it survives small shifts, zooms, flips and noise,
 * which is what a change of content does. The CLIP control has done this from the
 * start (plugins/clip); this module gives every classifier-based control the same.
 *
 * Each copy is a separable affine resampling (zoom about the centre, shift, optional
 * horizontal flip), bilinear with edge replication, written as two matMuls per
 * channel, out = M_y · X · M_xᵀ with fixed [h, h] and [w, w] interpolation matrices
 * (no gather, no image ops without gradients on wasm), plus Gaussian pixel noise.
 * Copies are laid out copy-major: row k·n + i is copy k of image i.
 *
 * Draws come from a seeded Rng, one draw sequence per augmenter, so a training run
 * repeats exactly; each call draws new transforms (fresh copies at every step
 * sample the expectation instead of fitting a fixed set).
 */
import type { AugmentSpec, Tensor, Tensor4D, Tf } from '../sdk/index';
import { Rng } from './rng';

// The settings are the SDK's (plugins choose them through LoadContext.augment).
export type { AugmentSpec };

/**
 * Defaults for classifier energies: ±8 % shift and zoom, σ 0.03 noise, no flip, and ONE
 * fresh copy per image per call. Training takes a stochastic gradient anyway: one new
 * transform per image and step is an unbiased estimate of the average over transforms,
 * and the steps average it. K copies cost K classifier passes: measured on `mnist` (4 blocks,
 * batch 32, wasm, shared machine) 134–158 ms/step bare, ≈ the same with 1 copy, 1.6× with 2
 * and ≈ 3× (433 ms) with 4. Controls that fit something once on base samples (debias's β̂)
 * average more copies there, where no gradient is taken.
 */
export const DEFAULT_AUGMENT: AugmentSpec = { copies: 1, shift: 0.08, scale: 0.08, flip: false, noise: 0.03 };

/** Merges user params over the defaults and checks them. */
export function resolveAugmentSpec(
  raw: Partial<AugmentSpec> | undefined | null,
  defaults: AugmentSpec = DEFAULT_AUGMENT,
): AugmentSpec {
  const s: AugmentSpec = { ...defaults, ...(raw ?? {}) };
  if (!Number.isInteger(s.copies) || s.copies < 0)
    throw new Error(`augment.copies must be a non-negative integer (got ${JSON.stringify(s.copies)})`);
  for (const k of ['shift', 'scale', 'noise'] as const) {
    if (typeof s[k] !== 'number' || !(s[k] >= 0) || s[k] > 0.5)
      throw new Error(`augment.${k} must be a number in [0, 0.5] (got ${JSON.stringify(s[k])})`);
  }
  if (typeof s.flip !== 'boolean') throw new Error('augment.flip must be a boolean');
  return s;
}

/**
 * The [L, L] bilinear resampling matrix of one axis, row-major: out[u] = Σ_i M[u, i] in[i],
 * sampling in at src(u) = (u + ½ − L/2)/zoom + L/2 − shift − ½ (pixel units), mirrored
 * when flip, indices clamped to the edge.
 */
export function axisResampler(L: number, zoom: number, shift: number, flip: boolean): Float32Array {
  const m = new Float32Array(L * L);
  for (let u = 0; u < L; u++) {
    let src = (u + 0.5 - L / 2) / zoom + L / 2 - shift - 0.5;
    if (flip) src = L - 1 - src;
    const i0 = Math.floor(src);
    const f = src - i0;
    const a = Math.min(L - 1, Math.max(0, i0));
    const b = Math.min(L - 1, Math.max(0, i0 + 1));
    m[u * L + a] += 1 - f;
    m[u * L + b] += f;
  }
  return m;
}

export interface Augmenter {
  readonly spec: AugmentSpec;
  /** Number of rows per image that expand() produces (max(1, copies)). */
  readonly copies: number;
  /** [n, h, w, c] → [K·n, h, w, c] augmented copies (copy-major); the images themselves when copies = 0. Differentiable. */
  expand(images: Tensor4D): Tensor4D;
  /** [K·n, ...] → [n, ...]: the mean over copies of per-copy values (e.g. energies or probabilities). */
  mean<T extends Tensor>(perCopy: T): T;
}

/** An augmenter with its own draw sequence (seeded: a run repeats exactly). */
export function createAugmenter(tf: Tf, spec: AugmentSpec, seed = 0): Augmenter {
  const rng = new Rng(seed >>> 0);
  const K = Math.max(1, spec.copies);
  return {
    spec,
    copies: K,
    expand(images: Tensor4D): Tensor4D {
      if (spec.copies === 0) return images;
      const [n, h, w, c] = images.shape;
      const B = K * n;
      const my = new Float32Array(B * c * h * h);
      const mx = new Float32Array(B * c * w * w);
      for (let r = 0; r < B; r++) {
        // One zoom for both axes (no change of aspect), an independent shift per axis.
        const zoom = 1 + spec.scale * (2 * rng.random() - 1);
        const sy = spec.shift * h * (2 * rng.random() - 1);
        const sx = spec.shift * w * (2 * rng.random() - 1);
        const flip = spec.flip && rng.random() < 0.5;
        const ay = axisResampler(h, zoom, sy, false);
        const ax = axisResampler(w, zoom, sx, flip);
        for (let ch = 0; ch < c; ch++) {
          my.set(ay, (r * c + ch) * h * h);
          mx.set(ax, (r * c + ch) * w * w);
        }
      }
      const noiseSeed = Math.floor(rng.random() * 2 ** 31);
      return tf.tidy(() => {
        const tiled = tf.tile(images, [K, 1, 1, 1]);
        const x = tf.reshape(tf.transpose(tiled, [0, 3, 1, 2]), [B * c, h, w]);
        const My = tf.tensor3d(my, [B * c, h, h]);
        const Mx = tf.tensor3d(mx, [B * c, w, w]);
        const moved = tf.matMul(tf.matMul(My, x), Mx, false, true);
        let out = tf.transpose(tf.reshape(moved, [B, c, h, w]), [0, 2, 3, 1]) as Tensor4D;
        if (spec.noise > 0)
          out = tf.add(out, tf.randomNormal(out.shape, 0, spec.noise, 'float32', noiseSeed)) as Tensor4D;
        return out;
      });
    },
    mean<T extends Tensor>(perCopy: T): T {
      if (spec.copies === 0) return perCopy;
      return tf.tidy(() => {
        const [B, ...rest] = perCopy.shape;
        return tf.mean(tf.reshape(perCopy, [K, B / K, ...rest]), 0) as T;
      });
    },
  };
}
