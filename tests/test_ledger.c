/* test_ledger.c — the ledger-sqlite plugin, loaded for real through core's
 * loader, with an Ed25519 identity in the host: the canonical bytes (pinned
 * by golden hashes computed outside C), append/get/iterate, blocks, spot-
 * checks, tampering with every stored column of every table, kill -9 in the
 * middle of appends, schema versions, malformed rows, threads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "config.h"
#include "cpu.h"
#include "host.h"
#include "loader.h"
#include "registry.h"

#include <aria/ledger.h>

#include <sodium.h>
#include <sqlite3.h>

#include <errno.h>
#include <ftw.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PLUGIN ARIA_PLUGIN_DIR "/ledger-sqlite.so"

/* ---- the world: a config, the plugin loaded, a host that can sign -------- */

/* host->sign takes no user pointer, so the node's key is file-wide. */
static uint8_t node_pk[crypto_sign_PUBLICKEYBYTES], node_sk[crypto_sign_SECRETKEYBYTES];
/* Each stage of a pipeline has its own node, hence its own key. */
static uint8_t stage_pk[3][crypto_sign_PUBLICKEYBYTES], stage_sk[3][crypto_sign_SECRETKEYBYTES];

static aria_err test_sign(const void *msg, size_t len, uint8_t sig[ARIA_SIG_BYTES])
{
    crypto_sign_detached(sig, NULL, msg, len, node_sk);
    return ARIA_OK;
}

typedef struct world {
    ari_config *cfg;
    ari_registry reg;
    aria_cpu_info cpu;
    aria_host host;
    const aria_ledger_vt *vt;
    void *ctx;
    char dir[64];
} world;

static world W;

