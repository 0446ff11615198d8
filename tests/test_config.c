/* test_config.c — aria.ini: every kind of problem with its exact message,
 * bad values leaving defaults, overrides, plugin sections, long and binary
 * input, the shipped conf/aria.ini, the dump reading back the same, and
 * `aria-core config`. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "cmds.h"
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
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

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static int teardown(void **state)
{
    (void)state;
    return nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

static void write_file(const char *p, const char *text, size_t n)
{
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

static char *read_file(const char *p)
{
    FILE *f = fopen(p, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    assert_non_null(s);
    assert_int_equal(fread(s, 1, (size_t)n, f), (size_t)n);
    s[n] = '\0';
    fclose(f);
    return s;
}

/* Writes text to path and loads it over the defaults. */
static ari_config *load_text(const char *text, aria_err want)
{
    write_file(path, text, strlen(text));
    ari_config *c = ari_config_new();
    assert_non_null(c);
    aria_err got = ari_config_load(c, path);
    if (got != want)
        fail_msg("load gave %d, want %d; first message '%s'", got, want,
                 ari_config_n_errors(c) ? ari_config_error(c, 0) : "");
    return c;
}

/* The only message recorded is "PATH:" + rest. */
static void assert_one_error(const ari_config *c, const char *rest)
{
    char want[1024];
    snprintf(want, sizeof want, "%s:%s", path, rest);
    if (ari_config_n_errors(c) != 1)
        fail_msg("%zu messages, first '%s'; want only '%s'", ari_config_n_errors(c),
                 ari_config_n_errors(c) ? ari_config_error(c, 0) : "", want);
    assert_string_equal(ari_config_error(c, 0), want);
}

/* Loading text gives exactly the one message "PATH:" + rest. */
static void expect_error(const char *text, const char *rest)
{
    ari_config *c = load_text(text, ARIA_ERR_INVALID);
    assert_one_error(c, rest);
    ari_config_free(c);
}

static void test_defaults(void **state)
{
    (void)state;
    ari_config *c = ari_config_new();
    assert_non_null(c);
    assert_int_equal(ari_config_n_errors(c), 0);
    assert_null(ari_config_path(c));
    assert_true(ari_config_schema_count() >= 50);
    for (size_t i = 0; i < ari_config_schema_count(); i++) {
        const ari_config_key_info *k = ari_config_schema_key(i);
        const char *s, *key, *def, *help;
        ari_config_schema_at(i, &s, &key, &def, &help);
        assert_ptr_equal(s, k->section);
        assert_ptr_equal(key, k->key);
        assert_ptr_equal(def, k->def);
        assert_ptr_equal(help, k->help);
        assert_true(k->help[0] && k->unit && k->def);
        assert_true(k->type >= ARIA_CFG_STRING && k->type <= ARIA_CFG_LIST);
        const char *v = ari_config_get(c, s, key);
        assert_non_null(v);
        if (def[0] != '~')
            assert_string_equal(v, def);
    }
    assert_null(ari_config_schema_key(ari_config_schema_count()));
    assert_string_equal(ari_config_get(c, "api", "listen"), "127.0.0.1:3000");
    assert_int_equal(ari_config_get_int(c, "consent", "cpu_percent", -1), 50);
    assert_int_equal(ari_config_get_bool(c, "ledger", "enabled", -1), 1);
    assert_true(ari_config_get_double(c, "ledger", "spot_check_rate", -1) == 0.05);
    assert_string_equal(ari_config_get(c, "profile", "name"), "efficient");
    assert_true(ari_config_list_has(c, "consent", "task_types", "pipeline"));
    assert_false(ari_config_list_has(c, "consent", "task_types", "embedding"));
    const char *dd = ari_config_get(c, "node", "data_dir");
    const char *home = getenv("HOME");
    if (home && home[0]) { /* ~ expanded */
        assert_memory_equal(dd, home, strlen(home));
        assert_string_equal(dd + strlen(home), "/.local/share/aria");
    }
    assert_null(ari_config_get(c, "api", "nope"));
    assert_null(ari_config_get(c, "nope", "listen"));
    assert_int_equal(ari_config_get_int(c, "api", "nope", 7), 7);
    ari_config_free(c);
    ari_config_free(NULL);
}

