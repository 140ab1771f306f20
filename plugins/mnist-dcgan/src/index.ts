/**
 * @promptgen/mnist-dcgan — a built-in PromptGen plugin with one generator,
 * `mnist-dcgan`: the project's first, UNCONDITIONAL MNIST DCGAN (z ~ N(0, I) of 64
 * dims → [n, 28, 28, 1] in [0, 1]), kept as the harder testbed of issue #14.
 *
 * Why a second MNIST generator: in the bundled `mnist` generator the digit is a fixed
 * region of the latent (class(z) = argmax(z[0..9] + b)), so a control only has to shift
 * a few coordinates and its classifier is sure of almost every sample. Here the digit is
 * entangled across the whole latent, and the classifiers are unsure of many samples
 * (the judge is confident, p ≥ 0.9, on only 49.9 % of them): the case where de-biasing
 * by mean probabilities and adversarial shortcuts show (docs/RESULTS.md).
 *
 * Weights: the `mnist` generator of commit 190ebfc (scripts/train-mnist-demo.py at that
 * commit, README.md here), unchanged. Types from the public SDK only; tf comes from the host.
 */
import type { GeneratorDefinition, PluginDefinition, Tensor4D } from 'promptgen/plugin';

const LATENT_DIM = 64;
const GENERATOR_MODEL = 'models/generator/model.json';

const mnistDcgan: GeneratorDefinition = {
  name: 'mnist-dcgan',
  title: 'MNIST digits (unconditional DCGAN)',
  description:
    'The unconditional DCGAN of the first mnist plugin: white strokes on black, 28x28 grey; the digit is entangled in the whole latent ' +
    '(a harder case for controls than `mnist`).',
  latentDim: LATENT_DIM,
  output: { width: 28, height: 28, channels: 1 },
  async load(ctx) {
    const { tf } = ctx;
    const model = await ctx.assets.loadLayersModel(GENERATOR_MODEL);
    const [, inDim] = model.inputs[0].shape;
    if (inDim !== LATENT_DIM) {
      model.dispose();
      throw new Error(`mnist-dcgan generator: model expects latent ${inDim}, plugin declares ${LATENT_DIM}`);
    }
    return {
      // apply() (not predict()) so that gradients flow back to z.
      generate: (z) => tf.tidy(() => model.apply(z, { training: false }) as Tensor4D),
      dispose: () => model.dispose(),
    };
  },
};

const plugin: PluginDefinition = {
  apiVersion: 1,
  generators: [mnistDcgan],
};

export = plugin;
