/* qnn_graph.c — a model as a QNN graph, through the interface table's
 * slots and libffi (see qnn_graph.h).
 *
 * The structs below are those of the public QNN 2.x headers (QnnTypes.h,
 * QnnGraph.h, HTP/QnnHtpGraph.h) on LP64, pinned by static asserts; the
 * slot indices are those of QnnInterface_ImplementationV2_x_t. Operations
 * are QnnOpDef.h's, of package "qti.aisw": MatMul, ElementWiseAdd,
 * ElementWiseMultiply, ElementWiseDivide, ElementWiseSquareRoot, Sigmoid,
 * ReduceMean, Reshape, Concat, Softmax, Gather. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "qnn_graph.h"

#include "sysfs.h"

#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the headers' types ------------------------------------------------------ */

enum {
    QDT_INT_32 = 0x0032,
    QDT_UINT_32 = 0x0132,
    QDT_FLOAT_16 = 0x0216,
    QDT_FLOAT_32 = 0x0232,
    QDT_BOOL_8 = 0x0508,
};
enum { QTT_APP_WRITE = 0, QTT_APP_READ = 1, QTT_NATIVE = 3, QTT_STATIC = 4 };
enum { QPARAM_SCALAR = 0, QPARAM_TENSOR = 1 };
#define Q_UNDEFINED 0x7fffffffu

/* Qnn_QuantizeParams_t: encodingDefinition, quantizationEncoding, and a
 * union whose largest member (Qnn_BwAxisScaleOffset_t) is 32 bytes. */
typedef struct q_quant {
    uint32_t definition, encoding;
    union {
        struct {
            uint32_t bitwidth;
            int32_t axis;
            uint32_t n;
            float *scales;
            int32_t *offsets;
        } largest;
    } u;
} q_quant;

/* Qnn_Tensor_t, version 1. The union also holds Qnn_TensorV2_t (136
 * bytes: version 1's fields, isDynamicDimensions, sparseParams,
 * isProduced), which sets the struct's size: the stride of the arrays the
 * backend reads. */
typedef struct q_tensor {
    uint32_t version; /* QNN_TENSOR_VERSION_1 */
    union {
    struct {
        uint32_t id;
        const char *name;
        uint32_t type, data_format, data_type;
        q_quant quant;
        uint32_t rank;
        uint32_t *dims;
        uint32_t mem_type; /* QNN_TENSORMEMTYPE_RAW */
        union {
            struct {
                void *data;
                uint32_t size;
            } buf;
            void *mem_handle;
        } u;
    } v1;
    unsigned char v2_space[136];
    };
} q_tensor;

/* Qnn_Scalar_t: its union holds double, 64-bit integers and a string
 * pointer too, so the value sits at offset 8. */
typedef struct q_scalar {
    uint32_t data_type;
    union {
        float f;
        uint32_t u32;
        int32_t i32;
        uint8_t b8;
        double d;
        uint64_t u64;
        const char *s;
    } u;
} q_scalar;

/* Qnn_Param_t */
typedef struct q_param {
    uint32_t type;
    const char *name;
    union {
        q_scalar scalar;
        q_tensor tensor;
    } u;
} q_param;

/* Qnn_OpConfig_t, version 1 */
typedef struct q_op {
    uint32_t version; /* QNN_OPCONFIG_VERSION_1 */
    struct {
        const char *name, *package, *type;
        uint32_t n_params;
        q_param *params;
        uint32_t n_in;
        q_tensor *in;
        uint32_t n_out;
        q_tensor *out;
    } v1;
} q_op;

/* QnnGraph_Config_t { option; union { QnnGraph_CustomConfig_t customConfig; ... } } */
typedef struct q_graph_config {
    uint32_t option; /* QNN_GRAPH_CONFIG_OPTION_CUSTOM = 0 */
    union {
        const void *custom;
        uint64_t pad;
    } u;
} q_graph_config;

/* QnnHtpGraph_CustomConfig_t { option; union { ...; Qnn_Precision_t precision;
 * uint64_t numHvxThreads; } } */
typedef struct q_htp_graph_config {
    uint32_t option; /* QNN_HTP_GRAPH_CONFIG_OPTION_PRECISION = 2 */
    union {
        uint32_t precision; /* QNN_PRECISION_FLOAT16 = 1 */
        uint64_t pad;
    } u;
} q_htp_graph_config;

