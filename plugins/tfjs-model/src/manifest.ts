/**
 * Checks of tfjs-model manifests (the `"promptgen": { "models": [...] }` entries of a
 * declarative package). A manifest is untrusted JSON: every field is checked here, with
 * a message that names it, before any factory reads it.
 */
import type { TfjsModelManifest } from 'promptgen/plugin';

const NAME_RE = /^[a-z][a-z0-9-]{1,62}$/;
const TRANSFORMS = ['identity', 'softmax', 'sigmoid', 'tanh'];

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => v !== null && typeof v === 'object' && !Array.isArray(v);
/** Any object, arrays included (their fields are then reported one by one). */
const isObj = (v: unknown): v is Json => !!v && typeof v === 'object';
const isPosInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v > 0;
const isNonNegInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0;
const isRange = (r: unknown): boolean =>
  Array.isArray(r) &&
  r.length === 2 &&
  r.every((x) => typeof x === 'number' && Number.isFinite(x)) &&
  r[1] !== r[0];

/** A shape for messages: `[n,28,28,1]`, unknown dimensions as null. */
export const fmtShape = (s: readonly (number | null | undefined)[]): string =>
  `[${s.map((d) => (d == null ? 'null' : d)).join(',')}]`;

/** Problems with a generator manifest's `output` and `inputs`. */
function generatorErrors(m: Json, errors: string[]): void {
  if (!isPosInt(m.latentDim))
    errors.push(`latentDim must be a positive integer (got ${JSON.stringify(m.latentDim)})`);
  const o = m.output;
  if (!isObj(o)) errors.push('output must be an object { width, height, channels, layout?, range? }');
  else {
    for (const k of ['width', 'height', 'channels'])
      if (!isPosInt(o[k]))
        errors.push(`output.${k} must be a positive integer (got ${JSON.stringify(o[k])})`);
    if (o.layout !== undefined && o.layout !== 'NHWC' && o.layout !== 'NCHW')
      errors.push(`output.layout must be "NHWC" or "NCHW" (got ${JSON.stringify(o.layout)})`);
    if (o.range !== undefined && !isRange(o.range))
      errors.push('output.range must be [low, high] with low != high');
    if (o.clip !== undefined && typeof o.clip !== 'boolean') errors.push('output.clip must be a boolean');
  }
  if (m.inputs === undefined) return;
  if (!Array.isArray(m.inputs) || m.inputs.length === 0) {
    errors.push('inputs must be a non-empty array');
    return;
  }
  m.inputs.forEach((raw: unknown, i) => {
    const inp: Json = isObj(raw) ? raw : {};
    if (typeof inp.name !== 'string' || !inp.name)
      errors.push(`inputs[${i}].name must be the model input's name`);
    if (inp.value !== undefined) {
      // A constant input (e.g. a fixed class one-hot): the same row for every sample, no latent columns.
      const v = inp.value;
      if (!Array.isArray(v) || v.length === 0 || !v.every((x) => typeof x === 'number' && Number.isFinite(x)))
        errors.push(`inputs[${i}].value must be a non-empty array of finite numbers`);
      for (const k of ['from', 'transform', 'pad'])
        if (inp[k] !== undefined) errors.push(`inputs[${i}] has a constant "value"; it takes no "${k}"`);
      return;
    }
    const f = inp.from;
    if (!Array.isArray(f) || f.length !== 2 || !isNonNegInt(f[0]) || !isNonNegInt(f[1]) || f[1] <= f[0])
      errors.push(`inputs[${i}].from must be [start, end) with 0 <= start < end (or a constant "value")`);
    else if (isPosInt(m.latentDim) && f[1] > m.latentDim)
      errors.push(`inputs[${i}].from [${f[0]}, ${f[1]}) exceeds latentDim ${m.latentDim}`);
    if (inp.transform !== undefined && !TRANSFORMS.includes(inp.transform as string))
      errors.push(
        `inputs[${i}].transform must be one of ${TRANSFORMS.join(', ')} (got ${JSON.stringify(inp.transform)})`,
      );
    if (
      inp.pad !== undefined &&
      !(Array.isArray(inp.pad) && inp.pad.length === 2 && inp.pad.every(isNonNegInt))
    )
      errors.push(`inputs[${i}].pad must be [before, after] non-negative integers`);
  });
}

