/** Database rows → GraphQL objects (ids become global ids; relations stay as row keys). */
import { scrubText } from '../shared/public-error';
import type {
  ControlRow,
  GeneratorRow,
  ImageRow,
  PluginRow,
  PromptRow,
  SampleSetRow,
  StoredProgress,
} from '../store/entities';
import { IMAGE } from '../artifacts/urls';
import { toGlobalId } from '../shared/global-id';
import { Control } from './types/control';
import { type PluginSource, type PluginStatus, type PromptStatus, type SampleSetKind } from './types/enums';
import { Generator } from './types/generator';
import { Plugin } from './types/plugin';
import { TrainingProgress } from './types/progress';
import { ControlTerm, Prompt, TrainingOptions } from './types/prompt';
import { Image, SampleSet } from './types/sample-set';

export function toPlugin(row: PluginRow): Plugin {
  return Object.assign(new Plugin(), {
    rowId: row.id,
    id: toGlobalId('Plugin', row.id),
    name: row.name,
    version: row.version,
    source: row.source as PluginSource,
    status: row.status as PluginStatus,
    // Public: load errors often name files (the full text is in the server log).
    error: row.error === null || row.error === undefined ? row.error : scrubText(row.error),
    spec: row.spec,
  });
}

export function toGenerator(row: GeneratorRow): Generator {
  return Object.assign(new Generator(), {
    rowId: row.id,
    pluginRowId: row.pluginId,
    basePromptRowId: row.basePromptId,
    id: toGlobalId('Generator', row.id),
    name: row.name,
    title: row.title,
    description: row.description,
    latentDim: row.latentDim,
    output: { width: row.width, height: row.height, channels: row.channels },
    available: row.available,
  });
}

export function toControl(row: ControlRow): Control {
  return Object.assign(new Control(), {
    rowId: row.id,
    pluginRowId: row.pluginId,
    id: toGlobalId('Control', row.id),
    name: row.name,
    title: row.title,
    description: row.description,
    paramsSchema: row.paramsSchema,
    conditionDim: row.conditionDim,
    paired: row.paired,
    available: row.available,
  });
}

export function toProgress(promptRowId: string, status: string, p: StoredProgress): TrainingProgress {
  return Object.assign(new TrainingProgress(), {
    promptId: toGlobalId('Prompt', promptRowId),
    status: status as PromptStatus,
    step: p.step,
    totalSteps: p.totalSteps,
    loss: p.loss,
    logDet: p.logDet,
    energies: p.energies,
    stepsPerSecond: p.stepsPerSecond,
    etaSeconds: p.etaSeconds,
    gradNorm: p.gradNorm ?? null,
    at: new Date(p.at),
  });
}

export function toPrompt(row: PromptRow): Prompt {
  return Object.assign(new Prompt(), {
    rowId: row.id,
    generatorRowId: row.generatorId,
    id: toGlobalId('Prompt', row.id),
    name: row.name,
    status: row.status as PromptStatus,
    controls: row.controls.map((c) =>
      Object.assign(new ControlTerm(), {
        stored: c,
        weight: c.weight,
        params: c.params,
        pluginVersion: c.pluginVersion,
      }),
    ),
    training: Object.assign(new TrainingOptions(), row.training),
    progress: row.progress ? toProgress(row.id, row.status, row.progress) : null,
    metrics: row.metrics,
    pluginVersions: row.pluginVersions,
    error: row.error === null || row.error === undefined ? row.error : scrubText(row.error),
    createdAt: row.createdAt,
    startedAt: row.startedAt,
    finishedAt: row.finishedAt,
  });
}

export function toSampleSet(row: SampleSetRow): SampleSet {
  return Object.assign(new SampleSet(), {
    rowId: row.id,
    promptRowId: row.promptId,
    generatorRowId: row.generatorId,
    id: toGlobalId('SampleSet', row.id),
    kind: row.kind as SampleSetKind,
    step: row.step,
    seed: row.seed,
    truncation: row.truncation,
    condition: row.condition,
    count: row.count,
    createdAt: row.createdAt,
  });
}

export function toImage(row: ImageRow, baseUrl: string): Image {
  return Object.assign(new Image(), {
    rowId: row.id,
    index: row.index,
    url: IMAGE.url(baseUrl, row.id),
    width: row.width,
    height: row.height,
  });
}
