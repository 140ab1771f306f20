/** Relations between types, resolved from row keys. */
import { Arg, Ctx, FieldResolver, Int, Resolver, Root } from 'type-graphql';
import { PROMPT_CURVE, SAMPLE_SET_GRID } from '../../artifacts/urls';
import type { GraphQLContext } from '../context';
import { toControl, toGenerator, toImage, toPlugin, toProgress, toPrompt, toSampleSet } from '../mappers';
import { TrainingProgress } from '../types/progress';
import { SampleSetConnection } from '../types/connection';
import { Control } from '../types/control';
import { Generator } from '../types/generator';
import { Plugin } from '../types/plugin';
import { ControlTerm, Prompt } from '../types/prompt';
import { Image, SampleSet } from '../types/sample-set';
import { ClassifierShift, sideEffectsOf } from '../types/side-effects';
import { pageSize } from './query';
import { generatorById, generatorOfPrompt } from '../../catalog/find';

@Resolver(() => Generator)
export class GeneratorFields {
  @FieldResolver(() => Plugin, { nullable: true, description: 'Null for a prompt used as a generator.' })
  async plugin(@Root() g: Generator, @Ctx() { services: { store } }: GraphQLContext): Promise<Plugin | null> {
    const row = g.pluginRowId ? await store.pluginById(g.pluginRowId) : null;
    return row && toPlugin(row);
  }

  @FieldResolver(() => Prompt, {
    nullable: true,
    description: 'Set when this generator is a trained prompt (iterative control).',
  })
  async basePrompt(
    @Root() g: Generator,
    @Ctx() { services: { store } }: GraphQLContext,
  ): Promise<Prompt | null> {
    const row = g.basePromptRowId ? await store.promptById(g.basePromptRowId) : null;
    return row && toPrompt(row);
  }
}

@Resolver(() => Control)
export class ControlFields {
  @FieldResolver(() => Plugin)
  async plugin(@Root() c: Control, @Ctx() { services: { store } }: GraphQLContext): Promise<Plugin> {
    const row = c.pluginRowId ? await store.pluginById(c.pluginRowId) : null;
    if (!row) throw new Error(`control ${c.name} has lost its plugin record`);
    return toPlugin(row);
  }
}

@Resolver(() => Plugin)
export class PluginFields {
  @FieldResolver(() => [Generator])
  async generators(@Root() p: Plugin, @Ctx() { services: { store } }: GraphQLContext): Promise<Generator[]> {
    return (await store.generatorsOfPlugin(p.rowId)).map(toGenerator);
  }

  @FieldResolver(() => [Control])
  async controls(@Root() p: Plugin, @Ctx() { services: { store } }: GraphQLContext): Promise<Control[]> {
    return (await store.controlsOfPlugin(p.rowId)).map(toControl);
  }
}

@Resolver(() => ControlTerm)
export class ControlTermFields {
  @FieldResolver(() => Control)
  async control(@Root() t: ControlTerm, @Ctx() { services: { store } }: GraphQLContext): Promise<Control> {
    const row = await store.controlById(t.stored.controlId);
    if (!row) throw new Error(`control ${t.stored.controlName} no longer exists`);
    return toControl(row);
  }
}

@Resolver(() => Prompt)
export class PromptFields {
  @FieldResolver(() => Generator)
  async generator(@Root() p: Prompt, @Ctx() { services: { store } }: GraphQLContext): Promise<Generator> {
    const row = await generatorById(store, p.generatorRowId);
    if (!row) throw new Error(`prompt ${p.id} has lost its generator`);
    return toGenerator(row);
  }

  @FieldResolver(() => Generator, {
    nullable: true,
    description: 'Set once SUCCEEDED: use it as a base generator.',
  })
  async asGenerator(
    @Root() p: Prompt,
    @Ctx() { services: { store } }: GraphQLContext,
  ): Promise<Generator | null> {
    if (p.status !== 'SUCCEEDED') return null;
    const row = await generatorOfPrompt(store, p.rowId);
    return row && toGenerator(row);
  }

  @FieldResolver(() => String, {
    description:
      "PNG of the training curves so far: loss, log-det, then each control's mean energy (404 before the first step).",
  })
  curveUrl(@Root() p: Prompt, @Ctx() { baseUrl }: GraphQLContext): string {
    return PROMPT_CURVE.url(baseUrl, p.rowId);
  }

  @FieldResolver(() => [ClassifierShift], {
    description:
      "Side-effect audit after training: for every named classifier that fits the generator's output (and those the prompt's controls use), " +
      'the class marginals of the base generator and of the prompt on the same ε, largest shift first. Empty before training ends.',
  })
  sideEffects(@Root() p: Prompt): ClassifierShift[] {
    return sideEffectsOf(p.metrics);
  }

  @FieldResolver(() => [TrainingProgress], {
    description: 'Every reported training step, oldest first (for curves).',
  })
  async history(
    @Root() p: Prompt,
    @Ctx() { services: { store } }: GraphQLContext,
  ): Promise<TrainingProgress[]> {
    return (await store.progressHistory(p.rowId)).map((point) => toProgress(p.rowId, 'TRAINING', point.data)); // recorded while training
  }

  @FieldResolver(() => SampleSetConnection, { description: 'Previews and samples, newest first.' })
  async sampleSets(
    @Root() p: Prompt,
    @Arg('first', () => Int, { nullable: true }) first: number | null,
    @Arg('after', () => String, { nullable: true }) after: string | null,
    @Ctx() { services: { store } }: GraphQLContext,
  ): Promise<SampleSetConnection> {
    const page = await store.listSampleSets(p.rowId, pageSize(first), after);
    const nodes = page.rows.map(toSampleSet);
    return {
      edges: nodes.map((node, i) => ({ node, cursor: page.cursors[i]! })),
      nodes,
      pageInfo: { hasNextPage: page.hasNextPage, endCursor: page.cursors.at(-1) ?? null },
      totalCount: page.totalCount,
    };
  }
}

@Resolver(() => SampleSet)
export class SampleSetFields {
  @FieldResolver(() => Prompt, { nullable: true })
  async prompt(@Root() s: SampleSet, @Ctx() { services: { store } }: GraphQLContext): Promise<Prompt | null> {
    const row = s.promptRowId ? await store.promptById(s.promptRowId) : null;
    return row && toPrompt(row);
  }

  @FieldResolver(() => Generator)
  async generator(@Root() s: SampleSet, @Ctx() { services: { store } }: GraphQLContext): Promise<Generator> {
    const row = await generatorById(store, s.generatorRowId);
    if (!row) throw new Error(`sample set ${s.id} has lost its generator`);
    return toGenerator(row);
  }

  @FieldResolver(() => String, { description: 'All images of the set in one PNG grid.' })
  gridUrl(@Root() s: SampleSet, @Ctx() { baseUrl }: GraphQLContext): string {
    return SAMPLE_SET_GRID.url(baseUrl, s.rowId);
  }

  @FieldResolver(() => [Image])
  async images(
    @Root() s: SampleSet,
    @Ctx() { services: { store }, baseUrl }: GraphQLContext,
  ): Promise<Image[]> {
    return (await store.imagesOfSet(s.rowId)).map((row) => toImage(row, baseUrl));
  }
}
