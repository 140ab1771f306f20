import * as fs from 'node:fs';
import * as path from 'node:path';
import { CONFIG_DOC } from '../../src/shared/config';

describe('README', () => {
  const readme = fs.readFileSync(path.resolve(__dirname, '../../README.md'), 'utf8');

  it('documents every configuration variable with its default', () => {
    for (const [name, fallback] of CONFIG_DOC) expect(readme).toContain(`| \`${name}\` | ${fallback} |`);
  });

  it('keeps the two quick-start lines', () => {
    expect(readme).toContain('    npm ci && npm start\n');
    expect(readme).toContain('    npm test\n');
  });

  it('ends the quick start by pointing at the Studio', () => {
    const quickStart = readme.split('## Quick start')[1]!.split('\n## ')[0]!;
    expect(quickStart.trimEnd().endsWith('open http://localhost:4000/')).toBe(true);
  });
});
