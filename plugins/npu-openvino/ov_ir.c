/* ov_ir.c — the OpenVINO IR of a llama-family model (see ov_ir.h).
 *
 * The XML is written with libxml2's text writer; every layer's ports carry
 * their dimensions, which the builder infers itself as it goes (the IR
 * reader checks them against its own inference, so a disagreement here is
 * a bug of this file and fails the build of the graph, not the runtime).
 *
 * Operations used (opset versions as OpenVINO's IR names them): Parameter,
 * Const, Convert, Result (opset1); Gather (opset8); MatMul, Add, Multiply,
 * Divide, Sqrt, ReduceMean, Reshape, Concat (opset1); SoftMax (opset8);
 * Swish (opset4). */
#include "ov_ir.h"

#include <aria/quant.h>

#include <libxml/xmlwriter.h>

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { ET_F32, ET_F16, ET_I8, ET_I64 };

static const struct {
    const char *et, *prec;
    size_t size;
} ovir_et[] = {
    [ET_F32] = {"f32", "FP32", 4},
    [ET_F16] = {"f16", "FP16", 2},
    [ET_I8] = {"i8", "I8", 1},
    [ET_I64] = {"i64", "I64", 8},
};

#define MAX_RANK 4

/* A value: output port `port` of layer `layer`. */
typedef struct val {
    int layer, port, et, rank;
    int64_t d[MAX_RANK];
} val;

typedef struct edge {
    int fl, fp, tl, tp;
} edge;

typedef struct bld {
    xmlTextWriterPtr w;
    edge *edges;
    size_t n_edges, cap_edges;
    uint8_t *blob;
    size_t blob_len, blob_cap;
    int next_id;
    int failed;         /* first failure is in msg */
    char msg[ARIA_MSG_MAX];
    char name[96];      /* the next layer's name ("" = type_id) */
    const char *names;  /* the next layer's output tensor names, or NULL */
} bld;

static void fail(bld *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(bld *b, const char *fmt, ...)
{
    if (b->failed)
        return;
    b->failed = 1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b->msg, sizeof b->msg, fmt, ap);
    va_end(ap);
}

/* libxml2 writer calls return < 0 on failure. */
static void xw(bld *b, int rc)
{
    if (rc < 0)
        fail(b, "writing the IR XML failed");
}

static void attr(bld *b, const char *k, const char *v)
{
    xw(b, xmlTextWriterWriteAttribute(b->w, BAD_CAST k, BAD_CAST v));
}

static void attr_i(bld *b, const char *k, long long v)
{
    xw(b, xmlTextWriterWriteFormatAttribute(b->w, BAD_CAST k, "%lld", v));
}

static void set_name(bld *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_name(bld *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b->name, sizeof b->name, fmt, ap);
    va_end(ap);
}

static int64_t numel(const val *v)
{
    int64_t n = 1;
    for (int i = 0; i < v->rank; i++)
        n *= v->d[i];
    return n;
}

static void dims(bld *b, int rank, const int64_t *d)
{
    for (int i = 0; i < rank; i++)
        xw(b, xmlTextWriterWriteFormatElement(b->w, BAD_CAST "dim", "%lld", (long long)d[i]));
}

static void shape_str(char *buf, size_t cap, int rank, const int64_t *d)
{
    size_t l = 0;
    buf[0] = '\0';
    for (int i = 0; i < rank && l < cap; i++)
        l += (size_t)snprintf(buf + l, cap - l, "%s%lld", i ? "," : "", (long long)d[i]);
}

static void add_edge(bld *b, const val *from, int to_layer, int to_port)
{
    if (b->n_edges == b->cap_edges) {
        size_t cap = b->cap_edges ? b->cap_edges * 2 : 256;
        edge *e = realloc(b->edges, cap * sizeof *e);
        if (!e) {
            fail(b, "out of memory");
            return;
        }
        b->edges = e;
        b->cap_edges = cap;
    }
    b->edges[b->n_edges++] = (edge){from->layer, from->port, to_layer, to_port};
}

