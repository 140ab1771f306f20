/**
 * A buffered async iterator fed by push(). Unlike an async generator, its
 * return() completes at once even while a consumer awaits next(), so a client
 * that unsubscribes from a quiet topic is cleaned up immediately.
 */
export class Channel<T> implements AsyncIterableIterator<T> {
  private readonly buffer: T[] = [];
  private readonly waiting: Array<(r: IteratorResult<T>) => void> = [];
  private done = false;
  private endWhen?: (value: T) => boolean;

  constructor(private readonly onClose?: () => void) {}

  /** Finish after delivering the first value for which `predicate` is true. */
  endAfter(predicate: (value: T) => boolean): this {
    this.endWhen = predicate;
    return this;
  }

  push(value: T): void {
    if (this.done) return;
    const waiter = this.waiting.shift();
    if (waiter) waiter({ value, done: false });
    else this.buffer.push(value);
  }

  /** Puts a value before everything buffered (e.g. the latest state for a late subscriber). */
  unshift(value: T): void {
    if (this.done) return;
    const waiter = this.waiting.shift();
    if (waiter) waiter({ value, done: false });
    else this.buffer.unshift(value);
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
