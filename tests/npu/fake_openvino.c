/* fake_openvino.c — a stand-in for libopenvino_c.so, built by the tests so
 * that npu-openvino's libffi path runs for real on any machine.
 *
 * It exports the OpenVINO C API entry points the plugin calls, with the
 * prototypes of openvino/c/ov_core.h and ov_common.h, returns plausible data
 * (devices CPU and NPU, the NPU called "Intel(R) AI Boost"), and appends one
 * line per call to the file named by $ARIA_FAKE_LOG: the function and its
 * arguments as they arrived, so the test can compare the exact sequence.
 * Handles and strings it handed out are recognised when they come back
 * ("core", the string's text); anything else is logged as FOREIGN.
 *
 * Knobs (environment, read at each call):
 *   ARIA_FAKE_OV_DEVICES  comma-separated device list (default "CPU,NPU")
 *   ARIA_FAKE_OV_NAME     the NPU's FULL_DEVICE_NAME
 *   ARIA_FAKE_FAIL        name of one function that fails with GENERAL_ERROR
 *   ARIA_FAKE_OV_IR       file to which ov_core_read_model_from_memory_buffer
 *                         writes the IR text it received (overwritten)
 * Built a second time with FAKE_OMIT_GET_PROPERTY: a runtime that lacks
 * ov_core_get_property.
 *
 * Models: ov_core_read_model_from_memory_buffer parses and validates the IR
 * for real and ov_infer_request_infer executes it (ov_eval.c, f32 reference
 * semantics), so the plugin's compile/bind/infer path runs end to end. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ov_eval.h"

#define FAKE_API __attribute__((visibility("default")))

typedef enum {
    OK = 0,
    GENERAL_ERROR = -1,
    NOT_FOUND = -5,
    INVALID_C_PARAM = -14,
} ov_status_e;

typedef struct ov_core {
    unsigned magic;
} ov_core_t;

typedef struct ov_version {
    const char *buildNumber;
    const char *description;
} ov_version_t;

typedef struct {
    char **devices;
    size_t size;
} ov_available_devices_t;

#define FAKE_BUILD "2024.4.0-16579-c3152d32c9c-releases/2024/4"

static void fake_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void fake_log(const char *fmt, ...)
{
    const char *path = getenv("ARIA_FAKE_LOG");
    if (!path || !*path)
        return;
    FILE *f = fopen(path, "a");
    if (!f)
        return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(f, fmt, ap);
    va_end(ap);
    fputc('\n', f);
    fclose(f);
}

static char fake_err[512];

static int fake_fails(const char *fn)
{
    const char *f = getenv("ARIA_FAKE_FAIL");
    if (f && strcmp(f, fn) == 0) {
        snprintf(fake_err, sizeof fake_err, "fake failure of %s", fn);
        return 1;
    }
    return 0;
}

/* Strings handed out, so that ov_free can tell its own from a stranger's. */
static char *fake_given[64];

static char *fake_give(const char *s)
{
    char *d = strdup(s);
    for (size_t i = 0; d && i < 64; i++)
        if (!fake_given[i]) {
            fake_given[i] = d;
            return d;
        }
    return d;
}

static int fake_take(const char *s)
{
    for (size_t i = 0; s && i < 64; i++)
        if (fake_given[i] == s) {
            fake_given[i] = NULL;
            return 1;
        }
    return 0;
}

static ov_core_t fake_core;
static int fake_core_live;

static const char *fake_core_name(const ov_core_t *c)
{
    return c == &fake_core && fake_core_live && c->magic == 0x0c07e ? "core" : "FOREIGN";
}

static const char *fake_out(const void *p)
{
    return p ? "out" : "NULL";
}

FAKE_API ov_status_e ov_get_openvino_version(ov_version_t *version)
{
    fake_log("ov_get_openvino_version(%s)", fake_out(version));
    if (!version)
        return INVALID_C_PARAM;
    if (fake_fails(__func__))
        return GENERAL_ERROR;
    version->buildNumber = fake_give(FAKE_BUILD);
    version->description = fake_give("OpenVINO Runtime (fake)");
    return OK;
}

