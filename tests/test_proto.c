/* The peer protocol's messages alone (core/proto.c): parsing and shape
 * checks, the sealed HELLO (version, id against key, signature, clock),
 * and the AUTH proof. */
#include "identity.h"
#include "proto.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct key {
    uint8_t pk[32], sk[64];
    char id[41];
} key;

static void new_key(key *k)
{
    crypto_sign_keypair(k->pk, k->sk);
    ari_node_id(k->pk, k->id);
}

static json_t *body_of(const key *k, const char *proto, int64_t ts)
{
    char pk[65], nonce[65];
    uint8_t n[32];
    randombytes_buf(n, sizeof n);
    ari_hex(k->pk, 32, pk);
    ari_hex(n, 32, nonce);
    return json_pack("{s:s,s:s,s:s,s:s,s:I,s:i,s:[{s:s,s:[i,i],s:i,s:[s]}]}", "proto", proto,
                     "id", k->id, "pk", pk, "nonce", nonce, "ts", (json_int_t)ts, "seq", 1,
                     "models", "id", "m.gguf", "layers", 0, 4, "n_layers", 4, "tiers",
                     "efficiency");
}

/* Parses and opens a sealed text; returns the error and the reason. */
static aria_err open_text(const char *text, int64_t now, char *reason, size_t cap)
{
    ari_msg_in m;
    aria_msg why = {{0}};
    aria_err e = ari_proto_parse(text, strlen(text), &m, &why);
    if (e == ARIA_OK) {
        ari_hello h;
        e = ari_proto_open(&m, now, &h, &why);
        if (e == ARIA_OK) {
            assert_string_equal(h.id, json_string_value(json_object_get(h.body, "id")));
            ari_hello_free(&h);
        }
        json_decref(m.obj);
    }
    snprintf(reason, cap, "%s", why.text);
    return e;
}

static void test_seal_open(void **state)
{
    (void)state;
    key k;
    new_key(&k);
    int64_t now = ari_wall_ms();
    json_t *b = body_of(&k, "2.0", now);
    char *s = ari_proto_seal("hello", b, k.sk);
    char r[512];
    assert_int_equal(open_text(s, now, r, sizeof r), ARIA_OK);
    /* the same body sealed as caps is not a hello: the prefix differs */
    json_t *env = json_loads(s, 0, NULL);
    json_object_set_new(env, "type", json_string("caps"));
    char *as_caps = json_dumps(env, JSON_COMPACT);
    assert_int_equal(open_text(as_caps, now, r, sizeof r), ARIA_ERR_SIGNATURE);
    /* one flipped byte of the body */
    const char *body = json_string_value(json_object_get(env, "body"));
    char *tampered = strdup(body);
    char *p = strstr(tampered, "m.gguf");
    p[0] = 'n';
    json_object_set_new(env, "type", json_string("hello"));
    json_object_set_new(env, "body", json_string(tampered));
    char *t2 = json_dumps(env, JSON_COMPACT);
    assert_int_equal(open_text(t2, now, r, sizeof r), ARIA_ERR_SIGNATURE);
    assert_non_null(strstr(r, "bad signature"));
    /* stale both ways, and just inside the window */
    assert_int_equal(open_text(s, now + ARI_PROTO_MAX_SKEW_MS + 1000, r, sizeof r),
                     ARIA_ERR_TIMEOUT);
    assert_non_null(strstr(r, "stale"));
    assert_int_equal(open_text(s, now - ARI_PROTO_MAX_SKEW_MS - 1000, r, sizeof r),
                     ARIA_ERR_TIMEOUT);
    assert_int_equal(open_text(s, now + ARI_PROTO_MAX_SKEW_MS - 1000, r, sizeof r), ARIA_OK);
    free(t2);
    free(tampered);
    free(as_caps);
    json_decref(env);
    free(s);
    json_decref(b);
}

