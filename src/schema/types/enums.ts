import { registerEnumType } from 'type-graphql';

export enum PluginSource {
  BUILTIN = 'BUILTIN',
  INSTALLED = 'INSTALLED',
}
export enum PluginStatus {
  LOADED = 'LOADED',
  FAILED = 'FAILED',
}
export enum PromptStatus {
  QUEUED = 'QUEUED',
  TRAINING = 'TRAINING',
  SUCCEEDED = 'SUCCEEDED',
  FAILED = 'FAILED',
  CANCELLED = 'CANCELLED',
}
export enum SampleSetKind {
  PREVIEW = 'PREVIEW',
  SAMPLE = 'SAMPLE',
}
export enum GeneratorKind {
  BASE = 'BASE',
  PROMPT = 'PROMPT',
}

registerEnumType(PluginSource, {
  name: 'PluginSource',
  description: 'Shipped with the server, or installed by an admin.',
});
registerEnumType(PluginStatus, { name: 'PluginStatus' });
registerEnumType(PromptStatus, { name: 'PromptStatus' });
registerEnumType(SampleSetKind, {
  name: 'SampleSetKind',
  description: 'PREVIEW: a batch on a fixed ε during training; SAMPLE: asked for with `sample`.',
});
registerEnumType(GeneratorKind, {
  name: 'GeneratorKind',
  description: 'BASE: offered by a plugin; PROMPT: a trained prompt used as a generator.',
});
