/**
 * Whether the database has been taking this process's writes lately, for
 * readiness. A `SELECT 1` succeeds on a database whose disk is full; the
 * failed writes of training jobs tell the truth. A failure counts until a
 * later write succeeds, or for `memoryMs` when nothing writes any more (so an
 * operator who frees space sees the server ready again without a restart).
 */
import { errnoName } from '../store/start-failure';

export interface WriteHealthStatus {
  ok: boolean;
  /** What kind of failure, for clients: 'disk full' or 'write failed' (never the raw error text). */
  reason?: string;
  /** When the failing began. */
  since?: string;
}

/** SQLSTATE 53100 disk_full, 53200 out_of_memory... class 53 is "insufficient resources". */
export function isDiskFull(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  if (code === '53100') return true;
  if (errnoName(err) === 'ENOSPC' || errnoName(err) === 'EDQUOT') return true;
  return /no space left on device|disk full|quota exceeded/i.test(String((err as Error)?.message ?? err));
}

export class WriteHealth {
  private lastFailure: { at: number; firstAt: number; diskFull: boolean } | null = null;

  constructor(private readonly memoryMs = 60_000) {}

  succeeded(): void {
    this.lastFailure = null;
  }

  failed(err: unknown): void {
    const now = Date.now();
    this.lastFailure = { at: now, firstAt: this.lastFailure?.firstAt ?? now, diskFull: isDiskFull(err) };
  }

  status(): WriteHealthStatus {
    const f = this.lastFailure;
    if (!f || Date.now() - f.at > this.memoryMs) return { ok: true };
    return {
      ok: false,
      reason: f.diskFull ? 'disk full' : 'database writes failing',
      since: new Date(f.firstAt).toISOString(),
    };
  }
}
