// Runs under plain Node (pg-boss is ESM-only, which jest cannot load): the
// stuck-prompt scenarios against the built server modules and the database of
// argv[2]; prints what happened as one JSON line for the test to check.
'use strict';
const path = require('node:path');
const dist = (m) => require(path.resolve(__dirname, '../../../dist/src', m));
const { loadConfig } = dist('shared/config');
const { InProcessEventBus } = dist('events/event-bus');
const { JobQueue, RETRY_LIMIT } = dist('jobs/queue');
const { sweepStuckPrompts } = dist('jobs/stuck-prompts');
const { runTrainingJob } = dist('jobs/training-job');
const { createLogger } = dist('shared/logger');
const { PromptRow, GeneratorRow, ControlRow } = dist('store/entities');
const { createDataSource } = dist('store/data-source');
const { Store } = dist('store/store');

async function main() {
  const url = process.argv[2];
  const ds = createDataSource({ url, poolSize: 4 });
  await ds.initialize();
  const store = new Store(ds);
  const events = new InProcessEventBus();
  const log = createLogger('error');
  const queue = await JobQueue.start({ url, heartbeatSeconds: 10, poolSize: 2, onError: () => undefined });
  const m = ds.manager;
  const generator = await m.save(
    GeneratorRow,
    m.create(GeneratorRow, {
      name: 'digits',
      title: 'Digits',
      description: null,
      latentDim: 8,
      width: 28,
      height: 28,
      channels: 1,
      pluginId: null,
      basePromptId: null,
      available: true,
    }),
  );
  const control = await m.save(
    ControlRow,
    m.create(ControlRow, {
      name: 'digit',
      title: 'Digit',
      description: null,
      paramsSchema: { type: 'object' },
      conditionDim: null,
      paired: false,
      pluginId: null,
      available: true,
    }),
  );
  const queued = async () => {
    const prompt = await m.save(
      PromptRow,
      m.create(PromptRow, {
        name: 'stuck',
        status: 'QUEUED',
        generatorId: generator.id,
        controls: [
          {
            controlId: control.id,
            controlName: 'digit',
            weight: 1,
            params: {},
            pluginName: '@test/digits',
            pluginVersion: '1.2.3',
          },
        ],
        training: {
          steps: 10,
          batchSize: 4,
          learningRate: 1e-3,
          flowBlocks: 2,
          hiddenUnits: 16,
          seed: 1,
          previewEvery: 5,
        },
        pluginVersions: { '@test/digits': '1.2.3' },
      }),
    );
    const jobId = await queue.enqueueTraining({ promptId: prompt.id }, async (text, values) => ({
      rows: await ds.query(text, values),
    }));
    await m.update(PromptRow, { id: prompt.id }, { jobId });
    return { ...prompt, jobId };
  };
  const state = async (id) => {
    const row = await store.promptById(id);
    return { status: row.status, error: row.error, finished: row.finishedAt !== null };
  };
  // An attempt that fails for a reason retrying does not fix here: this worker has no tensor runtime.
  const deps = {
    store,
    events,
    config: loadConfig({}),
    runtime: undefined,
    log,
    shutdown: new AbortController().signal,
  };
  const job = (p, retryCount) => ({
    id: p.jobId,
    data: { promptId: p.id },
    signal: new AbortController().signal,
    retryCount,
    finalAttempt: retryCount >= RETRY_LIMIT,
  });
  const out = { retryLimit: RETRY_LIMIT };

  const early = await queued();
  out.earlyThrew = await runTrainingJob(job(early, 3), deps).then(
    () => false,
    () => true,
  );
  out.early = await state(early.id);

  const last = await queued();
  out.lastThrew = await runTrainingJob(job(last, RETRY_LIMIT), deps).then(
    () => false,
    () => true,
  );
  out.last = await state(last.id);

  const stuck = await queued();
  const waiting = await queued();
  await queue.cancel(stuck.jobId);
  out.swept = await sweepStuckPrompts({ store, events, log, queue });
  out.stuck = await state(stuck.id);
  out.waiting = await state(waiting.id);
  out.sweptAgain = await sweepStuckPrompts({ store, events, log, queue });

  await queue.stop(false, 1000);
  await ds.destroy();
  process.stdout.write(JSON.stringify(out) + '\n');
}

main().catch((err) => {
  process.stderr.write(String((err && err.stack) || err) + '\n');
  process.exit(1);
});
