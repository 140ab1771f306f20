/* N-API argument helpers shared by the addon's kernels. */
#include <stdlib.h>
#include "addon.h"

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

int32_t *int_params(napi_env env, napi_value value, size_t want) {
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

/* Reads argv[i] as a Float32Array of at least `want` values (or null where optional and absent). */
float *arg_f32(napi_env env, napi_value v, size_t want, bool optional, bool *ok) {
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

float *grow(buf_t *b, size_t n) {
  if (b->n < n) {
    free(b->p);
    b->p = (float *)malloc(sizeof(float) * n);
    b->n = b->p ? n : 0;
  }
  return b->p;
}

/* Reads exactly n arguments into argv; throws `usage` and returns false otherwise. */
bool get_args(napi_env env, napi_callback_info info, size_t n, napi_value *argv, const char *usage) {
  size_t argc = n;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc != n) {
    napi_throw_error(env, NULL, usage);
    return false;
  }
  return true;
}
