/**
 * Classifiers from manifests: `loadClassifier` (the SDK's `Classifier`, reused by the
 * generic controls of other plugins through the host's named classifiers) and
 * `tfjsClassifier`, the "classifier" control E(x) = Σ_c −log p(c | x) over chosen classes.
 */
import * as fs from 'fs';
import * as path from 'path';
import type {
  Classifier,
  ControlDefinition,
  JsonSchema,
  LoadContext,
  Tensor,
  Tensor1D,
  Tensor2D,
  Tensor4D,
  TfjsClassifierManifest,
} from 'promptgen/plugin';
import { assertManifest, fmtShape } from './manifest';
import { loadModel, modelInputs, runModel } from './model';

/** Class names, one per non-empty line. */
const parseClassNames = (text: string): string[] =>
  text
    .split(/\r?\n/)
    .map((s) => s.trim())
    .filter(Boolean);

/** Loads a classifier described by a manifest (reusable by other controls). */
export async function loadClassifier(
  ctx: LoadContext,
  manifest: TfjsClassifierManifest,
): Promise<Classifier> {
  assertManifest(manifest, 'classifier');
  const m = manifest;
  const { tf } = ctx;
  const inp = m.input;
  const layout = inp.layout || 'NHWC';
  const [lo, hi] = inp.range || [0, 1];
  let classNames = m.classNames ? m.classNames.slice() : null;
  if (!classNames && m.classNamesFile) {
    classNames = parseClassNames((await ctx.assets.readFile(m.classNamesFile)).toString('utf8'));
  }
  const model = await loadModel(ctx, m);
  const declared = modelInputs(model);
  const order = declared.length ? [declared[0].name] : ['input'];
  const expected =
    layout === 'flat'
      ? [inp.width * inp.height * inp.channels]
      : layout === 'NCHW'
        ? [inp.channels, inp.height, inp.width]
        : [inp.height, inp.width, inp.channels];
  const first = declared[0];
  if (first && first.shape) {
    const got = first.shape.slice(1);
    if (got.length !== expected.length || got.some((d, i) => d != null && d > 0 && d !== expected[i])) {
      model.dispose();
      throw new Error(
        `classifier ${m.name}: model input has shape ${fmtShape(first.shape)} but the manifest's input is [n,${expected.join(',')}] (${layout})`,
      );
    }
  }

  function prepare(images: Tensor4D): Tensor {
    if (images.shape.length !== 4)
      throw new Error(
        `classifier ${m.name}: images must be [n, height, width, channels] (got ${fmtShape(images.shape)})`,
      );
    let x: Tensor4D = images;
    const [n, h, w, c] = x.shape;
    if (h !== inp.height || w !== inp.width) x = tf.image.resizeBilinear(x, [inp.height, inp.width]);
    if (c !== inp.channels) {
      if (inp.channels === 1) x = tf.mean(x, 3, true);
      else if (c === 1) x = tf.tile(x, [1, 1, 1, inp.channels]);
      else
        throw new Error(
          `classifier ${m.name}: cannot convert ${c}-channel images to ${inp.channels} channels`,
        );
    }
    if (inp.invert) x = tf.sub(1, x);
    if (lo !== 0 || hi !== 1) x = tf.add(tf.mul(x, hi - lo), lo);
    if (layout === 'flat') return tf.reshape(x, [n, inp.width * inp.height * inp.channels]);
    if (layout === 'NCHW') return tf.transpose(x, [0, 3, 1, 2]);
    return x;
  }
  function raw(images: Tensor4D): Tensor2D {
    const y = runModel(model, { [order[0]]: prepare(images) }, order, m.outputIndex);
    if (y.shape.length !== 2)
      throw new Error(`classifier ${m.name}: model output shape ${fmtShape(y.shape)} is not [n, classes]`);
    return y as Tensor2D;
  }
  const logits = (m.outputs || 'logits') === 'logits';
  const probs = (images: Tensor4D): Tensor2D =>
    tf.tidy(() => (logits ? tf.softmax(raw(images)) : raw(images)));
  const logProbs = (images: Tensor4D): Tensor2D =>
    tf.tidy(() => (logits ? tf.logSoftmax(raw(images)) : tf.log(tf.clipByValue(raw(images), 1e-7, 1))));

  let numClasses: number;
  try {
    numClasses = tf.tidy(() => raw(tf.zeros([1, inp.height, inp.width, inp.channels])).shape[1]);
  } catch (e) {
    model.dispose();
    throw e;
  }
  if (classNames && classNames.length !== numClasses) {
    model.dispose();
    throw new Error(
      `classifier ${m.name}: the model has ${numClasses} outputs but ${classNames.length} class names are declared`,
    );
  }
  const names = classNames ?? Array.from({ length: numClasses }, (_, i) => String(i));
  function classIndex(c: number | string): number {
    if (typeof c === 'number') {
      if (Number.isInteger(c) && c >= 0 && c < numClasses) return c;
      throw new Error(`class index ${c} is out of range (0..${numClasses - 1})`);
    }
    const i = names.indexOf(c);
    if (i >= 0) return i;
    if (/^\d+$/.test(c) && Number(c) < numClasses && !names.includes(c)) return Number(c);
    throw new Error(
      `unknown class ${JSON.stringify(c)} (known: ${names.slice(0, 20).join(', ')}${names.length > 20 ? ', …' : ''})`,
    );
  }
  return { classNames: names, numClasses, probs, logProbs, classIndex, dispose: () => model.dispose() };
}

