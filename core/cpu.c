/* cpu.c — the CPU detector built into aria-core.
 *
 * ISA features come from the CPU itself (cpuid and xgetbv on x86, the
 * kernel's hwcaps on ARM), because that is what decides whether a kernel
 * variant may run. Topology, caches and memory come from sysfs and procfs
 * under the roots in aria_detect_env, so tests can hand in a fake tree.
 * Every file read is bounded, and unreadable or garbage files mean "unknown"
 * (0), never a failure. Nothing here is static and mutable: the node and a
 * command may detect at the same time. */
#include "cpu.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif
#if defined(__aarch64__)
#include <sys/auxv.h>
#endif

/* The kernel's own ceiling (NR_CPUS max); a cpulist naming more is garbage. */
#define MAX_CPUS 8192
/* /proc/cpuinfo grows with the CPU count (~2.5 KiB each on x86); past this
 * much it is not a cpuinfo. */
#define CPUINFO_MAX_BYTES (32u << 20)

/* Reads at most cap-1 bytes of a small file; "" when missing. */
static size_t read_small(const char *path, char *buf, size_t cap)
{
    buf[0] = '\0';
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, cap - 1, f);
    fclose(f);
    buf[n] = '\0';
    return n;
}

/* A non-negative decimal at the start of s (after blanks), or -1. Refuses
 * values above 2^50, so that callers may scale them without overflow. */
static long long parse_num(const char *s, const char **end)
{
    while (*s == ' ' || *s == '\t')
        s++;
    if (!isdigit((unsigned char)*s))
        return -1;
    long long v = 0;
    while (isdigit((unsigned char)*s)) {
        v = v * 10 + (*s++ - '0');
        if (v > (1ll << 50))
            return -1;
    }
    if (end)
        *end = s;
    return v;
}

/* "0-3,6,8-9" -> a bitmap of CPUs; returns the count, 0 on garbage. */
static int parse_cpulist(const char *s, unsigned char *set)
{
    int count = 0;
    const char *p = s;
    while (*p && *p != '\n') {
        const char *e;
        long long a = parse_num(p, &e), b = a;
        if (a < 0 || a >= MAX_CPUS)
            return 0;
        if (*e == '-') {
            b = parse_num(e + 1, &e);
            if (b < a || b >= MAX_CPUS)
                return 0;
        }
        for (long long i = a; i <= b; i++)
            if (!set[i]) {
                set[i] = 1;
                count++;
            }
        if (*e == ',')
            e++;
        else if (*e && *e != '\n')
            return 0;
        p = e;
    }
    return count;
}

/* "48K", "2048K", "32M", "1G" -> bytes; 0 on garbage. parse_num caps the
 * number at 2^50, so only the G suffix could overflow 64 bits. */
static uint64_t parse_size(const char *s)
{
    const char *e;
    long long v = parse_num(s, &e);
    if (v < 0)
        return 0;
    switch (toupper((unsigned char)*e)) {
    case 'K': return (uint64_t)v << 10;
    case 'M': return (uint64_t)v << 20;
    case 'G': return v < (1ll << 33) ? (uint64_t)v << 30 : 0;
    case '\0': case '\n': return (uint64_t)v;
    }
    return 0;
}

/* Logical CPUs online, and physical cores as distinct (package, core)
 * pairs among them: hyperthread siblings share a pair. */