/* data: NULL-terminated key, value pairs for <data>, or NULL. */
static val node(bld *b, const char *type, const char *version, const char *const *data,
                const val *in, int n_in, int et, int rank, const int64_t *d)
{
    val out = {.layer = b->next_id++, .port = n_in, .et = et, .rank = rank};
    if (rank > MAX_RANK) {
        fail(b, "rank %d", rank);
        rank = out.rank = 0;
    }
    if (rank)
        memcpy(out.d, d, (size_t)rank * sizeof *d);
    xw(b, xmlTextWriterStartElement(b->w, BAD_CAST "layer"));
    attr_i(b, "id", out.layer);
    if (b->name[0]) {
        attr(b, "name", b->name);
    } else {
        char nm[64];
        snprintf(nm, sizeof nm, "%s_%d", type, out.layer);
        attr(b, "name", nm);
    }
    attr(b, "type", type);
    attr(b, "version", version);
    b->name[0] = '\0';
    if (data) {
        xw(b, xmlTextWriterStartElement(b->w, BAD_CAST "data"));
        for (size_t i = 0; data[i]; i += 2)
            attr(b, data[i], data[i + 1]);
        xw(b, xmlTextWriterEndElement(b->w));
    }
    if (n_in) {
        xw(b, xmlTextWriterStartElement(b->w, BAD_CAST "input"));
        for (int i = 0; i < n_in; i++) {
            xw(b, xmlTextWriterStartElement(b->w, BAD_CAST "port"));
            attr_i(b, "id", i);
            attr(b, "precision", ovir_et[in[i].et].prec);
            dims(b, in[i].rank, in[i].d);
            xw(b, xmlTextWriterEndElement(b->w));
            add_edge(b, &in[i], out.layer, i);
        }
        xw(b, xmlTextWriterEndElement(b->w));
    }
    if (et >= 0) {
        xw(b, xmlTextWriterStartElement(b->w, BAD_CAST "output"));
        xw(b, xmlTextWriterStartElement(b->w, BAD_CAST "port"));
        attr_i(b, "id", n_in);
        attr(b, "precision", ovir_et[et].prec);
        if (b->names)
            attr(b, "names", b->names);
        dims(b, rank, d);
        xw(b, xmlTextWriterEndElement(b->w));
        xw(b, xmlTextWriterEndElement(b->w));
    }
    b->names = NULL;
    xw(b, xmlTextWriterEndElement(b->w));
    return out;
}

/* ---- constants ------------------------------------------------------------ */

static void *blob_take(bld *b, size_t size, size_t *offset)
{
    size_t off = (b->blob_len + 63) & ~(size_t)63;
    if (off + size > b->blob_cap) {
        size_t cap = b->blob_cap ? b->blob_cap : 1 << 20;
        while (cap < off + size)
            cap *= 2;
        void *nb = NULL;
        if (posix_memalign(&nb, 64, cap) != 0) {
            fail(b, "out of memory for %zu bytes of weights", cap);
            return NULL;
        }
        if (b->blob_len)
            memcpy(nb, b->blob, b->blob_len);
        free(b->blob);
        b->blob = nb;
        b->blob_cap = cap;
    }
    memset(b->blob + b->blob_len, 0, off - b->blob_len);
    b->blob_len = off + size;
    *offset = off;
    return b->blob + off;
}

/* A Const of the given shape; *data (valid until the next constant) is
 * where its bytes go. */
