/**
 * Conditional prompts through the real server (issue #19): a conditional +
 * paired prompt trains, evaluates across its condition range (metrics.conditional)
 * and ends SUCCEEDED; `sample` refuses a condition outside the trained range with a
 * coded error and stores nothing; and the face controls (face-pose + face-identity,
 * the nets that used to end a prompt FAILED with "memory access out of bounds" in
 * evaluation) do the same on the bundled MNIST generator within a stated memory bound.
 *
 * Tiny training (a few steps): this file checks the machinery, not the effect;
 * the measured effect is test/plugins/controls/conditional.test.ts and docs/RESULTS.md.
 */
import * as fs from 'fs';
import { freshDatabase, startServer, type TestServer } from '../helpers/server';
import { waitFor } from '../helpers/wait';

let server: TestServer;
let db: Awaited<ReturnType<typeof freshDatabase>>;

beforeAll(async () => {
  db = await freshDatabase();
  server = await startServer({
    databaseUrl: db.url,
    env: { PROMPTGEN_WORKERS: '1', PROMPTGEN_EVALUATION_SAMPLES: '16' },
  });
});

afterAll(async () => {
  await server?.stop();
  await db?.drop();
});

const CREATE = `mutation($input: CreatePromptInput!) {
  createPrompt(input: $input) { prompt { id status training { steps } } userErrors { field message code } }
}`;
const SAMPLE = `mutation($input: SampleInput!) { sample(input: $input) { sampleSet { id count } userErrors { field message code } } }`;
const COUNT_SETS = `query($id: ID!) { prompt(id: $id) { sampleSets(first: 50) { edges { node { id kind } } } } }`;

async function finished(id: string, timeoutMs: number) {
  return waitFor(
    async () => {
      const res = await server.gql('query($id: ID!) { prompt(id: $id) { status error metrics } }', { id });
      const p = res.data?.prompt;
      return p && ['SUCCEEDED', 'FAILED', 'CANCELLED'].includes(p.status) ? p : null;
    },
    timeoutMs,
    500,
  );
}

/** Peak resident memory of the server process (Linux /proc), in MiB. */
function peakRssMiB(): number {
  const status = fs.readFileSync(`/proc/${server.proc.child.pid}/status`, 'utf8');
  const kb = Number(/VmHWM:\s+(\d+)\s+kB/.exec(status)![1]);
  return kb / 1024;
}

