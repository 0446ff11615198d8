/* qnn_eval.c — a reference interpreter for QNN graphs (see qnn_eval.h).
 *
 * Tensors get ids 1, 2, ... in creation order (id - 1 indexes the table).
 * Op configs name their tensors by id; the name in a reference, when
 * given, must agree. Every tensor element is 4 bytes (FLOAT_32, INT_32,
 * UINT_32 are the data types accepted), so data movement ops copy words.
 *
 * Op semantics follow the QNN operation definitions (MasterOpDef):
 *   MatMul       in[0] [...,M,K] ([...,K,M] if transpose_in0), in[1]
 *                [...,K,N] ([...,N,K] if transpose_in1), optional in[2]
 *                bias [N]; rank >= 2, leading (batch) dims broadcast as in
 *                numpy; out [...,M,N]. transpose_in0/1: BOOL_8, default 0.
 *   ElementWiseAdd/Multiply/Divide: 2 inputs, numpy broadcasting.
 *   ElementWiseSquareRoot, Sigmoid: 1 input, same shape.
 *   ReduceMean   axes: tensor param, UINT_32, rank 1, mandatory, values in
 *                [0, n-1] without repeats; keep_dims: BOOL_8, default 0.
 *   Reshape      1 input; the output's dims are the shape.
 *   Concat       axis: UINT_32, default n-1; >= 1 inputs of equal rank
 *                whose dims agree except on axis.
 *   Softmax      axis: UINT_32, default n-1; beta: FLOAT_32, default 1.0;
 *                out = exp(beta*x - max) / sum along axis (a -inf input
 *                gives 0; a row of nothing but -inf gives NaN). Any axis
 *                is accepted (the HTP backend itself takes only n-1).
 *   Gather       axis: INT_32, default 0, in [-n, n-1]; in[1] indices
 *                INT_32 or UINT_32; out dims = in[0][:axis] ++ in[1] ++
 *                in[0][axis+1:]. Indices in [-d, d-1] (negative count
 *                from the end, as ONNX Gather, which QNN's refers to);
 *                others fail at execute. */
#include "qnn_eval.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum {
    OP_MATMUL,
    OP_ADD,
    OP_MUL,
    OP_DIV,
    OP_SQRT,
    OP_SIGMOID,
    OP_REDUCE_MEAN,
    OP_RESHAPE,
    OP_CONCAT,
    OP_SOFTMAX,
    OP_GATHER,
} qe_opk;

typedef struct {
    uint32_t id;
    char *name;
    Qnn_TensorType_t type;
    Qnn_DataType_t dtype;
    uint32_t rank;
    uint32_t dims[QE_MAX_RANK];
    size_t count;
    void *data;       /* STATIC: copied at creation; others: at finalize */
    int64_t producer; /* node index, -1 if none */
    bool used;        /* read by some node */
} qe_tensor;

typedef struct {
    char *name;
    qe_opk op;
    uint32_t nin;
    uint32_t *in; /* tensor indices */
    uint32_t out;
    bool t0, t1, keep;
    uint32_t axis;  /* Concat, Softmax, Gather (normalised) */
    float beta;     /* Softmax */
    uint32_t naxes; /* ReduceMean */
    bool reduce[QE_MAX_RANK];
} qe_node;

struct qe_graph {
    char *name;
    qe_tensor *t;
    uint32_t nt, ct;
    qe_node *n;
    uint32_t nn, cn;
    bool finalized;
    uint32_t *order;
};

/* ---- helpers ----------------------------------------------------------- */

static Qnn_ErrorHandle_t fail(char *err, size_t cap, Qnn_ErrorHandle_t code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static Qnn_ErrorHandle_t fail(char *err, size_t cap, Qnn_ErrorHandle_t code, const char *fmt, ...)
{
    if (err && cap) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, cap, fmt, ap);
        va_end(ap);
    }
    return code;
}

