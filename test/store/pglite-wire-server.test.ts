/**
 * The embedded database's wire server on its own, in front of a real PGlite
 * (in memory) and spoken to by the real `pg` driver, as the app's pools do:
 * start-up, simple and extended (parameterised) queries, many clients at once
 * (the reason it exists: one client's Parse/Bind/Execute/Sync must never
 * interleave with another's), transactions served to their owner alone, error
 * replies that leave the connection usable, the connection limit, a client that
 * vanishes mid-transaction, and close.
 */
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { Client, Pool, type ClientConfig } from 'pg';

/** The worker that holds PGlite and the servers (see the helper for why a worker). */
let worker: Worker;
let nextRequest = 1;
const replies = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();

function call<T>(op: string, ...args: unknown[]): Promise<T> {
  const id = nextRequest++;
  return new Promise<T>((resolve, reject) => {
    replies.set(id, { resolve: resolve as (v: unknown) => void, reject });
    worker.postMessage({ id, op, args });
  });
}

const db = {
  isInTransaction: () => call<boolean>('inTransaction'),
  query: (sql: string) => call<unknown[]>('query', sql),
};
const openPorts: number[] = [];
const clients: Client[] = [];

beforeAll(async () => {
  worker = new Worker(path.join(__dirname, '../helpers/wire-server-worker.js'));
  await new Promise<void>((resolve, reject) => {
    worker.once('error', reject);
    worker.once('message', (m: { ready: boolean; error?: string }) =>
      m.ready ? resolve() : reject(new Error(m.error)),
    );
  });
  worker.on('message', (m: { id?: number; result?: unknown; error?: string }) => {
    const pending = m.id === undefined ? undefined : replies.get(m.id);
    if (!pending) return;
    replies.delete(m.id!);
    if (m.error !== undefined) pending.reject(new Error(m.error));
    else pending.resolve(m.result);
  });
  await db.query('CREATE TABLE notes (id serial PRIMARY KEY, body text NOT NULL, owner int NOT NULL)');
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.end().catch(() => undefined)));
  for (const port of openPorts.splice(0)) await call('close', port);
  await db.query('TRUNCATE notes');
});

afterAll(async () => {
  await worker?.terminate();
});

async function serve(maxConnections?: number): Promise<{ close(): Promise<void>; port: number }> {
  const port = await call<number>('serve', maxConnections);
  openPorts.push(port);
  return {
    port,
    async close() {
      openPorts.splice(openPorts.indexOf(port), 1);
      await call('close', port);
    },
  };
}

const config = (port: number): ClientConfig => ({
  host: '127.0.0.1',
  port,
  user: 'postgres',
  database: 'postgres',
});

async function connect(port: number): Promise<Client> {
  const client = new Client(config(port));
  clients.push(client);
  await client.connect();
  return client;
}

/** A client the test ends itself (pg's end() on an ended client never settles). */
function endedHere(client: Client): Client {
  clients.splice(clients.indexOf(client), 1);
  return client;
}

