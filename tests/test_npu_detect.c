/* test_npu_detect.c — the npu-detect plugin (plugins/npu-detect), loaded
 * with core's loader and called through its detector vtables, on fake sysfs
 * and /dev trees: XDNA and XDNA2 parts, both at once, other accel drivers,
 * a missing or closed device node, garbage attributes, no accel class; then
 * `aria-core hardware` on such a tree. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "cpu.h"
#include "host.h"
#include "loader.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <grp.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define NPU_PLUGIN ARIA_PLUGIN_DIR "/npu-detect.so"
#define MAX_OUT    8

typedef struct fixture {
    ari_config *cfg;
    ari_registry reg;
    aria_cpu_info cpu;
    aria_host host;
    void *ctx;
    const aria_detector_vt *amd, *ane;
    char root[64]; /* this test's temporary directory */
    char sys[128], dev[128], proc[128];
    aria_detect_env env;
} fixture;

/* ---- the fake tree ------------------------------------------------------- */

static void mkdirs_for(char *path)
{
    for (char *p = path + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            mkdir(path, 0755);
            *p = '/';
        }
}

/* Writes ROOT/rel; len 0 means strlen(text). */
static void put_n(const fixture *f, const char *rel, const char *text, size_t len)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", f->root, rel);
    mkdirs_for(path);
    FILE *o = fopen(path, "wb");
    assert_non_null(o);
    size_t n = len ? len : strlen(text);
    assert_int_equal(fwrite(text, 1, n, o), n);
    fclose(o);
}

static void put(const fixture *f, const char *rel, const char *text)
{
    put_n(f, rel, text, 0);
}

static void link_to(const fixture *f, const char *rel, const char *target)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", f->root, rel);
    mkdirs_for(path);
    assert_int_equal(symlink(target, path), 0);
}

static void mkdir_rel(const fixture *f, const char *rel)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s/", f->root, rel);
    mkdirs_for(path);
}

/* One PCI function bound to `driver` with accel minor n, laid out as the
 * kernel does: the class entry and the function's "device" and "driver"
 * are relative symlinks. ids are the file contents ("0x1502\n"); NULL leaves
 * a file out. node: also create dev/accel/accelN (mode 0600). */
static void put_accel(const fixture *f, int n, const char *bdf, const char *driver,
                      const char *vendor, const char *device, const char *rev, int node)
{
    char rel[256], tgt[256];
    const char *ids[3] = {vendor, device, rev}, *names[3] = {"vendor", "device", "revision"};
    for (int k = 0; k < 3; k++)
        if (ids[k]) {
            snprintf(rel, sizeof rel, "sys/devices/pci0000:00/%s/%s", bdf, names[k]);
            put(f, rel, ids[k]);
        }
    snprintf(rel, sizeof rel, "sys/bus/pci/drivers/%s", driver);
    mkdir_rel(f, rel);
    snprintf(rel, sizeof rel, "sys/devices/pci0000:00/%s/driver", bdf);
    snprintf(tgt, sizeof tgt, "../../../bus/pci/drivers/%s", driver);
    link_to(f, rel, tgt);
    snprintf(rel, sizeof rel, "sys/devices/pci0000:00/%s/accel/accel%d/dev", bdf, n);
    snprintf(tgt, sizeof tgt, "261:%d\n", n);
    put(f, rel, tgt);
    snprintf(rel, sizeof rel, "sys/devices/pci0000:00/%s/accel/accel%d/device", bdf, n);
    snprintf(tgt, sizeof tgt, "../../../%s", bdf);
    link_to(f, rel, tgt);
    snprintf(rel, sizeof rel, "sys/class/accel/accel%d", n);
    snprintf(tgt, sizeof tgt, "../../devices/pci0000:00/%s/accel/accel%d", bdf, n);
    link_to(f, rel, tgt);
    if (node) {
        snprintf(rel, sizeof rel, "dev/accel/accel%d", n);
        put(f, rel, "");
        char path[512];
        snprintf(path, sizeof path, "%s/%s", f->root, rel);
        assert_int_equal(chmod(path, 0600), 0);
    }
}

static void put_attr(const fixture *f, const char *bdf, const char *name, const char *text)
{
    char rel[256];
    snprintf(rel, sizeof rel, "sys/devices/pci0000:00/%s/%s", bdf, name);
    put(f, rel, text);
}

