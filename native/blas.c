/*
 * A tiny N-API addon: single-precision GEMM from the machine's OpenBLAS,
 * run in place on Float32Array views (for the wasm backend: views of its
 * heap, so no tensor is copied). OpenBLAS is opened with dlopen at load
 * time, so the addon builds without BLAS headers and simply reports itself
 * unavailable where no OpenBLAS is installed.
 *
 * Besides GEMM it holds the loops around it that were JS before: im2col and
 * col2im of the convolutions (src/engine/kernels/native-conv.ts) and the
 * fused ops' bias + activation epilogue. Each has a JS twin giving the same
 * numbers where the addon is missing.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>
#include <dlfcn.h>
#include <node_api.h>
#include <stddef.h>
#include "vecloops.h"

typedef void (*sgemm_fn)(int order, int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a, int lda,
                         const float *b, int ldb, float beta, float *c, int ldc);

typedef void (*set_threads_fn)(int n);

static sgemm_fn sgemm = NULL;
static set_threads_fn set_threads = NULL;
static const char *library = NULL;

enum { ROW_MAJOR = 101, NO_TRANS = 111, TRANS = 112 };

static void open_blas(void) {
  const char *candidates[] = {"libopenblas.so.0", "libopenblas.so", "libopenblasp.so.0", NULL};
  for (int i = 0; candidates[i] && !sgemm; i++) {
    void *handle = dlopen(candidates[i], RTLD_NOW | RTLD_LOCAL);
    if (!handle) continue;
    sgemm = (sgemm_fn)dlsym(handle, "cblas_sgemm");
    if (sgemm) {
      library = candidates[i];
      set_threads = (set_threads_fn)dlsym(handle, "openblas_set_num_threads");
    }
  }
}

float *float_data(napi_env env, napi_value value, size_t *length) {
  napi_typedarray_type type;
  void *data = NULL;
  napi_value buffer;
  size_t offset;
  if (napi_get_typedarray_info(env, value, &type, length, &data, &buffer, &offset) != napi_ok || type != napi_float32_array) {
    napi_throw_type_error(env, NULL, "expected a Float32Array");
    return NULL;
  }
  return (float *)data;
}

/* sgemm(a, b, c, m, n, k, transA, transB): c[m×n] = op(a) · op(b), row-major. */
static napi_value Sgemm(napi_env env, napi_callback_info info) {
  size_t argc = 8;
  napi_value argv[8];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc != 8) {
    napi_throw_error(env, NULL, "sgemm(a, b, c, m, n, k, transA, transB)");
    return NULL;
  }
  if (!sgemm) {
    napi_throw_error(env, NULL, "OpenBLAS is not available");
    return NULL;
  }
  size_t la, lb, lc;
  float *a = float_data(env, argv[0], &la);
  float *b = float_data(env, argv[1], &lb);
  float *c = float_data(env, argv[2], &lc);
  if (!a || !b || !c) return NULL;
  int32_t m, n, k;
  bool ta, tb;
  napi_get_value_int32(env, argv[3], &m);
  napi_get_value_int32(env, argv[4], &n);
  napi_get_value_int32(env, argv[5], &k);
  napi_get_value_bool(env, argv[6], &ta);
  napi_get_value_bool(env, argv[7], &tb);
  if (m < 0 || n < 0 || k < 0 || la < (size_t)m * k || lb < (size_t)k * n || lc < (size_t)m * n) {
    napi_throw_range_error(env, NULL, "sgemm: array too short for the given sizes");
    return NULL;
  }
  sgemm(ROW_MAJOR, ta ? TRANS : NO_TRANS, tb ? TRANS : NO_TRANS, m, n, k, 1.0f, a, ta ? m : k, b, tb ? k : n, 0.0f, c, n);
  return NULL;
}

/*
 * gemm(a, lda, b, ldb, c, ldc, m, n, k, transA, transB, alpha, beta):
 * c = alpha · op(a) · op(b) + beta · c, row-major with leading dimensions, so
 * a kernel can multiply column blocks of a tensor in place (the coupling
 * block's halves) and accumulate (beta = 1) without a copy.
 */
