/* ternary_kernels.c — matrix kernels of the ternary types (TQ1_0, TQ2_0,
 * I2_S), one source built per ISA into ternary-kernels-<isa>.so.
 *
 * Activations are quantized per token to int8 with one absmax scale
 * (ARIA_T_I8_ROW), as BitNet b1.58 was trained. A weight is -1, 0 or +1.
 * The SIMD variants never expand a weight to -1/0/+1: they take its stored
 * code c = w + 1 (0, 1 or 2) as an unsigned byte, multiply-add it with the
 * signed activations (vpdpbusd with AVX-512 VNNI, vpmaddubsw on AVX2, sdot
 * on NEON), and subtract the activations' sum once:
 *     sum(w * x) = sum(c * x) - sum(x).
 * To feed whole vectors of codes without shuffles, the activation row also
 * carries the activations permuted into the order in which the weights'
 * bits lie (the "plane" orders below), and the sums of each 256-chunk.
 *
 * Generation (one column) decodes and multiplies in one pass over each
 * row. Prompts decode a tile of rows into codes once and multiply them with
 * a tile of columns held in registers (TR x TC accumulators), so each code
 * and each activation vector loaded feeds several products.
 *
 * The scalar variant expands weights and activations to floats and is the
 * reference; every product of integers below 2^24 is exact in float, so the
 * SIMD variants must match it to rounding. */
#include <aria/aria.h>
#include <aria/gguf.h>
#include <aria/quant.h>

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#if defined(ARIA_ISA_AVX2) || defined(ARIA_ISA_AVX512)
#include <immintrin.h>
#define HAVE_SIMD 1
#elif defined(ARIA_ISA_NEON) || defined(ARIA_ISA_NEONDOT)
#include <arm_neon.h>
#define HAVE_SIMD 1
#define HAVE_NEON 1
#endif

#if defined(ARIA_ISA_AVX512)
#define ISA_NAME "avx512"
#elif defined(ARIA_ISA_AVX2)
#define ISA_NAME "avx2"
#elif defined(ARIA_ISA_NEONDOT)
#define ISA_NAME "neondot"
#elif defined(ARIA_ISA_NEON)
#define ISA_NAME "neon"
#else
#define ISA_NAME "scalar"
#endif