static aria_err read_topology(const char *sys, aria_cpu_info *out)
{
    aria_err rc = ARIA_OK;
    char path[512], buf[4096];
    long long (*seen)[2] = NULL;
    unsigned char *online = calloc(MAX_CPUS, 1);
    if (!online) {
        rc = ARIA_ERR_NOMEM;
        goto done;
    }
    snprintf(path, sizeof path, "%s/devices/system/cpu/online", sys);
    read_small(path, buf, sizeof buf);
    int n_online = parse_cpulist(buf, online);
    out->cores_logical = (uint32_t)n_online;
    if (!n_online)
        goto done;
    seen = malloc((size_t)n_online * sizeof *seen);
    if (!seen) {
        rc = ARIA_ERR_NOMEM;
        goto done;
    }

    int n_seen = 0;
    static const char *const names[2] = {"physical_package_id", "core_id"};
    for (int c = 0; c < MAX_CPUS; c++) {
        if (!online[c])
            continue;
        long long ids[2];
        int ok = 1;
        for (int k = 0; k < 2; k++) {
            snprintf(path, sizeof path, "%s/devices/system/cpu/cpu%d/topology/%s", sys, c,
                     names[k]);
            read_small(path, buf, 64);
            ids[k] = parse_num(buf, NULL);
            ok &= ids[k] >= 0;
        }
        if (!ok)
            continue;
        int dup = 0;
        for (int i = 0; i < n_seen && !dup; i++)
            dup = seen[i][0] == ids[0] && seen[i][1] == ids[1];
        if (!dup && n_seen < n_online) {
            seen[n_seen][0] = ids[0];
            seen[n_seen][1] = ids[1];
            n_seen++;
        }
    }
    out->cores_physical = (uint32_t)n_seen;

done:
    free(seen);
    free(online);
    return rc;
}

/* The caches of cpu0: kernels size their tiles by them, and cpu0's are
 * those of every core on the machines we target. An instruction cache says
 * nothing about tiles, so only Data and Unified ones count. */
static void read_caches(const char *sys, aria_cpu_info *out)
{
    char path[512];
    for (int i = 0; i < 16; i++) {
        char level[32], type[32], size[32];
        snprintf(path, sizeof path, "%s/devices/system/cpu/cpu0/cache/index%d/level", sys, i);
        if (!read_small(path, level, sizeof level))
            continue;
        snprintf(path, sizeof path, "%s/devices/system/cpu/cpu0/cache/index%d/type", sys, i);
        read_small(path, type, sizeof type);
        snprintf(path, sizeof path, "%s/devices/system/cpu/cpu0/cache/index%d/size", sys, i);
        read_small(path, size, sizeof size);
        long long lv = parse_num(level, NULL);
        uint64_t bytes = parse_size(size);
        int data = !strncmp(type, "Data", 4) || !strncmp(type, "Unified", 7);
        if (!data)
            continue;
        if (lv == 1)
            out->l1d_bytes = bytes;
        else if (lv == 2)
            out->l2_bytes = bytes;
        else if (lv == 3)
            out->l3_bytes = bytes;
    }
}

/* "Key:   123 kB" at the start of a line of meminfo, in kB; 0 if absent. */
static uint64_t meminfo_kb(const char *text, const char *key)
{
    const char *p = text;
    size_t kl = strlen(key);
    while ((p = strstr(p, key))) {
        if ((p == text || p[-1] == '\n') && p[kl] == ':') {
            long long v = parse_num(p + kl + 1, NULL);
            return v < 0 ? 0 : (uint64_t)v;
        }
        p += kl;
    }
    return 0;
}

static void read_memory(const char *proc, aria_cpu_info *out)
{
    char path[512], buf[8192];
    snprintf(path, sizeof path, "%s/meminfo", proc);
    read_small(path, buf, sizeof buf);
    out->ram_bytes = meminfo_kb(buf, "MemTotal") * 1024;
    out->ram_avail_bytes = meminfo_kb(buf, "MemAvailable") * 1024;
}

/* What /proc/cpuinfo adds to cpuid and hwcaps: a model name where cpuid
 * has none (ARM has no brand string; it has implementer and part codes),
 * and a CPU count where sysfs is missing. */
typedef struct cpuinfo_facts {
    char model_name[64];
    char implementer[16];
    char part[16];
    uint32_t n_processors;
} cpuinfo_facts;

/* If line is "key<blanks>: value", copies the trimmed value (printable ASCII
 * only, so that garbage cannot reach JSON or a terminal) into dst, once. */
static void take_field(const char *line, const char *key, char *dst, size_t cap)
{
    size_t kl = strlen(key);
    if (dst[0] || strncmp(line, key, kl))
        return;
    const char *q = line + kl;
    while (*q == ' ' || *q == '\t')
        q++;
    if (*q != ':')
        return;
    q++;
    while (*q == ' ' || *q == '\t')
        q++;
    size_t n = strcspn(q, "\r\n");
    while (n && (q[n - 1] == ' ' || q[n - 1] == '\t'))
        n--;
    if (n >= cap)
        n = cap - 1;
    for (size_t i = 0; i < n; i++)
        dst[i] = isprint((unsigned char)q[i]) ? q[i] : '?';
    dst[n] = '\0';
}

