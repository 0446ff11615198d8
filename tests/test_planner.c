/* test_planner.c — pipeline plans over layer ranges (fewest hops, then cost,
 * replicas, gaps, failover, ties) and proportional splits (speed, memory,
 * embeddings and head), on hand-made tables and on seeded random ones checked
 * against a BFS and a layered search written here, independent of the
 * planner's single pass. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "planner.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

/* An offer: usable, with a name that says its place in the table. */
#define OF(name, f, e, tps, load, rtt) ((ari_stage_offer){name, f, e, tps, load, rtt, 1})

/* cmocka 1.1 compares only floats; costs here need doubles. */
static void close_to(double got, double want)
{
    if (!(fabs(got - want) <= 1e-12 * (fabs(want) > 1 ? fabs(want) : 1))) {
        printf("  got %.17g, want %.17g\n", got, want);
        fail();
    }
}

/* The documented stage cost, written again here so the planner's own
 * function is checked and not trusted. */
static double want_cost(const ari_stage_offer *o, uint32_t n_layers)
{
    double t = o->tok_per_s > 0 && isfinite(o->tok_per_s)
                   ? 1 / o->tok_per_s
                   : ARI_PLAN_UNKNOWN_S_PER_TOK * (o->end - o->first) / n_layers;
    return t * (1 + (o->load > 0 ? o->load : 0)) + o->rtt_us / 1e6;
}

static void want_ranges(const ari_plan *p, const uint32_t *cuts, size_t n_stages)
{
    assert_int_equal(p->n_stages, n_stages);
    for (size_t s = 0; s < n_stages; s++) {
        assert_int_equal(p->stage[s].first, cuts[s]);
        assert_int_equal(p->stage[s].end, cuts[s + 1]);
    }
}

/* ---- pipeline ---------------------------------------------------------- */

static void test_single_node(void **state)
{
    (void)state;
    ari_stage_offer o[] = {OF("a", 0, 12, 20.0, 0.5, 2000)};
    ari_plan p;
    char why[160];
    assert_int_equal(ari_plan_pipeline(12, o, 1, 3, &p, why, sizeof why), 0);
    assert_int_equal(p.n_stages, 1);
    assert_int_equal(p.stage[0].first, 0);
    assert_int_equal(p.stage[0].end, 12);
    assert_int_equal(p.stage[0].primary, 0);
    assert_int_equal(p.stage[0].n_replicas, 0);
    close_to(p.stage[0].cost, 1.0 / 20 * 1.5 + 0.002);
    close_to(p.cost, 1.0 / 20 * 1.5 + 0.002);
    close_to(ari_plan_stage_cost(&o[0], 12), 1.0 / 20 * 1.5 + 0.002);
    assert_non_null(strstr(why, "1 stage"));
}

static void test_thirds_in_order(void **state)
{
    (void)state;
    /* given out of order: the plan comes back in layer order */
    ari_stage_offer o[] = {OF("c", 8, 12, 10, 0, 0), OF("a", 0, 4, 20, 0, 0),
                           OF("b", 4, 8, 40, 0, 0)};
    ari_plan p;
    assert_int_equal(ari_plan_pipeline(12, o, 3, 3, &p, NULL, 0), 0);
    const uint32_t cuts[] = {0, 4, 8, 12};
    want_ranges(&p, cuts, 3);
    assert_int_equal(p.stage[0].primary, 1);
    assert_int_equal(p.stage[1].primary, 2);
    assert_int_equal(p.stage[2].primary, 0);
    close_to(p.cost, 1.0 / 20 + 1.0 / 40 + 1.0 / 10);
}

static void test_fewer_hops_win(void **state)
{
    (void)state;
    /* three fast thirds (0.003 s/token) or two slow halves (2 s/token) */
    ari_stage_offer o[] = {OF("f0", 0, 4, 1000, 0, 0),  OF("f1", 4, 8, 1000, 0, 0),
                           OF("f2", 8, 12, 1000, 0, 0), OF("s0", 0, 6, 1, 0, 0),
                           OF("s1", 6, 12, 1, 0, 0),    OF("one", 0, 12, 0.01, 0, 0)};
    ari_plan p;
    /* the whole model on one crawling node still beats any pipeline */
    assert_int_equal(ari_plan_pipeline(12, o, 6, 1, &p, NULL, 0), 0);
    assert_int_equal(p.n_stages, 1);
    assert_int_equal(p.stage[0].primary, 5);
    /* without it, two slow stages beat three fast ones */
    assert_int_equal(ari_plan_pipeline(12, o, 5, 1, &p, NULL, 0), 0);
    const uint32_t two[] = {0, 6, 12};
    want_ranges(&p, two, 2);
    assert_int_equal(p.stage[0].primary, 3);
    assert_int_equal(p.stage[1].primary, 4);
    close_to(p.cost, 2.0);
    /* and with a half gone, the three */
    o[4].usable = 0;
    assert_int_equal(ari_plan_pipeline(12, o, 5, 1, &p, NULL, 0), 0);
    const uint32_t three[] = {0, 4, 8, 12};
    want_ranges(&p, three, 3);
    close_to(p.cost, 0.003);
}

