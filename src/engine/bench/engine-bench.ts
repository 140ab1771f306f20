/**
 * Engine benchmark: the SPEC.md cases (../shared/bench/SPEC.md) with our engine.
 *
 *   npm run bench:engine -- [args]   (node dist/src/engine/bench/engine-bench.js)
 *   node dist/src/engine/bench/engine-bench.js [--compare] [--backend wasm|cpu|webgpu|auto|...]
 *        [--case mlp|conv|all] [--steps 20] [--warmup 5]
 *
 * Prints one JSON object per case (same keys as reference_step.py). With
 * --compare, also runs the PyTorch reference in the same run (when python3 with
 * torch is found) and prints ours/PyTorch ratios per case.
 */
import * as path from 'path';
import * as fs from 'fs';
import { spawnSync } from 'child_process';
import { initBackend, type BackendPreference } from '../backend';
import { Flow } from '../flow';
import { train } from '../trainer';
import { sampleImages } from '../sampler';
import { tapeIsRecording } from '../coupling';
import type { EnergyTerm } from '../objective';
import type { Tf, Tensor1D, Tensor2D, Tensor4D, GeneratorInstance } from '../../sdk/index';
import type { Tensor } from '@tensorflow/tfjs-core';

const D = 512;
const BLOCKS = 8;
const HIDDEN = 256;
const BATCH = 64;
const SAMPLE_BATCH = 256;

interface Args {
  compare: boolean;
  backend: BackendPreference;
  cases: ('mlp' | 'conv')[];
  steps: number;
  warmup: number;
}

function parseArgs(argv: string[]): Args {
  const a: Args = { compare: false, backend: 'wasm', cases: ['mlp', 'conv'], steps: 20, warmup: 5 };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    if (k === '--compare') a.compare = true;
    else if (k === '--backend') a.backend = argv[++i] as BackendPreference;
    else if (k === '--case') {
      const c = argv[++i];
      a.cases = c === 'all' ? ['mlp', 'conv'] : [c as 'mlp' | 'conv'];
    } else if (k === '--steps') a.steps = Number(argv[++i]);
    else if (k === '--warmup') a.warmup = Number(argv[++i]);
    else throw new Error(`unknown argument ${k}`);
  }
  return a;
}

/** Seeded uniform(-b, b) weights, like PyTorch's default Linear/Conv init (values differ; speed is what counts). */
function uniform(tf: Tf, shape: number[], bound: number, seed: number): Tensor {
  return tf.randomUniform(shape, -bound, bound, 'float32', seed);
}

type Act = 'linear' | 'relu' | 'sigmoid';

/**
 * A frozen Linear layer and its activation. While gradients are recorded:
 * plain matMul + add (+ activation), since the fused op's gradient would also
 * compute the weight gradients nobody needs. When sampling: one fused
 * matMul + bias + activation kernel (the sampling path, no extra tensors).
 */
function dense(tf: Tf, x: Tensor2D, w: Tensor, b: Tensor, activation: Act = 'linear'): Tensor2D {
  if (!tapeIsRecording()) return tf.fused.matMul({ a: x, b: w as Tensor2D, bias: b, activation }) as Tensor2D;
  const y = tf.add(tf.matMul(x, w as Tensor2D), b) as Tensor2D;
  return activation === 'relu' ? tf.relu(y) : activation === 'sigmoid' ? tf.sigmoid(y) : y;
}

