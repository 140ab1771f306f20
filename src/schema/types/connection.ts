import { Field, Int, ObjectType } from 'type-graphql';
import { Prompt } from './prompt';
import { SampleSet } from './sample-set';

@ObjectType('PageInfo')
export class PageInfo {
  @Field() hasNextPage!: boolean;
  @Field(() => String, { nullable: true }) endCursor!: string | null;
}

@ObjectType('PromptEdge')
export class PromptEdge {
  @Field() cursor!: string;
  @Field(() => Prompt) node!: Prompt;
}

@ObjectType('PromptConnection')
export class PromptConnection {
  @Field(() => [PromptEdge]) edges!: PromptEdge[];
  @Field(() => [Prompt]) nodes!: Prompt[];
  @Field(() => PageInfo) pageInfo!: PageInfo;
  @Field(() => Int) totalCount!: number;
}

@ObjectType('SampleSetEdge')
export class SampleSetEdge {
  @Field() cursor!: string;
  @Field(() => SampleSet) node!: SampleSet;
}

@ObjectType('SampleSetConnection')
export class SampleSetConnection {
  @Field(() => [SampleSetEdge]) edges!: SampleSetEdge[];
  @Field(() => [SampleSet]) nodes!: SampleSet[];
  @Field(() => PageInfo) pageInfo!: PageInfo;
  @Field(() => Int) totalCount!: number;
}
