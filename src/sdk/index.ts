/**
 * The PromptGen plugin SDK: everything a plugin author imports, as
 * `import { definePlugin } from 'promptgen/plugin'` (types, one identity helper
 * and the API version). Plugins never bundle TensorFlow.js: the host hands its
 * own `tf` to `load()` through the context, so tensors of the host and of the
 * plugin live in one engine.
 *
 * A plugin package declares `"promptgen": { "apiVersion": 1 }` in its
 * package.json, and its main module's default export (or `module.exports`) is
 * the value returned by `definePlugin({...})`.
 */
import type * as tfcore from '@tensorflow/tfjs-core';
import type * as tflayers from '@tensorflow/tfjs-layers';
import type * as tfconverter from '@tensorflow/tfjs-converter';

/** The plugin API this host implements. Bumped on breaking changes. */
export const PLUGIN_API_VERSION = 1 as const;

/** The host's TensorFlow.js: core ops plus the layers and converter loaders. */
export type Tf = typeof tfcore & typeof tflayers & typeof tfconverter;
export type Tensor = tfcore.Tensor;
export type Tensor1D = tfcore.Tensor1D;
export type Tensor2D = tfcore.Tensor2D;
export type Tensor4D = tfcore.Tensor4D;

/** A JSON Schema (draft 2020-12 subset understood by ajv) for control params. */
export type JsonSchema = Record<string, unknown>;

export interface Logger {
  info(message: string, extra?: Record<string, unknown>): void;
  warn(message: string, extra?: Record<string, unknown>): void;
  error(message: string, extra?: Record<string, unknown>): void;
}

/** Resolves files shipped inside the plugin package (or a URL) for loading. */
export interface AssetResolver {
  /** Absolute path of a file inside the plugin package; refuses paths that escape it. */
  resolve(relativePath: string): string;
  readFile(relativePath: string): Promise<Buffer>;
  /**
   * Reads a file inside the package, or an absolute path / file:// or http(s) URL where
   * the admin allows it (PROMPTGEN_ASSET_DIRS, PROMPTGEN_ASSET_URLS); refuses anything
   * else. Use it (never fs or fetch) for locations that come from params.
   */
  readAsset(pathOrUrl: string): Promise<Buffer>;
  /** Loads a TF.js layers model from a path inside the package, or an allowed absolute path or http(s) URL (see readAsset). */
  loadLayersModel(pathOrUrl: string): Promise<tflayers.LayersModel>;
  /** Loads a TF.js graph model from a path inside the package, or an allowed absolute path or http(s) URL (see readAsset). */
  loadGraphModel(pathOrUrl: string): Promise<tfconverter.GraphModel>;
}

export interface LoadContext {
  tf: Tf;
  assets: AssetResolver;
  logger: Logger;
  /** Name of the TF.js backend in use ('wasm', 'cpu', 'tensorflow', ...). */
  backend: string;
  /**
   * Named classifiers contributed by every loaded plugin (`PluginDefinition.classifiers`
   * and classifier manifests of declarative packages), so a generic control of one
   * plugin can use a classifier of another. Provided by the host registry; absent in
   * minimal hosts (tests), so check before use. Loaded instances are cached and owned
   * by the host: do not dispose them.
   */
  classifiers?: ClassifierAccessor;
  /**
   * Differentiable image augmentations to average a classifier energy over (so a flow
   * cannot lower it with changes nobody sees). Provided by the host registry; absent in
   * minimal hosts, where a control should use the images as they are.
   */
  augment?: AugmentAccessor;
}

/** Augmentation settings (see `LoadContext.augment`). */
export interface AugmentSpec {
  /** K: augmented copies per image per call (fresh draws each call); 0 turns augmentation off (the image itself). */
  copies: number;
  /** Largest shift, as a fraction of the image side (0.08 of 28 px ≈ 2 px). */
  shift: number;
  /** Largest zoom change: zoom drawn in [1 − scale, 1 + scale]. */
  scale: number;
  /** Mirror left–right with probability 1/2 (only where that keeps the label: faces, not digits). */
  flip: boolean;
  /** Standard deviation of the Gaussian noise added to each pixel (images in [0, 1]). */
  noise: number;
}