#if defined(__LP64__) || defined(_LP64)
ARIA_STATIC_ASSERT(sizeof(q_quant) == 40, "Qnn_QuantizeParams_t");
ARIA_STATIC_ASSERT(sizeof(q_tensor) == 144, "Qnn_Tensor_t");
ARIA_STATIC_ASSERT(sizeof(q_scalar) == 16 && offsetof(q_scalar, u) == 8, "Qnn_Scalar_t");
ARIA_STATIC_ASSERT(offsetof(q_tensor, v1.quant) == 40, "Qnn_TensorV1_t quantizeParams");
ARIA_STATIC_ASSERT(offsetof(q_tensor, v1.rank) == 80, "Qnn_TensorV1_t rank");
ARIA_STATIC_ASSERT(offsetof(q_tensor, v1.dims) == 88, "Qnn_TensorV1_t dimensions");
ARIA_STATIC_ASSERT(offsetof(q_tensor, v1.u) == 104, "Qnn_TensorV1_t clientBuf");
ARIA_STATIC_ASSERT(sizeof(q_param) == 160, "Qnn_Param_t");
ARIA_STATIC_ASSERT(offsetof(q_param, u) == 16, "Qnn_Param_t union");
ARIA_STATIC_ASSERT(sizeof(q_op) == 80, "Qnn_OpConfig_t");
ARIA_STATIC_ASSERT(offsetof(q_op, v1.out) == 72, "Qnn_OpConfigV1_t outputTensors");
ARIA_STATIC_ASSERT(sizeof(q_htp_graph_config) == 16, "QnnHtpGraph_CustomConfig_t");
#endif

/* Qnn_OpConfig_t by value, for libffi: the same members, flattened (the
 * union of version 1 starts where its pointer alignment puts it). */
static ffi_type *q_op_elems[] = {&ffi_type_uint32,  &ffi_type_pointer, &ffi_type_pointer,
                                 &ffi_type_pointer, &ffi_type_uint32,  &ffi_type_pointer,
                                 &ffi_type_uint32,  &ffi_type_pointer, &ffi_type_uint32,
                                 &ffi_type_pointer, NULL};
static ffi_type q_op_type = {.size = 0, .alignment = 0, .type = FFI_TYPE_STRUCT,
                             .elements = q_op_elems};

/* ---- the slots ---------------------------------------------------------------- */

enum {
    QS_BACKEND_CREATE = 1,
    QS_BACKEND_FREE = 8,
    QS_CONTEXT_CREATE = 9,
    QS_CONTEXT_FREE = 14,
    QS_GRAPH_CREATE = 15,
    QS_GRAPH_ADD_NODE = 18,
    QS_GRAPH_FINALIZE = 19,
    QS_GRAPH_EXECUTE = 21,
    QS_TENSOR_CREATE_GRAPH = 24,
    QS_DEVICE_CREATE = 40,
    QS_DEVICE_FREE = 43,
};

enum {
    F_BACKEND_CREATE,
    F_BACKEND_FREE,
    F_CONTEXT_CREATE,
    F_CONTEXT_FREE,
    F_GRAPH_CREATE,
    F_GRAPH_FINALIZE,
    F_GRAPH_EXECUTE,
    F_TENSOR_CREATE,
    F_DEVICE_CREATE,
    F_DEVICE_FREE,
    F_ADD_NODE, /* prepared with the struct type */
    F_N
};

