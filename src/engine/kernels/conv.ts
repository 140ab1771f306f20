/**
 * Convolution gradients for wasm, composed from the stock wasm kernels (Conv2D,
 * BatchMatMul) plus memory moves in JS on the wasm heap:
 *  - Conv2DBackpropInput (used by conv2dTranspose and by conv2d's input gradient):
 *    a stride-1 "valid" conv2d of the zero-dilated, padded dy with the flipped
 *    filter — the stock kernel is ~10× slower than conv2d;
 *  - Conv2DBackpropFilter (missing): transposed im2col of x times dy (one matMul);
 *  - DepthwiseConv2dNativeBackpropInput / ...Filter (missing): direct loops.
 */
import { backend_util, type KernelFunc, type TensorInfo } from '@tensorflow/tfjs-core';
import { alloc, callKernel, dispose, view, type KernelArgs } from './wasm-util';

type Pad = 'valid' | 'same' | number | backend_util.ExplicitPadding;

function nhwcOnly(attrs: Record<string, unknown>, kernel: string): void {
  const df = attrs.dataFormat as string | undefined;
  if (df && df !== 'NHWC' && df !== 'channelsLast') throw new Error(`${kernel} on wasm supports NHWC only`);
}

export function makeConv2DBackpropInput(conv2d: KernelFunc): KernelFunc {
  return ((args: KernelArgs): TensorInfo => {
    const { inputs, backend, attrs = {} } = args;
    nhwcOnly(attrs, 'Conv2DBackpropInput');
    const { dy, filter } = inputs;
    const inputShape = attrs.inputShape as [number, number, number, number];
    const info = backend_util.computeConv2DInfo(
      inputShape,
      filter.shape as [number, number, number, number],
      attrs.strides as [number, number] | number,
      1,
      attrs.pad as Pad,
      attrs.dimRoundingMode as 'floor' | 'round' | 'ceil' | undefined,
    );
    const [N, H, W, Ci] = inputShape;
    const {
      filterHeight: kh,
      filterWidth: kw,
      strideHeight: sh,
      strideWidth: sw,
      outHeight: OH,
      outWidth: OW,
    } = info;
    const Co = info.outChannels;
    const pt = info.padInfo.top;
    const pl = info.padInfo.left;
    const Hp = H + kh - 1;
    const Wp = W + kw - 1;
    const offY = kh - 1 - pt;
    const offX = kw - 1 - pl;
    const [padded, flipped] = alloc(backend, [{ shape: [N, Hp, Wp, Co] }, { shape: [kh, kw, Co, Ci] }]);
    const P = view(backend, padded);
    const F = view(backend, flipped);
    const D = view(backend, dy);
    const Fin = view(backend, filter);
    P.fill(0);
    for (let b = 0; b < N; b++) {
      for (let oy = 0; oy < OH; oy++) {
        const u = oy * sh + offY;
        if (u < 0 || u >= Hp) continue;
        for (let ox = 0; ox < OW; ox++) {
          const v = ox * sw + offX;
          if (v < 0 || v >= Wp) continue;
          const src = ((b * OH + oy) * OW + ox) * Co;
          P.set(D.subarray(src, src + Co), ((b * Hp + u) * Wp + v) * Co);
        }
      }
    }
    // F[i, j, co, ci] = filter[kh-1-i, kw-1-j, ci, co]
    for (let i = 0; i < kh; i++) {
      for (let j = 0; j < kw; j++) {
        const srcBase = ((kh - 1 - i) * kw + (kw - 1 - j)) * Ci * Co;
        const dstBase = (i * kw + j) * Co * Ci;
        for (let ci = 0; ci < Ci; ci++) {
          for (let co = 0; co < Co; co++) F[dstBase + co * Ci + ci] = Fin[srcBase + ci * Co + co];
        }
      }
    }
    try {
      const out = callKernel(conv2d, {
        inputs: { x: padded, filter: flipped },
        backend,
        attrs: {
          strides: [1, 1],
          pad: 'valid',
          dilations: [1, 1],
          dataFormat: 'NHWC',
          dimRoundingMode: undefined,
        },
      });
      return out;
    } finally {
      dispose(backend, padded, flipped);
    }
  }) as unknown as KernelFunc;
}