/** Problems with a classifier manifest's `input`, class names and outputs. */
function classifierErrors(m: Json, errors: string[]): void {
  const inp = m.input;
  if (!isObj(inp))
    errors.push('input must be an object { width, height, channels, layout?, range?, invert? }');
  else {
    for (const k of ['width', 'height', 'channels'])
      if (!isPosInt(inp[k]))
        errors.push(`input.${k} must be a positive integer (got ${JSON.stringify(inp[k])})`);
    if (inp.layout !== undefined && !['NHWC', 'NCHW', 'flat'].includes(inp.layout as string))
      errors.push(`input.layout must be "NHWC", "NCHW" or "flat" (got ${JSON.stringify(inp.layout)})`);
    if (inp.range !== undefined && !isRange(inp.range))
      errors.push('input.range must be [low, high] with low != high');
    if (inp.invert !== undefined && typeof inp.invert !== 'boolean')
      errors.push('input.invert must be a boolean');
  }
  const names = m.classNames;
  if (
    names !== undefined &&
    !(Array.isArray(names) && names.length > 0 && names.every((c) => typeof c === 'string'))
  )
    errors.push('classNames must be a non-empty array of strings');
  if (m.classNamesFile !== undefined && typeof m.classNamesFile !== 'string')
    errors.push('classNamesFile must be a path');
  if (m.outputs !== undefined && m.outputs !== 'logits' && m.outputs !== 'probabilities')
    errors.push(`outputs must be "logits" or "probabilities" (got ${JSON.stringify(m.outputs)})`);
}

/** Checks a manifest; returns specific error messages (empty when valid). */
export function validateManifest(m: unknown): string[] {
  if (!isObject(m)) return ['a model manifest must be an object'];
  const errors: string[] = [];
  if (m.kind !== 'generator' && m.kind !== 'classifier')
    errors.push(`kind must be "generator" or "classifier" (got ${JSON.stringify(m.kind)})`);
  if (typeof m.name !== 'string' || !NAME_RE.test(m.name))
    errors.push(
      `name ${JSON.stringify(m.name)} is invalid: use 2-63 lower-case letters, digits and '-', starting with a letter`,
    );
  if (m.title !== undefined && typeof m.title !== 'string') errors.push('title must be a string');
  if (typeof m.model !== 'string' || !m.model)
    errors.push('model must be the path or URL of a TF.js model.json');
  if (m.format !== undefined && m.format !== 'layers' && m.format !== 'graph')
    errors.push(`format must be "layers" or "graph" (got ${JSON.stringify(m.format)})`);
  if (m.outputIndex !== undefined && !isNonNegInt(m.outputIndex))
    errors.push('outputIndex must be a non-negative integer');
  if (m.kind === 'generator') generatorErrors(m, errors);
  else if (m.kind === 'classifier') classifierErrors(m, errors);
  return errors;
}

/** Throws one error listing every problem of a manifest (and a wrong kind, when `kind` is given). */
export function assertManifest<K extends TfjsModelManifest['kind']>(
  m: unknown,
  kind?: K,
): asserts m is Extract<TfjsModelManifest, { kind: K }> {
  const errors = validateManifest(m);
  if (!errors.length && kind && (m as Json).kind !== kind) errors.push(`kind must be "${kind}"`);
  if (errors.length) {
    const name = isObject(m) && typeof m.name === 'string' ? ` ${JSON.stringify(m.name)}` : '';
    throw new Error(`invalid tfjs-model manifest${name}: ${errors.join('; ')}`);
  }
}
