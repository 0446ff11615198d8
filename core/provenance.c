/* provenance.c — the node's side of the ledger. */
#include "provenance.h"

#include "host.h"
#include "ledger_json.h"
#include "log.h"
#include "peers.h"
#include "proto.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define N_REPLAYS 256   /* inferences a validator may still ask to replay */
#define N_NET_BLOCKS 256 /* the network's recent block headers kept */
#define N_QUEUE 64      /* spot-checks waiting */
#define N_HASHES 64     /* model files hashed */
#define REPLAY_WAIT_S 30

typedef struct replay {
    uint8_t id[16];
    int32_t *prompt;
    size_t n_prompt;
    uint32_t n_out;
    aria_sampling s;
} replay;

typedef struct mhash {
    char path[4096];
    off_t size;
    struct timespec mtime;
    uint8_t h[ARIA_HASH_BYTES];
} mhash;

typedef struct spot {
    aria_ledger_record r;
    char peer[ARI_ID_LEN + 1];
} spot;

struct ari_prov {
    ari_ctx *c;
    ari_service *svc;
    const aria_ledger_vt *vt;
    aria_ledger *l;
    ari_energy en;
    struct ari_peers *peers;
    int validator;
    double rate;
    uint32_t block_seconds;

    pthread_mutex_t mu; /* everything below */
    pthread_cond_t cv;
    int stop;
    pthread_t timer, checker;
    int timer_on, checker_on;
    uint64_t height; /* the last block announced */
    mhash hashes[N_HASHES];
    size_t n_hashes;
    replay replays[N_REPLAYS];
    size_t replay_at;
    struct {
        aria_ledger_block b;
        char from[ARI_ID_LEN + 1];
    } net[N_NET_BLOCKS];
    size_t n_net, net_at;
    spot queue[N_QUEUE];
    size_t q_head, q_n;
    uint8_t want[16]; /* the replay the checker waits for */
    int wanting;
    json_t *got;
    ari_prov_stats st;
};

/* ---- hashing ------------------------------------------------------------- */

static void hash_tokens(const int32_t *t, size_t n, uint8_t out[ARIA_HASH_BYTES])
{
    crypto_hash_sha256_state s;
    crypto_hash_sha256_init(&s);
    uint8_t buf[1024];
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t v = (uint32_t)t[i];
        for (int b = 0; b < 4; b++)
            buf[k++] = (uint8_t)(v >> (8 * b)); /* little-endian everywhere */
        if (k == sizeof buf) {
            crypto_hash_sha256_update(&s, buf, k);
            k = 0;
        }
    }
    crypto_hash_sha256_update(&s, buf, k);
    crypto_hash_sha256_final(&s, out);
}

/* SHA-256 of a file, cached by path, size and mtime (hashing a model file
 * takes a second or more per GB). */
static aria_err model_hash(ari_prov *p, const char *path, uint8_t out[ARIA_HASH_BYTES],
                           aria_msg *why)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return aria_fail(why, ARIA_ERR_IO, "%s: %s", path, strerror(errno));
    pthread_mutex_lock(&p->mu);
    for (size_t i = 0; i < p->n_hashes; i++) {
        mhash *m = &p->hashes[i];
        if (!strcmp(m->path, path) && m->size == st.st_size &&
            m->mtime.tv_sec == st.st_mtim.tv_sec && m->mtime.tv_nsec == st.st_mtim.tv_nsec) {
            memcpy(out, m->h, ARIA_HASH_BYTES);
            pthread_mutex_unlock(&p->mu);
            return ARIA_OK;
        }
    }
    pthread_mutex_unlock(&p->mu);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return aria_fail(why, ARIA_ERR_IO, "%s: %s", path, strerror(errno));
    crypto_hash_sha256_state s;
    crypto_hash_sha256_init(&s);
    size_t cap = 1 << 20;
    uint8_t *buf = malloc(cap);
    ssize_t n = 0;
    uint64_t t0 = ari_now_ns();
    while (buf && (n = read(fd, buf, cap)) > 0)
        crypto_hash_sha256_update(&s, buf, (unsigned long long)n);
    int err = errno;
    close(fd);
    free(buf);
    if (!buf || n < 0)
        return aria_fail(why, ARIA_ERR_IO, "%s: %s", path, buf ? strerror(err) : "out of memory");
    crypto_hash_sha256_final(&s, out);
    double sec = (double)(ari_now_ns() - t0) / 1e9;
    if (sec > 0.5)
        ari_info("ledger", "hashed %s (%.0f MB) in %.1f s", path, (double)st.st_size / 1e6, sec);
    pthread_mutex_lock(&p->mu);
    mhash *m = &p->hashes[p->n_hashes < N_HASHES ? p->n_hashes++ : (size_t)st.st_ino % N_HASHES];
    snprintf(m->path, sizeof m->path, "%s", path);
    m->size = st.st_size;
    m->mtime = st.st_mtim;
    memcpy(m->h, out, ARIA_HASH_BYTES);
    pthread_mutex_unlock(&p->mu);
    return ARIA_OK;
}

