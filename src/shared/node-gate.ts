/**
 * Imported first by the CLI, before any dependency: on an unsupported Node a
 * dependency may fail to load with a stack that says nothing about the cause,
 * so the version is checked before they load. Exits with status 2, like a bad
 * configuration.
 */
import { ALLOW_UNSUPPORTED_NODE, MIN_NODE_VERSION, nodeVersionProblem } from './node-version';

const problem = nodeVersionProblem(process.versions.node);
if (problem) {
  if (process.env[ALLOW_UNSUPPORTED_NODE] === '1') {
    process.stderr.write(
      `warning: Node.js ${process.versions.node} is not supported (needs ${MIN_NODE_VERSION} or newer); starting anyway as ${ALLOW_UNSUPPORTED_NODE}=1 asks\n`,
    );
  } else {
    process.stderr.write(`${problem}\n`);
    process.exit(2);
  }
}
