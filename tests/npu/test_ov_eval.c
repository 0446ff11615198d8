/* test_ov_eval.c — the IR interpreter behind the fake OpenVINO, on small
 * hand-written IRs: each operation's semantics against values computed
 * here independently, and the IRs that OpenVINO would refuse. Standalone
 * (no cmocka); exits non-zero on the first batch of failures. */
#include "ov_eval.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* ---- a tiny IR writer: layers, ports and edges as literal XML ----------- */

static char X[65536];
static size_t XL;
static char E[8192];
static size_t EL;
static unsigned char B[65536];
static size_t BL;

static void emit(char *buf, size_t cap, size_t *len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void emit(char *buf, size_t cap, size_t *len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf + *len, cap - *len, fmt, ap);
    va_end(ap);
    if (n > 0)
        *len += (size_t)n;
}
#define XE(...) emit(X, sizeof X, &XL, __VA_ARGS__)

static void begin_v(const char *version)
{
    XL = EL = BL = 0;
    XE("<?xml version=\"1.0\"?>\n<net name=\"t\" version=\"%s\">\n<layers>\n", version);
}

static void begin(void)
{
    begin_v("11");
}

/* "<dim>" children of a port from "2,3" ("" = scalar) */
static void dims(const char *d)
{
    char copy[256];
    snprintf(copy, sizeof copy, "%s", d);
    char *save = NULL;
    for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save))
        XE("<dim>%s</dim>", t);
}

/* A layer. ins: input port dims separated by ';' ("-" for a scalar), NULL
 * for none; out_prec NULL for no output (Result). Input ports are
 * 0..n-1, the output port is n. */
static void L(int id, const char *name, const char *type, const char *ver, const char *data,
              const char *ins, const char *out_prec, const char *out_dims, const char *names)
{
    XE("<layer id=\"%d\" name=\"%s\" type=\"%s\" version=\"%s\">", id, name, type, ver);
    if (data)
        XE("<data %s/>", data);
    int nin = 0;
    if (ins) {
        char copy[256];
        snprintf(copy, sizeof copy, "%s", ins);
        XE("<input>");
        char *p = copy;
        for (;;) {
            char *semi = strchr(p, ';');
            if (semi)
                *semi = 0;
            XE("<port id=\"%d\">", nin++);
            if (strcmp(p, "-") != 0)
                dims(p);
            XE("</port>");
            if (!semi)
                break;
            p = semi + 1;
        }
        XE("</input>");
    }
    if (out_prec) {
        XE("<output><port id=\"%d\" precision=\"%s\"", nin, out_prec);
        if (names)
            XE(" names=\"%s\"", names);
        XE(">");
        dims(out_dims);
        XE("</port></output>");
    }
    XE("</layer>\n");
}

static void edge(int from, int fport, int to, int tport)
{
    emit(E, sizeof E, &EL,
         "<edge from-layer=\"%d\" from-port=\"%d\" to-layer=\"%d\" to-port=\"%d\"/>\n", from, fport,
         to, tport);
}

static const char *end(void)
{
    XE("</layers>\n<edges>\n%s</edges>\n</net>\n", E);
    return X;
}

static void param(int id, const char *name, const char *et, const char *prec, const char *d)
{
    char data[128];
    snprintf(data, sizeof data, "shape=\"%s\" element_type=\"%s\"", d, et);
    L(id, name, "Parameter", "opset1", data, NULL, prec, d, name);
}

static void constant(int id, const char *name, const char *et, const char *prec, const char *d,
                     const void *bytes, size_t n)
{
    char data[160];
    snprintf(data, sizeof data, "element_type=\"%s\" shape=\"%s\" offset=\"%zu\" size=\"%zu\"", et,
             d, BL, n);
    memcpy(B + BL, bytes, n);
    BL += n;
    L(id, name, "Const", "opset1", data, NULL, prec, d, NULL);
}

static void const_i64(int id, const char *name, const char *d, const int64_t *v, size_t n)
{
    constant(id, name, "i64", "I64", d, v, n * sizeof *v);
}

static void const_f32(int id, const char *name, const char *d, const float *v, size_t n)
{
    constant(id, name, "f32", "FP32", d, v, n * sizeof *v);
}

static void result(int id, const char *in_dims, int from, int fport)
{
    L(id, "out", "Result", "opset1", NULL, in_dims, NULL, NULL, NULL);
    edge(from, fport, id, 0);
}

/* ---- running ------------------------------------------------------------ */

typedef struct {
    ove_model *m;
    ove_compiled *c;
    ove_request *r;
    char err[512];
} run;

static int load(run *R)
{
    memset(R, 0, sizeof *R);
    const char *xml = end();
    R->m = ove_read(xml, strlen(xml), BL ? B : NULL, BL, R->err, sizeof R->err);
    if (!R->m)
        return -1;
    R->c = ove_compile(R->m, R->err, sizeof R->err);
    if (!R->c)
        return -1;
    R->r = ove_request_new(R->c, R->err, sizeof R->err);
    return R->r ? 0 : -1;
}

static void unload(run *R)
{
    ove_request_free(R->r);
    ove_compiled_free(R->c);
    ove_model_free(R->m);
    memset(R, 0, sizeof *R);
}

/* Expect the IR to be refused at read with a message containing each of
 * the given substrings. */
static void refused(int line, const char *what, const char *s1, const char *s2)
{
    char err[512] = "";
    const char *xml = end();
    ove_model *m = ove_read(xml, strlen(xml), BL ? B : NULL, BL, err, sizeof err);
    if (m) {
        failures++;
        fprintf(stderr, "line %d: %s: accepted, should be refused\n", line, what);
        ove_model_free(m);
        return;
    }
    if ((s1 && !strstr(err, s1)) || (s2 && !strstr(err, s2))) {
        failures++;
        fprintf(stderr, "line %d: %s: message \"%s\" lacks \"%s\"%s%s%s\n", line, what, err,
                s1 ? s1 : "", s2 ? " / \"" : "", s2 ? s2 : "", s2 ? "\"" : "");
    }
}
#define REFUSED(what, s1, s2) refused(__LINE__, what, s1, s2)

static int close_to(float a, float b)
{
    return fabsf(a - b) <= 1e-5f * (1.0f + fabsf(b));
}

