/**
 * Imports point down the layers (engine → plugins → store → runtime → jobs →
 * services → schema → server → app → cli): scripts/check-layers.js holds the map
 * and the rule; this runs it on src, and on a small tree that breaks the rule so
 * that a checker which finds nothing cannot pass.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const SCRIPT = path.resolve(__dirname, '../../scripts/check-layers.js');

function check(srcDir?: string) {
  const result = spawnSync(process.execPath, srcDir ? [SCRIPT, srcDir] : [SCRIPT], { encoding: 'utf8' });
  return { status: result.status, out: `${result.stdout}${result.stderr}` };
}

function tree(files: Record<string, string>): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'layers-'));
  for (const [rel, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    fs.writeFileSync(path.join(root, rel), text);
  }
  return root;
}

describe('import layers', () => {
  it('src has no import from a higher layer', () => {
    const { status, out } = check();
    expect(out).toContain('every import points down');
    expect(status).toBe(0);
  });

  it('fails on an upward import, of any form, and names it', () => {
    const root = tree({
      'jobs/job.ts': "import { isTerminal } from '../services/prompts';\n",
      'engine/a.ts': "export type { X } from '../store/x';\nconst later = () => import('../schema/s');\n",
      'store/x.ts': 'export type X = number;\n',
      'schema/s.ts': 'export {};\n',
      'services/prompts.ts': "import { X } from '../store/x';\nexport const isTerminal = (s: string) => s === 'DONE';\n",
    });
    try {
      const { status, out } = check(root);
      expect(status).toBe(1);
      expect(out).toContain("jobs/job.ts (jobs) imports '../services/prompts' (services)");
      expect(out).toContain("engine/a.ts (engine) imports '../store/x' (store)");
      expect(out).toContain("engine/a.ts (engine) imports '../schema/s' (schema)");
      // A downward import (services → store) is not reported.
      expect(out).not.toContain('services/prompts.ts (services)');
      expect(out).toContain('3 import(s) against the layers');
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });

  it('fails on a folder that has no layer', () => {
    const root = tree({ 'misc/thing.ts': 'export {};\n' });
    try {
      const { status, out } = check(root);
      expect(status).toBe(1);
      expect(out).toContain('misc/thing.ts: no layer');
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});
