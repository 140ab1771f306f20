/**
 * Configuration from environment variables, validated once at start-up.
 * Every bad value gets its own message naming the variable, the value and
 * what is expected, and all of them are reported together.
 */
import * as path from 'node:path';

export type BackendPreference = 'auto' | 'tensorflow-gpu' | 'tensorflow' | 'wasm' | 'cpu';
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface Config {
  host: string;
  port: number;
  /** PostgreSQL connection string; undefined → embedded PGlite in the data directory. */
  databaseUrl?: string;
  dataDir: string;
  /** Set explicitly; undefined → read or generated in the data directory. */
  adminToken?: string;
  /** In-process training workers for `serve` (0 disables). */
  workers: number;
  backend: BackendPreference;
  logLevel: LogLevel;
  /** Public base URL for image links; undefined → taken from each request. */
  publicUrl?: string;
  limits: {
    maxQueryDepth: number;
    maxQueryComplexity: number;
    bodyLimitBytes: number;
    maxSteps: number;
    maxBatchSize: number;
    maxSampleCount: number;
  };
  /** Seconds a worker may go without a heartbeat before its job is retried elsewhere. */
  jobHeartbeatSeconds: number;
  /** Training steps between checkpoints. */
  checkpointEvery: number;
  /** Samples of the metrics after training (PROMPTGEN_EVALUATION_SAMPLES). */
  evaluationSamples: number;
  /** Seconds SIGTERM waits for in-flight work before closing anyway. */
  shutdownGraceSeconds: number;
  /** OpenBLAS threads per training thread (the engine reads PROMPTGEN_BLAS_THREADS itself). */
  blasThreads: number;
  /** Native OpenBLAS matrix products on the wasm backend (PROMPTGEN_NATIVE_BLAS). */
  nativeBlas: boolean;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

class Reader {
  readonly problems: string[] = [];
  constructor(private readonly env: Env) {}

  raw(name: string): string | undefined {
    const value = this.env[name];
    return value === undefined || value.trim() === '' ? undefined : value.trim();
  }

  int(name: string, fallback: number, min: number, max: number): number {
    const value = this.raw(name);
    if (value === undefined) return fallback;
    if (!/^-?\d+$/.test(value)) {
      this.problems.push(`${name}=${JSON.stringify(value)} is not an integer (expected ${min}–${max})`);
      return fallback;
    }
    const n = Number(value);
    if (n < min || n > max) {
      this.problems.push(`${name}=${value} is out of range (expected ${min}–${max})`);
      return fallback;
    }
    return n;
  }

  oneOf<T extends string>(name: string, fallback: T, allowed: readonly T[]): T {
    const value = this.raw(name);
    if (value === undefined) return fallback;
    if (!(allowed as readonly string[]).includes(value)) {
      this.problems.push(`${name}=${JSON.stringify(value)} is not one of ${allowed.join(', ')}`);
      return fallback;
    }
    return value as T;
  }

  url(name: string, protocols: string[]): string | undefined {
    const value = this.raw(name);
    if (value === undefined) return undefined;
    let parsed: URL;
    try {
      parsed = new URL(value);
    } catch {
      this.problems.push(`${name} is not a valid URL (expected e.g. ${protocols[0]}//host:port/...)`);
      return undefined;
    }
    if (!protocols.includes(parsed.protocol)) {
      this.problems.push(`${name} must use ${protocols.join(' or ')} (got ${parsed.protocol})`);
      return undefined;
    }
    return value;
  }

  bytes(name: string, fallback: number): number {
    const value = this.raw(name);
    if (value === undefined) return fallback;
    const match = /^(\d+)\s*(b|kb|mb)?$/i.exec(value);
    if (!match) {
      this.problems.push(`${name}=${JSON.stringify(value)} is not a size (expected e.g. 1mb, 512kb, 100000)`);
      return fallback;
    }
    const unit = (match[2] ?? 'b').toLowerCase();
    const n = Number(match[1]) * (unit === 'mb' ? 1024 * 1024 : unit === 'kb' ? 1024 : 1);
    if (n < 1024) {
      this.problems.push(`${name}=${value} is too small (at least 1kb)`);
      return fallback;
    }
    return n;
  }
}

export function loadConfig(env: Env = process.env, cwd: string = process.cwd()): Config {
  const r = new Reader(env);
  const adminToken = r.raw('PROMPTGEN_ADMIN_TOKEN');
  if (adminToken !== undefined && adminToken.length < 16) {
    r.problems.push('PROMPTGEN_ADMIN_TOKEN is too short (at least 16 characters)');
  }
  const config: Config = {
    host: r.raw('HOST') ?? '0.0.0.0',
    port: r.int('PORT', 4000, 0, 65535),
    databaseUrl: r.url('DATABASE_URL', ['postgres:', 'postgresql:']),
    dataDir: path.resolve(cwd, r.raw('PROMPTGEN_DATA_DIR') ?? '.promptgen'),
    adminToken,
    workers: r.int('PROMPTGEN_WORKERS', 1, 0, 64),
    backend: r.oneOf<BackendPreference>('PROMPTGEN_BACKEND', 'auto', ['auto', 'tensorflow-gpu', 'tensorflow', 'wasm', 'cpu']),
    logLevel: r.oneOf<LogLevel>('LOG_LEVEL', 'info', ['debug', 'info', 'warn', 'error']),
    publicUrl: r.url('PROMPTGEN_PUBLIC_URL', ['http:', 'https:'])?.replace(/\/+$/, ''),
    limits: {
      maxQueryDepth: r.int('PROMPTGEN_MAX_QUERY_DEPTH', 12, 2, 100),
      maxQueryComplexity: r.int('PROMPTGEN_MAX_QUERY_COMPLEXITY', 5000, 10, 1_000_000),
      bodyLimitBytes: r.bytes('PROMPTGEN_BODY_LIMIT', 1024 * 1024),
      maxSteps: r.int('PROMPTGEN_MAX_STEPS', 20000, 1, 1_000_000),
      maxBatchSize: r.int('PROMPTGEN_MAX_BATCH_SIZE', 256, 1, 4096),
      maxSampleCount: r.int('PROMPTGEN_MAX_SAMPLE_COUNT', 256, 1, 10000),
    },
    jobHeartbeatSeconds: r.int('PROMPTGEN_JOB_HEARTBEAT_SECONDS', 30, 10, 3600),
    checkpointEvery: r.int('PROMPTGEN_CHECKPOINT_EVERY', 100, 1, 1_000_000),
    evaluationSamples: r.int('PROMPTGEN_EVALUATION_SAMPLES', 256, 16, 4096),
    shutdownGraceSeconds: r.int('PROMPTGEN_SHUTDOWN_GRACE_SECONDS', 10, 0, 600),
    // read again by the engine in each training thread (src/engine/kernels/native-blas.ts); checked here so a bad value stops start-up
    blasThreads: r.int('PROMPTGEN_BLAS_THREADS', 1, 1, 256),
    nativeBlas: r.oneOf<'0' | '1'>('PROMPTGEN_NATIVE_BLAS', '1', ['0', '1']) === '1',
  };
  if (r.problems.length > 0) throw new ConfigError(r.problems);
  return config;
}

/** The configuration table of the README, kept next to the code that reads it. */
export const CONFIG_DOC: Array<[name: string, fallback: string, meaning: string]> = [
  ['PORT', '4000', 'HTTP and WebSocket port (0 picks a free one)'],
  ['HOST', '0.0.0.0', 'interface to listen on'],
  ['DATABASE_URL', '(embedded PGlite)', 'PostgreSQL connection string; unset → embedded PGlite in the data directory'],
  ['PROMPTGEN_DATA_DIR', './.promptgen', 'embedded database, admin token, installed plugins'],
  ['PROMPTGEN_ADMIN_TOKEN', '(generated)', 'bearer token for admin operations; unset → generated at first start into <data dir>/admin-token'],
  ['PROMPTGEN_WORKERS', '1', 'training workers inside `serve` (0: API only)'],
  ['PROMPTGEN_BACKEND', 'auto', 'auto | tensorflow-gpu | tensorflow | wasm | cpu'],
  ['LOG_LEVEL', 'info', 'debug | info | warn | error'],
  ['PROMPTGEN_PUBLIC_URL', '(from request)', 'base URL used in image links'],
  ['PROMPTGEN_MAX_QUERY_DEPTH', '12', 'deepest GraphQL selection accepted'],
  ['PROMPTGEN_MAX_QUERY_COMPLEXITY', '5000', 'largest GraphQL query complexity accepted'],
  ['PROMPTGEN_BODY_LIMIT', '1mb', 'largest request body'],
  ['PROMPTGEN_MAX_STEPS', '20000', 'upper limit of training steps'],
  ['PROMPTGEN_MAX_BATCH_SIZE', '256', 'upper limit of the training batch size'],
  ['PROMPTGEN_MAX_SAMPLE_COUNT', '256', 'upper limit of images per `sample`'],
  ['PROMPTGEN_JOB_HEARTBEAT_SECONDS', '30', 'a job whose worker is silent this long is retried'],
  ['PROMPTGEN_CHECKPOINT_EVERY', '100', 'training steps between checkpoints'],
  ['PROMPTGEN_EVALUATION_SAMPLES', '256', 'samples of a prompt\'s metrics after training (a conditional prompt splits them over its condition sweep)'],
  ['PROMPTGEN_SHUTDOWN_GRACE_SECONDS', '10', 'how long SIGTERM waits for in-flight work'],
  ['PROMPTGEN_NATIVE_BLAS', '1', 'wasm backend: matrix products on the machine\'s OpenBLAS where the addon is built (0: wasm kernels only)'],
  ['PROMPTGEN_BLAS_THREADS', '1', 'OpenBLAS threads per training thread (more only on an otherwise idle machine)'],
];
