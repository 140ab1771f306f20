/**
 * Gradients of every face energy w.r.t. the input image, on the cpu and the
 * (patched) wasm backend: central finite differences along the gradient's own
 * direction and along a random direction, plus wasm-vs-cpu agreement.
 * Images are 64×64 crops (the nets resize them to 112 / 150 bilinearly, so the
 * resize gradient is exercised too).
 */
import type { Tensor, Tensor4D, Tf } from '../../../src/sdk/index';
import { crop, ctxFor, facePlugin, generatorInfo, seeded, useBackend } from './helpers';

const SIZE = 64;
type Case = { control: string; params: unknown; extras?: (tf: Tf) => Record<string, Tensor> };

const CASES: Case[] = [
  { control: 'face-gender', params: { target: 'male' } },
  { control: 'face-age', params: { min: 40, max: 50 } },
  { control: 'face-expression', params: { expression: 'happy' } },
  // target: yaw +10°, pitch −5°, roll +3° (condition = degrees / 45)
  {
    control: 'face-pose',
    params: {},
    extras: (tf) => ({ condition: tf.tensor2d([[10 / 45, -5 / 45, 3 / 45]]) }),
  },
  { control: 'face-identity', params: {}, extras: (tf) => ({ pairImages: small(tf, 'a', 0, 0) }) },
];

function small(tf: Tf, name: string, dx: number, dy: number): Tensor4D {
  return tf.tidy(() => tf.image.resizeBilinear(crop(tf, name, dx, dy), [SIZE, SIZE], false, false));
}

function unitRandom(tf: Tf, shape: number[], seed: number): Tensor {
  const r = seeded(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) v[i] = r() - 0.5;
  return tf.tidy(() => {
    const t = tf.tensor(v, shape);
    return tf.div(t, tf.norm(t));
  });
}

const figures: Record<string, Record<string, unknown>> = {};
const grads: Record<string, Record<string, Float32Array>> = { cpu: {}, wasm: {} };

afterAll(() => {
  console.log(
    `gradient checks (relative error of central differences, L2 step h):\n${JSON.stringify(figures, null, 1)}`,
  );
});

for (const backend of ['cpu', 'wasm'] as const) {
  describe(`energy gradients on ${backend}`, () => {
    let tf: Tf;
    beforeAll(async () => {
      tf = await useBackend(backend);
    });

    for (const c of CASES) {
      test(`${c.control}: gradient matches finite differences`, async () => {
        const def = facePlugin.controls.find((d: { name: string }) => d.name === c.control);
        const inst = await def.load(ctxFor(tf), c.params, generatorInfo(SIZE));
        // Image: crop a, shifted a little for identity (so 1 − cos is not at its minimum).
        const x = c.control === 'face-identity' ? small(tf, 'a', 9, 6) : small(tf, 'a', 0, 0);
        const extras1: Record<string, Tensor> = { z: tf.zeros([1, 8]), ...(c.extras ? c.extras(tf) : {}) };
        // The same extras for a batch of two (x + hv, x − hv).
        const extras2: Record<string, Tensor> = Object.fromEntries(
          Object.entries(extras1).map(([k, t]) => [k, tf.concat([t, t])]),
        );
        const E = (img: Tensor4D) => tf.sum(inst.energy(img, extras1));
        const { value, grad: g } = tf.valueAndGrad((img: Tensor) => E(img as Tensor4D))(x);
        const e0 = value.dataSync()[0];
        value.dispose();
        grads[backend][c.control] = Float32Array.from(g.dataSync() as Float32Array);
        const gnorm = tf.tidy(() => tf.norm(g).dataSync()[0]);
        expect(Number.isFinite(gnorm)).toBe(true);
        expect(gnorm).toBeGreaterThan(0);
        const row: Record<string, unknown> = {
          energy: Number(e0.toPrecision(5)),
          gradNorm: Number(gnorm.toPrecision(4)),
        };
        // The energies are strongly curved (deep ReLU nets): steps of L2 norm 0.003 on a
        // 64×64×3 image (~3e-5 per pixel) keep the central-difference bias below ~1 %.
        const h = 0.003;
        const dirs: [string, Tensor][] = [['alongGrad', tf.tidy(() => tf.div(g, gnorm))]];
        if (backend === 'wasm') dirs.push(['random', unitRandom(tf, x.shape, 7)]);
        for (const [label, v] of dirs) {
          const analytic = tf.tidy(() => tf.sum(tf.mul(g, v)).dataSync()[0]);
          const [plus, minus] = tf.tidy(() => {
            const both = tf.concat([tf.add(x, tf.mul(v, h)), tf.sub(x, tf.mul(v, h))]) as Tensor4D;
            return Array.from(inst.energy(both, extras2).dataSync() as Float32Array);
          });
          const numeric = (plus - minus) / (2 * h);
          // Along the gradient: relative error. Random direction (tiny projection): error against 0.5 % of |g| as well.
          const rel =
            Math.abs(numeric - analytic) /
            (label === 'alongGrad' ? Math.abs(analytic) : Math.abs(analytic) + 0.005 * gnorm);
          row[label] = {
            analytic: Number(analytic.toPrecision(5)),
            numeric: Number(numeric.toPrecision(5)),
            relErr: Number(rel.toPrecision(3)),
          };
          expect(rel).toBeLessThan(label === 'alongGrad' ? 0.03 : 0.15);
          v.dispose();
        }
        figures[`${backend} ${c.control}`] = row;
        tf.dispose([x, g, ...Object.values(extras1), ...Object.values(extras2)]);
        inst.dispose();
      });
    }
  });
}

describe('wasm gradients equal cpu gradients', () => {
  // ageGenderNet's input gradient is itself sensitive at the float-rounding level (ReLU
  // and max-pool switches): on one backend, adding 1e-7 noise to the image changes it by
  // ~1 % (relative L2). So the check is on the relative L2 difference (max also reported),
  // at twice that floor: face-gender measured 1.06 % on Node 22 (0.9 % before), and both
  // backends' gradients pass the finite-difference checks above on their own.
  test.each(CASES.map((c) => c.control))('%s', (name) => {
    const a = grads.cpu[name];
    const b = grads.wasm[name];
    expect(a && b).toBeTruthy();
    let diff = 0;
    let scale = 0;
    let d2 = 0;
    let n2 = 0;
    for (let i = 0; i < a.length; i++) {
      diff = Math.max(diff, Math.abs(a[i] - b[i]));
      scale = Math.max(scale, Math.abs(a[i]));
      d2 += (a[i] - b[i]) ** 2;
      n2 += a[i] ** 2;
    }
    const relL2 = Math.sqrt(d2 / n2);
    figures[`wasm-vs-cpu ${name}`] = {
      relL2: Number(relL2.toPrecision(3)),
      maxAbsDiff: Number(diff.toPrecision(3)),
      maxAbsGrad: Number(scale.toPrecision(3)),
    };
    expect(relL2).toBeLessThan(2e-2);
  });
});
