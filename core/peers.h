/* peers.h — the node's peer layer: handshake, peer table, peer exchange,
 * advertised capabilities, and inference across peers (docs/protocol.md).
 *
 * It speaks through whichever transport plugin handles the URLs of
 * [network] listen and bootstrap; it never names one. Threads: the
 * transport's I/O threads deliver messages; one maintenance thread checks
 * handshake deadlines, asks for peers and sends load updates; each inference
 * that arrives from a peer runs on its own thread. */
#ifndef ARI_PEERS_H
#define ARI_PEERS_H

#include "identity.h"
#include "node.h"
#include "service.h"

#include <jansson.h>

typedef struct ari_peers ari_peers;

/* Where an inference that arrives from a peer sends what it produces. */
typedef struct ari_peer_sink {
    void *ctx; /* the peer layer's */
    /* Each returns nonzero when the origin is gone or cancelled. */
    int (*token)(void *ctx, const char *text, size_t len, int32_t token, json_t *lp);
    void (*done)(void *ctx, const char *finish, uint32_t prompt_tokens, uint32_t gen_tokens);
    void (*error)(void *ctx, int status, const char *code, const char *param,
                  const char *message);
    volatile int *cancel; /* set when the origin cancels or leaves */
} ari_peer_sink;

/* What the node tells the peer layer. */
typedef struct ari_peer_host {
    void *user;
    /* The models this node serves, as HELLO's "models" array (new ref). */
    json_t *(*models)(void *user);
    /* Requests running, slots, and requests waiting, over all models. */
    void (*load)(void *user, uint32_t *active, uint32_t *slots, uint32_t *queue);
    /* Runs one inference that a peer asked for, to the end; it reports
     * through the sink exactly once (done or error). Blocking. */
    void (*serve)(void *user, const char *endpoint, json_t *request, const int32_t *resume,
                  size_t n_resume, const ari_peer_sink *sink);
    /* A slot of the model this node holds exactly as the layer range
     * [first, end), for a pipeline stage a peer opens; waits like a request
     * (queue, cancel, deadline). Blocking. */
    aria_err (*stage_acquire)(void *user, const char *model, uint32_t first, uint32_t end,
                              volatile int *cancel, uint64_t deadline_ns, ari_lease *out,
                              aria_msg *why);
    void (*stage_release)(void *user, ari_lease *l);
} ari_peer_host;

/* Starts the peer layer: picks the transport for the listen and bootstrap
 * URLs, listens, dials the bootstrap peers (redialing with backoff). Returns
 * NULL with *why when a listener cannot bind. With no listen URL and no
 * bootstrap peer, or no transport plugin for them, it logs so and returns
 * NULL with *why empty: the node then runs alone. */
ari_peers *ari_peers_start(ari_ctx *c, const ari_identity *id, const ari_peer_host *h,
                           aria_msg *why);
/* Stops: says bye to every peer, closes every connection (inference from
 * and to peers ends: their waiters return), waits for the peers' requests.
 * The table stays usable (empty) until ari_peers_free. */
void ari_peers_stop(ari_peers *p);
void ari_peers_free(ari_peers *p);

/* The URLs this node listens on (with the real ports), comma-separated. */
void ari_peers_listen_urls(ari_peers *p, char *buf, size_t cap);

/* The node's capabilities changed: send a new CAPS to every peer. */
void ari_peers_caps_changed(ari_peers *p);

/* The peer table as JSON (GET /peers): ready peers and handshakes. */
json_t *ari_peers_json(ari_peers *p);

/* Models that ready peers serve, each once: [{id, tiers:[..], bytes}]. */
json_t *ari_peers_models(ari_peers *p);

/* The pipelines driven here and the stages run for peers (pipeline.h). */
struct ari_pipes *ari_peers_pipes(ari_peers *p);

/* Ids of the ready peers that answer requests for model, least loaded first
 * (task: "chat" or "completion", or NULL: only peers whose consent in their
 * HELLO accepts that kind of work now are listed)
 * (then lowest round trip): those holding the whole model, then those
 * holding its first layers, which run it as a pipeline with the peers
 * holding the rest. Returns how many were written (at most cap). */
size_t ari_peers_for_model(ari_peers *p, const char *model, const char *task,
                           char (*ids)[ARI_ID_LEN + 1], size_t cap);

/* An inference on a peer, as its origin sees it. */
typedef struct ari_remote_cb {
    void *user;
    /* One token; nonzero cancels. lp is borrowed (may be NULL). */
    int (*token)(void *user, const char *text, size_t len, int32_t token, json_t *lp);
} ari_remote_cb;

typedef struct ari_remote_result {
    int status;              /* 200, or the peer's HTTP-like error status */
    char code[64], param[64];
    char message[512];
    char finish[16];
    uint32_t prompt_tokens, completion_tokens;
} ari_remote_result;

/* Sends request (an OpenAI request body) to peer id and delivers its tokens
 * to cb until it finishes. resume: tokens already generated elsewhere, which
 * the peer treats as given and continues after. Returns ARIA_OK with
 * res->status 200 (done) or the peer's error status; ARIA_ERR_CLOSED when
 * the peer went away mid-request (*n_tokens says how many tokens arrived),
 * ARIA_ERR_NOT_FOUND when it is not a ready peer, ARIA_ERR_CANCELLED when
 * *cancel was set or cb asked (the peer is told), ARIA_ERR_TIMEOUT past
 * deadline_ns. */
aria_err ari_peers_infer(ari_peers *p, const char *id, const char *endpoint, json_t *request,
                         const int32_t *resume, size_t n_resume, const ari_remote_cb *cb,
                         volatile int *cancel, uint64_t deadline_ns, ari_remote_result *res,
                         aria_msg *why);

/* The ledger's peer messages (ledger_*, block_header) go to prov. */
struct ari_prov;
void ari_peers_set_prov(ari_peers *p, struct ari_prov *prov);

/* Sends o (a message object, stolen) to the ready peer id, waiting while
 * its queue is full. ARIA_ERR_NOT_FOUND when it is not a ready peer. */
aria_err ari_peers_send_json(ari_peers *p, const char *id, json_t *o);

/* Sends o (stolen) to every ready peer that speaks 2.2 (the ledger
 * messages) or later. Returns to how many. */
size_t ari_peers_broadcast_json(ari_peers *p, json_t *o);

/* A spot-check of the work of the node with key pk passed or failed: its
 * reputation (in GET /peers) moves, and routing and the pipeline planner
 * see it as that much more loaded. */
void ari_peers_rate(ari_peers *p, const uint8_t pk[32], int passed);

/* The public key of the ready peer id; 0 when found, -1 when not. */
int ari_peers_pubkey(ari_peers *p, const char *id, uint8_t pk[32]);

#endif
