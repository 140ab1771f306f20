/**
 * Which Node.js versions this server runs on, and the message for any other.
 *
 * The floor is what the dependencies declare, not a guess: pg-boss 12 needs
 * Node ≥ 22.12 and @whatwg-node/promise-helpers (under graphql-yoga's
 * subscription helpers) ≥ 22.15. Node 20 reached its end of life in April 2026.
 * package.json's `engines` says the same (a unit test keeps the two equal).
 */
export const MIN_NODE_VERSION = '22.15.0';

/** Environment variable that turns the refusal into a warning (for machines stuck on an older Node). */
export const ALLOW_UNSUPPORTED_NODE = 'PROMPTGEN_ALLOW_UNSUPPORTED_NODE';

function parse(version: string): [number, number, number] {
  const [major = 0, minor = 0, patch = 0] = version
    .replace(/^v/, '')
    .split('.')
    .map((p) => parseInt(p, 10) || 0);
  return [major, minor, patch];
}

/** null when `version` (e.g. process.versions.node) is supported, else a one-line explanation. */
export function nodeVersionProblem(version: string, minimum: string = MIN_NODE_VERSION): string | null {
  const have = parse(version);
  const need = parse(minimum);
  for (let i = 0; i < 3; i++) {
    if (have[i] > need[i]) return null;
    if (have[i] < need[i]) {
      return (
        `Node.js ${version} is not supported: PromptGen needs Node ${minimum} or newer, the 22 or 24 LTS line ` +
        `(README, "Quick start"); ${ALLOW_UNSUPPORTED_NODE}=1 starts anyway, unsupported`
      );
    }
  }
  return null;
}
