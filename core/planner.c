/* planner.c — pipelines over layer ranges and proportional splits (see
 * planner.h). */
#include "planner.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>

/* ---- pipeline ---------------------------------------------------------- */

static int offer_valid(const ari_stage_offer *o, uint32_t n_layers)
{
    return o->usable && o->first < o->end && o->end <= n_layers;
}

double ari_plan_stage_cost(const ari_stage_offer *o, uint32_t n_layers)
{
    double t;
    if (isfinite(o->tok_per_s) && o->tok_per_s > 0)
        t = 1.0 / o->tok_per_s;
    else
        t = ARI_PLAN_UNKNOWN_S_PER_TOK * (double)(o->end - o->first) /
            (double)(n_layers ? n_layers : 1);
    double load = o->load > 0 ? o->load : 0; /* NaN compares false: 0 */
    double c = t * (1.0 + load) + (double)o->rtt_us * 1e-6;
    /* a guard: a NaN would make every comparison false and the plan depend
     * on the order of the offers */
    return isnan(c) ? INFINITY : c;
}

/* Why no chain reaches the last layer, in one line. A chain of stages from
 * layer 0 ends at boundary b when hops[b] != UINT16_MAX. */
static void explain_gap(uint32_t n_layers, const ari_stage_offer *offers, size_t n,
                        const uint16_t *hops, char *why, size_t cap)
{
    /* The first layer no usable offer covers: walk right as far as the
     * union of ranges goes. */
    uint32_t g = 0;
    for (;;) {
        uint32_t far = g;
        for (size_t i = 0; i < n; i++)
            if (offer_valid(&offers[i], n_layers) && offers[i].first <= g && offers[i].end > far)
                far = offers[i].end;
        if (far == g)
            break;
        g = far;
    }
    if (g < n_layers) {
        uint32_t h = n_layers; /* the gap is [g, h) */
        size_t dead = 0;       /* offers there that failover or the caller ruled out */
        for (size_t i = 0; i < n; i++) {
            const ari_stage_offer *o = &offers[i];
            if (offer_valid(o, n_layers) && o->first > g && o->first < h)
                h = o->first;
        }
        for (size_t i = 0; i < n; i++) {
            const ari_stage_offer *o = &offers[i];
            if (!o->usable && o->first < o->end && o->end <= n_layers && o->first < h && o->end > g)
                dead++;
        }
        char tail[64] = "";
        if (dead)
            snprintf(tail, sizeof tail, " (%zu unusable offer%s there)", dead,
                     dead == 1 ? "" : "s");
        if (h - g == 1)
            snprintf(why, cap, "no node holds layer %" PRIu32 " of %" PRIu32 "%s", g, n_layers,
                     tail);
        else
            snprintf(why, cap, "no node holds layers %" PRIu32 "..%" PRIu32 " of %" PRIu32 "%s", g,
                     h - 1, n_layers, tail);
        return;
    }
    /* Every layer is held, but the ranges do not line up: name the furthest
     * boundary a chain from layer 0 gets to. */
    uint32_t r = 0;
    for (uint32_t b = 0; b < n_layers; b++)
        if (hops[b] != UINT16_MAX)
            r = b;
    if (r == 0)
        snprintf(why, cap,
                 "the ranges held do not line up: no usable range starts at layer 0 (of %" PRIu32
                 ")",
                 n_layers);
    else
        snprintf(why, cap,
                 "the ranges held do not line up: chains from layer 0 stop after layer %" PRIu32
                 " and no usable range starts at layer %" PRIu32 " (of %" PRIu32 ")",
                 r - 1, r, n_layers);
}

/* The best k usable offers of [first, end) by (cost, index) into idx[],
 * best first; returns how many. An insertion into a short sorted list, so
 * no sort and no allocation. */
static size_t rank_range(uint32_t n_layers, const ari_stage_offer *offers, size_t n, uint32_t first,
                         uint32_t end, size_t *idx, double *rc, size_t k)
{
    size_t got = 0;
    for (size_t i = 0; i < n; i++) {
        const ari_stage_offer *o = &offers[i];
        if (o->first != first || o->end != end || !offer_valid(o, n_layers))
            continue;
        double c = ari_plan_stage_cost(o, n_layers);
        /* offers come by rising index: only a strictly lower cost moves ahead */
        size_t at = got;
        while (at > 0 && c < rc[at - 1])
            at--;
        if (at >= k)
            continue;
        for (size_t j = got < k ? got : k - 1; j > at; j--) {
            idx[j] = idx[j - 1];
            rc[j] = rc[j - 1];
        }
        idx[at] = i;
        rc[at] = c;
        if (got < k)
            got++;
    }
    return got;
}

