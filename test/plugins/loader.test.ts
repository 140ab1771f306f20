import * as fs from 'fs';
import * as path from 'path';
import { builtinPluginsDir, loadPluginPackage } from '../../src/plugins/loader';
import { PluginRegistry } from '../../src/plugins/registry';
import type { Tf } from '../../src/sdk';
import { validateParams, validatePluginDefinition, validatePromptgenField } from '../../src/plugins/validate';
import { fixture, makeTf, repoRoot, silentLogger, tmpDir, writePackage } from './helpers';

let tf: Tf;
beforeAll(async () => {
  tf = await makeTf();
});

describe('loadPluginPackage', () => {
  test('the example plugin loads and generates 8×8×1 images in [0,1]', async () => {
    const p = await loadPluginPackage(fixture('good'), { source: 'BUILTIN' });
    expect(p).toMatchObject({
      name: 'promptgen-plugin-example',
      version: '1.0.0',
      status: 'LOADED',
      source: 'BUILTIN',
      dir: fixture('good'),
    });
    expect(p.error).toBeUndefined();
    expect(p.definition!.generators!.map((g) => g.name)).toEqual(['example-pattern']);
    expect(p.definition!.controls!.map((c) => c.name)).toEqual(['example-brightness']);
    const reg = new PluginRegistry({ logger: silentLogger });
    reg.add(p);
    const gen = await reg.loadGenerator('example-pattern', { tf, backend: 'cpu' });
    const images = gen.generate(tf.randomNormal([3, 4]) as any);
    expect(images.shape).toEqual([3, 8, 8, 1]);
    const v = Array.from(await images.data());
    expect(Math.min(...v)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...v)).toBeLessThanOrEqual(1);
    const control = await reg.loadControl(
      'example-brightness',
      { target: 0.9 },
      { name: 'example-pattern', latentDim: 4, output: { width: 8, height: 8, channels: 1 } },
      { tf, backend: 'cpu' },
    );
    expect(control.energy(images, { z: tf.zeros([3, 4]) as any }).shape).toEqual([3]);
    expect(await control.evaluate!(images)).toMatchObject({ target: 0.9 });
    await reg.dispose();
  });

  test.each([
    ['throws', 'plugin threw while loading: native addon libfoo.so is missing'],
    ['no-field', 'package.json has no "promptgen" field'],
    ['api-v2', 'apiVersion 2 is not supported (host supports 1)'],
  ])('%s → FAILED with a clear message', async (name, message) => {
    const p = await loadPluginPackage(fixture(name), { source: 'INSTALLED' });
    expect(p.status).toBe('FAILED');
    expect(p.error).toBe(message);
    expect(p.definition).toBeUndefined();
    expect(p.version).toBe('1.0.0');
  });

  test('bad paramsSchema → FAILED naming the control and ajv’s complaint', async () => {
    const p = await loadPluginPackage(fixture('bad-schema'), { source: 'INSTALLED' });
    expect(p.status).toBe('FAILED');
    expect(p.error).toMatch(
      /^invalid plugin definition: controls\[0\] \("bad-schema"\): paramsSchema does not compile: schema is invalid: data\/properties\/strength\/type must be equal to one of the allowed values/,
    );
  });

  test('missing directory, missing main, bad JSON, bad definition', async () => {
    const base = tmpDir('loader');
    expect((await loadPluginPackage(path.join(base, 'nope'), { source: 'INSTALLED' })).error).toBe(
      `no package.json in ${path.join(base, 'nope')}`,
    );
    const noMain = writePackage(path.join(base, 'no-main'), {
      name: 'x',
      version: '1.0.0',
      promptgen: { apiVersion: 1 },
      main: 'lib/x.js',
    });
    expect((await loadPluginPackage(noMain, { source: 'INSTALLED' })).error).toBe(
      `main module "lib/x.js" not found in ${noMain}`,
    );
    const empty = writePackage(path.join(base, 'empty'), {
      name: 'y',
      version: '1.0.0',
      promptgen: { apiVersion: 1 },
    });
    expect((await loadPluginPackage(empty, { source: 'INSTALLED' })).error).toMatch(/no main module/);
    fs.mkdirSync(path.join(base, 'badjson'));
    fs.writeFileSync(path.join(base, 'badjson', 'package.json'), '{ nope');
    expect((await loadPluginPackage(path.join(base, 'badjson'), { source: 'INSTALLED' })).error).toMatch(
      /^package.json is not valid JSON/,
    );
    const badDef = writePackage(
      path.join(base, 'bad-def'),
      { name: 'z', version: '2.0.0', promptgen: { apiVersion: 1 } },
      `module.exports = { generators: [{ name: 'Bad_Name', title: 't', latentDim: -1, output: { width: 2, height: 0, channels: 1 }, load: 1 }] };`,
    );
    const p = await loadPluginPackage(badDef, { source: 'INSTALLED' });
    expect(p.error).toContain('generators[0].name "Bad_Name" is invalid');
    expect(p.error).toContain('latentDim must be a positive integer (got -1)');
    expect(p.error).toContain('output.height must be a positive integer (got 0)');
    expect(p.error).toContain('load must be a function');
  });

  test('a transpiled ES module (exports.default) is unwrapped', async () => {
    const dir = writePackage(
      path.join(tmpDir('esm'), 'ts-plugin'),
      { name: 'ts-plugin', version: '1.0.0', promptgen: { apiVersion: 1 } },
      `"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.default = {
  apiVersion: 1,
  controls: [{ name: 'ts-control', title: 'T', paramsSchema: { type: 'object' }, load() { return { energy() {}, dispose() {} }; } }],
};`,
    );
    const p = await loadPluginPackage(dir, { source: 'INSTALLED' });
    expect(p.status).toBe('LOADED');
    expect(p.definition!.controls![0].name).toBe('ts-control');
  });

  test('declarative package with a bad manifest → FAILED naming the entry', async () => {
    const dir = writePackage(path.join(tmpDir('decl'), 'd'), {
      name: 'decl',
      version: '1.0.0',
      promptgen: { apiVersion: 1, models: [{ kind: 'painter', name: 'x1', model: 'm.json' }] },
    });
    const p = await loadPluginPackage(dir, { source: 'INSTALLED' });
    expect(p.error).toMatch(
      /^invalid "promptgen.models": models\[0\]: invalid tfjs-model manifest "x1": kind must be "generator" or "classifier"/,
    );
  });

  test('the built-in tfjs-model plugin loads (a library: no generators of its own)', async () => {
    expect(builtinPluginsDir()).toBe(path.join(repoRoot, 'plugins'));
    const p = await loadPluginPackage(path.join(builtinPluginsDir(), 'tfjs-model'), { source: 'BUILTIN' });
    expect(p).toMatchObject({ name: '@promptgen/tfjs-model', version: '0.1.0', status: 'LOADED' });
    expect(p.definition!.generators).toEqual([]);
  });
});

