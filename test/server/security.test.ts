/**
 * The pieces of the security model on their own: the asset policy, install-spec
 * checks, the per-client token bucket, and what error texts may carry.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { type ConfigError, loadConfig } from '../../src/shared/config';
import { checkAssetLocation } from '../../src/plugins/asset-policy';
import { PluginRegistry } from '../../src/plugins/registry';
import { makeTf, repoRoot, silentLogger } from '../plugins/helpers';
import { installSpecProblem } from '../../src/plugins/installer';
import { validateParams } from '../../src/plugins/validate';
import { publicMessage, scrubText } from '../../src/shared/public-error';
import { RateLimiter } from '../../src/services/rate-limit';
import { preflight } from '../../src/server/request-guard';
import { tempDir } from '../helpers/database';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const clip = require('../../plugins/clip/src/index');

describe('asset policy', () => {
  const allowed = tempDir('assets-allowed-');
  const outside = tempDir('assets-outside-');
  fs.writeFileSync(path.join(allowed, 'vocab.txt'), 'x');
  fs.writeFileSync(path.join(outside, 'secret'), 'TOPSECRET');
  fs.symlinkSync(path.join(outside, 'secret'), path.join(allowed, 'link-to-secret'));
  const policy = { dirs: [allowed], urlPrefixes: ['https://models.example.org/clip/'] };

  test.each([
    ['relative plugin asset', 'models/text/model.json', true],
    ['file in an allowed directory', path.join(allowed, 'vocab.txt'), true],
    ['file:// URL in an allowed directory', 'file://' + path.join(allowed, 'vocab.txt'), true],
    ['allowed URL prefix', 'https://models.example.org/clip/text/model.json', true],
    ['absolute path outside', path.join(outside, 'secret'), false],
    [
      'traversal out of an allowed directory',
      path.join(allowed, '..', path.basename(outside), 'secret'),
      false,
    ],
    ['link out of an allowed directory', path.join(allowed, 'link-to-secret'), false],
    ['relative traversal out of the plugin', '../../../etc/passwd', false],
    ['file:// URL outside', 'file:///etc/passwd', false],
    ['URL outside the prefixes', 'http://127.0.0.1:4000/healthz', false],
    ['URL that only shares a host', 'https://models.example.org/other/model.json', false],
    ['URL with credentials', 'https://u:p@models.example.org/clip/x', false],
    ['other scheme', 'data:text/plain,hello', false],
    ['NUL byte', 'models/\0x', false],
    ['empty', '', false],
  ])('%s', (_what, value, ok) => {
    expect(checkAssetLocation(value, policy).ok).toBe(ok);
  });

  test('the default allows plugin assets only', () => {
    expect(checkAssetLocation('model/model.json').ok).toBe(true);
    expect(checkAssetLocation(path.join(allowed, 'vocab.txt')).ok).toBe(false);
    expect(checkAssetLocation('https://models.example.org/clip/x').ok).toBe(false);
  });

  test('the refusal is the same for files that exist and files that do not', () => {
    const a = checkAssetLocation(path.join(outside, 'secret'));
    const b = checkAssetLocation(path.join(outside, 'no-such-file'));
    expect(a).toEqual(b);
  });

  test('clip-text marks its model and vocabulary params as assets', () => {
    const v = validateParams(clip.controls[0], {
      text: 'a',
      imageEncoder: '/i',
      textEncoder: '/t',
      vocabulary: '/v',
      augment: {},
    });
    expect((v.assets ?? []).map((a) => a.field.join('.')).sort()).toEqual([
      'imageEncoder',
      'textEncoder',
      'vocabulary',
    ]);
  });
});

describe('asset policy at load time (defence in depth)', () => {
  test('a registry without allowed locations refuses absolute paths and URLs in clip-text params before reading them', async () => {
    const tf = await makeTf();
    const secret = path.join(tempDir('assets-load-'), 'admin-token');
    fs.writeFileSync(secret, 'TOPSECRET\n');
    const registry = new PluginRegistry({ logger: silentLogger });
    const ctx = registry.createContext(
      { name: '@promptgen/clip', dir: path.join(repoRoot, 'plugins', 'clip') },
      tf,
      'cpu',
      silentLogger,
    );
    const params = {
      text: 'a',
      imageEncoder: 'x/model.json',
      textEncoder: 'x/model.json',
      vocabulary: secret,
    };
    const err = await clip.controls[0]
      .load(ctx, params, { name: 'g', latentDim: 4, output: { width: 8, height: 8, channels: 1 } })
      .catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    expect(err.message).toMatch(/is not an allowed asset location/);
    expect(err.message).not.toContain('TOPSECRET');
    await expect(ctx.assets.readAsset('http://127.0.0.1:1/x')).rejects.toThrow(
      /is not an allowed asset location/,
    );
    await expect(ctx.assets.loadLayersModel('/etc/model.json')).rejects.toThrow(
      /is not an allowed asset location/,
    );
  });
});

describe('configuration of the limits', () => {
  test('defaults: plugin assets only, and every limit on', () => {
    expect(loadConfig({}, '/srv').security).toEqual({
      assetDirs: [],
      assetUrlPrefixes: [],
      maxQueryTokens: 3000,
      maxQueryFields: 200,
      maxQueryAliases: 15,
      maxQueryDirectives: 20,
      maxExpensivePerRequest: 1,
      rateLimitPerMinute: 120,
      maxQueuedPrompts: 100,
    });
  });

  test('lists are read and checked', () => {
    const c = loadConfig(
      {
        PROMPTGEN_ASSET_DIRS: '/srv/models:/opt/clip/',
        PROMPTGEN_ASSET_URLS: 'https://models.example.org/clip/, http://10.0.0.2:8080/m/',
      },
      '/srv',
    );
    expect(c.security.assetDirs).toEqual(['/srv/models', '/opt/clip']);
    expect(c.security.assetUrlPrefixes).toEqual([
      'https://models.example.org/clip/',
      'http://10.0.0.2:8080/m/',
    ]);
    let problems: string[] = [];
    try {
      loadConfig(
        {
          PROMPTGEN_ASSET_DIRS: 'relative/dir',
          PROMPTGEN_ASSET_URLS: 'ftp://x/',
          PROMPTGEN_MAX_QUERY_TOKENS: '5',
        },
        '/srv',
      );
    } catch (e) {
      problems = (e as ConfigError).problems;
    }
    expect(problems).toEqual([
      'PROMPTGEN_ASSET_DIRS: "relative/dir" is not an absolute directory',
      'PROMPTGEN_ASSET_URLS: "ftp://x/" is not an http(s) URL prefix',
      'PROMPTGEN_MAX_QUERY_TOKENS=5 is out of range (expected 100–1000000)',
    ]);
  });
});

describe('install specs', () => {
  test.each([
    ['-g', 'INVALID_SPEC'],
    ['--registry=http://evil.example', 'INVALID_SPEC'],
    ['--global', 'INVALID_SPEC'],
    ['-foo.tgz', 'INVALID_SPEC'],
    ['left-pad\n--global', 'INVALID_SPEC'],
    ['github:someone/plugin', 'UNSUPPORTED_SPEC'],
    ['git+https://example.org/x.git', 'UNSUPPORTED_SPEC'],
    ['someone/plugin', 'UNSUPPORTED_SPEC'],
    ['not a spec!', 'INVALID_SPEC'],
    ['', 'INVALID_SPEC'],
  ])('%j is refused with %s', (spec, code) => {
    expect(installSpecProblem(spec)?.code).toBe(code);
  });

  test.each([
    'promptgen-plugin-x',
    '@scope/plugin@1.2.3',
    './plugins/x',
    '/abs/plugin.tgz',
    'https://example.org/p-1.0.0.tgz',
    'file:../x',
  ])('%j is accepted', (spec) => {
    expect(installSpecProblem(spec)).toBeNull();
  });
});

describe('rate limiter', () => {
  test('a client may burst the limit, then keeps to the rate; clients are independent', () => {
    let now = 0;
    const rl = new RateLimiter(3, () => now);
    expect([rl.take('a'), rl.take('a'), rl.take('a')]).toEqual([null, null, null]);
    const refused = rl.take('a');
    expect(refused).toMatchObject({ code: 'RATE_LIMITED', field: null });
    expect(refused!.message).toMatch(/try again in 20 s/);
    expect(rl.take('b')).toBeNull();
    now += 20_000; // one token back
    expect(rl.take('a')).toBeNull();
    expect(rl.take('a')?.code).toBe('RATE_LIMITED');
  });

  test('0 disables it', () => {
    const rl = new RateLimiter(0);
    for (let i = 0; i < 1000; i++) expect(rl.take('a')).toBeNull();
  });
});

describe('public error texts', () => {
  test('an unexpected error becomes an id; the log has the cause under that id', () => {
    const lines: string[] = [];
    const text = publicMessage(new Error('ENOENT: open /srv/data/admin-token: TOPSECRET'), {
      error: (m) => lines.push(m),
    });
    const id = /^internal error \(id ([0-9a-f]{12})\)$/.exec(text)?.[1];
    expect(id).toBeDefined();
    expect(lines.join('\n')).toContain(id!);
    expect(lines.join('\n')).toContain('TOPSECRET');
  });

  test('an exposed message passes without paths or stack lines', () => {
    const err = Object.assign(
      new Error('model file not found: /srv/models/x/model.json\n    at load (/srv/app/x.js:1:2)'),
      { expose: true },
    );
    const text = publicMessage(err, { error: () => undefined });
    expect(text).toBe('model file not found: <path>');
    expect(scrubText('see file:///etc/passwd and "/work/x" or ../../etc/y')).toBe(
      'see <path> and "<path>" or <path>',
    );
  });
});

describe('request preflight', () => {
  const limits = { maxQueryTokens: 3000, maxQueryFields: 200, maxExpensivePerRequest: 1 };
  test.each([
    [
      '1e999 in a literal',
      '{ prompts(first: 1) { totalCount } } mutation { createPrompt(input: { generator: "g", controls: [{ control: "c", weight: 1e999 }] }) { userErrors { code } } }',
      undefined,
      'BAD_USER_INPUT',
    ],
    ['Infinity in variables', 'query($x: Float) { __typename }', { x: Infinity }, 'BAD_USER_INPUT'],
    ['NUL in a variable key', 'query($p: JSON) { __typename }', { p: { 'a\u0000': 1 } }, 'BAD_USER_INPUT'],
    [
      'a fragment with two createPrompt',
      'mutation { ...F } fragment F on Mutation { a: createPrompt(input: $i) { __typename } b: createPrompt(input: $i) { __typename } }',
      undefined,
      'TOO_MANY_MUTATIONS',
    ],
    [
      'too many fields through fragments',
      `{ ...F } fragment F on Query { ${'__typename '.repeat(201)} }`,
      undefined,
      'TOO_MANY_FIELDS',
    ],
  ])('%s → %s', (_what, query, variables, code) => {
    expect(preflight(query, variables, limits).error?.extensions.code).toBe(code);
  });

  test('a normal query passes; a plain syntax error is left to the parser that reports it', () => {
    expect(preflight('{ generators { id name } }', {}, limits)).toMatchObject({
      error: null,
      document: expect.anything(),
    });
    expect(preflight('{ generators { id ', {}, limits)).toEqual({ document: null, error: null });
  });
});