static void expect_f32(int line, const char *what, const float *got, const float *want, size_t n)
{
    for (size_t k = 0; k < n; k++)
        if (!close_to(got[k], want[k])) {
            failures++;
            fprintf(stderr, "line %d: %s: element %zu is %.9g, expected %.9g\n", line, what, k,
                    (double)got[k], (double)want[k]);
            return;
        }
}
#define EXPECT_F32(what, got, want, n) expect_f32(__LINE__, what, got, want, n)

static void expect_dims(int line, const char *what, const ove_desc *d, const char *want)
{
    char buf[96];
    ove_dims_str(d, buf, sizeof buf);
    if (strcmp(buf, want) != 0) {
        failures++;
        fprintf(stderr, "line %d: %s: dims %s, expected %s\n", line, what, buf, want);
    }
}
#define EXPECT_DIMS(what, d, want) expect_dims(__LINE__, what, d, want)

static void seq(float *v, size_t n, float start, float step)
{
    for (size_t k = 0; k < n; k++)
        v[k] = start + step * (float)k;
}

/* ---- operations ---------------------------------------------------------- */

static void test_matmul_transpose_b(void)
{
    float a[6], b[12], want[8];
    seq(a, 6, 1.0f, 0.5f);
    seq(b, 12, -2.0f, 0.25f);
    for (int i = 0; i < 2; i++) /* A 2x3 times B^T, B 4x3 */
        for (int j = 0; j < 4; j++) {
            float s = 0;
            for (int k = 0; k < 3; k++)
                s += a[i * 3 + k] * b[j * 3 + k];
            want[i * 4 + j] = s;
        }
    begin();
    param(0, "a", "f32", "FP32", "2,3");
    const_f32(1, "w", "4,3", b, 12);
    L(2, "mm", "MatMul", "opset1", "transpose_a=\"false\" transpose_b=\"true\"", "2,3;4,3", "FP32",
      "2,4", "y");
    edge(0, 0, 2, 0);
    edge(1, 0, 2, 1);
    result(3, "2,4", 2, 2);
    run R;
    if (load(&R)) {
        CHECK(0, "load: %s", R.err);
        unload(&R);
        return;
    }
    CHECK(ove_find_input(R.c, "a") == 0, "input a");
    CHECK(ove_find_output(R.c, "y") == 0, "output y");
    EXPECT_DIMS("matmul out", ove_output_desc(R.c, 0), "[2,4]");
    ove_bind_input(R.r, 0, a);
    CHECK(ove_infer(R.r, R.err, sizeof R.err) == 0, "infer: %s", R.err);
    EXPECT_F32("matmul transpose_b", ove_output_data(R.r, 0), want, 8);
    unload(&R);

    /* transpose_a on the same data: A^T is 3x2 stored as a [3,2] param? use
     * a [3,2] input read transposed: (A')^T . B^T with A' = [3,2] */
    float at[6];
    for (int i = 0; i < 2; i++)
        for (int k = 0; k < 3; k++)
            at[k * 2 + i] = a[i * 3 + k];
    begin();
    param(0, "at", "f32", "FP32", "3,2");
    const_f32(1, "w", "4,3", b, 12);
    L(2, "mm", "MatMul", "opset1", "transpose_a=\"true\" transpose_b=\"true\"", "3,2;4,3", "FP32",
      "2,4", "y");
    edge(0, 0, 2, 0);
    edge(1, 0, 2, 1);
    result(3, "2,4", 2, 2);
    if (load(&R)) {
        CHECK(0, "load: %s", R.err);
    } else {
        ove_bind_input(R.r, 0, at);
        CHECK(ove_infer(R.r, R.err, sizeof R.err) == 0, "infer: %s", R.err);
        EXPECT_F32("matmul transpose_a+b", ove_output_data(R.r, 0), want, 8);
    }
    unload(&R);
}

static void test_matmul_batched(void)
{
    /* A [1,2,3] x B [3,3,4] -> [3,2,4]: A broadcasts over B's batch */
    float a[6], b[36], want[24];
    seq(a, 6, 0.5f, 1.0f);
    seq(b, 36, 1.0f, -0.125f);
    for (int n = 0; n < 3; n++)
        for (int i = 0; i < 2; i++)
            for (int j = 0; j < 4; j++) {
                float s = 0;
                for (int k = 0; k < 3; k++)
                    s += a[i * 3 + k] * b[n * 12 + k * 4 + j];
                want[n * 8 + i * 4 + j] = s;
            }
    begin();
    param(0, "a", "f32", "FP32", "1,2,3");
    param(1, "b", "f32", "FP32", "3,3,4");
    L(2, "mm", "MatMul", "opset1", "transpose_a=\"false\" transpose_b=\"false\"", "1,2,3;3,3,4",
      "FP32", "3,2,4", "y");
    edge(0, 0, 2, 0);
    edge(1, 0, 2, 1);
    result(3, "3,2,4", 2, 2);
    run R;
    if (load(&R)) {
        CHECK(0, "load: %s", R.err);
    } else {
        ove_bind_input(R.r, 0, a);
        ove_bind_input(R.r, 1, b);
        CHECK(ove_infer(R.r, R.err, sizeof R.err) == 0, "infer: %s", R.err);
        EXPECT_F32("batched matmul", ove_output_data(R.r, 0), want, 24);
    }
    unload(&R);

    /* rank 3 by rank 2: [2,2,3] x [3,2] -> [2,2,2]; and 1-D: [3] x [3,2] -> [2] */
    float c[12], d[6], want2[8], want3[2];
    seq(c, 12, -1.0f, 0.5f);
    seq(d, 6, 2.0f, -0.75f);
    for (int n = 0; n < 2; n++)
        for (int i = 0; i < 2; i++)
            for (int j = 0; j < 2; j++) {
                float s = 0;
                for (int k = 0; k < 3; k++)
                    s += c[n * 6 + i * 3 + k] * d[k * 2 + j];
                want2[n * 4 + i * 2 + j] = s;
            }
    for (int j = 0; j < 2; j++)
        want3[j] = c[0] * d[j] + c[1] * d[2 + j] + c[2] * d[4 + j];
    begin();
    param(0, "c", "f32", "FP32", "2,2,3");
    param(1, "v", "f32", "FP32", "3");
    const_f32(2, "d", "3,2", d, 6);
    L(3, "mm", "MatMul", "opset1", "transpose_a=\"false\" transpose_b=\"false\"", "2,2,3;3,2",
      "FP32", "2,2,2", "y");
    L(4, "mv", "MatMul", "opset1", NULL, "3;3,2", "FP32", "2", "z");
    edge(0, 0, 3, 0);
    edge(2, 0, 3, 1);
    edge(1, 0, 4, 0);
    edge(2, 0, 4, 1);
    result(5, "2,2,2", 3, 2);
    result(6, "2", 4, 2);
    if (load(&R)) {
        CHECK(0, "load: %s", R.err);
    } else {
        ove_bind_input(R.r, 0, c);
        ove_bind_input(R.r, 1, c);
        CHECK(ove_infer(R.r, R.err, sizeof R.err) == 0, "infer: %s", R.err);
        EXPECT_F32("3-D by 2-D matmul", ove_output_data(R.r, ove_find_output(R.c, "y")), want2, 8);
        EXPECT_F32("1-D by 2-D matmul", ove_output_data(R.r, ove_find_output(R.c, "z")), want3, 2);
    }
    unload(&R);
}

