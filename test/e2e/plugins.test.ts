/**
 * Plugins as an admin meets them: a package packed with `npm pack` (the one
 * docs/PLUGINS.md shows) installed into a running server through GraphQL,
 * sampled and trained on, then uninstalled; and every way an install fails.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PNG } from 'pngjs';
import { fetchBytes, freshDatabase, repoRoot, startServer, type TestServer } from '../helpers/server';
import { tempDir } from '../helpers/database';
import { waitFor } from '../helpers/wait';

let server: TestServer;
let db: Awaited<ReturnType<typeof freshDatabase>>;
const fixtures = path.join(repoRoot, 'test/fixtures/plugins');

const INSTALL = `mutation($spec: String!) {
  installPlugin(input: { spec: $spec }) {
    plugin {
      name version source status error
      generators { name latentDim output { width height channels } }
      controls { name paramsSchema }
    }
    userErrors { field message code }
  }
}`;
const UNINSTALL = `mutation($name: String!) { uninstallPlugin(input: { name: $name }) { removed userErrors { field message code } } }`;
const CATALOG = '{ plugins { name version status } generators { name } controls { name } }';

function pack(dir: string): string {
  const out = tempDir('promptgen-pack-');
  const name = execFileSync('npm', ['pack', '--pack-destination', out, '--ignore-scripts', '--silent'], {
    cwd: dir,
    encoding: 'utf8',
  })
    .trim()
    .split('\n')
    .pop()!;
  return path.join(out, name);
}

/** A copy of the good example plugin with edits to its package.json and code. */
function variant(edit: {
  name?: string;
  version?: string;
  code?: (src: string) => string;
  dropField?: boolean;
}): string {
  const dir = tempDir('promptgen-variant-');
  fs.cpSync(path.join(fixtures, 'good'), dir, { recursive: true });
  const pkgFile = path.join(dir, 'package.json');
  const pkg = JSON.parse(fs.readFileSync(pkgFile, 'utf8'));
  if (edit.name) pkg.name = edit.name;
  if (edit.version) pkg.version = edit.version;
  if (edit.dropField) delete pkg.promptgen;
  fs.writeFileSync(pkgFile, JSON.stringify(pkg, null, 2));
  if (edit.code)
    fs.writeFileSync(
      path.join(dir, 'index.js'),
      edit.code(fs.readFileSync(path.join(dir, 'index.js'), 'utf8')),
    );
  return dir;
}

beforeAll(async () => {
  db = await freshDatabase();
  server = await startServer({ databaseUrl: db.url, env: { PROMPTGEN_WORKERS: '1' } });
});

afterAll(async () => {
  await server?.stop();
  await db?.drop();
});

