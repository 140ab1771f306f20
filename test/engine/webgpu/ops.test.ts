/**
 * Every op the flow, the trainer, the objective and the built-in models use
 * (flow.ts, trainer.ts, objective.ts, plugins/*), on webgpu against the cpu
 * backend: the value and the gradient w.r.t. every input (of Σ out·w with fixed
 * random weights w). Models are checked whole in models.test.ts.
 */
import type { Tensor } from '@tensorflow/tfjs-core';
import { Rng } from '../../../src/engine/rng';
import type { Tf } from '../../../src/sdk/index';
import { relErr, use, webgpuReady } from './helpers';

interface Case {
  name: string;
  shapes: number[][];
  f: (tf: Tf, ...xs: Tensor[]) => Tensor;
  /** Inputs that get gradients (default all); [] for ops without one. */
  gradOf?: number[];
  /** Makes input i positive (log, sqrt, div denominators). */
  positive?: number[];
  tol?: number;
}

const CASES: Case[] = [
  // flow and trainer
  {
    name: 'matMul',
    shapes: [
      [6, 5],
      [5, 7],
    ],
    f: (tf, a, b) => tf.matMul(a as never, b as never),
  },
  {
    name: 'matMul transposeA',
    shapes: [
      [7, 5],
      [7, 3],
    ],
    f: (tf, a, b) => tf.matMul(a as never, b as never, true, false),
  },
  {
    name: 'matMul transposeB',
    shapes: [
      [4, 9],
      [6, 9],
    ],
    f: (tf, a, b) => tf.matMul(a as never, b as never, false, true),
  },
  {
    name: 'batched matMul',
    shapes: [
      [3, 4, 5],
      [3, 5, 2],
    ],
    f: (tf, a, b) => tf.matMul(a as never, b as never),
  },
  {
    name: 'matMul 64×512·512×256',
    shapes: [
      [64, 512],
      [512, 256],
    ],
    f: (tf, a, b) => tf.matMul(a as never, b as never),
    tol: 1e-5,
  },
  { name: 'add (broadcast)', shapes: [[5, 6], [6]], f: (tf, a, b) => tf.add(a, b) },
  {
    name: 'sub (broadcast)',
    shapes: [
      [5, 6],
      [1, 6],
    ],
    f: (tf, a, b) => tf.sub(a, b),
  },
  { name: 'mul (broadcast)', shapes: [[5, 6], [6]], f: (tf, a, b) => tf.mul(a, b) },
  { name: 'div', shapes: [[5, 6], [6]], positive: [1], f: (tf, a, b) => tf.div(a, b) },
  { name: 'exp', shapes: [[5, 6]], f: (tf, a) => tf.exp(a) },
  { name: 'neg', shapes: [[5, 6]], f: (tf, a) => tf.neg(a) },
  { name: 'log', shapes: [[5, 6]], positive: [0], f: (tf, a) => tf.log(a) },
  { name: 'sqrt', shapes: [[5, 6]], positive: [0], f: (tf, a) => tf.sqrt(a) },
  { name: 'square', shapes: [[5, 6]], f: (tf, a) => tf.square(a) },
  { name: 'abs', shapes: [[5, 6]], f: (tf, a) => tf.abs(a) },
  { name: 'tanh', shapes: [[5, 6]], f: (tf, a) => tf.tanh(a) },
  { name: 'sigmoid', shapes: [[5, 6]], f: (tf, a) => tf.sigmoid(a) },
  { name: 'softplus', shapes: [[5, 6]], f: (tf, a) => tf.softplus(a) },
  { name: 'relu', shapes: [[5, 6]], f: (tf, a) => tf.relu(a) },
  { name: 'leakyRelu 0.1', shapes: [[5, 6]], f: (tf, a) => tf.leakyRelu(a, 0.1) },
  { name: 'atan', shapes: [[5, 6]], f: (tf, a) => tf.atan(a) },
  {
    name: 'atan2',
    shapes: [
      [5, 6],
      [5, 6],
    ],
    f: (tf, a, b) => tf.atan2(a, b),
  },
  {
    name: 'minimum',
    shapes: [
      [5, 6],
      [5, 6],
    ],
    f: (tf, a, b) => tf.minimum(a, b),
  },
  {
    name: 'maximum',
    shapes: [
      [5, 6],
      [5, 6],
    ],
    f: (tf, a, b) => tf.maximum(a, b),
  },
  {
    name: 'minimum with a scalar (gradient clip)',
    shapes: [[1]],
    f: (tf, a) => tf.minimum(1, tf.div(1, tf.add(tf.abs(a), 1e-6))),
  },
  { name: 'clipByValue', shapes: [[5, 6]], f: (tf, a) => tf.clipByValue(a, -0.5, 0.5) },
  { name: 'sum (all, axis)', shapes: [[5, 6]], f: (tf, a) => tf.add(tf.sum(a), tf.sum(a, 1)) },
  {
    name: 'mean (axis 0, axes 1-3)',
    shapes: [[3, 4, 5, 2]],
    f: (tf, a) => tf.add(tf.mean(a, [1, 2, 3]), tf.sum(tf.mean(a, 0))),
  },
  { name: 'softmax', shapes: [[5, 10]], f: (tf, a) => tf.softmax(a as never) },
  { name: 'logSoftmax', shapes: [[5, 10]], f: (tf, a) => tf.logSoftmax(a as never) },
  { name: 'logSumExp', shapes: [[5, 10]], f: (tf, a) => tf.logSumExp(a, 1) },
  { name: 'slice', shapes: [[5, 8]], f: (tf, a) => tf.slice(a, [1, 2], [3, 4]) },
  { name: 'slice 4-D', shapes: [[4, 6, 6, 2]], f: (tf, a) => tf.slice(a, [1, 0, 1, 0], [2, -1, 4, -1]) },
  {
    name: 'split',
    shapes: [[12]],
    f: (tf, a) => {
      const [p, q, r] = tf.split(a, [3, 4, 5]);
      return tf.concat([tf.mul(p, 2), r, q]);
    },
  },
  {
    name: 'concat (axis 1)',
    shapes: [
      [4, 3],
      [4, 5],
    ],
    f: (tf, a, b) => tf.concat([a, b], 1),
  },
  {
    name: 'stack',
    shapes: [
      [4, 3],
      [4, 3],
    ],
    f: (tf, a, b) => tf.stack([a, b], 1),
  },
  { name: 'reshape', shapes: [[4, 6]], f: (tf, a) => tf.reshape(a, [2, 3, 4]) },
  { name: 'transpose', shapes: [[2, 3, 4, 5]], f: (tf, a) => tf.transpose(a, [0, 3, 1, 2]) },
  { name: 'tile', shapes: [[2, 3]], f: (tf, a) => tf.tile(a, [3, 2]) },
  {
    name: 'pad',
    shapes: [[2, 3, 3, 1]],
    f: (tf, a) =>
      tf.pad(a, [
        [0, 0],
        [1, 2],
        [2, 1],
        [0, 0],
      ]),
  },
  { name: 'cast', shapes: [[5, 6]], f: (tf, a) => tf.cast(a, 'float32') },
  {
    name: 'oneHot · x',
    shapes: [[4, 5]],
    f: (tf, a) => tf.mul(a, tf.oneHot(tf.tensor1d([0, 3, 4, 1], 'int32'), 5)),
  },
  { name: 'argMax', shapes: [[5, 7]], gradOf: [], f: (tf, a) => tf.cast(tf.argMax(a, 1), 'float32') },
  // convolutional models (mnist generator/classifier, face-api, clip)
  {
    name: 'conv2d same',
    shapes: [
      [2, 7, 7, 3],
      [3, 3, 3, 4],
    ],
    f: (tf, x, w) => tf.conv2d(x as never, w as never, 1, 'same'),
  },
  {
    name: 'conv2d stride 2 valid',
    shapes: [
      [2, 9, 9, 2],
      [3, 3, 2, 5],
    ],
    f: (tf, x, w) => tf.conv2d(x as never, w as never, 2, 'valid'),
  },
  {
    name: 'conv2d 1×1 stride 2 same, 28×28×32→64 (face-api expansion conv)',
    shapes: [
      [1, 28, 28, 32],
      [1, 1, 32, 64],
    ],
    f: (tf, x, w) => tf.conv2d(x as never, w as never, 2, 'same'),
    tol: 1e-5,
  },
  {
    name: 'conv2d 3×3 stride 2 same, 18×18×32→64 (face-api residualDown)',
    shapes: [
      [1, 18, 18, 32],
      [3, 3, 32, 64],
    ],
    f: (tf, x, w) => tf.conv2d(x as never, w as never, 2, 'same'),
    tol: 1e-5,
  },
  {
    name: 'conv2d 7×7 stride 2 valid, 40×40×3→32 (face-api identity stem)',
    shapes: [
      [1, 40, 40, 3],
      [7, 7, 3, 32],
    ],
    f: (tf, x, w) => tf.conv2d(x as never, w as never, 2, 'valid'),
    tol: 1e-5,
  },
  {
    name: 'conv2dTranspose',
    shapes: [
      [2, 4, 4, 3],
      [3, 3, 2, 3],
    ],
    f: (tf, x, w) => tf.conv2dTranspose(x as never, w as never, [2, 8, 8, 2], 2, 'same'),
  },
  {
    name: 'depthwiseConv2d',
    shapes: [
      [2, 6, 6, 3],
      [3, 3, 3, 1],
    ],
    f: (tf, x, w) => tf.depthwiseConv2d(x as never, w as never, 1, 'same'),
  },
  {
    name: 'separableConv2d',
    shapes: [
      [2, 6, 6, 3],
      [3, 3, 3, 1],
      [1, 1, 3, 4],
    ],
    f: (tf, x, d, p) => tf.separableConv2d(x as never, d as never, p as never, 1, 'same'),
  },
  { name: 'maxPool', shapes: [[2, 6, 6, 3]], f: (tf, x) => tf.maxPool(x as never, 2, 2, 'valid') },
  {
    name: 'maxPool 3×3 stride 2 same',
    shapes: [[1, 7, 7, 2]],
    f: (tf, x) => tf.maxPool(x as never, 3, 2, 'same'),
  },
  {
    name: 'maxPool 3×3 stride 2 same, negative inputs',
    shapes: [[1, 8, 8, 2]],
    f: (tf, x) => tf.maxPool(tf.sub(tf.neg(tf.abs(x)), 1) as never, 3, 2, 'same'),
  },
  {
    name: 'maxPool 2×2 stride 2 valid, negative inputs',
    shapes: [[1, 8, 8, 2]],
    f: (tf, x) => tf.maxPool(tf.sub(tf.neg(tf.abs(x)), 1) as never, 2, 2, 'valid'),
  },
  {
    name: 'maxPool 3×3 stride 2 same, 56×56×32 (face-api age/gender)',
    shapes: [[1, 56, 56, 32]],
    f: (tf, x) => tf.maxPool(x as never, [3, 3], [2, 2], 'same'),
  },
  {
    name: 'maxPool 3×3 stride 2 valid, 73×73×32 (face-api identity)',
    shapes: [[1, 73, 73, 32]],
    f: (tf, x) => tf.maxPool(x as never, 3, 2, 'valid'),
  },
  { name: 'avgPool', shapes: [[2, 6, 6, 3]], f: (tf, x) => tf.avgPool(x as never, 2, 2, 'valid') },
  {
    name: 'resizeNearestNeighbor (up 2×)',
    shapes: [[2, 4, 4, 3]],
    f: (tf, x) => tf.image.resizeNearestNeighbor(x as never, [8, 8]),
  },
  {
    name: 'resizeNearestNeighbor (7→14, 7→9)',
    shapes: [[1, 7, 7, 2]],
    f: (tf, x) => tf.image.resizeNearestNeighbor(x as never, [14, 9]),
  },
  {
    name: 'resizeBilinear 64→112',
    shapes: [[1, 64, 64, 3]],
    f: (tf, x) => tf.image.resizeBilinear(x as never, [112, 112]),
    tol: 2e-5,
  },
  {
    name: 'resizeBilinear 64→150',
    shapes: [[1, 64, 64, 3]],
    f: (tf, x) => tf.image.resizeBilinear(x as never, [150, 150]),
    tol: 2e-5,
  },
  {
    name: 'resizeBilinear',
    shapes: [[2, 5, 5, 3]],
    f: (tf, x) => tf.image.resizeBilinear(x as never, [9, 9]),
  },
  {
    name: 'resizeBilinear half-pixel centres, H ≠ W',
    shapes: [[1, 5, 7, 2]],
    f: (tf, x) => tf.image.resizeBilinear(x as never, [8, 3], false, true),
  },
  {
    name: 'resizeNearestNeighbor align corners / half-pixel',
    shapes: [[1, 5, 7, 2]],
    f: (tf, x) =>
      tf.add(
        tf.sum(tf.image.resizeNearestNeighbor(x as never, [8, 3], true, false)),
        tf.sum(tf.image.resizeNearestNeighbor(x as never, [10, 14], false, true)),
      ),
  },
  {
    name: 'resizeBilinear align corners (down)',
    shapes: [[1, 9, 9, 1]],
    f: (tf, x) => tf.image.resizeBilinear(x as never, [4, 4], true),
  },
  // tfjs-layers parts the mnist models use
  {
    name: 'dense + relu (fused matMul with bias)',
    shapes: [[6, 5], [5, 7], [7]],
    f: (tf, x, w, b) => tf.relu(tf.add(tf.matMul(x as never, w as never), b)),
  },
  {
    name: 'fused matMul',
    shapes: [[6, 5], [5, 7], [7]],
    f: (tf, x, w, b) => tf.fused.matMul({ a: x as never, b: w as never, bias: b, activation: 'relu' }),
  },
  {
    name: 'fused conv2d',
    shapes: [[2, 7, 7, 3], [3, 3, 3, 4], [4]],
    f: (tf, x, w, b) =>
      tf.fused.conv2d({
        x: x as never,
        filter: w as never,
        strides: 1,
        pad: 'same',
        bias: b,
        activation: 'relu',
      }),
  },
];

