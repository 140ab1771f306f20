/** The Express application: health probes, PNG artifacts (src/artifacts), the GraphQL endpoint, and the Studio at `/`. */
import express, { type ErrorRequestHandler, type Express, type RequestHandler } from 'express';
import { ErrorCode } from '../shared/error-code';
import type { Config } from '../shared/config';
import type { Store } from '../store/store';
import { artifactRoutes } from '../artifacts/routes';
import { studioRouter } from './studio-static';

export interface Probes {
  /** Ready to take traffic: database reachable and not shutting down. */
  ready(): Promise<{ ok: boolean; detail: Record<string, unknown> }>;
}

export function createHttpApp(
  config: Config,
  store: Store,
  probes: Probes,
  graphql: RequestHandler,
): Express {
  const app = express();
  app.disable('x-powered-by');

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });

  app.get('/readyz', async (_req, res) => {
    const { ok, detail } = await probes.ready();
    res.status(ok ? 200 : 503).json({ status: ok ? 'ready' : 'not ready', ...detail });
  });

  app.use(artifactRoutes(store));

  app.use('/graphql', express.json({ limit: config.limits.bodyLimitBytes }), graphql);

  // The Studio web app and its client routes (after every API path).
  app.use(studioRouter());

  const errors: ErrorRequestHandler = (err, _req, res, _next) => {
    const status = typeof err?.status === 'number' ? err.status : 500;
    if (err?.type === 'entity.too.large') {
      res.status(413).json({
        errors: [
          {
            message: `Request body is too large: ${err.length} bytes exceeds the limit of ${config.limits.bodyLimitBytes} bytes`,
            extensions: { code: ErrorCode.PAYLOAD_TOO_LARGE, limit: config.limits.bodyLimitBytes },
          },
        ],
      });
      return;
    }
    if (err?.type === 'entity.parse.failed') {
      res.status(400).json({
        errors: [
          {
            message: `Request body is not valid JSON: ${err.message}`,
            extensions: { code: ErrorCode.BAD_REQUEST },
          },
        ],
      });
      return;
    }
    res.status(status).json({
      errors: [
        {
          message: status >= 500 ? 'Internal server error' : String(err?.message ?? err),
          extensions: { code: status >= 500 ? ErrorCode.INTERNAL_SERVER_ERROR : ErrorCode.BAD_REQUEST },
        },
      ],
    });
  };
  app.use(errors);
  return app;
}
