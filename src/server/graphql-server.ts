/**
 * GraphQL over HTTP (Apollo Server 5, Express 5) and over WebSocket
 * (graphql-ws) on one port, with the same schema, context and limits.
 */
import type * as http from 'node:http';
import { ApolloServer, type ApolloServerPlugin } from '@apollo/server';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import { expressMiddleware } from '@as-integrations/express5';
import type { Request, RequestHandler } from 'express';
import { execute, parse, subscribe, validate, specifiedRules, type GraphQLSchema, type GraphQLError } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';
import type { Config } from '../config';
import type { GraphQLContext } from '../schema/context';
import type { Services } from '../services';
import { isAdminAuthorization } from './admin-token';
import { assertComplexity, depthLimitRule } from './guard-rails';

export interface GraphQLEndpoints {
  middleware: RequestHandler;
  /** Closes subscriptions (clients get a clean close frame) and stops Apollo. */
  stop(): Promise<void>;
}

function baseUrlOf(config: Config, req: { headers: http.IncomingHttpHeaders; secure?: boolean }): string {
  if (config.publicUrl) return config.publicUrl;
  const proto = (req.headers['x-forwarded-proto'] as string | undefined)?.split(',')[0]?.trim() ?? (req.secure ? 'https' : 'http');
  const host = (req.headers['x-forwarded-host'] as string | undefined) ?? req.headers.host ?? `localhost:${config.port}`;
  return `${proto}://${host}`;
}

function complexityPlugin(schema: GraphQLSchema, maxComplexity: number): ApolloServerPlugin<GraphQLContext> {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ request, document }) {
          assertComplexity(schema, document, request.variables, request.operationName, maxComplexity);
        },
      };
    },
  };
}

export async function createGraphQLEndpoints(
  schema: GraphQLSchema,
  httpServer: http.Server,
  services: Services,
  adminToken: string,
): Promise<GraphQLEndpoints> {
  const { config } = services;
  const rules = [depthLimitRule(config.limits.maxQueryDepth)];

  const wsServer = new WebSocketServer({ server: httpServer, path: '/graphql', maxPayload: config.limits.bodyLimitBytes });
  const wsCleanup = useServer<Record<string, unknown>>(
    {
      schema,
      execute,
      subscribe,
      context: (ctx): GraphQLContext => ({
        dataSource: services.store.dataSource,
        services,
        admin: isAdminAuthorization(ctx.connectionParams?.authorization, adminToken),
        baseUrl: baseUrlOf(config, ctx.extra.request),
      }),
      onSubscribe: (_ctx, _id, payload) => {
        // Same limits as HTTP: validate with the depth rule, then check complexity.
        let document;
        try {
          document = parse(payload.query);
        } catch (err) {
          return [err as GraphQLError];
        }
        const errors = validate(schema, document, [...specifiedRules, ...rules]);
        if (errors.length > 0) return errors;
        try {
          assertComplexity(schema, document, payload.variables ?? undefined, payload.operationName, config.limits.maxQueryComplexity);
        } catch (err) {
          return [err as GraphQLError];
        }
        return undefined;
      },
    },
    wsServer,
  );

  const apollo = new ApolloServer<GraphQLContext>({
    schema,
    validationRules: rules,
    introspection: true,
    includeStacktraceInErrorResponses: config.logLevel === 'debug',
    plugins: [
      ApolloServerPluginDrainHttpServer({ httpServer }),
      complexityPlugin(schema, config.limits.maxQueryComplexity),
      {
        async serverWillStart() {
          return {
            async drainServer() {
              await wsCleanup.dispose();
            },
          };
        },
      },
    ],
  });
  await apollo.start();

  const middleware = expressMiddleware(apollo, {
    context: async ({ req }: { req: Request }): Promise<GraphQLContext> => ({
      dataSource: services.store.dataSource,
      services,
      admin: isAdminAuthorization(req.headers.authorization, adminToken),
      baseUrl: baseUrlOf(config, req),
    }),
  });

  return {
    middleware,
    async stop() {
      await apollo.stop();
      await new Promise<void>((resolve) => wsServer.close(() => resolve()));
    },
  };
}
