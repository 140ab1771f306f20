/**
 * The one place that decides what an error looks like to a client, over HTTP
 * (Apollo's formatError) and graphql-ws alike: every error carries
 * `extensions.code`, and anything unexpected (a resolver's exception, a
 * database error, a broken invariant) is masked as "internal error (id …)"
 * with the real cause logged under the id (src/shared/public-error.ts).
 */
import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import { internalErrorText, newErrorId, type ErrorLog } from '../shared/public-error';
import { ErrorCode } from '../shared/error-code';

const INTERNAL = ErrorCode.INTERNAL_SERVER_ERROR;

/** The innermost error a resolver threw (graphql-js wraps it in a located GraphQLError). */
function rootCause(err: unknown): unknown {
  let e = err;
  for (let i = 0; i < 5 && e instanceof GraphQLError && e.originalError; i++) e = e.originalError;
  return e;
}

function codeOf(err: unknown): string | undefined {
  const code = err instanceof GraphQLError ? err.extensions?.code : undefined;
  return typeof code === 'string' ? code : undefined;
}

function mask(formatted: GraphQLFormattedError, cause: unknown, log: ErrorLog): GraphQLFormattedError {
  const id = newErrorId();
  const text = cause instanceof Error ? (cause.stack ?? cause.message) : String(cause);
  log.error(`internal error ${id}${formatted.path ? ` at ${formatted.path.join('.')}` : ''}: ${text}`);
  return {
    message: internalErrorText(id),
    ...(formatted.locations ? { locations: formatted.locations } : {}),
    ...(formatted.path ? { path: formatted.path } : {}),
    extensions: { code: INTERNAL, errorId: id },
  };
}

/** For Apollo's `formatError`: keeps coded client errors, masks the rest. */
export function formatApolloError(
  formatted: GraphQLFormattedError,
  error: unknown,
  log: ErrorLog,
): GraphQLFormattedError {
  const code = formatted.extensions?.code;
  if (typeof code === 'string' && code !== INTERNAL) {
    const { stacktrace: _s, ...extensions } = formatted.extensions ?? {};
    return { ...formatted, extensions };
  }
  const cause = rootCause(error);
  const causeCode = codeOf(cause);
  if (causeCode && causeCode !== INTERNAL) return { ...formatted, extensions: { code: causeCode } };
  return mask(formatted, cause, log);
}

/**
 * For graphql-ws results and errors, which graphql-js leaves uncoded: validation and
 * variable errors are the client's, a thrown non-GraphQL error is internal.
 */
export function formatWsError(
  error: GraphQLError,
  log: ErrorLog,
  fallbackCode: ErrorCode = ErrorCode.GRAPHQL_VALIDATION_FAILED,
): GraphQLFormattedError {
  const formatted = error.toJSON();
  const own = codeOf(error);
  if (own && own !== INTERNAL) return { ...formatted, extensions: { ...formatted.extensions, code: own } };
  const cause = rootCause(error);
  if (cause !== error) {
    const causeCode = codeOf(cause);
    if (causeCode && causeCode !== INTERNAL)
      return { ...formatted, extensions: { ...(cause as GraphQLError).extensions, code: causeCode } };
    return mask(formatted, cause, log);
  }
  if (own === INTERNAL) return mask(formatted, error, log);
  // graphql-js's own errors without a cause: variable coercion, validation, unknown operation.
  const code = /^Variable "\$/.test(error.message) ? ErrorCode.BAD_USER_INPUT : fallbackCode;
  return { ...formatted, extensions: { ...formatted.extensions, code } };
}
