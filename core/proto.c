/* proto.c — the peer protocol's messages (see proto.h, docs/protocol.md). */
#include "proto.h"

#include "identity.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int64_t ari_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void ari_hex(const uint8_t *b, size_t n, char *out)
{
    sodium_bin2hex(out, 2 * n + 1, b, n);
}

int ari_unhex(const char *s, uint8_t *out, size_t n)
{
    size_t got = 0;
    const char *end = NULL;
    if (!s || strlen(s) != 2 * n)
        return -1;
    if (sodium_hex2bin(out, n, s, 2 * n, NULL, &got, &end) != 0 || got != n || *end)
        return -1;
    return 0;
}

/* ---- message shapes ----------------------------------------------------- */

enum { F_STR = 1, F_INT, F_OBJ, F_ARR, F_NUM };

typedef struct field {
    const char *name;
    int kind;
    int required;
    long long lo, hi; /* string length / integer value / array size */
} field;

typedef struct shape {
    const char *type;
    field f[12];
} shape;

#define RID {"rid", F_STR, 1, 1, ARI_PROTO_MAX_RID}
#define SID {"sid", F_STR, 1, 32, 32}
static const shape shapes[] = {
    {"hello", {{"body", F_STR, 1, 2, ARI_PROTO_MAX_BODY}, {"sig", F_STR, 1, 128, 128}}},
    {"caps", {{"body", F_STR, 1, 2, ARI_PROTO_MAX_BODY}, {"sig", F_STR, 1, 128, 128}}},
    {"auth", {{"sig", F_STR, 1, 128, 128}}},
    {"peers_get", {{0}}},
    {"peers", {{"peers", F_ARR, 1, 0, ARI_PROTO_MAX_PEERS_LIST}}},
    {"load",
     {{"active", F_INT, 1, 0, 1 << 30}, {"slots", F_INT, 1, 0, 1 << 30},
      {"queue", F_INT, 1, 0, 1 << 30}}},
    {"infer",
     {RID, {"endpoint", F_STR, 1, 4, 10}, {"request", F_OBJ, 1, 0, 0},
      {"resume", F_ARR, 0, 0, 1 << 20}}},
    {"token", {RID, {"text", F_STR, 1, 0, 65536}, {"token", F_INT, 1, 0, 1 << 30},
               {"lp", F_OBJ, 0, 0, 0}}},
    {"done", {RID, {"finish", F_STR, 1, 1, 16}, {"prompt_tokens", F_INT, 1, 0, 1 << 30},
              {"completion_tokens", F_INT, 1, 0, 1 << 30}}},
    {"error", {RID, {"status", F_INT, 1, 400, 599}, {"message", F_STR, 1, 0, 4096},
               {"code", F_STR, 0, 0, 64}, {"param", F_STR, 0, 0, 64}}},
    {"cancel", {RID}},
    {"bye", {{"reason", F_STR, 0, 0, 256}}},
    {"stage_open",
     {SID, {"model", F_STR, 1, 1, 255}, {"first", F_INT, 1, 0, ARI_FRAME_MAX_LAYERS},
      {"end", F_INT, 1, 1, ARI_FRAME_MAX_LAYERS}, {"prev", F_STR, 1, 40, 40},
      {"next", F_STR, 1, 0, 40}, {"n_ctx", F_INT, 1, 1, 1 << 24},
      {"dtype", F_STR, 1, 3, 3}, {"ttl_ms", F_INT, 1, 1, 86400000},
      {"sampling", F_OBJ, 0, 0, 0}}},
    {"stage_ready", {SID, {"n_embd", F_INT, 1, 1, ARI_FRAME_MAX_EMBD}}},
    {"stage_error", {SID, {"status", F_INT, 1, 400, 599}, {"message", F_STR, 1, 0, 4096},
                     {"lost", F_STR, 0, 40, 40}}},
    {"stage_token", {SID, {"pos", F_INT, 1, 0, 1 << 24}, {"token", F_INT, 1, 0, 1 << 30},
                     {"lp", F_NUM, 0, 0, 0}, {"top", F_ARR, 0, 0, 20},
                     {"compute_us", F_INT, 0, 0, 0xffffffffll}}},
    {"stage_close", {SID}},
    {"stage_sign", {SID, {"record", F_OBJ, 1, 0, 0}}},
    {"stage_signed", {SID, {"sig", F_STR, 1, 128, 128}}},
    {"ledger_record", {{"record", F_OBJ, 1, 0, 0}}},
    {"ledger_replay_get", {{"id", F_STR, 1, 32, 32}}},
    {"ledger_replay",
     {{"id", F_STR, 1, 32, 32}, {"prompt", F_ARR, 0, 0, 1 << 20},
      {"max_tokens", F_INT, 0, 0, 1 << 30}, {"sampling", F_OBJ, 0, 0, 0},
      {"error", F_STR, 0, 0, 512}}},
    {"block_header", {{"block", F_OBJ, 1, 0, 0}}},
};

