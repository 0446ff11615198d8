/* peers.c — the peer layer (see peers.h and docs/protocol.md). */
#include "peers.h"

#include "aria/detector.h"
#include "aria/transport.h"
#include "consent.h"
#include "cpu.h"
#include "pipeline.h"
#include "provenance.h"
#include "host.h"
#include "log.h"
#include "proto.h"
#include "registry.h"
#include "router.h"

#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define HANDSHAKE_NS (10ull * 1000000000ull)
#define EXCHANGE_NS (60ull * 1000000000ull)
#define LOAD_EVERY_NS (250ull * 1000000ull)
#define MAX_PENDING 64
#define SEEN_CAP 16384
#define MAX_LISTEN 8

/* An inference this node sent to a peer, waiting for its messages. */
typedef struct rreq {
    struct rreq *next;
    struct peer *owner; /* NULL once the peer is gone */
    char rid[ARI_PROTO_MAX_RID + 1];
    json_t **ev;
    size_t n_ev, cap_ev, head;
    int lost;
    pthread_cond_t cv;
} rreq;

/* An inference a peer asked this node for. */
typedef struct ijob {
    struct ijob *next;
    ari_peers *p;
    struct peer *from; /* NULL once the peer is gone */
    char rid[ARI_PROTO_MAX_RID + 1];
    char peer_id[ARI_ID_LEN + 1];
    volatile int cancel;
    int answered;
    json_t *msg;
} ijob;

enum { HS = 0, READY = 1 };

typedef struct peer {
    struct peer *next;
    aria_conn *conn;
    int inbound, state, got_hello, got_auth;
    uint8_t my_nonce[32];
    char id[ARI_ID_LEN + 1];
    uint8_t pk[32];
    char name[65];
    char remote[128];
    char url[260];      /* the URL this node dialed; "" for inbound */
    char dial_url[260]; /* how other nodes reach the peer; "" unknown */
    char expect_id[ARI_ID_LEN + 1];
    json_t *caps; /* the peer's HELLO/CAPS body */
    int64_t seq;
    uint32_t active, slots, queue;
    uint64_t t_open, t_ready, t_exchange;
    rreq *reqs;
} peer;

struct ari_peers {
    ari_ctx *c;
    ari_identity id;
    ari_peer_host h;
    const aria_transport_vt *vt;
    aria_transport *t;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    peer *peers;
    size_t max_peers;
    struct {
        uint8_t nonce[32];
        int64_t exp_ms;
    } *seen;
    size_t n_seen, seen_next;
    struct {
        char url[260];
        char id[ARI_ID_LEN + 1];
        uint64_t t;
    } pend[MAX_PENDING];
    size_t n_pend;
    int64_t seq;
    uint32_t sent_active, sent_slots, sent_queue;
    ijob *jobs;
    size_t n_jobs, max_jobs;
    uint64_t rid_seq;
    pthread_t maint;
    int maint_started, stop, stopped, caps_dirty;
    char listen[MAX_LISTEN][260];
    size_t n_listen;
    ari_pipes *pipes;
    ari_prov *prov; /* the ledger's peer messages go there; may be NULL */
    struct {
        uint8_t pk[32];
        double rep;
    } reps[256]; /* reputations from spot-checks, by key (1 when absent) */
    size_t n_reps;
};

/* ---- helpers -------------------------------------------------------------- */

/* Who a connection is, for log lines: the id when known, else the address. */
static void who(const peer *pe, char *buf, size_t cap)
{
    if (pe->got_hello)
        snprintf(buf, cap, "peer %.12s (%s%s%s)", pe->id, pe->name[0] ? pe->name : "",
                 pe->name[0] ? ", " : "", pe->remote);
    else
        snprintf(buf, cap, "peer at %s", pe->remote[0] ? pe->remote : "?");
}

/* Sends a JSON message on a connection. Caller holds mu (so conn is alive). */
static aria_err send_obj(ari_peers *p, aria_conn *c, json_t *o)
{
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (!s)
        return ARIA_ERR_NOMEM;
    aria_err e = p->vt->send(c, s, strlen(s), ARIA_MSG_TEXT);
    free(s);
    return e;
}

static void refuse(ari_peers *p, peer *pe, const char *reason)
{
    char w[256];
    who(pe, w, sizeof w);
    ari_warn("peers", "%s refused: %s", w, reason);
    json_t *bye = json_pack("{s:s,s:s}", "type", "bye", "reason", reason);
    if (bye)
        send_obj(p, pe->conn, bye);
    p->vt->close(pe->conn, reason);
    pe->state = -1; /* ignore anything else it sends */
}

static peer *find_ready(ari_peers *p, const char *id)
{
    for (peer *pe = p->peers; pe; pe = pe->next)
        if (pe->state == READY && !strcmp(pe->id, id))
            return pe;
    return NULL;
}

static size_t count_peers(ari_peers *p)
{
    size_t n = 0;
    for (peer *pe = p->peers; pe; pe = pe->next)
        if (pe->state >= HS)
            n++;
    return n;
}

static int seen_nonce(ari_peers *p, const uint8_t nonce[32], int64_t now_ms)
{
    for (size_t i = 0; i < p->n_seen; i++)
        if (p->seen[i].exp_ms > now_ms && !memcmp(p->seen[i].nonce, nonce, 32))
            return 1;
    size_t k = p->n_seen < SEEN_CAP ? p->n_seen++ : p->seen_next++ % SEEN_CAP;
    memcpy(p->seen[k].nonce, nonce, 32);
    p->seen[k].exp_ms = now_ms + 2 * ARI_PROTO_MAX_SKEW_MS;
    return 0;
}

/* The URL other nodes use to reach a peer: its first advertised listen URL,
 * with a wildcard host replaced by the address it connects from. */
static void derive_dial_url(peer *pe)
{
    if (pe->url[0]) {
        snprintf(pe->dial_url, sizeof pe->dial_url, "%s", pe->url);
        return;
    }
    const char *u = json_string_value(json_array_get(json_object_get(pe->caps, "listen"), 0));
    pe->dial_url[0] = '\0';
    if (!u)
        return;
    const char *hs = strstr(u, "://");
    if (!hs)
        return;
    hs += 3;
    const char *port = strrchr(hs, ':');
    if (!port)
        return;
    char host[128];
    snprintf(host, sizeof host, "%.*s", (int)(port - hs), hs);
    if (strcmp(host, "0.0.0.0") && strcmp(host, "[::]") && strcmp(host, "::")) {
        snprintf(pe->dial_url, sizeof pe->dial_url, "%s", u);
        return;
    }
    char ip[128];
    snprintf(ip, sizeof ip, "%s", pe->remote);
    char *colon = strrchr(ip, ':');
    if (colon)
        *colon = '\0';
    snprintf(pe->dial_url, sizeof pe->dial_url, "%.*s%s%s", (int)(hs - u), u, ip, port);
}

/* ---- what this node advertises --------------------------------------------- */

static json_t *list_json(const char *s)
{
    json_t *a = json_array();
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", s ? s : "");
    for (char *save = NULL, *t = strtok_r(buf, ", ", &save); t; t = strtok_r(NULL, ", ", &save))
        json_array_append_new(a, json_string(t));
    return a;
}

/* The NPUs and GPUs the detector plugins see (the CPU is described
 * apart): [{kind, vendor, name, generation, driver, available, why}]. */
