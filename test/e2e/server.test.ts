/**
 * The running server, as a client meets it: HTTP queries, a graphql-ws
 * subscription end to end, guard rails, the admin token, start-up errors and
 * a graceful SIGTERM.
 */
import { freshDatabase, startProcess, startServer, subscribe, type TestServer } from '../helpers/server';
import { tempDir, usingPostgres } from '../helpers/database';
import { waitFor } from '../helpers/wait';

let server: TestServer;
let db: Awaited<ReturnType<typeof freshDatabase>>;

beforeAll(async () => {
  db = await freshDatabase();
  // No workers: prompts stay QUEUED, so the subscription's events come from the API alone.
  server = await startServer({
    databaseUrl: db.url,
    env: { PROMPTGEN_WORKERS: '0', PROMPTGEN_MAX_QUERY_COMPLEXITY: '300' },
  });
});

afterAll(async () => {
  await server?.stop();
  await db?.drop();
});

const CREATE = `mutation($input: CreatePromptInput!) { createPrompt(input: $input) { prompt { id status } userErrors { field message code } } }`;
const PROGRESS = `subscription($id: ID!) { trainingProgress(promptId: $id) { promptId status step totalSteps } }`;

describe('serve', () => {
  it('says which database and data directory it uses', () => {
    const out = server.proc.output();
    expect(out).toContain(
      usingPostgres ? 'database: PostgreSQL at postgres' : 'database: embedded PGlite in',
    );
    expect(out).toContain(`data directory: ${server.dataDir}`);
  });

  it('answers health and readiness probes', async () => {
    const health = await fetch(`${server.url}/healthz`);
    expect(health.status).toBe(200);
    const ready = await fetch(`${server.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({
      status: 'ready',
      database: usingPostgres ? 'postgresql' : 'embedded',
    });
  });

  it('lists the built-in generators and plugins', async () => {
    const res = await server.gql('{ generators { name } plugins { name status source } }');
    expect(res.errors).toBeUndefined();
    expect(res.data.generators.map((g: any) => g.name)).toContain('mnist');
    expect(res.data.plugins).toEqual(
      expect.arrayContaining([
        { name: '@promptgen/mnist', status: 'LOADED', source: 'BUILTIN' },
        { name: '@promptgen/tfjs-model', status: 'LOADED', source: 'BUILTIN' },
      ]),
    );
  });

  it("streams a prompt's state over graphql-ws: latest state first, then changes, for that prompt only", async () => {
    const input = (name: string) => ({
      generator: 'mnist',
      name,
      controls: [{ control: 'mnist-digit', params: { classes: [7] } }],
      training: { steps: 20 },
    });
    const a = await server.gql(CREATE, { input: input('a') });
    const b = await server.gql(CREATE, { input: input('b') });
    expect(a.data.createPrompt.userErrors).toEqual([]);
    const idA = a.data.createPrompt.prompt.id;
    const idB = b.data.createPrompt.prompt.id;

    const client = server.wsClient();
    const subA = subscribe(client, PROGRESS, { id: idA });
    const subB = subscribe(client, PROGRESS, { id: idB });
    await waitFor(() => subA.events.length >= 1 && subB.events.length >= 1);
    expect(subA.events[0]).toEqual({
      trainingProgress: { promptId: idA, status: 'QUEUED', step: 0, totalSteps: 20 },
    });

    const cancel = await server.gql(
      'mutation($id: ID!) { cancelPrompt(input: { id: $id }) { prompt { status } userErrors { code } } }',
      { id: idA },
    );
    expect(cancel.data.cancelPrompt).toEqual({ prompt: { status: 'CANCELLED' }, userErrors: [] });
    expect(server.proc.output()).toMatch(
      /\[promptgen:prompts\] prompt [0-9a-f-]{36} cancelled \("a"\) at step 0\n/,
    );
    const eventsA = await subA.done; // completes once the prompt has ended
    expect(eventsA.map((e: any) => e.trainingProgress.status)).toEqual(['QUEUED', 'CANCELLED']);
    expect(subB.events.map((e: any) => e.trainingProgress.promptId)).toEqual([idB]);
    subB.cancel();

    // A late subscriber to the ended prompt gets its final state and completion.
    const late = subscribe(client, PROGRESS, { id: idA });
    expect((await late.done).map((e: any) => e.trainingProgress.status)).toEqual(['CANCELLED']);
    await client.dispose();
  });

  it('refuses a subscription to an unknown prompt with a clear error', async () => {
    const client = server.wsClient();
    const sub = subscribe(client, PROGRESS, { id: 'nope' });
    expect(await sub.done).toEqual([]);
    expect(sub.errors).toEqual([
      expect.objectContaining({
        message: 'unknown prompt id',
        extensions: expect.objectContaining({ code: 'BAD_USER_INPUT' }),
      }),
    ]);
    await client.dispose();
  });

  it('refuses queries that are too deep, over HTTP and over ws', async () => {
    // prompts(1) nodes(2) generator(3), then five basePrompt/generator pairs (13), name (14)
    const nest = (inner: string) => `generator { basePrompt { ${inner} } }`;
    const deep = `{ prompts { nodes { ${nest(nest(nest(nest(nest('generator { name }')))))} } } }`;
    const res = await server.gql(deep);
    expect(res.status).toBe(400);
    // Apollo files every validation-rule failure under GRAPHQL_VALIDATION_FAILED.
    expect(res.errors![0]).toMatchObject({
      message: expect.stringMatching(/^Query is too deep: depth 14 exceeds the limit of 12/),
      extensions: { code: 'GRAPHQL_VALIDATION_FAILED' },
    });
    const client = server.wsClient();
    const sub = subscribe(
      client,
      `subscription { sampleBatches(promptId: "x") { prompt { ${nest(nest(nest(nest(nest('generator { name }')))))} } } }`,
      {},
    );
    await expect(sub.done).rejects.toEqual([
      expect.objectContaining({
        message: expect.stringMatching(/^Query is too deep: depth 1[3-5] exceeds the limit of 12/),
      }),
    ]);
    await client.dispose();
  });

  it('refuses queries that are too complex', async () => {
    const res = await server.gql(
      '{ prompts(first: 100) { nodes { sampleSets(first: 100) { nodes { images { url } } } } } }',
    );
    expect(res.errors![0]).toMatchObject({
      message: expect.stringMatching(/^Query is too complex: complexity \d+ exceeds the limit of 300/),
      extensions: { code: 'QUERY_TOO_COMPLEX' },
    });
  });

  it('refuses a body over the size limit', async () => {
    const res = await fetch(`${server.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        query: '{ plugins { name } }',
        variables: { pad: 'x'.repeat(2 * 1024 * 1024) },
      }),
    });
    expect(res.status).toBe(413);
    expect(await res.json()).toMatchObject({
      errors: [
        {
          message: expect.stringContaining('exceeds the limit of 1048576 bytes'),
          extensions: { code: 'PAYLOAD_TOO_LARGE' },
        },
      ],
    });
  });

  it('refuses admin operations without the token and changes nothing', async () => {
    const before = await server.gql('{ plugins { name version } }');
    const res = await server.gql(
      'mutation { installPlugin(input: { spec: "left-pad@1.3.0" }) { plugin { name } } }',
    );
    expect(res.errors![0]).toMatchObject({ extensions: { code: 'FORBIDDEN' } });
    const un = await server.gql(
      'mutation { uninstallPlugin(input: { name: "@promptgen/mnist" }) { removed } }',
    );
    expect(un.errors![0]).toMatchObject({ extensions: { code: 'FORBIDDEN' } });
    expect(await server.gql('{ plugins { name version } }')).toEqual(before);
  });
});

