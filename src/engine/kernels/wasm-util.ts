/** Helpers for kernels on the wasm backend (its tensors live in the WebAssembly heap). */
import type { TensorInfo, DataType, KernelFunc } from '@tensorflow/tfjs-core';

export interface WasmBackendLike {
  makeOutput(shape: number[], dtype: DataType, memoryOffset?: number): TensorInfo;
  typedArrayFromHeap(t: TensorInfo): Float32Array | Int32Array | Uint8Array;
  disposeData(dataId: object, force?: boolean): boolean;
}

export type KernelArgs = {
  inputs: Record<string, TensorInfo>;
  backend: WasmBackendLike;
  attrs?: Record<string, unknown>;
};

/** Allocates outputs first (allocation may grow and detach the heap), then returns fresh views. */
export function alloc(
  backend: WasmBackendLike,
  specs: { shape: number[]; dtype?: DataType }[],
): TensorInfo[] {
  return specs.map((s) => backend.makeOutput(s.shape, s.dtype ?? 'float32'));
}

export function view(backend: WasmBackendLike, t: TensorInfo): Float32Array {
  const a = backend.typedArrayFromHeap(t);
  if (!(a instanceof Float32Array)) throw new Error(`expected a float32 tensor, got ${t.dtype}`);
  return a;
}

export function callKernel(
  fn: KernelFunc,
  args: { inputs: Record<string, TensorInfo>; backend: WasmBackendLike; attrs?: Record<string, unknown> },
): TensorInfo {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const out = fn(args as any);
  if (Array.isArray(out)) throw new Error('expected a single-output kernel');
  return out;
}

export function dispose(backend: WasmBackendLike, ...ts: TensorInfo[]): void {
  for (const t of ts) backend.disposeData(t.dataId);
}
