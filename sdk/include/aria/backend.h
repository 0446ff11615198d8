/* aria/backend.h — the model backend interface (ARIA_IFACE_BACKEND).
 *
 * A backend turns model files into text. The host never names a backend:
 * it asks every loaded backend to probe a file, loads it with the one that
 * answers with the highest score, and from then on talks to the handles.
 *
 * Handles and who owns them:
 *   aria_model    made by load, freed by unload. Holds the weights (usually
 *                 memory-mapped) for a range of layers. Many sessions may use
 *                 one model at once; every model slot is thread-safe.
 *   aria_session  made by session_new, freed by session_free. Holds one
 *                 conversation's KV cache, its sampler state and its logits.
 *                 A session is used by one thread at a time (the host
 *                 serializes calls on it); different sessions run in parallel.
 *                 Every session is freed before its model is unloaded.
 *
 * Pipelines: a model loaded with a layer range [layer_first, layer_end) holds
 * only those transformer layers, plus the token embeddings when layer_first is
 * 0 and the output norm and head when layer_end is the model's last layer.
 * forward() then takes what the previous stage produced and hands on what the
 * next one needs. A whole model is the range [0, n_layers).
 *
 * Blocking: slots marked "blocks" may run for seconds (loading, evaluation,
 * generation); the host calls them from worker threads, never from its event
 * loop. Others return promptly.
 */
#ifndef ARIA_BACKEND_H
#define ARIA_BACKEND_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ARIA_BACKEND_VERSION 1

typedef struct aria_model aria_model;     /* opaque, the backend's */
typedef struct aria_session aria_session; /* opaque, the backend's */

/* Element types of activations that cross a stage boundary. */
typedef enum aria_dtype {
    ARIA_DT_F32 = 0,
    ARIA_DT_F16 = 1
} aria_dtype;

/* What probe learned of a file without loading it. */
typedef struct aria_probe {
    aria_vt_hdr hdr;
    /* 0: this backend cannot load the file. Otherwise higher is a better fit
     * (a generic GGUF backend answers 10, a specialized one such as ternary
     * answers 100 for its own formats). */
    uint32_t score;
    uint32_t tiers;            /* aria_tier bits the model serves in */
    uint32_t n_layers;         /* transformer blocks in the whole model */
    uint32_t n_ctx_train;      /* context length the model was trained for */
    uint64_t weight_bytes;     /* bytes of tensor data for the whole model */
    uint64_t kv_bytes_per_tok; /* KV cache bytes per position, all layers */
    char arch[32];             /* general.architecture, e.g. "llama" */
    char format[16];           /* dominant weight type, e.g. "Q4_0", "I2_S" */
} aria_probe;

ARIA_PIN(aria_probe, score, 8);
ARIA_PIN(aria_probe, weight_bytes, 24);
ARIA_PIN(aria_probe, arch, 40);
ARIA_PIN(aria_probe, format, 72);

/* Progress of a long load: frac in [0, 1]. Return nonzero to abandon the
 * load (load then fails with ARIA_ERR_CANCELLED). */
typedef int (*aria_progress_fn)(void *user, float frac);

typedef struct aria_load_params {
    aria_vt_hdr hdr;
    const char *path;     /* the model file */
    const char *model_id; /* the id the node serves it under */
    uint32_t layer_first; /* first transformer layer to hold */
    uint32_t layer_end;   /* one past the last; 0 means n_layers */
    uint32_t n_ctx;       /* context for new sessions; 0: the file's, capped */
    uint32_t n_threads;   /* 0: the host's n_threads */
    aria_progress_fn progress; /* may be NULL */
    void *progress_user;
} aria_load_params;

ARIA_PIN(aria_load_params, path, 8);
ARIA_PIN(aria_load_params, layer_first, 24);
ARIA_PIN(aria_load_params, progress, 40);

/* What a loaded model is. Special token ids are -1 when the model has none. */
typedef struct aria_model_info {
    aria_vt_hdr hdr;
    char id[128];
    char arch[32];
    char name[96];  /* general.name, or the file's base name */
    char format[16];
    uint32_t tiers;
    uint32_t n_layers; /* in the whole model */
    uint32_t layer_first, layer_end;
    uint32_t n_embd, n_vocab;
    uint32_t n_ctx_train, n_ctx;
    int32_t tok_bos, tok_eos, tok_eot;
    uint32_t has_chat_template;
    uint64_t n_params;         /* parameters held by this handle */
    uint64_t weight_bytes;     /* tensor bytes held (mapped or resident) */
    uint64_t kv_bytes_per_tok; /* per session position, layers held */
} aria_model_info;

