/* fake_qnn.c — a stand-in for QNN's libQnnHtp.so, built by the tests so
 * that npu-qnn's libffi path runs for real on any machine.
 *
 * It exports QnnInterface_getProviders with the prototype of QnnInterface.h
 * and hands out QnnInterface_t tables laid out as the public QNN 2.x headers
 * say (QnnInterface.h, QnnTypes.h, QnnDevice.h, HTP/QnnHtpDevice.h), with
 * the slots the plugin calls filled in. Every call appends one line to the
 * file named by $ARIA_FAKE_LOG, with its arguments as they arrived; pointers
 * it handed out are recognised when they come back.
 *
 * Providers: "FakeFuture" with core API 3.0.0 first (the plugin must skip
 * it), then "FakeHtp" with core API 2.32.0 and backend API 5.32.0.
 * ARIA_FAKE_QNN_MODE changes one thing:
 *   mismatch    backendGetApiVersion reports 2.99.0 (a layout the plugin
 *               misread would look like this)
 *   badslot     backendGetBuildId points outside this library
 *   nov2        only the 3.0.0 provider
 *   noplatform  deviceGetPlatformInfo fails (an offline-preparation build)
 *   old         FakeHtp says core API 2.14.0 (an SDK older than the graph
 *               structs the plugin lays out)
 * Built a second time with FAKE_OMIT_GET_PROVIDERS: no entry point at all.
 *
 * FakeHtp also implements the graph API for real (qnn_eval.c records,
 * validates and executes the graphs): backendCreate/Free, deviceCreate/
 * Free, contextCreate/Free, graphCreate, tensorCreateGraphTensor,
 * graphAddNode, graphFinalize, graphExecute, errorGetMessage.
 * ARIA_FAKE_FAIL=<slot name> makes that one of these fail with
 * QNN_COMMON_ERROR_GENERAL. A failing call logs its line followed by
 * " -> <code>: <message>"; the message is also kept for errorGetMessage
 * and for the fake-only export fake_qnn_last_error(). */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "qnn_eval.h"

#define FAKE_API __attribute__((visibility("default")))

typedef struct {
    uint32_t major, minor, patch;
} Qnn_Version_t;
typedef struct {
    Qnn_Version_t coreApiVersion;
    Qnn_Version_t backendApiVersion;
} Qnn_ApiVersion_t;

typedef struct {
    size_t vtcmSize;
    uint32_t socModel;
    bool signedPdSupport;
    bool dlbcSupport;
    uint32_t arch;
} QnnHtpDevice_OnChipDeviceInfoExtension_t;

typedef struct {
    uint32_t devType;
    union {
        QnnHtpDevice_OnChipDeviceInfoExtension_t onChipDevice;
    };
} QnnHtpDevice_DeviceInfoExtension_t;

typedef struct {
    uint32_t deviceId;
    uint32_t deviceType;
    uint32_t numCores;
    void *cores;
    void *deviceInfoExtension;
} QnnDevice_HardwareDeviceInfoV1_t;

typedef struct {
    uint32_t version;
    union {
        QnnDevice_HardwareDeviceInfoV1_t v1;
    };
} QnnDevice_HardwareDeviceInfo_t;

typedef struct {
    uint32_t version;
    union {
        struct {
            uint32_t numHwDevices;
            QnnDevice_HardwareDeviceInfo_t *hwDevices;
        } v1;
    };
} QnnDevice_PlatformInfo_t;

typedef void *QnnBackend_Config_t;
typedef void *QnnDevice_Config_t;
typedef void *QnnContext_Config_t;

/* QnnInterface_ImplementationV2_x_t: 51 function pointers as of QNN 2.2x
 * (QnnInterface.h); by name the ones the fake implements. */