static void test_values_apply(void **state)
{
    (void)state;
    ari_config *c = load_text("\xEF\xBB\xBF; a comment\n"
                              "# another\n"
                              "[api]\r\n"
                              "listen = 0.0.0.0:8080 ; inline comment\r\n"
                              "  api_keys = k1, k2 ,k3\n" /* indented: still a key */
                              "[ consent ]\n"
                              "cpu_percent: 75\n"
                              "schedule = 22:00-06:00, 12:00-13:00\n"
                              "task_types = chat, embedding\n"
                              "max_bandwidth_mbps = 12.5\n"
                              "apply_to_local = On\n"
                              "[ledger]\n"
                              "validator = YES\n"
                              "enabled = 0\n"
                              "[network]\n"
                              "listen = ws://0.0.0.0:7700, wss://[::]:7701/aria\n"
                              "bootstrap = ws://203.0.113.7:7700\n"
                              "[router]\n"
                              "code = specialist:qwen2.5-coder-7b-instruct, quality:qwen2.5:7b, "
                              "plain-model\n"
                              "[models]\n"
                              "layers = qwen2.5-3b-instruct:0-17, other:18-35\n"
                              "[kernels]\n"
                              "gguf = avx2\n",
                              ARIA_OK);
    assert_int_equal(ari_config_n_errors(c), 0);
    assert_string_equal(ari_config_path(c), path);
    assert_string_equal(ari_config_get(c, "api", "listen"), "0.0.0.0:8080");
    assert_true(ari_config_list_has(c, "api", "api_keys", "k2"));
    assert_true(ari_config_list_has(c, "api", "api_keys", "k3"));
    assert_int_equal(ari_config_get_int(c, "consent", "cpu_percent", -1), 75);
    assert_true(ari_config_list_has(c, "consent", "task_types", "embedding"));
    assert_false(ari_config_list_has(c, "consent", "task_types", "code"));
    assert_true(ari_config_get_double(c, "consent", "max_bandwidth_mbps", -1) == 12.5);
    assert_int_equal(ari_config_get_bool(c, "consent", "apply_to_local", -1), 1);
    assert_int_equal(ari_config_get_bool(c, "ledger", "validator", -1), 1);
    assert_int_equal(ari_config_get_bool(c, "ledger", "enabled", -1), 0);
    assert_true(ari_config_list_has(c, "network", "listen", "wss://[::]:7701/aria"));
    assert_true(ari_config_list_has(c, "router", "code", "quality:qwen2.5:7b"));
    assert_string_equal(ari_config_get(c, "kernels", "gguf"), "avx2");
    ari_config_free(c);
}

static void test_unknown_section(void **state)
{
    (void)state;
    /* Keys of an unknown section are skipped without a message each, and
     * the next known section applies again. */
    ari_config *c = load_text("[node]\nthreads = 2\n\n[foo]\nbar = 1\nthreads = x\n"
                              "[api]\nmax_body_kb = 5\n",
                              ARIA_ERR_INVALID);
    assert_one_error(c, "4: unknown section [foo]");
    assert_int_equal(ari_config_get_int(c, "node", "threads", -1), 2);
    assert_int_equal(ari_config_get_int(c, "api", "max_body_kb", -1), 5);
    ari_config_free(c);
    expect_error("[nod]\nthreads = 1\n", "1: unknown section [nod] (did you mean [node]?)");
    expect_error("[Node]\n", "1: unknown section [Node] (did you mean [node]?)");
    expect_error("[]\n", "1: unknown section []");
    expect_error("[plugin.]\n", "1: unknown section [plugin.] (did you mean [plugins]?)");
    expect_error("[plugin.Bad Name]\n", "1: unknown section [plugin.Bad Name]");
}