static void test_refusals(void **state)
{
    (void)state;
    key k, other;
    new_key(&k);
    new_key(&other);
    int64_t now = ari_wall_ms();
    char r[512];
    /* another major version */
    json_t *b = body_of(&k, "3.1", now);
    char *s = ari_proto_seal("hello", b, k.sk);
    assert_int_equal(open_text(s, now, r, sizeof r), ARIA_ERR_UNSUPPORTED);
    assert_non_null(strstr(r, "unknown major protocol version 3"));
    free(s);
    json_decref(b);
    /* a newer minor version is fine */
    b = body_of(&k, "2.7", now);
    s = ari_proto_seal("hello", b, k.sk);
    assert_int_equal(open_text(s, now, r, sizeof r), ARIA_OK);
    free(s);
    json_decref(b);
    /* an id that is not the key's */
    b = body_of(&k, "2.0", now);
    json_object_set_new(b, "id", json_string(other.id));
    s = ari_proto_seal("hello", b, k.sk);
    assert_int_equal(open_text(s, now, r, sizeof r), ARIA_ERR_SIGNATURE);
    assert_non_null(strstr(r, "does not match its public key"));
    free(s);
    json_decref(b);
    /* signed by another key than the one it names */
    b = body_of(&k, "2.0", now);
    s = ari_proto_seal("hello", b, other.sk);
    assert_int_equal(open_text(s, now, r, sizeof r), ARIA_ERR_SIGNATURE);
    free(s);
    json_decref(b);
    /* a layer range outside the model */
    b = body_of(&k, "2.0", now);
    json_t *m0 = json_array_get(json_object_get(b, "models"), 0);
    json_object_set_new(m0, "layers", json_pack("[i,i]", 2, 9));
    s = ari_proto_seal("hello", b, k.sk);
    assert_int_equal(open_text(s, now, r, sizeof r), ARIA_ERR_FORMAT);
    assert_non_null(strstr(r, "layers"));
    free(s);
    json_decref(b);
    /* malformed versions */
    const char *bad_versions[] = {"2", "2.0.1", "x.y", "-2.0", ""};
    for (size_t i = 0; i < sizeof bad_versions / sizeof *bad_versions; i++) {
        b = body_of(&k, bad_versions[i], now);
        s = ari_proto_seal("hello", b, k.sk);
        assert_int_equal(open_text(s, now, r, sizeof r), ARIA_ERR_FORMAT);
        free(s);
        json_decref(b);
    }
}

static void test_parse(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        aria_err want;
        const char *why;
    } cases[] = {
        {"{\"type\":\"peers_get\"}", ARIA_OK, ""},
        {"{\"type\":\"cancel\",\"rid\":\"a-1\"}", ARIA_OK, ""},
        {"{\"type\":\"cancel\"}", ARIA_ERR_FORMAT, "without 'rid'"},
        {"{\"type\":\"cancel\",\"rid\":\"\"}", ARIA_ERR_FORMAT, "'cancel'.rid is 0 bytes"},
        {"{\"type\":\"cancel\",\"rid\":7}", ARIA_ERR_FORMAT, "must be a string"},
        {"{\"type\":\"nope\"}", ARIA_ERR_UNSUPPORTED, "unknown message type 'nope'"},
        {"[1,2]", ARIA_ERR_FORMAT, "JSON object"},
        {"{\"type\":\"load\"", ARIA_ERR_FORMAT, "not JSON"},
        {"{\"type\":\"load\",\"active\":1,\"slots\":2,\"queue\":-1}", ARIA_ERR_FORMAT,
         "'load'.queue is -1"},
        {"{\"type\":\"load\",\"type\":\"load\",\"active\":1,\"slots\":2,\"queue\":1}",
         ARIA_ERR_FORMAT, "not JSON"},
        {"{\"type\":\"error\",\"rid\":\"a\",\"status\":200,\"message\":\"m\"}", ARIA_ERR_FORMAT,
         "'error'.status is 200"},
        {"{\"type\":\"infer\",\"rid\":\"a\",\"endpoint\":\"embed\",\"request\":{}}",
         ARIA_ERR_FORMAT, "endpoint must be chat or completion"},
        {"{\"type\":\"infer\",\"rid\":\"a\",\"endpoint\":\"chat\",\"request\":{},\"resume\":[1,"
         "\"x\"]}",
         ARIA_ERR_FORMAT, "resume[1]"},
        {"{\"type\":\"peers\",\"peers\":[{\"id\":\"short\",\"pk\":\"x\",\"url\":\"ws://a:1\"}]}",
         ARIA_ERR_FORMAT, "peers[0]"},
        {"{\"type\":\"token\",\"rid\":\"a\",\"text\":\"a\\u0000b\",\"token\":1}", ARIA_ERR_FORMAT,
         "NUL"},
#define SID "\"sid\":\"00112233445566778899aabbccddeeff\""
#define NODE "0123456789abcdef0123456789abcdef01234567"
#define OPEN "{\"type\":\"stage_open\"," SID ",\"model\":\"m\",\"n_ctx\":64,\"ttl_ms\":1000,"
        {OPEN "\"first\":2,\"end\":4,\"prev\":\"" NODE "\",\"next\":\"\",\"dtype\":\"f16\"}",
         ARIA_OK, ""},
        {OPEN "\"first\":2,\"end\":4,\"prev\":\"" NODE "\",\"next\":\"" NODE "\",\"dtype\":\"f32\","
              "\"sampling\":{}}",
         ARIA_OK, ""},
        {OPEN "\"first\":4,\"end\":4,\"prev\":\"" NODE "\",\"next\":\"\",\"dtype\":\"f16\"}",
         ARIA_ERR_FORMAT, "first < end"},
        {OPEN "\"first\":0,\"end\":4,\"prev\":\"" NODE "\",\"next\":\"\",\"dtype\":\"bf16\"}",
         ARIA_ERR_FORMAT, "'stage_open'.dtype is 4 bytes; allowed 3 to 3"},
        {OPEN "\"first\":0,\"end\":4,\"prev\":\"" NODE "\",\"next\":\"\",\"dtype\":\"i16\"}",
         ARIA_ERR_FORMAT, "dtype must be f16 or f32"},
        {OPEN "\"first\":0,\"end\":4,\"prev\":\"zz\",\"next\":\"\",\"dtype\":\"f16\"}",
         ARIA_ERR_FORMAT, "'stage_open'.prev is 2 bytes"},
        {OPEN "\"first\":0,\"end\":4,\"prev\":\"" NODE "\",\"next\":\"" NODE "\",\"dtype\":\"f16\","
              "\"ttl_ms\":0}",
         ARIA_ERR_FORMAT, "not JSON"}, /* a duplicate key */
        {"{\"type\":\"stage_close\",\"sid\":\"00112233445566778899aabbccddeefg\"}", ARIA_ERR_FORMAT,
         "sid must be 32 hex digits"},
        {"{\"type\":\"stage_token\"," SID ",\"pos\":3,\"token\":7,\"lp\":-0.5,\"top\":[[7,-0.5]]}",
         ARIA_OK, ""},
        {"{\"type\":\"stage_token\"," SID ",\"pos\":3,\"token\":7,\"top\":[[7]]}", ARIA_ERR_FORMAT,
         "top[0] must be [token, logprob]"},
        {"{\"type\":\"stage_token\"," SID ",\"pos\":3,\"token\":7,\"lp\":\"x\"}", ARIA_ERR_FORMAT,
         "'stage_token'.lp must be a number"},
        {"{\"type\":\"stage_error\"," SID ",\"status\":502,\"message\":\"m\",\"lost\":\"abc\"}",
         ARIA_ERR_FORMAT, "'stage_error'.lost is 3 bytes"},
        {"{\"type\":\"stage_ready\"," SID ",\"n_embd\":0}", ARIA_ERR_FORMAT,
         "'stage_ready'.n_embd is 0"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        ari_msg_in m;
        aria_msg why = {{0}};
        aria_err e = ari_proto_parse(cases[i].text, strlen(cases[i].text), &m, &why);
        if (e != cases[i].want || !strstr(why.text, cases[i].why))
            fail_msg("case %zu (%s): got %d '%s'", i, cases[i].text, e, why.text);
        if (e == ARIA_OK)
            json_decref(m.obj);
    }
}