static int world_open(const char *sync)
{
    memset(&W, 0, sizeof W);
    if (sodium_init() < 0)
        return -1;
    W.cfg = ari_config_new();
    aria_msg why = {{0}};
    if (sync && ari_config_set(W.cfg, "plugin.ledger-sqlite", "sync", sync, &why) != ARIA_OK) {
        fprintf(stderr, "sync=%s: %s\n", sync, why.text);
        return -1;
    }
    ari_registry_init(&W.reg);
    ari_cpu_detect(NULL, &W.cpu);
    ari_host_init(&W.host, W.cfg, &W.reg, &W.cpu, "/tmp", 1);
    crypto_sign_keypair(node_pk, node_sk);
    for (int i = 0; i < 3; i++)
        crypto_sign_keypair(stage_pk[i], stage_sk[i]);
    W.host.sign = test_sign;
    memcpy(W.host.node_pubkey, node_pk, sizeof node_pk);
    if (ari_load_file(&W.reg, PLUGIN, &W.host, W.cfg, &why) != ARIA_OK) {
        fprintf(stderr, "%s: %s\n", PLUGIN, why.text);
        return -1;
    }
    const ari_iface *f = ari_registry_iface(&W.reg, ARIA_IFACE_LEDGER, 0);
    if (!f || strcmp(((const aria_ledger_vt *)f->vt)->name, "sqlite"))
        return -1;
    W.vt = f->vt;
    W.ctx = f->plugin->ctx;
    snprintf(W.dir, sizeof W.dir, "/tmp/aria-test-ledger-XXXXXX");
    return mkdtemp(W.dir) ? 0 : -1;
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static int world_close(void)
{
    if (W.dir[0])
        nftw(W.dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    ari_registry_fini(&W.reg);
    ari_config_free(W.cfg);
    return 0;
}

static int setup(void **state)
{
    (void)state;
    return world_open(NULL);
}

static int teardown(void **state)
{
    (void)state;
    return world_close();
}

/* ---- helpers --------------------------------------------------------------- */

/* W.dir/name; the last 32 answers stay valid (hold on to them no longer). */
static const char *path_of(const char *name)
{
    static char buf[32][128];
    static int at;
    char *p = buf[at++ % 32];
    snprintf(p, sizeof buf[0], "%s/%s", W.dir, name);
    return p;
}

static aria_ledger *open_ledger(const char *path, uint32_t block_records, uint32_t block_seconds)
{
    aria_ledger_opts o = {.hdr = {sizeof o, ARIA_LEDGER_VERSION},
                          .path = path,
                          .block_records = block_records,
                          .block_seconds = block_seconds};
    aria_ledger *l = NULL;
    aria_msg why = {{0}};
    aria_err e = W.vt->open(W.ctx, &o, &l, &why);
    if (e != ARIA_OK)
        fail_msg("open %s: %s (%s)", path, why.text, aria_strerror(e));
    return l;
}

static int64_t wall_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void sign_stages(aria_ledger_record *r)
{
    uint8_t bytes[ARIA_LEDGER_SIGNED_MAX];
    size_t n = aria_ledger_signed_bytes(r, bytes);
    assert_true(n > 0);
    for (uint32_t i = 0; i < r->n_stages; i++)
        crypto_sign_detached(r->stages[i].sig, NULL, bytes, n, stage_sk[i % 3]);
}

/* A record of n_stages stages, each signed by its own node's key. */
static void make_record(aria_ledger_record *r, uint32_t n_stages, uint32_t k)
{
    memset(r, 0, sizeof *r);
    r->hdr.struct_size = sizeof *r;
    r->hdr.version = ARIA_LEDGER_VERSION;
    randombytes_buf(r->id, sizeof r->id);
    memset(r->query_hash, (int)(k & 0xff), ARIA_HASH_BYTES);
    memset(r->output_hash, (int)((k + 1) & 0xff), ARIA_HASH_BYTES);
    memset(r->model_hash, 0x5a, ARIA_HASH_BYTES);
    snprintf(r->model_id, sizeof r->model_id, "test-model-%u", k % 4);
    r->tokens_in = 10 + k;
    r->tokens_out = 100 + k;
    r->energy_mj = 1000000ull * k + 7;
    r->energy_source = k % 3;
    r->latency_us = 5000 + k;
    r->timestamp_ms = wall_ms();
    r->seed = UINT64_MAX - k; /* above INT64_MAX: the int64 storage must round-trip */
    r->n_stages = n_stages;
    for (uint32_t i = 0; i < n_stages; i++) {
        memcpy(r->stages[i].node_pubkey, stage_pk[i % 3], ARIA_PUBKEY_BYTES);
        r->stages[i].layer_first = 10 * i;
        r->stages[i].layer_end = 10 * i + 10;
    }
    sign_stages(r);
}

static uint64_t append_n(aria_ledger *l, uint32_t n, uint32_t k0)
{
    uint64_t last = 0;
    for (uint32_t k = k0; k < k0 + n; k++) {
        aria_ledger_record r;
        make_record(&r, k % 3 == 0 ? 3 : 1, k);
        aria_msg why = {{0}};
        aria_err e = W.vt->append(l, &r, &why);
        if (e != ARIA_OK)
            fail_msg("append %u: %s", k, why.text);
        last = r.seq;
    }
    return last;
}

static aria_err verify(aria_ledger *l, aria_ledger_report *rep)
{
    memset(rep, 0, sizeof *rep);
    rep->hdr.struct_size = sizeof *rep;
    rep->hdr.version = ARIA_LEDGER_VERSION;
    return W.vt->verify(l, rep);
}

static void assert_clean(aria_ledger *l, uint64_t n_records, uint64_t n_blocks)
{
    aria_ledger_report rep;
    aria_err e = verify(l, &rep);
    if (e != ARIA_OK)
        fail_msg("verify: %s: %s", aria_strerror(e), rep.detail);
    assert_int_equal(rep.first_bad_seq, 0);
    assert_int_equal(rep.first_bad_height, 0);
    assert_int_equal(rep.n_records, n_records);
    assert_int_equal(rep.n_blocks, n_blocks);
}

static aria_err get_record(aria_ledger *l, uint64_t seq, aria_ledger_record *r)
{
    memset(r, 0, sizeof *r);
    r->hdr.struct_size = sizeof *r;
    return W.vt->get(l, seq, r);
}

static aria_err get_block(aria_ledger *l, uint64_t h, aria_ledger_block *b)
{
    memset(b, 0, sizeof *b);
    b->hdr.struct_size = sizeof *b;
    return W.vt->get_block(l, h, b);
}

static void hex(const uint8_t *p, size_t n, char *out)
{
    sodium_bin2hex(out, 2 * n + 1, p, n);
}

#define assert_hex(bytes, want)                                                                    \
    do {                                                                                           \
        char h_[65];                                                                               \
        hex((bytes), 32, h_);                                                                      \
        assert_string_equal(h_, (want));                                                           \
    } while (0)

#define assert_has(text, want)                                                                     \
    do {                                                                                           \
        if (!strstr((text), (want)))                                                               \
            fail_msg("'%s' lacks '%s'", (text), (want));                                           \
    } while (0)

static void copy_file(const char *from, const char *to)
{
    FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
    assert_non_null(in);
    assert_non_null(out);
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        assert_int_equal(fwrite(buf, 1, n, out), n);
    fclose(in);
    assert_int_equal(fclose(out), 0);
}

/* A closed ledger's file (its WAL checkpointed away) copied to `to`. */
static void copy_db(const char *from, const char *to)
{
    char wal[256];
    snprintf(wal, sizeof wal, "%s-wal", from);
    assert_int_not_equal(access(wal, F_OK), 0); /* close checkpointed and removed it */
    snprintf(wal, sizeof wal, "%s-wal", to);
    unlink(wal);
    snprintf(wal, sizeof wal, "%s-shm", to);
    unlink(wal);
    copy_file(from, to);
}

static void sql_exec(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    char *err = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK)
        fail_msg("%s: %s", sql, err);
    assert_true(sqlite3_changes(db) >= 0);
    sqlite3_close(db);
}

/* ---- canonical bytes ----------------------------------------------------- */

/* The golden values below were computed with Python's hashlib from the
 * layout as documented (magic, fields in struct order, little-endian,
 * model_id as u16 length + bytes), not from this C code. */
static void golden_record(aria_ledger_record *r)
{
    memset(r, 0, sizeof *r);
    r->hdr.struct_size = sizeof *r;
    for (int i = 0; i < 16; i++)
        r->id[i] = (uint8_t)i;
    memset(r->query_hash, 0x11, 32);
    memset(r->output_hash, 0x22, 32);
    memset(r->model_hash, 0x33, 32);
    snprintf(r->model_id, sizeof r->model_id, "bitnet-2b");
    r->tokens_in = 7;
    r->tokens_out = 300;
    r->energy_mj = 123456789;
    r->energy_source = 2;
    r->n_stages = 2;
    r->latency_us = 987654;
    r->timestamp_ms = 1796200000000;
    r->seed = 0xfedcba9876543210ull;
    memset(r->stages[0].node_pubkey, 0x44, 32);
    r->stages[0].layer_first = 0;
    r->stages[0].layer_end = 15;
    memset(r->stages[0].sig, 0x66, 64);
    memset(r->stages[1].node_pubkey, 0x55, 32);
    r->stages[1].layer_first = 15;
    r->stages[1].layer_end = 30;
    memset(r->stages[1].sig, 0x77, 64);
    r->seq = 42;
    memset(r->prev_hash, 0x88, 32);
}

static void test_canonical_bytes(void **state)
{
    (void)state;
    aria_ledger_record r;
    golden_record(&r);
    uint8_t bytes[ARIA_LEDGER_SIGNED_MAX], h[32];
    size_t n = aria_ledger_signed_bytes(&r, bytes);
    assert_int_equal(n, 9 + 16 + 96 + 2 + 9 + 48 + 2 * 40);
    assert_memory_equal(bytes, "ARIA-REC1", 9);
    crypto_hash_sha256(h, bytes, n);
    assert_hex(h, "19339945a84b3ca2bce2244afe9100ff9b818bf14b1c5e64faf68091d89b5d06");
    aria_ledger_record_hash(&r, h);
    assert_hex(h, "d7c11d585359fff2f1c898c288f86fae6cef9e69410cded95cdb62093acd4b9d");
    /* seq, prev_hash, hash and the signatures are not signed; bytes past the
     * model_id's NUL and past n_stages are not part of anything */
    aria_ledger_record r2 = r;
    r2.seq = 1;
    memset(r2.prev_hash, 0, 32);
    memset(r2.hash, 0xee, 32);
    memset(r2.stages[0].sig, 0, 64);
    r2.model_id[100] = 'z';
    memset(r2.stages[5].node_pubkey, 0x99, 32);
    uint8_t bytes2[ARIA_LEDGER_SIGNED_MAX];
    assert_int_equal(aria_ledger_signed_bytes(&r2, bytes2), n);
    assert_memory_equal(bytes, bytes2, n);
    /* invalid records encode to nothing */
    r2.n_stages = 0;
    assert_int_equal(aria_ledger_signed_bytes(&r2, bytes2), 0);
    r2.n_stages = ARIA_LEDGER_MAX_STAGES + 1;
    assert_int_equal(aria_ledger_signed_bytes(&r2, bytes2), 0);
    r2.n_stages = 1;
    memset(r2.model_id, 'x', sizeof r2.model_id);
    assert_int_equal(aria_ledger_signed_bytes(&r2, bytes2), 0);
    assert_int_equal(aria_ledger_check_stage(&r2, 0), ARIA_ERR_INVALID);
    /* the longest record fits the bound */
    r2.n_stages = ARIA_LEDGER_MAX_STAGES;
    memset(r2.model_id, 'x', sizeof r2.model_id - 1);
    r2.model_id[sizeof r2.model_id - 1] = 0;
    assert_true(aria_ledger_signed_bytes(&r2, bytes2) <= ARIA_LEDGER_SIGNED_MAX);
    assert_true(aria_ledger_signed_bytes(&r2, bytes2) > 0);

    aria_ledger_block b;
    memset(&b, 0, sizeof b);
    b.height = 3;
    b.first_seq = 129;
    b.last_seq = 192;
    memset(b.prev_hash, 0x99, 32);
    memset(b.merkle_root, 0xaa, 32);
    memset(b.sealer_pubkey, 0xbb, 32);
    b.timestamp_ms = 1796200000001;
    uint8_t bb[ARIA_LEDGER_BLOCK_BYTES];
    assert_int_equal(aria_ledger_block_bytes(&b, bb), 137);
    assert_memory_equal(bb, "ARIA-BLK1", 9);
    aria_ledger_block_hash(&b, h);
    assert_hex(h, "f21472e70daea6b7736b1d9ca7bc6f80fb7eafe520b6f9380b1714485634ab0a");

    aria_ledger_check c;
    memset(&c, 0, sizeof c);
    memset(c.record_id, 0x01, 16);
    memset(c.peer_pubkey, 0x02, 32);
    memset(c.expected_hash, 0x03, 32);
    memset(c.got_hash, 0x04, 32);
    c.passed = 1;
    c.timestamp_ms = 1796200000002;
    memset(c.validator_pubkey, 0x05, 32);
    uint8_t cb[ARIA_LEDGER_CHECK_BYTES];
    n = aria_ledger_check_bytes(&c, cb);
    assert_int_equal(n, 169);
    assert_memory_equal(cb, "ARIA-CHK1", 9);
    crypto_hash_sha256(h, cb, n);
    assert_hex(h, "24e59b0ee1779653a894f888b84a9c8ba58fd8495cd7f72a46ed27e499a0e308");
}

/* An independent Merkle root: pairs level by level, an odd node promoted. */
static void ref_merkle(uint8_t (*hs)[32], size_t n, uint8_t out[32])
{
    if (!n) {
        memset(out, 0, 32);
        return;
    }
    uint8_t(*lv)[32] = malloc(n * 32);
    assert_non_null(lv);
    for (size_t i = 0; i < n; i++) {
        uint8_t in[33] = {0x00};
        memcpy(in + 1, hs[i], 32);
        crypto_hash_sha256(lv[i], in, sizeof in);
    }
    while (n > 1) {
        size_t m = 0;
        for (size_t i = 0; i < n; i += 2, m++) {
            if (i + 1 == n) {
                memmove(lv[m], lv[i], 32);
                continue;
            }
            uint8_t in[65] = {0x01};
            memcpy(in + 1, lv[i], 32);
            memcpy(in + 33, lv[i + 1], 32);
            crypto_hash_sha256(lv[m], in, sizeof in);
        }
        n = m;
    }
    memcpy(out, lv[0], 32);
    free(lv);
}

static void test_merkle(void **state)
{
    (void)state;
    uint8_t hs[40][32], got[32], want[32];
    for (int i = 0; i < 40; i++)
        crypto_hash_sha256(hs[i], (const uint8_t *)&i, sizeof i);
    for (size_t n = 0; n <= 40; n++) {
        aria_ledger_merkle_root((const uint8_t(*)[32])hs, n, got);
        ref_merkle(hs, n, want);
        if (memcmp(got, want, 32))
            fail_msg("merkle root of %zu leaves differs from the level-by-level one", n);
    }
    uint8_t three[3][32];
    for (int i = 0; i < 3; i++)
        memset(three[i], i + 1, 32);
    aria_ledger_merkle_root((const uint8_t(*)[32])three, 3, got);
    assert_hex(got, "df896896c799531f1fd1e556cea26a6989ab06853bcbfdd3e4f5097a611f658f");
}

/* ---- append, get, iterate ---------------------------------------------------- */

static void test_roundtrip(void **state)
{
    (void)state;
    aria_ledger *l = open_ledger(path_of("rt.db"), 0, 0);
    aria_ledger_record in[4], out;
    uint32_t stages[4] = {1, 3, 1, 3};
    uint8_t zero[32] = {0};
    for (int i = 0; i < 4; i++) {
        make_record(&in[i], stages[i], (uint32_t)i);
        aria_msg why = {{0}};
        assert_int_equal(W.vt->append(l, &in[i], &why), ARIA_OK);
        assert_int_equal(in[i].seq, (uint64_t)i + 1);
        assert_memory_equal(in[i].prev_hash, i ? in[i - 1].hash : zero, 32);
        uint8_t h[32];
        aria_ledger_record_hash(&in[i], h);
        assert_memory_equal(in[i].hash, h, 32);
        assert_memory_not_equal(in[i].hash, zero, 32);
    }
    for (int i = 0; i < 4; i++) {
        assert_int_equal(get_record(l, (uint64_t)i + 1, &out), ARIA_OK);
        assert_memory_equal(&out, &in[i], sizeof out); /* every byte, stages included */
        for (uint32_t s = 0; s < out.n_stages; s++)
            assert_int_equal(aria_ledger_check_stage(&out, s), ARIA_OK);
    }
    assert_int_equal(get_record(l, 5, &out), ARIA_ERR_NOT_FOUND);
    assert_int_equal(get_record(l, 0, &out), ARIA_ERR_NOT_FOUND);
    assert_int_equal(get_record(l, UINT64_MAX, &out), ARIA_ERR_NOT_FOUND);
    assert_clean(l, 4, 0);
    W.vt->close(l);
    /* reopened: the chain continues where it was */
    l = open_ledger(path_of("rt.db"), 0, 0);
    aria_ledger_record r;
    make_record(&r, 1, 9);
    assert_int_equal(W.vt->append(l, &r, NULL), ARIA_OK);
    assert_int_equal(r.seq, 5);
    assert_memory_equal(r.prev_hash, in[3].hash, 32);
    assert_clean(l, 5, 0);
    W.vt->close(l);
}

static void test_refused(void **state)
{
    (void)state;
    aria_ledger *l = open_ledger(path_of("refused.db"), 0, 0);
    append_n(l, 2, 0);
    aria_ledger_record r, out;
    aria_msg why = {{0}};
    /* a bad signature on stage 1 of 3: refused, named, nothing written */
    make_record(&r, 3, 5);
    r.stages[1].sig[10] ^= 1;
    r.seq = 77;
    assert_int_equal(W.vt->append(l, &r, &why), ARIA_ERR_SIGNATURE);
    assert_has(why.text, "stage 1 signature");
    assert_int_equal(r.seq, 77);
    assert_int_equal(get_record(l, 3, &out), ARIA_ERR_NOT_FOUND);
    /* a stage signed by another key than it names */
    make_record(&r, 1, 6);
    crypto_sign_detached(r.stages[0].sig, NULL, (const uint8_t *)"x", 1, stage_sk[0]);
    assert_int_equal(W.vt->append(l, &r, &why), ARIA_ERR_SIGNATURE);
    assert_has(why.text, "stage 0");
    /* a signed field changed after signing */
    make_record(&r, 1, 7);
    r.tokens_out++;
    assert_int_equal(W.vt->append(l, &r, &why), ARIA_ERR_SIGNATURE);
    /* malformed */
    make_record(&r, 1, 8);
    r.n_stages = 0;
    assert_int_equal(W.vt->append(l, &r, &why), ARIA_ERR_INVALID);
    r.n_stages = ARIA_LEDGER_MAX_STAGES + 1;
    assert_int_equal(W.vt->append(l, &r, &why), ARIA_ERR_INVALID);
    make_record(&r, 1, 8);
    memset(r.model_id, 'm', sizeof r.model_id);
    assert_int_equal(W.vt->append(l, &r, &why), ARIA_ERR_INVALID);
    assert_has(why.text, "model_id");
    make_record(&r, 3, 8);
    r.hdr.struct_size = (uint32_t)offsetof(aria_ledger_record, stages[2]);
    assert_int_equal(W.vt->append(l, &r, &why), ARIA_ERR_ABI);
    r.hdr.struct_size = (uint32_t)offsetof(aria_ledger_record, stages[3]); /* just enough */
    assert_int_equal(W.vt->append(l, &r, &why), ARIA_OK);
    assert_int_equal(r.seq, 3);
    /* the same inference twice */
    aria_ledger_record dup = r;
    assert_int_equal(W.vt->append(l, &dup, &why), ARIA_ERR_EXISTS);
    assert_has(why.text, "already in the ledger");
    assert_int_equal(get_record(l, 4, &out), ARIA_ERR_NOT_FOUND);
    assert_clean(l, 3, 0);
    /* a too-small output struct is refused, not overrun */
    memset(&out, 0, sizeof out);
    out.hdr.struct_size = 64;
    assert_int_equal(W.vt->get(l, 1, &out), ARIA_ERR_ABI);
    W.vt->close(l);
}

typedef struct collect {
    aria_ledger *l;
    uint64_t seqs[512];
    size_t n, stop_after;
    int reentrant_ok;
} collect;

static int collect_fn(void *u, const aria_ledger_record *r)
{
    collect *c = u;
    if (c->n < 512)
        c->seqs[c->n] = r->seq;
    c->n++;
    if (c->l) { /* a callback may call the ledger: iterate holds no lock */
        aria_ledger_record again;
        c->reentrant_ok += get_record(c->l, r->seq, &again) == ARIA_OK &&
                           !memcmp(again.hash, r->hash, 32);
    }
    return c->stop_after && c->n >= c->stop_after;
}

static void test_iterate(void **state)
{
    (void)state;
    aria_ledger *l = open_ledger(path_of("it.db"), 0, 0);
    append_n(l, 150, 0); /* more than one read chunk */
    collect c = {.l = l};
    assert_int_equal(W.vt->iterate(l, 1, collect_fn, &c), ARIA_OK);
    assert_int_equal(c.n, 150);
    assert_int_equal(c.reentrant_ok, 150);
    for (size_t i = 0; i < 150; i++)
        assert_int_equal(c.seqs[i], i + 1);
    collect d = {0};
    assert_int_equal(W.vt->iterate(l, 0, collect_fn, &d), ARIA_OK); /* 0: from the start */
    assert_int_equal(d.n, 150);
    collect e = {0};
    assert_int_equal(W.vt->iterate(l, 140, collect_fn, &e), ARIA_OK);
    assert_int_equal(e.n, 11);
    assert_int_equal(e.seqs[0], 140);
    collect f = {.stop_after = 70};
    assert_int_equal(W.vt->iterate(l, 1, collect_fn, &f), ARIA_OK);
    assert_int_equal(f.n, 70);
    collect g = {0};
    assert_int_equal(W.vt->iterate(l, 151, collect_fn, &g), ARIA_OK);
    assert_int_equal(g.n, 0);
    W.vt->close(l);
}

/* ---- blocks ------------------------------------------------------------------ */

static void check_block_against_records(aria_ledger *l, const aria_ledger_block *b,
                                        const uint8_t prev[32])
{
    size_t n = (size_t)(b->last_seq - b->first_seq + 1);
    uint8_t(*hs)[32] = malloc(n * 32), root[32], h[32];
    assert_non_null(hs);
    for (size_t i = 0; i < n; i++) {
        aria_ledger_record r;
        assert_int_equal(get_record(l, b->first_seq + i, &r), ARIA_OK);
        memcpy(hs[i], r.hash, 32);
    }
    ref_merkle(hs, n, root);
    free(hs);
    assert_memory_equal(b->merkle_root, root, 32);
    assert_memory_equal(b->prev_hash, prev, 32);
    aria_ledger_block_hash(b, h);
    assert_memory_equal(b->hash, h, 32);
    assert_memory_equal(b->sealer_pubkey, node_pk, 32);
    assert_int_equal(aria_ledger_check_block(b), ARIA_OK);
    assert_true(b->timestamp_ms > 1700000000000);
}

static void test_blocks_every_n(void **state)
{
    (void)state;
    aria_ledger *l = open_ledger(path_of("blk.db"), 4, 0);
    append_n(l, 10, 0);
    aria_ledger_block b[3];
    uint8_t prev[32] = {0};
    for (int i = 0; i < 2; i++) {
        assert_int_equal(get_block(l, (uint64_t)i + 1, &b[i]), ARIA_OK);
        assert_int_equal(b[i].height, i + 1);
        assert_int_equal(b[i].first_seq, 4 * i + 1);
        assert_int_equal(b[i].last_seq, 4 * i + 4);
        check_block_against_records(l, &b[i], prev);
        memcpy(prev, b[i].hash, 32);
    }
    assert_int_equal(get_block(l, 3, &b[2]), ARIA_ERR_NOT_FOUND);
    assert_int_equal(get_block(l, 0, &b[2]), ARIA_ERR_NOT_FOUND);
    /* 9 and 10 are pending: seal by hand */
    memset(&b[2], 0, sizeof b[2]);
    b[2].hdr.struct_size = sizeof b[2];
    aria_msg why = {{0}};
    assert_int_equal(W.vt->seal(l, &b[2], &why), ARIA_OK);
    assert_int_equal(b[2].height, 3);
    assert_int_equal(b[2].first_seq, 9);
    assert_int_equal(b[2].last_seq, 10);
    check_block_against_records(l, &b[2], prev);
    aria_ledger_block again;
    assert_int_equal(get_block(l, 3, &again), ARIA_OK);
    assert_memory_equal(&again, &b[2], sizeof again);
    /* nothing pending */
    assert_int_equal(W.vt->seal(l, NULL, &why), ARIA_ERR_NOT_FOUND);
    assert_clean(l, 10, 3);
    W.vt->close(l);
    /* an empty ledger has nothing to seal either */
    l = open_ledger(path_of("blk-empty.db"), 4, 0);
    assert_int_equal(W.vt->seal(l, NULL, &why), ARIA_ERR_NOT_FOUND);
    assert_clean(l, 0, 0);
    W.vt->close(l);
}

static void test_blocks_every_t(void **state)
{
    (void)state;
    aria_ledger *l = open_ledger(path_of("blkt.db"), 0, 2);
    aria_ledger_record r;
    aria_ledger_block b;
    make_record(&r, 1, 1);
    assert_int_equal(W.vt->append(l, &r, NULL), ARIA_OK);
    assert_int_equal(get_block(l, 1, &b), ARIA_ERR_NOT_FOUND); /* fresh: not yet */
    make_record(&r, 1, 2);
    assert_int_equal(W.vt->append(l, &r, NULL), ARIA_OK);
    assert_int_equal(get_block(l, 1, &b), ARIA_ERR_NOT_FOUND);
    W.vt->close(l);
    /* a pending record older than block_seconds: the next append seals */
    l = open_ledger(path_of("blkt2.db"), 0, 2);
    make_record(&r, 1, 3);
    r.timestamp_ms = wall_ms() - 5000;
    sign_stages(&r);
    assert_int_equal(W.vt->append(l, &r, NULL), ARIA_OK);
    assert_int_equal(get_block(l, 1, &b), ARIA_OK);
    assert_int_equal(b.first_seq, 1);
    assert_int_equal(b.last_seq, 1);
    make_record(&r, 1, 4);
    assert_int_equal(W.vt->append(l, &r, NULL), ARIA_OK);
    assert_int_equal(get_block(l, 2, &b), ARIA_ERR_NOT_FOUND);
    assert_clean(l, 2, 1);
    W.vt->close(l);
}

static void test_seal_without_sign(void **state)
{
    (void)state;
    aria_ledger *l = open_ledger(path_of("nosign.db"), 2, 0);
    W.host.sign = NULL;
    append_n(l, 3, 0); /* records still append; the automatic seal is skipped */
    aria_msg why = {{0}};
    aria_err e = W.vt->seal(l, NULL, &why);
    W.host.sign = test_sign;
    assert_int_equal(e, ARIA_ERR_UNAVAILABLE);
    assert_has(why.text, "no signing key");
    assert_has(why.text, "nosign.db");
    aria_ledger_block b;
    assert_int_equal(get_block(l, 1, &b), ARIA_ERR_NOT_FOUND);
    assert_int_equal(W.vt->seal(l, &b, &why), ARIA_OK); /* a key now: all three go in */
    assert_int_equal(b.first_seq, 1);
    assert_int_equal(b.last_seq, 3);
    assert_clean(l, 3, 1);
    W.vt->close(l);
}

/* ---- spot-checks --------------------------------------------------------------- */

static void make_check(aria_ledger_check *c, uint32_t k)
{
    memset(c, 0, sizeof *c);
    c->hdr.struct_size = sizeof *c;
    c->hdr.version = ARIA_LEDGER_VERSION;
    randombytes_buf(c->record_id, sizeof c->record_id);
    memcpy(c->peer_pubkey, stage_pk[1], 32);
    memset(c->expected_hash, (int)k, 32);
    memset(c->got_hash, (int)(k + (k & 1)), 32);
    c->passed = !(k & 1);
    c->timestamp_ms = wall_ms();
}

typedef struct checks_seen {
    aria_ledger_check c[8];
    size_t n;
} checks_seen;

static int check_fn(void *u, const aria_ledger_check *c)
{
    checks_seen *s = u;
    if (s->n < 8)
        s->c[s->n] = *c;
    s->n++;
    return 0;
}

static void test_checks(void **state)
{
    (void)state;
    aria_ledger *l = open_ledger(path_of("chk.db"), 0, 0);
    assert_true(ARIA_HAS(W.vt, aria_ledger_vt, iterate_checks));
    aria_ledger_check c1, c2, c3;
    aria_msg why = {{0}};
    /* signed as this node */
    make_check(&c1, 2);
    assert_int_equal(W.vt->add_check(l, &c1, &why), ARIA_OK);
    assert_int_equal(c1.seq, 1);
    assert_memory_equal(c1.validator_pubkey, node_pk, 32);
    uint8_t bytes[ARIA_LEDGER_CHECK_BYTES];
    size_t n = aria_ledger_check_bytes(&c1, bytes);
    assert_int_equal(crypto_sign_verify_detached(c1.sig, bytes, n, node_pk), 0);
    /* signed by another validator */
    make_check(&c2, 3);
    memcpy(c2.validator_pubkey, stage_pk[2], 32);
    n = aria_ledger_check_bytes(&c2, bytes);
    crypto_sign_detached(c2.sig, NULL, bytes, n, stage_sk[2]);
    assert_int_equal(W.vt->add_check(l, &c2, &why), ARIA_OK);
    assert_int_equal(c2.seq, 2);
    /* a forged one */
    make_check(&c3, 4);
    memcpy(c3.validator_pubkey, stage_pk[2], 32);
    crypto_sign_detached(c3.sig, NULL, bytes, n, stage_sk[2]); /* over c2's bytes */
    assert_int_equal(W.vt->add_check(l, &c3, &why), ARIA_ERR_SIGNATURE);
    assert_has(why.text, "does not verify");
    assert_int_equal(c3.seq, 0);
    make_check(&c3, 4);
    c3.passed = 2;
    assert_int_equal(W.vt->add_check(l, &c3, &why), ARIA_ERR_INVALID);
    checks_seen seen = {0};
    assert_int_equal(W.vt->iterate_checks(l, check_fn, &seen), ARIA_OK);
    assert_int_equal(seen.n, 2);
    assert_memory_equal(&seen.c[0], &c1, sizeof c1);
    assert_memory_equal(&seen.c[1], &c2, sizeof c2);
    assert_clean(l, 0, 0);
    W.vt->close(l);
}

/* ---- tampering ------------------------------------------------------------------ */

/* 21 records (every third with 3 stages), 3 blocks of 7, 2 spot-checks. */
static const char *tamper_base(void)
{
    const char *p = path_of("base.db");
    if (access(p, F_OK) == 0)
        return p;
    aria_ledger *l = open_ledger(p, 7, 0);
    append_n(l, 21, 1); /* record k has seq k: 3, 6, 9, ... have 3 stages */
    aria_ledger_check c;
    make_check(&c, 1);
    assert_int_equal(W.vt->add_check(l, &c, NULL), ARIA_OK);
    make_check(&c, 2);
    assert_int_equal(W.vt->add_check(l, &c, NULL), ARIA_OK);
    assert_clean(l, 21, 3);
    W.vt->close(l);
    return p;
}

typedef struct tamper_rule {
    const char *table, *where;
    char kind;   /* 'r': names record id; 'b': block id; 'c': check id */
    uint64_t id;
    const char *finding; /* what verify must say, unless a column says more */
} tamper_rule;

static const tamper_rule tamper_rules[] = {
    {"records", "seq = 9", 'r', 9, "record 9: hash does not match its fields"},
    {"record_stages", "seq = 9 AND idx = 1", 'r', 9, "record 9: hash does not match its fields"},
    {"blocks", "height = 2", 'b', 2, "block 2: hash does not match its header"},
    {"checks", "seq = 1", 'c', 1, "check 1: validator signature does not verify"},
};

/* Columns whose change verify explains otherwise than by a hash. */
static const struct {
    const char *column, *finding;
} tamper_findings[] = {
    {"records.seq", "record 9 is missing (record 10 follows record 8)"},
    {"records.n_stages", "record 9: n_stages is 4 but 3 stage rows are stored"},
    {"records.hash", "record 9: hash does not match its fields; block 2: merkle root does not "
                     "match records 8-14"},
    {"record_stages.seq", "record 9: stage row 1 has idx 2"},
    {"record_stages.idx", "record 9: stage row 1 has idx 2"},
    {"blocks.height", "block 2 is missing (block 3 follows it)"},
    {"blocks.sig", "block 2: sealer signature does not verify"},
    {"checks.seq", "check 1 is missing"},
};

static const char *finding_for(const tamper_rule *rule, const char *column)
{
    for (size_t i = 0; i < sizeof tamper_findings / sizeof tamper_findings[0]; i++)
        if (!strcmp(tamper_findings[i].column, column))
            return tamper_findings[i].finding;
    return rule->finding;
}

static const tamper_rule *rule_for(const char *table)
{
    for (size_t i = 0; i < sizeof tamper_rules / sizeof tamper_rules[0]; i++)
        if (!strcmp(tamper_rules[i].table, table))
            return &tamper_rules[i];
    return NULL;
}

/* Changes one value of `col` in the row `where` of table, directly with
 * SQLite: +1 an integer, flip a bit of a blob, alter text. A change that
 * collides with a unique key is retried with a larger one. */
static void tamper_value(const char *path, const char *table, const char *col, const char *where)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    char sql[512];
    snprintf(sql, sizeof sql, "SELECT rowid, \"%.63s\" FROM \"%.63s\" WHERE %.200s", col, table,
             where);
    sqlite3_stmt *s = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
    if (sqlite3_step(s) != SQLITE_ROW)
        fail_msg("%s: no row", sql);
    int64_t rowid = sqlite3_column_int64(s, 0);
    int type = sqlite3_column_type(s, 1);
    snprintf(sql, sizeof sql, "UPDATE \"%.63s\" SET \"%.63s\" = ?1 WHERE rowid = ?2", table,
             col);
    sqlite3_stmt *u = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &u, NULL), SQLITE_OK);
    int done = 0;
    for (int attempt = 0; attempt < 2 && !done; attempt++) {
        uint8_t blob[256];
        char text[300];
        if (type == SQLITE_INTEGER) {
            sqlite3_bind_int64(u, 1, sqlite3_column_int64(s, 1) + (attempt ? 1000003 : 1));
        } else if (type == SQLITE_BLOB) {
            int n = sqlite3_column_bytes(s, 1);
            assert_true(n > 0 && n <= (int)sizeof blob);
            memcpy(blob, sqlite3_column_blob(s, 1), (size_t)n);
            blob[attempt ? 0 : n / 2] ^= attempt ? 0x80 : 0x01;
            sqlite3_bind_blob(u, 1, blob, n, SQLITE_TRANSIENT);
        } else if (type == SQLITE_TEXT) {
            snprintf(text, sizeof text, attempt ? "y%s" : "%sx", sqlite3_column_text(s, 1));
            sqlite3_bind_text(u, 1, text, -1, SQLITE_TRANSIENT);
        } else {
            fail_msg("%s.%s: a value of type %d: teach the tamper test", table, col, type);
        }
        sqlite3_bind_int64(u, 2, rowid);
        int rc = sqlite3_step(u);
        done = rc == SQLITE_DONE && sqlite3_changes(db) == 1;
        if (!done && (rc & 0xff) != SQLITE_CONSTRAINT)
            fail_msg("%s.%s: %s", table, col, sqlite3_errmsg(db));
        sqlite3_reset(u);
    }
    if (!done)
        fail_msg("%s.%s: could not change the value", table, col);
    sqlite3_finalize(u);
    sqlite3_finalize(s);
    assert_int_equal(sqlite3_close(db), SQLITE_OK);
}

