/**
 * Every query over stored data, executed against the real schema and a real
 * database (PostgreSQL with DATABASE_URL, else embedded PGlite).
 */
import { graphql } from 'graphql';
import { loadConfig } from '../../src/shared/config';
import { InProcessEventBus } from '../../src/events/event-bus';
import { createSchema } from '../../src/schema/build-schema';
import type { GraphQLContext } from '../../src/schema/context';
import { toGlobalId } from '../../src/shared/global-id';
import { PromptService } from '../../src/services/prompts';
import { openTestDatabase, type TestDatabase } from '../helpers/database';
import { seedCatalog, seedPrompt } from '../helpers/seed';

let db: TestDatabase;
let seeded: Awaited<ReturnType<typeof seedCatalog>>;
let context: GraphQLContext;

async function run(query: string, variables?: Record<string, unknown>) {
  const result = await graphql({
    schema: await createSchema(),
    source: query,
    variableValues: variables,
    contextValue: context,
  });
  if (result.errors) throw new Error(result.errors.map((e) => e.message).join('; '));
  return JSON.parse(JSON.stringify(result.data)); // as a client receives it over HTTP
}

beforeAll(async () => {
  db = await openTestDatabase();
  seeded = await seedCatalog(db.dataSource);
  const config = loadConfig({});
  const events = new InProcessEventBus();
  context = {
    services: {
      config,
      store: db.store,
      events,
      prompts: new PromptService(db.store, config, events, () => null),
      samples: null,
      plugins: null,
    },
    admin: false,
    baseUrl: 'http://test.local',
  };
});

afterAll(async () => {
  await db?.close();
});

describe('catalog queries', () => {
  it('lists available generators with their plugin', async () => {
    const data = await run(
      '{ generators { id name title latentDim output { width height channels } available plugin { name version } basePrompt { id } } }',
    );
    expect(data.generators).toEqual([
      {
        id: toGlobalId('Generator', seeded.generator.id),
        name: 'digits',
        title: 'Digits',
        latentDim: 8,
        output: { width: 28, height: 28, channels: 1 },
        available: true,
        plugin: { name: '@test/digits', version: '1.2.3' },
        basePrompt: null,
      },
    ]);
  });

  it('finds a generator by id and by name; unknown → null', async () => {
    const id = toGlobalId('Generator', seeded.generator.id);
    const q = 'query($id: ID!) { generator(id: $id) { name } }';
    expect((await run(q, { id })).generator).toEqual({ name: 'digits' });
    expect((await run(q, { id: 'digits' })).generator).toEqual({ name: 'digits' });
    expect((await run(q, { id: 'nope' })).generator).toBeNull();
    expect(
      (await run(q, { id: toGlobalId('Generator', '00000000-0000-4000-8000-000000000000') })).generator,
    ).toBeNull();
  });

  it('lists controls with their params schema and plugin', async () => {
    const data = await run(
      '{ controls { name title paramsSchema conditionDim paired plugin { name } } control(id: "digit") { name } }',
    );
    expect(data.controls).toEqual([
      {
        name: 'digit',
        title: 'Digit classifier',
        paramsSchema: seeded.control.paramsSchema,
        conditionDim: null,
        paired: false,
        plugin: { name: '@test/digits' },
      },
    ]);
    expect(data.control).toEqual({ name: 'digit' });
  });

  it('lists plugins with status, error and what they provide', async () => {
    const data = await run(
      '{ plugins { name version source status error generators { name } controls { name } } }',
    );
    expect(data.plugins).toEqual([
      {
        name: '@test/digits',
        version: '1.2.3',
        source: 'BUILTIN',
        status: 'LOADED',
        error: null,
        generators: [{ name: 'digits' }],
        controls: [{ name: 'digit' }],
      },
      {
        name: '@test/broken',
        version: '0.0.1',
        source: 'INSTALLED',
        status: 'FAILED',
        error: 'plugin threw while loading: boom',
        generators: [],
        controls: [],
      },
    ]);
  });

  it('resolves node(id) for every node type and rejects garbage', async () => {
    const q =
      'query($id: ID!) { node(id: $id) { __typename id ... on Plugin { name } ... on Control { name } ... on Generator { name } } }';
    const pluginId = toGlobalId('Plugin', seeded.plugin.id);
    expect((await run(q, { id: pluginId })).node).toEqual({
      __typename: 'Plugin',
      id: pluginId,
      name: '@test/digits',
    });
    expect((await run(q, { id: toGlobalId('Control', seeded.control.id) })).node.__typename).toBe('Control');
    expect((await run(q, { id: toGlobalId('Generator', seeded.generator.id) })).node.name).toBe('digits');
    expect((await run(q, { id: 'not-a-global-id' })).node).toBeNull();
  });
});

