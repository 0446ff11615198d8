/* test_qnn_eval.c — the fake QNN's graph API and its interpreter, through
 * the interface table that QnnInterface_getProviders hands out, with the
 * slots called as the plugin calls them. Each op's semantics against
 * values computed here independently, the graphs QNN would refuse, and
 * the log lines. Standalone (no cmocka); exits non-zero on failures. */
#include "qnn_eval.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int failures;

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            failures++;                                                                            \
            fprintf(stderr, "%s:%d: CHECK(%s) failed: ", __FILE__, __LINE__, #cond);               \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
        }                                                                                          \
    } while (0)

/* ---- the interface table, mirrored independently of fake_qnn.c --------- */

typedef struct {
    uint32_t backendId;
    const char *providerName;
    uint32_t apiVersion[6];
    void *slot[51];
} iface_t;
_Static_assert(offsetof(iface_t, slot) == 40, "QnnInterface_t");

Qnn_ErrorHandle_t QnnInterface_getProviders(const iface_t ***providerList, uint32_t *numProviders);
const char *fake_qnn_last_error(void);

enum {
    S_BACKEND_CREATE = 1,
    S_BACKEND_FREE = 8,
    S_CONTEXT_CREATE = 9,
    S_CONTEXT_FREE = 14,
    S_GRAPH_CREATE = 15,
    S_GRAPH_ADD_NODE = 18,
    S_GRAPH_FINALIZE = 19,
    S_GRAPH_EXECUTE = 21,
    S_TENSOR_CREATE_GRAPH_TENSOR = 24,
    S_DEVICE_CREATE = 40,
    S_DEVICE_FREE = 43,
    S_ERROR_GET_MESSAGE = 48,
};

typedef Qnn_ErrorHandle_t (*create3_fn)(void *, const void **, void **);
typedef Qnn_ErrorHandle_t (*free1_fn)(void *);
typedef Qnn_ErrorHandle_t (*context_create_fn)(void *, void *, const void **, void **);
typedef Qnn_ErrorHandle_t (*context_free_fn)(void *, void *);
typedef Qnn_ErrorHandle_t (*graph_create_fn)(void *, const char *, const QnnGraph_Config_t **,
                                             void **);
typedef Qnn_ErrorHandle_t (*tensor_create_fn)(void *, Qnn_Tensor_t *);
typedef Qnn_ErrorHandle_t (*add_node_fn)(void *, Qnn_OpConfig_t);
typedef Qnn_ErrorHandle_t (*finalize_fn)(void *, void *, void *);
typedef Qnn_ErrorHandle_t (*execute_fn)(void *, const Qnn_Tensor_t *, uint32_t, Qnn_Tensor_t *,
                                        uint32_t, void *, void *);
typedef Qnn_ErrorHandle_t (*error_msg_fn)(Qnn_ErrorHandle_t, const char **);

static const iface_t *QI;

#define FN(type, idx) ((type)fn_at(idx))
static void (*fn_at(int idx))(void)
{
    void (*f)(void) = NULL;
    memcpy(&f, &QI->slot[idx], sizeof f);
    if (!f) {
        fprintf(stderr, "slot %d is NULL\n", idx);
        exit(1);
    }
    return f;
}

static void *backend, *device, *context;
static char log_path[256];

/* ---- building graphs --------------------------------------------------- */

typedef struct {
    const char *name;
    Qnn_TensorType_t type; /* APP_WRITE, STATIC (inputs); APP_READ (output) */
    Qnn_DataType_t dtype;
    uint32_t rank;
    uint32_t dims[QE_MAX_RANK];
    const void *data;
} tspec;

static size_t tcount(const tspec *t)
{
    size_t n = 1;
    for (uint32_t i = 0; i < t->rank; i++)
        n *= t->dims[i];
    return n;
}

static Qnn_Tensor_t tdesc(const tspec *t, uint32_t *dims)
{
    Qnn_Tensor_t x;
    memset(&x, 0, sizeof x);
    x.version = QNN_TENSOR_VERSION_1;
    x.v1.name = t->name;
    x.v1.type = t->type;
    x.v1.dataFormat = QNN_TENSOR_DATA_FORMAT_FLAT_BUFFER;
    x.v1.dataType = t->dtype;
    x.v1.quantizeParams.encodingDefinition = QNN_DEFINITION_UNDEFINED;
    x.v1.quantizeParams.quantizationEncoding = QNN_QUANTIZATION_ENCODING_UNDEFINED;
    x.v1.rank = t->rank;
    memcpy(dims, t->dims, sizeof t->dims);
    x.v1.dimensions = dims;
    x.v1.memType = QNN_TENSORMEMTYPE_RAW;
    if (t->type == QNN_TENSOR_TYPE_STATIC) {
        x.v1.clientBuf.data = (void *)t->data;
        x.v1.clientBuf.dataSize = (uint32_t)(tcount(t) * 4);
    }
    return x;
}

static void *new_graph(void)
{
    static int n;
    char name[32];
    snprintf(name, sizeof name, "g%d", n++);
    void *g = NULL;
    Qnn_ErrorHandle_t e = FN(graph_create_fn, S_GRAPH_CREATE)(context, name, NULL, &g);
    CHECK(e == 0 && g, "graphCreate -> %llu", (unsigned long long)e);
    return g;
}

static Qnn_ErrorHandle_t create_tensor(void *g, const tspec *t, uint32_t *id)
{
    uint32_t dims[QE_MAX_RANK];
    Qnn_Tensor_t x = tdesc(t, dims);
    Qnn_ErrorHandle_t e = FN(tensor_create_fn, S_TENSOR_CREATE_GRAPH_TENSOR)(g, &x);
    *id = x.v1.id;
    return e;
}

static Qnn_Tensor_t ref(uint32_t id)
{
    Qnn_Tensor_t x;
    memset(&x, 0, sizeof x);
    x.version = QNN_TENSOR_VERSION_1;
    x.v1.id = id;
    return x;
}

