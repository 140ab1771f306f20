/**
 * The `classifier` control: E(x) = Σ_k −log Σ_{c ∈ S_k} p_k(c | x) over targets k, each a
 * named classifier and a set S_k of classes (alternatives within a target, targets
 * combined by summing), averaged over the host's augmentations; with several classes a
 * balance term −βᵀφ(x) adapted by online moment matching keeps them equally frequent.
 */
import type {
  Classifier,
  ControlDefinition,
  ControlInstance,
  Tensor1D,
  Tensor2D,
  Tensor4D,
} from 'promptgen/plugin';
import {
  AUGMENT_PARAM,
  augmenterOf,
  CLASS_REF,
  checkClassifierRef,
  CLASSIFIER_NAME,
  isBeta,
  loadNamedClassifier,
  meanRows,
  renormalisedOver,
  resolveClasses,
  rowsInChunks,
  selectionMatrix,
  STATE_VERSION,
  type AugmentParams,
  type ClassRef,
} from './shared';
import { argmaxRows, momentStep } from './statistics';

interface TargetParams {
  classifier: string;
  classes: ClassRef[];
  weight?: number;
  balance?: 'equal' | 'none';
}

export interface ClassifierParams {
  targets: TargetParams[];
  balanceRate?: number;
  augment?: AugmentParams;
}

/** One target at run time: its classifier, class indices, log-mask and optional balance term. */
interface Head {
  name: string;
  clf: Classifier;
  idx: number[];
  weight: number;
  logMask: Tensor1D;
  balance: { select: Tensor2D; beta: number[]; betaT: Tensor2D } | null;
}

