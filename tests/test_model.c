/* test_model.c — the whole path on a real model (../shared/models/
 * stories260K.gguf) through the plugins: greedy decoding from BOS prints the
 * golden text with every kernel variant that runs here and any thread
 * count; the model quantized to Q8_0 agrees with F32 on the top-1 token at
 * 95% or more of the golden positions; sampling is reproducible; the model
 * cut into three layer ranges chained through generate's tail decodes the
 * same tokens, each range mapping only its own tensors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "cmds.h"
#include "cpu.h"
#include "host.h"
#include "loader.h"
#include "models.h"
#include "node_world.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MODEL ARIA_SHARED_DIR "/models/stories260K.gguf"
#define GOLDEN ARIA_SHARED_DIR "/golden/stories260K.greedy-from-bos.200.txt"

static node_world W;
static char q8_path[64];

static int setup_all(void **state)
{
    (void)state;
    if (node_world_open(&W) != 0)
        return -1;
    snprintf(q8_path, sizeof q8_path, "/tmp/aria-q8-XXXXXX");
    int fd = mkstemp(q8_path);
    if (fd < 0)
        return -1;
    close(fd);
    char *argv[] = {"quantize", MODEL, q8_path, "Q8_0", NULL};
    return ari_cmd_quantize(4, argv);
}

static int teardown_all(void **state)
{
    (void)state;
    unlink(q8_path);
    node_world_close(&W);
    return 0;
}

typedef struct collect {
    char text[8192];
    size_t len;
    int32_t toks[512];
    uint32_t n;
} collect;

static int on_tok(void *user, const aria_token_event *ev)
{
    collect *c = user;
    if (c->len + ev->text_len < sizeof c->text) {
        memcpy(c->text + c->len, ev->text, ev->text_len);
        c->len += ev->text_len;
    }
    if (c->n < 512)
        c->toks[c->n++] = ev->token;
    return 0;
}

/* Generates n tokens from BOS with the given threads and sampling. */
static void generate(const char *path, uint32_t threads, float temp, uint64_t seed, uint32_t n,
                     collect *out)
{
    ari_loaded L;
    aria_msg why = {{0}};
    if (ari_model_load(&W.reg, path, 0, 0, 0, threads, &L, &why) != ARIA_OK)
        fail_msg("load %s: %s", path, why.text);
    aria_session *s;
    aria_session_params sp = {.hdr = {sizeof sp, 1}};
    assert_int_equal(L.vt->session_new(L.model, &sp, &s, &why), ARIA_OK);
    int32_t prompt[4];
    size_t np;
    assert_int_equal(L.vt->tokenize(L.model, "", 0, ARIA_TOK_ADD_BOS, prompt, 4, &np), ARIA_OK);
    assert_int_equal(np, 1);
    aria_gen_params gp = {.hdr = {sizeof gp, 1}, .max_tokens = n, .on_token = on_tok, .user = out};
    gp.sampling.temperature = temp;
    gp.sampling.seed = seed;
    gp.sampling.top_p = 1;
    gp.sampling.repeat_penalty = 1;
    gp.sampling.top_k = temp > 0 ? 40 : 0;
    aria_gen_result res = {.hdr = {sizeof res, 1}};
    memset(out, 0, sizeof *out);
    assert_int_equal(L.vt->generate(s, prompt, np, &gp, &res, &why), ARIA_OK);
    assert_int_equal(res.n_generated, n);
    L.vt->session_free(s);
    ari_model_unload(&L);
}

static char *golden(size_t *len)
{
    FILE *f = fopen(GOLDEN, "rb");
    assert_non_null(f);
    char *b = calloc(1, 16384);
    *len = fread(b, 1, 16383, f);
    fclose(f);
    while (*len && b[*len - 1] == '\n')
        b[--*len] = 0;
    return b;
}

