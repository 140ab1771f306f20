/**
 * What an error may tell a client. Clients see error texts (GraphQL errors,
 * `Prompt.error`), so an unexpected exception, whose message can hold file
 * contents, server paths, SQL or JavaScript internals, is shown only as
 * "internal error (id …)"; the id goes to the server log next to the real cause,
 * so an operator can find it. Messages written for users (GraphQL errors with a
 * code, errors a plugin marks `expose = true`) pass, with absolute paths cut out.
 *
 * No project imports: every layer (jobs, schema, server) uses it.
 */
import { randomBytes } from 'node:crypto';

export interface ErrorLog {
  error(message: string): void;
}

/** A short id that is unique enough to grep a log for. */
export function newErrorId(): string {
  return randomBytes(6).toString('hex');
}

export const internalErrorText = (id: string) => `internal error (id ${id})`;

/**
 * Removes what must not reach a client from a message meant for users: absolute
 * file paths and file:// URLs (→ "<path>"), stack lines, and anything past 500 characters.
 */
export function scrubText(text: string): string {
  return text
    .split('\n')
    .filter((line) => !/^\s*at\s.+\(?.*:\d+:\d+\)?\s*$/.test(line))
    .join(' ')
    .replace(/file:\/\/\S+/g, '<path>')
    .replace(/(^|[\s"'`(=:,[])(?:~|\.{1,2})?\/(?:[^\s"'`),;\]]+)/g, (m, lead: string) => `${lead}<path>`)
    .slice(0, 500);
}

/** True when the error was written for the user: `expose === true` (a plugin's user message). */
function isExposed(err: unknown): err is Error {
  return err instanceof Error && (err as Error & { expose?: unknown }).expose === true;
}

/**
 * The text a client may see for a failure: the scrubbed message of an exposed error,
 * else "internal error (id …)" with the cause logged under that id.
 */
export function publicMessage(err: unknown, log: ErrorLog, context = ''): string {
  if (isExposed(err)) return scrubText(err.message);
  const id = newErrorId();
  const cause = err instanceof Error ? (err.stack ?? err.message) : String(err);
  log.error(`internal error ${id}${context ? ` (${context})` : ''}: ${cause}`);
  return internalErrorText(id);
}
