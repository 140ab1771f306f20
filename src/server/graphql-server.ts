/**
 * GraphQL over HTTP (Apollo Server 5, Express 5) and over WebSocket
 * (graphql-ws) on one port, with the same schema, context, limits and error
 * masking. Limits, in the order they apply: body size (express), tokens, field
 * selections, expensive mutations and input values before validation
 * (./request-guard.ts), then aliases and directives (GraphQL Armor), depth and
 * complexity (./guard-rails.ts) as validation rules.
 */
import type * as http from 'node:http';
import { ApolloServer, type ApolloServerPlugin } from '@apollo/server';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import { expressMiddleware } from '@as-integrations/express5';
import type { Request, RequestHandler } from 'express';
import { ApolloArmor } from '@escape.tech/graphql-armor';
import {
  execute,
  getOperationAST,
  parse,
  subscribe,
  validate,
  specifiedRules,
  GraphQLError,
  type GraphQLSchema,
  type ValidationRule,
} from 'graphql';
import { getVariableValues } from 'graphql/execution/values';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';
import type { GraphQLContext } from '../schema/context';
import type { Services } from '../services';
import { contextFactory } from './request-context';
import { assertComplexity, depthLimitRule } from './guard-rails';
import { formatApolloError, formatWsError } from './error-format';
import { preflight, requestGuardMiddleware, subscriptionOverHttpPlugin } from './request-guard';
import type { ErrorLog } from '../shared/public-error';
import { ErrorCode } from '../shared/error-code';

export interface GraphQLEndpoints {
  middleware: RequestHandler;
  /** Closes subscriptions (clients get a clean close frame) and stops Apollo. */
  stop(): Promise<void>;
}

function complexityPlugin(schema: GraphQLSchema, maxComplexity: number): ApolloServerPlugin<GraphQLContext> {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ request, document, operation }) {
          // No operation (unknown operationName): execution reports it as the client's error.
          if (!operation) return;
          checkComplexity(schema, document, request.variables, request.operationName, maxComplexity);
        },
      };
    },
  };
}

/**
 * assertComplexity, except that variables that do not coerce are left to execution,
 * which reports them as BAD_USER_INPUT (the estimator reads `first` from variables).
 */
