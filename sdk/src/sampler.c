/* sampler.c — penalties, truncation and a seeded draw. */
#include <aria/sampler.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define NB 1024      /* buckets of the order, below */
#define BSCALE 16.0f /* per unit of logit over temperature */

typedef struct cand {
    int32_t id;
    float logit;
} cand;

struct aria_sampler {
    aria_sampling p;
    uint32_t n_vocab;
    uint64_t rng;
    float *work;    /* penalized logits */
    float *prob;    /* their weights relative to the best */
    cand *c;        /* candidates */
    uint16_t *bk;   /* each token's bucket */
    uint32_t cnt[NB];
    double mass[NB]; /* tokens and their weight per bucket */
    uint32_t *seen; /* occurrence counts in the penalty window */
};

void aria_sampling_defaults(aria_sampling *p)
{
    memset(p, 0, sizeof *p);
    p->hdr.struct_size = sizeof *p;
    p->hdr.version = 1;
    p->top_p = 1.0f;
    p->repeat_penalty = 1.0f;
    p->repeat_last_n = 64;
}

aria_err aria_sampling_check(const aria_sampling *p, aria_msg *why)
{
    if (!(p->temperature >= 0 && p->temperature <= 100))
        return aria_fail(why, ARIA_ERR_RANGE, "temperature %g is outside 0..100", p->temperature);
    if (!(p->top_p > 0 && p->top_p <= 1))
        return aria_fail(why, ARIA_ERR_RANGE, "top_p %g is outside (0, 1]", p->top_p);
    if (!(p->min_p >= 0 && p->min_p <= 1))
        return aria_fail(why, ARIA_ERR_RANGE, "min_p %g is outside 0..1", p->min_p);
    if (p->top_k < 0)
        return aria_fail(why, ARIA_ERR_RANGE, "top_k %d is negative", p->top_k);
    if (!(p->repeat_penalty > 0 && p->repeat_penalty <= 10))
        return aria_fail(why, ARIA_ERR_RANGE, "repeat_penalty %g is outside (0, 10]",
                         p->repeat_penalty);
    if (!(p->frequency_penalty >= -2 && p->frequency_penalty <= 2))
        return aria_fail(why, ARIA_ERR_RANGE, "frequency_penalty %g is outside -2..2",
                         p->frequency_penalty);
    if (!(p->presence_penalty >= -2 && p->presence_penalty <= 2))
        return aria_fail(why, ARIA_ERR_RANGE, "presence_penalty %g is outside -2..2",
                         p->presence_penalty);
    if (p->n_logprobs > ARIA_MAX_LOGPROBS)
        return aria_fail(why, ARIA_ERR_RANGE, "top logprobs %u is more than %d", p->n_logprobs,
                         ARIA_MAX_LOGPROBS);
    return ARIA_OK;
}

aria_err aria_sampler_new(const aria_sampling *p, uint32_t n_vocab, aria_sampler **out)
{
    *out = NULL;
    if (aria_sampling_check(p, NULL) != ARIA_OK || n_vocab == 0)
        return ARIA_ERR_RANGE;
    aria_sampler *s = calloc(1, sizeof *s);
    if (!s)
        return ARIA_ERR_NOMEM;
    s->p = *p;
    s->n_vocab = n_vocab;
    s->rng = p->seed ^ 0x9e3779b97f4a7c15ull;
    s->work = malloc(n_vocab * sizeof *s->work);
    s->prob = malloc(n_vocab * sizeof *s->prob);
    s->c = malloc(n_vocab * sizeof *s->c);
    s->bk = malloc(n_vocab * sizeof *s->bk);
    s->seen = calloc(n_vocab, sizeof *s->seen);
    if (!s->work || !s->prob || !s->c || !s->bk || !s->seen) {
        aria_sampler_free(s);
        return ARIA_ERR_NOMEM;
    }
    *out = s;
    return ARIA_OK;
}

void aria_sampler_free(aria_sampler *s)
{
    if (!s)
        return;
    free(s->work);
    free(s->prob);
    free(s->c);
    free(s->bk);
    free(s->seen);
    free(s);
}

