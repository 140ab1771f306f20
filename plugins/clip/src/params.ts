/**
 * The clip-text control's params: JSON Schema, defaults, and the checks load() repeats
 * (it may be called without the host's validation), with errors the prompt's author reads.
 */
import type { JsonSchema } from 'promptgen/plugin';

/** The augmentation settings (see the `augment` param). */
export interface AugmentSettings {
  colour: number;
  translate: number;
  rescale: [number, number];
  cutout: number;
}

export type EncoderFormat = 'auto' | 'layers' | 'graph';

/** Params with every default applied (normalizeParams). */
export interface ClipParams {
  text: string;
  imageEncoder: string;
  textEncoder: string;
  vocabulary: string;
  inputSize: number;
  layout: 'auto' | 'NHWC' | 'NCHW';
  augmentations: number;
  augment: AugmentSettings;
  seed: number;
  freshAugmentations: boolean;
  truncate: boolean;
  imageEncoderFormat: EncoderFormat;
  textEncoderFormat: EncoderFormat;
  /** Which output of a multi-output encoder (index or name). */
  imageOutput?: number | string;
  textOutput?: number | string;
}

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
const DEFAULT_AUGMENT: AugmentSettings = { colour: 0.1, translate: 0.125, rescale: [0.8, 1.2], cutout: 0.25 };

const outputSelector = {
  anyOf: [
    { type: 'integer', minimum: 0 },
    { type: 'string', minLength: 1 },
  ],
};

export const paramsSchema: JsonSchema = {
  type: 'object',
  properties: {
    text: {
      type: 'string',
      minLength: 1,
      maxLength: 300,
      description: 'The prompt, e.g. "a photo of a cat with closed eyes"',
    },
    imageEncoder: {
      type: 'string',
      minLength: 1,
      promptgenAsset: true,
      description:
        "CLIP's image tower: model.json (path or http(s) URL, where the server allows it) of a TF.js layers or graph model, images [n, S, S, 3] (or [n, 3, S, S]) CLIP-normalised → embeddings [n, D]",
    },
    textEncoder: {
      type: 'string',
      minLength: 1,
      promptgenAsset: true,
      description:
        "CLIP's text tower: model.json (path or http(s) URL, where the server allows it), token ids [n, 77] int32 → embeddings [n, D]",
    },
    vocabulary: {
      type: 'string',
      minLength: 1,
      promptgenAsset: true,
      description:
        "CLIP's BPE merges file bpe_simple_vocab_16e6.txt (plain or .gz), path or http(s) URL, where the server allows it",
    },
    inputSize: {
      type: 'integer',
      minimum: 8,
      maximum: 1024,
      default: DEFAULTS.inputSize,
      description: 'Side S of the image encoder input (224 for ViT-B/32)',
    },
    layout: {
      enum: ['auto', 'NHWC', 'NCHW'],
      default: DEFAULTS.layout,
      description:
        "The image encoder's input layout; 'auto' reads it from the model's input shape (NHWC when unknown)",
    },
    augmentations: {
      type: 'integer',
      minimum: 1,
      maximum: 256,
      default: DEFAULTS.augmentations,
      description: 'K: augmented copies per image (the paper uses 50)',
    },
    augment: {
      type: 'object',
      properties: {
        colour: {
          type: 'number',
          minimum: 0,
          maximum: 1,
          default: DEFAULT_AUGMENT.colour,
          description:
            'Colour jitter strength c: brightness ±c, contrast and saturation ×[1−c, 1+c]; 0 = off',
        },
        translate: {
          type: 'number',
          minimum: 0,
          maximum: 0.5,
          default: DEFAULT_AUGMENT.translate,
          description: 'Translation, up to ± this fraction of the side (edges replicated); 0 = off',
        },
        rescale: {
          type: 'array',
          items: { type: 'number', exclusiveMinimum: 0, maximum: 4 },
          minItems: 2,
          maxItems: 2,
          default: DEFAULT_AUGMENT.rescale,
          description: 'Zoom factor range [low, high] (>1 enlarges); [1, 1] = off',
        },
        cutout: {
          type: 'number',
          minimum: 0,
          maximum: 0.9,
          default: DEFAULT_AUGMENT.cutout,
          description:
            'Side of one square cut out per copy, as a fraction of the side (set to the mean colour); 0 = off',
        },
      },
      additionalProperties: false,
      default: {},
    },
    seed: {
      type: 'integer',
      minimum: 0,
      maximum: 4294967295,
      default: DEFAULTS.seed,
      description: 'Seed of the augmentations',
    },
    freshAugmentations: {
      type: 'boolean',
      default: DEFAULTS.freshAugmentations,
      description:
        'true: every energy() call draws new augmentations (call i of an instance always draws the same ones for a seed); false: the same K augmentations every call',
    },
    truncate: {
      type: 'boolean',
      default: DEFAULTS.truncate,
      description: 'Cut a text longer than 77 tokens (else the load fails)',
    },
    imageEncoderFormat: { enum: ['auto', 'layers', 'graph'], default: DEFAULTS.imageEncoderFormat },
    textEncoderFormat: { enum: ['auto', 'layers', 'graph'], default: DEFAULTS.textEncoderFormat },
    imageOutput: {
      ...outputSelector,
      description:
        'Which output of a multi-output image encoder (index or name); default: the first [n, D] output',
    },
    textOutput: {
      ...outputSelector,
      description:
        'Which output of a multi-output text encoder (index or name); default: the first [n, D] output',
    },
  },
  required: ['text', 'imageEncoder', 'textEncoder', 'vocabulary'],
  additionalProperties: false,
};

