/* aria/ledger.h — the provenance ledger (ARIA_IFACE_LEDGER).
 *
 * Every completed inference leaves one record: which model, on which nodes,
 * how many tokens, what energy, signed by each node that served it. Records
 * form a hash chain (each holds the hash of the one before) and are grouped
 * into blocks with a Merkle root, signed by the node that seals them.
 * Prompts and outputs are never stored: only their SHA-256.
 *
 * Durability: append returns only once the record would survive a crash of
 * the process (kill -9) — "acknowledged" means on stable storage.
 *
 * Threads: one ledger handle may be used from several threads; the
 * implementation serializes writes. */
#ifndef ARIA_LEDGER_H
#define ARIA_LEDGER_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ARIA_LEDGER_VERSION 1
#define ARIA_LEDGER_MAX_STAGES 16

typedef struct aria_ledger aria_ledger; /* opaque, the implementation's */

typedef enum aria_energy_source {
    ARIA_ENERGY_UNKNOWN = 0,
    ARIA_ENERGY_MEASURED = 1, /* RAPL or another meter */
    ARIA_ENERGY_ESTIMATED = 2 /* CPU time times a per-core power figure */
} aria_energy_source;

/* One stage of the inference: a node and what it signed. */
typedef struct aria_ledger_stage {
    uint8_t node_pubkey[ARIA_PUBKEY_BYTES];
    uint8_t sig[ARIA_SIG_BYTES]; /* over aria_ledger_record's signed bytes */
    uint32_t layer_first, layer_end;
} aria_ledger_stage;

typedef struct aria_ledger_record {
    aria_vt_hdr hdr;
    uint64_t seq;                          /* set by append: 1, 2, 3, ... */
    uint8_t id[16];                        /* random, unique per inference */
    uint8_t query_hash[ARIA_HASH_BYTES];   /* SHA-256 of the prompt bytes */
    uint8_t output_hash[ARIA_HASH_BYTES];  /* SHA-256 of the output bytes */
    uint8_t model_hash[ARIA_HASH_BYTES];   /* SHA-256 of the model file */
    uint8_t prev_hash[ARIA_HASH_BYTES];    /* set by append: chain link */
    uint8_t hash[ARIA_HASH_BYTES];         /* set by append: this record */
    char model_id[128];
    uint32_t tokens_in, tokens_out;
    uint64_t energy_mj;                    /* millijoules over all stages */
    uint32_t energy_source;                /* aria_energy_source */
    uint32_t n_stages;                     /* 1 .. ARIA_LEDGER_MAX_STAGES */
    uint64_t latency_us;                   /* request to last token */
    int64_t timestamp_ms;                  /* Unix time, completion */
    uint64_t seed;                         /* for spot-check replays */
    aria_ledger_stage stages[ARIA_LEDGER_MAX_STAGES];
} aria_ledger_record;

ARIA_PIN(aria_ledger_record, seq, 8);
ARIA_PIN(aria_ledger_record, id, 16);
ARIA_PIN(aria_ledger_record, query_hash, 32);
ARIA_PIN(aria_ledger_record, model_id, 192);
ARIA_PIN(aria_ledger_record, tokens_in, 320);
ARIA_PIN(aria_ledger_record, stages, 368);

typedef struct aria_ledger_block {
    aria_vt_hdr hdr;
    uint64_t height;                      /* 1, 2, 3, ... */
    uint64_t first_seq, last_seq;         /* records it holds, inclusive */
    uint8_t prev_hash[ARIA_HASH_BYTES];   /* hash of the previous block */
    uint8_t merkle_root[ARIA_HASH_BYTES]; /* over the records' hashes */
    uint8_t hash[ARIA_HASH_BYTES];        /* of this header */
    uint8_t sealer_pubkey[ARIA_PUBKEY_BYTES];
    uint8_t sig[ARIA_SIG_BYTES];
    int64_t timestamp_ms;
} aria_ledger_block;

