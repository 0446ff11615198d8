/* test_loader.c — the loader against real good and bad plugins (built by
 * tests/plugins), the registry's kernel choice, and the example plugin. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "cpu.h"
#include "host.h"
#include "loader.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TP ARIA_TEST_PLUGIN_DIR

typedef struct fixture {
    ari_config *cfg;
    ari_registry reg;
    aria_cpu_info cpu;
    aria_host host;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    f->cfg = ari_config_new();
    ari_registry_init(&f->reg);
    ari_cpu_detect(NULL, &f->cpu);
    ari_host_init(&f->host, f->cfg, &f->reg, &f->cpu, "/tmp", 1);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    ari_registry_fini(&f->reg);
    ari_config_free(f->cfg);
    free(f);
    return 0;
}

static aria_err load(fixture *f, const char *path, aria_msg *why)
{
    memset(why, 0, sizeof *why);
    return ari_load_file(&f->reg, path, &f->host, f->cfg, why);
}

#define assert_msg(why, want)                                                  \
    do {                                                                       \
        if (!strstr((why).text, (want)))                                       \
            fail_msg("message '%s' lacks '%s'", (why).text, (want));           \
    } while (0)

static void test_good_kernel_loads(void **state)
{
    fixture *f = *state;
    aria_msg why;
    assert_int_equal(load(f, TP "/good/kernel-fast.so", &why), ARIA_OK);
    assert_int_equal(f->reg.n_plugins, 1);
    const ari_iface *k = ari_registry_iface(&f->reg, ARIA_IFACE_KERNEL, 0);
    assert_non_null(k);
    assert_int_equal(k->score, 20);
    assert_string_equal(k->plugin->desc->name, "k-fast");
    assert_null(ari_registry_iface(&f->reg, ARIA_IFACE_KERNEL, 1));
    assert_null(ari_registry_iface(&f->reg, ARIA_IFACE_BACKEND, 0));
}

static void test_bad_abi(void **state)
{
    fixture *f = *state;
    aria_msg why;
    assert_int_equal(load(f, TP "/bad/bad-abi.so", &why), ARIA_ERR_ABI);
    char want[96];
    snprintf(want, sizeof want, "built for plugin ABI %d.%d, this node speaks %d.%d",
             ARIA_ABI_MAJOR + 98, ARIA_ABI_MINOR, ARIA_ABI_MAJOR, ARIA_ABI_MINOR);
    assert_string_equal(why.text, want);
    assert_int_equal(f->reg.n_plugins, 0);
}

static void test_no_entry(void **state)
{
    fixture *f = *state;
    aria_msg why;
    assert_int_equal(load(f, TP "/bad/no-entry.so", &why), ARIA_ERR_NOT_FOUND);
    assert_string_equal(why.text, "no aria_plugin_entry symbol: not an ARIA plugin");
}

static void test_init_fails(void **state)
{
    fixture *f = *state;
    aria_msg why;
    assert_int_equal(load(f, TP "/bad/init-fails.so", &why), ARIA_ERR_UNAVAILABLE);
    assert_string_equal(why.text, "init of 'init-fails' failed: device /dev/test0 not present");
    assert_int_equal(f->reg.n_plugins, 0);
}

static void test_missing_slot(void **state)
{
    fixture *f = *state;
    aria_msg why;
    assert_int_equal(load(f, TP "/bad/missing-slot.so", &why), ARIA_ERR_INVALID);
    assert_string_equal(why.text, "kernel interface: required slot 'quantize_row' is NULL");
}

static void test_small_vtable(void **state)
{
    fixture *f = *state;
    aria_msg why;
    assert_int_equal(load(f, TP "/bad/small-vtable.so", &why), ARIA_ERR_ABI);
    char want[96];
    snprintf(want, sizeof want, "detector vtable is 8 bytes, version 1 needs %zu",
             sizeof(aria_detector_vt));
    assert_string_equal(why.text, want);
}

static void test_duplicate(void **state)
{
    fixture *f = *state;
    aria_msg why;
    assert_int_equal(load(f, TP "/good/kernel-scalar.so", &why), ARIA_OK);
    assert_int_equal(load(f, TP "/more/dup.so", &why), ARIA_ERR_EXISTS);
    assert_string_equal(why.text, "duplicate plugin name 'k-scalar' (already loaded from "
                                  TP "/good/kernel-scalar.so)");
    assert_int_equal(f->reg.n_plugins, 1);
}

/* Writes n bytes of src (or text when src is NULL) to a temp .so. */
static void write_file(const char *path, const char *src, size_t n, const char *text)
{
    FILE *o = fopen(path, "wb");
    assert_non_null(o);
    if (src) {
        FILE *i = fopen(src, "rb");
        assert_non_null(i);
        char *buf = malloc(n);
        assert_int_equal(fread(buf, 1, n, i), n);
        fwrite(buf, 1, n, o);
        free(buf);
        fclose(i);
    } else {
        fputs(text, o);
    }
    fclose(o);
}

