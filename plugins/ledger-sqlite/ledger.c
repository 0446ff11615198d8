/* ledger-sqlite — the provenance ledger (aria/ledger.h) on SQLite.
 *
 * One database file in WAL mode, four tables with one column per struct
 * field: records, record_stages, blocks, checks (README.md has the schema).
 * The bytes that are hashed and signed come from libaria-sdk
 * (sdk/src/ledger.c), never from here, so every ledger implementation
 * agrees on them.
 *
 * Durability: an append is one transaction, committed before append
 * returns. WAL with synchronous=NORMAL (the default) survives kill -9;
 * [plugin.ledger-sqlite] sync = full also survives power loss.
 *
 * Threads: each handle serializes its calls on its own mutex (the
 * connection is opened SQLITE_OPEN_NOMUTEX because the mutex is ours).
 * iterate and iterate_checks read in chunks and call back without holding
 * it, so a callback may call the ledger again.
 *
 * Nothing read from the file is trusted: every column's type, size and
 * range is checked before it lands in a struct, and verify recomputes every
 * hash, link, Merkle root and signature from the stored columns. */
#include "aria/ledger.h"
#include "aria/plugin.h"

#include <sodium.h>
#include <sqlite3.h>

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define LSQ_PLUGIN "ledger-sqlite"
#define LSQ_BUSY_MS 5000 /* wait this long for another process's write lock */
#define LSQ_CHUNK 64     /* rows read per lock by iterate and iterate_checks */

/* ---- schema ---------------------------------------------------------------- */

/* Entry i takes a database from user_version i to i + 1, in one transaction
 * with the version bump. A new schema version is one more entry at the end;
 * a shipped entry is never edited. */
static const char *const lsq_migrations[] = {
    /* 1: records (one column per field of aria_ledger_record), their stages,
     * blocks and spot-checks; u64 fields are stored as their int64 bits. */
    "CREATE TABLE records ("
    " seq INTEGER PRIMARY KEY, id BLOB NOT NULL UNIQUE,"
    " query_hash BLOB NOT NULL, output_hash BLOB NOT NULL, model_hash BLOB NOT NULL,"
    " prev_hash BLOB NOT NULL, hash BLOB NOT NULL, model_id TEXT NOT NULL,"
    " tokens_in INTEGER NOT NULL, tokens_out INTEGER NOT NULL, energy_mj INTEGER NOT NULL,"
    " energy_source INTEGER NOT NULL, n_stages INTEGER NOT NULL, latency_us INTEGER NOT NULL,"
    " timestamp_ms INTEGER NOT NULL, seed INTEGER NOT NULL);"
    "CREATE INDEX records_by_time ON records (timestamp_ms);"
    "CREATE TABLE record_stages ("
    " seq INTEGER NOT NULL, idx INTEGER NOT NULL, node_pubkey BLOB NOT NULL, sig BLOB NOT NULL,"
    " layer_first INTEGER NOT NULL, layer_end INTEGER NOT NULL, PRIMARY KEY (seq, idx));"
    "CREATE INDEX record_stages_by_node ON record_stages (node_pubkey);"
    "CREATE TABLE blocks ("
    " height INTEGER PRIMARY KEY, first_seq INTEGER NOT NULL, last_seq INTEGER NOT NULL,"
    " prev_hash BLOB NOT NULL, merkle_root BLOB NOT NULL, hash BLOB NOT NULL,"
    " sealer_pubkey BLOB NOT NULL, sig BLOB NOT NULL, timestamp_ms INTEGER NOT NULL);"
    "CREATE TABLE checks ("
    " seq INTEGER PRIMARY KEY, record_id BLOB NOT NULL, peer_pubkey BLOB NOT NULL,"
    " expected_hash BLOB NOT NULL, got_hash BLOB NOT NULL, passed INTEGER NOT NULL,"
    " reserved INTEGER NOT NULL, timestamp_ms INTEGER NOT NULL,"
    " validator_pubkey BLOB NOT NULL, sig BLOB NOT NULL);"
    "CREATE INDEX checks_by_peer ON checks (peer_pubkey);",
};
#define LSQ_SCHEMA ((int)(sizeof lsq_migrations / sizeof lsq_migrations[0]))

/* Column lists, in the order the readers below index them. */
#define LSQ_REC_COLS                                                                               \
    "seq, id, query_hash, output_hash, model_hash, prev_hash, hash, model_id, tokens_in, "         \
    "tokens_out, energy_mj, energy_source, n_stages, latency_us, timestamp_ms, seed"
#define LSQ_BLK_COLS                                                                               \
    "height, first_seq, last_seq, prev_hash, merkle_root, hash, sealer_pubkey, sig, timestamp_ms"
#define LSQ_CHK_COLS                                                                               \
    "seq, record_id, peer_pubkey, expected_hash, got_hash, passed, reserved, timestamp_ms, "       \
    "validator_pubkey, sig"

enum lsq_q {
    Q_BEGIN_W, Q_BEGIN_R, Q_COMMIT, Q_ROLLBACK,
    Q_LAST_REC, Q_REC_TS, Q_INS_REC, Q_INS_STAGE, Q_GET_REC, Q_GET_STAGES, Q_RECS_FROM,
    Q_RECS_ALL, Q_HASHES, Q_COUNT_REC, Q_MAX_SEQ, Q_ORPHAN,
    Q_LAST_BLK, Q_INS_BLK, Q_GET_BLK, Q_BLKS_ALL, Q_COUNT_BLK,
    Q_LAST_CHK, Q_INS_CHK, Q_CHKS_FROM, Q_CHKS_ALL,
    Q_N
};

static const char *const lsq_sql[Q_N] = {
    [Q_BEGIN_W] = "BEGIN IMMEDIATE",
    [Q_BEGIN_R] = "BEGIN",
    [Q_COMMIT] = "COMMIT",
    [Q_ROLLBACK] = "ROLLBACK",
    [Q_LAST_REC] = "SELECT seq, hash FROM records ORDER BY seq DESC LIMIT 1",
    [Q_REC_TS] = "SELECT timestamp_ms FROM records WHERE seq = ?1",
    [Q_INS_REC] = "INSERT INTO records (" LSQ_REC_COLS ") VALUES "
                  "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
    [Q_INS_STAGE] = "INSERT INTO record_stages (seq, idx, node_pubkey, sig, layer_first, "
                    "layer_end) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    [Q_GET_REC] = "SELECT " LSQ_REC_COLS " FROM records WHERE seq = ?1",
    /* one row more than a record may hold, so extra rows are seen */
    [Q_GET_STAGES] = "SELECT idx, node_pubkey, sig, layer_first, layer_end FROM record_stages "
                     "WHERE seq = ?1 ORDER BY idx LIMIT 17",
    [Q_RECS_FROM] = "SELECT " LSQ_REC_COLS " FROM records WHERE seq >= ?1 ORDER BY seq LIMIT ?2",
    [Q_RECS_ALL] = "SELECT " LSQ_REC_COLS " FROM records ORDER BY seq",
    [Q_HASHES] = "SELECT seq, hash FROM records WHERE seq BETWEEN ?1 AND ?2 ORDER BY seq",
    [Q_COUNT_REC] = "SELECT count(*) FROM records",
    [Q_MAX_SEQ] = "SELECT coalesce(max(seq), 0) FROM records",
    [Q_ORPHAN] = "SELECT seq, idx FROM record_stages WHERE seq NOT IN (SELECT seq FROM records) "
                 "ORDER BY seq LIMIT 1",
    [Q_LAST_BLK] = "SELECT " LSQ_BLK_COLS " FROM blocks ORDER BY height DESC LIMIT 1",
    [Q_INS_BLK] = "INSERT INTO blocks (" LSQ_BLK_COLS ") VALUES "
                  "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    [Q_GET_BLK] = "SELECT " LSQ_BLK_COLS " FROM blocks WHERE height = ?1",
    [Q_BLKS_ALL] = "SELECT " LSQ_BLK_COLS " FROM blocks ORDER BY height",
    [Q_COUNT_BLK] = "SELECT count(*) FROM blocks",
    [Q_LAST_CHK] = "SELECT coalesce(max(seq), 0) FROM checks",
    [Q_INS_CHK] = "INSERT INTO checks (" LSQ_CHK_COLS ") VALUES "
                  "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    [Q_CHKS_FROM] = "SELECT " LSQ_CHK_COLS " FROM checks WHERE seq >= ?1 ORDER BY seq LIMIT ?2",
    [Q_CHKS_ALL] = "SELECT " LSQ_CHK_COLS " FROM checks ORDER BY seq",
};

/* ---- the plugin's context and a handle -------------------------------------- */

typedef struct lsq_ctx {
    const aria_host *host;
    int sync_full; /* [plugin.ledger-sqlite] sync = full */
} lsq_ctx;

struct aria_ledger {
    pthread_mutex_t mu; /* every call below holds it while it touches db */
    const aria_host *host;
    sqlite3 *db;
    sqlite3_stmt *q[Q_N]; /* prepared once, for the life of the handle */
    char *path;
    uint32_t block_records, block_seconds;
    int sync_full;
    int seal_warned; /* an automatic seal failed and was logged once */
};

#define LSQ_LOG(l, level, ...)                                                                     \
    ((l)->host->log ? (l)->host->log(level, LSQ_PLUGIN, __VA_ARGS__) : (void)0)

static int64_t lsq_now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static int lsq_is_zero(const uint8_t *p, size_t n)
{
    uint8_t acc = 0;
    for (size_t i = 0; i < n; i++)
        acc |= p[i];
    return acc == 0;
}

static void lsq_hex(const uint8_t *p, size_t n, char *out, size_t cap)
{
    sodium_bin2hex(out, cap, p, n < (cap - 1) / 2 ? n : (cap - 1) / 2);
}

/* ---- SQLite plumbing ------------------------------------------------------- */

