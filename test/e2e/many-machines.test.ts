/**
 * Many machines: a plugin an admin installed on one server (from a local
 * .tgz) is installed, at the same version and integrity, by a worker with its
 * own data directory before it trains a prompt that uses it, and by another
 * API replica before it samples.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tempDir, usingPostgres } from '../helpers/database';
import { freshDatabase, repoRoot, startProcess, startServer } from '../helpers/server';

if (!usingPostgres)
  console.warn(
    'skipping the many-machines test: separate processes must share a PostgreSQL (set DATABASE_URL)',
  );

(usingPostgres ? describe : describe.skip)('a worker on another machine', () => {
  it('installs the recorded plugin version from the database, then trains with it', async () => {
    const db = await freshDatabase();
    const server = await startServer({ databaseUrl: db.url, env: { PROMPTGEN_WORKERS: '0' } });
    const workerDir = tempDir();
    const worker = startProcess(['worker'], {
      DATABASE_URL: db.url!,
      PROMPTGEN_DATA_DIR: workerDir,
      PROMPTGEN_WORKERS: '1',
    });
    try {
      const out = tempDir('promptgen-pack-');
      const file = execFileSync('npm', ['pack', '--pack-destination', out, '--ignore-scripts', '--silent'], {
        cwd: path.join(repoRoot, 'test/fixtures/plugins/good'),
        encoding: 'utf8',
      })
        .trim()
        .split('\n')
        .pop()!;
      const installed = await server.gql(
        'mutation($spec: String!) { installPlugin(input: { spec: $spec }) { plugin { name version } userErrors { message } } }',
        { spec: path.join(out, file) },
        { admin: true },
      );
      expect(installed.data.installPlugin.userErrors).toEqual([]);
      fs.rmSync(out, { recursive: true, force: true }); // the worker cannot use the admin's file

      await worker.waitFor(/training workers: 1/);
      const created = await server.gql(`mutation {
        createPrompt(input: {
          generator: "example-pattern"
          controls: [{ control: "example-brightness", params: { target: 0.2 } }]
          training: { steps: 10, batchSize: 4, flowBlocks: 1, hiddenUnits: 8, previewEvery: 0 }
        }) { prompt { id } userErrors { message } }
      }`);
      const id = created.data.createPrompt.prompt.id;
      const start = Date.now();
      let state: any;
      do {
        await new Promise((r) => setTimeout(r, 300));
        state = (await server.gql('query($id: ID!) { prompt(id: $id) { status error } }', { id })).data
          .prompt;
      } while (!['SUCCEEDED', 'FAILED'].includes(state.status) && Date.now() - start < 120_000);
      expect(state).toEqual({ status: 'SUCCEEDED', error: null });
      expect(worker.output()).toContain('installing promptgen-plugin-example@1.0.0 on this machine');
      const pkg = JSON.parse(
        fs.readFileSync(
          path.join(workerDir, 'plugins/node_modules/promptgen-plugin-example/package.json'),
          'utf8',
        ),
      );
      expect(pkg.version).toBe('1.0.0');

      // Another API replica samples the plugin's generator and the trained prompt.
      const replica = await startServer({ databaseUrl: db.url, env: { PROMPTGEN_WORKERS: '0' } });
      try {
        const bare = await replica.gql(
          'mutation { sample(input: { generator: "example-pattern", count: 2, seed: 4 }) { sampleSet { count } userErrors { message } } }',
        );
        expect(bare.data.sample).toEqual({ sampleSet: { count: 2 }, userErrors: [] });
        const fromPrompt = await replica.gql(
          'mutation($id: ID!) { sample(input: { prompt: $id, count: 2, seed: 4 }) { sampleSet { count } userErrors { message } } }',
          { id },
        );
        expect(fromPrompt.data.sample).toEqual({ sampleSet: { count: 2 }, userErrors: [] });
        expect(replica.proc.output()).toContain('installing promptgen-plugin-example@1.0.0 on this machine');
      } finally {
        await replica.stop();
      }
    } finally {
      await worker.stop();
      await server.stop();
      await db.drop();
    }
  });
});