describe('resize gradients on webgpu are adjoint to the resize: ⟨resize(x), dy⟩ = ⟨x, dx⟩', () => {
  const RESIZES: [string, number[], [number, number], boolean, boolean, 'nearest' | 'bilinear'][] = [
    ['nearest 2× up', [2, 4, 4, 3], [8, 8], false, false, 'nearest'],
    ['nearest 7→(14, 9)', [1, 7, 7, 2], [14, 9], false, false, 'nearest'],
    ['nearest half-pixel', [1, 5, 7, 2], [10, 14], false, true, 'nearest'],
    ['bilinear 64→112 (face-api)', [1, 64, 64, 3], [112, 112], false, false, 'bilinear'],
    ['bilinear half-pixel, H ≠ W', [1, 5, 7, 2], [8, 3], false, true, 'bilinear'],
    ['bilinear align corners', [1, 9, 9, 1], [4, 4], true, false, 'bilinear'],
  ];
  test.each(RESIZES)('%s', async (_n, shape, size, ac, hp, mode) => {
    if ((await webgpuReady()) === null) return;
    const tf = await use('webgpu');
    const f = (v: Tensor) =>
      mode === 'nearest'
        ? tf.image.resizeNearestNeighbor(v as never, size, ac, hp)
        : tf.image.resizeBilinear(v as never, size, ac, hp);
    const n = shape.reduce((a, b) => a * b, 1);
    const x = tf.tensor(new Rng(1).normals(n), shape);
    const dy = tf.tensor(new Rng(2).normals(n ? shape[0] * size[0] * size[1] * shape[3] : 0), [
      shape[0],
      size[0],
      size[1],
      shape[3],
    ]);
    const lhs = (await tf.sum(tf.mul(f(x), dy)).data())[0];
    const dx = tf.grad((v: Tensor) => tf.sum(tf.mul(f(v), dy)))(x);
    const rhs = (await tf.sum(tf.mul(x, dx)).data())[0];
    expect(Math.abs(lhs - rhs)).toBeLessThan(1e-4 * Math.max(1, Math.abs(lhs)));
    tf.dispose([x, dy, dx]);
  });
});

