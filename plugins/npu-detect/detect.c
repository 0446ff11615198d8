/* detect.c — NPU detectors that need no vendor runtime (ARIA_IFACE_DETECTOR).
 *
 * "amd-npu": AMD XDNA and XDNA2 NPUs bound to the amdxdna driver, found under
 * SYSFS/class/accel and proved usable by opening DEV/accel/accelN.
 * "apple-ane": the Apple Neural Engine, through sysctl on macOS only; on
 * other systems it reports nothing (README.md says why, for Asahi Linux too).
 *
 * Every file is read through the roots in aria_detect_env, bounded, and
 * checked: a missing or garbage file leaves its field empty (or 0), never a
 * failure. Nothing here is static and mutable, so two callers may detect at
 * once. Facts about the hardware, and where they come from, are in README.md. */
#include <aria/aria.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#if defined(__APPLE__)
#include <sys/sysctl.h>
#endif

/* The accel subsystem's minor limit (drivers/accel, ACCEL_MAX_MINORS): an
 * entry accelN with N at or past it is not the kernel's. */
#define ND_ACCEL_MINORS 256
/* How many accel entries one scan looks at; a machine has one or two. */
#define ND_MAX_ENTRIES  64
/* Sysfs attributes are at most a page; ours are a line. */
#define ND_ATTR_MAX     256

#define ND_PCI_VENDOR_AMD 0x1022

/* The root of one kind from env, or its default when env (or an older, shorter
 * env) does not set it. */
#define ND_ROOT(env, member, def)                                                                  \
    ((env) && ARIA_HAS(env, aria_detect_env, member) && (env)->member ? (env)->member : (def))

/* Reads at most cap-1 bytes of a small file into buf as a string; "" when it
 * is missing, unreadable, or holds a NUL byte (no sysfs text attribute does).
 * O_NONBLOCK: a FIFO planted in a fake tree must not hang the node. */
static size_t nd_read_attr(const char *path, char *buf, size_t cap)
{
    buf[0] = '\0';
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0)
        return 0;
    size_t n = 0;
    while (n < cap - 1) {
        ssize_t r = read(fd, buf + n, cap - 1 - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    if (memchr(buf, '\0', n))
        n = 0;
    buf[n] = '\0';
    return n;
}

/* "0x1502\n" (how sysfs prints PCI ids) -> 0x1502; -1 for anything else or
 * above max. */
static long nd_parse_hex(const char *s, unsigned long max)
{
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
        s += 2;
    unsigned long v = 0;
    int digits = 0;
    for (; *s && *s != '\n'; s++) {
        int d = *s >= '0' && *s <= '9'   ? *s - '0'
                : *s >= 'a' && *s <= 'f' ? *s - 'a' + 10
                : *s >= 'A' && *s <= 'F' ? *s - 'A' + 10
                                         : -1;
        if (d < 0 || ++digits > 8)
            return -1;
        v = v << 4 | (unsigned long)d;
    }
    if (!digits || (*s == '\n' && s[1]) || v > max)
        return -1;
    return (long)v;
}

/* The first line of in, without trailing blanks, into out; "" when that
 * line is empty, too long for out, or holds a character outside printable
 * ASCII (or, with version_chars, outside what version strings use). A
 * garbage attribute is dropped whole rather than shown in part. */
static void nd_clean_line(const char *in, char *out, size_t cap, int version_chars)
{
    size_t n = strcspn(in, "\n");
    while (n && in[n - 1] == ' ')
        n--;
    out[0] = '\0';
    if (!n || n >= cap)
        return;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)in[i];
        int ok = version_chars ? (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
                                     (c >= 'A' && c <= 'Z') || strchr("._+~-", c)
                               : c >= 0x20 && c < 0x7f;
        if (!ok)
            return;
    }
    memcpy(out, in, n);
    out[n] = '\0';
}

/* The last component of a symlink's target ("amdxdna" of
 * "../../../bus/pci/drivers/amdxdna"); -1 when path is no symlink. */
static int nd_link_name(const char *path, char *out, size_t cap)
{
    char target[4096];
    ssize_t n = readlink(path, target, sizeof target - 1);
    if (n <= 0)
        return -1;
    target[n] = '\0';
    while (n > 1 && target[n - 1] == '/')
        target[--n] = '\0';
    const char *base = strrchr(target, '/');
    base = base ? base + 1 : target;
    if (strlen(base) >= cap)
        return -1;
    memcpy(out, base, strlen(base) + 1);
    return 0;
}

/* ---- AMD XDNA / XDNA2 (amdxdna) ------------------------------------------ */

