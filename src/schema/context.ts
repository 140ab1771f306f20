import type { Services } from '../services';

/** What every resolver receives. Built per HTTP request or per ws connection. */
export interface GraphQLContext {
  services: Services;
  /** The request carried the admin token. */
  admin: boolean;
  /** Base URL for links to artifacts (images), without a trailing slash. */
  baseUrl: string;
  /** Who is calling, for per-client limits: the peer address (absent in tests that build contexts by hand). */
  clientKey?: string;
}
