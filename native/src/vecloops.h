/*
 * Element-wise loops the compiler vectorises (native/src/vecloops.c): the fused
 * ops' bias + activation epilogue, the coupling block's forward loops, and
 * the exp they share. Called by the addon's kernels; two of them are also
 * exported to JS (fastExp, clampUnit) for the sampling path and its tests.
 */
#ifndef PROMPTGEN_VECLOOPS_H
#define PROMPTGEN_VECLOOPS_H
#include <stddef.h>
#include <node_api.h>

/* Activation codes of biasActivation: 0 none, 1 relu, 2 relu6, 3 leakyrelu(alpha), 4 sigmoid, 5 elu. */
void vl_bias_activation(float *y, size_t len, const float *bias, size_t lb, size_t n, int act, float alpha);

/*
 * One coupling block's element-wise forward over n rows (fused-coupling.ts has
 * the maths): from X [n, d + 1] and st = h·W2 [n, 2·h2] writes s [n, h2],
 * v = [a | b'] [n, d], y = v·σ + offset [n, d] and the log-det column of out
 * [n, d + 1].
 */
void vl_coupling_rows(int n, int h1, int h2, const float *X, const float *st, const float *B2, const float *sigma,
                      const float *OFF, double logSigma, float *S, float *v, float *y, float *out);

/*
 * Its backward, row by row: from dw = dy·Rᵀ already scaled by σ, X, dY's
 * log-det column and s, writes dx's [da | db | dℓ] (da before the subnet's
 * share is added) and dpre = 0.1·[ds̃ | dt] [n, 2·h2].
 */
void vl_coupling_rows_backward(int n, int h1, int h2, const float *X, const float *DY, const float *dw, const float *S, float *dx,
                               float *dpre);
/* du = h > 0 ? du : alpha·du over len values (LeakyReLU's gradient). */
void vl_leaky_grad(float *du, const float *h, size_t len, float alpha);

/* From the addon's argument helpers (native/src/util.c). */
float *float_data(napi_env env, napi_value value, size_t *length);

napi_value FastExp(napi_env env, napi_callback_info info);
napi_value ClampUnit(napi_env env, napi_callback_info info);

#endif
