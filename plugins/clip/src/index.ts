/**
 * @promptgen/clip — built-in PromptGen plugin: the "Text (CLIP)" control of the
 * paper (docs/CLIP.md).
 *
 *   E(x) = mean over K augmented copies a_k(x) of 1 − cos(Ī(a_k(x)), T̄(text))
 *
 * with Ī, T̄ the L2-normalised outputs of CLIP's image and text encoders, given as
 * TF.js layers or graph models (model.json + weights; path or http(s) URL). The
 * text is tokenized with CLIP's BPE (tokenizer.ts) and embedded once at load.
 *
 * No run-time dependencies: TensorFlow.js comes from the host (ctx.tf), types from
 * the public SDK (`promptgen/plugin`). Split by concern: params.ts (schema, defaults,
 * checks), augmentation.ts (preprocessing and augmentations, gradient-safe on every
 * backend), encoders.ts (loading and running CLIP's towers), control.ts (the energy).
 */
import type { PluginDefinition } from 'promptgen/plugin';
import { CLIP_MEAN, CLIP_STD, drawAugmentations, interpolationMatrices, preprocess } from './augmentation';
import { clipText } from './control';
import { normalizeParams } from './params';
import * as tokenizer from './tokenizer';

const definition: PluginDefinition = {
  apiVersion: 1,
  generators: [],
  controls: [clipText],
};

// The definition, and helpers for tests and for other plugins (require('../clip')).
export = {
  ...definition,
  preprocess,
  interpolationMatrices,
  drawAugmentations,
  normalizeParams,
  CLIP_MEAN,
  CLIP_STD,
  tokenizer,
};
