import type { Config } from '../shared/config';
import type { EventBus } from '../events/event-bus';
import type { Store } from '../store/store';
import type { PromptService } from './prompts';
import type { SampleService } from './samples';
import type { PluginAdmin } from './plugin-admin';
import type { RateLimiter } from './rate-limit';
import type { GpuAdapter } from '../engine/webgpu';

/** Everything the GraphQL resolvers and the HTTP routes use. */
export interface Services {
  config: Config;
  store: Store;
  events: EventBus;
  prompts: PromptService;
  /** null where this process runs no tensor runtime (not yet started or disabled). */
  samples: SampleService | null;
  plugins: PluginAdmin | null;
  /** Per-client limit on expensive mutations; absent: no limit. */
  rateLimiter?: RateLimiter;
  /** The tensor backend of this process (serverInfo); absent where it runs none. */
  engine?: { backend: string; adapter?: GpuAdapter };
}
