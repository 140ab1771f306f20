import * as fs from 'fs';
import * as path from 'path';
import { PluginRegistry } from '../../src/plugins/registry';
import type { Tf } from '../../src/sdk';
import { fixture, makeTf, silentLogger, tmpDir, writePackage } from './helpers';

let tf: Tf;
beforeAll(async () => {
  tf = await makeTf();
});

/** A builtin dir holding copies (symlinks) of chosen fixtures, in order. */
function builtinDirOf(names: string[]): string {
  const dir = tmpDir('builtin');
  names.forEach((n, i) => fs.symlinkSync(fixture(n), path.join(dir, `${i}-${n}`)));
  return dir;
}

describe('PluginRegistry', () => {
  test('loadAll: good plugins load, bad ones are FAILED, a duplicate generator name fails the later plugin', async () => {
    const reg = new PluginRegistry({ logger: silentLogger });
    const all = await reg.loadAll({ builtinDir: builtinDirOf(['good', 'throws', 'duplicate', 'api-v2']) });
    const byName = Object.fromEntries(all.map((p) => [p.name, p]));
    expect(byName['promptgen-plugin-example'].status).toBe('LOADED');
    expect(byName['promptgen-plugin-throws'].status).toBe('FAILED');
    expect(byName['promptgen-plugin-api-v2'].error).toBe('apiVersion 2 is not supported (host supports 1)');
    expect(byName['promptgen-plugin-duplicate']).toMatchObject({
      status: 'FAILED',
      error: 'generator name "example-pattern" is already used by plugin promptgen-plugin-example',
    });
    expect(reg.listPlugins()).toHaveLength(4);
    expect(reg.generator('example-pattern')!.plugin.name).toBe('promptgen-plugin-example');
    expect(reg.control('example-brightness')!.definition.title).toBe('Example: mean brightness');
    expect(reg.generator('nope')).toBeUndefined();
    expect(reg.generators().map((g) => g.definition.name)).toEqual(['example-pattern']);
  });

  test('loadAll reads installed plugins from the installer prefix; the same package name twice is refused', async () => {
    const dataDir = tmpDir('data');
    const prefix = path.join(dataDir, 'plugins');
    writePackage(prefix, {
      name: 'prefix',
      private: true,
      dependencies: { 'promptgen-plugin-example': '1.0.0' },
      promptgenInstalls: { 'promptgen-plugin-example': { integrity: 'sha512-abc' } },
    });
    fs.mkdirSync(path.join(prefix, 'node_modules'), { recursive: true });
    fs.cpSync(fixture('good'), path.join(prefix, 'node_modules', 'promptgen-plugin-example'), {
      recursive: true,
    });
    const reg = new PluginRegistry({ logger: silentLogger });
    const all = await reg.loadAll({ builtinDir: builtinDirOf(['good']), installedDir: prefix });
    expect(all.map((p) => [p.source, p.status])).toEqual([
      ['BUILTIN', 'LOADED'],
      ['INSTALLED', 'FAILED'],
    ]);
    expect(all[1].error).toMatch(/^plugin package promptgen-plugin-example is already loaded from /);
    expect(all[1].integrity).toBe('sha512-abc');
    expect(reg.conflicts(all[1])).toEqual([
      'plugin package promptgen-plugin-example is built in and cannot be replaced by an installed package',
    ]);
    // Without the builtin copy it loads as INSTALLED.
    const reg2 = new PluginRegistry({ logger: silentLogger });
    const [only] = await reg2.loadAll({ installedDir: prefix });
    expect(only).toMatchObject({ source: 'INSTALLED', status: 'LOADED', integrity: 'sha512-abc' });
  });

  test('instances are cached per name and disposed on remove; params are validated with defaults', async () => {
    const reg = new PluginRegistry({ logger: silentLogger });
    await reg.loadAll({ builtinDir: builtinDirOf(['good']) });
    const rt = { tf, backend: 'cpu' };
    const a = await reg.loadGenerator('example-pattern', rt);
    expect(await reg.loadGenerator('example-pattern', rt)).toBe(a);
    const info = { name: 'example-pattern', latentDim: 4, output: { width: 8, height: 8, channels: 1 } };
    const c1 = await reg.loadControl('example-brightness', {}, info, rt);
    expect(await reg.loadControl('example-brightness', { target: 0.5 }, info, rt)).toBe(c1); // default applied → same key
    expect(await reg.loadControl('example-brightness', { target: 0.5 }, info, rt, { cache: false })).not.toBe(
      c1,
    );
    await expect(reg.loadControl('example-brightness', { target: 2 }, info, rt)).rejects.toThrow(
      'invalid params for control "example-brightness": target: must be <= 1',
    );
    await expect(reg.loadGenerator('nope', rt)).rejects.toThrow('unknown generator "nope"');
    const before = tf.memory().numTensors;
    expect(reg.remove('promptgen-plugin-example')).toBe(true);
    await new Promise((r) => setImmediate(r));
    expect(tf.memory().numTensors).toBe(before - 1); // the generator's weight matrix
    expect(reg.generator('example-pattern')).toBeUndefined();
    expect(reg.remove('promptgen-plugin-example')).toBe(false);
  });

  test('add() replaces a plugin by package name', async () => {
    const reg = new PluginRegistry({ logger: silentLogger });
    await reg.loadAll({ builtinDir: builtinDirOf(['good']) });
    const p = reg.plugin('promptgen-plugin-example')!;
    const stored = reg.add({ ...p, version: '1.1.0' });
    expect(stored.status).toBe('LOADED');
    expect(reg.listPlugins().map((x) => x.version)).toEqual(['1.1.0']);
  });

  test('createContext: assets resolve inside the plugin and refuse escapes', async () => {
    const dir = writePackage(path.join(tmpDir('assets'), 'pkg'), { name: 'pkg', version: '1.0.0' });
    fs.writeFileSync(path.join(dir, 'labels.txt'), 'a\nb\n');
    fs.symlinkSync('/etc', path.join(dir, 'etc-link'));
    const reg = new PluginRegistry({ logger: silentLogger });
    const ctx = reg.createContext({ name: 'pkg', dir }, tf, 'cpu');
    expect(ctx.backend).toBe('cpu');
    expect(ctx.tf).toBe(tf);
    expect(ctx.assets.resolve('labels.txt')).toBe(path.join(dir, 'labels.txt'));
    expect((await ctx.assets.readFile('./labels.txt')).toString()).toBe('a\nb\n');
    expect(() => ctx.assets.resolve('../outside.txt')).toThrow(/escapes the plugin directory/);
    expect(() => ctx.assets.resolve('/etc/passwd')).toThrow(/escapes the plugin directory/);
    expect(() => ctx.assets.resolve('etc-link/passwd')).toThrow(/links outside the plugin directory/);
    await expect(ctx.assets.readFile('missing.bin')).rejects.toThrow(
      `asset not found: ${path.join(dir, 'missing.bin')}`,
    );
    await expect(ctx.assets.loadLayersModel('nomodel/model.json')).rejects.toThrow(
      `model file not found: ${path.join(dir, 'nomodel', 'model.json')}`,
    );
  });
});
