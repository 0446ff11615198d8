/* loader.c — from a directory of .so files to registered interfaces.
 *
 * Each file goes through: dlopen(RTLD_NOW|RTLD_LOCAL) -> entry symbol ->
 * descriptor checks (ABI major, struct size, name, interfaces, required
 * slots) -> aria.ini enable/disable -> plugin config schema -> init ->
 * registry. Any failure closes the library and reports the file and reason;
 * nothing a bad plugin does stops the node from loading the rest. */
#include "loader.h"

#include "log.h"

#include <dlfcn.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* A required slot: where it sits in its vtable, and its name for messages. */
typedef struct slot {
    const char *name;
    size_t off;
} slot;

#define SLOT(T, m) {#m, offsetof(T, m)}

static const slot backend_slots[] = {
    SLOT(aria_backend_vt, name),         SLOT(aria_backend_vt, probe),
    SLOT(aria_backend_vt, load),         SLOT(aria_backend_vt, unload),
    SLOT(aria_backend_vt, model_info),   SLOT(aria_backend_vt, session_new),
    SLOT(aria_backend_vt, session_free), SLOT(aria_backend_vt, session_pos),
    SLOT(aria_backend_vt, session_truncate), SLOT(aria_backend_vt, forward),
};
static const slot transport_slots[] = {
    SLOT(aria_transport_vt, name),      SLOT(aria_transport_vt, schemes),
    SLOT(aria_transport_vt, create),    SLOT(aria_transport_vt, destroy),
    SLOT(aria_transport_vt, listen),    SLOT(aria_transport_vt, bound_url),
    SLOT(aria_transport_vt, dial),      SLOT(aria_transport_vt, close_url),
    SLOT(aria_transport_vt, send),      SLOT(aria_transport_vt, close),
    SLOT(aria_transport_vt, conn_info), SLOT(aria_transport_vt, set_user),
    SLOT(aria_transport_vt, get_user),
};
static const slot ledger_slots[] = {
    SLOT(aria_ledger_vt, name),    SLOT(aria_ledger_vt, open),
    SLOT(aria_ledger_vt, close),   SLOT(aria_ledger_vt, append),
    SLOT(aria_ledger_vt, get),     SLOT(aria_ledger_vt, iterate),
    SLOT(aria_ledger_vt, seal),    SLOT(aria_ledger_vt, get_block),
    SLOT(aria_ledger_vt, verify),
};
static const slot detector_slots[] = {
    SLOT(aria_detector_vt, name),
    SLOT(aria_detector_vt, detect),
};
static const slot kernel_slots[] = {
    SLOT(aria_kernel_vt, family),       SLOT(aria_kernel_vt, isa),
    SLOT(aria_kernel_vt, score),        SLOT(aria_kernel_vt, act_type),
    SLOT(aria_kernel_vt, row_bytes),    SLOT(aria_kernel_vt, quantize_row),
    SLOT(aria_kernel_vt, dequantize_row), SLOT(aria_kernel_vt, matmul),
};

typedef struct kind_rule {
    uint32_t kind;
    const char *name;
    size_t min_size; /* the size of the version-1 vtable */
    const slot *slots;
    size_t n_slots;
} kind_rule;

#define RULE(k, n, T, s) {k, n, sizeof(T), s, sizeof s / sizeof s[0]}

/* min_size is sizeof(T) as of ABI 1.0. When a vtable grows, keep min_size at
 * the end of its version-1 slots so that older plugins still load. */
static const kind_rule kind_rules[] = {
    RULE(ARIA_IFACE_BACKEND, "backend", aria_backend_vt, backend_slots),
    RULE(ARIA_IFACE_TRANSPORT, "transport", aria_transport_vt, transport_slots),
    RULE(ARIA_IFACE_LEDGER, "ledger", aria_ledger_vt, ledger_slots),
    RULE(ARIA_IFACE_DETECTOR, "detector", aria_detector_vt, detector_slots),
    RULE(ARIA_IFACE_KERNEL, "kernel", aria_kernel_vt, kernel_slots),
};

static const kind_rule *rule_for(uint32_t kind)
{
    for (size_t i = 0; i < sizeof kind_rules / sizeof kind_rules[0]; i++)
        if (kind_rules[i].kind == kind)
            return &kind_rules[i];
    return NULL;
}

static int slot_is_null(const void *vt, size_t off)
{
    /* Slots are data or function pointers of the same size; compare bytes. */
    uintptr_t v;
    memcpy(&v, (const char *)vt + off, sizeof v);
    return v == 0;
}

static int valid_name(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++) {
        char c = s[n];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
              c == '-' || c == '.'))
            return 0;
    }
    return n > 0 && n <= 64;
}

