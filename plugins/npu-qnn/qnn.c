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
 * The backend is the shared runtime (aria/rt.h) with the forward pass on
 * the HTP: at load the model becomes a QNN graph (qnn_graph.c), finalized
 * for the HTP; each session feeds it its own KV cache. Without the runtime
 * or an on-chip HTP, probe says which is missing. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* dladdr, readlink, strnlen: also when built out of tree */
#endif
#include <aria/aria.h>

#include "npu_graph.h"
#include "qnn_graph.h"
#include "qnn_runtime.h"
#include "npu_backend.h"
#include "sysfs.h"

#include <aria/llm.h>
#include <aria/rt.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define QNP_NAME            "npu-qnn"
#define QNP_SECTION         "plugin." QNP_NAME
#define QNP_DEFAULT_RUNTIME "libQnnHtp.so"
#define QNP_GRAPH_API_MINOR 32 /* core API 2.32: the headers qnn_graph.c's structs were checked against */

typedef struct qnp_ctx {
    aria_rt art; /* first: the backend's slots take the context as an aria_rt */
    aria_rt_accel accel;
    const aria_host *host;
    qnr_runtime rt;
    int enabled;      /* [plugin.npu-qnn] models = on */
    int fp16;         /* precision = fp16 */
    uint32_t max_ctx; /* context */
} qnp_ctx;

/* A model finalized on the HTP. */
typedef struct qnp_model {
    qng_model *g;
    uint32_t L, Hkv, hd;
} qnp_model;

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

/* ---- the backend ------------------------------------------------------------ */

/* Why models cannot go to the HTP, or ARIA_OK when they can. */
static aria_err qnp_usable(const qnp_ctx *c, aria_msg *why)
{
    if (!c)
        return aria_fail(why, ARIA_ERR_UNAVAILABLE, "plugin not initialized");
    if (!c->enabled)
        return aria_fail(why, ARIA_ERR_UNAVAILABLE, "[%s] models = off", QNP_SECTION);
    const qnr_info *rt = &c->rt.info;
    if (!rt->loaded)
        return aria_fail(why, ARIA_ERR_UNAVAILABLE, "QNN runtime not loaded: %s", rt->why);
    char core[24];
    qnp_version(&rt->core_api, core, sizeof core);
    if (!rt->has_device)
        return aria_fail(why, ARIA_ERR_UNAVAILABLE, "QNN %s loaded, but %s", core, rt->device_why);
    /* The graph's structs (qnn_graph.c) are those of core API 2.32 and
     * later, which newer releases keep ABI-compatible; older SDKs laid out
     * Qnn_Tensor_t and Qnn_Scalar_t smaller, and handing them these arrays
     * would be misread. */
    if (rt->core_api.minor < QNP_GRAPH_API_MINOR)
        return aria_fail(why, ARIA_ERR_UNAVAILABLE,
                         "QNN core API %s is older than 2.%d, whose graph structs this plugin "
                         "lays out: no model is built for it (a newer QAIRT SDK has them)",
                         core, QNP_GRAPH_API_MINOR);
    return ARIA_OK;
}

static aria_err qnp_probe(void *ctx, const char *path, aria_probe *out, aria_msg *why)
{
    memset((char *)out + sizeof out->hdr, 0, sizeof *out - sizeof out->hdr);
    aria_err e = qnp_usable(ctx, why);
    if (e != ARIA_OK)
        return e;
    return npu_probe_file(path, out, why);
}

/* A session: the KV cache it feeds the graph, and the layers' outputs. */
typedef struct qnp_sess {
    qng_model *g;
    npu_kv kv;
    float *present; /* [L][2][Hkv][hd] */
    float **present_at;
} qnp_sess;

static void qnp_sess_free(void *user)
{
    qnp_sess *s = user;
    if (!s)
        return;
    npu_kv_free(&s->kv);
    free(s->present);
    free(s->present_at);
    free(s);
}

static aria_err qnp_step(void *user, int32_t token, uint32_t pos, float *logits, aria_msg *why)
{
    qnp_sess *s = user;
    if (pos >= s->kv.C)
        return aria_fail(why, ARIA_ERR_CONTEXT, "position %u: the HTP graph holds %u", pos,
                         s->kv.C);
    npu_kv_begin(&s->kv, token, pos);
    aria_err e = qng_execute(s->g, &s->kv, logits, s->present_at, why);
    if (e != ARIA_OK)
        return e;
    npu_kv_store(&s->kv, pos, (const float *const *)s->present_at);
    return ARIA_OK;
}