static void test_golden_every_variant(void **state)
{
    (void)state;
    size_t gl;
    char *g = golden(&gl);
    int variants = 0;
    for (size_t i = 0;; i++) {
        const ari_iface *k = ari_registry_iface(&W.reg, ARIA_IFACE_KERNEL, i);
        if (!k)
            break;
        const aria_kernel_vt *vt = k->vt;
        if (strcmp(vt->family, "gguf") || k->score <= 0)
            continue;
        ari_registry_select_kernels(&W.reg, NULL);
        W.reg.sel[0].iface = k; /* this variant for the family */
        assert_string_equal(W.reg.sel[0].family, "gguf");
        for (uint32_t th = 1; th <= 2; th++) {
            collect c;
            generate(MODEL, th, 0, 0, 200, &c);
            if (c.len != gl || memcmp(c.text, g, gl))
                fail_msg("variant %s, %u threads: text differs from the golden output:\n%.*s",
                         vt->isa, th, (int)c.len, c.text);
        }
        variants++;
    }
    assert_true(variants >= 1);
    ari_registry_select_kernels(&W.reg, NULL);
    free(g);
}

/* Teacher-forced: the F32 greedy sequence through the Q8_0 model; the
 * Q8_0 argmax must equal the next F32 token at >= 95% of the positions. */
static void test_q8_0_agreement(void **state)
{
    (void)state;
    collect ref;
    generate(MODEL, 2, 0, 0, 200, &ref);
    ari_loaded L;
    aria_msg why = {{0}};
    assert_int_equal(ari_model_load(&W.reg, q8_path, 0, 0, 0, 2, &L, &why), ARIA_OK);
    aria_model_info mi = {.hdr = {sizeof mi, 1}};
    L.vt->model_info(L.model, &mi);
    assert_string_equal(mi.format, "Q8_0");
    aria_session *s;
    aria_session_params sp = {.hdr = {sizeof sp, 1}};
    assert_int_equal(L.vt->session_new(L.model, &sp, &s, &why), ARIA_OK);
    int32_t seq[201];
    seq[0] = mi.tok_bos;
    memcpy(seq + 1, ref.toks, 200 * sizeof *seq);
    float *logits = malloc(64 * (size_t)mi.n_vocab * sizeof *logits);
    int agree = 0;
    for (uint32_t p0 = 0; p0 < 200; p0 += 50) {
        aria_batch b = {.hdr = {sizeof b, 1}, .n_tokens = 50, .pos0 = p0, .tokens = seq + p0,
                        .logits_all = 1};
        aria_forward_out fo = {.hdr = {sizeof fo, 1}, .logits = logits};
        assert_int_equal(L.vt->forward(s, &b, &fo, &why), ARIA_OK);
        for (uint32_t t = 0; t < 50; t++) {
            const float *lg = logits + (size_t)t * mi.n_vocab;
            int32_t best = 0;
            for (uint32_t v = 1; v < mi.n_vocab; v++)
                if (lg[v] > lg[best])
                    best = (int32_t)v;
            agree += best == seq[p0 + t + 1];
        }
    }
    printf("Q8_0 top-1 agreement with F32: %d of 200 positions\n", agree);
    assert_true(agree >= 190);
    free(logits);
    L.vt->session_free(s);
    ari_model_unload(&L);
}

/* Same seed and settings: same tokens, whatever the thread count; another
 * seed: another text. */
static void test_sampling_reproducible(void **state)
{
    (void)state;
    collect a, b, c;
    generate(q8_path, 1, 0.9f, 1234, 60, &a);
    generate(q8_path, 2, 0.9f, 1234, 60, &b);
    generate(q8_path, 2, 0.9f, 99, 60, &c);
    assert_int_equal(a.n, b.n);
    assert_memory_equal(a.toks, b.toks, a.n * sizeof a.toks[0]);
    assert_true(memcmp(a.toks, c.toks, a.n * sizeof a.toks[0]) != 0);
}

