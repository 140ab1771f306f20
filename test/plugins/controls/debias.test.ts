/**
 * The `debias` control on the MNIST classifier of plugins/mnist (wasm backend): calibration on base
 * samples (with and without noise shrinkage), the adaptive β, state round trips and evaluate().
 */
import type { ControlInstance, Tensor4D } from '../../../src/sdk';
import { harness, noiseImages, type Harness } from './setup';

describe('the debias control on the MNIST classifier (wasm)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await harness('wasm');
  });
  const images = (n: number, seed: number): Tensor4D => noiseImages(h.tf, n, seed);

  test('debias with shrink: false fits the base samples exactly (s = 1, aims at the target itself)', async () => {
    const params = {
      attributes: [{ classifier: 'mnist-digit' }],
      samples: 64,
      iterations: 200,
      shrink: false,
    };
    const a: ControlInstance = await h.registry.loadControl('debias', params, h.info, h.runtime, {
      cache: false,
    });
    await a.calibrate!(async (n) => images(n, 11));
    const fit = (
      a.calibrationState!() as { attributes: Array<{ fit: { shrinkage: number; fitTarget: number[] } }> }
    ).attributes[0]!.fit;
    expect(fit.shrinkage).toBe(1);
    fit.fitTarget.forEach((t) => expect(t).toBeCloseTo(0.1, 12));
    a.dispose();
  });

  test("debias adaptive: β starts at the fitted β̂ and observe() refines it from the prompt's samples; training state round-trips", async () => {
    const params = {
      attributes: [{ classifier: 'mnist-digit', classes: [3, 8] }],
      samples: 32,
      iterations: 50,
      adaptive: true,
      adaptRate: 0.5,
      augment: { copies: 0 },
    };
    const a = await h.registry.loadControl('debias', params, h.info, h.runtime, { cache: false });
    await a.calibrate!(async (n) => images(n, 21));
    const fitted = (a.calibrationState!() as { attributes: Array<{ beta: number[] }> }).attributes[0]!.beta;
    expect((a.trainingState!() as { beta: number[][] }).beta[0]).toEqual(fitted);
    const x = images(8, 6);
    await a.observe!(x);
    const adapted = (a.trainingState!() as { beta: number[][] }).beta[0]!;
    expect(adapted).not.toEqual(fitted);
    expect(adapted[0]! + adapted[1]!).toBeCloseTo(0, 10);
    const b = await h.registry.loadControl('debias', params, h.info, h.runtime, { cache: false });
    b.restoreCalibration!(a.calibrationState!());
    b.restoreTrainingState!(JSON.parse(JSON.stringify(a.trainingState!())));
    const ea = Array.from(await a.energy(x, { z: null as never }).data());
    const eb = Array.from(await b.energy(x, { z: null as never }).data());
    eb.forEach((v, i) => expect(v).toBeCloseTo(ea[i]!, 5));
    const fixed = await h.registry.loadControl('debias', { ...params, adaptive: false }, h.info, h.runtime, {
      cache: false,
    });
    fixed.restoreCalibration!(a.calibrationState!());
    fixed.observe!(x);
    expect((fixed.trainingState!() as { beta: number[][] }).beta[0]).toEqual(adapted); // adaptive: false leaves β alone
    [a, b, fixed].forEach((k) => k.dispose());
    x.dispose();
  });

  test('debias: calibrate fits β̂ on base samples, state round-trips to a fresh instance (same energies), evaluate reports histogram, marginal and KL', async () => {
    const { tf } = h;
    const params = {
      attributes: [
        { classifier: 'mnist-digit' },
        { classifier: 'mnist-digit', classes: [0, 2, 4, 6, 8], target: [1, 1, 2, 1, 1] },
      ],
      samples: 64,
      iterations: 200,
      augment: { copies: 0 },
    };
    const a: ControlInstance = await h.registry.loadControl('debias', params, h.info, h.runtime, {
      cache: false,
    });
    const x = images(5, 3);
    expect(() => a.energy(x, { z: null as never })).toThrow(/calibrate\(\)/);
    let asked = 0;
    await a.calibrate!(async (n) => {
      asked = n;
      return images(n, 11);
    });
    expect(asked).toBe(64);
    const state = JSON.parse(JSON.stringify(a.calibrationState!()));
    expect(state.attributes).toHaveLength(2);
    expect(state.attributes[0].beta).toHaveLength(10);
    expect(state.attributes[1].beta).toHaveLength(5);
    expect(state.attributes[0].fit.loss).toBeLessThanOrEqual(state.attributes[0].fit.initialLoss);
    // the noise shrinkage is on by default and recorded: β̂ aims at m₀ − s·(m₀ − target)
    for (const at of state.attributes) {
      const { shrinkage, fitTarget, marginalBefore } = at.fit;
      expect(shrinkage).toBeGreaterThanOrEqual(0);
      expect(shrinkage).toBeLessThanOrEqual(1);
      fitTarget.forEach((t: number, k: number) =>
        expect(t).toBeCloseTo(marginalBefore[k] - shrinkage * (marginalBefore[k] - at.target[k]), 9),
      );
    }
    const ea = Array.from(await a.energy(x, { z: null as never }).data());
    expect(ea.every(Number.isFinite)).toBe(true);
    const g = await tf
      .grad((im) => tf.sum(a.energy(im as Tensor4D, { z: null as never })))(x)
      .data();
    expect(g.every(Number.isFinite)).toBe(true);

    const b = await h.registry.loadControl('debias', params, h.info, h.runtime, { cache: false });
    b.restoreCalibration!(state);
    const eb = Array.from(await b.energy(x, { z: null as never }).data());
    eb.forEach((v, i) => expect(v).toBeCloseTo(ea[i]!, 5));
    expect(b.calibrationState!()).toEqual(state);
    expect(() => b.restoreCalibration!({ version: 1, attributes: [state.attributes[0]] })).toThrow(
      /does not match/,
    );
    expect(() =>
      b.restoreCalibration!({ version: 1, attributes: [state.attributes[1], state.attributes[0]] }),
    ).toThrow(/does not match/);

    const ev = (await b.evaluate!(x)) as {
      count: number;
      kl: number;
      attributes: Array<{
        histogram: Record<string, number>;
        marginal: number[];
        kl: number;
        target: number[];
      }>;
    };
    expect(ev.count).toBe(5);
    expect(Object.keys(ev.attributes[1]!.histogram)).toEqual(['0', '2', '4', '6', '8']);
    expect(ev.attributes[1]!.marginal.reduce((s, v) => s + v, 0)).toBeCloseTo(1, 6);
    expect(ev.attributes[1]!.target).toEqual([1 / 6, 1 / 6, 2 / 6, 1 / 6, 1 / 6]);
    expect(ev.kl).toBeCloseTo(ev.attributes[0]!.kl + ev.attributes[1]!.kl, 8);
    a.dispose();
    b.dispose();
    x.dispose();
  });
});
