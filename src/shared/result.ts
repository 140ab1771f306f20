/**
 * What a service returns for a request that may be refused: the value, or the
 * user errors that say why (each with its field path and code). It sits below
 * every layer because the services, their tensor-backed implementations and
 * the schema's mutation payloads all speak it.
 */
import type { ErrorCode } from './error-code';

export interface UserErrorData {
  field: string[] | null;
  message: string;
  code: ErrorCode;
}

export type Result<T> = { ok: true; value: T } | { ok: false; errors: UserErrorData[] };