describe('installing a plugin', () => {
  it('refuses without the admin token and installs nothing', async () => {
    const tgz = pack(path.join(fixtures, 'good'));
    const before = await server.gql(CATALOG);
    const res = await server.gql(INSTALL, { spec: tgz });
    expect(res.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect(await server.gql(CATALOG)).toEqual(before);
    expect(fs.existsSync(path.join(server.dataDir, 'plugins/node_modules/promptgen-plugin-example'))).toBe(
      false,
    );
  });

  it('installs a packed plugin, samples its generator, trains with its control, and uninstalls it', async () => {
    const tgz = pack(path.join(fixtures, 'good'));
    const res = await server.gql(INSTALL, { spec: tgz }, { admin: true });
    expect(res.data.installPlugin.userErrors).toEqual([]);
    expect(res.data.installPlugin.plugin).toMatchObject({
      name: 'promptgen-plugin-example',
      version: '1.0.0',
      source: 'INSTALLED',
      status: 'LOADED',
      error: null,
      generators: [{ name: 'example-pattern', latentDim: 4, output: { width: 8, height: 8, channels: 1 } }],
      controls: [{ name: 'example-brightness', paramsSchema: expect.objectContaining({ type: 'object' }) }],
    });
    const catalog = await server.gql(CATALOG);
    expect(catalog.data.generators.map((g: any) => g.name)).toContain('example-pattern');

    const sample = await server.gql(
      'mutation { sample(input: { generator: "example-pattern", count: 3, seed: 2 }) { sampleSet { images { url width height } } userErrors { message } } }',
    );
    expect(sample.data.sample.userErrors).toEqual([]);
    const png = PNG.sync.read((await fetchBytes(sample.data.sample.sampleSet.images[0].url)).body);
    expect([png.width, png.height]).toEqual([8, 8]);

    const created = await server.gql(
      `mutation {
        createPrompt(input: {
          generator: "example-pattern"
          controls: [{ control: "example-brightness", weight: 50, params: { target: 0.9 } }]
          training: { steps: 30, batchSize: 8, flowBlocks: 2, hiddenUnits: 16, previewEvery: 0 }
        }) { prompt { id pluginVersions } userErrors { message } }
      }`,
    );
    expect(created.data.createPrompt.prompt.pluginVersions).toEqual({ 'promptgen-plugin-example': '1.0.0' });
    const id = created.data.createPrompt.prompt.id;
    const done = await waitFor(async () => {
      const p = (await server.gql('query($id: ID!) { prompt(id: $id) { status error metrics } }', { id }))
        .data.prompt;
      return ['SUCCEEDED', 'FAILED'].includes(p.status) && p;
    });
    expect(done.status).toBe('SUCCEEDED');
    const [metrics] = done.metrics.controls;
    // The control pulled the images toward brightness 0.9.
    expect(metrics.prompt.meanBrightness).toBeGreaterThan(metrics.base.meanBrightness);

    // The trained prompt is a generator too: listed with the prompts, not with the base generators.
    const trained = (await server.gql('query($id: ID!) { prompt(id: $id) { asGenerator { name } } }', { id }))
      .data.prompt.asGenerator.name;
    const names = async (kind: string) =>
      (await server.gql(`{ generators${kind} { name available } }`)).data.generators.map((g: any) => g.name);
    expect(await names('')).toEqual(expect.arrayContaining(['example-pattern', 'mnist', trained]));
    expect(await names('(kind: BASE)')).toEqual(expect.arrayContaining(['example-pattern', 'mnist']));
    expect(await names('(kind: BASE)')).not.toContain(trained);
    expect(await names('(kind: PROMPT)')).toEqual([trained]);

    const removed = await server.gql(UNINSTALL, { name: 'promptgen-plugin-example' }, { admin: true });
    expect(removed.data.uninstallPlugin).toEqual({ removed: true, userErrors: [] });
    expect(server.proc.output()).toMatch(
      /\[promptgen:admin\] plugin installed: promptgen-plugin-example@1\.0\.0 from ".*\.tgz", integrity sha512-/,
    );
    expect(server.proc.output()).toContain(
      '[promptgen:admin] plugin uninstalled: promptgen-plugin-example@1.0.0',
    );
    // Its base plugin gone, the trained prompt is no longer offered as a generator.
    expect(await names('')).not.toContain(trained);
    expect(await names('(kind: PROMPT)')).toEqual([]);
    const after = await server.gql(CATALOG);
    expect(after.data.generators.map((g: any) => g.name)).not.toContain('example-pattern');
    expect(after.data.plugins.map((p: any) => p.name)).not.toContain('promptgen-plugin-example');
    // The prompt keeps its record, its plugin version, and says its generator is gone.
    const kept = await server.gql(
      'query($id: ID!) { prompt(id: $id) { status pluginVersions generator { name available } } }',
      { id },
    );
    expect(kept.data.prompt).toEqual({
      status: 'SUCCEEDED',
      pluginVersions: { 'promptgen-plugin-example': '1.0.0' },
      generator: { name: 'example-pattern', available: false },
    });
  });

  it('replaces an installed plugin with a newer version', async () => {
    const v1 = await server.gql(
      INSTALL,
      {
        spec: pack(
          variant({ name: 'promptgen-plugin-versions', code: (s) => s.replace(/example-/g, 'versions-') }),
        ),
      },
      { admin: true },
    );
    expect(v1.data.installPlugin.plugin).toMatchObject({ version: '1.0.0', status: 'LOADED' });
    const v2 = await server.gql(
      INSTALL,
      {
        spec: pack(
          variant({
            name: 'promptgen-plugin-versions',
            version: '1.1.0',
            code: (s) => s.replace(/example-/g, 'versions-'),
          }),
        ),
      },
      { admin: true },
    );
    expect(v2.data.installPlugin.plugin).toMatchObject({
      name: 'promptgen-plugin-versions',
      version: '1.1.0',
      status: 'LOADED',
    });
    const plugins = (await server.gql(CATALOG)).data.plugins.filter(
      (p: any) => p.name === 'promptgen-plugin-versions',
    );
    expect(plugins).toEqual([{ name: 'promptgen-plugin-versions', version: '1.1.0', status: 'LOADED' }]);
    expect(server.proc.output()).toMatch(
      /plugin installed: promptgen-plugin-versions@1\.1\.0 \(replacing 1\.0\.0\) from "/,
    );

    // The older version again: refused unless asked for, and nothing changes.
    const older = pack(
      variant({ name: 'promptgen-plugin-versions', code: (s) => s.replace(/example-/g, 'versions-') }),
    );
    const refused = await server.gql(INSTALL, { spec: older }, { admin: true });
    expect(refused.data.installPlugin).toEqual({
      plugin: null,
      userErrors: [
        {
          field: ['spec'],
          code: 'DOWNGRADE_REFUSED',
          message:
            'promptgen-plugin-versions@1.0.0 is older than the installed 1.1.0; install it with allowDowngrade to replace the newer version',
        },
      ],
    });
    expect(
      (await server.gql(CATALOG)).data.plugins.filter((p: any) => p.name === 'promptgen-plugin-versions'),
    ).toEqual([{ name: 'promptgen-plugin-versions', version: '1.1.0', status: 'LOADED' }]);
    const downgraded = await server.gql(
      'mutation($spec: String!) { installPlugin(input: { spec: $spec, allowDowngrade: true }) { plugin { version status } userErrors { code } } }',
      { spec: older },
      { admin: true },
    );
    expect(downgraded.data.installPlugin).toEqual({
      plugin: { version: '1.0.0', status: 'LOADED' },
      userErrors: [],
    });
    expect(server.proc.output()).toMatch(
      /plugin installed: promptgen-plugin-versions@1\.0\.0 \(replacing 1\.1\.0, downgrade allowed\)/,
    );
    await server.gql(UNINSTALL, { name: 'promptgen-plugin-versions' }, { admin: true });
  });

  it.each([
    ['a plugin that throws at load', () => pack(path.join(fixtures, 'throws')), /threw while loading/],
    [
      'a package without the "promptgen" field',
      () => pack(variant({ name: 'promptgen-plugin-nofield', dropField: true })),
      /no "promptgen" field/,
    ],
    ['a path that does not exist', () => '/nonexistent/plugin.tgz', /does not exist|no such file|not found/i],
    [
      'a package that left its declared model out of "files"',
      () => pack(path.join(fixtures, 'missing-model')),
      /^plugin promptgen-plugin-missing-model@1\.0\.0 failed to load: model "tiny-missing" \(models\/tiny\/model\.json\) cannot be loaded: .*model file not found: models\/tiny\/model\.json$/,
    ],
    [
      'a plugin with a syntax error',
      () =>
        pack(
          variant({
            name: 'promptgen-plugin-syntax',
            code: (s) => s.replace('const SIZE = 8;', 'const SIZE = 8;;)'),
          }),
        ),
      /plugin threw while loading: SyntaxError at index\.js:\d+: Unexpected token '\)'$/,
    ],
    [
      'an npm package that does not exist',
      () => '@promptgen/this-package-does-not-exist-xyz@1.0.0',
      /not found|404|does not exist/i,
    ],
  ])('refuses %s with a clear userError; server up, nothing changed', async (_what, spec, message) => {
    const before = await server.gql(CATALOG);
    const res = await server.gql(INSTALL, { spec: spec() }, { admin: true });
    expect(res.errors).toBeUndefined();
    expect(res.data.installPlugin.plugin).toBeNull();
    expect(res.data.installPlugin.userErrors).toEqual([
      {
        field: ['spec'],
        code: expect.stringMatching(/^(INSTALL_FAILED|NOT_FOUND)$/),
        message: expect.stringMatching(message),
      },
    ]);
    expect(await server.gql(CATALOG)).toEqual(before);
    expect((await fetch(`${server.url}/readyz`)).status).toBe(200);
  });

  it.each([
    ['-g', 'INVALID_SPEC', /must not start with "-"/],
    ['--registry=http://127.0.0.1:1', 'INVALID_SPEC', /must not start with "-"/],
    ['github:x/y', 'UNSUPPORTED_SPEC', /git specs are not supported/],
  ])('refuses the spec %s before npm sees it, with code %s', async (spec, code, message) => {
    const before = await server.gql(CATALOG);
    const res = await server.gql(INSTALL, { spec }, { admin: true });
    expect(res.data.installPlugin.userErrors).toEqual([
      { field: ['spec'], code, message: expect.stringMatching(message) },
    ]);
    expect(await server.gql(CATALOG)).toEqual(before);
  });

  it('refuses to uninstall a built-in or unknown plugin', async () => {
    expect(
      (await server.gql(UNINSTALL, { name: '@promptgen/mnist' }, { admin: true })).data.uninstallPlugin,
    ).toEqual({
      removed: false,
      userErrors: [
        {
          field: ['name'],
          code: 'BAD_USER_INPUT',
          message: '@promptgen/mnist is a built-in plugin and cannot be uninstalled',
        },
      ],
    });
    expect(
      (await server.gql(UNINSTALL, { name: 'nope-not-here' }, { admin: true })).data.uninstallPlugin
        .userErrors[0],
    ).toMatchObject({ code: 'NOT_FOUND' });
  });
});

describe('a plugin whose model fails during training', () => {
  // The plugin marks its message for users (expose); a raw exception would show as "internal error (id …)" (test/security).
  it('ends the prompt FAILED with a readable error', async () => {
    const broken = variant({
      name: 'promptgen-plugin-broken-model',
      code: (s) =>
        s
          .replace(/example-/g, 'broken-')
          .replace(
            'load(ctx, params) {',
            "load(ctx, params) {\n        if (params.target > 0.8) throw Object.assign(new Error('weights file model.bin is corrupt'), { expose: true });",
          ),
    });
    const installed = await server.gql(INSTALL, { spec: broken }, { admin: true });
    expect(installed.data.installPlugin.userErrors).toEqual([]);
    const created = await server.gql(
      `mutation {
        createPrompt(input: {
          generator: "broken-pattern"
          controls: [{ control: "broken-brightness", params: { target: 0.95 } }]
          training: { steps: 5, batchSize: 2, flowBlocks: 1, hiddenUnits: 8 }
        }) { prompt { id } userErrors { message } }
      }`,
    );
    const id = created.data.createPrompt.prompt.id;
    const done = await waitFor(async () => {
      const p = (await server.gql('query($id: ID!) { prompt(id: $id) { status error } }', { id })).data
        .prompt;
      return ['SUCCEEDED', 'FAILED'].includes(p.status) && p;
    });
    expect(done).toEqual({ status: 'FAILED', error: 'training failed: weights file model.bin is corrupt' });
    expect((await fetch(`${server.url}/readyz`)).status).toBe(200);
  });
});
