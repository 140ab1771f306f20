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
import { spawn } from 'child_process';
import { createHash, randomBytes } from 'crypto';
import { promises as fsp, existsSync, statSync } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { acquirePidLock, LockHeld, type PidLock } from '../pid-lock';
import { loadPluginPackage, type LoadedPlugin } from './loader';
import { withPluginChange } from './plugin-changes';
import { loadPluginTrialFirst } from './trial-load';

export interface InstallRecord {
  /** The spec the admin gave. */
  spec: string;
  /** What installs exactly this version elsewhere: `name@version`, or `file:<tarball>` for local specs. */
  resolvedSpec: string;
  /** npm integrity (SRI sha512) of the package tarball. */
  integrity: string;
  version: string;
  installedAt: string;
}

export interface InstallOptions {
  dataDir: string;
  /** npm executable (default `npm` from PATH). */
  npmBin?: string;
  /** Refuse the package unless its tarball has this integrity (installing a recorded version on a worker). */
  expectedIntegrity?: string;
  /** Names already taken by other plugins: typically a PluginRegistry. */
  conflicts?: { conflicts(plugin: LoadedPlugin): string[] };
  /** Kill npm after this long (default 300 000 ms). */
  timeoutMs?: number;
  /** Replace an installed version with an older one (refused otherwise, so a stale spec never downgrades silently). */
  allowDowngrade?: boolean;
  /** A further check of the staged plugin before it replaces anything (e.g. load its declared models); throw to refuse. */
  verify?: (plugin: LoadedPlugin) => Promise<unknown>;
}

export type InstallErrorCode =
  | 'INVALID_SPEC'
  | 'UNSUPPORTED_SPEC'
  | 'NOT_FOUND'
  | 'NETWORK'
  | 'NPM_FAILED'
  | 'LOAD_FAILED'
  | 'CONFLICT'
  | 'INTEGRITY_MISMATCH'
  | 'BUSY'
  | 'DOWNGRADE';

export type InstallResult =
  | {
      ok: true;
      plugin: LoadedPlugin;
      spec: string;
      resolvedSpec: string;
      integrity: string;
      /** The version this install replaced, if any. */
      replacedVersion?: string;
      /** For local specs: the kept tarball (store its bytes to install the same package on another machine). */
      tarball?: string;
    }
  | { ok: false; message: string; code: InstallErrorCode };

export type UninstallResult = { ok: true; removed: boolean } | { ok: false; message: string; code: InstallErrorCode };

const PREFIX_PACKAGE = {
  name: 'promptgen-installed-plugins',
  version: '0.0.0',
  private: true,
  description: 'Plugins installed by PromptGen (managed by the server; do not edit)',
  dependencies: {} as Record<string, string>,
};
const RECORDS_FIELD = 'promptgenInstalls';

/** The installer's npm prefix. */
export const pluginsPrefix = (dataDir: string) => path.join(path.resolve(dataDir), 'plugins');

export class InstallError extends Error {
  constructor(
    public code: InstallErrorCode,
    message: string,
  ) {
    super(message);
  }
}

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
      if (Date.now() > deadline) throw new InstallError('BUSY', `another plugin change is in progress (process ${e.owner.pid})`);
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
// npm

function npmEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  const drop = /^npm_(lifecycle_|package_|config_(prefix|global|location|workspaces?|include_workspace_root|save|save_exact|ignore_scripts)$)/i;
  for (const [k, v] of Object.entries(process.env)) if (!drop.test(k) && k !== 'INIT_CWD') env[k] = v;
  env.npm_config_update_notifier = 'false';
  return env;
}

