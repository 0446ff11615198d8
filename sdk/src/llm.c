/* llm.c — loading a llama-family GGUF model and its forward pass.
 *
 * Shapes in comments use n = tokens in the batch, d = n_embd, hd = head_dim,
 * H = n_head, Hkv = n_head_kv, f = n_ff, V = n_vocab. Activations are f32,
 * row-major [token][feature]. */
#include <aria/llm.h>
#include <aria/quant.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_BATCH 64 /* prompt tokens per forward chunk */

/* ---- hyperparameters --------------------------------------------------- */

static aria_err get_u32_arch(const aria_gguf *g, const char *arch, const char *key, uint32_t *v,
                             int required, aria_msg *why)
{
    char k[128];
    snprintf(k, sizeof k, "%s.%s", arch, key);
    aria_err e = aria_gguf_get_u32(g, k, v);
    if (e == ARIA_ERR_NOT_FOUND && !required)
        return ARIA_OK;
    if (e != ARIA_OK)
        return aria_fail(why, ARIA_ERR_FORMAT, "metadata %s is %s", k,
                         e == ARIA_ERR_NOT_FOUND ? "missing" : "not a 32-bit unsigned integer");
    return ARIA_OK;
}

static aria_err get_f32_arch(const aria_gguf *g, const char *arch, const char *key, float *v,
                             aria_msg *why)
{
    char k[128];
    snprintf(k, sizeof k, "%s.%s", arch, key);
    aria_err e = aria_gguf_get_f32(g, k, v);
    if (e == ARIA_ERR_FORMAT)
        return aria_fail(why, ARIA_ERR_FORMAT, "metadata %s is not a number", k);
    return ARIA_OK;
}

aria_err aria_llm_hparams_read(const aria_gguf *g, aria_llm_hparams *hp, aria_msg *why)
{
    memset(hp, 0, sizeof *hp);
    aria_gguf_str a;
    if (aria_gguf_get_str(g, "general.architecture", &a) != ARIA_OK)
        return aria_fail(why, ARIA_ERR_FORMAT, "metadata general.architecture is missing");
    if (a.len == 0 || a.len >= sizeof hp->arch)
        return aria_fail(why, ARIA_ERR_FORMAT, "general.architecture is empty or too long");
    memcpy(hp->arch, a.ptr, a.len);
    hp->arch[a.len] = '\0';
    const char *arch = hp->arch;
    int is_bitnet = !strcmp(arch, "bitnet") || !strcmp(arch, "bitnet-b1.58") ||
                    !strcmp(arch, "bitnet-25");
    if (strcmp(arch, "llama") && strcmp(arch, "mistral") && strcmp(arch, "qwen2") &&
        strcmp(arch, "falcon3") && !is_bitnet)
        return aria_fail(why, ARIA_ERR_UNSUPPORTED,
                         "architecture '%s' is not supported (llama, mistral, qwen2, bitnet, "
                         "bitnet-b1.58 are)", arch);
    aria_err e;
    if ((e = get_u32_arch(g, arch, "embedding_length", &hp->n_embd, 1, why)) ||
        (e = get_u32_arch(g, arch, "block_count", &hp->n_layer, 1, why)) ||
        (e = get_u32_arch(g, arch, "feed_forward_length", &hp->n_ff, 1, why)) ||
        (e = get_u32_arch(g, arch, "attention.head_count", &hp->n_head, 1, why)))
        return e;
    hp->n_head_kv = hp->n_head;
    hp->n_ctx_train = 2048;
    if ((e = get_u32_arch(g, arch, "attention.head_count_kv", &hp->n_head_kv, 0, why)) ||
        (e = get_u32_arch(g, arch, "context_length", &hp->n_ctx_train, 0, why)) ||
        (e = get_u32_arch(g, arch, "vocab_size", &hp->n_vocab, 0, why)))
        return e;
    if (hp->n_embd == 0 || hp->n_embd > 65536 || hp->n_layer == 0 || hp->n_layer > 1024 ||
        hp->n_head == 0 || hp->n_embd % hp->n_head || hp->n_head_kv == 0 ||
        hp->n_head % hp->n_head_kv || hp->n_ff == 0 || hp->n_ff > 1 << 20)
        return aria_fail(why, ARIA_ERR_FORMAT, "inconsistent shape: n_embd %u, layers %u, heads "
                         "%u, kv heads %u, ffn %u", hp->n_embd, hp->n_layer, hp->n_head,
                         hp->n_head_kv, hp->n_ff);
    hp->head_dim = hp->n_embd / hp->n_head;
    hp->n_rot = hp->head_dim;
    if ((e = get_u32_arch(g, arch, "rope.dimension_count", &hp->n_rot, 0, why)))
        return e;
    if (hp->n_rot > hp->head_dim || hp->n_rot % 2)
        return aria_fail(why, ARIA_ERR_FORMAT, "rope.dimension_count %u does not fit head size %u",
                         hp->n_rot, hp->head_dim);
    hp->rms_eps = 1e-5f;
    char k[128];
    snprintf(k, sizeof k, "%s.attention.layer_norm_rms_epsilon", arch);
    if (aria_gguf_get_f32(g, k, &hp->rms_eps) != ARIA_OK && is_bitnet)
        return aria_fail(why, ARIA_ERR_FORMAT, "metadata %s is missing", k);
    hp->rope_base = 10000.0f;
    if ((e = get_f32_arch(g, arch, "rope.freq_base", &hp->rope_base, why)))
        return e;
    hp->rope_freq_scale = 1.0f;
    aria_gguf_str st;
    snprintf(k, sizeof k, "%s.rope.scaling.type", arch);
    int linear = aria_gguf_get_str(g, k, &st) == ARIA_OK && aria_gguf_str_eq(st, "linear");
    float factor = 0;
    snprintf(k, sizeof k, "%s.rope.scaling.factor", arch);
    if (aria_gguf_get_f32(g, k, &factor) == ARIA_OK && factor > 0 && linear)
        hp->rope_freq_scale = 1.0f / factor;
    snprintf(k, sizeof k, "%s.rope.scale_linear", arch);
    if (aria_gguf_get_f32(g, k, &factor) == ARIA_OK && factor > 0)
        hp->rope_freq_scale = 1.0f / factor;
    if (!(hp->rms_eps > 0) || !(hp->rope_base > 0))
        return aria_fail(why, ARIA_ERR_FORMAT, "rms epsilon %g or rope base %g is not positive",
                         hp->rms_eps, hp->rope_base);
    hp->rope_kind = !strcmp(arch, "llama") || !strcmp(arch, "mistral") || !strcmp(arch, "falcon3")
                        ? ARIA_ROPE_NORM
                        : ARIA_ROPE_NEOX;
    hp->ffn_act = (!strcmp(arch, "bitnet-b1.58") || !strcmp(arch, "bitnet-25")) ? ARIA_ACT_RELU2
                                                                                : ARIA_ACT_SILU;
    hp->has_qkv_bias = !strcmp(arch, "qwen2");
    hp->has_sub_norms = is_bitnet;
    return ARIA_OK;
}

