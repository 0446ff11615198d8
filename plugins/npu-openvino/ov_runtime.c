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

typedef struct ovr_fns {
    const char *lib;
    npu_ffi_fn f[OVR_F_N];
    npu_ffi_fn last_err;
    int has_last_err;
} ovr_fns;

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
    ovr_fns fns, *fs = &fns;
    memset(fs, 0, sizeof *fs);

    dlerror();
    void *dl = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
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
    fs->lib = lib;
    info->opened = 1;
    for (int k = 0; k < OVR_F_N; k++)
        if ((rc = npu_ffi_bind(&fs->f[k], dl, lib, ovr_entries[k].name, ovr_entries[k].sig, &m)) !=
            ARIA_OK)
            goto out;
    fs->has_last_err = npu_ffi_bind(&fs->last_err, dl, lib, OVR_LAST_ERR, "p()", NULL) == ARIA_OK;
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
        info->loaded = 1;
    } else {
        /* Nothing of what it said is kept; the library itself stays
         * mapped once it was called (see the pin above). */
        memset(info->devices, 0, sizeof info->devices);
        info->n_devices = 0;
        info->has_npu = 0;
        if (dl)
            dlclose(dl);
        npu_copy(info->why, sizeof info->why, m.text);
    }
    if (why)
        *why = m;
    return rc;
}

void ovr_close(ovr_runtime *rt)
{
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
