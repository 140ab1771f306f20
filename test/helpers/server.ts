/**
 * Starts the real, built server (`node dist/src/cli.js serve`) as a child
 * process on a free port, against a fresh PostgreSQL database (DATABASE_URL
 * set) or the embedded default in a temp data directory.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { createPostgresDatabase, tempDir, usingPostgres } from './database';
import { ALLOW_UNSUPPORTED_NODE, nodeVersionProblem } from '../../src/shared/node-version';

/**
 * The CLI refuses a Node older than package.json's engines. On a development
 * machine still on such a Node the suites run anyway (CI installs the Node the
 * README names, where this is empty and the refusal itself is tested).
 */
export const oldNodeEnv: Record<string, string> = nodeVersionProblem(process.versions.node)
  ? { [ALLOW_UNSUPPORTED_NODE]: '1' }
  : {};

export const repoRoot = path.resolve(__dirname, '../..');
export const cliPath = path.join(repoRoot, 'dist/src/cli.js');
export const ADMIN_TOKEN = 'test-admin-token-0123456789abcdef';

export interface ProcessHandle {
  child: ChildProcess;
  output(): string;
  /** Resolves with the exit code. */
  exited: Promise<number | null>;
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export function startProcess(args: string[], env: Record<string, string>): ProcessHandle {
  if (!fs.existsSync(cliPath)) throw new Error(`${cliPath} is missing: run "npm run build" first`);
  const child = spawn(process.execPath, [cliPath, ...args], {
    env: { ...process.env, LOG_LEVEL: 'info', ...oldNodeEnv, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const listeners = new Set<() => void>();
  const onData = (chunk: Buffer) => {
    output += chunk.toString();
    if (process.env.PROMPTGEN_TEST_VERBOSE) process.stderr.write(chunk);
    for (const l of listeners) l();
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return {
    child,
    output: () => output,
    exited,
    waitFor(pattern, timeoutMs = 60_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const match = pattern.exec(output);
          if (match) {
            cleanup();
            resolve(match);
          }
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`timed out waiting for ${pattern}; output:\n${output.slice(-4000)}`));
        }, timeoutMs);
        const onExit = () => {
          cleanup();
          reject(new Error(`process exited while waiting for ${pattern}; output:\n${output.slice(-4000)}`));
        };
        const cleanup = () => {
          clearTimeout(timer);
          listeners.delete(check);
          child.off('exit', onExit);
        };
        listeners.add(check);
        child.once('exit', onExit);
        check();
      });
    },
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

export interface TestServer {
  url: string;
  wsUrl: string;
  port: number;
  proc: ProcessHandle;
  dataDir: string;
  databaseUrl: string | null;
  gql<T = any>(
    query: string,
    variables?: Record<string, unknown>,
    opts?: { admin?: boolean },
  ): Promise<{ data?: T; errors?: any[]; status: number }>;
  wsClient(opts?: { admin?: boolean }): Client;
  stop(): Promise<number | null>;
}

export interface ServerOptions {
  env?: Record<string, string>;
  /** Reuse a database (restart tests); default: a fresh one. */
  databaseUrl?: string | null;
  dataDir?: string;
}

/** A fresh database URL for a test file (PostgreSQL mode), or null for embedded. */
export async function freshDatabase(): Promise<{ url: string | null; drop(): Promise<void> }> {
  if (!usingPostgres) return { url: null, drop: async () => undefined };
  return createPostgresDatabase();
}

export async function startServer(options: ServerOptions = {}): Promise<TestServer> {
  const dataDir = options.dataDir ?? tempDir();
  const databaseUrl = options.databaseUrl === undefined ? null : options.databaseUrl;
  const env: Record<string, string> = {
    PORT: '0',
    HOST: '127.0.0.1',
    PROMPTGEN_DATA_DIR: dataDir,
    PROMPTGEN_ADMIN_TOKEN: ADMIN_TOKEN,
    PROMPTGEN_CHECKPOINT_EVERY: '5',
    ...(options.env ?? {}),
  };
  if (databaseUrl) env.DATABASE_URL = databaseUrl;
  else env.DATABASE_URL = '';
  const proc = startProcess(['serve'], env);
  const match = await proc.waitFor(/listening on http:\/\/[^:]+:(\d+)\/graphql/, 120_000);
  const port = Number(match[1]);
  const url = `http://127.0.0.1:${port}`;
  const wsUrl = `ws://127.0.0.1:${port}/graphql`;
  return {
    url,
    wsUrl,
    port,
    proc,
    dataDir,
    databaseUrl,
    async gql(query, variables, opts = {}) {
      const res = await fetch(`${url}/graphql`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(opts.admin ? { authorization: `Bearer ${ADMIN_TOKEN}` } : {}),
        },
        body: JSON.stringify({ query, variables }),
      });
      const body = (await res.json()) as { data?: any; errors?: any[] };
      return { ...body, status: res.status };
    },
    wsClient(opts = {}) {
      return createClient({
        url: wsUrl,
        webSocketImpl: WebSocket,
        connectionParams: opts.admin ? { authorization: `Bearer ${ADMIN_TOKEN}` } : {},
        retryAttempts: 0,
      });
    },
    stop: () => proc.stop('SIGTERM'),
  };
}

/** Collects the events of one subscription until it completes or `until` says stop. */
export function subscribe<T = any>(
  client: Client,
  query: string,
  variables: Record<string, unknown>,
  until: (events: T[]) => boolean = () => false,
): { events: T[]; done: Promise<T[]>; errors: unknown[]; cancel(): void } {
  const events: T[] = [];
  const errors: unknown[] = [];
  let cancel = () => undefined as void;
  const done = new Promise<T[]>((resolve, reject) => {
    cancel = client.subscribe<T>(
      { query, variables },
      {
        next: (value) => {
          if (value.errors) errors.push(...value.errors);
          if (value.data) events.push(value.data as T);
          if (until(events)) {
            cancel();
            resolve(events);
          }
        },
        error: (err) => reject(err),
        complete: () => resolve(events),
      },
    );
  });
  return { events, done, errors, cancel: () => cancel() };
}

export async function fetchBytes(url: string): Promise<{ status: number; headers: Headers; body: Buffer }> {
  const res = await fetch(url);
  return { status: res.status, headers: res.headers, body: Buffer.from(await res.arrayBuffer()) };
}
