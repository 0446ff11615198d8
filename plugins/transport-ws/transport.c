/* transport-ws — the transport vtable (aria/transport.h) over WebSocket with
 * nng's stream API: ws:// and wss://, subprotocol aria.v2, frames as
 * docs/protocol.md section 1 says (frame.h).
 *
 * Threads, kept simple on purpose: each connection has a reader thread
 * (which reports on_open, every message, and finally on_close) and a writer
 * thread draining its send queue; each listener has an accept thread; each
 * dialed URL a dialer thread (which redials with backoff); one timer thread
 * sends pings and closes silent connections. Blocking nng calls are
 * interrupted by closing the stream, listener or aio they wait on.
 *
 * A dial that fails is reported through on_close on a connection that never
 * opened (get_user gives NULL on it), then redialed if asked. */
#include "frame.h"

#include "aria/plugin.h"
#include "aria/transport.h"

#include <nng/nng.h>
#include <nng/supplemental/tls/tls.h>

#include <mbedtls/error.h>
#include <mbedtls/pk.h>
#include <mbedtls/x509_crt.h>

#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const aria_host *H;

#define LOG(level, ...) (H ? H->log(level, "transport-ws", __VA_ARGS__) : (void)0)

static uint64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

static void abs_in(struct timespec *ts, uint64_t ns)
{
    clock_gettime(CLOCK_REALTIME, ts);
    uint64_t n = (uint64_t)ts->tv_nsec + ns % 1000000000ull;
    ts->tv_sec += (time_t)(ns / 1000000000ull + n / 1000000000ull);
    ts->tv_nsec = (long)(n % 1000000000ull);
}

typedef struct frame_q {
    struct frame_q *next;
    size_t len; /* header + payload */
    uint8_t data[];
} frame_q;

typedef struct dialer_ent dialer_ent;

struct aria_conn {
    aria_transport *t;
    struct aria_conn *next; /* in t->conns */
    nng_stream *s;
    /* the reader's and the writer's operations, aborted by conn_close:
     * nng's WebSocket stream does not always fail a receive that is queued
     * after the stream closed (a close frame that arrived while no receive
     * was pending), so closing never relies on nng_stream_close alone */
    nng_aio *rx_aio, *tx_aio, *probe_aio;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    frame_q *head, *tail;
    size_t q_frames, q_bytes;
    int closing;       /* close asked (locally or by an error) */
    int drain;         /* close once the queue is sent */
    uint64_t drain_since;
    char drain_reason[200];
    int writer_done;
    aria_err why;
    char detail[256];
    void *user;
    dialer_ent *dial; /* the dial entry that made it, or NULL */
    uint64_t last_rx, last_ping;
    aria_conn_info info;
    int opened; /* on_open was called */
};

struct dialer_ent {
    dialer_ent *next;
    aria_transport *t;
    char url[256];
    int redial, closed, done;
    nng_stream_dialer *d;
    nng_aio *aio;
    nng_tls_config *tls; /* wss://: its own, naming the host to verify */
    aria_conn *conn; /* current connection */
    pthread_t th;
    pthread_cond_t cv; /* with t->mu */
};

typedef struct listener {
    nng_stream_listener *l;
    nng_aio *aio;
    pthread_t th;
    char url[256];
    int started;
} listener;

struct aria_transport {
    aria_transport_opts o;
    char subprotocol[64];
    char tls_cert[1024], tls_key[1024], tls_ca[1024];
    aria_transport_events ev;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    aria_conn *conns;
    size_t n_conns; /* alive (reader thread running) */
    dialer_ent *dials;
    listener ls[8];
    size_t n_ls;
    int stopping;
    pthread_t timer;
    int timer_started;
    /* token bucket over all connections */
    pthread_mutex_t bucket_mu;
    double tokens;
    uint64_t bucket_t;
    nng_tls_config *tls_server;
};

/* ---- connections ---------------------------------------------------------- */

static void conn_close(aria_conn *c, aria_err why, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void conn_close(aria_conn *c, aria_err why, const char *fmt, ...)
{
    pthread_mutex_lock(&c->mu);
    if (!c->closing) {
        c->closing = 1;
        c->why = why;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->detail, sizeof c->detail, fmt, ap);
        va_end(ap);
        nng_stream_close(c->s); /* wakes the reader and the writer */
        nng_aio_abort(c->rx_aio, NNG_ECLOSED);
        nng_aio_abort(c->tx_aio, NNG_ECLOSED);
    }
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
}

static void bucket_take(aria_transport *t, size_t n)
{
    uint64_t rate = t->o.max_bytes_per_sec;
    if (!rate)
        return;
    pthread_mutex_lock(&t->bucket_mu);
    uint64_t now = now_ns();
    t->tokens += (double)(now - t->bucket_t) * 1e-9 * (double)rate;
    double cap = (double)rate / 4 + 65536; /* bursts of a quarter second */
    if (t->tokens > cap)
        t->tokens = cap;
    t->bucket_t = now;
    t->tokens -= (double)n;
    double wait = t->tokens < 0 ? -t->tokens / (double)rate : 0;
    pthread_mutex_unlock(&t->bucket_mu);
    if (wait > 0) {
        struct timespec ts = {(time_t)wait, (long)((wait - (double)(time_t)wait) * 1e9)};
        nanosleep(&ts, NULL);
    }
}

/* One send or receive on the connection's own aio; timeout_ms < 0: none. */
static int stream_io(nng_stream *s, nng_aio *aio, int send, void *buf, size_t n, int timeout_ms,
                     size_t *done)
{
    nng_iov iov = {.iov_buf = buf, .iov_len = n};
    nng_aio_set_iov(aio, 1, &iov);
    nng_aio_set_timeout(aio, timeout_ms < 0 ? NNG_DURATION_INFINITE : timeout_ms);
    if (send)
        nng_stream_send(s, aio);
    else
        nng_stream_recv(s, aio);
    nng_aio_wait(aio);
    *done = nng_aio_count(aio);
    return nng_aio_result(aio);
}

