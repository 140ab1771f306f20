/**
 * The Studio driven as a person would, in headless Chromium against a real
 * server (embedded database, bundled mnist plugin, one training worker).
 */
import * as path from 'node:path';
import {
  QUICK,
  cancelIfActive,
  createPrompt,
  expect,
  gql,
  imagesLoaded,
  promptCount,
  repoRoot,
  screenshot,
  test,
  waitForStatus,
} from './fixtures';

test('1. compose "digit 7" through the form, watch it train to the end, see curves, previews and metrics', async ({
  page,
}) => {
  await page.goto('/compose');
  await page.getByLabel('Generator', { exact: true }).selectOption('mnist');
  await page.getByLabel('Name (optional)').fill('digit 7');
  await page.getByRole('button', { name: 'Add control term' }).click();
  await page.getByLabel('Control', { exact: true }).selectOption('mnist-digit');
  await page.getByLabel('λ exact').fill('100');
  // The params form comes from the control's JSON Schema, with its default (classes [7]).
  await expect(page.locator('#term0-params_classes_0')).toHaveValue('7');
  // Longer than the other tests' trainings: its screenshots are the README's.
  const training = { steps: 120, batchSize: 16, flowBlocks: 4, hiddenUnits: 64, previewEvery: 30 };
  for (const [key, value] of Object.entries(training))
    await page.locator(`#training-${key}`).fill(String(value));
  await screenshot(page, '1-compose');
  await page.getByRole('button', { name: 'Start training' }).click();

  await expect(page).toHaveURL(/\/prompts\/[^/]+$/);
  const id = decodeURIComponent(page.url().split('/').pop()!);
  await expect(page.getByRole('heading', { level: 1 })).toContainText('digit 7');
  await expect(page.getByTestId('status').first()).toHaveText('SUCCEEDED', { timeout: 180_000 });
  // The progress bar reached the end.
  const progress = page.getByTestId('progress');
  await expect(progress).toHaveAttribute('max', String(training.steps));
  await expect(progress).toHaveAttribute('value', String(training.steps));
  // The curve has points, one per reported step.
  const points = Number(await page.getByTestId('curves').getAttribute('data-points'));
  expect(points).toBeGreaterThan(0);
  await expect(page.locator('.curves canvas')).toBeVisible();
  // Preview batches were streamed and stored: at least one preview image has loaded.
  const preview = page.locator('.gallery figure', { hasText: 'Preview at step' }).first();
  await expect(preview).toBeVisible();
  await expect
    .poll(async () => Math.max(0, ...(await imagesLoaded(page, '.gallery figure img'))))
    .toBeGreaterThan(0);
  // Metrics of the finished prompt, as a table.
  const metrics = page.getByTestId('metrics');
  await expect(metrics).toContainText('mnist-digit');
  await expect(metrics.locator('tbody tr')).not.toHaveCount(0);
  const stored = (await gql(`query($id: ID!) { prompt(id: $id) { status metrics } }`, { id })).data.prompt;
  expect(stored.status).toBe('SUCCEEDED');
  expect(stored.metrics.controls[0].control).toBe('mnist-digit');
  await screenshot(page, '1-trained');
});

