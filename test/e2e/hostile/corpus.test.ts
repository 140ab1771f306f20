/**
 * A seeded corpus of ≥ 1,000 bad operations over HTTP and WebSocket: every answer < 500, coded,
 * free of server paths, SQL, stack lines and the secret; nothing queued; a normal query still
 * answered afterwards.
 */
import { ADMIN_TOKEN } from '../../helpers/server';
import { Rng } from '../../../src/engine/rng';
import {
  secretFile,
  RATE_LIMIT,
  useHostileServer,
  post,
  gql,
  problemsOf,
  KNOWN_CODES,
  CREATE,
  clipInput,
  promptCount,
  wsSession,
  wsErrors,
} from './setup';

useHostileServer();

interface BadOp {
  kind: string;
  /** Raw JSON body (HTTP) */
  body?: string;
  query?: string;
  variables?: unknown;
  operationName?: string;
  admin?: boolean;
}

function nested(depth: number): unknown {
  let v: unknown = 'x';
  for (let i = 0; i < depth; i++) v = i % 2 ? [v] : { a: v };
  return v;
}

/** Seeded bad operations: each kind a different way to be wrong. */
function corpus(seed: number, n: number): BadOp[] {
  const rand = new Rng(seed).uniform(); // the engine's seeded generator
  const pick = <T>(xs: T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const int = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));
  const badNumbers: string[] = [
    '2147483648',
    '-2147483649',
    '1.5',
    '"1"',
    'true',
    '[]',
    '{}',
    '1e999',
    '-1e999',
    'null',
    '"NaN"',
    '9007199254740993',
  ];
  const badFloats: string[] = ['"1"', 'true', '[]', '{}', '1e999', '"Infinity"'];
  const garbage = () => Array.from({ length: int(1, 60) }, () => String.fromCharCode(int(32, 126))).join('');
  const makers: Array<() => BadOp> = [
    () => ({
      kind: 'int-var',
      body: `{"query":"query($n: Int) { prompts(first: $n) { totalCount } }","variables":{"n":${pick(badNumbers)}}}`,
    }),
    () => ({
      kind: 'float-var',
      body:
        '{"query":"mutation($w: Float) { createPrompt(input: { generator: \\"mnist\\", ' +
        'controls: [{ control: \\"mnist-digit\\", weight: $w, params: { classes: [7] } }] }) { userErrors { code } } }",' +
        `"variables":{"w":${pick(badFloats)}}}`,
    }),
    () => ({
      kind: 'sample-count',
      body: `{"query":"mutation($c: Int) { sample(input: { generator: \\"mnist\\", count: $c }) { userErrors { code } } }","variables":{"c":${pick([...badNumbers, '0', '-5', '100000'])}}}`,
    }),
    () => ({
      kind: 'training-var',
      body:
        '{"query":"mutation($s: Int, $lr: Float) { createPrompt(input: { generator: \\"mnist\\", ' +
        'controls: [{ control: \\"mnist-digit\\", params: { classes: [7] } }], ' +
        'training: { steps: $s, learningRate: $lr } }) { userErrors { code } } }",' +
        `"variables":{"s":${pick(['0', '-1', '99999999', ...badNumbers])},` +
        `"lr":${pick(['0', '-1', '1e-320', '5e-324', '2', ...badFloats])}}}`,
    }),
    () => ({ kind: 'garbage-query', query: garbage() }),
    () => ({
      kind: 'unknown-field',
      query: `{ ${pick(['generatorz', 'prompts { nope }', 'controls { paramsSchema { x } }', '__typename @nope'])} }`,
    }),
    () => ({ kind: 'nul-literal', query: `{ generator(id: "mn\\u0000ist") { id } }` }),
    () => ({
      kind: 'nul-var',
      query: 'query($id: ID!) { prompt(id: $id) { id } }',
      variables: { id: `abc\u0000${int(0, 99)}` },
    }),
    () => ({
      kind: 'nul-params',
      query: CREATE,
      variables: {
        input: {
          generator: 'mnist',
          controls: [{ control: 'mnist-digit', params: { classes: [7], ['k\u0000']: 1 } }],
        },
      },
    }),
    () => ({
      kind: 'deep-params',
      query: CREATE,
      variables: {
        input: { generator: 'mnist', controls: [{ control: 'mnist-digit', params: nested(int(33, 3000)) }] },
      },
    }),
    () => ({
      kind: 'bad-id',
      query: 'query($id: ID!) { prompt(id: $id) { id status } }',
      variables: { id: pick([garbage(), 'UHJvbXB0Om5vcGU=', '', 'x'.repeat(5000), '%%%', '../../etc']) },
    }),
    () => ({
      kind: 'bad-cursor',
      query: `query($c: String) { prompts(first: 2, after: $c) { totalCount nodes { id } } }`,
      variables: { c: pick([garbage(), 'Y3Vyc29yOjE=', '-1', 'eyJ4IjoxfQ==', '\u00ff\u00fe']) },
    }),
    () => ({
      kind: 'subscription-over-http',
      query: 'subscription($id: ID!) { trainingProgress(promptId: $id) { step } }',
      variables: { id: garbage() },
    }),
    () => ({
      kind: 'unknown-operation',
      query: 'query A { generators { id } } query B { controls { name } }',
      operationName: pick(['C', '', 'a', garbage()]),
    }),
    () => ({
      kind: 'no-operation-name',
      query: 'query A { generators { id } } query B { controls { name } }',
    }),
    () => ({
      kind: 'alias-flood',
      query: `{ ${Array.from({ length: int(16, 60) }, (_, i) => `a${i}: __typename`).join(' ')} }`,
    }),
    () => ({
      kind: 'directive-flood',
      query: `{ generators { id ${'@include(if: true) '.repeat(int(21, 200))} } }`,
    }),
    () => ({ kind: 'field-flood', query: `{ generators { ${'name '.repeat(int(201, 900))}} }` }),
    () => ({ kind: 'token-flood', query: `{ ${'__typename '.repeat(int(3001, 20000))}}` }),
    () => ({
      kind: 'deep-query',
      query: `{ prompts { nodes { generator { plugin { generators { plugin { generators { plugin { generators { plugin { generators { plugin { generators { id } } } } } } } } } } } } }`,
    }),
    () => {
      const pair = (i: number) =>
        `m${i}: cancelPrompt(input: { id: "x" }) { userErrors { code } } ` +
        `s${i}: sample(input: { generator: "mnist", count: 256 }) { userErrors { code } }`;
      return {
        kind: 'expensive-aliases',
        query: `mutation { ${Array.from({ length: int(2, 8) }, (_, i) => pair(i)).join(' ')} }`,
      };
    },
    () => ({
      kind: 'asset-param',
      query: CREATE,
      variables: {
        input: clipInput({
          [pick(['vocabulary', 'textEncoder', 'imageEncoder'])]: pick([
            secretFile,
            'file://' + secretFile,
            '/etc/shadow',
            'http://127.0.0.1:1/',
            '../'.repeat(int(1, 12)) + 'etc/passwd',
            'data:,x',
          ]),
        }),
      },
    }),
    () => ({
      kind: 'bad-weight',
      query: CREATE,
      variables: {
        input: {
          generator: 'mnist',
          controls: [
            {
              control: 'mnist-digit',
              weight: pick([0, -1, 1e-320, 5e-324, 1e7, 1e308]),
              params: { classes: [7] },
            },
          ],
        },
      },
    }),
    () => ({
      kind: 'bad-params',
      query: CREATE,
      variables: {
        input: {
          generator: pick(['mnist', 'nope', '']),
          controls: [
            {
              control: pick(['mnist-digit', 'nope', 'classifier', 'debias']),
              params: pick([{ classes: [99] }, { classes: 'x' }, [], 'str', 42, { extra: true }]),
            },
          ],
        },
      },
    }),
    () => ({
      kind: 'too-many-controls',
      query: CREATE,
      variables: {
        input: {
          generator: 'mnist',
          controls: Array.from({ length: int(17, 40) }, () => ({
            control: 'mnist-digit',
            params: { classes: [1] },
          })),
        },
      },
    }),
    () => ({
      kind: 'sample-floats',
      query:
        'mutation($t: Float, $c: [Float!]) { sample(input: { generator: "mnist", truncation: $t, condition: $c }) { userErrors { code } } }',
      variables: { t: pick([0, -1, 1e-320, 5, 1e308]), c: pick([[1e308], [], Array(5000).fill(1)]) },
    }),
    () => ({
      kind: 'install-anonymous',
      query: 'mutation($s: String!) { installPlugin(input: { spec: $s }) { userErrors { code } } }',
      variables: { s: pick(['-g', 'left-pad', '/etc']) },
    }),
    () => ({
      kind: 'install-option-spec',
      admin: true,
      query:
        'mutation($s: String!) { installPlugin(input: { spec: $s }) { plugin { name } userErrors { code message } } }',
      variables: {
        s: pick([
          '-g',
          '--global',
          '--registry=http://127.0.0.1:1',
          '-ddd',
          'github:x/y',
          'git+https://x/y.git',
          'x/y',
          'a\nb',
          ' --prefix=/ ',
        ]),
      },
    }),
    () => ({
      kind: 'uninstall-anonymous',
      query: 'mutation { uninstallPlugin(input: { name: "@promptgen/mnist" }) { removed } }',
    }),
    () => ({
      kind: 'wrong-types',
      query: `{ prompts(first: ${pick(['"1"', 'true', '1.5', '2147483648', '[1]', '{a:1}'])}) { totalCount } }`,
    }),
    () => ({
      kind: 'huge-string',
      query: CREATE,
      variables: {
        input: {
          name: 'n'.repeat(int(201, 50000)),
          generator: 'mnist',
          controls: [{ control: 'mnist-digit', params: { classes: [7] } }],
        },
      },
    }),
    () => ({
      kind: 'not-json',
      body: pick([
        '{',
        '[]',
        '[{"query":"{ __typename }"},{"query":"{ __typename }"}]',
        'null',
        '"x"',
        '{"query": 5}',
        '{"query": {"a":1}}',
        '{"variables": []}',
      ]),
    }),
  ];
  return Array.from({ length: n }, () => pick(makers)());
}

