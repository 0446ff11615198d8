/* p2p_probe — a peer that misbehaves on purpose, for tests/p2p.sh.
 *
 *   p2p_probe URL MODE
 *
 * Connects to a node's peer listener with the aria.v2 subprotocol (nng's
 * WebSocket stream) and plays one scenario. MODE good does the whole
 * handshake (and checks the node's AUTH) and asks for peers; the others send
 * one bad thing: forged (a HELLO signed by another key), stale (a HELLO ten
 * minutes old), version (major 3), idmismatch (an id that is not the key's),
 * replay (a good handshake, then the same HELLO bytes on a new connection),
 * early (an inference request before the handshake), oversize (a frame
 * header announcing 2 GiB), badframe (a reserved header byte set), junk
 * (a frame of random bytes), rawtcp (random bytes with no WebSocket at all).
 * Prints what happened, one line per connection: "ready ID peers N",
 * "closed: REASON" or "open"; exit status 0 when the node behaved as the
 * protocol says (refused the bad, accepted the good). */
#include "identity.h"
#include "proto.h"

#include <nng/nng.h>
#include <nng/supplemental/util/platform.h>

#include <arpa/inet.h>
#include <netdb.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Dialers live to the end (freed in main) so that no stream outlives one. */
static nng_stream_dialer *dialers[4];
static size_t n_dialers;

static nng_stream *dial(const char *url)
{
    nng_stream_dialer *d;
    nng_aio *aio;
    if (n_dialers == 4 || nng_stream_dialer_alloc(&d, url) != 0)
        return NULL;
    dialers[n_dialers++] = d;
    if (nng_aio_alloc(&aio, NULL, NULL) != 0)
        return NULL;
    nng_stream_dialer_set_string(d, NNG_OPT_WS_PROTOCOL, ARI_PROTO_SUBPROTOCOL);
    nng_aio_set_timeout(aio, 5000);
    nng_stream_dialer_dial(d, aio);
    nng_aio_wait(aio);
    nng_stream *s = nng_aio_result(aio) == 0 ? nng_aio_get_output(aio, 0) : NULL;
    nng_aio_free(aio);
    return s;
}

static int send_raw(nng_stream *s, const void *buf, size_t n)
{
    nng_aio *aio;
    if (nng_aio_alloc(&aio, NULL, NULL) != 0)
        return -1;
    nng_iov iov = {.iov_buf = (void *)buf, .iov_len = n};
    nng_aio_set_iov(aio, 1, &iov);
    nng_aio_set_timeout(aio, 5000);
    nng_stream_send(s, aio);
    nng_aio_wait(aio);
    int rv = nng_aio_result(aio);
    nng_aio_free(aio);
    return rv;
}

static int send_frame(nng_stream *s, uint8_t kind, const void *data, size_t n)
{
    uint8_t *b = malloc(8 + n);
    b[0] = kind;
    b[1] = b[2] = b[3] = 0;
    b[4] = (uint8_t)n;
    b[5] = (uint8_t)(n >> 8);
    b[6] = (uint8_t)(n >> 16);
    b[7] = (uint8_t)(n >> 24);
    memcpy(b + 8, data, n);
    int rv = send_raw(s, b, 8 + n);
    free(b);
    return rv;
}

/* Reads bytes until one whole TEXT frame is in; pings are answered. NULL
 * when the connection closed or timeout_ms passed. */
typedef struct rx {
    uint8_t *buf;
    size_t len, cap;
    int closed; /* the node closed the connection (not a timeout) */
} rx;