#define PHOENIX "0000:c4:00.1"
#define STRIX   "0000:c5:00.1"

/* ---- fixture -------------------------------------------------------------- */

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    snprintf(f->root, sizeof f->root, "/tmp/aria-npu-XXXXXX");
    if (!mkdtemp(f->root))
        return -1;
    snprintf(f->sys, sizeof f->sys, "%s/sys", f->root);
    snprintf(f->dev, sizeof f->dev, "%s/dev", f->root);
    snprintf(f->proc, sizeof f->proc, "%s/proc", f->root);
    mkdir(f->sys, 0755);
    mkdir(f->dev, 0755);
    mkdir(f->proc, 0755);
    f->env = (aria_detect_env){
        .hdr = {sizeof f->env, 1}, .sysfs_root = f->sys, .dev_root = f->dev, .proc_root = f->proc};

    f->cfg = ari_config_new();
    ari_registry_init(&f->reg);
    ari_cpu_detect(NULL, &f->cpu);
    ari_host_init(&f->host, f->cfg, &f->reg, &f->cpu, "/tmp", 1);
    aria_msg why = {{0}};
    if (ari_load_file(&f->reg, NPU_PLUGIN, &f->host, f->cfg, &why) != ARIA_OK) {
        fprintf(stderr, "%s: %s\n", NPU_PLUGIN, why.text);
        return -1;
    }
    for (size_t i = 0;; i++) {
        const ari_iface *d = ari_registry_iface(&f->reg, ARIA_IFACE_DETECTOR, i);
        if (!d)
            break;
        const aria_detector_vt *vt = d->vt;
        if (!strcmp(vt->name, "amd-npu"))
            f->amd = vt;
        else if (!strcmp(vt->name, "apple-ane"))
            f->ane = vt;
        f->ctx = d->plugin->ctx;
    }
    *state = f;
    return f->amd && f->ane ? 0 : -1;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int teardown(void **state)
{
    fixture *f = *state;
    int rc = nftw(f->root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    ari_registry_fini(&f->reg);
    ari_config_free(f->cfg);
    free(f);
    return rc;
}

/* Runs the AMD detector; every slot past *n must stay untouched. */
static size_t detect_amd(fixture *f, aria_device *out, size_t cap)
{
    memset(out, 0xa5, MAX_OUT * sizeof *out);
    size_t n = 12345;
    aria_msg why = {{0}};
    assert_int_equal(f->amd->detect(f->ctx, &f->env, out, cap, &n, &why), ARIA_OK);
    assert_true(n <= cap);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(out[i].hdr.struct_size, sizeof out[i]);
        assert_int_equal(out[i].hdr.version, ARIA_DETECTOR_VERSION);
        assert_int_equal(out[i].kind, ARIA_DEV_NPU);
        /* every text field is terminated inside its array */
        assert_non_null(memchr(out[i].vendor, 0, sizeof out[i].vendor));
        assert_non_null(memchr(out[i].name, 0, sizeof out[i].name));
        assert_non_null(memchr(out[i].generation, 0, sizeof out[i].generation));
        assert_non_null(memchr(out[i].driver, 0, sizeof out[i].driver));
        assert_non_null(memchr(out[i].path, 0, sizeof out[i].path));
        assert_non_null(memchr(out[i].why, 0, sizeof out[i].why));
        assert_int_equal(out[i].features, 0);
    }
    if (n < MAX_OUT)
        assert_int_equal(((unsigned char *)&out[n])[0], 0xa5);
    return n;
}

static void assert_node(const fixture *f, const aria_device *d, int n)
{
    char want[256];
    snprintf(want, sizeof want, "%s/accel/accel%d", f->dev, n);
    assert_string_equal(d->path, want);
}

/* ---- the AMD detector ------------------------------------------------------ */

