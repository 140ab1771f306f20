/**
 * Writes a training job's output (progress, history, previews, checkpoints)
 * in order, retrying each write through a database outage instead of
 * dropping it.
 *
 * - Order: writes run one after another, as the thread reported them.
 * - Retry: a failed write is tried again with exponential backoff
 *   (RETRY_FIRST_MS doubling to RETRY_MAX_MS) until it has failed for
 *   `giveUpAfterMs`; a PostgreSQL restart takes a few seconds, a failover tens.
 * - Bounded: at most `maxPending` writes wait; the training thread keeps
 *   producing while the database is away, and memory must not grow without end.
 * - Honest: once a write is given up, the writer is `failed` and refuses every
 *   later write, so nothing after a hole (in particular "SUCCEEDED") is recorded.
 *   The job then ends or retries from its last stored checkpoint.
 *
 * Errors that a retry cannot fix (bad data, a constraint, a bug in the SQL:
 * SQLSTATE classes 22, 23, 42) fail at once.
 */
import type { WriteHealth } from './write-health';

export interface OutputWriterOptions {
  maxPending: number;
  giveUpAfterMs: number;
  /** A shorter limit for errors that rarely clear within seconds (a full disk). */
  giveUpSoonerFor?: { matches: (err: unknown) => boolean; afterMs: number };
  health?: WriteHealth;
  /** Told about each failed attempt that will be retried. */
  onRetry?: (label: string, err: Error, attempt: number) => void;
  /** Told once, when the writer gives up. */
  onFailure?: (err: Error) => void;
}

const RETRY_FIRST_MS = 200;
const RETRY_MAX_MS = 5_000;

/** SQLSTATE classes a retry cannot fix: data exception, integrity violation, syntax/access rule. */
const PERMANENT_SQLSTATE = /^(22|23|42)/;

export function isRetryable(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  return !(typeof code === 'string' && code.length === 5 && PERMANENT_SQLSTATE.test(code));
}

/** A write given up: carries the last error (`cause`) and what was being written. */
export class OutputWriteFailed extends Error {
  constructor(
    message: string,
    readonly cause: unknown,
  ) {
    super(message);
  }
}

export class OutputWriter {
  private chain: Promise<void> = Promise.resolve();
  private pending = 0;
  private failure: OutputWriteFailed | null = null;
  private readonly sleeps = new Set<{ timer: NodeJS.Timeout; resolve: () => void }>();

  constructor(private readonly options: OutputWriterOptions) {}

  /** The reason the writer gave up, or null while all writes succeed. */
  get failed(): OutputWriteFailed | null {
    return this.failure;
  }

  /** Queues a write; ignored (with the failure kept) once the writer has failed. */
  enqueue(label: string, work: () => Promise<void>): void {
    if (this.failure) return;
    if (this.pending >= this.options.maxPending) {
      this.fail(
        new OutputWriteFailed(
          `more than ${this.options.maxPending} training writes are waiting for the database`,
          null,
        ),
      );
      return;
    }
    this.pending += 1;
    this.chain = this.chain.then(async () => {
      try {
        if (!this.failure) await this.attempt(label, work);
      } finally {
        this.pending -= 1;
      }
    });
  }

  /** Resolves when every queued write has been made or given up. */
  drain(): Promise<void> {
    return this.chain;
  }

  /** Stops waiting between retries (shutdown): what is still pending is given up. */
  abort(reason: string): void {
    this.fail(new OutputWriteFailed(reason, null));
    for (const sleep of this.sleeps) {
      clearTimeout(sleep.timer);
      sleep.resolve();
    }
    this.sleeps.clear();
  }

  private async attempt(label: string, work: () => Promise<void>): Promise<void> {
    const start = Date.now();
    let delay = RETRY_FIRST_MS;
    for (let attempt = 1; ; attempt++) {
      try {
        await work();
        this.options.health?.succeeded();
        return;
      } catch (e) {
        const err = e instanceof Error ? e : new Error(String(e));
        this.options.health?.failed(err);
        const sooner = this.options.giveUpSoonerFor;
        const limit = sooner?.matches(err)
          ? Math.min(sooner.afterMs, this.options.giveUpAfterMs)
          : this.options.giveUpAfterMs;
        if (!isRetryable(err) || Date.now() - start + delay > limit) {
          this.fail(new OutputWriteFailed(`writing ${label} failed: ${err.message}`, err));
          return;
        }
        this.options.onRetry?.(label, err, attempt);
        await this.sleep(delay);
        if (this.failure) return;
        delay = Math.min(RETRY_MAX_MS, delay * 2);
      }
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const entry = { timer: setTimeout(() => (this.sleeps.delete(entry), resolve()), ms), resolve };
      this.sleeps.add(entry);
    });
  }

  private fail(err: OutputWriteFailed): void {
    if (this.failure) return;
    this.failure = err;
    this.options.onFailure?.(err);
  }
}
