/**
 * Kernel patches for the wasm backend of TF.js 4.22.0 (see ARCHITECTURE.md):
 * missing kernels (UnsortedSegmentSum, Conv2DBackpropFilter, depthwise conv
 * gradients), slow ones (BatchMatMul with a transposed operand,
 * Conv2DBackpropInput) and a wrong one (_FusedMatMul with transposeB + bias).
 * Registered once, after the wasm backend is initialised.
 */
import * as tfcore from '@tensorflow/tfjs-core';
import type { KernelFunc } from '@tensorflow/tfjs-core';
import { makeMatMulKernel } from './matmul';
import { unsortedSegmentSum } from './segment';
import {
  depthwiseBackpropFilter,
  depthwiseBackpropInput,
  makeConv2DBackpropFilter,
  makeConv2DBackpropInput,
} from './conv';
import { maxPoolGrad } from './pool';
import { loadNativeBlas, makeNativeMatMulKernel } from './native-blas';
import { makeNativeConv2D, makeNativeConv2DBackpropInput } from './native-conv';
import { makeIdentityKernel, makeSliceKernel, makeSplitVKernel } from './slice';
import { nativeCouplingOf, registerCouplingKernels, wasmIo } from './fused-coupling';
import { gemmOf } from './gemm';

export const WASM_PATCHED_KERNELS = [
  'BatchMatMul',
  '_FusedMatMul',
  'UnsortedSegmentSum',
  'Conv2DBackpropInput',
  'Conv2DBackpropFilter',
  'DepthwiseConv2dNativeBackpropInput',
  'DepthwiseConv2dNativeBackpropFilter',
  'MaxPoolGrad',
  'Slice',
  'SplitV',
  'Identity',
] as const;

/**
 * Patched or added only where the native OpenBLAS addon loads (test/engine/native-blas.test.ts,
 * test/engine/fused-coupling.test.ts). The coupling kernels are the flow's fused blocks (coupling.ts).
 */
export const NATIVE_BLAS_KERNELS = [
  'Conv2D',
  'FusedConv2D',
  'PromptgenCouplingForward',
  'PromptgenCouplingBackward',
] as const;

const MARK = '__promptgenPatched';

function original(name: string): KernelFunc {
  const k = tfcore.getKernel(name, 'wasm');
  if (!k) throw new Error(`wasm kernel ${name} is not registered`);
  return k.kernelFunc;
}

function install(name: string, fn: KernelFunc): void {
  (fn as unknown as Record<string, boolean>)[MARK] = true;
  if (tfcore.getKernel(name, 'wasm')) tfcore.unregisterKernel(name, 'wasm');
  tfcore.registerKernel({ kernelName: name, backendName: 'wasm', kernelFunc: fn });
}

/** Installs the patches (idempotent). Returns the kernel names patched by this call. */
export function registerWasmPatches(): string[] {
  const k = tfcore.getKernel('BatchMatMul', 'wasm');
  if (!k) throw new Error('the wasm backend is not loaded');
  if ((k.kernelFunc as unknown as Record<string, boolean>)[MARK]) return [];
  const batchMatMul = original('BatchMatMul');
  const fused = original('_FusedMatMul');
  const conv2d = original('Conv2D');
  const wasmBatchMatMul = makeMatMulKernel(batchMatMul, false);
  const wasmFused = makeMatMulKernel(fused, true);
  const blas = loadNativeBlas();
  install('BatchMatMul', blas ? makeNativeMatMulKernel(blas, wasmBatchMatMul, false) : wasmBatchMatMul);
  install('_FusedMatMul', blas ? makeNativeMatMulKernel(blas, wasmFused, true) : wasmFused);
  install('UnsortedSegmentSum', unsortedSegmentSum);
  const wasmBackpropInput = makeConv2DBackpropInput(conv2d);
  install(
    'Conv2DBackpropInput',
    blas ? makeNativeConv2DBackpropInput(blas, wasmBackpropInput) : wasmBackpropInput,
  );
  if (blas) {
    install('Conv2D', makeNativeConv2D(blas, conv2d, false));
    install('FusedConv2D', makeNativeConv2D(blas, original('FusedConv2D'), true));
    registerCouplingKernels('wasm', wasmIo, gemmOf(blas), nativeCouplingOf(blas));
  }
  install('Conv2DBackpropFilter', makeConv2DBackpropFilter(batchMatMul));
  install('DepthwiseConv2dNativeBackpropInput', depthwiseBackpropInput);
  install('DepthwiseConv2dNativeBackpropFilter', depthwiseBackpropFilter);
  install('MaxPoolGrad', maxPoolGrad); // stock one is wrong for negative inputs (see pool.ts; test/plugins/face-api/kernels.test.ts)
  const slice = makeSliceKernel(original('Slice'));
  install('Slice', slice); // the stock one copies the whole input per slice
  install('SplitV', makeSplitVKernel(slice));
  install('Identity', makeIdentityKernel(original('Identity'))); // share data, as the cpu backend does
  return blas ? [...WASM_PATCHED_KERNELS, ...NATIVE_BLAS_KERNELS] : [...WASM_PATCHED_KERNELS];
}