static void test_gather(void)
{
    float data[8];
    seq(data, 8, 10.0f, 1.0f); /* [2,4] */
    int64_t idx[2] = {-1, 1}, axis = 1;
    float want[4] = {data[3], data[1], data[7], data[5]};
    begin();
    param(0, "d", "f32", "FP32", "2,4");
    const_i64(1, "idx", "2", idx, 2);
    const_i64(2, "axis", "", &axis, 1);
    L(3, "g", "Gather", "opset8", "batch_dims=\"0\"", "2,4;2;-", "FP32", "2,2", "y");
    edge(0, 0, 3, 0);
    edge(1, 0, 3, 1);
    edge(2, 0, 3, 2);
    result(4, "2,2", 3, 3);
    run R;
    if (load(&R)) {
        CHECK(0, "load: %s", R.err);
    } else {
        ove_bind_input(R.r, 0, data);
        CHECK(ove_infer(R.r, R.err, sizeof R.err) == 0, "infer: %s", R.err);
        EXPECT_F32("gather axis 1, index -1", ove_output_data(R.r, 0), want, 4);
    }
    unload(&R);

    /* token embedding: i64 ids [1,1] from a [5,3] table on axis 0 -> [1,1,3];
     * an id out of range is refused at infer */
    float table[15];
    seq(table, 15, 0.0f, 0.5f);
    int64_t ax0 = 0;
    begin();
    param(0, "ids", "i64", "I64", "1,1");
    const_f32(1, "table", "5,3", table, 15);
    const_i64(2, "axis", "1", &ax0, 1);
    L(3, "embed", "Gather", "opset8", "batch_dims=\"0\"", "5,3;1,1;1", "FP32", "1,1,3", "h");
    edge(1, 0, 3, 0);
    edge(0, 0, 3, 1);
    edge(2, 0, 3, 2);
    result(4, "1,1,3", 3, 3);
    if (load(&R)) {
        CHECK(0, "load: %s", R.err);
    } else {
        int64_t id = 4;
        ove_bind_input(R.r, 0, &id);
        CHECK(ove_infer(R.r, R.err, sizeof R.err) == 0, "infer: %s", R.err);
        EXPECT_F32("embedding row 4", ove_output_data(R.r, 0), table + 12, 3);
        id = -5;
        CHECK(ove_infer(R.r, R.err, sizeof R.err) == 0, "infer: %s", R.err);
        EXPECT_F32("embedding row -5", ove_output_data(R.r, 0), table, 3);
        id = 5;
        R.err[0] = 0;
        CHECK(ove_infer(R.r, R.err, sizeof R.err) != 0, "index 5 of 5 accepted");
        CHECK(strstr(R.err, "layer 3 'embed' (Gather)") && strstr(R.err, "index 5 out of range"),
              "message: %s", R.err);
        id = -6;
        CHECK(ove_infer(R.r, R.err, sizeof R.err) != 0, "index -6 of 5 accepted");
    }
    unload(&R);
}

static void test_reshape_transpose(void)
{
    float x[24];
    seq(x, 24, 0.0f, 1.0f);
    int64_t shp[2] = {0, -1}, order[3] = {2, 0, 1};
    /* reshape [2,3,4] -> [0,-1] = [2,12]; transpose [2,3,4] by {2,0,1} -> [4,2,3] */
    float want_t[24];
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 2; j++)
            for (int k = 0; k < 3; k++)
                want_t[(i * 2 + j) * 3 + k] = x[(j * 3 + k) * 4 + i];
    begin();
    param(0, "x", "f32", "FP32", "2,3,4");
    const_i64(1, "shape", "2", shp, 2);
    L(2, "r", "Reshape", "opset1", "special_zero=\"true\"", "2,3,4;2", "FP32", "2,12", "r");
    const_i64(3, "order", "3", order, 3);
    L(4, "t", "Transpose", "opset1", NULL, "2,3,4;3", "FP32", "4,2,3", "t");
    edge(0, 0, 2, 0);
    edge(1, 0, 2, 1);
    edge(0, 0, 4, 0);
    edge(3, 0, 4, 1);
    result(5, "2,12", 2, 2);
    result(6, "4,2,3", 4, 2);
    run R;
    if (load(&R)) {
        CHECK(0, "load: %s", R.err);
    } else {
        EXPECT_DIMS("reshape", ove_output_desc(R.c, ove_find_output(R.c, "r")), "[2,12]");
        ove_bind_input(R.r, 0, x);
        CHECK(ove_infer(R.r, R.err, sizeof R.err) == 0, "infer: %s", R.err);
        EXPECT_F32("reshape data", ove_output_data(R.r, ove_find_output(R.c, "r")), x, 24);
        EXPECT_F32("transpose", ove_output_data(R.r, ove_find_output(R.c, "t")), want_t, 24);
    }
    unload(&R);

    /* special_zero false: the 0 is a real zero, so the counts differ */
    begin();
    param(0, "x", "f32", "FP32", "2,3,4");
    const_i64(1, "shape", "2", shp, 2);
    L(2, "r", "Reshape", "opset1", "special_zero=\"false\"", "2,3,4;2", "FP32", "2,12", "r");
    edge(0, 0, 2, 0);
    edge(1, 0, 2, 1);
    result(3, "2,12", 2, 2);
    REFUSED("reshape 0 without special_zero", "layer 2 'r' (Reshape)", "cannot infer -1");

    /* two -1 */
    int64_t two[2] = {-1, -1};
    begin();
    param(0, "x", "f32", "FP32", "2,3,4");
    const_i64(1, "shape", "2", two, 2);
    L(2, "r", "Reshape", "opset1", "special_zero=\"true\"", "2,3,4;2", "FP32", "2,12", "r");
    edge(0, 0, 2, 0);
    edge(1, 0, 2, 1);
    result(3, "2,12", 2, 2);
    REFUSED("reshape with two -1", "layer 2 'r' (Reshape)", "more than one -1");
}

