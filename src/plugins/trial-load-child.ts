/**
 * The child process of a trial load (see trial-load.ts): loads one plugin
 * package, waits a moment for what its module set off asynchronously (timers,
 * promises), and reports to the parent over IPC. Anything the plugin throws or
 * rejects, at once or in that moment, is reported as the plugin's failure; the
 * parent process never runs the code until this child said LOADED.
 */
import { loadPluginPackage, type PluginSource } from './loader';

interface Report {
  status: 'LOADED' | 'FAILED';
  name?: string;
  version?: string;
  error?: string;
}

const [dir, source, settleArg] = process.argv.slice(2);
const settleMs = Number(settleArg) || 1000;
let reported = false;

function report(r: Report, code: number): void {
  if (reported) return;
  reported = true;
  const exit = () => process.exit(code);
  if (process.send) process.send(r, exit);
  else exit();
}

const describe = (err: unknown) => (err instanceof Error ? err.message : String(err));
process.on('uncaughtException', (err) =>
  report({ status: 'FAILED', error: `plugin threw asynchronously after loading: ${describe(err)}` }, 1),
);
process.on('unhandledRejection', (reason) =>
  report({ status: 'FAILED', error: `plugin left a promise rejected while loading: ${describe(reason)}` }, 1),
);

(async () => {
  const plugin = await loadPluginPackage(dir!, {
    source: source === 'BUILTIN' ? 'BUILTIN' : ('INSTALLED' as PluginSource),
  });
  if (plugin.status !== 'LOADED') {
    report({ status: 'FAILED', name: plugin.name, version: plugin.version, error: plugin.error }, 0);
    return;
  }
  // Timers and promises the module started get this long to fail.
  await new Promise((r) => setTimeout(r, settleMs));
  report({ status: 'LOADED', name: plugin.name, version: plugin.version }, 0);
})().catch((err) => report({ status: 'FAILED', error: `loading the plugin failed: ${describe(err)}` }, 1));
