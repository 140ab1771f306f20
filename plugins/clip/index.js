'use strict';
/**
 * @promptgen/clip — built-in PromptGen plugin: the "Text (CLIP)" control of the
 * paper (docs/CLIP.md).
 *
 *   E(x) = mean over K augmented copies a_k(x) of 1 − cos(Ī(a_k(x)), T̄(text))
 *
 * with Ī, T̄ the L2-normalised outputs of CLIP's image and text encoders, given as
 * TF.js layers or graph models (model.json + weights; path or http(s) URL). The
 * text is tokenized with CLIP's BPE (./tokenizer.js) and embedded once at load.
 *
 * Plain CommonJS, no build step, no dependencies: TensorFlow.js comes from the
 * host (ctx.tf). Every image operation used by the energy is a matMul, transpose,
 * reshape, concat, slice or element-wise op, so its gradient exists on the cpu and
 * wasm backends alike (no gather, cropAndResize or resizeBilinear gradients needed).
 *
 * @typedef {import('../../src/plugins/sdk').LoadContext} LoadContext
 * @typedef {import('../../src/plugins/sdk').ControlDefinition} ControlDefinition
 * @typedef {import('../../src/plugins/sdk').ControlInstance} ControlInstance
 */
const { loadTokenizer, CONTEXT_LENGTH } = require('./tokenizer');

const CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073];
const CLIP_STD = [0.26862954, 0.26130258, 0.27577711];
/** ITU-R 601 luma, for the saturation jitter. */
const LUMA = [0.299, 0.587, 0.114];

const DEFAULTS = {
  inputSize: 224,
  layout: 'auto',
  augmentations: 8,
  seed: 0,
  freshAugmentations: true,
  truncate: true,
  imageEncoderFormat: 'auto',
  textEncoderFormat: 'auto',
};
const DEFAULT_AUGMENT = { colour: 0.1, translate: 0.125, rescale: [0.8, 1.2], cutout: 0.25 };

const outputSelector = {
  anyOf: [
    { type: 'integer', minimum: 0 },
    { type: 'string', minLength: 1 },
  ],
};

const paramsSchema = {
  type: 'object',
  properties: {
    text: { type: 'string', minLength: 1, maxLength: 300, description: 'The prompt, e.g. "a photo of a cat with closed eyes"' },
    imageEncoder: {
      type: 'string',
      minLength: 1,
      promptgenAsset: true,
      description: "CLIP's image tower: model.json (path or http(s) URL, where the server allows it) of a TF.js layers or graph model, images [n, S, S, 3] (or [n, 3, S, S]) CLIP-normalised → embeddings [n, D]",
    },
    textEncoder: {
      type: 'string',
      minLength: 1,
      promptgenAsset: true,
      description: "CLIP's text tower: model.json (path or http(s) URL, where the server allows it), token ids [n, 77] int32 → embeddings [n, D]",
    },
    vocabulary: {
      type: 'string',
      minLength: 1,
      promptgenAsset: true,
      description: "CLIP's BPE merges file bpe_simple_vocab_16e6.txt (plain or .gz), path or http(s) URL, where the server allows it",
    },
    inputSize: { type: 'integer', minimum: 8, maximum: 1024, default: DEFAULTS.inputSize, description: 'Side S of the image encoder input (224 for ViT-B/32)' },
    layout: { enum: ['auto', 'NHWC', 'NCHW'], default: DEFAULTS.layout, description: "The image encoder's input layout; 'auto' reads it from the model's input shape (NHWC when unknown)" },
    augmentations: { type: 'integer', minimum: 1, maximum: 256, default: DEFAULTS.augmentations, description: 'K: augmented copies per image (the paper uses 50)' },
    augment: {
      type: 'object',
      properties: {
        colour: { type: 'number', minimum: 0, maximum: 1, default: DEFAULT_AUGMENT.colour, description: 'Colour jitter strength c: brightness ±c, contrast and saturation ×[1−c, 1+c]; 0 = off' },
        translate: { type: 'number', minimum: 0, maximum: 0.5, default: DEFAULT_AUGMENT.translate, description: 'Translation, up to ± this fraction of the side (edges replicated); 0 = off' },
        rescale: {
          type: 'array',
          items: { type: 'number', exclusiveMinimum: 0, maximum: 4 },
          minItems: 2,
          maxItems: 2,
          default: DEFAULT_AUGMENT.rescale,
          description: 'Zoom factor range [low, high] (>1 enlarges); [1, 1] = off',
        },
        cutout: { type: 'number', minimum: 0, maximum: 0.9, default: DEFAULT_AUGMENT.cutout, description: 'Side of one square cut out per copy, as a fraction of the side (set to the mean colour); 0 = off' },
      },
      additionalProperties: false,
      default: {},
    },
    seed: { type: 'integer', minimum: 0, maximum: 4294967295, default: DEFAULTS.seed, description: 'Seed of the augmentations' },
    freshAugmentations: {
      type: 'boolean',
      default: DEFAULTS.freshAugmentations,
      description: 'true: every energy() call draws new augmentations (call i of an instance always draws the same ones for a seed); false: the same K augmentations every call',
    },
    truncate: { type: 'boolean', default: DEFAULTS.truncate, description: 'Cut a text longer than 77 tokens (else the load fails)' },
    imageEncoderFormat: { enum: ['auto', 'layers', 'graph'], default: DEFAULTS.imageEncoderFormat },
    textEncoderFormat: { enum: ['auto', 'layers', 'graph'], default: DEFAULTS.textEncoderFormat },
    imageOutput: { ...outputSelector, description: 'Which output of a multi-output image encoder (index or name); default: the first [n, D] output' },
    textOutput: { ...outputSelector, description: 'Which output of a multi-output text encoder (index or name); default: the first [n, D] output' },
  },
  required: ['text', 'imageEncoder', 'textEncoder', 'vocabulary'],
  additionalProperties: false,
};

