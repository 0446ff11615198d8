/* test_rewards.c — the reward formula: hand-computed tables (each factor
 * and the reward, efficiency clamped at both ends, a node never checked, a
 * node without a latency figure, even and odd medians), every bad input
 * with its message, and invariants on seeded random tables checked against
 * the network figures computed again here. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "rewards.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* cmocka 1.1 compares only integers and floats; these need doubles. */
static void close_to(double got, double want)
{
    if (!(fabs(got - want) <= 1e-12 * (fabs(want) > 1 ? fabs(want) : 1))) {
        printf("  got %.17g, want %.17g\n", got, want);
        fail();
    }
}

static void has(const char *text, const char *part)
{
    if (!strstr(text, part)) {
        printf("  '%s' not in '%s'\n", part, text);
        fail();
    }
}

static ari_reward_in node(const char *id, uint64_t completed, uint32_t active, uint32_t slots,
                          double ms, double mj, uint32_t checks, uint32_t passed)
{
    ari_reward_in r;
    memset(&r, 0, sizeof r);
    snprintf(r.node, sizeof r.node, "%s", id);
    r.completed = completed;
    r.active_slots = active;
    r.period_slots = slots;
    r.ms_per_token = ms;
    r.mj_per_inference = mj;
    r.checks = checks;
    r.checks_passed = passed;
    return r;
}

/* ---- hand-computed ------------------------------------------------------ */

static void test_three_nodes(void **state)
{
    (void)state;
    ari_reward_in in[3] = {
        node("aaaa", 100, 20, 24, 50, 400, 10, 9),
        node("bbbb", 300, 24, 24, 100, 200, 0, 0), /* never checked */
        node("cccc", 100, 12, 24, 0, 1000, 4, 2),  /* no latency figure */
    };
    ari_reward_out out[3];
    aria_msg why = {{0}};
    assert_int_equal(ari_rewards(in, 3, 2.0, out, &why), 0);
    /* network: median of 50 and 100 is 75 ms/token; energy
     * (100 x 400 + 300 x 200 + 100 x 1000) / 500 = 400 mJ/inference */
    has(why.text, "3 nodes");
    has(why.text, "75 ms/token");
    has(why.text, "400 mJ/inference");

    assert_string_equal(out[0].node, "aaaa");
    close_to(out[0].uptime, 20.0 / 24);
    close_to(out[0].latency_score, 1); /* faster than the median: capped */
    close_to(out[0].pass_rate, 0.9);
    close_to(out[0].quality, (20.0 / 24 + 1 + 0.9) / 3);
    close_to(out[0].efficiency, 1);
    close_to(out[0].reward, 2.0 * 100 * (20.0 / 24 + 1 + 0.9) / 3);

    assert_string_equal(out[1].node, "bbbb");
    close_to(out[1].uptime, 1);
    close_to(out[1].latency_score, 0.75);
    close_to(out[1].pass_rate, 1);
    close_to(out[1].quality, 2.75 / 3);
    close_to(out[1].efficiency, 2); /* 400 / 200: exactly at the top */
    close_to(out[1].reward, 2.0 * 300 * 2.75 / 3 * 2);
    close_to(out[1].reward, 1100);

    assert_string_equal(out[2].node, "cccc");
    close_to(out[2].uptime, 0.5);
    close_to(out[2].latency_score, 1);
    close_to(out[2].pass_rate, 0.5);
    close_to(out[2].quality, 2.0 / 3);
    close_to(out[2].efficiency, 0.5); /* 400 / 1000 = 0.4: clamped up */
    close_to(out[2].reward, 2.0 * 100 * 2.0 / 3 * 0.5);
}

static void test_clamp_top_and_odd_median(void **state)
{
    (void)state;
    ari_reward_in in[3] = {
        node("frugal", 1, 1, 1, 10, 100, 1, 1), node("heavy", 9, 1, 1, 30, 1000, 2, 1),
        node("idle", 0, 0, 1, 20, 0, 0, 0), /* no energy figure, nothing done */
    };
    ari_reward_out out[3];
    assert_int_equal(ari_rewards(in, 3, 1.0, out, NULL), 0);
    /* median of 10, 30, 20: 20; energy (1 x 100 + 9 x 1000) / 10 = 910 */
    close_to(out[0].latency_score, 1);
    close_to(out[0].efficiency, 2); /* 9.1: clamped down */
    close_to(out[0].reward, 1 * 1.0 * 2);
    close_to(out[1].latency_score, 20.0 / 30);
    close_to(out[1].pass_rate, 0.5);
    close_to(out[1].efficiency, 0.91);
    close_to(out[1].quality, (1 + 20.0 / 30 + 0.5) / 3);
    close_to(out[1].reward, 9 * (1 + 20.0 / 30 + 0.5) / 3 * 0.91);
    close_to(out[2].uptime, 0);
    close_to(out[2].latency_score, 1);
    close_to(out[2].efficiency, 1); /* unknown */
    close_to(out[2].reward, 0);
}