static val cnst(bld *b, int et, int rank, const int64_t *d, void **data)
{
    int64_t n = 1;
    for (int i = 0; i < rank; i++)
        n *= d[i];
    size_t size = (size_t)n * ovir_et[et].size, off = 0;
    *data = blob_take(b, size, &off);
    if (!*data) {
        static uint8_t sink[64];
        *data = sink; /* failed already; let the caller write somewhere */
        size = 0;
    }
    char shape[96], offs[24], sizes[24];
    shape_str(shape, sizeof shape, rank, d);
    snprintf(offs, sizeof offs, "%zu", off);
    snprintf(sizes, sizeof sizes, "%zu", size);
    const char *data_attrs[] = {"element_type", ovir_et[et].et, "shape", shape, "offset", offs,
                                "size", sizes, NULL};
    return node(b, "Const", "opset1", data_attrs, NULL, 0, et, rank, d);
}

static val cnst_copy(bld *b, int et, int rank, const int64_t *d, const void *src)
{
    void *p;
    val v = cnst(b, et, rank, d, &p);
    if (!b->failed)
        memcpy(p, src, (size_t)numel(&v) * ovir_et[et].size);
    return v;
}

/* A constant operand made on the way to another layer: the name and tensor
 * names waiting for that layer stay for it. */
static val aux_cnst(bld *b, int et, int rank, const int64_t *d, const void *src)
{
    char name[sizeof b->name];
    const char *names = b->names;
    memcpy(name, b->name, sizeof name);
    b->name[0] = '\0';
    b->names = NULL;
    val v = cnst_copy(b, et, rank, d, src);
    memcpy(b->name, name, sizeof name);
    b->names = names;
    return v;
}

static val f32_scalar(bld *b, float x)
{
    return aux_cnst(b, ET_F32, 0, NULL, &x);
}

static val i64_vec(bld *b, int n, const int64_t *x)
{
    int64_t d[1] = {n};
    return aux_cnst(b, ET_I64, 1, d, x);
}

static val i64_scalar(bld *b, int64_t x)
{
    return aux_cnst(b, ET_I64, 0, NULL, &x);
}

static val param(bld *b, const char *name, int et, int rank, const int64_t *d)
{
    char shape[96];
    shape_str(shape, sizeof shape, rank, d);
    const char *data_attrs[] = {"shape", shape, "element_type", ovir_et[et].et, NULL};
    set_name(b, "%s", name);
    b->names = name;
    return node(b, "Parameter", "opset1", data_attrs, NULL, 0, et, rank, d);
}

/* ---- operations ----------------------------------------------------------- */

static val convert(bld *b, val x, int et)
{
    const char *data_attrs[] = {"destination_type", ovir_et[et].et, NULL};
    return node(b, "Convert", "opset1", data_attrs, &x, 1, et, x.rank, x.d);
}

/* numpy broadcasting of a and c (right-aligned; equal or 1) */
static val binop(bld *b, const char *type, val a, val c)
{
    if (a.et != c.et)
        fail(b, "%s of %s and %s", type, ovir_et[a.et].et, ovir_et[c.et].et);
    int rank = a.rank > c.rank ? a.rank : c.rank;
    int64_t d[MAX_RANK];
    for (int i = 0; i < rank; i++) {
        int ia = i - (rank - a.rank), ic = i - (rank - c.rank);
        int64_t x = ia >= 0 ? a.d[ia] : 1, y = ic >= 0 ? c.d[ic] : 1;
        if (x != y && x != 1 && y != 1)
            fail(b, "%s: dimension %d is %lld and %lld", type, i, (long long)x, (long long)y);
        d[i] = x == 1 ? y : x;
    }
    const char *data_attrs[] = {"auto_broadcast", "numpy", NULL};
    val in[2] = {a, c};
    return node(b, type, "opset1", data_attrs, in, 2, a.et, rank, d);
}

static val unop(bld *b, const char *type, const char *version, val x)
{
    return node(b, type, version, NULL, &x, 1, x.et, x.rank, x.d);
}

