/* openvino.c — the npu-openvino plugin: an Intel NPU detector ("intel-npu")
 * and a backend ("openvino") on the OpenVINO C runtime.
 *
 * The detector reads sysfs and /dev only (through the roots of
 * aria_detect_env): accel devices bound to the intel_vpu driver, their PCI
 * ids, the driver's version, the device node. What the runtime said is
 * added from the plugin's context, which init filled by loading the runtime
 * (ov_runtime.c); detect itself never loads anything.
 *
 * The backend is the shared runtime (aria/rt.h) with the forward pass on
 * OpenVINO: at load the model becomes an IR graph (ov_ir.c) compiled for
 * the NPU (or the configured device); each session is an inference request
 * with its KV cache bound as input tensors. Without the runtime, its
 * compile entry points or the device, probe says which is missing. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* dladdr, readlink, strnlen: also when built out of tree */
#endif
#include <aria/aria.h>

#include "npu_graph.h"
#include "ov_ir.h"
#include "ov_runtime.h"
#include "npu_backend.h"
#include "sysfs.h"

#include <aria/llm.h>
#include <aria/rt.h>

#include <math.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define OVP_NAME            "npu-openvino"
#define OVP_SECTION         "plugin." OVP_NAME
#define OVP_DEFAULT_RUNTIME "libopenvino_c.so"
#define OVP_INTEL_VENDOR    0x8086
#define OVP_DRIVER          "intel_vpu"
#define OVP_MAX_ACCEL       32
#define OVP_DEFAULT_CTX     2048


typedef struct ovp_ctx {
    aria_rt art; /* first: the backend's slots take the context as an aria_rt */
    aria_rt_accel accel;
    const aria_host *host;
    ovr_runtime rt;
    char device[32];     /* [plugin.npu-openvino] device */
    char precision[16];  /* precision: INFERENCE_PRECISION_HINT, "" none */
    char dump_ir[512];   /* dump_ir: where to write the graph, "" nowhere */
    uint32_t max_ctx;    /* context: positions the graph holds at most */
} ovp_ctx;

/* PCI device ids of the Linux intel_vpu driver (drivers/accel/ivpu/ivpu_drv.h)
 * and the NPU IP generation it gives each (ivpu_hw_ip_gen). */
static const struct {
    unsigned id;
    const char *platform;
    const char *ip; /* the NPU IP generation, "37xx" */
} ovp_ids[] = {
    {0x7d1d, "Meteor Lake", "37xx"},  {0xad1d, "Arrow Lake", "37xx"},
    {0x643e, "Lunar Lake", "40xx"},   {0xb03e, "Panther Lake", "50xx"},
    {0xfd3e, "Wildcat Lake", "50xx"}, {0xd71d, "Nova Lake", "60xx"},
};

static int ovp_known(unsigned long vendor, unsigned long id)
{
    if (vendor != OVP_INTEL_VENDOR)
        return -1;
    for (size_t i = 0; i < sizeof ovp_ids / sizeof ovp_ids[0]; i++)
        if (ovp_ids[i].id == id)
            return (int)i;
    return -1;
}

/* One candidate NPU: an accel device, or a PCI function with a known id. */
typedef struct ovp_found {
    char pci[64];    /* PCI address (basename of the device link), "" unknown */
    char driver[64]; /* bound driver, "" none */
    char node[256];  /* device node to open; "" for a PCI function without one */
    char sysfs[256]; /* where it was seen */
    unsigned long vendor, id;
    int ids_ok; /* vendor and id parsed */
} ovp_found;

