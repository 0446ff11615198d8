/* test_sampler.c — each sampling control does what it says, on logits
 * whose answers are known. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <aria/sampler.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int32_t pick(const aria_sampling *p, const float *lg, uint32_t n, const int32_t *h, size_t nh)
{
    aria_sampler *s;
    assert_int_equal(aria_sampler_new(p, n, &s), ARIA_OK);
    float lp;
    int32_t t = aria_sampler_sample(s, lg, h, nh, &lp, NULL, NULL);
    aria_sampler_free(s);
    return t;
}

static void test_greedy_and_ties(void **state)
{
    (void)state;
    aria_sampling p;
    aria_sampling_defaults(&p);
    float lg[5] = {0.1f, 2.0f, 2.0f, -1.0f, 1.9f};
    assert_int_equal(pick(&p, lg, 5, NULL, 0), 1); /* tie: the lower id */
}

static void test_penalties(void **state)
{
    (void)state;
    aria_sampling p;
    aria_sampling_defaults(&p);
    float lg[3] = {1.0f, 1.2f, 0.0f};
    int32_t hist[] = {1, 1, 1};
    p.repeat_penalty = 1.5f; /* 1.2 / 1.5 = 0.8 < 1.0 */
    assert_int_equal(pick(&p, lg, 3, hist, 3), 0);
    p.repeat_penalty = 1.0f;
    p.frequency_penalty = 0.1f; /* 1.2 - 3 * 0.1 = 0.9 */
    assert_int_equal(pick(&p, lg, 3, hist, 3), 0);
    p.frequency_penalty = 0.05f; /* 1.05 */
    assert_int_equal(pick(&p, lg, 3, hist, 3), 1);
    p.frequency_penalty = 0;
    p.presence_penalty = 0.3f; /* once: 0.9 */
    assert_int_equal(pick(&p, lg, 3, hist, 3), 0);
    p.repeat_last_n = 0; /* empty window: no penalty */
    assert_int_equal(pick(&p, lg, 3, hist, 3), 1);
}

/* Draw many times: only the allowed tokens ever come out, and frequencies
 * follow the probabilities. */
static void test_truncation_and_frequencies(void **state)
{
    (void)state;
    float lg[4] = {logf(0.5f), logf(0.3f), logf(0.15f), logf(0.05f)};
    aria_sampling p;
    aria_sampling_defaults(&p);
    p.temperature = 1.0f;
    p.seed = 7;
    aria_sampler *s;
    assert_int_equal(aria_sampler_new(&p, 4, &s), ARIA_OK);
    int count[4] = {0};
    for (int i = 0; i < 20000; i++)
        count[aria_sampler_sample(s, lg, NULL, 0, NULL, NULL, NULL)]++;
    aria_sampler_free(s);
    assert_in_range(count[0], 9600, 10400);
    assert_in_range(count[3], 800, 1200);

    p.top_k = 2;
    assert_int_equal(aria_sampler_new(&p, 4, &s), ARIA_OK);
    for (int i = 0; i < 2000; i++)
        assert_true(aria_sampler_sample(s, lg, NULL, 0, NULL, NULL, NULL) < 2);
    aria_sampler_free(s);
    p.top_k = 0;
    p.top_p = 0.6f; /* 0.5 then 0.8 >= 0.6: two tokens */
    assert_int_equal(aria_sampler_new(&p, 4, &s), ARIA_OK);
    for (int i = 0; i < 2000; i++)
        assert_true(aria_sampler_sample(s, lg, NULL, 0, NULL, NULL, NULL) < 2);
    aria_sampler_free(s);
    p.top_p = 1;
    p.min_p = 0.5f; /* relative to 0.5: keeps p >= 0.25 */
    assert_int_equal(aria_sampler_new(&p, 4, &s), ARIA_OK);
    for (int i = 0; i < 2000; i++)
        assert_true(aria_sampler_sample(s, lg, NULL, 0, NULL, NULL, NULL) < 2);
    aria_sampler_free(s);
}

static void test_logprobs(void **state)
{
    (void)state;
    float lg[3] = {logf(0.7f), logf(0.2f), logf(0.1f)};
    aria_sampling p;
    aria_sampling_defaults(&p);
    p.n_logprobs = 2;
    aria_sampler *s;
    assert_int_equal(aria_sampler_new(&p, 3, &s), ARIA_OK);
    float lp;
    aria_logprob top[2];
    uint32_t nt = 0;
    assert_int_equal(aria_sampler_sample(s, lg, NULL, 0, &lp, top, &nt), 0);
    aria_sampler_free(s);
    assert_float_equal(lp, logf(0.7f), 1e-5);
    assert_int_equal(nt, 2);
    assert_int_equal(top[1].token, 1);
    assert_float_equal(top[1].logprob, logf(0.2f), 1e-5);
}

static void test_checks(void **state)
{
    (void)state;
    aria_sampling p;
    aria_sampling_defaults(&p);
    aria_msg why;
    p.top_p = 0;
    assert_int_equal(aria_sampling_check(&p, &why), ARIA_ERR_RANGE);
    assert_string_equal(why.text, "top_p 0 is outside (0, 1]");
    aria_sampling_defaults(&p);
    p.temperature = NAN;
    assert_int_equal(aria_sampling_check(&p, &why), ARIA_ERR_RANGE);
    aria_sampling_defaults(&p);
    p.n_logprobs = 99;
    assert_int_equal(aria_sampling_check(&p, &why), ARIA_ERR_RANGE);
}