describe('prompts and sample sets', () => {
  let queued: Awaited<ReturnType<typeof seedPrompt>>;
  let done: Awaited<ReturnType<typeof seedPrompt>>;

  beforeAll(async () => {
    queued = await seedPrompt(db.dataSource, seeded.generator, seeded.control, { name: 'first' });
    await new Promise((r) => setTimeout(r, 5));
    done = await seedPrompt(db.dataSource, seeded.generator, seeded.control, {
      name: 'second',
      status: 'SUCCEEDED',
      startedAt: new Date('2026-01-01T00:00:00Z'),
      finishedAt: new Date('2026-01-01T00:01:00Z'),
      metrics: { samples: 64, energies: { digit: { base: 2.1, prompt: 0.1 } } },
      progress: {
        step: 10,
        totalSteps: 10,
        loss: 1.5,
        logDet: -0.5,
        energies: [{ control: 'digit', value: 0.1 }],
        stepsPerSecond: 4,
        etaSeconds: 0,
        at: '2026-01-01T00:01:00.000Z',
      },
    });
    await db.store.saveSampleSet(
      {
        promptId: done.id,
        generatorId: seeded.generator.id,
        kind: 'PREVIEW',
        step: 5,
        seed: 1,
        truncation: 1,
        condition: null,
        count: 2,
      },
      [
        { png: Buffer.from('png-0'), width: 28, height: 28 },
        { png: Buffer.from('png-1'), width: 28, height: 28 },
      ],
    );
    await db.store.saveSampleSet(
      {
        promptId: done.id,
        generatorId: seeded.generator.id,
        kind: 'SAMPLE',
        step: null,
        seed: 7,
        truncation: 0.7,
        condition: null,
        count: 1,
      },
      [{ png: Buffer.from('png-2'), width: 28, height: 28 }],
    );
  });

  it('reads a prompt with its terms, options, progress, metrics and generator', async () => {
    const data = await run(
      `query($id: ID!) { prompt(id: $id) {
        id name status error createdAt startedAt finishedAt metrics pluginVersions
        generator { name }
        controls { weight params pluginVersion control { name } }
        training { steps batchSize learningRate flowBlocks hiddenUnits seed previewEvery }
        progress { promptId status step totalSteps loss logDet energies { control value } stepsPerSecond etaSeconds at }
      } }`,
      { id: toGlobalId('Prompt', done.id) },
    );
    expect(data.prompt).toMatchObject({
      name: 'second',
      status: 'SUCCEEDED',
      error: null,
      startedAt: '2026-01-01T00:00:00.000Z',
      finishedAt: '2026-01-01T00:01:00.000Z',
      metrics: { samples: 64, energies: { digit: { base: 2.1, prompt: 0.1 } } },
      pluginVersions: { '@test/digits': '1.2.3' },
      generator: { name: 'digits' },
      controls: [
        { weight: 100, params: { classes: [7] }, pluginVersion: '1.2.3', control: { name: 'digit' } },
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
      progress: {
        promptId: toGlobalId('Prompt', done.id),
        status: 'SUCCEEDED',
        step: 10,
        totalSteps: 10,
        loss: 1.5,
        logDet: -0.5,
        energies: [{ control: 'digit', value: 0.1 }],
        stepsPerSecond: 4,
        etaSeconds: 0,
        at: '2026-01-01T00:01:00.000Z',
      },
    });
    expect(Date.parse(data.prompt.createdAt)).toBeGreaterThan(0);
  });

  it('pages prompts newest first and filters by status', async () => {
    const first = await run(
      '{ prompts(first: 1) { totalCount edges { cursor node { name } } pageInfo { hasNextPage endCursor } } }',
    );
    expect(first.prompts.totalCount).toBe(2);
    expect(first.prompts.edges.map((e: any) => e.node.name)).toEqual(['second']);
    expect(first.prompts.pageInfo.hasNextPage).toBe(true);
    const next = await run(
      'query($after: String) { prompts(first: 1, after: $after) { edges { node { name } } pageInfo { hasNextPage } } }',
      { after: first.prompts.pageInfo.endCursor },
    );
    expect(next.prompts.edges.map((e: any) => e.node.name)).toEqual(['first']);
    expect(next.prompts.pageInfo.hasNextPage).toBe(false);
    const queuedOnly = await run('{ prompts(status: QUEUED) { nodes { name status } } }');
    expect(queuedOnly.prompts.nodes).toEqual([{ name: 'first', status: 'QUEUED' }]);
  });

  it('refuses a page size over the limit', async () => {
    const result = await graphql({
      schema: await createSchema(),
      source: '{ prompts(first: 1000) { totalCount } }',
      contextValue: context,
    });
    expect(result.errors?.[0]?.message).toMatch(/first must be an integer from 0 to 100/);
    expect(result.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });

  it("lists a prompt's sample sets with image URLs", async () => {
    const data = await run(
      'query($id: ID!) { prompt(id: $id) { sampleSets { totalCount nodes { kind step seed truncation count generator { name } prompt { name } images { index width height url } } } } }',
      { id: toGlobalId('Prompt', done.id) },
    );
    const sets = data.prompt.sampleSets;
    expect(sets.totalCount).toBe(2);
    expect(sets.nodes.map((s: any) => [s.kind, s.step, s.seed, s.truncation, s.count])).toEqual([
      ['SAMPLE', null, 7, 0.7, 1],
      ['PREVIEW', 5, 1, 1, 2],
    ]);
    expect(sets.nodes[1].images.map((i: any) => i.index)).toEqual([0, 1]);
    expect(sets.nodes[1].images[0].url).toMatch(
      /^http:\/\/test\.local\/artifacts\/images\/[0-9a-f-]{36}\.png$/,
    );
    expect(sets.nodes[0]).toMatchObject({ generator: { name: 'digits' }, prompt: { name: 'second' } });
  });

  it('reads a sample set by id; unknown ids give null', async () => {
    const page = await db.store.listSampleSets(done.id, 1, null);
    const id = toGlobalId('SampleSet', page.rows[0]!.id);
    const data = await run(
      'query($id: ID!) { sampleSet(id: $id) { id kind count } prompt(id: "garbage") { id } }',
      { id },
    );
    expect(data.sampleSet).toEqual({ id, kind: 'SAMPLE', count: 1 });
    expect(data.prompt).toBeNull();
  });

  it('exposes asGenerator only for a SUCCEEDED prompt with a generator row', async () => {
    const q = 'query($id: ID!) { prompt(id: $id) { asGenerator { name basePrompt { name } latentDim } } }';
    expect((await run(q, { id: toGlobalId('Prompt', queued.id) })).prompt.asGenerator).toBeNull();
    await db.store.dataSource.manager.insert('generators', {
      name: `prompt-${done.id.slice(0, 8)}`,
      title: 'second',
      latentDim: 8,
      width: 28,
      height: 28,
      channels: 1,
      pluginId: null,
      basePromptId: done.id,
      available: true,
    });
    expect((await run(q, { id: toGlobalId('Prompt', done.id) })).prompt.asGenerator).toEqual({
      name: `prompt-${done.id.slice(0, 8)}`,
      basePrompt: { name: 'second' },
      latentDim: 8,
    });
  });
});
