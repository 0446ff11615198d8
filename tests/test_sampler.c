/* test_sampler.c — each sampling control does what it says, on logits
 * whose answers are known. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <aria/sampler.h>

#include <math.h>
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_greedy_and_ties),
        cmocka_unit_test(test_penalties),
        cmocka_unit_test(test_truncation_and_frequencies),
        cmocka_unit_test(test_logprobs),
        cmocka_unit_test(test_checks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