static aria_err check_field(json_t *o, const field *f, const char *type, aria_msg *why)
{
    json_t *v = json_object_get(o, f->name);
    if (!v || json_is_null(v)) {
        if (f->required)
            return aria_fail(why, ARIA_ERR_FORMAT, "'%s' message without '%s'", type, f->name);
        return ARIA_OK;
    }
    switch (f->kind) {
    case F_STR: {
        if (!json_is_string(v))
            return aria_fail(why, ARIA_ERR_FORMAT, "'%s'.%s must be a string", type, f->name);
        size_t n = json_string_length(v);
        if ((long long)n < f->lo || (long long)n > f->hi)
            return aria_fail(why, ARIA_ERR_FORMAT, "'%s'.%s is %zu bytes; allowed %lld to %lld",
                             type, f->name, n, f->lo, f->hi);
        if (strlen(json_string_value(v)) != n)
            return aria_fail(why, ARIA_ERR_FORMAT, "'%s'.%s holds a NUL byte", type, f->name);
        break;
    }
    case F_INT: {
        if (!json_is_integer(v))
            return aria_fail(why, ARIA_ERR_FORMAT, "'%s'.%s must be an integer", type, f->name);
        long long x = json_integer_value(v);
        if (x < f->lo || x > f->hi)
            return aria_fail(why, ARIA_ERR_FORMAT, "'%s'.%s is %lld; allowed %lld to %lld", type,
                             f->name, x, f->lo, f->hi);
        break;
    }
    case F_NUM:
        if (!json_is_number(v))
            return aria_fail(why, ARIA_ERR_FORMAT, "'%s'.%s must be a number", type, f->name);
        break;
    case F_OBJ:
        if (!json_is_object(v))
            return aria_fail(why, ARIA_ERR_FORMAT, "'%s'.%s must be an object", type, f->name);
        break;
    case F_ARR: {
        if (!json_is_array(v))
            return aria_fail(why, ARIA_ERR_FORMAT, "'%s'.%s must be an array", type, f->name);
        size_t n = json_array_size(v);
        if ((long long)n > f->hi)
            return aria_fail(why, ARIA_ERR_FORMAT, "'%s'.%s has %zu entries; at most %lld", type,
                             f->name, n, f->hi);
        break;
    }
    }
    return ARIA_OK;
}

