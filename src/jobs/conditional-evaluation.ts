/**
 * Metrics of a conditional prompt across its trained condition range, in
 * bounded memory.
 *
 * A conditional prompt that ignores its condition looks perfect at condition 0
 * (the flow learns one compromise for every ρ), so one point says nothing. Here
 * each condition component with a non-empty trained range [lo, hi] is swept at
 * LEVELS evenly spaced values (the other components at 0, or their midpoint when
 * 0 is outside their range), with the same ε at every level. Per level:
 *
 *   - requested ρ_j and the control's own measurement m_j = measureCondition(G(f(ε; ρ)))
 *     (mean, sd over the samples);
 *   - for every paired control, its evaluatePair(G(f(ε; ρ)), G(f(ε; 0))) averaged
 *     (e.g. same digit, descriptor distance), plus its mean energy.
 *
 * and per component the least-squares line m = a + b·ρ over all samples:
 * slope b is 1 when the prompt follows its condition exactly and 0 when it
 * ignores it (r² says how tightly).
 *
 * Memory: images are generated in chunks of CHUNK (sampleImages) and every net
 * sees at most CHUNK images (twice that for a paired net, which runs both
 * halves as one batch). Only host arrays of per-sample numbers are kept, so the
 * peak is bounded by one chunk through the largest net, whatever the sample count.
 */
import { sampleImages, type Flow, type ImageBatch } from '../engine';
import type { ControlInstance, GeneratorInstance, Tensor2D, Tensor4D, Tf } from '../sdk';

/** Levels per condition component: the two ends, the middle and two in between. */
export const LEVELS = 5;
/** Images per forward pass through a control's net during evaluation. */
export const CHUNK = 16;

export interface ConditionalSpec {
  /** The conditional control and its name. */
  control: ControlInstance;
  name: string;
  range: { min: number[]; max: number[] };
}

export interface PairedSpec {
  control: ControlInstance;
  name: string;
}

export interface LevelMetrics {
  requested: number;
  measuredMean: number | null;
  measuredSd: number | null;
  paired: Record<string, Record<string, number>>;
}

export interface ComponentMetrics {
  component: number;
  name: string;
  min: number;
  max: number;
  levels: LevelMetrics[];
  /** Least-squares slope of measured on requested, over all samples (null without measureCondition). */
  slope: number | null;
  intercept: number | null;
  r2: number | null;
}

export interface ConditionalMetrics {
  conditionDim: number;
  names: string[];
  min: number[];
  max: number[];
  samplesPerLevel: number;
  components: ComponentMetrics[];
}

/** Least squares y = a + b·x; r² of the fit. Nulls when x has no spread. */
export function fitLine(
  xs: number[],
  ys: number[],
): { slope: number | null; intercept: number | null; r2: number | null } {
  const n = xs.length;
  if (n < 2) return { slope: null, intercept: null, r2: null };
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let sxx = 0;
  let sxy = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    sxx += (xs[i]! - mx) ** 2;
    sxy += (xs[i]! - mx) * (ys[i]! - my);
    syy += (ys[i]! - my) ** 2;
  }
  if (!(sxx > 0)) return { slope: null, intercept: null, r2: null };
  const slope = sxy / sxx;
  return { slope, intercept: my - slope * mx, r2: syy > 0 ? (sxy * sxy) / (sxx * syy) : null };
}

const mean = (v: number[]) => (v.length ? v.reduce((a, b) => a + b, 0) / v.length : 0);

/** Runs fn on [start, start + m) of a host image batch as a tensor (disposed after). */
async function overChunks(
  tf: Tf,
  batch: ImageBatch,
  fn: (x: Tensor4D, start: number) => Promise<void>,
): Promise<void> {
  const per = batch.height * batch.width * batch.channels;
  for (let start = 0; start < batch.n; start += CHUNK) {
    const m = Math.min(CHUNK, batch.n - start);
    const x = tf.tensor4d(batch.data.subarray(start * per, (start + m) * per), [
      m,
      batch.height,
      batch.width,
      batch.channels,
    ]) as Tensor4D;
    try {
      await fn(x, start);
    } finally {
      x.dispose();
    }
  }
}