test('2. sampling with seed 1 twice gives the same images; before/after shows both grids', async ({
  page,
}) => {
  const id = await createPrompt('sevens for sampling', { ...QUICK, previewEvery: 0 });
  await waitForStatus(id, ['SUCCEEDED']);
  await page.goto(`/prompts/${id}`);
  await expect(page.getByTestId('status').first()).toHaveText('SUCCEEDED');
  await page.getByLabel('Count').fill('6');
  await page.getByLabel('Seed', { exact: true }).fill('1');

  const latest = page.getByTestId('latest-sample');
  await page.getByRole('button', { name: 'Sample', exact: true }).click();
  await expect(latest.locator('img')).toHaveCount(6);
  const first = await latest.getAttribute('data-sample-set-id');
  const firstUrls = await latest
    .locator('img')
    .evaluateAll((imgs) => (imgs as HTMLImageElement[]).map((i) => i.src));
  await page.getByRole('button', { name: 'Sample', exact: true }).click();
  await expect(latest).not.toHaveAttribute('data-sample-set-id', first!);
  const secondUrls = await latest
    .locator('img')
    .evaluateAll((imgs) => (imgs as HTMLImageElement[]).map((i) => i.src));
  expect(secondUrls).toHaveLength(6);
  expect(secondUrls).not.toEqual(firstUrls); // two stored sets ...
  for (let i = 0; i < 6; i++) {
    const [a, b] = await Promise.all([page.request.get(firstUrls[i]!), page.request.get(secondUrls[i]!)]);
    expect(a.headers()['content-type']).toBe('image/png');
    expect(Buffer.compare(await a.body(), await b.body())).toBe(0); // ... with the same pictures
  }

  await page.getByRole('button', { name: 'Before / after' }).click();
  const before = page.getByTestId('before');
  const after = page.getByTestId('after');
  await expect(before.locator('img')).toHaveCount(6);
  await expect(after.locator('img')).toHaveCount(6);
  await expect(before).toContainText('base generator mnist');
  await expect
    .poll(async () => Math.min(...(await imagesLoaded(page, '[data-testid=before-after] img'))))
    .toBeGreaterThan(0);
  // The after grid is this prompt on the same seed: the same pictures as the samples above.
  const afterUrls = await after
    .locator('img')
    .evaluateAll((imgs) => (imgs as HTMLImageElement[]).map((i) => i.src));
  const [x, y] = await Promise.all([page.request.get(afterUrls[0]!), page.request.get(firstUrls[0]!)]);
  expect(Buffer.compare(await x.body(), await y.body())).toBe(0);
  await expect(page.getByRole('link', { name: 'Stack a prompt on this one' })).toBeVisible();
  await screenshot(page, '2-before-after');
});

test('3. a bad param (class 12) shows the server message at that field and queues nothing', async ({
  page,
}) => {
  const before = await promptCount();
  await page.goto('/compose');
  await page.getByRole('button', { name: 'Add control term' }).click();
  await page.getByLabel('Control', { exact: true }).selectOption('mnist-digit');
  // Left empty, steps is the server's default: 500, or 1,500 once a conditional control joins.
  await expect(page.locator('#training-steps')).toHaveAttribute('placeholder', '500');
  await page.getByRole('button', { name: 'Add control term' }).click();
  await page.getByLabel('Control', { exact: true }).nth(1).selectOption('face-pose');
  await expect(page.locator('#training-steps')).toHaveAttribute('placeholder', '1500');
  await page.getByRole('button', { name: 'Remove term 2' }).click();
  await expect(page.locator('#training-steps')).toHaveAttribute('placeholder', '500');
  const classField = page.locator('#term0-params_classes_0');
  await classField.fill('12');
  await page.getByRole('button', { name: 'Start training' }).click();

  // The server's own words, from the same input sent over the API.
  const direct = await gql(
    `mutation { createPrompt(input: { generator: "mnist", controls: [{ control: "mnist-digit", params: { classes: [12] } }] }) { prompt { id } userErrors { field message } } }`,
  );
  const [serverError] = direct.data.createPrompt.userErrors;
  expect(serverError.field).toEqual(['controls', '0', 'params', 'classes', '0']);
  // Shown inside the form group of that very input, not somewhere else.
  const group = page.locator('.form-group', { has: classField }).last();
  await expect(group).toContainText(serverError.message);
  await expect(page).toHaveURL(/\/compose$/);
  expect(await promptCount()).toBe(before);
  await screenshot(page, '3-bad-param');
});