describe('validation', () => {
  test('promptgen field', () => {
    expect(validatePromptgenField({ promptgen: { apiVersion: 1 } })).toEqual([]);
    expect(validatePromptgenField({ promptgen: {} })).toEqual([
      'package.json "promptgen.apiVersion" is missing (this host supports 1)',
    ]);
    expect(validatePromptgenField({ promptgen: 1 })[0]).toMatch(/must be an object/);
    expect(validatePromptgenField({ promptgen: { apiVersion: 1, models: {} } })[0]).toMatch(
      /models" must be an array/,
    );
  });

  test('definition checks duplicate names and control fields', () => {
    const load = () => ({}) as any;
    expect(
      validatePluginDefinition({
        controls: [
          { name: 'aa', title: 'A', paramsSchema: {}, load, conditionDim: 0 },
          { name: 'aa', title: 'A', paramsSchema: {}, load, paired: 'yes' },
        ],
      }),
    ).toEqual([
      'controls[0] ("aa"): conditionDim must be a positive integer or null (got 0)',
      'control name "aa" is defined twice',
      'controls[1] ("aa"): paired must be a boolean',
    ]);
    expect(validatePluginDefinition(null)[0]).toMatch(/must export a plugin definition/);
  });

  test('validateParams applies defaults, does not mutate, reports relative field paths', () => {
    const control = {
      paramsSchema: {
        type: 'object',
        properties: {
          target: { type: 'number', minimum: 0, maximum: 1, default: 0.5 },
          classes: { type: 'array', items: { type: 'integer', minimum: 0 } },
          mode: { enum: ['soft', 'hard'], default: 'soft' },
        },
        required: ['classes'],
        additionalProperties: false,
      },
    };
    const input = { classes: [1, 2] };
    const ok = validateParams(control, input);
    expect(ok).toEqual({ valid: true, params: { classes: [1, 2], target: 0.5, mode: 'soft' }, errors: [] });
    expect(input).toEqual({ classes: [1, 2] });
    const bad = validateParams(control, { classes: [1, -2], target: 3, mode: 'x', extra: true });
    expect(bad.valid).toBe(false);
    expect(bad.errors).toEqual(
      expect.arrayContaining([
        { field: ['classes', '1'], message: 'must be >= 0' },
        { field: ['target'], message: 'must be <= 1' },
        { field: ['mode'], message: 'must be one of "soft", "hard"' },
        { field: ['extra'], message: 'is not an allowed property' },
      ]),
    );
    expect(validateParams(control, undefined).errors).toEqual([
      { field: ['classes'], message: 'is required' },
    ]);
    expect(
      validateParams({ paramsSchema: { type: 'object', properties: { a: { default: 1 } } } }, null),
    ).toEqual({ valid: true, params: { a: 1 }, errors: [] });
  });
});

describe('docs/PLUGINS.md', () => {
  test('the "Writing a plugin" example is exactly the good fixture', () => {
    const doc = fs.readFileSync(path.join(repoRoot, 'docs', 'PLUGINS.md'), 'utf8');
    const blocks = [...doc.matchAll(/<!-- file: (\S+) -->\n```\w*\n([\s\S]*?)\n```/g)];
    expect(blocks.map((b) => b[1])).toEqual(['package.json', 'index.js']);
    for (const [, file, body] of blocks) {
      expect(body + '\n').toBe(fs.readFileSync(path.join(fixture('good'), file), 'utf8'));
    }
  });
});

describe('a plugin with a syntax error', () => {
  test.each([
    ['CommonJS', 'index.js', "'use strict';\nmodule.exports = {\n  apiVersion: 1,;\n};\n", {}],
    ['an ES module', 'index.mjs', 'export default {\n  apiVersion: 1,;\n};\n', {}],
  ])('%s: FAILED naming the file and line', async (_what, file, code, extra) => {
    const dir = path.join(tmpDir('syntax'), 'pkg');
    writePackage(dir, {
      name: 'promptgen-plugin-syntax',
      version: '1.0.0',
      main: file,
      promptgen: { apiVersion: 1 },
      ...extra,
    });
    fs.writeFileSync(path.join(dir, file), code);
    const p = await loadPluginPackage(dir, { source: 'INSTALLED' });
    expect(p.status).toBe('FAILED');
    expect(p.error).toBe(
      `plugin threw while loading: SyntaxError at ${file}:${file === 'index.mjs' ? 2 : 3}: Unexpected token ';'`,
    );
  });
});