static aria_err lsq_sqlerr(aria_ledger *l, int rc, const char *doing, aria_msg *why)
{
    aria_err e;
    switch (rc & 0xff) {
    case SQLITE_CONSTRAINT: e = ARIA_ERR_EXISTS; break;
    case SQLITE_BUSY:
    case SQLITE_LOCKED: e = ARIA_ERR_BUSY; break;
    case SQLITE_NOTADB:
    case SQLITE_CORRUPT: e = ARIA_ERR_FORMAT; break;
    case SQLITE_NOMEM: e = ARIA_ERR_NOMEM; break;
    case SQLITE_READONLY:
    case SQLITE_PERM: e = ARIA_ERR_PERMISSION; break;
    default: e = ARIA_ERR_IO; break;
    }
    return aria_fail(why, e, "%s: %s: %s", l->path, doing, sqlite3_errmsg(l->db));
}

static void lsq_reset(sqlite3_stmt *s)
{
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
}

/* Steps a statement that returns no row (insert, begin, commit). */
static aria_err lsq_run(aria_ledger *l, sqlite3_stmt *s, const char *doing, aria_msg *why)
{
    int rc = sqlite3_step(s);
    aria_err e = rc == SQLITE_DONE ? ARIA_OK : lsq_sqlerr(l, rc, doing, why);
    lsq_reset(s);
    return e;
}

/* One integer from a one-row query (count, max). */
static aria_err lsq_scalar(aria_ledger *l, enum lsq_q q, int64_t *out, aria_msg *why)
{
    sqlite3_stmt *s = l->q[q];
    int rc = sqlite3_step(s);
    aria_err e = ARIA_OK;
    if (rc == SQLITE_ROW)
        *out = sqlite3_column_int64(s, 0);
    else
        e = lsq_sqlerr(l, rc, "cannot read the ledger", why);
    lsq_reset(s);
    return e;
}

static aria_err lsq_exec(aria_ledger *l, const char *sql, const char *doing, aria_msg *why)
{
    char *err = NULL;
    int rc = sqlite3_exec(l->db, sql, NULL, NULL, &err);
    aria_err e = ARIA_OK;
    if (rc != SQLITE_OK)
        e = aria_fail(why, rc == SQLITE_NOTADB ? ARIA_ERR_FORMAT : ARIA_ERR_IO, "%s: %s: %s",
                      l->path, doing, err ? err : sqlite3_errstr(rc));
    sqlite3_free(err);
    return e;
}

static aria_err lsq_begin(aria_ledger *l, int write, aria_msg *why)
{
    return lsq_run(l, l->q[write ? Q_BEGIN_W : Q_BEGIN_R], "cannot begin a transaction", why);
}

static aria_err lsq_commit(aria_ledger *l, aria_msg *why)
{
    return lsq_run(l, l->q[Q_COMMIT], "cannot commit", why);
}

static void lsq_rollback(aria_ledger *l)
{
    if (!sqlite3_get_autocommit(l->db)) {
        sqlite3_step(l->q[Q_ROLLBACK]);
        lsq_reset(l->q[Q_ROLLBACK]);
    }
}

/* ---- reading columns: type, size and range checked -------------------------- */

static aria_err lsq_col_blob(sqlite3_stmt *s, int i, void *dst, size_t n, const char *who,
                             aria_msg *why)
{
    const char *col = sqlite3_column_name(s, i);
    if (sqlite3_column_type(s, i) != SQLITE_BLOB)
        return aria_fail(why, ARIA_ERR_FORMAT, "%s: %s is not a blob", who, col);
    const void *p = sqlite3_column_blob(s, i);
    int len = sqlite3_column_bytes(s, i);
    if (!p || len < 0 || (size_t)len != n)
        return aria_fail(why, ARIA_ERR_FORMAT, "%s: %s is %d bytes, want %zu", who, col, len, n);
    memcpy(dst, p, n);
    return ARIA_OK;
}

static aria_err lsq_col_int(sqlite3_stmt *s, int i, int64_t lo, int64_t hi, int64_t *out,
                            const char *who, aria_msg *why)
{
    const char *col = sqlite3_column_name(s, i);
    if (sqlite3_column_type(s, i) != SQLITE_INTEGER)
        return aria_fail(why, ARIA_ERR_FORMAT, "%s: %s is not an integer", who, col);
    int64_t v = sqlite3_column_int64(s, i);
    if (v < lo || v > hi)
        return aria_fail(why, ARIA_ERR_FORMAT, "%s: %s %" PRId64 " is out of range %" PRId64
                         "..%" PRId64, who, col, v, lo, hi);
    *out = v;
    return ARIA_OK;
}

static aria_err lsq_col_u32(sqlite3_stmt *s, int i, uint32_t *out, const char *who, aria_msg *why)
{
    int64_t v = 0;
    aria_err e = lsq_col_int(s, i, 0, UINT32_MAX, &v, who, why);
    *out = (uint32_t)v;
    return e;
}

/* u64 fields are stored as their int64 bits: every integer is valid. */
static aria_err lsq_col_u64(sqlite3_stmt *s, int i, uint64_t *out, const char *who, aria_msg *why)
{
    int64_t v = 0;
    aria_err e = lsq_col_int(s, i, INT64_MIN, INT64_MAX, &v, who, why);
    *out = (uint64_t)v;
    return e;
}

static aria_err lsq_col_i64(sqlite3_stmt *s, int i, int64_t *out, const char *who, aria_msg *why)
{
    return lsq_col_int(s, i, INT64_MIN, INT64_MAX, out, who, why);
}

/* A text column into dst[cap], NUL-terminated, without embedded NULs. */
static aria_err lsq_col_text(sqlite3_stmt *s, int i, char *dst, size_t cap, const char *who,
                             aria_msg *why)
{
    const char *col = sqlite3_column_name(s, i);
    if (sqlite3_column_type(s, i) != SQLITE_TEXT)
        return aria_fail(why, ARIA_ERR_FORMAT, "%s: %s is not text", who, col);
    const unsigned char *p = sqlite3_column_text(s, i);
    int len = sqlite3_column_bytes(s, i);
    if (!p || len < 0 || (size_t)len >= cap)
        return aria_fail(why, ARIA_ERR_FORMAT, "%s: %s is %d bytes, at most %zu", who, col, len,
                         cap - 1);
    if (memchr(p, 0, (size_t)len))
        return aria_fail(why, ARIA_ERR_FORMAT, "%s: %s holds a NUL byte", who, col);
    memcpy(dst, p, (size_t)len);
    dst[len] = 0;
    return ARIA_OK;
}

/* ---- records: rows to structs ---------------------------------------------- */

/* The stage rows of r->seq: exactly n_stages of them, idx 0, 1, 2, ... */
static aria_err lsq_read_stages(aria_ledger *l, aria_ledger_record *r, const char *who,
                                aria_msg *why)
{
    sqlite3_stmt *s = l->q[Q_GET_STAGES];
    sqlite3_bind_int64(s, 1, (int64_t)r->seq);
    aria_err e = ARIA_OK;
    uint32_t n = 0;
    for (;;) {
        int rc = sqlite3_step(s);
        if (rc == SQLITE_DONE)
            break;
        if (rc != SQLITE_ROW) {
            e = lsq_sqlerr(l, rc, "cannot read record stages", why);
            break;
        }
        if (n == r->n_stages) {
            e = aria_fail(why, ARIA_ERR_FORMAT, "%s: n_stages is %u but more stage rows are stored",
                          who, r->n_stages);
            break;
        }
        char sw[64];
        snprintf(sw, sizeof sw, "%s stage %u", who, n);
        aria_ledger_stage *st = &r->stages[n];
        int64_t idx = 0;
        if ((e = lsq_col_i64(s, 0, &idx, sw, why)))
            break;
        if (idx != (int64_t)n) {
            e = aria_fail(why, ARIA_ERR_FORMAT, "%s: stage row %u has idx %" PRId64, who, n, idx);
            break;
        }
        if ((e = lsq_col_blob(s, 1, st->node_pubkey, ARIA_PUBKEY_BYTES, sw, why)) ||
            (e = lsq_col_blob(s, 2, st->sig, ARIA_SIG_BYTES, sw, why)) ||
            (e = lsq_col_u32(s, 3, &st->layer_first, sw, why)) ||
            (e = lsq_col_u32(s, 4, &st->layer_end, sw, why)))
            break;
        n++;
    }
    lsq_reset(s);
    if (!e && n != r->n_stages)
        e = aria_fail(why, ARIA_ERR_FORMAT, "%s: n_stages is %u but %u stage rows are stored", who,
                      r->n_stages, n);
    return e;
}

/* The current row of s (LSQ_REC_COLS) and its stages into r. */
static aria_err lsq_read_record(aria_ledger *l, sqlite3_stmt *s, aria_ledger_record *r,
                                aria_msg *why)
{
    memset(r, 0, sizeof *r);
    r->hdr.struct_size = sizeof *r;
    r->hdr.version = ARIA_LEDGER_VERSION;
    int64_t seq = 0, ns = 0;
    aria_err e = lsq_col_int(s, 0, 1, INT64_MAX, &seq, "a record", why);
    if (e)
        return e;
    r->seq = (uint64_t)seq;
    char who[48];
    snprintf(who, sizeof who, "record %" PRIu64, r->seq);
    if ((e = lsq_col_blob(s, 1, r->id, sizeof r->id, who, why)) ||
        (e = lsq_col_blob(s, 2, r->query_hash, ARIA_HASH_BYTES, who, why)) ||
        (e = lsq_col_blob(s, 3, r->output_hash, ARIA_HASH_BYTES, who, why)) ||
        (e = lsq_col_blob(s, 4, r->model_hash, ARIA_HASH_BYTES, who, why)) ||
        (e = lsq_col_blob(s, 5, r->prev_hash, ARIA_HASH_BYTES, who, why)) ||
        (e = lsq_col_blob(s, 6, r->hash, ARIA_HASH_BYTES, who, why)) ||
        (e = lsq_col_text(s, 7, r->model_id, sizeof r->model_id, who, why)) ||
        (e = lsq_col_u32(s, 8, &r->tokens_in, who, why)) ||
        (e = lsq_col_u32(s, 9, &r->tokens_out, who, why)) ||
        (e = lsq_col_u64(s, 10, &r->energy_mj, who, why)) ||
        (e = lsq_col_u32(s, 11, &r->energy_source, who, why)) ||
        (e = lsq_col_int(s, 12, 1, ARIA_LEDGER_MAX_STAGES, &ns, who, why)) ||
        (e = lsq_col_u64(s, 13, &r->latency_us, who, why)) ||
        (e = lsq_col_i64(s, 14, &r->timestamp_ms, who, why)) ||
        (e = lsq_col_u64(s, 15, &r->seed, who, why)))
        return e;
    r->n_stages = (uint32_t)ns;
    return lsq_read_stages(l, r, who, why);
}

