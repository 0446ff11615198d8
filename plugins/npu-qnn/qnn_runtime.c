/* qnn_runtime.c — QNN's interface table through dlopen and libffi.
 *
 * The layouts below are those of the public QNN headers (QnnInterface.h,
 * QnnCommon.h, QnnTypes.h, QnnDevice.h, HTP/QnnHtpDevice.h of QNN 2.x, as
 * shipped 2022-2023), for LP64 targets; the static_asserts pin the offsets
 * this file relies on. The table is read as data and each entry called
 * through ffi_call with the signature written under its prototype. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* dladdr, readlink, strnlen: also when built out of tree */
#endif
#include "qnn_runtime.h"

#include "ffi_call.h"
#include "sysfs.h"

#include <dlfcn.h>
#include <stdbool.h>
#include <string.h>

/* typedef uint64_t Qnn_ErrorHandle_t: the error code is the low 16 bits. */
#define QNR_ERROR_CODE(e) ((unsigned)((e)&0xffff))

/* typedef struct { Qnn_Version_t coreApiVersion; Qnn_Version_t backendApiVersion; }
 * Qnn_ApiVersion_t; */
typedef struct qnr_api_version {
    qnr_version core, backend;
} qnr_api_version;

/* The slots of QNN_INTERFACE_VER_TYPE (QnnInterface_ImplementationV2_x_t) this
 * file calls, by index; the table only grows at its end within API 2. */
enum {
    QNR_SLOT_BACKEND_GET_API_VERSION =
        3, /* after propertyHasCapability, backendCreate, backendSetConfig */
    QNR_SLOT_BACKEND_GET_BUILD_ID = 4,
    QNR_SLOT_DEVICE_GET_PLATFORM_INFO = 37, /* after 9 backend, 6 context, 8 graph, 2 tensor,
                                               3 log, 7 profile, 2 mem slots */
    QNR_SLOT_DEVICE_FREE_PLATFORM_INFO = 38,
    QNR_SLOTS_KNOWN = 48 /* through signalFree */
};

/* typedef struct { uint32_t backendId; const char *providerName;
 *                  Qnn_ApiVersion_t apiVersion; union { QNN_INTERFACE_VER_TYPE v2_x; }; }
 * QnnInterface_t; */
typedef struct qnr_interface {
    uint32_t backend_id;
    const char *provider_name;
    qnr_api_version api_version;
    void *slot[QNR_SLOTS_KNOWN]; /* function pointers, read as data */
} qnr_interface;

/* QnnDevice_HardwareDeviceInfo_t { version; union { V1 { deviceId, deviceType, numCores,
 * QnnDevice_CoreInfo_t *cores, QnnDevice_DeviceInfoExtension_t deviceInfoExtension } } } */
typedef struct qnr_hw_device {
    uint32_t version; /* 1 */
    struct {
        uint32_t device_id, device_type, num_cores;
        void *cores;
        const void *extension; /* HTP: qnr_htp_device_ext */
    } v1;
} qnr_hw_device;

/* QnnDevice_PlatformInfo_t { version; union { V1 { numHwDevices, hwDevices } } } */
typedef struct qnr_platform_info {
    uint32_t version; /* 1 */
    struct {
        uint32_t num_hw_devices;
        const qnr_hw_device *hw_devices;
    } v1;
} qnr_platform_info;

/* QnnHtpDevice_DeviceInfoExtension_t { QnnHtpDevice_DeviceType_t devType;
 *   union { QnnHtpDevice_OnChipDeviceInfoExtension_t onChipDevice; } } */
typedef struct qnr_htp_device_ext {
    uint32_t dev_type; /* QNN_HTP_DEVICE_TYPE_ON_CHIP = 0 */
    struct {
        size_t vtcm_size; /* MiB */
        uint32_t soc_model;
        bool signed_pd_support;
        bool dlbc_support;
        uint32_t arch; /* QnnHtpDevice_Arch_t */
    } on_chip;
} qnr_htp_device_ext;

#if defined(__LP64__) || defined(_LP64)
ARIA_STATIC_ASSERT(offsetof(qnr_interface, provider_name) == 8, "QnnInterface_t layout");
ARIA_STATIC_ASSERT(offsetof(qnr_interface, api_version) == 16, "QnnInterface_t layout");
ARIA_STATIC_ASSERT(offsetof(qnr_interface, slot) == 40, "QnnInterface_t layout");
ARIA_STATIC_ASSERT(offsetof(qnr_hw_device, v1.cores) == 24, "QnnDevice_HardwareDeviceInfo_t");
ARIA_STATIC_ASSERT(offsetof(qnr_hw_device, v1.extension) == 32, "QnnDevice_HardwareDeviceInfo_t");
ARIA_STATIC_ASSERT(sizeof(qnr_hw_device) == 40, "QnnDevice_HardwareDeviceInfo_t");
ARIA_STATIC_ASSERT(offsetof(qnr_platform_info, v1.hw_devices) == 16, "QnnDevice_PlatformInfo_t");
ARIA_STATIC_ASSERT(offsetof(qnr_htp_device_ext, on_chip.soc_model) == 16, "QnnHtpDevice ext");
ARIA_STATIC_ASSERT(offsetof(qnr_htp_device_ext, on_chip.arch) == 24, "QnnHtpDevice ext");
#endif

