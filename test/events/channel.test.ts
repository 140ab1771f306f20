/**
 * The event channel on its own: the order it delivers in (buffered, awaited,
 * unshifted), what happens when nobody reads (push never blocks; the buffer keeps
 * the newest values up to its limit and never drops the value endAfter() ends on), how it ends (close, return, endAfter, throw) and
 * that its close hook runs exactly once however it ends.
 */
import { CHANNEL_BUFFER_LIMIT, Channel } from '../../src/events/channel';
import { InProcessEventBus } from '../../src/events/event-bus';

/** Reads `n` values (or fewer, if the channel ends first). */
async function take<T>(channel: Channel<T>, n: number): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < n; i++) {
    const r = await channel.next();
    if (r.done) break;
    out.push(r.value);
  }
  return out;
}

/** Reads until the channel ends. */
async function drain<T>(channel: Channel<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const v of channel) out.push(v);
  return out;
}

describe('Channel delivery order', () => {
  it('delivers pushed values first in, first out, whether buffered or awaited', async () => {
    const c = new Channel<number>();
    c.push(1);
    c.push(2);
    const waiting = [c.next(), c.next(), c.next(), c.next()]; // two served from the buffer, two waiting
    c.push(3);
    c.push(4);
    expect((await Promise.all(waiting)).map((r) => r.value)).toEqual([1, 2, 3, 4]);
  });

  it('puts an unshifted value before everything buffered, and hands it straight to a waiting reader', async () => {
    const c = new Channel<string>();
    c.push('b');
    c.push('c');
    c.unshift('latest');
    expect(await take(c, 3)).toEqual(['latest', 'b', 'c']);
    const waiting = c.next();
    c.unshift('now');
    expect(await waiting).toEqual({ value: 'now', done: false });
  });

  it('never blocks the publisher: an unread channel buffers values in order, up to its limit', async () => {
    const c = new Channel<number>();
    for (let i = 0; i < CHANNEL_BUFFER_LIMIT; i++) c.push(i);
    const got = await take(c, CHANNEL_BUFFER_LIMIT);
    expect(got).toHaveLength(CHANNEL_BUFFER_LIMIT);
    expect(got.every((v, i) => v === i)).toBe(true);
    expect(c.dropped).toBe(0);
  });
});

describe('Channel bound (a subscriber that stops reading)', () => {
  it('keeps the newest `limit` values of a long stream and counts what it dropped', async () => {
    const c = new Channel<number>(undefined, 100);
    for (let i = 0; i < 100_000; i++) c.push(i);
    expect(c.dropped).toBe(99_900);
    c.close();
    const got = await drain(c);
    expect(got).toHaveLength(100);
    expect(got[0]).toBe(99_900);
    expect(got.every((v, i) => v === 99_900 + i)).toBe(true);
  });

  it('never drops the value endAfter() ends on: a slow reader still sees the stream end', async () => {
    const c = new Channel<{ step: number; status: string }>(undefined, 8).endAfter(
      (e) => e.status === 'SUCCEEDED',
    );
    for (let step = 0; step < 50; step++) c.push({ step, status: 'TRAINING' });
    c.push({ step: 50, status: 'SUCCEEDED' });
    for (let step = 51; step < 80; step++) c.push({ step, status: 'TRAINING' }); // after the end: never read
    const got = await drain(c);
    expect(got.map((e) => e.step)).toEqual([43, 44, 45, 46, 47, 48, 49, 50]);
    expect(got[got.length - 1]!.status).toBe('SUCCEEDED');
    expect(c.dropped).toBe(43);
  });

  it('the channels the event bus hands out have the default bound', async () => {
    const bus = new InProcessEventBus();
    const c = bus.subscribe<number>('progress:p1');
    for (let i = 0; i < 10 * CHANNEL_BUFFER_LIMIT; i++) await bus.publish('progress:p1', i);
    await new Promise((resolve) => setImmediate(resolve)); // the bus delivers a tick later
    expect(c.dropped).toBe(9 * CHANNEL_BUFFER_LIMIT);
    expect(await take(c, 2)).toEqual([9 * CHANNEL_BUFFER_LIMIT, 9 * CHANNEL_BUFFER_LIMIT + 1]);
    await bus.close();
  });
});