/* The last record's seq and hash (0 and zeroes when there is none). */
static aria_err lsq_last_record(aria_ledger *l, uint64_t *seq, uint8_t hash[ARIA_HASH_BYTES],
                                aria_msg *why)
{
    sqlite3_stmt *s = l->q[Q_LAST_REC];
    int rc = sqlite3_step(s);
    aria_err e = ARIA_OK;
    *seq = 0;
    memset(hash, 0, ARIA_HASH_BYTES);
    if (rc == SQLITE_ROW) {
        int64_t v = sqlite3_column_int64(s, 0); /* an INTEGER PRIMARY KEY */
        char who[48];
        aria_msg m = {{0}};
        snprintf(who, sizeof who, "record %" PRId64, v);
        if ((e = lsq_col_int(s, 0, 1, INT64_MAX - 1, &v, who, &m)) ||
            (e = lsq_col_blob(s, 1, hash, ARIA_HASH_BYTES, who, &m)))
            aria_fail(why, e, "%s: %s (the ledger is damaged: run aria-core ledger verify)",
                      l->path, m.text);
        *seq = (uint64_t)v;
    } else if (rc != SQLITE_DONE) {
        e = lsq_sqlerr(l, rc, "cannot read the last record", why);
    }
    lsq_reset(s);
    return e;
}

/* ---- records: structs to rows ---------------------------------------------- */

static aria_err lsq_insert_record(aria_ledger *l, const aria_ledger_record *r, aria_msg *why)
{
    sqlite3_stmt *s = l->q[Q_INS_REC];
    int b = sqlite3_bind_int64(s, 1, (int64_t)r->seq);
    b |= sqlite3_bind_blob(s, 2, r->id, sizeof r->id, SQLITE_STATIC);
    b |= sqlite3_bind_blob(s, 3, r->query_hash, ARIA_HASH_BYTES, SQLITE_STATIC);
    b |= sqlite3_bind_blob(s, 4, r->output_hash, ARIA_HASH_BYTES, SQLITE_STATIC);
    b |= sqlite3_bind_blob(s, 5, r->model_hash, ARIA_HASH_BYTES, SQLITE_STATIC);
    b |= sqlite3_bind_blob(s, 6, r->prev_hash, ARIA_HASH_BYTES, SQLITE_STATIC);
    b |= sqlite3_bind_blob(s, 7, r->hash, ARIA_HASH_BYTES, SQLITE_STATIC);
    b |= sqlite3_bind_text(s, 8, r->model_id, -1, SQLITE_STATIC);
    b |= sqlite3_bind_int64(s, 9, r->tokens_in);
    b |= sqlite3_bind_int64(s, 10, r->tokens_out);
    b |= sqlite3_bind_int64(s, 11, (int64_t)r->energy_mj);
    b |= sqlite3_bind_int64(s, 12, r->energy_source);
    b |= sqlite3_bind_int64(s, 13, r->n_stages);
    b |= sqlite3_bind_int64(s, 14, (int64_t)r->latency_us);
    b |= sqlite3_bind_int64(s, 15, r->timestamp_ms);
    b |= sqlite3_bind_int64(s, 16, (int64_t)r->seed);
    if (b != SQLITE_OK) {
        lsq_reset(s);
        return lsq_sqlerr(l, b, "cannot bind a record", why);
    }
    int rc = sqlite3_step(s);
    aria_err e = ARIA_OK;
    if (rc == SQLITE_CONSTRAINT_UNIQUE) {
        char idh[33];
        lsq_hex(r->id, sizeof r->id, idh, sizeof idh);
        e = aria_fail(why, ARIA_ERR_EXISTS, "%s: record id %s is already in the ledger", l->path,
                      idh);
    } else if (rc != SQLITE_DONE) {
        e = lsq_sqlerr(l, rc, "cannot insert a record", why);
    }
    lsq_reset(s);
    for (uint32_t i = 0; !e && i < r->n_stages; i++) {
        const aria_ledger_stage *st = &r->stages[i];
        s = l->q[Q_INS_STAGE];
        b = sqlite3_bind_int64(s, 1, (int64_t)r->seq);
        b |= sqlite3_bind_int64(s, 2, i);
        b |= sqlite3_bind_blob(s, 3, st->node_pubkey, ARIA_PUBKEY_BYTES, SQLITE_STATIC);
        b |= sqlite3_bind_blob(s, 4, st->sig, ARIA_SIG_BYTES, SQLITE_STATIC);
        b |= sqlite3_bind_int64(s, 5, st->layer_first);
        b |= sqlite3_bind_int64(s, 6, st->layer_end);
        if (b != SQLITE_OK) {
            lsq_reset(s);
            return lsq_sqlerr(l, b, "cannot bind a record stage", why);
        }
        e = lsq_run(l, s, "cannot insert a record stage", why);
    }
    return e;
}

/* ---- blocks ---------------------------------------------------------------- */

static aria_err lsq_read_block(sqlite3_stmt *s, aria_ledger_block *b, aria_msg *why)
{
    memset(b, 0, sizeof *b);
    b->hdr.struct_size = sizeof *b;
    b->hdr.version = ARIA_LEDGER_VERSION;
    int64_t h = 0;
    aria_err e = lsq_col_int(s, 0, 1, INT64_MAX, &h, "a block", why);
    if (e)
        return e;
    b->height = (uint64_t)h;
    char who[48];
    snprintf(who, sizeof who, "block %" PRIu64, b->height);
    int64_t first = 0, last = 0;
    if ((e = lsq_col_int(s, 1, 1, INT64_MAX, &first, who, why)) ||
        (e = lsq_col_int(s, 2, 1, INT64_MAX, &last, who, why)) ||
        (e = lsq_col_blob(s, 3, b->prev_hash, ARIA_HASH_BYTES, who, why)) ||
        (e = lsq_col_blob(s, 4, b->merkle_root, ARIA_HASH_BYTES, who, why)) ||
        (e = lsq_col_blob(s, 5, b->hash, ARIA_HASH_BYTES, who, why)) ||
        (e = lsq_col_blob(s, 6, b->sealer_pubkey, ARIA_PUBKEY_BYTES, who, why)) ||
        (e = lsq_col_blob(s, 7, b->sig, ARIA_SIG_BYTES, who, why)) ||
        (e = lsq_col_i64(s, 8, &b->timestamp_ms, who, why)))
        return e;
    b->first_seq = (uint64_t)first;
    b->last_seq = (uint64_t)last;
    return ARIA_OK;
}

/* The last block, if any (*have says). */
static aria_err lsq_last_block(aria_ledger *l, aria_ledger_block *b, int *have, aria_msg *why)
{
    sqlite3_stmt *s = l->q[Q_LAST_BLK];
    int rc = sqlite3_step(s);
    aria_err e = ARIA_OK;
    *have = rc == SQLITE_ROW;
    memset(b, 0, sizeof *b);
    if (rc == SQLITE_ROW) {
        aria_msg m = {{0}};
        if ((e = lsq_read_block(s, b, &m)))
            aria_fail(why, e, "%s: %s", l->path, m.text);
    } else if (rc != SQLITE_DONE) {
        e = lsq_sqlerr(l, rc, "cannot read the last block", why);
    }
    lsq_reset(s);
    return e;
}

/* The stored hashes of records first..last into leaves (NULL: only check
 * that they are all there). A record missing from the range:
 * ARIA_ERR_NOT_FOUND with its seq in *missing. */
static aria_err lsq_range_hashes(aria_ledger *l, uint64_t first, uint64_t last,
                                 uint8_t (*leaves)[ARIA_HASH_BYTES], uint64_t *missing,
                                 aria_msg *why)
{
    sqlite3_stmt *s = l->q[Q_HASHES];
    sqlite3_bind_int64(s, 1, (int64_t)first);
    sqlite3_bind_int64(s, 2, (int64_t)last);
    uint64_t k = 0, n = last - first + 1;
    aria_err e = ARIA_OK;
    for (;;) {
        int rc = sqlite3_step(s);
        if (rc == SQLITE_DONE)
            break;
        if (rc != SQLITE_ROW) {
            e = lsq_sqlerr(l, rc, "cannot read record hashes", why);
            break;
        }
        int64_t seq = sqlite3_column_int64(s, 0);
        if (k >= n || (uint64_t)seq != first + k)
            break;
        char who[48];
        snprintf(who, sizeof who, "record %" PRIu64, first + k);
        uint8_t h[ARIA_HASH_BYTES];
        if ((e = lsq_col_blob(s, 1, leaves ? leaves[k] : h, ARIA_HASH_BYTES, who, why)))
            break;
        k++;
    }
    lsq_reset(s);
    if (!e && k != n) {
        *missing = first + k;
        e = aria_fail(why, ARIA_ERR_NOT_FOUND, "record %" PRIu64 " is missing", first + k);
    }
    return e;
}

