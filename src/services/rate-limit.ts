/**
 * Per-client admission of expensive mutations (createPrompt, sample, plugin
 * administration): a token bucket per client address. Each client holds up to
 * `perMinute` tokens and regains perMinute/60 a second; a request takes one. So a
 * client may burst `perMinute` requests, then keeps to the rate. Buckets live in
 * this process (each replica limits on its own) and idle ones are dropped, so the
 * map stays small however many addresses call. Own code rather than a library
 * (express-rate-limit, rate-limiter-flexible): the limit applies per GraphQL
 * field inside resolvers, over HTTP and graphql-ws alike, and answers a
 * userError, which HTTP middleware cannot; the bucket itself is a dozen lines.
 */
import type { UserErrorData } from '../shared/result';

interface Bucket {
  tokens: number;
  at: number;
}

/** Buckets not touched for this long are full again and can be forgotten. */
const IDLE_MS = 10 * 60_000;

export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private lastSweep = 0;

  constructor(
    /** Requests per client and minute; 0 disables the limit. */
    private readonly perMinute: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** null when admitted; else the userError to answer. */
  take(client: string): UserErrorData | null {
    if (this.perMinute <= 0) return null;
    const now = this.now();
    this.sweep(now);
    const rate = this.perMinute / 60_000; // tokens per ms
    const b = this.buckets.get(client) ?? { tokens: this.perMinute, at: now };
    b.tokens = Math.min(this.perMinute, b.tokens + (now - b.at) * rate);
    b.at = now;
    this.buckets.set(client, b);
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return null;
    }
    const wait = Math.ceil((1 - b.tokens) / rate / 1000);
    return {
      field: null,
      code: 'RATE_LIMITED',
      message: `too many requests from this client (limit ${this.perMinute} a minute): try again in ${wait} s`,
    };
  }

  private sweep(now: number): void {
    if (now - this.lastSweep < 60_000) return;
    this.lastSweep = now;
    for (const [k, b] of this.buckets) if (now - b.at > IDLE_MS) this.buckets.delete(k);
  }
}