int ari_plan_pipeline(uint32_t n_layers, const ari_stage_offer *offers, size_t n,
                      uint32_t replication, ari_plan *out, char *why, size_t cap)
{
    char dummy[8];
    if (!why) {
        why = dummy;
        cap = sizeof dummy;
    }
    if (!out) {
        snprintf(why, cap, "no plan to fill");
        return -1;
    }
    out->n_stages = 0;
    out->cost = 0;
    if (n_layers == 0) {
        snprintf(why, cap, "the model has no layers");
        return -1;
    }
    if (n_layers > ARI_PLAN_MAX_LAYERS) {
        snprintf(why, cap, "the model has %" PRIu32 " layers, more than a plan covers (%d)",
                 n_layers, ARI_PLAN_MAX_LAYERS);
        return -1;
    }
    if (!offers)
        n = 0;

    /* Shortest path over the layer boundaries 0..n_layers, an offer being an
     * edge first -> end weighed (1 stage, its cost). Edges only go forward,
     * so walking the boundaries upward settles each one before it is left:
     * every edge into b starts below b. The weights compare by stages, then
     * cost; both add up along a chain, so the prefix of a best chain is a
     * best chain, and one pass is exact. Relaxing only on strict improvement
     * makes the first-found of equal chains win, which is the tie rule in
     * planner.h. */
    uint16_t hops[ARI_PLAN_MAX_LAYERS + 1]; /* stages of the best chain to b; MAX: none */
    double cost[ARI_PLAN_MAX_LAYERS + 1];   /* its cost */
    size_t prev[ARI_PLAN_MAX_LAYERS + 1];   /* the offer of its last stage */
    for (uint32_t b = 0; b <= n_layers; b++) {
        hops[b] = UINT16_MAX;
        cost[b] = INFINITY;
        prev[b] = 0;
    }
    hops[0] = 0;
    cost[0] = 0;
    for (uint32_t b = 0; b < n_layers; b++) {
        if (hops[b] == UINT16_MAX)
            continue;
        for (size_t i = 0; i < n; i++) {
            const ari_stage_offer *o = &offers[i];
            if (o->first != b || !offer_valid(o, n_layers))
                continue;
            uint16_t h = (uint16_t)(hops[b] + 1); /* <= n_layers <= 1024 */
            double c = cost[b] + ari_plan_stage_cost(o, n_layers);
            if (h < hops[o->end] || (h == hops[o->end] && c < cost[o->end])) {
                hops[o->end] = h;
                cost[o->end] = c;
                prev[o->end] = i;
            }
        }
    }
    if (hops[n_layers] == UINT16_MAX) {
        explain_gap(n_layers, offers, n, hops, why, cap);
        return -1;
    }
    if (hops[n_layers] > ARI_PLAN_MAX_STAGES) {
        snprintf(why, cap,
                 "the shortest pipeline over the %" PRIu32
                 " layers needs %u stages, more than a plan holds (%d)",
                 n_layers, (unsigned)hops[n_layers], ARI_PLAN_MAX_STAGES);
        return -1;
    }

    /* Back along the chain for the ranges; each range's primary is then
     * its best offer by (cost, index) outright, not the one the chain went
     * through, because two costs a hair apart can sum to the same double. */
    size_t ns = hops[n_layers];
    size_t k = replication > 1 ? replication - 1 : 0;
    if (k > ARI_PLAN_MAX_REPLICAS)
        k = ARI_PLAN_MAX_REPLICAS;
    uint32_t e = n_layers;
    for (size_t s = ns; s-- > 0;) {
        out->stage[s].first = offers[prev[e]].first;
        out->stage[s].end = e;
        e = offers[prev[e]].first;
    }
    out->cost = 0;
    for (size_t s = 0; s < ns; s++) {
        ari_plan_stage *st = &out->stage[s];
        size_t idx[ARI_PLAN_MAX_REPLICAS + 1] = {0};
        double rc[ARI_PLAN_MAX_REPLICAS + 1] = {0};
        /* at least the offer the chain went through is found */
        size_t got = rank_range(n_layers, offers, n, st->first, st->end, idx, rc, k + 1);
        st->primary = idx[0];
        st->cost = rc[0];
        st->n_replicas = got ? got - 1 : 0;
        for (size_t j = 1; j < got; j++)
            st->replicas[j - 1] = idx[j];
        out->cost += st->cost;
    }
    out->n_stages = ns;
    snprintf(why, cap, "%zu stage%s, est. %.3g s/token", ns, ns == 1 ? "" : "s", out->cost);
    return 0;
}

