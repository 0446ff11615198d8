/* ov_runtime.c — OpenVINO's C API through dlopen and libffi.
 *
 * The prototypes and structs below are those of the OpenVINO C API headers
 * (src/bindings/c/include/openvino/c/ov_core.h and ov_common.h), stable from
 * OpenVINO 2022.1 to 2025; every call goes through ffi_call with the
 * signature string written under the prototype it copies. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* dladdr, readlink, strnlen: also when built out of tree */
#endif
#include "ov_runtime.h"

#include "ffi_call.h"
#include "sysfs.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* typedef struct ov_version { const char *buildNumber; const char *description; } ov_version_t; */
typedef struct ovr_version {
    const char *build_number;
    const char *description;
} ovr_version;

/* typedef struct { char **devices; size_t size; } ov_available_devices_t; */
typedef struct ovr_devices {
    char **devices;
    size_t size;
} ovr_devices;

enum {
    OVR_F_VERSION,
    OVR_F_VERSION_FREE,
    OVR_F_CORE_CREATE,
    OVR_F_CORE_FREE,
    OVR_F_DEVICES,
    OVR_F_DEVICES_FREE,
    OVR_F_GET_PROPERTY,
    OVR_F_FREE,
    OVR_F_N
};

/* Compiling and running models: a group of its own, so that a runtime
 * without it still detects (and says why it cannot compile). */
enum {
    OVR_C_READ_MODEL,
    OVR_C_MODEL_FREE,
    OVR_C_COMPILE,
    OVR_C_COMPILE_PROP,
    OVR_C_COMPILED_FREE,
    OVR_C_REQUEST_NEW,
    OVR_C_REQUEST_FREE,
    OVR_C_SET_TENSOR,
    OVR_C_GET_TENSOR,
    OVR_C_INFER,
    OVR_C_TENSOR_NEW,
    OVR_C_TENSOR_DATA,
    OVR_C_TENSOR_BYTES,
    OVR_C_TENSOR_FREE,
    OVR_C_N
};

static const struct {
    const char *name, *sig;
} ovr_compute[OVR_C_N] = {
    /* ov_status_e ov_core_read_model_from_memory_buffer(const ov_core_t *core,
     *     const char *model_str, const size_t str_len, const ov_tensor_t *weights,
     *     ov_model_t **model)  (OpenVINO 2023.1 and newer) */
    [OVR_C_READ_MODEL] = {"ov_core_read_model_from_memory_buffer", "i(ppzpp)"},
    /* void ov_model_free(ov_model_t *model) */
    [OVR_C_MODEL_FREE] = {"ov_model_free", "v(p)"},
    /* ov_status_e ov_core_compile_model(const ov_core_t *core, const ov_model_t *model,
     *     const char *device_name, const size_t property_args_size,
     *     ov_compiled_model_t **compiled_model, ...)  with no property */
    [OVR_C_COMPILE] = {"ov_core_compile_model", "i(pppzp...)"},
    /* the same, with one property: a key and a value, both const char * */
    [OVR_C_COMPILE_PROP] = {"ov_core_compile_model", "i(pppzp...pp)"},
    /* void ov_compiled_model_free(ov_compiled_model_t *compiled_model) */
    [OVR_C_COMPILED_FREE] = {"ov_compiled_model_free", "v(p)"},
    /* ov_status_e ov_compiled_model_create_infer_request(
     *     const ov_compiled_model_t *compiled_model, ov_infer_request_t **infer_request) */
    [OVR_C_REQUEST_NEW] = {"ov_compiled_model_create_infer_request", "i(pp)"},
    /* void ov_infer_request_free(ov_infer_request_t *infer_request) */
    [OVR_C_REQUEST_FREE] = {"ov_infer_request_free", "v(p)"},
    /* ov_status_e ov_infer_request_set_tensor(ov_infer_request_t *infer_request,
     *     const char *tensor_name, const ov_tensor_t *tensor) */
    [OVR_C_SET_TENSOR] = {"ov_infer_request_set_tensor", "i(ppp)"},
    /* ov_status_e ov_infer_request_get_tensor(const ov_infer_request_t *infer_request,
     *     const char *tensor_name, ov_tensor_t **tensor) */
    [OVR_C_GET_TENSOR] = {"ov_infer_request_get_tensor", "i(ppp)"},
    /* ov_status_e ov_infer_request_infer(ov_infer_request_t *infer_request) */
    [OVR_C_INFER] = {"ov_infer_request_infer", "i(p)"},
    /* ov_status_e ov_tensor_create_from_host_ptr(const ov_element_type_e type,
     *     const ov_shape_t shape, void *host_ptr, ov_tensor_t **tensor)
     * with typedef struct { int64_t rank; int64_t *dims; } ov_shape_t, by value */
    [OVR_C_TENSOR_NEW] = {"ov_tensor_create_from_host_ptr", "i(iSpp)"},
    /* ov_status_e ov_tensor_data(const ov_tensor_t *tensor, void **data) */
    [OVR_C_TENSOR_DATA] = {"ov_tensor_data", "i(pp)"},
    /* ov_status_e ov_tensor_get_byte_size(const ov_tensor_t *tensor, size_t *byte_size) */
    [OVR_C_TENSOR_BYTES] = {"ov_tensor_get_byte_size", "i(pp)"},
    /* void ov_tensor_free(ov_tensor_t *tensor) */
    [OVR_C_TENSOR_FREE] = {"ov_tensor_free", "v(p)"},
};

