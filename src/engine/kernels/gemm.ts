/**
 * General matrix product for hand-written kernels:
 *
 *   C = α · op(A) · op(B) + β · C,   op(A) m×k, op(B) k×n, row-major,
 *
 * with leading dimensions (lda, ldb, ldc ≥ the stored row length), so a kernel
 * can multiply a column block of a tensor in place and accumulate into one
 * (β = 1) without slicing or concatenating.
 *
 * Two implementations with the same contract: OpenBLAS through the native
 * addon (native/src/openblas.c, `gemm`), and a JS loop for where the addon is not
 * built (or PROMPTGEN_NATIVE_BLAS=0). The JS one accumulates each output row
 * in float64, so its values agree with OpenBLAS's float32 sums to rounding.
 * It reaches ~1 GMAC/s here against ~30 for OpenBLAS: fine for the cpu
 * backend (whose own matMul is a JS loop too) and for tests, too slow to beat
 * XNNPACK on wasm, which is why the fused wasm kernels that use it are only
 * registered where the addon loads (src/engine/kernels/index.ts).
 */
import type { NativeBlas } from './native-blas';

export type Gemm = (
  a: Float32Array,
  lda: number,
  b: Float32Array,
  ldb: number,
  c: Float32Array,
  ldc: number,
  m: number,
  n: number,
  k: number,
  transA: boolean,
  transB: boolean,
  alpha: number,
  beta: number,
) => void;

let acc = new Float64Array(0);

export const jsGemm: Gemm = (a, lda, b, ldb, c, ldc, m, n, k, transA, transB, alpha, beta) => {
  if (acc.length < n) acc = new Float64Array(n);
  const row = acc;
  for (let i = 0; i < m; i++) {
    row.fill(0, 0, n);
    if (!transB) {
      // row += op(A)[i, p] · B[p, :] (B's rows are contiguous)
      for (let p = 0; p < k; p++) {
        const av = transA ? a[p * lda + i]! : a[i * lda + p]!;
        if (av === 0) continue;
        const bo = p * ldb;
        for (let j = 0; j < n; j++) row[j]! += av * b[bo + j]!;
      }
    } else {
      // row[j] = op(A)[i, :] · B[j, :] (dot products along B's rows)
      for (let j = 0; j < n; j++) {
        const bo = j * ldb;
        let s = 0;
        if (transA) for (let p = 0; p < k; p++) s += a[p * lda + i]! * b[bo + p]!;
        else {
          const ao = i * lda;
          for (let p = 0; p < k; p++) s += a[ao + p]! * b[bo + p]!;
        }
        row[j] = s;
      }
    }
    const co = i * ldc;
    if (beta === 0) for (let j = 0; j < n; j++) c[co + j] = alpha * row[j]!;
    else for (let j = 0; j < n; j++) c[co + j] = alpha * row[j]! + beta * c[co + j]!;
  }
};

/** OpenBLAS's gemm where the addon has it (an addon built before `gemm` existed has only sgemm). */
export function gemmOf(blas: NativeBlas | null): Gemm {
  if (blas && typeof blas.gemm === 'function') {
    const g = blas.gemm.bind(blas);
    return (a, lda, b, ldb, c, ldc, m, n, k, transA, transB, alpha, beta) => {
      if (m === 0 || n === 0) return;
      if (k === 0) {
        for (let i = 0; i < m; i++)
          for (let j = 0; j < n; j++) c[i * ldc + j] = beta === 0 ? 0 : beta * c[i * ldc + j]!;
        return;
      }
      g(a, lda, b, ldb, c, ldc, m, n, k, transA, transB, alpha, beta);
    };
  }
  return jsGemm;
}
