/** What the admin may hand the installer: which specs are local paths or registry names, which are refused, and version order. */
import * as os from 'os';
import * as path from 'path';
import type { InstallErrorCode } from './install-types';

/** True for a directory or tarball path (or file: URL), false for a registry spec such as name@version. */
export function isLocalSpec(spec: string): boolean {
  return (
    /^(\.{1,2}([\\/]|$)|[\\/]|~[\\/]|file:)/.test(spec) ||
    /\.(tgz|tar\.gz|tar)$/i.test(spec) ||
    /^[a-zA-Z]:[\\/]/.test(spec)
  );
}

/** The file a local spec names (`file:`, `~/` and relative paths resolved). */
export function localPath(spec: string): string {
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
  if (/[\u0000-\u001f\u007f]/.test(spec))
    return { code: 'INVALID_SPEC', message: 'spec must not contain control characters' };
  if (spec.startsWith('-'))
    return {
      code: 'INVALID_SPEC',
      message: `spec must not start with "-" (npm would read it as an option); ${expected}`,
    };
  if (isLocalSpec(spec)) return null;
  if (
    /^(git\+|git:|github:|gitlab:|bitbucket:|gist:)/i.test(spec) ||
    /^[\w.-]+\/[\w.-]+(#.*)?$/.test(spec) ||
    /\.git(#.*)?$/i.test(spec)
  ) {
    return {
      code: 'UNSUPPORTED_SPEC',
      message:
        "git specs are not supported (they need git and the package's prepare script): install the published package (name@version) or a .tgz from `npm pack`",
    };
  }
  if (registrySpecName(spec) || /^https?:\/\/\S+\.(tgz|tar\.gz)$/i.test(spec)) return null;
  return {
    code: 'INVALID_SPEC',
    message: `${JSON.stringify(spec.slice(0, 200))} is not a valid npm package spec (${expected})`,
  };
}

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
  for (let i = 0; i < 3; i++)
    if ((x.core[i] ?? 0) !== (y.core[i] ?? 0)) return (x.core[i] ?? 0) < (y.core[i] ?? 0) ? -1 : 1;
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
