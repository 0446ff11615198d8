/* rewards.c — the reward formula (see rewards.h). */
#include "rewards.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A node id as it may go into a one-line message. */
static const char *printable(const char *id, char out[65])
{
    size_t i = 0;
    for (; i < 64 && id[i]; i++)
        out[i] = (unsigned char)id[i] >= 0x20 && (unsigned char)id[i] < 0x7f ? id[i] : '?';
    out[i] = '\0';
    return i ? out : "(unnamed)";
}

static int bad_figure(double x)
{
    return !isfinite(x) || x < 0;
}

/* The first thing wrong with one node's figures, in why; 0 when none. */
static int check_node(const ari_reward_in *r, size_t i, aria_msg *why)
{
    char id[65];
    if (r->period_slots == 0 && r->completed > 0) {
        aria_fail(why, ARIA_ERR_INVALID,
                  "node %zu (%s): period_slots is 0 but completed is %" PRIu64, i,
                  printable(r->node, id), r->completed);
        return -1;
    }
    if (r->active_slots > r->period_slots) {
        aria_fail(why, ARIA_ERR_INVALID,
                  "node %zu (%s): active_slots %" PRIu32 " > period_slots %" PRIu32, i,
                  printable(r->node, id), r->active_slots, r->period_slots);
        return -1;
    }
    if (r->checks_passed > r->checks) {
        aria_fail(why, ARIA_ERR_INVALID,
                  "node %zu (%s): checks_passed %" PRIu32 " > checks %" PRIu32, i,
                  printable(r->node, id), r->checks_passed, r->checks);
        return -1;
    }
    if (bad_figure(r->ms_per_token)) {
        aria_fail(why, ARIA_ERR_INVALID,
                  "node %zu (%s): ms_per_token %g is not a non-negative number", i,
                  printable(r->node, id), r->ms_per_token);
        return -1;
    }
    if (bad_figure(r->mj_per_inference)) {
        aria_fail(why, ARIA_ERR_INVALID,
                  "node %zu (%s): mj_per_inference %g is not a non-negative number", i,
                  printable(r->node, id), r->mj_per_inference);
        return -1;
    }
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int ari_rewards(const ari_reward_in *in, size_t n, double base_rate, ari_reward_out *out,
                aria_msg *why)
{
    if (n > 0 && (!in || !out)) {
        aria_fail(why, ARIA_ERR_INVALID, "rewards: %s is NULL for %zu nodes", in ? "out" : "in", n);
        return -1;
    }
    if (bad_figure(base_rate)) {
        aria_fail(why, ARIA_ERR_INVALID, "rewards: base_rate %g is not a non-negative number",
                  base_rate);
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        if (check_node(&in[i], i, why))
            return -1;

    /* network figures: the median of the latencies, and the mean energy per
     * inference over all the inferences whose node reports one */
    double *ms = malloc((n ? n : 1) * sizeof *ms);
    if (!ms) {
        aria_fail(why, ARIA_ERR_NOMEM, "rewards: out of memory for %zu nodes", n);
        return -1;
    }
    size_t n_ms = 0;
    double mj_mean = 0, weight = 0;
    for (size_t i = 0; i < n; i++) {
        if (in[i].ms_per_token > 0)
            ms[n_ms++] = in[i].ms_per_token;
        if (in[i].mj_per_inference > 0 && in[i].completed > 0) {
            /* a running mean: no sum of products to overflow */
            double w = (double)in[i].completed;
            weight += w;
            mj_mean += (w / weight) * (in[i].mj_per_inference - mj_mean);
        }
    }
    double ms_median = 0;
    if (n_ms) {
        qsort(ms, n_ms, sizeof *ms, cmp_double);
        ms_median = n_ms % 2 ? ms[n_ms / 2] : ms[n_ms / 2 - 1] / 2 + ms[n_ms / 2] / 2;
    }
    free(ms);

    for (size_t i = 0; i < n; i++) {
        const ari_reward_in *r = &in[i];
        ari_reward_out *o = &out[i];
        memcpy(o->node, r->node, sizeof o->node - 1);
        o->node[sizeof o->node - 1] = '\0';
        o->uptime = r->period_slots ? (double)r->active_slots / (double)r->period_slots : 0;
        o->latency_score = 1;
        if (r->ms_per_token > 0) { /* then n_ms > 0 and ms_median > 0 */
            double s = ms_median / r->ms_per_token;
            o->latency_score = s < 1 ? s : 1;
        }
        o->pass_rate = r->checks ? (double)r->checks_passed / (double)r->checks : 1;
        o->quality = (o->uptime + o->latency_score + o->pass_rate) / 3;
        o->efficiency = 1;
        if (r->mj_per_inference > 0 && mj_mean > 0) {
            double e = mj_mean / r->mj_per_inference; /* +inf for a tiny figure: clamped */
            o->efficiency = e < ARI_REWARD_EFF_MIN   ? ARI_REWARD_EFF_MIN
                            : e > ARI_REWARD_EFF_MAX ? ARI_REWARD_EFF_MAX
                                                     : e;
        }
        o->reward = base_rate * (double)r->completed * o->quality * o->efficiency;
    }
    if (why) {
        if (n_ms)
            aria_fail(why, ARIA_OK, "%zu node%s; network median %.4g ms/token", n,
                      n == 1 ? "" : "s", ms_median);
        else
            aria_fail(why, ARIA_OK, "%zu node%s; no latency figures", n, n == 1 ? "" : "s");
        size_t len = strlen(why->text);
        if (weight > 0)
            snprintf(why->text + len, sizeof why->text - len, ", mean %.4g mJ/inference", mj_mean);
        else
            snprintf(why->text + len, sizeof why->text - len, ", no energy figures");
    }
    return 0;
}
