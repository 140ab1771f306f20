import { Field, ID, ObjectType } from 'type-graphql';
import { Node } from './node';
import { PluginSource, PluginStatus } from './enums';

@ObjectType('Plugin', {
  implements: Node,
  description: 'A plugin package providing generators and controls.',
})
export class Plugin extends Node {
  readonly __typename = 'Plugin';
  /** Table key (not exposed). */
  rowId!: string;
  @Field(() => ID) declare id: string;
  @Field({ description: 'npm package name' }) name!: string;
  @Field() version!: string;
  @Field(() => PluginSource) source!: PluginSource;
  @Field(() => PluginStatus) status!: PluginStatus;
  @Field(() => String, { nullable: true, description: 'Why it failed to load.' }) error!: string | null;
  @Field(() => String, { nullable: true, description: 'How it was installed (INSTALLED plugins).' }) spec!:
    string | null;
}
