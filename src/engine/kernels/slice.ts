/**
 * Slice and Identity for the wasm backend without copies of the whole input.
 *
 * The stock wasm Slice (tfjs 4.22.0) starts with `backend.readSync(x)`, a copy
 * of the entire input out of the heap, for every slice: `tf.split` of the
 * optimiser's flat 1.6 M-value update into 48 parts copied ~300 MB per step
 * (measured: 14 % of the mlp benchmark's time). Ours reads through views of
 * the heap and copies only the sliced values, one contiguous run at a time;
 * SplitV is routed through it (the stock SplitV calls the stock slice).
 *
 * The stock Identity copies its input; tfjs calls it to save tensors for the
 * backward pass. Like the cpu backend's, ours shares the data (reference
 * counted): tensors are immutable and no kernel writes into its inputs.
 */
import * as tfcore from '@tensorflow/tfjs-core';
import type { KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { callKernel, type KernelArgs, type WasmBackendLike } from './wasm-util';

interface RefCountingBackend extends WasmBackendLike {
  incRef(dataId: object): void;
}

export function makeSliceKernel(fallback: KernelFunc): KernelFunc {
  const fn = (args: KernelArgs): TensorInfo => {
    const { inputs, backend, attrs = {} } = args;
    const x = inputs.x;
    if (x.dtype === 'string') return callKernel(fallback, args);
    const [begin, size] = tfcore.slice_util.parseSliceParams(
      x as never,
      attrs.begin as number[],
      attrs.size as number[],
    );
    const out = backend.makeOutput(size, x.dtype); // allocate before taking views: growth detaches the heap
    const total = tfcore.util.sizeFromShape(size);
    if (total === 0) return out;
    const src = backend.typedArrayFromHeap(x);
    const dst = backend.typedArrayFromHeap(out);
    const rank = x.shape.length;
    const strides = tfcore.util.computeStrides(x.shape); // rank - 1 entries
    const strideOf = (axis: number): number => (axis === rank - 1 ? 1 : strides[axis]!);
    // Merge trailing axes that are taken whole into one contiguous run.
    let inner = rank - 1;
    let run = size[inner] ?? 1;
    while (inner > 0 && size[inner] === x.shape[inner]) {
      inner--;
      run *= size[inner]!;
    }
    if (rank === 0 || run === total) {
      let offset = 0;
      for (let a = 0; a < rank; a++) offset += begin[a]! * strideOf(a);
      dst.set(src.subarray(offset, offset + total));
      return out;
    }
    // Odometer over the axes before `inner`; each position copies one run.
    const outer = size.slice(0, inner);
    const index = new Array<number>(inner).fill(0);
    let base = 0;
    for (let a = 0; a <= inner; a++) base += begin[a]! * strideOf(a);
    for (let o = 0; o < total; o += run) {
      let offset = base;
      for (let a = 0; a < inner; a++) offset += index[a]! * strideOf(a);
      dst.set(src.subarray(offset, offset + run), o);
      for (let a = inner - 1; a >= 0; a--) {
        if (++index[a]! < outer[a]!) break;
        index[a] = 0;
      }
    }
    return out;
  };
  return fn as unknown as KernelFunc;
}

/** SplitV through our Slice (the stock one calls the stock slice directly). */
export function makeSplitVKernel(slice: KernelFunc): KernelFunc {
  const fn = (args: KernelArgs): TensorInfo[] => {
    const { inputs, backend, attrs = {} } = args;
    const x = inputs.x;
    const axis = tfcore.util.parseAxisParam(attrs.axis as number, x.shape)[0]!;
    const sizes = tfcore.backend_util.prepareSplitSize(
      x as never,
      attrs.numOrSizeSplits as number | number[],
      axis,
    );
    const begin = new Array<number>(x.shape.length).fill(0);
    return sizes.map((s) => {
      const size = x.shape.slice();
      size[axis] = s;
      const part = callKernel(slice, { inputs: { x }, backend, attrs: { begin: begin.slice(), size } });
      begin[axis]! += s;
      return part;
    });
  };
  return fn as unknown as KernelFunc;
}

export function makeIdentityKernel(fallback: KernelFunc): KernelFunc {
  const fn = (args: KernelArgs): TensorInfo => {
    const { inputs, backend } = args;
    const x = inputs.x;
    if (x.dtype === 'string') return callKernel(fallback, args);
    (backend as RefCountingBackend).incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
  };
  return fn as unknown as KernelFunc;
}
