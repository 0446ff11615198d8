/* consent.h — what this node gives to work from peers ([consent] in
 * aria.ini), as one decision: may this piece of work run here, now, and on
 * how many threads. Pure apart from reading the configuration once.
 *
 * Work from peers is bound always; the node's own API users only with
 * [consent] apply_to_local = true. */
#ifndef ARI_CONSENT_H
#define ARI_CONSENT_H

#include "node.h"

#include <stdint.h>
#include <time.h>

typedef struct ari_consent {
    int cpu_percent;        /* 1..100 */
    uint64_t max_ram_bytes; /* 0: no model for peers */
    char schedule[512];     /* "always" or HH:MM-HH:MM windows, local time */
    char tasks[256];        /* accepted task types, comma-separated */
    int apply_local;
    uint32_t threads;       /* threads peers' work may use */
} ari_consent;

/* Reads [consent]; threads = the cores that cpu_percent of the machine's
 * logical cores make (at least 1), no more than the node's n_threads. */
void ari_consent_load(ari_consent *k, const ari_ctx *c);

/* The threads peers' work gets of n_threads, given cores logical cores and
 * cpu_percent: floor(cores * percent / 100), at least 1, at most n_threads. */
uint32_t ari_consent_threads(uint32_t n_threads, uint32_t cores, int cpu_percent);

/* Minutes since local midnight of t. */
int ari_consent_minute(time_t t);

/* 0 when work of kind task ("chat", "completion", "code", "reasoning",
 * "pipeline", ...) that needs model_bytes of memory may run at local minute
 * minute_of_day; -1 with the reason in why (one line, naming the [consent]
 * key) when not. */
int ari_consent_allows(const ari_consent *k, const char *task, uint64_t model_bytes,
                       int minute_of_day, char *why, size_t cap);

#endif
