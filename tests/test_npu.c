/* test_npu.c — the npu-openvino and npu-qnn plugins, loaded for real through
 * core's loader: their detectors against fake sysfs and /dev trees built in
 * a temp dir, and their runtimes against fake vendor libraries
 * (tests/npu/fake_*.c) that log every call, so the libffi path is checked
 * call by call. Also the libffi helper itself (plugins/npu-common). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "cmds.h"
#include "cpu.h"
#include "ffi_call.h"
#include "host.h"
#include "loader.h"
#include "models.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define NPU_DIR          ARIA_BINARY_DIR "/tests/npu"
#define FAKE_OV          NPU_DIR "/ov/libopenvino_c.so"
#define FAKE_OV_NOPROP   NPU_DIR "/ov-noprop/libopenvino_c.so"
#define FAKE_QNN         NPU_DIR "/qnn/libQnnHtp.so"
#define FAKE_QNN_NOENTRY NPU_DIR "/qnn-noentry/libQnnHtp.so"
#define PLUGIN_OV        ARIA_PLUGIN_DIR "/npu-openvino.so"
#define PLUGIN_QNN       ARIA_PLUGIN_DIR "/npu-qnn.so"

typedef struct fixture {
    char root[64];
    char sys[128], dev[128], proc[128], log[128];
    ari_config *cfg;
    ari_registry reg;
    aria_cpu_info cpu;
    aria_host host;
    int loaded;
} fixture;

/* What the host's config_get answers for [plugin.npu-*] runtime, and for
 * [plugin.npu-openvino] device and precision ("" = unset). */
static char g_ov_runtime[512], g_qnn_runtime[512], g_ov_device[32], g_ov_precision[16];
static char g_ov_dump[256];
static const char *(*g_config_get)(const char *, const char *);

static const char *test_config_get(const char *section, const char *key)
{
    if (section && key && strcmp(key, "runtime") == 0) {
        if (strcmp(section, "plugin.npu-openvino") == 0)
            return g_ov_runtime;
        if (strcmp(section, "plugin.npu-qnn") == 0)
            return g_qnn_runtime;
    }
    if (section && key && strcmp(section, "plugin.npu-openvino") == 0) {
        if (strcmp(key, "device") == 0 && g_ov_device[0])
            return g_ov_device;
        if (strcmp(key, "precision") == 0 && g_ov_precision[0])
            return g_ov_precision;
        if (strcmp(key, "dump_ir") == 0 && g_ov_dump[0])
            return g_ov_dump;
    }
    return g_config_get ? g_config_get(section, key) : NULL;
}

static const char *const knobs[] = {"ARIA_FAKE_OV_DEVICES", "ARIA_FAKE_OV_NAME", "ARIA_FAKE_FAIL",
                                    "ARIA_FAKE_QNN_MODE", "ARIA_FAKE_OV_IR"};

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    snprintf(f->root, sizeof f->root, "/tmp/aria-npu-XXXXXX");
    if (!mkdtemp(f->root))
        return -1;
    snprintf(f->sys, sizeof f->sys, "%s/sys", f->root);
    snprintf(f->dev, sizeof f->dev, "%s/dev", f->root);
    snprintf(f->proc, sizeof f->proc, "%s/proc", f->root);
    snprintf(f->log, sizeof f->log, "%s/calls.log", f->root);
    mkdir(f->sys, 0755);
    mkdir(f->dev, 0755);
    mkdir(f->proc, 0755);
    setenv("ARIA_FAKE_LOG", f->log, 1);
    for (size_t i = 0; i < sizeof knobs / sizeof knobs[0]; i++)
        unsetenv(knobs[i]);
    /* By default neither runtime exists: the usual machine. */
    snprintf(g_ov_runtime, sizeof g_ov_runtime, "%s/nowhere/libopenvino_c.so", f->root);
    snprintf(g_qnn_runtime, sizeof g_qnn_runtime, "%s/nowhere/libQnnHtp.so", f->root);
    g_ov_device[0] = g_ov_precision[0] = g_ov_dump[0] = '\0';
    f->cfg = ari_config_new();
    ari_registry_init(&f->reg);
    ari_cpu_detect(NULL, &f->cpu);
    ari_host_init(&f->host, f->cfg, &f->reg, &f->cpu, "/tmp", 1);
    g_config_get = f->host.config_get;
    f->host.config_get = test_config_get;
    *state = f;
    return 0;
}

static int rm_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    if (type == FTW_DP || type == FTW_D)
        chmod(path, 0755);
    return remove(path);
}

static int teardown(void **state)
{
    fixture *f = *state;
    ari_registry_fini(&f->reg); /* fini of each plugin: the runtimes are closed */
    ari_config_free(f->cfg);
    nftw(f->root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    unsetenv("ARIA_FAKE_LOG");
    for (size_t i = 0; i < sizeof knobs / sizeof knobs[0]; i++)
        unsetenv(knobs[i]);
    free(f);
    return 0;
}

#define assert_has(text, want)                                                                     \
    do {                                                                                           \
        if (!strstr((text), (want)))                                                               \
            fail_msg("'%s' lacks '%s'", (text), (want));                                           \
    } while (0)

/* --- building fake trees ------------------------------------------------ */

static void mkdirs(const char *path)
{
    char tmp[512];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            mkdir(tmp, 0755);
            *p = '/';
        }
    mkdir(tmp, 0755);
}

static void parent_dirs(const char *path)
{
    char tmp[512];
    snprintf(tmp, sizeof tmp, "%s", path);
    char *slash = strrchr(tmp, '/');
    if (slash) {
        *slash = '\0';
        mkdirs(tmp);
    }
}

/* Writes n bytes of data to root/rel (n 0: strlen). */
static void put(const fixture *f, const char *rel, const char *data, size_t n)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", f->root, rel);
    parent_dirs(p);
    FILE *o = fopen(p, "wb");
    assert_non_null(o);
    fwrite(data, 1, n ? n : strlen(data), o);
    fclose(o);
}

static void link_to(const fixture *f, const char *rel, const char *target)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", f->root, rel);
    parent_dirs(p);
    assert_int_equal(symlink(target, p), 0);
}

/* An Intel NPU at 0000:00:0b.0 with PCI id dev_id, bound to driver (NULL:
 * none), listed as accel0 when accel is set. */
static void intel_tree(const fixture *f, const char *dev_id, const char *driver, int accel)
{
    const char *pci = "sys/devices/pci0000:00/0000:00:0b.0";
    char p[256];
    snprintf(p, sizeof p, "%s/vendor", pci);
    put(f, p, "0x8086\n", 0);
    snprintf(p, sizeof p, "%s/device", pci);
    put(f, p, dev_id, 0);
    snprintf(p, sizeof p, "%s/class", pci);
    put(f, p, "0x120000\n", 0);
    if (driver) {
        char d[128], t[128];
        snprintf(d, sizeof d, "%s/sys/bus/pci/drivers/%s", f->root, driver);
        mkdirs(d);
        snprintf(p, sizeof p, "%s/driver", pci);
        snprintf(t, sizeof t, "../../../bus/pci/drivers/%s", driver);
        link_to(f, p, t);
    }
    link_to(f, "sys/bus/pci/devices/0000:00:0b.0", "../../../devices/pci0000:00/0000:00:0b.0");
    if (accel) {
        link_to(f, "sys/class/accel/accel0/device", "../../../devices/pci0000:00/0000:00:0b.0");
        put(f, "dev/accel/accel0", "", 1);
    }
}

static void qualcomm_tree(const fixture *f)
{
    put(f, "dev/fastrpc-cdsp", "", 1);
    put(f, "dev/fastrpc-adsp", "", 1);
    put(f, "sys/devices/soc0/machine", "SM8650\n", 0);
    put(f, "sys/devices/soc0/family", "Snapdragon\n", 0);
    put(f, "sys/devices/soc0/soc_id", "557\n", 0);
}

/* A node that open(O_RDWR) refuses: without permission, or (for root, whom
 * permissions do not stop) a directory. */
static void unopenable(const fixture *f, const char *rel)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", f->root, rel);
    unlink(p);
    if (geteuid() == 0) {
        mkdirs(p);
    } else {
        put(f, rel, "", 1);
        chmod(p, 0);
    }
}

/* --- the plugins -------------------------------------------------------- */

static void load_plugins(fixture *f)
{
    aria_msg why = {{0}};
    /* A runtime that is missing or broken never fails the load. */
    assert_int_equal(ari_load_file(&f->reg, PLUGIN_OV, &f->host, f->cfg, &why), ARIA_OK);
    assert_int_equal(ari_load_file(&f->reg, PLUGIN_QNN, &f->host, f->cfg, &why), ARIA_OK);
    f->loaded = 1;
}

static const ari_iface *find(const fixture *f, uint32_t kind, const char *name)
{
    for (size_t i = 0;; i++) {
        const ari_iface *it = ari_registry_iface(&f->reg, kind, i);
        if (!it)
            return NULL;
        const char *n = kind == ARIA_IFACE_DETECTOR ? ((const aria_detector_vt *)it->vt)->name
                                                    : ((const aria_backend_vt *)it->vt)->name;
        if (strcmp(n, name) == 0)
            return it;
    }
}

static void assert_clean(const char *s, size_t cap)
{
    size_t n = strnlen(s, cap);
    assert_true(n < cap);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            fail_msg("control character in '%s'", s);
}

