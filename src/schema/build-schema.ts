import 'reflect-metadata';
import { buildSchema } from 'type-graphql';
import type { GraphQLSchema } from 'graphql';
import { printSchema } from 'graphql';
import { QueryResolver } from './resolvers/query';
import { MutationResolver } from './resolvers/mutation';
import { SubscriptionResolver } from './resolvers/subscription';
import {
  ControlFields,
  ControlTermFields,
  GeneratorFields,
  PluginFields,
  PromptFields,
  SampleSetFields,
} from './resolvers/fields';
import { Control } from './types/control';
import { Generator } from './types/generator';
import { Plugin } from './types/plugin';
import { Prompt } from './types/prompt';
import { SampleSet } from './types/sample-set';

let built: Promise<GraphQLSchema> | undefined;

/** The executable schema (built once per process). */
export function createSchema(): Promise<GraphQLSchema> {
  built ??= buildSchema({
    resolvers: [
      QueryResolver,
      MutationResolver,
      SubscriptionResolver,
      GeneratorFields,
      ControlFields,
      PluginFields,
      ControlTermFields,
      PromptFields,
      SampleSetFields,
    ],
    // Types reachable only through the Node interface must be listed.
    orphanedTypes: [Generator, Control, Plugin, Prompt, SampleSet],
    // type-graphql insists on a PubSub, but every @Subscription here brings its own
    // `subscribe` over the EventBus (to send the latest state first), so topics are never used.
    pubSub: {
      publish() {
        throw new Error('publish through the EventBus, not type-graphql topics');
      },
      subscribe() {
        throw new Error('subscribe through the EventBus, not type-graphql topics');
      },
    },
    validate: false,
    emitSchemaFile: false,
  });
  return built;
}

/** The SDL committed as schema.graphql (a test fails when it drifts). */
export async function schemaSdl(): Promise<string> {
  return printSchema(await createSchema()) + '\n';
}