static void read_cpuinfo(const char *proc, cpuinfo_facts *ci)
{
    char path[512], line[256];
    memset(ci, 0, sizeof *ci);
    snprintf(path, sizeof path, "%s/cpuinfo", proc);
    FILE *f = fopen(path, "rb");
    if (!f)
        return;
    /* Long lines (x86 "flags") come in pieces; only a piece that starts a
     * line may name a field. */
    int at_start = 1;
    size_t total = 0;
    while (total < CPUINFO_MAX_BYTES && fgets(line, sizeof line, f)) {
        size_t len = strlen(line);
        total += len;
        if (at_start) {
            take_field(line, "model name", ci->model_name, sizeof ci->model_name);
            take_field(line, "CPU implementer", ci->implementer, sizeof ci->implementer);
            take_field(line, "CPU part", ci->part, sizeof ci->part);
            char seen[4] = "";
            take_field(line, "processor", seen, sizeof seen);
            if (seen[0])
                ci->n_processors++;
        }
        at_start = len > 0 && line[len - 1] == '\n';
    }
    fclose(f);
}

/* MIDR implementer codes, as the kernel prints them ("0x41"). */
static const char *arm_vendor(long code)
{
    switch (code) {
    case 0x41: return "ARM";
    case 0x42: return "Broadcom";
    case 0x46: return "Fujitsu";
    case 0x48: return "HiSilicon";
    case 0x4e: return "NVIDIA";
    case 0x51: return "Qualcomm";
    case 0x61: return "Apple";
    case 0x6d: return "Microsoft";
    case 0xc0: return "Ampere";
    }
    return NULL;
}

/* Part numbers of Arm Ltd's own cores (implementer 0x41). */
static const char *arm_part(long part)
{
    switch (part) {
    case 0xd03: return "Cortex-A53";
    case 0xd04: return "Cortex-A35";
    case 0xd05: return "Cortex-A55";
    case 0xd07: return "Cortex-A57";
    case 0xd08: return "Cortex-A72";
    case 0xd09: return "Cortex-A73";
    case 0xd0a: return "Cortex-A75";
    case 0xd0b: return "Cortex-A76";
    case 0xd0c: return "Neoverse-N1";
    case 0xd0d: return "Cortex-A77";
    case 0xd40: return "Neoverse-V1";
    case 0xd41: return "Cortex-A78";
    case 0xd44: return "Cortex-X1";
    case 0xd46: return "Cortex-A510";
    case 0xd47: return "Cortex-A710";
    case 0xd48: return "Cortex-X2";
    case 0xd49: return "Neoverse-N2";
    case 0xd4d: return "Cortex-A715";
    case 0xd4e: return "Cortex-X3";
    case 0xd4f: return "Neoverse-V2";
    case 0xd80: return "Cortex-A520";
    case 0xd81: return "Cortex-A720";
    case 0xd82: return "Cortex-X4";
    case 0xd84: return "Neoverse-V3";
    case 0xd8e: return "Neoverse-N3";
    }
    return NULL;
}

/* Vendor and model of an ARM CPU from its implementer and part codes. */
static void arm_names(const cpuinfo_facts *ci, aria_cpu_info *out)
{
    char *end;
    long impl = ci->implementer[0] ? strtol(ci->implementer, &end, 0) : -1;
    long part = ci->part[0] ? strtol(ci->part, &end, 0) : -1;
    const char *v = arm_vendor(impl);
    if (!out->vendor[0])
        snprintf(out->vendor, sizeof out->vendor, "%s", v ? v : "ARM");
    if (out->model[0] || part < 0)
        return;
    const char *name = impl == 0x41 ? arm_part(part) : NULL;
    if (name)
        snprintf(out->model, sizeof out->model, "%s", name);
    else
        snprintf(out->model, sizeof out->model, "%s part 0x%03lx", v ? v : "ARM",
                 (unsigned long)part & 0xfff);
}

