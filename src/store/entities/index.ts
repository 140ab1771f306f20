export * from './plugin';
export * from './generator';
export * from './control';
export * from './prompt';
export * from './progress-point';
export * from './sample-set';
export * from './image';
export * from './checkpoint';
export * from './plugin-package';
import { PluginRow } from './plugin';
import { GeneratorRow } from './generator';
import { ControlRow } from './control';
import { PromptRow } from './prompt';
import { ProgressPointRow } from './progress-point';
import { SampleSetRow } from './sample-set';
import { ImageRow } from './image';
import { CheckpointRow } from './checkpoint';
import { PluginPackageRow } from './plugin-package';

export const ENTITIES = [
  PluginRow,
  GeneratorRow,
  ControlRow,
  PromptRow,
  ProgressPointRow,
  SampleSetRow,
  ImageRow,
  CheckpointRow,
  PluginPackageRow,
];
