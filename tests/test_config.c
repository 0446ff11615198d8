/* test_config.c — aria.ini: every kind of error with its exact message, bad
 * values leaving defaults, overrides, plugin sections, the shipped file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[64], path[128];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/aria-config-XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    snprintf(path, sizeof path, "%s/aria.ini", dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unlink(path);
    rmdir(dir);
    return 0;
}

static ari_config *load_text(const char *text, aria_err want)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    ari_config *c = ari_config_new();
    assert_non_null(c);
    assert_int_equal(ari_config_load(c, path), want);
    return c;
}

/* The only error recorded equals "PATH:" + rest. */
static void assert_one_error(ari_config *c, const char *rest)
{
    char want[512];
    snprintf(want, sizeof want, "%s:%s", path, rest);
    if (ari_config_n_errors(c) != 1)
        fail_msg("%zu errors, first '%s'; want '%s'", ari_config_n_errors(c),
                 ari_config_n_errors(c) ? ari_config_error(c, 0) : "", want);
    assert_string_equal(ari_config_error(c, 0), want);
}

static void test_defaults(void **state)
{
    (void)state;
    ari_config *c = ari_config_new();
    assert_string_equal(ari_config_get(c, "api", "listen"), "127.0.0.1:3000");
    assert_int_equal(ari_config_get_int(c, "consent", "cpu_percent", -1), 50);
    assert_int_equal(ari_config_get_bool(c, "ledger", "enabled", -1), 1);
    assert_string_equal(ari_config_get(c, "profile", "name"), "efficient");
    const char *dd = ari_config_get(c, "node", "data_dir");
    assert_true(dd[0] == '/' || !getenv("HOME")); /* ~ expanded */
    assert_null(ari_config_get(c, "api", "nope"));
    assert_int_equal(ari_config_n_errors(c), 0);
    ari_config_free(c);
}

static void test_values_apply(void **state)
{
    (void)state;
    ari_config *c = load_text("[api]\nlisten = 0.0.0.0:8080\n[consent]\ncpu_percent=75\n"
                              "schedule = 22:00-06:00, 12:00-13:00\n[ledger]\nvalidator = YES\n",
                              ARIA_OK);
    assert_string_equal(ari_config_get(c, "api", "listen"), "0.0.0.0:8080");
    assert_int_equal(ari_config_get_int(c, "consent", "cpu_percent", -1), 75);
    assert_int_equal(ari_config_get_bool(c, "ledger", "validator", -1), 1);
    assert_true(ari_config_list_has(c, "consent", "schedule", "12:00-13:00"));
    ari_config_free(c);
}

static void test_unknown_section(void **state)
{
    (void)state;
    ari_config *c = load_text("[node]\nthreads = 2\n\n[foo]\nbar = 1\n", ARIA_ERR_INVALID);
    assert_one_error(c, "4: unknown section [foo]");
    assert_int_equal(ari_config_get_int(c, "node", "threads", -1), 2);
    ari_config_free(c);
}

static void test_unknown_key(void **state)
{
    (void)state;
    ari_config *c = load_text("[api]\nlisen = 1.2.3.4:5\n", ARIA_ERR_INVALID);
    assert_one_error(c, "2: [api] unknown key 'lisen' (did you mean 'listen'?)");
    ari_config_free(c);
    c = load_text("[api]\ncompletely_wrong = 1\n", ARIA_ERR_INVALID);
    assert_one_error(c, "2: [api] unknown key 'completely_wrong'");
    ari_config_free(c);
}

static void test_bad_values_keep_defaults(void **state)
{
    (void)state;
    ari_config *c = load_text("[consent]\ncpu_percent = 150\n", ARIA_ERR_INVALID);
    assert_one_error(c, "2: [consent] cpu_percent: '150' is out of range 1..100");
    assert_int_equal(ari_config_get_int(c, "consent", "cpu_percent", -1), 50);
    ari_config_free(c);
    c = load_text("[consent]\ncpu_percent = abc\n", ARIA_ERR_INVALID);
    assert_one_error(c, "2: [consent] cpu_percent: 'abc' is not an integer");
    ari_config_free(c);
    c = load_text("[node]\nlog_level = loud\n", ARIA_ERR_INVALID);
    assert_one_error(c, "2: [node] log_level: 'loud' is not one of error|warn|info|debug");
    assert_string_equal(ari_config_get(c, "node", "log_level"), "info");
    ari_config_free(c);
    c = load_text("[ledger]\nvalidator = maybe\n", ARIA_ERR_INVALID);
    assert_one_error(c, "2: [ledger] validator: 'maybe' is not a boolean (true/false)");
    ari_config_free(c);
    c = load_text("[ledger]\nspot_check_rate = 1.5\n", ARIA_ERR_INVALID);
    assert_one_error(c, "2: [ledger] spot_check_rate: '1.5' is out of range 0..1");
    ari_config_free(c);
    c = load_text("[api]\nlisten = localhost\n", ARIA_ERR_INVALID);
    assert_one_error(c, "2: [api] listen: 'localhost' is not HOST:PORT (port 0-65535)");
    ari_config_free(c);
}

