/**
 * The OpenBLAS matmul kernels on the wasm heap give the cpu backend's values
 * and gradients (transposes, batch broadcasting, fused bias and activations).
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { initBackend } from '../../src/engine/backend';
import { NATIVE_BLAS_KERNELS } from '../../src/engine/kernels/index';
import * as os from 'node:os';
import {
  blasThreads,
  loadNativeBlas,
  nativeBlasStats,
  nativeBlasStatus,
  shareBlasCores,
} from '../../src/engine/kernels/native-blas';
import { Flow } from '../../src/engine/flow';
import { train } from '../../src/engine/trainer';
import type { Tensor2D, Tensor4D } from '../../src/sdk/index';
import { optionalPart } from '../helpers/optional';

// The addon is built by `npm ci` (native/build.js) and OpenBLAS installed by .ci/run.
const loaded = loadNativeBlas();
const blas = optionalPart('the native BLAS tests', loaded ? null : nativeBlasStatus) ? loaded : null;

function rand(shape: number[], seed: number): Float32Array {
  const n = shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (s * 1103515245 + 12345) % 2147483648;
    out[i] = (s / 2147483648) * 2 - 1;
  }
  return out;
}

type Case = {
  name: string;
  a: number[];
  b: number[];
  ta: boolean;
  tb: boolean;
  bias?: number[];
  activation?: 'relu' | 'leakyrelu' | 'sigmoid';
  noGrad?: boolean;
};
const CASES: Case[] = [
  { name: 'plain', a: [1, 33, 17], b: [1, 17, 9], ta: false, tb: false },
  { name: 'transposeA', a: [1, 17, 33], b: [1, 17, 9], ta: true, tb: false },
  { name: 'transposeB', a: [1, 33, 17], b: [1, 9, 17], ta: false, tb: true },
  { name: 'both, batched', a: [3, 17, 33], b: [3, 9, 17], ta: true, tb: true },
  // TF.js's own matMul gradient rejects a broadcast batch on every backend: values only.
  { name: 'broadcast batch of b', a: [4, 5, 6], b: [1, 6, 7], ta: false, tb: false, noGrad: true },
  {
    name: 'fused bias + relu',
    a: [1, 8, 16],
    b: [1, 12, 16],
    ta: false,
    tb: true,
    bias: [12],
    activation: 'relu',
  },
  {
    name: 'fused bias + leakyrelu',
    a: [1, 8, 16],
    b: [1, 16, 12],
    ta: false,
    tb: false,
    bias: [12],
    activation: 'leakyrelu',
  },
  {
    name: 'fused sigmoid, no bias',
    a: [1, 8, 16],
    b: [1, 16, 12],
    ta: false,
    tb: false,
    activation: 'sigmoid',
  },
];

function run(c: Case, backend: string) {
  return tf.tidy(() => {
    const a = tf.tensor3d(rand(c.a, 1), c.a as [number, number, number]);
    const b = tf.tensor3d(rand(c.b, 2), c.b as [number, number, number]);
    const bias = c.bias ? tf.tensor1d(rand(c.bias, 3)) : undefined;
    const f = (x: tf.Tensor, y: tf.Tensor) =>
      c.bias || c.activation
        ? tf.fused.matMul({
            a: x as tf.Tensor3D,
            b: y as tf.Tensor3D,
            transposeA: c.ta,
            transposeB: c.tb,
            bias,
            activation: c.activation,
          })
        : tf.matMul(x, y, c.ta, c.tb);
    const value = f(a, b);
    if (c.noGrad) return { backend, value: value.arraySync(), ga: [0], gb: [0] };
    const [ga, gb] = tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.mul(f(x, y), f(x, y))))([a, b]);
    return { backend, value: value.arraySync(), ga: ga!.arraySync(), gb: gb!.arraySync() };
  });
}

function maxDiff(x: unknown, y: unknown): number {
  const fx = (x as number[]).flat(Infinity) as number[];
  const fy = (y as number[]).flat(Infinity) as number[];
  return Math.max(...fx.map((v, i) => Math.abs(v - fy[i]!)));
}

(blas ? describe : describe.skip)('native BLAS matmul on the wasm heap', () => {
  beforeAll(async () => {
    await initBackend('wasm');
  });

  it.each(CASES.map((c) => [c.name, c] as const))(
    '%s: values and gradients match the cpu backend',
    async (_name, c) => {
      await tf.setBackend('cpu');
      const cpu = run(c, 'cpu');
      await tf.setBackend('wasm');
      const wasm = run(c, 'wasm');
      expect(maxDiff(wasm.value, cpu.value)).toBeLessThan(1e-4);
      expect(maxDiff(wasm.ga, cpu.ga)).toBeLessThan(1e-3);
      expect(maxDiff(wasm.gb, cpu.gb)).toBeLessThan(1e-3);
    },
  );

  it('shares the cores unless PROMPTGEN_BLAS_THREADS fixes a count', () => {
    expect(blasThreads({})).toBeNull();
    expect(blasThreads({ PROMPTGEN_BLAS_THREADS: '2' })).toBe(2);
    expect(() => blasThreads({ PROMPTGEN_BLAS_THREADS: 'many' })).toThrow(
      /PROMPTGEN_BLAS_THREADS must be an integer/,
    );
    if (process.env.PROMPTGEN_BLAS_THREADS === undefined)
      expect(nativeBlasStatus).toMatch(/cores shared by the running trainings\)$/);
  });

  const shared =
    process.env.PROMPTGEN_BLAS_THREADS === undefined && !!blas?.shareCores && !!blas.threadCount?.();
  (shared ? it : it.skip)(
    'gives one training every core and N trainings ⌊cores / N⌋ each, process-wide',
    () => {
      const cores = os.availableParallelism();
      const share = (n: number) => Math.max(1, Math.floor(cores / n));
      const first = shareBlasCores('wasm');
      expect(blas!.threadCount!()).toBe(share(1));
      const second = shareBlasCores('cpu');
      expect(blas!.threadCount!()).toBe(share(2));
      const gpu = shareBlasCores('webgpu'); // its products do not run on OpenBLAS: takes no share
      expect(blas!.threadCount!()).toBe(share(2));
      second();
      second(); // releasing twice counts once
      expect(blas!.threadCount!()).toBe(share(1));
      first();
      gpu();
      expect(blas!.threadCount!()).toBe(share(1)); // nothing running: a lone product (sampling) may use every core
      expect(() => blas!.shareCores!(2, cores)).toThrow(/shareCores/);
      expect(() => blas!.shareCores!(1, 0)).toThrow(/shareCores/);
    },
  );

  (shared ? it : it.skip)(
    'train() holds a share while it runs: two at once run on half the cores each',
    async () => {
      await tf.setBackend('wasm');
      const cores = os.availableParallelism();
      const seen: number[][] = [[], []];
      const run = async (i: number) => {
        const flow = new Flow(tf as never, { dim: 4, blocks: 2, hidden: 8, conditionDim: 0, seed: i });
        const generator = {
          generate: (z: Tensor2D) => tf.reshape(z, [z.shape[0], 1, 1, 4]) as Tensor4D,
          dispose() {},
        };
        const term = {
          name: 'zero',
          weight: 1,
          energy: (x: Tensor4D) => tf.sum(tf.square(x), [1, 2, 3]) as never,
        };
        await train({
          flow,
          generator,
          terms: [term],
          steps: 6,
          batchSize: 8,
          seed: i,
          progressEvery: 1,
          onProgress: () => void seen[i]!.push(blas!.threadCount!()),
        });
        flow.dispose();
      };
      await Promise.all([run(0), run(1)]);
      // both loops interleave step by step: while both run, each sees the halved count
      expect(seen[0]).toContain(Math.max(1, Math.floor(cores / 2)));
      expect(seen[1]).toContain(Math.max(1, Math.floor(cores / 2)));
      expect(blas!.threadCount!()).toBe(cores); // released when they ended
    },
  );

  it('is the kernel the wasm backend runs, and leaks no tensors', async () => {
    await tf.setBackend('wasm');
    const calls = nativeBlasStats.calls;
    const before = tf.memory().numTensors;
    run(CASES[0]!, 'wasm');
    expect(nativeBlasStats.calls).toBeGreaterThan(calls); // forward and both gradients
    expect(tf.memory().numTensors).toBe(before);
  });
});

type ConvCase = {
  name: string;
  x: [number, number, number, number];
  f: [number, number, number, number];
  op: (x: tf.Tensor4D, f: tf.Tensor4D, bias: tf.Tensor1D) => tf.Tensor;
  kernels: string[];
  /** TF.js has no gradient for dilated conv2d on any backend: values only. */
  noGrad?: boolean;
};
const CONV_CASES: ConvCase[] = [
  {
    name: 'conv2d 3x3 stride 1 same',
    x: [2, 7, 6, 5],
    f: [3, 3, 5, 4],
    op: (x, f) => tf.conv2d(x, f, 1, 'same'),
    kernels: ['Conv2D', 'Conv2DBackpropInput'],
  },
  {
    name: 'conv2d 3x3 stride 2, explicit padding (the benchmark classifier)',
    x: [2, 9, 9, 3],
    f: [3, 3, 3, 8],
    op: (x, f) =>
      tf.conv2d(x, f, 2, [
        [0, 0],
        [1, 1],
        [1, 1],
        [0, 0],
      ]),
    kernels: ['Conv2D', 'Conv2DBackpropInput'],
  },
  {
    name: 'conv2d 5x3 valid, stride [2,1]',
    x: [1, 11, 8, 17],
    f: [5, 3, 17, 6],
    op: (x, f) => tf.conv2d(x, f, [2, 1], 'valid'),
    kernels: ['Conv2D', 'Conv2DBackpropInput'],
  },
  {
    name: 'conv2d dilation 2',
    x: [1, 9, 9, 4],
    f: [3, 3, 4, 3],
    op: (x, f) => tf.conv2d(x, f, 1, 'same', 'NHWC', 2),
    kernels: ['Conv2D'],
    noGrad: true,
  },
  {
    name: 'fused conv2d + bias + relu',
    x: [2, 8, 8, 3],
    f: [3, 3, 3, 5],
    op: (x, f, bias) =>
      tf.fused.conv2d({
        x,
        filter: f,
        strides: 1,
        pad: 'same',
        bias: tf.slice(bias, 0, 5),
        activation: 'relu',
      }),
    kernels: ['FusedConv2D'],
  },
  {
    name: 'conv2dTranspose k4 s2 same (DCGAN doubling)',
    x: [2, 4, 4, 16],
    f: [4, 4, 8, 16],
    op: (x, f) => tf.conv2dTranspose(x, f, [2, 8, 8, 8], 2, 'same'),
    kernels: ['Conv2DBackpropInput', 'Conv2D'],
  },
  {
    name: 'conv2dTranspose k3 s2 valid',
    x: [1, 5, 4, 6],
    f: [3, 3, 2, 6],
    op: (x, f) => tf.conv2dTranspose(x, f, [1, 11, 9, 2], 2, 'valid'),
    kernels: ['Conv2DBackpropInput', 'Conv2D'],
  },
];