static const struct {
    int slot;
    const char *name, *sig;
    int optional;
} q_fns[F_N] = {
    /* Qnn_ErrorHandle_t QnnBackend_create(Qnn_LogHandle_t logger,
     *     const QnnBackend_Config_t **config, Qnn_BackendHandle_t *backend) */
    [F_BACKEND_CREATE] = {QS_BACKEND_CREATE, "backendCreate", "U(ppp)", 0},
    /* Qnn_ErrorHandle_t QnnBackend_free(Qnn_BackendHandle_t backend) */
    [F_BACKEND_FREE] = {QS_BACKEND_FREE, "backendFree", "U(p)", 0},
    /* Qnn_ErrorHandle_t QnnContext_create(Qnn_BackendHandle_t backend,
     *     Qnn_DeviceHandle_t device, const QnnContext_Config_t **config,
     *     Qnn_ContextHandle_t *context) */
    [F_CONTEXT_CREATE] = {QS_CONTEXT_CREATE, "contextCreate", "U(pppp)", 0},
    /* Qnn_ErrorHandle_t QnnContext_free(Qnn_ContextHandle_t context,
     *     Qnn_ProfileHandle_t profile) */
    [F_CONTEXT_FREE] = {QS_CONTEXT_FREE, "contextFree", "U(pp)", 0},
    /* Qnn_ErrorHandle_t QnnGraph_create(Qnn_ContextHandle_t contextHandle,
     *     const char *graphName, const QnnGraph_Config_t **config,
     *     Qnn_GraphHandle_t *graphHandle) */
    [F_GRAPH_CREATE] = {QS_GRAPH_CREATE, "graphCreate", "U(pppp)", 0},
    /* Qnn_ErrorHandle_t QnnGraph_finalize(Qnn_GraphHandle_t graphHandle,
     *     Qnn_ProfileHandle_t profileHandle, Qnn_SignalHandle_t signalHandle) */
    [F_GRAPH_FINALIZE] = {QS_GRAPH_FINALIZE, "graphFinalize", "U(ppp)", 0},
    /* Qnn_ErrorHandle_t QnnGraph_execute(Qnn_GraphHandle_t graphHandle,
     *     const Qnn_Tensor_t *inputs, uint32_t numInputs, Qnn_Tensor_t *outputs,
     *     uint32_t numOutputs, Qnn_ProfileHandle_t profileHandle,
     *     Qnn_SignalHandle_t signalHandle) */
    [F_GRAPH_EXECUTE] = {QS_GRAPH_EXECUTE, "graphExecute", "U(ppupupp)", 0},
    /* Qnn_ErrorHandle_t QnnTensor_createGraphTensor(Qnn_GraphHandle_t graph,
     *     Qnn_Tensor_t *tensor) */
    [F_TENSOR_CREATE] = {QS_TENSOR_CREATE_GRAPH, "tensorCreateGraphTensor", "U(pp)", 0},
    /* Qnn_ErrorHandle_t QnnDevice_create(Qnn_LogHandle_t logger,
     *     const QnnDevice_Config_t **config, Qnn_DeviceHandle_t *device) */
    [F_DEVICE_CREATE] = {QS_DEVICE_CREATE, "deviceCreate", "U(ppp)", 1},
    /* Qnn_ErrorHandle_t QnnDevice_free(Qnn_DeviceHandle_t device) */
    [F_DEVICE_FREE] = {QS_DEVICE_FREE, "deviceFree", "U(p)", 1},
    /* Qnn_ErrorHandle_t QnnGraph_addNode(Qnn_GraphHandle_t graphHandle,
     *     Qnn_OpConfig_t opConfig)  -- the op config by value */
    [F_ADD_NODE] = {QS_GRAPH_ADD_NODE, "graphAddNode", NULL, 0},
};

/* ---- the model ---------------------------------------------------------------- */

/* One tensor made in the graph. */
typedef struct q_entry {
    uint32_t id, type, data_type, rank;
    uint32_t dims[NPU_MAX_RANK];
    char name[64];
} q_entry;

struct qng_model {
    npu_ffi_fn f[F_N];
    int has_f[F_N];
    void *backend, *device, *context, *graph;
    q_entry *t;
    size_t n_t, cap_t;
    void **bufs; /* data of the static tensors, kept until finalize */
    size_t n_bufs, cap_bufs;
    int64_t pend; /* a constant whose data the walk is still writing, or -1 */
    void *pend_data;
    size_t n_nodes, static_bytes;
    int failed;
    char msg[ARIA_MSG_MAX];
    /* the graph's inputs and outputs, as table indices */
    uint32_t C, L, Hkv, hd, V;
    int64_t in_ids, in_pos, in_mask, out_logits;
    int64_t *in_past, *out_present; /* [2L] */
    pthread_mutex_t mu;
    int mu_ok;
};

static void q_fail(qng_model *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void q_fail(qng_model *g, const char *fmt, ...)
{
    if (g->failed)
        return;
    g->failed = 1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g->msg, sizeof g->msg, fmt, ap);
    va_end(ap);
}

static uint64_t q_call(qng_model *g, int k, size_t n, void **args)
{
    npu_ffi_val r = {0};
    if (npu_ffi_call(&g->f[k], n, args, &r, NULL) != ARIA_OK)
        return ~0ull;
    return r.u;
}

static uint32_t q_dtype(int et)
{
    return et == NPU_I32 ? QDT_INT_32 : QDT_FLOAT_32;
}

