/**
 * Trains a flow with the reverse-KL objective: Adam (AdamW with weight decay 0
 * by default), learning rate decayed linearly to 0, global gradient-norm clip.
 *
 * Deterministic for a seed on a deterministic backend: ε and conditions come
 * from our own seeded generator, whose state is saved in checkpoints, so a run
 * resumed from a checkpoint ends with the same weights as an uninterrupted one.
 */
import type { Tf, Tensor2D, Tensor4D, GeneratorInstance } from '../sdk/index';
import type { Scalar, Variable } from '@tensorflow/tfjs-core';
import { type Flow } from './flow';
import { conditionInput } from './condition-input';
import { computeLoss, type EnergyTerm } from './objective';
import { Rng, deriveSeed, type RngState } from './rng';
import { packArtifact, unpackArtifact } from './artifact';
import { readImageBatch, type ImageBatch } from './images';
import { makeAdam } from './adam';
import { shareBlasCores } from './kernels/native-blas';

export const CHECKPOINT_FORMAT = 'promptgen-checkpoint';
export const CHECKPOINT_FORMAT_VERSION = 1;

export interface TrainProgress {
  step: number;
  totalSteps: number;
  loss: number;
  logDet: number;
  energies: { name: string; value: number }[];
  gradNorm: number;
  stepsPerSecond: number;
  etaSeconds: number;
}

export interface TrainPreview {
  step: number;
  images: ImageBatch;
}

export interface TrainOptions {
  flow: Flow;
  generator: GeneratorInstance;
  terms: EnergyTerm[];
  steps: number;
  batchSize: number;
  /** Seeds ε, conditions and the preview ε. Default 42. */
  seed?: number;
  learningRate?: number; // 1e-3
  /** Decoupled (AdamW) weight decay; 0 by default (the paper's setting). */
  weightDecay?: number;
  beta1?: number; // 0.9
  beta2?: number; // 0.999
  epsilon?: number; // 1e-8
  /** Global gradient-norm clip; 1.0 by default, 0 or Infinity disables. */
  clipNorm?: number;
  /** Conditional flows: draws training conditions [n, conditionDim]. */
  sampleCondition?: (n: number, random: () => number) => Tensor2D;
  signal?: AbortSignal;
  progressEvery?: number; // default 10
  onProgress?: (p: TrainProgress) => void | Promise<void>;
  previewEvery?: number; // default 0 = never
  previewCount?: number; // default 16
  onPreview?: (p: TrainPreview) => void | Promise<void>;
  checkpointEvery?: number; // default 0 = never
  onCheckpoint?: (bytes: Uint8Array, step: number) => void | Promise<void>;
  /** A checkpoint of this same run: training continues after its step. */
  resume?: Uint8Array;
}

export interface TrainResult {
  /** Steps completed in total (including those before a resume). */
  step: number;
  totalSteps: number;
  cancelled: boolean;
  /** Loss of the last step run in this call (NaN if none ran). */
  finalLoss: number;
}

interface CheckpointMeta {
  format: string;
  version: number;
  step: number;
  totalSteps: number;
  batchSize: number;
  seed: number;
  rng: RngState;
  paramCount: number;
  /** Per term: the state its observe() changed (null where it has none). */
  termStates?: unknown[];
}

