/**
 * A full disk, for real: the embedded data directory lives on a small tmpfs
 * the test mounts (root only). Filled while a prompt trains, the server must
 * say so (/readyz not ready, new prompts refused), must not claim success
 * with data missing (the prompt ends FAILED with a clear error), and must
 * recover once space is freed. Too small to start: the start-up message names
 * the cause ("no space left on device"), not "[object Object]".
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { startProcess, startServer, type TestServer } from '../../helpers/server';
import { waitFor } from '../../helpers/wait';

const CREATE = `mutation($input: CreatePromptInput!) { createPrompt(input: $input) { prompt { id status } userErrors { message code } } }`;
const STATE = `query($id: ID!) { prompt(id: $id) { status error progress { step } } }`;
const input = (steps: number, seed: number, previewEvery = 0) => ({
  generator: 'mnist',
  controls: [{ control: 'mnist-digit', weight: 5, params: { classes: [3] } }],
  training: { steps, batchSize: 4, flowBlocks: 2, hiddenUnits: 32, previewEvery, seed },
});

/** Mounts a tmpfs of `size` (e.g. '128m') on a new folder; null when this machine does not allow it. */
function mountTmpfs(size: string): string | null {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'promptgen-disk-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { stdio: 'pipe' });
    return dir;
  } catch (err) {
    fs.rmSync(dir, { recursive: true, force: true });
    const why = `cannot mount a tmpfs here (${(err as Error).message.split('\n')[0]}): the full-disk tests need root`;
    // CI runs as root: a machine that cannot mount must fail there, not skip silently.
    if (process.env.PROMPTGEN_REQUIRE_SHARED === '1' || process.env.CI) throw new Error(why, { cause: err });
    console.warn(`skipping: ${why}`);
    return null;
  }
}

function unmount(dir: string): void {
  try {
    execFileSync('umount', ['-l', dir], { stdio: 'pipe' });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Writes a file until the disk has no space left; returns its path. */
function fill(dir: string): string {
  const file = path.join(dir, 'filler.bin');
  const fd = fs.openSync(file, 'w');
  try {
    for (const size of [1 << 20, 1 << 12, 1 << 9]) {
      const chunk = Buffer.alloc(size, 1);
      for (;;) {
        try {
          fs.writeSync(fd, chunk);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENOSPC') break;
          throw err;
        }
      }
    }
  } finally {
    fs.closeSync(fd);
  }
  return file;
}

const canMount = process.getuid?.() === 0 || process.env.CI || process.env.PROMPTGEN_REQUIRE_SHARED === '1';
if (!canMount) console.warn('skipping the full-disk tests: they mount a tmpfs, which needs root');
(canMount ? describe : describe.skip)('a full disk (embedded database on a small tmpfs)', () => {
  it('too small to start: the start-up message says no space left on device', async () => {
    const dir = mountTmpfs('2m');
    if (!dir) return;
    try {
      const proc = startProcess(['serve'], {
        PROMPTGEN_DATA_DIR: dir,
        DATABASE_URL: '',
        PORT: '0',
        HOST: '127.0.0.1',
      });
      expect(await proc.exited).not.toBe(0);
      expect(proc.output()).toContain(
        `embedded database failed to start: no space left on device (ENOSPC) in ${path.join(dir, 'pgdata')}`,
      );
      expect(proc.output()).not.toContain('[object Object]');
    } finally {
      unmount(dir);
    }
  });

  describe('filled while a prompt trains', () => {
    let dir: string | null;
    let server: TestServer;

    beforeAll(async () => {
      dir = mountTmpfs('128m');
      if (dir)
        server = await startServer({
          dataDir: dir,
          env: { PROMPTGEN_WORKERS: '1', PROMPTGEN_CHECKPOINT_EVERY: '20' },
        });
    }, 180_000);

    afterAll(async () => {
      await server?.stop();
      if (dir) unmount(dir);
    });

    it('is reported, claims no success, refuses new work, and recovers when space is freed', async () => {
      if (!dir) return;
      const created = await server.gql(CREATE, { input: input(3000, 1, 25) });
      const id = created.data.createPrompt.prompt.id;
      await waitFor(
        async () => ((await server.gql(STATE, { id })).data.prompt.progress?.step ?? 0) >= 20,
        120_000,
      );
      const filler = fill(dir);

      const notReady = await waitFor(async () => {
        const res = await fetch(`${server.url}/readyz`);
        return res.status === 503 && ((await res.json()) as any);
      }, 15_000);
      expect(notReady.reason).toMatch(/disk full/);
      expect(JSON.stringify(notReady)).not.toContain(dir);

      const refused = await server.gql(CREATE, { input: input(10, 2) });
      expect(refused.data.createPrompt.prompt).toBeNull();
      expect(refused.data.createPrompt.userErrors).toEqual([
        { code: 'UNAVAILABLE', message: expect.stringMatching(/out of disk space/) },
      ]);
      expect(JSON.stringify(refused)).not.toContain(dir);

      // The training cannot store its output: it ends FAILED and says why, never SUCCEEDED with a hole.
      const ended = await waitFor(async () => {
        const p = (await server.gql(STATE, { id })).data.prompt;
        return p.status !== 'TRAINING' && p.status !== 'QUEUED' && p;
      }, 180_000);
      expect(ended.status).toBe('FAILED');
      expect(ended.error).toMatch(/out of disk space/);
      expect(ended.error).not.toContain(dir);

      // Space freed: new work is taken, trains, and the server is ready again.
      fs.rmSync(filler);
      const again = await server.gql(CREATE, { input: input(20, 3) });
      expect(again.data.createPrompt.userErrors).toEqual([]);
      const againId = again.data.createPrompt.prompt.id;
      await waitFor(
        async () => (await server.gql(STATE, { id: againId })).data.prompt.status === 'SUCCEEDED',
        120_000,
      );
      const ready = await waitFor(async () => (await fetch(`${server.url}/readyz`)).status === 200, 30_000);
      expect(ready).toBe(true);
    }, 480_000);
  });
});
