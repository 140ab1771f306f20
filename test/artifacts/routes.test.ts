/**
 * The artifact routes through the real, built server: rows are written to a
 * fresh database first (embedded PGlite in the server's data directory, or a
 * PostgreSQL database when DATABASE_URL is set), then the server is started on
 * it and asked, over GraphQL, for the URLs it hands out; every URL must answer
 * a real PNG, and every route a 404 for an id that is malformed or names no row.
 */
import * as fs from 'node:fs';
import { PNG } from 'pngjs';
import { createDataSource, runMigrations } from '../../src/store/data-source';
import { startEmbeddedDatabase } from '../../src/store/embedded';
import { Store } from '../../src/store/store';
import { encodePng } from '../../src/engine/png';
import { toGlobalId } from '../../src/shared/global-id';
import { seedCatalog, seedPrompt } from '../helpers/seed';
import { tempDir } from '../helpers/database';
import { fetchBytes, freshDatabase, startServer, type TestServer } from '../helpers/server';

const MISSING_UUID = '00000000-0000-4000-8000-000000000000';
const SIDE = 28;
const COUNT = 4;

let server: TestServer;
let db: Awaited<ReturnType<typeof freshDatabase>>;
let dataDir: string;
let storedPngs: Buffer[];
let promptId: string;
let quietPromptId: string;

/** Four 28×28 grey images with distinct pixels, as the server stores them. */
function samplePngs(): Buffer[] {
  const data = new Float32Array(COUNT * SIDE * SIDE);
  for (let i = 0; i < data.length; i++) data[i] = ((i * 37) % 251) / 250;
  const batch = { n: COUNT, height: SIDE, width: SIDE, channels: 1, data };
  return Array.from({ length: COUNT }, (_, i) => encodePng(batch, i));
}

async function seed(url: string): Promise<void> {
  const ds = createDataSource({ url, poolSize: 2 });
  await ds.initialize();
  try {
    await runMigrations(ds);
    const store = new Store(ds);
    const { generator, control } = await seedCatalog(ds);
    const prompt = await seedPrompt(ds, generator, control, { status: 'SUCCEEDED' });
    const quiet = await seedPrompt(ds, generator, control, { name: 'untrained', status: 'SUCCEEDED' });
    promptId = prompt.id;
    quietPromptId = quiet.id;
    for (const step of [1, 2, 3]) {
      await store.recordProgress(prompt.id, {
        step,
        totalSteps: 3,
        loss: 10 - step,
        logDet: step / 2,
        energies: [{ control: 'digit', value: 1 / step }],
        stepsPerSecond: null,
        etaSeconds: null,
        at: new Date().toISOString(),
      });
    }
    storedPngs = samplePngs();
    await store.saveSampleSet(
      {
        promptId: prompt.id,
        generatorId: generator.id,
        kind: 'SAMPLE',
        step: 3,
        seed: 1,
        truncation: 1,
        condition: null,
        count: COUNT,
      },
      storedPngs.map((png) => ({ png, width: SIDE, height: SIDE })),
    );
  } finally {
    await ds.destroy();
  }
}

beforeAll(async () => {
  db = await freshDatabase();
  dataDir = tempDir();
  if (db.url) {
    await seed(db.url);
  } else {
    const embedded = await startEmbeddedDatabase(dataDir);
    try {
      await seed(embedded.url);
    } finally {
      await embedded.close();
    }
  }
  server = await startServer({ databaseUrl: db.url, dataDir, env: { PROMPTGEN_WORKERS: '0' } });
});

afterAll(async () => {
  await server?.stop();
  await db?.drop();
  if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
});

async function urls(): Promise<{ curveUrl: string; gridUrl: string; imageUrls: string[] }> {
  const res = await server.gql(
    'query($id: ID!) { prompt(id: $id) { curveUrl sampleSets(first: 5) { nodes { gridUrl images { index url } } } } }',
    { id: toGlobalId('Prompt', promptId) },
  );
  expect(res.errors).toBeUndefined();
  const { curveUrl, sampleSets } = res.data.prompt;
  expect(sampleSets.nodes).toHaveLength(1);
  const set = sampleSets.nodes[0];
  return { curveUrl, gridUrl: set.gridUrl, imageUrls: set.images.map((i: { url: string }) => i.url) };
}

function expectPng(res: { status: number; headers: Headers; body: Buffer }): PNG {
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toBe('image/png');
  expect(res.headers.get('content-length')).toBe(String(res.body.length));
  return PNG.sync.read(res.body);
}

