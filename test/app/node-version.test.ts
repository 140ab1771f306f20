import * as fs from 'node:fs';
import * as path from 'node:path';
import { MIN_NODE_VERSION, nodeVersionProblem } from '../../src/shared/node-version';
import { compareVersions } from '../../src/plugins/installer';

describe('supported Node versions', () => {
  it('match package.json engines', () => {
    const pkg = JSON.parse(fs.readFileSync(path.resolve(__dirname, '../../package.json'), 'utf8'));
    expect(pkg.engines.node).toBe(`>=${MIN_NODE_VERSION}`);
  });

  it.each([
    ['20.20.2', false],
    ['22.12.0', false],
    ['22.14.9', false],
    ['22.15.0', true],
    ['22.23.5', true],
    ['24.1.0', true],
    ['v25.0.0', true],
  ])('Node %s supported: %s', (version, ok) => {
    expect(nodeVersionProblem(version) === null).toBe(ok);
  });
});

describe('compareVersions (semver order)', () => {
  it.each([
    ['1.0.0', '1.1.0', -1],
    ['1.10.0', '1.9.0', 1],
    ['2.0.0', '2.0.0', 0],
    ['1.0.0-beta', '1.0.0', -1],
    ['1.0.0-alpha', '1.0.0-alpha.1', -1],
    ['1.0.0-alpha.beta', '1.0.0-beta', -1],
    ['1.0.0-beta.2', '1.0.0-beta.11', -1],
    ['1.0.0-rc.1', '1.0.0-beta.11', 1],
    ['1.0.0+build.5', '1.0.0', 0],
  ])('%s vs %s → %d', (a, b, want) => {
    expect(compareVersions(a, b)).toBe(want);
    expect(compareVersions(b, a)).toBe(-want || 0);
  });
});