static void test_reduce_sqrt_div(void)
{
    /* RMSNorm-like: x / sqrt(mean(x*x, -1, keep) + eps) */
    float x[6] = {1, -2, 3, 0.5f, 4, -1};
    float eps = 1e-5f;
    int64_t axes = -1;
    float want[6], want_m0[3];
    for (int r = 0; r < 2; r++) {
        float s = 0;
        for (int k = 0; k < 3; k++)
            s += x[r * 3 + k] * x[r * 3 + k];
        float d = sqrtf(s / 3 + eps);
        for (int k = 0; k < 3; k++)
            want[r * 3 + k] = x[r * 3 + k] / d;
    }
    for (int k = 0; k < 3; k++)
        want_m0[k] = (x[k] + x[3 + k]) / 2;
    int64_t ax0 = 0;
    begin();
    param(0, "x", "f32", "FP32", "2,3");
    L(1, "sq", "Multiply", "opset1", "auto_broadcast=\"numpy\"", "2,3;2,3", "FP32", "2,3", NULL);
    const_i64(2, "axes", "1", &axes, 1);
    L(3, "mean", "ReduceMean", "opset1", "keep_dims=\"true\"", "2,3;1", "FP32", "2,1", "mean");
    const_f32(4, "eps", "", &eps, 1);
    L(5, "addeps", "Add", "opset1", "auto_broadcast=\"numpy\"", "2,1;-", "FP32", "2,1", NULL);
    L(6, "root", "Sqrt", "opset1", NULL, "2,1", "FP32", "2,1", NULL);
    L(7, "norm", "Divide", "opset1", "auto_broadcast=\"numpy\" m_pythondiv=\"true\"", "2,3;2,1",
      "FP32", "2,3", "y");
    const_i64(8, "axes0", "", &ax0, 1);
    L(9, "mean0", "ReduceMean", "opset1", "keep_dims=\"false\"", "2,3;-", "FP32", "3", "m0");
    edge(0, 0, 1, 0);
    edge(0, 0, 1, 1);
    edge(1, 2, 3, 0);
    edge(2, 0, 3, 1);
    edge(3, 2, 5, 0);
    edge(4, 0, 5, 1);
    edge(5, 2, 6, 0);
    edge(0, 0, 7, 0);
    edge(6, 1, 7, 1);
    edge(0, 0, 9, 0);
    edge(8, 0, 9, 1);
    result(10, "2,3", 7, 2);
    result(11, "3", 9, 2);
    result(12, "2,1", 3, 2);
    run R;
    if (load(&R)) {
        CHECK(0, "load: %s", R.err);
    } else {
        ove_bind_input(R.r, 0, x);
        CHECK(ove_infer(R.r, R.err, sizeof R.err) == 0, "infer: %s", R.err);
        EXPECT_F32("rmsnorm", ove_output_data(R.r, ove_find_output(R.c, "y")), want, 6);
        EXPECT_F32("reduce mean axis 0", ove_output_data(R.r, ove_find_output(R.c, "m0")), want_m0,
                   3);
        EXPECT_DIMS("keep_dims", ove_output_desc(R.c, ove_find_output(R.c, "mean")), "[2,1]");
    }
    unload(&R);
}

static void test_broadcast_sub(void)
{
    float a[2] = {1, 2}, b[3] = {10, 20, 30}, want[6];
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 3; j++)
            want[i * 3 + j] = a[i] - b[j];
    begin();
    param(0, "a", "f32", "FP32", "2,1");
    param(1, "b", "f32", "FP32", "3");
    L(2, "s", "Subtract", "opset1", NULL, "2,1;3", "FP32", "2,3", "y");
    edge(0, 0, 2, 0);
    edge(1, 0, 2, 1);
    result(3, "2,3", 2, 2);
    run R;
    if (load(&R)) {
        CHECK(0, "load: %s", R.err);
    } else {
        ove_bind_input(R.r, 0, a);
        ove_bind_input(R.r, 1, b);
        CHECK(ove_infer(R.r, R.err, sizeof R.err) == 0, "infer: %s", R.err);
        EXPECT_F32("numpy broadcast subtract", ove_output_data(R.r, 0), want, 6);
        /* the request reads the bound memory again at each infer */
        a[1] = 5;
        want[3] = 5 - 10, want[4] = 5 - 20, want[5] = 5 - 30;
        CHECK(ove_infer(R.r, R.err, sizeof R.err) == 0, "infer: %s", R.err);
        EXPECT_F32("rebound subtract", ove_output_data(R.r, 0), want, 6);
    }
    unload(&R);
}

