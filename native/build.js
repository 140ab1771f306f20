#!/usr/bin/env node
// Builds native/build/blas.node with the system C compiler and Node's own headers.
// Optional: where it cannot be built, the engine uses its pure-wasm kernels.
'use strict';
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const here = __dirname;
const out = path.join(here, 'build', 'blas.node');
const include = path.resolve(path.dirname(process.execPath), '..', 'include', 'node');
if (!fs.existsSync(path.join(include, 'node_api.h'))) {
  console.warn(`native BLAS kernels not built: no Node headers at ${include} (the engine falls back to wasm kernels)`);
  process.exit(0);
}
fs.mkdirSync(path.dirname(out), { recursive: true });
try {
  // -ffp-contract=off: no fused multiply-adds, so vecloops.c's SIMD and scalar paths give the same values;
  // -fno-trapping-math: lets its clamps and selects become SIMD blends (no FP traps are used anywhere).
  execFileSync(process.env.CC || 'cc', ['-O3', '-ffp-contract=off', '-fno-trapping-math', '-shared', '-fPIC', '-DNODE_GYP_MODULE_NAME=blas', `-I${include}`, path.join(here, 'blas.c'), path.join(here, 'vecloops.c'), '-o', out, '-ldl', '-lm'], { stdio: 'inherit' });
  console.log(`built ${path.relative(process.cwd(), out)}`);
} catch (err) {
  console.warn(`native BLAS kernels not built (${err.message}); the engine falls back to wasm kernels`);
}