/* What the arrays of a message hold. */
static aria_err check_arrays(json_t *o, const char *type, aria_msg *why)
{
    size_t i;
    json_t *e;
    if (!strcmp(type, "peers")) {
        json_array_foreach(json_object_get(o, "peers"), i, e)
        {
            const char *id = json_string_value(json_object_get(e, "id"));
            const char *pk = json_string_value(json_object_get(e, "pk"));
            const char *url = json_string_value(json_object_get(e, "url"));
            if (!json_is_object(e) || !id || strlen(id) != ARI_ID_LEN || !pk ||
                strlen(pk) != 64 || !url || strlen(url) > 256 || strlen(url) < 6)
                return aria_fail(why, ARIA_ERR_FORMAT,
                                 "'peers'.peers[%zu] must be {id: 40 hex, pk: 64 hex, url}", i);
        }
    } else if (!strcmp(type, "stage_open")) {
        const char *dt = json_string_value(json_object_get(o, "dtype"));
        uint8_t b[20];
        const char *next = json_string_value(json_object_get(o, "next"));
        if (strcmp(dt, "f16") && strcmp(dt, "f32"))
            return aria_fail(why, ARIA_ERR_FORMAT, "'stage_open'.dtype must be f16 or f32");
        if (json_integer_value(json_object_get(o, "first")) >=
            json_integer_value(json_object_get(o, "end")))
            return aria_fail(why, ARIA_ERR_FORMAT, "'stage_open' needs first < end");
        if (ari_unhex(json_string_value(json_object_get(o, "prev")), b, 20) ||
            (*next && ari_unhex(next, b, 20)))
            return aria_fail(why, ARIA_ERR_FORMAT, "'stage_open'.prev and .next must be node ids");
    } else if (!strcmp(type, "stage_token")) {
        json_array_foreach(json_object_get(o, "top"), i, e)
        {
            json_t *t = json_array_get(e, 0), *l = json_array_get(e, 1);
            if (!json_is_array(e) || json_array_size(e) != 2 || !json_is_integer(t) ||
                json_integer_value(t) < 0 || json_integer_value(t) > 1 << 30 || !json_is_number(l))
                return aria_fail(why, ARIA_ERR_FORMAT,
                                 "'stage_token'.top[%zu] must be [token, logprob]", i);
        }
    }
    if (!strcmp(type, "stage_open") || !strcmp(type, "stage_ready") ||
        !strcmp(type, "stage_error") || !strcmp(type, "stage_token") ||
        !strcmp(type, "stage_close") || !strcmp(type, "stage_sign") ||
        !strcmp(type, "stage_signed")) {
        uint8_t sid[ARI_SID_LEN];
        if (ari_unhex(json_string_value(json_object_get(o, "sid")), sid, sizeof sid))
            return aria_fail(why, ARIA_ERR_FORMAT, "'%s'.sid must be 32 hex digits", type);
    } else if (!strcmp(type, "infer")) {
        const char *ep = json_string_value(json_object_get(o, "endpoint"));
        if (strcmp(ep, "chat") && strcmp(ep, "completion"))
            return aria_fail(why, ARIA_ERR_FORMAT, "'infer'.endpoint must be chat or completion");
        json_array_foreach(json_object_get(o, "resume"), i, e)
        {
            if (!json_is_integer(e) || json_integer_value(e) < 0 ||
                json_integer_value(e) > 1 << 30)
                return aria_fail(why, ARIA_ERR_FORMAT,
                                 "'infer'.resume[%zu] must be a token id (integer >= 0)", i);
        }
    }
    return ARIA_OK;
}

aria_err ari_proto_parse(const void *data, size_t len, ari_msg_in *out, aria_msg *why)
{
    out->obj = NULL;
    out->type = NULL;
    json_error_t jerr;
    json_t *o = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!o)
        return aria_fail(why, ARIA_ERR_FORMAT, "not JSON: %s (column %d)", jerr.text,
                         jerr.column);
    if (!json_is_object(o)) {
        json_decref(o);
        return aria_fail(why, ARIA_ERR_FORMAT, "a message must be a JSON object");
    }
    const char *type = json_string_value(json_object_get(o, "type"));
    if (!type) {
        json_decref(o);
        return aria_fail(why, ARIA_ERR_FORMAT, "a message needs a string 'type'");
    }
    const shape *sh = NULL;
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
        if (!strcmp(shapes[i].type, type))
            sh = &shapes[i];
    if (!sh) {
        aria_fail(why, ARIA_ERR_UNSUPPORTED, "unknown message type '%.40s'", type);
        json_decref(o);
        return ARIA_ERR_UNSUPPORTED;
    }
    aria_err e = ARIA_OK;
    for (size_t i = 0; e == ARIA_OK && i < sizeof sh->f / sizeof sh->f[0] && sh->f[i].name; i++)
        e = check_field(o, &sh->f[i], sh->type, why);
    if (e == ARIA_OK)
        e = check_arrays(o, sh->type, why);
    if (e != ARIA_OK) {
        json_decref(o);
        return e;
    }
    out->obj = o;
    out->type = sh->type;
    return ARIA_OK;
}