static Qnn_ErrorHandle_t add_node(void *g, const char *name, const char *package, const char *type,
                                  Qnn_Param_t *params, uint32_t np, const uint32_t *in,
                                  uint32_t nin, uint32_t out)
{
    Qnn_Tensor_t ins[8], outs[1] = {ref(out)};
    for (uint32_t i = 0; i < nin; i++)
        ins[i] = ref(in[i]);
    Qnn_OpConfig_t op;
    memset(&op, 0, sizeof op);
    op.version = QNN_OPCONFIG_VERSION_1;
    op.v1 = (Qnn_OpConfigV1_t){.name = name,
                               .packageName = package,
                               .typeName = type,
                               .numOfParams = np,
                               .params = params,
                               .numOfInputs = nin,
                               .inputTensors = ins,
                               .numOfOutputs = 1,
                               .outputTensors = outs};
    return FN(add_node_fn, S_GRAPH_ADD_NODE)(g, op);
}

static Qnn_Param_t p_bool(const char *name, int v)
{
    Qnn_Param_t p;
    memset(&p, 0, sizeof p);
    p.paramType = QNN_PARAMTYPE_SCALAR;
    p.name = name;
    p.scalarParam.dataType = QNN_DATATYPE_BOOL_8;
    p.scalarParam.bool8Value = (uint8_t)v;
    return p;
}

static Qnn_Param_t p_u32(const char *name, uint32_t v)
{
    Qnn_Param_t p = p_bool(name, 0);
    p.scalarParam.dataType = QNN_DATATYPE_UINT_32;
    p.scalarParam.uint32Value = v;
    return p;
}

static Qnn_Param_t p_i32(const char *name, int32_t v)
{
    Qnn_Param_t p = p_bool(name, 0);
    p.scalarParam.dataType = QNN_DATATYPE_INT_32;
    p.scalarParam.int32Value = v;
    return p;
}

static Qnn_Param_t p_f32(const char *name, float v)
{
    Qnn_Param_t p = p_bool(name, 0);
    p.scalarParam.dataType = QNN_DATATYPE_FLOAT_32;
    p.scalarParam.floatValue = v;
    return p;
}

typedef enum { AT_TENSOR, AT_NODE, AT_FINALIZE, AT_EXECUTE, AT_NONE } stage;
static const char *stage_name[] = {"tensor", "addNode", "finalize", "execute", "none"};

/* One-op graph: ins (APP_WRITE or STATIC), out APP_READ; axes (if any)
 * becomes a STATIC UINT_32 tensor param "axes". result gets the output. */
static stage run_op(const char *type, Qnn_Param_t *params, uint32_t np, const uint32_t *axes,
                    uint32_t naxes, const tspec *ins, uint32_t nin, const tspec *out, void *result,
                    Qnn_ErrorHandle_t *code)
{
    void *g = new_graph();
    uint32_t in_id[8], out_id;
    Qnn_ErrorHandle_t e = 0;
    *code = 0;
    for (uint32_t i = 0; i < nin && !e; i++)
        e = create_tensor(g, &ins[i], &in_id[i]);
    if (!e)
        e = create_tensor(g, out, &out_id);
    Qnn_Param_t all[4];
    if (np)
        memcpy(all, params, np * sizeof *params);
    if (!e && axes) {
        tspec at = {"axes", QNN_TENSOR_TYPE_STATIC, QNN_DATATYPE_UINT_32, 1, {naxes}, axes};
        uint32_t aid, dims[QE_MAX_RANK];
        e = create_tensor(g, &at, &aid);
        memset(&all[np], 0, sizeof all[np]);
        all[np].paramType = QNN_PARAMTYPE_TENSOR;
        all[np].name = "axes";
        all[np].tensorParam = tdesc(&at, dims);
        all[np].tensorParam.v1.id = aid;
        all[np].tensorParam.v1.dimensions = NULL; /* not read by the backend */
        np++;
    }
    if (e) {
        *code = e;
        return AT_TENSOR;
    }
    e = add_node(g, "n", "qti.aisw", type, all, np, in_id, nin, out_id);
    if (e) {
        *code = e;
        return AT_NODE;
    }
    e = FN(finalize_fn, S_GRAPH_FINALIZE)(g, NULL, NULL);
    if (e) {
        *code = e;
        return AT_FINALIZE;
    }
    Qnn_Tensor_t xin[8], xout[1];
    uint32_t nx = 0, dims_in[8][QE_MAX_RANK], dims_out[QE_MAX_RANK];
    for (uint32_t i = 0; i < nin; i++) {
        if (ins[i].type != QNN_TENSOR_TYPE_APP_WRITE)
            continue;
        xin[nx] = tdesc(&ins[i], dims_in[nx]);
        xin[nx].v1.id = in_id[i];
        xin[nx].v1.clientBuf.data = (void *)ins[i].data;
        xin[nx].v1.clientBuf.dataSize = (uint32_t)(tcount(&ins[i]) * 4);
        nx++;
    }
    xout[0] = tdesc(out, dims_out);
    xout[0].v1.id = out_id;
    xout[0].v1.clientBuf.data = result;
    xout[0].v1.clientBuf.dataSize = (uint32_t)(tcount(out) * 4);
    e = FN(execute_fn, S_GRAPH_EXECUTE)(g, xin, nx, xout, 1, NULL, NULL);
    if (e) {
        *code = e;
        return AT_EXECUTE;
    }
    return AT_NONE;
}

#define IN(n, ...)                                                                                 \
    {                                                                                              \
        n, QNN_TENSOR_TYPE_APP_WRITE, QNN_DATATYPE_FLOAT_32, __VA_ARGS__                           \
    }
#define ST(n, ...)                                                                                 \
    {                                                                                              \
        n, QNN_TENSOR_TYPE_STATIC, QNN_DATATYPE_FLOAT_32, __VA_ARGS__                              \
    }
#define OUT(n, ...)                                                                                \
    {                                                                                              \
        n, QNN_TENSOR_TYPE_APP_READ, QNN_DATATYPE_FLOAT_32, __VA_ARGS__, NULL                      \
    }

static void expect_ok(stage s, const Qnn_ErrorHandle_t *pc, const char *what)
{
    Qnn_ErrorHandle_t code = *pc;
    CHECK(s == AT_NONE, "%s: failed at %s with %llu: %s", what, stage_name[s],
          (unsigned long long)code, fake_qnn_last_error());
}