static void test_unknown_network_figures(void **state)
{
    (void)state;
    /* nobody reports energy or latency: those factors are 1 */
    ari_reward_in in[2] = {node("a", 5, 2, 4, 0, 0, 0, 0), node("b", 7, 4, 4, 0, 0, 3, 3)};
    ari_reward_out out[2];
    aria_msg why = {{0}};
    assert_int_equal(ari_rewards(in, 2, 0.5, out, &why), 0);
    has(why.text, "no latency figures");
    has(why.text, "no energy figures");
    close_to(out[0].efficiency, 1);
    close_to(out[0].latency_score, 1);
    close_to(out[0].quality, (0.5 + 1 + 1) / 3);
    close_to(out[0].reward, 0.5 * 5 * 2.5 / 3);
    close_to(out[1].quality, 1);
    close_to(out[1].reward, 3.5);

    /* a node with energy but nothing completed weighs nothing: b is alone
     * in the mean, and a's own figure is compared against it */
    in[0].mj_per_inference = 1;
    in[1].mj_per_inference = 300;
    in[0].completed = 0;
    assert_int_equal(ari_rewards(in, 2, 1, out, NULL), 0);
    close_to(out[1].efficiency, 1);
    close_to(out[0].efficiency, 2);

    /* a period of no slots, nothing done: fine */
    ari_reward_in z = node("z", 0, 0, 0, 0, 0, 0, 0);
    assert_int_equal(ari_rewards(&z, 1, 1, out, NULL), 0);
    close_to(out[0].uptime, 0);
    close_to(out[0].reward, 0);

    /* no nodes at all */
    assert_int_equal(ari_rewards(NULL, 0, 1, NULL, &why), 0);
    has(why.text, "0 nodes");

    /* a 64-character id is kept whole */
    ari_reward_in l = node("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", 1, 1,
                           1, 0, 0, 0, 0);
    assert_int_equal(ari_rewards(&l, 1, 1, out, NULL), 0);
    assert_string_equal(out[0].node, l.node);
}

/* ---- bad input ---------------------------------------------------------- */

/* in[1] is made bad by `bad`; the call fails, names node 1 and the field,
 * and leaves out alone. */
static void expect_bad(ari_reward_in bad, double base_rate, const char *want)
{
    ari_reward_in in[3] = {node("good-0", 1, 1, 1, 1, 1, 0, 0), bad,
                           node("good-2", 1, 1, 1, 1, 1, 0, 0)};
    ari_reward_out out[3];
    memset(out, 0x5a, sizeof out);
    aria_msg why = {{0}};
    assert_int_equal(ari_rewards(in, 3, base_rate, out, &why), -1);
    has(why.text, want);
    assert_null(strchr(why.text, '\n'));
    for (size_t i = 0; i < sizeof out; i++)
        assert_int_equal(((unsigned char *)out)[i], 0x5a);
    /* why may be NULL */
    assert_int_equal(ari_rewards(in, 3, base_rate, out, NULL), -1);
}

static void test_bad_input(void **state)
{
    (void)state;
    expect_bad(node("n-bad", 5, 0, 0, 1, 1, 0, 0), 1,
               "node 1 (n-bad): period_slots is 0 but completed is 5");
    expect_bad(node("n-bad", 5, 25, 24, 1, 1, 0, 0), 1,
               "node 1 (n-bad): active_slots 25 > period_slots 24");
    expect_bad(node("n-bad", 5, 1, 1, 1, 1, 3, 4), 1, "node 1 (n-bad): checks_passed 4 > checks 3");
    expect_bad(node("n-bad", 5, 1, 1, -2, 1, 0, 0), 1, "node 1 (n-bad): ms_per_token -2");
    expect_bad(node("n-bad", 5, 1, 1, NAN, 1, 0, 0), 1, "node 1 (n-bad): ms_per_token nan");
    expect_bad(node("n-bad", 5, 1, 1, INFINITY, 1, 0, 0), 1, "node 1 (n-bad): ms_per_token inf");
    expect_bad(node("n-bad", 5, 1, 1, 1, -0.5, 0, 0), 1, "node 1 (n-bad): mj_per_inference -0.5");
    expect_bad(node("n-bad", 5, 1, 1, 1, NAN, 0, 0), 1, "node 1 (n-bad): mj_per_inference nan");
    expect_bad(node("n-bad", 5, 1, 1, 1, 1, 0, 0), -1, "base_rate -1");
    expect_bad(node("n-bad", 5, 1, 1, 1, 1, 0, 0), NAN, "base_rate nan");
    expect_bad(node("n-bad", 5, 1, 1, 1, 1, 0, 0), INFINITY, "base_rate inf");
    /* an id that would break the line is shown tamed */
    expect_bad(node("evil\nid", 5, 2, 1, 1, 1, 0, 0), 1, "node 1 (evil?id): active_slots");

    ari_reward_in in = node("a", 1, 1, 1, 1, 1, 0, 0);
    ari_reward_out out;
    aria_msg why = {{0}};
    assert_int_equal(ari_rewards(NULL, 1, 1, &out, &why), -1);
    has(why.text, "in is NULL");
    assert_int_equal(ari_rewards(&in, 1, 1, NULL, &why), -1);
    has(why.text, "out is NULL");
}