static void ovp_fill(const ovp_ctx *c, const aria_detect_env *env, const ovp_found *f,
                     aria_device *d)
{
    memset(d, 0, sizeof *d);
    d->hdr.struct_size = sizeof *d;
    d->hdr.version = ARIA_DETECTOR_VERSION;
    d->kind = ARIA_DEV_NPU;
    npu_copy(d->vendor, sizeof d->vendor, "Intel");
    const ovr_info *rt = c ? &c->rt.info : NULL;
    int k = f->ids_ok ? ovp_known(f->vendor, f->id) : -1;

    if (rt && rt->loaded && rt->has_npu && rt->npu_name[0])
        npu_copy(d->name, sizeof d->name, rt->npu_name);
    else if (k >= 0)
        npu_fmt(d->name, sizeof d->name, "Intel NPU (%s)", ovp_ids[k].platform);
    else
        npu_copy(d->name, sizeof d->name, "Intel NPU");

    const char *arch = rt && rt->loaded && rt->has_npu && rt->npu_arch[0] ? rt->npu_arch : NULL;
    if (k >= 0)
        npu_fmt(d->generation, sizeof d->generation, "%s NPU %s", ovp_ids[k].platform,
                arch ? arch : ovp_ids[k].ip);
    else if (arch)
        npu_fmt(d->generation, sizeof d->generation, "NPU %s", arch);

    /* driver: the kernel driver with its version if the module says, and
     * the runtime's version when it is loaded. */
    char kver[32] = "", path[512];
    if (f->driver[0] &&
        npu_path(path, sizeof path, env->sysfs_root, "/module/%s/version", f->driver) == 0)
        npu_read_line(path, kver, sizeof kver);
    char ovver[48] = "";
    if (rt && rt->loaded)
        ovr_short_version(rt, ovver, sizeof ovver);
    npu_fmt(d->driver, sizeof d->driver, "%s%s%s%s%s", f->driver, kver[0] ? " " : "", kver,
            ovver[0] ? (f->driver[0] ? ", OpenVINO " : "OpenVINO ") : "", ovver);

    npu_copy(d->path, sizeof d->path, f->node[0] ? f->node : f->sysfs);

    /* available only when every piece is there; why names the first missing */
    char err[96];
    if (!f->driver[0])
        npu_copy(d->why, sizeof d->why, "no driver bound: load intel_vpu (Linux 6.3 or newer)");
    else if (strcmp(f->driver, OVP_DRIVER) != 0)
        npu_fmt(d->why, sizeof d->why, "bound to driver '%s', not %s", f->driver, OVP_DRIVER);
    else if (!f->node[0] || !npu_exists(f->node))
        npu_fmt(d->why, sizeof d->why, "no device node %s", f->node[0] ? f->node : "in /dev/accel");
    else if (npu_try_open_rw(f->node, err, sizeof err) != 0)
        npu_fmt(d->why, sizeof d->why, "cannot open %s: %s", f->node, err);
    else if (!rt)
        npu_copy(d->why, sizeof d->why, "plugin not initialized: no OpenVINO runtime");
    else if (!rt->loaded)
        npu_fmt(d->why, sizeof d->why, "OpenVINO runtime not loaded: %s", rt->why);
    else if (!rt->has_npu)
        npu_fmt(d->why, sizeof d->why,
                "OpenVINO %s lists no NPU device (is Intel's NPU user-mode driver installed?)",
                ovver);
    else
        d->available = 1;
}

/* accel2 before accel10 */
static int ovp_cmp(const void *a, const void *b)
{
    const char *x = a, *y = b;
    size_t lx = strlen(x), ly = strlen(y);
    return lx != ly ? (lx < ly ? -1 : 1) : strcmp(x, y);
}

/* The accel<N> entries of dir, sorted by N; at most cap. */
static size_t ovp_list_accel(const char *dir, char names[][32], size_t cap)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    size_t n = 0;
    struct dirent *e;
    while (n < cap && (e = readdir(d)) != NULL) {
        const char *num = e->d_name + 5;
        if (strncmp(e->d_name, "accel", 5) != 0 || !*num || strlen(num) > 6 ||
            strspn(num, "0123456789") != strlen(num))
            continue;
        npu_copy(names[n++], 32, e->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof names[0], ovp_cmp);
    return n;
}