typedef struct {
    void *propertyHasCapability; /* 0 */
    Qnn_ErrorHandle_t (*backendCreate)(Qnn_LogHandle_t, const QnnBackend_Config_t **,
                                       Qnn_BackendHandle_t *);     /* 1 */
    void *backendSetConfig;                                        /* 2 */
    Qnn_ErrorHandle_t (*backendGetApiVersion)(Qnn_ApiVersion_t *); /* 3 */
    Qnn_ErrorHandle_t (*backendGetBuildId)(const char **);         /* 4 */
    void *backendRegisterOpPackage;                                /* 5 */
    void *backendGetSupportedOperations;                           /* 6 */
    void *backendValidateOpConfig;                                 /* 7 */
    Qnn_ErrorHandle_t (*backendFree)(Qnn_BackendHandle_t);         /* 8 */
    Qnn_ErrorHandle_t (*contextCreate)(Qnn_BackendHandle_t, Qnn_DeviceHandle_t,
                                       const QnnContext_Config_t **, Qnn_ContextHandle_t *); /* 9 */
    void *contextSetConfig;                                                     /* 10 */
    void *contextGetBinarySize;                                                 /* 11 */
    void *contextGetBinary;                                                     /* 12 */
    void *contextCreateFromBinary;                                              /* 13 */
    Qnn_ErrorHandle_t (*contextFree)(Qnn_ContextHandle_t, Qnn_ProfileHandle_t); /* 14 */
    Qnn_ErrorHandle_t (*graphCreate)(Qnn_ContextHandle_t, const char *, const QnnGraph_Config_t **,
                                     Qnn_GraphHandle_t *);                /* 15 */
    void *graphCreateSubgraph;                                            /* 16 */
    void *graphSetConfig;                                                 /* 17 */
    Qnn_ErrorHandle_t (*graphAddNode)(Qnn_GraphHandle_t, Qnn_OpConfig_t); /* 18 */
    Qnn_ErrorHandle_t (*graphFinalize)(Qnn_GraphHandle_t, Qnn_ProfileHandle_t,
                                       Qnn_SignalHandle_t); /* 19 */
    void *graphRetrieve;                                    /* 20 */
    Qnn_ErrorHandle_t (*graphExecute)(Qnn_GraphHandle_t, const Qnn_Tensor_t *, uint32_t,
                                      Qnn_Tensor_t *, uint32_t, Qnn_ProfileHandle_t,
                                      Qnn_SignalHandle_t);                           /* 21 */
    void *graphExecuteAsync;                                                         /* 22 */
    void *tensorCreateContextTensor;                                                 /* 23 */
    Qnn_ErrorHandle_t (*tensorCreateGraphTensor)(Qnn_GraphHandle_t, Qnn_Tensor_t *); /* 24 */
    void *log[3];     /* 25..27 logCreate, logSetLogLevel, logFree */
    void *profile[7]; /* 28..34 create, setConfig, getEvents, getSubEvents, getEventData,
                         getExtendedEventData, free */
    void *mem[2];     /* 35, 36 memRegister, memDeRegister */
    Qnn_ErrorHandle_t (*deviceGetPlatformInfo)(void *, const QnnDevice_PlatformInfo_t **); /* 37 */
    Qnn_ErrorHandle_t (*deviceFreePlatformInfo)(void *, const QnnDevice_PlatformInfo_t *); /* 38 */
    void *deviceGetInfrastructure;                                                         /* 39 */
    Qnn_ErrorHandle_t (*deviceCreate)(Qnn_LogHandle_t, const QnnDevice_Config_t **,
                                      Qnn_DeviceHandle_t *);                /* 40 */
    void *deviceSetConfig;                                                  /* 41 */
    void *deviceGetInfo;                                                    /* 42 */
    Qnn_ErrorHandle_t (*deviceFree)(Qnn_DeviceHandle_t);                    /* 43 */
    void *signal[4];                                                        /* 44..47 */
    Qnn_ErrorHandle_t (*errorGetMessage)(Qnn_ErrorHandle_t, const char **); /* 48 */
    void *errorGetVerboseMessage;                                           /* 49 */
    void *errorFreeVerboseMessage;                                          /* 50 */
} Fake_Impl_t;

typedef struct {
    uint32_t backendId;
    const char *providerName;
    Qnn_ApiVersion_t apiVersion;
    union {
        Fake_Impl_t v2_x;
    };
} QnnInterface_t;

