/**
 * The face nets as the controls use them (gender logits, age in years, expression logits,
 * landmarks and pose, descriptors) and the maths around them, on the host tf. Exported
 * for tests and other plugins too.
 */
import type { Tensor1D, Tensor2D, Tensor4D, Tf } from 'promptgen/plugin';
import { loadNet } from './lib/nets';
import { poseFromLandmarks } from './lib/pose';

export const DEG = Math.PI / 180;
/** Pose conditions are angles in degrees divided by this (so ±45° ↔ ±1). */
export const POSE_CONDITION_SCALE_DEG = 45;
/** Age buckets of the face-age-bucket classifier: [lower, upper) in years. */
export const AGE_BUCKETS: { name: string; lo: number; hi: number }[] = [
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
export const IDENTITY_SCALE = 0.05;
/** Default spread (years) of the logistic noise model put around the age regression. */
export const AGE_SOFTNESS = 4;

/** log σ(x) = −softplus(−x), stable. */
const logSigmoid = (tf: Tf, x: Tensor1D): Tensor1D => tf.neg(tf.softplus(tf.neg(x)));

/**
 * log P(lo ≤ A < hi) for A ~ Logistic(age, s) (per sample, [n]), stable for ages
 * far outside the interval: with a = (hi − age)/s, b = (lo − age)/s,
 * σ(a) − σ(b) = σ(a)·σ(−b)·(1 − e^{b−a}), and b − a = (lo − hi)/s is a constant.
 */
export function logIntervalProb(tf: Tf, age: Tensor1D, lo: number, hi: number, s: number): Tensor1D {
  const hasLo = Number.isFinite(lo);
  const hasHi = Number.isFinite(hi);
  if (!hasLo && !hasHi) return tf.zerosLike(age);
  let out: Tensor1D | null = null;
  if (hasHi) out = logSigmoid(tf, tf.div<Tensor1D>(tf.sub(hi, age), s));
  if (hasLo) {
    const t = logSigmoid(tf, tf.div<Tensor1D>(tf.sub(age, lo), s));
    out = out ? tf.add<Tensor1D>(out, t) : t;
  }
  if (hasLo && hasHi) out = tf.add<Tensor1D>(out!, Math.log(-Math.expm1((lo - hi) / s)));
  return out!;
}

/** Gender: logits [n,2] in GENDERS order (male, female). */
export function loadGenderModel(tf: Tf): { logits: (images: Tensor4D) => Tensor2D; dispose: () => void } {
  const net = loadNet(tf, 'ageGender');
  return { logits: (images: Tensor4D) => net.run(images).genderLogits, dispose: net.dispose };
}

/** Age regression: years [n]. */
export function loadAgeModel(tf: Tf): { age: (images: Tensor4D) => Tensor1D; dispose: () => void } {
  const net = loadNet(tf, 'ageGender');
  return { age: (images: Tensor4D) => net.run(images).age, dispose: net.dispose };
}

/** Expression: logits [n,7] in EXPRESSIONS order. */
export function loadExpressionModel(tf: Tf): { logits: (images: Tensor4D) => Tensor2D; dispose: () => void } {
  const net = loadNet(tf, 'expression');
  return { logits: (images: Tensor4D) => net.run(images), dispose: net.dispose };
}

/** 68 landmarks [n,68,2] (fractions of the square-padded image) and pose [n,3] (radians: yaw, pitch, roll). */
export function loadPoseModel(tf: Tf) {
  const net = loadNet(tf, 'landmarks');
  const landmarks = (images: Tensor4D) => net.run(images);
  return {
    landmarks,
    pose: (images: Tensor4D): Tensor2D => poseFromLandmarks(tf, landmarks(images)),
    dispose: net.dispose,
  };
}

/** Face descriptor [n,128] (faceRecognitionNet). */
export function loadDescriptorModel(tf: Tf): {
  descriptor: (images: Tensor4D) => Tensor2D;
  dispose: () => void;
} {
  const net = loadNet(tf, 'recognition');
  return { descriptor: (images: Tensor4D) => net.run(images), dispose: net.dispose };
}

/** Cosine similarity of rows [n,d] × [n,d] → [n]. */
export function cosine(tf: Tf, a: Tensor2D, b: Tensor2D): Tensor1D {
  const dot = tf.sum(tf.mul(a, b), 1);
  const na = tf.sqrt(tf.add(tf.sum(tf.square(a), 1), 1e-12));
  const nb = tf.sqrt(tf.add(tf.sum(tf.square(b), 1), 1e-12));
  return tf.div(dot, tf.mul(na, nb));
}