/* ---- loading ----------------------------------------------------------- */

typedef struct loader {
    aria_llm *m;
    const aria_llm_opts *o;
    aria_msg *why;
    float *pool;  /* owned f32 copies */
    size_t used, cap;
    const aria_gguf_tensor **keep; /* tensors read from the map after loading */
    size_t n_keep, cap_keep;
    uint64_t type_elems[64]; /* parameters per type: the format is the most common */
} loader;

static const aria_gguf_tensor *tensor(loader *L, const char *name, int required)
{
    const aria_gguf_tensor *t = aria_gguf_tensor_find(L->m->gguf, name);
    if (!t && required)
        aria_fail(L->why, ARIA_ERR_FORMAT, "tensor '%s' is missing", name);
    return t;
}

/* A vector of n floats, copied to f32 (norms and biases are small). */
static aria_err vec(loader *L, const char *name, uint32_t n, int required, const float **out)
{
    *out = NULL;
    const aria_gguf_tensor *t = tensor(L, name, required);
    if (!t)
        return required ? ARIA_ERR_FORMAT : ARIA_OK;
    if (t->n_elements != n)
        return aria_fail(L->why, ARIA_ERR_FORMAT, "tensor '%s' has %llu elements, expected %u",
                         name, (unsigned long long)t->n_elements, n);
    if (L->used + n > L->cap)
        return aria_fail(L->why, ARIA_ERR_INTERNAL, "vector pool exhausted at '%s'", name);
    float *dst = L->pool + L->used;
    if (aria_dequantize_row(t->type, t->data, dst, n) != ARIA_OK)
        return aria_fail(L->why, ARIA_ERR_UNSUPPORTED, "tensor '%s' has type %s, not usable for "
                         "a vector", name, aria_type_info_get(t->type)->name);
    L->used += n;
    *out = dst;
    L->m->weight_bytes += t->nbytes;
    L->m->n_params += n;
    return ARIA_OK;
}

