/* qnn.c — the npu-qnn plugin: a Qualcomm Hexagon NPU detector
 * ("qualcomm-npu") and a backend ("qnn") on QNN's HTP backend library.
 *
 * The detector reads /dev and sysfs only (through the roots of
 * aria_detect_env): the fastrpc device nodes (fastrpc-cdsp is the compute
 * DSP, the Hexagon NPU; fastrpc-cdsp-secure its signed-PD twin; fastrpc-adsp
 * the audio DSP) and the SoC from /sys/devices/soc0. What the runtime said
 * comes from the plugin's context, which init filled by loading QNN
 * (qnn_runtime.c); detect itself never loads anything.
 *
 * The backend claims no model: building or loading a QNN graph is not
 * implemented, and its probe says so (or why the runtime is missing). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* dladdr, readlink, strnlen: also when built out of tree */
#endif
#include <aria/aria.h>

#include "qnn_runtime.h"
#include "sysfs.h"

#include <stdio.h>
#include <string.h>

#define QNP_NAME            "npu-qnn"
#define QNP_SECTION         "plugin." QNP_NAME
#define QNP_DEFAULT_RUNTIME "libQnnHtp.so"

typedef struct qnp_ctx {
    const aria_host *host;
    qnr_runtime rt;
} qnp_ctx;

/* The Hexagon (HTP) architecture of Snapdragon SoCs, by the name the socinfo
 * driver gives in /sys/devices/soc0/machine (a prefix: "SA8295P" is SA8295).
 * From the SoC table of ExecuTorch's Qualcomm backend, which mirrors QNN's. */
static const struct {
    const char *machine;
    unsigned arch;
} qnp_arch[] = {
    {"SM8350", 68},   {"SM8450", 69},   {"SM8475", 69},   {"SM8550", 73},   {"SM8635", 73},
    {"SM8650", 75},   {"SM8735", 79},   {"SM8750", 79},   {"SM8845", 81},   {"SM8850", 81},
    {"SA8295", 68},   {"SA8540", 68},   {"SA8255", 73},   {"SA8797", 81},   {"QCS9100", 73},
    {"QCM6490", 68},  {"QCS6490", 68},  {"SSG2115P", 73}, {"SSG2125P", 73}, {"SXR1230P", 73},
    {"SXR2230P", 69}, {"SXR2330P", 79}, {"SAR2230P", 81}, {"SW6100", 81},
};

static unsigned qnp_arch_of(const char *machine)
{
    for (size_t i = 0; i < sizeof qnp_arch / sizeof qnp_arch[0]; i++) {
        size_t l = strlen(qnp_arch[i].machine);
        if (strncmp(machine, qnp_arch[i].machine, l) == 0)
            return qnp_arch[i].arch;
    }
    return 0;
}

static void qnp_version(const qnr_version *v, char *buf, size_t cap)
{
    npu_fmt(buf, cap, "%u.%u.%u", v->major, v->minor, v->patch);
}

