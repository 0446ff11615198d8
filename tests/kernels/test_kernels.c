/* test_kernels.c — every kernel variant against its family's scalar variant.
 *
 * usage: test_kernels DIR...
 * Loads every *-kernels-*.so in the directories, and for each variant that
 * can run on this CPU multiplies random matrices of every type it supports,
 * at several widths and column counts, and compares with the scalar variant
 * of the same family. Variants that cannot run here are reported as skipped.
 *
 * Standalone on purpose (libc, libm, libdl only): the same program runs
 * natively and under qemu-aarch64 for the NEON variants. */
#include <aria/aria.h>
#include <aria/gguf.h>
#include <aria/quant.h>

#include <dirent.h>
#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if defined(__aarch64__)
#include <sys/auxv.h>
#endif

static int passed, failed, skipped;

static uint64_t rng = 0x2545f4914f6cdd1dull;
static uint32_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 11);
}
static float rndf(void) { return (float)rnd() / 2147483648.0f - 1.0f; }

/* The running CPU, as far as the kernels' scores care. */
static void detect(aria_cpu_info *c)
{
    memset(c, 0, sizeof *c);
    c->hdr.struct_size = sizeof *c;
    c->hdr.version = 1;
#if defined(__x86_64__)
    __builtin_cpu_init();
    c->arch = ARIA_ARCH_X86_64;
    if (__builtin_cpu_supports("avx2")) c->features |= ARIA_CPU_AVX2;
    if (__builtin_cpu_supports("fma")) c->features |= ARIA_CPU_FMA;
    if (__builtin_cpu_supports("avx")) c->features |= ARIA_CPU_AVX | ARIA_CPU_F16C;
    if (__builtin_cpu_supports("avx512f")) c->features |= ARIA_CPU_AVX512F;
    if (__builtin_cpu_supports("avx512bw")) c->features |= ARIA_CPU_AVX512BW;
    if (__builtin_cpu_supports("avx512vl")) c->features |= ARIA_CPU_AVX512VL;
    if (__builtin_cpu_supports("avx512vnni")) c->features |= ARIA_CPU_AVX512VNNI;
#elif defined(__aarch64__)
    c->arch = ARIA_ARCH_AARCH64;
    unsigned long hw = getauxval(AT_HWCAP);
    c->features |= ARIA_CPU_NEON;
    if (hw & (1ul << 20)) /* HWCAP_ASIMDDP */
        c->features |= ARIA_CPU_DOTPROD;
#endif
}

typedef struct variant {
    char path[512];
    void *dl;
    const aria_kernel_vt *vt;
} variant;

static variant vars[32];
static int n_vars;

static void load_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) {
        printf("FAIL: cannot open %s\n", dir);
        failed++;
        return;
    }
    struct dirent *e;
    while ((e = readdir(d)) && n_vars < 32) {
        if (!strstr(e->d_name, "-kernels-") || !strstr(e->d_name, ".so"))
            continue;
        variant *v = &vars[n_vars];
        snprintf(v->path, sizeof v->path, "%s/%s", dir, e->d_name);
        v->dl = dlopen(v->path, RTLD_NOW | RTLD_LOCAL);
        if (!v->dl) {
            printf("FAIL: %s: %s\n", v->path, dlerror());
            failed++;
            continue;
        }
        aria_plugin_entry_fn entry;
        void *sym = dlsym(v->dl, ARIA_PLUGIN_ENTRY_NAME);
        if (!sym) {
            printf("FAIL: %s: no entry point\n", v->path);
            failed++;
            continue;
        }
        memcpy(&entry, &sym, sizeof entry);
        const aria_plugin_desc *desc = entry();
        for (size_t i = 0; i < desc->n_interfaces; i++)
            if (desc->interfaces[i].kind == ARIA_IFACE_KERNEL)
                v->vt = desc->interfaces[i].vtable;
        if (v->vt)
            n_vars++;
    }
    closedir(d);
}

/* Random weights of type t: quantized from random floats where a reference
 * quantizer exists, else random block bytes with sane scales. */
