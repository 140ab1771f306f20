/**
 * The embedded default database: PGlite in a worker thread behind a loopback
 * socket (see embedded-worker.ts). Data lives in `<dataDir>/pgdata`.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { acquirePidLock, LockHeld, type PidLock } from '../shared/pid-lock';
import { describeStartFailure, StartupError } from './start-failure';

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
  if (!fs.existsSync(built))
    throw new Error(`embedded database worker not built: run "npm run build" (looked for ${built})`);
  return built;
}

/** Thrown when another live process has the data directory's embedded database open. */
export class DataDirInUse extends StartupError {}

/**
 * PGlite is single-process: two processes writing one pgdata corrupt it. The
 * lock file `<dataDir>/pgdata.lock` holds the owner's pid; a lock left by a
 * process that died is taken over at once.
 */
function lockDataDir(dataDir: string, pgdata: string): PidLock {
  try {
    return acquirePidLock(path.join(dataDir, 'pgdata.lock'));
  } catch (e) {
    if (!(e instanceof LockHeld)) throw e;
    throw new DataDirInUse(
      `the embedded database in ${pgdata} is already open in process ${e.owner.pid} (on ${e.owner.host} since ${e.owner.at}); ` +
        'the embedded database is for one process: stop that process, use another PROMPTGEN_DATA_DIR, or share a PostgreSQL (DATABASE_URL)',
    );
  }
}

export async function startEmbeddedDatabase(dataDir: string): Promise<EmbeddedDatabase> {
  const pgdata = path.join(dataDir, 'pgdata');
  fs.mkdirSync(pgdata, { recursive: true });
  const lock = lockDataDir(dataDir, pgdata);
  let worker: Worker | undefined; // unassigned when the constructor itself throws
  let port: number;
  try {
    const started = new Worker(workerScript(), {
      workerData: { dataDir: pgdata, maxConnections: EMBEDDED_MAX_CONNECTIONS },
    });
    worker = started;
    port = await new Promise<number>((resolve, reject) => {
      started.once('error', (err) => reject(describeStartFailure(err, pgdata)));
      started.once('exit', (code) =>
        reject(describeStartFailure(new Error(`the database thread exited early (code ${code})`), pgdata)),
      );
      started.on('message', (msg: { type: string; port?: number; error?: string; code?: string }) => {
        if (msg.type === 'ready') resolve(msg.port!);
        if (msg.type === 'error')
          reject(describeStartFailure({ message: msg.error, code: msg.code }, pgdata));
      });
    });
  } catch (err) {
    await worker?.terminate().catch(() => undefined);
    lock.release();
    throw err;
  }
  worker.removeAllListeners('exit');
  let closed: Promise<void> | undefined;
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    dataDir: pgdata,
    close() {
      closed ??= new Promise<void>((resolve) => {
        const done = () => {
          lock.release();
          resolve();
        };
        const timer = setTimeout(() => void worker.terminate().then(done), 10_000);
        worker.on('message', (msg: { type: string }) => {
          if (msg.type !== 'stopped') return;
          clearTimeout(timer);
          void worker.terminate().then(done);
        });
        worker.postMessage({ type: 'stop' });
      });
      return closed;
    },
  };
}