static json_t *accel_json(const ari_ctx *c)
{
    json_t *a = json_array();
    aria_detect_env env = {.hdr = {sizeof env, 1}, .sysfs_root = "/sys", .dev_root = "/dev",
                           .proc_root = "/proc"};
    for (size_t i = 0;; i++) {
        const ari_iface *f = ari_registry_iface(&c->reg, ARIA_IFACE_DETECTOR, i);
        if (!f)
            break;
        const aria_detector_vt *d = f->vt;
        aria_device dev[8];
        size_t n = 0;
        memset(dev, 0, sizeof dev);
        for (size_t k = 0; k < 8; k++)
            dev[k].hdr = (aria_vt_hdr){sizeof dev[k], 1};
        if (!d->detect || d->detect(f->plugin ? f->plugin->ctx : NULL, &env, dev, 8, &n, NULL) !=
                              ARIA_OK)
            continue;
        for (size_t k = 0; k < n && k < 8; k++) {
            if (dev[k].kind == ARIA_DEV_CPU)
                continue;
            dev[k].vendor[sizeof dev[k].vendor - 1] = dev[k].name[sizeof dev[k].name - 1] = 0;
            dev[k].generation[sizeof dev[k].generation - 1] = 0;
            dev[k].driver[sizeof dev[k].driver - 1] = dev[k].why[sizeof dev[k].why - 1] = 0;
            json_array_append_new(
                a, json_pack("{s:s,s:s,s:s,s:s,s:s,s:b,s:s}", "kind",
                             dev[k].kind == ARIA_DEV_NPU ? "npu" : "gpu", "vendor", dev[k].vendor,
                             "name", dev[k].name, "generation", dev[k].generation, "driver",
                             dev[k].driver, "available", (int)dev[k].available, "why",
                             dev[k].why));
        }
    }
    return a;
}

static json_t *hw_json(const ari_ctx *c)
{
    const aria_cpu_info *cpu = &c->cpu;
    char feats[512];
    json_t *isa = list_json(ari_cpu_feature_names(cpu->features, feats, sizeof feats));
    return json_pack("{s:s,s:s,s:i,s:i,s:I,s:o,s:i,s:o}", "cpu_vendor", cpu->vendor, "cpu_model",
                     cpu->model, "cores", (int)cpu->cores_physical, "threads",
                     (int)cpu->cores_logical, "ram_mb", (json_int_t)(cpu->ram_bytes >> 20), "isa",
                     isa, "threads_given", (int)c->n_threads, "accelerators", accel_json(c));
}

static json_t *consent_json(const ari_ctx *c)
{
    const ari_config *cfg = c->cfg;
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    /* the schedule is in local time: peers need the offset to read it */
    return json_pack("{s:i,s:i,s:i,s:s,s:o,s:f}", "utc_offset_min", (int)(tm.tm_gmtoff / 60),
                     "cpu_percent",
                     atoi(ari_config_get(cfg, "consent", "cpu_percent")), "max_ram_mb",
                     atoi(ari_config_get(cfg, "consent", "max_ram_mb")), "schedule",
                     ari_config_get(cfg, "consent", "schedule"), "task_types",
                     list_json(ari_config_get(cfg, "consent", "task_types")),
                     "max_bandwidth_mbps",
                     atof(ari_config_get(cfg, "consent", "max_bandwidth_mbps")));
}

/* A sealed HELLO or CAPS. Caller holds mu. */
static char *make_hello(ari_peers *p, const char *type, const uint8_t nonce[32])
{
    char nonce_hex[65], pk_hex[65], vers[16];
    ari_hex(nonce, 32, nonce_hex);
    ari_hex(p->id.pk, 32, pk_hex);
    snprintf(vers, sizeof vers, "%d.%d", ARI_PROTO_MAJOR, ARI_PROTO_MINOR);
    json_t *models = p->h.models ? p->h.models(p->h.user) : json_array();
    uint32_t tiers = 0;
    size_t i;
    json_t *m;
    json_array_foreach(models, i, m)
    {
        size_t k;
        json_t *t;
        json_array_foreach(json_object_get(m, "tiers"), k, t) tiers |=
            ari_tier_parse(json_string_value(t), json_string_length(t));
    }
    json_t *tl = json_array();
    for (uint32_t b = 1; b; b <<= 1)
        if ((tiers & b) && ari_tier_name(b))
            json_array_append_new(tl, json_string(ari_tier_name(b)));
    json_t *listen = json_array();
    for (size_t k = 0; k < p->n_listen; k++)
        json_array_append_new(listen, json_string(p->listen[k]));
    uint32_t act = 0, slots = 0, q = 0;
    if (p->h.load)
        p->h.load(p->h.user, &act, &slots, &q);
    const char *name = ari_config_get(p->c->cfg, "node", "name");
    char host[65] = "";
    if (!name || !name[0]) {
        gethostname(host, sizeof host - 1);
        name = host;
    }
    json_t *body = json_pack(
        "{s:s,s:s,s:s,s:s,s:I,s:I,s:s,s:o,s:o,s:o,s:o,s:o,s:{s:i,s:i,s:i}}", "proto", vers, "id",
        p->id.id, "pk", pk_hex, "nonce", nonce_hex, "ts", (json_int_t)ari_wall_ms(), "seq",
        (json_int_t)++p->seq, "name", name, "listen", listen, "models", models, "tiers", tl, "hw",
        hw_json(p->c), "consent", consent_json(p->c), "load", "active", (int)act, "slots",
        (int)slots, "queue", (int)q);
    if (!body)
        return NULL;
    char *s = ari_proto_seal(type, body, p->id.sk);
    json_decref(body);
    return s;
}

/* ---- transport events --------------------------------------------------------- */

static void on_open(void *user, aria_conn *c, int inbound)
{
    ari_peers *p = user;
    peer *pe = calloc(1, sizeof *pe);
    if (!pe) {
        p->vt->close(c, "out of memory");
        return;
    }
    pe->conn = c;
    pe->inbound = inbound;
    pe->t_open = ari_now_ns();
    randombytes_buf(pe->my_nonce, sizeof pe->my_nonce);
    aria_conn_info ci = {.hdr = {sizeof ci, 1}};
    if (p->vt->conn_info(c, &ci) == ARIA_OK) {
        snprintf(pe->remote, sizeof pe->remote, "%s", ci.remote);
        if (!inbound)
            snprintf(pe->url, sizeof pe->url, "%s", ci.url);
    }
    p->vt->set_user(c, pe);
    pthread_mutex_lock(&p->mu);
    if (!inbound)
        for (size_t i = 0; i < p->n_pend; i++)
            if (!strcmp(p->pend[i].url, pe->url)) {
                memcpy(pe->expect_id, p->pend[i].id, sizeof pe->expect_id);
                p->pend[i] = p->pend[--p->n_pend];
                break;
            }
    pe->next = p->peers;
    p->peers = pe;
    if (inbound && count_peers(p) > p->max_peers + 4) {
        /* far over the cap: do not spend a handshake on it */
        refuse(p, pe, "peer table full");
        pthread_mutex_unlock(&p->mu);
        return;
    }
    char *hello = make_hello(p, "hello", pe->my_nonce);
    if (!hello || p->vt->send(c, hello, strlen(hello), ARIA_MSG_TEXT) != ARIA_OK)
        p->vt->close(c, "cannot send HELLO");
    free(hello);
    pthread_mutex_unlock(&p->mu);
    ari_debug("peers", "connection %s %s", inbound ? "from" : "to", pe->remote);
}

static void on_close(void *user, aria_conn *c, aria_err why, const char *detail)
{
    ari_peers *p = user;
    peer *pe = p->vt->get_user(c);
    if (!pe) {
        if (why != ARIA_OK)
            ari_debug("peers", "connection failed: %s", detail ? detail : aria_strerror(why));
        return;
    }
    pthread_mutex_lock(&p->mu);
    for (peer **pp = &p->peers; *pp; pp = &(*pp)->next)
        if (*pp == pe) {
            *pp = pe->next;
            break;
        }
    for (rreq *r = pe->reqs; r; r = r->next) {
        r->lost = 1;
        r->owner = NULL;
        pthread_cond_broadcast(&r->cv);
    }
    for (ijob *j = p->jobs; j; j = j->next)
        if (j->from == pe) {
            j->from = NULL;
            j->cancel = 1;
        }
    int was_ready = pe->state == READY;
    /* pipelines lose the node only when no other connection to it is ready */
    if (was_ready && p->pipes && !find_ready(p, pe->id))
        ari_pipes_peer_gone(p->pipes, pe->id);
    pthread_mutex_unlock(&p->mu);
    char w[256];
    who(pe, w, sizeof w);
    if (was_ready)
        ari_info("peers", "%s gone: %s", w, detail && detail[0] ? detail : aria_strerror(why));
    else
        ari_debug("peers", "%s closed during the handshake: %s", w,
                  detail && detail[0] ? detail : aria_strerror(why));
    p->vt->set_user(c, NULL);
    if (pe->caps)
        json_decref(pe->caps);
    free(pe);
}