static void expect_close(const float *got, const float *want, size_t n, const char *what)
{
    for (size_t i = 0; i < n; i++) {
        bool ok = (isnan(want[i]) && isnan(got[i])) ||
                  fabsf(got[i] - want[i]) <= 1e-5f * (1.0f + fabsf(want[i]));
        CHECK(ok, "%s[%zu] = %.7g, expected %.7g", what, i, (double)got[i], (double)want[i]);
    }
}

static void expect_fail(stage s, const Qnn_ErrorHandle_t *pc, stage want_s,
                        Qnn_ErrorHandle_t want_code, const char *substr, const char *what)
{
    Qnn_ErrorHandle_t code = *pc;
    CHECK(s == want_s && code == want_code, "%s: got %s/%llu, expected %s/%llu (%s)", what,
          stage_name[s], (unsigned long long)code, stage_name[want_s],
          (unsigned long long)want_code, fake_qnn_last_error());
    CHECK(!substr || strstr(fake_qnn_last_error(), substr), "%s: message '%s' lacks '%s'", what,
          fake_qnn_last_error(), substr);
}

static float frand(unsigned *s)
{
    *s = *s * 1103515245u + 12345u;
    return (float)((*s >> 8) % 2001) / 1000.0f - 1.0f;
}

/* ---- op semantics ------------------------------------------------------ */

static void test_matmul(void)
{
    unsigned seed = 1;
    float a[2 * 2 * 3], b[4 * 3], out[16], want[16];
    for (size_t i = 0; i < 12; i++)
        a[i] = frand(&seed), b[i] = frand(&seed);
    Qnn_ErrorHandle_t code;

    /* [2,3] x [4,3]^T -> [2,4] */
    Qnn_Param_t p[2] = {p_bool("transpose_in0", 0), p_bool("transpose_in1", 1)};
    tspec ins[2] = {IN("a", 2, {2, 3}, a), ST("b", 2, {4, 3}, b)};
    tspec o = OUT("y", 2, {2, 4});
    expect_ok(run_op("MatMul", p, 2, NULL, 0, ins, 2, &o, out, &code), &code, "MatMul t1");
    for (int m = 0; m < 2; m++)
        for (int n = 0; n < 4; n++) {
            float s = 0;
            for (int k = 0; k < 3; k++)
                s += a[m * 3 + k] * b[n * 3 + k];
            want[m * 4 + n] = s;
        }
    expect_close(out, want, 8, "MatMul t1");

    /* transpose_in0: a as [3,2] -> a^T [2,3]; b [3,4] -> [2,4] */
    Qnn_Param_t p0[1] = {p_bool("transpose_in0", 1)};
    tspec ins0[2] = {IN("a", 2, {3, 2}, a), IN("b", 2, {3, 4}, b)};
    expect_ok(run_op("MatMul", p0, 1, NULL, 0, ins0, 2, &o, out, &code), &code, "MatMul t0");
    for (int m = 0; m < 2; m++)
        for (int n = 0; n < 4; n++) {
            float s = 0;
            for (int k = 0; k < 3; k++)
                s += a[k * 2 + m] * b[k * 4 + n];
            want[m * 4 + n] = s;
        }
    expect_close(out, want, 8, "MatMul t0");

    /* batched: [2,2,3] x [3,2] (rank 2, broadcast) -> [2,2,2] */
    tspec insb[2] = {IN("a", 3, {2, 2, 3}, a), IN("b", 2, {3, 2}, b)};
    tspec ob = OUT("y", 3, {2, 2, 2});
    expect_ok(run_op("MatMul", NULL, 0, NULL, 0, insb, 2, &ob, out, &code), &code, "MatMul batch");
    for (int bt = 0; bt < 2; bt++)
        for (int m = 0; m < 2; m++)
            for (int n = 0; n < 2; n++) {
                float s = 0;
                for (int k = 0; k < 3; k++)
                    s += a[bt * 6 + m * 3 + k] * b[k * 2 + n];
                want[bt * 4 + m * 2 + n] = s;
            }
    expect_close(out, want, 8, "MatMul batch");

    /* batched broadcast the other way: [1,2,3] x [2,3,2] -> [2,2,2] */
    tspec insc[2] = {IN("a", 3, {1, 2, 3}, a), IN("b", 3, {2, 3, 2}, b)};
    expect_ok(run_op("MatMul", NULL, 0, NULL, 0, insc, 2, &ob, out, &code), &code, "MatMul bcast");
    for (int bt = 0; bt < 2; bt++)
        for (int m = 0; m < 2; m++)
            for (int n = 0; n < 2; n++) {
                float s = 0;
                for (int k = 0; k < 3; k++)
                    s += a[m * 3 + k] * b[bt * 6 + k * 2 + n];
                want[bt * 4 + m * 2 + n] = s;
            }
    expect_close(out, want, 8, "MatMul bcast");

    /* wrong output dims */
    tspec bad = OUT("y", 2, {2, 5});
    expect_fail(run_op("MatMul", p, 2, NULL, 0, ins, 2, &bad, out, &code), &code, AT_NODE,
                QNN_GRAPH_ERROR_INVALID_OP_CONFIG,
                "node 'n' (MatMul): output dims [2,5], inferred [2,4]", "MatMul dims");
    /* inner dims differ */
    tspec insd[2] = {IN("a", 2, {2, 3}, a), IN("b", 2, {4, 3}, b)};
    expect_fail(run_op("MatMul", NULL, 0, NULL, 0, insd, 2, &o, out, &code), &code, AT_NODE,
                QNN_GRAPH_ERROR_INVALID_OP_CONFIG, "inner dims", "MatMul K");
    /* a parameter of the wrong data type */
    Qnn_Param_t pw[1] = {p_u32("transpose_in1", 1)};
    expect_fail(run_op("MatMul", pw, 1, NULL, 0, ins, 2, &o, out, &code), &code, AT_NODE,
                QNN_GRAPH_ERROR_INVALID_OP_CONFIG, "'transpose_in1' is UINT_32, expected BOOL_8",
                "MatMul param type");
    Qnn_Param_t pu[1] = {p_bool("transpose_b", 1)};
    expect_fail(run_op("MatMul", pu, 1, NULL, 0, ins, 2, &o, out, &code), &code, AT_NODE,
                QNN_GRAPH_ERROR_INVALID_OP_CONFIG, "unknown parameter 'transpose_b'",
                "MatMul param name");
}

