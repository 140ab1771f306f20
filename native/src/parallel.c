/*
 * Splitting a loop over a few threads for one call (memory-bound loops such as
 * Adam's over 1.6 M values: one core does not saturate the memory bus).
 * Threads are created per call (~tens of µs each, against milliseconds of
 * work); the caller runs part 0 itself.
 */
#include <pthread.h>
#include "addon.h"

typedef struct {
  part_fn fn;
  void *ctx;
  int part, parts;
} job_t;

static void *run_job(void *arg) {
  job_t *j = (job_t *)arg;
  j->fn(j->ctx, j->part, j->parts);
  return NULL;
}

void run_parts(int parts, part_fn fn, void *ctx) {
  if (parts > MAX_PARTS) parts = MAX_PARTS;
  if (parts < 1) parts = 1;
  pthread_t threads[MAX_PARTS];
  job_t jobs[MAX_PARTS];
  bool started[MAX_PARTS] = {false};
  for (int i = 1; i < parts; i++) {
    jobs[i] = (job_t){fn, ctx, i, parts};
    started[i] = pthread_create(&threads[i], NULL, run_job, &jobs[i]) == 0;
  }
  fn(ctx, 0, parts);
  for (int i = 1; i < parts; i++) {
    if (started[i]) pthread_join(threads[i], NULL);
    else fn(ctx, i, parts); /* no thread to be had: do that part here */
  }
}

/* Parts for `work` items: at most `threads`, and none smaller than `min_per_part`. */
int parts_for(size_t work, int threads, size_t min_per_part) {
  size_t by_size = work / (min_per_part ? min_per_part : 1);
  int parts = threads < 1 ? 1 : threads;
  if ((size_t)parts > by_size) parts = by_size < 1 ? 1 : (int)by_size;
  return parts > MAX_PARTS ? MAX_PARTS : parts;
}
