'use strict';
/**
 * @promptgen/tfjs-model — built-in PromptGen plugin.
 *
 * Turns a small JSON manifest describing a TensorFlow.js layers or graph model
 * into a generator definition or a "classifier" control definition. The plugin
 * declares no generators of its own: a declarative plugin package lists
 * manifests in package.json (`"promptgen": { "apiVersion": 1, "models": [...] }`)
 * and the host builds them through these factories.
 *
 * Plain CommonJS, no build step. Everything that touches tensors comes from the
 * load context (`ctx.tf`), so no second TensorFlow.js is ever loaded.
 *
 * @typedef {import('../../src/plugins/sdk').LoadContext} LoadContext
 * @typedef {import('../../src/plugins/sdk').GeneratorDefinition} GeneratorDefinition
 * @typedef {import('../../src/plugins/sdk').ControlDefinition} ControlDefinition
 * @typedef {import('../../src/plugins/sdk').TfjsGeneratorManifest} TfjsGeneratorManifest
 * @typedef {import('../../src/plugins/sdk').TfjsClassifierManifest} TfjsClassifierManifest
 * @typedef {import('../../src/plugins/sdk').TfjsModelManifest} TfjsModelManifest
 * @typedef {import('../../src/plugins/sdk').Classifier} Classifier
 */
const fs = require('fs');
const path = require('path');

const NAME_RE = /^[a-z][a-z0-9-]{1,62}$/;
const TRANSFORMS = ['identity', 'softmax', 'sigmoid', 'tanh'];

const isPosInt = (v) => typeof v === 'number' && Number.isInteger(v) && v > 0;
const isNonNegInt = (v) => typeof v === 'number' && Number.isInteger(v) && v >= 0;
const isRange = (r) => Array.isArray(r) && r.length === 2 && r.every((x) => typeof x === 'number' && Number.isFinite(x)) && r[1] !== r[0];
const fmtShape = (s) => `[${s.map((d) => (d == null ? 'null' : d)).join(',')}]`;

/**
 * Checks a manifest; returns specific error messages (empty when valid).
 * @param {unknown} m
 * @returns {string[]}
 */
