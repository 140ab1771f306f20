/**
 * A plugin cannot take the server down. Fixture plugins (copies of the good
 * example plugin) that throw from a timer or leave a promise rejected when
 * their module loads are refused at install (the trial load runs in a child
 * process) while the server keeps serving; one that throws later, once
 * loaded, is taken out of service (FAILED) and the server lives on; a bad
 * plugin already in the data directory leaves `serve` starting without it
 * and `plugin uninstall` working; a plugin lock left by a dead process is
 * taken over at once.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { repoRoot, startProcess, startServer, type TestServer } from '../../helpers/server';
import { tempDir } from '../../helpers/database';
import { waitFor } from '../../helpers/wait';

const fixtures = path.join(repoRoot, 'test/fixtures/plugins');
const INSTALL = `mutation($spec: String!) { installPlugin(input: { spec: $spec }) { plugin { name status error } userErrors { field message code } } }`;
const UNINSTALL = `mutation($name: String!) { uninstallPlugin(input: { name: $name }) { removed userErrors { message code } } }`;
const CATALOG = '{ plugins { name version status error } generators { name } controls { name } }';

/** The example plugin renamed (its generator/control too), with `extra` code appended to its module. */
function faultyPlugin(name: string, extra: string): string {
  const dir = tempDir('promptgen-faulty-');
  fs.cpSync(path.join(fixtures, 'good'), dir, { recursive: true });
  const pkgFile = path.join(dir, 'package.json');
  const pkg = JSON.parse(fs.readFileSync(pkgFile, 'utf8'));
  pkg.name = name;
  fs.writeFileSync(pkgFile, JSON.stringify(pkg, null, 2));
  const code = fs
    .readFileSync(path.join(dir, 'index.js'), 'utf8')
    .replace(/example-/g, `${name.replace(/^promptgen-plugin-/, '')}-`);
  fs.writeFileSync(path.join(dir, 'index.js'), `${code}\n${extra}\n`);
  return dir;
}

const ASYNC_THROW = "setTimeout(() => { throw new Error('boom from a timer'); }, 20);";
const REJECTS = "Promise.reject(new Error('rejected at load'));";

let server: TestServer;
let dataDir: string;

beforeAll(async () => {
  dataDir = tempDir();
  server = await startServer({ dataDir, env: { PROMPTGEN_WORKERS: '0' } });
});

afterAll(async () => {
  await server?.stop();
});

async function alive(): Promise<boolean> {
  const res = await fetch(`${server.url}/healthz`).catch(() => null);
  return res?.status === 200 && server.proc.child.exitCode === null;
}

describe('a plugin that fails asynchronously while loading', () => {
  it.each([
    [
      'throws from a timer',
      'promptgen-plugin-timer',
      ASYNC_THROW,
      /threw asynchronously after loading: boom from a timer/,
    ],
    [
      'leaves a promise rejected',
      'promptgen-plugin-rejects',
      REJECTS,
      /promise rejected while loading: rejected at load/,
    ],
  ])('that %s is refused at install; the server keeps serving', async (_what, name, extra, message) => {
    const before = await server.gql(CATALOG);
    const res = await server.gql(INSTALL, { spec: faultyPlugin(name, extra) }, { admin: true });
    expect(res.data.installPlugin.plugin).toBeNull();
    expect(res.data.installPlugin.userErrors).toEqual([
      { field: ['spec'], code: 'INSTALL_FAILED', message: expect.stringMatching(message) },
    ]);
    // Past the moment the plugin's timer fired: the server is up and unchanged.
    await new Promise((r) => setTimeout(r, 500));
    expect(await alive()).toBe(true);
    expect(await server.gql(CATALOG)).toEqual(before);
    expect(fs.existsSync(path.join(dataDir, 'plugins/node_modules', name))).toBe(false);
  });
});

