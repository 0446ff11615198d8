/* test_cpu.c — the CPU detector on fake sysfs/procfs trees (topology,
 * caches, memory, garbage), its ISA features against the compiler's, and
 * the hardware report built from it and from other detectors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "cmds.h"
#include "cpu.h"

#include <ftw.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* One temporary directory per test; each test builds named trees in it. */
static char tmp_root[64];

typedef struct fake {
    char sys[256], proc[256];
    aria_detect_env env;
} fake;

/* Writes tree/rel under the test's directory; len 0 means strlen(text). */
static void put_n(const char *tree, const char *rel, const char *text, size_t len)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s/%s", tmp_root, tree, rel);
    for (char *p = path + strlen(tmp_root) + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            mkdir(path, 0700);
            *p = '/';
        }
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, len ? len : strlen(text), f), len ? len : strlen(text));
    fclose(f);
}

static void put(const char *tree, const char *rel, const char *text)
{
    put_n(tree, rel, text, 0);
}

static void fake_init(fake *f, const char *tree)
{
    snprintf(f->sys, sizeof f->sys, "%s/%s/sys", tmp_root, tree);
    snprintf(f->proc, sizeof f->proc, "%s/%s/proc", tmp_root, tree);
    f->env = (aria_detect_env){.hdr = {sizeof f->env, 1}, .sysfs_root = f->sys,
                               .proc_root = f->proc, .dev_root = "/nonexistent"};
}

/* cpuN belongs to (package, core). */
static void put_cpu(const char *tree, int cpu, int package, int core)
{
    char rel[128], v[32];
    snprintf(rel, sizeof rel, "sys/devices/system/cpu/cpu%d/topology/physical_package_id", cpu);
    snprintf(v, sizeof v, "%d\n", package);
    put(tree, rel, v);
    snprintf(rel, sizeof rel, "sys/devices/system/cpu/cpu%d/topology/core_id", cpu);
    snprintf(v, sizeof v, "%d\n", core);
    put(tree, rel, v);
}

static void put_cache(const char *tree, int index, const char *level, const char *type,
                      const char *size)
{
    char rel[128];
    snprintf(rel, sizeof rel, "sys/devices/system/cpu/cpu0/cache/index%d/level", index);
    put(tree, rel, level);
    snprintf(rel, sizeof rel, "sys/devices/system/cpu/cpu0/cache/index%d/type", index);
    put(tree, rel, type);
    snprintf(rel, sizeof rel, "sys/devices/system/cpu/cpu0/cache/index%d/size", index);
    put(tree, rel, size);
}

/* The tree most tests start from: 2 cores with 2 threads each, a 48K L1d,
 * 2M L2, 32M L3, 24 GB of RAM. */
static void put_laptop(const char *tree)
{
    put(tree, "sys/devices/system/cpu/online", "0-3\n");
    put_cpu(tree, 0, 0, 0);
    put_cpu(tree, 1, 0, 1);
    put_cpu(tree, 2, 0, 0); /* thread siblings of 0 and 1 */
    put_cpu(tree, 3, 0, 1);
    put_cache(tree, 0, "1\n", "Data\n", "48K\n");
    put_cache(tree, 1, "1\n", "Instruction\n", "32K\n");
    put_cache(tree, 2, "2\n", "Unified\n", "2048K\n");
    put_cache(tree, 3, "3\n", "Unified\n", "32M\n");
    put(tree, "proc/meminfo",
        "MemTotal:       24576000 kB\nMemFree:         1000000 kB\n"
        "MemAvailable:   20000000 kB\nBuffers:           12345 kB\n");
}

