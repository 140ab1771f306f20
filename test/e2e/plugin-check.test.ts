/**
 * `promptgen plugin check`: the built-in MNIST plugin passes with its figures
 * printed; broken packages fail with exit status 1 and say what is wrong.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tempDir } from '../helpers/database';
import { repoRoot, startProcess } from '../helpers/server';

const fixtures = path.join(repoRoot, 'test/fixtures/plugins');
const check = async (...args: string[]) => {
  const proc = startProcess(['plugin', 'check', ...args], { PROMPTGEN_BACKEND: 'wasm' });
  const code = await proc.exited;
  return { code, out: proc.output() };
};

describe('promptgen plugin check', () => {
  it('passes the built-in MNIST plugin, printing shapes, ranges, gradients and timings', async () => {
    const { code, out } = await check(path.join(repoRoot, 'plugins/mnist'));
    expect(out).not.toContain('PROBLEM');
    expect(code).toBe(0);
    const gen =
      /generator mnist: z \[4,64\] → \[4,28,28,1\] in \[(\S+), (\S+)\], load \d+ ms, batch [\d.]+ ms, \|∂Σimages\/∂z\| (\S+)/.exec(
        out,
      );
    expect(gen).not.toBeNull();
    expect(Number(gen![1])).toBeGreaterThanOrEqual(0);
    expect(Number(gen![2])).toBeLessThanOrEqual(1);
    expect(Number(gen![3])).toBeGreaterThan(0);
    expect(out).toMatch(/classifier mnist-digit: \[4,28,28,1\] → \[4,10\] \(10 classes\), [\d.]+ ms/);
    const ctl =
      /control mnist-digit \{"classes":\[7\],"temperature":1\}: energy \[4\] in \[(\S+), (\S+)\], \|∂ΣE\/∂images\| ([^\s,]+),/.exec(
        out,
      );
    expect(ctl).not.toBeNull();
    expect(Number(ctl![1])).toBeGreaterThan(0); // −log p(7) of unsteered digits
    expect(Number(ctl![3])).toBeGreaterThan(0);
    expect(out).toMatch(/\nok\n/);
  });

  it('checks a packed .tgz the same way, with params given on the command line', async () => {
    const out = tempDir('promptgen-check-pack-');
    const { execFileSync } = await import('node:child_process');
    const name = execFileSync(
      'npm',
      ['pack', path.join(fixtures, 'good'), '--pack-destination', out, '--ignore-scripts', '--silent'],
      { cwd: out, encoding: 'utf8' },
    )
      .trim()
      .split('\n')
      .pop()!;
    const res = await check(
      path.join(out, name),
      '--params',
      'example-brightness={"target":0.9}',
      '--batch',
      '3',
    );
    expect(res.code).toBe(0);
    expect(res.out).toMatch(/generator example-pattern: z \[3,4\] → \[3,8,8,1\] in \[0\.\d+, 0\.\d+\]/);
    expect(res.out).toMatch(/control example-brightness \{"target":0\.9\}: energy \[3\] in/);
  });

  it('fails a plugin whose generator leaves [0, 1] and whose energy has the wrong shape', async () => {
    const { code, out } = await check(path.join(fixtures, 'check-broken'));
    expect(code).toBe(1);
    expect(out).toContain('PROBLEM generator check-broken-pattern: images must lie in [0, 1]');
    expect(out).toContain(
      'PROBLEM control check-broken-energy: energy is [4,1], expected one value per image [4]',
    );
  });

  it('fails a package that left its model out of "files", naming the file', async () => {
    const { code, out } = await check(path.join(fixtures, 'missing-model'));
    expect(code).toBe(1);
    expect(out).toContain('PROBLEM model "tiny-missing" (models/tiny/model.json) cannot be loaded');
    expect(out).toContain('model file not found: models/tiny/model.json');
  });

  it('reports a syntax error with its file and line', async () => {
    const dir = tempDir('promptgen-check-syntax-');
    fs.cpSync(path.join(fixtures, 'good'), dir, { recursive: true });
    const file = path.join(dir, 'index.js');
    const lines = fs.readFileSync(file, 'utf8').split('\n');
    const at = lines.findIndex((l) => l.includes('const SIZE = 8;'));
    lines[at] = 'const SIZE = 8;;)';
    fs.writeFileSync(file, lines.join('\n'));
    const { code, out } = await check(dir);
    expect(code).toBe(1);
    expect(out).toContain(
      `does not load: plugin threw while loading: SyntaxError at index.js:${at + 1}: Unexpected token ')'`,
    );
  });

  it('refuses what is not a package', async () => {
    const { code, out } = await check('/nonexistent/plugin');
    expect(code).toBe(1);
    expect(out).toContain('PROBLEM cannot read the package: no such file or directory: /nonexistent/plugin');
  });
});
