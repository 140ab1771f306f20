/**
 * Events between workers and subscribers. Payloads are small (ids and
 * numbers, never images) so they fit PostgreSQL's 8 KB NOTIFY limit.
 *
 * - InProcessEventBus: one process (and the embedded database, where
 *   LISTEN/NOTIFY across connections does not work).
 * - PostgresEventBus: across processes and machines via LISTEN/NOTIFY; all
 *   publishes go over one connection so their order is kept.
 */
import { Client, Pool } from 'pg';
import { Channel } from './channel';

export interface SubscribeOptions<T> {
  /**
   * Reads the topic's latest state. Called after the bus lost its connection
   * and got it back (events published meanwhile were lost), and its value, if
   * any, is delivered as if published, so a live subscriber catches up.
   */
  resync?: () => Promise<T | null | undefined>;
}

export interface BusHealth {
  ok: boolean;
  /** 'connected' | 'reconnecting' | 'closed' ('in-process' for the local bus). */
  state: string;
  /** Times the bus has reconnected since start. */
  reconnects: number;
}

export interface EventBus {
  publish(topic: string, payload: unknown): Promise<void>;
  /** A channel of payloads published to `topic` from now on; close it (or return()) to unsubscribe. */
  subscribe<T = unknown>(topic: string, options?: SubscribeOptions<T>): Channel<T>;
  health(): BusHealth;
  close(): Promise<void>;
}

export const topics = {
  progress: (promptId: string) => `progress:${promptId}`,
  samples: (promptId: string) => `samples:${promptId}`,
};

/** Local fan-out shared by both buses. */
class Subscribers {
  private readonly byTopic = new Map<string, Set<Channel<unknown>>>();
  private readonly resyncs = new Map<Channel<unknown>, () => Promise<unknown>>();

  add<T>(topic: string, options?: SubscribeOptions<T>): Channel<T> {
    const set = this.byTopic.get(topic) ?? new Set();
    this.byTopic.set(topic, set);
    const channel: Channel<T> = new Channel<T>(() => {
      set.delete(channel as Channel<unknown>);
      this.resyncs.delete(channel as Channel<unknown>);
      if (set.size === 0) this.byTopic.delete(topic);
    });
    set.add(channel as Channel<unknown>);
    if (options?.resync) this.resyncs.set(channel as Channel<unknown>, options.resync);
    return channel;
  }

  deliver(topic: string, payload: unknown): void {
    for (const channel of this.byTopic.get(topic) ?? []) channel.push(payload);
  }

  /** Re-reads and delivers each live subscriber's latest state (after a gap in delivery). */
  async resyncAll(onError: (err: Error) => void): Promise<void> {
    await Promise.all(
      [...this.resyncs].map(async ([channel, read]) => {
        try {
          const state = await read();
          if (state !== null && state !== undefined) channel.push(state);
        } catch (err) {
          onError(err as Error);
        }
      }),
    );
  }

  closeAll(): void {
    for (const set of this.byTopic.values()) for (const channel of [...set]) channel.close();
    this.byTopic.clear();
    this.resyncs.clear();
  }
}

export class InProcessEventBus implements EventBus {
  private readonly subscribers = new Subscribers();

  async publish(topic: string, payload: unknown): Promise<void> {
    // Deliver on a later tick, as a remote bus would: publishers never run subscriber code inline.
    const copy = JSON.parse(JSON.stringify(payload));
    setImmediate(() => this.subscribers.deliver(topic, copy));
  }

  subscribe<T = unknown>(topic: string, options?: SubscribeOptions<T>): Channel<T> {
    return this.subscribers.add<T>(topic, options);
  }

  health(): BusHealth {
    return { ok: true, state: 'in-process', reconnects: 0 };
  }

  async close(): Promise<void> {
    this.subscribers.closeAll();
  }
}

const PG_CHANNEL = 'promptgen_events';

/** Reconnect delays: first retry soon (a restart takes seconds), then back off to this cap. */
const RECONNECT_FIRST_MS = 250;
const RECONNECT_MAX_MS = 5_000;

/**
 * LISTEN/NOTIFY with self-healing connections. The listening connection is
 * watched: when it errors or ends (database restart, network cut), the bus
 * reconnects with exponential backoff, LISTENs again and asks every live
 * subscriber to re-read its latest state (NOTIFYs sent while it was away are
 * gone for good). Publishes go through a one-connection pool, which replaces
 * a broken connection on the next publish; their order is kept by a chain.
 */
