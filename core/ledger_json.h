/* ledger_json.h — ledger records, blocks and spot-checks as JSON: for
 * `aria-core ledger show|export`, for the peer messages that carry them
 * (docs/protocol.md, section 4.6) and for the node's /ledger endpoints.
 *
 * Hashes, ids, keys and signatures are lowercase hex; the seed is a decimal
 * string (it is a full 64-bit value). Parsing checks every field's type,
 * length and range and names the first bad one; nothing is read past what
 * the object holds. */
#ifndef ARI_LEDGER_JSON_H
#define ARI_LEDGER_JSON_H

#include "aria/ledger.h"

#include <jansson.h>

/* "measured", "estimated" or "unknown". */
const char *ari_energy_source_name(uint32_t source);

/* New references; NULL only when out of memory. */
json_t *ari_record_json(const aria_ledger_record *r);
json_t *ari_block_json(const aria_ledger_block *b);
json_t *ari_check_json(const aria_ledger_check *c);

/* Fill *out from o (seq, prev_hash and hash may be absent: they are then
 * zero). Returns ARIA_ERR_FORMAT naming the field on anything malformed. */
aria_err ari_record_parse(json_t *o, aria_ledger_record *out, aria_msg *why);
aria_err ari_block_parse(json_t *o, aria_ledger_block *out, aria_msg *why);

#endif