static void ovp_read_ids(const char *devdir, ovp_found *f)
{
    char p[512];
    unsigned long v = 0, id = 0;
    f->ids_ok = npu_path(p, sizeof p, devdir, "/vendor") == 0 && npu_read_hex(p, 0xffff, &v) == 0 &&
                npu_path(p, sizeof p, devdir, "/device") == 0 && npu_read_hex(p, 0xffff, &id) == 0;
    f->vendor = f->ids_ok ? v : 0;
    f->id = f->ids_ok ? id : 0;
    if (npu_path(p, sizeof p, devdir, "/driver") == 0)
        npu_link_name(p, f->driver, sizeof f->driver);
}

static aria_err ovp_detect(void *ctx, const aria_detect_env *env, aria_device *out, size_t cap,
                           size_t *n, aria_msg *why)
{
    const ovp_ctx *c = ctx;
    if (!n || (cap && !out))
        return aria_fail(why, ARIA_ERR_INVALID, "intel-npu: nowhere to put the devices");
    *n = 0;
    if (!env || !env->sysfs_root || !env->dev_root)
        return aria_fail(why, ARIA_ERR_INVALID, "intel-npu: no sysfs or /dev root to read");
    char names[OVP_MAX_ACCEL][32], seen_pci[OVP_MAX_ACCEL][64], dir[512], devdir[512];
    size_t n_seen = 0;

    /* 1. accel devices: the NPUs this kernel drives (intel_vpu), or another
     *    vendor's accelerators (skipped: their detectors report them). */
    size_t na = 0;
    if (npu_path(dir, sizeof dir, env->sysfs_root, "/class/accel") == 0)
        na = ovp_list_accel(dir, names, OVP_MAX_ACCEL);
    for (size_t i = 0; i < na && *n < cap; i++) {
        ovp_found f = {0};
        if (npu_path(devdir, sizeof devdir, env->sysfs_root, "/class/accel/%s/device", names[i]) !=
            0)
            continue;
        ovp_read_ids(devdir, &f);
        if (strcmp(f.driver, OVP_DRIVER) != 0 && (!f.ids_ok || ovp_known(f.vendor, f.id) < 0))
            continue;
        npu_link_name(devdir, f.pci, sizeof f.pci);
        npu_copy(f.sysfs, sizeof f.sysfs, devdir);
        if (npu_path(f.node, sizeof f.node, env->dev_root, "/accel/%s", names[i]) != 0)
            f.node[0] = '\0';
        if (f.pci[0] && n_seen < OVP_MAX_ACCEL)
            npu_copy(seen_pci[n_seen++], 64, f.pci);
        ovp_fill(c, env, &f, &out[(*n)++]);
    }

    /* 2. PCI functions with a known NPU id that no accel device stands for:
     *    the NPU is there, but this kernel does not drive it. Streamed, as a
     *    server may have hundreds of PCI functions. */
    DIR *d = NULL;
    if (npu_path(dir, sizeof dir, env->sysfs_root, "/bus/pci/devices") == 0)
        d = opendir(dir);
    struct dirent *e;
    while (d && *n < cap && (e = readdir(d)) != NULL) {
        ovp_found f = {0};
        if (e->d_name[0] == '.' || strlen(e->d_name) >= sizeof f.pci ||
            npu_path(devdir, sizeof devdir, "", "%s/%s", dir, e->d_name) != 0)
            continue;
        ovp_read_ids(devdir, &f);
        if (!f.ids_ok || ovp_known(f.vendor, f.id) < 0)
            continue;
        int dup = 0;
        for (size_t k = 0; k < n_seen && !dup; k++)
            dup = strcmp(seen_pci[k], e->d_name) == 0;
        if (dup)
            continue;
        npu_copy(f.pci, sizeof f.pci, e->d_name);
        npu_copy(f.sysfs, sizeof f.sysfs, devdir);
        ovp_fill(c, env, &f, &out[(*n)++]); /* no node: the driver made none */
    }
    if (d)
        closedir(d);
    return ARIA_OK;
}

