/* cmd_quantize.c — `aria-core quantize IN OUT TYPE`: rewrites the weight
 * matrices of a GGUF file in another type, with the reference quantizers. */
#include "cmds.h"

#include <aria/gguf.h>
#include <aria/quant.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char quantize_usage[] =
    "usage: aria-core quantize IN OUT TYPE\n"
    "\n"
    "Writes OUT, a copy of the GGUF model IN whose weight matrices (F32, F16\n"
    "or BF16) are converted to TYPE: Q8_0, Q4_0, F16, BF16, TQ1_0 or TQ2_0.\n"
    "Vectors (norms, biases) stay as they are, and so does any matrix whose\n"
    "rows are not a whole number of TYPE's blocks. OUT appears only when\n"
    "complete (written to OUT.tmp, then renamed).\n";

static const struct {
    const char *name;
    uint32_t type, ftype; /* ggml's general.file_type for a file mostly of it */
} targets[] = {
    {"F16", ARIA_T_F16, 1},    {"BF16", ARIA_T_BF16, 32}, {"Q8_0", ARIA_T_Q8_0, 7},
    {"Q4_0", ARIA_T_Q4_0, 2},  {"TQ1_0", ARIA_T_TQ1_0, 36}, {"TQ2_0", ARIA_T_TQ2_0, 37},
};

static int is_matrix(const aria_gguf_tensor *t)
{
    size_t n = strlen(t->name);
    return t->n_dims >= 2 && t->ne[1] > 1 && n > 7 && !strcmp(t->name + n - 7, ".weight") &&
           (t->type == ARIA_T_F32 || t->type == ARIA_T_F16 || t->type == ARIA_T_BF16);
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
                        "TQ2_0\n", argv[3]);
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
    uint64_t in_bytes = 0, out_bytes = 0;
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
        if (is_matrix(t) && rb && t->type != to) {
            uint64_t rows = t->n_elements / t->ne[0];
            if (row_cap < t->ne[0]) {
                free(row);
                row_cap = t->ne[0];
                row = malloc(row_cap * sizeof *row);
            }
            bufs[i] = malloc(rows * rb);
            if (!row || !bufs[i]) {
                fprintf(stderr, "aria-core quantize: out of memory at %s\n", t->name);
                goto out;
            }
            size_t in_rb = aria_row_bytes(t->type, t->ne[0]);
            for (uint64_t r = 0; r < rows; r++) {
                aria_dequantize_row(t->type, (const uint8_t *)t->data + r * in_rb, row, t->ne[0]);
                aria_quantize_row(to, row, (uint8_t *)bufs[i] + r * rb, t->ne[0]);
            }
            data = bufs[i];
            nbytes = rows * rb;
            type = to;
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
    fprintf(stderr, "wrote %s: %.1f MiB of tensors (from %.1f MiB)\n", out, out_bytes / 1048576.0,
            in_bytes / 1048576.0);
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
