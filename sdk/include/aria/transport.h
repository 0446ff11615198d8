/* aria/transport.h — message transports between nodes (ARIA_IFACE_TRANSPORT).
 *
 * A transport moves whole messages (text or binary) between this node and its
 * peers: it listens, dials, keeps connections alive (pings, dead-peer
 * detection, redialing with backoff), enforces the size limit per message and
 * the bandwidth cap. It knows nothing of what the messages mean: the peer
 * layer in core does the handshake and the protocol on top.
 *
 * Threads: the transport runs its own I/O threads and calls the event
 * callbacks from them, one call at a time per connection. Callbacks must not
 * block for long; they may call send and close (on any connection).
 *
 * Ownership: an aria_conn stays valid from on_open until on_close returns.
 * The bytes passed to on_message are valid only during the call. */
#ifndef ARIA_TRANSPORT_H
#define ARIA_TRANSPORT_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ARIA_TRANSPORT_VERSION 1

typedef struct aria_transport aria_transport; /* opaque, the transport's */
typedef struct aria_conn aria_conn;           /* opaque, the transport's */

enum {
    ARIA_MSG_TEXT = 0,  /* UTF-8 (JSON control messages) */
    ARIA_MSG_BINARY = 1 /* binary frames (activations) */
};

typedef struct aria_transport_events {
    void *user;
    /* A connection is up (inbound: accepted on a listener; else dialed). */
    void (*on_open)(void *user, aria_conn *c, int inbound);
    /* One whole message arrived. */
    void (*on_message)(void *user, aria_conn *c, const void *data, size_t len,
                       uint32_t kind);
    /* The connection is gone; why says how (ARIA_OK for a local close). A
     * dialed connection with redial set is replaced by a new one later,
     * reported through on_open again. */
    void (*on_close)(void *user, aria_conn *c, aria_err why,
                     const char *detail);
} aria_transport_events;

typedef struct aria_transport_opts {
    aria_vt_hdr hdr;
    const char *subprotocol;    /* e.g. "aria.v2" */
    uint64_t max_message_bytes; /* larger messages are refused and the
                                   connection closed */
    uint32_t ping_interval_ms;  /* 20000 by default */
    uint32_t dead_after_ms;     /* 30000: silence after which a peer is dead */
    uint32_t redial_min_ms;     /* first backoff step */
    uint32_t redial_max_ms;     /* backoff cap (jitter added) */
    uint64_t max_bytes_per_sec; /* send cap over all connections; 0 = none */
    const char *tls_cert;       /* PEM files for wss://; NULL for ws:// */
    const char *tls_key;
    const char *tls_ca;         /* to verify peers; NULL: do not verify */
} aria_transport_opts;

typedef struct aria_conn_info {
    aria_vt_hdr hdr;
    char remote[128];   /* "ip:port" of the peer */
    char url[256];      /* the URL dialed, or the listener's for inbound */
    uint64_t bytes_in, bytes_out;
    uint32_t inbound;
    uint32_t rtt_us;    /* last ping round trip; 0 unknown */
} aria_conn_info;

typedef struct aria_transport_vt {
    aria_vt_hdr hdr;     /* sizeof(aria_transport_vt), ARIA_TRANSPORT_VERSION */
    const char *name;    /* "ws" */
    const char *schemes; /* URL schemes it handles: "ws,wss" */

    /* Required. A transport instance delivering events to ev (copied). */
    aria_err (*create)(void *ctx, const aria_transport_opts *opts,
                       const aria_transport_events *ev, aria_transport **out,
                       aria_msg *why);

    /* Required. Closes every listener and connection (on_close is called for
     * each), waits for the I/O threads, frees t. Blocks. */
    void (*destroy)(aria_transport *t);

    /* Required. Starts accepting on url ("ws://0.0.0.0:7700/aria"); port 0
     * picks a free port, which bound_url reports. Blocks briefly (bind). */
    aria_err (*listen)(aria_transport *t, const char *url, aria_msg *why);

    /* Required. The URL listener i is bound to (with the real port), or
     * ARIA_ERR_NOT_FOUND past the last listener. */
    aria_err (*bound_url)(aria_transport *t, size_t i, char *buf, size_t cap);

    /* Required. Connects to url in the background; on_open reports success,
     * on_close failure. With redial, a lost connection is dialed again with
     * exponential backoff and jitter until close_url. Does not block. */
    aria_err (*dial)(aria_transport *t, const char *url, int redial,
                     aria_msg *why);

    /* Required. Stops redialing url and closes its connection if open. */
    void (*close_url)(aria_transport *t, const char *url);

    /* Required. Queues one message. Does not block: ARIA_ERR_BUSY if the
     * connection's queue is full, ARIA_ERR_RANGE if len exceeds the limit,
     * ARIA_ERR_CLOSED if the connection is gone. The bytes are copied. */
    aria_err (*send)(aria_conn *c, const void *data, size_t len, uint32_t kind);

    /* Required. Closes one connection (on_close follows, from an I/O thread). */
    void (*close)(aria_conn *c, const char *reason);

    /* Required. Describes a connection. */
    aria_err (*conn_info)(aria_conn *c, aria_conn_info *out);

    /* Required. Attach the caller's pointer to a connection, and read it. */
    void (*set_user)(aria_conn *c, void *user);
    void *(*get_user)(aria_conn *c);
} aria_transport_vt;

ARIA_PIN(aria_transport_vt, name, 8);
ARIA_PIN(aria_transport_vt, schemes, 16);
ARIA_PIN(aria_transport_vt, create, 24);
ARIA_PIN(aria_transport_vt, destroy, 32);
ARIA_PIN(aria_transport_vt, listen, 40);
ARIA_PIN(aria_transport_vt, bound_url, 48);
ARIA_PIN(aria_transport_vt, dial, 56);
ARIA_PIN(aria_transport_vt, close_url, 64);
ARIA_PIN(aria_transport_vt, send, 72);
ARIA_PIN(aria_transport_vt, close, 80);
ARIA_PIN(aria_transport_vt, conn_info, 88);
ARIA_PIN(aria_transport_vt, set_user, 96);
ARIA_PIN(aria_transport_vt, get_user, 104);

#ifdef __cplusplus
}
#endif
#endif /* ARIA_TRANSPORT_H */
