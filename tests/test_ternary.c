/* test_ternary.c — one random BitNet model (tiny-bitnet shape, rows a
 * multiple of 256, written by the bench tool's generator) stored as TQ1_0,
 * TQ2_0 and I2_S: the same ternary weights give the same logits in all three
 * to float rounding, the same top-1 tokens through every ternary kernel
 * variant, and the same logits at any thread count; malformed ternary
 * tensors are refused with clear errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "cpu.h"
#include "host.h"
#include "loader.h"
#include "models.h"
#include "node_world.h"
#include "randmodel.h"

#include <aria/gguf.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define N_POS 24

typedef struct world {
    node_world n;
    char dir[64];
    char path[3][128];
} world;

static world W;
static const uint32_t types[3] = {ARIA_T_TQ1_0, ARIA_T_TQ2_0, ARIA_T_I2_S};

static int setup_all(void **state)
{
    (void)state;
    if (node_world_open(&W.n) != 0)
        return -1;
    aria_msg why;
    snprintf(W.dir, sizeof W.dir, "/tmp/aria-ternary-XXXXXX");
    if (!mkdtemp(W.dir))
        return -1;
    const ari_shape *sh = ari_shape_find("tiny-bitnet");
    for (int i = 0; i < 3; i++) {
        snprintf(W.path[i], sizeof W.path[i], "%s/m-%d.gguf", W.dir, i);
        if (ari_randmodel_write(W.path[i], sh, types[i], ARIA_T_F16, 5, &why) != ARIA_OK) {
            fprintf(stderr, "%s\n", why.text);
            return -1;
        }
    }
    return 0;
}

static int teardown_all(void **state)
{
    (void)state;
    for (int i = 0; i < 3; i++)
        unlink(W.path[i]);
    char p[160];
    snprintf(p, sizeof p, "%s/bad.gguf", W.dir);
    unlink(p);
    rmdir(W.dir);
    node_world_close(&W.n);
    return 0;
}

/* Logits [N_POS][V] of a fixed token sequence. */
static float *logits_of(const char *path, uint32_t threads, uint32_t *V)
{
    ari_loaded L;
    aria_msg why = {{0}};
    if (ari_model_load(&W.n.reg, path, 0, 0, 64, threads, &L, &why) != ARIA_OK)
        fail_msg("%s", why.text);
    assert_string_equal(L.vt->name, "bitnet");
    aria_model_info mi = {.hdr = {sizeof mi, 1}};
    L.vt->model_info(L.model, &mi);
    *V = mi.n_vocab;
    aria_session *s;
    aria_session_params sp = {.hdr = {sizeof sp, 1}};
    assert_int_equal(L.vt->session_new(L.model, &sp, &s, &why), ARIA_OK);
    int32_t toks[N_POS];
    for (int i = 0; i < N_POS; i++)
        toks[i] = (i * 37 + 11) % (int32_t)mi.n_vocab;
    float *lg = malloc((size_t)N_POS * mi.n_vocab * sizeof *lg);
    aria_batch b = {.hdr = {sizeof b, 1}, .n_tokens = N_POS, .tokens = toks, .logits_all = 1};
    aria_forward_out fo = {.hdr = {sizeof fo, 1}, .logits = lg};
    assert_int_equal(L.vt->forward(s, &b, &fo, &why), ARIA_OK);
    L.vt->session_free(s);
    ari_model_unload(&L);
    return lg;
}

static int argmax(const float *v, uint32_t n)
{
    int b = 0;
    for (uint32_t i = 1; i < n; i++)
        if (v[i] > v[b])
            b = (int)i;
    return b;
}

static void test_same_logits_all_formats(void **state)
{
    (void)state;
    uint32_t V;
    float *ref = logits_of(W.path[0], 2, &V);
    float amax = 0;
    for (size_t i = 0; i < (size_t)N_POS * V; i++)
        amax = fmaxf(amax, fabsf(ref[i]));
    assert_true(amax > 0);
    for (int f = 1; f < 3; f++) {
        float *o = logits_of(W.path[f], 2, &V);
        double maxd = 0;
        for (size_t i = 0; i < (size_t)N_POS * V; i++)
            maxd = fmax(maxd, fabs(o[i] - ref[i]));
        printf("%s vs TQ1_0: max logit difference %.3g (max |logit| %.3g)\n",
               aria_type_info_get(types[f])->name, maxd, amax);
        assert_true(maxd <= 1e-4 * amax);
        for (int p = 0; p < N_POS; p++)
            assert_int_equal(argmax(o + (size_t)p * V, V), argmax(ref + (size_t)p * V, V));
        free(o);
    }
    free(ref);
}

static void test_threads_identical(void **state)
{
    (void)state;
    uint32_t V;
    float *a = logits_of(W.path[2], 1, &V), *b = logits_of(W.path[2], 2, &V);
    assert_memory_equal(a, b, (size_t)N_POS * V * sizeof *a);
    free(a);
    free(b);
}

