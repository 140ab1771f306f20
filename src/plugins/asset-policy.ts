/**
 * Where a model or vocabulary file may come from. Control params are written by
 * anonymous clients, and a control's load() opens the files they name in the worker;
 * without a policy a client could make the server read any file it can read (the
 * admin token included) or fetch any URL (server-side request forgery).
 *
 * A location is allowed when it is
 *  - a relative path that stays inside the plugin package (an asset the plugin ships), or
 *  - an absolute path or file:// URL inside one of the directories the admin lists in
 *    PROMPTGEN_ASSET_DIRS (after following links), or
 *  - an http(s) URL that starts with one of the prefixes in PROMPTGEN_ASSET_URLS.
 * Both lists are empty by default: out of the box only plugin assets load.
 *
 * Every refusal has the same text whatever the file system holds, so a refusal
 * tells nothing about which paths exist.
 */
import { existsSync, realpathSync } from 'fs';
import * as path from 'path';
import { fileURLToPath } from 'url';

export interface AssetPolicy {
  /** Absolute directories whose files params may name. */
  readonly dirs: readonly string[];
  /** URL prefixes (normalised by `new URL`) that params may name. */
  readonly urlPrefixes: readonly string[];
}

/** The default: plugin assets only. */
export const PLUGIN_ASSETS_ONLY: AssetPolicy = Object.freeze({ dirs: [], urlPrefixes: [] });

export type AssetLocation =
  { kind: 'plugin'; relative: string } | { kind: 'file'; path: string } | { kind: 'url'; url: string };

export type AssetCheck = { ok: true; location: AssetLocation } | { ok: false; reason: string };

/** The one refusal text (never echoes server paths, never says whether a file exists). */
export const ASSET_REFUSAL =
  'is not an allowed asset location: name a file inside the plugin package (relative path), or ask the admin to allow a directory (PROMPTGEN_ASSET_DIRS) or URL prefix (PROMPTGEN_ASSET_URLS)';

function within(root: string, p: string): boolean {
  const rel = path.relative(root, p);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

/** Realpath of p, or of its nearest existing ancestor joined with the rest (p need not exist yet). */
function realish(p: string): string {
  let head = p;
  const tail: string[] = [];
  while (!existsSync(head)) {
    const parent = path.dirname(head);
    if (parent === head) return p;
    tail.unshift(path.basename(head));
    head = parent;
  }
  try {
    return path.join(realpathSync(head), ...tail);
  } catch {
    return p;
  }
}

function allowedFile(file: string, policy: AssetPolicy): boolean {
  const abs = path.resolve(file);
  const real = realish(abs);
  return policy.dirs.some((d) => {
    const dir = path.resolve(d);
    return within(dir, abs) && within(realish(dir), real);
  });
}

/** Classifies a client- or manifest-supplied location against the policy. */
export function checkAssetLocation(value: unknown, policy: AssetPolicy = PLUGIN_ASSETS_ONLY): AssetCheck {
  const refuse: AssetCheck = { ok: false, reason: ASSET_REFUSAL };
  if (typeof value !== 'string' || value.length === 0 || value.length > 2048 || value.includes('\0'))
    return refuse;
  if (/^https?:\/\//i.test(value)) {
    let href: string;
    try {
      const u = new URL(value);
      if (u.username || u.password) return refuse;
      href = u.href;
    } catch {
      return refuse;
    }
    return policy.urlPrefixes.some((p) => href.startsWith(p))
      ? { ok: true, location: { kind: 'url', url: href } }
      : refuse;
  }
  if (/^file:/i.test(value)) {
    let file: string;
    try {
      file = fileURLToPath(value);
    } catch {
      return refuse;
    }
    return allowedFile(file, policy)
      ? { ok: true, location: { kind: 'file', path: path.resolve(file) } }
      : refuse;
  }
  // Any other scheme (data:, ftp:, C:\...) is refused; a bare relative path is a plugin asset.
  if (/^[a-z][a-z0-9+.-]*:/i.test(value)) return refuse;
  if (path.isAbsolute(value))
    return allowedFile(value, policy)
      ? { ok: true, location: { kind: 'file', path: path.resolve(value) } }
      : refuse;
  const normal = path.normalize(value);
  if (normal === '..' || normal.startsWith('..' + path.sep) || normal.split(path.sep).includes('..'))
    return refuse;
  return { ok: true, location: { kind: 'plugin', relative: normal } };
}