#if defined(__x86_64__) || defined(__i386__)
static uint64_t xgetbv0(void)
{
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return (uint64_t)hi << 32 | lo;
}

/* cpuid says what the silicon has; XCR0 says whether the OS saves the
 * registers it needs. A kernel that does not (or a hypervisor that hides
 * them) would make AVX code fault, so both must agree. */
static void x86_features(aria_cpu_info *out)
{
    unsigned a, b, c, d;
    if (!__get_cpuid(0, &a, &b, &c, &d))
        return;
    unsigned max_leaf = a;
    memcpy(out->vendor, &b, 4);
    memcpy(out->vendor + 4, &d, 4);
    memcpy(out->vendor + 8, &c, 4);
    out->vendor[12] = '\0';

    uint64_t f = 0;
    if (max_leaf < 1 || !__get_cpuid(1, &a, &b, &c, &d))
        return;
    int osxsave = (c >> 27) & 1;
    uint64_t xcr0 = osxsave ? xgetbv0() : 0;
    int ymm = (xcr0 & 0x6) == 0x6, zmm = (xcr0 & 0xe6) == 0xe6;
    int amx = (xcr0 & (3ull << 17)) == (3ull << 17);
    if (c & (1u << 9)) f |= ARIA_CPU_SSSE3;
    if (c & (1u << 20)) f |= ARIA_CPU_SSE42;
    if (ymm && (c & (1u << 28))) f |= ARIA_CPU_AVX;
    if (ymm && (c & (1u << 12))) f |= ARIA_CPU_FMA;
    if (ymm && (c & (1u << 29))) f |= ARIA_CPU_F16C;
    if (max_leaf >= 7) {
        __get_cpuid_count(7, 0, &a, &b, &c, &d);
        unsigned max_sub = a;
        if (ymm && (b & (1u << 5))) f |= ARIA_CPU_AVX2;
        if (zmm) {
            if (b & (1u << 16)) f |= ARIA_CPU_AVX512F;
            if (b & (1u << 17)) f |= ARIA_CPU_AVX512DQ;
            if (b & (1u << 30)) f |= ARIA_CPU_AVX512BW;
            if (b & (1u << 31)) f |= ARIA_CPU_AVX512VL;
            if (c & (1u << 11)) f |= ARIA_CPU_AVX512VNNI;
        }
        if (amx) {
            if (d & (1u << 24)) f |= ARIA_CPU_AMX_TILE;
            if (d & (1u << 25)) f |= ARIA_CPU_AMX_INT8;
            if (d & (1u << 22)) f |= ARIA_CPU_AMX_BF16;
        }
        if (max_sub >= 1) {
            __get_cpuid_count(7, 1, &a, &b, &c, &d);
            if (ymm && (a & (1u << 4))) f |= ARIA_CPU_AVXVNNI;
            if (zmm && (a & (1u << 5))) f |= ARIA_CPU_AVX512BF16;
        }
    }
    out->features = f;

    unsigned ext = 0;
    __get_cpuid(0x80000000, &ext, &b, &c, &d);
    if (ext >= 0x80000004) {
        unsigned r[12];
        for (unsigned i = 0; i < 3; i++)
            __get_cpuid(0x80000002 + i, &r[4 * i], &r[4 * i + 1], &r[4 * i + 2], &r[4 * i + 3]);
        char brand[49];
        memcpy(brand, r, 48);
        brand[48] = '\0';
        const char *s = brand;
        while (*s == ' ')
            s++;
        snprintf(out->model, sizeof out->model, "%s", s);
        size_t n = strlen(out->model);
        while (n && out->model[n - 1] == ' ')
            out->model[--n] = '\0';
    }
}
#endif

