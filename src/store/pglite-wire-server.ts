/**
 * A PostgreSQL wire-protocol server in front of one PGlite instance, for
 * several pooled client connections.
 *
 * Why our own instead of @electric-sql/pglite-socket's server: that one queues
 * each protocol *message* separately, so the Parse/Bind/Execute/Sync of one
 * connection's extended-protocol query can interleave with another's on the
 * single backend — measured here as wrong results (rows of another query,
 * empty results) as soon as two pools query at once. This server queues whole
 * *batches* (every message up to a Sync, Query, Flush or Terminate), and while
 * PGlite is inside a transaction it serves only the connection that opened it.
 */
import * as net from 'node:net';

/** The parts of a PGlite instance the server uses. */
export interface WireBackend {
  runExclusive<T>(work: () => Promise<T>): Promise<T>;
  execProtocolRawStream(
    message: Uint8Array,
    options: { onRawData: (data: Uint8Array) => void },
  ): Promise<void>;
  isInTransaction(): boolean;
  exec(sql: string): Promise<unknown>;
}

const SSL_REQUEST = 80877103;
const CANCEL_REQUEST = 80877102;
const BATCH_END = new Set(['S', 'Q', 'H', 'X']);

interface Job {
  conn: Connection;
  bytes: Uint8Array;
}

class Connection {
  private buffer = Buffer.alloc(0);
  private started = false;
  private pending: Buffer[] = [];
  closed = false;

  constructor(
    readonly id: number,
    readonly socket: net.Socket,
    private readonly submit: (job: Job) => void,
  ) {}

  onData(chunk: Buffer): void {
    this.buffer = Buffer.concat([this.buffer, chunk]);
    for (;;) {
      if (!this.started) {
        // Untyped start-up packets: length (incl. itself), then a code or protocol version.
        if (this.buffer.length < 8) return;
        const length = this.buffer.readInt32BE(0);
        if (this.buffer.length < length) return;
        const code = this.buffer.readInt32BE(4);
        const packet = this.buffer.subarray(0, length);
        this.buffer = this.buffer.subarray(length);
        if (code === SSL_REQUEST) {
          this.socket.write('N'); // no TLS on loopback
          continue;
        }
        if (code === CANCEL_REQUEST) continue; // not supported
        this.started = true;
        this.submit({ conn: this, bytes: new Uint8Array(packet) });
        continue;
      }
      if (this.buffer.length < 5) return;
      const length = 1 + this.buffer.readInt32BE(1);
      if (this.buffer.length < length) return;
      const type = String.fromCharCode(this.buffer[0]!);
      this.pending.push(this.buffer.subarray(0, length));
      this.buffer = this.buffer.subarray(length);
      if (BATCH_END.has(type)) {
        this.submit({ conn: this, bytes: new Uint8Array(Buffer.concat(this.pending)) });
        this.pending = [];
      }
    }
  }
}

export class PGliteWireServer {
  private server?: net.Server;
  private readonly queue: Job[] = [];
  private running = false;
  /** The connection whose transaction PGlite is in, if any. */
  private owner: Connection | null = null;
  private readonly connections = new Set<Connection>();
  private readonly refused = new Set<net.Socket>();
  private nextId = 1;

  constructor(
    private readonly db: WireBackend,
    private readonly maxConnections = 100,
  ) {}

  async listen(host = '127.0.0.1', port = 0): Promise<number> {
    this.server = net.createServer((socket) => this.accept(socket));
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(port, host, () => resolve());
    });
    return (this.server.address() as net.AddressInfo).port;
  }

  private accept(socket: net.Socket): void {
    socket.setNoDelay(true);
    if (this.connections.size >= this.maxConnections) {
      // Refused sockets are kept until they close: a client that does not hang up after the
      // error (pg does not) would otherwise hold close() open for ever, and a reset on one
      // without an error listener would throw in the database thread.
      this.refused.add(socket);
      socket.on('error', () => socket.destroy());
      socket.on('close', () => this.refused.delete(socket));
      socket.end(
        errorResponse(
          '53300',
          `too many connections for the embedded database (limit ${this.maxConnections})`,
        ),
      );
      return;
    }
    const conn = new Connection(this.nextId++, socket, (job) => this.enqueue(job));
    this.connections.add(conn);
    socket.on('data', (chunk) => {
      try {
        conn.onData(chunk);
      } catch {
        socket.destroy();
      }
    });
    const gone = () => void this.drop(conn);
    socket.on('close', gone);
    socket.on('error', gone);
  }

  private async drop(conn: Connection): Promise<void> {
    if (conn.closed) return;
    conn.closed = true;
    this.connections.delete(conn);
    for (let i = this.queue.length - 1; i >= 0; i--)
      if (this.queue[i]!.conn === conn) this.queue.splice(i, 1);
    if (this.owner === conn) {
      // A client vanished mid-transaction: roll it back so others can proceed.
      // Not inside runExclusive: exec() takes PGlite's query lock itself, and that lock
      // is the one runExclusive holds, so wrapping it waited on itself forever and the
      // database answered no one again (test/store/pglite-wire-server.test.ts).
      await this.db.exec('ROLLBACK').catch(() => undefined);
      this.owner = null;
      void this.drain();
    }
  }

  private enqueue(job: Job): void {
    this.queue.push(job);
    void this.drain();
  }

  private nextJob(): Job | undefined {
    if (this.owner && this.db.isInTransaction()) {
      const i = this.queue.findIndex((j) => j.conn === this.owner);
      return i >= 0 ? this.queue.splice(i, 1)[0] : undefined;
    }
    this.owner = null;
    return this.queue.shift();
  }

  private async drain(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      for (let job = this.nextJob(); job; job = this.nextJob()) {
        if (job.conn.closed) continue;
        const { socket } = job.conn;
        try {
          await this.db.runExclusive(() =>
            this.db.execProtocolRawStream(job!.bytes, {
              onRawData: (data: Uint8Array) => {
                if (socket.writable && data.length) socket.write(Buffer.from(data));
              },
            }),
          );
        } catch {
          socket.destroy();
          continue;
        }
        if (this.db.isInTransaction()) this.owner = job.conn;
        if (job.bytes[0] === 'X'.charCodeAt(0)) socket.end();
      }
    } finally {
      this.running = false;
    }
  }

  async close(): Promise<void> {
    for (const conn of this.connections) conn.socket.destroy();
    for (const socket of this.refused) socket.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

/** A FATAL ErrorResponse message (for refusing a connection before start-up). */
function errorResponse(sqlState: string, message: string): Buffer {
  const fields = Buffer.concat([
    Buffer.from(`SFATAL\0VFATAL\0C${sqlState}\0M${message}\0`, 'utf8'),
    Buffer.from([0]),
  ]);
  const head = Buffer.alloc(5);
  head.write('E', 0);
  head.writeInt32BE(4 + fields.length, 1);
  return Buffer.concat([head, fields]);
}
