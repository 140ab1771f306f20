/**
 * The statistics behind the `debias` and `classifier` controls, in plain numbers (N × K
 * is small): the fit of the tilt β̂, its noise shrinkage, online moment matching, and the
 * marginals they are judged by. No tensors here, so every formula is testable on its own.
 */

/** Options of fitDebias: Adam's iterations and rate; `counts` replaces h = φ by one-hot counts. */
export interface FitOptions {
  iterations?: number;
  learningRate?: number;
  counts?: number[][];
}

/** What fitDebias found: β̂ and the marginals before and after the tilt. */
export interface DebiasFit {
  beta: number[];
  loss: number;
  initialLoss: number;
  marginalBefore: number[];
  marginalAfter: number[];
  softBefore: number[];
  softAfter: number[];
  iterations: number;
  effectiveSampleSize: number;
}

/** Predicted (argmax) index per row of a JS matrix. */
export function argmaxRows(rows: number[][]): number[] {
  return rows.map((r) => {
    let best = 0;
    for (let k = 1; k < r.length; k++) if (r[k] > r[best]) best = k;
    return best;
  });
}

/** KL(p ‖ q) in nats; terms with p = 0 contribute 0. */
export function kl(p: number[], q: number[]): number {
  let s = 0;
  for (let k = 0; k < p.length; k++) if (p[k] > 0) s += p[k] * Math.log(p[k] / Math.max(q[k], 1e-12));
  return s;
}

/**
 * One step of online moment matching (dual ascent on the constraint E_q[φ] = target
 * over the prompt's own samples q): β ← β + rate · (target − mean φ of the batch),
 * centred (Σφ = 1, so βᵀφ is defined up to a constant) and kept within ±20.
 * Its fixed point is the exponential tilt exp(βᵀφ) that matches the moments, the
 * same family as debias's β̂, but measured where the flow actually puts its
 * samples: reverse-KL training is mode-seeking and may otherwise settle on one
 * of several equally good classes.
 */
export function momentStep(beta: number[], meanPhi: number[], target: number[], rate: number): number[] {
  const next = beta.map((b, k) => b + rate * (target[k] - meanPhi[k]));
  const mu = next.reduce((a, b) => a + b, 0) / next.length;
  return next.map((b) => Math.max(-20, Math.min(20, b - mu)));
}

/**
 * Fits β so that the exponential tilt ω_j = exp(βᵀφ_j) of N base samples moves a
 * marginal onto the target, by Adam on ‖Σ_j ω_j h_j / Σ_j ω_j − target‖².
 *
 * φ_j are the tilt's features (the energy is −βᵀφ(x), so φ must be smooth in x: a
 * softmax). h_j are what the marginal is taken of, and by default h = φ (the
 * mean-probability constraint). With `opts.counts`, h_j is the one-hot of image j's
 * predicted class: the tilt then puts the target share of *images* in each class as
 * the classifier counts them. The two differ for an uncertain classifier: its mean
 * softmax can sit at the target while the share of images it calls each class does
 * not (35.5 % "male" counted against 43.4 % mean probability, issue #14), and then
 * the mean-probability fit has nothing left to correct.
 *
 * Gradient: ∂m/∂β = Cov_ω(h, φ), so ∂loss/∂β_l = 2 Σ_j ω̄_j (d·(h_j − m)) (φ_jl − φ̄_l)
 * with ω̄ normalised, d = m − target, φ̄ = Σ ω̄_j φ_j. Starts from the one-hot solution
 * β₀ = log(target / mean h) (or 0 if that is worse). β is returned centred (βᵀφ is
 * defined up to a constant since Σ_k φ_k = 1).
 *
 * phi: N rows of K probabilities (each row sums to 1); target: K probabilities.
 */
