/**
 * Runs inside a worker thread: PGlite (PostgreSQL compiled to wasm) served over
 * a loopback socket (see pglite-wire-server.ts), so the main thread talks to it with the ordinary pg driver
 * — the same code path as a real PostgreSQL — and long queries do not block
 * the event loop that serves HTTP.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { PGliteWireServer } from './pglite-wire-server';

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
  parentPort!.postMessage({ type: 'error', error: err instanceof Error ? err.stack ?? err.message : String(err) });
});
