import * as tfcore from '@tensorflow/tfjs-core';
import type { Tensor4D } from '../sdk/index';
import { loadNativeBlas } from './kernels/native-blas';

/** Images on the JS side: NHWC float32 in [0, 1]. */
export interface ImageBatch {
  n: number;
  height: number;
  width: number;
  channels: number;
  data: Float32Array;
}

/** Copies a [n, h, w, c] tensor into an ImageBatch (values clamped to [0, 1]). Does not dispose the tensor. */
export function toImageBatch(images: Tensor4D): ImageBatch {
  check(images);
  return clamped(images, wasmHeapView(images) ?? (images.dataSync() as Float32Array));
}

/** toImageBatch with an asynchronous read: works on every backend (webgpu has no synchronous read in Node). */
export async function readImageBatch(images: Tensor4D): Promise<ImageBatch> {
  check(images);
  return clamped(images, wasmHeapView(images) ?? ((await images.data()) as Float32Array));
}

interface WasmHeapBackend {
  dataIdMap: { has(dataId: object): boolean };
  typedArrayFromHeap(t: {
    dataId: object;
    shape: number[];
    dtype: string;
  }): Float32Array | Int32Array | Uint8Array;
}

/**
 * A float32 tensor of the wasm backend, as a view of its heap (no copy), or
 * null. wasm's read (data / dataSync) copies the tensor out of the heap and
 * the clamp copied it again: for the conv benchmark's 256 images of 64×64×3
 * that was two 12.6 MB copies; the clamp now reads the heap itself. Used
 * synchronously, before anything can run on the backend and move the heap.
 */
function wasmHeapView(images: Tensor4D): Float32Array | null {
  if (images.dtype !== 'float32') return null;
  // registry: backends already initialised (findBackend would start one)
  const be = (tfcore.engine().registry as Record<string, unknown>).wasm as
    Partial<WasmHeapBackend> | undefined;
  if (!be || !be.dataIdMap || typeof be.typedArrayFromHeap !== 'function' || !be.dataIdMap.has(images.dataId))
    return null;
  const a = be.typedArrayFromHeap(images);
  return a instanceof Float32Array ? a : null;
}

function check(images: Tensor4D): void {
  if (images.rank !== 4) throw new Error(`images must be [n, h, w, c], got [${images.shape.join(', ')}]`);
}

/** The addon's vectorised clamp (native/src/vecloops.c), where it is built. */
type ClampUnit = (src: Float32Array, dst: Float32Array) => void;
let nativeClamp: ClampUnit | null | undefined;
function clampKernel(): ClampUnit | null {
  if (nativeClamp === undefined) {
    const addon = loadNativeBlas() as { clampUnit?: ClampUnit } | null;
    nativeClamp = addon && typeof addon.clampUnit === 'function' ? addon.clampUnit.bind(addon) : null;
  }
  return nativeClamp;
}

/**
 * A copy of src clamped to [0, 1], NaN → 0 (always a copy: on the cpu backend
 * src is the tensor's own storage). In C where the addon has it: 0.1 ms
 * instead of ~1 ms for a batch of 256 32×32 RGB images (loaded machine).
 */
export function clampUnit(src: Float32Array): Float32Array {
  const data = new Float32Array(src.length);
  const native = clampKernel();
  if (native) {
    native(src, data);
    return data;
  }
  for (let i = 0; i < src.length; i++) {
    const v = src[i];
    data[i] = v > 1 ? 1 : v >= 0 ? v : 0; // NaN → 0
  }
  return data;
}

function clamped(images: Tensor4D, src: Float32Array): ImageBatch {
  const [n, height, width, channels] = images.shape;
  return { n, height, width, channels, data: clampUnit(src) };
}

/** Concatenates batches of the same image shape (a single batch is returned as it is). */
export function concatImageBatches(batches: ImageBatch[]): ImageBatch {
  if (batches.length === 0) throw new Error('no image batches');
  if (batches.length === 1) return batches[0]!; // one batch (the usual sampling case): no copy
  const { height, width, channels } = batches[0];
  let n = 0;
  for (const b of batches) {
    if (b.height !== height || b.width !== width || b.channels !== channels)
      throw new Error('image batches differ in shape');
    n += b.n;
  }
  const data = new Float32Array(n * height * width * channels);
  let o = 0;
  for (const b of batches) {
    data.set(b.data, o);
    o += b.data.length;
  }
  return { n, height, width, channels, data };
}