static void set_load(peer *pe, json_t *o)
{
    pe->active = (uint32_t)json_integer_value(json_object_get(o, "active"));
    pe->slots = (uint32_t)json_integer_value(json_object_get(o, "slots"));
    pe->queue = (uint32_t)json_integer_value(json_object_get(o, "queue"));
}

static void adopt_caps(peer *pe, ari_hello *h)
{
    if (pe->caps)
        json_decref(pe->caps);
    pe->caps = h->body;
    h->body = NULL;
    pe->seq = h->seq;
    const char *name = json_string_value(json_object_get(pe->caps, "name"));
    snprintf(pe->name, sizeof pe->name, "%s", name ? name : "");
    json_t *load = json_object_get(pe->caps, "load");
    if (load)
        set_load(pe, load);
    derive_dial_url(pe);
}

/* Which of two connections to the same node stays: the one dialed by the
 * node with the smaller id (both sides reach the same answer). */
static int keep_new(ari_peers *p, const peer *old, const peer *nw, const char *their_id)
{
    const char *d_old = old->inbound ? their_id : p->id.id;
    const char *d_new = nw->inbound ? their_id : p->id.id;
    if (!strcmp(d_old, d_new))
        return 0;
    return strcmp(d_new, d_old) < 0;
}

static void on_hello(ari_peers *p, peer *pe, ari_msg_in *m)
{
    ari_hello h;
    aria_msg why = {{0}};
    if (ari_proto_open(m, ari_wall_ms(), &h, &why) != ARIA_OK) {
        refuse(p, pe, why.text);
        return;
    }
    char reason[400] = "";
    if (!strcmp(h.id, p->id.id))
        snprintf(reason, sizeof reason, "that is this node itself");
    else if (pe->got_hello)
        snprintf(reason, sizeof reason, "a second HELLO on one connection");
    else if (seen_nonce(p, h.nonce, ari_wall_ms()))
        snprintf(reason, sizeof reason, "replayed HELLO from %.12s (its nonce was seen before)",
                 h.id);
    else if (pe->expect_id[0] && strcmp(pe->expect_id, h.id))
        snprintf(reason, sizeof reason,
                 "peer exchange named node %.12s at %s, but %.12s answered", pe->expect_id,
                 pe->url, h.id);
    if (reason[0]) {
        ari_hello_free(&h);
        refuse(p, pe, reason);
        return;
    }
    peer *old = find_ready(p, h.id);
    if (old && !keep_new(p, old, pe, h.id)) {
        ari_debug("peers", "duplicate connection to %.12s closed", h.id);
        ari_hello_free(&h);
        p->vt->close(pe->conn, "already connected");
        pe->state = -1;
        return;
    }
    if (old) {
        ari_debug("peers", "duplicate connection to %.12s: keeping the newer", h.id);
        p->vt->close(old->conn, "already connected");
        old->state = -1;
    } else {
        size_t ready = 0;
        for (peer *q = p->peers; q; q = q->next)
            ready += q->state == READY;
        if (ready >= p->max_peers) {
            ari_hello_free(&h);
            char r[96];
            snprintf(r, sizeof r, "peer table full (max_peers %zu)", p->max_peers);
            refuse(p, pe, r);
            return;
        }
    }
    memcpy(pe->id, h.id, sizeof pe->id);
    memcpy(pe->pk, h.pk, sizeof pe->pk);
    pe->got_hello = 1;
    adopt_caps(pe, &h);
    char sig[129];
    ari_proto_auth_sign(p->id.sk, h.nonce, pe->id, p->id.id, sig);
    send_obj(p, pe->conn, json_pack("{s:s,s:s}", "type", "auth", "sig", sig));
}

static void became_ready(ari_peers *p, peer *pe)
{
    pe->state = READY;
    pe->t_ready = pe->t_exchange = ari_now_ns();
    size_t nm = json_array_size(json_object_get(pe->caps, "models"));
    char w[256];
    who(pe, w, sizeof w);
    ari_info("peers", "%s ready: %zu model%s, load %u/%u, reachable at %s", w, nm,
             nm == 1 ? "" : "s", pe->active + pe->queue, pe->slots,
             pe->dial_url[0] ? pe->dial_url : "(no listen address)");
    send_obj(p, pe->conn, json_pack("{s:s}", "type", "peers_get"));
}

static void on_peers(ari_peers *p, peer *pe, json_t *list)
{
    size_t i;
    json_t *e;
    json_array_foreach(list, i, e)
    {
        const char *id = json_string_value(json_object_get(e, "id"));
        const char *pk = json_string_value(json_object_get(e, "pk"));
        const char *url = json_string_value(json_object_get(e, "url"));
        if (!strcmp(id, p->id.id))
            continue;
        int known = 0;
        for (peer *q = p->peers; q; q = q->next)
            known |= (q->got_hello && !strcmp(q->id, id)) || (q->url[0] && !strcmp(q->url, url));
        for (size_t k = 0; k < p->n_pend; k++)
            known |= !strcmp(p->pend[k].id, id) || !strcmp(p->pend[k].url, url);
        if (known)
            continue;
        uint8_t k[32];
        char derived[ARI_ID_LEN + 1];
        if (ari_unhex(pk, k, 32) != 0 || (ari_node_id(k, derived), strcmp(derived, id))) {
            ari_warn("peers", "peer %.12s listed node %.12s with a key that does not match its "
                     "id; not dialed", pe->id, id);
            continue;
        }
        if (strncmp(url, "ws://", 5) && strncmp(url, "wss://", 6)) {
            ari_warn("peers", "peer %.12s listed node %.12s at %.60s, not a ws:// or wss:// URL",
                     pe->id, id, url);
            continue;
        }
        if (count_peers(p) + p->n_pend >= p->max_peers || p->n_pend >= MAX_PENDING)
            break;
        aria_msg why = {{0}};
        snprintf(p->pend[p->n_pend].url, sizeof p->pend[0].url, "%s", url);
        memcpy(p->pend[p->n_pend].id, id, ARI_ID_LEN + 1);
        p->pend[p->n_pend].t = ari_now_ns();
        p->n_pend++;
        if (p->vt->dial(p->t, url, 0, &why) != ARIA_OK) {
            p->n_pend--;
            ari_warn("peers", "cannot dial %s (from %.12s): %s", url, pe->id, why.text);
        } else {
            ari_info("peers", "dialing %.12s at %s (learned from %.12s)", id, url, pe->id);
        }
    }
}

static json_t *peers_list(ari_peers *p, const peer *asker)
{
    json_t *a = json_array();
    size_t n = 0;
    for (peer *q = p->peers; q && n < ARI_PROTO_MAX_PEERS_LIST; q = q->next) {
        if (q == asker || q->state != READY || !q->dial_url[0])
            continue;
        char pk[65];
        ari_hex(q->pk, 32, pk);
        json_array_append_new(a, json_pack("{s:s,s:s,s:s}", "id", q->id, "pk", pk, "url",
                                           q->dial_url));
        n++;
    }
    return a;
}

static void *job_main(void *arg);