static void expect_caught(const char *path, char kind, uint64_t id, const char *what)
{
    aria_ledger *l = open_ledger(path, 0, 0);
    aria_ledger_report rep;
    aria_err e = verify(l, &rep);
    W.vt->close(l);
    if (e != ARIA_ERR_SIGNATURE)
        fail_msg("%s: verify answered %s (%s)", what, aria_strerror(e), rep.detail);
    char name[48];
    snprintf(name, sizeof name, "%s %" PRIu64,
             kind == 'r' ? "record" : kind == 'b' ? "block" : "check", id);
    if (!strstr(rep.detail, name))
        fail_msg("%s: the report '%s' does not name %s", what, rep.detail, name);
    if (kind == 'r' && rep.first_bad_seq != id)
        fail_msg("%s: first_bad_seq %" PRIu64 ", want %" PRIu64 " (%s)", what, rep.first_bad_seq,
                 id, rep.detail);
    if (kind == 'b' && (rep.first_bad_height != id || rep.first_bad_seq))
        fail_msg("%s: first_bad_height %" PRIu64 " seq %" PRIu64 ", want %" PRIu64 " and 0 (%s)",
                 what, rep.first_bad_height, rep.first_bad_seq, id, rep.detail);
    if (kind == 'c' && (rep.first_bad_height || rep.first_bad_seq))
        fail_msg("%s: a bad check names record %" PRIu64 " / block %" PRIu64, what,
                 rep.first_bad_seq, rep.first_bad_height);
    print_message("  %-28s -> %s\n", what, rep.detail);
}

