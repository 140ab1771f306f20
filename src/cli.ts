#!/usr/bin/env node
/**
 * promptgen serve | worker | migrate | config | schema [--write] | plugin install|uninstall|check
 */
// First: refuses an unsupported Node before any dependency loads (see shared/node-gate.ts).
import './shared/node-gate';
import 'reflect-metadata';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CONFIG_DOC, ConfigError, describeConfig, loadConfig, type Config } from './shared/config';
import { createLogger } from './shared/logger';
import { openDatabase, startServer, startWorker } from './app';
import { schemaSdl } from './schema/build-schema';
import { syncCatalog } from './catalog/catalog-sync';
import { RuntimePluginAdmin } from './services/plugin-admin-runtime';
import { checkPlugin } from './plugins/plugin-check';
import { startTensorRuntime } from './plugins/tensor-runtime';
import { PortUnavailableError } from './server/port-check';
import { StartupError } from './store/start-failure';
import { containPluginFaults } from './plugins/containment';

const USAGE = `usage: promptgen <command>

  serve                   HTTP + GraphQL + subscriptions (+ in-process workers, PROMPTGEN_WORKERS)
  worker                  training workers only (needs DATABASE_URL shared with the servers)
  migrate                 apply database migrations and exit
  config                  print the effective configuration and where each value comes from
  schema [--write]        print the GraphQL schema (or write schema.graphql)
  plugin install <spec>   install a plugin (npm spec, directory or .tgz)
  plugin uninstall <name> remove an installed plugin
  plugin check <dir|tgz> [--params <control>='<json>']... [--generator <name>] [--batch <n>]
                          load a plugin as a server would and try each generator, classifier and
                          control on a small batch (shapes, ranges, gradients, timings); exit 1 on a problem
`;

/** `--help`: the usage plus every environment variable with its default (the README's table). */
function helpText(): string {
  const width = Math.max(...CONFIG_DOC.map(([name]) => name.length));
  const rows = CONFIG_DOC.map(
    ([name, fallback, meaning]) =>
      `  ${name.padEnd(width)}  ${meaning.replace(/`/g, '')} [default: ${fallback}]`,
  );
  return `${USAGE}\nconfiguration (environment variables; \`promptgen config\` shows the values in effect):\n\n${rows.join('\n')}\n`;
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === 'help' || command === '--help' || command === '-h') {
    process.stdout.write(command ? helpText() : USAGE);
    return command ? 0 : 2;
  }
  if (command === 'schema') {
    const sdl = await schemaSdl();
    if (rest.includes('--write')) {
      const file = path.resolve(__dirname, '../../schema.graphql');
      fs.writeFileSync(file, sdl);
      process.stderr.write(`wrote ${file}\n`);
    } else process.stdout.write(sdl);
    return 0;
  }

  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      return 2;
    }
    throw err;
  }
  const log = createLogger(config.logLevel);

  if (command === 'config') {
    const rows = describeConfig(config);
    const width = Math.max(...rows.map((r) => r.name.length));
    for (const r of rows)
      process.stdout.write(`${r.name.padEnd(width)}  ${r.source.padEnd(7)}  ${r.value}\n`);
    return 0;
  }

  if (command === 'migrate') {
    const db = await openDatabase(config, log);
    log.info('migrations are up to date');
    await db.close();
    return 0;
  }
  if (command === 'serve') {
    const server = await startServer(config, log, { containPluginFaults: true });
    await waitForSignal();
    await server.close();
    return 0;
  }
  if (command === 'worker') {
    const worker = await startWorker(config, log, { containPluginFaults: true });
    await waitForSignal();
    await worker.close();
    return 0;
  }
  if (command === 'plugin') {
    return pluginCommand(rest, config, log);
  }
  process.stderr.write(`unknown command "${command}"\n\n${USAGE}`);
  return 2;
}

