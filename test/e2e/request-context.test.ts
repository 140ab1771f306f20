/**
 * One GraphQL context for both transports (src/server/request-context.ts):
 * against the real server, the same caller over HTTP and over graphql-ws gets
 * the same admin decision for the same token, the same artifact links for the
 * same address, and the same per-client budget.
 */
import { createClient, type ExecutionResult } from 'graphql-ws';
import WebSocket from 'ws';
import { ADMIN_TOKEN, freshDatabase, startServer, type TestServer } from '../helpers/server';

let server: TestServer;
let db: Awaited<ReturnType<typeof freshDatabase>>;
const RATE_LIMIT = 2;

beforeAll(async () => {
  db = await freshDatabase();
  // No worker: prompts created here stay QUEUED, nothing trains.
  server = await startServer({
    databaseUrl: db.url,
    env: { PROMPTGEN_WORKERS: '0', PROMPTGEN_RATE_LIMIT_PER_MINUTE: String(RATE_LIMIT) },
  });
});

afterAll(async () => {
  await server?.stop();
  await db?.drop();
});

type Result = ExecutionResult<any, any> & { status?: number };

async function overHttp(
  query: string,
  variables: Record<string, unknown>,
  headers: Record<string, string> = {},
): Promise<Result> {
  const res = await fetch(`${server.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ query, variables }),
  });
  return { ...((await res.json()) as ExecutionResult), status: res.status };
}

/** One operation on a fresh graphql-ws connection: the token as a connection parameter, headers on the upgrade request. */
async function overWs(
  query: string,
  variables: Record<string, unknown>,
  authorization?: string,
  headers: Record<string, string> = {},
): Promise<Result> {
  class WithHeaders extends WebSocket {
    constructor(url: string, protocols?: string | string[]) {
      super(url, protocols, { headers });
    }
  }
  const client = createClient({
    url: server.wsUrl,
    webSocketImpl: WithHeaders,
    connectionParams: authorization === undefined ? {} : { authorization },
    retryAttempts: 0,
  });
  try {
    const results = client.iterate({ query, variables });
    const first = await results.next();
    return first.value as ExecutionResult;
  } finally {
    await client.dispose();
  }
}

/** The code of an answer: its first error's, else its payload's first userError's, else "OK". */
function outcome(r: Result, field: string): string {
  if (r.errors?.length) return String(r.errors[0]!.extensions?.code);
  return r.data?.[field]?.userErrors?.[0]?.code ?? 'OK';
}

const UNINSTALL =
  'mutation($name: String!) { uninstallPlugin(input: { name: $name }) { removed userErrors { code } } }';
const CREATE =
  'mutation($input: CreatePromptInput!) { createPrompt(input: $input) { prompt { id curveUrl } userErrors { field code } } }';

describe('one context for HTTP and graphql-ws', () => {
  it('decides admin the same way for the same token', async () => {
    const tokens: Array<[string | undefined, string]> = [
      [undefined, 'FORBIDDEN'],
      ['Bearer not-the-admin-token-0000000000', 'FORBIDDEN'],
      [ADMIN_TOKEN, 'FORBIDDEN'], // the token without "Bearer"
      [`Bearer ${ADMIN_TOKEN}`, 'NOT_FOUND'], // admitted: the plugin is unknown
      [`bearer   ${ADMIN_TOKEN}  `, 'NOT_FOUND'],
    ];
    for (const [authorization, expected] of tokens) {
      const http = await overHttp(
        UNINSTALL,
        { name: 'nope-not-here' },
        authorization === undefined ? {} : { authorization },
      );
      const ws = await overWs(UNINSTALL, { name: 'nope-not-here' }, authorization);
      expect([authorization, outcome(http, 'uninstallPlugin'), outcome(ws, 'uninstallPlugin')]).toEqual([
        authorization,
        expected,
        expected,
      ]);
    }
  });

  it('links artifacts to the address the client used, over either transport', async () => {
    const created = await overHttp(
      CREATE,
      {
        input: {
          generator: 'mnist',
          controls: [{ control: 'mnist-digit', params: { classes: [3] } }],
          training: { steps: 5 },
        },
      },
      { authorization: `Bearer ${ADMIN_TOKEN}` },
    );
    expect(created.data.createPrompt.userErrors).toEqual([]);
    const { id, curveUrl } = created.data.createPrompt.prompt;
    const path = new URL(curveUrl).pathname;
    expect(path).toMatch(/^\/artifacts\/prompts\/[0-9a-f-]{36}\/curve\.png$/);

    const QUERY = 'query($id: ID!) { prompt(id: $id) { curveUrl } }';
    const proxied = { 'x-forwarded-host': 'studio.example:8443', 'x-forwarded-proto': 'https' };
    expect((await overHttp(QUERY, { id })).data.prompt.curveUrl).toBe(`${server.url}${path}`);
    expect((await overWs(QUERY, { id })).data.prompt.curveUrl).toBe(`${server.url}${path}`);
    expect((await overHttp(QUERY, { id }, proxied)).data.prompt.curveUrl).toBe(
      `https://studio.example:8443${path}`,
    );
    expect((await overWs(QUERY, { id }, undefined, proxied)).data.prompt.curveUrl).toBe(
      `https://studio.example:8443${path}`,
    );
  });

  it('keeps one per-client budget across transports, and exempts the admin on both', async () => {
    const input = {
      generator: 'no-such-generator',
      controls: [{ control: 'mnist-digit', params: { classes: [3] } }],
    };
    // The budget is RATE_LIMIT: spent half over HTTP, half over ws, then refused on both.
    const spent = [await overHttp(CREATE, { input }), await overWs(CREATE, { input })];
    expect(spent.map((r) => outcome(r, 'createPrompt'))).toEqual(Array(RATE_LIMIT).fill('NOT_FOUND'));
    expect(outcome(await overHttp(CREATE, { input }), 'createPrompt')).toBe('RATE_LIMITED');
    expect(outcome(await overWs(CREATE, { input }), 'createPrompt')).toBe('RATE_LIMITED');
    expect(
      outcome(await overHttp(CREATE, { input }, { authorization: `Bearer ${ADMIN_TOKEN}` }), 'createPrompt'),
    ).toBe('NOT_FOUND');
    expect(outcome(await overWs(CREATE, { input }, `Bearer ${ADMIN_TOKEN}`), 'createPrompt')).toBe(
      'NOT_FOUND',
    );
  });
});
