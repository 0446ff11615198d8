/* aria/llm.h — the transformer of the llama family, on GGUF weights.
 *
 * One forward function for llama, mistral (grouped-query attention), qwen2
 * (QKV bias), falcon3 (llama shape) and BitNet b1.58 (sub-norms, squared
 * ReLU); RoPE in normal or NEOX order with the metadata's frequency scaling;
 * tied or separate output head. Weights stay in the memory-mapped file; the
 * matrix products go through kernel variants (aria/kernel.h), so a new weight
 * format or ISA is a new kernel plugin, not a new forward pass.
 *
 * A model may hold only a range of layers (pipelines): then its forward pass
 * takes hidden states in and hands hidden states on. */
#ifndef ARIA_LLM_H
#define ARIA_LLM_H

#include "common.h"
#include "gguf.h"
#include "kernel.h"
#include "pool.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum aria_rope_kind {
    ARIA_ROPE_NORM = 0, /* pairs (2i, 2i+1), llama as converted to GGUF */
    ARIA_ROPE_NEOX = 2  /* pairs (i, i + n_rot/2): qwen2, bitnet, falcon */
} aria_rope_kind;

typedef enum aria_ffn_act {
    ARIA_ACT_SILU = 0,  /* silu(gate) * up */
    ARIA_ACT_RELU2 = 1  /* relu(gate)^2 * up (BitNet b1.58 2B4T) */
} aria_ffn_act;

typedef struct aria_llm_hparams {
    char arch[32];
    uint32_t n_vocab, n_embd, n_layer, n_ff;
    uint32_t n_head, n_head_kv, head_dim, n_rot;
    uint32_t n_ctx_train;
    float rms_eps;
    float rope_base;
    float rope_freq_scale; /* positions are multiplied by this (linear scaling) */
    uint32_t rope_kind;    /* aria_rope_kind */
    uint32_t ffn_act;      /* aria_ffn_act */
    uint32_t has_qkv_bias, has_sub_norms, tied_output;
} aria_llm_hparams;

/* A weight matrix: rows output features of cols inputs each. */
typedef struct aria_weight {
    uint32_t type;   /* aria_type */
    uint32_t rows, cols;
    int32_t act;     /* activation type its kernel consumes */
    const void *data;
    size_t row_bytes;
    float scale;     /* per-tensor scale (I2_S); 1 otherwise */
    const aria_kernel_vt *kv;
} aria_weight;

typedef struct aria_llm_layer {
    const float *attn_norm;     /* [n_embd] */
    aria_weight wq;             /* [n_head*head_dim][n_embd] */
    aria_weight wk, wv;         /* [n_head_kv*head_dim][n_embd] */
    const float *bq, *bk, *bv;  /* biases (qwen2) or NULL */
    const float *attn_sub_norm; /* [n_embd] (bitnet) or NULL */
    aria_weight wo;             /* [n_embd][n_head*head_dim] */
    const float *ffn_norm;      /* [n_embd] */
    aria_weight w_gate, w_up;   /* [n_ff][n_embd] */
    const float *ffn_sub_norm;  /* [n_ff] (bitnet) or NULL */
    aria_weight w_down;         /* [n_embd][n_ff] */
} aria_llm_layer;

typedef struct aria_llm {
    aria_gguf *gguf;
    aria_llm_hparams hp;
    uint32_t layer_first, layer_end; /* held: [first, end) */
    aria_weight tok_embd;            /* [n_vocab][n_embd], when first == 0 */
    const float *output_norm;        /* [n_embd], when end == n_layer */
    aria_weight output;              /* [n_vocab][n_embd], when end == n_layer */
    const float *rope_freqs;         /* [n_rot/2] divisors (llama3), or NULL */
    aria_llm_layer *layers;          /* n_layer entries; held ones filled */
    uint64_t weight_bytes;           /* tensor bytes held */
    uint64_t mapped_bytes;           /* bytes of the file mapped (a stage: its tensors only) */
    uint64_t n_params;
    char format[16];                 /* the most common matrix type */
    void *owned_;                    /* f32 copies of small vectors */
} aria_llm;