static void test_elementwise(void)
{
    float a[6] = {1, 2, 3, 4, 5, 6}, b3[3] = {2, 4, 8}, b21[2] = {10, -1}, out[6], want[6];
    Qnn_ErrorHandle_t code;
    tspec o = OUT("y", 2, {2, 3});

    tspec ins[2] = {IN("a", 2, {2, 3}, a), ST("b", 1, {3}, b3)};
    expect_ok(run_op("ElementWiseDivide", NULL, 0, NULL, 0, ins, 2, &o, out, &code), &code, "Div");
    for (int i = 0; i < 6; i++)
        want[i] = a[i] / b3[i % 3];
    expect_close(out, want, 6, "Div [2,3]/[3]");

    tspec ins2[2] = {IN("a", 2, {2, 3}, a), IN("b", 2, {2, 1}, b21)};
    expect_ok(run_op("ElementWiseDivide", NULL, 0, NULL, 0, ins2, 2, &o, out, &code), &code,
              "Div2");
    for (int i = 0; i < 6; i++)
        want[i] = a[i] / b21[i / 3];
    expect_close(out, want, 6, "Div [2,3]/[2,1]");

    /* [2,1] + [3] -> [2,3] (both sides broadcast) */
    tspec ins3[2] = {IN("a", 2, {2, 1}, b21), IN("b", 1, {3}, b3)};
    expect_ok(run_op("ElementWiseAdd", NULL, 0, NULL, 0, ins3, 2, &o, out, &code), &code, "Add");
    for (int i = 0; i < 6; i++)
        want[i] = b21[i / 3] + b3[i % 3];
    expect_close(out, want, 6, "Add [2,1]+[3]");

    expect_ok(run_op("ElementWiseMultiply", NULL, 0, NULL, 0, ins, 2, &o, out, &code), &code,
              "Mul");
    for (int i = 0; i < 6; i++)
        want[i] = a[i] * b3[i % 3];
    expect_close(out, want, 6, "Mul");

    float x[6] = {-3, -0.5f, 0, 0.25f, 2, 40};
    tspec in1[1] = {IN("x", 2, {2, 3}, x)};
    expect_ok(run_op("Sigmoid", NULL, 0, NULL, 0, in1, 1, &o, out, &code), &code, "Sigmoid");
    for (int i = 0; i < 6; i++)
        want[i] = (float)(1.0 / (1.0 + exp(-(double)x[i])));
    expect_close(out, want, 6, "Sigmoid");

    tspec in2[1] = {IN("x", 2, {2, 3}, a)};
    expect_ok(run_op("ElementWiseSquareRoot", NULL, 0, NULL, 0, in2, 1, &o, out, &code), &code,
              "Sqrt");
    for (int i = 0; i < 6; i++)
        want[i] = (float)sqrt((double)a[i]);
    expect_close(out, want, 6, "Sqrt");

    /* [2,3] + [2] does not broadcast */
    tspec insx[2] = {IN("a", 2, {2, 3}, a), IN("b", 1, {2}, b21)};
    expect_fail(run_op("ElementWiseAdd", NULL, 0, NULL, 0, insx, 2, &o, out, &code), &code, AT_NODE,
                QNN_GRAPH_ERROR_INVALID_OP_CONFIG, "do not broadcast", "Add no broadcast");
}

static void test_reduce_reshape_concat(void)
{
    float x[24], out[24], want[24];
    for (int i = 0; i < 24; i++)
        x[i] = (float)(i * i % 7) - 2.5f;
    Qnn_ErrorHandle_t code;
    tspec in[1] = {IN("x", 3, {2, 3, 4}, x)};

    uint32_t ax1[1] = {1};
    Qnn_Param_t keep[1] = {p_bool("keep_dims", 1)};
    tspec o = OUT("y", 3, {2, 1, 4});
    expect_ok(run_op("ReduceMean", keep, 1, ax1, 1, in, 1, &o, out, &code), &code,
              "ReduceMean keep");
    for (int i = 0; i < 2; i++)
        for (int k = 0; k < 4; k++)
            want[i * 4 + k] = (x[i * 12 + k] + x[i * 12 + 4 + k] + x[i * 12 + 8 + k]) / 3.0f;
    expect_close(out, want, 8, "ReduceMean keep");

    uint32_t ax02[2] = {2, 0};
    tspec o3 = OUT("y", 1, {3});
    expect_ok(run_op("ReduceMean", NULL, 0, ax02, 2, in, 1, &o3, out, &code), &code,
              "ReduceMean 0,2");
    for (int j = 0; j < 3; j++) {
        float s = 0;
        for (int i = 0; i < 2; i++)
            for (int k = 0; k < 4; k++)
                s += x[i * 12 + j * 4 + k];
        want[j] = s / 8.0f;
    }
    expect_close(out, want, 3, "ReduceMean 0,2");

    /* keep_dims defaults to false: [2,1,4] is wrong */
    expect_fail(run_op("ReduceMean", NULL, 0, ax1, 1, in, 1, &o, out, &code), &code, AT_NODE,
                QNN_GRAPH_ERROR_INVALID_OP_CONFIG, "inferred [2,4]", "ReduceMean default keep");
    expect_fail(run_op("ReduceMean", keep, 1, NULL, 0, in, 1, &o, out, &code), &code, AT_NODE,
                QNN_GRAPH_ERROR_INVALID_OP_CONFIG, "mandatory parameter 'axes'", "ReduceMean axes");

    tspec o64 = OUT("y", 2, {6, 4});
    expect_ok(run_op("Reshape", NULL, 0, NULL, 0, in, 1, &o64, out, &code), &code, "Reshape");
    expect_close(out, x, 24, "Reshape");
    tspec o65 = OUT("y", 2, {6, 5});
    expect_fail(run_op("Reshape", NULL, 0, NULL, 0, in, 1, &o65, out, &code), &code, AT_NODE,
                QNN_GRAPH_ERROR_INVALID_OP_CONFIG, "30 elements", "Reshape count");

    /* Concat [2,1] and [2,3] on axis 1 -> [2,4] */
    float c1[2] = {100, 200}, c3[6] = {1, 2, 3, 4, 5, 6};
    Qnn_Param_t ax[1] = {p_u32("axis", 1)};
    tspec ins[2] = {IN("a", 2, {2, 1}, c1), ST("b", 2, {2, 3}, c3)};
    tspec oc = OUT("y", 2, {2, 4});
    expect_ok(run_op("Concat", ax, 1, NULL, 0, ins, 2, &oc, out, &code), &code, "Concat");
    const float wc[8] = {100, 1, 2, 3, 200, 4, 5, 6};
    expect_close(out, wc, 8, "Concat axis 1");
    Qnn_Param_t ax0[1] = {p_u32("axis", 0)};
    expect_fail(run_op("Concat", ax0, 1, NULL, 0, ins, 2, &oc, out, &code), &code, AT_NODE,
                QNN_GRAPH_ERROR_INVALID_OP_CONFIG, "off axis 0", "Concat axis 0");
}

