/** The `promptgen` command line: schema, migrate, plugin install, usage errors. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Client } from 'pg';
import { tempDir, usingPostgres } from '../helpers/database';
import { freshDatabase, repoRoot, startProcess, startServer } from '../helpers/server';

describe('promptgen CLI', () => {
  it('prints the schema that is committed', async () => {
    const proc = startProcess(['schema'], {});
    expect(await proc.exited).toBe(0);
    // (less the warning a development machine on an older Node prints on stderr: see oldNodeEnv)
    expect(proc.output().replace(/^warning: Node\.js .*\n/, '')).toBe(
      fs.readFileSync(path.join(repoRoot, 'schema.graphql'), 'utf8'),
    );
  });

  it('refuses an unknown command with its usage', async () => {
    const proc = startProcess(['frobnicate'], {});
    expect(await proc.exited).toBe(2);
    expect(proc.output()).toContain('unknown command "frobnicate"');
    expect(proc.output()).toContain('usage: promptgen <command>');
  });

  it('runs migrations alone, and a second run has nothing to do', async () => {
    const db = await freshDatabase();
    const env = { PROMPTGEN_DATA_DIR: tempDir(), DATABASE_URL: db.url ?? '' };
    try {
      const first = startProcess(['migrate'], env);
      expect(await first.exited).toBe(0);
      expect(first.output()).toMatch(/applied migrations: Initial\d+, PluginPackages\d+/);
      const second = startProcess(['migrate'], env);
      expect(await second.exited).toBe(0);
      expect(second.output()).not.toContain('applied migrations');
      expect(second.output()).toContain('migrations are up to date');
      if (usingPostgres) {
        const client = new Client({ connectionString: db.url! });
        await client.connect();
        const { rows } = await client.query(
          "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1",
        );
        await client.end();
        expect(rows.map((r) => r.table_name)).toEqual(
          expect.arrayContaining([
            'checkpoints',
            'controls',
            'generators',
            'images',
            'migrations',
            'plugin_packages',
            'plugins',
            'progress_points',
            'prompts',
            'sample_sets',
          ]),
        );
      }
    } finally {
      await db.drop();
    }
  });

  it('installs a plugin from a directory, and the server then offers it', async () => {
    const db = await freshDatabase();
    const dataDir = tempDir();
    const env = { PROMPTGEN_DATA_DIR: dataDir, DATABASE_URL: db.url ?? '' };
    try {
      const install = startProcess(
        ['plugin', 'install', path.join(repoRoot, 'test/fixtures/plugins/good')],
        env,
      );
      expect(await install.exited).toBe(0);
      expect(install.output()).toContain('installed');
      const bad = startProcess(
        ['plugin', 'install', path.join(repoRoot, 'test/fixtures/plugins/throws')],
        env,
      );
      expect(await bad.exited).toBe(1);
      expect(bad.output()).toMatch(/INSTALL_FAILED: .*threw while loading/);
      const server = await startServer({ databaseUrl: db.url, dataDir, env: { PROMPTGEN_WORKERS: '0' } });
      try {
        const res = await server.gql('{ plugins { name source status } generators { name } }');
        expect(res.data.plugins).toEqual(
          expect.arrayContaining([
            { name: 'promptgen-plugin-example', source: 'INSTALLED', status: 'LOADED' },
          ]),
        );
        expect(res.data.generators.map((g: any) => g.name)).toContain('example-pattern');
      } finally {
        await server.stop();
      }
    } finally {
      await db.drop();
    }
  });
});