function mlpCase(tf: Tf): { generator: GeneratorInstance; terms: EnergyTerm[]; dispose: () => void } {
  const w1 = uniform(tf, [D, 1024], 1 / Math.sqrt(D), 1);
  const b1 = uniform(tf, [1024], 1 / Math.sqrt(D), 2);
  const w2 = uniform(tf, [1024, 3072], 1 / Math.sqrt(1024), 3);
  const b2 = uniform(tf, [3072], 1 / Math.sqrt(1024), 4);
  const target = tf.randomUniform([1, 32, 32, 3], 0, 1, 'float32', 5);
  const generator: GeneratorInstance = {
    generate: (z) =>
      tf.tidy(
        () =>
          tf.reshape(dense(tf, dense(tf, z, w1, b1, 'relu'), w2, b2, 'sigmoid'), [
            z.shape[0],
            32,
            32,
            3,
          ]) as Tensor4D,
      ),
    dispose: () => undefined,
  };
  const term: EnergyTerm = {
    name: 'mse',
    weight: 1,
    energy: (images) =>
      tf.tidy(() => tf.mul(tf.mean(tf.squaredDifference(images, target), [1, 2, 3]), 100) as Tensor1D),
  };
  return { generator, terms: [term], dispose: () => tf.dispose([w1, b1, w2, b2, target]) };
}

function convCase(tf: Tf): { generator: GeneratorInstance; terms: EnergyTerm[]; dispose: () => void } {
  const keep: Tensor[] = [];
  const u = (shape: number[], fanIn: number, seed: number) => {
    const t = uniform(tf, shape, 1 / Math.sqrt(fanIn), seed);
    keep.push(t);
    return t;
  };
  const wd = u([D, 4 * 4 * 256], D, 10);
  const bd = u([4 * 4 * 256], D, 11);
  const chans = [256, 128, 64, 32, 3];
  // conv2dTranspose filters are [kh, kw, outC, inC]
  const ups = chans.slice(0, 4).map((cin, i) => ({
    f: u([4, 4, chans[i + 1], cin], cin * 16, 20 + i),
    b: u([chans[i + 1]], cin * 16, 30 + i),
  }));
  const convC = [3, 32, 64, 128];
  const convs = convC.slice(0, 3).map((cin, i) => ({
    f: u([3, 3, cin, convC[i + 1]], cin * 9, 40 + i),
    b: u([convC[i + 1]], cin * 9, 50 + i),
  }));
  const wh = u([8 * 8 * 128, 10], 8 * 8 * 128, 60);
  const bh = u([10], 8 * 8 * 128, 61);
  const generator: GeneratorInstance = {
    generate: (z) =>
      tf.tidy(() => {
        const n = z.shape[0];
        let x = tf.reshape(dense(tf, z, wd, bd, 'relu'), [n, 4, 4, 256]) as Tensor4D;
        ups.forEach((up, i) => {
          const h = x.shape[1] * 2;
          const y = tf.add(
            tf.conv2dTranspose(x, up.f as never, [n, h, h, chans[i + 1]], 2, 'same'),
            up.b,
          ) as Tensor4D;
          x = i === ups.length - 1 ? tf.sigmoid(y) : tf.relu(y);
        });
        return x;
      }),
    dispose: () => undefined,
  };
  const term: EnergyTerm = {
    name: 'classifier',
    weight: 1,
    energy: (images) =>
      tf.tidy(() => {
        let x: Tensor4D = images;
        for (const c of convs)
          x = tf.relu(
            tf.add(
              tf.conv2d(x, c.f as never, 2, [
                [0, 0],
                [1, 1],
                [1, 1],
                [0, 0],
              ]),
              c.b,
            ),
          ) as Tensor4D;
        const logits = dense(tf, tf.reshape(x, [x.shape[0], -1]) as Tensor2D, wh, bh);
        const lsm = tf.logSoftmax(logits);
        return tf.mul(tf.reshape(tf.slice(lsm, [0, 3], [-1, 1]), [-1]), -10) as Tensor1D;
      }),
  };
  return { generator, terms: [term], dispose: () => tf.dispose(keep) };
}

const median = (xs: number[]): number => {
  const s = xs.slice().sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
};

