import { Field, Float, ID, Int, ObjectType } from 'type-graphql';
import { Node } from './node';
import { PromptStatus } from './enums';
import { DateTimeScalar, JSONScalar } from '../scalars';
import { TrainingProgress } from './progress';
import type { StoredControlTerm } from '../../store/entities';

@ObjectType('TrainingOptions')
export class TrainingOptions {
  @Field(() => Int) steps!: number;
  @Field(() => Int) batchSize!: number;
  @Field(() => Float) learningRate!: number;
  @Field(() => Int) flowBlocks!: number;
  @Field(() => Int) hiddenUnits!: number;
  @Field(() => Int) seed!: number;
  @Field(() => Int) previewEvery!: number;
}

@ObjectType('ControlTerm')
export class ControlTerm {
  stored!: StoredControlTerm;
  @Field(() => Float) weight!: number;
  @Field(() => JSONScalar, { nullable: true }) params!: unknown;
  @Field(() => String, {
    nullable: true,
    description: "Version of the control's plugin this prompt was created with.",
  })
  pluginVersion!: string | null;
}

@ObjectType('Prompt', {
  implements: Node,
  description: 'A trained (or training) flow that steers a generator with composed controls.',
})
export class Prompt extends Node {
  readonly __typename = 'Prompt';
  rowId!: string;
  generatorRowId!: string;
  @Field(() => ID) declare id: string;
  @Field(() => String, { nullable: true }) name!: string | null;
  @Field(() => PromptStatus) status!: PromptStatus;
  @Field(() => [ControlTerm]) controls!: ControlTerm[];
  @Field(() => TrainingOptions) training!: TrainingOptions;
  @Field(() => TrainingProgress, { nullable: true, description: 'The latest progress.' })
  progress!: TrainingProgress | null;
  @Field(() => JSONScalar, { nullable: true, description: 'Evaluation after training.' }) metrics!: Record<
    string,
    unknown
  > | null;
  @Field(() => JSONScalar, { description: 'Plugin name → version this prompt was created with.' })
  pluginVersions!: Record<string, string>;
  @Field(() => String, { nullable: true }) error!: string | null;
  @Field(() => DateTimeScalar) createdAt!: Date;
  @Field(() => DateTimeScalar, { nullable: true }) startedAt!: Date | null;
  @Field(() => DateTimeScalar, { nullable: true }) finishedAt!: Date | null;
}
