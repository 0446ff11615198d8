/* rewards.h — what each node earned over a period, from what the ledger
 * says it did. A pure function of its arguments (no I/O, no clock, no
 * globals), so it is tested on tables; the caller (aria-core ledger rewards)
 * counts the figures from the records.
 *
 *   reward        = base_rate × completed × quality × efficiency
 *   quality       = (uptime + latency_score + pass_rate) / 3          in [0, 1]
 *   uptime        = active_slots / period_slots
 *   latency_score = min(1, network median ms/token / node's ms/token)  1 with no figure
 *   pass_rate     = checks_passed / checks                             1 when never checked
 *   efficiency    = clamp(network mean mJ/inference / node's, 0.5, 2)  1 when either is unknown
 *
 * Quality rewards being there, being fast and being right, equally; the
 * latency and energy factors compare a node with the network rather than
 * with fixed figures, so they do not drift with hardware generations. The
 * efficiency clamp keeps one very frugal (or very wasteful) figure from
 * deciding a reward more than twofold either way: the energy figure is
 * often an estimate. */
#ifndef ARI_REWARDS_H
#define ARI_REWARDS_H

#include <aria/common.h>

#include <stddef.h>
#include <stdint.h>

#define ARI_REWARD_EFF_MIN 0.5
#define ARI_REWARD_EFF_MAX 2.0

typedef struct ari_reward_in {
    char node[65];                  /* node id (64 hex characters), for out and messages */
    uint64_t completed;             /* inferences it completed in the period */
    uint32_t active_slots;          /* slots (e.g. hours) of the period in which it served one */
    uint32_t period_slots;          /* slots in the period */
    double ms_per_token;            /* median over its records, 0 = none */
    double mj_per_inference;        /* 0 = none */
    uint32_t checks, checks_passed; /* spot-checks of its work, and how many passed */
} ari_reward_in;

typedef struct ari_reward_out {
    char node[65]; /* in's node */
    double uptime, latency_score, pass_rate, quality, efficiency, reward;
} ari_reward_out;

/* Computes every node's reward. The network figures are the median of the
 * nodes' ms_per_token (those > 0; the mean of the middle two for an even
 * count) and the mean of their mj_per_inference (those > 0) weighted by
 * completed; a node with nothing completed weighs nothing. A node idle over
 * a period of no slots has uptime 0.
 *
 * out has n entries, same order. Returns 0 (with a one-line summary in why)
 * or -1 for bad input, with out untouched and *why naming the node and the
 * field: period_slots 0 with completed > 0, active_slots > period_slots,
 * checks_passed > checks, a ms_per_token or mj_per_inference that is
 * negative or not finite, base_rate negative or not finite, in or out NULL
 * with n > 0; or out of memory (the median needs a copy). why may be NULL. */
int ari_rewards(const ari_reward_in *in, size_t n, double base_rate, ari_reward_out *out,
                aria_msg *why);

#endif