/* ---- blocks -------------------------------------------------------------- */

/* Tells the peers about every block sealed since the last one told. */
static void announce_blocks(ari_prov *p)
{
    for (;;) {
        pthread_mutex_lock(&p->mu);
        uint64_t h = p->height + 1;
        pthread_mutex_unlock(&p->mu);
        aria_ledger_block b;
        memset(&b, 0, sizeof b);
        b.hdr.struct_size = sizeof b;
        if (p->vt->get_block(p->l, h, &b) != ARIA_OK)
            return;
        pthread_mutex_lock(&p->mu);
        p->height = h;
        p->st.blocks = h;
        struct ari_peers *peers = p->peers;
        pthread_mutex_unlock(&p->mu);
        ari_debug("ledger", "block %" PRIu64 " sealed: records %" PRIu64 "-%" PRIu64, h,
                  b.first_seq, b.last_seq);
        if (peers)
            ari_peers_broadcast_json(peers, json_pack("{s:s,s:o}", "type", "block_header",
                                                      "block", ari_block_json(&b)));
    }
}

/* The last block's height (blocks are numbered 1, 2, ...). */
static uint64_t last_height(ari_prov *p)
{
    aria_ledger_block b;
    memset(&b, 0, sizeof b);
    b.hdr.struct_size = sizeof b;
    uint64_t lo = 0, hi = 1; /* get_block(lo) holds (0: none), get_block(hi) may */
    while (p->vt->get_block(p->l, hi, &b) == ARIA_OK) {
        lo = hi;
        if (hi > (UINT64_MAX >> 2))
            break;
        hi *= 2;
    }
    while (hi - lo > 1) {
        uint64_t mid = lo + (hi - lo) / 2;
        if (p->vt->get_block(p->l, mid, &b) == ARIA_OK)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

static void *timer_main(void *arg)
{
    ari_prov *p = arg;
    pthread_mutex_lock(&p->mu);
    while (!p->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += p->block_seconds;
        pthread_cond_timedwait(&p->cv, &p->mu, &ts);
        if (p->stop)
            break;
        pthread_mutex_unlock(&p->mu);
        aria_msg why = {{0}};
        aria_err e = p->vt->seal(p->l, NULL, &why);
        if (e != ARIA_OK && e != ARIA_ERR_NOT_FOUND)
            ari_warn("ledger", "cannot seal a block: %s", why.text);
        announce_blocks(p);
        pthread_mutex_lock(&p->mu);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

/* ---- records ------------------------------------------------------------- */

static void remember(ari_prov *p, const aria_ledger_record *r, const ari_prov_work *w)
{
    int32_t *copy = malloc((w->n_prompt ? w->n_prompt : 1) * sizeof *copy);
    if (!copy)
        return;
    memcpy(copy, w->prompt, w->n_prompt * sizeof *copy);
    pthread_mutex_lock(&p->mu);
    replay *rp = &p->replays[p->replay_at];
    p->replay_at = (p->replay_at + 1) % N_REPLAYS;
    free(rp->prompt);
    memcpy(rp->id, r->id, sizeof rp->id);
    rp->prompt = copy;
    rp->n_prompt = w->n_prompt;
    rp->n_out = r->tokens_out;
    rp->s = w->sampling;
    pthread_mutex_unlock(&p->mu);
}

static void count(ari_prov *p, const aria_ledger_record *r, int own)
{
    pthread_mutex_lock(&p->mu);
    if (own) {
        p->st.records++;
        p->st.energy_mj[r->energy_source < 3 ? r->energy_source : 0] += r->energy_mj;
    } else {
        p->st.peer_records++;
    }
    pthread_mutex_unlock(&p->mu);
}

aria_err ari_prov_record(ari_prov *p, const ari_prov_work *w, aria_ledger_record *out,
                         aria_msg *why)
{
    if (w->n_stages < 1 || w->n_stages > ARIA_LEDGER_MAX_STAGES || w->self >= w->n_stages)
        return aria_fail(why, ARIA_ERR_INVALID, "a record needs 1 to %d stages, this node's among them",
                         ARIA_LEDGER_MAX_STAGES);
    if (!p->c->host.sign)
        return aria_fail(why, ARIA_ERR_INVALID, "the node has no identity to sign with");
    aria_ledger_record r;
    memset(&r, 0, sizeof r);
    r.hdr.struct_size = sizeof r;
    r.hdr.version = ARIA_LEDGER_VERSION;
    randombytes_buf(r.id, sizeof r.id);
    hash_tokens(w->prompt, w->n_prompt, r.query_hash);
    hash_tokens(w->output, w->n_output, r.output_hash);
    aria_err e = model_hash(p, w->model_path, r.model_hash, why);
    if (e != ARIA_OK)
        return e;
    if (strlen(w->model_id) >= sizeof r.model_id)
        return aria_fail(why, ARIA_ERR_RANGE, "model id '%s' is over %zu bytes", w->model_id,
                         sizeof r.model_id - 1);
    snprintf(r.model_id, sizeof r.model_id, "%s", w->model_id);
    r.tokens_in = (uint32_t)w->n_prompt;
    r.tokens_out = (uint32_t)w->n_output;
    r.energy_mj = w->energy_mj;
    r.energy_source = w->energy_source;
    r.latency_us = w->latency_us;
    r.timestamp_ms = ari_wall_ms();
    r.seed = w->sampling.seed;
    r.n_stages = w->n_stages;
    for (uint32_t i = 0; i < w->n_stages; i++) {
        memcpy(r.stages[i].node_pubkey, w->stage[i].pk, ARIA_PUBKEY_BYTES);
        r.stages[i].layer_first = w->stage[i].first;
        r.stages[i].layer_end = w->stage[i].end;
    }
    uint8_t bytes[ARIA_LEDGER_SIGNED_MAX];
    size_t n = aria_ledger_signed_bytes(&r, bytes);
    if (!n)
        return aria_fail(why, ARIA_ERR_INTERNAL, "the record does not encode");
    if ((e = p->c->host.sign(bytes, n, r.stages[w->self].sig)) != ARIA_OK)
        return aria_fail(why, e, "cannot sign the record: %s", aria_strerror(e));
    for (uint32_t i = 0; i < w->n_stages; i++)
        if (i != w->self) {
            if (!w->sign_other)
                return aria_fail(why, ARIA_ERR_INVALID, "stage %u has no way to sign", i);
            if ((e = w->sign_other(w->sign_user, i, &r, r.stages[i].sig, why)) != ARIA_OK)
                return e;
        }
    if ((e = p->vt->append(p->l, &r, why)) != ARIA_OK)
        return e;
    count(p, &r, 1);
    remember(p, &r, w);
    if (out)
        *out = r;
    pthread_mutex_lock(&p->mu);
    struct ari_peers *peers = p->peers;
    pthread_mutex_unlock(&p->mu);
    if (peers)
        ari_peers_broadcast_json(peers, json_pack("{s:s,s:o}", "type", "ledger_record", "record",
                                                  ari_record_json(&r)));
    announce_blocks(p);
    return ARIA_OK;
}

/* ---- spot-checks --------------------------------------------------------- */

static json_t *sampling_json(const aria_sampling *s)
{
    char seed[24];
    snprintf(seed, sizeof seed, "%" PRIu64, s->seed);
    return json_pack("{s:f,s:f,s:f,s:i,s:f,s:i,s:f,s:f,s:s}", "temperature",
                     (double)s->temperature, "top_p", (double)s->top_p, "min_p",
                     (double)s->min_p, "top_k", s->top_k, "repeat_penalty",
                     (double)s->repeat_penalty, "repeat_last_n", s->repeat_last_n,
                     "frequency_penalty", (double)s->frequency_penalty, "presence_penalty",
                     (double)s->presence_penalty, "seed", seed);
}

static aria_err sampling_parse(json_t *o, aria_sampling *s, aria_msg *why)
{
    aria_sampling_defaults(s);
    if (!json_is_object(o))
        return aria_fail(why, ARIA_ERR_FORMAT, "ledger_replay.sampling must be an object");
    json_t *v;
#define NUM(k, dst)                                                                            \
    if ((v = json_object_get(o, k)) && json_is_number(v))                                     \
        dst = (float)json_number_value(v);
    NUM("temperature", s->temperature);
    NUM("top_p", s->top_p);
    NUM("min_p", s->min_p);
    NUM("repeat_penalty", s->repeat_penalty);
    NUM("frequency_penalty", s->frequency_penalty);
    NUM("presence_penalty", s->presence_penalty);
#undef NUM
    if ((v = json_object_get(o, "top_k")) && json_is_integer(v) && json_integer_value(v) >= 0 &&
        json_integer_value(v) < (1 << 30))
        s->top_k = (int32_t)json_integer_value(v);
    if ((v = json_object_get(o, "repeat_last_n")) && json_is_integer(v) &&
        json_integer_value(v) >= -1 && json_integer_value(v) < (1 << 30))
        s->repeat_last_n = (int32_t)json_integer_value(v);
    const char *seed = json_string_value(json_object_get(o, "seed"));
    char *end = NULL;
    if (!seed || !seed[0] || seed[0] == '-')
        return aria_fail(why, ARIA_ERR_FORMAT, "ledger_replay.sampling.seed must be a decimal string");
    errno = 0;
    s->seed = strtoull(seed, &end, 10);
    if (errno || *end)
        return aria_fail(why, ARIA_ERR_FORMAT, "ledger_replay.sampling.seed must be a decimal string");
    return aria_sampling_check(s, why);
}

typedef struct collect {
    int32_t *t;
    size_t n, cap;
} collect;

static int collect_token(void *u, const aria_token_event *ev)
{
    collect *c = u;
    if (c->n == c->cap)
        return 1;
    c->t[c->n++] = ev->token;
    return 0;
}

/* The local whole model whose file has this hash, or -1. */
static long model_with_hash(ari_prov *p, const uint8_t h[ARIA_HASH_BYTES])
{
    for (size_t i = 0; i < ari_service_count(p->svc); i++) {
        const ari_model_desc *d = ari_service_desc(p->svc, i);
        uint8_t mh[ARIA_HASH_BYTES];
        if (d && !d->gone && ari_model_whole(d) && model_hash(p, d->path, mh, NULL) == ARIA_OK &&
            !memcmp(mh, h, ARIA_HASH_BYTES))
            return (long)i;
    }
    return -1;
}

/* Asks the peer for what it ran, re-runs it here, compares. Returns 1 when
 * the check was made (then *c is filled), 0 when it could not be (logged). */
static int run_check(ari_prov *p, const spot *sp, aria_ledger_check *c)
{
    const aria_ledger_record *r = &sp->r;
    char idh[33];
    ari_hex(r->id, sizeof r->id, idh);
    long mi = model_with_hash(p, r->model_hash);
    if (mi < 0) {
        ari_info("ledger", "spot-check of %s (%s, peer %.12s) skipped: no local copy of that model "
                 "file", idh, r->model_id, sp->peer);
        return 0;
    }
    pthread_mutex_lock(&p->mu);
    memcpy(p->want, r->id, sizeof p->want);
    p->wanting = 1;
    if (p->got)
        json_decref(p->got);
    p->got = NULL;
    struct ari_peers *peers = p->peers;
    pthread_mutex_unlock(&p->mu);
    if (!peers || ari_peers_send_json(peers, sp->peer, json_pack("{s:s,s:s}", "type",
                                                                  "ledger_replay_get", "id",
                                                                  idh)) != ARIA_OK) {
        ari_info("ledger", "spot-check of %s skipped: peer %.12s is gone", idh, sp->peer);
        return 0;
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += REPLAY_WAIT_S;
    pthread_mutex_lock(&p->mu);
    while (!p->got && !p->stop)
        if (pthread_cond_timedwait(&p->cv, &p->mu, &ts) == ETIMEDOUT)
            break;
    json_t *got = p->got;
    p->got = NULL;
    p->wanting = 0;
    pthread_mutex_unlock(&p->mu);
    if (!got) {
        ari_info("ledger", "spot-check of %s skipped: peer %.12s did not answer", idh, sp->peer);
        return 0;
    }
    int made = 0;
    aria_msg why = {{0}};
    json_t *pr = json_object_get(got, "prompt");
    const char *err = json_string_value(json_object_get(got, "error"));
    aria_sampling smp;
    size_t np = json_array_size(pr);
    int32_t *prompt = NULL;
    collect out = {0};
    if (err) {
        ari_info("ledger", "spot-check of %s skipped: peer %.12s says: %s", idh, sp->peer, err);
        goto done;
    }
    if (sampling_parse(json_object_get(got, "sampling"), &smp, &why) != ARIA_OK) {
        ari_warn("ledger", "spot-check of %s: peer %.12s sent a bad replay: %s", idh, sp->peer,
                 why.text);
        goto done;
    }
    prompt = malloc((np ? np : 1) * sizeof *prompt);
    out.cap = r->tokens_out;
    out.t = malloc((out.cap ? out.cap : 1) * sizeof *out.t);
    if (!prompt || !out.t)
        goto done;
    for (size_t i = 0; i < np; i++) {
        json_t *v = json_array_get(pr, i);
        if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > INT32_MAX) {
            ari_warn("ledger", "spot-check of %s: peer %.12s sent a bad prompt token", idh,
                     sp->peer);
            goto done;
        }
        prompt[i] = (int32_t)json_integer_value(v);
    }
    uint8_t qh[ARIA_HASH_BYTES];
    hash_tokens(prompt, np, qh);
    if (memcmp(qh, r->query_hash, sizeof qh)) {
        ari_warn("ledger", "spot-check of %s: the prompt peer %.12s replayed does not hash to the "
                 "record's", idh, sp->peer);
        memset(c->got_hash, 0, sizeof c->got_hash);
        made = 1; /* the peer's own record does not match what it says it ran */
        goto verdict;
    }
    ari_lease lease;
    if (ari_service_acquire(p->svc, (size_t)mi, NULL, NULL, ari_now_ns() + 600ull * 1000000000ull,
                            &lease, &why) != ARIA_OK) {
        ari_info("ledger", "spot-check of %s skipped: %s", idh, why.text);
        goto done;
    }
    aria_gen_params gp;
    memset(&gp, 0, sizeof gp);
    gp.hdr.struct_size = sizeof gp;
    gp.hdr.version = 1;
    gp.sampling = smp;
    gp.max_tokens = r->tokens_out;
    gp.on_token = collect_token;
    gp.user = &out;
    gp.cancel = &p->stop;
    aria_gen_result res;
    memset(&res, 0, sizeof res);
    res.hdr.struct_size = sizeof res;
    aria_err e = r->tokens_out ? lease.vt->generate(lease.sess, prompt, np, &gp, &res, &why)
                               : ARIA_OK;
    ari_service_release(&lease);
    if (e != ARIA_OK) {
        ari_info("ledger", "spot-check of %s skipped: the re-run failed: %s", idh, why.text);
        goto done;
    }
    hash_tokens(out.t, out.n, c->got_hash);
    made = 1;
verdict:
    memcpy(c->record_id, r->id, sizeof c->record_id);
    memcpy(c->expected_hash, r->output_hash, sizeof c->expected_hash);
    c->passed = !memcmp(c->got_hash, c->expected_hash, ARIA_HASH_BYTES);
    c->timestamp_ms = ari_wall_ms();
done:
    free(prompt);
    free(out.t);
    json_decref(got);
    return made;
}

static void *checker_main(void *arg)
{
    ari_prov *p = arg;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->q_n && !p->stop)
            pthread_cond_wait(&p->cv, &p->mu);
        if (p->stop)
            break;
        spot sp = p->queue[p->q_head];
        p->q_head = (p->q_head + 1) % N_QUEUE;
        p->q_n--;
        pthread_mutex_unlock(&p->mu);
        aria_ledger_check c;
        memset(&c, 0, sizeof c);
        c.hdr.struct_size = sizeof c;
        c.hdr.version = ARIA_LEDGER_VERSION;
        if (run_check(p, &sp, &c)) {
            char idh[33];
            ari_hex(sp.r.id, sizeof sp.r.id, idh);
            aria_msg why = {{0}};
            pthread_mutex_lock(&p->mu);
            struct ari_peers *peers = p->peers;
            pthread_mutex_unlock(&p->mu);
            /* the work of every other stage is what was checked */
            for (uint32_t i = 0; i < sp.r.n_stages; i++) {
                const uint8_t *pk = sp.r.stages[i].node_pubkey;
                if (!memcmp(pk, p->c->host.node_pubkey, ARIA_PUBKEY_BYTES))
                    continue;
                memcpy(c.peer_pubkey, pk, ARIA_PUBKEY_BYTES);
                memset(c.validator_pubkey, 0, sizeof c.validator_pubkey);
                if ((!ARIA_HAS(p->vt, aria_ledger_vt, add_check) || !p->vt->add_check ||
                     p->vt->add_check(p->l, &c, &why) != ARIA_OK) &&
                    why.text[0])
                    ari_warn("ledger", "cannot store the spot-check of %s: %s", idh, why.text);
                if (peers)
                    ari_peers_rate(peers, pk, (int)c.passed);
            }
            pthread_mutex_lock(&p->mu);
            p->st.checks++;
            p->st.checks_failed += !c.passed;
            pthread_mutex_unlock(&p->mu);
            if (c.passed)
                ari_info("ledger", "spot-check of %s (%s, %u tokens, peer %.12s): passed", idh,
                         sp.r.model_id, sp.r.tokens_out, sp.peer);
            else
                ari_warn("ledger", "spot-check of %s (%s, %u tokens, peer %.12s): FAILED, the "
                         "re-run's output differs; the peer's reputation drops", idh,
                         sp.r.model_id, sp.r.tokens_out, sp.peer);
        }
        pthread_mutex_lock(&p->mu);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

/* ---- peer messages ------------------------------------------------------- */

static int on_record(ari_prov *p, const char *peer_id, const uint8_t pk[32], json_t *msg,
                     aria_msg *why)
{
    aria_ledger_record r;
    if (ari_record_parse(json_object_get(msg, "record"), &r, why) != ARIA_OK)
        return -1;
    int theirs = 0;
    for (uint32_t i = 0; i < r.n_stages; i++)
        theirs |= !memcmp(r.stages[i].node_pubkey, pk, ARIA_PUBKEY_BYTES);
    if (!theirs) {
        aria_fail(why, ARIA_ERR_INVALID, "a ledger_record of work the peer did not take part in");
        return -1;
    }
    char idh[33];
    ari_hex(r.id, sizeof r.id, idh);
    aria_msg w2 = {{0}};
    r.seq = 0;
    memset(r.prev_hash, 0, sizeof r.prev_hash);
    memset(r.hash, 0, sizeof r.hash);
    aria_err e = p->vt->append(p->l, &r, &w2);
    if (e == ARIA_ERR_SIGNATURE) {
        ari_warn("ledger", "peer %.12s: record %s refused: %s", peer_id, idh, w2.text);
        return 0;
    }
    if (e != ARIA_OK) { /* most often: stored already */
        ari_debug("ledger", "peer %.12s: record %s not stored: %s", peer_id, idh, w2.text);
        return 0;
    }
    count(p, &r, 0);
    announce_blocks(p);
    if (!p->validator || p->rate <= 0 ||
        (double)randombytes_uniform(1000000) >= p->rate * 1000000.0)
        return 0;
    pthread_mutex_lock(&p->mu);
    if (p->q_n < N_QUEUE) {
        spot *sp = &p->queue[(p->q_head + p->q_n) % N_QUEUE];
        sp->r = r;
        snprintf(sp->peer, sizeof sp->peer, "%s", peer_id);
        p->q_n++;
        pthread_cond_broadcast(&p->cv);
    }
    pthread_mutex_unlock(&p->mu);
    return 0;
}

static int on_replay_get(ari_prov *p, const char *peer_id, json_t *msg, aria_msg *why)
{
    const char *idh = json_string_value(json_object_get(msg, "id"));
    uint8_t id[16];
    if (!idh || strlen(idh) != 32 || ari_unhex(idh, id, sizeof id)) {
        aria_fail(why, ARIA_ERR_FORMAT, "'ledger_replay_get'.id must be 32 hex digits");
        return -1;
    }
    json_t *o = NULL;
    pthread_mutex_lock(&p->mu);
    for (size_t i = 0; i < N_REPLAYS && !o; i++) {
        replay *rp = &p->replays[i];
        if (!rp->prompt || memcmp(rp->id, id, sizeof id))
            continue;
        json_t *pr = json_array();
        for (size_t k = 0; k < rp->n_prompt; k++)
            json_array_append_new(pr, json_integer(rp->prompt[k]));
        o = json_pack("{s:s,s:s,s:o,s:i,s:o}", "type", "ledger_replay", "id", idh, "prompt", pr,
                      "max_tokens", (int)rp->n_out, "sampling", sampling_json(&rp->s));
    }
    pthread_mutex_unlock(&p->mu);
    if (!o)
        o = json_pack("{s:s,s:s,s:s}", "type", "ledger_replay", "id", idh, "error",
                      "this node no longer holds that inference's prompt");
    ari_debug("ledger", "peer %.12s asked to replay %s", peer_id, idh);
    if (p->peers)
        ari_peers_send_json(p->peers, peer_id, o);
    else
        json_decref(o);
    return 0;
}

static int on_replay(ari_prov *p, json_t *msg, aria_msg *why)
{
    const char *idh = json_string_value(json_object_get(msg, "id"));
    uint8_t id[16];
    if (!idh || strlen(idh) != 32 || ari_unhex(idh, id, sizeof id)) {
        aria_fail(why, ARIA_ERR_FORMAT, "'ledger_replay'.id must be 32 hex digits");
        return -1;
    }
    pthread_mutex_lock(&p->mu);
    if (p->wanting && !memcmp(p->want, id, sizeof id) && !p->got) {
        p->got = json_incref(msg);
        pthread_cond_broadcast(&p->cv);
    }
    pthread_mutex_unlock(&p->mu);
    return 0;
}

static int on_block(ari_prov *p, const char *peer_id, const uint8_t pk[32], json_t *msg,
                    aria_msg *why)
{
    aria_ledger_block b;
    if (ari_block_parse(json_object_get(msg, "block"), &b, why) != ARIA_OK)
        return -1;
    uint8_t h[ARIA_HASH_BYTES];
    aria_ledger_block_hash(&b, h);
    const char *bad = memcmp(b.sealer_pubkey, pk, ARIA_PUBKEY_BYTES) ? "sealed by another key"
                      : memcmp(h, b.hash, sizeof h)                  ? "its hash does not match"
                      : aria_ledger_check_block(&b) != ARIA_OK       ? "bad signature"
                                                                     : NULL;
    if (bad) {
        ari_warn("ledger", "peer %.12s: block header %" PRIu64 " refused: %s", peer_id, b.height,
                 bad);
        return 0;
    }
    pthread_mutex_lock(&p->mu);
    p->net[p->net_at].b = b;
    snprintf(p->net[p->net_at].from, sizeof p->net[p->net_at].from, "%s", peer_id);
    p->net_at = (p->net_at + 1) % N_NET_BLOCKS;
    if (p->n_net < N_NET_BLOCKS)
        p->n_net++;
    p->st.peer_blocks++;
    pthread_mutex_unlock(&p->mu);
    return 0;
}

int ari_prov_on_message(ari_prov *p, const char *peer_id, const uint8_t peer_pk[32],
                        const char *type, json_t *msg, aria_msg *why)
{
    if (!strcmp(type, "ledger_record"))
        return on_record(p, peer_id, peer_pk, msg, why);
    if (!strcmp(type, "ledger_replay_get"))
        return on_replay_get(p, peer_id, msg, why);
    if (!strcmp(type, "ledger_replay"))
        return on_replay(p, msg, why);
    if (!strcmp(type, "block_header"))
        return on_block(p, peer_id, peer_pk, msg, why);
    aria_fail(why, ARIA_ERR_FORMAT, "'%s' is not a ledger message", type);
    return -1;
}

/* ---- life ---------------------------------------------------------------- */

ari_prov *ari_prov_open(ari_ctx *c, ari_service *svc, aria_msg *why)
{
    why->text[0] = 0;
    if (!ari_config_get_bool(c->cfg, "ledger", "enabled", 1)) {
        ari_info("ledger", "off ([ledger] enabled = false): inferences are not recorded");
        return NULL;
    }
    const ari_iface *f = ari_registry_iface(&c->reg, ARIA_IFACE_LEDGER, 0);
    if (!f) {
        ari_warn("ledger", "no ledger plugin loaded: inferences are not recorded");
        return NULL;
    }
    ari_prov *p = calloc(1, sizeof *p);
    if (!p) {
        aria_fail(why, ARIA_ERR_NOMEM, "out of memory");
        return NULL;
    }
    p->c = c;
    p->svc = svc;
    p->vt = f->vt;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    char path[4200];
    const char *cp = ari_config_get(c->cfg, "ledger", "path");
    if (cp && cp[0])
        snprintf(path, sizeof path, "%s", cp);
    else
        snprintf(path, sizeof path, "%s/ledger.db", c->data_dir);
    aria_ledger_opts o = {.hdr = {sizeof o, ARIA_LEDGER_VERSION},
                          .path = path,
                          .block_records =
                              (uint32_t)ari_config_get_int(c->cfg, "ledger", "block_records", 64),
                          .block_seconds =
                              (uint32_t)ari_config_get_int(c->cfg, "ledger", "block_seconds", 60)};
    p->block_seconds = o.block_seconds ? o.block_seconds : 60;
    p->validator = ari_config_get_bool(c->cfg, "ledger", "validator", 0);
    p->rate = ari_config_get_double(c->cfg, "ledger", "spot_check_rate", 0.05);
    aria_msg ew = {{0}};
    ari_energy_init(&p->en, "/sys/class/powercap",
                    ari_config_get_double(c->cfg, "ledger", "core_watts", 15), &ew);
    if (p->vt->open(f->plugin ? f->plugin->ctx : NULL, &o, &p->l, why) != ARIA_OK) {
        pthread_mutex_destroy(&p->mu);
        pthread_cond_destroy(&p->cv);
        free(p);
        return NULL;
    }
    p->height = last_height(p);
    p->st.blocks = p->height;
    ari_info("ledger", "%s (%s), %" PRIu64 " blocks; energy %s%s%s; %s", path,
             ((const aria_ledger_vt *)f->vt)->name, p->height,
             ari_energy_measured(&p->en) ? "measured (RAPL)" : "estimated from CPU time",
             ew.text[0] ? ": " : "", ew.text,
             p->validator ? "validator: re-runs a sample of the peers' records" : "not a validator");
    p->timer_on = pthread_create(&p->timer, NULL, timer_main, p) == 0;
    p->checker_on = p->validator && pthread_create(&p->checker, NULL, checker_main, p) == 0;
    return p;
}

void ari_prov_set_peers(ari_prov *p, struct ari_peers *peers)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->peers = peers;
    pthread_mutex_unlock(&p->mu);
}

const ari_energy *ari_prov_energy(const ari_prov *p)
{
    return &p->en;
}

void ari_prov_free(ari_prov *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->stop = 1;
    p->peers = NULL;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    if (p->timer_on)
        pthread_join(p->timer, NULL);
    if (p->checker_on)
        pthread_join(p->checker, NULL);
    aria_msg why = {{0}};
    aria_err e = p->vt->seal(p->l, NULL, &why); /* what is pending goes into a block */
    if (e != ARIA_OK && e != ARIA_ERR_NOT_FOUND)
        ari_warn("ledger", "cannot seal the last block: %s", why.text);
    p->vt->close(p->l);
    for (size_t i = 0; i < N_REPLAYS; i++)
        free(p->replays[i].prompt);
    if (p->got)
        json_decref(p->got);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    free(p);
}

void ari_prov_stats_get(ari_prov *p, ari_prov_stats *out)
{
    pthread_mutex_lock(&p->mu);
    *out = p->st;
    pthread_mutex_unlock(&p->mu);
}

json_t *ari_prov_blocks_json(ari_prov *p, size_t max)
{
    json_t *own = json_array(), *net = json_array();
    pthread_mutex_lock(&p->mu);
    uint64_t h = p->height;
    size_t n_net = p->n_net, at = p->net_at;
    for (size_t k = 0; k < n_net && k < max; k++) {
        size_t i = (at + N_NET_BLOCKS - 1 - k) % N_NET_BLOCKS;
        json_t *b = ari_block_json(&p->net[i].b);
        json_object_set_new(b, "from", json_string(p->net[i].from));
        json_array_append_new(net, b);
    }
    pthread_mutex_unlock(&p->mu);
    for (uint64_t k = 0; k < max && k < h; k++) {
        aria_ledger_block b;
        memset(&b, 0, sizeof b);
        b.hdr.struct_size = sizeof b;
        if (p->vt->get_block(p->l, h - k, &b) == ARIA_OK)
            json_array_append_new(own, ari_block_json(&b));
    }
    return json_pack("{s:o,s:o}", "blocks", own, "network", net);
}
