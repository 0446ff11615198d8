/* test_cpu.c — the CPU detector on fake sysfs/procfs trees (topology,
 * caches, memory, garbage), and its ISA features against the compiler's. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "cpu.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char root[64];

static void put_file(const char *rel, const char *text, size_t len)
{
    char path[512], dirp[512];
    snprintf(path, sizeof path, "%s/%s", root, rel);
    snprintf(dirp, sizeof dirp, "%s", path);
    for (char *p = dirp + strlen(root) + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            mkdir(dirp, 0700);
            *p = '/';
        }
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fwrite(text, 1, len ? len : strlen(text), f);
    fclose(f);
}

static int setup(void **state)
{
    (void)state;
    snprintf(root, sizeof root, "/tmp/aria-cpu-XXXXXX");
    return mkdtemp(root) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    return system(cmd);
}

static aria_detect_env env_for(char *sys, char *proc)
{
    snprintf(sys, 128, "%s/sys", root);
    snprintf(proc, 128, "%s/proc", root);
    aria_detect_env e = {.hdr = {sizeof e, 1}, .sysfs_root = sys, .proc_root = proc, .dev_root = "/dev"};
    return e;
}

static void test_fake_tree(void **state)
{
    (void)state;
    put_file("sys/devices/system/cpu/online", "0-3,6,8-9\n", 0);
    /* cpus 0,1 share core 0; 2,3 share core 1; 6, 8, 9 are cores 2, 3, 3 */
    const int core[10] = {0, 0, 1, 1, 0, 0, 2, 0, 3, 3};
    int cpus[] = {0, 1, 2, 3, 6, 8, 9};
    for (size_t i = 0; i < sizeof cpus / sizeof cpus[0]; i++) {
        char rel[128], v[16];
        snprintf(rel, sizeof rel, "sys/devices/system/cpu/cpu%d/topology/core_id", cpus[i]);
        snprintf(v, sizeof v, "%d\n", core[cpus[i]]);
        put_file(rel, v, 0);
        snprintf(rel, sizeof rel, "sys/devices/system/cpu/cpu%d/topology/physical_package_id", cpus[i]);
        put_file(rel, "0\n", 0);
    }
    put_file("sys/devices/system/cpu/cpu0/cache/index0/level", "1\n", 0);
    put_file("sys/devices/system/cpu/cpu0/cache/index0/type", "Data\n", 0);
    put_file("sys/devices/system/cpu/cpu0/cache/index0/size", "48K\n", 0);
    put_file("sys/devices/system/cpu/cpu0/cache/index1/level", "1\n", 0);
    put_file("sys/devices/system/cpu/cpu0/cache/index1/type", "Instruction\n", 0);
    put_file("sys/devices/system/cpu/cpu0/cache/index1/size", "64K\n", 0);
    put_file("sys/devices/system/cpu/cpu0/cache/index2/level", "2\n", 0);
    put_file("sys/devices/system/cpu/cpu0/cache/index2/type", "Unified\n", 0);
    put_file("sys/devices/system/cpu/cpu0/cache/index2/size", "2048K\n", 0);
    put_file("sys/devices/system/cpu/cpu0/cache/index3/level", "3\n", 0);
    put_file("sys/devices/system/cpu/cpu0/cache/index3/type", "Unified\n", 0);
    put_file("sys/devices/system/cpu/cpu0/cache/index3/size", "32M\n", 0);
    put_file("proc/meminfo", "MemTotal:       24576000 kB\nMemFree: 1 kB\nMemAvailable:   20000000 kB\n", 0);
    char sys[128], proc[128];
    aria_detect_env env = env_for(sys, proc);
    aria_cpu_info c;
    assert_int_equal(ari_cpu_detect(&env, &c), ARIA_OK);
    assert_int_equal(c.cores_logical, 7);
    assert_int_equal(c.cores_physical, 4);
    assert_int_equal(c.l1d_bytes, 48 * 1024);
    assert_int_equal(c.l2_bytes, 2048 * 1024);
    assert_int_equal(c.l3_bytes, 32ull << 20);
    assert_int_equal(c.ram_bytes, 24576000ull * 1024);
    assert_int_equal(c.ram_avail_bytes, 20000000ull * 1024);
}