static napi_value Gemm(napi_env env, napi_callback_info info) {
  size_t argc = 13;
  napi_value argv[13];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc != 13) {
    napi_throw_error(env, NULL, "gemm(a, lda, b, ldb, c, ldc, m, n, k, transA, transB, alpha, beta)");
    return NULL;
  }
  if (!sgemm) {
    napi_throw_error(env, NULL, "OpenBLAS is not available");
    return NULL;
  }
  size_t la, lb, lc;
  float *a = float_data(env, argv[0], &la);
  float *b = float_data(env, argv[2], &lb);
  float *c = float_data(env, argv[4], &lc);
  if (!a || !b || !c) return NULL;
  int32_t lda, ldb, ldc, m, n, k;
  bool ta, tb;
  double alpha, beta;
  napi_get_value_int32(env, argv[1], &lda);
  napi_get_value_int32(env, argv[3], &ldb);
  napi_get_value_int32(env, argv[5], &ldc);
  napi_get_value_int32(env, argv[6], &m);
  napi_get_value_int32(env, argv[7], &n);
  napi_get_value_int32(env, argv[8], &k);
  napi_get_value_bool(env, argv[9], &ta);
  napi_get_value_bool(env, argv[10], &tb);
  napi_get_value_double(env, argv[11], &alpha);
  napi_get_value_double(env, argv[12], &beta);
  /* op(a) is m×k: stored rows × cols = (ta ? k×m : m×k); likewise b and c. */
  int64_t ar = ta ? k : m, ac = ta ? m : k, br = tb ? n : k, bc = tb ? k : n;
  if (m < 0 || n < 0 || k < 0 || lda < ac || ldb < bc || ldc < n || lda < 1 || ldb < 1 || ldc < 1 ||
      (ar > 0 && (size_t)((ar - 1) * lda + ac) > la) || (br > 0 && (size_t)((br - 1) * ldb + bc) > lb) ||
      (m > 0 && (size_t)((int64_t)(m - 1) * ldc + n) > lc)) {
    napi_throw_range_error(env, NULL, "gemm: array too short for the given sizes");
    return NULL;
  }
  if (m == 0 || n == 0) return NULL;
  sgemm(ROW_MAJOR, ta ? TRANS : NO_TRANS, tb ? TRANS : NO_TRANS, m, n, k, (float)alpha, a, lda, b, ldb, (float)beta, c, ldc);
  return NULL;
}

static int32_t *int_params(napi_env env, napi_value value, size_t want) {
  napi_typedarray_type type;
  void *data = NULL;
  size_t length;
  napi_value buffer;
  size_t offset;
  if (napi_get_typedarray_info(env, value, &type, &length, &data, &buffer, &offset) != napi_ok || type != napi_int32_array || length < want) {
    napi_throw_type_error(env, NULL, "expected an Int32Array of convolution parameters");
    return NULL;
  }
  return (int32_t *)data;
}

/* Convolution geometry, NHWC: p = [N, H, W, C, kh, kw, sh, sw, dh, dw, pt, pl, OH, OW, r0, r1]. */
enum { P_N, P_H, P_W, P_C, P_KH, P_KW, P_SH, P_SW, P_DH, P_DW, P_PT, P_PL, P_OH, P_OW, P_R0, P_R1, P_COUNT };

static bool conv_params_ok(napi_env env, const int32_t *p, size_t lx, size_t lcols) {
  int64_t K = (int64_t)p[P_KH] * p[P_KW] * p[P_C];
  int64_t rows = (int64_t)p[P_N] * p[P_OH] * p[P_OW];
  for (int i = 0; i < P_COUNT; i++) {
    if (p[i] < 0) goto bad;
  }
  if (p[P_SH] < 1 || p[P_SW] < 1 || p[P_DH] < 1 || p[P_DW] < 1 || p[P_R0] > p[P_R1] || p[P_R1] > rows ||
      (size_t)((int64_t)p[P_N] * p[P_H] * p[P_W] * p[P_C]) > lx || (size_t)((p[P_R1] - p[P_R0]) * K) > lcols) goto bad;
  return true;
bad:
  napi_throw_range_error(env, NULL, "im2col/col2im: parameters do not fit the arrays");
  return false;
}