/* Every table of the schema and every column of each (read from the
 * database, so a column or table added later is covered or fails here). */
static void test_tamper_every_column(void **state)
{
    (void)state;
    const char *base = tamper_base(), *copy = path_of("tampered.db");
    char cols[128][2][64];
    int n = 0, tables = 0;
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(base, &db), SQLITE_OK);
    sqlite3_stmt *t = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT name FROM sqlite_schema WHERE type = 'table' "
                                        "AND name NOT LIKE 'sqlite_%' ORDER BY name", -1, &t, NULL),
                     SQLITE_OK);
    while (sqlite3_step(t) == SQLITE_ROW) {
        char table[64], sql[128];
        snprintf(table, sizeof table, "%s", sqlite3_column_text(t, 0));
        if (!rule_for(table))
            fail_msg("table '%s' has no tamper rule: add one to tamper_rules", table);
        tables++;
        snprintf(sql, sizeof sql, "PRAGMA table_info(\"%s\")", table);
        sqlite3_stmt *c = NULL;
        assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &c, NULL), SQLITE_OK);
        while (sqlite3_step(c) == SQLITE_ROW && n < 128) {
            snprintf(cols[n][0], sizeof cols[n][0], "%s", table);
            snprintf(cols[n][1], sizeof cols[n][1], "%s", sqlite3_column_text(c, 1));
            n++;
        }
        sqlite3_finalize(c);
    }
    sqlite3_finalize(t);
    assert_int_equal(sqlite3_close(db), SQLITE_OK);
    assert_int_equal(tables, 4);
    assert_int_equal(n, 16 + 6 + 9 + 10);
    for (int i = 0; i < n; i++) {
        const tamper_rule *rule = rule_for(cols[i][0]);
        char what[160];
        snprintf(what, sizeof what, "%.63s.%.63s", cols[i][0], cols[i][1]);
        copy_db(base, copy);
        tamper_value(copy, cols[i][0], cols[i][1], rule->where);
        expect_caught(copy, rule->kind, rule->id, what);
        aria_ledger *l = open_ledger(copy, 0, 0);
        aria_ledger_report rep;
        verify(l, &rep);
        W.vt->close(l);
        if (!strstr(rep.detail, finding_for(rule, what)))
            fail_msg("%s: the report '%s' lacks '%s'", what, rep.detail, finding_for(rule, what));
    }
}