/* A matrix [rows][cols] and the kernel variant that multiplies it. */
static aria_err mat(loader *L, const char *name, uint32_t rows, uint32_t cols, int required,
                    aria_weight *w)
{
    memset(w, 0, sizeof *w);
    const aria_gguf_tensor *t = tensor(L, name, required);
    if (!t)
        return required ? ARIA_ERR_FORMAT : ARIA_OK;
    if (t->n_dims > 2 || t->ne[0] != cols || t->ne[1] != rows)
        return aria_fail(L->why, ARIA_ERR_FORMAT, "tensor '%s' is [%llu, %llu], expected [%u, %u]",
                         name, (unsigned long long)t->ne[0], (unsigned long long)t->ne[1], cols,
                         rows);
    if (L->n_keep < L->cap_keep)
        L->keep[L->n_keep++] = t;
    w->type = t->type;
    w->rows = rows;
    w->cols = cols;
    w->data = t->data;
    w->scale = 1.0f;
    w->row_bytes = aria_row_bytes(t->type, cols);
    if (t->type == ARIA_T_I2_S) {
        /* The tensor's f32 scale follows its packed rows. */
        const uint8_t *tail = (const uint8_t *)t->data + (size_t)rows * w->row_bytes;
        memcpy(&w->scale, tail, 4);
        if (!isfinite(w->scale) || w->scale <= 0)
            return aria_fail(L->why, ARIA_ERR_FORMAT, "tensor '%s': I2_S scale %g is not a "
                             "positive number", name, w->scale);
    }
    if (!w->row_bytes)
        return aria_fail(L->why, ARIA_ERR_FORMAT, "tensor '%s': rows of %u do not fit type %s",
                         name, cols, aria_type_info_get(t->type)->name);
    static const char *const families[] = {"gguf", "ternary"};
    for (size_t f = 0; f < 2 && !w->kv && L->o->kernels; f++) {
        const aria_kernel_vt *kv = L->o->kernels(families[f]);
        if (kv && kv->act_type(t->type) >= 0) {
            w->kv = kv;
            w->act = kv->act_type(t->type);
        }
    }
    if (!w->kv && !L->o->no_kernels)
        return aria_fail(L->why, ARIA_ERR_UNSUPPORTED, "tensor '%s' has type %s, which no loaded "
                         "kernel variant handles (is the kernels plugin installed?)", name,
                         aria_type_info_get(t->type)->name);
    L->m->weight_bytes += t->nbytes;
    L->m->n_params += (uint64_t)rows * cols;
    if (t->type < 64)
        L->type_elems[t->type] += (uint64_t)rows * cols;
    else if (t->type == ARIA_T_I2_S)
        L->type_elems[36] += (uint64_t)rows * cols;
    return ARIA_OK;
}

void aria_llm_free(aria_llm *m)
{
    if (!m)
        return;
    aria_gguf_close(m->gguf);
    free(m->layers);
    free(m->owned_);
    free(m);
}

aria_err aria_llm_load(const char *path, const aria_llm_opts *o, aria_llm **out, aria_msg *why)
{
    *out = NULL;
    aria_llm *m = calloc(1, sizeof *m);
    if (!m)
        return aria_fail(why, ARIA_ERR_NOMEM, "out of memory");
    aria_err e = aria_gguf_open(path, &m->gguf, why);
    if (e != ARIA_OK) {
        free(m);
        return e;
    }
    aria_msg inner = {{0}};
    loader L = {.m = m, .o = o, .why = &inner};
    aria_llm_hparams *hp = &m->hp;
    if ((e = aria_llm_hparams_read(m->gguf, hp, &inner)))
        goto fail;
    m->layer_first = o->layer_first;
    m->layer_end = o->layer_end ? o->layer_end : hp->n_layer;
    if (m->layer_first >= m->layer_end || m->layer_end > hp->n_layer) {
        e = aria_fail(&inner, ARIA_ERR_RANGE, "layer range %u-%u is outside the model's %u layers",
                      m->layer_first, m->layer_end, hp->n_layer);
        goto fail;
    }
    const aria_gguf_tensor *te = tensor(&L, "token_embd.weight", 1);
    if (!te || te->n_dims != 2 || te->ne[0] != hp->n_embd) {
        e = aria_fail(&inner, ARIA_ERR_FORMAT, te ? "token_embd.weight is not [n_embd, n_vocab]"
                                                  : "tensor 'token_embd.weight' is missing");
        goto fail;
    }
    if (!hp->n_vocab)
        hp->n_vocab = (uint32_t)te->ne[1];
    const uint32_t d = hp->n_embd, hd = hp->head_dim, f = hp->n_ff, V = hp->n_vocab;
    const uint32_t qd = hp->n_head * hd, kvd = hp->n_head_kv * hd;
    L.cap = (size_t)(hp->n_layer) * (4 * d + 3 * qd + f) + 2 * d + hp->n_rot;
    L.pool = malloc(L.cap * sizeof(float));
    L.cap_keep = (size_t)hp->n_layer * 8 + 4;
    L.keep = malloc(L.cap_keep * sizeof *L.keep);
    m->layers = calloc(hp->n_layer, sizeof *m->layers);
    if (!L.pool || !m->layers || !L.keep) {
        free(L.pool);
        free(L.keep);
        e = aria_fail(&inner, ARIA_ERR_NOMEM, "out of memory");
        goto fail;
    }
    m->owned_ = L.pool;
    if (m->layer_first == 0) {
        /* the embedding is read a row at a time: any dequantizable type */
        m->tok_embd.type = te->type;
        m->tok_embd.rows = V;
        m->tok_embd.cols = d;
        m->tok_embd.data = te->data;
        m->tok_embd.row_bytes = aria_row_bytes(te->type, d);
        if (!m->tok_embd.row_bytes || te->ne[1] != V) {
            e = aria_fail(&inner, ARIA_ERR_FORMAT, "token_embd.weight does not fit [%u, %u]", d, V);
            goto fail;
        }
        m->weight_bytes += te->nbytes;
        m->n_params += (uint64_t)V * d;
        L.keep[L.n_keep++] = te;
    }
    if (m->layer_end == hp->n_layer) {
        if ((e = vec(&L, "output_norm.weight", d, 1, &m->output_norm)))
            goto fail;
        if (tensor(&L, "output.weight", 0)) {
            e = mat(&L, "output.weight", V, d, 1, &m->output);
        } else {
            hp->tied_output = 1;
            e = mat(&L, "token_embd.weight", V, d, 1, &m->output);
        }
        if (e)
            goto fail;
    }
    if (tensor(&L, "rope_freqs.weight", 0) &&
        (e = vec(&L, "rope_freqs.weight", hp->n_rot / 2, 1, &m->rope_freqs)))
        goto fail;
    for (uint32_t l = m->layer_first; l < m->layer_end; l++) {
        aria_llm_layer *y = &m->layers[l];
        char n[96];
#define NAME(s) (snprintf(n, sizeof n, "blk.%u." s, l), n)
        if ((e = vec(&L, NAME("attn_norm.weight"), d, 1, &y->attn_norm)) ||
            (e = mat(&L, NAME("attn_q.weight"), qd, d, 1, &y->wq)) ||
            (e = mat(&L, NAME("attn_k.weight"), kvd, d, 1, &y->wk)) ||
            (e = mat(&L, NAME("attn_v.weight"), kvd, d, 1, &y->wv)) ||
            (e = mat(&L, NAME("attn_output.weight"), d, qd, 1, &y->wo)) ||
            (e = vec(&L, NAME("ffn_norm.weight"), d, 1, &y->ffn_norm)) ||
            (e = mat(&L, NAME("ffn_gate.weight"), f, d, 1, &y->w_gate)) ||
            (e = mat(&L, NAME("ffn_up.weight"), f, d, 1, &y->w_up)) ||
            (e = mat(&L, NAME("ffn_down.weight"), d, f, 1, &y->w_down)) ||
            (e = vec(&L, NAME("attn_q.bias"), qd, hp->has_qkv_bias, &y->bq)) ||
            (e = vec(&L, NAME("attn_k.bias"), kvd, hp->has_qkv_bias, &y->bk)) ||
            (e = vec(&L, NAME("attn_v.bias"), kvd, hp->has_qkv_bias, &y->bv)) ||
            (e = vec(&L, NAME("attn_sub_norm.weight"), d, hp->has_sub_norms, &y->attn_sub_norm)) ||
            (e = vec(&L, NAME("ffn_sub_norm.weight"), f, hp->has_sub_norms, &y->ffn_sub_norm)))
            goto fail;
#undef NAME
    }
    uint64_t best = 0;
    for (int t = 0; t < 64; t++)
        if (L.type_elems[t] > best) {
            best = L.type_elems[t];
            const aria_type_info *ti = aria_type_info_get(t == 36 ? ARIA_T_I2_S : (uint32_t)t);
            snprintf(m->format, sizeof m->format, "%s", ti ? ti->name : "?");
        }
    /* A pipeline stage maps only its own tensors (vectors were copied). */
    m->mapped_bytes = m->layer_first > 0 || m->layer_end < hp->n_layer
                          ? aria_gguf_map_only(m->gguf, L.keep, L.n_keep)
                          : m->gguf->file_size;
    free(L.keep);
    *out = m;
    return ARIA_OK;
fail:
    free(L.keep);
    aria_fail(why, e, "%s: %s", path, inner.text);
    aria_llm_free(m);
    return e;
}

