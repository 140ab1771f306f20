/** What the installer takes and answers: options, install records, results and their error codes. */
import type { LoadedPlugin } from './loader';

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

export type UninstallResult =
  { ok: true; removed: boolean } | { ok: false; message: string; code: InstallErrorCode };

/** A failure with the code the installer answers it with. */
export class InstallError extends Error {
  constructor(
    public code: InstallErrorCode,
    message: string,
  ) {
    super(message);
  }
}