/* The Qnn_Tensor_t of entry i, for a call: pointers into the table. */
static q_tensor q_view(qng_model *g, int64_t i)
{
    const q_entry *e = &g->t[i];
    q_tensor t;
    memset(&t, 0, sizeof t);
    t.version = 1;
    t.v1.id = e->id;
    t.v1.name = e->name;
    t.v1.type = e->type;
    t.v1.data_format = 0; /* QNN_TENSOR_DATA_FORMAT_FLAT_BUFFER */
    t.v1.data_type = e->data_type;
    t.v1.quant.definition = Q_UNDEFINED;
    t.v1.quant.encoding = Q_UNDEFINED;
    t.v1.rank = e->rank;
    t.v1.dims = (uint32_t *)e->dims;
    t.v1.mem_type = 0; /* QNN_TENSORMEMTYPE_RAW */
    return t;
}

static size_t q_bytes(const q_entry *e)
{
    size_t n = 4; /* every type used here is 4 bytes */
    for (uint32_t i = 0; i < e->rank; i++)
        n *= e->dims[i];
    return n;
}

/* A new entry; its tensor is made by q_make. */
static int64_t q_entry_new(qng_model *g, const char *name, uint32_t type, int et, int rank,
                           const int64_t *d)
{
    if (g->n_t == g->cap_t) {
        size_t cap = g->cap_t ? g->cap_t * 2 : 512;
        q_entry *t = realloc(g->t, cap * sizeof *t);
        if (!t) {
            q_fail(g, "out of memory");
            return -1;
        }
        g->t = t;
        g->cap_t = cap;
    }
    int64_t i = (int64_t)g->n_t++;
    q_entry *e = &g->t[i];
    memset(e, 0, sizeof *e);
    e->type = type;
    e->data_type = q_dtype(et);
    e->rank = (uint32_t)rank;
    for (int k = 0; k < rank; k++) {
        if (d[k] <= 0 || d[k] > UINT32_MAX)
            q_fail(g, "dimension %lld of tensor %s", (long long)d[k], name ? name : "?");
        e->dims[k] = (uint32_t)d[k];
    }
    /* graph inputs and outputs keep their names; the rest are numbered */
    if (type == QTT_APP_WRITE || type == QTT_APP_READ)
        npu_copy(e->name, sizeof e->name, name);
    else
        npu_fmt(e->name, sizeof e->name, "%.40s#%lld", name ? name : "t", (long long)i);
    return i;
}

/* Makes entry i's tensor in the graph, with data for a static one. */
static void q_make(qng_model *g, int64_t i, void *data)
{
    if (g->failed || i < 0)
        return;
    q_tensor t = q_view(g, i);
    if (data) {
        t.v1.u.buf.data = data;
        t.v1.u.buf.size = (uint32_t)q_bytes(&g->t[i]);
    }
    q_tensor *tp = &t;
    uint64_t e = q_call(g, F_TENSOR_CREATE, 2, (void *[]){&g->graph, &tp});
    if (e != 0) {
        q_fail(g, "tensorCreateGraphTensor '%s' failed (QNN error %u)", g->t[i].name, QNR_CODE(e));
        return;
    }
    g->t[i].id = t.v1.id;
}

/* The constant the walk was filling goes into the graph now. */
static void q_flush(qng_model *g)
{
    if (g->pend < 0)
        return;
    int64_t i = g->pend;
    g->pend = -1;
    q_make(g, i, g->pend_data);
    g->static_bytes += q_bytes(&g->t[i]);
    g->pend_data = NULL;
}

static npu_val q_val(int64_t i, int et, int rank, const int64_t *d)
{
    npu_val v = {.id = i, .et = et, .rank = rank};
    if (rank)
        memcpy(v.d, d, (size_t)rank * sizeof *d);
    return v;
}

static int q_io_index(const char *name, const char *prefix, uint32_t L)
{
    size_t pl = strlen(prefix);
    if (strncmp(name, prefix, pl) != 0 || name[pl] != '.')
        return -1;
    char *end;
    unsigned long l = strtoul(name + pl + 1, &end, 10);
    return *end || l >= L ? -1 : (int)l;
}

static npu_val b_input(void *bp, const char *name, int et, int rank, const int64_t *d)
{
    qng_model *g = bp;
    q_flush(g);
    int64_t i = q_entry_new(g, name, QTT_APP_WRITE, et, rank, d);
    q_make(g, i, NULL);
    int l;
    if (strcmp(name, "input_ids") == 0)
        g->in_ids = i;
    else if (strcmp(name, "position") == 0)
        g->in_pos = i;
    else if (strcmp(name, "attention_mask") == 0)
        g->in_mask = i;
    else if ((l = q_io_index(name, "past_key", g->L)) >= 0)
        g->in_past[2 * l] = i;
    else if ((l = q_io_index(name, "past_value", g->L)) >= 0)
        g->in_past[2 * l + 1] = i;
    else
        q_fail(g, "unknown graph input '%s'", name);
    return q_val(i, et, rank, d);
}

