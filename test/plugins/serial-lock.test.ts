/** The serial lock every plugin change goes through: one at a time per key, failures do not wedge it, re-entrant. */
import { SerialLock } from '../../src/plugins/serial-lock';

const tick = () => new Promise((r) => setTimeout(r, 5));

/** Work that logs its start and end around a few timer ticks (so overlapping work would interleave). */
function step(log: string[], name: string, fail = false) {
  return async () => {
    log.push(`${name}:start`);
    await tick();
    await tick();
    log.push(`${name}:end`);
    if (fail) throw new Error(`${name} failed`);
    return name;
  };
}

describe('SerialLock', () => {
  it('runs work for one key one at a time, in the order it was queued', async () => {
    const lock = new SerialLock();
    const log: string[] = [];
    const results = await Promise.all(['a', 'b', 'c'].map((n) => lock.run('k', step(log, n))));
    expect(results).toEqual(['a', 'b', 'c']);
    expect(log).toEqual(['a:start', 'a:end', 'b:start', 'b:end', 'c:start', 'c:end']);
    expect(lock.busy('k')).toBe(false);
  });

  it('runs the work queued after a failure, and hands the failure to its own caller only', async () => {
    const lock = new SerialLock();
    const log: string[] = [];
    const first = lock.run('k', step(log, 'a', true));
    const second = lock.run('k', step(log, 'b'));
    const third = lock.run('k', () => Promise.reject(new Error('at once')));
    const fourth = lock.run('k', step(log, 'd'));
    await expect(first).rejects.toThrow('a failed');
    await expect(second).resolves.toBe('b');
    await expect(third).rejects.toThrow('at once');
    await expect(fourth).resolves.toBe('d');
    expect(log).toEqual(['a:start', 'a:end', 'b:start', 'b:end', 'd:start', 'd:end']);
  });

  it('lets different keys run at the same time', async () => {
    const lock = new SerialLock();
    const log: string[] = [];
    await Promise.all([lock.run('x', step(log, 'x')), lock.run('y', step(log, 'y'))]);
    expect(log.slice(0, 2).sort()).toEqual(['x:start', 'y:start']);
  });

  it('runs nested work for a key it holds at once, and still queues work from outside behind the whole', async () => {
    const lock = new SerialLock();
    const log: string[] = [];
    const outer = lock.run('k', async () => {
      log.push('outer:start');
      const inner = await lock.run('k', step(log, 'inner')); // would wait for itself for ever without re-entrancy
      log.push('outer:end');
      return inner;
    });
    const after = lock.run('k', step(log, 'after'));
    await expect(outer).resolves.toBe('inner');
    await after;
    expect(log).toEqual(['outer:start', 'inner:start', 'inner:end', 'outer:end', 'after:start', 'after:end']);
  });

  it('turns a synchronous throw of nested work into a rejection', async () => {
    const lock = new SerialLock();
    const outer = lock.run('k', () =>
      lock.run('k', () => {
        throw new Error('sync throw');
      }),
    );
    await expect(outer).rejects.toThrow('sync throw');
    await expect(lock.run('k', async () => 'next')).resolves.toBe('next');
  });
});
