/**
 * Small CLIP-shaped encoders for the clip-text tests, saved as real TF.js files
 * (model.json + weights) so the plugin's file-loading path is used.
 *
 * Construction (D = 16, e0, e1, … the unit vectors of the embedding space):
 *  - text encoder (layers): ids [n, 77] int32 → Embedding(V, 16) → mean over the 77
 *    positions → Dense(16, identity kernel). Embedding rows: 'bright</w>' → 3·e0,
 *    'dark</w>' → −3·e0, start/end tokens → e1, every other token → small noise in
 *    dimensions 2..15. So T̄("a bright photo") ≈ (3 e0 + 2 e1)/√13 and "a dark photo"
 *    flips the e0 part.
 *  - image encoder (layers, NHWC, S×S×3): Conv2D(4 filters, 4×4, stride 4, linear) →
 *    global average pool → Dense(16). Filter 0 averages all pixels and channels, and
 *    Dense row 0 is e0, so embedding component 0 = s, the mean CLIP-normalised
 *    brightness; the bias puts 1 on e1; filters 1..3 feed small noise into 2..15.
 *    Then cos(I, T("a bright photo")) ≈ (3s + 2)/(√13·√(s² + 1)) grows with
 *    brightness up to s = 1.5 (pixel value ≈ 0.86) and "dark" the other way round.
 *  - a cheaper variant for training (no convolution): AveragePooling2D(4) → Flatten →
 *    Dense(16) with kernel column 0 = the mean, noise in columns 2..15, bias e1.
 *  - the same image encoder as a hand-written graph model with NCHW input
 *    [n, 3, S, S]: Mean over H, W → MatMul by W [3, 16] (rows e0/3) → Add bias e1,
 *    i.e. exactly embedding = s·e0 + e1 (no noise).
 */
import * as fs from 'fs';
import * as path from 'path';
import type { Tf } from '../../../src/sdk';
import { saveLayersModel } from '../helpers';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { ClipTokenizer } = require('../../../plugins/clip/src/tokenizer');

export const D = 16;

/** Merges so that "bright", "dark", "photo" and "a" are single tokens. */
export const VOCAB = [
  '#version: 0.2',
  'b r',
  'br i',
  'bri g',
  'brig h',
  'brigh t</w>', // 'bright</w>' = 512 + 4
  'd a',
  'da r',
  'dar k</w>', // 'dark</w>' = 512 + 7
  'p h',
  'ph o',
  'pho t',
  'phot o</w>', // 'photo</w>' = 512 + 11
  '',
].join('\n');