static size_t detect(const fixture *f, const char *name, aria_device *out, size_t cap)
{
    const ari_iface *it = find(f, ARIA_IFACE_DETECTOR, name);
    assert_non_null(it);
    const aria_detector_vt *vt = it->vt;
    aria_detect_env env = {
        .hdr = {sizeof env, 1}, .sysfs_root = f->sys, .dev_root = f->dev, .proc_root = f->proc};
    memset(out, 0x5a, cap * sizeof *out);
    size_t n = 999;
    aria_msg why = {{0}};
    assert_int_equal(vt->detect(it->plugin->ctx, &env, out, cap, &n, &why), ARIA_OK);
    assert_true(n <= cap);
    for (size_t i = 0; i < n; i++) {
        const aria_device *d = &out[i];
        assert_int_equal(d->hdr.struct_size, sizeof *d);
        assert_int_equal(d->kind, ARIA_DEV_NPU);
        assert_clean(d->vendor, sizeof d->vendor);
        assert_clean(d->name, sizeof d->name);
        assert_clean(d->generation, sizeof d->generation);
        assert_clean(d->driver, sizeof d->driver);
        assert_clean(d->path, sizeof d->path);
        assert_clean(d->why, sizeof d->why);
        if (!d->available && !d->why[0])
            fail_msg("%s: not available, and no reason", d->name);
    }
    return n;
}

/* Probes a file with the named backend: it must never claim it. */
static aria_err probe(const fixture *f, const char *backend, aria_msg *why)
{
    const ari_iface *it = find(f, ARIA_IFACE_BACKEND, backend);
    assert_non_null(it);
    const aria_backend_vt *vt = it->vt;
    char path[256];
    snprintf(path, sizeof path, "%s/model.gguf", f->root);
    put(f, "model.gguf", "GGUF\3\0\0\0", 8);
    aria_probe pr = {.hdr = {sizeof pr, 1}, .score = 77};
    memset(why, 0, sizeof *why);
    aria_err e = vt->probe(it->plugin->ctx, path, &pr, why);
    assert_int_not_equal(e, ARIA_OK);
    assert_int_equal(pr.score, 0);
    assert_true(why->text[0] != '\0');
    /* load refuses with the same reason */
    aria_load_params lp = {.hdr = {sizeof lp, 1}, .path = path, .model_id = "m"};
    aria_model *m = (aria_model *)&lp;
    aria_msg lwhy = {{0}};
    assert_int_equal(vt->load(it->plugin->ctx, &lp, &m, &lwhy), e);
    assert_null(m);
    assert_string_equal(lwhy.text, why->text);
    return e;
}

static char *read_log(const fixture *f)
{
    static char buf[1 << 20];
    buf[0] = '\0';
    FILE *i = fopen(f->log, "rb");
    if (!i)
        return buf;
    size_t n = fread(buf, 1, sizeof buf - 1, i);
    buf[n] = '\0';
    fclose(i);
    return buf;
}

/* --- the libffi helper -------------------------------------------------- */

static void test_ffi_signatures(void **state)
{
    (void)state;
    npu_ffi_fn fn;
    aria_msg why = {{0}};
    void *addr = dlsym(RTLD_DEFAULT, "strlen");
    assert_non_null(addr);
    const char *bad[] = {
        "", "x(p)", "i", "i(p", "i(pq)", "i(...p)", "i(p)x", "v(ppppppppppppp)", "i(p......)"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(npu_ffi_prep(&fn, "f", addr, bad[i], &why), ARIA_ERR_INVALID);
        assert_has(why.text, "bad signature");
    }
    assert_int_equal(npu_ffi_prep(&fn, "f", NULL, "i()", &why), ARIA_ERR_INVALID);
    assert_int_equal(npu_ffi_prep(&fn, "f", addr, "i(p...pp)", &why), ARIA_OK);
    assert_int_equal(fn.n_fixed, 1);
    assert_int_equal(fn.n_args, 3);
    assert_int_equal(
        npu_ffi_bind(&fn, RTLD_DEFAULT, "the test", "no_such_entry_point", "v()", &why),
        ARIA_ERR_NOT_FOUND);
    assert_string_equal(why.text, "no entry point 'no_such_entry_point' in the test");
}

/* Return values of every width, through functions of libc whose
 * prototypes are known. */
static void test_ffi_libc(void **state)
{
    (void)state;
    npu_ffi_fn fn;
    npu_ffi_val r;
    aria_msg why = {{0}};
    const char *s = "sixteen bytes ok";
    void *a1[] = {&s};
    /* size_t strlen(const char *) */
    assert_int_equal(npu_ffi_bind(&fn, RTLD_DEFAULT, "libc", "strlen", "z(p)", &why), ARIA_OK);
    assert_int_equal(npu_ffi_call(&fn, 1, a1, &r, &why), ARIA_OK);
    assert_int_equal(r.u, 16);
    /* int abs(int) */
    int32_t m = -42;
    void *a2[] = {&m};
    assert_int_equal(npu_ffi_bind(&fn, RTLD_DEFAULT, "libc", "abs", "i(i)", &why), ARIA_OK);
    assert_int_equal(npu_ffi_call(&fn, 1, a2, &r, &why), ARIA_OK);
    assert_int_equal(r.i, 42);
    /* long long llabs(long long) */
    int64_t big = -(1ll << 40);
    void *a3[] = {&big};
    assert_int_equal(npu_ffi_bind(&fn, RTLD_DEFAULT, "libc", "llabs", "I(I)", &why), ARIA_OK);
    assert_int_equal(npu_ffi_call(&fn, 1, a3, &r, &why), ARIA_OK);
    assert_true(r.i == (1ll << 40));
    /* char *strchr(const char *, int) */
    int32_t c = 'b';
    void *a4[] = {&s, &c};
    assert_int_equal(npu_ffi_bind(&fn, RTLD_DEFAULT, "libc", "strchr", "p(pi)", &why), ARIA_OK);
    assert_int_equal(npu_ffi_call(&fn, 2, a4, &r, &why), ARIA_OK);
    assert_ptr_equal(r.p, s + 8);
    /* int snprintf(char *, size_t, const char *, ...), variadic */
    char buf[32], *bp = buf;
    size_t cap = sizeof buf;
    const char *fmt = "%s-%u-%s";
    uint32_t u = 4000000000u;
    const char *tail = "end";
    void *a5[] = {&bp, &cap, &fmt, &s, &u, &tail};
    assert_int_equal(npu_ffi_bind(&fn, RTLD_DEFAULT, "libc", "snprintf", "i(pzp...pup)", &why),
                     ARIA_OK);
    assert_int_equal(npu_ffi_call(&fn, 6, a5, &r, &why), ARIA_OK);
    assert_string_equal(buf, "sixteen bytes ok-4000000000-end");
    assert_int_equal(r.i, 31);
    /* a wrong argument count is refused before anything is called */
    assert_int_equal(npu_ffi_call(&fn, 2, a5, &r, &why), ARIA_ERR_INVALID);
    assert_has(why.text, "called with 2 arguments, takes 6");
}

/* The fake runtime called directly: sign of an enum result, a variadic
 * entry point, arguments as the callee saw them. */
static void test_ffi_fake_runtime(void **state)
{
    fixture *f = *state;
    void *dl = dlopen(FAKE_OV, RTLD_NOW | RTLD_LOCAL);
    assert_non_null(dl);
    npu_ffi_fn create, set, devices, release;
    aria_msg why = {{0}};
    assert_int_equal(npu_ffi_bind(&create, dl, FAKE_OV, "ov_core_create", "i(p)", &why), ARIA_OK);
    assert_int_equal(npu_ffi_bind(&set, dl, FAKE_OV, "ov_core_set_property", "i(pp...pp)", &why),
                     ARIA_OK);
    assert_int_equal(
        npu_ffi_bind(&devices, dl, FAKE_OV, "ov_core_get_available_devices", "i(pp)", &why),
        ARIA_OK);
    assert_int_equal(npu_ffi_bind(&release, dl, FAKE_OV, "ov_core_free", "v(p)", &why), ARIA_OK);
    void *core = NULL, **corep = &core;
    npu_ffi_val r;
    void *a1[] = {&corep};
    assert_int_equal(npu_ffi_call(&create, 1, a1, &r, &why), ARIA_OK);
    assert_int_equal(r.i, 0);
    assert_non_null(core);
    const char *dev = "NPU", *key = "PERFORMANCE_HINT", *val = "LATENCY";
    void *a2[] = {&core, &dev, &key, &val};
    assert_int_equal(npu_ffi_call(&set, 4, a2, &r, &why), ARIA_OK);
    assert_int_equal(r.i, 0);
    void *null = NULL;
    void *a3[] = {&core, &null};
    assert_int_equal(npu_ffi_call(&devices, 2, a3, &r, &why), ARIA_OK);
    assert_int_equal(r.i, -14); /* INVALID_C_PARAM, sign intact */
    void *a4[] = {&core};
    assert_int_equal(npu_ffi_call(&release, 1, a4, NULL, &why), ARIA_OK);
    dlclose(dl);
    assert_string_equal(read_log(f), "ov_core_create(out)\n"
                                     "ov_core_set_property(core, \"NPU\", \"PERFORMANCE_HINT\", "
                                     "\"LATENCY\")\n"
                                     "ov_core_get_available_devices(core, NULL)\n"
                                     "ov_core_free(core)\n");
}

/* --- Intel -------------------------------------------------------------- */