#if defined(__aarch64__)
/* Older libc headers lack the newer bits; the values are the kernel's ABI. */
#ifndef HWCAP_ASIMD
#define HWCAP_ASIMD (1ul << 1)
#endif
#ifndef HWCAP_FPHP
#define HWCAP_FPHP (1ul << 9)
#endif
#ifndef HWCAP_ASIMDHP
#define HWCAP_ASIMDHP (1ul << 10)
#endif
#ifndef HWCAP_ASIMDDP
#define HWCAP_ASIMDDP (1ul << 20)
#endif
#ifndef HWCAP_SVE
#define HWCAP_SVE (1ul << 22)
#endif
#ifndef HWCAP2_SVE2
#define HWCAP2_SVE2 (1ul << 1)
#endif
#ifndef HWCAP2_I8MM
#define HWCAP2_I8MM (1ul << 13)
#endif
#ifndef AT_HWCAP2
#define AT_HWCAP2 26
#endif
static void arm_features(aria_cpu_info *out)
{
    unsigned long h = getauxval(AT_HWCAP), h2 = getauxval(AT_HWCAP2);
    uint64_t f = 0;
    if (h & HWCAP_ASIMD) f |= ARIA_CPU_NEON;
    if (h & HWCAP_ASIMDDP) f |= ARIA_CPU_DOTPROD;
    /* fp16 kernels use both the scalar and the vector half-precision ops. */
    if ((h & HWCAP_FPHP) && (h & HWCAP_ASIMDHP)) f |= ARIA_CPU_FP16;
    if (h & HWCAP_SVE) f |= ARIA_CPU_SVE;
    if (h2 & HWCAP2_SVE2) f |= ARIA_CPU_SVE2;
    if (h2 & HWCAP2_I8MM) f |= ARIA_CPU_I8MM;
    out->features = f;
}
#endif

aria_err ari_cpu_detect(const aria_detect_env *env, aria_cpu_info *out)
{
    if (!out)
        return ARIA_ERR_INVALID;
    memset(out, 0, sizeof *out);
    out->hdr.struct_size = sizeof *out;
    out->hdr.version = 1;
    const char *sys = env && env->sysfs_root ? env->sysfs_root : "/sys";
    const char *proc = env && env->proc_root ? env->proc_root : "/proc";
#if defined(__x86_64__)
    out->arch = ARIA_ARCH_X86_64;
    x86_features(out);
#elif defined(__aarch64__)
    out->arch = ARIA_ARCH_AARCH64;
    arm_features(out);
#endif
    aria_err rc = read_topology(sys, out);
    read_caches(sys, out);
    read_memory(proc, out);

    cpuinfo_facts ci;
    read_cpuinfo(proc, &ci);
    if (!out->model[0])
        snprintf(out->model, sizeof out->model, "%s", ci.model_name);
    if (out->arch == ARIA_ARCH_AARCH64 || (!out->vendor[0] && ci.implementer[0]))
        arm_names(&ci, out);
    if (!out->cores_logical) /* no sysfs */
        out->cores_logical = ci.n_processors;
    return rc;
}

/* In the order the extensions came, per architecture: that is how people
 * read an ISA list ("ssse3 sse4.2 avx avx2"), not the ABI's bit order. */
static const struct {
    uint64_t bit;
    const char *name;
} feature_names[] = {
    {ARIA_CPU_SSSE3, "ssse3"},
    {ARIA_CPU_SSE42, "sse4.2"},
    {ARIA_CPU_AVX, "avx"},
    {ARIA_CPU_AVX2, "avx2"},
    {ARIA_CPU_FMA, "fma"},
    {ARIA_CPU_F16C, "f16c"},
    {ARIA_CPU_AVX512F, "avx512f"},
    {ARIA_CPU_AVX512BW, "avx512bw"},
    {ARIA_CPU_AVX512DQ, "avx512dq"},
    {ARIA_CPU_AVX512VL, "avx512vl"},
    {ARIA_CPU_AVX512VNNI, "avx512vnni"},
    {ARIA_CPU_AVX512BF16, "avx512bf16"},
    {ARIA_CPU_AVXVNNI, "avxvnni"},
    {ARIA_CPU_AMX_TILE, "amx-tile"},
    {ARIA_CPU_AMX_INT8, "amx-int8"},
    {ARIA_CPU_AMX_BF16, "amx-bf16"},
    {ARIA_CPU_NEON, "neon"},
    {ARIA_CPU_DOTPROD, "dotprod"},
    {ARIA_CPU_I8MM, "i8mm"},
    {ARIA_CPU_SVE, "sve"},
    {ARIA_CPU_SVE2, "sve2"},
    {ARIA_CPU_FP16, "fp16"},
};

