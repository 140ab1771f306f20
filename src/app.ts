/**
 * Composition root: wires configuration, database, queue, event bus,
 * services and servers together, and takes them down in order on shutdown.
 * `promptgen serve` and `promptgen worker` both start here.
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { DataSource } from 'typeorm';
import { maskPassword, type Config } from './shared/config';
import { InProcessEventBus, PostgresEventBus, type EventBus } from './events/event-bus';
import { JobQueue } from './jobs/queue';
import { startStuckPromptSweep } from './jobs/stuck-prompts';
import { WriteHealth } from './jobs/write-health';
import type { Logger } from './shared/logger';
import { createSchema } from './schema/build-schema';
import { loadAdminToken } from './server/admin-token';
import { createGraphQLEndpoints } from './server/graphql-server';
import { createHttpApp } from './server/http-app';
import { assertPortFree, PortUnavailableError } from './server/port-check';
import type { Services } from './services';
import { PromptService } from './services/prompts';
import { RateLimiter } from './services/rate-limit';
import { createDataSource, runMigrations } from './store/data-source';
import { EMBEDDED_MAX_CONNECTIONS, startEmbeddedDatabase, type EmbeddedDatabase } from './store/embedded';
import { Store } from './store/store';
import { runTrainingJob, type TrainingDeps } from './jobs/training-job';
import { containPluginFaults } from './plugins/containment';
import { syncCatalog } from './catalog/catalog-sync';
import { recordPluginFault } from './catalog/plugin-fault-record';
import { RuntimePluginAdmin } from './services/plugin-admin-runtime';
import { TensorSampleService } from './services/samples-tensor';
import { startTensorRuntime, type TensorRuntime } from './plugins/tensor-runtime';
import { cpuCores, effectiveConcurrency } from './jobs/concurrency';

export interface Database {
  url: string;
  embedded: EmbeddedDatabase | null;
  dataSource: DataSource;
  store: Store;
  close(): Promise<void>;
}

/** Opens the configured PostgreSQL, or the embedded one, and migrates it. */
export async function openDatabase(config: Config, log: Logger): Promise<Database> {
  fs.mkdirSync(config.dataDir, { recursive: true });
  const embedded = config.databaseUrl ? null : await startEmbeddedDatabase(config.dataDir);
  const url = config.databaseUrl ?? embedded!.url;
  // Embedded: every pool of the process shares one PGlite backend; stay under its connection cap.
  const dataSource = createDataSource({
    url,
    poolSize: embedded ? Math.floor(EMBEDDED_MAX_CONNECTIONS / 4) : 10,
  });
  try {
    await dataSource.initialize();
    const applied = await runMigrations(dataSource);
    if (applied.length) log.info(`applied migrations: ${applied.join(', ')}`);
  } catch (err) {
    await dataSource.destroy().catch(() => undefined);
    await embedded?.close();
    throw err;
  }
  return {
    url,
    embedded,
    dataSource,
    store: new Store(dataSource),
    async close() {
      await dataSource.destroy().catch((err) => log.warn(`closing the database pool: ${err}`));
      await embedded?.close();
    },
  };
}

export interface RunningServer {
  url: string;
  port: number;
  services: Services;
  close(): Promise<void>;
}

/** What both roles share: database, event bus, queue, tensor runtime with its plugins. */
interface Core {
  db: Database;
  events: EventBus;
  queue: JobQueue;
  /** Whether the database took this process's recent writes (readiness). */
  writeHealth: WriteHealth;
  runtime: TensorRuntime;
  cleanup: Array<() => Promise<void>>;
  closeAll(): Promise<void>;
}

export interface StartOptions {
  /**
   * Install process-wide handlers that take a plugin whose code throws
   * asynchronously out of service instead of letting it end the process
   * (the CLI sets it; an embedding program or a test keeps its own handlers).
   */
  containPluginFaults?: boolean;
}

