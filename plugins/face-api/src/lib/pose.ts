/**
 * A differentiable head-pose estimate from face-api's 68 landmarks (iBUG
 * order: jaw 0–16, brows 17–26, nose bridge 27–30, nostrils 31–35, eyes
 * 36–41 (image left) and 42–47 (image right), mouth 48–67). No PnP, no 3-D
 * model fit: three closed-form angles from landmark geometry.
 *
 * Image coordinates: x to the right, y down. Let L, R be the centres of the
 * image-left and image-right eye, o = (L + R) / 2, u = (R − L) / |R − L| and
 * v = (−u_y, u_x) (u rotated by +90°, i.e. "down the face"). Every landmark p
 * gets de-rolled coordinates a = (p − o)·u, b = (p − o)·v.
 *
 *   roll  = atan2(R_y − L_y, R_x − L_x)
 *           positive: the face is turned clockwise on screen (image-right eye lower).
 *   yaw   = atan(r / K_YAW),   r = (a₃₀ − (a₀ + a₁₆)/2) / ((a₁₆ − a₀)/2)
 *           the nose tip's offset from the middle of the jaw outline, in
 *           half face widths. A nose tip at depth D in front of the jaw contour,
 *           half-width W, turned by θ (orthographic) gives r = (D/W)·tan θ;
 *           K_YAW = D/W (fitted below). Positive: nose towards image right (the subject
 *           turns to their left).
 *   pitch = atan((T0 − t) / K_PITCH),  t = b₃₀ / b_mouth
 *           the nose tip's height between the eye line (0) and the mouth centre
 *           (mean of points 48–67) (1). Nose tip ahead of the eye–mouth plane by
 *           D_n, eye–mouth distance H: t = T0 − (D_n/H)·tan φ; K_PITCH = D_n/H (fitted below);
 *           T0 is t of a frontal face (measured on face-api's sample faces).
 *           Positive: looking up (nose tip moves towards the eyes).
 *
 * Calibration (issue #19; no photos with known pose are available here, so by
 * geometry): K_YAW and K_PITCH are fitted so that the formulas return the true
 * angle for a mean 3-D face of the 68 iBUG landmarks (OpenFace's published mean
 * shape), turned by known angles in ±30° and projected orthographically:
 * K_YAW = 1.165 (was a guess of 1.0, which read 20° as 24.3°); the fit's largest
 * error is 1.4° over ±30°. K_PITCH = 0.453 (was 0.5), largest error 4.0°.
 * T0, the zero of pitch, stays measured on face-api's own landmarks of real
 * faces (its point 30 sits lower on the nose than the mean shape's: the gap to
 * point 33 is 0.11–0.14 of the eye–mouth distance on the test photos, 0.22 in
 * the mean shape, so the shape's zero, 0.446, does not carry over): pitch is the
 * least certain angle, its zero by several degrees. Fixed contour points are a
 * simplification (a detector follows the silhouette), which matters beyond ±30°.
 * The angles are smooth, monotonic over ±30°, mirror-symmetric (a flipped face
 * flips yaw and roll, keeps pitch), and differentiable wherever the landmarks are
 * not degenerate.
 */
import type { Tensor1D, Tensor2D, Tf } from 'promptgen/plugin';

/** The host's rank-3 tensor (the SDK names ranks 1, 2 and 4). */
type Tensor3D = ReturnType<Tf['tensor3d']>;

export const K_YAW = 1.165;
export const K_PITCH = 0.453;
export const T0 = 0.62;

/** Mean of landmarks [from, to] (inclusive) of lm [n,68,2] → [n,2]. */
function meanPoints(tf: Tf, lm: Tensor3D, from: number, to: number): Tensor2D {
  return tf.mean<Tensor2D>(tf.slice(lm, [0, from, 0], [-1, to - from + 1, 2]), 1);
}

function point(tf: Tf, lm: Tensor3D, i: number): Tensor2D {
  return tf.reshape(tf.slice(lm, [0, i, 0], [-1, 1, 2]), [lm.shape[0], 2]);
}

const col = (tf: Tf, t: Tensor2D, j: number): Tensor1D =>
  tf.reshape(tf.slice(t, [0, j], [-1, 1]), [t.shape[0]]);

/**
 * landmarks [n,68,2] (any consistent unit) → [n,3] radians (yaw, pitch, roll).
 */
export function poseFromLandmarks(tf: Tf, lm: Tensor3D): Tensor2D {
  const L = meanPoints(tf, lm, 36, 41);
  const R = meanPoints(tf, lm, 42, 47);
  const e = tf.sub<Tensor2D>(R, L);
  const ex = col(tf, e, 0);
  const ey = col(tf, e, 1);
  const len = tf.sqrt(tf.add(tf.add(tf.square(ex), tf.square(ey)), 1e-12));
  const ux = tf.div(ex, len);
  const uy = tf.div(ey, len);
  const o = tf.div<Tensor2D>(tf.add(L, R), 2);
  // a = (p − o)·u, b = (p − o)·v with v = (−uy, ux).
  const coords = (p: Tensor2D): { a: Tensor1D; b: Tensor1D } => {
    const d = tf.sub<Tensor2D>(p, o);
    const dx = col(tf, d, 0);
    const dy = col(tf, d, 1);
    return { a: tf.add(tf.mul(dx, ux), tf.mul(dy, uy)), b: tf.sub(tf.mul(dy, ux), tf.mul(dx, uy)) };
  };
  const j0 = coords(point(tf, lm, 0));
  const j16 = coords(point(tf, lm, 16));
  const nose = coords(point(tf, lm, 30));
  const mouth = coords(meanPoints(tf, lm, 48, 67));

  const roll = tf.atan2<Tensor1D>(ey, ex);
  const centre = tf.div<Tensor1D>(tf.add(j0.a, j16.a), 2);
  const halfWidth = tf.div<Tensor1D>(tf.sub(j16.a, j0.a), 2);
  const r = tf.div<Tensor1D>(tf.sub(nose.a, centre), safe(tf, halfWidth));
  const yaw = tf.atan(tf.div<Tensor1D>(r, K_YAW));
  const t = tf.div<Tensor1D>(nose.b, safe(tf, mouth.b));
  const pitch = tf.atan(tf.div<Tensor1D>(tf.sub(T0, t), K_PITCH));
  return tf.stack([yaw, pitch, roll], 1) as Tensor2D;
}

/** Keeps a (positive in practice) denominator away from 0 so degenerate landmarks give finite values. */
function safe(tf: Tf, x: Tensor1D): Tensor1D {
  return tf.maximum(x, 1e-6);
}
