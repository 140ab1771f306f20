/** UnsortedSegmentSum for wasm (missing in 4.22.0; the gradient of gather needs it). */
import type { KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { alloc, type KernelArgs } from './wasm-util';

export const unsortedSegmentSum = ((args: KernelArgs): TensorInfo => {
  const { inputs, backend, attrs = {} } = args;
  const { x, segmentIds } = inputs;
  const numSegments = attrs.numSegments as number;
  if (x.dtype !== 'float32' && x.dtype !== 'int32')
    throw new Error(`UnsortedSegmentSum: unsupported dtype ${x.dtype}`);
  const idRank = segmentIds.shape.length;
  const inner = x.shape.slice(idRank).reduce((a, b) => a * b, 1);
  const nIds = segmentIds.shape.reduce((a, b) => a * b, 1);
  const [out] = alloc(backend, [{ shape: [numSegments, ...x.shape.slice(idRank)], dtype: x.dtype }]);
  const o = backend.typedArrayFromHeap(out) as Float32Array | Int32Array;
  const xv = backend.typedArrayFromHeap(x) as Float32Array | Int32Array;
  const ids = backend.typedArrayFromHeap(segmentIds);
  o.fill(0);
  for (let i = 0; i < nIds; i++) {
    const s = ids[i];
    if (s < 0 || s >= numSegments) continue; // like TF: out-of-range ids are dropped
    const ob = s * inner;
    const xb = i * inner;
    for (let j = 0; j < inner; j++) o[ob + j] += xv[xb + j];
  }
  return out;
}) as unknown as KernelFunc;