static aria_err lsq_insert_block(aria_ledger *l, const aria_ledger_block *b, aria_msg *why)
{
    sqlite3_stmt *s = l->q[Q_INS_BLK];
    int rc = sqlite3_bind_int64(s, 1, (int64_t)b->height);
    rc |= sqlite3_bind_int64(s, 2, (int64_t)b->first_seq);
    rc |= sqlite3_bind_int64(s, 3, (int64_t)b->last_seq);
    rc |= sqlite3_bind_blob(s, 4, b->prev_hash, ARIA_HASH_BYTES, SQLITE_STATIC);
    rc |= sqlite3_bind_blob(s, 5, b->merkle_root, ARIA_HASH_BYTES, SQLITE_STATIC);
    rc |= sqlite3_bind_blob(s, 6, b->hash, ARIA_HASH_BYTES, SQLITE_STATIC);
    rc |= sqlite3_bind_blob(s, 7, b->sealer_pubkey, ARIA_PUBKEY_BYTES, SQLITE_STATIC);
    rc |= sqlite3_bind_blob(s, 8, b->sig, ARIA_SIG_BYTES, SQLITE_STATIC);
    rc |= sqlite3_bind_int64(s, 9, b->timestamp_ms);
    if (rc != SQLITE_OK) {
        lsq_reset(s);
        return lsq_sqlerr(l, rc, "cannot bind a block", why);
    }
    return lsq_run(l, s, "cannot insert a block", why);
}

/* Seals the pending records into a block; inside the caller's lock. */
static aria_err lsq_seal_locked(aria_ledger *l, aria_ledger_block *out, aria_msg *why)
{
    const aria_host *h = l->host;
    if (!h->sign)
        return aria_fail(why, ARIA_ERR_UNAVAILABLE,
                         "%s: cannot seal a block: the node has no signing key (host sign is NULL)",
                         l->path);
    aria_err e = lsq_begin(l, 1, why);
    if (e)
        return e;
    aria_ledger_block prev, b;
    int have = 0;
    uint64_t last = 0, missing = 0;
    uint8_t tip[ARIA_HASH_BYTES];
    uint8_t (*leaves)[ARIA_HASH_BYTES] = NULL;
    if ((e = lsq_last_block(l, &prev, &have, why)) || (e = lsq_last_record(l, &last, tip, why)))
        goto out;
    memset(&b, 0, sizeof b);
    b.hdr.struct_size = sizeof b;
    b.hdr.version = ARIA_LEDGER_VERSION;
    b.height = have ? prev.height + 1 : 1;
    b.first_seq = have ? prev.last_seq + 1 : 1;
    b.last_seq = last;
    if (last < b.first_seq) {
        e = aria_fail(why, ARIA_ERR_NOT_FOUND, "%s: no records pending", l->path);
        goto out;
    }
    uint64_t n = last - b.first_seq + 1;
    if (n > SIZE_MAX / ARIA_HASH_BYTES || !(leaves = h->alloc((size_t)n * ARIA_HASH_BYTES))) {
        e = aria_fail(why, ARIA_ERR_NOMEM, "%s: no memory for %" PRIu64 " record hashes", l->path,
                      n);
        goto out;
    }
    aria_msg m = {{0}};
    if ((e = lsq_range_hashes(l, b.first_seq, last, leaves, &missing, &m))) {
        if (e == ARIA_ERR_NOT_FOUND || e == ARIA_ERR_FORMAT)
            e = aria_fail(why, ARIA_ERR_FORMAT, "%s: cannot seal block %" PRIu64 ": %s (run "
                          "aria-core ledger verify)", l->path, b.height, m.text);
        else
            aria_fail(why, e, "%s", m.text);
        goto out;
    }
    aria_ledger_merkle_root((const uint8_t(*)[ARIA_HASH_BYTES])leaves, (size_t)n, b.merkle_root);
    if (have)
        memcpy(b.prev_hash, prev.hash, ARIA_HASH_BYTES);
    memcpy(b.sealer_pubkey, h->node_pubkey, ARIA_PUBKEY_BYTES);
    b.timestamp_ms = lsq_now_ms();
    aria_ledger_block_hash(&b, b.hash);
    uint8_t bytes[ARIA_LEDGER_BLOCK_BYTES];
    size_t nb = aria_ledger_block_bytes(&b, bytes);
    if ((e = h->sign(bytes, nb, b.sig)) != ARIA_OK) {
        e = aria_fail(why, e, "%s: cannot sign block %" PRIu64 ": %s", l->path, b.height,
                      aria_strerror(e));
        goto out;
    }
    if (aria_ledger_check_block(&b) != ARIA_OK) {
        e = aria_fail(why, ARIA_ERR_SIGNATURE, "%s: the host's signature of block %" PRIu64
                      " does not verify under its node_pubkey", l->path, b.height);
        goto out;
    }
    if ((e = lsq_insert_block(l, &b, why)) || (e = lsq_commit(l, why)))
        goto out;
    if (out)
        memcpy(out, &b, sizeof b);
out:
    if (e)
        lsq_rollback(l);
    h->free(leaves);
    return e;
}

/* After an append: seals when block_records are pending or the oldest
 * pending record is older than block_seconds. */
static void lsq_maybe_seal(aria_ledger *l, uint64_t last_seq)
{
    if (!l->block_records && !l->block_seconds)
        return;
    aria_ledger_block prev;
    int have = 0;
    aria_msg why = {{0}};
    if (lsq_last_block(l, &prev, &have, &why) != ARIA_OK) {
        LSQ_LOG(l, ARIA_LOG_WARN, "%s", why.text);
        return;
    }
    uint64_t first = have ? prev.last_seq + 1 : 1;
    if (last_seq < first)
        return;
    int due = l->block_records && last_seq - first + 1 >= l->block_records;
    if (!due && l->block_seconds) {
        sqlite3_stmt *s = l->q[Q_REC_TS];
        sqlite3_bind_int64(s, 1, (int64_t)first);
        if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_type(s, 0) == SQLITE_INTEGER)
            due = lsq_now_ms() - sqlite3_column_int64(s, 0) >= (int64_t)l->block_seconds * 1000;
        lsq_reset(s);
    }
    if (!due)
        return;
    aria_err e = lsq_seal_locked(l, NULL, &why);
    if (e != ARIA_OK && e != ARIA_ERR_NOT_FOUND && !l->seal_warned) {
        l->seal_warned = 1; /* once per handle: records still append */
        LSQ_LOG(l, ARIA_LOG_WARN, "%s", why.text);
    }
}

/* ---- append ---------------------------------------------------------------- */

/* What append checks before it touches the database. */
static aria_err lsq_check_record(const aria_ledger_record *r, aria_msg *why)
{
    const size_t head = offsetof(aria_ledger_record, stages);
    if (!r)
        return aria_fail(why, ARIA_ERR_INVALID, "no record");
    if (r->hdr.struct_size < head)
        return aria_fail(why, ARIA_ERR_ABI, "record struct is %u bytes, want at least %zu",
                         r->hdr.struct_size, head);
    if (r->n_stages < 1 || r->n_stages > ARIA_LEDGER_MAX_STAGES)
        return aria_fail(why, ARIA_ERR_INVALID, "record has %u stages, want 1..%d", r->n_stages,
                         ARIA_LEDGER_MAX_STAGES);
    size_t need = head + r->n_stages * sizeof(aria_ledger_stage);
    if (r->hdr.struct_size < need)
        return aria_fail(why, ARIA_ERR_ABI, "record struct is %u bytes, %u stages need %zu",
                         r->hdr.struct_size, r->n_stages, need);
    if (!memchr(r->model_id, 0, sizeof r->model_id))
        return aria_fail(why, ARIA_ERR_INVALID, "record model_id is not NUL-terminated within %zu "
                         "bytes", sizeof r->model_id);
    for (uint32_t i = 0; i < r->n_stages; i++)
        if (aria_ledger_check_stage(r, i) != ARIA_OK) {
            char pk[17];
            lsq_hex(r->stages[i].node_pubkey, ARIA_PUBKEY_BYTES, pk, sizeof pk);
            return aria_fail(why, ARIA_ERR_SIGNATURE,
                             "record for model '%s': stage %u signature does not verify (node "
                             "%s...)", r->model_id, i, pk);
        }
    return ARIA_OK;
}

static aria_err lsq_append_locked(aria_ledger *l, aria_ledger_record *r, aria_msg *why)
{
    uint64_t seq0 = r->seq;
    uint8_t prev0[ARIA_HASH_BYTES], hash0[ARIA_HASH_BYTES];
    memcpy(prev0, r->prev_hash, sizeof prev0);
    memcpy(hash0, r->hash, sizeof hash0);
    uint64_t last = 0;
    aria_err e = lsq_begin(l, 1, why);
    if (e)
        return e;
    if ((e = lsq_last_record(l, &last, r->prev_hash, why)))
        goto out;
    r->seq = last + 1;
    aria_ledger_record_hash(r, r->hash);
    if (!(e = lsq_insert_record(l, r, why)))
        e = lsq_commit(l, why);
out:
    if (e) {
        lsq_rollback(l);
        r->seq = seq0;
        memcpy(r->prev_hash, prev0, sizeof prev0);
        memcpy(r->hash, hash0, sizeof hash0);
    }
    return e;
}

static aria_err lsq_append(aria_ledger *l, aria_ledger_record *r, aria_msg *why)
{
    if (!l)
        return aria_fail(why, ARIA_ERR_INVALID, "no ledger");
    aria_err e = lsq_check_record(r, why);
    if (e)
        return e;
    pthread_mutex_lock(&l->mu);
    e = lsq_append_locked(l, r, why);
    if (!e)
        lsq_maybe_seal(l, r->seq);
    pthread_mutex_unlock(&l->mu);
    return e;
}