async function runCase(tf: Tf, backend: string, name: 'mlp' | 'conv', steps: number, warmup: number) {
  const c = name === 'mlp' ? mlpCase(tf) : convCase(tf);
  const flow = new Flow(tf, { dim: D, blocks: BLOCKS, hidden: HIDDEN, conditionDim: 0, seed: 0 });
  const stamps: number[] = [];
  let last = performance.now();
  await train({
    flow,
    generator: c.generator,
    terms: c.terms,
    steps: warmup + steps,
    batchSize: BATCH,
    seed: 0,
    progressEvery: 1,
    onProgress: () => {
      const now = performance.now();
      stamps.push(now - last);
      last = now;
    },
  });
  const stepMs = median(stamps.slice(warmup));
  const times: number[] = [];
  for (let i = 0; i < 7; i++) {
    const t = performance.now();
    await sampleImages({
      tf,
      flow,
      generator: c.generator,
      count: SAMPLE_BATCH,
      batchSize: SAMPLE_BATCH,
      seed: i,
    });
    if (i >= 2) times.push((performance.now() - t) / 1000);
  }
  flow.dispose();
  c.dispose();
  return {
    impl: `promptgen-tfjs-${backend}`,
    case: name,
    batch: BATCH,
    dim: D,
    blocks: BLOCKS,
    hidden: HIDDEN,
    train_step_ms_median: Math.round(stepMs * 100) / 100,
    sample_images_per_s: Math.round((SAMPLE_BATCH / median(times)) * 10) / 10,
  };
}

function findPythonWithTorch(): string | undefined {
  for (const py of ['/usr/bin/python3', 'python3']) {
    const r = spawnSync(py, ['-c', 'import torch'], { stdio: 'ignore' });
    if (r.status === 0) return py;
  }
  return undefined;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const { tf, backend, adapter } = await initBackend(args.backend, (m) => process.stderr.write(m + '\n'));
  if (adapter)
    console.log(
      JSON.stringify({
        adapter: {
          vendor: adapter.vendor,
          architecture: adapter.architecture,
          device: adapter.device,
          description: adapter.description,
          software: adapter.software,
        },
      }),
    );
  const ours: Record<string, { train_step_ms_median: number; sample_images_per_s: number }> = {};
  for (const name of args.cases) {
    const r = await runCase(tf, backend, name, args.steps, args.warmup);
    ours[name] = r;
    console.log(JSON.stringify(r));
  }
  if (!args.compare) return;
  // The repository root is the nearest folder above this file with a package.json; the reference sits in ../shared/bench.
  let root = __dirname;
  while (!fs.existsSync(path.join(root, 'package.json')) && path.dirname(root) !== root)
    root = path.dirname(root);
  const script = path.resolve(root, '..', 'shared', 'bench', 'reference_step.py');
  const py = findPythonWithTorch();
  if (!fs.existsSync(script) || !py) {
    console.log(
      JSON.stringify({
        compare: 'skipped',
        reason: !py ? 'no python3 with torch found' : `${script} not found`,
      }),
    );
    return;
  }
  const caseArg = args.cases.length === 2 ? 'all' : args.cases[0];
  const r = spawnSync(
    py,
    [script, '--case', caseArg, '--steps', String(args.steps), '--warmup', String(args.warmup)],
    { encoding: 'utf8' },
  );
  if (r.status !== 0) {
    console.log(JSON.stringify({ compare: 'failed', stderr: r.stderr.slice(-2000) }));
    return;
  }
  for (const line of r.stdout.split('\n').filter((l) => l.trim().startsWith('{'))) {
    console.log(line);
    const ref = JSON.parse(line) as {
      case: string;
      train_step_ms_median: number;
      sample_images_per_s: number;
    };
    const o = ours[ref.case];
    if (!o) continue;
    console.log(
      JSON.stringify({
        case: ref.case,
        ratio_train_step_ours_over_pytorch:
          Math.round((o.train_step_ms_median / ref.train_step_ms_median) * 100) / 100,
        ratio_sample_images_per_s_ours_over_pytorch:
          Math.round((o.sample_images_per_s / ref.sample_images_per_s) * 100) / 100,
      }),
    );
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
