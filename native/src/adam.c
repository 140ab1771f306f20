/* The optimiser's loops (src/engine/adam.ts): gradient norm and the Adam update. */
#include <math.h>
#include <stdlib.h>
#include "addon.h"

/* sumSquares(a): Σ a_i² in double (the gradient norm of the optimiser, src/engine/adam.ts). */
napi_value SumSquares(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  size_t n;
  const float *a = argc == 1 ? float_data(env, argv[0], &n) : NULL;
  if (!a) return NULL;
  double s = 0;
  for (size_t i = 0; i < n; i++) s += (double)a[i] * a[i];
  napi_value result;
  napi_create_double(env, s, &result);
  return result;
}

/*
 * The loops below run in SIMD. Why: GCC keeps sqrtf a libm call (to set
 * errno on a negative input) unless -fno-math-errno, so the Adam loop ran one
 * value at a time, and an in-order double sum is a chain the compiler may not
 * reorder. Measured on the 2-core machine (1.6 M values, caches flushed,
 * 1 / 2 threads): scalar update 4.7 / 2.6 ms, sum of squares 1.04 / 0.66 ms;
 * the SIMD figures are in docs/PERFORMANCE.md.
 */
#if defined(__SSE2__)
#include <immintrin.h>
#define ADAM_SSE 1
#endif
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define ADAM_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define ADAM_CLONES
#endif

/*
 * The Adam step over n values, h as below: four values at a time with SSE
 * (sqrt and division are correctly rounded in SIMD as in scalar code, and the
 * operations are the scalar expression's, in its order, so each value is the
 * same bit for bit whichever path or thread ran it), the rest one by one.
 */
static void update_range(float *p, const float *g, float *m, float *v, size_t n, const double *h) {
  const float coef = (float)h[0], b1 = (float)h[1], b2 = (float)h[2], stepSize = (float)h[3], sbc2 = (float)h[4], eps = (float)h[5], decay = (float)h[6];
  const float c1 = 1.0f - b1, c2 = 1.0f - b2;
  size_t i = 0;
#ifdef ADAM_SSE
  const __m128 vcoef = _mm_set1_ps(coef), vb1 = _mm_set1_ps(b1), vb2 = _mm_set1_ps(b2), vc1 = _mm_set1_ps(c1), vc2 = _mm_set1_ps(c2);
  const __m128 vstep = _mm_set1_ps(stepSize), vsbc2 = _mm_set1_ps(sbc2), veps = _mm_set1_ps(eps), vdecay = _mm_set1_ps(decay);
  for (; i + 4 <= n; i += 4) {
    const __m128 gi = _mm_mul_ps(_mm_loadu_ps(g + i), vcoef);
    const __m128 mi = _mm_add_ps(_mm_mul_ps(vb1, _mm_loadu_ps(m + i)), _mm_mul_ps(vc1, gi));
    const __m128 vi = _mm_add_ps(_mm_mul_ps(vb2, _mm_loadu_ps(v + i)), _mm_mul_ps(_mm_mul_ps(vc2, gi), gi));
    _mm_storeu_ps(m + i, mi);
    _mm_storeu_ps(v + i, vi);
    const __m128 den = _mm_add_ps(_mm_div_ps(_mm_sqrt_ps(vi), vsbc2), veps);
    _mm_storeu_ps(p + i, _mm_sub_ps(_mm_mul_ps(_mm_loadu_ps(p + i), vdecay), _mm_div_ps(_mm_mul_ps(vstep, mi), den)));
  }
#endif
  for (; i < n; i++) {
    const float gi = g[i] * coef;
    const float mi = b1 * m[i] + c1 * gi;
    const float vi = b2 * v[i] + c2 * gi * gi;
    m[i] = mi;
    v[i] = vi;
    p[i] = p[i] * decay - stepSize * mi / (sqrtf(vi) / sbc2 + eps);
  }
}

/*
 * Σ a_i² in double over LANES interleaved partial sums (lane l takes i ≡ l
 * mod LANES), added in a fixed order at the end, so the compiler runs the
 * lanes in SIMD and the sum depends on the values only.
 */