/* A buffer for a static tensor's data, kept until finalize. */
static void *q_keep(qng_model *g, size_t bytes)
{
    if (g->n_bufs == g->cap_bufs) {
        size_t cap = g->cap_bufs ? g->cap_bufs * 2 : 256;
        void **nb = realloc(g->bufs, cap * sizeof *nb);
        if (!nb)
            return NULL;
        g->bufs = nb;
        g->cap_bufs = cap;
    }
    void *buf = malloc(bytes ? bytes : 1);
    if (buf)
        g->bufs[g->n_bufs++] = buf;
    return buf;
}

static npu_val b_constant(void *bp, const char *name, int et, int rank, const int64_t *d,
                          void **data)
{
    qng_model *g = bp;
    q_flush(g);
    *data = NULL;
    if (et != NPU_F32 && et != NPU_I32) {
        q_fail(g, "constant %s of element type %d", name ? name : "?", et);
        return q_val(-1, et, rank, d);
    }
    /* QNN has no scalar static tensors for elementwise operands: rank 1 */
    const int64_t one[1] = {1};
    int64_t i = q_entry_new(g, name, QTT_STATIC, et, rank ? rank : 1, rank ? d : one);
    if (i < 0)
        return q_val(-1, et, rank, d);
    size_t bytes = q_bytes(&g->t[i]);
    void *buf = q_keep(g, bytes);
    if (!buf) {
        q_fail(g, "out of memory for %zu bytes of constants", bytes);
        return q_val(-1, et, rank, d);
    }
    g->pend = i;
    g->pend_data = buf;
    *data = buf;
    return rank ? q_val(i, et, rank, d) : q_val(i, et, 1, one);
}

static q_param q_scalar_param(const char *name, uint32_t dt, uint32_t u32, float f)
{
    q_param p;
    memset(&p, 0, sizeof p);
    p.type = QPARAM_SCALAR;
    p.name = name;
    p.u.scalar.data_type = dt;
    if (dt == QDT_FLOAT_32)
        p.u.scalar.u.f = f;
    else if (dt == QDT_BOOL_8)
        p.u.scalar.u.b8 = (uint8_t)u32;
    else
        p.u.scalar.u.u32 = u32;
    return p;
}

/* Adds one node: type, inputs (table indices), its output, params. */
static void q_node(qng_model *g, const char *name, const char *type, const int64_t *in, int n_in,
                   int64_t out, q_param *params, uint32_t n_params)
{
    if (g->failed)
        return;
    q_tensor ins[4], outs[1];
    for (int k = 0; k < n_in; k++) {
        if (in[k] < 0) {
            q_fail(g, "node %s: an input was never made", type);
            return;
        }
        ins[k] = q_view(g, in[k]);
    }
    outs[0] = q_view(g, out);
    char nm[80];
    npu_fmt(nm, sizeof nm, "%.48s#%zu", name ? name : type, g->n_nodes);
    q_op op;
    memset(&op, 0, sizeof op);
    op.version = 1;
    op.v1.name = nm;
    op.v1.package = "qti.aisw";
    op.v1.type = type;
    op.v1.n_params = n_params;
    op.v1.params = n_params ? params : NULL;
    op.v1.n_in = (uint32_t)n_in;
    op.v1.in = ins;
    op.v1.n_out = 1;
    op.v1.out = outs;
    uint64_t e = q_call(g, F_ADD_NODE, 2, (void *[]){&g->graph, &op});
    if (e != 0) {
        q_fail(g, "graphAddNode '%s' (%s) failed (QNN error %u)", nm, type, QNR_CODE(e));
        return;
    }
    g->n_nodes++;
}