static void test_cost_among_equal_hops(void **state)
{
    (void)state;
    ari_stage_offer o[] = {
        OF("slow", 0, 12, 10, 0, 0),         /* 0.1 */
        OF("best", 0, 12, 40, 0, 0),         /* 0.025 */
        OF("loaded", 0, 12, 40, 1, 0),       /* 0.05: load doubles the compute */
        OF("far", 0, 12, 40, 0, 50000),      /* 0.075: 50 ms away */
        {"dead", 0, 12, 400, 0, 0, 0},       /* fastest, but unusable */
        OF("unmeasured", 0, 12, 0, 0, 1000), /* 0.1 * 12/12 + 0.001 */
    };
    ari_plan p;
    assert_int_equal(ari_plan_pipeline(12, o, 6, 3, &p, NULL, 0), 0);
    assert_int_equal(p.stage[0].primary, 1);
    assert_int_equal(p.stage[0].n_replicas, 2);
    assert_int_equal(p.stage[0].replicas[0], 2);
    assert_int_equal(p.stage[0].replicas[1], 3);
    assert_int_equal(ari_plan_pipeline(12, o, 6, 8, &p, NULL, 0), 0);
    assert_int_equal(p.stage[0].n_replicas, 4);
    const size_t order[] = {2, 3, 0, 5};
    for (size_t j = 0; j < 4; j++)
        assert_int_equal(p.stage[0].replicas[j], order[j]);
    close_to(ari_plan_stage_cost(&o[5], 12), 0.101);
    /* an unmeasured node's default scales with the share of layers it holds */
    ari_stage_offer quarter = OF("q", 0, 3, 0, 0, 0);
    close_to(ari_plan_stage_cost(&quarter, 12), ARI_PLAN_UNKNOWN_S_PER_TOK / 4);

    /* same number of stages, different cuts: the cheaper sum wins */
    ari_stage_offer h[] = {OF("a", 0, 6, 10, 0, 0), OF("b", 6, 12, 10, 0, 0),
                           OF("c", 0, 4, 100, 0, 0), OF("d", 4, 12, 20, 0, 0)};
    assert_int_equal(ari_plan_pipeline(12, h, 4, 3, &p, NULL, 0), 0);
    const uint32_t cuts[] = {0, 4, 12};
    want_ranges(&p, cuts, 2);
    close_to(p.cost, 0.01 + 0.05);
    h[2].load = 9; /* c costs 0.1 now, c + d 0.15: still below a + b */
    assert_int_equal(ari_plan_pipeline(12, h, 4, 3, &p, NULL, 0), 0);
    want_ranges(&p, cuts, 2);
    h[3].rtt_us = 60000; /* d 0.11, c + d 0.21: a + b (0.2) wins */
    assert_int_equal(ari_plan_pipeline(12, h, 4, 3, &p, NULL, 0), 0);
    const uint32_t halves[] = {0, 6, 12};
    want_ranges(&p, halves, 2);
}

static void test_replication_one(void **state)
{
    (void)state;
    ari_stage_offer o[] = {OF("a", 0, 6, 10, 0, 0), OF("b", 0, 6, 20, 0, 0),
                           OF("c", 6, 12, 10, 0, 0), OF("d", 6, 12, 20, 0, 0)};
    ari_plan p;
    for (uint32_t r = 0; r <= 1; r++) { /* 0 is taken as 1 */
        assert_int_equal(ari_plan_pipeline(12, o, 4, r, &p, NULL, 0), 0);
        assert_int_equal(p.n_stages, 2);
        assert_int_equal(p.stage[0].primary, 1);
        assert_int_equal(p.stage[1].primary, 3);
        assert_int_equal(p.stage[0].n_replicas, 0);
        assert_int_equal(p.stage[1].n_replicas, 0);
    }
    assert_int_equal(ari_plan_pipeline(12, o, 4, 2, &p, NULL, 0), 0);
    assert_int_equal(p.stage[0].n_replicas, 1);
    assert_int_equal(p.stage[0].replicas[0], 0);
    assert_int_equal(p.stage[1].replicas[0], 2);
}

static void test_replication_beyond_available(void **state)
{
    (void)state;
    ari_stage_offer o[12];
    for (size_t i = 0; i < 12; i++) {
        o[i] = OF("n", 0, 8, (double)(i + 1), 0, 0); /* later is faster */
    }
    ari_plan p;
    assert_int_equal(ari_plan_pipeline(8, o, 3, 10, &p, NULL, 0), 0);
    assert_int_equal(p.stage[0].primary, 2);
    assert_int_equal(p.stage[0].n_replicas, 2);
    assert_int_equal(p.stage[0].replicas[0], 1);
    assert_int_equal(p.stage[0].replicas[1], 0);
    /* more wanted than a stage keeps: the best ARI_PLAN_MAX_REPLICAS */
    assert_int_equal(ari_plan_pipeline(8, o, 12, 100, &p, NULL, 0), 0);
    assert_int_equal(p.stage[0].primary, 11);
    assert_int_equal(p.stage[0].n_replicas, ARI_PLAN_MAX_REPLICAS);
    for (size_t j = 0; j < ARI_PLAN_MAX_REPLICAS; j++)
        assert_int_equal(p.stage[0].replicas[j], 10 - j);
}

static void want_fail(uint32_t n_layers, const ari_stage_offer *o, size_t n, const char *reason)
{
    ari_plan p;
    p.n_stages = 7;
    char why[200] = "";
    assert_int_equal(ari_plan_pipeline(n_layers, o, n, 3, &p, why, sizeof why), -1);
    assert_int_equal(p.n_stages, 0);
    if (!strstr(why, reason)) {
        printf("  reason \"%s\" lacks \"%s\"\n", why, reason);
        fail();
    }
}

static void test_gap(void **state)
{
    (void)state;
    ari_stage_offer a[] = {OF("a", 0, 4, 10, 0, 0), OF("b", 7, 12, 10, 0, 0)};
    want_fail(12, a, 2, "no node holds layers 4..6 of 12");
    ari_stage_offer b[] = {OF("a", 0, 4, 10, 0, 0), OF("b", 5, 12, 10, 0, 0)};
    want_fail(12, b, 2, "no node holds layer 4 of 12");
    ari_stage_offer c[] = {OF("a", 3, 12, 10, 0, 0)};
    want_fail(12, c, 1, "no node holds layers 0..2 of 12");
    ari_stage_offer d[] = {OF("a", 0, 10, 10, 0, 0), OF("b", 0, 5, 10, 0, 0)};
    want_fail(12, d, 2, "no node holds layers 10..11 of 12");
    want_fail(12, NULL, 0, "no node holds layers 0..11 of 12");
    /* the first gap is named, not a later one */
    ari_stage_offer e[] = {OF("a", 0, 2, 10, 0, 0), OF("b", 3, 8, 10, 0, 0),
                           OF("c", 10, 12, 10, 0, 0)};
    want_fail(12, e, 3, "no node holds layer 2 of 12");
    /* every layer held, but no chain lines up past layer 4 */
    ari_stage_offer f[] = {OF("a", 0, 4, 10, 0, 0), OF("b", 2, 8, 10, 0, 0),
                           OF("c", 6, 12, 10, 0, 0)};
    want_fail(12, f, 3, "no usable range starts at layer 4 (of 12)");
}

