/* aria/sampler.h — choosing the next token from logits.
 *
 * Order, as llama.cpp applies them: repetition, frequency and presence
 * penalties over the recent history; then greedy (temperature 0) or
 * top-k, top-p, min-p and temperature, and a draw from a seeded generator.
 * The same seed, logits and history give the same token on every machine. */
#ifndef ARIA_SAMPLER_H
#define ARIA_SAMPLER_H

#include "backend.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct aria_sampler aria_sampler;

/* p is copied; n_vocab sizes the scratch. */
aria_err aria_sampler_new(const aria_sampling *p, uint32_t n_vocab, aria_sampler **out);
void aria_sampler_free(aria_sampler *s);

/* Picks a token from logits[n_vocab], with history (may be NULL) for the
 * penalties. *logprob gets the chosen token's log-probability and top (if
 * not NULL) up to p->n_logprobs alternatives, most likely first. */
int32_t aria_sampler_sample(aria_sampler *s, const float *logits, const int32_t *history,
                            size_t n_history, float *logprob, aria_logprob *top, uint32_t *n_top);

/* Checks a sampling request: a one-line reason for the first bad field. */
aria_err aria_sampling_check(const aria_sampling *p, aria_msg *why);

/* The defaults: greedy, no penalties, seed 0. */
void aria_sampling_defaults(aria_sampling *p);

#ifdef __cplusplus
}
#endif
#endif