static npu_val b_node(void *bp, const npu_node *n, const npu_val *out)
{
    qng_model *g = bp;
    q_flush(g);
    uint32_t type = n->output ? QTT_APP_READ : QTT_NATIVE;
    int64_t o = q_entry_new(g, n->output ? n->output : n->name, type, out->et, out->rank, out->d);
    q_make(g, o, NULL);
    int64_t in[2] = {n->in[0].id, n->n_in > 1 ? n->in[1].id : -1};
    q_param p[2];
    switch (n->op) {
    case NPU_ADD: q_node(g, n->name, "ElementWiseAdd", in, 2, o, NULL, 0); break;
    case NPU_MUL: q_node(g, n->name, "ElementWiseMultiply", in, 2, o, NULL, 0); break;
    case NPU_DIV: q_node(g, n->name, "ElementWiseDivide", in, 2, o, NULL, 0); break;
    case NPU_SQRT: q_node(g, n->name, "ElementWiseSquareRoot", in, 1, o, NULL, 0); break;
    case NPU_SILU: {
        int64_t sg = q_entry_new(g, "sigmoid", QTT_NATIVE, out->et, out->rank, out->d);
        q_make(g, sg, NULL);
        q_node(g, n->name, "Sigmoid", in, 1, sg, NULL, 0);
        int64_t both[2] = {in[0], sg};
        q_node(g, n->name, "ElementWiseMultiply", both, 2, o, NULL, 0);
        break;
    }
    case NPU_MATMUL:
        p[0] = q_scalar_param("transpose_in0", QDT_BOOL_8, 0, 0);
        p[1] = q_scalar_param("transpose_in1", QDT_BOOL_8, n->transpose_b ? 1 : 0, 0);
        q_node(g, n->name, "MatMul", in, 2, o, p, 2);
        break;
    case NPU_GATHER:
        p[0] = q_scalar_param("axis", QDT_INT_32, (uint32_t)n->axis, 0);
        q_node(g, n->name, "Gather", in, 2, o, p, 1);
        break;
    case NPU_RESHAPE: q_node(g, n->name, "Reshape", in, 1, o, NULL, 0); break;
    case NPU_CONCAT:
        p[0] = q_scalar_param("axis", QDT_UINT_32, (uint32_t)n->axis, 0);
        q_node(g, n->name, "Concat", in, 2, o, p, 1);
        break;
    case NPU_SOFTMAX:
        p[0] = q_scalar_param("axis", QDT_UINT_32, (uint32_t)n->axis, 0);
        p[1] = q_scalar_param("beta", QDT_FLOAT_32, 0, 1.0f);
        q_node(g, n->name, "Softmax", in, 1, o, p, 2);
        break;
    case NPU_MEAN_LAST: {
        /* axes: a static UINT_32 tensor, made in the graph first */
        const int64_t one[1] = {1};
        int64_t ax = q_entry_new(g, "axes", QTT_STATIC, NPU_I32, 1, one);
        if (ax < 0)
            break;
        g->t[ax].data_type = QDT_UINT_32;
        uint32_t *last = q_keep(g, sizeof *last);
        if (!last) {
            q_fail(g, "out of memory");
            break;
        }
        *last = (uint32_t)(n->in[0].rank - 1);
        q_make(g, ax, last);
        p[0].type = QPARAM_TENSOR;
        p[0].name = "axes";
        p[0].u.tensor = q_view(g, ax);
        p[0].u.tensor.v1.u.buf.data = last;
        p[0].u.tensor.v1.u.buf.size = sizeof *last;
        p[1] = q_scalar_param("keep_dims", QDT_BOOL_8, 1, 0);
        q_node(g, n->name, "ReduceMean", in, 1, o, p, 2);
        break;
    }
    default: q_fail(g, "operation %d", (int)n->op); break;
    }
    int l;
    if (n->output) {
        if (strcmp(n->output, "logits") == 0)
            g->out_logits = o;
        else if ((l = q_io_index(n->output, "present_key", g->L)) >= 0)
            g->out_present[2 * l] = o;
        else if ((l = q_io_index(n->output, "present_value", g->L)) >= 0)
            g->out_present[2 * l + 1] = o;
        else
            q_fail(g, "unknown graph output '%s'", n->output);
    }
    return q_val(o, out->et, out->rank, out->d);
}

static int b_failed(void *bp)
{
    return ((qng_model *)bp)->failed;
}

static aria_err q_bind_all(qnr_runtime *rt, qng_model *g, aria_msg *why)
{
    for (int k = 0; k < F_N; k++) {
        aria_msg m = {{0}};
        aria_err e;
        if (k == F_ADD_NODE) {
            void *addr;
            ffi_type *args[2] = {&ffi_type_pointer, &q_op_type};
            e = qnr_slot_addr(rt, q_fns[k].slot, q_fns[k].name, &addr, &m);
            if (e == ARIA_OK)
                e = npu_ffi_prep_types(&g->f[k], q_fns[k].name, addr, 'U', args, 2, &m);
        } else {
            e = qnr_bind(rt, q_fns[k].slot, q_fns[k].name, q_fns[k].sig, &g->f[k], &m);
        }
        if (e == ARIA_OK)
            g->has_f[k] = 1;
        else if (!(q_fns[k].optional && e == ARIA_ERR_UNSUPPORTED))
            return aria_fail(why, e == ARIA_ERR_UNSUPPORTED ? ARIA_ERR_UNAVAILABLE : e, "%s",
                             m.text);
    }
    return ARIA_OK;
}