/* ---- split ------------------------------------------------------------- */

/* Where each node stands while the split is worked out. The states live in
 * the caller's first[] until the ranges go there: no other memory needed. */
enum { SPLIT_OUT = 0, SPLIT_FREE, SPLIT_AT_LO, SPLIT_AT_HI };

/* Remainders closer than this are a tie, broken by index: 1.5 and 4.5
 * layers are equally far from their floors, and rounding noise in lambda
 * must not pick between them. */
#define SPLIT_TIE 1e-9

typedef struct split_ctx {
    uint32_t n_layers;
    uint64_t layer_bytes, extra_first, extra_last;
    const ari_split_node *nodes;
    uint32_t *state; /* per node, SPLIT_* */
    size_t fa, la;   /* the first and last node still in */
} split_ctx;

/* The most layers node i holds in the role its place gives it (embeddings
 * if it is the first node in, head if it is the last). */
static uint32_t split_hi(const split_ctx *sp, size_t i)
{
    uint64_t m = sp->nodes[i].mem_bytes;
    if (i == sp->fa) {
        if (m < sp->extra_first)
            return 0;
        m -= sp->extra_first;
    }
    if (i == sp->la) {
        if (m < sp->extra_last)
            return 0;
        m -= sp->extra_last;
    }
    uint64_t c = sp->layer_bytes ? m / sp->layer_bytes : sp->n_layers;
    return c < sp->n_layers ? (uint32_t)c : sp->n_layers;
}

/* Node i's share in real numbers for a given lambda. */
static double split_share(const split_ctx *sp, size_t i, double lambda)
{
    switch (sp->state[i]) {
    case SPLIT_FREE: return lambda * sp->nodes[i].tok_per_s;
    case SPLIT_AT_LO: return 1.0;
    case SPLIT_AT_HI: return split_hi(sp, i);
    default: return 0.0;
    }
}

/* Counts the nodes in and finds the first and last of them. */
static size_t split_count(split_ctx *sp, size_t n)
{
    size_t in = 0;
    for (size_t i = 0; i < n; i++)
        if (sp->state[i] != SPLIT_OUT) {
            if (!in)
                sp->fa = i;
            sp->la = i;
            in++;
        }
    return in;
}