FAKE_API void ov_version_free(ov_version_t *version)
{
    if (!version || !fake_take(version->buildNumber)) {
        fake_log("ov_version_free(FOREIGN)");
        return;
    }
    fake_log("ov_version_free({\"%s\"})", version->buildNumber);
    fake_take(version->description);
    free((char *)version->buildNumber);
    free((char *)version->description);
    version->buildNumber = version->description = NULL;
}

FAKE_API ov_status_e ov_core_create(ov_core_t **core)
{
    fake_log("ov_core_create(%s)", fake_out(core));
    if (!core)
        return INVALID_C_PARAM;
    if (fake_fails(__func__))
        return GENERAL_ERROR;
    fake_core.magic = 0x0c07e;
    fake_core_live = 1;
    *core = &fake_core;
    return OK;
}

FAKE_API void ov_core_free(ov_core_t *core)
{
    fake_log("ov_core_free(%s)", fake_core_name(core));
    if (core == &fake_core)
        fake_core_live = 0;
}

FAKE_API ov_status_e ov_core_get_available_devices(const ov_core_t *core,
                                                   ov_available_devices_t *devices)
{
    fake_log("ov_core_get_available_devices(%s, %s)", fake_core_name(core), fake_out(devices));
    if (!devices || core != &fake_core)
        return INVALID_C_PARAM;
    if (fake_fails(__func__))
        return GENERAL_ERROR;
    const char *list = getenv("ARIA_FAKE_OV_DEVICES");
    if (!list)
        list = "CPU,NPU";
    char *copy = strdup(list), *save = NULL;
    devices->devices = calloc(16, sizeof *devices->devices);
    devices->size = 0;
    for (char *t = strtok_r(copy, ",", &save); t && devices->size < 16;
         t = strtok_r(NULL, ",", &save))
        devices->devices[devices->size++] = strdup(t);
    free(copy);
    return OK;
}

FAKE_API void ov_available_devices_free(ov_available_devices_t *devices)
{
    if (!devices || !devices->devices) {
        fake_log("ov_available_devices_free(FOREIGN)");
        return;
    }
    char line[512] = "";
    size_t l = 0;
    for (size_t i = 0; i < devices->size && l < sizeof line - 64; i++)
        l += (size_t)snprintf(line + l, sizeof line - l, "%s%s", i ? "," : "", devices->devices[i]);
    fake_log("ov_available_devices_free({%s})", line);
    for (size_t i = 0; i < devices->size; i++)
        free(devices->devices[i]);
    free(devices->devices);
    devices->devices = NULL;
    devices->size = 0;
}

#ifndef FAKE_OMIT_GET_PROPERTY
FAKE_API ov_status_e ov_core_get_property(const ov_core_t *core, const char *device_name,
                                          const char *property_key, char **property_value)
{
    fake_log("ov_core_get_property(%s, \"%s\", \"%s\", %s)", fake_core_name(core),
             device_name ? device_name : "(null)", property_key ? property_key : "(null)",
             fake_out(property_value));
    if (core != &fake_core || !device_name || !property_key || !property_value)
        return INVALID_C_PARAM;
    if (fake_fails(__func__))
        return GENERAL_ERROR;
    const char *v = NULL;
    if (strcmp(device_name, "NPU") == 0) {
        if (strcmp(property_key, "FULL_DEVICE_NAME") == 0) {
            v = getenv("ARIA_FAKE_OV_NAME");
            if (!v)
                v = "Intel(R) AI Boost";
        } else if (strcmp(property_key, "DEVICE_ARCHITECTURE") == 0) {
            v = "3720";
        } else if (strcmp(property_key, "NPU_DRIVER_VERSION") == 0) {
            v = "1688";
        }
    } else if (strcmp(device_name, "CPU") == 0 && strcmp(property_key, "FULL_DEVICE_NAME") == 0) {
        v = "Fake CPU";
    }
    if (!v) {
        snprintf(fake_err, sizeof fake_err, "no property %s on %s", property_key, device_name);
        return NOT_FOUND;
    }
    *property_value = fake_give(v);
    return OK;
}
#endif

/* Variadic, as in the real API: one key and one value follow device_name.
 * The plugin does not call it; the test calls it to check the helper's
 * variadic path. */
