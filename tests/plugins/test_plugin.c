/* test_plugin.c — plugins for the loader tests, one source built once per
 * case with -DCASE_x. Each is a real shared object that the loader opens;
 * the bad ones are each wrong in exactly one way. */
#include <aria/aria.h>

#include <stdlib.h>
#include <string.h>

#ifndef PLUGIN_NAME
#define PLUGIN_NAME "test-good"
#endif

/* A real kernel for the "test" family: F32 rows times F32 columns. Variants
 * differ only in the score they claim, so the selection can be tested. */
static int k_act_type(uint32_t t) { return t == ARIA_T_F32 ? ARIA_T_F32 : -1; }
static size_t k_row_bytes(uint32_t t, uint32_t k) { return t == ARIA_T_F32 ? (size_t)k * 4 : 0; }
static aria_err k_quantize_row(uint32_t t, const float *x, void *dst, uint32_t k)
{
    if (t != ARIA_T_F32)
        return ARIA_ERR_UNSUPPORTED;
    memcpy(dst, x, (size_t)k * 4);
    return ARIA_OK;
}
static aria_err k_dequantize_row(uint32_t t, const void *src, float *dst, uint32_t k)
{
    return k_quantize_row(t, src, dst, k);
}
static void k_matmul(const aria_mm *m)
{
    for (uint32_t j = 0; j < m->n; j++) {
        const float *x = (const float *)((const char *)m->x + j * m->x_stride);
        for (uint32_t r = m->r0; r < m->r1; r++) {
            const float *w = (const float *)((const char *)m->w + r * m->w_stride);
            float s = 0;
            for (uint32_t i = 0; i < m->k; i++)
                s += w[i] * x[i];
            m->y[j * m->y_stride + r] = s * m->scale;
        }
    }
}

#ifndef KERNEL_SCORE
#define KERNEL_SCORE 1
#endif
#ifndef KERNEL_ISA
#define KERNEL_ISA "scalar"
#endif
static int k_score(const aria_cpu_info *cpu)
{
    (void)cpu;
    return KERNEL_SCORE;
}

static const aria_kernel_vt kernel_vt = {
    .hdr = {sizeof(aria_kernel_vt), ARIA_KERNEL_VERSION},
    .family = "test",
    .isa = KERNEL_ISA,
    .score = k_score,
    .act_type = k_act_type,
    .row_bytes = k_row_bytes,
#ifndef CASE_MISSING_SLOT
    .quantize_row = k_quantize_row,
#endif
    .dequantize_row = k_dequantize_row,
    .matmul = k_matmul,
};

#ifdef CASE_SMALL_VTABLE
static const aria_detector_vt small_vt = {
    .hdr = {8, ARIA_DETECTOR_VERSION}, /* claims to end before its slots */
    .name = "small",
};
#endif

static const aria_interface ifaces[] = {
#ifdef CASE_SMALL_VTABLE
    {.kind = ARIA_IFACE_DETECTOR, .vtable = &small_vt},
#endif
    {.kind = ARIA_IFACE_KERNEL, .vtable = &kernel_vt},
};

static aria_err t_init(const aria_host *host, void **ctx, aria_msg *why)
{
#ifdef CASE_INIT_FAILS
    (void)host;
    (void)ctx;
    return aria_fail(why, ARIA_ERR_UNAVAILABLE, "device /dev/test0 not present");
#else
    /* A plugin may rely on the host table: refuse a host that lacks it. */
    if (!host || host->hdr.struct_size < sizeof(aria_host) || !host->cpu || !host->alloc)
        return aria_fail(why, ARIA_ERR_ABI, "host table incomplete");
    *ctx = host->alloc(16);
    return *ctx ? ARIA_OK : ARIA_ERR_NOMEM;
#endif
}

static void t_fini(void *ctx)
{
    free(ctx); /* the host's alloc is malloc; a leak here shows in LSan */
}

static const aria_plugin_desc desc = {
#ifdef CASE_BAD_ABI
    .abi_major = ARIA_ABI_MAJOR + 98,
#else
    .abi_major = ARIA_ABI_MAJOR,
#endif
    .abi_minor = ARIA_ABI_MINOR,
    .struct_size = sizeof(aria_plugin_desc),
    .name = PLUGIN_NAME,
    .version = "1.0.0",
    .description = "loader test plugin",
    .n_interfaces = sizeof ifaces / sizeof ifaces[0],
    .interfaces = ifaces,
    .init = t_init,
    .fini = t_fini,
};

#ifndef CASE_NO_ENTRY
ARIA_PLUGIN(desc)
#else
/* Exports something, but not the entry point. */
ARIA_EXPORT int not_an_entry(void);
ARIA_EXPORT int not_an_entry(void) { return desc.abi_major == 0; }
#endif