#define QNR_API_MAJOR 2 /* QNN_API_VERSION_MAJOR of every 2.x SDK */

static const char *const qnr_slot_names[QNR_SLOTS_KNOWN] = {
    [QNR_SLOT_BACKEND_GET_API_VERSION] = "backendGetApiVersion",
    [QNR_SLOT_BACKEND_GET_BUILD_ID] = "backendGetBuildId",
    [QNR_SLOT_DEVICE_GET_PLATFORM_INFO] = "deviceGetPlatformInfo",
    [QNR_SLOT_DEVICE_FREE_PLATFORM_INFO] = "deviceFreePlatformInfo",
};

/* Prepares slot k of the provider for a call. A slot may be NULL (the
 * backend does not implement it: ARIA_ERR_UNSUPPORTED); a slot that points
 * outside the library means the table is not laid out as this file thinks,
 * and nothing in it can be trusted (ARIA_ERR_ABI): calling it could jump
 * anywhere. */
/* The address in slot k, checked to point into the library. */
static aria_err qnr_slot_checked(const qnr_interface *p, int k, const char *name,
                                 const void *lib_base, const char *lib, void **out,
                                 aria_msg *why)
{
    *out = NULL;
    if (k < 0 || k >= QNR_SLOTS_KNOWN)
        return aria_fail(why, ARIA_ERR_INTERNAL, "slot %d of QnnInterface_t", k);
    void *addr = p->slot[k];
    if (!addr)
        return aria_fail(why, ARIA_ERR_UNSUPPORTED, "%s is not provided by %s", name, lib);
    Dl_info di;
    if (!dladdr(addr, &di) || di.dli_fbase != lib_base)
        return aria_fail(why, ARIA_ERR_ABI,
                         "%s (slot %d of QnnInterface_t) does not point into %s: the table is "
                         "not laid out as QNN API 2 says",
                         name, k, lib);
    *out = addr;
    return ARIA_OK;
}

static aria_err qnr_slot_named(const qnr_interface *p, int k, const char *name,
                               const void *lib_base, const char *lib, const char *sig,
                               npu_ffi_fn *f, aria_msg *why)
{
    void *addr;
    aria_err e = qnr_slot_checked(p, k, name, lib_base, lib, &addr, why);
    return e != ARIA_OK ? e : npu_ffi_prep(f, name, addr, sig, why);
}

static aria_err qnr_slot(const qnr_interface *p, int k, const void *lib_base, const char *lib,
                         const char *sig, npu_ffi_fn *f, aria_msg *why)
{
    return qnr_slot_named(p, k, qnr_slot_names[k], lib_base, lib, sig, f, why);
}

aria_err qnr_bind(const qnr_runtime *rt, int k, const char *name, const char *sig, npu_ffi_fn *f,
                  aria_msg *why)
{
    if (!rt->info.loaded || !rt->provider)
        return aria_fail(why, ARIA_ERR_UNAVAILABLE, "QNN runtime not loaded: %s", rt->info.why);
    return qnr_slot_named(rt->provider, k, name, rt->base, rt->info.lib, sig, f, why);
}

aria_err qnr_slot_addr(const qnr_runtime *rt, int k, const char *name, void **addr,
                       aria_msg *why)
{
    *addr = NULL;
    if (!rt->info.loaded || !rt->provider)
        return aria_fail(why, ARIA_ERR_UNAVAILABLE, "QNN runtime not loaded: %s", rt->info.why);
    return qnr_slot_checked(rt->provider, k, name, rt->base, rt->info.lib, addr, why);
}

static uint64_t qnr_call(const npu_ffi_fn *f, size_t n, void **args)
{
    npu_ffi_val r = {0};
    if (npu_ffi_call(f, n, args, &r, NULL) != ARIA_OK)
        return ~0ull; /* an argument count bug here, not the runtime's */
    return r.u;
}

