/**
 * The generic controls through the real server and a real client: createPrompt
 * refuses an unknown classifier before anything is queued (checkParams), and a
 * prompt composing `debias` and `classifier` over the `mnist-digit` classifier
 * trains in the worker thread (β̂ fitted there, kept with the prompt) and stores
 * its metrics: samples, per-control mean energies, histograms, KL to the target,
 * and the side-effect audit (metrics.sideEffects and the typed Prompt.sideEffects).
 * A prompt trained for one step shows its base generator's images on the same seed.
 * Needs a build (`npm run build`).
 */
import { PNG } from 'pngjs';
import { fetchBytes, freshDatabase, startServer, type TestServer } from '../../helpers/server';

let server: TestServer;
let db: Awaited<ReturnType<typeof freshDatabase>>;

beforeAll(async () => {
  db = await freshDatabase();
  server = await startServer({ databaseUrl: db.url, env: { PROMPTGEN_WORKERS: '1' } });
}, 120_000);

afterAll(async () => {
  await server?.stop();
  await db?.drop();
});

const CREATE = `mutation($input: CreatePromptInput!) {
  createPrompt(input: $input) { prompt { id status } userErrors { field message code } }
}`;
const training = { steps: 6, batchSize: 4, flowBlocks: 2, hiddenUnits: 32, previewEvery: 0, seed: 5 };

async function waitFor<T>(
  check: () => Promise<T | undefined | null | false>,
  timeoutMs = 120_000,
): Promise<T> {
  const start = Date.now();
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() - start > timeoutMs) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 250));
  }
}

test('the catalog lists the classifier and debias controls', async () => {
  const res = await server.gql('{ controls { name } }');
  const names = (res.data?.controls ?? []).map((c: { name: string }) => c.name);
  expect(names).toEqual(expect.arrayContaining(['classifier', 'debias']));
});

