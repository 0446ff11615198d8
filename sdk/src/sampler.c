/* sampler.c — penalties, truncation and a seeded draw. */
#include <aria/sampler.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct cand {
    int32_t id;
    float logit;
} cand;

struct aria_sampler {
    aria_sampling p;
    uint32_t n_vocab;
    uint64_t rng;
    float *work;    /* penalized logits */
    cand *c;        /* candidates */
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
    s->c = malloc(n_vocab * sizeof *s->c);
    s->seen = calloc(n_vocab, sizeof *s->seen);
    if (!s->work || !s->c || !s->seen) {
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
    free(s->c);
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

static int cmp_cand(const void *a, const void *b)
{
    const cand *x = a, *y = b;
    if (x->logit != y->logit)
        return x->logit > y->logit ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id; /* ties: lower id first */
}

int32_t aria_sampler_sample(aria_sampler *s, const float *logits, const int32_t *history,
                            size_t n_history, float *logprob, aria_logprob *top, uint32_t *n_top)
{
    const aria_sampling *p = &s->p;
    const uint32_t V = s->n_vocab;
    float *w = s->work;
    memcpy(w, logits, V * sizeof *w);

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
            w[t] = l;
            s->seen[t] = 0; /* each distinct token once */
        }
    }

    /* log-softmax at the sampling temperature (1 for greedy) */
    const float temp = p->temperature > 0 ? p->temperature : 1.0f;
    float mx = -INFINITY;
    for (uint32_t i = 0; i < V; i++)
        if (w[i] > mx)
            mx = w[i];
    double sum = 0;
    for (uint32_t i = 0; i < V; i++)
        sum += exp((double)(w[i] - mx) / temp);
    const double lse = log(sum);

    /* Candidates: whatever is within e^-40 of the best survives truncation;
     * the rest has no probability worth a sort. */
    uint32_t n = 0;
    for (uint32_t i = 0; i < V; i++)
        if ((w[i] - mx) / temp > -40.0f || p->n_logprobs)
            s->c[n++] = (cand){(int32_t)i, w[i]};
    qsort(s->c, n, sizeof *s->c, cmp_cand);

    int32_t chosen;
    if (p->temperature <= 0) {
        chosen = s->c[0].id;
    } else {
        uint32_t keep = n;
        if (p->top_k > 0 && (uint32_t)p->top_k < keep)
            keep = (uint32_t)p->top_k;
        double cum = 0, total = 0;
        for (uint32_t i = 0; i < keep; i++)
            total += exp((double)(s->c[i].logit - mx) / temp);
        if (p->top_p < 1.0f) {
            for (uint32_t i = 0; i < keep; i++) {
                cum += exp((double)(s->c[i].logit - mx) / temp) / total;
                if (cum >= p->top_p) {
                    keep = i + 1;
                    break;
                }
            }
        }
        if (p->min_p > 0) {
            double floor_p = p->min_p; /* relative to the best token's probability */
            for (uint32_t i = 1; i < keep; i++)
                if (exp((double)(s->c[i].logit - s->c[0].logit) / temp) < floor_p) {
                    keep = i;
                    break;
                }
        }
        double z = 0;
        for (uint32_t i = 0; i < keep; i++)
            z += exp((double)(s->c[i].logit - mx) / temp);
        double r = next_uniform(s) * z, acc = 0;
        chosen = s->c[keep - 1].id;
        for (uint32_t i = 0; i < keep; i++) {
            acc += exp((double)(s->c[i].logit - mx) / temp);
            if (r < acc) {
                chosen = s->c[i].id;
                break;
            }
        }
    }
    if (logprob)
        *logprob = (float)((double)(w[chosen] - mx) / temp - lse);
    if (n_top) {
        uint32_t k = p->n_logprobs < n ? p->n_logprobs : n;
        for (uint32_t i = 0; i < k && top; i++) {
            top[i].token = s->c[i].id;
            top[i].logprob = (float)((double)(s->c[i].logit - mx) / temp - lse);
        }
        *n_top = top ? k : 0;
    }
    return chosen;
}