static void test_softmax_swish(void)
{
    float x[4] = {1.0f, -INFINITY, 2.0f, -INFINITY};
    float s = expf(1.0f - 2.0f) + 1.0f;
    float want[4] = {expf(-1.0f) / s, 0.0f, 1.0f / s, 0.0f};
    float y[5] = {-2, 0, 1, 3, -20}, beta = 2.0f, want1[5], want2[5];
    for (int k = 0; k < 5; k++) {
        want1[k] = y[k] / (1.0f + expf(-y[k]));
        want2[k] = y[k] / (1.0f + expf(-beta * y[k]));
    }
    begin();
    param(0, "x", "f32", "FP32", "1,4");
    L(1, "sm", "SoftMax", "opset8", "axis=\"-1\"", "1,4", "FP32", "1,4", "p");
    param(2, "y", "f32", "FP32", "5");
    L(3, "sw1", "Swish", "opset4", NULL, "5", "FP32", "5", "s1");
    const_f32(4, "beta", "", &beta, 1);
    L(5, "sw2", "Swish", "opset4", NULL, "5;-", "FP32", "5", "s2");
    edge(0, 0, 1, 0);
    edge(2, 0, 3, 0);
    edge(2, 0, 5, 0);
    edge(4, 0, 5, 1);
    result(6, "1,4", 1, 1);
    result(7, "5", 3, 1);
    result(8, "5", 5, 2);
    run R;
    if (load(&R)) {
        CHECK(0, "load: %s", R.err);
    } else {
        ove_bind_input(R.r, 0, x);
        ove_bind_input(R.r, 1, y);
        CHECK(ove_infer(R.r, R.err, sizeof R.err) == 0, "infer: %s", R.err);
        const float *p = ove_output_data(R.r, ove_find_output(R.c, "p"));
        EXPECT_F32("softmax with -inf", p, want, 4);
        CHECK(p[1] == 0.0f && p[3] == 0.0f, "-inf gives %g %g", (double)p[1], (double)p[3]);
        EXPECT_F32("swish beta 1", ove_output_data(R.r, ove_find_output(R.c, "s1")), want1, 5);
        EXPECT_F32("swish beta 2", ove_output_data(R.r, ove_find_output(R.c, "s2")), want2, 5);
    }
    unload(&R);

    /* without an axis attribute SoftMax works on axis 1 (the spec's
     * default), not on the last axis: [2,3] softmaxes down the columns */
    float z[6] = {0, 1, 2, 2, 1, 0}, wz[6];
    for (int i = 0; i < 2; i++) { /* axis 1 = along each row of 3 */
        float sum = 0;
        for (int j = 0; j < 3; j++)
            sum += expf(z[i * 3 + j]);
        for (int j = 0; j < 3; j++)
            wz[i * 3 + j] = expf(z[i * 3 + j]) / sum;
    }
    float z3[6] = {0, 1, 2, 2, 1, 0}, wz3[6]; /* [3,2,1]: axis 1 has 2 entries */
    for (int i = 0; i < 3; i++) {
        float sum = expf(z3[i * 2]) + expf(z3[i * 2 + 1]);
        wz3[i * 2] = expf(z3[i * 2]) / sum;
        wz3[i * 2 + 1] = expf(z3[i * 2 + 1]) / sum;
    }
    begin();
    param(0, "z", "f32", "FP32", "2,3");
    L(1, "sm", "SoftMax", "opset8", NULL, "2,3", "FP32", "2,3", "p");
    param(2, "z3", "f32", "FP32", "3,2,1");
    L(3, "sm3", "SoftMax", "opset1", NULL, "3,2,1", "FP32", "3,2,1", "p3");
    edge(0, 0, 1, 0);
    edge(2, 0, 3, 0);
    result(4, "2,3", 1, 1);
    result(5, "3,2,1", 3, 1);
    if (load(&R)) {
        CHECK(0, "load: %s", R.err);
    } else {
        ove_bind_input(R.r, 0, z);
        ove_bind_input(R.r, 1, z3);
        CHECK(ove_infer(R.r, R.err, sizeof R.err) == 0, "infer: %s", R.err);
        EXPECT_F32("softmax default axis, rank 2", ove_output_data(R.r, 0), wz, 6);
        EXPECT_F32("softmax default axis, rank 3", ove_output_data(R.r, 1), wz3, 6);
    }
    unload(&R);

    /* SoftMax-1 takes no negative axis; SoftMax-8 range is [-rank, rank-1] */
    begin();
    param(0, "x", "f32", "FP32", "1,4");
    L(1, "sm", "SoftMax", "opset1", "axis=\"-1\"", "1,4", "FP32", "1,4", "p");
    edge(0, 0, 1, 0);
    result(2, "1,4", 1, 1);
    REFUSED("SoftMax-1 negative axis", "layer 1 'sm' (SoftMax)", "negative");
    begin();
    param(0, "x", "f32", "FP32", "1,4");
    L(1, "sm", "SoftMax", "opset8", "axis=\"2\"", "1,4", "FP32", "1,4", "p");
    edge(0, 0, 1, 0);
    result(2, "1,4", 1, 1);
    REFUSED("SoftMax-8 axis out of range", "layer 1 'sm' (SoftMax)", "axis 2 out of range");
}

static void test_concat(void)
{
    float a[4] = {1, 2, 3, 4}, b[2] = {5, 6}, want[6] = {1, 2, 3, 4, 5, 6};
    float c[6], d[3], want2[9];
    seq(c, 6, 1, 1); /* [1,2,3] ++ [1,1,3] on axis -2 -> [1,3,3] */
    seq(d, 3, 10, 1);
    memcpy(want2, c, sizeof c);
    memcpy(want2 + 6, d, sizeof d);
    float e[4] = {1, 2, 3, 4}, f[2] = {9, 8}; /* [2,2] ++ [2,1] on axis -1 */
    float want3[6] = {1, 2, 9, 3, 4, 8};
    begin();
    param(0, "a", "f32", "FP32", "1,2,2");
    param(1, "b", "f32", "FP32", "1,1,2");
    L(2, "cat", "Concat", "opset1", "axis=\"-2\"", "1,2,2;1,1,2", "FP32", "1,3,2", "y");
    param(3, "c", "f32", "FP32", "1,2,3");
    param(4, "d", "f32", "FP32", "1,1,3");
    L(5, "cat2", "Concat", "opset1", "axis=\"1\"", "1,2,3;1,1,3", "FP32", "1,3,3", "z");
    param(6, "e", "f32", "FP32", "2,2");
    param(7, "f", "f32", "FP32", "2,1");
    L(8, "cat3", "Concat", "opset1", "axis=\"-1\"", "2,2;2,1", "FP32", "2,3", "w");
    edge(0, 0, 2, 0);
    edge(1, 0, 2, 1);
    edge(3, 0, 5, 0);
    edge(4, 0, 5, 1);
    edge(6, 0, 8, 0);
    edge(7, 0, 8, 1);
    result(9, "1,3,2", 2, 2);
    result(10, "1,3,3", 5, 2);
    result(11, "2,3", 8, 2);
    run R;
    if (load(&R)) {
        CHECK(0, "load: %s", R.err);
    } else {
        const void *ins[6] = {a, b, c, d, e, f};
        for (int i = 0; i < 6; i++)
            ove_bind_input(R.r, i, ins[i]);
        CHECK(ove_infer(R.r, R.err, sizeof R.err) == 0, "infer: %s", R.err);
        EXPECT_F32("concat axis -2", ove_output_data(R.r, ove_find_output(R.c, "y")), want, 6);
        EXPECT_F32("concat axis 1", ove_output_data(R.r, ove_find_output(R.c, "z")), want2, 9);
        EXPECT_F32("concat axis -1", ove_output_data(R.r, ove_find_output(R.c, "w")), want3, 6);
    }
    unload(&R);
}