static void fill_weights(uint32_t t, uint8_t *w, uint32_t rows, uint32_t k, int ternary)
{
    size_t rb = aria_row_bytes(t, k);
    float *row = malloc(k * sizeof *row);
    for (uint32_t r = 0; r < rows; r++) {
        uint8_t *dst = w + r * rb;
        for (uint32_t i = 0; i < k; i++)
            row[i] = ternary && r != 5 /* one odd row in a tile */ ? 0.37f * (float)((int)(rnd() % 3) - 1) : rndf() * (1 + (rnd() % 4));
        if (t == ARIA_T_I2_S) { /* valid codes only: 0, 1, 2 */
            int8_t *tern = malloc(k);
            for (uint32_t i = 0; i < k; i++)
                tern[i] = (int8_t)(rnd() % 3) - 1;
            aria_i2s_pack_row(tern, dst, k);
            free(tern);
            continue;
        }
        if (aria_quantize_row(t, row, dst, k) == ARIA_OK)
            continue;
        for (size_t i = 0; i < rb; i++)
            dst[i] = (uint8_t)rnd();
        size_t bb = aria_row_bytes(t, 256);
        for (uint32_t b = 0; b < k / 256; b++) {
            uint8_t *blk = dst + b * bb;
            aria_f16 d = aria_f32_to_f16(0.01f + 0.02f * (float)(rnd() % 100) / 100);
            aria_f16 dm = aria_f32_to_f16(0.005f * (float)(rnd() % 100) / 100);
            if (t == ARIA_T_Q6_K) {
                memcpy(blk + 208, &d, 2);
            } else {
                memcpy(blk, &d, 2);
                memcpy(blk + 2, &dm, 2);
            }
        }
    }
    free(row);
}

/* Both variants get the same activations: the variant's own quantization of
 * x, which the scalar reference receives either as the same bytes (when it
 * consumes the same activation type) or expanded to floats by the reference
 * dequantizer. What remains is float summation order, so the bound is tight:
 * 1e-5 of sum |w * x|. The variant's quantizer is checked on its own. */
/* ternary: weights of one scale (as BitNet's), which the ternary kernels
 * take through their integer tiles; otherwise every block has its own. */
