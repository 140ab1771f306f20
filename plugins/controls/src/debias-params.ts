/**
 * The params schema of the `debias` control (debias-control.ts): attributes to balance,
 * the fit of β̂ (samples, iterations, learning rate, marginal, temperature, shrinkage),
 * the adaptation during training, and the augmentations the energy averages over.
 * Kept apart so the control's file holds its behaviour only.
 */
import type { JsonSchema } from 'promptgen/plugin';
import { AUGMENT_PARAM, CLASS_REF, CLASSIFIER_NAME } from './shared';

export const DEBIAS_PARAMS_SCHEMA: JsonSchema = {
  type: 'object',
  properties: {
    attributes: {
      type: 'array',
      minItems: 1,
      maxItems: 8,
      description: 'One entry per attribute (one β each; energies summed).',
      items: {
        type: 'object',
        properties: {
          classifier: CLASSIFIER_NAME,
          classes: {
            type: 'array',
            minItems: 2,
            uniqueItems: true,
            items: CLASS_REF,
            description:
              "Restrict to these classes (the classifier's probabilities renormalised over them); default all",
          },
          target: {
            type: 'array',
            minItems: 2,
            items: { type: 'number', exclusiveMinimum: 0 },
            description: 'Target distribution over the classes (normalised; default uniform)',
          },
        },
        required: ['classifier'],
        additionalProperties: false,
      },
    },
    samples: {
      type: 'integer',
      minimum: 16,
      maximum: 16384,
      default: 1024,
      description: 'Base-generator samples for the fit of β̂',
    },
    iterations: {
      type: 'integer',
      minimum: 1,
      maximum: 20000,
      default: 500,
      description: 'Adam iterations of the fit',
    },
    learningRate: {
      type: 'number',
      exclusiveMinimum: 0,
      maximum: 10,
      default: 0.05,
      description: 'Adam learning rate of the fit',
    },
    marginal: {
      type: 'string',
      enum: ['counted', 'mean'],
      default: 'counted',
      description:
        '"counted": the target is the share of images the classifier assigns to each class (argmax); "mean": the mean probability ' +
        '(the earlier fit, which does not move the counts of an uncertain classifier)',
    },
    temperature: {
      type: 'number',
      exclusiveMinimum: 0,
      maximum: 10,
      default: 1,
      description:
        'φ = softmax(log p / temperature) over the classes: below 1 sharpens φ towards the counted class',
    },
    shrink: {
      type: 'boolean',
      default: true,
      description:
        "Correct only the part of the base marginal's deviation from the target that stands out from the sampling noise of " +
        'the N samples (Hotelling T², positive-part shrinkage); false fits the N samples exactly',
    },
    adaptive: {
      type: 'boolean',
      description:
        "Refine β during training from the prompt's own samples (online moment matching on the same marginal, starting at the " +
        'fitted β̂). Default: on where the base deviates clearly from the target (noise shrinkage s ≥ 0.9), off where the ' +
        "deviation is near the sampling noise (a batch's shares would then steer β by noise)",
    },
    adaptRate: {
      type: 'number',
      exclusiveMinimum: 0,
      maximum: 10,
      default: 0.1,
      description: 'Step size of the adaptation (per training step)',
    },
    augment: AUGMENT_PARAM,
  },
  required: ['attributes'],
  additionalProperties: false,
};
