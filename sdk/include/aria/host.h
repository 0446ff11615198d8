/* aria/host.h — the services aria-core lends to every plugin.
 *
 * The host passes a pointer to one aria_host to each plugin's init. The table
 * and everything it points to stay valid until the plugin's fini returns, so
 * a plugin may keep the pointer. All slots are thread-safe. */
#ifndef ARIA_HOST_H
#define ARIA_HOST_H

#include "common.h"
#include "cpu.h"

#ifdef __cplusplus
extern "C" {
#endif

struct aria_kernel_vt;

typedef struct aria_host {
    aria_vt_hdr hdr; /* struct_size = sizeof(aria_host) of the host, version 1 */

    /* Writes one log line, attributed to `who` (the plugin name). Never
     * blocks for long (a line buffer and a write). fmt is printf-style. */
    void (*log)(aria_log_level level, const char *who, const char *fmt, ...)
        ARIA_PRINTF(3, 4);

    /* Looks up [section] key in the effective configuration (aria.ini with
     * command-line overrides applied, defaults filled in). Returns NULL when
     * the key is unknown or unset. The string is owned by the host and valid
     * until the plugin's fini. Plugin sections are named after the plugin:
     * [plugin.NAME]. Does not block. */
    const char *(*config_get)(const char *section, const char *key);

    /* Memory, from the host's allocator (so sanitizers and fault-injection
     * tests see it). Same contract as malloc/calloc/realloc/free. */
    void *(*alloc)(size_t size);
    void *(*calloc)(size_t n, size_t size);
    void *(*realloc)(void *p, size_t size);
    void (*free)(void *p);

    /* Monotonic clock in nanoseconds since an arbitrary origin. */
    uint64_t (*now_ns)(void);

    /* The node's data directory (absolute path, exists, writable, locked by
     * this node). Plugins keep their files under it. */
    const char *data_dir;

    /* The CPU the node runs on (never NULL). */
    const aria_cpu_info *cpu;

    /* The kernel variant selected for `family` ("gguf", "ternary", ...):
     * by aria.ini [kernels] FAMILY, else the highest score. NULL when no
     * loaded variant of that family can run here. Does not block. */
    const struct aria_kernel_vt *(*kernels)(const char *family);

    /* Signs msg with the node's Ed25519 key (the key never leaves the host).
     * NULL until the node has an identity. Does not block. */
    aria_err (*sign)(const void *msg, size_t len, uint8_t sig[ARIA_SIG_BYTES]);

    /* The node's public key; all zeroes until the node has an identity. */
    uint8_t node_pubkey[ARIA_PUBKEY_BYTES];

    /* Number of worker threads this node gives to inference (>= 1). */
    uint32_t n_threads;
    uint32_t reserved0;
} aria_host;

ARIA_PIN(aria_host, log, 8);
ARIA_PIN(aria_host, config_get, 16);
ARIA_PIN(aria_host, alloc, 24);
ARIA_PIN(aria_host, free, 48);
ARIA_PIN(aria_host, now_ns, 56);
ARIA_PIN(aria_host, data_dir, 64);
ARIA_PIN(aria_host, cpu, 72);
ARIA_PIN(aria_host, kernels, 80);
ARIA_PIN(aria_host, sign, 88);
ARIA_PIN(aria_host, node_pubkey, 96);
ARIA_PIN(aria_host, n_threads, 128);

#ifdef __cplusplus
}
#endif
#endif /* ARIA_HOST_H */