static void test_intel_absent(void **state)
{
    fixture *f = *state;
    load_plugins(f);
    aria_device d[4];
    assert_int_equal(detect(f, "intel-npu", d, 4), 0);
    /* another vendor's accelerator is not ours to report */
    put(f, "sys/devices/pci0000:00/0000:c5:00.1/vendor", "0x1022\n", 0);
    put(f, "sys/devices/pci0000:00/0000:c5:00.1/device", "0x17f0\n", 0);
    mkdirs(f->sys);
    char p[256];
    snprintf(p, sizeof p, "%s/sys/bus/pci/drivers/amdxdna", f->root);
    mkdirs(p);
    link_to(f, "sys/devices/pci0000:00/0000:c5:00.1/driver", "../../../bus/pci/drivers/amdxdna");
    link_to(f, "sys/class/accel/accel0/device", "../../../devices/pci0000:00/0000:c5:00.1");
    put(f, "dev/accel/accel0", "", 1);
    assert_int_equal(detect(f, "intel-npu", d, 4), 0);
    assert_string_equal(read_log(f), ""); /* no runtime: nothing was called */
}

static void test_intel_present_no_runtime(void **state)
{
    fixture *f = *state;
    intel_tree(f, "0x7d1d\n", "intel_vpu", 1);
    put(f, "sys/module/intel_vpu/version", "1.0.0\n", 0);
    load_plugins(f);
    aria_device d[4];
    assert_int_equal(detect(f, "intel-npu", d, 4), 1); /* accel0 and its PCI function: one */
    assert_string_equal(d[0].vendor, "Intel");
    assert_string_equal(d[0].name, "Intel NPU (Meteor Lake)");
    assert_string_equal(d[0].generation, "Meteor Lake NPU 37xx");
    assert_string_equal(d[0].driver, "intel_vpu 1.0.0");
    char node[256];
    snprintf(node, sizeof node, "%s/accel/accel0", f->dev);
    assert_string_equal(d[0].path, node);
    assert_int_equal(d[0].available, 0);
    assert_has(d[0].why, "OpenVINO runtime not loaded: cannot load ");
    assert_has(d[0].why, "/nowhere/libopenvino_c.so");
    aria_msg why;
    assert_int_equal(probe(f, "openvino", &why), ARIA_ERR_UNAVAILABLE);
    assert_has(why.text, "OpenVINO runtime not loaded: cannot load ");
    assert_has(why.text, "/nowhere/libopenvino_c.so: cannot open shared object file");
}