static void qnr_platform(qnr_interface const *p, const void *base, const char *lib, qnr_info *info)
{
    npu_ffi_fn get, release;
    aria_msg m = {{0}};
    /* Qnn_ErrorHandle_t QnnDevice_getPlatformInfo(Qnn_LogHandle_t logger,
     *                                             const QnnDevice_PlatformInfo_t **platformInfo) */
    if (qnr_slot(p, QNR_SLOT_DEVICE_GET_PLATFORM_INFO, base, lib, "U(pp)", &get, &m) != ARIA_OK)
        goto fail;
    /* Qnn_ErrorHandle_t QnnDevice_freePlatformInfo(Qnn_LogHandle_t logger,
     *                                              const QnnDevice_PlatformInfo_t *platformInfo) */
    if (qnr_slot(p, QNR_SLOT_DEVICE_FREE_PLATFORM_INFO, base, lib, "U(pp)", &release, &m) !=
        ARIA_OK)
        goto fail;
    void *logger = NULL;
    const qnr_platform_info *pi = NULL, **pip = &pi;
    void *ag[] = {&logger, &pip};
    uint64_t e = qnr_call(&get, 2, ag);
    if (e != 0 || !pi) {
        aria_fail(&m, ARIA_ERR_UNAVAILABLE,
                  "deviceGetPlatformInfo failed (QNN error %u): no HTP reachable, or an "
                  "offline-preparation build",
                  QNR_ERROR_CODE(e));
        goto fail;
    }
    if (pi->version != 1) {
        aria_fail(&m, ARIA_ERR_UNSUPPORTED, "platform info version %u (this plugin reads 1)",
                  pi->version);
    } else {
        info->n_hw_devices = pi->v1.num_hw_devices;
        for (uint32_t i = 0; pi->v1.hw_devices && i < pi->v1.num_hw_devices && i < 16; i++) {
            const qnr_hw_device *hd = &pi->v1.hw_devices[i];
            const qnr_htp_device_ext *x = hd->v1.extension;
            if (hd->version != 1 || !x || x->dev_type != 0)
                continue;
            info->has_device = 1;
            info->n_cores = hd->v1.num_cores;
            info->soc_model = x->on_chip.soc_model;
            info->arch = x->on_chip.arch;
            info->vtcm_mb = x->on_chip.vtcm_size;
            break;
        }
        if (!info->has_device)
            aria_fail(&m, ARIA_ERR_UNAVAILABLE,
                      "platform info lists %u devices, none an on-chip HTP", pi->v1.num_hw_devices);
    }
    const void *pic = pi;
    void *af[] = {&logger, &pic};
    qnr_call(&release, 2, af);
    if (info->has_device)
        return;
fail:
    npu_copy(info->device_why, sizeof info->device_why, m.text);
}

/* Queries the library: ARIA_OK when a 2.x provider passed its checks. */
static aria_err qnr_query(void *dl, const char *lib, qnr_info *info, const void **prov,
                          const void **basep, aria_msg *why)
{
    npu_ffi_fn gp;
    /* Qnn_ErrorHandle_t QnnInterface_getProviders(const QnnInterface_t ***providerList,
     *                                             uint32_t *numProviders) */
    aria_err rc = npu_ffi_bind(&gp, dl, lib, "QnnInterface_getProviders", "U(pp)", why);
    if (rc != ARIA_OK)
        return rc;
    /* From the first call on, the HTP backend may run threads of its own
     * (fastrpc): it stays mapped until the process ends (see ov_runtime.c). */
    void *pin = dlopen(lib, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE);
    if (pin)
        dlclose(pin);
    Dl_info di;
    if (!dladdr((void *)gp.addr, &di))
        return aria_fail(why, ARIA_ERR_INTERNAL, "dladdr fails on %s", lib);
    const void *base = di.dli_fbase;

    const qnr_interface **list = NULL, ***listp = &list;
    uint32_t n = 0, *np = &n;
    void *a[] = {&listp, &np};
    uint64_t e = qnr_call(&gp, 2, a);
    if (e != 0)
        return aria_fail(why, ARIA_ERR_UNAVAILABLE,
                         "QnnInterface_getProviders failed (QNN error %u)", QNR_ERROR_CODE(e));
    if (!list || n == 0)
        return aria_fail(why, ARIA_ERR_UNAVAILABLE, "%s lists no interface provider", lib);

    const qnr_interface *p = NULL;
    char seen[128] = "";
    for (uint32_t i = 0; i < n && i < 64; i++) {
        const qnr_interface *c = list[i];
        if (!c)
            continue;
        if (c->api_version.core.major == QNR_API_MAJOR) {
            p = c;
            break;
        }
        size_t l = strlen(seen);
        npu_fmt(seen + l, sizeof seen - l, "%s%u.%u.%u", l ? ", " : "", c->api_version.core.major,
                c->api_version.core.minor, c->api_version.core.patch);
    }
    if (!p)
        return aria_fail(why, ARIA_ERR_ABI, "%s has no provider of QNN core API %d.x (found %s)",
                         lib, QNR_API_MAJOR, seen[0] ? seen : "none");
    info->backend_id = p->backend_id;
    npu_copy(info->provider, sizeof info->provider, p->provider_name);
    info->core_api = p->api_version.core;
    info->backend_api = p->api_version.backend;

    /* The layout check: the version the backend reports through its table
     * must be the one the provider struct carries. */
    npu_ffi_fn fv;
    /* Qnn_ErrorHandle_t QnnBackend_getApiVersion(Qnn_ApiVersion_t *pVersion) */
    if ((rc = qnr_slot(p, QNR_SLOT_BACKEND_GET_API_VERSION, base, lib, "U(p)", &fv, why)) !=
        ARIA_OK)
        return rc;
    qnr_api_version v = {{0, 0, 0}, {0, 0, 0}}, *vp = &v;
    void *av[] = {&vp};
    e = qnr_call(&fv, 1, av);
    if (e != 0)
        return aria_fail(why, ARIA_ERR_UNAVAILABLE, "backendGetApiVersion failed (QNN error %u)",
                         QNR_ERROR_CODE(e));
    if (memcmp(&v.core, &info->core_api, sizeof v.core) != 0)
        return aria_fail(why, ARIA_ERR_ABI,
                         "backendGetApiVersion says core API %u.%u.%u, the provider %u.%u.%u: "
                         "QnnInterface_t is not laid out as QNN API 2 says",
                         v.core.major, v.core.minor, v.core.patch, info->core_api.major,
                         info->core_api.minor, info->core_api.patch);

    npu_ffi_fn fb;
    /* Qnn_ErrorHandle_t QnnBackend_getBuildId(const char **id) */
    aria_msg m = {{0}};
    rc = qnr_slot(p, QNR_SLOT_BACKEND_GET_BUILD_ID, base, lib, "U(p)", &fb, &m);
    if (rc == ARIA_OK) {
        const char *id = NULL, **idp = &id;
        void *ab[] = {&idp};
        if (qnr_call(&fb, 1, ab) == 0 && id)
            npu_copy(info->build_id, sizeof info->build_id, id);
    } else if (rc == ARIA_ERR_ABI) {
        return aria_fail(why, rc, "%s", m.text);
    }

    qnr_platform(p, base, lib, info);
    *prov = p;
    *basep = base;
    return ARIA_OK;
}

