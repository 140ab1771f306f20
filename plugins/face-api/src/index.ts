/**
 * @promptgen/face-api — built-in PromptGen plugin: face controls.
 *
 * Runs the nets of @vladmandic/face-api (age/gender, expression, 68 landmarks,
 * face descriptor) on the HOST's TensorFlow.js (ctx.tf, any backend), from the
 * weight files shipped in that package's `model/` folder, so gradients flow
 * from every energy back to the generator's images. face-api's own bundles
 * (which carry their own TF.js) are never loaded.
 *
 * Images are the generator's output, [n, h, w, c] in [0, 1] (c = 1, 3 or 4),
 * assumed to be roughly centred face crops (there is no detector in the loop).
 * Each net pads them to a square and resizes them (bilinear) to its input size
 * (112, or 150 for the descriptor), exactly as face-api does for a face crop.
 *
 * Controls: face-gender, face-age, face-expression (−log p(target | x)),
 * face-pose (conditional: squared angle error of a landmark-geometry pose
 * estimate), face-identity (paired: 1 − cos of face descriptors).
 * Classifiers (for the generic classifier / debias controls): face-gender,
 * face-expression, face-age-bucket.
 *
 * Split by concern: lib/ (the nets' forward passes, weights, pose geometry), models.ts
 * (the nets as the controls use them), energy.ts (augmentation and evaluation helpers),
 * classifiers.ts, classifier-controls.ts, conditional.ts (pose and identity). Types from
 * the public SDK only; never requires promptgen/plugin at run time.
 */
import type { PluginDefinition } from 'promptgen/plugin';
import { classifiers } from './classifiers';
import { faceAge, faceExpression, faceGender } from './classifier-controls';
import { faceIdentity, facePose } from './conditional';
import { EXPRESSIONS, GENDERS } from './lib/nets';
import {
  AGE_BUCKETS,
  cosine,
  IDENTITY_SCALE,
  loadAgeModel,
  loadDescriptorModel,
  loadExpressionModel,
  loadGenderModel,
  loadPoseModel,
  logIntervalProb,
  POSE_CONDITION_SCALE_DEG,
} from './models';

const definition: PluginDefinition = {
  apiVersion: 1,
  controls: [faceGender, faceAge, faceExpression, facePose, faceIdentity],
  classifiers,
};

// Not part of the plugin contract: building blocks for tests and other built-in plugins.
export = {
  ...definition,
  EXPRESSIONS,
  GENDERS,
  AGE_BUCKETS,
  POSE_CONDITION_SCALE_DEG,
  IDENTITY_SCALE,
  loadGenderModel,
  loadAgeModel,
  loadExpressionModel,
  loadPoseModel,
  loadDescriptorModel,
  logIntervalProb,
  cosine,
};