/* ---- session ----------------------------------------------------------- */

struct aria_llm_ctx {
    const aria_llm *m;
    aria_pool *pool;
    uint32_t n_ctx, pos;
    float *k, *v;             /* [layers held][n_ctx][Hkv*hd] */
    /* scratch for one chunk of up to MAX_BATCH tokens */
    float *x, *xb, *q, *kx, *vx, *att, *hb, *hb2;
    uint8_t *xq;              /* quantized activations */
    size_t xq_stride;
    float *scores;            /* [threads][n_ctx] */
    float *logits;            /* [MAX_BATCH][V] */
    uint32_t n_logits;
    const volatile int *cancel;
    aria_llm_exec exec; /* exec.step set: forward runs there */
};

uint64_t aria_llm_kv_bytes_per_pos(const aria_llm *m)
{
    return (uint64_t)(m->layer_end - m->layer_first) * 2 * m->hp.n_head_kv * m->hp.head_dim *
           sizeof(float);
}

void aria_llm_ctx_free(aria_llm_ctx *c)
{
    if (!c)
        return;
    if (c->exec.free)
        c->exec.free(c->exec.user);
    free(c->k);
    free(c->v);
    free(c->x);
    free(c->xb);
    free(c->q);
    free(c->kx);
    free(c->vx);
    free(c->att);
    free(c->hb);
    free(c->hb2);
    free(c->xq);
    free(c->scores);
    free(c->logits);
    free(c);
}

static size_t act_row_max(const aria_llm *m, uint32_t cols)
{
    /* the largest row any kernel's activation type needs for cols inputs */
    size_t best = (size_t)cols * 4 + 64;
    for (uint32_t l = m->layer_first; l < m->layer_end; l++) {
        const aria_weight *ws[] = {&m->layers[l].wq, &m->layers[l].wo, &m->layers[l].w_gate,
                                   &m->layers[l].w_down};
        for (size_t i = 0; i < 4; i++)
            if (ws[i]->cols == cols) {
                size_t b = ws[i]->kv->row_bytes((uint32_t)ws[i]->act, cols);
                if (b > best)
                    best = b;
            }
    }
    return best;
}