/* Whole names only: a list cut short must not name a feature that is not
 * there ("avx512" of "avx512vnni"). */
const char *ari_cpu_feature_names(uint64_t features, char *buf, size_t cap)
{
    size_t len = 0;
    if (!buf || !cap)
        return buf;
    buf[0] = '\0';
    for (size_t i = 0; i < sizeof feature_names / sizeof feature_names[0]; i++) {
        if (!(features & feature_names[i].bit))
            continue;
        size_t need = strlen(feature_names[i].name) + (len ? 1 : 0);
        if (len + need + 1 > cap)
            break;
        len += (size_t)snprintf(buf + len, cap - len, "%s%s", len ? " " : "",
                                feature_names[i].name);
    }
    return buf;
}

/* The x86-64 micro-architecture level (as in the psABI), or the ARM base
 * with the extensions kernels care about. */
static void isa_level(uint64_t f, aria_arch arch, char *buf, size_t cap)
{
    if (arch == ARIA_ARCH_AARCH64) {
        int v82 = (f & (ARIA_CPU_DOTPROD | ARIA_CPU_FP16 | ARIA_CPU_I8MM | ARIA_CPU_SVE)) != 0;
        snprintf(buf, cap, "%s%s%s%s%s", v82 ? "armv8.2-a" : "armv8-a",
                 (f & ARIA_CPU_DOTPROD) ? "+dotprod" : "", (f & ARIA_CPU_I8MM) ? "+i8mm" : "",
                 (f & ARIA_CPU_SVE2) ? "+sve2" : (f & ARIA_CPU_SVE) ? "+sve" : "",
                 (f & ARIA_CPU_FP16) ? "+fp16" : "");
        return;
    }
    if (arch != ARIA_ARCH_X86_64) {
        snprintf(buf, cap, "%s", "");
        return;
    }
    uint64_t v4 = ARIA_CPU_AVX512F | ARIA_CPU_AVX512BW | ARIA_CPU_AVX512DQ | ARIA_CPU_AVX512VL;
    uint64_t v3 = ARIA_CPU_AVX2 | ARIA_CPU_FMA | ARIA_CPU_F16C;
    const char *lv = "x86-64";
    if ((f & v4) == v4 && (f & v3) == v3)
        lv = "x86-64-v4";
    else if ((f & v3) == v3)
        lv = "x86-64-v3";
    else if (f & ARIA_CPU_SSE42)
        lv = "x86-64-v2";
    snprintf(buf, cap, "%s", lv);
}

static aria_err cpu_detect(void *ctx, const aria_detect_env *env, aria_device *out, size_t cap,
                           size_t *n, aria_msg *why)
{
    (void)ctx;
    if (!n)
        return aria_fail(why, ARIA_ERR_INVALID, "cpu: no count to fill");
    *n = 0;
    if (cap == 0 || !out)
        return aria_fail(why, ARIA_ERR_RANGE, "cpu: no room for the CPU device");
    aria_cpu_info c;
    ari_cpu_detect(env, &c);
    memset(out, 0, sizeof *out);
    out->hdr.struct_size = sizeof *out;
    out->hdr.version = 1;
    out->kind = ARIA_DEV_CPU;
    out->available = 1;
    snprintf(out->vendor, sizeof out->vendor, "%s", c.vendor);
    snprintf(out->name, sizeof out->name, "%s", c.model);
    isa_level(c.features, (aria_arch)c.arch, out->generation, sizeof out->generation);
    snprintf(out->path, sizeof out->path, "%s/devices/system/cpu",
             env && env->sysfs_root ? env->sysfs_root : "/sys");
    out->features = c.features;
    out->cores = c.cores_physical ? c.cores_physical : c.cores_logical;
    *n = 1;
    return ARIA_OK;
}

const aria_detector_vt ari_cpu_detector = {
    .hdr = {sizeof(aria_detector_vt), ARIA_DETECTOR_VERSION},
    .name = "cpu",
    .detect = cpu_detect,
};
