#!/usr/bin/env node
/**
 * Fails when a source file imports from a layer above its own.
 *
 * The layers, lowest first (a file may import from its own layer and any below).
 * A file's layer is its folder under src, or for app.ts and cli.ts its name; no
 * file is an exception, so the folder names are the whole map (docs/ARCHITECTURE.md
 * says what each holds):
 *
 *   shared    vocabulary and utilities every layer may use: config, logger, ids,
 *             ErrorCode, Result, public errors, pid lock, the Node version gate
 *   sdk       the plugin contract (types and one identity helper), published as
 *             promptgen/plugin; below the engine, which implements its Tf types
 *   engine    tensors only
 *   plugins   loader, registry, installer, the tensor runtime (engine + registry)
 *   store     entities, queries, prompt-status vocabulary
 *   events    event bus and channel
 *   catalog   stored plugins, generators and controls kept in step with the loaded
 *             ones; a generator row resolved to its chain
 *   jobs      queue, training job and thread, concurrency, writers, audits
 *   services  the API's services, each interface next to its implementation
 *   artifacts the PNGs served over HTTP: their URLs (which the schema hands out),
 *             their routes (which the server mounts) and their rendering (grids, curves)
 *   schema    GraphQL types and resolvers
 *   server    HTTP and websocket
 *   app       wiring (app.ts)
 *   cli       cli.ts
 *
 * Usage: node scripts/check-layers.js [srcDir]   (default: src next to this script)
 * Written by hand rather than with a lint plugin because the rule is a dozen lines
 * and the project has no linter yet; it reads every relative specifier in
 * `import ... from`, `export ... from`, `import '...'`, `import('...')` and
 * `require('...')`, type-only imports included (they are dependencies too).
 */
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const LAYERS = [
  'shared',
  'sdk',
  'engine',
  'plugins',
  'store',
  'events',
  'catalog',
  'jobs',
  'services',
  'artifacts',
  'schema',
  'server',
  'app',
  'cli',
];

/** The layer of a file, from its path relative to src (forward slashes); null when none fits. */
function layerOf(rel) {
  const slash = rel.indexOf('/');
  const name = slash < 0 ? rel.replace(/\.ts$/, '') : rel.slice(0, slash);
  return LAYERS.includes(name) ? name : null;
}

function sourceFiles(dir) {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(full);
    return entry.name.endsWith('.ts') ? [full] : [];
  });
}

const SPECIFIER = [
  /\bfrom\s*['"]([^'"]+)['"]/g,
  /\bimport\s*['"]([^'"]+)['"]/g,
  /\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g,
  /\brequire\s*\(\s*['"]([^'"]+)['"]\s*\)/g,
];

function relativeSpecifiers(text) {
  const found = new Set();
  for (const re of SPECIFIER) for (const m of text.matchAll(re)) if (m[1].startsWith('.')) found.add(m[1]);
  return [...found];
}

/** The file a relative specifier names (x.ts, x/index.ts, or x.js written for x.ts). */
function resolveSpecifier(fromFile, spec) {
  const base = path.resolve(path.dirname(fromFile), spec);
  const candidates = [base, `${base}.ts`, path.join(base, 'index.ts'), base.replace(/\.js$/, '.ts')];
  return candidates.find((c) => fs.existsSync(c) && fs.statSync(c).isFile()) ?? null;
}

function checkLayers(srcDir) {
  const root = path.resolve(srcDir);
  const toRel = (f) => path.relative(root, f).split(path.sep).join('/');
  const problems = [];
  for (const file of sourceFiles(root)) {
    const rel = toRel(file);
    const own = layerOf(rel);
    if (!own) {
      problems.push(`${rel}: no layer (add its folder to scripts/check-layers.js)`);
      continue;
    }
    for (const spec of relativeSpecifiers(fs.readFileSync(file, 'utf8'))) {
      const target = resolveSpecifier(file, spec);
      if (!target) continue; // not a source file (JSON, a package's own file); tsc checks those exist
      const targetRel = path.relative(root, target);
      if (targetRel.startsWith('..')) continue; // outside src
      const theirs = layerOf(toRel(target));
      if (theirs && LAYERS.indexOf(theirs) > LAYERS.indexOf(own)) {
        problems.push(`${rel} (${own}) imports '${spec}' (${theirs}): a higher layer`);
      }
    }
  }
  return problems;
}

module.exports = { checkLayers, layerOf, LAYERS };

if (require.main === module) {
  const problems = checkLayers(process.argv[2] ?? path.join(__dirname, '..', 'src'));
  for (const p of problems) console.error(p);
  if (problems.length > 0) {
    console.error(`${problems.length} import(s) against the layers`);
    process.exit(1);
  }
  console.log('layers: every import points down');
}
