/* provenance.h — the node's side of the ledger (docs/ledger.md).
 *
 * Opens the ledger plugin on DATA_DIR/ledger.db ([ledger] path), records
 * every completed inference (hashes of the prompt's and the output's token
 * ids, the model file's SHA-256, every stage's node and signature, tokens,
 * energy, latency, seed), seals blocks on time, and speaks the ledger's
 * peer messages: records go to the peers (each stores the records of the
 * work its peers served), block headers go to the peers (each keeps the
 * network's recent ones), and a validator re-runs a sample of its peers'
 * records and stores the outcome as a spot-check. Thread-safe. */
#ifndef ARI_PROVENANCE_H
#define ARI_PROVENANCE_H

#include "aria/ledger.h"
#include "aria/sampler.h"
#include "energy.h"
#include "node.h"
#include "service.h"

#include <jansson.h>

typedef struct ari_prov ari_prov;
struct ari_peers;

/* Opens the ledger when [ledger] enabled and a ledger plugin is loaded.
 * Returns NULL with *why empty when the ledger is off or no plugin provides
 * one (logged), NULL with *why on a real error (the database cannot be
 * opened). The node's identity must be installed in c->host already. */
ari_prov *ari_prov_open(ari_ctx *c, ari_service *svc, aria_msg *why);
void ari_prov_free(ari_prov *p);
/* The peer layer to announce to and to ask (may stay NULL). */
void ari_prov_set_peers(ari_prov *p, struct ari_peers *peers);

/* The energy meter the node uses (never NULL once open). */
const ari_energy *ari_prov_energy(const ari_prov *p);

/* Another stage of a pipeline signs the record (its entry is filled in
 * already): writes its signature, or fails. */
typedef aria_err (*ari_stage_sign_fn)(void *user, uint32_t stage, const aria_ledger_record *r,
                                      uint8_t sig[ARIA_SIG_BYTES], aria_msg *why);

/* One completed inference, as the node that served (or drove) it saw it. */
typedef struct ari_prov_work {
    const char *model_id;
    const char *model_path; /* the local file: its SHA-256 is the model hash */
    const int32_t *prompt;
    size_t n_prompt;
    const int32_t *output;
    size_t n_output;
    aria_sampling sampling; /* for a validator's replay */
    uint64_t latency_us;
    uint64_t energy_mj;
    uint32_t energy_source;
    /* the stages, in layer order; stage `self` is this node */
    uint32_t n_stages, self;
    struct {
        uint8_t pk[ARIA_PUBKEY_BYTES];
        uint32_t first, end;
    } stage[ARIA_LEDGER_MAX_STAGES];
    ari_stage_sign_fn sign_other;
    void *sign_user;
} ari_prov_work;

/* Records w: builds the record, signs this node's stage, asks the others,
 * appends it, tells the peers. *out (may be NULL) gets the stored record. */
aria_err ari_prov_record(ari_prov *p, const ari_prov_work *w, aria_ledger_record *out,
                         aria_msg *why);

/* A ledger message from a ready peer (type ledger_* or block_header).
 * Returns 0, or -1 with *why when the message is malformed (the peer layer
 * then refuses the peer). */
int ari_prov_on_message(ari_prov *p, const char *peer_id, const uint8_t peer_pk[32],
                        const char *type, json_t *msg, aria_msg *why);

/* Totals for /metrics: records, energy (mJ, by source), blocks, spot-checks. */
typedef struct ari_prov_stats {
    uint64_t records, blocks, energy_mj[3], checks, checks_failed, peer_records, peer_blocks;
} ari_prov_stats;
void ari_prov_stats_get(ari_prov *p, ari_prov_stats *out);

/* GET /ledger: this node's recent blocks and the network's (new ref). */
json_t *ari_prov_blocks_json(ari_prov *p, size_t max);

#endif