export function fitDebias(phi: number[][], target: number[], opts: FitOptions = {}): DebiasFit {
  const N = phi.length;
  const K = target.length;
  if (!N) throw new Error('debias: no samples to fit on');
  if (phi.some((r) => r.length !== K)) throw new Error(`debias: every φ row must have ${K} entries`);
  const h = opts.counts || phi;
  if (h.length !== N || h.some((r) => r.length !== K))
    throw new Error(`debias: counts must have ${N} rows of ${K} entries`);
  const iterations = opts.iterations ?? 500;
  const lr = opts.learningRate ?? 0.05;
  const tsum = target.reduce((a, b) => a + b, 0);
  const t = target.map((x) => x / tsum);

  const meanOf = (rows: number[][], a?: number[]): number[] => {
    const m: number[] = new Array(K).fill(0);
    for (let j = 0; j < N; j++) for (let k = 0; k < K; k++) m[k] += (a ? a[j] : 1 / N) * rows[j][k];
    return m;
  };
  const mean0 = meanOf(h);

  const weights = (beta: number[]): number[] => {
    const logits = phi.map((r) => r.reduce((s, v, k) => s + v * beta[k], 0));
    const mx = Math.max(...logits);
    const w = logits.map((l) => Math.exp(l - mx));
    const z = w.reduce((a, b) => a + b, 0);
    return w.map((x) => x / z);
  };
  const state = (beta: number[]) => {
    const a = weights(beta);
    const m = meanOf(h, a);
    const d = m.map((x, k) => x - t[k]);
    const loss = d.reduce((s, x) => s + x * x, 0);
    return { a, m, d, loss };
  };
  const centre = (b: number[]): number[] => {
    const mu = b.reduce((s, x) => s + x, 0) / K;
    return b.map((x) => x - mu);
  };

  let beta = centre(t.map((x, k) => Math.log(x / Math.max(mean0[k], 1e-4))));
  let st = state(beta);
  const zero: number[] = new Array(K).fill(0);
  if (st.loss > state(zero).loss) {
    beta = zero.slice();
    st = state(beta);
  }
  const initialLoss = state(zero).loss;
  let best = { beta: beta.slice(), st };
  const m1: number[] = new Array(K).fill(0);
  const m2: number[] = new Array(K).fill(0);
  const b1 = 0.9;
  const b2 = 0.999;
  let it = 0;
  for (; it < iterations; it++) {
    const phiBar = meanOf(phi, st.a);
    const g: number[] = new Array(K).fill(0);
    for (let j = 0; j < N; j++) {
      let dc = 0;
      for (let k = 0; k < K; k++) dc += st.d[k] * (h[j][k] - st.m[k]);
      const c = 2 * st.a[j] * dc;
      for (let l = 0; l < K; l++) g[l] += c * (phi[j][l] - phiBar[l]);
    }
    for (let l = 0; l < K; l++) {
      m1[l] = b1 * m1[l] + (1 - b1) * g[l];
      m2[l] = b2 * m2[l] + (1 - b2) * g[l] * g[l];
      const mh = m1[l] / (1 - Math.pow(b1, it + 1));
      const vh = m2[l] / (1 - Math.pow(b2, it + 1));
      beta[l] -= (lr * mh) / (Math.sqrt(vh) + 1e-12);
    }
    beta = centre(beta);
    st = state(beta);
    if (st.loss < best.st.loss) best = { beta: beta.slice(), st };
    if (best.st.loss < 1e-12) break;
  }
  const a = best.st.a;
  const ess = 1 / a.reduce((s, x) => s + x * x, 0);
  return {
    beta: best.beta,
    loss: best.st.loss,
    initialLoss,
    marginalBefore: mean0,
    marginalAfter: best.st.m,
    softBefore: meanOf(phi),
    softAfter: meanOf(phi, a),
    iterations: Math.min(it + 1, iterations),
    effectiveSampleSize: ess,
  };
}

/** One-hot rows of each row's argmax (the classifier's count of each image). */
export function oneHotRows(rows: number[][]): number[][] {
  return argmaxRows(rows).map((c) => {
    const r: number[] = new Array(rows[0].length).fill(0);
    r[c] = 1;
    return r;
  });
}