/* Frames queued together leave in one WebSocket message of up to this
 * many bytes (a larger frame goes alone): one send, one wake-up of the
 * peer's reader, for many small frames. */
#define BATCH_BYTES (256u << 10)

static void *writer_main(void *arg)
{
    aria_conn *c = arg;
    aria_transport *t = c->t;
    uint8_t *batch = malloc(BATCH_BYTES);
    for (;;) {
        pthread_mutex_lock(&c->mu);
        while (!c->head && !c->closing && !c->drain)
            pthread_cond_wait(&c->cv, &c->mu);
        if (c->closing) {
            pthread_mutex_unlock(&c->mu);
            break;
        }
        if (!c->head) { /* drained: now close */
            pthread_mutex_unlock(&c->mu);
            conn_close(c, ARIA_OK, "%s", c->drain_reason);
            break;
        }
        /* take the head frame, and the frames behind it while they fit */
        frame_q *first = c->head, *last = first;
        size_t total = first->len, data = 0;
        while (batch && last->next && total + last->next->len <= BATCH_BYTES) {
            last = last->next;
            total += last->len;
        }
        c->head = last->next;
        if (!c->head)
            c->tail = NULL;
        last->next = NULL;
        for (frame_q *f = first; f; f = f->next) {
            c->q_frames--;
            c->q_bytes -= f->len;
        }
        pthread_mutex_unlock(&c->mu);
        const uint8_t *out = first->data;
        if (first != last) {
            size_t o = 0;
            for (frame_q *f = first; f; f = f->next) {
                memcpy(batch + o, f->data, f->len);
                o += f->len;
            }
            out = batch;
        }
        for (frame_q *f = first; f; f = f->next)
            if (f->data[0] == ARIA_WS_TEXT || f->data[0] == ARIA_WS_BINARY)
                data += f->len;
        if (data)
            bucket_take(t, data);
        size_t off = 0;
        int rv = 0;
        while (off < total && rv == 0) {
            size_t n = 0;
            rv = stream_io(c->s, c->tx_aio, 1, (void *)(out + off), total - off, -1, &n);
            off += n;
        }
        if (rv == 0) {
            pthread_mutex_lock(&c->mu);
            c->info.bytes_out += total;
            pthread_mutex_unlock(&c->mu);
        }
        while (first) {
            frame_q *f = first;
            first = f->next;
            free(f);
        }
        if (rv != 0) {
            conn_close(c, ARIA_ERR_CLOSED, "send failed: %s", nng_strerror(rv));
            break;
        }
    }
    free(batch);
    pthread_mutex_lock(&c->mu);
    while (c->head) {
        frame_q *f = c->head;
        c->head = f->next;
        free(f);
    }
    c->tail = NULL;
    c->writer_done = 1;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

static aria_err enqueue(aria_conn *c, uint8_t kind, const void *data, size_t len, int force)
{
    aria_transport *t = c->t;
    if (len > t->o.max_message_bytes || len > UINT32_MAX)
        return ARIA_ERR_RANGE;
    frame_q *f = malloc(sizeof *f + ARIA_WS_HEADER + len);
    if (!f)
        return ARIA_ERR_NOMEM;
    f->next = NULL;
    f->len = ARIA_WS_HEADER + len;
    aria_ws_frame_header(f->data, kind, (uint32_t)len);
    if (len)
        memcpy(f->data + ARIA_WS_HEADER, data, len);
    pthread_mutex_lock(&c->mu);
    aria_err e = ARIA_OK;
    if (c->closing || c->drain)
        e = ARIA_ERR_CLOSED;
    else if (!force && c->q_frames &&
             (c->q_frames >= 1024 || c->q_bytes + f->len > 2 * t->o.max_message_bytes + 4096))
        e = ARIA_ERR_BUSY;
    if (e != ARIA_OK) {
        pthread_mutex_unlock(&c->mu);
        free(f);
        return e;
    }
    if (c->tail)
        c->tail->next = f;
    else
        c->head = f;
    c->tail = f;
    c->q_frames++;
    c->q_bytes += f->len;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
    return ARIA_OK;
}

static void fmt_addr(nng_stream *s, char *buf, size_t cap)
{
    nng_sockaddr sa;
    buf[0] = '\0';
    if (nng_stream_get_addr(s, NNG_OPT_REMADDR, &sa) != 0)
        return;
    char ip[INET6_ADDRSTRLEN] = "";
    if (sa.s_family == NNG_AF_INET) {
        inet_ntop(AF_INET, &sa.s_in.sa_addr, ip, sizeof ip);
        snprintf(buf, cap, "%s:%u", ip, ntohs(sa.s_in.sa_port));
    } else if (sa.s_family == NNG_AF_INET6) {
        inet_ntop(AF_INET6, sa.s_in6.sa_addr, ip, sizeof ip);
        snprintf(buf, cap, "[%s]:%u", ip, ntohs(sa.s_in6.sa_port));
    }
}

/* Handles the whole frames at the start of buf; returns bytes consumed, or
 * -1 after closing the connection for a bad frame. */
static long handle_frames(aria_conn *c, uint8_t *buf, size_t n)
{
    aria_transport *t = c->t;
    size_t off = 0;
    for (;;) {
        aria_ws_frame f;
        long r = aria_ws_frame_parse(buf + off, n - off, t->o.max_message_bytes, &f);
        if (r == ARIA_WS_NEED_MORE)
            return (long)off;
        if (r == ARIA_WS_TOO_LARGE) {
            conn_close(c, ARIA_ERR_RANGE, "a frame of %u bytes: the limit is %llu",
                       (unsigned)(buf[off + 4] | buf[off + 5] << 8 | buf[off + 6] << 16 |
                                  (uint32_t)buf[off + 7] << 24),
                       (unsigned long long)t->o.max_message_bytes);
            return -1;
        }
        if (r < 0) {
            conn_close(c, ARIA_ERR_FORMAT, "bad frame header (%s)",
                       r == ARIA_WS_BAD_KIND ? "unknown kind" : "reserved bytes set");
            return -1;
        }
        const uint8_t *p = buf + off + ARIA_WS_HEADER;
        if (f.kind == ARIA_WS_PING) {
            enqueue(c, ARIA_WS_PONG, p, f.len, 1);
        } else if (f.kind == ARIA_WS_PONG) {
            if (f.len == 8) {
                uint64_t sent;
                memcpy(&sent, p, 8);
                uint64_t now = now_ns();
                if (sent <= now && now - sent < 3600ull * 1000000000ull) {
                    pthread_mutex_lock(&c->mu);
                    c->info.rtt_us = (uint32_t)((now - sent) / 1000);
                    if (!c->info.rtt_us)
                        c->info.rtt_us = 1;
                    pthread_mutex_unlock(&c->mu);
                }
            }
        } else {
            t->ev.on_message(t->ev.user, c, p, f.len,
                             f.kind == ARIA_WS_TEXT ? ARIA_MSG_TEXT : ARIA_MSG_BINARY);
        }
        off += (size_t)r;
    }
}

static void conn_free(aria_conn *c)
{
    nng_stream_free(c->s);
    nng_aio_free(c->rx_aio);
    nng_aio_free(c->tx_aio);
    nng_aio_free(c->probe_aio);
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->cv);
    free(c);
}

