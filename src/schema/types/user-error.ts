import { Field, ObjectType } from 'type-graphql';
import type { ErrorCode } from '../../shared/error-code';

@ObjectType('UserError', { description: 'A problem with the input that the client can fix.' })
export class UserError {
  @Field(() => [String], {
    nullable: true,
    description: 'Path to the input field at fault, e.g. ["controls", "0", "params", "classes"].',
  })
  field!: string[] | null;
  @Field() message!: string;
  // A String in the schema (clients accept codes added later), an ErrorCode here: the server sets only known codes.
  @Field(() => String, {
    description: 'Machine-readable: BAD_USER_INPUT, NOT_FOUND, INVALID_STATE, INSTALL_FAILED, ...',
  })
  code!: ErrorCode;

  static of(code: ErrorCode, message: string, field: string[] | null = null): UserError {
    return Object.assign(new UserError(), { code, message, field });
  }
}