aria_err aria_llm_ctx_new(const aria_llm *m, uint32_t n_ctx, aria_pool *pool, aria_llm_ctx **out,
                          aria_msg *why)
{
    *out = NULL;
    const aria_llm_hparams *hp = &m->hp;
    if (n_ctx == 0 || n_ctx > 1u << 20)
        return aria_fail(why, ARIA_ERR_RANGE, "context length %u out of range", n_ctx);
    aria_llm_ctx *c = calloc(1, sizeof *c);
    if (!c)
        return aria_fail(why, ARIA_ERR_NOMEM, "out of memory");
    c->m = m;
    c->pool = pool;
    c->n_ctx = n_ctx;
    const size_t B = MAX_BATCH, d = hp->n_embd, qd = (size_t)hp->n_head * hp->head_dim;
    const size_t kvd = (size_t)hp->n_head_kv * hp->head_dim, f = hp->n_ff;
    const size_t held = m->layer_end - m->layer_first;
    size_t biggest = d > f ? d : f;
    if (qd > biggest)
        biggest = qd;
    c->xq_stride = act_row_max(m, (uint32_t)d);
    size_t s2 = act_row_max(m, (uint32_t)f), s3 = act_row_max(m, (uint32_t)qd);
    if (s2 > c->xq_stride)
        c->xq_stride = s2;
    if (s3 > c->xq_stride)
        c->xq_stride = s3;
    c->xq_stride = (c->xq_stride + 63) / 64 * 64;
    c->k = malloc(held * n_ctx * kvd * sizeof(float));
    c->v = malloc(held * n_ctx * kvd * sizeof(float));
    c->x = malloc(B * d * sizeof(float));
    c->xb = malloc(B * biggest * sizeof(float));
    c->q = malloc(B * qd * sizeof(float));
    c->kx = malloc(B * kvd * sizeof(float));
    c->vx = malloc(B * kvd * sizeof(float));
    c->att = malloc(B * qd * sizeof(float));
    c->hb = malloc(B * f * sizeof(float));
    c->hb2 = malloc(B * f * sizeof(float));
    c->xq = aligned_alloc(64, B * c->xq_stride);
    c->scores = malloc((size_t)aria_pool_size(pool) * n_ctx * sizeof(float));
    c->logits = m->layer_end == hp->n_layer ? malloc(B * hp->n_vocab * sizeof(float)) : NULL;
    if (!c->k || !c->v || !c->x || !c->xb || !c->q || !c->kx || !c->vx || !c->att || !c->hb ||
        !c->hb2 || !c->xq || !c->scores || (m->layer_end == hp->n_layer && !c->logits)) {
        aria_llm_ctx_free(c);
        return aria_fail(why, ARIA_ERR_NOMEM, "out of memory for a context of %u positions",
                         n_ctx);
    }
    *out = c;
    return ARIA_OK;
}

aria_err aria_llm_ctx_new_exec(const aria_llm *m, uint32_t n_ctx, const aria_llm_exec *x,
                               aria_llm_ctx **out, aria_msg *why)
{
    *out = NULL;
    aria_llm_ctx *c = NULL;
    aria_err e = ARIA_OK;
    if (!x || !x->step)
        e = aria_fail(why, ARIA_ERR_INVALID, "no executor");
    else if (m->layer_first != 0 || m->layer_end != m->hp.n_layer)
        e = aria_fail(why, ARIA_ERR_UNSUPPORTED,
                      "an executor runs whole models, not layers %u-%u of %u", m->layer_first,
                      m->layer_end - 1, m->hp.n_layer);
    else if (n_ctx == 0 || n_ctx > 1u << 20)
        e = aria_fail(why, ARIA_ERR_RANGE, "context length %u out of range", n_ctx);
    else if (!(c = calloc(1, sizeof *c)) ||
             !(c->logits = malloc((size_t)MAX_BATCH * m->hp.n_vocab * sizeof(float))))
        e = aria_fail(why, ARIA_ERR_NOMEM, "out of memory");
    if (e != ARIA_OK) {
        if (x && x->free)
            x->free(x->user);
        if (c)
            free(c);
        return e;
    }
    c->m = m;
    c->n_ctx = n_ctx;
    c->exec = *x;
    *out = c;
    return ARIA_OK;
}