ARIA_PIN(aria_model_info, id, 8);
ARIA_PIN(aria_model_info, arch, 136);
ARIA_PIN(aria_model_info, name, 168);
ARIA_PIN(aria_model_info, format, 264);
ARIA_PIN(aria_model_info, tiers, 280);
ARIA_PIN(aria_model_info, tok_bos, 312);
ARIA_PIN(aria_model_info, n_params, 328);

typedef struct aria_session_params {
    aria_vt_hdr hdr;
    uint32_t n_ctx;     /* 0: the model's n_ctx */
    uint32_t n_threads; /* 0: the model's */
} aria_session_params;

/* Flags of tokenize. */
enum {
    ARIA_TOK_ADD_BOS = 1u << 0,       /* prepend BOS if the model wants it */
    ARIA_TOK_ADD_EOS = 1u << 1,       /* append EOS if the model wants it */
    ARIA_TOK_PARSE_SPECIAL = 1u << 2, /* "<|eot_id|>" in text becomes a token */
    ARIA_TOK_FORCE_BOS = 1u << 3      /* prepend BOS even if add_bos is false */
};

/* One message of a chat, for chat_format. */
typedef struct aria_chat_msg {
    const char *role;    /* "system", "user", "assistant", "tool" */
    const char *content; /* UTF-8 */
} aria_chat_msg;

/* One step through the layers a session holds.
 * Exactly one of tokens (the session holds layer 0) and embd (it does not)
 * is set. Positions are pos0 .. pos0 + n_tokens - 1 and must continue the
 * session's KV cache (pos0 == session_pos). */
typedef struct aria_batch {
    aria_vt_hdr hdr;
    uint32_t n_tokens;
    uint32_t pos0;
    const int32_t *tokens; /* [n_tokens] */
    const void *embd;      /* [n_tokens][n_embd] of embd_dtype */
    uint32_t embd_dtype;   /* aria_dtype */
    /* Last stage only: 0 keeps the logits of the last token, 1 of every
     * token (for logprobs of a prompt, or speculative checks). */
    uint32_t logits_all;
    /* Added in struct_size 48 (test with ARIA_HAS): at most this many of the
     * model's threads work on the batch (0: all). */
    uint32_t n_threads;
} aria_batch;

ARIA_PIN(aria_batch, n_tokens, 8);
ARIA_PIN(aria_batch, tokens, 16);
ARIA_PIN(aria_batch, embd, 24);
ARIA_PIN(aria_batch, embd_dtype, 32);

/* Where forward leaves its result. All buffers are the caller's. */
typedef struct aria_forward_out {
    aria_vt_hdr hdr;
    /* Not the last stage: the hidden states leaving layer_end - 1,
     * [n_tokens][n_embd] of embd_dtype. Required then, ignored otherwise. */
    void *embd;
    uint32_t embd_dtype;
    uint32_t reserved;
    /* Last stage: if not NULL, the logits are copied here too,
     * [1 or n_tokens][n_vocab]. They always stay in the session for sample. */
    float *logits;
} aria_forward_out;

ARIA_PIN(aria_forward_out, embd, 8);
ARIA_PIN(aria_forward_out, logits, 24);

typedef struct aria_sampling {
    aria_vt_hdr hdr;
    float temperature;       /* 0: greedy (argmax, ties to the lower id) */
    int32_t top_k;           /* 0: off */
    float top_p;             /* 1: off */
    float min_p;             /* 0: off */
    float repeat_penalty;    /* 1: off (llama.cpp's multiplicative penalty) */
    int32_t repeat_last_n;   /* penalty window in tokens; -1: whole history */
    float frequency_penalty; /* 0: off (OpenAI's, per occurrence) */
    float presence_penalty;  /* 0: off (OpenAI's, once per token seen) */
    uint64_t seed;           /* same seed, model and input: same tokens */
    uint32_t n_logprobs;     /* top alternatives to report, <= ARIA_MAX_LOGPROBS */
    uint32_t reserved;
} aria_sampling;

ARIA_PIN(aria_sampling, temperature, 8);
ARIA_PIN(aria_sampling, seed, 40);
ARIA_PIN(aria_sampling, n_logprobs, 48);

#define ARIA_MAX_LOGPROBS 20

typedef struct aria_logprob {
    int32_t token;
    float logprob; /* natural log of the probability after all penalties and
                      temperature, before top-k/top-p truncation */
} aria_logprob;

/* One generated token, as handed to on_token. Valid only during the call. */
typedef struct aria_token_event {
    aria_vt_hdr hdr;
    int32_t token;
    uint32_t index;   /* 0 for the first generated token */
    const char *text; /* bytes this token completes: only whole UTF-8
                         characters, possibly none; stop strings withheld */
    size_t text_len;
    float logprob;
    uint32_t n_top;
    const aria_logprob *top; /* n_top entries, most likely first */
} aria_token_event;