static void test_unknown_key(void **state)
{
    (void)state;
    expect_error("[api]\nlisen = 1.2.3.4:5\n",
                 "2: [api] unknown key 'lisen' (did you mean 'listen'?)");
    expect_error("[api]\ncompletely_wrong = 1\n", "2: [api] unknown key 'completely_wrong'");
    expect_error("[node]\nThreads = 1\n",
                 "2: [node] unknown key 'Threads' (did you mean 'threads'?)");
    /* a typo of a kernel family is not taken for a new family */
    expect_error("[kernels]\nggfu = avx2\n",
                 "2: [kernels] unknown key 'ggfu' (did you mean 'gguf'?)");
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
    assert_int_equal(ari_config_get_int(c, "consent", "cpu_percent", -1), 50);
    ari_config_free(c);
    c = load_text("[node]\nlog_level = loud\n", ARIA_ERR_INVALID);
    assert_one_error(c, "2: [node] log_level: 'loud' is not one of error|warn|info|debug");
    assert_string_equal(ari_config_get(c, "node", "log_level"), "info");
    ari_config_free(c);
    c = load_text("[ledger]\nvalidator = maybe\n", ARIA_ERR_INVALID);
    assert_one_error(c, "2: [ledger] validator: 'maybe' is not a boolean (true/false)");
    assert_int_equal(ari_config_get_bool(c, "ledger", "validator", -1), 0);
    ari_config_free(c);
    c = load_text("[api]\nlisten = localhost\n", ARIA_ERR_INVALID);
    assert_one_error(c, "2: [api] listen: 'localhost' is not HOST:PORT");
    assert_string_equal(ari_config_get(c, "api", "listen"), "127.0.0.1:3000");
    ari_config_free(c);

    expect_error("[consent]\ncpu_percent = 1.5\n",
                 "2: [consent] cpu_percent: '1.5' is not an integer");
    expect_error("[consent]\ncpu_percent =\n", "2: [consent] cpu_percent: '' is not an integer");
    expect_error("[consent]\ncpu_percent = 99999999999999999999\n",
                 "2: [consent] cpu_percent: '99999999999999999999' is out of range 1..100");
    expect_error("[consent]\nmax_ram_mb = -1\n",
                 "2: [consent] max_ram_mb: '-1' is out of range 0..16777216");
    expect_error("[ledger]\nspot_check_rate = 1.5\n",
                 "2: [ledger] spot_check_rate: '1.5' is out of range 0..1");
    expect_error("[ledger]\ncore_watts = lots\n", "2: [ledger] core_watts: 'lots' is not a number");
    expect_error("[ledger]\ncore_watts = nan\n", "2: [ledger] core_watts: 'nan' is not a number");
    expect_error("[profile]\nname = huge\n", "2: [profile] name: 'huge' is not one of "
                                             "minimal|efficient|balanced|full|specialist_only");
    expect_error("[api]\nlisten = 1.2.3.4:70000\n",
                 "2: [api] listen: '1.2.3.4:70000': the port is out of range 0..65535");
    expect_error("[api]\nlisten = :3000\n", "2: [api] listen: ':3000' is not HOST:PORT");
    expect_error("[api]\nlisten = ::1:3000\n", "2: [api] listen: '::1:3000' is not HOST:PORT");
    expect_error("[api]\napi_keys = good, has space\n",
                 "2: [api] api_keys: 'has space' contains whitespace");
    expect_error("[network]\nlisten = http://0.0.0.0:80\n",
                 "2: [network] listen: 'http://0.0.0.0:80' is not a ws:// or wss:// URL "
                 "(ws://HOST:PORT)");
    expect_error("[network]\nbootstrap = ws://peer.example:0\n",
                 "2: [network] bootstrap: 'ws://peer.example:0': port 0 cannot be dialed");
    expect_error("[consent]\ntask_types = chat, gaming\n",
                 "2: [consent] task_types: 'gaming' is not one of "
                 "chat|completion|code|reasoning|embedding|pipeline|validation");
    expect_error("[router]\ncode = gpu:foo\n",
                 "2: [router] code: 'gpu:foo' is not MODEL or TIER:MODEL "
                 "(TIER one of efficiency|quality|specialist)");
    expect_error("[router]\nchat = quality:\n",
                 "2: [router] chat: 'quality:' is not MODEL or TIER:MODEL "
                 "(TIER one of efficiency|quality|specialist)");
    expect_error("[models]\nlayers = m:5\n",
                 "2: [models] layers: 'm:5' is not MODEL_ID:FIRST-LAST");
    expect_error("[models]\nlayers = m:9-3\n", "2: [models] layers: 'm:9-3': FIRST is after LAST");
    expect_error("[kernels]\nternary = AVX2\n",
                 "2: [kernels] ternary: 'AVX2' is not auto or a variant name "
                 "(scalar, avx2, avx512, neon, ...)");
    expect_error("[node]\nname = a\x01z\n",
                 "2: [node] name: the value holds a control character (byte 0x01)");
    /* a long bad value is quoted cut */
    char text[400], want[200];
    snprintf(text, sizeof text, "[node]\nthreads = %0150d\n", 9999);
    snprintf(want, sizeof want, "2: [node] threads: '%077d...' is out of range 0..1024", 0);
    expect_error(text, want);
}

static void test_schedule(void **state)
{
    (void)state;
    ari_config *c = load_text("[consent]\nschedule = 22:00-06:00\n", ARIA_OK);
    assert_string_equal(ari_config_get(c, "consent", "schedule"), "22:00-06:00");
    ari_config_free(c);
    c = load_text("[consent]\nschedule = 09:00-12:00, 13:00-17:30,22:00-24:00\n", ARIA_OK);
    ari_config_free(c);
    expect_error("[consent]\nschedule = 25:00-01:00\n",
                 "2: [consent] schedule: '25:00-01:00' is not a daily window HH:MM-HH:MM "
                 "(or 'always')");
    expect_error("[consent]\nschedule = 9-17\n",
                 "2: [consent] schedule: '9-17' is not a daily window HH:MM-HH:MM (or 'always')");
    expect_error("[consent]\nschedule = 09:00-17:00, 9:00-10:00\n",
                 "2: [consent] schedule: '9:00-10:00' is not a daily window HH:MM-HH:MM "
                 "(or 'always')");
    expect_error("[consent]\nschedule = 12:60-13:00\n",
                 "2: [consent] schedule: '12:60-13:00' is not a daily window HH:MM-HH:MM "
                 "(or 'always')");
    expect_error("[consent]\nschedule = 08:00-08:00\n",
                 "2: [consent] schedule: '08:00-08:00' is an empty window (start equals end)");
    expect_error("[consent]\nschedule = always, 08:00-09:00\n",
                 "2: [consent] schedule: 'always, 08:00-09:00': 'always' cannot be combined "
                 "with windows");
    expect_error("[consent]\nschedule =\n",
                 "2: [consent] schedule: '' is not a daily window HH:MM-HH:MM (or 'always')");

    /* What consent asks of it, minute by minute. */
    assert_true(ari_config_schedule_allows("always", 0));
    assert_true(ari_config_schedule_allows("always", 1439));
    assert_true(ari_config_schedule_allows("22:00-06:00", 23 * 60 + 30));
    assert_true(ari_config_schedule_allows("22:00-06:00", 0));
    assert_true(ari_config_schedule_allows("22:00-06:00", 5 * 60 + 59));
    assert_false(ari_config_schedule_allows("22:00-06:00", 6 * 60));
    assert_false(ari_config_schedule_allows("22:00-06:00", 12 * 60));
    assert_true(ari_config_schedule_allows("22:00-06:00", 22 * 60));
    assert_true(ari_config_schedule_allows("09:00-12:00,13:00-17:00", 14 * 60));
    assert_false(ari_config_schedule_allows("09:00-12:00,13:00-17:00", 12 * 60 + 30));
    assert_true(ari_config_schedule_allows("00:00-24:00", 1439));
    assert_false(ari_config_schedule_allows("25:00-01:00", 0)); /* invalid grants nothing */
    assert_false(ari_config_schedule_allows(NULL, 0));
    assert_false(ari_config_schedule_allows("always", 1440));
    assert_false(ari_config_schedule_allows("always", -1));
}