static void test_xdna_phoenix(void **state)
{
    fixture *f = *state;
    put_accel(f, 0, PHOENIX, "amdxdna", "0x1022\n", "0x1502\n", "0x00\n", 1);
    put(f, "sys/module/amdxdna/version", "0.1\n");
    put_attr(f, PHOENIX, "fw_version", "1.5.2.380\n");
    aria_device d[MAX_OUT];
    assert_int_equal(detect_amd(f, d, MAX_OUT), 1);
    assert_string_equal(d[0].vendor, "AMD");
    assert_string_equal(d[0].name, "NPU Phoenix");
    assert_string_equal(d[0].generation, "XDNA");
    assert_string_equal(d[0].driver, "amdxdna 0.1, firmware 1.5.2.380");
    assert_int_equal(d[0].available, 1);
    assert_string_equal(d[0].why, "");
    assert_node(f, &d[0], 0);
    /* the kernel exposes neither in sysfs: unknown */
    assert_int_equal(d[0].tops, 0);
    assert_int_equal(d[0].cores, 0);
    assert_int_equal(d[0].mem_bytes, 0);
}

static void test_xdna2_strix(void **state)
{
    fixture *f = *state;
    /* in-tree driver: no module version, no firmware attribute */
    put_accel(f, 0, STRIX, "amdxdna", "0x1022\n", "0x17f0\n", "0x10\n", 1);
    aria_device d[MAX_OUT];
    assert_int_equal(detect_amd(f, d, MAX_OUT), 1);
    assert_string_equal(d[0].name, "NPU Strix");
    assert_string_equal(d[0].generation, "XDNA2");
    assert_string_equal(d[0].driver, "amdxdna");
    assert_int_equal(d[0].available, 1);
}

/* Each (device, revision) the driver knows, and the driver's own vbnv name
 * winning over the table's. */
static void test_xdna_parts(void **state)
{
    fixture *f = *state;
    static const struct {
        const char *device, *rev, *name, *gen;
    } cases[] = {
        {"0x17f0\n", "0x11\n", "NPU Strix Halo", "XDNA2"},
        {"0x17f0\n", "0x20\n", "NPU Krackan", "XDNA2"},
        {"0x17f0\n", "0x00\n", "", "XDNA2"}, /* npu2: no name of its own */
        {"0x1502\n", "0x01\n", "", ""},      /* a revision the driver refuses */
        {"0x17f1\n", "0x10\n", "", ""},      /* bound, but not a part we know */
    };
    char bdf[32];
    for (int i = 0; i < (int)(sizeof cases / sizeof cases[0]); i++) {
        snprintf(bdf, sizeof bdf, "0000:%02x:00.1", 0x10 + i);
        put_accel(f, i, bdf, "amdxdna", "0x1022\n", cases[i].device, cases[i].rev, 1);
    }
    aria_device d[MAX_OUT];
    assert_int_equal(detect_amd(f, d, MAX_OUT), 5);
    for (int i = 0; i < 5; i++) {
        assert_string_equal(d[i].vendor, "AMD");
        assert_string_equal(d[i].name, cases[i].name);
        assert_string_equal(d[i].generation, cases[i].gen);
        assert_node(f, &d[i], i);
    }

    put_attr(f, "0000:11:00.1", "vbnv", "NPU Krackan 1\n");
    assert_int_equal(detect_amd(f, d, MAX_OUT), 5);
    assert_string_equal(d[1].name, "NPU Krackan 1");
    assert_string_equal(d[1].generation, "XDNA2");
}

/* Two NPUs and an Intel one: AMD's in minor order, whatever readdir says. */
static void test_both_and_others(void **state)
{
    fixture *f = *state;
    put_accel(f, 3, STRIX, "amdxdna", "0x1022\n", "0x17f0\n", "0x10\n", 1);
    put_accel(f, 1, "0000:00:0b.0", "intel_vpu", "0x8086\n", "0x7d1d\n", "0x04\n", 1);
    put_accel(f, 0, PHOENIX, "amdxdna", "0x1022\n", "0x1502\n", "0x00\n", 1);
    aria_device d[MAX_OUT];
    assert_int_equal(detect_amd(f, d, MAX_OUT), 2);
    assert_string_equal(d[0].generation, "XDNA");
    assert_node(f, &d[0], 0);
    assert_string_equal(d[1].generation, "XDNA2");
    assert_node(f, &d[1], 3);

    /* cap is honoured; 0 is no error */
    assert_int_equal(detect_amd(f, d, 1), 1);
    assert_string_equal(d[0].generation, "XDNA");
    assert_int_equal(detect_amd(f, d, 0), 0);
}

