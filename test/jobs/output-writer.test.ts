/**
 * The training output writer: keeps order, retries a failing write until it
 * succeeds (nothing dropped), gives up after its time limit (sooner for a full
 * disk) and then refuses everything after the hole, fails at once on errors a
 * retry cannot fix, and bounds how many writes may wait.
 */
import { OutputWriter } from '../../src/jobs/output-writer';
import { isDiskFull, WriteHealth } from '../../src/jobs/write-health';

const pgError = (code: string, message = `error ${code}`) => Object.assign(new Error(message), { code });

describe('OutputWriter', () => {
  it('retries a write through a failure and keeps the order of all writes', async () => {
    const done: number[] = [];
    const health = new WriteHealth();
    const writer = new OutputWriter({ maxPending: 100, giveUpAfterMs: 10_000, health });
    let failures = 3;
    for (let i = 0; i < 5; i++) {
      writer.enqueue(`w${i}`, async () => {
        if (i === 1 && failures-- > 0) throw new Error('Connection terminated unexpectedly');
        done.push(i);
      });
    }
    await writer.drain();
    expect(done).toEqual([0, 1, 2, 3, 4]);
    expect(writer.failed).toBeNull();
    expect(health.status()).toEqual({ ok: true });
  });

  it('gives up after its time limit and refuses what comes after the hole', async () => {
    const done: number[] = [];
    const failures: string[] = [];
    const writer = new OutputWriter({
      maxPending: 100,
      giveUpAfterMs: 700,
      onFailure: (e) => failures.push(e.message),
    });
    writer.enqueue('progress of step 1', async () => {
      throw new Error('connect ECONNREFUSED');
    });
    writer.enqueue('progress of step 2', async () => void done.push(2));
    const started = Date.now();
    await writer.drain();
    expect(Date.now() - started).toBeGreaterThanOrEqual(500);
    expect(done).toEqual([]);
    expect(failures).toEqual(['writing progress of step 1 failed: connect ECONNREFUSED']);
    writer.enqueue('later', async () => void done.push(3));
    await writer.drain();
    expect(done).toEqual([]);
  });

  it('gives up sooner on a full disk, and readiness says disk full', async () => {
    const health = new WriteHealth();
    const writer = new OutputWriter({
      maxPending: 100,
      giveUpAfterMs: 60_000,
      giveUpSoonerFor: { matches: isDiskFull, afterMs: 300 },
      health,
    });
    writer.enqueue('a preview', async () => {
      throw pgError('53100', 'could not extend file "base/5/16400": No space left on device');
    });
    const started = Date.now();
    await writer.drain();
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(isDiskFull(writer.failed!.cause)).toBe(true);
    expect(health.status()).toMatchObject({ ok: false, reason: 'disk full' });
  });

  it('fails at once on an error a retry cannot fix', async () => {
    const writer = new OutputWriter({ maxPending: 100, giveUpAfterMs: 60_000 });
    let attempts = 0;
    writer.enqueue('history', async () => {
      attempts++;
      throw pgError('23505', 'duplicate key value violates unique constraint');
    });
    await writer.drain();
    expect(attempts).toBe(1);
    expect(writer.failed?.message).toMatch(/duplicate key/);
  });

  it('bounds the writes waiting for the database', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const writer = new OutputWriter({ maxPending: 3, giveUpAfterMs: 60_000 });
    for (let i = 0; i < 5; i++) writer.enqueue(`w${i}`, () => gate);
    expect(writer.failed?.message).toBe('more than 3 training writes are waiting for the database');
    release();
    await writer.drain();
  });
});
