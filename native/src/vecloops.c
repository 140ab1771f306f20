/*
 * Element-wise loops written so that the compiler vectorises them (see
 * vecloops.h for what each does).
 *
 * Why: glibc's expf is a scalar call, and the loops that called it also
 * indexed the bias with `i % n` (a division per value). On the mlp sampling
 * benchmark (batch 256; CPU time on the loaded 2-core machine,
 * docs/PERFORMANCE.md "Sampling path (perfsample)") the generator's two
 * epilogues (bias + ReLU over 262 k values, bias + sigmoid over 786 k) cost
 * ~2.7 and ~4–5 ms beside GEMMs of 2.6 and 15.5 ms, and the flow's 8 blocks
 * 32–35 ms against ~18.4 ms of GEMMs; after: 3.3, 17.5 and 24 ms in all.
 * Here the bias runs by rows (no division) and exp is a polynomial with the
 * exponent set by integer arithmetic, which -O3 turns into SIMD code.
 *
 * vl_exp(x), for x in [-87.33, 88.37] (outside: clamped to those ends; NaN
 * stays NaN): x = k·ln2 + r with k = round(x / ln2), |r| ≤ ln2/2 (ln2 split
 * in two so that k·ln2_hi is exact), e^r by a degree-6 polynomial fitted
 * for least maximum relative error on [−ln2/2, ln2/2] (1.7e-8 with float32
 * coefficients, against float's 6e-8 half-ulp), then times 2^k built in
 * the exponent bits. Error: ≤ 2e-7 relative (~2 ulp; 1.07e-7 measured over
 * 1 M inputs spread over the range, test/engine/sampling-path.test.ts).
 *
 * Built with -ffp-contract=off (native/build.js): no fused multiply-adds,
 * so a value is the same whether it went through the SIMD body or the
 * scalar remainder of a loop, whatever the batch size (sampling promises the
 * same images for a seed whatever the batch).
 *
 * Function clones for AVX-512 and AVX2 (picked once at load by the CPU's
 * features; GCC target_clones) with the baseline SSE2 code as the default.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>
#include "vecloops.h"

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define VL_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define VL_CLONES
#endif

static const float EXP_LO = -87.33f;   /* e^x ≥ 2^-126 (the smallest normal float) */
static const float EXP_HI = 88.37f;    /* e^x < 2^127.5, so 2^k stays a finite float */
static const float LOG2E = 1.44269502f;
static const float LN2_HI = 0.693145751953125f;     /* 15 significant bits: k·LN2_HI is exact */
static const float LN2_LO = 1.428606765330187e-06f; /* ln 2 − LN2_HI */
static const float ROUND = 12582912.0f;             /* 1.5·2^23: adding it rounds to an integer */
static const uint32_t ROUND_BITS = 0x4B400000u;

static inline float vl_exp(float x) {
  x = x < EXP_LO ? EXP_LO : x;
  x = x > EXP_HI ? EXP_HI : x;
  const float t = x * LOG2E + ROUND; /* k + ROUND, exactly: k sits in the low mantissa bits */
  const float k = t - ROUND;
  uint32_t tb;
  memcpy(&tb, &t, sizeof tb);
  const float r = (x - k * LN2_HI) - k * LN2_LO;
  const float p = 1.0f + r * (1.0f + r * (0.49999994f + r * (0.16666432f + r * (0.041668002f + r * (0.0083741555f + r * 0.0013843654f)))));
  const uint32_t sb = (tb - ROUND_BITS + 127u) << 23; /* 2^k */
  float scale;
  memcpy(&scale, &sb, sizeof scale);
  return p * scale;
}

/* tanh from one exp, as the scalar kernel did: |z| ≥ 9 is ±1 in float; near 0 the series avoids cancellation. */
static inline float vl_tanh(float z) {
  float zc = z > 9.0f ? 9.0f : z;
  zc = zc < -9.0f ? -9.0f : zc;
  const float e = vl_exp(2.0f * zc);
  const float t = (e - 1.0f) / (e + 1.0f);
  const float series = z - z * z * z / 3.0f;
  return (z > -0.03f) & (z < 0.03f) ? series : t; /* & not &&: no branch, so the loop vectorises */
}

VL_CLONES void vl_bias_activation(float *y, size_t len, const float *bias, size_t lb, size_t n, int act, float alpha) {
  /* a per-column bias goes row by row (no i mod n); otherwise one run over everything */
  const size_t run = bias && lb != 1 ? n : len;
  for (size_t o = 0; o < len; o += run) {
    const size_t m = len - o < run ? len - o : run;
    float *restrict p = y + o;
    if (bias && lb == 1) {
      const float b = bias[0];
      for (size_t j = 0; j < m; j++) p[j] += b;
    } else if (bias) {
      for (size_t j = 0; j < m; j++) p[j] += bias[j];
    }
    switch (act) {
      case 1: for (size_t j = 0; j < m; j++) p[j] = p[j] > 0 ? p[j] : 0; break;
      case 2: for (size_t j = 0; j < m; j++) p[j] = p[j] < 0 ? 0 : (p[j] > 6 ? 6 : p[j]); break;
      case 3: for (size_t j = 0; j < m; j++) p[j] = p[j] > 0 ? p[j] : alpha * p[j]; break;
      case 4: for (size_t j = 0; j < m; j++) p[j] = 1.0f / (1.0f + vl_exp(-p[j])); break;
      case 5: for (size_t j = 0; j < m; j++) p[j] = p[j] > 0 ? p[j] : expm1f(p[j]); break; /* rare: exact libm */
      default: break;
    }
  }
}