static void on_infer(ari_peers *p, peer *pe, ari_msg_in *m)
{
    const char *rid = json_string_value(json_object_get(m->obj, "rid"));
    if (p->n_jobs >= p->max_jobs || !p->h.serve) {
        send_obj(p, pe->conn,
                 json_pack("{s:s,s:s,s:i,s:s,s:s}", "type", "error", "rid", rid, "status", 429,
                           "code", "rate_limit_exceeded", "message",
                           "this node runs as many peer requests as it takes; try another"));
        return;
    }
    ijob *j = calloc(1, sizeof *j);
    if (!j)
        return;
    j->p = p;
    j->from = pe;
    snprintf(j->rid, sizeof j->rid, "%s", rid);
    memcpy(j->peer_id, pe->id, sizeof j->peer_id);
    j->msg = json_incref(m->obj);
    pthread_t th;
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    j->next = p->jobs;
    p->jobs = j;
    p->n_jobs++;
    if (pthread_create(&th, &at, job_main, j) != 0) {
        p->jobs = j->next;
        p->n_jobs--;
        json_decref(j->msg);
        free(j);
        send_obj(p, pe->conn,
                 json_pack("{s:s,s:s,s:i,s:s}", "type", "error", "rid", rid, "status", 503,
                           "message", "cannot start a thread"));
    }
    pthread_attr_destroy(&at);
}

static void deliver(peer *pe, const char *rid, json_t *obj)
{
    for (rreq *r = pe->reqs; r; r = r->next)
        if (!strcmp(r->rid, rid)) {
            if (r->n_ev == r->cap_ev) {
                size_t cap = r->cap_ev ? r->cap_ev * 2 : 16;
                json_t **ev = malloc(cap * sizeof *ev);
                if (!ev)
                    return;
                for (size_t i = 0; i < r->n_ev; i++)
                    ev[i] = r->ev[(r->head + i) % r->cap_ev];
                free(r->ev);
                r->ev = ev;
                r->cap_ev = cap;
                r->head = 0;
            }
            r->ev[(r->head + r->n_ev++) % r->cap_ev] = json_incref(obj);
            pthread_cond_broadcast(&r->cv);
            return;
        }
}

static void on_message(void *user, aria_conn *c, const void *data, size_t len, uint32_t kind)
{
    ari_peers *p = user;
    peer *pe = p->vt->get_user(c);
    if (!pe)
        return;
    pthread_mutex_lock(&p->mu);
    if (pe->state < 0) {
        pthread_mutex_unlock(&p->mu);
        return;
    }
    aria_msg why = {{0}};
    ari_prov *prov = NULL;
    char from[ARI_ID_LEN + 1];
    uint8_t from_pk[32];
    if (kind != ARIA_MSG_TEXT) {
        if (pe->state != READY)
            refuse(p, pe, "a binary frame before the handshake finished");
        else if (!p->pipes || ari_pipes_on_frame(p->pipes, pe->id, data, len, &why) != 0)
            refuse(p, pe, p->pipes ? why.text : "a binary frame, and this node runs no stages");
        pthread_mutex_unlock(&p->mu);
        return;
    }
    ari_msg_in m;
    if (ari_proto_parse(data, len, &m, &why) != ARIA_OK) {
        refuse(p, pe, why.text);
        pthread_mutex_unlock(&p->mu);
        return;
    }
    const char *t = m.type;
    if (pe->state == HS) {
        if (!strcmp(t, "hello")) {
            on_hello(p, pe, &m);
        } else if (!strcmp(t, "auth") && pe->got_hello) {
            if (ari_proto_auth_check(pe->pk, json_string_value(json_object_get(m.obj, "sig")),
                                     pe->my_nonce, p->id.id, pe->id) != 0)
                refuse(p, pe, "AUTH does not prove the key: bad signature over this node's nonce");
            else
                became_ready(p, pe);
        } else if (!strcmp(t, "bye")) {
            char w[256];
            who(pe, w, sizeof w);
            ari_warn("peers", "%s said bye during the handshake: %s", w,
                     json_string_value(json_object_get(m.obj, "reason")));
            p->vt->close(c, "bye");
            pe->state = -1;
        } else {
            char r[128];
            snprintf(r, sizeof r, "'%s' before the handshake finished", t);
            refuse(p, pe, r);
        }
    } else if (!strcmp(t, "caps")) {
        ari_hello h;
        if (ari_proto_open(&m, ari_wall_ms(), &h, &why) != ARIA_OK) {
            refuse(p, pe, why.text);
        } else if (memcmp(h.pk, pe->pk, 32) != 0) {
            ari_hello_free(&h);
            refuse(p, pe, "CAPS signed by another key than the HELLO's");
        } else if (h.seq <= pe->seq || seen_nonce(p, h.nonce, ari_wall_ms())) {
            ari_hello_free(&h);
            refuse(p, pe, "CAPS replayed (old seq or nonce seen before)");
        } else {
            adopt_caps(pe, &h);
            ari_info("peers", "peer %.12s now serves %zu model(s)", pe->id,
                     json_array_size(json_object_get(pe->caps, "models")));
        }
    } else if (!strcmp(t, "load")) {
        set_load(pe, m.obj);
    } else if (!strcmp(t, "peers_get")) {
        send_obj(p, c, json_pack("{s:s,s:o}", "type", "peers", "peers", peers_list(p, pe)));
    } else if (!strcmp(t, "peers")) {
        on_peers(p, pe, json_object_get(m.obj, "peers"));
    } else if (!strcmp(t, "infer")) {
        on_infer(p, pe, &m);
    } else if (!strcmp(t, "token") || !strcmp(t, "done") || !strcmp(t, "error")) {
        deliver(pe, json_string_value(json_object_get(m.obj, "rid")), m.obj);
    } else if (!strncmp(t, "stage_", 6)) {
        if (!p->pipes || ari_pipes_on_text(p->pipes, pe->id, &m, &why) != 0)
            refuse(p, pe, p->pipes ? why.text : "a stage message, and this node runs no stages");
    } else if (!strncmp(t, "ledger_", 7) || !strcmp(t, "block_header")) {
        if (!p->prov) {
            ari_debug("peers", "peer %.12s: '%s' ignored, this node keeps no ledger", pe->id, t);
        } else { /* below, outside the lock: a record's append waits on the disk */
            prov = p->prov;
            memcpy(from, pe->id, sizeof from);
            memcpy(from_pk, pe->pk, sizeof from_pk);
        }
    } else if (!strcmp(t, "cancel")) {
        const char *rid = json_string_value(json_object_get(m.obj, "rid"));
        for (ijob *j = p->jobs; j; j = j->next)
            if (j->from == pe && !strcmp(j->rid, rid))
                j->cancel = 1;
    } else if (!strcmp(t, "bye")) {
        ari_info("peers", "peer %.12s said bye: %s", pe->id,
                 json_string_value(json_object_get(m.obj, "reason")));
        p->vt->close(c, "bye");
        pe->state = -1;
    } else {
        char r[128];
        snprintf(r, sizeof r, "'%s' is not expected after the handshake", t);
        refuse(p, pe, r);
    }
    pthread_mutex_unlock(&p->mu);
    if (prov && ari_prov_on_message(prov, from, from_pk, t, m.obj, &why) != 0) {
        pthread_mutex_lock(&p->mu);
        peer *q = find_ready(p, from);
        if (q)
            refuse(p, q, why.text);
        pthread_mutex_unlock(&p->mu);
    }
    json_decref(m.obj);
}

/* ---- inference for peers ---------------------------------------------------- */

/* Sends on the connection of *pe_ref (a field the lock guards, NULL once the
 * peer is gone) or, without pe_ref, of the ready peer named id; waits while
 * its queue is full (up to 30 s). */