/** Augmented copies of a batch and the mean back over them. */
export interface Augmenter {
  readonly spec: AugmentSpec;
  /** Rows per image that expand() produces (max(1, copies)). */
  readonly copies: number;
  /** [n, h, w, c] → [K·n, h, w, c] (copy-major: row k·n + i is copy k of image i). Differentiable. */
  expand(images: Tensor4D): Tensor4D;
  /** [K·n, ...] → [n, ...]: mean over the copies. */
  mean<T extends Tensor>(perCopy: T): T;
}

export interface AugmentAccessor {
  /** The host's defaults (1 fresh copy per call, ±8 % shift and zoom, σ 0.03 noise, no flip). */
  defaults: AugmentSpec;
  /** An augmenter with its own seeded draws; `spec` overrides the defaults; throws for bad values. */
  create(spec?: Partial<AugmentSpec> | null, seed?: number): Augmenter;
}

/** The host's named classifiers (see `LoadContext.classifiers`). */
export interface ClassifierAccessor {
  /** Names of the classifiers that can be loaded, sorted. */
  names(): string[];
  /** Loads (once, then from the host's cache) the classifier `name`; rejects for an unknown name. */
  load(name: string, generator: GeneratorInfo): Promise<Classifier>;
}

export interface ImageShape {
  width: number;
  height: number;
  channels: number;
}

export interface GeneratorInfo {
  name: string;
  latentDim: number;
  output: ImageShape;
}

export interface GeneratorInstance {
  /** z: [n, latentDim] → images [n, height, width, channels] (NHWC), values in [0, 1]. Differentiable in z. */
  generate(z: Tensor2D): Tensor4D;
  dispose(): void;
}

export interface GeneratorDefinition {
  /** Unique across all plugins, stable: e.g. "mnist". */
  name: string;
  title: string;
  description?: string;
  latentDim: number;
  output: ImageShape;
  load(ctx: LoadContext): Promise<GeneratorInstance> | GeneratorInstance;
}

export interface EnergyExtras {
  /** The latent the images were generated from. */
  z: Tensor2D;
  /** The condition vector, for controls that declare `conditionDim`. */
  condition?: Tensor2D;
  /** For paired controls: G(f(ε; 0)), the same ε without the condition. */
  pairImages?: Tensor4D;
}

/** Draws n samples of images from the base generator (for calibration). */
export type BaseSampler = (n: number) => Promise<Tensor4D>;

export interface ControlInstance {
  /** Per-sample energy [n]; lower is better. Must be differentiable in `images`. */
  energy(images: Tensor4D, extras: EnergyExtras): Tensor1D;
  /** Conditional controls: draw n training conditions, [n, conditionDim]. */
  sampleCondition?(n: number, random: () => number): Tensor2D;
  /** Fit parameters on samples of the base generator before training (e.g. de-biasing). */
  calibrate?(sampleBase: BaseSampler): Promise<void>;
  /** State produced by calibrate, stored with the prompt so a worker can restore it. */
  calibrationState?(): unknown;
  restoreCalibration?(state: unknown): void;
  /**
   * Called after every training step with that step's images (detached, owned by
   * the caller): a control may adapt to the prompt's own samples, e.g. online
   * moment matching that keeps several target classes equally frequent where
   * reverse-KL training would settle on one. Whatever it changes must be part of
   * trainingState(), so a run resumed from a checkpoint continues it.
   * May return a promise (the trainer awaits it): read tensors with
   * `await t.data()`, since the webgpu backend has no synchronous read in Node.
   */
  observe?(images: Tensor4D): void | Promise<void>;
  /** JSON-serialisable state changed by observe(); saved in every training checkpoint. */
  trainingState?(): unknown;
  restoreTrainingState?(state: unknown): void;
  /** Metrics over a batch of images, e.g. a class histogram. JSON-serialisable. */
  evaluate?(images: Tensor4D): Promise<Record<string, unknown>>;
  /**
   * Conditional controls: the range sampleCondition() draws from, per condition
   * component, in condition units. The flow is only trained there, so the
   * evaluation sweeps it and `sample` refuses conditions outside it.
   */
  conditionRange?(): { min: number[]; max: number[] };
  /** Conditional controls: a name per condition component (e.g. 'yaw'), for metrics. */
  conditionNames?: string[];
  /**
   * Conditional controls: what the control measures on each image, [n, conditionDim],
   * in condition units (e.g. the estimated pose): the evaluation compares it with the
   * requested condition (slope per component).
   */
  measureCondition?(images: Tensor4D): Tensor2D;
  /**
   * Paired controls: per-sample similarity measures of images to their pairs
   * (e.g. { sameDigit: [1, 0, …], featureCosine: […] }); the evaluation averages each
   * per condition. Called on chunks of a few dozen images.
   */
  evaluatePair?(images: Tensor4D, pairImages: Tensor4D): Promise<Record<string, number[]>>;
  dispose(): void;
}

