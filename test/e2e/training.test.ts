/**
 * The product's main path with a real client: createPrompt → queue → worker
 * thread → streamed progress and previews → PNG artifacts → sample; plus
 * iterative control, cancel, concurrency and bad input.
 */
import { PNG } from 'pngjs';
import { fetchBytes, freshDatabase, startServer, subscribe, type TestServer } from '../helpers/server';
import { waitFor } from '../helpers/wait';

let server: TestServer;
let db: Awaited<ReturnType<typeof freshDatabase>>;

beforeAll(async () => {
  db = await freshDatabase();
  // Two trainings at once even on a 2-core machine, whose default cap (src/jobs/concurrency.ts) is one in serve.
  server = await startServer({
    databaseUrl: db.url,
    env: { PROMPTGEN_WORKERS: '2', PROMPTGEN_TRAINING_THREADS: '2', PROMPTGEN_MAX_STEPS: '5000' },
  });
});

afterAll(async () => {
  await server?.stop();
  await db?.drop();
});

const CREATE = `mutation($input: CreatePromptInput!) {
  createPrompt(input: $input) { prompt { id status training { steps batchSize previewEvery } } userErrors { field message code } }
}`;
const PROGRESS = `subscription($id: ID!) { trainingProgress(promptId: $id) { status step totalSteps loss logDet energies { control value } stepsPerSecond etaSeconds } }`;
const PREVIEWS = `subscription($id: ID!) { sampleBatches(promptId: $id) { id kind step count gridUrl images { index url width height } } }`;
const SAMPLE = `mutation($input: SampleInput!) { sample(input: $input) { sampleSet { id kind seed count images { url width height } } userErrors { field message code } } }`;
const small = { steps: 24, batchSize: 4, flowBlocks: 2, hiddenUnits: 32, previewEvery: 8, seed: 3 };
const sevens = (training: Record<string, number> = small, extra: Record<string, unknown> = {}) => ({
  generator: 'mnist',
  name: 'sevens',
  controls: [{ control: 'mnist-digit', weight: 5, params: { classes: [7] } }],
  training,
  ...extra,
});

async function promptState(id: string) {
  const res = await server.gql(
    'query($id: ID!) { prompt(id: $id) { status error startedAt finishedAt progress { step totalSteps } metrics asGenerator { id name latentDim } } }',
    { id },
  );
  if (res.errors || !res.data?.prompt) throw new Error(`prompt(${id}) failed: ${JSON.stringify(res)}`);
  return res.data.prompt;
}

function decodePng(body: Buffer) {
  const png = PNG.sync.read(body);
  return { width: png.width, height: png.height };
}