/* splitmix64: one 64-bit state, the same sequence everywhere. */
static double next_uniform(aria_sampler *s)
{
    uint64_t z = (s->rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return (double)(z >> 11) / 9007199254740992.0;
}

/* e^x for x <= 0 (-inf and NaN give 0): x = n ln 2 + r with |r| <= ln 2 / 2,
 * e^r by its Taylor polynomial to r^6 (relative error under 2e-7), 2^n
 * straight into the exponent bits. Plain float arithmetic without a libm
 * call, so the loop over a vocabulary vectorizes; this file is built
 * without FMA contraction, so the bits are the same on every machine. */
static inline float exp_neg(float x0)
{
    const float x = x0 > -87.0f ? x0 : -87.0f, keep = x0 > -87.0f ? 1.0f : 0.0f;
    const float t = x * 1.44269504f;
    const int32_t n = (int32_t)(t - 0.5f); /* t <= 0: rounds to nearest */
    const float r = (x - (float)n * 0.693145752f) - (float)n * 1.42860677e-6f;
    float q = 1.0f / 720;
    q = q * r + 1.0f / 120;
    q = q * r + 1.0f / 24;
    q = q * r + 1.0f / 6;
    q = q * r + 0.5f;
    q = q * r + 1.0f;
    q = q * r + 1.0f;
    const uint32_t bits = (uint32_t)(n + 127) << 23;
    float two;
    memcpy(&two, &bits, sizeof two);
    return q * two * keep;
}

/* The order of candidates: higher logit first, ties to the lower id. A
 * strict total order (ids are distinct), so selection cannot run off. */
static int better(const cand *a, const cand *b)
{
    return a->logit > b->logit || (a->logit == b->logit && a->id < b->id);
}

static int cmp_cand(const void *a, const void *b)
{
    return better(a, b) ? -1 : better(b, a) ? 1 : 0;
}

/* The candidates' order, coarsely: a token's bucket is how far below the
 * best its logit is, over the temperature, in steps of 1/BSCALE (the last
 * bucket holds everything further). Buckets follow the order, so a prefix
 * of the order is whole buckets and then a sorted part of one. */
static uint16_t bucket_of(float w, float mx, float inv_t)
{
    float d = w == mx ? 0.0f : (mx - w) * inv_t;
    return d < (float)(NB - 1) / BSCALE ? (uint16_t)(d * BSCALE) : NB - 1;
}

/* The tokens of bucket b into c, sorted; returns how many. */
static uint32_t bucket_sorted(const aria_sampler *s, uint32_t b, cand *c)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < s->n_vocab; i++)
        if (s->bk[i] == b)
            c[n++] = (cand){(int32_t)i, s->work[i]};
    qsort(c, n, sizeof *c, cmp_cand);
    return n;
}

/* Inserts (id, logit) into best[0..*n), kept sorted, at most k long. */
static void keep_best(cand *best, uint32_t *n, uint32_t k, int32_t id, float logit)
{
    cand x = {id, logit};
    if (*n == k && !better(&x, &best[k - 1]))
        return;
    uint32_t i = *n < k ? (*n)++ : k - 1;
    while (i > 0 && better(&x, &best[i - 1])) {
        best[i] = best[i - 1];
        i--;
    }
    best[i] = x;
}