_Static_assert(offsetof(QnnInterface_t, v2_x) == 40, "layout of QnnInterface.h");
#define FAKE_SLOT(f, i) _Static_assert(offsetof(Fake_Impl_t, f) == (i) * sizeof(void *), #f)
FAKE_SLOT(backendCreate, 1);
FAKE_SLOT(backendGetApiVersion, 3);
FAKE_SLOT(backendGetBuildId, 4);
FAKE_SLOT(backendFree, 8);
FAKE_SLOT(contextCreate, 9);
FAKE_SLOT(contextFree, 14);
FAKE_SLOT(graphCreate, 15);
FAKE_SLOT(graphAddNode, 18);
FAKE_SLOT(graphFinalize, 19);
FAKE_SLOT(graphExecute, 21);
FAKE_SLOT(tensorCreateGraphTensor, 24);
FAKE_SLOT(deviceGetPlatformInfo, 37);
FAKE_SLOT(deviceFreePlatformInfo, 38);
FAKE_SLOT(deviceCreate, 40);
FAKE_SLOT(deviceFree, 43);
FAKE_SLOT(errorGetMessage, 48);
_Static_assert(sizeof(Fake_Impl_t) == 51 * sizeof(void *), "51 slots");

#ifndef FAKE_OMIT_GET_PROVIDERS
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

static int fake_mode(const char *m)
{
    const char *v = getenv("ARIA_FAKE_QNN_MODE");
    return v && strcmp(v, m) == 0;
}

static const char *fake_out(const void *p)
{
    return p ? "out" : "NULL";
}

static Qnn_ErrorHandle_t fake_get_api_version(Qnn_ApiVersion_t *v)
{
    fake_log("backendGetApiVersion(%s)", fake_out(v));
    if (!v)
        return 1002;
    uint32_t minor = fake_mode("mismatch") ? 99 : fake_mode("old") ? 14 : 32;
    *v = (Qnn_ApiVersion_t){{2, minor, 0}, {5, 32, 0}};
    return 0;
}

static Qnn_ErrorHandle_t fake_get_build_id(const char **id)
{
    fake_log("backendGetBuildId(%s)", fake_out(id));
    if (!id)
        return 1002;
    *id = "v2.43.0.250828_fake";
    return 0;
}

static QnnHtpDevice_DeviceInfoExtension_t fake_ext = {
    .devType = 0, /* QNN_HTP_DEVICE_TYPE_ON_CHIP */
    .onChipDevice =
        {.vtcmSize = 8, .socModel = 57, .signedPdSupport = true, .dlbcSupport = false, .arch = 75},
};
static QnnDevice_HardwareDeviceInfo_t fake_hw = {
    .version = 1,
    .v1 = {.deviceId = 0,
           .deviceType = 0,
           .numCores = 1,
           .cores = NULL,
           .deviceInfoExtension = &fake_ext},
};
static const QnnDevice_PlatformInfo_t fake_platform = {
    .version = 1,
    .v1 = {.numHwDevices = 1, .hwDevices = &fake_hw},
};

static Qnn_ErrorHandle_t fake_get_platform(void *logger, const QnnDevice_PlatformInfo_t **info)
{
    fake_log("deviceGetPlatformInfo(%s, %s)", logger ? "logger" : "NULL", fake_out(info));
    if (!info)
        return 1002;
    if (fake_mode("noplatform"))
        return 1000; /* QNN_COMMON_ERROR_NOT_SUPPORTED-like */
    *info = &fake_platform;
    return 0;
}

static Qnn_ErrorHandle_t fake_free_platform(void *logger, const QnnDevice_PlatformInfo_t *info)
{
    fake_log("deviceFreePlatformInfo(%s, %s)", logger ? "logger" : "NULL",
             info == &fake_platform ? "platform" : "FOREIGN");
    return 0;
}

/* ---- the graph API ------------------------------------------------------ */

static char fake_err[1024];
static Qnn_ErrorHandle_t fake_err_code;

FAKE_API const char *fake_qnn_last_error(void)
{
    return fake_err;
}

/* A call's log line: built in pieces, written once. */
static char fake_line[2048];