interface ClassifierParams {
  classes: (number | string)[];
}

/**
 * The "classifier" control for a classifier manifest: energy Σ_c −log p(c|x)
 * over params `{ classes: [...] }` (class indices or names).
 * `options.baseDir`: where relative classNamesFile paths live (to put names in the schema).
 */
export function tfjsClassifier(
  manifest: TfjsClassifierManifest,
  options?: { baseDir?: string },
): ControlDefinition<ClassifierParams> {
  assertManifest(manifest, 'classifier');
  const m = manifest;
  let names = m.classNames || null;
  if (!names && m.classNamesFile && options && options.baseDir) {
    const file = path.resolve(options.baseDir, m.classNamesFile);
    if (fs.existsSync(file)) names = parseClassNames(fs.readFileSync(file, 'utf8'));
  }
  const item: JsonSchema = names
    ? {
        anyOf: [
          { type: 'integer', minimum: 0, maximum: names.length - 1 },
          { type: 'string', enum: names },
        ],
      }
    : {
        anyOf: [
          { type: 'integer', minimum: 0 },
          { type: 'string', minLength: 1 },
        ],
      };
  return {
    name: m.name,
    title: m.title || m.name,
    description:
      m.description || `Classifier control: energy = Σ −log p(class | image) over the chosen classes`,
    paramsSchema: {
      type: 'object',
      properties: {
        classes: {
          type: 'array',
          minItems: 1,
          items: item,
          description: 'Target classes (indices or names); the energy sums −log p over them',
        },
      },
      required: ['classes'],
      additionalProperties: false,
    },
    conditionDim: null,
    async load(ctx, params) {
      const clf = await loadClassifier(ctx, m);
      let mask: Tensor1D;
      let targets: number[];
      try {
        targets = params.classes.map((c) => clf.classIndex(c));
        const w = new Float32Array(clf.numClasses);
        for (const t of targets) w[t] += 1;
        mask = ctx.tf.tensor1d(w);
      } catch (e) {
        clf.dispose();
        throw e;
      }
      const tf = ctx.tf;
      return {
        energy(images) {
          return tf.tidy(() => tf.neg(tf.sum<Tensor1D>(tf.mul(clf.logProbs(images), mask), 1)));
        },
        async evaluate(images) {
          const p = clf.probs(images);
          const [probsArr, argmax] = await Promise.all([
            p.array(),
            tf.tidy(() => tf.argMax<Tensor1D>(p, 1)).array(),
          ]);
          p.dispose();
          const histogram: Record<string, number> = {};
          for (const name of clf.classNames) histogram[name] = 0;
          let hits = 0;
          let targetProb = 0;
          probsArr.forEach((row, i) => {
            histogram[clf.classNames[argmax[i]]] += 1;
            if (targets.includes(argmax[i])) hits += 1;
            for (const t of new Set(targets)) targetProb += row[t];
          });
          const n = Math.max(probsArr.length, 1);
          return { count: probsArr.length, histogram, targetRate: hits / n, meanTargetProb: targetProb / n };
        },
        dispose() {
          mask.dispose();
          clf.dispose();
        },
      };
    },
  };
}
