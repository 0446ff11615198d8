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
 * it), then "FakeHtp" with core API 2.14.0 and backend API 5.14.0.
 * ARIA_FAKE_QNN_MODE changes one thing:
 *   mismatch    backendGetApiVersion reports 2.99.0 (a layout the plugin
 *               misread would look like this)
 *   badslot     backendGetBuildId points outside this library
 *   nov2        only the 3.0.0 provider
 *   noplatform  deviceGetPlatformInfo fails (an offline-preparation build)
 * Built a second time with FAKE_OMIT_GET_PROVIDERS: no entry point at all. */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FAKE_API __attribute__((visibility("default")))

typedef uint64_t Qnn_ErrorHandle_t;
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

/* QnnInterface_ImplementationV2_x_t: 51 function pointers as of QNN 2.2x;
 * by name only the ones the plugin calls. */
typedef struct {
    void *propertyHasCapability;
    void *backendCreate;
    void *backendSetConfig;
    Qnn_ErrorHandle_t (*backendGetApiVersion)(Qnn_ApiVersion_t *);
    Qnn_ErrorHandle_t (*backendGetBuildId)(const char **);
    void *backend_rest[4]; /* registerOpPackage .. backendFree */
    void *context[6];      /* contextCreate .. contextFree */
    void *graph[8];        /* graphCreate .. graphExecuteAsync */
    void *tensor[2];
    void *log[3];
    void *profile[7];
    void *mem[2];
    Qnn_ErrorHandle_t (*deviceGetPlatformInfo)(void *, const QnnDevice_PlatformInfo_t **);
    Qnn_ErrorHandle_t (*deviceFreePlatformInfo)(void *, const QnnDevice_PlatformInfo_t *);
    void *device_rest[5]; /* getInfrastructure, create, setConfig, getInfo, free */
    void *signal[4];
    void *error[3];
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
_Static_assert(offsetof(Fake_Impl_t, deviceGetPlatformInfo) == 37 * sizeof(void *),
               "deviceGetPlatformInfo is slot 37");

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
    *v = (Qnn_ApiVersion_t){{2, fake_mode("mismatch") ? 99 : 14, 0}, {5, 14, 0}};
    return 0;
}

static Qnn_ErrorHandle_t fake_get_build_id(const char **id)
{
    fake_log("backendGetBuildId(%s)", fake_out(id));
    if (!id)
        return 1002;
    *id = "v2.14.0.230828_fake";
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

static QnnInterface_t fake_future = {
    .backendId = 6,
    .providerName = "FakeFuture",
    .apiVersion = {{3, 0, 0}, {1, 0, 0}},
};
static QnnInterface_t fake_htp = {
    .backendId = 6, /* QNN_BACKEND_ID_HTP */
    .providerName = "FakeHtp",
    .apiVersion = {{2, 14, 0}, {5, 14, 0}},
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
    if (fake_mode("badslot")) {
        /* A function of libc, harmless if called: the plugin must not. */
        pid_t (*elsewhere)(void) = getpid;
        memcpy(&fake_htp.v2_x.backendGetBuildId, &elsewhere, sizeof elsewhere);
    }
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