/* Return nonzero to stop generating (finish = ARIA_FINISH_CANCELLED). Called
 * on the generating thread; should return quickly. */
typedef int (*aria_token_fn)(void *user, const aria_token_event *ev);

/* Pipelines: the layers after the ones a session holds, as the generating
 * node sees them. generate() on a model that holds layer 0 but not the last
 * layer runs its own layers, then hands the hidden states of positions
 * pos0 .. pos0 + n_tokens - 1 (tokens[] are their ids; embd is
 * [n_tokens][n_embd] of the dtype aria_gen_params.tail_dtype names) to the
 * tail, which runs them through the remaining layers elsewhere and returns
 * the token sampled after the last position, with its logprob and up to
 * sampling.n_logprobs alternatives in top and *n_top. The tail blocks; it
 * returns ARIA_ERR_CANCELLED when *cancel was set, another error with *why
 * when the rest of the pipeline is lost for good. */
typedef aria_err (*aria_tail_fn)(void *user, uint32_t pos0, uint32_t n_tokens,
                                 const int32_t *tokens, const void *embd, int32_t *token,
                                 float *logprob, aria_logprob *top, uint32_t *n_top,
                                 aria_msg *why);

typedef struct aria_gen_params {
    aria_vt_hdr hdr;
    aria_sampling sampling;
    uint32_t max_tokens;      /* 0: until EOS or the context is full */
    uint32_t ignore_eos;
    size_t n_stop;
    const char *const *stop;  /* stop strings; the matched text is not emitted */
    /* Set to nonzero by another thread (with an atomic store) to cancel; the
     * backend checks it between tokens and between prompt chunks. May be NULL. */
    const volatile int *cancel;
    aria_token_fn on_token;   /* may be NULL */
    void *user;
    /* Added in struct_size 136 (test with ARIA_HAS): the rest of a pipeline
     * (see aria_tail_fn); NULL on a whole model. */
    aria_tail_fn tail;
    void *tail_user;
    uint32_t tail_dtype; /* aria_dtype of the hidden states handed to tail */
    /* At most this many of the model's threads work on this request (0:
     * all): a node gives peers a share of its CPU ([consent] cpu_percent). */
    uint32_t n_threads;
} aria_gen_params;

ARIA_PIN(aria_gen_params, sampling, 8);
ARIA_PIN(aria_gen_params, max_tokens, 64);
ARIA_PIN(aria_gen_params, n_stop, 72);
ARIA_PIN(aria_gen_params, cancel, 88);
ARIA_PIN(aria_gen_params, on_token, 96);
ARIA_PIN(aria_gen_params, tail, 112);

typedef enum aria_finish {
    ARIA_FINISH_NONE = 0,
    ARIA_FINISH_STOP = 1,      /* EOS/EOT or a stop string */
    ARIA_FINISH_LENGTH = 2,    /* max_tokens reached */
    ARIA_FINISH_CONTEXT = 3,   /* the context window is full */
    ARIA_FINISH_CANCELLED = 4, /* on_token returned nonzero, or *cancel */
    ARIA_FINISH_ERROR = 5
} aria_finish;

typedef struct aria_gen_result {
    aria_vt_hdr hdr;
    uint32_t finish;      /* aria_finish */
    uint32_t n_prompt;    /* prompt tokens evaluated by this call */
    uint32_t n_generated; /* tokens handed to on_token */
    uint32_t reserved;
    uint64_t prompt_ns;   /* wall time of prompt evaluation */
    uint64_t gen_ns;      /* wall time from the first to the last token */
} aria_gen_result;

