/**
 * CLIP's image and text towers as TF.js layers or graph models: loading (format read
 * from model.json), checking their inputs against the params, and running them
 * differentiably to one [n, D] embedding output.
 */
import type { AssetResolver, LoadContext, Tensor, Tensor2D, Tf } from 'promptgen/plugin';
import { fmtShape, userError, type ClipParams, type EncoderFormat } from './params';
import { CONTEXT_LENGTH } from './tokenizer';

/** The host's model classes, as its asset resolver returns them (no second TF.js import). */
type LayersModel = Awaited<ReturnType<AssetResolver['loadLayersModel']>>;
type GraphModel = Awaited<ReturnType<AssetResolver['loadGraphModel']>>;
export type Encoder = LayersModel | GraphModel;

/** A model input: name, static shape (null where unknown) and dtype. */
interface ModelInput {
  name: string;
  shape: (number | null)[] | null;
  dtype: string;
}

/** Feeds of a model, by input name. */
export type Feed = Record<string, Tensor>;

const isHttp = (s: string): boolean => /^https?:\/\//i.test(s);
const isLayersModel = (m: Encoder): m is LayersModel =>
  typeof m.predict === 'function' && 'inputNames' in m && Array.isArray(m.inputNames);

/**
 * 'layers' | 'graph' from the model.json's "format" / topology; null when it cannot be read
 * (the loader then reports why). Read through ctx.assets, which refuses locations the server
 * does not allow (the path comes from client params).
 */
