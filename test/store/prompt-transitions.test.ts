/**
 * A prompt's status moves only along the table in prompt-status.ts, and the
 * store's transitions enforce it in the database: an ended prompt never goes
 * back to TRAINING, never ends twice, and cannot be cancelled.
 */
import { canMove, isTerminal, statusesBefore } from '../../src/store/prompt-status';
import { PROMPT_STATUSES, type PromptStatusValue } from '../../src/store/entities';
import { openTestDatabase, type TestDatabase } from '../helpers/database';
import { seedCatalog, seedPrompt } from '../helpers/seed';

const ENDS: PromptStatusValue[] = ['SUCCEEDED', 'FAILED', 'CANCELLED'];

describe('the transition table', () => {
  it('lets a live prompt start, retry and end, and an ended one do nothing', () => {
    expect(canMove('QUEUED', 'TRAINING')).toBe(true);
    expect(canMove('TRAINING', 'TRAINING')).toBe(true); // a retried or resumed job
    for (const end of ENDS) {
      expect(canMove('QUEUED', end)).toBe(true);
      expect(canMove('TRAINING', end)).toBe(true);
      expect(isTerminal(end)).toBe(true);
      for (const to of PROMPT_STATUSES) expect(canMove(end, to)).toBe(false);
    }
    for (const to of PROMPT_STATUSES) expect(canMove(to, 'QUEUED')).toBe(false); // nothing goes back to the queue
    expect(isTerminal('QUEUED')).toBe(false);
    expect(isTerminal('TRAINING')).toBe(false);
    expect(isTerminal('NO_SUCH_STATUS')).toBe(false);
  });

  it('names the statuses each UPDATE must find', () => {
    expect(statusesBefore('TRAINING')).toEqual(['QUEUED', 'TRAINING']);
    for (const end of ENDS) expect(statusesBefore(end)).toEqual(['QUEUED', 'TRAINING']);
    expect(statusesBefore('QUEUED')).toEqual([]);
  });
});

