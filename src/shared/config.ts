/**
 * Configuration from environment variables, validated once at start-up.
 * Every bad value gets its own message naming the variable, the value and
 * what is expected, and all of them are reported together.
 */
import * as path from 'node:path';

export type BackendPreference = 'auto' | 'tensorflow-gpu' | 'webgpu' | 'tensorflow' | 'wasm' | 'cpu';
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
  /** Fixed OpenBLAS threads per process (the engine reads PROMPTGEN_BLAS_THREADS itself); undefined: the running trainings share the cores. */
  blasThreads?: number;
  /** Most trainings this process runs at once (PROMPTGEN_TRAINING_THREADS); undefined: from the cores (src/jobs/concurrency.ts). */
  trainingThreads?: number;
  /** Fused coupling-block kernels where the backend has them (PROMPTGEN_FUSED_COUPLING). */
  fusedCoupling: boolean;
  /** Native OpenBLAS matrix products on the wasm backend (PROMPTGEN_NATIVE_BLAS). */
  nativeBlas: boolean;
  /** What clients may make the server open or do (README "Security"). */
  security: SecurityConfig;
  /** Per GPU device (one per training thread, one for sampling) on the webgpu backend (PROMPTGEN_GPU_MEMORY_MB). */
  gpuMemoryMb: number;
}

export interface SecurityConfig {
  /** Absolute directories whose files control params may name (PROMPTGEN_ASSET_DIRS); empty: plugin assets only. */
  assetDirs: string[];
  /** http(s) URL prefixes control params may name (PROMPTGEN_ASSET_URLS); empty: none. */
  assetUrlPrefixes: string[];
  /** Lexical tokens of one GraphQL document (bounds all later work, checked while parsing). */
  maxQueryTokens: number;
  /** Field selections in one document (validation compares same-named fields pairwise). */
  maxQueryFields: number;
  maxQueryAliases: number;
  maxQueryDirectives: number;
  /** createPrompt / sample / installPlugin / uninstallPlugin fields in one operation. */
  maxExpensivePerRequest: number;
  /** Expensive mutations per client address and minute (token bucket; 0 = no limit). */
  rateLimitPerMinute: number;
  /** QUEUED + TRAINING prompts beyond which createPrompt answers QUEUE_FULL (0 = no limit). */
  maxQueuedPrompts: number;
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

  /** Absolute directories separated by the platform's path delimiter (':'). */
  dirs(name: string): string[] {
    const value = this.raw(name);
    if (value === undefined) return [];
    const dirs = value
      .split(path.delimiter)
      .map((d) => d.trim())
      .filter(Boolean);
    for (const d of dirs)
      if (!path.isAbsolute(d))
        this.problems.push(`${name}: ${JSON.stringify(d)} is not an absolute directory`);
    return dirs.filter((d) => path.isAbsolute(d)).map((d) => path.resolve(d));
  }

