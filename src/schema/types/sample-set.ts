import { Field, Float, ID, Int, ObjectType } from 'type-graphql';
import { Node } from './node';
import { SampleSetKind } from './enums';
import { DateTimeScalar } from '../scalars';

@ObjectType('Image')
export class Image {
  rowId!: string;
  @Field(() => Int) index!: number;
  @Field({ description: 'Serves image/png.' }) url!: string;
  @Field(() => Int) width!: number;
  @Field(() => Int) height!: number;
}

@ObjectType('SampleSet', { implements: Node, description: 'A batch of images from a generator or a prompt.' })
export class SampleSet extends Node {
  readonly __typename = 'SampleSet';
  rowId!: string;
  promptRowId!: string | null;
  generatorRowId!: string;
  @Field(() => ID) declare id: string;
  @Field(() => SampleSetKind) kind!: SampleSetKind;
  @Field(() => Int, { nullable: true, description: 'Training step, for previews.' }) step!: number | null;
  @Field(() => Int, { nullable: true }) seed!: number | null;
  @Field(() => Float) truncation!: number;
  @Field(() => [Float], { nullable: true }) condition!: number[] | null;
  @Field(() => Int) count!: number;
  @Field(() => DateTimeScalar) createdAt!: Date;
}
