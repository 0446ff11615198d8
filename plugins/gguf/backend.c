/* backend.c — the gguf backend: ordinary GGUF models (F32, F16, BF16, Q8_0,
 * Q4_0, K-quants) on the shared runtime, for the quality and specialist
 * tiers. It claims a file with a modest score, so that a specialized backend
 * (bitnet, for ternary files) wins the files it knows better. */
#include <aria/aria.h>
#include <aria/rt.h>

#define GGUF_SCORE 10

static aria_err gguf_probe(void *ctx, const char *path, aria_probe *out, aria_msg *why)
{
    (void)ctx;
    aria_err e = aria_rt_inspect(path, out, NULL, why);
    if (e != ARIA_OK) {
        out->score = 0;
        return e;
    }
    out->score = GGUF_SCORE;
    out->tiers = ARIA_TIER_QUALITY | ARIA_TIER_SPECIALIST;
    return ARIA_OK;
}

static const aria_backend_vt gguf_vt = {
    .hdr = {sizeof(aria_backend_vt), ARIA_BACKEND_VERSION},
    .name = "gguf",
    .tiers = ARIA_TIER_QUALITY | ARIA_TIER_SPECIALIST,
    .formats = "F32,F16,BF16,Q8_0,Q4_0,Q4_K,Q5_K,Q6_K",
    .probe = gguf_probe,
    ARIA_RT_SLOTS,
};

static aria_err gguf_init(const aria_host *host, void **ctx, aria_msg *why)
{
    aria_rt *rt = host->calloc(1, sizeof *rt);
    if (!rt)
        return aria_fail(why, ARIA_ERR_NOMEM, "out of memory");
    rt->host = host;
    rt->name = "gguf";
    rt->tiers = gguf_vt.tiers;
    *ctx = rt;
    return ARIA_OK;
}

static void gguf_fini(void *ctx)
{
    aria_rt *rt = ctx;
    rt->host->free(rt);
}

static const aria_interface gguf_ifaces[] = {
    {.kind = ARIA_IFACE_BACKEND, .vtable = &gguf_vt},
};

static const aria_plugin_desc gguf_desc = {
    .abi_major = ARIA_ABI_MAJOR,
    .abi_minor = ARIA_ABI_MINOR,
    .struct_size = sizeof(aria_plugin_desc),
    .name = "gguf",
    .version = ARIA_VERSION_STRING,
    .description = "GGUF models on CPU: F32, F16, BF16, Q8_0, Q4_0, K-quants",
    .n_interfaces = 1,
    .interfaces = gguf_ifaces,
    .init = gguf_init,
    .fini = gguf_fini,
};

ARIA_PLUGIN(gguf_desc)