static char *dupstr(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

const char *qe_dtype_name(Qnn_DataType_t t)
{
    switch (t) {
    case QNN_DATATYPE_INT_8: return "INT_8";
    case QNN_DATATYPE_INT_16: return "INT_16";
    case QNN_DATATYPE_INT_32: return "INT_32";
    case QNN_DATATYPE_INT_64: return "INT_64";
    case QNN_DATATYPE_UINT_8: return "UINT_8";
    case QNN_DATATYPE_UINT_16: return "UINT_16";
    case QNN_DATATYPE_UINT_32: return "UINT_32";
    case QNN_DATATYPE_UINT_64: return "UINT_64";
    case QNN_DATATYPE_FLOAT_16: return "FLOAT_16";
    case QNN_DATATYPE_FLOAT_32: return "FLOAT_32";
    case QNN_DATATYPE_SFIXED_POINT_8: return "SFIXED_POINT_8";
    case QNN_DATATYPE_SFIXED_POINT_16: return "SFIXED_POINT_16";
    case QNN_DATATYPE_SFIXED_POINT_32: return "SFIXED_POINT_32";
    case QNN_DATATYPE_UFIXED_POINT_8: return "UFIXED_POINT_8";
    case QNN_DATATYPE_UFIXED_POINT_16: return "UFIXED_POINT_16";
    case QNN_DATATYPE_UFIXED_POINT_32: return "UFIXED_POINT_32";
    case QNN_DATATYPE_BOOL_8: return "BOOL_8";
    case QNN_DATATYPE_UNDEFINED: return "UNDEFINED";
    }
    static _Thread_local char buf[16];
    snprintf(buf, sizeof buf, "0x%04x", (unsigned)t);
    return buf;
}

const char *qe_ttype_name(Qnn_TensorType_t t)
{
    switch (t) {
    case QNN_TENSOR_TYPE_APP_WRITE: return "APP_WRITE";
    case QNN_TENSOR_TYPE_APP_READ: return "APP_READ";
    case QNN_TENSOR_TYPE_APP_READWRITE: return "APP_READWRITE";
    case QNN_TENSOR_TYPE_NATIVE: return "NATIVE";
    case QNN_TENSOR_TYPE_STATIC: return "STATIC";
    case QNN_TENSOR_TYPE_NULL: return "NULL";
    case QNN_TENSOR_TYPE_UNDEFINED: return "UNDEFINED";
    }
    return "?";
}

char *qe_dims_str(const uint32_t *dims, uint32_t rank, char *buf, size_t cap)
{
    size_t len = 0;
    if (!cap)
        return buf;
    buf[0] = 0;
    len += (size_t)snprintf(buf, cap, "[");
    for (uint32_t i = 0; i < rank && len < cap; i++)
        len += (size_t)snprintf(buf + len, cap - len, i ? ",%u" : "%u", dims ? dims[i] : 0);
    if (len < cap)
        snprintf(buf + len, cap - len, "]");
    return buf;
}

static bool dtype_supported(Qnn_DataType_t t)
{
    return t == QNN_DATATYPE_FLOAT_32 || t == QNN_DATATYPE_INT_32 || t == QNN_DATATYPE_UINT_32;
}

/* ---- graph and tensors ------------------------------------------------- */

qe_graph *qe_graph_new(const char *name)
{
    qe_graph *g = calloc(1, sizeof *g);
    if (!g)
        return NULL;
    g->name = dupstr(name ? name : "");
    if (!g->name) {
        free(g);
        return NULL;
    }
    return g;
}

void qe_graph_free(qe_graph *g)
{
    if (!g)
        return;
    for (uint32_t i = 0; i < g->nt; i++) {
        free(g->t[i].name);
        free(g->t[i].data);
    }
    for (uint32_t i = 0; i < g->nn; i++) {
        free(g->n[i].name);
        free(g->n[i].in);
    }
    free(g->t);
    free(g->n);
    free(g->order);
    free(g->name);
    free(g);
}

const char *qe_graph_name(const qe_graph *g)
{
    return g->name;
}

bool qe_graph_finalized(const qe_graph *g)
{
    return g->finalized;
}

uint32_t qe_graph_num_tensors(const qe_graph *g)
{
    return g->nt;
}

uint32_t qe_graph_num_nodes(const qe_graph *g)
{
    return g->nn;
}

Qnn_ErrorHandle_t qe_tensor_create(qe_graph *g, Qnn_Tensor_t *t, char *err, size_t cap)
{
    if (!g || !t)
        return fail(err, cap, QNN_TENSOR_ERROR_INVALID_TENSOR_PARAM, "NULL graph or tensor");
    if (t->version != QNN_TENSOR_VERSION_1)
        return fail(err, cap, QNN_TENSOR_ERROR_UNSUPPORTED_TENSOR_PARAM,
                    "tensor version %u (only QNN_TENSOR_VERSION_1)", (unsigned)t->version);
    const Qnn_TensorV1_t *v = &t->v1;
    const char *nm = v->name;
    if (!nm || !*nm)
        return fail(err, cap, QNN_TENSOR_ERROR_INVALID_TENSOR_PARAM, "tensor without a name");
    if (g->finalized)
        return fail(err, cap, QNN_GRAPH_ERROR_GRAPH_FINALIZED,
                    "tensor '%s': graph '%s' is finalized", nm, g->name);
    for (uint32_t i = 0; i < g->nt; i++)
        if (strcmp(g->t[i].name, nm) == 0)
            return fail(err, cap, QNN_TENSOR_ERROR_ALREADY_EXISTS, "tensor '%s' already exists",
                        nm);
    if (v->type != QNN_TENSOR_TYPE_APP_WRITE && v->type != QNN_TENSOR_TYPE_APP_READ &&
        v->type != QNN_TENSOR_TYPE_NATIVE && v->type != QNN_TENSOR_TYPE_STATIC)
        return fail(err, cap, QNN_TENSOR_ERROR_UNSUPPORTED_TENSOR_PARAM,
                    "tensor '%s': type %s not supported", nm, qe_ttype_name(v->type));
    if (v->dataFormat != QNN_TENSOR_DATA_FORMAT_FLAT_BUFFER)
        return fail(err, cap, QNN_TENSOR_ERROR_UNSUPPORTED_TENSOR_PARAM,
                    "tensor '%s': data format %u (only FLAT_BUFFER)", nm, v->dataFormat);
    if (!dtype_supported(v->dataType))
        return fail(err, cap, QNN_TENSOR_ERROR_UNSUPPORTED_TENSOR_PARAM,
                    "tensor '%s': data type %s not supported", nm, qe_dtype_name(v->dataType));
    if (v->quantizeParams.encodingDefinition != QNN_DEFINITION_UNDEFINED ||
        v->quantizeParams.quantizationEncoding != QNN_QUANTIZATION_ENCODING_UNDEFINED)
        return fail(err, cap, QNN_TENSOR_ERROR_INVALID_TENSOR_PARAM,
                    "tensor '%s': quantization parameters on a %s tensor", nm,
                    qe_dtype_name(v->dataType));
    if (v->rank == 0 || v->rank > QE_MAX_RANK)
        return fail(err, cap, QNN_TENSOR_ERROR_UNSUPPORTED_TENSOR_PARAM,
                    "tensor '%s': rank %u (1..%d)", nm, v->rank, QE_MAX_RANK);
    if (!v->dimensions)
        return fail(err, cap, QNN_TENSOR_ERROR_INVALID_TENSOR_PARAM,
                    "tensor '%s': rank %u with NULL dimensions", nm, v->rank);
    size_t count = 1;
    for (uint32_t i = 0; i < v->rank; i++) {
        if (v->dimensions[i] == 0) {
            char d[128];
            return fail(err, cap, QNN_TENSOR_ERROR_INVALID_TENSOR_PARAM,
                        "tensor '%s': dims %s has a 0", nm,
                        qe_dims_str(v->dimensions, v->rank, d, sizeof d));
        }
        count *= v->dimensions[i];
        if (count > (size_t)UINT32_MAX / 4)
            return fail(err, cap, QNN_TENSOR_ERROR_INVALID_TENSOR_PARAM, "tensor '%s': too large",
                        nm);
    }
    size_t bytes = count * 4;
    void *data = NULL;
    if (v->type == QNN_TENSOR_TYPE_STATIC) {
        if (v->memType != QNN_TENSORMEMTYPE_RAW)
            return fail(err, cap, QNN_TENSOR_ERROR_UNSUPPORTED_TENSOR_PARAM,
                        "static tensor '%s': memType %u (only RAW)", nm, (unsigned)v->memType);
        if (!v->clientBuf.data || v->clientBuf.dataSize != bytes) {
            char d[128];
            return fail(err, cap, QNN_TENSOR_ERROR_INVALID_TENSOR_PARAM,
                        "static tensor '%s' %s %s: dataSize %u, expected %zu%s", nm,
                        qe_dtype_name(v->dataType),
                        qe_dims_str(v->dimensions, v->rank, d, sizeof d), v->clientBuf.dataSize,
                        bytes, v->clientBuf.data ? "" : " (data NULL)");
        }
        data = malloc(bytes);
        if (!data)
            return fail(err, cap, QNN_COMMON_ERROR_MEM_ALLOC, "out of memory");
        memcpy(data, v->clientBuf.data, bytes);
    }
    if (g->nt == g->ct) {
        uint32_t nc = g->ct ? g->ct * 2 : 64;
        qe_tensor *nt = realloc(g->t, nc * sizeof *nt);
        if (!nt) {
            free(data);
            return fail(err, cap, QNN_COMMON_ERROR_MEM_ALLOC, "out of memory");
        }
        g->t = nt;
        g->ct = nc;
    }
    qe_tensor *x = &g->t[g->nt];
    memset(x, 0, sizeof *x);
    x->name = dupstr(nm);
    if (!x->name) {
        free(data);
        return fail(err, cap, QNN_COMMON_ERROR_MEM_ALLOC, "out of memory");
    }
    x->id = g->nt + 1;
    x->type = v->type;
    x->dtype = v->dataType;
    x->rank = v->rank;
    memcpy(x->dims, v->dimensions, v->rank * sizeof(uint32_t));
    x->count = count;
    x->data = data;
    x->producer = -1;
    g->nt++;
    t->v1.id = x->id;
    return QNN_SUCCESS;
}

/* The tensor a reference in an op config or an execute call names. */
static Qnn_ErrorHandle_t lookup(const qe_graph *g, const Qnn_Tensor_t *r, const char *what,
                                uint32_t *idx, char *err, size_t cap)
{
    if (r->version != QNN_TENSOR_VERSION_1)
        return fail(err, cap, QNN_GRAPH_ERROR_INVALID_TENSOR, "%s: tensor version %u", what,
                    (unsigned)r->version);
    uint32_t id = r->v1.id;
    const char *nm = r->v1.name;
    if (id == 0 || id > g->nt)
        return fail(err, cap, QNN_GRAPH_ERROR_INVALID_TENSOR,
                    "%s: tensor id %u%s%s%s was never created", what, id, nm ? " ('" : "",
                    nm ? nm : "", nm ? "')" : "");
    if (nm && strcmp(nm, g->t[id - 1].name) != 0)
        return fail(err, cap, QNN_GRAPH_ERROR_INVALID_TENSOR, "%s: tensor id %u is '%s', not '%s'",
                    what, id, g->t[id - 1].name, nm);
    *idx = id - 1;
    return QNN_SUCCESS;
}

/* ---- op definitions ---------------------------------------------------- */

typedef struct {
    const char *name;
    Qnn_ParamType_t kind;
    Qnn_DataType_t dtype;
    bool mandatory;
} qe_pspec;

typedef struct {
    const char *type;
    qe_opk op;
    uint32_t min_in, max_in;
    qe_pspec params[3];
} qe_opspec;

#define SCALAR QNN_PARAMTYPE_SCALAR
#define TENSOR QNN_PARAMTYPE_TENSOR
static const qe_opspec opspecs[] = {
    {"MatMul",
     OP_MATMUL,
     2,
     3,
     {{"transpose_in0", SCALAR, QNN_DATATYPE_BOOL_8, false},
      {"transpose_in1", SCALAR, QNN_DATATYPE_BOOL_8, false}}},
    {"ElementWiseAdd", OP_ADD, 2, 2, {{0}}},
    {"ElementWiseMultiply", OP_MUL, 2, 2, {{0}}},
    {"ElementWiseDivide", OP_DIV, 2, 2, {{0}}},
    {"ElementWiseSquareRoot", OP_SQRT, 1, 1, {{0}}},
    {"Sigmoid", OP_SIGMOID, 1, 1, {{0}}},
    {"ReduceMean",
     OP_REDUCE_MEAN,
     1,
     1,
     {{"axes", TENSOR, QNN_DATATYPE_UINT_32, true},
      {"keep_dims", SCALAR, QNN_DATATYPE_BOOL_8, false}}},
    {"Reshape", OP_RESHAPE, 1, 1, {{0}}},
    {"Concat", OP_CONCAT, 1, 64, {{"axis", SCALAR, QNN_DATATYPE_UINT_32, false}}},
    {"Softmax",
     OP_SOFTMAX,
     1,
     1,
     {{"axis", SCALAR, QNN_DATATYPE_UINT_32, false},
      {"beta", SCALAR, QNN_DATATYPE_FLOAT_32, false}}},
    {"Gather", OP_GATHER, 2, 2, {{"axis", SCALAR, QNN_DATATYPE_INT_32, false}}},
};
#undef SCALAR
#undef TENSOR

/* numpy broadcasting of a and b into out; false if incompatible */
static bool broadcast(const uint32_t *a, uint32_t ra, const uint32_t *b, uint32_t rb, uint32_t *out,
                      uint32_t *rout)
{
    uint32_t r = ra > rb ? ra : rb;
    for (uint32_t i = 0; i < r; i++) {
        uint32_t da = i < r - ra ? 1 : a[i - (r - ra)];
        uint32_t db = i < r - rb ? 1 : b[i - (r - rb)];
        if (da != db && da != 1 && db != 1)
            return false;
        out[i] = da == 1 ? db : da;
    }
    *rout = r;
    return true;
}

/* strides of a tensor of rank ra seen through out dims of rank r (0 on
 * broadcast dims) */
static void bstrides(const uint32_t *a, uint32_t ra, uint32_t r, size_t *st)
{
    size_t s = 1;
    for (uint32_t i = r; i-- > 0;) {
        if (i < r - ra) {
            st[i] = 0;
            continue;
        }
        uint32_t d = a[i - (r - ra)];
        st[i] = d == 1 ? 0 : s;
        s *= d;
    }
}

Qnn_ErrorHandle_t qe_add_node(qe_graph *g, const Qnn_OpConfig_t *op, char *err, size_t cap)
{
    if (!g || !op)
        return fail(err, cap, QNN_GRAPH_ERROR_INVALID_ARGUMENT, "NULL graph or op config");
    if (op->version != QNN_OPCONFIG_VERSION_1)
        return fail(err, cap, QNN_GRAPH_ERROR_INVALID_OP_CONFIG,
                    "op config version %u (only QNN_OPCONFIG_VERSION_1)", (unsigned)op->version);
    const Qnn_OpConfigV1_t *c = &op->v1;
    const char *nm = c->name ? c->name : "";
    const char *ty = c->typeName ? c->typeName : "(null)";
    if (g->finalized)
        return fail(err, cap, QNN_GRAPH_ERROR_GRAPH_FINALIZED,
                    "node '%s' (%s): graph '%s' is finalized", nm, ty, g->name);
    if (!c->name || !*c->name)
        return fail(err, cap, QNN_GRAPH_ERROR_INVALID_OP_CONFIG, "node of type %s without a name",
                    ty);
    for (uint32_t i = 0; i < g->nn; i++)
        if (strcmp(g->n[i].name, nm) == 0)
            return fail(err, cap, QNN_GRAPH_ERROR_INVALID_OP_CONFIG, "node '%s' (%s): name in use",
                        nm, ty);
    if (!c->packageName || strcmp(c->packageName, "qti.aisw") != 0)
        return fail(err, cap, QNN_GRAPH_ERROR_INVALID_OP_CONFIG,
                    "node '%s' (%s): package '%s' is not registered (only qti.aisw)", nm, ty,
                    c->packageName ? c->packageName : "(null)");
    const qe_opspec *spec = NULL;
    for (size_t i = 0; i < sizeof opspecs / sizeof opspecs[0]; i++)
        if (c->typeName && strcmp(c->typeName, opspecs[i].type) == 0)
            spec = &opspecs[i];
    if (!spec)
        return fail(err, cap, QNN_GRAPH_ERROR_INVALID_OP_CONFIG,
                    "node '%s': op type '%s' is not supported", nm, ty);

#define NFAIL(code, fmt, ...) fail(err, cap, code, "node '%s' (%s): " fmt, nm, ty, __VA_ARGS__)
    /* inputs and outputs */
    if (c->numOfInputs < spec->min_in || c->numOfInputs > spec->max_in)
        return NFAIL(QNN_GRAPH_ERROR_INVALID_OP_CONFIG, "%u inputs, expected %u..%u",
                     c->numOfInputs, spec->min_in, spec->max_in);
    if (!c->inputTensors)
        return NFAIL(QNN_GRAPH_ERROR_INVALID_OP_CONFIG, "%s", "NULL inputTensors");
    if (c->numOfOutputs != 1 || !c->outputTensors)
        return NFAIL(QNN_GRAPH_ERROR_INVALID_OP_CONFIG, "%u outputs, expected 1", c->numOfOutputs);
    if (c->numOfParams && !c->params)
        return NFAIL(QNN_GRAPH_ERROR_INVALID_OP_CONFIG, "%s", "NULL params");
    uint32_t in[64];
    char what[96];
    for (uint32_t i = 0; i < c->numOfInputs; i++) {
        snprintf(what, sizeof what, "node '%s' (%s): input %u", nm, ty, i);
        Qnn_ErrorHandle_t e = lookup(g, &c->inputTensors[i], what, &in[i], err, cap);
        if (e)
            return e;
    }
    uint32_t out;
    snprintf(what, sizeof what, "node '%s' (%s): output", nm, ty);
    Qnn_ErrorHandle_t e = lookup(g, &c->outputTensors[0], what, &out, err, cap);
    if (e)
        return e;
    const qe_tensor *T = g->t;
    const qe_tensor *o = &T[out];
    if (o->type != QNN_TENSOR_TYPE_NATIVE && o->type != QNN_TENSOR_TYPE_APP_READ)
        return NFAIL(QNN_GRAPH_ERROR_INVALID_TENSOR, "output '%s' is %s (NATIVE or APP_READ only)",
                     o->name, qe_ttype_name(o->type));
    if (o->producer >= 0)
        return NFAIL(QNN_GRAPH_ERROR_INVALID_TENSOR, "output '%s' is already produced by node '%s'",
                     o->name, g->n[o->producer].name);
    for (uint32_t i = 0; i < c->numOfInputs; i++)
        if (in[i] == out)
            return NFAIL(QNN_GRAPH_ERROR_INVALID_TENSOR, "'%s' is both input and output", o->name);

    /* params */
    qe_node nd;
    memset(&nd, 0, sizeof nd);
    nd.op = spec->op;
    nd.beta = 1.0f;
    bool seen[3] = {false, false, false};
    const Qnn_Param_t *pv[3] = {NULL, NULL, NULL};
    for (uint32_t i = 0; i < c->numOfParams; i++) {
        const Qnn_Param_t *p = &c->params[i];
        const char *pn = p->name ? p->name : "(null)";
        int k = -1;
        for (int j = 0; j < 3 && spec->params[j].name; j++)
            if (p->name && strcmp(p->name, spec->params[j].name) == 0)
                k = j;
        if (k < 0)
            return NFAIL(QNN_GRAPH_ERROR_INVALID_OP_CONFIG, "unknown parameter '%s'", pn);
        const qe_pspec *ps = &spec->params[k];
        if (seen[k])
            return NFAIL(QNN_GRAPH_ERROR_INVALID_OP_CONFIG, "parameter '%s' given twice", pn);
        seen[k] = true;
        if (p->paramType != ps->kind)
            return NFAIL(QNN_GRAPH_ERROR_INVALID_OP_CONFIG, "parameter '%s' must be a %s", pn,
                         ps->kind == QNN_PARAMTYPE_SCALAR ? "scalar" : "tensor");
        Qnn_DataType_t dt;
        if (ps->kind == QNN_PARAMTYPE_SCALAR) {
            dt = p->scalarParam.dataType;
        } else {
            uint32_t pi;
            snprintf(what, sizeof what, "node '%s' (%s): parameter '%s'", nm, ty, pn);
            e = lookup(g, &p->tensorParam, what, &pi, err, cap);
            if (e)
                return e;
            if (T[pi].type != QNN_TENSOR_TYPE_STATIC)
                return NFAIL(QNN_GRAPH_ERROR_INVALID_OP_CONFIG,
                             "parameter '%s': tensor '%s' is %s, not STATIC", pn, T[pi].name,
                             qe_ttype_name(T[pi].type));
            if (T[pi].rank != 1)
                return NFAIL(QNN_GRAPH_ERROR_INVALID_OP_CONFIG,
                             "parameter '%s': tensor rank %u, expected 1", pn, T[pi].rank);
            dt = T[pi].dtype;
        }
        if (dt != ps->dtype)
            return NFAIL(QNN_GRAPH_ERROR_INVALID_OP_CONFIG, "parameter '%s' is %s, expected %s", pn,
                         qe_dtype_name(dt), qe_dtype_name(ps->dtype));
        pv[k] = p;
    }
    for (int j = 0; j < 3 && spec->params[j].name; j++)
        if (spec->params[j].mandatory && !seen[j])
            return NFAIL(QNN_GRAPH_ERROR_INVALID_OP_CONFIG, "mandatory parameter '%s' missing",
                         spec->params[j].name);

    /* input data types */
    const qe_tensor *a = &T[in[0]];
    Qnn_DataType_t odt = QNN_DATATYPE_FLOAT_32;
    switch (spec->op) {
    case OP_RESHAPE: odt = a->dtype; break;
    case OP_CONCAT:
        odt = a->dtype;
        for (uint32_t i = 1; i < c->numOfInputs; i++)
            if (T[in[i]].dtype != odt)
                return NFAIL(QNN_GRAPH_ERROR_INVALID_OP_CONFIG,
                             "input %u '%s' is %s, input 0 is %s", i, T[in[i]].name,
                             qe_dtype_name(T[in[i]].dtype), qe_dtype_name(odt));
        break;
    case OP_GATHER:
        odt = a->dtype;
        if (T[in[1]].dtype != QNN_DATATYPE_INT_32 && T[in[1]].dtype != QNN_DATATYPE_UINT_32)
            return NFAIL(QNN_GRAPH_ERROR_INVALID_OP_CONFIG,
                         "input 1 (indices) '%s' is %s, expected INT_32 or UINT_32", T[in[1]].name,
                         qe_dtype_name(T[in[1]].dtype));
        break;
    default:
        for (uint32_t i = 0; i < c->numOfInputs; i++)
            if (T[in[i]].dtype != QNN_DATATYPE_FLOAT_32)
                return NFAIL(QNN_GRAPH_ERROR_INVALID_OP_CONFIG,
                             "input %u '%s' is %s, expected FLOAT_32", i, T[in[i]].name,
                             qe_dtype_name(T[in[i]].dtype));
        break;
    }

    /* shape inference */
    uint32_t od[QE_MAX_RANK];
    uint32_t orank = 0;
    char d0[128], d1[128];
    switch (spec->op) {
    case OP_MATMUL: {
        const qe_tensor *b = &T[in[1]];
        nd.t0 = pv[0] && pv[0]->scalarParam.bool8Value;
        nd.t1 = pv[1] && pv[1]->scalarParam.bool8Value;
        if (a->rank < 2 || b->rank < 2)
            return NFAIL(QNN_GRAPH_ERROR_INVALID_OP_CONFIG, "input ranks %u and %u, need >= 2",
                         a->rank, b->rank);
        uint32_t M = nd.t0 ? a->dims[a->rank - 1] : a->dims[a->rank - 2];
        uint32_t K = nd.t0 ? a->dims[a->rank - 2] : a->dims[a->rank - 1];
        uint32_t K2 = nd.t1 ? b->dims[b->rank - 1] : b->dims[b->rank - 2];
        uint32_t N = nd.t1 ? b->dims[b->rank - 2] : b->dims[b->rank - 1];
        if (K != K2)
            return NFAIL(
                QNN_GRAPH_ERROR_INVALID_OP_CONFIG, "inner dims differ: in[0] %s%s, in[1] %s%s",
                qe_dims_str(a->dims, a->rank, d0, sizeof d0), nd.t0 ? " (transposed)" : "",
                qe_dims_str(b->dims, b->rank, d1, sizeof d1), nd.t1 ? " (transposed)" : "");
        if (!broadcast(a->dims, a->rank - 2, b->dims, b->rank - 2, od, &orank))
            return NFAIL(QNN_GRAPH_ERROR_INVALID_OP_CONFIG,
                         "batch dims of %s and %s do not broadcast",
                         qe_dims_str(a->dims, a->rank, d0, sizeof d0),
                         qe_dims_str(b->dims, b->rank, d1, sizeof d1));
        od[orank++] = M;
        od[orank++] = N;
        if (c->numOfInputs == 3) {
            const qe_tensor *bias = &T[in[2]];
            if (bias->rank != 1 || bias->dims[0] != N)
                return NFAIL(QNN_GRAPH_ERROR_INVALID_OP_CONFIG, "bias dims %s, expected [%u]",
                             qe_dims_str(bias->dims, bias->rank, d0, sizeof d0), N);
        }
        break;
    }
    case OP_ADD:
    case OP_MUL:
    case OP_DIV: {
        const qe_tensor *b = &T[in[1]];
        if (!broadcast(a->dims, a->rank, b->dims, b->rank, od, &orank))
            return NFAIL(QNN_GRAPH_ERROR_INVALID_OP_CONFIG, "dims %s and %s do not broadcast",
                         qe_dims_str(a->dims, a->rank, d0, sizeof d0),
                         qe_dims_str(b->dims, b->rank, d1, sizeof d1));
        break;
    }
    case OP_SQRT:
    case OP_SIGMOID:
        orank = a->rank;
        memcpy(od, a->dims, sizeof od);
        break;
    case OP_REDUCE_MEAN: {
        uint32_t pi = pv[0]->tensorParam.v1.id - 1;
        const uint32_t *ax = T[pi].data;
        nd.keep = pv[1] && pv[1]->scalarParam.bool8Value;
        nd.naxes = (uint32_t)T[pi].count;
        for (uint32_t i = 0; i < nd.naxes; i++) {
            if (ax[i] >= a->rank)
                return NFAIL(QNN_GRAPH_ERROR_INVALID_OP_CONFIG, "axes[%u] = %u, rank is %u", i,
                             ax[i], a->rank);
            if (nd.reduce[ax[i]])
                return NFAIL(QNN_GRAPH_ERROR_INVALID_OP_CONFIG, "axis %u repeated in axes", ax[i]);
            nd.reduce[ax[i]] = true;
        }
        for (uint32_t i = 0; i < a->rank; i++) {
            if (!nd.reduce[i])
                od[orank++] = a->dims[i];
            else if (nd.keep)
                od[orank++] = 1;
        }
        break;
    }
    case OP_RESHAPE:
        if (o->count != a->count)
            return NFAIL(QNN_GRAPH_ERROR_INVALID_OP_CONFIG,
                         "output dims %s hold %zu elements, input %s holds %zu",
                         qe_dims_str(o->dims, o->rank, d0, sizeof d0), o->count,
                         qe_dims_str(a->dims, a->rank, d1, sizeof d1), a->count);
        orank = o->rank;
        memcpy(od, o->dims, sizeof od);
        break;
    case OP_CONCAT: {
        nd.axis = pv[0] ? pv[0]->scalarParam.uint32Value : a->rank - 1;
        if (nd.axis >= a->rank)
            return NFAIL(QNN_GRAPH_ERROR_INVALID_OP_CONFIG, "axis %u, rank is %u", nd.axis,
                         a->rank);
        orank = a->rank;
        memcpy(od, a->dims, sizeof od);
        for (uint32_t i = 1; i < c->numOfInputs; i++) {
            const qe_tensor *b = &T[in[i]];
            bool ok = b->rank == a->rank;
            for (uint32_t j = 0; ok && j < a->rank; j++)
                ok = j == nd.axis || b->dims[j] == a->dims[j];
            if (!ok)
                return NFAIL(QNN_GRAPH_ERROR_INVALID_OP_CONFIG,
                             "input %u dims %s do not match input 0 %s off axis %u", i,
                             qe_dims_str(b->dims, b->rank, d0, sizeof d0),
                             qe_dims_str(a->dims, a->rank, d1, sizeof d1), nd.axis);
            od[nd.axis] += b->dims[nd.axis];
        }
        break;
    }
    case OP_SOFTMAX:
        nd.axis = pv[0] ? pv[0]->scalarParam.uint32Value : a->rank - 1;
        nd.beta = pv[1] ? pv[1]->scalarParam.floatValue : 1.0f;
        if (nd.axis >= a->rank)
            return NFAIL(QNN_GRAPH_ERROR_INVALID_OP_CONFIG, "axis %u, rank is %u", nd.axis,
                         a->rank);
        orank = a->rank;
        memcpy(od, a->dims, sizeof od);
        break;
    case OP_GATHER: {
        const qe_tensor *ix = &T[in[1]];
        int32_t ax = pv[0] ? pv[0]->scalarParam.int32Value : 0;
        if (ax < -(int32_t)a->rank || ax >= (int32_t)a->rank)
            return NFAIL(QNN_GRAPH_ERROR_INVALID_OP_CONFIG, "axis %d, rank is %u", ax, a->rank);
        nd.axis = (uint32_t)(ax < 0 ? ax + (int32_t)a->rank : ax);
        if (a->rank + ix->rank - 1 > QE_MAX_RANK)
            return NFAIL(QNN_GRAPH_ERROR_INVALID_OP_CONFIG, "output rank %u > %d",
                         a->rank + ix->rank - 1, QE_MAX_RANK);
        for (uint32_t i = 0; i < nd.axis; i++)
            od[orank++] = a->dims[i];
        for (uint32_t i = 0; i < ix->rank; i++)
            od[orank++] = ix->dims[i];
        for (uint32_t i = nd.axis + 1; i < a->rank; i++)
            od[orank++] = a->dims[i];
        break;
    }
    }
    if (o->dtype != odt)
        return NFAIL(QNN_GRAPH_ERROR_INVALID_OP_CONFIG, "output '%s' is %s, inferred %s", o->name,
                     qe_dtype_name(o->dtype), qe_dtype_name(odt));
    bool same = orank == o->rank;
    for (uint32_t i = 0; same && i < orank; i++)
        same = od[i] == o->dims[i];
    if (!same)
        return NFAIL(QNN_GRAPH_ERROR_INVALID_OP_CONFIG, "output dims %s, inferred %s",
                     qe_dims_str(o->dims, o->rank, d0, sizeof d0),
                     qe_dims_str(od, orank, d1, sizeof d1));
#undef NFAIL

    /* record */
    if (g->nn == g->cn) {
        uint32_t nc = g->cn ? g->cn * 2 : 64;
        qe_node *nn = realloc(g->n, nc * sizeof *nn);
        if (!nn)
            return fail(err, cap, QNN_COMMON_ERROR_MEM_ALLOC, "out of memory");
        g->n = nn;
        g->cn = nc;
    }
    nd.name = dupstr(nm);
    nd.in = malloc(c->numOfInputs * sizeof *nd.in);
    if (!nd.name || !nd.in) {
        free(nd.name);
        free(nd.in);
        return fail(err, cap, QNN_COMMON_ERROR_MEM_ALLOC, "out of memory");
    }
    nd.nin = c->numOfInputs;
    memcpy(nd.in, in, c->numOfInputs * sizeof *nd.in);
    nd.out = out;
    for (uint32_t i = 0; i < nd.nin; i++)
        g->t[in[i]].used = true;
    g->t[out].producer = g->nn;
    g->n[g->nn++] = nd;
    return QNN_SUCCESS;
}

/* ---- finalize ---------------------------------------------------------- */

Qnn_ErrorHandle_t qe_finalize(qe_graph *g, char *err, size_t cap)
{
    if (!g)
        return fail(err, cap, QNN_GRAPH_ERROR_INVALID_HANDLE, "NULL graph");
    if (g->finalized)
        return fail(err, cap, QNN_GRAPH_ERROR_GRAPH_FINALIZED, "graph '%s' is already finalized",
                    g->name);
    if (g->nn == 0)
        return fail(err, cap, QNN_GRAPH_ERROR_FINALIZE_FAILED, "graph '%s' has no nodes", g->name);
    for (uint32_t i = 0; i < g->nt; i++) {
        const qe_tensor *t = &g->t[i];
        if ((t->type == QNN_TENSOR_TYPE_NATIVE && t->used) || t->type == QNN_TENSOR_TYPE_APP_READ) {
            if (t->producer < 0)
                return fail(err, cap, QNN_GRAPH_ERROR_UNCONNECTED_NODE,
                            "graph '%s': %s tensor '%s' has no producer", g->name,
                            qe_ttype_name(t->type), t->name);
        }
    }
    /* Kahn's algorithm over tensors produced by nodes; stable in add order */
    uint32_t *order = malloc(g->nn * sizeof *order);
    bool *done = calloc(g->nt, sizeof *done);
    if (!order || !done) {
        free(order);
        free(done);
        return fail(err, cap, QNN_COMMON_ERROR_MEM_ALLOC, "out of memory");
    }
    for (uint32_t i = 0; i < g->nt; i++)
        done[i] = g->t[i].producer < 0;
    uint32_t no = 0;
    bool progress = true;
    bool *placed = calloc(g->nn, sizeof *placed);
    if (!placed) {
        free(order);
        free(done);
        return fail(err, cap, QNN_COMMON_ERROR_MEM_ALLOC, "out of memory");
    }
    while (no < g->nn && progress) {
        progress = false;
        for (uint32_t i = 0; i < g->nn; i++) {
            if (placed[i])
                continue;
            bool ready = true;
            for (uint32_t j = 0; ready && j < g->n[i].nin; j++)
                ready = done[g->n[i].in[j]];
            if (!ready)
                continue;
            placed[i] = true;
            done[g->n[i].out] = true;
            order[no++] = i;
            progress = true;
        }
    }
    free(done);
    if (no < g->nn) {
        uint32_t bad = 0;
        while (placed[bad])
            bad++;
        free(placed);
        free(order);
        return fail(err, cap, QNN_GRAPH_ERROR_FINALIZE_FAILED,
                    "graph '%s': node '%s' is on a cycle", g->name, g->n[bad].name);
    }
    free(placed);
    for (uint32_t i = 0; i < g->nt; i++) {
        qe_tensor *t = &g->t[i];
        if (t->type == QNN_TENSOR_TYPE_STATIC)
            continue;
        t->data = calloc(t->count, 4);
        if (!t->data) {
            free(order);
            return fail(err, cap, QNN_COMMON_ERROR_MEM_ALLOC, "out of memory");
        }
    }
    g->order = order;
    g->finalized = true;
    return QNN_SUCCESS;
}

/* ---- kernels ----------------------------------------------------------- */

/* odometer over dims of rank r; advances two offsets with strides */
static void step(const uint32_t *dims, uint32_t r, uint32_t *idx, const size_t *sa, size_t *oa,
                 const size_t *sb, size_t *ob)
{
    for (uint32_t i = r; i-- > 0;) {
        idx[i]++;
        *oa += sa[i];
        if (sb)
            *ob += sb[i];
        if (idx[i] < dims[i])
            return;
        *oa -= sa[i] * dims[i];
        if (sb)
            *ob -= sb[i] * dims[i];
        idx[i] = 0;
    }
}

static void k_binary(const qe_graph *g, const qe_node *n)
{
    const qe_tensor *a = &g->t[n->in[0]], *b = &g->t[n->in[1]], *o = &g->t[n->out];
    size_t sa[QE_MAX_RANK], sb[QE_MAX_RANK];
    uint32_t idx[QE_MAX_RANK] = {0};
    bstrides(a->dims, a->rank, o->rank, sa);
    bstrides(b->dims, b->rank, o->rank, sb);
    const float *x = a->data, *y = b->data;
    float *z = o->data;
    size_t ia = 0, ib = 0;
    for (size_t i = 0; i < o->count; i++) {
        float u = x[ia], v = y[ib];
        z[i] = n->op == OP_ADD ? u + v : n->op == OP_MUL ? u * v : u / v;
        step(o->dims, o->rank, idx, sa, &ia, sb, &ib);
    }
}

static void k_matmul(const qe_graph *g, const qe_node *n)
{
    const qe_tensor *a = &g->t[n->in[0]], *b = &g->t[n->in[1]], *o = &g->t[n->out];
    uint32_t M = o->dims[o->rank - 2], N = o->dims[o->rank - 1];
    uint32_t K = n->t0 ? a->dims[a->rank - 2] : a->dims[a->rank - 1];
    uint32_t br = o->rank - 2;
    size_t sa[QE_MAX_RANK], sb[QE_MAX_RANK];
    uint32_t idx[QE_MAX_RANK] = {0};
    bstrides(a->dims, a->rank - 2, br, sa);
    bstrides(b->dims, b->rank - 2, br, sb);
    size_t nbatch = o->count / ((size_t)M * N);
    const float *A = a->data, *B = b->data;
    const float *bias = n->nin == 3 ? g->t[n->in[2]].data : NULL;
    float *Z = o->data;
    size_t ia = 0, ib = 0;
    for (size_t bt = 0; bt < nbatch; bt++) {
        const float *pa = A + ia * (size_t)M * K, *pb = B + ib * (size_t)K * N;
        float *pz = Z + bt * (size_t)M * N;
        for (uint32_t m = 0; m < M; m++)
            for (uint32_t j = 0; j < N; j++) {
                float acc = 0.0f;
                for (uint32_t k = 0; k < K; k++) {
                    float u = n->t0 ? pa[(size_t)k * M + m] : pa[(size_t)m * K + k];
                    float v = n->t1 ? pb[(size_t)j * K + k] : pb[(size_t)k * N + j];
                    acc += u * v;
                }
                pz[(size_t)m * N + j] = bias ? acc + bias[j] : acc;
            }
        if (br)
            step(o->dims, br, idx, sa, &ia, sb, &ib);
    }
}

static void k_unary(const qe_graph *g, const qe_node *n)
{
    const qe_tensor *a = &g->t[n->in[0]], *o = &g->t[n->out];
    const float *x = a->data;
    float *z = o->data;
    for (size_t i = 0; i < o->count; i++)
        z[i] = n->op == OP_SQRT ? sqrtf(x[i]) : 1.0f / (1.0f + expf(-x[i]));
}

static void k_reduce_mean(const qe_graph *g, const qe_node *n)
{
    const qe_tensor *a = &g->t[n->in[0]], *o = &g->t[n->out];
    /* output strides over the input's dims (0 on reduced axes) */
    size_t so[QE_MAX_RANK], s = 1;
    for (uint32_t i = a->rank; i-- > 0;) {
        so[i] = n->reduce[i] ? 0 : s;
        if (!n->reduce[i])
            s *= a->dims[i];
    }
    const float *x = a->data;
    float *z = o->data;
    memset(z, 0, o->count * sizeof *z);
    uint32_t idx[QE_MAX_RANK] = {0};
    size_t io = 0;
    for (size_t i = 0; i < a->count; i++) {
        z[io] += x[i];
        step(a->dims, a->rank, idx, so, &io, NULL, NULL);
    }
    float div = (float)(a->count / o->count);
    for (size_t i = 0; i < o->count; i++)
        z[i] /= div;
}

static void k_concat(const qe_graph *g, const qe_node *n)
{
    const qe_tensor *o = &g->t[n->out];
    size_t outer = 1, inner = 1;
    for (uint32_t i = 0; i < n->axis; i++)
        outer *= o->dims[i];
    for (uint32_t i = n->axis + 1; i < o->rank; i++)
        inner *= o->dims[i];
    uint32_t *z = o->data;
    size_t orow = (size_t)o->dims[n->axis] * inner;
    size_t off = 0;
    for (uint32_t k = 0; k < n->nin; k++) {
        const qe_tensor *a = &g->t[n->in[k]];
        size_t row = (size_t)a->dims[n->axis] * inner;
        const uint32_t *x = a->data;
        for (size_t r = 0; r < outer; r++)
            memcpy(z + r * orow + off, x + r * row, row * 4);
        off += row;
    }
}

static void k_softmax(const qe_graph *g, const qe_node *n)
{
    const qe_tensor *a = &g->t[n->in[0]], *o = &g->t[n->out];
    size_t outer = 1, inner = 1, len = a->dims[n->axis];
    for (uint32_t i = 0; i < n->axis; i++)
        outer *= a->dims[i];
    for (uint32_t i = n->axis + 1; i < a->rank; i++)
        inner *= a->dims[i];
    const float *x = a->data;
    float *z = o->data;
    for (size_t r = 0; r < outer; r++)
        for (size_t c = 0; c < inner; c++) {
            size_t base = r * len * inner + c;
            float mx = -INFINITY;
            for (size_t k = 0; k < len; k++) {
                float v = n->beta * x[base + k * inner];
                if (v > mx)
                    mx = v;
            }
            float sum = 0.0f;
            for (size_t k = 0; k < len; k++) {
                float e = expf(n->beta * x[base + k * inner] - mx);
                z[base + k * inner] = e;
                sum += e;
            }
            for (size_t k = 0; k < len; k++)
                z[base + k * inner] /= sum;
        }
}

static Qnn_ErrorHandle_t k_gather(const qe_graph *g, const qe_node *n, char *err, size_t cap)
{
    const qe_tensor *a = &g->t[n->in[0]], *ix = &g->t[n->in[1]], *o = &g->t[n->out];
    size_t outer = 1, inner = 1;
    uint32_t d = a->dims[n->axis];
    for (uint32_t i = 0; i < n->axis; i++)
        outer *= a->dims[i];
    for (uint32_t i = n->axis + 1; i < a->rank; i++)
        inner *= a->dims[i];
    const uint32_t *x = a->data;
    uint32_t *z = o->data;
    const int32_t *is = ix->data;
    const uint32_t *iu = ix->data;
    bool sgn = ix->dtype == QNN_DATATYPE_INT_32;
    for (size_t r = 0; r < outer; r++)
        for (size_t k = 0; k < ix->count; k++) {
            int64_t v = sgn ? (int64_t)is[k] : (int64_t)iu[k];
            if (v < -(int64_t)d || v >= (int64_t)d)
                return fail(err, cap, QNN_COMMON_ERROR_INVALID_ARGUMENT,
                            "node '%s' (Gather): index %lld at %zu out of range [%d, %u)", n->name,
                            (long long)v, k, -(int)d, d);
            if (v < 0)
                v += d;
            memcpy(z + (r * ix->count + k) * inner, x + (r * d + (size_t)v) * inner, inner * 4);
        }
    return QNN_SUCCESS;
}

/* ---- execute ----------------------------------------------------------- */

static Qnn_ErrorHandle_t check_buf(const qe_graph *g, const Qnn_Tensor_t *r, const char *what,
                                   Qnn_TensorType_t want, uint32_t *idx, char *err, size_t cap)
{
    Qnn_ErrorHandle_t e = lookup(g, r, what, idx, err, cap);
    if (e)
        return e;
    const qe_tensor *t = &g->t[*idx];
    if (t->type != want)
        return fail(err, cap, QNN_GRAPH_ERROR_INVALID_TENSOR, "%s: tensor '%s' is %s, not %s", what,
                    t->name, qe_ttype_name(t->type), qe_ttype_name(want));
    if (r->v1.memType != QNN_TENSORMEMTYPE_RAW)
        return fail(err, cap, QNN_GRAPH_ERROR_INVALID_TENSOR,
                    "%s: tensor '%s' memType %u (only RAW)", what, t->name,
                    (unsigned)r->v1.memType);
    if (r->v1.dimensions) {
        bool same = r->v1.rank == t->rank;
        for (uint32_t i = 0; same && i < t->rank; i++)
            same = r->v1.dimensions[i] == t->dims[i];
        if (!same) {
            char d0[128], d1[128];
            return fail(err, cap, QNN_GRAPH_ERROR_INVALID_TENSOR,
                        "%s: tensor '%s' dims %s, created %s", what, t->name,
                        qe_dims_str(r->v1.dimensions, r->v1.rank, d0, sizeof d0),
                        qe_dims_str(t->dims, t->rank, d1, sizeof d1));
        }
    }
    if (!r->v1.clientBuf.data || r->v1.clientBuf.dataSize != t->count * 4)
        return fail(err, cap, QNN_GRAPH_ERROR_INVALID_TENSOR,
                    "%s: tensor '%s' clientBuf.dataSize %u, expected %zu%s", what, t->name,
                    r->v1.clientBuf.dataSize, t->count * 4,
                    r->v1.clientBuf.data ? "" : " (data NULL)");
    return QNN_SUCCESS;
}

Qnn_ErrorHandle_t qe_execute(qe_graph *g, const Qnn_Tensor_t *inputs, uint32_t num_inputs,
                             Qnn_Tensor_t *outputs, uint32_t num_outputs, char *err, size_t cap)
{
    if (!g)
        return fail(err, cap, QNN_GRAPH_ERROR_INVALID_HANDLE, "NULL graph");
    if (!g->finalized)
        return fail(err, cap, QNN_GRAPH_ERROR_GRAPH_NOT_FINALIZED, "graph '%s' is not finalized",
                    g->name);
    if ((num_inputs && !inputs) || (num_outputs && !outputs))
        return fail(err, cap, QNN_GRAPH_ERROR_INVALID_ARGUMENT, "NULL inputs or outputs");
    uint32_t nw = 0, nr = 0;
    for (uint32_t i = 0; i < g->nt; i++) {
        nw += g->t[i].type == QNN_TENSOR_TYPE_APP_WRITE;
        nr += g->t[i].type == QNN_TENSOR_TYPE_APP_READ;
    }
    bool *given = calloc(g->nt ? g->nt : 1, sizeof *given);
    if (!given)
        return fail(err, cap, QNN_COMMON_ERROR_MEM_ALLOC, "out of memory");
    Qnn_ErrorHandle_t e = QNN_SUCCESS;
    char what[64];
    for (uint32_t i = 0; i < num_inputs && !e; i++) {
        uint32_t idx;
        snprintf(what, sizeof what, "input %u", i);
        e = check_buf(g, &inputs[i], what, QNN_TENSOR_TYPE_APP_WRITE, &idx, err, cap);
        if (!e && given[idx])
            e = fail(err, cap, QNN_GRAPH_ERROR_INVALID_TENSOR, "input %u: tensor '%s' given twice",
                     i, g->t[idx].name);
        if (!e)
            given[idx] = true;
    }
    for (uint32_t i = 0; i < num_outputs && !e; i++) {
        uint32_t idx;
        snprintf(what, sizeof what, "output %u", i);
        e = check_buf(g, &outputs[i], what, QNN_TENSOR_TYPE_APP_READ, &idx, err, cap);
        if (!e && given[idx])
            e = fail(err, cap, QNN_GRAPH_ERROR_INVALID_TENSOR, "output %u: tensor '%s' given twice",
                     i, g->t[idx].name);
        if (!e)
            given[idx] = true;
    }
    for (uint32_t i = 0; i < g->nt && !e; i++)
        if (!given[i] &&
            (g->t[i].type == QNN_TENSOR_TYPE_APP_WRITE || g->t[i].type == QNN_TENSOR_TYPE_APP_READ))
            e = fail(err, cap, QNN_GRAPH_ERROR_INVALID_TENSOR,
                     "graph '%s': %s tensor '%s' not given (%u inputs and %u outputs expected, %u "
                     "and %u given)",
                     g->name, qe_ttype_name(g->t[i].type), g->t[i].name, nw, nr, num_inputs,
                     num_outputs);
    free(given);
    if (e)
        return e;
    for (uint32_t i = 0; i < num_inputs; i++) {
        qe_tensor *t = &g->t[inputs[i].v1.id - 1];
        memcpy(t->data, inputs[i].v1.clientBuf.data, t->count * 4);
    }
    for (uint32_t s = 0; s < g->nn; s++) {
        const qe_node *n = &g->n[g->order[s]];
        switch (n->op) {
        case OP_MATMUL: k_matmul(g, n); break;
        case OP_ADD:
        case OP_MUL:
        case OP_DIV: k_binary(g, n); break;
        case OP_SQRT:
        case OP_SIGMOID: k_unary(g, n); break;
        case OP_REDUCE_MEAN: k_reduce_mean(g, n); break;
        case OP_RESHAPE:
            memcpy(g->t[n->out].data, g->t[n->in[0]].data, g->t[n->out].count * 4);
            break;
        case OP_CONCAT: k_concat(g, n); break;
        case OP_SOFTMAX: k_softmax(g, n); break;
        case OP_GATHER:
            e = k_gather(g, n, err, cap);
            if (e)
                return e;
            break;
        }
    }
    for (uint32_t i = 0; i < num_outputs; i++) {
        const qe_tensor *t = &g->t[outputs[i].v1.id - 1];
        memcpy(outputs[i].v1.clientBuf.data, t->data, t->count * 4);
    }
    return QNN_SUCCESS;
}
