import { Arg, Ctx, ID, Int, Query, Resolver } from 'type-graphql';
import type { GraphQLContext } from '../context';
import { badInput } from '../errors';
import { fromGlobalId, idOf } from '../../shared/global-id';
import { toControl, toGenerator, toPlugin, toPrompt, toSampleSet } from '../mappers';
import { Control } from '../types/control';
import { PromptConnection } from '../types/connection';
import { GeneratorKind, PromptStatus } from '../types/enums';
import { Generator } from '../types/generator';
import { Node } from '../types/node';
import { Plugin } from '../types/plugin';
import { Prompt } from '../types/prompt';
import { SampleSet } from '../types/sample-set';
import { ServerInfo } from '../types/server-info';
import { findControl, findGenerator, generatorById } from '../../catalog/find';

export const MAX_PAGE = 100;

export function pageSize(first: number | null | undefined, fallback = 20): number {
  const n = first ?? fallback;
  if (!Number.isInteger(n) || n < 0 || n > MAX_PAGE)
    throw badInput(`first must be an integer from 0 to ${MAX_PAGE}`, ['first']);
  return n;
}

@Resolver()
export class QueryResolver {
  @Query(() => Node, { nullable: true, description: 'Any object by its global id.' })
  async node(
    @Arg('id', () => ID) id: string,
    @Ctx() { services: { store } }: GraphQLContext,
  ): Promise<Node | null> {
    const parsed = fromGlobalId(id);
    if (!parsed) return null;
    switch (parsed.type) {
      case 'Generator': {
        const row = await generatorById(store, parsed.id);
        return row && toGenerator(row);
      }
      case 'Control': {
        const row = await store.controlById(parsed.id);
        return row && toControl(row);
      }
      case 'Plugin': {
        const row = await store.pluginById(parsed.id);
        return row && toPlugin(row);
      }
      case 'Prompt': {
        const row = await store.promptById(parsed.id);
        return row && toPrompt(row);
      }
      case 'SampleSet': {
        const row = await store.sampleSetById(parsed.id);
        return row && toSampleSet(row);
      }
    }
  }

  @Query(() => [Generator], {
    description:
      'Available generators, by name: plugin generators and trained prompts, or only one kind. A trained prompt whose base generator is gone is not listed.',
  })
  async generators(
    @Arg('kind', () => GeneratorKind, {
      nullable: true,
      description: 'BASE: plugin generators only; PROMPT: trained prompts only; omitted: both.',
    })
    kind: GeneratorKind | null | undefined,
    @Ctx() { services: { store } }: GraphQLContext,
  ): Promise<Generator[]> {
    return (await store.listOfferedGenerators(kind ?? null)).map(toGenerator);
  }

  @Query(() => Generator, { nullable: true, description: 'By id or name.' })
  async generator(
    @Arg('id', () => ID) id: string,
    @Ctx() { services: { store } }: GraphQLContext,
  ): Promise<Generator | null> {
    const row = await findGenerator(store, id);
    return row && toGenerator(row);
  }

  @Query(() => [Control], { description: 'Available controls, by name.' })
  async controls(@Ctx() { services: { store } }: GraphQLContext): Promise<Control[]> {
    return (await store.listControls()).map(toControl);
  }

  @Query(() => Control, { nullable: true, description: 'By id or name.' })
  async control(
    @Arg('id', () => ID) id: string,
    @Ctx() { services: { store } }: GraphQLContext,
  ): Promise<Control | null> {
    const row = await findControl(store, id);
    return row && toControl(row);
  }

  @Query(() => ServerInfo, { description: 'The tensor backend (and GPU adapter) this process computes on.' })
  serverInfo(@Ctx() { services }: GraphQLContext): ServerInfo {
    const e = services.engine;
    const a = e?.adapter;
    return {
      backend: e?.backend ?? null,
      adapter: a
        ? {
            vendor: a.vendor,
            architecture: a.architecture,
            device: a.device,
            description: a.description,
            software: a.software,
            memoryBudgetMb: Math.round(a.memoryBudgetBytes / 2 ** 20),
          }
        : null,
    };
  }

  @Query(() => [Plugin])
  async plugins(@Ctx() { services: { store } }: GraphQLContext): Promise<Plugin[]> {
    return (await store.listPlugins()).map(toPlugin);
  }

  @Query(() => Prompt, { nullable: true })
  async prompt(
    @Arg('id', () => ID) id: string,
    @Ctx() { services: { store } }: GraphQLContext,
  ): Promise<Prompt | null> {
    const rowId = idOf('Prompt', id);
    const row = rowId ? await store.promptById(rowId) : null;
    return row && toPrompt(row);
  }

  @Query(() => PromptConnection, { description: 'Newest first.' })
  async prompts(
    @Arg('first', () => Int, { nullable: true }) first: number | null,
    @Arg('after', () => String, { nullable: true }) after: string | null,
    @Arg('status', () => PromptStatus, { nullable: true }) status: PromptStatus | null,
    @Ctx() { services: { store } }: GraphQLContext,
  ): Promise<PromptConnection> {
    const page = await store.listPrompts({ first: pageSize(first), after, status });
    const nodes = page.rows.map(toPrompt);
    return {
      edges: nodes.map((node, i) => ({ node, cursor: page.cursors[i]! })),
      nodes,
      pageInfo: { hasNextPage: page.hasNextPage, endCursor: page.cursors.at(-1) ?? null },
      totalCount: page.totalCount,
    };
  }

  @Query(() => SampleSet, { nullable: true })
  async sampleSet(
    @Arg('id', () => ID) id: string,
    @Ctx() { services: { store } }: GraphQLContext,
  ): Promise<SampleSet | null> {
    const rowId = idOf('SampleSet', id);
    const row = rowId ? await store.sampleSetById(rowId) : null;
    return row && toSampleSet(row);
  }
}