static void test_convert_f16(void)
{
    /* 1, the smallest subnormal, the largest subnormal, -inf, nan, -2,
     * 65504, the smallest normal */
    uint16_t h[8] = {0x3c00, 0x0001, 0x03ff, 0xfc00, 0x7e00, 0xc000, 0x7bff, 0x0400};
    begin();
    constant(0, "w16", "f16", "FP16", "8", h, sizeof h);
    L(1, "cvt", "Convert", "opset1", "destination_type=\"f32\"", "8", "FP32", "8", "y");
    edge(0, 0, 1, 0);
    result(2, "8", 1, 1);
    run R;
    if (load(&R)) {
        CHECK(0, "load: %s", R.err);
    } else {
        CHECK(ove_infer(R.r, R.err, sizeof R.err) == 0, "infer: %s", R.err);
        const float *y = ove_output_data(R.r, 0);
        CHECK(y[0] == 1.0f, "1.0 gives %g", (double)y[0]);
        CHECK(y[1] == 5.9604644775390625e-08f, "min subnormal gives %g", (double)y[1]);
        CHECK(y[2] == 1023.0f / 16777216.0f, "max subnormal gives %g", (double)y[2]);
        CHECK(isinf(y[3]) && y[3] < 0, "-inf gives %g", (double)y[3]);
        CHECK(isnan(y[4]), "nan gives %g", (double)y[4]);
        CHECK(y[5] == -2.0f, "-2 gives %g", (double)y[5]);
        CHECK(y[6] == 65504.0f, "65504 gives %g", (double)y[6]);
        CHECK(y[7] == 6.103515625e-05f, "min normal gives %g", (double)y[7]);
    }
    unload(&R);
    /* and back: encode rounds to nearest even */
    CHECK(ove_f32_to_f16(1.0f) == 0x3c00, "1.0");
    CHECK(ove_f32_to_f16(5.9604644775390625e-08f) == 0x0001, "min subnormal");
    CHECK(ove_f32_to_f16(2.98023223876953125e-08f) == 0x0000, "half of min subnormal: to even 0");
    CHECK(ove_f32_to_f16(65520.0f) == 0x7c00, "65520 rounds to inf");
    CHECK(ove_f32_to_f16(1.0f + 1.0f / 2048) == 0x3c00, "tie to even (down)");
    CHECK(ove_f32_to_f16(1.0f + 3.0f / 2048) == 0x3c02, "tie to even (up)");

    /* i8 weights converted, then used; i64 -> f32 */
    int8_t q[4] = {-128, -1, 0, 127};
    float wq[4] = {-128, -1, 0, 127};
    begin();
    constant(0, "q", "i8", "I8", "4", q, sizeof q);
    L(1, "cvt", "Convert", "opset1", "destination_type=\"f32\"", "4", "FP32", "4", "y");
    edge(0, 0, 1, 0);
    result(2, "4", 1, 1);
    if (load(&R)) {
        CHECK(0, "load: %s", R.err);
    } else {
        CHECK(ove_infer(R.r, R.err, sizeof R.err) == 0, "infer: %s", R.err);
        EXPECT_F32("i8 convert", ove_output_data(R.r, 0), wq, 4);
    }
    unload(&R);
}

static void test_i64_shape_arith(void)
{
    /* i64 arithmetic as in shape subgraphs; Divide floors (m_pythondiv) */
    int64_t a[3] = {7, -7, 6}, b[3] = {2, 2, -4}, want[3] = {3, -4, -2};
    begin();
    param(0, "a", "i64", "I64", "3");
    const_i64(1, "b", "3", b, 3);
    L(2, "div", "Divide", "opset1", "auto_broadcast=\"numpy\" m_pythondiv=\"true\"", "3;3", "I64",
      "3", "y");
    edge(0, 0, 2, 0);
    edge(1, 0, 2, 1);
    result(3, "3", 2, 2);
    run R;
    if (load(&R)) {
        CHECK(0, "load: %s", R.err);
    } else {
        ove_bind_input(R.r, 0, a);
        CHECK(ove_infer(R.r, R.err, sizeof R.err) == 0, "infer: %s", R.err);
        const int64_t *y = ove_output_data(R.r, 0);
        CHECK(y[0] == want[0] && y[1] == want[1] && y[2] == want[2], "floor div %lld %lld %lld",
              (long long)y[0], (long long)y[1], (long long)y[2]);
    }
    unload(&R);
}

/* ---- refusals -------------------------------------------------------------- */

static void mm_ir(const char *out_dims, int with_second_edge)
{
    float w[12] = {0};
    begin();
    param(0, "a", "f32", "FP32", "2,3");
    const_f32(1, "w", "4,3", w, 12);
    L(12, "q_rope", "MatMul", "opset1", "transpose_a=\"false\" transpose_b=\"true\"", "2,3;4,3",
      "FP32", out_dims, "y");
    edge(0, 0, 12, 0);
    if (with_second_edge)
        edge(1, 0, 12, 1);
    result(3, out_dims, 12, 2);
}