static void test_syntax_and_structure(void **state)
{
    (void)state;
    expect_error("[node]\nthreads = 2\nthis line has no equals sign\n", "3: syntax error");
    expect_error("[node\n", "1: syntax error");
    expect_error("[node]\n= 4\n", "2: syntax error");
    expect_error("threads = 2\n[node]\n", "1: key 'threads' outside any section");
    ari_config *c =
        load_text("[api]\nlisten = 1.1.1.1:1\n; comment\nlisten = 2.2.2.2:2\n", ARIA_ERR_INVALID);
    assert_one_error(c, "4: [api] listen: duplicate key (first set on line 2)");
    assert_string_equal(ari_config_get(c, "api", "listen"), "1.1.1.1:1");
    ari_config_free(c);
    /* a section opened twice is one section: its keys still count once */
    expect_error("[api]\nlisten = 1.1.1.1:1\n[node]\n[api]\nlisten = 2.2.2.2:2\n",
                 "5: [api] listen: duplicate key (first set on line 2)");
    /* an indented line is a key of its own, not the continuation of a value */
    c = load_text("[api]\nlisten = 1.1.1.1:1\n    max_body_kb = 7\n", ARIA_OK);
    assert_string_equal(ari_config_get(c, "api", "listen"), "1.1.1.1:1");
    assert_int_equal(ari_config_get_int(c, "api", "max_body_kb", -1), 7);
    ari_config_free(c);
    expect_error("[api]\nlisten = 1.1.1.1:1\n    more\n", "3: syntax error");

    /* Every problem of a file, in line order, inih's syntax error among them. */
    c = load_text("[node]\nthreads = x\nbroken line\n[api]\nlisen = 1\n[bogus]\n",
                  ARIA_ERR_INVALID);
    assert_int_equal(ari_config_n_errors(c), 4);
    char want[256];
    const char *rest[] = {"2: [node] threads: 'x' is not an integer", "3: syntax error",
                          "5: [api] unknown key 'lisen' (did you mean 'listen'?)",
                          "6: unknown section [bogus]"};
    for (size_t i = 0; i < 4; i++) {
        snprintf(want, sizeof want, "%s:%s", path, rest[i]);
        assert_string_equal(ari_config_error(c, i), want);
    }
    assert_null(ari_config_error(c, 4));
    ari_config_free(c);
}

static void test_unreadable(void **state)
{
    (void)state;
    ari_config *c = ari_config_new();
    assert_int_equal(ari_config_load(c, "/nonexistent/aria.ini"), ARIA_ERR_IO);
    assert_int_equal(ari_config_n_errors(c), 1);
    assert_string_equal(ari_config_error(c, 0),
                        "/nonexistent/aria.ini: cannot read: No such file or directory");
    assert_null(ari_config_path(c));
    assert_int_equal(ari_config_load(c, dir), ARIA_ERR_IO);
    char want[256];
    snprintf(want, sizeof want, "%s: cannot read: %s", dir, strerror(EISDIR));
    assert_string_equal(ari_config_error(c, 1), want);
    ari_config_free(c);
}

static void test_long_lines(void **state)
{
    (void)state;
    /* Longer than inih's 200-byte buffer but sane: read whole. */
    char line[2048], text[4200];
    size_t n = 0;
    for (int i = 0; i < 20; i++)
        n += (size_t)snprintf(line + n, sizeof line - n, "%skey%02d-%s", i ? ", " : "", i,
                              "0123456789abcdef0123456789abcdef0123456789abcdef");
    snprintf(text, sizeof text, "[api]\napi_keys = %s   ; the keys\nmax_body_kb = 9\n", line);
    ari_config *c = load_text(text, ARIA_OK);
    assert_string_equal(ari_config_get(c, "api", "api_keys"), line);
    assert_true(ari_config_list_has(c, "api", "api_keys",
                                    "key19-0123456789abcdef0123456789abcdef"
                                    "0123456789abcdef"));
    assert_int_equal(ari_config_get_int(c, "api", "max_body_kb", -1), 9);
    ari_config_free(c);
    /* a long comment is a comment; a long bad value is checked like a short one */
    memset(line, 'x', 1000);
    line[1000] = '\0';
    snprintf(text, sizeof text, "; %s\n[node]\nthreads = 1%s\n", line, line);
    c = load_text(text, ARIA_ERR_INVALID);
    assert_int_equal(ari_config_n_errors(c), 1);
    assert_non_null(strstr(ari_config_error(c, 0), ":3: [node] threads: '1xxx"));
    assert_non_null(strstr(ari_config_error(c, 0), "...' is not an integer"));
    ari_config_free(c);
    /* a long line without a delimiter is a syntax error at its own line */
    snprintf(text, sizeof text, "[node]\n%s\nthreads = 3\n", line);
    c = load_text(text, ARIA_ERR_INVALID);
    assert_one_error(c, "2: syntax error");
    assert_int_equal(ari_config_get_int(c, "node", "threads", -1), 3);
    ari_config_free(c);
    /* a long section name */
    snprintf(text, sizeof text, "[%s]\nk = v\n", line);
    c = load_text(text, ARIA_ERR_INVALID);
    assert_int_equal(ari_config_n_errors(c), 1);
    assert_non_null(strstr(ari_config_error(c, 0), ":1: unknown section [xxxxxxxx"));
    assert_non_null(strstr(ari_config_error(c, 0), "x...]"));
    ari_config_free(c);
}