static void test_failover(void **state)
{
    (void)state;
    ari_stage_offer o[] = {OF("a", 0, 6, 30, 0, 0), OF("b", 0, 6, 20, 0, 0),
                           OF("c", 0, 6, 10, 0, 0), OF("d", 6, 12, 10, 0, 0)};
    ari_plan p;
    assert_int_equal(ari_plan_pipeline(12, o, 4, 3, &p, NULL, 0), 0);
    assert_int_equal(p.stage[0].primary, 0);
    assert_int_equal(p.stage[0].n_replicas, 2);
    assert_int_equal(p.stage[0].replicas[0], 1);
    assert_int_equal(p.stage[0].replicas[1], 2);
    /* a dies: its first replica takes over, the other stays a replica */
    o[0].usable = 0;
    assert_int_equal(ari_plan_pipeline(12, o, 4, 3, &p, NULL, 0), 0);
    assert_int_equal(p.stage[0].primary, 1);
    assert_int_equal(p.stage[0].n_replicas, 1);
    assert_int_equal(p.stage[0].replicas[0], 2);
    assert_int_equal(p.stage[1].primary, 3);
    o[1].usable = 0;
    assert_int_equal(ari_plan_pipeline(12, o, 4, 3, &p, NULL, 0), 0);
    assert_int_equal(p.stage[0].primary, 2);
    assert_int_equal(p.stage[0].n_replicas, 0);
    o[2].usable = 0;
    want_fail(12, o, 4, "no node holds layers 0..5 of 12 (3 unusable offers there)");
}

static void want_split(uint32_t n_layers, uint64_t lb, uint64_t ef, uint64_t el,
                       const ari_split_node *nd, size_t n, const uint32_t *counts)
{
    uint32_t first[16], end[16];
    char why[200] = "";
    assert_true(n <= 16);
    int rc = ari_plan_split(n_layers, lb, ef, el, nd, n, first, end, why, sizeof why);
    if (rc != 0)
        printf("  split failed: %s\n", why);
    assert_int_equal(rc, 0);
    uint32_t at = 0;
    for (size_t i = 0; i < n; i++) {
        if (first[i] != at || end[i] - first[i] != counts[i]) {
            printf("  node %zu: [%" PRIu32 ", %" PRIu32 "), want %" PRIu32 " layers from %" PRIu32
                   "\n",
                   i, first[i], end[i], counts[i], at);
            fail();
        }
        at += counts[i];
    }
    assert_int_equal(at, n_layers);
}

static void test_odd_counts(void **state)
{
    (void)state;
    static const struct {
        uint32_t n_layers;
        size_t n;
        uint32_t counts[5];
    } cases[] = {{5, 2, {3, 2}}, {7, 3, {3, 2, 2}}, {12, 5, {3, 3, 2, 2, 2}}, {1, 1, {1}}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        ari_split_node nd[5];
        for (size_t i = 0; i < cases[c].n; i++) {
            ari_split_node x = {"n", 10, 1u << 30};
            nd[i] = x;
        }
        want_split(cases[c].n_layers, 1000, 0, 0, nd, cases[c].n, cases[c].counts);
        /* and the split's ranges plan back into the same stages */
        uint32_t first[5], end[5];
        assert_int_equal(
            ari_plan_split(cases[c].n_layers, 1000, 0, 0, nd, cases[c].n, first, end, NULL, 0), 0);
        ari_stage_offer o[5];
        for (size_t i = 0; i < cases[c].n; i++) {
            o[i] = OF("n", first[i], end[i], 10, 0, 0);
        }
        ari_plan p;
        assert_int_equal(ari_plan_pipeline(cases[c].n_layers, o, cases[c].n, 3, &p, NULL, 0), 0);
        assert_int_equal(p.n_stages, cases[c].n);
        for (size_t i = 0; i < cases[c].n; i++) {
            assert_int_equal(p.stage[i].primary, i);
            assert_int_equal(p.stage[i].first, first[i]);
            assert_int_equal(p.stage[i].end, end[i]);
        }
    }
    /* one layer, three nodes: the fastest takes it, the others hold none and
     * their empty ranges are not offers */
    ari_split_node nd[] = {{"a", 1, 1u << 20}, {"b", 3, 1u << 20}, {"c", 2, 1u << 20}};
    const uint32_t counts[] = {0, 1, 0};
    want_split(1, 1000, 0, 0, nd, 3, counts);
    uint32_t first[3], end[3];
    assert_int_equal(ari_plan_split(1, 1000, 0, 0, nd, 3, first, end, NULL, 0), 0);
    ari_stage_offer o[3];
    for (size_t i = 0; i < 3; i++) {
        o[i] = OF("n", first[i], end[i], 10, 0, 0);
    }
    ari_plan p;
    assert_int_equal(ari_plan_pipeline(1, o, 3, 3, &p, NULL, 0), 0);
    assert_int_equal(p.n_stages, 1);
    assert_int_equal(p.stage[0].primary, 1);
    assert_int_equal(p.stage[0].n_replicas, 0);
}

