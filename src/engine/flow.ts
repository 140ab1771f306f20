/**
 * The PromptGen normalizing flow f: ε ↦ z (PAPER.md, "The flow block").
 *
 * Each block, on rows x = [a | b] with |a| = floor(d/2), |b| = ceil(d/2):
 *   st = 0.1 · (LeakyReLU_0.1([a | cond] W1 + b1) W2 + b2),  st = [s | t]
 *   s ← 2 tanh(s);  b ← b · exp(s) + t;           logdet += Σ s
 *   y ← y · scale + offset, scale = 0.1 · softplus_β=0.5(g) (1 at init); logdet += Σ log scale
 *   y ← y R   (R fixed random orthogonal, saved with the weights)
 * Only slices, concats and matMuls are used (no gather), so gradients work on
 * every backend. Where the backend registers them (cpu; wasm with the native
 * OpenBLAS addon), a block runs as one fused kernel per direction instead
 * (coupling.ts, kernels/fused-coupling.ts): same maths, same weights.
 *
 * Identity at creation (format version 2): a fresh flow is f(ε) = ε exactly, so a
 * prompt and its base generator show the same subject on the same seed until
 * training moves them apart. Two things make it so, neither touches forward():
 *   - each subnet's last layer (w2, b2) starts at zero, so s = t = 0 (scale 1 and
 *     offset 0 already are), every coupling is the identity;
 *   - the last block's rotation is R_B = (R_1 ⋯ R_{B−1})ᵀ, not a fresh draw, so
 *     the product of all rotations is I. R_B is still orthogonal and fixed, and
 *     the earlier blocks still mix every coordinate between couplings.
 * Rotations are saved with the weights, so version-1 artifacts (random last
 * rotation, random w2/b2) load and run unchanged; the version only records how
 * the flow was initialised.
 */
import type { Tf, Tensor2D, Tensor1D, GeneratorInstance, Tensor4D } from '../sdk/index';
import type { Variable } from '@tensorflow/tfjs-core';
import { Rng } from './rng';
import { packArtifact, unpackArtifact, type ArtifactBlob } from './artifact';
import { fusedBlocks, fusedCouplingAvailable } from './coupling';

export interface FlowConfig {
  dim: number;
  blocks: number;
  hidden: number;
  conditionDim: number;
  seed: number;
}

export const FLOW_FORMAT = 'promptgen-flow';
export const FLOW_FORMAT_VERSION = 2;
/** Artifact versions this code reads: 1 (random init), 2 (identity at creation; same layout). */
const READABLE_FLOW_VERSIONS = new Set([1, 2]);

/** g such that 0.1 · softplus_β=0.5(g) = 1: g = 2·log(e^5 − 1). */
const G_INIT = 2 * Math.log(Math.exp(5) - 1);

interface Block {
  w1: Variable; // [h1 + c, hidden]
  b1: Variable; // [hidden]
  w2: Variable; // [hidden, 2 h2]
  b2: Variable; // [2 h2]
  g: Variable; // [d]
  offset: Variable; // [d]
  rotation: Variable; // [d, d], not trainable
  rotationT: Variable; // [d, d], not trainable (for the inverse)
}

const PARAM_NAMES = ['w1', 'b1', 'w2', 'b2', 'g', 'offset'] as const;

export function normalizeFlowConfig(c: Partial<FlowConfig> & { dim: number }): FlowConfig {
  const cfg: FlowConfig = {
    dim: c.dim,
    blocks: c.blocks ?? 8,
    hidden: c.hidden ?? 256,
    conditionDim: c.conditionDim ?? 0,
    seed: c.seed ?? 42,
  };
  for (const k of ['dim', 'blocks', 'hidden'] as const) {
    if (!Number.isInteger(cfg[k]) || cfg[k] < 1) throw new Error(`flow ${k} must be a positive integer`);
  }
  if (cfg.dim < 2) throw new Error('flow dim must be at least 2');
  if (!Number.isInteger(cfg.conditionDim) || cfg.conditionDim < 0)
    throw new Error('flow conditionDim must be a non-negative integer');
  return cfg;
}

