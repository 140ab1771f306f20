/**
 * The addon's loops (native/src/conv.c) against their JS twins: im2col / col2im
 * (strides, dilation, padding, row chunks) and the fused bias + activation
 * epilogue. Skipped, with a warning, where the addon is not built (a failure in CI,
 * where PROMPTGEN_REQUIRE_SHARED=1).
 */
import {
  loadNativeBlas,
  nativeBlasStatus,
  applyBiasActivation,
  activationOf,
  biasActivation,
} from '../../src/engine/kernels/native-blas';
import { col2imJs, convParams, im2colJs } from '../../src/engine/kernels/native-conv';
import { Rng } from '../../src/engine/rng';
import { optionalPart } from '../helpers/optional';

const blas = loadNativeBlas();
const full = optionalPart(
  'the native loop tests',
  !blas
    ? nativeBlasStatus
    : blas.im2col && blas.col2im && blas.biasActivation
      ? null
      : 'the addon predates them (run node native/build.js)',
);

(full ? describe : describe.skip)('native loops = JS twins', () => {
  it.each([
    ['3×3 stride 2, pad 1', 2, 9, 7, 3, 3, 3, 2, 2, 1, 1, 1, 1],
    ['4×4 stride 1, dilation 2, pad 2', 1, 8, 8, 5, 4, 4, 1, 1, 2, 2, 2, 2],
    ['1×1', 3, 4, 5, 16, 1, 1, 1, 1, 1, 1, 0, 0],
  ])('im2col and col2im (%s)', (_l, N, H, W, C, kh, kw, sh, sw, dh, dw, pt, pl) => {
    const OH = Math.floor((H + 2 * pt - dh * (kh - 1) - 1) / sh) + 1;
    const OW = Math.floor((W + 2 * pl - dw * (kw - 1) - 1) / sw) + 1;
    const rows = N * OH * OW;
    const K = kh * kw * C;
    const x = new Float32Array(new Rng(1).normals(N * H * W * C));
    // two chunks of rows, like the kernels' scratch chunking
    for (const [r0, r1] of [
      [0, Math.floor(rows / 3)],
      [Math.floor(rows / 3), rows],
    ] as const) {
      const p = convParams(N, H, W, C, kh, kw, sh, sw, dh, dw, pt, pl, OH, OW, r0, r1);
      const a = new Float32Array((r1 - r0) * K).fill(7);
      const b = new Float32Array((r1 - r0) * K).fill(-7);
      blas!.im2col!(x, a, p);
      im2colJs(x, b, p);
      expect(Array.from(a)).toEqual(Array.from(b));
      const xa = new Float32Array(x);
      const xb = new Float32Array(x);
      blas!.col2im!(a, xa, p);
      col2imJs(b, xb, p);
      let worst = 0;
      for (let i = 0; i < xa.length; i++) worst = Math.max(worst, Math.abs(xa[i]! - xb[i]!));
      expect(worst).toBeLessThan(1e-5);
      expect(Array.from(xa)).not.toEqual(Array.from(x)); // col2im added something
    }
  });

  it('rejects geometry that does not fit the arrays', () => {
    const p = convParams(1, 4, 4, 2, 3, 3, 1, 1, 1, 1, 1, 1, 4, 4, 0, 16);
    expect(() => blas!.im2col!(new Float32Array(10), new Float32Array(16 * 18), p)).toThrow(/do not fit/);
    expect(() => blas!.im2col!(new Float32Array(32), new Float32Array(5), p)).toThrow(/do not fit/);
  });

  it.each(['linear', 'relu', 'relu6', 'leakyrelu', 'sigmoid', 'elu'])('bias + %s', (activation) => {
    const n = 6;
    const y0 = new Float32Array(new Rng(2).normals(4 * n, 4));
    const bias = new Float32Array(new Rng(3).normals(n));
    const attrs = { activation, leakyreluAlpha: 0.3 };
    for (const b of [bias, new Float32Array([0.5]), null]) {
      const a = new Float32Array(y0);
      const c = new Float32Array(y0);
      biasActivation(blas!, a, b, n, attrs, activationOf(attrs)!);
      applyBiasActivation(c, b, n, activationOf(attrs)!);
      let worst = 0;
      for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - c[i]!));
      expect(worst).toBeLessThan(1e-6);
    }
  });
});
