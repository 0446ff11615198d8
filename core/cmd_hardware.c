/* cmd_hardware.c — `aria-core hardware`: the CPU and every device that the
 * detectors (the built-in CPU detector and those of loaded plugins) report. */
#include "cmds.h"
#include "cpu.h"

#include <jansson.h>
#include <string.h>

static const char hw_usage[] =
    "usage: aria-core hardware [--json] [--plugins DIR] [--sysfs DIR] [--proc DIR] [--dev DIR]\n"
    "\n"
    "Shows what the hardware detectors see: the CPU (vendor, model, cores,\n"
    "caches, memory, ISA features) and any NPU or GPU that a detector plugin\n"
    "finds. This is the snapshot a node advertises to its peers.\n"
    "\n"
    "  --json          one JSON object\n"
    "  --sysfs, --proc, --dev DIR\n"
    "                  read the system from another root (for tests)\n";

static const char *kind_name(uint32_t k)
{
    return k == ARIA_DEV_CPU ? "cpu" : k == ARIA_DEV_NPU ? "npu" : k == ARIA_DEV_GPU ? "gpu" : "device";
}

static void human(uint64_t b, char *buf, size_t cap)
{
    if (b >= (1ull << 30))
        snprintf(buf, cap, "%.1f GiB", (double)b / (1ull << 30));
    else if (b >= (1ull << 20))
        snprintf(buf, cap, "%.0f MiB", (double)b / (1ull << 20));
    else if (b)
        snprintf(buf, cap, "%.0f KiB", (double)b / 1024);
    else
        snprintf(buf, cap, "unknown");
}

int ari_hardware_print(FILE *out, int json, const aria_detect_env *env,
                       const aria_detector_vt *const *dets, void *const *ctxs, size_t n_dets)
{
    aria_cpu_info c;
    ari_cpu_detect(env, &c);
    char feats[512];
    ari_cpu_feature_names(c.features, feats, sizeof feats);
    aria_device devs[64];
    size_t n_devs = 0;
    char errors[8][ARIA_MSG_MAX + 64];
    size_t n_err = 0;
    for (size_t i = 0; i < n_dets && n_devs < 64; i++) {
        if (dets[i] == &ari_cpu_detector)
            continue; /* the CPU is shown in detail above */
        size_t n = 0;
        aria_msg why = {{0}};
        if (dets[i]->detect(ctxs ? ctxs[i] : NULL, env, devs + n_devs, 64 - n_devs, &n, &why) != ARIA_OK) {
            if (n_err < 8)
                snprintf(errors[n_err++], sizeof errors[0], "%s: %s", dets[i]->name, why.text);
            continue;
        }
        n_devs += n < 64 - n_devs ? n : 64 - n_devs;
    }
    if (json) {
        json_t *fa = json_array();
        for (char *s = feats, *tok; (tok = strtok_r(s, " ", &s));)
            json_array_append_new(fa, json_string(tok));
        json_t *cpu = json_pack("{s:s, s:s, s:s, s:i, s:i, s:o, s:I, s:I, s:I, s:I, s:I}", "arch",
                                c.arch == ARIA_ARCH_X86_64 ? "x86_64" : c.arch == ARIA_ARCH_AARCH64 ? "aarch64" : "unknown",
                                "vendor", c.vendor, "model", c.model, "cores_physical",
                                (int)c.cores_physical, "cores_logical", (int)c.cores_logical,
                                "features", fa, "l1d_bytes", (json_int_t)c.l1d_bytes, "l2_bytes",
                                (json_int_t)c.l2_bytes, "l3_bytes", (json_int_t)c.l3_bytes,
                                "ram_bytes", (json_int_t)c.ram_bytes, "ram_avail_bytes",
                                (json_int_t)c.ram_avail_bytes);
        json_t *da = json_array();
        for (size_t i = 0; i < n_devs; i++)
            json_array_append_new(da, json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:b, s:s}", "kind",
                                                kind_name(devs[i].kind), "vendor", devs[i].vendor,
                                                "name", devs[i].name, "generation", devs[i].generation,
                                                "driver", devs[i].driver, "path", devs[i].path,
                                                "available", (int)devs[i].available, "why",
                                                devs[i].why));
        json_t *errs = json_array();
        for (size_t i = 0; i < n_err; i++)
            json_array_append_new(errs, json_string(errors[i]));
        json_t *root = json_pack("{s:o, s:o, s:o}", "cpu", cpu, "devices", da, "errors", errs);
        char *s = root ? json_dumps(root, JSON_INDENT(2)) : NULL;
        json_decref(root);
        if (!s)
            return 1;
        fprintf(out, "%s\n", s);
        free(s);
        return 0;
    }
    char l1[32], l2[32], l3[32], ram[32], avail[32];
    human(c.l1d_bytes, l1, sizeof l1);
    human(c.l2_bytes, l2, sizeof l2);
    human(c.l3_bytes, l3, sizeof l3);
    human(c.ram_bytes, ram, sizeof ram);
    human(c.ram_avail_bytes, avail, sizeof avail);
    fprintf(out, "cpu      %s  %s  %s\n",
            c.arch == ARIA_ARCH_X86_64 ? "x86_64" : c.arch == ARIA_ARCH_AARCH64 ? "aarch64" : "unknown",
            c.vendor[0] ? c.vendor : "unknown vendor", c.model[0] ? c.model : "unknown model");
    fprintf(out, "  cores  %u physical, %u logical\n", c.cores_physical, c.cores_logical);
    fprintf(out, "  caches L1d %s, L2 %s, L3 %s\n", l1, l2, l3);
    fprintf(out, "  memory %s (%s available)\n", ram, avail);
    fprintf(out, "  isa    %s\n", feats[0] ? feats : "(none detected)");
    for (size_t i = 0; i < n_devs; i++)
        fprintf(out, "%-8s %s %s%s%s%s%s\n", kind_name(devs[i].kind), devs[i].vendor, devs[i].name,
                devs[i].generation[0] ? ", " : "", devs[i].generation,
                devs[i].available ? "" : " (not available: ", devs[i].available ? "" : devs[i].why);
    if (!n_devs)
        fprintf(out, "npu      none detected\n");
    for (size_t i = 0; i < n_err; i++)
        fprintf(out, "warning  %s\n", errors[i]);
    return 0;
}