function checkComplexity(...args: Parameters<typeof assertComplexity>): void {
  try {
    assertComplexity(...args);
  } catch (err) {
    if (err instanceof GraphQLError && err.extensions?.code === ErrorCode.QUERY_TOO_COMPLEX) throw err;
    if (err instanceof GraphQLError && /^Variable "\$/.test(err.message)) return;
    throw err;
  }
}

export async function createGraphQLEndpoints(
  schema: GraphQLSchema,
  httpServer: http.Server,
  services: Services,
  adminToken: string,
  log: ErrorLog = { error: (m) => process.stderr.write(`${m}\n`) },
): Promise<GraphQLEndpoints> {
  const { config } = services;
  const security = config.security;
  // One context for both transports (./request-context.ts): only where the token travels differs.
  const contextOf = contextFactory(services, adminToken);
  // GraphQL Armor: aliases, directives and no field suggestions. Its token limit is replaced
  // by the parser's own (./request-guard.ts, and parseOptions below); its cost and depth
  // limits by ours, which count `first` and skip introspection (guard-rails.ts).
  const armor = new ApolloArmor({
    maxTokens: { enabled: false },
    costLimit: { enabled: false },
    maxDepth: { enabled: false },
    maxAliases: { n: security.maxQueryAliases },
    maxDirectives: { n: security.maxQueryDirectives },
    blockFieldSuggestion: { enabled: true },
  }).protect();
  const rules: ValidationRule[] = [
    depthLimitRule(config.limits.maxQueryDepth),
    ...(armor.validationRules as ValidationRule[]),
  ];

  const wsServer = new WebSocketServer({
    server: httpServer,
    path: '/graphql',
    maxPayload: config.limits.bodyLimitBytes,
  });
  const wsCleanup = useServer<Record<string, unknown>>(
    {
      schema,
      execute,
      subscribe,
      context: (ctx): GraphQLContext =>
        contextOf({ request: ctx.extra.request, authorization: ctx.connectionParams?.authorization }),
      onSubscribe: (_ctx, _id, payload) => {
        // Same limits as HTTP, in the same order; the document parsed here is the one executed.
        const coded = (message: string, code: ErrorCode) => [
          new GraphQLError(message, { extensions: { code } }),
        ];
        const checked = preflight(payload.query, payload.variables, security);
        if (checked.error) return [checked.error];
        const document = checked.document;
        if (!document) {
          try {
            parse(payload.query); // bounded: the preflight refused sources over the token limit
          } catch (err) {
            return coded((err as Error).message, ErrorCode.GRAPHQL_PARSE_FAILED);
          }
          return coded('the query could not be parsed', ErrorCode.GRAPHQL_PARSE_FAILED);
        }
        const errors = validate(schema, document, [...specifiedRules, ...rules]);
        if (errors.length > 0)
          return errors.map(
            (e) =>
              new GraphQLError(e.message, {
                nodes: e.nodes,
                extensions: { ...e.extensions, code: ErrorCode.GRAPHQL_VALIDATION_FAILED },
              }),
          );
        const operation = getOperationAST(document, payload.operationName ?? undefined);
        if (!operation) {
          return coded(
            payload.operationName
              ? `Unknown operation named "${payload.operationName}"`
              : 'Must provide an operation name when the document holds several',
            ErrorCode.OPERATION_RESOLUTION_FAILURE,
          );
        }
        const vars = getVariableValues(
          schema,
          operation.variableDefinitions ?? [],
          (payload.variables ?? {}) as Record<string, unknown>,
        );
        if (vars.errors)
          return vars.errors.map(
            (e) =>
              new GraphQLError(e.message, { nodes: e.nodes, extensions: { code: ErrorCode.BAD_USER_INPUT } }),
          );
        try {
          checkComplexity(
            schema,
            document,
            payload.variables ?? undefined,
            payload.operationName,
            config.limits.maxQueryComplexity,
          );
        } catch (err) {
          return err instanceof GraphQLError
            ? [err]
            : coded('the query could not be checked', ErrorCode.BAD_REQUEST);
        }
        // The raw values: execute coerces them again (coerced custom scalars would not round-trip).
        return {
          schema,
          document,
          operationName: payload.operationName ?? undefined,
          variableValues: payload.variables ?? undefined,
        };
      },
      onNext: (_ctx, _id, _payload, _args, result) => {
        if (!result.errors?.length) return undefined;
        return { ...result, errors: result.errors.map((e) => formatWsError(e, log, ErrorCode.BAD_REQUEST)) };
      },
      onError: (_ctx, _id, _payload, errors) => errors.map((e) => formatWsError(e, log)),
    },
    wsServer,
  );

  const apollo = new ApolloServer<GraphQLContext>({
    schema,
    validationRules: rules,
    introspection: true,
    // Never: stack traces name server paths (the log has them, under the error id).
    includeStacktraceInErrorResponses: false,
    allowBatchedHttpRequests: false,
    // Bad variable values (an Int of 2^31, "1", 1e999 ...) are the client's: Apollo 5 answers them
    // 400 BAD_USER_INPUT by default (its v4 option for it now only prints a warning at start).
    parseOptions: { maxTokens: security.maxQueryTokens },
    formatError: (formatted, error) => formatApolloError(formatted, error, log),
    plugins: [
      ...(armor.plugins as ApolloServerPlugin<GraphQLContext>[]),
      subscriptionOverHttpPlugin(),
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

  const guard = requestGuardMiddleware(security);
  const apolloMiddleware = expressMiddleware(apollo, {
    context: async ({ req }: { req: Request }): Promise<GraphQLContext> =>
      contextOf({ request: req, authorization: req.headers.authorization }),
  });

  const middleware: RequestHandler = (req, res, next) =>
    guard(req, res, (err?: unknown) => (err ? next(err) : apolloMiddleware(req, res, next)));

  return {
    middleware,
    async stop() {
      await apollo.stop();
      await new Promise<void>((resolve) => wsServer.close(() => resolve()));
    },
  };
}