static void test_softmax(void)
{
    float x[6] = {1, -INFINITY, 3, 0.5f, 0.5f, -1}, out[6], want[6];
    Qnn_ErrorHandle_t code;
    tspec in[1] = {IN("x", 2, {2, 3}, x)};
    tspec o = OUT("y", 2, {2, 3});
    Qnn_Param_t p[1] = {p_f32("beta", 2.0f)};
    expect_ok(run_op("Softmax", p, 1, NULL, 0, in, 1, &o, out, &code), &code, "Softmax beta");
    for (int r = 0; r < 2; r++) {
        double s = 0;
        for (int k = 0; k < 3; k++)
            s += exp(2.0 * x[r * 3 + k]);
        for (int k = 0; k < 3; k++)
            want[r * 3 + k] = (float)(exp(2.0 * x[r * 3 + k]) / s);
    }
    CHECK(out[1] == 0.0f, "softmax of -inf is %g", (double)out[1]);
    expect_close(out, want, 6, "Softmax beta=2");

    /* axis 0 */
    Qnn_Param_t p0[1] = {p_u32("axis", 0)};
    float y[6] = {1, 2, 3, 3, 2, 1};
    tspec iny[1] = {IN("x", 2, {2, 3}, y)};
    expect_ok(run_op("Softmax", p0, 1, NULL, 0, iny, 1, &o, out, &code), &code, "Softmax axis 0");
    for (int k = 0; k < 3; k++) {
        double s = exp(y[k]) + exp(y[3 + k]);
        want[k] = (float)(exp(y[k]) / s);
        want[3 + k] = (float)(exp(y[3 + k]) / s);
    }
    expect_close(out, want, 6, "Softmax axis 0");
    Qnn_Param_t pi[1] = {p_i32("axis", 1)};
    expect_fail(run_op("Softmax", pi, 1, NULL, 0, in, 1, &o, out, &code), &code, AT_NODE,
                QNN_GRAPH_ERROR_INVALID_OP_CONFIG, "'axis' is INT_32, expected UINT_32",
                "Softmax axis type");
}

static void test_gather(void)
{
    float x[24], out[24], want[24];
    for (int i = 0; i < 24; i++)
        x[i] = (float)i + 0.5f;
    Qnn_ErrorHandle_t code;

    /* axis -1 of [2,3,4], indices [2] {3, -4} -> [2,3,2] */
    int32_t idx[2] = {3, -4};
    Qnn_Param_t p[1] = {p_i32("axis", -1)};
    tspec ins[2] = {ST("x", 3, {2, 3, 4}, x),
                    {"i", QNN_TENSOR_TYPE_APP_WRITE, QNN_DATATYPE_INT_32, 1, {2}, idx}};
    tspec o = OUT("y", 3, {2, 3, 2});
    expect_ok(run_op("Gather", p, 1, NULL, 0, ins, 2, &o, out, &code), &code, "Gather -1");
    for (int i = 0; i < 6; i++) {
        want[i * 2] = x[i * 4 + 3];
        want[i * 2 + 1] = x[i * 4 + 0];
    }
    expect_close(out, want, 12, "Gather axis -1");

    /* default axis 0, indices [1,2] -> [1,2,3,4] */
    int32_t idx0[2] = {1, 0};
    tspec ins0[2] = {ST("x", 3, {2, 3, 4}, x),
                     {"i", QNN_TENSOR_TYPE_APP_WRITE, QNN_DATATYPE_INT_32, 2, {1, 2}, idx0}};
    tspec o0 = OUT("y", 4, {1, 2, 3, 4});
    expect_ok(run_op("Gather", NULL, 0, NULL, 0, ins0, 2, &o0, out, &code), &code, "Gather 0");
    for (int i = 0; i < 12; i++) {
        want[i] = x[12 + i];
        want[12 + i] = x[i];
    }
    expect_close(out, want, 24, "Gather axis 0");

    /* out of range at execute */
    int32_t bad[2] = {1, 2};
    tspec insb[2] = {ST("x", 3, {2, 3, 4}, x),
                     {"i", QNN_TENSOR_TYPE_APP_WRITE, QNN_DATATYPE_INT_32, 2, {1, 2}, bad}};
    expect_fail(run_op("Gather", NULL, 0, NULL, 0, insb, 2, &o0, out, &code), &code, AT_EXECUTE,
                QNN_COMMON_ERROR_INVALID_ARGUMENT, "index 2", "Gather out of range");
    /* float indices */
    tspec insf[2] = {ST("x", 3, {2, 3, 4}, x), IN("i", 2, {1, 2}, x)};
    expect_fail(run_op("Gather", NULL, 0, NULL, 0, insf, 2, &o0, out, &code), &code, AT_NODE,
                QNN_GRAPH_ERROR_INVALID_OP_CONFIG, "indices", "Gather float indices");
    Qnn_Param_t p3[1] = {p_i32("axis", 3)};
    expect_fail(run_op("Gather", p3, 1, NULL, 0, ins, 2, &o, out, &code), &code, AT_NODE,
                QNN_GRAPH_ERROR_INVALID_OP_CONFIG, "axis 3", "Gather axis range");
}

/* ---- refusals of the graph API ----------------------------------------- */