/**
 * A random orthogonal d×d matrix, row-major: modified Gram–Schmidt in float64 on
 * a Gaussian matrix (Haar-distributed). The columns live in one contiguous
 * buffer, and a single pass suffices in float64: the loss of orthogonality is
 * ~1e-16 · cond(A), far below the float32 the rotation is stored in. Draws the
 * same normals, column by column, as the earlier two-pass version; the result
 * agrees with it to float32 rounding, ~2× faster (d = 512: ~0.5 s → ~0.2 s).
 */
export function randomOrthogonal(d: number, rng: Rng): Float32Array {
  const q = new Float64Array(d * d); // column j at q[j*d .. j*d + d)
  for (let j = 0; j < d; j++) {
    const o = j * d;
    for (let i = 0; i < d; i++) q[o + i] = rng.normal();
    for (let k = 0; k < j; k++) {
      const p = k * d;
      let r = 0;
      for (let i = 0; i < d; i++) r += q[p + i]! * q[o + i]!;
      for (let i = 0; i < d; i++) q[o + i]! -= r * q[p + i]!;
    }
    let n = 0;
    for (let i = 0; i < d; i++) n += q[o + i]! * q[o + i]!;
    n = Math.sqrt(n);
    for (let i = 0; i < d; i++) q[o + i]! /= n;
  }
  const out = new Float32Array(d * d);
  for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) out[i * d + j] = q[j * d + i]!;
  return out;
}

/**
 * (R_1 ⋯ R_k)ᵀ for orthogonal d×d row-major matrices (I for k = 0), in float64:
 * the last block's rotation that makes the product of all rotations I.
 */
export function inverseOfProduct(rotations: Float32Array[], d: number): Float32Array {
  let p = new Float64Array(d * d);
  for (let i = 0; i < d; i++) p[i * d + i] = 1;
  for (const r of rotations) {
    const next = new Float64Array(d * d);
    for (let i = 0; i < d; i++) {
      for (let k = 0; k < d; k++) {
        const a = p[i * d + k]!;
        if (a === 0) continue;
        for (let j = 0; j < d; j++) next[i * d + j]! += a * r[k * d + j]!;
      }
    }
    p = next;
  }
  const out = new Float32Array(d * d);
  for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) out[i * d + j] = p[j * d + i]!;
  return out;
}

function uniformInit(n: number, bound: number, rng: Rng): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (rng.random() * 2 - 1) * bound;
  return out;
}

export class Flow {
  readonly tf: Tf;
  readonly config: FlowConfig;
  private readonly blockVars: Block[] = [];
  private disposed = false;
  /**
   * Use the fused coupling kernels where the backend has them (coupling.ts).
   * Off: always the unfused ops (the reference the fused kernels are tested against).
   */
  useFusedBlocks = true;

