/* service.h — the models a node serves, and the slots requests run in.
 *
 * Each model is a file that a backend claims. It is loaded on first use;
 * when loading one would pass [models] max_memory_mb, idle models are
 * unloaded, least recently used first. A loaded model has
 * [api] slots_per_model sessions; a request takes one (waiting in a queue
 * of at most [api] queue_depth) and gives it back. The service also keeps
 * the counters that /metrics shows. Thread-safe. */
#ifndef ARI_SERVICE_H
#define ARI_SERVICE_H

#include "models.h"
#include "node.h"

#include <stdint.h>

typedef struct ari_service ari_service;

/* Counters of one model, as /metrics shows them. */
typedef struct ari_model_stats {
    uint64_t requests, prompt_tokens, completion_tokens;
    uint64_t errors[8]; /* by ari_err_kind */
    double prompt_s, gen_s;
    uint32_t active, waiting, loaded;
    uint64_t loads, unloads;
} ari_model_stats;

typedef enum ari_err_kind {
    ARI_EK_BAD_REQUEST = 0, /* malformed JSON or parameters */
    ARI_EK_NOT_FOUND,       /* unknown model or path */
    ARI_EK_CONTEXT,         /* prompt longer than the context */
    ARI_EK_TOO_LARGE,       /* body over max_body_kb */
    ARI_EK_QUEUE_FULL,      /* 429 */
    ARI_EK_UNAUTHORIZED,    /* 401 */
    ARI_EK_CANCELLED,       /* client went away */
    ARI_EK_INTERNAL         /* load or generation failed */
} ari_err_kind;
extern const char *const ari_err_kind_names[8];

typedef struct ari_model_desc {
    char id[256];   /* the name clients use: the file's name */
    char path[4096];
    const char *backend; /* backend plugin name */
    aria_probe probe;
    uint32_t tiers;
    int gone; /* its file left the models directory: not served */
    /* The transformer layers this node holds, [layer_first, layer_end):
     * [0, probe.n_layers) for a whole model, less for a pipeline stage
     * ([models] layers). A partial model answers no request alone. */
    uint32_t layer_first, layer_end;
} ari_model_desc;

/* The models of the models directory and the extra files (--model), each
 * probed by every backend. A file no backend claims is logged and left out;
 * an extra file that does not exist or that no backend claims is an error.
 * Returns NULL with *why on error. */
ari_service *ari_service_new(ari_ctx *c, const char *const *extra, size_t n_extra, aria_msg *why);
void ari_service_free(ari_service *s);

/* Models are numbered 0..count-1 for the service's life; the count only
 * grows. desc is NULL for a model no longer served (its file left the
 * models directory); find skips those. */
size_t ari_service_count(const ari_service *s);
const ari_model_desc *ari_service_desc(const ari_service *s, size_t i);
/* How many models are served now (count less those gone). */
size_t ari_service_served(const ari_service *s);
/* Index of the whole model named id, or -1 (also for a model held only in
 * part: it cannot answer a request by itself). */
long ari_service_find(const ari_service *s, const char *id);
/* Index of the model named id, whole or a layer range, or -1. */
long ari_service_find_held(const ari_service *s, const char *id);
/* 1 when desc holds every layer of its model. */
int ari_model_whole(const ari_model_desc *d);
/* Serves the GGUF files that appeared in the models directory since the
 * last scan (and those that came back), stops serving those that left it.
 * Call from one thread only. Returns how many models changed. */
size_t ari_service_rescan(ari_service *s);
void ari_service_stats(ari_service *s, size_t i, ari_model_stats *out);
/* Requests waiting for a slot, over all models. */
uint32_t ari_service_queue_depth(ari_service *s);

/* A slot held by one request. */
typedef struct ari_lease {
    ari_service *svc;
    size_t model;
    uint32_t slot;
    const aria_backend_vt *vt;
    aria_model *m;
    aria_session *sess;
    uint32_t n_ctx;
} ari_lease;

/* Waits for a free slot of model i, loading the model when needed, until
 * gone(user) says the client left (checked every 100 ms; may be NULL) or
 * the request's deadline. ARIA_ERR_BUSY when the queue is full,
 * ARIA_ERR_CANCELLED when the client left, ARIA_ERR_TIMEOUT, or the load's
 * error. The session comes back cleared. */
aria_err ari_service_acquire(ari_service *s, size_t i, int (*gone)(void *), void *user,
                             uint64_t deadline_ns, ari_lease *out, aria_msg *why);
void ari_service_release(ari_lease *l);

/* Records a finished request's figures (kind < 0: it succeeded). */
void ari_service_record(ari_service *s, size_t i, int kind, uint32_t n_prompt, uint32_t n_gen,
                        double prompt_s, double gen_s);
/* Loads the models named in [models] preload; logs each failure. */
void ari_service_preload(ari_service *s);

#endif
