import { Field, ID, Int, ObjectType } from 'type-graphql';
import { Node } from './node';

@ObjectType('ImageShape')
export class ImageShape {
  @Field(() => Int) width!: number;
  @Field(() => Int) height!: number;
  @Field(() => Int) channels!: number;
}

@ObjectType('Generator', {
  implements: Node,
  description: 'A pre-trained generator G(z), or a trained prompt used as one.',
})
export class Generator extends Node {
  readonly __typename = 'Generator';
  rowId!: string;
  pluginRowId!: string | null;
  basePromptRowId!: string | null;
  @Field(() => ID) declare id: string;
  @Field({ description: 'Unique and stable, e.g. "mnist"; accepted wherever a generator ID is.' })
  name!: string;
  @Field() title!: string;
  @Field(() => String, { nullable: true }) description!: string | null;
  @Field(() => Int) latentDim!: number;
  @Field(() => ImageShape) output!: ImageShape;
  @Field({ description: 'False once its plugin is uninstalled; kept for the prompts that used it.' })
  available!: boolean;
}
