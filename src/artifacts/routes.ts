/**
 * The HTTP routes of the artifacts (addresses in urls.ts): each one parses its
 * row id, loads or renders the PNG, and answers through one handler, so that
 * the id check, the 404, the cache headers and the content type are written once.
 *
 * A stored image is served as the bytes that were stored: no decode, no
 * re-encode. Grids and curves are rendered per request from stored rows.
 * Errors reach the app's error handler (Express 5 forwards a rejected handler).
 */
import { Router, type Request, type Response } from 'express';
import type { Store } from '../store/store';
import { plotCurves, trainingSeries } from './curve-plot';
import { gridOfPngs } from './grid';
import { IMAGE, PROMPT_CURVE, SAMPLE_SET_GRID, type ArtifactAddress } from './urls';

interface CachePolicy {
  cacheControl: string;
  /** Send the row id as ETag and answer a matching If-None-Match with 304. */
  etag: boolean;
}

/** An image's id never gets new content; nor does a sample set's list of images. */
const IMMUTABLE = 'public, max-age=31536000, immutable';
/** Curves grow while a prompt trains: revalidate every time. */
const REVALIDATE = 'no-cache';

interface ArtifactRoute {
  address: ArtifactAddress;
  /** The 404 message (JSON `{ error }`), for a malformed id and a missing row alike. */
  missing: string;
  cache: CachePolicy;
  /** The PNG, or null when there is nothing to show for this row. */
  load(rowId: string): Promise<Buffer | null>;
}

function mount(router: Router, { address, missing, cache, load }: ArtifactRoute): void {
  router.get(address.route, async (req: Request, res: Response) => {
    const rowId = address.rowId(req.params as Record<string, string>);
    const png = rowId === null ? null : await load(rowId);
    if (!png) {
      res.status(404).json({ error: missing });
      return;
    }
    const etag = `"${rowId}"`;
    res.set({
      'Content-Type': 'image/png',
      'Content-Length': String(png.length),
      'Cache-Control': cache.cacheControl,
    });
    if (cache.etag) {
      res.set('ETag', etag);
      if (req.headers['if-none-match'] === etag) {
        res.status(304).end();
        return;
      }
    }
    res.end(png);
  });
}

/** The artifact routes, reading from the store. */
export function artifactRoutes(store: Store): Router {
  const router = Router();
  mount(router, {
    address: IMAGE,
    missing: 'no such image',
    cache: { cacheControl: IMMUTABLE, etag: true },
    load: (id) => store.imagePng(id),
  });
  mount(router, {
    address: SAMPLE_SET_GRID,
    missing: 'no such sample set',
    cache: { cacheControl: IMMUTABLE, etag: false },
    load: async (id) => {
      const pngs = await store.imagePngsOfSet(id);
      return pngs.length > 0 ? gridOfPngs(pngs) : null;
    },
  });
  mount(router, {
    address: PROMPT_CURVE,
    missing: 'no training history for this prompt (yet)',
    cache: { cacheControl: REVALIDATE, etag: false },
    load: async (id) => {
      const history = await store.progressHistory(id);
      return history.length > 0 ? plotCurves(trainingSeries(history)) : null;
    },
  });
  return router;
}