async function detectFormat(ctx: LoadContext, pathOrUrl: string): Promise<'layers' | 'graph' | null> {
  let json;
  try {
    let bytes;
    try {
      bytes = await ctx.assets.readAsset(pathOrUrl);
    } catch (e) {
      // A directory holding model.json (local paths only).
      if (isHttp(pathOrUrl) || !/is a directory/.test((e as Error).message)) throw e;
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

/** A model's outputs as a list: one tensor, several, or a graph model's map of named outputs. */
function outputList(out: Tensor | Tensor[] | Record<string, Tensor>): Tensor[] {
  if (Array.isArray(out)) return out;
  return (out as Tensor).shape ? [out as Tensor] : Object.values(out);
}

export async function loadEncoder(
  ctx: LoadContext,
  pathOrUrl: string,
  format: EncoderFormat,
  what: string,
): Promise<Encoder> {
  const fmt = format === 'auto' ? (await detectFormat(ctx, pathOrUrl)) || 'layers' : format;
  try {
    return fmt === 'graph'
      ? await ctx.assets.loadGraphModel(pathOrUrl)
      : await ctx.assets.loadLayersModel(pathOrUrl);
  } catch (e) {
    throw new Error(`clip-text: cannot load the ${what} (${fmt} model): ${(e as Error).message}`, {
      cause: e,
    });
  }
}

/** [{ name, shape, dtype }] of a layers or graph model's inputs. */
function modelInputs(model: Encoder): ModelInput[] {
  if (isLayersModel(model))
    return model.inputs.map((t, i) => ({ name: model.inputNames[i], shape: t.shape, dtype: t.dtype }));
  return (model.inputs || []).map((t) => ({ name: t.name, shape: t.shape || null, dtype: t.dtype }));
}

function modelOutputNames(model: Encoder): string[] {
  if (isLayersModel(model)) return model.outputNames.slice();
  return (model.outputs || []).map((t) => t.name);
}

/** Runs a model synchronously (differentiable) and returns its selected output. */
export function runModel(
  model: Encoder,
  feed: Feed,
  selector: number | string | undefined | null,
  what: string,
): Tensor2D {
  let out: Tensor | Tensor[] | Record<string, Tensor>;
  if (isLayersModel(model)) {
    const names = model.inputNames;
    const arr = names.map((n) => feed[n]);
    const x = arr.length === 1 ? arr[0] : arr;
    // apply, not predict: predict slices the batch (a PadV2 in the gradient) and checks nothing we need.
    out = model.apply(x, { training: false }) as Tensor | Tensor[];
  } else {
    const keys = Object.keys(feed);
    out = model.execute(keys.length === 1 && model.inputs.length === 1 ? feed[keys[0]] : feed);
  }
  const outs = outputList(out);
  const names = modelOutputNames(model);
  let pick: Tensor;
  if (selector !== undefined && selector !== null) {
    const idx =
      typeof selector === 'number'
        ? selector
        : names.findIndex((n) => n === selector || n.replace(/:0$/, '') === selector);
    if (idx < 0 || idx >= outs.length) {
      throw userError(
        `clip-text: the ${what} has no output ${JSON.stringify(selector)} (outputs: ${names.map((n, i) => `${i}: ${n}`).join(', ') || outs.length})`,
      );
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
        (outs.length > 1
          ? ` (choose another output with ${what === 'image encoder' ? 'imageOutput' : 'textOutput'})`
          : ' (export the pooled, projected embedding)'),
    );
  }
  return pick as Tensor2D;
}

export function disposeModel(m: Encoder | undefined): void {
  try {
    if (m) m.dispose();
  } catch {
    /* already disposed */
  }
}

/** The image encoder's layout and a check of its declared input shape against inputSize. */
export function imageInputSpec(
  model: Encoder,
  params: ClipParams,
): { name: string; layout: 'NHWC' | 'NCHW' } {
  const inputs = modelInputs(model);
  if (inputs.length !== 1)
    throw userError(
      `clip-text: the image encoder must have one input (images); it has ${inputs.length}: ${inputs.map((i) => i.name).join(', ')}`,
    );
  const shape = inputs[0].shape;
  const S = params.inputSize;
  const layout: 'NHWC' | 'NCHW' =
    params.layout !== 'auto'
      ? params.layout
      : shape && shape.length === 4 && shape[1] === 3 && shape[3] !== 3
        ? 'NCHW'
        : 'NHWC';
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
export function textFeeder(model: Encoder): (tf: Tf, tokenIds: Int32Array, length: number) => Feed {
  const inputs = modelInputs(model);
  if (inputs.length < 1 || inputs.length > 2)
    throw userError(
      `clip-text: the text encoder must have one input (token ids [n, 77]) or two (ids and an attention mask); it has ${inputs.length}`,
    );
  let ids = inputs[0];
  let mask: ModelInput | null = null;
  if (inputs.length === 2) {
    const m = inputs.findIndex((i) => /mask/i.test(i.name));
    if (m < 0)
      throw userError(
        `clip-text: the text encoder has two inputs (${inputs.map((i) => i.name).join(', ')}) and none is an attention mask`,
      );
    mask = inputs[m];
    ids = inputs[1 - m];
  }
  if (ids.shape && ids.shape.length) {
    const got = ids.shape.slice(1);
    if (got.length !== 1 || (got[0] != null && got[0] > 0 && got[0] !== CONTEXT_LENGTH)) {
      throw userError(
        `clip-text: the text encoder's input is ${fmtShape(ids.shape)}, not token ids [n, ${CONTEXT_LENGTH}]`,
      );
    }
  }
  const dtypeOf = (i: ModelInput): 'float32' | 'int32' => (i.dtype === 'float32' ? 'float32' : 'int32');
  return (tf, tokenIds, length) => {
    const feed: Feed = { [ids.name]: tf.tensor2d(tokenIds, [1, CONTEXT_LENGTH], dtypeOf(ids)) };
    if (mask) {
      const m = new Int32Array(CONTEXT_LENGTH);
      m.fill(1, 0, length);
      feed[mask.name] = tf.tensor2d(m, [1, CONTEXT_LENGTH], dtypeOf(mask));
    }
    return feed;
  };
}

/** L2-normalised rows. */
export function l2normalize(tf: Tf, x: Tensor2D): Tensor2D {
  return tf.div(x, tf.sqrt(tf.add(tf.sum(tf.square(x), 1, true), 1e-12)));
}
