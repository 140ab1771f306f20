/**
 * Events between workers and subscribers. Payloads are small (ids and
 * numbers, never images) so they fit PostgreSQL's 8 KB NOTIFY limit.
 *
 * - InProcessEventBus: one process (and the embedded database, where
 *   LISTEN/NOTIFY across connections does not work).
 * - PostgresEventBus: across processes and machines via LISTEN/NOTIFY; all
 *   publishes go over one connection so their order is kept.
 */
import { Client } from 'pg';
import { Channel } from './channel';

export interface EventBus {
  publish(topic: string, payload: unknown): Promise<void>;
  /** A channel of payloads published to `topic` from now on; close it (or return()) to unsubscribe. */
  subscribe<T = unknown>(topic: string): Channel<T>;
  close(): Promise<void>;
}

export const topics = {
  progress: (promptId: string) => `progress:${promptId}`,
  samples: (promptId: string) => `samples:${promptId}`,
  prompts: 'prompts',
};

/** Local fan-out shared by both buses. */
class Subscribers {
  private readonly byTopic = new Map<string, Set<Channel<unknown>>>();

  add<T>(topic: string): Channel<T> {
    const set = this.byTopic.get(topic) ?? new Set();
    this.byTopic.set(topic, set);
    const channel: Channel<T> = new Channel<T>(() => {
      set.delete(channel as Channel<unknown>);
      if (set.size === 0) this.byTopic.delete(topic);
    });
    set.add(channel as Channel<unknown>);
    return channel;
  }

  deliver(topic: string, payload: unknown): void {
    for (const channel of this.byTopic.get(topic) ?? []) channel.push(payload);
  }

  closeAll(): void {
    for (const set of this.byTopic.values()) for (const channel of [...set]) channel.close();
    this.byTopic.clear();
  }
}

export class InProcessEventBus implements EventBus {
  private readonly subscribers = new Subscribers();

  async publish(topic: string, payload: unknown): Promise<void> {
    // Deliver on a later tick, as a remote bus would: publishers never run subscriber code inline.
    const copy = JSON.parse(JSON.stringify(payload));
    setImmediate(() => this.subscribers.deliver(topic, copy));
  }

  subscribe<T = unknown>(topic: string): Channel<T> {
    return this.subscribers.add<T>(topic);
  }

  async close(): Promise<void> {
    this.subscribers.closeAll();
  }
}

const PG_CHANNEL = 'promptgen_events';

export class PostgresEventBus implements EventBus {
  private readonly subscribers = new Subscribers();
  private publishChain: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly listener: Client,
    private readonly publisher: Client,
  ) {}

  static async connect(url: string, onError: (err: Error) => void): Promise<PostgresEventBus> {
    const listener = new Client({ connectionString: url, application_name: 'promptgen-events-listen' });
    const publisher = new Client({ connectionString: url, application_name: 'promptgen-events-publish' });
    await listener.connect();
    await publisher.connect();
    const bus = new PostgresEventBus(listener, publisher);
    listener.on('error', onError);
    publisher.on('error', onError);
    listener.on('notification', (msg) => {
      if (msg.channel !== PG_CHANNEL || !msg.payload) return;
      try {
        const { t, p } = JSON.parse(msg.payload) as { t: string; p: unknown };
        bus.subscribers.deliver(t, p);
      } catch (err) {
        onError(err as Error);
      }
    });
    await listener.query(`LISTEN ${PG_CHANNEL}`);
    return bus;
  }

  publish(topic: string, payload: unknown): Promise<void> {
    const text = JSON.stringify({ t: topic, p: payload });
    if (Buffer.byteLength(text) > 7900) {
      return Promise.reject(new Error(`event for ${topic} is too large for NOTIFY (${Buffer.byteLength(text)} bytes)`));
    }
    const sent = this.publishChain.then(() => this.publisher.query('SELECT pg_notify($1, $2)', [PG_CHANNEL, text]));
    this.publishChain = sent.catch(() => undefined);
    return sent.then(() => undefined);
  }

  subscribe<T = unknown>(topic: string): Channel<T> {
    return this.subscribers.add<T>(topic);
  }

  async close(): Promise<void> {
    this.subscribers.closeAll();
    await this.publishChain;
    await Promise.allSettled([this.listener.end(), this.publisher.end()]);
  }
}
