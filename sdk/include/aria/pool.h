/* aria/pool.h — a fixed pool of worker threads for the forward pass.
 *
 * aria_pool_run(fn) runs fn on every thread of the pool (the caller is
 * thread 0) and returns when all have finished: one parallel section. A
 * forward pass runs hundreds of sections per token, so between sections the
 * workers spin briefly before they sleep, and a section costs a few
 * microseconds, not a thread wake-up. */
#ifndef ARIA_POOL_H
#define ARIA_POOL_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct aria_pool aria_pool;

/* fn(ctx, ith, nth): the share of thread ith of nth. */
typedef void (*aria_pool_fn)(void *ctx, int ith, int nth);

/* A pool of n_threads (>= 1) threads, the caller's included. */
aria_err aria_pool_new(int n_threads, aria_pool **out);
void aria_pool_free(aria_pool *p);
int aria_pool_size(const aria_pool *p);

/* Runs one parallel section; blocks until every thread is done. Not
 * reentrant: one section at a time per pool (callers serialize). */
void aria_pool_run(aria_pool *p, aria_pool_fn fn, void *ctx);

/* Workers stop spinning and sleep until the next section; call when the
 * pool will be idle for a while (between requests). */
void aria_pool_idle(aria_pool *p);

/* Sections from now on use at most n_threads threads (the caller's among
 * them); the others sleep through them instead of spinning. 0 (or the
 * pool's size or more): all. For work a node gives at a share of its CPU
 * ([consent] cpu_percent). Set it between sections, from the thread that
 * runs them. */
void aria_pool_limit(aria_pool *p, int n_threads);

/* The share [*lo, *hi) of n items for thread ith of nth, in whole multiples
 * of `align` where possible. */
void aria_split(uint64_t n, int ith, int nth, uint64_t align, uint64_t *lo, uint64_t *hi);

#ifdef __cplusplus
}
#endif
#endif