export const classifierControl: ControlDefinition<ClassifierParams> = {
  name: 'classifier',
  title: 'Classifier targets',
  description:
    'Steers towards target classes of one or more named classifiers (e.g. "mnist-digit"): E = Σ_targets −log Σ_{c ∈ classes} p(c | x). ' +
    'Classes of one target are alternatives ("3 or 8"); several targets must all hold.',
  paramsSchema: {
    type: 'object',
    properties: {
      targets: {
        type: 'array',
        minItems: 1,
        maxItems: 8,
        description: 'One entry per classifier head; their energies are summed.',
        items: {
          type: 'object',
          properties: {
            classifier: CLASSIFIER_NAME,
            classes: {
              type: 'array',
              minItems: 1,
              uniqueItems: true,
              items: CLASS_REF,
              description: 'Target classes (indices or names): the energy is −log of their total probability',
            },
            weight: {
              type: 'number',
              exclusiveMinimum: 0,
              maximum: 1000,
              default: 1,
              description: 'Relative weight of this head',
            },
            balance: {
              type: 'string',
              enum: ['equal', 'none'],
              default: 'equal',
              description:
                'With several classes: "equal" keeps them equally frequent among the prompt\'s samples (online moment matching, ' +
                'an extra term −βᵀφ(x) with β adapted after every training step); "none" uses −log Σ p(c|x) alone, under which ' +
                'training often settles on one of the classes',
            },
          },
          required: ['classifier', 'classes'],
          additionalProperties: false,
        },
      },
      balanceRate: {
        type: 'number',
        exclusiveMinimum: 0,
        maximum: 10,
        default: 0.1,
        description: 'Step size of the balance adaptation (per training step)',
      },
      augment: AUGMENT_PARAM,
    },
    required: ['targets'],
    additionalProperties: false,
  },
  conditionDim: null,
  paired: false,
  checkParams(params, host) {
    const out: ReturnType<typeof checkClassifierRef>['problems'] = [];
    (params.targets || []).forEach((t, i) =>
      out.push(...checkClassifierRef(host, ['targets', String(i)], t.classifier, t.classes).problems),
    );
    return out;
  },
  async load(ctx, params, generator) {
    const { tf } = ctx;
    const heads: Head[] = [];
    try {
      for (const [i, t] of params.targets.entries()) {
        const clf = await loadNamedClassifier(ctx, t.classifier, generator, 'classifier');
        const idx = resolveClasses(clf, t.classes, `classifier targets[${i}]`);
        const add = new Float32Array(clf.numClasses).fill(-1e9);
        for (const c of idx) add[c] = 0;
        const head: Head = {
          name: t.classifier,
          clf,
          idx,
          weight: t.weight == null ? 1 : t.weight,
          logMask: tf.tensor1d(add),
          balance: null,
        };
        heads.push(head);
        if (idx.length > 1 && (t.balance || 'equal') === 'equal') {
          head.balance = {
            select: selectionMatrix(tf, clf.numClasses, idx),
            beta: new Array(idx.length).fill(0),
            betaT: tf.zeros([idx.length, 1]),
          };
        }
      }
    } catch (e) {
      heads.forEach(disposeHead);
      throw e;
    }
    const rate = params.balanceRate || 0.1;
    const aug = augmenterOf(ctx, params.augment, 3);
    const balanced = heads.filter((h) => h.balance);
    const setBeta = (h: Head, beta: number[]) => {
      if (!h.balance) return;
      h.balance.beta = beta.slice();
      h.balance.betaT.dispose();
      h.balance.betaT = tf.tensor2d(beta, [beta.length, 1]);
    };
    /** φ(x) [n, m]: the head's probabilities over its target classes, renormalised. */
    const phiOf = (h: Head, probs: Tensor2D): Tensor2D => renormalisedOver(tf, probs, h.balance!.select);
    const instance: ControlInstance = {
      energy(images) {
        return tf.tidy(() => {
          // Every head sees the same augmented copies; the energy is their mean per image.
          const x = aug ? aug.expand(images) : images;
          let e: Tensor1D | null = null;
          for (const h of heads) {
            const logp = h.clf.logProbs(x);
            // −log Σ_{c∈S} p(c|x) = −logsumexp(log p + log 1_S)
            let term: Tensor1D = tf.neg(tf.logSumExp<Tensor1D>(tf.add(logp, h.logMask), 1));
            if (h.balance)
              term = tf.sub<Tensor1D>(
                term,
                tf.reshape(tf.matMul(phiOf(h, tf.exp(logp)), h.balance.betaT), [-1]),
              );
            term = tf.mul<Tensor1D>(term, h.weight);
            e = e ? tf.add<Tensor1D>(e, term) : term;
          }
          return aug ? aug.mean(e!) : e!;
        });
      },
      async evaluate(images) {
        const n = images.shape[0];
        const targets: Record<string, unknown>[] = [];
        const out: Record<string, unknown> = { count: n, targets };
        const all: boolean[] = new Array(n).fill(true);
        for (const h of heads) {
          const rows = await rowsInChunks(tf, images, 256, (x) => h.clf.probs(x));
          const pred = argmaxRows(rows);
          const histogram: Record<string, number> = {};
          for (const name of h.clf.classNames) histogram[name] = 0;
          let hits = 0;
          let prob = 0;
          pred.forEach((p, j) => {
            histogram[h.clf.classNames[p]] += 1;
            const hit = h.idx.includes(p);
            if (hit) hits += 1;
            else all[j] = false;
            for (const c of h.idx) prob += rows[j][c];
          });
          targets.push({
            classifier: h.name,
            classes: h.idx.map((c) => h.clf.classNames[c]),
            histogram,
            targetRate: n ? hits / n : 0,
            meanTargetProb: n ? prob / n : 0,
          });
        }
        out.allTargetsRate = n ? all.filter(Boolean).length / n : 0;
        if (heads.length === 1) out.histogram = targets[0].histogram;
        heads.forEach((h, i) => {
          if (h.balance) targets[i].balanceBeta = h.balance.beta;
        });
        return out;
      },
      dispose() {
        heads.forEach(disposeHead);
      },
    };
    if (balanced.length) {
      instance.observe = async (images: Tensor4D) => {
        for (const h of balanced) {
          const m = h.idx.length;
          const mean = await meanRows(
            tf,
            tf.tidy(() => phiOf(h, h.clf.probs(images))),
          );
          setBeta(h, momentStep(h.balance!.beta, mean, new Array(m).fill(1 / m), rate));
        }
      };
      instance.trainingState = () => ({
        version: STATE_VERSION,
        balance: heads.map((h) => (h.balance ? h.balance.beta.slice() : null)),
      });
      instance.restoreTrainingState = (raw: unknown) => {
        const state = raw as { version?: unknown; balance?: unknown } | null;
        const b =
          state && state.version === STATE_VERSION && Array.isArray(state.balance)
            ? (state.balance as unknown[])
            : null;
        if (!b || b.length !== heads.length)
          throw new Error('classifier: training state does not match this control');
        heads.forEach((h, i) => {
          if (!h.balance) return;
          const beta = b[i];
          if (!isBeta(beta, h.idx.length)) {
            throw new Error(
              `classifier: training state of targets[${i}] does not match (${h.idx.length} classes)`,
            );
          }
          setBeta(h, beta);
        });
      };
    }
    return instance;
  },
};

function disposeHead(h: Head): void {
  h.logMask.dispose();
  if (h.balance) {
    h.balance.select.dispose();
    if (h.balance.betaT) h.balance.betaT.dispose();
  }
}
