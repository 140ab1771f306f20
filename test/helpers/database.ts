/**
 * A fresh, migrated database for one test file: a new database on the
 * PostgreSQL of DATABASE_URL when set, else an embedded PGlite in a temp dir.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import type { DataSource } from 'typeorm';
import { createDataSource, runMigrations } from '../../src/store/data-source';
import { startEmbeddedDatabase } from '../../src/store/embedded';
import { Store } from '../../src/store/store';

export interface TestDatabase {
  url: string;
  kind: 'postgresql' | 'embedded';
  dataSource: DataSource;
  store: Store;
  close(): Promise<void>;
}

export const usingPostgres = Boolean(process.env.DATABASE_URL);

/** Creates an empty database on the server of DATABASE_URL and returns its URL. */
export async function createPostgresDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const admin = new URL(process.env.DATABASE_URL!);
  const name = `promptgen_test_${randomBytes(6).toString('hex')}`;
  const client = new Client({ connectionString: admin.toString() });
  await client.connect();
  await client.query(`CREATE DATABASE ${name}`);
  await client.end();
  const url = new URL(admin.toString());
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const c = new Client({ connectionString: admin.toString() });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

export function tempDir(prefix = 'promptgen-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export async function openTestDatabase(): Promise<TestDatabase> {
  if (usingPostgres) {
    const db = await createPostgresDatabase();
    const dataSource = createDataSource({ url: db.url, poolSize: 4 });
    await dataSource.initialize();
    await runMigrations(dataSource);
    return {
      url: db.url,
      kind: 'postgresql',
      dataSource,
      store: new Store(dataSource),
      async close() {
        await dataSource.destroy();
        await db.drop();
      },
    };
  }
  const dir = tempDir();
  const embedded = await startEmbeddedDatabase(dir);
  const dataSource = createDataSource({ url: embedded.url, poolSize: 4 });
  await dataSource.initialize();
  await runMigrations(dataSource);
  return {
    url: embedded.url,
    kind: 'embedded',
    dataSource,
    store: new Store(dataSource),
    async close() {
      await dataSource.destroy();
      await embedded.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