interface NpmRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runNpm(args: string[], cwd: string, options: InstallOptions): Promise<NpmRun> {
  const bin = options.npmBin ?? 'npm';
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { cwd, env: npmEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGTERM'), options.timeoutMs ?? 300_000);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new InstallError('NPM_FAILED', `cannot run npm (${bin}): ${e.message}`));
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** A clear message for a failed npm command. */
export function explainNpmFailure(spec: string, run: NpmRun): InstallError {
  const text = run.stderr + '\n' + run.stdout;
  const code = /npm (?:ERR!|error) code (\S+)/.exec(text)?.[1];
  const errLines = text
    .split('\n')
    .filter((l) => /^npm (ERR!|error) /.test(l) && !/code |A complete log|^npm (ERR!|error) *$/.test(l))
    .map((l) => l.replace(/^npm (ERR!|error) +/, '').trim())
    .filter(Boolean)
    .slice(0, 4)
    .join(' ');
  switch (code) {
    case 'E404':
      return new InstallError('NOT_FOUND', `package ${JSON.stringify(spec)} was not found in the npm registry (npm E404)`);
    case 'ETARGET':
      return new InstallError('NOT_FOUND', `no version matching ${JSON.stringify(spec)} exists in the npm registry (npm ETARGET)`);
    case 'ENOENT':
      return new InstallError('NOT_FOUND', `${JSON.stringify(spec)} was not found: ${errLines || 'no such file or directory'}`);
    case 'EINVALIDPACKAGENAME':
    case 'EINVALIDTAGNAME':
    case 'EUNSUPPORTEDPROTOCOL':
      return new InstallError('INVALID_SPEC', `${JSON.stringify(spec)} is not a valid npm package spec: ${errLines}`);
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'ECONNREFUSED':
    case 'ECONNRESET':
    case 'ETIMEDOUT':
      return new InstallError('NETWORK', `could not reach the npm registry to install ${JSON.stringify(spec)} (${code}): ${errLines}`);
    default:
      if (run.code === null) return new InstallError('NPM_FAILED', `npm timed out installing ${JSON.stringify(spec)}`);
      return new InstallError('NPM_FAILED', `npm failed to install ${JSON.stringify(spec)}${code ? ` (${code})` : ''}: ${errLines || text.trim().slice(-500)}`);
  }
}

// ---------------------------------------------------------------------------
// prefix files

interface PrefixPackage {
  dependencies?: Record<string, string>;
  [RECORDS_FIELD]?: Record<string, InstallRecord>;
  [k: string]: unknown;
}

async function readJson<T>(file: string): Promise<T | null> {
  try {
    return JSON.parse(await fsp.readFile(file, 'utf8')) as T;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
}

/** Install records (spec, resolvedSpec, integrity, version) of the plugins in a prefix, by package name. */
export async function readInstalledRecords(prefix: string): Promise<Record<string, InstallRecord>> {
  const pkg = await readJson<PrefixPackage>(path.join(prefix, 'package.json'));
  return { ...(pkg?.[RECORDS_FIELD] ?? {}) };
}

/** The install records of a data directory's plugins. */
export function installedPlugins(dataDir: string): Promise<Record<string, InstallRecord>> {
  return readInstalledRecords(pluginsPrefix(dataDir));
}

async function lockIntegrity(prefix: string, name: string): Promise<string | undefined> {
  const lock = await readJson<{ packages?: Record<string, { integrity?: string }> }>(path.join(prefix, 'package-lock.json'));
  return lock?.packages?.[`node_modules/${name}`]?.integrity;
}

async function sha512Integrity(file: string): Promise<string> {
  return 'sha512-' + createHash('sha512').update(await fsp.readFile(file)).digest('base64');
}

/** Deletes tarballs no dependency refers to. */
async function pruneTarballs(prefix: string, pkg: PrefixPackage): Promise<void> {
  const dir = path.join(prefix, 'tarballs');
  if (!existsSync(dir)) return;
  const used = new Set(
    Object.values(pkg.dependencies ?? {})
      .filter((v) => v.startsWith('file:tarballs/'))
      .map((v) => v.slice('file:tarballs/'.length)),
  );
  for (const f of await fsp.readdir(dir)) if (!used.has(f)) await fsp.rm(path.join(dir, f), { force: true });
}

/** Runs `change` on a staging copy of the prefix and swaps it in when `change` succeeds. */
async function inStaging<T>(
  dataDir: string,
  change: (staging: string) => Promise<{ result: T; commit: boolean; verify?: (prefix: string) => Promise<void> }>,
): Promise<T> {
  const root = path.resolve(dataDir);
  const prefix = pluginsPrefix(root);
  const tag = `${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
  const staging = path.join(root, `.plugins-staging-${tag}`);
  const old = path.join(root, `.plugins-old-${tag}`);
  try {
    if (existsSync(prefix)) await fsp.cp(prefix, staging, { recursive: true, verbatimSymlinks: true });
    else await fsp.mkdir(staging, { recursive: true });
    if (!existsSync(path.join(staging, 'package.json'))) {
      await fsp.writeFile(path.join(staging, 'package.json'), JSON.stringify(PREFIX_PACKAGE, null, 2) + '\n');
    }
    const { result, commit, verify } = await change(staging);
    if (!commit) return result;
    const hadPrefix = existsSync(prefix);
    if (hadPrefix) await fsp.rename(prefix, old);
    await fsp.rename(staging, prefix);
    if (verify) {
      try {
        await verify(prefix);
      } catch (e) {
        // Put the previous prefix back.
        await fsp.rm(prefix, { recursive: true, force: true });
        if (hadPrefix) await fsp.rename(old, prefix);
        throw e;
      }
    }
    return result;
  } finally {
    await fsp.rm(staging, { recursive: true, force: true });
    await fsp.rm(old, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------
// specs

/** True for a directory or tarball path (or file: URL), false for a registry spec such as name@version. */
export function isLocalSpec(spec: string): boolean {
  return (
    /^(\.{1,2}([\\/]|$)|[\\/]|~[\\/]|file:)/.test(spec) ||
    /\.(tgz|tar\.gz|tar)$/i.test(spec) ||
    /^[a-zA-Z]:[\\/]/.test(spec)
  );
}

function localPath(spec: string): string {
  let p = spec.startsWith('file:') ? spec.slice(5).replace(/^\/\/(?=\/)/, '') : spec;
  if (p.startsWith('~/')) p = path.join(os.homedir(), p.slice(2));
  return path.resolve(p);
}

/** The package name of a registry spec (`@scope/name@range` → `@scope/name`), or null. */
export function registrySpecName(spec: string): string | null {
  if (spec.startsWith('npm:')) return registrySpecName(spec.slice(4));
  const at = spec.startsWith('@') ? spec.indexOf('@', 1) : spec.indexOf('@');
  const name = at > 0 ? spec.slice(0, at) : spec;
  return /^(@[a-z0-9-~][a-z0-9-._~]*\/)?[a-z0-9-~][a-z0-9-._~]*$/.test(name) ? name : null;
}

/**
 * Why a spec is refused before npm sees it, or null. The spec goes to `npm install` as an
 * argument: one starting with '-' would be read as an option (`--global`, `--registry=…`),
 * so it is refused, as are control characters. Git specs (git+…, github:, user/repo) need
 * git and run the package's prepare script, which this installer never does
 * (--ignore-scripts): refused with their own code instead of npm's confusing failure.
 */
export function installSpecProblem(spec: string): { code: InstallErrorCode; message: string } | null {
  const expected = 'expected name, name@version, an http(s) .tgz URL, a package directory or a .tgz path';
  if (!spec) return { code: 'INVALID_SPEC', message: `spec must not be empty (${expected})` };
  if (spec.length > 1000) return { code: 'INVALID_SPEC', message: 'spec is longer than 1000 characters' };
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(spec)) return { code: 'INVALID_SPEC', message: 'spec must not contain control characters' };
  if (spec.startsWith('-')) return { code: 'INVALID_SPEC', message: `spec must not start with "-" (npm would read it as an option); ${expected}` };
  if (isLocalSpec(spec)) return null;
  if (/^(git\+|git:|github:|gitlab:|bitbucket:|gist:)/i.test(spec) || /^[\w.-]+\/[\w.-]+(#.*)?$/.test(spec) || /\.git(#.*)?$/i.test(spec)) {
    return { code: 'UNSUPPORTED_SPEC', message: 'git specs are not supported (they need git and the package\'s prepare script): install the published package (name@version) or a .tgz from `npm pack`' };
  }
  if (registrySpecName(spec) || /^https?:\/\/\S+\.(tgz|tar\.gz)$/i.test(spec)) return null;
  return { code: 'INVALID_SPEC', message: `${JSON.stringify(spec.slice(0, 200))} is not a valid npm package spec (${expected})` };
}

/** Packs a directory or copies a tarball into `<staging>/tarballs/`; returns its file name and integrity. */
async function stageTarball(spec: string, staging: string, options: InstallOptions): Promise<{ file: string; integrity: string }> {
  const src = localPath(spec);
  if (!existsSync(src)) throw new InstallError('NOT_FOUND', `no such file or directory: ${src}`);
  const dir = path.join(staging, 'tarballs');
  await fsp.mkdir(dir, { recursive: true });
  const tmp = await fsp.mkdtemp(path.join(staging, '.pack-'));
  try {
    let packed: string;
    if (statSync(src).isDirectory()) {
      if (!existsSync(path.join(src, 'package.json'))) throw new InstallError('INVALID_SPEC', `${src} is a directory without a package.json`);
      const run = await runNpm(['pack', src, '--pack-destination', tmp, '--ignore-scripts', '--json'], tmp, options);
      if (run.code !== 0) throw explainNpmFailure(spec, run);
      const files = (await fsp.readdir(tmp)).filter((f) => f.endsWith('.tgz'));
      if (files.length !== 1) throw new InstallError('NPM_FAILED', `npm pack ${src} produced no tarball`);
      packed = path.join(tmp, files[0]);
    } else {
      packed = src;
    }
    const integrity = await sha512Integrity(packed);
    const hex = Buffer.from(integrity.slice('sha512-'.length), 'base64').toString('hex').slice(0, 12);
    const base = path.basename(packed).replace(/\.(tgz|tar\.gz|tar)$/i, '').replace(/[^A-Za-z0-9._-]/g, '_');
    const file = `${base}-${hex}.tgz`;
    await fsp.copyFile(packed, path.join(dir, file));
    return { file, integrity };
  } finally {
    await fsp.rm(tmp, { recursive: true, force: true });
  }
}

const NPM_FLAGS = ['--save-exact', '--ignore-scripts', '--no-audit', '--no-fund', '--no-update-notifier', '--loglevel=error'];

// ---------------------------------------------------------------------------
// versions

/**
 * Semantic-version order (semver.org §11): major.minor.patch numerically, a
 * pre-release below its release, pre-release identifiers numeric < text.
 * Written here because one comparison does not justify a dependency; build
 * metadata (`+…`) is ignored as the spec says.
 */
export function compareVersions(a: string, b: string): number {
  const split = (v: string) => {
    const [core, pre] = v.replace(/^v/, '').split('+')[0].split(/-(.*)/s);
    return { core: core.split('.').map((n) => parseInt(n, 10) || 0), pre: pre ? pre.split('.') : [] };
  };
  const x = split(a);
  const y = split(b);
  for (let i = 0; i < 3; i++) if ((x.core[i] ?? 0) !== (y.core[i] ?? 0)) return (x.core[i] ?? 0) < (y.core[i] ?? 0) ? -1 : 1;
  if (!x.pre.length || !y.pre.length) return x.pre.length === y.pre.length ? 0 : x.pre.length ? -1 : 1;
  for (let i = 0; i < Math.max(x.pre.length, y.pre.length); i++) {
    const p = x.pre[i];
    const q = y.pre[i];
    if (p === undefined) return -1;
    if (q === undefined) return 1;
    if (p === q) continue;
    const pn = /^\d+$/.test(p);
    const qn = /^\d+$/.test(q);
    if (pn && qn) return Number(p) < Number(q) ? -1 : 1;
    if (pn !== qn) return pn ? -1 : 1;
    return p < q ? -1 : 1;
  }
  return 0;
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
            throw new InstallError('INTEGRITY_MISMATCH', `the package at ${localPath(given)} has integrity ${tarball.integrity}, expected ${options.expectedIntegrity}`);
          }
          installSpec = `file:tarballs/${tarball.file}`;
        }

        const run = await runNpm(['install', ...NPM_FLAGS, '--prefix', staging, installSpec], staging, options);
        if (run.code !== 0) throw explainNpmFailure(given, run);

        const after = (await readJson<PrefixPackage>(path.join(staging, 'package.json'))) ?? {};
        const deps = after.dependencies ?? {};
        let name: string | null | undefined = local
          ? Object.keys(deps).find((k) => deps[k] === installSpec)
          : registrySpecName(given);
        name ??= Object.keys(deps).find((k) => deps[k] !== depsBefore[k]);
        if (!name || !deps[name]) throw new InstallError('NPM_FAILED', `npm installed ${JSON.stringify(given)} but it does not appear in ${path.join(staging, 'package.json')}`);

        const pkgDir = path.join(staging, 'node_modules', ...name.split('/'));
        // First in a child process: a plugin that throws asynchronously kills that, not the server.
        const staged = await loadPluginTrialFirst(pkgDir, { source: 'INSTALLED' });
        const version = staged.version;
        if (staged.status !== 'LOADED') throw new InstallError('LOAD_FAILED', `plugin ${name}@${version} failed to load: ${staged.error}`);
        if (options.verify) {
          try {
            await options.verify(staged);
          } catch (e) {
            throw new InstallError('LOAD_FAILED', `plugin ${name}@${version} failed to load: ${(e as Error).message}`);
          }
        }
        const clashes = options.conflicts?.conflicts(staged) ?? [];
        if (clashes.length) throw new InstallError('CONFLICT', `plugin ${name}@${version} cannot be installed: ${clashes.join('; ')}`);

        const installedVersion = before[RECORDS_FIELD]?.[name]?.version;
        if (installedVersion && !options.allowDowngrade && compareVersions(version, installedVersion) < 0) {
          throw new InstallError('DOWNGRADE', `${name}@${version} is older than the installed ${installedVersion}; install it with allowDowngrade to replace the newer version`);
        }

        const integrity = tarball?.integrity ?? (await lockIntegrity(staging, name));
        if (!integrity) throw new InstallError('NPM_FAILED', `npm recorded no integrity for ${name}@${version}`);
        if (options.expectedIntegrity && integrity !== options.expectedIntegrity) {
          throw new InstallError('INTEGRITY_MISMATCH', `${name}@${version} has integrity ${integrity}, expected ${options.expectedIntegrity}`);
        }

        const prefix = pluginsPrefix(options.dataDir);
        const keptTarball = tarball ? path.join(prefix, 'tarballs', tarball.file) : undefined;
        const resolvedSpec = keptTarball ? `file:${keptTarball}` : `${name}@${version}`;
        const record: InstallRecord = { spec: given, resolvedSpec, integrity, version, installedAt: new Date().toISOString() };
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
            const plugin = await loadPluginPackage(path.join(finalPrefix, 'node_modules', ...name!.split('/')), { source: 'INSTALLED', integrity });
            if (plugin.status !== 'LOADED') throw new InstallError('LOAD_FAILED', `plugin ${name}@${version} failed to load after install: ${plugin.error}`);
            result.plugin = plugin;
          },
        };
      }),
    );
  } catch (e) {
    if (e instanceof InstallError) return { ok: false, code: e.code, message: e.message };
    return { ok: false, code: 'NPM_FAILED', message: `installing ${JSON.stringify(given)} failed: ${(e as Error).message}` };
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
      return { ok: true, plugin, spec: have.spec, resolvedSpec: have.resolvedSpec, integrity: have.integrity };
    }
  }
  // The recorded version is what the admin chose (a downgrade included): install it whatever is here.
  return installPlugin(record.resolvedSpec, { ...options, expectedIntegrity: record.integrity, allowDowngrade: true });
}

/** Removes an installed plugin. `removed: false` when it was not installed. */
export async function uninstallPlugin(name: string, options: Pick<InstallOptions, 'dataDir' | 'npmBin' | 'timeoutMs'>): Promise<UninstallResult> {
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