static char *recv_text(nng_stream *s, rx *r, int timeout_ms)
{
    for (;;) {
        while (r->len >= 8) {
            uint32_t n = (uint32_t)r->buf[4] | (uint32_t)r->buf[5] << 8 |
                         (uint32_t)r->buf[6] << 16 | (uint32_t)r->buf[7] << 24;
            if (r->len < 8 + (size_t)n)
                break;
            uint8_t kind = r->buf[0];
            char *out = NULL;
            if (kind == 0) {
                out = malloc(n + 1);
                memcpy(out, r->buf + 8, n);
                out[n] = '\0';
            } else if (kind == 2) {
                send_frame(s, 3, r->buf + 8, n);
            }
            memmove(r->buf, r->buf + 8 + n, r->len - 8 - n);
            r->len -= 8 + n;
            if (out)
                return out;
        }
        if (r->cap - r->len < 65536) {
            r->cap = r->cap * 2 + 65536;
            r->buf = realloc(r->buf, r->cap);
        }
        nng_aio *aio;
        nng_aio_alloc(&aio, NULL, NULL);
        nng_iov iov = {.iov_buf = r->buf + r->len, .iov_len = r->cap - r->len};
        nng_aio_set_iov(aio, 1, &iov);
        nng_aio_set_timeout(aio, timeout_ms);
        nng_stream_recv(s, aio);
        nng_aio_wait(aio);
        int rv = nng_aio_result(aio);
        size_t got = nng_aio_count(aio);
        nng_aio_free(aio);
        if (rv != 0) {
            if (getenv("P2P_PROBE_DEBUG"))
                fprintf(stderr, "p2p_probe: receive: %s\n", nng_strerror(rv));
            r->closed = rv != NNG_ETIMEDOUT;
            return NULL;
        }
        r->len += got;
    }
}

/* Waits for a PONG frame; 1 when one came. */
static int recv_pong(nng_stream *s, rx *r, int timeout_ms)
{
    for (;;) {
        while (r->len >= 8) {
            uint32_t n = (uint32_t)r->buf[4] | (uint32_t)r->buf[5] << 8 |
                         (uint32_t)r->buf[6] << 16 | (uint32_t)r->buf[7] << 24;
            if (r->len < 8 + (size_t)n)
                break;
            int pong = r->buf[0] == 3;
            memmove(r->buf, r->buf + 8 + n, r->len - 8 - n);
            r->len -= 8 + n;
            if (pong)
                return 1;
        }
        if (r->cap - r->len < 65536) {
            r->cap = r->cap * 2 + 65536;
            r->buf = realloc(r->buf, r->cap);
        }
        nng_aio *aio;
        nng_aio_alloc(&aio, NULL, NULL);
        nng_iov iov = {.iov_buf = r->buf + r->len, .iov_len = r->cap - r->len};
        nng_aio_set_iov(aio, 1, &iov);
        nng_aio_set_timeout(aio, timeout_ms);
        nng_stream_recv(s, aio);
        nng_aio_wait(aio);
        int rv = nng_aio_result(aio);
        r->len += nng_aio_count(aio);
        nng_aio_free(aio);
        if (rv != 0)
            return 0;
    }
}

static json_t *recv_msg(nng_stream *s, rx *r, int timeout_ms)
{
    char *t = recv_text(s, r, timeout_ms);
    if (!t)
        return NULL;
    json_t *o = json_loads(t, 0, NULL);
    free(t);
    return o;
}

/* After a bad message: the node should say bye (with a reason) and close. */
static int expect_closed(nng_stream *s, rx *r)
{
    char reason[512] = "";
    for (;;) {
        json_t *m = recv_msg(s, r, 5000);
        if (!m)
            break;
        const char *t = json_string_value(json_object_get(m, "type"));
        if (getenv("P2P_PROBE_DEBUG"))
            fprintf(stderr, "p2p_probe: got '%s'\n", t ? t : "?");
        if (t && !strcmp(t, "bye"))
            snprintf(reason, sizeof reason, "%s",
                     json_string_value(json_object_get(m, "reason")));
        json_decref(m);
    }
    if (!r->closed) {
        /* nng does not always report a close that arrived between two
         * receives: a live node answers a PING, a closed one cannot */
        uint64_t v = 42;
        int alive = send_frame(s, 2, &v, sizeof v) == 0 && recv_pong(s, r, 1000);
        if (alive) {
            printf("open\n");
            return 1;
        }
    }
    printf("closed: %s\n", reason[0] ? reason : "(no reason sent)");
    return 0;
}

typedef struct key {
    uint8_t pk[32], sk[64];
    char id[41];
} key;

static void new_key(key *k)
{
    crypto_sign_keypair(k->pk, k->sk);
    ari_node_id(k->pk, k->id);
}