static void test_garbage(void **state)
{
    (void)state;
    size_t n = 1 << 20;
    char *big = malloc(n + 64);
    assert_non_null(big);
    /* a 1 MiB value */
    strcpy(big, "[node]\nname = ");
    memset(big + 14, 'x', n);
    strcpy(big + 14 + n, "\nthreads = 3\n");
    ari_config *c = load_text(big, ARIA_ERR_INVALID);
    assert_one_error(c, "2: line too long (over 65536 bytes)");
    assert_string_equal(ari_config_get(c, "node", "name"), "");
    assert_int_equal(ari_config_get_int(c, "node", "threads", -1), 3);
    ari_config_free(c);
    /* 1 MiB without a newline */
    memset(big, 'x', n);
    big[n] = '\0';
    c = load_text(big, ARIA_ERR_INVALID);
    assert_one_error(c, "1: line too long (over 65536 bytes)");
    ari_config_free(c);
    /* binary: every byte value, NULs included */
    unsigned x = 12345;
    for (size_t i = 0; i < n; i++) {
        x = x * 1103515245u + 12345u;
        big[i] = (char)(x >> 16);
    }
    write_file(path, big, n);
    c = ari_config_new();
    assert_int_equal(ari_config_load(c, path), ARIA_ERR_INVALID);
    assert_true(ari_config_n_errors(c) >= 1);
    assert_true(ari_config_n_errors(c) <= 102); /* stops after 100 problems */
    char want[256];
    snprintf(want, sizeof want, "%s:", path);
    for (size_t i = 0; i < ari_config_n_errors(c); i++)
        assert_memory_equal(ari_config_error(c, i), want, strlen(want));
    ari_config_free(c);
    /* binary without NULs */
    for (size_t i = 0; i < n; i++)
        big[i] = (char)(1 + (i * 7919) % 255);
    write_file(path, big, n);
    c = ari_config_new();
    assert_int_equal(ari_config_load(c, path), ARIA_ERR_INVALID);
    assert_true(ari_config_n_errors(c) >= 1);
    ari_config_free(c);
    /* a NUL byte in a line */
    write_file(path, "[node]\nname = a\0b\nthreads = 2\n", 30);
    c = ari_config_new();
    assert_int_equal(ari_config_load(c, path), ARIA_ERR_INVALID);
    assert_one_error(c, "2: not text (NUL byte)");
    assert_string_equal(ari_config_get(c, "node", "name"), "");
    assert_int_equal(ari_config_get_int(c, "node", "threads", -1), 2);
    ari_config_free(c);
    free(big);
}

static void test_overrides(void **state)
{
    (void)state;
    ari_config *c = load_text("[node]\nthreads = 2\n[api]\nlisten = 0.0.0.0:1\n", ARIA_OK);
    aria_msg why = {{0}};
    assert_int_equal(ari_config_set(c, "node", "threads", " 7 ", &why), ARIA_OK);
    assert_int_equal(ari_config_get_int(c, "node", "threads", -1), 7);
    assert_int_equal(ari_config_set(c, "node", "threads", "many", &why), ARIA_ERR_INVALID);
    assert_string_equal(why.text, "[node] threads: 'many' is not an integer");
    assert_int_equal(ari_config_get_int(c, "node", "threads", -1), 7);
    assert_int_equal(ari_config_set(c, "api", "listen", "x", &why), ARIA_ERR_INVALID);
    assert_string_equal(why.text, "[api] listen: 'x' is not HOST:PORT");
    assert_string_equal(ari_config_get(c, "api", "listen"), "0.0.0.0:1");
    assert_int_equal(ari_config_set(c, "api", "lisen", "x", &why), ARIA_ERR_NOT_FOUND);
    assert_string_equal(why.text, "[api] unknown key 'lisen' (did you mean 'listen'?)");
    assert_int_equal(ari_config_set(c, "nosuch", "x", "1", &why), ARIA_ERR_NOT_FOUND);
    assert_string_equal(why.text, "unknown section [nosuch]");
    assert_int_equal(ari_config_set(c, "ap", "listen", "1", &why), ARIA_ERR_NOT_FOUND);
    assert_string_equal(why.text, "unknown section [ap] (did you mean [api]?)");
    assert_int_equal(ari_config_set(c, "node", "name", "a ; b", &why), ARIA_ERR_INVALID);
    assert_string_equal(why.text,
                        "[node] name: a value cannot hold ' ;' (it starts a comment in aria.ini)");
    assert_int_equal(ari_config_set(c, "node", "log_level", "loud", &why), ARIA_ERR_INVALID);
    assert_string_equal(why.text, "[node] log_level: 'loud' is not one of error|warn|info|debug");
    /* kernel families are open: plugins bring new ones */
    assert_int_equal(ari_config_set(c, "kernels", "newfamily", "avx2", &why), ARIA_OK);
    assert_string_equal(ari_config_get(c, "kernels", "newfamily"), "avx2");
    assert_int_equal(ari_config_set(c, "kernels", "newfamily", "Not Valid", &why),
                     ARIA_ERR_INVALID);
    assert_int_equal(ari_config_set(c, "api", "listen", "[::1]:8080", &why), ARIA_OK);
    assert_string_equal(ari_config_get(c, "api", "listen"), "[::1]:8080");
    assert_int_equal(ari_config_set(NULL, "api", "listen", "x", NULL), ARIA_ERR_INVALID);
    assert_int_equal(ari_config_n_errors(c), 0); /* overrides report through why only */
    ari_config_free(c);

    /* A file read after an override is read over it: the caller applies
     * overrides last (as the node does). A second file overrides the first. */
    c = load_text("[node]\nthreads = 2\n", ARIA_OK);
    char second[160];
    snprintf(second, sizeof second, "%s/second.ini", dir);
    write_file(second, "[node]\nthreads = 5\n", strlen("[node]\nthreads = 5\n"));
    assert_int_equal(ari_config_load(c, second), ARIA_OK);
    assert_int_equal(ari_config_get_int(c, "node", "threads", -1), 5);
    assert_string_equal(ari_config_path(c), second);
    ari_config_free(c);
}