static void test_bad_offers_ignored(void **state)
{
    (void)state;
    ari_stage_offer o[] = {
        OF("empty", 5, 5, 1e6, 0, 0),     /* first == end */
        OF("backwards", 8, 3, 1e6, 0, 0), /* first > end */
        OF("past end", 0, 13, 1e6, 0, 0), /* end > n_layers */
        {"dead", 0, 12, 1e6, 0, 0, 0},    /* usable == 0 */
        OF("good", 0, 12, 1, 0, 0),       /* the only real one */
        OF("nan", 0, 12, NAN, NAN, 0),    /* unknown speed, no load: 0.1 */
        OF("neg", 0, 12, -5, -3, 0),      /* the same */
    };
    ari_plan p;
    assert_int_equal(ari_plan_pipeline(12, o, 5, 5, &p, NULL, 0), 0);
    assert_int_equal(p.n_stages, 1);
    assert_int_equal(p.stage[0].primary, 4);
    assert_int_equal(p.stage[0].n_replicas, 0);
    close_to(p.cost, 1.0);
    assert_int_equal(ari_plan_pipeline(12, o, 7, 5, &p, NULL, 0), 0);
    assert_int_equal(p.stage[0].primary, 5);
    assert_int_equal(p.stage[0].n_replicas, 2);
    assert_int_equal(p.stage[0].replicas[0], 6);
    assert_int_equal(p.stage[0].replicas[1], 4);
    close_to(p.cost, ARI_PLAN_UNKNOWN_S_PER_TOK);
    /* only bad ones: nothing holds the layers */
    want_fail(12, o, 4, "no node holds layers 0..11 of 12 (1 unusable offer there)");

    want_fail(0, o, 5, "no layers");
    ari_stage_offer deep = OF("deep", 0, ARI_PLAN_MAX_LAYERS + 1, 1, 0, 0);
    want_fail(ARI_PLAN_MAX_LAYERS + 1, &deep, 1, "more than a plan covers");
    assert_int_equal(ari_plan_pipeline(12, o, 5, 3, NULL, NULL, 0), -1);

    /* one layer a node: 64 stages fit in a plan, 65 do not */
    ari_stage_offer one[ARI_PLAN_MAX_STAGES + 1];
    for (uint32_t i = 0; i <= ARI_PLAN_MAX_STAGES; i++) {
        one[i] = OF("l", i, i + 1, 100, 0, 0);
    }
    assert_int_equal(
        ari_plan_pipeline(ARI_PLAN_MAX_STAGES, one, ARI_PLAN_MAX_STAGES, 3, &p, NULL, 0), 0);
    assert_int_equal(p.n_stages, ARI_PLAN_MAX_STAGES);
    assert_int_equal(p.stage[ARI_PLAN_MAX_STAGES - 1].primary, ARI_PLAN_MAX_STAGES - 1);
    want_fail(ARI_PLAN_MAX_STAGES + 1, one, ARI_PLAN_MAX_STAGES + 1, "needs 65 stages");
}

static void test_deterministic_ties(void **state)
{
    (void)state;
    /* identical offers: the lower index is the primary */
    ari_stage_offer same[] = {OF("x", 0, 12, 10, 0, 0), OF("y", 0, 12, 10, 0, 0),
                              OF("z", 0, 12, 10, 0, 0)};
    ari_plan p, q;
    assert_int_equal(ari_plan_pipeline(12, same, 3, 3, &p, NULL, 0), 0);
    assert_int_equal(p.stage[0].primary, 0);
    assert_int_equal(p.stage[0].replicas[0], 1);
    assert_int_equal(p.stage[0].replicas[1], 2);

    /* two chains of two stages, both exactly 0.5 s/token: [0,6)+[6,12) and
     * [0,4)+[4,12). The one whose last stage starts lower wins, in any order
     * of the offers. */
    const ari_stage_offer base[] = {OF("a", 0, 6, 4, 0, 0), OF("b", 6, 12, 4, 0, 0),
                                    OF("c", 0, 4, 8, 0, 0), OF("d", 4, 12, 8, 2, 0)};
    static const size_t perm[][4] = {{0, 1, 2, 3}, {3, 2, 1, 0}, {1, 3, 0, 2}, {2, 0, 3, 1}};
    for (size_t k = 0; k < 4; k++) {
        ari_stage_offer o[4];
        for (size_t i = 0; i < 4; i++)
            o[i] = base[perm[k][i]];
        memset(&p, 0, sizeof p);
        memset(&q, 0, sizeof q);
        assert_int_equal(ari_plan_pipeline(12, o, 4, 3, &p, NULL, 0), 0);
        assert_int_equal(ari_plan_pipeline(12, o, 4, 3, &q, NULL, 0), 0);
        assert_memory_equal(&p, &q, sizeof p);
        const uint32_t cuts[] = {0, 4, 12};
        want_ranges(&p, cuts, 2);
        close_to(p.cost, 0.5);
    }
}

/* ---- random pipelines, checked against searches written here ----------- */

static uint64_t rng = 0x9e3779b97f4a7c15u;

static uint32_t rnd(uint32_t bound)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng % bound);
}

#define RMAX_L 40
#define RMAX_N 40

static int valid_here(const ari_stage_offer *o, uint32_t n_layers)
{
    return o->usable && o->first < o->end && o->end <= n_layers;
}

/* Fewest stages from layer 0 to each boundary, by breadth-first search;
 * -1 where none reaches. Returns dist[n_layers]. */
static int bfs_hops(uint32_t n_layers, const ari_stage_offer *o, size_t n, int *dist)
{
    uint32_t queue[RMAX_L + 1];
    size_t head = 0, tail = 0;
    for (uint32_t b = 0; b <= n_layers; b++)
        dist[b] = -1;
    dist[0] = 0;
    queue[tail++] = 0;
    while (head < tail) {
        uint32_t b = queue[head++];
        for (size_t i = 0; i < n; i++)
            if (valid_here(&o[i], n_layers) && o[i].first == b && dist[o[i].end] < 0) {
                dist[o[i].end] = dist[b] + 1;
                queue[tail++] = o[i].end;
            }
    }
    return dist[n_layers];
}

