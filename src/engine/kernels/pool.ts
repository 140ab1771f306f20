/**
 * MaxPoolGrad for wasm: the stock kernel of tfjs-backend-wasm 4.22.0 returns
 * wrong gradients whenever a pooling window holds negative values (measured:
 * max abs error 4–13 on [-0.7, 0.3) inputs, exact only on non-negative ones),
 * which breaks gradients through face-api's nets (maxPool after a linear
 * layer). Same semantics as the cpu backend: each output's gradient goes to
 * the first maximum of its window (row-major; strictly greater than -Infinity,
 * so all-NaN windows pass nothing), windows clipped to the input.
 */
import { backend_util } from '@tensorflow/tfjs-core';
import type { KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { alloc, view, type KernelArgs } from './wasm-util';

export const maxPoolGrad = ((args: KernelArgs): TensorInfo => {
  const { inputs, backend, attrs = {} } = args;
  const { dy, input } = inputs;
  if (input.dtype !== 'float32' || dy.dtype !== 'float32')
    throw new Error(`MaxPoolGrad: unsupported dtype ${input.dtype}`);
  const info = backend_util.computePool2DInfo(
    input.shape as [number, number, number, number],
    attrs.filterSize as number | [number, number],
    attrs.strides as number | [number, number],
    1,
    attrs.pad as 'valid' | 'same' | number,
    attrs.dimRoundingMode as 'floor' | 'round' | 'ceil' | undefined,
  );
  const [out] = alloc(backend, [{ shape: input.shape.slice(), dtype: 'float32' }]);
  const dx = view(backend, out);
  const x = view(backend, input);
  const g = view(backend, dy);
  dx.fill(0);
  const {
    batchSize,
    inHeight,
    inWidth,
    inChannels: C,
    outHeight,
    outWidth,
    strideHeight,
    strideWidth,
    filterHeight,
    filterWidth,
  } = info;
  const { top, left } = info.padInfo;
  for (let b = 0; b < batchSize; b++) {
    const xb = b * inHeight * inWidth * C;
    const yb = b * outHeight * outWidth * C;
    for (let oy = 0; oy < outHeight; oy++) {
      const y0 = oy * strideHeight - top;
      const yStart = Math.max(0, y0);
      const yEnd = Math.min(inHeight, y0 + filterHeight);
      for (let ox = 0; ox < outWidth; ox++) {
        const x0 = ox * strideWidth - left;
        const xStart = Math.max(0, x0);
        const xEnd = Math.min(inWidth, x0 + filterWidth);
        const yo = yb + (oy * outWidth + ox) * C;
        for (let c = 0; c < C; c++) {
          let best = Number.NEGATIVE_INFINITY;
          let at = -1;
          for (let yy = yStart; yy < yEnd; yy++) {
            const row = xb + yy * inWidth * C + c;
            for (let xx = xStart; xx < xEnd; xx++) {
              const v = x[row + xx * C];
              if (v > best) {
                best = v;
                at = row + xx * C;
              }
            }
          }
          if (at >= 0) dx[at] += g[yo + c];
        }
      }
    }
  }
  return out;
}) as unknown as KernelFunc;
