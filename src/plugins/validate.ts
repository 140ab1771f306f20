/**
 * Validation of plugin packages, plugin definitions and control params.
 * Everything returns lists of specific, human-readable messages; nothing throws.
 */
import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import Ajv2020 from 'ajv/dist/2020';
import {
  PLUGIN_API_VERSION,
  PLUGIN_ITEM_NAME_PATTERN,
  type ControlDefinition,
  type JsonSchema,
} from '../sdk';

const ajvOptions = {
  useDefaults: true,
  allErrors: true,
  strict: false,
  logger: false as const,
  validateFormats: false,
};
let ajv2020: Ajv2020 | undefined;
let ajv07: Ajv | undefined;

/**
 * `"promptgenAsset": true` on a string property marks it as a file or URL the control
 * opens (a model, a vocabulary). The host checks every such value against the asset
 * policy before anything is queued (src/plugins/asset-policy.ts). The keyword only
 * records where such values sit; validation runs synchronously, so one collector at a
 * time is enough.
 */
export const ASSET_KEYWORD = 'promptgenAsset';
let assetCollector: Array<{ field: string[]; value: unknown }> | null = null;

function withAssetKeyword<T extends Ajv>(ajv: T): T {
  ajv.addKeyword({
    keyword: ASSET_KEYWORD,
    schemaType: 'boolean',
    errors: false,
    validate: (marked: boolean, data: unknown, _parent: unknown, cxt?: { instancePath: string }) => {
      if (marked && assetCollector) {
        const field = (cxt?.instancePath ?? '')
          .split('/')
          .slice(1)
          .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
        assetCollector.push({ field, value: data });
      }
      return true;
    },
  });
  return ajv;
}

function ajvFor(schema: JsonSchema): Ajv {
  const draft = typeof schema.$schema === 'string' ? schema.$schema : '';
  if (/draft-0[4-7]/.test(draft)) return (ajv07 ??= withAssetKeyword(new Ajv(ajvOptions)));
  return (ajv2020 ??= withAssetKeyword(new Ajv2020(ajvOptions)));
}

const compiled = new WeakMap<object, ValidateFunction>();

/** Compiles a params JSON Schema (cached per schema object); throws with ajv's message when invalid. */
export function compileParamsSchema(schema: JsonSchema): ValidateFunction {
  let fn = compiled.get(schema);
  if (!fn) {
    fn = ajvFor(schema).compile(schema);
    compiled.set(schema, fn);
  }
  return fn;
}

/** Error message of a schema that does not compile, or null. */
export function paramsSchemaError(schema: unknown): string | null {
  if (schema === null || typeof schema !== 'object' || Array.isArray(schema)) {
    return `paramsSchema must be a JSON Schema object (got ${describe(schema)})`;
  }
  try {
    compileParamsSchema(schema as JsonSchema);
    return null;
  } catch (e) {
    return `paramsSchema does not compile: ${(e as Error).message}`;
  }
}

/** The result of the package.json check: the apiVersion, or why the package is not a plugin. */
export function validatePromptgenField(pkg: unknown): string[] {
  if (pkg === null || typeof pkg !== 'object') return ['package.json must contain a JSON object'];
  const p = pkg as Record<string, unknown>;
  if (!('promptgen' in p)) return ['package.json has no "promptgen" field'];
  const field = p.promptgen;
  if (field === null || typeof field !== 'object' || Array.isArray(field)) {
    return [
      `package.json "promptgen" must be an object like { "apiVersion": ${PLUGIN_API_VERSION} } (got ${describe(field)})`,
    ];
  }
  const f = field as Record<string, unknown>;
  if (f.apiVersion === undefined) {
    return [`package.json "promptgen.apiVersion" is missing (this host supports ${PLUGIN_API_VERSION})`];
  }
  if (f.apiVersion !== PLUGIN_API_VERSION) {
    return [
      `apiVersion ${JSON.stringify(f.apiVersion)} is not supported (host supports ${PLUGIN_API_VERSION})`,
    ];
  }
  if (f.models !== undefined && !Array.isArray(f.models)) {
    return [
      `package.json "promptgen.models" must be an array of model manifests (got ${describe(f.models)})`,
    ];
  }
  return [];
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v);
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return typeof v;
}

const isPosInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v > 0;

function checkName(where: string, name: unknown, errors: string[]): void {
  if (typeof name !== 'string') {
    errors.push(`${where}.name must be a string (got ${describe(name)})`);
  } else if (!PLUGIN_ITEM_NAME_PATTERN.test(name)) {
    errors.push(
      `${where}.name ${JSON.stringify(name)} is invalid: use 2-63 lower-case letters, digits and '-', starting with a letter (${PLUGIN_ITEM_NAME_PATTERN})`,
    );
  }
}

function label(kind: string, i: number, item: Record<string, unknown>): string {
  return typeof item.name === 'string' ? `${kind}[${i}] (${JSON.stringify(item.name)})` : `${kind}[${i}]`;
}