/* forward on the executor: one position at a time. */
static aria_err exec_forward(aria_llm_ctx *c, const int32_t *tokens, uint32_t n, int logits_all,
                             aria_msg *why)
{
    const uint32_t V = c->m->hp.n_vocab;
    if (!tokens)
        return aria_fail(why, ARIA_ERR_INVALID, "a whole model takes tokens");
    for (uint32_t t = 0; t < n; t++) {
        if (c->cancel && __atomic_load_n(c->cancel, __ATOMIC_RELAXED))
            return aria_fail(why, ARIA_ERR_CANCELLED, "cancelled");
        if (tokens[t] < 0 || (uint32_t)tokens[t] >= V)
            return aria_fail(why, ARIA_ERR_RANGE, "token %d is outside the vocabulary of %u",
                             tokens[t], V);
        /* logits_all keeps every position's row (n <= MAX_BATCH then); else
         * row 0 is rewritten and holds the last. */
        float *lg = c->logits + (logits_all ? (size_t)t * V : 0);
        c->n_logits = 0;
        aria_err e = c->exec.step(c->exec.user, tokens[t], c->pos, lg, why);
        if (e != ARIA_OK)
            return e;
        c->pos++;
        c->n_logits = logits_all ? t + 1 : 1;
    }
    return ARIA_OK;
}

uint32_t aria_llm_ctx_pos(const aria_llm_ctx *c) { return c->pos; }
uint32_t aria_llm_ctx_n_ctx(const aria_llm_ctx *c) { return c->n_ctx; }
void aria_llm_ctx_truncate(aria_llm_ctx *c, uint32_t n)
{
    if (n < c->pos)
        c->pos = n;
}
void aria_llm_ctx_set_cancel(aria_llm_ctx *c, const volatile int *cancel) { c->cancel = cancel; }

const float *aria_llm_logits(const aria_llm_ctx *c, uint32_t *n_out)
{
    if (n_out)
        *n_out = c->n_logits;
    return c->logits;
}

/* ---- building blocks --------------------------------------------------- */

/* out[i] = x[i] / rms(x) * w[i] */
static void rmsnorm(float *out, const float *x, const float *w, uint32_t n, float eps)
{
    float ss = 0;
    for (uint32_t i = 0; i < n; i++)
        ss += x[i] * x[i];
    float s = 1.0f / sqrtf(ss / (float)n + eps);
    for (uint32_t i = 0; i < n; i++)
        out[i] = x[i] * s * w[i];
}

/* Up to three matrix products sharing one input: a parallel section. */
typedef struct mm_job {
    const aria_weight *w[3];
    float *y[3];
    int nw;
    const uint8_t *xq;
    size_t xq_stride;
    uint32_t n;
} mm_job;

static void mm_section(void *arg, int ith, int nth)
{
    const mm_job *j = arg;
    for (int i = 0; i < j->nw; i++) {
        const aria_weight *w = j->w[i];
        uint64_t lo, hi;
        aria_split(w->rows, ith, nth, 16, &lo, &hi);
        if (lo >= hi)
            continue;
        aria_mm mm = {.wtype = w->type, .k = w->cols, .w = w->data, .w_stride = w->row_bytes,
                      .r0 = (uint32_t)lo, .r1 = (uint32_t)hi, .n = j->n, .x = j->xq,
                      .x_stride = j->xq_stride, .y = j->y[i], .y_stride = w->rows,
                      .scale = w->scale};
        w->kv->matmul(&mm);
    }
}

/* y_i[n][rows_i] = W_i · x[n][cols] for the given weights (same cols, same
 * activation type). */
static void matmul(aria_llm_ctx *c, const float *x, uint32_t n, const aria_weight *w0,
                   float *y0, const aria_weight *w1, float *y1, const aria_weight *w2, float *y2)
{
    const aria_weight *w = w0;
    for (uint32_t t = 0; t < n; t++)
        w->kv->quantize_row((uint32_t)w->act, x + (size_t)t * w->cols, c->xq + t * c->xq_stride,
                            w->cols);
    mm_job j = {.w = {w0, w1, w2}, .y = {y0, y1, y2}, .nw = 1 + (w1 != NULL) + (w2 != NULL),
                .xq = c->xq, .xq_stride = c->xq_stride, .n = n};
    /* Different types in one group need their own activations. */
    if (w1 && (w1->act != w0->act || w1->kv != w0->kv)) {
        j.nw = 1;
        aria_pool_run(c->pool, mm_section, &j);
        matmul(c, x, n, w1, y1, w2, y2, NULL, NULL);
        return;
    }
    if (w2 && (w2->act != w0->act || w2->kv != w0->kv)) {
        j.nw = 2;
        aria_pool_run(c->pool, mm_section, &j);
        matmul(c, x, n, w2, y2, NULL, NULL, NULL, NULL);
        return;
    }
    aria_pool_run(c->pool, mm_section, &j);
}

/* Rotates pairs of x (one head of hd) for position pos. */
static void rope(float *x, uint32_t pos, const aria_llm *m)
{
    const aria_llm_hparams *hp = &m->hp;
    const uint32_t half = hp->n_rot / 2;
    const float p = (float)pos * hp->rope_freq_scale;
    for (uint32_t i = 0; i < half; i++) {
        float theta = p * powf(hp->rope_base, -2.0f * (float)i / (float)hp->n_rot);
        if (m->rope_freqs)
            theta /= m->rope_freqs[i];
        float cs = cosf(theta), sn = sinf(theta);
        uint32_t a = hp->rope_kind == ARIA_ROPE_NEOX ? i : 2 * i;
        uint32_t b = hp->rope_kind == ARIA_ROPE_NEOX ? i + half : 2 * i + 1;
        float x0 = x[a], x1 = x[b];
        x[a] = x0 * cs - x1 * sn;
        x[b] = x0 * sn + x1 * cs;
    }
}

