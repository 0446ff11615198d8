/* pool.c — workers wait on a generation counter: spinning for a short while
 * after each section (the next one usually follows within microseconds),
 * then sleeping on a condition variable. */
#include <aria/pool.h>

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>

#define SPIN_ROUNDS 200000 /* ~ a few hundred microseconds of polling */

struct aria_pool {
    int n;
    pthread_t *threads;
    pthread_mutex_t mu;
    pthread_cond_t wake;
    /* bumped once per section: (count << 16) | threads in it, one word so
     * that a worker reads both at once */
    _Atomic uint64_t gen;
    _Atomic int limit;      /* threads a section may use; 0: all */
    _Atomic int pending;    /* workers still inside the section */
    _Atomic int sleeping;   /* workers blocked on wake */
    _Atomic int stop;
    _Atomic int idle;       /* sleep right away instead of spinning */
    aria_pool_fn fn;
    void *ctx;
};

typedef struct worker_arg {
    aria_pool *p;
    int ith;
} worker_arg;

static void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

static void *worker(void *arg)
{
    worker_arg *wa = arg;
    aria_pool *p = wa->p;
    int ith = wa->ith;
    free(wa);
    uint64_t seen = 0;
    for (;;) {
        uint64_t g = atomic_load_explicit(&p->gen, memory_order_acquire);
        for (int i = 0; g == seen && i < SPIN_ROUNDS && !atomic_load(&p->idle); i++) {
            cpu_relax();
            g = atomic_load_explicit(&p->gen, memory_order_acquire);
        }
        /* a section without this thread (a limit) is skipped asleep: a
         * spinning bystander would burn the core the limit keeps free */
        if (g == seen || ith >= (int)(g & 0xffff)) {
            seen = g;
            pthread_mutex_lock(&p->mu);
            atomic_fetch_add(&p->sleeping, 1);
            while (((g = atomic_load(&p->gen)) == seen || ith >= (int)(g & 0xffff)) &&
                   !atomic_load(&p->stop))
                pthread_cond_wait(&p->wake, &p->mu);
            atomic_fetch_sub(&p->sleeping, 1);
            pthread_mutex_unlock(&p->mu);
        }
        if (atomic_load(&p->stop))
            break;
        seen = g;
        p->fn(p->ctx, ith, (int)(g & 0xffff));
        atomic_fetch_sub_explicit(&p->pending, 1, memory_order_release);
    }
    return NULL;
}

aria_err aria_pool_new(int n_threads, aria_pool **out)
{
    *out = NULL;
    if (n_threads < 1 || n_threads > 1024)
        return ARIA_ERR_RANGE;
    aria_pool *p = calloc(1, sizeof *p);
    if (!p)
        return ARIA_ERR_NOMEM;
    p->n = n_threads;
    p->threads = calloc((size_t)n_threads, sizeof *p->threads);
    if (!p->threads) {
        free(p);
        return ARIA_ERR_NOMEM;
    }
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->wake, NULL);
    for (int i = 1; i < n_threads; i++) {
        worker_arg *wa = malloc(sizeof *wa);
        if (wa) {
            wa->p = p;
            wa->ith = i;
        }
        if (!wa || pthread_create(&p->threads[i], NULL, worker, wa) != 0) {
            free(wa);
            p->n = i; /* free() joins the ones that started */
            aria_pool_free(p);
            return ARIA_ERR_NOMEM;
        }
    }
    *out = p;
    return ARIA_OK;
}

void aria_pool_free(aria_pool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    atomic_store(&p->stop, 1);
    atomic_fetch_add(&p->gen, (uint64_t)1 << 16);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    for (int i = 1; i < p->n; i++)
        pthread_join(p->threads[i], NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->wake);
    free(p->threads);
    free(p);
}

int aria_pool_size(const aria_pool *p)
{
    return p->n;
}

void aria_pool_run(aria_pool *p, aria_pool_fn fn, void *ctx)
{
    int lim = atomic_load(&p->limit), nth = lim > 0 && lim < p->n ? lim : p->n;
    if (nth == 1) {
        fn(ctx, 0, 1);
        return;
    }
    p->fn = fn;
    p->ctx = ctx;
    atomic_store(&p->idle, 0);
    atomic_store_explicit(&p->pending, nth - 1, memory_order_relaxed);
    uint64_t g = atomic_load_explicit(&p->gen, memory_order_relaxed);
    /* seq_cst: pairs with the sleeping count */
    atomic_store(&p->gen, (((g >> 16) + 1) << 16) | (uint64_t)nth);
    if (atomic_load(&p->sleeping)) {
        pthread_mutex_lock(&p->mu);
        pthread_cond_broadcast(&p->wake);
        pthread_mutex_unlock(&p->mu);
    }
    fn(ctx, 0, nth);
    while (atomic_load_explicit(&p->pending, memory_order_acquire) > 0)
        cpu_relax();
}

void aria_pool_limit(aria_pool *p, int n_threads)
{
    atomic_store(&p->limit, n_threads > 0 ? n_threads : 0);
}

void aria_pool_idle(aria_pool *p)
{
    atomic_store(&p->idle, 1);
}

void aria_split(uint64_t n, int ith, int nth, uint64_t align, uint64_t *lo, uint64_t *hi)
{
    if (align < 1)
        align = 1;
    uint64_t units = (n + align - 1) / align;
    uint64_t per = units / (uint64_t)nth, extra = units % (uint64_t)nth;
    uint64_t u0 = per * (uint64_t)ith + ((uint64_t)ith < extra ? (uint64_t)ith : extra);
    uint64_t u1 = u0 + per + ((uint64_t)ith < extra);
    *lo = u0 * align < n ? u0 * align : n;
    *hi = u1 * align < n ? u1 * align : n;
}