static void test_wrong_driver(void **state)
{
    fixture *f = *state;
    /* an AMD id, but amdgpu: not an NPU of ours */
    put_accel(f, 0, PHOENIX, "amdgpu", "0x1022\n", "0x1502\n", "0x00\n", 1);
    /* an accel entry with no driver bound */
    mkdir_rel(f, "sys/class/accel/accel1/device");
    /* a driver that is a directory rather than a link */
    mkdir_rel(f, "sys/class/accel/accel2/device/driver");
    aria_device d[MAX_OUT];
    assert_int_equal(detect_amd(f, d, MAX_OUT), 0);
}

static void test_node_missing(void **state)
{
    fixture *f = *state;
    put_accel(f, 0, STRIX, "amdxdna", "0x1022\n", "0x17f0\n", "0x10\n", 0);
    aria_device d[MAX_OUT];
    assert_int_equal(detect_amd(f, d, MAX_OUT), 1);
    assert_int_equal(d[0].available, 0);
    char want[256];
    snprintf(want, sizeof want, "no device node %s/accel/accel0", f->dev);
    assert_string_equal(d[0].why, want);
    assert_string_equal(d[0].generation, "XDNA2"); /* still described */
}

/* The node is there but closed to this process. Root opens anything, so as
 * root the check runs in a child that has become nobody (and is skipped
 * where even that is impossible). */
static int no_access_case(fixture *f, const char *node, mode_t mode, int verbose)
{
    char want[300];
    snprintf(want, sizeof want, "no access to %s: %s", node, strerror(EACCES));
    aria_device d[1];
    size_t n = 0;
    if (chmod(node, mode) != 0 || f->amd->detect(f->ctx, &f->env, d, 1, &n, NULL) != ARIA_OK ||
        n != 1 || d[0].available || strcmp(d[0].why, want) != 0) {
        if (verbose)
            fprintf(stderr, "mode %03o: n %zu, available %u, why '%s', want '%s'\n", (unsigned)mode,
                    n, n ? d[0].available : 0, n ? d[0].why : "", want);
        return 1;
    }
    return 0;
}

static void test_node_no_access(void **state)
{
    fixture *f = *state;
    put_accel(f, 0, PHOENIX, "amdxdna", "0x1022\n", "0x1502\n", "0x00\n", 1);
    char node[256];
    snprintf(node, sizeof node, "%s/accel/accel0", f->dev);
    assert_non_null(strstr(strerror(EACCES), "Permission denied"));
    if (geteuid() != 0) {
        assert_int_equal(no_access_case(f, node, 0000, 1), 0);
        assert_int_equal(no_access_case(f, node, 0400, 1), 0); /* a backend needs to write */
        return;
    }
    /* nobody must be able to walk the tree and to chmod the node */
    assert_int_equal(chmod(f->root, 0755), 0);
    assert_int_equal(chown(node, 65534, 65534), 0);
    fflush(stderr);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (setgroups(0, NULL) != 0 || setgid(65534) != 0 || setuid(65534) != 0 || geteuid() == 0)
            _exit(77);
        _exit(no_access_case(f, node, 0000, 1) || no_access_case(f, node, 0400, 1));
    }
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    if (WEXITSTATUS(st) == 77)
        skip(); /* cannot become another user here */
    assert_int_equal(WEXITSTATUS(st), 0);
}

/* A dev root longer than aria_device.path: the whole path is opened and
 * the field shows it cut, terminated inside its array. */