export function makeConv2DBackpropFilter(batchMatMul: KernelFunc): KernelFunc {
  return ((args: KernelArgs): TensorInfo => {
    const { inputs, backend, attrs = {} } = args;
    nhwcOnly(attrs, 'Conv2DBackpropFilter');
    const { x, dy } = inputs;
    const filterShape = attrs.filterShape as [number, number, number, number];
    const info = backend_util.computeConv2DInfo(
      x.shape as [number, number, number, number],
      filterShape,
      attrs.strides as [number, number] | number,
      1,
      attrs.pad as Pad,
      attrs.dimRoundingMode as 'floor' | 'round' | 'ceil' | undefined,
    );
    const [N, H, W, Ci] = x.shape;
    const {
      filterHeight: kh,
      filterWidth: kw,
      strideHeight: sh,
      strideWidth: sw,
      outHeight: OH,
      outWidth: OW,
    } = info;
    const Co = info.outChannels;
    const pt = info.padInfo.top;
    const pl = info.padInfo.left;
    const K = kh * kw * Ci;
    const M = N * OH * OW;
    // cols[k, m] with k = (r, c, ci), m = (b, oy, ox): x[b, oy*sh - pt + r, ox*sw - pl + c, ci]
    const [cols] = alloc(backend, [{ shape: [1, K, M] }]);
    const C = view(backend, cols);
    const X = view(backend, x);
    for (let r = 0; r < kh; r++) {
      for (let c = 0; c < kw; c++) {
        for (let ci = 0; ci < Ci; ci++) {
          const rowBase = ((r * kw + c) * Ci + ci) * M;
          let m = 0;
          for (let b = 0; b < N; b++) {
            for (let oy = 0; oy < OH; oy++) {
              const iy = oy * sh - pt + r;
              const rowOk = iy >= 0 && iy < H;
              for (let ox = 0; ox < OW; ox++, m++) {
                const ix = ox * sw - pl + c;
                C[rowBase + m] = rowOk && ix >= 0 && ix < W ? X[((b * H + iy) * W + ix) * Ci + ci] : 0;
              }
            }
          }
        }
      }
    }
    try {
      const dy3: TensorInfo = { dataId: dy.dataId, shape: [1, M, Co], dtype: dy.dtype };
      const out = callKernel(batchMatMul, {
        inputs: { a: cols, b: dy3 },
        backend,
        attrs: { transposeA: false, transposeB: false },
      });
      out.shape = filterShape.slice();
      return out;
    } finally {
      dispose(backend, cols);
    }
  }) as unknown as KernelFunc;
}

function depthwiseInfo(xShape: number[], filterShape: number[], attrs: Record<string, unknown>) {
  return backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    attrs.strides as [number, number] | number,
    (attrs.dilations as [number, number] | number | undefined) ?? 1,
    attrs.pad as Pad,
    attrs.dimRoundingMode as 'floor' | 'round' | 'ceil' | undefined,
    true,
  );
}

export const depthwiseBackpropInput = ((args: KernelArgs): TensorInfo => {
  const { inputs, backend, attrs = {} } = args;
  nhwcOnly(attrs, 'DepthwiseConv2dNativeBackpropInput');
  const { dy, filter } = inputs;
  const inputShape = attrs.inputShape as number[];
  const info = depthwiseInfo(inputShape, filter.shape, attrs);
  const [N, H, W, Ci] = inputShape;
  const mult = filter.shape[3];
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
  const Co = Ci * mult;
  const pt = info.padInfo.top;
  const pl = info.padInfo.left;
  const [out] = alloc(backend, [{ shape: inputShape.slice() }]);
  const O = view(backend, out);
  const D = view(backend, dy);
  const F = view(backend, filter);
  O.fill(0);
  for (let b = 0; b < N; b++) {
    for (let oy = 0; oy < OH; oy++) {
      for (let r = 0; r < kh; r++) {
        const iy = oy * sh - pt + r * dh;
        if (iy < 0 || iy >= H) continue;
        for (let ox = 0; ox < OW; ox++) {
          const dBase = ((b * OH + oy) * OW + ox) * Co;
          for (let c = 0; c < kw; c++) {
            const ix = ox * sw - pl + c * dw;
            if (ix < 0 || ix >= W) continue;
            const oBase = ((b * H + iy) * W + ix) * Ci;
            const fBase = (r * kw + c) * Co;
            for (let ci = 0; ci < Ci; ci++) {
              let s = 0;
              for (let q = 0; q < mult; q++) s += D[dBase + ci * mult + q] * F[fBase + ci * mult + q];
              O[oBase + ci] += s;
            }
          }
        }
      }
    }
  }
  return out;
}) as unknown as KernelFunc;

export const depthwiseBackpropFilter = ((args: KernelArgs): TensorInfo => {
  const { inputs, backend, attrs = {} } = args;
  nhwcOnly(attrs, 'DepthwiseConv2dNativeBackpropFilter');
  const { x, dy } = inputs;
  const filterShape = attrs.filterShape as number[];
  const info = depthwiseInfo(x.shape, filterShape, attrs);
  const [N, H, W, Ci] = x.shape;
  const mult = filterShape[3];
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
  const Co = Ci * mult;
  const pt = info.padInfo.top;
  const pl = info.padInfo.left;
  const [out] = alloc(backend, [{ shape: filterShape.slice() }]);
  const O = view(backend, out);
  const D = view(backend, dy);
  const X = view(backend, x);
  O.fill(0);
  for (let b = 0; b < N; b++) {
    for (let oy = 0; oy < OH; oy++) {
      for (let r = 0; r < kh; r++) {
        const iy = oy * sh - pt + r * dh;
        if (iy < 0 || iy >= H) continue;
        for (let ox = 0; ox < OW; ox++) {
          const dBase = ((b * OH + oy) * OW + ox) * Co;
          for (let c = 0; c < kw; c++) {
            const ix = ox * sw - pl + c * dw;
            if (ix < 0 || ix >= W) continue;
            const xBase = ((b * H + iy) * W + ix) * Ci;
            const oBase = (r * kw + c) * Co;
            for (let ci = 0; ci < Ci; ci++) {
              const xv = X[xBase + ci];
              for (let q = 0; q < mult; q++) O[oBase + ci * mult + q] += xv * D[dBase + ci * mult + q];
            }
          }
        }
      }
    }
  }
  return out;
}) as unknown as KernelFunc;
