/**
 * Runs inside a worker thread: PGlite (PostgreSQL compiled to wasm) served over
 * a loopback socket, so the main thread talks to it with the ordinary pg driver
 * — the same code path as a real PostgreSQL — and long queries do not block
 * the event loop that serves HTTP.
 */
import { parentPort, workerData } from 'node:worker_threads';

interface Start {
  dataDir: string;
  maxConnections: number;
}

async function main(): Promise<void> {
  const { dataDir, maxConnections } = workerData as Start;
  // Both packages are ESM with CJS builds; import() keeps this file CJS-agnostic.
  const { PGlite } = await import('@electric-sql/pglite');
  const { PGLiteSocketServer } = await import('@electric-sql/pglite-socket');
  const db = await PGlite.create({ dataDir });
  const server = new PGLiteSocketServer({ db, host: '127.0.0.1', port: 0, maxConnections });
  await server.start();
  const conn = server.getServerConn(); // "127.0.0.1:PORT"
  const port = Number(conn.split(':').pop());
  parentPort!.postMessage({ type: 'ready', port });
  parentPort!.on('message', async (msg: { type: string }) => {
    if (msg.type !== 'stop') return;
    try {
      await server.stop();
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
