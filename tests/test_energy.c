/* test_energy.c — Proof of Sobriety's meter: RAPL zones found in a fake
 * powercap tree built here in the exact sysfs layout (packages summed,
 * subzones and look-alikes ignored, wrap-around, garbage and unreadable
 * files refused), and the CPU-time estimate checked on a real busy loop
 * against the process's own getrusage. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "energy.h"

#include <ftw.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#define RANGE "262143328850" /* max_energy_range_uj of current Intel packages */

/* ---- a powercap tree in a temporary directory --------------------------- */

static char g_root[64];

static void put(const char *rel, const char *text)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", g_root, rel);
    /* every parent directory of rel */
    for (char *p = path + strlen(g_root) + 1; (p = strchr(p, '/')) != NULL; p++) {
        *p = '\0';
        mkdir(path, 0755);
        *p = '/';
    }
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

/* One zone as the kernel lays it out: name, energy_uj, max_energy_range_uj. */
static void zone(const char *dir, const char *name, const char *energy, const char *range)
{
    char rel[128];
    snprintf(rel, sizeof rel, "%s/name", dir);
    put(rel, name);
    if (energy) {
        snprintf(rel, sizeof rel, "%s/energy_uj", dir);
        put(rel, energy);
    }
    if (range) {
        snprintf(rel, sizeof rel, "%s/max_energy_range_uj", dir);
        put(rel, range);
    }
}

