/**
 * Installs plugin packages with npm into a private prefix, `<dataDir>/plugins`.
 *
 * Every change is made in a staging copy of the prefix and verified (the plugin
 * is loaded from the staging copy) before it is swapped in, so a failed
 * install or uninstall leaves the data directory as it was. npm always runs
 * with `--ignore-scripts`: installing never runs a package's lifecycle scripts.
 *
 * Local specs (a directory or a .tgz) are packed/copied into
 * `<dataDir>/plugins/tarballs/` and installed from there, so the prefix is
 * self-contained and the recorded integrity is the sha512 of that tarball
 * (the same value npm writes to its lock file).
 */
import { promises as fsp, existsSync, statSync } from 'fs';
import * as path from 'path';
import { acquirePidLock, LockHeld, type PidLock } from '../shared/pid-lock';
import {
  inStaging,
  lockIntegrity,
  pluginsPrefix,
  pruneTarballs,
  readInstalledRecords,
  readJson,
  RECORDS_FIELD,
  sha512Integrity,
  type PrefixPackage,
} from './install-prefix';
import {
  compareVersions,
  installSpecProblem,
  isLocalSpec,
  localPath,
  registrySpecName,
} from './install-specs';
import {
  InstallError,
  type InstallOptions,
  type InstallRecord,
  type InstallResult,
  type UninstallResult,
} from './install-types';
import { loadPluginPackage } from './loader';
import { explainNpmFailure, NPM_FLAGS, runNpm } from './npm-run';
import { withPluginChange } from './plugin-changes';
import { loadPluginTrialFirst } from './trial-load';

// The installer's parts, for the callers that import them from here.
export type {
  InstallErrorCode,
  InstallOptions,
  InstallRecord,
  InstallResult,
  UninstallResult,
} from './install-types';
export { InstallError } from './install-types';
export { installedPlugins, pluginsPrefix, readInstalledRecords } from './install-prefix';
export { compareVersions, installSpecProblem, isLocalSpec, registrySpecName } from './install-specs';
export { explainNpmFailure } from './npm-run';

// ---------------------------------------------------------------------------
// locking: one change at a time per data directory (in process: the plugin-change
// queue, which an admin install or a plugin sync may hold already; across processes: a file lock)

function withLock<T>(dataDir: string, fn: () => Promise<T>): Promise<T> {
  return withPluginChange(dataDir, () => withFileLock(path.resolve(dataDir), fn));
}

/**
 * The cross-process lock names its holder (pid): a lock left by a process that
 * died (a crash mid-install) is taken over at once; a live holder is waited for.
 */