static int k_score(const aria_cpu_info *cpu)
{
#if defined(ARIA_ISA_AVX512)
    uint64_t need = ARIA_CPU_AVX512F | ARIA_CPU_AVX512BW | ARIA_CPU_AVX512VL | ARIA_CPU_AVX512VNNI |
                    ARIA_CPU_AVX2 | ARIA_CPU_FMA | ARIA_CPU_F16C;
    return (cpu->features & need) == need ? 50 : 0;
#elif defined(ARIA_ISA_AVX2)
    uint64_t need = ARIA_CPU_AVX2 | ARIA_CPU_FMA | ARIA_CPU_F16C;
    return (cpu->features & need) == need ? 30 : 0;
#elif defined(ARIA_ISA_NEONDOT)
    /* built with the dot-product extension (sdot) */
    uint64_t need = ARIA_CPU_NEON | ARIA_CPU_DOTPROD;
    return (cpu->features & need) == need ? 25 : 0;
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

/* ---- activation rows ----------------------------------------------------
 *
 * An ARIA_T_I8_ROW row of k activations, as this plugin lays it out:
 *   int8  q[k]          the values, in order (what the reference reads)
 *   float scale         absmax / 127
 *   int32 sum           sum of q
 *   int16 csum[nc]      sum of q over each 256-chunk (nc = ceil(k / 256))
 *   (padding to 64 bytes)
 *   int8  xp[k]         "2-bit plane order", the order of TQ2_0 and I2_S
 *                       bits: in each full 256-chunk, plane p (p = 0..3) is
 *                       64 bytes: q[32p .. 32p+31] then q[128+32p .. +31];
 *                       a last half chunk of 128 stays in order
 *   int8  x1[k/256*320] "TQ1_0 order", when k is a multiple of 256: per
 *                       block, plane n (n = 0..4) is 64 lanes: lanes 0..31
 *                       hold q[32n + m], lanes 32..47 q[160 + 16n + m],
 *                       lanes 48..51 q[240 + 4n + j] (n < 4), the rest 0.
 */
#define TQ1_SPAN 320 /* x1 bytes (and decoded codes) per 256 weights */
#define QH_MASK 0xFFFFFFFFFFFFFull /* 52 bytes: qs[48] and qh[4] */

static size_t act_head(uint32_t k)
{
    return ((size_t)k + 8 + 2 * (((size_t)k + 255) / 256) + 63) & ~(size_t)63;
}

static size_t act_bytes(uint32_t k)
{
    return act_head(k) + k + (k % 256 ? 0 : (size_t)k / 256 * TQ1_SPAN);
}

static size_t k_row_bytes(uint32_t t, uint32_t k)
{
    return t == ARIA_T_I8_ROW ? (k ? act_bytes(k) : 0) : aria_row_bytes(t, k);
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
    uint8_t *h = (uint8_t *)dst + k;
    memcpy(h, &scale, sizeof scale);
    int32_t total = 0;
    for (uint32_t c = 0; c * 256 < k; c++) {
        int32_t s = 0;
        for (uint32_t i = c * 256; i < k && i < c * 256 + 256; i++)
            s += q[i];
        int16_t s16 = (int16_t)s; /* |s| <= 256 * 127 */
        memcpy(h + 8 + 2 * c, &s16, 2);
        total += s;
    }
    memcpy(h + 4, &total, 4);
    int8_t *xp = (int8_t *)dst + act_head(k);
    uint32_t full = k / 256 * 256;
    for (uint32_t c = 0; c < full; c += 256)
        for (int p = 0; p < 4; p++) {
            memcpy(xp + c + 64 * p, q + c + 32 * p, 32);
            memcpy(xp + c + 64 * p + 32, q + c + 128 + 32 * p, 32);
        }
    memcpy(xp + full, q + full, k - full);
    if (k % 256 == 0) {
        int8_t *x1 = xp + k;
        for (uint32_t b = 0; b < k / 256; b++) {
            int8_t *o = x1 + (size_t)b * TQ1_SPAN;
            const int8_t *s = q + 256 * b;
            memset(o, 0, TQ1_SPAN);
            for (int n = 0; n < 5; n++) {
                memcpy(o + 64 * n, s + 32 * n, 32);
                memcpy(o + 64 * n + 32, s + 160 + 16 * n, 16);
                if (n < 4)
                    memcpy(o + 64 * n + 48, s + 240 + 4 * n, 4);
            }
        }
    }
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

/* ---- scalar reference -------------------------------------------------- */

#if !defined(HAVE_SIMD)
static float row_scale(const void *x, uint32_t k)
{
    float s;
    memcpy(&s, (const int8_t *)x + k, sizeof s);
    return s;
}

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
                uint32_t len = m->k - i < 256 ? m->k - i : 256; /* I2_S: 128 at the end */
                if (m->wtype == ARIA_T_I2_S)
                    aria_i2s_dequantize_row(w + i / 4, 1.0f, wf, len);
                else
                    aria_dequantize_row(m->wtype, w + (size_t)(i / 256) * aria_row_bytes(m->wtype, 256),
                                        wf, 256);
                float s = 0;
                for (uint32_t l = 0; l < len; l++)
                    s += wf[l] * (float)x[i + l];
                acc += s;
            }
            m->y[(size_t)j * m->y_stride + r] = acc * sx * m->scale;
        }
    }
}
#endif

#if defined(HAVE_SIMD)
/* ---- vector primitives --------------------------------------------------
 * vi: one vector of VB bytes. vdp(acc, u, s): acc (int32 lanes) += the sums
 * of four products of unsigned bytes u by signed bytes s. */
