/* cmd_hardware.c — `aria-core hardware`: the CPU and every device that the
 * detectors (the built-in CPU detector and those of loaded plugins) report.
 * ari_hardware_print is the one place that prints them, so the text and the
 * JSON cannot drift apart. */
#include "cmds.h"
#include "cpu.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEVS 64
#define MAX_ERRS 8

static const char hw_usage[] =
    "usage: aria-core hardware [--json] [--plugins DIR] [--sysfs DIR] [--proc DIR] [--dev DIR]\n"
    "\n"
    "Shows what the hardware detectors see: the CPU (vendor, model, cores,\n"
    "caches, memory, ISA features) and any NPU or GPU that a detector plugin\n"
    "finds. This is the snapshot a node advertises to its peers.\n"
    "\n"
    "  --json          one JSON object\n"
    "  --plugins DIR   plugin directory (detector plugins add devices)\n"
    "  --sysfs, --proc, --dev DIR\n"
    "                  read the system from another root (for tests)\n";

static const char *kind_name(uint32_t k)
{
    switch (k) {
    case ARIA_DEV_CPU: return "cpu";
    case ARIA_DEV_NPU: return "npu";
    case ARIA_DEV_GPU: return "gpu";
    }
    return "device";
}

static const char *arch_name(uint32_t a)
{
    return a == ARIA_ARCH_X86_64 ? "x86_64" : a == ARIA_ARCH_AARCH64 ? "aarch64" : "unknown";
}

/* A plugin's text is not to be trusted with a terminal: it may fill its
 * array without a NUL, or carry control characters. */
static void clean_text(char *s, size_t cap)
{
    s[cap - 1] = '\0';
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            *s = '?';
}

static void clean_device(aria_device *d)
{
    clean_text(d->vendor, sizeof d->vendor);
    clean_text(d->name, sizeof d->name);
    clean_text(d->generation, sizeof d->generation);
    clean_text(d->driver, sizeof d->driver);
    clean_text(d->path, sizeof d->path);
    clean_text(d->why, sizeof d->why);
}

/* A JSON string of s; jansson refuses invalid UTF-8, so such text goes out
 * with its non-ASCII bytes as '?' rather than failing the whole report. */