/**
 * Checks a loaded plugin definition (the main module's export). Returns specific
 * error messages; an empty list means valid. A plugin with neither generators
 * nor controls is valid (a library plugin such as tfjs-model).
 */
export function validatePluginDefinition(def: unknown): string[] {
  const errors: string[] = [];
  if (def === null || typeof def !== 'object') {
    return [
      `the main module must export a plugin definition object, e.g. module.exports = { apiVersion: 1, generators: [...] } (got ${describe(def)})`,
    ];
  }
  const d = def as Record<string, unknown>;
  if (d.apiVersion !== undefined && d.apiVersion !== PLUGIN_API_VERSION) {
    errors.push(
      `apiVersion ${JSON.stringify(d.apiVersion)} is not supported (host supports ${PLUGIN_API_VERSION})`,
    );
  }
  const seen = new Set<string>();
  const dup = (kind: string, name: unknown) => {
    if (typeof name !== 'string') return;
    if (seen.has(`${kind}:${name}`)) errors.push(`${kind} name ${JSON.stringify(name)} is defined twice`);
    seen.add(`${kind}:${name}`);
  };

  if (d.generators !== undefined) {
    if (!Array.isArray(d.generators))
      errors.push(`generators must be an array (got ${describe(d.generators)})`);
    else
      d.generators.forEach((g, i) => {
        if (g === null || typeof g !== 'object')
          return errors.push(`generators[${i}] must be an object (got ${describe(g)})`);
        const item = g as Record<string, unknown>;
        const where = label('generators', i, item);
        checkName(`generators[${i}]`, item.name, errors);
        dup('generator', item.name);
        if (typeof item.title !== 'string' || !item.title)
          errors.push(`${where}: title must be a non-empty string`);
        if (item.description !== undefined && typeof item.description !== 'string')
          errors.push(`${where}: description must be a string`);
        if (!isPosInt(item.latentDim))
          errors.push(`${where}: latentDim must be a positive integer (got ${describe(item.latentDim)})`);
        const out = item.output as Record<string, unknown> | undefined;
        if (out === null || typeof out !== 'object') {
          errors.push(
            `${where}: output must be an object { width, height, channels } (got ${describe(out)})`,
          );
        } else {
          for (const k of ['width', 'height', 'channels']) {
            if (!isPosInt(out[k]))
              errors.push(`${where}: output.${k} must be a positive integer (got ${describe(out[k])})`);
          }
        }
        if (typeof item.load !== 'function')
          errors.push(`${where}: load must be a function (got ${describe(item.load)})`);
      });
  }

  if (d.controls !== undefined) {
    if (!Array.isArray(d.controls)) errors.push(`controls must be an array (got ${describe(d.controls)})`);
    else
      d.controls.forEach((c, i) => {
        if (c === null || typeof c !== 'object')
          return errors.push(`controls[${i}] must be an object (got ${describe(c)})`);
        const item = c as Record<string, unknown>;
        const where = label('controls', i, item);
        checkName(`controls[${i}]`, item.name, errors);
        dup('control', item.name);
        if (typeof item.title !== 'string' || !item.title)
          errors.push(`${where}: title must be a non-empty string`);
        if (item.description !== undefined && typeof item.description !== 'string')
          errors.push(`${where}: description must be a string`);
        const schemaErr = paramsSchemaError(item.paramsSchema);
        if (schemaErr) errors.push(`${where}: ${schemaErr}`);
        if (item.conditionDim !== undefined && item.conditionDim !== null && !isPosInt(item.conditionDim)) {
          errors.push(
            `${where}: conditionDim must be a positive integer or null (got ${describe(item.conditionDim)})`,
          );
        }
        if (item.paired !== undefined && typeof item.paired !== 'boolean')
          errors.push(`${where}: paired must be a boolean`);
        if (item.checkParams !== undefined && typeof item.checkParams !== 'function') {
          errors.push(`${where}: checkParams must be a function (got ${describe(item.checkParams)})`);
        }
        if (typeof item.load !== 'function')
          errors.push(`${where}: load must be a function (got ${describe(item.load)})`);
      });
  }

  if (d.classifiers !== undefined) {
    if (!Array.isArray(d.classifiers))
      errors.push(`classifiers must be an array (got ${describe(d.classifiers)})`);
    else
      d.classifiers.forEach((c, i) => {
        if (c === null || typeof c !== 'object')
          return errors.push(`classifiers[${i}] must be an object (got ${describe(c)})`);
        const item = c as Record<string, unknown>;
        const where = label('classifiers', i, item);
        checkName(`classifiers[${i}]`, item.name, errors);
        dup('classifier', item.name);
        if (typeof item.title !== 'string' || !item.title)
          errors.push(`${where}: title must be a non-empty string`);
        if (item.description !== undefined && typeof item.description !== 'string')
          errors.push(`${where}: description must be a string`);
        const names = item.classNames;
        if (
          !Array.isArray(names) ||
          names.length === 0 ||
          !names.every((n) => typeof n === 'string' && n.length > 0)
        ) {
          errors.push(
            `${where}: classNames must be a non-empty array of non-empty strings (got ${describe(names)})`,
          );
        } else if (new Set(names).size !== names.length) {
          errors.push(`${where}: classNames must be distinct`);
        }
        if (typeof item.load !== 'function')
          errors.push(`${where}: load must be a function (got ${describe(item.load)})`);
        if (item.fits !== undefined && typeof item.fits !== 'function')
          errors.push(`${where}: fits must be a function (got ${describe(item.fits)})`);
      });
  }
  return errors;
}