/* ---- get, iterate ---------------------------------------------------------- */

/* A read that failed: the column readers' messages lack the path. */
static void lsq_log_err(aria_ledger *l, aria_err e, const aria_msg *why)
{
    if (e == ARIA_ERR_FORMAT)
        LSQ_LOG(l, ARIA_LOG_ERROR, "%s: %s", l->path, why->text);
    else
        LSQ_LOG(l, ARIA_LOG_ERROR, "%s", why->text);
}

static aria_err lsq_get(aria_ledger *l, uint64_t seq, aria_ledger_record *out)
{
    if (!l || !out)
        return ARIA_ERR_INVALID;
    if (out->hdr.struct_size < sizeof *out) {
        LSQ_LOG(l, ARIA_LOG_ERROR, "get: record struct is %u bytes, want %zu",
                out->hdr.struct_size, sizeof *out);
        return ARIA_ERR_ABI;
    }
    if (seq == 0 || seq > INT64_MAX)
        return ARIA_ERR_NOT_FOUND;
    aria_ledger_record r;
    aria_msg why = {{0}};
    pthread_mutex_lock(&l->mu);
    sqlite3_stmt *s = l->q[Q_GET_REC];
    sqlite3_bind_int64(s, 1, (int64_t)seq);
    int rc = sqlite3_step(s);
    aria_err e = ARIA_ERR_NOT_FOUND;
    if (rc == SQLITE_ROW)
        e = lsq_read_record(l, s, &r, &why);
    else if (rc != SQLITE_DONE)
        e = lsq_sqlerr(l, rc, "cannot read a record", &why);
    lsq_reset(s);
    pthread_mutex_unlock(&l->mu);
    if (e == ARIA_OK)
        memcpy(out, &r, sizeof r);
    else if (e != ARIA_ERR_NOT_FOUND)
        lsq_log_err(l, e, &why);
    return e;
}

/* Up to cap records from seq `from` into buf; *n says how many. */
static aria_err lsq_read_from(aria_ledger *l, uint64_t from, aria_ledger_record *buf, size_t cap,
                              size_t *n, aria_msg *why)
{
    sqlite3_stmt *s = l->q[Q_RECS_FROM];
    sqlite3_bind_int64(s, 1, (int64_t)from);
    sqlite3_bind_int64(s, 2, (int64_t)cap);
    aria_err e = ARIA_OK;
    *n = 0;
    while (!e && *n < cap) {
        int rc = sqlite3_step(s);
        if (rc == SQLITE_DONE)
            break;
        if (rc != SQLITE_ROW)
            e = lsq_sqlerr(l, rc, "cannot read records", why);
        else if (!(e = lsq_read_record(l, s, &buf[*n], why)))
            (*n)++;
    }
    lsq_reset(s);
    return e;
}

static aria_err lsq_iterate(aria_ledger *l, uint64_t from_seq, aria_record_fn fn, void *user)
{
    if (!l || !fn)
        return ARIA_ERR_INVALID;
    if (from_seq > INT64_MAX)
        return ARIA_OK;
    aria_ledger_record *buf = l->host->alloc(LSQ_CHUNK * sizeof *buf);
    if (!buf)
        return ARIA_ERR_NOMEM;
    uint64_t next = from_seq ? from_seq : 1;
    aria_err e = ARIA_OK;
    for (int stop = 0; !stop && !e;) {
        size_t n = 0;
        aria_msg why = {{0}};
        pthread_mutex_lock(&l->mu);
        e = lsq_read_from(l, next, buf, LSQ_CHUNK, &n, &why);
        pthread_mutex_unlock(&l->mu);
        if (e)
            lsq_log_err(l, e, &why);
        for (size_t i = 0; i < n && !stop; i++)
            stop = fn(user, &buf[i]) != 0;
        if (n < LSQ_CHUNK)
            break;
        next = buf[n - 1].seq + 1;
    }
    l->host->free(buf);
    return e;
}

static aria_err lsq_get_block(aria_ledger *l, uint64_t height, aria_ledger_block *out)
{
    if (!l || !out)
        return ARIA_ERR_INVALID;
    if (out->hdr.struct_size < sizeof *out) {
        LSQ_LOG(l, ARIA_LOG_ERROR, "get_block: block struct is %u bytes, want %zu",
                out->hdr.struct_size, sizeof *out);
        return ARIA_ERR_ABI;
    }
    if (height == 0 || height > INT64_MAX)
        return ARIA_ERR_NOT_FOUND;
    aria_ledger_block b;
    aria_msg why = {{0}};
    pthread_mutex_lock(&l->mu);
    sqlite3_stmt *s = l->q[Q_GET_BLK];
    sqlite3_bind_int64(s, 1, (int64_t)height);
    int rc = sqlite3_step(s);
    aria_err e = ARIA_ERR_NOT_FOUND;
    if (rc == SQLITE_ROW)
        e = lsq_read_block(s, &b, &why);
    else if (rc != SQLITE_DONE)
        e = lsq_sqlerr(l, rc, "cannot read a block", &why);
    lsq_reset(s);
    pthread_mutex_unlock(&l->mu);
    if (e == ARIA_OK)
        memcpy(out, &b, sizeof b);
    else if (e != ARIA_ERR_NOT_FOUND)
        lsq_log_err(l, e, &why);
    return e;
}

static aria_err lsq_seal(aria_ledger *l, aria_ledger_block *out, aria_msg *why)
{
    if (!l)
        return aria_fail(why, ARIA_ERR_INVALID, "no ledger");
    if (out && out->hdr.struct_size < sizeof *out)
        return aria_fail(why, ARIA_ERR_ABI, "block struct is %u bytes, want %zu",
                         out->hdr.struct_size, sizeof *out);
    pthread_mutex_lock(&l->mu);
    aria_err e = lsq_seal_locked(l, out, why);
    pthread_mutex_unlock(&l->mu);
    return e;
}

/* ---- spot-checks ----------------------------------------------------------- */

static aria_err lsq_read_check(sqlite3_stmt *s, aria_ledger_check *c, aria_msg *why)
{
    memset(c, 0, sizeof *c);
    c->hdr.struct_size = sizeof *c;
    c->hdr.version = ARIA_LEDGER_VERSION;
    int64_t seq = 0;
    aria_err e = lsq_col_int(s, 0, 1, INT64_MAX, &seq, "a check", why);
    if (e)
        return e;
    c->seq = (uint64_t)seq;
    char who[48];
    snprintf(who, sizeof who, "check %" PRIu64, c->seq);
    if ((e = lsq_col_blob(s, 1, c->record_id, sizeof c->record_id, who, why)) ||
        (e = lsq_col_blob(s, 2, c->peer_pubkey, ARIA_PUBKEY_BYTES, who, why)) ||
        (e = lsq_col_blob(s, 3, c->expected_hash, ARIA_HASH_BYTES, who, why)) ||
        (e = lsq_col_blob(s, 4, c->got_hash, ARIA_HASH_BYTES, who, why)) ||
        (e = lsq_col_u32(s, 5, &c->passed, who, why)) ||
        (e = lsq_col_u32(s, 6, &c->reserved, who, why)) ||
        (e = lsq_col_i64(s, 7, &c->timestamp_ms, who, why)) ||
        (e = lsq_col_blob(s, 8, c->validator_pubkey, ARIA_PUBKEY_BYTES, who, why)) ||
        (e = lsq_col_blob(s, 9, c->sig, ARIA_SIG_BYTES, who, why)))
        return e;
    return ARIA_OK;
}

static int lsq_check_sig_ok(const aria_ledger_check *c)
{
    uint8_t bytes[ARIA_LEDGER_CHECK_BYTES];
    size_t n = aria_ledger_check_bytes(c, bytes);
    return n && crypto_sign_verify_detached(c->sig, bytes, n, c->validator_pubkey) == 0;
}

/* Signs c as this node (validator_pubkey all zeroes) or checks its signature. */
static aria_err lsq_sign_check(aria_ledger *l, aria_ledger_check *c, aria_msg *why)
{
    const aria_host *h = l->host;
    char idh[33];
    lsq_hex(c->record_id, sizeof c->record_id, idh, sizeof idh);
    if (lsq_is_zero(c->validator_pubkey, ARIA_PUBKEY_BYTES)) {
        if (!h->sign)
            return aria_fail(why, ARIA_ERR_UNAVAILABLE, "cannot sign the spot-check of record %s: "
                             "the node has no signing key (host sign is NULL)", idh);
        memcpy(c->validator_pubkey, h->node_pubkey, ARIA_PUBKEY_BYTES);
        uint8_t bytes[ARIA_LEDGER_CHECK_BYTES];
        size_t n = aria_ledger_check_bytes(c, bytes);
        aria_err e = h->sign(bytes, n, c->sig);
        if (e != ARIA_OK)
            return aria_fail(why, e, "cannot sign the spot-check of record %s: %s", idh,
                             aria_strerror(e));
        if (!lsq_check_sig_ok(c))
            return aria_fail(why, ARIA_ERR_SIGNATURE, "the host's signature of the spot-check of "
                             "record %s does not verify under its node_pubkey", idh);
        return ARIA_OK;
    }
    if (!lsq_check_sig_ok(c)) {
        char vk[17];
        lsq_hex(c->validator_pubkey, ARIA_PUBKEY_BYTES, vk, sizeof vk);
        return aria_fail(why, ARIA_ERR_SIGNATURE, "spot-check of record %s: signature does not "
                         "verify under validator %s...", idh, vk);
    }
    return ARIA_OK;
}