int32_t aria_sampler_sample(aria_sampler *s, const float *logits, const int32_t *history,
                            size_t n_history, float *logprob, aria_logprob *top, uint32_t *n_top)
{
    const aria_sampling *p = &s->p;
    const uint32_t V = s->n_vocab;
    float *w = s->work;
    /* a NaN would break every comparison below: it counts as impossible */
    for (uint32_t i = 0; i < V; i++)
        w[i] = isnan(logits[i]) ? -INFINITY : logits[i];

    /* penalties over the window of recent tokens */
    size_t from = 0;
    if (p->repeat_last_n >= 0 && n_history > (size_t)p->repeat_last_n)
        from = n_history - (size_t)p->repeat_last_n;
    int penal = p->repeat_penalty != 1.0f || p->frequency_penalty != 0 || p->presence_penalty != 0;
    if (penal && history) {
        for (size_t i = from; i < n_history; i++)
            if (history[i] >= 0 && (uint32_t)history[i] < V)
                s->seen[history[i]]++;
        for (size_t i = from; i < n_history; i++) {
            int32_t t = history[i];
            if (t < 0 || (uint32_t)t >= V || !s->seen[t])
                continue;
            float l = w[t];
            if (p->repeat_penalty != 1.0f)
                l = l > 0 ? l / p->repeat_penalty : l * p->repeat_penalty;
            l -= (float)s->seen[t] * p->frequency_penalty + p->presence_penalty;
            w[t] = isnan(l) ? -INFINITY : l;
            s->seen[t] = 0; /* each distinct token once */
        }
    }

    /* the best token (ties: the lower id); eight running maxima, so the
     * comparisons do not wait on each other */
    float m8[8] = {w[0], w[0], w[0], w[0], w[0], w[0], w[0], w[0]};
    uint32_t i8 = V & ~7u;
    for (uint32_t i = 0; i < i8; i += 8)
        for (int j = 0; j < 8; j++)
            m8[j] = w[i + j] > m8[j] ? w[i + j] : m8[j];
    float mx = m8[0];
    for (int j = 1; j < 8; j++)
        mx = m8[j] > mx ? m8[j] : mx;
    for (uint32_t i = i8; i < V; i++)
        mx = w[i] > mx ? w[i] : mx;
    uint32_t arg = 0;
    while (w[arg] != mx)
        arg++;
    const int greedy = p->temperature <= 0;
    const uint32_t n_lp = top && n_top ? (p->n_logprobs < V ? p->n_logprobs : V) : 0;
    if (n_top)
        *n_top = 0;
    if (greedy && !logprob && !n_lp)
        return (int32_t)arg;

    /* e[i] = exp((w[i] - mx) / T), the weights relative to the best (1 for
     * greedy's log-probabilities); one pass, no sort */
    const float inv_t = 1.0f / (p->temperature > 0 ? p->temperature : 1.0f);
    float *e = s->prob;
    if (isfinite(mx))
        for (uint32_t i = 0; i < V; i++)
            e[i] = exp_neg((w[i] - mx) * inv_t); /* exactly 1 at the best */
    else /* the best is +inf (alone certain) or all are -inf (all alike) */
        for (uint32_t i = 0; i < V; i++)
            e[i] = w[i] == mx ? 1.0f : 0.0f;
    double d4[4] = {0, 0, 0, 0};
    uint32_t i4 = V & ~3u;
    for (uint32_t i = 0; i < i4; i += 4)
        for (int j = 0; j < 4; j++)
            d4[j] += e[i + j];
    for (uint32_t i = i4; i < V; i++)
        d4[0] += e[i];
    const double sum = (d4[0] + d4[1]) + (d4[2] + d4[3]);
    const double lse = log(sum);
#define LOGP(i) ((double)(w[i] == mx ? 0.0f : (w[i] - mx) * inv_t) - lse)

    int32_t chosen = (int32_t)arg;
    if (!greedy) {
        const int by_k = p->top_k > 0 && (uint32_t)p->top_k < V;
        const int by_p = p->top_p < 1.0f, by_min = p->min_p > 0;
        double z = 0, r;
        if (!by_k && !by_p && !by_min) { /* the whole distribution, in id order */
            r = next_uniform(s) * sum;
            chosen = (int32_t)(V - 1);
            for (uint32_t i = 0; i < V; i++) {
                z += e[i];
                if (r < z) {
                    chosen = (int32_t)i;
                    break;
                }
            }
        } else {
            /* top-k, then top-p over what top-k kept, then min-p: each keeps
             * a prefix of the order. The kept set is every token of the
             * buckets before pb, and the first pn of bucket pb (sorted into
             * c); min-p, a threshold on e, then thins both. */
            uint32_t *cnt = s->cnt;
            double *mass = s->mass;
            memset(cnt, 0, NB * sizeof *cnt);
            memset(mass, 0, NB * sizeof *mass);
            for (uint32_t i = 0; i < V; i++) {
                uint16_t b = s->bk[i] = bucket_of(w[i], mx, inv_t);
                cnt[b]++;
                mass[b] += e[i];
            }
            cand *c = s->c;
            uint32_t pb = NB, pn = 0; /* NB: no boundary, everything */
            double total = sum;
            if (by_k) {
                uint32_t acc = 0;
                for (pb = 0; acc + cnt[pb] < (uint32_t)p->top_k; pb++)
                    acc += cnt[pb];
                pn = (uint32_t)p->top_k - acc;
                bucket_sorted(s, pb, c);
                total = 0;
                for (uint32_t b = 0; b < pb; b++)
                    total += mass[b];
                for (uint32_t j = 0; j < pn; j++)
                    total += e[c[j].id];
            }
            if (by_p) {
                const double want = (double)p->top_p * total;
                double cum = 0;
                for (uint32_t b = 0; b < NB && b <= pb; b++) {
                    uint32_t n = b == pb ? pn : 0;
                    if (b < pb) {
                        if (cum + mass[b] < want) {
                            cum += mass[b];
                            continue;
                        }
                        n = bucket_sorted(s, b, c);
                    }
                    uint32_t j = 0;
                    while (j < n && (cum += e[c[j].id]) < want)
                        j++;
                    if (j < n || b < pb) { /* reached (or a rounding short of it) */
                        pb = b;
                        pn = j < n ? j + 1 : n;
                    }
                    break;
                }
            }
            const float floor_e = by_min ? p->min_p : 0.0f; /* relative to the best */
            for (uint32_t i = 0; i < V; i++)
                if (s->bk[i] < pb && e[i] >= floor_e)
                    z += e[i];
            for (uint32_t j = 0; j < pn; j++)
                if (e[c[j].id] >= floor_e)
                    z += e[c[j].id];
            r = next_uniform(s) * z;
            chosen = (int32_t)arg;
            double acc = 0;
            int done = 0;
            for (uint32_t i = 0; i < V && !done; i++)
                if (s->bk[i] < pb && e[i] >= floor_e && r < (acc += e[i])) {
                    chosen = (int32_t)i;
                    done = 1;
                }
            for (uint32_t j = 0; j < pn && !done; j++)
                if (e[c[j].id] >= floor_e && r < (acc += e[c[j].id])) {
                    chosen = c[j].id;
                    done = 1;
                }
        }
    }
    if (logprob)
        *logprob = (float)LOGP(chosen);
    if (n_lp) {
        cand *best = s->c; /* free again: the draw is done */
        uint32_t k = 0;
        for (uint32_t i = 0; i < V; i++)
            keep_best(best, &k, n_lp, (int32_t)i, w[i]);
        for (uint32_t i = 0; i < k; i++) {
            top[i].token = best[i].id;
            top[i].logprob = (float)LOGP(best[i].id);
        }
        *n_top = k;
    }
#undef LOGP
    return chosen;
}