function runConv(c: ConvCase) {
  return tf.tidy(() => {
    const x = tf.tensor4d(rand(c.x, 11), c.x);
    const f = tf.tensor4d(rand(c.f, 12), c.f);
    const bias = tf.tensor1d(rand([16], 13));
    const value = c.op(x, f, bias);
    const w = tf.tensor(rand(value.shape, 14), value.shape);
    if (c.noGrad) return { value: value.arraySync(), gx: [0] };
    // gradient w.r.t. the input only: generators and classifiers are frozen
    const gx = tf.grad((xx: tf.Tensor) => tf.sum(tf.mul(c.op(xx as tf.Tensor4D, f, bias), w)))(x);
    return { value: value.arraySync(), gx: gx.arraySync() };
  });
}

(blas ? describe : describe.skip)('native BLAS convolutions on the wasm heap', () => {
  beforeAll(async () => {
    await initBackend('wasm');
  });

  it.each(CONV_CASES.map((c) => [c.name, c] as const))(
    '%s: values and input gradients match the cpu backend',
    async (_name, c) => {
      await tf.setBackend('cpu');
      const cpu = runConv(c);
      await tf.setBackend('wasm');
      const before = tf.memory().numTensors;
      const profile = await tf.profile(() => {
        runConv(c);
      });
      for (const k of c.kernels) expect(profile.kernelNames).toContain(k);
      expect(tf.memory().numTensors).toBe(before);
      const wasm = runConv(c);
      expect(maxDiff(wasm.value, cpu.value)).toBeLessThan(1e-4);
      expect(maxDiff(wasm.gx, cpu.gx)).toBeLessThan(1e-4);
    },
  );

  it('the conv kernels that run are ours', () => {
    for (const k of [...NATIVE_BLAS_KERNELS, 'Conv2DBackpropInput']) {
      expect(
        (tf.getKernel(k, 'wasm')?.kernelFunc as unknown as Record<string, boolean>).__promptgenPatched,
      ).toBe(true);
    }
  });
});