describe('start-up and shutdown', () => {
  it('exits with a clear message on bad configuration', async () => {
    const proc = startProcess(['serve'], {
      PORT: 'abc',
      PROMPTGEN_BACKEND: 'gpu',
      PROMPTGEN_DATA_DIR: tempDir(),
    });
    expect(await proc.exited).toBe(2);
    expect(proc.output()).toContain('PORT="abc" is not an integer (expected 0–65535)');
    expect(proc.output()).toContain(
      'PROMPTGEN_BACKEND="gpu" is not one of auto, tensorflow-gpu, webgpu, tensorflow, wasm, cpu',
    );
  });

  it('drains on SIGTERM: open subscriptions close cleanly and the process exits 0', async () => {
    const local = await freshDatabase();
    const s = await startServer({ databaseUrl: local.url, env: { PROMPTGEN_WORKERS: '0' } });
    try {
      const created = await s.gql(CREATE, {
        input: { generator: 'mnist', controls: [{ control: 'mnist-digit', params: { classes: [1] } }] },
      });
      const client = s.wsClient();
      const sub = subscribe(client, PROGRESS, { id: created.data.createPrompt.prompt.id });
      await waitFor(() => sub.events.length === 1);
      const closing = sub.done.then(
        () => null,
        (event: { code: number; wasClean: boolean }) => event,
      );
      const code = await s.stop();
      expect(code).toBe(0);
      // The server says goodbye with a clean close frame (1001 Going Away), not a dropped socket.
      const closed = await closing;
      expect(closed && { code: closed.code, wasClean: closed.wasClean }).toEqual({
        code: 1001,
        wasClean: true,
      });
      expect(sub.events).toHaveLength(1);
      expect(s.proc.output()).toContain('shut down');
      await client.dispose();
    } finally {
      await s.stop();
      await local.drop();
    }
  });
});