/* ---- sealed HELLO / CAPS -------------------------------------------------- */

/* The signed bytes: "aria.v2/TYPE\n" || body. */
static unsigned char *signed_bytes(const char *type, const char *body, size_t blen, size_t *n)
{
    char pre[32];
    int p = snprintf(pre, sizeof pre, "aria.v2/%s\n", type);
    unsigned char *m = malloc((size_t)p + blen);
    if (!m)
        return NULL;
    memcpy(m, pre, (size_t)p);
    memcpy(m + p, body, blen);
    *n = (size_t)p + blen;
    return m;
}

char *ari_proto_seal(const char *type, json_t *body, const uint8_t sk[64])
{
    char *b = json_dumps(body, JSON_COMPACT);
    if (!b)
        return NULL;
    size_t n;
    unsigned char *m = signed_bytes(type, b, strlen(b), &n);
    if (!m) {
        free(b);
        return NULL;
    }
    uint8_t sig[64];
    crypto_sign_detached(sig, NULL, m, n, sk);
    free(m);
    char hex[129];
    ari_hex(sig, 64, hex);
    json_t *env = json_pack("{s:s,s:s,s:s}", "type", type, "body", b, "sig", hex);
    free(b);
    char *s = env ? json_dumps(env, JSON_COMPACT) : NULL;
    json_decref(env);
    return s;
}

void ari_hello_free(ari_hello *h)
{
    if (h->body)
        json_decref(h->body);
    h->body = NULL;
}

/* The optional parts of a body, checked for shape so that later code can
 * read them without surprises. */