describe('conditional prompts on the server', () => {
  let slantPrompt: string;

  it('mnist-slant + mnist-same-digit: trains, reports metrics per condition across the range, SUCCEEDED', async () => {
    const created = await server.gql(CREATE, {
      input: {
        generator: 'mnist',
        name: 'slanted, same digit',
        controls: [
          { control: 'mnist-slant', weight: 1, params: { range: 0.3 } },
          { control: 'mnist-same-digit', weight: 1 },
        ],
        training: { steps: 20, batchSize: 8, flowBlocks: 2, hiddenUnits: 32, previewEvery: 10, seed: 5 },
      },
    });
    expect(created.data.createPrompt.userErrors).toEqual([]);
    slantPrompt = created.data.createPrompt.prompt.id;
    const p = await finished(slantPrompt, 120_000);
    expect(p.error).toBeNull();
    expect(p.status).toBe('SUCCEEDED');
    const c = p.metrics.conditional;
    expect(c).toMatchObject({
      conditionDim: 1,
      names: ['slant'],
      min: [-0.3],
      max: [0.3],
      samplesPerLevel: 8,
    });
    expect(c.components).toHaveLength(1);
    const comp = c.components[0];
    expect(comp.levels.map((l: { requested: number }) => l.requested)).toEqual(
      [-0.3, -0.15, 0, 0.15, 0.3].map((v) => expect.closeTo(v, 6)),
    );
    expect(Number.isFinite(comp.slope)).toBe(true);
    for (const l of comp.levels) {
      expect(Number.isFinite(l.measuredMean)).toBe(true);
      const same = l.paired['mnist-same-digit'];
      expect(same.sameDigit).toBeGreaterThanOrEqual(0);
      expect(same.sameDigit).toBeLessThanOrEqual(1);
      expect(Number.isFinite(same.featureCosine)).toBe(true);
      expect(Number.isFinite(same.energy)).toBe(true);
    }
    // At ρ = 0 the image is its own pair.
    const mid = comp.levels[2].paired['mnist-same-digit'];
    expect(mid.sameDigit).toBe(1);
    expect(mid.energy).toBeLessThan(1e-4);
    expect(
      p.metrics.controls.find((e: { control: string }) => e.control === 'mnist-same-digit'),
    ).toMatchObject({ paired: true });
  }, 150_000);

  it('sample: a condition inside the trained range works; outside it is refused with CONDITION_OUT_OF_RANGE and stores nothing', async () => {
    const ok = await server.gql(SAMPLE, {
      input: { prompt: slantPrompt, count: 4, seed: 1, condition: [0.3] },
    });
    expect(ok.data.sample.userErrors).toEqual([]);
    expect(ok.data.sample.sampleSet.count).toBe(4);
    const before = (await server.gql(COUNT_SETS, { id: slantPrompt })).data.prompt.sampleSets.edges.length;
    for (const condition of [[0.9], [-0.31]]) {
      const res = await server.gql(SAMPLE, { input: { prompt: slantPrompt, count: 4, seed: 1, condition } });
      expect(res.data.sample.sampleSet).toBeNull();
      expect(res.data.sample.userErrors).toEqual([
        {
          field: ['condition', '0'],
          code: 'CONDITION_OUT_OF_RANGE',
          message: `condition[0] (slant) = ${condition[0]} is outside the range this prompt was trained on, [-0.3, 0.3]`,
        },
      ]);
    }
    const after = (await server.gql(COUNT_SETS, { id: slantPrompt })).data.prompt.sampleSets.edges.length;
    expect(after).toBe(before);
  });

  it('face-pose + face-identity (paired, the face descriptor net) on the mnist generator: SUCCEEDED with per-condition metrics, bounded memory', async () => {
    const created = await server.gql(CREATE, {
      input: {
        generator: 'mnist',
        name: 'pose with identity kept',
        controls: [
          { control: 'face-pose', weight: 200, params: { yawRange: 20, pitchRange: 10 } },
          { control: 'face-identity', weight: 10 },
        ],
        training: { steps: 3, batchSize: 2, flowBlocks: 2, hiddenUnits: 16, previewEvery: 0, seed: 5 },
      },
    });
    expect(created.data.createPrompt.userErrors).toEqual([]);
    const id = created.data.createPrompt.prompt.id;
    const p = await finished(id, 240_000);
    expect(p.error).toBeNull();
    expect(p.status).toBe('SUCCEEDED');
    const c = p.metrics.conditional;
    expect(c.names).toEqual(['yaw', 'pitch', 'roll']);
    expect(c.min).toEqual([-20 / 45, -10 / 45, 0].map((v) => expect.closeTo(v, 6)));
    // yaw and pitch are swept (roll's range is 0), five levels each.
    expect(c.components.map((x: { name: string }) => x.name)).toEqual(['yaw', 'pitch']);
    for (const comp of c.components) {
      expect(comp.levels).toHaveLength(5);
      for (const l of comp.levels) {
        expect(Number.isFinite(l.measuredMean)).toBe(true);
        const id2 = l.paired['face-identity'];
        expect(id2.descriptorCosine).toBeGreaterThan(0);
        expect(id2.descriptorCosine).toBeLessThanOrEqual(1 + 1e-5);
        expect(Number.isFinite(id2.descriptorDistance)).toBe(true);
        expect(Number.isFinite(id2.energy)).toBe(true);
      }
    }
    // The bound: the whole server process (API, embedded database where used, the training thread with
    // its wasm heaps and both face nets) peaked below 3 GiB. Measured: see docs/FACES.md.
    const peak = peakRssMiB();
    console.log(`face prompt: server peak RSS ${peak.toFixed(0)} MiB; yaw slope ${c.components[0].slope}`);
    expect(peak).toBeLessThan(3072);
  }, 300_000);
});