async function startCore(config: Config, log: Logger, options: StartOptions = {}): Promise<Core> {
  const db = await openDatabase(config, log);
  log.info(
    db.embedded
      ? `database: embedded PGlite in ${db.embedded.dataDir}`
      : `database: PostgreSQL at ${maskPassword(db.url)}`,
  );
  log.info(`data directory: ${config.dataDir}`);
  const cleanup: Array<() => Promise<void>> = [() => db.close()];
  const closeAll = async () => {
    for (const step of cleanup.splice(0).reverse())
      await step().catch((err) => log.warn(`shutdown step failed: ${err}`));
  };
  try {
    const events: EventBus = db.embedded
      ? new InProcessEventBus()
      : await PostgresEventBus.connect(
          db.url,
          (err) => log.error(`event bus: ${err.message}`),
          (message) => log.info(message),
        );
    cleanup.push(() => events.close());
    const queue = await JobQueue.start({
      url: db.url,
      heartbeatSeconds: config.jobHeartbeatSeconds,
      poolSize: db.embedded ? 4 : 6,
      onError: (err) => log.error(`queue: ${err.message}`),
    });
    cleanup.push(() => queue.stop(true, config.shutdownGraceSeconds * 1000));
    cleanup.push(startStuckPromptSweep({ store: db.store, events, queue, log: log.child('sweep') }));
    const runtime = await startTensorRuntime(config, log);
    cleanup.push(() => runtime.dispose());
    await syncCatalog(db.store, runtime.registry);
    if (options.containPluginFaults) {
      const release = containPluginFaults(
        runtime.registry,
        config.dataDir,
        log.child('plugins'),
        (failed) => {
          recordPluginFault(db.store, runtime.registry, config.dataDir, failed).catch((err) =>
            log.warn(`recording plugin ${failed.name} as FAILED: ${(err as Error).message}`),
          );
        },
      );
      cleanup.push(async () => release());
    }
    return { db, events, queue, writeHealth: new WriteHealth(), runtime, cleanup, closeAll };
  } catch (err) {
    await closeAll();
    throw err;
  }
}

/** Starts `count` training consumers; the returned function stops them (running jobs are left to resume). */
async function startWorkers(
  core: Core,
  config: Config,
  log: Logger,
  requested: number,
  serving: boolean,
): Promise<() => Promise<void>> {
  const shutdown = new AbortController();
  const deps: TrainingDeps = {
    store: core.db.store,
    events: core.events,
    config,
    runtime: core.runtime,
    log: log.child('worker'),
    shutdown: shutdown.signal,
    writeHealth: core.writeHealth,
  };
  const count = effectiveConcurrency({
    requested,
    trainingThreads: config.trainingThreads,
    blasThreads: config.blasThreads,
    serving,
  });
  const workerId = await core.queue.work(count, (job) => runTrainingJob(job, deps));
  log.info(
    count < requested
      ? `training workers: ${count} (PROMPTGEN_WORKERS=${requested} capped to the training slots of ${cpuCores()} cores; PROMPTGEN_TRAINING_THREADS overrides)`
      : `training workers: ${count}`,
  );
  return async () => {
    shutdown.abort();
    await core.queue.offWork(workerId);
  };
}

export async function startServer(
  config: Config,
  log: Logger,
  options: StartOptions = {},
): Promise<RunningServer> {
  // Before the database and plugins: a busy port must not cost a start-up.
  await assertPortFree(config.port, config.host);
  const core = await startCore(config, log, options);
  const { db, events, queue, runtime, cleanup, closeAll } = core;
  try {
    const admin = loadAdminToken(config.dataDir, config.adminToken);
    if (admin.file)
      log.info(`admin token: ${admin.generated ? 'generated into' : 'read from'} ${admin.file}`);
    else log.info('admin token: from PROMPTGEN_ADMIN_TOKEN');

    const services: Services = {
      config,
      store: db.store,
      events,
      prompts: new PromptService(
        db.store,
        config,
        events,
        () => queue,
        () => ({
          controlDefinition: (n) => runtime.registry.control(n)?.definition,
          classifiers: () => runtime.registry.classifierNames(),
          classNames: (c) => runtime.registry.classifier(c)?.definition.classNames,
        }),
        log.child('prompts'),
        (err) => log.warn(`publishing a prompt's status failed (it is stored): ${err.message}`),
        () =>
          diskFull(core, config)
            ? 'the server is out of disk space: no new training is accepted until an operator frees some'
            : null,
      ),
      samples: new TensorSampleService(db.store, runtime, config, log.child('samples')),
      plugins: new RuntimePluginAdmin(db.store, runtime, config, log.child('admin')),
      rateLimiter: new RateLimiter(config.security.rateLimitPerMinute),
      engine: { backend: runtime.backend, adapter: runtime.adapter },
    };

    let shuttingDown = false;
    const httpServer = http.createServer();
    // Outlive clients' and load balancers' idle keep-alive (commonly 60 s), so a
    // reused connection is never closed by us just as a request goes out on it.
    httpServer.keepAliveTimeout = 65_000;
    httpServer.headersTimeout = 66_000;
    const schema = await createSchema();
    const graphql = await createGraphQLEndpoints(
      schema,
      httpServer,
      services,
      admin.token,
      log.child('graphql'),
    );
    cleanup.push(() => graphql.stop());
    if (config.workers > 0) cleanup.push(await startWorkers(core, config, log, config.workers, true));
    const app = createHttpApp(
      config,
      db.store,
      {
        ready: () =>
          shuttingDown
            ? Promise.resolve({ ok: false, detail: { reason: 'shutting down' } })
            : readiness(core, config, log),
      },
      graphql.middleware,
    );
    httpServer.on('request', app);
    await new Promise<void>((resolve, reject) => {
      // Taken between the early check and now: the same one-line message.
      httpServer.once('error', (err: NodeJS.ErrnoException) =>
        reject(err.code ? new PortUnavailableError(config.port, config.host, err.code) : err),
      );
      httpServer.listen(config.port, config.host, () => resolve());
    });
    const port = (httpServer.address() as AddressInfo).port;
    const shownHost = config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host;
    const url = `http://${shownHost}:${port}`;
    log.info(`listening on ${url}/graphql (GraphQL over HTTP and graphql-ws)`);

    let closing: Promise<void> | undefined;
    return {
      url,
      port,
      services,
      close() {
        closing ??= (async () => {
          shuttingDown = true;
          log.info('shutting down: draining requests and subscriptions');
          await closeAll();
          log.info('shut down');
        })();
        return closing;
      },
    };
  } catch (err) {
    await closeAll();
    throw err;
  }
}

