/**
 * Loading and running a TF.js layers or graph model the same way for generators and
 * classifiers: one differentiable pass of ordinary ops, one chosen output.
 */
import type { AssetResolver, LoadContext, Tensor, TfjsModelManifest } from 'promptgen/plugin';

/** The host's model classes, as its asset resolver returns them (no second TF.js import). */
export type LayersModel = Awaited<ReturnType<AssetResolver['loadLayersModel']>>;
export type GraphModel = Awaited<ReturnType<AssetResolver['loadGraphModel']>>;
export type Model = LayersModel | GraphModel;

/** A model input: its name and static shape (null where the model does not say). */
export interface ModelInput {
  name: string;
  shape: (number | null)[] | null;
}

const isLayersModel = (model: Model): model is LayersModel =>
  typeof (model as LayersModel).predict === 'function' && Array.isArray((model as LayersModel).inputNames);

/** A tensor, not a graph model's map of named outputs. */
const isTensor = (x: Tensor | Record<string, Tensor>): x is Tensor => Boolean((x as Tensor).shape);

export async function loadModel(ctx: LoadContext, manifest: TfjsModelManifest): Promise<Model> {
  const format = manifest.format || 'layers';
  return format === 'graph'
    ? ctx.assets.loadGraphModel(manifest.model)
    : ctx.assets.loadLayersModel(manifest.model);
}

/** Input names and static shapes of a layers or graph model. */
export function modelInputs(model: Model): ModelInput[] {
  if (isLayersModel(model) && Array.isArray(model.inputs)) {
    return model.inputs.map((t, i) => ({ name: model.inputNames[i], shape: t.shape }));
  }
  return ((model as GraphModel).inputs || []).map((t) => ({ name: t.name, shape: t.shape || null }));
}

/** One pass of the model on named inputs (fed in `order`), returning output `outputIndex`. */
export function runModel(
  model: Model,
  inputsByName: Record<string, Tensor>,
  order: string[],
  outputIndex: number | undefined,
): Tensor {
  let out: Tensor | Tensor[] | Record<string, Tensor>;
  if (isLayersModel(model)) {
    const arr = order.map((n) => inputsByName[n]);
    // apply, not predict: one pass of ordinary ops (differentiated by the trainer); predict cuts the batch into chunks of 32.
    out = model.apply(arr.length === 1 ? arr[0] : arr, { training: false }) as Tensor | Tensor[];
  } else {
    out = model.execute(order.length === 1 ? inputsByName[order[0]] : inputsByName);
  }
  if (Array.isArray(out)) return out[outputIndex || 0];
  // A graph model may return its outputs by name.
  return isTensor(out) ? (out as Tensor) : Object.values(out as Record<string, Tensor>)[outputIndex || 0];
}
