/* cpu.c — the CPU detector built into aria-core.
 *
 * ISA features come from the CPU itself (cpuid and xgetbv on x86, the
 * kernel's hwcaps on ARM), because that is what decides whether a kernel
 * variant may run. Topology, caches and memory come from sysfs and procfs
 * under the roots in aria_detect_env, so tests can hand in a fake tree.
 * Every file read is bounded, and unreadable or garbage files mean "unknown"
 * (0), never a failure. */
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

#define MAX_CPUS 4096

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
 * values that would overflow. */
static long long parse_num(const char *s, const char **end)
{
    while (*s == ' ' || *s == '\t')
        s++;
    if (!isdigit((unsigned char)*s))
        return -1;
    long long v = 0;
    while (isdigit((unsigned char)*s)) {
        if (v > (1ll << 50))
            return -1;
        v = v * 10 + (*s++ - '0');
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

/* "48K", "2048K", "32M", "1G" -> bytes; 0 on garbage. */
static uint64_t parse_size(const char *s)
{
    const char *e;
    long long v = parse_num(s, &e);
    if (v < 0)
        return 0;
    switch (toupper((unsigned char)*e)) {
    case 'K': return (uint64_t)v << 10;
    case 'M': return (uint64_t)v << 20;
    case 'G': return (uint64_t)v << 30;
    case '\0': case '\n': return (uint64_t)v;
    }
    return 0;
}

static void read_topology(const char *sys, aria_cpu_info *out)
{
    char path[512], buf[4096];
    static unsigned char online[MAX_CPUS];
    memset(online, 0, sizeof online);
    snprintf(path, sizeof path, "%s/devices/system/cpu/online", sys);
    read_small(path, buf, sizeof buf);
    out->cores_logical = (uint32_t)parse_cpulist(buf, online);

    /* Distinct (package, core) pairs among the online CPUs. */
    static long long seen[MAX_CPUS][2];
    int n_seen = 0;
    for (int c = 0; c < MAX_CPUS; c++) {
        if (!online[c])
            continue;
        long long ids[2];
        const char *names[2] = {"physical_package_id", "core_id"};
        int ok = 1;
        for (int k = 0; k < 2; k++) {
            snprintf(path, sizeof path, "%s/devices/system/cpu/cpu%d/topology/%s", sys, c, names[k]);
            read_small(path, buf, 64);
            ids[k] = parse_num(buf, NULL);
            ok &= ids[k] >= 0;
        }
        if (!ok)
            continue;
        int dup = 0;
        for (int i = 0; i < n_seen && !dup; i++)
            dup = seen[i][0] == ids[0] && seen[i][1] == ids[1];
        if (!dup) {
            seen[n_seen][0] = ids[0];
            seen[n_seen][1] = ids[1];
            n_seen++;
        }
    }
    out->cores_physical = (uint32_t)n_seen;

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

/* The value of "key : value" in /proc/cpuinfo, trimmed, into dst. */
static void cpuinfo_field(const char *text, const char *key, char *dst, size_t cap)
{
    const char *p = text;
    size_t kl = strlen(key);
    while ((p = strstr(p, key))) {
        if (p == text || p[-1] == '\n') {
            const char *q = p + kl;
            while (*q == ' ' || *q == '\t')
                q++;
            if (*q == ':') {
                q++;
                while (*q == ' ')
                    q++;
                size_t n = strcspn(q, "\n");
                if (n >= cap)
                    n = cap - 1;
                for (size_t i = 0; i < n; i++)
                    dst[i] = isprint((unsigned char)q[i]) ? q[i] : '?';
                dst[n] = '\0';
                return;
            }
        }
        p += kl;
    }
}

#if defined(__x86_64__) || defined(__i386__)
static uint64_t xgetbv0(void)
{
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return (uint64_t)hi << 32 | lo;
}

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
    __get_cpuid(1, &a, &b, &c, &d);
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
        unsigned a1 = 0, b1 = 0, c1 = 0, d1 = 0;
        __get_cpuid_count(7, 1, &a1, &b1, &c1, &d1);
        if (ymm && (a1 & (1u << 4))) f |= ARIA_CPU_AVXVNNI;
        if (zmm && (a1 & (1u << 5))) f |= ARIA_CPU_AVX512BF16;
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
static void arm_features(aria_cpu_info *out)
{
    unsigned long h = getauxval(AT_HWCAP), h2 = getauxval(AT_HWCAP2);
    uint64_t f = 0;
    if (h & HWCAP_ASIMD) f |= ARIA_CPU_NEON;
    if (h & HWCAP_ASIMDDP) f |= ARIA_CPU_DOTPROD;
    if ((h & HWCAP_FPHP) && (h & HWCAP_ASIMDHP)) f |= ARIA_CPU_FP16;
    if (h & HWCAP_SVE) f |= ARIA_CPU_SVE;
    if (h2 & HWCAP2_SVE2) f |= ARIA_CPU_SVE2;
    if (h2 & HWCAP2_I8MM) f |= ARIA_CPU_I8MM;
    out->features = f;
    snprintf(out->vendor, sizeof out->vendor, "ARM");
}
#endif

aria_err ari_cpu_detect(const aria_detect_env *env, aria_cpu_info *out)
{
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
    read_topology(sys, out);
    read_memory(proc, out);
    char path[512];
    static char info[65536];
    snprintf(path, sizeof path, "%s/cpuinfo", proc);
    read_small(path, info, sizeof info);
    if (!out->model[0])
        cpuinfo_field(info, "model name", out->model, sizeof out->model);
    if (!out->model[0]) {
        char part[32] = "";
        cpuinfo_field(info, "CPU part", part, sizeof part);
        if (part[0])
            snprintf(out->model, sizeof out->model, "ARM part %s", part);
    }
    if (!out->cores_logical) /* no sysfs: count processor lines */
        for (const char *p = info; (p = strstr(p, "processor")); p += 9)
            if (p == info || p[-1] == '\n')
                out->cores_logical++;
    return ARIA_OK;
}

static const struct {
    uint64_t bit;
    const char *name;
} feature_names[] = {
    {ARIA_CPU_SSSE3, "ssse3"},     {ARIA_CPU_SSE42, "sse4.2"},      {ARIA_CPU_AVX, "avx"},
    {ARIA_CPU_AVX2, "avx2"},       {ARIA_CPU_FMA, "fma"},           {ARIA_CPU_F16C, "f16c"},
    {ARIA_CPU_AVX512F, "avx512f"}, {ARIA_CPU_AVX512BW, "avx512bw"}, {ARIA_CPU_AVX512DQ, "avx512dq"},
    {ARIA_CPU_AVX512VL, "avx512vl"}, {ARIA_CPU_AVX512VNNI, "avx512vnni"},
    {ARIA_CPU_AVX512BF16, "avx512bf16"}, {ARIA_CPU_AVXVNNI, "avxvnni"},
    {ARIA_CPU_AMX_TILE, "amx-tile"}, {ARIA_CPU_AMX_INT8, "amx-int8"}, {ARIA_CPU_AMX_BF16, "amx-bf16"},
    {ARIA_CPU_NEON, "neon"},       {ARIA_CPU_DOTPROD, "dotprod"},   {ARIA_CPU_I8MM, "i8mm"},
    {ARIA_CPU_SVE, "sve"},         {ARIA_CPU_SVE2, "sve2"},         {ARIA_CPU_FP16, "fp16"},
};

const char *ari_cpu_feature_names(uint64_t features, char *buf, size_t cap)
{
    size_t len = 0;
    if (cap)
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

/* The x86-64 micro-architecture level, or the ARM extension summary. */
static const char *isa_level(uint64_t f, aria_arch arch)
{
    if (arch == ARIA_ARCH_AARCH64)
        return (f & ARIA_CPU_SVE) ? "armv8.2-a+sve" : (f & ARIA_CPU_DOTPROD) ? "armv8.2-a+dotprod"
                                                                              : "armv8-a";
    uint64_t v4 = ARIA_CPU_AVX512F | ARIA_CPU_AVX512BW | ARIA_CPU_AVX512DQ | ARIA_CPU_AVX512VL;
    uint64_t v3 = ARIA_CPU_AVX2 | ARIA_CPU_FMA | ARIA_CPU_F16C;
    if ((f & v4) == v4 && (f & v3) == v3)
        return "x86-64-v4";
    if ((f & v3) == v3)
        return "x86-64-v3";
    if (f & ARIA_CPU_SSE42)
        return "x86-64-v2";
    return "x86-64";
}

static aria_err cpu_detect(void *ctx, const aria_detect_env *env, aria_device *out, size_t cap,
                           size_t *n, aria_msg *why)
{
    (void)ctx;
    *n = 0;
    if (cap == 0)
        return aria_fail(why, ARIA_ERR_RANGE, "no room for the CPU device");
    aria_cpu_info c;
    ari_cpu_detect(env, &c);
    memset(out, 0, sizeof *out);
    out->hdr.struct_size = sizeof *out;
    out->hdr.version = 1;
    out->kind = ARIA_DEV_CPU;
    out->available = 1;
    snprintf(out->vendor, sizeof out->vendor, "%s", c.vendor);
    snprintf(out->name, sizeof out->name, "%s", c.model);
    snprintf(out->generation, sizeof out->generation, "%s", isa_level(c.features, c.arch));
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
