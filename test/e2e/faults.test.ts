/**
 * Faults: a worker process killed with SIGKILL mid-training (another worker
 * resumes from the last checkpoint and finishes every step), and a server
 * restart that must not lose a queued prompt.
 */
import { freshDatabase, startProcess, startServer, type ProcessHandle } from '../helpers/server';
import { tempDir, usingPostgres } from '../helpers/database';
import { waitFor } from '../helpers/wait';

const CREATE = `mutation($input: CreatePromptInput!) { createPrompt(input: $input) { prompt { id } userErrors { message } } }`;
const STATE = `query($id: ID!) { prompt(id: $id) { status error progress { step totalSteps } } }`;
const input = (steps: number) => ({
  generator: 'mnist',
  controls: [{ control: 'mnist-digit', weight: 5, params: { classes: [3] } }],
  training: { steps, batchSize: 4, flowBlocks: 2, hiddenUnits: 32, previewEvery: 0, seed: 9 },
});

if (!usingPostgres)
  console.warn(
    'skipping the SIGKILL-and-resume test: it needs separate worker processes sharing a PostgreSQL (set DATABASE_URL)',
  );
(usingPostgres ? describe : describe.skip)(
  'a worker killed mid-training (separate worker processes, PostgreSQL)',
  () => {
    it('is resumed by another worker from its last checkpoint and finishes all steps', async () => {
      const db = await freshDatabase();
      const server = await startServer({ databaseUrl: db.url, env: { PROMPTGEN_WORKERS: '0' } });
      const workerEnv = {
        DATABASE_URL: db.url!,
        PROMPTGEN_WORKERS: '1',
        PROMPTGEN_CHECKPOINT_EVERY: '5',
        PROMPTGEN_JOB_HEARTBEAT_SECONDS: '10',
      };
      let first: ProcessHandle | undefined;
      let second: ProcessHandle | undefined;
      try {
        first = startProcess(['worker'], { ...workerEnv, PROMPTGEN_DATA_DIR: tempDir() });
        await first.waitFor(/training workers: 1/);
        const created = await server.gql(CREATE, { input: input(120) });
        const id = created.data.createPrompt.prompt.id;
        await waitFor(async () => ((await server.gql(STATE, { id })).data.prompt.progress?.step ?? 0) >= 20);
        first.child.kill('SIGKILL');
        expect(await first.exited).toBeNull(); // killed by the signal, no clean exit
        const stepAtKill = (await server.gql(STATE, { id })).data.prompt.progress.step;
        expect(stepAtKill).toBeLessThan(120);

        second = startProcess(['worker'], { ...workerEnv, PROMPTGEN_DATA_DIR: tempDir() });
        const resumed = await second.waitFor(/resuming from step (\d+)/, 120_000);
        const from = Number(resumed[1]);
        expect(from).toBeGreaterThanOrEqual(15);
        expect(from).toBeLessThanOrEqual(stepAtKill);
        const done = await waitFor(async () => {
          const p = (await server.gql(STATE, { id })).data.prompt;
          return ['SUCCEEDED', 'FAILED'].includes(p.status) && p;
        });
        expect(done).toEqual({ status: 'SUCCEEDED', error: null, progress: { step: 120, totalSteps: 120 } });
        const sample = await server.gql(
          'mutation($id: ID!) { sample(input: { prompt: $id, count: 2, seed: 1 }) { sampleSet { count } userErrors { message } } }',
          { id },
        );
        expect(sample.data.sample).toEqual({ sampleSet: { count: 2 }, userErrors: [] });
      } finally {
        first?.child.kill('SIGKILL');
        await second?.stop();
        await server.stop();
        await db.drop();
      }
    });
  },
);

describe('a server restart', () => {
  it('loses no queued prompt: it trains after the restart', async () => {
    const db = await freshDatabase();
    const dataDir = tempDir();
    const before = await startServer({ databaseUrl: db.url, dataDir, env: { PROMPTGEN_WORKERS: '0' } });
    let after: Awaited<ReturnType<typeof startServer>> | undefined;
    try {
      const created = await before.gql(CREATE, { input: input(10) });
      const id = created.data.createPrompt.prompt.id;
      expect(await before.stop()).toBe(0);
      after = await startServer({ databaseUrl: db.url, dataDir, env: { PROMPTGEN_WORKERS: '1' } });
      const done = await waitFor(async () => {
        const p = (await after!.gql(STATE, { id })).data.prompt;
        return ['SUCCEEDED', 'FAILED'].includes(p.status) && p;
      });
      expect(done).toEqual({ status: 'SUCCEEDED', error: null, progress: { step: 10, totalSteps: 10 } });
    } finally {
      await before.stop();
      await after?.stop();
      await db.drop();
    }
  });
});
