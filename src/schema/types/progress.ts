import { Field, Float, ID, Int, ObjectType } from 'type-graphql';
import { PromptStatus } from './enums';
import { DateTimeScalar } from '../scalars';

@ObjectType('EnergyValue')
export class EnergyValue {
  @Field() control!: string;
  @Field(() => Float) value!: number;
}

@ObjectType('TrainingProgress')
export class TrainingProgress {
  @Field(() => ID) promptId!: string;
  @Field(() => PromptStatus) status!: PromptStatus;
  @Field(() => Int) step!: number;
  @Field(() => Int) totalSteps!: number;
  @Field(() => Float, { nullable: true }) loss!: number | null;
  @Field(() => Float, { nullable: true }) logDet!: number | null;
  @Field(() => [EnergyValue], { description: 'One per control term, mean over the batch, unweighted.' })
  energies!: EnergyValue[];
  @Field(() => Float, { nullable: true }) stepsPerSecond!: number | null;
  @Field(() => Float, { nullable: true }) etaSeconds!: number | null;
  @Field(() => Float, { nullable: true, description: 'Gradient norm before clipping.' }) gradNorm!:
    number | null;
  @Field(() => DateTimeScalar) at!: Date;
}
