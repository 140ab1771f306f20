// Fails the build when the JavaScript the Studio ships is over its budget,
// measured as the browser downloads it: every .js file of dist/assets, gzipped.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

const BUDGET_BYTES = 300 * 1024;
const dir = new URL('../dist/assets/', import.meta.url).pathname;
let total = 0;
for (const name of readdirSync(dir)
  .filter((n) => n.endsWith('.js'))
  .sort()) {
  const gz = gzipSync(readFileSync(join(dir, name)), { level: 9 }).length;
  total += gz;
  console.log(`  ${name}: ${(gz / 1024).toFixed(1)} kB gzipped`);
}
console.log(`Studio JavaScript: ${(total / 1024).toFixed(1)} kB gzipped (budget ${BUDGET_BYTES / 1024} kB)`);
if (total > BUDGET_BYTES) {
  console.error('Over the budget: the build fails. Trim dependencies or split the bundle.');
  process.exit(1);
}
