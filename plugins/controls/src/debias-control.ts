/**
 * The `debias` control: the moment constraint. For each attribute (a classifier and an
 * optional subset of its classes, renormalised), φ(x) is the classifier's softmax over
 * those classes and h(x) the one-hot of its predicted class; calibrate() fits β̂ on N base
 * samples (statistics.ts: fitDebias, noiseShrinkage) so that the self-normalised weights
 * exp(βᵀφ(x_j)) move the counted marginal onto the target. Energy E(x) = −Σ_a β̂_aᵀ φ_a(x).
 */
import type {
  Classifier,
  ControlDefinition,
  ControlInstance,
  Tensor1D,
  Tensor2D,
  Tensor4D,
} from 'promptgen/plugin';
import { DEBIAS_PARAMS_SCHEMA } from './debias-params';
import {
  augmenterOf,
  CALIBRATION_DRAWS,
  checkClassifierRef,
  isBeta,
  loadNamedClassifier,
  renormalisedOver,
  resolveClasses,
  rowsInChunks,
  selectionMatrix,
  STATE_VERSION,
  type AugmentParams,
  type ClassRef,
} from './shared';
import {
  fitDebias,
  kl,
  momentStep,
  noiseShrinkage,
  oneHotRows,
  tiltWeights,
  weightedMean,
} from './statistics';

interface AttributeParams {
  classifier: string;
  classes?: ClassRef[];
  target?: number[];
}

export interface DebiasParams {
  attributes: AttributeParams[];
  samples?: number;
  iterations?: number;
  learningRate?: number;
  marginal?: 'counted' | 'mean';
  temperature?: number;
  shrink?: boolean;
  adaptive?: boolean;
  adaptRate?: number;
  augment?: AugmentParams;
}

/** One attribute at run time: its classifier, classes, target and (once calibrated) β. */
interface Attribute {
  name: string;
  clf: Classifier;
  idx: number[];
  target: number[];
  select: Tensor2D;
  beta: number[] | null;
  betaT: Tensor2D | null;
  fit: Record<string, unknown> | null;
}

/** The saved calibration: β̂ per attribute with the fit's figures. */
interface CalibrationState {
  version?: unknown;
  attributes?: {
    classifier?: unknown;
    classIndices?: unknown;
    beta?: unknown;
    fit?: Record<string, unknown> | null;
  }[];
}

