/* aria/kernel.h — matrix kernel variants (ARIA_IFACE_KERNEL).
 *
 * A kernel variant is one .so per (family, ISA): "gguf-kernels-avx2.so" holds
 * the AVX2+FMA kernels of the ordinary GGUF types, "ternary-kernels-neon.so"
 * the NEON kernels of the ternary types. Each reports a score for the CPU it
 * finds itself on (0: cannot run here, for instance because it was compiled
 * for an ISA the CPU lacks); the host selects, per family, the variant that
 * aria.ini [kernels] names, else the highest score. Backends reach the
 * selected variant through aria_host.kernels(family).
 *
 * Every slot is pure computation: it never blocks, allocates or logs, and is
 * safe to call from many threads at once on disjoint outputs. Threading is the
 * caller's: it splits rows (or columns) between workers.
 *
 * Every variant must give the results of the family's scalar variant within
 * the error bound of each type (tests/kernels checks this for every variant).
 */
#ifndef ARIA_KERNEL_H
#define ARIA_KERNEL_H

#include "common.h"
#include "cpu.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ARIA_KERNEL_VERSION 1

/* Tensor element types. Values below 1000 are ggml's type ids as stored in
 * GGUF files; ids from 1000 are ARIA's own (formats whose file id collides
 * with ggml's numbering, and activation layouts). */
typedef enum aria_type {
    ARIA_T_F32 = 0,
    ARIA_T_F16 = 1,
    ARIA_T_Q4_0 = 2,
    ARIA_T_Q4_1 = 3,
    ARIA_T_Q5_0 = 6,
    ARIA_T_Q5_1 = 7,
    ARIA_T_Q8_0 = 8,
    ARIA_T_Q8_1 = 9,
    ARIA_T_Q2_K = 10,
    ARIA_T_Q3_K = 11,
    ARIA_T_Q4_K = 12,
    ARIA_T_Q5_K = 13,
    ARIA_T_Q6_K = 14,
    ARIA_T_Q8_K = 15,
    ARIA_T_BF16 = 30,
    ARIA_T_TQ1_0 = 34,
    ARIA_T_TQ2_0 = 35,
    /* bitnet.cpp's 2-bit layout with one f32 scale per tensor; id 36 in its
     * files, which collides with upstream ggml's numbering. */
    ARIA_T_I2_S = 1000,
    /* Activations quantized per row: int8 values with one f32 absmax scale
     * (what the ternary kernels consume). */
    ARIA_T_I8_ROW = 1001
} aria_type;

/* One matrix product, Y = W·X, over a slice of W's rows:
 *     y[j * y_stride + r] = scale · dot(W row r, X column j)
 * for r in [r0, r1) and j in [0, n). W rows hold k elements of wtype; X
 * columns hold k elements already quantized to act_type(wtype). */
typedef struct aria_mm {
    uint32_t wtype;  /* aria_type of the weights */
    uint32_t k;      /* elements per row (a multiple of the type's block) */
    const void *w;   /* row r starts at (const char *)w + r * w_stride */
    size_t w_stride; /* bytes */
    uint32_t r0, r1; /* rows to compute */
    uint32_t n;      /* columns of X (tokens) */
    uint32_t reserved;
    const void *x;   /* column j starts at (const char *)x + j * x_stride */
    size_t x_stride; /* bytes */
    float *y;
    size_t y_stride; /* floats between columns of Y */
    float scale;     /* per-tensor scale (I2_S); 1 for the others */
    uint32_t reserved2;
} aria_mm;

ARIA_PIN(aria_mm, w, 8);
ARIA_PIN(aria_mm, r0, 24);
ARIA_PIN(aria_mm, x, 40);
ARIA_PIN(aria_mm, y, 56);
ARIA_PIN(aria_mm, scale, 72);

typedef struct aria_kernel_vt {
    aria_vt_hdr hdr; /* sizeof(aria_kernel_vt), ARIA_KERNEL_VERSION */

    const char *family; /* "gguf", "ternary", ... */
    const char *isa;    /* "scalar", "avx2", "avx512", "neon", ... */

    /* Required. 0 if this variant cannot run on cpu; otherwise a score that
     * grows with the features it uses (scalar answers 1). */
    int (*score)(const aria_cpu_info *cpu);

    /* Required. The aria_type that X must be quantized to for weights of
     * wtype, or -1 if this variant has no kernel for wtype. */
    int (*act_type)(uint32_t wtype);

    /* Required. Bytes of one row of k elements of type t (weights or
     * activations), or 0 when k is not a multiple of the type's block. */
    size_t (*row_bytes)(uint32_t t, uint32_t k);

    /* Required. Quantizes one row of k floats to act_type t into dst
     * (row_bytes(t, k) bytes). */
    aria_err (*quantize_row)(uint32_t t, const float *x, void *dst, uint32_t k);

    /* Required. Expands one row of k elements of type t to floats. */
    aria_err (*dequantize_row)(uint32_t t, const void *src, float *dst,
                               uint32_t k);

    /* Required. One matrix product (see aria_mm). The caller guarantees
     * act_type(m->wtype) >= 0 and in-range rows. */
    void (*matmul)(const aria_mm *m);
} aria_kernel_vt;

ARIA_PIN(aria_kernel_vt, family, 8);
ARIA_PIN(aria_kernel_vt, isa, 16);
ARIA_PIN(aria_kernel_vt, score, 24);
ARIA_PIN(aria_kernel_vt, act_type, 32);
ARIA_PIN(aria_kernel_vt, row_bytes, 40);
ARIA_PIN(aria_kernel_vt, quantize_row, 48);
ARIA_PIN(aria_kernel_vt, dequantize_row, 56);
ARIA_PIN(aria_kernel_vt, matmul, 64);

#ifdef __cplusplus
}
#endif
#endif /* ARIA_KERNEL_H */
