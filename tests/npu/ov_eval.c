/* ov_eval.c — reference interpreter for the OpenVINO IR subset that ARIA's
 * generator writes. Written from the OpenVINO operation specifications:
 *
 *   Parameter-1, Const (Constant-1), Convert-1, Gather-8 (batch_dims 0),
 *   MatMul-1, Add-1, Subtract-1, Multiply-1, Divide-1 (numpy broadcast),
 *   Sqrt-1, ReduceMean-1, Reshape-1, Transpose-1, Concat-1, SoftMax-1/-8,
 *   Swish-4, Result-1.
 *
 * IR layer type names follow the IR serializer: "Const" and "SoftMax"
 * (OpenVINO's reader also takes the C++ names "Constant" and "Softmax").
 *
 * Values are kept in two storages: float for f32/f16/i8/u8 (f16, i8 and u8
 * values are exactly representable), int64 for i32/i64. Arithmetic is f32
 * (and i32/i64 for Add/Subtract/Multiply/Divide, as in shape subgraphs);
 * f16/i8/u8 tensors must go through Convert before arithmetic.
 *
 * Deliberate strictness beyond OpenVINO: Gather indices out of range are an
 * error at infer (the Gather-8 spec fills zeros); every declared port's dims
 * and precision must equal the inferred ones; shapes must be static. */
#include "ov_eval.h"

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    OP_PARAM,
    OP_CONST,
    OP_CONVERT,
    OP_GATHER,
    OP_MATMUL,
    OP_ADD,
    OP_SUB,
    OP_MUL,
    OP_DIV,
    OP_SQRT,
    OP_RMEAN,
    OP_RESHAPE,
    OP_TRANSPOSE,
    OP_CONCAT,
    OP_SOFTMAX,
    OP_SWISH,
    OP_RESULT,
};

static const struct {
    const char *type;
    const char *versions[3];
    int op;
    int min_in, max_in; /* max_in -1: any */
    int nout;
} op_table[] = {
    {"Parameter", {"opset1"}, OP_PARAM, 0, 0, 1},
    {"Const", {"opset1"}, OP_CONST, 0, 0, 1},
    {"Constant", {"opset1"}, OP_CONST, 0, 0, 1},
    {"Convert", {"opset1"}, OP_CONVERT, 1, 1, 1},
    {"Gather", {"opset8"}, OP_GATHER, 3, 3, 1},
    {"MatMul", {"opset1"}, OP_MATMUL, 2, 2, 1},
    {"Add", {"opset1"}, OP_ADD, 2, 2, 1},
    {"Subtract", {"opset1"}, OP_SUB, 2, 2, 1},
    {"Multiply", {"opset1"}, OP_MUL, 2, 2, 1},
    {"Divide", {"opset1"}, OP_DIV, 2, 2, 1},
    {"Sqrt", {"opset1"}, OP_SQRT, 1, 1, 1},
    {"ReduceMean", {"opset1"}, OP_RMEAN, 2, 2, 1},
    {"Reshape", {"opset1"}, OP_RESHAPE, 2, 2, 1},
    {"Transpose", {"opset1"}, OP_TRANSPOSE, 2, 2, 1},
    {"Concat", {"opset1"}, OP_CONCAT, 1, -1, 1},
    {"SoftMax", {"opset1", "opset8"}, OP_SOFTMAX, 1, 1, 1},
    {"Softmax", {"opset1", "opset8"}, OP_SOFTMAX, 1, 1, 1},
    {"Swish", {"opset4"}, OP_SWISH, 1, 2, 1},
    {"Result", {"opset1"}, OP_RESULT, 1, 1, 0},
};

/* ---- element types ---------------------------------------------------- */

const char *ove_type_name(ove_type t)
{
    static const char *names[] = {"f32", "f16", "i8", "u8", "i32", "i64"};
    return (unsigned)t < 6 ? names[t] : "?";
}

size_t ove_type_size(ove_type t)
{
    static const size_t sizes[] = {4, 2, 1, 1, 4, 8};
    return (unsigned)t < 6 ? sizes[t] : 0;
}

static int is_int(ove_type t)
{
    return t == OVE_I32 || t == OVE_I64;
}

static int parse_etype(const char *s, ove_type *t)
{
    static const char *ir[] = {"f32", "f16", "i8", "u8", "i32", "i64"};
    static const char *prec[] = {"FP32", "FP16", "I8", "U8", "I32", "I64"};
    for (int k = 0; k < 6; k++)
        if (strcmp(s, ir[k]) == 0 || strcmp(s, prec[k]) == 0) {
            *t = (ove_type)k;
            return 0;
        }
    return -1;
}

size_t ove_count(const ove_desc *d)
{
    size_t n = 1;
    for (int k = 0; k < d->rank; k++)
        n *= (size_t)d->dims[k];
    return n;
}

char *ove_dims_str(const ove_desc *d, char *buf, size_t cap)
{
    size_t l = (size_t)snprintf(buf, cap, "[");
    for (int k = 0; k < d->rank && l < cap; k++)
        l += (size_t)snprintf(buf + l, cap - l, "%s%lld", k ? "," : "", (long long)d->dims[k]);
    if (l < cap)
        snprintf(buf + l, cap - l, "]");
    return buf;
}

static int desc_eq(const ove_desc *a, const ove_desc *b)
{
    if (a->rank != b->rank)
        return 0;
    for (int k = 0; k < a->rank; k++)
        if (a->dims[k] != b->dims[k])
            return 0;
    return 1;
}

float ove_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h >> 15) << 31, e = (h >> 10) & 0x1f, m = h & 0x3ff;
    if (e == 31) {
        uint32_t bits = sign | 0x7f800000u | (m << 13);
        float f;
        memcpy(&f, &bits, sizeof f);
        return f;
    }
    float v = e == 0 ? ldexpf((float)m, -24) : ldexpf((float)(m | 0x400), (int)e - 25);
    return sign ? -v : v;
}

uint16_t ove_f32_to_f16(float f)
{
    uint32_t x;
    memcpy(&x, &f, sizeof x);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000);
    uint32_t ex = (x >> 23) & 0xff, man = x & 0x7fffff;
    if (ex == 255)
        return (uint16_t)(sign | 0x7c00 | (man ? 0x200 | (man >> 13) : 0));
    int e = (int)ex - 127 + 15;
    if (e >= 31)
        return (uint16_t)(sign | 0x7c00);
    if (e <= 0) {
        if (e < -10)
            return sign;
        man |= 0x800000;
        int shift = 14 - e;
        uint32_t hm = man >> shift, rem = man & ((1u << shift) - 1), half = 1u << (shift - 1);
        if (rem > half || (rem == half && (hm & 1)))
            hm++;
        return (uint16_t)(sign | hm);
    }
    uint32_t hm = man >> 13, rem = man & 0x1fff;
    uint32_t h = (uint32_t)sign | ((uint32_t)e << 10) | hm;
    if (rem > 0x1000 || (rem == 0x1000 && (hm & 1)))
        h++; /* a carry rolls into the exponent, up to inf: correct */
    return (uint16_t)h;
}

/* ---- values ------------------------------------------------------------ */

typedef struct {
    ove_desc d;
    size_t n;
    float *f;   /* float storage (f32, f16, i8, u8) */
    int64_t *i; /* int storage (i32, i64) */
    int own;
} val;

static void *val_ptr(const val *v)
{
    return is_int(v->d.type) ? (void *)v->i : (void *)v->f;
}

static size_t val_es(const val *v)
{
    return is_int(v->d.type) ? sizeof(int64_t) : sizeof(float);
}

static int val_alloc(val *v, const ove_desc *d)
{
    v->d = *d;
    v->n = ove_count(d);
    v->f = NULL;
    v->i = NULL;
    v->own = 1;
    if (is_int(d->type))
        v->i = calloc(v->n ? v->n : 1, sizeof *v->i);
    else
        v->f = calloc(v->n ? v->n : 1, sizeof *v->f);
    return val_ptr(v) ? 0 : -1;
}

static void val_free(val *v)
{
    if (v->own) {
        free(v->f);
        free(v->i);
    }
    v->f = NULL;
    v->i = NULL;
    v->own = 0;
}

/* ---- the graph --------------------------------------------------------- */

typedef struct {
    long id;
    ove_desc decl;
    int has_prec;
    int src; /* producer node index, -1 unconnected */
    int nedges;
} inport;

typedef struct {
    long id;
    ove_desc decl;
    int has_prec;
    char **names;
    int nnames;
} outport;

typedef struct {
    long id;
    char *name, *type, *version;
    int op;
    int nin, nout;
    inport *in;
    outport *out;
    /* attributes */
    ove_type et;
    ove_desc pd; /* Parameter/Const shape */
    uint64_t offset, size;
    int ta, tb, keep, special_zero;
    int64_t axis;
    /* inferred */
    ove_desc shape;
    int is_const;
} node;

struct ove_model {
    int refs;
    node *n;
    int nn;
    int *order; /* topological */
    const unsigned char *blob;
    size_t blob_len;
    int *ins, nins;
    int *outs, nouts;
    int nconst;
};