static const aria_detector_vt ovp_detector = {
    .hdr = {sizeof(aria_detector_vt), ARIA_DETECTOR_VERSION},
    .name = "intel-npu",
    .detect = ovp_detect,
};

/* ---- the backend ------------------------------------------------------------ */

/* The device models compile for: the configured one, or the NPU the
 * runtime lists. Fails with why it cannot compile at all. */
static aria_err ovp_device(const ovp_ctx *c, const char **dev, aria_msg *why)
{
    if (!c)
        return aria_fail(why, ARIA_ERR_UNAVAILABLE, "plugin not initialized");
    const ovr_info *rt = &c->rt.info;
    if (strcmp(c->device, "none") == 0)
        return aria_fail(why, ARIA_ERR_UNAVAILABLE, "[%s] device = none", OVP_SECTION);
    if (!rt->loaded)
        return aria_fail(why, ARIA_ERR_UNAVAILABLE, "OpenVINO runtime not loaded: %s", rt->why);
    char ver[48];
    ovr_short_version(rt, ver, sizeof ver);
    if (!rt->can_compile)
        return aria_fail(why, ARIA_ERR_UNAVAILABLE, "OpenVINO %s cannot compile: %s", ver,
                         rt->compile_why);
    if (strcmp(c->device, "NPU") == 0) {
        if (!rt->has_npu)
            return aria_fail(why, ARIA_ERR_UNAVAILABLE, "OpenVINO %s lists no NPU device", ver);
        *dev = rt->npu_device;
        return ARIA_OK;
    }
    for (size_t i = 0; i < rt->n_devices; i++)
        if (strcmp(rt->devices[i], c->device) == 0) {
            *dev = rt->devices[i];
            return ARIA_OK;
        }
    return aria_fail(why, ARIA_ERR_UNAVAILABLE, "OpenVINO %s lists no device '%s' ([%s] device)",
                     ver, c->device, OVP_SECTION);
}

static aria_err ovp_probe(void *ctx, const char *path, aria_probe *out, aria_msg *why)
{
    const ovp_ctx *c = ctx;
    const char *dev = NULL;
    memset((char *)out + sizeof out->hdr, 0, sizeof *out - sizeof out->hdr);
    aria_err e = ovp_device(c, &dev, why);
    if (e != ARIA_OK)
        return e;
    return npu_probe_file(path, out, why);
}

/* A model compiled for the device. */
typedef struct ovp_model {
    ovir ir;
    ovr_compiled *cm;
} ovp_model;

/* A session: its inference request and the KV cache it feeds in. */
typedef struct ovp_sess {
    ovr_request *req;
    npu_kv kv;
    uint32_t V;
    const float *logits;
    const float **present; /* [L][2] -> [Hkv][hd] */
} ovp_sess;

static void ovp_sess_free(void *user)
{
    ovp_sess *s = user;
    if (!s)
        return;
    ovr_request_free(s->req);
    npu_kv_free(&s->kv);
    free(s->present);
    free(s);
}

static aria_err ovp_step(void *user, int32_t token, uint32_t pos, float *logits, aria_msg *why)
{
    ovp_sess *s = user;
    if (pos >= s->kv.C)
        return aria_fail(why, ARIA_ERR_CONTEXT, "position %u: the NPU graph holds %u", pos,
                         s->kv.C);
    npu_kv_begin(&s->kv, token, pos);
    aria_err e = ovr_request_infer(s->req, why);
    if (e != ARIA_OK)
        return e;
    memcpy(logits, s->logits, (size_t)s->V * sizeof *logits);
    npu_kv_store(&s->kv, pos, s->present);
    return ARIA_OK;
}