typedef struct aria_backend_vt {
    aria_vt_hdr hdr; /* sizeof(aria_backend_vt), ARIA_BACKEND_VERSION */

    const char *name;    /* e.g. "gguf", "bitnet" */
    uint32_t tiers;      /* aria_tier bits this backend can serve */
    uint32_t reserved;
    const char *formats; /* weight types it loads, "F32,F16,Q8_0,..." */

    /* Required. Can this backend load `path`? Reads only the header (does
     * not map tensor data). Fills *out (score 0 with a reason in *why when
     * it cannot). Blocks on file I/O. */
    aria_err (*probe)(void *ctx, const char *path, aria_probe *out,
                      aria_msg *why);

    /* Required. Loads a model, or only a range of its layers. Blocks. On
     * success *out is a new handle the caller must unload. */
    aria_err (*load)(void *ctx, const aria_load_params *p, aria_model **out,
                     aria_msg *why);

    /* Required. Frees the model; every session must be freed already. */
    void (*unload)(aria_model *m);

    /* Required. Describes a loaded model. */
    aria_err (*model_info)(aria_model *m, aria_model_info *out);

    /* Required. A new session with its own empty KV cache. */
    aria_err (*session_new)(aria_model *m, const aria_session_params *p,
                            aria_session **out, aria_msg *why);

    /* Required. Frees a session. */
    void (*session_free)(aria_session *s);

    /* Required. Number of positions in the session's KV cache. */
    uint32_t (*session_pos)(aria_session *s);

    /* Required. Forgets positions >= n_pos (0 clears the session), so that a
     * prompt can be re-evaluated from a common prefix or a stage rebuilt. */
    aria_err (*session_truncate)(aria_session *s, uint32_t n_pos);

    /* Required on a model that holds layer 0. Text to token ids. If cap is
     * too small, returns ARIA_ERR_RANGE with *n_out set to the count needed.
     * flags: ARIA_TOK_*. */
    aria_err (*tokenize)(aria_model *m, const char *text, size_t len,
                         uint32_t flags, int32_t *out, size_t cap,
                         size_t *n_out);

    /* Required on a model that holds layer 0. The bytes of one token (byte
     * fallback decoded, SentencePiece's leading space as a space). If cap is
     * too small, returns ARIA_ERR_RANGE with *len set to the size needed. */
    aria_err (*token_piece)(aria_model *m, int32_t token, char *buf,
                            size_t cap, size_t *len);

    /* Optional. Formats a chat with the model's chat template; with
     * add_generation_prompt the assistant's turn is opened. If cap is too
     * small, returns ARIA_ERR_RANGE with *len set to the size needed
     * (excluding the NUL). ARIA_ERR_UNSUPPORTED: no template it knows. */
    aria_err (*chat_format)(aria_model *m, const aria_chat_msg *msgs, size_t n,
                            int add_generation_prompt, char *buf, size_t cap,
                            size_t *len, aria_msg *why);

    /* Required. Runs the batch through the layers the session holds,
     * appending to its KV cache (see aria_batch). Blocks; multithreaded. */
    aria_err (*forward)(aria_session *s, const aria_batch *in,
                        aria_forward_out *out, aria_msg *why);

    /* Required on a model that holds the last layer. Picks the next token
     * from the logits of the last position forward() computed, and records it
     * in the session's sampler history. history (may be NULL) is the token
     * sequence so far, for the penalties, when the session does not hold
     * layer 0 and so never saw the tokens. top receives up to
     * sampling->n_logprobs alternatives (may be NULL when that is 0). */
    aria_err (*sample)(aria_session *s, const aria_sampling *sampling,
                       const int32_t *history, size_t n_history,
                       int32_t *token, float *logprob, aria_logprob *top,
                       uint32_t *n_top);

    /* Required on a whole model. Evaluates prompt (continuing the session's
     * KV cache) and generates up to max_tokens, streaming each token through
     * on_token. Also on a model that holds layer 0 but not the last layer
     * when p->tail runs the rest (a pipeline's first stage); otherwise
     * ARIA_ERR_UNSUPPORTED. Blocks; multithreaded. Returns ARIA_OK whenever generation
     * ended by a finish reason (including cancellation), an error otherwise. */
    aria_err (*generate)(aria_session *s, const int32_t *prompt,
                         size_t n_prompt, const aria_gen_params *p,
                         aria_gen_result *res, aria_msg *why);
} aria_backend_vt;

ARIA_PIN(aria_backend_vt, name, 8);
ARIA_PIN(aria_backend_vt, tiers, 16);
ARIA_PIN(aria_backend_vt, formats, 24);
ARIA_PIN(aria_backend_vt, probe, 32);
ARIA_PIN(aria_backend_vt, load, 40);
ARIA_PIN(aria_backend_vt, unload, 48);
ARIA_PIN(aria_backend_vt, model_info, 56);
ARIA_PIN(aria_backend_vt, session_new, 64);
ARIA_PIN(aria_backend_vt, session_free, 72);
ARIA_PIN(aria_backend_vt, session_pos, 80);
ARIA_PIN(aria_backend_vt, session_truncate, 88);
ARIA_PIN(aria_backend_vt, tokenize, 96);
ARIA_PIN(aria_backend_vt, token_piece, 104);
ARIA_PIN(aria_backend_vt, chat_format, 112);
ARIA_PIN(aria_backend_vt, forward, 120);
ARIA_PIN(aria_backend_vt, sample, 128);
ARIA_PIN(aria_backend_vt, generate, 136);

#ifdef __cplusplus
}
#endif
#endif /* ARIA_BACKEND_H */
