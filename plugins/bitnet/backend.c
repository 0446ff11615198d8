/* backend.c — the bitnet backend: ternary models (BitNet b1.58, Falcon3
 * 1.58-bit, Falcon-E) in TQ1_0, TQ2_0 or I2_S, on the shared runtime, for
 * the efficiency tier. It claims ternary files with a high score, so they
 * come here rather than to the generic gguf backend. */
#include <aria/aria.h>
#include <aria/rt.h>

#define TERNARY_SCORE 100

static aria_err bitnet_probe(void *ctx, const char *path, aria_probe *out, aria_msg *why)
{
    (void)ctx;
    int ternary = 0;
    aria_err e = aria_rt_inspect(path, out, &ternary, why);
    if (e != ARIA_OK) {
        out->score = 0;
        return e;
    }
    if (!ternary) {
        out->score = 0;
        return aria_fail(why, ARIA_OK, "%s is not a ternary model (%s)", path, out->format);
    }
    out->score = TERNARY_SCORE;
    out->tiers = ARIA_TIER_EFFICIENCY;
    return ARIA_OK;
}

static const aria_backend_vt bitnet_vt = {
    .hdr = {sizeof(aria_backend_vt), ARIA_BACKEND_VERSION},
    .name = "bitnet",
    .tiers = ARIA_TIER_EFFICIENCY,
    .formats = "TQ1_0,TQ2_0,I2_S",
    .probe = bitnet_probe,
    ARIA_RT_SLOTS,
};

static aria_err bitnet_init(const aria_host *host, void **ctx, aria_msg *why)
{
    aria_rt *rt = host->calloc(1, sizeof *rt);
    if (!rt)
        return aria_fail(why, ARIA_ERR_NOMEM, "out of memory");
    rt->host = host;
    rt->name = "bitnet";
    rt->tiers = ARIA_TIER_EFFICIENCY;
    *ctx = rt;
    return ARIA_OK;
}

static void bitnet_fini(void *ctx)
{
    aria_rt *rt = ctx;
    rt->host->free(rt);
}

static const aria_interface bitnet_ifaces[] = {
    {.kind = ARIA_IFACE_BACKEND, .vtable = &bitnet_vt},
};

static const aria_plugin_desc bitnet_desc = {
    .abi_major = ARIA_ABI_MAJOR,
    .abi_minor = ARIA_ABI_MINOR,
    .struct_size = sizeof(aria_plugin_desc),
    .name = "bitnet",
    .version = ARIA_VERSION_STRING,
    .description = "ternary models (BitNet b1.58, Falcon3 1.58-bit): TQ1_0, TQ2_0, I2_S",
    .n_interfaces = 1,
    .interfaces = bitnet_ifaces,
    .init = bitnet_init,
    .fini = bitnet_fini,
};

ARIA_PLUGIN(bitnet_desc)