/* im2col(x, cols, p): cols[(r - r0), (ky, kx, c)] = x[n, oy·sh − pt + ky·dh, ox·sw − pl + kx·dw, c], 0 outside. */
static napi_value Im2col(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc != 3) {
    napi_throw_error(env, NULL, "im2col(x, cols, params)");
    return NULL;
  }
  size_t lx, lcols;
  const float *x = float_data(env, argv[0], &lx);
  float *cols = x ? float_data(env, argv[1], &lcols) : NULL;
  const int32_t *p = cols ? int_params(env, argv[2], P_COUNT) : NULL;
  if (!p || !conv_params_ok(env, p, lx, lcols)) return NULL;
  const int H = p[P_H], W = p[P_W], C = p[P_C], kh = p[P_KH], kw = p[P_KW], OH = p[P_OH], OW = p[P_OW];
  float *o = cols;
  for (int64_t r = p[P_R0]; r < p[P_R1]; r++) {
    const int ox = (int)(r % OW);
    const int64_t t = r / OW;
    const int oy = (int)(t % OH);
    const int64_t n = t / OH;
    for (int ky = 0; ky < kh; ky++) {
      const int iy = oy * p[P_SH] - p[P_PT] + ky * p[P_DH];
      for (int kx = 0; kx < kw; kx++) {
        const int ix = ox * p[P_SW] - p[P_PL] + kx * p[P_DW];
        if (iy < 0 || iy >= H || ix < 0 || ix >= W) memset(o, 0, sizeof(float) * C);
        else memcpy(o, x + ((n * H + iy) * W + ix) * C, sizeof(float) * C);
        o += C;
      }
    }
  }
  return NULL;
}

/* col2im(cols, x, p): the adjoint of im2col, x[...] += cols[...] (x is not cleared). */
static napi_value Col2im(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc != 3) {
    napi_throw_error(env, NULL, "col2im(cols, x, params)");
    return NULL;
  }
  size_t lx, lcols;
  const float *cols = float_data(env, argv[0], &lcols);
  float *x = cols ? float_data(env, argv[1], &lx) : NULL;
  const int32_t *p = x ? int_params(env, argv[2], P_COUNT) : NULL;
  if (!p || !conv_params_ok(env, p, lx, lcols)) return NULL;
  const int H = p[P_H], W = p[P_W], C = p[P_C], kh = p[P_KH], kw = p[P_KW], OH = p[P_OH], OW = p[P_OW];
  const float *o = cols;
  for (int64_t r = p[P_R0]; r < p[P_R1]; r++) {
    const int ox = (int)(r % OW);
    const int64_t t = r / OW;
    const int oy = (int)(t % OH);
    const int64_t n = t / OH;
    for (int ky = 0; ky < kh; ky++) {
      const int iy = oy * p[P_SH] - p[P_PT] + ky * p[P_DH];
      for (int kx = 0; kx < kw; kx++) {
        const int ix = ox * p[P_SW] - p[P_PL] + kx * p[P_DW];
        if (iy >= 0 && iy < H && ix >= 0 && ix < W) {
          float *dst = x + ((n * H + iy) * W + ix) * C;
          for (int c = 0; c < C; c++) dst[c] += o[c];
        }
        o += C;
      }
    }
  }
  return NULL;
}

/*
 * biasActivation(y, bias | null, n, activation, alpha): in place on rows of n
 * values, y = act(y + bias[i mod n]) (bias of length 1 or n). activation:
 * 0 none, 1 relu, 2 relu6, 3 leakyrelu(alpha), 4 sigmoid, 5 elu.
 */