/* How long the reader waits for bytes before it checks the connection. */
#define READ_SLICE_MS 1000

/* The reader: on_open, the messages, on_close; then the connection goes. */
static void *reader_main(void *arg)
{
    aria_conn *c = arg;
    aria_transport *t = c->t;
    pthread_t wth;
    int writer = pthread_create(&wth, NULL, writer_main, c) == 0;
    if (!writer)
        conn_close(c, ARIA_ERR_NOMEM, "cannot start the writer thread");
    c->opened = 1;
    t->ev.on_open(t->ev.user, c, (int)c->info.inbound);
    size_t cap = 65536, len = 0;
    uint8_t *buf = malloc(cap);
    while (buf) {
        pthread_mutex_lock(&c->mu);
        int closing = c->closing;
        pthread_mutex_unlock(&c->mu);
        if (closing)
            break;
        if (cap - len < 16384) {
            /* grow to hold the frame being read (its size is checked) */
            size_t want = cap * 2;
            if (want > t->o.max_message_bytes + 2 * ARIA_WS_HEADER + 65536)
                want = (size_t)t->o.max_message_bytes + 2 * ARIA_WS_HEADER + 65536;
            if (want <= cap) {
                conn_close(c, ARIA_ERR_INTERNAL, "receive buffer full");
                break;
            }
            uint8_t *nb = realloc(buf, want);
            if (!nb) {
                conn_close(c, ARIA_ERR_NOMEM, "out of memory");
                break;
            }
            buf = nb;
            cap = want;
        }
        size_t got = 0;
        int rv = stream_io(c->s, c->rx_aio, 0, buf + len, cap - len, READ_SLICE_MS, &got);
        if (rv == NNG_ETIMEDOUT && got)
            rv = 0;
        if (rv == NNG_ETIMEDOUT) {
            /* a quiet second: a closed stream fails an empty send at once
             * (a close nng did not report to the receive); an open one
             * carries it as an empty WebSocket message, which adds no
             * byte to the frame stream */
            size_t sent;
            rv = stream_io(c->s, c->probe_aio, 1, buf + len, 0, READ_SLICE_MS, &sent);
            if (rv == 0 || rv == NNG_ETIMEDOUT)
                continue;
        }
        if (rv != 0) {
            conn_close(c, ARIA_ERR_CLOSED, "%s",
                       rv == NNG_ECLOSED || rv == NNG_ECONNSHUT ? "the peer closed the connection"
                                                                : nng_strerror(rv));
            break;
        }
        pthread_mutex_lock(&c->mu);
        c->last_rx = now_ns();
        c->info.bytes_in += got;
        pthread_mutex_unlock(&c->mu);
        len += got;
        long used = handle_frames(c, buf, len);
        if (used < 0)
            break;
        memmove(buf, buf + used, len - (size_t)used);
        len -= (size_t)used;
        /* shrink back after a large frame */
        if (cap > 4u << 20 && len < 65536) {
            uint8_t *nb = realloc(buf, 65536);
            if (nb) {
                buf = nb;
                cap = 65536;
            }
        }
    }
    free(buf);
    if (!buf)
        conn_close(c, ARIA_ERR_NOMEM, "out of memory");
    if (writer)
        pthread_join(wth, NULL);
    pthread_mutex_lock(&t->mu);
    for (aria_conn **pp = &t->conns; *pp; pp = &(*pp)->next)
        if (*pp == c) {
            *pp = c->next;
            break;
        }
    pthread_mutex_unlock(&t->mu);
    t->ev.on_close(t->ev.user, c, c->why, c->detail);
    pthread_mutex_lock(&t->mu);
    if (c->dial && c->dial->conn == c) {
        c->dial->conn = NULL;
        pthread_cond_broadcast(&c->dial->cv);
    }
    t->n_conns--;
    pthread_cond_broadcast(&t->cv);
    pthread_mutex_unlock(&t->mu);
    conn_free(c);
    return NULL;
}

