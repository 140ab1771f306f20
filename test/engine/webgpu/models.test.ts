/**
 * Every built-in plugin on webgpu against cpu, whole: the mnist generator, the
 * mnist-digit classifier through the controls plugin's `classifier` (with
 * balance: observe() runs on webgpu) and `debias` (calibrate() too), clip-text
 * (on the small CLIP-shaped fixture encoders of test/plugins/clip), each face-api
 * energy, and a tfjs-model manifest generator (../shared's Quick, Draw! CVAE).
 * For each: the output and its gradient w.r.t. the input (z or images) agree
 * with the cpu backend; the kernels each ran are listed in the log.
 */
import * as os from 'os';
import * as path from 'path';
import type { Tensor } from '@tensorflow/tfjs-core';
import { loadPluginPackage } from '../../../src/plugins/loader';
import { PluginRegistry, type PluginRuntime } from '../../../src/plugins/registry';
import { sampleBase } from '../../../src/engine/sampler';
import { Rng } from '../../../src/engine/rng';
import type { ControlInstance, GeneratorInfo, GeneratorInstance, Tf } from '../../../src/sdk/index';
import { silentLogger, tmpDir, writePackage } from '../../plugins/helpers';
import { writeClipFixture, type ClipFixture } from '../../plugins/clip/helpers';
import { crop } from '../../plugins/face-api/helpers';
import { requireShared, sharedDir } from '../../helpers/shared';
import { relErr, relL2, use, webgpuReady } from './helpers';

// The fixtures live in temp dirs and ../shared: allowed as an admin would (README, "Security").
const TEST_ASSETS = { dirs: [os.tmpdir(), sharedDir], urlPrefixes: [] };

const PLUGINS = path.resolve(__dirname, '..', '..', '..', 'plugins');

interface Outcome {
  value: number[];
  grad: number[];
  kernels: string[];
  extra?: unknown;
  fd?: { finiteDifference: number; gradNorm: number };
}

interface Case {
  name: string;
  /** Input shape and values (same JS array on both backends). */
  input: () => { shape: number[]; data: Float32Array };
  /** Loads what the case needs on the active backend; returns f(input) and a disposer. */
  setup: (
    tf: Tf,
    rt: PluginRuntime,
    reg: PluginRegistry,
  ) => Promise<{ f: (x: Tensor) => Tensor; after?: () => Promise<unknown>; dispose: () => void }>;
  tol?: number;
  /** Relative L2 error of the input gradient (default 10 × tol). */
  gradTol?: number;
  /**
   * Nets with max-pooling over flat image regions meet exact ties, where any
   * tied input is a valid subgradient and cpu and webgpu route differently; the
   * webgpu gradient is then also checked against finite differences along it.
   */
  ties?: boolean;
  /** The energy is flat in the input here (only its state is compared). */
  zeroGrad?: boolean;
}

const gradErrors: Record<string, { maxNorm: number; l2: number }> = {};

/** One registry per backend: a registry caches loaded models, whose tensors must not cross backends. */
const regs: Partial<Record<'cpu' | 'webgpu', PluginRegistry>> = {};
let reg: PluginRegistry;
let clipFx: ClipFixture | undefined;
let skip = false;
const kernelLog: Record<string, string[]> = {};

const normals = (seed: number, n: number, scale = 1) =>
  Float32Array.from(new Rng(seed).normals(n), (v) => v * scale);
const uniforms = (seed: number, n: number) => {
  const u = new Rng(seed).uniform();
  return Float32Array.from({ length: n }, () => u());
};

async function mnist(rt: PluginRuntime): Promise<{ g: GeneratorInstance; info: GeneratorInfo }> {
  const def = reg.generator('mnist')!.definition;
  const g = await reg.loadGenerator('mnist', rt);
  return { g, info: { name: 'mnist', latentDim: def.latentDim, output: def.output } };
}