describe('the store transitions', () => {
  let db: TestDatabase;
  let seeded: Awaited<ReturnType<typeof seedCatalog>>;
  const prompt = (status: PromptStatusValue) =>
    seedPrompt(db.dataSource, seeded.generator, seeded.control, { status });

  beforeAll(async () => {
    db = await openTestDatabase();
    seeded = await seedCatalog(db.dataSource);
  });
  afterAll(async () => {
    await db?.close();
  });

  it('starts a queued prompt and counts every attempt, keeping the first start time', async () => {
    const p = await prompt('QUEUED');
    expect(await db.store.startTraining(p.id)).toBe(true);
    const first = (await db.store.promptById(p.id))!;
    expect(first).toMatchObject({ status: 'TRAINING', attempts: 1, error: null });
    expect(first.startedAt).toBeInstanceOf(Date);
    expect(await db.store.startTraining(p.id)).toBe(true);
    const again = (await db.store.promptById(p.id))!;
    expect(again.attempts).toBe(2);
    expect(again.startedAt!.getTime()).toBe(first.startedAt!.getTime());
  });

  it.each(ENDS)('never moves a %s prompt back to TRAINING', async (end) => {
    const p = await prompt(end);
    expect(await db.store.startTraining(p.id)).toBe(false);
    expect(await db.store.promptById(p.id)).toMatchObject({ status: end, attempts: 0, startedAt: null });
  });

  it('ends a prompt once: a second end, or a cancel after it, changes nothing', async () => {
    const p = await prompt('TRAINING');
    expect(await db.store.finishPrompt(p.id, { status: 'SUCCEEDED', metrics: { fid: 1.5 } })).toBe(true);
    const done = (await db.store.promptById(p.id))!;
    expect(done).toMatchObject({ status: 'SUCCEEDED', metrics: { fid: 1.5 }, error: null });
    expect(done.finishedAt).toBeInstanceOf(Date);

    expect(await db.store.finishPrompt(p.id, { status: 'FAILED', error: 'late failure' })).toBe(false);
    const cancel = await db.store.cancelPrompt(p.id);
    expect(cancel.changed).toBe(false);
    expect(cancel.row?.status).toBe('SUCCEEDED');
    expect(await db.store.promptById(p.id)).toMatchObject({
      status: 'SUCCEEDED',
      error: null,
      finishedAt: done.finishedAt,
    });
  });

  it('cancels a live prompt, after which the training job can neither start nor finish it', async () => {
    const p = await prompt('QUEUED');
    const cancel = await db.store.cancelPrompt(p.id);
    expect(cancel.changed).toBe(true);
    expect(cancel.row?.status).toBe('CANCELLED');
    expect(await db.store.startTraining(p.id)).toBe(false);
    expect(await db.store.finishPrompt(p.id, { status: 'SUCCEEDED' })).toBe(false);
    expect((await db.store.promptById(p.id))?.status).toBe('CANCELLED');
  });

  it('says an unknown prompt is unknown, and changes no row for it', async () => {
    const missing = '00000000-0000-4000-8000-000000000000';
    expect(await db.store.cancelPrompt(missing)).toEqual({ row: null, changed: false });
    expect(await db.store.startTraining(missing)).toBe(false);
    expect(await db.store.finishPrompt(missing, { status: 'FAILED', error: 'x' })).toBe(false);
  });

  it('counts only live prompts', async () => {
    const before = await db.store.countLivePrompts();
    await prompt('QUEUED');
    await prompt('TRAINING');
    await prompt('FAILED');
    expect(await db.store.countLivePrompts()).toBe(before + 2);
  });

  it('creates a prompt QUEUED with its job id, or not at all when enqueueing fails', async () => {
    const fields = {
      name: 'new',
      generatorId: seeded.generator.id,
      controls: [],
      training: {
        steps: 1,
        batchSize: 1,
        learningRate: 1e-3,
        flowBlocks: 1,
        hiddenUnits: 4,
        seed: 1,
        previewEvery: 0,
      },
      pluginVersions: {},
    };
    const row = await db.store.createQueuedPrompt(fields, async (promptId, executeSql) => {
      // The runner is the transaction's: the prompt is visible to it before the commit.
      const { rows } = await executeSql('SELECT status FROM prompts WHERE id = $1', [promptId]);
      expect(rows).toEqual([{ status: 'QUEUED' }]);
      return 'job-1';
    });
    expect(await db.store.promptById(row.id)).toMatchObject({
      status: 'QUEUED',
      jobId: 'job-1',
      name: 'new',
    });

    const live = await db.store.countLivePrompts();
    await expect(
      db.store.createQueuedPrompt({ ...fields, name: 'refused' }, async () =>
        Promise.reject(new Error('queue down')),
      ),
    ).rejects.toThrow('queue down');
    expect(await db.store.countLivePrompts()).toBe(live);
  });

  it("adds a trained prompt's generator once", async () => {
    const p = await prompt('TRAINING');
    const gen = {
      name: `prompt-${p.id}`,
      title: 'T',
      description: null,
      latentDim: 8,
      width: 28,
      height: 28,
      channels: 1,
    };
    await db.store.addTrainedGenerator(p.id, gen);
    await db.store.addTrainedGenerator(p.id, { ...gen, title: 'second write' });
    expect(await db.store.generatorForPrompt(p.id)).toMatchObject({
      name: `prompt-${p.id}`,
      title: 'T',
      pluginId: null,
      available: true,
    });
  });

  it('stores a calibration as JSON', async () => {
    const p = await prompt('TRAINING');
    await db.store.saveCalibration(p.id, { beta: [0.5, -1], note: 'x' });
    expect((await db.store.promptById(p.id))?.calibration).toEqual({ beta: [0.5, -1], note: 'x' });
  });
});
