/**
 * ../shared (docs and real models) sits beside the repository on developer
 * machines and in CI. Where it is absent, tests that need it are skipped with
 * a printed reason — unless PROMPTGEN_REQUIRE_SHARED=1 (CI), which makes the
 * absence a failure.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

export const sharedDir = path.resolve(__dirname, '../../../shared');

export function requireShared(relative: string): string | null {
  const file = path.join(sharedDir, relative);
  if (fs.existsSync(file)) return file;
  if (process.env.PROMPTGEN_REQUIRE_SHARED === '1') {
    throw new Error(`${file} is missing and PROMPTGEN_REQUIRE_SHARED=1`);
  }
  console.warn(`skipping: ${file} is absent (../shared is not beside the repository)`);
  return null;
}
