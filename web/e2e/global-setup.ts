/**
 * Starts the real, built server (`node dist/src/cli.js serve`) on a free port
 * with a temp data directory, the embedded database and the bundled plugins,
 * and hands its URL to the tests through the environment.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const ADMIN_TOKEN = 'studio-e2e-admin-token-0123456789';

export default async function globalSetup(): Promise<() => Promise<void>> {
  const cli = path.join(repoRoot, 'dist/src/cli.js');
  if (!fs.existsSync(cli)) throw new Error(`${cli} is missing: run "npm run build" first`);
  if (!fs.existsSync(path.join(repoRoot, 'web/dist/index.html')))
    throw new Error('web/dist is missing: run "npm run build --workspace web"');
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'promptgen-studio-e2e-'));
  const child = spawn(process.execPath, [cli, 'serve'], {
    env: {
      ...process.env,
      PORT: '0',
      HOST: '127.0.0.1',
      DATABASE_URL: '',
      PROMPTGEN_DATA_DIR: dataDir,
      PROMPTGEN_ADMIN_TOKEN: ADMIN_TOKEN,
      PROMPTGEN_WORKERS: '1',
      LOG_LEVEL: 'info',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`the server did not start in 120 s:\n${output.slice(-3000)}`)),
      120_000,
    );
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (process.env.PROMPTGEN_TEST_VERBOSE) process.stderr.write(chunk);
      const m = /listening on (http:\/\/[^\s/]+)\/graphql/.exec(output);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the server exited (${code}) at start:\n${output.slice(-3000)}`));
    });
  });
  process.env.STUDIO_URL = url;
  process.env.STUDIO_ADMIN_TOKEN = ADMIN_TOKEN;
  return async () => {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 15_000))]);
    if (child.exitCode === null) child.kill('SIGKILL');
    fs.rmSync(dataDir, { recursive: true, force: true });
  };
}