/* Takes over an established stream. Returns 0, or -1 (stream freed). */
static int conn_start(aria_transport *t, nng_stream *s, int inbound, const char *url,
                      dialer_ent *d)
{
    aria_conn *c = calloc(1, sizeof *c);
    if (!c) {
        nng_stream_free(s);
        return -1;
    }
    c->t = t;
    c->s = s;
    if (nng_aio_alloc(&c->rx_aio, NULL, NULL) != 0 || nng_aio_alloc(&c->tx_aio, NULL, NULL) != 0 ||
        nng_aio_alloc(&c->probe_aio, NULL, NULL) != 0) {
        nng_aio_free(c->rx_aio);
        nng_aio_free(c->tx_aio);
        nng_stream_free(s);
        free(c);
        return -1;
    }
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
    c->info.hdr = (aria_vt_hdr){sizeof c->info, 1};
    c->info.inbound = (uint32_t)inbound;
    snprintf(c->info.url, sizeof c->info.url, "%s", url);
    fmt_addr(s, c->info.remote, sizeof c->info.remote);
    c->last_rx = c->last_ping = now_ns();
    c->dial = d;
    c->why = ARIA_OK;
    pthread_mutex_lock(&t->mu);
    if (t->stopping) {
        pthread_mutex_unlock(&t->mu);
        conn_free(c);
        return -1;
    }
    c->next = t->conns;
    t->conns = c;
    t->n_conns++;
    if (d)
        d->conn = c;
    pthread_t th;
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    int ok = pthread_create(&th, &at, reader_main, c) == 0;
    pthread_attr_destroy(&at);
    if (!ok) {
        t->conns = c->next;
        t->n_conns--;
        if (d)
            d->conn = NULL;
        pthread_mutex_unlock(&t->mu);
        conn_free(c);
        return -1;
    }
    pthread_mutex_unlock(&t->mu);
    return 0;
}

/* ---- listeners and dialers --------------------------------------------------- */

static void *accept_main(void *arg)
{
    aria_transport *t = ((void **)arg)[0];
    listener *l = ((void **)arg)[1];
    free(arg);
    for (;;) {
        nng_stream_listener_accept(l->l, l->aio);
        nng_aio_wait(l->aio);
        int rv = nng_aio_result(l->aio);
        if (rv == NNG_ECLOSED || rv == NNG_ECANCELED)
            break;
        pthread_mutex_lock(&t->mu);
        int stop = t->stopping;
        pthread_mutex_unlock(&t->mu);
        if (stop) {
            if (rv == 0)
                nng_stream_free(nng_aio_get_output(l->aio, 0));
            break;
        }
        if (rv != 0) {
            LOG(ARIA_LOG_DEBUG, "accept on %s: %s", l->url, nng_strerror(rv));
            continue;
        }
        conn_start(t, nng_aio_get_output(l->aio, 0), 1, l->url, NULL);
    }
    return NULL;
}

static int set_common(aria_transport *t, void *obj, int is_listener)
{
    size_t max = (size_t)t->o.max_message_bytes + 2 * ARIA_WS_HEADER;
    int rv;
    if (is_listener) {
        nng_stream_listener *l = obj;
        if ((rv = nng_stream_listener_set_string(l, NNG_OPT_WS_PROTOCOL, t->subprotocol)) != 0)
            return rv;
        nng_stream_listener_set_size(l, NNG_OPT_WS_RECVMAXFRAME, max);
        nng_stream_listener_set_size(l, NNG_OPT_RECVMAXSZ, max);
    } else {
        nng_stream_dialer *d = obj;
        if ((rv = nng_stream_dialer_set_string(d, NNG_OPT_WS_PROTOCOL, t->subprotocol)) != 0)
            return rv;
        nng_stream_dialer_set_size(d, NNG_OPT_WS_RECVMAXFRAME, max);
        nng_stream_dialer_set_size(d, NNG_OPT_RECVMAXSZ, max);
    }
    return 0;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = n >= 0 && n < (16 << 20) ? malloc((size_t)n + 1) : NULL;
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    if (b)
        b[n] = '\0';
    fclose(f);
    return b;
}

/* nng takes a certificate and a key that do not belong together, and then
 * every handshake fails with a bare "Cryptographic error": checked here,
 * with the TLS library nng is built on, so that the node says so at start. */
static int pair_check(const char *cert, const char *key, char *bad, size_t cap)
{
    mbedtls_x509_crt crt;
    mbedtls_pk_context pk;
    mbedtls_x509_crt_init(&crt);
    mbedtls_pk_init(&pk);
    int rc = -1, e;
    char m[160];
    if ((e = mbedtls_x509_crt_parse(&crt, (const unsigned char *)cert, strlen(cert) + 1)) != 0) {
        mbedtls_strerror(e, m, sizeof m);
        snprintf(bad, cap, "the certificate does not parse (%s)", m);
    } else if ((e = mbedtls_pk_parse_key(&pk, (const unsigned char *)key, strlen(key) + 1, NULL,
                                         0)) != 0) {
        mbedtls_strerror(e, m, sizeof m);
        snprintf(bad, cap, "the key does not parse (%s)", m);
    } else if (mbedtls_pk_check_pair(&crt.pk, &pk) != 0) {
        snprintf(bad, cap, "the key is not the certificate's");
    } else {
        rc = 0;
    }
    mbedtls_pk_free(&pk);
    mbedtls_x509_crt_free(&crt);
    return rc;
}