static napi_value BiasActivation(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc != 5) {
    napi_throw_error(env, NULL, "biasActivation(y, bias, n, activation, alpha)");
    return NULL;
  }
  size_t ly, lb = 0;
  float *y = float_data(env, argv[0], &ly);
  if (!y) return NULL;
  napi_valuetype bt;
  napi_typeof(env, argv[1], &bt);
  const float *bias = NULL;
  if (bt != napi_null && bt != napi_undefined) {
    bias = float_data(env, argv[1], &lb);
    if (!bias) return NULL;
  }
  int32_t n, act;
  double alpha;
  napi_get_value_int32(env, argv[2], &n);
  napi_get_value_int32(env, argv[3], &act);
  napi_get_value_double(env, argv[4], &alpha);
  if (n < 1 || (bias && lb != 1 && lb != (size_t)n) || act < 0 || act > 5) {
    napi_throw_range_error(env, NULL, "biasActivation: bias must have 1 or n values; activation 0..5");
    return NULL;
  }
  vl_bias_activation(y, ly, bias, lb, (size_t)n, act, (float)alpha); /* vecloops.c */
  return NULL;
}

/*
 * The flow's fused coupling block (src/engine/kernels/fused-coupling.ts has
 * the maths and a JS twin; the JS loops alone took ~14 ms forward and ~11 ms
 * backward per 8-block step of the mlp benchmark, measured by CPU time).
 * dims = Int32Array [n, d, c, H]; h1 = d/2 (floor), h2 = d − h1; the state
 * X is [n, d + 1] (x | log-det so far).
 */
#include <stdlib.h>

typedef struct { float *p; size_t n; } buf_t;
static float *grow(buf_t *b, size_t n) {
  if (b->n < n) {
    free(b->p);
    b->p = (float *)malloc(sizeof(float) * n);
    b->n = b->p ? n : 0;
  }
  return b->p;
}
static buf_t b_st, b_y, b_sigma, b_dw, b_dpre, b_du;

static double scales_c(const float *g, float *sigma, int d) {
  double logSum = 0;
  for (int j = 0; j < d; j++) {
    const double z = 0.5 * g[j];
    const double sp = z > 0 ? z + log1p(exp(-z)) : log1p(exp(z));
    sigma[j] = (float)(0.2 * sp);
    logSum += log((double)sigma[j]);
  }
  return logSum;
}

static void g_(const float *a, int lda, const float *b, int ldb, float *c, int ldc, int m, int n, int k, bool ta, bool tb, float beta) {
  if (m == 0 || n == 0) return;
  if (k == 0) {
    for (int i = 0; i < m; i++) for (int j = 0; j < n; j++) c[(size_t)i * ldc + j] = beta == 0 ? 0 : beta * c[(size_t)i * ldc + j];
    return;
  }
  sgemm(ROW_MAJOR, ta ? TRANS : NO_TRANS, tb ? TRANS : NO_TRANS, m, n, k, 1.0f, a, lda, b, ldb, beta, c, ldc);
}

/* Reads argv[i] as a Float32Array of at least `want` values (or null where optional and absent). */
static float *arg_f32(napi_env env, napi_value v, size_t want, bool optional, bool *ok) {
  napi_valuetype t;
  napi_typeof(env, v, &t);
  if (optional && (t == napi_null || t == napi_undefined)) return NULL;
  size_t len;
  float *p = float_data(env, v, &len);
  if (!p) { *ok = false; return NULL; }
  if (len < want) {
    napi_throw_range_error(env, NULL, "coupling: an array is shorter than its shape");
    *ok = false;
    return NULL;
  }
  return p;
}

