/**
 * The GraphQL context, built in one place for both transports. An HTTP request
 * and a graphql-ws connection differ only in where the caller's token travels
 * (the `Authorization` header; the `authorization` connection parameter, as
 * browsers cannot set headers on a WebSocket); everything else (the services,
 * the admin decision, artifact links, the per-client key) is read from the
 * same request the same way, so a resolver cannot tell the transports apart.
 */
import type * as http from 'node:http';
import type { Config } from '../shared/config';
import type { GraphQLContext } from '../schema/context';
import type { Services } from '../services';
import { isAdminAuthorization } from './admin-token';

/** What a transport knows about its caller: the HTTP request (for ws, the upgrade request) and the token it sent. */
export interface Caller {
  request: Pick<http.IncomingMessage, 'headers' | 'socket'> & { secure?: boolean };
  authorization: unknown;
}

export type ContextFactory = (caller: Caller) => GraphQLContext;

export function contextFactory(services: Services, adminToken: string): ContextFactory {
  return ({ request, authorization }) => ({
    services,
    admin: isAdminAuthorization(authorization, adminToken),
    baseUrl: baseUrlOf(services.config, request),
    clientKey: clientKeyOf(request),
  });
}

/** Where artifact links point: PROMPTGEN_PUBLIC_URL, else the address the client used (proxy headers first). */
function baseUrlOf(config: Config, req: Caller['request']): string {
  if (config.publicUrl) return config.publicUrl;
  const proto =
    (req.headers['x-forwarded-proto'] as string | undefined)?.split(',')[0]?.trim() ??
    (req.secure ? 'https' : 'http');
  const host =
    (req.headers['x-forwarded-host'] as string | undefined) ?? req.headers.host ?? `localhost:${config.port}`;
  return `${proto}://${host}`;
}

/** The peer address: per-client limits key on it (X-Forwarded-For is not trusted: any client can set it). */
function clientKeyOf(req: Caller['request']): string {
  return req.socket?.remoteAddress ?? 'unknown';
}