/* typedef struct { int64_t rank; int64_t *dims; } ov_shape_t; */
typedef struct ovr_shape {
    int64_t rank;
    int64_t *dims;
} ovr_shape;

/* ov_element_type_e: values that every release since 2022.1 shares (later
 * ones inserted U2 and U3 after U1, which moved U4 and everything after). */
enum { OVR_ET_F32 = 5, OVR_ET_I8 = 8, OVR_ET_I64 = 11 };

static const struct {
    const char *name, *sig;
} ovr_entries[OVR_F_N] = {
    /* ov_status_e ov_get_openvino_version(ov_version_t *version) */
    [OVR_F_VERSION] = {"ov_get_openvino_version", "i(p)"},
    /* void ov_version_free(ov_version_t *version) */
    [OVR_F_VERSION_FREE] = {"ov_version_free", "v(p)"},
    /* ov_status_e ov_core_create(ov_core_t **core) */
    [OVR_F_CORE_CREATE] = {"ov_core_create", "i(p)"},
    /* void ov_core_free(ov_core_t *core) */
    [OVR_F_CORE_FREE] = {"ov_core_free", "v(p)"},
    /* ov_status_e ov_core_get_available_devices(const ov_core_t *core,
     *                                           ov_available_devices_t *devices) */
    [OVR_F_DEVICES] = {"ov_core_get_available_devices", "i(pp)"},
    /* void ov_available_devices_free(ov_available_devices_t *devices) */
    [OVR_F_DEVICES_FREE] = {"ov_available_devices_free", "v(p)"},
    /* ov_status_e ov_core_get_property(const ov_core_t *core, const char *device_name,
     *                                  const char *property_key, char **property_value) */
    [OVR_F_GET_PROPERTY] = {"ov_core_get_property", "i(pppp)"},
    /* void ov_free(const char *content) */
    [OVR_F_FREE] = {"ov_free", "v(p)"},
};

/* Optional (newer releases only): const char *ov_get_last_err_msg(void),
 * whose result the caller frees with ov_free. */
#define OVR_LAST_ERR "ov_get_last_err_msg"

typedef struct ovr_fns ovr_fns;
struct ovr_fns {
    const char *lib;
    npu_ffi_fn f[OVR_F_N];
    npu_ffi_fn c[OVR_C_N]; /* when info.can_compile */
    npu_ffi_fn last_err;
    int has_last_err;
    pthread_mutex_t mu; /* creating the core */
    void *core;         /* for compiling; made at the first compile */
};

/* ov_status_e, from ov_common.h */
static const char *ovr_status_name(int st)
{
    static const char *const names[] = {
        "OK",
        "GENERAL_ERROR",
        "NOT_IMPLEMENTED",
        "NETWORK_NOT_LOADED",
        "PARAMETER_MISMATCH",
        "NOT_FOUND",
        "OUT_OF_BOUNDS",
        "UNEXPECTED",
        "REQUEST_BUSY",
        "RESULT_NOT_READY",
        "NOT_ALLOCATED",
        "INFER_NOT_STARTED",
        "NETWORK_NOT_READ",
        "INFER_CANCELLED",
        "INVALID_C_PARAM",
        "UNKNOWN_C_ERROR",
        "NOT_IMPLEMENT_C_METHOD",
        "UNKNOW_EXCEPTION",
    };
    if (st <= 0 && -st < (int)(sizeof names / sizeof names[0]))
        return names[-st];
    return "unknown status";
}