#if defined(ARIA_ISA_AVX512)
typedef __m512i vi;
#define VB 64
#define TR 4 /* rows per prompt tile */
#define TC 4 /* columns per prompt tile */
static inline vi vload(const void *p) { return _mm512_loadu_si512(p); }
static inline void vstore(void *p, vi v) { _mm512_storeu_si512(p, v); }
static inline vi vzero(void) { return _mm512_setzero_si512(); }
static inline vi vset8(int8_t c) { return _mm512_set1_epi8(c); }
static inline vi vplane(vi q, int shift) { return _mm512_and_si512(_mm512_srli_epi16(q, (unsigned)shift), vset8(3)); }
static inline vi vdp(vi acc, vi u, vi s) { return _mm512_dpbusd_epi32(acc, u, s); }
static inline vi vadd32(vi a, vi b) { return _mm512_add_epi32(a, b); }
static inline int32_t vhsum(vi v) { return _mm512_reduce_add_epi32(v); }
static inline vi vmul3(vi v) { return _mm512_add_epi8(_mm512_add_epi8(v, v), v); }
/* floor(3 v / 256) of each unsigned byte: the leading base-3 digit */
static inline vi vtrit(vi v)
{
    __mmask64 a = _mm512_cmpgt_epu8_mask(v, vset8(85)), b = _mm512_cmpgt_epu8_mask(v, vset8((int8_t)170));
    return _mm512_mask_blend_epi8(b, _mm512_maskz_mov_epi8(a, vset8(1)), vset8(2));
}
static inline float hsum_ps(__m512 v) { return _mm512_reduce_add_ps(v); }
typedef __m512 vf;
static inline vf vf_zero(void) { return _mm512_setzero_ps(); }
static inline vf vf_fma_i(vi a, float d, vf acc) { return _mm512_fmadd_ps(_mm512_cvtepi32_ps(a), _mm512_set1_ps(d), acc); }
/* the 52 bytes of a TQ1_0 block's qs and qh, zero beyond */
static inline void tq1_load(const uint8_t *b, vi v[]) { v[0] = _mm512_maskz_loadu_epi8(QH_MASK, b); }
static inline float f16(aria_f16 h) { return _cvtsh_ss(h); }
#elif defined(ARIA_ISA_AVX2)
typedef __m256i vi;
#define VB 32
#define TR 2
#define TC 4
static inline vi vload(const void *p) { return _mm256_loadu_si256((const __m256i *)p); }
static inline void vstore(void *p, vi v) { _mm256_storeu_si256((__m256i *)p, v); }
static inline vi vzero(void) { return _mm256_setzero_si256(); }
static inline vi vset8(int8_t c) { return _mm256_set1_epi8(c); }
static inline vi vplane(vi q, int shift) { return _mm256_and_si256(_mm256_srli_epi16(q, shift), vset8(3)); }
static inline vi vdp(vi acc, vi u, vi s)
{
    /* |pair sum| <= 2 * 2 * 127: vpmaddubsw cannot saturate */
    return _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1)));
}
static inline vi vadd32(vi a, vi b) { return _mm256_add_epi32(a, b); }
static inline int32_t vhsum(vi v)
{
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
    return _mm_cvtsi128_si32(s);
}
static inline vi vmul3(vi v) { return _mm256_add_epi8(_mm256_add_epi8(v, v), v); }
static inline vi vtrit(vi v)
{
    vi a = _mm256_cmpeq_epi8(_mm256_max_epu8(v, vset8(86)), v);
    vi b = _mm256_cmpeq_epi8(_mm256_max_epu8(v, vset8((int8_t)171)), v);
    return _mm256_sub_epi8(_mm256_sub_epi8(vzero(), a), b);
}
typedef __m256 vf;
static inline vf vf_zero(void) { return _mm256_setzero_ps(); }
static inline vf vf_fma_i(vi a, float d, vf acc) { return _mm256_fmadd_ps(_mm256_cvtepi32_ps(a), _mm256_set1_ps(d), acc); }
static inline float hsum_ps(vf v)
{
    __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s4 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
    s4 = _mm_add_ss(s4, _mm_movehdup_ps(s4));
    return _mm_cvtss_f32(s4);
}
static inline void tq1_load(const uint8_t *b, vi v[])
{
    v[0] = vload(b);
    /* qs[32..47] and qh: five dwords, the rest zero (no read past the block) */
    v[1] = _mm256_maskload_epi32((const int *)(b + 32), _mm256_setr_epi32(-1, -1, -1, -1, -1, 0, 0, 0));
}
static inline float f16(aria_f16 h) { return _cvtsh_ss(h); }
#else /* NEON; sdot where the dot-product extension is built in */
typedef uint8x16_t vi;
#define VB 16
#define TR 4
#define TC 4
static inline vi vload(const void *p) { return vld1q_u8((const uint8_t *)p); }
static inline void vstore(void *p, vi v) { vst1q_u8((uint8_t *)p, v); }
static inline vi vzero(void) { return vdupq_n_u8(0); }
static inline vi vset8(int8_t c) { return vdupq_n_u8((uint8_t)c); }
static inline vi vplane(vi q, int shift)
{
    return vandq_u8(vshlq_u8(q, vdupq_n_s8((int8_t)-shift)), vdupq_n_u8(3));
}
/* codes 0..2 are the same as signed bytes: signed products are exact */
static inline vi vdp(vi acc, vi u, vi s)
{
#if defined(__ARM_FEATURE_DOTPROD)
    return vreinterpretq_u8_s32(vdotq_s32(vreinterpretq_s32_u8(acc), vreinterpretq_s8_u8(u), vreinterpretq_s8_u8(s)));
#else
    int8x16_t a = vreinterpretq_s8_u8(u), b = vreinterpretq_s8_u8(s);
    int32x4_t r = vpadalq_s16(vreinterpretq_s32_u8(acc), vmull_s8(vget_low_s8(a), vget_low_s8(b)));
    return vreinterpretq_u8_s32(vpadalq_s16(r, vmull_high_s8(a, b)));
#endif
}
static inline vi vadd32(vi a, vi b)
{
    return vreinterpretq_u8_s32(vaddq_s32(vreinterpretq_s32_u8(a), vreinterpretq_s32_u8(b)));
}
static inline int32_t vhsum(vi v) { return vaddvq_s32(vreinterpretq_s32_u8(v)); }
static inline vi vmul3(vi v) { return vmulq_u8(v, vdupq_n_u8(3)); }
static inline vi vtrit(vi v)
{
    return vsubq_u8(vsubq_u8(vdupq_n_u8(0), vcgtq_u8(v, vdupq_n_u8(85))), vcgtq_u8(v, vdupq_n_u8(170)));
}
typedef float32x4_t vf;
static inline vf vf_zero(void) { return vdupq_n_f32(0); }
static inline vf vf_fma_i(vi a, float d, vf acc)
{
    return vfmaq_n_f32(acc, vcvtq_f32_s32(vreinterpretq_s32_u8(a)), d);
}
static inline float hsum_ps(vf v) { return vaddvq_f32(v); }
static inline void tq1_load(const uint8_t *b, vi v[])
{
    v[0] = vld1q_u8(b);
    v[1] = vld1q_u8(b + 16);
    v[2] = vld1q_u8(b + 32);
    uint32_t qh;
    memcpy(&qh, b + 48, 4);
    v[3] = vreinterpretq_u8_u32(vsetq_lane_u32(qh, vdupq_n_u32(0), 0));
}
static inline float f16(aria_f16 h) { return aria_f16_to_f32(h); }
#endif

