/**
 * Errors are the client's, coded, never 500: bad Int and Float variables, NUL bytes, deep params,
 * a malformed cursor, and bad operations over graphql-ws (the socket stays open).
 */
import { useHostileServer, post, gql, expectClean, CREATE, wsSession, wsErrors } from './setup';

useHostileServer();

describe("errors are the client's, coded, never 500", () => {
  test.each(['2147483648', '1.5', '"1"', 'true', '[]', '1e999'])(
    'Int variable %s → HTTP 400 BAD_USER_INPUT',
    async (raw) => {
      const r = await post(
        `{"query":"query($n: Int) { prompts(first: $n) { totalCount } }","variables":{"n":${raw}}}`,
      );
      expect(r.status).toBe(400);
      expect(r.body.errors[0].extensions.code).toBe('BAD_USER_INPUT');
      expectClean(r);
    },
  );

  test.each(['"1"', 'true', '[]', '{}', '1e999'])(
    'Float variable %s → HTTP 400 BAD_USER_INPUT',
    async (raw) => {
      const r = await post(
        `{"query":"mutation($t: Float) { sample(input: { generator: \\"mnist\\", truncation: $t }) { userErrors { code } } }","variables":{"t":${raw}}}`,
      );
      expect(r.status).toBe(400);
      expect(r.body.errors[0].extensions.code).toBe('BAD_USER_INPUT');
    },
  );

  test('NUL bytes, deep params, a malformed cursor, a subscription over HTTP: coded client errors', async () => {
    const nul = await gql('query($id: ID!) { prompt(id: $id) { id } }', { id: 'a\u0000b' });
    expect([nul.status, nul.body.errors[0].extensions.code]).toEqual([400, 'BAD_USER_INPUT']);
    // Written by hand: JSON.stringify itself runs out of stack on 5,000 levels.
    const deep = '{"a":'.repeat(5000) + '1' + '}'.repeat(5000);
    const d = await post(
      `{"query":${JSON.stringify(CREATE)},"variables":{"input":{"generator":"mnist","controls":[{"control":"mnist-digit","params":${deep}}]}}}`,
    );
    expect([d.status, d.body.errors[0].extensions.code]).toEqual([400, 'BAD_USER_INPUT']);
    const cursor = await gql('{ prompts(first: 2, after: "not-a-cursor") { totalCount } }');
    expectClean(cursor);
    const sub = await gql('subscription { trainingProgress(promptId: "x") { step } }');
    expect([sub.status, sub.body.errors[0].extensions.code]).toEqual([400, 'BAD_REQUEST']);
    // An automatic persisted query the server has not seen: Apollo's own code, listed in ErrorCode too.
    const apq = await post(
      JSON.stringify({ extensions: { persistedQuery: { version: 1, sha256Hash: 'ab'.repeat(32) } } }),
    );
    expect(apq.body.errors[0].extensions.code).toBe('PERSISTED_QUERY_NOT_FOUND');
    expectClean(apq);
  });

  test('over graphql-ws: an unknown operationName and bad variables are coded errors, and the socket stays open', async () => {
    const s = await wsSession();
    try {
      const unknown = await s.send('query A { generators { id } }', undefined, 'Nope');
      expect(wsErrors(unknown.messages)[0].extensions.code).toBe('OPERATION_RESOLUTION_FAILURE');
      const vars = await s.send('query($n: Int) { prompts(first: $n) { totalCount } }', { n: 2 ** 31 });
      expect(wsErrors(vars.messages)[0].extensions.code).toBe('BAD_USER_INPUT');
      const ok = await s.send('{ generators { name } }');
      expect(ok.messages[0].payload.data.generators.length).toBeGreaterThan(0);
      expect(s.closed()).toBeNull();
    } finally {
      s.close();
    }
  });
});