static void test_truncated_and_junk(void **state)
{
    fixture *f = *state;
    char dir[] = "/tmp/aria-loader-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char trunc[128], junk[128];
    snprintf(trunc, sizeof trunc, "%s/truncated.so", dir);
    snprintf(junk, sizeof junk, "%s/junk.so", dir);
    write_file(trunc, TP "/good/kernel-scalar.so", 300, NULL);
    write_file(junk, NULL, 0, "this is not an ELF file\n");
    aria_msg why;
    assert_int_equal(load(f, trunc, &why), ARIA_ERR_FORMAT);
    assert_msg(why, "not a loadable shared object: ");
    assert_null(strstr(why.text, dir)); /* the reason, not the path again */
    assert_int_equal(load(f, junk, &why), ARIA_ERR_FORMAT);
    assert_msg(why, "not a loadable shared object: ");
    assert_int_equal(f->reg.n_plugins, 0);
    unlink(trunc);
    unlink(junk);
    rmdir(dir);
}

static void test_disabled_by_config(void **state)
{
    fixture *f = *state;
    aria_msg why = {{0}};
    assert_int_equal(ari_config_set(f->cfg, "plugins", "disable", "k-fast, other", &why), ARIA_OK);
    assert_int_equal(load(f, TP "/good/kernel-fast.so", &why), ARIA_ERR_PERMISSION);
    assert_string_equal(why.text, "plugin 'k-fast' is disabled by aria.ini [plugins]");
    assert_int_equal(load(f, TP "/good/kernel-scalar.so", &why), ARIA_OK);
    assert_int_equal(ari_config_set(f->cfg, "plugins", "disable", "", &why), ARIA_OK);
    assert_int_equal(ari_config_set(f->cfg, "plugins", "enable", "k-never", &why), ARIA_OK);
    assert_int_equal(load(f, TP "/good/kernel-fast.so", &why), ARIA_ERR_PERMISSION);
    assert_int_equal(load(f, TP "/good/kernel-never.so", &why), ARIA_OK);
}

/* The whole tree: every good plugin loads, every bad one is skipped with its
 * reason recorded, and the scan goes on past each. */
static void test_load_dir(void **state)
{
    fixture *f = *state;
    aria_msg why = {{0}};
    int n = ari_load_dir(&f->reg, TP, &f->host, f->cfg, &why);
    assert_int_equal(n, 3);
    assert_int_equal(f->reg.n_plugins, 3);
    assert_int_equal(f->reg.n_skipped, 6);
    const char *bad[] = {"bad-abi.so", "init-fails.so", "missing-slot.so", "no-entry.so",
                         "small-vtable.so", "dup.so"};
    for (size_t i = 0; i < 6; i++) {
        const char *p = f->reg.skipped[i].path;
        size_t lp = strlen(p), lb = strlen(bad[i]);
        assert_true(lp > lb && strcmp(p + lp - lb, bad[i]) == 0);
        assert_true(strlen(f->reg.skipped[i].reason) > 10);
    }
    assert_int_equal(ari_load_dir(&f->reg, TP "/does-not-exist", &f->host, f->cfg, &why), -1);
    assert_msg(why, "does-not-exist: No such file or directory");
}