static void test_refusals(void)
{
    float w[6] = {0}, out[6];
    Qnn_ErrorHandle_t code;
    tspec o = OUT("y", 2, {2, 3});
    tspec in[1] = {IN("x", 2, {2, 3}, w)};

    expect_fail(run_op("Tanh", NULL, 0, NULL, 0, in, 1, &o, out, &code), &code, AT_NODE,
                QNN_GRAPH_ERROR_INVALID_OP_CONFIG, "op type 'Tanh' is not supported", "unknown op");

    void *g = new_graph();
    uint32_t x, y, s, z;
    CHECK(create_tensor(g, &in[0], &x) == 0 && x, "create x");
    CHECK(create_tensor(g, &o, &y) == 0 && y && y != x, "create y");
    uint32_t dup;
    CHECK(create_tensor(g, &in[0], &dup) == QNN_TENSOR_ERROR_ALREADY_EXISTS, "duplicate name");

    /* static size mismatch */
    uint32_t dims[QE_MAX_RANK];
    tspec st = ST("w", 2, {2, 3}, w);
    Qnn_Tensor_t t = tdesc(&st, dims);
    t.v1.clientBuf.dataSize = 20;
    CHECK(FN(tensor_create_fn, S_TENSOR_CREATE_GRAPH_TENSOR)(g, &t) ==
              QNN_TENSOR_ERROR_INVALID_TENSOR_PARAM,
          "static size");
    CHECK(strstr(fake_qnn_last_error(), "dataSize 20, expected 24"), "%s", fake_qnn_last_error());
    t.v1.clientBuf.dataSize = 24;
    t.v1.rank = 0;
    CHECK(FN(tensor_create_fn, S_TENSOR_CREATE_GRAPH_TENSOR)(g, &t) ==
              QNN_TENSOR_ERROR_UNSUPPORTED_TENSOR_PARAM,
          "rank 0");
    t.v1.rank = 9;
    CHECK(FN(tensor_create_fn, S_TENSOR_CREATE_GRAPH_TENSOR)(g, &t) ==
              QNN_TENSOR_ERROR_UNSUPPORTED_TENSOR_PARAM,
          "rank 9");
    t.v1.rank = 2;
    dims[1] = 0;
    CHECK(FN(tensor_create_fn, S_TENSOR_CREATE_GRAPH_TENSOR)(g, &t) ==
              QNN_TENSOR_ERROR_INVALID_TENSOR_PARAM,
          "dim 0");
    dims[1] = 3;
    t.v1.dataType = QNN_DATATYPE_FLOAT_16;
    CHECK(FN(tensor_create_fn, S_TENSOR_CREATE_GRAPH_TENSOR)(g, &t) ==
              QNN_TENSOR_ERROR_UNSUPPORTED_TENSOR_PARAM,
          "FLOAT_16");
    t.v1.dataType = QNN_DATATYPE_FLOAT_32;
    t.v1.dataFormat = 1;
    CHECK(FN(tensor_create_fn, S_TENSOR_CREATE_GRAPH_TENSOR)(g, &t) ==
              QNN_TENSOR_ERROR_UNSUPPORTED_TENSOR_PARAM,
          "data format");
    t.v1.dataFormat = QNN_TENSOR_DATA_FORMAT_FLAT_BUFFER;
    t.v1.quantizeParams.encodingDefinition = QNN_DEFINITION_DEFINED;
    t.v1.quantizeParams.quantizationEncoding = QNN_QUANTIZATION_ENCODING_SCALE_OFFSET;
    CHECK(FN(tensor_create_fn, S_TENSOR_CREATE_GRAPH_TENSOR)(g, &t) ==
              QNN_TENSOR_ERROR_INVALID_TENSOR_PARAM,
          "quantized float");
    t.v1.quantizeParams.encodingDefinition = QNN_DEFINITION_UNDEFINED;
    t.v1.quantizeParams.quantizationEncoding = QNN_QUANTIZATION_ENCODING_UNDEFINED;
    /* the client buffer need not outlive the call */
    float wcopy[6] = {1, 2, 3, 4, 5, 6};
    t.v1.clientBuf.data = wcopy;
    CHECK(FN(tensor_create_fn, S_TENSOR_CREATE_GRAPH_TENSOR)(g, &t) == 0, "static ok: %s",
          fake_qnn_last_error());
    s = t.v1.id;
    memset(wcopy, 0, sizeof wcopy);

    uint32_t xs[2] = {x, s};
    CHECK(add_node(g, "p", "qti.aisw.custom", "ElementWiseAdd", NULL, 0, xs, 2, y) ==
              QNN_GRAPH_ERROR_INVALID_OP_CONFIG,
          "package");
    CHECK(strstr(fake_qnn_last_error(), "package 'qti.aisw.custom'"), "%s", fake_qnn_last_error());
    uint32_t never[2] = {x, 99};
    CHECK(add_node(g, "q", "qti.aisw", "ElementWiseAdd", NULL, 0, never, 2, y) ==
              QNN_GRAPH_ERROR_INVALID_TENSOR,
          "never created");
    CHECK(strstr(fake_qnn_last_error(), "never created"), "%s", fake_qnn_last_error());
    CHECK(add_node(g, "r", "qti.aisw", "ElementWiseAdd", NULL, 0, xs, 2, s) ==
              QNN_GRAPH_ERROR_INVALID_TENSOR,
          "static output");
    CHECK(add_node(g, "add", "qti.aisw", "ElementWiseAdd", NULL, 0, xs, 2, y) == 0, "add: %s",
          fake_qnn_last_error());
    CHECK(add_node(g, "add2", "qti.aisw", "ElementWiseAdd", NULL, 0, xs, 2, y) ==
              QNN_GRAPH_ERROR_INVALID_TENSOR,
          "second producer");
    CHECK(strstr(fake_qnn_last_error(), "already produced by node 'add'"), "%s",
          fake_qnn_last_error());

    /* execute before finalize */
    Qnn_Tensor_t xin = tdesc(&in[0], dims), xout;
    uint32_t dims2[QE_MAX_RANK];
    xout = tdesc(&o, dims2);
    xin.v1.id = x;
    xout.v1.id = y;
    float xv[6] = {1, 1, 1, 1, 1, 1};
    xin.v1.clientBuf = (Qnn_ClientBuffer_t){xv, 24};
    xout.v1.clientBuf = (Qnn_ClientBuffer_t){out, 24};
    CHECK(FN(execute_fn, S_GRAPH_EXECUTE)(g, &xin, 1, &xout, 1, NULL, NULL) ==
              QNN_GRAPH_ERROR_GRAPH_NOT_FINALIZED,
          "execute before finalize");
    CHECK(FN(finalize_fn, S_GRAPH_FINALIZE)(g, NULL, NULL) == 0, "finalize: %s",
          fake_qnn_last_error());
    CHECK(add_node(g, "late", "qti.aisw", "ElementWiseAdd", NULL, 0, xs, 2, y) ==
              QNN_GRAPH_ERROR_GRAPH_FINALIZED,
          "add after finalize");
    CHECK(FN(execute_fn, S_GRAPH_EXECUTE)(g, NULL, 0, &xout, 1, NULL, NULL) ==
              QNN_GRAPH_ERROR_INVALID_TENSOR,
          "missing input");
    CHECK(strstr(fake_qnn_last_error(), "APP_WRITE tensor 'x' not given"), "%s",
          fake_qnn_last_error());
    xin.v1.clientBuf.dataSize = 12;
    CHECK(FN(execute_fn, S_GRAPH_EXECUTE)(g, &xin, 1, &xout, 1, NULL, NULL) ==
              QNN_GRAPH_ERROR_INVALID_TENSOR,
          "input dataSize");
    CHECK(strstr(fake_qnn_last_error(), "dataSize 12, expected 24"), "%s", fake_qnn_last_error());
    xin.v1.clientBuf.dataSize = 24;
    xout.v1.clientBuf.dataSize = 28;
    CHECK(FN(execute_fn, S_GRAPH_EXECUTE)(g, &xin, 1, &xout, 1, NULL, NULL) ==
              QNN_GRAPH_ERROR_INVALID_TENSOR,
          "output dataSize");
    xout.v1.clientBuf.dataSize = 24;
    CHECK(FN(execute_fn, S_GRAPH_EXECUTE)(g, &xout, 1, &xin, 1, NULL, NULL) ==
              QNN_GRAPH_ERROR_INVALID_TENSOR,
          "inputs and outputs swapped");
    CHECK(FN(execute_fn, S_GRAPH_EXECUTE)(g, &xin, 1, &xout, 1, NULL, NULL) == 0, "execute: %s",
          fake_qnn_last_error());
    for (int i = 0; i < 6; i++)
        CHECK(out[i] == 1.0f + (float)(i + 1), "static copied: out[%d] = %g", i, (double)out[i]);

    /* finalize with a NATIVE tensor nobody produces */
    void *g2 = new_graph();
    tspec nat = {"n", QNN_TENSOR_TYPE_NATIVE, QNN_DATATYPE_FLOAT_32, 2, {2, 3}, NULL};
    CHECK(create_tensor(g2, &in[0], &x) == 0, "x");
    CHECK(create_tensor(g2, &nat, &z) == 0, "n");
    CHECK(create_tensor(g2, &o, &y) == 0, "y");
    uint32_t xz[2] = {x, z};
    CHECK(add_node(g2, "add", "qti.aisw", "ElementWiseAdd", NULL, 0, xz, 2, y) == 0, "add: %s",
          fake_qnn_last_error());
    CHECK(FN(finalize_fn, S_GRAPH_FINALIZE)(g2, NULL, NULL) == QNN_GRAPH_ERROR_UNCONNECTED_NODE,
          "unproduced native");
    CHECK(strstr(fake_qnn_last_error(), "'n' has no producer"), "%s", fake_qnn_last_error());

    /* nodes added out of order still execute in dependency order */
    void *g3 = new_graph();
    CHECK(create_tensor(g3, &in[0], &x) == 0, "x");
    CHECK(create_tensor(g3, &nat, &z) == 0, "n");
    CHECK(create_tensor(g3, &o, &y) == 0, "y");
    uint32_t zz[2] = {z, z}, xx[2] = {x, x};
    CHECK(add_node(g3, "second", "qti.aisw", "ElementWiseMultiply", NULL, 0, zz, 2, y) == 0, "mul");
    CHECK(add_node(g3, "first", "qti.aisw", "ElementWiseAdd", NULL, 0, xx, 2, z) == 0, "add");
    CHECK(FN(finalize_fn, S_GRAPH_FINALIZE)(g3, NULL, NULL) == 0, "finalize: %s",
          fake_qnn_last_error());
    xin.v1.id = x;
    xout.v1.id = y;
    float xv3[6] = {1, 2, 3, 4, 5, 6};
    xin.v1.clientBuf.data = xv3;
    CHECK(FN(execute_fn, S_GRAPH_EXECUTE)(g3, &xin, 1, &xout, 1, NULL, NULL) == 0, "execute: %s",
          fake_qnn_last_error());
    for (int i = 0; i < 6; i++)
        CHECK(out[i] == 4.0f * xv3[i] * xv3[i], "order: out[%d] = %g", i, (double)out[i]);

    /* foreign handles */
    int local;
    uint32_t id;
    CHECK(create_tensor(&local, &in[0], &id) == QNN_TENSOR_ERROR_INVALID_HANDLE, "foreign graph");
    CHECK(FN(finalize_fn, S_GRAPH_FINALIZE)(&local, NULL, NULL) == QNN_GRAPH_ERROR_INVALID_HANDLE,
          "foreign finalize");
    void *gx = NULL;
    CHECK(FN(graph_create_fn, S_GRAPH_CREATE)(&local, "x", NULL, &gx) ==
              QNN_GRAPH_ERROR_INVALID_HANDLE,
          "foreign context");
    CHECK(FN(graph_create_fn, S_GRAPH_CREATE)(context, "g0", NULL, &gx) ==
              QNN_GRAPH_ERROR_INVALID_NAME,
          "graph name in use");

    /* errorGetMessage */
    const char *msg = NULL;
    CHECK(FN(error_msg_fn, S_ERROR_GET_MESSAGE)(QNN_GRAPH_ERROR_INVALID_NAME, &msg) == 0 && msg &&
              strstr(msg, "in use"),
          "errorGetMessage: %s", msg ? msg : "(null)");
}