/**
 * An error whose message clients may read in Prompt.error (`expose`): about params and
 * model shapes, which the prompt's author can fix. Errors from reading files are not
 * marked (their text can quote the file), so the host shows them as "internal error (id …)".
 */
const userError = (message) => Object.assign(new Error(message), { expose: true });

const fmtShape = (s) => (s ? `[${s.map((d) => (d == null || d < 0 ? 'n' : d)).join(', ')}]` : 'unknown');

/** Params with defaults applied (load() may be called without the host's validation) and checked. */
function normalizeParams(raw) {
  if (!raw || typeof raw !== 'object') throw userError('params must be an object');
  const p = { ...DEFAULTS, ...raw };
  p.augment = { ...DEFAULT_AUGMENT, ...(raw.augment || {}) };
  for (const k of ['text', 'imageEncoder', 'textEncoder', 'vocabulary']) {
    if (typeof p[k] !== 'string' || !p[k]) throw userError(`params.${k} is required (a non-empty string)`);
  }
  if (p.text.length > 300) throw userError('params.text is longer than 300 characters');
  if (!Number.isInteger(p.inputSize) || p.inputSize < 8) throw userError(`params.inputSize must be an integer >= 8 (got ${JSON.stringify(p.inputSize)})`);
  if (!Number.isInteger(p.augmentations) || p.augmentations < 1) throw userError(`params.augmentations must be a positive integer (got ${JSON.stringify(p.augmentations)})`);
  if (!['auto', 'NHWC', 'NCHW'].includes(p.layout)) throw userError(`params.layout must be "auto", "NHWC" or "NCHW" (got ${JSON.stringify(p.layout)})`);
  const a = p.augment;
  const r = a.rescale;
  if (!Array.isArray(r) || r.length !== 2 || !(r[0] > 0) || !(r[1] >= r[0])) throw userError(`params.augment.rescale must be [low, high] with 0 < low <= high (got ${JSON.stringify(r)})`);
  for (const k of ['colour', 'translate', 'cutout']) {
    if (typeof a[k] !== 'number' || !(a[k] >= 0) || a[k] >= 1) throw userError(`params.augment.${k} must be a number in [0, 1) (got ${JSON.stringify(a[k])})`);
  }
  return p;
}