/* A HELLO body of k, with a fresh nonce (returned in nonce). */
static json_t *hello_body(const key *k, const char *id, const char *proto, int64_t ts,
                          uint8_t nonce[32])
{
    char pk[65], nh[65];
    randombytes_buf(nonce, 32);
    ari_hex(k->pk, 32, pk);
    ari_hex(nonce, 32, nh);
    return json_pack("{s:s,s:s,s:s,s:s,s:I,s:i,s:s,s:[],s:[]}", "proto", proto, "id", id, "pk",
                     pk, "nonce", nh, "ts", (json_int_t)ts, "seq", 1, "name", "p2p-probe",
                     "listen", "models");
}

static int send_text(nng_stream *s, const char *t)
{
    return send_frame(s, 0, t, strlen(t));
}

/* The whole handshake as key k; on success fills their id. The sealed
 * HELLO sent is returned in *hello_out (caller frees) when asked. */
static int handshake(nng_stream *s, rx *r, const key *k, char their_id[41], char **hello_out)
{
    uint8_t nonce[32];
    json_t *b = hello_body(k, k->id, "2.0", ari_wall_ms(), nonce);
    char *hello = ari_proto_seal("hello", b, k->sk);
    json_decref(b);
    send_text(s, hello);
    if (hello_out)
        *hello_out = hello;
    else
        free(hello);
    /* their HELLO */
    char *t = recv_text(s, r, 5000);
    if (!t)
        return -1;
    ari_msg_in m;
    aria_msg why;
    ari_hello h;
    if (ari_proto_parse(t, strlen(t), &m, &why) != ARIA_OK || strcmp(m.type, "hello") ||
        ari_proto_open(&m, ari_wall_ms(), &h, &why) != ARIA_OK) {
        fprintf(stderr, "p2p_probe: the node's HELLO does not verify: %s\n", why.text);
        free(t);
        return -1;
    }
    free(t);
    json_decref(m.obj);
    memcpy(their_id, h.id, 41);
    char sig[129];
    ari_proto_auth_sign(k->sk, h.nonce, h.id, k->id, sig);
    char msg[300];
    snprintf(msg, sizeof msg, "{\"type\":\"auth\",\"sig\":\"%s\"}", sig);
    send_text(s, msg);
    /* their AUTH, over our nonce */
    json_t *a = recv_msg(s, r, 5000);
    int ok = a && !strcmp(json_string_value(json_object_get(a, "type")), "auth") &&
             ari_proto_auth_check(h.pk, json_string_value(json_object_get(a, "sig")), nonce,
                                  k->id, h.id) == 0;
    json_decref(a);
    ari_hello_free(&h);
    if (!ok)
        fprintf(stderr, "p2p_probe: the node's AUTH does not prove its key\n");
    return ok ? 0 : -1;
}

static int mode_good(const char *url)
{
    nng_stream *s = dial(url);
    if (!s)
        return fprintf(stderr, "p2p_probe: cannot connect to %s\n", url), 1;
    rx r = {0};
    key k;
    new_key(&k);
    char id[41];
    if (handshake(s, &r, &k, id, NULL) != 0)
        return 1;
    send_text(s, "{\"type\":\"peers_get\"}");
    for (;;) {
        json_t *m = recv_msg(s, &r, 5000);
        if (!m)
            return fprintf(stderr, "p2p_probe: no answer to peers_get\n"), 1;
        if (!strcmp(json_string_value(json_object_get(m, "type")), "peers")) {
            printf("ready %s peers %zu\n", id, json_array_size(json_object_get(m, "peers")));
            json_decref(m);
            break;
        }
        json_decref(m);
    }
    nng_stream_close(s);
    nng_stream_free(s);
    free(r.buf);
    return 0;
}

static int mode_bad_hello(const char *url, const char *mode)
{
    nng_stream *s = dial(url);
    if (!s)
        return fprintf(stderr, "p2p_probe: cannot connect to %s\n", url), 1;
    rx r = {0};
    key k, other;
    new_key(&k);
    new_key(&other);
    uint8_t nonce[32];
    const char *proto = !strcmp(mode, "version") ? "3.0" : "2.0";
    int64_t ts = ari_wall_ms() - (!strcmp(mode, "stale") ? 600000 : 0);
    const char *id = !strcmp(mode, "idmismatch") ? other.id : k.id;
    json_t *b = hello_body(&k, id, proto, ts, nonce);
    /* forged: signed by another key than the one it names */
    char *hello = ari_proto_seal("hello", b, !strcmp(mode, "forged") ? other.sk : k.sk);
    json_decref(b);
    send_text(s, hello);
    free(hello);
    int rv = expect_closed(s, &r);
    nng_stream_free(s);
    free(r.buf);
    return rv;
}

