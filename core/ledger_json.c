/* ledger_json.c — ledger records, blocks and spot-checks as JSON. */
#include "ledger_json.h"

#include "proto.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *ari_energy_source_name(uint32_t source)
{
    return source == ARIA_ENERGY_MEASURED    ? "measured"
           : source == ARIA_ENERGY_ESTIMATED ? "estimated"
                                             : "unknown";
}

static json_t *hexj(const uint8_t *b, size_t n)
{
    char s[2 * ARIA_SIG_BYTES + 1];
    ari_hex(b, n, s);
    return json_string(s);
}

static json_t *u64s(uint64_t v)
{
    char s[24];
    snprintf(s, sizeof s, "%" PRIu64, v);
    return json_string(s);
}

json_t *ari_record_json(const aria_ledger_record *r)
{
    json_t *st = json_array();
    for (uint32_t i = 0; st && i < r->n_stages && i < ARIA_LEDGER_MAX_STAGES; i++) {
        const aria_ledger_stage *s = &r->stages[i];
        json_array_append_new(st, json_pack("{s:o,s:o,s:I,s:I}", "node",
                                            hexj(s->node_pubkey, ARIA_PUBKEY_BYTES), "sig",
                                            hexj(s->sig, ARIA_SIG_BYTES), "first",
                                            (json_int_t)s->layer_first, "end",
                                            (json_int_t)s->layer_end));
    }
    return json_pack("{s:I,s:o,s:o,s:o,s:o,s:o,s:o,s:s,s:I,s:I,s:I,s:s,s:I,s:I,s:o,s:o}", "seq",
                     (json_int_t)r->seq, "id", hexj(r->id, sizeof r->id), "query_hash",
                     hexj(r->query_hash, ARIA_HASH_BYTES), "output_hash",
                     hexj(r->output_hash, ARIA_HASH_BYTES), "model_hash",
                     hexj(r->model_hash, ARIA_HASH_BYTES), "prev_hash",
                     hexj(r->prev_hash, ARIA_HASH_BYTES), "hash", hexj(r->hash, ARIA_HASH_BYTES),
                     "model_id", r->model_id, "tokens_in", (json_int_t)r->tokens_in, "tokens_out",
                     (json_int_t)r->tokens_out, "energy_mj", (json_int_t)r->energy_mj,
                     "energy_source", ari_energy_source_name(r->energy_source), "latency_us",
                     (json_int_t)r->latency_us, "timestamp_ms", (json_int_t)r->timestamp_ms,
                     "seed", u64s(r->seed), "stages", st);
}

json_t *ari_block_json(const aria_ledger_block *b)
{
    return json_pack("{s:I,s:I,s:I,s:o,s:o,s:o,s:o,s:o,s:I}", "height", (json_int_t)b->height,
                     "first_seq", (json_int_t)b->first_seq, "last_seq", (json_int_t)b->last_seq,
                     "prev_hash", hexj(b->prev_hash, ARIA_HASH_BYTES), "merkle_root",
                     hexj(b->merkle_root, ARIA_HASH_BYTES), "hash", hexj(b->hash, ARIA_HASH_BYTES),
                     "sealer", hexj(b->sealer_pubkey, ARIA_PUBKEY_BYTES), "sig",
                     hexj(b->sig, ARIA_SIG_BYTES), "timestamp_ms", (json_int_t)b->timestamp_ms);
}

json_t *ari_check_json(const aria_ledger_check *c)
{
    return json_pack("{s:I,s:o,s:o,s:o,s:o,s:b,s:I,s:o,s:o}", "seq", (json_int_t)c->seq,
                     "record_id", hexj(c->record_id, sizeof c->record_id), "peer",
                     hexj(c->peer_pubkey, ARIA_PUBKEY_BYTES), "expected_hash",
                     hexj(c->expected_hash, ARIA_HASH_BYTES), "got_hash",
                     hexj(c->got_hash, ARIA_HASH_BYTES), "passed", (int)c->passed, "timestamp_ms",
                     (json_int_t)c->timestamp_ms, "validator",
                     hexj(c->validator_pubkey, ARIA_PUBKEY_BYTES), "sig",
                     hexj(c->sig, ARIA_SIG_BYTES));
}

/* ---- parsing ------------------------------------------------------------- */

static aria_err get_hex(json_t *o, const char *what, const char *key, uint8_t *out, size_t n,
                        int required, aria_msg *why)
{
    json_t *v = json_object_get(o, key);
    if (!v && !required) {
        memset(out, 0, n);
        return ARIA_OK;
    }
    const char *s = json_string_value(v);
    if (!s || strlen(s) != 2 * n || ari_unhex(s, out, n))
        return aria_fail(why, ARIA_ERR_FORMAT, "%s.%s must be %zu hex digits", what, key, 2 * n);
    return ARIA_OK;
}

static aria_err get_int(json_t *o, const char *what, const char *key, json_int_t lo, json_int_t hi,
                        int required, json_int_t *out, aria_msg *why)
{
    json_t *v = json_object_get(o, key);
    *out = 0;
    if (!v && !required)
        return ARIA_OK;
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
        return aria_fail(why, ARIA_ERR_FORMAT, "%s.%s must be an integer from %lld to %lld", what,
                         key, (long long)lo, (long long)hi);
    *out = json_integer_value(v);
    return ARIA_OK;
}

#define HEX(key, dst, req)                                                                     \
    if ((e = get_hex(o, what, key, dst, sizeof dst, req, why)) != ARIA_OK)                     \
        return e;
