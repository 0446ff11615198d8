/* test_gguf.c — the GGUF reader on real files and on hostile ones: every
 * truncation of a real file, corrupted counts, sizes and offsets each fail
 * with a clear message, never a crash. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <aria/gguf.h>
#include <aria/quant.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MODEL ARIA_SHARED_DIR "/models/stories260K.gguf"

static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    *len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc(*len);
    assert_int_equal(fread(b, 1, *len, f), *len);
    fclose(f);
    return b;
}

static void test_real_model(void **state)
{
    (void)state;
    aria_gguf *g;
    aria_msg why;
    assert_int_equal(aria_gguf_open(MODEL, &g, &why), ARIA_OK);
    assert_int_equal(g->version, 3);
    assert_int_equal(g->n_tensors, 48);
    uint32_t n_embd = 0;
    assert_int_equal(aria_gguf_get_u32(g, "llama.embedding_length", &n_embd), ARIA_OK);
    assert_int_equal(n_embd, 64);
    aria_gguf_str s;
    assert_int_equal(aria_gguf_get_str(g, "general.architecture", &s), ARIA_OK);
    assert_true(aria_gguf_str_eq(s, "llama"));
    assert_int_equal(aria_gguf_get_u32(g, "general.architecture", &n_embd), ARIA_ERR_FORMAT);
    assert_int_equal(aria_gguf_get_u32(g, "no.such.key", &n_embd), ARIA_ERR_NOT_FOUND);
    const aria_gguf_tensor *t = aria_gguf_tensor_find(g, "blk.0.ffn_down.weight");
    assert_non_null(t);
    assert_int_equal(t->ne[0], 172);
    assert_int_equal(t->ne[1], 64);
    assert_int_equal(t->nbytes, 172 * 64 * 4);
    const aria_gguf_kv *tok = aria_gguf_find(g, "tokenizer.ggml.tokens");
    assert_int_equal(tok->arr_n, 512);
    aria_gguf_str *strs = malloc(512 * sizeof *strs);
    assert_int_equal(aria_gguf_arr_strings(tok, strs), ARIA_OK);
    assert_true(aria_gguf_str_eq(strs[1], "<s>"));
    free(strs);
    float sc;
    assert_int_equal(aria_gguf_arr_f32(aria_gguf_find(g, "tokenizer.ggml.scores"), 3, &sc), ARIA_OK);
    aria_gguf_close(g);
}

/* Every prefix of the file fails cleanly (the header and all tensor data
 * must be there), and the message says truncated. */
static void test_every_truncation(void **state)
{
    (void)state;
    size_t len;
    uint8_t *b = slurp(MODEL, &len);
    for (size_t n = 0; n < len; n += (n < 16384 ? 1 : 997)) {
        uint8_t *copy = malloc(n ? n : 1);
        memcpy(copy, b, n);
        aria_gguf *g = NULL;
        aria_msg why = {{0}};
        aria_err e = aria_gguf_open_mem(copy, n, &g, &why);
        if (e == ARIA_OK)
            fail_msg("a %zu-byte prefix of %zu opened", n, len);
        assert_null(g);
        assert_true(why.text[0] != '\0');
        free(copy);
    }
    free(b);
}

static void test_corruptions(void **state)
{
    (void)state;
    size_t len;
    uint8_t *b = slurp(MODEL, &len);
    aria_gguf *g;
    aria_msg why;
    struct {
        size_t off;
        uint8_t val;
        const char *msg;
    } cases[] = {
        {0, 'X', "not a GGUF file (bad magic)"},
        {4, 9, "GGUF version 9 is not supported (2 and 3 are)"},
        {4, 1, "GGUF version 1 is not supported"},
        {15, 0x7f, "tensor count"},     /* 2^63-ish tensors */
        {23, 0x40, "metadata count"},   /* huge kv count */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t *c = malloc(len);
        memcpy(c, b, len);
        c[cases[i].off] = cases[i].val;
        assert_int_not_equal(aria_gguf_open_mem(c, len, &g, &why), ARIA_OK);
        if (!strstr(why.text, cases[i].msg))
            fail_msg("case %zu: '%s' lacks '%s'", i, why.text, cases[i].msg);
        free(c);
    }
    /* A string length pointing far past the end: the first key's length. */
    uint8_t *c = malloc(len);
    memcpy(c, b, len);
    c[24 + 6] = 0x10;
    assert_int_equal(aria_gguf_open_mem(c, len, &g, &why), ARIA_ERR_FORMAT);
    assert_non_null(strstr(why.text, "metadata key"));
    free(c);
    free(b);
}

/* A file built with the writer, then damaged in its tensor table. */
static void test_bad_tensors(void **state)
{
    (void)state;
    float data[64] = {0};
    uint64_t ne[2] = {16, 4};
    aria_msg why;
    aria_gguf_writer *w = aria_gguf_writer_new();
    aria_gguf_set_str(w, "general.architecture", "llama");
    assert_int_equal(aria_gguf_add_tensor(w, "a.weight", ARIA_T_F32, 2, ne, data, sizeof data, &why),
                     ARIA_OK);
    assert_int_equal(aria_gguf_add_tensor(w, "b.weight", ARIA_T_F32, 2, ne, data, 12, &why),
                     ARIA_ERR_INVALID); /* wrong size for the shape */
    assert_int_equal(aria_gguf_add_tensor(w, "c.weight", ARIA_T_Q8_0, 2, ne, data, 0, &why),
                     ARIA_ERR_INVALID); /* 16 is not a whole Q8_0 block */
    uint8_t *buf;
    size_t len;
    assert_int_equal(aria_gguf_write_mem(w, &buf, &len, &why), ARIA_OK);
    aria_gguf_writer_free(w);
    aria_gguf *g;
    assert_int_equal(aria_gguf_open_mem(buf, len, &g, &why), ARIA_OK);
    assert_int_equal(g->n_tensors, 1);
    aria_gguf_close(g);
    /* find the tensor info: name "a.weight", then n_dims, ne[2], type, offset */
    uint8_t *p = memmem(buf, len, "a.weight", 8);
    assert_non_null(p);
    uint8_t *type = p + 8 + 4 + 16, *off = type + 4;
    uint8_t save = type[0];
    type[0] = 99;
    assert_int_equal(aria_gguf_open_mem(buf, len, &g, &why), ARIA_ERR_UNSUPPORTED);
    assert_non_null(strstr(why.text, "tensor 'a.weight' has unknown type 99"));
    type[0] = save;
    off[0] = 3;
    assert_int_equal(aria_gguf_open_mem(buf, len, &g, &why), ARIA_ERR_FORMAT);
    assert_non_null(strstr(why.text, "is not aligned"));
    off[0] = 0;
    off[1] = 0x10; /* offset 4096: past the end */
    assert_int_equal(aria_gguf_open_mem(buf, len, &g, &why), ARIA_ERR_FORMAT);
    assert_non_null(strstr(why.text, "runs past the end of the file"));
    off[1] = 0;
    p[8 + 4] = 0; /* ne[0] = 0 */
    assert_int_equal(aria_gguf_open_mem(buf, len, &g, &why), ARIA_ERR_FORMAT);
    assert_non_null(strstr(why.text, "empty or huge dimension"));
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_real_model),
        cmocka_unit_test(test_every_truncation),
        cmocka_unit_test(test_corruptions),
        cmocka_unit_test(test_bad_tensors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
