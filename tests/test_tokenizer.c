/* test_tokenizer.c — every conformance vector in ../shared/vocab (strings
 * split on "\n__ggml_vocab_test__\n", ids without BOS), the vocabularies
 * without vectors (load, round-trip), streaming detokenization, and
 * hostile input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <aria/tokenizer.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VOCAB ARIA_SHARED_DIR "/vocab/"

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open %s", path);
    fseek(f, 0, SEEK_END);
    *len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc(*len + 1);
    assert_int_equal(fread(b, 1, *len, f), *len);
    b[*len] = 0;
    fclose(f);
    return b;
}

static void run_vectors(const char *name)
{
    char path[512];
    snprintf(path, sizeof path, VOCAB "%s.gguf", name);
    aria_gguf *g;
    aria_tokenizer *t;
    aria_msg why;
    assert_int_equal(aria_gguf_open(path, &g, &why), ARIA_OK);
    if (aria_tok_load(g, &t, &why) != ARIA_OK)
        fail_msg("%s: %s", name, why.text);
    size_t il, ol;
    snprintf(path, sizeof path, VOCAB "%s.gguf.inp", name);
    char *inp = slurp(path, &il);
    snprintf(path, sizeof path, VOCAB "%s.gguf.out", name);
    char *out = slurp(path, &ol);
    const char *sep = "\n__ggml_vocab_test__\n";
    char *p = inp, *o = out;
    int n = 0, bad = 0;
    int32_t ids[4096];
    for (char *next; (next = strstr(p, sep)); p = next + strlen(sep)) {
        size_t len = (size_t)(next - p), got = 0;
        assert_int_equal(aria_tok_encode(t, p, len, 0, ids, 4096, &got), ARIA_OK);
        char *eol = strchr(o, '\n');
        assert_non_null(eol);
        *eol = 0;
        char mine[32768];
        size_t ml = 0;
        mine[0] = 0;
        for (size_t i = 0; i < got; i++)
            ml += (size_t)snprintf(mine + ml, sizeof mine - ml, "%s%d", i ? " " : "", ids[i]);
        /* the .out lines may carry a leading space */
        const char *want = o;
        while (*want == ' ')
            want++;
        if (strcmp(mine, want)) {
            if (bad < 5)
                printf("%s vector %d '%.*s':\n  want %s\n  got  %s\n", name, n, (int)len, p, want,
                       mine);
            bad++;
        }
        o = eol + 1;
        n++;
    }
    printf("%s: %d of %d vectors match\n", name, n - bad, n);
    assert_true(n >= 40);
    assert_int_equal(bad, 0);
    free(inp);
    free(out);
    aria_tok_free(t);
    aria_gguf_close(g);
}

static void test_llama_spm(void **s) { (void)s; run_vectors("ggml-vocab-llama-spm"); }
static void test_phi3(void **s) { (void)s; run_vectors("ggml-vocab-phi-3"); }
static void test_gpt2(void **s) { (void)s; run_vectors("ggml-vocab-gpt-2"); }
static void test_bert(void **s) { (void)s; run_vectors("ggml-vocab-bert-bge"); }

/* Vocabularies without vectors: they load, and text survives a round trip. */
static void test_others_roundtrip(void **state)
{
    (void)state;
    const char *names[] = {"gpt-neox", "mpt", "starcoder", "refact", "falcon", "deepseek-coder",
                           "deepseek-llm", "baichuan"};
    const char *text = "Hello world! 3.14159 isn't   it?\n\tdéjà vu — 日本語 🙂 x=y+1;";
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char path[256];
        snprintf(path, sizeof path, VOCAB "ggml-vocab-%s.gguf", names[i]);
        aria_gguf *g;
        aria_tokenizer *t;
        aria_msg why;
        assert_int_equal(aria_gguf_open(path, &g, &why), ARIA_OK);
        if (aria_tok_load(g, &t, &why) != ARIA_OK)
            fail_msg("%s: %s", names[i], why.text);
        int32_t ids[512];
        size_t n;
        assert_int_equal(aria_tok_encode(t, text, strlen(text), 0, ids, 512, &n), ARIA_OK);
        char back[1024];
        size_t bl = 0;
        aria_detok d = {0};
        for (size_t k = 0; k < n; k++)
            bl += aria_detok_push(&d, t, ids[k], back + bl, sizeof back - bl);
        bl += aria_detok_flush(&d, back + bl, sizeof back - bl);
        back[bl] = 0;
        /* SPM vocabularies add a leading space */
        const char *cmp = back[0] == ' ' && text[0] != ' ' ? back + 1 : back;
        if (strcmp(cmp, text))
            fail_msg("%s (%s): round trip gave '%s'", names[i], aria_tok_pre_name(t), back);
        aria_tok_free(t);
        aria_gguf_close(g);
    }
}