static aria_err ovp_session(void *state, uint32_t n_ctx, aria_llm_exec *out, aria_msg *why)
{
    ovp_model *pm = state;
    const ovir *ir = &pm->ir;
    (void)n_ctx; /* positions past it are refused by the context; the graph holds ir->n_ctx */
    ovp_sess *s = calloc(1, sizeof *s);
    if (!s)
        return aria_fail(why, ARIA_ERR_NOMEM, "out of memory");
    s->V = ir->n_vocab;
    aria_err e = npu_kv_init(&s->kv, ir->n_ctx, ir->n_layers, ir->n_kv_heads, ir->head_dim, why);
    if (e != ARIA_OK) {
        free(s);
        return e;
    }
    const npu_kv *k = &s->kv;
    s->present = calloc((size_t)k->L * 2, sizeof *s->present);
    if (!s->present) {
        e = aria_fail(why, ARIA_ERR_NOMEM, "out of memory");
        goto fail;
    }
    if ((e = ovr_request_new(pm->cm, &s->req, why)) != ARIA_OK)
        goto fail;
    const int64_t one[1] = {1}, md[2] = {1, (int64_t)k->C + 1};
    const int64_t pd[3] = {k->Hkv, k->C, k->hd};
    if ((e = ovr_request_bind(s->req, "input_ids", OVR_I64, 1, one, &s->kv.token64, why)) ||
        (e = ovr_request_bind(s->req, "position", OVR_I64, 1, one, &s->kv.pos64, why)) ||
        (e = ovr_request_bind(s->req, "attention_mask", OVR_F32, 2, md, k->mask, why)))
        goto fail;
    void *p;
    if ((e = ovr_request_output(s->req, "logits", (size_t)s->V * sizeof(float), &p, why)))
        goto fail;
    s->logits = p;
    char nm[48];
    static const char *const names[2][2] = {{"past_key", "past_value"},
                                            {"present_key", "present_value"}};
    for (uint32_t l = 0; l < k->L; l++)
        for (int v = 0; v < 2; v++) {
            npu_graph_name(nm, sizeof nm, names[0][v], l);
            if ((e = ovr_request_bind(s->req, nm, OVR_F32, 3, pd, npu_kv_past(k, l, v), why)))
                goto fail;
            npu_graph_name(nm, sizeof nm, names[1][v], l);
            if ((e = ovr_request_output(s->req, nm, (size_t)k->Hkv * k->hd * sizeof(float), &p,
                                        why)))
                goto fail;
            s->present[2 * l + (size_t)v] = p;
        }
    *out = (aria_llm_exec){.step = ovp_step, .free = ovp_sess_free, .user = s};
    return ARIA_OK;
fail:
    ovp_sess_free(s);
    return e;
}

static void ovp_model_close(void *state)
{
    ovp_model *pm = state;
    if (!pm)
        return;
    ovr_compiled_free(pm->cm);
    ovir_free(&pm->ir);
    free(pm);
}

/* [plugin.npu-openvino] dump_ir = prefix: the graph as prefix.xml and
 * prefix.bin, for OpenVINO's own tools (benchmark_app -m prefix.xml). */
static void ovp_dump(const ovp_ctx *c, const ovir *ir, const char *prefix)
{
    const char *ext[2] = {".xml", ".bin"};
    const void *data[2] = {ir->xml, ir->blob};
    size_t len[2] = {ir->xml_len, ir->blob_len};
    for (int i = 0; i < 2; i++) {
        char path[1024];
        if (npu_fmt(path, sizeof path, "%s%s", prefix, ext[i]) != 0)
            return;
        FILE *f = fopen(path, "wb");
        int ok = f && fwrite(data[i], 1, len[i], f) == len[i];
        if (f && fclose(f) != 0)
            ok = 0;
        c->host->log(ok ? ARIA_LOG_INFO : ARIA_LOG_WARN, OVP_NAME, "%s %s", ok ? "wrote" : "cannot write",
                     path);
    }
}

