/* aria/common.h — types shared by every ARIA interface.
 *
 * Everything a plugin sees of the host is declared under sdk/include/aria/.
 * Rules that hold for every header here:
 *   - Public names start with aria_ / ARIA_. Nothing here needs a symbol of the
 *     aria-core executable: plugins reach the host only through aria_host.
 *   - Every vtable starts with an aria_vt_hdr and only ever grows at its end.
 *     A removed slot stays in place as NULL. A caller checks hdr.struct_size
 *     (or hdr.version) before it calls a slot added after version 1.
 *   - Offsets of every slot are pinned with static_assert, so an accidental
 *     reorder fails the build instead of crashing a vendor's plugin.
 *   - Strings are UTF-8 and NUL-terminated unless a length is passed with them.
 */
#ifndef ARIA_COMMON_H
#define ARIA_COMMON_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ABI of the plugin interface. A plugin whose major differs is refused; a
 * plugin with a higher minor than the host still loads (it may find slots of
 * the host tables NULL or absent, and must check struct_size). */
#define ARIA_ABI_MAJOR 1
#define ARIA_ABI_MINOR 0

#if defined(__GNUC__) || defined(__clang__)
#define ARIA_EXPORT __attribute__((visibility("default")))
#define ARIA_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define ARIA_EXPORT
#define ARIA_PRINTF(f, a)
#endif

#if defined(__cplusplus)
#define ARIA_STATIC_ASSERT(c, m) static_assert(c, m)
#else
#define ARIA_STATIC_ASSERT(c, m) _Static_assert(c, m)
#endif

/* Pins a struct member's offset: layouts differ between 32- and 64-bit
 * targets, so the pins are stated for LP64 (x86-64, aarch64) only. */
#if defined(__LP64__) || defined(_LP64)
#define ARIA_PIN(type, member, off)                                            \
    ARIA_STATIC_ASSERT(offsetof(type, member) == (off),                        \
                       #type "." #member " moved: the ABI is append-only")
#else
#define ARIA_PIN(type, member, off)
#endif

/* Every fallible call returns one of these. Negative values are errors. */
typedef enum aria_err {
    ARIA_OK = 0,
    ARIA_ERR_NOMEM = -1,        /* an allocation failed */
    ARIA_ERR_INVALID = -2,      /* an argument or input is malformed */
    ARIA_ERR_IO = -3,           /* a read, write, open or map failed */
    ARIA_ERR_FORMAT = -4,       /* a file or message is not what it claims */
    ARIA_ERR_UNSUPPORTED = -5,  /* valid, but not handled by this component */
    ARIA_ERR_NOT_FOUND = -6,    /* a named thing does not exist */
    ARIA_ERR_RANGE = -7,        /* a value is out of its allowed range */
    ARIA_ERR_CANCELLED = -8,    /* the caller asked to stop */
    ARIA_ERR_BUSY = -9,         /* no capacity now; try again later */
    ARIA_ERR_TIMEOUT = -10,     /* a deadline passed */
    ARIA_ERR_CLOSED = -11,      /* the peer, file or handle is closed */
    ARIA_ERR_PERMISSION = -12,  /* refused by the OS, by consent or by auth */
    ARIA_ERR_EXISTS = -13,      /* already there (duplicate name, lock held) */
    ARIA_ERR_ABI = -14,         /* versions or struct sizes do not match */
    ARIA_ERR_CONTEXT = -15,     /* the context window (KV cache) is full */
    ARIA_ERR_SIGNATURE = -16,   /* a signature or hash does not verify */
    ARIA_ERR_UNAVAILABLE = -17, /* a device or runtime is not present */
    ARIA_ERR_INTERNAL = -18     /* a bug: an invariant did not hold */
} aria_err;

/* A short, static description of an error code; never NULL. */
const char *aria_strerror(aria_err e);

/* The detail that goes with an aria_err: one line of text, written by the
 * callee when it fails, read by the caller. Any slot that takes an aria_msg*
 * accepts NULL when the caller does not want the detail. */
#define ARIA_MSG_MAX 256
typedef struct aria_msg {
    char text[ARIA_MSG_MAX];
} aria_msg;

/* Fills msg (if not NULL) and returns e, so a failure path reads
 *     return aria_fail(why, ARIA_ERR_FORMAT, "%s: bad magic", path); */
aria_err aria_fail(aria_msg *msg, aria_err e, const char *fmt, ...)
    ARIA_PRINTF(3, 4);

/* The first field of every vtable and of every versioned struct. */
typedef struct aria_vt_hdr {
    uint32_t struct_size; /* sizeof() the struct as the provider compiled it */
    uint32_t version;     /* the interface version the provider implements */
} aria_vt_hdr;

/* True when a struct of which the provider reports struct_size holds the
 * field `member` of type `type`: test this before reading a slot added later. */
#define ARIA_HAS(ptr, type, member)                                            \
    ((ptr)->hdr.struct_size >=                                                 \
     offsetof(type, member) + sizeof(((type *)0)->member))

/* Log levels, as for syslog: lower is more severe. */
typedef enum aria_log_level {
    ARIA_LOG_ERROR = 0,
    ARIA_LOG_WARN = 1,
    ARIA_LOG_INFO = 2,
    ARIA_LOG_DEBUG = 3
} aria_log_level;

/* Tiers a model serves in (see the router). */
typedef enum aria_tier {
    ARIA_TIER_NONE = 0,
    ARIA_TIER_EFFICIENCY = 1u << 0, /* 1.58-bit models on any CPU */
    ARIA_TIER_QUALITY = 1u << 1,    /* ordinary quantized chat models */
    ARIA_TIER_SPECIALIST = 1u << 2  /* code, reasoning, vision */
} aria_tier;

/* A node's identity: the raw Ed25519 public key. */
#define ARIA_PUBKEY_BYTES 32
#define ARIA_SIG_BYTES 64
#define ARIA_HASH_BYTES 32 /* SHA-256 */

#ifdef __cplusplus
}
#endif
#endif /* ARIA_COMMON_H */
