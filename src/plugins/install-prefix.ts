/**
 * The installer's npm prefix, `<dataDir>/plugins`: its package.json (with the
 * install record of every plugin in it), lock file and kept tarballs, and the
 * staging copy every change is made in before it is swapped in.
 */
import { createHash, randomBytes } from 'crypto';
import { promises as fsp, existsSync } from 'fs';
import * as path from 'path';
import type { InstallRecord } from './install-types';

const PREFIX_PACKAGE = {
  name: 'promptgen-installed-plugins',
  version: '0.0.0',
  private: true,
  description: 'Plugins installed by PromptGen (managed by the server; do not edit)',
  dependencies: {} as Record<string, string>,
};
export const RECORDS_FIELD = 'promptgenInstalls';

/** The installer's npm prefix. */
export const pluginsPrefix = (dataDir: string) => path.join(path.resolve(dataDir), 'plugins');

export interface PrefixPackage {
  dependencies?: Record<string, string>;
  [RECORDS_FIELD]?: Record<string, InstallRecord>;
  [k: string]: unknown;
}

/** A JSON file's contents, or null when the file does not exist. */
export async function readJson<T>(file: string): Promise<T | null> {
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

export async function lockIntegrity(prefix: string, name: string): Promise<string | undefined> {
  const lock = await readJson<{ packages?: Record<string, { integrity?: string }> }>(
    path.join(prefix, 'package-lock.json'),
  );
  return lock?.packages?.[`node_modules/${name}`]?.integrity;
}

export async function sha512Integrity(file: string): Promise<string> {
  return (
    'sha512-' +
    createHash('sha512')
      .update(await fsp.readFile(file))
      .digest('base64')
  );
}

/** Deletes tarballs no dependency refers to. */
export async function pruneTarballs(prefix: string, pkg: PrefixPackage): Promise<void> {
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
export async function inStaging<T>(
  dataDir: string,
  change: (
    staging: string,
  ) => Promise<{ result: T; commit: boolean; verify?: (prefix: string) => Promise<void> }>,
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
