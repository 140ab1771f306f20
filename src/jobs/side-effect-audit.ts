/**
 * Side-effect audit (issue #14): after training, what did the prompt change that it
 * was not asked to? For every named classifier that fits the generator's output,
 * the class marginal of the base generator and of the prompt on the SAME ε (the
 * evaluation buffer), with the largest shifts first.
 *
 * Shift of one classifier = total variation between the counted marginals,
 * ½ Σ_c |prompt_c − base_c| (the share of images that would have to change class
 * to turn one histogram into the other; 0–1). Counted = share of images whose
 * argmax is c; the mean probability is reported beside it, since for an uncertain
 * classifier the two differ (see `debias`, docs/PLUGINS.md).
 *
 * Which classifiers: those whose definition says it fits the output
 * (`ClassifierDefinition.fits`, or a manifest's input size), plus those the prompt's
 * own controls use (they fit by construction). A classifier that fails to load or
 * run is listed with its error instead of failing the prompt's evaluation.
 */
import type { GeneratorInfo, Tensor4D, Tf } from '../sdk';
import type { PluginRegistry, PluginRuntime } from '../plugins';

export interface ClassShift {
  className: string;
  base: number;
  prompt: number;
  change: number;
}

export interface ClassifierShift {
  classifier: string;
  /** True when one of the prompt's controls uses this classifier (the steered attribute). */
  steered: boolean;
  samples: number;
  /** ½ Σ |prompt − base| of the counted marginals. */
  shift: number;
  classNames: string[];
  baseMarginal: number[];
  promptMarginal: number[];
  baseMeanProbability: number[];
  promptMeanProbability: number[];
  /** Every class, largest |change| of the counted share first. */
  classes: ClassShift[];
}

export interface SideEffectAudit {
  samples: number;
  /** Largest shift first. */
  classifiers: ClassifierShift[];
  /** Classifiers that fit but could not be evaluated (name and message). */
  failed: Array<{ classifier: string; error: string }>;
}

/**
 * Names of classifiers a prompt's controls use: a control of the same name as a
 * classifier (e.g. `mnist-digit`, `face-gender`), and every string `classifier`
 * field anywhere in its params (the generic `classifier` / `debias` controls).
 */
export function steeredClassifiers(
  terms: Array<{ control: string; params: unknown }>,
  known: string[],
): string[] {
  const set = new Set(known);
  const out = new Set<string>();
  const visit = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(visit);
    else if (v && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) {
        if (k === 'classifier' && typeof x === 'string' && set.has(x)) out.add(x);
        else visit(x);
      }
    }
  };
  for (const t of terms) {
    if (set.has(t.control)) out.add(t.control);
    visit(t.params);
  }
  return [...out].sort();
}

/** Counted marginal (argmax shares) and mean probability of probability rows. */
function marginals(rows: number[][], k: number): { counted: number[]; mean: number[] } {
  const counted = new Array(k).fill(0);
  const mean = new Array(k).fill(0);
  const n = Math.max(rows.length, 1);
  for (const r of rows) {
    let best = 0;
    for (let c = 0; c < k; c++) {
      mean[c] += r[c]! / n;
      if (r[c]! > r[best]!) best = c;
    }
    counted[best] += 1 / n;
  }
  return { counted, mean };
}

async function probRows(
  tf: Tf,
  probs: (x: Tensor4D) => ReturnType<Tf['softmax']>,
  images: Tensor4D,
  chunk = 256,
): Promise<number[][]> {
  const n = images.shape[0];
  const out: number[][] = [];
  for (let s = 0; s < n; s += chunk) {
    const k = Math.min(chunk, n - s);
    const t = tf.tidy(() =>
      probs(k === n ? images : (tf.slice(images, [s, 0, 0, 0], [k, -1, -1, -1]) as Tensor4D)),
    );
    out.push(...((await t.array()) as number[][]));
    t.dispose();
  }
  return out;
}

/** Runs the audit on base and prompt images of the same ε (the caller owns both tensors). */
export async function auditSideEffects(o: {
  tf: Tf;
  registry: PluginRegistry;
  runtime: PluginRuntime;
  generator: GeneratorInfo;
  steered: string[];
  base: Tensor4D;
  prompt: Tensor4D;
}): Promise<SideEffectAudit> {
  const { tf, registry, runtime, generator } = o;
  const steered = new Set(o.steered);
  const candidates = registry
    .classifiers()
    .filter(
      (c) =>
        steered.has(c.definition.name) ||
        (c.definition.fits ? safeFits(c.definition.fits, generator) : false),
    )
    .map((c) => c.definition.name)
    .sort();
  const out: SideEffectAudit = { samples: o.base.shape[0], classifiers: [], failed: [] };
  for (const name of candidates) {
    try {
      const clf = await registry.loadClassifier(name, generator, runtime);
      const k = clf.numClasses;
      const b = marginals(await probRows(tf, (x) => clf.probs(x), o.base), k);
      const p = marginals(await probRows(tf, (x) => clf.probs(x), o.prompt), k);
      const classes = clf.classNames
        .map((className, c) => ({
          className,
          base: b.counted[c]!,
          prompt: p.counted[c]!,
          change: p.counted[c]! - b.counted[c]!,
        }))
        .sort((x, y) => Math.abs(y.change) - Math.abs(x.change));
      out.classifiers.push({
        classifier: name,
        steered: steered.has(name),
        samples: o.base.shape[0],
        shift: classes.reduce((s, c) => s + Math.abs(c.change), 0) / 2,
        classNames: clf.classNames.slice(),
        baseMarginal: b.counted,
        promptMarginal: p.counted,
        baseMeanProbability: b.mean,
        promptMeanProbability: p.mean,
        classes,
      });
    } catch (err) {
      out.failed.push({
        classifier: name,
        error: err instanceof Error ? err.message.split('\n')[0]!.slice(0, 300) : String(err),
      });
    }
  }
  out.classifiers.sort((x, y) => y.shift - x.shift || x.classifier.localeCompare(y.classifier));
  return out;
}

function safeFits(fits: (g: GeneratorInfo['output']) => boolean, g: GeneratorInfo): boolean {
  try {
    return Boolean(fits(g.output));
  } catch {
    return false;
  }
}
