/**
 * Machine-readable error codes, used in `extensions.code` and `UserError.code`:
 * every code the server answers with, and only these. They sit below every
 * layer because services, the runtime, the schema and the server all return
 * them; one list means a new code is added here, where a client author can
 * find every code the server gives. The first group are a request's outcome
 * (user errors and resolver errors); the second are refusals of the request
 * itself, before or instead of running it (`extensions.code` only). The
 * strings are the wire format: never rename one.
 */
export const ErrorCode = {
  BAD_USER_INPUT: 'BAD_USER_INPUT',
  FORBIDDEN: 'FORBIDDEN',
  NOT_FOUND: 'NOT_FOUND',
  INVALID_STATE: 'INVALID_STATE',
  INSTALL_FAILED: 'INSTALL_FAILED',
  /** installPlugin with a spec npm would misread (a leading "-", control characters) or cannot parse. */
  INVALID_SPEC: 'INVALID_SPEC',
  /** installPlugin with a git spec (needs git and the package's prepare script). */
  UNSUPPORTED_SPEC: 'UNSUPPORTED_SPEC',
  /** installPlugin of an older version than the installed one, without allowDowngrade. */
  DOWNGRADE_REFUSED: 'DOWNGRADE_REFUSED',
  UNAVAILABLE: 'UNAVAILABLE',
  /** Too many prompt creations from one client in the window (services/rate-limit). */
  RATE_LIMITED: 'RATE_LIMITED',
  /** A `condition` outside the range its generator declares (sample). */
  CONDITION_OUT_OF_RANGE: 'CONDITION_OUT_OF_RANGE',
  /** A control parameter names a file or URL outside the plugin's assets and the admin's allow-list. */
  FORBIDDEN_ASSET: 'FORBIDDEN_ASSET',
  /** createPrompt while PROMPTGEN_MAX_QUEUED_PROMPTS prompts are already queued or training. */
  QUEUE_FULL: 'QUEUE_FULL',

  // --- the request itself refused (server/) -----------------------------
  /** A request that is not one GraphQL operation: not JSON, batched, a subscription over HTTP. */
  BAD_REQUEST: 'BAD_REQUEST',
  /** A body over PROMPTGEN_BODY_LIMIT. */
  PAYLOAD_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  /** More tokens than PROMPTGEN_MAX_QUERY_TOKENS (server/request-guard). */
  QUERY_TOO_LARGE: 'QUERY_TOO_LARGE',
  /** More field selections than PROMPTGEN_MAX_QUERY_FIELDS (server/request-guard). */
  TOO_MANY_FIELDS: 'TOO_MANY_FIELDS',
  /** More expensive mutations in one operation than PROMPTGEN_MAX_EXPENSIVE_PER_REQUEST (server/request-guard). */
  TOO_MANY_MUTATIONS: 'TOO_MANY_MUTATIONS',
  /** Nested deeper than PROMPTGEN_MAX_QUERY_DEPTH (server/guard-rails). */
  QUERY_TOO_DEEP: 'QUERY_TOO_DEEP',
  /** Estimated cost over PROMPTGEN_MAX_QUERY_COMPLEXITY (server/guard-rails). */
  QUERY_TOO_COMPLEX: 'QUERY_TOO_COMPLEX',
  // Apollo Server's own codes, which graphql-ws answers with too (server/graphql-server):
  /** The document does not parse. */
  GRAPHQL_PARSE_FAILED: 'GRAPHQL_PARSE_FAILED',
  /** The document does not validate against the schema (or GraphQL Armor's alias and directive limits). */
  GRAPHQL_VALIDATION_FAILED: 'GRAPHQL_VALIDATION_FAILED',
  /** No operation of the given operationName, or several and no name. */
  OPERATION_RESOLUTION_FAILURE: 'OPERATION_RESOLUTION_FAILURE',
  /** An automatic persisted query whose hash the server has not seen (the client resends the full query). */
  PERSISTED_QUERY_NOT_FOUND: 'PERSISTED_QUERY_NOT_FOUND',
  /** Anything unexpected, masked as "internal error (id …)" with the cause in the log (server/error-format). */
  INTERNAL_SERVER_ERROR: 'INTERNAL_SERVER_ERROR',
} as const;

/** One of the codes above: the type of every `UserError.code` and `extensions.code` the server sets. */
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];
