/* qnn_runtime.h — Qualcomm's QNN HTP backend (libQnnHtp.so), loaded at run
 * time and called through libffi, so that the plugin builds without the
 * QNN SDK (Qualcomm AI Engine Direct).
 *
 * QNN exports one C function, QnnInterface_getProviders; everything else is
 * reached through the function table of the QnnInterface_t it returns. What
 * this does today: picks the provider of core API 2.x, reads its name and
 * versions, checks that the table is laid out as the public headers say
 * (each slot it calls must point into the library, and backendGetApiVersion
 * must agree with the provider's version fields), reads the build id, and
 * asks deviceGetPlatformInfo for the on-chip HTP (SoC model, Hexagon
 * architecture, cores, VTCM). qnn_graph.c builds and runs graphs on it. */
#ifndef QNR_RUNTIME_H
#define QNR_RUNTIME_H

#include <aria/common.h>

#include <stddef.h>
#include <stdint.h>

typedef struct qnr_version {
    uint32_t major, minor, patch;
} qnr_version;

typedef struct qnr_info {
    int loaded;             /* library opened, a 2.x provider found and checked */
    int opened;             /* the library itself was found and opened */
    char lib[256];          /* the runtime as configured */
    char why[ARIA_MSG_MAX]; /* !loaded: why not */
    char provider[64];      /* providerName, "" when the provider gives none */
    uint32_t backend_id;
    qnr_version core_api, backend_api;
    char build_id[96]; /* backendGetBuildId; "" when the slot is empty */

    int has_device;                /* deviceGetPlatformInfo listed an on-chip HTP */
    char device_why[ARIA_MSG_MAX]; /* loaded && !has_device: why not */
    uint32_t n_hw_devices;         /* devices in the platform info */
    uint32_t n_cores;              /* of the on-chip HTP */
    uint32_t soc_model;            /* QNN_SOC_MODEL_* value */
    uint32_t arch;                 /* 68, 69, 73, 75, 79, 81 ... (QnnHtpDevice_Arch_t) */
    uint64_t vtcm_mb;              /* VTCM, MiB */
} qnr_info;

typedef struct qnr_runtime {
    void *dl; /* open while the plugin lives; NULL when !info.loaded */
    const void *provider; /* the QnnInterface_t chosen, while loaded */
    const void *base;     /* where the library is mapped (dladdr) */
    qnr_info info;
} qnr_runtime;

#include "ffi_call.h"

/* Prepares slot k of the chosen provider's table (see qnn_runtime.c for
 * the checks) to be called with signature sig; name is for messages. */
aria_err qnr_bind(const qnr_runtime *rt, int k, const char *name, const char *sig, npu_ffi_fn *f,
                  aria_msg *why);

/* The same check, for a slot the caller prepares itself (npu_ffi_prep_types). */
aria_err qnr_slot_addr(const qnr_runtime *rt, int k, const char *name, void **addr,
                       aria_msg *why);

/* Error handles: the code is the low 16 bits. */
#define QNR_CODE(e) ((unsigned)((e)&0xffff))

/* Loads lib (a path or a soname) and queries it. Always fills rt->info;
 * returns ARIA_OK when loaded, else the error with the reason (naming the
 * library, a missing entry point, or the check or call that failed) in *why
 * and rt->info.why. Blocks (the HTP backend talks to the DSP). */
aria_err qnr_open(qnr_runtime *rt, const char *lib, aria_msg *why);

void qnr_close(qnr_runtime *rt);

/* The SoC a QNN_SOC_MODEL_* value names ("SM8650"), or NULL. */
const char *qnr_soc_name(uint32_t soc_model);

#endif
