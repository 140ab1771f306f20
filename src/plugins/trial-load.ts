/**
 * Plugin code runs first in a throwaway child process: a module that throws
 * from a timer or leaves a promise rejected would otherwise pass the loader's
 * try/catch (it has already returned) and then kill the whole server. Only a
 * plugin that loaded in the child, and stayed quiet for a settle period, is
 * imported into the server. A trial costs one Node start (~0.2–0.5 s), paid
 * for installed plugins at install and at start-up, not for the built-in ones.
 */
import { fork } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadPluginPackage, type LoadedPlugin, type LoadOptions, type PluginSource } from './loader';

export type TrialResult = { ok: true } | { ok: false; error: string };

/** How long a loaded plugin's module gets to throw or reject asynchronously. */
export const TRIAL_SETTLE_MS = 1000;
/** A trial that takes longer than this (a module that never finishes loading) fails. */
const TRIAL_TIMEOUT_MS = 60_000;

function childScript(): string {
  const here = path.join(__dirname, 'trial-load-child.js');
  if (fs.existsSync(here)) return here;
  // Under jest this module is TypeScript; the child runs the built file.
  const built = path.resolve(__dirname, '../../dist/src/plugins/trial-load-child.js');
  if (!fs.existsSync(built))
    throw new Error(`plugin trial loader not built: run "npm run build" (looked for ${built})`);
  return built;
}

export function trialLoadPlugin(
  dir: string,
  source: PluginSource = 'INSTALLED',
  settleMs = TRIAL_SETTLE_MS,
): Promise<TrialResult> {
  return new Promise((resolve) => {
    let settled = false;
    const done = (r: TrialResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(r);
    };
    const child = fork(childScript(), [dir, source, String(settleMs)], {
      // The plugin's own output is not ours to show (it may print paths or secrets).
      stdio: ['ignore', 'ignore', 'ignore', 'ipc'],
      execArgv: [],
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      done({ ok: false, error: `plugin did not finish loading within ${TRIAL_TIMEOUT_MS / 1000} s` });
    }, TRIAL_TIMEOUT_MS);
    child.on('message', (msg: { status?: string; error?: string }) => {
      if (msg?.status === 'LOADED') done({ ok: true });
      else done({ ok: false, error: msg?.error ?? 'plugin failed to load' });
    });
    child.on('error', (err) =>
      done({ ok: false, error: `could not start the plugin trial load: ${err.message}` }),
    );
    // 'close' comes after the last IPC message, so a report is never taken for a silent exit.
    child.on('close', (code, signal) => {
      done({ ok: false, error: `plugin ended the trial-load process (${signal ?? `exit code ${code}`})` });
    });
  });
}

/** The package's name and version as package.json says (for a plugin whose trial failed). */
function identity(dir: string): { name: string; version: string; description?: string } {
  try {
    const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as Record<
      string,
      unknown
    >;
    return {
      name: typeof pkg.name === 'string' && pkg.name ? pkg.name : path.basename(dir),
      version: typeof pkg.version === 'string' && pkg.version ? pkg.version : '0.0.0',
      ...(typeof pkg.description === 'string' ? { description: pkg.description } : {}),
    };
  } catch {
    return { name: path.basename(dir), version: '0.0.0' };
  }
}

/**
 * Loads a plugin into this process only after a trial load in a child process
 * succeeded; otherwise returns it FAILED with the trial's error.
 */
export async function loadPluginTrialFirst(
  dir: string,
  options: LoadOptions,
  settleMs = TRIAL_SETTLE_MS,
): Promise<LoadedPlugin> {
  const trial = await trialLoadPlugin(dir, options.source, settleMs);
  if (!trial.ok) {
    return {
      ...identity(dir),
      dir: path.resolve(dir),
      source: options.source,
      status: 'FAILED',
      error: trial.error,
      integrity: options.integrity,
    };
  }
  return loadPluginPackage(dir, options);
}