/* A stop string ends generation before it, and is not emitted. */
static void test_stop_string(void **state)
{
    (void)state;
    ari_loaded L;
    aria_msg why = {{0}};
    assert_int_equal(ari_model_load(&W.reg, MODEL, 0, 0, 0, 2, &L, &why), ARIA_OK);
    aria_session *s;
    aria_session_params sp = {.hdr = {sizeof sp, 1}};
    assert_int_equal(L.vt->session_new(L.model, &sp, &s, &why), ARIA_OK);
    int32_t bos[2];
    size_t np;
    L.vt->tokenize(L.model, "", 0, ARIA_TOK_ADD_BOS, bos, 2, &np);
    const char *stops[] = {"little girl"};
    collect c;
    memset(&c, 0, sizeof c);
    aria_gen_params gp = {.hdr = {sizeof gp, 1}, .max_tokens = 100, .on_token = on_tok,
                          .user = &c, .n_stop = 1, .stop = stops};
    gp.sampling.top_p = 1;
    gp.sampling.repeat_penalty = 1;
    aria_gen_result res = {.hdr = {sizeof res, 1}};
    assert_int_equal(L.vt->generate(s, bos, np, &gp, &res, &why), ARIA_OK);
    assert_int_equal(res.finish, ARIA_FINISH_STOP);
    c.text[c.len] = 0;
    assert_string_equal(c.text, "Once upon a time, there was a ");
    L.vt->session_free(s);
    ari_model_unload(&L);
}

/* ---- a pipeline inside one process: the model as three layer ranges ---- */

typedef struct chain {
    ari_loaded L[3];
    aria_session *s[3];
    uint32_t dtype;
    int calls;
} chain;

/* The tail of stage 0: stages 1 and 2 run the hidden states, stage 2 samples
 * greedily, as the nodes of a pipeline do. */
static aria_err chain_tail(void *user, uint32_t pos0, uint32_t n, const int32_t *tokens,
                           const void *embd, int32_t *token, float *lp, aria_logprob *top,
                           uint32_t *n_top, aria_msg *why)
{
    chain *c = user;
    (void)top;
    c->calls++;
    aria_model_info info = {.hdr = {sizeof info, 1}};
    c->L[1].vt->model_info(c->L[1].model, &info);
    size_t el = c->dtype == ARIA_DT_F16 ? 2 : 4;
    void *mid = malloc((size_t)n * info.n_embd * el);
    aria_batch b = {.hdr = {sizeof b, 1}, .n_tokens = n, .pos0 = pos0, .embd = embd,
                    .embd_dtype = c->dtype};
    aria_forward_out o = {.hdr = {sizeof o, 1}, .embd = mid, .embd_dtype = c->dtype};
    aria_err e = c->L[1].vt->forward(c->s[1], &b, &o, why);
    b.embd = mid;
    if (e == ARIA_OK)
        e = c->L[2].vt->forward(c->s[2], &b, NULL, why);
    free(mid);
    if (e != ARIA_OK)
        return e;
    /* the last stage never saw the tokens: the history comes with them */
    static int32_t hist[4096];
    memcpy(hist + pos0, tokens, n * sizeof *tokens);
    aria_sampling smp = {.hdr = {sizeof smp, 1}, .top_p = 1, .repeat_penalty = 1};
    *n_top = 0;
    return c->L[2].vt->sample(c->s[2], &smp, hist, pos0 + n, token, lp, NULL, n_top);
}

/* Bytes of the mappings of path in this process (/proc/self/maps). */
static uint64_t mapped_bytes_of(const char *path)
{
    char real[4096];
    assert_non_null(realpath(path, real));
    FILE *f = fopen("/proc/self/maps", "r");
    assert_non_null(f);
    char line[8192];
    uint64_t sum = 0;
    while (fgets(line, sizeof line, f)) {
        unsigned long lo, hi;
        char *p = strchr(line, '/');
        if (p && sscanf(line, "%lx-%lx", &lo, &hi) == 2) {
            p[strcspn(p, "\n")] = 0;
            if (!strcmp(p, real))
                sum += hi - lo;
        }
    }
    fclose(f);
    return sum;
}

/* Three ranges chained through generate's tail give the whole model's
 * greedy tokens exactly (f32 between stages); a middle range maps only its
 * own tensors; the first stage alone refuses to generate without a tail. */
