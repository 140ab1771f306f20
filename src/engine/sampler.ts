/**
 * Feed-forward sampling: ε → f(ε) → G(z), no gradients, in batches.
 * The same seed gives the same images whatever the batch size (ε is drawn
 * sequentially from one seeded stream).
 */
import type { Tf, Tensor2D, Tensor4D, GeneratorInstance } from '../sdk/index';
import type { Flow } from './flow';
import { Rng } from './rng';
import { conditionInput } from './condition-input';
import { getTf } from './backend';
import { concatImageBatches, readImageBatch, type ImageBatch } from './images';

export interface SampleOptions {
  tf?: Tf;
  /** Without a flow, samples the base generator (z = ε). */
  flow?: Flow;
  generator: GeneratorInstance;
  /** Latent size; defaults to flow.dim, else generator.latentDim when present. */
  latentDim?: number;
  count: number;
  seed: number;
  /** ε is scaled by this (ψ; 1 = no truncation). */
  truncation?: number;
  /** One condition vector for all samples, [1, c] / [count, c] tensor, or a per-sample function. */
  condition?: ArrayLike<number> | Tensor2D | ((index: number) => ArrayLike<number>);
  /** Images per batch; by default chosen for throughput (see autoBatchSize). */
  batchSize?: number;
}

/** Largest automatic batch: throughput of the benchmark's generators levels off at 128–256 images (docs/PERFORMANCE.md). */
export const MAX_AUTO_BATCH = 256;
/** First batch when the size is automatic: small, to learn the image size before committing memory. */
const PROBE_BATCH = 16;
/** Output values per automatic batch (32 MB of float32); a generator's activations are a small multiple of its output. */
const AUTO_BATCH_VALUES = 8 * 1024 * 1024;

/**
 * Batch size for throughput: per-batch costs (kernel launches, the flow's
 * fixed work per call) are amortised up to ~256 images, while memory grows
 * with the image: 256 for 32×32 or 64×64 RGB, 42 for 256×256, 2 for 1024×1024.
 */
export function autoBatchSize(valuesPerImage: number): number {
  return Math.max(1, Math.min(MAX_AUTO_BATCH, Math.floor(AUTO_BATCH_VALUES / Math.max(1, valuesPerImage))));
}

function latentDimOf(opts: { flow?: Flow; generator: GeneratorInstance; latentDim?: number }): number {
  const d = opts.latentDim ?? opts.flow?.dim ?? (opts.generator as { latentDim?: number }).latentDim;
  if (!d) throw new Error('latentDim is unknown: pass latentDim or a generator with a latentDim property');
  return d;
}

function isTensor(x: unknown): x is Tensor2D {
  return typeof x === 'object' && x !== null && 'dataId' in x && 'shape' in x;
}

export async function sampleImages(opts: SampleOptions): Promise<ImageBatch> {
  const tf = opts.tf ?? getTf();
  const { flow, generator, count } = opts;
  const d = latentDimOf(opts);
  if (flow && flow.dim !== d) throw new Error(`flow dim ${flow.dim} differs from latentDim ${d}`);
  const psi = opts.truncation ?? 1;
  let bs = Math.max(1, opts.batchSize ?? PROBE_BATCH);
  const auto = opts.batchSize === undefined;
  const rng = new Rng(opts.seed);
  const c = flow?.config.conditionDim ?? 0;
  const batches: ImageBatch[] = [];
  for (let start = 0; start < count; start += bs) {
    if (auto && batches.length === 1) bs = autoBatchSize(batches[0]!.data.length / batches[0]!.n);
    const n = Math.min(bs, count - start);
    const eps = rng.normals(n * d, psi);
    const images = tf.tidy(() => {
      const e = tf.tensor2d(eps, [n, d]);
      let z: Tensor2D = e;
      if (flow) {
        let cond: Tensor2D | undefined;
        const cc = opts.condition;
        if (c > 0 && cc !== undefined) {
          if (isTensor(cc)) {
            cond = cc.shape[0] === 1 ? cc : (tf.slice(cc, [start, 0], [n, c]) as Tensor2D);
          } else if (typeof cc === 'function') {
            const buf = new Float32Array(n * c);
            for (let i = 0; i < n; i++) buf.set(Array.from(cc(start + i)).slice(0, c), i * c);
            cond = tf.tensor2d(buf, [n, c]);
          } else {
            cond = tf.tensor2d(Float32Array.from(cc), [1, c]);
          }
        }
        z = flow.forward(e, conditionInput(tf, cond)).z;
      }
      return generator.generate(z);
    }) as Tensor4D;
    batches.push(await readImageBatch(images));
    images.dispose();
    if (start + bs < count) await new Promise<void>((r) => setImmediate(r));
  }
  return concatImageBatches(batches);
}

/**
 * n images [n, h, w, c] from the base generator with z ~ N(0, I) drawn from `seed`
 * (for calibrate(): `(n) => sampleBase(generator, n, seed)`). The caller disposes the tensor.
 */
export async function sampleBase(
  generator: GeneratorInstance & { latentDim?: number },
  n: number,
  seed: number,
  opts: { tf?: Tf; latentDim?: number; batchSize?: number } = {},
): Promise<Tensor4D> {
  const tf = opts.tf ?? getTf();
  const d = latentDimOf({ generator, latentDim: opts.latentDim });
  const bs = Math.max(1, opts.batchSize ?? 64);
  const rng = new Rng(seed);
  const parts: Tensor4D[] = [];
  for (let start = 0; start < n; start += bs) {
    const k = Math.min(bs, n - start);
    const eps = rng.normals(k * d);
    parts.push(tf.tidy(() => generator.generate(tf.tensor2d(eps, [k, d]))));
  }
  if (parts.length === 1) return parts[0];
  const out = tf.concat(parts, 0) as Tensor4D;
  parts.forEach((p) => p.dispose());
  return out;
}