describe('hostile-input corpus', () => {
  test('≥ 1,000 seeded bad operations over HTTP and WebSocket: no 5xx, all coded, no leaks, nothing queued, still answering', async () => {
    const before = await promptCount();
    const ops = corpus(12, 700);
    const problems: string[] = [];
    const kinds = new Map<string, number>();
    const startedAt = Date.now();

    // HTTP: all of them, four at a time.
    let nextOp = 0;
    const httpOne = async (op: BadOp) => {
      kinds.set(op.kind, (kinds.get(op.kind) ?? 0) + 1);
      const headers: Record<string, string> = op.admin ? { authorization: `Bearer ${ADMIN_TOKEN}` } : {};
      const a =
        op.body !== undefined
          ? await post(op.body, headers)
          : await gql(
              op.query!,
              op.variables,
              op.operationName !== undefined ? { operationName: op.operationName } : {},
              headers,
            );
      if (a.body === null) problems.push(`${op.kind}: not JSON (HTTP ${a.status}): ${a.text.slice(0, 100)}`);
      for (const p of problemsOf({ status: a.status, text: a.text, errors: a.body?.errors }))
        problems.push(`${op.kind} (HTTP): ${p}`);
      for (const ue of [...(a.body?.data ? Object.values(a.body.data) : [])].flatMap(
        (v: any) => v?.userErrors ?? [],
      )) {
        if (typeof ue.code !== 'string') problems.push(`${op.kind}: uncoded userError`);
        else if (!KNOWN_CODES.has(ue.code))
          problems.push(`${op.kind}: userError code outside ErrorCode: ${ue.code}`);
      }
    };
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        while (nextOp < ops.length) await httpOne(ops[nextOp++]!);
      }),
    );
    const httpSeconds = (Date.now() - startedAt) / 1000;

    // WebSocket: the ones that are operations (raw bodies are an HTTP matter), on few sockets.
    let s = await wsSession();
    let wsCount = 0;
    for (const op of ops.filter((o) => o.query !== undefined && !o.admin).slice(0, 350)) {
      const { messages, text } = await s.send(op.query!, op.variables, op.operationName);
      wsCount += 1;
      for (const p of problemsOf({ text, errors: wsErrors(messages) }))
        problems.push(`${op.kind} (ws): ${p}`);
      const closed = s.closed();
      if (closed) {
        problems.push(`${op.kind} (ws): socket closed ${closed.code} ${closed.reason}`);
        s = await wsSession();
      }
    }
    s.close();

    expect(ops.length + wsCount).toBeGreaterThanOrEqual(1000);
    expect(kinds.size).toBeGreaterThanOrEqual(30);
    expect(problems.slice(0, 20)).toEqual([]);
    expect(await promptCount()).toBe(before);

    // Still answering, and an anonymous client that spent its budget is told so, coded.
    const ok = await gql('{ generators { name } }');
    expect(ok.status).toBe(200);
    expect(ok.body.data.generators.map((g: any) => g.name)).toContain('mnist');
    // The corpus spent most of the bucket; on a slow machine some refilled meanwhile, so spend the rest.
    let codes: string[] = [];
    for (let i = 0; i <= RATE_LIMIT && !codes.includes('RATE_LIMITED'); i++) {
      const r = await gql(CREATE, {
        input: {
          generator: 'no-such-generator',
          controls: [{ control: 'mnist-digit', params: { classes: [7] } }],
        },
      });
      codes = r.body.data.createPrompt.userErrors.map((e: any) => e.code);
    }
    expect(codes).toEqual(['RATE_LIMITED']);
    // Reported, not asserted: the figure depends on the machine's load (README, Security).
    process.stderr.write(
      `hostile corpus: ${ops.length} over HTTP in ${httpSeconds.toFixed(1)} s, ${wsCount} over graphql-ws, ${((Date.now() - startedAt) / 1000).toFixed(1)} s in all\n`,
    );
  }, 180_000);
});
