/* cmd_quantize.c — `aria-core quantize IN OUT TYPE`: rewrites the weight
 * matrices of a GGUF file in another type, with the reference quantizers. */
#include "cmds.h"

#include <aria/gguf.h>
#include <aria/quant.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char quantize_usage[] =
    "usage: aria-core quantize IN OUT TYPE\n"
    "\n"
    "Writes OUT, a copy of the GGUF model IN whose weight matrices (F32, F16,\n"
    "BF16, or the ternary TQ1_0, TQ2_0, I2_S) are converted to TYPE: Q8_0,\n"
    "Q4_0, F16, BF16, TQ1_0, TQ2_0 or I2_S. Vectors (norms, biases) stay as they\n"
    "are, and so does any matrix whose rows are not a whole number of TYPE's\n"
    "blocks. OUT appears only when complete (written to OUT.tmp, then renamed).\n"
    "\n"
    "Ternary targets take ternary weights: values -s, 0, +s with one scale s\n"
    "per tensor (I2_S) or per 256-block (TQ1_0, TQ2_0). Between the three\n"
    "ternary types the conversion is checked to be lossless, and refused with\n"
    "the tensor named when it would not be.\n";

static const struct {
    const char *name;
    uint32_t type, ftype; /* ggml's general.file_type for a file mostly of it */
} targets[] = {
    {"F16", ARIA_T_F16, 1},    {"BF16", ARIA_T_BF16, 32}, {"Q8_0", ARIA_T_Q8_0, 7},
    {"Q4_0", ARIA_T_Q4_0, 2},  {"TQ1_0", ARIA_T_TQ1_0, 36}, {"TQ2_0", ARIA_T_TQ2_0, 37},
    {"I2_S", ARIA_T_I2_S, 40},
};

static int is_ternary(uint32_t t)
{
    return t == ARIA_T_TQ1_0 || t == ARIA_T_TQ2_0 || t == ARIA_T_I2_S;
}

/* The whole tensor as floats (I2_S with its per-tensor scale). */
static int tensor_floats(const aria_gguf_tensor *t, float *out)
{
    uint64_t rows = t->n_elements / t->ne[0];
    if (t->type == ARIA_T_I2_S) {
        size_t rb = aria_row_bytes(ARIA_T_I2_S, t->ne[0]);
        float scale;
        memcpy(&scale, (const uint8_t *)t->data + rows * rb, 4);
        for (uint64_t r = 0; r < rows; r++)
            aria_i2s_dequantize_row((const uint8_t *)t->data + r * rb, scale, out + r * t->ne[0],
                                    t->ne[0]);
        return 0;
    }
    size_t rb = aria_row_bytes(t->type, t->ne[0]);
    for (uint64_t r = 0; r < rows; r++)
        if (aria_dequantize_row(t->type, (const uint8_t *)t->data + r * rb, out + r * t->ne[0],
                                t->ne[0]) != ARIA_OK)
            return -1;
    return 0;
}

/* Encodes n floats (rows of k) as I2_S: codes and the tensor scale after
 * them. Fails (with the offending value) unless every weight is -s, 0 or +s. */
static int encode_i2s(const float *w, uint64_t n, uint64_t k, uint8_t *dst, char *why, size_t cap)
{
    float s = 0;
    for (uint64_t i = 0; i < n; i++)
        s = fmaxf(s, fabsf(w[i]));
    int8_t *codes = malloc(k);
    if (!codes)
        return -1;
    for (uint64_t r = 0; r < n / k; r++) {
        for (uint64_t i = 0; i < k; i++) {
            float v = w[r * k + i];
            int c = s > 0 ? (int)lroundf(v / s) : 0;
            if ((float)c * s != v) {
                snprintf(why, cap, "weight %g is not -s, 0 or +s for the tensor scale s = %g", v, s);
                free(codes);
                return -1;
            }
            codes[i] = (int8_t)c;
        }
        aria_i2s_pack_row(codes, dst + r * (k / 4), k);
    }
    memset(dst + n / 4, 0, 32);
    memcpy(dst + n / 4, &s, 4);
    free(codes);
    return 0;
}

static int is_matrix(const aria_gguf_tensor *t)
{
    size_t n = strlen(t->name);
    return t->n_dims >= 2 && t->ne[1] > 1 && n > 7 && !strcmp(t->name + n - 7, ".weight") &&
           (t->type == ARIA_T_F32 || t->type == ARIA_T_F16 || t->type == ARIA_T_BF16 ||
            is_ternary(t->type));
}

