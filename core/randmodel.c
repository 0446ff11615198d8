/* randmodel.c — random-weight models of real shapes, so that speed is
 * measured at real sizes without downloads, and formats compared on the
 * same weights.
 *
 * Each matrix is filled from a pool of 64 random rows, quantized once,
 * cycled with a per-tensor offset: writing a 2-billion-parameter file takes
 * seconds, and the bytes a forward pass reads are as many as a real model's.
 * The ternary formats are built from the same ternary rows and scale, so a
 * model written as TQ1_0, TQ2_0 and I2_S holds identical weights. */
#include "randmodel.h"

#include <aria/gguf.h>
#include <aria/quant.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const ari_shape shapes[] = {
    {"tinyllama-1.1b", "llama", 2048, 5632, 22, 32, 4, 32000, 0},
    {"bitnet-2b4t", "bitnet-b1.58", 2560, 6912, 30, 20, 5, 128256, 1},
    {"bitnet-large", "bitnet", 1536, 4096, 24, 16, 16, 32002, 1},
    {"tiny", "llama", 256, 768, 2, 4, 2, 512, 0},
    {"tiny-bitnet", "bitnet-b1.58", 256, 768, 2, 4, 2, 512, 1},
};

const ari_shape *ari_shape_find(const char *name)
{
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
        if (!strcmp(shapes[i].name, name))
            return &shapes[i];
    return NULL;
}

const char *ari_shape_names(void)
{
    return "tinyllama-1.1b, bitnet-2b4t, bitnet-large, tiny, tiny-bitnet";
}

typedef struct rng {
    uint64_t s;
} rng;

static uint64_t next64(rng *r)
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static float uniform(rng *r)
{
    return (float)((double)(next64(r) >> 11) / 9007199254740992.0) * 2.0f - 1.0f;
}

#define POOL_ROWS 64

/* One matrix: POOL_ROWS quantized rows, cycled over `rows`. */
typedef struct matrix {
    void *data;
    uint64_t nbytes;
} matrix;

static int is_ternary(uint32_t t)
{
    return t == ARIA_T_TQ1_0 || t == ARIA_T_TQ2_0 || t == ARIA_T_I2_S;
}

/* Fills m with rows x cols of type t. Ternary types get ternary rows with
 * one scale (the tensor's, as BitNet trains them); the others rows of
 * uniform noise scaled to keep activations in range. K-quants have no
 * quantizer here: their blocks are random bytes with sane scales. */
static aria_err make_matrix(matrix *m, uint32_t t, uint32_t rows, uint32_t cols, rng *r,
                            aria_msg *why)
{
    size_t rb = aria_row_bytes(t, cols);
    if (!rb)
        return aria_fail(why, ARIA_ERR_INVALID, "rows of %u do not fit type %s", cols,
                         aria_type_info_get(t)->name);
    m->nbytes = (uint64_t)rows * rb + (t == ARIA_T_I2_S ? 32 : 0);
    m->data = malloc(m->nbytes);
    uint8_t *pool = malloc(POOL_ROWS * rb);
    float *row = malloc(cols * sizeof *row);
    int8_t *tern = malloc(cols);
    if (!m->data || !pool || !row || !tern) {
        free(pool);
        free(row);
        free(tern);
        return aria_fail(why, ARIA_ERR_NOMEM, "out of memory for a %u x %u matrix", rows, cols);
    }
    const float amp = 1.0f / sqrtf((float)cols);
    /* The ternary scale: one value for the tensor, exact in f16. */
    const float tscale = aria_f16_to_f32(aria_f32_to_f16(amp * 2));
    for (int p = 0; p < POOL_ROWS; p++) {
        uint8_t *dst = pool + (size_t)p * rb;
        if (is_ternary(t)) {
            for (uint32_t i = 0; i < cols; i++)
                tern[i] = (int8_t)(next64(r) % 3) - 1;
            /* Every 256-block holds the tensor scale at least once, so that
             * TQ1_0/TQ2_0's per-block absmax equals it. */
            for (uint32_t b = 0; b < cols; b += 256)
                tern[b] = 1;
            if (t == ARIA_T_I2_S) {
                aria_i2s_pack_row(tern, dst, cols);
            } else {
                for (uint32_t i = 0; i < cols; i++)
                    row[i] = tern[i] * tscale;
                aria_quantize_row(t, row, dst, cols);
            }
        } else {
            for (uint32_t i = 0; i < cols; i++)
                row[i] = uniform(r) * amp * 1.7f;
            if (aria_quantize_row(t, row, dst, cols) != ARIA_OK) {
                /* no reference quantizer (K-quants): random blocks with
                 * scales that keep values near amp */
                for (size_t i = 0; i < rb; i++)
                    dst[i] = (uint8_t)next64(r);
                size_t bb = aria_row_bytes(t, 256);
                for (uint32_t b = 0; b < cols / 256; b++) {
                    uint8_t *blk = dst + b * bb;
                    aria_f16 d = aria_f32_to_f16(amp / 24), dm = aria_f32_to_f16(amp / 4);
                    if (t == ARIA_T_Q6_K) {
                        d = aria_f32_to_f16(amp / 256);
                        memcpy(blk + 208, &d, 2);
                    } else {
                        memcpy(blk, &d, 2);
                        memcpy(blk + 2, &dm, 2);
                    }
                }
            }
        }
    }
    uint8_t *out = m->data;
    uint64_t start = next64(r) % POOL_ROWS;
    for (uint32_t i = 0; i < rows; i++)
        memcpy(out + (size_t)i * rb, pool + ((start + i) % POOL_ROWS) * rb, rb);
    if (t == ARIA_T_I2_S) {
        memset(out + (size_t)rows * rb, 0, 32);
        memcpy(out + (size_t)rows * rb, &tscale, 4);
    }
    free(row);
    free(tern);
    free(pool);
    return ARIA_OK;
}