#define NV (64 / VB) /* vectors per 64-byte plane */

/* ---- weights: codes in plane order --------------------------------------
 * Each 256 weights of a row, whatever the type, are read as planes of 64
 * codes (0, 1, 2) whose activations are the same planes of xp (TQ2_0,
 * I2_S) or x1 (TQ1_0). TQ2_0 keeps, in qs byte 32h + j, the weights
 * 128h + 32l + j at bits 2l; I2_S, in byte 32g + j of each 128-group g, the
 * weight 32p + j at bits 6 - 2p; TQ1_0's qs byte m holds 5 base-3 digits
 * (m < 32: weights 32n + m; else 160 + 16n + m - 32) and qh byte j four
 * (240 + 4n + j), each read as the leading digit of (byte * 3^n) mod 256. */

typedef struct wrow {
    uint32_t t, k;
    const uint8_t *w;
} wrow;

static inline float block_d(const wrow *r, uint32_t b)
{
    aria_f16 h;
    if (r->t == ARIA_T_TQ2_0)
        memcpy(&h, r->w + (size_t)b * sizeof(aria_block_tq2_0) + offsetof(aria_block_tq2_0, d), 2);
    else
        memcpy(&h, r->w + (size_t)b * sizeof(aria_block_tq1_0) + offsetof(aria_block_tq1_0, d), 2);
    return f16(h);
}

/* Whether every block of the row has the same scale (always for I2_S, and
 * for TQ1_0/TQ2_0 converted from BitNet's per-tensor scale): the row then
 * accumulates in integers to the end. */
static int row_uniform(const wrow *r, float *d)
{
    if (r->t == ARIA_T_I2_S) {
        *d = 1.0f;
        return 1;
    }
    size_t bs = r->t == ARIA_T_TQ2_0 ? sizeof(aria_block_tq2_0) : sizeof(aria_block_tq1_0);
    size_t off = r->t == ARIA_T_TQ2_0 ? offsetof(aria_block_tq2_0, d) : offsetof(aria_block_tq1_0, d);
    uint16_t h0, h;
    memcpy(&h0, r->w + off, 2);
    for (uint32_t b = 1; b < r->k / 256; b++) {
        memcpy(&h, r->w + b * bs + off, 2);
        if (h != h0)
            return 0;
    }
    *d = f16(h0);
    return 1;
}