static void test_garbage_tree(void **state)
{
    (void)state;
    char junk[300];
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (char)(i * 131 + 7);
    put_file("sys/devices/system/cpu/online", junk, sizeof junk);
    put_file("sys/devices/system/cpu/cpu0/cache/index0/level", "99999999999999999999999\n", 0);
    put_file("sys/devices/system/cpu/cpu0/cache/index0/type", "Data\n", 0);
    put_file("sys/devices/system/cpu/cpu0/cache/index0/size", "K\n", 0);
    put_file("proc/meminfo", "", 0);
    char sys[128], proc[128];
    aria_detect_env env = env_for(sys, proc);
    aria_cpu_info c;
    assert_int_equal(ari_cpu_detect(&env, &c), ARIA_OK);
    assert_int_equal(c.cores_physical, 0);
    assert_int_equal(c.l1d_bytes, 0);
    assert_int_equal(c.ram_bytes, 0);
    put_file("sys/devices/system/cpu/online", "5-2\n", 0); /* backwards range */
    ari_cpu_detect(&env, &c);
    assert_int_equal(c.cores_logical, 0);
    /* a missing tree altogether */
    aria_detect_env none = {.hdr = {sizeof none, 1}, .sysfs_root = "/nonexistent", .proc_root = "/nonexistent"};
    assert_int_equal(ari_cpu_detect(&none, &c), ARIA_OK);
    assert_int_equal(c.cores_logical, 0);
}

static void test_feature_names(void **state)
{
    (void)state;
    char buf[256];
    assert_string_equal(ari_cpu_feature_names(ARIA_CPU_AVX2 | ARIA_CPU_FMA | ARIA_CPU_NEON, buf,
                                              sizeof buf), "avx2 fma neon");
    assert_string_equal(ari_cpu_feature_names(0, buf, sizeof buf), "");
    char small[8];
    ari_cpu_feature_names(ARIA_CPU_AVX2 | ARIA_CPU_FMA | ARIA_CPU_F16C, small, sizeof small);
    assert_string_equal(small, "avx2"); /* whole names only */
}

static void test_detector_vtable(void **state)
{
    (void)state;
    aria_device d[2];
    size_t n = 9;
    aria_msg why;
    assert_int_equal(ari_cpu_detector.detect(NULL, NULL, d, 0, &n, &why), ARIA_ERR_RANGE);
    assert_int_equal(n, 0);
    assert_int_equal(ari_cpu_detector.detect(NULL, NULL, d, 2, &n, &why), ARIA_OK);
    assert_int_equal(n, 1);
    assert_int_equal(d[0].kind, ARIA_DEV_CPU);
    assert_true(d[0].available);
    assert_true(d[0].cores >= 1);
}

/* The real CPU: what cpuid says matches what the compiler's runtime says. */
static void test_real_features(void **state)
{
    (void)state;
    aria_cpu_info c;
    ari_cpu_detect(NULL, &c);
    assert_true(c.cores_logical >= 1);
    assert_true(c.ram_bytes > 0);
#if defined(__x86_64__)
    __builtin_cpu_init();
    assert_int_equal(c.arch, ARIA_ARCH_X86_64);
    assert_int_equal(!!(c.features & ARIA_CPU_AVX2), !!__builtin_cpu_supports("avx2"));
    assert_int_equal(!!(c.features & ARIA_CPU_FMA), !!__builtin_cpu_supports("fma"));
    assert_int_equal(!!(c.features & ARIA_CPU_AVX512F), !!__builtin_cpu_supports("avx512f"));
    assert_int_equal(!!(c.features & ARIA_CPU_SSE42), !!__builtin_cpu_supports("sse4.2"));
    assert_true(c.vendor[0]);
#endif
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_fake_tree, setup, teardown),
        cmocka_unit_test_setup_teardown(test_garbage_tree, setup, teardown),
        cmocka_unit_test(test_feature_names),
        cmocka_unit_test(test_detector_vtable),
        cmocka_unit_test(test_real_features),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