static const aria_cfg_key demo_keys[] = {
    {.key = "level", .type = ARIA_CFG_INT, .def = "3", .min = 0, .max = 10, .help = "x"},
    {.key = "mode", .type = ARIA_CFG_ENUM, .def = "fast", .choices = "fast|slow", .help = "y"},
    {.key = "greeting", .type = ARIA_CFG_STRING, .def = "hello", .help = "z"},
    {.key = "token", .type = ARIA_CFG_STRING, .def = NULL, .help = "unset by default"},
    {.key = "ratio", .type = ARIA_CFG_DOUBLE, .def = "0.5", .min = 0, .max = 1, .help = "r"},
};
#define N_DEMO (sizeof demo_keys / sizeof demo_keys[0])

static void test_plugin_schema(void **state)
{
    (void)state;
    ari_config *c = load_text("[plugin.demo]\nlevel = 11\ncolour = red\nmod = slow\n"
                              "greeting = hi there\n[plugin.ghost]\nx = 1\n",
                              ARIA_OK);
    /* before the plugin declares its keys, they are kept as read */
    assert_string_equal(ari_config_get(c, "plugin.demo", "level"), "11");
    /* the declaration is copied: the plugin may be unloaded afterwards */
    aria_cfg_key keys[N_DEMO];
    memcpy(keys, demo_keys, sizeof keys);
    assert_int_equal(ari_config_add_plugin_schema(c, "demo", keys, N_DEMO), ARIA_ERR_INVALID);
    memset(keys, 0, sizeof keys);
    assert_int_equal(ari_config_n_errors(c), 3);
    char want[256];
    snprintf(want, sizeof want, "%s:2: [plugin.demo] level: '11' is out of range 0..10", path);
    assert_string_equal(ari_config_error(c, 0), want);
    snprintf(want, sizeof want, "%s:3: [plugin.demo] unknown key 'colour'", path);
    assert_string_equal(ari_config_error(c, 1), want);
    snprintf(want, sizeof want, "%s:4: [plugin.demo] unknown key 'mod' (did you mean 'mode'?)",
             path);
    assert_string_equal(ari_config_error(c, 2), want);
    assert_string_equal(ari_config_get(c, "plugin.demo", "level"), "3");   /* default kept */
    assert_string_equal(ari_config_get(c, "plugin.demo", "mode"), "fast"); /* default filled */
    assert_string_equal(ari_config_get(c, "plugin.demo", "greeting"), "hi there");
    assert_null(ari_config_get(c, "plugin.demo", "token")); /* unset */
    assert_true(ari_config_get_double(c, "plugin.demo", "ratio", -1) == 0.5);
    assert_null(ari_config_get(c, "plugin.demo", "colour"));

    /* after it, overrides are checked against the declaration */
    aria_msg why = {{0}};
    assert_int_equal(ari_config_set(c, "plugin.demo", "level", "12", &why), ARIA_ERR_INVALID);
    assert_string_equal(why.text, "[plugin.demo] level: '12' is out of range 0..10");
    assert_int_equal(ari_config_set(c, "plugin.demo", "mode", "slow", &why), ARIA_OK);
    assert_string_equal(ari_config_get(c, "plugin.demo", "mode"), "slow");
    assert_int_equal(ari_config_set(c, "plugin.demo", "colour", "blue", &why), ARIA_ERR_NOT_FOUND);
    assert_string_equal(why.text, "[plugin.demo] unknown key 'colour'");
    assert_int_equal(ari_config_set(c, "plugin.demo", "token", "s3cret", &why), ARIA_OK);
    assert_string_equal(ari_config_get(c, "plugin.demo", "token"), "s3cret");

    /* a section no plugin claimed */
    assert_int_equal(ari_config_check_unclaimed(c), ARIA_ERR_NOT_FOUND);
    assert_int_equal(ari_config_n_errors(c), 4);
    snprintf(want, sizeof want, "%s:7: [plugin.ghost] no plugin named 'ghost' is loaded", path);
    assert_string_equal(ari_config_error(c, 3), want);
    ari_config_free(c);

    /* a plugin value given on the command line before the plugin loaded */
    c = ari_config_new();
    assert_int_equal(ari_config_set(c, "plugin.demo", "level", "99", &why), ARIA_OK);
    assert_int_equal(ari_config_add_plugin_schema(c, "demo", demo_keys, N_DEMO), ARIA_ERR_INVALID);
    assert_string_equal(ari_config_error(c, 0),
                        "command line: [plugin.demo] level: '99' is out of range 0..10");
    assert_string_equal(ari_config_get(c, "plugin.demo", "level"), "3");
    assert_int_equal(ari_config_check_unclaimed(c), ARIA_OK);
    /* a plugin with no keys claims its section all the same */
    assert_int_equal(ari_config_add_plugin_schema(c, "empty", NULL, 0), ARIA_OK);
    assert_int_equal(ari_config_add_plugin_schema(c, "Bad Name", NULL, 0), ARIA_ERR_INVALID);
    ari_config_free(c);
}