/** `promptgen plugin install|uninstall`: the same path as the GraphQL mutations, for the local data directory. */
async function pluginCommand(
  args: string[],
  config: Config,
  log: ReturnType<typeof createLogger>,
): Promise<number> {
  const [action, target] = args;
  if (action === 'check' && target) return pluginCheck(target, args.slice(2), config);
  if ((action !== 'install' && action !== 'uninstall') || !target) {
    process.stderr.write(USAGE);
    return 2;
  }
  const db = await openDatabase(config, log);
  try {
    const runtime = await startTensorRuntime(config, log);
    // A plugin that fails later than its trial load must not stop its own removal.
    const release = containPluginFaults(
      runtime.registry,
      config.dataDir,
      log.child('plugins'),
      () => undefined,
    );
    await syncCatalog(db.store, runtime.registry);
    const admin = new RuntimePluginAdmin(db.store, runtime, config, log.child('admin'));
    const result = action === 'install' ? await admin.install(target) : await admin.uninstall(target);
    await runtime.dispose();
    release();
    if (!result.ok) {
      for (const e of result.errors) process.stderr.write(`${e.code}: ${e.message}\n`);
      return 1;
    }
    process.stdout.write(action === 'install' ? `installed ${target}\n` : `uninstalled ${target}\n`);
    return 0;
  } finally {
    await db.close();
  }
}

/** `promptgen plugin check`: no database, no server; prints the report, exit 1 on a problem, 2 on bad arguments. */
async function pluginCheck(target: string, flags: string[], config: Config): Promise<number> {
  const params: Record<string, unknown> = {};
  let generator: string | undefined;
  let batch: number | undefined;
  for (let i = 0; i < flags.length; i++) {
    const flag = flags[i];
    const value = flags[++i];
    if (value === undefined) {
      process.stderr.write(`${flag} needs a value\n\n${USAGE}`);
      return 2;
    }
    if (flag === '--params') {
      const eq = value.indexOf('=');
      try {
        if (eq < 1) throw new Error('expected <control>=<json>');
        params[value.slice(0, eq)] = JSON.parse(value.slice(eq + 1));
      } catch (e) {
        process.stderr.write(`--params ${value}: ${(e as Error).message}\n`);
        return 2;
      }
    } else if (flag === '--generator') generator = value;
    else if (flag === '--batch' && /^\d+$/.test(value) && Number(value) >= 1 && Number(value) <= 64)
      batch = Number(value);
    else {
      process.stderr.write(`unknown or bad option ${flag} ${value}\n\n${USAGE}`);
      return 2;
    }
  }
  const report = await checkPlugin(target, { backend: config.backend, params, generator, batch });
  for (const line of report.lines) process.stdout.write(`${line}\n`);
  process.stdout.write(report.ok ? 'ok\n' : 'the plugin has problems (lines marked PROBLEM)\n');
  return report.ok ? 0 : 1;
}

/**
 * Resolves on the first SIGTERM or SIGINT; a second one exits at once.
 *
 * Started by npm (`npx promptgen serve`, a script without `exec`), the server
 * runs under `sh -c`, and /bin/sh (dash) does not pass on the SIGTERM npm
 * forwards to it: the shell dies and the server is left running, orphaned. So
 * under npm the parent is watched too, and its exit counts as a SIGTERM. Not
 * outside npm: a server started with `nohup … &` must outlive its shell.
 */
function waitForSignal(): Promise<void> {
  return new Promise((resolve) => {
    let watch: NodeJS.Timeout | undefined;
    const onSignal = (signal: string) => {
      if (watch) clearInterval(watch);
      process.stderr.write(`received ${signal}\n`);
      process.once('SIGTERM', () => process.exit(130));
      process.once('SIGINT', () => process.exit(130));
      resolve();
    };
    process.once('SIGTERM', () => onSignal('SIGTERM'));
    process.once('SIGINT', () => onSignal('SIGINT'));
    if (process.env.npm_command || process.env.npm_lifecycle_event) {
      const parent = process.ppid;
      watch = setInterval(() => {
        if (process.ppid !== parent) onSignal(`the end of its parent process ${parent} (npm)`);
      }, PARENT_POLL_MS);
      watch.unref();
    }
  });
}

/** How often a server started by npm checks that its parent still runs (a stop within about a second). */
const PARENT_POLL_MS = 500;

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    if (err instanceof PortUnavailableError) {
      process.stderr.write(`promptgen: ${err.message}\n`);
      process.exit(1);
    }
    const known = err instanceof StartupError;
    process.stderr.write(
      `promptgen: ${err instanceof Error ? (known ? err.message : (err.stack ?? err.message)) : String(err)}\n`,
    );
    // Exit now: a half-started component (a pool, a queue timer) must not keep a failed process alive.
    process.exit(1);
  },
);
