/**
 * Each wasm kernel patch checked against the cpu backend: values and gradients.
 */
import type { Tensor } from '@tensorflow/tfjs-core';
import { useBackend } from './helpers';
import { Rng } from '../../src/engine/rng';
import { WASM_PATCHED_KERNELS } from '../../src/engine/kernels/index';

type TfT = Awaited<ReturnType<typeof useBackend>>;

interface Case {
  name: string;
  /** Input shapes; inputs are seeded normals. */
  shapes: number[][];
  /** The function; its gradient w.r.t. every input is checked too (via sum of output · fixed weights). */
  f: (tf: TfT, ...xs: Tensor[]) => Tensor;
  /** Which inputs get gradients (default all). */
  gradOf?: number[];
  tol?: number;
  kernels: string[];
}

async function evaluate(tf: TfT, c: Case) {
  const rng = new Rng(42);
  const xs = c.shapes.map((s) => tf.tensor(rng.normals(s.reduce((a, b) => a * b, 1)), s));
  let out: Tensor | undefined;
  let w: Tensor | undefined;
  const which = c.gradOf ?? xs.map((_, i) => i);
  let grads: Tensor[] = [];
  const info = await tf.profile(() => {
    out = tf.tidy(() => c.f(tf, ...xs));
    w = tf.tensor(new Rng(7).normals(out.size), out.shape);
    grads = tf.grads((...args: Tensor[]) => {
      const all = xs.slice();
      which.forEach((idx, k) => (all[idx] = args[k]));
      return tf.sum(tf.mul(c.f(tf, ...all), w!));
    })(which.map((i) => xs[i]));
    return [out!, w!, ...grads];
  });
  const result = {
    value: Float32Array.from(out!.dataSync() as Float32Array),
    grads: grads.map((g) => Float32Array.from(g.dataSync() as Float32Array)),
    kernels: new Set(info.kernels.map((k) => k.name)),
  };
  tf.dispose([...xs, out!, w!, ...grads]);
  return result;
}

function relErr(a: Float32Array, b: Float32Array): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num = Math.max(num, Math.abs(a[i] - b[i]));
    den = Math.max(den, Math.abs(b[i]));
  }
  return num / Math.max(den, 1e-6);
}

