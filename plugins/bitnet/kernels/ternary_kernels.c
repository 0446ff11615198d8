/* ternary_kernels.c — matrix kernels of the ternary types (TQ1_0, TQ2_0,
 * I2_S), one source built per ISA into ternary-kernels-<isa>.so.
 *
 * Activations are quantized per token to int8 with one absmax scale
 * (ARIA_T_I8_ROW), as BitNet b1.58 was trained. A weight is -1, 0 or +1, so
 * a product is the activation, its negation or nothing: the SIMD variants
 * apply the weight as a sign (vpsignb) and sum bytes, with no multiply.
 *
 * The scalar variant expands weights and activations to floats and is the
 * reference; every product of integers below 2^24 is exact in float, so the
 * SIMD variants must match it to rounding. */
#include <aria/aria.h>
#include <aria/gguf.h>
#include <aria/quant.h>

#include <math.h>
#include <string.h>

#if defined(ARIA_ISA_AVX2) || defined(ARIA_ISA_AVX512)
#include <immintrin.h>
#define HAVE_X86_SIMD 1
#endif

#if defined(ARIA_ISA_AVX512)
#define ISA_NAME "avx512"
#elif defined(ARIA_ISA_AVX2)
#define ISA_NAME "avx2"
#elif defined(ARIA_ISA_NEON)
#define ISA_NAME "neon"
#else
#define ISA_NAME "scalar"
#endif

static int k_score(const aria_cpu_info *cpu)
{
#if defined(ARIA_ISA_AVX512)
    uint64_t need = ARIA_CPU_AVX512F | ARIA_CPU_AVX512BW | ARIA_CPU_AVX512VL | ARIA_CPU_AVX2 |
                    ARIA_CPU_FMA | ARIA_CPU_F16C;
    return (cpu->features & need) == need ? 50 : 0;
#elif defined(ARIA_ISA_AVX2)
    uint64_t need = ARIA_CPU_AVX2 | ARIA_CPU_FMA | ARIA_CPU_F16C;
    return (cpu->features & need) == need ? 30 : 0;
#elif defined(ARIA_ISA_NEON)
    return (cpu->features & ARIA_CPU_NEON) ? 20 : 0;
#else
    (void)cpu;
    return 1;
#endif
}

static int k_act_type(uint32_t w)
{
    return w == ARIA_T_TQ1_0 || w == ARIA_T_TQ2_0 || w == ARIA_T_I2_S ? ARIA_T_I8_ROW : -1;
}

static size_t k_row_bytes(uint32_t t, uint32_t k)
{
    return aria_row_bytes(t, k);
}

/* int8 per row: q = round(x * 127 / absmax), scale = absmax / 127. */
static aria_err k_quantize_row(uint32_t t, const float *x, void *dst, uint32_t k)
{
    if (t != ARIA_T_I8_ROW)
        return aria_quantize_row(t, x, dst, k);
    float amax = 0;
    for (uint32_t i = 0; i < k; i++)
        amax = fmaxf(amax, fabsf(x[i]));
    float id = amax > 0 ? 127.0f / amax : 0.0f, scale = amax / 127.0f;
    int8_t *q = dst;
    for (uint32_t i = 0; i < k; i++) {
        float v = nearbyintf(x[i] * id);
        q[i] = (int8_t)(v > 127 ? 127 : v < -127 ? -127 : v);
    }
    memcpy(q + k, &scale, sizeof scale);
    return ARIA_OK;
}

static aria_err k_dequantize_row(uint32_t t, const void *src, float *dst, uint32_t k)
{
    if (t == ARIA_T_I8_ROW) {
        float s;
        memcpy(&s, (const int8_t *)src + k, sizeof s);
        for (uint32_t i = 0; i < k; i++)
            dst[i] = ((const int8_t *)src)[i] * s;
        return ARIA_OK;
    }
    return aria_dequantize_row(t, src, dst, k);
}

static float row_scale(const void *x, uint32_t k)
{
    float s;
    memcpy(&s, (const int8_t *)x + k, sizeof s);
    return s;
}

/* ---- scalar reference -------------------------------------------------- */

