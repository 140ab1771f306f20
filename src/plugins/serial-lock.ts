/**
 * Runs async work one at a time per key: work for a key starts only after all
 * work queued before it for that key has settled, whether it succeeded or
 * failed (a failure is the caller's to handle; it never wedges the queue).
 *
 * Re-entrant: work may call `run` for a key it already holds and that inner
 * work runs at once instead of waiting for itself. "Holds" follows the async
 * call chain (AsyncLocalStorage), so a callback merely scheduled by the holder
 * (a timer, an event handler) would count as holding it too: only call `run`
 * from code that the held work awaits.
 *
 * Written here rather than taken from a library because it is twenty lines and
 * the re-entrancy, which the installer needs (an admin install holds the lock
 * and calls the installer, which takes it too), is not what the small mutex
 * packages offer.
 */
import { AsyncLocalStorage } from 'node:async_hooks';

export class SerialLock {
  /** The last work queued per key (settled or not); removed once it settles with nothing after it. */
  private readonly tails = new Map<string, Promise<unknown>>();
  private readonly held = new AsyncLocalStorage<ReadonlySet<string>>();

  run<T>(key: string, work: () => Promise<T>): Promise<T> {
    const holding = this.held.getStore();
    if (holding?.has(key)) return Promise.resolve().then(work);
    const inside = new Set(holding ?? []).add(key);
    const before = this.tails.get(key) ?? Promise.resolve();
    const result = before.then(() => this.held.run(inside, work));
    const tail = result.catch(() => undefined);
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return result;
  }

  /** True while work for `key` is running or queued. */
  busy(key: string): boolean {
    return this.tails.has(key);
  }
}