typedef struct aria_ledger_opts {
    aria_vt_hdr hdr;
    const char *path;        /* database file */
    uint32_t block_records;  /* seal a block every N records (0: off) */
    uint32_t block_seconds;  /* or every T seconds with records pending */
} aria_ledger_opts;

/* Called by iterate for each record; return nonzero to stop. */
typedef int (*aria_record_fn)(void *user, const aria_ledger_record *r);

/* What verify found. first_bad_* are 0 when everything verified. */
typedef struct aria_ledger_report {
    aria_vt_hdr hdr;
    uint64_t n_records, n_blocks;
    uint64_t first_bad_seq;    /* first record whose hash, link or
                                  signature fails */
    uint64_t first_bad_height; /* first block whose root, link or
                                  signature fails */
    char detail[256];          /* what failed, in one line */
} aria_ledger_report;

/* A validator's spot-check of one record of another node: it re-ran the
 * inference (same model file, prompt, seed, greedy) and compared output
 * hashes. Signed by the validator; stored beside the records. */
typedef struct aria_ledger_check {
    aria_vt_hdr hdr;
    uint64_t seq;                         /* set by add_check: 1, 2, 3, ... */
    uint8_t record_id[16];                /* the record checked (its id) */
    uint8_t peer_pubkey[ARIA_PUBKEY_BYTES]; /* the node whose work it was */
    uint8_t expected_hash[ARIA_HASH_BYTES]; /* the record's output_hash */
    uint8_t got_hash[ARIA_HASH_BYTES];    /* the validator's re-run */
    uint32_t passed;                      /* 1: equal, 0: mismatch */
    uint32_t reserved;
    int64_t timestamp_ms;
    uint8_t validator_pubkey[ARIA_PUBKEY_BYTES];
    uint8_t sig[ARIA_SIG_BYTES];          /* over aria_ledger_check_bytes */
} aria_ledger_check;

typedef int (*aria_check_fn)(void *user, const aria_ledger_check *c);

typedef struct aria_ledger_vt {
    aria_vt_hdr hdr;  /* sizeof(aria_ledger_vt), ARIA_LEDGER_VERSION */
    const char *name; /* "sqlite" */

    /* Required. Opens (creating or migrating) a ledger. Blocks. */
    aria_err (*open)(void *ctx, const aria_ledger_opts *opts,
                     aria_ledger **out, aria_msg *why);

    /* Required. Flushes and closes. Blocks. */
    void (*close)(aria_ledger *l);

    /* Required. Appends a record: sets seq, prev_hash and hash in *r, checks
     * every stage signature, and returns once it is durable. Blocks. */
    aria_err (*append)(aria_ledger *l, aria_ledger_record *r, aria_msg *why);

    /* Required. Reads record seq. ARIA_ERR_NOT_FOUND past the end. */
    aria_err (*get)(aria_ledger *l, uint64_t seq, aria_ledger_record *out);

    /* Required. Calls fn for records from_seq onwards, in order. Blocks. */
    aria_err (*iterate)(aria_ledger *l, uint64_t from_seq, aria_record_fn fn,
                        void *user);

    /* Required. Seals pending records into a block now, if any (signed
     * through the host's sign). *out (may be NULL) receives the block;
     * ARIA_ERR_NOT_FOUND when nothing was pending. Blocks. */
    aria_err (*seal)(aria_ledger *l, aria_ledger_block *out, aria_msg *why);

    /* Required. Reads block height (1-based). */
    aria_err (*get_block)(aria_ledger *l, uint64_t height,
                          aria_ledger_block *out);

    /* Required. Checks every hash link, signature and Merkle root. Returns
     * ARIA_OK with a clean report, ARIA_ERR_SIGNATURE with the first bad
     * record or block named in the report. Blocks. */
    aria_err (*verify)(aria_ledger *l, aria_ledger_report *out);

    /* Optional (check with ARIA_HAS). Stores a spot-check: sets seq and, when
     * validator_pubkey is all zeroes, signs it as this node (through the
     * host's sign); otherwise checks its signature. Durable like append. */
    aria_err (*add_check)(aria_ledger *l, aria_ledger_check *c, aria_msg *why);

    /* Optional. Calls fn for every stored spot-check, in order. */
    aria_err (*iterate_checks)(aria_ledger *l, aria_check_fn fn, void *user);
} aria_ledger_vt;