/* The plain definition the sampler must agree with: sort the whole
 * vocabulary (best first, ties to the lower id), keep the top-k prefix, then
 * the shortest prefix whose mass reaches top_p of what top-k kept, then the
 * tokens at least min_p as likely as the best. */
typedef struct ref_c {
    int32_t id;
    float l;
} ref_c;

static int ref_cmp(const void *a, const void *b)
{
    const ref_c *x = a, *y = b;
    if (x->l != y->l)
        return x->l > y->l ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

static uint32_t ref_keep(const aria_sampling *p, const float *lg, uint32_t V, ref_c *c)
{
    for (uint32_t i = 0; i < V; i++)
        c[i] = (ref_c){(int32_t)i, lg[i]};
    qsort(c, V, sizeof *c, ref_cmp);
    const double T = p->temperature > 0 ? p->temperature : 1;
    uint32_t keep = p->top_k > 0 && (uint32_t)p->top_k < V ? (uint32_t)p->top_k : V;
    double total = 0, cum = 0;
    for (uint32_t i = 0; i < keep; i++)
        total += exp((c[i].l - c[0].l) / T);
    if (p->top_p < 1)
        for (uint32_t i = 0; i < keep; i++)
            if ((cum += exp((c[i].l - c[0].l) / T)) >= p->top_p * total) {
                keep = i + 1;
                break;
            }
    if (p->min_p > 0)
        for (uint32_t i = 1; i < keep; i++)
            if (exp((c[i].l - c[0].l) / T) < p->min_p) {
                keep = i;
                break;
            }
    return keep;
}

/* A vocabulary the size of a real one, logits on a coarse grid so that
 * there are many ties: every truncation keeps exactly the reference's set,
 * and the top logprobs are the reference's first ones in its order. */
static void test_against_full_sort(void **state)
{
    (void)state;
    enum { V = 50000 };
    float *lg = malloc(V * sizeof *lg);
    ref_c *c = malloc(V * sizeof *c);
    uint8_t *in = malloc(V);
    assert_non_null(lg);
    assert_non_null(c);
    assert_non_null(in);
    uint64_t x = 12345;
    for (uint32_t i = 0; i < V; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        lg[i] = (float)((x >> 40) % 64) * 0.25f; /* 0 .. 15.75 */
    }
    static const struct {
        float t, top_p, min_p;
        int top_k;
    } cases[] = {
        {0.8f, 1, 0, 40},     {1.0f, 0.9f, 0, 0},    {1.0f, 0.5f, 0, 1000}, {0.7f, 1, 0.05f, 0},
        {1.2f, 0.95f, 0.1f, 200}, {1.0f, 0.999f, 0, 0}, {2.0f, 0.3f, 0, 0},   {1.0f, 1, 0, 1},
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        aria_sampling p;
        aria_sampling_defaults(&p);
        p.temperature = cases[k].t;
        p.top_p = cases[k].top_p;
        p.min_p = cases[k].min_p;
        p.top_k = cases[k].top_k;
        p.seed = 99 + k;
        uint32_t keep = ref_keep(&p, lg, V, c);
        memset(in, 0, V);
        for (uint32_t i = 0; i < keep; i++)
            in[c[i].id] = 1;
        aria_sampler *s;
        assert_int_equal(aria_sampler_new(&p, V, &s), ARIA_OK);
        uint32_t distinct = 0;
        for (int d = 0; d < 3000; d++) {
            int32_t t = aria_sampler_sample(s, lg, NULL, 0, NULL, NULL, NULL);
            assert_in_range(t, 0, V - 1);
            if (!in[t])
                fail_msg("case %zu: token %d is outside the %u kept", k, t, keep);
            if (in[t] == 1) {
                in[t] = 2;
                distinct++;
            }
        }
        aria_sampler_free(s);
        if (keep > 1 && distinct < 2)
            fail_msg("case %zu: one token drawn of %u kept", k, keep);
    }

    aria_sampling p;
    aria_sampling_defaults(&p);
    p.n_logprobs = 20;
    ref_keep(&p, lg, V, c);
    double lse = 0;
    for (uint32_t i = 0; i < V; i++)
        lse += exp(lg[i] - c[0].l);
    lse = log(lse);
    aria_sampler *s;
    assert_int_equal(aria_sampler_new(&p, V, &s), ARIA_OK);
    aria_logprob top[20];
    uint32_t nt = 0;
    float lp = 0;
    assert_int_equal(aria_sampler_sample(s, lg, NULL, 0, &lp, top, &nt), c[0].id);
    aria_sampler_free(s);
    assert_int_equal(nt, 20);
    assert_float_equal(lp, -lse, 1e-4);
    for (uint32_t i = 0; i < 20; i++) {
        assert_int_equal(top[i].token, c[i].id);
        assert_float_equal(top[i].logprob, (c[i].l - c[0].l) - lse, 1e-4);
    }

    /* a NaN logit counts as impossible: never drawn, nothing breaks */
    lg[c[0].id] = NAN;
    p.temperature = 1;
    p.top_p = 0.9f;
    assert_int_equal(aria_sampler_new(&p, V, &s), ARIA_OK);
    for (int d = 0; d < 200; d++)
        assert_int_not_equal(aria_sampler_sample(s, lg, NULL, 0, &lp, top, &nt), c[0].id);
    aria_sampler_free(s);
    free(in);
    free(c);
    free(lg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_greedy_and_ties),
        cmocka_unit_test(test_penalties),
        cmocka_unit_test(test_truncation_and_frequencies),
        cmocka_unit_test(test_logprobs),
        cmocka_unit_test(test_checks),
        cmocka_unit_test(test_against_full_sort),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