static void test_tamper_deletions(void **state)
{
    (void)state;
    const char *base = tamper_base(), *copy = path_of("deleted.db");
    aria_ledger_report rep;
    /* a record in the middle: the chain breaks, and block 2 (8-14) with it */
    copy_db(base, copy);
    sql_exec(copy, "DELETE FROM records WHERE seq = 10");
    expect_caught(copy, 'r', 10, "delete record 10");
    aria_ledger *l = open_ledger(copy, 0, 0);
    assert_int_equal(verify(l, &rep), ARIA_ERR_SIGNATURE);
    assert_int_equal(rep.first_bad_height, 2);
    W.vt->close(l);
    /* the tail that block 3 covers: the chain alone looks sound */
    copy_db(base, copy);
    sql_exec(copy, "DELETE FROM records WHERE seq = 21; DELETE FROM record_stages WHERE seq = 21");
    l = open_ledger(copy, 0, 0);
    assert_int_equal(verify(l, &rep), ARIA_ERR_SIGNATURE);
    assert_int_equal(rep.first_bad_height, 3);
    assert_int_equal(rep.first_bad_seq, 21);
    assert_has(rep.detail, "block 3: covers records 15-21 but the ledger ends at record 20");
    print_message("  %-28s -> %s\n", "delete record 21", rep.detail);
    W.vt->close(l);
    /* one stage of a three-stage record */
    copy_db(base, copy);
    sql_exec(copy, "DELETE FROM record_stages WHERE seq = 12 AND idx = 2");
    expect_caught(copy, 'r', 12, "delete a stage of 12");
    l = open_ledger(copy, 0, 0);
    verify(l, &rep);
    W.vt->close(l);
    assert_has(rep.detail, "record 12: n_stages is 3 but 2 stage rows are stored");
    /* a stage row of no record */
    copy_db(base, copy);
    sql_exec(copy, "INSERT INTO record_stages SELECT 99, idx, node_pubkey, sig, layer_first, "
                   "layer_end FROM record_stages WHERE seq = 1");
    expect_caught(copy, 'r', 99, "a stray stage row");
    /* a block in the middle, a spot-check */
    copy_db(base, copy);
    sql_exec(copy, "DELETE FROM blocks WHERE height = 2");
    expect_caught(copy, 'b', 2, "delete block 2");
    copy_db(base, copy);
    sql_exec(copy, "DELETE FROM checks WHERE seq = 1");
    expect_caught(copy, 'c', 1, "delete check 1");
}