static void test_refusals(void)
{
    mm_ir("2,4", 1); /* the good one, to make sure the refusals below are specific */
    run R;
    CHECK(load(&R) == 0, "good IR refused: %s", R.err);
    unload(&R);

    mm_ir("2,5", 1);
    REFUSED("wrong declared dims",
            "layer 12 'q_rope' (MatMul) port 2: declared [2,5], inferred [2,4]", NULL);

    mm_ir("2,4", 0);
    REFUSED("unconnected input", "layer 12 'q_rope' (MatMul)", "input port 1 is not connected");

    mm_ir("2,4", 1);
    edge(0, 0, 12, 1);
    REFUSED("input connected twice", "layer 12 'q_rope' (MatMul)", "more than once");

    /* declared input dims that do not match the producer */
    float w[12] = {0};
    begin();
    param(0, "a", "f32", "FP32", "2,3");
    const_f32(1, "w", "4,3", w, 12);
    L(2, "mm", "MatMul", "opset1", "transpose_b=\"true\"", "2,3;3,4", "FP32", "2,4", "y");
    edge(0, 0, 2, 0);
    edge(1, 0, 2, 1);
    result(3, "2,4", 2, 2);
    REFUSED("input port dims", "layer 2 'mm' (MatMul) port 1: declared [3,4]",
            "layer 1 'w' gives [4,3]");

    /* inner dimensions that do not agree (transpose_b forgotten) */
    begin();
    param(0, "a", "f32", "FP32", "2,3");
    const_f32(1, "w", "4,3", w, 12);
    L(2, "mm", "MatMul", "opset1", NULL, "2,3;4,3", "FP32", "2,4", "y");
    edge(0, 0, 2, 0);
    edge(1, 0, 2, 1);
    result(3, "2,4", 2, 2);
    REFUSED("matmul K mismatch", "layer 2 'mm' (MatMul)", "inner dimensions differ: 3 vs 4");

    /* a declared precision that is not the inferred element type */
    begin();
    param(0, "a", "f32", "FP32", "2,3");
    const_f32(1, "w", "4,3", w, 12);
    L(2, "mm", "MatMul", "opset1", "transpose_b=\"true\"", "2,3;4,3", "FP16", "2,4", "y");
    edge(0, 0, 2, 0);
    edge(1, 0, 2, 1);
    result(3, "2,4", 2, 2);
    REFUSED("precision", "layer 2 'mm' (MatMul) port 2", "declared precision f16, inferred f32");

    /* Const beyond the blob, and of the wrong size */
    begin();
    param(0, "a", "f32", "FP32", "2,3");
    const_f32(1, "w", "4,3", w, 12);
    L(2, "w2", "Const", "opset1", "element_type=\"f32\" shape=\"4,3\" offset=\"8\" size=\"48\"",
      NULL, "FP32", "4,3", NULL);
    L(3, "mm", "MatMul", "opset1", "transpose_b=\"true\"", "2,3;4,3", "FP32", "2,4", "y");
    edge(0, 0, 3, 0);
    edge(2, 0, 3, 1);
    result(4, "2,4", 3, 2);
    REFUSED("const out of blob", "layer 2 'w2' (Const)", "beyond the 48-byte weights");
    begin();
    L(1, "w", "Const", "opset1", "element_type=\"f32\" shape=\"4,3\" offset=\"0\" size=\"44\"",
      NULL, "FP32", "4,3", NULL);
    memset(B, 0, 48);
    BL = 48;
    result(2, "4,3", 1, 0);
    REFUSED("const size", "layer 1 'w' (Const)", "size 44 does not match f32 [4,3] (48 bytes)");
    begin();
    L(1, "w", "Const", "opset1", "element_type=\"f32\" shape=\"4,3\" offset=\"0\" size=\"48\"",
      NULL, "FP32", "4,3", NULL);
    result(2, "4,3", 1, 0);
    REFUSED("const without weights", "layer 1 'w' (Const)", "no weights");

    /* a cycle: two Adds feeding each other */
    begin();
    param(0, "a", "f32", "FP32", "2");
    L(1, "x", "Add", "opset1", NULL, "2;2", "FP32", "2", NULL);
    L(2, "z", "Add", "opset1", NULL, "2;2", "FP32", "2", NULL);
    edge(0, 0, 1, 0);
    edge(2, 2, 1, 1);
    edge(0, 0, 2, 0);
    edge(1, 2, 2, 1);
    result(3, "2", 2, 2);
    REFUSED("cycle", "(Add)", "cycle");

    /* unknown op, and a known op at a version not supported */
    begin();
    param(0, "a", "f32", "FP32", "2");
    L(1, "act", "Gelu", "opset7", NULL, "2", "FP32", "2", NULL);
    edge(0, 0, 1, 0);
    result(2, "2", 1, 1);
    REFUSED("unknown op", "layer 1 'act' (Gelu)", "unsupported operation Gelu version opset7");
    begin();
    param(0, "d", "f32", "FP32", "2,4");
    L(1, "g", "Gather", "opset1", NULL, "2,4;2;-", "FP32", "2,2", NULL);
    REFUSED("Gather-1", "layer 1 'g' (Gather)", "unsupported operation Gather version opset1");

    /* f16 into Add without Convert */
    uint16_t h[2] = {0x3c00, 0x3c00};
    begin();
    param(0, "a", "f32", "FP32", "2");
    constant(1, "b16", "f16", "FP16", "2", h, sizeof h);
    L(2, "add", "Add", "opset1", "auto_broadcast=\"numpy\"", "2;2", "FP32", "2", "y");
    edge(0, 0, 2, 0);
    edge(1, 0, 2, 1);
    result(3, "2", 2, 2);
    REFUSED("f16 into Add", "layer 2 'add' (Add)", "f16");
    begin();
    constant(0, "a16", "f16", "FP16", "2", h, sizeof h);
    constant(1, "b16", "f16", "FP16", "2", h, sizeof h);
    L(2, "add", "Add", "opset1", NULL, "2;2", "FP16", "2", "y");
    edge(0, 0, 2, 0);
    edge(1, 0, 2, 1);
    result(3, "2", 2, 2);
    REFUSED("f16 Add", "layer 2 'add' (Add)", "Convert");

    /* f32 with i64 */
    int64_t one[2] = {1, 1};
    begin();
    param(0, "a", "f32", "FP32", "2");
    const_i64(1, "b", "2", one, 2);
    L(2, "mul", "Multiply", "opset1", NULL, "2;2", "FP32", "2", "y");
    edge(0, 0, 2, 0);
    edge(1, 0, 2, 1);
    result(3, "2", 2, 2);
    REFUSED("f32 * i64", "layer 2 'mul' (Multiply)", "element types differ: f32 and i64");

    /* shapes that do not broadcast */
    begin();
    param(0, "a", "f32", "FP32", "2,3");
    param(1, "b", "f32", "FP32", "2");
    L(2, "add", "Add", "opset1", NULL, "2,3;2", "FP32", "2,3", "y");
    edge(0, 0, 2, 0);
    edge(1, 0, 2, 1);
    result(3, "2,3", 2, 2);
    REFUSED("broadcast", "layer 2 'add' (Add)", "do not broadcast");

    /* Gather with a constant index out of range is refused at read */
    int64_t bad = 4, axis = 1;
    begin();
    param(0, "d", "f32", "FP32", "2,4");
    const_i64(1, "idx", "", &bad, 1);
    const_i64(2, "axis", "", &axis, 1);
    L(3, "g", "Gather", "opset8", "batch_dims=\"0\"", "2,4;-;-", "FP32", "2", NULL);
    edge(0, 0, 3, 0);
    edge(1, 0, 3, 1);
    edge(2, 0, 3, 2);
    result(4, "2", 3, 3);
    {
        /* shape inference passes; the index is checked when evaluated */
        run Q;
        if (load(&Q) == 0) {
            float d[8] = {0};
            ove_bind_input(Q.r, 0, d);
            CHECK(ove_infer(Q.r, Q.err, sizeof Q.err) != 0, "gather index 4 of 4 accepted");
            CHECK(strstr(Q.err, "layer 3 'g' (Gather)") != NULL, "message: %s", Q.err);
        } else {
            CHECK(0, "load: %s", Q.err);
        }
        unload(&Q);
    }

    /* ReduceMean axes must be unique (after normalisation) */
    int64_t dup[2] = {1, -1};
    begin();
    param(0, "x", "f32", "FP32", "2,3");
    const_i64(1, "axes", "2", dup, 2);
    L(2, "mean", "ReduceMean", "opset1", "keep_dims=\"true\"", "2,3;2", "FP32", "2,1", NULL);
    edge(0, 0, 2, 0);
    edge(1, 0, 2, 1);
    result(3, "2,1", 2, 2);
    REFUSED("duplicate axes", "layer 2 'mean' (ReduceMean)", "twice");

    /* Swish beta must be a scalar of the data type */
    float b1[1] = {1};
    begin();
    param(0, "x", "f32", "FP32", "4");
    const_f32(1, "beta", "1", b1, 1);
    L(2, "sw", "Swish", "opset4", NULL, "4;1", "FP32", "4", NULL);
    edge(0, 0, 2, 0);
    edge(1, 0, 2, 1);
    result(3, "4", 2, 2);
    REFUSED("swish beta 1-D", "layer 2 'sw' (Swish)", "beta must be a scalar");

    /* IR version */
    begin_v("7");
    param(0, "a", "f32", "FP32", "2");
    result(1, "2", 0, 0);
    REFUSED("IR v7", "version \"7\"", NULL);

    /* an unbound input at infer */
    begin();
    param(0, "a", "f32", "FP32", "2");
    param(1, "b", "f32", "FP32", "2");
    L(2, "add", "Add", "opset1", NULL, "2;2", "FP32", "2", "y");
    edge(0, 0, 2, 0);
    edge(1, 0, 2, 1);
    result(3, "2", 2, 2);
    if (load(&R) == 0) {
        float a[2] = {1, 2};
        ove_bind_input(R.r, 0, a);
        CHECK(ove_infer(R.r, R.err, sizeof R.err) != 0, "unbound input accepted");
        CHECK(strstr(R.err, "\"b\"") != NULL, "message: %s", R.err);
    } else {
        CHECK(0, "load: %s", R.err);
    }
    unload(&R);

    /* duplicate tensor names */
    begin();
    param(0, "a", "f32", "FP32", "2");
    L(1, "b", "Parameter", "opset1", "shape=\"2\" element_type=\"f32\"", NULL, "FP32", "2", "a");
    L(2, "add", "Add", "opset1", NULL, "2;2", "FP32", "2", "y");
    edge(0, 0, 2, 0);
    edge(1, 0, 2, 1);
    result(3, "2", 2, 2);
    REFUSED("duplicate tensor name", "tensor name \"a\"", NULL);

    /* not XML */
    {
        char err[256] = "";
        ove_model *m = ove_read("<net version=\"11\"><layers>", 26, NULL, 0, err, sizeof err);
        CHECK(!m && strstr(err, "XML"), "broken XML: %s", err);
        ove_model_free(m);
    }
}

