import { GraphQLError } from 'graphql';
import { ErrorCode } from '../shared/error-code';

// The GraphQL errors resolvers throw (rather than answer as userErrors); their codes come from shared/error-code.

export function forbidden(what: string): GraphQLError {
  return new GraphQLError(`${what} requires the admin token (Authorization: Bearer <token>)`, {
    extensions: { code: ErrorCode.FORBIDDEN, http: { status: 403 } },
  });
}

export function badInput(message: string, field?: string[]): GraphQLError {
  return new GraphQLError(message, { extensions: { code: ErrorCode.BAD_USER_INPUT, field } });
}