async function withFileLock<T>(dataDir: string, fn: () => Promise<T>): Promise<T> {
  await fsp.mkdir(dataDir, { recursive: true });
  const file = path.join(dataDir, '.plugins.lock');
  const deadline = Date.now() + 120_000;
  let lock: PidLock;
  for (;;) {
    try {
      lock = acquirePidLock(file);
      break;
    } catch (e) {
      if (!(e instanceof LockHeld)) throw e;
      if (Date.now() > deadline)
        throw new InstallError('BUSY', `another plugin change is in progress (process ${e.owner.pid})`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  try {
    return await fn();
  } finally {
    lock.release();
  }
}

// ---------------------------------------------------------------------------
// staging a local package

/** Packs a directory or copies a tarball into `<staging>/tarballs/`; returns its file name and integrity. */
async function stageTarball(
  spec: string,
  staging: string,
  options: InstallOptions,
): Promise<{ file: string; integrity: string }> {
  const src = localPath(spec);
  if (!existsSync(src)) throw new InstallError('NOT_FOUND', `no such file or directory: ${src}`);
  const dir = path.join(staging, 'tarballs');
  await fsp.mkdir(dir, { recursive: true });
  const tmp = await fsp.mkdtemp(path.join(staging, '.pack-'));
  try {
    let packed: string;
    if (statSync(src).isDirectory()) {
      if (!existsSync(path.join(src, 'package.json')))
        throw new InstallError('INVALID_SPEC', `${src} is a directory without a package.json`);
      const run = await runNpm(
        ['pack', src, '--pack-destination', tmp, '--ignore-scripts', '--json'],
        tmp,
        options,
      );
      if (run.code !== 0) throw explainNpmFailure(spec, run);
      const files = (await fsp.readdir(tmp)).filter((f) => f.endsWith('.tgz'));
      if (files.length !== 1) throw new InstallError('NPM_FAILED', `npm pack ${src} produced no tarball`);
      packed = path.join(tmp, files[0]);
    } else {
      packed = src;
    }
    const integrity = await sha512Integrity(packed);
    const hex = Buffer.from(integrity.slice('sha512-'.length), 'base64').toString('hex').slice(0, 12);
    const base = path
      .basename(packed)
      .replace(/\.(tgz|tar\.gz|tar)$/i, '')
      .replace(/[^A-Za-z0-9._-]/g, '_');
    const file = `${base}-${hex}.tgz`;
    await fsp.copyFile(packed, path.join(dir, file));
    return { file, integrity };
  } finally {
    await fsp.rm(tmp, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------
// public API

/**
 * Installs (or replaces) a plugin: `spec` is an npm spec (`name`, `name@1.2.3`),
 * a package directory, or a .tgz path. The plugin is verified by loading it
 * before it replaces anything; on any failure the data directory is unchanged.
 */
export async function installPlugin(spec: string, options: InstallOptions): Promise<InstallResult> {
  const given = typeof spec === 'string' ? spec.trim() : '';
  const refused = installSpecProblem(given);
  if (refused) return { ok: false, ...refused };
  const local = isLocalSpec(given);
  try {
    return await withLock(options.dataDir, () =>
      inStaging<InstallResult>(options.dataDir, async (staging) => {
        const before = (await readJson<PrefixPackage>(path.join(staging, 'package.json'))) ?? {};
        const depsBefore = { ...(before.dependencies ?? {}) };

        let installSpec = given;
        let tarball: { file: string; integrity: string } | undefined;
        if (local) {
          tarball = await stageTarball(given, staging, options);
          if (options.expectedIntegrity && tarball.integrity !== options.expectedIntegrity) {
            throw new InstallError(
              'INTEGRITY_MISMATCH',
              `the package at ${localPath(given)} has integrity ${tarball.integrity}, expected ${options.expectedIntegrity}`,
            );
          }
          installSpec = `file:tarballs/${tarball.file}`;
        }

        const run = await runNpm(
          ['install', ...NPM_FLAGS, '--prefix', staging, installSpec],
          staging,
          options,
        );
        if (run.code !== 0) throw explainNpmFailure(given, run);

        const after = (await readJson<PrefixPackage>(path.join(staging, 'package.json'))) ?? {};
        const deps = after.dependencies ?? {};
        let name: string | null | undefined = local
          ? Object.keys(deps).find((k) => deps[k] === installSpec)
          : registrySpecName(given);
        name ??= Object.keys(deps).find((k) => deps[k] !== depsBefore[k]);
        if (!name || !deps[name])
          throw new InstallError(
            'NPM_FAILED',
            `npm installed ${JSON.stringify(given)} but it does not appear in ${path.join(staging, 'package.json')}`,
          );

        const pkgDir = path.join(staging, 'node_modules', ...name.split('/'));
        // First in a child process: a plugin that throws asynchronously kills that, not the server.
        const staged = await loadPluginTrialFirst(pkgDir, { source: 'INSTALLED' });
        const version = staged.version;
        if (staged.status !== 'LOADED')
          throw new InstallError('LOAD_FAILED', `plugin ${name}@${version} failed to load: ${staged.error}`);
        if (options.verify) {
          try {
            await options.verify(staged);
          } catch (e) {
            throw new InstallError(
              'LOAD_FAILED',
              `plugin ${name}@${version} failed to load: ${(e as Error).message}`,
            );
          }
        }
        const clashes = options.conflicts?.conflicts(staged) ?? [];
        if (clashes.length)
          throw new InstallError(
            'CONFLICT',
            `plugin ${name}@${version} cannot be installed: ${clashes.join('; ')}`,
          );

        const installedVersion = before[RECORDS_FIELD]?.[name]?.version;
        if (installedVersion && !options.allowDowngrade && compareVersions(version, installedVersion) < 0) {
          throw new InstallError(
            'DOWNGRADE',
            `${name}@${version} is older than the installed ${installedVersion}; install it with allowDowngrade to replace the newer version`,
          );
        }

        const integrity = tarball?.integrity ?? (await lockIntegrity(staging, name));
        if (!integrity)
          throw new InstallError('NPM_FAILED', `npm recorded no integrity for ${name}@${version}`);
        if (options.expectedIntegrity && integrity !== options.expectedIntegrity) {
          throw new InstallError(
            'INTEGRITY_MISMATCH',
            `${name}@${version} has integrity ${integrity}, expected ${options.expectedIntegrity}`,
          );
        }

        const prefix = pluginsPrefix(options.dataDir);
        const keptTarball = tarball ? path.join(prefix, 'tarballs', tarball.file) : undefined;
        const resolvedSpec = keptTarball ? `file:${keptTarball}` : `${name}@${version}`;
        const record: InstallRecord = {
          spec: given,
          resolvedSpec,
          integrity,
          version,
          installedAt: new Date().toISOString(),
        };
        const previous = before[RECORDS_FIELD]?.[name];
        after[RECORDS_FIELD] = { ...(after[RECORDS_FIELD] ?? {}), [name]: record };
        await fsp.writeFile(path.join(staging, 'package.json'), JSON.stringify(after, null, 2) + '\n');
        await pruneTarballs(staging, after);

        const result: Extract<InstallResult, { ok: true }> = {
          ok: true,
          plugin: staged,
          spec: given,
          resolvedSpec,
          integrity,
          ...(depsBefore[name] ? { replacedVersion: previous?.version ?? depsBefore[name] } : {}),
          ...(keptTarball ? { tarball: keptTarball } : {}),
        };
        return {
          result,
          commit: true,
          // Load again from the final folder (the staging folder is about to go).
          verify: async (finalPrefix) => {
            const plugin = await loadPluginPackage(
              path.join(finalPrefix, 'node_modules', ...name!.split('/')),
              { source: 'INSTALLED', integrity },
            );
            if (plugin.status !== 'LOADED')
              throw new InstallError(
                'LOAD_FAILED',
                `plugin ${name}@${version} failed to load after install: ${plugin.error}`,
              );
            result.plugin = plugin;
          },
        };
      }),
    );
  } catch (e) {
    if (e instanceof InstallError) return { ok: false, code: e.code, message: e.message };
    return {
      ok: false,
      code: 'NPM_FAILED',
      message: `installing ${JSON.stringify(given)} failed: ${(e as Error).message}`,
    };
  }
}

/**
 * Installs exactly a recorded plugin version (a worker on another machine):
 * does nothing when that version with that integrity is already installed.
 * For a local tarball, `resolvedSpec` must point at a copy of the tarball on this machine.
 */
export async function installRecorded(
  record: Pick<InstallRecord, 'resolvedSpec' | 'integrity'> & { name: string; version: string },
  options: InstallOptions,
): Promise<InstallResult> {
  const prefix = pluginsPrefix(options.dataDir);
  const records = await readInstalledRecords(prefix);
  const have = records[record.name];
  const dir = path.join(prefix, 'node_modules', ...record.name.split('/'));
  if (have && have.version === record.version && have.integrity === record.integrity && existsSync(dir)) {
    const plugin = await loadPluginTrialFirst(dir, { source: 'INSTALLED', integrity: have.integrity });
    if (plugin.status === 'LOADED') {
      return {
        ok: true,
        plugin,
        spec: have.spec,
        resolvedSpec: have.resolvedSpec,
        integrity: have.integrity,
      };
    }
  }
  // The recorded version is what the admin chose (a downgrade included): install it whatever is here.
  return installPlugin(record.resolvedSpec, {
    ...options,
    expectedIntegrity: record.integrity,
    allowDowngrade: true,
  });
}

/** Removes an installed plugin. `removed: false` when it was not installed. */
export async function uninstallPlugin(
  name: string,
  options: Pick<InstallOptions, 'dataDir' | 'npmBin' | 'timeoutMs'>,
): Promise<UninstallResult> {
  if (typeof name !== 'string' || !registrySpecName(name) || name.includes('@', 1)) {
    return { ok: false, code: 'INVALID_SPEC', message: `${JSON.stringify(name)} is not a package name` };
  }
  const prefix = pluginsPrefix(options.dataDir);
  try {
    return await withLock(options.dataDir, async () => {
      const pkg = await readJson<PrefixPackage>(path.join(prefix, 'package.json'));
      if (!pkg?.dependencies?.[name]) return { ok: true as const, removed: false };
      return inStaging<UninstallResult>(options.dataDir, async (staging) => {
        const run = await runNpm(['uninstall', ...NPM_FLAGS, '--prefix', staging, name], staging, options);
        if (run.code !== 0) throw explainNpmFailure(name, run);
        const after = (await readJson<PrefixPackage>(path.join(staging, 'package.json'))) ?? {};
        if (after[RECORDS_FIELD]) delete after[RECORDS_FIELD][name];
        await fsp.writeFile(path.join(staging, 'package.json'), JSON.stringify(after, null, 2) + '\n');
        await pruneTarballs(staging, after);
        return { result: { ok: true, removed: true }, commit: true };
      });
    });
  } catch (e) {
    if (e instanceof InstallError) return { ok: false, code: e.code, message: e.message };
    return { ok: false, code: 'NPM_FAILED', message: `uninstalling ${name} failed: ${(e as Error).message}` };
  }
}