/* Bytes of plane-order codes (and activations) per 256 weights. */
static inline size_t chunk_span(uint32_t t) { return t == ARIA_T_TQ1_0 ? TQ1_SPAN : 256; }

/* Plane n of a chunk's 2-bit codes from its bits qv: TQ2_0 keeps plane n at
 * bits 2n, I2_S at bits 6 - 2n. */
static inline vi plane2(uint32_t t, vi qv, int n) { return vplane(qv, t == ARIA_T_TQ2_0 ? 2 * n : 6 - 2 * n); }

static inline const uint8_t *chunk_bits(const wrow *r, uint32_t b)
{
    return r->t == ARIA_T_TQ2_0   ? r->w + (size_t)b * sizeof(aria_block_tq2_0)
           : r->t == ARIA_T_TQ1_0 ? r->w + (size_t)b * sizeof(aria_block_tq1_0)
                                  : r->w + (size_t)b * 64;
}

/* Integer sum of codes * activations over 256-chunk b into acc[0..4]; xo:
 * the activations in the weights' plane order (xp, or x1 for TQ1_0).
 * Decodes and multiplies in one pass (decode_row below stores the same
 * codes instead: measured, sharing one decoder between them cost 5% of
 * TQ1_0 generation). */
static inline void chunk_dot(const wrow *r, uint32_t b, const int8_t *xo, vi acc[5])
{
    const int8_t *xb = xo + chunk_span(r->t) * b;
    if (r->t == ARIA_T_TQ1_0) {
        vi v[NV];
        tq1_load(chunk_bits(r, b), v);
        for (int n = 0; n < 5; n++)
            for (int s = 0; s < NV; s++) {
                acc[n] = vdp(acc[n], vtrit(v[s]), vload(xb + 64 * n + VB * s));
                v[s] = vmul3(v[s]);
            }
        return;
    }
    for (int s = 0; s < NV; s++) {
        vi qv = vload(chunk_bits(r, b) + VB * s);
        for (int n = 0; n < 4; n++)
            acc[n] = vdp(acc[n], plane2(r->t, qv, n), vload(xb + 64 * n + VB * s));
    }
}

/* Code of weight i (< 128) of I2_S's last half chunk (k % 256 == 128). */
static inline int i2s_tail_code(const wrow *r, uint32_t i)
{
    return (r->w[r->k / 256 * 64 + i % 32] >> (6 - 2 * (i / 32))) & 3;
}

/* I2_S's last half chunk, in order: sum of w * x. */
static int32_t i2s_tail(const wrow *r, const int8_t *q)
{
    const int8_t *qt = q + r->k / 256 * 256;
    int32_t s = 0;
    for (uint32_t i = 0; i < 128; i++)
        s += (i2s_tail_code(r, i) - 1) * qt[i];
    return s;
}

typedef struct xrow {
    const int8_t *q, *xp, *x1;
    float s;
    int32_t sum;
    const uint8_t *csum;
} xrow;

static xrow xrow_at(const aria_mm *m, uint32_t j)
{
    const uint8_t *p = (const uint8_t *)m->x + (size_t)j * m->x_stride;
    xrow x = {.q = (const int8_t *)p, .xp = (const int8_t *)p + act_head(m->k), .csum = p + m->k + 8};
    x.x1 = x.xp + m->k;
    memcpy(&x.s, p + m->k, 4);
    memcpy(&x.sum, p + m->k + 4, 4);
    return x;
}

/* x's activations in the plane order of weights of type t. */
static inline const int8_t *x_planes(const xrow *x, uint32_t t) { return t == ARIA_T_TQ1_0 ? x->x1 : x->xp; }

static inline int32_t csum_at(const xrow *x, uint32_t c)
{
    int16_t v;
    memcpy(&v, x->csum + 2 * c, 2);
    return v;
}

static inline vi sum5(const vi a[5])
{
    return vadd32(vadd32(vadd32(a[0], a[1]), vadd32(a[2], a[3])), a[4]);
}