export class PostgresEventBus implements EventBus {
  private readonly subscribers = new Subscribers();
  private publishChain: Promise<unknown> = Promise.resolve();
  private listener: Client | null = null;
  private state: 'connected' | 'reconnecting' | 'closed' = 'reconnecting';
  private reconnects = 0;
  private retryTimer: NodeJS.Timeout | null = null;

  private constructor(
    private readonly url: string,
    private readonly publisher: Pool,
    private readonly onError: (err: Error) => void,
    private readonly onInfo: (message: string) => void,
  ) {}

  static async connect(
    url: string,
    onError: (err: Error) => void,
    onInfo: (message: string) => void = () => undefined,
  ): Promise<PostgresEventBus> {
    const publisher = new Pool({
      connectionString: url,
      max: 1,
      application_name: 'promptgen-events-publish',
    });
    // An idle publish connection that dies is dropped by the pool; the next publish opens a new one.
    publisher.on('error', onError);
    const bus = new PostgresEventBus(url, publisher, onError, onInfo);
    await bus.listen();
    return bus;
  }

  /** Opens the listening connection and LISTENs; throws when the database cannot be reached. */
  private async listen(): Promise<void> {
    const client = new Client({
      connectionString: this.url,
      application_name: 'promptgen-events-listen',
      keepAlive: true,
    });
    let lost = false;
    const onLost = (err?: Error) => {
      if (lost) return;
      lost = true;
      client.removeAllListeners('notification');
      client.end().catch(() => undefined);
      if (this.listener === client) this.listener = null;
      if (this.state === 'closed') return;
      if (err) this.onError(new Error(`event bus connection lost: ${err.message}`));
      this.state = 'reconnecting';
      this.scheduleReconnect(RECONNECT_FIRST_MS);
    };
    client.on('notification', (msg) => {
      if (msg.channel !== PG_CHANNEL || !msg.payload) return;
      try {
        const { t, p } = JSON.parse(msg.payload) as { t: string; p: unknown };
        this.subscribers.deliver(t, p);
      } catch (err) {
        this.onError(err as Error);
      }
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${PG_CHANNEL}`);
    } catch (err) {
      lost = true;
      client.end().catch(() => undefined);
      throw err;
    }
    client.on('error', (err) => onLost(err));
    client.on('end', () => onLost(new Error('connection ended')));
    this.listener = client;
    this.state = 'connected';
  }

  private scheduleReconnect(delayMs: number): void {
    if (this.retryTimer || this.state === 'closed') return;
    this.retryTimer = setTimeout(async () => {
      this.retryTimer = null;
      if (this.state === 'closed') return;
      try {
        await this.listen();
      } catch {
        this.scheduleReconnect(Math.min(RECONNECT_MAX_MS, delayMs * 2));
        return;
      }
      if (this.state !== 'connected') return;
      this.reconnects += 1;
      this.onInfo(
        `event bus reconnected (${this.reconnects} since start); re-sending the latest state to live subscribers`,
      );
      await this.subscribers.resyncAll(this.onError);
    }, delayMs);
    this.retryTimer.unref();
  }

  publish(topic: string, payload: unknown): Promise<void> {
    const text = JSON.stringify({ t: topic, p: payload });
    if (Buffer.byteLength(text) > 7900) {
      return Promise.reject(
        new Error(`event for ${topic} is too large for NOTIFY (${Buffer.byteLength(text)} bytes)`),
      );
    }
    const sent = this.publishChain.then(() =>
      this.publisher.query('SELECT pg_notify($1, $2)', [PG_CHANNEL, text]),
    );
    this.publishChain = sent.catch(() => undefined);
    return sent.then(() => undefined);
  }

  subscribe<T = unknown>(topic: string, options?: SubscribeOptions<T>): Channel<T> {
    return this.subscribers.add<T>(topic, options);
  }

  health(): BusHealth {
    return { ok: this.state === 'connected', state: this.state, reconnects: this.reconnects };
  }

  async close(): Promise<void> {
    this.state = 'closed';
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.subscribers.closeAll();
    await this.publishChain;
    const listener = this.listener;
    this.listener = null;
    await Promise.allSettled([listener?.end(), this.publisher.end()]);
  }
}