/* Calls entry k; returns its ov_status_e (0 for the void ones). */
static int ovr_call(ovr_fns *fs, int k, size_t n, void **args)
{
    npu_ffi_val r = {0};
    if (npu_ffi_call(&fs->f[k], n, args, &r, NULL) != ARIA_OK)
        return -7; /* UNEXPECTED: an argument count bug here, never the runtime's */
    return fs->f[k].ret == 'v' ? 0 : (int)r.i;
}

static void ovr_free_str(ovr_fns *fs, char *s)
{
    if (s) {
        void *a[] = {&s};
        ovr_call(fs, OVR_F_FREE, 1, a);
    }
}

/* The first line of a runtime string, bounded and cleaned. */
static void ovr_copy_line(char *dst, size_t cap, const char *src)
{
    char tmp[256];
    size_t n = src ? strcspn(src, "\r\n") : 0;
    if (n >= sizeof tmp)
        n = sizeof tmp - 1;
    if (n)
        memcpy(tmp, src, n);
    tmp[n] = '\0';
    npu_copy(dst, cap, tmp);
}

static aria_err ovr_failed(ovr_fns *fs, const char *what, int st, aria_msg *why)
{
    char detail[160] = "";
    if (fs->has_last_err) {
        npu_ffi_val r = {0};
        if (npu_ffi_call(&fs->last_err, 0, NULL, &r, NULL) == ARIA_OK && r.p) {
            ovr_copy_line(detail, sizeof detail, r.p);
            ovr_free_str(fs, r.p);
        }
    }
    return aria_fail(why, ARIA_ERR_UNAVAILABLE, "%s failed: %s%s%s", what, ovr_status_name(st),
                     detail[0] ? ": " : "", detail);
}

static int ovr_is_npu(const char *dev)
{
    return strcmp(dev, "NPU") == 0 || strncmp(dev, "NPU.", 4) == 0;
}

/* One string property of the NPU; 0 with the value in buf, else the status. */
static int ovr_property(ovr_fns *fs, void *core, const char *dev, const char *key, char *buf,
                        size_t cap)
{
    char *val = NULL, **valp = &val;
    void *a[] = {&core, &dev, &key, &valp};
    int st = ovr_call(fs, OVR_F_GET_PROPERTY, 4, a);
    buf[0] = '\0';
    if (st == 0)
        ovr_copy_line(buf, cap, val);
    ovr_free_str(fs, val);
    return st;
}

/* Runs the queries on a library whose entry points are bound. */
static aria_err ovr_query(ovr_fns *fs, ovr_info *info, aria_msg *why)
{
    ovr_version v = {0}, *vp = &v;
    void *av[] = {&vp};
    int st = ovr_call(fs, OVR_F_VERSION, 1, av);
    if (st != 0)
        return ovr_failed(fs, "ov_get_openvino_version", st, why);
    ovr_copy_line(info->version, sizeof info->version, v.build_number);
    ovr_call(fs, OVR_F_VERSION_FREE, 1, av);

    void *core = NULL, **corep = &core;
    void *ac[] = {&corep};
    st = ovr_call(fs, OVR_F_CORE_CREATE, 1, ac);
    if (st != 0 || !core)
        return ovr_failed(fs, "ov_core_create", st, why);

    aria_err rc = ARIA_OK;
    ovr_devices devs = {0}, *devsp = &devs;
    void *ad[] = {&core, &devsp};
    st = ovr_call(fs, OVR_F_DEVICES, 2, ad);
    if (st != 0) {
        rc = ovr_failed(fs, "ov_core_get_available_devices", st, why);
        goto out_core;
    }
    for (size_t i = 0; devs.devices && i < devs.size && info->n_devices < OVR_MAX_DEVICES; i++) {
        if (!devs.devices[i])
            continue;
        char *d = info->devices[info->n_devices++];
        npu_copy(d, sizeof info->devices[0], devs.devices[i]);
        if (!info->has_npu && ovr_is_npu(d)) {
            info->has_npu = 1;
            npu_copy(info->npu_device, sizeof info->npu_device, d);
        }
    }
    if (info->has_npu) {
        st = ovr_property(fs, core, info->npu_device, "FULL_DEVICE_NAME", info->npu_name,
                          sizeof info->npu_name);
        if (st != 0) {
            rc = ovr_failed(fs, "ov_core_get_property FULL_DEVICE_NAME", st, why);
            goto out_devs;
        }
        /* Both are the NPU plugin's own keys; older plugins lack them. */
        ovr_property(fs, core, info->npu_device, "DEVICE_ARCHITECTURE", info->npu_arch,
                     sizeof info->npu_arch);
        ovr_property(fs, core, info->npu_device, "NPU_DRIVER_VERSION", info->npu_driver,
                     sizeof info->npu_driver);
    }
out_devs:
    ovr_call(fs, OVR_F_DEVICES_FREE, 1, (void *[]){&devsp});
out_core:
    ovr_call(fs, OVR_F_CORE_FREE, 1, (void *[]){&core});
    return rc;
}