static aria_err lsq_insert_check(aria_ledger *l, const aria_ledger_check *c, aria_msg *why)
{
    sqlite3_stmt *s = l->q[Q_INS_CHK];
    int rc = sqlite3_bind_int64(s, 1, (int64_t)c->seq);
    rc |= sqlite3_bind_blob(s, 2, c->record_id, sizeof c->record_id, SQLITE_STATIC);
    rc |= sqlite3_bind_blob(s, 3, c->peer_pubkey, ARIA_PUBKEY_BYTES, SQLITE_STATIC);
    rc |= sqlite3_bind_blob(s, 4, c->expected_hash, ARIA_HASH_BYTES, SQLITE_STATIC);
    rc |= sqlite3_bind_blob(s, 5, c->got_hash, ARIA_HASH_BYTES, SQLITE_STATIC);
    rc |= sqlite3_bind_int64(s, 6, c->passed);
    rc |= sqlite3_bind_int64(s, 7, c->reserved);
    rc |= sqlite3_bind_int64(s, 8, c->timestamp_ms);
    rc |= sqlite3_bind_blob(s, 9, c->validator_pubkey, ARIA_PUBKEY_BYTES, SQLITE_STATIC);
    rc |= sqlite3_bind_blob(s, 10, c->sig, ARIA_SIG_BYTES, SQLITE_STATIC);
    if (rc != SQLITE_OK) {
        lsq_reset(s);
        return lsq_sqlerr(l, rc, "cannot bind a spot-check", why);
    }
    return lsq_run(l, s, "cannot insert a spot-check", why);
}

static aria_err lsq_add_check(aria_ledger *l, aria_ledger_check *c, aria_msg *why)
{
    if (!l || !c)
        return aria_fail(why, ARIA_ERR_INVALID, "no ledger or no spot-check");
    if (c->hdr.struct_size < sizeof *c)
        return aria_fail(why, ARIA_ERR_ABI, "spot-check struct is %u bytes, want %zu",
                         c->hdr.struct_size, sizeof *c);
    if (c->passed > 1)
        return aria_fail(why, ARIA_ERR_INVALID, "spot-check passed is %u, want 0 or 1", c->passed);
    uint64_t seq0 = c->seq;
    uint8_t vk0[ARIA_PUBKEY_BYTES], sig0[ARIA_SIG_BYTES];
    memcpy(vk0, c->validator_pubkey, sizeof vk0);
    memcpy(sig0, c->sig, sizeof sig0);
    aria_err e = lsq_sign_check(l, c, why);
    if (!e) {
        pthread_mutex_lock(&l->mu);
        int64_t last = 0;
        if (!(e = lsq_begin(l, 1, why)) && !(e = lsq_scalar(l, Q_LAST_CHK, &last, why))) {
            c->seq = (uint64_t)last + 1;
            if (!(e = lsq_insert_check(l, c, why)))
                e = lsq_commit(l, why);
        }
        if (e)
            lsq_rollback(l);
        pthread_mutex_unlock(&l->mu);
    }
    if (e) {
        c->seq = seq0;
        memcpy(c->validator_pubkey, vk0, sizeof vk0);
        memcpy(c->sig, sig0, sizeof sig0);
    }
    return e;
}

static aria_err lsq_checks_from(aria_ledger *l, uint64_t from, aria_ledger_check *buf,
                                size_t cap, size_t *n, aria_msg *why)
{
    sqlite3_stmt *s = l->q[Q_CHKS_FROM];
    sqlite3_bind_int64(s, 1, (int64_t)from);
    sqlite3_bind_int64(s, 2, (int64_t)cap);
    aria_err e = ARIA_OK;
    *n = 0;
    while (!e && *n < cap) {
        int rc = sqlite3_step(s);
        if (rc == SQLITE_DONE)
            break;
        if (rc != SQLITE_ROW)
            e = lsq_sqlerr(l, rc, "cannot read spot-checks", why);
        else if (!(e = lsq_read_check(s, &buf[*n], why)))
            (*n)++;
    }
    lsq_reset(s);
    return e;
}

static aria_err lsq_iterate_checks(aria_ledger *l, aria_check_fn fn, void *user)
{
    if (!l || !fn)
        return ARIA_ERR_INVALID;
    aria_ledger_check *buf = l->host->alloc(LSQ_CHUNK * sizeof *buf);
    if (!buf)
        return ARIA_ERR_NOMEM;
    uint64_t next = 1;
    aria_err e = ARIA_OK;
    for (int stop = 0; !stop && !e;) {
        size_t n = 0;
        aria_msg why = {{0}};
        pthread_mutex_lock(&l->mu);
        e = lsq_checks_from(l, next, buf, LSQ_CHUNK, &n, &why);
        pthread_mutex_unlock(&l->mu);
        if (e)
            lsq_log_err(l, e, &why);
        for (size_t i = 0; i < n && !stop; i++)
            stop = fn(user, &buf[i]) != 0;
        if (n < LSQ_CHUNK)
            break;
        next = buf[n - 1].seq + 1;
    }
    l->host->free(buf);
    return e;
}

/* ---- verify ---------------------------------------------------------------- */

/* Adds one finding to the report's one-line detail ("a; b; c"); 1. */
static int lsq_note(aria_ledger_report *rep, const char *fmt, ...) ARIA_PRINTF(2, 3);
static int lsq_note(aria_ledger_report *rep, const char *fmt, ...)
{
    size_t n = strnlen(rep->detail, sizeof rep->detail);
    if (n + 3 >= sizeof rep->detail)
        return 1;
    if (n) {
        memcpy(rep->detail + n, "; ", 3);
        n += 2;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rep->detail + n, sizeof rep->detail - n, fmt, ap);
    va_end(ap);
    return 1;
}

/* Notes why r, read back from the store, does not follow prev: 1, or 0. */
static int lsq_record_fault(const aria_ledger_record *r, const uint8_t *prev,
                            aria_ledger_report *rep)
{
    uint64_t q = r->seq;
    uint8_t h[ARIA_HASH_BYTES];
    aria_ledger_record_hash(r, h);
    if (memcmp(h, r->hash, ARIA_HASH_BYTES))
        return lsq_note(rep, "record %" PRIu64 ": hash does not match its fields", q);
    if (memcmp(prev, r->prev_hash, ARIA_HASH_BYTES))
        return q == 1 ? lsq_note(rep, "record 1: prev_hash is not all zeroes")
                      : lsq_note(rep, "record %" PRIu64 ": prev_hash does not match the hash of "
                                 "record %" PRIu64, q, q - 1);
    for (uint32_t i = 0; i < r->n_stages; i++)
        if (aria_ledger_check_stage(r, i) != ARIA_OK)
            return lsq_note(rep, "record %" PRIu64 ": stage %u signature does not verify", q, i);
    return 0;
}

/* The records in order: continuity, hash, link, stage signatures. Stops at
 * the first bad one. A database error (not a finding) is returned. */
static aria_err lsq_verify_records(aria_ledger *l, aria_ledger_report *rep, aria_msg *why)
{
    sqlite3_stmt *s = l->q[Q_RECS_ALL];
    uint8_t prev[ARIA_HASH_BYTES] = {0};
    uint64_t expect = 1;
    int64_t stray = 0;
    aria_err e = ARIA_OK;
    aria_ledger_record r;
    for (;;) {
        int rc = sqlite3_step(s);
        if (rc == SQLITE_DONE)
            break;
        if (rc != SQLITE_ROW) {
            e = lsq_sqlerr(l, rc, "cannot read the records", why);
            break;
        }
        int64_t seq = sqlite3_column_int64(s, 0); /* an INTEGER PRIMARY KEY */
        if (seq < 1) {
            stray = stray ? stray : (seq ? seq : -1);
            continue;
        }
        if ((uint64_t)seq != expect) {
            rep->first_bad_seq = expect;
            if (expect == 1)
                lsq_note(rep, "record 1 is missing (the first stored is record %" PRId64 ")", seq);
            else
                lsq_note(rep, "record %" PRIu64 " is missing (record %" PRId64 " follows record %"
                         PRIu64 ")", expect, seq, expect - 1);
            break;
        }
        aria_msg m = {{0}};
        aria_err d = lsq_read_record(l, s, &r, &m);
        if (d == ARIA_ERR_FORMAT) {
            rep->first_bad_seq = expect;
            lsq_note(rep, "%s", m.text);
            break;
        }
        if (d) {
            e = aria_fail(why, d, "%s", m.text);
            break;
        }
        if (lsq_record_fault(&r, prev, rep)) {
            rep->first_bad_seq = expect;
            break;
        }
        memcpy(prev, r.hash, ARIA_HASH_BYTES);
        expect++;
    }
    lsq_reset(s);
    if (!e && !rep->first_bad_seq && stray) {
        rep->first_bad_seq = expect;
        lsq_note(rep, "a record row has seq %" PRId64 " (seqs start at 1)", stray);
    }
    return e;
}

/* Stage rows whose record does not exist. */
static aria_err lsq_verify_orphans(aria_ledger *l, aria_ledger_report *rep, aria_msg *why)
{
    sqlite3_stmt *s = l->q[Q_ORPHAN];
    int rc = sqlite3_step(s);
    aria_err e = ARIA_OK;
    if (rc == SQLITE_ROW) {
        int64_t seq = sqlite3_column_int64(s, 0), idx = sqlite3_column_int64(s, 1);
        rep->first_bad_seq = seq > 0 ? (uint64_t)seq : 1;
        lsq_note(rep, "record_stages: a row of record %" PRId64 " (idx %" PRId64 "), which "
                 "does not exist", seq, idx);
    } else if (rc != SQLITE_DONE) {
        e = lsq_sqlerr(l, rc, "cannot read record stages", why);
    }
    lsq_reset(s);
    return e;
}

typedef struct lsq_walk {
    uint8_t prev[ARIA_HASH_BYTES]; /* hash of the block before */
    uint64_t next_first;           /* first seq the next block must hold */
    uint64_t max_seq;              /* highest record seq stored */
    uint64_t n_records;            /* records stored */
    uint8_t (*leaves)[ARIA_HASH_BYTES];
    size_t cap;
} lsq_walk;

