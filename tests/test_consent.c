/* test_consent.c — [consent]: the threads peers' work gets, and which work
 * is accepted when (task types, daily windows across midnight, memory),
 * with the reason named. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "consent.h"

#include <string.h>

static ari_consent make(const char *tasks, const char *sched, uint64_t ram_mb)
{
    ari_consent k;
    memset(&k, 0, sizeof k);
    k.cpu_percent = 50;
    k.max_ram_bytes = ram_mb << 20;
    snprintf(k.schedule, sizeof k.schedule, "%s", sched);
    snprintf(k.tasks, sizeof k.tasks, "%s", tasks);
    return k;
}

static void test_threads(void **state)
{
    (void)state;
    assert_int_equal(ari_consent_threads(2, 2, 50), 1);
    assert_int_equal(ari_consent_threads(8, 8, 50), 4);
    assert_int_equal(ari_consent_threads(8, 8, 100), 8);
    assert_int_equal(ari_consent_threads(4, 16, 50), 4); /* never more than the node gives */
    assert_int_equal(ari_consent_threads(2, 2, 1), 1);   /* at least one */
    assert_int_equal(ari_consent_threads(16, 12, 30), 3);
}

static void test_tasks(void **state)
{
    (void)state;
    ari_consent k = make("completion, code", "always", 4096);
    char why[512];
    assert_int_equal(ari_consent_allows(&k, "completion", 0, 600, why, sizeof why), 0);
    assert_int_equal(ari_consent_allows(&k, "code", 0, 600, why, sizeof why), 0);
    assert_int_equal(ari_consent_allows(&k, "chat", 0, 600, why, sizeof why), -1);
    assert_string_equal(why, "this node does not accept chat work from peers ([consent] "
                             "task_types = completion, code)");
    assert_int_equal(ari_consent_allows(&k, "comp", 0, 600, why, sizeof why), -1); /* no prefix */
    k = make("", "always", 4096);
    assert_int_equal(ari_consent_allows(&k, "chat", 0, 600, why, sizeof why), -1);
    assert_non_null(strstr(why, "(none)"));
}

static void test_schedule(void **state)
{
    (void)state;
    ari_consent k = make("chat", "22:00-06:30, 12:00-13:00", 4096);
    char why[512];
    const int in[] = {22 * 60, 23 * 60 + 59, 0, 3 * 60, 6 * 60 + 29, 12 * 60, 12 * 60 + 59};
    const int out[] = {6 * 60 + 30, 7 * 60, 11 * 60 + 59, 13 * 60, 21 * 60 + 59};
    for (size_t i = 0; i < sizeof in / sizeof *in; i++)
        assert_int_equal(ari_consent_allows(&k, "chat", 0, in[i], why, sizeof why), 0);
    for (size_t i = 0; i < sizeof out / sizeof *out; i++)
        assert_int_equal(ari_consent_allows(&k, "chat", 0, out[i], why, sizeof why), -1);
    ari_consent_allows(&k, "chat", 0, 7 * 60 + 5, why, sizeof why);
    assert_string_equal(why, "outside this node's hours for peers' work ([consent] schedule = "
                             "22:00-06:30, 12:00-13:00; it is 07:05 here)");
}

static void test_memory(void **state)
{
    (void)state;
    ari_consent k = make("chat", "always", 100);
    char why[512];
    assert_int_equal(ari_consent_allows(&k, "chat", 100ull << 20, 0, why, sizeof why), 0);
    assert_int_equal(ari_consent_allows(&k, "chat", (100ull << 20) + 1, 0, why, sizeof why), -1);
    assert_string_equal(why, "the model needs 101 MiB, more than this node gives peers ([consent] "
                             "max_ram_mb = 100)");
    k = make("chat", "always", 0); /* 0: no model for peers at all */
    assert_int_equal(ari_consent_allows(&k, "chat", 1, 0, why, sizeof why), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_tasks),
        cmocka_unit_test(test_schedule),
        cmocka_unit_test(test_memory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
