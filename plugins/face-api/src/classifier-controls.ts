/**
 * The classifier-style face controls: face-gender, face-expression (−log p(target | x))
 * and face-age (−log P(min ≤ age ≤ max | x) under a logistic spread), each averaged over
 * the host's augmentations.
 */
import type { ControlDefinition, Tensor1D, Tensor2D, Tensor4D, Tf } from 'promptgen/plugin';
import { augmented, AUGMENT_PARAM, histogramOf, oneHotRow, rowsInChunks, type AugmentParams } from './energy';
import { EXPRESSIONS, GENDERS } from './lib/nets';
import {
  AGE_BUCKETS,
  AGE_SOFTNESS,
  loadAgeModel,
  loadExpressionModel,
  loadGenderModel,
  logIntervalProb,
} from './models';

/** A classifier-style control: energy −log p(target | x), evaluate reports a histogram. */
/** What classifierControl builds a control from. */
interface ClassifierControlSpec<P> {
  name: string;
  title: string;
  description: string;
  paramsSchema: ControlDefinition['paramsSchema'];
  classNames: string[];
  target: (params: P) => string;
  loadLogProbs: (tf: Tf) => { logProbs: (images: Tensor4D) => Tensor2D; dispose: () => void };
}

function classifierControl<P extends { augment?: AugmentParams }>({
  name,
  title,
  description,
  paramsSchema,
  classNames,
  target,
  loadLogProbs,
}: ClassifierControlSpec<P>): ControlDefinition<P> {
  return {
    name,
    title,
    description,
    paramsSchema,
    load(ctx, params) {
      const { tf } = ctx;
      const idx = classNames.indexOf(target(params));
      if (idx < 0) throw new Error(`${name}: unknown target ${JSON.stringify(target(params))}`);
      const m = loadLogProbs(tf);
      return {
        energy: augmented(ctx, params.augment, 5, (images) =>
          tf.tidy(() =>
            tf.neg(tf.sum<Tensor1D>(tf.mul(m.logProbs(images), oneHotRow(tf, idx, classNames.length)), 1)),
          ),
        ),
        async evaluate(images) {
          const rows = await rowsInChunks(tf, images, 64, (x) => tf.exp(m.logProbs(x)));
          const histogram = histogramOf(rows, classNames);
          const meanTargetProb = rows.length ? rows.reduce((s, r) => s + r[idx], 0) / rows.length : 0;
          return {
            count: rows.length,
            histogram,
            target: classNames[idx],
            targetRate: rows.length ? histogram[classNames[idx]] / rows.length : 0,
            meanTargetProb,
          };
        },
        dispose: m.dispose,
      };
    },
  };
}

export const faceGender = classifierControl<{ target: string; augment?: AugmentParams }>({
  name: 'face-gender',
  title: 'Face: gender',
  description:
    "Energy −log p(target gender | image) from face-api's ageGenderNet; the image should be a roughly centred face crop",
  paramsSchema: {
    type: 'object',
    properties: {
      target: { type: 'string', enum: GENDERS, description: 'Wanted gender' },
      augment: AUGMENT_PARAM,
    },
    required: ['target'],
    additionalProperties: false,
  },
  classNames: GENDERS,
  target: (p) => p.target,
  loadLogProbs: (tf) => {
    const m = loadGenderModel(tf);
    return { logProbs: (x) => tf.logSoftmax(m.logits(x)), dispose: m.dispose };
  },
});

export const faceExpression = classifierControl<{ expression: string; augment?: AugmentParams }>({
  name: 'face-expression',
  title: 'Face: expression',
  description: `Energy −log p(expression | image) from face-api's faceExpressionNet (${EXPRESSIONS.join(', ')}); the image should be a roughly centred face crop`,
  paramsSchema: {
    type: 'object',
    properties: {
      expression: { type: 'string', enum: EXPRESSIONS, description: 'Wanted expression' },
      augment: AUGMENT_PARAM,
    },
    required: ['expression'],
    additionalProperties: false,
  },
  classNames: EXPRESSIONS,
  target: (p) => p.expression,
  loadLogProbs: (tf) => {
    const m = loadExpressionModel(tf);
    return { logProbs: (x) => tf.logSoftmax(m.logits(x)), dispose: m.dispose };
  },
});

