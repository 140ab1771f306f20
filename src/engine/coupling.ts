/**
 * The flow's coupling blocks as fused ops (kernels/fused-coupling.ts), where
 * the active backend has them registered.
 *
 * The state between blocks is packed as X = [x | ℓ], [n, d + 1], ℓ the log-det
 * so far, so a chain of blocks is one kernel per block forward and one per
 * block backward, with no slices or concats between them.
 *
 * Registered for:
 *  - `cpu` always (its own matMul is a JS loop too; jsGemm or OpenBLAS);
 *  - `wasm` only where the native OpenBLAS addon loads (kernels/index.ts):
 *    without it, XNNPACK's products beat a JS GEMM and the unfused path is
 *    faster.
 * Every other backend (tensorflow, webgpu, …) runs the unfused block of
 * flow.ts, which stays the reference. PROMPTGEN_FUSED_COUPLING=0 turns the
 * fused path off everywhere.
 *
 * Gradients: while a tape records (tf.variableGrads / tf.grads), a block is a
 * tf.customGrad whose backward is the fused backward kernel. Otherwise (the
 * sampler, previews) the forward kernel runs alone and saves nothing.
 */
import * as tfcore from '@tensorflow/tfjs-core';
import type { Tensor, Variable } from '@tensorflow/tfjs-core';
import type { Tf, Tensor2D } from '../sdk/index';
import {
  COUPLING_BACKWARD,
  COUPLING_FORWARD,
  cpuIo,
  nativeCouplingOf,
  registerCouplingKernels,
} from './kernels/fused-coupling';
import { gemmOf } from './kernels/gemm';
import { loadNativeBlas } from './kernels/native-blas';

export interface CouplingParams {
  w1: Variable;
  b1: Variable;
  w2: Variable;
  b2: Variable;
  g: Variable;
  offset: Variable;
  rotation: Variable;
}

let cpuRegistered = false;
function ensureCpuKernels(): void {
  if (cpuRegistered) return;
  cpuRegistered = true;
  const blas = loadNativeBlas();
  registerCouplingKernels('cpu', cpuIo, gemmOf(blas), nativeCouplingOf(blas));
}

/** Whether the active backend runs fused coupling blocks. */
export function fusedCouplingAvailable(tf: Tf): boolean {
  if (process.env.PROMPTGEN_FUSED_COUPLING === '0') return false;
  ensureCpuKernels();
  const be = tf.getBackend();
  return !!tfcore.getKernel(COUPLING_FORWARD, be) && !!tfcore.getKernel(COUPLING_BACKWARD, be);
}

/** Whether TF.js records a gradient tape now (inside tf.grads / tf.variableGrads): the sampling path checks it to skip what only gradients need. */
export function tapeIsRecording(): boolean {
  const engine = tfcore.engine() as unknown as { isTapeOn?: () => boolean };
  return typeof engine.isTapeOn === 'function' ? engine.isTapeOn() : true;
}

/**
 * One block on the packed state [n, d + 1] → [n, d + 1]. `cond` ([n, c]) and
 * the rotation get no gradient (data and a fixed matrix).
 */
export function couplingBlock(state: Tensor2D, p: CouplingParams, cond: Tensor2D | undefined): Tensor2D {
  const engine = tfcore.engine();
  const fixed = { rotation: p.rotation, ...(cond ? { cond } : {}) };
  if (!tapeIsRecording()) {
    return engine.runKernel(
      COUPLING_FORWARD,
      { x: state, w1: p.w1, b1: p.b1, w2: p.w2, b2: p.b2, g: p.g, offset: p.offset, ...fixed },
      { save: false },
    ) as Tensor2D;
  }
  const op = tfcore.customGrad((...args: (Tensor | ((t: Tensor[]) => void))[]) => {
    const [x, w1, b1, w2, b2, g, offset] = args as Tensor[];
    const save = args[7] as (t: Tensor[]) => void;
    const [out, h, s, v] = engine.runKernel(
      COUPLING_FORWARD,
      { x: x!, w1: w1!, b1: b1!, w2: w2!, b2: b2!, g: g!, offset: offset!, ...fixed },
      { save: true },
    ) as Tensor[];
    // The condition is saved too: tf.grads disposes what the forward pass created
    // (a tiled or zero condition) before the backward pass runs.
    save(cond ? [x!, h!, s!, v!, cond] : [x!, h!, s!, v!]);
    return {
      value: out!,
      gradFunc: (dy: Tensor, saved: Tensor[]) => {
        const [sx, sh, ss, sv, sc] = saved;
        return engine.runKernel(
          COUPLING_BACKWARD,
          {
            dy,
            x: sx!,
            h: sh!,
            s: ss!,
            v: sv!,
            w1: w1!,
            w2: w2!,
            g: g!,
            rotation: p.rotation,
            ...(sc ? { cond: sc } : {}),
          },
          {},
        ) as Tensor[];
      },
    };
  });
  return op(state, p.w1, p.b1, p.w2, p.b2, p.g, p.offset) as Tensor2D;
}

/** All blocks in order: x [n, d] → (z [n, d], Σ log-det [n]). */
export function fusedBlocks(
  tf: Tf,
  x: Tensor2D,
  blocks: CouplingParams[],
  cond: Tensor2D | undefined,
): { x: Tensor2D; logDet: Tensor } {
  const [n, d] = x.shape;
  let state = tf.concat([x, tf.zeros([n, 1])], 1) as Tensor2D;
  for (const b of blocks) state = couplingBlock(state, b, cond);
  return {
    x: tf.slice(state, [0, 0], [n, d]) as Tensor2D,
    logDet: tf.reshape(tf.slice(state, [0, d], [n, 1]), [n]),
  };
}
