/* api.h — the OpenAI-compatible HTTP API of a node (libmicrohttpd, one
 * thread per connection): /v1/chat/completions, /v1/completions (streamed
 * as server-sent events or not), /v1/models, /health, /metrics. See
 * docs/api.md. */
#ifndef ARI_API_H
#define ARI_API_H

#include "node.h"
#include "service.h"

typedef struct ari_api ari_api;

/* Starts listening on [api] listen. Returns NULL with *why on error. */
ari_api *ari_api_start(ari_ctx *c, ari_service *svc, aria_msg *why);
/* The port actually bound (useful with port 0). */
unsigned ari_api_port(const ari_api *a);
/* Stops accepting, cancels running generations, waits for them. */
void ari_api_stop(ari_api *a);

#endif