/* couplingForward(X, W1, B1, W2, B2, G, OFF, R, C | null, out, h, S, v, dims) */
static napi_value CouplingForward(napi_env env, napi_callback_info info) {
  size_t argc = 14;
  napi_value argv[14];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc != 14 || !sgemm) {
    napi_throw_error(env, NULL, "couplingForward(X, W1, B1, W2, B2, G, OFF, R, C, out, h, S, v, dims) needs OpenBLAS");
    return NULL;
  }
  const int32_t *dims = int_params(env, argv[13], 4);
  if (!dims) return NULL;
  const int n = dims[0], d = dims[1], c = dims[2], H = dims[3];
  if (n < 0 || d < 2 || c < 0 || H < 1) { napi_throw_range_error(env, NULL, "coupling: bad dims"); return NULL; }
  const int h1 = d / 2, h2 = d - h1, W = 2 * h2, D1 = d + 1;
  bool ok = true;
  const float *X = arg_f32(env, argv[0], (size_t)n * D1, false, &ok);
  const float *W1 = ok ? arg_f32(env, argv[1], (size_t)(h1 + c) * H, false, &ok) : NULL;
  const float *B1 = ok ? arg_f32(env, argv[2], H, false, &ok) : NULL;
  const float *W2 = ok ? arg_f32(env, argv[3], (size_t)H * W, false, &ok) : NULL;
  const float *B2 = ok ? arg_f32(env, argv[4], W, false, &ok) : NULL;
  const float *G = ok ? arg_f32(env, argv[5], d, false, &ok) : NULL;
  const float *OFF = ok ? arg_f32(env, argv[6], d, false, &ok) : NULL;
  const float *R = ok ? arg_f32(env, argv[7], (size_t)d * d, false, &ok) : NULL;
  const float *C = ok && c > 0 ? arg_f32(env, argv[8], (size_t)n * c, false, &ok) : NULL;
  float *out = ok ? arg_f32(env, argv[9], (size_t)n * D1, false, &ok) : NULL;
  float *h = ok ? arg_f32(env, argv[10], (size_t)n * H, false, &ok) : NULL;
  float *S = ok ? arg_f32(env, argv[11], (size_t)n * h2, false, &ok) : NULL;
  float *v = ok ? arg_f32(env, argv[12], (size_t)n * d, false, &ok) : NULL;
  if (!ok) return NULL;
  float *st = grow(&b_st, (size_t)n * W), *y = grow(&b_y, (size_t)n * d), *sigma = grow(&b_sigma, d);
  if (!st || !y || !sigma) { napi_throw_error(env, NULL, "coupling: out of memory"); return NULL; }

  g_(X, D1, W1, H, h, H, n, H, h1, false, false, 0.0f);
  if (C) g_(C, c, W1 + (size_t)h1 * H, H, h, H, n, H, c, false, false, 1.0f);
  vl_bias_activation(h, (size_t)n * H, B1, H, H, 3, 0.1f); /* + b1, LeakyReLU(0.1) */
  g_(h, H, W2, W, st, W, n, W, H, false, false, 0.0f);
  const double logSigma = scales_c(G, sigma, d);
  vl_coupling_rows(n, h1, h2, X, st, B2, sigma, OFF, logSigma, S, v, y, out); /* vecloops.c */
  g_(y, d, R, d, out, D1, n, d, d, false, false, 0.0f);
  return NULL;
}

static void col_sums(const float *a, int rows, int cols, float *out) {
  double *acc = (double *)calloc(cols, sizeof(double));
  if (!acc) return;
  for (int i = 0; i < rows; i++) for (int j = 0; j < cols; j++) acc[j] += a[(size_t)i * cols + j];
  for (int j = 0; j < cols; j++) out[j] = (float)acc[j];
  free(acc);
}

