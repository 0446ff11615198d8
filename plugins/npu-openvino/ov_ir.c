/* ov_ir.c — the OpenVINO IR of a llama-family model (see ov_ir.h): the
 * builder behind npu_graph.c's walk, spelling each operation as an IR layer.
 *
 * The XML is written with libxml2's text writer; every layer's ports carry
 * their dimensions, which the walk inferred (the IR reader checks them
 * against its own inference, so a disagreement is a bug here).
 *
 * Operations used (opset versions as OpenVINO's IR names them): Parameter,
 * Const, Convert, Result (opset1); Gather (opset8); MatMul, Add, Multiply,
 * Divide, Sqrt, ReduceMean, Reshape, Concat (opset1); SoftMax (opset8);
 * Swish (opset4). */
#include "ov_ir.h"

#include "npu_graph.h"

#include <aria/quant.h>

#include <libxml/xmlwriter.h>

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* element types: npu_graph.h's */
#define ET_F32 NPU_F32
#define ET_F16 NPU_F16
#define ET_I8  NPU_I8
#define ET_I64 NPU_I64

static const struct {
    const char *et, *prec;
    size_t size;
} ovir_et[] = {
    [NPU_F32] = {"f32", "FP32", 4}, [NPU_F16] = {"f16", "FP16", 2}, [NPU_I8] = {"i8", "I8", 1},
    [NPU_I32] = {"i32", "I32", 4},  [NPU_I64] = {"i64", "I64", 8},
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

static void result(bld *b, val x)
{
    node(b, "Result", "opset1", NULL, &x, 1, -1, 0, NULL);
}

/* ---- the builder ---------------------------------------------------------------- */

/* npu_val ids are (layer << 8) | output port. */
static npu_val to_npu(val v)
{
    npu_val n = {.id = ((int64_t)v.layer << 8) | v.port, .et = v.et, .rank = v.rank};
    memcpy(n.d, v.d, sizeof n.d);
    return n;
}

static val from_npu(const npu_val *n)
{
    val v = {.layer = (int)(n->id >> 8), .port = (int)(n->id & 0xff), .et = n->et,
             .rank = n->rank};
    memcpy(v.d, n->d, sizeof v.d);
    return v;
}

static npu_val b_input(void *bp, const char *name, int et, int rank, const int64_t *d)
{
    return to_npu(param(bp, name, et, rank, d));
}

static npu_val b_constant(void *bp, const char *name, int et, int rank, const int64_t *d,
                          void **data)
{
    bld *b = bp;
    if (name)
        set_name(b, "%s", name);
    val v = cnst(b, et, rank, d, data);
    if (b->failed)
        *data = NULL;
    return to_npu(v);
}

/* A weight: F32 as it is, F16 behind a Convert, Q8_0 as i8 blocks times f16
 * scales, anything else dequantized to f16 behind a Convert. */
static npu_val b_weight(void *bp, const aria_weight *w, const char *name)
{
    bld *b = bp;
    const int64_t rc[2] = {w->rows, w->cols};
    const uint8_t *src = w->data;
    set_name(b, "%s", name);
    if (w->type == ARIA_T_F32 || w->type == ARIA_T_F16) {
        int et = w->type == ARIA_T_F32 ? ET_F32 : ET_F16;
        size_t rb = (size_t)w->cols * ovir_et[et].size;
        void *p;
        val c = cnst(b, et, 2, rc, &p);
        for (uint32_t r = 0; r < w->rows && !b->failed; r++)
            memcpy((uint8_t *)p + r * rb, src + (size_t)r * w->row_bytes, rb);
        return to_npu(et == ET_F32 ? c : convert(b, c, ET_F32));
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
        val sc = cnst(b, ET_F16, 3, sd, &p);
        for (uint32_t r = 0; r < w->rows && !b->failed; r++)
            for (uint32_t k = 0; k < nb; k++)
                memcpy((aria_f16 *)p + (size_t)r * nb + k,
                       src + (size_t)r * w->row_bytes + (size_t)k * sizeof(aria_block_q8_0),
                       sizeof(aria_f16));
        val m = binop(b, "Multiply", convert(b, q, ET_F32), convert(b, sc, ET_F32));
        return to_npu(reshape(b, m, 2, rc));
    }
    float *row = malloc((size_t)w->cols * sizeof *row);
    if (!row) {
        fail(b, "out of memory");
        return (npu_val){0};
    }
    void *p;
    val c = cnst(b, ET_F16, 2, rc, &p);
    for (uint32_t r = 0; r < w->rows && !b->failed; r++) {
        const uint8_t *s = src + (size_t)r * w->row_bytes;
        if (w->type == ARIA_T_I2_S) {
            aria_i2s_dequantize_row(s, w->scale, row, w->cols);
        } else if (aria_dequantize_row(w->type, s, row, w->cols) != ARIA_OK) {
            fail(b, "no dequantization for weight type %u of %s", w->type, name);
            break;
        }
        aria_f16 *o = (aria_f16 *)p + (size_t)r * w->cols;
        for (uint32_t k = 0; k < w->cols; k++)
            o[k] = aria_f32_to_f16(row[k]);
    }
    free(row);
    return to_npu(convert(b, c, ET_F32));
}

static npu_val b_node(void *bp, const npu_node *n, const npu_val *out)
{
    bld *b = bp;
    val in[3], o = from_npu(out);
    for (int i = 0; i < n->n_in && i < 2; i++)
        in[i] = from_npu(&n->in[i]);
    if (n->name)
        set_name(b, "%s", n->name);
    b->names = n->output;
    char ax[16];
    snprintf(ax, sizeof ax, "%d", n->axis);
    val r;
    switch (n->op) {
    case NPU_ADD:
    case NPU_MUL:
    case NPU_DIV: {
        static const char *const type[] = {[NPU_ADD] = "Add", [NPU_MUL] = "Multiply",
                                           [NPU_DIV] = "Divide"};
        const char *data_attrs[] = {"auto_broadcast", "numpy", NULL};
        r = node(b, type[n->op], "opset1", data_attrs, in, 2, o.et, o.rank, o.d);
        break;
    }
    case NPU_SQRT: r = node(b, "Sqrt", "opset1", NULL, in, 1, o.et, o.rank, o.d); break;
    case NPU_SILU: r = node(b, "Swish", "opset4", NULL, in, 1, o.et, o.rank, o.d); break;
    case NPU_MATMUL: {
        const char *data_attrs[] = {"transpose_a", "false", "transpose_b",
                                    n->transpose_b ? "true" : "false", NULL};
        r = node(b, "MatMul", "opset1", data_attrs, in, 2, o.et, o.rank, o.d);
        break;
    }
    case NPU_GATHER: {
        in[2] = i64_scalar(b, n->axis);
        const char *data_attrs[] = {"batch_dims", "0", NULL};
        r = node(b, "Gather", "opset8", data_attrs, in, 3, o.et, o.rank, o.d);
        break;
    }
    case NPU_RESHAPE: {
        in[1] = i64_vec(b, o.rank, o.d);
        const char *data_attrs[] = {"special_zero", "false", NULL};
        r = node(b, "Reshape", "opset1", data_attrs, in, 2, o.et, o.rank, o.d);
        break;
    }
    case NPU_CONCAT: {
        const char *data_attrs[] = {"axis", ax, NULL};
        r = node(b, "Concat", "opset1", data_attrs, in, 2, o.et, o.rank, o.d);
        break;
    }
    case NPU_SOFTMAX: {
        const char *data_attrs[] = {"axis", ax, NULL};
        r = node(b, "SoftMax", "opset8", data_attrs, in, 1, o.et, o.rank, o.d);
        break;
    }
    case NPU_MEAN_LAST: {
        int64_t axl = in[0].rank - 1;
        in[1] = i64_vec(b, 1, &axl);
        const char *data_attrs[] = {"keep_dims", "true", NULL};
        r = node(b, "ReduceMean", "opset1", data_attrs, in, 2, o.et, o.rank, o.d);
        break;
    }
    default:
        fail(b, "operation %d", (int)n->op);
        b->names = NULL;
        b->name[0] = '\0';
        return *out;
    }
    if (n->output)
        result(b, r);
    return to_npu(r);
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

static int b_failed(void *bp)
{
    return ((bld *)bp)->failed;
}

aria_err ovir_build(const aria_llm *m, uint32_t n_ctx, ovir *out, aria_msg *why)
{
    memset(out, 0, sizeof *out);
    const aria_llm_hparams *hp = &m->hp;

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
    const npu_builder bd = {.b = &b, .idx_type = NPU_I64, .input = b_input,
                            .constant = b_constant, .node = b_node, .weight = b_weight,
                            .failed = b_failed};
    aria_msg wm = {{0}};
    aria_err we = npu_graph_walk(m, n_ctx, &bd, &wm);
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
    if (we != ARIA_OK || b.failed) {
        free(b.blob);
        free(out->xml);
        memset(out, 0, sizeof *out);
        if (we != ARIA_OK && wm.text[0])
            return aria_fail(why, we, "%s", wm.text);
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
