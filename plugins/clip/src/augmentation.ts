/**
 * The image side of the clip-text energy: CLIP preprocessing and K random augmentations
 * (zoom, translation, colour jitter, cut-out), written as batched matMuls, reshapes,
 * concat and element-wise ops only, so the gradient exists on the cpu and wasm backends
 * alike (no gather, cropAndResize or resizeBilinear gradients needed).
 */
import type { Tensor4D, Tf } from 'promptgen/plugin';
import { fmtShape, userError, type AugmentSettings } from './params';

/** The host's rank-3 tensor (the SDK names ranks 1, 2 and 4). */
type Tensor3D = ReturnType<Tf['tensor3d']>;

export const CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073];
export const CLIP_STD = [0.26862954, 0.26130258, 0.27577711];
/** ITU-R 601 luma, for the saturation jitter. */
const LUMA = [0.299, 0.587, 0.114];

/** The random draws of drawAugmentations, one entry per copy. */
export interface AugmentDraws {
  zoom: Float32Array;
  tx: Float32Array;
  ty: Float32Array;
  brightness: Float32Array;
  contrast: Float32Array;
  saturation: Float32Array;
  cy: Float32Array;
  cx: Float32Array;
}
const DRAWS = ['zoom', 'tx', 'ty', 'brightness', 'contrast', 'saturation', 'cy', 'cx'] as const;

