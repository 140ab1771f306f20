/*
 * The addon's entry: loads OpenBLAS, then registers every exported function.
 * A new kernel file adds its functions to addon.h and one line each here.
 */
#include "addon.h"
#include "vecloops.h"

static const struct {
  const char *name;
  napi_callback fn;
} functions[] = {
    {"sgemm", Sgemm},
    {"library", Library},
    {"setThreads", SetThreads},
    {"shareCores", ShareCores},
    {"threadCount", ThreadCount},
    {"gemm", Gemm},
    {"im2col", Im2col},
    {"col2im", Col2im},
    {"biasActivation", BiasActivation},
    {"sumSquares", SumSquares},
    {"adamUpdate", AdamUpdate},
    {"sumSquaresAll", SumSquaresAll},
    {"adamUpdateAll", AdamUpdateAll},
    {"couplingForward", CouplingForward},
    {"couplingBackward", CouplingBackward},
    {"fastExp", FastExp},
    {"clampUnit", ClampUnit},
};

enum { FUNCTION_COUNT = sizeof(functions) / sizeof(functions[0]) };

static napi_value Init(napi_env env, napi_value exports) {
  open_blas();
  napi_property_descriptor props[FUNCTION_COUNT];
  for (size_t i = 0; i < FUNCTION_COUNT; i++) {
    props[i] = (napi_property_descriptor){functions[i].name, NULL, functions[i].fn, NULL, NULL, NULL, napi_default, NULL};
  }
  napi_define_properties(env, exports, FUNCTION_COUNT, props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