static json_t *jstr(const char *s)
{
    json_t *j = json_string(s);
    if (j)
        return j;
    char tmp[256];
    size_t n = 0;
    for (; s[n] && n < sizeof tmp - 1; n++)
        tmp[n] = (unsigned char)s[n] < 0x80 ? s[n] : '?';
    tmp[n] = '\0';
    return json_string(tmp);
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

/* Every value goes in through a *_new call, which takes the reference even
 * when it fails (out of memory), so no failure path leaks or double-frees;
 * a failure shows up as a missing member, checked once at the end. */
static int put(json_t *obj, const char *key, json_t *val, int *ok)
{
    if (!obj) {
        json_decref(val);
        *ok = 0;
    } else if (!val || json_object_set_new(obj, key, val)) {
        *ok = 0;
    }
    return *ok;
}

static json_t *cpu_json(const aria_cpu_info *c, const char *level, char *feats, int *ok)
{
    json_t *o = json_object();
    json_t *fa = json_array();
    for (char *s = feats, *tok; fa && (tok = strtok_r(s, " ", &s));)
        if (json_array_append_new(fa, json_string(tok)))
            *ok = 0;
    put(o, "arch", json_string(arch_name(c->arch)), ok);
    put(o, "vendor", jstr(c->vendor), ok);
    put(o, "model", jstr(c->model), ok);
    put(o, "isa_level", jstr(level), ok);
    put(o, "cores_physical", json_integer(c->cores_physical), ok);
    put(o, "cores_logical", json_integer(c->cores_logical), ok);
    put(o, "features", fa, ok);
    put(o, "l1d_bytes", json_integer((json_int_t)c->l1d_bytes), ok);
    put(o, "l2_bytes", json_integer((json_int_t)c->l2_bytes), ok);
    put(o, "l3_bytes", json_integer((json_int_t)c->l3_bytes), ok);
    put(o, "ram_bytes", json_integer((json_int_t)c->ram_bytes), ok);
    put(o, "ram_avail_bytes", json_integer((json_int_t)c->ram_avail_bytes), ok);
    return o;
}

static json_t *device_json(const aria_device *d, int *ok)
{
    json_t *o = json_object();
    put(o, "kind", json_string(kind_name(d->kind)), ok);
    put(o, "vendor", jstr(d->vendor), ok);
    put(o, "name", jstr(d->name), ok);
    put(o, "generation", jstr(d->generation), ok);
    put(o, "driver", jstr(d->driver), ok);
    put(o, "path", jstr(d->path), ok);
    put(o, "available", json_boolean(d->available), ok);
    put(o, "why", jstr(d->why), ok);
    put(o, "mem_bytes", json_integer((json_int_t)d->mem_bytes), ok);
    put(o, "cores", json_integer(d->cores), ok);
    put(o, "tops", json_integer(d->tops), ok);
    return o;
}

static int print_json(FILE *out, const aria_cpu_info *c, const char *level, char *feats,
                      const aria_device *devs, size_t n_devs, char errors[][ARIA_MSG_MAX + 64],
                      size_t n_err)
{
    int ok = 1, rc = 1;
    char *text = NULL;
    json_t *root = json_object();
    json_t *da = json_array(), *errs = json_array();
    put(root, "cpu", cpu_json(c, level, feats, &ok), &ok);
    for (size_t i = 0; da && i < n_devs; i++)
        if (json_array_append_new(da, device_json(&devs[i], &ok)))
            ok = 0;
    put(root, "devices", da, &ok);
    for (size_t i = 0; errs && i < n_err; i++)
        if (json_array_append_new(errs, jstr(errors[i])))
            ok = 0;
    put(root, "errors", errs, &ok);
    if (ok)
        text = json_dumps(root, JSON_INDENT(2));
    if (text) {
        fprintf(out, "%s\n", text);
        rc = 0;
    } else {
        fprintf(stderr, "aria-core hardware: out of memory building the JSON report\n");
    }
    free(text);
    json_decref(root);
    return rc;
}

static void print_text(FILE *out, const aria_cpu_info *c, const char *level, const char *feats,
                       const aria_device *devs, size_t n_devs, char errors[][ARIA_MSG_MAX + 64],
                       size_t n_err)
{
    char l1[32], l2[32], l3[32], ram[32], avail[32];
    human(c->l1d_bytes, l1, sizeof l1);
    human(c->l2_bytes, l2, sizeof l2);
    human(c->l3_bytes, l3, sizeof l3);
    human(c->ram_bytes, ram, sizeof ram);
    human(c->ram_avail_bytes, avail, sizeof avail);
    fprintf(out, "cpu      %s  %s  %s\n", arch_name(c->arch),
            c->vendor[0] ? c->vendor : "unknown vendor", c->model[0] ? c->model : "unknown model");
    fprintf(out, "  cores  %u physical, %u logical\n", c->cores_physical, c->cores_logical);
    fprintf(out, "  caches L1d %s, L2 %s, L3 %s\n", l1, l2, l3);
    fprintf(out, "  memory %s (%s available)\n", ram, avail);
    fprintf(out, "  isa    %s%s%s\n", level, level[0] ? ": " : "",
            feats[0] ? feats : "(no SIMD extensions detected)");
    int npu = 0;
    for (size_t i = 0; i < n_devs; i++) {
        const aria_device *d = &devs[i];
        npu |= d->kind == ARIA_DEV_NPU;
        fprintf(out, "%-8s %s  %s", kind_name(d->kind), d->vendor[0] ? d->vendor : "unknown vendor",
                d->name[0] ? d->name : "unknown model");
        if (d->generation[0])
            fprintf(out, "  %s", d->generation);
        if (d->driver[0])
            fprintf(out, "  driver %s", d->driver);
        if (!d->available)
            fprintf(out, "  (not available: %s)", d->why[0] ? d->why : "no reason given");
        fputc('\n', out);
    }
    if (!npu)
        fprintf(out, "npu      none detected\n");
    for (size_t i = 0; i < n_err; i++)
        fprintf(out, "warning  %s\n", errors[i]);
}

int ari_hardware_print(FILE *out, int json, const aria_detect_env *env,
                       const aria_detector_vt *const *dets, void *const *ctxs, size_t n_dets)
{
    aria_cpu_info c;
    ari_cpu_detect(env, &c);
    char feats[512];
    ari_cpu_feature_names(c.features, feats, sizeof feats);
    /* The ISA level is the CPU detector's judgement; ask it rather than
     * repeat it here. */
    aria_device cpu_dev;
    size_t n_cpu = 0;
    char level[sizeof cpu_dev.generation] = "";
    if (ari_cpu_detector.detect(NULL, env, &cpu_dev, 1, &n_cpu, NULL) == ARIA_OK && n_cpu == 1)
        snprintf(level, sizeof level, "%s", cpu_dev.generation);

    aria_device devs[MAX_DEVS];
    size_t n_devs = 0;
    char errors[MAX_ERRS][ARIA_MSG_MAX + 64];
    size_t n_err = 0;
    for (size_t i = 0; i < n_dets && n_devs < MAX_DEVS; i++) {
        const aria_detector_vt *d = dets[i];
        if (!d || d == &ari_cpu_detector || !d->detect)
            continue; /* the CPU is shown in detail above */
        size_t n = 0;
        aria_msg why = {{0}};
        aria_err e = d->detect(ctxs ? ctxs[i] : NULL, env, devs + n_devs, MAX_DEVS - n_devs, &n,
                               &why);
        if (e != ARIA_OK) {
            clean_text(why.text, sizeof why.text);
            if (n_err < MAX_ERRS)
                snprintf(errors[n_err++], sizeof errors[0], "%s: %s", d->name ? d->name : "?",
                         why.text[0] ? why.text : aria_strerror(e));
            continue;
        }
        if (n > MAX_DEVS - n_devs) /* a detector that overstates its count */
            n = MAX_DEVS - n_devs;
        for (size_t k = 0; k < n; k++)
            clean_device(&devs[n_devs + k]);
        n_devs += n;
    }
    if (json)
        return print_json(out, &c, level, feats, devs, n_devs, errors, n_err);
    print_text(out, &c, level, feats, devs, n_devs, errors, n_err);
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
            const char **slot = a[2] == 's'   ? &env.sysfs_root
                                : a[2] == 'p' ? &env.proc_root
                                              : &env.dev_root;
            *slot = argv[++i];
        } else if (a[0] == '-') {
            fprintf(stderr, "aria-core hardware: unknown option '%s' (see --help)\n", a);
            return 2;
        } else {
            fprintf(stderr, "aria-core hardware: unexpected argument '%s' (see --help)\n", a);
            return 2;
        }
    }
    ari_ctx c;
    int rc = ari_ctx_open(&c, o, ARI_CTX_PLUGINS | ARI_CTX_QUIET);
    if (rc == 0) {
        const aria_detector_vt *dets[MAX_DEVS];
        void *ctxs[MAX_DEVS];
        size_t n = 0;
        for (size_t i = 0; n < MAX_DEVS; i++) {
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
