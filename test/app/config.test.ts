import * as path from 'node:path';
import { ConfigError, loadConfig } from '../../src/shared/config';

function problems(env: Record<string, string>): string[] {
  try {
    loadConfig(env, '/srv');
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

describe('configuration', () => {
  it('has working defaults on a bare environment', () => {
    const config = loadConfig({}, '/srv/app');
    expect(config.port).toBe(4000);
    expect(config.host).toBe('0.0.0.0');
    expect(config.databaseUrl).toBeUndefined();
    expect(config.dataDir).toBe(path.resolve('/srv/app', '.promptgen'));
    expect(config.workers).toBe(1);
    expect(config.backend).toBe('auto');
    expect(config.limits.bodyLimitBytes).toBe(1024 * 1024);
  });

  it('accepts the webgpu backend and a GPU memory budget', () => {
    expect(loadConfig({ PROMPTGEN_BACKEND: 'webgpu', PROMPTGEN_GPU_MEMORY_MB: '512' }, '/srv')).toMatchObject(
      { backend: 'webgpu', gpuMemoryMb: 512 },
    );
    expect(loadConfig({}, '/srv').gpuMemoryMb).toBe(2048);
  });

  it('reads every variable', () => {
    const config = loadConfig(
      {
        PORT: '8080',
        HOST: '127.0.0.1',
        DATABASE_URL: 'postgres://u:p@db:5432/pg',
        PROMPTGEN_DATA_DIR: 'data',
        PROMPTGEN_ADMIN_TOKEN: 'a-long-enough-admin-token',
        PROMPTGEN_WORKERS: '0',
        PROMPTGEN_BACKEND: 'wasm',
        LOG_LEVEL: 'debug',
        PROMPTGEN_PUBLIC_URL: 'https://promptgen.example/',
        PROMPTGEN_MAX_QUERY_DEPTH: '5',
        PROMPTGEN_BODY_LIMIT: '512kb',
        PROMPTGEN_MAX_STEPS: '100',
      },
      '/srv',
    );
    expect(config).toMatchObject({
      port: 8080,
      host: '127.0.0.1',
      databaseUrl: 'postgres://u:p@db:5432/pg',
      dataDir: '/srv/data',
      adminToken: 'a-long-enough-admin-token',
      workers: 0,
      backend: 'wasm',
      logLevel: 'debug',
      publicUrl: 'https://promptgen.example',
    });
    expect(config.limits.maxQueryDepth).toBe(5);
    expect(config.limits.bodyLimitBytes).toBe(512 * 1024);
    expect(config.limits.maxSteps).toBe(100);
  });

  it.each([
    [{ PORT: 'abc' }, 'PORT="abc" is not an integer (expected 0–65535)'],
    [{ PORT: '70000' }, 'PORT=70000 is out of range (expected 0–65535)'],
    [{ DATABASE_URL: 'not a url' }, 'DATABASE_URL is not a valid URL'],
    [{ DATABASE_URL: 'mysql://x@y/z' }, 'DATABASE_URL must use postgres: or postgresql: (got mysql:)'],
    [
      { PROMPTGEN_BACKEND: 'gpu' },
      'PROMPTGEN_BACKEND="gpu" is not one of auto, tensorflow-gpu, webgpu, tensorflow, wasm, cpu',
    ],
    [{ PROMPTGEN_WORKERS: '-1' }, 'PROMPTGEN_WORKERS=-1 is out of range'],
    [{ PROMPTGEN_ADMIN_TOKEN: 'short' }, 'PROMPTGEN_ADMIN_TOKEN is too short'],
    [{ PROMPTGEN_BODY_LIMIT: 'huge' }, 'PROMPTGEN_BODY_LIMIT="huge" is not a size'],
    [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL="loud" is not one of debug, info, warn, error'],
    [{ PROMPTGEN_BLAS_THREADS: '0' }, 'PROMPTGEN_BLAS_THREADS=0 is out of range'],
    [{ PROMPTGEN_NATIVE_BLAS: 'yes' }, 'PROMPTGEN_NATIVE_BLAS="yes" is not one of 0, 1'],
    [{ PROMPTGEN_GPU_MEMORY_MB: '8' }, 'PROMPTGEN_GPU_MEMORY_MB=8 is out of range'],
    [{ PROMPTGEN_GPU_MEMORY_MB: 'lots' }, 'PROMPTGEN_GPU_MEMORY_MB="lots" is not an integer'],
  ])('rejects %j with a specific message', (env, message) => {
    const found = problems(env as Record<string, string>);
    expect(found).toHaveLength(1);
    expect(found[0]).toContain(message);
  });

  it('reports all bad values at once', () => {
    const found = problems({ PORT: 'abc', PROMPTGEN_BACKEND: 'gpu', PROMPTGEN_WORKERS: 'two' });
    expect(found).toHaveLength(3);
    expect(() => loadConfig({ PORT: 'abc' })).toThrow(/Invalid configuration:\n {2}- PORT="abc"/);
  });

  it('treats empty values as unset', () => {
    expect(loadConfig({ PORT: '', DATABASE_URL: ' ' }, '/srv').port).toBe(4000);
  });
});