/* The listeners' TLS configuration (server), or a dialer's (client, into
 * *client): with [network] tls_ca, the peer's certificate must chain to it
 * and name host, the host of the URL dialed (as a DNS name or the CN: the
 * TLS library does not match IP-address subjectAltNames). */
static aria_err tls_setup(aria_transport *t, int server, const char *host,
                          nng_tls_config **client, aria_msg *why)
{
    nng_tls_config **cfgp = server ? &t->tls_server : client;
    if (*cfgp)
        return ARIA_OK;
    nng_tls_config *cfg;
    int rv = nng_tls_config_alloc(&cfg, server ? NNG_TLS_MODE_SERVER : NNG_TLS_MODE_CLIENT);
    if (rv != 0)
        return aria_fail(why, ARIA_ERR_UNAVAILABLE, "TLS: %s", nng_strerror(rv));
    if (server) {
        if (!t->tls_cert[0] || !t->tls_key[0]) {
            nng_tls_config_free(cfg);
            return aria_fail(why, ARIA_ERR_INVALID,
                             "wss:// needs [network] tls_cert and tls_key");
        }
        char *cert = slurp(t->tls_cert), *key = slurp(t->tls_key);
        if (cert && key) {
            char bad[256];
            if (pair_check(cert, key, bad, sizeof bad) != 0) {
                free(cert);
                memset(key, 0, strlen(key));
                free(key);
                nng_tls_config_free(cfg);
                return aria_fail(why, ARIA_ERR_INVALID, "TLS certificate %s / key %s: %s",
                                 t->tls_cert, t->tls_key, bad);
            }
        }
        rv = cert && key ? nng_tls_config_own_cert(cfg, cert, key, NULL) : NNG_ENOENT;
        free(cert);
        if (key) {
            memset(key, 0, strlen(key));
            free(key);
        }
        if (rv != 0) {
            nng_tls_config_free(cfg);
            return aria_fail(why, ARIA_ERR_INVALID, "TLS certificate %s / key %s: %s",
                             t->tls_cert, t->tls_key,
                             rv == NNG_ENOENT ? "cannot read" : nng_strerror(rv));
        }
        nng_tls_config_auth_mode(cfg, NNG_TLS_AUTH_MODE_NONE);
    } else if (t->tls_ca[0]) {
        rv = nng_tls_config_ca_file(cfg, t->tls_ca);
        if (rv != 0) {
            nng_tls_config_free(cfg);
            return aria_fail(why, ARIA_ERR_INVALID, "TLS CA file %s: %s", t->tls_ca,
                             nng_strerror(rv));
        }
        nng_tls_config_auth_mode(cfg, NNG_TLS_AUTH_MODE_REQUIRED);
        if ((rv = nng_tls_config_server_name(cfg, host)) != 0) {
            nng_tls_config_free(cfg);
            return aria_fail(why, ARIA_ERR_INVALID, "TLS server name %s: %s", host,
                             nng_strerror(rv));
        }
    } else {
        nng_tls_config_auth_mode(cfg, NNG_TLS_AUTH_MODE_NONE);
    }
    *cfgp = cfg;
    return ARIA_OK;
}

static int is_wss(const char *url)
{
    return !strncmp(url, "wss://", 6);
}

/* The host of scheme://host:port/path ([v6] without its brackets). */
static void url_host(const char *url, char *out, size_t cap)
{
    const char *h = strstr(url, "://");
    h = h ? h + 3 : url;
    size_t n;
    if (*h == '[') {
        h++;
        n = strcspn(h, "]");
    } else {
        n = strcspn(h, ":/");
    }
    snprintf(out, cap, "%.*s", (int)n, h);
}

static uint32_t jitter(uint32_t ms)
{
    static __thread unsigned seed;
    if (!seed)
        seed = (unsigned)now_ns() ^ (unsigned)(uintptr_t)&seed;
    return ms + (uint32_t)(rand_r(&seed) % (ms / 2 + 1));
}

static void *dial_main(void *arg)
{
    dialer_ent *d = arg;
    aria_transport *t = d->t;
    uint32_t backoff = t->o.redial_min_ms ? t->o.redial_min_ms : 500;
    int last_rv = 0;
    for (;;) {
        nng_stream_dialer_dial(d->d, d->aio);
        nng_aio_wait(d->aio);
        int rv = nng_aio_result(d->aio);
        pthread_mutex_lock(&t->mu);
        int stop = d->closed || t->stopping;
        pthread_mutex_unlock(&t->mu);
        if (rv == 0 && stop) {
            nng_stream_free(nng_aio_get_output(d->aio, 0));
            break;
        }
        if (stop)
            break;
        if (rv == 0) {
            if (conn_start(t, nng_aio_get_output(d->aio, 0), 0, d->url, d) == 0) {
                backoff = t->o.redial_min_ms ? t->o.redial_min_ms : 500;
                last_rv = 0;
                pthread_mutex_lock(&t->mu);
                while (d->conn && !d->closed && !t->stopping)
                    pthread_cond_wait(&d->cv, &t->mu);
                stop = d->closed || t->stopping;
                pthread_mutex_unlock(&t->mu);
            }
        } else {
            /* a failed dial: reported on a connection that never opened */
            aria_conn tmp;
            memset(&tmp, 0, sizeof tmp);
            tmp.t = t;
            t->ev.on_close(t->ev.user, &tmp, ARIA_ERR_CLOSED, nng_strerror(rv));
            /* the first failure of a run (or a new reason) is worth a
             * warning; the retries after it are not */
            int tls = rv == NNG_ECRYPTO || rv == NNG_EPEERAUTH;
            LOG(rv == last_rv ? ARIA_LOG_DEBUG : ARIA_LOG_WARN, "dial %s: %s%s%s", d->url,
                nng_strerror(rv),
                tls ? " (TLS: the peer's certificate does not verify against [network] tls_ca, "
                      "or does not name the host dialed)"
                    : "",
                d->redial ? "; will retry with backoff" : "");
            last_rv = rv;
        }
        if (stop || !d->redial)
            break;
        uint32_t wait = jitter(backoff);
        backoff = backoff * 2 > t->o.redial_max_ms ? t->o.redial_max_ms : backoff * 2;
        pthread_mutex_lock(&t->mu);
        struct timespec ts;
        abs_in(&ts, (uint64_t)wait * 1000000ull);
        while (!d->closed && !t->stopping &&
               pthread_cond_timedwait(&d->cv, &t->mu, &ts) != ETIMEDOUT) {
        }
        stop = d->closed || t->stopping;
        pthread_mutex_unlock(&t->mu);
        if (stop)
            break;
    }
    pthread_mutex_lock(&t->mu);
    while (d->conn) /* its reader still points at d */
        pthread_cond_wait(&d->cv, &t->mu);
    d->done = 1;
    pthread_cond_broadcast(&t->cv);
    pthread_mutex_unlock(&t->mu);
    return NULL;
}

