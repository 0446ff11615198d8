/* test_abi.c — the shared vocabulary of the plugin ABI: error codes and
 * messages, and the struct-size test that guards slots added later. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <aria/aria.h>

#include <string.h>

static void test_strerror_distinct(void **state)
{
    (void)state;
    assert_string_equal(aria_strerror(ARIA_OK), "ok");
    for (int a = ARIA_ERR_INTERNAL; a < 0; a++) {
        const char *sa = aria_strerror((aria_err)a);
        assert_string_not_equal(sa, "unknown error");
        for (int b = a + 1; b < 0; b++)
            assert_string_not_equal(sa, aria_strerror((aria_err)b));
    }
    assert_string_equal(aria_strerror((aria_err)-999), "unknown error");
    assert_string_equal(aria_strerror((aria_err)(ARIA_ERR_INTERNAL - 1)), "unknown error");
}

static void test_fail_formats_and_truncates(void **state)
{
    (void)state;
    aria_msg m;
    assert_int_equal(aria_fail(&m, ARIA_ERR_FORMAT, "%s: bad magic %d", "x.gguf", 7),
                     ARIA_ERR_FORMAT);
    assert_string_equal(m.text, "x.gguf: bad magic 7");
    char big[1000];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    aria_fail(&m, ARIA_ERR_RANGE, "%s", big);
    assert_int_equal(strlen(m.text), ARIA_MSG_MAX - 1);
    assert_int_equal(aria_fail(NULL, ARIA_ERR_IO, "ignored"), ARIA_ERR_IO);
}

/* A provider compiled against an older, shorter vtable must not be asked for
 * slots it does not have. */
static void test_has_checks_struct_size(void **state)
{
    (void)state;
    aria_backend_vt vt;
    memset(&vt, 0, sizeof vt);
    vt.hdr.struct_size = (uint32_t)offsetof(aria_backend_vt, sample);
    assert_true(ARIA_HAS(&vt, aria_backend_vt, forward));
    assert_false(ARIA_HAS(&vt, aria_backend_vt, sample));
    assert_false(ARIA_HAS(&vt, aria_backend_vt, generate));
    vt.hdr.struct_size = sizeof vt;
    assert_true(ARIA_HAS(&vt, aria_backend_vt, generate));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_strerror_distinct),
        cmocka_unit_test(test_fail_formats_and_truncates),
        cmocka_unit_test(test_has_checks_struct_size),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