/* The lowest cost of a chain of exactly h stages, layer by layer count. */
static double min_cost(uint32_t n_layers, const ari_stage_offer *o, size_t n, int h)
{
    double best[RMAX_L + 1], next[RMAX_L + 1];
    for (uint32_t b = 0; b <= n_layers; b++)
        best[b] = INFINITY;
    best[0] = 0;
    for (int s = 0; s < h; s++) {
        for (uint32_t b = 0; b <= n_layers; b++)
            next[b] = INFINITY;
        for (size_t i = 0; i < n; i++)
            if (valid_here(&o[i], n_layers) && best[o[i].first] < INFINITY) {
                double c = best[o[i].first] + want_cost(&o[i], n_layers);
                if (c < next[o[i].end])
                    next[o[i].end] = c;
            }
        memcpy(best, next, sizeof best);
    }
    return best[n_layers];
}

static void check_random_plan(uint32_t L, const ari_stage_offer *o, size_t n, uint32_t R)
{
    ari_plan p;
    char why[200] = "";
    int rc = ari_plan_pipeline(L, o, n, R, &p, why, sizeof why);
    int dist[RMAX_L + 1];
    int h = bfs_hops(L, o, n, dist);
    if (h < 0) {
        assert_int_equal(rc, -1);
        assert_int_equal(p.n_stages, 0);
        /* the reason names the first layer no usable offer holds; with
         * every layer held, the furthest boundary a chain reaches */
        uint32_t g = 0;
        for (; g < L; g++) {
            size_t i = 0;
            while (i < n && !(valid_here(&o[i], L) && o[i].first <= g && g < o[i].end))
                i++;
            if (i == n)
                break;
        }
        char want[64], alt[64];
        if (g < L) {
            snprintf(want, sizeof want, "holds layer %" PRIu32 " of", g);
            snprintf(alt, sizeof alt, "holds layers %" PRIu32 "..", g);
        } else {
            uint32_t r = 0;
            for (uint32_t b = 0; b < L; b++)
                if (dist[b] >= 0)
                    r = b;
            snprintf(want, sizeof want, "starts at layer %" PRIu32 " (of", r);
            snprintf(alt, sizeof alt, "%s", want);
        }
        if (!strstr(why, want) && !strstr(why, alt)) {
            printf("  reason \"%s\" lacks \"%s\"\n", why, want);
            fail();
        }
        return;
    }
    assert_int_equal(rc, 0);
    assert_int_equal(p.n_stages, (size_t)h); /* no plan with fewer stages */
    close_to(p.cost, min_cost(L, o, n, h));  /* and none cheaper among them */
    double sum = 0;
    uint32_t at = 0;
    for (size_t s = 0; s < p.n_stages; s++) {
        const ari_plan_stage *st = &p.stage[s];
        assert_int_equal(st->first, at);
        assert_true(st->first < st->end);
        at = st->end;
        assert_true(st->primary < n);
        const ari_stage_offer *po = &o[st->primary];
        assert_true(valid_here(po, L));
        assert_int_equal(po->first, st->first);
        assert_int_equal(po->end, st->end);
        close_to(st->cost, want_cost(po, L));
        sum += st->cost;
        /* replicas: usable, the same range, distinct, in cost order, as many
         * as wanted or available, and none better left out */
        size_t avail = 0;
        for (size_t i = 0; i < n; i++)
            if (valid_here(&o[i], L) && o[i].first == st->first && o[i].end == st->end)
                avail++;
        size_t want = R > 1 ? R - 1 : 0;
        if (want > ARI_PLAN_MAX_REPLICAS)
            want = ARI_PLAN_MAX_REPLICAS;
        if (want > avail - 1)
            want = avail - 1;
        assert_int_equal(st->n_replicas, want);
        double prevc = st->cost;
        for (size_t j = 0; j < st->n_replicas; j++) {
            size_t r = st->replicas[j];
            assert_true(r < n);
            assert_int_not_equal(r, st->primary);
            for (size_t k = 0; k < j; k++)
                assert_int_not_equal(st->replicas[k], r);
            assert_true(valid_here(&o[r], L));
            assert_int_equal(o[r].first, st->first);
            assert_int_equal(o[r].end, st->end);
            assert_true(want_cost(&o[r], L) >= prevc);
            prevc = want_cost(&o[r], L);
        }
        for (size_t i = 0; i < n; i++) {
            if (i == st->primary || !valid_here(&o[i], L) || o[i].first != st->first ||
                o[i].end != st->end)
                continue;
            size_t j = 0;
            while (j < st->n_replicas && st->replicas[j] != i)
                j++;
            if (j == st->n_replicas)
                assert_true(want_cost(&o[i], L) >= prevc);
        }
    }
    assert_int_equal(at, L);
    close_to(p.cost, sum);
}

static void test_random_invariants(void **state)
{
    (void)state;
    int planned = 0, failed = 0;
    for (int iter = 0; iter < 200; iter++) {
        uint32_t L = 1 + rnd(RMAX_L);
        /* a few cut points, so ranges often line up and some chains exist */
        uint32_t cuts[8];
        size_t nc = 2 + rnd(6);
        cuts[0] = 0;
        cuts[1] = L;
        for (size_t c = 2; c < nc; c++)
            cuts[c] = rnd(L + 1);
        size_t n = rnd(RMAX_N + 1);
        ari_stage_offer o[RMAX_N];
        for (size_t i = 0; i < n; i++) {
            uint32_t a, b;
            if (i > 0 && rnd(4) == 0) { /* a copy of an earlier range */
                size_t j = rnd((uint32_t)i);
                a = o[j].first;
                b = o[j].end;
            } else if (rnd(8) == 0) { /* anything, even bad ones */
                a = rnd(L + 2);
                b = rnd(L + 2);
            } else {
                a = cuts[rnd((uint32_t)nc)];
                b = cuts[rnd((uint32_t)nc)];
                if (a > b) {
                    uint32_t t = a;
                    a = b;
                    b = t;
                }
            }
            ari_stage_offer x = {
                "r",           a,          b, rnd(5) == 0 ? 0.0 : 1.0 + rnd(100), rnd(4) * 0.5,
                rnd(3) * 1000, rnd(7) != 0};
            o[i] = x;
        }
        uint32_t R = rnd(6);
        check_random_plan(L, o, n, R);
        int dist[RMAX_L + 1];
        if (bfs_hops(L, o, n, dist) >= 0)
            planned++;
        else
            failed++;
    }
    /* the generator must exercise both outcomes, or the checks prove little */
    printf("  random plans: %d planned, %d without a chain\n", planned, failed);
    assert_true(planned >= 50);
    assert_true(failed >= 20);
}