  /** http(s) URL prefixes separated by commas or spaces. */
  urlPrefixes(name: string): string[] {
    const value = this.raw(name);
    if (value === undefined) return [];
    const out: string[] = [];
    for (const p of value.split(/[\s,]+/).filter(Boolean)) {
      try {
        const u = new URL(p);
        if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error();
        out.push(u.href);
      } catch {
        this.problems.push(`${name}: ${JSON.stringify(p)} is not an http(s) URL prefix`);
      }
    }
    return out;
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
    backend: r.oneOf<BackendPreference>('PROMPTGEN_BACKEND', 'auto', [
      'auto',
      'tensorflow-gpu',
      'webgpu',
      'tensorflow',
      'wasm',
      'cpu',
    ]),
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
    blasThreads:
      r.raw('PROMPTGEN_BLAS_THREADS') === undefined ? undefined : r.int('PROMPTGEN_BLAS_THREADS', 1, 1, 256),
    trainingThreads:
      r.raw('PROMPTGEN_TRAINING_THREADS') === undefined
        ? undefined
        : r.int('PROMPTGEN_TRAINING_THREADS', 1, 1, 256),
    nativeBlas: r.oneOf<'0' | '1'>('PROMPTGEN_NATIVE_BLAS', '1', ['0', '1']) === '1',
    security: {
      assetDirs: r.dirs('PROMPTGEN_ASSET_DIRS'),
      assetUrlPrefixes: r.urlPrefixes('PROMPTGEN_ASSET_URLS'),
      maxQueryTokens: r.int('PROMPTGEN_MAX_QUERY_TOKENS', 3000, 100, 1_000_000),
      maxQueryFields: r.int('PROMPTGEN_MAX_QUERY_FIELDS', 200, 10, 100_000),
      maxQueryAliases: r.int('PROMPTGEN_MAX_QUERY_ALIASES', 15, 0, 10_000),
      maxQueryDirectives: r.int('PROMPTGEN_MAX_QUERY_DIRECTIVES', 20, 0, 10_000),
      maxExpensivePerRequest: r.int('PROMPTGEN_MAX_EXPENSIVE_PER_REQUEST', 1, 1, 1000),
      rateLimitPerMinute: r.int('PROMPTGEN_RATE_LIMIT_PER_MINUTE', 120, 0, 1_000_000),
      maxQueuedPrompts: r.int('PROMPTGEN_MAX_QUEUED_PROMPTS', 100, 0, 1_000_000),
    },
    // read again by the engine (src/engine/coupling.ts); checked here so a bad value stops start-up
    fusedCoupling: r.oneOf<'0' | '1'>('PROMPTGEN_FUSED_COUPLING', '1', ['0', '1']) === '1',
    // read again by the engine in each thread that opens a GPU device (src/engine/webgpu.ts)
    gpuMemoryMb: r.int('PROMPTGEN_GPU_MEMORY_MB', 2048, 16, 1_048_576),
  };
  if (r.problems.length > 0) throw new ConfigError(r.problems);
  return config;
}

/** The configuration table of the README, kept next to the code that reads it. */
export const CONFIG_DOC: Array<[name: string, fallback: string, meaning: string]> = [
  ['PORT', '4000', 'HTTP and WebSocket port (0 picks a free one)'],
  ['HOST', '0.0.0.0', 'interface to listen on'],
  [
    'DATABASE_URL',
    '(embedded PGlite)',
    'PostgreSQL connection string; unset → embedded PGlite in the data directory',
  ],
  ['PROMPTGEN_DATA_DIR', './.promptgen', 'embedded database, admin token, installed plugins'],
  [
    'PROMPTGEN_ADMIN_TOKEN',
    '(generated)',
    'bearer token for admin operations; unset → generated at first start into <data dir>/admin-token',
  ],
  [
    'PROMPTGEN_WORKERS',
    '1',
    'training workers inside `serve` (0: API only); capped by PROMPTGEN_TRAINING_THREADS',
  ],
  [
    'PROMPTGEN_BACKEND',
    'auto',
    'auto | tensorflow-gpu | webgpu | tensorflow | wasm | cpu (auto takes a GPU only on a hardware adapter)',
  ],
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
  [
    'PROMPTGEN_EVALUATION_SAMPLES',
    '256',
    "samples of a prompt's metrics after training (a conditional prompt splits them over its condition sweep)",
  ],
  ['PROMPTGEN_SHUTDOWN_GRACE_SECONDS', '10', 'how long SIGTERM waits for in-flight work'],
  [
    'PROMPTGEN_NATIVE_BLAS',
    '1',
    "wasm backend: matrix products on the machine's OpenBLAS where the addon is built (0: wasm kernels only)",
  ],
  [
    'PROMPTGEN_GPU_MEMORY_MB',
    '2048',
    'webgpu backend: memory budget of each GPU device (one per training thread, one for sampling); past it the prompt FAILS with a clear error',
  ],
  [
    'PROMPTGEN_BLAS_THREADS',
    '(shared)',
    'OpenBLAS threads, fixed for the process; unset → ⌊cores ÷ running trainings⌋ (one training alone uses every core)',
  ],
  [
    'PROMPTGEN_ASSET_DIRS',
    '(none)',
    'directories (`:`-separated, absolute) whose model/vocabulary files control params may name; unset → only files inside plugin packages',
  ],
  [
    'PROMPTGEN_ASSET_URLS',
    '(none)',
    'http(s) URL prefixes (comma-separated) control params may name; unset → no URL is fetched for a param',
  ],
  [
    'PROMPTGEN_MAX_QUERY_TOKENS',
    '3000',
    'largest GraphQL document, in lexical tokens (refused while parsing)',
  ],
  [
    'PROMPTGEN_MAX_QUERY_FIELDS',
    '200',
    'most field selections in one GraphQL document (refused before validation)',
  ],
  ['PROMPTGEN_MAX_QUERY_ALIASES', '15', 'most aliases in one GraphQL document'],
  ['PROMPTGEN_MAX_QUERY_DIRECTIVES', '20', 'most directives in one GraphQL document'],
  [
    'PROMPTGEN_MAX_EXPENSIVE_PER_REQUEST',
    '1',
    'most `createPrompt`/`sample`/`installPlugin`/`uninstallPlugin` fields in one operation',
  ],
  [
    'PROMPTGEN_RATE_LIMIT_PER_MINUTE',
    '120',
    'those mutations per client address and minute (token bucket, burst of the same size; 0: no limit; admin requests exempt)',
  ],
  [
    'PROMPTGEN_MAX_QUEUED_PROMPTS',
    '100',
    'QUEUED + TRAINING prompts beyond which `createPrompt` answers `QUEUE_FULL` (0: no limit)',
  ],
  [
    'PROMPTGEN_TRAINING_THREADS',
    '(cores − 1 for serve beyond 2 cores, else cores) ÷ fixed BLAS threads',
    'most trainings one process runs at once; more would only time-slice the cores and slow the API',
  ],
  [
    'PROMPTGEN_FUSED_COUPLING',
    '1',
    'cpu, and wasm with the native addon: each flow block as one fused kernel per direction (0: the unfused ops)',
  ],
];

