/**
 * The host Adam (one loop, cpu/wasm) and the tensor Adam (TF.js ops, other
 * backends) give the same updates, optimiser state and gradient norm: clip on
 * and off, with weight decay, over several steps.
 */
import type { NamedTensorMap, Variable } from '@tensorflow/tfjs-core';
import { hostAdam, tensorAdam, hostOptimizerFits, jsAdamLoops, nativeAdamLoops, type AdamSettings, type HostAdamLoops } from '../../src/engine/adam';
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
optionalPart('the native Adam loops', native ? null : loadNativeBlas() ? 'the addon predates them (run node native/build.js)' : nativeBlasStatus);
const loopSets: [string, HostAdamLoops][] = [['js loops', jsAdamLoops], ...(native ? [['native loops', native] as [string, HostAdamLoops]] : [])];

describe.each(['cpu', 'wasm'] as const)('Adam on %s', (backend) => {
  it.each(loopSets.flatMap(([name, loops]) => [
    [name, 'clipped, with weight decay', 0.5, 0.01, loops],
    [name, 'no clip, no decay', 0, 0, loops],
  ] as [string, string, number, number, HostAdamLoops][]))('host (%s) and tensor implementations agree (%s)', async (_name, _label, clipNorm, weightDecay, loops) => {
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
      const gs = shapes.map((sh) => rng.normals(sh.reduce((x, y) => x * y, 1), 2));
      const grads = (vars: Variable[]): NamedTensorMap => Object.fromEntries(vars.map((v, i) => [v.name, tf.tensor(gs[i]!, shapes[i])]));
      const ga = grads(a);
      const gb = grads(b);
      const ra = ha.step(ga, k, s.lr * (1 - k / 10));
      const rb = tb.step(gb, k, s.lr * (1 - k / 10));
      expect(Math.abs((await ra.gradNorm()) - (await rb.gradNorm()))).toBeLessThan(1e-5 * (await rb.gradNorm()));
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
  });
});