typedef struct attn_job {
    aria_llm_ctx *c;
    const float *kc, *vc; /* this layer's cache */
    uint32_t n, pos0;
} attn_job;

/* Causal attention for every (token, head) pair, split over threads. */
static void attn_section(void *arg, int ith, int nth)
{
    const attn_job *j = arg;
    aria_llm_ctx *c = j->c;
    const aria_llm_hparams *hp = &c->m->hp;
    const uint32_t hd = hp->head_dim, H = hp->n_head, kvd = hp->n_head_kv * hd;
    const uint32_t group = H / hp->n_head_kv, qd = H * hd;
    const float inv = 1.0f / sqrtf((float)hd);
    float *sc = c->scores + (size_t)ith * c->n_ctx;
    uint64_t lo, hi;
    aria_split((uint64_t)j->n * H, ith, nth, 1, &lo, &hi);
    for (uint64_t w = lo; w < hi; w++) {
        uint32_t t = (uint32_t)(w / H), h = (uint32_t)(w % H), kvh = h / group;
        uint32_t last = j->pos0 + t; /* attends to positions 0..last */
        const float *q = c->q + (size_t)t * qd + (size_t)h * hd;
        float mx = -INFINITY;
        for (uint32_t p = 0; p <= last; p++) {
            const float *k = j->kc + (size_t)p * kvd + (size_t)kvh * hd;
            float s = 0;
            for (uint32_t i = 0; i < hd; i++)
                s += q[i] * k[i];
            sc[p] = s * inv;
            if (sc[p] > mx)
                mx = sc[p];
        }
        float sum = 0;
        for (uint32_t p = 0; p <= last; p++) {
            sc[p] = expf(sc[p] - mx);
            sum += sc[p];
        }
        float *o = c->att + (size_t)t * qd + (size_t)h * hd;
        memset(o, 0, hd * sizeof(float));
        for (uint32_t p = 0; p <= last; p++) {
            const float *v = j->vc + (size_t)p * kvd + (size_t)kvh * hd;
            float a = sc[p] / sum;
            for (uint32_t i = 0; i < hd; i++)
                o[i] += a * v[i];
        }
    }
}

static float silu(float x) { return x / (1.0f + expf(-x)); }

/* ---- the forward pass -------------------------------------------------- */