/* dot(W row, x) in units of the weights' codes, before x's scale. */
static float mv_row(const wrow *r, const xrow *x)
{
    const uint32_t nb = r->k / 256;
    const int8_t *xo = x_planes(x, r->t);
    float d;
    if (row_uniform(r, &d)) {
        vi acc[5] = {vzero(), vzero(), vzero(), vzero(), vzero()};
        for (uint32_t b = 0; b < nb; b++)
            chunk_dot(r, b, xo, acc);
        int32_t full = vhsum(sum5(acc)) - x->sum;
        if (r->k % 256) /* I2_S only: the tail's activations go to its own sum */
            full += csum_at(x, nb) + i2s_tail(r, x->q);
        return d * (float)full;
    }
    /* block scales differ: a float sum of d_b * (codes . x - sum of x) */
    vf f = vf_zero();
    float corr = 0;
    for (uint32_t b = 0; b < nb; b++) {
        vi a[5] = {vzero(), vzero(), vzero(), vzero(), vzero()};
        chunk_dot(r, b, xo, a);
        float db = block_d(r, b);
        f = vf_fma_i(sum5(a), db, f);
        corr += db * (float)csum_at(x, b);
    }
    return hsum_ps(f) - corr;
}

/* Bytes of a row's codes in plane order. */
static size_t code_span(uint32_t t, uint32_t k)
{
    return (size_t)k / 256 * chunk_span(t) + k % 256;
}

/* Writes the row's codes in plane order into c (code_span bytes). */
static void decode_row(const wrow *r, uint8_t *c)
{
    const uint32_t nb = r->k / 256;
    const size_t span = chunk_span(r->t);
    for (uint32_t b = 0; b < nb; b++) {
        uint8_t *cb = c + span * b;
        vi v[NV];
        if (r->t == ARIA_T_TQ1_0) {
            tq1_load(chunk_bits(r, b), v);
            for (int n = 0; n < 5; n++)
                for (int s = 0; s < NV; s++) {
                    vstore(cb + 64 * n + VB * s, vtrit(v[s]));
                    v[s] = vmul3(v[s]);
                }
            continue;
        }
        for (int s = 0; s < NV; s++) {
            v[s] = vload(chunk_bits(r, b) + VB * s);
            for (int n = 0; n < 4; n++)
                vstore(cb + 64 * n + VB * s, plane2(r->t, v[s], n));
        }
    }
    if (r->k % 256) /* I2_S's half chunk, in order */
        for (uint32_t i = 0; i < 128; i++)
            c[256 * nb + i] = (uint8_t)i2s_tail_code(r, i);
}

/* TR x TC integer dots of code rows c[] with activation columns x[], over
 * kp bytes (a multiple of 64). */
#if defined(ARIA_ISA_AVX2)
/* Without VNNI a product pair costs vpmaddubsw + vpmaddwd + vpaddd; here the
 * pairs accumulate in 16 bits (|pair| <= 508, so 64 steps stay below
 * 32767) and widen once per 64 steps. */
static inline __attribute__((always_inline)) void tile(const uint8_t *const c[TR], const int8_t *const x[TC],
                                                       size_t kp, int32_t out[TR][TC])
{
    __m256i acc[TR][TC];
    const __m256i ones = _mm256_set1_epi16(1);
    for (int i = 0; i < TR; i++)
        for (int j = 0; j < TC; j++)
            acc[i][j] = vzero();
    for (size_t o0 = 0; o0 < kp; o0 += 64 * VB) {
        const size_t o1 = kp - o0 < 64 * VB ? kp : o0 + 64 * VB;
        __m256i a16[TR][TC];
        for (int i = 0; i < TR; i++)
            for (int j = 0; j < TC; j++)
                a16[i][j] = vzero();
        for (size_t o = o0; o < o1; o += VB) {
            __m256i xv[TC];
            for (int j = 0; j < TC; j++)
                xv[j] = vload(x[j] + o);
            for (int i = 0; i < TR; i++) {
                __m256i w = vload(c[i] + o);
                for (int j = 0; j < TC; j++)
                    a16[i][j] = _mm256_add_epi16(a16[i][j], _mm256_maddubs_epi16(w, xv[j]));
            }
        }
        for (int i = 0; i < TR; i++)
            for (int j = 0; j < TC; j++)
                acc[i][j] = _mm256_add_epi32(acc[i][j], _mm256_madd_epi16(a16[i][j], ones));
    }
    for (int i = 0; i < TR; i++)
        for (int j = 0; j < TC; j++)
            out[i][j] = vhsum(acc[i][j]);
}
#else
static inline __attribute__((always_inline)) void tile(const uint8_t *const c[TR], const int8_t *const x[TC],
                                                       size_t kp, int32_t out[TR][TC])
{
    vi acc[TR][TC];
    for (int i = 0; i < TR; i++)
        for (int j = 0; j < TC; j++)
            acc[i][j] = vzero();
    for (size_t o = 0; o < kp; o += VB) {
        vi xv[TC];
        for (int j = 0; j < TC; j++)
            xv[j] = vload(x[j] + o);
        for (int i = 0; i < TR; i++) {
            vi w = vload(c[i] + o);
            for (int j = 0; j < TC; j++)
                acc[i][j] = vdp(acc[i][j], w, xv[j]);
        }
    }
    for (int i = 0; i < TR; i++)
        for (int j = 0; j < TC; j++)
            out[i][j] = vhsum(acc[i][j]);
}
#endif