/* ---- log lines and ARIA_FAKE_FAIL ------------------------------------- */

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    static char buf[65536];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = 0;
    fclose(f);
    return buf;
}

static void test_log_and_fail(void)
{
    unlink(log_path);
    setenv("ARIA_FAKE_LOG", log_path, 1);
    QnnHtpGraph_CustomConfig_t htp;
    memset(&htp, 0, sizeof htp);
    htp.option = QNN_HTP_GRAPH_CONFIG_OPTION_PRECISION;
    htp.precision = QNN_PRECISION_FLOAT16;
    QnnGraph_Config_t gc = {.option = QNN_GRAPH_CONFIG_OPTION_CUSTOM, .customConfig = &htp};
    const QnnGraph_Config_t *cfg[2] = {&gc, NULL};
    void *g = NULL;
    CHECK(FN(graph_create_fn, S_GRAPH_CREATE)(context, "aria", cfg, &g) == 0, "graphCreate aria");
    float v[2] = {1, 2}, r[2];
    tspec a = IN("tok", 1, {2}, v), s = ST("w", 1, {2}, v), o = OUT("out", 1, {2});
    uint32_t ia, is, io;
    CHECK(create_tensor(g, &a, &ia) == 0 && create_tensor(g, &s, &is) == 0 &&
              create_tensor(g, &o, &io) == 0,
          "tensors");
    uint32_t in[2] = {ia, is};
    CHECK(add_node(g, "blk.0.q", "qti.aisw", "ElementWiseAdd", NULL, 0, in, 2, io) == 0, "add");
    tspec o3 = OUT("out3", 1, {3});
    uint32_t io3;
    CHECK(create_tensor(g, &o3, &io3) == 0, "out3");
    CHECK(add_node(g, "blk.0.k", "qti.aisw", "ElementWiseAdd", NULL, 0, in, 2, io3) ==
              QNN_GRAPH_ERROR_INVALID_OP_CONFIG,
          "bad dims");
    setenv("ARIA_FAKE_FAIL", "graphFinalize", 1);
    CHECK(FN(finalize_fn, S_GRAPH_FINALIZE)(g, NULL, NULL) == QNN_COMMON_ERROR_GENERAL,
          "ARIA_FAKE_FAIL");
    unsetenv("ARIA_FAKE_FAIL");
    char *text = slurp(log_path);
    CHECK(text, "no log at %s", log_path);
    if (!text)
        return;
    const char *want[] = {
        "graphCreate(context, \"aria\", {CUSTOM HTP precision=FLOAT16}, out)\n",
        "tensorCreateGraphTensor(graph, \"tok\" APP_WRITE FLOAT_32 [2])\n",
        "tensorCreateGraphTensor(graph, \"out\" APP_READ FLOAT_32 [2])\n",
        "graphAddNode(graph, \"blk.0.q\" ElementWiseAdd, 2 in, 1 out, 0 params)\n",
        "tensorCreateGraphTensor(graph, \"out3\" APP_READ FLOAT_32 [3])\n",
        "graphAddNode(graph, \"blk.0.k\" ElementWiseAdd, 2 in, 1 out, 0 params) -> 6005: node "
        "'blk.0.k' (ElementWiseAdd): output dims [3], inferred [2]\n",
        "graphFinalize(graph, NULL, NULL) -> 1100: fake failure of graphFinalize\n",
    };
    const char *p = text;
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        CHECK(strncmp(p, want[i], strlen(want[i])) == 0, "log line %zu:\n got: %.*s\nwant: %s", i,
              (int)strcspn(p, "\n"), p, want[i]);
        p += strcspn(p, "\n");
        if (*p)
            p++;
    }
    CHECK(!strstr(text, "\"w\""), "STATIC tensor logged");
    CHECK(*p == 0, "extra log lines: %s", p);
    /* a finalize that failed by the knob can be retried; the bad node was not added */
    CHECK(FN(finalize_fn, S_GRAPH_FINALIZE)(g, NULL, NULL) == QNN_GRAPH_ERROR_UNCONNECTED_NODE,
          "out3 has no producer: %s", fake_qnn_last_error());
    (void)r;
    unsetenv("ARIA_FAKE_LOG");
}

