/**
 * A trained prompt used as a generator samples through its base generator, so
 * it is available only while every generator down its chain is. Against the
 * real server: an installed plugin's generator, a prompt trained on it and a
 * prompt stacked on that one; once the plugin is uninstalled, every way of
 * reaching those prompts as generators (by id, by name, as a node, from the
 * prompt) says `available: false`, and using them is refused as UNAVAILABLE.
 */
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { freshDatabase, repoRoot, startServer, type TestServer } from '../helpers/server';
import { tempDir } from '../helpers/database';
import { waitFor } from '../helpers/wait';

let server: TestServer;
let db: Awaited<ReturnType<typeof freshDatabase>>;

const PLUGIN = 'promptgen-plugin-example';
const TRAINING = '{ steps: 20, batchSize: 8, flowBlocks: 2, hiddenUnits: 16, previewEvery: 0 }';
const GENERATOR = '{ id name available }';

beforeAll(async () => {
  db = await freshDatabase();
  server = await startServer({ databaseUrl: db.url, env: { PROMPTGEN_WORKERS: '1' } });
  const out = tempDir('promptgen-pack-');
  const tgz = execFileSync('npm', ['pack', '--pack-destination', out, '--ignore-scripts', '--silent'], {
    cwd: path.join(repoRoot, 'test/fixtures/plugins/good'),
    encoding: 'utf8',
  })
    .trim()
    .split('\n')
    .pop()!;
  const installed = await server.gql(
    'mutation($spec: String!) { installPlugin(input: { spec: $spec }) { plugin { status } userErrors { message } } }',
    { spec: path.join(out, tgz) },
    { admin: true },
  );
  expect(installed.data.installPlugin).toEqual({ plugin: { status: 'LOADED' }, userErrors: [] });
});

afterAll(async () => {
  await server?.stop();
  await db?.drop();
});

/** Trains a prompt on `generator` with the plugin's control; returns its id and the generator it became. */
async function train(
  generator: string,
): Promise<{ id: string; asGenerator: { id: string; name: string; available: boolean } }> {
  const created = await server.gql(
    `mutation($g: ID!) { createPrompt(input: { generator: $g, controls: [{ control: "example-brightness", weight: 50, params: { target: 0.9 } }], training: ${TRAINING} }) { prompt { id } userErrors { message } } }`,
    { g: generator },
  );
  expect(created.data.createPrompt.userErrors).toEqual([]);
  const id = created.data.createPrompt.prompt.id;
  const done = await waitFor(async () => {
    const p = (
      await server.gql(`query($id: ID!) { prompt(id: $id) { status error asGenerator ${GENERATOR} } }`, {
        id,
      })
    ).data.prompt;
    return ['SUCCEEDED', 'FAILED', 'CANCELLED'].includes(p.status) && p;
  });
  expect([done.status, done.error]).toEqual(['SUCCEEDED', null]);
  return { id, asGenerator: done.asGenerator };
}

/** `available` of one trained prompt's generator, read every way the API offers. */
async function availability(prompt: { id: string; asGenerator: { id: string; name: string } }) {
  const res = await server.gql(
    `query($gid: ID!, $name: ID!, $pid: ID!) {
      byId: generator(id: $gid) { available }
      byName: generator(id: $name) { available }
      byPrompt: generator(id: $pid) { available }
      node(id: $gid) { ... on Generator { available } }
      prompt(id: $pid) { asGenerator { available } }
    }`,
    { gid: prompt.asGenerator.id, name: prompt.asGenerator.name, pid: prompt.id },
  );
  expect(res.errors).toBeUndefined();
  const d = res.data;
  return [
    d.byId.available,
    d.byName.available,
    d.byPrompt.available,
    d.node.available,
    d.prompt.asGenerator.available,
  ];
}

describe('a trained prompt whose base generator is uninstalled', () => {
  it('is reported unavailable however it is reached, and refused as a generator', async () => {
    const first = await train('example-pattern');
    const stacked = await train(first.asGenerator.name);
    expect(await availability(first)).toEqual([true, true, true, true, true]);
    expect(await availability(stacked)).toEqual([true, true, true, true, true]);

    const removed = await server.gql(
      'mutation($name: String!) { uninstallPlugin(input: { name: $name }) { removed userErrors { message } } }',
      { name: PLUGIN },
      { admin: true },
    );
    expect(removed.data.uninstallPlugin).toEqual({ removed: true, userErrors: [] });

    expect(await availability(first)).toEqual([false, false, false, false, false]);
    expect(await availability(stacked)).toEqual([false, false, false, false, false]);
    // The stacked prompt's own generator (the first prompt) says so too, and the list leaves both out.
    const stackedPrompt = await server.gql(`query($id: ID!) { prompt(id: $id) { generator ${GENERATOR} } }`, {
      id: stacked.id,
    });
    expect(stackedPrompt.data.prompt.generator).toEqual({ ...first.asGenerator, available: false });
    const listed = (await server.gql('{ generators { name } }')).data.generators.map(
      (g: { name: string }) => g.name,
    );
    expect(listed).toContain('mnist');
    expect(listed).not.toContain(first.asGenerator.name);
    expect(listed).not.toContain(stacked.asGenerator.name);
    // A built-in base generator is untouched by the rule.
    expect((await server.gql(`{ generator(id: "mnist") ${GENERATOR} }`)).data.generator.available).toBe(true);

    // Used as a generator: refused with a coded userError, nothing queued.
    const countBefore = (await server.gql('{ prompts(first: 0) { totalCount } }')).data.prompts.totalCount;
    for (const gen of [first.asGenerator.name, stacked.asGenerator.id]) {
      const create = await server.gql(
        'mutation($g: ID!) { createPrompt(input: { generator: $g, controls: [{ control: "mnist-digit", params: { classes: [1] } }] }) { prompt { id } userErrors { field code } } }',
        { g: gen },
      );
      expect(create.data.createPrompt).toEqual({
        prompt: null,
        userErrors: [{ field: ['generator'], code: 'UNAVAILABLE' }],
      });
      const sample = await server.gql(
        'mutation($g: ID!) { sample(input: { generator: $g, count: 1 }) { sampleSet { id } userErrors { field code } } }',
        { g: gen },
      );
      expect(sample.data.sample).toEqual({
        sampleSet: null,
        userErrors: [{ field: ['generator'], code: 'UNAVAILABLE' }],
      });
    }
    // Sampling the stacked prompt itself goes through the first prompt's generator: refused the same way.
    const sampled = await server.gql(
      'mutation($p: ID!) { sample(input: { prompt: $p, count: 1 }) { sampleSet { id } userErrors { field code } } }',
      { p: stacked.id },
    );
    expect(sampled.data.sample).toEqual({
      sampleSet: null,
      userErrors: [{ field: ['prompt'], code: 'UNAVAILABLE' }],
    });
    expect((await server.gql('{ prompts(first: 0) { totalCount } }')).data.prompts.totalCount).toBe(
      countBefore,
    );
  });
});
