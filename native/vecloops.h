/*
 * Element-wise loops the compiler vectorises (native/vecloops.c): the fused
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

/* From the addon's argument helpers (native/blas.c). */
float *float_data(napi_env env, napi_value value, size_t *length);

napi_value FastExp(napi_env env, napi_callback_info info);
napi_value ClampUnit(napi_env env, napi_callback_info info);

#endif