export async function evaluateConditional(o: {
  tf: Tf;
  flow: Flow;
  generator: GeneratorInstance;
  latentDim: number;
  conditional: ConditionalSpec;
  paired: PairedSpec[];
  /** Total sample budget; split over the levels of every swept component (at least 8 per level). */
  samples: number;
  seed: number;
}): Promise<ConditionalMetrics> {
  const { tf, flow, generator, conditional, paired } = o;
  const c = flow.config.conditionDim;
  const { min, max } = conditional.range;
  if (min.length !== c || max.length !== c)
    throw new Error(`condition range has ${min.length}/${max.length} components, the flow ${c}`);
  const names =
    conditional.control.conditionNames?.length === c
      ? conditional.control.conditionNames
      : Array.from({ length: c }, (_, j) => `c${j}`);
  const swept = Array.from({ length: c }, (_, j) => j).filter((j) => max[j]! > min[j]!);
  const perLevel = Math.max(8, Math.floor(o.samples / Math.max(1, swept.length * LEVELS)));
  const rest = Array.from({ length: c }, (_, j) =>
    min[j]! <= 0 && 0 <= max[j]! ? 0 : (min[j]! + max[j]!) / 2,
  );
  const sample = (condition: number[]) =>
    sampleImages({
      tf,
      flow,
      generator,
      latentDim: o.latentDim,
      count: perLevel,
      seed: o.seed,
      condition,
      batchSize: CHUNK,
    });
  // The pairs: the same ε at condition 0, as in training (objective.ts).
  const pairs = paired.length ? await sample(new Array(c).fill(0)) : undefined;

  const components: ComponentMetrics[] = [];
  for (const j of swept) {
    const xs: number[] = [];
    const ys: number[] = [];
    const levels: LevelMetrics[] = [];
    for (let k = 0; k < LEVELS; k++) {
      const requested = min[j]! + ((max[j]! - min[j]!) * k) / (LEVELS - 1);
      const condition = rest.slice();
      condition[j] = requested;
      const images = await sample(condition);
      const measured: number[] = [];
      const pairedSums: Record<string, Record<string, number[]>> = {};
      await overChunks(tf, images, async (x, start) => {
        if (conditional.control.measureCondition) {
          const m = tf.tidy(() => conditional.control.measureCondition!(x));
          const v = (await m.data()) as Float32Array;
          m.dispose();
          for (let i = 0; i < x.shape[0]; i++) measured.push(v[i * c + j]!);
        }
        if (!pairs) return;
        const per = pairs.height * pairs.width * pairs.channels;
        const p = tf.tensor4d(
          pairs.data.subarray(start * per, (start + x.shape[0]) * per),
          x.shape,
        ) as Tensor4D;
        try {
          for (const pc of paired) {
            const acc = (pairedSums[pc.name] ??= {});
            const r = pc.control.evaluatePair ? await pc.control.evaluatePair(x, p) : {};
            for (const [key, vals] of Object.entries(r)) (acc[key] ??= []).push(...vals);
            // The energy itself, unless evaluatePair already gave it (a big net is then run once, not twice).
            if (!r.energy) {
              const e = tf.tidy(() =>
                pc.control.energy(x, { z: tf.zeros([x.shape[0], 1]) as Tensor2D, pairImages: p }),
              );
              (acc.energy ??= []).push(...Array.from((await e.data()) as Float32Array));
              e.dispose();
            }
          }
        } finally {
          p.dispose();
        }
      });
      for (const v of measured) {
        xs.push(requested);
        ys.push(v);
      }
      const mm = measured.length ? mean(measured) : null;
      levels.push({
        requested,
        measuredMean: mm,
        measuredSd: mm === null ? null : Math.sqrt(mean(measured.map((v) => (v - mm) ** 2))),
        paired: Object.fromEntries(
          Object.entries(pairedSums).map(([name, acc]) => [
            name,
            Object.fromEntries(Object.entries(acc).map(([k2, v]) => [k2, mean(v)])),
          ]),
        ),
      });
    }
    components.push({
      component: j,
      name: names[j]!,
      min: min[j]!,
      max: max[j]!,
      levels,
      ...fitLine(xs, ys),
    });
  }
  return {
    conditionDim: c,
    names,
    min: min.slice(),
    max: max.slice(),
    samplesPerLevel: perLevel,
    components,
  };
}
