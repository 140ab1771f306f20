#!/usr/bin/env node
// Builds native/build/blas.node with the system C compiler and Node's own headers.
// Optional: where it cannot be built, the engine uses its pure-wasm kernels.
// Every native/src/*.c is compiled into the one module (addon.c registers the
// functions), so a new kernel file needs no change here.
'use strict';
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const here = __dirname;
const out = path.join(here, 'build', 'blas.node');
const include = path.resolve(path.dirname(process.execPath), '..', 'include', 'node');
if (!fs.existsSync(path.join(include, 'node_api.h'))) {
  console.warn(
    `native BLAS kernels not built: no Node headers at ${include} (the engine falls back to wasm kernels)`,
  );
  process.exit(0);
}
fs.mkdirSync(path.dirname(out), { recursive: true });
const srcDir = path.join(here, 'src');
const sources = fs
  .readdirSync(srcDir)
  .filter((f) => f.endsWith('.c'))
  .sort()
  .map((f) => path.join(srcDir, f));
try {
  // -ffp-contract=off: no fused multiply-adds, so vecloops.c's SIMD and scalar paths give the same values;
  // -fno-trapping-math: lets its clamps and selects become SIMD blends (no FP traps are used anywhere).
  execFileSync(
    process.env.CC || 'cc',
    [
      '-O3',
      '-ffp-contract=off',
      '-fno-trapping-math',
      '-shared',
      '-fPIC',
      '-pthread',
      '-fvisibility=hidden',
      '-DNODE_GYP_MODULE_NAME=blas',
      `-I${include}`,
      ...sources,
      '-o',
      out,
      '-ldl',
      '-lm',
    ],
    { stdio: 'inherit' },
  );
  console.log(`built ${path.relative(process.cwd(), out)}`);
} catch (err) {
  console.warn(`native BLAS kernels not built (${err.message}); the engine falls back to wasm kernels`);
}