const CASES: Case[] = [
  {
    name: 'matMul transposeA',
    shapes: [
      [7, 5],
      [7, 3],
    ],
    f: (tf, a, b) => tf.matMul(a, b, true, false),
    kernels: ['BatchMatMul'],
  },
  {
    name: 'matMul transposeB',
    shapes: [
      [5, 7],
      [3, 7],
    ],
    f: (tf, a, b) => tf.matMul(a, b, false, true),
    kernels: ['BatchMatMul'],
  },
  {
    name: 'batched matMul transposeA+B',
    shapes: [
      [2, 7, 5],
      [2, 3, 7],
    ],
    f: (tf, a, b) => tf.matMul(a, b, true, true),
    kernels: ['BatchMatMul'],
  },
  {
    name: 'fused matMul transposeB + bias + relu',
    shapes: [[6, 9], [4, 9], [4]],
    f: (tf, a, b, bias) => tf.fused.matMul({ a, b, transposeB: true, bias, activation: 'relu' }),
    kernels: ['_FusedMatMul'],
  },
  {
    name: 'fused matMul transposeA + bias',
    shapes: [[9, 6], [9, 4], [4]],
    f: (tf, a, b, bias) => tf.fused.matMul({ a, b, transposeA: true, bias }),
    kernels: ['_FusedMatMul'],
  },
  {
    name: 'gather (gradient = UnsortedSegmentSum)',
    shapes: [[6, 4]],
    f: (tf, x) => tf.gather(x, tf.tensor1d([0, 2, 2, 5, 1, 0, 0], 'int32')),
    kernels: ['UnsortedSegmentSum'],
  },
  {
    name: 'unsortedSegmentSum',
    shapes: [[5, 3]],
    f: (tf, x) => tf.unsortedSegmentSum(x, tf.tensor1d([2, 0, 2, 3, 0], 'int32'), 4),
    kernels: ['UnsortedSegmentSum'],
  },
  {
    name: 'conv2d stride 2 same (filter and input gradients)',
    shapes: [
      [2, 9, 8, 3],
      [3, 3, 3, 5],
    ],
    f: (tf, x, f) => tf.conv2d(x as never, f as never, 2, 'same'),
    kernels: ['Conv2DBackpropInput', 'Conv2DBackpropFilter'],
  },
  {
    name: 'conv2d stride 1 valid, 5x3 kernel',
    shapes: [
      [1, 8, 7, 2],
      [5, 3, 2, 4],
    ],
    f: (tf, x, f) => tf.conv2d(x as never, f as never, 1, 'valid'),
    kernels: ['Conv2DBackpropInput', 'Conv2DBackpropFilter'],
  },
  {
    name: 'conv2d explicit padding stride [2,1]',
    shapes: [
      [2, 7, 6, 3],
      [3, 2, 3, 2],
    ],
    f: (tf, x, f) =>
      tf.conv2d(
        x as never,
        f as never,
        [2, 1],
        [
          [0, 0],
          [1, 2],
          [0, 1],
          [0, 0],
        ],
      ),
    kernels: ['Conv2DBackpropInput', 'Conv2DBackpropFilter'],
  },
  {
    name: 'conv2dTranspose k4 s2 p1 (DCGAN doubling)',
    shapes: [
      [2, 4, 4, 6],
      [4, 4, 3, 6],
    ],
    f: (tf, x, f) => tf.conv2dTranspose(x as never, f as never, [2, 8, 8, 3], 2, 'same'),
    kernels: ['Conv2DBackpropInput'],
  },
  {
    name: 'depthwiseConv2d stride 2 same, multiplier 2',
    shapes: [
      [2, 9, 9, 3],
      [3, 3, 3, 2],
    ],
    f: (tf, x, f) => tf.depthwiseConv2d(x as never, f as never, 2, 'same'),
    kernels: ['DepthwiseConv2dNativeBackpropInput', 'DepthwiseConv2dNativeBackpropFilter'],
  },
  {
    name: 'depthwiseConv2d 5x3 valid, multiplier 1',
    shapes: [
      [1, 10, 9, 4],
      [5, 3, 4, 1],
    ],
    f: (tf, x, f) => tf.depthwiseConv2d(x as never, f as never, 1, 'valid'),
    kernels: ['DepthwiseConv2dNativeBackpropInput', 'DepthwiseConv2dNativeBackpropFilter'],
  },
  {
    name: 'maxPool 2x2 stride 2 (gradient = MaxPoolGrad)',
    shapes: [[2, 6, 6, 3]],
    f: (tf, x) => tf.maxPool(x as never, 2, 2, 'valid'),
    kernels: ['MaxPoolGrad'],
  },
  {
    name: 'slice of a vector (contiguous)',
    shapes: [[1000]],
    f: (tf, x) => tf.slice(x, [137], [400]),
    kernels: ['Slice'],
  },
  {
    name: 'split into uneven parts',
    shapes: [[50]],
    f: (tf, x) => tf.concat(tf.split(x, [7, 20, 23]).map((p, i) => tf.mul(p, i + 1))),
    kernels: ['SplitV'],
  },
  {
    name: 'split of a matrix along columns',
    shapes: [[6, 10]],
    f: (tf, x) =>
      tf.concat(
        tf.split(x, 2, 1).map((p, i) => tf.mul(p, i + 2)),
        0,
      ),
    kernels: ['SplitV'],
  },
  {
    name: 'slice of columns (2d)',
    shapes: [[9, 12]],
    f: (tf, x) => tf.slice(x, [2, 3], [5, 6]),
    kernels: ['Slice'],
  },
  {
    name: 'slice of whole rows (2d)',
    shapes: [[9, 12]],
    f: (tf, x) => tf.slice(x, [4, 0], [3, -1]),
    kernels: ['Slice'],
  },
  {
    name: 'slice 3d, middle axis',
    shapes: [[3, 8, 5]],
    f: (tf, x) => tf.slice(x, [1, 2, 0], [2, 4, 5]),
    kernels: ['Slice'],
  },
  {
    name: 'slice 5d',
    shapes: [[2, 3, 4, 3, 2]],
    f: (tf, x) => tf.slice(x, [1, 0, 1, 1, 0], [1, 3, 2, 2, 1]),
    kernels: ['Slice'],
  },
  {
    name: 'clone (Identity shares data)',
    shapes: [[4, 6]],
    f: (tf, x) =>
      tf.tidy(() => {
        const c = tf.clone(x);
        const y = tf.mul(c, c);
        c.dispose(); // releasing the clone must leave x readable
        return tf.add(y, x);
      }),
    kernels: ['Identity'],
  },
];

describe('wasm kernel patches against the cpu backend', () => {
  let tf: TfT;
  beforeAll(async () => {
    tf = await useBackend('wasm');
  });

  it('every patched kernel is covered', () => {
    const covered = new Set(CASES.flatMap((c) => c.kernels));
    for (const k of WASM_PATCHED_KERNELS) expect(covered.has(k)).toBe(true);
    for (const k of WASM_PATCHED_KERNELS) {
      // ours, not the stock kernel, is what runs
      expect(
        (tf.getKernel(k, 'wasm')?.kernelFunc as unknown as Record<string, boolean>).__promptgenPatched,
      ).toBe(true);
    }
  });

  it.each(CASES.map((c) => [c.name, c] as const))('%s', async (_n, c) => {
    await tf.setBackend('cpu');
    const ref = await evaluate(tf, c);
    await tf.setBackend('wasm');
    const before = tf.memory().numTensors;
    const got = await evaluate(tf, c);
    expect(tf.memory().numTensors).toBe(before);
    for (const k of c.kernels) expect(got.kernels.has(k)).toBe(true);
    const tol = c.tol ?? 1e-5;
    expect(got.value.length).toBe(ref.value.length);
    expect(relErr(got.value, ref.value)).toBeLessThan(tol);
    expect(got.grads.length).toBe(ref.grads.length);
    got.grads.forEach((g, i) => {
      expect(g.length).toBe(ref.grads[i].length);
      expect(relErr(g, ref.grads[i])).toBeLessThan(tol);
    });
  });
});