int ari_cmd_hardware(int argc, char **argv, const ari_opts *o)
{
    int json = 0;
    aria_detect_env env = {.hdr = {sizeof env, 1}, .sysfs_root = "/sys", .dev_root = "/dev",
                           .proc_root = "/proc"};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(hw_usage, stdout);
            return 0;
        } else if (!strcmp(a, "--json")) {
            json = 1;
        } else if (!strcmp(a, "--sysfs") || !strcmp(a, "--proc") || !strcmp(a, "--dev")) {
            if (i + 1 >= argc) {
                fprintf(stderr, "aria-core hardware: %s needs a directory\n", a);
                return 2;
            }
            const char **slot = a[2] == 's' ? &env.sysfs_root : a[2] == 'p' ? &env.proc_root : &env.dev_root;
            *slot = argv[++i];
        } else {
            fprintf(stderr, "aria-core hardware: unknown option '%s' (see --help)\n", a);
            return 2;
        }
    }
    ari_ctx c;
    int rc = ari_ctx_open(&c, o, ARI_CTX_PLUGINS | ARI_CTX_QUIET);
    if (rc == 0) {
        const aria_detector_vt *dets[64];
        void *ctxs[64];
        size_t n = 0;
        for (size_t i = 0; n < 64; i++) {
            const ari_iface *f = ari_registry_iface(&c.reg, ARIA_IFACE_DETECTOR, i);
            if (!f)
                break;
            dets[n] = f->vt;
            ctxs[n++] = f->plugin->ctx;
        }
        rc = ari_hardware_print(stdout, json, &env, dets, ctxs, n);
    }
    ari_ctx_close(&c);
    return rc;
}
