/**
 * The row of a plugin taken out of service for a fault is written in the plugin-change
 * queue: never in the middle of an install of the same plugin, and not at all when that
 * install replaced the failed copy (the row then says what the install loaded). Real
 * registry, real database; the "install" is the queue's own work, as the installer's is.
 */
import * as path from 'node:path';
import type { LoadedPlugin } from '../../src/plugins/loader';
import { PluginRegistry } from '../../src/plugins/registry';
import { withPluginChange } from '../../src/plugins/plugin-changes';
import { recordPluginFault } from '../../src/catalog/plugin-fault-record';
import { openTestDatabase, tempDir, type TestDatabase } from '../helpers/database';
import { silentLogger } from '../plugins/helpers';

const NAME = 'promptgen-plugin-flaky';

let db: TestDatabase;
let dataDir: string;

beforeAll(async () => {
  db = await openTestDatabase();
  dataDir = tempDir('promptgen-fault-record-');
});

afterAll(async () => {
  await db?.close();
});

function version(v: string): LoadedPlugin {
  return { name: NAME, version: v, dir: path.join(dataDir, v), source: 'INSTALLED', status: 'LOADED' };
}

async function row() {
  const r = await db.store.pluginByName(NAME);
  return r && { version: r.version, status: r.status, error: r.error };
}

it('records FAILED with the error when nothing else is changing plugins', async () => {
  const registry = new PluginRegistry({ logger: silentLogger });
  const v1 = registry.add(version('1.0.0'));
  await db.store.recordPlugin(v1);
  const failed = registry.markFailed(NAME, 'plugin threw after loading: boom')!;
  expect(await recordPluginFault(db.store, registry, dataDir, failed)).toBe(true);
  expect(await row()).toEqual({
    version: '1.0.0',
    status: 'FAILED',
    error: 'plugin threw after loading: boom',
  });
});

it('waits for an install of the same plugin, then leaves the row the install wrote', async () => {
  const registry = new PluginRegistry({ logger: silentLogger });
  const v1 = registry.add(version('1.0.0'));
  await db.store.recordPlugin(v1);

  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const install = withPluginChange(dataDir, async () => {
    await gate; // npm at work
    const v2 = registry.add(version('2.0.0'));
    await db.store.recordPlugin(v2);
  });
  // The old copy faults while the install runs.
  const failed = registry.markFailed(NAME, 'plugin threw after loading: late')!;
  let written: boolean | undefined;
  const fault = recordPluginFault(db.store, registry, dataDir, failed).then((w) => (written = w));

  await new Promise((resolve) => setTimeout(resolve, 200));
  expect(written).toBeUndefined(); // queued behind the install, nothing written yet
  expect(await row()).toEqual({ version: '1.0.0', status: 'LOADED', error: null });

  release();
  await install;
  await fault;
  expect(written).toBe(false);
  expect(await row()).toEqual({ version: '2.0.0', status: 'LOADED', error: null });
  expect(registry.plugin(NAME)?.status).toBe('LOADED');
});