static void test_intel_ids(void **state)
{
    fixture *f = *state;
    const struct {
        const char *id, *gen;
    } cases[] = {{"0xad1d\n", "Arrow Lake NPU 37xx"},   {"0x643e\n", "Lunar Lake NPU 40xx"},
                 {"0xb03e\n", "Panther Lake NPU 50xx"}, {"0xfd3e", "Wildcat Lake NPU 50xx"},
                 {"d71d\n", "Nova Lake NPU 60xx"},      {"0x9999\n", ""}};
    load_plugins(f);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        nftw(f->sys, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
        nftw(f->dev, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
        intel_tree(f, cases[i].id, "intel_vpu", 1);
        aria_device d[2];
        assert_int_equal(detect(f, "intel-npu", d, 2), 1);
        assert_string_equal(d[0].generation, cases[i].gen);
        assert_string_equal(d[0].driver, "intel_vpu"); /* no module version file */
        if (!cases[i].gen[0])
            assert_string_equal(d[0].name, "Intel NPU");
    }
}

static void test_intel_wrong_driver(void **state)
{
    fixture *f = *state;
    intel_tree(f, "0x643e\n", "vfio-pci", 0); /* passed through to a VM */
    load_plugins(f);
    aria_device d[2];
    assert_int_equal(detect(f, "intel-npu", d, 2), 1);
    assert_string_equal(d[0].generation, "Lunar Lake NPU 40xx");
    assert_string_equal(d[0].driver, "vfio-pci");
    assert_int_equal(d[0].available, 0);
    assert_string_equal(d[0].why, "bound to driver 'vfio-pci', not intel_vpu");
    assert_has(d[0].path, "/sys/bus/pci/devices/0000:00:0b.0");
}

static void test_intel_no_driver(void **state)
{
    fixture *f = *state;
    intel_tree(f, "0x7d1d\n", NULL, 0); /* a kernel older than 6.3 */
    load_plugins(f);
    aria_device d[2];
    assert_int_equal(detect(f, "intel-npu", d, 2), 1);
    assert_string_equal(d[0].driver, "");
    assert_int_equal(d[0].available, 0);
    assert_has(d[0].why, "no driver bound: load intel_vpu");
}

static void test_intel_node_missing_or_unopenable(void **state)
{
    fixture *f = *state;
    intel_tree(f, "0x7d1d\n", "intel_vpu", 1);
    g_ov_runtime[0] = '\0'; /* empty: the default name, not on this machine either */
    load_plugins(f);
    char node[256];
    snprintf(node, sizeof node, "%s/accel/accel0", f->dev);
    unlink(node);
    aria_device d[2];
    assert_int_equal(detect(f, "intel-npu", d, 2), 1);
    assert_int_equal(d[0].available, 0);
    char want[300];
    snprintf(want, sizeof want, "no device node %s", node);
    assert_string_equal(d[0].why, want);
    unopenable(f, "dev/accel/accel0");
    assert_int_equal(detect(f, "intel-npu", d, 2), 1);
    assert_int_equal(d[0].available, 0);
    snprintf(want, sizeof want, "cannot open %s: %s", node,
             strerror(geteuid() == 0 ? EISDIR : EACCES));
    assert_string_equal(d[0].why, want);
    /* a node that opens: now the missing runtime is the reason, by its
     * default name */
    rmdir(node);
    chmod(node, 0644);
    unlink(node);
    put(f, "dev/accel/accel0", "", 1);
    assert_int_equal(detect(f, "intel-npu", d, 2), 1);
    assert_has(d[0].why, "OpenVINO runtime not loaded: cannot load libopenvino_c.so: ");
}

static void test_intel_garbage(void **state)
{
    fixture *f = *state;
    char junk[3000];
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (char)(i * 7 + 1);
    intel_tree(f, "0x7d1d\n", "intel_vpu", 1);
    put(f, "sys/devices/pci0000:00/0000:00:0b.0/vendor", "0xZZZZ\n", 0);
    put(f, "sys/devices/pci0000:00/0000:00:0b.0/device", junk, sizeof junk);
    char ver[400];
    memset(ver, 'A', sizeof ver);
    ver[5] = '\t';
    ver[6] = '\x01';
    put(f, "sys/module/intel_vpu/version", ver, sizeof ver);
    /* a second accel device whose ids are huge numbers and whose driver
     * link is a loop: skipped, never trusted */
    put(f, "sys/devices/pci0000:00/0000:00:0c.0/vendor", "0x80860000000000000000\n", 0);
    put(f, "sys/devices/pci0000:00/0000:00:0c.0/device", "0x7d1d\n", 0);
    link_to(f, "sys/devices/pci0000:00/0000:00:0c.0/driver", "driver");
    link_to(f, "sys/class/accel/accel1/device", "../../../devices/pci0000:00/0000:00:0c.0");
    link_to(f, "sys/class/accel/accelX", "nowhere"); /* not accel<N> */
    load_plugins(f);
    aria_device d[4];
    assert_int_equal(detect(f, "intel-npu", d, 4), 1);
    assert_string_equal(d[0].vendor, "Intel");
    assert_string_equal(d[0].name, "Intel NPU"); /* the ids say nothing */
    assert_string_equal(d[0].generation, "");
    assert_int_equal(strncmp(d[0].driver, "intel_vpu AAAAA??AAA", 20), 0);
    assert_int_equal(strlen(d[0].driver), strlen("intel_vpu ") + 31); /* version cut at 31 */
    assert_int_equal(d[0].available, 0);
}

static const char ov_calls[] = "ov_get_openvino_version(out)\n"
                               "ov_version_free({\"2024.4.0-16579-c3152d32c9c-releases/2024/4\"})\n"
                               "ov_core_create(out)\n"
                               "ov_core_get_available_devices(core, out)\n"
                               "ov_core_get_property(core, \"NPU\", \"FULL_DEVICE_NAME\", out)\n"
                               "ov_free(\"Intel(R) AI Boost\")\n"
                               "ov_core_get_property(core, \"NPU\", \"DEVICE_ARCHITECTURE\", out)\n"
                               "ov_free(\"3720\")\n"
                               "ov_core_get_property(core, \"NPU\", \"NPU_DRIVER_VERSION\", out)\n"
                               "ov_free(\"1688\")\n"
                               "ov_available_devices_free({CPU,NPU})\n"
                               "ov_core_free(core)\n";

static void test_intel_fake_runtime(void **state)
{
    fixture *f = *state;
    intel_tree(f, "0x7d1d\n", "intel_vpu", 1);
    put(f, "sys/module/intel_vpu/version", "1.0.0\n", 0);
    snprintf(g_ov_runtime, sizeof g_ov_runtime, "%s", FAKE_OV);
    load_plugins(f);
    /* init called the runtime, exactly so */
    assert_string_equal(read_log(f), ov_calls);
    aria_device d[2];
    assert_int_equal(detect(f, "intel-npu", d, 2), 1);
    assert_int_equal(d[0].available, 1);
    assert_string_equal(d[0].why, "");
    assert_string_equal(d[0].name, "Intel(R) AI Boost");
    assert_string_equal(d[0].generation, "Meteor Lake NPU 3720");
    assert_string_equal(d[0].driver, "intel_vpu 1.0.0, OpenVINO 2024.4.0");
    /* detect reads the context: it calls nothing */
    assert_string_equal(read_log(f), ov_calls);
    /* The device is usable: a file that is not a model is refused for what
     * it is, with nothing called. */
    aria_msg why;
    assert_int_equal(probe(f, "openvino", &why), ARIA_ERR_FORMAT);
    assert_string_equal(read_log(f), ov_calls);
    /* Once called, a runtime stays mapped even after fini: vendor runtimes
     * run threads that crash when their code is unmapped under them. */
    ari_registry_fini(&f->reg);
    ari_registry_init(&f->reg);
    void *h = dlopen(FAKE_OV, RTLD_NOW | RTLD_NOLOAD);
    assert_non_null(h);
    dlclose(h);
}

static void test_intel_fake_no_npu(void **state)
{
    fixture *f = *state;
    intel_tree(f, "0x7d1d\n", "intel_vpu", 1);
    snprintf(g_ov_runtime, sizeof g_ov_runtime, "%s", FAKE_OV);
    setenv("ARIA_FAKE_OV_DEVICES", "CPU,GPU.0,GPU.1", 1);
    load_plugins(f);
    assert_string_equal(read_log(f), "ov_get_openvino_version(out)\n"
                                     "ov_version_free({\"2024.4.0-16579-c3152d32c9c-releases/"
                                     "2024/4\"})\n"
                                     "ov_core_create(out)\n"
                                     "ov_core_get_available_devices(core, out)\n"
                                     "ov_available_devices_free({CPU,GPU.0,GPU.1})\n"
                                     "ov_core_free(core)\n");
    aria_device d[2];
    assert_int_equal(detect(f, "intel-npu", d, 2), 1);
    assert_int_equal(d[0].available, 0);
    assert_string_equal(d[0].name, "Intel NPU (Meteor Lake)");
    assert_string_equal(d[0].driver, "intel_vpu, OpenVINO 2024.4.0");
    assert_has(d[0].why, "OpenVINO 2024.4.0 lists no NPU device");
    aria_msg why;
    assert_int_equal(probe(f, "openvino", &why), ARIA_ERR_UNAVAILABLE);
    assert_string_equal(why.text, "OpenVINO 2024.4.0 lists no NPU device");
}

static void test_intel_fake_missing_entry_point(void **state)
{
    fixture *f = *state;
    intel_tree(f, "0x7d1d\n", "intel_vpu", 1);
    snprintf(g_ov_runtime, sizeof g_ov_runtime, "%s", FAKE_OV_NOPROP);
    load_plugins(f);
    /* every entry point is resolved before the first call */
    assert_string_equal(read_log(f), "");
    aria_device d[2];
    assert_int_equal(detect(f, "intel-npu", d, 2), 1);
    assert_int_equal(d[0].available, 0);
    assert_has(d[0].why, "OpenVINO runtime not loaded: no entry point 'ov_core_get_property' in ");
    aria_msg why;
    assert_int_equal(probe(f, "openvino", &why), ARIA_ERR_UNAVAILABLE);
    assert_string_equal(why.text, "OpenVINO runtime not loaded: no entry point "
                                  "'ov_core_get_property' in " FAKE_OV_NOPROP);
    /* never called, so closed again at once */
    assert_null(dlopen(FAKE_OV_NOPROP, RTLD_NOW | RTLD_NOLOAD));
}

static void test_intel_fake_call_fails(void **state)
{
    fixture *f = *state;
    intel_tree(f, "0x7d1d\n", "intel_vpu", 1);
    snprintf(g_ov_runtime, sizeof g_ov_runtime, "%s", FAKE_OV);
    setenv("ARIA_FAKE_FAIL", "ov_core_create", 1);
    load_plugins(f);
    assert_string_equal(read_log(f), "ov_get_openvino_version(out)\n"
                                     "ov_version_free({\"2024.4.0-16579-c3152d32c9c-releases/"
                                     "2024/4\"})\n"
                                     "ov_core_create(out)\n"
                                     "ov_get_last_err_msg()\n"
                                     "ov_free(\"fake failure of ov_core_create\")\n");
    aria_msg why;
    assert_int_equal(probe(f, "openvino", &why), ARIA_ERR_UNAVAILABLE);
    assert_string_equal(why.text, "OpenVINO runtime not loaded: ov_core_create failed: "
                                  "GENERAL_ERROR: fake failure of ov_core_create");
}

static void test_intel_runtime_not_a_library(void **state)
{
    fixture *f = *state;
    put(f, "junk/libopenvino_c.so", "this is not an ELF file\n", 0);
    snprintf(g_ov_runtime, sizeof g_ov_runtime, "%s/junk/libopenvino_c.so", f->root);
    load_plugins(f);
    aria_msg why;
    assert_int_equal(probe(f, "openvino", &why), ARIA_ERR_UNAVAILABLE);
    char want[600];
    snprintf(want, sizeof want, "OpenVINO runtime not loaded: cannot load %s: ", g_ov_runtime);
    assert_int_equal(strncmp(why.text, want, strlen(want)), 0);
}

/* What the runtime says is as untrusted as what sysfs says. */
static void test_intel_runtime_strings_bounded(void **state)
{
    fixture *f = *state;
    intel_tree(f, "0x7d1d\n", "intel_vpu", 1);
    snprintf(g_ov_runtime, sizeof g_ov_runtime, "%s", FAKE_OV);
    char name[300] = "AI\tBoost";
    memset(name + 8, 'N', 250);
    name[258] = '\0';
    setenv("ARIA_FAKE_OV_NAME", name, 1);
    load_plugins(f);
    aria_device d[2];
    assert_int_equal(detect(f, "intel-npu", d, 2), 1);
    assert_int_equal(d[0].available, 1);
    assert_int_equal(strlen(d[0].name), sizeof d[0].name - 1);
    assert_int_equal(strncmp(d[0].name, "AI?BoostNNN", 11), 0);
}

/* --- Intel: models compiled and run through the runtime ------------------ */

#define MODEL  ARIA_SHARED_DIR "/models/stories260K.gguf"
#define GOLDEN ARIA_SHARED_DIR "/golden/stories260K.greedy-from-bos.200.txt"

typedef struct collect {
    char text[8192];
    size_t len;
    uint32_t n;
    int32_t toks[256];
} collect;

static int on_tok(void *user, const aria_token_event *ev)
{
    collect *c = user;
    if (c->len + ev->text_len < sizeof c->text) {
        memcpy(c->text + c->len, ev->text, ev->text_len);
        c->len += ev->text_len;
    }
    if (c->n < 256)
        c->toks[c->n] = ev->token;
    c->n++;
    return 0;
}

/* Greedy generation of n tokens from BOS, continuing the session. */
static void gen_greedy(const aria_backend_vt *vt, aria_model *m, aria_session *s, uint32_t n,
                       collect *out)
{
    int32_t prompt[4];
    size_t np = 0;
    assert_int_equal(vt->tokenize(m, "", 0, ARIA_TOK_ADD_BOS, prompt, 4, &np), ARIA_OK);
    assert_int_equal(np, 1);
    aria_gen_params gp = {.hdr = {sizeof gp, 1}, .max_tokens = n, .on_token = on_tok, .user = out};
    gp.sampling.top_p = 1;
    gp.sampling.repeat_penalty = 1;
    aria_gen_result res = {.hdr = {sizeof res, 1}};
    aria_msg why = {{0}};
    memset(out, 0, sizeof *out);
    if (vt->generate(s, prompt, np, &gp, &res, &why) != ARIA_OK)
        fail_msg("generate: %s", why.text);
    assert_int_equal(res.n_generated, n);
    assert_int_equal(out->n, n);
}

static char *golden_text(size_t *len)
{
    FILE *f = fopen(GOLDEN, "rb");
    assert_non_null(f);
    char *b = calloc(1, 16384);
    *len = fread(b, 1, 16383, f);
    fclose(f);
    while (*len && b[*len - 1] == '\n')
        b[--*len] = 0;
    return b;
}

static size_t count_lines(const char *path, const char *prefix)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    char line[4096];
    size_t n = 0, pl = strlen(prefix);
    while (fgets(line, sizeof line, f))
        n += strncmp(line, prefix, pl) == 0;
    fclose(f);
    return n;
}

static int file_has(const char *path, const char *want)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = calloc(1, (size_t)n + 1);
    int ok = b && fread(b, 1, (size_t)n, f) == (size_t)n && strstr(b, want) != NULL;
    free(b);
    fclose(f);
    return ok;
}

/* A new session of m decodes the golden text greedily, running the device
 * once per position (runs: lines of the log starting so); then, truncated
 * to position 0, it starts over exactly (the stale cache entries past the
 * position are masked). Returns the session. */
