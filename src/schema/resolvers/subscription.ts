/**
 * Subscriptions: each first delivers the latest stored state (so a client
 * that joins late is not left waiting), then live events from the bus for
 * that prompt only. Both complete when the prompt ends: sampleBatches also
 * listens to the prompt's progress topic for the terminal status, which the
 * worker publishes after its last preview (its writes are serialised), so the
 * last batch is delivered before the stream completes.
 */
import { Arg, Ctx, ID, Resolver, Root, Subscription } from 'type-graphql';
import type { GraphQLContext } from '../context';
import { badInput } from '../errors';
import { idOf } from '../../shared/global-id';
import { toProgress, toSampleSet } from '../mappers';
import { TrainingProgress } from '../types/progress';
import { SampleSet } from '../types/sample-set';
import { Channel } from '../../events/channel';
import { topics } from '../../events/event-bus';
import { isTerminal, progressEventOf, type ProgressEvent } from '../../store/prompt-status';

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
  trainingProgress(
    @Arg('promptId', () => ID) _promptId: string,
    @Root() event: ProgressEvent,
  ): TrainingProgress {
    return toProgress(event.promptId, event.status, event.progress);
  }

  @Subscription(() => SampleSet, {
    description:
      'Preview batches while training; the first event is the latest preview, if any; completes when the prompt ends.',
    subscribe: async ({ args, context }) => {
      const { services } = context as GraphQLContext;
      const promptId = idOf('Prompt', args.promptId as string);
      if (!promptId) throw badInput('unknown prompt id', ['promptId']);
      // Subscribe before reading the state, so no event falls between the two.
      // After an outage of the bus, the latest preview and status are delivered again.
      const samples = services.events.subscribe<SamplesEvent>(topics.samples(promptId), {
        resync: async () => {
          const preview = await services.store.latestPreview(promptId);
          return preview ? { sampleSetId: preview.id } : null;
        },
      });
      const progress = services.events.subscribe<ProgressEvent>(topics.progress(promptId), {
        resync: async () => {
          const latest = await services.store.promptById(promptId);
          return latest ? progressEventOf(latest) : null;
        },
      });
      const out = new Channel<SamplesEvent>(() => {
        samples.close();
        progress.close();
      });
      try {
        const row = await services.store.promptById(promptId);
        if (!row) throw badInput('unknown prompt id', ['promptId']);
        const preview = await services.store.latestPreview(promptId);
        if (preview) out.push({ sampleSetId: preview.id });
        if (isTerminal(row.status)) {
          out.close(); // what is buffered (the last batch) is still delivered, then the stream completes
          return out;
        }
      } catch (err) {
        out.close();
        throw err;
      }
      void pipe(samples, (e) => out.push(e));
      void pipe(progress, (e) => {
        // A turn later, so a batch that arrived in the same turn is handed over first.
        if (isTerminal(e.status)) setImmediate(() => out.close());
      });
      return out;
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

/** Feeds every value of `source` to `sink` until the source ends. */
async function pipe<T>(source: AsyncIterable<T>, sink: (value: T) => void): Promise<void> {
  for await (const value of source) sink(value);
}
