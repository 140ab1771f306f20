#!/usr/bin/env node
/**
 * Several trainings at once on one server: total training throughput and how
 * responsive the API stays (docs/PERFORMANCE.md, "Concurrency").
 *
 *   npm run build
 *   node scripts/bench-concurrency.js [--prompts 1,2,4] [--steps 200] [--batch 64]
 *        [--uncapped] [--gap-ms 50]
 *
 * For each N in --prompts: starts `promptgen serve` (embedded PGlite in a
 * temporary data directory, PROMPTGEN_WORKERS=N), measures the latency of the
 * `generators` query while idle, creates N prompts at once (built-in `mnist`
 * generator, `mnist-digit` control, class 7), and while they train sends one
 * `generators` query every --gap-ms and polls each prompt's step. Prints one
 * JSON line per N:
 *   steps_per_s_total  training steps summed over prompts ÷ time from the
 *                      first step to the last (thread start-ups included)
 *   generators_p50_ms / generators_p99_ms  while training (idle_p99_ms: before)
 * --uncapped sets PROMPTGEN_TRAINING_THREADS=N, i.e. the behaviour without the
 * core cap (src/jobs/concurrency.ts), for comparison.
 */
'use strict';
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

function parseArgs(argv) {
  const a = { prompts: [1, 2, 4], steps: 200, batch: 64, uncapped: false, gapMs: 50 };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    if (k === '--prompts') a.prompts = argv[++i].split(',').map(Number);
    else if (k === '--steps') a.steps = Number(argv[++i]);
    else if (k === '--batch') a.batch = Number(argv[++i]);
    else if (k === '--uncapped') a.uncapped = true;
    else if (k === '--gap-ms') a.gapMs = Number(argv[++i]);
    else throw new Error(`unknown argument ${k}`);
  }
  return a;
}

const root = path.resolve(__dirname, '..');
const cli = path.join(root, 'dist', 'src', 'cli.js');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function startServer(env) {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'promptgen-bench-'));
  const child = spawn(process.execPath, [cli, 'serve'], {
    env: {
      ...process.env,
      PORT: '0',
      HOST: '127.0.0.1',
      PROMPTGEN_DATA_DIR: dataDir,
      LOG_LEVEL: 'info',
      DATABASE_URL: '',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const url = new Promise((resolve, reject) => {
    const onData = (chunk) => {
      out += chunk.toString();
      const m = /listening on (http:\/\/[^\s]+)\/graphql/.exec(out);
      if (m) resolve(m[1].replace('localhost', '127.0.0.1'));
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code) => reject(new Error(`server exited (${code}):\n${out.slice(-2000)}`)));
    setTimeout(() => reject(new Error(`server did not start:\n${out.slice(-2000)}`)), 120_000);
  });
  return {
    url,
    log: () => out,
    async stop() {
      child.kill('SIGTERM');
      await new Promise((r) => (child.exitCode !== null ? r() : child.once('exit', r)));
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

async function gql(url, query, variables) {
  const res = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query, variables }),
  });
  const body = await res.json();
  if (body.errors) throw new Error(JSON.stringify(body.errors));
  return body.data;
}

const pct = (xs, p) => {
  const s = xs.slice().sort((a, b) => a - b);
  return s.length ? Math.round(s[Math.min(s.length - 1, Math.floor(p * s.length))] * 10) / 10 : null;
};

async function timedGenerators(url) {
  const t = performance.now();
  await gql(url, '{ generators { name latentDim } }');
  return performance.now() - t;
}

async function runOne(n, args) {
  const env = { PROMPTGEN_WORKERS: String(n) };
  if (args.uncapped) env.PROMPTGEN_TRAINING_THREADS = String(n);
  const server = startServer(env);
  try {
    const url = await server.url;
    const idle = [];
    for (let i = 0; i < 40; i++) idle.push(await timedGenerators(url));
    const ids = [];
    for (let i = 0; i < n; i++) {
      const d = await gql(
        url,
        'mutation($input: CreatePromptInput!) { createPrompt(input: $input) { prompt { id } userErrors { message code } } }',
        {
          input: {
            name: `bench-${i}`,
            generator: 'mnist',
            controls: [{ control: 'mnist-digit', weight: 100, params: { classes: [7] } }],
            training: { steps: args.steps, batchSize: args.batch, seed: i + 1 },
          },
        },
      );
      if (!d.createPrompt.prompt) throw new Error(JSON.stringify(d.createPrompt.userErrors));
      ids.push(d.createPrompt.prompt.id);
    }
    const busy = [];
    let firstStepAt = null;
    let lastStepAt = null;
    let done = false;
    const total = n * args.steps;
    const prober = (async () => {
      while (!done) {
        busy.push(await timedGenerators(url));
        await sleep(args.gapMs);
      }
    })();
    const deadline = Date.now() + 30 * 60_000;
    while (Date.now() < deadline) {
      const steps = [];
      let finished = 0;
      for (const id of ids) {
        const d = await gql(url, 'query($id: ID!) { prompt(id: $id) { status progress { step } } }', { id });
        const p = d.prompt;
        if (p.status === 'FAILED' || p.status === 'CANCELLED')
          throw new Error(`prompt ${id} ended ${p.status}`);
        steps.push(p.progress ? p.progress.step : 0);
        if (p.status === 'SUCCEEDED') finished++;
      }
      const sum = steps.reduce((a, b) => a + b, 0);
      const now = performance.now();
      if (sum > 0 && firstStepAt === null) firstStepAt = now;
      if (sum >= total && lastStepAt === null) lastStepAt = now;
      if (finished === n) break;
      await sleep(250);
    }
    done = true;
    await prober;
    const seconds = (lastStepAt - firstStepAt) / 1000;
    return {
      prompts: n,
      workers: n,
      uncapped: args.uncapped,
      cores: os.availableParallelism ? os.availableParallelism() : os.cpus().length,
      steps: args.steps,
      batch: args.batch,
      steps_per_s_total: Math.round((total / seconds) * 100) / 100,
      idle_p99_ms: pct(idle, 0.99),
      generators_p50_ms: pct(busy, 0.5),
      generators_p99_ms: pct(busy, 0.99),
      generators_queries: busy.length,
      workers_line: (/training workers: [^\n]*/.exec(server.log()) || [''])[0],
    };
  } finally {
    await server.stop();
  }
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  if (!fs.existsSync(cli)) throw new Error('run `npm run build` first');
  for (const n of args.prompts) console.log(JSON.stringify(await runOne(n, args)));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
