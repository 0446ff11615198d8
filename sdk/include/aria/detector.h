/* aria/detector.h — hardware detectors (ARIA_IFACE_DETECTOR).
 *
 * A detector looks at the machine and reports devices: CPUs (the detector
 * built into aria-core), NPUs (the vendor plugins), GPUs. What they report is
 * shown by `aria-core hardware` and carried in the node's HELLO.
 *
 * Detectors read the system through the roots in aria_detect_env, so tests
 * can point them at a fake sysfs and /dev tree. */
#ifndef ARIA_DETECTOR_H
#define ARIA_DETECTOR_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ARIA_DETECTOR_VERSION 1

typedef enum aria_device_kind {
    ARIA_DEV_CPU = 1,
    ARIA_DEV_NPU = 2,
    ARIA_DEV_GPU = 3
} aria_device_kind;

typedef struct aria_detect_env {
    aria_vt_hdr hdr;
    const char *sysfs_root; /* "/sys" normally */
    const char *dev_root;   /* "/dev" normally */
    const char *proc_root;  /* "/proc" normally */
} aria_detect_env;

/* One device. Text fields are "" when unknown. */
typedef struct aria_device {
    aria_vt_hdr hdr;
    uint32_t kind;      /* aria_device_kind */
    uint32_t available; /* 1: usable by this node now */
    char vendor[48];    /* "Intel", "AMD", "Qualcomm", "Apple", ... */
    char name[96];      /* model or product name */
    char generation[48];/* "Meteor Lake NPU 3720", "XDNA2", "Hexagon v75" */
    char driver[64];    /* driver name and version, e.g. "intel_vpu 1.0" */
    char path[128];     /* device node or sysfs path that proved it */
    char why[128];      /* when not available: why (no runtime, no access) */
    uint64_t features;  /* ARIA_CPU_* for CPUs; 0 otherwise */
    uint64_t mem_bytes; /* device memory, or 0 if shared/unknown */
    uint32_t cores;     /* compute units as the vendor counts them; 0 unknown */
    uint32_t tops;      /* peak INT8 TOPS when known, else 0 */
} aria_device;

ARIA_PIN(aria_device, kind, 8);
ARIA_PIN(aria_device, vendor, 16);
ARIA_PIN(aria_device, name, 64);
ARIA_PIN(aria_device, features, 528);

typedef struct aria_detector_vt {
    aria_vt_hdr hdr; /* sizeof(aria_detector_vt), ARIA_DETECTOR_VERSION */
    const char *name; /* "cpu", "intel-npu", "qnn", ... */

    /* Required. Writes up to cap devices to out and their count to *n (a
     * detector that finds nothing returns ARIA_OK with *n = 0). Blocks on
     * filesystem reads only; never loads vendor runtimes. */
    aria_err (*detect)(void *ctx, const aria_detect_env *env, aria_device *out,
                       size_t cap, size_t *n, aria_msg *why);
} aria_detector_vt;

ARIA_PIN(aria_detector_vt, name, 8);
ARIA_PIN(aria_detector_vt, detect, 16);

#ifdef __cplusplus
}
#endif
#endif /* ARIA_DETECTOR_H */
