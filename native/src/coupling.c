/*
 * The flow's fused coupling block (src/engine/kernels/fused-coupling.ts has
 * the maths and a JS twin; the JS loops alone took ~14 ms forward and ~11 ms
 * backward per 8-block step of the mlp benchmark, measured by CPU time).
 * dims = Int32Array [n, d, c, H]; h1 = d/2 (floor), h2 = d − h1; the state
 * X is [n, d + 1] (x | log-det so far).
 */
#include <math.h>
#include <stdlib.h>
#include "addon.h"
#include "vecloops.h"

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

/* couplingForward(X, W1, B1, W2, B2, G, OFF, R, C | null, out, h, S, v, dims) */
napi_value CouplingForward(napi_env env, napi_callback_info info) {
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
napi_value CouplingBackward(napi_env env, napi_callback_info info) {
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
  vl_coupling_rows_backward(n, h1, h2, X, DY, dw, S, dx, dpre); /* vecloops.c */
  g_(h, H, dpre, W, dW2, W, H, W, n, true, false, 0.0f);
  col_sums(dpre, n, W, db2);
  g_(dpre, W, W2, W, du, H, n, H, W, false, true, 0.0f);
  vl_leaky_grad(du, h, (size_t)n * H, 0.1f); /* LeakyReLU(0.1)'s gradient */
  g_(X, D1, du, H, dW1, H, h1, H, n, true, false, 0.0f);
  if (C) g_(C, c, du, H, dW1 + (size_t)h1 * H, H, c, H, n, true, false, 0.0f);
  col_sums(du, n, H, db1);
  g_(du, H, W1, H, dx, D1, n, h1, H, false, true, 1.0f);
  return NULL;
}

