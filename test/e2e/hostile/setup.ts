/**
 * The hostile client's tools against the real server (child process, real HTTP and graphql-ws):
 * a server with a secret-bearing file and an allowed directory, raw HTTP and graphql-ws senders,
 * and what no answer may contain (5xx, uncoded errors, the secret, server paths, SQL, stacks).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import WebSocket from 'ws';
import { freshDatabase, repoRoot, startServer, type TestServer } from '../../helpers/server';
import { tempDir } from '../../helpers/database';
import { ErrorCode } from '../../../src/shared/error-code';

export const SECRET = 'TOPSECRET-4c1d7e0f-do-not-leak';
export let server: TestServer;
let db: Awaited<ReturnType<typeof freshDatabase>>;
export let secretDir: string;
export let secretFile: string;
export let allowedDir: string;

export const RATE_LIMIT = 40;

/** Starts the server (fresh database, a secret-bearing file, an allowed directory) for one test file. */
export function useHostileServer(): void {
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
}

/** What no answer may contain. */
export function leaks(text: string): string[] {
  const found: string[] = [];
  if (text.includes(SECRET)) found.push('the secret');
  if (text.includes(secretDir) || text.includes(allowedDir) || text.includes(server.dataDir))
    found.push('a temp path');
  if (text.includes(repoRoot) || text.includes('/work/')) found.push('the repository path');
  if (text.includes('node_modules')) found.push('node_modules');
  if (/\bSELECT\b|\bINSERT INTO\b|relation "|invalid byte sequence/.test(text)) found.push('SQL');
  if (/\n\s+at .+:\d+:\d+/.test(text) || /\.js:\d+:\d+/.test(text) || /"stacktrace"/.test(text))
    found.push('a stack');
  if (/Cannot read propert|is not a function|undefined \(reading/.test(text))
    found.push('a JavaScript internal');
  return found;
}

export interface Answer {
  status: number;
  text: string;
  body: any;
}

export async function post(body: string, headers: Record<string, string> = {}): Promise<Answer> {
  const res = await fetch(`${server.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body,
  });
  const text = await res.text();
  let parsed: any = null;
  try {
    parsed = JSON.parse(text);
  } catch {
    /* checked by the caller */
  }
  return { status: res.status, text, body: parsed };
}

export const gql = (
  query: string,
  variables?: unknown,
  extra: Record<string, unknown> = {},
  headers?: Record<string, string>,
) => post(JSON.stringify({ query, variables, ...extra }), headers);

/** Every code the server may answer with: src/shared/error-code.ts is the one list. */
export const KNOWN_CODES = new Set<string>(Object.values(ErrorCode));

/** Problems of one answer: 5xx, uncoded errors or codes outside ErrorCode, leaks. */
export function problemsOf(a: { status?: number; text: string; errors?: any[] }): string[] {
  const out: string[] = [];
  if (a.status !== undefined && a.status >= 500) out.push(`HTTP ${a.status}`);
  for (const e of a.errors ?? []) {
    if (typeof e?.extensions?.code !== 'string')
      out.push(`uncoded error: ${JSON.stringify(e).slice(0, 200)}`);
    else if (!KNOWN_CODES.has(e.extensions.code)) out.push(`code outside ErrorCode: ${e.extensions.code}`);
    // Bad input is the client's error: an internal one (masked or not) means the server tripped over it.
    else if (e.extensions.code === 'INTERNAL_SERVER_ERROR')
      out.push(`internal error: ${JSON.stringify(e).slice(0, 200)}`);
  }
  for (const l of leaks(a.text)) out.push(`leaks ${l}`);
  return out;
}

export function expectClean(a: Answer) {
  expect(problemsOf({ status: a.status, text: a.text, errors: a.body?.errors })).toEqual([]);
}

export const CREATE =
  'mutation($input: CreatePromptInput!) { createPrompt(input: $input) { prompt { id status error } userErrors { field message code } } }';
export const clipInput = (params: Record<string, unknown>) => ({
  generator: 'mnist',
  controls: [
    {
      control: 'clip-text',
      params: {
        text: 'a seven',
        imageEncoder: 'x/model.json',
        textEncoder: 'x/model.json',
        vocabulary: 'x.txt',
        ...params,
      },
    },
  ],
  training: { steps: 5, batchSize: 2 },
});

export async function promptCount(): Promise<number> {
  const r = await gql('{ prompts(first: 1) { totalCount } }');
  return r.body.data.prompts.totalCount;
}

// graphql-ws, raw: so that close codes and uncoded errors are seen as they are.

export interface WsSession {
  send(
    query: string,
    variables?: unknown,
    operationName?: string,
  ): Promise<{ messages: any[]; text: string }>;
  closed(): { code: number; reason: string } | null;
  close(): void;
}

export async function wsSession(): Promise<WsSession> {
  const ws = new WebSocket(server.wsUrl, 'graphql-transport-ws');
  let closed: { code: number; reason: string } | null = null;
  const waiters = new Map<
    string,
    { messages: any[]; text: string; done: (v: { messages: any[]; text: string }) => void }
  >();
  ws.on('close', (code, reason) => {
    closed = { code, reason: reason.toString() };
    for (const w of waiters.values())
      w.done({ messages: w.messages, text: w.text + `closed ${code} ${reason}` });
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
        ws.send(
          JSON.stringify({
            id,
            type: 'subscribe',
            payload: { query, variables, ...(operationName ? { operationName } : {}) },
          }),
        );
      });
    },
    closed: () => closed,
    close: () => ws.close(),
  };
}

export const wsErrors = (messages: any[]) =>
  messages.flatMap((m) =>
    m.type === 'error' ? m.payload : m.type === 'next' ? (m.payload.errors ?? []) : [],
  );

// ---------------------------------------------------------------------------
