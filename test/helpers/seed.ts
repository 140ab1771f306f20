/** Rows for resolver tests, written straight to the database. */
import type { DataSource } from 'typeorm';
import {
  ControlRow,
  GeneratorRow,
  PluginRow,
  PromptRow,
  type PromptStatusValue,
} from '../../src/store/entities';

export async function seedCatalog(ds: DataSource) {
  const m = ds.manager;
  const plugin = await m.save(
    PluginRow,
    m.create(PluginRow, {
      name: '@test/digits',
      version: '1.2.3',
      source: 'BUILTIN',
      status: 'LOADED',
      error: null,
      spec: null,
      integrity: null,
    }),
  );
  const broken = await m.save(
    PluginRow,
    m.create(PluginRow, {
      name: '@test/broken',
      version: '0.0.1',
      source: 'INSTALLED',
      status: 'FAILED',
      error: 'plugin threw while loading: boom',
      spec: '/tmp/broken.tgz',
      integrity: null,
    }),
  );
  const generator = await m.save(
    GeneratorRow,
    m.create(GeneratorRow, {
      name: 'digits',
      title: 'Digits',
      description: 'test digits',
      latentDim: 8,
      width: 28,
      height: 28,
      channels: 1,
      pluginId: plugin.id,
      basePromptId: null,
      available: true,
    }),
  );
  const gone = await m.save(
    GeneratorRow,
    m.create(GeneratorRow, {
      name: 'gone',
      title: 'Gone',
      description: null,
      latentDim: 4,
      width: 8,
      height: 8,
      channels: 3,
      pluginId: null,
      basePromptId: null,
      available: false,
    }),
  );
  const control = await m.save(
    ControlRow,
    m.create(ControlRow, {
      name: 'digit',
      title: 'Digit classifier',
      description: null,
      paramsSchema: {
        type: 'object',
        properties: {
          classes: { type: 'array', items: { type: 'integer', minimum: 0, maximum: 9 }, minItems: 1 },
        },
        required: ['classes'],
        additionalProperties: false,
      },
      conditionDim: null,
      paired: false,
      pluginId: plugin.id,
      available: true,
    }),
  );
  return { plugin, broken, generator, gone, control };
}

export async function seedPrompt(
  ds: DataSource,
  generator: GeneratorRow,
  control: ControlRow,
  overrides: Partial<PromptRow> & { status?: PromptStatusValue } = {},
): Promise<PromptRow> {
  const m = ds.manager;
  return m.save(
    PromptRow,
    m.create(PromptRow, {
      name: 'sevens',
      status: 'QUEUED',
      generatorId: generator.id,
      controls: [
        {
          controlId: control.id,
          controlName: control.name,
          weight: 100,
          params: { classes: [7] },
          pluginName: '@test/digits',
          pluginVersion: '1.2.3',
        },
      ],
      training: {
        steps: 10,
        batchSize: 4,
        learningRate: 1e-3,
        flowBlocks: 2,
        hiddenUnits: 16,
        seed: 1,
        previewEvery: 5,
      },
      pluginVersions: { '@test/digits': '1.2.3' },
      ...overrides,
    }),
  );
}
