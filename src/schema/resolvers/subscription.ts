/**
 * Subscriptions: each first delivers the latest stored state (so a client
 * that joins late is not left waiting), then live events from the bus for
 * that prompt only; trainingProgress completes when the prompt ends.
 */
import { Arg, Ctx, ID, Resolver, Root, Subscription } from 'type-graphql';
import type { GraphQLContext } from '../context';
import { badInput } from '../errors';
import { idOf } from '../global-id';
import { toProgress, toSampleSet } from '../mappers';
import { TrainingProgress } from '../types/progress';
import { SampleSet } from '../types/sample-set';
import { topics } from '../../jobs/event-bus';
import { isTerminal, progressEventOf, type ProgressEvent } from '../../services/prompts';
import type { SampleSetRow } from '../../store/entities';

interface SamplesEvent {
  sampleSetId: string;
}

@Resolver()
export class SubscriptionResolver {
  @Subscription(() => TrainingProgress, {
    description: 'Training progress of one prompt; the first event is the latest state.',
    subscribe: async ({ args, context }) => {
      const { services } = context as GraphQLContext;
      const promptId = idOf('Prompt', args.promptId as string);
      if (!promptId) throw badInput('unknown prompt id', ['promptId']);
      // Subscribe before reading the state, so no event falls between the two. After an
      // outage of the bus, the latest stored state is delivered again (events sent meanwhile are lost).
      const channel = services.events.subscribe<ProgressEvent>(topics.progress(promptId), {
        resync: async () => {
          const latest = await services.store.promptById(promptId);
          return latest ? progressEventOf(latest) : null;
        },
      });
      const row = await services.store.promptById(promptId);
      if (!row) {
        channel.close();
        throw badInput('unknown prompt id', ['promptId']);
      }
      channel.unshift(progressEventOf(row));
      return channel.endAfter((e) => isTerminal(e.status));
    },
  })
  trainingProgress(@Arg('promptId', () => ID) _promptId: string, @Root() event: ProgressEvent): TrainingProgress {
    return toProgress(event.promptId, event.status, event.progress);
  }

  @Subscription(() => SampleSet, {
    description: 'Preview batches while training; the first event is the latest preview, if any.',
    subscribe: async ({ args, context }) => {
      const { services } = context as GraphQLContext;
      const promptId = idOf('Prompt', args.promptId as string);
      if (!promptId) throw badInput('unknown prompt id', ['promptId']);
      const latestPreview = async () => {
        const latest = await services.store.listSampleSets(promptId, 1, null);
        const preview = latest.rows.find((s: SampleSetRow) => s.kind === 'PREVIEW');
        return preview ? { sampleSetId: preview.id } : null;
      };
      const channel = services.events.subscribe<SamplesEvent>(topics.samples(promptId), { resync: latestPreview });
      const row = await services.store.promptById(promptId);
      if (!row) {
        channel.close();
        throw badInput('unknown prompt id', ['promptId']);
      }
      const preview = await latestPreview();
      if (preview) channel.unshift(preview);
      return channel;
    },
  })
  async sampleBatches(
    @Arg('promptId', () => ID) _promptId: string,
    @Root() event: SamplesEvent,
    @Ctx() context: GraphQLContext,
  ): Promise<SampleSet> {
    const row = await context.services.store.sampleSetById(event.sampleSetId);
    if (!row) throw new Error('the sample set was removed');
    return toSampleSet(row);
  }
}
