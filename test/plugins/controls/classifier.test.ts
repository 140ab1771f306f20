/**
 * The `classifier` control and the SDK's named classifiers on the MNIST classifier of plugins/mnist
 * (wasm backend; no generator needed): the host offers classifiers by name (also from a declarative
 * tfjs-model package), params checks in the plugin and in createPrompt, finite energies and
 * gradients, the balance state, and augmentations that keep the class.
 */
import * as path from 'path';
import { loadConfig } from '../../../src/shared/config';
import { PromptService } from '../../../src/services/prompts';
import * as fs from 'fs';
import * as os from 'os';
import { loadPluginPackage } from '../../../src/plugins/loader';
import type { Tensor4D } from '../../../src/sdk';
import { harness, noiseImages, MNIST_CLASSIFIER_FILE, PLUGINS, type Harness } from './setup';
import { Rng } from '../../../src/engine/rng';

describe('the classifier control on the MNIST classifier (wasm)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await harness('wasm');
  });
  const images = (n: number, seed: number): Tensor4D => noiseImages(h.tf, n, seed);

  test('the host offers mnist-digit to plugins through LoadContext.classifiers; unknown names are refused clearly', async () => {
    const ctx = h.registry.createContext({ name: 'x', dir: PLUGINS }, h.tf, h.backend);
    expect(ctx.classifiers!.names()).toContain('mnist-digit');
    const a = await ctx.classifiers!.load('mnist-digit', h.info);
    const b = await ctx.classifiers!.load('mnist-digit', h.info);
    expect(a).toBe(b); // cached by the host
    expect(a.classNames).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
    await expect(ctx.classifiers!.load('no-such', h.info)).rejects.toThrow(
      /unknown classifier "no-such" \(known: .*mnist-digit/,
    );
  });

  test('a classifier manifest of a declarative (tfjs-model) package is offered by name and drives the generic classifier control', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pg-declarative-'));
    fs.writeFileSync(
      path.join(dir, 'package.json'),
      JSON.stringify({
        name: '@test/declarative-digits',
        version: '1.0.0',
        promptgen: {
          apiVersion: 1,
          models: [
            {
              kind: 'classifier',
              name: 'digits-manifest',
              model: MNIST_CLASSIFIER_FILE,
              input: { width: 28, height: 28, channels: 1 },
              classNames: ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine'],
            },
          ],
        },
      }),
    );
    const p = h.registry.add(await loadPluginPackage(dir, { source: 'INSTALLED' }));
    try {
      expect(p.status).toBe('LOADED');
      expect(h.registry.classifier('digits-manifest')?.definition.classNames[7]).toBe('seven');
      expect(h.registry.control('digits-manifest')).toBeDefined(); // its own control stays
      const c = await h.registry.loadControl(
        'classifier',
        { targets: [{ classifier: 'digits-manifest', classes: ['seven'] }] },
        h.info,
        h.runtime,
        { cache: false },
      );
      const ref = await h.registry.loadControl(
        'classifier',
        { targets: [{ classifier: 'mnist-digit', classes: [7] }] },
        h.info,
        h.runtime,
        { cache: false },
      );
      const x = images(4, 9);
      const a = Array.from(await c.energy(x, { z: null as never }).data());
      const b = Array.from(await ref.energy(x, { z: null as never }).data());
      a.forEach((v, i) => expect(v).toBeCloseTo(b[i]!, 3));
      c.dispose();
      ref.dispose();
      x.dispose();
    } finally {
      h.registry.remove(p.name);
      fs.rmSync(dir, { recursive: true, force: true });
    }
    expect(h.registry.classifier('digits-manifest')).toBeUndefined();
  });

  test('checkParams: unknown classifier, unknown class, wrong target length; valid params pass', () => {
    const classifier = h.registry.control('classifier')!.definition;
    const debias = h.registry.control('debias')!.definition;
    const host = {
      classifiers: h.registry.classifierNames(),
      classNames: (c: string) => h.registry.classifier(c)?.definition.classNames,
    };
    expect(
      classifier.checkParams!({ targets: [{ classifier: 'mnist-digit', classes: [3, '8'] }] }, host),
    ).toEqual([]);
    expect(
      classifier.checkParams!(
        {
          targets: [
            { classifier: 'mnist-digit', classes: [3] },
            { classifier: 'nope', classes: [0] },
          ],
        },
        host,
      ),
    ).toEqual([
      {
        field: ['targets', '1', 'classifier'],
        message: expect.stringMatching(/unknown classifier "nope" \(known: .*mnist-digit/),
      },
    ]);
    expect(
      classifier.checkParams!({ targets: [{ classifier: 'mnist-digit', classes: [12, 'seven'] }] }, host),
    ).toEqual([
      { field: ['targets', '0', 'classes', '0'], message: expect.stringMatching(/unknown class 12/) },
      { field: ['targets', '0', 'classes', '1'], message: expect.stringMatching(/unknown class "seven"/) },
    ]);
    expect(debias.checkParams!({ attributes: [{ classifier: 'mnist-digit' }] }, host)).toEqual([]);
    expect(
      debias.checkParams!({ attributes: [{ classifier: 'mnist-digit', target: [1, 2, 3] }] }, host),
    ).toEqual([
      { field: ['attributes', '0', 'target'], message: expect.stringMatching(/must have 10 entries/) },
    ]);
    expect(
      debias.checkParams!(
        { attributes: [{ classifier: 'mnist-digit', classes: [0, 2, 4], target: [1, 2] }] },
        host,
      ),
    ).toEqual([
      { field: ['attributes', '0', 'target'], message: expect.stringMatching(/must have 3 entries/) },
    ]);
    // Without class names from the host, only names are checked.
    expect(
      debias.checkParams!(
        { attributes: [{ classifier: 'mnist-digit', classes: [40, 41] }] },
        { classifiers: ['mnist-digit'] },
      ),
    ).toEqual([]);
  });

  test('createPrompt refuses an unknown classifier before anything is queued (PromptService with a catalog)', async () => {
    const control = h.registry.control('classifier')!.definition;
    const store = {
      generatorByName: async () => ({ id: 'g1', name: 'mnist', available: true, pluginId: null }),
      controlByName: async (name: string) => ({
        id: 'c1',
        name,
        available: true,
        pluginId: null,
        paramsSchema: control.paramsSchema,
        conditionDim: null,
      }),
      pluginById: async () => null,
    };
    const config = loadConfig({ PROMPTGEN_ADMIN_TOKEN: 'x'.repeat(32) } as NodeJS.ProcessEnv);
    const events = { publish: async () => undefined };
    const catalog = () => ({
      controlDefinition: (n: string) => h.registry.control(n)?.definition,
      classifiers: () => h.registry.classifierNames(),
      classNames: (c: string) => h.registry.classifier(c)?.definition.classNames,
    });
    const svc = new PromptService(store as never, config, events as never, () => null, catalog);
    const res = await svc.create({
      generator: 'mnist',
      controls: [{ control: 'classifier', params: { targets: [{ classifier: 'cifar', classes: [1] }] } }],
    });
    expect(res.ok).toBe(false);
    if (res.ok) return;
    expect(res.errors).toEqual([
      {
        field: ['controls', '0', 'params', 'targets', '0', 'classifier'],
        message: expect.stringMatching(/^params\.targets\.0\.classifier unknown classifier "cifar"/),
        code: 'BAD_USER_INPUT',
      },
    ]);
    // Valid params get past the check (and stop at the absent queue); without a catalog the check is skipped.
    const ok = await svc.create({
      generator: 'mnist',
      controls: [
        { control: 'classifier', params: { targets: [{ classifier: 'mnist-digit', classes: [7] }] } },
      ],
    });
    expect(!ok.ok && ok.errors.map((e) => e.code)).toEqual(['UNAVAILABLE']);
    const plain = new PromptService(store as never, config, events as never, () => null);
    const skipped = await plain.create({
      generator: 'mnist',
      controls: [{ control: 'classifier', params: { targets: [{ classifier: 'cifar', classes: [1] }] } }],
    });
    expect(!skipped.ok && skipped.errors.map((e) => e.code)).toEqual(['UNAVAILABLE']);
  });

  test('classifier: energies and their gradients are finite; the energy is −log Σ p over the target classes, summed over heads', async () => {
    const targets = [
      { classifier: 'mnist-digit', classes: [3, 8] },
      { classifier: 'mnist-digit', classes: ['7'], weight: 2 },
    ];
    // copies: 0 is the energy of the images as they are (the default averages over augmented copies, below)
    const c = await h.registry.loadControl(
      'classifier',
      { targets, augment: { copies: 0 } },
      h.info,
      h.runtime,
      { cache: false },
    );
    const clf = await h.registry.loadClassifier('mnist-digit', h.info, h.runtime);
    const { tf } = h;
    const x = images(6, 1);
    const e = c.energy(x, { z: tf.zeros([6, 64]) as never });
    expect(e.shape).toEqual([6]);
    const p = (await clf.probs(x).array()) as number[][];
    const want = p.map((r) => -Math.log(r[3]! + r[8]!) - 2 * Math.log(r[7]!));
    const got = Array.from(await e.data());
    got.forEach((v, i) => expect(v).toBeCloseTo(want[i]!, 2));
    const g = tf.grad((im) => tf.sum(c.energy(im as Tensor4D, { z: null as never })))(x);
    const gv = await g.data();
    expect(gv.every(Number.isFinite)).toBe(true);
    expect(gv.some((v) => v !== 0)).toBe(true);
    const ev = await c.evaluate!(x);
    expect(ev).toMatchObject({
      count: 6,
      targets: [{ classifier: 'mnist-digit', classes: ['3', '8'] }, { classes: ['7'] }],
    });
    // Default: one augmented copy (shift, zoom, noise) drawn afresh at each call, seeded per instance.
    const augmented = await h.registry.loadControl('classifier', { targets }, h.info, h.runtime, {
      cache: false,
    });
    const twin = await h.registry.loadControl('classifier', { targets }, h.info, h.runtime, { cache: false });
    const ea = Array.from(await augmented.energy(x, { z: null as never }).data());
    const eb = Array.from(await augmented.energy(x, { z: null as never }).data());
    const et = Array.from(await twin.energy(x, { z: null as never }).data());
    expect(ea).toEqual(et); // same seed, same first draw
    expect(ea).not.toEqual(eb); // new draws each call
    expect(ea).not.toEqual(got);
    const ga = await tf
      .grad((im) => tf.sum(augmented.energy(im as Tensor4D, { z: null as never })))(x)
      .data();
    expect(ga.every(Number.isFinite) && ga.some((v) => v !== 0)).toBe(true);
    await expect(
      h.registry.loadControl(
        'classifier',
        { targets, augment: { copies: 2, shift: 0.9 } },
        h.info,
        h.runtime,
        { cache: false },
      ),
    ).rejects.toThrow(/shift/);
    augmented.dispose();
    twin.dispose();
    await expect(
      h.registry.loadControl(
        'classifier',
        { targets: [{ classifier: 'mnist-digit', classes: [3, '3'] }] },
        h.info,
        h.runtime,
        { cache: false },
      ),
    ).rejects.toThrow(/same class twice/);
    c.dispose();
    tf.dispose([x, e, g]);
  });

  test('classifier balance: observe() moves β toward the rarer target class, the energy gains −βᵀφ, the state round-trips', async () => {
    const { tf } = h;
    const params = {
      targets: [{ classifier: 'mnist-digit', classes: [3, 8] }],
      balanceRate: 1,
      augment: { copies: 0 },
    };
    const c = await h.registry.loadControl('classifier', params, h.info, h.runtime, { cache: false });
    const clf = await h.registry.loadClassifier('mnist-digit', h.info, h.runtime);
    const x = images(8, 5);
    const p = (await clf.probs(x).array()) as number[][];
    const phi = p.map((r) => [r[3]! / (r[3]! + r[8]!), r[8]! / (r[3]! + r[8]!)]);
    const m = [0, 1].map((k) => phi.reduce((s, r) => s + r[k]!, 0) / phi.length);
    expect(c.trainingState!()).toEqual({ version: 1, balance: [[0, 0]] });
    await c.observe!(x);
    const beta = (c.trainingState!() as { balance: number[][] }).balance[0]!;
    expect(beta[0]).toBeCloseTo(0.5 - m[0]!, 5); // the more frequent class gets the lower β
    expect(beta[1]).toBeCloseTo(0.5 - m[1]!, 5);
    const want = p.map(
      (r, i) => -Math.log(r[3]! + r[8]!) - (beta[0]! * phi[i]![0]! + beta[1]! * phi[i]![1]!),
    );
    const e = Array.from(await c.energy(x, { z: null as never }).data());
    e.forEach((v, i) => expect(v).toBeCloseTo(want[i]!, 4));
    const ev = (await c.evaluate!(x)) as { targets: Array<{ balanceBeta: number[] }> };
    expect(ev.targets[0]!.balanceBeta).toEqual(beta);

    const d = await h.registry.loadControl('classifier', params, h.info, h.runtime, { cache: false });
    d.restoreTrainingState!(JSON.parse(JSON.stringify(c.trainingState!())));
    const e2 = Array.from(await d.energy(x, { z: null as never }).data());
    e2.forEach((v, i) => expect(v).toBeCloseTo(e[i]!, 5));
    expect(() => d.restoreTrainingState!({ version: 1, balance: [[1, 2, 3]] })).toThrow(
      /targets\[0\] does not match/,
    );
    expect(() => d.restoreTrainingState!({ version: 2, balance: [[0, 0]] })).toThrow(/does not match/);

    const plain = await h.registry.loadControl(
      'classifier',
      { targets: [{ classifier: 'mnist-digit', classes: [3, 8], balance: 'none' }] },
      h.info,
      h.runtime,
      { cache: false },
    );
    const single = await h.registry.loadControl(
      'classifier',
      { targets: [{ classifier: 'mnist-digit', classes: [7] }] },
      h.info,
      h.runtime,
      { cache: false },
    );
    expect(plain.observe).toBeUndefined(); // the paper's energy alone
    expect(single.observe).toBeUndefined(); // nothing to balance
    [c, d, plain, single].forEach((k) => k.dispose());
    tf.dispose(x);
  });

  test('the default augmentations keep the class: the classifier calls ≥ 90 % of augmented generated digits as it calls the originals', async () => {
    const { tf } = h;
    const clf = await h.registry.loadClassifier('mnist-digit', h.info, h.runtime);
    const ctx = h.registry.createContext({ name: 'x', dir: PLUGINS }, tf, h.backend);
    expect(ctx.augment!.create(null, 1).spec).toEqual({
      copies: 1,
      shift: 0.08,
      scale: 0.08,
      flip: false,
      noise: 0.03,
    });
    const aug = ctx.augment!.create({ copies: 4 }, 1);
    const z = tf.tensor2d(new Rng(3).normals(64 * 64), [64, 64]);
    const x = h.generator.generate(z);
    const plain = (await tf.argMax(clf.probs(x), 1).array()) as number[];
    const copies = aug.expand(x);
    expect(copies.shape).toEqual([256, 28, 28, 1]);
    const onCopies = (await tf.argMax(clf.probs(copies), 1).array()) as number[];
    const agree = onCopies.filter((c, r) => c === plain[r % 64]).length / onCopies.length;
    expect(agree).toBeGreaterThanOrEqual(0.9);
    const mean = aug.mean(tf.ones([256, 3]));
    expect(mean.shape).toEqual([64, 3]);
    tf.dispose([z, x, copies, mean]);
  });
});
