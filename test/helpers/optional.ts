/**
 * Parts a suite can do without on a developer machine but which CI installs
 * (.ci/run): the native OpenBLAS addon and its library, a dev dependency, a
 * mount. Where one is missing its tests are skipped with a printed reason —
 * unless PROMPTGEN_REQUIRE_SHARED=1 (CI, as for ../shared in shared.ts), where a
 * skip would hide a broken install, so the suite fails and names what is missing.
 */

/** True when CI demands every optional part (PROMPTGEN_REQUIRE_SHARED=1). */
export const requireEveryPart = process.env.PROMPTGEN_REQUIRE_SHARED === '1';

/**
 * `missing` is null when the part is there (run the tests), else why it is not:
 * the tests are skipped with that reason, or the suite fails under CI.
 */
export function optionalPart(what: string, missing: string | null): boolean {
  if (missing === null) return true;
  if (requireEveryPart)
    throw new Error(`cannot run ${what} (${missing}), and PROMPTGEN_REQUIRE_SHARED=1 forbids skipping them`);
  console.warn(`skipping ${what}: ${missing}`);
  return false;
}