const nextTick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export async function train(opts: TrainOptions): Promise<TrainResult> {
  const { flow, generator, terms } = opts;
  const tf: Tf = flow.tf;
  const totalSteps = opts.steps;
  const batchSize = opts.batchSize;
  if (!Number.isInteger(totalSteps) || totalSteps < 1) throw new Error('steps must be a positive integer');
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error('batchSize must be a positive integer');
  const seed = opts.seed ?? 42;
  const lr = opts.learningRate ?? 1e-3;
  const wd = opts.weightDecay ?? 0;
  const beta1 = opts.beta1 ?? 0.9;
  const beta2 = opts.beta2 ?? 0.999;
  const adamEps = opts.epsilon ?? 1e-8;
  const clip = opts.clipNorm ?? 1.0;
  const progressEvery = opts.progressEvery ?? 10;
  const previewEvery = opts.previewEvery ?? 0;
  const checkpointEvery = opts.checkpointEvery ?? 0;
  const d = flow.dim;
  const conditional = flow.config.conditionDim > 0;

  const vars: Variable[] = flow.variables();
  const observers = terms.some((t) => t.observe);
  const paramCount = vars.reduce((a, x) => a + x.size, 0);
  const adam = makeAdam(tf, vars, { lr, weightDecay: wd, beta1, beta2, epsilon: adamEps, clipNorm: clip });
  const rng = new Rng(deriveSeed(seed, 'train'));
  let step = 0;

  if (opts.resume) {
    const art = unpackArtifact(opts.resume);
    const meta = art.meta as unknown as CheckpointMeta;
    if (meta.format !== CHECKPOINT_FORMAT)
      throw new Error(`not a training checkpoint (format ${String(meta.format)})`);
    if (meta.version !== CHECKPOINT_FORMAT_VERSION)
      throw new Error(`unsupported checkpoint version ${String(meta.version)}`);
    if (
      meta.totalSteps !== totalSteps ||
      meta.batchSize !== batchSize ||
      meta.seed !== seed ||
      meta.paramCount !== paramCount
    ) {
      throw new Error(
        `checkpoint belongs to another run (steps ${meta.totalSteps}, batch ${meta.batchSize}, seed ${meta.seed}, ` +
          `${meta.paramCount} parameters; this run: ${totalSteps}, ${batchSize}, ${seed}, ${paramCount})`,
      );
    }
    flow.load(art.bytes('flow'));
    adam.setState(art.float32('adam.m').data, art.float32('adam.v').data);
    rng.setState(meta.rng);
    step = meta.step;
    meta.termStates?.forEach((state, i) => {
      if (state != null && terms[i]?.restore) terms[i].restore!(state);
    });
  }

  // Fixed preview ε (and conditions), independent of the training stream.
  let previewEps: Tensor2D | undefined;
  let previewCond: Tensor2D | undefined;
  if (opts.onPreview && previewEvery > 0) {
    const count = opts.previewCount ?? 16;
    const prng = new Rng(deriveSeed(seed, 'preview'));
    previewEps = tf.tensor2d(prng.normals(count * d), [count, d]);
    if (conditional && opts.sampleCondition)
      previewCond = tf.keep(opts.sampleCondition(count, prng.uniform()));
  }

  // Reads are asynchronous throughout (`await data()`): the webgpu backend has no synchronous read in Node.
  const checkpoint = async (): Promise<Uint8Array> => {
    const meta: CheckpointMeta = {
      format: CHECKPOINT_FORMAT,
      version: CHECKPOINT_FORMAT_VERSION,
      step,
      totalSteps,
      batchSize,
      seed,
      rng: rng.getState(),
      paramCount,
      termStates: terms.map((t) => (t.state ? t.state() : null)),
    };
    const { m, v } = await adam.state();
    return packArtifact(meta as unknown as Record<string, unknown>, [
      { name: 'flow', dtype: 'uint8', shape: [], data: await flow.save() },
      { name: 'adam.m', dtype: 'float32', shape: [paramCount], data: m },
      { name: 'adam.v', dtype: 'float32', shape: [paramCount], data: v },
    ]);
  };

  const releaseCores = shareBlasCores(tf.getBackend());
  const started = Date.now();
  const startStep = step;
  let finalLoss = NaN;
  let cancelled = false;

  try {
    while (step < totalSteps) {
      await nextTick();
      if (opts.signal?.aborted) {
        cancelled = true;
        break;
      }
      const k = step; // index of this update
      const eps = tf.tensor2d(rng.normals(batchSize * d), [batchSize, d]);
      const cond =
        conditional && opts.sampleCondition ? opts.sampleCondition(batchSize, rng.uniform()) : undefined;
      let aux: Scalar[] = [];
      let observed: Tensor4D | undefined;
      const { value: loss, grads } = tf.variableGrads(() => {
        const parts = computeLoss({ tf, flow, generator, terms, eps, condition: cond });
        aux = [tf.keep(parts.logDet), ...parts.energies.map((e) => tf.keep(e))];
        if (observers) observed = tf.keep(parts.images);
        return parts.loss;
      }, vars);
      eps.dispose();
      cond?.dispose();

      const updated = adam.step(grads, k, lr * (1 - k / totalSteps));
      for (const key of Object.keys(grads)) grads[key].dispose();
      if (observed) {
        // after the update, so what a control learns from this batch acts from the next step on
        for (const t of terms) await t.observe?.(observed);
        observed.dispose();
      }
      step = k + 1;

      const wantProgress = !!opts.onProgress && (step % progressEvery === 0 || step === totalSteps);
      if (wantProgress || step === totalSteps) finalLoss = ((await loss.data()) as Float32Array)[0];
      if (wantProgress && opts.onProgress) {
        const elapsed = (Date.now() - started) / 1000;
        const sps = elapsed > 0 ? (step - startStep) / elapsed : 0;
        await opts.onProgress({
          step,
          totalSteps,
          loss: finalLoss,
          logDet: (await aux[0].data())[0],
          energies: await Promise.all(
            terms.map(async (t, i) => ({ name: t.name, value: (await aux[i + 1].data())[0] })),
          ),
          gradNorm: await updated.gradNorm(),
          stepsPerSecond: sps,
          etaSeconds: sps > 0 ? (totalSteps - step) / sps : NaN,
        });
      }
      loss.dispose();
      updated.dispose();
      aux.forEach((a) => a.dispose());

      if (previewEps && opts.onPreview && (step % previewEvery === 0 || step === totalSteps)) {
        const images = tf.tidy(() =>
          generator.generate(flow.forward(previewEps!, conditionInput(tf, previewCond)).z),
        );
        const batch = await readImageBatch(images);
        images.dispose();
        await opts.onPreview({ step, images: batch });
      }
      if (opts.onCheckpoint && checkpointEvery > 0 && (step % checkpointEvery === 0 || step === totalSteps)) {
        await opts.onCheckpoint(await checkpoint(), step);
      }
    }
  } finally {
    releaseCores();
    adam.dispose();
    previewEps?.dispose();
    previewCond?.dispose();
  }
  return { step, totalSteps, cancelled, finalLoss };
}