  /**
   * Creates a flow with fresh weights drawn from `config.seed` (PyTorch's default Linear init for
   * w1, b1; w2, b2 zero and the last rotation closing the product: the identity, see the header),
   * or with the given weights (rotations included).
   */
  constructor(tf: Tf, config: Partial<FlowConfig> & { dim: number }, weights?: Map<string, Float32Array>) {
    this.tf = tf;
    this.config = normalizeFlowConfig(config);
    const { dim: d, hidden, conditionDim: c, blocks } = this.config;
    const h1 = Math.floor(d / 2);
    const h2 = d - h1;
    const rng = new Rng(this.config.seed);
    for (let i = 0; i < blocks; i++) {
      const get = (name: string, size: number, make: () => Float32Array): Float32Array => {
        if (weights) {
          const w = weights.get(`block${i}.${name}`);
          if (!w) throw new Error(`flow weights lack block${i}.${name}`);
          if (w.length !== size)
            throw new Error(`flow weight block${i}.${name} has ${w.length} values, expected ${size}`);
          return w;
        }
        return make();
      };
      const in1 = h1 + c;
      const bound1 = 1 / Math.sqrt(in1);
      const bound2 = 1 / Math.sqrt(hidden);
      const w1 = get('w1', in1 * hidden, () => uniformInit(in1 * hidden, bound1, rng));
      const b1 = get('b1', hidden, () => uniformInit(hidden, bound1, rng));
      // Drawn and then zeroed: the draws keep the rng stream (hence w1, b1 and the rotations) as before.
      const w2 = get('w2', hidden * 2 * h2, () => uniformInit(hidden * 2 * h2, bound2, rng).fill(0));
      const b2 = get('b2', 2 * h2, () => uniformInit(2 * h2, bound2, rng).fill(0));
      const g = get('g', d, () => new Float32Array(d).fill(G_INIT));
      const offset = get('offset', d, () => new Float32Array(d));
      let rot = get('rotation', d * d, () => randomOrthogonal(d, rng));
      if (!weights && i === blocks - 1)
        rot = inverseOfProduct(
          this.blockVars.map((b) => b.rotation.dataSync() as Float32Array),
          d,
        );
      const rotT = new Float32Array(d * d);
      for (let r = 0; r < d; r++) for (let k = 0; k < d; k++) rotT[k * d + r] = rot[r * d + k];
      this.blockVars.push(
        tf.tidy(() => ({
          w1: tf.variable(tf.tensor2d(w1, [in1, hidden]), true),
          b1: tf.variable(tf.tensor1d(b1), true),
          w2: tf.variable(tf.tensor2d(w2, [hidden, 2 * h2]), true),
          b2: tf.variable(tf.tensor1d(b2), true),
          g: tf.variable(tf.tensor1d(g), true),
          offset: tf.variable(tf.tensor1d(offset), true),
          rotation: tf.variable(tf.tensor2d(rot, [d, d]), false),
          rotationT: tf.variable(tf.tensor2d(rotT, [d, d]), false),
        })),
      );
    }
  }

  get dim(): number {
    return this.config.dim;
  }

  /** Trainable variables, in a fixed order (block by block, PARAM_NAMES order). */
  variables(): Variable[] {
    const out: Variable[] = [];
    for (const b of this.blockVars) for (const n of PARAM_NAMES) out.push(b[n]);
    return out;
  }

  /** Names matching variables(). */
  variableNames(): string[] {
    const out: string[] = [];
    this.blockVars.forEach((_, i) => PARAM_NAMES.forEach((n) => out.push(`block${i}.${n}`)));
    return out;
  }

  private condition(n: number, cond?: Tensor2D): Tensor2D | undefined {
    const c = this.config.conditionDim;
    if (c === 0) return undefined;
    if (!cond) return this.tf.zeros([n, c]) as Tensor2D;
    if (cond.shape[1] !== c) throw new Error(`condition has ${cond.shape[1]} columns, flow expects ${c}`);
    if (cond.shape[0] === n) return cond;
    if (cond.shape[0] === 1) return this.tf.tile(cond, [n, 1]) as Tensor2D;
    throw new Error(`condition has ${cond.shape[0]} rows for a batch of ${n}`);
  }

  /** s (clamped) and t of a block's subnet. */
  private subnet(b: Block, a: Tensor2D, cond: Tensor2D | undefined): { s: Tensor2D; t: Tensor2D } {
    const tf = this.tf;
    const h2 = this.config.dim - Math.floor(this.config.dim / 2);
    const n = a.shape[0];
    const input = cond ? (tf.concat([a, cond], 1) as Tensor2D) : a;
    const h = tf.leakyRelu(tf.add(tf.matMul(input, b.w1), b.b1), 0.1);
    const st = tf.mul(tf.add(tf.matMul(h as Tensor2D, b.w2), b.b2), 0.1) as Tensor2D;
    const s = tf.mul(tf.tanh(tf.slice(st, [0, 0], [n, h2])), 2) as Tensor2D;
    const t = tf.slice(st, [0, h2], [n, h2]) as Tensor2D;
    return { s, t };
  }

  private scaleOf(b: Block): Tensor1D {
    const tf = this.tf;
    return tf.mul(tf.softplus(tf.mul(b.g, 0.5)), 0.2) as Tensor1D;
  }

