/** Lock files that name their owner: held while the owner lives, taken over at once when it is gone. */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { acquirePidLock, LockHeld } from '../../src/shared/pid-lock';
import { tempDir } from '../helpers/database';

const deadPid = () =>
  Number(
    execFileSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }),
  );

describe('acquirePidLock', () => {
  it('refuses a second holder while the first lives, naming it, and frees on release', () => {
    const file = path.join(tempDir(), 'x.lock');
    const lock = acquirePidLock(file);
    expect(JSON.parse(fs.readFileSync(file, 'utf8'))).toMatchObject({
      pid: process.pid,
      host: os.hostname(),
    });
    let held: unknown;
    try {
      acquirePidLock(file);
    } catch (e) {
      held = e;
    }
    expect(held).toBeInstanceOf(LockHeld);
    expect((held as LockHeld).owner.pid).toBe(process.pid);
    lock.release();
    expect(fs.existsSync(file)).toBe(false);
    acquirePidLock(file).release();
  });

  it('takes over a lock whose process is gone', () => {
    const file = path.join(tempDir(), 'x.lock');
    fs.writeFileSync(
      file,
      JSON.stringify({ pid: deadPid(), host: os.hostname(), at: '2026-01-01T00:00:00Z' }),
    );
    const lock = acquirePidLock(file);
    expect(JSON.parse(fs.readFileSync(file, 'utf8')).pid).toBe(process.pid);
    lock.release();
  });

  it('takes over a lock of an earlier process that had our pid (a container restarted)', () => {
    const file = path.join(tempDir(), 'x.lock');
    fs.writeFileSync(
      file,
      JSON.stringify({ pid: process.pid, host: os.hostname(), at: '2026-01-01T00:00:00Z' }),
    );
    acquirePidLock(file).release();
  });

  it('reads the bare pid of earlier versions: a live one holds, a dead one is taken over', () => {
    const file = path.join(tempDir(), 'x.lock');
    fs.writeFileSync(file, `${process.ppid}\n`);
    expect(() => acquirePidLock(file)).toThrow(LockHeld);
    fs.writeFileSync(file, `${deadPid()}\n`);
    acquirePidLock(file).release();
  });

  it('leaves a lock of another host alone (its pid means nothing here)', () => {
    const file = path.join(tempDir(), 'x.lock');
    fs.writeFileSync(
      file,
      JSON.stringify({ pid: deadPid(), host: 'another-host', at: '2026-01-01T00:00:00Z' }),
    );
    expect(() => acquirePidLock(file)).toThrow(/locked by process \d+ on another-host/);
  });
});