static void test_schedule(void **state)
{
    (void)state;
    ari_config *c = load_text("[consent]\nschedule = 22:00-06:00\n", ARIA_OK);
    ari_config_free(c);
    c = load_text("[consent]\nschedule = 25:00-01:00\n", ARIA_ERR_INVALID);
    assert_one_error(c, "2: [consent] schedule: '25:00-01:00' is not a daily window "
                        "HH:MM-HH:MM (or 'always')");
    ari_config_free(c);
    c = load_text("[consent]\nschedule = 9-17\n", ARIA_ERR_INVALID);
    ari_config_free(c);
    c = load_text("[router]\ncode = gpu:foo\n", ARIA_ERR_INVALID);
    ari_config_free(c);
    c = load_text("[router]\ncode = specialist:qwen, efficiency:bitnet, plain-model\n", ARIA_OK);
    ari_config_free(c);
}

static void test_syntax_and_structure(void **state)
{
    (void)state;
    ari_config *c = load_text("[node]\nthreads = 2\nthis line has no equals sign\n",
                              ARIA_ERR_INVALID);
    assert_one_error(c, "3: syntax error");
    ari_config_free(c);
    c = load_text("threads = 2\n[node]\n", ARIA_ERR_INVALID);
    assert_one_error(c, "1: key 'threads' outside any section");
    ari_config_free(c);
    c = load_text("[api]\nlisten = 1.1.1.1:1\n; comment\nlisten = 2.2.2.2:2\n", ARIA_ERR_INVALID);
    assert_one_error(c, "4: [api] listen: duplicate key (first set on line 2)");
    assert_string_equal(ari_config_get(c, "api", "listen"), "1.1.1.1:1");
    ari_config_free(c);
}

static void test_unreadable(void **state)
{
    (void)state;
    ari_config *c = ari_config_new();
    assert_int_equal(ari_config_load(c, "/nonexistent/aria.ini"), ARIA_ERR_IO);
    assert_string_equal(ari_config_error(c, 0),
                        "/nonexistent/aria.ini: cannot read: No such file or directory");
    ari_config_free(c);
}

static void test_garbage_and_long_lines(void **state)
{
    (void)state;
    size_t n = 1 << 20;
    char *big = malloc(n + 64);
    strcpy(big, "[node]\nname = ");
    memset(big + 14, 'x', n);
    strcpy(big + 14 + n, "\n");
    ari_config *c = load_text(big, ARIA_ERR_INVALID); /* too long for inih: an error */
    assert_true(ari_config_n_errors(c) >= 1);
    ari_config_free(c);
    for (size_t i = 0; i < n; i++)
        big[i] = (char)(1 + (i * 7919) % 255);
    big[n] = '\0';
    c = load_text(big, ARIA_ERR_INVALID);
    assert_true(ari_config_n_errors(c) >= 1);
    ari_config_free(c);
    free(big);
}

static void test_overrides(void **state)
{
    (void)state;
    ari_config *c = load_text("[node]\nthreads = 2\n", ARIA_OK);
    aria_msg why = {{0}};
    assert_int_equal(ari_config_set(c, "node", "threads", "7", &why), ARIA_OK);
    assert_int_equal(ari_config_get_int(c, "node", "threads", -1), 7);
    assert_int_equal(ari_config_set(c, "node", "threads", "many", &why), ARIA_ERR_INVALID);
    assert_string_equal(why.text, "[node] threads: 'many' is not an integer");
    assert_int_equal(ari_config_set(c, "api", "lisen", "x", &why), ARIA_ERR_NOT_FOUND);
    assert_string_equal(why.text, "[api] unknown key 'lisen' (did you mean 'listen'?)");
    assert_int_equal(ari_config_set(c, "nosuch", "x", "1", &why), ARIA_ERR_NOT_FOUND);
    /* kernel families are open: plugins bring new ones */
    assert_int_equal(ari_config_set(c, "kernels", "newfamily", "avx2", &why), ARIA_OK);
    assert_string_equal(ari_config_get(c, "kernels", "newfamily"), "avx2");
    assert_int_equal(ari_config_get_int(c, "node", "threads", -1), 7);
    ari_config_free(c);
}