enum { LANES = 8 };
ADAM_CLONES static double sum_squares_run(const float *restrict a, size_t n) {
  double lane[LANES] = {0};
  const size_t body = n - n % LANES;
  for (size_t i = 0; i < body; i += LANES)
    for (int l = 0; l < LANES; l++) lane[l] += (double)a[i + l] * a[i + l];
  for (size_t i = body; i < n; i++) lane[i - body] += (double)a[i] * a[i];
  double s = 0;
  for (int l = 0; l < LANES; l++) s += lane[l];
  return s;
}

/*
 * adamUpdate(p, g, m, v, h): one Adam step in place, h = Float64Array
 * [coef, beta1, beta2, stepSize, sqrtBc2, eps, decay]:
 *   g' = coef·g; m = β1 m + (1−β1) g'; v = β2 v + (1−β2) g'²;
 *   p = p·decay − stepSize · m / (√v / sqrtBc2 + eps)
 * (float32 like the tensor version; one pass instead of ~10 over 1.6 M values).
 */
napi_value AdamUpdate(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  if (!get_args(env, info, 5, argv, "adamUpdate(p, g, m, v, hyper)")) return NULL;
  size_t lp, lg, lm, lv;
  float *p = float_data(env, argv[0], &lp);
  const float *g = p ? float_data(env, argv[1], &lg) : NULL;
  float *m = g ? float_data(env, argv[2], &lm) : NULL;
  float *v = m ? float_data(env, argv[3], &lv) : NULL;
  if (!v) return NULL;
  napi_typedarray_type type;
  size_t lh;
  void *hd = NULL;
  napi_value buffer;
  size_t offset;
  if (napi_get_typedarray_info(env, argv[4], &type, &lh, &hd, &buffer, &offset) != napi_ok || type != napi_float64_array || lh < 7) {
    napi_throw_type_error(env, NULL, "adamUpdate: expected a Float64Array of 7 hyper-parameters");
    return NULL;
  }
  if (lg != lp || lm != lp || lv != lp) {
    napi_throw_range_error(env, NULL, "adamUpdate: p, g, m and v must have the same length");
    return NULL;
  }
  update_range(p, g, m, v, lp, (const double *)hd);
  return NULL;
}

/*
 * The whole optimiser step in two calls instead of two per variable, split
 * over `threads` threads (the caller passes OpenBLAS's current count, so the
 * trainings' share of the cores holds here too). Both loops are memory-bound
 * (Adam reads 4 and writes 3 arrays of 6.4 MB for the benchmark's flow).
 */
enum { MIN_PER_PART = 1 << 16, CHUNK = 1 << 15 };

/* Reads a JS array of Float32Arrays; NULL (thrown) on a bad one. The caller frees *ptrs. */
static bool f32_list(napi_env env, napi_value list, uint32_t *count, float ***ptrs, size_t **lens) {
  bool is_array = false;
  napi_is_array(env, list, &is_array);
  if (!is_array) {
    napi_throw_type_error(env, NULL, "expected an array of Float32Arrays");
    return false;
  }
  napi_get_array_length(env, list, count);
  *ptrs = (float **)malloc(sizeof(float *) * (*count + 1));
  *lens = (size_t *)malloc(sizeof(size_t) * (*count + 1));
  if (!*ptrs || !*lens) {
    free(*ptrs);
    free(*lens);
    napi_throw_error(env, NULL, "adam: out of memory");
    return false;
  }
  for (uint32_t i = 0; i < *count; i++) {
    napi_value item;
    napi_get_element(env, list, i, &item);
    (*ptrs)[i] = float_data(env, item, &(*lens)[i]);
    if (!(*ptrs)[i]) {
      free(*ptrs);
      free(*lens);
      return false;
    }
  }
  return true;
}

static int32_t threads_arg(napi_env env, napi_value value) {
  int32_t threads = 1;
  napi_get_value_int32(env, value, &threads);
  return threads < 1 ? 1 : threads;
}

typedef struct {
  float **a;
  size_t *lens;
  uint32_t count;
  size_t chunks;
  double *sums;
} squares_t;

/* Chunk c of the arrays: chunks are numbered array by array, CHUNK values each (the last of an array shorter). */
static void squares_part(void *ctx, int part, int parts) {
  squares_t *s = (squares_t *)ctx;
  const size_t lo = s->chunks * part / parts, hi = s->chunks * (part + 1) / parts;
  size_t c = 0;
  for (uint32_t i = 0; i < s->count && c < hi; i++) {
    const size_t n = s->lens[i];
    for (size_t o = 0; o < n && c < hi; o += CHUNK, c++) {
      if (c < lo) continue;
      const float *a = s->a[i] + o;
      const size_t len = n - o < CHUNK ? n - o : CHUNK;
      s->sums[c] = sum_squares_run(a, len);
    }
  }
}