FAKE_API ov_status_e ov_core_set_property(const ov_core_t *core, const char *device_name, ...)
{
    va_list ap;
    va_start(ap, device_name);
    const char *key = va_arg(ap, const char *);
    const char *value = va_arg(ap, const char *);
    va_end(ap);
    fake_log("ov_core_set_property(%s, \"%s\", \"%s\", \"%s\")", fake_core_name(core),
             device_name ? device_name : "(null)", key ? key : "(null)", value ? value : "(null)");
    return core == &fake_core ? OK : INVALID_C_PARAM;
}

FAKE_API void ov_free(const char *content)
{
    if (!fake_take(content)) {
        fake_log("ov_free(FOREIGN)");
        return;
    }
    fake_log("ov_free(\"%s\")", content);
    free((char *)content);
}

FAKE_API const char *ov_get_last_err_msg(void)
{
    fake_log("ov_get_last_err_msg()");
    return fake_give(fake_err[0] ? fake_err : "no error");
}

/* ---- models, tensors, inference ------------------------------------------ */

typedef struct {
    int64_t rank;
    int64_t *dims;
} ov_shape_t;

/* The stable values of ov_element_type_e (openvino/c/ov_common.h). */
typedef enum {
    FAKE_ET_F16 = 4,
    FAKE_ET_F32 = 5,
    FAKE_ET_I8 = 8,
    FAKE_ET_I32 = 10,
    FAKE_ET_I64 = 11,
    FAKE_ET_U8 = 16,
} ov_element_type_e;

/* Memory a tensor allocated: shared, like ov::Tensor's, with the models and
 * requests that hold it. */
typedef struct {
    int refs;
    void *p;
} fake_buf;

typedef struct ov_tensor {
    ove_desc d;
    void *data;
    size_t bytes;
    fake_buf *buf; /* NULL: caller's or a request's memory */
} ov_tensor_t;

typedef struct ov_model {
    ove_model *m;
    fake_buf *weights;
} ov_model_t;

typedef struct ov_compiled_model {
    int refs;
    ove_compiled *c;
} ov_compiled_model_t;

typedef struct ov_infer_request {
    ov_compiled_model_t *cm;
    ove_request *r;
    fake_buf **held; /* per input: storage of the tensor bound to it */
    void **own;      /* per input: buffer made by get_tensor on an unbound input */
} ov_infer_request_t;

enum { H_TENSOR = 1, H_MODEL, H_COMPILED, H_REQUEST, H_DIMS };

/* Live handles handed out, so that strangers are logged as FOREIGN. */
static struct {
    const void *p;
    int kind;
} * fake_handles;
static size_t fake_nhandles, fake_caphandles;

static void fake_hold(const void *p, int kind)
{
    if (fake_nhandles == fake_caphandles) {
        size_t cap = fake_caphandles ? 2 * fake_caphandles : 64;
        void *n = realloc(fake_handles, cap * sizeof *fake_handles);
        if (!n)
            return;
        fake_handles = n;
        fake_caphandles = cap;
    }
    fake_handles[fake_nhandles].p = p;
    fake_handles[fake_nhandles++].kind = kind;
}

static int fake_held(const void *p, int kind)
{
    for (size_t i = 0; p && i < fake_nhandles; i++)
        if (fake_handles[i].p == p && fake_handles[i].kind == kind)
            return 1;
    return 0;
}

static int fake_drop(const void *p, int kind)
{
    for (size_t i = 0; p && i < fake_nhandles; i++)
        if (fake_handles[i].p == p && fake_handles[i].kind == kind) {
            fake_handles[i] = fake_handles[--fake_nhandles];
            return 1;
        }
    return 0;
}

static ov_status_e fake_bad(const char *fn)
{
    snprintf(fake_err, sizeof fake_err, "%s: invalid argument (NULL or unknown handle)", fn);
    return INVALID_C_PARAM;
}

static const char *fake_hname(const void *p, int kind, const char *name)
{
    return fake_held(p, kind) ? name : "FOREIGN";
}

static void fake_buf_put(fake_buf *b)
{
    if (b && --b->refs == 0) {
        free(b->p);
        free(b);
    }
}