/* Checks everything the descriptor promises before any plugin code runs. */
static aria_err check_desc(const aria_plugin_desc *d, const ari_registry *reg,
                           aria_msg *why)
{
    if (d->abi_major != ARIA_ABI_MAJOR)
        return aria_fail(why, ARIA_ERR_ABI,
                         "built for plugin ABI %u.%u, this node speaks %u.%u",
                         d->abi_major, d->abi_minor, ARIA_ABI_MAJOR, ARIA_ABI_MINOR);
    if (d->struct_size < offsetof(aria_plugin_desc, n_cfg_keys))
        return aria_fail(why, ARIA_ERR_ABI,
                         "descriptor is %u bytes, ABI %u needs at least %zu",
                         d->struct_size, ARIA_ABI_MAJOR,
                         offsetof(aria_plugin_desc, n_cfg_keys));
    if (!d->name || !valid_name(d->name))
        return aria_fail(why, ARIA_ERR_INVALID,
                         "invalid plugin name (want 1-64 of [a-z0-9_.-])");
    const ari_plugin *dup = ari_registry_find_plugin(reg, d->name);
    if (dup)
        return aria_fail(why, ARIA_ERR_EXISTS,
                         "duplicate plugin name '%s' (already loaded from %s)",
                         d->name, dup->path);
    if (!d->version || !d->version[0])
        return aria_fail(why, ARIA_ERR_INVALID, "plugin '%s' has no version", d->name);
    if (d->n_interfaces == 0 || d->n_interfaces > 64 || !d->interfaces)
        return aria_fail(why, ARIA_ERR_INVALID,
                         "plugin '%s' lists %zu interfaces (want 1..64)",
                         d->name, d->n_interfaces);
    for (size_t i = 0; i < d->n_interfaces; i++) {
        const aria_interface *in = &d->interfaces[i];
        const kind_rule *r = rule_for(in->kind);
        if (!r)
            return aria_fail(why, ARIA_ERR_UNSUPPORTED,
                             "interface %zu has unknown kind %u", i, in->kind);
        if (!in->vtable)
            return aria_fail(why, ARIA_ERR_INVALID, "%s interface has no vtable", r->name);
        const aria_vt_hdr *h = in->vtable;
        if (h->struct_size < r->min_size)
            return aria_fail(why, ARIA_ERR_ABI,
                             "%s vtable is %u bytes, version 1 needs %zu",
                             r->name, h->struct_size, r->min_size);
        if (h->version < 1)
            return aria_fail(why, ARIA_ERR_ABI, "%s vtable has version 0", r->name);
        for (size_t s = 0; s < r->n_slots; s++)
            if (slot_is_null(in->vtable, r->slots[s].off))
                return aria_fail(why, ARIA_ERR_INVALID,
                                 "%s interface: required slot '%s' is NULL",
                                 r->name, r->slots[s].name);
    }
    if (d->n_cfg_keys && !d->cfg_keys)
        return aria_fail(why, ARIA_ERR_INVALID, "plugin '%s' declares %zu config keys but no table",
                         d->name, d->n_cfg_keys);
    return ARIA_OK;
}

/* [plugins] enable (empty: all) and disable. */
static int enabled_by_config(const ari_config *cfg, const char *name)
{
    if (!cfg)
        return 1;
    if (ari_config_list_has(cfg, "plugins", "disable", name))
        return 0;
    const char *en = ari_config_get(cfg, "plugins", "enable");
    if (en && en[strspn(en, " \t,")])
        return ari_config_list_has(cfg, "plugins", "enable", name);
    return 1;
}

