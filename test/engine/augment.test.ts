/**
 * The differentiable augmentations of classifier energies (src/engine/augment.ts):
 * the resampling matrices move pixels where they should, copies are copy-major,
 * draws are seeded, and gradients reach the images.
 */
import {
  axisResampler,
  createAugmenter,
  resolveAugmentSpec,
  DEFAULT_AUGMENT,
} from '../../src/engine/augment';
import type { Tensor4D } from '../../src/sdk/index';
import { useBackend } from './helpers';

describe('augment', () => {
  let tf: Awaited<ReturnType<typeof useBackend>>;
  beforeAll(async () => {
    tf = await useBackend('wasm');
  });

  test('axis resampler: identity at zoom 1 / shift 0, a whole-pixel shift moves by one pixel (edges replicated), flip mirrors', () => {
    const L = 5;
    const apply = (m: Float32Array, v: number[]) =>
      v.map((_, u) => v.reduce((s, x, i) => s + m[u * L + i]! * x, 0));
    const v = [1, 2, 3, 4, 5];
    expect(apply(axisResampler(L, 1, 0, false), v)).toEqual(v);
    expect(apply(axisResampler(L, 1, 1, false), v)).toEqual([1, 1, 2, 3, 4]);
    expect(apply(axisResampler(L, 1, -1, false), v)).toEqual([2, 3, 4, 5, 5]);
    expect(apply(axisResampler(L, 1, 0, true), v)).toEqual([5, 4, 3, 2, 1]);
    // zoom 2 about the centre: the middle pixel stays, neighbours come from half a pixel away
    expect(apply(axisResampler(L, 2, 0, false), v)[2]).toBeCloseTo(3, 6);
    expect(apply(axisResampler(L, 2, 0, false), v)[3]).toBeCloseTo(3.5, 6);
  });

  test('copies: off returns the images; no-op spec gives exact copies, copy-major; seeded draws; mean; gradients', async () => {
    const x = tf.randomUniform([3, 6, 5, 2], 0, 1, 'float32', 1) as Tensor4D;
    const off = createAugmenter(tf, resolveAugmentSpec({ copies: 0 }));
    expect(off.expand(x)).toBe(x);
    const still = createAugmenter(tf, resolveAugmentSpec({ copies: 2, shift: 0, scale: 0, noise: 0 }));
    const c = still.expand(x);
    expect(c.shape).toEqual([6, 6, 5, 2]);
    const xs = Array.from(await x.data());
    const cs = Array.from(await c.data());
    cs.forEach((v, i) => expect(v).toBeCloseTo(xs[i % xs.length]!, 5));
    const m = still.mean(c);
    expect(Array.from(await m.data()).every((v, i) => Math.abs(v - xs[i]!) < 1e-5)).toBe(true);
    const a1 = createAugmenter(tf, DEFAULT_AUGMENT, 9);
    const a2 = createAugmenter(tf, DEFAULT_AUGMENT, 9);
    const e1 = Array.from(await a1.expand(x).data());
    expect(Array.from(await a2.expand(x).data())).toEqual(e1);
    expect(Array.from(await a1.expand(x).data())).not.toEqual(e1);
    const g = await tf
      .grad((im) => tf.sum(tf.square(a1.expand(im as Tensor4D))))(x)
      .data();
    expect(g.every(Number.isFinite) && g.some((v) => v !== 0)).toBe(true);
    expect(() => resolveAugmentSpec({ copies: -1 })).toThrow(/copies/);
    expect(() => resolveAugmentSpec({ noise: 2 })).toThrow(/noise/);
    tf.dispose([x, c, m]);
  });
});