static aria_err ovp_open(void *user, const aria_llm *m, uint32_t *n_ctx, void **state,
                         aria_msg *why)
{
    ovp_ctx *c = user;
    *state = NULL;
    const char *dev = NULL;
    aria_err e = ovp_device(c, &dev, why);
    if (e != ARIA_OK)
        return e;
    if (*n_ctx > c->max_ctx)
        *n_ctx = c->max_ctx;
    ovp_model *pm = calloc(1, sizeof *pm);
    if (!pm)
        return aria_fail(why, ARIA_ERR_NOMEM, "out of memory");
    double t0 = npu_now();
    if ((e = ovir_build(m, *n_ctx, &pm->ir, why)) != ARIA_OK)
        goto fail;
    double t1 = npu_now();
    c->host->log(ARIA_LOG_INFO, OVP_NAME,
                 "graph of %zu operations for %u positions, %.1f MB of constants (%.2f s); "
                 "compiling for %s",
                 pm->ir.n_ops, pm->ir.n_ctx, (double)pm->ir.blob_len / 1e6, t1 - t0, dev);
    if (c->dump_ir[0])
        ovp_dump(c, &pm->ir, c->dump_ir);
    if ((e = ovr_compile(&c->rt, pm->ir.xml, pm->ir.xml_len, pm->ir.blob, pm->ir.blob_len, dev,
                         c->precision[0] ? c->precision : NULL, &pm->cm, why)) != ARIA_OK)
        goto fail;
    c->host->log(ARIA_LOG_INFO, OVP_NAME, "compiled for %s in %.2f s", dev, npu_now() - t1);
    *state = pm;
    return ARIA_OK;
fail:
    ovp_model_close(pm);
    return e;
}

/* The device first: without it, load refuses with probe's reason before
 * reading the file. */
static aria_err ovp_load(void *ctx, const aria_load_params *p, aria_model **out, aria_msg *why)
{
    const char *dev = NULL;
    *out = NULL;
    aria_err e = ovp_device(ctx, &dev, why);
    return e != ARIA_OK ? e : aria_rt_load(ctx, p, out, why);
}

static const aria_backend_vt ovp_backend = {
    .hdr = {sizeof(aria_backend_vt), ARIA_BACKEND_VERSION},
    .name = "openvino",
    .tiers = ARIA_TIER_QUALITY | ARIA_TIER_SPECIALIST,
    .formats = "F32,F16,BF16,Q8_0,Q4_0,Q4_K,Q5_K,Q6_K",
    .probe = ovp_probe,
    .load = ovp_load,
    ARIA_RT_SLOTS_BUT_LOAD,
};