static int mode_replay(const char *url)
{
    nng_stream *s = dial(url);
    if (!s)
        return 1;
    rx r = {0};
    key k;
    new_key(&k);
    char id[41];
    char *hello = NULL;
    if (handshake(s, &r, &k, id, &hello) != 0)
        return 1;
    printf("ready %s\n", id);
    nng_stream_close(s);
    nng_stream_free(s);
    free(r.buf);
    s = dial(url);
    if (!s)
        return 1;
    rx r2 = {0};
    send_text(s, hello);
    free(hello);
    int rv = expect_closed(s, &r2);
    nng_stream_free(s);
    free(r2.buf);
    return rv;
}

static int mode_frame(const char *url, const char *mode)
{
    nng_stream *s = dial(url);
    if (!s)
        return 1;
    rx r = {0};
    if (!strcmp(mode, "early")) {
        send_text(s, "{\"type\":\"infer\",\"rid\":\"x\",\"endpoint\":\"completion\","
                     "\"request\":{\"prompt\":\"hi\"}}");
    } else if (!strcmp(mode, "oversize")) {
        uint8_t h[8 + 64] = {0, 0, 0, 0, 0, 0, 0, 0x80}; /* 2 GiB announced */
        send_raw(s, h, sizeof h);
    } else if (!strcmp(mode, "badframe")) {
        uint8_t h[8 + 2] = {0, 7, 0, 0, 2, 0, 0, 0, '{', '}'};
        send_raw(s, h, sizeof h);
    } else { /* junk */
        uint8_t junk[4096];
        randombytes_buf(junk, sizeof junk);
        send_frame(s, 0, junk, sizeof junk);
    }
    int rv = expect_closed(s, &r);
    nng_stream_free(s);
    free(r.buf);
    return rv;
}

static int mode_rawtcp(const char *url)
{
    char host[256];
    int port = 0;
    if (sscanf(url, "ws://%255[^:]:%d", host, &port) != 2)
        return fprintf(stderr, "p2p_probe: rawtcp needs ws://HOST:PORT\n"), 2;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, host, &a.sin_addr);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0)
        return perror("connect"), 1;
    uint8_t junk[8192];
    randombytes_buf(junk, sizeof junk);
    ssize_t w = write(fd, junk, sizeof junk);
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char b[4096];
    ssize_t n;
    size_t total = 0;
    while ((n = read(fd, b, sizeof b)) > 0)
        total += (size_t)n;
    close(fd);
    printf("closed: %s after %zd bytes sent, %zu received\n", n == 0 ? "eof" : "reset or timeout",
           w, total);
    return n == 0 || n < 0 ? 0 : 1;
}

static int run(const char *url, const char *mode);

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0); /* the verdict is out even if a check aborts */
    if (argc != 3 || !strcmp(argv[1], "--help")) {
        fprintf(stderr, "usage: p2p_probe URL good|forged|stale|version|idmismatch|replay|early|"
                        "oversize|badframe|junk|rawtcp\n");
        return 2;
    }
    if (sodium_init() < 0)
        return 1;
    int rv = run(argv[1], argv[2]);
    for (size_t i = 0; i < n_dialers; i++)
        nng_stream_dialer_free(dialers[i]);
    /* no nng_fini: it races nng's reaper after a failed dial */
    return rv;
}

static int run(const char *url, const char *mode)
{
    if (!strcmp(mode, "good"))
        return mode_good(url);
    if (!strcmp(mode, "forged") || !strcmp(mode, "stale") || !strcmp(mode, "version") ||
        !strcmp(mode, "idmismatch"))
        return mode_bad_hello(url, mode);
    if (!strcmp(mode, "replay"))
        return mode_replay(url);
    if (!strcmp(mode, "early") || !strcmp(mode, "oversize") || !strcmp(mode, "badframe") ||
        !strcmp(mode, "junk"))
        return mode_frame(url, mode);
    if (!strcmp(mode, "rawtcp"))
        return mode_rawtcp(url);
    fprintf(stderr, "p2p_probe: unknown mode '%s'\n", mode);
    return 2;
}