static void check(const variant *ref, const variant *v, uint32_t t, uint32_t k, uint32_t n,
                  int ternary)
{
    const uint32_t rows = 37; /* odd, to cover ragged row ranges */
    size_t rb = aria_row_bytes(t, k);
    uint8_t *w = malloc(rb * rows);
    float *x = malloc(sizeof(float) * k * n), *xs = malloc(sizeof(float) * k * n);
    float *ys = calloc((size_t)rows * n, 4), *yv = calloc((size_t)rows * n, 4);
    fill_weights(t, w, rows, k, ternary);
    for (uint32_t i = 0; i < k * n; i++)
        x[i] = rndf() * 2;
    int at_v = v->vt->act_type(t), at_s = ref->vt->act_type(t);
    size_t xb_v = v->vt->row_bytes((uint32_t)at_v, k), xb_s = ref->vt->row_bytes((uint32_t)at_s, k);
    uint8_t *xq_v = malloc(xb_v * n), *xq_s = malloc(xb_s * n);
    int bad = 0;
    for (uint32_t j = 0; j < n; j++) {
        const float *xj = x + (size_t)j * k;
        float *xsj = xs + (size_t)j * k;
        v->vt->quantize_row((uint32_t)at_v, xj, xq_v + j * xb_v, k);
        if (at_v == ARIA_T_I8_ROW) {
            const float *sc = (const float *)(xq_v + j * xb_v + k);
            for (uint32_t i = 0; i < k; i++)
                xsj[i] = (float)((const int8_t *)(xq_v + j * xb_v))[i] * *sc;
        } else {
            aria_dequantize_row((uint32_t)at_v, xq_v + j * xb_v, xsj, k);
        }
        float amax = 0;
        for (uint32_t i = 0; i < k; i++)
            amax = fmaxf(amax, fabsf(xj[i]));
        for (uint32_t i = 0; i < k && !bad; i++)
            if (!(fabsf(xsj[i] - xj[i]) <= amax / 127 + 1e-6f)) {
                printf("FAIL: %s/%s quantize_row(%u) element %u: %g -> %g\n", v->vt->family,
                       v->vt->isa, at_v, i, xj[i], xsj[i]);
                bad = 1;
            }
        if (at_s == at_v)
            memcpy(xq_s + j * xb_s, xq_v + j * xb_v, xb_s);
        else if (at_s == ARIA_T_F32)
            memcpy(xq_s + j * xb_s, xsj, xb_s);
        else {
            printf("FAIL: %s: scalar and %s disagree on activation types\n", v->vt->family,
                   v->vt->isa);
            bad = 1;
        }
    }
    const variant *both[2] = {ref, v};
    float *y_[2] = {ys, yv};
    uint8_t *xq_[2] = {xq_s, xq_v};
    size_t xb_[2] = {xb_s, xb_v};
    for (int s = 0; s < 2 && !bad; s++) {
        /* two calls over split row ranges, as threads would */
        aria_mm m = {.wtype = t, .k = k, .w = w, .w_stride = rb, .r0 = 0, .r1 = 13, .n = n,
                     .x = xq_[s], .x_stride = xb_[s], .y = y_[s], .y_stride = rows,
                     .scale = 1.5f};
        both[s]->vt->matmul(&m);
        m.r0 = 13;
        m.r1 = rows;
        both[s]->vt->matmul(&m);
    }
    float *wf = malloc(k * 4);
    for (uint32_t r = 0; r < rows && !bad; r++) {
        if (t == ARIA_T_I2_S)
            aria_i2s_dequantize_row(w + r * rb, 1.0f, wf, k);
        else
            aria_dequantize_row(t, w + r * rb, wf, k);
        for (uint32_t j = 0; j < n && !bad; j++) {
            double swx = 0;
            for (uint32_t i = 0; i < k; i++)
                swx += fabs((double)wf[i] * xs[(size_t)j * k + i]);
            double bound = 1.5 * 1e-5 * swx + 1e-5;
            double got = yv[(size_t)j * rows + r], want = ys[(size_t)j * rows + r];
            if (!(fabs(got - want) <= bound)) {
                printf("FAIL: %s/%s %s%s k=%u n=%u row %u col %u: %.6f, scalar %.6f (bound %.2g)\n",
                       v->vt->family, v->vt->isa, aria_type_info_get(t)->name,
                       ternary ? " (one scale)" : "", k, n, r, j, got, want, bound);
                bad = 1;
            }
        }
    }
    if (bad)
        failed++;
    else
        passed++;
    free(wf);
    free(w);
    free(x);
    free(xs);
    free(xq_v);
    free(xq_s);
    free(ys);
    free(yv);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: test_kernels DIR...\n");
        return 2;
    }
    for (int i = 1; i < argc; i++)
        load_dir(argv[i]);
    aria_cpu_info cpu;
    detect(&cpu);
    static const uint32_t types[] = {ARIA_T_F32,  ARIA_T_F16,  ARIA_T_BF16, ARIA_T_Q8_0,
                                     ARIA_T_Q4_0, ARIA_T_Q4_K, ARIA_T_Q5_K, ARIA_T_Q6_K,
                                     ARIA_T_TQ1_0, ARIA_T_TQ2_0, ARIA_T_I2_S};
    static const uint32_t ks[] = {256, 384, 768, 2048};
    static const uint32_t ns[] = {1, 3, 4, 9, 13};
    for (int a = 0; a < n_vars; a++) {
        const variant *v = &vars[a];
        const variant *ref = NULL;
        for (int b = 0; b < n_vars; b++)
            if (!strcmp(vars[b].vt->family, v->vt->family) && !strcmp(vars[b].vt->isa, "scalar"))
                ref = &vars[b];
        if (!ref) {
            printf("FAIL: family %s has no scalar variant\n", v->vt->family);
            failed++;
            continue;
        }
        if (ref == v)
            continue; /* the reference itself */
        if (v->vt->score(&cpu) <= 0) {
            printf("skip: %s/%s cannot run on this CPU\n", v->vt->family, v->vt->isa);
            skipped++;
            continue;
        }
        int types_run = 0;
        for (size_t ti = 0; ti < sizeof types / sizeof types[0]; ti++) {
            uint32_t t = types[ti];
            if (ref->vt->act_type(t) < 0 || v->vt->act_type(t) < 0)
                continue;
            types_run++;
            int tern = t == ARIA_T_TQ1_0 || t == ARIA_T_TQ2_0;
            for (size_t ki = 0; ki < sizeof ks / sizeof ks[0]; ki++)
                for (size_t ni = 0; ni < sizeof ns / sizeof ns[0]; ni++)
                    if (aria_row_bytes(t, ks[ki])) /* 384: I2_S only */
                        for (int u = 0; u <= tern; u++)
                            check(ref, v, t, ks[ki], ns[ni], u);
        }
        printf("%s/%s: %d types checked against scalar\n", v->vt->family, v->vt->isa, types_run);
    }
    if (n_vars == 0) {
        printf("FAIL: no kernel variants found\n");
        failed++;
    }
    printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped);
    return failed ? 1 : 0;
}