static aria_err send_waiting(ari_peers *p, struct peer *const *pe_ref, const char *id,
                             const void *data, size_t len, uint32_t kind)
{
    for (int tries = 0;; tries++) {
        pthread_mutex_lock(&p->mu);
        peer *pe = pe_ref ? *pe_ref : p->stop ? NULL : find_ready(p, id);
        aria_err e = pe ? p->vt->send(pe->conn, data, len, kind)
                        : pe_ref ? ARIA_ERR_CLOSED : ARIA_ERR_NOT_FOUND;
        pthread_mutex_unlock(&p->mu);
        if (e != ARIA_ERR_BUSY || tries >= 30000 || p->stop)
            return e;
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
}

/* Sends one message of a job to its origin. Returns nonzero when the
 * origin is gone. */
static int job_send(ijob *j, json_t *o)
{
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (!s)
        return 1;
    int gone = send_waiting(j->p, &j->from, NULL, s, strlen(s), ARIA_MSG_TEXT) != ARIA_OK;
    free(s);
    return gone;
}

static int sink_token(void *ctx, const char *text, size_t len, int32_t token, json_t *lp)
{
    ijob *j = ctx;
    json_t *o = json_pack("{s:s,s:s,s:s%,s:i}", "type", "token", "rid", j->rid, "text", text,
                          len, "token", (int)token);
    if (!o)
        return 1;
    if (lp)
        json_object_set(o, "lp", lp);
    return job_send(j, o) || j->cancel;
}

static void sink_done(void *ctx, const char *finish, uint32_t np, uint32_t ng)
{
    ijob *j = ctx;
    j->answered = 1;
    job_send(j, json_pack("{s:s,s:s,s:s,s:i,s:i}", "type", "done", "rid", j->rid, "finish",
                          finish, "prompt_tokens", (int)np, "completion_tokens", (int)ng));
}

static void sink_error(void *ctx, int status, const char *code, const char *param,
                       const char *message)
{
    ijob *j = ctx;
    j->answered = 1;
    json_t *o = json_pack("{s:s,s:s,s:i,s:s}", "type", "error", "rid", j->rid, "status",
                          status < 400 || status > 599 ? 500 : status, "message",
                          message ? message : "");
    if (o && code)
        json_object_set_new(o, "code", json_string(code));
    if (o && param)
        json_object_set_new(o, "param", json_string(param));
    job_send(j, o);
}

static void *job_main(void *arg)
{
    ijob *j = arg;
    ari_peers *p = j->p;
    json_t *res = json_object_get(j->msg, "resume");
    size_t n = json_array_size(res);
    int32_t *resume = n ? malloc(n * sizeof *resume) : NULL;
    for (size_t i = 0; resume && i < n; i++)
        resume[i] = (int32_t)json_integer_value(json_array_get(res, i));
    ari_peer_sink sink = {.ctx = j,
                          .token = sink_token,
                          .done = sink_done,
                          .error = sink_error,
                          .cancel = &j->cancel};
    ari_debug("peers", "request %s from %.12s", j->rid, j->peer_id);
    if (n && !resume)
        sink_error(j, 500, NULL, NULL, "out of memory");
    else
        p->h.serve(p->h.user, json_string_value(json_object_get(j->msg, "endpoint")),
                   json_object_get(j->msg, "request"), resume, n, &sink);
    if (!j->answered)
        sink_error(j, 500, NULL, NULL, "the request ended without an answer");
    free(resume);
    pthread_mutex_lock(&p->mu);
    for (ijob **pp = &p->jobs; *pp; pp = &(*pp)->next)
        if (*pp == j) {
            *pp = j->next;
            break;
        }
    p->n_jobs--;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    json_decref(j->msg);
    free(j);
    return NULL;
}

/* ---- inference on peers ---------------------------------------------------- */

static void rreq_detach(ari_peers *p, rreq *r)
{
    if (!r->owner)
        return;
    for (rreq **pp = &r->owner->reqs; *pp; pp = &(*pp)->next)
        if (*pp == r) {
            *pp = r->next;
            break;
        }
    r->owner = NULL;
    (void)p;
}

aria_err ari_peers_infer(ari_peers *p, const char *id, const char *endpoint, json_t *request,
                         const int32_t *resume, size_t n_resume, const ari_remote_cb *cb,
                         volatile int *cancel, uint64_t deadline_ns, ari_remote_result *res,
                         aria_msg *why)
{
    memset(res, 0, sizeof *res);
    rreq *r = calloc(1, sizeof *r);
    if (!r)
        return aria_fail(why, ARIA_ERR_NOMEM, "out of memory");
    pthread_cond_init(&r->cv, NULL);
    json_t *rs = json_array();
    for (size_t i = 0; i < n_resume; i++)
        json_array_append_new(rs, json_integer(resume[i]));
    pthread_mutex_lock(&p->mu);
    snprintf(r->rid, sizeof r->rid, "%.8s-%llu", p->id.id, (unsigned long long)++p->rid_seq);
    peer *pe = find_ready(p, id);
    aria_err e = ARIA_OK;
    if (!pe) {
        e = aria_fail(why, ARIA_ERR_NOT_FOUND, "peer %.12s is not connected", id);
    } else {
        r->owner = pe;
        r->next = pe->reqs;
        pe->reqs = r;
        e = send_obj(p, pe->conn,
                     json_pack("{s:s,s:s,s:s,s:O,s:o}", "type", "infer", "rid", r->rid,
                               "endpoint", endpoint, "request", request, "resume", rs));
        rs = NULL;
        if (e != ARIA_OK) {
            rreq_detach(p, r);
            aria_fail(why, e, "cannot send to peer %.12s: %s", id, aria_strerror(e));
        }
    }
    if (rs)
        json_decref(rs);
    int cancelled = 0;
    while (e == ARIA_OK) {
        while (!r->n_ev && !r->lost && !(cancel && *cancel) && !p->stop &&
               ari_now_ns() < deadline_ns) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += 100 * 1000000;
            if (ts.tv_nsec >= 1000000000) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000;
            }
            pthread_cond_timedwait(&r->cv, &p->mu, &ts);
        }
        if (!r->n_ev) {
            if (r->lost || p->stop)
                e = aria_fail(why, ARIA_ERR_CLOSED, "peer %.12s went away mid-request", id);
            else if (cancel && *cancel)
                cancelled = 1, e = ARIA_ERR_CANCELLED;
            else
                cancelled = 1, e = aria_fail(why, ARIA_ERR_TIMEOUT, "peer %.12s: timed out", id);
            break;
        }
        json_t *ev = r->ev[r->head];
        r->head = (r->head + 1) % r->cap_ev;
        r->n_ev--;
        pthread_mutex_unlock(&p->mu);
        const char *t = json_string_value(json_object_get(ev, "type"));
        int stop = 0, finished = 0;
        if (!strcmp(t, "token")) {
            json_t *tx = json_object_get(ev, "text");
            stop = cb->token(cb->user, json_string_value(tx), json_string_length(tx),
                             (int32_t)json_integer_value(json_object_get(ev, "token")),
                             json_object_get(ev, "lp"));
        } else if (!strcmp(t, "done")) {
            res->status = 200;
            snprintf(res->finish, sizeof res->finish, "%s",
                     json_string_value(json_object_get(ev, "finish")));
            res->prompt_tokens = (uint32_t)json_integer_value(json_object_get(ev, "prompt_tokens"));
            res->completion_tokens =
                (uint32_t)json_integer_value(json_object_get(ev, "completion_tokens"));
            finished = 1;
        } else {
            res->status = (int)json_integer_value(json_object_get(ev, "status"));
            const char *code = json_string_value(json_object_get(ev, "code"));
            const char *param = json_string_value(json_object_get(ev, "param"));
            snprintf(res->code, sizeof res->code, "%s", code ? code : "");
            snprintf(res->param, sizeof res->param, "%s", param ? param : "");
            snprintf(res->message, sizeof res->message, "%s",
                     json_string_value(json_object_get(ev, "message")));
            finished = 1;
        }
        json_decref(ev);
        pthread_mutex_lock(&p->mu);
        if (finished)
            break;
        if (stop) {
            cancelled = 1;
            e = ARIA_ERR_CANCELLED;
            break;
        }
    }
    if (cancelled && r->owner)
        send_obj(p, r->owner->conn,
                 json_pack("{s:s,s:s}", "type", "cancel", "rid", r->rid));
    rreq_detach(p, r);
    pthread_mutex_unlock(&p->mu);
    while (r->n_ev) {
        json_decref(r->ev[r->head]);
        r->head = (r->head + 1) % r->cap_ev;
        r->n_ev--;
    }
    free(r->ev);
    pthread_cond_destroy(&r->cv);
    free(r);
    return e;
}

