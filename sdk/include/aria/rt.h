/* aria/rt.h — the backend slots implemented once on the shared runtime.
 *
 * A model backend plugin (gguf, bitnet) is the runtime plus its own probe:
 * it fills its aria_backend_vt with these functions, passes an aria_rt as
 * its plugin context, and decides in probe which files it claims. */
#ifndef ARIA_RT_H
#define ARIA_RT_H

#include "backend.h"
#include "host.h"

#ifdef __cplusplus
extern "C" {
#endif

struct aria_llm;
struct aria_llm_exec;

/* A device that runs the forward passes of whole models for the runtime
 * (an NPU plugin): the runtime still reads the file, binds the weights,
 * tokenizes, samples and generates; the device computes the logits. */
typedef struct aria_rt_accel {
    void *user;
    /* At load, once the weights are bound: prepares m (a whole model) for
     * sessions of up to *n_ctx positions, which it may lower to what the
     * device holds. *state goes to session and close. Blocks (compiles). */
    aria_err (*open)(void *user, const struct aria_llm *m, uint32_t *n_ctx, void **state,
                     aria_msg *why);
    void (*close)(void *state);
    /* A new session's executor, for n_ctx <= what open settled on. */
    aria_err (*session)(void *state, uint32_t n_ctx, struct aria_llm_exec *out, aria_msg *why);
} aria_rt_accel;

/* The plugin context of a runtime backend. */
typedef struct aria_rt {
    const aria_host *host;
    const char *name; /* for log lines */
    uint32_t tiers;   /* aria_tier bits its models serve in */
    /* NULL: the kernels compute. Otherwise every model loads onto it. */
    const aria_rt_accel *accel;
} aria_rt;

/* Reads what a GGUF file holds without loading it: fills everything in *out
 * but the score. Fails with a one-line reason when the runtime cannot run
 * the file (architecture, shape, missing metadata). ternary (may be NULL)
 * receives whether the matrices are mostly ternary (TQ1_0, TQ2_0, I2_S). */
aria_err aria_rt_inspect(const char *path, aria_probe *out, int *ternary, aria_msg *why);

aria_err aria_rt_load(void *ctx, const aria_load_params *p, aria_model **out, aria_msg *why);
void aria_rt_unload(aria_model *m);
aria_err aria_rt_model_info(aria_model *m, aria_model_info *out);
aria_err aria_rt_session_new(aria_model *m, const aria_session_params *p, aria_session **out,
                             aria_msg *why);
void aria_rt_session_free(aria_session *s);
uint32_t aria_rt_session_pos(aria_session *s);
aria_err aria_rt_session_truncate(aria_session *s, uint32_t n_pos);
aria_err aria_rt_tokenize(aria_model *m, const char *text, size_t len, uint32_t flags,
                          int32_t *out, size_t cap, size_t *n_out);
aria_err aria_rt_token_piece(aria_model *m, int32_t token, char *buf, size_t cap, size_t *len);
aria_err aria_rt_chat_format(aria_model *m, const aria_chat_msg *msgs, size_t n,
                             int add_generation_prompt, char *buf, size_t cap, size_t *len,
                             aria_msg *why);
aria_err aria_rt_forward(aria_session *s, const aria_batch *in, aria_forward_out *out,
                         aria_msg *why);
aria_err aria_rt_sample(aria_session *s, const aria_sampling *sampling, const int32_t *history,
                        size_t n_history, int32_t *token, float *logprob, aria_logprob *top,
                        uint32_t *n_top);
aria_err aria_rt_generate(aria_session *s, const int32_t *prompt, size_t n_prompt,
                          const aria_gen_params *p, aria_gen_result *res, aria_msg *why);

/* A vtable initializer for every slot but the header, name, tiers, formats,
 * probe and load (for a backend that checks its device before loading). */
#define ARIA_RT_SLOTS_BUT_LOAD                                                 \
    .unload = aria_rt_unload,                                                  \
    .model_info = aria_rt_model_info, .session_new = aria_rt_session_new,      \
    .session_free = aria_rt_session_free, .session_pos = aria_rt_session_pos,  \
    .session_truncate = aria_rt_session_truncate,                              \
    .tokenize = aria_rt_tokenize, .token_piece = aria_rt_token_piece,          \
    .chat_format = aria_rt_chat_format, .forward = aria_rt_forward,            \
    .sample = aria_rt_sample, .generate = aria_rt_generate

/* A vtable initializer for every slot but the header, name, tiers, formats
 * and probe. */
#define ARIA_RT_SLOTS .load = aria_rt_load, ARIA_RT_SLOTS_BUT_LOAD

#ifdef __cplusplus
}
#endif
#endif