static aria_err qnp_detect(void *ctx, const aria_detect_env *env, aria_device *out, size_t cap,
                           size_t *n, aria_msg *why)
{
    const qnp_ctx *c = ctx;
    if (!n || (cap && !out))
        return aria_fail(why, ARIA_ERR_INVALID, "qualcomm-npu: nowhere to put the devices");
    *n = 0;
    if (!env || !env->sysfs_root || !env->dev_root)
        return aria_fail(why, ARIA_ERR_INVALID, "qualcomm-npu: no sysfs or /dev root to read");
    if (cap == 0)
        return ARIA_OK;
    char cdsp[256], cdsps[256], adsp[256];
    if (npu_path(cdsp, sizeof cdsp, env->dev_root, "/fastrpc-cdsp") != 0 ||
        npu_path(cdsps, sizeof cdsps, env->dev_root, "/fastrpc-cdsp-secure") != 0 ||
        npu_path(adsp, sizeof adsp, env->dev_root, "/fastrpc-adsp") != 0)
        return aria_fail(why, ARIA_ERR_INVALID, "qualcomm-npu: /dev root too long");
    int has_cdsp = npu_exists(cdsp), has_cdsps = npu_exists(cdsps), has_adsp = npu_exists(adsp);
    if (!has_cdsp && !has_cdsps && !has_adsp)
        return ARIA_OK; /* no fastrpc: not a Snapdragon, or no DSP driver */

    aria_device *d = &out[0];
    memset(d, 0, sizeof *d);
    d->hdr.struct_size = sizeof *d;
    d->hdr.version = ARIA_DETECTOR_VERSION;
    d->kind = ARIA_DEV_NPU;
    npu_copy(d->vendor, sizeof d->vendor, "Qualcomm");

    char p[512], machine[48] = "", family[48] = "", soc_id[16] = "";
    if (npu_path(p, sizeof p, env->sysfs_root, "/devices/soc0/machine") == 0)
        npu_read_line(p, machine, sizeof machine);
    if (npu_path(p, sizeof p, env->sysfs_root, "/devices/soc0/family") == 0)
        npu_read_line(p, family, sizeof family);
    if (npu_path(p, sizeof p, env->sysfs_root, "/devices/soc0/soc_id") == 0)
        npu_read_line(p, soc_id, sizeof soc_id);
    if (soc_id[0] && strspn(soc_id, "0123456789") != strlen(soc_id))
        soc_id[0] = '\0'; /* a number, or unknown */

    const qnr_info *rt = c ? &c->rt.info : NULL;
    int dev = rt && rt->loaded && rt->has_device;
    const char *soc = machine[0] ? machine : dev ? qnr_soc_name(rt->soc_model) : NULL;
    if (soc)
        npu_fmt(d->name, sizeof d->name, "Hexagon NPU (%s%s)",
                strcmp(family, "Snapdragon") == 0 ? "Snapdragon " : "", soc);
    else if (soc_id[0])
        npu_fmt(d->name, sizeof d->name, "Hexagon NPU (soc_id %s)", soc_id);
    else
        npu_copy(d->name, sizeof d->name, "Hexagon NPU");

    unsigned arch = dev && rt->arch ? rt->arch : machine[0] ? qnp_arch_of(machine) : 0;
    if (arch)
        npu_fmt(d->generation, sizeof d->generation, "Hexagon v%u", arch);
    if (dev)
        d->cores = rt->n_cores;

    char kver[32] = "", core[24] = "";
    if (npu_path(p, sizeof p, env->sysfs_root, "/module/fastrpc/version") == 0)
        npu_read_line(p, kver, sizeof kver);
    if (rt && rt->loaded)
        qnp_version(&rt->core_api, core, sizeof core);
    npu_fmt(d->driver, sizeof d->driver, "fastrpc%s%s%s%s", kver[0] ? " " : "", kver,
            core[0] ? ", QNN API " : "", core);

    const char *node = has_cdsp ? cdsp : has_cdsps ? cdsps : adsp;
    npu_copy(d->path, sizeof d->path, node);

    char err[96];
    if (!has_cdsp && !has_cdsps)
        npu_fmt(d->why, sizeof d->why, "only the audio DSP (%s); no compute DSP node fastrpc-cdsp",
                node);
    else if (npu_try_open_rw(node, err, sizeof err) != 0)
        npu_fmt(d->why, sizeof d->why, "cannot open %s: %s", node, err);
    else if (!rt)
        npu_copy(d->why, sizeof d->why, "plugin not initialized: no QNN runtime");
    else if (!rt->loaded)
        npu_fmt(d->why, sizeof d->why, "QNN runtime not loaded: %s", rt->why);
    else if (!rt->has_device)
        npu_fmt(d->why, sizeof d->why, "QNN %s loaded, but %s", core, rt->device_why);
    else
        d->available = 1;
    *n = 1;
    return ARIA_OK;
}

static const aria_detector_vt qnp_detector = {
    .hdr = {sizeof(aria_detector_vt), ARIA_DETECTOR_VERSION},
    .name = "qualcomm-npu",
    .detect = qnp_detect,
};

static aria_err qnp_unavailable(const qnp_ctx *c, aria_msg *why)
{
    if (!c)
        return aria_fail(why, ARIA_ERR_UNAVAILABLE, "plugin not initialized");
    const qnr_info *rt = &c->rt.info;
    if (!rt->loaded)
        return aria_fail(why, ARIA_ERR_UNAVAILABLE, "QNN runtime not loaded: %s", rt->why);
    char core[24];
    qnp_version(&rt->core_api, core, sizeof core);
    if (!rt->has_device)
        return aria_fail(why, ARIA_ERR_UNAVAILABLE, "QNN %s loaded, but %s", core, rt->device_why);
    return aria_fail(why, ARIA_ERR_UNSUPPORTED,
                     "QNN %s sees a Hexagon v%u HTP, but building QNN graphs for models is not "
                     "implemented yet",
                     core, rt->arch);
}

static aria_err qnp_probe(void *ctx, const char *path, aria_probe *out, aria_msg *why)
{
    (void)path;
    memset((char *)out + sizeof out->hdr, 0, sizeof *out - sizeof out->hdr);
    out->score = 0;
    return qnp_unavailable(ctx, why);
}

static aria_err qnp_load(void *ctx, const aria_load_params *p, aria_model **out, aria_msg *why)
{
    (void)p;
    *out = NULL;
    return qnp_unavailable(ctx, why);
}

