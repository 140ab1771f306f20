/**
 * The de-biasing fit of @promptgen/controls on synthetic φ with a known answer: β̂ from one-hot
 * and soft φ, target normalisation, noise shrinkage, counted vs mean-probability fits, the dual
 * ascent step and the KL divergence. Pure maths: no model, no backend.
 */
import { Rng } from '../../../src/engine/rng';
import { fitDebias, kl, momentStep, noiseShrinkage, oneHotRows, tiltWeights } from './maths';

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
    const logits = Array.from(
      { length: K },
      (_, k) => (k === c ? Math.log(conf / (1 - conf)) + Math.log(K - 1) : 0) + 0.3 * (r() - 0.5),
    );
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

  test('momentStep: dual ascent toward the target, centred and bounded', () => {
    const b = momentStep([0, 0, 0], [0.6, 0.3, 0.1], [1 / 3, 1 / 3, 1 / 3], 0.5);
    expect(b.reduce((a, x) => a + x, 0)).toBeCloseTo(0, 12);
    expect(b[0]).toBeLessThan(b[1]!);
    expect(b[1]).toBeLessThan(b[2]!);
    expect(momentStep([19.9, -19.9], [0, 1], [1, 0], 100)).toEqual([20, -20]);
  });

  test('kl', () => {
    expect(kl([0.5, 0.5], [0.5, 0.5])).toBe(0);
    expect(kl([1, 0], [0.5, 0.5])).toBeCloseTo(Math.log(2), 10);
  });
});
