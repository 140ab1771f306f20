#!/usr/bin/env node
/**
 * promptgen serve | worker | migrate | schema [--write] | plugin install <spec>
 */
import 'reflect-metadata';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConfigError, loadConfig, type Config } from './config';
import { createLogger } from './logger';
import { openDatabase, startServer, startWorker } from './app';
import { schemaSdl } from './schema/build-schema';
import { InProcessEventBus } from './jobs/event-bus';
import { syncCatalog } from './runtime/catalog-sync';
import { RuntimePluginAdmin } from './runtime/plugin-admin';
import { startTensorRuntime } from './runtime/tensor-runtime';
import { StartupError } from './store/start-failure';
import { containPluginFaults } from './plugins/containment';

const USAGE = `usage: promptgen <command>

  serve                   HTTP + GraphQL + subscriptions (+ in-process workers, PROMPTGEN_WORKERS)
  worker                  training workers only (needs DATABASE_URL shared with the servers)
  migrate                 apply database migrations and exit
  schema [--write]        print the GraphQL schema (or write schema.graphql)
  plugin install <spec>   install a plugin (npm spec, directory or .tgz)
  plugin uninstall <name> remove an installed plugin
`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === 'help' || command === '--help' || command === '-h') {
    process.stdout.write(USAGE);
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
async function pluginCommand(args: string[], config: Config, log: ReturnType<typeof createLogger>): Promise<number> {
  const [action, target] = args;
  if ((action !== 'install' && action !== 'uninstall') || !target) {
    process.stderr.write(USAGE);
    return 2;
  }
  const db = await openDatabase(config, log);
  try {
    const runtime = await startTensorRuntime(config, log);
    // A plugin that fails later than its trial load must not stop its own removal.
    const release = containPluginFaults(runtime.registry, config.dataDir, log.child('plugins'), () => undefined);
    await syncCatalog(db.store, runtime.registry);
    const admin = new RuntimePluginAdmin(db.store, runtime, config, new InProcessEventBus());
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

/** Resolves on the first SIGTERM or SIGINT; a second one exits at once. */
function waitForSignal(): Promise<void> {
  return new Promise((resolve) => {
    const onSignal = (signal: string) => {
      process.stderr.write(`received ${signal}\n`);
      process.once('SIGTERM', () => process.exit(130));
      process.once('SIGINT', () => process.exit(130));
      resolve();
    };
    process.once('SIGTERM', () => onSignal('SIGTERM'));
    process.once('SIGINT', () => onSignal('SIGINT'));
  });
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    const known = err instanceof StartupError;
    process.stderr.write(`promptgen: ${err instanceof Error ? (known ? err.message : err.stack ?? err.message) : String(err)}\n`);
    // Exit now: a half-started component (a pool, a queue timer) must not keep a failed process alive.
    process.exit(1);
  },
);
