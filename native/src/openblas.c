/*
 * A tiny N-API addon: single-precision GEMM from the machine's OpenBLAS,
 * run in place on Float32Array views (for the wasm backend: views of its
 * heap, so no tensor is copied). OpenBLAS is opened with dlopen at load
 * time, so the addon builds without BLAS headers and simply reports itself
 * unavailable where no OpenBLAS is installed.
 *
 * The other C files hold the loops around GEMM that were JS before (conv.c,
 * coupling.c, adam.c); each has a JS twin giving the same numbers where the
 * addon is missing. addon.c registers them all.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdlib.h>
#include "addon.h"

sgemm_fn sgemm = NULL;
set_threads_fn set_threads = NULL;
get_threads_fn get_threads = NULL;
static const char *library = NULL;
static pthread_once_t opened = PTHREAD_ONCE_INIT;

/*
 * How long an idle OpenBLAS thread spins before it sleeps, as log2 of CPU
 * cycles (OpenBLAS reads OPENBLAS_THREAD_TIMEOUT once, when the library
 * loads; it clamps it to 4..30; its default 28 is ~0.1 s at 2.5 GHz). A
 * spinning helper takes a core from the API's thread and from other trainings
 * for that long after every product; 4 (16 cycles) puts it to sleep at once,
 * and waking it costs less than the spin (measured in docs/PERFORMANCE.md).
 * A value set by the user wins.
 */
#define THREAD_TIMEOUT "4"

static void load(void) {
  setenv("OPENBLAS_THREAD_TIMEOUT", THREAD_TIMEOUT, 0);
  const char *candidates[] = {"libopenblas.so.0", "libopenblas.so", "libopenblasp.so.0", NULL};
  for (int i = 0; candidates[i] && !sgemm; i++) {
    void *handle = dlopen(candidates[i], RTLD_NOW | RTLD_LOCAL);
    if (!handle) continue;
    sgemm = (sgemm_fn)dlsym(handle, "cblas_sgemm");
    if (sgemm) {
      library = candidates[i];
      set_threads = (set_threads_fn)dlsym(handle, "openblas_set_num_threads");
      get_threads = (get_threads_fn)dlsym(handle, "openblas_get_num_threads");
    }
  }
}

/* Once per process: every worker thread's copy of the addon shares the library and its settings. */
void open_blas(void) { pthread_once(&opened, load); }

/* sgemm(a, b, c, m, n, k, transA, transB): c[m×n] = op(a) · op(b), row-major. */
napi_value Sgemm(napi_env env, napi_callback_info info) {
  napi_value argv[8];
  if (!get_args(env, info, 8, argv, "sgemm(a, b, c, m, n, k, transA, transB)")) return NULL;
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
napi_value Gemm(napi_env env, napi_callback_info info) {
  napi_value argv[13];
  if (!get_args(env, info, 13, argv, "gemm(a, lda, b, ldb, c, ldc, m, n, k, transA, transB, alpha, beta)")) return NULL;
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

napi_value Library(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value result;
  if (library) napi_create_string_utf8(env, library, NAPI_AUTO_LENGTH, &result);
  else napi_get_null(env, &result);
  return result;
}