/* a [.., M, K] · c [.., K, N] (c given as [.., N, K] with tc) */
static val matmul(bld *b, val a, val c, int tc)
{
    if (a.rank < 2 || c.rank < 2 || a.et != c.et) {
        fail(b, "MatMul of rank %d and %d", a.rank, c.rank);
        return a;
    }
    int64_t M = a.d[a.rank - 2], K = a.d[a.rank - 1];
    int64_t K2 = tc ? c.d[c.rank - 1] : c.d[c.rank - 2], N = tc ? c.d[c.rank - 2] : c.d[c.rank - 1];
    if (K != K2)
        fail(b, "MatMul: inner dimensions %lld and %lld", (long long)K, (long long)K2);
    int rank = a.rank > c.rank ? a.rank : c.rank;
    int64_t d[MAX_RANK];
    for (int i = 0; i < rank - 2; i++) {
        int ia = i - (rank - a.rank), ic = i - (rank - c.rank);
        int64_t x = ia >= 0 ? a.d[ia] : 1, y = ic >= 0 ? c.d[ic] : 1;
        if (x != y && x != 1 && y != 1)
            fail(b, "MatMul: batch dimension %d is %lld and %lld", i, (long long)x, (long long)y);
        d[i] = x == 1 ? y : x;
    }
    d[rank - 2] = M;
    d[rank - 1] = N;
    const char *data_attrs[] = {"transpose_a", "false", "transpose_b", tc ? "true" : "false",
                                NULL};
    val in[2] = {a, c};
    return node(b, "MatMul", "opset1", data_attrs, in, 2, a.et, rank, d);
}

static val gather(bld *b, val data, val idx, int axis)
{
    if (axis < 0 || axis >= data.rank || data.rank - 1 + idx.rank > MAX_RANK) {
        fail(b, "Gather on axis %d of rank %d", axis, data.rank);
        return data;
    }
    int64_t d[MAX_RANK];
    int r = 0;
    for (int i = 0; i < axis; i++)
        d[r++] = data.d[i];
    for (int i = 0; i < idx.rank; i++)
        d[r++] = idx.d[i];
    for (int i = axis + 1; i < data.rank; i++)
        d[r++] = data.d[i];
    val in[3] = {data, idx, i64_scalar(b, axis)};
    const char *data_attrs[] = {"batch_dims", "0", NULL};
    return node(b, "Gather", "opset8", data_attrs, in, 3, data.et, r, d);
}

static val reshape(bld *b, val x, int rank, const int64_t *d)
{
    val t = {.rank = rank};
    memcpy(t.d, d, (size_t)rank * sizeof *d);
    if (numel(&t) != numel(&x))
        fail(b, "Reshape of %lld elements to %lld", (long long)numel(&x), (long long)numel(&t));
    val in[2] = {x, i64_vec(b, rank, d)};
    const char *data_attrs[] = {"special_zero", "false", NULL};
    return node(b, "Reshape", "opset1", data_attrs, in, 2, x.et, rank, d);
}

static val concat(bld *b, val a, val c, int axis)
{
    int64_t d[MAX_RANK];
    if (a.rank != c.rank || axis < 0 || axis >= a.rank) {
        fail(b, "Concat of rank %d and %d", a.rank, c.rank);
        return a;
    }
    for (int i = 0; i < a.rank; i++) {
        if (i != axis && a.d[i] != c.d[i])
            fail(b, "Concat: dimension %d is %lld and %lld", i, (long long)a.d[i],
                 (long long)c.d[i]);
        d[i] = i == axis ? a.d[i] + c.d[i] : a.d[i];
    }
    char ax[8];
    snprintf(ax, sizeof ax, "%d", axis);
    const char *data_attrs[] = {"axis", ax, NULL};
    val in[2] = {a, c};
    return node(b, "Concat", "opset1", data_attrs, in, 2, a.et, a.rank, d);
}

static val softmax(bld *b, val x, int axis)
{
    char ax[8];
    snprintf(ax, sizeof ax, "%d", axis);
    const char *data_attrs[] = {"axis", ax, NULL};
    return node(b, "SoftMax", "opset8", data_attrs, &x, 1, x.et, x.rank, x.d);
}

