/**
 * A lock file that names its owner: `{ pid, host, at }`. A lock whose owner
 * process is gone (same host, pid no longer running) is taken over at once,
 * so a crash never leaves a data directory or plugin administration blocked.
 *
 * Why our own: the lock must say *who* holds it (the refusal message names the
 * pid) and must be free of dependencies for the lowest layers (store, plugins)
 * that use it; creation with O_EXCL (`wx`) is the whole mechanism.
 *
 * Take-over race: two processes may both find the same dead owner. Each moves
 * the stale file aside with rename (atomic; only one succeeds for a given
 * file) and checks that what it moved is the stale lock it judged; if it moved
 * a fresh lock instead, it puts it back and tries again.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export interface LockOwner {
  pid: number;
  host: string;
  /** ISO time the lock was taken. */
  at: string;
}

export class LockHeld extends Error {
  constructor(
    readonly file: string,
    readonly owner: LockOwner,
  ) {
    super(`locked by process ${owner.pid} on ${owner.host} since ${owner.at}`);
  }
}

export interface PidLock {
  readonly file: string;
  /** Removes the lock file if it is still ours. */
  release(): void;
}

function readOwner(file: string): LockOwner | null {
  try {
    const text = fs.readFileSync(file, 'utf8');
    // Earlier versions wrote the bare pid: same host by construction.
    if (/^\d+\s*$/.test(text)) return { pid: Number(text), host: os.hostname(), at: 'unknown' };
    const parsed = JSON.parse(text) as Partial<LockOwner>;
    if (parsed && typeof parsed.pid === 'number' && typeof parsed.host === 'string')
      return { pid: parsed.pid, host: parsed.host, at: String(parsed.at ?? '') };
  } catch {
    /* unreadable or half-written: judged by age below */
  }
  return null;
}

/** True when `pid` runs on this machine (EPERM: it runs, as another user). */
export function processAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A lock file with no readable owner is someone's half-written lock for this long, then stale. */
const UNREADABLE_GRACE_MS = 5_000;

/** Lock files this process holds now (to tell its own live lock from one of an earlier process with the same pid). */
const heldHere = new Set<string>();

function isStale(file: string, owner: LockOwner | null): boolean {
  if (owner && owner.host === os.hostname() && owner.pid === process.pid) {
    // Our pid, but not a lock we hold: an earlier process that had the same pid (a container's pid 1, say).
    return !heldHere.has(path.resolve(file));
  }
  if (owner) return owner.host === os.hostname() && !processAlive(owner.pid);
  try {
    return Date.now() - fs.statSync(file).mtimeMs > UNREADABLE_GRACE_MS;
  } catch {
    return true;
  }
}

/** Takes the lock or throws LockHeld (owner alive, or on another host). */
export function acquirePidLock(file: string): PidLock {
  const me: LockOwner = { pid: process.pid, host: os.hostname(), at: new Date().toISOString() };
  const text = JSON.stringify(me) + '\n';
  for (let attempt = 0; attempt < 10; attempt++) {
    try {
      fs.writeFileSync(file, text, { flag: 'wx' });
      heldHere.add(path.resolve(file));
      return {
        file,
        release() {
          const owner = readOwner(file);
          if (owner && owner.pid === me.pid && owner.at === me.at) {
            fs.rmSync(file, { force: true });
            heldHere.delete(path.resolve(file));
          }
        },
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const owner = readOwner(file);
    if (!isStale(file, owner)) {
      throw new LockHeld(file, owner ?? { pid: 0, host: 'unknown', at: 'just now' });
    }
    const aside = `${file}.stale-${process.pid}-${attempt}`;
    try {
      fs.renameSync(file, aside);
    } catch {
      continue; // someone else moved it first
    }
    const moved = readOwner(aside);
    const same =
      owner === null ? moved === null : moved !== null && moved.pid === owner.pid && moved.at === owner.at;
    if (!same) {
      // We moved a fresh lock taken in between: put it back unless yet another one appeared.
      try {
        fs.linkSync(aside, file);
      } catch {
        /* a newer lock exists; ours to retry against */
      }
    }
    fs.rmSync(aside, { force: true });
  }
  throw new Error(`could not take the lock ${file}: it kept changing owner`);
}