function validateManifest(m) {
  const errors = [];
  if (m === null || typeof m !== 'object' || Array.isArray(m)) return ['a model manifest must be an object'];
  if (m.kind !== 'generator' && m.kind !== 'classifier') errors.push(`kind must be "generator" or "classifier" (got ${JSON.stringify(m.kind)})`);
  if (typeof m.name !== 'string' || !NAME_RE.test(m.name)) errors.push(`name ${JSON.stringify(m.name)} is invalid: use 2-63 lower-case letters, digits and '-', starting with a letter`);
  if (m.title !== undefined && typeof m.title !== 'string') errors.push('title must be a string');
  if (typeof m.model !== 'string' || !m.model) errors.push('model must be the path or URL of a TF.js model.json');
  if (m.format !== undefined && m.format !== 'layers' && m.format !== 'graph') errors.push(`format must be "layers" or "graph" (got ${JSON.stringify(m.format)})`);
  if (m.outputIndex !== undefined && !isNonNegInt(m.outputIndex)) errors.push('outputIndex must be a non-negative integer');
  if (m.kind === 'generator') {
    if (!isPosInt(m.latentDim)) errors.push(`latentDim must be a positive integer (got ${JSON.stringify(m.latentDim)})`);
    const o = m.output;
    if (!o || typeof o !== 'object') errors.push('output must be an object { width, height, channels, layout?, range? }');
    else {
      for (const k of ['width', 'height', 'channels']) if (!isPosInt(o[k])) errors.push(`output.${k} must be a positive integer (got ${JSON.stringify(o[k])})`);
      if (o.layout !== undefined && o.layout !== 'NHWC' && o.layout !== 'NCHW') errors.push(`output.layout must be "NHWC" or "NCHW" (got ${JSON.stringify(o.layout)})`);
      if (o.range !== undefined && !isRange(o.range)) errors.push('output.range must be [low, high] with low != high');
      if (o.clip !== undefined && typeof o.clip !== 'boolean') errors.push('output.clip must be a boolean');
    }
    if (m.inputs !== undefined) {
      if (!Array.isArray(m.inputs) || m.inputs.length === 0) errors.push('inputs must be a non-empty array');
      else
        m.inputs.forEach((inp, i) => {
          if (!inp || typeof inp.name !== 'string' || !inp.name) errors.push(`inputs[${i}].name must be the model input's name`);
          if (inp && inp.value !== undefined) {
            // A constant input (e.g. a fixed class one-hot): the same row for every sample, no latent columns.
            if (!Array.isArray(inp.value) || inp.value.length === 0 || !inp.value.every((v) => typeof v === 'number' && Number.isFinite(v))) errors.push(`inputs[${i}].value must be a non-empty array of finite numbers`);
            for (const k of ['from', 'transform', 'pad']) if (inp[k] !== undefined) errors.push(`inputs[${i}] has a constant "value"; it takes no "${k}"`);
            return;
          }
          const f = inp && inp.from;
          if (!Array.isArray(f) || f.length !== 2 || !isNonNegInt(f[0]) || !isNonNegInt(f[1]) || f[1] <= f[0]) errors.push(`inputs[${i}].from must be [start, end) with 0 <= start < end (or a constant "value")`);
          else if (isPosInt(m.latentDim) && f[1] > m.latentDim) errors.push(`inputs[${i}].from [${f[0]}, ${f[1]}) exceeds latentDim ${m.latentDim}`);
          if (inp && inp.transform !== undefined && !TRANSFORMS.includes(inp.transform)) errors.push(`inputs[${i}].transform must be one of ${TRANSFORMS.join(', ')} (got ${JSON.stringify(inp.transform)})`);
          if (inp && inp.pad !== undefined && !(Array.isArray(inp.pad) && inp.pad.length === 2 && inp.pad.every(isNonNegInt))) errors.push(`inputs[${i}].pad must be [before, after] non-negative integers`);
        });
    }
  } else if (m.kind === 'classifier') {
    const inp = m.input;
    if (!inp || typeof inp !== 'object') errors.push('input must be an object { width, height, channels, layout?, range?, invert? }');
    else {
      for (const k of ['width', 'height', 'channels']) if (!isPosInt(inp[k])) errors.push(`input.${k} must be a positive integer (got ${JSON.stringify(inp[k])})`);
      if (inp.layout !== undefined && !['NHWC', 'NCHW', 'flat'].includes(inp.layout)) errors.push(`input.layout must be "NHWC", "NCHW" or "flat" (got ${JSON.stringify(inp.layout)})`);
      if (inp.range !== undefined && !isRange(inp.range)) errors.push('input.range must be [low, high] with low != high');
      if (inp.invert !== undefined && typeof inp.invert !== 'boolean') errors.push('input.invert must be a boolean');
    }
    if (m.classNames !== undefined && !(Array.isArray(m.classNames) && m.classNames.length > 0 && m.classNames.every((c) => typeof c === 'string'))) errors.push('classNames must be a non-empty array of strings');
    if (m.classNamesFile !== undefined && typeof m.classNamesFile !== 'string') errors.push('classNamesFile must be a path');
    if (m.outputs !== undefined && m.outputs !== 'logits' && m.outputs !== 'probabilities') errors.push(`outputs must be "logits" or "probabilities" (got ${JSON.stringify(m.outputs)})`);
  }
  return errors;
}

function assertManifest(m, kind) {
  const errors = validateManifest(m);
  if (!errors.length && kind && m.kind !== kind) errors.push(`kind must be "${kind}"`);
  if (errors.length) {
    const name = m && typeof m.name === 'string' ? ` ${JSON.stringify(m.name)}` : '';
    throw new Error(`invalid tfjs-model manifest${name}: ${errors.join('; ')}`);
  }
}

/** @param {LoadContext} ctx */
async function loadModel(ctx, manifest) {
  const format = manifest.format || 'layers';
  return format === 'graph' ? ctx.assets.loadGraphModel(manifest.model) : ctx.assets.loadLayersModel(manifest.model);
}

/** Input names and static shapes of a layers or graph model. */
function modelInputs(model) {
  if (Array.isArray(model.inputNames) && Array.isArray(model.inputs)) {
    // LayersModel
    return model.inputs.map((t, i) => ({ name: model.inputNames[i], shape: t.shape }));
  }
  return (model.inputs || []).map((t) => ({ name: t.name, shape: t.shape || null }));
}

function runModel(model, inputsByName, order, outputIndex) {
  let out;
  if (typeof model.predict === 'function' && Array.isArray(model.inputNames)) {
    const arr = order.map((n) => inputsByName[n]);
    // apply, not predict: one pass of ordinary ops (differentiated by the trainer); predict cuts the batch into chunks of 32.
    out = model.apply(arr.length === 1 ? arr[0] : arr, { training: false });
  } else {
    out = model.execute(order.length === 1 ? inputsByName[order[0]] : inputsByName);
  }
  if (Array.isArray(out)) out = out[outputIndex || 0];
  else if (out && !out.shape && typeof out === 'object') out = Object.values(out)[outputIndex || 0];
  return out;
}

