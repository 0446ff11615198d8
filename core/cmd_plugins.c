/* cmd_plugins.c — `aria-core plugins`: what loaded, what each provides, the
 * kernel variants with their scores and the selected one, and what was
 * skipped and why. */
#include "cmds.h"
#include "node.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

static const char plugins_usage[] =
    "usage: aria-core plugins [--plugins DIR] [--config FILE] [--json]\n"
    "\n"
    "Loads the plugins as a node would and lists them: each plugin with its\n"
    "version, interfaces and file; the kernel variants with their score on this\n"
    "CPU and the one selected per family; and every file that was skipped, with\n"
    "the reason.\n"
    "\n"
    "  --json   one JSON object instead of tables\n";

static void ifaces_text(const ari_registry *reg, const ari_plugin *p, char *buf, size_t cap)
{
    size_t len = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < reg->n_ifaces; i++) {
        const ari_iface *f = &reg->ifaces[i];
        if (f->plugin != p)
            continue;
        char name[96];
        int n = snprintf(buf + len, cap - len, "%s%s:%s", len ? " " : "",
                         ari_iface_kind_name(f->kind), ari_iface_name(f, name, sizeof name));
        if (n < 0 || (size_t)n >= cap - len)
            break;
        len += (size_t)n;
    }
}

static int selected(const ari_registry *reg, const ari_iface *f)
{
    for (size_t j = 0; j < reg->n_sel; j++)
        if (reg->sel[j].iface == f)
            return 1;
    return 0;
}

static int print_json(const ari_ctx *c)
{
    const ari_registry *reg = &c->reg;
    json_t *root = json_object(), *plugins = json_array(), *kernels = json_array(),
           *skipped = json_array();
    for (size_t i = 0; i < reg->n_plugins; i++) {
        const ari_plugin *p = reg->plugins[i];
        json_t *ifs = json_array();
        for (size_t k = 0; k < reg->n_ifaces; k++) {
            const ari_iface *f = &reg->ifaces[k];
            if (f->plugin != p)
                continue;
            char name[96];
            json_array_append_new(ifs, json_pack("{s:s, s:s, s:i}", "kind",
                                                 ari_iface_kind_name(f->kind), "name",
                                                 ari_iface_name(f, name, sizeof name),
                                                 "version", (int)((const aria_vt_hdr *)f->vt)->version));
        }
        json_array_append_new(plugins,
                              json_pack("{s:s, s:s, s:s, s:s, s:o}", "name", p->desc->name,
                                        "version", p->desc->version, "description",
                                        p->desc->description ? p->desc->description : "", "file",
                                        p->path, "interfaces", ifs));
    }
    for (size_t k = 0; k < reg->n_ifaces; k++) {
        const ari_iface *f = &reg->ifaces[k];
        if (f->kind != ARIA_IFACE_KERNEL)
            continue;
        const aria_kernel_vt *vt = f->vt;
        json_array_append_new(kernels, json_pack("{s:s, s:s, s:i, s:b, s:s}", "family", vt->family,
                                                 "variant", vt->isa, "score", f->score,
                                                 "selected", selected(reg, f), "plugin",
                                                 f->plugin->desc->name));
    }
    for (size_t i = 0; i < reg->n_skipped; i++)
        json_array_append_new(skipped, json_pack("{s:s, s:s}", "file", reg->skipped[i].path,
                                                 "reason", reg->skipped[i].reason));
    json_object_set_new(root, "plugin_dir", json_string(c->plugins_dir));
    json_object_set_new(root, "plugins", plugins);
    json_object_set_new(root, "kernels", kernels);
    json_object_set_new(root, "skipped", skipped);
    char *s = json_dumps(root, JSON_INDENT(2));
    json_decref(root);
    if (!s)
        return 1;
    puts(s);
    free(s);
    return 0;
}

int ari_cmd_plugins(int argc, char **argv, const ari_opts *o)
{
    int json = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(plugins_usage, stdout);
            return 0;
        } else if (!strcmp(argv[i], "--json")) {
            json = 1;
        } else {
            fprintf(stderr, "aria-core plugins: unknown argument '%s' (see --help)\n", argv[i]);
            return 2;
        }
    }
    ari_ctx c;
    int rc = ari_ctx_open(&c, o, ARI_CTX_PLUGINS | ARI_CTX_QUIET);
    if (rc != 0) {
        ari_ctx_close(&c);
        return rc;
    }
    const ari_registry *reg = &c.reg;
    if (json) {
        rc = print_json(&c);
        ari_ctx_close(&c);
        return rc;
    }
    printf("plugins from %s\n\n", c.plugins_dir);
    printf("%-20s %-9s %-40s %s\n", "PLUGIN", "VERSION", "INTERFACES", "FILE");
    for (size_t i = 0; i < reg->n_plugins; i++) {
        const ari_plugin *p = reg->plugins[i];
        char ifs[512];
        ifaces_text(reg, p, ifs, sizeof ifs);
        printf("%-20s %-9s %-40s %s\n", p->desc->name, p->desc->version, ifs, p->path);
    }
    int any_kernel = 0;
    for (size_t k = 0; k < reg->n_ifaces; k++) {
        const ari_iface *f = &reg->ifaces[k];
        if (f->kind != ARIA_IFACE_KERNEL)
            continue;
        if (!any_kernel++)
            printf("\n%-10s %-10s %-6s %s\n", "FAMILY", "VARIANT", "SCORE", "SELECTED");
        const aria_kernel_vt *vt = f->vt;
        const char *how = "";
        for (size_t j = 0; j < reg->n_sel; j++)
            if (reg->sel[j].iface == f)
                how = reg->sel[j].how;
        printf("%-10s %-10s %-6d %s%s\n", vt->family, vt->isa, f->score,
               selected(reg, f) ? "yes: " : (f->score ? "" : "cannot run on this CPU"), how);
    }
    if (!any_kernel)
        printf("\nno kernel variants loaded\n");
    if (reg->n_skipped) {
        printf("\nskipped\n");
        for (size_t i = 0; i < reg->n_skipped; i++)
            printf("  %s: %s\n", reg->skipped[i].path, reg->skipped[i].reason);
    }
    ari_ctx_close(&c);
    return 0;
}