/** Settles after the event loop has had time to serve anything that was runnable. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 150));

describe('PGliteWireServer with the pg driver', () => {
  it('accepts a connection and answers simple-protocol queries', async () => {
    const { port } = await serve();
    const c = await connect(port);
    const res = await c.query('SELECT 1 + 1 AS two, current_database() AS name');
    expect(res.rows).toEqual([{ two: 2, name: 'postgres' }]);
    // Several statements in one simple query: pg returns one result per statement.
    const multi = (await c.query('SELECT 1 AS a; SELECT 2 AS b')) as unknown as Array<{ rows: unknown[] }>;
    expect(multi.map((r) => r.rows)).toEqual([[{ a: 1 }], [{ b: 2 }]]);
  });

  it('binds parameters (extended protocol): numbers, text, null, bytes and arrays, round-tripped exactly', async () => {
    const { port } = await serve();
    const c = await connect(port);
    const bytes = Buffer.from([0, 1, 2, 250, 255]);
    const res = await c.query(
      'SELECT $1::int + $2::int AS sum, $3::text AS t, $4::text AS n, $5::bytea AS b, $6::int[] AS a',
      [40, 2, "it's; DROP TABLE notes; --", null, bytes, [3, 1, 2]],
    );
    expect(res.rows[0]).toEqual({
      sum: 42,
      t: "it's; DROP TABLE notes; --",
      n: null,
      b: bytes,
      a: [3, 1, 2],
    });
    const inserted = await c.query(
      'INSERT INTO notes (body, owner) VALUES ($1, $2), ($3, $4) RETURNING body',
      ['x', 1, 'y', 1],
    );
    expect(inserted.rowCount).toBe(2);
    // A named (prepared) statement, reused with other values.
    for (const owner of [1, 2]) {
      const r = await c.query({
        name: 'by-owner',
        text: 'SELECT count(*)::int AS n FROM notes WHERE owner = $1',
        values: [owner],
      });
      expect(r.rows[0].n).toBe(owner === 1 ? 2 : 0);
    }
  });

  it("keeps concurrent clients' queries apart: every result belongs to its own query", async () => {
    const { port } = await serve();
    const pool = new Pool({ ...config(port), max: 8 });
    try {
      // 8 connections × 25 parameterised queries, all in flight together; each query's
      // row count and values are its own, so a reply routed to the wrong query shows.
      const jobs = Array.from({ length: 200 }, async (_, i) => {
        const n = 1 + (i % 17);
        const res = await pool.query('SELECT g AS v, $2::int AS tag FROM generate_series(1, $1::int) AS g', [
          n,
          i,
        ]);
        return res.rows.length === n && res.rows.every((r, k) => r.v === k + 1 && r.tag === i);
      });
      const ok = await Promise.all(jobs);
      expect(ok.filter((x) => !x)).toHaveLength(0);
      expect(pool.totalCount).toBe(8);
    } finally {
      await pool.end();
    }
  });

  it("serves an open transaction's owner alone: another client waits and never sees its uncommitted rows", async () => {
    const { port } = await serve();
    const a = await connect(port);
    const b = await connect(port);
    await a.query('BEGIN');
    await a.query('INSERT INTO notes (body, owner) VALUES ($1, $2)', ['draft', 1]);
    let answered = false;
    const seen = b.query('SELECT count(*)::int AS n FROM notes').then((r) => {
      answered = true;
      return r.rows[0].n as number;
    });
    await settle();
    expect(answered).toBe(false); // queued behind a's transaction
    expect((await a.query('SELECT count(*)::int AS n FROM notes')).rows[0].n).toBe(1); // a is still served
    await a.query('ROLLBACK');
    expect(await seen).toBe(0); // b ran after the rollback, not inside a's transaction

    await a.query('BEGIN');
    await a.query('INSERT INTO notes (body, owner) VALUES ($1, $2)', ['kept', 1]);
    const after = b.query('SELECT body FROM notes');
    await a.query('COMMIT');
    expect((await after).rows).toEqual([{ body: 'kept' }]);
  });

  it('replies to an error with the error and keeps the connection usable', async () => {
    const { port } = await serve();
    const c = await connect(port);
    await expect(c.query('SELECT * FROM no_such_table')).rejects.toMatchObject({ code: '42P01' });
    expect((await c.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    // An error in the extended protocol (a bad parameter) skips to Sync; the next query runs.
    await expect(c.query('SELECT $1::int AS n', ['not a number'])).rejects.toMatchObject({ code: '22P02' });
    expect((await c.query('SELECT $1::int AS n', [7])).rows).toEqual([{ n: 7 }]);
    // Inside a transaction: the transaction is aborted until ROLLBACK, then all is well,
    // and another client was not held up by the aborted transaction for longer than that.
    await c.query('BEGIN');
    await expect(c.query('INSERT INTO notes (body, owner) VALUES (NULL, 1)')).rejects.toMatchObject({
      code: '23502',
    });
    await expect(c.query('SELECT 1')).rejects.toMatchObject({ code: '25P02' });
    await c.query('ROLLBACK');
    const other = await connect(port);
    expect((await other.query('SELECT count(*)::int AS n FROM notes')).rows[0].n).toBe(0);
    expect((await c.query('SELECT 2 AS two')).rows).toEqual([{ two: 2 }]);
  });

  it('rolls back the transaction of a client that vanishes, and serves the others again', async () => {
    const { port } = await serve();
    const a = await connect(port);
    const b = await connect(port);
    await a.query('BEGIN');
    await a.query('INSERT INTO notes (body, owner) VALUES ($1, $2)', ['orphan', 1]);
    const waiting = b.query('SELECT count(*)::int AS n FROM notes');
    // The socket is cut without a Terminate message, as when a process is killed.
    endedHere(a).on('error', () => undefined); // pg reports the cut here
    (a as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy();
    expect((await waiting).rows[0].n).toBe(0);
    expect(await db.isInTransaction()).toBe(false);
    expect((await b.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
  });

  it('rolls back the transaction of a client that ends (Terminate) inside it', async () => {
    const { port } = await serve();
    const a = await connect(port);
    const b = await connect(port);
    await a.query('BEGIN');
    await a.query('INSERT INTO notes (body, owner) VALUES ($1, $2)', ['unfinished', 1]);
    await endedHere(a).end();
    expect((await b.query('SELECT count(*)::int AS n FROM notes')).rows[0].n).toBe(0);
    expect(await db.isInTransaction()).toBe(false);
  });

  it('refuses a connection past its limit with a PostgreSQL error, and accepts again once one closes', async () => {
    const { port } = await serve(2);
    const first = await connect(port);
    await connect(port);
    const third = new Client(config(port));
    await expect(third.connect()).rejects.toThrow('too many connections for the embedded database (limit 2)');
    await endedHere(first).end();
    await settle();
    const again = await connect(port);
    expect((await again.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
  });

  it('answers a TLS request with "no" (loopback only), which a client that insists on TLS reports', async () => {
    const { port } = await serve();
    const tls = new Client({ ...config(port), ssl: { rejectUnauthorized: false } });
    await expect(tls.connect()).rejects.toThrow('The server does not support SSL connections');
    const plain = await connect(port);
    expect((await plain.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
  });

  it('close() drops its clients, refused ones included, and stops listening; the database itself stays open', async () => {
    const { close, port } = await serve(1);
    const c = await connect(port);
    const ended = new Promise<void>((resolve) => c.once('end', () => resolve()));
    endedHere(c).on('error', () => undefined); // the dropped socket is reported here
    // pg does not hang up after a refusal: close() must not wait for it.
    await expect(new Client(config(port)).connect()).rejects.toThrow('too many connections');
    const timeout = new Promise((_, reject) =>
      setTimeout(() => reject(new Error('close() did not finish')), 5_000).unref(),
    );
    await Promise.race([close(), timeout]);
    await ended;
    await expect(new Client(config(port)).connect()).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    expect(await db.query('SELECT 1 AS one')).toEqual([{ one: 1 }]);
  });
});
