/**
 * A hostile client against the real server (child process, real HTTP and
 * graphql-ws): the file-read vector with a secret-bearing file, the
 * overlapping-fields request, alias floods, queue depth and per-client limits,
 * then a seeded corpus of ≥ 1,000 bad operations over HTTP and WebSocket.
 * Every answer must be < 500, coded, free of server paths, SQL, stack lines
 * and the secret; nothing may be queued that should not be; a normal query
 * must still be answered afterwards.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { getIntrospectionQuery } from 'graphql';
import WebSocket from 'ws';
import { ADMIN_TOKEN, freshDatabase, repoRoot, startServer, type TestServer } from '../helpers/server';
import { tempDir } from '../helpers/database';
import { Rng } from '../../src/engine/rng';
import { ErrorCode } from '../../src/shared/error-code';

const SECRET = 'TOPSECRET-4c1d7e0f-do-not-leak';
let server: TestServer;
let db: Awaited<ReturnType<typeof freshDatabase>>;
let secretDir: string;
let secretFile: string;
let allowedDir: string;

const RATE_LIMIT = 40;

beforeAll(async () => {
  secretDir = tempDir('hostile-secret-');
  secretFile = path.join(secretDir, 'admin-token');
  fs.writeFileSync(secretFile, `${SECRET}\nsecond line\n`);
  allowedDir = tempDir('hostile-allowed-');
  // An allowed directory holding a file that is not a vocabulary: its first line must not reach Prompt.error.
  fs.writeFileSync(path.join(allowedDir, 'not-a-vocab.txt'), `${SECRET}\n`);
  db = await freshDatabase(); // PostgreSQL when DATABASE_URL is set, else the embedded database
  server = await startServer({
    databaseUrl: db.url,
    env: {
      PROMPTGEN_WORKERS: '1',
      PROMPTGEN_BACKEND: 'wasm',
      PROMPTGEN_ASSET_DIRS: allowedDir,
      PROMPTGEN_MAX_QUEUED_PROMPTS: '2',
      PROMPTGEN_RATE_LIMIT_PER_MINUTE: String(RATE_LIMIT),
    },
  });
});

afterAll(async () => {
  await server?.stop();
  await db?.drop();
});

/** What no answer may contain. */
function leaks(text: string): string[] {
  const found: string[] = [];
  if (text.includes(SECRET)) found.push('the secret');
  if (text.includes(secretDir) || text.includes(allowedDir) || text.includes(server.dataDir)) found.push('a temp path');
  if (text.includes(repoRoot) || text.includes('/work/')) found.push('the repository path');
  if (text.includes('node_modules')) found.push('node_modules');
  if (/\bSELECT\b|\bINSERT INTO\b|relation "|invalid byte sequence/.test(text)) found.push('SQL');
  if (/\n\s+at .+:\d+:\d+/.test(text) || /\.js:\d+:\d+/.test(text) || /"stacktrace"/.test(text)) found.push('a stack');
  if (/Cannot read propert|is not a function|undefined \(reading/.test(text)) found.push('a JavaScript internal');
  return found;
}

interface Answer {
  status: number;
  text: string;
  body: any;
}

async function post(body: string, headers: Record<string, string> = {}): Promise<Answer> {
  const res = await fetch(`${server.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
  const text = await res.text();
  let parsed: any = null;
  try {
    parsed = JSON.parse(text);
  } catch {
    /* checked by the caller */
  }
  return { status: res.status, text, body: parsed };
}

const gql = (query: string, variables?: unknown, extra: Record<string, unknown> = {}, headers?: Record<string, string>) =>
  post(JSON.stringify({ query, variables, ...extra }), headers);

/** Every code the server may answer with: src/shared/error-code.ts is the one list. */
const KNOWN_CODES = new Set<string>(Object.values(ErrorCode));

/** Problems of one answer: 5xx, uncoded errors or codes outside ErrorCode, leaks. */
function problemsOf(a: { status?: number; text: string; errors?: any[] }): string[] {
  const out: string[] = [];
  if (a.status !== undefined && a.status >= 500) out.push(`HTTP ${a.status}`);
  for (const e of a.errors ?? []) {
    if (typeof e?.extensions?.code !== 'string') out.push(`uncoded error: ${JSON.stringify(e).slice(0, 200)}`);
    else if (!KNOWN_CODES.has(e.extensions.code)) out.push(`code outside ErrorCode: ${e.extensions.code}`);
    // Bad input is the client's error: an internal one (masked or not) means the server tripped over it.
    else if (e.extensions.code === 'INTERNAL_SERVER_ERROR') out.push(`internal error: ${JSON.stringify(e).slice(0, 200)}`);
  }
  for (const l of leaks(a.text)) out.push(`leaks ${l}`);
  return out;
}

function expectClean(a: Answer) {
  expect(problemsOf({ status: a.status, text: a.text, errors: a.body?.errors })).toEqual([]);
}

const CREATE = 'mutation($input: CreatePromptInput!) { createPrompt(input: $input) { prompt { id status error } userErrors { field message code } } }';
const clipInput = (params: Record<string, unknown>) => ({
  generator: 'mnist',
  controls: [{ control: 'clip-text', params: { text: 'a seven', imageEncoder: 'x/model.json', textEncoder: 'x/model.json', vocabulary: 'x.txt', ...params } }],
  training: { steps: 5, batchSize: 2 },
});

async function promptCount(): Promise<number> {
  const r = await gql('{ prompts(first: 1) { totalCount } }');
  return r.body.data.prompts.totalCount;
}

// ---------------------------------------------------------------------------
// graphql-ws, raw: so that close codes and uncoded errors are seen as they are.

interface WsSession {
  send(query: string, variables?: unknown, operationName?: string): Promise<{ messages: any[]; text: string }>;
  closed(): { code: number; reason: string } | null;
  close(): void;
}

async function wsSession(): Promise<WsSession> {
  const ws = new WebSocket(server.wsUrl, 'graphql-transport-ws');
  let closed: { code: number; reason: string } | null = null;
  const waiters = new Map<string, { messages: any[]; text: string; done: (v: { messages: any[]; text: string }) => void }>();
  ws.on('close', (code, reason) => {
    closed = { code, reason: reason.toString() };
    for (const w of waiters.values()) w.done({ messages: w.messages, text: w.text + `closed ${code} ${reason}` });
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => ws.send(JSON.stringify({ type: 'connection_init', payload: {} })));
    ws.on('message', (data) => {
      const text = data.toString();
      const msg = JSON.parse(text);
      if (msg.type === 'connection_ack') return resolve();
      const w = waiters.get(msg.id);
      if (!w) return;
      w.messages.push(msg);
      w.text += text;
      if (msg.type === 'error' || msg.type === 'complete') {
        waiters.delete(msg.id);
        w.done({ messages: w.messages, text: w.text });
      }
    });
    ws.once('error', reject);
  });
  let next = 0;
  return {
    send(query, variables, operationName) {
      const id = String(++next);
      return new Promise((resolve) => {
        if (closed) return resolve({ messages: [], text: `closed ${closed.code}` });
        const timer = setTimeout(() => {
          waiters.delete(id);
          ws.send(JSON.stringify({ id, type: 'complete' }));
          resolve({ messages: [], text: '' }); // a live subscription: fine, nothing to check
        }, 3000);
        waiters.set(id, {
          messages: [],
          text: '',
          done: (v) => {
            clearTimeout(timer);
            resolve(v);
          },
        });
        ws.send(JSON.stringify({ id, type: 'subscribe', payload: { query, variables, ...(operationName ? { operationName } : {}) } }));
      });
    },
    closed: () => closed,
    close: () => ws.close(),
  };
}

const wsErrors = (messages: any[]) =>
  messages.flatMap((m) => (m.type === 'error' ? m.payload : m.type === 'next' ? m.payload.errors ?? [] : []));

// ---------------------------------------------------------------------------

describe('client params cannot make the server read files or fetch URLs', () => {
  test('paths and URLs outside the allowed locations are refused at createPrompt, on the field, and nothing is queued', async () => {
    const before = await promptCount();
    const attempts: Array<[string, string]> = [
      ['vocabulary', secretFile],
      ['vocabulary', 'file://' + secretFile],
      ['vocabulary', '../../../../../../../../' + secretFile],
      ['vocabulary', path.join(allowedDir, '..', path.basename(secretDir), 'admin-token')],
      ['textEncoder', `${server.url}/healthz`],
      ['imageEncoder', 'http://169.254.169.254/latest/meta-data/'],
      ['textEncoder', '/etc/passwd'],
    ];
    for (const [field, value] of attempts) {
      const r = await gql(CREATE, { input: clipInput({ [field]: value }) });
      expectClean(r);
      expect(r.body.data.createPrompt.prompt).toBeNull();
      expect(r.body.data.createPrompt.userErrors).toContainEqual(
        expect.objectContaining({ field: ['controls', '0', 'params', field], code: 'FORBIDDEN_ASSET' }),
      );
    }
    expect(await promptCount()).toBe(before);
  });

  test('a training failure on an allowed but wrong file shows a masked error, never its contents', async () => {
    const r = await gql(CREATE, { input: clipInput({ vocabulary: path.join(allowedDir, 'not-a-vocab.txt') }) });
    expectClean(r);
    const id = r.body.data.createPrompt.prompt.id;
    let prompt: any;
    for (let i = 0; i < 120; i++) {
      const q = await gql('query($id: ID!) { prompt(id: $id) { status error } }', { id });
      prompt = q.body.data.prompt;
      if (prompt.status === 'FAILED' || prompt.status === 'SUCCEEDED') break;
      await new Promise((res) => setTimeout(res, 500));
    }
    expect(prompt.status).toBe('FAILED');
    expect(prompt.error).toMatch(/^training failed: internal error \(id [0-9a-f]{12}\)$/);
    const errorId = /id ([0-9a-f]{12})/.exec(prompt.error)![1];
    expect(server.proc.output()).toContain(`internal error ${errorId}`);
  }, 90_000);
});

describe('work is bounded before validation', () => {
  const big = (kb: number) => `{ generators { ${'id '.repeat(Math.ceil((kb * 1024) / 3))}} }`;

  test.each([48, 300])('{ generators { id id … } } of %i kB is refused in well under a second over HTTP', async (kb) => {
    const started = Date.now();
    const r = await gql(big(kb));
    const ms = Date.now() - started;
    expect(r.status).toBe(400);
    expect(r.body.errors[0].extensions.code).toBe('QUERY_TOO_LARGE');
    expect(ms).toBeLessThan(500);
  });

  test('the same over graphql-ws, and the socket stays open', async () => {
    const s = await wsSession();
    try {
      for (const kb of [48, 300]) {
        const started = Date.now();
        const { messages } = await s.send(big(kb));
        expect(Date.now() - started).toBeLessThan(500);
        expect(wsErrors(messages)[0].extensions.code).toBe('QUERY_TOO_LARGE');
      }
      const fields = await s.send(`{ generators { ${'id '.repeat(300)}} }`);
      expect(wsErrors(fields.messages)[0].extensions.code).toBe('TOO_MANY_FIELDS');
      expect(s.closed()).toBeNull();
    } finally {
      s.close();
    }
  });

  test('aliased expensive mutations are refused as a whole; many aliases are refused', async () => {
    const before = await promptCount();
    const valid = '{ generator: "mnist", controls: [{ control: "mnist-digit", params: { classes: [7] } }], training: { steps: 5 } }';
    const fifty = `mutation { ${Array.from({ length: 50 }, (_, i) => `a${i}: createPrompt(input: ${valid}) { prompt { id } }`).join(' ')} }`;
    const r = await gql(fifty);
    expectClean(r);
    expect(r.status).toBe(400);
    expect(r.body.errors[0].extensions.code).toBe('TOO_MANY_MUTATIONS');
    const two = await gql(`mutation { a: createPrompt(input: ${valid}) { prompt { id } } b: createPrompt(input: ${valid}) { prompt { id } } }`);
    expect(two.body.errors[0].extensions.code).toBe('TOO_MANY_MUTATIONS');
    const samples = await gql(`mutation { ${Array.from({ length: 10 }, (_, i) => `s${i}: sample(input: { generator: "mnist", count: 256 }) { sampleSet { id } }`).join(' ')} }`);
    expect(samples.body.errors[0].extensions.code).toBe('TOO_MANY_MUTATIONS');
    const aliases = await gql(`{ ${Array.from({ length: 40 }, (_, i) => `g${i}: generators { id }`).join(' ')} }`);
    expect(aliases.status).toBe(400);
    expect(aliases.body.errors[0].message).toMatch(/Aliases limit/);
    expect(await promptCount()).toBe(before);
  });

  test('the standard introspection query passes the complexity limit', async () => {
    const r = await gql(getIntrospectionQuery());
    expect(r.status).toBe(200);
    expect(r.body.errors).toBeUndefined();
    expect(r.body.data.__schema.queryType.name).toBe('Query');
  });

  test('QUEUE_FULL once QUEUED + TRAINING prompts reach the limit', async () => {
    const input = { generator: 'mnist', controls: [{ control: 'mnist-digit', params: { classes: [7] } }], training: { steps: 20000, previewEvery: 0 } };
    const ids: string[] = [];
    for (let i = 0; i < 2; i++) {
      const r = await gql(CREATE, { input });
      expect(r.body.data.createPrompt.userErrors).toEqual([]);
      ids.push(r.body.data.createPrompt.prompt.id);
    }
    const before = await promptCount();
    const full = await gql(CREATE, { input });
    expect(full.body.data.createPrompt).toEqual({ prompt: null, userErrors: [expect.objectContaining({ code: 'QUEUE_FULL', field: [] })] });
    expect(await promptCount()).toBe(before);
    for (const id of ids) await gql('mutation($id: ID!) { cancelPrompt(input: { id: $id }) { userErrors { code } } }', { id });
  });
});

describe('errors are the client\'s, coded, never 500', () => {
  test.each(['2147483648', '1.5', '"1"', 'true', '[]', '1e999'])('Int variable %s → HTTP 400 BAD_USER_INPUT', async (raw) => {
    const r = await post(`{"query":"query($n: Int) { prompts(first: $n) { totalCount } }","variables":{"n":${raw}}}`);
    expect(r.status).toBe(400);
    expect(r.body.errors[0].extensions.code).toBe('BAD_USER_INPUT');
    expectClean(r);
  });

  test.each(['"1"', 'true', '[]', '{}', '1e999'])('Float variable %s → HTTP 400 BAD_USER_INPUT', async (raw) => {
    const r = await post(`{"query":"mutation($t: Float) { sample(input: { generator: \\"mnist\\", truncation: $t }) { userErrors { code } } }","variables":{"t":${raw}}}`);
    expect(r.status).toBe(400);
    expect(r.body.errors[0].extensions.code).toBe('BAD_USER_INPUT');
  });

  test('NUL bytes, deep params, a malformed cursor, a subscription over HTTP: coded client errors', async () => {
    const nul = await gql('query($id: ID!) { prompt(id: $id) { id } }', { id: 'a\u0000b' });
    expect([nul.status, nul.body.errors[0].extensions.code]).toEqual([400, 'BAD_USER_INPUT']);
    // Written by hand: JSON.stringify itself runs out of stack on 5,000 levels.
    const deep = '{"a":'.repeat(5000) + '1' + '}'.repeat(5000);
    const d = await post(`{"query":${JSON.stringify(CREATE)},"variables":{"input":{"generator":"mnist","controls":[{"control":"mnist-digit","params":${deep}}]}}}`);
    expect([d.status, d.body.errors[0].extensions.code]).toEqual([400, 'BAD_USER_INPUT']);
    const cursor = await gql('{ prompts(first: 2, after: "not-a-cursor") { totalCount } }');
    expectClean(cursor);
    const sub = await gql('subscription { trainingProgress(promptId: "x") { step } }');
    expect([sub.status, sub.body.errors[0].extensions.code]).toEqual([400, 'BAD_REQUEST']);
    // An automatic persisted query the server has not seen: Apollo's own code, listed in ErrorCode too.
    const apq = await post(JSON.stringify({ extensions: { persistedQuery: { version: 1, sha256Hash: 'ab'.repeat(32) } } }));
    expect(apq.body.errors[0].extensions.code).toBe('PERSISTED_QUERY_NOT_FOUND');
    expectClean(apq);
  });

  test('over graphql-ws: an unknown operationName and bad variables are coded errors, and the socket stays open', async () => {
    const s = await wsSession();
    try {
      const unknown = await s.send('query A { generators { id } }', undefined, 'Nope');
      expect(wsErrors(unknown.messages)[0].extensions.code).toBe('OPERATION_RESOLUTION_FAILURE');
      const vars = await s.send('query($n: Int) { prompts(first: $n) { totalCount } }', { n: 2 ** 31 });
      expect(wsErrors(vars.messages)[0].extensions.code).toBe('BAD_USER_INPUT');
      const ok = await s.send('{ generators { name } }');
      expect(ok.messages[0].payload.data.generators.length).toBeGreaterThan(0);
      expect(s.closed()).toBeNull();
    } finally {
      s.close();
    }
  });
});

// ---------------------------------------------------------------------------
// The corpus

interface BadOp {
  kind: string;
  /** Raw JSON body (HTTP) */
  body?: string;
  query?: string;
  variables?: unknown;
  operationName?: string;
  admin?: boolean;
}

function nested(depth: number): unknown {
  let v: unknown = 'x';
  for (let i = 0; i < depth; i++) v = i % 2 ? [v] : { a: v };
  return v;
}

/** Seeded bad operations: each kind a different way to be wrong. */
function corpus(seed: number, n: number): BadOp[] {
  const rand = new Rng(seed).uniform(); // the engine's seeded generator
  const pick = <T>(xs: T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const int = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));
  const badNumbers: string[] = ['2147483648', '-2147483649', '1.5', '"1"', 'true', '[]', '{}', '1e999', '-1e999', 'null', '"NaN"', '9007199254740993'];
  const badFloats: string[] = ['"1"', 'true', '[]', '{}', '1e999', '"Infinity"'];
  const garbage = () => Array.from({ length: int(1, 60) }, () => String.fromCharCode(int(32, 126))).join('');
  const makers: Array<() => BadOp> = [
    () => ({ kind: 'int-var', body: `{"query":"query($n: Int) { prompts(first: $n) { totalCount } }","variables":{"n":${pick(badNumbers)}}}` }),
    () => ({ kind: 'float-var', body: `{"query":"mutation($w: Float) { createPrompt(input: { generator: \\"mnist\\", controls: [{ control: \\"mnist-digit\\", weight: $w, params: { classes: [7] } }] }) { userErrors { code } } }","variables":{"w":${pick(badFloats)}}}` }),
    () => ({ kind: 'sample-count', body: `{"query":"mutation($c: Int) { sample(input: { generator: \\"mnist\\", count: $c }) { userErrors { code } } }","variables":{"c":${pick([...badNumbers, '0', '-5', '100000'])}}}` }),
    () => ({ kind: 'training-var', body: `{"query":"mutation($s: Int, $lr: Float) { createPrompt(input: { generator: \\"mnist\\", controls: [{ control: \\"mnist-digit\\", params: { classes: [7] } }], training: { steps: $s, learningRate: $lr } }) { userErrors { code } } }","variables":{"s":${pick(['0', '-1', '99999999', ...badNumbers])},"lr":${pick(['0', '-1', '1e-320', '5e-324', '2', ...badFloats])}}}` }),
    () => ({ kind: 'garbage-query', query: garbage() }),
    () => ({ kind: 'unknown-field', query: `{ ${pick(['generatorz', 'prompts { nope }', 'controls { paramsSchema { x } }', '__typename @nope'])} }` }),
    () => ({ kind: 'nul-literal', query: `{ generator(id: "mn\\u0000ist") { id } }` }),
    () => ({ kind: 'nul-var', query: 'query($id: ID!) { prompt(id: $id) { id } }', variables: { id: `abc\u0000${int(0, 99)}` } }),
    () => ({ kind: 'nul-params', query: CREATE, variables: { input: { generator: 'mnist', controls: [{ control: 'mnist-digit', params: { classes: [7], ['k\u0000']: 1 } }] } } }),
    () => ({ kind: 'deep-params', query: CREATE, variables: { input: { generator: 'mnist', controls: [{ control: 'mnist-digit', params: nested(int(33, 3000)) }] } } }),
    () => ({ kind: 'bad-id', query: 'query($id: ID!) { prompt(id: $id) { id status } }', variables: { id: pick([garbage(), 'UHJvbXB0Om5vcGU=', '', 'x'.repeat(5000), '%%%', '../../etc']) } }),
    () => ({ kind: 'bad-cursor', query: `query($c: String) { prompts(first: 2, after: $c) { totalCount nodes { id } } }`, variables: { c: pick([garbage(), 'Y3Vyc29yOjE=', '-1', 'eyJ4IjoxfQ==', '\u00ff\u00fe']) } }),
    () => ({ kind: 'subscription-over-http', query: 'subscription($id: ID!) { trainingProgress(promptId: $id) { step } }', variables: { id: garbage() } }),
    () => ({ kind: 'unknown-operation', query: 'query A { generators { id } } query B { controls { name } }', operationName: pick(['C', '', 'a', garbage()]) }),
    () => ({ kind: 'no-operation-name', query: 'query A { generators { id } } query B { controls { name } }' }),
    () => ({ kind: 'alias-flood', query: `{ ${Array.from({ length: int(16, 60) }, (_, i) => `a${i}: __typename`).join(' ')} }` }),
    () => ({ kind: 'directive-flood', query: `{ generators { id ${'@include(if: true) '.repeat(int(21, 200))} } }` }),
    () => ({ kind: 'field-flood', query: `{ generators { ${'name '.repeat(int(201, 900))}} }` }),
    () => ({ kind: 'token-flood', query: `{ ${'__typename '.repeat(int(3001, 20000))}}` }),
    () => ({ kind: 'deep-query', query: `{ prompts { nodes { generator { plugin { generators { plugin { generators { plugin { generators { plugin { generators { plugin { generators { id } } } } } } } } } } } } }` }),
    () => ({ kind: 'expensive-aliases', query: `mutation { ${Array.from({ length: int(2, 8) }, (_, i) => `m${i}: cancelPrompt(input: { id: "x" }) { userErrors { code } } s${i}: sample(input: { generator: "mnist", count: 256 }) { userErrors { code } }`).join(' ')} }` }),
    () => ({ kind: 'asset-param', query: CREATE, variables: { input: clipInput({ [pick(['vocabulary', 'textEncoder', 'imageEncoder'])]: pick([secretFile, 'file://' + secretFile, '/etc/shadow', 'http://127.0.0.1:1/', '../'.repeat(int(1, 12)) + 'etc/passwd', 'data:,x']) }) } }),
    () => ({ kind: 'bad-weight', query: CREATE, variables: { input: { generator: 'mnist', controls: [{ control: 'mnist-digit', weight: pick([0, -1, 1e-320, 5e-324, 1e7, 1e308]), params: { classes: [7] } }] } } }),
    () => ({ kind: 'bad-params', query: CREATE, variables: { input: { generator: pick(['mnist', 'nope', '']), controls: [{ control: pick(['mnist-digit', 'nope', 'classifier', 'debias']), params: pick([{ classes: [99] }, { classes: 'x' }, [], 'str', 42, { extra: true }]) }] } } }),
    () => ({ kind: 'too-many-controls', query: CREATE, variables: { input: { generator: 'mnist', controls: Array.from({ length: int(17, 40) }, () => ({ control: 'mnist-digit', params: { classes: [1] } })) } } }),
    () => ({ kind: 'sample-floats', query: 'mutation($t: Float, $c: [Float!]) { sample(input: { generator: "mnist", truncation: $t, condition: $c }) { userErrors { code } } }', variables: { t: pick([0, -1, 1e-320, 5, 1e308]), c: pick([[1e308], [], Array(5000).fill(1)]) } }),
    () => ({ kind: 'install-anonymous', query: 'mutation($s: String!) { installPlugin(input: { spec: $s }) { userErrors { code } } }', variables: { s: pick(['-g', 'left-pad', '/etc']) } }),
    () => ({ kind: 'install-option-spec', admin: true, query: 'mutation($s: String!) { installPlugin(input: { spec: $s }) { plugin { name } userErrors { code message } } }', variables: { s: pick(['-g', '--global', '--registry=http://127.0.0.1:1', '-ddd', 'github:x/y', 'git+https://x/y.git', 'x/y', 'a\nb', ' --prefix=/ ']) } }),
    () => ({ kind: 'uninstall-anonymous', query: 'mutation { uninstallPlugin(input: { name: "@promptgen/mnist" }) { removed } }' }),
    () => ({ kind: 'wrong-types', query: `{ prompts(first: ${pick(['"1"', 'true', '1.5', '2147483648', '[1]', '{a:1}'])}) { totalCount } }` }),
    () => ({ kind: 'huge-string', query: CREATE, variables: { input: { name: 'n'.repeat(int(201, 50000)), generator: 'mnist', controls: [{ control: 'mnist-digit', params: { classes: [7] } }] } } }),
    () => ({ kind: 'not-json', body: pick(['{', '[]', '[{"query":"{ __typename }"},{"query":"{ __typename }"}]', 'null', '"x"', '{"query": 5}', '{"query": {"a":1}}', '{"variables": []}']) }),
  ];
  return Array.from({ length: n }, () => pick(makers)());
}

describe('hostile-input corpus', () => {
  test('≥ 1,000 seeded bad operations over HTTP and WebSocket: no 5xx, all coded, no leaks, nothing queued, still answering', async () => {
    const before = await promptCount();
    const ops = corpus(12, 700);
    const problems: string[] = [];
    const kinds = new Map<string, number>();
    const startedAt = Date.now();

    // HTTP: all of them, four at a time.
    let nextOp = 0;
    const httpOne = async (op: BadOp) => {
      kinds.set(op.kind, (kinds.get(op.kind) ?? 0) + 1);
      const headers: Record<string, string> = op.admin ? { authorization: `Bearer ${ADMIN_TOKEN}` } : {};
      const a = op.body !== undefined ? await post(op.body, headers) : await gql(op.query!, op.variables, op.operationName !== undefined ? { operationName: op.operationName } : {}, headers);
      if (a.body === null) problems.push(`${op.kind}: not JSON (HTTP ${a.status}): ${a.text.slice(0, 100)}`);
      for (const p of problemsOf({ status: a.status, text: a.text, errors: a.body?.errors })) problems.push(`${op.kind} (HTTP): ${p}`);
      for (const ue of [...(a.body?.data ? Object.values(a.body.data) : [])].flatMap((v: any) => v?.userErrors ?? [])) {
        if (typeof ue.code !== 'string') problems.push(`${op.kind}: uncoded userError`);
        else if (!KNOWN_CODES.has(ue.code)) problems.push(`${op.kind}: userError code outside ErrorCode: ${ue.code}`);
      }
    };
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        while (nextOp < ops.length) await httpOne(ops[nextOp++]!);
      }),
    );
    const httpSeconds = (Date.now() - startedAt) / 1000;

    // WebSocket: the ones that are operations (raw bodies are an HTTP matter), on few sockets.
    let s = await wsSession();
    let wsCount = 0;
    for (const op of ops.filter((o) => o.query !== undefined && !o.admin).slice(0, 350)) {
      const { messages, text } = await s.send(op.query!, op.variables, op.operationName);
      wsCount += 1;
      for (const p of problemsOf({ text, errors: wsErrors(messages) })) problems.push(`${op.kind} (ws): ${p}`);
      const closed = s.closed();
      if (closed) {
        problems.push(`${op.kind} (ws): socket closed ${closed.code} ${closed.reason}`);
        s = await wsSession();
      }
    }
    s.close();

    expect(ops.length + wsCount).toBeGreaterThanOrEqual(1000);
    expect(kinds.size).toBeGreaterThanOrEqual(30);
    expect(problems.slice(0, 20)).toEqual([]);
    expect(await promptCount()).toBe(before);

    // Still answering, and an anonymous client that spent its budget is told so, coded.
    const ok = await gql('{ generators { name } }');
    expect(ok.status).toBe(200);
    expect(ok.body.data.generators.map((g: any) => g.name)).toContain('mnist');
    // The corpus spent most of the bucket; on a slow machine some refilled meanwhile, so spend the rest.
    let codes: string[] = [];
    for (let i = 0; i <= RATE_LIMIT && !codes.includes('RATE_LIMITED'); i++) {
      const r = await gql(CREATE, { input: { generator: 'no-such-generator', controls: [{ control: 'mnist-digit', params: { classes: [7] } }] } });
      codes = r.body.data.createPrompt.userErrors.map((e: any) => e.code);
    }
    expect(codes).toEqual(['RATE_LIMITED']);
    // Reported, not asserted: the figure depends on the machine's load (README, Security).
    process.stderr.write(`hostile corpus: ${ops.length} over HTTP in ${httpSeconds.toFixed(1)} s, ${wsCount} over graphql-ws, ${((Date.now() - startedAt) / 1000).toFixed(1)} s in all\n`);
  }, 180_000);
});
