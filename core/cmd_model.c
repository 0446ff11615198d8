/* cmd_model.c — `aria-core model list|info|download|import|remove`: the
 * catalog, the installed models (files in the models directory) and what a
 * GGUF file holds. */
#include "catalog.h"
#include "cmds.h"
#include "download.h"
#include "models.h"
#include "router.h"

#include <aria/gguf.h>
#include <aria/llm.h>

#include <jansson.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char model_usage[] =
    "usage: aria-core model list [--json]\n"
    "       aria-core model info FILE|ID\n"
    "       aria-core model download ID|URL [--sha256 HEX] [--size BYTES] [--as NAME.gguf]\n"
    "       aria-core model import FILE [--as NAME.gguf]\n"
    "       aria-core model remove NAME|ID\n"
    "\n"
    "list      the catalog ([models] catalog, else the built-in one) and the\n"
    "          models installed in the models directory ([models] dir, else\n"
    "          DATA_DIR/models); the node serves every installed model\n"
    "info      a GGUF file's architecture, shapes, types, vocabulary, template,\n"
    "          size and backend; or a catalog entry and where it is installed\n"
    "download  fetch a catalog model (or any URL) over HTTPS: resumable (run it\n"
    "          again after an interruption), with a progress bar, size and\n"
    "          SHA-256 checked, validated as GGUF, and moved into place only\n"
    "          when whole\n"
    "import    validate a local GGUF file and copy it into the models directory\n"
    "remove    delete an installed model\n";

/* The models directory; created (with the data directory) when create. */
static int models_dir_mk(const ari_ctx *c, char *out, size_t cap, int create)
{
    ari_models_dir(c, out, cap);
    if (create && mkdir(out, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "aria-core model: %s: %s\n", out, strerror(errno));
        return -1;
    }
    return 0;
}

#define models_dir(c, out, cap) models_dir_mk(c, out, cap, 0)

static int load_catalog(const ari_ctx *c, ari_catalog *cat)
{
    aria_msg why = {{0}};
    if (ari_catalog_load(ari_config_get(c->cfg, "models", "catalog"), cat, &why) != ARIA_OK) {
        fprintf(stderr, "aria-core model: %s\n", why.text);
        return -1;
    }
    return 0;
}

/* A file name that stays inside the models directory. */
static int plain_name(const char *n)
{
    size_t l = strlen(n);
    return l > 5 && l < 200 && !strchr(n, '/') && n[0] != '.' && !strcmp(n + l - 5, ".gguf");
}

static void show_str(const aria_gguf *g, const char *label, const char *key)
{
    aria_gguf_str s;
    if (aria_gguf_get_str(g, key, &s) == ARIA_OK)
        printf("%-13s%.*s\n", label, (int)(s.len > 200 ? 200 : s.len), s.ptr);
}