ARIA_PIN(aria_ledger_vt, name, 8);
ARIA_PIN(aria_ledger_vt, open, 16);
ARIA_PIN(aria_ledger_vt, close, 24);
ARIA_PIN(aria_ledger_vt, append, 32);
ARIA_PIN(aria_ledger_vt, get, 40);
ARIA_PIN(aria_ledger_vt, iterate, 48);
ARIA_PIN(aria_ledger_vt, seal, 56);
ARIA_PIN(aria_ledger_vt, get_block, 64);
ARIA_PIN(aria_ledger_vt, verify, 72);
ARIA_PIN(aria_ledger_vt, add_check, 80);
ARIA_PIN(aria_ledger_vt, iterate_checks, 88);

/* ---- the canonical bytes, in libaria-sdk (sdk/src/ledger.c) ------------
 * Every implementation and every node must hash and sign the same bytes, so
 * they are defined here once: fixed-width little-endian fields in struct
 * order, strings as their length (u16) and bytes. */

/* Upper bound of the signed bytes of a record. */
#define ARIA_LEDGER_SIGNED_MAX 1024

/* The bytes each stage signs: "ARIA-REC1", then every field of r except
 * seq, prev_hash, hash and the stages' signatures (each stage's pubkey and
 * layer range are in; model_id as u16 length and bytes, without its NUL).
 * Returns their length (<= ARIA_LEDGER_SIGNED_MAX), or 0 when r is invalid
 * (n_stages 0 or over ARIA_LEDGER_MAX_STAGES, model_id not terminated). */
size_t aria_ledger_signed_bytes(const aria_ledger_record *r, uint8_t out[ARIA_LEDGER_SIGNED_MAX]);

/* The record's hash: SHA-256 of its signed bytes (which begin with
 * "ARIA-REC1"), the n_stages stage signatures, seq and prev_hash. All
 * zeroes when r is invalid (signed_bytes answers 0). */
void aria_ledger_record_hash(const aria_ledger_record *r, uint8_t out[ARIA_HASH_BYTES]);

/* Ed25519 check of stage i's signature over the signed bytes. */
aria_err aria_ledger_check_stage(const aria_ledger_record *r, uint32_t i);

/* The Merkle root of n leaf hashes, RFC 6962 style (leaf = H(0x00 || hash),
 * node = H(0x01 || left || right), an odd node out is promoted); all
 * zeroes for n = 0. */
void aria_ledger_merkle_root(const uint8_t (*leaves)[ARIA_HASH_BYTES], size_t n,
                             uint8_t out[ARIA_HASH_BYTES]);

/* A block header's signed bytes ("ARIA-BLK1" and every field but hash and
 * sig: 137 bytes) and its hash, SHA-256 of those bytes. */
#define ARIA_LEDGER_BLOCK_BYTES 160
size_t aria_ledger_block_bytes(const aria_ledger_block *b, uint8_t out[ARIA_LEDGER_BLOCK_BYTES]);
void aria_ledger_block_hash(const aria_ledger_block *b, uint8_t out[ARIA_HASH_BYTES]);
/* Ed25519 check of the sealer's signature over the block bytes. */
aria_err aria_ledger_check_block(const aria_ledger_block *b);

/* A spot-check's signed bytes ("ARIA-CHK1" and every field but seq and
 * sig: 169 bytes). */
#define ARIA_LEDGER_CHECK_BYTES 192
size_t aria_ledger_check_bytes(const aria_ledger_check *c, uint8_t out[ARIA_LEDGER_CHECK_BYTES]);

#ifdef __cplusplus
}
#endif
#endif /* ARIA_LEDGER_H */
