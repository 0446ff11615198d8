/* randmodel.h — random-weight GGUF models of real shapes (bench, tests). */
#ifndef ARI_RANDMODEL_H
#define ARI_RANDMODEL_H

#include <aria/common.h>

typedef struct ari_shape {
    const char *name, *arch;
    uint32_t n_embd, n_ff, n_layer, n_head, n_head_kv, n_vocab;
    int tied; /* output head shares token_embd */
} ari_shape;

const ari_shape *ari_shape_find(const char *name);
const char *ari_shape_names(void);

/* Writes a model of shape sh: matrices of `type`, embedding and output head
 * of head_type, norms f32 near 1, a byte-level vocabulary. Same seed and
 * shape: the same ternary values whatever the ternary type. */
aria_err ari_randmodel_write(const char *path, const ari_shape *sh, uint32_t type,
                             uint32_t head_type, uint64_t seed, aria_msg *why);

#endif