/* The shipped file loads cleanly and documents every key of the schema: in
 * its own section, set to its default, under a comment that names the
 * default (so it is still known once the value is changed). */
static void test_shipped_file(void **state)
{
    (void)state;
    const char *ini = ARIA_SOURCE_DIR "/conf/aria.ini";
    ari_config *c = ari_config_new();
    aria_err rc = ari_config_load(c, ini);
    for (size_t i = 0; i < ari_config_n_errors(c); i++)
        print_error("%s\n", ari_config_error(c, i));
    assert_int_equal(rc, ARIA_OK);
    assert_int_equal(ari_config_n_errors(c), 0);
    char *text = read_file(ini);
    assert_non_null(strstr(text, "aria-core config check conf/aria.ini"));
    for (size_t i = 0; i < ari_config_schema_count(); i++) {
        const ari_config_key_info *k = ari_config_schema_key(i);
        char sec[64], line[256], dflt[256];
        snprintf(sec, sizeof sec, "\n[%s]\n", k->section);
        snprintf(line, sizeof line, k->def[0] ? "\n%s = %s\n" : "\n%s =\n", k->key, k->def);
        snprintf(dflt, sizeof dflt, "Default: %s", k->def[0] ? k->def : "empty");
        const char *at = strstr(text, sec);
        if (!at)
            fail_msg("conf/aria.ini has no [%s]", k->section);
        const char *next = strstr(at + 1, "\n[");
        const char *kl = strstr(at, line);
        if (!kl || (next && kl > next))
            fail_msg("conf/aria.ini does not set [%s] %s to its default '%s'", k->section, k->key,
                     k->def);
        /* the comment block right above the key */
        const char *b = kl;
        while (b > at && !(b[-1] == '\n' && b[0] == '\n' && b != kl))
            b--;
        size_t n = (size_t)(kl - b);
        char *block = strndup(b, n);
        if (!strstr(block, dflt))
            fail_msg("the comment above [%s] %s does not say '%s'", k->section, k->key, dflt);
        free(block);
        if (k->type == ARIA_CFG_ENUM) { /* every choice is named */
            char ch[256];
            snprintf(ch, sizeof ch, "%s", k->choices);
            for (char *tok = strtok(ch, "|"); tok; tok = strtok(NULL, "|"))
                if (!strstr(at, tok) || (next && strstr(at, tok) > next))
                    fail_msg("[%s] %s: choice '%s' is not documented", k->section, k->key, tok);
        }
    }
    free(text);
    ari_config_free(c);
}

