/**
 * Why the embedded database did not start, in words an operator can act on.
 * PGlite runs PostgreSQL compiled to wasm; its file-system failures arrive as
 * Emscripten `ErrnoError` objects carrying only a WASI errno number (no
 * message), which printed as "[object Object]". This turns them, and the
 * Node errors of the same kind, into "no space left on device in <dir>" and
 * the like. The text names the data directory: it is for the operator's log
 * and console (start-up), never sent to clients.
 */

/** A start-up failure whose message says it all (no stack trace needed in the operator's log). */
export class StartupError extends Error {}

/** WASI errno numbers (what Emscripten's ErrnoError.errno holds) for the failures an operator can fix. */
const WASI_ERRNO: Record<number, string> = {
  2: 'EACCES',
  19: 'EDQUOT',
  22: 'EFBIG',
  29: 'EIO',
  44: 'ENOENT',
  48: 'ENOMEM',
  51: 'ENOSPC',
  63: 'EPERM',
  69: 'EROFS',
};

const EXPLAIN: Record<string, string> = {
  ENOSPC: 'no space left on device',
  EDQUOT: 'disk quota exceeded',
  EFBIG: 'file too large for the file-size limit',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'read-only file system',
  EIO: 'input/output error',
  ENOENT: 'a file or folder is missing',
  ENOMEM: 'out of memory',
};

/** The errno name of an error-like value (`ENOSPC`), from a Node code or a WASI errno number. */
export function errnoName(err: unknown): string | undefined {
  const e = err as { code?: unknown; errno?: unknown } | null;
  if (e && typeof e.code === 'string' && /^E[A-Z]+$/.test(e.code)) return e.code;
  if (e && typeof e.errno === 'number' && WASI_ERRNO[e.errno]) return WASI_ERRNO[e.errno];
  return undefined;
}

/** A readable text for any thrown value (never "[object Object]"). */
export function errorText(err: unknown): string {
  if (err instanceof Error) return err.message || err.name;
  if (typeof err === 'string') return err;
  const e = err as { message?: unknown; name?: unknown; errno?: unknown } | null;
  if (e && typeof e.message === 'string' && e.message) return e.message;
  const parts = [
    typeof e?.name === 'string' ? e.name : null,
    typeof e?.errno === 'number' ? `errno ${e.errno}` : null,
  ].filter(Boolean);
  if (parts.length) return parts.join(' ');
  try {
    return JSON.stringify(err) ?? String(err);
  } catch {
    return String(err);
  }
}

export function describeStartFailure(err: unknown, pgdata: string): Error {
  const code = errnoName(err);
  const explained = code ? EXPLAIN[code] : undefined;
  if (explained)
    return new StartupError(`embedded database failed to start: ${explained} (${code}) in ${pgdata}`);
  return new StartupError(`embedded database failed to start in ${pgdata}: ${errorText(err)}`);
}
