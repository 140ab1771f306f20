/**
 * The host Adam (one loop, cpu/wasm) and the tensor Adam (TF.js ops, other
 * backends) give the same updates, optimiser state and gradient norm: clip on
 * and off, with weight decay, over several steps.
 */
import type { NamedTensorMap, Variable } from '@tensorflow/tfjs-core';
import {
  hostAdam,
  tensorAdam,
  hostOptimizerFits,
  jsAdamLoops,
  nativeAdamLoops,
  type AdamSettings,
  type HostAdamLoops,
} from '../../src/engine/adam';
import { Rng } from '../../src/engine/rng';
import { loadNativeBlas, nativeBlasStatus } from '../../src/engine/kernels/native-blas';
import { optionalPart } from '../helpers/optional';
import { useBackend } from './helpers';

const maxAbs = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
};

const native = nativeAdamLoops();
// Without the addon only the JS loops are tested (a failure in CI, where the addon is built).
optionalPart(
  'the native Adam loops',
  native ? null : loadNativeBlas() ? 'the addon predates them (run node native/build.js)' : nativeBlasStatus,
);
const loopSets: [string, HostAdamLoops][] = [
  ['js loops', jsAdamLoops],
  ...(native ? [['native loops', native] as [string, HostAdamLoops]] : []),
  // the per-variable calls, where an older addon lacks the all-variable ones
  ...(native?.all
    ? [['native loops, one variable at a time', { ...native, all: undefined }] as [string, HostAdamLoops]]
    : []),
];

describe.each(['cpu', 'wasm'] as const)('Adam on %s', (backend) => {
  it.each(
    loopSets.flatMap(
      ([name, loops]) =>
        [
          [name, 'clipped, with weight decay', 0.5, 0.01, loops],
          [name, 'no clip, no decay', 0, 0, loops],
        ] as [string, string, number, number, HostAdamLoops][],
    ),
  )(
    'host (%s) and tensor implementations agree (%s)',
    async (_name, _label, clipNorm, weightDecay, loops) => {
      const tf = await useBackend(backend);
      expect(hostOptimizerFits(tf)).toBe(true);
      const s: AdamSettings = { lr: 1e-2, weightDecay, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, clipNorm };
      const rng = new Rng(3);
      const shapes = [[3, 4], [4], [5, 2]];
      const init = shapes.map((sh) => rng.normals(sh.reduce((a, b) => a * b, 1)));
      const mk = () => shapes.map((sh, i) => tf.variable(tf.tensor(init[i]!, sh), true));
      const a = mk();
      const b = mk();
      const ha = hostAdam(tf, a, s, loops);
      // a tensor sharing a variable's data (a clone) must keep its values: that variable is updated through a copy
      const shared = tf.clone(a[1]!);
      const sharedBefore = Array.from(shared.dataSync());
      const tb = tensorAdam(tf, b, s);
      for (let k = 0; k < 4; k++) {
        const gs = shapes.map((sh) =>
          rng.normals(
            sh.reduce((x, y) => x * y, 1),
            2,
          ),
        );
        const grads = (vars: Variable[]): NamedTensorMap =>
          Object.fromEntries(vars.map((v, i) => [v.name, tf.tensor(gs[i]!, shapes[i])]));
        const ga = grads(a);
        const gb = grads(b);
        const ra = ha.step(ga, k, s.lr * (1 - k / 10));
        const rb = tb.step(gb, k, s.lr * (1 - k / 10));
        expect(Math.abs((await ra.gradNorm()) - (await rb.gradNorm()))).toBeLessThan(
          1e-5 * (await rb.gradNorm()),
        );
        ra.dispose();
        rb.dispose();
        tf.dispose([...Object.values(ga), ...Object.values(gb)]);
        a.forEach((v, i) => expect(maxAbs(v.dataSync(), b[i]!.dataSync())).toBeLessThan(1e-6));
      }
      expect(maxAbs((await ha.state()).m, (await tb.state()).m)).toBeLessThan(1e-6);
      expect(maxAbs((await ha.state()).v, (await tb.state()).v)).toBeLessThan(1e-6);
      // the weights moved
      expect(maxAbs(a[0]!.dataSync(), init[0]!)).toBeGreaterThan(1e-3);
      expect(maxAbs(a[1]!.dataSync(), init[1]!)).toBeGreaterThan(1e-3);
      expect(Array.from(shared.dataSync())).toEqual(sharedBefore);
      shared.dispose();
      // state round trip
      const st = await ha.state();
      const hc = hostAdam(tf, a, s, loops);
      hc.setState(st.m, st.v);
      expect(Array.from((await hc.state()).m)).toEqual(Array.from(st.m));
      expect(() => hc.setState(new Float32Array(3), new Float32Array(3))).toThrow(/expected/);
      ha.dispose();
      tb.dispose();
      tf.dispose([...a, ...b]);
    },
  );
});

