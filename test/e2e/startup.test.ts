/**
 * Starting and stopping as a user does: a busy port, `npm start` stopped with
 * SIGTERM, `--help`, `promptgen config`, and an unsupported Node.
 */
import { spawn, spawnSync } from 'node:child_process';
import * as net from 'node:net';
import { CONFIG_DOC } from '../../src/shared/config';
import { ALLOW_UNSUPPORTED_NODE } from '../../src/shared/node-version';
import { tempDir } from '../helpers/database';
import { cliPath, oldNodeEnv, repoRoot, startProcess } from '../helpers/server';
import { waitFor } from '../helpers/wait';

function listen(port = 0): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

async function freePort(): Promise<number> {
  const s = await listen();
  const { port } = s.address() as net.AddressInfo;
  await new Promise((r) => s.close(r));
  return port;
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

describe('start-up', () => {
  it('refuses a busy port at once, in one line naming PORT, before opening the database', async () => {
    const busy = await listen();
    const { port } = busy.address() as net.AddressInfo;
    try {
      const started = Date.now();
      const proc = startProcess(['serve'], {
        PORT: String(port),
        HOST: '127.0.0.1',
        PROMPTGEN_DATA_DIR: tempDir(),
        DATABASE_URL: '',
      });
      expect(await proc.exited).toBe(1);
      const lines = proc
        .output()
        .trim()
        .split('\n')
        .filter((l) => !l.startsWith('warning: Node.js'));
      expect(lines).toEqual([
        `promptgen: port ${port} on 127.0.0.1 is already in use (another server?); set PORT to a free port (e.g. PORT=${port + 1}) or stop the other process`,
      ]);
      expect(Date.now() - started).toBeLessThan(15_000);
    } finally {
      busy.close();
    }
  });

  // `npx promptgen serve` is left out: in a fresh clone npx does not resolve the root package's own
  // bin (it looks for a registry package of that name), so the case would test the npm cache, not us.
  it.each([['npm start', 'npm', ['start']]])(
    'stops the server when `%s` gets SIGTERM, and frees the port; says at start how to get native BLAS',
    async (_how, bin, args) => {
      const port = await freePort();
      const env = {
        ...process.env,
        ...oldNodeEnv,
        PORT: String(port),
        HOST: '127.0.0.1',
        PROMPTGEN_DATA_DIR: tempDir(),
        PROMPTGEN_WORKERS: '0',
        DATABASE_URL: '',
        PROMPTGEN_BACKEND: 'wasm',
        PROMPTGEN_NATIVE_BLAS: '0',
      };
      const npm = spawn(bin, args, { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
      let output = '';
      npm.stdout!.on('data', (d) => (output += d));
      npm.stderr!.on('data', (d) => (output += d));
      const exited = new Promise<number | null>((resolve) => npm.on('exit', (code) => resolve(code)));
      try {
        await waitFor(() => output.includes(`listening on http://127.0.0.1:${port}/graphql`), 120_000);
        expect(await canConnect(port)).toBe(true);
        expect(output).toContain(
          'matrix products: wasm kernels, no native BLAS (disabled by PROMPTGEN_NATIVE_BLAS=0); training runs faster with OpenBLAS: apt-get install libopenblas0-pthread',
        );
        npm.kill('SIGTERM');
        await exited;
        // The server itself (npm's child) drains and exits: the port is released.
        await waitFor(async () => !(await canConnect(port)), 30_000);
        await waitFor(() => output.includes('shut down'), 10_000);
      } finally {
        if (npm.exitCode === null) npm.kill('SIGKILL');
      }
    },
  );
});

describe('promptgen --help and config', () => {
  it('--help lists every configuration variable with its default', async () => {
    const proc = startProcess(['--help'], {});
    expect(await proc.exited).toBe(0);
    for (const [name, fallback] of CONFIG_DOC) {
      expect(proc.output()).toContain(`${name} `);
      expect(proc.output()).toContain(`[default: ${fallback}]`);
    }
    expect(proc.output()).toContain('config ');
  });

  it('config prints the effective values with their source, never the admin token', async () => {
    const token = 'do-not-print-this-token-0123456789';
    const dataDir = tempDir();
    const proc = startProcess(['config'], {
      PORT: '4321',
      PROMPTGEN_ADMIN_TOKEN: token,
      PROMPTGEN_DATA_DIR: dataDir,
      DATABASE_URL: 'postgres://me:hunter2@db.example:5432/pg',
      PROMPTGEN_WORKERS: '',
    });
    expect(await proc.exited).toBe(0);
    const out = proc.output();
    expect(out).not.toContain(token);
    expect(out).not.toContain('hunter2');
    const row = (name: string) =>
      out
        .split('\n')
        .find((l) => l.startsWith(`${name} `))
        ?.split(/\s{2,}/);
    expect(row('PORT')).toEqual(['PORT', 'env', '4321']);
    expect(row('PROMPTGEN_WORKERS')).toEqual(['PROMPTGEN_WORKERS', 'default', '1']);
    expect(row('PROMPTGEN_ADMIN_TOKEN')).toEqual(['PROMPTGEN_ADMIN_TOKEN', 'env', '(set; not shown)']);
    expect(row('DATABASE_URL')).toEqual(['DATABASE_URL', 'env', 'postgres://me:***@db.example:5432/pg']);
    expect(row('PROMPTGEN_DATA_DIR')).toEqual(['PROMPTGEN_DATA_DIR', 'env', dataDir]);
    expect(
      out
        .trim()
        .split('\n')
        .filter((l) => !l.startsWith('warning: Node.js')),
    ).toHaveLength(CONFIG_DOC.length);
  });

  it('config reports bad values and exits 2', async () => {
    const proc = startProcess(['config'], { PORT: 'eighty' });
    expect(await proc.exited).toBe(2);
    expect(proc.output()).toContain('PORT="eighty" is not an integer');
  });
});

describe('an unsupported Node', () => {
  it('is refused before anything loads, with the version needed, exit status 2', () => {
    const env = { ...process.env };
    delete env[ALLOW_UNSUPPORTED_NODE];
    // The gate as the CLI runs it first, on a Node that says it is 20.1.0.
    const gate = cliPath.replace(/cli\.js$/, 'shared/node-gate.js');
    const run = spawnSync(
      process.execPath,
      [
        '-e',
        `Object.defineProperty(process.versions, 'node', { value: '20.1.0' }); require(${JSON.stringify(gate)}); console.log('went on')`,
      ],
      { env, encoding: 'utf8' },
    );
    expect(run.status).toBe(2);
    expect(run.stdout).not.toContain('went on');
    expect(run.stderr).toMatch(
      /^Node\.js 20\.1\.0 is not supported: PromptGen needs Node 22\.15\.0 or newer/,
    );
  });
});
