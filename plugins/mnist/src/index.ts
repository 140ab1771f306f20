/**
 * @promptgen/mnist: a built-in PromptGen plugin with the project's own MNIST
 * demo models (trained by scripts/train-mnist-demo.py, see README.md):
 *   - generator `mnist`: z ~ N(0, I) of LATENT_DIM dims -> [n, 28, 28, 1] in [0, 1];
 *   - control `mnist-digit`: energy = -log sum_{c in classes} p(c | x) from a
 *     small CNN digit classifier, and a class histogram for evaluation.
 *
 * Typed against the public SDK (`promptgen/plugin`, types only): no run-time
 * dependency, the host passes its own `tf` and an asset resolver in the load context.
 */
import type {
  ClassifierDefinition,
  ControlDefinition,
  GeneratorDefinition,
  PluginDefinition,
  Tensor2D,
  Tensor4D,
} from 'promptgen/plugin';
import { controls as conditionalControls } from './conditional';
import { toMnist } from './images';

const LATENT_DIM = 64;
const GENERATOR_MODEL = 'models/generator/model.json';
const CLASSIFIER_MODEL = 'models/classifier/model.json';

const mnistGenerator: GeneratorDefinition = {
  name: 'mnist',
  title: 'MNIST digits',
  description:
    'A compact class-conditional DCGAN trained on the 60,000 MNIST training digits: white strokes on black, 28x28 grey. ' +
    'The digit is a region of the latent (argmax of z[0..9] plus fitted offsets, MNIST label shares).',
  latentDim: LATENT_DIM,
  output: { width: 28, height: 28, channels: 1 },
  async load(ctx) {
    const { tf } = ctx;
    const model = await ctx.assets.loadLayersModel(GENERATOR_MODEL);
    let classCode;
    try {
      const metadata: { classCode?: unknown } = model.getUserDefinedMetadata() || {};
      classCode = parseClassCode(metadata.classCode);
    } catch (e) {
      model.dispose();
      throw e;
    }
    const [, inDim] = model.inputs[0].shape;
    const expected = LATENT_DIM + (classCode ? classCode.dims.length : 0);
    if (inDim !== expected) {
      model.dispose();
      throw new Error(
        `mnist generator: model expects input ${inDim}, plugin builds ${expected} (latent ${LATENT_DIM})`,
      );
    }
    const offsets = classCode && tf.tensor1d(classCode.offsets, 'float32');
    return {
      generate(z) {
        // apply() (not predict()) so that gradients flow back to z, also through the code.
        return tf.tidy(() => {
          let input: Tensor2D = z;
          if (classCode && offsets) {
            const u = tf.add(tf.slice(z, [0, classCode.dims[0]], [-1, classCode.dims.length]), offsets);
            input = tf.concat<Tensor2D>([z, tf.softmax(tf.mul<Tensor2D>(u, classCode.temperature))], 1);
          }
          return model.apply(input, { training: false }) as Tensor4D;
        });
      },
      dispose() {
        model.dispose();
        if (offsets) offsets.dispose();
      },
    };
  },
};

/**
 * The generator's digit class lives in the latent: class(z) = argmax(z[dims] + offsets),
 * and the network also reads the soft one-hot softmax(temperature * (z[dims] + offsets)),
 * which keeps it differentiable across class borders. Written by the training script
 * into the model's userDefinedMetadata; absent for an unconditional generator.
 * Only contiguous dims starting anywhere are supported (tf.slice), which is what the
 * script writes; anything else is refused rather than misread.
 */
interface ClassCode {
  dims: number[];
  offsets: number[];
  temperature: number;
}

function parseClassCode(cc: unknown): ClassCode | null {
  if (!cc) return null;
  const { dims, offsets, temperature } = cc as Partial<Record<keyof ClassCode, unknown>>;
  const ok =
    Array.isArray(dims) &&
    dims.length > 1 &&
    dims.every((d, i) => Number.isInteger(d) && d === dims[0] + i && d >= 0 && d < LATENT_DIM) &&
    Array.isArray(offsets) &&
    offsets.length === dims.length &&
    offsets.every(Number.isFinite) &&
    typeof temperature === 'number' &&
    Number.isFinite(temperature) &&
    temperature > 0;
  if (!ok) throw new Error(`mnist generator: malformed classCode metadata ${JSON.stringify(cc)}`);
  return { dims: dims as number[], offsets: offsets as number[], temperature };
}

const paramsSchema = {
  type: 'object',
  properties: {
    classes: {
      type: 'array',
      description: 'Target digits: the energy is -log of their total probability.',
      items: { type: 'integer', minimum: 0, maximum: 9 },
      minItems: 1,
      uniqueItems: true,
      default: [7],
    },
    temperature: {
      type: 'number',
      description: 'Softmax temperature applied to the logits (1 = as trained).',
      exclusiveMinimum: 0,
      maximum: 100,
      default: 1,
    },
  },
  required: ['classes'],
  additionalProperties: false,
};