const blas = loadNativeBlas();
(blas?.adamUpdateAll && blas.sumSquaresAll ? describe : describe.skip)(
  'the all-variable native loops',
  () => {
    // odd sizes across the 2^16-value part and 2^15-value chunk boundaries
    const sizes = [70_001, 5, 131_073, 65_536, 1];
    const total = sizes.reduce((a, b) => a + b, 0);
    let seed = 11;
    // a plain LCG: the engine's Rng is slow under jest's coverage instrumentation at this size
    const fill = (n: number, f: (u: number) => number) => {
      const a = new Float32Array(n);
      for (let i = 0; i < n; i++)
        a[i] = f(((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648) * 2 - 1);
      return a;
    };
    const arrays = (scale: number) => sizes.map((n) => fill(n, (u) => u * scale));

    it.each([1, 2, 3, 7])('gives the per-variable results on %i threads', (threads) => {
      const gs = arrays(0.1);
      const p0 = arrays(1);
      const m0 = fill(total, (u) => u * 0.01);
      const v0 = fill(total, (u) => u * u * 1e-4);
      const h = Float64Array.from([0.7, 0.9, 0.999, 1e-3, 0.03, 1e-8, 0.9999]);
      const ref = { p: p0.map((a) => a.slice()), m: m0.slice(), v: v0.slice() };
      let o = 0;
      let sq = 0;
      sizes.forEach((n, i) => {
        blas!.adamUpdate!(ref.p[i]!, gs[i]!, ref.m.subarray(o, o + n), ref.v.subarray(o, o + n), h);
        sq += blas!.sumSquares!(gs[i]!);
        o += n;
      });
      const got = { p: p0.map((a) => a.slice()), m: m0.slice(), v: v0.slice() };
      blas!.adamUpdateAll!(got.p, gs, got.m, got.v, h, threads);
      // the same float32 loop on every value, whichever thread ran it: bit for bit
      got.p.forEach((a, i) => expect(maxAbs(a, ref.p[i]!)).toBe(0));
      expect(maxAbs(got.m, ref.m)).toBe(0);
      expect(maxAbs(got.v, ref.v)).toBe(0);
      const all = blas!.sumSquaresAll!(gs, threads);
      expect(Math.abs(all - sq)).toBeLessThan(1e-9 * sq);
      expect(blas!.sumSquaresAll!(gs, 1)).toBe(all); // chunked in a fixed order: the same double for any thread count
    });

    it('runs the same update in its SIMD body as one value at a time, bit for bit', () => {
      // arrays of length 1 never reach the 4-wide body of native/src/adam.c
      const n = 1003;
      const g = fill(n, (u) => u * 10);
      const p0 = fill(n, (u) => u);
      const m0 = fill(n, (u) => u * 0.01);
      const v0 = fill(n, (u) => u * u * 1e-4);
      const h = Float64Array.from([0.7, 0.9, 0.999, 1e-3, 0.03, 1e-8, 0.9999]);
      const whole = { p: p0.slice(), m: m0.slice(), v: v0.slice() };
      blas!.adamUpdate!(whole.p, g, whole.m, whole.v, h);
      const single = { p: p0.slice(), m: m0.slice(), v: v0.slice() };
      for (let i = 0; i < n; i++) {
        blas!.adamUpdate!(
          single.p.subarray(i, i + 1),
          g.subarray(i, i + 1),
          single.m.subarray(i, i + 1),
          single.v.subarray(i, i + 1),
          h,
        );
      }
      expect(maxAbs(whole.p, single.p)).toBe(0);
      expect(maxAbs(whole.m, single.m)).toBe(0);
      expect(maxAbs(whole.v, single.v)).toBe(0);
      expect(maxAbs(whole.p, p0)).toBeGreaterThan(0); // it did update
      // the lane sums against a plain in-order double sum
      let sq = 0;
      for (let i = 0; i < n; i++) sq += g[i]! * g[i]!;
      expect(Math.abs(blas!.sumSquaresAll!([g], 1) - sq)).toBeLessThan(1e-12 * sq);
    });

    it('refuses mismatched arrays and changes nothing', () => {
      const p = [new Float32Array(4)];
      const m = new Float32Array(4);
      const h = new Float64Array(7);
      expect(() => blas!.adamUpdateAll!(p, [new Float32Array(3)], m, new Float32Array(4), h, 2)).toThrow(
        /must match/,
      );
      expect(() => blas!.adamUpdateAll!(p, [new Float32Array(4)], m, new Float32Array(5), h, 2)).toThrow(
        /must match/,
      );
      expect(() =>
        blas!.adamUpdateAll!(p, [new Float32Array(4)], m, new Float32Array(4), new Float64Array(3), 2),
      ).toThrow(/hyper-parameters/);
      expect(() => blas!.sumSquaresAll!([new Float64Array(2) as unknown as Float32Array], 1)).toThrow(
        /Float32Array/,
      );
      expect(Array.from(p[0]!)).toEqual([0, 0, 0, 0]);
    });
  },
);