static aria_err check_body_parts(json_t *b, aria_msg *why)
{
    json_t *v;
    size_t i;
    json_t *e;
    if ((v = json_object_get(b, "name")) && (!json_is_string(v) || json_string_length(v) > 64))
        return aria_fail(why, ARIA_ERR_FORMAT, "HELLO name must be a string of at most 64 bytes");
    if ((v = json_object_get(b, "listen"))) {
        if (!json_is_array(v) || json_array_size(v) > 8)
            return aria_fail(why, ARIA_ERR_FORMAT, "HELLO listen must be an array of <= 8 URLs");
        json_array_foreach(v, i, e) if (!json_is_string(e) || json_string_length(e) > 256)
            return aria_fail(why, ARIA_ERR_FORMAT, "HELLO listen[%zu] must be a URL", i);
    }
    if ((v = json_object_get(b, "models"))) {
        if (!json_is_array(v) || json_array_size(v) > 256)
            return aria_fail(why, ARIA_ERR_FORMAT, "HELLO models must be an array of <= 256");
        json_array_foreach(v, i, e)
        {
            json_t *id = json_object_get(e, "id"), *ly = json_object_get(e, "layers");
            json_t *nl = json_object_get(e, "n_layers"), *tiers = json_object_get(e, "tiers");
            if (!json_is_object(e) || !json_is_string(id) || json_string_length(id) == 0 ||
                json_string_length(id) > 255 || !json_is_integer(nl) ||
                json_integer_value(nl) < 1 || json_integer_value(nl) > 100000)
                return aria_fail(why, ARIA_ERR_FORMAT,
                                 "HELLO models[%zu] needs id (string) and n_layers (>= 1)", i);
            if (!json_is_array(ly) || json_array_size(ly) != 2 ||
                !json_is_integer(json_array_get(ly, 0)) ||
                !json_is_integer(json_array_get(ly, 1)) ||
                json_integer_value(json_array_get(ly, 0)) < 0 ||
                json_integer_value(json_array_get(ly, 0)) >=
                    json_integer_value(json_array_get(ly, 1)) ||
                json_integer_value(json_array_get(ly, 1)) > json_integer_value(nl))
                return aria_fail(why, ARIA_ERR_FORMAT,
                                 "HELLO models[%zu].layers must be [first, end) within n_layers",
                                 i);
            if (tiers && !json_is_array(tiers))
                return aria_fail(why, ARIA_ERR_FORMAT, "HELLO models[%zu].tiers must be an array",
                                 i);
        }
    }
    if ((v = json_object_get(b, "load")) &&
        (!json_is_object(v) || !json_is_integer(json_object_get(v, "active")) ||
         !json_is_integer(json_object_get(v, "slots")) ||
         !json_is_integer(json_object_get(v, "queue"))))
        return aria_fail(why, ARIA_ERR_FORMAT, "HELLO load must be {active, slots, queue}");
    if ((v = json_object_get(b, "hw")) && !json_is_object(v))
        return aria_fail(why, ARIA_ERR_FORMAT, "HELLO hw must be an object");
    if ((v = json_object_get(b, "consent")) && !json_is_object(v))
        return aria_fail(why, ARIA_ERR_FORMAT, "HELLO consent must be an object");
    if ((v = json_object_get(b, "tiers")) && !json_is_array(v))
        return aria_fail(why, ARIA_ERR_FORMAT, "HELLO tiers must be an array");
    return ARIA_OK;
}