/* ---- split ------------------------------------------------------------- */

#define BIG (UINT64_C(1) << 40)

static void test_split_equal(void **state)
{
    (void)state;
    ari_split_node nd[] = {{"a", 5, BIG}, {"b", 5, BIG}, {"c", 5, BIG}, {"d", 5, BIG}};
    const uint32_t c12[] = {3, 3, 3, 3};
    want_split(12, 100, 0, 0, nd, 4, c12);
    const uint32_t c10[] = {3, 3, 2, 2}; /* remainders tie: lower index first */
    want_split(10, 100, 0, 0, nd, 4, c10);
    const uint32_t c30[] = {8, 8, 7, 7};
    want_split(30, 100, 0, 0, nd, 4, c30);
}

static void test_split_speed(void **state)
{
    (void)state;
    ari_split_node two[] = {{"fast", 3, BIG}, {"slow", 1, BIG}};
    const uint32_t c12[] = {9, 3};
    want_split(12, 100, 0, 0, two, 2, c12);
    ari_split_node rev[] = {{"slow", 1, BIG}, {"fast", 3, BIG}};
    const uint32_t r12[] = {3, 9}; /* the order is kept */
    want_split(12, 100, 0, 0, rev, 2, r12);
    ari_split_node four[] = {{"f", 3, BIG}, {"a", 1, BIG}, {"b", 1, BIG}, {"c", 1, BIG}};
    const uint32_t c4[] = {6, 2, 2, 2};
    want_split(12, 100, 0, 0, four, 4, c4);
    /* 32 layers at 2.5 : 1 : 0.5 -> 20, 8, 4 */
    ari_split_node three[] = {{"a", 2.5, BIG}, {"b", 1, BIG}, {"c", 0.5, BIG}};
    const uint32_t c32[] = {20, 8, 4};
    want_split(32, 100, 0, 0, three, 3, c32);
}

static void test_split_memory(void **state)
{
    (void)state;
    /* uncapped 12, 4, 4; the fast node holds 6, its 6 more go 3 and 3 */
    ari_split_node nd[] = {{"fast", 3, 600}, {"b", 1, BIG}, {"c", 1, BIG}};
    const uint32_t c[] = {6, 7, 7};
    want_split(20, 100, 0, 0, nd, 3, c);
    /* one cap pushes the next node over its own: 10, 6.7, 3.3 -> a capped
     * at 6; the 14 left at 2:1 are 9.3, 4.7 -> b capped at 8; c takes 6 */
    ari_split_node cascade[] = {{"a", 3, 600}, {"b", 2, 800}, {"c", 1, BIG}};
    const uint32_t cc[] = {6, 8, 6};
    want_split(20, 100, 0, 0, cascade, 3, cc);
    /* caps that would bind at the first lambda but not at the true one,
     * once the slow nodes are lifted to one layer: the capped nodes' share
     * falls to 2.44 and 2.44 of 3, and the rounding follows the true shares
     * (2.44, 2.43, 1.53, 1.60 -> 2, 2, 2, 2) */
    ari_split_node lift[] = {{"a", 0.1, 900}, {"b", 3.3, BIG}, {"c", 9.7, 300}, {"d", 9.65, 1000},
                             {"e", 6.1, BIG}, {"f", 0.4, BIG}, {"g", 1.8, BIG}, {"h", 6.35, 300}};
    const uint32_t cl[] = {1, 1, 2, 2, 2, 1, 1, 2};
    want_split(12, 100, 0, 0, lift, 8, cl);
    /* a node that holds no layer at all takes no part */
    ari_split_node tiny[] = {{"a", 1, BIG}, {"tiny", 50, 99}, {"c", 1, BIG}};
    const uint32_t ct[] = {5, 0, 5};
    want_split(10, 100, 0, 0, tiny, 3, ct);
}

static void test_split_extras(void **state)
{
    (void)state;
    /* 10 layers of 100 bytes, embeddings 250, head 150 */
    ari_split_node a[] = {{"first", 1, 650}, {"b", 1, BIG}};
    const uint32_t ca[] = {4, 6};
    want_split(10, 100, 250, 150, a, 2, ca);
    a[0].mem_bytes = 649;
    const uint32_t ca2[] = {3, 7};
    want_split(10, 100, 250, 150, a, 2, ca2);
    ari_split_node b[] = {{"a", 1, BIG}, {"last", 1, 650}};
    const uint32_t cb[] = {5, 5};
    want_split(10, 100, 250, 150, b, 2, cb);
    b[1].mem_bytes = 649;
    const uint32_t cb2[] = {6, 4};
    want_split(10, 100, 250, 150, b, 2, cb2);
    /* one node: all layers and both extras */
    ari_split_node one[] = {{"solo", 1, 1400}};
    const uint32_t c1[] = {10};
    want_split(10, 100, 250, 150, one, 1, c1);
    uint32_t f[1], e[1];
    one[0].mem_bytes = 1399;
    assert_int_equal(ari_plan_split(10, 100, 250, 150, one, 1, f, e, NULL, 0), -1);
    /* holds two layers, but not one with the embeddings: it sits out and
     * the next node becomes the first, with the embeddings counted on it */
    ari_split_node c[] = {{"small", 1, 300}, {"b", 1, 650}, {"c", 1, BIG}};
    const uint32_t cc[] = {0, 4, 6};
    want_split(10, 100, 250, 0, c, 3, cc);
}

