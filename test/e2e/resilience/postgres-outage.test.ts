/**
 * A PostgreSQL outage during training heals without a restart: the test runs
 * its own cluster, kills it (`pg_ctl stop -m immediate`) while a prompt
 * trains and a client watches, keeps it down for several seconds, starts it
 * again, and checks that
 * - /readyz says not ready while it is down (database, event bus) and ready after;
 * - a createPrompt during the outage leaves nothing behind;
 * - the subscription opened before the outage gets the state it missed and
 *   the prompt's end; one opened after gets live events, not only its first;
 * - the prompt finishes with every history point recorded exactly once;
 * - a prompt created after the outage trains; no prompt is left QUEUED/TRAINING.
 */
import { startServer, subscribe, type TestServer } from '../../helpers/server';
import { startThrowawayPostgres, type ThrowawayPostgres } from '../../helpers/throwaway-postgres';
import { waitFor } from '../../helpers/wait';

const CREATE = `mutation($input: CreatePromptInput!) { createPrompt(input: $input) { prompt { id status } userErrors { message code } } }`;
const STATE = `query($id: ID!) { prompt(id: $id) { status error progress { step totalSteps } } }`;
const HISTORY = `query($id: ID!) { prompt(id: $id) { history { step } } }`;
const PROGRESS = `subscription($id: ID!) { trainingProgress(promptId: $id) { status step totalSteps } }`;
const COUNT = `{ prompts(first: 100) { totalCount nodes { id status } } }`;

// Progress every 5 steps: 200 points. Whether it still trains after the outage or finished
// meanwhile (its output waiting for the database) depends on the machine's speed; both must heal.
const STEPS = 1000;
const EVERY = STEPS / 200;
const input = (steps: number, seed = 3) => ({
  generator: 'mnist',
  controls: [{ control: 'mnist-digit', weight: 5, params: { classes: [3] } }],
  training: { steps, batchSize: 4, flowBlocks: 2, hiddenUnits: 32, previewEvery: 0, seed },
});
const OUTAGE_MS = 8_000;

async function readyz(server: TestServer): Promise<{ status: number; body: any }> {
  try {
    const res = await fetch(`${server.url}/readyz`);
    return { status: res.status, body: await res.json() };
  } catch (err) {
    return { status: 0, body: { error: String(err) } };
  }
}

describe('a PostgreSQL outage during training', () => {
  let pg: ThrowawayPostgres;
  let server: TestServer;
  const clients: Array<ReturnType<TestServer['wsClient']>> = [];

  beforeAll(async () => {
    pg = await startThrowawayPostgres();
    server = await startServer({
      databaseUrl: pg.url,
      env: {
        PROMPTGEN_WORKERS: '1',
        PROMPTGEN_CHECKPOINT_EVERY: '20',
        PROMPTGEN_JOB_HEARTBEAT_SECONDS: '30',
      },
    });
  }, 180_000);

  afterAll(async () => {
    for (const c of clients) await c.dispose();
    await server?.stop();
    pg?.destroy();
  });

  it('heals: bus and subscriptions recover, nothing is lost or stuck, nothing half-made', async () => {
    const created = await server.gql(CREATE, { input: input(STEPS) });
    const id = created.data.createPrompt.prompt.id;
    const client = server.wsClient();
    clients.push(client);
    const before = subscribe<any>(client, PROGRESS, { id });
    await waitFor(
      async () => ((await server.gql(STATE, { id })).data.prompt.progress?.step ?? 0) >= 20,
      180_000,
    );
    expect((await readyz(server)).status).toBe(200);

    pg.kill();
    const killedAt = Date.now();
    const eventsAtKill = before.events.length;
    // While down: not ready (database and bus), and a createPrompt fails without leaving anything behind.
    const down = await waitFor(async () => {
      const r = await readyz(server);
      return r.status === 503 && /event bus/.test(r.body.reason) && r;
    }, 10_000);
    expect(down.body.reason).toMatch(/database unreachable/);
    expect(down.body.reason).not.toMatch(/127\.0\.0\.1|ECONNREFUSED|\//);
    const during = await server.gql(CREATE, { input: input(10, 4) });
    expect(during.data?.createPrompt?.prompt ?? null).toBeNull();
    await new Promise((r) => setTimeout(r, Math.max(0, OUTAGE_MS - (Date.now() - killedAt))));

    pg.start();
    const up = await waitFor(async () => {
      const r = await readyz(server);
      return r.status === 200 && r;
    }, 60_000);
    expect(up.body).toMatchObject({
      status: 'ready',
      database: 'postgresql',
      events: 'connected',
      writes: 'ok',
    });
    expect(server.proc.output()).toMatch(/event bus reconnected \(1 since start\)/);

    // A subscription opened after the outage gets live events, not only its first.
    const later = await server.gql(CREATE, { input: input(1000, 5) });
    const laterId = later.data.createPrompt.prompt.id;
    await waitFor(
      async () => (await server.gql(STATE, { id: laterId })).data.prompt.status === 'TRAINING',
      300_000,
    );
    const lateClient = server.wsClient();
    clients.push(lateClient);
    const after = subscribe<any>(lateClient, PROGRESS, { id: laterId }, (events) => events.length >= 3);
    const afterEvents = await Promise.race([
      after.done,
      new Promise<never>((_, reject) =>
        setTimeout(() => reject(new Error(`only ${after.events.length} events after the outage`)), 120_000),
      ),
    ]);
    expect(afterEvents.length).toBeGreaterThanOrEqual(3);
    const afterSteps = afterEvents.map((e) => e.trainingProgress.step);
    expect(afterSteps[afterSteps.length - 1]!).toBeGreaterThan(afterSteps[0]!);

    // The subscription from before the outage keeps going and ends with the prompt.
    const beforeEvents = await before.done;
    expect(beforeEvents.length).toBeGreaterThan(eventsAtKill);
    const last = beforeEvents[beforeEvents.length - 1].trainingProgress;
    expect(last).toEqual({ status: 'SUCCEEDED', step: STEPS, totalSteps: STEPS });
    expect(before.errors).toEqual([]);

    const done = (await server.gql(STATE, { id })).data.prompt;
    expect(done).toEqual({ status: 'SUCCEEDED', error: null, progress: { step: STEPS, totalSteps: STEPS } });
    // Every progress point written once: steps 5, 10, …, 1000.
    const steps = (await server.gql(HISTORY, { id })).data.prompt.history.map((h: any) => h.step);
    expect(steps).toEqual(Array.from({ length: 200 }, (_, i) => EVERY * (i + 1)));

    // The failed createPrompt left no prompt; the new one trains; nothing is stuck.
    await waitFor(
      async () => (await server.gql(STATE, { id: laterId })).data.prompt.status === 'SUCCEEDED',
      300_000,
    );
    const all = (await server.gql(COUNT)).data.prompts;
    expect(all.totalCount).toBe(2);
    expect(all.nodes.map((n: any) => n.status)).toEqual(['SUCCEEDED', 'SUCCEEDED']);
  }, 600_000);
});
