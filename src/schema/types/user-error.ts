import { Field, ObjectType } from 'type-graphql';
import type { ErrorCode } from '../../shared/error-code';

@ObjectType('UserError', { description: 'A problem with the input that the client can fix.' })
export class UserError {
  @Field(() => [String], { nullable: true, description: 'Path to the input field at fault, e.g. ["controls", "0", "params", "classes"].' })
  field!: string[] | null;
  @Field() message!: string;
  @Field({ description: 'Machine-readable: BAD_USER_INPUT, NOT_FOUND, INVALID_STATE, INSTALL_FAILED, ...' })
  code!: string;

  // The field stays a String in the schema (clients accept codes added later); the
  // constructor takes only known codes.
  static of(code: ErrorCode, message: string, field: string[] | null = null): UserError {
    return Object.assign(new UserError(), { code, message, field });
  }
}
