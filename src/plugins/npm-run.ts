/**
 * Running npm for the installer: a clean environment (no settings inherited
 * from an npm script that started the server), a time limit, and npm's error
 * codes turned into the installer's, with a message an admin can act on.
 */
import { spawn } from 'child_process';
import { InstallError, type InstallOptions } from './install-types';

/** Every install and uninstall: exact versions, and never a package's lifecycle scripts. */
export const NPM_FLAGS = [
  '--save-exact',
  '--ignore-scripts',
  '--no-audit',
  '--no-fund',
  '--no-update-notifier',
  '--loglevel=error',
];

function npmEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  const drop =
    /^npm_(lifecycle_|package_|config_(prefix|global|location|workspaces?|include_workspace_root|save|save_exact|ignore_scripts)$)/i;
  for (const [k, v] of Object.entries(process.env)) if (!drop.test(k) && k !== 'INIT_CWD') env[k] = v;
  env.npm_config_update_notifier = 'false';
  return env;
}

export interface NpmRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function runNpm(args: string[], cwd: string, options: InstallOptions): Promise<NpmRun> {
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
      return new InstallError(
        'NOT_FOUND',
        `package ${JSON.stringify(spec)} was not found in the npm registry (npm E404)`,
      );
    case 'ETARGET':
      return new InstallError(
        'NOT_FOUND',
        `no version matching ${JSON.stringify(spec)} exists in the npm registry (npm ETARGET)`,
      );
    case 'ENOENT':
      return new InstallError(
        'NOT_FOUND',
        `${JSON.stringify(spec)} was not found: ${errLines || 'no such file or directory'}`,
      );
    case 'EINVALIDPACKAGENAME':
    case 'EINVALIDTAGNAME':
    case 'EUNSUPPORTEDPROTOCOL':
      return new InstallError(
        'INVALID_SPEC',
        `${JSON.stringify(spec)} is not a valid npm package spec: ${errLines}`,
      );
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'ECONNREFUSED':
    case 'ECONNRESET':
    case 'ETIMEDOUT':
      return new InstallError(
        'NETWORK',
        `could not reach the npm registry to install ${JSON.stringify(spec)} (${code}): ${errLines}`,
      );
    default:
      if (run.code === null)
        return new InstallError('NPM_FAILED', `npm timed out installing ${JSON.stringify(spec)}`);
      return new InstallError(
        'NPM_FAILED',
        `npm failed to install ${JSON.stringify(spec)}${code ? ` (${code})` : ''}: ${errLines || text.trim().slice(-500)}`,
      );
  }
}