aria_err qnr_open(qnr_runtime *rt, const char *lib, aria_msg *why)
{
    memset(rt, 0, sizeof *rt);
    qnr_info *info = &rt->info;
    npu_copy(info->lib, sizeof info->lib, lib);
    aria_msg m = {{0}};
    aria_err rc;
    dlerror();
    void *dl = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
    if (!dl) {
        const char *e = dlerror();
        size_t ll = strlen(lib);
        if (e && strncmp(e, lib, ll) == 0 && strncmp(e + ll, ": ", 2) == 0)
            e += ll + 2;
        rc = aria_fail(&m, ARIA_ERR_UNAVAILABLE, "cannot load %s: %s", lib,
                       e ? e : "unknown dlopen error");
    } else {
        info->opened = 1;
        rc = qnr_query(dl, lib, info, &rt->provider, &rt->base, &m);
    }
    if (rc == ARIA_OK) {
        rt->dl = dl;
        info->loaded = 1;
    } else {
        rt->provider = rt->base = NULL;
        qnr_info keep = {0};
        memcpy(keep.lib, info->lib, sizeof keep.lib);
        keep.opened = info->opened;
        *info = keep;
        if (dl)
            dlclose(dl);
        npu_copy(info->why, sizeof info->why, m.text);
    }
    if (why)
        *why = m;
    return rc;
}

void qnr_close(qnr_runtime *rt)
{
    if (rt->dl)
        dlclose(rt->dl);
    rt->dl = NULL;
    rt->info.loaded = 0;
}

/* QNN_SOC_MODEL_* values (QnnTypes.h), as ExecuTorch's Qualcomm backend
 * lists them (backends/qualcomm/serialization/qc_schema.py). */
const char *qnr_soc_name(uint32_t soc_model)
{
    static const struct {
        uint32_t id;
        const char *name;
    } socs[] = {
        {30, "SM8350"},   {36, "SM8450"},   {39, "SA8295"}, {42, "SM8475"},   {43, "SM8550"},
        {45, "SXR1230P"}, {46, "SSG2115P"}, {52, "SA8255"}, {53, "SXR2230P"}, {57, "SM8650"},
        {58, "SSG2125P"}, {62, "SA8540"},   {68, "SM8635"}, {69, "SM8750"},   {72, "SA8797"},
        {75, "SXR2330P"}, {77, "QCS9100"},  {85, "SM8735"}, {87, "SM8850"},   {93, "QCM6490"},
        {95, "SAR2230P"}, {96, "SW6100"},   {97, "SM8845"},
    };
    for (size_t i = 0; i < sizeof socs / sizeof socs[0]; i++)
        if (socs[i].id == soc_model)
            return socs[i].name;
    return NULL;
}