static int info(const char *path, const ari_opts *o)
{
    aria_gguf *g;
    aria_msg why = {{0}};
    if (aria_gguf_open(path, &g, &why) != ARIA_OK) {
        fprintf(stderr, "aria-core model info: %s\n", why.text);
        return 1;
    }
    printf("%-13s%s (%.1f MiB, GGUF v%u)\n", "file", path, g->file_size / 1048576.0, g->version);
    show_str(g, "name", "general.name");
    aria_llm_hparams hp;
    aria_msg hwhy = {{0}};
    if (aria_llm_hparams_read(g, &hp, &hwhy) == ARIA_OK) {
        printf("%-13s%s\n", "architecture", hp.arch);
        printf("%-13s%u layers, embedding %u, feed-forward %u, %u heads (%u KV), head size %u\n",
               "shape", hp.n_layer, hp.n_embd, hp.n_ff, hp.n_head, hp.n_head_kv, hp.head_dim);
        printf("%-13s%u tokens trained\n", "context", hp.n_ctx_train);
        printf("%-13s%s, %u dims, base %g, position scale %g\n", "rope",
               hp.rope_kind == ARIA_ROPE_NEOX ? "neox" : "normal", hp.n_rot, hp.rope_base,
               hp.rope_freq_scale);
    } else {
        show_str(g, "architecture", "general.architecture");
        printf("%-13s%s\n", "runnable", hwhy.text);
    }
    const aria_gguf_kv *tk = aria_gguf_find(g, "tokenizer.ggml.tokens");
    aria_gguf_str tm = {"", 0}, pre = {"", 0};
    aria_gguf_get_str(g, "tokenizer.ggml.model", &tm);
    aria_gguf_get_str(g, "tokenizer.ggml.pre", &pre);
    uint32_t bos = 0, eos = 0;
    int hb = aria_gguf_get_u32(g, "tokenizer.ggml.bos_token_id", &bos) == ARIA_OK;
    int he = aria_gguf_get_u32(g, "tokenizer.ggml.eos_token_id", &eos) == ARIA_OK;
    if (tk)
        printf("%-13s%llu tokens, %.*s%s%.*s, BOS %s%u, EOS %s%u\n", "vocabulary",
               (unsigned long long)tk->arr_n, (int)tm.len, tm.ptr, pre.len ? " / " : "",
               (int)pre.len, pre.ptr, hb ? "" : "none ", bos, he ? "" : "none ", eos);
    aria_gguf_str tpl;
    if (aria_gguf_get_str(g, "tokenizer.chat_template", &tpl) == ARIA_OK)
        printf("%-13s%llu characters\n", "chat template", (unsigned long long)tpl.len);
    else
        printf("%-13snone\n", "chat template");
    uint64_t count[64] = {0}, bytes[64] = {0}, params = 0, total = 0;
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        const aria_gguf_tensor *t = &g->tensors[i];
        uint32_t k = t->type == ARIA_T_I2_S ? 36 : t->type % 64;
        count[k]++;
        bytes[k] += t->nbytes;
        params += t->n_elements;
        total += t->nbytes;
    }
    printf("%-13s%llu (%.1f M parameters, %.1f MiB):", "tensors", (unsigned long long)g->n_tensors,
           params / 1e6, total / 1048576.0);
    for (uint32_t k = 0; k < 64; k++)
        if (count[k])
            printf(" %s x%llu", aria_type_info_get(k == 36 ? ARIA_T_I2_S : k)->name,
                   (unsigned long long)count[k]);
    printf("\n");
    aria_gguf_close(g);

    ari_ctx c;
    if (ari_ctx_open(&c, o, ARI_CTX_PLUGINS | ARI_CTX_QUIET) == 0) {
        const ari_iface *f;
        aria_probe pr;
        if (ari_model_pick(&c.reg, path, &f, &pr, &why) == ARIA_OK)
            printf("%-13s%s (score %u)\n", "backend", ((const aria_backend_vt *)f->vt)->name,
                   pr.score);
        else
            printf("%-13snone: %s\n", "backend", why.text);
    }
    ari_ctx_close(&c);
    return 0;
}

/* The catalog and the installed models, as one JSON document (what --json
 * prints; the table is drawn from it). */
static json_t *inventory(const char *dir, const ari_catalog *cat)
{
    json_t *catalog = json_array(), *installed = json_array();
    for (size_t i = 0; i < cat->n; i++) {
        const ari_catalog_entry *e = &cat->e[i];
        char p[4500];
        struct stat st;
        snprintf(p, sizeof p, "%s/%s.gguf", dir, e->id);
        json_array_append_new(catalog, json_pack("{s:s,s:s,s:f,s:s,s:s,s:b}", "id", e->id, "tier",
                                                 ari_tier_name(e->tier), "params_b", e->params_b,
                                                 "license", e->license, "repo", e->repo,
                                                 "installed", stat(p, &st) == 0));
    }
    DIR *d = opendir(dir);
    struct dirent *de;
    while (d && (de = readdir(d))) {
        char p[4500];
        struct stat st;
        snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
        if (plain_name(de->d_name) && stat(p, &st) == 0)
            json_array_append_new(installed, json_pack("{s:s,s:I}", "file", de->d_name, "bytes",
                                                       (json_int_t)st.st_size));
    }
    if (d)
        closedir(d);
    return json_pack("{s:s,s:o,s:o}", "models_dir", dir, "catalog", catalog, "installed",
                     installed);
}

