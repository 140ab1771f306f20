/**
 * The Studio's static files and client routes (src/server/studio-static.ts) on
 * a real HTTP server over a temp build folder: files are served, client routes
 * get index.html, API paths and unknown files are left alone, and no request
 * reads outside the folder.
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import express from 'express';
import { studioRouter } from '../../src/server/studio-static';

let server: http.Server;
let base: string;
let root: string;

/** A raw GET: the path goes out exactly as written (no URL normalisation of `..`). */
function get(
  pathname: string,
  headers: Record<string, string> = { accept: 'text/html' },
): Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${base}/`, { path: pathname, headers }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, body, headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}

beforeAll(async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'studio-static-'));
  root = path.join(dir, 'dist');
  fs.mkdirSync(path.join(root, 'assets'), { recursive: true });
  fs.writeFileSync(path.join(root, 'index.html'), '<!doctype html><title>studio</title>');
  fs.writeFileSync(path.join(root, 'assets/app-abc123.js'), 'console.log(1)');
  fs.writeFileSync(path.join(dir, 'secret.txt'), 'not for the web');
  const app = express();
  app.get('/graphql', (_req, res) => void res.json({ api: true }));
  app.use(studioRouter(root));
  app.use((_req, res) => void res.status(404).json({ error: 'not found' }));
  server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => new Promise((r) => server.close(r)));

describe('Studio static files', () => {
  it('serves index.html at / and at client routes, revalidated each time', async () => {
    for (const p of ['/', '/prompts', '/prompts/UHJvbXB0OjE', '/admin', '/compose?generator=mnist']) {
      const res = await get(p);
      expect([p, res.status, res.body]).toEqual([p, 200, '<!doctype html><title>studio</title>']);
      expect(res.headers['cache-control']).toBe('no-cache');
    }
  });

  it('serves hashed assets as immutable', async () => {
    const res = await get('/assets/app-abc123.js', {});
    expect(res.status).toBe(200);
    expect(res.body).toBe('console.log(1)');
    expect(res.headers['content-type']).toMatch(/javascript/);
    expect(res.headers['cache-control']).toContain('immutable');
  });

  it('leaves API paths, missing files and non-HTML requests to the server', async () => {
    expect((await get('/graphql')).body).toBe('{"api":true}');
    for (const p of ['/assets/missing.js', '/favicon.ico', '/artifacts/images/x', '/healthz']) {
      expect([p, (await get(p)).status]).toEqual([p, 404]);
    }
    expect((await get('/prompts', { accept: 'application/json' })).status).toBe(404);
  });

  it('never reads outside the build folder', async () => {
    for (const p of [
      '/../secret.txt',
      '/assets/../../secret.txt',
      '/..%2fsecret.txt',
      '/%2e%2e/secret.txt',
      '/assets/..%2f..%2fsecret.txt',
      '/....//secret.txt',
    ]) {
      const res = await get(p);
      expect(res.body).not.toContain('not for the web');
      expect([p, res.status >= 400 || res.body.includes('<title>studio</title>')]).toEqual([p, true]);
    }
  });
});