/* One chunk of n <= MAX_BATCH positions starting at c->pos. */
static aria_err forward_chunk(aria_llm_ctx *c, const int32_t *tokens, const float *embd_in,
                              uint32_t n, float *embd_out, int logits_all, aria_msg *why)
{
    const aria_llm *m = c->m;
    const aria_llm_hparams *hp = &m->hp;
    const uint32_t d = hp->n_embd, hd = hp->head_dim, f = hp->n_ff;
    const uint32_t qd = hp->n_head * hd, kvd = hp->n_head_kv * hd;
    const uint32_t pos0 = c->pos;
    float *x = c->x; /* [n][d] the residual stream */

    if (tokens) {
        for (uint32_t t = 0; t < n; t++) {
            if (tokens[t] < 0 || (uint32_t)tokens[t] >= hp->n_vocab)
                return aria_fail(why, ARIA_ERR_RANGE, "token %d is outside the vocabulary of %u",
                                 tokens[t], hp->n_vocab);
            const uint8_t *row = (const uint8_t *)m->tok_embd.data +
                                 (size_t)tokens[t] * m->tok_embd.row_bytes;
            aria_dequantize_row(m->tok_embd.type, row, x + (size_t)t * d, d);
        }
    } else {
        memcpy(x, embd_in, (size_t)n * d * sizeof(float));
    }

    for (uint32_t l = m->layer_first; l < m->layer_end; l++) {
        const aria_llm_layer *y = &m->layers[l];
        float *kc = c->k + (size_t)(l - m->layer_first) * c->n_ctx * kvd;
        float *vc = c->v + (size_t)(l - m->layer_first) * c->n_ctx * kvd;

        /* attention: xb = norm(x); q, k, v = xb · Wq, Wk, Wv */
        for (uint32_t t = 0; t < n; t++)
            rmsnorm(c->xb + (size_t)t * d, x + (size_t)t * d, y->attn_norm, d, hp->rms_eps);
        matmul(c, c->xb, n, &y->wq, c->q, &y->wk, c->kx, &y->wv, c->vx);
        for (uint32_t t = 0; t < n; t++) {
            float *q = c->q + (size_t)t * qd, *k = c->kx + (size_t)t * kvd;
            float *v = c->vx + (size_t)t * kvd;
            if (y->bq)
                for (uint32_t i = 0; i < qd; i++)
                    q[i] += y->bq[i];
            if (y->bk)
                for (uint32_t i = 0; i < kvd; i++) {
                    k[i] += y->bk[i];
                    v[i] += y->bv[i];
                }
            for (uint32_t h = 0; h < hp->n_head; h++)
                rope(q + (size_t)h * hd, pos0 + t, m);
            for (uint32_t h = 0; h < hp->n_head_kv; h++)
                rope(k + (size_t)h * hd, pos0 + t, m);
            memcpy(kc + (size_t)(pos0 + t) * kvd, k, kvd * sizeof(float));
            memcpy(vc + (size_t)(pos0 + t) * kvd, v, kvd * sizeof(float));
        }
        attn_job aj = {.c = c, .kc = kc, .vc = vc, .n = n, .pos0 = pos0};
        aria_pool_run(c->pool, attn_section, &aj);
        if (y->attn_sub_norm)
            for (uint32_t t = 0; t < n; t++)
                rmsnorm(c->att + (size_t)t * qd, c->att + (size_t)t * qd, y->attn_sub_norm, qd,
                        hp->rms_eps);
        /* x += att · Wo */
        matmul(c, c->att, n, &y->wo, c->xb, NULL, NULL, NULL, NULL);
        for (size_t i = 0; i < (size_t)n * d; i++)
            x[i] += c->xb[i];

        /* feed-forward: x += act(xb · Wgate) * (xb · Wup) · Wdown */
        for (uint32_t t = 0; t < n; t++)
            rmsnorm(c->xb + (size_t)t * d, x + (size_t)t * d, y->ffn_norm, d, hp->rms_eps);
        matmul(c, c->xb, n, &y->w_gate, c->hb, &y->w_up, c->hb2, NULL, NULL);
        for (size_t i = 0; i < (size_t)n * f; i++) {
            float g = c->hb[i];
            if (hp->ffn_act == ARIA_ACT_RELU2) {
                g = g > 0 ? g : 0;
                g = g * g;
            } else {
                g = silu(g);
            }
            c->hb[i] = g * c->hb2[i];
        }
        if (y->ffn_sub_norm)
            for (uint32_t t = 0; t < n; t++)
                rmsnorm(c->hb + (size_t)t * f, c->hb + (size_t)t * f, y->ffn_sub_norm, f,
                        hp->rms_eps);
        matmul(c, c->hb, n, &y->w_down, c->xb, NULL, NULL, NULL, NULL);
        for (size_t i = 0; i < (size_t)n * d; i++)
            x[i] += c->xb[i];
    }
    c->pos += n;

    if (m->layer_end != hp->n_layer) {
        memcpy(embd_out, x, (size_t)n * d * sizeof(float));
        return ARIA_OK;
    }
    /* logits = norm(x) · Wout, for the last position or all of them */
    uint32_t first = logits_all ? 0 : n - 1, cnt = n - first;
    for (uint32_t t = 0; t < cnt; t++)
        rmsnorm(c->xb + (size_t)t * d, x + (size_t)(first + t) * d, m->output_norm, d, hp->rms_eps);
    matmul(c, c->xb, cnt, &m->output, c->logits, NULL, NULL, NULL, NULL);
    c->n_logits = cnt;
    return ARIA_OK;
}

aria_err aria_llm_forward(aria_llm_ctx *c, const int32_t *tokens, const float *embd_in,
                          uint32_t n, float *embd_out, int logits_all, aria_msg *why)
{
    const aria_llm *m = c->m;
    if (n == 0)
        return aria_fail(why, ARIA_ERR_INVALID, "empty batch");
    if (!tokens == !embd_in || (tokens && m->layer_first != 0) ||
        (embd_in && m->layer_first == 0))
        return aria_fail(why, ARIA_ERR_INVALID, "a stage starting at layer %u takes %s",
                         m->layer_first, m->layer_first ? "hidden states" : "tokens");
    if (m->layer_end != m->hp.n_layer && !embd_out)
        return aria_fail(why, ARIA_ERR_INVALID, "a middle stage needs an output buffer");
    if (c->pos + n > c->n_ctx)
        return aria_fail(why, ARIA_ERR_CONTEXT, "the context of %u positions is full (%u used, "
                         "%u more asked)", c->n_ctx, c->pos, n);
    if (logits_all && n > MAX_BATCH && m->layer_end == m->hp.n_layer)
        return aria_fail(why, ARIA_ERR_RANGE, "logits of every position are kept for at most %d "
                         "positions per call", MAX_BATCH);
    if (c->exec.step)
        return exec_forward(c, tokens, n, logits_all, why);
    const uint32_t d = m->hp.n_embd;
    for (uint32_t done = 0; done < n;) {
        if (c->cancel && __atomic_load_n(c->cancel, __ATOMIC_RELAXED))
            return aria_fail(why, ARIA_ERR_CANCELLED, "cancelled");
        uint32_t k = n - done < MAX_BATCH ? n - done : MAX_BATCH;
        aria_err e = forward_chunk(c, tokens ? tokens + done : NULL,
                                   embd_in ? embd_in + (size_t)done * d : NULL, k,
                                   embd_out ? embd_out + (size_t)done * d : NULL, logits_all, why);
        if (e != ARIA_OK)
            return e;
        done += k;
    }
    return ARIA_OK;
}
