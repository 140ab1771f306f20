/* The convolutions' im2col / col2im (src/engine/kernels/native-conv.ts) and the fused ops' bias + activation epilogue. */
#include <math.h>
#include <string.h>
#include "addon.h"
#include "vecloops.h"

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
napi_value Im2col(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!get_args(env, info, 3, argv, "im2col(x, cols, params)")) return NULL;
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
napi_value Col2im(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!get_args(env, info, 3, argv, "col2im(cols, x, params)")) return NULL;
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
napi_value BiasActivation(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  if (!get_args(env, info, 5, argv, "biasActivation(y, bias, n, activation, alpha)")) return NULL;
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