describe('artifact URLs from the schema, served by the server', () => {
  it("uses the server's base URL and the rows' ids", async () => {
    const { curveUrl, gridUrl, imageUrls } = await urls();
    expect(curveUrl).toBe(`${server.url}/artifacts/prompts/${promptId}/curve.png`);
    expect(gridUrl).toMatch(new RegExp(`^${server.url}/artifacts/sample-sets/[0-9a-f-]{36}/grid\\.png$`));
    expect(imageUrls).toHaveLength(COUNT);
    for (const u of imageUrls)
      expect(u).toMatch(new RegExp(`^${server.url}/artifacts/images/[0-9a-f-]{36}\\.png$`));
  });

  it('serves each image as the very bytes stored, cached for good, with an ETag that answers 304', async () => {
    const { imageUrls } = await urls();
    for (const [i, u] of imageUrls.entries()) {
      const res = await fetchBytes(u);
      expectPng(res);
      expect(res.body.equals(storedPngs[i]!)).toBe(true); // no decode / re-encode on the way out
      expect(res.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
      const id = /images\/(.+)\.png$/.exec(u)![1];
      expect(res.headers.get('etag')).toBe(`"${id}"`);
    }
    const again = await fetch(imageUrls[0]!, {
      headers: { 'if-none-match': `"${/images\/(.+)\.png$/.exec(imageUrls[0]!)![1]}"` },
    });
    expect(again.status).toBe(304);
    expect((await again.arrayBuffer()).byteLength).toBe(0);
  });

  it('serves the sample set as one grey grid of the stored pixels, upscaled ×3', async () => {
    const { gridUrl } = await urls();
    const res = await fetchBytes(gridUrl);
    const grid = expectPng(res);
    expect(res.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    // 2×2 tiles of 84 px (28 × 3) with a 1 px gap.
    expect({ width: grid.width, height: grid.height }).toEqual({ width: 2 * 84 + 1, height: 2 * 84 + 1 });
    expect(res.body[25]).toBe(0); // IHDR colour type: grey, as every image is grey
    const source = storedPngs.map((b) => PNG.sync.read(b));
    for (const [i, img] of source.entries()) {
      const left = (i % 2) * 85;
      const top = Math.floor(i / 2) * 85;
      for (const [sx, sy] of [
        [0, 0],
        [5, 9],
        [27, 27],
        [13, 20],
      ] as const) {
        const g = ((top + sy * 3 + 1) * grid.width + left + sx * 3 + 2) * 4;
        expect(grid.data[g]).toBe(img.data[(sy * SIDE + sx) * 4]);
      }
    }
    expect(grid.data[(84 * grid.width + 10) * 4]).toBe(0); // the gap row is black
  });

  it('draws the training curves: one 120-px panel each for loss, log-det and the control', async () => {
    const { curveUrl } = await urls();
    const res = await fetchBytes(curveUrl);
    const curve = expectPng(res);
    expect(res.headers.get('cache-control')).toBe('no-cache');
    expect({ width: curve.width, height: curve.height }).toEqual({ width: 640, height: 3 * 120 });
    // Something is drawn in each panel: a non-white pixel below its label.
    for (let panel = 0; panel < 3; panel++) {
      let inked = 0;
      for (let y = panel * 120 + 20; y < (panel + 1) * 120; y++) {
        for (let x = 0; x < 640; x++) if (curve.data[(y * 640 + x) * 4] !== 255) inked++;
      }
      expect(inked).toBeGreaterThan(100);
    }
  });
});

describe('artifact routes refuse ids that name nothing', () => {
  const notFound = async (path: string, message: string) => {
    const res = await fetch(`${server.url}${path}`);
    expect({ path, status: res.status }).toEqual({ path, status: 404 });
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await res.json()).toEqual({ error: message });
  };

  it('images: malformed, without .png, and well-formed but missing', async () => {
    for (const p of [
      '/artifacts/images/not-a-uuid.png',
      `/artifacts/images/${MISSING_UUID}`,
      `/artifacts/images/${MISSING_UUID}.jpg`,
      '/artifacts/images/x',
      `/artifacts/images/${MISSING_UUID}.png`,
    ]) {
      await notFound(p, 'no such image');
    }
  });

  it('sample-set grids: malformed and missing', async () => {
    await notFound('/artifacts/sample-sets/not-a-uuid/grid.png', 'no such sample set');
    await notFound(`/artifacts/sample-sets/${MISSING_UUID}/grid.png`, 'no such sample set');
    // A prompt's id is no sample set's id.
    await notFound(`/artifacts/sample-sets/${promptId}/grid.png`, 'no such sample set');
  });

  it('prompt curves: malformed, missing, and a prompt with no recorded step yet', async () => {
    const message = 'no training history for this prompt (yet)';
    await notFound("/artifacts/prompts/1';DROP TABLE prompts;--/curve.png", message);
    await notFound(`/artifacts/prompts/${MISSING_UUID}/curve.png`, message);
    await notFound(`/artifacts/prompts/${quietPromptId}/curve.png`, message);
  });

  it('still serves the real artifacts after the refusals', async () => {
    const { curveUrl, imageUrls } = await urls();
    expect((await fetchBytes(curveUrl)).status).toBe(200);
    expect((await fetchBytes(imageUrls[0]!)).status).toBe(200);
  });
});