/* What dump prints reads back to the same values, with where each came from. */
static void test_dump_roundtrip(void **state)
{
    (void)state;
    ari_config *c = load_text("[api]\nmax_body_kb = 99\napi_keys = a, b\n"
                              "[consent]\nschedule = 01:00-02:00\n"
                              "[plugin.demo]\nlevel = 4\n[plugin.other]\nraw = kept as read\n",
                              ARIA_OK);
    assert_int_equal(ari_config_add_plugin_schema(c, "demo", demo_keys, N_DEMO), ARIA_OK);
    aria_msg why;
    assert_int_equal(ari_config_set(c, "node", "name", "alpha", &why), ARIA_OK);
    assert_int_equal(ari_config_set(c, "models", "catalog", ";odd", &why), ARIA_OK);
    assert_int_equal(ari_config_set(c, "kernels", "newfamily", "neon", &why), ARIA_OK);
    char out[160];
    snprintf(out, sizeof out, "%s/dump.ini", dir);
    FILE *f = fopen(out, "w");
    assert_non_null(f);
    ari_config_dump(c, f);
    fclose(f);

    char *text = read_file(out);
    char want[256];
    snprintf(want, sizeof want, "\nmax_body_kb = 99  ; %s:2\n", path);
    assert_non_null(strstr(text, want));
    assert_non_null(strstr(text, "\nname = alpha  ; command line\n"));
    assert_non_null(strstr(text, "\nthreads = 0  ; default\n"));
    assert_non_null(strstr(text, "\n; token (unset)\n"));
    assert_non_null(strstr(text, "[plugin.other]\n; not checked"));
    free(text);

    ari_config *d = ari_config_new();
    aria_err rc = ari_config_load(d, out);
    for (size_t i = 0; i < ari_config_n_errors(d); i++)
        print_error("%s\n", ari_config_error(d, i));
    assert_int_equal(rc, ARIA_OK);
    assert_int_equal(ari_config_add_plugin_schema(d, "demo", demo_keys, N_DEMO), ARIA_OK);
    for (size_t i = 0; i < ari_config_schema_count(); i++) {
        const ari_config_key_info *k = ari_config_schema_key(i);
        assert_string_equal(ari_config_get(c, k->section, k->key),
                            ari_config_get(d, k->section, k->key));
    }
    assert_string_equal(ari_config_get(d, "node", "name"), "alpha");
    assert_string_equal(ari_config_get(d, "models", "catalog"), ";odd");
    assert_string_equal(ari_config_get(d, "kernels", "newfamily"), "neon");
    assert_string_equal(ari_config_get(d, "plugin.demo", "level"), "4");
    assert_string_equal(ari_config_get(d, "plugin.demo", "mode"), "fast");
    assert_null(ari_config_get(d, "plugin.demo", "token"));
    assert_string_equal(ari_config_get(d, "plugin.other", "raw"), "kept as read");
    ari_config_free(c);
    ari_config_free(d);
}

/* Runs `aria-core config ARGS` with stdout and stderr captured in files. */
static int run_config(const char *const *args, char **out, char **err)
{
    char po[160], pe[160];
    snprintf(po, sizeof po, "%s/stdout", dir);
    snprintf(pe, sizeof pe, "%s/stderr", dir);
    fflush(stdout);
    fflush(stderr);
    int so = dup(1), se = dup(2);
    int fo = open(po, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int fe = open(pe, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(so >= 0 && se >= 0 && fo >= 0 && fe >= 0);
    dup2(fo, 1);
    dup2(fe, 2);
    char *argv[8];
    int argc = 0;
    argv[argc++] = (char *)"config";
    for (; args[argc - 1]; argc++)
        argv[argc] = (char *)args[argc - 1];
    argv[argc] = NULL;
    ari_opts o;
    memset(&o, 0, sizeof o);
    int rc = ari_cmd_config(argc, argv, &o);
    fflush(stdout);
    fflush(stderr);
    dup2(so, 1);
    dup2(se, 2);
    close(so);
    close(se);
    close(fo);
    close(fe);
    *out = read_file(po);
    *err = read_file(pe);
    return rc;
}

static void test_cmd_config(void **state)
{
    (void)state;
    char *out, *err;
    assert_int_equal(run_config((const char *[]){"--help", NULL}, &out, &err), 0);
    assert_non_null(strstr(out, "usage: aria-core config check FILE"));
    free(out), free(err);
    assert_int_equal(run_config((const char *[]){"check", "--help", NULL}, &out, &err), 0);
    assert_non_null(strstr(out, "usage:"));
    free(out), free(err);
    assert_int_equal(run_config((const char *[]){NULL}, &out, &err), 2);
    assert_string_equal(err, "aria-core config: which subcommand? (check FILE; see --help)\n");
    free(out), free(err);
    assert_int_equal(run_config((const char *[]){"check", NULL}, &out, &err), 2);
    assert_string_equal(err, "aria-core config check: which FILE? (see --help)\n");
    free(out), free(err);
    assert_int_equal(run_config((const char *[]){"lint", "x", NULL}, &out, &err), 2);
    assert_string_equal(err, "aria-core config: unknown subcommand 'lint' (see --help)\n");
    free(out), free(err);

    const char *bad = "[node]\nthreads = 4\n[consent]\ncpu_percent = 150\n[x]\n";
    write_file(path, bad, strlen(bad));
    assert_int_equal(run_config((const char *[]){"check", path, NULL}, &out, &err), 1);
    char want[512];
    snprintf(want, sizeof want,
             "%s:4: [consent] cpu_percent: '150' is out of range 1..100\n"
             "%s:5: unknown section [x]\n",
             path, path);
    assert_string_equal(err, want);
    assert_string_equal(out, "");
    free(out), free(err);

    const char *shipped = ARIA_SOURCE_DIR "/conf/aria.ini";
    assert_int_equal(run_config((const char *[]){"check", shipped, NULL}, &out, &err), 0);
    assert_string_equal(err, "");
    assert_non_null(strstr(out, "\n[consent]\n"));
    write_file(path, out, strlen(out)); /* what it prints is a valid aria.ini */
    ari_config *c = ari_config_new();
    assert_int_equal(ari_config_load(c, path), ARIA_OK);
    ari_config_free(c);
    free(out), free(err);
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
        cmocka_unit_test_setup_teardown(test_long_lines, setup, teardown),
        cmocka_unit_test_setup_teardown(test_garbage, setup, teardown),
        cmocka_unit_test_setup_teardown(test_overrides, setup, teardown),
        cmocka_unit_test_setup_teardown(test_plugin_schema, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shipped_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dump_roundtrip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cmd_config, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