static void test_long_dev_root(void **state)
{
    fixture *f = *state;
    put_accel(f, 0, STRIX, "amdxdna", "0x1022\n", "0x17f0\n", "0x10\n", 0);
    char longdir[300], rel[400];
    memset(longdir, 'd', 200);
    longdir[200] = '\0';
    snprintf(rel, sizeof rel, "%s/accel/accel0", longdir);
    aria_device d[MAX_OUT];
    aria_detect_env env = f->env;
    char root[512], node[600];
    snprintf(root, sizeof root, "%s/%s", f->root, longdir);
    snprintf(node, sizeof node, "%s/accel/accel0", root);
    env.dev_root = root;
    size_t n = 0;
    assert_int_equal(f->amd->detect(f->ctx, &env, d, MAX_OUT, &n, NULL), ARIA_OK);
    assert_int_equal(n, 1);
    assert_int_equal(d[0].available, 0);
    assert_int_equal(strlen(d[0].why), sizeof d[0].why - 1);
    assert_memory_equal(d[0].why, "no device node ", 15);

    put(f, rel, "");
    assert_int_equal(f->amd->detect(f->ctx, &env, d, MAX_OUT, &n, NULL), ARIA_OK);
    assert_int_equal(n, 1);
    assert_int_equal(d[0].available, 1);
    assert_string_equal(d[0].why, "");
    assert_int_equal(strlen(d[0].path), sizeof d[0].path - 1);
    assert_memory_equal(d[0].path, node, sizeof d[0].path - 1);
}

/* Garbage in every attribute: the device is still reported (the driver
 * binding proves it), each bad field empty, nothing read past its bounds. */
static void test_garbage(void **state)
{
    fixture *f = *state;
    put_accel(f, 0, PHOENIX, "amdxdna", "zzz\n", "\xff\xfe\x01\x80", "0x1000000000\n", 1);
    static const char nul_inside[] = "NPU\0Phoenix\n";
    put_attr(f, PHOENIX, "fw_version", "1.5\x1b[2J\n");
    put_n(f, "sys/devices/pci0000:00/" PHOENIX "/vbnv", nul_inside, sizeof nul_inside - 1);
    put(f, "sys/module/amdxdna/version", "\n");
    aria_device d[MAX_OUT];
    assert_int_equal(detect_amd(f, d, MAX_OUT), 1);
    assert_string_equal(d[0].vendor, "AMD");
    assert_string_equal(d[0].name, "");
    assert_string_equal(d[0].generation, "");
    assert_string_equal(d[0].driver, "amdxdna");
    assert_int_equal(d[0].available, 1);

    /* ids that look almost right, a vendor that is not AMD, huge files */
    static const struct {
        const char *vendor, *device, *rev;
    } near[] = {
        {"0x1022", "0x1502", "0x00"},         /* no newline: still the kernel's format */
        {"0x1022\n\n", "0x1502\n", "0x00\n"}, /* two newlines */
        {"0x1022\n", "0x 1502\n", "0x00\n"},  /* a blank inside */
        {"0x1022\n", "0x1502\n", "0x100\n"},  /* revision above a byte */
        {"0x8086\n", "0x1502\n", "0x00\n"},   /* not AMD's id */
        {"0x1022\n", "0x\n", "0x00\n"},       /* no digits */
        {"", "", ""},                         /* empty */
    };
    for (size_t i = 0; i < sizeof near / sizeof near[0]; i++) {
        put_attr(f, PHOENIX, "vendor", near[i].vendor);
        put_attr(f, PHOENIX, "device", near[i].device);
        put_attr(f, PHOENIX, "revision", near[i].rev);
        assert_int_equal(detect_amd(f, d, MAX_OUT), 1);
        assert_string_equal(d[0].generation, i == 0 ? "XDNA" : "");
    }
    char *big = malloc(1 << 20);
    assert_non_null(big);
    memset(big, 'A', 1 << 20);
    put_n(f, "sys/devices/pci0000:00/" PHOENIX "/vbnv", big, 1 << 20);
    put_n(f, "sys/devices/pci0000:00/" PHOENIX "/device", big, 1 << 20);
    put_n(f, "sys/module/amdxdna/version", big, 1 << 20);
    free(big);
    assert_int_equal(detect_amd(f, d, MAX_OUT), 1);
    assert_string_equal(d[0].name, "");
    assert_string_equal(d[0].driver, "amdxdna");

    /* a long but clean version is kept only if it fits whole */
    put(f, "sys/module/amdxdna/version", "2.19.0_20250115\n");
    assert_int_equal(detect_amd(f, d, MAX_OUT), 1);
    assert_string_equal(d[0].driver, "amdxdna 2.19.0_20250115");

    /* entry names that are not accel minors are not looked at */
    put_accel(f, 7, STRIX, "amdxdna", "0x1022\n", "0x17f0\n", "0x10\n", 1);
    char from[512], to[512];
    snprintf(from, sizeof from, "%s/class/accel/accel7", f->sys);
    static const char *const odd[] = {"accel07", "accel256", "accelx", "accel", "card0"};
    for (size_t i = 0; i < sizeof odd / sizeof odd[0]; i++) {
        snprintf(to, sizeof to, "%s/class/accel/%s", f->sys, odd[i]);
        assert_int_equal(rename(from, to), 0);
        assert_int_equal(detect_amd(f, d, MAX_OUT), 1); /* only accel0 */
        assert_node(f, &d[0], 0);
        snprintf(from, sizeof from, "%s", to);
    }
}

