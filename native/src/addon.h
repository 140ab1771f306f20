/*
 * What the addon's C files share: the OpenBLAS entry point (NULL where no
 * OpenBLAS was found), the N-API argument helpers, and every function the
 * addon exports (registered in addon.c's table).
 */
#ifndef PROMPTGEN_ADDON_H
#define PROMPTGEN_ADDON_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <node_api.h>

typedef void (*sgemm_fn)(int order, int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a, int lda,
                         const float *b, int ldb, float beta, float *c, int ldc);

/* cblas_sgemm of the loaded OpenBLAS; NULL until open_blas() found one. */
extern sgemm_fn sgemm;
typedef void (*set_threads_fn)(int n);
/* openblas_set_num_threads (process-wide); NULL where the library has none. */
extern set_threads_fn set_threads;
typedef int (*get_threads_fn)(void);
/* openblas_get_num_threads; NULL where the library has none. */
extern get_threads_fn get_threads;
enum { ROW_MAJOR = 101, NO_TRANS = 111, TRANS = 112 };
void open_blas(void);

/* util.c: argument helpers; on a bad argument they throw and return NULL / set *ok = false. */
bool get_args(napi_env env, napi_callback_info info, size_t n, napi_value *argv, const char *usage);
float *float_data(napi_env env, napi_value value, size_t *length);
int32_t *int_params(napi_env env, napi_value value, size_t want);
float *arg_f32(napi_env env, napi_value v, size_t want, bool optional, bool *ok);
/* A scratch buffer kept between calls (the JS thread is the only caller). */
typedef struct { float *p; size_t n; } buf_t;
float *grow(buf_t *b, size_t n);

/* parallel.c: fn(ctx, part, parts) for part = 0..parts−1, part 0 on the calling thread. */
enum { MAX_PARTS = 64 };
typedef void (*part_fn)(void *ctx, int part, int parts);
void run_parts(int parts, part_fn fn, void *ctx);
int parts_for(size_t work, int threads, size_t min_per_part);

/* openblas.c */
napi_value Sgemm(napi_env env, napi_callback_info info);
napi_value Gemm(napi_env env, napi_callback_info info);
napi_value Library(napi_env env, napi_callback_info info);
/* threads.c */
napi_value SetThreads(napi_env env, napi_callback_info info);
napi_value ShareCores(napi_env env, napi_callback_info info);
napi_value ThreadCount(napi_env env, napi_callback_info info);
/* conv.c */
napi_value Im2col(napi_env env, napi_callback_info info);
napi_value Col2im(napi_env env, napi_callback_info info);
napi_value BiasActivation(napi_env env, napi_callback_info info);
/* coupling.c */
napi_value CouplingForward(napi_env env, napi_callback_info info);
napi_value CouplingBackward(napi_env env, napi_callback_info info);
/* adam.c */
napi_value SumSquares(napi_env env, napi_callback_info info);
napi_value AdamUpdate(napi_env env, napi_callback_info info);
napi_value SumSquaresAll(napi_env env, napi_callback_info info);
napi_value AdamUpdateAll(napi_env env, napi_callback_info info);

#endif