static void test_plugin_schema(void **state)
{
    (void)state;
    ari_config *c = load_text("[plugin.demo]\nlevel = 11\ncolour = red\n", ARIA_OK);
    static const aria_cfg_key keys[] = {
        {.key = "level", .type = ARIA_CFG_INT, .def = "3", .min = 0, .max = 10, .help = "x"},
        {.key = "mode", .type = ARIA_CFG_ENUM, .def = "fast", .choices = "fast|slow", .help = "y"},
    };
    assert_int_equal(ari_config_add_plugin_schema(c, "demo", keys, 2), ARIA_ERR_INVALID);
    assert_int_equal(ari_config_n_errors(c), 2);
    char want[256];
    snprintf(want, sizeof want, "%s:2: [plugin.demo] level: '11' is out of range 0..10", path);
    assert_string_equal(ari_config_error(c, 0), want);
    snprintf(want, sizeof want, "%s:3: [plugin.demo] unknown key 'colour'", path);
    assert_string_equal(ari_config_error(c, 1), want);
    assert_string_equal(ari_config_get(c, "plugin.demo", "level"), "3");
    assert_string_equal(ari_config_get(c, "plugin.demo", "mode"), "fast");
    assert_null(ari_config_get(c, "plugin.demo", "colour"));
    ari_config_free(c);
}

/* The shipped file loads cleanly and documents every key of the schema. */
static void test_shipped_file(void **state)
{
    (void)state;
    ari_config *c = ari_config_new();
    assert_int_equal(ari_config_load(c, ARIA_SOURCE_DIR "/conf/aria.ini"), ARIA_OK);
    assert_int_equal(ari_config_n_errors(c), 0);
    FILE *f = fopen(ARIA_SOURCE_DIR "/conf/aria.ini", "r");
    char *text = calloc(1, 1 << 16);
    size_t n = fread(text, 1, (1 << 16) - 1, f);
    fclose(f);
    assert_true(n > 0);
    for (size_t i = 0; i < ari_config_schema_count(); i++) {
        const char *s, *k, *d, *h;
        ari_config_schema_at(i, &s, &k, &d, &h);
        char sec[64], line[128];
        snprintf(sec, sizeof sec, "[%s]", s);
        snprintf(line, sizeof line, d[0] ? "\n%s = %s\n" : "\n%s =\n", k, d);
        const char *at = strstr(text, sec);
        if (!at || !strstr(at, line))
            fail_msg("conf/aria.ini does not document %s %s with its default '%s'", sec, k, d);
        assert_true(h && h[0]);
    }
    free(text);
    ari_config_free(c);
}

/* What dump prints reads back to the same values. */
static void test_dump_roundtrip(void **state)
{
    (void)state;
    ari_config *c = load_text("[api]\nmax_body_kb = 99\n[consent]\nschedule = 01:00-02:00\n",
                              ARIA_OK);
    aria_msg why;
    ari_config_set(c, "node", "name", "alpha", &why);
    char out[160];
    snprintf(out, sizeof out, "%s/dump.ini", dir);
    FILE *f = fopen(out, "w");
    ari_config_dump(c, f);
    fclose(f);
    ari_config *d = ari_config_new();
    assert_int_equal(ari_config_load(d, out), ARIA_OK);
    for (size_t i = 0; i < ari_config_schema_count(); i++) {
        const char *s, *k, *def, *h;
        ari_config_schema_at(i, &s, &k, &def, &h);
        assert_string_equal(ari_config_get(c, s, k), ari_config_get(d, s, k));
    }
    assert_string_equal(ari_config_get(d, "node", "name"), "alpha");
    ari_config_free(c);
    ari_config_free(d);
    unlink(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_defaults, setup, teardown),
        cmocka_unit_test_setup_teardown(test_values_apply, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_section, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_values_keep_defaults, setup, teardown),
        cmocka_unit_test_setup_teardown(test_schedule, setup, teardown),
        cmocka_unit_test_setup_teardown(test_syntax_and_structure, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unreadable, setup, teardown),
        cmocka_unit_test_setup_teardown(test_garbage_and_long_lines, setup, teardown),
        cmocka_unit_test_setup_teardown(test_overrides, setup, teardown),
        cmocka_unit_test_setup_teardown(test_plugin_schema, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shipped_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dump_roundtrip, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