/* Checks one block against the one before and the records it covers:
 * 1 with the finding noted, 0 when sound, < 0 with a database error. */
static int lsq_block_fault(aria_ledger *l, const aria_ledger_block *b, lsq_walk *w,
                           aria_ledger_report *rep, aria_msg *why)
{
    uint64_t h = b->height, f = b->first_seq, t = b->last_seq;
    uint8_t x[ARIA_HASH_BYTES];
    aria_ledger_block_hash(b, x);
    if (memcmp(x, b->hash, ARIA_HASH_BYTES))
        return lsq_note(rep, "block %" PRIu64 ": hash does not match its header", h);
    if (memcmp(w->prev, b->prev_hash, ARIA_HASH_BYTES))
        return lsq_note(rep, "block %" PRIu64 ": prev_hash does not match %s", h,
                        h == 1 ? "zeroes (it is the first)" : "the hash of the block before");
    if (f != w->next_first || t < f)
        return lsq_note(rep, "block %" PRIu64 ": holds records %" PRIu64 "-%" PRIu64 ", want a "
                        "range from %" PRIu64, h, f, t, w->next_first);
    if (t > w->max_seq) {
        if (!rep->first_bad_seq)
            rep->first_bad_seq = w->max_seq + 1;
        return lsq_note(rep, "block %" PRIu64 ": covers records %" PRIu64 "-%" PRIu64 " but the "
                        "ledger ends at record %" PRIu64, h, f, t, w->max_seq);
    }
    /* More records than are stored cannot all be there: find the first
     * missing one without holding their hashes. */
    uint64_t n = t - f + 1, missing = 0;
    uint8_t(*leaves)[ARIA_HASH_BYTES] = NULL;
    if (n <= w->n_records && n > w->cap) {
        void *p = l->host->realloc(w->leaves, (size_t)n * ARIA_HASH_BYTES);
        if (!p) {
            aria_fail(why, ARIA_ERR_NOMEM, "%s: no memory for %" PRIu64 " record hashes",
                      l->path, n);
            return -1;
        }
        w->leaves = p;
        w->cap = (size_t)n;
    }
    if (n <= w->n_records)
        leaves = w->leaves;
    aria_msg m = {{0}};
    aria_err e = lsq_range_hashes(l, f, t, leaves, &missing, &m);
    if (e == ARIA_ERR_NOT_FOUND) {
        if (!rep->first_bad_seq)
            rep->first_bad_seq = missing;
        return lsq_note(rep, "block %" PRIu64 ": covers records %" PRIu64 "-%" PRIu64 " but "
                        "record %" PRIu64 " is missing", h, f, t, missing);
    }
    if (e == ARIA_ERR_FORMAT)
        return lsq_note(rep, "block %" PRIu64 ": %s", h, m.text);
    if (e || !leaves) {
        aria_fail(why, e ? e : ARIA_ERR_INTERNAL, "%s", e ? m.text : "record count changed");
        return -1;
    }
    aria_ledger_merkle_root((const uint8_t(*)[ARIA_HASH_BYTES])leaves, (size_t)n, x);
    if (memcmp(x, b->merkle_root, ARIA_HASH_BYTES))
        return lsq_note(rep, "block %" PRIu64 ": merkle root does not match records %" PRIu64
                        "-%" PRIu64, h, f, t);
    if (aria_ledger_check_block(b) != ARIA_OK)
        return lsq_note(rep, "block %" PRIu64 ": sealer signature does not verify", h);
    return 0;
}

/* The blocks in order: continuity, hash, link, range, Merkle root, seal. */
static aria_err lsq_verify_blocks(aria_ledger *l, aria_ledger_report *rep, uint64_t max_seq,
                                  aria_msg *why)
{
    sqlite3_stmt *s = l->q[Q_BLKS_ALL];
    lsq_walk w = {.next_first = 1, .max_seq = max_seq, .n_records = rep->n_records};
    uint64_t expect = 1;
    int64_t stray = 0;
    aria_err e = ARIA_OK;
    for (;;) {
        int rc = sqlite3_step(s);
        if (rc == SQLITE_DONE)
            break;
        if (rc != SQLITE_ROW) {
            e = lsq_sqlerr(l, rc, "cannot read the blocks", why);
            break;
        }
        int64_t height = sqlite3_column_int64(s, 0);
        if (height < 1) {
            stray = stray ? stray : (height ? height : -1);
            continue;
        }
        if ((uint64_t)height != expect) {
            rep->first_bad_height = expect;
            lsq_note(rep, "block %" PRIu64 " is missing (block %" PRId64 " follows it)", expect,
                     height);
            break;
        }
        aria_ledger_block b;
        aria_msg m = {{0}};
        if (lsq_read_block(s, &b, &m)) {
            rep->first_bad_height = expect;
            lsq_note(rep, "%s", m.text);
            break;
        }
        int bad = lsq_block_fault(l, &b, &w, rep, why);
        if (bad < 0)
            e = ARIA_ERR_IO;
        if (bad > 0)
            rep->first_bad_height = expect;
        if (bad)
            break;
        memcpy(w.prev, b.hash, ARIA_HASH_BYTES);
        w.next_first = b.last_seq + 1;
        expect++;
    }
    lsq_reset(s);
    l->host->free(w.leaves);
    if (!e && !rep->first_bad_height && stray) {
        rep->first_bad_height = expect;
        lsq_note(rep, "a block row has height %" PRId64 " (heights start at 1)", stray);
    }
    return e;
}

/* The spot-checks in order: continuity and the validator's signature.
 * *bad is set on a finding (checks have no first_bad field of their own). */
static aria_err lsq_verify_checks(aria_ledger *l, aria_ledger_report *rep, int *bad,
                                  aria_msg *why)
{
    sqlite3_stmt *s = l->q[Q_CHKS_ALL];
    uint64_t expect = 1;
    aria_err e = ARIA_OK;
    for (;;) {
        int rc = sqlite3_step(s);
        if (rc == SQLITE_DONE)
            break;
        if (rc != SQLITE_ROW) {
            e = lsq_sqlerr(l, rc, "cannot read the spot-checks", why);
            break;
        }
        int64_t seq = sqlite3_column_int64(s, 0);
        aria_ledger_check c;
        aria_msg m = {{0}};
        *bad = 1;
        if (seq < 1 || (uint64_t)seq != expect) {
            lsq_note(rep, "check %" PRIu64 " is missing (a check with seq %" PRId64 " is stored)",
                     expect, seq);
            break;
        }
        if (lsq_read_check(s, &c, &m)) {
            lsq_note(rep, "%s", m.text);
            break;
        }
        if (!lsq_check_sig_ok(&c)) {
            lsq_note(rep, "check %" PRIu64 ": validator signature does not verify", expect);
            break;
        }
        *bad = 0;
        expect++;
    }
    lsq_reset(s);
    return e;
}

static aria_err lsq_verify_locked(aria_ledger *l, aria_ledger_report *rep, aria_msg *why)
{
    int64_t nr = 0, nb = 0, max_seq = 0;
    int bad_check = 0;
    aria_err e;
    if ((e = lsq_begin(l, 0, why))) /* one snapshot for the whole walk */
        return e;
    if (!(e = lsq_scalar(l, Q_COUNT_REC, &nr, why)) &&
        !(e = lsq_scalar(l, Q_COUNT_BLK, &nb, why)) &&
        !(e = lsq_scalar(l, Q_MAX_SEQ, &max_seq, why))) {
        rep->n_records = (uint64_t)nr;
        rep->n_blocks = (uint64_t)nb;
        if (!(e = lsq_verify_records(l, rep, why)) && !rep->first_bad_seq)
            e = lsq_verify_orphans(l, rep, why);
        if (!e)
            e = lsq_verify_blocks(l, rep, max_seq > 0 ? (uint64_t)max_seq : 0, why);
        if (!e)
            e = lsq_verify_checks(l, rep, &bad_check, why);
    }
    lsq_rollback(l); /* a read transaction: nothing to keep */
    if (e)
        return e;
    return rep->first_bad_seq || rep->first_bad_height || bad_check ? ARIA_ERR_SIGNATURE : ARIA_OK;
}

static aria_err lsq_verify(aria_ledger *l, aria_ledger_report *out)
{
    if (!l || !out)
        return ARIA_ERR_INVALID;
    if (out->hdr.struct_size < sizeof *out) {
        LSQ_LOG(l, ARIA_LOG_ERROR, "verify: report struct is %u bytes, want %zu",
                out->hdr.struct_size, sizeof *out);
        return ARIA_ERR_ABI;
    }
    memset(out, 0, sizeof *out);
    out->hdr.struct_size = sizeof *out;
    out->hdr.version = ARIA_LEDGER_VERSION;
    aria_msg why = {{0}};
    pthread_mutex_lock(&l->mu);
    aria_err e = lsq_verify_locked(l, out, &why);
    pthread_mutex_unlock(&l->mu);
    if (e && e != ARIA_ERR_SIGNATURE)
        snprintf(out->detail, sizeof out->detail, "%s", why.text);
    return e;
}

/* ---- open, close ----------------------------------------------------------- */