/** mulberry32: deterministic uniforms in [0, 1). */
function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A 32-bit seed for (seed, call index). */
function callSeed(seed, call) {
  let h = (seed ^ 0x9e3779b9) >>> 0;
  h = Math.imul(h ^ (call + 0x7f4a7c15), 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

/**
 * Random augmentation parameters for B copies (JS numbers, one draw order).
 * @returns {{ zoom: Float32Array, tx: Float32Array, ty: Float32Array, brightness: Float32Array, contrast: Float32Array, saturation: Float32Array, cy: Float32Array, cx: Float32Array }}
 */
function drawAugmentations(B, augment, random) {
  const out = {};
  for (const k of ['zoom', 'tx', 'ty', 'brightness', 'contrast', 'saturation', 'cy', 'cx']) out[k] = new Float32Array(B);
  const [lo, hi] = augment.rescale;
  for (let b = 0; b < B; b++) {
    out.zoom[b] = lo + (hi - lo) * random();
    out.tx[b] = augment.translate * (2 * random() - 1);
    out.ty[b] = augment.translate * (2 * random() - 1);
    out.brightness[b] = augment.colour * (2 * random() - 1);
    out.contrast[b] = 1 + augment.colour * (2 * random() - 1);
    out.saturation[b] = 1 + augment.colour * (2 * random() - 1);
    out.cy[b] = random();
    out.cx[b] = random();
  }
  return out;
}

/**
 * Bilinear resampling matrices for one axis, B of them, as a Float32Array: output
 * pixel o (centre u = (o+½)/outSize − ½) reads the source at normalised coordinate
 * v = u/zoom + ½ − shift, clamped to the image (edge pixels replicated). The tent
 * kernel is widened by the downscale factor when shrinking (antialiasing, as PIL's
 * bilinear resize does) and each row is normalised to sum 1. Layout [B, outSize,
 * inSize], or [B, inSize, outSize] with `transposed`.
 */
function axisMatrices(B, outSize, inSize, zoom, shift, transposed) {
  const m = new Float32Array(B * outSize * inSize);
  const taps = new Float32Array(inSize);
  for (let b = 0; b < B; b++) {
    const z = zoom ? zoom[b] : 1;
    const t = shift ? shift[b] : 0;
    const support = Math.max(1, inSize / (outSize * z));
    for (let o = 0; o < outSize; o++) {
      const v = ((o + 0.5) / outSize - 0.5) / z + 0.5 - t;
      const src = Math.min(Math.max(v * inSize - 0.5, 0), inSize - 1);
      const j0 = Math.max(0, Math.ceil(src - support));
      const j1 = Math.min(inSize - 1, Math.floor(src + support));
      let sum = 0;
      for (let j = j0; j <= j1; j++) {
        const w = Math.max(0, 1 - Math.abs(src - j) / support);
        taps[j] = w;
        sum += w;
      }
      for (let j = j0; j <= j1; j++) {
        const w = taps[j] / sum;
        if (transposed) m[(b * inSize + j) * outSize + o] = w;
        else m[(b * outSize + o) * inSize + j] = w;
      }
    }
  }
  return m;
}

/** The matrices of axisMatrices as a tensor [B, outSize, inSize] (for tests and other plugins). */
function interpolationMatrices(tf, outSize, inSize, zoom, shift) {
  return tf.tensor3d(axisMatrices(zoom.length, outSize, inSize, zoom, shift, false), [zoom.length, outSize, inSize]);
}

/** Each of B matrices (Float32Array of B·size) repeated `times` times in a row: [B·times, ...]. */
/** The C×C identity, row-major (built in JS: no synchronous tensor read, which webgpu lacks). */
function identity(C) {
  const out = new Float32Array(C * C);
  for (let i = 0; i < C; i++) out[i * C + i] = 1;
  return out;
}

function repeatEach(m, B, times) {
  if (times === 1) return m;
  const size = m.length / B;
  const out = new Float32Array(m.length * times);
  for (let b = 0; b < B; b++) for (let t = 0; t < times; t++) out.set(m.subarray(b * size, (b + 1) * size), (b * times + t) * size);
  return out;
}

/**
 * Resamples planes [P, H, W] with per-plane row matrices Ay [P, S, H] and transposed
 * column matrices AxT [P, W, S] (Float32Arrays): Ay · X · AxT, two batched matMuls.
 */
function resamplePlanes(tf, planes, Ay, AxT, S) {
  const [P, H, W] = planes.shape;
  return tf.matMul(tf.matMul(tf.tensor3d(Ay, [P, S, H]), planes), tf.tensor3d(AxT, [P, W, S]));
}

/**
 * Per-copy colour maps, CLIP normalisation folded in: for copy b, the 3×C matrix
 * M_b = diag(1/std) · κ_b · Sat_b · P_C and bias β_b = (½(1 − κ_b) + δ_b − mean)/std,
 * with Sat_b = σ_b I + (1 − σ_b) 1·lumaᵀ (saturation), κ_b contrast around ½, δ_b
 * brightness, and P_C mapping C input channels to RGB (grey → 3 equal channels, RGBA
 * drops alpha). Returns M [B, 3, C] and β [B, 3] as Float32Arrays.
 */
function colourMaps(B, C, aug) {
  const M = new Float32Array(B * 3 * C);
  const bias = new Float32Array(B * 3);
  for (let b = 0; b < B; b++) {
    const s = aug ? aug.saturation[b] : 1;
    const k = aug ? aug.contrast[b] : 1;
    const d = aug ? aug.brightness[b] : 0;
    for (let c = 0; c < 3; c++) {
      for (let j = 0; j < 3; j++) {
        const w = (k * ((c === j ? s : 0) + (1 - s) * LUMA[j])) / CLIP_STD[c];
        if (C === 1) M[b * 3 + c] += w;
        else M[(b * 3 + c) * C + j] = w;
      }
      bias[b * 3 + c] = (0.5 * (1 - k) + d - CLIP_MEAN[c]) / CLIP_STD[c];
    }
  }
  return { M, bias };
}

/** [B, r, c] → [B, c, r] as a Float32Array. */
function transposeEach(m, B, r, c) {
  const out = new Float32Array(m.length);
  for (let b = 0; b < B; b++) for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) out[(b * c + j) * r + i] = m[(b * r + i) * c + j];
  return out;
}

/**
 * The image encoder's input batch: images [n, h, w, c] (c = 1, 3 or 4) in [0, 1] →
 * CLIP-normalised [B, S, S, 3] (layout 'NHWC') or [B, 3, S, S] ('NCHW'). Without
 * `aug`, B = n (bilinear resize only); with `aug` (drawAugmentations for K·n copies),
 * B = K·n and copy k of sample i is at k·n + i: zoom and translation (edges
 * replicated), colour jitter, and a cut-out square set to 0 (the mean colour).
 *
 * Differentiable in `images`. Built only from batched matMuls (transposes by the
 * matMul flags), reshapes, concat along axis 0 and element-wise ops on equal shapes:
 * the gradient exists on cpu and wasm alike, and nothing hits the cpu backend's slow
 * generic paths (transpose, broadcasting, strided slices).
 */
function preprocess(tf, images, S, K, augment, aug, layout = 'NHWC') {
  if (images.rank !== 4) throw userError(`clip-text: images must be [n, height, width, channels] (got ${fmtShape(images.shape)})`);
  const [n, H0, W0, C] = images.shape;
  if (C !== 1 && C !== 3 && C !== 4) throw userError(`clip-text: cannot use ${C}-channel images (1, 3 or 4 channels)`);
  let [H, W] = [H0, W0];
  // Channel planes [n·C, H, W] (plane i·C + c), via a matMul with the identity (transposeB).
  let planes =
    C === 1
      ? tf.reshape(images, [n, H, W])
      : tf.reshape(tf.matMul(tf.tensor3d(repeatEach(identity(C), 1, n), [n, C, C]), tf.reshape(images, [n, H * W, C]), false, true), [n * C, H, W]);
  if (aug && (H > S || W > S)) {
    // Shrink every sample once, then resample its K copies at S×S.
    planes = resamplePlanes(tf, planes, repeatEach(axisMatrices(1, S, H, null, null, false), 1, n * C), repeatEach(axisMatrices(1, S, W, null, null, true), 1, n * C), S);
    H = S;
    W = S;
  }
  const B = aug ? K * n : n;
  if (aug && K > 1) planes = tf.concat(Array.from({ length: K }, () => planes), 0); // plane (k·n + i)·C + c
  if (aug || H !== S || W !== S) {
    const zoom = aug ? aug.zoom : null;
    planes = resamplePlanes(
      tf,
      planes,
      repeatEach(axisMatrices(B, S, H, zoom, aug ? aug.ty : null, false), B, C),
      repeatEach(axisMatrices(B, S, W, zoom, aug ? aug.tx : null, true), B, C),
      S,
    );
  }
  const x = tf.reshape(planes, [B, C, S * S]);
  const { M, bias } = colourMaps(B, C, aug && augment && augment.colour > 0 ? aug : null);
  const nchw = layout === 'NCHW';
  // NCHW: M · X + β·1ᵀ → [B, 3, S·S];  NHWC: Xᵀ · Mᵀ + 1·βᵀ → [B, S·S, 3].
  let z = nchw
    ? tf.add(tf.matMul(tf.tensor3d(M, [B, 3, C]), x), tf.matMul(tf.tensor3d(bias, [B, 3, 1]), tf.ones([B, 1, S * S])))
    : tf.add(tf.matMul(x, tf.tensor3d(transposeEach(M, B, 3, C), [B, C, 3]), true, false), tf.matMul(tf.ones([B, S * S, 1]), tf.tensor3d(bias, [B, 1, 3])));
  if (aug && augment && augment.cutout > 0) {
    // One L×L square per copy, as a multiplicative mask (outer products, no broadcasting).
    const L = Math.max(1, Math.round(augment.cutout * S));
    const rowIn = new Float32Array(B * S);
    const colIn = new Float32Array(B * S);
    for (let b = 0; b < B; b++) {
      const y0 = Math.floor(aug.cy[b] * S) - Math.floor(L / 2);
      const x0 = Math.floor(aug.cx[b] * S) - Math.floor(L / 2);
      for (let i = Math.max(0, y0); i < Math.min(S, y0 + L); i++) rowIn[b * S + i] = 1;
      for (let i = Math.max(0, x0); i < Math.min(S, x0 + L); i++) colIn[b * S + i] = 1;
    }
    const cut = tf.matMul(tf.tensor3d(rowIn, [B, S, 1]), tf.tensor3d(colIn, [B, 1, S])); // [B, S, S]
    const cut3 = nchw ? tf.matMul(tf.ones([B, 3, 1]), tf.reshape(cut, [B, 1, S * S])) : tf.matMul(tf.reshape(cut, [B, S * S, 1]), tf.ones([B, 1, 3]));
    z = tf.mul(z, tf.sub(1, cut3));
  }
  return nchw ? tf.reshape(z, [B, 3, S, S]) : tf.reshape(z, [B, S, S, 3]);
}

// ---------------------------------------------------------------------------
// Encoders
// ---------------------------------------------------------------------------

const isHttp = (s) => /^https?:\/\//i.test(s);
const isLayersModel = (m) => typeof m.predict === 'function' && Array.isArray(m.inputNames);

/**
 * 'layers' | 'graph' from the model.json's "format" / topology; null when it cannot be read
 * (the loader then reports why). Read through ctx.assets, which refuses locations the server
 * does not allow (the path comes from client params).
 */
async function detectFormat(ctx, pathOrUrl) {
  let json;
  try {
    let bytes;
    try {
      bytes = await ctx.assets.readAsset(pathOrUrl);
    } catch (e) {
      // A directory holding model.json (local paths only).
      if (isHttp(pathOrUrl) || !/is a directory/.test(e.message)) throw e;
      bytes = await ctx.assets.readAsset(pathOrUrl.replace(/\/+$/, '') + '/model.json');
    }
    json = JSON.parse(bytes.toString('utf8'));
  } catch {
    return null;
  }
  if (!json || typeof json !== 'object') return null;
  if (json.format === 'graph-model') return 'graph';
  if (json.format === 'layers-model') return 'layers';
  const topo = json.modelTopology;
  if (topo && Array.isArray(topo.node)) return 'graph';
  return 'layers';
}

async function loadEncoder(ctx, pathOrUrl, format, what) {
  const fmt = format === 'auto' ? (await detectFormat(ctx, pathOrUrl)) || 'layers' : format;
  try {
    return fmt === 'graph' ? await ctx.assets.loadGraphModel(pathOrUrl) : await ctx.assets.loadLayersModel(pathOrUrl);
  } catch (e) {
    throw new Error(`clip-text: cannot load the ${what} (${fmt} model): ${e.message}`, { cause: e });
  }
}

/** [{ name, shape, dtype }] of a layers or graph model's inputs. */
function modelInputs(model) {
  if (isLayersModel(model)) return model.inputs.map((t, i) => ({ name: model.inputNames[i], shape: t.shape, dtype: t.dtype }));
  return (model.inputs || []).map((t) => ({ name: t.name, shape: t.shape || null, dtype: t.dtype }));
}

function modelOutputNames(model) {
  if (isLayersModel(model)) return model.outputNames.slice();
  return (model.outputs || []).map((t) => t.name);
}

/** Runs a model synchronously (differentiable) and returns its selected output. */
function runModel(model, feed, selector, what) {
  let out;
  if (isLayersModel(model)) {
    const names = model.inputNames;
    const arr = names.map((n) => feed[n]);
    const x = arr.length === 1 ? arr[0] : arr;
    // apply, not predict: predict slices the batch (a PadV2 in the gradient) and checks nothing we need.
    out = model.apply(x, { training: false });
  } else {
    const keys = Object.keys(feed);
    out = model.execute(keys.length === 1 && model.inputs.length === 1 ? feed[keys[0]] : feed);
  }
  const outs = Array.isArray(out) ? out : out && !out.shape && typeof out === 'object' ? Object.values(out) : [out];
  const names = modelOutputNames(model);
  let pick;
  if (selector !== undefined && selector !== null) {
    const idx = typeof selector === 'number' ? selector : names.findIndex((n) => n === selector || n.replace(/:0$/, '') === selector);
    if (idx < 0 || idx >= outs.length) {
      throw userError(`clip-text: the ${what} has no output ${JSON.stringify(selector)} (outputs: ${names.map((n, i) => `${i}: ${n}`).join(', ') || outs.length})`);
    }
    pick = outs[idx];
  } else if (outs.length === 1) {
    pick = outs[0];
  } else {
    const rank2 = outs.map((t, i) => ({ t, i })).filter(({ t }) => t.rank === 2);
    const named = rank2.find(({ i }) => /embed/i.test(names[i] || ''));
    pick = (named || rank2[0] || { t: outs[0] }).t;
  }
  if (pick.rank !== 2) {
    throw userError(
      `clip-text: the ${what} outputs ${fmtShape(pick.shape)}, not embeddings [n, D]` +
        (outs.length > 1 ? ` (choose another output with ${what === 'image encoder' ? 'imageOutput' : 'textOutput'})` : ' (export the pooled, projected embedding)'),
    );
  }
  return pick;
}

function disposeModel(m) {
  try {
    if (m) m.dispose();
  } catch {
    /* already disposed */
  }
}

/** The image encoder's layout and a check of its declared input shape against inputSize. */
function imageInputSpec(model, params) {
  const inputs = modelInputs(model);
  if (inputs.length !== 1) throw userError(`clip-text: the image encoder must have one input (images); it has ${inputs.length}: ${inputs.map((i) => i.name).join(', ')}`);
  const shape = inputs[0].shape;
  const S = params.inputSize;
  let layout = params.layout;
  if (layout === 'auto') layout = shape && shape.length === 4 && shape[1] === 3 && shape[3] !== 3 ? 'NCHW' : 'NHWC';
  if (shape && shape.length) {
    const expected = layout === 'NCHW' ? [3, S, S] : [S, S, 3];
    const got = shape.slice(1);
    if (got.length !== 3 || got.some((d, i) => d != null && d > 0 && d !== expected[i])) {
      throw userError(
        `clip-text: the image encoder's input is ${fmtShape(shape)} but inputSize ${S} with layout ${layout} gives [n, ${expected.join(', ')}]` +
          ' (set inputSize / layout to match the model)',
      );
    }
  }
  return { name: inputs[0].name, layout };
}

/** The text encoder's feed for token ids [n, 77]: its ids input, and an attention mask input if it has one. */
function textFeeder(model) {
  const inputs = modelInputs(model);
  if (inputs.length < 1 || inputs.length > 2) throw userError(`clip-text: the text encoder must have one input (token ids [n, 77]) or two (ids and an attention mask); it has ${inputs.length}`);
  let ids = inputs[0];
  let mask = null;
  if (inputs.length === 2) {
    const m = inputs.findIndex((i) => /mask/i.test(i.name));
    if (m < 0) throw userError(`clip-text: the text encoder has two inputs (${inputs.map((i) => i.name).join(', ')}) and none is an attention mask`);
    mask = inputs[m];
    ids = inputs[1 - m];
  }
  if (ids.shape && ids.shape.length) {
    const got = ids.shape.slice(1);
    if (got.length !== 1 || (got[0] != null && got[0] > 0 && got[0] !== CONTEXT_LENGTH)) {
      throw userError(`clip-text: the text encoder's input is ${fmtShape(ids.shape)}, not token ids [n, ${CONTEXT_LENGTH}]`);
    }
  }
  const dtypeOf = (i) => (i.dtype === 'float32' ? 'float32' : 'int32');
  return (tf, tokenIds, length) => {
    const feed = { [ids.name]: tf.tensor2d(tokenIds, [1, CONTEXT_LENGTH], dtypeOf(ids)) };
    if (mask) {
      const m = new Int32Array(CONTEXT_LENGTH);
      m.fill(1, 0, length);
      feed[mask.name] = tf.tensor2d(m, [1, CONTEXT_LENGTH], dtypeOf(mask));
    }
    return feed;
  };
}

/** L2-normalised rows. */
function l2normalize(tf, x) {
  return tf.div(x, tf.sqrt(tf.add(tf.sum(tf.square(x), 1, true), 1e-12)));
}

// ---------------------------------------------------------------------------
// The control
// ---------------------------------------------------------------------------

/** @type {ControlDefinition} */
const clipText = {
  name: 'clip-text',
  title: 'Text (CLIP)',
  description:
    'Steers towards images that CLIP matches to a text: energy = mean over K augmented copies of 1 − cos(image embedding, text embedding). ' +
    'Needs CLIP image and text encoders converted to TF.js and CLIP\'s BPE vocabulary (docs/CLIP.md).',
  paramsSchema,
  conditionDim: null,
  /**
   * @param {LoadContext} ctx
   * @returns {Promise<ControlInstance & { cosine(images): any, textEmbedding: any, tokens: Int32Array, embeddingDim: number, layout: string }>}
   */
  async load(ctx, rawParams) {
    const tf = ctx.tf;
    const p = normalizeParams(rawParams);
    let tokenizer;
    try {
      tokenizer = await loadTokenizer(p.vocabulary, { read: (where) => ctx.assets.readAsset(where) });
    } catch (e) {
      throw new Error(`clip-text: ${e.message}`, { cause: e });
    }
    const tok = tokenizer.tokenizeWithInfo(p.text, { contextLength: CONTEXT_LENGTH, truncate: p.truncate });
    if (tok.truncated) ctx.logger.warn(`clip-text: the text is longer than ${CONTEXT_LENGTH} tokens and was truncated`, { text: p.text });

    const textModel = await loadEncoder(ctx, p.textEncoder, p.textEncoderFormat, 'text encoder');
    let imageModel;
    let textEmb;
    let spec;
    let D;
    try {
      imageModel = await loadEncoder(ctx, p.imageEncoder, p.imageEncoderFormat, 'image encoder');
      // The text embedding, once.
      const feed = textFeeder(textModel);
      textEmb = tf.tidy(() => {
        const e = runModel(textModel, feed(tf, tok.ids, tok.length), p.textOutput, 'text encoder');
        if (e.shape[0] !== 1) throw userError(`clip-text: the text encoder returned ${fmtShape(e.shape)} for one text`);
        return l2normalize(tf, tf.cast(e, 'float32'));
      });
      const tNormT = tf.tidy(() => tf.sum(tf.abs(textEmb)));
      const tNorm = (await tNormT.data())[0];
      tNormT.dispose();
      if (!Number.isFinite(tNorm) || tNorm === 0) throw userError('clip-text: the text encoder returned a zero or non-finite embedding');
      disposeModel(textModel);
      spec = imageInputSpec(imageModel, p);
      const S = p.inputSize;
      const imgD = tf.tidy(() => {
        let x = tf.zeros([1, S, S, 3]);
        if (spec.layout === 'NCHW') x = tf.transpose(x, [0, 3, 1, 2]);
        return runModel(imageModel, { [spec.name]: x }, p.imageOutput, 'image encoder').shape[1];
      });
      D = textEmb.shape[1];
      if (imgD !== D) {
        throw userError(
          `clip-text: the image encoder outputs ${imgD}-dimensional embeddings but the text encoder outputs ${D}-dimensional ones: ` +
            'use the image and text towers (with their projections) of the same CLIP model',
        );
      }
    } catch (e) {
      disposeModel(textModel);
      disposeModel(imageModel);
      if (textEmb) textEmb.dispose();
      throw e;
    }

    const S = p.inputSize;
    const K = p.augmentations;
    let calls = 0;

    /** Embeddings of a preprocessed batch [B, S, S, 3] (NHWC) → L2-normalised [B, D]. */
    const textCol = tf.tidy(() => tf.reshape(textEmb, [D, 1]));
    /** cos(image embedding, text embedding) [B] of a preprocessed batch in the encoder's layout. */
    const cosOf = (x) => {
      const e = tf.cast(runModel(imageModel, { [spec.name]: x }, p.imageOutput, 'image encoder'), 'float32');
      const dot = tf.matMul(e, textCol); // [B, 1]
      const norm = tf.sqrt(tf.add(tf.sum(tf.square(e), 1, true), 1e-12));
      return tf.reshape(tf.div(dot, norm), [-1]);
    };
    /** Clean cosine similarity [n] (resize + normalise only). */
    const cosine = (images) => tf.tidy(() => cosOf(preprocess(tf, images, S, 1, p.augment, null, spec.layout)));

    return {
      textEmbedding: textEmb,
      tokens: tok.ids,
      embeddingDim: D,
      layout: spec.layout,
      cosine,
      energy(images) {
        const n = images.shape[0];
        const call = p.freshAugmentations ? calls++ : 0;
        const aug = drawAugmentations(K * n, p.augment, mulberry32(callSeed(p.seed, call)));
        return tf.tidy(() => {
          const cos = cosOf(preprocess(tf, images, S, K, p.augment, aug, spec.layout)); // [K·n], copy k of sample i at k·n + i
          return tf.mean(tf.reshape(tf.sub(1, cos), [K, n]), 0);
        });
      },
      async evaluate(images) {
        const n = images.shape[0];
        const values = [];
        for (let i = 0; i < n; i += 32) {
          const m = Math.min(32, n - i);
          const c = tf.tidy(() => cosine(tf.slice(images, [i, 0, 0, 0], [m, -1, -1, -1])));
          values.push(...(await c.data()));
          c.dispose();
        }
        const count = values.length;
        const mean = values.reduce((a, b) => a + b, 0) / Math.max(count, 1);
        return {
          count,
          text: p.text,
          meanCosine: mean,
          minCosine: count ? Math.min(...values) : null,
          maxCosine: count ? Math.max(...values) : null,
          meanEnergy: 1 - mean,
        };
      },
      dispose() {
        textEmb.dispose();
        textCol.dispose();
        disposeModel(imageModel);
      },
    };
  },
};

module.exports = {
  apiVersion: 1,
  generators: [],
  controls: [clipText],
  // Helpers for tests and for other plugins (require('../clip')).
  preprocess,
  interpolationMatrices,
  drawAugmentations,
  normalizeParams,
  CLIP_MEAN,
  CLIP_STD,
  tokenizer: require('./tokenizer'),
};
