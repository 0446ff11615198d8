/* ov_runtime.h — the OpenVINO C runtime (libopenvino_c.so), loaded at run
 * time and called through libffi, so that the plugin builds without the
 * OpenVINO SDK.
 *
 * What it does today: loads the library, resolves the entry points it needs
 * by name, reads the runtime's version, lists the devices the runtime sees,
 * and reads the NPU's full name, architecture and driver version. It does
 * not read or compile models (see docs/npu.md). */
#ifndef OVR_RUNTIME_H
#define OVR_RUNTIME_H

#include <aria/common.h>

#include <stddef.h>

#define OVR_MAX_DEVICES 16

/* What the runtime told us, copied out (bounded and cleaned) so that
 * nothing here points into the runtime's memory. */
typedef struct ovr_info {
    int loaded;             /* library opened, every entry point found, queries done */
    int opened;             /* the library itself was found and opened */
    char lib[256];          /* the runtime as configured */
    char why[ARIA_MSG_MAX]; /* !loaded: why not */
    char version[96];       /* ov_get_openvino_version: buildNumber */
    size_t n_devices;       /* ov_core_get_available_devices, at most OVR_MAX_DEVICES */
    char devices[OVR_MAX_DEVICES][32];
    int has_npu;         /* one of devices is "NPU" or "NPU.<n>" */
    char npu_device[32]; /* its name as the runtime lists it */
    char npu_name[96];   /* its FULL_DEVICE_NAME */
    char npu_arch[32];   /* DEVICE_ARCHITECTURE; "" when not given */
    char npu_driver[32]; /* NPU_DRIVER_VERSION; "" when not given */
} ovr_info;

typedef struct ovr_runtime {
    void *dl; /* the library, open while the plugin lives; NULL when !info.loaded */
    ovr_info info;
} ovr_runtime;

/* Loads lib (a path or a soname for the dynamic loader's search) and
 * queries it. Always fills rt->info; returns ARIA_OK when loaded, else the
 * error with the same reason as rt->info.why (naming the library, or the
 * missing entry point, or the call that failed). Blocks (the runtime reads
 * its plugins and probes devices). Never fatal: the caller goes on without
 * the runtime. */
aria_err ovr_open(ovr_runtime *rt, const char *lib, aria_msg *why);

/* Closes what ovr_open opened. */
void ovr_close(ovr_runtime *rt);

/* The version without its build suffix ("2024.4.0" of
 * "2024.4.0-16579-c3152d32c9c-releases/2024/4"), into buf. */
void ovr_short_version(const ovr_info *info, char *buf, size_t cap);

#endif