describe('Channel ending', () => {
  it('close(): readers get what was already pushed, then done; later pushes are ignored', async () => {
    let closes = 0;
    const c = new Channel<number>(() => closes++);
    c.push(1);
    c.push(2);
    c.close();
    c.push(3);
    c.unshift(0);
    expect(await drain(c)).toEqual([1, 2]);
    expect(await c.next()).toEqual({ value: undefined, done: true });
    c.close();
    expect(closes).toBe(1);
  });

  it('close() ends every reader that is waiting, at once', async () => {
    const c = new Channel<number>();
    const readers = [c.next(), c.next(), c.next()];
    c.close();
    expect(await Promise.all(readers)).toEqual([0, 1, 2].map(() => ({ value: undefined, done: true })));
  });

  it('return() drops what is buffered and ends a reader waiting on a quiet channel (an unsubscribe)', async () => {
    let closes = 0;
    const c = new Channel<number>(() => closes++);
    const quiet = c.next();
    expect(await c.return()).toEqual({ value: undefined, done: true });
    expect(await quiet).toEqual({ value: undefined, done: true });

    const d = new Channel<number>(() => closes++);
    d.push(1);
    d.push(2);
    await d.return();
    expect(await d.next()).toEqual({ value: undefined, done: true });
    expect(closes).toBe(2);
  });

  it('breaking out of for-await unsubscribes (runs the close hook)', async () => {
    let closed = false;
    const c = new Channel<number>(() => (closed = true));
    for (const v of [1, 2, 3]) c.push(v);
    const seen: number[] = [];
    for await (const v of c) {
      seen.push(v);
      if (v === 2) break;
    }
    expect(seen).toEqual([1, 2]);
    expect(closed).toBe(true);
    expect(await c.next()).toEqual({ value: undefined, done: true });
  });

  it('endAfter(): delivers the first matching value, then ends, from the buffer', async () => {
    let closes = 0;
    const c = new Channel<{ status: string }>(() => closes++).endAfter((e) => e.status === 'SUCCEEDED');
    for (const status of ['TRAINING', 'SUCCEEDED', 'TRAINING']) c.push({ status });
    expect((await drain(c)).map((e) => e.status)).toEqual(['TRAINING', 'SUCCEEDED']);
    expect(closes).toBe(1);
  });

  it('endAfter(): ends too when the matching value reaches a waiting reader, and ends the readers behind it', async () => {
    let closes = 0;
    const c = new Channel<number>(() => closes++).endAfter((n) => n < 0);
    const first = c.next();
    const second = c.next();
    c.push(-1);
    expect(await first).toEqual({ value: -1, done: false });
    expect(await second).toEqual({ value: undefined, done: true });
    c.push(5);
    expect(await c.next()).toEqual({ value: undefined, done: true });
    expect(closes).toBe(1);
  });

  it('throw(): rejects with the given error, closes, and later reads are done', async () => {
    let closes = 0;
    const c = new Channel<number>(() => closes++);
    const waiting = new Channel<number>(() => closes++);
    const reader = waiting.next();
    await expect(c.throw(new Error('client went away'))).rejects.toThrow('client went away');
    await expect(waiting.throw(new Error('boom'))).rejects.toThrow('boom');
    expect(await reader).toEqual({ value: undefined, done: true });
    c.push(1);
    expect(await c.next()).toEqual({ value: undefined, done: true });
    expect(closes).toBe(2);
  });

  it('a close hook that unsubscribes is not re-entered by a second close from inside it', async () => {
    let calls = 0;
    const c: Channel<number> = new Channel<number>(() => {
      calls++;
      c.close();
    });
    c.close();
    await c.return();
    expect(calls).toBe(1);
  });
});