/* ---- invariants on random tables ----------------------------------------- */

static uint64_t g_rng = 0x9e3779b97f4a7c15u;

static uint64_t rnd(void)
{
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return g_rng;
}

static double rnd_unit(void)
{
    return (double)(rnd() >> 11) / 9007199254740992.0;
}

static void random_table(ari_reward_in *in, size_t n)
{
    /* one draw per statement: argument order is unspecified, and the tables
     * should be the same whatever the compiler */
    for (size_t i = 0; i < n; i++) {
        char id[24];
        snprintf(id, sizeof id, "n%zu", i);
        uint32_t slots = (uint32_t)(rnd() % 50);
        uint64_t completed = slots ? rnd() % 10000 : 0;
        uint32_t active = slots ? (uint32_t)(rnd() % (slots + 1)) : 0;
        double ms = rnd() % 4 ? rnd_unit() * 200 : 0;
        double mj = rnd() % 4 ? rnd_unit() * 5000 : 0;
        uint32_t checks = rnd() % 3 ? (uint32_t)(rnd() % 20) : 0;
        uint32_t passed = checks ? (uint32_t)(rnd() % (checks + 1)) : 0;
        in[i] = node(id, completed, active, slots, ms, mj, checks, passed);
    }
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void test_random_invariants(void **state)
{
    (void)state;
    enum { MAXN = 9 };
    for (int round = 0; round < 2000; round++) {
        size_t n = 1 + rnd() % MAXN;
        ari_reward_in in[MAXN];
        ari_reward_out out[MAXN], out2[MAXN];
        random_table(in, n);
        double base = rnd_unit() * 10;
        assert_int_equal(ari_rewards(in, n, base, out, NULL), 0);

        /* the network figures, the plain way */
        double ms[MAXN], sw = 0, swx = 0;
        size_t k = 0;
        for (size_t i = 0; i < n; i++) {
            if (in[i].ms_per_token > 0)
                ms[k++] = in[i].ms_per_token;
            if (in[i].mj_per_inference > 0) {
                sw += (double)in[i].completed;
                swx += (double)in[i].completed * in[i].mj_per_inference;
            }
        }
        qsort(ms, k, sizeof ms[0], cmp_d);
        double med = k ? (k % 2 ? ms[k / 2] : (ms[k / 2 - 1] + ms[k / 2]) / 2) : 0;
        double mean = sw > 0 ? swx / sw : 0;

        for (size_t i = 0; i < n; i++) {
            const ari_reward_out *o = &out[i];
            assert_string_equal(o->node, in[i].node);
            assert_true(o->uptime >= 0 && o->uptime <= 1);
            assert_true(o->latency_score >= 0 && o->latency_score <= 1);
            assert_true(o->pass_rate >= 0 && o->pass_rate <= 1);
            assert_true(o->quality >= 0 && o->quality <= 1);
            assert_true(o->efficiency >= 0.5 && o->efficiency <= 2);
            assert_true(o->reward >= 0 && isfinite(o->reward));
            double lat = in[i].ms_per_token > 0 ? fmin(1, med / in[i].ms_per_token) : 1;
            double eff = in[i].mj_per_inference > 0 && mean > 0
                             ? fmax(0.5, fmin(2, mean / in[i].mj_per_inference))
                             : 1;
            if (fabs(o->latency_score - lat) > 1e-9 || fabs(o->efficiency - eff) > 1e-9) {
                printf("  round %d node %zu: latency %g want %g, efficiency %g want %g\n", round, i,
                       o->latency_score, lat, o->efficiency, eff);
                fail();
            }
            close_to(o->quality, (o->uptime + o->latency_score + o->pass_rate) / 3);
            close_to(o->reward, base * (double)in[i].completed * o->quality * o->efficiency);
        }

        /* more completed, never less reward, though the node's own work
         * also moves the network's mean energy */
        size_t j = rnd() % n;
        if (!in[j].period_slots)
            continue;
        uint64_t before = in[j].completed;
        in[j].completed += 1 + rnd() % 5000;
        assert_int_equal(ari_rewards(in, n, base, out2, NULL), 0);
        if (!(out2[j].reward >= out[j].reward * (1 - 1e-12))) {
            printf("  round %d node %zu: completed %" PRIu64 " -> %" PRIu64
                   ", reward %.17g -> %.17g\n",
                   round, j, before, in[j].completed, out[j].reward, out2[j].reward);
            fail();
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_three_nodes),
        cmocka_unit_test(test_clamp_top_and_odd_median),
        cmocka_unit_test(test_unknown_network_figures),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_random_invariants),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