test('createPrompt refuses an unknown classifier, a class it does not have and a wrong target length (no prompt is created)', async () => {
  const res = await server.gql(CREATE, {
    input: {
      generator: 'mnist',
      controls: [
        { control: 'classifier', params: { targets: [{ classifier: 'no-such-classifier', classes: [7] }] } },
        { control: 'debias', params: { attributes: [{ classifier: 'mnist-digit', classes: [0, 11] }] } },
        { control: 'debias', params: { attributes: [{ classifier: 'mnist-digit', target: [1, 1] }] } },
      ],
      training,
    },
  });
  expect(res.errors).toBeUndefined();
  expect(res.data.createPrompt.prompt).toBeNull();
  expect(res.data.createPrompt.userErrors).toEqual([
    {
      field: ['controls', '0', 'params', 'targets', '0', 'classifier'],
      code: 'BAD_USER_INPUT',
      message: expect.stringMatching(/unknown classifier "no-such-classifier" \(known: .*mnist-digit/),
    },
    {
      field: ['controls', '1', 'params', 'attributes', '0', 'classes', '1'],
      code: 'BAD_USER_INPUT',
      message: expect.stringMatching(/unknown class 11 of classifier "mnist-digit"/),
    },
    {
      field: ['controls', '2', 'params', 'attributes', '0', 'target'],
      code: 'BAD_USER_INPUT',
      message: expect.stringMatching(/must have 10 entries/),
    },
  ]);
});

test('a prompt with debias and classifier trains and stores histograms, KL and sample counts', async () => {
  const created = await server.gql(CREATE, {
    input: {
      generator: 'mnist',
      name: 'balanced sevens-ish',
      controls: [
        {
          control: 'debias',
          weight: 1,
          params: { attributes: [{ classifier: 'mnist-digit' }], samples: 64, iterations: 100 },
        },
        {
          control: 'classifier',
          weight: 2,
          params: { targets: [{ classifier: 'mnist-digit', classes: [7] }] },
        },
      ],
      training,
    },
  });
  expect(created.data.createPrompt.userErrors).toEqual([]);
  const id = created.data.createPrompt.prompt.id;
  const done = await waitFor(async () => {
    const r = await server.gql('query($id: ID!) { prompt(id: $id) { status error metrics } }', { id });
    const p = r.data?.prompt;
    return p && ['SUCCEEDED', 'FAILED', 'CANCELLED'].includes(p.status) ? p : null;
  });
  expect(done.error).toBeNull();
  expect(done.status).toBe('SUCCEEDED');
  const m = done.metrics;
  expect(m.samples).toBeGreaterThan(0);
  const [debias, classifier] = m.controls;
  expect(debias).toMatchObject({
    control: 'debias',
    weight: 1,
    meanEnergyBase: expect.any(Number),
    meanEnergyPrompt: expect.any(Number),
  });
  for (const side of [debias.base, debias.prompt]) {
    expect(side.count).toBe(m.samples);
    expect(Object.keys(side.histogram)).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
    expect(Object.values(side.histogram as Record<string, number>).reduce((a, b) => a + b, 0)).toBe(
      m.samples,
    );
    expect(side.marginal).toHaveLength(10);
    expect(side.kl).toEqual(expect.any(Number));
    expect(side.attributes[0].beta).toHaveLength(10);
  }
  expect(classifier).toMatchObject({ control: 'classifier', weight: 2 });
  expect(classifier.prompt.targets[0]).toMatchObject({
    classifier: 'mnist-digit',
    classes: ['7'],
    targetRate: expect.any(Number),
  });
  expect(Object.values(classifier.base.histogram as Record<string, number>).reduce((a, b) => a + b, 0)).toBe(
    m.samples,
  );
  // debias reports the counted marginal and the mean probability, before and after
  expect(debias.prompt.softMarginal).toHaveLength(10);
  expect(debias.prompt.attributes[0]).toMatchObject({
    adaptive: expect.any(Boolean),
    softKl: expect.any(Number),
  });

  // The side-effect audit: every classifier that fits 28×28 (here mnist-digit, the steered one), same ε.
  expect(m.sideEffects).toMatchObject({ samples: m.samples, failed: [] });
  const audit = await server.gql(
    `query($id: ID!) {
      prompt(id: $id) {
        sideEffects {
          classifier steered samples shift classNames
          baseMarginal promptMarginal baseMeanProbability promptMeanProbability
          classes { className base prompt change }
        }
      }
    }`,
    { id },
  );
  expect(audit.errors).toBeUndefined();
  const [digit] = audit.data.prompt.sideEffects;
  expect(digit).toMatchObject({ classifier: 'mnist-digit', steered: true, samples: m.samples });
  expect(digit.baseMarginal.reduce((a: number, b: number) => a + b, 0)).toBeCloseTo(1, 6);
  expect(digit.promptMarginal.reduce((a: number, b: number) => a + b, 0)).toBeCloseTo(1, 6);
  const changes = digit.classes.map((c: { change: number }) => Math.abs(c.change));
  expect(changes).toEqual([...changes].sort((a, b) => b - a));
  expect(digit.shift).toBeCloseTo(changes.reduce((a: number, b: number) => a + b, 0) / 2, 9);
  // the base marginal is the same evaluation the debias control reports for the base
  expect(digit.baseMarginal).toEqual(debias.base.marginal.map((x: number) => expect.closeTo(x, 9)));
}, 180_000);

test('a prompt trained for one step shows the same images as its base generator on the same seed (identity at creation)', async () => {
  const created = await server.gql(CREATE, {
    input: {
      generator: 'mnist',
      controls: [
        {
          control: 'classifier',
          weight: 2,
          params: { targets: [{ classifier: 'mnist-digit', classes: [7] }] },
        },
      ],
      training: { steps: 1, batchSize: 16, previewEvery: 0, seed: 5 }, // default flow size (8 blocks)
    },
  });
  expect(created.data.createPrompt.userErrors).toEqual([]);
  const id = created.data.createPrompt.prompt.id;
  await waitFor(async () => {
    const r = await server.gql('query($id: ID!) { prompt(id: $id) { status } }', { id });
    return ['SUCCEEDED', 'FAILED', 'CANCELLED'].includes(r.data?.prompt?.status) && r.data.prompt.status;
  });
  const SAMPLE =
    'mutation($input: SampleInput!) { sample(input: $input) { sampleSet { images { url } } userErrors { message } } }';
  const pixels = async (input: Record<string, unknown>): Promise<number[][]> => {
    const r = await server.gql(SAMPLE, { input: { ...input, count: 16, seed: 21 } });
    expect(r.data.sample.userErrors).toEqual([]);
    return Promise.all(
      r.data.sample.sampleSet.images.map(async (im: { url: string }) => {
        const png = PNG.sync.read((await fetchBytes(im.url)).body);
        return Array.from({ length: png.width * png.height }, (_, k) => png.data[4 * k]! / 255);
      }),
    );
  };
  const base = await pixels({ generator: 'mnist' });
  const prompt = await pixels({ prompt: id });
  let sum = 0;
  let count = 0;
  base.forEach((img, i) => img.forEach((v, k) => ((sum += Math.abs(v - prompt[i]![k]!)), (count += 1))));
  const meanAbs = sum / count;
  console.log(`one step: mean |Δ| per pixel, prompt vs base, same seed: ${meanAbs.toFixed(5)}`);
  expect(meanAbs).toBeLessThan(0.02);
  // the images are not trivially equal because both are blank: they are digits
  expect(base.flat().reduce((a, b) => a + b, 0) / count).toBeGreaterThan(0.05);
}, 180_000);