/* sumSquaresAll(arrays, threads): Σ over all arrays of a_i², in double, summed chunk by chunk in a fixed order (the same for any thread count). */
napi_value SumSquaresAll(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!get_args(env, info, 2, argv, "sumSquaresAll(arrays, threads)")) return NULL;
  squares_t s = {0};
  if (!f32_list(env, argv[0], &s.count, &s.a, &s.lens)) return NULL;
  size_t total = 0;
  for (uint32_t i = 0; i < s.count; i++) {
    s.chunks += (s.lens[i] + CHUNK - 1) / CHUNK;
    total += s.lens[i];
  }
  s.sums = (double *)calloc(s.chunks + 1, sizeof(double));
  double sum = 0;
  if (s.sums) {
    run_parts(parts_for(total, threads_arg(env, argv[1]), MIN_PER_PART), squares_part, &s);
    for (size_t c = 0; c < s.chunks; c++) sum += s.sums[c];
  }
  free(s.a);
  free(s.lens);
  free(s.sums);
  if (!s.sums && s.chunks) {
    napi_throw_error(env, NULL, "adam: out of memory");
    return NULL;
  }
  napi_value result;
  napi_create_double(env, sum, &result);
  return result;
}

typedef struct {
  float **p, **g;
  size_t *lens;
  uint32_t count;
  size_t total;
  float *m, *v;
  const double *h;
} update_t;

/* Values [lo, hi) of the concatenated variables (m and v are laid out the same way). */
static void update_part(void *ctx, int part, int parts) {
  update_t *u = (update_t *)ctx;
  const size_t lo = u->total * part / parts, hi = u->total * (part + 1) / parts;
  size_t o = 0;
  for (uint32_t i = 0; i < u->count && o < hi; o += u->lens[i], i++) {
    const size_t a = lo > o ? lo - o : 0, b = hi - o < u->lens[i] ? hi - o : u->lens[i];
    if (a < b) update_range(u->p[i] + a, u->g[i] + a, u->m + o + a, u->v + o + a, b - a, u->h);
  }
}

/* adamUpdateAll(ps, gs, m, v, h, threads): adamUpdate of every variable, m and v being all variables' state end to end. */
napi_value AdamUpdateAll(napi_env env, napi_callback_info info) {
  napi_value argv[6];
  if (!get_args(env, info, 6, argv, "adamUpdateAll(ps, gs, m, v, hyper, threads)")) return NULL;
  update_t u = {0};
  uint32_t gcount = 0;
  size_t *glens = NULL, lm = 0, lv = 0, lh = 0;
  if (!f32_list(env, argv[0], &u.count, &u.p, &u.lens)) return NULL;
  if (!f32_list(env, argv[1], &gcount, &u.g, &glens)) {
    free(u.p);
    free(u.lens);
    return NULL;
  }
  u.m = float_data(env, argv[2], &lm);
  u.v = u.m ? float_data(env, argv[3], &lv) : NULL;
  napi_typedarray_type type = napi_int8_array;
  void *hd = NULL;
  napi_value buffer;
  size_t offset;
  if (u.v && (napi_get_typedarray_info(env, argv[4], &type, &lh, &hd, &buffer, &offset) != napi_ok || type != napi_float64_array || lh < 7)) {
    napi_throw_type_error(env, NULL, "adamUpdateAll: expected a Float64Array of 7 hyper-parameters");
    u.v = NULL;
  }
  bool ok = u.v != NULL && gcount == u.count;
  for (uint32_t i = 0; ok && i < u.count; i++) {
    ok = glens[i] == u.lens[i];
    u.total += u.lens[i];
  }
  if (u.v && (!ok || lm != u.total || lv != u.total)) {
    napi_throw_range_error(env, NULL, "adamUpdateAll: each gradient must match its variable, and m and v hold all of them");
    ok = false;
  }
  if (ok) {
    u.h = (const double *)hd;
    run_parts(parts_for(u.total, threads_arg(env, argv[5]), MIN_PER_PART), update_part, &u);
  }
  free(u.p);
  free(u.g);
  free(u.lens);
  free(glens);
  return NULL;
}