test('4. admin: install is refused without the token; with it the fixture plugin installs, shows in the catalog, and uninstalls', async ({
  page,
}) => {
  const spec = path.join(repoRoot, 'test/fixtures/plugins/good');
  await page.goto('/admin');
  await expect(page.getByTestId('token-state')).toContainText('No token');
  await page.getByLabel('npm spec, directory or .tgz path').fill(spec);
  await page.getByRole('button', { name: 'Install', exact: true }).click();
  const refused = await gql(
    `mutation($spec: String!) { installPlugin(input: { spec: $spec }) { plugin { name } } }`,
    { spec },
  );
  expect(refused.errors[0].extensions.code).toBe('FORBIDDEN');
  const outcome = page.getByTestId('admin-outcome');
  await expect(outcome).toHaveText(`FORBIDDEN: ${refused.errors[0].message}`);
  expect((await gql('{ generators { name } }')).data.generators.map((g: any) => g.name)).not.toContain(
    'example-pattern',
  );
  await screenshot(page, '4-admin-forbidden');

  await page.getByLabel('Token', { exact: true }).fill(process.env.STUDIO_ADMIN_TOKEN!);
  await page.getByRole('button', { name: 'Use token' }).click();
  await expect(page.getByTestId('token-state')).toContainText('A token is set');

  // A failed install shows the server's message.
  const missing = '/nonexistent/promptgen-plugin.tgz';
  const failed = await gql(
    `mutation($spec: String!) { installPlugin(input: { spec: $spec }) { userErrors { message code } } }`,
    { spec: missing },
    true,
  );
  const [installError] = failed.data.installPlugin.userErrors;
  await page.getByLabel('npm spec, directory or .tgz path').fill(missing);
  await page.getByRole('button', { name: 'Install', exact: true }).click();
  await expect(page.getByRole('alert').filter({ hasText: installError.message })).toContainText(
    `${installError.code}: ${installError.message}`,
  );
  await page.getByLabel('npm spec, directory or .tgz path').fill(spec);
  await page.getByRole('button', { name: 'Install', exact: true }).click();
  await expect(outcome).toHaveText('Installed promptgen-plugin-example 1.0.0 (LOADED)', { timeout: 60_000 });
  await expect(page.getByTestId('admin-plugins')).toContainText('promptgen-plugin-example');

  await page.getByRole('link', { name: 'Catalog' }).click();
  const card = page.getByTestId('generator-example-pattern');
  await expect(card).toBeVisible();
  await card.getByRole('button', { name: 'Draw samples' }).click();
  await expect(card.locator('img')).toHaveCount(8);
  await expect
    .poll(async () => Math.min(...(await imagesLoaded(page, '[data-testid=generator-example-pattern] img'))))
    .toBeGreaterThan(0);
  await screenshot(page, '4-catalog-with-plugin');

  await page.getByRole('link', { name: 'Admin' }).click();
  await page.getByRole('button', { name: 'Uninstall promptgen-plugin-example' }).click();
  await page.getByRole('button', { name: 'Yes, uninstall promptgen-plugin-example' }).click();
  await expect(outcome).toHaveText('Uninstalled promptgen-plugin-example');
  await page.getByRole('link', { name: 'Catalog' }).click();
  await expect(page.getByTestId('generator-mnist')).toBeVisible();
  await expect(page.getByTestId('generator-example-pattern')).toHaveCount(0);
});

test('5. cancelling a training prompt shows CANCELLED without a reload', async ({ page }) => {
  const id = await createPrompt('to be cancelled', {
    steps: 20000,
    batchSize: 8,
    flowBlocks: 2,
    hiddenUnits: 32,
    previewEvery: 200,
  });
  try {
    await page.goto(`/prompts/${id}`);
    await expect(page.getByTestId('status').first()).toHaveText('TRAINING', { timeout: 120_000 });
    await page.evaluate(() => ((window as any).__sameDocument = true));
    await page.getByRole('button', { name: 'Cancel training' }).click();
    await expect(page.getByTestId('status').first()).toHaveText('CANCELLED');
    expect(await page.evaluate(() => (window as any).__sameDocument)).toBe(true);
    await expect(page.getByRole('button', { name: 'Cancel training' })).toHaveCount(0);
    expect(await waitForStatus(id, ['CANCELLED'], 10_000)).toBe('CANCELLED');
    await screenshot(page, '5-cancelled');
  } finally {
    await cancelIfActive(id);
  }
});

