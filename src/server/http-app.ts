/** The Express application: health probes, PNG artifacts, the GraphQL endpoint, and the Studio at `/`. */
import express, { type ErrorRequestHandler, type Express, type RequestHandler } from 'express';
import { ErrorCode } from '../shared/error-code';
import type { Config } from '../shared/config';
import type { Store } from '../store/store';
import { PNG } from 'pngjs';
import { encodeGrid } from '../engine/png';
import type { ImageBatch } from '../engine/images';
import { plotCurves, type Series } from './curve-plot';
import { studioRouter } from './studio-static';

export interface Probes {
  /** Ready to take traffic: database reachable and not shutting down. */
  ready(): Promise<{ ok: boolean; detail: Record<string, unknown> }>;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function createHttpApp(config: Config, store: Store, probes: Probes, graphql: RequestHandler): Express {
  const app = express();
  app.disable('x-powered-by');

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });

  app.get('/readyz', async (_req, res) => {
    const { ok, detail } = await probes.ready();
    res.status(ok ? 200 : 503).json({ status: ok ? 'ready' : 'not ready', ...detail });
  });

  // Images are immutable once written: their ids never get new content.
  app.get('/artifacts/images/:file', async (req, res, next) => {
    try {
      const match = /^(.+)\.png$/.exec(req.params.file);
      const id = match?.[1];
      if (!id || !UUID.test(id)) {
        res.status(404).json({ error: 'no such image' });
        return;
      }
      const png = await store.imagePng(id);
      if (!png) {
        res.status(404).json({ error: 'no such image' });
        return;
      }
      res.set({
        'Content-Type': 'image/png',
        'Content-Length': String(png.length),
        'Cache-Control': 'public, max-age=31536000, immutable',
        ETag: `"${id}"`,
      });
      if (req.headers['if-none-match'] === `"${id}"`) {
        res.status(304).end();
        return;
      }
      res.end(png);
    } catch (err) {
      next(err);
    }
  });

  // A sample set as one picture; images are upscaled (nearest) to at least ~96 px.
  app.get('/artifacts/sample-sets/:id/grid.png', async (req, res, next) => {
    try {
      const id = req.params.id;
      const pngs = UUID.test(id) ? await store.imagePngsOfSet(id) : [];
      if (pngs.length === 0) {
        res.status(404).json({ error: 'no such sample set' });
        return;
      }
      const grid = gridOfPngs(pngs);
      res.set({ 'Content-Type': 'image/png', 'Cache-Control': 'public, max-age=31536000, immutable' });
      res.end(grid);
    } catch (err) {
      next(err);
    }
  });

  // Training curves of a prompt so far: loss, log-det, then each control's mean energy.
  app.get('/artifacts/prompts/:id/curve.png', async (req, res, next) => {
    try {
      const id = req.params.id;
      const history = UUID.test(id) ? await store.progressHistory(id) : [];
      if (history.length === 0) {
        res.status(404).json({ error: 'no training history for this prompt (yet)' });
        return;
      }
      const series: Series[] = [
        { name: 'loss', points: history.map((p) => [p.step, p.data.loss ?? NaN]) },
        { name: 'log-det', points: history.map((p) => [p.step, p.data.logDet ?? NaN]) },
      ];
      const names = [...new Set(history.flatMap((p) => p.data.energies.map((e) => e.control)))];
      for (const [i, name] of names.entries()) {
        series.push({ name, points: history.map((p) => [p.step, p.data.energies[i]?.value ?? NaN]) });
      }
      res.set({ 'Content-Type': 'image/png', 'Cache-Control': 'no-cache' });
      res.end(plotCurves(series));
    } catch (err) {
      next(err);
    }
  });

  app.use('/graphql', express.json({ limit: config.limits.bodyLimitBytes }), graphql);

  // The Studio web app and its client routes (after every API path).
  app.use(studioRouter());

  const errors: ErrorRequestHandler = (err, _req, res, _next) => {
    const status = typeof err?.status === 'number' ? err.status : 500;
    if (err?.type === 'entity.too.large') {
      res.status(413).json({
        errors: [{
          message: `Request body is too large: ${err.length} bytes exceeds the limit of ${config.limits.bodyLimitBytes} bytes`,
          extensions: { code: ErrorCode.PAYLOAD_TOO_LARGE, limit: config.limits.bodyLimitBytes },
        }],
      });
      return;
    }
    if (err?.type === 'entity.parse.failed') {
      res.status(400).json({ errors: [{ message: `Request body is not valid JSON: ${err.message}`, extensions: { code: ErrorCode.BAD_REQUEST } }] });
      return;
    }
    res.status(status).json({ errors: [{ message: status >= 500 ? 'Internal server error' : String(err?.message ?? err), extensions: { code: status >= 500 ? ErrorCode.INTERNAL_SERVER_ERROR : ErrorCode.BAD_REQUEST } }] });
  };
  app.use(errors);
  return app;
}

/** Decodes stored PNGs (all one size) into a grid PNG, upscaled for viewing. */
function gridOfPngs(pngs: Buffer[]): Buffer {
  const decoded = pngs.map((b) => PNG.sync.read(b));
  const { width, height } = decoded[0]!;
  const scale = Math.max(1, Math.floor(96 / Math.max(width, height)));
  const grey = decoded.every((img) => {
    for (let o = 0; o < img.data.length; o += 4) if (img.data[o] !== img.data[o + 1] || img.data[o] !== img.data[o + 2]) return false;
    return true;
  });
  const channels = grey ? 1 : 3;
  const w = width * scale;
  const h = height * scale;
  const data = new Float32Array(decoded.length * w * h * channels);
  decoded.forEach((img, i) => {
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const src = ((Math.floor(y / scale) * width + Math.floor(x / scale)) * 4) | 0;
        const dst = ((i * h + y) * w + x) * channels;
        for (let c = 0; c < channels; c++) data[dst + c] = (img.data[src + c] ?? 0) / 255;
      }
    }
  });
  const batch: ImageBatch = { n: decoded.length, height: h, width: w, channels, data };
  return encodeGrid(batch);
}
