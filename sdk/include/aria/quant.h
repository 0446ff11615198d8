/* aria/quant.h — the weight and activation formats, bit for bit as GGUF
 * stores them, with reference (scalar) conversion to and from f32.
 *
 * These are the definitions every kernel variant is tested against: the
 * block structs below are the bytes in the file, and quantize/dequantize
 * follow ggml's reference implementations so that a file written here loads
 * unchanged elsewhere and the other way round. */
#ifndef ARIA_QUANT_H
#define ARIA_QUANT_H

#include "common.h"
#include "kernel.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef uint16_t aria_f16;  /* IEEE half, bits */
typedef uint16_t aria_bf16; /* bfloat16, bits */

#define ARIA_QK 32   /* elements per block of the _0 types */
#define ARIA_QK_K 256 /* elements per super-block of the K and ternary types */

typedef struct {
    aria_f16 d;
    int8_t qs[32];
} aria_block_q8_0; /* 34 bytes */

typedef struct {
    aria_f16 d;
    uint8_t qs[16]; /* element j in the low nibble of byte j, j + 16 high */
} aria_block_q4_0; /* 18 bytes */

typedef struct {
    float d;
    int8_t qs[256];
    int16_t bsums[16]; /* sums of each 16 qs, for the K-quant mins */
} aria_block_q8_K; /* 292 bytes */

typedef struct {
    aria_f16 d, dmin;
    uint8_t scales[12]; /* 8 pairs of 6-bit (scale, min) */
    uint8_t qs[128];
} aria_block_q4_K; /* 144 bytes */

typedef struct {
    aria_f16 d, dmin;
    uint8_t scales[12];
    uint8_t qh[32];
    uint8_t qs[128];
} aria_block_q5_K; /* 176 bytes */

typedef struct {
    uint8_t ql[128];
    uint8_t qh[64];
    int8_t scales[16];
    aria_f16 d;
} aria_block_q6_K; /* 210 bytes */

typedef struct {
    uint8_t qs[64]; /* 4 per byte, 2 bits each: 0 = -1, 1 = 0, 2 = +1 */
    aria_f16 d;
} aria_block_tq2_0; /* 66 bytes */

typedef struct {
    uint8_t qs[48]; /* 5 trits per byte, base-3 fixed point */
    uint8_t qh[4];  /* 4 trits per byte */
    aria_f16 d;
} aria_block_tq1_0; /* 54 bytes */

ARIA_STATIC_ASSERT(sizeof(aria_block_q8_0) == 34, "q8_0 layout");
ARIA_STATIC_ASSERT(sizeof(aria_block_q4_0) == 18, "q4_0 layout");
ARIA_STATIC_ASSERT(sizeof(aria_block_q8_K) == 292, "q8_K layout");
ARIA_STATIC_ASSERT(sizeof(aria_block_q4_K) == 144, "q4_K layout");
ARIA_STATIC_ASSERT(sizeof(aria_block_q5_K) == 176, "q5_K layout");
ARIA_STATIC_ASSERT(sizeof(aria_block_q6_K) == 210, "q6_K layout");
ARIA_STATIC_ASSERT(sizeof(aria_block_tq2_0) == 66, "tq2_0 layout");
ARIA_STATIC_ASSERT(sizeof(aria_block_tq1_0) == 54, "tq1_0 layout");

/* Half and bfloat16 conversions, round to nearest even (as F16C and ggml). */
float aria_f16_to_f32(aria_f16 h);
aria_f16 aria_f32_to_f16(float f);
float aria_bf16_to_f32(aria_bf16 h);
aria_bf16 aria_f32_to_bf16(float f);

/* Bytes of one row of k elements of type t (any aria_type except I2_S, whose
 * rows are k / 4 bytes with the scale after the whole tensor); 0 if k is not
 * a whole number of blocks or t is unknown. */
size_t aria_row_bytes(uint32_t t, uint64_t k);

/* Reference quantization of one row of k floats into dst (aria_row_bytes(t,
 * k) bytes). Types: F32, F16, BF16, Q8_0, Q4_0, Q8_K, TQ1_0, TQ2_0.
 * ARIA_ERR_UNSUPPORTED for the others; ARIA_ERR_INVALID if k does not fit. */
aria_err aria_quantize_row(uint32_t t, const float *x, void *dst, uint64_t k);

/* Reference dequantization of one row. Types: F32, F16, BF16, Q8_0, Q4_0,
 * Q8_K, Q4_K, Q5_K, Q6_K, TQ1_0, TQ2_0. I2_S rows are dequantized with
 * aria_i2s_dequantize_row (they need the tensor's scale). */
aria_err aria_dequantize_row(uint32_t t, const void *src, float *dst, uint64_t k);

/* I2_S (bitnet.cpp): 4 weights per byte in groups of 128: byte j of a group
 * holds element g*32 + j at bits 6 - 2g (g = 0..3); codes 0 = -1, 1 = 0,
 * 2 = +1. The tensor's single f32 scale follows its packed data. */
void aria_i2s_dequantize_row(const uint8_t *src, float scale, float *dst, uint64_t k);
/* Packs k ternary values (-1, 0, +1; k a multiple of 128) into k / 4 bytes. */
void aria_i2s_pack_row(const int8_t *q, uint8_t *dst, uint64_t k);

#ifdef __cplusplus
}
#endif
#endif /* ARIA_QUANT_H */