struct ove_compiled {
    ove_model *m;
    val *cv; /* per node: value of constant nodes that are used */
    ove_desc *in_desc, *out_desc;
};

struct ove_request {
    const ove_compiled *c;
    val *v;
    const void **bound;
    void **outbuf;
};

static void seterr(char *err, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void seterr(char *err, size_t cap, const char *fmt, ...)
{
    if (!err || !cap)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, cap, fmt, ap);
    va_end(ap);
}

/* "layer 12 'q_rope' (Multiply): ..." */
static int lfail(char *err, size_t cap, const node *nd, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int lfail(char *err, size_t cap, const node *nd, const char *fmt, ...)
{
    if (!err || !cap)
        return -1;
    int l = snprintf(err, cap, "layer %ld '%s' (%s): ", nd->id, nd->name, nd->type);
    if (l >= 0 && (size_t)l < cap) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err + l, cap - (size_t)l, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* "layer 12 'q_rope' (Multiply) port 2: ..." */
static int pfail(char *err, size_t cap, const node *nd, long port, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static int pfail(char *err, size_t cap, const node *nd, long port, const char *fmt, ...)
{
    if (!err || !cap)
        return -1;
    int l = snprintf(err, cap, "layer %ld '%s' (%s) port %ld: ", nd->id, nd->name, nd->type, port);
    if (l >= 0 && (size_t)l < cap) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err + l, cap - (size_t)l, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static void model_release(ove_model *m)
{
    if (!m || --m->refs > 0)
        return;
    for (int k = 0; k < m->nn; k++) {
        node *nd = &m->n[k];
        free(nd->name);
        free(nd->type);
        free(nd->version);
        free(nd->in);
        for (int p = 0; p < nd->nout; p++) {
            for (int q = 0; q < nd->out[p].nnames; q++)
                free(nd->out[p].names[q]);
            free(nd->out[p].names);
        }
        free(nd->out);
    }
    free(m->n);
    free(m->order);
    free(m->ins);
    free(m->outs);
    free(m);
}

void ove_model_free(ove_model *m)
{
    model_release(m);
}

int ove_model_const_count(const ove_model *m)
{
    return m ? m->nconst : 0;
}

/* ---- XML helpers -------------------------------------------------------- */

static char *xattr(xmlNode *x, const char *name)
{
    xmlChar *v = xmlGetProp(x, (const xmlChar *)name);
    if (!v)
        return NULL;
    char *s = strdup((const char *)v);
    xmlFree(v);
    return s;
}

static int is_elem(const xmlNode *x, const char *name)
{
    return x->type == XML_ELEMENT_NODE && strcmp((const char *)x->name, name) == 0;
}

static int parse_i64(const char *s, int64_t *out)
{
    while (*s == ' ')
        s++;
    if (!*s)
        return -1;
    char *end;
    long long v = strtoll(s, &end, 10);
    while (*end == ' ')
        end++;
    if (*end)
        return -1;
    *out = v;
    return 0;
}

/* "1,64" -> [1,64]; "" -> scalar. Static, non-negative dims only. */
static int parse_shape_attr(const char *s, ove_desc *d, char *why, size_t cap)
{
    d->rank = 0;
    while (*s == ' ')
        s++;
    if (!*s)
        return 0;
    char *copy = strdup(s), *save = NULL;
    int rc = 0;
    for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        int64_t v;
        if (d->rank >= OVE_MAX_RANK) {
            snprintf(why, cap, "shape \"%s\" has more than %d dims", s, OVE_MAX_RANK);
            rc = -1;
            break;
        }
        if (parse_i64(t, &v) || v < 0) {
            snprintf(why, cap, "shape \"%s\" is not static (dynamic dims are not supported)", s);
            rc = -1;
            break;
        }
        d->dims[d->rank++] = v;
    }
    free(copy);
    return rc;
}

/* A port's <dim> children. */
static int parse_port_dims(xmlNode *port, ove_desc *d, char *why, size_t cap)
{
    d->rank = 0;
    for (xmlNode *c = port->children; c; c = c->next) {
        if (!is_elem(c, "dim"))
            continue;
        xmlChar *t = xmlNodeGetContent(c);
        int64_t v = -1;
        int bad = !t || parse_i64((const char *)t, &v) || v < 0;
        if (bad)
            snprintf(why, cap, "dim \"%s\" is not a static size", t ? (const char *)t : "");
        xmlFree(t);
        if (bad)
            return -1;
        if (d->rank >= OVE_MAX_RANK) {
            snprintf(why, cap, "more than %d dims", OVE_MAX_RANK);
            return -1;
        }
        d->dims[d->rank++] = v;
    }
    return 0;
}

/* names="a,b" with "\," escaping a comma inside a name. */
static void parse_names(const char *s, outport *op)
{
    size_t len = strlen(s);
    char *cur = malloc(len + 1);
    size_t l = 0;
    op->names = calloc(len / 2 + 2, sizeof *op->names);
    op->nnames = 0;
    for (size_t k = 0; k <= len; k++) {
        if (s[k] == '\\' && s[k + 1] == ',') {
            cur[l++] = ',';
            k++;
            continue;
        }
        if (s[k] == ',' || s[k] == 0) {
            size_t b = 0, e = l;
            while (b < e && cur[b] == ' ')
                b++;
            while (e > b && cur[e - 1] == ' ')
                e--;
            if (e > b) {
                char *nm = malloc(e - b + 1);
                memcpy(nm, cur + b, e - b);
                nm[e - b] = 0;
                op->names[op->nnames++] = nm;
            }
            l = 0;
            continue;
        }
        cur[l++] = s[k];
    }
    free(cur);
}

static int parse_bool_attr(xmlNode *x, const char *name, int dflt, int *out)
{
    char *v = xattr(x, name);
    if (!v) {
        *out = dflt;
        return 0;
    }
    int rc = 0;
    if (strcmp(v, "true") == 0 || strcmp(v, "1") == 0)
        *out = 1;
    else if (strcmp(v, "false") == 0 || strcmp(v, "0") == 0)
        *out = 0;
    else
        rc = -1;
    free(v);
    return rc;
}

static int parse_layer(xmlNode *x, node *nd, char *err, size_t cap)
{
    char why[256] = "";
    char *id = xattr(x, "id");
    int64_t idv = -1;
    nd->name = xattr(x, "name");
    nd->type = xattr(x, "type");
    nd->version = xattr(x, "version");
    if (!nd->name)
        nd->name = strdup("");
    if (!nd->type)
        nd->type = strdup("?");
    if (!id || parse_i64(id, &idv) || idv < 0) {
        seterr(err, cap, "layer '%s' (%s): missing or bad id \"%s\"", nd->name, nd->type,
               id ? id : "");
        free(id);
        return -1;
    }
    free(id);
    nd->id = (long)idv;
    nd->op = -1;
    int min_in = 0, max_in = 0, nout = 0;
    for (size_t k = 0; k < sizeof op_table / sizeof op_table[0]; k++) {
        if (strcmp(op_table[k].type, nd->type) != 0)
            continue;
        for (int v = 0; v < 3 && op_table[k].versions[v]; v++)
            if (nd->version && strcmp(nd->version, op_table[k].versions[v]) == 0) {
                nd->op = op_table[k].op;
                min_in = op_table[k].min_in;
                max_in = op_table[k].max_in;
                nout = op_table[k].nout;
            }
    }
    if (nd->op < 0)
        return lfail(err, cap, nd, "unsupported operation %s version %s", nd->type,
                     nd->version ? nd->version : "(none)");

    xmlNode *data = NULL, *input = NULL, *output = NULL;
    for (xmlNode *c = x->children; c; c = c->next) {
        if (is_elem(c, "data"))
            data = c;
        else if (is_elem(c, "input"))
            input = c;
        else if (is_elem(c, "output"))
            output = c;
    }
    /* ports */
    int nin = 0, nouts = 0;
    for (int pass = 0; pass < 2; pass++) {
        xmlNode *sect = pass ? output : input;
        if (!sect)
            continue;
        for (xmlNode *c = sect->children; c; c = c->next)
            if (is_elem(c, "port")) {
                if (pass)
                    nouts++;
                else
                    nin++;
            }
    }
    if (nin < min_in || (max_in >= 0 && nin > max_in)) {
        if (min_in == max_in)
            return lfail(err, cap, nd, "has %d input ports, %s takes %d", nin, nd->type, min_in);
        return lfail(err, cap, nd, "has %d input ports, %s takes %d..%d", nin, nd->type, min_in,
                     max_in);
    }
    if (nouts != nout)
        return lfail(err, cap, nd, "has %d output ports, %s has %d", nouts, nd->type, nout);
    nd->in = calloc((size_t)nin + 1, sizeof *nd->in);
    nd->out = calloc((size_t)nouts + 1, sizeof *nd->out);
    for (int pass = 0; pass < 2; pass++) {
        xmlNode *sect = pass ? output : input;
        if (!sect)
            continue;
        for (xmlNode *c = sect->children; c; c = c->next) {
            if (!is_elem(c, "port"))
                continue;
            char *pid = xattr(c, "id");
            int64_t pv = -1;
            int bad = !pid || parse_i64(pid, &pv) || pv < 0;
            free(pid);
            if (bad)
                return lfail(err, cap, nd, "a port has a missing or bad id");
            for (int q = 0; q < nd->nin; q++)
                if (nd->in[q].id == pv)
                    return lfail(err, cap, nd, "port id %lld used twice", (long long)pv);
            for (int q = 0; q < nd->nout; q++)
                if (nd->out[q].id == pv)
                    return lfail(err, cap, nd, "port id %lld used twice", (long long)pv);
            ove_desc dd = {OVE_F32, 0, {0}};
            if (parse_port_dims(c, &dd, why, sizeof why))
                return lfail(err, cap, nd, "port %lld: %s", (long long)pv, why);
            char *prec = xattr(c, "precision");
            int has_prec = 0;
            if (prec) {
                if (parse_etype(prec, &dd.type)) {
                    lfail(err, cap, nd, "port %lld: unsupported precision \"%s\"", (long long)pv,
                          prec);
                    free(prec);
                    return -1;
                }
                has_prec = 1;
                free(prec);
            }
            if (pass == 0) {
                inport *ip = &nd->in[nd->nin++];
                ip->id = (long)pv;
                ip->decl = dd;
                ip->has_prec = has_prec;
                ip->src = -1;
            } else {
                outport *op = &nd->out[nd->nout++];
                op->id = (long)pv;
                op->decl = dd;
                op->has_prec = has_prec;
                char *names = xattr(c, "names");
                if (names) {
                    parse_names(names, op);
                    free(names);
                }
            }
        }
    }

    /* attributes */
    char *a = NULL;
#define ATTR(nm) (free(a), a = data ? xattr(data, nm) : NULL)
    switch (nd->op) {
    case OP_PARAM:
    case OP_CONST:
        if (!ATTR("element_type") || parse_etype(a, &nd->et) || strchr(a, 'F') || strchr(a, 'I') ||
            strchr(a, 'U')) {
            lfail(err, cap, nd, "bad or missing element_type \"%s\"", a ? a : "");
            free(a);
            return -1;
        }
        if (!ATTR("shape")) {
            free(a);
            return lfail(err, cap, nd, "missing shape");
        }
        if (parse_shape_attr(a, &nd->pd, why, sizeof why)) {
            free(a);
            return lfail(err, cap, nd, "%s", why);
        }
        nd->pd.type = nd->et;
        if (nd->op == OP_CONST) {
            int64_t off, sz;
            if (!ATTR("offset") || parse_i64(a, &off) || off < 0 || !ATTR("size") ||
                parse_i64(a, &sz) || sz < 0) {
                free(a);
                return lfail(err, cap, nd, "bad or missing offset/size");
            }
            nd->offset = (uint64_t)off;
            nd->size = (uint64_t)sz;
        }
        break;
    case OP_CONVERT:
        if (!ATTR("destination_type") || parse_etype(a, &nd->et) || strchr(a, 'F') ||
            strchr(a, 'I') || strchr(a, 'U') || nd->et == OVE_I8 || nd->et == OVE_U8) {
            lfail(err, cap, nd, "unsupported destination_type \"%s\"", a ? a : "");
            free(a);
            return -1;
        }
        break;
    case OP_GATHER: {
        int64_t bd = 0;
        if (ATTR("batch_dims") && (parse_i64(a, &bd) || bd != 0)) {
            lfail(err, cap, nd, "batch_dims \"%s\" is not supported (only 0)", a);
            free(a);
            return -1;
        }
        break;
    }
    case OP_MATMUL:
        if ((data && parse_bool_attr(data, "transpose_a", 0, &nd->ta)) ||
            (data && parse_bool_attr(data, "transpose_b", 0, &nd->tb)))
            return lfail(err, cap, nd, "transpose_a/transpose_b must be \"true\" or \"false\"");
        break;
    case OP_ADD:
    case OP_SUB:
    case OP_MUL:
    case OP_DIV:
        if (ATTR("auto_broadcast") && strcmp(a, "numpy") != 0) {
            lfail(err, cap, nd, "auto_broadcast \"%s\" is not supported (only numpy)", a);
            free(a);
            return -1;
        }
        if (nd->op == OP_DIV && ATTR("m_pythondiv")) {
            int py = 1;
            if (strcmp(a, "true") == 0)
                py = 1;
            else if (strcmp(a, "false") == 0)
                py = 0;
            nd->special_zero = py; /* reused: python (floor) division for ints */
        } else if (nd->op == OP_DIV) {
            nd->special_zero = 1;
        }
        break;
    case OP_RMEAN:
        if (data && parse_bool_attr(data, "keep_dims", 0, &nd->keep))
            return lfail(err, cap, nd, "keep_dims must be \"true\" or \"false\"");
        break;
    case OP_RESHAPE:
        if (!data || !xmlHasProp(data, (const xmlChar *)"special_zero"))
            return lfail(err, cap, nd, "missing special_zero");
        if (parse_bool_attr(data, "special_zero", 0, &nd->special_zero))
            return lfail(err, cap, nd, "special_zero must be \"true\" or \"false\"");
        break;
    case OP_CONCAT:
        if (!ATTR("axis") || parse_i64(a, &nd->axis)) {
            free(a);
            return lfail(err, cap, nd, "bad or missing axis");
        }
        break;
    case OP_SOFTMAX:
        nd->axis = 1;
        if (ATTR("axis") && parse_i64(a, &nd->axis)) {
            free(a);
            return lfail(err, cap, nd, "bad axis");
        }
        if (strcmp(nd->version, "opset1") == 0 && nd->axis < 0) {
            free(a);
            return lfail(err, cap, nd, "SoftMax-1 axis %lld must not be negative",
                         (long long)nd->axis);
        }
        break;
    default: break;
    }
    free(a);
#undef ATTR
    return 0;
}

/* ---- shape inference (and the constant-dependent parts) ----------------- */

static int read_ints(const node *nd, const val *v, const char *what, int64_t *out, int max,
                     int *cnt, char *err, size_t cap)
{
    if (!is_int(v->d.type))
        return lfail(err, cap, nd, "%s must be i32 or i64, got %s", what, ove_type_name(v->d.type));
    if (v->d.rank > 1)
        return lfail(err, cap, nd, "%s must be a scalar or 1-D, got rank %d", what, v->d.rank);
    if (!v->i)
        return lfail(err, cap, nd, "%s must be constant (the fake needs static shapes)", what);
    if (v->n > (size_t)max)
        return lfail(err, cap, nd, "%s has %zu values, at most %d allowed", what, v->n, max);
    for (size_t k = 0; k < v->n; k++)
        out[k] = v->i[k];
    *cnt = (int)v->n;
    return 0;
}

static int norm_axis(const node *nd, int64_t ax, int rank, int64_t *out, char *err, size_t cap)
{
    if (ax < -rank || ax >= rank)
        return lfail(err, cap, nd, "axis %lld out of range for rank %d", (long long)ax, rank);
    *out = ax < 0 ? ax + rank : ax;
    return 0;
}

typedef struct {
    int64_t M, K, N;
    int br;
    int64_t bd[OVE_MAX_RANK], bsa[OVE_MAX_RANK], bsb[OVE_MAX_RANK];
    int64_t sam, sak, sbk, sbn;
    int dropM, dropN;
} mmplan;

static int mm_plan(const node *nd, const ove_desc *a, const ove_desc *b, mmplan *p, char *err,
                   size_t cap)
{
    memset(p, 0, sizeof *p);
    if (a->rank == 0 || b->rank == 0)
        return lfail(err, cap, nd, "MatMul inputs must not be scalars");
    int64_t asz, bsz, Kb;
    if (a->rank == 1) { /* unsqueezed to [1,K]; transpose_a does not apply */
        p->M = 1;
        p->K = a->dims[0];
        p->sam = 0;
        p->sak = 1;
        p->dropM = 1;
        asz = p->K;
    } else {
        int64_t r = a->dims[a->rank - 2], c = a->dims[a->rank - 1];
        if (!nd->ta) {
            p->M = r, p->K = c, p->sam = c, p->sak = 1;
        } else {
            p->M = c, p->K = r, p->sam = 1, p->sak = c;
        }
        asz = r * c;
    }
    if (b->rank == 1) { /* unsqueezed to [K,1] */
        Kb = b->dims[0];
        p->N = 1;
        p->sbk = 1;
        p->sbn = 0;
        p->dropN = 1;
        bsz = Kb;
    } else {
        int64_t r = b->dims[b->rank - 2], c = b->dims[b->rank - 1];
        if (!nd->tb) {
            Kb = r, p->N = c, p->sbk = c, p->sbn = 1;
        } else {
            Kb = c, p->N = r, p->sbk = 1, p->sbn = c;
        }
        bsz = r * c;
    }
    char da[64], db[64];
    if (p->K != Kb)
        return lfail(err, cap, nd,
                     "MatMul inner dimensions differ: %lld vs %lld (inputs %s and %s, "
                     "transpose_a %d, transpose_b %d)",
                     (long long)p->K, (long long)Kb, ove_dims_str(a, da, sizeof da),
                     ove_dims_str(b, db, sizeof db), nd->ta, nd->tb);
    int abr = a->rank > 2 ? a->rank - 2 : 0, bbr = b->rank > 2 ? b->rank - 2 : 0;
    p->br = abr > bbr ? abr : bbr;
    int64_t sa = asz, sb = bsz;
    for (int k = p->br - 1; k >= 0; k--) {
        int ja = k - (p->br - abr), jb = k - (p->br - bbr);
        int64_t xa = ja >= 0 ? a->dims[ja] : 1, xb = jb >= 0 ? b->dims[jb] : 1;
        if (xa != xb && xa != 1 && xb != 1)
            return lfail(err, cap, nd, "MatMul batch dimensions do not broadcast: %s and %s",
                         ove_dims_str(a, da, sizeof da), ove_dims_str(b, db, sizeof db));
        p->bd[k] = xa == 1 ? xb : xa;
        p->bsa[k] = xa == 1 ? 0 : sa;
        p->bsb[k] = xb == 1 ? 0 : sb;
        sa *= xa;
        sb *= xb;
    }
    return 0;
}

static int bcast_shape(const node *nd, const ove_desc *a, const ove_desc *b, ove_desc *o, char *err,
                       size_t cap)
{
    int r = a->rank > b->rank ? a->rank : b->rank;
    o->rank = r;
    for (int k = 0; k < r; k++) {
        int ja = k - (r - a->rank), jb = k - (r - b->rank);
        int64_t xa = ja >= 0 ? a->dims[ja] : 1, xb = jb >= 0 ? b->dims[jb] : 1;
        if (xa != xb && xa != 1 && xb != 1) {
            char da[64], db[64];
            return lfail(err, cap, nd, "shapes %s and %s do not broadcast (numpy)",
                         ove_dims_str(a, da, sizeof da), ove_dims_str(b, db, sizeof db));
        }
        o->dims[k] = xa == 1 ? xb : xa;
    }
    return 0;
}

static int want_f32(const node *nd, const val *v, int port, char *err, size_t cap)
{
    if (v->d.type == OVE_F32)
        return 0;
    if (v->d.type == OVE_F16)
        return lfail(err, cap, nd,
                     "input %d is f16; this fake evaluates f32 only (insert a Convert to f32)",
                     port);
    return lfail(err, cap, nd, "input %d is %s, expected f32", port, ove_type_name(v->d.type));
}

/* Output desc of nd from its inputs' descs (and the values of constant
 * inputs where the shape depends on them). */
static int infer(const node *nd, val *const *in, ove_desc *o, char *err, size_t cap)
{
    int64_t ints[OVE_MAX_RANK * 2] = {0};
    int cnt = 0;
    char d0[96], d1[96];
    switch (nd->op) {
    case OP_PARAM:
    case OP_CONST: *o = nd->pd; return 0;
    case OP_CONVERT:
        *o = in[0]->d;
        o->type = nd->et;
        return 0;
    case OP_GATHER: {
        const ove_desc *d = &in[0]->d, *ix = &in[1]->d;
        int64_t ax = 0;
        if (!is_int(ix->type))
            return lfail(err, cap, nd, "indices must be i32 or i64, got %s",
                         ove_type_name(ix->type));
        if (in[2]->d.rank > 1 || ove_count(&in[2]->d) != 1)
            return lfail(err, cap, nd, "axis must be a scalar or a 1-element 1-D tensor");
        if (read_ints(nd, in[2], "axis", ints, 1, &cnt, err, cap) ||
            norm_axis(nd, ints[0], d->rank, &ax, err, cap))
            return -1;
        if (d->rank - 1 + ix->rank > OVE_MAX_RANK)
            return lfail(err, cap, nd, "output rank too large");
        o->type = d->type;
        o->rank = 0;
        for (int k = 0; k < ax; k++)
            o->dims[o->rank++] = d->dims[k];
        for (int k = 0; k < ix->rank; k++)
            o->dims[o->rank++] = ix->dims[k];
        for (int k = (int)ax + 1; k < d->rank; k++)
            o->dims[o->rank++] = d->dims[k];
        return 0;
    }
    case OP_MATMUL: {
        mmplan p;
        if (want_f32(nd, in[0], 0, err, cap) || want_f32(nd, in[1], 1, err, cap) ||
            mm_plan(nd, &in[0]->d, &in[1]->d, &p, err, cap))
            return -1;
        if (p.br + 2 > OVE_MAX_RANK)
            return lfail(err, cap, nd, "rank too large");
        o->type = OVE_F32;
        o->rank = 0;
        for (int k = 0; k < p.br; k++)
            o->dims[o->rank++] = p.bd[k];
        if (!p.dropM)
            o->dims[o->rank++] = p.M;
        if (!p.dropN)
            o->dims[o->rank++] = p.N;
        return 0;
    }
    case OP_ADD:
    case OP_SUB:
    case OP_MUL:
    case OP_DIV: {
        ove_type ta = in[0]->d.type, tb = in[1]->d.type;
        if (ta != tb)
            return lfail(err, cap, nd, "input element types differ: %s and %s", ove_type_name(ta),
                         ove_type_name(tb));
        if (ta != OVE_F32 && !is_int(ta))
            return want_f32(nd, in[0], 0, err, cap);
        o->type = ta;
        return bcast_shape(nd, &in[0]->d, &in[1]->d, o, err, cap);
    }
    case OP_SQRT:
    case OP_SOFTMAX:
        if (want_f32(nd, in[0], 0, err, cap))
            return -1;
        *o = in[0]->d;
        if (nd->op == OP_SOFTMAX) {
            int64_t ax = 0;
            if (norm_axis(nd, nd->axis, o->rank, &ax, err, cap))
                return -1;
        }
        return 0;
    case OP_SWISH:
        if (want_f32(nd, in[0], 0, err, cap))
            return -1;
        if (nd->nin == 2) {
            if (in[1]->d.type != OVE_F32)
                return lfail(err, cap, nd, "beta is %s, must match the data type f32",
                             ove_type_name(in[1]->d.type));
            if (in[1]->d.rank != 0)
                return lfail(err, cap, nd, "beta must be a scalar, got %s",
                             ove_dims_str(&in[1]->d, d1, sizeof d1));
        }
        *o = in[0]->d;
        return 0;
    case OP_RMEAN: {
        const ove_desc *d = &in[0]->d;
        int red[OVE_MAX_RANK] = {0};
        if (want_f32(nd, in[0], 0, err, cap) ||
            read_ints(nd, in[1], "axes", ints, OVE_MAX_RANK * 2, &cnt, err, cap))
            return -1;
        for (int k = 0; k < cnt; k++) {
            int64_t ax = 0;
            if (norm_axis(nd, ints[k], d->rank, &ax, err, cap))
                return -1;
            if (red[ax]) /* ReduceMean-1: "1D tensor of unique elements" */
                return lfail(err, cap, nd, "axes name axis %lld twice", (long long)ax);
            red[ax] = 1;
        }
        o->type = d->type;
        o->rank = 0;
        for (int k = 0; k < d->rank; k++)
            if (!red[k])
                o->dims[o->rank++] = d->dims[k];
            else if (nd->keep)
                o->dims[o->rank++] = 1;
        return 0;
    }
    case OP_RESHAPE: {
        const ove_desc *d = &in[0]->d;
        if (in[1]->d.rank != 1)
            return lfail(err, cap, nd, "target shape must be 1-D, got rank %d", in[1]->d.rank);
        if (read_ints(nd, in[1], "target shape", ints, OVE_MAX_RANK, &cnt, err, cap))
            return -1;
        int minus = -1;
        int64_t known = 1;
        o->type = d->type;
        o->rank = cnt;
        for (int k = 0; k < cnt; k++) {
            int64_t v = ints[k];
            if (v == -1) {
                if (minus >= 0)
                    return lfail(err, cap, nd, "target shape has more than one -1");
                minus = k;
                continue;
            }
            if (v < -1)
                return lfail(err, cap, nd, "target shape has %lld", (long long)v);
            if (v == 0 && nd->special_zero) {
                if (k >= d->rank)
                    return lfail(err, cap, nd,
                                 "special_zero: target dim %d is 0 but the input has rank %d", k,
                                 d->rank);
                v = d->dims[k];
            }
            o->dims[k] = v;
            known *= v;
        }
        int64_t total = (int64_t)ove_count(d);
        if (minus >= 0) {
            if (known == 0 || total % known)
                return lfail(err, cap, nd, "cannot infer -1: input %s has %lld elements",
                             ove_dims_str(d, d0, sizeof d0), (long long)total);
            o->dims[minus] = total / known;
            known *= o->dims[minus];
        }
        if (known != total) {
            ove_desc t = *o;
            return lfail(err, cap, nd, "input %s (%lld elements) cannot be reshaped to %s",
                         ove_dims_str(d, d0, sizeof d0), (long long)total,
                         ove_dims_str(&t, d1, sizeof d1));
        }
        return 0;
    }
    case OP_TRANSPOSE: {
        const ove_desc *d = &in[0]->d;
        if (in[1]->d.rank != 1)
            return lfail(err, cap, nd, "order must be 1-D");
        if (read_ints(nd, in[1], "order", ints, OVE_MAX_RANK, &cnt, err, cap))
            return -1;
        o->type = d->type;
        o->rank = d->rank;
        if (cnt == 0) { /* empty order: reverse */
            for (int k = 0; k < d->rank; k++)
                o->dims[k] = d->dims[d->rank - 1 - k];
            return 0;
        }
        if (cnt != d->rank)
            return lfail(err, cap, nd, "order has %d values for rank %d", cnt, d->rank);
        int seen[OVE_MAX_RANK] = {0};
        for (int k = 0; k < cnt; k++) {
            if (ints[k] < 0 || ints[k] >= d->rank || seen[ints[k]])
                return lfail(err, cap, nd, "order is not a permutation of 0..%d", d->rank - 1);
            seen[ints[k]] = 1;
            o->dims[k] = d->dims[ints[k]];
        }
        return 0;
    }
    case OP_CONCAT: {
        const ove_desc *d = &in[0]->d;
        int64_t ax = 0;
        if (d->rank == 0)
            return lfail(err, cap, nd, "Concat inputs must not be scalars");
        if (norm_axis(nd, nd->axis, d->rank, &ax, err, cap))
            return -1;
        *o = *d;
        o->dims[ax] = 0;
        for (int q = 0; q < nd->nin; q++) {
            const ove_desc *e = &in[q]->d;
            if (e->type != d->type)
                return lfail(err, cap, nd, "input %d is %s, input 0 is %s", q,
                             ove_type_name(e->type), ove_type_name(d->type));
            int ok = e->rank == d->rank;
            for (int k = 0; ok && k < d->rank; k++)
                ok = k == ax || e->dims[k] == d->dims[k];
            if (!ok)
                return lfail(err, cap, nd,
                             "input %d %s does not match input 0 %s except on axis %lld", q,
                             ove_dims_str(e, d1, sizeof d1), ove_dims_str(d, d0, sizeof d0),
                             (long long)nd->axis);
            o->dims[ax] += e->dims[ax];
        }
        return 0;
    }
    case OP_RESULT: *o = in[0]->d; return 0;
    }
    return lfail(err, cap, nd, "internal: no shape inference");
}

/* ---- execution ----------------------------------------------------------- */

static int64_t wrap_i32(ove_type t, uint64_t v)
{
    if (t == OVE_I32)
        return (int64_t)(int32_t)(uint32_t)v;
    return (int64_t)v;
}

static int64_t sat_i(double v, ove_type t)
{
    double lo = t == OVE_I32 ? -2147483648.0 : -9223372036854775808.0;
    double hi = t == OVE_I32 ? 2147483647.0 : 9223372036854775807.0;
    if (isnan(v))
        return 0;
    v = trunc(v);
    if (v <= lo)
        return t == OVE_I32 ? INT32_MIN : INT64_MIN;
    if (v >= hi)
        return t == OVE_I32 ? INT32_MAX : INT64_MAX;
    return (int64_t)v;
}

static int exec_binary(const node *nd, const val *a, const val *b, val *o, char *err, size_t cap)
{
    int r = o->d.rank;
    int64_t sa[OVE_MAX_RANK], sb[OVE_MAX_RANK], idx[OVE_MAX_RANK] = {0};
    for (int pass = 0; pass < 2; pass++) {
        const ove_desc *d = pass ? &b->d : &a->d;
        int64_t *st = pass ? sb : sa, s = 1;
        for (int k = r - 1; k >= 0; k--) {
            int j = k - (r - d->rank);
            if (j < 0) {
                st[k] = 0;
            } else {
                st[k] = d->dims[j] == 1 ? 0 : s;
                s *= d->dims[j];
            }
        }
    }
    int64_t ia = 0, ib = 0;
    int ints = is_int(o->d.type);
    ove_type t = o->d.type;
    for (size_t e = 0; e < o->n; e++) {
        if (!ints) {
            float x = a->f[ia], y = b->f[ib], z;
            switch (nd->op) {
            case OP_ADD: z = x + y; break;
            case OP_SUB: z = x - y; break;
            case OP_MUL: z = x * y; break;
            default: z = x / y; break;
            }
            o->f[e] = z;
        } else {
            int64_t x = a->i[ia], y = b->i[ib], z;
            switch (nd->op) {
            case OP_ADD: z = wrap_i32(t, (uint64_t)x + (uint64_t)y); break;
            case OP_SUB: z = wrap_i32(t, (uint64_t)x - (uint64_t)y); break;
            case OP_MUL: z = wrap_i32(t, (uint64_t)x * (uint64_t)y); break;
            default:
                if (y == 0)
                    return lfail(err, cap, nd, "integer division by zero");
                if (y == -1) {
                    z = wrap_i32(t, 0 - (uint64_t)x);
                } else {
                    z = x / y;
                    if (nd->special_zero && (x % y != 0) && ((x < 0) != (y < 0)))
                        z -= 1; /* pythondiv: floor */
                }
                break;
            }
            o->i[e] = z;
        }
        for (int k = r - 1; k >= 0; k--) {
            idx[k]++;
            ia += sa[k];
            ib += sb[k];
            if (idx[k] < o->d.dims[k])
                break;
            ia -= sa[k] * o->d.dims[k];
            ib -= sb[k] * o->d.dims[k];
            idx[k] = 0;
        }
    }
    return 0;
}

static void exec_matmul(const node *nd, const val *a, const val *b, val *o)
{
    mmplan p;
    mm_plan(nd, &a->d, &b->d, &p, NULL, 0);
    int64_t idx[OVE_MAX_RANK] = {0}, oa = 0, ob = 0;
    size_t nb = 1;
    for (int k = 0; k < p.br; k++)
        nb *= (size_t)p.bd[k];
    float *out = o->f;
    for (size_t bi = 0; bi < nb; bi++) {
        const float *A = a->f + oa, *B = b->f + ob;
        for (int64_t m = 0; m < p.M; m++)
            for (int64_t n = 0; n < p.N; n++) {
                float acc = 0.0f;
                for (int64_t k = 0; k < p.K; k++)
                    acc += A[m * p.sam + k * p.sak] * B[k * p.sbk + n * p.sbn];
                *out++ = acc;
            }
        for (int k = p.br - 1; k >= 0; k--) {
            idx[k]++;
            oa += p.bsa[k];
            ob += p.bsb[k];
            if (idx[k] < p.bd[k])
                break;
            oa -= p.bsa[k] * p.bd[k];
            ob -= p.bsb[k] * p.bd[k];
            idx[k] = 0;
        }
    }
}

static int exec_node(const node *nd, val *const *in, val *o, char *err, size_t cap)
{
    int64_t ints[OVE_MAX_RANK * 2] = {0};
    int cnt = 0;
    switch (nd->op) {
    case OP_CONVERT: {
        const val *x = in[0];
        ove_type t = nd->et;
        for (size_t e = 0; e < o->n; e++) {
            if (!is_int(x->d.type)) {
                float v = x->f[e];
                if (t == OVE_F32)
                    o->f[e] = v;
                else if (t == OVE_F16)
                    o->f[e] = ove_f16_to_f32(ove_f32_to_f16(v));
                else
                    o->i[e] = sat_i((double)v, t);
            } else {
                int64_t v = x->i[e];
                if (t == OVE_F32)
                    o->f[e] = (float)v;
                else if (t == OVE_F16)
                    o->f[e] = ove_f16_to_f32(ove_f32_to_f16((float)v));
                else
                    o->i[e] = wrap_i32(t, (uint64_t)v);
            }
        }
        return 0;
    }
    case OP_GATHER: {
        const val *d = in[0], *ix = in[1];
        int64_t ax = 0;
        read_ints(nd, in[2], "axis", ints, 1, &cnt, NULL, 0);
        norm_axis(nd, ints[0], d->d.rank, &ax, NULL, 0);
        size_t outer = 1, inner = 1, es = val_es(d);
        for (int k = 0; k < ax; k++)
            outer *= (size_t)d->d.dims[k];
        for (int k = (int)ax + 1; k < d->d.rank; k++)
            inner *= (size_t)d->d.dims[k];
        int64_t A = d->d.dims[ax];
        const char *src = val_ptr(d);
        char *dst = val_ptr(o);
        for (size_t j = 0; j < ix->n; j++) {
            int64_t v = ix->i[j];
            if (v < -A || v >= A)
                return lfail(err, cap, nd, "index %lld out of range [%lld, %lld] on axis %lld",
                             (long long)v, (long long)-A, (long long)(A - 1), (long long)ax);
        }
        for (size_t ou = 0; ou < outer; ou++)
            for (size_t j = 0; j < ix->n; j++) {
                int64_t v = ix->i[j] < 0 ? ix->i[j] + A : ix->i[j];
                memcpy(dst + ((ou * ix->n + j) * inner) * es,
                       src + ((ou * (size_t)A + (size_t)v) * inner) * es, inner * es);
            }
        return 0;
    }
    case OP_MATMUL: exec_matmul(nd, in[0], in[1], o); return 0;
    case OP_ADD:
    case OP_SUB:
    case OP_MUL:
    case OP_DIV: return exec_binary(nd, in[0], in[1], o, err, cap);
    case OP_SQRT:
        for (size_t e = 0; e < o->n; e++)
            o->f[e] = sqrtf(in[0]->f[e]);
        return 0;
    case OP_SWISH: {
        float beta = nd->nin == 2 ? in[1]->f[0] : 1.0f;
        for (size_t e = 0; e < o->n; e++) {
            float x = in[0]->f[e];
            o->f[e] = x / (1.0f + expf(-beta * x));
        }
        return 0;
    }
    case OP_SOFTMAX: {
        const val *x = in[0];
        int64_t ax = 0;
        norm_axis(nd, nd->axis, x->d.rank, &ax, NULL, 0);
        size_t outer = 1, inner = 1, A = (size_t)x->d.dims[ax];
        for (int k = 0; k < ax; k++)
            outer *= (size_t)x->d.dims[k];
        for (int k = (int)ax + 1; k < x->d.rank; k++)
            inner *= (size_t)x->d.dims[k];
        for (size_t ou = 0; ou < outer; ou++)
            for (size_t in_ = 0; in_ < inner; in_++) {
                const float *s = x->f + ou * A * inner + in_;
                float *t = o->f + ou * A * inner + in_;
                float mx = -INFINITY, sum = 0.0f;
                for (size_t k = 0; k < A; k++)
                    if (s[k * inner] > mx)
                        mx = s[k * inner];
                for (size_t k = 0; k < A; k++) {
                    t[k * inner] = expf(s[k * inner] - mx);
                    sum += t[k * inner];
                }
                for (size_t k = 0; k < A; k++)
                    t[k * inner] /= sum;
            }
        return 0;
    }
    case OP_RMEAN: {
        const val *x = in[0];
        int red[OVE_MAX_RANK] = {0};
        read_ints(nd, in[1], "axes", ints, OVE_MAX_RANK * 2, &cnt, NULL, 0);
        for (int k = 0; k < cnt; k++) {
            int64_t ax = 0;
            norm_axis(nd, ints[k], x->d.rank, &ax, NULL, 0);
            red[ax] = 1;
        }
        /* output strides in input-index space (reduced dims contribute 0) */
        int64_t ost[OVE_MAX_RANK], s = 1, idx[OVE_MAX_RANK] = {0};
        for (int k = x->d.rank - 1; k >= 0; k--) {
            ost[k] = red[k] ? 0 : s;
            if (!red[k])
                s *= x->d.dims[k];
        }
        double *acc = calloc(o->n ? o->n : 1, sizeof *acc);
        if (!acc)
            return lfail(err, cap, nd, "out of memory");
        int64_t oi = 0;
        for (size_t e = 0; e < x->n; e++) {
            acc[oi] += x->f[e];
            for (int k = x->d.rank - 1; k >= 0; k--) {
                idx[k]++;
                oi += ost[k];
                if (idx[k] < x->d.dims[k])
                    break;
                oi -= ost[k] * x->d.dims[k];
                idx[k] = 0;
            }
        }
        size_t per = o->n ? x->n / o->n : 0;
        for (size_t e = 0; e < o->n; e++)
            o->f[e] = (float)(acc[e] / (double)per);
        free(acc);
        return 0;
    }
    case OP_RESHAPE: memcpy(val_ptr(o), val_ptr(in[0]), in[0]->n * val_es(in[0])); return 0;
    case OP_TRANSPOSE: {
        const val *x = in[0];
        int r = x->d.rank;
        int64_t order[OVE_MAX_RANK], ist[OVE_MAX_RANK], st[OVE_MAX_RANK], idx[OVE_MAX_RANK] = {0};
        read_ints(nd, in[1], "order", ints, OVE_MAX_RANK, &cnt, NULL, 0);
        for (int k = 0; k < r; k++)
            order[k] = cnt ? ints[k] : r - 1 - k;
        int64_t s = 1;
        for (int k = r - 1; k >= 0; k--) {
            ist[k] = s;
            s *= x->d.dims[k];
        }
        for (int k = 0; k < r; k++)
            st[k] = ist[order[k]];
        size_t es = val_es(x);
        const char *src = val_ptr(x);
        char *dst = val_ptr(o);
        int64_t off = 0;
        for (size_t e = 0; e < o->n; e++) {
            memcpy(dst + e * es, src + (size_t)off * es, es);
            for (int k = r - 1; k >= 0; k--) {
                idx[k]++;
                off += st[k];
                if (idx[k] < o->d.dims[k])
                    break;
                off -= st[k] * o->d.dims[k];
                idx[k] = 0;
            }
        }
        return 0;
    }
    case OP_CONCAT: {
        int64_t ax = 0;
        norm_axis(nd, nd->axis, o->d.rank, &ax, NULL, 0);
        size_t outer = 1, inner = 1, es = val_es(o);
        for (int k = 0; k < ax; k++)
            outer *= (size_t)o->d.dims[k];
        for (int k = (int)ax + 1; k < o->d.rank; k++)
            inner *= (size_t)o->d.dims[k];
        char *dst = val_ptr(o);
        for (size_t ou = 0; ou < outer; ou++)
            for (int q = 0; q < nd->nin; q++) {
                size_t chunk = (size_t)in[q]->d.dims[ax] * inner * es;
                memcpy(dst, (const char *)val_ptr(in[q]) + ou * chunk, chunk);
                dst += chunk;
            }
        return 0;
    }
    default: return lfail(err, cap, nd, "internal: no evaluation");
    }
}

/* Decode a Const from the blob into v (allocated). */
static int decode_const(const ove_model *m, const node *nd, val *v, char *err, size_t cap)
{
    if (val_alloc(v, &nd->pd))
        return lfail(err, cap, nd, "out of memory");
    const unsigned char *p = m->blob + nd->offset;
    for (size_t e = 0; e < v->n; e++) {
        switch (nd->et) {
        case OVE_F32: memcpy(&v->f[e], p + 4 * e, 4); break;
        case OVE_F16: {
            uint16_t h;
            memcpy(&h, p + 2 * e, 2);
            v->f[e] = ove_f16_to_f32(h);
            break;
        }
        case OVE_I8: v->f[e] = (float)(int8_t)p[e]; break;
        case OVE_U8: v->f[e] = (float)p[e]; break;
        case OVE_I32: {
            int32_t x;
            memcpy(&x, p + 4 * e, 4);
            v->i[e] = x;
            break;
        }
        case OVE_I64: memcpy(&v->i[e], p + 8 * e, 8); break;
        }
    }
    return 0;
}

/* The pass shared by read and compile, in topological order: shape
 * inference and port checks for every node, folding of every node whose
 * inputs are all constant. vals[k] gets the value of constant nodes. */
static int propagate(ove_model *m, val *vals, char *err, size_t cap)
{
    char d0[96], d1[96];
    for (int oi = 0; oi < m->nn; oi++) {
        int k = m->order[oi];
        node *nd = &m->n[k];
        val *in[64];
        val tmp[64];
        int allc = nd->op != OP_PARAM;
        if (nd->nin > 64)
            return lfail(err, cap, nd, "too many inputs");
        for (int q = 0; q < nd->nin; q++) {
            const node *src = &m->n[nd->in[q].src];
            inport *ip = &nd->in[q];
            if (!desc_eq(&ip->decl, &src->shape))
                return pfail(err, cap, nd, ip->id, "declared %s, but layer %ld '%s' gives %s",
                             ove_dims_str(&ip->decl, d0, sizeof d0), src->id, src->name,
                             ove_dims_str(&src->shape, d1, sizeof d1));
            if (ip->has_prec && ip->decl.type != src->shape.type)
                return pfail(err, cap, nd, ip->id,
                             "declared precision %s, but layer %ld '%s' gives %s",
                             ove_type_name(ip->decl.type), src->id, src->name,
                             ove_type_name(src->shape.type));
            if (src->is_const) {
                in[q] = &vals[nd->in[q].src];
            } else {
                tmp[q].d = src->shape;
                tmp[q].n = ove_count(&src->shape);
                tmp[q].f = NULL;
                tmp[q].i = NULL;
                tmp[q].own = 0;
                in[q] = &tmp[q];
                allc = 0;
            }
        }
        ove_desc o = {OVE_F32, 0, {0}};
        if (infer(nd, in, &o, err, cap))
            return -1;
        nd->shape = o;
        if (nd->nout == 1) {
            outport *op = &nd->out[0];
            if (!desc_eq(&op->decl, &o))
                return pfail(err, cap, nd, op->id, "declared %s, inferred %s",
                             ove_dims_str(&op->decl, d0, sizeof d0),
                             ove_dims_str(&o, d1, sizeof d1));
            if (op->has_prec && op->decl.type != o.type)
                return pfail(err, cap, nd, op->id, "declared precision %s, inferred %s",
                             ove_type_name(op->decl.type), ove_type_name(o.type));
        }
        nd->is_const = allc && nd->op != OP_RESULT;
        if (!nd->is_const)
            continue;
        if (nd->op == OP_CONST) {
            if (decode_const(m, nd, &vals[k], err, cap))
                return -1;
        } else {
            if (val_alloc(&vals[k], &o))
                return lfail(err, cap, nd, "out of memory");
            if (exec_node(nd, in, &vals[k], err, cap))
                return -1;
        }
    }
    return 0;
}

static int has_name(const outport *op, const char *name)
{
    for (int q = 0; q < op->nnames; q++)
        if (strcmp(op->names[q], name) == 0)
            return 1;
    return 0;
}

ove_model *ove_read(const char *xml, size_t len, const void *blob, size_t blob_len, char *err,
                    size_t cap)
{
    if (!xml || len > (size_t)0x7fffffff) {
        seterr(err, cap, "no IR text");
        return NULL;
    }
    while (len && xml[len - 1] == 0) /* a length that counts the terminator */
        len--;
    xmlDoc *doc = xmlReadMemory(xml, (int)len, "model.xml", NULL,
                                XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    if (!doc) {
        const xmlError *xe = xmlGetLastError();
        seterr(err, cap, "IR is not well-formed XML: %s%s",
               xe && xe->message ? xe->message : "parse error", "");
        if (err && cap && strlen(err) && err[strlen(err) - 1] == '\n')
            err[strlen(err) - 1] = 0;
        return NULL;
    }
    ove_model *m = calloc(1, sizeof *m);
    m->refs = 1;
    m->blob = blob;
    m->blob_len = blob ? blob_len : 0;
    xmlNode *root = xmlDocGetRootElement(doc);
    xmlNode *layers = NULL, *edges = NULL;
    int rc = -1;
    char *ver = root ? xattr(root, "version") : NULL;
    if (!root || !is_elem(root, "net")) {
        seterr(err, cap, "IR root element is not <net>");
        goto out;
    }
    if (!ver || (strcmp(ver, "10") != 0 && strcmp(ver, "11") != 0)) {
        seterr(err, cap, "IR version \"%s\" is not supported (10 or 11)", ver ? ver : "");
        goto out;
    }
    for (xmlNode *c = root->children; c; c = c->next) {
        if (is_elem(c, "layers"))
            layers = c;
        else if (is_elem(c, "edges"))
            edges = c;
    }
    if (!layers) {
        seterr(err, cap, "IR has no <layers>");
        goto out;
    }
    int cnt = 0;
    for (xmlNode *c = layers->children; c; c = c->next)
        if (is_elem(c, "layer"))
            cnt++;
    m->n = calloc((size_t)cnt + 1, sizeof *m->n);
    for (xmlNode *c = layers->children; c; c = c->next) {
        if (!is_elem(c, "layer"))
            continue;
        node *nd = &m->n[m->nn++];
        if (parse_layer(c, nd, err, cap))
            goto out;
        for (int q = 0; q < m->nn - 1; q++)
            if (m->n[q].id == nd->id) {
                seterr(err, cap, "layer id %ld is used by '%s' and '%s'", nd->id, m->n[q].name,
                       nd->name);
                goto out;
            }
        if (nd->op == OP_CONST) {
            m->nconst++;
            size_t need = ove_count(&nd->pd) * ove_type_size(nd->et);
            if (!blob) {
                lfail(err, cap, nd, "the IR has constants but no weights were given");
                goto out;
            }
            if (nd->size != need) {
                lfail(err, cap, nd, "size %llu does not match %s %s (%zu bytes)",
                      (unsigned long long)nd->size, ove_type_name(nd->et),
                      ove_dims_str(&nd->pd, (char[96]){0}, 96), need);
                goto out;
            }
            if (nd->offset > m->blob_len || nd->size > m->blob_len - nd->offset) {
                lfail(err, cap, nd, "offset %llu + size %llu is beyond the %zu-byte weights",
                      (unsigned long long)nd->offset, (unsigned long long)nd->size, m->blob_len);
                goto out;
            }
        }
    }
    /* edges */
    for (xmlNode *c = edges ? edges->children : NULL; c; c = c->next) {
        if (!is_elem(c, "edge"))
            continue;
        const char *keys[4] = {"from-layer", "from-port", "to-layer", "to-port"};
        int64_t v[4];
        for (int q = 0; q < 4; q++) {
            char *s = xattr(c, keys[q]);
            int bad = !s || parse_i64(s, &v[q]);
            free(s);
            if (bad) {
                seterr(err, cap, "an edge has a missing or bad %s", keys[q]);
                goto out;
            }
        }
        int fl = -1, tl = -1;
        for (int q = 0; q < m->nn; q++) {
            if (m->n[q].id == v[0])
                fl = q;
            if (m->n[q].id == v[2])
                tl = q;
        }
        if (fl < 0 || tl < 0) {
            seterr(err, cap, "edge %lld:%lld -> %lld:%lld names a missing layer", (long long)v[0],
                   (long long)v[1], (long long)v[2], (long long)v[3]);
            goto out;
        }
        node *fn = &m->n[fl], *tn = &m->n[tl];
        int fo = -1, ti = -1;
        for (int q = 0; q < fn->nout; q++)
            if (fn->out[q].id == v[1])
                fo = q;
        for (int q = 0; q < tn->nin; q++)
            if (tn->in[q].id == v[3])
                ti = q;
        if (fo < 0) {
            lfail(err, cap, fn, "edge from port %lld, which is not an output port",
                  (long long)v[1]);
            goto out;
        }
        if (ti < 0) {
            lfail(err, cap, tn, "edge to port %lld, which is not an input port", (long long)v[3]);
            goto out;
        }
        if (tn->in[ti].nedges++) {
            lfail(err, cap, tn, "input port %lld is connected more than once", (long long)v[3]);
            goto out;
        }
        tn->in[ti].src = fl;
    }
    for (int k = 0; k < m->nn; k++)
        for (int q = 0; q < m->n[k].nin; q++)
            if (m->n[k].in[q].src < 0) {
                lfail(err, cap, &m->n[k], "input port %ld is not connected", m->n[k].in[q].id);
                goto out;
            }
    /* topological order (Kahn, document order among the ready) */
    {
        int *indeg = calloc((size_t)m->nn + 1, sizeof *indeg);
        m->order = calloc((size_t)m->nn + 1, sizeof *m->order);
        for (int k = 0; k < m->nn; k++)
            indeg[k] = m->n[k].nin;
        int done = 0, progress = 1;
        char *placed = calloc((size_t)m->nn + 1, 1);
        while (progress) {
            progress = 0;
            for (int k = 0; k < m->nn; k++) {
                if (placed[k] || indeg[k])
                    continue;
                placed[k] = 1;
                m->order[done++] = k;
                progress = 1;
                for (int j = 0; j < m->nn; j++)
                    for (int q = 0; q < m->n[j].nin; q++)
                        if (m->n[j].in[q].src == k)
                            indeg[j]--;
            }
        }
        int bad = -1;
        for (int k = 0; k < m->nn && bad < 0; k++)
            if (!placed[k])
                bad = k;
        free(indeg);
        free(placed);
        if (bad >= 0) {
            lfail(err, cap, &m->n[bad], "is on a cycle (or fed by one)");
            goto out;
        }
    }
    /* inputs, outputs, names */
    m->ins = calloc((size_t)m->nn + 1, sizeof *m->ins);
    m->outs = calloc((size_t)m->nn + 1, sizeof *m->outs);
    for (int k = 0; k < m->nn; k++) {
        if (m->n[k].op == OP_PARAM)
            m->ins[m->nins++] = k;
        else if (m->n[k].op == OP_RESULT)
            m->outs[m->nouts++] = k;
    }
    if (!m->nouts) {
        seterr(err, cap, "the IR has no Result");
        goto out;
    }
    for (int k = 0; k < m->nn; k++)
        for (int p = 0; p < m->n[k].nout; p++)
            for (int q = 0; q < m->n[k].out[p].nnames; q++)
                for (int j = 0; j < m->nn; j++)
                    for (int pp = 0; pp < m->n[j].nout; pp++)
                        if ((j != k || pp != p) &&
                            has_name(&m->n[j].out[pp], m->n[k].out[p].names[q])) {
                            lfail(err, cap, &m->n[k],
                                  "tensor name \"%s\" is also used by layer %ld '%s'",
                                  m->n[k].out[p].names[q], m->n[j].id, m->n[j].name);
                            goto out;
                        }
    {
        val *vals = calloc((size_t)m->nn + 1, sizeof *vals);
        rc = propagate(m, vals, err, cap);
        for (int k = 0; k < m->nn; k++)
            val_free(&vals[k]);
        free(vals);
    }
out:
    free(ver);
    xmlFreeDoc(doc);
    if (rc) {
        model_release(m);
        return NULL;
    }
    return m;
}

/* ---- compiled model, requests ------------------------------------------- */

void ove_compiled_free(ove_compiled *c)
{
    if (!c)
        return;
    for (int k = 0; k < c->m->nn; k++)
        val_free(&c->cv[k]);
    free(c->cv);
    free(c->in_desc);
    free(c->out_desc);
    model_release(c->m);
    free(c);
}

ove_compiled *ove_compile(const ove_model *cm, char *err, size_t cap)
{
    if (!cm) {
        seterr(err, cap, "no model");
        return NULL;
    }
    ove_model *m = (ove_model *)cm;
    ove_compiled *c = calloc(1, sizeof *c);
    c->m = m;
    m->refs++;
    c->cv = calloc((size_t)m->nn + 1, sizeof *c->cv);
    c->in_desc = calloc((size_t)m->nins + 1, sizeof *c->in_desc);
    c->out_desc = calloc((size_t)m->nouts + 1, sizeof *c->out_desc);
    if (propagate(m, c->cv, err, cap)) {
        ove_compiled_free(c);
        return NULL;
    }
    /* keep only the constants that a runtime node (or a Result) reads */
    char *used = calloc((size_t)m->nn + 1, 1);
    for (int k = 0; k < m->nn; k++)
        if (!m->n[k].is_const)
            for (int q = 0; q < m->n[k].nin; q++)
                used[m->n[k].in[q].src] = 1;
    for (int k = 0; k < m->nn; k++)
        if (!used[k])
            val_free(&c->cv[k]);
    free(used);
    for (int i = 0; i < m->nins; i++)
        c->in_desc[i] = m->n[m->ins[i]].shape;
    for (int i = 0; i < m->nouts; i++)
        c->out_desc[i] = m->n[m->outs[i]].shape;
    return c;
}

int ove_num_inputs(const ove_compiled *c)
{
    return c->m->nins;
}

int ove_num_outputs(const ove_compiled *c)
{
    return c->m->nouts;
}

const ove_desc *ove_input_desc(const ove_compiled *c, int i)
{
    return i >= 0 && i < c->m->nins ? &c->in_desc[i] : NULL;
}

const ove_desc *ove_output_desc(const ove_compiled *c, int i)
{
    return i >= 0 && i < c->m->nouts ? &c->out_desc[i] : NULL;
}

static const outport *out_port_of_output(const ove_compiled *c, int i)
{
    const node *res = &c->m->n[c->m->outs[i]];
    return &c->m->n[res->in[0].src].out[0];
}

const char *ove_input_name(const ove_compiled *c, int i)
{
    if (i < 0 || i >= c->m->nins)
        return NULL;
    const outport *op = &c->m->n[c->m->ins[i]].out[0];
    return op->nnames ? op->names[0] : "";
}

const char *ove_output_name(const ove_compiled *c, int i)
{
    if (i < 0 || i >= c->m->nouts)
        return NULL;
    const outport *op = out_port_of_output(c, i);
    return op->nnames ? op->names[0] : "";
}

int ove_find_input(const ove_compiled *c, const char *name)
{
    for (int i = 0; name && i < c->m->nins; i++)
        if (has_name(&c->m->n[c->m->ins[i]].out[0], name))
            return i;
    return -1;
}

int ove_find_output(const ove_compiled *c, const char *name)
{
    for (int i = 0; name && i < c->m->nouts; i++)
        if (has_name(out_port_of_output(c, i), name))
            return i;
    return -1;
}

void ove_request_free(ove_request *r)
{
    if (!r)
        return;
    const ove_model *m = r->c->m;
    for (int k = 0; k < m->nn; k++)
        val_free(&r->v[k]);
    for (int i = 0; i < m->nouts; i++)
        free(r->outbuf[i]);
    free(r->v);
    free(r->bound);
    free(r->outbuf);
    free(r);
}

ove_request *ove_request_new(const ove_compiled *c, char *err, size_t cap)
{
    if (!c) {
        seterr(err, cap, "no compiled model");
        return NULL;
    }
    const ove_model *m = c->m;
    ove_request *r = calloc(1, sizeof *r);
    r->c = c;
    r->v = calloc((size_t)m->nn + 1, sizeof *r->v);
    r->bound = calloc((size_t)m->nins + 1, sizeof *r->bound);
    r->outbuf = calloc((size_t)m->nouts + 1, sizeof *r->outbuf);
    for (int k = 0; k < m->nn; k++) {
        const node *nd = &m->n[k];
        if (nd->is_const) {
            r->v[k] = c->cv[k];
            r->v[k].own = 0;
            continue;
        }
        if (nd->op == OP_RESULT)
            continue;
        if (nd->op == OP_PARAM && (nd->et == OVE_F32 || nd->et == OVE_I64)) {
            r->v[k].d = nd->shape; /* aliases the bound memory at infer */
            r->v[k].n = ove_count(&nd->shape);
            continue;
        }
        if (val_alloc(&r->v[k], &nd->shape)) {
            seterr(err, cap, "out of memory");
            ove_request_free(r);
            return NULL;
        }
    }
    for (int i = 0; i < m->nouts; i++) {
        size_t bytes = ove_count(&c->out_desc[i]) * ove_type_size(c->out_desc[i].type);
        r->outbuf[i] = calloc(bytes ? bytes : 1, 1);
        if (!r->outbuf[i]) {
            seterr(err, cap, "out of memory");
            ove_request_free(r);
            return NULL;
        }
    }
    return r;
}

void ove_bind_input(ove_request *r, int i, const void *data)
{
    if (r && i >= 0 && i < r->c->m->nins)
        r->bound[i] = data;
}

const void *ove_input_data(const ove_request *r, int i)
{
    return r && i >= 0 && i < r->c->m->nins ? r->bound[i] : NULL;
}

void *ove_output_data(ove_request *r, int i)
{
    return r && i >= 0 && i < r->c->m->nouts ? r->outbuf[i] : NULL;
}

static void store_out(const val *v, void *dst)
{
    unsigned char *p = dst;
    for (size_t e = 0; e < v->n; e++) {
        switch (v->d.type) {
        case OVE_F32: memcpy(p + 4 * e, &v->f[e], 4); break;
        case OVE_F16: {
            uint16_t h = ove_f32_to_f16(v->f[e]);
            memcpy(p + 2 * e, &h, 2);
            break;
        }
        case OVE_I8: p[e] = (unsigned char)(int8_t)v->f[e]; break;
        case OVE_U8: p[e] = (unsigned char)v->f[e]; break;
        case OVE_I32: {
            int32_t x = (int32_t)v->i[e];
            memcpy(p + 4 * e, &x, 4);
            break;
        }
        case OVE_I64: memcpy(p + 8 * e, &v->i[e], 8); break;
        }
    }
}

int ove_infer(ove_request *r, char *err, size_t cap)
{
    const ove_model *m = r->c->m;
    for (int i = 0; i < m->nins; i++) {
        const node *nd = &m->n[m->ins[i]];
        val *v = &r->v[m->ins[i]];
        const unsigned char *p = r->bound[i];
        if (!p) {
            const char *nm = ove_input_name(r->c, i);
            return lfail(err, cap, nd, "input \"%s\" has no tensor set", nm);
        }
        switch (nd->et) {
        case OVE_F32: v->f = (float *)(uintptr_t)p; break;
        case OVE_I64: v->i = (int64_t *)(uintptr_t)p; break;
        default:
            for (size_t e = 0; e < v->n; e++) {
                if (nd->et == OVE_F16) {
                    uint16_t h;
                    memcpy(&h, p + 2 * e, 2);
                    v->f[e] = ove_f16_to_f32(h);
                } else if (nd->et == OVE_I8) {
                    v->f[e] = (float)(int8_t)p[e];
                } else if (nd->et == OVE_U8) {
                    v->f[e] = (float)p[e];
                } else {
                    int32_t x;
                    memcpy(&x, p + 4 * e, 4);
                    v->i[e] = x;
                }
            }
            break;
        }
    }
    for (int oi = 0; oi < m->nn; oi++) {
        int k = m->order[oi];
        const node *nd = &m->n[k];
        if (nd->is_const || nd->op == OP_PARAM || nd->op == OP_RESULT)
            continue;
        val *in[64];
        for (int q = 0; q < nd->nin; q++)
            in[q] = &r->v[nd->in[q].src];
        if (exec_node(nd, in, &r->v[k], err, cap))
            return -1;
    }
    for (int i = 0; i < m->nouts; i++)
        store_out(&r->v[m->n[m->outs[i]].in[0].src], r->outbuf[i]);
    return 0;
}