/** What `ControlDefinition.checkParams` may consult about the host. */
export interface ParamsCheckHost {
  /** Names of the classifiers loaded plugins contribute (see `LoadContext.classifiers`). */
  classifiers: string[];
  /** Class names of a classifier (its `ClassifierDefinition.classNames`); undefined when unknown or empty. */
  classNames?(classifier: string): string[] | undefined;
}

/** One problem with a control's params: the path inside params (e.g. ['targets', '0', 'classifier']) and a message. */
export interface ParamsProblem {
  field: string[];
  message: string;
}

// A plugin's params are whatever its paramsSchema admits; `any` lets a plain-JavaScript plugin omit P.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export interface ControlDefinition<P = any> {
  /** Unique across all plugins, stable: e.g. "mnist-digit". */
  name: string;
  title: string;
  description?: string;
  /** JSON Schema of the params a prompt passes; validated before anything is queued. */
  paramsSchema: JsonSchema;
  /** Non-null: the control makes the flow conditional on a vector of this size. */
  conditionDim?: number | null;
  /** The energy needs pairImages (G(f(ε; 0))), e.g. an identity-keeping term. */
  paired?: boolean;
  load(ctx: LoadContext, params: P, generator: GeneratorInfo): Promise<ControlInstance> | ControlInstance;
  /**
   * Optional checks beyond the JSON Schema, run when a prompt is created (after schema
   * validation, with defaults applied) so that e.g. an unknown classifier name is refused
   * before anything is queued. Must be fast and must not load models. Empty: fine.
   */
  checkParams?(params: P, host: ParamsCheckHost): ParamsProblem[];
}

/**
 * A named classifier a plugin contributes for other controls to use (e.g. the generic
 * `classifier` and `debias` controls): `ctx.classifiers.load(name, generator)`.
 */
export interface ClassifierDefinition {
  /** Unique across all plugins' classifiers (same rule as generator/control names): e.g. "mnist-digit". */
  name: string;
  title: string;
  description?: string;
  /** Class names in output order (known without loading; used to check params). */
  classNames: string[];
  load(ctx: LoadContext, generator: GeneratorInfo): Promise<Classifier> | Classifier;
  /**
   * Optional: whether the classifier means something on a generator's images of this shape
   * (e.g. 28×28 digits, not faces). The host's side-effect audit reports, after training,
   * the class marginals of every classifier that fits (and of those the prompt uses).
   * Manifest classifiers fit images of their declared input size. Must be fast.
   */
  fits?(output: ImageShape): boolean;
}

export interface PluginDefinition {
  apiVersion: typeof PLUGIN_API_VERSION;
  generators?: GeneratorDefinition[];
  controls?: ControlDefinition[];
  /** Named classifiers for generic controls (see `ClassifierDefinition`). */
  classifiers?: ClassifierDefinition[];
}

/** Identity at run time; gives plugin authors type checking and editor help. */
export function definePlugin<T extends PluginDefinition>(definition: T): T {
  return definition;
}

// ---------------------------------------------------------------------------
// Additions (compatible): package.json field, naming rule, and the manifest
// format of the built-in `@promptgen/tfjs-model` plugin.
// ---------------------------------------------------------------------------

