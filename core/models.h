/* models.h — choosing the backend for a model file (the one whose probe
 * answers highest) and loading it: how core routes by capability. */
#ifndef ARI_MODELS_H
#define ARI_MODELS_H

#include "node.h"

typedef struct ari_loaded {
    const aria_backend_vt *vt;
    void *ctx;         /* the backend plugin's context */
    aria_model *model;
    aria_probe probe;
} ari_loaded;

/* Probes path with every loaded backend and returns the best (score > 0) in
 * *best; a one-line reason otherwise (the reasons of every backend). */
aria_err ari_model_pick(const ari_registry *reg, const char *path, const ari_iface **best,
                        aria_probe *probe, aria_msg *why);

/* Picks a backend and loads path, whole (layer_end 0) or a layer range. */
aria_err ari_model_load(const ari_registry *reg, const char *path, uint32_t layer_first,
                        uint32_t layer_end, uint32_t n_ctx, uint32_t n_threads, ari_loaded *out,
                        aria_msg *why);
void ari_model_unload(ari_loaded *l);

#endif