/* Someone who rewrites a record and recomputes its hash: the stage
 * signatures (or the chain link) still catch it. */
static void forge(const char *path, uint64_t seq, int what)
{
    aria_ledger *l = open_ledger(path, 0, 0);
    aria_ledger_record r;
    assert_int_equal(get_record(l, seq, &r), ARIA_OK);
    W.vt->close(l);
    if (what == 0)
        r.tokens_out += 1000; /* signed: the stage's signature breaks */
    else
        r.prev_hash[0] ^= 1; /* not signed: the link breaks */
    aria_ledger_record_hash(&r, r.hash);
    sqlite3 *db = NULL;
    sqlite3_stmt *s = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, "UPDATE records SET tokens_out = ?1, prev_hash = ?2, "
                                        "hash = ?3 WHERE seq = ?4", -1, &s, NULL), SQLITE_OK);
    sqlite3_bind_int64(s, 1, r.tokens_out);
    sqlite3_bind_blob(s, 2, r.prev_hash, 32, SQLITE_STATIC);
    sqlite3_bind_blob(s, 3, r.hash, 32, SQLITE_STATIC);
    sqlite3_bind_int64(s, 4, (int64_t)seq);
    assert_int_equal(sqlite3_step(s), SQLITE_DONE);
    assert_int_equal(sqlite3_changes(db), 1);
    sqlite3_finalize(s);
    sqlite3_close(db);
}

static void test_rehashed_forgery(void **state)
{
    (void)state;
    const char *p = path_of("forge.db"), *copy = path_of("forged.db");
    aria_ledger *l = open_ledger(p, 0, 0);
    append_n(l, 5, 1);
    W.vt->close(l);
    aria_ledger_report rep;
    copy_db(p, copy);
    forge(copy, 5, 0);
    l = open_ledger(copy, 0, 0);
    assert_int_equal(verify(l, &rep), ARIA_ERR_SIGNATURE);
    assert_int_equal(rep.first_bad_seq, 5);
    assert_string_equal(rep.detail, "record 5: stage 0 signature does not verify");
    W.vt->close(l);
    copy_db(p, copy);
    forge(copy, 3, 1);
    l = open_ledger(copy, 0, 0);
    assert_int_equal(verify(l, &rep), ARIA_ERR_SIGNATURE);
    assert_int_equal(rep.first_bad_seq, 3);
    assert_string_equal(rep.detail, "record 3: prev_hash does not match the hash of record 2");
    W.vt->close(l);
}

/* Rewrites record `seq` as signed by a key of the forger's, and re-links
 * every record after it: the chain and every signature hold again. */
static void forge_and_rechain(const char *path, uint64_t seq, uint64_t last)
{
    uint8_t pk[32], sk[64];
    crypto_sign_keypair(pk, sk);
    aria_ledger_record r[32];
    aria_ledger *l = open_ledger(path, 0, 0);
    for (uint64_t q = seq - 1; q <= last; q++)
        assert_int_equal(get_record(l, q, &r[q - seq + 1]), ARIA_OK);
    W.vt->close(l);
    aria_ledger_record *t = &r[1];
    t->tokens_out += 1000;
    memcpy(t->stages[0].node_pubkey, pk, 32);
    uint8_t bytes[ARIA_LEDGER_SIGNED_MAX];
    size_t n = aria_ledger_signed_bytes(t, bytes);
    crypto_sign_detached(t->stages[0].sig, NULL, bytes, n, sk);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    for (uint64_t q = seq; q <= last; q++) {
        aria_ledger_record *x = &r[q - seq + 1];
        memcpy(x->prev_hash, r[q - seq].hash, 32);
        aria_ledger_record_hash(x, x->hash);
        sqlite3_stmt *s = NULL;
        assert_int_equal(sqlite3_prepare_v2(db, "UPDATE records SET tokens_out = ?1, "
                                            "prev_hash = ?2, hash = ?3 WHERE seq = ?4", -1, &s,
                                            NULL), SQLITE_OK);
        sqlite3_bind_int64(s, 1, x->tokens_out);
        sqlite3_bind_blob(s, 2, x->prev_hash, 32, SQLITE_STATIC);
        sqlite3_bind_blob(s, 3, x->hash, 32, SQLITE_STATIC);
        sqlite3_bind_int64(s, 4, (int64_t)q);
        assert_int_equal(sqlite3_step(s), SQLITE_DONE);
        sqlite3_finalize(s);
        assert_int_equal(sqlite3_prepare_v2(db, "UPDATE record_stages SET node_pubkey = ?1, "
                                            "sig = ?2 WHERE seq = ?3 AND idx = 0", -1, &s, NULL),
                         SQLITE_OK);
        sqlite3_bind_blob(s, 1, x->stages[0].node_pubkey, 32, SQLITE_STATIC);
        sqlite3_bind_blob(s, 2, x->stages[0].sig, 64, SQLITE_STATIC);
        sqlite3_bind_int64(s, 3, (int64_t)q);
        assert_int_equal(sqlite3_step(s), SQLITE_DONE);
        sqlite3_finalize(s);
    }
    sqlite3_close(db);
}

/* What blocks are for: a forger who re-signs a record with a key of his own
 * and re-links the chain passes every record check, but not the block. */
static void test_forgery_caught_by_block(void **state)
{
    (void)state;
    const char *p = path_of("forge-blk.db"), *copy = path_of("forged-blk.db");
    aria_ledger *l = open_ledger(p, 4, 0);
    append_n(l, 10, 1); /* 3, 6, 9 have three stages: forge a one-stage one */
    W.vt->close(l);
    aria_ledger_report rep;
    copy_db(p, copy);
    forge_and_rechain(copy, 5, 10); /* block 2 holds 5-8 */
    l = open_ledger(copy, 0, 0);
    assert_int_equal(verify(l, &rep), ARIA_ERR_SIGNATURE);
    assert_int_equal(rep.first_bad_seq, 0); /* every record is sound on its own */
    assert_int_equal(rep.first_bad_height, 2);
    assert_string_equal(rep.detail, "block 2: merkle root does not match records 5-8");
    W.vt->close(l);
    /* past the last block the same forgery cannot be told: only the pending
     * records are open to it, until they are sealed */
    copy_db(p, copy);
    forge_and_rechain(copy, 10, 10);
    l = open_ledger(copy, 0, 0);
    assert_int_equal(verify(l, &rep), ARIA_OK);
    W.vt->close(l);
}