export const debiasControl: ControlDefinition<DebiasParams> = {
  name: 'debias',
  title: 'De-bias (moment constraint)',
  description:
    "Moves the share of images in each of a classifier's classes towards a target distribution (uniform by default): β̂ is fitted on " +
    'base-generator samples so that the importance weights exp(βᵀφ(x)), φ = softmax over the chosen classes, put the target share of ' +
    'images in each class as the classifier counts them (argmax); E = −Σ β̂ᵀφ(x), averaged over augmentations. Use weight 1–2.',
  paramsSchema: DEBIAS_PARAMS_SCHEMA,
  conditionDim: null,
  paired: false,
  checkParams(params, host) {
    const out: ReturnType<typeof checkClassifierRef>['problems'] = [];
    (params.attributes || []).forEach((a, i) => {
      const at = ['attributes', String(i)];
      const { problems, numClasses } = checkClassifierRef(host, at, a.classifier, a.classes);
      out.push(...problems);
      const k = a.classes ? a.classes.length : numClasses;
      if (a.target && k != null && a.target.length !== k) {
        out.push({
          field: [...at, 'target'],
          message: `must have ${k} entries (one per class${a.classes ? ' listed in classes' : ` of ${a.classifier}`}), got ${a.target.length}`,
        });
      }
      if (!a.classes && numClasses != null && numClasses < 2)
        out.push({ field: [...at, 'classifier'], message: 'needs at least 2 classes' });
    });
    return out;
  },
  async load(ctx, params, generator) {
    const { tf } = ctx;
    const attrs: Attribute[] = [];
    try {
      for (const [i, a] of params.attributes.entries()) {
        const clf = await loadNamedClassifier(ctx, a.classifier, generator, 'debias');
        const idx = a.classes
          ? resolveClasses(clf, a.classes, `debias attributes[${i}]`)
          : clf.classNames.map((_, k) => k);
        if (idx.length < 2) throw new Error(`debias attributes[${i}]: needs at least 2 classes`);
        let target = a.target ? a.target.slice() : new Array(idx.length).fill(1);
        if (target.length !== idx.length)
          throw new Error(
            `debias attributes[${i}]: target has ${target.length} entries for ${idx.length} classes`,
          );
        const ts = target.reduce((s, x) => s + x, 0);
        target = target.map((x) => x / ts);
        attrs.push({
          name: a.classifier,
          clf,
          idx,
          target,
          select: selectionMatrix(tf, clf.numClasses, idx),
          beta: null,
          betaT: null,
          fit: null,
        });
      }
    } catch (e) {
      attrs.forEach((x) => x.select.dispose());
      throw e;
    }
    const samples = params.samples || 1024;
    const fitOpts = { iterations: params.iterations || 500, learningRate: params.learningRate || 0.05 };
    const shrink = params.shrink !== false;
    const counted = (params.marginal || 'counted') === 'counted';
    const temperature = params.temperature || 1;
    const aug = augmenterOf(ctx, params.augment, 7);
    const adaptRate = params.adaptRate || 0.1;

    /** φ_a(x) [n, m] of images as given: softmax(log p / T) over the attribute's classes. */
    const phiPlain = (a: Attribute, images: Tensor4D): Tensor2D => {
      const p = renormalisedOver(tf, a.clf.probs(images), a.select);
      if (temperature === 1) return p;
      return tf.softmax(tf.div<Tensor2D>(tf.log(tf.add(p, 1e-12)), temperature));
    };
    /** φ_a as the energy sees it: the mean over augmented copies. */
    const phiOf = (a: Attribute, images: Tensor4D): Tensor2D =>
      aug ? aug.mean(phiPlain(a, aug.expand(images))) : phiPlain(a, images);
    /**
     * φ rows of the calibration samples: the mean of CALIBRATION_DRAWS calls of phiOf (fresh augmentations
     * each), so β̂ is fitted on the average the training steps estimate one draw at a time.
     */
    const calibrationPhi = async (a: Attribute, images: Tensor4D): Promise<number[][]> => {
      const draws = aug ? CALIBRATION_DRAWS : 1;
      let sum: number[][] | null = null;
      for (let d = 0; d < draws; d++) {
        const rows = await rowsInChunks(tf, images, 256, (x) => phiOf(a, x));
        sum = sum ? sum.map((r, j) => r.map((v, k) => v + rows[j][k])) : rows;
      }
      return sum!.map((r) => r.map((v) => v / draws));
    };
    /** Rows of the probabilities over the attribute's classes (renormalised), no augmentation: what is counted. */
    const probsRows = (a: Attribute, images: Tensor4D) =>
      rowsInChunks(tf, images, 256, (x) => renormalisedOver(tf, a.clf.probs(x), a.select));
    const setBeta = (a: Attribute, beta: number[]) => {
      if (a.betaT) a.betaT.dispose();
      a.beta = beta.slice();
      a.betaT = tf.tensor2d(beta, [beta.length, 1]);
    };
    const describe = (a: Attribute) => ({
      classifier: a.name,
      classes: a.idx.map((c) => a.clf.classNames[c]),
    });
    /** Whether observe() refines β: the param, or by default a deviation well above the noise. */
    const adapting = (a: Attribute): boolean =>
      params.adaptive != null ? params.adaptive : Boolean(a.fit && Number(a.fit.shrinkage) >= 0.9);

    const instance: ControlInstance = {
      async calibrate(sampleBase) {
        const images = await sampleBase(samples);
        try {
          for (const a of attrs) {
            const phi = await calibrationPhi(a, images);
            const probs = await probsRows(a, images);
            const h = counted ? oneHotRows(probs) : phi;
            const noise: { shrinkage: number; t2: number | null; fitTarget: number[] } = shrink
              ? noiseShrinkage(h, a.target)
              : { shrinkage: 1, t2: null, fitTarget: a.target };
            const fit = fitDebias(phi, noise.fitTarget, { ...fitOpts, counts: counted ? h : undefined });
            // Both marginals of the base, before and after the tilt, whichever one was fitted.
            const w = tiltWeights(phi, fit.beta);
            const cnt = oneHotRows(probs);
            setBeta(a, fit.beta);
            a.fit = {
              marginal: counted ? 'counted' : 'mean',
              temperature,
              samples: phi.length,
              loss: fit.loss,
              initialLoss: fit.initialLoss,
              iterations: fit.iterations,
              marginalBefore: fit.marginalBefore,
              marginalAfter: fit.marginalAfter,
              effectiveSampleSize: fit.effectiveSampleSize,
              countedBefore: weightedMean(cnt, null),
              countedAfter: weightedMean(cnt, w),
              meanProbBefore: weightedMean(probs, null),
              meanProbAfter: weightedMean(probs, w),
              shrinkage: noise.shrinkage,
              t2: noise.t2,
              fitTarget: noise.fitTarget,
            };
            ctx.logger.info(`debias: fitted β̂ for ${a.name} on ${phi.length} base samples`, {
              marginal: a.fit.marginal,
              loss: fit.loss,
              initialLoss: fit.initialLoss,
              beta: fit.beta,
              shrinkage: noise.shrinkage,
              t2: noise.t2,
            });
          }
        } finally {
          images.dispose();
        }
      },
      calibrationState() {
        return {
          version: STATE_VERSION,
          attributes: attrs.map((a) => ({
            ...describe(a),
            classIndices: a.idx,
            target: a.target,
            beta: a.beta,
            fit: a.fit,
          })),
        };
      },
      restoreCalibration(state) {
        const s = state as CalibrationState | null;
        if (
          !s ||
          s.version !== STATE_VERSION ||
          !Array.isArray(s.attributes) ||
          s.attributes.length !== attrs.length
        ) {
          throw new Error(
            `debias: calibration state does not match this control (${attrs.length} attribute(s), version ${STATE_VERSION})`,
          );
        }
        s.attributes.forEach((x, i) => {
          const a = attrs[i];
          if (!x || x.classifier !== a.name || !isBeta(x.beta, a.idx.length)) {
            throw new Error(
              `debias: calibration state of attribute ${i} does not match (${a.name}, ${a.idx.length} classes)`,
            );
          }
          if (Array.isArray(x.classIndices) && x.classIndices.join(',') !== a.idx.join(',')) {
            throw new Error(
              `debias: calibration state of attribute ${i} is for classes ${x.classIndices.join(',')}, not ${a.idx.join(',')}`,
            );
          }
          setBeta(a, x.beta);
          a.fit = x.fit || null;
        });
      },
      energy(images) {
        for (const a of attrs)
          if (!a.betaT)
            throw new Error('debias: calibrate() (or restoreCalibration()) must run before energy()');
        return tf.tidy(() => {
          let e: Tensor1D | null = null;
          for (const a of attrs) {
            const term: Tensor1D = tf.neg(tf.reshape(tf.matMul(phiOf(a, images), a.betaT!), [-1]));
            e = e ? tf.add<Tensor1D>(e, term) : term;
          }
          return e!;
        });
      },
      async evaluate(images) {
        const n = images.shape[0];
        const attributes: Record<string, unknown>[] = [];
        const out: Record<string, unknown> = { count: n, attributes };
        let klSum = 0;
        for (const a of attrs) {
          const rows = await rowsInChunks(tf, images, 256, (x) => a.clf.probs(x));
          const m = a.idx.length;
          const histogram: Record<string, number> = {};
          for (const c of a.idx) histogram[a.clf.classNames[c]] = 0;
          const counts: number[] = new Array(m).fill(0);
          const soft: number[] = new Array(m).fill(0);
          let outside = 0;
          for (const r of rows) {
            // Predicted class among the attribute's classes; `outside` counts images whose overall argmax is elsewhere.
            let best = 0;
            let s = 0;
            for (let j = 0; j < m; j++) {
              if (r[a.idx[j]] > r[a.idx[best]]) best = j;
              s += r[a.idx[j]];
            }
            counts[best] += 1;
            for (let j = 0; j < m; j++) soft[j] += r[a.idx[j]] / Math.max(s, 1e-12) / Math.max(n, 1);
            let top = 0;
            for (let k = 1; k < r.length; k++) if (r[k] > r[top]) top = k;
            if (!a.idx.includes(top)) outside += 1;
          }
          a.idx.forEach((c, j) => {
            histogram[a.clf.classNames[c]] = counts[j];
          });
          const marginal = counts.map((c) => (n ? c / n : 0));
          const d = kl(marginal, a.target);
          klSum += d;
          attributes.push({
            ...describe(a),
            histogram,
            // counted: share of images per class (argmax among the classes); softMarginal: mean probability
            marginal,
            softMarginal: soft,
            target: a.target,
            kl: d,
            softKl: kl(soft, a.target),
            outside,
            beta: a.beta,
            adaptive: adapting(a),
          });
        }
        out.kl = klSum;
        if (attrs.length === 1) {
          out.histogram = attributes[0].histogram;
          out.marginal = attributes[0].marginal;
          out.softMarginal = attributes[0].softMarginal;
        }
        return out;
      },
      /**
       * Online moment matching on the fitted marginal (counted shares of the batch by default),
       * for attributes that adapt: the flow may stop short of the fitted tilt in a short run.
       */
      async observe(images) {
        for (const a of attrs) {
          if (!a.betaT)
            throw new Error('debias: calibrate() (or restoreCalibration()) must run before training');
          if (!adapting(a)) continue;
          const rows = tf.tidy(() =>
            counted ? renormalisedOver(tf, a.clf.probs(images), a.select) : phiPlain(a, images),
          );
          const js = (await rows.array()) as number[][]; // asynchronous: webgpu has no synchronous read in Node
          rows.dispose();
          const mean = weightedMean(counted ? oneHotRows(js) : js, null);
          setBeta(a, momentStep(a.beta!, mean, a.target, adaptRate));
        }
      },
      trainingState: () => ({
        version: STATE_VERSION,
        beta: attrs.map((a) => (a.beta ? a.beta.slice() : null)),
      }),
      restoreTrainingState(raw) {
        const state = raw as { version?: unknown; beta?: unknown } | null;
        const b =
          state && state.version === STATE_VERSION && Array.isArray(state.beta)
            ? (state.beta as unknown[])
            : null;
        if (!b || b.length !== attrs.length)
          throw new Error('debias: training state does not match this control');
        attrs.forEach((a, i) => {
          const beta = b[i];
          if (!isBeta(beta, a.idx.length)) {
            throw new Error(
              `debias: training state of attribute ${i} does not match (${a.idx.length} classes)`,
            );
          }
          setBeta(a, beta);
        });
      },
      dispose() {
        for (const a of attrs) {
          a.select.dispose();
          if (a.betaT) a.betaT.dispose();
        }
      },
    };
    return instance;
  },
};