aria_err ari_proto_open(const ari_msg_in *m, int64_t now_ms, ari_hello *out, aria_msg *why)
{
    memset(out, 0, sizeof *out);
    json_t *bs = json_object_get(m->obj, "body");
    const char *body = json_string_value(bs);
    size_t blen = json_string_length(bs);
    const char *sig_hex = json_string_value(json_object_get(m->obj, "sig"));
    json_error_t jerr;
    json_t *b = json_loadb(body, blen, JSON_REJECT_DUPLICATES, &jerr);
    if (!b || !json_is_object(b)) {
        json_decref(b);
        return aria_fail(why, ARIA_ERR_FORMAT, "%s body is not a JSON object", m->type);
    }
    out->body = b;
    const char *proto = json_string_value(json_object_get(b, "proto"));
    int major = -1, minor = -1, used = 0;
    if (!proto || sscanf(proto, "%d.%d%n", &major, &minor, &used) != 2 ||
        (size_t)used != strlen(proto) || major < 0 || minor < 0) {
        ari_hello_free(out);
        return aria_fail(why, ARIA_ERR_FORMAT, "%s without a protocol version \"MAJOR.MINOR\"",
                         m->type);
    }
    if (major != ARI_PROTO_MAJOR) {
        ari_hello_free(out);
        return aria_fail(why, ARIA_ERR_UNSUPPORTED,
                         "unknown major protocol version %d (this node speaks %d.%d)", major,
                         ARI_PROTO_MAJOR, ARI_PROTO_MINOR);
    }
    out->major = major;
    out->minor = minor;
    const char *id = json_string_value(json_object_get(b, "id"));
    const char *pk = json_string_value(json_object_get(b, "pk"));
    const char *nonce = json_string_value(json_object_get(b, "nonce"));
    json_t *ts = json_object_get(b, "ts"), *seq = json_object_get(b, "seq");
    if (!id || strlen(id) != ARI_ID_LEN || ari_unhex(pk, out->pk, 32) != 0 ||
        ari_unhex(nonce, out->nonce, 32) != 0 || !json_is_integer(ts) || !json_is_integer(seq) ||
        json_integer_value(seq) < 0) {
        ari_hello_free(out);
        return aria_fail(why, ARIA_ERR_FORMAT,
                         "%s body needs id (40 hex), pk (64 hex), nonce (64 hex), ts and seq",
                         m->type);
    }
    char derived[ARI_ID_LEN + 1];
    ari_node_id(out->pk, derived);
    memcpy(out->id, id, sizeof out->id); /* 40 hex checked above, + NUL */
    if (strcmp(derived, out->id) != 0) {
        char claimed[ARI_ID_LEN + 1];
        memcpy(claimed, out->id, sizeof claimed);
        ari_hello_free(out);
        return aria_fail(why, ARIA_ERR_SIGNATURE,
                         "node id %s does not match its public key (which gives %s)", claimed,
                         derived);
    }
    uint8_t sig[64];
    size_t n;
    unsigned char *sb = signed_bytes(m->type, body, blen, &n);
    int bad = !sb || ari_unhex(sig_hex, sig, 64) != 0 ||
              crypto_sign_verify_detached(sig, sb, n, out->pk) != 0;
    free(sb);
    if (bad) {
        ari_hello_free(out);
        return aria_fail(why, ARIA_ERR_SIGNATURE, "%s from %.12s: bad signature", m->type,
                         out->id);
    }
    out->ts_ms = json_integer_value(ts);
    out->seq = json_integer_value(seq);
    int64_t skew = now_ms - out->ts_ms;
    if (skew > ARI_PROTO_MAX_SKEW_MS || skew < -ARI_PROTO_MAX_SKEW_MS) {
        ari_hello_free(out);
        return aria_fail(why, ARIA_ERR_TIMEOUT,
                         "%s from %.12s is stale: its timestamp is %lld s %s this node's clock "
                         "(allowed: %d s)",
                         m->type, out->id, (long long)(skew < 0 ? -skew : skew) / 1000,
                         skew < 0 ? "ahead of" : "behind", ARI_PROTO_MAX_SKEW_MS / 1000);
    }
    aria_err e = check_body_parts(b, why);
    if (e != ARIA_OK)
        ari_hello_free(out);
    return e;
}

/* ---- AUTH ------------------------------------------------------------------ */

static void auth_bytes(const uint8_t nonce[32], const char *verifier, const char *signer,
                       uint8_t out[13 + 32 + 2 * ARI_ID_LEN])
{
    memcpy(out, "aria.v2/auth\n", 13);
    memcpy(out + 13, nonce, 32);
    memcpy(out + 45, verifier, ARI_ID_LEN);
    memcpy(out + 45 + ARI_ID_LEN, signer, ARI_ID_LEN);
}

void ari_proto_auth_sign(const uint8_t sk[64], const uint8_t their_nonce[32],
                         const char *their_id, const char *my_id, char sig_hex[129])
{
    uint8_t m[13 + 32 + 2 * ARI_ID_LEN], sig[64];
    auth_bytes(their_nonce, their_id, my_id, m);
    crypto_sign_detached(sig, NULL, m, sizeof m, sk);
    ari_hex(sig, 64, sig_hex);
}

int ari_proto_auth_check(const uint8_t signer_pk[32], const char *sig_hex,
                         const uint8_t my_nonce[32], const char *my_id, const char *signer_id)
{
    uint8_t m[13 + 32 + 2 * ARI_ID_LEN], sig[64];
    if (ari_unhex(sig_hex, sig, 64) != 0)
        return -1;
    auth_bytes(my_nonce, my_id, signer_id, m);
    return crypto_sign_verify_detached(sig, m, sizeof m, signer_pk) == 0 ? 0 : -1;
}

/* ---- pipeline frames ------------------------------------------------------ */

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void wr32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

uint64_t ari_frame_size(uint32_t n_tokens, uint32_t n_embd, uint32_t dtype)
{
    uint64_t el = dtype == ARIA_DT_F16 ? 2 : 4;
    return ARI_FRAME_HDR + 4ull * n_tokens + (uint64_t)n_tokens * n_embd * el;
}