/* A character split across tokens comes out whole, and only once. */
static void test_stream_utf8(void **state)
{
    (void)state;
    aria_gguf *g;
    aria_tokenizer *t;
    aria_msg why;
    assert_int_equal(aria_gguf_open(VOCAB "ggml-vocab-llama-spm.gguf", &g, &why), ARIA_OK);
    assert_int_equal(aria_tok_load(g, &t, &why), ARIA_OK);
    /* 🙂 is F0 9F 99 82: four byte-fallback tokens in this vocabulary */
    const char *smile = "\xf0\x9f\x99\x82";
    int32_t ids[16];
    size_t n;
    assert_int_equal(aria_tok_encode(t, smile, 4, 0, ids, 16, &n), ARIA_OK);
    assert_true(n >= 4);
    aria_detok d = {0};
    char out[64];
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        size_t w = aria_detok_push(&d, t, ids[i], out + total, sizeof out - total);
        if (i + 1 < n)
            assert_true(w <= 1); /* at most the leading space before the emoji completes */
        total += w;
    }
    total += aria_detok_flush(&d, out + total, sizeof out - total);
    assert_int_equal(total, 5);
    assert_memory_equal(out, " \xf0\x9f\x99\x82", 5);
    /* a dangling lead byte becomes U+FFFD at the end */
    aria_detok d2 = {0};
    int32_t f0 = -1;
    assert_int_equal(aria_tok_encode(t, "\xf0", 1, 0, ids, 16, &n), ARIA_OK);
    f0 = ids[n - 1];
    size_t w = aria_detok_push(&d2, t, f0, out, sizeof out);
    w += aria_detok_flush(&d2, out + w, sizeof out - w);
    assert_memory_equal(out + w - 3, "\xef\xbf\xbd", 3);
    aria_tok_free(t);
    aria_gguf_close(g);
}

static void test_special_and_bos(void **state)
{
    (void)state;
    aria_gguf *g;
    aria_tokenizer *t;
    aria_msg why;
    assert_int_equal(aria_gguf_open(VOCAB "ggml-vocab-llama-spm.gguf", &g, &why), ARIA_OK);
    assert_int_equal(aria_tok_load(g, &t, &why), ARIA_OK);
    int32_t ids[32];
    size_t n;
    assert_int_equal(aria_tok_encode(t, "", 0, ARIA_TOK_ADD_BOS, ids, 32, &n), ARIA_OK);
    assert_int_equal(n, 1);
    assert_int_equal(ids[0], aria_tok_bos(t));
    assert_int_equal(aria_tok_encode(t, "</s>", 4, ARIA_TOK_PARSE_SPECIAL, ids, 32, &n), ARIA_OK);
    assert_int_equal(n, 1);
    assert_int_equal(ids[0], aria_tok_eos(t));
    assert_true(aria_tok_is_eog(t, ids[0]));
    assert_int_equal(aria_tok_encode(t, "</s>", 4, 0, ids, 32, &n), ARIA_OK);
    assert_true(n > 1); /* as text */
    assert_int_equal(aria_tok_encode(t, "hello world", 11, 0, ids, 1, &n), ARIA_ERR_RANGE);
    assert_true(n >= 2);
    aria_tok_free(t);
    aria_gguf_close(g);
}

/* Random bytes: no crash, no read out of bounds (ASan), and a result. */
static void test_garbage(void **state)
{
    (void)state;
    const char *names[] = {"llama-spm", "gpt-2", "bert-bge", "deepseek-llm"};
    uint64_t r = 42;
    for (size_t v = 0; v < 4; v++) {
        char path[256];
        snprintf(path, sizeof path, VOCAB "ggml-vocab-%s.gguf", names[v]);
        aria_gguf *g;
        aria_tokenizer *t;
        aria_msg why;
        assert_int_equal(aria_gguf_open(path, &g, &why), ARIA_OK);
        assert_int_equal(aria_tok_load(g, &t, &why), ARIA_OK);
        for (int k = 0; k < 200; k++) {
            char buf[64];
            size_t len = (size_t)(k % 64);
            for (size_t i = 0; i < len; i++) {
                r = r * 6364136223846793005ull + 1442695040888963407ull;
                buf[i] = (char)(r >> 56);
            }
            int32_t *ids = malloc(256 * sizeof *ids);
            size_t n;
            aria_err e = aria_tok_encode(t, buf, len, ARIA_TOK_PARSE_SPECIAL, ids, 256, &n);
            assert_true(e == ARIA_OK || e == ARIA_ERR_FORMAT);
            free(ids);
        }
        aria_tok_free(t);
        aria_gguf_close(g);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_llama_spm),   cmocka_unit_test(test_phi3),
        cmocka_unit_test(test_gpt2),        cmocka_unit_test(test_bert),
        cmocka_unit_test(test_others_roundtrip), cmocka_unit_test(test_stream_utf8),
        cmocka_unit_test(test_special_and_bos),  cmocka_unit_test(test_garbage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