/* ---- timer: pings and silence ------------------------------------------------ */

static void *timer_main(void *arg)
{
    aria_transport *t = arg;
    uint64_t ping_ns = (uint64_t)(t->o.ping_interval_ms ? t->o.ping_interval_ms : 20000) * 1000000ull;
    uint64_t dead_ns = (uint64_t)(t->o.dead_after_ms ? t->o.dead_after_ms : 30000) * 1000000ull;
    uint64_t tick = ping_ns / 4 < 250000000ull ? ping_ns / 4 : 250000000ull;
    if (dead_ns / 4 < tick)
        tick = dead_ns / 4;
    if (tick < 5000000ull)
        tick = 5000000ull;
    pthread_mutex_lock(&t->mu);
    while (!t->stopping) {
        struct timespec ts;
        abs_in(&ts, tick);
        pthread_cond_timedwait(&t->cv, &t->mu, &ts);
        if (t->stopping)
            break;
        for (aria_conn *c = t->conns; c; c = c->next) {
            pthread_mutex_lock(&c->mu);
            /* read under the lock: the reader moves last_rx past any
             * earlier reading of the clock */
            uint64_t now = now_ns();
            uint64_t rx = c->last_rx, pg = c->last_ping;
            int closing = c->closing, drain = c->drain;
            uint64_t since = c->drain_since;
            pthread_mutex_unlock(&c->mu);
            if (closing)
                continue;
            if (drain && now - since > 2000000000ull) {
                conn_close(c, ARIA_OK, "%s (unsent data dropped)", c->drain_reason);
                continue;
            }
            if (now - rx > dead_ns) {
                conn_close(c, ARIA_ERR_TIMEOUT, "no traffic for %llu ms",
                           (unsigned long long)((now - rx) / 1000000ull));
                continue;
            }
            if (now - pg >= ping_ns) {
                pthread_mutex_lock(&c->mu);
                c->last_ping = now;
                pthread_mutex_unlock(&c->mu);
                enqueue(c, ARIA_WS_PING, &now, sizeof now, 1);
            }
        }
    }
    pthread_mutex_unlock(&t->mu);
    return NULL;
}

/* ---- the vtable ----------------------------------------------------------------- */

static aria_err ws_create(void *ctx, const aria_transport_opts *opts,
                          const aria_transport_events *ev, aria_transport **out, aria_msg *why)
{
    (void)ctx;
    if (!opts || opts->hdr.struct_size < sizeof *opts || !ev || !ev->on_open ||
        !ev->on_message || !ev->on_close)
        return aria_fail(why, ARIA_ERR_INVALID, "transport options or events missing");
    aria_transport *t = calloc(1, sizeof *t);
    if (!t)
        return aria_fail(why, ARIA_ERR_NOMEM, "out of memory");
    t->o = *opts;
    if (!t->o.max_message_bytes)
        t->o.max_message_bytes = 64u << 20;
    if (t->o.max_message_bytes > 1ull << 31)
        t->o.max_message_bytes = 1ull << 31;
    if (!t->o.redial_max_ms)
        t->o.redial_max_ms = 30000;
    snprintf(t->subprotocol, sizeof t->subprotocol, "%s",
             opts->subprotocol ? opts->subprotocol : "aria.v2");
    snprintf(t->tls_cert, sizeof t->tls_cert, "%s", opts->tls_cert ? opts->tls_cert : "");
    snprintf(t->tls_key, sizeof t->tls_key, "%s", opts->tls_key ? opts->tls_key : "");
    snprintf(t->tls_ca, sizeof t->tls_ca, "%s", opts->tls_ca ? opts->tls_ca : "");
    t->o.subprotocol = t->o.tls_cert = t->o.tls_key = t->o.tls_ca = NULL;
    t->ev = *ev;
    pthread_mutex_init(&t->mu, NULL);
    pthread_cond_init(&t->cv, NULL);
    pthread_mutex_init(&t->bucket_mu, NULL);
    t->bucket_t = now_ns();
    if (pthread_create(&t->timer, NULL, timer_main, t) != 0) {
        free(t);
        return aria_fail(why, ARIA_ERR_INTERNAL, "cannot start the timer thread");
    }
    t->timer_started = 1;
    *out = t;
    return ARIA_OK;
}