/** Energy of G(z) w.r.t. z for a control on the mnist generator. */
function throughMnist(
  params: () => [string, unknown],
  opts: { calibrate?: boolean; observe?: boolean } = {},
): Case['setup'] {
  return async (tf, rt) => {
    const { g, info } = await mnist(rt);
    const [name, p] = params();
    const c: ControlInstance = await reg.loadControl(name, p, info, rt, { cache: false });
    if (opts.calibrate) await c.calibrate!((n) => sampleBase(g, n, 5, { tf, latentDim: info.latentDim }));
    const extras = (x: Tensor) => ({ z: x as never });
    return {
      f: (x) => c.energy(g.generate(x as never), extras(x)),
      after: async () => {
        if (opts.observe) {
          const imgs = tf.tidy(() =>
            g.generate(tf.tensor2d(normals(9, 8 * info.latentDim), [8, info.latentDim])),
          );
          await c.observe!(imgs);
          imgs.dispose();
        }
        return { calibration: c.calibrationState?.(), training: c.trainingState?.() };
      },
      dispose: () => c.dispose(), // the registry owns (and caches) the generator
    };
  };
}

const faceCase = (
  control: string,
  params: unknown,
  extra?: (tf: Tf) => Record<string, Tensor>,
  ties = false,
): Case => ({
  ties,
  gradTol: ties ? 5e-2 : undefined,
  name: `face-api ${control}`,
  input: () => ({ shape: [1, 64, 64, 3], data: Float32Array.from(faceCrop) }),
  setup: async (tf, rt) => {
    const c = await reg.loadControl(
      control,
      params,
      { name: 'face', latentDim: 8, output: { width: 64, height: 64, channels: 3 } },
      rt,
      { cache: false },
    );
    const ex = { z: tf.zeros([1, 8]), ...(extra ? extra(tf) : {}) };
    return {
      f: (x) => c.energy(x as never, ex as never),
      dispose: () => {
        c.dispose();
        tf.dispose(Object.values(ex));
      },
    };
  },
  tol: 1e-4,
});

let faceCrop: Float32Array;
let faceCropB: Float32Array;