#define INT(key, dst, lo, hi, req)                                                             \
    do {                                                                                       \
        json_int_t v_;                                                                         \
        if ((e = get_int(o, what, key, lo, hi, req, &v_, why)) != ARIA_OK)                     \
            return e;                                                                          \
        dst = v_;                                                                              \
    } while (0)

aria_err ari_record_parse(json_t *o, aria_ledger_record *out, aria_msg *why)
{
    const char *what = "record";
    aria_err e;
    memset(out, 0, sizeof *out);
    out->hdr.struct_size = sizeof *out;
    out->hdr.version = ARIA_LEDGER_VERSION;
    if (!json_is_object(o))
        return aria_fail(why, ARIA_ERR_FORMAT, "a record must be an object");
    const json_int_t U32 = 0xffffffffll, I63 = INT64_MAX;
    INT("seq", out->seq, 0, I63, 0);
    HEX("id", out->id, 1);
    HEX("query_hash", out->query_hash, 1);
    HEX("output_hash", out->output_hash, 1);
    HEX("model_hash", out->model_hash, 1);
    HEX("prev_hash", out->prev_hash, 0);
    HEX("hash", out->hash, 0);
    const char *mid = json_string_value(json_object_get(o, "model_id"));
    if (!mid || !mid[0] || strlen(mid) >= sizeof out->model_id)
        return aria_fail(why, ARIA_ERR_FORMAT, "record.model_id must be a string of 1 to %zu bytes",
                         sizeof out->model_id - 1);
    memcpy(out->model_id, mid, strlen(mid) + 1);
    INT("tokens_in", out->tokens_in, 0, U32, 1);
    INT("tokens_out", out->tokens_out, 0, U32, 1);
    INT("energy_mj", out->energy_mj, 0, I63, 1);
    INT("latency_us", out->latency_us, 0, I63, 1);
    INT("timestamp_ms", out->timestamp_ms, 0, I63, 1);
    const char *src = json_string_value(json_object_get(o, "energy_source"));
    if (!src || (strcmp(src, "measured") && strcmp(src, "estimated") && strcmp(src, "unknown")))
        return aria_fail(why, ARIA_ERR_FORMAT,
                         "record.energy_source must be measured, estimated or unknown");
    out->energy_source = !strcmp(src, "measured")    ? ARIA_ENERGY_MEASURED
                         : !strcmp(src, "estimated") ? ARIA_ENERGY_ESTIMATED
                                                     : ARIA_ENERGY_UNKNOWN;
    const char *seed = json_string_value(json_object_get(o, "seed"));
    char *end = NULL;
    if (!seed || !seed[0] || seed[0] == '-' || strlen(seed) > 20)
        return aria_fail(why, ARIA_ERR_FORMAT, "record.seed must be a decimal string");
    errno = 0;
    unsigned long long sv = strtoull(seed, &end, 10);
    if (errno || *end)
        return aria_fail(why, ARIA_ERR_FORMAT, "record.seed must be a decimal string");
    out->seed = sv;
    json_t *st = json_object_get(o, "stages");
    if (!json_is_array(st) || json_array_size(st) < 1 ||
        json_array_size(st) > ARIA_LEDGER_MAX_STAGES)
        return aria_fail(why, ARIA_ERR_FORMAT, "record.stages must be an array of 1 to %d",
                         ARIA_LEDGER_MAX_STAGES);
    out->n_stages = (uint32_t)json_array_size(st);
    for (uint32_t i = 0; i < out->n_stages; i++) {
        json_t *so = json_array_get(st, i);
        aria_ledger_stage *s = &out->stages[i];
        char w[32];
        snprintf(w, sizeof w, "record.stages[%u]", i);
        what = w;
        if (!json_is_object(so))
            return aria_fail(why, ARIA_ERR_FORMAT, "%s must be an object", w);
        json_t *keep = o;
        o = so;
        HEX("node", s->node_pubkey, 1);
        HEX("sig", s->sig, 1);
        INT("first", s->layer_first, 0, 1 << 20, 1);
        INT("end", s->layer_end, 1, 1 << 20, 1);
        o = keep;
        if (s->layer_end <= s->layer_first)
            return aria_fail(why, ARIA_ERR_FORMAT, "%s: end must be after first", w);
    }
    return ARIA_OK;
}

aria_err ari_block_parse(json_t *o, aria_ledger_block *out, aria_msg *why)
{
    const char *what = "block";
    aria_err e;
    memset(out, 0, sizeof *out);
    out->hdr.struct_size = sizeof *out;
    out->hdr.version = ARIA_LEDGER_VERSION;
    if (!json_is_object(o))
        return aria_fail(why, ARIA_ERR_FORMAT, "a block must be an object");
    const json_int_t I63 = INT64_MAX;
    INT("height", out->height, 1, I63, 1);
    INT("first_seq", out->first_seq, 1, I63, 1);
    INT("last_seq", out->last_seq, 1, I63, 1);
    INT("timestamp_ms", out->timestamp_ms, 0, I63, 1);
    HEX("prev_hash", out->prev_hash, 1);
    HEX("merkle_root", out->merkle_root, 1);
    HEX("hash", out->hash, 1);
    HEX("sealer", out->sealer_pubkey, 1);
    HEX("sig", out->sig, 1);
    if (out->last_seq < out->first_seq)
        return aria_fail(why, ARIA_ERR_FORMAT, "block.last_seq is before block.first_seq");
    return ARIA_OK;
}