int main(void)
{
    const iface_t **list = NULL;
    uint32_t n = 0;
    snprintf(log_path, sizeof log_path, "/tmp/test_qnn_eval.%d.log", (int)getpid());
    unsetenv("ARIA_FAKE_LOG");
    unsetenv("ARIA_FAKE_FAIL");
    unsetenv("ARIA_FAKE_QNN_MODE");
    if (QnnInterface_getProviders(&list, &n) != 0 || n < 2) {
        fprintf(stderr, "QnnInterface_getProviders failed\n");
        return 1;
    }
    for (uint32_t i = 0; i < n; i++)
        if (strcmp(list[i]->providerName, "FakeHtp") == 0)
            QI = list[i];
    if (!QI) {
        fprintf(stderr, "no FakeHtp provider\n");
        return 1;
    }
    CHECK(FN(create3_fn, S_BACKEND_CREATE)(NULL, NULL, &backend) == 0 && backend, "backendCreate");
    CHECK(FN(create3_fn, S_DEVICE_CREATE)(NULL, NULL, &device) == 0 && device, "deviceCreate");
    CHECK(FN(context_create_fn, S_CONTEXT_CREATE)(backend, device, NULL, &context) == 0 && context,
          "contextCreate");
    if (failures)
        return 1;

    test_matmul();
    test_elementwise();
    test_reduce_reshape_concat();
    test_softmax();
    test_gather();
    test_refusals();
    test_log_and_fail();

    unlink(log_path);
    setenv("ARIA_FAKE_LOG", log_path, 1);
    CHECK(FN(context_free_fn, S_CONTEXT_FREE)(context, NULL) == 0, "contextFree");
    CHECK(FN(context_free_fn, S_CONTEXT_FREE)(context, NULL) == QNN_CONTEXT_ERROR_INVALID_HANDLE,
          "contextFree twice");
    CHECK(FN(free1_fn, S_DEVICE_FREE)(device) == 0, "deviceFree");
    CHECK(FN(free1_fn, S_BACKEND_FREE)(backend) == 0, "backendFree");
    const char *text = slurp(log_path);
    const char *want = "contextFree(context, NULL)\n"
                       "contextFree(FOREIGN, NULL) -> 5002: not a context handle of this library\n"
                       "deviceFree(device)\nbackendFree(backend)\n";
    CHECK(text && strcmp(text, want) == 0, "teardown log:\n%s", text ? text : "(none)");
    unlink(log_path);

    if (failures) {
        fprintf(stderr, "%d check(s) failed\n", failures);
        return 1;
    }
    printf("test_qnn_eval: all checks passed\n");
    return 0;
}