aria_err ovr_open(ovr_runtime *rt, const char *lib, aria_msg *why)
{
    memset(rt, 0, sizeof *rt);
    ovr_info *info = &rt->info;
    npu_copy(info->lib, sizeof info->lib, lib);
    aria_msg m = {{0}};
    aria_err rc = ARIA_OK;
    ovr_fns *fs = calloc(1, sizeof *fs);
    void *dl = NULL;
    if (!fs) {
        rc = aria_fail(&m, ARIA_ERR_NOMEM, "out of memory");
        goto out;
    }

    dlerror();
    dl = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
    if (!dl) {
        const char *e = dlerror();
        /* dlerror names the file first; the message names it already. */
        size_t ll = strlen(lib);
        if (e && strncmp(e, lib, ll) == 0 && strncmp(e + ll, ": ", 2) == 0)
            e += ll + 2;
        rc = aria_fail(&m, ARIA_ERR_UNAVAILABLE, "cannot load %s: %s", lib,
                       e ? e : "unknown dlopen error");
        goto out;
    }
    fs->lib = info->lib;
    info->opened = 1;
    for (int k = 0; k < OVR_F_N; k++)
        if ((rc = npu_ffi_bind(&fs->f[k], dl, lib, ovr_entries[k].name, ovr_entries[k].sig, &m)) !=
            ARIA_OK)
            goto out;
    fs->has_last_err = npu_ffi_bind(&fs->last_err, dl, lib, OVR_LAST_ERR, "p()", NULL) == ARIA_OK;
    info->can_compile = 1;
    for (int k = 0; k < OVR_C_N && info->can_compile; k++) {
        aria_msg cm = {{0}};
        if (npu_ffi_bind(&fs->c[k], dl, lib, ovr_compute[k].name, ovr_compute[k].sig, &cm) !=
            ARIA_OK) {
            info->can_compile = 0;
            npu_fmt(info->compile_why, sizeof info->compile_why,
                    "%s (OpenVINO 2023.1 or newer has it)", cm.text);
        }
    }
    /* From the first call on, the runtime may run threads of its own (TBB):
     * unloading it under them crashes, so it stays mapped until the process
     * ends, whatever happens next. Until then nothing of it has run. */
    void *pin = dlopen(lib, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE);
    if (pin)
        dlclose(pin);
    rc = ovr_query(fs, info, &m);
out:
    if (rc == ARIA_OK) {
        rt->dl = dl;
        rt->fns = fs;
        pthread_mutex_init(&fs->mu, NULL);
        info->loaded = 1;
    } else {
        /* Nothing of what it said is kept; the library itself stays
         * mapped once it was called (see the pin above). */
        memset(info->devices, 0, sizeof info->devices);
        info->n_devices = 0;
        info->has_npu = 0;
        info->can_compile = 0;
        if (dl)
            dlclose(dl);
        free(fs);
        npu_copy(info->why, sizeof info->why, m.text);
    }
    if (why)
        *why = m;
    return rc;
}

void ovr_close(ovr_runtime *rt)
{
    ovr_fns *fs = rt->fns;
    if (fs) {
        if (fs->core)
            ovr_call(fs, OVR_F_CORE_FREE, 1, (void *[]){&fs->core});
        pthread_mutex_destroy(&fs->mu);
        free(fs);
    }
    rt->fns = NULL;
    if (rt->dl)
        dlclose(rt->dl);
    rt->dl = NULL;
    rt->info.loaded = 0;
}

void ovr_short_version(const ovr_info *info, char *buf, size_t cap)
{
    size_t n = strcspn(info->version, "-");
    char tmp[sizeof info->version];
    memcpy(tmp, info->version, n);
    tmp[n] = '\0';
    npu_copy(buf, cap, tmp);
}

/* ---- compiling and inference ------------------------------------------------ */