/** Deterministic noise in [-1, 1). */
export function noise(seed: number, n: number): Float32Array {
  const out = new Float32Array(n);
  let a = seed >>> 0;
  for (let i = 0; i < n; i++) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = (((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1;
  }
  return out;
}

export interface ClipFixture {
  dir: string;
  vocabulary: string;
  textEncoder: string;
  imageEncoder: string;
  /** Pooling + dense only (no convolution): cheap gradients, for training. */
  imageEncoderDense: string;
  /** Graph model, NCHW input. */
  imageEncoderGraph: string;
  /** A text encoder with D = 8 (for the mismatch error). */
  textEncoder8: string;
  /** A text encoder returning per-token features [n, 77, 16]. */
  textEncoderSeq: string;
  inputSize: number;
}

function textEncoder(tf: Tf, V: number, d: number, rows: (emb: Float32Array) => void, pool = true) {
  const input = tf.input({ shape: [77], dtype: 'int32', name: 'input_ids' });
  const emb = tf.layers.embedding({ inputDim: V, outputDim: d, name: 'token_embedding' });
  let h = emb.apply(input) as any;
  if (pool) h = tf.layers.globalAveragePooling1d({ name: 'pool' }).apply(h);
  const proj = tf.layers.dense({ units: d, useBias: false, name: 'text_projection' });
  const out = proj.apply(h) as any;
  const model = tf.model({ inputs: input, outputs: out });
  const table = new Float32Array(V * d);
  rows(table);
  emb.setWeights([tf.tensor2d(table, [V, d])]);
  proj.setWeights([tf.eye(d)]);
  return model;
}

function imageEncoder(tf: Tf, S: number) {
  const input = tf.input({ shape: [S, S, 3], name: 'pixel_values' });
  const conv = tf.layers.conv2d({ filters: 4, kernelSize: 4, strides: 4, padding: 'valid', name: 'patch' });
  const pool = tf.layers.globalAveragePooling2d({ name: 'pool' });
  const dense = tf.layers.dense({ units: D, name: 'visual_projection' });
  const out = dense.apply(pool.apply(conv.apply(input))) as any;
  const model = tf.model({ inputs: input, outputs: out });
  // conv kernel [4, 4, 3, 4]: filter 0 = 1/48 everywhere (the mean), filters 1..3 noise.
  const k = new Float32Array(4 * 4 * 3 * 4);
  const nz = noise(11, k.length);
  for (let i = 0; i < k.length; i++) k[i] = i % 4 === 0 ? 1 / 48 : 0.3 * nz[i];
  conv.setWeights([tf.tensor4d(k, [4, 4, 3, 4]), tf.zeros([4])]);
  // dense kernel [4, 16]: row 0 = e0; rows 1..3 noise into dims 2..15; bias e1.
  const w = new Float32Array(4 * D);
  const nw = noise(12, w.length);
  w[0] = 1;
  for (let r = 1; r < 4; r++) for (let c = 2; c < D; c++) w[r * D + c] = 0.1 * nw[r * D + c];
  const b = new Float32Array(D);
  b[1] = 1;
  dense.setWeights([tf.tensor2d(w, [4, D]), tf.tensor1d(b)]);
  return model;
}

/** The fast variant for training: AveragePooling2D(4) → Flatten → Dense(16); column 0 of the kernel averages, bias e1. */
function imageEncoderDense(tf: Tf, S: number) {
  const input = tf.input({ shape: [S, S, 3], name: 'pixel_values' });
  const pool = tf.layers.averagePooling2d({ poolSize: 4, strides: 4, name: 'pool' });
  const flat = tf.layers.flatten({ name: 'flatten' });
  const dense = tf.layers.dense({ units: D, name: 'visual_projection' });
  const out = dense.apply(flat.apply(pool.apply(input))) as any;
  const model = tf.model({ inputs: input, outputs: out });
  const F = (S / 4) * (S / 4) * 3;
  const w = new Float32Array(F * D);
  const nw = noise(13, w.length);
  for (let r = 0; r < F; r++) {
    w[r * D] = 1 / F;
    for (let c = 2; c < D; c++) w[r * D + c] = 0.1 * nw[r * D + c];
  }
  const b = new Float32Array(D);
  b[1] = 1;
  dense.setWeights([tf.tensor2d(w, [F, D]), tf.tensor1d(b)]);
  return model;
}

/** A TF.js graph model.json by hand: NCHW images → mean over H, W → MatMul → Add. */
function writeGraphImageEncoder(dir: string, S: number) {
  fs.mkdirSync(dir, { recursive: true });
  const W = new Float32Array(3 * D);
  for (let c = 0; c < 3; c++) W[c * D] = 1 / 3;
  const bias = new Float32Array(D);
  bias[1] = 1;
  const axes = new Int32Array([2, 3]);
  const dim = (ds: number[]) => ({ dim: ds.map((size) => ({ size: String(size) })) });
  const json = {
    format: 'graph-model',
    generatedBy: 'promptgen test',
    convertedBy: 'hand-written',
    modelTopology: {
      node: [
        {
          name: 'images',
          op: 'Placeholder',
          attr: { dtype: { type: 'DT_FLOAT' }, shape: { shape: dim([-1, 3, S, S]) } },
        },
        {
          name: 'axes',
          op: 'Const',
          attr: {
            dtype: { type: 'DT_INT32' },
            value: { tensor: { dtype: 'DT_INT32', tensorShape: dim([2]) } },
          },
        },
        {
          name: 'W',
          op: 'Const',
          attr: {
            dtype: { type: 'DT_FLOAT' },
            value: { tensor: { dtype: 'DT_FLOAT', tensorShape: dim([3, D]) } },
          },
        },
        {
          name: 'bias',
          op: 'Const',
          attr: {
            dtype: { type: 'DT_FLOAT' },
            value: { tensor: { dtype: 'DT_FLOAT', tensorShape: dim([D]) } },
          },
        },
        {
          name: 'pooled',
          op: 'Mean',
          input: ['images', 'axes'],
          attr: { keep_dims: { b: false }, T: { type: 'DT_FLOAT' }, Tidx: { type: 'DT_INT32' } },
        },
        {
          name: 'proj',
          op: 'MatMul',
          input: ['pooled', 'W'],
          attr: { transpose_a: { b: false }, transpose_b: { b: false }, T: { type: 'DT_FLOAT' } },
        },
        { name: 'image_embeds', op: 'AddV2', input: ['proj', 'bias'], attr: { T: { type: 'DT_FLOAT' } } },
      ],
      library: {},
      versions: { producer: 1 },
    },
    weightsManifest: [
      {
        paths: ['weights.bin'],
        weights: [
          { name: 'axes', shape: [2], dtype: 'int32' },
          { name: 'W', shape: [3, D], dtype: 'float32' },
          { name: 'bias', shape: [D], dtype: 'float32' },
        ],
      },
    ],
    signature: {
      inputs: { images: { name: 'images:0', dtype: 'DT_FLOAT', tensorShape: dim([-1, 3, S, S]) } },
      outputs: { image_embeds: { name: 'image_embeds:0', dtype: 'DT_FLOAT', tensorShape: dim([-1, D]) } },
    },
  };
  fs.writeFileSync(path.join(dir, 'model.json'), JSON.stringify(json));
  fs.writeFileSync(
    path.join(dir, 'weights.bin'),
    Buffer.concat([Buffer.from(axes.buffer), Buffer.from(W.buffer), Buffer.from(bias.buffer)]),
  );
  return path.join(dir, 'model.json');
}

/** Writes the vocabulary and all encoders into dir. */
export async function writeClipFixture(tf: Tf, dir: string, inputSize = 16): Promise<ClipFixture> {
  fs.mkdirSync(dir, { recursive: true });
  const vocabulary = path.join(dir, 'bpe_test_vocab.txt');
  fs.writeFileSync(vocabulary, VOCAB);
  const tok = new ClipTokenizer(VOCAB);
  const V = tok.vocabSize;
  const bright = tok.encoder.get('bright</w>');
  const dark = tok.encoder.get('dark</w>');
  const rows = (d: number) => (table: Float32Array) => {
    const nz = noise(7, table.length);
    for (let i = 0; i < V; i++) for (let c = 2; c < d; c++) table[i * d + c] = 0.05 * nz[i * d + c];
    table.fill(0, 0, d); // id 0 ('!'), also the padding id: nothing
    for (let c = 0; c < d; c++) {
      table[bright * d + c] = c === 0 ? 3 : 0;
      table[dark * d + c] = c === 0 ? -3 : 0;
      table[tok.sotToken * d + c] = c === 1 ? 1 : 0;
      table[tok.eotToken * d + c] = c === 1 ? 1 : 0;
    }
  };
  const save = async (model: any, name: string) => {
    const p = await saveLayersModel(tf, model, path.join(dir, name));
    model.dispose();
    return p;
  };
  const textEncoderPath = await save(textEncoder(tf, V, D, rows(D)), 'text');
  const textEncoder8 = await save(textEncoder(tf, V, 8, rows(8)), 'text8');
  const textEncoderSeq = await save(textEncoder(tf, V, D, rows(D), false), 'textseq');
  const imageEncoderPath = await save(imageEncoder(tf, inputSize), 'image');
  const imageEncoderDensePath = await save(imageEncoderDense(tf, inputSize), 'image-dense');
  const imageEncoderGraph = writeGraphImageEncoder(path.join(dir, 'image-graph'), inputSize);
  return {
    dir,
    vocabulary,
    textEncoder: textEncoderPath,
    imageEncoder: imageEncoderPath,
    imageEncoderDense: imageEncoderDensePath,
    imageEncoderGraph,
    textEncoder8,
    textEncoderSeq,
    inputSize,
  };
}

/** Mean CLIP-normalised value of a grey image with pixel value g (the encoders' s). */
export function normalisedBrightness(g: number): number {
  const mean = [0.48145466, 0.4578275, 0.40821073];
  const std = [0.26862954, 0.26130258, 0.27577711];
  return mean.reduce((a, m, c) => a + (g - m) / std[c], 0) / 3;
}