/* Code buffers of the prompt tiles: one per thread, grown as needed. */
static pthread_key_t buf_key;
static pthread_once_t buf_once = PTHREAD_ONCE_INIT;
typedef struct cbuf {
    size_t cap;
    uint8_t *p;
} cbuf;
static void buf_free(void *b)
{
    if (b) {
        free(((cbuf *)b)->p);
        free(b);
    }
}
static void buf_init(void) { (void)pthread_key_create(&buf_key, buf_free); }

static uint8_t *codes_buffer(size_t need)
{
    pthread_once(&buf_once, buf_init);
    cbuf *b = pthread_getspecific(buf_key);
    if (!b) {
        if (!(b = calloc(1, sizeof *b)))
            return NULL;
        if (pthread_setspecific(buf_key, b) != 0) {
            free(b);
            return NULL;
        }
    }
    if (b->cap < need) {
        void *p = NULL;
        if (posix_memalign(&p, 64, need) != 0)
            return NULL;
        free(b->p);
        b->p = p;
        b->cap = need;
    }
    return b->p;
}

static void mm_simd(const aria_mm *m)
{
    const uint8_t *W = m->w;
    if (m->n == 1) {
        const xrow x = xrow_at(m, 0);
        for (uint32_t r = m->r0; r < m->r1; r++) {
            const wrow w = {m->wtype, m->k, W + r * m->w_stride};
            m->y[r] = mv_row(&w, &x) * x.s * m->scale;
        }
        return;
    }
    const size_t span = code_span(m->wtype, m->k);
    uint8_t *buf = codes_buffer(span * TR);
    for (uint32_t r = m->r0; r < m->r1; r += TR) {
        /* rows with one scale go through the tiles; others one by one */
        const uint8_t *c[TR];
        float d[TR];
        uint32_t rows[TR];
        int nt = 0;
        for (uint32_t i = r; i < r + TR && i < m->r1; i++) {
            const wrow w = {m->wtype, m->k, W + i * m->w_stride};
            if (buf && m->k % 256 == 0 && row_uniform(&w, &d[nt])) {
                decode_row(&w, buf + span * (size_t)nt);
                c[nt] = buf + span * (size_t)nt;
                rows[nt++] = i;
                continue;
            }
            for (uint32_t j = 0; j < m->n; j++) {
                const xrow x = xrow_at(m, j);
                m->y[(size_t)j * m->y_stride + i] = mv_row(&w, &x) * x.s * m->scale;
            }
        }
        if (!nt)
            continue;
        for (int i = nt; i < TR; i++)
            c[i] = c[nt - 1]; /* a short tile repeats its last row */
        for (uint32_t j = 0; j < m->n; j += TC) {
            xrow xs[TC];
            const int8_t *xv[TC];
            for (int jj = 0; jj < TC; jj++) {
                xs[jj] = xrow_at(m, j + jj < m->n ? j + jj : m->n - 1);
                xv[jj] = x_planes(&xs[jj], m->wtype);
            }
            int32_t out[TR][TC];
            tile(c, xv, span, out);
            for (int i = 0; i < nt; i++)
                for (int jj = 0; jj < TC && j + jj < m->n; jj++)
                    m->y[(size_t)(j + jj) * m->y_stride + rows[i]] =
                        d[i] * (float)(out[i][jj] - xs[jj].sum) * xs[jj].s * m->scale;
        }
    }
}
#endif /* HAVE_SIMD */

static void k_matmul(const aria_mm *m)
{
#if defined(HAVE_SIMD)
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