describe('a plugin that throws after it was loaded', () => {
  it('is taken out of service (FAILED with its error); the server lives on', async () => {
    // The timer outlasts the trial's settle period (1 s), so the plugin is installed LOADED first.
    const late = faultyPlugin(
      'promptgen-plugin-late',
      "setTimeout(() => { throw new Error('late failure'); }, 4000);",
    );
    const res = await server.gql(INSTALL, { spec: late }, { admin: true });
    expect(res.data.installPlugin).toEqual({
      plugin: { name: 'promptgen-plugin-late', status: 'LOADED', error: null },
      userErrors: [],
    });
    const failed = await waitFor(async () => {
      const p = (await server.gql(CATALOG)).data.plugins.find((x: any) => x.name === 'promptgen-plugin-late');
      return p?.status === 'FAILED' && p;
    }, 30_000);
    expect(failed.error).toMatch(/plugin threw after loading: late failure/);
    expect(await alive()).toBe(true);
    const catalog = (await server.gql(CATALOG)).data;
    expect(catalog.generators.map((g: any) => g.name)).not.toContain('late-pattern');
    expect(catalog.generators.map((g: any) => g.name)).toContain('mnist');
    expect(server.proc.output()).toMatch(
      /plugin promptgen-plugin-late@1\.0\.0 threw; it is taken out of service/,
    );
  });
});

describe('a bad plugin already in the data directory', () => {
  it('serve starts without it (FAILED), and `plugin uninstall` removes it', async () => {
    // The late plugin of the test above is installed: make its module fail at once, as if it had changed on disk.
    await server.stop();
    const main = path.join(dataDir, 'plugins/node_modules/promptgen-plugin-late/index.js');
    fs.appendFileSync(main, `\n${ASYNC_THROW}\n`);
    server = await startServer({ dataDir, env: { PROMPTGEN_WORKERS: '0' } });
    const plugin = (await server.gql(CATALOG)).data.plugins.find(
      (x: any) => x.name === 'promptgen-plugin-late',
    );
    expect(plugin).toMatchObject({
      status: 'FAILED',
      error: expect.stringMatching(/threw asynchronously after loading: boom from a timer/),
    });
    await new Promise((r) => setTimeout(r, 500));
    expect(await alive()).toBe(true);
    await server.stop();

    const cli = startProcess(['plugin', 'uninstall', 'promptgen-plugin-late'], {
      PROMPTGEN_DATA_DIR: dataDir,
      DATABASE_URL: '',
    });
    expect(await cli.exited).toBe(0);
    expect(cli.output()).toContain('uninstalled promptgen-plugin-late');
    expect(fs.existsSync(path.dirname(main))).toBe(false);
    server = await startServer({ dataDir, env: { PROMPTGEN_WORKERS: '0' } });
    expect((await server.gql(CATALOG)).data.plugins.map((p: any) => p.name)).not.toContain(
      'promptgen-plugin-late',
    );
  }, 240_000);
});

describe('a plugin lock left by a process that died', () => {
  it('is taken over at once', async () => {
    // A real process that held the lock and is gone: its pid.
    const dead = Number(
      execFileSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], {
        encoding: 'utf8',
      }),
    );
    fs.writeFileSync(
      path.join(dataDir, '.plugins.lock'),
      JSON.stringify({ pid: dead, host: os.hostname(), at: new Date().toISOString() }),
    );
    const started = Date.now();
    const res = await server.gql(INSTALL, { spec: path.join(fixtures, 'good') }, { admin: true });
    expect(res.data.installPlugin.userErrors).toEqual([]);
    expect(Date.now() - started).toBeLessThan(60_000);
    expect(fs.existsSync(path.join(dataDir, '.plugins.lock'))).toBe(false);
    const removed = await server.gql(UNINSTALL, { name: 'promptgen-plugin-example' }, { admin: true });
    expect(removed.data.uninstallPlugin).toEqual({ removed: true, userErrors: [] });
  });

  it('held by a live process, is waited for (not broken)', async () => {
    fs.writeFileSync(
      path.join(dataDir, '.plugins.lock'),
      JSON.stringify({ pid: process.pid, host: os.hostname(), at: new Date().toISOString() }),
    );
    const install = server.gql(INSTALL, { spec: path.join(fixtures, 'good') }, { admin: true });
    await new Promise((r) => setTimeout(r, 1500));
    expect(fs.readFileSync(path.join(dataDir, '.plugins.lock'), 'utf8')).toContain(`"pid":${process.pid}`);
    fs.rmSync(path.join(dataDir, '.plugins.lock'));
    const res = await install;
    expect(res.data.installPlugin.userErrors).toEqual([]);
    await server.gql(UNINSTALL, { name: 'promptgen-plugin-example' }, { admin: true });
  });
});