static aria_err ws_listen(aria_transport *t, const char *url, aria_msg *why)
{
    if (t->n_ls >= sizeof t->ls / sizeof t->ls[0])
        return aria_fail(why, ARIA_ERR_RANGE, "too many listeners");
    listener *l = &t->ls[t->n_ls];
    memset(l, 0, sizeof *l);
    int rv = nng_stream_listener_alloc(&l->l, url);
    if (rv != 0)
        return aria_fail(why, ARIA_ERR_INVALID, "%s: %s", url, nng_strerror(rv));
    if (is_wss(url)) {
        aria_err e = tls_setup(t, 1, NULL, NULL, why);
        if (e != ARIA_OK) {
            nng_stream_listener_free(l->l);
            return e;
        }
        nng_stream_listener_set_ptr(l->l, NNG_OPT_TLS_CONFIG, t->tls_server);
    }
    if ((rv = set_common(t, l->l, 1)) != 0 || (rv = nng_stream_listener_listen(l->l)) != 0 ||
        (rv = nng_aio_alloc(&l->aio, NULL, NULL)) != 0) {
        nng_stream_listener_free(l->l);
        return aria_fail(why, rv == NNG_EADDRINUSE ? ARIA_ERR_EXISTS : ARIA_ERR_IO, "%s: %s", url,
                         nng_strerror(rv));
    }
    /* the URL with the real port */
    int port = 0;
    nng_stream_listener_get_int(l->l, NNG_OPT_TCP_BOUND_PORT, &port);
    const char *hs = strstr(url, "://") + 3;
    const char *colon = strrchr(hs, ':');
    const char *path = strchr(colon ? colon : hs, '/');
    snprintf(l->url, sizeof l->url, "%.*s:%d%s", (int)((colon ? colon : hs + strlen(hs)) - url),
             url, port, path ? path : "");
    void **arg = malloc(2 * sizeof *arg);
    arg[0] = t;
    arg[1] = l;
    if (pthread_create(&l->th, NULL, accept_main, arg) != 0) {
        free(arg);
        nng_aio_free(l->aio);
        nng_stream_listener_free(l->l);
        return aria_fail(why, ARIA_ERR_INTERNAL, "cannot start the accept thread");
    }
    l->started = 1;
    t->n_ls++;
    return ARIA_OK;
}

static aria_err ws_bound_url(aria_transport *t, size_t i, char *buf, size_t cap)
{
    if (i >= t->n_ls)
        return ARIA_ERR_NOT_FOUND;
    snprintf(buf, cap, "%s", t->ls[i].url);
    return ARIA_OK;
}

static aria_err ws_dial(aria_transport *t, const char *url, int redial, aria_msg *why)
{
    dialer_ent *d = calloc(1, sizeof *d);
    if (!d)
        return aria_fail(why, ARIA_ERR_NOMEM, "out of memory");
    d->t = t;
    d->redial = redial;
    snprintf(d->url, sizeof d->url, "%s", url);
    pthread_cond_init(&d->cv, NULL);
    int rv = nng_stream_dialer_alloc(&d->d, url);
    if (rv != 0) {
        free(d);
        return aria_fail(why, ARIA_ERR_INVALID, "%s: %s", url, nng_strerror(rv));
    }
    if (is_wss(url)) {
        char host[256];
        url_host(url, host, sizeof host);
        aria_err e = tls_setup(t, 0, host, &d->tls, why);
        if (e != ARIA_OK) {
            nng_stream_dialer_free(d->d);
            free(d);
            return e;
        }
        nng_stream_dialer_set_ptr(d->d, NNG_OPT_TLS_CONFIG, d->tls);
    }
    if ((rv = set_common(t, d->d, 0)) != 0 || (rv = nng_aio_alloc(&d->aio, NULL, NULL)) != 0) {
        nng_stream_dialer_free(d->d);
        if (d->tls)
            nng_tls_config_free(d->tls);
        free(d);
        return aria_fail(why, ARIA_ERR_INVALID, "%s: %s", url, nng_strerror(rv));
    }
    nng_aio_set_timeout(d->aio, 10000);
    pthread_mutex_lock(&t->mu);
    d->next = t->dials;
    t->dials = d;
    int ok = pthread_create(&d->th, NULL, dial_main, d) == 0;
    if (!ok) {
        t->dials = d->next;
        pthread_mutex_unlock(&t->mu);
        nng_aio_free(d->aio);
        nng_stream_dialer_free(d->d);
        if (d->tls)
            nng_tls_config_free(d->tls);
        free(d);
        return aria_fail(why, ARIA_ERR_INTERNAL, "cannot start the dialer thread");
    }
    pthread_mutex_unlock(&t->mu);
    return ARIA_OK;
}

/* Stops a dial entry: no more dials; its connection closes. Caller holds mu. */
static void dial_stop(dialer_ent *d)
{
    d->closed = 1;
    nng_aio_cancel(d->aio);
    if (d->conn)
        conn_close(d->conn, ARIA_OK, "closed locally");
    pthread_cond_broadcast(&d->cv);
}

/* Joins and frees the closed dialers that have finished, or with all set,
 * every closed one (waiting for its thread). Caller holds nothing. */
static void dial_reap_some(aria_transport *t, int all)
{
    for (;;) {
        pthread_mutex_lock(&t->mu);
        dialer_ent *done = NULL;
        for (dialer_ent **pp = &t->dials; *pp; pp = &(*pp)->next)
            if ((*pp)->closed && ((*pp)->done || all)) {
                done = *pp;
                *pp = done->next;
                break;
            }
        pthread_mutex_unlock(&t->mu);
        if (!done)
            return;
        pthread_join(done->th, NULL);
        nng_aio_free(done->aio);
        nng_stream_dialer_free(done->d);
        if (done->tls)
            nng_tls_config_free(done->tls);
        pthread_cond_destroy(&done->cv);
        free(done);
    }
}

