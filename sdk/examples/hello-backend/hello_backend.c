/* hello_backend.c — the smallest complete ARIA plugin: one backend interface.
 *
 * Copy this file to start a plugin. It shows the parts every plugin has: the
 * vtable filled with designated initializers, the descriptor, init and fini
 * using the host's services (log, config, allocation), a configuration key of
 * its own, and the one exported entry point (ARIA_PLUGIN).
 *
 * What it does: it recognizes GGUF files by their header and reports what it
 * read, but it runs no model, so probe always answers score 0 and the node
 * never routes a query to it. A real backend answers probe with a score and
 * implements load, sessions and forward (see aria/backend.h). */
#include <aria/aria.h>

#include <stdio.h>
#include <string.h>

typedef struct hello_ctx {
    const aria_host *host;
    const char *greeting;
} hello_ctx;

/* Reads the fixed GGUF header: magic, version, tensor and metadata counts. */
static aria_err hello_probe(void *ctx, const char *path, aria_probe *out, aria_msg *why)
{
    hello_ctx *h = ctx;
    unsigned char hdr[24];
    FILE *f = fopen(path, "rb");
    if (!f)
        return aria_fail(why, ARIA_ERR_IO, "%s: cannot open", path);
    size_t n = fread(hdr, 1, sizeof hdr, f);
    fclose(f);
    memset((char *)out + sizeof out->hdr, 0, sizeof *out - sizeof out->hdr);
    if (n < sizeof hdr || memcmp(hdr, "GGUF", 4) != 0)
        return aria_fail(why, ARIA_ERR_FORMAT, "%s: not a GGUF file", path);
    uint32_t version = (uint32_t)hdr[4] | (uint32_t)hdr[5] << 8 | (uint32_t)hdr[6] << 16 |
                       (uint32_t)hdr[7] << 24;
    uint64_t n_tensors = 0;
    for (int i = 7; i >= 0; i--)
        n_tensors = n_tensors << 8 | hdr[8 + i];
    h->host->log(ARIA_LOG_DEBUG, "hello-backend", "%s: %s GGUF v%u with %llu tensors",
                 h->greeting, path, version, (unsigned long long)n_tensors);
    out->score = 0; /* recognized, but this example cannot run it */
    return aria_fail(why, ARIA_OK, "hello-backend reads GGUF v%u headers only; it runs no model",
                     version);
}

static aria_err hello_load(void *ctx, const aria_load_params *p, aria_model **out, aria_msg *why)
{
    (void)ctx;
    *out = NULL;
    return aria_fail(why, ARIA_ERR_UNSUPPORTED, "hello-backend cannot load %s: it runs no model",
                     p->path);
}

/* No model can exist, so the slots below are never reached with a handle;
 * they are here because the loader requires every slot of version 1. */
static void hello_unload(aria_model *m) { (void)m; }
static aria_err hello_model_info(aria_model *m, aria_model_info *out)
{
    (void)m;
    (void)out;
    return ARIA_ERR_INVALID;
}
static aria_err hello_session_new(aria_model *m, const aria_session_params *p, aria_session **out,
                                  aria_msg *why)
{
    (void)m;
    (void)p;
    *out = NULL;
    return aria_fail(why, ARIA_ERR_INVALID, "no model");
}
static void hello_session_free(aria_session *s) { (void)s; }
static uint32_t hello_session_pos(aria_session *s)
{
    (void)s;
    return 0;
}
static aria_err hello_session_truncate(aria_session *s, uint32_t n)
{
    (void)s;
    (void)n;
    return ARIA_ERR_INVALID;
}
static aria_err hello_forward(aria_session *s, const aria_batch *in, aria_forward_out *out,
                              aria_msg *why)
{
    (void)s;
    (void)in;
    (void)out;
    return aria_fail(why, ARIA_ERR_INVALID, "no model");
}

static const aria_backend_vt hello_vt = {
    .hdr = {sizeof(aria_backend_vt), ARIA_BACKEND_VERSION},
    .name = "hello",
    .tiers = ARIA_TIER_NONE,
    .formats = "",
    .probe = hello_probe,
    .load = hello_load,
    .unload = hello_unload,
    .model_info = hello_model_info,
    .session_new = hello_session_new,
    .session_free = hello_session_free,
    .session_pos = hello_session_pos,
    .session_truncate = hello_session_truncate,
    .forward = hello_forward,
    /* tokenize, token_piece, chat_format, sample and generate are optional
     * for a backend that loads no whole model. */
};

static aria_err hello_init(const aria_host *host, void **ctx, aria_msg *why)
{
    hello_ctx *h = host->calloc(1, sizeof *h);
    if (!h)
        return aria_fail(why, ARIA_ERR_NOMEM, "out of memory");
    h->host = host;
    /* [plugin.hello-backend] greeting, defaulted by the host from cfg_keys. */
    h->greeting = host->config_get("plugin.hello-backend", "greeting");
    if (!h->greeting)
        h->greeting = "hello";
    host->log(ARIA_LOG_DEBUG, "hello-backend", "%s from the example plugin", h->greeting);
    *ctx = h;
    return ARIA_OK;
}

static void hello_fini(void *ctx)
{
    hello_ctx *h = ctx;
    h->host->free(h);
}

static const aria_interface hello_ifaces[] = {
    {.kind = ARIA_IFACE_BACKEND, .vtable = &hello_vt},
};

static const aria_cfg_key hello_cfg[] = {
    {.key = "greeting", .type = ARIA_CFG_STRING, .def = "hello",
     .help = "word the example logs at debug level"},
};

static const aria_plugin_desc hello_desc = {
    .abi_major = ARIA_ABI_MAJOR,
    .abi_minor = ARIA_ABI_MINOR,
    .struct_size = sizeof(aria_plugin_desc),
    .name = "hello-backend",
    .version = "0.1.0",
    .description = "example backend from the SDK (reads GGUF headers, runs no model)",
    .n_interfaces = sizeof hello_ifaces / sizeof hello_ifaces[0],
    .interfaces = hello_ifaces,
    .init = hello_init,
    .fini = hello_fini,
    .n_cfg_keys = sizeof hello_cfg / sizeof hello_cfg[0],
    .cfg_keys = hello_cfg,
};

ARIA_PLUGIN(hello_desc)
