/**
 * A worker thread holding one in-memory PGlite and the wire servers a test
 * opens in front of it (test/store/pglite-wire-server.test.ts). PGlite loads
 * its wasm with a dynamic import, which jest's module sandbox refuses, so it
 * runs here, in plain Node, on the built server code (run "npm run build"
 * first), as the embedded database's own worker does.
 *
 * Requests: { id, op, args } → replies { id, result } or { id, error }.
 *   serve(maxConnections?) → port     close(port)     inTransaction() → boolean
 *   query(sql) → rows (straight on PGlite, beside the servers)
 */
'use strict';
const path = require('node:path');
const { parentPort } = require('node:worker_threads');

const built = path.resolve(__dirname, '../../dist/src/store/pglite-wire-server.js');
const { PGliteWireServer } = require(built);

async function main() {
  const { PGlite } = await import('@electric-sql/pglite');
  const db = await PGlite.create();
  const servers = new Map();
  const ops = {
    async serve(maxConnections) {
      const server = new PGliteWireServer(db, maxConnections);
      const port = await server.listen('127.0.0.1', 0);
      servers.set(port, server);
      return port;
    },
    async close(port) {
      await servers.get(port).close();
      servers.delete(port);
    },
    async inTransaction() {
      return db.isInTransaction();
    },
    async query(sql) {
      return (await db.query(sql)).rows;
    },
  };
  parentPort.on('message', async ({ id, op, args }) => {
    try {
      parentPort.postMessage({ id, result: await ops[op](...args) });
    } catch (err) {
      parentPort.postMessage({ id, error: String(err && err.message ? err.message : err) });
    }
  });
  parentPort.postMessage({ ready: true });
}

main().catch((err) => parentPort.postMessage({ ready: false, error: String(err) }));