describe('training end to end', () => {
  let promptId: string;

  it('trains a prompt, streaming progress and previews, and serves its images as PNG', async () => {
    const client = server.wsClient();
    const created = await server.gql(CREATE, { input: sevens() });
    expect(created.data.createPrompt.userErrors).toEqual([]);
    expect(created.data.createPrompt.prompt).toMatchObject({
      status: 'QUEUED',
      training: { steps: 24, batchSize: 4, previewEvery: 8 },
    });
    promptId = created.data.createPrompt.prompt.id;

    const progress = subscribe(client, PROGRESS, { id: promptId });
    // No stop condition: both streams must complete by themselves when the prompt ends.
    const previews = subscribe(client, PREVIEWS, { id: promptId });
    const events = (await progress.done).map((e: any) => e.trainingProgress);
    const batches = (await previews.done).map((e: any) => e.sampleBatches);
    const preview = batches[0];
    expect(batches.at(-1)).toMatchObject({ kind: 'PREVIEW', step: 24 }); // the last batch comes before completion
    // A late subscriber to the ended prompt gets its last batch, then completion.
    const late = (await subscribe(client, PREVIEWS, { id: promptId }).done).map((e: any) => e.sampleBatches);
    expect(late.map((b: any) => [b.kind, b.step])).toEqual([['PREVIEW', 24]]);
    await client.dispose();

    expect(events.at(-1)).toMatchObject({ status: 'SUCCEEDED', step: 24, totalSteps: 24 });
    const training = events.filter((e: any) => e.status === 'TRAINING' && e.step > 0);
    expect(training.length).toBeGreaterThanOrEqual(3);
    const steps = training.map((e: any) => e.step);
    expect([...steps].sort((a, b) => a - b)).toEqual(steps);
    expect(new Set(steps).size).toBe(steps.length);
    for (const e of training) {
      expect(Number.isFinite(e.loss)).toBe(true);
      expect(e.energies).toEqual([{ control: 'mnist-digit', value: expect.any(Number) }]);
      expect(e.stepsPerSecond).toBeGreaterThan(0);
    }

    expect(preview).toMatchObject({ kind: 'PREVIEW', count: 16 });
    expect([8, 16, 24]).toContain(preview.step);
    expect(preview.images).toHaveLength(16);
    const image = await fetchBytes(preview.images[0].url);
    expect(image.status).toBe(200);
    expect(image.headers.get('content-type')).toBe('image/png');
    expect(image.headers.get('cache-control')).toContain('immutable');
    expect(decodePng(image.body)).toEqual({ width: 28, height: 28 });
    expect((await fetchBytes(preview.images[0].url.replace(/[0-9a-f]{8}-/, '00000000-'))).status).toBe(404);

    const state = await promptState(promptId);
    expect(state).toMatchObject({ status: 'SUCCEEDED', error: null, progress: { step: 24, totalSteps: 24 } });
    expect(state.metrics).toMatchObject({
      samples: 256,
      controls: [
        { control: 'mnist-digit', meanEnergyBase: expect.any(Number), meanEnergyPrompt: expect.any(Number) },
      ],
    });
    expect(state.asGenerator).toMatchObject({ latentDim: 64 });

    // Pictures a person would rather look at: the preview as one grid, and the training curves.
    const grid = await fetchBytes(preview.gridUrl);
    expect(grid.headers.get('content-type')).toBe('image/png');
    expect(decodePng(grid.body)).toEqual({ width: 4 * 84 + 3, height: 4 * 84 + 3 }); // 16 cells of 28 px ×3, 1 px gaps
    const curves = await server.gql(
      'query($id: ID!) { prompt(id: $id) { curveUrl history { step loss energies { value } } } }',
      { id: promptId },
    );
    const { curveUrl, history } = curves.data.prompt;
    const historySteps = history.map((h: any) => h.step);
    expect(historySteps.length).toBeGreaterThanOrEqual(3);
    expect([...historySteps].sort((a, b) => a - b)).toEqual(historySteps);
    expect(historySteps.at(-1)).toBe(24);
    const curve = await fetchBytes(curveUrl);
    expect(curve.status).toBe(200);
    expect(decodePng(curve.body)).toEqual({ width: 640, height: 3 * 120 }); // loss, log-det, mnist-digit

    // Previews are kept with the prompt: one per previewEvery steps.
    const sets = await server.gql(
      'query($id: ID!) { prompt(id: $id) { sampleSets { nodes { kind step } } } }',
      { id: promptId },
    );
    expect(sets.data.prompt.sampleSets.nodes.map((s: any) => s.step).sort()).toEqual([16, 24, 8]);
  });

  it('samples a trained prompt reproducibly for a seed', async () => {
    const once = await server.gql(SAMPLE, { input: { prompt: promptId, count: 4, seed: 11 } });
    const twice = await server.gql(SAMPLE, { input: { prompt: promptId, count: 4, seed: 11 } });
    const other = await server.gql(SAMPLE, { input: { prompt: promptId, count: 4, seed: 12 } });
    expect(once.data.sample.userErrors).toEqual([]);
    expect(once.data.sample.sampleSet).toMatchObject({ kind: 'SAMPLE', seed: 11, count: 4 });
    const bytes = async (set: any) =>
      Promise.all(set.images.map(async (i: any) => (await fetchBytes(i.url)).body));
    const a = await bytes(once.data.sample.sampleSet);
    const b = await bytes(twice.data.sample.sampleSet);
    const c = await bytes(other.data.sample.sampleSet);
    expect(a.map((x) => x.toString('base64'))).toEqual(b.map((x) => x.toString('base64')));
    expect(a.map((x) => x.toString('base64'))).not.toEqual(c.map((x) => x.toString('base64')));
    expect(decodePng(a[0]!)).toEqual({ width: 28, height: 28 });
  });

  it('samples a bare generator, and truncation changes the images', async () => {
    const full = await server.gql(SAMPLE, { input: { generator: 'mnist', count: 2, seed: 5 } });
    const truncated = await server.gql(SAMPLE, {
      input: { generator: 'mnist', count: 2, seed: 5, truncation: 0.5 },
    });
    expect(full.data.sample.userErrors).toEqual([]);
    const first = (await fetchBytes(full.data.sample.sampleSet.images[0].url)).body;
    const second = (await fetchBytes(truncated.data.sample.sampleSet.images[0].url)).body;
    expect(first.equals(second)).toBe(false);
  });

  it('trains a second prompt on top of the first (iterative control)', async () => {
    const base = await promptState(promptId);
    const created = await server.gql(CREATE, {
      input: {
        generator: base.asGenerator.id,
        controls: [{ control: 'mnist-digit', weight: 2, params: { classes: [7] } }],
        training: { ...small, steps: 8, previewEvery: 0 },
      },
    });
    expect(created.data.createPrompt.userErrors).toEqual([]);
    const id = created.data.createPrompt.prompt.id;
    const done = await waitFor(async () => {
      const s = await promptState(id);
      return ['SUCCEEDED', 'FAILED'].includes(s.status) && s;
    });
    expect(done).toMatchObject({ status: 'SUCCEEDED', error: null });
    const gen = await server.gql(
      'query($id: ID!) { prompt(id: $id) { generator { name basePrompt { id } } } }',
      { id },
    );
    expect(gen.data.prompt.generator.basePrompt.id).toBe(promptId);
    const sampled = await server.gql(SAMPLE, { input: { prompt: id, count: 2, seed: 1 } });
    expect(sampled.data.sample.userErrors).toEqual([]);
    // The stacked flow differs from the first prompt alone.
    const alone = await server.gql(SAMPLE, { input: { prompt: promptId, count: 2, seed: 1 } });
    const x = (await fetchBytes(sampled.data.sample.sampleSet.images[0].url)).body;
    const y = (await fetchBytes(alone.data.sample.sampleSet.images[0].url)).body;
    expect(x.equals(y)).toBe(false);
  });

  it('gives the latest state first to a late subscriber', async () => {
    const client = server.wsClient();
    const late = subscribe(client, PROGRESS, { id: promptId });
    const events = await late.done;
    expect(events.map((e: any) => [e.trainingProgress.status, e.trainingProgress.step])).toEqual([
      ['SUCCEEDED', 24],
    ]);
    await client.dispose();
  });
});