/** Generator and control names: lower-case, digits and '-', 2–63 characters, starting with a letter. */
export const PLUGIN_ITEM_NAME_PATTERN = /^[a-z][a-z0-9-]{1,62}$/;

/** The `"promptgen"` field of a plugin's package.json. */
export interface PromptgenPackageField {
  apiVersion: number;
  /**
   * Declarative models: each entry becomes a generator or a classifier control
   * through the built-in tfjs-model plugin. Paths are relative to the package.
   */
  models?: TfjsModelManifest[];
}

/** How a slice of the latent z feeds one named model input (tfjs-model generators). */
export interface TfjsInputSpec {
  /** Model input name (layers: the InputLayer name; graph: the signature input name). */
  name: string;
  /** Half-open range [start, end) of z's columns (absent for a constant input). */
  from?: [number, number];
  /** A constant input instead of latent columns: this row for every sample (e.g. a fixed class one-hot). */
  value?: number[];
  /** Applied to the slice: default 'identity'. */
  transform?: 'identity' | 'softmax' | 'sigmoid' | 'tanh';
  /** Zero columns added [before, after] the (transformed) slice. */
  pad?: [number, number];
}

interface TfjsManifestBase {
  name: string;
  title?: string;
  description?: string;
  /** model.json path relative to the declaring package, absolute path, or http(s) URL. */
  model: string;
  /** Default 'layers'. */
  format?: 'layers' | 'graph';
  /** Which output of a multi-output model to use (default 0). */
  outputIndex?: number;
}

export interface TfjsGeneratorManifest extends TfjsManifestBase {
  kind: 'generator';
  latentDim: number;
  /** Default: the whole latent feeds the model's single input. */
  inputs?: TfjsInputSpec[];
  output: ImageShape & {
    /** Layout of the model's output (default 'NHWC'); rank-2 outputs are reshaped. */
    layout?: 'NHWC' | 'NCHW';
    /** The model's value range, mapped to [0, 1] (default [0, 1]). */
    range?: [number, number];
    /** Clip to [0, 1] after mapping (default true). */
    clip?: boolean;
  };
}

export interface TfjsClassifierManifest extends TfjsManifestBase {
  kind: 'classifier';
  input: ImageShape & {
    /** 'flat' feeds [n, height*width*channels] (row-major NHWC), e.g. MLPs. Default 'NHWC'. */
    layout?: 'NHWC' | 'NCHW' | 'flat';
    /** The value range the model expects; images in [0, 1] are mapped to it (default [0, 1]). */
    range?: [number, number];
    /** Feed 1 - x (dark strokes on white) before mapping the range. Default false. */
    invert?: boolean;
  };
  /** Class names in output order; or classNamesFile (one name per line, relative to the package). */
  classNames?: string[];
  classNamesFile?: string;
  /** What the model outputs (default 'logits'). */
  outputs?: 'logits' | 'probabilities';
}

export type TfjsModelManifest = TfjsGeneratorManifest | TfjsClassifierManifest;

/** A loaded classifier (tfjs-model `loadClassifier`): reuse it in controls. */
export interface Classifier {
  classNames: string[];
  numClasses: number;
  /** images [n, h, w, c] NHWC in [0, 1] (resized/converted as needed) → [n, numClasses]. Differentiable. */
  probs(images: Tensor4D): Tensor2D;
  /** Numerically stable log-probabilities, [n, numClasses]. Differentiable. */
  logProbs(images: Tensor4D): Tensor2D;
  /** Class index for an index or a name; throws for unknown classes. */
  classIndex(c: number | string): number;
  dispose(): void;
}

/**
 * An error whose message clients may read (in `Prompt.error`): throw it from load() or
 * energy() for problems the prompt's author can fix. Any other exception is shown to
 * clients only as "internal error (id …)" (the real message is in the server log), and
 * absolute paths are cut from exposed messages too. Plain-JavaScript plugins can set
 * `err.expose = true` on an Error instead.
 */
export function userFacingError(message: string): Error & { expose: true } {
  return Object.assign(new Error(message), { expose: true as const });
}