static void test_no_accel_class(void **state)
{
    fixture *f = *state;
    aria_device d[MAX_OUT];
    assert_int_equal(detect_amd(f, d, MAX_OUT), 0); /* an empty sysfs */
    mkdir_rel(f, "sys/class/accel");
    assert_int_equal(detect_amd(f, d, MAX_OUT), 0); /* the class, empty */
    put(f, "sys/class/accel/accel0", "a file, not a directory\n");
    assert_int_equal(detect_amd(f, d, MAX_OUT), 0);

    /* a root that does not exist at all */
    aria_detect_env env = f->env;
    env.sysfs_root = "/nonexistent/aria-npu";
    size_t n = 9;
    assert_int_equal(f->amd->detect(f->ctx, &env, d, MAX_OUT, &n, NULL), ARIA_OK);
    assert_int_equal(n, 0);
}

static void test_bad_arguments(void **state)
{
    fixture *f = *state;
    aria_device d[1];
    aria_msg why = {{0}};
    assert_int_equal(f->amd->detect(f->ctx, &f->env, d, 1, NULL, &why), ARIA_ERR_INVALID);
    assert_string_equal(why.text, "amd-npu: no count to fill");
    size_t n = 7;
    assert_int_equal(f->amd->detect(f->ctx, &f->env, NULL, 1, &n, &why), ARIA_ERR_INVALID);
    assert_int_equal(n, 0);
    assert_int_equal(f->ane->detect(f->ctx, &f->env, d, 1, NULL, NULL), ARIA_ERR_INVALID);
    /* no env at all: the real /sys and /dev, which must not fail */
    assert_int_equal(f->amd->detect(f->ctx, NULL, d, 1, &n, &why), ARIA_OK);
    assert_true(n <= 1);
    /* an env from an older host that stops before dev_root: defaults */
    aria_detect_env old = f->env;
    old.hdr.struct_size = offsetof(aria_detect_env, dev_root);
    assert_int_equal(f->amd->detect(f->ctx, &old, d, 1, &n, &why), ARIA_OK);
}

/* ---- the Apple detector ---------------------------------------------------- */

static void test_ane(void **state)
{
    fixture *f = *state;
    /* even a tree with an NPU in it: the ANE is not found through sysfs */
    put_accel(f, 0, STRIX, "amdxdna", "0x1022\n", "0x17f0\n", "0x10\n", 1);
    aria_device d[MAX_OUT];
    size_t n = 5;
    aria_msg why = {{0}};
    assert_int_equal(f->ane->detect(f->ctx, &f->env, d, MAX_OUT, &n, &why), ARIA_OK);
#if defined(__APPLE__)
    skip(); /* the macOS path runs on a Mac only */
#else
    assert_int_equal(n, 0); /* no ANE outside macOS (README.md: Asahi) */
#endif
}

/* ---- aria-core hardware ---------------------------------------------------- */

/* Runs the aria-core binary with a plugin directory holding only
 * npu-detect.so and the fake roots; stdout into ROOT/out. */