#if !defined(HAVE_X86_SIMD)
static void mm_ref(const aria_mm *m)
{
    float wf[256];
    for (uint32_t j = 0; j < m->n; j++) {
        const int8_t *x = (const int8_t *)((const uint8_t *)m->x + j * m->x_stride);
        float sx = row_scale(x, m->k);
        for (uint32_t r = m->r0; r < m->r1; r++) {
            const uint8_t *w = (const uint8_t *)m->w + r * m->w_stride;
            float acc = 0;
            for (uint32_t i = 0; i < m->k; i += 256) {
                if (m->wtype == ARIA_T_I2_S)
                    aria_i2s_dequantize_row(w + i / 4, 1.0f, wf, 256);
                else
                    aria_dequantize_row(m->wtype, w + (size_t)(i / 256) * aria_row_bytes(m->wtype, 256),
                                        wf, 256);
                float s = 0;
                for (uint32_t l = 0; l < 256; l++)
                    s += wf[l] * (float)x[i + l];
                acc += s;
            }
            m->y[(size_t)j * m->y_stride + r] = acc * sx * m->scale;
        }
    }
}

#endif

#if defined(HAVE_X86_SIMD)
/* ---- AVX2 -------------------------------------------------------------- */

static inline float hsum_i32(__m256i v)
{
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
    return (float)_mm_cvtsi128_si32(s);
}

/* Adds x * (code - 1) for 32 codes 0..2 into 16-bit pair sums. */
static inline __m256i tdot(__m256i codes, __m256i x, __m256i acc16)
{
    const __m256i one = _mm256_set1_epi8(1);
    __m256i p = _mm256_sign_epi8(x, _mm256_sub_epi8(codes, one));
    return _mm256_add_epi16(acc16, _mm256_maddubs_epi16(one, p));
}

/* TQ2_0: 2-bit codes, block of 256 = two halves of 32 bytes x 4 planes. */
static inline float tq2_block(const aria_block_tq2_0 *b, const int8_t *x)
{
    const __m256i three = _mm256_set1_epi8(3);
    __m256i acc = _mm256_setzero_si256();
    for (int h = 0; h < 2; h++) {
        __m256i q = _mm256_loadu_si256((const __m256i *)(b->qs + 32 * h));
        const int8_t *xh = x + 128 * h;
        acc = tdot(_mm256_and_si256(q, three), _mm256_loadu_si256((const __m256i *)xh), acc);
        acc = tdot(_mm256_and_si256(_mm256_srli_epi16(q, 2), three),
                   _mm256_loadu_si256((const __m256i *)(xh + 32)), acc);
        acc = tdot(_mm256_and_si256(_mm256_srli_epi16(q, 4), three),
                   _mm256_loadu_si256((const __m256i *)(xh + 64)), acc);
        acc = tdot(_mm256_and_si256(_mm256_srli_epi16(q, 6), three),
                   _mm256_loadu_si256((const __m256i *)(xh + 96)), acc);
    }
    return _cvtsh_ss(b->d) * hsum_i32(_mm256_madd_epi16(acc, _mm256_set1_epi16(1)));
}

/* TQ1_0: five trits per byte as a base-3 fraction; trit n of byte q is
 * ((q * 3^n mod 256) * 3) >> 8. Decoded 16 bytes at a time in 16-bit lanes. */
static inline __m256i trits16(__m128i q8, int n)
{
    static const int16_t pow3[5] = {1, 3, 9, 27, 81};
    __m256i q = _mm256_cvtepu8_epi16(q8);
    q = _mm256_and_si256(_mm256_mullo_epi16(q, _mm256_set1_epi16(pow3[n])), _mm256_set1_epi16(0xFF));
    return _mm256_srli_epi16(_mm256_mullo_epi16(q, _mm256_set1_epi16(3)), 8);
}

/* 32 trits (as bytes 0..2) from two 16-byte groups. */
static inline __m256i trits32(__m128i a, __m128i b, int n)
{
    __m256i p = _mm256_packus_epi16(trits16(a, n), trits16(b, n));
    return _mm256_permute4x64_epi64(p, 0xD8);
}