export interface ParamError {
  /** Path inside the params object, e.g. ['classes', '1']; [] for the params object itself. */
  field: string[];
  message: string;
}

export interface ParamsValidation {
  valid: boolean;
  /** A normalised deep copy of the params with schema defaults applied (undefined/null params → {}). */
  params: unknown;
  errors: ParamError[];
  /** Values at schema positions marked `"promptgenAsset": true`, with their paths: check them against the asset policy. Absent when none. */
  assets?: Array<{ field: string[]; value: unknown }>;
}

function pointerToPath(pointer: string): string[] {
  if (!pointer) return [];
  return pointer
    .split('/')
    .slice(1)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function errorMessage(e: ErrorObject): string {
  if (e.keyword === 'enum') {
    const allowed = (e.params as { allowedValues: unknown[] }).allowedValues;
    const shown = allowed
      .slice(0, 12)
      .map((v) => JSON.stringify(v))
      .join(', ');
    return `must be one of ${shown}${allowed.length > 12 ? `, … (${allowed.length} values)` : ''}`;
  }
  if (e.keyword === 'const')
    return `must be ${JSON.stringify((e.params as { allowedValue: unknown }).allowedValue)}`;
  if (e.keyword === 'additionalProperties') return 'is not an allowed property';
  if (e.keyword === 'required') return 'is required';
  return e.message ?? 'is invalid';
}

function errorPath(e: ErrorObject): string[] {
  const path = pointerToPath(e.instancePath);
  if (e.keyword === 'required') path.push((e.params as { missingProperty: string }).missingProperty);
  if (e.keyword === 'additionalProperties')
    path.push((e.params as { additionalProperty: string }).additionalProperty);
  return path;
}

/** Turns ajv errors into ParamErrors, folding the branch errors of anyOf/oneOf into one message. */
function toParamErrors(errors: ErrorObject[]): ParamError[] {
  const combinators = errors.filter((e) => e.keyword === 'anyOf' || e.keyword === 'oneOf');
  const out: ParamError[] = [];
  const seen = new Set<string>();
  const push = (field: string[], message: string) => {
    const key = JSON.stringify([field, message]);
    if (!seen.has(key)) {
      seen.add(key);
      out.push({ field, message });
    }
  };
  for (const e of errors) {
    if (e.keyword === 'anyOf' || e.keyword === 'oneOf') {
      const prefix = e.schemaPath + '/';
      const branches = errors.filter(
        (b) => b.schemaPath.startsWith(prefix) && b.instancePath === e.instancePath,
      );
      const msgs = [...new Set(branches.map(errorMessage))];
      push(errorPath(e), msgs.length ? msgs.join(', or ') : errorMessage(e));
      continue;
    }
    const inBranch = combinators.some(
      (c) => e.schemaPath.startsWith(c.schemaPath + '/') && e.instancePath.startsWith(c.instancePath),
    );
    if (!inBranch) push(errorPath(e), errorMessage(e));
  }
  return out;
}

/**
 * Validates params against a control's paramsSchema with defaults applied.
 * The caller prefixes `field` with its own position (e.g. ['controls', '0', 'params']).
 * The input is not modified: `params` in the result is the normalised copy.
 */
export function validateParams(
  control: Pick<ControlDefinition, 'paramsSchema'>,
  params: unknown,
): ParamsValidation {
  const copy = params === undefined || params === null ? {} : structuredClone(params);
  let validate: ValidateFunction;
  try {
    validate = compileParamsSchema(control.paramsSchema);
  } catch (e) {
    return {
      valid: false,
      params: copy,
      errors: [
        { field: [], message: `the control's paramsSchema does not compile: ${(e as Error).message}` },
      ],
    };
  }
  const assets: Array<{ field: string[]; value: unknown }> = [];
  assetCollector = assets;
  let ok: boolean;
  try {
    ok = validate(copy) as boolean;
  } finally {
    assetCollector = null;
  }
  const found = assets.length ? { assets } : {};
  if (ok) return { valid: true, params: copy, errors: [], ...found };
  return { valid: false, params: copy, errors: toParamErrors(validate.errors ?? []), ...found };
}