static void test_stage_chain(void **state)
{
    (void)state;
    collect whole;
    generate(MODEL, 2, 0, 1, 120, &whole);
    uint64_t before = mapped_bytes_of(MODEL);
    chain c = {.dtype = ARIA_DT_F32};
    static const uint32_t first[3] = {0, 2, 4}, end[3] = {2, 4, 5};
    aria_msg why = {{0}};
    for (int i = 0; i < 3; i++) {
        if (ari_model_load(&W.reg, MODEL, first[i], end[i], 0, 2, &c.L[i], &why) != ARIA_OK)
            fail_msg("load layers %u-%u: %s", first[i], end[i], why.text);
        aria_session_params sp = {.hdr = {sizeof sp, 1}};
        assert_int_equal(c.L[i].vt->session_new(c.L[i].model, &sp, &c.s[i], &why), ARIA_OK);
    }
    FILE *mf = fopen(MODEL, "rb");
    fseek(mf, 0, SEEK_END);
    uint64_t file_size = (uint64_t)ftell(mf);
    fclose(mf);
    /* three ranges mapped: together about one file, each well below it */
    uint64_t three = mapped_bytes_of(MODEL) - before;
    assert_true(three < file_size + 4 * 65536);
    aria_model_info mi = {.hdr = {sizeof mi, 1}};
    c.L[1].vt->model_info(c.L[1].model, &mi);
    assert_int_equal(mi.layer_first, 2);
    assert_int_equal(mi.layer_end, 4);

    int32_t bos[2];
    size_t np;
    assert_int_equal(c.L[0].vt->tokenize(c.L[0].model, "", 0, ARIA_TOK_ADD_BOS, bos, 2, &np),
                     ARIA_OK);
    collect got;
    memset(&got, 0, sizeof got);
    aria_gen_params gp = {.hdr = {sizeof gp, 1}, .max_tokens = 120, .on_token = on_tok,
                          .user = &got};
    gp.sampling.top_p = 1;
    gp.sampling.repeat_penalty = 1;
    aria_gen_result res = {.hdr = {sizeof res, 1}};
    assert_int_equal(c.L[0].vt->generate(c.s[0], bos, np, &gp, &res, &why), ARIA_ERR_UNSUPPORTED);
    gp.tail = chain_tail;
    gp.tail_user = &c;
    gp.tail_dtype = c.dtype;
    if (c.L[0].vt->generate(c.s[0], bos, np, &gp, &res, &why) != ARIA_OK)
        fail_msg("pipeline generate: %s", why.text);
    assert_int_equal(res.n_generated, 120);
    assert_int_equal(got.n, whole.n);
    assert_memory_equal(got.toks, whole.toks, whole.n * sizeof whole.toks[0]);
    assert_int_equal(c.calls, 120); /* the prompt, then one per token but the last */
    got.text[got.len] = 0;
    whole.text[whole.len] = 0;
    assert_string_equal(got.text, whole.text);
    for (int i = 2; i >= 0; i--) {
        c.L[i].vt->session_free(c.s[i]);
        ari_model_unload(&c.L[i]);
    }
    /* one middle range alone: its two layers' tensors and the header */
    before = mapped_bytes_of(MODEL);
    assert_int_equal(ari_model_load(&W.reg, MODEL, 2, 4, 0, 1, &c.L[1], &why), ARIA_OK);
    uint64_t mid = mapped_bytes_of(MODEL) - before;
    c.L[1].vt->model_info(c.L[1].model, &mi);
    assert_true(mid < file_size * 6 / 10);
    assert_true(mid + 2 * 4096 >= mi.weight_bytes / 2);
    ari_model_unload(&c.L[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden_every_variant),
        cmocka_unit_test(test_q8_0_agreement),
        cmocka_unit_test(test_sampling_reproducible),
        cmocka_unit_test(test_stop_string),
        cmocka_unit_test(test_stage_chain),
    };
    return cmocka_run_group_tests(tests, setup_all, teardown_all);
}