/**
 * An error whose message clients may read in Prompt.error (`expose`): about params and
 * model shapes, which the prompt's author can fix. Errors from reading files are not
 * marked (their text can quote the file), so the host shows them as "internal error (id …)".
 */
export const userError = (message: string): Error & { expose: true } =>
  Object.assign(new Error(message), { expose: true as const });

export const fmtShape = (s: readonly (number | null)[] | null | undefined): string =>
  s ? `[${s.map((d) => (d == null || d < 0 ? 'n' : d)).join(', ')}]` : 'unknown';

/** Params with defaults applied (load() may be called without the host's validation) and checked. */
export function normalizeParams(raw: unknown): ClipParams {
  if (!raw || typeof raw !== 'object') throw userError('params must be an object');
  const given = raw as Partial<ClipParams>;
  const p = {
    ...DEFAULTS,
    ...given,
    augment: { ...DEFAULT_AUGMENT, ...(given.augment || {}) },
  } as ClipParams;
  for (const k of ['text', 'imageEncoder', 'textEncoder', 'vocabulary'] as const) {
    if (typeof p[k] !== 'string' || !p[k]) throw userError(`params.${k} is required (a non-empty string)`);
  }
  if (p.text.length > 300) throw userError('params.text is longer than 300 characters');
  if (!Number.isInteger(p.inputSize) || p.inputSize < 8)
    throw userError(`params.inputSize must be an integer >= 8 (got ${JSON.stringify(p.inputSize)})`);
  if (!Number.isInteger(p.augmentations) || p.augmentations < 1)
    throw userError(
      `params.augmentations must be a positive integer (got ${JSON.stringify(p.augmentations)})`,
    );
  if (!['auto', 'NHWC', 'NCHW'].includes(p.layout))
    throw userError(`params.layout must be "auto", "NHWC" or "NCHW" (got ${JSON.stringify(p.layout)})`);
  const a = p.augment;
  const r = a.rescale;
  if (!Array.isArray(r) || r.length !== 2 || !(r[0] > 0) || !(r[1] >= r[0]))
    throw userError(
      `params.augment.rescale must be [low, high] with 0 < low <= high (got ${JSON.stringify(r)})`,
    );
  for (const k of ['colour', 'translate', 'cutout'] as const) {
    if (typeof a[k] !== 'number' || !(a[k] >= 0) || a[k] >= 1)
      throw userError(`params.augment.${k} must be a number in [0, 1) (got ${JSON.stringify(a[k])})`);
  }
  return p;
}