/** Resolves face-age params to an interval [lo, hi] in years. */
/** face-age's params: an interval, or a target with a tolerance. */
interface AgeParams {
  min?: number;
  max?: number;
  target?: number;
  tolerance?: number;
  softness?: number;
  augment?: AugmentParams;
}

function ageInterval(params: AgeParams): [number, number] {
  if (typeof params.target === 'number') {
    const tol = typeof params.tolerance === 'number' ? params.tolerance : 5;
    return [params.target - tol, params.target + tol];
  }
  const lo = typeof params.min === 'number' ? params.min : -Infinity;
  const hi = typeof params.max === 'number' ? params.max : Infinity;
  if (!(lo < hi)) throw new Error(`face-age: min (${lo}) must be below max (${hi})`);
  return [lo, hi];
}

export const faceAge: ControlDefinition<AgeParams> = {
  name: 'face-age',
  title: 'Face: age',
  description:
    "Energy −log P(min ≤ age ≤ max | image): face-api's age regression with a logistic spread (softness, years) around it. " +
    'Give { min, max } (either may be left out), or { target, tolerance } for [target − tolerance, target + tolerance]',
  paramsSchema: {
    type: 'object',
    properties: {
      min: { type: 'number', minimum: 0, maximum: 120, description: 'Lowest wanted age (years)' },
      max: { type: 'number', minimum: 0, maximum: 120, description: 'Highest wanted age (years)' },
      target: {
        type: 'number',
        minimum: 0,
        maximum: 120,
        description: 'Wanted age (years); with tolerance instead of min/max',
      },
      tolerance: {
        type: 'number',
        exclusiveMinimum: 0,
        maximum: 60,
        default: 5,
        description: 'Half-width of the interval around target (years)',
      },
      softness: {
        type: 'number',
        exclusiveMinimum: 0,
        maximum: 30,
        default: AGE_SOFTNESS,
        description: 'Spread of the logistic noise model around the regressed age (years)',
      },
      augment: AUGMENT_PARAM,
    },
    anyOf: [{ required: ['target'] }, { required: ['min'] }, { required: ['max'] }],
    not: { anyOf: [{ required: ['target', 'min'] }, { required: ['target', 'max'] }] },
    additionalProperties: false,
  },
  load(ctx, params) {
    const { tf } = ctx;
    const [lo, hi] = ageInterval(params);
    const s = typeof params.softness === 'number' ? params.softness : AGE_SOFTNESS;
    const m = loadAgeModel(tf);
    return {
      energy: augmented(ctx, params.augment, 5, (images) =>
        tf.tidy(() => tf.neg(logIntervalProb(tf, m.age(images), lo, hi, s))),
      ),
      async evaluate(images) {
        const ages = (await rowsInChunks(tf, images, 64, (x) => tf.reshape(m.age(x), [-1, 1]))).map(
          (r) => r[0],
        );
        const n = ages.length;
        const mean = n ? ages.reduce((a, b) => a + b, 0) / n : 0;
        const inRange = ages.filter((a) => a >= lo && a <= hi).length;
        const histogram = Object.fromEntries(
          AGE_BUCKETS.map((b) => [b.name, ages.filter((a) => a >= b.lo && a < b.hi).length]),
        );
        return {
          count: n,
          meanAge: mean,
          min: Number.isFinite(lo) ? lo : null,
          max: Number.isFinite(hi) ? hi : null,
          inRangeRate: n ? inRange / n : 0,
          histogram,
        };
      },
      dispose: m.dispose,
    };
  },
};