static int list(const ari_opts *o, int json)
{
    ari_ctx c;
    int rc = ari_ctx_open(&c, o, ARI_CTX_QUIET);
    if (rc)
        return rc;
    char dir[4200];
    ari_catalog cat;
    if (models_dir(&c, dir, sizeof dir) || load_catalog(&c, &cat)) {
        ari_ctx_close(&c);
        return 1;
    }
    json_t *inv = inventory(dir, &cat);
    ari_catalog_free(&cat);
    ari_ctx_close(&c);
    if (!inv)
        return 1;
    if (json) {
        json_dumpf(inv, stdout, JSON_INDENT(1));
        putchar('\n');
        json_decref(inv);
        return 0;
    }
    printf("%-30s %-10s %7s %-14s %-9s %s\n", "ID", "TIER", "PARAMS", "LICENSE", "INSTALLED",
           "SOURCE");
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(inv, "catalog"), i, e)
    {
        printf("%-30s %-10s %6.2fB %-14s %-9s %s\n", json_string_value(json_object_get(e, "id")),
               json_string_value(json_object_get(e, "tier")),
               json_real_value(json_object_get(e, "params_b")),
               json_string_value(json_object_get(e, "license")),
               json_is_true(json_object_get(e, "installed")) ? "yes" : "-",
               json_string_value(json_object_get(e, "repo")));
    }
    printf("\ninstalled in %s:\n", dir);
    json_t *installed = json_object_get(inv, "installed");
    json_array_foreach(installed, i, e)
    {
        printf("  %-40s %10.1f MiB\n", json_string_value(json_object_get(e, "file")),
               (double)json_integer_value(json_object_get(e, "bytes")) / 1048576.0);
    }
    if (!json_array_size(installed))
        printf("  (none: aria-core model download ID, or model import FILE)\n");
    json_decref(inv);
    return 0;
}

/* Checks that path is a GGUF file some backend can serve. */
static int validate(const ari_ctx *c, const char *path, char *err, size_t cap)
{
    aria_gguf *g;
    aria_msg why = {{0}};
    if (aria_gguf_open(path, &g, &why) != ARIA_OK) {
        snprintf(err, cap, "not a valid GGUF file: %s", why.text);
        return -1;
    }
    aria_gguf_close(g);
    const ari_iface *f;
    aria_probe pr;
    if (c->reg.n_plugins && ari_model_pick(&c->reg, path, &f, &pr, &why) != ARIA_OK) {
        snprintf(err, cap, "%s", why.text);
        return -1;
    }
    return 0;
}

static int download(int argc, char **argv, const ari_opts *o)
{
    const char *what = NULL, *sha = NULL, *as = NULL;
    uint64_t size = 0;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--sha256") && i + 1 < argc)
            sha = argv[++i];
        else if (!strcmp(argv[i], "--size") && i + 1 < argc)
            size = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--as") && i + 1 < argc)
            as = argv[++i];
        else if (argv[i][0] == '-' || what) {
            fprintf(stderr, "aria-core model download: unexpected '%s' (see --help)\n", argv[i]);
            return 2;
        } else
            what = argv[i];
    }
    if (!what) {
        fprintf(stderr, "aria-core model download: which model? (an ID from `model list`, or a "
                        "URL)\n");
        return 2;
    }
    if (sha && strspn(sha, "0123456789abcdef") != 64) {
        fprintf(stderr, "aria-core model download: --sha256 wants 64 lowercase hex digits\n");
        return 2;
    }
    ari_ctx c;
    int rc = ari_ctx_open(&c, o, ARI_CTX_QUIET | ARI_CTX_PLUGINS | ARI_CTX_DATA_DIR);
    if (rc)
        return rc;
    char dir[4200], name[256], url[600];
    ari_catalog cat = {0};
    if (models_dir_mk(&c, dir, sizeof dir, 1) || load_catalog(&c, &cat)) {
        ari_ctx_close(&c);
        return 1;
    }
    const ari_catalog_entry *e = ari_catalog_find(&cat, what);
    if (e) {
        snprintf(url, sizeof url, "%s", e->url);
        snprintf(name, sizeof name, "%s.gguf", e->id);
        if (!sha && e->sha256[0])
            sha = e->sha256;
        if (!size)
            size = e->size;
    } else if (!strncmp(what, "http://", 7) || !strncmp(what, "https://", 8)) {
        snprintf(url, sizeof url, "%s", what);
        const char *b = strrchr(what, '/');
        snprintf(name, sizeof name, "%.*s", (int)strcspn(b + 1, "?#"), b + 1);
    } else {
        fprintf(stderr, "aria-core model download: '%s' is neither a catalog ID (see `aria-core "
                        "model list`) nor a URL\n", what);
        ari_catalog_free(&cat);
        ari_ctx_close(&c);
        return 2;
    }
    if (as)
        snprintf(name, sizeof name, "%s", as);
    if (!plain_name(name)) {
        fprintf(stderr, "aria-core model download: '%s' is not a plain NAME.gguf file name (use "
                        "--as NAME.gguf)\n", name);
        ari_catalog_free(&cat);
        ari_ctx_close(&c);
        return 2;
    }
    char dest[4500], tmp[4600];
    snprintf(dest, sizeof dest, "%s/%s", dir, name);
    snprintf(tmp, sizeof tmp, "%s.verify", dest);
    struct stat st;
    if (stat(dest, &st) == 0) {
        fprintf(stderr, "aria-core model download: %s is already installed (model remove %s "
                        "first)\n", dest, name);
        ari_catalog_free(&cat);
        ari_ctx_close(&c);
        return 1;
    }
    fprintf(stderr, "downloading %s\n  to %s\n", url, dest);
    ari_download d = {.url = url, .dest = tmp, .size = size, .sha256 = sha, .progress = stderr};
    aria_msg why = {{0}};
    rc = 0;
    if (ari_download_run(&d, &why) != ARIA_OK) {
        fprintf(stderr, "aria-core model download: %s\n", why.text);
        rc = 1;
    } else {
        char err[1200];
        if (validate(&c, tmp, err, sizeof err) != 0) {
            fprintf(stderr, "aria-core model download: %s: %s; removed\n", url, err);
            unlink(tmp);
            rc = 1;
        } else if (rename(tmp, dest) != 0) {
            fprintf(stderr, "aria-core model download: %s: %s\n", dest, strerror(errno));
            rc = 1;
        } else {
            printf("%s: %.1f MiB%s, sha256 %s%s\n", dest, (double)d.bytes / 1048576.0,
                   d.resumed_from ? " (resumed)" : "", d.sha256_out,
                   sha ? " (verified)" : " (not published: recorded here)");
        }
    }
    ari_catalog_free(&cat);
    ari_ctx_close(&c);
    return rc;
}