/* No model is ever made, so no slot below is reached with a handle. */
static void qnp_unload(aria_model *m)
{
    (void)m;
}
static aria_err qnp_model_info(aria_model *m, aria_model_info *out)
{
    (void)m;
    (void)out;
    return ARIA_ERR_INVALID;
}
static aria_err qnp_session_new(aria_model *m, const aria_session_params *p, aria_session **out,
                                aria_msg *why)
{
    (void)m;
    (void)p;
    *out = NULL;
    return aria_fail(why, ARIA_ERR_INVALID, "no model");
}
static void qnp_session_free(aria_session *s)
{
    (void)s;
}
static uint32_t qnp_session_pos(aria_session *s)
{
    (void)s;
    return 0;
}
static aria_err qnp_session_truncate(aria_session *s, uint32_t n)
{
    (void)s;
    (void)n;
    return ARIA_ERR_INVALID;
}
static aria_err qnp_forward(aria_session *s, const aria_batch *in, aria_forward_out *out,
                            aria_msg *why)
{
    (void)s;
    (void)in;
    (void)out;
    return aria_fail(why, ARIA_ERR_INVALID, "no model");
}

static const aria_backend_vt qnp_backend = {
    .hdr = {sizeof(aria_backend_vt), ARIA_BACKEND_VERSION},
    .name = "qnn",
    .tiers = ARIA_TIER_NONE,
    .formats = "",
    .probe = qnp_probe,
    .load = qnp_load,
    .unload = qnp_unload,
    .model_info = qnp_model_info,
    .session_new = qnp_session_new,
    .session_free = qnp_session_free,
    .session_pos = qnp_session_pos,
    .session_truncate = qnp_session_truncate,
    .forward = qnp_forward,
};

static aria_err qnp_init(const aria_host *host, void **ctx, aria_msg *why)
{
    qnp_ctx *c = host->calloc(1, sizeof *c);
    if (!c)
        return aria_fail(why, ARIA_ERR_NOMEM, "out of memory");
    c->host = host;
    const char *lib = host->config_get ? host->config_get(QNP_SECTION, "runtime") : NULL;
    if (!lib || !lib[0])
        lib = QNP_DEFAULT_RUNTIME;
    /* A missing runtime is the usual case, not an error (see openvino.c). */
    aria_msg m = {{0}};
    if (qnr_open(&c->rt, lib, &m) == ARIA_OK) {
        const qnr_info *rt = &c->rt.info;
        char core[24], be[24];
        qnp_version(&rt->core_api, core, sizeof core);
        qnp_version(&rt->backend_api, be, sizeof be);
        host->log(ARIA_LOG_INFO, QNP_NAME,
                  "QNN %s (provider '%s', backend API %s, build %s) from %s; %s%s", core,
                  rt->provider, be, rt->build_id[0] ? rt->build_id : "?", lib,
                  rt->has_device ? "on-chip HTP found" : "no HTP: ",
                  rt->has_device ? "" : rt->device_why);
    } else {
        /* Absent is the usual case (debug); present but unusable, or
         * configured and absent, is news for the operator. */
        int news = c->rt.info.opened || strcmp(lib, QNP_DEFAULT_RUNTIME) != 0;
        host->log(news ? ARIA_LOG_WARN : ARIA_LOG_DEBUG, QNP_NAME, "no NPU runtime: %s", m.text);
    }
    *ctx = c;
    return ARIA_OK;
}

static void qnp_fini(void *ctx)
{
    qnp_ctx *c = ctx;
    if (!c)
        return;
    qnr_close(&c->rt);
    c->host->free(c);
}

static const aria_interface qnp_ifaces[] = {
    {.kind = ARIA_IFACE_DETECTOR, .vtable = &qnp_detector},
    {.kind = ARIA_IFACE_BACKEND, .vtable = &qnp_backend},
};

static const aria_cfg_key qnp_cfg[] = {
    {.key = "runtime",
     .type = ARIA_CFG_STRING,
     .def = QNP_DEFAULT_RUNTIME,
     .help = "QNN HTP backend library to load: a path, or a file name for the loader's search "
             "path"},
};

static const aria_plugin_desc qnp_desc = {
    .abi_major = ARIA_ABI_MAJOR,
    .abi_minor = ARIA_ABI_MINOR,
    .struct_size = sizeof(aria_plugin_desc),
    .name = QNP_NAME,
    .version = "0.1.0",
    .description =
        "Qualcomm Hexagon NPU: detector (fastrpc) and QNN HTP runtime, loaded at run time",
    .n_interfaces = sizeof qnp_ifaces / sizeof qnp_ifaces[0],
    .interfaces = qnp_ifaces,
    .init = qnp_init,
    .fini = qnp_fini,
    .n_cfg_keys = sizeof qnp_cfg / sizeof qnp_cfg[0],
    .cfg_keys = qnp_cfg,
};

ARIA_PLUGIN(qnp_desc)