/**
 * The effective configuration for `promptgen config`: one row per variable of
 * CONFIG_DOC with the value in use and where it came from. Secrets never
 * appear: the admin token shows only whether it is set, a database password
 * is masked.
 */
export function describeConfig(
  config: Config,
  env: Env = process.env,
): Array<{ name: string; value: string; source: 'env' | 'default' }> {
  const shown: Record<string, string> = {
    PORT: String(config.port),
    HOST: config.host,
    DATABASE_URL: config.databaseUrl
      ? maskPassword(config.databaseUrl)
      : `(embedded PGlite in ${config.dataDir})`,
    PROMPTGEN_DATA_DIR: config.dataDir,
    PROMPTGEN_ADMIN_TOKEN: config.adminToken
      ? '(set; not shown)'
      : `(generated or read: ${path.join(config.dataDir, 'admin-token')})`,
    PROMPTGEN_WORKERS: String(config.workers),
    PROMPTGEN_BACKEND: config.backend,
    LOG_LEVEL: config.logLevel,
    PROMPTGEN_PUBLIC_URL: config.publicUrl ?? '(from request)',
    PROMPTGEN_MAX_QUERY_DEPTH: String(config.limits.maxQueryDepth),
    PROMPTGEN_MAX_QUERY_COMPLEXITY: String(config.limits.maxQueryComplexity),
    PROMPTGEN_BODY_LIMIT: `${config.limits.bodyLimitBytes} bytes`,
    PROMPTGEN_MAX_STEPS: String(config.limits.maxSteps),
    PROMPTGEN_MAX_BATCH_SIZE: String(config.limits.maxBatchSize),
    PROMPTGEN_MAX_SAMPLE_COUNT: String(config.limits.maxSampleCount),
    PROMPTGEN_JOB_HEARTBEAT_SECONDS: String(config.jobHeartbeatSeconds),
    PROMPTGEN_CHECKPOINT_EVERY: String(config.checkpointEvery),
    PROMPTGEN_SHUTDOWN_GRACE_SECONDS: String(config.shutdownGraceSeconds),
    PROMPTGEN_NATIVE_BLAS: config.nativeBlas ? '1' : '0',
    PROMPTGEN_BLAS_THREADS: config.blasThreads === undefined ? '(shared)' : String(config.blasThreads),
  };
  return CONFIG_DOC.map(([name, fallback]) => ({
    name,
    // A variable another part of the code reads but this table does not know yet: show the raw default.
    value: shown[name] ?? (env[name]?.trim() ? '(set)' : fallback),
    source: env[name] !== undefined && env[name]!.trim() !== '' ? 'env' : 'default',
  }));
}

/** A connection string fit for a log or a screen: the password masked. */
export function maskPassword(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparseable url)';
  }
}
