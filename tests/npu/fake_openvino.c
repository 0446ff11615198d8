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
 * Built a second time with FAKE_OMIT_GET_PROPERTY: a runtime that lacks
 * ov_core_get_property. */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static char fake_err[128];

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