/* Finds the kernel variant for a family ("gguf", "ternary"); NULL if none. */
typedef const aria_kernel_vt *(*aria_kernels_fn)(const char *family);

typedef struct aria_llm_opts {
    uint32_t layer_first, layer_end; /* 0, 0: the whole model */
    aria_kernels_fn kernels;
    /* Nonzero: an executor computes (aria_llm_exec), so a weight needs no
     * kernel variant (w->kv may be NULL). */
    uint32_t no_kernels;
} aria_llm_opts;

/* Reads the hyperparameters of a GGUF model (no tensors needed). */
aria_err aria_llm_hparams_read(const aria_gguf *g, aria_llm_hparams *hp, aria_msg *why);

/* Opens path and binds every tensor the layer range needs, checking each
 * shape and that a kernel variant handles its type. */
aria_err aria_llm_load(const char *path, const aria_llm_opts *o, aria_llm **out, aria_msg *why);
void aria_llm_free(aria_llm *m);

/* A session: KV cache for the layers held, and scratch for batches. */
typedef struct aria_llm_ctx aria_llm_ctx;

aria_err aria_llm_ctx_new(const aria_llm *m, uint32_t n_ctx, aria_pool *pool,
                          aria_llm_ctx **out, aria_msg *why);
void aria_llm_ctx_free(aria_llm_ctx *c);
uint32_t aria_llm_ctx_pos(const aria_llm_ctx *c);
uint32_t aria_llm_ctx_n_ctx(const aria_llm_ctx *c);
/* Forgets positions >= n. */
void aria_llm_ctx_truncate(aria_llm_ctx *c, uint32_t n);
/* Bytes of KV cache per position, for the layers held. */
uint64_t aria_llm_kv_bytes_per_pos(const aria_llm *m);

/* Runs n positions through the layers held, continuing the KV cache.
 * tokens (first stage) or embd_in [n][n_embd] f32 (later stages).
 * Not the last stage: embd_out [n][n_embd] receives the hidden states.
 * Last stage: the logits of the last position (or of all, logits_all) are
 * left in the context (aria_llm_logits). Blocks; uses the context's pool. */
aria_err aria_llm_forward(aria_llm_ctx *c, const int32_t *tokens, const float *embd_in,
                          uint32_t n, float *embd_out, int logits_all, aria_msg *why);

/* Logits of the last forward: [n_out][n_vocab]. */
const float *aria_llm_logits(const aria_llm_ctx *c, uint32_t *n_out);

/* Sets *cancel nonzero (from another thread) to stop a long prompt between
 * chunks (forward then returns ARIA_ERR_CANCELLED). */
void aria_llm_ctx_set_cancel(aria_llm_ctx *c, const volatile int *cancel);

/* An executor: a whole model's forward pass run elsewhere than on the
 * kernels, by a device's runtime (an NPU plugin). The context still keeps
 * the position, the logits and the cancel flag; the executor keeps its own
 * KV cache, where the entries of positions >= the context's position are
 * stale and get overwritten (so truncation costs it nothing). */
typedef struct aria_llm_exec {
    /* Runs token at position pos (< the context's n_ctx), after positions
     * 0 .. pos-1, and writes the n_vocab logits after it. Blocks. */
    aria_err (*step)(void *user, int32_t token, uint32_t pos, float *logits, aria_msg *why);
    /* Frees user; called once, by aria_llm_ctx_free. May be NULL. */
    void (*free)(void *user);
    void *user;
} aria_llm_exec;

/* A context of a whole model whose forward passes all run on *x (copied).
 * From this call on, the context owns x->user: it is freed with the
 * context, or at once if this fails. No CPU KV cache is allocated. */
aria_err aria_llm_ctx_new_exec(const aria_llm *m, uint32_t n_ctx, const aria_llm_exec *x,
                               aria_llm_ctx **out, aria_msg *why);

#ifdef __cplusplus
}
#endif
#endif