static int import(int argc, char **argv, const ari_opts *o)
{
    const char *file = NULL, *as = NULL;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--as") && i + 1 < argc)
            as = argv[++i];
        else if (argv[i][0] == '-' || file) {
            fprintf(stderr, "aria-core model import: unexpected '%s' (see --help)\n", argv[i]);
            return 2;
        } else
            file = argv[i];
    }
    if (!file) {
        fprintf(stderr, "aria-core model import: which FILE?\n");
        return 2;
    }
    const char *b = strrchr(file, '/');
    char name[256];
    snprintf(name, sizeof name, "%s", as ? as : b ? b + 1 : file);
    if (!plain_name(name)) {
        fprintf(stderr, "aria-core model import: '%s' is not a plain NAME.gguf file name (use "
                        "--as NAME.gguf)\n", name);
        return 2;
    }
    ari_ctx c;
    int rc = ari_ctx_open(&c, o, ARI_CTX_QUIET | ARI_CTX_PLUGINS | ARI_CTX_DATA_DIR);
    if (rc)
        return rc;
    char dir[4200], err[1200];
    if (models_dir_mk(&c, dir, sizeof dir, 1)) {
        ari_ctx_close(&c);
        return 1;
    }
    if (validate(&c, file, err, sizeof err) != 0) {
        fprintf(stderr, "aria-core model import: %s: %s\n", file, err);
        ari_ctx_close(&c);
        return 1;
    }
    char dest[4500], tmp[4600];
    snprintf(dest, sizeof dest, "%s/%s", dir, name);
    snprintf(tmp, sizeof tmp, "%s.import", dest);
    struct stat st;
    if (stat(dest, &st) == 0) {
        fprintf(stderr, "aria-core model import: %s is already installed\n", dest);
        ari_ctx_close(&c);
        return 1;
    }
    /* copy to a temporary name, then rename: never a half-copied model */
    FILE *in = fopen(file, "rb"), *out = in ? fopen(tmp, "wb") : NULL;
    char *buf = malloc(1 << 20);
    size_t n;
    int ok = in && out && buf;
    while (ok && (n = fread(buf, 1, 1 << 20, in)) > 0)
        ok = fwrite(buf, 1, n, out) == n;
    ok = ok && !ferror(in) && fflush(out) == 0 && fsync(fileno(out)) == 0;
    free(buf);
    if (in)
        fclose(in);
    if (out)
        fclose(out);
    if (!ok || rename(tmp, dest) != 0) {
        fprintf(stderr, "aria-core model import: copying to %s: %s\n", dest, strerror(errno));
        unlink(tmp);
        ari_ctx_close(&c);
        return 1;
    }
    char hex[65];
    aria_msg why = {{0}};
    if (ari_sha256_file(dest, hex, &why) != ARIA_OK)
        snprintf(hex, sizeof hex, "?");
    printf("%s: imported from %s, sha256 %s\n", dest, file, hex);
    ari_ctx_close(&c);
    return 0;
}