static aria_err lsq_user_version(aria_ledger *l, int *v, aria_msg *why)
{
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(l->db, "PRAGMA user_version", -1, &s, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(s);
    aria_err e = ARIA_OK;
    if (rc == SQLITE_ROW)
        *v = sqlite3_column_int(s, 0);
    else
        e = lsq_sqlerr(l, rc, "cannot read the schema version", why);
    sqlite3_finalize(s);
    return e;
}

static aria_err lsq_check_version(aria_ledger *l, int v, aria_msg *why)
{
    if (v > LSQ_SCHEMA)
        return aria_fail(why, ARIA_ERR_UNSUPPORTED, "%s: ledger schema version %d is newer than "
                         "this ledger-sqlite's (%d): use a newer plugin", l->path, v, LSQ_SCHEMA);
    if (v < 0)
        return aria_fail(why, ARIA_ERR_FORMAT, "%s: schema version %d: not a ledger-sqlite "
                         "database", l->path, v);
    return ARIA_OK;
}

/* Brings the schema up to LSQ_SCHEMA, one migration at a time. */
static aria_err lsq_migrate(aria_ledger *l, aria_msg *why)
{
    int v = 0;
    aria_err e = lsq_user_version(l, &v, why);
    if (e || (e = lsq_check_version(l, v, why)) || v == LSQ_SCHEMA)
        return e;
    if ((e = lsq_exec(l, "BEGIN IMMEDIATE", "cannot begin the schema migration", why)))
        return e;
    /* another process may have migrated while we waited for the lock */
    if (!(e = lsq_user_version(l, &v, why)) && !(e = lsq_check_version(l, v, why))) {
        for (; !e && v < LSQ_SCHEMA; v++) {
            char doing[64];
            snprintf(doing, sizeof doing, "cannot migrate the schema to version %d", v + 1);
            e = lsq_exec(l, lsq_migrations[v], doing, why);
        }
        char bump[48];
        snprintf(bump, sizeof bump, "PRAGMA user_version = %d", LSQ_SCHEMA);
        if (!e && !(e = lsq_exec(l, bump, "cannot set the schema version", why)))
            e = lsq_exec(l, "COMMIT", "cannot commit the schema migration", why);
    }
    if (e && !sqlite3_get_autocommit(l->db))
        sqlite3_exec(l->db, "ROLLBACK", NULL, NULL, NULL); /* statements are not prepared yet */
    else if (!e)
        LSQ_LOG(l, ARIA_LOG_INFO, "%s: schema at version %d", l->path, LSQ_SCHEMA);
    return e;
}

static aria_err lsq_wal(aria_ledger *l, aria_msg *why)
{
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(l->db, "PRAGMA journal_mode = WAL", -1, &s, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(s);
    aria_err e = ARIA_OK;
    const char *mode = rc == SQLITE_ROW ? (const char *)sqlite3_column_text(s, 0) : NULL;
    if (rc != SQLITE_ROW)
        e = lsq_sqlerr(l, rc, "cannot use as a ledger", why);
    else if (!mode || sqlite3_stricmp(mode, "wal") != 0)
        e = aria_fail(why, ARIA_ERR_UNSUPPORTED, "%s: cannot switch to WAL mode (journal mode "
                      "stays '%s')", l->path, mode ? mode : "?");
    sqlite3_finalize(s);
    return e;
}

static aria_err lsq_connect(aria_ledger *l, aria_msg *why)
{
    int rc = sqlite3_open_v2(l->path, &l->db,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                             NULL);
    if (rc != SQLITE_OK) {
        int err = l->db ? sqlite3_system_errno(l->db) : 0;
        return aria_fail(why, ARIA_ERR_IO, "%s: cannot open: %s%s%s%s", l->path,
                         l->db ? sqlite3_errmsg(l->db) : sqlite3_errstr(rc), err ? " (" : "",
                         err ? strerror(err) : "", err ? ")" : "");
    }
    sqlite3_extended_result_codes(l->db, 1);
    sqlite3_busy_timeout(l->db, LSQ_BUSY_MS);
    aria_err e;
    if ((e = lsq_wal(l, why)) ||
        (e = lsq_exec(l, l->sync_full ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL",
                      "cannot set synchronous", why)) ||
        (e = lsq_migrate(l, why)))
        return e;
    for (int i = 0; i < Q_N; i++) {
        rc = sqlite3_prepare_v3(l->db, lsq_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &l->q[i], NULL);
        if (rc != SQLITE_OK)
            return aria_fail(why, ARIA_ERR_FORMAT, "%s: not a ledger of schema %d: %s", l->path,
                             LSQ_SCHEMA, sqlite3_errmsg(l->db));
    }
    return ARIA_OK;
}

static void lsq_free(aria_ledger *l)
{
    for (int i = 0; i < Q_N; i++)
        sqlite3_finalize(l->q[i]);
    if (l->db)
        sqlite3_close(l->db);
    pthread_mutex_destroy(&l->mu);
    l->host->free(l->path);
    l->host->free(l);
}

static aria_err lsq_open(void *ctx, const aria_ledger_opts *o, aria_ledger **out, aria_msg *why)
{
    const lsq_ctx *c = ctx;
    if (!out)
        return aria_fail(why, ARIA_ERR_INVALID, "ledger-sqlite: open: no place for the handle");
    *out = NULL;
    if (!c || !c->host)
        return aria_fail(why, ARIA_ERR_INVALID, "ledger-sqlite: open without the plugin's "
                         "context (init did not run)");
    if (!o || o->hdr.struct_size < offsetof(aria_ledger_opts, block_seconds) + sizeof(uint32_t))
        return aria_fail(why, ARIA_ERR_ABI, "ledger-sqlite: open: options struct too small");
    if (!o->path || !o->path[0])
        return aria_fail(why, ARIA_ERR_INVALID, "ledger-sqlite: open: no database path");
    const aria_host *h = c->host;
    aria_ledger *l = h->calloc(1, sizeof *l);
    size_t plen = strlen(o->path) + 1;
    char *path = h->alloc(plen);
    if (!l || !path) {
        h->free(l);
        h->free(path);
        return aria_fail(why, ARIA_ERR_NOMEM, "%s: out of memory", o->path);
    }
    memcpy(path, o->path, plen);
    l->host = h;
    l->path = path;
    l->sync_full = c->sync_full;
    l->block_records = o->block_records;
    l->block_seconds = o->block_seconds;
    pthread_mutex_init(&l->mu, NULL);
    aria_err e = lsq_connect(l, why);
    if (e) {
        lsq_free(l);
        return e;
    }
    LSQ_LOG(l, ARIA_LOG_DEBUG, "%s: open (schema %d, WAL, sync=%s, block every %u records / %u s)",
            l->path, LSQ_SCHEMA, l->sync_full ? "full" : "normal", l->block_records,
            l->block_seconds);
    *out = l;
    return ARIA_OK;
}

static void lsq_close(aria_ledger *l)
{
    if (!l)
        return;
    pthread_mutex_lock(&l->mu);
    /* Passive: never waits for a reader in another process (`aria-core
     * ledger`); the last connection to close checkpoints fully anyway. */
    int rc = sqlite3_wal_checkpoint_v2(l->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
    if (rc != SQLITE_OK)
        LSQ_LOG(l, ARIA_LOG_WARN, "%s: checkpoint at close: %s", l->path, sqlite3_errmsg(l->db));
    pthread_mutex_unlock(&l->mu);
    lsq_free(l);
}

/* ---- the plugin ------------------------------------------------------------ */

static const aria_ledger_vt lsq_vt = {
    .hdr = {sizeof(aria_ledger_vt), ARIA_LEDGER_VERSION},
    .name = "sqlite",
    .open = lsq_open,
    .close = lsq_close,
    .append = lsq_append,
    .get = lsq_get,
    .iterate = lsq_iterate,
    .seal = lsq_seal,
    .get_block = lsq_get_block,
    .verify = lsq_verify,
    .add_check = lsq_add_check,
    .iterate_checks = lsq_iterate_checks,
};

static aria_err lsq_init(const aria_host *host, void **ctx, aria_msg *why)
{
    if (sodium_init() < 0)
        return aria_fail(why, ARIA_ERR_UNAVAILABLE, "libsodium does not initialize");
    if (!sqlite3_threadsafe())
        return aria_fail(why, ARIA_ERR_UNAVAILABLE, "SQLite %s is built without thread support",
                         sqlite3_libversion());
    const char *sync = host->config_get ? host->config_get("plugin." LSQ_PLUGIN, "sync") : NULL;
    if (!sync)
        sync = "normal";
    if (strcmp(sync, "normal") && strcmp(sync, "full"))
        return aria_fail(why, ARIA_ERR_INVALID, "[plugin.ledger-sqlite] sync = '%s': want normal "
                         "or full", sync);
    lsq_ctx *c = host->calloc(1, sizeof *c);
    if (!c)
        return aria_fail(why, ARIA_ERR_NOMEM, "out of memory");
    c->host = host;
    c->sync_full = !strcmp(sync, "full");
    *ctx = c;
    return ARIA_OK;
}

static void lsq_fini(void *ctx)
{
    lsq_ctx *c = ctx;
    if (c)
        c->host->free(c);
}

static const aria_interface lsq_ifaces[] = {
    {.kind = ARIA_IFACE_LEDGER, .vtable = &lsq_vt},
};

static const aria_cfg_key lsq_cfg[] = {
    {.key = "sync", .type = ARIA_CFG_ENUM, .def = "normal", .choices = "normal|full",
     .help = "normal: an acknowledged record survives kill -9; full: also power loss (an fsync "
             "per record)"},
};

static const aria_plugin_desc lsq_desc = {
    .abi_major = ARIA_ABI_MAJOR,
    .abi_minor = ARIA_ABI_MINOR,
    .struct_size = sizeof(aria_plugin_desc),
    .name = LSQ_PLUGIN,
    .version = "1.0.0",
    .description = "provenance ledger on SQLite (WAL): signed records, hash chain, Merkle blocks",
    .n_interfaces = sizeof lsq_ifaces / sizeof lsq_ifaces[0],
    .interfaces = lsq_ifaces,
    .init = lsq_init,
    .fini = lsq_fini,
    .n_cfg_keys = sizeof lsq_cfg / sizeof lsq_cfg[0],
    .cfg_keys = lsq_cfg,
};

ARIA_PLUGIN(lsq_desc)
