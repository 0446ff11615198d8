/* registry.h — what the node has loaded: plugins, the interfaces they provide
 * by kind, and the kernel variant selected per family.
 *
 * Core finds implementations here by kind and capability only (a backend
 * that probes a file highest, a transport that handles a URL scheme, the
 * kernel variant with the best score); it never asks for one by name. */
#ifndef ARI_REGISTRY_H
#define ARI_REGISTRY_H

#include <aria/aria.h>

#define ARI_MAX_PLUGINS 256
#define ARI_MAX_FAMILIES 16

typedef struct ari_plugin {
    char *path;                   /* file it came from; "(built-in)" */
    void *dl;                     /* dlopen handle; NULL for built-ins */
    const aria_plugin_desc *desc; /* the plugin's, valid while dl is open */
    void *ctx;                    /* what init returned */
    int initialized;              /* init succeeded; fini is owed */
} ari_plugin;

typedef struct ari_iface {
    uint32_t kind;  /* aria_iface_kind */
    const void *vt; /* the vtable, starting with aria_vt_hdr */
    ari_plugin *plugin;
    int score; /* kernels: score for this CPU; others 0 */
} ari_iface;

typedef struct ari_skip {
    char *path;
    char *reason;
} ari_skip;

typedef struct ari_kernel_sel {
    char family[32];
    const ari_iface *iface; /* NULL: no variant of the family can run */
    char how[160];          /* "score 30", "aria.ini [kernels] gguf = avx2", ... */
} ari_kernel_sel;

typedef struct ari_registry {
    ari_plugin *plugins[ARI_MAX_PLUGINS];
    size_t n_plugins;
    ari_iface *ifaces;
    size_t n_ifaces, cap_ifaces;
    ari_skip *skipped;
    size_t n_skipped, cap_skipped;
    ari_kernel_sel sel[ARI_MAX_FAMILIES];
    size_t n_sel;
} ari_registry;

void ari_registry_init(ari_registry *reg);
/* Calls every fini (in reverse load order), closes every library, frees. */
void ari_registry_fini(ari_registry *reg);

/* Registers a plugin whose descriptor passed the loader's checks (or a
 * built-in, with dl NULL). Takes ownership of p. */
aria_err ari_registry_add(ari_registry *reg, ari_plugin *p,
                          const aria_cpu_info *cpu, aria_msg *why);
/* Records a file that was not loaded, and why (also logged by the loader). */
void ari_registry_skip(ari_registry *reg, const char *path, const char *reason);

ari_plugin *ari_registry_find_plugin(const ari_registry *reg, const char *name);

/* The i-th interface of a kind, or NULL past the end. */
const ari_iface *ari_registry_iface(const ari_registry *reg, uint32_t kind,
                                    size_t i);

/* Picks the kernel variant of `family`: the one whose isa equals override
 * (when override is neither NULL, "" nor "auto" and that variant can run
 * here), else the highest score (ties: the first loaded). A refused override
 * is explained in *why (a warning for the operator) and auto-selection used.
 * Returns NULL when no variant of the family scores above 0. */
const ari_iface *ari_kernel_pick(const ari_registry *reg, const char *family,
                                 const char *override, aria_msg *why);

/* Runs ari_kernel_pick for every family present, with overrides looked up
 * through get_override(family) (may be NULL), and stores the choices. Each
 * refused override is logged as a warning. */
void ari_registry_select_kernels(ari_registry *reg,
                                 const char *(*get_override)(const char *family));

/* The selected kernel vtable for family, or NULL. */
const aria_kernel_vt *ari_registry_kernels(const ari_registry *reg,
                                           const char *family);

/* Short name of an interface kind ("backend", "kernel", ...). */
const char *ari_iface_kind_name(uint32_t kind);
/* The name an interface reports in its vtable (backend "gguf", kernel
 * "gguf/avx2", ...). */
const char *ari_iface_name(const ari_iface *f, char *buf, size_t cap);

#endif
