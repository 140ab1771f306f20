/*
 * OpenBLAS's thread count, which is one setting for the whole process while
 * trainings run in several worker threads of it.
 *
 * Policy (src/engine/kernels/native-blas.ts, docs/PERFORMANCE.md): a training
 * that runs alone uses every core for its products, as PyTorch does on the
 * same OpenBLAS; N trainings at once share them, ⌊cores / N⌋ threads each (at
 * least 1), so the products of all trainings together never ask for more
 * threads than there are cores. Each training calls shareCores(+1, cores)
 * when it starts and shareCores(−1, cores) when it ends; the count lives
 * here, in the one copy of the library all threads share.
 */
#include <pthread.h>
#include "addon.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int sharers = 0;

/* setThreads(n): a fixed thread count (PROMPTGEN_BLAS_THREADS); false where the library cannot set it. */
napi_value SetThreads(napi_env env, napi_callback_info info) {
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

/*
 * shareCores(delta, cores): delta = +1 when a training starts, −1 when it
 * ends; sets ⌊cores / trainings⌋ threads and returns that count (0 where the
 * library cannot set it). A product already running keeps the count it
 * started with; OpenBLAS reads the new one at the next call.
 */
napi_value ShareCores(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  int32_t delta = 0, cores = 1;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc != 2 || napi_get_value_int32(env, argv[0], &delta) != napi_ok || napi_get_value_int32(env, argv[1], &cores) != napi_ok ||
      delta < -1 || delta > 1 || cores < 1) {
    napi_throw_range_error(env, NULL, "shareCores(delta in -1..1, cores >= 1)");
    return NULL;
  }
  pthread_mutex_lock(&lock);
  sharers += delta;
  if (sharers < 0) sharers = 0;
  int threads = cores / (sharers > 0 ? sharers : 1);
  if (threads < 1) threads = 1;
  if (set_threads) set_threads(threads);
  pthread_mutex_unlock(&lock);
  napi_value result;
  napi_create_int32(env, set_threads ? threads : 0, &result);
  return result;
}

/* threadCount(): OpenBLAS's current thread count (openblas_get_num_threads); 0 where the library cannot tell. */
napi_value ThreadCount(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value result;
  napi_create_int32(env, get_threads ? get_threads() : 0, &result);
  return result;
}
