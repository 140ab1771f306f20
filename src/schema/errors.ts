import { GraphQLError } from 'graphql';
import { ErrorCode } from '../shared/error-code';

// The codes live in shared/ (the services return them too); re-exported for the schema.
export { ErrorCode };

export function forbidden(what: string): GraphQLError {
  return new GraphQLError(`${what} requires the admin token (Authorization: Bearer <token>)`, {
    extensions: { code: ErrorCode.FORBIDDEN, http: { status: 403 } },
  });
}

export function badInput(message: string, field?: string[]): GraphQLError {
  return new GraphQLError(message, { extensions: { code: ErrorCode.BAD_USER_INPUT, field } });
}
