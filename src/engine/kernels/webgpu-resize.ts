/**
 * Resize gradients for the webgpu backend of TF.js 4.22.0.
 *
 Measured (test/engine/webgpu/ops.test.ts, checked by the adjoint identity
 * ⟨resize(x), dy⟩ = ⟨x, dx⟩, which any correct gradient of a linear map meets):
 * the stock webgpu gradients put face-api's input gradients 1–10 % off the cpu
 * backend's, and the Quick, Draw! CVAE's (UpSampling2D, nearest 2×) 140 % off.
 * The stock *cpu* gradients are not a safe reference either: ResizeNearestNeighborGrad
 * is wrong for an exact 2× upsampling (4→8: ⟨x, dx⟩ = −4.49 where ⟨resize(x), dy⟩
 * = −7.17), ResizeBilinearGrad ignores halfPixelCenters and throws for H ≠ W.
 * (wasm: nearest is right; bilinear with halfPixelCenters is wrong there too. No
 * built-in plugin resizes with halfPixelCenters.) The gradient is exact in matrix form: both
 * resizes are separable, out[n, o, p, c] = Σ_{h,w} Ry[o, h] · Rx[p, w] · x[n, h, w, c],
 * with 1-D interpolation matrices Ry [H', H] and Rx [W', W] built here with the
 * cpu backend's own coordinate rules, so
 *
 *   dx[n, h, w, c] = Σ_{o,p} Ry[o, h] · Rx[p, w] · dy[n, o, p, c]
 *                  = (Ryᵀ · dy · Rx) per (n, c)          (two batched matMuls)
 *
 * matMul and transpose are checked against cpu on webgpu. The patch replaces the
 * gradient *function* of ResizeNearestNeighbor / ResizeBilinear (gradients are
 * registered per kernel, not per backend), so it only takes this path while the
 * webgpu backend is active and defers to the stock gradient everywhere else
 * (unless `everywhere`: the webgpu tests use it to give the cpu reference the
 * correct gradient; fixing cpu/wasm for good is left to their owners).
 */
import * as tfcore from '@tensorflow/tfjs-core';
import type { GradConfig, NamedAttrMap, Tensor, Tensor4D } from '@tensorflow/tfjs-core';

/**
 * R [outSize, inSize], row-major: the 1-D resize as a matrix, following the cpu
 * backend's ResizeNearestNeighbor / ResizeBilinear (alignCorners, halfPixelCenters).
 */
export function resizeMatrix(
  inSize: number,
  outSize: number,
  alignCorners: boolean,
  halfPixelCenters: boolean,
  mode: 'nearest' | 'bilinear',
): Float32Array {
  const R = new Float32Array(outSize * inSize);
  const effIn = alignCorners && outSize > 1 ? inSize - 1 : inSize;
  const effOut = alignCorners && outSize > 1 ? outSize - 1 : outSize;
  const scale = effIn / effOut;
  for (let o = 0; o < outSize; o++) {
    if (mode === 'nearest') {
      const frac = halfPixelCenters ? scale * (o + 0.5) : scale * o;
      let i = Math.min(inSize - 1, alignCorners ? Math.round(frac) : Math.floor(frac));
      if (halfPixelCenters) i = Math.max(0, i);
      R[o * inSize + i] = 1;
    } else {
      const frac = halfPixelCenters ? scale * (o + 0.5) - 0.5 : scale * o;
      const lo = Math.max(0, Math.floor(frac));
      const hi = Math.min(inSize - 1, Math.ceil(frac));
      const t = frac - Math.floor(frac);
      R[o * inSize + lo] += 1 - t;
      R[o * inSize + hi] += t;
    }
  }
  return R;
}

/** dx for dy [n, H', W', c] of a resize from [H, W]. */
export function resizeGrad(
  dy: Tensor4D,
  H: number,
  W: number,
  alignCorners: boolean,
  halfPixelCenters: boolean,
  mode: 'nearest' | 'bilinear',
): Tensor4D {
  const tf = tfcore;
  const [n, H2, W2, c] = dy.shape;
  return tf.tidy(() => {
    const ryT = tf.transpose(tf.tensor2d(resizeMatrix(H, H2, alignCorners, halfPixelCenters, mode), [H2, H])); // [H, H2]
    const rx = tf.tensor2d(resizeMatrix(W, W2, alignCorners, halfPixelCenters, mode), [W2, W]);
    // rows: [n, H2, W2·c] → Ryᵀ · → [n, H, W2·c]
    const rows = tf.matMul(
      tf.tile(tf.expandDims(ryT, 0), [n, 1, 1]) as tfcore.Tensor3D,
      tf.reshape(dy, [n, H2, W2 * c]) as tfcore.Tensor3D,
    );
    // columns: [n·H, W2, c] → [n·H, c, W2] · Rx → [n·H, c, W] → [n, H, W, c]
    const cols = tf.transpose(tf.reshape(rows, [n * H, W2, c]), [0, 2, 1]) as tfcore.Tensor3D;
    const out = tf.matMul(tf.reshape(cols, [n * H * c, W2]) as tfcore.Tensor2D, rx);
    return tf.reshape(tf.transpose(tf.reshape(out, [n * H, c, W]), [0, 2, 1]), [n, H, W, c]) as Tensor4D;
  });
}

const MARK = '__promptgenWebGpu';

const everywhereFlag = { on: false };
const stockGrads = new Map<string, GradConfig>();

function patch(kernelName: 'ResizeNearestNeighbor' | 'ResizeBilinear', mode: 'nearest' | 'bilinear'): void {
  const current = tfcore.getGradient(kernelName);
  if (current && (current as unknown as Record<string, boolean>)[MARK]) return;
  const stock = stockGrads.get(kernelName) ?? current;
  if (!stock)
    throw new Error(
      `no gradient registered for ${kernelName} (import @tensorflow/tfjs-layers or the converter first)`,
    );
  stockGrads.set(kernelName, stock);
  const cfg: GradConfig = {
    kernelName,
    inputsToSave: ['images'],
    gradFunc: (dy: Tensor | Tensor[], saved: Tensor[], attrs: NamedAttrMap) => {
      if (tfcore.getBackend() !== 'webgpu' && !everywhereFlag.on) return stock.gradFunc(dy, saved, attrs);
      const [images] = saved;
      const [, H, W] = images.shape as number[];
      const ac = Boolean(attrs.alignCorners);
      const hp = Boolean(attrs.halfPixelCenters);
      return { images: () => resizeGrad(dy as Tensor4D, H, W, ac, hp, mode) };
    },
  };
  (cfg as unknown as Record<string, boolean>)[MARK] = true;
  tfcore.registerGradient(cfg);
}

/** Installs the resize gradient patches (idempotent); `everywhere` for every backend (tests). */
export function registerWebGpuGradientPatches(opts: { everywhere?: boolean } = {}): string[] {
  if (opts.everywhere !== undefined) everywhereFlag.on = opts.everywhere;
  patch('ResizeNearestNeighbor', 'nearest');
  patch('ResizeBilinear', 'bilinear');
  return ['ResizeNearestNeighbor (gradient)', 'ResizeBilinear (gradient)'];
}
