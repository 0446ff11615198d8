/* ov_runtime.h — the OpenVINO C runtime (libopenvino_c.so), loaded at run
 * time and called through libffi, so that the plugin builds without the
 * OpenVINO SDK.
 *
 * It loads the library, resolves the entry points it needs by name, reads
 * the runtime's version, lists the devices the runtime sees, reads the
 * NPU's full name, architecture and driver version; and it compiles models
 * from IR in memory and runs inference requests on them. */
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
    int can_compile;     /* every entry point of compiling and inference found */
    char compile_why[ARIA_MSG_MAX]; /* !can_compile (and loaded): the one missing */
} ovr_info;

typedef struct ovr_runtime {
    void *dl; /* the library, open while the plugin lives; NULL when !info.loaded */
    struct ovr_fns *fns; /* the bound entry points, while loaded */
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

/* A model compiled for a device. */
typedef struct ovr_compiled ovr_compiled;

/* Reads the IR (xml, and blob: the bytes every Const's offset counts in,
 * which must outlive the compiled model: OpenVINO shares it) and compiles
 * it for device ("NPU", "CPU", ...). precision (may be NULL) is passed as
 * INFERENCE_PRECISION_HINT ("f16", "f32"). Blocks, for minutes on a large
 * model. Thread-safe. */
aria_err ovr_compile(ovr_runtime *rt, const char *xml, size_t xml_len, void *blob,
                     size_t blob_len, const char *device, const char *precision,
                     ovr_compiled **out, aria_msg *why);
void ovr_compiled_free(ovr_compiled *c);

/* An inference request: one per session, used by one thread at a time. */
typedef struct ovr_request ovr_request;

aria_err ovr_request_new(ovr_compiled *c, ovr_request **out, aria_msg *why);
void ovr_request_free(ovr_request *r);

enum { OVR_F32 = 0, OVR_I64 = 1 };

/* Binds the caller's memory (which must outlive the request) as the input
 * tensor called name, of type OVR_F32 or OVR_I64 and the given shape; the
 * runtime reads it at every infer. */
aria_err ovr_request_bind(ovr_request *r, const char *name, int type, int rank,
                          const int64_t *dims, void *data, aria_msg *why);

/* Where the output tensor called name lands (the request's memory, stable
 * while it lives); fails unless it holds exactly bytes bytes. */
aria_err ovr_request_output(ovr_request *r, const char *name, size_t bytes, void **data,
                            aria_msg *why);

/* Runs the request. Blocks. */
aria_err ovr_request_infer(ovr_request *r, aria_msg *why);

/* The version without its build suffix ("2024.4.0" of
 * "2024.4.0-16579-c3152d32c9c-releases/2024/4"), into buf. */
void ovr_short_version(const ovr_info *info, char *buf, size_t cap);

#endif