struct ovr_compiled {
    ovr_fns *fs;
    void *weights;  /* ov_tensor_t over the caller's blob */
    void *model;    /* ov_model_t */
    void *compiled; /* ov_compiled_model_t */
};

#define OVR_MAX_TENSORS 512

struct ovr_request {
    ovr_fns *fs;
    void *req;
    void *tensors[OVR_MAX_TENSORS]; /* handles made for it, freed with it */
    size_t n_tensors;
};

static int ovr_ccall(ovr_fns *fs, int k, size_t n, void **args)
{
    npu_ffi_val r = {0};
    if (npu_ffi_call(&fs->c[k], n, args, &r, NULL) != ARIA_OK)
        return -7;
    return fs->c[k].ret == 'v' ? 0 : (int)r.i;
}

static aria_err ovr_tensor_new(ovr_fns *fs, int et, int rank, const int64_t *dims, void *data,
                               void **out, aria_msg *why)
{
    int32_t type = et;
    ovr_shape shape = {.rank = rank, .dims = (int64_t *)dims};
    void **outp = out;
    *out = NULL;
    void *a[] = {&type, &shape, &data, &outp};
    int st = ovr_ccall(fs, OVR_C_TENSOR_NEW, 4, a);
    if (st != 0 || !*out)
        return ovr_failed(fs, "ov_tensor_create_from_host_ptr", st, why);
    return ARIA_OK;
}

static void ovr_free_handle(ovr_fns *fs, int k, void *h)
{
    if (h)
        ovr_ccall(fs, k, 1, (void *[]){&h});
}

aria_err ovr_compile(ovr_runtime *rt, const char *xml, size_t xml_len, void *blob,
                     size_t blob_len, const char *device, const char *precision,
                     ovr_compiled **out, aria_msg *why)
{
    *out = NULL;
    ovr_fns *fs = rt->fns;
    if (!rt->info.loaded || !fs)
        return aria_fail(why, ARIA_ERR_UNAVAILABLE, "OpenVINO runtime not loaded: %s",
                         rt->info.why);
    if (!rt->info.can_compile)
        return aria_fail(why, ARIA_ERR_UNAVAILABLE, "OpenVINO cannot compile here: %s",
                         rt->info.compile_why);
    pthread_mutex_lock(&fs->mu);
    if (!fs->core) {
        void **corep = &fs->core;
        int st = ovr_call(fs, OVR_F_CORE_CREATE, 1, (void *[]){&corep});
        if (st != 0 || !fs->core) {
            fs->core = NULL;
            pthread_mutex_unlock(&fs->mu);
            return ovr_failed(fs, "ov_core_create", st, why);
        }
    }
    pthread_mutex_unlock(&fs->mu);

    ovr_compiled *c = calloc(1, sizeof *c);
    if (!c)
        return aria_fail(why, ARIA_ERR_NOMEM, "out of memory");
    c->fs = fs;
    aria_err e = ARIA_OK;
    int64_t n = (int64_t)blob_len;
    if (blob_len && (e = ovr_tensor_new(fs, OVR_ET_I8, 1, &n, blob, &c->weights, why)) != ARIA_OK)
        goto fail;
    void *core = fs->core, **modelp = &c->model;
    void *ar[] = {&core, &xml, &xml_len, &c->weights, &modelp};
    int st = ovr_ccall(fs, OVR_C_READ_MODEL, 5, ar);
    if (st != 0 || !c->model) {
        c->model = NULL;
        e = ovr_failed(fs, "ov_core_read_model_from_memory_buffer", st, why);
        goto fail;
    }
    void **compp = &c->compiled;
    if (precision && precision[0]) {
        size_t nprop = 2;
        const char *key = "INFERENCE_PRECISION_HINT";
        void *ac[] = {&core, &c->model, &device, &nprop, &compp, &key, &precision};
        st = ovr_ccall(fs, OVR_C_COMPILE_PROP, 7, ac);
    } else {
        size_t nprop = 0;
        void *ac[] = {&core, &c->model, &device, &nprop, &compp};
        st = ovr_ccall(fs, OVR_C_COMPILE, 5, ac);
    }
    if (st != 0 || !c->compiled) {
        c->compiled = NULL;
        char what[96];
        npu_fmt(what, sizeof what, "ov_core_compile_model for %s", device);
        e = ovr_failed(fs, what, st, why);
        goto fail;
    }
    *out = c;
    return ARIA_OK;
fail:
    ovr_compiled_free(c);
    return e;
}