/* PCI (device, revision) -> what the driver calls the part. The driver binds
 * by device id and picks the part by (device, revision); its vbnv strings are
 * the names below. revision -1 matches any revision not listed before it. */
typedef struct xdna_part {
    uint16_t device;
    int16_t revision;
    const char *name;       /* "" when the driver's own name is not known */
    const char *generation; /* XDNA = AIE2 (npu1), XDNA2 = AIE2P (npu4..6) */
} xdna_part;

static const xdna_part xdna_parts[] = {
    {0x1502, 0x00, "NPU Phoenix", "XDNA"},     /* npu1: Phoenix, Hawk Point */
    {0x17f0, 0x10, "NPU Strix", "XDNA2"},      /* npu4: Strix Point */
    {0x17f0, 0x11, "NPU Strix Halo", "XDNA2"}, /* npu5 */
    {0x17f0, 0x20, "NPU Krackan", "XDNA2"},    /* npu6: Krackan Point */
    {0x17f0, -1, "", "XDNA2"},                 /* npu2 (rev 0) and later revisions */
};

static const xdna_part *xdna_lookup(long vendor, long device, long revision)
{
    if (vendor != ND_PCI_VENDOR_AMD)
        return NULL;
    for (size_t i = 0; i < sizeof xdna_parts / sizeof xdna_parts[0]; i++)
        if (xdna_parts[i].device == device &&
            (xdna_parts[i].revision < 0 || xdna_parts[i].revision == revision))
            return &xdna_parts[i];
    return NULL;
}

/* "accel12" -> 12; -1 for any other name (".", "card0", "accel", "accel01"). */
static int nd_accel_index(const char *name)
{
    if (strncmp(name, "accel", 5) != 0)
        return -1;
    const char *p = name + 5;
    if (!*p || (*p == '0' && p[1]))
        return -1;
    int v = 0;
    for (; *p; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        v = v * 10 + (*p - '0');
        if (v >= ND_ACCEL_MINORS)
            return -1;
    }
    return v;
}

static int nd_cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

/* Writes the snprintf result into dst, cut short (on a whole byte) when it
 * does not fit: a long root in a test must not turn into a failure. */
#define ND_FMT(dst, ...)                                                                           \
    do {                                                                                           \
        if (snprintf((dst), sizeof(dst), __VA_ARGS__) < 0)                                         \
            (dst)[0] = '\0';                                                                       \
    } while (0)

/* Fills d from one accel entry bound to amdxdna. sysdev is the entry's
 * "device" directory (the PCI function). */
static void xdna_describe(const char *sysfs, const char *dev, int idx, const char *sysdev,
                          aria_device *d)
{
    char path[4096], buf[ND_ATTR_MAX], ver[40] = "", fw[40] = "";
    memset(d, 0, sizeof *d);
    d->hdr.struct_size = sizeof *d;
    d->hdr.version = ARIA_DETECTOR_VERSION;
    d->kind = ARIA_DEV_NPU;
    /* amdxdna binds only PCI vendor 0x1022 (its id table lists no other), so
     * the binding says "AMD" even when the vendor file is garbage. */
    snprintf(d->vendor, sizeof d->vendor, "%s", "AMD");

    long id[3];
    static const char *const attrs[3] = {"vendor", "device", "revision"};
    static const unsigned long max[3] = {0xffff, 0xffff, 0xff};
    for (int k = 0; k < 3; k++) {
        id[k] = -1;
        if (snprintf(path, sizeof path, "%s/%s", sysdev, attrs[k]) < (int)sizeof path &&
            nd_read_attr(path, buf, sizeof buf))
            id[k] = nd_parse_hex(buf, max[k]);
    }
    const xdna_part *part = xdna_lookup(id[0], id[1], id[2]);
    if (part) {
        snprintf(d->name, sizeof d->name, "%s", part->name);
        snprintf(d->generation, sizeof d->generation, "%s", part->generation);
    }
    /* The driver's own name for the part (its vbnv attribute) knows more than
     * the PCI revision: Krackan 1 and 2 differ only in firmware's answer. */
    if (snprintf(path, sizeof path, "%s/vbnv", sysdev) < (int)sizeof path &&
        nd_read_attr(path, buf, sizeof buf)) {
        char vbnv[sizeof d->name];
        nd_clean_line(buf, vbnv, sizeof vbnv, 0);
        if (vbnv[0])
            memcpy(d->name, vbnv, sizeof vbnv);
    }

    /* Module version: only out-of-tree builds declare one; firmware version:
     * the fw_version attribute of the PCI function. */
    if (snprintf(path, sizeof path, "%s/module/amdxdna/version", sysfs) < (int)sizeof path &&
        nd_read_attr(path, buf, sizeof buf))
        nd_clean_line(buf, ver, sizeof ver, 1);
    if (snprintf(path, sizeof path, "%s/fw_version", sysdev) < (int)sizeof path &&
        nd_read_attr(path, buf, sizeof buf))
        nd_clean_line(buf, fw, sizeof fw, 1);
    ND_FMT(d->driver, "amdxdna%s%s%s%s", ver[0] ? " " : "", ver, fw[0] ? ", firmware " : "", fw);

    /* Usable means this process may open the node read-write, as a backend
     * will. The open runs the driver's (which resumes the device and binds
     * this process's address space); the node is closed again at once and no
     * ioctl is sent. The full path is opened even when d->path shows it cut. */
    char node[4096];
    if (snprintf(node, sizeof node, "%s/accel/accel%d", dev, idx) >= (int)sizeof node) {
        ND_FMT(d->why, "%s", "device node path too long");
        return;
    }
    ND_FMT(d->path, "%s", node);
    int fd = open(node, O_RDWR | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd >= 0) {
        close(fd);
        d->available = 1;
    } else if (errno == ENOENT || errno == ENOTDIR) {
        ND_FMT(d->why, "no device node %s", node);
    } else if (errno == EACCES || errno == EPERM) {
        ND_FMT(d->why, "no access to %s: %s", node, strerror(errno));
    } else {
        ND_FMT(d->why, "cannot open %s: %s", node, strerror(errno));
    }
    /* Neither TOPS nor the column count is in sysfs (the driver answers them
     * only to an ioctl on an open device), so both stay 0: unknown. */
}