/* couplingBackward(DY, X, h, S, v, W1, W2, G, R, C | null, dx, dW1, db1, dW2, db2, dg, doff, dims) */
static napi_value CouplingBackward(napi_env env, napi_callback_info info) {
  size_t argc = 18;
  napi_value argv[18];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc != 18 || !sgemm) {
    napi_throw_error(env, NULL, "couplingBackward(DY, X, h, S, v, W1, W2, G, R, C, dx, dW1, db1, dW2, db2, dg, doff, dims) needs OpenBLAS");
    return NULL;
  }
  const int32_t *dims = int_params(env, argv[17], 4);
  if (!dims) return NULL;
  const int n = dims[0], d = dims[1], c = dims[2], H = dims[3];
  if (n < 0 || d < 2 || c < 0 || H < 1) { napi_throw_range_error(env, NULL, "coupling: bad dims"); return NULL; }
  const int h1 = d / 2, h2 = d - h1, W = 2 * h2, D1 = d + 1;
  bool ok = true;
  const float *DY = arg_f32(env, argv[0], (size_t)n * D1, false, &ok);
  const float *X = ok ? arg_f32(env, argv[1], (size_t)n * D1, false, &ok) : NULL;
  const float *h = ok ? arg_f32(env, argv[2], (size_t)n * H, false, &ok) : NULL;
  const float *S = ok ? arg_f32(env, argv[3], (size_t)n * h2, false, &ok) : NULL;
  const float *v = ok ? arg_f32(env, argv[4], (size_t)n * d, false, &ok) : NULL;
  const float *W1 = ok ? arg_f32(env, argv[5], (size_t)(h1 + c) * H, false, &ok) : NULL;
  const float *W2 = ok ? arg_f32(env, argv[6], (size_t)H * W, false, &ok) : NULL;
  const float *G = ok ? arg_f32(env, argv[7], d, false, &ok) : NULL;
  const float *R = ok ? arg_f32(env, argv[8], (size_t)d * d, false, &ok) : NULL;
  const float *C = ok && c > 0 ? arg_f32(env, argv[9], (size_t)n * c, false, &ok) : NULL;
  float *dx = ok ? arg_f32(env, argv[10], (size_t)n * D1, false, &ok) : NULL;
  float *dW1 = ok ? arg_f32(env, argv[11], (size_t)(h1 + c) * H, false, &ok) : NULL;
  float *db1 = ok ? arg_f32(env, argv[12], H, false, &ok) : NULL;
  float *dW2 = ok ? arg_f32(env, argv[13], (size_t)H * W, false, &ok) : NULL;
  float *db2 = ok ? arg_f32(env, argv[14], W, false, &ok) : NULL;
  float *dg = ok ? arg_f32(env, argv[15], d, false, &ok) : NULL;
  float *doff = ok ? arg_f32(env, argv[16], d, false, &ok) : NULL;
  if (!ok) return NULL;
  float *dw = grow(&b_dw, (size_t)n * d), *dpre = grow(&b_dpre, (size_t)n * W), *du = grow(&b_du, (size_t)n * H), *sigma = grow(&b_sigma, d);
  double *dSigma = (double *)calloc(2 * (size_t)d, sizeof(double));
  if (!dw || !dpre || !du || !sigma || !dSigma) { free(dSigma); napi_throw_error(env, NULL, "coupling: out of memory"); return NULL; }
  double *dOff = dSigma + d;

  g_(DY, D1, R, d, dw, d, n, d, d, false, true, 0.0f);
  scales_c(G, sigma, d);
  double dlSum = 0;
  for (int i = 0; i < n; i++) {
    float *wr = dw + (size_t)i * d;
    const float *vr = v + (size_t)i * d;
    dlSum += DY[(size_t)i * D1 + d];
    for (int j = 0; j < d; j++) {
      const float gw = wr[j];
      dSigma[j] += (double)gw * vr[j];
      dOff[j] += gw;
      wr[j] = gw * sigma[j];
    }
  }
  for (int j = 0; j < d; j++) {
    const double ds = dSigma[j] + dlSum / sigma[j];
    const double z = 0.5 * G[j];
    dg[j] = (float)(0.1 * ds / (1 + exp(-z)));
    doff[j] = (float)dOff[j];
  }
  free(dSigma);
  for (int i = 0; i < n; i++) {
    const float *xr = X + (size_t)i * D1, *wr = dw + (size_t)i * d, *sr = S + (size_t)i * h2;
    float *dxr = dx + (size_t)i * D1, *pr = dpre + (size_t)i * W;
    const double dl = DY[(size_t)i * D1 + d];
    for (int j = 0; j < h1; j++) dxr[j] = wr[j];
    for (int j = 0; j < h2; j++) {
      const double dbp = wr[h1 + j];
      const double s = sr[j];
      const double e = expf(sr[j]);
      dxr[h1 + j] = (float)(dbp * e);
      const double ds = dbp * xr[h1 + j] * e + dl;
      const double th = 0.5 * s;
      pr[j] = (float)(0.1 * 2 * (1 - th * th) * ds);
      pr[h2 + j] = (float)(0.1 * dbp);
    }
    dxr[d] = (float)dl;
  }
  g_(h, H, dpre, W, dW2, W, H, W, n, true, false, 0.0f);
  col_sums(dpre, n, W, db2);
  g_(dpre, W, W2, W, du, H, n, H, W, false, true, 0.0f);
  for (size_t o = 0; o < (size_t)n * H; o++) if (!(h[o] > 0)) du[o] = 0.1f * du[o];
  g_(X, D1, du, H, dW1, H, h1, H, n, true, false, 0.0f);
  if (C) g_(C, c, du, H, dW1 + (size_t)h1 * H, H, c, H, n, true, false, 0.0f);
  col_sums(du, n, H, db1);
  g_(du, H, W1, H, dx, D1, n, h1, H, false, true, 1.0f);
  return NULL;
}