void ovr_compiled_free(ovr_compiled *c)
{
    if (!c)
        return;
    ovr_free_handle(c->fs, OVR_C_COMPILED_FREE, c->compiled);
    ovr_free_handle(c->fs, OVR_C_MODEL_FREE, c->model);
    ovr_free_handle(c->fs, OVR_C_TENSOR_FREE, c->weights);
    free(c);
}

aria_err ovr_request_new(ovr_compiled *c, ovr_request **out, aria_msg *why)
{
    *out = NULL;
    ovr_request *r = calloc(1, sizeof *r);
    if (!r)
        return aria_fail(why, ARIA_ERR_NOMEM, "out of memory");
    r->fs = c->fs;
    void **reqp = &r->req;
    void *a[] = {&c->compiled, &reqp};
    int st = ovr_ccall(c->fs, OVR_C_REQUEST_NEW, 2, a);
    if (st != 0 || !r->req) {
        free(r);
        return ovr_failed(c->fs, "ov_compiled_model_create_infer_request", st, why);
    }
    *out = r;
    return ARIA_OK;
}

void ovr_request_free(ovr_request *r)
{
    if (!r)
        return;
    /* the request first: it holds the tensors bound to it */
    ovr_free_handle(r->fs, OVR_C_REQUEST_FREE, r->req);
    for (size_t i = 0; i < r->n_tensors; i++)
        ovr_free_handle(r->fs, OVR_C_TENSOR_FREE, r->tensors[i]);
    free(r);
}

aria_err ovr_request_bind(ovr_request *r, const char *name, int type, int rank,
                          const int64_t *dims, void *data, aria_msg *why)
{
    if (r->n_tensors == OVR_MAX_TENSORS)
        return aria_fail(why, ARIA_ERR_RANGE, "more than %d tensors on one request",
                         OVR_MAX_TENSORS);
    void *t = NULL;
    aria_err e = ovr_tensor_new(r->fs, type == OVR_I64 ? OVR_ET_I64 : OVR_ET_F32, rank, dims, data,
                                &t, why);
    if (e != ARIA_OK)
        return e;
    r->tensors[r->n_tensors++] = t;
    void *a[] = {&r->req, &name, &t};
    int st = ovr_ccall(r->fs, OVR_C_SET_TENSOR, 3, a);
    if (st != 0) {
        char what[96];
        npu_fmt(what, sizeof what, "ov_infer_request_set_tensor '%s'", name);
        return ovr_failed(r->fs, what, st, why);
    }
    return ARIA_OK;
}

aria_err ovr_request_output(ovr_request *r, const char *name, size_t bytes, void **data,
                            aria_msg *why)
{
    *data = NULL;
    if (r->n_tensors == OVR_MAX_TENSORS)
        return aria_fail(why, ARIA_ERR_RANGE, "more than %d tensors on one request",
                         OVR_MAX_TENSORS);
    void *t = NULL, **tp = &t;
    char what[96];
    void *a[] = {&r->req, &name, &tp};
    int st = ovr_ccall(r->fs, OVR_C_GET_TENSOR, 3, a);
    if (st != 0 || !t) {
        npu_fmt(what, sizeof what, "ov_infer_request_get_tensor '%s'", name);
        return ovr_failed(r->fs, what, st, why);
    }
    r->tensors[r->n_tensors++] = t;
    size_t got = 0, *gotp = &got;
    void *p = NULL, **pp = &p;
    if ((st = ovr_ccall(r->fs, OVR_C_TENSOR_BYTES, 2, (void *[]){&t, &gotp})) != 0)
        return ovr_failed(r->fs, "ov_tensor_get_byte_size", st, why);
    if (got != bytes)
        return aria_fail(why, ARIA_ERR_FORMAT, "output '%s' holds %zu bytes, %zu expected", name,
                         got, bytes);
    if ((st = ovr_ccall(r->fs, OVR_C_TENSOR_DATA, 2, (void *[]){&t, &pp})) != 0 || !p)
        return ovr_failed(r->fs, "ov_tensor_data", st, why);
    *data = p;
    return ARIA_OK;
}

aria_err ovr_request_infer(ovr_request *r, aria_msg *why)
{
    int st = ovr_ccall(r->fs, OVR_C_INFER, 1, (void *[]){&r->req});
    return st == 0 ? ARIA_OK : ovr_failed(r->fs, "ov_infer_request_infer", st, why);
}
