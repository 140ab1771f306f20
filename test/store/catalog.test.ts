/**
 * The catalog's rules, as the store applies them: a plugin's generators and
 * controls are recorded with it; what it stops offering, or all of it once it
 * fails or is removed, becomes unavailable but is never deleted (prompts refer
 * to it); the start-up sync forgets built-in plugins that no longer ship and
 * keeps installed ones another machine may have.
 */
import type { CatalogPlugin } from '../../src/store/store';
import { openTestDatabase, type TestDatabase } from '../helpers/database';

let db: TestDatabase;
beforeAll(async () => {
  db = await openTestDatabase();
});
afterAll(async () => {
  await db?.close();
});

const generator = (name: string) => ({
  name,
  title: name,
  latentDim: 4,
  output: { width: 8, height: 8, channels: 1 },
});
const control = (name: string) => ({ name, title: name, paramsSchema: { type: 'object' } });

function plugin(
  name: string,
  version: string,
  offers: { generators?: string[]; controls?: string[] },
  extra: Partial<CatalogPlugin> = {},
): CatalogPlugin {
  return {
    name,
    version,
    source: 'INSTALLED',
    status: 'LOADED',
    definition: {
      generators: (offers.generators ?? []).map(generator),
      controls: (offers.controls ?? []).map(control),
    },
    ...extra,
  };
}

const available = async (kind: 'generator' | 'control', name: string) =>
  (kind === 'generator' ? await db.store.generatorByName(name) : await db.store.controlByName(name))
    ?.available ?? null;

describe('the plugin catalog', () => {
  it('records a plugin with what it offers, and keeps its install spec when a later load does not know it', async () => {
    const row = await db.store.recordPlugin(
      plugin('p-one', '1.0.0', { generators: ['g-a', 'g-b'], controls: ['c-a'] }),
      { spec: 'p-one@1.0.0', integrity: 'sha512-x' },
    );
    expect(row).toMatchObject({
      name: 'p-one',
      version: '1.0.0',
      status: 'LOADED',
      spec: 'p-one@1.0.0',
      integrity: 'sha512-x',
    });
    expect(await db.store.generatorsOfPlugin(row.id)).toEqual([
      expect.objectContaining({ name: 'g-a' }),
      expect.objectContaining({ name: 'g-b' }),
    ]);

    const again = await db.store.recordPlugin(
      plugin('p-one', '1.1.0', { generators: ['g-a'], controls: ['c-a'] }),
    );
    expect(again).toMatchObject({ id: row.id, version: '1.1.0', spec: 'p-one@1.0.0', integrity: 'sha512-x' });
    expect(await available('generator', 'g-a')).toBe(true);
    expect(await available('generator', 'g-b')).toBe(false); // no longer offered: kept, unavailable
  });

  it('marks everything of a FAILED plugin unavailable, and makes it available again when it loads', async () => {
    await db.store.recordPlugin(
      plugin('p-one', '1.1.0', {}, { status: 'FAILED', error: 'boom', definition: undefined }),
    );
    expect(await db.store.pluginByName('p-one')).toMatchObject({ status: 'FAILED', error: 'boom' });
    expect([await available('generator', 'g-a'), await available('control', 'c-a')]).toEqual([false, false]);
    await db.store.recordPlugin(plugin('p-one', '1.1.0', { generators: ['g-a'], controls: ['c-a'] }));
    expect([await available('generator', 'g-a'), await available('control', 'c-a')]).toEqual([true, true]);
  });

  it('forgets a removed plugin but keeps its generators and controls, unavailable', async () => {
    expect(await db.store.forgetPlugin('p-one')).toBe(true);
    expect(await db.store.pluginByName('p-one')).toBeNull();
    expect([await available('generator', 'g-a'), await available('control', 'c-a')]).toEqual([false, false]);
    expect(await db.store.forgetPlugin('p-one')).toBe(false);
  });

  it('syncs at start-up: forgets built-in plugins that no longer ship, keeps installed ones', async () => {
    await db.store.recordPlugin(plugin('b-old', '1.0.0', { generators: ['g-old'] }, { source: 'BUILTIN' }));
    await db.store.recordPlugin(plugin('i-elsewhere', '1.0.0', { controls: ['c-elsewhere'] }), {
      spec: 'i-elsewhere@1.0.0',
      integrity: 'sha512-y',
    });
    await db.store.syncPlugins([plugin('b-new', '2.0.0', { generators: ['g-new'] }, { source: 'BUILTIN' })]);
    expect(await db.store.pluginByName('b-old')).toBeNull();
    expect(await available('generator', 'g-old')).toBe(false);
    expect(await db.store.pluginByName('i-elsewhere')).toMatchObject({ spec: 'i-elsewhere@1.0.0' });
    expect(await available('control', 'c-elsewhere')).toBe(true);
    expect(await available('generator', 'g-new')).toBe(true);
  });

  it('keeps a package tarball per name and version, replacing it when stored again', async () => {
    await db.store.savePluginPackage('p-two', '1.0.0', 'sha512-a', Buffer.from('first'));
    await db.store.savePluginPackage('p-two', '1.0.0', 'sha512-b', Buffer.from('second'));
    const stored = await db.store.loadPluginPackage('p-two', '1.0.0');
    expect(stored?.integrity).toBe('sha512-b');
    expect(stored?.tarball.toString()).toBe('second');
    expect(await db.store.loadPluginPackage('p-two', '9.9.9')).toBeNull();
  });
});