describe('webgpu ops against cpu: value and gradient', () => {
  let skip = false;
  beforeAll(async () => {
    skip = (await webgpuReady()) === null;
  });

  async function run(name: 'cpu' | 'webgpu', c: Case) {
    const tf = await use(name);
    const rng = new Rng(42);
    const xs = c.shapes.map((s, i) => {
      const v = rng.normals(s.reduce((a, b) => a * b, 1));
      if (c.positive?.includes(i)) for (let k = 0; k < v.length; k++) v[k] = Math.abs(v[k]) + 0.5;
      return tf.tensor(v, s);
    });
    const out = tf.tidy(() => c.f(tf, ...xs));
    const w = tf.tensor(new Rng(7).normals(out.size), out.shape);
    const which = c.gradOf ?? xs.map((_, i) => i);
    const grads = which.length
      ? tf.grads((...args: Tensor[]) => {
          const all = xs.slice();
          which.forEach((idx, k) => (all[idx] = args[k]));
          return tf.sum(tf.mul(c.f(tf, ...all), w));
        })(which.map((i) => xs[i]))
      : [];
    const value = await out.data();
    const g = await Promise.all(grads.map((t) => t.data()));
    tf.dispose([...xs, out, w, ...grads]);
    return { value: Array.from(value), grads: g.map((x) => Array.from(x)) };
  }

  test.each(CASES.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    if (skip) return;
    const ref = await run('cpu', c);
    const got = await run('webgpu', c);
    const tol = c.tol ?? 2e-6;
    expect(relErr(got.value, ref.value)).toBeLessThan(tol);
    expect(got.grads).toHaveLength(ref.grads.length);
    got.grads.forEach((g, i) => expect(relErr(g, ref.grads[i])).toBeLessThan(tol * 5));
  });
});
