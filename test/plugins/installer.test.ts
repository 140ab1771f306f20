import { execFileSync } from 'child_process';
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import {
  installPlugin,
  installRecorded,
  installedPlugins,
  uninstallPlugin,
  isLocalSpec,
  registrySpecName,
} from '../../src/plugins/installer';
import { PluginRegistry } from '../../src/plugins/registry';
import type { Tf } from '../../src/sdk';
import { fixture, makeTf, silentLogger, tmpDir } from './helpers';
import { optionalPart } from '../helpers/optional';

const NAME = 'promptgen-plugin-example';
let tf: Tf;
let work: string;
let tgz: string;
let packIntegrity: string;
let dataDir: string;
const prefix = () => path.join(dataDir, 'plugins');

/** Every file under dir with a content hash: "nothing changed" means equal snapshots. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else
        out[path.relative(dir, p)] = e.isSymbolicLink()
          ? `-> ${fs.readlinkSync(p)}`
          : createHash('sha1').update(fs.readFileSync(p)).digest('hex');
    }
  };
  if (fs.existsSync(dir)) walk(dir);
  return out;
}

function pack(dir: string, dest: string): { file: string; integrity: string } {
  const out = execFileSync('npm', ['pack', dir, '--pack-destination', dest, '--ignore-scripts', '--json'], {
    cwd: dest,
    encoding: 'utf8',
  });
  const [info] = JSON.parse(out);
  return { file: path.join(dest, info.filename), integrity: info.integrity };
}

beforeAll(async () => {
  tf = await makeTf();
  work = tmpDir('install');
  dataDir = path.join(work, 'data');
  fs.mkdirSync(dataDir);
  ({ file: tgz, integrity: packIntegrity } = pack(fixture('good'), work));
});

describe('installer', () => {
  test('spec helpers', () => {
    expect(isLocalSpec('./x')).toBe(true);
    expect(isLocalSpec('/a/b.tgz')).toBe(true);
    expect(isLocalSpec('x-1.0.0.tgz')).toBe(true);
    expect(isLocalSpec('@scope/pkg@1.0.0')).toBe(false);
    expect(registrySpecName('@scope/pkg@^1.0.0')).toBe('@scope/pkg');
    expect(registrySpecName('pkg')).toBe('pkg');
    expect(registrySpecName('Not A Name')).toBeNull();
  });

  test('install from a .tgz, load it through the registry, generate an image', async () => {
    const r = await installPlugin(tgz, { dataDir });
    if (!r.ok) throw new Error(r.message);
    expect(r.plugin).toMatchObject({ name: NAME, version: '1.0.0', status: 'LOADED', source: 'INSTALLED' });
    expect(r.plugin.dir).toBe(path.join(prefix(), 'node_modules', NAME));
    expect(r.integrity).toBe(packIntegrity);
    expect(r.plugin.integrity).toBe(packIntegrity);
    expect(r.spec).toBe(tgz);
    expect(r.resolvedSpec).toBe(`file:${r.tarball}`);
    expect(fs.existsSync(r.tarball!)).toBe(true);
    expect(r.replacedVersion).toBeUndefined();
    expect(await installedPlugins(dataDir)).toEqual({
      [NAME]: expect.objectContaining({ version: '1.0.0', integrity: packIntegrity, spec: tgz }),
    });
    // Only the prefix (and nothing else) is in the data directory.
    expect(fs.readdirSync(dataDir)).toEqual(['plugins']);

    const reg = new PluginRegistry({ logger: silentLogger });
    const [p] = await reg.loadAll({ installedDir: prefix() });
    expect(p).toMatchObject({ name: NAME, status: 'LOADED', integrity: packIntegrity });
    const gen = await reg.loadGenerator('example-pattern', { tf, backend: 'cpu' });
    expect(gen.generate(tf.zeros([2, 4]) as any).shape).toEqual([2, 8, 8, 1]);
    await reg.dispose();
  });

  test('a newer version from a directory replaces the old one, without running its scripts', async () => {
    const dir = path.join(work, 'example-1.1.0');
    fs.cpSync(fixture('good'), dir, { recursive: true });
    const marker = path.join(work, 'scripts-ran');
    const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'));
    pkg.version = '1.1.0';
    pkg.scripts = {
      preinstall: `node -e "require('fs').writeFileSync('${marker}', 'x')"`,
      postinstall: `node -e "require('fs').writeFileSync('${marker}', 'x')"`,
      prepack: `node -e "require('fs').writeFileSync('${marker}', 'x')"`,
    };
    fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify(pkg, null, 2));

    const r = await installPlugin(dir, { dataDir });
    if (!r.ok) throw new Error(r.message);
    expect(r.plugin.version).toBe('1.1.0');
    expect(r.replacedVersion).toBe('1.0.0');
    expect(fs.existsSync(marker)).toBe(false);
    expect(
      JSON.parse(fs.readFileSync(path.join(prefix(), 'node_modules', NAME, 'package.json'), 'utf8')).version,
    ).toBe('1.1.0');
    expect(fs.readdirSync(path.join(prefix(), 'tarballs'))).toEqual([path.basename(r.tarball!)]);
    expect(
      Object.keys(JSON.parse(fs.readFileSync(path.join(prefix(), 'package.json'), 'utf8')).dependencies),
    ).toEqual([NAME]);
    expect((await installedPlugins(dataDir))[NAME].version).toBe('1.1.0');
  });

  test('failures leave the data directory unchanged', async () => {
    const before = snapshot(dataDir);
    const missing = path.join(work, 'does-not-exist.tgz');
    const r1 = await installPlugin(missing, { dataDir });
    expect(r1).toEqual({ ok: false, code: 'NOT_FOUND', message: `no such file or directory: ${missing}` });
    expect(snapshot(dataDir)).toEqual(before);

    const r2 = await installPlugin(fixture('throws'), { dataDir });
    expect(r2).toEqual({
      ok: false,
      code: 'LOAD_FAILED',
      message:
        'plugin promptgen-plugin-throws@1.0.0 failed to load: plugin threw while loading: native addon libfoo.so is missing',
    });
    expect(snapshot(dataDir)).toEqual(before);

    const r3 = await installPlugin(fixture('no-field'), { dataDir });
    expect(r3.ok || r3.message).toBe(
      'plugin promptgen-plugin-no-field@1.0.0 failed to load: package.json has no "promptgen" field',
    );

    const reg = new PluginRegistry({ logger: silentLogger });
    reg.add(((await installPlugin(tgz, { dataDir: path.join(work, 'other-data') })) as any).plugin);
    const r4 = await installPlugin(fixture('duplicate'), { dataDir, conflicts: reg });
    expect(r4).toMatchObject({ ok: false, code: 'CONFLICT' });
    expect(r4.ok || r4.message).toMatch(
      /generator name "example-pattern" is already used by plugin promptgen-plugin-example/,
    );

    const r5 = await installPlugin('', { dataDir });
    expect(r5).toMatchObject({ ok: false, code: 'INVALID_SPEC' });
    expect(snapshot(dataDir)).toEqual(before);
    expect(fs.readdirSync(dataDir)).toEqual(['plugins']);
  });

  test('a package that is not in the npm registry → NOT_FOUND, nothing changed', async () => {
    const before = snapshot(dataDir);
    const r = await installPlugin('@promptgen/this-package-does-not-exist-xyz@1.0.0', {
      dataDir,
      timeoutMs: 90_000,
    });
    expect(r.ok).toBe(false);
    // Offline, only the NETWORK message can be checked; CI reaches the registry (npm ci does).
    if (
      !r.ok &&
      r.code === 'NETWORK' &&
      !optionalPart('the npm registry check', `registry unreachable: ${r.message}`)
    ) {
      expect(r.message).toMatch(/registry/i);
    } else {
      expect(r).toEqual({
        ok: false,
        code: 'NOT_FOUND',
        message:
          'package "@promptgen/this-package-does-not-exist-xyz@1.0.0" was not found in the npm registry (npm E404)',
      });
    }
    expect(snapshot(dataDir)).toEqual(before);
  });

  test('installRecorded: the recorded version is a no-op here; a wrong integrity is refused', async () => {
    const rec = (await installedPlugins(dataDir))[NAME];
    const same = await installRecorded({ name: NAME, ...rec }, { dataDir });
    expect(same).toMatchObject({ ok: true, integrity: rec.integrity });
    const fresh = path.join(work, 'worker-data');
    const before = snapshot(fresh);
    const bad = await installRecorded(
      { name: NAME, version: '1.0.0', resolvedSpec: tgz, integrity: 'sha512-AAAA' },
      { dataDir: fresh },
    );
    expect(bad).toMatchObject({ ok: false, code: 'INTEGRITY_MISMATCH' });
    expect(snapshot(fresh)).toEqual(before);
    const good = await installRecorded(
      { name: NAME, version: '1.0.0', resolvedSpec: tgz, integrity: packIntegrity },
      { dataDir: fresh },
    );
    expect(good).toMatchObject({ ok: true, integrity: packIntegrity });
  });

  test('an older version is refused unless allowed; a recorded version is installed even when older', async () => {
    expect((await installedPlugins(dataDir))[NAME].version).toBe('1.1.0');
    const before = snapshot(dataDir);
    const refused = await installPlugin(tgz, { dataDir });
    expect(refused).toEqual({
      ok: false,
      code: 'DOWNGRADE',
      message: `${NAME}@1.0.0 is older than the installed 1.1.0; install it with allowDowngrade to replace the newer version`,
    });
    expect(snapshot(dataDir)).toEqual(before);
    // A worker follows the database: the admin's recorded choice wins, older or not.
    const recorded = await installRecorded(
      { name: NAME, version: '1.0.0', resolvedSpec: tgz, integrity: packIntegrity },
      { dataDir },
    );
    expect(recorded).toMatchObject({ ok: true, replacedVersion: '1.1.0' });
    expect((await installedPlugins(dataDir))[NAME].version).toBe('1.0.0');
  });

  test('uninstall removes the package; a second uninstall reports removed: false', async () => {
    expect(await uninstallPlugin(NAME, { dataDir })).toEqual({ ok: true, removed: true });
    expect(fs.existsSync(path.join(prefix(), 'node_modules', NAME))).toBe(false);
    expect(
      JSON.parse(fs.readFileSync(path.join(prefix(), 'package.json'), 'utf8')).dependencies ?? {},
    ).toEqual({});
    expect(await installedPlugins(dataDir)).toEqual({});
    expect(fs.readdirSync(path.join(prefix(), 'tarballs'))).toEqual([]);
    expect(await uninstallPlugin(NAME, { dataDir })).toEqual({ ok: true, removed: false });
    const reg = new PluginRegistry({ logger: silentLogger });
    expect(await reg.loadAll({ installedDir: prefix() })).toEqual([]);
  });
});
