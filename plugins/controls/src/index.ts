/**
 * @promptgen/controls — built-in PromptGen plugin with the paper's generic
 * controls, written against the public SDK only (no require of the host):
 *
 *   - `classifier`: E(x) = Σ_k −log Σ_{c ∈ S_k} p_k(c | x) over targets k, each a
 *     named classifier (any plugin's `classifiers`, or a tfjs-model classifier
 *     manifest) and a set S_k of classes. Classes of one target are alternatives
 *     ("3 or 8"); several targets are combined (energies summed, "AND").
 *   - `debias`: the moment constraint. For each attribute (a classifier and an
 *     optional subset of its classes, renormalised), φ(x) is the classifier's
 *     softmax over those classes and h(x) the one-hot of its predicted class;
 *     calibrate() fits β̂ on N base samples so that the self-normalised importance
 *     weights ω_j = exp(βᵀφ(x_j)) move the counted marginal Σ_j ω_j h(x_j) / Σ_j ω_j
 *     (the share of images per class) onto the target (uniform by default; h = φ,
 *     the mean probability, with `marginal: 'mean'`), correcting only the part of
 *     the deviation that stands out from the N samples' noise (noiseShrinkage,
 *     `shrink: false` to fit exactly). Energy E(x) = −Σ_a β̂_aᵀ φ_a(x); with weight 1
 *     the prompt's target density is exactly the tilted base the fit describes.
 *
 * Both energies are averaged over differentiable augmentations of the images
 * (the host's ctx.augment; `augment` param), so that the flow cannot lower them
 * with pixel changes nobody sees (issue #14).
 *
 * Typed against the public SDK (`promptgen/plugin`, types only). Split by concern:
 * statistics.ts (the β̂ fit, noise shrinkage, moment matching: plain numbers),
 * shared.ts (params and tensor helpers of both controls), classifier-control.ts and
 * debias-control.ts.
 */
import type { PluginDefinition } from 'promptgen/plugin';
import { classifierControl } from './classifier-control';
import { debiasControl } from './debias-control';
import { fitDebias, kl, momentStep, noiseShrinkage, oneHotRows, tiltWeights } from './statistics';

const definition: PluginDefinition = {
  apiVersion: 1,
  controls: [classifierControl, debiasControl],
};

// The definition, and helpers exposed for tests and other plugins (not part of the SDK contract).
export = { ...definition, fitDebias, noiseShrinkage, oneHotRows, tiltWeights, kl, momentStep };
