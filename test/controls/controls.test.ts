/**
 * Unit tests of @promptgen/controls and the SDK's named classifiers: the de-biasing
 * fit on synthetic φ with a known answer, finite energies and gradients, params
 * checks (plugin and createPrompt), calibration state round trip, registry rules.
 * Models: the MNIST classifier of plugins/mnist (wasm backend); no generator needed.
 */
import * as path from 'path';
import { loadConfig } from '../../src/shared/config';
import { PromptService } from '../../src/services/prompts';
import { PluginRegistry } from '../../src/plugins/registry';
import { validatePluginDefinition } from '../../src/plugins/validate';
import * as fs from 'fs';
import * as os from 'os';
import { loadPluginPackage, type LoadedPlugin as LoadedPluginLike } from '../../src/plugins/loader';
import type { ControlInstance, Tensor4D } from '../../src/sdk';
import { harness, MNIST_CLASSIFIER_FILE, PLUGINS, type Harness } from './setup';
import { Rng } from '../../src/engine/rng';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const controlsPlugin = require(path.join(PLUGINS, 'controls'));
const { fitDebias, kl, momentStep, noiseShrinkage, oneHotRows, tiltWeights } = controlsPlugin as {
  noiseShrinkage: (phi: number[][], target: number[]) => { shrinkage: number; t2: number; fitTarget: number[] };
  oneHotRows: (rows: number[][]) => number[][];
  tiltWeights: (phi: number[][], beta: number[]) => number[];
  momentStep: (beta: number[], meanPhi: number[], target: number[], rate: number) => number[];
  fitDebias: (phi: number[][], target: number[], o?: { iterations?: number; learningRate?: number; counts?: number[][] }) => {
    beta: number[];
    loss: number;
    initialLoss: number;
    marginalBefore: number[];
    marginalAfter: number[];
  };
  kl: (p: number[], q: number[]) => number;
};

/** Deterministic uniforms in [0, 1): the engine's own seeded generator. */
const rng = (seed: number): (() => number) => new Rng(seed).uniform();

/** N softmax rows of K classes: class c drawn with probabilities `freq`, confidence around `conf`. */
function syntheticPhi(n: number, freq: number[], conf: number, seed: number): number[][] {
  const r = rng(seed);
  const K = freq.length;
  const rows: number[][] = [];
  for (let j = 0; j < n; j++) {
    let u = r();
    let c = 0;
    while (c < K - 1 && u >= freq[c]!) u -= freq[c++]!;
    const logits = Array.from({ length: K }, (_, k) => (k === c ? Math.log(conf / (1 - conf)) + Math.log(K - 1) : 0) + 0.3 * (r() - 0.5));
    const m = Math.max(...logits);
    const e = logits.map((l) => Math.exp(l - m));
    const s = e.reduce((a, b) => a + b, 0);
    rows.push(e.map((x) => x / s));
  }
  return rows;
}

function weightedMarginal(phi: number[][], beta: number[]): number[] {
  const logits = phi.map((r) => r.reduce((s, v, k) => s + v * beta[k]!, 0));
  const mx = Math.max(...logits);
  const w = logits.map((l) => Math.exp(l - mx));
  const z = w.reduce((a, b) => a + b, 0);
  const m = new Array(beta.length).fill(0);
  phi.forEach((r, j) => r.forEach((v, k) => (m[k] += (w[j]! / z) * v)));
  return m;
}