  /** z = f(ε; cond) and log|det ∂f/∂ε| per sample. Differentiable in the flow's variables. */
  forward(eps: Tensor2D, cond?: Tensor2D): { z: Tensor2D; logDet: Tensor1D } {
    this.check(eps);
    const tf = this.tf;
    return tf.tidy(() => {
      const c = this.condition(eps.shape[0], cond);
      const { x, logDet } = this.runBlocks(eps, c);
      return { z: x, logDet };
    });
  }

  /**
   * The coupling blocks in order. Fused (coupling.ts: one kernel per block and
   * direction) where the active backend registers them and `useFusedBlocks`
   * is on; otherwise the unfused ops below, which every backend runs.
   */
  private runBlocks(eps: Tensor2D, c: Tensor2D | undefined): { x: Tensor2D; logDet: Tensor1D } {
    if (this.useFusedBlocks && fusedCouplingAvailable(this.tf)) {
      return fusedBlocks(this.tf, eps, this.blockVars, c) as { x: Tensor2D; logDet: Tensor1D };
    }
    const tf = this.tf;
    const d = this.config.dim;
    const h1 = Math.floor(d / 2);
    const h2 = d - h1;
    const n = eps.shape[0];
    let x = eps;
    let logDet: Tensor1D = tf.zeros([n]) as Tensor1D;
    let scaleLogSum: Tensor1D | undefined;
    for (const b of this.blockVars) {
      const a = tf.slice(x, [0, 0], [n, h1]) as Tensor2D;
      const bb = tf.slice(x, [0, h1], [n, h2]) as Tensor2D;
      const { s, t } = this.subnet(b, a, c);
      const b2 = tf.add(tf.mul(bb, tf.exp(s)), t);
      const scale = this.scaleOf(b);
      const y = tf.add(tf.mul(tf.concat([a, b2], 1), scale), b.offset);
      x = tf.matMul(y as Tensor2D, b.rotation);
      logDet = tf.add(logDet, tf.sum(s, 1)) as Tensor1D;
      const ls = tf.sum(tf.log(scale)) as unknown as Tensor1D;
      scaleLogSum = scaleLogSum ? (tf.add(scaleLogSum, ls) as Tensor1D) : ls;
    }
    if (scaleLogSum) logDet = tf.add(logDet, scaleLogSum) as Tensor1D;
    return { x, logDet };
  }

  /** ε = f⁻¹(z; cond). */
  inverse(z: Tensor2D, cond?: Tensor2D): Tensor2D {
    this.check(z);
    const tf = this.tf;
    return tf.tidy(() => {
      const d = this.config.dim;
      const h1 = Math.floor(d / 2);
      const h2 = d - h1;
      const n = z.shape[0];
      const c = this.condition(n, cond);
      let x = z;
      for (let i = this.blockVars.length - 1; i >= 0; i--) {
        const b = this.blockVars[i];
        const y = tf.div(tf.sub(tf.matMul(x, b.rotationT), b.offset), this.scaleOf(b)) as Tensor2D;
        const a = tf.slice(y, [0, 0], [n, h1]) as Tensor2D;
        const b2 = tf.slice(y, [0, h1], [n, h2]) as Tensor2D;
        const { s, t } = this.subnet(b, a, c);
        const bb = tf.mul(tf.sub(b2, t), tf.exp(tf.neg(s)));
        x = tf.concat([a, bb], 1) as Tensor2D;
      }
      return x;
    });
  }

  private check(x: Tensor2D): void {
    if (this.disposed) throw new Error('flow is disposed');
    if (x.rank !== 2 || x.shape[1] !== this.config.dim) {
      throw new Error(`flow expects [n, ${this.config.dim}], got [${x.shape.join(', ')}]`);
    }
  }

  private blobs(): ArtifactBlob[] {
    return this.named().map(({ name, v }) => ({
      name,
      dtype: 'float32',
      shape: v.shape.slice(),
      data: v.dataSync() as Float32Array,
    }));
  }

  private named(): { name: string; v: Variable }[] {
    const out: { name: string; v: Variable }[] = [];
    this.blockVars.forEach((b, i) => {
      for (const n of [...PARAM_NAMES, 'rotation'] as const) out.push({ name: `block${i}.${n}`, v: b[n] });
    });
    return out;
  }

