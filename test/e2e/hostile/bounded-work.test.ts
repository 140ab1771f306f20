/**
 * Work is bounded before validation: oversized and overlapping-field requests over HTTP and
 * graphql-ws, alias floods of expensive mutations, the complexity limit, and the queue depth.
 */
import { getIntrospectionQuery } from 'graphql';
import { useHostileServer, gql, expectClean, CREATE, promptCount, wsSession, wsErrors } from './setup';

useHostileServer();

describe('work is bounded before validation', () => {
  const big = (kb: number) => `{ generators { ${'id '.repeat(Math.ceil((kb * 1024) / 3))}} }`;

  test.each([48, 300])(
    '{ generators { id id … } } of %i kB is refused in well under a second over HTTP',
    async (kb) => {
      const started = Date.now();
      const r = await gql(big(kb));
      const ms = Date.now() - started;
      expect(r.status).toBe(400);
      expect(r.body.errors[0].extensions.code).toBe('QUERY_TOO_LARGE');
      expect(ms).toBeLessThan(500);
    },
  );

  test('the same over graphql-ws, and the socket stays open', async () => {
    const s = await wsSession();
    try {
      for (const kb of [48, 300]) {
        const started = Date.now();
        const { messages } = await s.send(big(kb));
        expect(Date.now() - started).toBeLessThan(500);
        expect(wsErrors(messages)[0].extensions.code).toBe('QUERY_TOO_LARGE');
      }
      const fields = await s.send(`{ generators { ${'id '.repeat(300)}} }`);
      expect(wsErrors(fields.messages)[0].extensions.code).toBe('TOO_MANY_FIELDS');
      expect(s.closed()).toBeNull();
    } finally {
      s.close();
    }
  });

  test('aliased expensive mutations are refused as a whole; many aliases are refused', async () => {
    const before = await promptCount();
    const valid =
      '{ generator: "mnist", controls: [{ control: "mnist-digit", params: { classes: [7] } }], training: { steps: 5 } }';
    const fifty = `mutation { ${Array.from({ length: 50 }, (_, i) => `a${i}: createPrompt(input: ${valid}) { prompt { id } }`).join(' ')} }`;
    const r = await gql(fifty);
    expectClean(r);
    expect(r.status).toBe(400);
    expect(r.body.errors[0].extensions.code).toBe('TOO_MANY_MUTATIONS');
    const two = await gql(
      `mutation { a: createPrompt(input: ${valid}) { prompt { id } } b: createPrompt(input: ${valid}) { prompt { id } } }`,
    );
    expect(two.body.errors[0].extensions.code).toBe('TOO_MANY_MUTATIONS');
    const samples = await gql(
      `mutation { ${Array.from({ length: 10 }, (_, i) => `s${i}: sample(input: { generator: "mnist", count: 256 }) { sampleSet { id } }`).join(' ')} }`,
    );
    expect(samples.body.errors[0].extensions.code).toBe('TOO_MANY_MUTATIONS');
    const aliases = await gql(
      `{ ${Array.from({ length: 40 }, (_, i) => `g${i}: generators { id }`).join(' ')} }`,
    );
    expect(aliases.status).toBe(400);
    expect(aliases.body.errors[0].message).toMatch(/Aliases limit/);
    expect(await promptCount()).toBe(before);
  });

  test('the standard introspection query passes the complexity limit', async () => {
    const r = await gql(getIntrospectionQuery());
    expect(r.status).toBe(200);
    expect(r.body.errors).toBeUndefined();
    expect(r.body.data.__schema.queryType.name).toBe('Query');
  });

  test('QUEUE_FULL once QUEUED + TRAINING prompts reach the limit', async () => {
    const input = {
      generator: 'mnist',
      controls: [{ control: 'mnist-digit', params: { classes: [7] } }],
      training: { steps: 20000, previewEvery: 0 },
    };
    const ids: string[] = [];
    for (let i = 0; i < 2; i++) {
      const r = await gql(CREATE, { input });
      expect(r.body.data.createPrompt.userErrors).toEqual([]);
      ids.push(r.body.data.createPrompt.prompt.id);
    }
    const before = await promptCount();
    const full = await gql(CREATE, { input });
    expect(full.body.data.createPrompt).toEqual({
      prompt: null,
      userErrors: [expect.objectContaining({ code: 'QUEUE_FULL', field: [] })],
    });
    expect(await promptCount()).toBe(before);
    for (const id of ids)
      await gql('mutation($id: ID!) { cancelPrompt(input: { id: $id }) { userErrors { code } } }', { id });
  });
});
