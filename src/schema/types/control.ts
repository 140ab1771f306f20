import { Field, ID, Int, ObjectType } from 'type-graphql';
import { Node } from './node';
import { JSONScalar } from '../scalars';

@ObjectType('Control', {
  implements: Node,
  description: 'An energy over images, e.g. a classifier target or a text prompt.',
})
export class Control extends Node {
  readonly __typename = 'Control';
  rowId!: string;
  pluginRowId!: string | null;
  @Field(() => ID) declare id: string;
  @Field({ description: 'Unique, e.g. "classifier", "debias", "clip-text".' }) name!: string;
  @Field() title!: string;
  @Field(() => String, { nullable: true }) description!: string | null;
  @Field(() => JSONScalar, { description: 'JSON Schema of the params a ControlTermInput takes.' })
  paramsSchema!: Record<string, unknown>;
  @Field(() => Int, { nullable: true, description: 'Non-null: the control makes the flow conditional.' })
  conditionDim!: number | null;
  @Field({ description: 'The energy compares G(f(ε; ρ)) with G(f(ε; 0)) (e.g. identity keeping).' })
  paired!: boolean;
  @Field() available!: boolean;
}