static aria_session *golden_on_device(const fixture *f, const aria_backend_vt *vt, aria_model *m,
                                      const char *runs, const char *path)
{
    aria_session *s = NULL;
    aria_session_params sp = {.hdr = {sizeof sp, 1}};
    aria_msg why = {{0}};
    assert_int_equal(vt->session_new(m, &sp, &s, &why), ARIA_OK);
    collect *c = calloc(1, sizeof *c);
    size_t gl = 0;
    char *gold = golden_text(&gl);
    size_t before = count_lines(f->log, runs);
    gen_greedy(vt, m, s, 200, c);
    if (c->len != gl || memcmp(c->text, gold, gl) != 0)
        fail_msg("the %s path's text differs from the golden output:\n%.*s", path, (int)c->len,
                 c->text);
    /* BOS and the 199 tokens fed back */
    assert_int_equal(count_lines(f->log, runs) - before, 200);
    assert_int_equal(vt->session_truncate(s, 0), ARIA_OK);
    gen_greedy(vt, m, s, 60, c);
    size_t cut = c->len < gl ? c->len : gl;
    assert_true(cut > 100);
    assert_memory_equal(c->text, gold, cut);
    free(c);
    free(gold);
    return s;
}

/* The whole path on the fake runtime, which reads the IR the plugin wrote
 * and executes it by the opset's definitions: the model compiles for the
 * NPU, and greedy decoding gives the golden text. */
static void test_intel_compiles_golden(void **state)
{
    fixture *f = *state;
    intel_tree(f, "0x7d1d\n", "intel_vpu", 1);
    snprintf(g_ov_runtime, sizeof g_ov_runtime, "%s", FAKE_OV);
    char ir[256];
    snprintf(ir, sizeof ir, "%s/graph.xml", f->root);
    setenv("ARIA_FAKE_OV_IR", ir, 1);
    load_plugins(f);
    const ari_iface *it = find(f, ARIA_IFACE_BACKEND, "openvino");
    const aria_backend_vt *vt = it->vt;
    aria_probe pr = {.hdr = {sizeof pr, 1}};
    aria_msg why = {{0}};
    if (vt->probe(it->plugin->ctx, MODEL, &pr, &why) != ARIA_OK)
        fail_msg("probe: %s", why.text);
    assert_true(pr.score > 10); /* above the CPU's generic backend */
    assert_string_equal(pr.arch, "llama");

    aria_load_params lp = {.hdr = {sizeof lp, 1}, .path = MODEL, .model_id = "stories"};
    aria_model *m = NULL;
    if (vt->load(it->plugin->ctx, &lp, &m, &why) != ARIA_OK)
        fail_msg("load: %s", why.text);
    aria_model_info mi = {.hdr = {sizeof mi, 1}};
    assert_int_equal(vt->model_info(m, &mi), ARIA_OK);
    assert_string_equal(mi.id, "stories");
    assert_int_equal(mi.n_vocab, 512);
    assert_true(mi.n_ctx > 200 && mi.n_ctx <= 2048);
    assert_has(read_log(f), "ov_core_read_model_from_memory_buffer(core, ");
    assert_has(read_log(f), "ov_core_compile_model(model, \"NPU\", 0 properties, out)");
    assert_true(file_has(ir, "<net name=\"llama\" version=\"11\">"));
    assert_true(file_has(ir, "names=\"present_key.4\""));

    aria_session *s = golden_on_device(f, vt, m, "ov_infer_request_infer(request)", "NPU");

    /* A context larger than the graph holds is refused. */
    aria_session *big = NULL;
    aria_session_params sp = {.hdr = {sizeof sp, 1}, .n_ctx = mi.n_ctx + 1};
    assert_int_equal(vt->session_new(m, &sp, &big, &why), ARIA_ERR_RANGE);
    assert_null(big);
    assert_has(why.text, "compiled for");
    vt->session_free(s);
    vt->unload(m);
    /* every handle the plugin got back was freed */
    assert_int_equal(count_lines(f->log, "ov_compiled_model_create_infer_request("),
                     count_lines(f->log, "ov_infer_request_free(request)"));
    assert_int_equal(count_lines(f->log, "ov_compiled_model_free(compiled)"), 1);
    assert_int_equal(count_lines(f->log, "ov_model_free(model)"), 1);
    assert_int_equal(count_lines(f->log, "ov_tensor_create_from_host_ptr(") +
                         count_lines(f->log, "ov_infer_request_get_tensor("),
                     count_lines(f->log, "ov_tensor_free(tensor)"));
    assert_int_equal(count_lines(f->log, "ov_tensor_free(FOREIGN)"), 0);
}

/* Each weight form of the graph: F16 (behind a Convert), Q8_0 (i8 blocks
 * times f16 scales) and Q4_0 (dequantized to f16). Teacher-forced along the
 * F32 model's greedy sequence, each quantized model's argmax must agree with
 * the next token at most positions. */
static void test_intel_weight_forms(void **state)
{
    fixture *f = *state;
    snprintf(g_ov_runtime, sizeof g_ov_runtime, "%s", FAKE_OV);
    load_plugins(f);
    const ari_iface *it = find(f, ARIA_IFACE_BACKEND, "openvino");
    const aria_backend_vt *vt = it->vt;
    aria_msg why = {{0}};

    /* the reference: the F32 model's greedy sequence, on the same path */
    aria_load_params lp = {.hdr = {sizeof lp, 1}, .path = MODEL, .model_id = "s", .n_ctx = 256};
    aria_model *m = NULL;
    assert_int_equal(vt->load(it->plugin->ctx, &lp, &m, &why), ARIA_OK);
    aria_session *s = NULL;
    aria_session_params sp = {.hdr = {sizeof sp, 1}};
    assert_int_equal(vt->session_new(m, &sp, &s, &why), ARIA_OK);
    collect *ref = calloc(1, sizeof *ref);
    gen_greedy(vt, m, s, 200, ref);
    aria_model_info mi = {.hdr = {sizeof mi, 1}};
    assert_int_equal(vt->model_info(m, &mi), ARIA_OK);
    int32_t seq[201];
    seq[0] = mi.tok_bos;
    memcpy(seq + 1, ref->toks, 200 * sizeof *seq);
    vt->session_free(s);
    vt->unload(m);

    static const struct {
        const char *type;
        int min_agree;
    } forms[] = {{"F16", 198}, {"Q8_0", 190}, {"Q4_0", 150}};
    float *logits = malloc(50 * (size_t)mi.n_vocab * sizeof *logits);
    for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
        char path[256];
        snprintf(path, sizeof path, "%s/model-%s.gguf", f->root, forms[i].type);
        char *argv[] = {"quantize", MODEL, path, (char *)forms[i].type, NULL};
        assert_int_equal(ari_cmd_quantize(4, argv), 0);
        lp.path = path;
        if (vt->load(it->plugin->ctx, &lp, &m, &why) != ARIA_OK)
            fail_msg("load %s: %s", forms[i].type, why.text);
        aria_model_info qi = {.hdr = {sizeof qi, 1}};
        assert_int_equal(vt->model_info(m, &qi), ARIA_OK);
        assert_string_equal(qi.format, forms[i].type);
        assert_int_equal(vt->session_new(m, &sp, &s, &why), ARIA_OK);
        int agree = 0;
        for (uint32_t p0 = 0; p0 < 200; p0 += 50) {
            aria_batch b = {.hdr = {sizeof b, 1}, .n_tokens = 50, .pos0 = p0, .tokens = seq + p0,
                            .logits_all = 1};
            aria_forward_out fo = {.hdr = {sizeof fo, 1}, .logits = logits};
            if (vt->forward(s, &b, &fo, &why) != ARIA_OK)
                fail_msg("forward %s: %s", forms[i].type, why.text);
            for (uint32_t t = 0; t < 50; t++) {
                const float *lg = logits + (size_t)t * mi.n_vocab;
                int32_t best = 0;
                for (uint32_t v = 1; v < mi.n_vocab; v++)
                    if (lg[v] > lg[best])
                        best = (int32_t)v;
                agree += best == seq[p0 + t + 1];
            }
        }
        printf("%s top-1 agreement with F32 on the NPU path: %d of 200 positions\n",
               forms[i].type, agree);
        if (agree < forms[i].min_agree)
            fail_msg("%s: %d of 200 agree, fewer than %d", forms[i].type, agree,
                     forms[i].min_agree);
        vt->session_free(s);
        vt->unload(m);
    }
    free(logits);
    free(ref);
}

/* [plugin.npu-openvino] device and precision: the model compiles for the
 * device named, with the hint; a device the runtime lacks is refused. */
