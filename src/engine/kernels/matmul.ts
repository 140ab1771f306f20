/**
 * BatchMatMul / _FusedMatMul on wasm: the stock kernel runs a slow plain loop
 * when an operand is transposed (every matMul gradient), and _FusedMatMul with
 * transposeB and a bias gives wrong values in 4.22.0. We transpose explicitly
 * (the wasm Transpose kernel) and call the stock kernel untransposed.
 */
import type { KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { callKernel, dispose, type KernelArgs } from './wasm-util';

function swapLast2(t: TensorInfo, transpose: KernelFunc, backend: KernelArgs['backend']): TensorInfo {
  const r = t.shape.length;
  const perm = t.shape.map((_, i) => i);
  perm[r - 1] = r - 2;
  perm[r - 2] = r - 1;
  return callKernel(transpose, { inputs: { x: t }, backend, attrs: { perm } });
}

export function makeMatMulKernel(original: KernelFunc, transpose: KernelFunc): KernelFunc {
  const fn = (args: KernelArgs): TensorInfo => {
    const { inputs, backend, attrs = {} } = args;
    const transposeA = !!attrs.transposeA;
    const transposeB = !!attrs.transposeB;
    if (!transposeA && !transposeB) return callKernel(original, args);
    const temps: TensorInfo[] = [];
    const a = transposeA ? swapLast2(inputs.a, transpose, backend) : inputs.a;
    const b = transposeB ? swapLast2(inputs.b, transpose, backend) : inputs.b;
    if (transposeA) temps.push(a);
    if (transposeB) temps.push(b);
    try {
      return callKernel(original, {
        inputs: { ...inputs, a, b },
        backend,
        attrs: { ...attrs, transposeA: false, transposeB: false },
      });
    } finally {
      dispose(backend, ...temps);
    }
  };
  return fn as unknown as KernelFunc;
}