static int setup(void **state)
{
    (void)state;
    snprintf(tmp_root, sizeof tmp_root, "/tmp/aria-cpu-XXXXXX");
    return mkdtemp(tmp_root) ? 0 : -1;
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
    (void)state;
    return nftw(tmp_root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static aria_cpu_info detect(const fake *f)
{
    aria_cpu_info c;
    memset(&c, 0xa5, sizeof c); /* detect must fill every field */
    assert_int_equal(ari_cpu_detect(&f->env, &c), ARIA_OK);
    assert_int_equal(c.hdr.struct_size, sizeof c);
    assert_int_equal(c.hdr.version, 1);
    return c;
}

static void test_online_ranges(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        uint32_t want;
    } cases[] = {
        {"0-3,6,8-9\n", 7}, {"0\n", 1}, {"0-0\n", 1}, {"0-3,2-5\n", 6}, /* overlap counted once */
        {"0-3", 4},         /* no newline */
        {"5-2\n", 0},       /* backwards */
        {"1,5-2\n", 0},     /* backwards after a good part: all garbage */
        {"0-99999\n", 0},   /* more CPUs than a kernel can have */
        {"0-3,\n", 4},      /* a trailing comma ends the list */
        {"0-3;6\n", 0},     {"-1\n", 0},      {"", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char tree[16];
        snprintf(tree, sizeof tree, "t%zu", i);
        put(tree, "sys/devices/system/cpu/online", cases[i].text);
        fake f;
        fake_init(&f, tree);
        aria_cpu_info c = detect(&f);
        if (c.cores_logical != cases[i].want)
            fail_msg("online \"%s\": %u CPUs, want %u", cases[i].text, c.cores_logical,
                     cases[i].want);
    }
}

static void test_physical_cores(void **state)
{
    (void)state;
    fake f;
    put_laptop("ht");
    fake_init(&f, "ht");
    aria_cpu_info c = detect(&f);
    assert_int_equal(c.cores_logical, 4);
    assert_int_equal(c.cores_physical, 2); /* siblings share a core */

    /* The same core_id on two packages is two cores. */
    put("pkg", "sys/devices/system/cpu/online", "0-3\n");
    put_cpu("pkg", 0, 0, 0);
    put_cpu("pkg", 1, 0, 1);
    put_cpu("pkg", 2, 1, 0);
    put_cpu("pkg", 3, 1, 1);
    fake_init(&f, "pkg");
    c = detect(&f);
    assert_int_equal(c.cores_physical, 4);

    /* Only online CPUs count: cpu0 and cpu1 exist but are offline. */
    put("off", "sys/devices/system/cpu/online", "2-3\n");
    put_cpu("off", 0, 0, 0);
    put_cpu("off", 1, 0, 1);
    put_cpu("off", 2, 0, 2);
    put_cpu("off", 3, 0, 2);
    fake_init(&f, "off");
    c = detect(&f);
    assert_int_equal(c.cores_logical, 2);
    assert_int_equal(c.cores_physical, 1);

    /* A CPU without topology files is not guessed at. */
    put("gap", "sys/devices/system/cpu/online", "0-2\n");
    put_cpu("gap", 0, 0, 0);
    put_cpu("gap", 2, 0, 1);
    fake_init(&f, "gap");
    c = detect(&f);
    assert_int_equal(c.cores_logical, 3);
    assert_int_equal(c.cores_physical, 2);
}

static void test_caches(void **state)
{
    (void)state;
    fake f;
    put_laptop("lap");
    fake_init(&f, "lap");
    aria_cpu_info c = detect(&f);
    assert_int_equal(c.l1d_bytes, 48 * 1024);
    assert_int_equal(c.l2_bytes, 2048 * 1024);
    assert_int_equal(c.l3_bytes, 32ull << 20);

    /* The instruction cache after the data cache must not overwrite it; a
     * missing index does not end the scan; a bare number is bytes. */
    put_cache("ord", 1, "1\n", "Data\n", "32K\n");
    put_cache("ord", 2, "1\n", "Instruction\n", "64K\n");
    put_cache("ord", 4, "2\n", "Unified\n", "1M\n");
    put_cache("ord", 5, "3\n", "Unified\n", "1048576\n");
    fake_init(&f, "ord");
    c = detect(&f);
    assert_int_equal(c.l1d_bytes, 32 * 1024);
    assert_int_equal(c.l2_bytes, 1u << 20);
    assert_int_equal(c.l3_bytes, 1u << 20);

    /* Only an instruction cache at L1: L1d unknown. */
    put_cache("icache", 0, "1\n", "Instruction\n", "64K\n");
    fake_init(&f, "icache");
    c = detect(&f);
    assert_int_equal(c.l1d_bytes, 0);
}

static void test_meminfo(void **state)
{
    (void)state;
    fake f;
    put_laptop("lap");
    fake_init(&f, "lap");
    aria_cpu_info c = detect(&f);
    assert_int_equal(c.ram_bytes, 24576000ull * 1024);
    assert_int_equal(c.ram_avail_bytes, 20000000ull * 1024);

    /* Keys only count at the start of a line; an old kernel has no
     * MemAvailable. */
    put("old", "proc/meminfo", "XMemTotal: 5 kB\nMemTotal:\t 1024 kB\nMemFree: 7 kB\n");
    fake_init(&f, "old");
    c = detect(&f);
    assert_int_equal(c.ram_bytes, 1024 * 1024);
    assert_int_equal(c.ram_avail_bytes, 0);
}

static void test_garbage(void **state)
{
    (void)state;
    char junk[3000];
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (char)(i * 131 + 7);
    static const char *const files[] = {
        "sys/devices/system/cpu/online",
        "sys/devices/system/cpu/cpu0/topology/core_id",
        "sys/devices/system/cpu/cpu0/topology/physical_package_id",
        "sys/devices/system/cpu/cpu0/cache/index0/level",
        "sys/devices/system/cpu/cpu0/cache/index0/type",
        "sys/devices/system/cpu/cpu0/cache/index0/size",
        "proc/meminfo",
        "proc/cpuinfo",
    };
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
        put_n("junk", files[i], junk, sizeof junk);
    fake f;
    fake_init(&f, "junk");
    aria_cpu_info c = detect(&f);
    assert_int_equal(c.cores_logical, 0);
    assert_int_equal(c.cores_physical, 0);
    assert_int_equal(c.l1d_bytes, 0);
    assert_int_equal(c.ram_bytes, 0);
    assert_int_equal(c.ram_avail_bytes, 0);

    /* Numbers too big for anything, and suffixes with no number. */
    put("huge", "sys/devices/system/cpu/online", "0-1\n");
    put_cpu("huge", 0, 0, 0);
    put("huge", "sys/devices/system/cpu/cpu1/topology/physical_package_id",
        "99999999999999999999999\n");
    put("huge", "sys/devices/system/cpu/cpu1/topology/core_id", "1\n");
    put_cache("huge", 0, "99999999999999999999999\n", "Data\n", "48K\n");
    put_cache("huge", 1, "2\n", "Unified\n", "99999999999999999999999K\n");
    put_cache("huge", 2, "3\n", "Unified\n", "K\n");
    put_cache("huge", 3, "1\n", "Data\n", "1000000000000G\n"); /* 2^70 bytes */
    put("huge", "proc/meminfo", "MemTotal: 99999999999999999999999 kB\nMemAvailable: kB\n");
    fake_init(&f, "huge");
    c = detect(&f);
    assert_int_equal(c.cores_logical, 2);
    assert_int_equal(c.cores_physical, 1);
    assert_int_equal(c.l1d_bytes, 0);
    assert_int_equal(c.l2_bytes, 0);
    assert_int_equal(c.l3_bytes, 0);
    assert_int_equal(c.ram_bytes, 0);
    assert_int_equal(c.ram_avail_bytes, 0);

    /* Empty files, and a directory where a file should be. */
    put("empty", "sys/devices/system/cpu/online", "");
    put("empty", "proc/meminfo", "");
    put("empty", "proc/cpuinfo", "");
    put("empty", "sys/devices/system/cpu/cpu0/cache/index0/level/x", "");
    fake_init(&f, "empty");
    c = detect(&f);
    assert_int_equal(c.cores_logical, 0);
    assert_int_equal(c.l1d_bytes, 0);
    assert_int_equal(c.ram_bytes, 0);

    /* No tree at all. */
    aria_detect_env none = {.hdr = {sizeof none, 1}, .sysfs_root = "/nonexistent/sys",
                            .proc_root = "/nonexistent/proc"};
    assert_int_equal(ari_cpu_detect(&none, &c), ARIA_OK);
    assert_int_equal(c.cores_logical, 0);
    assert_int_equal(c.cores_physical, 0);
    assert_int_equal(c.ram_bytes, 0);
    assert_int_equal(ari_cpu_detect(&none, NULL), ARIA_ERR_INVALID);
}

/* Without sysfs, /proc/cpuinfo's "processor" lines still count the CPUs;
 * a flags line longer than any buffer cannot fake a field. */
static void test_cpuinfo(void **state)
{
    (void)state;
    char text[8192];
    size_t len = 0;
    for (int i = 0; i < 3; i++) {
        len += (size_t)snprintf(text + len, sizeof text - len,
                                "processor\t: %d\nmodel name\t: Fake CPU @ 1.00GHz\nflags\t\t: ",
                                i);
        for (int k = 0; k < 100; k++) /* ~1.2 KiB: split across reads */
            len += (size_t)snprintf(text + len, sizeof text - len, "flag%02d ", k);
        len += (size_t)snprintf(text + len, sizeof text - len, "\n\n");
    }
    put("ci", "proc/cpuinfo", text);
    fake f;
    fake_init(&f, "ci");
    aria_cpu_info c = detect(&f);
    assert_int_equal(c.cores_logical, 3);
    assert_int_equal(c.cores_physical, 0);
#if !defined(__x86_64__)
    /* Where there is no brand string, the model comes from cpuinfo. */
    assert_string_equal(c.model, "Fake CPU @ 1.00GHz");
#endif

    /* "processor" right after a split point of a long line, wherever the
     * split falls for any line buffer up to 600 bytes. */
    FILE *lf = NULL;
    char path[512];
    put("long", "proc/cpuinfo", "processor\t: 0\n");
    snprintf(path, sizeof path, "%s/long/proc/cpuinfo", tmp_root);
    assert_non_null(lf = fopen(path, "ab"));
    for (int k = 1; k <= 600; k++)
        fprintf(lf, "flags\t: %*sprocessor\t: %d\n", k, "", k);
    fclose(lf);
    fake_init(&f, "long");
    c = detect(&f);
    assert_int_equal(c.cores_logical, 1);
#if defined(__aarch64__)
    /* ARM has no brand string: implementer and part codes name it. */
    put("neo", "proc/cpuinfo", "processor\t: 0\nCPU implementer\t: 0x41\nCPU part\t: 0xd0c\n");
    fake_init(&f, "neo");
    c = detect(&f);
    assert_string_equal(c.vendor, "ARM");
    assert_string_equal(c.model, "Neoverse-N1");
    put("m1", "proc/cpuinfo", "processor\t: 0\nCPU implementer\t: 0x61\nCPU part\t: 0x022\n");
    fake_init(&f, "m1");
    c = detect(&f);
    assert_string_equal(c.vendor, "Apple");
    assert_string_equal(c.model, "Apple part 0x022");
#endif
}

static void test_feature_names(void **state)
{
    (void)state;
    char buf[512];
    assert_string_equal(ari_cpu_feature_names(ARIA_CPU_AVX2 | ARIA_CPU_FMA | ARIA_CPU_NEON, buf,
                                              sizeof buf),
                        "avx2 fma neon");
    assert_string_equal(ari_cpu_feature_names(0, buf, sizeof buf), "");
    assert_string_equal(ari_cpu_feature_names(~0ull, buf, sizeof buf),
                        "ssse3 sse4.2 avx avx2 fma f16c avx512f avx512bw avx512dq avx512vl "
                        "avx512vnni avx512bf16 avxvnni amx-tile amx-int8 amx-bf16 "
                        "neon dotprod i8mm sve sve2 fp16");
    /* Bits with no name (future ones) are skipped, not printed as junk. */
    assert_string_equal(ari_cpu_feature_names(1ull << 60 | ARIA_CPU_SVE, buf, sizeof buf), "sve");

    /* Truncation keeps whole names and the NUL. */
    char small[8];
    memset(small, 'x', sizeof small);
    assert_ptr_equal(ari_cpu_feature_names(ARIA_CPU_AVX2 | ARIA_CPU_FMA | ARIA_CPU_F16C, small,
                                           sizeof small),
                     small);
    assert_string_equal(small, "avx2"); /* "avx2 fma" needs 9 bytes */
    assert_string_equal(ari_cpu_feature_names(ARIA_CPU_AVX512F | ARIA_CPU_AVX512VNNI, small,
                                              sizeof small),
                        "avx512f");
    assert_string_equal(ari_cpu_feature_names(ARIA_CPU_AVX512VNNI, small, sizeof small), "");
    char exact[9];
    assert_string_equal(ari_cpu_feature_names(ARIA_CPU_AVX2 | ARIA_CPU_FMA, exact, sizeof exact),
                        "avx2 fma");
    char one[1] = {'x'};
    assert_string_equal(ari_cpu_feature_names(ARIA_CPU_AVX2, one, sizeof one), "");
    char none[1] = {'x'};
    ari_cpu_feature_names(ARIA_CPU_AVX2, none, 0);
    assert_int_equal(none[0], 'x'); /* cap 0: not a byte written */
}

static void test_detector_vtable(void **state)
{
    (void)state;
    assert_int_equal(ari_cpu_detector.hdr.struct_size, sizeof(aria_detector_vt));
    assert_int_equal(ari_cpu_detector.hdr.version, ARIA_DETECTOR_VERSION);
    assert_string_equal(ari_cpu_detector.name, "cpu");

    aria_device d[2];
    size_t n = 9;
    aria_msg why = {{0}};
    assert_int_equal(ari_cpu_detector.detect(NULL, NULL, d, 0, &n, &why), ARIA_ERR_RANGE);
    assert_int_equal(n, 0);
    assert_true(why.text[0]);

    fake f;
    put_laptop("lap");
    fake_init(&f, "lap");
    aria_cpu_info c = detect(&f);
    memset(d, 0x5a, sizeof d);
    assert_int_equal(ari_cpu_detector.detect(NULL, &f.env, d, 2, &n, &why), ARIA_OK);
    assert_int_equal(n, 1);
    assert_int_equal(d[0].hdr.struct_size, sizeof d[0]);
    assert_int_equal(d[0].kind, ARIA_DEV_CPU);
    assert_int_equal(d[0].available, 1);
    assert_int_equal(d[0].cores, 2); /* physical, not the 4 threads */
    assert_int_equal(d[0].mem_bytes, 0);
    assert_int_equal(d[0].features, c.features);
    assert_string_equal(d[0].vendor, c.vendor);
    assert_string_equal(d[0].name, c.model);
    assert_string_equal(d[0].driver, "");
    char want[300];
    snprintf(want, sizeof want, "%s/devices/system/cpu", f.sys);
    assert_string_equal(d[0].path, want);
    assert_int_equal(d[1].kind, 0x5a5a5a5au); /* one device only */
#if defined(__x86_64__)
    assert_non_null(strstr(d[0].generation, "x86-64"));
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
        assert_string_equal(d[0].generation, "x86-64-v4");
    else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        assert_string_equal(d[0].generation, "x86-64-v3");
#elif defined(__aarch64__)
    assert_non_null(strstr(d[0].generation, "armv8"));
#endif

    /* No topology: cores falls back to the logical count. */
    put("flat", "sys/devices/system/cpu/online", "0-5\n");
    fake_init(&f, "flat");
    assert_int_equal(ari_cpu_detector.detect(NULL, &f.env, d, 1, &n, NULL), ARIA_OK);
    assert_int_equal(d[0].cores, 6);
}

#if defined(__clang__)
#define HAS_F16C (-1) /* clang's __builtin_cpu_supports does not know f16c */
#else
#define HAS_F16C (__builtin_cpu_supports("f16c") != 0)
#endif

/* The real CPU: what cpuid and xgetbv say matches what the compiler's
 * runtime (which checks the OS state too) says. */
static void test_real_features(void **state)
{
    (void)state;
    aria_cpu_info c;
    assert_int_equal(ari_cpu_detect(NULL, &c), ARIA_OK);
    assert_true(c.cores_logical >= 1);
    assert_true(c.cores_physical <= c.cores_logical);
    assert_true(c.ram_bytes > 0);
    assert_true(c.ram_avail_bytes <= c.ram_bytes);
    assert_true(c.vendor[0]);
    assert_true(c.model[0]);
#if defined(__x86_64__)
    __builtin_cpu_init();
    assert_int_equal(c.arch, ARIA_ARCH_X86_64);
    static const struct {
        uint64_t bit;
        const char *name;
    } want[] = {
        {ARIA_CPU_SSSE3, "ssse3"},       {ARIA_CPU_SSE42, "sse4.2"},
        {ARIA_CPU_AVX, "avx"},           {ARIA_CPU_AVX2, "avx2"},
        {ARIA_CPU_FMA, "fma"},           {ARIA_CPU_F16C, "f16c"},
        {ARIA_CPU_AVX512F, "avx512f"},   {ARIA_CPU_AVX512BW, "avx512bw"},
        {ARIA_CPU_AVX512DQ, "avx512dq"}, {ARIA_CPU_AVX512VL, "avx512vl"},
        {ARIA_CPU_AVX512VNNI, "avx512vnni"},
    };
    /* __builtin_cpu_supports needs a literal, hence a second list in the
     * same order. */
    int has[] = {
        __builtin_cpu_supports("ssse3"),    __builtin_cpu_supports("sse4.2"),
        __builtin_cpu_supports("avx"),      __builtin_cpu_supports("avx2"),
        __builtin_cpu_supports("fma"),      HAS_F16C,
        __builtin_cpu_supports("avx512f"),  __builtin_cpu_supports("avx512bw"),
        __builtin_cpu_supports("avx512dq"), __builtin_cpu_supports("avx512vl"),
        __builtin_cpu_supports("avx512vnni"),
    };
    _Static_assert(sizeof want / sizeof want[0] == sizeof has / sizeof has[0], "one each");
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        if (has[i] >= 0 && !!(c.features & want[i].bit) != !!has[i])
            fail_msg("%s: detector says %d, compiler runtime says %d", want[i].name,
                     !!(c.features & want[i].bit), !!has[i]);
    assert_true(!strcmp(c.vendor, "GenuineIntel") || !strcmp(c.vendor, "AuthenticAMD") ||
                strlen(c.vendor) == 12);
    /* No ARM bits on x86. */
    assert_int_equal(c.features >> 32, 0);
#elif defined(__aarch64__)
    assert_int_equal(c.arch, ARIA_ARCH_AARCH64);
    assert_true(c.features & ARIA_CPU_NEON); /* every aarch64 Linux has ASIMD */
    assert_int_equal(c.features & 0xffffffffull, 0);
#endif
}

/* Another detector's devices, as a plugin would report them. */
static aria_err fake_npu_detect(void *ctx, const aria_detect_env *env, aria_device *out,
                                size_t cap, size_t *n, aria_msg *why)
{
    (void)why;
    assert_string_equal((const char *)ctx, "npu-ctx"); /* its own context */
    assert_non_null(env);
    *n = 0;
    if (cap < 2)
        return ARIA_ERR_RANGE;
    memset(out, 0, 2 * sizeof *out);
    out[0].kind = ARIA_DEV_NPU;
    out[0].available = 1;
    snprintf(out[0].vendor, sizeof out[0].vendor, "Intel");
    snprintf(out[0].name, sizeof out[0].name, "Meteor\x1b[31m Lake NPU");
    snprintf(out[0].generation, sizeof out[0].generation, "NPU 3720");
    snprintf(out[0].driver, sizeof out[0].driver, "intel_vpu 1.0");
    snprintf(out[0].path, sizeof out[0].path, "/dev/accel/accel0");
    out[1].kind = ARIA_DEV_GPU;
    out[1].available = 0;
    memset(out[1].vendor, 'V', sizeof out[1].vendor); /* no NUL */
    snprintf(out[1].name, sizeof out[1].name, "Bad \xff\xfe UTF-8");
    snprintf(out[1].why, sizeof out[1].why, "no runtime");
    *n = 2;
    return ARIA_OK;
}

static aria_err broken_detect(void *ctx, const aria_detect_env *env, aria_device *out,
                              size_t cap, size_t *n, aria_msg *why)
{
    (void)ctx;
    (void)env;
    (void)out;
    (void)cap;
    *n = 0;
    return aria_fail(why, ARIA_ERR_IO, "cannot read /dev/accel");
}

static char npu_ctx[] = "npu-ctx";

static const aria_detector_vt fake_npu = {
    .hdr = {sizeof(aria_detector_vt), ARIA_DETECTOR_VERSION},
    .name = "fake-npu",
    .detect = fake_npu_detect,
};
static const aria_detector_vt broken = {
    .hdr = {sizeof(aria_detector_vt), ARIA_DETECTOR_VERSION},
    .name = "broken",
    .detect = broken_detect,
};

static char *capture(int json, const aria_detect_env *env, const aria_detector_vt *const *dets,
                     void *const *ctxs, size_t n, int *rc)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    assert_non_null(out);
    *rc = ari_hardware_print(out, json, env, dets, ctxs, n);
    fclose(out);
    return text;
}

static void test_hardware_text(void **state)
{
    (void)state;
    fake f;
    put_laptop("lap");
    fake_init(&f, "lap");
    int rc;

    /* The CPU detector alone: the CPU block and "no NPU". */
    const aria_detector_vt *only_cpu[] = {&ari_cpu_detector};
    char *t = capture(0, &f.env, only_cpu, NULL, 1, &rc);
    assert_int_equal(rc, 0);
    assert_true(!strncmp(t, "cpu      ", 9));
    assert_non_null(strstr(t, "\n  cores  2 physical, 4 logical\n"));
    assert_non_null(strstr(t, "\n  caches L1d 48 KiB, L2 2 MiB, L3 32 MiB\n"));
    assert_non_null(strstr(t, "\n  memory 23.4 GiB (19.1 GiB available)\n"));
    aria_device cpu;
    size_t n = 0;
    assert_int_equal(ari_cpu_detector.detect(NULL, &f.env, &cpu, 1, &n, NULL), ARIA_OK);
    char isa[128];
    snprintf(isa, sizeof isa, "\n  isa    %s: ", cpu.generation); /* level, then names */
    assert_non_null(strstr(t, isa));
    assert_non_null(strstr(t, "\nnpu      none detected\n"));
    assert_null(strstr(t, "\ncpu")); /* the CPU detector is not listed twice */
    free(t);

    /* With other detectors: their devices, one line each, cleaned of
     * control characters; a failing detector is a warning, not a failure. */
    const aria_detector_vt *dets[] = {&ari_cpu_detector, &fake_npu, &broken};
    void *ctxs[] = {NULL, npu_ctx, NULL};
    t = capture(0, &f.env, dets, ctxs, 3, &rc);
    assert_int_equal(rc, 0);
    assert_non_null(
        strstr(t, "\nnpu      Intel  Meteor?[31m Lake NPU  NPU 3720  driver intel_vpu 1.0\n"));
    char gpu[160];
    snprintf(gpu, sizeof gpu, "\ngpu      %.47s  Bad \xff\xfe UTF-8  (not available: no runtime)\n",
             "VVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVV");
    assert_non_null(strstr(t, gpu));
    assert_non_null(strstr(t, "\nwarning  broken: cannot read /dev/accel\n"));
    assert_null(strstr(t, "none detected"));
    assert_null(strchr(t, '\x1b'));
    free(t);
}

static void test_hardware_json(void **state)
{
    (void)state;
    fake f;
    put_laptop("lap");
    fake_init(&f, "lap");
    const aria_detector_vt *dets[] = {&ari_cpu_detector, &fake_npu, &broken};
    void *ctxs[] = {NULL, npu_ctx, NULL};
    int rc;
    char *t = capture(1, &f.env, dets, ctxs, 3, &rc);
    assert_int_equal(rc, 0);
    json_error_t err;
    json_t *doc = json_loads(t, 0, &err);
    if (!doc)
        fail_msg("not JSON (%s): %s", err.text, t);
    free(t);

    json_t *cpu = json_object_get(doc, "cpu");
    assert_true(json_is_object(cpu));
    assert_int_equal(json_integer_value(json_object_get(cpu, "cores_physical")), 2);
    assert_int_equal(json_integer_value(json_object_get(cpu, "cores_logical")), 4);
    assert_int_equal(json_integer_value(json_object_get(cpu, "l1d_bytes")), 48 * 1024);
    assert_int_equal(json_integer_value(json_object_get(cpu, "l2_bytes")), 2048 * 1024);
    assert_int_equal(json_integer_value(json_object_get(cpu, "l3_bytes")), 32 << 20);
    assert_int_equal(json_integer_value(json_object_get(cpu, "ram_bytes")), 24576000ll * 1024);
    assert_int_equal(json_integer_value(json_object_get(cpu, "ram_avail_bytes")),
                     20000000ll * 1024);
    assert_true(json_is_string(json_object_get(cpu, "arch")));
    assert_true(json_is_string(json_object_get(cpu, "vendor")));
    assert_true(json_is_string(json_object_get(cpu, "model")));

    /* The features array is the feature names, one per element. */
    aria_cpu_info c;
    ari_cpu_detect(&f.env, &c);
    char names[512], joined[512] = "";
    ari_cpu_feature_names(c.features, names, sizeof names);
    json_t *fa = json_object_get(cpu, "features");
    assert_true(json_is_array(fa));
    for (size_t i = 0; i < json_array_size(fa); i++)
        snprintf(joined + strlen(joined), sizeof joined - strlen(joined), "%s%s", i ? " " : "",
                 json_string_value(json_array_get(fa, i)));
    assert_string_equal(joined, names);

    json_t *devs = json_object_get(doc, "devices");
    assert_int_equal(json_array_size(devs), 2); /* the CPU is under "cpu" only */
    json_t *npu = json_array_get(devs, 0);
    assert_string_equal(json_string_value(json_object_get(npu, "kind")), "npu");
    assert_string_equal(json_string_value(json_object_get(npu, "vendor")), "Intel");
    assert_string_equal(json_string_value(json_object_get(npu, "generation")), "NPU 3720");
    assert_string_equal(json_string_value(json_object_get(npu, "driver")), "intel_vpu 1.0");
    assert_string_equal(json_string_value(json_object_get(npu, "path")), "/dev/accel/accel0");
    assert_true(json_is_true(json_object_get(npu, "available")));
    assert_string_equal(json_string_value(json_object_get(npu, "why")), "");
    json_t *gpu = json_array_get(devs, 1);
    assert_string_equal(json_string_value(json_object_get(gpu, "kind")), "gpu");
    assert_int_equal(strlen(json_string_value(json_object_get(gpu, "vendor"))), 47);
    assert_string_equal(json_string_value(json_object_get(gpu, "name")), "Bad ?? UTF-8");
    assert_true(json_is_false(json_object_get(gpu, "available")));
    assert_string_equal(json_string_value(json_object_get(gpu, "why")), "no runtime");

    json_t *errs = json_object_get(doc, "errors");
    assert_int_equal(json_array_size(errs), 1);
    assert_string_equal(json_string_value(json_array_get(errs, 0)),
                        "broken: cannot read /dev/accel");
    json_decref(doc);
}

/* Usage errors are answered before anything is loaded. */
static void test_cmd_usage(void **state)
{
    (void)state;
    ari_opts o;
    memset(&o, 0, sizeof o);
    char a0[] = "hardware", bad[] = "--x", sysfs[] = "--sysfs", word[] = "extra";
    char *v1[] = {a0, bad, NULL};
    assert_int_equal(ari_cmd_hardware(2, v1, &o), 2);
    char *v2[] = {a0, sysfs, NULL};
    assert_int_equal(ari_cmd_hardware(2, v2, &o), 2);
    char *v3[] = {a0, word, NULL};
    assert_int_equal(ari_cmd_hardware(2, v3, &o), 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_online_ranges, setup, teardown),
        cmocka_unit_test_setup_teardown(test_physical_cores, setup, teardown),
        cmocka_unit_test_setup_teardown(test_caches, setup, teardown),
        cmocka_unit_test_setup_teardown(test_meminfo, setup, teardown),
        cmocka_unit_test_setup_teardown(test_garbage, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cpuinfo, setup, teardown),
        cmocka_unit_test(test_feature_names),
        cmocka_unit_test_setup_teardown(test_detector_vtable, setup, teardown),
        cmocka_unit_test(test_real_features),
        cmocka_unit_test_setup_teardown(test_hardware_text, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hardware_json, setup, teardown),
        cmocka_unit_test(test_cmd_usage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