VL_CLONES void vl_coupling_rows(int n, int h1, int h2, const float *X, const float *st, const float *restrict B2,
                                const float *restrict sigma, const float *restrict OFF, double logSigma, float *S, float *v, float *y, float *out) {
  const int d = h1 + h2, D1 = d + 1, W = 2 * h2;
  for (int i = 0; i < n; i++) {
    const float *restrict xr = X + (size_t)i * D1;
    const float *restrict str = st + (size_t)i * W;
    float *restrict vr = v + (size_t)i * d;
    float *restrict yr = y + (size_t)i * d;
    float *restrict sr = S + (size_t)i * h2;
    /* three simple passes over the row: each one vectorises */
    for (int j = 0; j < h1; j++) vr[j] = xr[j];
    for (int j = 0; j < h2; j++) {
      const float s = 2.0f * vl_tanh(0.1f * (str[j] + B2[j]));
      sr[j] = s;
      vr[h1 + j] = xr[h1 + j] * vl_exp(s) + 0.1f * (str[h2 + j] + B2[h2 + j]);
    }
    for (int j = 0; j < d; j++) yr[j] = (float)((double)vr[j] * sigma[j] + OFF[j]);
    double sumS = 0; /* in order, in double, as before: a separate pass keeps the loop above vectorisable */
    for (int j = 0; j < h2; j++) sumS += sr[j];
    out[(size_t)i * D1 + d] = (float)((double)xr[d] + sumS + logSigma);
  }
}

/*
 * The backward twin of vl_coupling_rows for one row's b half, in float with
 * vl_exp for e = exp(s) (the forward's exp, so the gradient uses the factor
 * the forward applied): db = dv_b·e, ds = dv_b·b·e + dℓ, dpre = 0.1·[ds̃ | dt]
 * with ds̃ = 2 (1 − (s/2)²) ds. The loop it replaced called glibc's expf per
 * value (16 k per block) and worked in double, which kept it scalar; float
 * moves the gradients by a few ulp (test/engine/fused-coupling.test.ts and
 * native-loops.test.ts compare them with the unfused ops and the JS twin).
 * A function of its own with restrict arguments: inline in the row loop, GCC
 * did not vectorise it.
 */
static inline void coupling_row_backward(int h2, const float *restrict dvb, const float *restrict s, const float *restrict b, float dl,
                                         float *restrict db, float *restrict dst, float *restrict dt) {
  for (int j = 0; j < h2; j++) {
    const float e = vl_exp(s[j]);
    const float th = 0.5f * s[j];
    db[j] = dvb[j] * e; /* two floats' product rounded once: the same as in double */
    const float ds = dvb[j] * b[j] * e + dl;
    dst[j] = 0.2f * (1.0f - th * th) * ds;
    dt[j] = 0.1f * dvb[j];
  }
}

VL_CLONES void vl_coupling_rows_backward(int n, int h1, int h2, const float *X, const float *DY, const float *dw, const float *S,
                                         float *dx, float *dpre) {
  const int d = h1 + h2, D1 = d + 1, W = 2 * h2;
  for (int i = 0; i < n; i++) {
    const float *wr = dw + (size_t)i * d;
    float *dxr = dx + (size_t)i * D1, *pr = dpre + (size_t)i * W;
    const float dl = DY[(size_t)i * D1 + d];
    memcpy(dxr, wr, sizeof(float) * (size_t)h1); /* da = dv_a (the subnet's share is added later) */
    coupling_row_backward(h2, wr + h1, S + (size_t)i * h2, X + (size_t)i * D1 + h1, dl, dxr + h1, pr, pr + h2);
    dxr[d] = dl;
  }
}

/* LeakyReLU's gradient in place: du = h > 0 ? du : alpha·du (a select, so it vectorises). */
VL_CLONES void vl_leaky_grad(float *restrict du, const float *restrict h, size_t len, float alpha) {
  for (size_t o = 0; o < len; o++) du[o] = h[o] > 0 ? du[o] : alpha * du[o];
}

VL_CLONES static void exp_run(const float *restrict x, float *restrict out, size_t n) {
  for (size_t i = 0; i < n; i++) out[i] = vl_exp(x[i]);
}

/* In place allowed (src = dst): no restrict. NaN → 0, as images.ts's JS loop. */
VL_CLONES static void clamp_run(const float *src, float *dst, size_t n) {
  for (size_t i = 0; i < n; i++) {
    const float v = src[i];
    dst[i] = v > 1.0f ? 1.0f : (v >= 0.0f ? v : 0.0f);
  }
}

static bool two_arrays(napi_env env, napi_callback_info info, const char *usage, float **a, float **b, size_t *n) {
  size_t argc = 2, la = 0, lb = 0;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc != 2) {
    napi_throw_error(env, NULL, usage);
    return false;
  }
  *a = float_data(env, argv[0], &la);
  *b = *a ? float_data(env, argv[1], &lb) : NULL;
  if (!*b) return false;
  if (la != lb) {
    napi_throw_range_error(env, NULL, "the two arrays must have the same length");
    return false;
  }
  *n = la;
  return true;
}

/* fastExp(x, out): out = vl_exp(x), for tests of the bound above. */
napi_value FastExp(napi_env env, napi_callback_info info) {
  float *x, *out;
  size_t n;
  if (two_arrays(env, info, "fastExp(x, out)", &x, &out, &n)) exp_run(x, out, n);
  return NULL;
}

/* clampUnit(src, dst): dst = min(max(src, 0), 1) with NaN → 0 (the sampler's images). */
napi_value ClampUnit(napi_env env, napi_callback_info info) {
  float *src, *dst;
  size_t n;
  if (two_arrays(env, info, "clampUnit(src, dst)", &src, &dst, &n)) clamp_run(src, dst, n);
  return NULL;
}