int ari_cmd_quantize(int argc, char **argv)
{
    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        fputs(quantize_usage, stdout);
        return 0;
    }
    if (argc != 4) {
        fprintf(stderr, "aria-core quantize: want IN OUT TYPE (see --help)\n");
        return 2;
    }
    const char *in = argv[1], *out = argv[2];
    int ti = -1;
    for (size_t i = 0; i < sizeof targets / sizeof targets[0]; i++)
        if (!strcasecmp(argv[3], targets[i].name))
            ti = (int)i;
    if (ti < 0) {
        fprintf(stderr, "aria-core quantize: type '%s' is not one of F16, BF16, Q8_0, Q4_0, TQ1_0, "
                        "TQ2_0, I2_S\n", argv[3]);
        return 2;
    }
    const uint32_t to = targets[ti].type;
    aria_gguf *g;
    aria_msg why = {{0}};
    if (aria_gguf_open(in, &g, &why) != ARIA_OK) {
        fprintf(stderr, "aria-core quantize: %s\n", why.text);
        return 1;
    }
    int rc = 1;
    aria_gguf_writer *w = aria_gguf_writer_new();
    void **bufs = calloc(g->n_tensors ? g->n_tensors : 1, sizeof *bufs);
    float *row = NULL;
    size_t row_cap = 0;
    uint64_t in_bytes = 0, out_bytes = 0, converted = 0;
    if (!w || !bufs)
        goto out;
    for (uint64_t i = 0; i < g->n_kv; i++)
        if (!aria_gguf_str_eq(g->kv[i].key, "general.file_type") &&
            aria_gguf_copy_kv(w, &g->kv[i]) != ARIA_OK)
            goto out;
    aria_gguf_set_u32(w, "general.file_type", targets[ti].ftype);
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        const aria_gguf_tensor *t = &g->tensors[i];
        const void *data = t->data;
        uint64_t nbytes = t->nbytes;
        uint32_t type = t->type;
        size_t rb = aria_row_bytes(to, t->ne[0]);
        /* ternary sources go only to ternary targets (others would expand
         * them for nothing); ternary targets take only matrices */
        int eligible = is_matrix(t) && rb && t->type != to &&
                       (!is_ternary(t->type) || is_ternary(to)) &&
                       !(is_ternary(to) && !strncmp(t->name, "token_embd", 10));
        if (eligible) {
            uint64_t rows = t->n_elements / t->ne[0];
            if (row_cap < t->n_elements) {
                free(row);
                row_cap = t->n_elements;
                row = malloc(row_cap * sizeof *row);
            }
            bufs[i] = malloc(rows * rb + 32);
            if (!row || !bufs[i] || tensor_floats(t, row)) {
                fprintf(stderr, "aria-core quantize: %s: out of memory or unreadable\n", t->name);
                goto out;
            }
            char why2[160];
            if (to == ARIA_T_I2_S) {
                if (encode_i2s(row, t->n_elements, t->ne[0], bufs[i], why2, sizeof why2)) {
                    fprintf(stderr, "aria-core quantize: %s: %s\n", t->name, why2);
                    goto out;
                }
                nbytes = rows * rb + 32;
            } else {
                for (uint64_t r = 0; r < rows; r++)
                    aria_quantize_row(to, row + r * t->ne[0], (uint8_t *)bufs[i] + r * rb, t->ne[0]);
                nbytes = rows * rb;
                /* between ternary types nothing may be lost: check */
                if (is_ternary(t->type)) {
                    float *back = malloc(t->ne[0] * sizeof *back);
                    for (uint64_t r = 0; back && r < rows; r++) {
                        aria_dequantize_row(to, (uint8_t *)bufs[i] + r * rb, back, t->ne[0]);
                        for (uint64_t k = 0; k < t->ne[0]; k++)
                            if (back[k] != row[r * t->ne[0] + k]) {
                                fprintf(stderr, "aria-core quantize: %s: %s -> %s would change weight "
                                        "%llu of row %llu (%g -> %g): refused\n", t->name,
                                        aria_type_info_get(t->type)->name, targets[ti].name,
                                        (unsigned long long)k, (unsigned long long)r,
                                        row[r * t->ne[0] + k], back[k]);
                                free(back);
                                goto out;
                            }
                    }
                    free(back);
                }
            }
            data = bufs[i];
            type = to;
            converted++;
        }
        fprintf(stderr, "[%llu/%llu] %-32s %s -> %s\n", (unsigned long long)i + 1,
                (unsigned long long)g->n_tensors, t->name, aria_type_info_get(t->type)->name,
                aria_type_info_get(type)->name);
        in_bytes += t->nbytes;
        out_bytes += nbytes;
        if (aria_gguf_add_tensor(w, t->name, type, t->n_dims, t->ne, data, nbytes, &why) !=
            ARIA_OK) {
            fprintf(stderr, "aria-core quantize: %s\n", why.text);
            goto out;
        }
    }
    if (aria_gguf_write(w, out, &why) != ARIA_OK) {
        fprintf(stderr, "aria-core quantize: %s\n", why.text);
        goto out;
    }
    fprintf(stderr, "wrote %s: %llu matrices converted, %.1f MiB of tensors (from %.1f MiB)\n", out,
            (unsigned long long)converted, out_bytes / 1048576.0, in_bytes / 1048576.0);
    if (!converted)
        fprintf(stderr, "warning: no weight matrix could become %s (row lengths or types do not "
                        "fit); OUT is a copy\n", targets[ti].name);
    rc = 0;
out:
    for (uint64_t i = 0; bufs && i < g->n_tensors; i++)
        free(bufs[i]);
    free(bufs);
    free(row);
    aria_gguf_writer_free(w);
    aria_gguf_close(g);
    return rc;
}