/* ---- the table as others see it -------------------------------------------- */

/* A peer's reputation in (0, 1]: every failed spot-check of its work halves
 * it, every passed one gives back 0.1. Caller holds mu. */
static double rep_of(const ari_peers *p, const uint8_t pk[32])
{
    for (size_t i = 0; i < p->n_reps; i++)
        if (!memcmp(p->reps[i].pk, pk, 32))
            return p->reps[i].rep;
    return 1.0;
}

/* Its load as routing sees it: (active + queue) / slots, then worse the
 * lower its reputation ((load + 1) / reputation - 1), so that a peer caught
 * serving wrong output gets less work. Caller holds mu. */
static double load_of(const ari_peers *p, const peer *pe)
{
    double l = (double)(pe->active + pe->queue) / (pe->slots ? pe->slots : 1);
    double r = rep_of(p, pe->pk);
    return (l + 1) / (r > 0.01 ? r : 0.01) - 1;
}

void ari_peers_rate(ari_peers *p, const uint8_t pk[32], int passed)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    size_t i = 0;
    while (i < p->n_reps && memcmp(p->reps[i].pk, pk, 32))
        i++;
    if (i == p->n_reps) {
        if (i == sizeof p->reps / sizeof *p->reps)
            i = (size_t)randombytes_uniform((uint32_t)i); /* full: forget one */
        else
            p->n_reps++;
        memcpy(p->reps[i].pk, pk, 32);
        p->reps[i].rep = 1.0;
    }
    double r = passed ? p->reps[i].rep + 0.1 : p->reps[i].rep * 0.5;
    p->reps[i].rep = r > 1 ? 1 : r;
    char id[ARI_ID_LEN + 1];
    ari_node_id(pk, id);
    ari_info("peers", "peer %.12s: reputation %.2f after a %s spot-check", id, p->reps[i].rep,
             passed ? "passed" : "failed");
    pthread_mutex_unlock(&p->mu);
}

void ari_peers_set_prov(ari_peers *p, ari_prov *prov)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->prov = prov;
    pthread_mutex_unlock(&p->mu);
}

/* The peer's protocol minor version (2.x), from its HELLO; -1 unknown. */
static int minor_of(const peer *pe)
{
    int major = 0, minor = 0;
    const char *proto = json_string_value(json_object_get(pe->caps, "proto"));
    return proto && sscanf(proto, "%d.%d", &major, &minor) == 2 && major == 2 ? minor : -1;
}

aria_err ari_peers_send_json(ari_peers *p, const char *id, json_t *o)
{
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    if (o)
        json_decref(o);
    if (!s)
        return ARIA_ERR_NOMEM;
    aria_err e = send_waiting(p, NULL, id, s, strlen(s), ARIA_MSG_TEXT);
    free(s);
    return e;
}

size_t ari_peers_broadcast_json(ari_peers *p, json_t *o)
{
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    if (o)
        json_decref(o);
    if (!s)
        return 0;
    size_t n = 0;
    pthread_mutex_lock(&p->mu);
    for (peer *pe = p->peers; pe; pe = pe->next)
        if (pe->state == READY && minor_of(pe) >= 2 && /* ledger messages came with 2.2 */
            p->vt->send(pe->conn, s, strlen(s), ARIA_MSG_TEXT) == ARIA_OK)
            n++;
    pthread_mutex_unlock(&p->mu);
    free(s);
    return n;
}

/* A model entry of a HELLO/CAPS that holds every layer. */
static int whole_entry(const json_t *m)
{
    json_t *ly = json_object_get(m, "layers");
    return json_integer_value(json_array_get(ly, 0)) == 0 &&
           json_integer_value(json_array_get(ly, 1)) ==
               json_integer_value(json_object_get(m, "n_layers"));
}

/* 1 when the peer's consent (its HELLO) accepts work of kind task now: the
 * task among its task_types and the time within its schedule, read in its
 * local time. A peer that states no consent accepts. Caller holds mu. */
static int peer_consents(const peer *pe, const char *task)
{
    json_t *k = json_object_get(pe->caps, "consent");
    if (!task || !json_is_object(k))
        return 1;
    json_t *tt = json_object_get(k, "task_types");
    if (json_is_array(tt)) {
        int found = 0;
        size_t i;
        json_t *v;
        json_array_foreach(tt, i, v) found |= json_is_string(v) && !strcmp(json_string_value(v), task);
        if (!found)
            return 0;
    }
    const char *sched = json_string_value(json_object_get(k, "schedule"));
    json_t *off = json_object_get(k, "utc_offset_min");
    if (sched && json_is_integer(off) && strcmp(sched, "always")) {
        time_t now = time(NULL);
        long m = (long)((now / 60) % 1440) + (long)json_integer_value(off);
        m = ((m % 1440) + 1440) % 1440;
        if (!ari_config_schedule_allows(sched, (int)m))
            return 0;
    }
    return 1;
}

size_t ari_peers_for_model(ari_peers *p, const char *model, const char *task,
                           char (*ids)[ARI_ID_LEN + 1], size_t cap)
{
    if (!p)
        return 0;
    typedef struct {
        int head; /* holds the first layers only: drives a pipeline */
        double load;
        uint32_t rtt;
        char id[ARI_ID_LEN + 1];
    } cand;
    cand c[256];
    size_t n = 0;
    pthread_mutex_lock(&p->mu);
    for (peer *pe = p->peers; pe && n < 256; pe = pe->next) {
        if (pe->state != READY || !peer_consents(pe, task))
            continue;
        size_t i;
        json_t *m;
        json_array_foreach(json_object_get(pe->caps, "models"), i, m)
        {
            json_t *ly = json_object_get(m, "layers");
            if (strcmp(json_string_value(json_object_get(m, "id")), model) ||
                (!whole_entry(m) && json_integer_value(json_array_get(ly, 0)) != 0))
                continue;
            aria_conn_info ci = {.hdr = {sizeof ci, 1}};
            p->vt->conn_info(pe->conn, &ci);
            c[n].head = !whole_entry(m);
            c[n].load = load_of(p, pe);
            c[n].rtt = ci.rtt_us;
            memcpy(c[n].id, pe->id, sizeof c[n].id);
            n++;
            break;
        }
    }
    pthread_mutex_unlock(&p->mu);
    /* insertion sort: whole models first, then least loaded, then fastest */
    for (size_t i = 1; i < n; i++)
        for (size_t k = i;
             k > 0 && (c[k].head < c[k - 1].head ||
                       (c[k].head == c[k - 1].head &&
                        (c[k].load < c[k - 1].load ||
                         (c[k].load == c[k - 1].load && c[k].rtt < c[k - 1].rtt))));
             k--) {
            cand t = c[k];
            c[k] = c[k - 1];
            c[k - 1] = t;
        }
    size_t w = n < cap ? n : cap;
    for (size_t i = 0; i < w; i++)
        memcpy(ids[i], c[i].id, ARI_ID_LEN + 1);
    return w;
}

json_t *ari_peers_models(ari_peers *p)
{
    json_t *out = json_array();
    if (!p)
        return out;
    pthread_mutex_lock(&p->mu);
    for (peer *pe = p->peers; pe; pe = pe->next) {
        if (pe->state != READY)
            continue;
        size_t i;
        json_t *m;
        json_array_foreach(json_object_get(pe->caps, "models"), i, m)
        {
            const char *id = json_string_value(json_object_get(m, "id"));
            size_t k;
            json_t *o;
            int dup = !whole_entry(m); /* a pipeline stage answers nothing alone */
            json_array_foreach(out, k, o) dup |= !strcmp(json_string_value(json_object_get(o, "id")), id);
            if (!dup)
                json_array_append(out, m);
        }
    }
    pthread_mutex_unlock(&p->mu);
    return out;
}

