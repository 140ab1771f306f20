/**
 * Set-up of the webgpu tests: the cpu backend as the reference and the webgpu
 * backend (Dawn) beside it in one process. On a machine without a GPU the
 * webgpu backend runs on a software adapter (Dawn's GL ES backend on Mesa's
 * llvmpipe; needs EGL_PLATFORM=surfaceless without a display: jest.config.js sets it).
 * Where no adapter exists at all the tests skip with a printed reason, unless
 * PROMPTGEN_REQUIRE_WEBGPU=1 (CI), which makes that a failure.
 *
 * Tensors never cross from webgpu to cpu (that move reads synchronously, which
 * webgpu lacks in Node): each side builds its inputs from the same JS arrays.
 */
import { getTf } from '../../../src/engine/backend';
import { initWebGpu, type GpuAdapter } from '../../../src/engine/webgpu';
import { registerWebGpuGradientPatches } from '../../../src/engine/kernels/webgpu-resize';
import type { Tf } from '../../../src/sdk/index';

let ready: Promise<GpuAdapter | null> | undefined;

/** The webgpu adapter, or null (test file skips) where none exists and it is not required. */
export function webgpuReady(): Promise<GpuAdapter | null> {
  ready ??= (async () => {
    const tf = getTf();
    tf.env().set('IS_TEST', true); // silences the cpu backend's banner while it is created
    await tf.setBackend('cpu');
    tf.env().set('IS_TEST', false);
    try {
      const adapter = await initWebGpu({ allowSoftware: true });
      // The reference gets the exact resize gradients too (the stock cpu ones are wrong; see webgpu-resize.ts).
      registerWebGpuGradientPatches({ everywhere: true });
      return adapter;
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      if (process.env.PROMPTGEN_REQUIRE_WEBGPU === '1')
        throw new Error(`no WebGPU adapter and PROMPTGEN_REQUIRE_WEBGPU=1: ${why}`, { cause: err });
      console.warn(`skipping the webgpu tests: ${why}`);
      return null;
    }
  })();
  return ready;
}

export async function use(name: 'cpu' | 'webgpu'): Promise<Tf> {
  const tf = getTf();
  if (!(await tf.setBackend(name))) throw new Error(`backend ${name} failed`);
  return tf;
}

/** max |a − b| / max(max |b|, floor). */
export function relErr(a: ArrayLike<number>, b: ArrayLike<number>, floor = 1e-6): number {
  if (a.length !== b.length) return Infinity;
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    num = Number.isNaN(d) ? Infinity : Math.max(num, d);
    den = Math.max(den, Math.abs(b[i]));
  }
  return num / Math.max(den, floor);
}

/** ‖a − b‖₂ / ‖b‖₂: for whole-model gradients, where a max-norm error would be dominated by
 *  max-pool ties (any of the tied inputs is a valid subgradient; cpu and webgpu pick differently). */
export function relL2(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i] - b[i]) ** 2;
    den += b[i] ** 2;
  }
  return Math.sqrt(num) / Math.max(Math.sqrt(den), 1e-12);
}
