/**
 * Process-level containment of plugin faults. A plugin's timer callback or
 * stray promise runs outside every try/catch of ours; by default Node ends the
 * process on such an error. Here an uncaught exception or unhandled rejection
 * whose stack runs through a loaded plugin's files is charged to that plugin:
 * the plugin is taken out of service (FAILED, with the error) and the process
 * goes on. An error no plugin can be blamed for still ends the process, as
 * Node would: its state is unknown, and a supervisor restarts it.
 *
 * The trial load in a child process (trial-load.ts) keeps the common cases
 * from ever reaching the server; this catches what a plugin does later (a
 * timer set for after the trial's settle period, a fault on first use).
 */
import * as path from 'node:path';
import type { Logger } from '../shared/logger';
import type { LoadedPlugin } from './loader';
import type { PluginRegistry } from './registry';

export type PluginFaultHandler = (plugin: LoadedPlugin, error: string) => void;

const describe = (err: unknown) => (err instanceof Error ? err.message : String(err));

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * The installed package a stack frame belongs to, by path: the installer's
 * prefix and its staging copies (`<dataDir>/plugins`, `.plugins-staging-*`,
 * `.plugins-old-*`), where an install loads a copy before it is swapped in.
 */
function installedPackageOfStack(stack: string, dataDir: string): string | undefined {
  const root = escape(path.resolve(dataDir));
  const sep = escape(path.sep);
  const re = new RegExp(
    `${root}${sep}(?:plugins|\\.plugins-(?:staging|old)-[^${sep}]+)${sep}node_modules${sep}((?:@[^${sep}]+${sep})?[^${sep}]+)${sep}`,
  );
  for (const line of stack.split('\n').slice(1)) {
    const m = re.exec(line.replace(/^\s*at .*?file:\/\//, ''));
    if (m) return m[1]!.split(path.sep).join('/');
  }
  return undefined;
}

/** Installs the handlers; returns the function that removes them. */
export function containPluginFaults(
  registry: PluginRegistry,
  dataDir: string,
  log: Logger,
  onFault: PluginFaultHandler,
): () => void {
  const handle = (kind: 'threw' | 'left a promise rejected', err: unknown) => {
    const stack = err instanceof Error ? (err.stack ?? '') : '';
    const name = registry.pluginOfStack(stack)?.name ?? installedPackageOfStack(stack, dataDir);
    if (!name) {
      log.error(
        `uncaught error outside any plugin; exiting: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`,
      );
      process.exit(1);
    }
    const error = `plugin ${kind} after loading: ${describe(err)}`;
    const plugin = registry.plugin(name);
    log.error(
      `plugin ${name}${plugin ? `@${plugin.version}` : ''} ${kind}; it is taken out of service: ${describe(err)}`,
      { stack },
    );
    const failed = registry.markFailed(name, error);
    if (failed) onFault(failed, error);
  };
  const onException = (err: Error) => handle('threw', err);
  const onRejection = (reason: unknown) => handle('left a promise rejected', reason);
  // The TF.js wasm backend (Emscripten) installs listeners that rethrow every
  // uncaught exception and rejection, which turns each into a crash whatever
  // other listeners decide. While contained, ours are the only ones (an error
  // no plugin owns still ends the process, as theirs would); they come back on release.
  const previous = {
    uncaughtException: process.listeners('uncaughtException'),
    unhandledRejection: process.listeners('unhandledRejection'),
  };
  process.removeAllListeners('uncaughtException');
  process.removeAllListeners('unhandledRejection');
  process.on('uncaughtException', onException);
  process.on('unhandledRejection', onRejection);
  return () => {
    process.off('uncaughtException', onException);
    process.off('unhandledRejection', onRejection);
    for (const l of previous.uncaughtException) process.on('uncaughtException', l);
    for (const l of previous.unhandledRejection)
      process.on('unhandledRejection', l as NodeJS.UnhandledRejectionListener);
  };
}
