/* The optimiser's loops (src/engine/adam.ts): gradient norm and the Adam update. */
#include <math.h>
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
 * adamUpdate(p, g, m, v, h): one Adam step in place, h = Float64Array
 * [coef, beta1, beta2, stepSize, sqrtBc2, eps, decay]:
 *   g' = coef·g; m = β1 m + (1−β1) g'; v = β2 v + (1−β2) g'²;
 *   p = p·decay − stepSize · m / (√v / sqrtBc2 + eps)
 * (float32 like the tensor version; one pass instead of ~10 over 1.6 M values).
 */
napi_value AdamUpdate(napi_env env, napi_callback_info info) {
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