static aria_err vector(matrix *m, uint32_t n, rng *r, aria_msg *why)
{
    m->nbytes = (uint64_t)n * 4;
    float *v = malloc(m->nbytes);
    if (!(m->data = v))
        return aria_fail(why, ARIA_ERR_NOMEM, "out of memory");
    for (uint32_t i = 0; i < n; i++)
        v[i] = 1.0f + 0.1f * uniform(r);
    return ARIA_OK;
}

aria_err ari_randmodel_write(const char *path, const ari_shape *sh, uint32_t type,
                             uint32_t head_type, uint64_t seed, aria_msg *why)
{
    aria_gguf_writer *w = aria_gguf_writer_new();
    size_t cap = 16 + (size_t)sh->n_layer * 16, n = 0;
    matrix *mats = calloc(cap, sizeof *mats);
    char **names = calloc(cap, sizeof *names);
    aria_err e = ARIA_OK;
    if (!w || !mats || !names) {
        e = aria_fail(why, ARIA_ERR_NOMEM, "out of memory");
        goto out;
    }
    char k[128];
#define KEY(s) (snprintf(k, sizeof k, "%s." s, sh->arch), k)
    aria_gguf_set_str(w, "general.architecture", sh->arch);
    aria_gguf_set_str(w, "general.name", sh->name);
    aria_gguf_set_u32(w, KEY("context_length"), 4096);
    aria_gguf_set_u32(w, KEY("embedding_length"), sh->n_embd);
    aria_gguf_set_u32(w, KEY("block_count"), sh->n_layer);
    aria_gguf_set_u32(w, KEY("feed_forward_length"), sh->n_ff);
    aria_gguf_set_u32(w, KEY("attention.head_count"), sh->n_head);
    aria_gguf_set_u32(w, KEY("attention.head_count_kv"), sh->n_head_kv);
    aria_gguf_set_u32(w, KEY("rope.dimension_count"), sh->n_embd / sh->n_head);
    aria_gguf_set_f32(w, KEY("rope.freq_base"), 500000.0f);
    aria_gguf_set_f32(w, KEY("attention.layer_norm_rms_epsilon"), 1e-5f);
    aria_gguf_set_u32(w, KEY("vocab_size"), sh->n_vocab);
#undef KEY
    /* A byte-level vocabulary: enough for generation, random prompts and
     * decoding; never a real tokenizer. */
    aria_gguf_set_str(w, "tokenizer.ggml.model", "gpt2");
    aria_gguf_set_str(w, "tokenizer.ggml.pre", "default");
    {
        char **toks = calloc(sh->n_vocab, sizeof *toks);
        int32_t *types = calloc(sh->n_vocab, sizeof *types);
        static const char hex[] = "0123456789abcdef";
        uint32_t extra = 0;
        for (uint32_t i = 0; toks && types && i < sh->n_vocab; i++) {
            toks[i] = malloc(16);
            if (!toks[i])
                break;
            if (i < 256) {
                /* GPT-2's byte-to-unicode map: printable bytes as themselves */
                uint32_t cp = (i >= 33 && i <= 126) || (i >= 161 && i <= 172) || (i >= 174)
                                  ? i
                                  : 256 + extra++;
                if (cp < 0x80) {
                    toks[i][0] = (char)cp;
                    toks[i][1] = 0;
                } else {
                    toks[i][0] = (char)(0xC0 | (cp >> 6));
                    toks[i][1] = (char)(0x80 | (cp & 0x3F));
                    toks[i][2] = 0;
                }
                types[i] = 1;
            } else {
                snprintf(toks[i], 16, "<t%c%c%c%c>", hex[(i >> 12) & 15], hex[(i >> 8) & 15],
                         hex[(i >> 4) & 15], hex[i & 15]);
                types[i] = i >= sh->n_vocab - 2 ? 3 : 4;
            }
        }
        if (toks && types)
            aria_gguf_set_arr_str(w, "tokenizer.ggml.tokens", (const char *const *)toks,
                                  sh->n_vocab);
        if (types)
            aria_gguf_set_arr(w, "tokenizer.ggml.token_type", ARIA_GGUF_I32, types, sh->n_vocab);
        /* no merges: every byte is its own token */
        aria_gguf_set_arr_str(w, "tokenizer.ggml.merges", NULL, 0);
        aria_gguf_set_u32(w, "tokenizer.ggml.bos_token_id", sh->n_vocab - 2);
        aria_gguf_set_u32(w, "tokenizer.ggml.eos_token_id", sh->n_vocab - 1);
        for (uint32_t i = 0; toks && i < sh->n_vocab; i++)
            free(toks[i]);
        free(toks);
        free(types);
    }

    rng r = {seed * 0x2545f4914f6cdd1dull + 1};
    const uint32_t d = sh->n_embd, hd = d / sh->n_head, kvd = sh->n_head_kv * hd;
#define ADD_MAT(nm, t, rows, cols)                                                                 \
    do {                                                                                           \
        names[n] = strdup(nm);                                                                     \
        if ((e = make_matrix(&mats[n], t, rows, cols, &r, why)) != ARIA_OK)                        \
            goto out;                                                                              \
        uint64_t ne_[2] = {cols, rows};                                                            \
        if ((e = aria_gguf_add_tensor(w, nm, t, 2, ne_, mats[n].data, mats[n].nbytes, why)))       \
            goto out;                                                                              \
        n++;                                                                                       \
    } while (0)
#define ADD_VEC(nm, len)                                                                           \
    do {                                                                                           \
        names[n] = strdup(nm);                                                                     \
        if ((e = vector(&mats[n], len, &r, why)) != ARIA_OK)                                       \
            goto out;                                                                              \
        uint64_t ne_[1] = {len};                                                                   \
        if ((e = aria_gguf_add_tensor(w, nm, ARIA_T_F32, 1, ne_, mats[n].data, mats[n].nbytes,     \
                                      why)))                                                       \
            goto out;                                                                              \
        n++;                                                                                       \
    } while (0)
    ADD_MAT("token_embd.weight", head_type, sh->n_vocab, d);
    ADD_VEC("output_norm.weight", d);
    if (!sh->tied)
        ADD_MAT("output.weight", head_type, sh->n_vocab, d);
    int sub = !strncmp(sh->arch, "bitnet", 6);
    for (uint32_t l = 0; l < sh->n_layer; l++) {
        char nm[96];
#define N(s) (snprintf(nm, sizeof nm, "blk.%u." s, l), nm)
        ADD_VEC(N("attn_norm.weight"), d);
        ADD_MAT(N("attn_q.weight"), type, d, d);
        ADD_MAT(N("attn_k.weight"), type, kvd, d);
        ADD_MAT(N("attn_v.weight"), type, kvd, d);
        ADD_MAT(N("attn_output.weight"), type, d, d);
        ADD_VEC(N("ffn_norm.weight"), d);
        ADD_MAT(N("ffn_gate.weight"), type, sh->n_ff, d);
        ADD_MAT(N("ffn_up.weight"), type, sh->n_ff, d);
        ADD_MAT(N("ffn_down.weight"), type, d, sh->n_ff);
        if (sub) {
            ADD_VEC(N("attn_sub_norm.weight"), d);
            ADD_VEC(N("ffn_sub_norm.weight"), sh->n_ff);
        }
#undef N
    }
    e = aria_gguf_write(w, path, why);
out:
    for (size_t i = 0; i < n + 1 && i < cap; i++) {
        free(mats[i].data);
        free(names[i]);
    }
    free(mats);
    free(names);
    aria_gguf_writer_free(w);
    return e;
}
