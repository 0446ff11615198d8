/* ledger.c — the canonical bytes of the provenance ledger (aria/ledger.h):
 * what every stage signs, what a record and a block hash to, the Merkle
 * root, what a spot-check's validator signs. Every ledger implementation and
 * every node uses these, so a record signed on one machine checks on another.
 *
 * Layout: a 9-byte magic naming the kind ("ARIA-REC1", "ARIA-BLK1",
 * "ARIA-CHK1", so a signature over one kind can never pass for another),
 * then the fields in struct order, fixed-width little-endian; strings as a
 * u16 length and their bytes (no NUL). The struct headers (aria_vt_hdr) are
 * not part of any bytes: they describe the caller's memory, not the data. */
#include <aria/ledger.h>

#include <sodium.h>
#include <string.h>

#define LDG_MAGIC_LEN 9

/* ---- a bounded writer -------------------------------------------------- */

typedef struct ldg_buf {
    uint8_t *p;
    size_t len, cap;
    int over; /* a write did not fit: the result is invalid */
} ldg_buf;

static void ldg_put(ldg_buf *b, const void *src, size_t n)
{
    if (b->over || n > b->cap - b->len) {
        b->over = 1;
        return;
    }
    memcpy(b->p + b->len, src, n);
    b->len += n;
}

static void ldg_u16(ldg_buf *b, uint16_t v)
{
    uint8_t x[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
    ldg_put(b, x, sizeof x);
}

static void ldg_u32(ldg_buf *b, uint32_t v)
{
    uint8_t x[4];
    for (int i = 0; i < 4; i++)
        x[i] = (uint8_t)(v >> (8 * i));
    ldg_put(b, x, sizeof x);
}

static void ldg_u64(ldg_buf *b, uint64_t v)
{
    uint8_t x[8];
    for (int i = 0; i < 8; i++)
        x[i] = (uint8_t)(v >> (8 * i));
    ldg_put(b, x, sizeof x);
}

/* ---- records --------------------------------------------------------------- */

size_t aria_ledger_signed_bytes(const aria_ledger_record *r, uint8_t out[ARIA_LEDGER_SIGNED_MAX])
{
    if (!r || r->n_stages < 1 || r->n_stages > ARIA_LEDGER_MAX_STAGES)
        return 0;
    const char *end = memchr(r->model_id, 0, sizeof r->model_id);
    if (!end)
        return 0;
    ldg_buf b = {.p = out, .cap = ARIA_LEDGER_SIGNED_MAX};
    ldg_put(&b, "ARIA-REC1", LDG_MAGIC_LEN);
    ldg_put(&b, r->id, sizeof r->id);
    ldg_put(&b, r->query_hash, sizeof r->query_hash);
    ldg_put(&b, r->output_hash, sizeof r->output_hash);
    ldg_put(&b, r->model_hash, sizeof r->model_hash);
    size_t idlen = (size_t)(end - r->model_id); /* < 128, fits a u16 */
    ldg_u16(&b, (uint16_t)idlen);
    ldg_put(&b, r->model_id, idlen);
    ldg_u32(&b, r->tokens_in);
    ldg_u32(&b, r->tokens_out);
    ldg_u64(&b, r->energy_mj);
    ldg_u32(&b, r->energy_source);
    ldg_u32(&b, r->n_stages);
    ldg_u64(&b, r->latency_us);
    ldg_u64(&b, (uint64_t)r->timestamp_ms);
    ldg_u64(&b, r->seed);
    for (uint32_t i = 0; i < r->n_stages; i++) {
        ldg_put(&b, r->stages[i].node_pubkey, ARIA_PUBKEY_BYTES);
        ldg_u32(&b, r->stages[i].layer_first);
        ldg_u32(&b, r->stages[i].layer_end);
    }
    return b.over ? 0 : b.len;
}

void aria_ledger_record_hash(const aria_ledger_record *r, uint8_t out[ARIA_HASH_BYTES])
{
    uint8_t bytes[ARIA_LEDGER_SIGNED_MAX];
    size_t n = aria_ledger_signed_bytes(r, bytes);
    if (!n) {
        /* An invalid record has no hash; zeroes never equal a real one. */
        memset(out, 0, ARIA_HASH_BYTES);
        return;
    }
    uint8_t tail[8 + ARIA_HASH_BYTES];
    ldg_buf t = {.p = tail, .cap = sizeof tail};
    ldg_u64(&t, r->seq);
    ldg_put(&t, r->prev_hash, ARIA_HASH_BYTES);
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, bytes, n); /* starts with "ARIA-REC1" */
    for (uint32_t i = 0; i < r->n_stages; i++)
        crypto_hash_sha256_update(&st, r->stages[i].sig, ARIA_SIG_BYTES);
    crypto_hash_sha256_update(&st, tail, t.len);
    crypto_hash_sha256_final(&st, out);
}