/* Activation frames: what is written parses back; every header field and
 * the length are checked against each other. */
static void test_frames(void **state)
{
    (void)state;
    enum { N = 3, E = 5 };
    ari_frame f = {.pos0 = 7, .n_tokens = N, .n_embd = E, .dtype = ARIA_DT_F16,
                   .flags = ARI_FRAME_SAMPLE};
    for (int i = 0; i < ARI_SID_LEN; i++)
        f.sid[i] = (uint8_t)(i * 17);
    size_t len = (size_t)ari_frame_size(N, E, ARIA_DT_F16);
    assert_int_equal(len, ARI_FRAME_HDR + 4 * N + 2 * N * E);
    assert_int_equal(ari_frame_size(N, E, ARIA_DT_F32), ARI_FRAME_HDR + 4 * N + 4 * N * E);
    uint8_t buf[ARI_FRAME_HDR + 4 * N + 4 * N * E + 8];
    ari_frame_header(buf, &f);
    int32_t toks[N] = {1, 31999, 1 << 30};
    memcpy(buf + ARI_FRAME_HDR, toks, sizeof toks);
    for (size_t i = ARI_FRAME_HDR + sizeof toks; i < len; i++)
        buf[i] = (uint8_t)i;
    ari_frame g;
    aria_msg why = {{0}};
    assert_int_equal(ari_frame_parse(buf, len, &g, &why), ARIA_OK);
    assert_memory_equal(g.sid, f.sid, ARI_SID_LEN);
    assert_int_equal(g.pos0, 7);
    assert_int_equal(g.n_tokens, N);
    assert_int_equal(g.n_embd, E);
    assert_int_equal(g.dtype, ARIA_DT_F16);
    assert_int_equal(g.flags, ARI_FRAME_SAMPLE);
    for (int i = 0; i < N; i++)
        assert_int_equal(ari_frame_token(&g, (uint32_t)i), toks[i]);
    assert_ptr_equal(g.embd, buf + ARI_FRAME_HDR + 4 * N);

    static const struct {
        size_t at;      /* byte to change (a u32 field), or SIZE_MAX: the length */
        uint32_t value;
        long dlen;      /* with SIZE_MAX: bytes added to the length */
        const char *why;
    } bad[] = {
        {0, 0x12345678u, 0, "not an activation frame"},
        {4, 2, 0, "activation frame version 2"},
        {36, 2, 0, "dtype 2"},
        {40, 2, 0, "flags 0x2"},
        {28, 0, 0, "of 0 tokens"},
        {32, ARI_FRAME_MAX_EMBD + 1, 0, "allowed 1..65536"},
        {28, 4, 0, "its header says"},
        {32, 4, 0, "its header says"},
        {24, 0xffffff00u, 0, "positions past 2^24"},
        {36, ARIA_DT_F32, 0, "its header says"},
        {ARI_FRAME_HDR + 4, 0x80000000u, 0, "token 1 is 2147483648"},
        {SIZE_MAX, 0, -1, "its header says"},
        {SIZE_MAX, 0, 1, "its header says"},
        {SIZE_MAX, 0, -(long)(ARI_FRAME_HDR + 4 * N + 2 * N * E) + 47, "(the header is 48)"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        uint8_t b2[sizeof buf];
        memcpy(b2, buf, sizeof buf);
        size_t l2 = len;
        if (bad[i].at == SIZE_MAX) {
            l2 = (size_t)((long)len + bad[i].dlen);
        } else {
            uint32_t v = bad[i].value;
            b2[bad[i].at] = (uint8_t)v;
            b2[bad[i].at + 1] = (uint8_t)(v >> 8);
            b2[bad[i].at + 2] = (uint8_t)(v >> 16);
            b2[bad[i].at + 3] = (uint8_t)(v >> 24);
        }
        memset(&why, 0, sizeof why);
        if (ari_frame_parse(b2, l2, &g, &why) == ARIA_OK || !strstr(why.text, bad[i].why))
            fail_msg("bad frame %zu: '%s', want '%s'", i, why.text, bad[i].why);
    }
}

static void test_auth(void **state)
{
    (void)state;
    key a, b;
    new_key(&a);
    new_key(&b);
    uint8_t nonce_b[32], other[32];
    randombytes_buf(nonce_b, 32);
    randombytes_buf(other, 32);
    char sig[129];
    /* A proves its key to B over B's nonce */
    ari_proto_auth_sign(a.sk, nonce_b, b.id, a.id, sig);
    assert_int_equal(ari_proto_auth_check(a.pk, sig, nonce_b, b.id, a.id), 0);
    /* not over another nonce, not for another verifier, not with another key */
    assert_int_not_equal(ari_proto_auth_check(a.pk, sig, other, b.id, a.id), 0);
    assert_int_not_equal(ari_proto_auth_check(a.pk, sig, nonce_b, a.id, b.id), 0);
    assert_int_not_equal(ari_proto_auth_check(b.pk, sig, nonce_b, b.id, a.id), 0);
    sig[5] = sig[5] == '0' ? '1' : '0';
    assert_int_not_equal(ari_proto_auth_check(a.pk, sig, nonce_b, b.id, a.id), 0);
    assert_int_not_equal(ari_proto_auth_check(a.pk, "zz", nonce_b, b.id, a.id), 0);
}

static void test_identity(void **state)
{
    (void)state;
    char dir[] = "/tmp/aria-id-XXXXXX";
    assert_non_null(mkdtemp(dir));
    ari_identity a, b;
    int created = 0;
    aria_msg why = {{0}};
    assert_int_equal(ari_identity_load(dir, &a, &created, &why), ARIA_OK);
    assert_int_equal(created, 1);
    assert_int_equal(ari_identity_load(dir, &b, &created, &why), ARIA_OK);
    assert_int_equal(created, 0);
    assert_string_equal(a.id, b.id);
    assert_int_equal(strlen(a.id), ARI_ID_LEN);
    char path[256];
    snprintf(path, sizeof path, "%s/identity.key", dir);
    /* a damaged key: the public half no longer matches */
    FILE *f = fopen(path, "r+b");
    fseek(f, 40, SEEK_SET);
    fputc(0x55 ^ b.sk[40], f);
    fclose(f);
    assert_int_equal(ari_identity_load(dir, &b, &created, &why), ARIA_ERR_FORMAT);
    assert_non_null(strstr(why.text, "does not match"));
    /* the wrong size */
    f = fopen(path, "ab");
    fputc(0, f);
    fclose(f);
    assert_int_equal(ari_identity_load(dir, &b, &created, &why), ARIA_ERR_FORMAT);
    assert_non_null(strstr(why.text, "65 bytes"));
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seal_open), cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_parse),     cmocka_unit_test(test_auth),
        cmocka_unit_test(test_frames),
        cmocka_unit_test(test_identity),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