void ari_frame_header(uint8_t *buf, const ari_frame *f)
{
    memset(buf, 0, ARI_FRAME_HDR);
    wr32(buf, ARI_FRAME_MAGIC);
    wr32(buf + 4, ARI_FRAME_VERSION);
    memcpy(buf + 8, f->sid, ARI_SID_LEN);
    wr32(buf + 24, f->pos0);
    wr32(buf + 28, f->n_tokens);
    wr32(buf + 32, f->n_embd);
    wr32(buf + 36, f->dtype);
    wr32(buf + 40, f->flags);
    wr32(buf + 44, f->compute_us);
}

aria_err ari_frame_parse(const void *data, size_t len, ari_frame *out, aria_msg *why)
{
    const uint8_t *b = data;
    memset(out, 0, sizeof *out);
    if (len < ARI_FRAME_HDR)
        return aria_fail(why, ARIA_ERR_FORMAT, "a binary frame of %zu bytes (the header is %d)",
                         len, ARI_FRAME_HDR);
    if (rd32(b) != ARI_FRAME_MAGIC)
        return aria_fail(why, ARIA_ERR_FORMAT, "a binary frame that is not an activation frame");
    if (rd32(b + 4) != ARI_FRAME_VERSION)
        return aria_fail(why, ARIA_ERR_UNSUPPORTED, "activation frame version %u (this node: %u)",
                         rd32(b + 4), ARI_FRAME_VERSION);
    memcpy(out->sid, b + 8, ARI_SID_LEN);
    out->pos0 = rd32(b + 24);
    out->n_tokens = rd32(b + 28);
    out->n_embd = rd32(b + 32);
    out->dtype = rd32(b + 36);
    out->flags = rd32(b + 40);
    out->compute_us = rd32(b + 44);
    if (out->dtype != ARIA_DT_F32 && out->dtype != ARIA_DT_F16)
        return aria_fail(why, ARIA_ERR_FORMAT, "activation frame dtype %u (0 f32, 1 f16)",
                         out->dtype);
    if (out->flags & ~(uint32_t)ARI_FRAME_SAMPLE)
        return aria_fail(why, ARIA_ERR_FORMAT, "activation frame flags 0x%x", out->flags);
    if (out->n_tokens == 0 || out->n_tokens > ARI_FRAME_MAX_TOKENS || out->n_embd == 0 ||
        out->n_embd > ARI_FRAME_MAX_EMBD)
        return aria_fail(why, ARIA_ERR_FORMAT,
                         "activation frame of %u tokens of width %u (allowed 1..%u, 1..%u)",
                         out->n_tokens, out->n_embd, ARI_FRAME_MAX_TOKENS, ARI_FRAME_MAX_EMBD);
    if ((uint64_t)out->pos0 + out->n_tokens > 1u << 24)
        return aria_fail(why, ARIA_ERR_FORMAT, "activation frame positions past 2^24");
    uint64_t need = ari_frame_size(out->n_tokens, out->n_embd, out->dtype);
    if (need != len)
        return aria_fail(why, ARIA_ERR_FORMAT,
                         "activation frame of %zu bytes; its header says %llu", len,
                         (unsigned long long)need);
    out->tokens = b + ARI_FRAME_HDR;
    out->embd = b + ARI_FRAME_HDR + 4ull * out->n_tokens;
    for (uint32_t i = 0; i < out->n_tokens; i++) {
        uint32_t t = rd32(out->tokens + 4ull * i);
        if (t > 1u << 30)
            return aria_fail(why, ARIA_ERR_FORMAT, "activation frame token %u is %u", i, t);
    }
    return ARIA_OK;
}

int32_t ari_frame_token(const ari_frame *f, uint32_t i)
{
    return (int32_t)rd32(f->tokens + 4ull * i);
}