void qng_free(qng_model *g)
{
    if (!g)
        return;
    /* the context frees its graphs and their tensors */
    if (g->context)
        q_call(g, F_CONTEXT_FREE, 2, (void *[]){&g->context, &(void *){NULL}});
    if (g->device && g->has_f[F_DEVICE_FREE])
        q_call(g, F_DEVICE_FREE, 1, (void *[]){&g->device});
    if (g->backend)
        q_call(g, F_BACKEND_FREE, 1, (void *[]){&g->backend});
    for (size_t i = 0; i < g->n_bufs; i++)
        free(g->bufs[i]);
    free(g->bufs);
    free(g->t);
    free(g->in_past);
    free(g->out_present);
    if (g->mu_ok)
        pthread_mutex_destroy(&g->mu);
    free(g);
}

uint32_t qng_n_ctx(const qng_model *g)
{
    return g->C;
}

aria_err qng_build(qnr_runtime *rt, const aria_llm *m, uint32_t n_ctx, int fp16, qng_model **out,
                   qng_stats *stats, aria_msg *why)
{
    *out = NULL;
    qng_model *g = calloc(1, sizeof *g);
    if (!g)
        return aria_fail(why, ARIA_ERR_NOMEM, "out of memory");
    const aria_llm_hparams *hp = &m->hp;
    g->pend = g->in_ids = g->in_pos = g->in_mask = g->out_logits = -1;
    g->C = n_ctx, g->L = hp->n_layer, g->Hkv = hp->n_head_kv, g->hd = hp->head_dim;
    g->V = hp->n_vocab;
    g->in_past = malloc((size_t)g->L * 2 * sizeof *g->in_past);
    g->out_present = malloc((size_t)g->L * 2 * sizeof *g->out_present);
    aria_err e = ARIA_OK;
    if (!g->in_past || !g->out_present) {
        e = aria_fail(why, ARIA_ERR_NOMEM, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < (size_t)g->L * 2; i++)
        g->in_past[i] = g->out_present[i] = -1;
    pthread_mutex_init(&g->mu, NULL);
    g->mu_ok = 1;
    if ((e = q_bind_all(rt, g, why)) != ARIA_OK)
        goto fail;

    void *nul = NULL;
    void **bp = &g->backend, **dp = &g->device, **cp = &g->context, **gp = &g->graph;
    uint64_t qe = q_call(g, F_BACKEND_CREATE, 3, (void *[]){&nul, &nul, &bp});
    if (qe != 0 || !g->backend) {
        g->backend = NULL;
        e = aria_fail(why, ARIA_ERR_UNAVAILABLE, "backendCreate failed (QNN error %u)",
                      QNR_CODE(qe));
        goto fail;
    }
    if (g->has_f[F_DEVICE_CREATE]) {
        qe = q_call(g, F_DEVICE_CREATE, 3, (void *[]){&nul, &nul, &dp});
        if (qe != 0) {
            g->device = NULL;
            e = aria_fail(why, ARIA_ERR_UNAVAILABLE, "deviceCreate failed (QNN error %u)",
                          QNR_CODE(qe));
            goto fail;
        }
    }
    qe = q_call(g, F_CONTEXT_CREATE, 4, (void *[]){&g->backend, &g->device, &nul, &cp});
    if (qe != 0 || !g->context) {
        g->context = NULL;
        e = aria_fail(why, ARIA_ERR_UNAVAILABLE, "contextCreate failed (QNN error %u)",
                      QNR_CODE(qe));
        goto fail;
    }
    q_htp_graph_config htp = {.option = 2 /* PRECISION */, .u.precision = 1 /* FLOAT16 */};
    q_graph_config gc = {.option = 0 /* CUSTOM */, .u.custom = &htp};
    const q_graph_config *configs[2] = {&gc, NULL};
    const void *cfg = fp16 ? (const void *)configs : NULL;
    const char *name = "aria";
    qe = q_call(g, F_GRAPH_CREATE, 4, (void *[]){&g->context, &name, &cfg, &gp});
    if (qe != 0 || !g->graph) {
        g->graph = NULL;
        e = aria_fail(why, ARIA_ERR_UNAVAILABLE, "graphCreate failed (QNN error %u)",
                      QNR_CODE(qe));
        goto fail;
    }

    const npu_builder bd = {.b = g, .idx_type = NPU_I32, .input = b_input,
                            .constant = b_constant, .node = b_node, .weight = NULL,
                            .failed = b_failed};
    aria_msg wm = {{0}};
    aria_err we = npu_graph_walk(m, n_ctx, &bd, &wm);
    q_flush(g);
    if (we != ARIA_OK || g->failed) {
        e = we != ARIA_OK && wm.text[0] ? aria_fail(why, we, "%s", wm.text)
                                        : aria_fail(why, ARIA_ERR_UNAVAILABLE, "%s", g->msg);
        goto fail;
    }
    int complete = g->in_ids >= 0 && g->in_pos >= 0 && g->in_mask >= 0 && g->out_logits >= 0;
    for (size_t i = 0; i < (size_t)g->L * 2; i++)
        complete = complete && g->in_past[i] >= 0 && g->out_present[i] >= 0;
    if (!complete) {
        e = aria_fail(why, ARIA_ERR_INTERNAL, "the graph lacks an input or an output");
        goto fail;
    }
    qe = q_call(g, F_GRAPH_FINALIZE, 3, (void *[]){&g->graph, &nul, &nul});
    if (qe != 0) {
        e = aria_fail(why, ARIA_ERR_UNAVAILABLE, "graphFinalize failed (QNN error %u)",
                      QNR_CODE(qe));
        goto fail;
    }
    /* the backend holds the constants now */
    for (size_t i = 0; i < g->n_bufs; i++)
        free(g->bufs[i]);
    g->n_bufs = 0;
    if (stats)
        *stats = (qng_stats){.n_tensors = g->n_t, .n_nodes = g->n_nodes,
                             .static_bytes = g->static_bytes};
    *out = g;
    return ARIA_OK;
fail:
    qng_free(g);
    return e;
}

aria_err qng_execute(qng_model *g, npu_kv *k, float *logits, float *const *present,
                     aria_msg *why)
{
    const size_t n_in = 3 + (size_t)g->L * 2, n_out = 1 + (size_t)g->L * 2;
    q_tensor *io = malloc((n_in + n_out) * sizeof *io);
    if (!io)
        return aria_fail(why, ARIA_ERR_NOMEM, "out of memory");
    q_tensor *in = io, *out = io + n_in;
    void *in_data[3] = {&k->token32, &k->pos32, k->mask};
    const int64_t in_idx[3] = {g->in_ids, g->in_pos, g->in_mask};
    for (size_t i = 0; i < 3; i++) {
        in[i] = q_view(g, in_idx[i]);
        in[i].v1.u.buf.data = in_data[i];
        in[i].v1.u.buf.size = (uint32_t)q_bytes(&g->t[in_idx[i]]);
    }
    for (uint32_t l = 0; l < g->L; l++)
        for (int v = 0; v < 2; v++) {
            size_t j = 2 * (size_t)l + (size_t)v;
            in[3 + j] = q_view(g, g->in_past[j]);
            in[3 + j].v1.u.buf.data = npu_kv_past(k, l, v);
            in[3 + j].v1.u.buf.size = (uint32_t)q_bytes(&g->t[g->in_past[j]]);
            out[1 + j] = q_view(g, g->out_present[j]);
            out[1 + j].v1.u.buf.data = present[j];
            out[1 + j].v1.u.buf.size = (uint32_t)q_bytes(&g->t[g->out_present[j]]);
        }
    out[0] = q_view(g, g->out_logits);
    out[0].v1.u.buf.data = logits;
    out[0].v1.u.buf.size = (uint32_t)q_bytes(&g->t[g->out_logits]);
    uint32_t ni = (uint32_t)n_in, no = (uint32_t)n_out;
    void *nul = NULL;
    pthread_mutex_lock(&g->mu);
    uint64_t qe = q_call(g, F_GRAPH_EXECUTE, 7, (void *[]){&g->graph, &in, &ni, &out, &no, &nul, &nul});
    pthread_mutex_unlock(&g->mu);
    free(io);
    if (qe != 0)
        return aria_fail(why, ARIA_ERR_UNAVAILABLE, "graphExecute failed (QNN error %u)",
                         QNR_CODE(qe));
    return ARIA_OK;
}
