/**
 * Every plugin change of a process goes through one queue: an admin install
 * or uninstall and a worker's plugin sync started together run one after the
 * other (never interleaved through npm, the registry and the database), and a
 * change that fails does not stop the ones queued behind it. Real parts: npm,
 * the installer's prefix, the registry, the database.
 */
import type { Config } from '../../src/shared/config';
import { createLogger } from '../../src/shared/logger';
import { PluginRegistry } from '../../src/plugins/registry';
import { RuntimePluginAdmin } from '../../src/services/plugin-admin-runtime';
import { ensurePluginVersions, PluginUnavailable, type PluginSyncDeps } from '../../src/catalog/plugin-sync';
import type { TensorRuntime } from '../../src/plugins/tensor-runtime';
import { openTestDatabase, type TestDatabase } from '../helpers/database';
import { fixture, makeTf, silentLogger, tmpDir } from './helpers';

const NAME = 'promptgen-plugin-example';

let db: TestDatabase;
let registry: PluginRegistry;
let admin: RuntimePluginAdmin;
let sync: PluginSyncDeps;
/** The store calls of both sides, in the order they were made. */
let timeline: string[];

beforeAll(async () => {
  db = await openTestDatabase();
  registry = new PluginRegistry({ logger: silentLogger });
  const runtime = { tf: await makeTf(), registry } as unknown as TensorRuntime;
  const config = { dataDir: tmpDir('plugin-changes') } as Config;
  admin = new RuntimePluginAdmin(db.store, runtime, config);
  sync = { store: db.store, runtime, config, log: createLogger('error') };
  for (const method of ['pluginByName', 'recordPlugin', 'forgetPlugin', 'savePluginPackage'] as const) {
    const original = db.store[method].bind(db.store) as (...args: any[]) => Promise<unknown>;
    const logged = async (...args: any[]) => {
      timeline.push(`${method}(${typeof args[0] === 'string' ? args[0] : args[0]?.name})`);
      return original(...args);
    };
    jest.spyOn(db.store, method).mockImplementation(logged as never);
  }
});
beforeEach(() => {
  timeline = [];
});
afterAll(async () => {
  jest.restoreAllMocks();
  await registry?.dispose();
  await db?.close();
});

describe('plugin changes of one process', () => {
  it('an install and a sync started together do not interleave: the sync waits and finds the plugin installed', async () => {
    const install = admin.install(fixture('good'));
    // A worker needs the version being installed. Run alongside the install it would find
    // no record yet and fail; queued behind it, it finds the plugin loaded and has nothing to do.
    const needed = ensurePluginVersions({ [NAME]: '1.0.0' }, sync);
    const settled: string[] = [];
    const [installed] = await Promise.all([
      install.then((r) => (settled.push('install'), r)),
      needed.then(() => settled.push('sync')),
    ]);
    expect(installed.ok && installed.value).toMatchObject({
      name: NAME,
      version: '1.0.0',
      status: 'LOADED',
      source: 'INSTALLED',
    });
    expect(settled).toEqual(['install', 'sync']);
    expect(registry.plugin(NAME)?.status).toBe('LOADED');
    expect(timeline).toEqual([`savePluginPackage(${NAME})`, `recordPlugin(${NAME})`]);
  });

  it('a failed sync between an uninstall and an install stops neither, and each runs whole before the next', async () => {
    const uninstall = admin.uninstall(NAME);
    const failing = ensurePluginVersions({ 'promptgen-plugin-nowhere': '2.0.0' }, sync);
    const install = admin.install(fixture('good'));
    await expect(uninstall).resolves.toEqual({ ok: true, value: true });
    await expect(failing).rejects.toBeInstanceOf(PluginUnavailable);
    await expect(failing).rejects.toThrow(
      'plugin promptgen-plugin-nowhere@2.0.0 is needed and this machine does not have it',
    );
    const installed = await install;
    expect(installed.ok).toBe(true);
    expect(timeline).toEqual([
      `pluginByName(${NAME})`, // the uninstall looks its plugin up, removes it and forgets its rows
      `forgetPlugin(${NAME})`,
      'pluginByName(promptgen-plugin-nowhere)', // then the sync looks for a record, finds none and fails
      `savePluginPackage(${NAME})`, // then the install runs
      `recordPlugin(${NAME})`,
    ]);
    expect((await db.store.pluginByName(NAME))?.status).toBe('LOADED');
  });

  it('an install that fails in npm does not stop the sync queued behind it', async () => {
    registry.remove(NAME); // as on a worker that has not loaded the recorded version
    const bad = admin.install(`${tmpDir('no-package')}/missing.tgz`);
    const needed = ensurePluginVersions({ [NAME]: '1.0.0' }, sync);
    const result = await bad;
    expect(!result.ok && result.errors[0].code).toBe('NOT_FOUND');
    await expect(needed).resolves.toBeUndefined();
    expect(registry.plugin(NAME)).toMatchObject({ version: '1.0.0', status: 'LOADED' });
    expect(timeline).toEqual([`pluginByName(${NAME})`, `recordPlugin(${NAME})`]);
  });
});
