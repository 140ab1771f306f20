/**
 * BatchMatMul / _FusedMatMul on wasm: the stock kernel runs a slow plain loop
 * when an operand is transposed (every matMul gradient), and _FusedMatMul with
 * transposeB and a bias gives wrong values in 4.22.0. We transpose explicitly
 * (a cache-blocked JS transpose on the wasm heap: the stock Transpose kernel
 * takes ~70 ms for 1024×3072) and call the stock kernel untransposed. For
 * BatchMatMul we also use A·Bᵀ = (B·Aᵀ)ᵀ (and the like) when that moves fewer
 * values, so a large weight matrix is never transposed for a small batch.
 */
import type { KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { alloc, callKernel, dispose, view, type KernelArgs, type WasmBackendLike } from './wasm-util';

const TILE = 32;

/** Swaps the last two dimensions (batched), in JS on the wasm heap. */
export function transposeLast2(backend: WasmBackendLike, t: TensorInfo): TensorInfo {
  const r = t.shape.length;
  const rows = t.shape[r - 2];
  const cols = t.shape[r - 1];
  const batch = t.shape.slice(0, r - 2).reduce((a, b) => a * b, 1);
  const outShape = [...t.shape.slice(0, r - 2), cols, rows];
  const [out] = alloc(backend, [{ shape: outShape, dtype: t.dtype }]);
  const src = view(backend, t);
  const dst = view(backend, out);
  const mat = rows * cols;
  for (let b = 0; b < batch; b++) {
    const base = b * mat;
    for (let i0 = 0; i0 < rows; i0 += TILE) {
      const i1 = Math.min(i0 + TILE, rows);
      for (let j0 = 0; j0 < cols; j0 += TILE) {
        const j1 = Math.min(j0 + TILE, cols);
        for (let i = i0; i < i1; i++) {
          const s = base + i * cols;
          for (let j = j0; j < j1; j++) dst[base + j * rows + i] = src[s + j];
        }
      }
    }
  }
  return out;
}

const size = (t: TensorInfo): number => t.shape.reduce((a, b) => a * b, 1);

function outSize(a: TensorInfo, b: TensorInfo, ta: boolean, tb: boolean): number {
  const ra = a.shape.length;
  const rb = b.shape.length;
  const m = ta ? a.shape[ra - 1] : a.shape[ra - 2];
  const n = tb ? b.shape[rb - 2] : b.shape[rb - 1];
  const batch = Math.max(
    size(a) / (a.shape[ra - 1] * a.shape[ra - 2]),
    size(b) / (b.shape[rb - 1] * b.shape[rb - 2]),
  );
  return batch * m * n;
}

export function makeMatMulKernel(original: KernelFunc, fused: boolean): KernelFunc {
  const fn = (args: KernelArgs): TensorInfo => {
    const { inputs, backend, attrs = {} } = args;
    const transposeA = !!attrs.transposeA;
    const transposeB = !!attrs.transposeB;
    if (!transposeA && !transposeB) return callKernel(original, args);
    if (inputs.a.dtype !== 'float32' || inputs.b.dtype !== 'float32') return callKernel(original, args);
    const plain = { ...attrs, transposeA: false, transposeB: false };
    // Direct: transpose the operands that are marked transposed.
    const directCost = (transposeA ? size(inputs.a) : 0) + (transposeB ? size(inputs.b) : 0);
    // Swapped: op(A)·op(B) = (op(B)ᵀ·op(A)ᵀ)ᵀ — transposes the *other* operands and the output.
    const swappedCost =
      (transposeB ? 0 : size(inputs.b)) +
      (transposeA ? 0 : size(inputs.a)) +
      outSize(inputs.a, inputs.b, transposeA, transposeB);
    const temps: TensorInfo[] = [];
    try {
      if (fused || directCost <= swappedCost) {
        const a = transposeA ? transposeLast2(backend, inputs.a) : inputs.a;
        if (transposeA) temps.push(a);
        const b = transposeB ? transposeLast2(backend, inputs.b) : inputs.b;
        if (transposeB) temps.push(b);
        return callKernel(original, { inputs: { ...inputs, a, b }, backend, attrs: plain });
      }
      // new left = op(B)ᵀ: B itself when transposeB, else Bᵀ; new right = op(A)ᵀ likewise.
      const left = transposeB ? inputs.b : transposeLast2(backend, inputs.b);
      if (!transposeB) temps.push(left);
      const right = transposeA ? inputs.a : transposeLast2(backend, inputs.a);
      if (!transposeA) temps.push(right);
      const prod = callKernel(original, { inputs: { a: left, b: right }, backend, attrs: plain });
      temps.push(prod);
      return transposeLast2(backend, prod);
    } finally {
      dispose(backend, ...temps);
    }
  };
  return fn as unknown as KernelFunc;
}
