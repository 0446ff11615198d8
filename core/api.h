/* api.h — the OpenAI-compatible HTTP API of a node (libmicrohttpd, one
 * thread per connection): /v1/chat/completions, /v1/completions (streamed
 * as server-sent events or not), /v1/models, /health, /metrics. See
 * docs/api.md. */
#ifndef ARI_API_H
#define ARI_API_H

#include "node.h"
#include "peers.h"
#include "service.h"

typedef struct ari_api ari_api;

/* Starts listening on [api] listen. Returns NULL with *why on error. */
ari_api *ari_api_start(ari_ctx *c, ari_service *svc, aria_msg *why);
/* The port actually bound (useful with port 0). */
unsigned ari_api_port(const ari_api *a);
/* What the peer layer needs from the API: the models to advertise, the
 * load, and a way to serve a peer's request like a client's. */
void ari_api_peer_host(ari_api *a, ari_peer_host *out);
/* Lets the router and the completions use peers (p may be NULL). Call
 * before requests arrive, and with NULL before ari_peers_stop. */
void ari_api_set_peers(ari_api *a, ari_peers *p);
/* The ledger inferences are recorded on (NULL: none). */
struct ari_prov;
void ari_api_set_prov(ari_api *a, struct ari_prov *p);
/* Stops accepting, cancels running generations, waits for them. */
void ari_api_stop(ari_api *a);

#endif
