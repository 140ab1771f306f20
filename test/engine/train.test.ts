import { Flow } from '../../src/engine/flow';
import { train, type TrainProgress } from '../../src/engine/trainer';
import type { EnergyTerm } from '../../src/engine/objective';
import type { Tensor1D, Tensor2D, Tensor4D } from '../../src/sdk/index';
import { BACKENDS, useBackend } from './helpers';

type TfT = Awaited<ReturnType<typeof useBackend>>;

/** G(z) = z as a [n, 1, 1, d] "image". */
function identityGenerator(tf: TfT, d: number) {
  return {
    latentDim: d,
    generate: (z: Tensor2D) => tf.reshape(z, [z.shape[0], 1, 1, d]) as Tensor4D,
    dispose() {},
  };
}

function flat(tf: TfT, images: Tensor4D): Tensor2D {
  return tf.reshape(images, [images.shape[0], -1]) as Tensor2D;
}

function stats(data: Float32Array, n: number, d: number) {
  const mean = new Array(d).fill(0);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) mean[j] += data[i * d + j] / n;
  const cov = Array.from({ length: d }, () => new Array(d).fill(0));
  for (let i = 0; i < n; i++)
    for (let a = 0; a < d; a++)
      for (let b = 0; b < d; b++)
        cov[a][b] += ((data[i * d + a] - mean[a]) * (data[i * d + b] - mean[b])) / (n - 1);
  return { mean, cov };
}

