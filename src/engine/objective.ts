/**
 * The reverse-KL objective of PromptGen (PAPER.md, "Training objective"):
 *
 *   L = mean_ε [ ½‖z‖² − log|det ∂f/∂ε| + Σ_i λ_i E_i(G(z)) ],  z = f(ε; cond)
 *
 * Paired terms get pairImages = G(f(ε; 0)) with the same ε. The flow sees a
 * condition through conditionInput() (condition-input.ts); energies get it as given.
 */
import type { Tf, Tensor1D, Tensor2D, Tensor4D, EnergyExtras, GeneratorInstance } from '../sdk/index';
import type { Scalar } from '@tensorflow/tfjs-core';
import type { Flow } from './flow';
import { conditionInput } from './condition-input';

/** One control's energy with its weight λ (matches ControlInstance.energy). */
export interface EnergyTerm {
  name: string;
  weight: number;
  paired?: boolean;
  energy(images: Tensor4D, extras: EnergyExtras): Tensor1D;
  /** After each training step, with that step's images (see ControlInstance.observe). */
  observe?(images: Tensor4D): void | Promise<void>;
  /** State observe() changes; saved in checkpoints and restored on resume. */
  state?(): unknown;
  restore?(state: unknown): void;
}

export interface LossParts {
  /** The batch mean of the objective (scalar). */
  loss: Scalar;
  /** Batch mean of log|det|. */
  logDet: Scalar;
  /** Batch mean of each term's energy (unweighted), in the order of the terms. */
  energies: Scalar[];
  /** The batch's images G(f(ε)). */
  images: Tensor4D;
}

export interface LossInput {
  tf: Tf;
  flow: Flow;
  generator: GeneratorInstance;
  terms: EnergyTerm[];
  eps: Tensor2D;
  condition?: Tensor2D;
}

/** Per-sample objective [n] plus its parts; everything is differentiable in the flow's variables. */
export function objectivePerSample(input: LossInput): {
  perSample: Tensor1D;
  logDet: Tensor1D;
  energies: Tensor1D[];
  images: Tensor4D;
} {
  const { tf, flow, generator, terms, eps, condition } = input;
  const n = eps.shape[0];
  const { z, logDet } = flow.forward(eps, conditionInput(tf, condition));
  const images = generator.generate(z);
  let pairImages: Tensor4D | undefined;
  if (terms.some((t) => t.paired)) {
    if (flow.config.conditionDim > 0 && condition) {
      const zero = tf.zeros([n, flow.config.conditionDim]) as Tensor2D;
      pairImages = generator.generate(flow.forward(eps, zero).z);
    } else {
      pairImages = images;
    }
  }
  let perSample = tf.sub(tf.mul(tf.sum(tf.square(z), 1), 0.5), logDet) as Tensor1D;
  const energies: Tensor1D[] = [];
  for (const term of terms) {
    const extras: EnergyExtras = { z };
    if (condition) extras.condition = condition;
    if (term.paired && pairImages) extras.pairImages = pairImages;
    const e = term.energy(images, extras);
    if (e.rank !== 1 || e.shape[0] !== n) {
      throw new Error(`energy '${term.name}' returned shape [${e.shape.join(', ')}], expected [${n}]`);
    }
    energies.push(e);
    if (term.weight !== 0) perSample = tf.add(perSample, tf.mul(e, term.weight)) as Tensor1D;
  }
  return { perSample, logDet, energies, images };
}

/** The batch loss and its parts as scalars. Call inside a tidy / gradient scope. */
export function computeLoss(input: LossInput): LossParts {
  const { tf } = input;
  const { perSample, logDet, energies, images } = objectivePerSample(input);
  return {
    loss: tf.mean(perSample) as Scalar,
    logDet: tf.mean(logDet) as Scalar,
    energies: energies.map((e) => tf.mean(e) as Scalar),
    images,
  };
}