export interface RunningWorker {
  close(): Promise<void>;
}

/** `promptgen worker`: training consumers only, against a shared PostgreSQL. */
export async function startWorker(
  config: Config,
  log: Logger,
  options: StartOptions = {},
): Promise<RunningWorker> {
  if (!config.databaseUrl) {
    log.warn(
      "no DATABASE_URL: this worker uses its own embedded database, which no server shares; set DATABASE_URL to the servers' PostgreSQL",
    );
  }
  const core = await startCore(config, log, options);
  try {
    core.cleanup.push(await startWorkers(core, config, log, Math.max(1, config.workers), false));
  } catch (err) {
    await core.closeAll();
    throw err;
  }
  let closing: Promise<void> | undefined;
  return {
    close() {
      closing ??= (async () => {
        log.info('shutting down: stopping workers');
        await core.closeAll();
        log.info('shut down');
      })();
      return closing;
    },
  };
}

/** Free space below this in the embedded data directory counts as a full disk (PGlite extends files in 8 kB pages, WAL in MBs). */
const MIN_FREE_BYTES = 16 * 1024 * 1024;

/**
 * True when the database's disk is full as far as this process can tell: for
 * the embedded database, the data directory's free space (now); for
 * PostgreSQL, whose disk we cannot see, the last write failed for lack of space.
 */
function diskFull(core: Core, config: Config): boolean {
  if (core.db.embedded) {
    const free = freeBytes(config.dataDir);
    if (free !== undefined) return free < MIN_FREE_BYTES;
  }
  const writes = core.writeHealth.status();
  return !writes.ok && writes.reason === 'disk full';
}

function freeBytes(dir: string): number | undefined {
  try {
    const stats = fs.statfsSync(dir);
    return stats.bavail * stats.bsize;
  } catch {
    return undefined; // statfs unsupported here: rely on write failures
  }
}

/**
 * Ready = database answers, event bus connected, writes landing, and (embedded)
 * room on the data directory's disk. The reasons are short words for any
 * client: no paths, no driver messages (those go to the log).
 */
async function readiness(
  core: Core,
  config: Config,
  log: Logger,
): Promise<{ ok: boolean; detail: Record<string, unknown> }> {
  const { db, events, writeHealth, runtime } = core;
  const reasons: string[] = [];
  let database = db.embedded ? 'embedded' : 'postgresql';
  try {
    await db.store.ping();
  } catch (err) {
    log.debug(`readiness: database unreachable: ${(err as Error).message}`);
    reasons.push('database unreachable');
    database = 'unreachable';
  }
  const bus = events.health();
  if (!bus.ok) reasons.push(`event bus ${bus.state}`);
  const writes = writeHealth.status();
  if (!writes.ok) reasons.push(writes.reason ?? 'database writes failing');
  const free = db.embedded ? freeBytes(config.dataDir) : undefined;
  if (free !== undefined && free < MIN_FREE_BYTES) reasons.push('disk full');
  const detail: Record<string, unknown> = {
    database,
    events: bus.state,
    writes: writes.ok ? 'ok' : 'failing',
    backend: runtime.backend,
    ...(free !== undefined ? { diskFreeBytes: free } : {}),
  };
  const unique = [...new Set(reasons)];
  return unique.length
    ? { ok: false, detail: { reason: unique.join('; '), ...detail } }
    : { ok: true, detail };
}