json_t *ari_peers_json(ari_peers *p)
{
    json_t *a = json_array();
    if (!p)
        return a;
    pthread_mutex_lock(&p->mu);
    uint64_t now = ari_now_ns();
    for (peer *pe = p->peers; pe; pe = pe->next) {
        if (pe->state < 0)
            continue;
        aria_conn_info ci = {.hdr = {sizeof ci, 1}};
        p->vt->conn_info(pe->conn, &ci);
        json_t *models = json_array(), *stages = json_array();
        size_t i;
        json_t *m;
        json_array_foreach(json_object_get(pe->caps, "models"), i, m)
        {
            const char *id = json_string_value(json_object_get(m, "id"));
            if (whole_entry(m))
                json_array_append_new(models, json_string(id));
            else /* a layer range, for pipelines */
                json_array_append_new(stages,
                                      json_pack("{s:s,s:O,s:O}", "model", id, "layers",
                                                json_object_get(m, "layers"), "n_layers",
                                                json_object_get(m, "n_layers")));
        }
        json_array_append_new(
            a, json_pack("{s:s,s:s,s:s,s:s,s:b,s:o,s:o,s:{s:i,s:i,s:i},s:i,s:I,s:I,s:f,s:f}", "id",
                         pe->got_hello ? pe->id : "", "name", pe->name, "state",
                         pe->state == READY ? "ready" : "handshake", "url", pe->dial_url,
                         "inbound", pe->inbound, "models", models, "stages", stages, "load",
                         "active",
                         (int)pe->active, "slots", (int)pe->slots, "queue", (int)pe->queue,
                         "rtt_us", (int)ci.rtt_us, "bytes_in", (json_int_t)ci.bytes_in,
                         "bytes_out", (json_int_t)ci.bytes_out, "connected_s",
                         (double)(now - pe->t_open) / 1e9, "reputation", rep_of(p, pe->pk)));
        json_t *me = json_array_get(a, json_array_size(a) - 1), *hw = json_object_get(pe->caps, "hw");
        json_t *k = json_object_get(pe->caps, "consent");
        if (me && json_is_object(hw))
            json_object_set(me, "hw", hw); /* its CPU and accelerators, as its HELLO says */
        if (me && json_is_object(k))
            json_object_set(me, "consent", k);
    }
    pthread_mutex_unlock(&p->mu);
    return a;
}

void ari_peers_listen_urls(ari_peers *p, char *buf, size_t cap)
{
    size_t o = 0;
    buf[0] = '\0';
    for (size_t i = 0; p && i < p->n_listen && o < cap; i++)
        o += (size_t)snprintf(buf + o, cap - o, "%s%s", i ? "," : "", p->listen[i]);
}

void ari_peers_caps_changed(ari_peers *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->caps_dirty = 1;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

/* ---- maintenance ------------------------------------------------------------- */

static void *maint_main(void *arg)
{
    ari_peers *p = arg;
    pthread_mutex_lock(&p->mu);
    uint64_t last_load = 0;
    while (!p->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 250 * 1000000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&p->cv, &p->mu, &ts);
        if (p->stop)
            break;
        uint64_t now = ari_now_ns();
        for (peer *pe = p->peers; pe; pe = pe->next) {
            if (pe->state == HS && now - pe->t_open > HANDSHAKE_NS)
                refuse(p, pe, "no complete handshake within 10 s");
            if (pe->state == READY && now - pe->t_exchange > EXCHANGE_NS) {
                pe->t_exchange = now;
                send_obj(p, pe->conn, json_pack("{s:s}", "type", "peers_get"));
            }
        }
        for (size_t i = 0; i < p->n_pend;)
            if (now - p->pend[i].t > HANDSHAKE_NS * 3)
                p->pend[i] = p->pend[--p->n_pend];
            else
                i++;
        if (p->caps_dirty) {
            p->caps_dirty = 0;
            uint8_t nonce[32];
            randombytes_buf(nonce, sizeof nonce);
            char *caps = make_hello(p, "caps", nonce);
            for (peer *pe = p->peers; caps && pe; pe = pe->next)
                if (pe->state == READY)
                    p->vt->send(pe->conn, caps, strlen(caps), ARIA_MSG_TEXT);
            free(caps);
        }
        if (p->h.load && now - last_load >= LOAD_EVERY_NS) {
            last_load = now;
            uint32_t a = 0, s = 0, q = 0;
            p->h.load(p->h.user, &a, &s, &q);
            if (a != p->sent_active || s != p->sent_slots || q != p->sent_queue) {
                p->sent_active = a;
                p->sent_slots = s;
                p->sent_queue = q;
                for (peer *pe = p->peers; pe; pe = pe->next)
                    if (pe->state == READY)
                        send_obj(p, pe->conn,
                                 json_pack("{s:s,s:i,s:i,s:i}", "type", "load", "active", (int)a,
                                           "slots", (int)s, "queue", (int)q));
            }
        }
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

/* ---- start and stop ----------------------------------------------------------- */

static int scheme_ok(const char *schemes, const char *url)
{
    const char *e = strstr(url, "://");
    if (!e)
        return 0;
    size_t n = (size_t)(e - url);
    char buf[256];
    snprintf(buf, sizeof buf, "%s", schemes ? schemes : "");
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save))
        if (strlen(t) == n && !strncmp(t, url, n))
            return 1;
    return 0;
}

static size_t split(const char *list, char out[][260], size_t cap)
{
    char buf[4096];
    size_t n = 0;
    snprintf(buf, sizeof buf, "%s", list ? list : "");
    for (char *save = NULL, *t = strtok_r(buf, ", ", &save); t && n < cap;
         t = strtok_r(NULL, ", ", &save))
        snprintf(out[n++], 260, "%s", t);
    return n;
}

/* ---- what the pipelines use ------------------------------------------------ */

static aria_err net_send(void *user, const char *id, const void *data, size_t len,
                         uint32_t kind)
{
    return send_waiting(user, NULL, id, data, len, kind);
}

static int net_ready(void *user, const char *id)
{
    ari_peers *p = user;
    pthread_mutex_lock(&p->mu);
    int r = find_ready(p, id) != NULL;
    pthread_mutex_unlock(&p->mu);
    return r;
}

static size_t net_offers(void *user, const char *model, uint32_t n_layers, ari_stage_offer *o,
                         char (*ids)[ARI_ID_LEN + 1], size_t cap)
{
    ari_peers *p = user;
    size_t n = 0;
    pthread_mutex_lock(&p->mu);
    for (peer *pe = p->peers; pe && n < cap; pe = pe->next) {
        if (pe->state != READY || minor_of(pe) < 1 || /* stage messages came with 2.1 */
            !peer_consents(pe, "pipeline"))
            continue;
        size_t i;
        json_t *m;
        json_array_foreach(json_object_get(pe->caps, "models"), i, m)
        {
            json_t *ly = json_object_get(m, "layers");
            if (strcmp(json_string_value(json_object_get(m, "id")), model) ||
                json_integer_value(json_object_get(m, "n_layers")) != (json_int_t)n_layers ||
                n >= cap)
                continue;
            aria_conn_info ci = {.hdr = {sizeof ci, 1}};
            p->vt->conn_info(pe->conn, &ci);
            memcpy(ids[n], pe->id, sizeof ids[n]);
            o[n] = (ari_stage_offer){.node = ids[n],
                                     .first = (uint32_t)json_integer_value(json_array_get(ly, 0)),
                                     .end = (uint32_t)json_integer_value(json_array_get(ly, 1)),
                                     .load = load_of(p, pe),
                                     .rtt_us = ci.rtt_us,
                                     .usable = 1};
            n++;
        }
    }
    pthread_mutex_unlock(&p->mu);
    return n;
}

static aria_err net_acquire(void *user, const char *model, uint32_t first, uint32_t end,
                            volatile int *cancel, uint64_t deadline_ns, ari_lease *out,
                            aria_msg *why)
{
    ari_peers *p = user;
    if (!p->h.stage_acquire)
        return aria_fail(why, ARIA_ERR_UNSUPPORTED, "this node runs no stages");
    return p->h.stage_acquire(p->h.user, model, first, end, cancel, deadline_ns, out, why);
}