static int remove_model(int argc, char **argv, const ari_opts *o)
{
    if (argc != 3) {
        fprintf(stderr, "aria-core model remove: give one NAME or ID (see `model list`)\n");
        return 2;
    }
    char name[256];
    snprintf(name, sizeof name, "%s%s", argv[2], plain_name(argv[2]) ? "" : ".gguf");
    if (!plain_name(name)) {
        fprintf(stderr, "aria-core model remove: '%s' is not a model name\n", argv[2]);
        return 2;
    }
    ari_ctx c;
    int rc = ari_ctx_open(&c, o, ARI_CTX_QUIET);
    if (rc)
        return rc;
    char dir[4200], p[4500], part[4600];
    if (models_dir(&c, dir, sizeof dir)) {
        ari_ctx_close(&c);
        return 1;
    }
    snprintf(p, sizeof p, "%s/%s", dir, name);
    snprintf(part, sizeof part, "%s.verify.part", p);
    unlink(part); /* an unfinished download of it, too */
    if (unlink(p) != 0) {
        fprintf(stderr, "aria-core model remove: %s: %s\n", p, strerror(errno));
        ari_ctx_close(&c);
        return 1;
    }
    printf("removed %s\n", p);
    ari_ctx_close(&c);
    return 0;
}

int ari_cmd_model(int argc, char **argv, const ari_opts *o)
{
    for (int i = 2; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(model_usage, stdout);
            return 0;
        }
    if (argc >= 2 && !strcmp(argv[1], "list"))
        return list(o, argc == 3 && !strcmp(argv[2], "--json"));
    if (argc >= 2 && !strcmp(argv[1], "download"))
        return download(argc, argv, o);
    if (argc >= 2 && !strcmp(argv[1], "import"))
        return import(argc, argv, o);
    if (argc >= 2 && !strcmp(argv[1], "remove"))
        return remove_model(argc, argv, o);
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        fputs(model_usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "info")) {
        if (argc == 3 && (!strcmp(argv[2], "--help") || !strcmp(argv[2], "-h"))) {
            fputs(model_usage, stdout);
            return 0;
        }
        if (argc != 3) {
            fprintf(stderr, "aria-core model info: give exactly one FILE or ID (see --help)\n");
            return 2;
        }
        struct stat st;
        if (stat(argv[2], &st) != 0) { /* not a file: a catalog ID? */
            ari_ctx c;
            int rc = ari_ctx_open(&c, o, ARI_CTX_QUIET);
            if (rc)
                return rc;
            ari_catalog cat;
            char dir[4200];
            if (models_dir(&c, dir, sizeof dir) || load_catalog(&c, &cat)) {
                ari_ctx_close(&c);
                return 1;
            }
            const ari_catalog_entry *e = ari_catalog_find(&cat, argv[2]);
            if (e) {
                char p[4500];
                snprintf(p, sizeof p, "%s/%s.gguf", dir, e->id);
                printf("%-13s%s\n%-13s%s\n%-13s%.2fB parameters\n%-13s%s\n%-13s%s\n%-13s%s\n",
                       "id", e->id, "tier", ari_tier_name(e->tier), "size", e->params_b, "license",
                       e->license, "source", e->repo, "url", e->url);
                printf("%-13s%s\n%-13s%s\n", "sha256", e->sha256[0] ? e->sha256 : "not published",
                       "installed", stat(p, &st) == 0 ? p : "no");
                if (e->note[0])
                    printf("%-13s%s\n", "note", e->note);
            } else {
                fprintf(stderr, "aria-core model info: %s: no such file, and no catalog entry of "
                                "that name\n", argv[2]);
            }
            ari_catalog_free(&cat);
            ari_ctx_close(&c);
            return e ? 0 : 1;
        }
        return info(argv[2], o);
    }
    fprintf(stderr, "aria-core model: unknown subcommand '%s' (see --help)\n", argv[1]);
    return 2;
}
