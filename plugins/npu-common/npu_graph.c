/* npu_graph.c — the walk of a llama-family model into a graph (npu_graph.h).
 *
 * Per layer, with x [1, n_embd] the residual stream:
 *   h = x / sqrt(mean(x^2) + eps) * attn_norm
 *   q, k, v = h Wq^T (+bq), h Wk^T (+bk), h Wv^T (+bv)
 *   q, k rotated: r = x * cos[pos] + x[perm] * sin[pos], with tables built
 *     here exactly as the runtime's rope computes them (normal or NEOX pairs,
 *     frequency scaling and llama3's divisors)
 *   scores = (q [Hkv, group, hd]) (concat(past_k, k) [Hkv, C+1, hd])^T / sqrt(hd)
 *            + mask
 *   o = softmax(scores) concat(past_v, v) -> [1, H*hd]; x += o Wo^T
 *   h = rmsnorm(x) * ffn_norm; x += (silu(h Wg^T) * h Wu^T) Wd^T
 * then logits = rmsnorm(x) * output_norm Wout^T (tied: the embeddings). */
#include "npu_graph.h"

#include <aria/quant.h>

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct walk {
    const npu_builder *bd;
    int failed; /* a shape bug: msg says which */
    char msg[ARIA_MSG_MAX];
} walk;