/* trits16 with a multiplier per lane (for the qh bytes). */
static inline __m256i trits16m(__m128i q8, __m256i mult)
{
    __m256i q = _mm256_cvtepu8_epi16(q8);
    q = _mm256_and_si256(_mm256_mullo_epi16(q, mult), _mm256_set1_epi16(0xFF));
    return _mm256_srli_epi16(_mm256_mullo_epi16(q, _mm256_set1_epi16(3)), 8);
}

static inline float tq1_block(const aria_block_tq1_0 *b, const int8_t *x)
{
    __m256i acc = _mm256_setzero_si256();
    __m128i q0 = _mm_loadu_si128((const __m128i *)b->qs);
    __m128i q1 = _mm_loadu_si128((const __m128i *)(b->qs + 16));
    __m128i q2 = _mm_loadu_si128((const __m128i *)(b->qs + 32));
    for (int n = 0; n < 5; n++) /* 160 values: byte m holds m + 32n */
        acc = tdot(trits32(q0, q1, n), _mm256_loadu_si256((const __m256i *)(x + 32 * n)), acc);
    /* 80 values: byte 32 + m holds 160 + m + 16n; two n per 32-lane step */
    for (int n = 0; n < 4; n += 2) {
        __m256i c = _mm256_permute4x64_epi64(_mm256_packus_epi16(trits16(q2, n), trits16(q2, n + 1)), 0xD8);
        acc = tdot(c, _mm256_loadu_si256((const __m256i *)(x + 160 + 16 * n)), acc);
    }
    /* the last plane of those 16 bytes (224..239) and the 16 values of qh
     * (240..255: qh[j] holds 240 + j + 4n) in one 32-lane step */
    uint32_t qh;
    memcpy(&qh, b->qh, 4);
    const __m256i mult = _mm256_setr_epi16(1, 1, 1, 1, 3, 3, 3, 3, 9, 9, 9, 9, 27, 27, 27, 27);
    __m256i c = _mm256_permute4x64_epi64(
        _mm256_packus_epi16(trits16(q2, 4), trits16m(_mm_set1_epi32((int)qh), mult)), 0xD8);
    acc = tdot(c, _mm256_loadu_si256((const __m256i *)(x + 224)), acc);
    return _cvtsh_ss(b->d) * hsum_i32(_mm256_madd_epi16(acc, _mm256_set1_epi16(1)));
}

/* I2_S: groups of 128, byte j holds element 32g + j at bits 6 - 2g; one
 * scale per tensor, so whole rows accumulate in integers. */
static inline __m256i i2s_group(const uint8_t *q8, const int8_t *x, __m256i acc)
{
    const __m256i three = _mm256_set1_epi8(3);
    __m256i q = _mm256_loadu_si256((const __m256i *)q8);
    acc = tdot(_mm256_and_si256(_mm256_srli_epi16(q, 6), three), _mm256_loadu_si256((const __m256i *)x), acc);
    acc = tdot(_mm256_and_si256(_mm256_srli_epi16(q, 4), three),
               _mm256_loadu_si256((const __m256i *)(x + 32)), acc);
    acc = tdot(_mm256_and_si256(_mm256_srli_epi16(q, 2), three),
               _mm256_loadu_si256((const __m256i *)(x + 64)), acc);
    return tdot(_mm256_and_si256(q, three), _mm256_loadu_si256((const __m256i *)(x + 96)), acc);
}

/* ---- prompts: decode a row once, reuse it for every column ------------- */

#define MAX_DECODE 32768 /* row length decoded on the stack */

/* Writes the row's weights as int8 -1/0/+1 into c[k] and each 256-block's
 * scale into d[k/256] (I2_S: 1, its scale is per tensor). */
