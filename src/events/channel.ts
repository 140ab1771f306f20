/**
 * A buffered async iterator fed by push(). Unlike an async generator, its
 * return() completes at once even while a consumer awaits next(), so a client
 * that unsubscribes from a quiet topic is cleaned up immediately.
 *
 * The buffer is bounded. push() never blocks the publisher (a training worker must not
 * wait for a slow websocket), so a subscriber that stops reading would otherwise hold
 * every event of a long training in memory. What flows through channels is state
 * (progress, "a new preview exists"), where a later value supersedes an earlier one, so
 * on overflow the OLDEST buffered value is dropped, never the one endAfter() waits for:
 * a slow reader still gets the newest state and the end of the stream.
 */

/**
 * Values a channel holds for a reader that is behind. A training publishes a progress
 * event per reporting interval (tens per prompt) and a preview id per preview, so a
 * reader this far behind has stopped reading; the newest 256 are plenty to catch up.
 */
export const CHANNEL_BUFFER_LIMIT = 256;

export class Channel<T> implements AsyncIterableIterator<T> {
  private readonly buffer: T[] = [];
  private readonly waiting: Array<(r: IteratorResult<T>) => void> = [];
  private done = false;
  private endWhen?: (value: T) => boolean;
  private droppedCount = 0;

  constructor(
    private readonly onClose?: () => void,
    private readonly limit = CHANNEL_BUFFER_LIMIT,
  ) {}

  /** How many values were dropped because the reader was `limit` behind. */
  get dropped(): number {
    return this.droppedCount;
  }

  /** Finish after delivering the first value for which `predicate` is true. */
  endAfter(predicate: (value: T) => boolean): this {
    this.endWhen = predicate;
    return this;
  }

  push(value: T): void {
    if (this.done || this.endIsBuffered()) return; // never delivered: the stream ends before it
    const waiter = this.waiting.shift();
    if (waiter) waiter({ value, done: false });
    else {
      this.buffer.push(value);
      this.trim();
    }
  }

  /** Puts a value before everything buffered (e.g. the latest state for a late subscriber). */
  unshift(value: T): void {
    if (this.done) return;
    const waiter = this.waiting.shift();
    if (waiter) waiter({ value, done: false });
    else {
      this.buffer.unshift(value);
      this.trim();
    }
  }

  private endIsBuffered(): boolean {
    const endWhen = this.endWhen;
    return endWhen !== undefined && this.buffer.some((v) => endWhen(v));
  }

  /** Drops the oldest values over the limit, keeping any value endAfter() ends on. */
  private trim(): void {
    while (this.buffer.length > this.limit) {
      const oldest = this.buffer.findIndex((v) => !this.endWhen?.(v));
      if (oldest < 0) return;
      this.buffer.splice(oldest, 1);
      this.droppedCount++;
    }
  }

  close(): void {
    if (this.done) return;
    this.done = true;
    this.onClose?.();
    for (const waiter of this.waiting.splice(0)) waiter({ value: undefined, done: true });
  }

  next(): Promise<IteratorResult<T>> {
    if (this.buffer.length > 0) {
      const value = this.buffer.shift() as T;
      if (this.endWhen?.(value)) {
        this.buffer.length = 0;
        this.close();
      }
      return Promise.resolve({ value, done: false });
    }
    if (this.done) return Promise.resolve({ value: undefined, done: true });
    return new Promise<IteratorResult<T>>((resolve) => {
      this.waiting.push((result) => {
        if (!result.done && this.endWhen?.(result.value)) this.close();
        resolve(result);
      });
    });
  }

  return(): Promise<IteratorResult<T>> {
    this.buffer.length = 0;
    this.close();
    return Promise.resolve({ value: undefined, done: true });
  }

  throw(error?: unknown): Promise<IteratorResult<T>> {
    this.close();
    return Promise.reject(error);
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}