static void test_kernel_pick(void **state)
{
    fixture *f = *state;
    aria_msg why = {{0}};
    assert_int_equal(ari_load_dir(&f->reg, TP "/good", &f->host, f->cfg, &why), 3);
    const ari_iface *k = ari_kernel_pick(&f->reg, "test", NULL, &why);
    assert_string_equal(((const aria_kernel_vt *)k->vt)->isa, "fast");
    assert_string_equal(why.text, "");
    k = ari_kernel_pick(&f->reg, "test", "auto", &why);
    assert_string_equal(((const aria_kernel_vt *)k->vt)->isa, "fast");
    k = ari_kernel_pick(&f->reg, "test", "scalar", &why);
    assert_string_equal(((const aria_kernel_vt *)k->vt)->isa, "scalar");
    assert_string_equal(why.text, "");
    k = ari_kernel_pick(&f->reg, "test", "never", &why);
    assert_string_equal(((const aria_kernel_vt *)k->vt)->isa, "fast");
    assert_string_equal(why.text,
                        "[kernels] test = never: that variant cannot run on this CPU; using fast");
    k = ari_kernel_pick(&f->reg, "test", "avx9000", &why);
    assert_string_equal(((const aria_kernel_vt *)k->vt)->isa, "fast");
    assert_string_equal(why.text, "[kernels] test = avx9000: no such variant loaded "
                                  "(have: fast, never, scalar); using fast");
    assert_null(ari_kernel_pick(&f->reg, "other-family", NULL, &why));

    /* The selection the host hands to backends, and a real call through it. */
    ari_registry_select_kernels(&f->reg, NULL);
    const aria_kernel_vt *vt = f->host.kernels("test");
    assert_non_null(vt);
    assert_string_equal(vt->isa, "fast");
    assert_null(f->host.kernels("gguf"));
    float w[2][4] = {{1, 2, 3, 4}, {-1, 0.5f, 0, 2}}, x[4] = {1, 1, 2, -1}, y[2] = {0};
    aria_mm m = {.wtype = ARIA_T_F32, .k = 4, .w = w, .w_stride = sizeof w[0], .r0 = 0,
                 .r1 = 2, .n = 1, .x = x, .x_stride = sizeof x, .y = y, .y_stride = 2,
                 .scale = 2};
    vt->matmul(&m);
    assert_float_equal(y[0], 2 * (1 + 2 + 6 - 4), 1e-6);
    assert_float_equal(y[1], 2 * (-1 + 0.5 + 0 - 2), 1e-6);
}

static const char *override_scalar(const char *family)
{
    return strcmp(family, "test") == 0 ? "scalar" : NULL;
}

static void test_select_with_override(void **state)
{
    fixture *f = *state;
    aria_msg why = {{0}};
    assert_int_equal(ari_load_dir(&f->reg, TP "/good", &f->host, f->cfg, &why), 3);
    ari_registry_select_kernels(&f->reg, override_scalar);
    assert_int_equal(f->reg.n_sel, 1);
    assert_string_equal(f->host.kernels("test")->isa, "scalar");
    assert_string_equal(f->reg.sel[0].how, "named in aria.ini [kernels] test");
}

static void test_example_plugin(void **state)
{
    fixture *f = *state;
    aria_msg why;
    assert_int_equal(load(f, ARIA_PLUGIN_DIR "/hello-backend.so", &why), ARIA_OK);
    assert_string_equal(ari_config_get(f->cfg, "plugin.hello-backend", "greeting"), "hello");
    const ari_iface *b = ari_registry_iface(&f->reg, ARIA_IFACE_BACKEND, 0);
    assert_non_null(b);
    const aria_backend_vt *vt = b->vt;
    aria_probe pr = {.hdr = {sizeof pr, 1}, .score = 99};
    assert_int_equal(vt->probe(b->plugin->ctx, ARIA_SHARED_DIR "/models/stories260K.gguf", &pr,
                               &why), ARIA_OK);
    assert_int_equal(pr.score, 0);
    assert_string_equal(why.text, "hello-backend reads GGUF v3 headers only; it runs no model");
    assert_int_equal(vt->probe(b->plugin->ctx, ARIA_SOURCE_DIR "/README.md", &pr, &why),
                     ARIA_ERR_FORMAT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_good_kernel_loads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_abi, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_entry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_init_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_slot, setup, teardown),
        cmocka_unit_test_setup_teardown(test_small_vtable, setup, teardown),
        cmocka_unit_test_setup_teardown(test_duplicate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncated_and_junk, setup, teardown),
        cmocka_unit_test_setup_teardown(test_disabled_by_config, setup, teardown),
        cmocka_unit_test_setup_teardown(test_load_dir, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kernel_pick, setup, teardown),
        cmocka_unit_test_setup_teardown(test_select_with_override, setup, teardown),
        cmocka_unit_test_setup_teardown(test_example_plugin, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