aria_err aria_ledger_check_stage(const aria_ledger_record *r, uint32_t i)
{
    uint8_t bytes[ARIA_LEDGER_SIGNED_MAX];
    size_t n = aria_ledger_signed_bytes(r, bytes);
    if (!n || i >= r->n_stages)
        return ARIA_ERR_INVALID;
    if (crypto_sign_verify_detached(r->stages[i].sig, bytes, n, r->stages[i].node_pubkey) != 0)
        return ARIA_ERR_SIGNATURE;
    return ARIA_OK;
}

/* ---- the Merkle root ------------------------------------------------------- */

static void ldg_leaf(const uint8_t h[ARIA_HASH_BYTES], uint8_t out[ARIA_HASH_BYTES])
{
    static const uint8_t zero = 0x00;
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, &zero, 1);
    crypto_hash_sha256_update(&st, h, ARIA_HASH_BYTES);
    crypto_hash_sha256_final(&st, out);
}

static void ldg_node(const uint8_t l[ARIA_HASH_BYTES], const uint8_t r[ARIA_HASH_BYTES],
                     uint8_t out[ARIA_HASH_BYTES])
{
    static const uint8_t one = 0x01;
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, &one, 1);
    crypto_hash_sha256_update(&st, l, ARIA_HASH_BYTES);
    crypto_hash_sha256_update(&st, r, ARIA_HASH_BYTES);
    crypto_hash_sha256_final(&st, out);
}

/* RFC 6962's MTH: split at the largest power of two below n. This equals
 * pairing level by level with an odd node promoted, and needs no memory
 * beyond a stack of depth log2(n). */
static void ldg_mth(const uint8_t (*leaves)[ARIA_HASH_BYTES], size_t n,
                    uint8_t out[ARIA_HASH_BYTES])
{
    if (n == 1) {
        ldg_leaf(leaves[0], out);
        return;
    }
    size_t k = 1;
    while (k < n - k)
        k <<= 1;
    uint8_t l[ARIA_HASH_BYTES], r[ARIA_HASH_BYTES];
    ldg_mth(leaves, k, l);
    ldg_mth(leaves + k, n - k, r);
    ldg_node(l, r, out);
}

void aria_ledger_merkle_root(const uint8_t (*leaves)[ARIA_HASH_BYTES], size_t n,
                             uint8_t out[ARIA_HASH_BYTES])
{
    if (n == 0 || !leaves) {
        memset(out, 0, ARIA_HASH_BYTES);
        return;
    }
    ldg_mth(leaves, n, out);
}

/* ---- blocks ---------------------------------------------------------------- */

size_t aria_ledger_block_bytes(const aria_ledger_block *b, uint8_t out[ARIA_LEDGER_BLOCK_BYTES])
{
    ldg_buf w = {.p = out, .cap = ARIA_LEDGER_BLOCK_BYTES};
    ldg_put(&w, "ARIA-BLK1", LDG_MAGIC_LEN);
    ldg_u64(&w, b->height);
    ldg_u64(&w, b->first_seq);
    ldg_u64(&w, b->last_seq);
    ldg_put(&w, b->prev_hash, ARIA_HASH_BYTES);
    ldg_put(&w, b->merkle_root, ARIA_HASH_BYTES);
    ldg_put(&w, b->sealer_pubkey, ARIA_PUBKEY_BYTES);
    ldg_u64(&w, (uint64_t)b->timestamp_ms);
    return w.over ? 0 : w.len;
}

void aria_ledger_block_hash(const aria_ledger_block *b, uint8_t out[ARIA_HASH_BYTES])
{
    uint8_t bytes[ARIA_LEDGER_BLOCK_BYTES];
    size_t n = aria_ledger_block_bytes(b, bytes);
    crypto_hash_sha256(out, bytes, n);
}

aria_err aria_ledger_check_block(const aria_ledger_block *b)
{
    uint8_t bytes[ARIA_LEDGER_BLOCK_BYTES];
    size_t n = aria_ledger_block_bytes(b, bytes);
    if (!n)
        return ARIA_ERR_INTERNAL;
    if (crypto_sign_verify_detached(b->sig, bytes, n, b->sealer_pubkey) != 0)
        return ARIA_ERR_SIGNATURE;
    return ARIA_OK;
}

/* ---- spot-checks ----------------------------------------------------------- */

size_t aria_ledger_check_bytes(const aria_ledger_check *c, uint8_t out[ARIA_LEDGER_CHECK_BYTES])
{
    ldg_buf w = {.p = out, .cap = ARIA_LEDGER_CHECK_BYTES};
    ldg_put(&w, "ARIA-CHK1", LDG_MAGIC_LEN);
    ldg_put(&w, c->record_id, sizeof c->record_id);
    ldg_put(&w, c->peer_pubkey, ARIA_PUBKEY_BYTES);
    ldg_put(&w, c->expected_hash, ARIA_HASH_BYTES);
    ldg_put(&w, c->got_hash, ARIA_HASH_BYTES);
    ldg_u32(&w, c->passed);
    ldg_u32(&w, c->reserved);
    ldg_u64(&w, (uint64_t)c->timestamp_ms);
    ldg_put(&w, c->validator_pubkey, ARIA_PUBKEY_BYTES);
    return w.over ? 0 : w.len;
}
