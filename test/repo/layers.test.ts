/**
 * Imports point down the layers (shared → sdk → engine → plugins → store →
 * events → catalog → jobs → services → schema → server → app → cli), one layer
 * per folder: scripts/check-layers.js holds the map and the rule; this runs it
 * on src, and on small trees that break the rule so that a checker which finds
 * nothing cannot pass.
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

/** Runs the checker on a throw-away src tree holding `files`. */
function checkTree(files: Record<string, string>) {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'layers-'));
  try {
    for (const [rel, text] of Object.entries(files)) {
      fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
      fs.writeFileSync(path.join(root, rel), text);
    }
    return check(root);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}

describe('import layers', () => {
  it('src has no import from a higher layer', () => {
    const { status, out } = check();
    expect(out).toContain('every import points down');
    expect(status).toBe(0);
  });

  it('fails on an upward import, of any form, and names it', () => {
    const { status, out } = checkTree({
      'jobs/job.ts': "import { isTerminal } from '../services/prompts';\n",
      'engine/a.ts': "export type { X } from '../store/x';\nconst later = () => import('../schema/s');\n",
      'store/x.ts': 'export type X = number;\n',
      'schema/s.ts': 'export {};\n',
      'services/prompts.ts':
        "import { X } from '../store/x';\nexport const isTerminal = (s: string) => s === 'DONE';\n",
    });
    expect(status).toBe(1);
    expect(out).toContain("jobs/job.ts (jobs) imports '../services/prompts' (services)");
    expect(out).toContain("engine/a.ts (engine) imports '../store/x' (store)");
    expect(out).toContain("engine/a.ts (engine) imports '../schema/s' (schema)");
    // A downward import (services → store) is not reported.
    expect(out).not.toContain('services/prompts.ts (services)');
    expect(out).toContain('3 import(s) against the layers');
  });

  it("takes a file's layer from its folder alone, the top-level app.ts and cli.ts from their names", () => {
    const { status, out } = checkTree({
      'shared/ids.ts': "import type { Tf } from '../sdk/index';\nexport type Id = string;\n",
      'sdk/index.ts': "import type { Id } from '../shared/ids';\nexport type Tf = Id;\n",
      'engine/flow.ts': "import type { Tf } from '../sdk';\nexport type Flow = Tf;\n",
      'events/bus.ts': "import { x } from '../catalog/sync';\n",
      'catalog/sync.ts': "import type { Flow } from '../engine/flow';\nexport const x = 1;\n",
      'app.ts': "import './cli';\n",
      'cli.ts': "import './app';\n",
    });
    expect(status).toBe(1);
    expect(out).toContain("shared/ids.ts (shared) imports '../sdk/index' (sdk)");
    expect(out).toContain("events/bus.ts (events) imports '../catalog/sync' (catalog)");
    expect(out).toContain("app.ts (app) imports './cli' (cli)");
    expect(out).not.toContain('sdk/index.ts (sdk)');
    expect(out).not.toContain('engine/flow.ts');
    expect(out).not.toContain('cli.ts (cli)');
    expect(out).toContain('3 import(s) against the layers');
  });

  it('fails on a folder, or a top-level file other than app.ts and cli.ts, that has no layer', () => {
    const { status, out } = checkTree({
      'misc/thing.ts': 'export {};\n',
      'helpers.ts': 'export {};\n',
      'runtime/old.ts': 'export {};\n',
    });
    expect(status).toBe(1);
    expect(out).toContain('misc/thing.ts: no layer');
    expect(out).toContain('helpers.ts: no layer');
    expect(out).toContain('runtime/old.ts: no layer');
  });
});