const CASES: Case[] = [
  {
    name: 'mnist generator',
    input: () => ({ shape: [4, 64], data: normals(1, 256) }),
    setup: async (tf, rt) => {
      const { g, info } = await mnist(rt);
      expect(info.latentDim).toBe(64);
      const w = tf.tensor(normals(2, 4 * info.output.width * info.output.height * info.output.channels), [
        4,
        info.output.height,
        info.output.width,
        info.output.channels,
      ]);
      return { f: (x) => tf.sum(tf.mul(g.generate(x as never), w), [1, 2, 3]), dispose: () => w.dispose() }; // the registry owns (and caches) the generator
    },
  },
  {
    name: 'classifier mnist-digit [7] on G(z)',
    input: () => ({ shape: [4, 64], data: normals(3, 256) }),
    setup: throughMnist(() => ['classifier', { targets: [{ classifier: 'mnist-digit', classes: [7] }] }]),
  },
  {
    name: 'classifier balanced [3, 8] + observe()',
    input: () => ({ shape: [4, 64], data: normals(4, 256) }),
    setup: throughMnist(() => ['classifier', { targets: [{ classifier: 'mnist-digit', classes: [3, 8] }] }], {
      observe: true,
    }),
  },
  {
    name: 'debias (calibrate on 32 base samples, adaptive)',
    input: () => ({ shape: [4, 64], data: normals(5, 256) }),
    setup: throughMnist(
      () => [
        'debias',
        {
          attributes: [{ classifier: 'mnist-digit', classes: [3, 8] }],
          samples: 32,
          iterations: 50,
          adaptive: true,
        },
      ],
      { calibrate: true, observe: true },
    ),
    tol: 1e-4,
    zeroGrad: true,
  },
  {
    name: 'clip-text (conv image encoder, 2 augmentations)',
    input: () => ({ shape: [2, 32, 32, 3], data: uniforms(6, 2 * 32 * 32 * 3) }),
    setup: async (tf, rt) => {
      const def = reg.control('clip-text')!.definition;
      const ctx = reg.createContext(
        { name: '@promptgen/clip', dir: path.join(PLUGINS, 'clip') },
        tf,
        rt.backend,
        silentLogger,
      );
      const c = await def.load(
        ctx,
        {
          text: 'a bright photo',
          imageEncoder: clipFx!.imageEncoder,
          textEncoder: clipFx!.textEncoder,
          vocabulary: clipFx!.vocabulary,
          inputSize: clipFx!.inputSize,
          augmentations: 2,
          seed: 1,
        },
        { name: 'toy', latentDim: 4, output: { width: 32, height: 32, channels: 3 } },
      );
      return { f: (x) => c.energy(x as never, { z: null as never }), dispose: () => c.dispose() };
    },
    tol: 1e-4,
  },
  faceCase('face-expression', { expression: 'happy' }),
  // augment off: a finite difference needs the same energy function on every call (augmentations draw anew each call)
  faceCase('face-age', { min: 40, max: 50, augment: { copies: 0 } }, undefined, true),
  faceCase('face-gender', { target: 'male', augment: { copies: 0 } }, undefined, true),
  faceCase('face-pose', {}, (tf) => ({ condition: tf.tensor2d([[10 / 45, -5 / 45, 3 / 45]]) })),
  faceCase('face-identity', {}, (tf) => ({ pairImages: tf.tensor4d(faceCropB, [1, 64, 64, 3]) }), true),
  {
    name: 'tfjs-model: Quick, Draw! CVAE decoder (layers model, softmax input transform)',
    input: () => ({ shape: [3, 67], data: normals(8, 3 * 67) }),
    setup: async (tf, rt) => {
      const g = await reg.loadGenerator('quickdraw', rt);
      const w = tf.tensor(normals(10, 3 * 28 * 28), [3, 28, 28, 1]);
      return { f: (x) => tf.sum(tf.mul(g.generate(x as never), w), [1, 2, 3]), dispose: () => w.dispose() }; // the registry owns (and caches) the generator
    },
    tol: 1e-4,
  },
];

beforeAll(async () => {
  skip = (await webgpuReady()) === null;
  if (skip) return;
  const tf = await use('cpu');
  const quickdraw = requireShared('models/quickdraw-cvae/models/model.json');
  for (const backend of ['cpu', 'webgpu'] as const) {
    const r = (regs[backend] = new PluginRegistry({ logger: silentLogger, assets: TEST_ASSETS }));
    for (const dir of ['tfjs-model', 'mnist', 'controls', 'clip', 'face-api']) {
      const p = r.add(await loadPluginPackage(path.join(PLUGINS, dir), { source: 'BUILTIN' }));
      if (p.status !== 'LOADED') throw new Error(`plugin ${dir} failed: ${p.error}`);
    }
    if (quickdraw) {
      const dir = writePackage(path.join(tmpDir('webgpu-qd'), 'quickdraw'), {
        name: 'promptgen-quickdraw',
        version: '1.0.0',
        promptgen: {
          apiVersion: 1,
          models: [
            {
              kind: 'generator',
              name: 'quickdraw',
              title: 'Quick, Draw!',
              model: quickdraw,
              format: 'layers',
              latentDim: 67,
              inputs: [
                { name: 'latent_input', from: [0, 16] },
                { name: 'label', from: [16, 67], transform: 'softmax' },
              ],
              output: { width: 28, height: 28, channels: 1, layout: 'NHWC', range: [0, 1] },
            },
          ],
        },
      });
      r.add(await loadPluginPackage(dir, { source: 'INSTALLED' }));
    }
  }
  reg = regs.cpu!;
  clipFx = await writeClipFixture(tf, tmpDir('webgpu-clip'), 16);
  faceCrop = Float32Array.from(
    await tf.tidy(() => tf.image.resizeBilinear(crop(tf, 'a', 0, 0), [64, 64])).data(),
  );
  faceCropB = Float32Array.from(
    await tf.tidy(() => tf.image.resizeBilinear(crop(tf, 'a', 9, 6), [64, 64])).data(),
  );
}, 300_000);