describe('cancel and concurrency', () => {
  it('cancels a training prompt; the worker stops within seconds and takes the next job', async () => {
    const long = await server.gql(CREATE, { input: sevens({ ...small, steps: 4000, previewEvery: 0 }) });
    const id = long.data.createPrompt.prompt.id;
    await waitFor(async () => {
      const s = await promptState(id);
      return s.status === 'TRAINING' && (s.progress?.step ?? 0) > 0;
    });
    const cancelled = await server.gql(
      'mutation($id: ID!) { cancelPrompt(input: { id: $id }) { prompt { status finishedAt } userErrors { code } } }',
      { id },
    );
    expect(cancelled.data.cancelPrompt).toMatchObject({ prompt: { status: 'CANCELLED' }, userErrors: [] });
    await new Promise((r) => setTimeout(r, 4000));
    const stepAfter = (await promptState(id)).progress.step;
    await new Promise((r) => setTimeout(r, 3000));
    const later = await promptState(id);
    expect(later.status).toBe('CANCELLED');
    expect(later.progress.step).toBe(stepAfter); // no more steps once stopped
    expect(later.progress.step).toBeLessThan(4000);
    const again = await server.gql(
      'mutation($id: ID!) { cancelPrompt(input: { id: $id }) { prompt { status } userErrors { field code message } } }',
      { id },
    );
    expect(again.data.cancelPrompt.userErrors).toEqual([
      { field: ['id'], code: 'INVALID_STATE', message: 'the prompt already ended (CANCELLED)' },
    ]);
  });

  it('trains two prompts at once with two workers', async () => {
    const a = (await server.gql(CREATE, { input: sevens({ ...small, steps: 60, previewEvery: 0 }) })).data
      .createPrompt.prompt.id;
    const b = (await server.gql(CREATE, { input: sevens({ ...small, steps: 60, previewEvery: 0 }) })).data
      .createPrompt.prompt.id;
    await waitFor(async () => {
      const [sa, sb] = [await promptState(a), await promptState(b)];
      return sa.status === 'TRAINING' && sb.status === 'TRAINING';
    });
    const [da, dbb] = await Promise.all(
      [a, b].map((id) =>
        waitFor(async () => {
          const s = await promptState(id);
          return s.status === 'SUCCEEDED' && s;
        }),
      ),
    );
    // The two runs overlapped in time.
    expect(Date.parse(da.startedAt)).toBeLessThan(Date.parse(dbb.finishedAt));
    expect(Date.parse(dbb.startedAt)).toBeLessThan(Date.parse(da.finishedAt));
  });
});