static void test_every_variant_same_top1(void **state)
{
    (void)state;
    uint32_t V;
    int n_var = 0;
    float *ref = NULL;
    for (size_t i = 0;; i++) {
        const ari_iface *k = ari_registry_iface(&W.n.reg, ARIA_IFACE_KERNEL, i);
        if (!k)
            break;
        const aria_kernel_vt *vt = k->vt;
        if (strcmp(vt->family, "ternary") || k->score <= 0)
            continue;
        for (size_t j = 0; j < W.n.reg.n_sel; j++)
            if (!strcmp(W.n.reg.sel[j].family, "ternary"))
                W.n.reg.sel[j].iface = k;
        for (int f = 0; f < 3; f++) {
            float *o = logits_of(W.path[f], 2, &V);
            if (!ref) {
                ref = o;
                continue;
            }
            for (int p = 0; p < N_POS; p++)
                if (argmax(o + (size_t)p * V, V) != argmax(ref + (size_t)p * V, V))
                    fail_msg("variant %s, %s: top-1 differs at position %d", vt->isa,
                             aria_type_info_get(types[f])->name, p);
            free(o);
        }
        n_var++;
    }
    ari_registry_select_kernels(&W.n.reg, NULL);
    free(ref);
    assert_true(n_var >= 1);
}

/* Copies the I2_S model with its first tensor's scale replaced. */
static void write_bad_scale(const char *out, float scale)
{
    aria_gguf *g;
    aria_msg why;
    assert_int_equal(aria_gguf_open(W.path[2], &g, &why), ARIA_OK);
    const aria_gguf_tensor *t = aria_gguf_tensor_find(g, "blk.0.attn_q.weight");
    assert_non_null(t);
    size_t tail = (size_t)((const uint8_t *)t->data - g->base) + (size_t)(t->nbytes - 32);
    uint8_t *copy = malloc(g->file_size);
    memcpy(copy, g->base, g->file_size);
    memcpy(copy + tail, &scale, 4);
    FILE *f = fopen(out, "wb");
    fwrite(copy, 1, g->file_size, f);
    fclose(f);
    free(copy);
    aria_gguf_close(g);
}

static void test_malformed(void **state)
{
    (void)state;
    char bad[160];
    snprintf(bad, sizeof bad, "%s/bad.gguf", W.dir);
    ari_loaded L;
    aria_msg why = {{0}};
    write_bad_scale(bad, 0.0f);
    assert_int_equal(ari_model_load(&W.n.reg, bad, 0, 0, 64, 1, &L, &why), ARIA_ERR_FORMAT);
    assert_non_null(strstr(why.text, "tensor 'blk.0.attn_q.weight': I2_S scale 0 is not a positive number"));
    write_bad_scale(bad, NAN);
    assert_int_equal(ari_model_load(&W.n.reg, bad, 0, 0, 64, 1, &L, &why), ARIA_ERR_FORMAT);
    assert_non_null(strstr(why.text, "I2_S scale"));

    /* a row that is not a whole number of 256-blocks */
    uint8_t data[66 * 2];
    memset(data, 0, sizeof data);
    uint64_t ne[2] = {200, 2};
    aria_gguf_writer *w = aria_gguf_writer_new();
    assert_int_equal(aria_gguf_add_tensor(w, "x.weight", ARIA_T_TQ2_0, 2, ne, data, sizeof data, &why),
                     ARIA_ERR_INVALID);
    /* the same, forged in a file: the reader refuses it */
    uint64_t ne2[2] = {256, 2};
    assert_int_equal(aria_gguf_add_tensor(w, "x.weight", ARIA_T_TQ2_0, 2, ne2, data, sizeof data, &why),
                     ARIA_OK);
    uint8_t *buf;
    size_t len;
    assert_int_equal(aria_gguf_write_mem(w, &buf, &len, &why), ARIA_OK);
    aria_gguf_writer_free(w);
    uint8_t *p = memmem(buf, len, "x.weight", 8);
    p[8 + 4] = 200; /* ne[0] = 200 */
    p[8 + 5] = 0;
    aria_gguf *g;
    assert_int_equal(aria_gguf_open_mem(buf, len, &g, &why), ARIA_ERR_FORMAT);
    assert_string_equal(why.text, "tensor 'x.weight': row of 200 elements is not a whole number "
                                  "of TQ2_0 blocks of 256");
    /* a block count that does not match the data: more rows than bytes */
    p[8 + 4] = 0;
    p[8 + 5] = 1;      /* back to 256 */
    p[8 + 4 + 8] = 50; /* 50 rows of 66 bytes claimed, 2 stored */
    assert_int_equal(aria_gguf_open_mem(buf, len, &g, &why), ARIA_ERR_FORMAT);
    assert_non_null(strstr(why.text, "runs past the end of the file"));
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_logits_all_formats),
        cmocka_unit_test(test_threads_identical),
        cmocka_unit_test(test_every_variant_same_top1),
        cmocka_unit_test(test_malformed),
    };
    return cmocka_run_group_tests(tests, setup_all, teardown_all);
}
