/**
 * A real server on PROMPTGEN_BACKEND=webgpu (the software GPU where no GPU
 * exists): serverInfo and the start-up log name the backend and adapter; two
 * prompts train at once on the one GPU (one device per training thread) and
 * are sampled; past PROMPTGEN_GPU_MEMORY_MB a prompt FAILS with a clear
 * error and the server keeps serving.
 */
import { freshDatabase, startServer, type TestServer } from '../../helpers/server';
import { waitFor } from '../../helpers/wait';
import { webgpuReady } from './helpers';

const CREATE = `mutation($input: CreatePromptInput!) { createPrompt(input: $input) { prompt { id status } userErrors { message } } }`;
const SAMPLE = `mutation($input: SampleInput!) { sample(input: $input) { sampleSet { images { url } } userErrors { message } } }`;
const INFO = `{ serverInfo { backend adapter { vendor architecture device description software memoryBudgetMb } } }`;

const sevens = (name: string, training: Record<string, number>) => ({
  generator: 'mnist',
  name,
  controls: [{ control: 'mnist-digit', weight: 5, params: { classes: [7] } }],
  training,
});

async function finished(server: TestServer, id: string) {
  return waitFor(async () => {
    const res = await server.gql('query($id: ID!) { prompt(id: $id) { status error progress { step } } }', {
      id,
    });
    const p = res.data?.prompt;
    return p && ['SUCCEEDED', 'FAILED', 'CANCELLED'].includes(p.status) ? p : null;
  }, 240_000);
}

let skip = false;
beforeAll(async () => {
  skip = (await webgpuReady()) === null;
});

describe('server on the webgpu backend', () => {
  let server: TestServer;
  let db: Awaited<ReturnType<typeof freshDatabase>>;

  beforeAll(async () => {
    if (skip) return;
    db = await freshDatabase();
    server = await startServer({
      databaseUrl: db.url,
      env: { PROMPTGEN_BACKEND: 'webgpu', PROMPTGEN_WORKERS: '2' },
    });
  }, 180_000);

  afterAll(async () => {
    await server?.stop();
    await db?.drop();
  });

  it('reports the backend and adapter in serverInfo and in the start-up log', async () => {
    if (skip) return;
    const res = await server.gql(INFO);
    expect(res.errors).toBeUndefined();
    const info = res.data.serverInfo;
    expect(info.backend).toBe('webgpu');
    expect(info.adapter.memoryBudgetMb).toBe(2048);
    expect(typeof info.adapter.software).toBe('boolean');
    expect(`${info.adapter.device} ${info.adapter.description}`.trim()).not.toBe('');
    expect(server.proc.output()).toMatch(
      /tensor backend: webgpu on .*(SOFTWARE|hardware).*memory budget 2048 MB/,
    );
  });

  it('trains two prompts at once on the one GPU and samples them', async () => {
    if (skip) return;
    const training = { steps: 10, batchSize: 8, flowBlocks: 2, hiddenUnits: 32, previewEvery: 5, seed: 3 };
    const ids: string[] = [];
    for (const name of ['gpu-a', 'gpu-b']) {
      const res = await server.gql(CREATE, { input: sevens(name, training) });
      expect(res.data.createPrompt.userErrors).toEqual([]);
      ids.push(res.data.createPrompt.prompt.id);
    }
    const done = await Promise.all(ids.map((id) => finished(server, id)));
    done.forEach((p) =>
      expect(p).toMatchObject({ status: 'SUCCEEDED', error: null, progress: { step: 10 } }),
    );
    expect(server.proc.output()).toMatch(/thread started on webgpu|tensor backend: webgpu/);
    const s = await server.gql(SAMPLE, { input: { prompt: ids[0], count: 4, seed: 1 } });
    expect(s.data.sample.userErrors).toEqual([]);
    expect(s.data.sample.sampleSet.images).toHaveLength(4);
  }, 300_000);
});

describe('GPU memory budget', () => {
  let server: TestServer;
  let db: Awaited<ReturnType<typeof freshDatabase>>;

  beforeAll(async () => {
    if (skip) return;
    db = await freshDatabase();
    server = await startServer({
      databaseUrl: db.url,
      env: { PROMPTGEN_BACKEND: 'webgpu', PROMPTGEN_WORKERS: '1', PROMPTGEN_GPU_MEMORY_MB: '16' },
    });
  }, 180_000);

  afterAll(async () => {
    await server?.stop();
    await db?.drop();
  });

  it('fails a prompt that needs more than PROMPTGEN_GPU_MEMORY_MB with a clear error; the server keeps serving', async () => {
    if (skip) return;
    const res = await server.gql(CREATE, {
      input: sevens('too-big', { steps: 5, batchSize: 256, flowBlocks: 2, hiddenUnits: 32, seed: 1 }),
    });
    expect(res.data.createPrompt.userErrors).toEqual([]);
    const p = await finished(server, res.data.createPrompt.prompt.id);
    expect(p.status).toBe('FAILED');
    expect(p.error).toMatch(
      /GPU memory budget exceeded: this job needs more than PROMPTGEN_GPU_MEMORY_MB=16 MB/,
    );
    expect(p.error).not.toMatch(/\/work|\.js|\.ts/); // no paths
    const info = await server.gql(INFO);
    expect(info.data.serverInfo).toMatchObject({ backend: 'webgpu', adapter: { memoryBudgetMb: 16 } });
  }, 300_000);
});
