import { GraphQLError } from 'graphql';

/** Machine-readable error codes used in `extensions.code` and `UserError.code`. */
export const ErrorCode = {
  BAD_USER_INPUT: 'BAD_USER_INPUT',
  FORBIDDEN: 'FORBIDDEN',
  NOT_FOUND: 'NOT_FOUND',
  INVALID_STATE: 'INVALID_STATE',
  INSTALL_FAILED: 'INSTALL_FAILED',
  /** installPlugin of an older version than the installed one, without allowDowngrade. */
  DOWNGRADE_REFUSED: 'DOWNGRADE_REFUSED',
  UNAVAILABLE: 'UNAVAILABLE',
} as const;

export function forbidden(what: string): GraphQLError {
  return new GraphQLError(`${what} requires the admin token (Authorization: Bearer <token>)`, {
    extensions: { code: ErrorCode.FORBIDDEN, http: { status: 403 } },
  });
}

export function badInput(message: string, field?: string[]): GraphQLError {
  return new GraphQLError(message, { extensions: { code: ErrorCode.BAD_USER_INPUT, field } });
}
