/*
 * A tiny N-API addon: single-precision GEMM from the machine's OpenBLAS,
 * run in place on Float32Array views (for the wasm backend: views of its
 * heap, so no tensor is copied). OpenBLAS is opened with dlopen at load
 * time, so the addon builds without BLAS headers and simply reports itself
 * unavailable where no OpenBLAS is installed.
 */
#include <dlfcn.h>
#include <node_api.h>
#include <stddef.h>

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

static float *float_data(napi_env env, napi_value value, size_t *length) {
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
  };
  napi_define_properties(env, exports, 3, props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
