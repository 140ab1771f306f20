/**
 * One embedded data directory, one process: a second `serve` on the same
 * directory refuses with a clear message naming the owner; after the owner
 * is killed (SIGKILL: its lock file stays behind) the next start takes the
 * stale lock over, resumes the training from its last checkpoint, and the
 * prompt's history holds every step exactly once (the steps between the
 * checkpoint and the kill are trained twice, recorded once).
 */
import { startProcess, startServer, type TestServer } from '../../helpers/server';
import { tempDir } from '../../helpers/database';
import { waitFor } from '../../helpers/wait';

const CREATE = `mutation($input: CreatePromptInput!) { createPrompt(input: $input) { prompt { id } userErrors { message } } }`;
const STATE = `query($id: ID!) { prompt(id: $id) { status error progress { step } } }`;
const HISTORY = `query($id: ID!) { prompt(id: $id) { history { step } } }`;
const STEPS = 1000; // progress every 5 steps (200 points)
const EVERY = 5;

describe('an embedded data directory', () => {
  let first: TestServer | undefined;
  let second: TestServer | undefined;
  afterAll(async () => {
    await first?.stop();
    await second?.stop();
  });

  it('is refused to a second process, taken over from a killed one, and resumed training records each step once', async () => {
    const dataDir = tempDir();
    const env = {
      PROMPTGEN_WORKERS: '1',
      PROMPTGEN_CHECKPOINT_EVERY: '20',
      PROMPTGEN_JOB_HEARTBEAT_SECONDS: '10',
    };
    first = await startServer({ dataDir, env });
    const created = await first.gql(CREATE, {
      input: {
        generator: 'mnist',
        controls: [{ control: 'mnist-digit', weight: 5, params: { classes: [1] } }],
        training: { steps: STEPS, batchSize: 4, flowBlocks: 2, hiddenUnits: 32, previewEvery: 0, seed: 4 },
      },
    });
    const id = created.data.createPrompt.prompt.id;

    // A second process on the same directory: refused, naming the owner.
    const intruder = startProcess(['serve'], {
      PROMPTGEN_DATA_DIR: dataDir,
      DATABASE_URL: '',
      PORT: '0',
      HOST: '127.0.0.1',
    });
    expect(await intruder.exited).not.toBe(0);
    expect(intruder.output()).toContain(`is already open in process ${first.proc.child.pid}`);
    expect(intruder.output()).toContain('the embedded database is for one process');
    expect(intruder.output()).not.toMatch(/\n\s+at /); // a message, not a stack trace

    await waitFor(
      async () => ((await first!.gql(STATE, { id })).data.prompt.progress?.step ?? 0) >= 45,
      120_000,
    );
    first.proc.child.kill('SIGKILL');
    await first.proc.exited;
    first = undefined;

    second = await startServer({ dataDir, env });
    const resumed = await second.proc.waitFor(/resuming from step (\d+)/, 120_000);
    expect(Number(resumed[1])).toBeGreaterThanOrEqual(20);
    const done = await waitFor(async () => {
      const p = (await second!.gql(STATE, { id })).data.prompt;
      return ['SUCCEEDED', 'FAILED'].includes(p.status) && p;
    }, 180_000);
    expect(done).toEqual({ status: 'SUCCEEDED', error: null, progress: { step: STEPS } });
    const steps = (await second.gql(HISTORY, { id })).data.prompt.history.map((h: any) => h.step);
    expect(steps).toEqual(Array.from({ length: STEPS / EVERY }, (_, i) => EVERY * (i + 1)));
  }, 480_000);
});
