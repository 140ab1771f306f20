/**
 * Convolutions as matrix products on OpenBLAS (see native-blas.ts), for the
 * wasm backend, NHWC:
 *  - Conv2D / FusedConv2D: im2col of the input, times the filter seen as a
 *    [kh·kw·C, O] matrix, written straight into the NHWC output;
 *  - Conv2DBackpropInput (every conv2dTranspose and conv2d's input gradient):
 *    dy [rows, O] times the filterᵀ gives each output pixel's kh·kw·C
 *    contributions, scatter-added into dx (col2im). Unlike a convolution over
 *    the zero-dilated dy, no multiply-add is spent on inserted zeros.
 * XNNPACK's conv on wasm reached ~70 % of the conv benchmark's step time; the
 * stock path stays as the fallback for what these do not handle (NCHW,
 * dilated backprop, unusual fused activations).
 * Rows are processed in chunks so the im2col/col2im scratch stays ≤ 16 MB.
 */
import { backend_util, type KernelFunc, type TensorInfo } from '@tensorflow/tfjs-core';
import { callKernel, view, type KernelArgs } from './wasm-util';
import { activationOf, biasActivation, type NativeBlas } from './native-blas';

type Pad = 'valid' | 'same' | number | backend_util.ExplicitPadding;
type Shape4 = [number, number, number, number];

const SCRATCH_FLOATS = 4 * 1024 * 1024;
let scratch = new Float32Array(0);
function scratchOf(n: number): Float32Array {
  if (scratch.length < n) scratch = new Float32Array(Math.max(n, 1024));
  return scratch.subarray(0, n);
}

/** The geometry for the addon's im2col/col2im (native/src/conv.c: [N, H, W, C, kh, kw, sh, sw, dh, dw, pt, pl, OH, OW, r0, r1]). */
export function convParams(...v: number[]): Int32Array {
  return Int32Array.from(v);
}

/**
 * The JS twins of the addon's im2col/col2im (for an addon built before they
 * existed). The loops were moved to C because in the conv benchmark they ran
 * on every 64×64×32 activation, forward and backward (docs/PERFORMANCE.md).
 */
export function im2colJs(X: Float32Array, cols: Float32Array, p: Int32Array): void {
  const [, H, W, C, kh, kw, sh, sw, dh, dw, pt, pl, OH, OW, r0, r1] = p as unknown as number[];
  let o = 0;
  for (let r = r0!; r < r1!; r++) {
    const ox = r % OW!;
    const t = (r - ox) / OW!;
    const oy = t % OH!;
    const n = (t - oy) / OH!;
    for (let ky = 0; ky < kh!; ky++) {
      const iy = oy * sh! - pt! + ky * dh!;
      for (let kx = 0; kx < kw!; kx++) {
        const ix = ox * sw! - pl! + kx * dw!;
        if (iy < 0 || iy >= H! || ix < 0 || ix >= W!) cols.fill(0, o, o + C!);
        else {
          const src = ((n * H! + iy) * W! + ix) * C!;
          for (let c = 0; c < C!; c++) cols[o + c] = X[src + c]!;
        }
        o += C!;
      }
    }
  }
}

export function col2imJs(cols: Float32Array, X: Float32Array, p: Int32Array): void {
  const [, H, W, C, kh, kw, sh, sw, dh, dw, pt, pl, OH, OW, r0, r1] = p as unknown as number[];
  let o = 0;
  for (let r = r0!; r < r1!; r++) {
    const ox = r % OW!;
    const t = (r - ox) / OW!;
    const oy = t % OH!;
    const n = (t - oy) / OH!;
    for (let ky = 0; ky < kh!; ky++) {
      const iy = oy * sh! - pt! + ky * dh!;
      for (let kx = 0; kx < kw!; kx++) {
        const ix = ox * sw! - pl! + kx * dw!;
        if (iy >= 0 && iy < H! && ix >= 0 && ix < W!) {
          const dst = ((n * H! + iy) * W! + ix) * C!;
          for (let c = 0; c < C!; c++) X[dst + c] += cols[o + c]!;
        }
        o += C!;
      }
    }
  }
}

function isNhwc(attrs: Record<string, unknown>): boolean {
  const df = attrs.dataFormat as string | undefined;
  return !df || df === 'NHWC' || df === 'channelsLast';
}