test('6. reloading the prompt page mid-training brings back its state and curve', async ({ page }) => {
  // Progress is reported every steps/200 steps: 4000 steps give a curve point every 20, and minutes of training.
  const id = await createPrompt('reloaded', {
    steps: 4000,
    batchSize: 8,
    flowBlocks: 2,
    hiddenUnits: 32,
    previewEvery: 40,
  });
  try {
    await page.goto(`/prompts/${id}`);
    await expect(page.getByTestId('status').first()).toHaveText('TRAINING', { timeout: 120_000 });
    const curves = page.getByTestId('curves');
    await expect
      .poll(async () => Number(await curves.getAttribute('data-points')), { timeout: 120_000 })
      .toBeGreaterThanOrEqual(5);
    const stepBefore = Number(await page.getByTestId('step').textContent());
    const pointsBefore = Number(await curves.getAttribute('data-points'));
    expect(stepBefore).toBeGreaterThan(0);

    await page.reload();
    await expect(page.getByTestId('status').first()).toHaveText('TRAINING');
    await expect(page.getByTestId('total-steps')).toHaveText('4000');
    // The curve comes back from the stored history, at least as long as before, and keeps growing live.
    await expect
      .poll(async () => Number(await curves.getAttribute('data-points')))
      .toBeGreaterThanOrEqual(pointsBefore);
    await expect
      .poll(async () => Number(await page.getByTestId('step').textContent()))
      .toBeGreaterThanOrEqual(stepBefore);
    await expect(page.getByTestId('latest-preview').locator('img').first()).toBeVisible();
    await screenshot(page, '6-reloaded-mid-training');

    // The prompts list shows it training, and turns it CANCELLED live when it is cancelled elsewhere.
    await page.getByRole('link', { name: 'Prompts' }).click();
    const row = page.getByTestId(`prompt-row-${id}`);
    await expect(row.getByTestId('status')).toHaveText('TRAINING');
    await page.getByLabel('Status').selectOption('TRAINING');
    await expect(page.getByTestId('prompts-count')).toContainText('1 prompt ');
    await page.getByLabel('Status').selectOption('');
    await expect(row.getByTestId('status')).toHaveText('TRAINING');
    await screenshot(page, '6-prompts-list');
    await cancelIfActive(id);
    await expect(row.getByTestId('status')).toHaveText('CANCELLED');
  } finally {
    await cancelIfActive(id);
    await waitForStatus(id, ['CANCELLED', 'FAILED', 'SUCCEEDED'], 30_000);
  }
});

/** Form controls on the page without an accessible name (label, aria-label, aria-labelledby, title or text). */
async function unlabelled(page: import('@playwright/test').Page): Promise<string[]> {
  return page.$$eval('input, select, textarea, button', (els) =>
    els
      .filter((el) => {
        const e = el as HTMLInputElement;
        if (e.type === 'hidden') return false;
        const named =
          (e.labels?.length ?? 0) > 0 ||
          e.getAttribute('aria-label') ||
          e.getAttribute('aria-labelledby') ||
          e.title ||
          e.textContent?.trim();
        return !named;
      })
      .map((el) => el.outerHTML.slice(0, 120)),
  );
}

test('every page fits a phone screen, names each control, and composes by keyboard alone', async ({
  page,
}) => {
  const id = await createPrompt('phone check', { ...QUICK, previewEvery: 20 });
  await waitForStatus(id, ['SUCCEEDED']);
  await page.setViewportSize({ width: 390, height: 844 });
  for (const url of ['/', '/compose', '/prompts', '/admin', `/prompts/${id}`]) {
    await page.goto(url);
    await expect(page.getByRole('heading', { level: 1 })).toBeVisible();
    if (url === '/compose') await page.getByRole('button', { name: 'Add control term' }).click();
    if (url.startsWith('/prompts/')) await expect(page.getByTestId('metrics')).toBeVisible();
    // Nothing wider than the screen: the page never scrolls sideways (wide tables scroll in their own box).
    const overflow = await page.evaluate(
      () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
    );
    expect(overflow, `horizontal overflow on ${url}`).toBeLessThanOrEqual(0);
    expect(await unlabelled(page), `unlabelled controls on ${url}`).toEqual([]);
    if (url === '/compose') await screenshot(page, 'phone-compose');
    if (url.startsWith('/prompts/')) await screenshot(page, 'phone-prompt');
  }

  // Keyboard only: Tab to "Add control term", Enter adds a term whose control select takes the focus next.
  await page.goto('/compose');
  await expect(page.getByRole('button', { name: 'Add control term' })).toBeVisible();
  let reached = false;
  for (let i = 0; i < 40 && !reached; i++) {
    await page.keyboard.press('Tab');
    reached = await page.evaluate(() => document.activeElement?.textContent === 'Add control term');
  }
  expect(reached).toBe(true);
  await page.keyboard.press('Enter');
  await expect(page.getByTestId('term-0')).toBeVisible();
  await page.getByLabel('Control', { exact: true }).focus();
  await page.keyboard.press('End');
  await expect(page.getByLabel('Control', { exact: true })).not.toHaveValue('');
});
