import { Field, Float, ID, InputType, Int, ObjectType } from 'type-graphql';
import { JSONScalar } from '../scalars';
import { Prompt } from './prompt';
import { SampleSet } from './sample-set';
import { Plugin } from './plugin';
import { UserError } from './user-error';

@InputType('ControlTermInput')
export class ControlTermInput {
  @Field(() => ID, { description: "A control's id or name." }) control!: string;
  @Field(() => Float, {
    nullable: true,
    description: "λ, the energy's weight (inverse temperature); default 1.",
  })
  weight?: number | null;
  @Field(() => JSONScalar, { nullable: true, description: "Validated against the control's paramsSchema." })
  params?: unknown;
}

@InputType('TrainingOptionsInput')
export class TrainingOptionsInput {
  @Field(() => Int, { nullable: true }) steps?: number | null;
  @Field(() => Int, { nullable: true }) batchSize?: number | null;
  @Field(() => Float, { nullable: true }) learningRate?: number | null;
  @Field(() => Int, { nullable: true }) flowBlocks?: number | null;
  @Field(() => Int, { nullable: true }) hiddenUnits?: number | null;
  @Field(() => Int, { nullable: true }) seed?: number | null;
  @Field(() => Int, { nullable: true }) previewEvery?: number | null;
}

@InputType('CreatePromptInput')
export class CreatePromptInput {
  @Field(() => ID, { description: "A generator's id or name." }) generator!: string;
  @Field(() => [ControlTermInput], { description: 'Composed: energies are summed.' })
  controls!: ControlTermInput[];
  @Field(() => TrainingOptionsInput, { nullable: true }) training?: TrainingOptionsInput | null;
  @Field(() => String, { nullable: true }) name?: string | null;
}

@ObjectType('CreatePromptPayload')
export class CreatePromptPayload {
  @Field(() => Prompt, { nullable: true }) prompt!: Prompt | null;
  @Field(() => [UserError]) userErrors!: UserError[];
}

@InputType('CancelPromptInput')
export class CancelPromptInput {
  @Field(() => ID) id!: string;
}

@ObjectType('CancelPromptPayload')
export class CancelPromptPayload {
  @Field(() => Prompt, { nullable: true }) prompt!: Prompt | null;
  @Field(() => [UserError]) userErrors!: UserError[];
}

@InputType('SampleInput')
export class SampleInput {
  @Field(() => ID, { nullable: true, description: 'Sample a trained prompt ...' }) prompt?: string | null;
  @Field(() => ID, { nullable: true, description: '... or the bare generator (exactly one of the two).' })
  generator?: string | null;
  @Field(() => Int, { nullable: true, description: 'Default 16.' }) count?: number | null;
  @Field(() => Int, { nullable: true }) seed?: number | null;
  @Field(() => Float, { nullable: true, description: 'Scales ε; default 1.' }) truncation?: number | null;
  @Field(() => [Float], { nullable: true, description: 'For conditional prompts.' }) condition?:
    number[] | null;
}

@ObjectType('SamplePayload')
export class SamplePayload {
  @Field(() => SampleSet, { nullable: true }) sampleSet!: SampleSet | null;
  @Field(() => [UserError]) userErrors!: UserError[];
}

@InputType('InstallPluginInput')
export class InstallPluginInput {
  @Field({ description: 'npm package spec, local directory, or .tgz path.' }) spec!: string;
  @Field(() => Boolean, {
    nullable: true,
    defaultValue: false,
    description:
      'Replace an installed version with an older one. Without it such an install is refused (code DOWNGRADE_REFUSED).',
  })
  allowDowngrade?: boolean | null;
}

@ObjectType('InstallPluginPayload')
export class InstallPluginPayload {
  @Field(() => Plugin, { nullable: true }) plugin!: Plugin | null;
  @Field(() => [UserError]) userErrors!: UserError[];
}

@InputType('UninstallPluginInput')
export class UninstallPluginInput {
  @Field() name!: string;
}

@ObjectType('UninstallPluginPayload')
export class UninstallPluginPayload {
  @Field() removed!: boolean;
  @Field(() => [UserError]) userErrors!: UserError[];
}
