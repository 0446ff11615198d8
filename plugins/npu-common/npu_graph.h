/* npu_graph.h — the shared runtime's transformer (aria_llm) as a graph of
 * tensor operations, for the graph formats of NPU runtimes (OpenVINO IR,
 * QNN graphs). The walk through the model, the rope tables and the shape of
 * every value are here; a builder only spells each operation in its
 * runtime's vocabulary. Compiled into each NPU plugin that builds graphs.
 *
 * The graph runs one token per execution with static shapes, as NPUs want:
 *
 *   inputs   input_ids       NPU_IDX [1]              the token
 *            position        NPU_IDX [1]              its position
 *            attention_mask  f32 [1, n_ctx + 1]       0 for the cached
 *                            positions it attends to, -inf for the others;
 *                            the last entry (the token itself) is 0
 *            past_key.L      f32 [n_head_kv, n_ctx, head_dim], per layer L
 *            past_value.L    f32 [n_head_kv, n_ctx, head_dim]
 *   outputs  logits          f32 [1, n_vocab]
 *            present_key.L   f32 [n_head_kv, 1, head_dim]  the token's key,
 *                            rotated, for the caller to store at position
 *            present_value.L f32 [n_head_kv, 1, head_dim]
 *
 * (NPU_IDX is the builder's index type: i64 for OpenVINO, i32 for QNN.) The
 * caller owns the KV cache: it writes each present_* into past_* at the
 * position, and masks the positions it has not filled, so truncating a
 * session costs nothing. */
#ifndef NPU_GRAPH_H
#define NPU_GRAPH_H

#include <aria/llm.h>

#include <stddef.h>
#include <stdint.h>

enum { NPU_F32, NPU_F16, NPU_I8, NPU_I32, NPU_I64 };

#define NPU_MAX_RANK 4

/* A value of the graph: the builder's handle, its element type and shape. */
typedef struct npu_val {
    int64_t id;
    int et, rank;
    int64_t d[NPU_MAX_RANK];
} npu_val;

typedef enum npu_op {
    NPU_ADD,       /* a + b, numpy broadcasting */
    NPU_MUL,       /* a * b */
    NPU_DIV,       /* a / b */
    NPU_SQRT,      /* sqrt(a) */
    NPU_SILU,      /* a * sigmoid(a) */
    NPU_MATMUL,    /* a [.., M, K] x b [.., K, N], or b [.., N, K] with transpose_b */
    NPU_GATHER,    /* a gathered by the indices b along axis */
    NPU_RESHAPE,   /* a to the output's shape */
    NPU_CONCAT,    /* a, b joined along axis */
    NPU_SOFTMAX,   /* softmax of a along axis */
    NPU_MEAN_LAST, /* mean of a over its last axis, kept as 1 */
} npu_op;

typedef struct npu_node {
    npu_op op;
    const npu_val *in;
    int n_in;
    int axis;        /* GATHER, CONCAT, SOFTMAX: non-negative */
    int transpose_b; /* MATMUL */
    const char *name;   /* the node's name; NULL: the builder makes one */
    const char *output; /* NULL, or the name of the graph output this is */
} npu_node;

typedef struct npu_builder {
    void *b;
    int idx_type; /* NPU_I32 or NPU_I64: input_ids, position, gather indices */
    /* A graph input. */
    npu_val (*input)(void *b, const char *name, int et, int rank, const int64_t *d);
    /* A constant; *data is where its bytes go (valid until the next call). */
    npu_val (*constant)(void *b, const char *name, int et, int rank, const int64_t *d,
                        void **data);
    /* One operation; out is its inferred type and shape (id unset). */
    npu_val (*node)(void *b, const npu_node *n, const npu_val *out);
    /* Optional: a weight matrix as f32 [rows, cols] in the builder's own
     * form. NULL: an f32 constant, dequantized. */
    npu_val (*weight)(void *b, const aria_weight *w, const char *name);
    /* Nonzero once the builder failed; its message is the builder's. */
    int (*failed)(void *b);
} npu_builder;

/* Walks m (a whole model) into bd for n_ctx positions. Fails with a
 * one-line reason for what the graph does not express (a layer range, an
 * architecture's piece it lacks), for a shape that does not fit (a bug), or
 * when the builder failed (then *why is left for the builder to fill:
 * ARIA_ERR_INTERNAL with an empty message). */
aria_err npu_graph_walk(const aria_llm *m, uint32_t n_ctx, const npu_builder *bd, aria_msg *why);

/* Names of the per-layer tensors, into buf: "past_key.3". */
void npu_graph_name(char *buf, size_t cap, const char *what, uint32_t layer);

/* Bytes of one element. */
size_t npu_et_size(int et);

/* The caller's side of a session on such a graph: the KV cache it binds as
 * past_*, the per-token inputs, and the stores of present_* after each run. */
typedef struct npu_kv {
    uint32_t C, L, Hkv, hd;
    int64_t token64, pos64; /* input_ids and position, for an i64 graph */
    int32_t token32, pos32; /* the same, for an i32 graph */
    float *mask;            /* attention_mask [C + 1], page-aligned */
    float *kv;              /* [L][2] planes of [Hkv][C][hd], each page-aligned */
    size_t stride;          /* floats from one plane to the next */
} npu_kv;

aria_err npu_kv_init(npu_kv *k, uint32_t C, uint32_t L, uint32_t Hkv, uint32_t hd, aria_msg *why);
void npu_kv_free(npu_kv *k);
/* past_key.l (v = 0) or past_value.l (v = 1): [Hkv][C][hd] */
float *npu_kv_past(const npu_kv *k, uint32_t l, int v);
/* Sets the inputs of a run of token at pos: ids, position, mask. */
void npu_kv_begin(npu_kv *k, int32_t token, uint32_t pos);
/* Stores each layer's present_key/value ([Hkv][1][hd]; present[2l + v]) at pos. */
void npu_kv_store(npu_kv *k, uint32_t pos, const float *const *present);

#endif