static void decode_row(uint32_t t, const uint8_t *w, uint32_t k, int8_t *c, float *d)
{
    const __m256i three = _mm256_set1_epi8(3), one = _mm256_set1_epi8(1);
    if (t == ARIA_T_I2_S) {
        for (uint32_t g = 0; g < k; g += 128) {
            __m256i q = _mm256_loadu_si256((const __m256i *)(w + g / 4));
            for (int p = 0; p < 4; p++)
                _mm256_storeu_si256((__m256i *)(c + g + 32 * p),
                                    _mm256_sub_epi8(_mm256_and_si256(_mm256_srli_epi16(q, 6 - 2 * p), three), one));
        }
        for (uint32_t b = 0; b < k / 256; b++)
            d[b] = 1.0f;
    } else if (t == ARIA_T_TQ2_0) {
        const aria_block_tq2_0 *bl = (const aria_block_tq2_0 *)w;
        for (uint32_t b = 0; b < k / 256; b++) {
            d[b] = _cvtsh_ss(bl[b].d);
            for (int h = 0; h < 2; h++) {
                __m256i q = _mm256_loadu_si256((const __m256i *)(bl[b].qs + 32 * h));
                for (int l = 0; l < 4; l++)
                    _mm256_storeu_si256((__m256i *)(c + 256 * b + 128 * h + 32 * l),
                                        _mm256_sub_epi8(_mm256_and_si256(_mm256_srli_epi16(q, 2 * l), three), one));
            }
        }
    } else {
        const aria_block_tq1_0 *bl = (const aria_block_tq1_0 *)w;
        const __m256i mult = _mm256_setr_epi16(1, 1, 1, 1, 3, 3, 3, 3, 9, 9, 9, 9, 27, 27, 27, 27);
        for (uint32_t b = 0; b < k / 256; b++) {
            int8_t *cb = c + 256 * b;
            d[b] = _cvtsh_ss(bl[b].d);
            __m128i q0 = _mm_loadu_si128((const __m128i *)bl[b].qs);
            __m128i q1 = _mm_loadu_si128((const __m128i *)(bl[b].qs + 16));
            __m128i q2 = _mm_loadu_si128((const __m128i *)(bl[b].qs + 32));
            for (int n = 0; n < 5; n++)
                _mm256_storeu_si256((__m256i *)(cb + 32 * n), _mm256_sub_epi8(trits32(q0, q1, n), one));
            for (int n = 0; n < 4; n += 2)
                _mm256_storeu_si256((__m256i *)(cb + 160 + 16 * n),
                                    _mm256_sub_epi8(_mm256_permute4x64_epi64(
                                        _mm256_packus_epi16(trits16(q2, n), trits16(q2, n + 1)), 0xD8), one));
            uint32_t qh;
            memcpy(&qh, bl[b].qh, 4);
            __m256i cc = _mm256_permute4x64_epi64(
                _mm256_packus_epi16(trits16(q2, 4), trits16m(_mm_set1_epi32((int)qh), mult)), 0xD8);
            _mm256_storeu_si256((__m256i *)(cb + 224), _mm256_sub_epi8(cc, one));
        }
    }
}

/* Sum over blocks of d[b] * sum(c * x), with c in {-1, 0, 1}. */
static inline float dot_codes(const int8_t *c, const float *d, const int8_t *x, uint32_t k,
                              int per_tensor)
{
    const __m256i one = _mm256_set1_epi8(1), ones16 = _mm256_set1_epi16(1);
    if (per_tensor) {
        __m256i a32 = _mm256_setzero_si256();
        for (uint32_t i = 0; i < k; i += 1024) {
            __m256i a16 = _mm256_setzero_si256();
            for (uint32_t j = i; j < i + 1024 && j < k; j += 32) {
                __m256i p = _mm256_sign_epi8(_mm256_loadu_si256((const __m256i *)(x + j)),
                                             _mm256_loadu_si256((const __m256i *)(c + j)));
                a16 = _mm256_add_epi16(a16, _mm256_maddubs_epi16(one, p));
            }
            a32 = _mm256_add_epi32(a32, _mm256_madd_epi16(a16, ones16));
        }
        return hsum_i32(a32);
    }
    __m256 acc = _mm256_setzero_ps();
    for (uint32_t b = 0; b < k / 256; b++) {
        __m256i a16 = _mm256_setzero_si256();
        for (uint32_t j = 256 * b; j < 256 * b + 256; j += 32) {
            __m256i p = _mm256_sign_epi8(_mm256_loadu_si256((const __m256i *)(x + j)),
                                         _mm256_loadu_si256((const __m256i *)(c + j)));
            a16 = _mm256_add_epi16(a16, _mm256_maddubs_epi16(one, p));
        }
        acc = _mm256_fmadd_ps(_mm256_set1_ps(d[b]), _mm256_cvtepi32_ps(_mm256_madd_epi16(a16, ones16)), acc);
    }
    __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps(acc, 1));
    s4 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
    s4 = _mm_add_ss(s4, _mm_movehdup_ps(s4));
    return _mm_cvtss_f32(s4);
}