/**
 * A generator definition for a TF.js model described by a manifest.
 * @param {TfjsGeneratorManifest} manifest
 * @returns {GeneratorDefinition}
 */
function tfjsGenerator(manifest) {
  assertManifest(manifest, 'generator');
  const m = manifest;
  const out = m.output;
  const layout = out.layout || 'NHWC';
  const [lo, hi] = out.range || [0, 1];
  const clip = out.clip !== false;
  return {
    name: m.name,
    title: m.title || m.name,
    description: m.description,
    latentDim: m.latentDim,
    output: { width: out.width, height: out.height, channels: out.channels },
    async load(ctx) {
      const { tf } = ctx;
      const model = await loadModel(ctx, m);
      const declared = modelInputs(model);
      const specs = m.inputs || [{ name: declared[0] ? declared[0].name : 'input', from: [0, m.latentDim] }];
      if (!m.inputs && declared.length > 1) {
        model.dispose();
        throw new Error(`model ${m.model} has ${declared.length} inputs (${declared.map((d) => d.name).join(', ')}); the manifest must say how the latent feeds them ("inputs")`);
      }
      for (const s of specs) {
        const d = declared.find((x) => x.name === s.name);
        if (!d && declared.length) {
          model.dispose();
          throw new Error(`model ${m.model} has no input named ${JSON.stringify(s.name)} (inputs: ${declared.map((x) => x.name).join(', ')})`);
        }
        const width = s.value ? s.value.length : s.from[1] - s.from[0] + (s.pad ? s.pad[0] + s.pad[1] : 0);
        const want = d && d.shape ? d.shape[d.shape.length - 1] : null;
        if (d && d.shape && (d.shape.length !== 2 || (want != null && want > 0 && want !== width))) {
          model.dispose();
          const fed = s.value ? `a constant value of ${width}` : `from [${s.from}]${s.pad ? ` plus pad [${s.pad}]` : ''}`;
          throw new Error(`model input ${JSON.stringify(s.name)} has shape ${fmtShape(d.shape)} but the manifest feeds it [n, ${width}] (${fed})`);
        }
      }
      // Constant inputs as [1, k] rows, made once and tiled per batch; freed with the model.
      const constants = {};
      for (const s of specs) if (s.value) constants[s.name] = tf.tensor2d([s.value], [1, s.value.length], 'float32');
      const disposeAll = () => {
        for (const c of Object.values(constants)) c.dispose();
        model.dispose();
      };
      const order = declared.length ? declared.map((d) => d.name).filter((n) => specs.some((s) => s.name === n)) : specs.map((s) => s.name);
      const { width, height, channels } = out;

      /** @param {import('@tensorflow/tfjs-core').Tensor2D} z */
      function generate(z) {
        return tf.tidy(() => {
          if (z.shape.length !== 2 || z.shape[1] !== m.latentDim) {
            throw new Error(`generator ${m.name}: z must have shape [n, ${m.latentDim}] (got ${fmtShape(z.shape)})`);
          }
          const n = z.shape[0];
          const feeds = {};
          for (const s of specs) {
            if (s.value) {
              feeds[s.name] = tf.tile(constants[s.name], [n, 1]);
              continue;
            }
            let x = tf.slice(z, [0, s.from[0]], [n, s.from[1] - s.from[0]]);
            if (s.transform === 'softmax') x = tf.softmax(x);
            else if (s.transform === 'sigmoid') x = tf.sigmoid(x);
            else if (s.transform === 'tanh') x = tf.tanh(x);
            if (s.pad && (s.pad[0] || s.pad[1])) x = tf.pad(x, [[0, 0], [s.pad[0], s.pad[1]]]);
            feeds[s.name] = x;
          }
          let y = runModel(model, feeds, order, m.outputIndex);
          const size = y.size / Math.max(n, 1);
          if (size !== width * height * channels) {
            throw new Error(`generator ${m.name}: model output shape ${fmtShape(y.shape)} does not match the declared output ${width}×${height}×${channels} (${layout})`);
          }
          if (layout === 'NCHW') {
            if (y.shape.length !== 4 && y.shape.length !== 2) throw new Error(`generator ${m.name}: model output shape ${fmtShape(y.shape)} is not NCHW`);
            y = tf.transpose(tf.reshape(y, [n, channels, height, width]), [0, 2, 3, 1]);
          } else if (y.shape.length !== 4 || y.shape[1] !== height || y.shape[2] !== width || y.shape[3] !== channels) {
            if (y.shape.length !== 2) {
              throw new Error(`generator ${m.name}: model output shape ${fmtShape(y.shape)} does not match the declared output [n,${height},${width},${channels}] (NHWC)`);
            }
            y = tf.reshape(y, [n, height, width, channels]);
          }
          if (lo !== 0 || hi !== 1) y = tf.div(tf.sub(y, lo), hi - lo);
          if (clip) y = tf.clipByValue(y, 0, 1);
          return y;
        });
      }
      // Probe once so a wrong shape fails at load time, with a clear message.
      try {
        tf.tidy(() => generate(tf.zeros([1, m.latentDim])));
      } catch (e) {
        disposeAll();
        throw e;
      }
      return { generate, dispose: disposeAll };
    },
  };
}

