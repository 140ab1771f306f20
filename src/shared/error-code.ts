/**
 * Machine-readable error codes, used in `extensions.code` and `UserError.code`.
 * They sit below every layer because services, the runtime and the schema all
 * return them; one list means a new code is added here, where a client author
 * can find every code the server gives.
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
} as const;

/** One of the codes above: the type of every `UserError.code` the services return. */
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];
