/* aria/plugin.h — how a shared object becomes an ARIA plugin.
 *
 * A plugin .so exports exactly one symbol, ARIA_PLUGIN_ENTRY_NAME:
 *
 *     ARIA_EXPORT const aria_plugin_desc *aria_plugin_entry(void);
 *
 * It returns a pointer to a const, statically allocated descriptor and must
 * not do any work: the host calls it right after dlopen to read the ABI and
 * the interface list, before it decides whether to keep the plugin. Work
 * happens in init, which the host calls once the descriptor passed its checks.
 *
 * Life of a plugin, as the host drives it:
 *   dlopen(RTLD_NOW|RTLD_LOCAL) -> entry() -> ABI and slot checks
 *   -> init(host, &ctx) -> interfaces used, each slot given ctx where asked
 *   -> fini(ctx) at shutdown -> dlclose.
 * If init fails, fini is not called and the library is closed. */
#ifndef ARIA_PLUGIN_H
#define ARIA_PLUGIN_H

#include "common.h"
#include "host.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ARIA_PLUGIN_ENTRY_NAME "aria_plugin_entry"

/* What an interface is. The values are ABI. */
typedef enum aria_iface_kind {
    ARIA_IFACE_BACKEND = 1,   /* aria_backend_vt   (aria/backend.h)   */
    ARIA_IFACE_TRANSPORT = 2, /* aria_transport_vt (aria/transport.h) */
    ARIA_IFACE_LEDGER = 3,    /* aria_ledger_vt    (aria/ledger.h)    */
    ARIA_IFACE_DETECTOR = 4,  /* aria_detector_vt  (aria/detector.h)  */
    ARIA_IFACE_KERNEL = 5     /* aria_kernel_vt    (aria/kernel.h)    */
} aria_iface_kind;

/* One interface a plugin provides. vtable points to the vtable struct of the
 * kind (which starts with an aria_vt_hdr); it is const and static. */
typedef struct aria_interface {
    uint32_t kind;      /* aria_iface_kind */
    uint32_t reserved;  /* 0 */
    const void *vtable; /* never NULL */
} aria_interface;

/* One configuration key the plugin reads from [plugin.NAME]. The host
 * validates the section against this list (unknown keys and bad values are
 * reported with file:line) and fills in defaults. */
typedef enum aria_cfg_type {
    ARIA_CFG_STRING = 1,
    ARIA_CFG_INT = 2,    /* decimal, within [min, max] */
    ARIA_CFG_BOOL = 3,   /* true/false, yes/no, on/off, 1/0 */
    ARIA_CFG_DOUBLE = 4, /* within [min, max] */
    ARIA_CFG_ENUM = 5,   /* one of choices, "a|b|c" */
    ARIA_CFG_LIST = 6    /* comma-separated strings */
} aria_cfg_type;

typedef struct aria_cfg_key {
    const char *key;      /* [a-z0-9_]+ */
    uint32_t type;        /* aria_cfg_type */
    uint32_t reserved;
    const char *def;      /* default value as text; NULL = unset */
    double min, max;      /* for INT and DOUBLE */
    const char *choices;  /* for ENUM: "a|b|c" */
    const char *help;     /* one line: meaning and unit */
} aria_cfg_key;

typedef struct aria_plugin_desc {
    uint32_t abi_major;   /* ARIA_ABI_MAJOR the plugin was built against */
    uint32_t abi_minor;   /* ARIA_ABI_MINOR the plugin was built against */
    uint32_t struct_size; /* sizeof(aria_plugin_desc) as the plugin compiled it */
    uint32_t reserved;

    const char *name;        /* unique among loaded plugins; [a-z0-9_.-]+ */
    const char *version;     /* the plugin's own version, e.g. "1.2.0" */
    const char *description; /* one line, for `aria-core plugins` */

    size_t n_interfaces;              /* >= 1 */
    const aria_interface *interfaces; /* n_interfaces entries */

    /* Optional (may be NULL). Called once, on the loading thread, before any
     * interface is used. May block (open devices, read files). On success
     * stores the plugin's context in *ctx (may be NULL), which the host
     * passes to the interface slots that take a `void *ctx`. On failure
     * returns an error and a one-line reason in *why; the host then closes
     * the library without calling fini. host stays valid until fini. */
    aria_err (*init)(const aria_host *host, void **ctx, aria_msg *why);

    /* Optional. Called once at shutdown after every handle the plugin made
     * (models, sessions, connections, ledgers) was released. */
    void (*fini)(void *ctx);

    /* Optional configuration schema for [plugin.NAME]. */
    size_t n_cfg_keys;
    const aria_cfg_key *cfg_keys;
} aria_plugin_desc;

ARIA_PIN(aria_plugin_desc, abi_major, 0);
ARIA_PIN(aria_plugin_desc, struct_size, 8);
ARIA_PIN(aria_plugin_desc, name, 16);
ARIA_PIN(aria_plugin_desc, version, 24);
ARIA_PIN(aria_plugin_desc, description, 32);
ARIA_PIN(aria_plugin_desc, n_interfaces, 40);
ARIA_PIN(aria_plugin_desc, interfaces, 48);
ARIA_PIN(aria_plugin_desc, init, 56);
ARIA_PIN(aria_plugin_desc, fini, 64);
ARIA_PIN(aria_plugin_desc, n_cfg_keys, 72);
ARIA_PIN(aria_plugin_desc, cfg_keys, 80);

typedef const aria_plugin_desc *(*aria_plugin_entry_fn)(void);

/* Declares the entry point of a plugin in one line:
 *     ARIA_PLUGIN(my_desc)
 * where my_desc is a static const aria_plugin_desc. */
#define ARIA_PLUGIN(desc)                                                      \
    ARIA_EXPORT const aria_plugin_desc *aria_plugin_entry(void);               \
    ARIA_EXPORT const aria_plugin_desc *aria_plugin_entry(void) { return &(desc); }

#ifdef __cplusplus
}
#endif
#endif /* ARIA_PLUGIN_H */