afterAll(async () => {
  if (!skip) {
    await regs.cpu?.dispose();
    await regs.webgpu?.dispose();
    console.log(
      `input-gradient error webgpu vs cpu (max-norm relative, L2 relative):\n${Object.entries(gradErrors)
        .map(([k, v]) => `  ${k}: ${v.maxNorm.toExponential(2)}, ${v.l2.toExponential(2)}`)
        .join('\n')}`,
    );
    console.log(
      `kernels run per model on webgpu:\n${Object.entries(kernelLog)
        .map(([k, v]) => `  ${k}: ${v.join(' ')}`)
        .join('\n')}`,
    );
  }
});

async function run(backend: 'cpu' | 'webgpu', c: Case): Promise<Outcome> {
  const tf = await use(backend);
  reg = regs[backend]!;
  const rt: PluginRuntime = { tf, backend, logger: silentLogger };
  const s = await c.setup(tf, rt, reg);
  const { shape, data } = c.input();
  const x = tf.tensor(data, shape);
  let value: Tensor | undefined;
  let grad: Tensor | undefined;
  const prof = await tf.profile(() => {
    value = tf.tidy(() => s.f(x));
    grad = tf.grad((v: Tensor) => tf.sum(s.f(v)))(x);
    return [value, grad];
  });
  const out: Outcome = {
    value: Array.from(await value!.data()),
    grad: Array.from(await grad!.data()),
    kernels: [...new Set(prof.kernels.map((k) => k.name))].sort(),
  };
  out.extra = s.after ? await s.after() : undefined;
  if (c.ties) {
    // directional derivative along the gradient: (E(x + h·u) − E(x − h·u)) / 2h against |∇E|
    const h = 3e-3;
    const gn = Math.sqrt((await tf.sum(tf.square(grad!)).data())[0]);
    const u = tf.div(grad!, gn);
    const ep = (await tf.sum(s.f(tf.add(x, tf.mul(u, h)))).data())[0];
    const em = (await tf.sum(s.f(tf.sub(x, tf.mul(u, h)))).data())[0];
    out.fd = { finiteDifference: (ep - em) / (2 * h), gradNorm: gn };
  }
  tf.dispose([x, value!, grad!]);
  s.dispose();
  return out;
}

function flatten(v: unknown): number[] {
  if (typeof v === 'number') return [v];
  if (Array.isArray(v)) return v.flatMap(flatten);
  if (v && typeof v === 'object') return Object.values(v).flatMap(flatten);
  return [];
}

describe('built-in models on webgpu against cpu: output and input gradient', () => {
  test.each(CASES.map((c) => [c.name, c] as const))(
    '%s',
    async (name, c) => {
      if (skip) return;
      if (name.startsWith('tfjs-model') && !reg.generator('quickdraw')) return; // requireShared already failed under CI
      const ref = await run('cpu', c);
      const got = await run('webgpu', c);
      kernelLog[name] = got.kernels;
      const tol = c.tol ?? 2e-5;
      expect(got.value.length).toBeGreaterThan(0);
      expect(relErr(got.value, ref.value)).toBeLessThan(tol);
      const l2 = relL2(got.grad, ref.grad);
      gradErrors[name] = { maxNorm: relErr(got.grad, ref.grad), l2 };
      expect(l2).toBeLessThan(c.gradTol ?? tol * 10);
      if (!c.zeroGrad) expect(flatten(ref.grad).some((g) => g !== 0)).toBe(true); // a gradient that can fail
      if (c.ties)
        expect(Math.abs(got.fd!.finiteDifference - got.fd!.gradNorm)).toBeLessThan(0.02 * got.fd!.gradNorm);
      if (ref.extra !== undefined)
        expect(relErr(flatten(got.extra), flatten(ref.extra))).toBeLessThan(tol * 10);
    },
    300_000,
  );
});