static void dial_reap(aria_transport *t)
{
    dial_reap_some(t, 0);
}

static void ws_close_url(aria_transport *t, const char *url)
{
    pthread_mutex_lock(&t->mu);
    for (dialer_ent *d = t->dials; d; d = d->next)
        if (!strcmp(d->url, url) && !d->closed)
            dial_stop(d);
    pthread_mutex_unlock(&t->mu);
    dial_reap(t);
}

static void ws_destroy(aria_transport *t)
{
    if (!t)
        return;
    pthread_mutex_lock(&t->mu);
    t->stopping = 1;
    pthread_cond_broadcast(&t->cv);
    for (dialer_ent *d = t->dials; d; d = d->next)
        dial_stop(d);
    pthread_mutex_unlock(&t->mu);
    for (size_t i = 0; i < t->n_ls; i++) {
        nng_stream_listener_close(t->ls[i].l);
        nng_aio_cancel(t->ls[i].aio);
        if (t->ls[i].started)
            pthread_join(t->ls[i].th, NULL);
        nng_aio_free(t->ls[i].aio);
        nng_stream_listener_free(t->ls[i].l);
    }
    pthread_mutex_lock(&t->mu);
    for (dialer_ent *d = t->dials; d; d = d->next)
        d->closed = 1;
    pthread_mutex_unlock(&t->mu);
    dial_reap(t);
    pthread_mutex_lock(&t->mu);
    for (aria_conn *c = t->conns; c; c = c->next)
        conn_close(c, ARIA_OK, "transport stopping");
    while (t->n_conns)
        pthread_cond_wait(&t->cv, &t->mu);
    pthread_mutex_unlock(&t->mu);
    /* every connection is gone, so every dial thread ends now */
    dial_reap_some(t, 1);
    if (t->timer_started)
        pthread_join(t->timer, NULL);
    if (t->tls_server)
        nng_tls_config_free(t->tls_server);
    pthread_mutex_destroy(&t->mu);
    pthread_cond_destroy(&t->cv);
    pthread_mutex_destroy(&t->bucket_mu);
    free(t);
}

static aria_err ws_send(aria_conn *c, const void *data, size_t len, uint32_t kind)
{
    if (!c || !c->s)
        return ARIA_ERR_CLOSED;
    if (kind != ARIA_MSG_TEXT && kind != ARIA_MSG_BINARY)
        return ARIA_ERR_INVALID;
    return enqueue(c, kind == ARIA_MSG_TEXT ? ARIA_WS_TEXT : ARIA_WS_BINARY, data, len, 0);
}

/* Closes once what was queued before is sent (a "bye" reaches the peer);
 * the timer closes it anyway if that takes over 2 s. */
static void ws_close(aria_conn *c, const char *reason)
{
    if (!c || !c->s)
        return;
    pthread_mutex_lock(&c->mu);
    if (!c->drain && !c->closing) {
        c->drain = 1;
        c->drain_since = now_ns();
        snprintf(c->drain_reason, sizeof c->drain_reason, "%s",
                 reason ? reason : "closed locally");
    }
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
}

static aria_err ws_conn_info(aria_conn *c, aria_conn_info *out)
{
    if (!c || !out || out->hdr.struct_size < sizeof *out)
        return ARIA_ERR_INVALID;
    if (!c->s) {
        memset(out, 0, sizeof *out);
        return ARIA_ERR_CLOSED;
    }
    pthread_mutex_lock(&c->mu);
    *out = c->info;
    pthread_mutex_unlock(&c->mu);
    return ARIA_OK;
}

static void ws_set_user(aria_conn *c, void *user)
{
    if (c)
        c->user = user;
}

static void *ws_get_user(aria_conn *c)
{
    return c ? c->user : NULL;
}

static const aria_transport_vt ws_vt = {
    .hdr = {sizeof(aria_transport_vt), ARIA_TRANSPORT_VERSION},
    .name = "ws",
    .schemes = "ws,wss",
    .create = ws_create,
    .destroy = ws_destroy,
    .listen = ws_listen,
    .bound_url = ws_bound_url,
    .dial = ws_dial,
    .close_url = ws_close_url,
    .send = ws_send,
    .close = ws_close,
    .conn_info = ws_conn_info,
    .set_user = ws_set_user,
    .get_user = ws_get_user,
};

static aria_err ws_init(const aria_host *host, void **ctx, aria_msg *why)
{
    Dl_info self;
    if (!dladdr((void *)ws_init, &self) || !self.dli_fname ||
        !dlopen(self.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE))
        return aria_fail(why, ARIA_ERR_INTERNAL, "cannot pin the transport library: %s",
                         dlerror());
    H = host;
    *ctx = NULL;
    return ARIA_OK;
}

/* nng keeps worker threads for the process's life, and nng_fini cannot
 * stop them safely while its reaper still frees what a closed dialer left;
 * so this library (and libnng with it) stays mapped until the process
 * ends: the host's dlclose must not pull the code from under those
 * threads. */
static void ws_fini(void *ctx)
{
    (void)ctx;
    H = NULL;
}

static const aria_interface ifaces[] = {{ARIA_IFACE_TRANSPORT, 0, &ws_vt}};

static const aria_plugin_desc desc = {
    .abi_major = ARIA_ABI_MAJOR,
    .abi_minor = ARIA_ABI_MINOR,
    .struct_size = sizeof(aria_plugin_desc),
    .name = "transport-ws",
    .version = "1.0.0",
    .description = "WebSocket transport (nng): ws://, wss://, subprotocol aria.v2",
    .n_interfaces = 1,
    .interfaces = ifaces,
    .init = ws_init,
    .fini = ws_fini,
};

ARIA_PLUGIN(desc)