static aria_err amd_detect(void *ctx, const aria_detect_env *env, aria_device *out, size_t cap,
                           size_t *n, aria_msg *why)
{
    (void)ctx;
    if (!n)
        return aria_fail(why, ARIA_ERR_INVALID, "amd-npu: no count to fill");
    *n = 0;
    if (cap && !out)
        return aria_fail(why, ARIA_ERR_INVALID, "amd-npu: no array for %zu devices", cap);
    const char *sysfs = ND_ROOT(env, sysfs_root, "/sys");
    const char *dev = ND_ROOT(env, dev_root, "/dev");

    char path[4096];
    if (snprintf(path, sizeof path, "%s/class/accel", sysfs) >= (int)sizeof path)
        return aria_fail(why, ARIA_ERR_RANGE, "amd-npu: sysfs root is too long");
    DIR *dir = opendir(path);
    if (!dir)
        return ARIA_OK; /* no accel subsystem: no NPU of this kind */
    int idx[ND_MAX_ENTRIES];
    size_t n_idx = 0;
    struct dirent *e;
    while ((e = readdir(dir)) && n_idx < ND_MAX_ENTRIES) {
        int i = nd_accel_index(e->d_name);
        if (i >= 0)
            idx[n_idx++] = i;
    }
    closedir(dir);
    qsort(idx, n_idx, sizeof idx[0], nd_cmp_int); /* readdir's order is the disk's */

    for (size_t k = 0; k < n_idx && *n < cap; k++) {
        char sysdev[4096], drv[64];
        if (snprintf(sysdev, sizeof sysdev, "%s/class/accel/accel%d/device", sysfs, idx[k]) >=
                (int)sizeof sysdev ||
            snprintf(path, sizeof path, "%s/driver", sysdev) >= (int)sizeof path)
            continue;
        if (nd_link_name(path, drv, sizeof drv) != 0 || strcmp(drv, "amdxdna") != 0)
            continue; /* another accel driver (ivpu, qaic, ...) or an unbound device */
        xdna_describe(sysfs, dev, idx[k], sysdev, &out[*n]);
        (*n)++;
    }
    return ARIA_OK;
}

/* ---- Apple Neural Engine ------------------------------------------------- */

#if defined(__APPLE__)
/* Apple's stated Neural Engine figures for the 16-core engine of each
 * M generation (base, Pro and Max chips). Apple does not say at which
 * precision it counts, and an Ultra (two dies, 32 cores) is left at 0. */
static const struct {
    int gen;
    uint32_t tops;
} ane_gens[] = {{1, 11}, {2, 15}, {3, 18}, {4, 38}};

/* macOS only, and untested here: sysctl says whether this is Apple silicon
 * and which chip ("Apple M2 Pro"); every Apple silicon Mac has an ANE, and
 * Core ML reaches it with no device permission, so it is available. */
