/**
 * No prompt stays QUEUED/TRAINING for ever, against the real database and
 * pg-boss: a job's last attempt that fails ends its prompt FAILED with a
 * readable error (an earlier attempt leaves it for the retry), and the sweep
 * ends a live prompt whose job has ended (cancelled behind its back) while
 * leaving a prompt with a live job alone. The scenario runs under plain Node
 * (scenarios/stuck-prompts.js): pg-boss is ESM-only, which jest cannot load.
 */
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { openTestDatabase, type TestDatabase } from '../helpers/database';

let db: TestDatabase;
beforeAll(async () => {
  db = await openTestDatabase();
});
afterAll(async () => {
  await db?.close();
});

it('a job that gives up ends its prompt FAILED; the sweep ends prompts whose job has ended', () => {
  const out = JSON.parse(
    execFileSync(process.execPath, [path.join(__dirname, 'scenarios/stuck-prompts.js'), db.url], {
      encoding: 'utf8',
      timeout: 120_000,
    }),
  );
  expect(out.earlyThrew).toBe(true);
  expect(out.early).toEqual({ status: 'QUEUED', error: null, finished: false });
  expect(out.lastThrew).toBe(false);
  expect(out.last).toEqual({
    status: 'FAILED',
    error: `training gave up after ${out.retryLimit + 1} attempts: the training job kept failing`,
    finished: true,
  });
  expect(out.swept).toBe(1);
  expect(out.stuck).toEqual({
    status: 'FAILED',
    error: 'training gave up: its job ended without finishing the prompt',
    finished: true,
  });
  expect(out.waiting).toEqual({ status: 'QUEUED', error: null, finished: false });
  expect(out.sweptAgain).toBe(0);
});
