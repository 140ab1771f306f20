/**
 * Composition root: wires configuration, database, queue, event bus,
 * services and servers together, and takes them down in order on shutdown.
 * `promptgen serve` and `promptgen worker` both start here.
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { DataSource } from 'typeorm';
import type { Config } from './config';
import { InProcessEventBus, PostgresEventBus, type EventBus } from './jobs/event-bus';
import { JobQueue } from './jobs/queue';
import type { Logger } from './logger';
import { createSchema } from './schema/build-schema';
import { loadAdminToken } from './server/admin-token';
import { createGraphQLEndpoints } from './server/graphql-server';
import { createHttpApp } from './server/http-app';
import type { Services } from './services';
import { PromptService } from './services/prompts';
import { createDataSource, runMigrations } from './store/data-source';
import { EMBEDDED_MAX_CONNECTIONS, startEmbeddedDatabase, type EmbeddedDatabase } from './store/embedded';
import { Store } from './store/store';
import { runTrainingJob, type TrainingDeps } from './jobs/training-job';
import { syncCatalog } from './runtime/catalog-sync';
import { RuntimePluginAdmin } from './runtime/plugin-admin';
import { TensorSampleService } from './runtime/sample-service';
import { startTensorRuntime, type TensorRuntime } from './runtime/tensor-runtime';

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
  const dataSource = createDataSource({ url, poolSize: embedded ? Math.floor(EMBEDDED_MAX_CONNECTIONS / 4) : 10 });
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
  runtime: TensorRuntime;
  cleanup: Array<() => Promise<void>>;
  closeAll(): Promise<void>;
}

async function startCore(config: Config, log: Logger): Promise<Core> {
  const db = await openDatabase(config, log);
  log.info(db.embedded ? `database: embedded PGlite in ${db.embedded.dataDir}` : `database: PostgreSQL at ${redact(db.url)}`);
  log.info(`data directory: ${config.dataDir}`);
  const cleanup: Array<() => Promise<void>> = [() => db.close()];
  const closeAll = async () => {
    for (const step of cleanup.splice(0).reverse()) await step().catch((err) => log.warn(`shutdown step failed: ${err}`));
  };
  try {
    const events: EventBus = db.embedded
      ? new InProcessEventBus()
      : await PostgresEventBus.connect(db.url, (err) => log.error(`event bus: ${err.message}`));
    cleanup.push(() => events.close());
    const queue = await JobQueue.start({
      url: db.url,
      heartbeatSeconds: config.jobHeartbeatSeconds,
      poolSize: db.embedded ? 4 : 6,
      onError: (err) => log.error(`queue: ${err.message}`),
    });
    cleanup.push(() => queue.stop(true, config.shutdownGraceSeconds * 1000));
    const runtime = await startTensorRuntime(config, log);
    cleanup.push(() => runtime.dispose());
    await syncCatalog(db.store, runtime.registry);
    return { db, events, queue, runtime, cleanup, closeAll };
  } catch (err) {
    await closeAll();
    throw err;
  }
}

/** Starts `count` training consumers; the returned function stops them (running jobs are left to resume). */
async function startWorkers(core: Core, config: Config, log: Logger, count: number): Promise<() => Promise<void>> {
  const shutdown = new AbortController();
  const deps: TrainingDeps = { store: core.db.store, events: core.events, config, runtime: core.runtime, log: log.child('worker'), shutdown: shutdown.signal };
  const workerId = await core.queue.work(count, (job) => runTrainingJob(job, deps));
  log.info(`training workers: ${count}`);
  return async () => {
    shutdown.abort();
    await core.queue.offWork(workerId);
  };
}

export async function startServer(config: Config, log: Logger): Promise<RunningServer> {
  const core = await startCore(config, log);
  const { db, events, queue, runtime, cleanup, closeAll } = core;
  try {
    const admin = loadAdminToken(config.dataDir, config.adminToken);
    if (admin.file) log.info(`admin token: ${admin.generated ? 'generated into' : 'read from'} ${admin.file}`);
    else log.info('admin token: from PROMPTGEN_ADMIN_TOKEN');

    const services: Services = {
      config,
      store: db.store,
      events,
      prompts: new PromptService(db.store, config, events, () => queue, () => ({ controlDefinition: (n) => runtime.registry.control(n)?.definition, classifiers: () => runtime.registry.classifierNames(), classNames: (c) => runtime.registry.classifier(c)?.definition.classNames })),
      samples: new TensorSampleService(db.store, runtime, config, log.child('samples')),
      plugins: new RuntimePluginAdmin(db.store, runtime, config, events),
      engine: { backend: runtime.backend, adapter: runtime.adapter },
    };

    let shuttingDown = false;
    const httpServer = http.createServer();
    // Outlive clients' and load balancers' idle keep-alive (commonly 60 s), so a
    // reused connection is never closed by us just as a request goes out on it.
    httpServer.keepAliveTimeout = 65_000;
    httpServer.headersTimeout = 66_000;
    const schema = await createSchema();
    const graphql = await createGraphQLEndpoints(schema, httpServer, services, admin.token);
    cleanup.push(() => graphql.stop());
    if (config.workers > 0) cleanup.push(await startWorkers(core, config, log, config.workers));
    const app = createHttpApp(config, db.store, {
      async ready() {
        if (shuttingDown) return { ok: false, detail: { reason: 'shutting down' } };
        try {
          await db.dataSource.query('SELECT 1');
          return { ok: true, detail: { database: db.embedded ? 'embedded' : 'postgresql', backend: runtime.backend } };
        } catch (err) {
          return { ok: false, detail: { reason: `database unreachable: ${(err as Error).message}` } };
        }
      },
    }, graphql.middleware);
    httpServer.on('request', app);
    await new Promise<void>((resolve, reject) => {
      httpServer.once('error', reject);
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
export async function startWorker(config: Config, log: Logger): Promise<RunningWorker> {
  if (!config.databaseUrl) {
    log.warn('no DATABASE_URL: this worker uses its own embedded database, which no server shares; set DATABASE_URL to the servers\' PostgreSQL');
  }
  const core = await startCore(config, log);
  try {
    core.cleanup.push(await startWorkers(core, config, log, Math.max(1, config.workers)));
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

function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparseable url)';
  }
}