/** mulberry32: deterministic uniforms in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A 32-bit seed for (seed, call index). */
export function callSeed(seed: number, call: number): number {
  let h = (seed ^ 0x9e3779b9) >>> 0;
  h = Math.imul(h ^ (call + 0x7f4a7c15), 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

/**
 * Random augmentation parameters for B copies (JS numbers, one draw order).
 */
export function drawAugmentations(B: number, augment: AugmentSettings, random: () => number): AugmentDraws {
  const out = Object.fromEntries(DRAWS.map((k) => [k, new Float32Array(B)])) as Record<
    (typeof DRAWS)[number],
    Float32Array
  >;
  const [lo, hi] = augment.rescale;
  for (let b = 0; b < B; b++) {
    out.zoom[b] = lo + (hi - lo) * random();
    out.tx[b] = augment.translate * (2 * random() - 1);
    out.ty[b] = augment.translate * (2 * random() - 1);
    out.brightness[b] = augment.colour * (2 * random() - 1);
    out.contrast[b] = 1 + augment.colour * (2 * random() - 1);
    out.saturation[b] = 1 + augment.colour * (2 * random() - 1);
    out.cy[b] = random();
    out.cx[b] = random();
  }
  return out;
}

/**
 * Bilinear resampling matrices for one axis, B of them, as a Float32Array: output
 * pixel o (centre u = (o+½)/outSize − ½) reads the source at normalised coordinate
 * v = u/zoom + ½ − shift, clamped to the image (edge pixels replicated). The tent
 * kernel is widened by the downscale factor when shrinking (antialiasing, as PIL's
 * bilinear resize does) and each row is normalised to sum 1. Layout [B, outSize,
 * inSize], or [B, inSize, outSize] with `transposed`.
 */
function axisMatrices(
  B: number,
  outSize: number,
  inSize: number,
  zoom: Float32Array | null,
  shift: Float32Array | null,
  transposed: boolean,
): Float32Array {
  const m = new Float32Array(B * outSize * inSize);
  const taps = new Float32Array(inSize);
  for (let b = 0; b < B; b++) {
    const z = zoom ? zoom[b] : 1;
    const t = shift ? shift[b] : 0;
    const support = Math.max(1, inSize / (outSize * z));
    for (let o = 0; o < outSize; o++) {
      const v = ((o + 0.5) / outSize - 0.5) / z + 0.5 - t;
      const src = Math.min(Math.max(v * inSize - 0.5, 0), inSize - 1);
      const j0 = Math.max(0, Math.ceil(src - support));
      const j1 = Math.min(inSize - 1, Math.floor(src + support));
      let sum = 0;
      for (let j = j0; j <= j1; j++) {
        const w = Math.max(0, 1 - Math.abs(src - j) / support);
        taps[j] = w;
        sum += w;
      }
      for (let j = j0; j <= j1; j++) {
        const w = taps[j] / sum;
        if (transposed) m[(b * inSize + j) * outSize + o] = w;
        else m[(b * outSize + o) * inSize + j] = w;
      }
    }
  }
  return m;
}

/** The matrices of axisMatrices as a tensor [B, outSize, inSize] (for tests and other plugins). */
export function interpolationMatrices(
  tf: Tf,
  outSize: number,
  inSize: number,
  zoom: Float32Array,
  shift: Float32Array | null,
): Tensor3D {
  return tf.tensor3d(axisMatrices(zoom.length, outSize, inSize, zoom, shift, false), [
    zoom.length,
    outSize,
    inSize,
  ]);
}

/** Each of B matrices (Float32Array of B·size) repeated `times` times in a row: [B·times, ...]. */
/** The C×C identity, row-major (built in JS: no synchronous tensor read, which webgpu lacks). */
function identity(C: number): Float32Array {
  const out = new Float32Array(C * C);
  for (let i = 0; i < C; i++) out[i * C + i] = 1;
  return out;
}

function repeatEach(m: Float32Array, B: number, times: number): Float32Array {
  if (times === 1) return m;
  const size = m.length / B;
  const out = new Float32Array(m.length * times);
  for (let b = 0; b < B; b++)
    for (let t = 0; t < times; t++) out.set(m.subarray(b * size, (b + 1) * size), (b * times + t) * size);
  return out;
}

/**
 * Resamples planes [P, H, W] with per-plane row matrices Ay [P, S, H] and transposed
 * column matrices AxT [P, W, S] (Float32Arrays): Ay · X · AxT, two batched matMuls.
 */
function resamplePlanes(tf: Tf, planes: Tensor3D, Ay: Float32Array, AxT: Float32Array, S: number): Tensor3D {
  const [P, H, W] = planes.shape;
  return tf.matMul(tf.matMul(tf.tensor3d(Ay, [P, S, H]), planes), tf.tensor3d(AxT, [P, W, S]));
}

/**
 * Per-copy colour maps, CLIP normalisation folded in: for copy b, the 3×C matrix
 * M_b = diag(1/std) · κ_b · Sat_b · P_C and bias β_b = (½(1 − κ_b) + δ_b − mean)/std,
 * with Sat_b = σ_b I + (1 − σ_b) 1·lumaᵀ (saturation), κ_b contrast around ½, δ_b
 * brightness, and P_C mapping C input channels to RGB (grey → 3 equal channels, RGBA
 * drops alpha). Returns M [B, 3, C] and β [B, 3] as Float32Arrays.
 */
function colourMaps(B: number, C: number, aug: AugmentDraws | null): { M: Float32Array; bias: Float32Array } {
  const M = new Float32Array(B * 3 * C);
  const bias = new Float32Array(B * 3);
  for (let b = 0; b < B; b++) {
    const s = aug ? aug.saturation[b] : 1;
    const k = aug ? aug.contrast[b] : 1;
    const d = aug ? aug.brightness[b] : 0;
    for (let c = 0; c < 3; c++) {
      for (let j = 0; j < 3; j++) {
        const w = (k * ((c === j ? s : 0) + (1 - s) * LUMA[j])) / CLIP_STD[c];
        if (C === 1) M[b * 3 + c] += w;
        else M[(b * 3 + c) * C + j] = w;
      }
      bias[b * 3 + c] = (0.5 * (1 - k) + d - CLIP_MEAN[c]) / CLIP_STD[c];
    }
  }
  return { M, bias };
}

/** [B, r, c] → [B, c, r] as a Float32Array. */
function transposeEach(m: Float32Array, B: number, r: number, c: number): Float32Array {
  const out = new Float32Array(m.length);
  for (let b = 0; b < B; b++)
    for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) out[(b * c + j) * r + i] = m[(b * r + i) * c + j];
  return out;
}

/**
 * The image encoder's input batch: images [n, h, w, c] (c = 1, 3 or 4) in [0, 1] →
 * CLIP-normalised [B, S, S, 3] (layout 'NHWC') or [B, 3, S, S] ('NCHW'). Without
 * `aug`, B = n (bilinear resize only); with `aug` (drawAugmentations for K·n copies),
 * B = K·n and copy k of sample i is at k·n + i: zoom and translation (edges
 * replicated), colour jitter, and a cut-out square set to 0 (the mean colour).
 *
 * Differentiable in `images`. Built only from batched matMuls (transposes by the
 * matMul flags), reshapes, concat along axis 0 and element-wise ops on equal shapes:
 * the gradient exists on cpu and wasm alike, and nothing hits the cpu backend's slow
 * generic paths (transpose, broadcasting, strided slices).
 */
export function preprocess(
  tf: Tf,
  images: Tensor4D,
  S: number,
  K: number,
  augment: AugmentSettings | null,
  aug: AugmentDraws | null,
  layout: 'NHWC' | 'NCHW' = 'NHWC',
): Tensor4D {
  if (images.rank !== 4)
    throw userError(`clip-text: images must be [n, height, width, channels] (got ${fmtShape(images.shape)})`);
  const [n, H0, W0, C] = images.shape;
  if (C !== 1 && C !== 3 && C !== 4)
    throw userError(`clip-text: cannot use ${C}-channel images (1, 3 or 4 channels)`);
  let [H, W] = [H0, W0];
  // Channel planes [n·C, H, W] (plane i·C + c), via a matMul with the identity (transposeB).
  let planes: Tensor3D =
    C === 1
      ? tf.reshape(images, [n, H, W])
      : tf.reshape(
          tf.matMul(
            tf.tensor3d(repeatEach(identity(C), 1, n), [n, C, C]),
            tf.reshape(images, [n, H * W, C]),
            false,
            true,
          ),
          [n * C, H, W],
        );
  if (aug && (H > S || W > S)) {
    // Shrink every sample once, then resample its K copies at S×S.
    planes = resamplePlanes(
      tf,
      planes,
      repeatEach(axisMatrices(1, S, H, null, null, false), 1, n * C),
      repeatEach(axisMatrices(1, S, W, null, null, true), 1, n * C),
      S,
    );
    H = S;
    W = S;
  }
  const B = aug ? K * n : n;
  if (aug && K > 1)
    planes = tf.concat(
      Array.from({ length: K }, () => planes),
      0,
    ); // plane (k·n + i)·C + c
  if (aug || H !== S || W !== S) {
    const zoom = aug ? aug.zoom : null;
    planes = resamplePlanes(
      tf,
      planes,
      repeatEach(axisMatrices(B, S, H, zoom, aug ? aug.ty : null, false), B, C),
      repeatEach(axisMatrices(B, S, W, zoom, aug ? aug.tx : null, true), B, C),
      S,
    );
  }
  const x = tf.reshape(planes, [B, C, S * S]);
  const { M, bias } = colourMaps(B, C, aug && augment && augment.colour > 0 ? aug : null);
  const nchw = layout === 'NCHW';
  // NCHW: M · X + β·1ᵀ → [B, 3, S·S];  NHWC: Xᵀ · Mᵀ + 1·βᵀ → [B, S·S, 3].
  let z = nchw
    ? tf.add(
        tf.matMul(tf.tensor3d(M, [B, 3, C]), x),
        tf.matMul(tf.tensor3d(bias, [B, 3, 1]), tf.ones([B, 1, S * S])),
      )
    : tf.add(
        tf.matMul(x, tf.tensor3d(transposeEach(M, B, 3, C), [B, C, 3]), true, false),
        tf.matMul(tf.ones([B, S * S, 1]), tf.tensor3d(bias, [B, 1, 3])),
      );
  if (aug && augment && augment.cutout > 0) {
    // One L×L square per copy, as a multiplicative mask (outer products, no broadcasting).
    const L = Math.max(1, Math.round(augment.cutout * S));
    const rowIn = new Float32Array(B * S);
    const colIn = new Float32Array(B * S);
    for (let b = 0; b < B; b++) {
      const y0 = Math.floor(aug.cy[b] * S) - Math.floor(L / 2);
      const x0 = Math.floor(aug.cx[b] * S) - Math.floor(L / 2);
      for (let i = Math.max(0, y0); i < Math.min(S, y0 + L); i++) rowIn[b * S + i] = 1;
      for (let i = Math.max(0, x0); i < Math.min(S, x0 + L); i++) colIn[b * S + i] = 1;
    }
    const cut = tf.matMul(tf.tensor3d(rowIn, [B, S, 1]), tf.tensor3d(colIn, [B, 1, S])); // [B, S, S]
    const cut3 = nchw
      ? tf.matMul(tf.ones([B, 3, 1]), tf.reshape(cut, [B, 1, S * S]))
      : tf.matMul(tf.reshape(cut, [B, S * S, 1]), tf.ones([B, 1, 3]));
    z = tf.mul(z, tf.sub(1, cut3));
  }
  return nchw ? tf.reshape(z, [B, 3, S, S]) : tf.reshape(z, [B, S, S, 3]);
}