/* mean over the last axis, kept */
static val reduce_mean_last(bld *b, val x)
{
    int64_t d[MAX_RANK];
    memcpy(d, x.d, sizeof d);
    d[x.rank - 1] = 1;
    int64_t ax = x.rank - 1;
    val in[2] = {x, i64_vec(b, 1, &ax)};
    const char *data_attrs[] = {"keep_dims", "true", NULL};
    return node(b, "ReduceMean", "opset1", data_attrs, in, 2, x.et, x.rank, d);
}

static void result(bld *b, val x)
{
    node(b, "Result", "opset1", NULL, &x, 1, -1, 0, NULL);
}

/* ---- the model's pieces ----------------------------------------------------- */

static val vec_f32(bld *b, const float *x, uint32_t n)
{
    int64_t d[1] = {n};
    return aux_cnst(b, ET_F32, 1, d, x);
}

/* x / sqrt(mean(x^2) + eps) * w, over the last axis */
static val rmsnorm(bld *b, val x, const float *w, uint32_t n, val eps, const char *what,
                   uint32_t layer)
{
    val ms = reduce_mean_last(b, binop(b, "Multiply", x, x));
    val r = unop(b, "Sqrt", "opset1", binop(b, "Add", ms, eps));
    val xn = binop(b, "Divide", x, r);
    set_name(b, "blk.%u.%s", layer, what);
    return binop(b, "Multiply", xn, vec_f32(b, w, n));
}

/* A weight matrix as f32 [rows, cols] (see ov_ir.h for the forms). */
static val weight(bld *b, const aria_weight *w, const char *what, int layer)
{
    const int64_t rc[2] = {w->rows, w->cols};
    const uint8_t *src = w->data;
    if (layer >= 0)
        set_name(b, "blk.%d.%s", layer, what);
    else
        set_name(b, "%s", what);
    if (w->type == ARIA_T_F32 || w->type == ARIA_T_F16) {
        int et = w->type == ARIA_T_F32 ? ET_F32 : ET_F16;
        size_t rb = (size_t)w->cols * ovir_et[et].size;
        void *p;
        val c = cnst(b, et, 2, rc, &p);
        for (uint32_t r = 0; r < w->rows && !b->failed; r++)
            memcpy((uint8_t *)p + r * rb, src + (size_t)r * w->row_bytes, rb);
        return et == ET_F32 ? c : convert(b, c, ET_F32);
    }
    if (w->type == ARIA_T_Q8_0 && w->cols % 32 == 0) {
        const uint32_t nb = w->cols / 32;
        const int64_t qd[3] = {w->rows, nb, 32}, sd[3] = {w->rows, nb, 1};
        void *p;
        val q = cnst(b, ET_I8, 3, qd, &p);
        for (uint32_t r = 0; r < w->rows && !b->failed; r++)
            for (uint32_t k = 0; k < nb; k++)
                memcpy((int8_t *)p + ((size_t)r * nb + k) * 32,
                       src + (size_t)r * w->row_bytes + (size_t)k * sizeof(aria_block_q8_0) +
                           sizeof(aria_f16),
                       32);
        val s = cnst(b, ET_F16, 3, sd, &p);
        for (uint32_t r = 0; r < w->rows && !b->failed; r++)
            for (uint32_t k = 0; k < nb; k++)
                memcpy((aria_f16 *)p + (size_t)r * nb + k,
                       src + (size_t)r * w->row_bytes + (size_t)k * sizeof(aria_block_q8_0),
                       sizeof(aria_f16));
        val m = binop(b, "Multiply", convert(b, q, ET_F32), convert(b, s, ET_F32));
        return reshape(b, m, 2, rc);
    }
    /* every other type: dequantized to f16 */
    float *row = malloc((size_t)w->cols * sizeof *row);
    if (!row) {
        fail(b, "out of memory");
        return (val){0};
    }
    void *p;
    val c = cnst(b, ET_F16, 2, rc, &p);
    for (uint32_t r = 0; r < w->rows && !b->failed; r++) {
        const uint8_t *s = src + (size_t)r * w->row_bytes;
        if (w->type == ARIA_T_I2_S) {
            aria_i2s_dequantize_row(s, w->scale, row, w->cols);
        } else if (aria_dequantize_row(w->type, s, row, w->cols) != ARIA_OK) {
            fail(b, "no dequantization for weight type %u of %s", w->type, what);
            break;
        }
        aria_f16 *o = (aria_f16 *)p + (size_t)r * w->cols;
        for (uint32_t k = 0; k < w->cols; k++)
            o[k] = aria_f32_to_f16(row[k]);
    }
    free(row);
    return convert(b, c, ET_F32);
}

