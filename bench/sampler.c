/* sampler — the cost of choosing one token, per call, at real vocabulary
 * sizes.
 *
 *   sampler [RUNS]
 *
 * Logits are drawn like a trained model's (normal, sd 2.5, fixed seed) for
 * a 32000- and a 128256-token vocabulary. Each sampling setting is timed
 * RUNS times (default 7) over 50 calls; the median microseconds per call are
 * printed against the baseline measured in the same program: a sampler that
 * sorts the whole vocabulary (log-softmax, then qsort, best first), which is
 * what any truncation by sorting pays per token. */
#include <aria/sampler.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CALLS 50

typedef struct cand {
    int32_t id;
    float l;
} cand;

static int cmp(const void *a, const void *b)
{
    const cand *x = a, *y = b;
    if (x->l != y->l)
        return x->l > y->l ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

static double now_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e6 + (double)t.tv_nsec * 1e-3;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_d);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static volatile int32_t sink;

/* the baseline: log-softmax and a full sort, per call */
static double full_sort(const float *lg, uint32_t V, cand *c)
{
    double t0 = now_us();
    for (int k = 0; k < CALLS; k++) {
        float mx = -INFINITY;
        for (uint32_t i = 0; i < V; i++)
            mx = lg[i] > mx ? lg[i] : mx;
        double sum = 0;
        for (uint32_t i = 0; i < V; i++) {
            sum += exp((double)(lg[i] - mx));
            c[i] = (cand){(int32_t)i, lg[i]};
        }
        qsort(c, V, sizeof *c, cmp);
        sink = c[0].id + (int32_t)log(sum);
    }
    return (now_us() - t0) / CALLS;
}

int main(int argc, char **argv)
{
    if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        printf("usage: sampler [RUNS]\n"
               "Times aria_sampler_sample per call for a 32000- and a 128256-token\n"
               "vocabulary under several settings, medians of RUNS (default 7), against\n"
               "a full sort of the vocabulary measured in the same run.\n");
        return 0;
    }
    int runs = argc > 1 ? atoi(argv[1]) : 7;
    if (runs < 1 || runs > 1000) {
        fprintf(stderr, "sampler: RUNS must be 1..1000, not %s\n", argv[1]);
        return 2;
    }
    static const struct {
        const char *name;
        float t, top_p, min_p;
        int top_k, logprobs;
    } cfg[] = {
        {"greedy", 0, 1, 0, 0, 0},
        {"greedy, 5 logprobs", 0, 1, 0, 0, 5},
        {"T 0.8", 0.8f, 1, 0, 0, 0},
        {"T 0.8, top_p 0.95", 0.8f, 0.95f, 0, 0, 0},
        {"T 0.8, top_k 40", 0.8f, 1, 0, 40, 0},
        {"T 0.8, min_p 0.05", 0.8f, 1, 0.05f, 0, 0},
        {"T 1, k 40 p 0.9", 1, 0.9f, 0, 40, 0},
    };
    const uint32_t vocabs[] = {32000, 128256};
    double *t = malloc((size_t)runs * sizeof *t);
    if (!t)
        return 1;
    printf("sampler bench: microseconds per call, medians of %d runs of %d calls\n", runs, CALLS);
    printf("%-22s %8s %10s %10s %8s\n", "setting", "vocab", "aria", "full sort", "speedup");
    for (size_t v = 0; v < 2; v++) {
        const uint32_t V = vocabs[v];
        float *lg = malloc(V * sizeof *lg);
        cand *c = malloc(V * sizeof *c);
        if (!lg || !c)
            return 1;
        uint64_t x = 42;
        for (uint32_t i = 0; i < V; i++) { /* Box-Muller */
            x = x * 6364136223846793005ull + 1442695040888963407ull;
            double u1 = ((double)(x >> 11) + 1) / 9007199254740993.0;
            x = x * 6364136223846793005ull + 1442695040888963407ull;
            double u2 = (double)(x >> 11) / 9007199254740992.0;
            lg[i] = (float)(2.5 * sqrt(-2 * log(u1)) * cos(6.283185307179586 * u2));
        }
        for (int r = 0; r < runs; r++)
            t[r] = full_sort(lg, V, c);
        double base = median(t, runs);
        for (size_t k = 0; k < sizeof cfg / sizeof *cfg; k++) {
            aria_sampling p;
            aria_sampling_defaults(&p);
            p.temperature = cfg[k].t;
            p.top_p = cfg[k].top_p;
            p.min_p = cfg[k].min_p;
            p.top_k = cfg[k].top_k;
            p.n_logprobs = (uint32_t)cfg[k].logprobs;
            p.seed = 1;
            aria_sampler *s;
            if (aria_sampler_new(&p, V, &s) != ARIA_OK)
                return 1;
            aria_logprob top[ARIA_MAX_LOGPROBS];
            for (int r = 0; r < runs; r++) {
                double t0 = now_us();
                for (int n = 0; n < CALLS; n++) {
                    float lp;
                    uint32_t nt = 0;
                    sink = aria_sampler_sample(s, lg, NULL, 0, &lp, top, &nt);
                }
                t[r] = (now_us() - t0) / CALLS;
            }
            aria_sampler_free(s);
            double m = median(t, runs);
            printf("%-22s %8u %10.1f %10.1f %7.1fx\n", cfg[k].name, V, m, base, base / m);
        }
        free(lg);
        free(c);
    }
    free(t);
    return 0;
}