/* Generation (one column) streams each row once through the fused
 * decode-and-dot kernels; prompts decode a row once into int8 codes and
 * reuse them for every column. */
static void mm_simd(const aria_mm *m)
{
    const __m256i ones = _mm256_set1_epi16(1);
    if (m->n > 1 && m->k <= MAX_DECODE) {
        int8_t codes[MAX_DECODE] __attribute__((aligned(32)));
        float d[MAX_DECODE / 256];
        const int per_tensor = m->wtype == ARIA_T_I2_S;
        for (uint32_t r = m->r0; r < m->r1; r++) {
            decode_row(m->wtype, (const uint8_t *)m->w + r * m->w_stride, m->k, codes, d);
            for (uint32_t j = 0; j < m->n; j++) {
                const int8_t *x = (const int8_t *)((const uint8_t *)m->x + j * m->x_stride);
                m->y[(size_t)j * m->y_stride + r] =
                    dot_codes(codes, d, x, m->k, per_tensor) * row_scale(x, m->k) * m->scale;
            }
        }
        return;
    }
    for (uint32_t r = m->r0; r < m->r1; r++) {
        const uint8_t *w = (const uint8_t *)m->w + r * m->w_stride;
        for (uint32_t j = 0; j < m->n; j++) {
            const int8_t *x = (const int8_t *)((const uint8_t *)m->x + j * m->x_stride);
            const float sx = row_scale(x, m->k);
            float acc = 0;
            if (m->wtype == ARIA_T_I2_S) {
                __m256i a32 = _mm256_setzero_si256();
                for (uint32_t i = 0; i < m->k; i += 1024) {
                    /* 8 groups at most per 16-bit sum: |sum| <= 8 * 4 * 254 */
                    __m256i a16 = _mm256_setzero_si256();
                    for (uint32_t g = i; g < i + 1024 && g < m->k; g += 128)
                        a16 = i2s_group(w + g / 4, x + g, a16);
                    a32 = _mm256_add_epi32(a32, _mm256_madd_epi16(a16, ones));
                }
                acc = hsum_i32(a32);
            } else if (m->wtype == ARIA_T_TQ2_0) {
                const aria_block_tq2_0 *b = (const aria_block_tq2_0 *)w;
                for (uint32_t i = 0; i < m->k / 256; i++)
                    acc += tq2_block(b + i, x + 256 * i);
            } else {
                const aria_block_tq1_0 *b = (const aria_block_tq1_0 *)w;
                for (uint32_t i = 0; i < m->k / 256; i++)
                    acc += tq1_block(b + i, x + 256 * i);
            }
            m->y[(size_t)j * m->y_stride + r] = acc * sx * m->scale;
        }
    }
}
#endif /* HAVE_X86_SIMD */

static void k_matmul(const aria_mm *m)
{
#if defined(HAVE_X86_SIMD)
    mm_simd(m);
#else
    mm_ref(m);
#endif
}

static const aria_kernel_vt kernels = {
    .hdr = {sizeof(aria_kernel_vt), ARIA_KERNEL_VERSION},
    .family = "ternary",
    .isa = ISA_NAME,
    .score = k_score,
    .act_type = k_act_type,
    .row_bytes = k_row_bytes,
    .quantize_row = k_quantize_row,
    .dequantize_row = k_dequantize_row,
    .matmul = k_matmul,
};

static const aria_interface ifaces[] = {
    {.kind = ARIA_IFACE_KERNEL, .vtable = &kernels},
};

static const aria_plugin_desc desc = {
    .abi_major = ARIA_ABI_MAJOR,
    .abi_minor = ARIA_ABI_MINOR,
    .struct_size = sizeof(aria_plugin_desc),
    .name = "ternary-kernels-" ISA_NAME,
    .version = ARIA_VERSION_STRING,
    .description = "matrix kernels for TQ1_0, TQ2_0, I2_S with int8 activations (" ISA_NAME ")",
    .n_interfaces = 1,
    .interfaces = ifaces,
};

ARIA_PLUGIN(desc)