static void test_split_impossible(void **state)
{
    (void)state;
    ari_split_node nd[] = {{"a", 1, 300}, {"b", 1, 300}, {"c", 1, 300}};
    uint32_t f[3], e[3];
    char why[200] = "";
    assert_int_equal(ari_plan_split(10, 100, 0, 0, nd, 3, f, e, why, sizeof why), -1);
    assert_non_null(strstr(why, "holds 9 of the 10 layers"));
    assert_non_null(strstr(why, "needs 1000 bytes"));
    assert_non_null(strstr(why, "give 900"));
    /* with the extras: 3 + 4 + 3 layers fit exactly; one byte more of
     * embeddings and the first node holds 2 */
    for (size_t i = 0; i < 3; i++)
        nd[i].mem_bytes = 400;
    assert_int_equal(ari_plan_split(10, 100, 100, 100, nd, 3, f, e, NULL, 0), 0);
    assert_int_equal(e[0] - f[0], 3);
    assert_int_equal(e[1] - f[1], 4);
    assert_int_equal(e[2] - f[2], 3);
    why[0] = '\0';
    assert_int_equal(ari_plan_split(10, 100, 101, 100, nd, 3, f, e, why, sizeof why), -1);
    assert_non_null(strstr(why, "holds 9 of the 10 layers"));
    /* nobody holds even a layer */
    ari_split_node none[] = {{"a", 1, 10}};
    assert_int_equal(ari_plan_split(4, 100, 0, 0, none, 1, f, e, why, sizeof why), -1);
    assert_non_null(strstr(why, "holds 0 of the 4 layers"));
}

static void test_split_at_least_one(void **state)
{
    (void)state;
    ari_split_node nd[] = {{"fast", 100, BIG}, {"b", 1, BIG}, {"c", 1, BIG}};
    const uint32_t c[] = {8, 1, 1};
    want_split(10, 100, 0, 0, nd, 3, c);
    ari_split_node mid[] = {{"a", 1, BIG}, {"fast", 100, BIG}, {"c", 1, BIG}};
    const uint32_t cm[] = {1, 8, 1};
    want_split(10, 100, 0, 0, mid, 3, cm);
    /* as many nodes as layers: one each, whatever the speeds */
    const uint32_t c3[] = {1, 1, 1};
    want_split(3, 100, 0, 0, nd, 3, c3);
}

static void test_split_more_nodes_than_layers(void **state)
{
    (void)state;
    ari_split_node nd[] = {
        {"a", 1, BIG}, {"b", 5, BIG}, {"c", 2, BIG}, {"d", 4, BIG}, {"e", 3, BIG}};
    uint32_t f[5], e[5];
    assert_int_equal(ari_plan_split(3, 100, 0, 0, nd, 5, f, e, NULL, 0), 0);
    const uint32_t wf[] = {0, 0, 1, 1, 2}, we[] = {0, 1, 1, 2, 3};
    for (size_t i = 0; i < 5; i++) {
        assert_int_equal(f[i], wf[i]);
        assert_int_equal(e[i], we[i]);
    }
    /* equal speeds: the later ones sit out */
    ari_split_node eq[] = {{"a", 1, BIG}, {"b", 1, BIG}, {"c", 1, BIG}};
    const uint32_t c[] = {1, 1, 0};
    want_split(2, 100, 0, 0, eq, 3, c);
}

static void test_split_bad_args(void **state)
{
    (void)state;
    ari_split_node nd[] = {{"a", 1, BIG}, {"zero", 0, BIG}};
    uint32_t f[2], e[2];
    char why[200] = "";
    assert_int_equal(ari_plan_split(10, 100, 0, 0, nd, 2, f, e, why, sizeof why), -1);
    assert_non_null(strstr(why, "node zero"));
    nd[1].tok_per_s = NAN;
    assert_int_equal(ari_plan_split(10, 100, 0, 0, nd, 2, f, e, why, sizeof why), -1);
    nd[1].tok_per_s = -2;
    assert_int_equal(ari_plan_split(10, 100, 0, 0, nd, 2, f, e, why, sizeof why), -1);
    nd[1].tok_per_s = 1;
    assert_int_equal(ari_plan_split(10, 100, 0, 0, nd, 2, f, e, why, sizeof why), 0);
    assert_int_equal(ari_plan_split(0, 100, 0, 0, nd, 2, f, e, why, sizeof why), -1);
    assert_non_null(strstr(why, "no layers"));
    assert_int_equal(ari_plan_split(10, 100, 0, 0, nd, 0, f, e, why, sizeof why), -1);
    assert_non_null(strstr(why, "no nodes"));
}

/* The most layers node i holds in the role the result gives it. */
static uint64_t hold(const ari_split_node *nd, size_t i, uint32_t f, uint32_t e, uint32_t L,
                     uint64_t lb, uint64_t ef, uint64_t el)
{
    uint64_t need = (f == 0 ? ef : 0) + (e == L ? el : 0);
    if (nd[i].mem_bytes < need)
        return 0;
    uint64_t c = (nd[i].mem_bytes - need) / lb;
    return c < L ? c : L;
}

/* Random splits: ranges contiguous and covering, memory respected, at least
 * one layer where possible; the counts are the largest-remainder rounding
 * of the exact shares (lambda * speed clamped to [1, what it holds], with
 * lambda found here by bisection, not by the planner's pinning), and
 * balanced: no layer could move from one node to another with room and
 * leave them closer to proportional. */