  /** One artifact: format, version, config, weights and the fixed rotations. */
  serialize(): Uint8Array {
    return packArtifact(
      { format: FLOW_FORMAT, version: FLOW_FORMAT_VERSION, config: this.config },
      this.blobs(),
    );
  }

  /** serialize() with asynchronous reads: works on every backend (webgpu has no synchronous read in Node). */
  async save(): Promise<Uint8Array> {
    const out: ArtifactBlob[] = [];
    for (const { name, v } of this.named())
      out.push({ name, dtype: 'float32', shape: v.shape.slice(), data: (await v.data()) as Float32Array });
    return packArtifact({ format: FLOW_FORMAT, version: FLOW_FORMAT_VERSION, config: this.config }, out);
  }

  static deserialize(tf: Tf, bytes: Uint8Array): Flow {
    const { config, weights } = readFlowArtifact(bytes);
    return new Flow(tf, config, weights);
  }

  /** Replaces this flow's weights (and rotations) with those of a serialized flow of the same config. */
  load(bytes: Uint8Array): void {
    const { config, weights } = readFlowArtifact(bytes);
    const c = normalizeFlowConfig(config);
    if (
      c.dim !== this.config.dim ||
      c.blocks !== this.config.blocks ||
      c.hidden !== this.config.hidden ||
      c.conditionDim !== this.config.conditionDim
    ) {
      throw new Error('serialized flow has a different shape (dim, blocks, hidden or conditionDim)');
    }
    const tf = this.tf;
    const d = this.config.dim;
    this.blockVars.forEach((b, i) => {
      for (const n of [...PARAM_NAMES, 'rotation'] as const) {
        const w = weights.get(`block${i}.${n}`);
        if (!w) throw new Error(`flow weights lack block${i}.${n}`);
        tf.tidy(() => b[n].assign(tf.tensor(w, b[n].shape)));
      }
      const rot = weights.get(`block${i}.rotation`)!;
      const rotT = new Float32Array(d * d);
      for (let r = 0; r < d; r++) for (let k = 0; k < d; k++) rotT[k * d + r] = rot[r * d + k];
      tf.tidy(() => b.rotationT.assign(tf.tensor2d(rotT, [d, d])));
    });
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const b of this.blockVars) for (const v of Object.values(b)) (v as Variable).dispose();
  }
}

function readFlowArtifact(bytes: Uint8Array): { config: FlowConfig; weights: Map<string, Float32Array> } {
  const art = unpackArtifact(bytes);
  const meta = art.meta as { format?: string; version?: number; config?: FlowConfig };
  if (meta.format !== FLOW_FORMAT) throw new Error(`not a serialized flow (format ${String(meta.format)})`);
  if (!READABLE_FLOW_VERSIONS.has(meta.version as number))
    throw new Error(`unsupported flow format version ${String(meta.version)}`);
  if (!meta.config) throw new Error('serialized flow has no config');
  const weights = new Map<string, Float32Array>();
  for (const name of art.names()) weights.set(name, art.float32(name).data);
  return { config: normalizeFlowConfig(meta.config), weights };
}

/** A generator G∘f: standard-normal latent ε of size flow.dim. */
export interface ComposedGenerator extends GeneratorInstance {
  latentDim: number;
}

/**
 * G∘f as a generator (iterative control: a trained prompt becomes a generator
 * with a standard-normal latent). `condition` ([1, c] or [n, c]) is used for a
 * conditional flow (zeros when omitted). dispose() releases neither the flow
 * nor the generator: their owner does.
 */
export function composeGenerator(
  flow: Flow,
  generator: GeneratorInstance,
  condition?: Tensor2D,
): ComposedGenerator {
  return {
    latentDim: flow.dim,
    generate(eps: Tensor2D): Tensor4D {
      return flow.tf.tidy(() => generator.generate(flow.forward(eps, condition).z));
    },
    dispose() {
      /* the caller owns flow and generator */
    },
  };
}