/* ---- kill -9 ----------------------------------------------------------------- */

typedef struct ack {
    uint64_t seq;
    uint8_t id[16];
} ack;

static void child_appends(const char *path, int fd)
{
    aria_ledger_opts o = {.hdr = {sizeof o, ARIA_LEDGER_VERSION}, .path = path, .block_records = 5};
    aria_ledger *l = NULL;
    if (W.vt->open(W.ctx, &o, &l, NULL) != ARIA_OK)
        _exit(2);
    for (uint32_t k = 0;; k++) {
        aria_ledger_record r;
        make_record(&r, 1 + k % 2, k);
        if (W.vt->append(l, &r, NULL) != ARIA_OK)
            _exit(3);
        uint8_t msg[24];
        memcpy(msg, &r.seq, 8);
        memcpy(msg + 8, r.id, 16);
        if (write(fd, msg, sizeof msg) != (ssize_t)sizeof msg) /* < PIPE_BUF: atomic */
            _exit(4);
    }
}

static double mono_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Reads acknowledgements until deadline (or EOF when deadline < 0). */
static size_t read_acks(int fd, double deadline, ack *acks, size_t n, size_t cap, uint8_t *part,
                        size_t *npart)
{
    for (;;) {
        int ms = -1;
        if (deadline >= 0) {
            double left = deadline - mono_s();
            if (left <= 0)
                return n;
            ms = (int)(left * 1000) + 1;
        }
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int rc = poll(&p, 1, ms);
        if (rc < 0 && errno == EINTR)
            continue;
        if (rc <= 0)
            continue;
        uint8_t buf[4096];
        ssize_t got = read(fd, buf, sizeof buf);
        if (got <= 0)
            return n; /* EOF: the child is gone */
        for (ssize_t i = 0; i < got; i++) {
            part[(*npart)++] = buf[i];
            if (*npart == 24) {
                if (n < cap) {
                    memcpy(&acks[n].seq, part, 8);
                    memcpy(acks[n].id, part + 8, 16);
                    n++;
                }
                *npart = 0;
            }
        }
    }
}

static void test_kill9(void **state)
{
    (void)state;
    const char *path = path_of("kill.db");
    unsigned seed = (unsigned)time(NULL) ^ (unsigned)getpid();
    srand(seed);
    size_t cap = 1 << 20, total = 0;
    ack *acks = malloc(cap * sizeof *acks);
    assert_non_null(acks);
    double t0 = mono_s();
    int rounds = 0;
    while (rounds < 12 && (rounds < 3 || mono_s() - t0 < 4.0)) {
        int fds[2];
        assert_int_equal(pipe(fds), 0);
        fflush(NULL);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(fds[0]);
            child_appends(path, fds[1]);
            _exit(0);
        }
        close(fds[1]);
        uint8_t part[24];
        size_t npart = 0, from = total;
        double delay = (20 + rand() % 380) / 1000.0;
        total = read_acks(fds[0], mono_s() + delay, acks, total, cap, part, &npart);
        kill(pid, SIGKILL);
        total = read_acks(fds[0], -1, acks, total, cap, part, &npart);
        close(fds[0]);
        int status = 0;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL)
            fail_msg("the appending child ended by itself (status %d)", status);
        rounds++;
        /* every acknowledged record is there, and the whole ledger verifies */
        aria_ledger *l = open_ledger(path, 5, 0);
        for (size_t i = from; i < total; i++) {
            aria_ledger_record r;
            if (get_record(l, acks[i].seq, &r) != ARIA_OK)
                fail_msg("round %d: acknowledged record %" PRIu64 " is gone (seed %u)", rounds,
                         acks[i].seq, seed);
            assert_memory_equal(r.id, acks[i].id, 16);
        }
        aria_ledger_report rep;
        aria_err e = verify(l, &rep);
        if (e != ARIA_OK)
            fail_msg("round %d: verify: %s (seed %u)", rounds, rep.detail, seed);
        assert_true(rep.n_records >= (total ? acks[total - 1].seq : 0));
        W.vt->close(l);
    }
    /* and nothing acknowledged in an earlier round was lost later */
    aria_ledger *l = open_ledger(path, 5, 0);
    for (size_t i = 0; i < total; i++) {
        aria_ledger_record r;
        assert_int_equal(get_record(l, acks[i].seq, &r), ARIA_OK);
        assert_memory_equal(r.id, acks[i].id, 16);
    }
    W.vt->close(l);
    print_message("  %d kills in %.1f s, %zu acknowledged appends, all present\n", rounds,
                  mono_s() - t0, total);
    assert_true(total > 0);
    free(acks);
}

/* ---- schema, open, malformed rows ---------------------------------------------- */

static int pragma_int(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *s = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    int v = sqlite3_column_int(s, 0);
    sqlite3_finalize(s);
    sqlite3_close(db);
    return v;
}

static void test_schema(void **state)
{
    (void)state;
    const char *p = path_of("schema.db");
    aria_ledger *l = open_ledger(p, 0, 0);
    append_n(l, 1, 0);
    W.vt->close(l);
    assert_int_equal(pragma_int(p, "PRAGMA user_version"), 1);
    assert_int_equal(pragma_int(p, "SELECT count(*) FROM sqlite_schema WHERE name IN "
                                   "('records', 'record_stages', 'blocks', 'checks', "
                                   "'records_by_time', 'record_stages_by_node')"), 6);
    assert_int_equal(pragma_int(p, "SELECT count(*) FROM pragma_journal_mode WHERE "
                                   "journal_mode = 'wal'"), 1);
    /* reopening a current database changes nothing */
    l = open_ledger(p, 0, 0);
    assert_clean(l, 1, 0);
    W.vt->close(l);
    /* a database from a newer plugin is refused, naming it and both versions */
    sql_exec(p, "PRAGMA user_version = 1000");
    aria_ledger_opts o = {.hdr = {sizeof o, ARIA_LEDGER_VERSION}, .path = p};
    aria_msg why = {{0}};
    aria_ledger *l2 = NULL;
    assert_int_equal(W.vt->open(W.ctx, &o, &l2, &why), ARIA_ERR_UNSUPPORTED);
    assert_null(l2);
    assert_has(why.text, p);
    assert_has(why.text, "version 1000 is newer");
    assert_has(why.text, "(1)");
    assert_int_equal(pragma_int(p, "PRAGMA user_version"), 1000); /* left alone */
}

static void test_open_errors(void **state)
{
    (void)state;
    aria_ledger *l = NULL;
    aria_msg why = {{0}};
    aria_ledger_opts o = {.hdr = {sizeof o, ARIA_LEDGER_VERSION},
                          .path = "/nonexistent-aria-dir/ledger.db"};
    assert_int_not_equal(W.vt->open(W.ctx, &o, &l, &why), ARIA_OK);
    assert_null(l);
    assert_has(why.text, "/nonexistent-aria-dir/ledger.db");
    assert_int_equal(access("/nonexistent-aria-dir", F_OK), -1); /* not created */
    /* a file that is not a database */
    const char *junk = path_of("junk.db");
    FILE *f = fopen(junk, "wb");
    assert_non_null(f);
    for (int i = 0; i < 200; i++)
        fputs("this is not an SQLite database ", f);
    fclose(f);
    o.path = junk;
    assert_int_equal(W.vt->open(W.ctx, &o, &l, &why), ARIA_ERR_FORMAT);
    assert_has(why.text, junk);
    /* bad options */
    o.path = NULL;
    assert_int_equal(W.vt->open(W.ctx, &o, &l, &why), ARIA_ERR_INVALID);
    o.path = path_of("x.db");
    o.hdr.struct_size = 8;
    assert_int_equal(W.vt->open(W.ctx, &o, &l, &why), ARIA_ERR_ABI);
    o.hdr.struct_size = sizeof o;
    assert_int_equal(W.vt->open(NULL, &o, &l, &why), ARIA_ERR_INVALID);
}

/* 5 records, one block, one spot-check; then one bad row per copy. */
static const char *malformed_base(void)
{
    const char *p = path_of("mbase.db");
    if (access(p, F_OK) == 0)
        return p;
    aria_ledger *l = open_ledger(p, 5, 0);
    append_n(l, 5, 1);
    aria_ledger_check c;
    make_check(&c, 1);
    assert_int_equal(W.vt->add_check(l, &c, NULL), ARIA_OK);
    W.vt->close(l);
    return p;
}

