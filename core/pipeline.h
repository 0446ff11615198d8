/* pipeline.h — one model's layers across several nodes (docs/protocol.md,
 * "Pipelines").
 *
 * The node that holds a model's first layers (with the tokenizer and the
 * embeddings) drives: it runs its own layers inside the backend's generate,
 * and the generate's tail (aria_tail_fn) is an ari_pipe, which sends the
 * hidden states to the next stage as binary frames. Every stage runs its
 * layers and sends its output to the next one; the last samples and sends
 * the token back to the driver. The driver keeps every position's tokens and
 * the hidden states it sent, so that when a stage is lost it rebuilds the
 * rest of the pipeline on other nodes (ari_plan_pipeline without the lost
 * one) and replays them.
 *
 * The stages a node runs for others live in ari_pipes too: stage_open takes
 * a slot of the range the node holds, and a worker thread per stage runs the
 * frames in order.
 *
 * Threads: the on_* entry points are called by the peer layer's I/O threads
 * with its lock held; they only queue and signal, and never call back into
 * the net. Workers and drivers call the net without holding ari_pipes' lock. */
#ifndef ARI_PIPELINE_H
#define ARI_PIPELINE_H

#include "identity.h"
#include "planner.h"
#include "proto.h"
#include "service.h"

typedef struct ari_pipes ari_pipes;
typedef struct ari_pipe ari_pipe;

/* What the peer layer and the node offer the pipelines. */
typedef struct ari_pipe_net {
    void *user;
    char self[ARI_ID_LEN + 1];
    /* Sends one message to a ready peer, waiting while its queue is full.
     * ARIA_ERR_NOT_FOUND when it is not connected. */
    aria_err (*send)(void *user, const char *peer, const void *data, size_t len, uint32_t kind);
    /* 1 when peer is connected and ready. */
    int (*ready)(void *user, const char *peer);
    /* The ranges of model (of n_layers layers) that ready peers advertise:
     * up to cap offers, their node ids in ids[] (the caller points
     * offers[i].node there). */
    size_t (*offers)(void *user, const char *model, uint32_t n_layers, ari_stage_offer *offers,
                     char (*ids)[ARI_ID_LEN + 1], size_t cap);
    /* A slot of the local model held exactly as [first, end). */
    aria_err (*acquire)(void *user, const char *model, uint32_t first, uint32_t end,
                        volatile int *cancel, uint64_t deadline_ns, ari_lease *out,
                        aria_msg *why);
    void (*release)(void *user, ari_lease *l);
    uint32_t max_stages; /* stages this node runs for others at once */
    /* Signs with the node's key (a ledger record the driver asks a stage
     * to sign); self_pk is that key's public half. */
    aria_err (*sign)(void *user, const void *msg, size_t len, uint8_t sig[64]);
    uint8_t self_pk[32];
    /* threads a stage run for a peer may use ([consent] cpu_percent) */
    uint32_t stage_threads;
} ari_pipe_net;

ari_pipes *ari_pipes_new(const ari_pipe_net *net);
/* Ends every stage, refuses new ones, and waits for their workers. */
void ari_pipes_stop(ari_pipes *ps);
/* Stops, then frees. Every driver must be closed. */
void ari_pipes_free(ari_pipes *ps);

/* A stage_* control message from peer `from`. Returns 0, or -1 with *why
 * when the peer broke the protocol (the caller refuses it). */
int ari_pipes_on_text(ari_pipes *ps, const char *from, const ari_msg_in *m, aria_msg *why);
/* A binary frame from peer `from`; same return. */
int ari_pipes_on_frame(ari_pipes *ps, const char *from, const void *data, size_t len,
                       aria_msg *why);
/* Peer `id` went away: drivers using it as a stage rebuild; stages it
 * drove end. */
void ari_pipes_peer_gone(ari_pipes *ps, const char *id);
/* Stages running for others, and pipelines driven here. */
void ari_pipes_count(ari_pipes *ps, uint32_t *stages, uint32_t *driven);

/* What a driver needs to know. */
typedef struct ari_pipe_params {
    const char *model;
    uint32_t n_layers;    /* in the whole model */
    uint32_t my_end;      /* this node holds [0, my_end) */
    uint32_t n_embd;
    uint32_t n_ctx;
    uint32_t dtype;       /* aria_dtype of the frames */
    uint32_t replication; /* copies of each stage wanted ([models] replication) */
    aria_sampling sampling;
    volatile int *cancel; /* may be NULL */
    uint64_t deadline_ns;
} ari_pipe_params;

/* Plans the stages after [0, my_end) among the peers and opens them. On
 * failure *why says which layers nobody holds or which stage refused. */
aria_err ari_pipe_open(ari_pipes *ps, const ari_pipe_params *pp, ari_pipe **out, aria_msg *why);
/* The aria_tail_fn of generate: user is the ari_pipe. */
aria_err ari_pipe_tail(void *user, uint32_t pos0, uint32_t n_tokens, const int32_t *tokens,
                       const void *embd, int32_t *token, float *logprob, aria_logprob *top,
                       uint32_t *n_top, aria_msg *why);
/* "self:0-1,ab12cd34ef56:2-3,...": the stages now (inclusive layers). */
void ari_pipe_describe(const ari_pipe *pp, char *buf, size_t cap);
/* How many times the pipeline was rebuilt after losing a stage. */
unsigned ari_pipe_rebuilds(const ari_pipe *pp);
/* The stages now, this node's first: node ids and layer ranges [first,
 * end). Returns how many were written (at most cap). */
uint32_t ari_pipe_stages(const ari_pipe *pp, char (*ids)[ARI_ID_LEN + 1], uint32_t *first,
                         uint32_t *end, uint32_t cap);
/* The compute time the last stage reported over all tokens, in us (the
 * time of every stage after this one). */
uint64_t ari_pipe_compute_us(const ari_pipe *pp);
/* Asks stage i (>= 1) to sign the ledger record r (which names it): the
 * stage checks it against what it ran and answers with its signature.
 * Blocks up to 10 s. Call before ari_pipe_close. */
struct aria_ledger_record;
aria_err ari_pipe_sign(ari_pipe *pp, uint32_t i, const struct aria_ledger_record *r,
                       uint8_t sig[64], aria_msg *why);
/* Closes the remote stages and frees. */
void ari_pipe_close(ari_pipe *pp);

#endif
