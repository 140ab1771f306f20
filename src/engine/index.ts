/** The training engine: tensors only (no GraphQL, no database). */
export { initBackend, getTf, findNativeAddon, type BackendPreference, type BackendInfo } from './backend';
export { registerWasmPatches, WASM_PATCHED_KERNELS } from './kernels/index';
export {
  Flow,
  composeGenerator,
  randomOrthogonal,
  normalizeFlowConfig,
  FLOW_FORMAT,
  FLOW_FORMAT_VERSION,
  type FlowConfig,
  type ComposedGenerator,
} from './flow';
export {
  computeLoss,
  objectivePerSample,
  type EnergyTerm,
  type LossParts,
  type LossInput,
} from './objective';
export {
  train,
  CHECKPOINT_FORMAT,
  CHECKPOINT_FORMAT_VERSION,
  type TrainOptions,
  type TrainProgress,
  type TrainPreview,
  type TrainResult,
} from './trainer';
export { CONDITION_GAIN, conditionInput } from './condition-input';
export { sampleImages, sampleBase, type SampleOptions } from './sampler';
export { encodePng, encodeGrid } from './png';
export { toImageBatch, readImageBatch, concatImageBatches, type ImageBatch } from './images';
export { Rng, deriveSeed, type RngState } from './rng';
export { packArtifact, unpackArtifact, type ArtifactBlob, type UnpackedArtifact } from './artifact';
