// Preload (node -r) that writes every file Node resolved to $TRACE_OUT at exit:
// scripts/gpu-bench.sh packs exactly these for a machine without Node or node_modules.
const Module = require('module');
const fs = require('fs');
const seen = new Set();
const resolve = Module._resolveFilename;
Module._resolveFilename = function (...args) {
  const file = resolve.apply(this, args);
  if (file.startsWith('/')) seen.add(file);
  return file;
};
process.on('exit', () => fs.writeFileSync(process.env.TRACE_OUT, [...seen].join('\n') + '\n'));
