/**
 * A condition means the same in training and in sampling: the objective, the
 * trainer's previews and sampleImages all feed the flow CONDITION_GAIN · ρ
 * (src/engine/condition-input.ts), and a zero condition stays zero.
 */
import { Flow } from '../../src/engine/flow';
import { sampleImages } from '../../src/engine/sampler';
import { objectivePerSample } from '../../src/engine/objective';
import { CONDITION_GAIN } from '../../src/engine/condition-input';
import { Rng } from '../../src/engine/rng';
import type { Tensor2D, Tensor4D } from '../../src/sdk/index';
import { useBackend, randomizeFlow } from './helpers';

test('objective and sampler feed the flow CONDITION_GAIN · ρ; ρ = 0 is the unconditioned twin', async () => {
  const tf = await useBackend('cpu');
  const d = 4;
  const flow = new Flow(tf, { dim: d, blocks: 2, hidden: 8, conditionDim: 1, seed: 2 });
  randomizeFlow(tf, flow, 5);
  const G = {
    generate: (z: Tensor2D) => tf.reshape(tf.sigmoid(z), [z.shape[0], 1, d, 1]) as Tensor4D,
    dispose: () => undefined,
  };
  const n = 3;
  const rho = 0.3;
  const eps = tf.tensor2d(new Rng(11).normals(n * d), [n, d]);
  const sampled = await sampleImages({ tf, flow, generator: G, count: n, seed: 11, condition: [rho] });
  const direct = tf.tidy(() =>
    G.generate(flow.forward(eps, tf.fill([n, 1], CONDITION_GAIN * rho) as Tensor2D).z),
  );
  const ungained = tf.tidy(() => G.generate(flow.forward(eps, tf.fill([n, 1], rho) as Tensor2D).z));
  const trained = tf.tidy(
    () =>
      objectivePerSample({
        tf,
        flow,
        generator: G,
        terms: [],
        eps,
        condition: tf.fill([n, 1], rho) as Tensor2D,
      }).images,
  );
  const close = (a: ArrayLike<number>, b: ArrayLike<number>) =>
    Array.from(a).every((v, i) => Math.abs(v - b[i]!) < 1e-6);
  expect(close(sampled.data, direct.dataSync())).toBe(true);
  expect(close(trained.dataSync(), direct.dataSync())).toBe(true);
  expect(close(direct.dataSync(), ungained.dataSync())).toBe(false);
  // ρ = 0 through the sampler equals the flow without a condition (the paired twin)
  const zero = await sampleImages({ tf, flow, generator: G, count: n, seed: 11, condition: [0] });
  const none = tf.tidy(() => G.generate(flow.forward(eps).z));
  expect(close(zero.data, none.dataSync())).toBe(true);
  tf.dispose([eps, direct, ungained, trained, none]);
  flow.dispose();
});