static aria_err qnp_session(void *state, uint32_t n_ctx, aria_llm_exec *out, aria_msg *why)
{
    qnp_model *pm = state;
    (void)n_ctx; /* the context refuses positions past it; the graph holds pm's */
    qnp_sess *s = calloc(1, sizeof *s);
    if (!s)
        return aria_fail(why, ARIA_ERR_NOMEM, "out of memory");
    s->g = pm->g;
    aria_err e = npu_kv_init(&s->kv, qng_n_ctx(pm->g), pm->L, pm->Hkv, pm->hd, why);
    if (e != ARIA_OK) {
        free(s);
        return e;
    }
    const size_t per = (size_t)pm->Hkv * pm->hd;
    s->present = malloc((size_t)pm->L * 2 * per * sizeof *s->present);
    s->present_at = malloc((size_t)pm->L * 2 * sizeof *s->present_at);
    if (!s->present || !s->present_at) {
        qnp_sess_free(s);
        return aria_fail(why, ARIA_ERR_NOMEM, "out of memory");
    }
    for (size_t j = 0; j < (size_t)pm->L * 2; j++)
        s->present_at[j] = s->present + j * per;
    *out = (aria_llm_exec){.step = qnp_step, .free = qnp_sess_free, .user = s};
    return ARIA_OK;
}

static void qnp_model_close(void *state)
{
    qnp_model *pm = state;
    if (!pm)
        return;
    qng_free(pm->g);
    free(pm);
}

static aria_err qnp_open(void *user, const aria_llm *m, uint32_t *n_ctx, void **state,
                         aria_msg *why)
{
    qnp_ctx *c = user;
    *state = NULL;
    aria_err e = qnp_usable(c, why);
    if (e != ARIA_OK)
        return e;
    if (*n_ctx > c->max_ctx)
        *n_ctx = c->max_ctx;
    qnp_model *pm = calloc(1, sizeof *pm);
    if (!pm)
        return aria_fail(why, ARIA_ERR_NOMEM, "out of memory");
    pm->L = m->hp.n_layer;
    pm->Hkv = m->hp.n_head_kv;
    pm->hd = m->hp.head_dim;
    double t0 = npu_now();
    qng_stats st = {0};
    if ((e = qng_build(&c->rt, m, *n_ctx, c->fp16, &pm->g, &st, why)) != ARIA_OK) {
        free(pm);
        return e;
    }
    c->host->log(ARIA_LOG_INFO, QNP_NAME,
                 "graph of %zu nodes and %zu tensors for %u positions, %.1f MB of constants, "
                 "finalized for the HTP in %.2f s",
                 st.n_nodes, st.n_tensors, *n_ctx, (double)st.static_bytes / 1e6,
                 npu_now() - t0);
    *state = pm;
    return ARIA_OK;
}

/* The HTP first: without it, load refuses with probe's reason before
 * reading the file. */
static aria_err qnp_load(void *ctx, const aria_load_params *p, aria_model **out, aria_msg *why)
{
    *out = NULL;
    aria_err e = qnp_usable(ctx, why);
    return e != ARIA_OK ? e : aria_rt_load(ctx, p, out, why);
}

static const aria_backend_vt qnp_backend = {
    .hdr = {sizeof(aria_backend_vt), ARIA_BACKEND_VERSION},
    .name = "qnn",
    .tiers = ARIA_TIER_QUALITY | ARIA_TIER_SPECIALIST,
    .formats = "F32,F16,BF16,Q8_0,Q4_0,Q4_K,Q5_K,Q6_K",
    .probe = qnp_probe,
    .load = qnp_load,
    ARIA_RT_SLOTS_BUT_LOAD,
};

static aria_err qnp_init(const aria_host *host, void **ctx, aria_msg *why)
{
    qnp_ctx *c = host->calloc(1, sizeof *c);
    if (!c)
        return aria_fail(why, ARIA_ERR_NOMEM, "out of memory");
    c->host = host;
    c->art = (aria_rt){.host = host, .name = "qnn", .tiers = qnp_backend.tiers,
                       .accel = &c->accel};
    c->accel = (aria_rt_accel){.user = c, .open = qnp_open, .close = qnp_model_close,
                               .session = qnp_session};
    const char *lib = npu_cfg(host, QNP_SECTION, "runtime", QNP_DEFAULT_RUNTIME);
    c->enabled = strcmp(npu_cfg(host, QNP_SECTION, "models", "on"), "off") != 0;
    c->fp16 = strcmp(npu_cfg(host, QNP_SECTION, "precision", "fp16"), "fp32") != 0;
    c->max_ctx = (uint32_t)strtoul(npu_cfg(host, QNP_SECTION, "context", "2048"), NULL, 10);
    if (c->max_ctx < 16)
        c->max_ctx = 2048;
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
    {.key = "models",
     .type = ARIA_CFG_ENUM,
     .def = "on",
     .choices = "on|off",
     .help = "on: models run on the HTP when it is there; off: every model stays on the CPU"},
    {.key = "context",
     .type = ARIA_CFG_INT,
     .def = "2048",
     .min = 16,
     .max = 65536,
     .help = "positions a model's graph holds at most (static shapes: every token attends over "
             "all of them, masked)"},
    {.key = "precision",
     .type = ARIA_CFG_ENUM,
     .def = "fp16",
     .choices = "fp16|fp32",
     .help = "the HTP's arithmetic for the graph's FLOAT_32 tensors: fp16 (QNN's float "
             "models) or fp32 (the backend's default)"},
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
