/** Where the installed plugin packages of an installer prefix are. */
import { promises as fsp, existsSync } from 'fs';
import * as path from 'path';

/** Sub-folders (and links to folders) of `dir`, hidden ones left out, sorted. */
export async function subdirs(dir: string): Promise<string[]> {
  if (!existsSync(dir)) return [];
  const entries = await fsp.readdir(dir, { withFileTypes: true });
  return entries
    .filter((e) => (e.isDirectory() || e.isSymbolicLink()) && !e.name.startsWith('.'))
    .map((e) => path.join(dir, e.name))
    .sort();
}

/** Package folders of the plugins installed in an installer prefix (`<dataDir>/plugins`). */
export async function installedPackageDirs(installedDir: string): Promise<string[]> {
  const pkgFile = path.join(installedDir, 'package.json');
  if (existsSync(pkgFile)) {
    const pkg = JSON.parse(await fsp.readFile(pkgFile, 'utf8')) as { dependencies?: Record<string, string> };
    return Object.keys(pkg.dependencies ?? {})
      .sort()
      .map((name) => path.join(installedDir, 'node_modules', ...name.split('/')));
  }
  const nm = path.join(installedDir, 'node_modules');
  const out: string[] = [];
  for (const d of await subdirs(nm)) {
    if (path.basename(d).startsWith('@')) out.push(...(await subdirs(d)));
    else out.push(d);
  }
  return out.filter((d) => existsSync(path.join(d, 'package.json')));
}