describe('debias fit (synthetic φ with a known answer)', () => {
  test('one-hot φ: β̂ = log(target / frequency) up to a constant, and the weighted marginal is the target', () => {
    const freq = [0.5, 0.3, 0.15, 0.05];
    const r = rng(1);
    const phi: number[][] = [];
    const counts = [0, 0, 0, 0];
    for (let j = 0; j < 2000; j++) {
      let u = r();
      let c = 0;
      while (c < 3 && u >= freq[c]!) u -= freq[c++]!;
      counts[c] += 1;
      phi.push([0, 1, 2, 3].map((k) => (k === c ? 1 : 0)));
    }
    const target = [0.25, 0.25, 0.25, 0.25];
    const fit = fitDebias(phi, target);
    const m = weightedMarginal(phi, fit.beta);
    for (let k = 0; k < 4; k++) expect(Math.abs(m[k]! - target[k]!)).toBeLessThan(1e-3);
    // Known answer: β_k − β_0 = log(p̂_0 / p̂_k) for one-hot features.
    const p = counts.map((c) => c / 2000);
    for (let k = 1; k < 4; k++) expect(fit.beta[k]! - fit.beta[0]!).toBeCloseTo(Math.log(p[0]! / p[k]!), 2);
    expect(fit.loss).toBeLessThan(1e-6);
    expect(fit.initialLoss).toBeGreaterThan(0.05);
  });

  test('soft φ (like a classifier softmax), uniform and non-uniform targets: the weighted marginal hits the target', () => {
    const phi = syntheticPhi(1024, [0.4, 0.25, 0.2, 0.1, 0.05], 0.9, 7);
    for (const target of [
      [0.2, 0.2, 0.2, 0.2, 0.2],
      [0.1, 0.1, 0.2, 0.3, 0.3],
    ]) {
      const fit = fitDebias(phi, target);
      const m = weightedMarginal(phi, fit.beta);
      for (let k = 0; k < 5; k++) expect(Math.abs(m[k]! - target[k]!)).toBeLessThan(5e-3);
      expect(fit.loss).toBeLessThan(1e-4);
      expect(fit.loss).toBeLessThan(fit.initialLoss / 100);
      // β is centred and finite; favours the rare classes.
      expect(Math.abs(fit.beta.reduce((a, b) => a + b, 0))).toBeLessThan(1e-9);
      expect(fit.beta[4]!).toBeGreaterThan(fit.beta[0]!);
      expect(fit.beta.every(Number.isFinite)).toBe(true);
    }
  });

  test('a target given unnormalised is normalised; an already balanced set keeps β ≈ 0', () => {
    const phi = syntheticPhi(900, [1 / 3, 1 / 3, 1 / 3], 0.95, 3);
    const fit = fitDebias(phi, [2, 2, 2]);
    for (const b of fit.beta) expect(Math.abs(b)).toBeLessThan(0.2);
    const m = weightedMarginal(phi, fit.beta);
    for (const x of m) expect(Math.abs(x - 1 / 3)).toBeLessThan(3e-3);
  });

  test('noise shrinkage: a base at the target up to sampling noise is left alone, a biased one is corrected in full', () => {
    const uniform10 = new Array(10).fill(0.1);
    // 20 bases drawn AT the target: T² ~ χ²(9), so s is 0 or small, and the fit target stays
    // near the samples' own mean (β̂ ≈ 0) instead of chasing their noise.
    const shrinkages: number[] = [];
    const t2s: number[] = [];
    for (let seed = 1; seed <= 20; seed++) {
      const phi = syntheticPhi(1024, uniform10, 0.9, 100 + seed);
      const n = noiseShrinkage(phi, uniform10);
      shrinkages.push(n.shrinkage);
      t2s.push(n.t2);
      const mean = phi[0]!.map((_, k) => phi.reduce((a, r) => a + r[k]!, 0) / phi.length);
      n.fitTarget.forEach((t, k) => expect(t).toBeCloseTo(mean[k]! - n.shrinkage * (mean[k]! - 0.1), 12));
      expect(n.fitTarget.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    }
    const meanT2 = t2s.reduce((a, b) => a + b, 0) / t2s.length;
    expect(meanT2).toBeGreaterThan(5); // E = K − 1 = 9
    expect(meanT2).toBeLessThan(14);
    expect(shrinkages.filter((x) => x === 0).length).toBeGreaterThanOrEqual(8);
    expect(Math.max(...shrinkages)).toBeLessThan(0.75);
    // β̂ fitted to the shrunk target is the exact fit's scaled by about s (small tilts are
    // linear in the moment shift); for s = 0 it is 0.
    const norm = (b: number[]) => Math.sqrt(b.reduce((a, x) => a + x * x, 0));
    for (const seed of [101, 102, 103]) {
      const phi = syntheticPhi(1024, uniform10, 0.9, 100 + seed);
      const n = noiseShrinkage(phi, uniform10);
      const exact = norm(fitDebias(phi, uniform10).beta);
      const shrunk = norm(fitDebias(phi, n.fitTarget).beta);
      expect(exact).toBeGreaterThan(0.05); // the noise an exact fit would chase
      expect(shrunk).toBeLessThanOrEqual(n.shrinkage * exact + 0.02);
    }

    // A clearly biased base: s ≈ 1 and the fit aims at the target itself.
    const biased = syntheticPhi(1024, [0.3, 0.2, 0.1, 0.1, 0.1, 0.05, 0.05, 0.04, 0.03, 0.03], 0.9, 5);
    const b = noiseShrinkage(biased, uniform10);
    expect(b.t2).toBeGreaterThan(300);
    expect(b.shrinkage).toBeGreaterThan(0.97);
    b.fitTarget.forEach((t) => expect(Math.abs(t - 0.1)).toBeLessThan(0.01));
  });

  test('uncertain classifier (softmax of noisy logits): the counted fit puts the target share of images in each class; the mean-probability fit does not', () => {
    // Two classes, like the face-gender case of issue #14: 70 % of images are truly class 0 and
    // sit near the boundary (logit difference ~ N(−0.5, 0.4²): p(1) ≈ 0.38, still counted 0),
    // 30 % are class 1 (~ N(1, 0.8²)). The classifier's mean p(1) is ≈ 0.48, near the target
    // 0.5, while the share of images it calls class 1 is ≈ 0.34.
    const sample = (n: number, seed: number): number[][] => {
      const r = new Rng(seed);
      const rows: number[][] = [];
      for (let j = 0; j < n; j++) {
        const one = r.random() < 0.3;
        const d = one ? 1 + 0.8 * r.normal() : -0.5 + 0.4 * r.normal();
        const p1 = 1 / (1 + Math.exp(-d));
        rows.push([1 - p1, p1]);
      }
      return rows;
    };
    const fitSet = sample(2000, 1);
    const fresh = sample(20000, 2); // judged on new samples of the base, as the flow's density would be
    const target = [0.5, 0.5];
    /** Counted share of class 1 under the tilt exp(βᵀφ) of the fresh samples (the prompt's target density at weight 1). */
    const countedShare = (beta: number[]) => {
      const w = tiltWeights(fresh, beta);
      const h = oneHotRows(fresh);
      return h.reduce((s, r, j) => s + w[j]! * r[1]!, 0);
    };
    const baseCounted = countedShare([0, 0]);
    const baseMean = fresh.reduce((s, r) => s + r[1]!, 0) / fresh.length;
    expect(baseCounted).toBeGreaterThan(0.3);
    expect(baseCounted).toBeLessThan(0.38);
    expect(baseMean).toBeGreaterThan(0.45); // the mean probability is already close to the target

    const h = oneHotRows(fitSet);
    const counted = fitDebias(fitSet, noiseShrinkage(h, target).fitTarget, { counts: h });
    const meanProb = fitDebias(fitSet, noiseShrinkage(fitSet, target).fitTarget);
    // Stated tolerance: ±0.03 on 20,000 fresh samples (the fit set's own sampling error is ≈ 0.011).
    expect(Math.abs(countedShare(counted.beta) - 0.5)).toBeLessThan(0.03);
    // The old fit matched the mean probability and left the counted share far from the target.
    expect(0.5 - countedShare(meanProb.beta)).toBeGreaterThan(0.1);
    expect(Math.abs(meanProb.marginalAfter[1]! - 0.5)).toBeLessThan(0.01); // it did what it aimed at
  });

  test('kl', () => {
    expect(kl([0.5, 0.5], [0.5, 0.5])).toBe(0);
    expect(kl([1, 0], [0.5, 0.5])).toBeCloseTo(Math.log(2), 10);
  });
});

describe('plugin definition and registry', () => {
  test('the controls plugin is a valid definition; classifier definitions are validated', () => {
    expect(validatePluginDefinition(controlsPlugin)).toEqual([]);
    const load = () => {
      throw new Error('unused');
    };
    const bad = validatePluginDefinition({
      apiVersion: 1,
      classifiers: [
        { name: 'Bad Name', title: 't', classNames: ['a'], load },
        { name: 'ok-one', title: 't', classNames: [], load },
        { name: 'ok-one', title: 't', classNames: ['a', 'a'], load },
        { name: 'ok-two', title: '', classNames: ['a'] },
      ],
      controls: [{ name: 'c-one', title: 't', paramsSchema: {}, load, checkParams: 3 }],
    });
    expect(bad.join('\n')).toMatch(/classifiers\[0\]\.name "Bad Name" is invalid/);
    expect(bad.join('\n')).toMatch(/classNames must be a non-empty array/);
    expect(bad.join('\n')).toMatch(/classifier name "ok-one" is defined twice/);
    expect(bad.join('\n')).toMatch(/classNames must be distinct/);
    expect(bad.join('\n')).toMatch(/ok-two.*title must be a non-empty string/);
    expect(bad.join('\n')).toMatch(/ok-two.*load must be a function/);
    expect(bad.join('\n')).toMatch(/checkParams must be a function/);
  });

  test('classifier names are global: a second plugin offering the same name is FAILED', () => {
    const reg = new PluginRegistry();
    const def = (name: string) => ({
      apiVersion: 1 as const,
      classifiers: [{ name, title: name, classNames: ['a', 'b'], load: () => Promise.reject(new Error('no')) }],
    });
    const mk = (pkg: string, name: string): LoadedPluginLike => ({ name: pkg, version: '1.0.0', dir: '/nonexistent', source: 'BUILTIN', status: 'LOADED', definition: def(name) });
    expect(reg.add(mk('a', 'shared-name')).status).toBe('LOADED');
    const second = reg.add(mk('b', 'shared-name'));
    expect(second.status).toBe('FAILED');
    expect(second.error).toMatch(/classifier name "shared-name" is already used by plugin a/);
    expect(reg.classifierNames()).toEqual(['shared-name']);
    reg.remove('a');
    expect(reg.classifierNames()).toEqual([]);
  });

});

describe('controls on the MNIST classifier (wasm)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await harness('wasm');
  });

  const images = (n: number, seed: number): Tensor4D => h.tf.randomUniform([n, 28, 28, 1], 0, 1, 'float32', seed) as Tensor4D;

  test('the host offers mnist-digit to plugins through LoadContext.classifiers; unknown names are refused clearly', async () => {
    const ctx = h.registry.createContext({ name: 'x', dir: PLUGINS }, h.tf, h.backend);
    expect(ctx.classifiers!.names()).toContain('mnist-digit');
    const a = await ctx.classifiers!.load('mnist-digit', h.info);
    const b = await ctx.classifiers!.load('mnist-digit', h.info);
    expect(a).toBe(b); // cached by the host
    expect(a.classNames).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
    await expect(ctx.classifiers!.load('no-such', h.info)).rejects.toThrow(/unknown classifier "no-such" \(known: .*mnist-digit/);
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
          models: [{ kind: 'classifier', name: 'digits-manifest', model: MNIST_CLASSIFIER_FILE, input: { width: 28, height: 28, channels: 1 }, classNames: ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine'] }],
        },
      }),
    );
    const p = h.registry.add(await loadPluginPackage(dir, { source: 'INSTALLED' }));
    try {
      expect(p.status).toBe('LOADED');
      expect(h.registry.classifier('digits-manifest')?.definition.classNames[7]).toBe('seven');
      expect(h.registry.control('digits-manifest')).toBeDefined(); // its own control stays
      const c = await h.registry.loadControl('classifier', { targets: [{ classifier: 'digits-manifest', classes: ['seven'] }] }, h.info, h.runtime, { cache: false });
      const ref = await h.registry.loadControl('classifier', { targets: [{ classifier: 'mnist-digit', classes: [7] }] }, h.info, h.runtime, { cache: false });
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
    const host = { classifiers: h.registry.classifierNames(), classNames: (c: string) => h.registry.classifier(c)?.definition.classNames };
    expect(classifier.checkParams!({ targets: [{ classifier: 'mnist-digit', classes: [3, '8'] }] }, host)).toEqual([]);
    expect(classifier.checkParams!({ targets: [{ classifier: 'mnist-digit', classes: [3] }, { classifier: 'nope', classes: [0] }] }, host)).toEqual([
      { field: ['targets', '1', 'classifier'], message: expect.stringMatching(/unknown classifier "nope" \(known: .*mnist-digit/) },
    ]);
    expect(classifier.checkParams!({ targets: [{ classifier: 'mnist-digit', classes: [12, 'seven'] }] }, host)).toEqual([
      { field: ['targets', '0', 'classes', '0'], message: expect.stringMatching(/unknown class 12/) },
      { field: ['targets', '0', 'classes', '1'], message: expect.stringMatching(/unknown class "seven"/) },
    ]);
    expect(debias.checkParams!({ attributes: [{ classifier: 'mnist-digit' }] }, host)).toEqual([]);
    expect(debias.checkParams!({ attributes: [{ classifier: 'mnist-digit', target: [1, 2, 3] }] }, host)).toEqual([
      { field: ['attributes', '0', 'target'], message: expect.stringMatching(/must have 10 entries/) },
    ]);
    expect(debias.checkParams!({ attributes: [{ classifier: 'mnist-digit', classes: [0, 2, 4], target: [1, 2] }] }, host)).toEqual([
      { field: ['attributes', '0', 'target'], message: expect.stringMatching(/must have 3 entries/) },
    ]);
    // Without class names from the host, only names are checked.
    expect(debias.checkParams!({ attributes: [{ classifier: 'mnist-digit', classes: [40, 41] }] }, { classifiers: ['mnist-digit'] })).toEqual([]);
  });

  test('createPrompt refuses an unknown classifier before anything is queued (PromptService with a catalog)', async () => {
    const control = h.registry.control('classifier')!.definition;
    const store = {
      generatorByName: async () => ({ id: 'g1', name: 'mnist', available: true, pluginId: null }),
      controlByName: async (name: string) => ({ id: 'c1', name, available: true, pluginId: null, paramsSchema: control.paramsSchema, conditionDim: null }),
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
    const res = await svc.create({ generator: 'mnist', controls: [{ control: 'classifier', params: { targets: [{ classifier: 'cifar', classes: [1] }] } }] });
    expect(res.ok).toBe(false);
    if (res.ok) return;
    expect(res.errors).toEqual([
      { field: ['controls', '0', 'params', 'targets', '0', 'classifier'], message: expect.stringMatching(/^params\.targets\.0\.classifier unknown classifier "cifar"/), code: 'BAD_USER_INPUT' },
    ]);
    // Valid params get past the check (and stop at the absent queue); without a catalog the check is skipped.
    const ok = await svc.create({ generator: 'mnist', controls: [{ control: 'classifier', params: { targets: [{ classifier: 'mnist-digit', classes: [7] }] } }] });
    expect(!ok.ok && ok.errors.map((e) => e.code)).toEqual(['UNAVAILABLE']);
    const plain = new PromptService(store as never, config, events as never, () => null);
    const skipped = await plain.create({ generator: 'mnist', controls: [{ control: 'classifier', params: { targets: [{ classifier: 'cifar', classes: [1] }] } }] });
    expect(!skipped.ok && skipped.errors.map((e) => e.code)).toEqual(['UNAVAILABLE']);
  });

  test('classifier: energies and their gradients are finite; the energy is −log Σ p over the target classes, summed over heads', async () => {
    const targets = [{ classifier: 'mnist-digit', classes: [3, 8] }, { classifier: 'mnist-digit', classes: ['7'], weight: 2 }];
    // copies: 0 is the energy of the images as they are (the default averages over augmented copies, below)
    const c = await h.registry.loadControl('classifier', { targets, augment: { copies: 0 } }, h.info, h.runtime, { cache: false });
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
    expect(ev).toMatchObject({ count: 6, targets: [{ classifier: 'mnist-digit', classes: ['3', '8'] }, { classes: ['7'] }] });
    // Default: one augmented copy (shift, zoom, noise) drawn afresh at each call, seeded per instance.
    const augmented = await h.registry.loadControl('classifier', { targets }, h.info, h.runtime, { cache: false });
    const twin = await h.registry.loadControl('classifier', { targets }, h.info, h.runtime, { cache: false });
    const ea = Array.from(await augmented.energy(x, { z: null as never }).data());
    const eb = Array.from(await augmented.energy(x, { z: null as never }).data());
    const et = Array.from(await twin.energy(x, { z: null as never }).data());
    expect(ea).toEqual(et); // same seed, same first draw
    expect(ea).not.toEqual(eb); // new draws each call
    expect(ea).not.toEqual(got);
    const ga = await tf.grad((im) => tf.sum(augmented.energy(im as Tensor4D, { z: null as never })))(x).data();
    expect(ga.every(Number.isFinite) && ga.some((v) => v !== 0)).toBe(true);
    await expect(h.registry.loadControl('classifier', { targets, augment: { copies: 2, shift: 0.9 } }, h.info, h.runtime, { cache: false })).rejects.toThrow(/shift/);
    augmented.dispose();
    twin.dispose();
    await expect(h.registry.loadControl('classifier', { targets: [{ classifier: 'mnist-digit', classes: [3, '3'] }] }, h.info, h.runtime, { cache: false })).rejects.toThrow(/same class twice/);
    c.dispose();
    tf.dispose([x, e, g]);
  });

  test('classifier balance: observe() moves β toward the rarer target class, the energy gains −βᵀφ, the state round-trips', async () => {
    const { tf } = h;
    const params = { targets: [{ classifier: 'mnist-digit', classes: [3, 8] }], balanceRate: 1, augment: { copies: 0 } };
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
    const want = p.map((r, i) => -Math.log(r[3]! + r[8]!) - (beta[0]! * phi[i]![0]! + beta[1]! * phi[i]![1]!));
    const e = Array.from(await c.energy(x, { z: null as never }).data());
    e.forEach((v, i) => expect(v).toBeCloseTo(want[i]!, 4));
    const ev = (await c.evaluate!(x)) as { targets: Array<{ balanceBeta: number[] }> };
    expect(ev.targets[0]!.balanceBeta).toEqual(beta);

    const d = await h.registry.loadControl('classifier', params, h.info, h.runtime, { cache: false });
    d.restoreTrainingState!(JSON.parse(JSON.stringify(c.trainingState!())));
    const e2 = Array.from(await d.energy(x, { z: null as never }).data());
    e2.forEach((v, i) => expect(v).toBeCloseTo(e[i]!, 5));
    expect(() => d.restoreTrainingState!({ version: 1, balance: [[1, 2, 3]] })).toThrow(/targets\[0\] does not match/);
    expect(() => d.restoreTrainingState!({ version: 2, balance: [[0, 0]] })).toThrow(/does not match/);

    const plain = await h.registry.loadControl('classifier', { targets: [{ classifier: 'mnist-digit', classes: [3, 8], balance: 'none' }] }, h.info, h.runtime, { cache: false });
    const single = await h.registry.loadControl('classifier', { targets: [{ classifier: 'mnist-digit', classes: [7] }] }, h.info, h.runtime, { cache: false });
    expect(plain.observe).toBeUndefined(); // the paper's energy alone
    expect(single.observe).toBeUndefined(); // nothing to balance
    [c, d, plain, single].forEach((k) => k.dispose());
    tf.dispose(x);
  });

  test('the default augmentations keep the class: the classifier calls ≥ 90 % of augmented generated digits as it calls the originals', async () => {
    const { tf } = h;
    const clf = await h.registry.loadClassifier('mnist-digit', h.info, h.runtime);
    const ctx = h.registry.createContext({ name: 'x', dir: PLUGINS }, tf, h.backend);
    expect(ctx.augment!.create(null, 1).spec).toEqual({ copies: 1, shift: 0.08, scale: 0.08, flip: false, noise: 0.03 });
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

  test('momentStep: dual ascent toward the target, centred and bounded', () => {
    const b = momentStep([0, 0, 0], [0.6, 0.3, 0.1], [1 / 3, 1 / 3, 1 / 3], 0.5);
    expect(b.reduce((a, x) => a + x, 0)).toBeCloseTo(0, 12);
    expect(b[0]).toBeLessThan(b[1]!);
    expect(b[1]).toBeLessThan(b[2]!);
    expect(momentStep([19.9, -19.9], [0, 1], [1, 0], 100)).toEqual([20, -20]);
  });

  test('debias with shrink: false fits the base samples exactly (s = 1, aims at the target itself)', async () => {
    const params = { attributes: [{ classifier: 'mnist-digit' }], samples: 64, iterations: 200, shrink: false };
    const a: ControlInstance = await h.registry.loadControl('debias', params, h.info, h.runtime, { cache: false });
    await a.calibrate!(async (n) => images(n, 11));
    const fit = (a.calibrationState!() as { attributes: Array<{ fit: { shrinkage: number; fitTarget: number[] } }> }).attributes[0]!.fit;
    expect(fit.shrinkage).toBe(1);
    fit.fitTarget.forEach((t) => expect(t).toBeCloseTo(0.1, 12));
    a.dispose();
  });

  test('debias adaptive: β starts at the fitted β̂ and observe() refines it from the prompt\'s samples; training state round-trips', async () => {
    const params = { attributes: [{ classifier: 'mnist-digit', classes: [3, 8] }], samples: 32, iterations: 50, adaptive: true, adaptRate: 0.5, augment: { copies: 0 } };
    const a = await h.registry.loadControl('debias', params, h.info, h.runtime, { cache: false });
    await a.calibrate!(async (n) => images(n, 21));
    const fitted = (a.calibrationState!() as { attributes: Array<{ beta: number[] }> }).attributes[0]!.beta;
    expect((a.trainingState!() as { beta: number[][] }).beta[0]).toEqual(fitted);
    const x = images(8, 6);
    await a.observe!(x);
    const adapted = (a.trainingState!() as { beta: number[][] }).beta[0]!;
    expect(adapted).not.toEqual(fitted);
    expect(adapted[0]! + adapted[1]!).toBeCloseTo(0, 10);
    const b = await h.registry.loadControl('debias', params, h.info, h.runtime, { cache: false });
    b.restoreCalibration!(a.calibrationState!());
    b.restoreTrainingState!(JSON.parse(JSON.stringify(a.trainingState!())));
    const ea = Array.from(await a.energy(x, { z: null as never }).data());
    const eb = Array.from(await b.energy(x, { z: null as never }).data());
    eb.forEach((v, i) => expect(v).toBeCloseTo(ea[i]!, 5));
    const fixed = await h.registry.loadControl('debias', { ...params, adaptive: false }, h.info, h.runtime, { cache: false });
    fixed.restoreCalibration!(a.calibrationState!());
    fixed.observe!(x);
    expect((fixed.trainingState!() as { beta: number[][] }).beta[0]).toEqual(adapted); // adaptive: false leaves β alone
    [a, b, fixed].forEach((k) => k.dispose());
    x.dispose();
  });

  test('debias: calibrate fits β̂ on base samples, state round-trips to a fresh instance (same energies), evaluate reports histogram, marginal and KL', async () => {
    const { tf } = h;
    const params = { attributes: [{ classifier: 'mnist-digit' }, { classifier: 'mnist-digit', classes: [0, 2, 4, 6, 8], target: [1, 1, 2, 1, 1] }], samples: 64, iterations: 200, augment: { copies: 0 } };
    const a: ControlInstance = await h.registry.loadControl('debias', params, h.info, h.runtime, { cache: false });
    const x = images(5, 3);
    expect(() => a.energy(x, { z: null as never })).toThrow(/calibrate\(\)/);
    let asked = 0;
    await a.calibrate!(async (n) => {
      asked = n;
      return images(n, 11);
    });
    expect(asked).toBe(64);
    const state = JSON.parse(JSON.stringify(a.calibrationState!()));
    expect(state.attributes).toHaveLength(2);
    expect(state.attributes[0].beta).toHaveLength(10);
    expect(state.attributes[1].beta).toHaveLength(5);
    expect(state.attributes[0].fit.loss).toBeLessThanOrEqual(state.attributes[0].fit.initialLoss);
    // the noise shrinkage is on by default and recorded: β̂ aims at m₀ − s·(m₀ − target)
    for (const at of state.attributes) {
      const { shrinkage, fitTarget, marginalBefore } = at.fit;
      expect(shrinkage).toBeGreaterThanOrEqual(0);
      expect(shrinkage).toBeLessThanOrEqual(1);
      fitTarget.forEach((t: number, k: number) => expect(t).toBeCloseTo(marginalBefore[k] - shrinkage * (marginalBefore[k] - at.target[k]), 9));
    }
    const ea = Array.from(await a.energy(x, { z: null as never }).data());
    expect(ea.every(Number.isFinite)).toBe(true);
    const g = await tf.grad((im) => tf.sum(a.energy(im as Tensor4D, { z: null as never })))(x).data();
    expect(g.every(Number.isFinite)).toBe(true);

    const b = await h.registry.loadControl('debias', params, h.info, h.runtime, { cache: false });
    b.restoreCalibration!(state);
    const eb = Array.from(await b.energy(x, { z: null as never }).data());
    eb.forEach((v, i) => expect(v).toBeCloseTo(ea[i]!, 5));
    expect(b.calibrationState!()).toEqual(state);
    expect(() => b.restoreCalibration!({ version: 1, attributes: [state.attributes[0]] })).toThrow(/does not match/);
    expect(() => b.restoreCalibration!({ version: 1, attributes: [state.attributes[1], state.attributes[0]] })).toThrow(/does not match/);

    const ev = (await b.evaluate!(x)) as { count: number; kl: number; attributes: Array<{ histogram: Record<string, number>; marginal: number[]; kl: number; target: number[] }> };
    expect(ev.count).toBe(5);
    expect(Object.keys(ev.attributes[1]!.histogram)).toEqual(['0', '2', '4', '6', '8']);
    expect(ev.attributes[1]!.marginal.reduce((s, v) => s + v, 0)).toBeCloseTo(1, 6);
    expect(ev.attributes[1]!.target).toEqual([1 / 6, 1 / 6, 2 / 6, 1 / 6, 1 / 6]);
    expect(ev.kl).toBeCloseTo(ev.attributes[0]!.kl + ev.attributes[1]!.kl, 8);
    a.dispose();
    b.dispose();
    x.dispose();
  });
});