static void test_malformed(void **state)
{
    (void)state;
    const char *base = malformed_base(), *copy = path_of("malformed.db");
    static const struct {
        const char *sql, *want;
        uint64_t bad_seq, bad_height;
    } cases[] = {
        {"UPDATE records SET query_hash = zeroblob(31) WHERE seq = 3", "query_hash is 31 bytes", 3,
         0},
        {"UPDATE records SET hash = zeroblob(4000) WHERE seq = 3", "hash is 4000 bytes", 3, 1},
        {"UPDATE records SET id = 'text' WHERE seq = 3", "id is not a blob", 3, 0},
        {"UPDATE records SET tokens_in = 'abc' WHERE seq = 3", "tokens_in is not an integer", 3, 0},
        {"UPDATE records SET tokens_in = 4294967301 WHERE seq = 3", "tokens_in 4294967301", 3, 0},
        {"UPDATE records SET energy_mj = 1.5 WHERE seq = 3", "energy_mj is not an integer", 3, 0},
        {"UPDATE records SET model_id = replace(hex(zeroblob(150)), '0', 'x') WHERE seq = 3",
         "model_id is 300", 3, 0},
        {"UPDATE records SET model_id = X'41004142' WHERE seq = 3", "model_id is not text", 3, 0},
        {"UPDATE records SET model_id = CAST(X'41004142' AS TEXT) WHERE seq = 3", "NUL", 3, 0},
        {"UPDATE records SET n_stages = 17 WHERE seq = 3", "n_stages 17", 3, 0},
        {"UPDATE records SET n_stages = 0 WHERE seq = 3", "n_stages 0", 3, 0},
        {"UPDATE record_stages SET sig = X'00' WHERE seq = 3 AND idx = 0", "sig is 1 bytes", 3, 0},
        {"UPDATE record_stages SET node_pubkey = NULL WHERE seq = 2", "node_pubkey is not a blob",
         2, 0},
        {"UPDATE record_stages SET layer_end = -1 WHERE seq = 2", "layer_end -1", 2, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        copy_db(base, copy);
        sqlite3 *db = NULL;
        assert_int_equal(sqlite3_open(copy, &db), SQLITE_OK);
        /* NOT NULL stops a NULL: write it the way a damaged file would have it */
        if (strstr(cases[i].sql, "NULL"))
            sqlite3_exec(db, "PRAGMA writable_schema = ON; UPDATE sqlite_schema SET sql = "
                             "replace(sql, 'node_pubkey BLOB NOT NULL', 'node_pubkey BLOB') "
                             "WHERE name = 'record_stages'", NULL, NULL, NULL);
        sqlite3_close(db);
        sql_exec(copy, cases[i].sql);
        aria_ledger *l = open_ledger(copy, 0, 0);
        aria_ledger_record r;
        uint64_t s = cases[i].bad_seq;
        assert_int_equal(get_record(l, s, &r), ARIA_ERR_FORMAT);
        assert_int_equal(get_record(l, s == 3 ? 2 : 3, &r), ARIA_OK);
        collect c = {0};
        assert_int_equal(W.vt->iterate(l, 1, collect_fn, &c), ARIA_ERR_FORMAT);
        assert_int_equal(c.n, s - 1); /* the ones before it were delivered */
        aria_ledger_report rep;
        assert_int_equal(verify(l, &rep), ARIA_ERR_SIGNATURE);
        if (rep.first_bad_seq != s || !strstr(rep.detail, cases[i].want))
            fail_msg("%s: report seq %" PRIu64 " '%s'", cases[i].sql, rep.first_bad_seq,
                     rep.detail);
        if (cases[i].bad_height)
            assert_int_equal(rep.first_bad_height, cases[i].bad_height);
        print_message("  %-60.60s -> %s\n", cases[i].sql, rep.detail);
        W.vt->close(l);
    }
    /* blocks and checks */
    copy_db(base, copy);
    sql_exec(copy, "UPDATE blocks SET hash = zeroblob(33); UPDATE checks SET sig = zeroblob(10)");
    aria_ledger *l = open_ledger(copy, 0, 0);
    aria_ledger_block b;
    assert_int_equal(get_block(l, 1, &b), ARIA_ERR_FORMAT);
    checks_seen seen = {0};
    assert_int_equal(W.vt->iterate_checks(l, check_fn, &seen), ARIA_ERR_FORMAT);
    assert_int_equal(seen.n, 0);
    aria_ledger_report rep;
    assert_int_equal(verify(l, &rep), ARIA_ERR_SIGNATURE);
    assert_int_equal(rep.first_bad_seq, 0);
    assert_int_equal(rep.first_bad_height, 1);
    assert_has(rep.detail, "block 1: hash is 33 bytes");
    assert_has(rep.detail, "check 1: sig is 10 bytes");
    /* seal refuses to build on a damaged last block */
    append_n(l, 1, 50);
    aria_msg why = {{0}};
    assert_int_equal(W.vt->seal(l, NULL, &why), ARIA_ERR_FORMAT);
    assert_has(why.text, "block 1");
    W.vt->close(l);
}

/* ---- threads --------------------------------------------------------------------- */

typedef struct appender {
    aria_ledger *l;
    uint32_t k0;
    int failed;
} appender;

static void *appender_main(void *arg)
{
    appender *a = arg;
    for (uint32_t k = a->k0; k < a->k0 + 50; k++) {
        aria_ledger_record r;
        memset(&r, 0, sizeof r);
        make_record(&r, 1 + k % 2, k);
        a->failed += W.vt->append(a->l, &r, NULL) != ARIA_OK;
        aria_ledger_record back;
        a->failed += get_record(a->l, r.seq, &back) != ARIA_OK || memcmp(back.id, r.id, 16);
    }
    return NULL;
}

static void test_threads(void **state)
{
    (void)state;
    aria_ledger *l = open_ledger(path_of("threads.db"), 8, 0);
    pthread_t th[4];
    appender a[4];
    for (int i = 0; i < 4; i++) {
        a[i] = (appender){.l = l, .k0 = 1000u * (uint32_t)i};
        assert_int_equal(pthread_create(&th[i], NULL, appender_main, &a[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(a[i].failed, 0);
    }
    assert_clean(l, 200, 25);
    W.vt->close(l);
}

/* ---- configuration --------------------------------------------------------------- */

static void test_sync_full(void **state)
{
    (void)state;
    assert_string_equal(ari_config_get(W.cfg, "plugin.ledger-sqlite", "sync"), "full");
    aria_ledger *l = open_ledger(path_of("full.db"), 3, 0);
    append_n(l, 7, 0);
    assert_clean(l, 7, 2);
    W.vt->close(l);
    /* the host validates the key against the plugin's declaration */
    aria_msg why = {{0}};
    assert_int_not_equal(ari_config_set(W.cfg, "plugin.ledger-sqlite", "sync", "sometimes", &why),
                         ARIA_OK);
    assert_has(why.text, "sync");
    assert_int_not_equal(ari_config_set(W.cfg, "plugin.ledger-sqlite", "fsync", "full", &why),
                         ARIA_OK);
}

static void test_sync_default(void **state)
{
    (void)state;
    assert_string_equal(ari_config_get(W.cfg, "plugin.ledger-sqlite", "sync"), "normal");
}

static int setup_full(void **state)
{
    (void)state;
    return world_open("full");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_canonical_bytes),
        cmocka_unit_test(test_merkle),
        cmocka_unit_test(test_sync_default),
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_iterate),
        cmocka_unit_test(test_blocks_every_n),
        cmocka_unit_test(test_blocks_every_t),
        cmocka_unit_test(test_seal_without_sign),
        cmocka_unit_test(test_checks),
        cmocka_unit_test(test_tamper_every_column),
        cmocka_unit_test(test_tamper_deletions),
        cmocka_unit_test(test_rehashed_forgery),
        cmocka_unit_test(test_forgery_caught_by_block),
        cmocka_unit_test(test_kill9),
        cmocka_unit_test(test_schema),
        cmocka_unit_test(test_open_errors),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_threads),
    };
    const struct CMUnitTest full[] = {
        cmocka_unit_test(test_sync_full),
    };
    int failed = cmocka_run_group_tests_name("ledger", tests, setup, teardown);
    failed += cmocka_run_group_tests_name("ledger sync=full", full, setup_full, teardown);
    return failed;
}