function readClassNamesFile(file) {
  return fs
    .readFileSync(file, 'utf8')
    .split(/\r?\n/)
    .map((s) => s.trim())
    .filter(Boolean);
}

/**
 * Loads a classifier described by a manifest (reusable by other controls).
 * @param {LoadContext} ctx
 * @param {TfjsClassifierManifest} manifest
 * @returns {Promise<Classifier>}
 */
async function loadClassifier(ctx, manifest) {
  assertManifest(manifest, 'classifier');
  const m = manifest;
  const { tf } = ctx;
  const inp = m.input;
  const layout = inp.layout || 'NHWC';
  const [lo, hi] = inp.range || [0, 1];
  let classNames = m.classNames ? m.classNames.slice() : null;
  if (!classNames && m.classNamesFile) {
    classNames = (await ctx.assets.readFile(m.classNamesFile)).toString('utf8').split(/\r?\n/).map((s) => s.trim()).filter(Boolean);
  }
  const model = await loadModel(ctx, m);
  const declared = modelInputs(model);
  const order = declared.length ? [declared[0].name] : ['input'];
  const expected = layout === 'flat' ? [inp.width * inp.height * inp.channels] : layout === 'NCHW' ? [inp.channels, inp.height, inp.width] : [inp.height, inp.width, inp.channels];
  if (declared[0] && declared[0].shape) {
    const got = declared[0].shape.slice(1);
    if (got.length !== expected.length || got.some((d, i) => d != null && d > 0 && d !== expected[i])) {
      model.dispose();
      throw new Error(`classifier ${m.name}: model input has shape ${fmtShape(declared[0].shape)} but the manifest's input is [n,${expected.join(',')}] (${layout})`);
    }
  }

  function prepare(images) {
    if (images.shape.length !== 4) throw new Error(`classifier ${m.name}: images must be [n, height, width, channels] (got ${fmtShape(images.shape)})`);
    let x = images;
    const [n, h, w, c] = x.shape;
    if (h !== inp.height || w !== inp.width) x = tf.image.resizeBilinear(x, [inp.height, inp.width]);
    if (c !== inp.channels) {
      if (inp.channels === 1) x = tf.mean(x, 3, true);
      else if (c === 1) x = tf.tile(x, [1, 1, 1, inp.channels]);
      else throw new Error(`classifier ${m.name}: cannot convert ${c}-channel images to ${inp.channels} channels`);
    }
    if (inp.invert) x = tf.sub(1, x);
    if (lo !== 0 || hi !== 1) x = tf.add(tf.mul(x, hi - lo), lo);
    if (layout === 'flat') x = tf.reshape(x, [n, inp.width * inp.height * inp.channels]);
    else if (layout === 'NCHW') x = tf.transpose(x, [0, 3, 1, 2]);
    return x;
  }
  function raw(images) {
    const y = runModel(model, { [order[0]]: prepare(images) }, order, m.outputIndex);
    if (y.shape.length !== 2) throw new Error(`classifier ${m.name}: model output shape ${fmtShape(y.shape)} is not [n, classes]`);
    return y;
  }
  const logits = (m.outputs || 'logits') === 'logits';
  const probs = (images) => tf.tidy(() => (logits ? tf.softmax(raw(images)) : raw(images)));
  const logProbs = (images) => tf.tidy(() => (logits ? tf.logSoftmax(raw(images)) : tf.log(tf.clipByValue(raw(images), 1e-7, 1))));

  let numClasses;
  try {
    numClasses = tf.tidy(() => raw(tf.zeros([1, inp.height, inp.width, inp.channels])).shape[1]);
  } catch (e) {
    model.dispose();
    throw e;
  }
  if (classNames && classNames.length !== numClasses) {
    model.dispose();
    throw new Error(`classifier ${m.name}: the model has ${numClasses} outputs but ${classNames.length} class names are declared`);
  }
  if (!classNames) classNames = Array.from({ length: numClasses }, (_, i) => String(i));
  const names = classNames;
  function classIndex(c) {
    if (typeof c === 'number') {
      if (Number.isInteger(c) && c >= 0 && c < numClasses) return c;
      throw new Error(`class index ${c} is out of range (0..${numClasses - 1})`);
    }
    const i = names.indexOf(c);
    if (i >= 0) return i;
    if (/^\d+$/.test(c) && Number(c) < numClasses && !names.includes(c)) return Number(c);
    throw new Error(`unknown class ${JSON.stringify(c)} (known: ${names.slice(0, 20).join(', ')}${names.length > 20 ? ', …' : ''})`);
  }
  return { classNames: names, numClasses, probs, logProbs, classIndex, dispose: () => model.dispose() };
}