static uint64_t sat_add(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

int ari_plan_split(uint32_t n_layers, uint64_t layer_bytes, uint64_t extra_first,
                   uint64_t extra_last, const ari_split_node *nodes, size_t n, uint32_t *first,
                   uint32_t *end, char *why, size_t cap)
{
    char dummy[8];
    if (!why) {
        why = dummy;
        cap = sizeof dummy;
    }
    if (n_layers == 0) {
        snprintf(why, cap, "the model has no layers");
        return -1;
    }
    if (n == 0 || !nodes || !first || !end) {
        snprintf(why, cap, "no nodes to split the model among");
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        if (!(isfinite(nodes[i].tok_per_s) && nodes[i].tok_per_s > 0)) {
            snprintf(why, cap, "node %s: speed %g is not a positive number",
                     nodes[i].node ? nodes[i].node : "?", nodes[i].tok_per_s);
            return -1;
        }
    split_ctx sp = {n_layers, layer_bytes, extra_first, extra_last, nodes, first, 0, 0};

    /* Who takes part. A node whose memory holds no layer is out; then the
     * first and last of those left must also hold the embeddings or the
     * head, and dropping one makes its neighbour first or last, so this
     * repeats; with more nodes than layers the slowest drop out, since each
     * node in holds at least one layer. */
    for (size_t i = 0; i < n; i++)
        sp.state[i] = nodes[i].mem_bytes >= layer_bytes ? SPLIT_FREE : SPLIT_OUT;
    size_t in;
    while ((in = split_count(&sp, n)) > 0) {
        if (split_hi(&sp, sp.fa) == 0) {
            sp.state[sp.fa] = SPLIT_OUT;
            continue;
        }
        if (split_hi(&sp, sp.la) == 0) {
            sp.state[sp.la] = SPLIT_OUT;
            continue;
        }
        if (in <= n_layers)
            break;
        size_t slow = sp.fa;
        for (size_t i = sp.fa; i <= sp.la; i++)
            if (sp.state[i] != SPLIT_OUT && nodes[i].tok_per_s <= nodes[slow].tok_per_s)
                slow = i;
        sp.state[slow] = SPLIT_OUT;
    }
    uint64_t room = 0; /* layers the nodes in hold together */
    for (size_t i = 0; in && i < n; i++)
        if (sp.state[i] != SPLIT_OUT)
            room += split_hi(&sp, i);
    if (room < n_layers) {
        uint64_t body = layer_bytes && n_layers > UINT64_MAX / layer_bytes
                            ? UINT64_MAX
                            : (uint64_t)n_layers * layer_bytes;
        uint64_t need = sat_add(sat_add(extra_first, extra_last), body);
        uint64_t given = 0;
        for (size_t i = 0; i < n; i++)
            given = sat_add(given, nodes[i].mem_bytes);
        snprintf(why, cap,
                 "the nodes' memory holds %" PRIu64 " of the %" PRIu32
                 " layers (the model needs %" PRIu64 " bytes with embeddings and head; the %zu "
                 "node%s give %" PRIu64 ")",
                 room, n_layers, need, n, n == 1 ? "" : "s", given);
        return -1;
    }

    /* Water-filling in real numbers: node i's share is lambda * speed,
     * clamped to [1, hi]; lambda is where the shares add up to n_layers.
     * With every free node at lambda * speed, the overshoot above the caps
     * (over) and the shortfall below 1 (under) say which way the true lambda
     * lies: over > under means the clamped total falls short, lambda must
     * grow, and the capped nodes stay capped; the other way round the nodes
     * at 1 stay at 1; equal, lambda is the answer. So each round pins one
     * side's violators for good, and at most n rounds run (the bound is
     * only a guard). */
    double lambda = 0;
    for (size_t round = 0; round <= n; round++) {
        double left = n_layers, speed = 0;
        for (size_t i = 0; i < n; i++) {
            if (sp.state[i] == SPLIT_FREE)
                speed += nodes[i].tok_per_s;
            else
                left -= split_share(&sp, i, 0);
        }
        if (speed == 0)
            break;
        lambda = left / speed;
        double over = 0, under = 0;
        for (size_t i = 0; i < n; i++) {
            if (sp.state[i] != SPLIT_FREE)
                continue;
            double q = lambda * nodes[i].tok_per_s, hi = split_hi(&sp, i);
            if (q > hi)
                over += q - hi;
            else if (q < 1)
                under += 1 - q;
        }
        if (over == 0 && under == 0)
            break;
        for (size_t i = 0; i < n; i++) {
            if (sp.state[i] != SPLIT_FREE)
                continue;
            double q = lambda * nodes[i].tok_per_s, hi = split_hi(&sp, i);
            if (q > hi && over >= under)
                sp.state[i] = SPLIT_AT_HI;
            else if (q < 1 && under >= over)
                sp.state[i] = SPLIT_AT_LO;
        }
    }

    /* Rounding: floors, then the layers left one by one to the largest
     * remainder that still has room (lower index on a tie). Floating error
     * may leave the floors a layer over; the same rule run backwards takes
     * it from the smallest remainder. end[] holds the counts meanwhile. */
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++) {
        end[i] = 0;
        if (sp.state[i] == SPLIT_OUT)
            continue;
        double q = split_share(&sp, i, lambda);
        uint32_t hi = split_hi(&sp, i);
        end[i] = q >= hi ? hi : q <= 1 ? 1 : (uint32_t)q;
        total += end[i];
    }
    while (total != n_layers) {
        int grow = total < n_layers;
        size_t best = n;
        double br = 0;
        for (size_t i = 0; i < n; i++) {
            if (sp.state[i] == SPLIT_OUT)
                continue;
            double r = split_share(&sp, i, lambda) - end[i];
            if (grow ? end[i] < split_hi(&sp, i) && (best == n || r > br + SPLIT_TIE)
                     : end[i] > 1 && (best == n || r < br + SPLIT_TIE)) {
                best = i;
                br = r;
            }
        }
        if (best == n)
            break; /* not reached: in <= n_layers <= room */
        end[best] = grow ? end[best] + 1 : end[best] - 1;
        total = grow ? total + 1 : total - 1;
    }

    uint32_t at = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t c = end[i];
        first[i] = at;
        end[i] = at + c;
        at += c;
    }
    snprintf(why, cap, "%" PRIu32 " layers over %zu node%s", n_layers, in, in == 1 ? "" : "s");
    return 0;
}