static fake_buf *fake_buf_get(fake_buf *b)
{
    if (b)
        b->refs++;
    return b;
}

static void fake_seterr(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void fake_seterr(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(fake_err, sizeof fake_err, fmt, ap);
    va_end(ap);
}

static int fake_etype(int et, ove_type *t)
{
    switch (et) {
    case FAKE_ET_F16: *t = OVE_F16; return 0;
    case FAKE_ET_F32: *t = OVE_F32; return 0;
    case FAKE_ET_I8: *t = OVE_I8; return 0;
    case FAKE_ET_I32: *t = OVE_I32; return 0;
    case FAKE_ET_I64: *t = OVE_I64; return 0;
    case FAKE_ET_U8: *t = OVE_U8; return 0;
    default: return -1;
    }
}

/* "f32 [1,64]" for the log, from the C-level type and shape */
static const char *fake_desc_str(int et, const ov_shape_t *s, char *buf, size_t cap)
{
    ove_type t;
    size_t l;
    if (fake_etype(et, &t) == 0)
        l = (size_t)snprintf(buf, cap, "%s [", ove_type_name(t));
    else
        l = (size_t)snprintf(buf, cap, "type %d [", et);
    for (int64_t k = 0; s->dims && k < s->rank && k < OVE_MAX_RANK && l < cap; k++)
        l += (size_t)snprintf(buf + l, cap - l, "%s%lld", k ? "," : "", (long long)s->dims[k]);
    if (l < cap)
        snprintf(buf + l, cap - l, "%s]", s->rank > OVE_MAX_RANK ? ",..." : "");
    return buf;
}

static ov_status_e fake_make_desc(int et, const ov_shape_t *s, ove_desc *d)
{
    if (fake_etype(et, &d->type)) {
        fake_seterr("element type %d is not supported by the fake", et);
        return GENERAL_ERROR;
    }
    if (s->rank < 0 || s->rank > OVE_MAX_RANK || (s->rank && !s->dims)) {
        fake_seterr("bad shape (rank %lld)", (long long)s->rank);
        return GENERAL_ERROR;
    }
    d->rank = (int)s->rank;
    for (int k = 0; k < d->rank; k++) {
        if (s->dims[k] < 0) {
            fake_seterr("bad shape: dim %d is %lld", k, (long long)s->dims[k]);
            return GENERAL_ERROR;
        }
        d->dims[k] = s->dims[k];
    }
    return OK;
}

static ov_tensor_t *fake_tensor(const ove_desc *d, void *data, fake_buf *buf)
{
    ov_tensor_t *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->d = *d;
    t->data = data;
    t->bytes = ove_count(d) * ove_type_size(d->type);
    t->buf = buf;
    fake_hold(t, H_TENSOR);
    return t;
}

FAKE_API ov_status_e ov_tensor_create_from_host_ptr(const ov_element_type_e type,
                                                    const ov_shape_t shape, void *host_ptr,
                                                    ov_tensor_t **tensor)
{
    char d[160];
    fake_log("ov_tensor_create_from_host_ptr(%s, %s, %s)",
             fake_desc_str((int)type, &shape, d, sizeof d), host_ptr ? "ptr" : "NULL",
             fake_out(tensor));
    if (!host_ptr || !tensor)
        return fake_bad(__func__);
    if (fake_fails(__func__))
        return GENERAL_ERROR;
    ove_desc od;
    if (fake_make_desc((int)type, &shape, &od))
        return GENERAL_ERROR;
    *tensor = fake_tensor(&od, host_ptr, NULL);
    return *tensor ? OK : GENERAL_ERROR;
}

FAKE_API ov_status_e ov_tensor_create(const ov_element_type_e type, const ov_shape_t shape,
                                      ov_tensor_t **tensor)
{
    char d[160];
    fake_log("ov_tensor_create(%s, %s)", fake_desc_str((int)type, &shape, d, sizeof d),
             fake_out(tensor));
    if (!tensor)
        return fake_bad(__func__);
    if (fake_fails(__func__))
        return GENERAL_ERROR;
    ove_desc od;
    if (fake_make_desc((int)type, &shape, &od))
        return GENERAL_ERROR;
    size_t bytes = ove_count(&od) * ove_type_size(od.type);
    fake_buf *b = calloc(1, sizeof *b);
    if (b)
        b->p = calloc(bytes ? bytes : 1, 1);
    if (!b || !b->p) {
        free(b);
        fake_seterr("cannot allocate %zu bytes", bytes);
        return GENERAL_ERROR;
    }
    b->refs = 1;
    *tensor = fake_tensor(&od, b->p, b);
    if (!*tensor) {
        fake_buf_put(b);
        return GENERAL_ERROR;
    }
    return OK;
}

FAKE_API ov_status_e ov_tensor_data(const ov_tensor_t *tensor, void **data)
{
    fake_log("ov_tensor_data(%s, %s)", fake_hname(tensor, H_TENSOR, "tensor"), fake_out(data));
    if (!data || !fake_held(tensor, H_TENSOR))
        return fake_bad(__func__);
    if (fake_fails(__func__))
        return GENERAL_ERROR;
    *data = tensor->data;
    return OK;
}

FAKE_API ov_status_e ov_tensor_get_byte_size(const ov_tensor_t *tensor, size_t *byte_size)
{
    fake_log("ov_tensor_get_byte_size(%s, %s)", fake_hname(tensor, H_TENSOR, "tensor"),
             fake_out(byte_size));
    if (!byte_size || !fake_held(tensor, H_TENSOR))
        return fake_bad(__func__);
    if (fake_fails(__func__))
        return GENERAL_ERROR;
    *byte_size = tensor->bytes;
    return OK;
}

FAKE_API ov_status_e ov_tensor_get_shape(const ov_tensor_t *tensor, ov_shape_t *shape)
{
    fake_log("ov_tensor_get_shape(%s, %s)", fake_hname(tensor, H_TENSOR, "tensor"),
             fake_out(shape));
    if (!shape || !fake_held(tensor, H_TENSOR))
        return fake_bad(__func__);
    if (fake_fails(__func__))
        return GENERAL_ERROR;
    shape->rank = tensor->d.rank;
    shape->dims = calloc((size_t)tensor->d.rank + 1, sizeof *shape->dims);
    if (!shape->dims)
        return GENERAL_ERROR;
    for (int k = 0; k < tensor->d.rank; k++)
        shape->dims[k] = tensor->d.dims[k];
    fake_hold(shape->dims, H_DIMS);
    return OK;
}

FAKE_API ov_status_e ov_shape_free(ov_shape_t *shape)
{
    if (!shape || !fake_drop(shape->dims, H_DIMS)) {
        fake_log("ov_shape_free(FOREIGN)");
        return shape ? OK : INVALID_C_PARAM;
    }
    char line[256];
    size_t l = (size_t)snprintf(line, sizeof line, "[");
    for (int64_t k = 0; k < shape->rank && l < sizeof line - 32; k++)
        l += (size_t)snprintf(line + l, sizeof line - l, "%s%lld", k ? "," : "",
                              (long long)shape->dims[k]);
    fake_log("ov_shape_free(%s])", line);
    free(shape->dims);
    shape->dims = NULL;
    shape->rank = 0;
    return OK;
}

FAKE_API void ov_tensor_free(ov_tensor_t *tensor)
{
    if (!fake_drop(tensor, H_TENSOR)) {
        fake_log("ov_tensor_free(FOREIGN)");
        return;
    }
    fake_log("ov_tensor_free(tensor)");
    fake_buf_put(tensor->buf);
    free(tensor);
}

FAKE_API ov_status_e ov_core_read_model_from_memory_buffer(const ov_core_t *core,
                                                           const char *model_str,
                                                           const size_t str_len,
                                                           const ov_tensor_t *weights,
                                                           ov_model_t **model)
{
    char w[64];
    if (!weights)
        snprintf(w, sizeof w, "NULL");
    else if (!fake_held(weights, H_TENSOR))
        snprintf(w, sizeof w, "FOREIGN");
    else
        snprintf(w, sizeof w, "%zu bytes", weights->bytes);
    char s[64];
    if (model_str)
        snprintf(s, sizeof s, "%zu bytes", str_len);
    else
        snprintf(s, sizeof s, "NULL");
    fake_log("ov_core_read_model_from_memory_buffer(%s, %s, weights %s, %s)", fake_core_name(core),
             s, w, fake_out(model));
    if (core != &fake_core || !fake_core_live || !model_str || !model ||
        (weights && !fake_held(weights, H_TENSOR)))
        return fake_bad(__func__);
    if (fake_fails(__func__))
        return GENERAL_ERROR;
    const char *dump = getenv("ARIA_FAKE_OV_IR");
    if (dump && *dump) {
        FILE *f = fopen(dump, "w");
        if (f) {
            fwrite(model_str, 1, str_len, f);
            fclose(f);
        }
    }
    char err[sizeof fake_err];
    ove_model *m = ove_read(model_str, str_len, weights ? weights->data : NULL,
                            weights ? weights->bytes : 0, err, sizeof err);
    if (!m) {
        fake_seterr("%s", err);
        return GENERAL_ERROR;
    }
    ov_model_t *om = calloc(1, sizeof *om);
    if (!om) {
        ove_model_free(m);
        return GENERAL_ERROR;
    }
    om->m = m;
    om->weights = weights ? fake_buf_get(weights->buf) : NULL; /* shared, not copied */
    fake_hold(om, H_MODEL);
    *model = om;
    return OK;
}

FAKE_API void ov_model_free(ov_model_t *model)
{
    if (!fake_drop(model, H_MODEL)) {
        fake_log("ov_model_free(FOREIGN)");
        return;
    }
    fake_log("ov_model_free(model)");
    ove_model_free(model->m);
    fake_buf_put(model->weights);
    free(model);
}

static int fake_device_listed(const char *device)
{
    const char *list = getenv("ARIA_FAKE_OV_DEVICES");
    if (!list)
        list = "CPU,NPU";
    char *copy = strdup(list), *save = NULL;
    int found = 0;
    for (char *t = strtok_r(copy, ",", &save); t && !found; t = strtok_r(NULL, ",", &save))
        found = strcmp(t, device) == 0;
    free(copy);
    return found;
}

FAKE_API ov_status_e ov_core_compile_model(const ov_core_t *core, const ov_model_t *model,
                                           const char *device_name, const size_t property_args_size,
                                           ov_compiled_model_t **compiled_model, ...)
{
    char props[512];
    size_t n = property_args_size < 64 ? property_args_size : 64;
    if (property_args_size == 0) {
        snprintf(props, sizeof props, "0 properties");
    } else {
        va_list ap;
        va_start(ap, compiled_model);
        size_t l = (size_t)snprintf(props, sizeof props, "{");
        for (size_t i = 0; i < n; i++) {
            const char *a = va_arg(ap, const char *);
            if (l < sizeof props)
                l += (size_t)snprintf(props + l, sizeof props - l, "%s%s",
                                      i == 0 ? "" : (i % 2 ? "=" : ", "), a ? a : "(null)");
        }
        va_end(ap);
        if (l < sizeof props)
            snprintf(props + l, sizeof props - l, "%s}", property_args_size % 2 ? "=?" : "");
    }
    fake_log("ov_core_compile_model(%s, \"%s\", %s, %s)", fake_hname(model, H_MODEL, "model"),
             device_name ? device_name : "(null)", props, fake_out(compiled_model));
    if (core != &fake_core || !fake_core_live || !fake_held(model, H_MODEL) || !device_name ||
        !compiled_model)
        return fake_bad(__func__);
    if (fake_fails(__func__))
        return GENERAL_ERROR;
    if (property_args_size % 2) {
        fake_seterr("ov_core_compile_model: property_args_size %zu is odd (key/value pairs)",
                    property_args_size);
        return GENERAL_ERROR;
    }
    if (!fake_device_listed(device_name)) {
        const char *list = getenv("ARIA_FAKE_OV_DEVICES");
        fake_seterr("device \"%s\" is not available (devices: %s)", device_name,
                    list ? list : "CPU,NPU");
        return NOT_FOUND;
    }
    char err[sizeof fake_err];
    ove_compiled *c = ove_compile(model->m, err, sizeof err);
    if (!c) {
        fake_seterr("%s", err);
        return GENERAL_ERROR;
    }
    ov_compiled_model_t *cm = calloc(1, sizeof *cm);
    if (!cm) {
        ove_compiled_free(c);
        return GENERAL_ERROR;
    }
    cm->refs = 1;
    cm->c = c;
    fake_hold(cm, H_COMPILED);
    *compiled_model = cm;
    return OK;
}

static void fake_compiled_put(ov_compiled_model_t *cm)
{
    if (cm && --cm->refs == 0) {
        ove_compiled_free(cm->c);
        free(cm);
    }
}

FAKE_API void ov_compiled_model_free(ov_compiled_model_t *compiled_model)
{
    if (!fake_drop(compiled_model, H_COMPILED)) {
        fake_log("ov_compiled_model_free(FOREIGN)");
        return;
    }
    fake_log("ov_compiled_model_free(compiled)");
    fake_compiled_put(compiled_model); /* requests keep it alive, as in OpenVINO */
}

FAKE_API ov_status_e ov_compiled_model_create_infer_request(
    const ov_compiled_model_t *compiled_model, ov_infer_request_t **infer_request)
{
    fake_log("ov_compiled_model_create_infer_request(%s, %s)",
             fake_hname(compiled_model, H_COMPILED, "compiled"), fake_out(infer_request));
    if (!fake_held(compiled_model, H_COMPILED) || !infer_request)
        return fake_bad(__func__);
    if (fake_fails(__func__))
        return GENERAL_ERROR;
    char err[sizeof fake_err];
    ove_request *r = ove_request_new(compiled_model->c, err, sizeof err);
    if (!r) {
        fake_seterr("%s", err);
        return GENERAL_ERROR;
    }
    ov_infer_request_t *rq = calloc(1, sizeof *rq);
    int nin = ove_num_inputs(compiled_model->c);
    if (rq) {
        rq->held = calloc((size_t)nin + 1, sizeof *rq->held);
        rq->own = calloc((size_t)nin + 1, sizeof *rq->own);
    }
    if (!rq || !rq->held || !rq->own) {
        if (rq) {
            free(rq->held);
            free(rq->own);
        }
        free(rq);
        ove_request_free(r);
        return GENERAL_ERROR;
    }
    rq->cm = (ov_compiled_model_t *)compiled_model;
    rq->cm->refs++;
    rq->r = r;
    fake_hold(rq, H_REQUEST);
    *infer_request = rq;
    return OK;
}

FAKE_API void ov_infer_request_free(ov_infer_request_t *infer_request)
{
    if (!fake_drop(infer_request, H_REQUEST)) {
        fake_log("ov_infer_request_free(FOREIGN)");
        return;
    }
    fake_log("ov_infer_request_free(request)");
    int nin = ove_num_inputs(infer_request->cm->c);
    for (int i = 0; i < nin; i++) {
        fake_buf_put(infer_request->held[i]);
        free(infer_request->own[i]);
    }
    free(infer_request->held);
    free(infer_request->own);
    ove_request_free(infer_request->r);
    fake_compiled_put(infer_request->cm);
    free(infer_request);
}

/* "a, b, c" for messages */
static void fake_list_names(const ove_compiled *c, int inputs, char *buf, size_t cap)
{
    int n = inputs ? ove_num_inputs(c) : ove_num_outputs(c);
    size_t l = 0;
    buf[0] = 0;
    for (int i = 0; i < n && l < cap; i++)
        l += (size_t)snprintf(buf + l, cap - l, "%s\"%s\"", i ? ", " : "",
                              inputs ? ove_input_name(c, i) : ove_output_name(c, i));
}

FAKE_API ov_status_e ov_infer_request_set_tensor(ov_infer_request_t *infer_request,
                                                 const char *tensor_name, const ov_tensor_t *tensor)
{
    char d[160] = "FOREIGN", dd[96];
    if (fake_held(tensor, H_TENSOR))
        snprintf(d, sizeof d, "%s %s", ove_type_name(tensor->d.type),
                 ove_dims_str(&tensor->d, dd, sizeof dd));
    else if (!tensor)
        snprintf(d, sizeof d, "NULL");
    fake_log("ov_infer_request_set_tensor(%s, \"%s\", %s)",
             fake_hname(infer_request, H_REQUEST, "request"), tensor_name ? tensor_name : "(null)",
             d);
    if (!fake_held(infer_request, H_REQUEST) || !tensor_name || !fake_held(tensor, H_TENSOR))
        return fake_bad(__func__);
    if (fake_fails(__func__))
        return GENERAL_ERROR;
    const ove_compiled *c = infer_request->cm->c;
    int i = ove_find_input(c, tensor_name);
    if (i < 0) {
        char names[256];
        fake_list_names(c, 1, names, sizeof names);
        if (ove_find_output(c, tensor_name) >= 0)
            fake_seterr("tensor \"%s\" is an output; the fake binds inputs only (inputs: %s)",
                        tensor_name, names);
        else
            fake_seterr("no input tensor named \"%s\" (inputs: %s)", tensor_name, names);
        return NOT_FOUND;
    }
    const ove_desc *want = ove_input_desc(c, i);
    int same = want->type == tensor->d.type && want->rank == tensor->d.rank;
    for (int k = 0; same && k < want->rank; k++)
        same = want->dims[k] == tensor->d.dims[k];
    if (!same) {
        char w[96];
        fake_seterr("tensor \"%s\": given %s %s, but the Parameter is %s %s", tensor_name,
                    ove_type_name(tensor->d.type), ove_dims_str(&tensor->d, dd, sizeof dd),
                    ove_type_name(want->type), ove_dims_str(want, w, sizeof w));
        return GENERAL_ERROR;
    }
    fake_buf_put(infer_request->held[i]);
    infer_request->held[i] = fake_buf_get(tensor->buf);
    ove_bind_input(infer_request->r, i, tensor->data);
    return OK;
}

FAKE_API ov_status_e ov_infer_request_get_tensor(const ov_infer_request_t *infer_request,
                                                 const char *tensor_name, ov_tensor_t **tensor)
{
    fake_log("ov_infer_request_get_tensor(%s, \"%s\", %s)",
             fake_hname(infer_request, H_REQUEST, "request"), tensor_name ? tensor_name : "(null)",
             fake_out(tensor));
    if (!fake_held(infer_request, H_REQUEST) || !tensor_name || !tensor)
        return fake_bad(__func__);
    if (fake_fails(__func__))
        return GENERAL_ERROR;
    const ove_compiled *c = infer_request->cm->c;
    int o = ove_find_output(c, tensor_name);
    if (o >= 0) {
        *tensor = fake_tensor(ove_output_desc(c, o), ove_output_data(infer_request->r, o), NULL);
        return *tensor ? OK : GENERAL_ERROR;
    }
    int i = ove_find_input(c, tensor_name);
    if (i < 0) {
        char ins[256], outs[256];
        fake_list_names(c, 1, ins, sizeof ins);
        fake_list_names(c, 0, outs, sizeof outs);
        fake_seterr("no tensor named \"%s\" (inputs: %s; outputs: %s)", tensor_name, ins, outs);
        return NOT_FOUND;
    }
    const ove_desc *d = ove_input_desc(c, i);
    void *data = (void *)(uintptr_t)ove_input_data(infer_request->r, i);
    if (!data) { /* the request's own input tensor, as OpenVINO preallocates */
        size_t bytes = ove_count(d) * ove_type_size(d->type);
        infer_request->own[i] = calloc(bytes ? bytes : 1, 1);
        if (!infer_request->own[i])
            return GENERAL_ERROR;
        data = infer_request->own[i];
        ove_bind_input(infer_request->r, i, data);
    }
    *tensor = fake_tensor(d, data, NULL);
    return *tensor ? OK : GENERAL_ERROR;
}

FAKE_API ov_status_e ov_infer_request_infer(ov_infer_request_t *infer_request)
{
    fake_log("ov_infer_request_infer(%s)", fake_hname(infer_request, H_REQUEST, "request"));
    if (!fake_held(infer_request, H_REQUEST))
        return fake_bad(__func__);
    if (fake_fails(__func__))
        return GENERAL_ERROR;
    char err[sizeof fake_err];
    if (ove_infer(infer_request->r, err, sizeof err)) {
        fake_seterr("%s", err);
        return GENERAL_ERROR;
    }
    return OK;
}