/**
 * The "classifier" control for a classifier manifest: energy Σ_c −log p(c|x)
 * over params `{ classes: [...] }` (class indices or names).
 * @param {TfjsClassifierManifest} manifest
 * @param {{ baseDir?: string }} [options] where relative classNamesFile paths live (to put names in the schema)
 * @returns {ControlDefinition}
 */
function tfjsClassifier(manifest, options) {
  assertManifest(manifest, 'classifier');
  const m = manifest;
  let names = m.classNames || null;
  if (!names && m.classNamesFile && options && options.baseDir) {
    const file = path.resolve(options.baseDir, m.classNamesFile);
    if (fs.existsSync(file)) names = readClassNamesFile(file);
  }
  const item = names
    ? { anyOf: [{ type: 'integer', minimum: 0, maximum: names.length - 1 }, { type: 'string', enum: names }] }
    : { anyOf: [{ type: 'integer', minimum: 0 }, { type: 'string', minLength: 1 }] };
  return {
    name: m.name,
    title: m.title || m.name,
    description: m.description || `Classifier control: energy = Σ −log p(class | image) over the chosen classes`,
    paramsSchema: {
      type: 'object',
      properties: {
        classes: { type: 'array', minItems: 1, items: item, description: 'Target classes (indices or names); the energy sums −log p over them' },
      },
      required: ['classes'],
      additionalProperties: false,
    },
    conditionDim: null,
    async load(ctx, params) {
      const clf = await loadClassifier(ctx, m);
      let mask;
      let targets;
      try {
        targets = params.classes.map((c) => clf.classIndex(c));
        const w = new Float32Array(clf.numClasses);
        for (const t of targets) w[t] += 1;
        mask = ctx.tf.tensor1d(w);
      } catch (e) {
        clf.dispose();
        throw e;
      }
      const tf = ctx.tf;
      return {
        energy(images) {
          return tf.tidy(() => tf.neg(tf.sum(tf.mul(clf.logProbs(images), mask), 1)));
        },
        async evaluate(images) {
          const p = clf.probs(images);
          const [probsArr, argmax] = await Promise.all([p.array(), tf.tidy(() => tf.argMax(p, 1)).array()]);
          p.dispose();
          const histogram = {};
          for (const name of clf.classNames) histogram[name] = 0;
          let hits = 0;
          let targetProb = 0;
          probsArr.forEach((row, i) => {
            histogram[clf.classNames[argmax[i]]] += 1;
            if (targets.includes(argmax[i])) hits += 1;
            for (const t of new Set(targets)) targetProb += row[t];
          });
          const n = Math.max(probsArr.length, 1);
          return { count: probsArr.length, histogram, targetRate: hits / n, meanTargetProb: targetProb / n };
        },
        dispose() {
          mask.dispose();
          clf.dispose();
        },
      };
    },
  };
}

/**
 * Definitions for a declarative package's manifests.
 * @param {TfjsModelManifest[]} manifests
 * @param {{ baseDir?: string }} [options]
 */
function fromManifests(manifests, options) {
  const generators = [];
  const controls = [];
  manifests.forEach((m, i) => {
    try {
      if (m && m.kind === 'generator') generators.push(tfjsGenerator(m));
      else if (m && m.kind === 'classifier') controls.push(tfjsClassifier(m, options));
      else assertManifest(m);
    } catch (e) {
      throw new Error(`models[${i}]: ${e.message}`, { cause: e });
    }
  });
  return { generators, controls };
}

module.exports = {
  apiVersion: 1,
  generators: [],
  controls: [],
  tfjsGenerator,
  tfjsClassifier,
  loadClassifier,
  fromManifests,
  validateManifest,
};