aria_err ari_load_file(ari_registry *reg, const char *path,
                       const aria_host *host, ari_config *cfg, aria_msg *why)
{
    aria_err rc = ARIA_OK;
    ari_plugin *p = NULL;
    void *dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!dl) {
        const char *e = dlerror();
        /* dlerror repeats the path first; keep only the reason. */
        const char *colon = e ? strstr(e, ": ") : NULL;
        if (e && colon && strncmp(e, path, (size_t)(colon - e)) == 0)
            e = colon + 2;
        return aria_fail(why, ARIA_ERR_FORMAT, "not a loadable shared object: %s",
                         e ? e : "unknown dlopen error");
    }
    dlerror();
    void *sym = dlsym(dl, ARIA_PLUGIN_ENTRY_NAME);
    if (!sym) {
        rc = aria_fail(why, ARIA_ERR_NOT_FOUND,
                       "no %s symbol: not an ARIA plugin", ARIA_PLUGIN_ENTRY_NAME);
        goto fail;
    }
    aria_plugin_entry_fn entry;
    memcpy(&entry, &sym, sizeof entry); /* object to function pointer, POSIX-style */
    const aria_plugin_desc *d = entry();
    if (!d) {
        rc = aria_fail(why, ARIA_ERR_INVALID, "%s returned no descriptor",
                       ARIA_PLUGIN_ENTRY_NAME);
        goto fail;
    }
    if ((rc = check_desc(d, reg, why)) != ARIA_OK)
        goto fail;
    if (!enabled_by_config(cfg, d->name)) {
        rc = aria_fail(why, ARIA_ERR_PERMISSION,
                       "plugin '%s' is disabled by aria.ini [plugins]", d->name);
        goto fail;
    }
    if (cfg) { /* with no keys too: the section is claimed, and checked empty */
        size_t before = ari_config_n_errors(cfg);
        if (ari_config_add_plugin_schema(cfg, d->name, d->cfg_keys, d->n_cfg_keys) != ARIA_OK) {
            for (size_t i = before; i < ari_config_n_errors(cfg); i++)
                ari_warn("config", "%s", ari_config_error(cfg, i));
        }
    }
    p = calloc(1, sizeof *p);
    if (!p || !(p->path = strdup(path))) {
        rc = aria_fail(why, ARIA_ERR_NOMEM, "out of memory");
        goto fail;
    }
    p->dl = dl;
    p->desc = d;
    if (d->init) {
        aria_msg iwhy = {{0}};
        aria_err e = d->init(host, &p->ctx, &iwhy);
        if (e != ARIA_OK) {
            rc = aria_fail(why, e, "init of '%s' failed: %s", d->name,
                           iwhy.text[0] ? iwhy.text : aria_strerror(e));
            goto fail;
        }
    }
    p->initialized = 1;
    if ((rc = ari_registry_add(reg, p, host->cpu, why)) != ARIA_OK) {
        if (d->fini)
            d->fini(p->ctx);
        goto fail;
    }
    return ARIA_OK;

fail:
    if (p) {
        free(p->path);
        free(p);
    }
    dlclose(dl);
    return rc;
}

/* nftw has no user pointer: collect paths into this list. */
static struct {
    char **v;
    size_t n, cap;
    int oom;
} found;

static int collect(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)ftw;
    size_t len = strlen(path);
    if (type != FTW_F || !S_ISREG(st->st_mode) || len < 3 || strcmp(path + len - 3, ".so") != 0)
        return 0;
    if (found.n == found.cap) {
        size_t cap = found.cap ? found.cap * 2 : 32;
        char **v = realloc(found.v, cap * sizeof *v);
        if (!v) {
            found.oom = 1;
            return 1;
        }
        found.v = v;
        found.cap = cap;
    }
    if (!(found.v[found.n] = strdup(path))) {
        found.oom = 1;
        return 1;
    }
    found.n++;
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int ari_load_dir(ari_registry *reg, const char *dir, const aria_host *host,
                 ari_config *cfg, aria_msg *why)
{
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        aria_fail(why, ARIA_ERR_IO, "plugin directory %s: %s", dir,
                  stat(dir, &st) != 0 ? strerror(errno) : "not a directory");
        return -1;
    }
    memset(&found, 0, sizeof found);
    int walk = nftw(dir, collect, 16, FTW_PHYS);
    int loaded = -1;
    if (walk != 0 || found.oom) {
        aria_fail(why, ARIA_ERR_IO, "plugin directory %s: %s", dir,
                  found.oom ? "out of memory" : strerror(errno));
        goto out;
    }
    qsort(found.v, found.n, sizeof *found.v, cmp_str);
    loaded = 0;
    for (size_t i = 0; i < found.n; i++) {
        aria_msg m = {{0}};
        if (ari_load_file(reg, found.v[i], host, cfg, &m) == ARIA_OK) {
            const ari_plugin *p = reg->plugins[reg->n_plugins - 1];
            ari_info("loader", "loaded %s %s from %s", p->desc->name, p->desc->version,
                     found.v[i]);
            loaded++;
        } else {
            ari_warn("loader", "%s: %s; skipped", found.v[i], m.text);
            ari_registry_skip(reg, found.v[i], m.text);
        }
    }
    if (cfg) {
        size_t before = ari_config_n_errors(cfg);
        if (ari_config_check_unclaimed(cfg) != ARIA_OK)
            for (size_t i = before; i < ari_config_n_errors(cfg); i++)
                ari_warn("config", "%s", ari_config_error(cfg, i));
    }
out:
    for (size_t i = 0; i < found.n; i++)
        free(found.v[i]);
    free(found.v);
    memset(&found, 0, sizeof found);
    return loaded;
}