/** Conv2D and FusedConv2D (bias of size 1 or O, simple activations). */
export function makeNativeConv2D(blas: NativeBlas, fallback: KernelFunc, fused: boolean): KernelFunc {
  return ((args: KernelArgs): TensorInfo => {
    const { inputs, backend, attrs = {} } = args;
    const { x, filter } = inputs;
    const bias = fused ? inputs.bias : undefined;
    const activation = fused ? activationOf(attrs) : null;
    const biasSize = bias ? bias.shape.reduce((a, b) => a * b, 1) : 0;
    const O = filter.shape[3]!;
    if (
      !isNhwc(attrs) ||
      x.dtype !== 'float32' ||
      filter.dtype !== 'float32' ||
      x.shape.length !== 4 ||
      filter.shape.length !== 4 ||
      activation === undefined ||
      (fused && inputs.preluActivationWeights) ||
      (bias && (bias.dtype !== 'float32' || (biasSize !== 1 && biasSize !== O)))
    ) {
      return callKernel(fallback, args);
    }
    const info = backend_util.computeConv2DInfo(
      x.shape as Shape4,
      filter.shape as Shape4,
      attrs.strides as [number, number] | number,
      (attrs.dilations as [number, number] | number | undefined) ?? 1,
      attrs.pad as Pad,
      attrs.dimRoundingMode as 'floor' | 'round' | 'ceil' | undefined,
    );
    const [N, H, W, C] = x.shape as Shape4;
    const {
      filterHeight: kh,
      filterWidth: kw,
      strideHeight: sh,
      strideWidth: sw,
      dilationHeight: dh,
      dilationWidth: dw,
      outHeight: OH,
      outWidth: OW,
    } = info;
    const pt = info.padInfo.top;
    const pl = info.padInfo.left;
    const out = backend.makeOutput([N, OH, OW, O], 'float32'); // before views: growth detaches the heap
    const X = view(backend, x);
    const Fl = view(backend, filter);
    const Y = view(backend, out);
    const K = kh * kw * C;
    const rows = N * OH * OW;
    const chunk = Math.max(1, Math.min(rows, Math.floor(SCRATCH_FLOATS / K)));
    const cols = scratchOf(chunk * K);
    for (let r0 = 0; r0 < rows; r0 += chunk) {
      const r1 = Math.min(rows, r0 + chunk);
      // im2col for rows r0..r1 (row = (n, oy, ox); column = (ky, kx, c))
      const p = convParams(N, H, W, C, kh, kw, sh, sw, dh, dw, pt, pl, OH, OW, r0, r1);
      if (blas.im2col) blas.im2col(X, cols, p);
      else im2colJs(X, cols, p);
      const m = r1 - r0;
      blas.sgemm(cols.subarray(0, m * K), Fl, Y.subarray(r0 * O, r1 * O), m, O, K, false, false);
    }
    biasActivation(blas, Y, bias ? view(backend, bias) : null, O, attrs, activation);
    return out;
  }) as unknown as KernelFunc;
}

/**
 * Conv2DBackpropInput: dx = col2im(dy · filterᵀ). Its patch walk mirrors
 * Conv2D's im2col; a shared table of patch offsets was tried and made the conv
 * benchmark step ~4 % slower (337 vs 323 ms), so each keeps its own loop.
 */
export function makeNativeConv2DBackpropInput(blas: NativeBlas, fallback: KernelFunc): KernelFunc {
  return ((args: KernelArgs): TensorInfo => {
    const { inputs, backend, attrs = {} } = args;
    const { dy, filter } = inputs;
    if (!isNhwc(attrs) || dy.dtype !== 'float32' || filter.dtype !== 'float32' || filter.shape.length !== 4)
      return callKernel(fallback, args);
    const inputShape = attrs.inputShape as Shape4;
    const info = backend_util.computeConv2DInfo(
      inputShape,
      filter.shape as Shape4,
      attrs.strides as [number, number] | number,
      1,
      attrs.pad as Pad,
      attrs.dimRoundingMode as 'floor' | 'round' | 'ceil' | undefined,
    );
    const [N, H, W, C] = inputShape;
    const {
      filterHeight: kh,
      filterWidth: kw,
      strideHeight: sh,
      strideWidth: sw,
      outHeight: OH,
      outWidth: OW,
    } = info;
    const O = info.outChannels;
    const pt = info.padInfo.top;
    const pl = info.padInfo.left;
    const out = backend.makeOutput([N, H, W, C], 'float32');
    const D = view(backend, dy);
    const Fl = view(backend, filter);
    const X = view(backend, out);
    X.fill(0);
    const K = kh * kw * C;
    const rows = N * OH * OW;
    const chunk = Math.max(1, Math.min(rows, Math.floor(SCRATCH_FLOATS / K)));
    const cols = scratchOf(chunk * K);
    for (let r0 = 0; r0 < rows; r0 += chunk) {
      const r1 = Math.min(rows, r0 + chunk);
      const m = r1 - r0;
      // cols[m, K] = dy[r0..r1, O] · filter[K, O]ᵀ
      blas.sgemm(D.subarray(r0 * O, r1 * O), Fl, cols.subarray(0, m * K), m, K, O, false, true);
      const p = convParams(N, H, W, C, kh, kw, sh, sw, 1, 1, pt, pl, OH, OW, r0, r1);
      if (blas.col2im) blas.col2im(cols, X, p);
      else col2imJs(cols, X, p);
    }
    return out;
  }) as unknown as KernelFunc;
}