/* The model borrows the blob only until it is compiled; the compiled
 * model outlives both the model and the blob. */
static void test_lifetimes(void)
{
    float w[4] = {1, 2, 3, 4}, x[4] = {1, 1, 1, 1}, want[4] = {2, 3, 4, 5};
    begin();
    param(0, "x", "f32", "FP32", "4");
    const_f32(1, "w", "4", w, 4);
    L(2, "add", "Add", "opset1", NULL, "4;4", "FP32", "4", "y,y_alias");
    edge(0, 0, 2, 0);
    edge(1, 0, 2, 1);
    result(3, "4", 2, 2);
    const char *xml = end();
    unsigned char *blob = malloc(BL);
    memcpy(blob, B, BL);
    char err[256];
    ove_model *m = ove_read(xml, strlen(xml), blob, BL, err, sizeof err);
    CHECK(m != NULL, "read: %s", err);
    if (!m) {
        free(blob);
        return;
    }
    ove_compiled *c = ove_compile(m, err, sizeof err);
    ove_model_free(m);
    free(blob);
    CHECK(c != NULL, "compile: %s", err);
    if (!c)
        return;
    CHECK(ove_find_output(c, "y_alias") == 0 && ove_find_output(c, "y") == 0, "names");
    CHECK(strcmp(ove_output_name(c, 0), "y") == 0, "first name");
    ove_request *r = ove_request_new(c, err, sizeof err);
    ove_bind_input(r, 0, x);
    CHECK(ove_infer(r, err, sizeof err) == 0, "infer: %s", err);
    EXPECT_F32("after the blob is gone", ove_output_data(r, 0), want, 4);
    ove_request_free(r);
    ove_compiled_free(c);
}

int main(void)
{
    test_matmul_transpose_b();
    test_matmul_batched();
    test_gather();
    test_reshape_transpose();
    test_reduce_sqrt_div();
    test_broadcast_sub();
    test_softmax_swish();
    test_concat();
    test_convert_f16();
    test_i64_shape_arith();
    test_refusals();
    test_lifetimes();
    if (failures) {
        fprintf(stderr, "%d check(s) failed\n", failures);
        return 1;
    }
    printf("test_ov_eval: all checks passed\n");
    return 0;
}