interface DigitParams {
  classes?: number[];
  temperature?: number;
}

const mnistDigitControl: ControlDefinition<DigitParams | undefined> = {
  name: 'mnist-digit',
  title: 'MNIST digit',
  description:
    'Steers towards the given digit(s) with a small CNN classifier (99 % on MNIST test): E = -log sum_{c in classes} p(c|x).',
  paramsSchema,
  conditionDim: null,
  paired: false,
  async load(ctx, params, generator) {
    const { tf } = ctx;
    const classes = [...new Set((params && params.classes) || [7])];
    if (classes.length === 0 || classes.some((c) => !Number.isInteger(c) || c < 0 || c > 9)) {
      throw new Error(`mnist-digit: classes must be distinct integers 0..9, got ${JSON.stringify(classes)}`);
    }
    const temperature = params && params.temperature != null ? Number(params.temperature) : 1;
    if (!(temperature > 0)) throw new Error('mnist-digit: temperature must be > 0');
    if (generator && generator.output) {
      const { width, height, channels } = generator.output;
      if (width !== 28 || height !== 28 || channels !== 1) {
        ctx.logger.warn('mnist-digit: generator output is not 28x28x1; images will be resized/greyed', {
          generator: generator.name,
        });
      }
    }
    const model = await ctx.assets.loadLayersModel(CLASSIFIER_MODEL);
    const mask = tf.tensor1d(
      Array.from({ length: 10 }, (_, i) => (classes.includes(i) ? 0 : -1e9)),
      'float32',
    );

    function logits(images: Tensor4D): Tensor2D {
      let l = model.apply(toMnist(tf, images), { training: false }) as Tensor2D;
      if (temperature !== 1) l = tf.div(l, temperature);
      return l;
    }

    return {
      energy(images) {
        return tf.tidy(() => {
          const l = logits(images); // [n, 10]
          // -log sum_{c in S} softmax(l)_c = logsumexp(l) - logsumexp(l restricted to S)
          const all = tf.logSumExp(l, 1);
          const inS = tf.logSumExp(tf.add(l, mask), 1);
          return tf.sub(all, inS);
        });
      },
      async evaluate(images) {
        const pred = tf.tidy(() => tf.argMax(logits(images), 1));
        const labels = await pred.data();
        pred.dispose();
        const histogram: number[] = new Array(10).fill(0);
        for (const k of labels) histogram[k] += 1;
        const n = labels.length;
        const inClasses = classes.reduce((s, c) => s + histogram[c], 0);
        return { histogram, n, classes, fractionInClasses: n ? inClasses / n : 0 };
      },
      dispose() {
        model.dispose();
        mask.dispose();
      },
    };
  },
};

const DIGITS = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];

/**
 * The same CNN offered by name (`mnist-digit`) to generic controls of other plugins
 * (e.g. `classifier` and `debias` of @promptgen/controls) through ctx.classifiers.
 */
const mnistDigitClassifier: ClassifierDefinition = {
  name: 'mnist-digit',
  title: 'MNIST digit classifier',
  description:
    'The small CNN of the mnist-digit control (classes "0".."9"); any NHWC image batch is greyed and resized to 28x28.',
  classNames: DIGITS,
  // Digits mean something on 28×28 images (the side-effect audit asks; other sizes are resized when a control uses it).
  fits: (output) => output.width === 28 && output.height === 28,
  async load(ctx) {
    const { tf } = ctx;
    const model = await ctx.assets.loadLayersModel(CLASSIFIER_MODEL);
    const logits = (images: Tensor4D): Tensor2D =>
      model.apply(toMnist(tf, images), { training: false }) as Tensor2D;
    return {
      classNames: DIGITS.slice(),
      numClasses: 10,
      probs: (images) => tf.tidy(() => tf.softmax(logits(images))),
      logProbs: (images) => tf.tidy(() => tf.logSoftmax(logits(images))),
      classIndex(c) {
        const i = typeof c === 'number' ? c : DIGITS.indexOf(String(c));
        if (!Number.isInteger(i) || i < 0 || i > 9)
          throw new Error(`mnist-digit: unknown class ${JSON.stringify(c)} (classes 0..9)`);
        return i;
      },
      dispose: () => model.dispose(),
    };
  },
};

// The conditional testbed (mnist-slant, mnist-same-digit): see conditional.ts.
const plugin: PluginDefinition = {
  apiVersion: 1,
  generators: [mnistGenerator],
  controls: [mnistDigitControl, ...conditionalControls],
  classifiers: [mnistDigitClassifier],
};

export = plugin;