static void line_start(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void line_start(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(fake_line, sizeof fake_line, fmt, ap);
    va_end(ap);
}

static void line_add(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void line_add(const char *fmt, ...)
{
    size_t len = strlen(fake_line);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(fake_line + len, sizeof fake_line - len, fmt, ap);
    va_end(ap);
}

static Qnn_ErrorHandle_t line_ok(void)
{
    fake_log("%s", fake_line);
    return QNN_SUCCESS;
}

/* Logs the line with the error and records it; fake_err holds the message
 * already unless msg is given. */
static Qnn_ErrorHandle_t line_fail(Qnn_ErrorHandle_t code, const char *msg)
{
    if (msg)
        snprintf(fake_err, sizeof fake_err, "%s", msg);
    fake_err_code = code;
    fake_log("%s -> %llu: %s", fake_line, (unsigned long long)code, fake_err);
    return code;
}

/* ARIA_FAKE_FAIL=<slot>: that slot fails with QNN_COMMON_ERROR_GENERAL. */
static bool fake_fails(const char *slot)
{
    const char *f = getenv("ARIA_FAKE_FAIL");
    if (!f || strcmp(f, slot) != 0)
        return false;
    snprintf(fake_err, sizeof fake_err, "fake failure of %s", slot);
    return true;
}

typedef struct fake_context fake_context;
typedef struct {
    bool live;
} fake_backend;
typedef struct {
    bool live;
} fake_device;
struct fake_context {
    bool live;
    fake_backend *backend;
    qe_graph **graphs;
    uint32_t ngraphs;
};

#define FAKE_MAX_HANDLES 16
static fake_backend fake_backends[FAKE_MAX_HANDLES];
static fake_device fake_devices[FAKE_MAX_HANDLES];
static fake_context fake_contexts[FAKE_MAX_HANDLES];

static fake_backend *as_backend(const void *h)
{
    for (int i = 0; h && i < FAKE_MAX_HANDLES; i++)
        if (h == &fake_backends[i] && fake_backends[i].live)
            return &fake_backends[i];
    return NULL;
}

static fake_device *as_device(const void *h)
{
    for (int i = 0; h && i < FAKE_MAX_HANDLES; i++)
        if (h == &fake_devices[i] && fake_devices[i].live)
            return &fake_devices[i];
    return NULL;
}

static fake_context *as_context(const void *h)
{
    for (int i = 0; h && i < FAKE_MAX_HANDLES; i++)
        if (h == &fake_contexts[i] && fake_contexts[i].live)
            return &fake_contexts[i];
    return NULL;
}

static qe_graph *as_graph(const void *h)
{
    for (int i = 0; h && i < FAKE_MAX_HANDLES; i++)
        for (uint32_t j = 0; fake_contexts[i].live && j < fake_contexts[i].ngraphs; j++)
            if (h == fake_contexts[i].graphs[j])
                return fake_contexts[i].graphs[j];
    return NULL;
}

static const char *hname(const void *h, bool known, const char *name)
{
    return !h ? "NULL" : known ? name : "FOREIGN";
}

/* "NULL" or "{n entries}" for a NULL-terminated config list */
static const char *config_str(const void *const *config, char *buf, size_t cap)
{
    if (!config)
        return "NULL";
    unsigned n = 0;
    while (config[n])
        n++;
    snprintf(buf, cap, "{%u entries}", n);
    return buf;
}

static Qnn_ErrorHandle_t fake_backend_create(Qnn_LogHandle_t logger,
                                             const QnnBackend_Config_t **config,
                                             Qnn_BackendHandle_t *backend)
{
    char cb[32];
    line_start("backendCreate(%s, %s, %s)", logger ? "logger" : "NULL",
               config_str((const void *const *)config, cb, sizeof cb), fake_out(backend));
    if (fake_fails("backendCreate"))
        return line_fail(QNN_COMMON_ERROR_GENERAL, NULL);
    if (!backend)
        return line_fail(QNN_COMMON_ERROR_INVALID_ARGUMENT, "backend is NULL");
    for (int i = 0; i < FAKE_MAX_HANDLES; i++)
        if (!fake_backends[i].live) {
            fake_backends[i].live = true;
            *backend = &fake_backends[i];
            return line_ok();
        }
    return line_fail(QNN_COMMON_ERROR_MEM_ALLOC, "too many backends");
}

static void context_release(fake_context *c)
{
    for (uint32_t i = 0; i < c->ngraphs; i++)
        qe_graph_free(c->graphs[i]);
    free(c->graphs);
    memset(c, 0, sizeof *c);
}

static Qnn_ErrorHandle_t fake_backend_free(Qnn_BackendHandle_t backend)
{
    fake_backend *b = as_backend(backend);
    line_start("backendFree(%s)", hname(backend, b, "backend"));
    if (fake_fails("backendFree"))
        return line_fail(QNN_COMMON_ERROR_GENERAL, NULL);
    if (!b)
        return line_fail(QNN_BACKEND_ERROR_INVALID_HANDLE, "not a backend handle of this library");
    /* QnnBackend_free releases what was created on the backend. */
    for (int i = 0; i < FAKE_MAX_HANDLES; i++)
        if (fake_contexts[i].live && fake_contexts[i].backend == b)
            context_release(&fake_contexts[i]);
    b->live = false;
    return line_ok();
}

static Qnn_ErrorHandle_t fake_device_create(Qnn_LogHandle_t logger,
                                            const QnnDevice_Config_t **config,
                                            Qnn_DeviceHandle_t *device)
{
    char cb[32];
    line_start("deviceCreate(%s, %s, %s)", logger ? "logger" : "NULL",
               config_str((const void *const *)config, cb, sizeof cb), fake_out(device));
    if (fake_fails("deviceCreate"))
        return line_fail(QNN_COMMON_ERROR_GENERAL, NULL);
    if (!device)
        return line_fail(QNN_COMMON_ERROR_INVALID_ARGUMENT, "device is NULL");
    for (int i = 0; i < FAKE_MAX_HANDLES; i++)
        if (!fake_devices[i].live) {
            fake_devices[i].live = true;
            *device = &fake_devices[i];
            return line_ok();
        }
    return line_fail(QNN_COMMON_ERROR_MEM_ALLOC, "too many devices");
}

static Qnn_ErrorHandle_t fake_device_free(Qnn_DeviceHandle_t device)
{
    fake_device *d = as_device(device);
    line_start("deviceFree(%s)", hname(device, d, "device"));
    if (fake_fails("deviceFree"))
        return line_fail(QNN_COMMON_ERROR_GENERAL, NULL);
    if (!d)
        return line_fail(QNN_DEVICE_ERROR_INVALID_HANDLE, "not a device handle of this library");
    d->live = false;
    return line_ok();
}

static Qnn_ErrorHandle_t fake_context_create(Qnn_BackendHandle_t backend, Qnn_DeviceHandle_t device,
                                             const QnnContext_Config_t **config,
                                             Qnn_ContextHandle_t *context)
{
    fake_backend *b = as_backend(backend);
    fake_device *d = as_device(device);
    char cb[32];
    line_start("contextCreate(%s, %s, %s, %s)", hname(backend, b, "backend"),
               hname(device, d, "device"), config_str((const void *const *)config, cb, sizeof cb),
               fake_out(context));
    if (fake_fails("contextCreate"))
        return line_fail(QNN_COMMON_ERROR_GENERAL, NULL);
    if (!b)
        return line_fail(QNN_CONTEXT_ERROR_INVALID_HANDLE, "not a backend handle of this library");
    if (device && !d)
        return line_fail(QNN_CONTEXT_ERROR_INVALID_HANDLE, "not a device handle of this library");
    if (!context)
        return line_fail(QNN_CONTEXT_ERROR_INVALID_ARGUMENT, "context is NULL");
    for (int i = 0; i < FAKE_MAX_HANDLES; i++)
        if (!fake_contexts[i].live) {
            fake_contexts[i] = (fake_context){.live = true, .backend = b};
            *context = &fake_contexts[i];
            return line_ok();
        }
    return line_fail(QNN_COMMON_ERROR_MEM_ALLOC, "too many contexts");
}

static Qnn_ErrorHandle_t fake_context_free(Qnn_ContextHandle_t context, Qnn_ProfileHandle_t profile)
{
    fake_context *c = as_context(context);
    line_start("contextFree(%s, %s)", hname(context, c, "context"), hname(profile, false, ""));
    if (fake_fails("contextFree"))
        return line_fail(QNN_COMMON_ERROR_GENERAL, NULL);
    if (!c)
        return line_fail(QNN_CONTEXT_ERROR_INVALID_HANDLE, "not a context handle of this library");
    if (profile)
        return line_fail(QNN_CONTEXT_ERROR_INVALID_HANDLE, "not a profile handle of this library");
    context_release(c);
    return line_ok();
}

static const char *precision_name(Qnn_Precision_t p)
{
    return p == QNN_PRECISION_FLOAT32   ? "FLOAT32"
           : p == QNN_PRECISION_FLOAT16 ? "FLOAT16"
                                        : "UNDEFINED";
}

/* Appends one graph config entry to the line; false if invalid. */
static bool graph_config_entry(const QnnGraph_Config_t *c)
{
    switch (c->option) {
    case QNN_GRAPH_CONFIG_OPTION_CUSTOM: {
        const QnnHtpGraph_CustomConfig_t *h = c->customConfig;
        if (!h) {
            line_add("CUSTOM NULL");
            return false;
        }
        switch (h->option) {
        case QNN_HTP_GRAPH_CONFIG_OPTION_PRECISION:
            line_add("CUSTOM HTP precision=%s", precision_name(h->precision));
            return h->precision == QNN_PRECISION_FLOAT32 || h->precision == QNN_PRECISION_FLOAT16;
        case QNN_HTP_GRAPH_CONFIG_OPTION_OPTIMIZATION:
            line_add("CUSTOM HTP optimization type=%u value=%g",
                     (unsigned)h->optimizationOption.type,
                     (double)h->optimizationOption.floatValue);
            return true;
        case QNN_HTP_GRAPH_CONFIG_OPTION_VTCM_SIZE:
            line_add("CUSTOM HTP vtcm_size_mb=%u", h->vtcmSizeInMB);
            return true;
        case QNN_HTP_GRAPH_CONFIG_OPTION_NUM_HVX_THREADS:
            line_add("CUSTOM HTP num_hvx_threads=%llu", (unsigned long long)h->numHvxThreads);
            return true;
        case QNN_HTP_GRAPH_CONFIG_OPTION_FOLD_RELU_ACTIVATION_INTO_CONV_OFF:
        case QNN_HTP_GRAPH_CONFIG_OPTION_SHORT_DEPTH_CONV_ON_HMX_OFF:
        case QNN_HTP_GRAPH_CONFIG_OPTION_UNKNOWN: break;
        }
        line_add("CUSTOM HTP option=%u", (unsigned)h->option);
        return h->option != QNN_HTP_GRAPH_CONFIG_OPTION_UNKNOWN;
    }
    case QNN_GRAPH_CONFIG_OPTION_PRIORITY: line_add("PRIORITY %u", c->priority); return true;
    case QNN_GRAPH_CONFIG_OPTION_PROFILE_HANDLE:
        line_add("PROFILE_HANDLE %s", hname(c->profileHandle, false, ""));
        return false; /* no profile handle of ours exists */
    case QNN_GRAPH_CONFIG_OPTION_UNDEFINED: break;
    }
    line_add("option=%u", (unsigned)c->option);
    return false;
}

static Qnn_ErrorHandle_t fake_graph_create(Qnn_ContextHandle_t context, const char *graphName,
                                           const QnnGraph_Config_t **config,
                                           Qnn_GraphHandle_t *graph)
{
    fake_context *c = as_context(context);
    line_start("graphCreate(%s, ", hname(context, c, "context"));
    if (graphName)
        line_add("\"%s\", ", graphName);
    else
        line_add("NULL, ");
    bool config_ok = true;
    if (!config) {
        line_add("NULL");
    } else {
        line_add("{");
        for (unsigned i = 0; config[i]; i++) {
            if (i)
                line_add(", ");
            config_ok = graph_config_entry(config[i]) && config_ok;
        }
        line_add("}");
    }
    line_add(", %s)", fake_out(graph));
    if (fake_fails("graphCreate"))
        return line_fail(QNN_COMMON_ERROR_GENERAL, NULL);
    if (!c)
        return line_fail(QNN_GRAPH_ERROR_INVALID_HANDLE, "not a context handle of this library");
    if (!graph)
        return line_fail(QNN_GRAPH_ERROR_INVALID_ARGUMENT, "graph is NULL");
    if (!config_ok)
        return line_fail(QNN_GRAPH_ERROR_INVALID_ARGUMENT, "invalid graph config option");
    if (!graphName || !*graphName)
        return line_fail(QNN_GRAPH_ERROR_INVALID_NAME, "graph name is NULL or empty");
    for (uint32_t i = 0; i < c->ngraphs; i++)
        if (strcmp(qe_graph_name(c->graphs[i]), graphName) == 0)
            return line_fail(QNN_GRAPH_ERROR_INVALID_NAME, "graph name in use in this context");
    qe_graph **ng = realloc(c->graphs, (c->ngraphs + 1) * sizeof *ng);
    if (!ng)
        return line_fail(QNN_COMMON_ERROR_MEM_ALLOC, "out of memory");
    c->graphs = ng;
    qe_graph *g = qe_graph_new(graphName);
    if (!g)
        return line_fail(QNN_COMMON_ERROR_MEM_ALLOC, "out of memory");
    c->graphs[c->ngraphs++] = g;
    *graph = g;
    return line_ok();
}

static Qnn_ErrorHandle_t fake_tensor_create_graph_tensor(Qnn_GraphHandle_t graph,
                                                         Qnn_Tensor_t *tensor)
{
    qe_graph *g = as_graph(graph);
    bool app = false;
    line_start("tensorCreateGraphTensor(%s, ", hname(graph, g, "graph"));
    if (!tensor) {
        line_add("NULL)");
    } else if (tensor->version != QNN_TENSOR_VERSION_1) {
        line_add("version %u)", (unsigned)tensor->version);
    } else {
        const Qnn_TensorV1_t *v = &tensor->v1;
        char d[128];
        app = v->type == QNN_TENSOR_TYPE_APP_WRITE || v->type == QNN_TENSOR_TYPE_APP_READ;
        line_add("\"%s\" %s %s %s)", v->name ? v->name : "(null)", qe_ttype_name(v->type),
                 qe_dtype_name(v->dataType),
                 v->rank <= QE_MAX_RANK && v->dimensions
                     ? qe_dims_str(v->dimensions, v->rank, d, sizeof d)
                     : "[?]");
    }
    if (fake_fails("tensorCreateGraphTensor"))
        return line_fail(QNN_COMMON_ERROR_GENERAL, NULL);
    if (!g)
        return line_fail(QNN_TENSOR_ERROR_INVALID_HANDLE, "not a graph handle of this library");
    if (!tensor)
        return line_fail(QNN_TENSOR_ERROR_INVALID_TENSOR_PARAM, "tensor is NULL");
    Qnn_ErrorHandle_t e = qe_tensor_create(g, tensor, fake_err, sizeof fake_err);
    if (e)
        return line_fail(e, NULL);
    /* NATIVE and STATIC tensors are counted (qe_graph_num_tensors), not logged */
    return app ? line_ok() : QNN_SUCCESS;
}

static Qnn_ErrorHandle_t fake_graph_add_node(Qnn_GraphHandle_t graph, Qnn_OpConfig_t opConfig)
{
    qe_graph *g = as_graph(graph);
    line_start("graphAddNode(%s, ", hname(graph, g, "graph"));
    if (opConfig.version != QNN_OPCONFIG_VERSION_1) {
        line_add("version %u)", (unsigned)opConfig.version);
    } else {
        const Qnn_OpConfigV1_t *c = &opConfig.v1;
        line_add("\"%s\" %s, %u in, %u out, %u params)", c->name ? c->name : "(null)",
                 c->typeName ? c->typeName : "(null)", c->numOfInputs, c->numOfOutputs,
                 c->numOfParams);
    }
    if (fake_fails("graphAddNode"))
        return line_fail(QNN_COMMON_ERROR_GENERAL, NULL);
    if (!g)
        return line_fail(QNN_GRAPH_ERROR_INVALID_HANDLE, "not a graph handle of this library");
    Qnn_ErrorHandle_t e = qe_add_node(g, &opConfig, fake_err, sizeof fake_err);
    return e ? line_fail(e, NULL) : line_ok();
}

static Qnn_ErrorHandle_t fake_graph_finalize(Qnn_GraphHandle_t graph, Qnn_ProfileHandle_t profile,
                                             Qnn_SignalHandle_t signal)
{
    qe_graph *g = as_graph(graph);
    line_start("graphFinalize(%s, %s, %s)", hname(graph, g, "graph"), hname(profile, false, ""),
               hname(signal, false, ""));
    if (fake_fails("graphFinalize"))
        return line_fail(QNN_COMMON_ERROR_GENERAL, NULL);
    if (!g)
        return line_fail(QNN_GRAPH_ERROR_INVALID_HANDLE, "not a graph handle of this library");
    if (profile || signal)
        return line_fail(QNN_GRAPH_ERROR_INVALID_HANDLE,
                         "not a profile or signal handle of this library");
    Qnn_ErrorHandle_t e = qe_finalize(g, fake_err, sizeof fake_err);
    return e ? line_fail(e, NULL) : line_ok();
}

static Qnn_ErrorHandle_t fake_graph_execute(Qnn_GraphHandle_t graph, const Qnn_Tensor_t *inputs,
                                            uint32_t numInputs, Qnn_Tensor_t *outputs,
                                            uint32_t numOutputs, Qnn_ProfileHandle_t profile,
                                            Qnn_SignalHandle_t signal)
{
    qe_graph *g = as_graph(graph);
    line_start("graphExecute(%s, %u inputs, %u outputs, %s, %s)", hname(graph, g, "graph"),
               numInputs, numOutputs, hname(profile, false, ""), hname(signal, false, ""));
    if (fake_fails("graphExecute"))
        return line_fail(QNN_COMMON_ERROR_GENERAL, NULL);
    if (!g)
        return line_fail(QNN_GRAPH_ERROR_INVALID_HANDLE, "not a graph handle of this library");
    if (profile || signal)
        return line_fail(QNN_GRAPH_ERROR_INVALID_HANDLE,
                         "not a profile or signal handle of this library");
    Qnn_ErrorHandle_t e =
        qe_execute(g, inputs, numInputs, outputs, numOutputs, fake_err, sizeof fake_err);
    return e ? line_fail(e, NULL) : line_ok();
}

/* QnnError_getMessage: the message of the last failure, if h is its code. */
static Qnn_ErrorHandle_t fake_error_get_message(Qnn_ErrorHandle_t h, const char **msg)
{
    fake_log("errorGetMessage(%llu, %s)", (unsigned long long)h, fake_out(msg));
    if (!msg)
        return QNN_COMMON_ERROR_INVALID_ARGUMENT;
    *msg = h && h == fake_err_code ? fake_err : "no message for this error";
    return QNN_SUCCESS;
}

static QnnInterface_t fake_future = {
    .backendId = 6,
    .providerName = "FakeFuture",
    .apiVersion = {{3, 0, 0}, {1, 0, 0}},
};
static QnnInterface_t fake_htp = {
    .backendId = 6, /* QNN_BACKEND_ID_HTP */
    .providerName = "FakeHtp",
    .apiVersion = {{2, 32, 0}, {5, 32, 0}},
};
static const QnnInterface_t *fake_list[2];

FAKE_API Qnn_ErrorHandle_t QnnInterface_getProviders(const QnnInterface_t ***providerList,
                                                     uint32_t *numProviders)
{
    fake_log("QnnInterface_getProviders(%s, %s)", fake_out(providerList), fake_out(numProviders));
    if (!providerList || !numProviders)
        return 1002;
    fake_htp.v2_x.backendGetApiVersion = fake_get_api_version;
    fake_htp.v2_x.backendGetBuildId = fake_get_build_id;
    fake_htp.v2_x.deviceGetPlatformInfo = fake_get_platform;
    fake_htp.v2_x.deviceFreePlatformInfo = fake_free_platform;
    fake_htp.v2_x.backendCreate = fake_backend_create;
    fake_htp.v2_x.backendFree = fake_backend_free;
    fake_htp.v2_x.deviceCreate = fake_device_create;
    fake_htp.v2_x.deviceFree = fake_device_free;
    fake_htp.v2_x.contextCreate = fake_context_create;
    fake_htp.v2_x.contextFree = fake_context_free;
    fake_htp.v2_x.graphCreate = fake_graph_create;
    fake_htp.v2_x.tensorCreateGraphTensor = fake_tensor_create_graph_tensor;
    fake_htp.v2_x.graphAddNode = fake_graph_add_node;
    fake_htp.v2_x.graphFinalize = fake_graph_finalize;
    fake_htp.v2_x.graphExecute = fake_graph_execute;
    fake_htp.v2_x.errorGetMessage = fake_error_get_message;
    if (fake_mode("badslot")) {
        /* A function of libc, harmless if called: the plugin must not. */
        pid_t (*elsewhere)(void) = getpid;
        memcpy(&fake_htp.v2_x.backendGetBuildId, &elsewhere, sizeof elsewhere);
    }
    fake_htp.apiVersion.coreApiVersion.minor = fake_mode("old") ? 14 : 32;
    fake_list[0] = &fake_future;
    fake_list[1] = &fake_htp;
    *providerList = fake_list;
    *numProviders = fake_mode("nov2") ? 1 : 2;
    return 0;
}
#else
FAKE_API int fake_qnn_has_no_entry_point(void)
{
    return 1;
}
#endif