static void test_split_random(void **state)
{
    (void)state;
    int ok = 0, refused = 0;
    for (int iter = 0; iter < 200; iter++) {
        size_t n = 1 + rnd(12);
        uint32_t L = 1 + rnd(60);
        uint64_t lb = 1 + rnd(100), ef = rnd(3) ? rnd(300) : 0, el = rnd(3) ? rnd(300) : 0;
        uint64_t need = L * lb + ef + el;
        int generous = rnd(3) == 0, roomy = 1;
        ari_split_node nd[12];
        uint64_t given = 0;
        for (size_t i = 0; i < n; i++) {
            /* speeds 1:200 apart, so some nodes end at the floor of 1 */
            ari_split_node x = {"r", 0.05 * (1 + rnd(200)),
                                generous ? need : lb + ef + el + rnd((uint32_t)(2 * need / n + 1))};
            if (!generous && rnd(6) == 0) /* now and then one that may hold nothing */
                x.mem_bytes = rnd((uint32_t)(lb + ef + el));
            roomy &= x.mem_bytes >= lb + ef + el;
            nd[i] = x;
            given += x.mem_bytes;
        }
        uint32_t f[12], e[12];
        char why[200] = "";
        int rc = ari_plan_split(L, lb, ef, el, nd, n, f, e, why, sizeof why);
        if (generous)
            assert_int_equal(rc, 0);
        if (given < need)
            assert_int_equal(rc, -1);
        if (rc != 0) {
            assert_true(why[0] != '\0');
            refused++;
            continue;
        }
        ok++;
        uint32_t at = 0;
        for (size_t i = 0; i < n; i++) {
            assert_int_equal(f[i], at);
            assert_true(e[i] >= f[i]);
            at = e[i];
            uint32_t c = e[i] - f[i];
            if (c == 0)
                continue;
            uint64_t use = c * lb + (f[i] == 0 ? ef : 0) + (e[i] == L ? el : 0);
            assert_true(use <= nd[i].mem_bytes);
        }
        assert_int_equal(at, L);
        if (L >= n && roomy) /* every node holds a layer in any role */
            for (size_t i = 0; i < n; i++)
                assert_true(e[i] > f[i]);
        double lo = 0, hi = 1e9;
        for (int it = 0; it < 200; it++) {
            double mid = (lo + hi) / 2, sum = 0;
            for (size_t i = 0; i < n; i++)
                if (e[i] > f[i]) {
                    double q = mid * nd[i].tok_per_s,
                           h = (double)hold(nd, i, f[i], e[i], L, lb, ef, el);
                    sum += q < 1 ? 1 : q > h ? h : q;
                }
            if (sum < L)
                lo = mid;
            else
                hi = mid;
        }
        /* largest remainder over those shares, done here again */
        double x[12];
        uint32_t want[12];
        uint32_t left = L;
        for (size_t i = 0; i < n; i++) {
            want[i] = 0;
            if (e[i] == f[i])
                continue;
            double q = hi * nd[i].tok_per_s, h = (double)hold(nd, i, f[i], e[i], L, lb, ef, el);
            x[i] = q < 1 ? 1 : q > h ? h : q;
            want[i] = (uint32_t)x[i];
            left -= want[i];
        }
        for (; left > 0; left--) {
            size_t best = n;
            for (size_t i = 0; i < n; i++)
                if (e[i] > f[i] && want[i] < hold(nd, i, f[i], e[i], L, lb, ef, el) &&
                    (best == n || x[i] - want[i] > x[best] - want[best] + 1e-9))
                    best = i;
            assert_true(best < n);
            want[best]++;
        }
        for (size_t i = 0; i < n; i++)
            if (e[i] - f[i] != want[i]) {
                printf("  iter %d: node %zu (speed %g) has %" PRIu32 " layers, want %" PRIu32
                       " (share %g)\n",
                       iter, i, nd[i].tok_per_s, e[i] - f[i], want[i], e[i] > f[i] ? x[i] : 0);
                fail();
            }
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < n; j++) {
                uint32_t ci = e[i] - f[i], cj = e[j] - f[j];
                if (i == j || ci <= 1 || cj == 0)
                    continue;
                uint64_t juse = (cj + 1) * lb + (f[j] == 0 ? ef : 0) + (e[j] == L ? el : 0);
                if (juse > nd[j].mem_bytes)
                    continue; /* j has no room for one more */
                double gi = (ci - 1) / nd[i].tok_per_s, gj = (cj + 1) / nd[j].tok_per_s;
                if (gi > gj + 1e-9) {
                    printf("  iter %d: node %zu (%" PRIu32 " layers, speed %g) could give one to "
                           "node %zu (%" PRIu32 ", speed %g)\n",
                           iter, i, ci, nd[i].tok_per_s, j, cj, nd[j].tok_per_s);
                    fail();
                }
            }
    }
    printf("  random splits: %d made, %d refused\n", ok, refused);
    assert_true(ok >= 100);
    assert_true(refused >= 10);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_single_node),
        cmocka_unit_test(test_thirds_in_order),
        cmocka_unit_test(test_fewer_hops_win),
        cmocka_unit_test(test_cost_among_equal_hops),
        cmocka_unit_test(test_replication_one),
        cmocka_unit_test(test_replication_beyond_available),
        cmocka_unit_test(test_gap),
        cmocka_unit_test(test_failover),
        cmocka_unit_test(test_odd_counts),
        cmocka_unit_test(test_bad_offers_ignored),
        cmocka_unit_test(test_deterministic_ties),
        cmocka_unit_test(test_random_invariants),
        cmocka_unit_test(test_split_equal),
        cmocka_unit_test(test_split_speed),
        cmocka_unit_test(test_split_memory),
        cmocka_unit_test(test_split_extras),
        cmocka_unit_test(test_split_impossible),
        cmocka_unit_test(test_split_at_least_one),
        cmocka_unit_test(test_split_more_nodes_than_layers),
        cmocka_unit_test(test_split_bad_args),
        cmocka_unit_test(test_split_random),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