describe.each(BACKENDS)('training on %s', (backend) => {
  let tf: TfT;
  beforeAll(async () => {
    tf = await useBackend(backend);
  });
  beforeEach(async () => {
    await tf.setBackend(backend);
  });

  it('Gaussian target: identity G, E = (λ/2)‖z − m‖² gives N(λm/(1+λ), I/(1+λ))', async () => {
    const d = 4;
    const lambda = 3;
    const m = [2, -1, 0, 1];
    const G = identityGenerator(tf, d);
    const mT = tf.tensor2d(m, [1, d]);
    const term: EnergyTerm = {
      name: 'quadratic',
      weight: lambda,
      energy: (images) =>
        tf.tidy(() => tf.mul(tf.sum(tf.square(tf.sub(flat(tf, images), mT)), 1), 0.5) as Tensor1D),
    };
    const flow = new Flow(tf, { dim: d, blocks: 2, hidden: 16, conditionDim: 0, seed: 1 });
    const res = await train({
      flow,
      generator: G,
      terms: [term],
      steps: 200,
      batchSize: 64,
      seed: 7,
      learningRate: 2e-2,
    });
    expect(res.cancelled).toBe(false);
    expect(res.step).toBe(200);
    const n = 4000;
    const eps = tf.randomNormal([n, d], 0, 1, 'float32', 5) as Tensor2D;
    const { z, logDet } = flow.forward(eps);
    const s = stats(z.dataSync() as Float32Array, n, d);
    tf.dispose([eps, z, logDet, mT]);
    for (let j = 0; j < d; j++) {
      expect(Math.abs(s.mean[j] - (lambda * m[j]) / (1 + lambda))).toBeLessThan(0.08);
      for (let k = 0; k < d; k++) {
        const target = j === k ? 1 / (1 + lambda) : 0;
        expect(Math.abs(s.cov[j][k] - target)).toBeLessThan(0.05);
      }
    }
    flow.dispose();
  });

  it('two-mode target: the trained flow puts 35–65 % of the samples in each mode', async () => {
    const d = 2;
    const mu = 1.5;
    const sigma = 0.6;
    const G = identityGenerator(tf, d);
    // p(z) ∝ N(z; 0, I) exp(−E(z)) = ½N((μ,0), σ²I) + ½N((−μ,0), σ²I)
    const term: EnergyTerm = {
      name: 'two-modes',
      weight: 1,
      energy: (images) =>
        tf.tidy(() => {
          const z = flat(tf, images);
          const x0 = tf.slice(z, [0, 0], [-1, 1]);
          const x1 = tf.slice(z, [0, 1], [-1, 1]);
          const q = (c: number) =>
            tf.div(tf.add(tf.square(tf.sub(x0, c)), tf.square(x1)), -2 * sigma * sigma);
          const logMix = tf.logSumExp(tf.concat([q(mu), q(-mu)], 1), 1);
          return tf.sub(tf.mul(tf.sum(tf.square(z), 1), 0.5), logMix) as Tensor1D;
        }),
    };
    const flow = new Flow(tf, { dim: d, blocks: 4, hidden: 16, conditionDim: 0, seed: 3 });
    await train({
      flow,
      generator: G,
      terms: [term],
      steps: 250,
      batchSize: 64,
      seed: 3,
      learningRate: 1e-2,
    });
    const n = 4000;
    const eps = tf.randomNormal([n, d], 0, 1, 'float32', 9) as Tensor2D;
    const { z, logDet } = flow.forward(eps);
    const zd = z.dataSync();
    let right = 0;
    let nearMode = 0;
    for (let i = 0; i < n; i++) {
      if (zd[i * 2] > 0) right++;
      if (Math.abs(Math.abs(zd[i * 2]) - mu) < 3 * sigma * 0.8 && Math.abs(zd[i * 2 + 1]) < 3 * sigma)
        nearMode++;
    }
    tf.dispose([eps, z, logDet]);
    flow.dispose();
    expect(right / n).toBeGreaterThan(0.35);
    expect(right / n).toBeLessThan(0.65);
    expect(nearMode / n).toBeGreaterThan(0.85);
  });

  const quadTerm = (tf: TfT): EnergyTerm => ({
    name: 'quad',
    weight: 2,
    energy: (images) => tf.tidy(() => tf.sum(tf.square(tf.sub(flat(tf, images), 1)), 1) as Tensor1D),
  });

  /**
   * A term that adapts to the training batches (like the controls' online moment
   * matching): E = ‖x − c‖², c ← c + ½(batch mean − c) after every step. Its state
   * travels in checkpoints, so a resumed run must continue with the same c.
   */
  const adaptiveTerm = (seen: number[][]): EnergyTerm => {
    let c = 0;
    return {
      name: 'adaptive',
      weight: 0.5,
      energy: (images) => tf.tidy(() => tf.sum(tf.square(tf.sub(flat(tf, images), c)), 1) as Tensor1D),
      observe: (images) => {
        seen.push(images.shape.slice());
        c += 0.5 * ((tf.tidy(() => tf.mean(images)).dataSync()[0] as number) - c);
      },
      state: () => ({ c }),
      restore: (s) => {
        c = (s as { c: number }).c;
      },
    };
  };

  it('same seed gives the same loss trajectory; resume from a checkpoint gives the same final weights', async () => {
    const d = 6;
    const G = identityGenerator(tf, d);
    const cfg = { dim: d, blocks: 3, hidden: 16, conditionDim: 2, seed: 5 };
    const sampleCondition = (n: number, random: () => number) =>
      tf.tensor2d(
        Array.from({ length: n * 2 }, () => random() * 2 - 1),
        [n, 2],
      );
    const seen: number[][] = [];
    const base = { generator: G, steps: 20, batchSize: 16, seed: 99, progressEvery: 1, sampleCondition };
    const terms = () => [quadTerm(tf), adaptiveTerm(seen)];
    const run = async () => {
      const flow = new Flow(tf, cfg);
      const losses: number[] = [];
      await train({ ...base, terms: terms(), flow, onProgress: (p) => void losses.push(p.loss) });
      return { flow, losses };
    };
    const a = await run();
    expect(seen).toHaveLength(20); // observe() once per step, with that step's images
    expect(seen[0]).toEqual([16, 1, 1, d]);
    const b = await run();
    expect(a.losses).toHaveLength(20);
    expect(b.losses).toEqual(a.losses);
    expect(new Set(a.losses).size).toBeGreaterThan(10);

    // Interrupted at step 8, resumed from its checkpoint in a fresh flow.
    const ctrl = new AbortController();
    let saved: Uint8Array | undefined;
    const f1 = new Flow(tf, cfg);
    const r1 = await train({
      ...base,
      terms: terms(),
      flow: f1,
      checkpointEvery: 8,
      signal: ctrl.signal,
      onCheckpoint: (bytes, step) => {
        if (step === 8) {
          saved = bytes;
          ctrl.abort();
        }
      },
    });
    expect(r1.cancelled).toBe(true);
    expect(r1.step).toBe(8);
    const f2 = new Flow(tf, { ...cfg, seed: 1234 }); // other init: weights come from the checkpoint
    const lossesAfter: number[] = [];
    // fresh terms (c = 0): the adapted c must come from the checkpoint, or the losses below differ
    const r2 = await train({
      ...base,
      terms: terms(),
      flow: f2,
      resume: saved!,
      onProgress: (p) => void lossesAfter.push(p.loss),
    });
    expect(r2.step).toBe(20);
    expect(lossesAfter).toHaveLength(12);
    for (let i = 0; i < 12; i++) expect(lossesAfter[i]).toBeCloseTo(a.losses[8 + i], 5);
    const wa = a.flow.variables().map((v) => Array.from(v.dataSync()));
    const wb = f2.variables().map((v) => Array.from(v.dataSync()));
    let maxErr = 0;
    wa.forEach((arr, i) => arr.forEach((x, k) => (maxErr = Math.max(maxErr, Math.abs(x - wb[i][k])))));
    expect(maxErr).toBeLessThan(1e-6);
    // the run actually moved the weights
    const w0 = new Flow(tf, cfg).variables().map((v) => Array.from(v.dataSync()));
    let moved = 0;
    w0.forEach((arr, i) => arr.forEach((x, k) => (moved = Math.max(moved, Math.abs(x - wa[i][k])))));
    expect(moved).toBeGreaterThan(1e-3);
    [a.flow, b.flow, f1, f2].forEach((f) => f.dispose());
  });

  it('does not leak tensors across steps; progress, previews, checkpoints and paired terms work', async () => {
    const d = 4;
    const G = identityGenerator(tf, d);
    const flow = new Flow(tf, { dim: d, blocks: 2, hidden: 8, conditionDim: 1, seed: 5 });
    const counts: number[] = [];
    const progress: TrainProgress[] = [];
    const previews: number[] = [];
    const checkpoints: number[] = [];
    let pairedSeen = 0;
    const paired: EnergyTerm = {
      name: 'paired',
      weight: 0.5,
      paired: true,
      energy: (images, extras) =>
        tf.tidy(() => {
          if (extras.pairImages) pairedSeen++;
          return tf.sum(tf.square(tf.sub(flat(tf, images), flat(tf, extras.pairImages!))), 1) as Tensor1D;
        }),
    };
    const before = tf.memory().numTensors;
    await train({
      flow,
      generator: G,
      terms: [quadTerm(tf), paired],
      steps: 30,
      batchSize: 8,
      seed: 1,
      sampleCondition: (n, random) =>
        tf.tensor2d(
          Array.from({ length: n }, () => random()),
          [n, 1],
        ),
      progressEvery: 1,
      onProgress: (p) => {
        counts.push(tf.memory().numTensors);
        progress.push(p);
      },
      previewEvery: 10,
      previewCount: 5,
      onPreview: (p) => {
        expect(p.images.n).toBe(5);
        expect(p.images.data.length).toBe(5 * d);
        previews.push(p.step);
      },
      checkpointEvery: 15,
      onCheckpoint: (bytes, step) => {
        expect(bytes.byteLength).toBeGreaterThan(100);
        checkpoints.push(step);
      },
    });
    expect(counts[29]).toBe(counts[2]);
    expect(tf.memory().numTensors).toBe(before);
    expect(previews).toEqual([10, 20, 30]);
    expect(checkpoints).toEqual([15, 30]);
    expect(pairedSeen).toBe(30);
    const last = progress[progress.length - 1];
    expect(last.step).toBe(30);
    expect(last.totalSteps).toBe(30);
    expect(last.energies.map((e) => e.name)).toEqual(['quad', 'paired']);
    expect(Number.isFinite(last.loss) && Number.isFinite(last.logDet) && last.gradNorm > 0).toBe(true);
    expect(last.stepsPerSecond).toBeGreaterThan(0);
    expect(last.etaSeconds).toBe(0);
    flow.dispose();
  });
});