static void bug(walk *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void bug(walk *w, const char *fmt, ...)
{
    if (w->failed)
        return;
    w->failed = 1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(w->msg, sizeof w->msg, fmt, ap);
    va_end(ap);
}

static int dead(const walk *w)
{
    return w->failed || w->bd->failed(w->bd->b);
}

size_t npu_et_size(int et)
{
    static const size_t size[] = {[NPU_F32] = 4, [NPU_F16] = 2, [NPU_I8] = 1, [NPU_I32] = 4,
                                  [NPU_I64] = 8};
    return et >= 0 && et <= NPU_I64 ? size[et] : 0;
}

void npu_graph_name(char *buf, size_t cap, const char *what, uint32_t layer)
{
    snprintf(buf, cap, "%s.%u", what, layer);
}

static int64_t count(int rank, const int64_t *d)
{
    int64_t n = 1;
    for (int i = 0; i < rank; i++)
        n *= d[i];
    return n;
}

/* ---- operations, with their shapes ------------------------------------------ */

static npu_val emit(walk *w, npu_op op, const npu_val *in, int n_in, const npu_val *out,
                    const char *name)
{
    npu_node n = {.op = op, .in = in, .n_in = n_in, .name = name};
    return w->bd->node(w->bd->b, &n, out);
}

static npu_val binary(walk *w, npu_op op, npu_val a, npu_val c, const char *name)
{
    npu_val o = {.et = a.et, .rank = a.rank > c.rank ? a.rank : c.rank};
    if (a.et != c.et)
        bug(w, "operation %d on element types %d and %d", (int)op, a.et, c.et);
    for (int i = 0; i < o.rank; i++) {
        int ia = i - (o.rank - a.rank), ic = i - (o.rank - c.rank);
        int64_t x = ia >= 0 ? a.d[ia] : 1, y = ic >= 0 ? c.d[ic] : 1;
        if (x != y && x != 1 && y != 1)
            bug(w, "operation %d: dimension %d is %lld and %lld", (int)op, i, (long long)x,
                (long long)y);
        o.d[i] = x == 1 ? y : x;
    }
    npu_val in[2] = {a, c};
    return emit(w, op, in, 2, &o, name);
}

static npu_val unary(walk *w, npu_op op, npu_val a, const char *name)
{
    return emit(w, op, &a, 1, &a, name);
}

static npu_val matmul(walk *w, npu_val a, npu_val c, int tb, const char *name)
{
    npu_val o = {.et = a.et, .rank = a.rank > c.rank ? a.rank : c.rank};
    if (a.rank < 2 || c.rank < 2 || a.et != c.et) {
        bug(w, "MatMul of rank %d and %d", a.rank, c.rank);
        return a;
    }
    int64_t K = a.d[a.rank - 1], K2 = tb ? c.d[c.rank - 1] : c.d[c.rank - 2];
    if (K != K2)
        bug(w, "MatMul: inner dimensions %lld and %lld", (long long)K, (long long)K2);
    for (int i = 0; i < o.rank - 2; i++) {
        int ia = i - (o.rank - a.rank), ic = i - (o.rank - c.rank);
        int64_t x = ia >= 0 ? a.d[ia] : 1, y = ic >= 0 ? c.d[ic] : 1;
        if (x != y && x != 1 && y != 1)
            bug(w, "MatMul: batch dimension %d is %lld and %lld", i, (long long)x, (long long)y);
        o.d[i] = x == 1 ? y : x;
    }
    o.d[o.rank - 2] = a.d[a.rank - 2];
    o.d[o.rank - 1] = tb ? c.d[c.rank - 2] : c.d[c.rank - 1];
    npu_val in[2] = {a, c};
    npu_node n = {.op = NPU_MATMUL, .in = in, .n_in = 2, .transpose_b = tb, .name = name};
    return w->bd->node(w->bd->b, &n, &o);
}

static npu_val gather(walk *w, npu_val data, npu_val idx, int axis, const char *name)
{
    npu_val o = {.et = data.et};
    if (axis < 0 || axis >= data.rank || data.rank - 1 + idx.rank > NPU_MAX_RANK) {
        bug(w, "Gather on axis %d of rank %d", axis, data.rank);
        return data;
    }
    for (int i = 0; i < axis; i++)
        o.d[o.rank++] = data.d[i];
    for (int i = 0; i < idx.rank; i++)
        o.d[o.rank++] = idx.d[i];
    for (int i = axis + 1; i < data.rank; i++)
        o.d[o.rank++] = data.d[i];
    npu_val in[2] = {data, idx};
    npu_node n = {.op = NPU_GATHER, .in = in, .n_in = 2, .axis = axis, .name = name};
    return w->bd->node(w->bd->b, &n, &o);
}

static npu_val reshape(walk *w, npu_val x, int rank, const int64_t *d, const char *name,
                       const char *output)
{
    npu_val o = {.et = x.et, .rank = rank};
    memcpy(o.d, d, (size_t)rank * sizeof *d);
    if (count(rank, d) != count(x.rank, x.d))
        bug(w, "Reshape of %lld elements to %lld", (long long)count(x.rank, x.d),
            (long long)count(rank, d));
    npu_node n = {.op = NPU_RESHAPE, .in = &x, .n_in = 1, .name = name, .output = output};
    return w->bd->node(w->bd->b, &n, &o);
}

static npu_val concat(walk *w, npu_val a, npu_val c, int axis)
{
    npu_val o = a;
    if (a.rank != c.rank || axis < 0 || axis >= a.rank || a.et != c.et) {
        bug(w, "Concat of rank %d and %d", a.rank, c.rank);
        return a;
    }
    for (int i = 0; i < a.rank; i++)
        if (i != axis && a.d[i] != c.d[i])
            bug(w, "Concat: dimension %d is %lld and %lld", i, (long long)a.d[i],
                (long long)c.d[i]);
    o.d[axis] = a.d[axis] + c.d[axis];
    npu_val in[2] = {a, c};
    npu_node n = {.op = NPU_CONCAT, .in = in, .n_in = 2, .axis = axis};
    return w->bd->node(w->bd->b, &n, &o);
}

static npu_val softmax(walk *w, npu_val x, int axis)
{
    npu_node n = {.op = NPU_SOFTMAX, .in = &x, .n_in = 1, .axis = axis};
    return w->bd->node(w->bd->b, &n, &x);
}

static npu_val mean_last(walk *w, npu_val x)
{
    npu_val o = x;
    o.d[x.rank - 1] = 1;
    return emit(w, NPU_MEAN_LAST, &x, 1, &o, NULL);
}

/* ---- constants ---------------------------------------------------------------- */

static npu_val constant(walk *w, const char *name, int et, int rank, const int64_t *d,
                        const void *src)
{
    void *p = NULL;
    npu_val v = w->bd->constant(w->bd->b, name, et, rank, d, &p);
    if (p && src)
        memcpy(p, src, (size_t)count(rank, d) * npu_et_size(et));
    return v;
}

static npu_val vec_f32(walk *w, const char *name, const float *x, uint32_t n)
{
    int64_t d[1] = {n};
    return constant(w, name, NPU_F32, 1, d, x);
}

/* An f32 constant [rows, cols] of the weight, dequantized: the default. */
static npu_val weight_f32(walk *w, const aria_weight *m, const char *name)
{
    const int64_t rc[2] = {m->rows, m->cols};
    void *p = NULL;
    npu_val v = w->bd->constant(w->bd->b, name, NPU_F32, 2, rc, &p);
    if (!p)
        return v;
    const uint8_t *src = m->data;
    for (uint32_t r = 0; r < m->rows; r++) {
        const uint8_t *s = src + (size_t)r * m->row_bytes;
        float *o = (float *)p + (size_t)r * m->cols;
        if (m->type == ARIA_T_I2_S) {
            aria_i2s_dequantize_row(s, m->scale, o, m->cols);
        } else if (aria_dequantize_row(m->type, s, o, m->cols) != ARIA_OK) {
            bug(w, "no dequantization for weight type %u of %s", m->type, name);
            break;
        }
    }
    return v;
}

static npu_val weight(walk *w, const aria_weight *m, const char *fmt, int layer)
{
    char name[64];
    if (layer >= 0)
        snprintf(name, sizeof name, "blk.%d.%s", layer, fmt);
    else
        snprintf(name, sizeof name, "%s", fmt);
    return w->bd->weight ? w->bd->weight(w->bd->b, m, name) : weight_f32(w, m, name);
}

/* x / sqrt(mean(x^2) + eps) * g, over the last axis */
static npu_val rmsnorm(walk *w, npu_val x, const float *g, uint32_t n, npu_val eps,
                       const char *what, uint32_t layer)
{
    char name[64];
    npu_val ms = mean_last(w, binary(w, NPU_MUL, x, x, NULL));
    npu_val r = unary(w, NPU_SQRT, binary(w, NPU_ADD, ms, eps, NULL), NULL);
    npu_val xn = binary(w, NPU_DIV, x, r, NULL);
    snprintf(name, sizeof name, "blk.%u.%s", layer, what);
    npu_val gv = vec_f32(w, NULL, g, n);
    return binary(w, NPU_MUL, xn, gv, name);
}

/* x [H, hd] rotated at the position: x * cos + x[perm] * sin_signed */
static npu_val rope(walk *w, npu_val x, npu_val cs, npu_val sn, npu_val perm)
{
    npu_val sw = gather(w, x, perm, 1, NULL);
    return binary(w, NPU_ADD, binary(w, NPU_MUL, x, cs, NULL), binary(w, NPU_MUL, sw, sn, NULL),
                  NULL);
}

/* The tables of every position, as the runtime's rope computes them. */
static int rope_tables(walk *w, const aria_llm *m, uint32_t n_ctx, npu_val *cs_tab,
                       npu_val *sn_tab, npu_val *perm)
{
    const aria_llm_hparams *hp = &m->hp;
    const uint32_t hd = hp->head_dim, half = hp->n_rot / 2;
    const int64_t td[2] = {n_ctx, hd}, pd[1] = {hd};
    float *cs = malloc((size_t)n_ctx * hd * sizeof *cs), *sn = malloc((size_t)n_ctx * hd * sizeof *sn);
    int64_t *pm = malloc(hd * sizeof *pm);
    if (!cs || !sn || !pm) {
        free(cs), free(sn), free(pm);
        return -1;
    }
    for (uint32_t j = 0; j < hd; j++)
        pm[j] = j;
    for (uint32_t p = 0; p < n_ctx; p++) {
        float *c = cs + (size_t)p * hd, *s = sn + (size_t)p * hd;
        for (uint32_t j = 0; j < hd; j++)
            c[j] = 1, s[j] = 0;
        const float pf = (float)p * hp->rope_freq_scale;
        for (uint32_t i = 0; i < half; i++) {
            float theta = pf * powf(hp->rope_base, -2.0f * (float)i / (float)hp->n_rot);
            if (m->rope_freqs)
                theta /= m->rope_freqs[i];
            uint32_t a = hp->rope_kind == ARIA_ROPE_NEOX ? i : 2 * i;
            uint32_t z = hp->rope_kind == ARIA_ROPE_NEOX ? i + half : 2 * i + 1;
            c[a] = c[z] = cosf(theta);
            s[a] = -sinf(theta);
            s[z] = sinf(theta);
            pm[a] = z;
            pm[z] = a;
        }
    }
    *cs_tab = constant(w, "rope.cos", NPU_F32, 2, td, cs);
    *sn_tab = constant(w, "rope.sin", NPU_F32, 2, td, sn);
    void *p = NULL;
    *perm = w->bd->constant(w->bd->b, "rope.perm", w->bd->idx_type, 1, pd, &p);
    for (uint32_t j = 0; p && j < hd; j++) {
        if (w->bd->idx_type == NPU_I64)
            ((int64_t *)p)[j] = pm[j];
        else
            ((int32_t *)p)[j] = (int32_t)pm[j];
    }
    free(cs), free(sn), free(pm);
    return 0;
}

static void layers(walk *w, const aria_llm *m, uint32_t n_ctx)
{
    const aria_llm_hparams *hp = &m->hp;
    const int64_t H = hp->n_head, Hkv = hp->n_head_kv, hd = hp->head_dim;
    const int64_t group = H / Hkv, qd = H * hd, C = n_ctx;
    const npu_builder *bd = w->bd;
    char nm[64], nm2[64];

    const int64_t one[1] = {1}, mask_d[2] = {1, C + 1}, past_d[3] = {Hkv, C, hd};
    npu_val ids = bd->input(bd->b, "input_ids", bd->idx_type, 1, one);
    npu_val pos = bd->input(bd->b, "position", bd->idx_type, 1, one);
    npu_val mask = bd->input(bd->b, "attention_mask", NPU_F32, 2, mask_d);
    npu_val *past = malloc((size_t)hp->n_layer * 2 * sizeof *past);
    if (!past) {
        bug(w, "out of memory");
        return;
    }
    for (uint32_t l = 0; l < hp->n_layer; l++) {
        npu_graph_name(nm, sizeof nm, "past_key", l);
        past[2 * l] = bd->input(bd->b, nm, NPU_F32, 3, past_d);
        npu_graph_name(nm, sizeof nm, "past_value", l);
        past[2 * l + 1] = bd->input(bd->b, nm, NPU_F32, 3, past_d);
    }

    npu_val cs_tab, sn_tab, perm;
    if (rope_tables(w, m, n_ctx, &cs_tab, &sn_tab, &perm) != 0) {
        bug(w, "out of memory");
        free(past);
        return;
    }
    npu_val cs = gather(w, cs_tab, pos, 0, "rope.cos_at"); /* [1, hd] */
    npu_val sn = gather(w, sn_tab, pos, 0, "rope.sin_at");
    float epsv = hp->rms_eps, invv = 1.0f / sqrtf((float)hd);
    npu_val eps = constant(w, "rms_eps", NPU_F32, 0, NULL, &epsv);
    npu_val inv = constant(w, "attn_scale", NPU_F32, 0, NULL, &invv);

    npu_val embd = weight(w, &m->tok_embd, "token_embd", -1); /* [V, d] */
    npu_val x = gather(w, embd, ids, 0, "embed");              /* [1, d] */

    for (uint32_t l = 0; l < hp->n_layer && !dead(w); l++) {
        const aria_llm_layer *y = &m->layers[l];
        npu_val h = rmsnorm(w, x, y->attn_norm, hp->n_embd, eps, "attn_norm", l);
        snprintf(nm, sizeof nm, "blk.%u.q", l);
        npu_val q = matmul(w, h, weight(w, &y->wq, "attn_q", (int)l), 1, nm);
        snprintf(nm, sizeof nm, "blk.%u.k", l);
        npu_val k = matmul(w, h, weight(w, &y->wk, "attn_k", (int)l), 1, nm);
        snprintf(nm, sizeof nm, "blk.%u.v", l);
        npu_val v = matmul(w, h, weight(w, &y->wv, "attn_v", (int)l), 1, nm);
        if (y->bq) {
            q = binary(w, NPU_ADD, q, vec_f32(w, NULL, y->bq, (uint32_t)qd), NULL);
            k = binary(w, NPU_ADD, k, vec_f32(w, NULL, y->bk, (uint32_t)(Hkv * hd)), NULL);
            v = binary(w, NPU_ADD, v, vec_f32(w, NULL, y->bv, (uint32_t)(Hkv * hd)), NULL);
        }
        const int64_t qh[2] = {H, hd}, kh[2] = {Hkv, hd}, q3[3] = {Hkv, group, hd};
        const int64_t k3[3] = {Hkv, 1, hd}, flat[2] = {1, qd};
        npu_val qr = rope(w, reshape(w, q, 2, qh, NULL, NULL), cs, sn, perm);
        npu_val kr = rope(w, reshape(w, k, 2, kh, NULL, NULL), cs, sn, perm);
        npu_graph_name(nm, sizeof nm, "present_key", l);
        npu_graph_name(nm2, sizeof nm2, "present_value", l);
        npu_val kn = reshape(w, kr, 3, k3, NULL, nm);
        npu_val vn = reshape(w, v, 3, k3, NULL, nm2);
        npu_val keys = concat(w, past[2 * l], kn, 1);     /* [Hkv, C+1, hd] */
        npu_val vals = concat(w, past[2 * l + 1], vn, 1); /* [Hkv, C+1, hd] */
        npu_val s = matmul(w, reshape(w, qr, 3, q3, NULL, NULL), keys, 1, NULL);
        s = binary(w, NPU_ADD, binary(w, NPU_MUL, s, inv, NULL), mask, NULL);
        npu_val o = matmul(w, softmax(w, s, 2), vals, 0, NULL); /* [Hkv, group, hd] */
        snprintf(nm, sizeof nm, "blk.%u.attn_out", l);
        npu_val a = matmul(w, reshape(w, o, 2, flat, NULL, NULL),
                           weight(w, &y->wo, "attn_output", (int)l), 1, nm);
        x = binary(w, NPU_ADD, x, a, NULL);

        h = rmsnorm(w, x, y->ffn_norm, hp->n_embd, eps, "ffn_norm", l);
        npu_val g = matmul(w, h, weight(w, &y->w_gate, "ffn_gate", (int)l), 1, NULL);
        npu_val u = matmul(w, h, weight(w, &y->w_up, "ffn_up", (int)l), 1, NULL);
        npu_val act = binary(w, NPU_MUL, unary(w, NPU_SILU, g, NULL), u, NULL);
        snprintf(nm, sizeof nm, "blk.%u.ffn_out", l);
        npu_val dn = matmul(w, act, weight(w, &y->w_down, "ffn_down", (int)l), 1, nm);
        x = binary(w, NPU_ADD, x, dn, NULL);
    }
    free(past);
    if (dead(w))
        return;
    npu_val h = rmsnorm(w, x, m->output_norm, hp->n_embd, eps, "output_norm", hp->n_layer);
    npu_val wout = m->output.data == m->tok_embd.data && m->output.type == m->tok_embd.type
                       ? embd
                       : weight(w, &m->output, "output", -1);
    npu_val in[2] = {h, wout};
    npu_val o = {.et = NPU_F32, .rank = 2, .d = {1, hp->n_vocab}};
    npu_node n = {.op = NPU_MATMUL, .in = in, .n_in = 2, .transpose_b = 1, .name = "lm_head",
                  .output = "logits"};
    if (wout.rank != 2 || wout.d[0] != hp->n_vocab || wout.d[1] != h.d[1])
        bug(w, "output head of shape [%lld,%lld]", (long long)wout.d[0], (long long)wout.d[1]);
    bd->node(bd->b, &n, &o);
}

aria_err npu_graph_walk(const aria_llm *m, uint32_t n_ctx, const npu_builder *bd, aria_msg *why)
{
    const aria_llm_hparams *hp = &m->hp;
    if (m->layer_first != 0 || m->layer_end != hp->n_layer)
        return aria_fail(why, ARIA_ERR_UNSUPPORTED,
                         "the NPU graph holds whole models, not layers %u-%u of %u",
                         m->layer_first, m->layer_end - 1, hp->n_layer);
    if (hp->ffn_act != ARIA_ACT_SILU || hp->has_sub_norms)
        return aria_fail(why, ARIA_ERR_UNSUPPORTED,
                         "%s: BitNet's sub-norms and squared-ReLU feed-forward are not in the "
                         "NPU graph yet",
                         hp->arch);
    if (n_ctx == 0 || n_ctx > 1u << 16)
        return aria_fail(why, ARIA_ERR_RANGE, "a context of %u positions for the NPU graph",
                         n_ctx);
    walk w = {.bd = bd};
    layers(&w, m, n_ctx);
    if (w.failed)
        return aria_fail(why, ARIA_ERR_INTERNAL, "building the NPU graph: %s", w.msg);
    if (bd->failed(bd->b)) {
        if (why)
            why->text[0] = '\0';
        return ARIA_ERR_INTERNAL;
    }
    return ARIA_OK;
}

/* ---- the caller's KV cache ---------------------------------------------------- */

aria_err npu_kv_init(npu_kv *k, uint32_t C, uint32_t L, uint32_t Hkv, uint32_t hd, aria_msg *why)
{
    memset(k, 0, sizeof *k);
    k->C = C, k->L = L, k->Hkv = Hkv, k->hd = hd;
    /* Page-aligned: a runtime that shares host memory with its device (an
     * Intel NPU imports it through Level Zero) can bind these without a copy. */
    const size_t page = 4096, mb = ((C + 1) * sizeof(float) + page - 1) / page * page;
    const size_t plane = ((size_t)Hkv * C * hd * sizeof(float) + page - 1) / page * page;
    k->stride = plane / sizeof(float);
    const size_t kb = (size_t)L * 2 * plane;
    void *m = NULL, *kv = NULL;
    if (posix_memalign(&m, page, mb) == 0)
        k->mask = memset(m, 0, mb);
    if (posix_memalign(&kv, page, kb) == 0)
        k->kv = memset(kv, 0, kb);
    if (!k->mask || !k->kv) {
        npu_kv_free(k);
        return aria_fail(why, ARIA_ERR_NOMEM, "out of memory for a KV cache of %u positions", C);
    }
    return ARIA_OK;
}

void npu_kv_free(npu_kv *k)
{
    free(k->mask);
    free(k->kv);
    k->mask = NULL;
    k->kv = NULL;
}

float *npu_kv_past(const npu_kv *k, uint32_t l, int v)
{
    return k->kv + ((size_t)l * 2 + (size_t)v) * k->stride;
}

void npu_kv_begin(npu_kv *k, int32_t token, uint32_t pos)
{
    k->token64 = k->token32 = token;
    k->pos64 = k->pos32 = (int32_t)pos;
    for (uint32_t j = 0; j < k->C; j++)
        k->mask[j] = j < pos ? 0.0f : -INFINITY;
    k->mask[k->C] = 0.0f;
}

void npu_kv_store(npu_kv *k, uint32_t pos, const float *const *present)
{
    const size_t hd = k->hd, plane = (size_t)k->C * hd;
    for (uint32_t l = 0; l < k->L; l++)
        for (int v = 0; v < 2; v++) {
            float *dst = npu_kv_past(k, l, v);
            const float *src = present[2 * l + (size_t)v];
            for (uint32_t h = 0; h < k->Hkv; h++)
                memcpy(dst + h * plane + (size_t)pos * hd, src + h * hd, hd * sizeof(float));
        }
}
