/* test_transport.c — the conformance suite of the transport vtable
 * (aria/transport.h), run against every transport plugin that loads from the
 * build's plugin directory, in one process over loopback: events, message
 * integrity and order, size limits, close, redial with backoff, a busy
 * connection that must not be taken for a dead one, and a subprotocol that
 * does not match. */
#include "node_world.h"

#include "aria/transport.h"

#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

static node_world W;
static const aria_transport_vt *VT;
static uint64_t RATE; /* max_bytes_per_sec of the transports make() creates */

/* ---- one side: what its events saw ---------------------------------------- */

typedef struct side {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    aria_conn *conn; /* the open connection, NULL once closed */
    int opens, closes, inbound;
    aria_err last_why;
    char last_detail[256];
    /* received messages: checked in order against the sender's sequence */
    uint64_t got, bad, bytes;
    uint32_t next_seq;
} side;

static void side_init(side *s)
{
    memset(s, 0, sizeof *s);
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
}

static void side_fini(side *s)
{
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
}

static void on_open(void *u, aria_conn *c, int inbound)
{
    side *s = u;
    pthread_mutex_lock(&s->mu);
    s->conn = c;
    s->opens++;
    s->inbound = inbound;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

/* A message's bytes are a function of its sequence number, its length and
 * its kind, so the receiver can check each one without a copy. */
static uint8_t pattern(uint32_t seq, size_t i)
{
    return (uint8_t)(seq * 131u + i * 7u + (i >> 8));
}

static size_t msg_len(uint32_t seq)
{
    /* sizes across 0, tiny, header-sized, the 256 KiB batch edge, large */
    static const size_t edge[] = {0, 1, 7, 8, 9, 4095, 65536, 262136, 262144, 262145, 1 << 20};
    if (seq % 17 == 0)
        return edge[(seq / 17) % (sizeof edge / sizeof edge[0])];
    uint32_t x = seq * 2654435761u;
    return 4 + (x >> 7) % 12000;
}

static void on_message(void *u, aria_conn *c, const void *data, size_t len, uint32_t kind)
{
    (void)c;
    side *s = u;
    const uint8_t *p = data;
    pthread_mutex_lock(&s->mu);
    uint32_t seq = s->next_seq++;
    int ok = len == msg_len(seq) && kind == (seq % 3 ? ARIA_MSG_BINARY : ARIA_MSG_TEXT);
    for (size_t i = 0; ok && i < len; i++)
        ok = p[i] == pattern(seq, i);
    s->got++;
    s->bad += !ok;
    s->bytes += len;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

static void on_close(void *u, aria_conn *c, aria_err why, const char *detail)
{
    side *s = u;
    pthread_mutex_lock(&s->mu);
    if (s->conn == c)
        s->conn = NULL;
    s->closes++;
    s->last_why = why;
    snprintf(s->last_detail, sizeof s->last_detail, "%s", detail ? detail : "");
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

static aria_transport *make(side *s, const char *subprotocol, uint32_t ping_ms, uint32_t dead_ms)
{
    aria_transport_opts o = {.hdr = {sizeof o, ARIA_TRANSPORT_VERSION},
                             .subprotocol = subprotocol,
                             .max_message_bytes = 2u << 20,
                             .ping_interval_ms = ping_ms,
                             .dead_after_ms = dead_ms,
                             .redial_min_ms = 100,
                             .redial_max_ms = 400,
                             .max_bytes_per_sec = RATE};
    aria_transport_events ev = {
        .user = s, .on_open = on_open, .on_message = on_message, .on_close = on_close};
    aria_transport *t = NULL;
    aria_msg why = {{0}};
    assert_int_equal(VT->create(NULL, &o, &ev, &t, &why), ARIA_OK);
    assert_non_null(t);
    return t;
}

/* Waits until *field (under s->mu) reaches want, at most ms; its value. */
static long wait_for(side *s, const int *ifield, const uint64_t *ufield, long want, int ms)
{
    struct timespec end;
    clock_gettime(CLOCK_REALTIME, &end);
    end.tv_sec += ms / 1000;
    end.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (end.tv_nsec >= 1000000000L) {
        end.tv_sec++;
        end.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&s->mu);
    long v;
    while ((v = ifield ? *ifield : (long)*ufield) < want &&
           pthread_cond_timedwait(&s->cv, &s->mu, &end) == 0) {
    }
    v = ifield ? *ifield : (long)*ufield;
    pthread_mutex_unlock(&s->mu);
    return v;
}

/* A listening server side and a client dialed to it, both open. */
typedef struct pair {
    side a, b; /* a dials, b listens */
    aria_transport *ta, *tb;
    char url[256];
} pair;

static void pair_open(pair *p, uint32_t ping_ms, uint32_t dead_ms)
{
    side_init(&p->a);
    side_init(&p->b);
    p->tb = make(&p->b, "aria.v2", ping_ms, dead_ms);
    p->ta = make(&p->a, "aria.v2", ping_ms, dead_ms);
    aria_msg why = {{0}};
    assert_int_equal(VT->listen(p->tb, "ws://127.0.0.1:0", &why), ARIA_OK);
    assert_int_equal(VT->bound_url(p->tb, 0, p->url, sizeof p->url), ARIA_OK);
    assert_null(strstr(p->url, ":0/"));
    assert_int_not_equal(strcmp(p->url + strlen(p->url) - 2, ":0"), 0);
    char none[8];
    assert_int_equal(VT->bound_url(p->tb, 1, none, sizeof none), ARIA_ERR_NOT_FOUND);
    assert_int_equal(VT->dial(p->ta, p->url, 0, &why), ARIA_OK);
    assert_int_equal(wait_for(&p->a, &p->a.opens, NULL, 1, 5000), 1);
    assert_int_equal(wait_for(&p->b, &p->b.opens, NULL, 1, 5000), 1);
}

static void pair_close(pair *p)
{
    VT->destroy(p->ta);
    VT->destroy(p->tb);
    side_fini(&p->a);
    side_fini(&p->b);
}

/* Sends messages first..first+n-1 (waiting while the queue is full). */
static void send_seq(side *s, uint32_t first, uint32_t n)
{
    size_t cap = 1 << 20;
    uint8_t *buf = malloc(cap);
    assert_non_null(buf);
    for (uint32_t seq = first; seq < first + n; seq++) {
        size_t len = msg_len(seq);
        for (size_t i = 0; i < len; i++)
            buf[i] = pattern(seq, i);
        aria_err e;
        int tries = 0;
        do {
            pthread_mutex_lock(&s->mu);
            aria_conn *c = s->conn;
            e = c ? VT->send(c, buf, len, seq % 3 ? ARIA_MSG_BINARY : ARIA_MSG_TEXT)
                  : ARIA_ERR_CLOSED;
            pthread_mutex_unlock(&s->mu);
            if (e == ARIA_ERR_BUSY)
                usleep(200);
        } while (e == ARIA_ERR_BUSY && ++tries < 50000);
        assert_int_equal(e, ARIA_OK);
    }
    free(buf);
}

/* ---- the cases -------------------------------------------------------------- */

static void test_events_and_info(void **state)
{
    (void)state;
    pair p;
    pair_open(&p, 20000, 30000);
    assert_int_equal(p.a.inbound, 0);
    assert_int_equal(p.b.inbound, 1);
    aria_conn_info ci = {.hdr = {sizeof ci, 1}};
    pthread_mutex_lock(&p.a.mu);
    assert_int_equal(VT->conn_info(p.a.conn, &ci), ARIA_OK);
    VT->set_user(p.a.conn, &p);
    assert_ptr_equal(VT->get_user(p.a.conn), &p);
    pthread_mutex_unlock(&p.a.mu);
    assert_string_equal(ci.url, p.url);
    assert_int_equal(ci.inbound, 0);
    assert_non_null(strstr(ci.remote, "127.0.0.1:"));
    pair_close(&p);
    /* destroy reported the close on both sides */
    assert_int_equal(p.a.closes, 1);
    assert_int_equal(p.b.closes, 1);
}

/* Both directions at once, every size class, order and bytes checked. */
static void test_integrity_and_order(void **state)
{
    (void)state;
    pair p;
    pair_open(&p, 20000, 30000);
    const uint32_t n = 1500;
    send_seq(&p.a, 0, n);
    send_seq(&p.b, 0, n);
    assert_int_equal(wait_for(&p.b, NULL, &p.b.got, n, 30000), n);
    assert_int_equal(wait_for(&p.a, NULL, &p.a.got, n, 30000), n);
    assert_int_equal(p.a.bad, 0);
    assert_int_equal(p.b.bad, 0);
    aria_conn_info ci = {.hdr = {sizeof ci, 1}};
    pthread_mutex_lock(&p.b.mu);
    VT->conn_info(p.b.conn, &ci);
    pthread_mutex_unlock(&p.b.mu);
    assert_true(ci.bytes_in >= p.b.bytes);
    assert_true(ci.bytes_out >= p.a.bytes);
    pair_close(&p);
}

static void test_size_limit(void **state)
{
    (void)state;
    pair p;
    pair_open(&p, 20000, 30000);
    size_t big = (2u << 20) + 1;
    uint8_t *buf = calloc(1, big);
    assert_non_null(buf);
    pthread_mutex_lock(&p.a.mu);
    assert_int_equal(VT->send(p.a.conn, buf, big, ARIA_MSG_BINARY), ARIA_ERR_RANGE);
    assert_int_equal(VT->send(p.a.conn, buf, 4, 7), ARIA_ERR_INVALID);
    pthread_mutex_unlock(&p.a.mu);
    free(buf);
    /* the connection is still good */
    send_seq(&p.a, 0, 20);
    assert_int_equal(wait_for(&p.b, NULL, &p.b.got, 20, 5000), 20);
    assert_int_equal(p.b.bad, 0);
    pair_close(&p);
}

/* close() sends what was queued before it, then both sides see the close. */
static void test_close_drains(void **state)
{
    (void)state;
    pair p;
    pair_open(&p, 20000, 30000);
    const uint32_t nmsg = 200;
    send_seq(&p.a, 0, nmsg);
    pthread_mutex_lock(&p.a.mu);
    VT->close(p.a.conn, "test done");
    pthread_mutex_unlock(&p.a.mu);
    assert_int_equal(wait_for(&p.b, &p.b.closes, NULL, 1, 5000), 1);
    assert_int_equal(wait_for(&p.a, &p.a.closes, NULL, 1, 5000), 1);
    assert_int_equal(p.b.got, nmsg);
    assert_int_equal(p.b.bad, 0);
    assert_null(p.a.conn);
    assert_null(p.b.conn);
    pair_close(&p);
}

/* [consent] max_bandwidth_mbps: what a transport sends stays under its cap
 * (a token bucket whose burst is a quarter second plus 64 KiB); the bytes
 * still arrive whole and in order. An upper bound on the rate, so a slow
 * machine cannot make it fail. */
static void test_bandwidth_cap(void **state)
{
    (void)state;
    RATE = 8u << 20;
    pair p;
    pair_open(&p, 20000, 30000);
    RATE = 0;
    const uint32_t n = 1200;
    uint64_t total = 0;
    for (uint32_t i = 0; i < n; i++)
        total += msg_len(i);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    send_seq(&p.a, 0, n);
    assert_int_equal(wait_for(&p.b, NULL, &p.b.got, n, 60000), n);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    assert_int_equal(p.b.bad, 0);
    double sec = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    double burst = (double)(8u << 20) / 4 + 65536, least = ((double)total - burst) / (8u << 20);
    printf("bandwidth cap 8 MiB/s: %.1f MiB in %.2f s (at least %.2f s)\n",
           (double)total / (1 << 20), sec, least);
    assert_true(sec >= least * 0.95);
    pair_close(&p);
}

/* Traffic in one direction only for longer than dead_after: the pings and
 * the data keep both ends alive (a connection busy receiving was once held
 * dead by a clock read racing the reader). */
static void test_busy_is_not_dead(void **state)
{
    (void)state;
    pair p;
    pair_open(&p, 40, 250);
    uint32_t seq = 0;
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    do {
        send_seq(&p.a, seq, 50);
        seq += 50;
        clock_gettime(CLOCK_MONOTONIC, &t);
    } while ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 < 1500);
    assert_int_equal(wait_for(&p.b, NULL, &p.b.got, seq, 10000), seq);
    usleep(600 * 1000); /* idle now: pings alone must keep it open */
    assert_int_equal(p.a.closes, 0);
    assert_int_equal(p.b.closes, 0);
    assert_int_equal(p.b.bad, 0);
    aria_conn_info ci = {.hdr = {sizeof ci, 1}};
    pthread_mutex_lock(&p.a.mu);
    VT->conn_info(p.a.conn, &ci);
    pthread_mutex_unlock(&p.a.mu);
    assert_true(ci.rtt_us > 0); /* a pong came back */
    pair_close(&p);
}

/* A dial to a port nobody listens on fails, is retried with backoff, and
 * connects once a listener appears there. */
static void test_redial(void **state)
{
    (void)state;
    side a, b;
    side_init(&a);
    side_init(&b);
    aria_transport *tb = make(&b, "aria.v2", 20000, 30000);
    aria_transport *ta = make(&a, "aria.v2", 20000, 30000);
    aria_msg why = {{0}};
    /* a free port: listen, note it, stop */
    char url[256];
    {
        side tmp;
        side_init(&tmp);
        aria_transport *tt = make(&tmp, "aria.v2", 20000, 30000);
        assert_int_equal(VT->listen(tt, "ws://127.0.0.1:0", &why), ARIA_OK);
        assert_int_equal(VT->bound_url(tt, 0, url, sizeof url), ARIA_OK);
        VT->destroy(tt);
        side_fini(&tmp);
    }
    assert_int_equal(VT->dial(ta, url, 1, &why), ARIA_OK);
    /* 100 ms, 200, 400, 400... (+ up to 50% jitter): 3 failures in 2 s */
    assert_true(wait_for(&a, &a.closes, NULL, 3, 4000) >= 3);
    assert_int_equal(a.opens, 0);
    assert_int_equal(VT->listen(tb, url, &why), ARIA_OK);
    assert_int_equal(wait_for(&a, &a.opens, NULL, 1, 5000), 1);
    assert_int_equal(wait_for(&b, &b.opens, NULL, 1, 5000), 1);
    /* the listener's side closes it: the dialer redials by itself */
    pthread_mutex_lock(&b.mu);
    VT->close(b.conn, "go away");
    pthread_mutex_unlock(&b.mu);
    assert_int_equal(wait_for(&a, &a.opens, NULL, 2, 5000), 2);
    /* close_url stops it for good */
    VT->close_url(ta, url);
    int closes = wait_for(&b, &b.closes, NULL, 2, 5000);
    assert_int_equal(closes, 2);
    usleep(800 * 1000);
    assert_int_equal(a.opens, 2);
    VT->destroy(ta);
    VT->destroy(tb);
    side_fini(&a);
    side_fini(&b);
}

static void test_subprotocol_mismatch(void **state)
{
    (void)state;
    side a, b;
    side_init(&a);
    side_init(&b);
    aria_transport *tb = make(&b, "aria.v2", 20000, 30000);
    aria_transport *ta = make(&a, "other.v1", 20000, 30000);
    aria_msg why = {{0}};
    char url[256];
    assert_int_equal(VT->listen(tb, "ws://127.0.0.1:0", &why), ARIA_OK);
    assert_int_equal(VT->bound_url(tb, 0, url, sizeof url), ARIA_OK);
    assert_int_equal(VT->dial(ta, url, 0, &why), ARIA_OK);
    assert_int_equal(wait_for(&a, &a.closes, NULL, 1, 5000), 1);
    usleep(200 * 1000);
    assert_int_equal(a.opens, 0);
    assert_int_equal(b.opens, 0);
    VT->destroy(ta);
    VT->destroy(tb);
    side_fini(&a);
    side_fini(&b);
}

static void test_bad_urls(void **state)
{
    (void)state;
    side a;
    side_init(&a);
    aria_transport *ta = make(&a, "aria.v2", 20000, 30000);
    aria_msg why = {{0}};
    assert_int_not_equal(VT->listen(ta, "ws://no such host:1", &why), ARIA_OK);
    assert_true(why.text[0] != '\0');
    why.text[0] = '\0';
    assert_int_not_equal(VT->dial(ta, "http://127.0.0.1:1", 0, &why), ARIA_OK);
    assert_true(why.text[0] != '\0');
    /* wss:// without a certificate cannot listen, and says what is missing */
    why.text[0] = '\0';
    assert_int_not_equal(VT->listen(ta, "wss://127.0.0.1:0", &why), ARIA_OK);
    assert_non_null(strstr(why.text, "tls_cert"));
    VT->destroy(ta);
    side_fini(&a);
}

int main(void)
{
    if (node_world_open(&W) != 0) {
        fprintf(stderr, "test_transport: cannot load %s\n", ARIA_PLUGIN_DIR);
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_events_and_info),   cmocka_unit_test(test_integrity_and_order),
        cmocka_unit_test(test_size_limit),        cmocka_unit_test(test_close_drains),
        cmocka_unit_test(test_busy_is_not_dead),  cmocka_unit_test(test_redial),
        cmocka_unit_test(test_subprotocol_mismatch), cmocka_unit_test(test_bad_urls),
        cmocka_unit_test(test_bandwidth_cap),
    };
    int failed = 0, ran = 0;
    for (size_t i = 0;; i++) {
        const ari_iface *f = ari_registry_iface(&W.reg, ARIA_IFACE_TRANSPORT, i);
        if (!f)
            break;
        VT = f->vt;
        char group[64];
        snprintf(group, sizeof group, "transport %s", VT->name);
        failed += _cmocka_run_group_tests(group, tests, sizeof tests / sizeof tests[0], NULL, NULL);
        ran++;
    }
    node_world_close(&W);
    if (!ran) {
        fprintf(stderr, "test_transport: no transport plugin in %s\n", ARIA_PLUGIN_DIR);
        return 1;
    }
    return failed ? 1 : 0;
}