describe('bad input', () => {
  const total = async () => (await server.gql('{ prompts { totalCount } }')).data.prompts.totalCount;

  it.each([
    [
      'an unknown generator',
      { ...sevens(), generator: 'nope' },
      [{ field: ['generator'], code: 'NOT_FOUND', message: 'unknown generator "nope"' }],
    ],
    [
      'an unknown control',
      { ...sevens(), controls: [{ control: 'nope' }] },
      [{ field: ['controls', '0', 'control'], code: 'NOT_FOUND', message: 'unknown control "nope"' }],
    ],
    [
      'params that fail the schema',
      { ...sevens(), controls: [{ control: 'mnist-digit', params: { classes: [12] } }] },
      [
        {
          field: ['controls', '0', 'params', 'classes', '0'],
          code: 'BAD_USER_INPUT',
          message: expect.stringContaining('must be <= 9'),
        },
      ],
    ],
    [
      'an unknown param',
      { ...sevens(), controls: [{ control: 'mnist-digit', params: { classes: [1], colour: 'red' } }] },
      [
        {
          field: ['controls', '0', 'params', 'colour'],
          code: 'BAD_USER_INPUT',
          message: expect.stringContaining('not an allowed property'),
        },
      ],
    ],
    [
      'negative steps',
      sevens({ steps: -5 }),
      [
        {
          field: ['training', 'steps'],
          code: 'BAD_USER_INPUT',
          message: 'steps must be an integer from 1 to 5000 (got -5)',
        },
      ],
    ],
    [
      'huge steps',
      sevens({ steps: 10_000_000 }),
      [
        {
          field: ['training', 'steps'],
          code: 'BAD_USER_INPUT',
          message: 'steps must be an integer from 1 to 5000 (got 10000000)',
        },
      ],
    ],
    [
      'a zero weight',
      { ...sevens(), controls: [{ control: 'mnist-digit', weight: 0, params: { classes: [1] } }] },
      [
        {
          field: ['controls', '0', 'weight'],
          code: 'BAD_USER_INPUT',
          message: 'weight must be a number from 0.000001 to 1e6 (got 0)',
        },
      ],
    ],
    [
      'no controls',
      { ...sevens(), controls: [] },
      [{ field: ['controls'], code: 'BAD_USER_INPUT', message: 'at least one control is needed' }],
    ],
  ])('refuses %s with a userError and queues nothing', async (_what, input, errors) => {
    const before = await total();
    const res = await server.gql(CREATE, { input });
    expect(res.errors).toBeUndefined();
    expect(res.data.createPrompt).toEqual({ prompt: null, userErrors: errors });
    expect(await total()).toBe(before);
  });

  it('refuses to sample an unfinished prompt, an unknown one, or bad counts', async () => {
    const queued = await server.gql(CREATE, { input: sevens({ ...small, steps: 4000, previewEvery: 0 }) });
    const id = queued.data.createPrompt.prompt.id;
    const res = await server.gql(SAMPLE, { input: { prompt: id } });
    expect(res.data.sample.userErrors).toEqual([
      {
        field: ['prompt'],
        code: 'INVALID_STATE',
        message: expect.stringMatching(
          /^the prompt is (QUEUED|TRAINING); only a SUCCEEDED prompt can be sampled$/,
        ),
      },
    ]);
    await server.gql('mutation($id: ID!) { cancelPrompt(input: { id: $id }) { prompt { status } } }', { id });
    expect((await server.gql(SAMPLE, { input: { prompt: 'nope' } })).data.sample.userErrors).toEqual([
      { field: ['prompt'], code: 'NOT_FOUND', message: 'unknown prompt' },
    ]);
    expect(
      (await server.gql(SAMPLE, { input: { generator: 'mnist', count: 0 } })).data.sample.userErrors,
    ).toEqual([
      { field: ['count'], code: 'BAD_USER_INPUT', message: 'count must be an integer from 1 to 256 (got 0)' },
    ]);
    expect((await server.gql(SAMPLE, { input: {} })).data.sample.userErrors).toEqual([
      { field: ['prompt'], code: 'BAD_USER_INPUT', message: 'give exactly one of prompt or generator' },
    ]);
  });
});