/**
 * How much of the base marginal's deviation from the target is more than sampling
 * noise. With m₀ the mean of the N rows of φ, d = m₀ − target and Σ their
 * covariance (on K − 1 coordinates: the rows sum to 1), Hotelling's
 * T² = N·dᵀΣ⁻¹d has expectation (K − 1) + N·δᵀΣ⁻¹δ for a true deviation δ, so
 * s = max(0, 1 − (K − 1)/T²) estimates the share of d that is real (positive part,
 * as in James–Stein). The fit then aims at m₀ − s·d instead of the target: a base
 * already at the target up to noise gets β̂ ≈ 0, not a tilt toward its noise, while
 * a clearly biased base (T² ≫ K) is corrected in full.
 *
 * phi: N rows of K probabilities; target: K probabilities (normalised).
 */
export function noiseShrinkage(
  phi: number[][],
  target: number[],
): { shrinkage: number; t2: number; fitTarget: number[] } {
  const N = phi.length;
  const K = target.length;
  const p = K - 1;
  const mean: number[] = new Array(K).fill(0);
  for (const r of phi) for (let k = 0; k < K; k++) mean[k] += r[k] / N;
  const d = mean.map((m, k) => m - target[k]);
  if (N < 2 || p < 1) return { shrinkage: 1, t2: Infinity, fitTarget: target.slice() };
  // covariance of the first K − 1 coordinates, with a small ridge for classes that never vary
  const S: number[][] = Array.from({ length: p }, () => new Array(p).fill(0));
  for (const r of phi) {
    for (let i = 0; i < p; i++) {
      const ci = r[i] - mean[i];
      for (let j = 0; j <= i; j++) S[i][j] += (ci * (r[j] - mean[j])) / (N - 1);
    }
  }
  let trace = 0;
  for (let i = 0; i < p; i++) {
    for (let j = 0; j < i; j++) S[j][i] = S[i][j];
    trace += S[i][i];
  }
  const ridge = 1e-9 + 1e-6 * (trace / p);
  for (let i = 0; i < p; i++) S[i][i] += ridge;
  // solve S x = d[0..p) by Cholesky (S is symmetric positive definite)
  const L: number[][] = Array.from({ length: p }, () => new Array(p).fill(0));
  for (let i = 0; i < p; i++) {
    for (let j = 0; j <= i; j++) {
      let v = S[i][j];
      for (let k = 0; k < j; k++) v -= L[i][k] * L[j][k];
      L[i][j] = i === j ? Math.sqrt(Math.max(v, 1e-300)) : v / L[j][j];
    }
  }
  const y: number[] = new Array(p).fill(0);
  for (let i = 0; i < p; i++) {
    let v = d[i];
    for (let k = 0; k < i; k++) v -= L[i][k] * y[k];
    y[i] = v / L[i][i];
  }
  const t2 = N * y.reduce((a, v) => a + v * v, 0); // N · dᵀS⁻¹d = N · ‖L⁻¹d‖²
  const shrinkage = t2 > p ? 1 - p / t2 : 0;
  return { shrinkage, t2, fitTarget: mean.map((m, k) => m - shrinkage * d[k]) };
}

/** Normalised tilt weights exp(βᵀφ_j) / Σ. */
export function tiltWeights(phi: number[][], beta: number[]): number[] {
  const l = phi.map((r) => r.reduce((s, v, k) => s + v * beta[k], 0));
  const mx = Math.max(...l);
  const w = l.map((x) => Math.exp(x - mx));
  const z = w.reduce((s, x) => s + x, 0);
  return w.map((x) => x / z);
}

/** Σ_j w_j rows_j (w null: the plain mean). */
export function weightedMean(rows: number[][], w: number[] | null): number[] {
  const K = rows[0] ? rows[0].length : 0;
  const m: number[] = new Array(K).fill(0);
  rows.forEach((r, j) => {
    const wj = w ? w[j] : 1 / rows.length;
    for (let k = 0; k < K; k++) m[k] += wj * r[k];
  });
  return m;
}