static int run_hardware(const fixture *f, int json)
{
    char plugins[256], copy[300], out[256];
    snprintf(plugins, sizeof plugins, "%s/plugins", f->root);
    mkdir(plugins, 0700);
    snprintf(copy, sizeof copy, "%s/npu-detect.so", plugins);
    if (access(copy, F_OK) != 0) {
        FILE *i = fopen(NPU_PLUGIN, "rb"), *o = fopen(copy, "wb");
        assert_non_null(i);
        assert_non_null(o);
        char buf[8192];
        size_t k;
        while ((k = fread(buf, 1, sizeof buf, i)) > 0)
            assert_int_equal(fwrite(buf, 1, k, o), k);
        fclose(i);
        fclose(o);
    }
    snprintf(out, sizeof out, "%s/out", f->root);
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd < 0 || dup2(fd, 1) < 0 || chdir(f->root) != 0)
            _exit(127);
        char *sys = (char *)f->sys, *dev = (char *)f->dev, *proc = (char *)f->proc;
        char *opt = json ? "--json" : NULL;
        char *argv[] = {"aria-core", "--plugins", plugins,  "hardware", "--sysfs", sys,
                        "--dev",     dev,         "--proc", proc,       opt,       NULL};
        execv(ARIA_BINARY_DIR "/aria-core", argv);
        _exit(127);
    }
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    return WEXITSTATUS(st);
}

static char *slurp(const char *path)
{
    FILE *i = fopen(path, "rb");
    assert_non_null(i);
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf - 1, i);
    fclose(i);
    buf[n] = '\0';
    return buf;
}

static void test_cmd_hardware(void **state)
{
    fixture *f = *state;
    put_accel(f, 0, STRIX, "amdxdna", "0x1022\n", "0x17f0\n", "0x10\n", 1);
    put_accel(f, 1, PHOENIX, "amdxdna", "0x1022\n", "0x1502\n", "0x00\n", 0);
    put(f, "sys/module/amdxdna/version", "0.1\n");
    put(f, "sys/devices/system/cpu/online", "0\n");
    put(f, "proc/meminfo", "MemTotal: 1024 kB\n");

    assert_int_equal(run_hardware(f, 1), 0);
    char out[256];
    snprintf(out, sizeof out, "%s/out", f->root);
    json_error_t err;
    json_t *root = json_load_file(out, 0, &err);
    if (!root)
        fail_msg("aria-core hardware --json: %s (line %d)", err.text, err.line);
    json_t *devs = json_object_get(root, "devices");
    assert_true(json_is_array(devs));
    assert_int_equal(json_array_size(devs), 2);
    json_t *a = json_array_get(devs, 0), *b = json_array_get(devs, 1);
    assert_string_equal(json_string_value(json_object_get(a, "kind")), "npu");
    assert_string_equal(json_string_value(json_object_get(a, "vendor")), "AMD");
    assert_string_equal(json_string_value(json_object_get(a, "name")), "NPU Strix");
    assert_string_equal(json_string_value(json_object_get(a, "generation")), "XDNA2");
    assert_string_equal(json_string_value(json_object_get(a, "driver")), "amdxdna 0.1");
    assert_true(json_is_true(json_object_get(a, "available")));
    char node[256];
    snprintf(node, sizeof node, "%s/accel/accel0", f->dev);
    assert_string_equal(json_string_value(json_object_get(a, "path")), node);
    assert_string_equal(json_string_value(json_object_get(b, "generation")), "XDNA");
    assert_true(json_is_false(json_object_get(b, "available")));
    assert_non_null(strstr(json_string_value(json_object_get(b, "why")), "no device node"));
    assert_int_equal(json_array_size(json_object_get(root, "errors")), 0);
    /* the fake proc reached the CPU detector too */
    assert_int_equal(json_integer_value(json_object_get(json_object_get(root, "cpu"), "ram_bytes")),
                     1024 * 1024);
    json_decref(root);

    assert_int_equal(run_hardware(f, 0), 0);
    const char *text = slurp(out);
    assert_non_null(strstr(text, "npu      AMD  NPU Strix  XDNA2  driver amdxdna 0.1\n"));
    assert_non_null(strstr(text, "npu      AMD  NPU Phoenix  XDNA  driver amdxdna 0.1  "
                                 "(not available: no device node "));
    assert_null(strstr(text, "none detected"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_xdna_phoenix, setup, teardown),
        cmocka_unit_test_setup_teardown(test_xdna2_strix, setup, teardown),
        cmocka_unit_test_setup_teardown(test_xdna_parts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_both_and_others, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_driver, setup, teardown),
        cmocka_unit_test_setup_teardown(test_node_missing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_node_no_access, setup, teardown),
        cmocka_unit_test_setup_teardown(test_long_dev_root, setup, teardown),
        cmocka_unit_test_setup_teardown(test_garbage, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_accel_class, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_arguments, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ane, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cmd_hardware, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