static aria_err ovp_init(const aria_host *host, void **ctx, aria_msg *why)
{
    ovp_ctx *c = host->calloc(1, sizeof *c);
    if (!c)
        return aria_fail(why, ARIA_ERR_NOMEM, "out of memory");
    c->host = host;
    c->art = (aria_rt){.host = host, .name = "openvino", .tiers = ovp_backend.tiers,
                       .accel = &c->accel};
    c->accel = (aria_rt_accel){.user = c, .open = ovp_open, .close = ovp_model_close,
                               .session = ovp_session};
    const char *lib = npu_cfg(host, OVP_SECTION, "runtime", OVP_DEFAULT_RUNTIME);
    npu_copy(c->device, sizeof c->device, npu_cfg(host, OVP_SECTION, "device", "NPU"));
    npu_copy(c->precision, sizeof c->precision, npu_cfg(host, OVP_SECTION, "precision", ""));
    npu_copy(c->dump_ir, sizeof c->dump_ir, npu_cfg(host, OVP_SECTION, "dump_ir", ""));
    c->max_ctx = (uint32_t)strtoul(npu_cfg(host, OVP_SECTION, "context", "2048"), NULL, 10);
    if (c->max_ctx == 0)
        c->max_ctx = OVP_DEFAULT_CTX;
    /* A missing runtime is the usual case, not an error: the plugin stays,
     * and its detector and probe say what is missing. */
    aria_msg m = {{0}};
    if (ovr_open(&c->rt, lib, &m) == ARIA_OK) {
        const ovr_info *rt = &c->rt.info;
        char devs[OVR_MAX_DEVICES * 33] = "";
        size_t dl = 0;
        for (size_t i = 0; i < rt->n_devices; i++) {
            if (npu_fmt(devs + dl, sizeof devs - dl, "%s%s", i ? "," : "", rt->devices[i]) != 0)
                break;
            dl += strlen(devs + dl);
        }
        host->log(ARIA_LOG_INFO, OVP_NAME, "OpenVINO %s from %s; devices %s%s%s%s%s%s", rt->version,
                  lib, devs[0] ? devs : "(none)", rt->has_npu ? "; NPU '" : "", rt->npu_name,
                  rt->has_npu ? "'" : "", rt->npu_driver[0] ? " driver " : "", rt->npu_driver);
    } else {
        /* Absent is the usual case (debug); present but unusable, or
         * configured and absent, is news for the operator. */
        int news = c->rt.info.opened || strcmp(lib, OVP_DEFAULT_RUNTIME) != 0;
        host->log(news ? ARIA_LOG_WARN : ARIA_LOG_DEBUG, OVP_NAME, "no NPU runtime: %s", m.text);
    }
    *ctx = c;
    return ARIA_OK;
}

static void ovp_fini(void *ctx)
{
    ovp_ctx *c = ctx;
    if (!c)
        return;
    ovr_close(&c->rt);
    c->host->free(c);
}

static const aria_interface ovp_ifaces[] = {
    {.kind = ARIA_IFACE_DETECTOR, .vtable = &ovp_detector},
    {.kind = ARIA_IFACE_BACKEND, .vtable = &ovp_backend},
};

static const aria_cfg_key ovp_cfg[] = {
    {.key = "runtime",
     .type = ARIA_CFG_STRING,
     .def = OVP_DEFAULT_RUNTIME,
     .help = "OpenVINO C runtime to load: a path, or a file name for the loader's search path"},
    {.key = "device",
     .type = ARIA_CFG_STRING,
     .def = "NPU",
     .help = "OpenVINO device models compile for: NPU (the NPU the runtime lists), another "
             "device it lists (CPU, GPU.0), or none to load no model"},
    {.key = "context",
     .type = ARIA_CFG_INT,
     .def = "2048",
     .min = 16,
     .max = 65536,
     .help = "positions a compiled model holds at most (its shapes are static: every token "
             "attends over all of them, masked)"},
    {.key = "precision",
     .type = ARIA_CFG_STRING,
     .def = "",
     .help = "INFERENCE_PRECISION_HINT to compile with (f16, f32); empty: the device's default"},
    {.key = "dump_ir",
     .type = ARIA_CFG_STRING,
     .def = "",
     .help = "write each compiled graph to PREFIX.xml and PREFIX.bin, for OpenVINO's tools"},
};

static const aria_plugin_desc ovp_desc = {
    .abi_major = ARIA_ABI_MAJOR,
    .abi_minor = ARIA_ABI_MINOR,
    .struct_size = sizeof(aria_plugin_desc),
    .name = OVP_NAME,
    .version = "0.1.0",
    .description = "Intel NPU: detector (intel_vpu) and OpenVINO runtime, loaded at run time",
    .n_interfaces = sizeof ovp_ifaces / sizeof ovp_ifaces[0],
    .interfaces = ovp_ifaces,
    .init = ovp_init,
    .fini = ovp_fini,
    .n_cfg_keys = sizeof ovp_cfg / sizeof ovp_cfg[0],
    .cfg_keys = ovp_cfg,
};

ARIA_PLUGIN(ovp_desc)
