/**
 * Runs inside a worker thread: PGlite (PostgreSQL compiled to wasm) served over
 * a loopback socket (see pglite-wire-server.ts), so the main thread talks to it with the ordinary pg driver
 * — the same code path as a real PostgreSQL — and long queries do not block
 * the event loop that serves HTTP.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { PGliteWireServer } from './pglite-wire-server';
import { errnoName, errorText } from './start-failure';

interface Start {
  dataDir: string;
  maxConnections: number;
}

async function main(): Promise<void> {
  const { dataDir, maxConnections } = workerData as Start;
  const { PGlite } = await import('@electric-sql/pglite');
  const db = await PGlite.create({ dataDir });
  const server = new PGliteWireServer(db, maxConnections);
  const port = await server.listen('127.0.0.1', 0);
  parentPort!.postMessage({ type: 'ready', port });
  parentPort!.on('message', async (msg: { type: string }) => {
    if (msg.type !== 'stop') return;
    try {
      await server.close();
      await db.close();
      parentPort!.postMessage({ type: 'stopped' });
    } catch (err) {
      parentPort!.postMessage({ type: 'stopped', error: String(err) });
    }
  });
}

main().catch((err) => {
  // PGlite's file-system errors are plain objects with a WASI errno: send the code, not "[object Object]".
  parentPort!.postMessage({ type: 'error', error: errorText(err), code: errnoName(err) });
});