static aria_err net_sign(void *user, const void *msg, size_t len, uint8_t sig[64])
{
    ari_peers *p = user;
    return p->c->host.sign ? p->c->host.sign(msg, len, sig) : ARIA_ERR_UNSUPPORTED;
}

/* The public key of ready peer id (for ledger records); 0 when found. */
int ari_peers_pubkey(ari_peers *p, const char *id, uint8_t pk[32])
{
    pthread_mutex_lock(&p->mu);
    peer *pe = find_ready(p, id);
    if (pe)
        memcpy(pk, pe->pk, 32);
    pthread_mutex_unlock(&p->mu);
    return pe ? 0 : -1;
}

static void net_release(void *user, ari_lease *l)
{
    ari_peers *p = user;
    p->h.stage_release(p->h.user, l);
}

ari_pipes *ari_peers_pipes(ari_peers *p)
{
    return p ? p->pipes : NULL;
}

ari_peers *ari_peers_start(ari_ctx *c, const ari_identity *id, const ari_peer_host *h,
                           aria_msg *why)
{
    why->text[0] = '\0';
    char listen[MAX_LISTEN][260], boot[64][260];
    size_t nl = split(ari_config_get(c->cfg, "network", "listen"), listen, MAX_LISTEN);
    size_t nb = split(ari_config_get(c->cfg, "network", "bootstrap"), boot, 64);
    if (!nl && !nb) {
        ari_info("peers", "no [network] listen or bootstrap: this node runs alone");
        return NULL;
    }
    const aria_transport_vt *vt = NULL;
    for (size_t i = 0;; i++) {
        const ari_iface *f = ari_registry_iface(&c->reg, ARIA_IFACE_TRANSPORT, i);
        if (!f)
            break;
        const aria_transport_vt *v = f->vt;
        int all = 1;
        for (size_t k = 0; k < nl; k++)
            all &= scheme_ok(v->schemes, listen[k]);
        for (size_t k = 0; k < nb; k++)
            all &= scheme_ok(v->schemes, boot[k]);
        if (all) {
            vt = v;
            break;
        }
    }
    if (!vt) { /* like any missing plugin: said, and the node goes on */
        ari_warn("peers",
                 "no loaded transport plugin handles [network] listen %s / bootstrap %s: "
                 "this node runs alone, without peers (aria-core plugins lists the transports)",
                 nl ? listen[0] : "-", nb ? boot[0] : "-");
        return NULL;
    }
    ari_peers *p = calloc(1, sizeof *p);
    if (!p || !(p->seen = calloc(SEEN_CAP, sizeof *p->seen))) {
        free(p);
        aria_fail(why, ARIA_ERR_NOMEM, "out of memory");
        return NULL;
    }
    p->c = c;
    p->id = *id;
    p->h = *h;
    p->vt = vt;
    p->max_peers = (size_t)atoi(ari_config_get(c->cfg, "network", "max_peers"));
    p->max_jobs = 256;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    ari_pipe_net pn = {.user = p,
                       .send = net_send,
                       .ready = net_ready,
                       .offers = net_offers,
                       .acquire = net_acquire,
                       .release = net_release,
                       .max_stages = (uint32_t)p->max_jobs,
                       .sign = net_sign,
                       .stage_threads = ari_consent_threads(
                           c->n_threads, c->cpu.cores_logical,
                           (int)ari_config_get_int(c->cfg, "consent", "cpu_percent", 50))};
    memcpy(pn.self, p->id.id, sizeof pn.self);
    memcpy(pn.self_pk, p->id.pk, sizeof pn.self_pk);
    p->pipes = ari_pipes_new(&pn);
    const char *cert = ari_config_get(c->cfg, "network", "tls_cert");
    const char *key = ari_config_get(c->cfg, "network", "tls_key");
    const char *ca = ari_config_get(c->cfg, "network", "tls_ca");
    double mbps = atof(ari_config_get(c->cfg, "consent", "max_bandwidth_mbps"));
    aria_transport_opts o = {
        .hdr = {sizeof o, ARIA_TRANSPORT_VERSION},
        .subprotocol = ARI_PROTO_SUBPROTOCOL,
        .max_message_bytes = (uint64_t)atoi(ari_config_get(c->cfg, "network", "max_message_mb"))
                             << 20,
        .ping_interval_ms = (uint32_t)atoi(ari_config_get(c->cfg, "network", "ping_interval_s")) *
                            1000u,
        .dead_after_ms = (uint32_t)atoi(ari_config_get(c->cfg, "network", "peer_timeout_s")) *
                         1000u,
        .redial_min_ms = 500,
        .redial_max_ms = 30000,
        .max_bytes_per_sec = (uint64_t)(mbps * 1e6 / 8),
        .tls_cert = cert && cert[0] ? cert : NULL,
        .tls_key = key && key[0] ? key : NULL,
        .tls_ca = ca && ca[0] ? ca : NULL,
    };
    aria_transport_events ev = {
        .user = p, .on_open = on_open, .on_message = on_message, .on_close = on_close};
    if (vt->create(NULL, &o, &ev, &p->t, why) != ARIA_OK) {
        p->t = NULL;
        ari_peers_stop(p);
        ari_peers_free(p);
        return NULL;
    }
    for (size_t i = 0; i < nl; i++) {
        aria_msg w = {{0}};
        if (vt->listen(p->t, listen[i], &w) != ARIA_OK) {
            aria_fail(why, ARIA_ERR_IO, "[network] listen %s: %s", listen[i], w.text);
            ari_peers_stop(p);
            ari_peers_free(p);
            return NULL;
        }
        if (vt->bound_url(p->t, p->n_listen, p->listen[p->n_listen], sizeof p->listen[0]) ==
            ARIA_OK) {
            ari_info("peers", "listening on %s (node %s)", p->listen[p->n_listen], p->id.id);
            p->n_listen++;
        }
    }
    if (pthread_create(&p->maint, NULL, maint_main, p) != 0) {
        aria_fail(why, ARIA_ERR_INTERNAL, "cannot start the peer thread");
        ari_peers_stop(p);
        ari_peers_free(p);
        return NULL;
    }
    p->maint_started = 1;
    for (size_t i = 0; i < nb; i++) {
        aria_msg w = {{0}};
        if (vt->dial(p->t, boot[i], 1, &w) != ARIA_OK)
            ari_warn("peers", "[network] bootstrap %s: %s", boot[i], w.text);
        else
            ari_info("peers", "bootstrap peer %s", boot[i]);
    }
    return p;
}

void ari_peers_stop(ari_peers *p)
{
    if (!p || p->stopped)
        return;
    p->stopped = 1;
    pthread_mutex_lock(&p->mu);
    p->stop = 1;
    pthread_cond_broadcast(&p->cv);
    for (peer *pe = p->peers; pe; pe = pe->next)
        if (pe->state == READY)
            send_obj(p, pe->conn, json_pack("{s:s,s:s}", "type", "bye", "reason", "node stopping"));
    pthread_mutex_unlock(&p->mu);
    if (p->maint_started)
        pthread_join(p->maint, NULL);
    /* jobs from peers end once their connections close (cancel) */
    if (p->t)
        p->vt->destroy(p->t);
    pthread_mutex_lock(&p->mu);
    uint64_t t0 = ari_now_ns();
    while (p->n_jobs && ari_now_ns() - t0 < 30ull * 1000000000ull) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 1;
        pthread_cond_timedwait(&p->cv, &p->mu, &ts);
    }
    p->t = NULL;
    size_t left = p->n_jobs;
    pthread_mutex_unlock(&p->mu);
    if (left)
        ari_warn("peers", "%zu peer request(s) still running at stop", left);
    ari_pipes_stop(p->pipes);
}

void ari_peers_free(ari_peers *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    size_t left = p->n_jobs;
    pthread_mutex_unlock(&p->mu);
    if (left)
        return; /* leak rather than free what threads still use */
    ari_pipes_free(p->pipes);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    free(p->seen);
    free(p);
}
