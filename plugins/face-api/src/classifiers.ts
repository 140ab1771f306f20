/**
 * Named classifiers (face-gender, face-expression, face-age-bucket) for the generic
 * classifier / debias controls of other plugins.
 */
import type { Classifier, ClassifierDefinition, ImageShape, Tensor2D, Tensor4D, Tf } from 'promptgen/plugin';
import { EXPRESSIONS, GENDERS } from './lib/nets';
import {
  AGE_BUCKETS,
  AGE_SOFTNESS,
  loadAgeModel,
  loadExpressionModel,
  loadGenderModel,
  logIntervalProb,
} from './models';

function classIndexFn(classNames: string[]): (c: number | string) => number {
  return (c) => {
    if (typeof c === 'number' && Number.isInteger(c) && c >= 0 && c < classNames.length) return c;
    const i = classNames.indexOf(String(c));
    if (i < 0) throw new Error(`unknown class ${JSON.stringify(c)} (classes: ${classNames.join(', ')})`);
    return i;
  };
}

/** Builds a Classifier from a logits/log-probs function [n,h,w,c] → [n,k]. */
function makeClassifier(
  tf: Tf,
  classNames: string[],
  logProbsFn: (images: Tensor4D) => Tensor2D,
  dispose: () => void,
): Classifier {
  return {
    classNames: classNames.slice(),
    numClasses: classNames.length,
    logProbs: (images: Tensor4D) => tf.tidy(() => logProbsFn(images)),
    probs: (images: Tensor4D) => tf.tidy(() => tf.exp(logProbsFn(images))),
    classIndex: classIndexFn(classNames),
    dispose,
  };
}

/** Face nets mean something on colour face crops of at least 48 px (the side-effect audit asks). */
const fitsFaces = (output: ImageShape): boolean =>
  output.channels >= 3 && Math.min(output.width, output.height) >= 48;

export const classifiers: ClassifierDefinition[] = [
  {
    name: 'face-gender',
    title: 'Face gender (face-api ageGenderNet)',
    description: 'p(male), p(female) of a centred face crop',
    classNames: GENDERS.slice(),
    fits: fitsFaces,
    load(ctx) {
      const { tf } = ctx;
      const m = loadGenderModel(tf);
      return makeClassifier(tf, GENDERS, (x) => tf.logSoftmax(m.logits(x)), m.dispose);
    },
  },
  {
    name: 'face-expression',
    title: 'Face expression (face-api faceExpressionNet)',
    description: `p(${EXPRESSIONS.join(', ')}) of a centred face crop`,
    classNames: EXPRESSIONS.slice(),
    fits: fitsFaces,
    load(ctx) {
      const { tf } = ctx;
      const m = loadExpressionModel(tf);
      return makeClassifier(tf, EXPRESSIONS, (x) => tf.logSoftmax(m.logits(x)), m.dispose);
    },
  },
  {
    name: 'face-age-bucket',
    title: 'Face age bucket (face-api ageGenderNet)',
    description: `P(age in ${AGE_BUCKETS.map((b) => b.name).join(' | ')}) with a logistic spread of ${AGE_SOFTNESS} years around the regressed age`,
    classNames: AGE_BUCKETS.map((b) => b.name),
    fits: fitsFaces,
    load(ctx) {
      const { tf } = ctx;
      const m = loadAgeModel(tf);
      const names = AGE_BUCKETS.map((b) => b.name);
      return makeClassifier(
        tf,
        names,
        (x) => {
          const age = m.age(x);
          return tf.stack(
            AGE_BUCKETS.map((b) => logIntervalProb(tf, age, b.lo, b.hi, AGE_SOFTNESS)),
            1,
          ) as Tensor2D;
        },
        m.dispose,
      );
    },
  },
];
