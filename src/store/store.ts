/**
 * Every query the API and the workers make, in one place: callers (services,
 * resolvers, jobs, the plugin admin) call named methods of `Store`; nothing
 * outside src/store builds SQL. A prompt's status changes only through the
 * transitions in prompt-queries.ts, which follow the table in prompt-status.ts.
 *
 * The queries live in one class per kind of row, each in its own file:
 *
 *   catalog-queries.ts  plugins, generators, controls, plugin tarballs
 *   prompt-queries.ts   prompts, their transitions, progress, checkpoints
 *   sample-queries.ts   sample sets and images
 *
 * `Store` is all of them on one object (TypeScript's documented mixin
 * pattern: the interface below declares the methods, `mixIn` copies them onto
 * the prototype), so a caller holds one `store` and a method keeps its name
 * whichever file it lives in. (pg-boss keeps its own queue SQL; that is not ours.)
 */
import { CatalogQueries } from './catalog-queries';
import { PromptQueries } from './prompt-queries';
import { Queries } from './queries';
import { SampleQueries } from './sample-queries';

export type { Page } from './pagination';
export type { CatalogPlugin, InstallInfo } from './catalog-queries';
export type { NewPrompt, PromptEnd, TrainedGenerator } from './prompt-queries';
export type { ExecuteSql } from './queries';

// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging -- the mixin pattern: the interface below declares what mixIn adds
export class Store extends Queries {
  /** Resolves when the database answers (readiness). */
  async ping(): Promise<void> {
    await this.dataSource.query('SELECT 1');
  }
}

// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging -- the mixin pattern: the class gets these methods below
export interface Store extends CatalogQueries, PromptQueries, SampleQueries {}

function mixIn(target: typeof Queries, sources: Array<typeof Queries>): void {
  for (const source of sources) {
    for (const name of Object.getOwnPropertyNames(source.prototype)) {
      if (name === 'constructor') continue;
      if (Object.prototype.hasOwnProperty.call(target.prototype, name))
        throw new Error(`Store: two query groups define ${name}`);
      Object.defineProperty(target.prototype, name, Object.getOwnPropertyDescriptor(source.prototype, name)!);
    }
  }
}
mixIn(Store, [CatalogQueries, PromptQueries, SampleQueries]);
