/**
 * Client params cannot make the server read files or fetch URLs: paths and URLs outside the
 * allowed locations are refused at createPrompt, and a training failure on an allowed but wrong
 * file shows a masked error, never the file's contents.
 */
import * as path from 'node:path';
import {
  server,
  secretDir,
  secretFile,
  allowedDir,
  useHostileServer,
  gql,
  expectClean,
  CREATE,
  clipInput,
  promptCount,
} from './setup';

useHostileServer();

describe('client params cannot make the server read files or fetch URLs', () => {
  test('paths and URLs outside the allowed locations are refused at createPrompt, on the field, and nothing is queued', async () => {
    const before = await promptCount();
    const attempts: Array<[string, string]> = [
      ['vocabulary', secretFile],
      ['vocabulary', 'file://' + secretFile],
      ['vocabulary', '../../../../../../../../' + secretFile],
      ['vocabulary', path.join(allowedDir, '..', path.basename(secretDir), 'admin-token')],
      ['textEncoder', `${server.url}/healthz`],
      ['imageEncoder', 'http://169.254.169.254/latest/meta-data/'],
      ['textEncoder', '/etc/passwd'],
    ];
    for (const [field, value] of attempts) {
      const r = await gql(CREATE, { input: clipInput({ [field]: value }) });
      expectClean(r);
      expect(r.body.data.createPrompt.prompt).toBeNull();
      expect(r.body.data.createPrompt.userErrors).toContainEqual(
        expect.objectContaining({ field: ['controls', '0', 'params', field], code: 'FORBIDDEN_ASSET' }),
      );
    }
    expect(await promptCount()).toBe(before);
  });

  test('a training failure on an allowed but wrong file shows a masked error, never its contents', async () => {
    const r = await gql(CREATE, {
      input: clipInput({ vocabulary: path.join(allowedDir, 'not-a-vocab.txt') }),
    });
    expectClean(r);
    const id = r.body.data.createPrompt.prompt.id;
    let prompt: any;
    for (let i = 0; i < 120; i++) {
      const q = await gql('query($id: ID!) { prompt(id: $id) { status error } }', { id });
      prompt = q.body.data.prompt;
      if (prompt.status === 'FAILED' || prompt.status === 'SUCCEEDED') break;
      await new Promise((res) => setTimeout(res, 500));
    }
    expect(prompt.status).toBe('FAILED');
    expect(prompt.error).toMatch(/^training failed: internal error \(id [0-9a-f]{12}\)$/);
    const errorId = /id ([0-9a-f]{12})/.exec(prompt.error)![1];
    expect(server.proc.output()).toContain(`internal error ${errorId}`);
  }, 90_000);
});