/* sumSquares(a): Σ a_i² in double (the gradient norm of the optimiser, src/engine/adam.ts). */
static napi_value SumSquares(napi_env env, napi_callback_info info) {
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
 * adamUpdate(p, g, m, v, h): one Adam step in place, h = Float64Array
 * [coef, beta1, beta2, stepSize, sqrtBc2, eps, decay]:
 *   g' = coef·g; m = β1 m + (1−β1) g'; v = β2 v + (1−β2) g'²;
 *   p = p·decay − stepSize · m / (√v / sqrtBc2 + eps)
 * (float32 like the tensor version; one pass instead of ~10 over 1.6 M values).
 */
static napi_value AdamUpdate(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc != 5) {
    napi_throw_error(env, NULL, "adamUpdate(p, g, m, v, hyper)");
    return NULL;
  }
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
  const double *h = (const double *)hd;
  const float coef = (float)h[0], b1 = (float)h[1], b2 = (float)h[2], stepSize = (float)h[3], sbc2 = (float)h[4], eps = (float)h[5], decay = (float)h[6];
  const float c1 = 1.0f - b1, c2 = 1.0f - b2;
  for (size_t i = 0; i < lp; i++) {
    const float gi = g[i] * coef;
    const float mi = b1 * m[i] + c1 * gi;
    const float vi = b2 * v[i] + c2 * gi * gi;
    m[i] = mi;
    v[i] = vi;
    p[i] = p[i] * decay - stepSize * mi / (sqrtf(vi) / sbc2 + eps);
  }
  return NULL;
}

/* setThreads(n): OpenBLAS's thread count; returns false where the library cannot set it. */
static napi_value SetThreads(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_value result;
  int32_t n = 1;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc >= 1) napi_get_value_int32(env, argv[0], &n);
  if (set_threads && n >= 1) set_threads(n);
  napi_get_boolean(env, set_threads != NULL && n >= 1, &result);
  return result;
}

static napi_value Library(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value result;
  if (library) napi_create_string_utf8(env, library, NAPI_AUTO_LENGTH, &result);
  else napi_get_null(env, &result);
  return result;
}

static napi_value Init(napi_env env, napi_value exports) {
  open_blas();
  napi_property_descriptor props[] = {
      {"sgemm", NULL, Sgemm, NULL, NULL, NULL, napi_default, NULL},
      {"library", NULL, Library, NULL, NULL, NULL, napi_default, NULL},
      {"setThreads", NULL, SetThreads, NULL, NULL, NULL, napi_default, NULL},
      {"gemm", NULL, Gemm, NULL, NULL, NULL, napi_default, NULL},
      {"im2col", NULL, Im2col, NULL, NULL, NULL, napi_default, NULL},
      {"col2im", NULL, Col2im, NULL, NULL, NULL, napi_default, NULL},
      {"biasActivation", NULL, BiasActivation, NULL, NULL, NULL, napi_default, NULL},
      {"sumSquares", NULL, SumSquares, NULL, NULL, NULL, napi_default, NULL},
      {"adamUpdate", NULL, AdamUpdate, NULL, NULL, NULL, napi_default, NULL},
      {"couplingForward", NULL, CouplingForward, NULL, NULL, NULL, napi_default, NULL},
      {"couplingBackward", NULL, CouplingBackward, NULL, NULL, NULL, napi_default, NULL},
      {"fastExp", NULL, FastExp, NULL, NULL, NULL, napi_default, NULL},
      {"clampUnit", NULL, ClampUnit, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