static void test_intel_compile_other_device(void **state)
{
    fixture *f = *state;
    snprintf(g_ov_runtime, sizeof g_ov_runtime, "%s", FAKE_OV);
    snprintf(g_ov_device, sizeof g_ov_device, "CPU");
    snprintf(g_ov_precision, sizeof g_ov_precision, "f32");
    snprintf(g_ov_dump, sizeof g_ov_dump, "%s/dumped", f->root);
    char fake_ir[256], dumped[256];
    snprintf(fake_ir, sizeof fake_ir, "%s/received.xml", f->root);
    setenv("ARIA_FAKE_OV_IR", fake_ir, 1);
    setenv("ARIA_FAKE_OV_DEVICES", "CPU", 1);
    load_plugins(f);
    const ari_iface *it = find(f, ARIA_IFACE_BACKEND, "openvino");
    const aria_backend_vt *vt = it->vt;
    aria_load_params lp = {.hdr = {sizeof lp, 1}, .path = MODEL, .model_id = "s", .n_ctx = 64};
    aria_model *m = NULL;
    aria_msg why = {{0}};
    if (vt->load(it->plugin->ctx, &lp, &m, &why) != ARIA_OK)
        fail_msg("load: %s", why.text);
    assert_has(read_log(f),
               "ov_core_compile_model(model, \"CPU\", {INFERENCE_PRECISION_HINT=f32}, out)");
    /* dump_ir wrote the graph the runtime received, and its constants */
    snprintf(dumped, sizeof dumped, "%s/dumped.xml", f->root);
    struct stat sa, sb, sw;
    assert_int_equal(stat(dumped, &sa), 0);
    assert_int_equal(stat(fake_ir, &sb), 0);
    assert_int_equal(sa.st_size, sb.st_size);
    assert_true(file_has(dumped, "<layers>"));
    snprintf(dumped, sizeof dumped, "%s/dumped.bin", f->root);
    assert_int_equal(stat(dumped, &sw), 0);
    assert_true(sw.st_size > 1000000); /* stories260K's weights as f32 */
    aria_model_info mi = {.hdr = {sizeof mi, 1}};
    assert_int_equal(vt->model_info(m, &mi), ARIA_OK);
    assert_int_equal(mi.n_ctx, 64);
    aria_session *s = NULL;
    aria_session_params sp = {.hdr = {sizeof sp, 1}};
    assert_int_equal(vt->session_new(m, &sp, &s, &why), ARIA_OK);
    /* the context is full after 64 positions */
    collect *c = calloc(1, sizeof *c);
    int32_t bos[1] = {1};
    aria_gen_params gp = {.hdr = {sizeof gp, 1}, .max_tokens = 100, .on_token = on_tok, .user = c};
    gp.sampling.top_p = 1;
    gp.sampling.repeat_penalty = 1;
    aria_gen_result res = {.hdr = {sizeof res, 1}};
    assert_int_equal(vt->generate(s, bos, 1, &gp, &res, &why), ARIA_OK);
    assert_int_equal(res.finish, ARIA_FINISH_CONTEXT);
    assert_true(res.n_generated >= 62 && res.n_generated <= 64);
    vt->session_free(s);
    vt->unload(m);
    free(c);

    snprintf(g_ov_device, sizeof g_ov_device, "GPU.1");
    ari_registry_fini(&f->reg);
    ari_registry_init(&f->reg);
    load_plugins(f);
    it = find(f, ARIA_IFACE_BACKEND, "openvino");
    aria_probe pr = {.hdr = {sizeof pr, 1}};
    assert_int_equal(((const aria_backend_vt *)it->vt)->probe(it->plugin->ctx, MODEL, &pr, &why),
                     ARIA_ERR_UNAVAILABLE);
    assert_int_equal(pr.score, 0);
    assert_string_equal(why.text, "OpenVINO 2024.4.0 lists no device 'GPU.1' "
                                  "([plugin.npu-openvino] device)");
}

/* The runtime refuses: load fails with the runtime's own reason, every
 * handle is freed, and the plugin stays usable. */