static void set_energy(const char *dir, uint64_t uj)
{
    char rel[128], v[32];
    snprintf(rel, sizeof rel, "%s/energy_uj", dir);
    snprintf(v, sizeof v, "%" PRIu64 "\n", uj);
    put(rel, v);
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static int setup(void **state)
{
    (void)state;
    snprintf(g_root, sizeof g_root, "/tmp/aria-energy-XXXXXX");
    return mkdtemp(g_root) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    return nftw(g_root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void has(const char *text, const char *part)
{
    if (!strstr(text, part)) {
        printf("  '%s' not in '%s'\n", part, text);
        fail();
    }
}

/* ---- RAPL --------------------------------------------------------------- */

static void test_detect_and_sum(void **state)
{
    (void)state;
    zone("intel-rapl:0", "package-0\n", "1000000\n", RANGE "\n");
    /* a subzone with a large counter: summing it would show at once */
    zone("intel-rapl:0:0", "core\n", "50000000000\n", RANGE "\n");
    zone("intel-rapl:0:1", "dram\n", "40000000000\n", RANGE "\n");
    zone("intel-rapl:1", "package-1\n", "2000000\n", RANGE "\n");
    /* look-alikes: the control type directory and the MMIO twin of package 0 */
    zone("intel-rapl", "x\n", "7\n", RANGE "\n");
    zone("intel-rapl-mmio:0", "package-0\n", "30000000000\n", RANGE "\n");

    ari_energy e;
    aria_msg why = {{0}};
    ari_energy_init(&e, g_root, 10, &why);
    assert_int_equal(ari_energy_measured(&e), 1);
    has(why.text, "2 packages under");
    has(why.text, "(package-0, package-1)");
    assert_null(strchr(why.text, '\n'));

    ari_energy_mark m, m2;
    ari_energy_mark_now(&e, &m);
    assert_int_equal(m.uj, 3000000);

    set_energy("intel-rapl:0", 1500000);
    set_energy("intel-rapl:1", 2250000);
    set_energy("intel-rapl:0:0", 1);           /* ignored */
    set_energy("intel-rapl-mmio:0", 99999999); /* ignored */
    uint32_t src = 0;
    assert_int_equal(ari_energy_since(&e, &m, 1.0, &src), 750); /* 750000 uJ */
    assert_int_equal(src, ARIA_ENERGY_MEASURED);
    assert_int_equal(ari_energy_since(&e, &m, 0.5, &src), 375);
    assert_int_equal(ari_energy_since(&e, &m, 1.0 / 3, NULL), 250);
    /* a share outside (0, 1] counts as the whole machine */
    assert_int_equal(ari_energy_since(&e, &m, 0, NULL), 750);
    assert_int_equal(ari_energy_since(&e, &m, -1, NULL), 750);
    assert_int_equal(ari_energy_since(&e, &m, NAN, NULL), 750);
    assert_int_equal(ari_energy_since(&e, &m, 3, NULL), 750);
    /* rounded to the nearest millijoule */
    set_energy("intel-rapl:1", 2250499);
    assert_int_equal(ari_energy_since(&e, &m, 1.0, NULL), 750);
    set_energy("intel-rapl:1", 2250500);
    assert_int_equal(ari_energy_since(&e, &m, 1.0, NULL), 751);

    ari_energy_mark_now(&e, &m2);
    assert_int_equal(m2.uj, 3750500);
    assert_true(m2.wall_ns >= m.wall_ns);
    assert_true(m2.cpu_ns >= m.cpu_ns);
    assert_int_equal(ari_energy_since(&e, &m2, 1.0, &src), 0);
    assert_int_equal(src, ARIA_ENERGY_MEASURED);
}

static void test_too_many_zones(void **state)
{
    (void)state;
    /* made in an order readdir is unlikely to keep: the lowest 16 count */
    for (int i = ARI_ENERGY_MAX_PACKAGES + 1; i >= 0; i--) {
        char dir[32], name[32], v[32];
        snprintf(dir, sizeof dir, "intel-rapl:%d", i);
        snprintf(name, sizeof name, "package-%d\n", i);
        snprintf(v, sizeof v, "%d\n", 1 << i);
        zone(dir, name, v, RANGE "\n");
    }
    ari_energy e;
    aria_msg why = {{0}};
    ari_energy_init(&e, g_root, 10, &why);
    assert_int_equal(ari_energy_measured(&e), 1);
    has(why.text, "16 packages under");
    has(why.text, "package-0, package-1, package-2");
    ari_energy_mark m;
    ari_energy_mark_now(&e, &m);
    assert_int_equal(m.uj, (1u << ARI_ENERGY_MAX_PACKAGES) - 1);
    assert_null(strchr(why.text, '\n'));
    assert_true(strlen(why.text) < sizeof why.text);
}

static void test_wrap(void **state)
{
    (void)state;
    zone("intel-rapl:0", "package-0\n", "262143000000\n", RANGE "\n");
    zone("intel-rapl:1", "package-1\n", "5000000\n", RANGE "\n");
    ari_energy e;
    ari_energy_init(&e, g_root, 10, NULL);
    assert_int_equal(ari_energy_measured(&e), 1);
    ari_energy_mark m;
    ari_energy_mark_now(&e, &m);
    assert_int_equal(m.uj, 262148000000u);

    /* package 0 wraps: 328850 uJ to its range, then 1000000 past 0 */
    set_energy("intel-rapl:0", 1000000);
    set_energy("intel-rapl:1", 7000000);
    uint32_t src = 0;
    assert_int_equal(ari_energy_since(&e, &m, 1.0, &src), 3329); /* 3328850 uJ */
    assert_int_equal(src, ARIA_ENERGY_MEASURED);
    assert_int_equal(ari_energy_since(&e, &m, 0.5, NULL), 1664); /* 1664425 uJ */

    /* both wrap */
    set_energy("intel-rapl:0", 262143000000u);
    set_energy("intel-rapl:1", 262143300000u);
    ari_energy_mark_now(&e, &m);
    set_energy("intel-rapl:0", 1000000);
    set_energy("intel-rapl:1", 500);
    /* 328850 + 1000000 + 28850 + 500 uJ */
    assert_int_equal(ari_energy_since(&e, &m, 1.0, NULL), 1358);
}

static void test_wrap_unequal_ranges(void **state)
{
    (void)state;
    zone("intel-rapl:0", "package-0\n", "999000000\n", "1000000000\n");
    zone("intel-rapl:1", "package-1\n", "1000000000\n", "3000000000\n");
    ari_energy e;
    ari_energy_init(&e, g_root, 10, NULL);
    assert_int_equal(ari_energy_measured(&e), 1);
    ari_energy_mark m;
    ari_energy_mark_now(&e, &m);
    set_energy("intel-rapl:0", 500000);     /* wrapped: 1000000 + 500000 */
    set_energy("intel-rapl:1", 1001000000); /* 1000000 */
    assert_int_equal(ari_energy_since(&e, &m, 1.0, NULL), 2500);
    /* the other package wraps instead */
    set_energy("intel-rapl:0", 999000000);
    set_energy("intel-rapl:1", 2999000000u);
    ari_energy_mark_now(&e, &m);
    set_energy("intel-rapl:0", 999100000); /* 100000 */
    set_energy("intel-rapl:1", 2000000);   /* wrapped: 1000000 + 2000000 */
    assert_int_equal(ari_energy_since(&e, &m, 1.0, NULL), 3100);
}

/* A tree with one bad zone intel-rapl:0: ignored, and why says so. */
static void one_bad(const char *energy, const char *range, const char *name, const char *want)
{
    zone("intel-rapl:0", name, energy, range);
    ari_energy e;
    aria_msg why = {{0}};
    ari_energy_init(&e, g_root, 10, &why);
    if (ari_energy_measured(&e)) {
        printf("  energy_uj '%s', range '%s' taken\n", energy ? energy : "(none)",
               range ? range : "(none)");
        fail();
    }
    has(why.text, "no RAPL");
    has(why.text, "ignored intel-rapl:0: ");
    has(why.text, want);
    has(why.text, "estimating at 10 W per busy core");
    assert_null(strchr(why.text, '\n'));
    teardown(NULL);
    assert_int_equal(setup(NULL), 0);
}

static void test_garbage_refused(void **state)
{
    (void)state;
    one_bad("abc\n", RANGE "\n", "package-0\n", "energy_uj not a number");
    one_bad("-5\n", RANGE "\n", "package-0\n", "energy_uj not a number");
    one_bad("+5\n", RANGE "\n", "package-0\n", "energy_uj not a number");
    one_bad("12abc\n", RANGE "\n", "package-0\n", "energy_uj not a number");
    one_bad("12 34\n", RANGE "\n", "package-0\n", "energy_uj not a number");
    one_bad("0x10\n", RANGE "\n", "package-0\n", "energy_uj not a number");
    one_bad("1.5\n", RANGE "\n", "package-0\n", "energy_uj not a number");
    one_bad("", RANGE "\n", "package-0\n", "energy_uj empty");
    one_bad("\n", RANGE "\n", "package-0\n", "energy_uj empty");
    one_bad("99999999999999999999999\n", RANGE "\n", "package-0\n", "energy_uj out of range");
    one_bad("18446744073709551616\n", RANGE "\n", "package-0\n", "energy_uj out of range");
    one_bad(RANGE "\n", RANGE "\n", "package-0\n", "not below its range");
    one_bad("1000\n", "x\n", "package-0\n", "max_energy_range_uj not a number");
    one_bad("1000\n", "0\n", "package-0\n", "max_energy_range_uj 0 out of range");
    one_bad("1000\n", "288230376151711745\n", "package-0\n", "out of range"); /* 2^58 + 1 */
    one_bad("1000\n", NULL, "package-0\n", "max_energy_range_uj unreadable");
    one_bad(NULL, RANGE "\n", "package-0\n", "energy_uj unreadable");
    /* the platform zone holds the packages' energy too */
    one_bad("1000\n", RANGE "\n", "psys\n", "psys");

    /* a bad zone beside a good one: the good one alone is used */
    zone("intel-rapl:0", "package-0\n", "garbage\n", RANGE "\n");
    zone("intel-rapl:1", "package-1\n", "4000\n", RANGE "\n");
    ari_energy e;
    aria_msg why = {{0}};
    ari_energy_init(&e, g_root, 10, &why);
    assert_int_equal(ari_energy_measured(&e), 1);
    has(why.text, "1 package under");
    has(why.text, "(package-1); ignored intel-rapl:0: energy_uj not a number");
    ari_energy_mark m;
    ari_energy_mark_now(&e, &m);
    assert_int_equal(m.uj, 4000);
}

static void test_unreadable_estimates(void **state)
{
    (void)state;
    /* energy_uj that cannot be read as a file: a directory, a dangling link */
    zone("intel-rapl:0", "package-0\n", NULL, RANGE "\n");
    put("intel-rapl:0/energy_uj/x", "1\n");
    zone("intel-rapl:1", "package-1\n", NULL, RANGE "\n");
    char link[128];
    snprintf(link, sizeof link, "%s/intel-rapl:1/energy_uj", g_root);
    assert_int_equal(symlink("/nonexistent/energy_uj", link), 0);
    ari_energy e;
    aria_msg why = {{0}};
    ari_energy_init(&e, g_root, 10, &why);
    assert_int_equal(ari_energy_measured(&e), 0);
    has(why.text, "intel-rapl:0: energy_uj unreadable");
    has(why.text, "intel-rapl:1: energy_uj unreadable");
    ari_energy_mark m;
    ari_energy_mark_now(&e, &m);
    assert_true(m.uj == ARI_ENERGY_NO_READING);
    uint32_t src = 0;
    ari_energy_since(&e, &m, 1.0, &src);
    assert_int_equal(src, ARIA_ENERGY_ESTIMATED);

    /* root-only counters, as on most kernels since 2020 (root reads anyway) */
    if (geteuid() != 0) {
        teardown(NULL);
        assert_int_equal(setup(NULL), 0);
        zone("intel-rapl:0", "package-0\n", "1000\n", RANGE "\n");
        char p[128];
        snprintf(p, sizeof p, "%s/intel-rapl:0/energy_uj", g_root);
        assert_int_equal(chmod(p, 0), 0);
        ari_energy_init(&e, g_root, 10, &why);
        assert_int_equal(ari_energy_measured(&e), 0);
        has(why.text, "energy_uj unreadable");
    }
}

/* Counters that were fine at init but go bad at the mark or after it. */
static void test_goes_bad_estimates(void **state)
{
    (void)state;
    zone("intel-rapl:0", "package-0\n", "1000\n", RANGE "\n");
    zone("intel-rapl:1", "package-1\n", "1000\n", RANGE "\n");
    ari_energy e;
    ari_energy_init(&e, g_root, 10, NULL);
    assert_int_equal(ari_energy_measured(&e), 1);
    ari_energy_mark m;
    ari_energy_mark_now(&e, &m);
    assert_int_equal(m.uj, 2000);
    put("intel-rapl:1/energy_uj", "garbage\n");
    uint32_t src = 0;
    ari_energy_since(&e, &m, 1.0, &src);
    assert_int_equal(src, ARIA_ENERGY_ESTIMATED);
    /* unreadable at the mark, fine again after: still an estimate */
    ari_energy_mark_now(&e, &m);
    assert_true(m.uj == ARI_ENERGY_NO_READING);
    set_energy("intel-rapl:1", 5000);
    ari_energy_since(&e, &m, 1.0, &src);
    assert_int_equal(src, ARIA_ENERGY_ESTIMATED);
    /* a counter past its range is garbage too */
    ari_energy_mark_now(&e, &m);
    assert_int_equal(m.uj, 6000);
    put("intel-rapl:0/energy_uj", RANGE "\n");
    ari_energy_since(&e, &m, 1.0, &src);
    assert_int_equal(src, ARIA_ENERGY_ESTIMATED);
}

static void test_no_powercap(void **state)
{
    (void)state;
    ari_energy e;
    aria_msg why = {{0}};
    char missing[128];
    snprintf(missing, sizeof missing, "%s/nothing-here", g_root);
    ari_energy_init(&e, missing, 7.5, &why);
    assert_int_equal(ari_energy_measured(&e), 0);
    has(why.text, "no RAPL");
    has(why.text, "nothing-here");
    has(why.text, "estimating at 7.5 W per busy core");

    /* a powercap directory without RAPL zones (another control type) */
    zone("dtpm:0", "soc\n", "1000\n", RANGE "\n");
    ari_energy_init(&e, g_root, 7.5, &why);
    assert_int_equal(ari_energy_measured(&e), 0);
    has(why.text, "no intel-rapl:N zones");

    ari_energy_init(&e, NULL, 7.5, &why);
    assert_int_equal(ari_energy_measured(&e), 0);
    ari_energy_init(&e, missing, 7.5, NULL); /* why may be NULL */
    assert_int_equal(ari_energy_measured(&e), 0);
    /* the real one, whatever this machine has */
    ari_energy_init(&e, "/sys/class/powercap", 7.5, &why);
    assert_non_null(why.text[0] ? why.text : NULL);
}

/* ---- the estimate ------------------------------------------------------- */

static double rusage_cpu_s(void)
{
    struct rusage ru;
    assert_int_equal(getrusage(RUSAGE_SELF, &ru), 0);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

static volatile double g_sink;

/* Burns at least `s` seconds of CPU, as getrusage sees it. */
static void burn(double s)
{
    double t0 = rusage_cpu_s(), x = 1;
    while (rusage_cpu_s() - t0 < s)
        for (int i = 0; i < 100000; i++)
            x = x * 1.0000001 + 1e-9;
    g_sink = x;
}

static void test_estimate_burn(void **state)
{
    (void)state;
    const double watts = 20;
    ari_energy e;
    aria_msg why = {{0}};
    char missing[128];
    snprintf(missing, sizeof missing, "%s/none", g_root);
    ari_energy_init(&e, missing, watts, &why);
    assert_int_equal(ari_energy_measured(&e), 0);

    double r0 = rusage_cpu_s();
    ari_energy_mark m;
    ari_energy_mark_now(&e, &m);
    burn(0.3);
    uint32_t src = 0;
    uint64_t full = ari_energy_since(&e, &m, 1.0, &src);
    double r1 = rusage_cpu_s();
    assert_int_equal(src, ARIA_ENERGY_ESTIMATED);

    /* the mark's interval lies inside [r0, r1]; both clocks count the same
     * thread's time, so the estimate is about watts x (r1 - r0), less what
     * fell outside the mark. Loose: a scheduler tick each way. */
    double cpu = r1 - r0, want = watts * cpu * 1000;
    printf("  %.3f s of CPU: %" PRIu64 " mJ estimated, %.0f mJ by getrusage\n", cpu, full, want);
    assert_true(full > 0);
    assert_true((double)full <= want * 1.1 + watts * 20);
    assert_true((double)full >= want * 0.5 - watts * 20);

    /* the share scales it: a quarter of a reading between two full ones */
    uint64_t a = ari_energy_since(&e, &m, 1.0, NULL);
    uint64_t q = ari_energy_since(&e, &m, 0.25, NULL);
    uint64_t b = ari_energy_since(&e, &m, 1.0, NULL);
    assert_true(a >= full);
    assert_true((double)q >= a / 4.0 - 1 && (double)q <= b / 4.0 + 1);

    /* no work since the mark: next to nothing */
    ari_energy_mark_now(&e, &m);
    assert_true(ari_energy_since(&e, &m, 1.0, NULL) <= (uint64_t)(watts * 20));

    /* a mark from the future (another clock's): never negative */
    m.cpu_ns = UINT64_MAX;
    assert_int_equal(ari_energy_since(&e, &m, 1.0, NULL), 0);
}

static void test_core_watts(void **state)
{
    (void)state;
    ari_energy e;
    aria_msg why = {{0}};
    char missing[128];
    snprintf(missing, sizeof missing, "%s/none", g_root);
    ari_energy_init(&e, missing, -3, &why);
    has(why.text, "core_watts -3 refused, 15 W used");
    ari_energy_init(&e, missing, NAN, &why);
    has(why.text, "refused");
    /* 0 is the caller's word: estimates are 0 */
    ari_energy_init(&e, missing, 0, &why);
    ari_energy_mark m;
    ari_energy_mark_now(&e, &m);
    burn(0.02);
    uint32_t src = 0;
    assert_int_equal(ari_energy_since(&e, &m, 1.0, &src), 0);
    assert_int_equal(src, ARIA_ENERGY_ESTIMATED);
}

/* ---- threads ------------------------------------------------------------ */

typedef struct shared {
    const ari_energy *e;
    const ari_energy_mark *m;
    int bad;
} shared;

static void *reader(void *arg)
{
    shared *s = arg;
    for (int i = 0; i < 300; i++) {
        uint32_t src = 0;
        if (ari_energy_since(s->e, s->m, 0.5, &src) != 500 || src != ARIA_ENERGY_MEASURED)
            s->bad = 1;
    }
    return NULL;
}

static void test_threads(void **state)
{
    (void)state;
    zone("intel-rapl:0", "package-0\n", "1000000\n", RANGE "\n");
    ari_energy e;
    ari_energy_init(&e, g_root, 10, NULL);
    ari_energy_mark m;
    ari_energy_mark_now(&e, &m);
    set_energy("intel-rapl:0", 2000000);
    shared s[4];
    pthread_t t[4];
    for (int i = 0; i < 4; i++) {
        s[i] = (shared){&e, &m, 0};
        assert_int_equal(pthread_create(&t[i], NULL, reader, &s[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(s[i].bad, 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_detect_and_sum, setup, teardown),
        cmocka_unit_test_setup_teardown(test_too_many_zones, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrap_unequal_ranges, setup, teardown),
        cmocka_unit_test_setup_teardown(test_garbage_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unreadable_estimates, setup, teardown),
        cmocka_unit_test_setup_teardown(test_goes_bad_estimates, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_powercap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_estimate_burn, setup, teardown),
        cmocka_unit_test_setup_teardown(test_core_watts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_threads, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
