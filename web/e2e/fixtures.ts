/** The tests' shared parts: the server's URL as baseURL, a GraphQL helper for setup, screenshots into docs/. */
import { test as base, expect, type Page } from '@playwright/test';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
/**
 * The README's Studio screenshots are these tests' pages. A plain run writes them under
 * web/test-results/ (ignored), so running the tests leaves the tree clean; with
 * PROMPTGEN_UPDATE_SCREENSHOTS=1 they replace the committed ones in docs/images/studio.
 */
export const SCREENSHOTS =
  process.env.PROMPTGEN_UPDATE_SCREENSHOTS === '1'
    ? path.join(repoRoot, 'docs/images/studio')
    : path.join(repoRoot, 'web/test-results/screenshots');

export const test = base.extend<object>({
  // Playwright reads a fixture's dependencies from its first parameter, which must be a pattern.
  // eslint-disable-next-line no-empty-pattern
  baseURL: async ({}, use) => use(process.env.STUDIO_URL),
});
export { expect };

export async function gql<T = any>(
  query: string,
  variables: Record<string, unknown> = {},
  admin = false,
): Promise<{ data?: T; errors?: any[] }> {
  const res = await fetch(`${process.env.STUDIO_URL}/graphql`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(admin ? { authorization: `Bearer ${process.env.STUDIO_ADMIN_TOKEN}` } : {}),
    },
    body: JSON.stringify({ query, variables }),
  });
  return res.json();
}

/** Small, fast training: enough steps for curves and previews, little CPU. */
export const QUICK = { steps: 40, batchSize: 8, flowBlocks: 2, hiddenUnits: 32, previewEvery: 10 };

export async function createPrompt(name: string, training: Record<string, number>): Promise<string> {
  const res = await gql(
    `mutation($input: CreatePromptInput!) { createPrompt(input: $input) { prompt { id } userErrors { field message } } }`,
    {
      input: {
        name,
        generator: 'mnist',
        controls: [{ control: 'mnist-digit', weight: 100, params: { classes: [7] } }],
        training,
      },
    },
  );
  expect(res.data?.createPrompt.userErrors).toEqual([]);
  return res.data.createPrompt.prompt.id;
}

export async function promptStatus(id: string): Promise<string> {
  return (await gql(`query($id: ID!) { prompt(id: $id) { status } }`, { id })).data.prompt.status;
}

export async function waitForStatus(id: string, statuses: string[], timeoutMs = 180_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const status = await promptStatus(id);
    if (statuses.includes(status)) return status;
    if (Date.now() > deadline) throw new Error(`prompt ${id} is still ${status} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

export async function promptCount(): Promise<number> {
  return (await gql('{ prompts { totalCount } }')).data.prompts.totalCount;
}

export async function cancelIfActive(id: string): Promise<void> {
  await gql(`mutation($id: ID!) { cancelPrompt(input: { id: $id }) { prompt { status } } }`, { id });
}

export async function screenshot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`), fullPage: true });
}

/** Every <img> under the locator has decoded (natural width > 0). */
export async function imagesLoaded(page: Page, selector: string): Promise<number[]> {
  return page.$$eval(selector, (imgs) => (imgs as HTMLImageElement[]).map((i) => i.naturalWidth));
}
