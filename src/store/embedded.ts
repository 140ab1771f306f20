/**
 * The embedded default database: PGlite in a worker thread behind a loopback
 * socket (see embedded-worker.ts). Data lives in `<dataDir>/pgdata`.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';

export interface EmbeddedDatabase {
  url: string;
  dataDir: string;
  close(): Promise<void>;
}

/** All pools of one process together must stay under this (PGlite multiplexes one backend). */
export const EMBEDDED_MAX_CONNECTIONS = 40;

function workerScript(): string {
  // Under jest this module is TypeScript; the worker must run the built file.
  const here = path.join(__dirname, 'embedded-worker.js');
  if (fs.existsSync(here)) return here;
  const built = path.resolve(__dirname, '../../dist/src/store/embedded-worker.js');
  if (!fs.existsSync(built)) throw new Error(`embedded database worker not built: run "npm run build" (looked for ${built})`);
  return built;
}

export async function startEmbeddedDatabase(dataDir: string): Promise<EmbeddedDatabase> {
  const pgdata = path.join(dataDir, 'pgdata');
  fs.mkdirSync(pgdata, { recursive: true });
  const worker = new Worker(workerScript(), {
    workerData: { dataDir: pgdata, maxConnections: EMBEDDED_MAX_CONNECTIONS },
  });
  const port = await new Promise<number>((resolve, reject) => {
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`embedded database exited early (code ${code})`)));
    worker.on('message', (msg: { type: string; port?: number; error?: string }) => {
      if (msg.type === 'ready') resolve(msg.port!);
      if (msg.type === 'error') reject(new Error(`embedded database failed to start: ${msg.error}`));
    });
  });
  worker.removeAllListeners('exit');
  let closed: Promise<void> | undefined;
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    dataDir: pgdata,
    close() {
      closed ??= new Promise<void>((resolve) => {
        const timer = setTimeout(() => void worker.terminate().then(() => resolve()), 10_000);
        worker.on('message', (msg: { type: string }) => {
          if (msg.type !== 'stopped') return;
          clearTimeout(timer);
          void worker.terminate().then(() => resolve());
        });
        worker.postMessage({ type: 'stop' });
      });
      return closed;
    },
  };
}