static void test_intel_compile_fails(void **state)
{
    fixture *f = *state;
    intel_tree(f, "0x7d1d\n", "intel_vpu", 1);
    snprintf(g_ov_runtime, sizeof g_ov_runtime, "%s", FAKE_OV);
    load_plugins(f);
    const ari_iface *it = find(f, ARIA_IFACE_BACKEND, "openvino");
    const aria_backend_vt *vt = it->vt;
    static const struct {
        const char *fn, *want;
    } cases[] = {
        {"ov_core_compile_model", "ov_core_compile_model for NPU failed: GENERAL_ERROR: fake "
                                  "failure of ov_core_compile_model"},
        {"ov_core_read_model_from_memory_buffer",
         "ov_core_read_model_from_memory_buffer failed: GENERAL_ERROR: fake failure of "
         "ov_core_read_model_from_memory_buffer"},
        {"ov_tensor_create_from_host_ptr", "ov_tensor_create_from_host_ptr failed: GENERAL_ERROR"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        setenv("ARIA_FAKE_FAIL", cases[i].fn, 1);
        aria_load_params lp = {.hdr = {sizeof lp, 1}, .path = MODEL, .model_id = "s", .n_ctx = 32};
        aria_model *m = NULL;
        aria_msg why = {{0}};
        assert_int_not_equal(vt->load(it->plugin->ctx, &lp, &m, &why), ARIA_OK);
        assert_null(m);
        assert_has(why.text, cases[i].want);
    }
    /* an inference request that cannot be made fails the session only */
    unsetenv("ARIA_FAKE_FAIL");
    aria_load_params lp = {.hdr = {sizeof lp, 1}, .path = MODEL, .model_id = "s", .n_ctx = 32};
    aria_model *m = NULL;
    aria_msg why = {{0}};
    assert_int_equal(vt->load(it->plugin->ctx, &lp, &m, &why), ARIA_OK);
    setenv("ARIA_FAKE_FAIL", "ov_compiled_model_create_infer_request", 1);
    aria_session *s = NULL;
    aria_session_params sp = {.hdr = {sizeof sp, 1}};
    assert_int_not_equal(vt->session_new(m, &sp, &s, &why), ARIA_OK);
    assert_null(s);
    assert_has(why.text, "ov_compiled_model_create_infer_request failed");
    /* and an inference that fails ends the generation with its reason */
    setenv("ARIA_FAKE_FAIL", "ov_infer_request_infer", 1);
    assert_int_equal(vt->session_new(m, &sp, &s, &why), ARIA_OK);
    collect *c = calloc(1, sizeof *c);
    int32_t bos[1] = {1};
    aria_gen_params gp = {.hdr = {sizeof gp, 1}, .max_tokens = 5, .on_token = on_tok, .user = c};
    gp.sampling.top_p = 1;
    gp.sampling.repeat_penalty = 1;
    aria_gen_result res = {.hdr = {sizeof res, 1}};
    assert_int_not_equal(vt->generate(s, bos, 1, &gp, &res, &why), ARIA_OK);
    assert_has(why.text, "ov_infer_request_infer failed");
    unsetenv("ARIA_FAKE_FAIL");
    vt->session_free(s);
    vt->unload(m);
    free(c);
}

/* --- Qualcomm ----------------------------------------------------------- */

static void test_qualcomm_absent(void **state)
{
    fixture *f = *state;
    load_plugins(f);
    aria_device d[2];
    assert_int_equal(detect(f, "qualcomm-npu", d, 2), 0);
    put(f, "sys/devices/soc0/machine", "SM8650\n", 0); /* a SoC, but no DSP nodes */
    assert_int_equal(detect(f, "qualcomm-npu", d, 2), 0);
    assert_int_equal(detect(f, "qualcomm-npu", d, 0), 0);
}

static void test_qualcomm_present_no_runtime(void **state)
{
    fixture *f = *state;
    qualcomm_tree(f);
    load_plugins(f);
    aria_device d[2];
    assert_int_equal(detect(f, "qualcomm-npu", d, 2), 1);
    assert_string_equal(d[0].vendor, "Qualcomm");
    assert_string_equal(d[0].name, "Hexagon NPU (Snapdragon SM8650)");
    assert_string_equal(d[0].generation, "Hexagon v75");
    assert_string_equal(d[0].driver, "fastrpc");
    char node[256];
    snprintf(node, sizeof node, "%s/fastrpc-cdsp", f->dev);
    assert_string_equal(d[0].path, node);
    assert_int_equal(d[0].available, 0);
    assert_has(d[0].why, "QNN runtime not loaded: cannot load ");
    assert_has(d[0].why, "/nowhere/libQnnHtp.so");
    aria_msg why;
    assert_int_equal(probe(f, "qnn", &why), ARIA_ERR_UNAVAILABLE);
    assert_has(why.text, "/nowhere/libQnnHtp.so: cannot open shared object file");
}

static void test_qualcomm_nodes(void **state)
{
    fixture *f = *state;
    put(f, "dev/fastrpc-adsp", "", 1);
    put(f, "sys/devices/soc0/machine", "SA8295P\n", 0);
    put(f, "sys/module/fastrpc/version", "2.0\n", 0);
    load_plugins(f);
    aria_device d[2];
    /* only the audio DSP */
    assert_int_equal(detect(f, "qualcomm-npu", d, 2), 1);
    assert_string_equal(d[0].name, "Hexagon NPU (SA8295P)"); /* no family file */
    assert_string_equal(d[0].generation, "Hexagon v68");
    assert_string_equal(d[0].driver, "fastrpc 2.0");
    assert_int_equal(d[0].available, 0);
    assert_has(d[0].why, "only the audio DSP (");
    assert_has(d[0].why, "/fastrpc-adsp); no compute DSP node fastrpc-cdsp");
    /* the signed-PD node alone is a compute DSP */
    put(f, "dev/fastrpc-cdsp-secure", "", 1);
    assert_int_equal(detect(f, "qualcomm-npu", d, 2), 1);
    assert_has(d[0].path, "/fastrpc-cdsp-secure");
    assert_has(d[0].why, "QNN runtime not loaded");
    /* a compute DSP node that does not open */
    unopenable(f, "dev/fastrpc-cdsp");
    assert_int_equal(detect(f, "qualcomm-npu", d, 2), 1);
    char want[300];
    snprintf(want, sizeof want, "cannot open %s/fastrpc-cdsp: %s", f->dev,
             strerror(geteuid() == 0 ? EISDIR : EACCES));
    assert_string_equal(d[0].why, want);
}

static void test_qualcomm_garbage(void **state)
{
    fixture *f = *state;
    put(f, "dev/fastrpc-cdsp", "", 1);
    char junk[1000];
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (char)(0x80 + i % 100);
    junk[3] = '\x07';
    put(f, "sys/devices/soc0/machine", junk, sizeof junk);
    put(f, "sys/devices/soc0/family", "Snapdragon\x1b[31m\n", 0);
    put(f, "sys/devices/soc0/soc_id", "12abc\n", 0);
    load_plugins(f);
    aria_device d[2];
    assert_int_equal(detect(f, "qualcomm-npu", d, 2), 1);
    assert_int_equal(strncmp(d[0].name, "Hexagon NPU (", 13), 0);
    assert_string_equal(d[0].generation, "");
    /* and with no SoC files at all */
    char p[256];
    snprintf(p, sizeof p, "%s/devices/soc0", f->sys);
    nftw(p, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    assert_int_equal(detect(f, "qualcomm-npu", d, 2), 1);
    assert_string_equal(d[0].name, "Hexagon NPU");
    assert_string_equal(d[0].generation, "");
}

static const char qnn_calls[] = "QnnInterface_getProviders(out, out)\n"
                                "backendGetApiVersion(out)\n"
                                "backendGetBuildId(out)\n"
                                "deviceGetPlatformInfo(NULL, out)\n"
                                "deviceFreePlatformInfo(NULL, platform)\n";

static void test_qualcomm_fake_runtime(void **state)
{
    fixture *f = *state;
    put(f, "dev/fastrpc-cdsp", "", 1);
    snprintf(g_qnn_runtime, sizeof g_qnn_runtime, "%s", FAKE_QNN);
    load_plugins(f);
    assert_string_equal(read_log(f), qnn_calls);
    aria_device d[2];
    assert_int_equal(detect(f, "qualcomm-npu", d, 2), 1);
    assert_int_equal(d[0].available, 1);
    assert_string_equal(d[0].why, "");
    /* no soc0 in the tree: the SoC comes from the runtime's platform info */
    assert_string_equal(d[0].name, "Hexagon NPU (SM8650)");
    assert_string_equal(d[0].generation, "Hexagon v75");
    assert_string_equal(d[0].driver, "fastrpc, QNN API 2.32.0");
    assert_int_equal(d[0].cores, 1);
    assert_string_equal(read_log(f), qnn_calls);
    /* The HTP is usable: a file that is not a model is refused for what it
     * is, with nothing called. */
    aria_msg why;
    assert_int_equal(probe(f, "qnn", &why), ARIA_ERR_FORMAT);
    assert_string_equal(read_log(f), qnn_calls);
}

/* The whole path on the fake HTP, which records the graph the plugin builds
 * through the interface table and executes it by QNN's op definitions:
 * greedy decoding gives the golden text. */
static void test_qualcomm_graph_golden(void **state)
{
    fixture *f = *state;
    put(f, "dev/fastrpc-cdsp", "", 1);
    snprintf(g_qnn_runtime, sizeof g_qnn_runtime, "%s", FAKE_QNN);
    load_plugins(f);
    const ari_iface *it = find(f, ARIA_IFACE_BACKEND, "qnn");
    const aria_backend_vt *vt = it->vt;
    aria_probe pr = {.hdr = {sizeof pr, 1}};
    aria_msg why = {{0}};
    if (vt->probe(it->plugin->ctx, MODEL, &pr, &why) != ARIA_OK)
        fail_msg("probe: %s", why.text);
    assert_true(pr.score > 10);
    aria_load_params lp = {.hdr = {sizeof lp, 1}, .path = MODEL, .model_id = "stories",
                           .n_ctx = 256};
    aria_model *m = NULL;
    if (vt->load(it->plugin->ctx, &lp, &m, &why) != ARIA_OK)
        fail_msg("load: %s", why.text);
    const char *log = read_log(f);
    assert_has(log, "backendCreate(NULL, NULL, out)");
    assert_has(log, "contextCreate(backend, device, NULL, out)");
    assert_has(log, "graphCreate(context, \"aria\", {CUSTOM HTP precision=FLOAT16}, out)");
    assert_has(log, "graphFinalize(graph, NULL, NULL)");
    assert_true(count_lines(f->log, "graphAddNode(") > 200);

    aria_session *s = golden_on_device(f, vt, m, "graphExecute(graph, ", "HTP");
    vt->session_free(s);
    vt->unload(m);
    assert_int_equal(count_lines(f->log, "contextFree(context, NULL)"), 1);
    assert_int_equal(count_lines(f->log, "backendFree(backend)"), 1);
}

/* The backend refuses: load fails with the slot and its error, every handle
 * made so far is freed, and the plugin stays usable. */
static void test_qualcomm_graph_fails(void **state)
{
    fixture *f = *state;
    put(f, "dev/fastrpc-cdsp", "", 1);
    snprintf(g_qnn_runtime, sizeof g_qnn_runtime, "%s", FAKE_QNN);
    load_plugins(f);
    const ari_iface *it = find(f, ARIA_IFACE_BACKEND, "qnn");
    const aria_backend_vt *vt = it->vt;
    static const char *const slots[] = {"backendCreate", "contextCreate", "graphCreate",
                                        "graphFinalize"};
    for (size_t i = 0; i < sizeof slots / sizeof slots[0]; i++) {
        setenv("ARIA_FAKE_FAIL", slots[i], 1);
        aria_load_params lp = {.hdr = {sizeof lp, 1}, .path = MODEL, .model_id = "s", .n_ctx = 32};
        aria_model *m = NULL;
        aria_msg why = {{0}};
        assert_int_not_equal(vt->load(it->plugin->ctx, &lp, &m, &why), ARIA_OK);
        assert_null(m);
        char want[64];
        snprintf(want, sizeof want, "%s failed (QNN error ", slots[i]);
        assert_has(why.text, want);
    }
    assert_int_equal(count_lines(f->log, "backendCreate(") - 1,
                     count_lines(f->log, "backendFree(backend)"));
    /* a run that fails ends the generation with its reason */
    unsetenv("ARIA_FAKE_FAIL");
    aria_load_params lp = {.hdr = {sizeof lp, 1}, .path = MODEL, .model_id = "s", .n_ctx = 32};
    aria_model *m = NULL;
    aria_msg why = {{0}};
    assert_int_equal(vt->load(it->plugin->ctx, &lp, &m, &why), ARIA_OK);
    aria_session *s = NULL;
    aria_session_params sp = {.hdr = {sizeof sp, 1}};
    assert_int_equal(vt->session_new(m, &sp, &s, &why), ARIA_OK);
    setenv("ARIA_FAKE_FAIL", "graphExecute", 1);
    collect *c = calloc(1, sizeof *c);
    int32_t bos[1] = {1};
    aria_gen_params gp = {.hdr = {sizeof gp, 1}, .max_tokens = 5, .on_token = on_tok, .user = c};
    gp.sampling.top_p = 1;
    gp.sampling.repeat_penalty = 1;
    aria_gen_result res = {.hdr = {sizeof res, 1}};
    assert_int_not_equal(vt->generate(s, bos, 1, &gp, &res, &why), ARIA_OK);
    assert_has(why.text, "graphExecute failed");
    unsetenv("ARIA_FAKE_FAIL");
    vt->session_free(s);
    vt->unload(m);
    free(c);
}

/* An SDK older than the graph structs: the HTP is detected and usable for
 * what detection says, but no model is built for it, and probe says why. */
static void test_qualcomm_old_api(void **state)
{
    fixture *f = *state;
    qualcomm_tree(f);
    snprintf(g_qnn_runtime, sizeof g_qnn_runtime, "%s", FAKE_QNN);
    setenv("ARIA_FAKE_QNN_MODE", "old", 1);
    load_plugins(f);
    aria_device d[2];
    assert_int_equal(detect(f, "qualcomm-npu", d, 2), 1);
    assert_int_equal(d[0].available, 1);
    assert_string_equal(d[0].driver, "fastrpc, QNN API 2.14.0");
    const ari_iface *it = find(f, ARIA_IFACE_BACKEND, "qnn");
    aria_probe pr = {.hdr = {sizeof pr, 1}};
    aria_msg why = {{0}};
    assert_int_equal(((const aria_backend_vt *)it->vt)->probe(it->plugin->ctx, MODEL, &pr, &why),
                     ARIA_ERR_UNAVAILABLE);
    assert_int_equal(pr.score, 0);
    assert_string_equal(why.text, "QNN core API 2.14.0 is older than 2.32, whose graph structs "
                                  "this plugin lays out: no model is built for it (a newer "
                                  "QAIRT SDK has them)");
    assert_int_equal(count_lines(f->log, "backendCreate("), 0);
}

static void test_qualcomm_fake_modes(void **state)
{
    fixture *f = *state;
    qualcomm_tree(f);
    snprintf(g_qnn_runtime, sizeof g_qnn_runtime, "%s", FAKE_QNN);
    const struct {
        const char *mode, *why, *calls;
    } cases[] = {
        {"mismatch",
         "QNN runtime not loaded: backendGetApiVersion says core API 2.99.0, the provider 2.32.0: "
         "QnnInterface_t is not laid out as QNN API 2 says",
         "QnnInterface_getProviders(out, out)\nbackendGetApiVersion(out)\n"},
        {"badslot",
         "QNN runtime not loaded: backendGetBuildId (slot 4 of QnnInterface_t) does not point "
         "into " FAKE_QNN ": the table is not laid out as QNN API 2 says",
         "QnnInterface_getProviders(out, out)\nbackendGetApiVersion(out)\n"},
        {"nov2",
         "QNN runtime not loaded: " FAKE_QNN " has no provider of QNN core API 2.x (found 3.0.0)",
         "QnnInterface_getProviders(out, out)\n"},
        {"noplatform",
         "QNN 2.32.0 loaded, but deviceGetPlatformInfo failed (QNN error 1000): no HTP reachable, "
         "or an offline-preparation build",
         "QnnInterface_getProviders(out, out)\nbackendGetApiVersion(out)\nbackendGetBuildId(out)\n"
         "deviceGetPlatformInfo(NULL, out)\n"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        setenv("ARIA_FAKE_QNN_MODE", cases[i].mode, 1);
        unlink(f->log);
        load_plugins(f);
        assert_string_equal(read_log(f), cases[i].calls);
        aria_msg why;
        assert_int_equal(probe(f, "qnn", &why), ARIA_ERR_UNAVAILABLE);
        assert_string_equal(why.text, cases[i].why);
        aria_device d[2];
        assert_int_equal(detect(f, "qualcomm-npu", d, 2), 1);
        assert_int_equal(d[0].available, 0);
        assert_string_equal(d[0].generation, "Hexagon v75"); /* from the SoC name */
        ari_registry_fini(&f->reg);
        ari_registry_init(&f->reg);
    }
}

static void test_qualcomm_fake_missing_entry_point(void **state)
{
    fixture *f = *state;
    qualcomm_tree(f);
    snprintf(g_qnn_runtime, sizeof g_qnn_runtime, "%s", FAKE_QNN_NOENTRY);
    load_plugins(f);
    assert_string_equal(read_log(f), "");
    aria_device d[2];
    assert_int_equal(detect(f, "qualcomm-npu", d, 2), 1);
    assert_int_equal(d[0].available, 0);
    assert_has(d[0].why, "QNN runtime not loaded: no entry point 'QnnInterface_getProviders' in ");
    aria_msg why;
    assert_int_equal(probe(f, "qnn", &why), ARIA_ERR_UNAVAILABLE);
    assert_string_equal(why.text, "QNN runtime not loaded: no entry point "
                                  "'QnnInterface_getProviders' in " FAKE_QNN_NOENTRY);
    assert_null(dlopen(FAKE_QNN_NOENTRY, RTLD_NOW | RTLD_NOLOAD)); /* never called: closed */
}

/* --- through core ------------------------------------------------------- */

/* What `aria-core hardware` prints for these detectors. */
static void test_hardware_report(void **state)
{
    fixture *f = *state;
    intel_tree(f, "0x7d1d\n", "intel_vpu", 1);
    put(f, "sys/module/intel_vpu/version", "1.0.0\n", 0);
    qualcomm_tree(f);
    snprintf(g_ov_runtime, sizeof g_ov_runtime, "%s", FAKE_OV);
    load_plugins(f);
    const aria_detector_vt *dets[2];
    void *ctxs[2];
    const ari_iface *i1 = find(f, ARIA_IFACE_DETECTOR, "intel-npu");
    const ari_iface *i2 = find(f, ARIA_IFACE_DETECTOR, "qualcomm-npu");
    dets[0] = i1->vt;
    ctxs[0] = i1->plugin->ctx;
    dets[1] = i2->vt;
    ctxs[1] = i2->plugin->ctx;
    aria_detect_env env = {
        .hdr = {sizeof env, 1}, .sysfs_root = f->sys, .dev_root = f->dev, .proc_root = f->proc};
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    assert_int_equal(ari_hardware_print(out, 0, &env, dets, ctxs, 2), 0);
    fclose(out);
    assert_has(text, "npu      Intel  Intel(R) AI Boost  Meteor Lake NPU 3720  driver intel_vpu "
                     "1.0.0, OpenVINO 2024.4.0\n");
    assert_has(text, "npu      Qualcomm  Hexagon NPU (Snapdragon SM8650)  Hexagon v75  driver "
                     "fastrpc  (not available: QNN runtime not loaded: cannot load ");
    free(text);
    text = NULL;
    out = open_memstream(&text, &len);
    assert_int_equal(ari_hardware_print(out, 1, &env, dets, ctxs, 2), 0);
    fclose(out);
    assert_has(text, "\"name\": \"Intel(R) AI Boost\"");
    assert_has(text, "\"available\": true");
    assert_has(text, "\"available\": false");
    free(text);
}

static void test_detect_bad_args(void **state)
{
    fixture *f = *state;
    load_plugins(f);
    const char *names[] = {"intel-npu", "qualcomm-npu"};
    for (size_t i = 0; i < 2; i++) {
        const ari_iface *it = find(f, ARIA_IFACE_DETECTOR, names[i]);
        const aria_detector_vt *vt = it->vt;
        aria_detect_env env = {.hdr = {sizeof env, 1}, .sysfs_root = f->sys, .dev_root = f->dev};
        aria_device d[1];
        size_t n = 7;
        aria_msg why = {{0}};
        assert_int_equal(vt->detect(it->plugin->ctx, &env, d, 1, NULL, &why), ARIA_ERR_INVALID);
        assert_int_equal(vt->detect(it->plugin->ctx, &env, NULL, 1, &n, &why), ARIA_ERR_INVALID);
        assert_int_equal(vt->detect(it->plugin->ctx, NULL, d, 1, &n, &why), ARIA_ERR_INVALID);
        assert_int_equal(n, 0);
        assert_has(why.text, names[i]);
        /* and without the plugin's context: the runtime is simply unknown */
        assert_int_equal(vt->detect(NULL, &env, d, 1, &n, &why), ARIA_OK);
        assert_int_equal(n, 0);
    }
}

/* A node with both plugins and no runtime: they load, and a model file is
 * refused by both with their reasons, which core passes on. */
static void test_node_goes_on(void **state)
{
    fixture *f = *state;
    load_plugins(f);
    assert_int_equal(f->reg.n_plugins, 2);
    assert_non_null(find(f, ARIA_IFACE_BACKEND, "openvino"));
    assert_non_null(find(f, ARIA_IFACE_BACKEND, "qnn"));
    put(f, "model.gguf", "GGUF\3\0\0\0", 8);
    char path[256];
    snprintf(path, sizeof path, "%s/model.gguf", f->root);
    const ari_iface *best = NULL;
    aria_probe pr;
    aria_msg why = {{0}};
    assert_int_equal(ari_model_pick(&f->reg, path, &best, &pr, &why), ARIA_ERR_UNSUPPORTED);
    assert_null(best);
    assert_has(why.text, "openvino: OpenVINO runtime not loaded: cannot load ");
    /* the descriptor declares the runtime key, with its default, for aria.ini */
    assert_string_equal(ari_config_get(f->cfg, "plugin.npu-openvino", "runtime"),
                        "libopenvino_c.so");
    assert_string_equal(ari_config_get(f->cfg, "plugin.npu-qnn", "runtime"), "libQnnHtp.so");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ffi_signatures),
        cmocka_unit_test(test_ffi_libc),
        cmocka_unit_test_setup_teardown(test_ffi_fake_runtime, setup, teardown),
        cmocka_unit_test_setup_teardown(test_intel_absent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_intel_present_no_runtime, setup, teardown),
        cmocka_unit_test_setup_teardown(test_intel_ids, setup, teardown),
        cmocka_unit_test_setup_teardown(test_intel_wrong_driver, setup, teardown),
        cmocka_unit_test_setup_teardown(test_intel_no_driver, setup, teardown),
        cmocka_unit_test_setup_teardown(test_intel_node_missing_or_unopenable, setup, teardown),
        cmocka_unit_test_setup_teardown(test_intel_garbage, setup, teardown),
        cmocka_unit_test_setup_teardown(test_intel_fake_runtime, setup, teardown),
        cmocka_unit_test_setup_teardown(test_intel_fake_no_npu, setup, teardown),
        cmocka_unit_test_setup_teardown(test_intel_fake_missing_entry_point, setup, teardown),
        cmocka_unit_test_setup_teardown(test_intel_fake_call_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(test_intel_runtime_not_a_library, setup, teardown),
        cmocka_unit_test_setup_teardown(test_intel_runtime_strings_bounded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_intel_compiles_golden, setup, teardown),
        cmocka_unit_test_setup_teardown(test_intel_weight_forms, setup, teardown),
        cmocka_unit_test_setup_teardown(test_intel_compile_other_device, setup, teardown),
        cmocka_unit_test_setup_teardown(test_intel_compile_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(test_qualcomm_absent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_qualcomm_present_no_runtime, setup, teardown),
        cmocka_unit_test_setup_teardown(test_qualcomm_nodes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_qualcomm_garbage, setup, teardown),
        cmocka_unit_test_setup_teardown(test_qualcomm_fake_runtime, setup, teardown),
        cmocka_unit_test_setup_teardown(test_qualcomm_graph_golden, setup, teardown),
        cmocka_unit_test_setup_teardown(test_qualcomm_graph_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(test_qualcomm_old_api, setup, teardown),
        cmocka_unit_test_setup_teardown(test_qualcomm_fake_modes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_qualcomm_fake_missing_entry_point, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hardware_report, setup, teardown),
        cmocka_unit_test_setup_teardown(test_detect_bad_args, setup, teardown),
        cmocka_unit_test_setup_teardown(test_node_goes_on, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
