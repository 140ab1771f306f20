/**
 * Serves the Studio web app (built by `web/` into `web/dist`) at `/`.
 *
 * Files come from express.static (the `send` module underneath), which
 * resolves every path inside the root and answers 403/404 for `..` and
 * encoded escapes, so no request reads outside the build folder. Any other
 * GET that asks for HTML and has no file extension is a client route of the
 * single-page app (`/prompts/…`, `/admin`): it gets index.html and the app's
 * router draws the page. API paths (`/graphql`, `/artifacts`, probes) are
 * mounted before this and never reach it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import express, { type RequestHandler, type Router } from 'express';

/** `web/dist` of the package this file was compiled into (dist/src/server → package root). */
export const STUDIO_DIST = path.resolve(__dirname, '../../../web/dist');

/** Paths that belong to the server, never to the app's router. */
const SERVER_PATHS = /^\/(graphql|artifacts|healthz|readyz)(\/|$)/;

export function studioRouter(root: string = STUDIO_DIST): Router {
  const router = express.Router();
  const indexFile = path.join(root, 'index.html');

  // Vite names every asset by its content hash: a name never gets new bytes.
  router.use(
    '/assets',
    express.static(path.join(root, 'assets'), {
      immutable: true,
      maxAge: '1y',
      index: false,
      fallthrough: true,
    }),
  );
  router.use(express.static(root, { index: false, maxAge: 0 }));

  const spa: RequestHandler = (req, res, next) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return next();
    if (SERVER_PATHS.test(req.path) || path.extname(req.path) !== '') return next();
    if (!req.accepts('html')) return next();
    if (!fs.existsSync(indexFile)) {
      res
        .status(404)
        .type('text/plain')
        .send('The Studio is not built: run "npm run build --workspace web" (npm ci does it).');
      return;
    }
    // index.html names the current hashed bundles, so it must be revalidated each time.
    res.set('Cache-Control', 'no-cache');
    res.sendFile(indexFile);
  };
  router.use(spa);
  return router;
}
