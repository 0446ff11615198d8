/* ov_ir.h — a llama-family model as OpenVINO IR (version 11): the XML of
 * the graph and the blob of its constants, built from the weights the
 * shared runtime bound (aria_llm), for ov_core_read_model_from_memory_buffer.
 *
 * The graph runs one token per inference with static shapes, as NPUs want:
 *
 *   inputs   input_ids       i64 [1]                  the token
 *            position        i64 [1]                  its position
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
 * The caller owns the KV cache: it writes each present_* into past_* at the
 * position, and masks the positions it has not filled.
 *
 * Weights: F32 and F16 matrices go in as they are (F16 behind a Convert,
 * which OpenVINO keeps compressed); Q8_0 as i8 blocks with f16 scales (the
 * group-wise decompression pattern OpenVINO's plugins recognise); every
 * other type is dequantized to f16. Norm weights are f32. */
#ifndef OVIR_H
#define OVIR_H

#include <aria/llm.h>

#include <stddef.h>
#include <stdint.h>

typedef struct ovir {
    char *xml; /* NUL-terminated */
    size_t xml_len;
    uint8_t *blob; /* 64-byte aligned; what every Const's offset counts in */
    size_t blob_len;
    uint32_t n_ctx;  /* positions the graph's KV inputs hold */
    uint32_t n_layers, n_kv_heads, head_dim, n_vocab;
    size_t n_ops;    /* layers of the graph */
} ovir;

/* Builds the graph of m (a whole model) for n_ctx positions. Fails with a
 * one-line reason for what the graph does not express (a layer range, an
 * architecture's piece it lacks) or when memory runs out. */
aria_err ovir_build(const aria_llm *m, uint32_t n_ctx, ovir *out, aria_msg *why);
void ovir_free(ovir *ir);

#endif