/* x [H, hd] rotated at the position: x * cos + x[perm] * sin_signed */
static val rope(bld *b, val x, val cs, val sn, val perm)
{
    val sw = gather(b, x, perm, 1);
    return binop(b, "Add", binop(b, "Multiply", x, cs), binop(b, "Multiply", sw, sn));
}

/* The tables of every position, as the runtime's rope computes them. */
static void rope_tables(bld *b, const aria_llm *m, uint32_t n_ctx, val *cs_tab, val *sn_tab,
                        val *perm)
{
    const aria_llm_hparams *hp = &m->hp;
    const uint32_t hd = hp->head_dim, half = hp->n_rot / 2;
    const int64_t td[2] = {n_ctx, hd};
    int64_t *pm = malloc(hd * sizeof *pm);
    float *cs = malloc((size_t)n_ctx * hd * sizeof *cs), *sn = malloc((size_t)n_ctx * hd * sizeof *sn);
    if (!pm || !cs || !sn) {
        fail(b, "out of memory");
        free(pm), free(cs), free(sn);
        *cs_tab = *sn_tab = *perm = (val){0};
        return;
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
    set_name(b, "rope.cos");
    *cs_tab = cnst_copy(b, ET_F32, 2, td, cs);
    set_name(b, "rope.sin");
    *sn_tab = cnst_copy(b, ET_F32, 2, td, sn);
    set_name(b, "rope.perm");
    *perm = i64_vec(b, (int)hd, pm);
    free(pm), free(cs), free(sn);
}

void ovir_name(char *buf, size_t cap, const char *what, uint32_t layer)
{
    snprintf(buf, cap, "%s.%u", what, layer);
}

static void write_edges(bld *b)
{
    xw(b, xmlTextWriterStartElement(b->w, BAD_CAST "edges"));
    for (size_t i = 0; i < b->n_edges && !b->failed; i++) {
        const edge *e = &b->edges[i];
        xw(b, xmlTextWriterStartElement(b->w, BAD_CAST "edge"));
        attr_i(b, "from-layer", e->fl);
        attr_i(b, "from-port", e->fp);
        attr_i(b, "to-layer", e->tl);
        attr_i(b, "to-port", e->tp);
        xw(b, xmlTextWriterEndElement(b->w));
    }
    xw(b, xmlTextWriterEndElement(b->w));
}

static void graph(bld *b, const aria_llm *m, uint32_t n_ctx)
{
    const aria_llm_hparams *hp = &m->hp;
    const int64_t H = hp->n_head, Hkv = hp->n_head_kv, hd = hp->head_dim;
    const int64_t group = H / Hkv, qd = H * hd, C = n_ctx;
    char nm[64], nm2[64];

    const int64_t one[1] = {1}, mask_d[2] = {1, C + 1}, past_d[3] = {Hkv, C, hd};
    val ids = param(b, "input_ids", ET_I64, 1, one);
    val pos = param(b, "position", ET_I64, 1, one);
    val mask = param(b, "attention_mask", ET_F32, 2, mask_d);
    val *past = malloc((size_t)hp->n_layer * 2 * sizeof *past);
    if (!past) {
        fail(b, "out of memory");
        return;
    }
    for (uint32_t l = 0; l < hp->n_layer; l++) {
        ovir_name(nm, sizeof nm, "past_key", l);
        past[2 * l] = param(b, nm, ET_F32, 3, past_d);
        ovir_name(nm, sizeof nm, "past_value", l);
        past[2 * l + 1] = param(b, nm, ET_F32, 3, past_d);
    }

    val cs_tab, sn_tab, perm;
    rope_tables(b, m, n_ctx, &cs_tab, &sn_tab, &perm);
    set_name(b, "rope.cos_at");
    val cs = gather(b, cs_tab, pos, 0); /* [1, hd] */
    set_name(b, "rope.sin_at");
    val sn = gather(b, sn_tab, pos, 0);
    val eps = f32_scalar(b, hp->rms_eps);
    val inv = f32_scalar(b, 1.0f / sqrtf((float)hd));

    val embd = weight(b, &m->tok_embd, "token_embd", -1); /* [V, d] */
    set_name(b, "embed");
    val x = gather(b, embd, ids, 0); /* [1, d] */

    for (uint32_t l = 0; l < hp->n_layer && !b->failed; l++) {
        const aria_llm_layer *y = &m->layers[l];
        val h = rmsnorm(b, x, y->attn_norm, hp->n_embd, eps, "attn_norm", l);
        val q = matmul(b, h, weight(b, &y->wq, "attn_q", (int)l), 1);
        val k = matmul(b, h, weight(b, &y->wk, "attn_k", (int)l), 1);
        val v = matmul(b, h, weight(b, &y->wv, "attn_v", (int)l), 1);
        if (y->bq) {
            q = binop(b, "Add", q, vec_f32(b, y->bq, (uint32_t)qd));
            k = binop(b, "Add", k, vec_f32(b, y->bk, (uint32_t)(Hkv * hd)));
            v = binop(b, "Add", v, vec_f32(b, y->bv, (uint32_t)(Hkv * hd)));
        }
        const int64_t qh[2] = {H, hd}, kh[2] = {Hkv, hd}, q3[3] = {Hkv, group, hd};
        const int64_t k3[3] = {Hkv, 1, hd}, flat[2] = {1, qd};
        val qr = rope(b, reshape(b, q, 2, qh), cs, sn, perm);
        val kr = rope(b, reshape(b, k, 2, kh), cs, sn, perm);
        ovir_name(nm, sizeof nm, "present_key", l);
        set_name(b, "blk.%u.present_key", l);
        b->names = nm;
        val kn = reshape(b, kr, 3, k3);
        ovir_name(nm2, sizeof nm2, "present_value", l);
        set_name(b, "blk.%u.present_value", l);
        b->names = nm2;
        val vn = reshape(b, v, 3, k3);
        result(b, kn);
        result(b, vn);
        val keys = concat(b, past[2 * l], kn, 1);     /* [Hkv, C+1, hd] */
        val vals = concat(b, past[2 * l + 1], vn, 1); /* [Hkv, C+1, hd] */
        val s = matmul(b, reshape(b, qr, 3, q3), keys, 1); /* [Hkv, group, C+1] */
        s = binop(b, "Add", binop(b, "Multiply", s, inv), mask);
        val o = matmul(b, softmax(b, s, 2), vals, 0); /* [Hkv, group, hd] */
        val a = matmul(b, reshape(b, o, 2, flat), weight(b, &y->wo, "attn_output", (int)l), 1);
        x = binop(b, "Add", x, a);

        h = rmsnorm(b, x, y->ffn_norm, hp->n_embd, eps, "ffn_norm", l);
        val g = matmul(b, h, weight(b, &y->w_gate, "ffn_gate", (int)l), 1);
        val u = matmul(b, h, weight(b, &y->w_up, "ffn_up", (int)l), 1);
        val act = binop(b, "Multiply", unop(b, "Swish", "opset4", g), u);
        val dn = matmul(b, act, weight(b, &y->w_down, "ffn_down", (int)l), 1);
        x = binop(b, "Add", x, dn);
    }
    free(past);
    val h = rmsnorm(b, x, m->output_norm, hp->n_embd, eps, "output_norm", hp->n_layer);
    val wout = m->output.data == m->tok_embd.data && m->output.type == m->tok_embd.type
                   ? embd
                   : weight(b, &m->output, "output", -1);
    set_name(b, "lm_head");
    b->names = "logits";
    val logits = matmul(b, h, wout, 1); /* [1, V] */
    result(b, logits);
}

aria_err ovir_build(const aria_llm *m, uint32_t n_ctx, ovir *out, aria_msg *why)
{
    memset(out, 0, sizeof *out);
    const aria_llm_hparams *hp = &m->hp;
    if (m->layer_first != 0 || m->layer_end != hp->n_layer)
        return aria_fail(why, ARIA_ERR_UNSUPPORTED,
                         "the NPU graph holds whole models, not layers %u-%u of %u",
                         m->layer_first, m->layer_end - 1, hp->n_layer);
    if (hp->ffn_act != ARIA_ACT_SILU || hp->has_sub_norms)
        return aria_fail(why, ARIA_ERR_UNSUPPORTED,
                         "%s: BitNet's sub-norms and squared-ReLU feed-forward are not in the "
                         "NPU graph yet", hp->arch);
    if (n_ctx == 0 || n_ctx > 1u << 16)
        return aria_fail(why, ARIA_ERR_RANGE, "a context of %u positions for the NPU graph",
                         n_ctx);

    bld b = {0};
    xmlBufferPtr buf = xmlBufferCreate();
    b.w = buf ? xmlNewTextWriterMemory(buf, 0) : NULL;
    if (!b.w) {
        if (buf)
            xmlBufferFree(buf);
        return aria_fail(why, ARIA_ERR_NOMEM, "out of memory for the IR XML");
    }
    xw(&b, xmlTextWriterSetIndent(b.w, 1));
    xw(&b, xmlTextWriterSetIndentString(b.w, BAD_CAST " "));
    xw(&b, xmlTextWriterStartDocument(b.w, "1.0", "UTF-8", NULL));
    xw(&b, xmlTextWriterStartElement(b.w, BAD_CAST "net"));
    attr(&b, "name", hp->arch);
    attr(&b, "version", "11");
    xw(&b, xmlTextWriterStartElement(b.w, BAD_CAST "layers"));
    graph(&b, m, n_ctx);
    xw(&b, xmlTextWriterEndElement(b.w));
    write_edges(&b);
    xw(&b, xmlTextWriterEndElement(b.w));
    xw(&b, xmlTextWriterEndDocument(b.w));
    xmlFreeTextWriter(b.w);
    free(b.edges);
    if (!b.failed) {
        const char *xml = (const char *)xmlBufferContent(buf);
        size_t len = (size_t)xmlBufferLength(buf);
        out->xml = malloc(len + 1);
        if (!out->xml) {
            fail(&b, "out of memory for the IR XML");
        } else {
            memcpy(out->xml, xml, len);
            out->xml[len] = '\0';
            out->xml_len = len;
        }
    }
    xmlBufferFree(buf);
    if (b.failed) {
        free(b.blob);
        free(out->xml);
        memset(out, 0, sizeof *out);
        return aria_fail(why, ARIA_ERR_INTERNAL, "building the NPU graph: %s", b.msg);
    }
    out->blob = b.blob;
    out->blob_len = b.blob_len;
    out->n_ctx = n_ctx;
    out->n_layers = hp->n_layer;
    out->n_kv_heads = hp->n_head_kv;
    out->head_dim = hp->head_dim;
    out->n_vocab = hp->n_vocab;
    out->n_ops = (size_t)b.next_id;
    return ARIA_OK;
}

void ovir_free(ovir *ir)
{
    if (!ir)
        return;
    free(ir->xml);
    free(ir->blob);
    memset(ir, 0, sizeof *ir);
}