static aria_err ane_detect_macos(aria_device *out, size_t cap, size_t *n)
{
    int arm64 = 0;
    size_t len = sizeof arm64;
    if (sysctlbyname("hw.optional.arm64", &arm64, &len, NULL, 0) != 0 || !arm64 || !cap)
        return ARIA_OK;
    char brand[128] = "", os[32] = "";
    len = sizeof brand - 1;
    if (sysctlbyname("machdep.cpu.brand_string", brand, &len, NULL, 0) != 0)
        brand[0] = '\0';
    brand[sizeof brand - 1] = '\0';
    len = sizeof os - 1;
    if (sysctlbyname("kern.osproductversion", os, &len, NULL, 0) != 0)
        os[0] = '\0';
    os[sizeof os - 1] = '\0';

    char chip[64];
    nd_clean_line(brand, chip, sizeof chip, 0);
    if (strncmp(chip, "Apple ", 6) != 0)
        chip[0] = '\0'; /* a VM's or a future string: say nothing of it */

    aria_device *d = out;
    memset(d, 0, sizeof *d);
    d->hdr.struct_size = sizeof *d;
    d->hdr.version = ARIA_DETECTOR_VERSION;
    d->kind = ARIA_DEV_NPU;
    d->available = 1;
    snprintf(d->vendor, sizeof d->vendor, "%s", "Apple");
    ND_FMT(d->name, "Neural Engine%s%s", chip[0] ? ", " : "", chip);
    snprintf(d->path, sizeof d->path, "%s", "sysctl machdep.cpu.brand_string");
    char osv[sizeof os];
    nd_clean_line(os, osv, sizeof osv, 1);
    if (osv[0])
        ND_FMT(d->driver, "Core ML, macOS %s", osv);
    /* "Apple M<generation>[ Pro| Max| Ultra]" */
    int gen = 0;
    const char *p = chip + 6;
    if (chip[0] && *p == 'M' && p[1] >= '1' && p[1] <= '9') {
        for (p++; *p >= '0' && *p <= '9' && gen < 1000; p++)
            gen = gen * 10 + (*p - '0');
        if (*p && *p != ' ')
            gen = 0;
    }
    if (gen) {
        ND_FMT(d->generation, "M%d", gen);
        int ultra = strstr(chip, " Ultra") != NULL;
        for (size_t i = 0; i < sizeof ane_gens / sizeof ane_gens[0]; i++)
            if (ane_gens[i].gen == gen) {
                d->cores = ultra ? 32 : 16;
                d->tops = ultra ? 0 : ane_gens[i].tops;
            }
    }
    *n = 1;
    return ARIA_OK;
}
#endif

static aria_err ane_detect(void *ctx, const aria_detect_env *env, aria_device *out, size_t cap,
                           size_t *n, aria_msg *why)
{
    (void)ctx;
    (void)env; /* sysctl has no root to redirect */
    if (!n)
        return aria_fail(why, ARIA_ERR_INVALID, "apple-ane: no count to fill");
    *n = 0;
    if (cap && !out)
        return aria_fail(why, ARIA_ERR_INVALID, "apple-ane: no array for %zu devices", cap);
#if defined(__APPLE__)
    return ane_detect_macos(out, cap, n);
#else
    /* Linux (Asahi included) has no ANE driver with a stable interface yet. */
    return ARIA_OK;
#endif
}

/* ---- the plugin ---------------------------------------------------------- */

static const aria_detector_vt amd_npu_detector = {
    .hdr = {sizeof(aria_detector_vt), ARIA_DETECTOR_VERSION},
    .name = "amd-npu",
    .detect = amd_detect,
};

static const aria_detector_vt apple_ane_detector = {
    .hdr = {sizeof(aria_detector_vt), ARIA_DETECTOR_VERSION},
    .name = "apple-ane",
    .detect = ane_detect,
};

static const aria_interface nd_ifaces[] = {
    {.kind = ARIA_IFACE_DETECTOR, .vtable = &amd_npu_detector},
    {.kind = ARIA_IFACE_DETECTOR, .vtable = &apple_ane_detector},
};

static const aria_plugin_desc nd_desc = {
    .abi_major = ARIA_ABI_MAJOR,
    .abi_minor = ARIA_ABI_MINOR,
    .struct_size = sizeof(aria_plugin_desc),
    .name = "npu-detect",
    .version = "1.0.0",
    .description = "NPU detectors without vendor runtimes: AMD XDNA/XDNA2, Apple Neural Engine",
    .n_interfaces = sizeof nd_ifaces / sizeof nd_ifaces[0],
    .interfaces = nd_ifaces,
};

ARIA_PLUGIN(nd_desc)
