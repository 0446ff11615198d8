/* gguf_kernels.c — matrix kernels of the ordinary GGUF types, one source
 * built once per ISA (ARIA_ISA_SCALAR, _AVX2, _AVX512, _NEON) into
 * gguf-kernels-<isa>.so.
 *
 * The scalar variant is the reference: it expands each weight block to
 * floats and multiplies by f32 activations, the most exact result. The SIMD
 * variants quantize activations to 8 bits per block as the reference
 * implementations do (Q8_0 for the _0 types, Q8_K for the K-quants), and
 * must agree with the scalar variant within each type's bound (tests/kernels).
 *
 * Matrix-matrix (n > 1 columns, prompt evaluation) walks columns in tiles so
 * that each weight block is loaded and unpacked once per tile, not once per
 * column. */
#include <aria/aria.h>
#include <aria/gguf.h>
#include <aria/quant.h>

#include <string.h>

#if defined(ARIA_ISA_AVX2) || defined(ARIA_ISA_AVX512)
#include <immintrin.h>
#define HAVE_X86_SIMD 1
#endif
#if defined(ARIA_ISA_NEON)
#include <arm_neon.h>
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
    if ((cpu->features & need) != need)
        return 0;
    return 50 + ((cpu->features & ARIA_CPU_AVX512VNNI) ? 5 : 0);
#elif defined(ARIA_ISA_AVX2)
    uint64_t need = ARIA_CPU_AVX2 | ARIA_CPU_FMA | ARIA_CPU_F16C;
    return (cpu->features & need) == need ? 30 : 0;
#elif defined(ARIA_ISA_NEON)
    return (cpu->features & ARIA_CPU_NEON) ? 20 + ((cpu->features & ARIA_CPU_DOTPROD) ? 5 : 0) : 0;
#else
    (void)cpu;
    return 1;
#endif
}

/* ---- activation types ------------------------------------------------ */

static int k_act_type(uint32_t w)
{
    switch (w) {
    case ARIA_T_F32:
    case ARIA_T_F16:
    case ARIA_T_BF16: return ARIA_T_F32;
#if defined(HAVE_X86_SIMD)
    case ARIA_T_Q8_0:
    case ARIA_T_Q4_0: return ARIA_T_Q8_0;
    case ARIA_T_Q4_K:
    case ARIA_T_Q5_K:
    case ARIA_T_Q6_K: return ARIA_T_Q8_K;
#elif defined(ARIA_ISA_NEON)
    case ARIA_T_Q8_0:
    case ARIA_T_Q4_0: return ARIA_T_Q8_0;
    case ARIA_T_Q4_K:
    case ARIA_T_Q5_K:
    case ARIA_T_Q6_K: return ARIA_T_F32; /* expanded to floats, as scalar */
#else
    case ARIA_T_Q8_0:
    case ARIA_T_Q4_0:
    case ARIA_T_Q4_K:
    case ARIA_T_Q5_K:
    case ARIA_T_Q6_K: return ARIA_T_F32;
#endif
    }
    return -1;
}

static size_t k_row_bytes(uint32_t t, uint32_t k)
{
    return aria_row_bytes(t, k);
}

static aria_err k_dequantize_row(uint32_t t, const void *src, float *dst, uint32_t k)
{
    return aria_dequantize_row(t, src, dst, k);
}

#if defined(HAVE_X86_SIMD)
/* Q8_0 of one row, rounding to nearest even as the vector round does. */
static void quantize_q8_0_simd(const float *x, aria_block_q8_0 *y, uint32_t nb)
{
    const __m256 sign = _mm256_set1_ps(-0.0f);
    for (uint32_t i = 0; i < nb; i++, x += 32) {
        __m256 v0 = _mm256_loadu_ps(x), v1 = _mm256_loadu_ps(x + 8);
        __m256 v2 = _mm256_loadu_ps(x + 16), v3 = _mm256_loadu_ps(x + 24);
        __m256 m = _mm256_max_ps(_mm256_max_ps(_mm256_andnot_ps(sign, v0), _mm256_andnot_ps(sign, v1)),
                                 _mm256_max_ps(_mm256_andnot_ps(sign, v2), _mm256_andnot_ps(sign, v3)));
        __m128 m4 = _mm_max_ps(_mm256_extractf128_ps(m, 1), _mm256_castps256_ps128(m));
        m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
        m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
        float amax = _mm_cvtss_f32(m4);
        float d = amax / 127.f;
        y[i].d = (aria_f16)_cvtss_sh(d, 0);
        __m256 id = _mm256_set1_ps(amax != 0 ? 127.f / amax : 0.0f);
        __m256i i0 = _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(v0, id), _MM_ROUND_NEAREST));
        __m256i i1 = _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(v1, id), _MM_ROUND_NEAREST));
        __m256i i2 = _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(v2, id), _MM_ROUND_NEAREST));
        __m256i i3 = _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(v3, id), _MM_ROUND_NEAREST));
        i0 = _mm256_packs_epi32(i0, i1);
        i2 = _mm256_packs_epi32(i2, i3);
        i0 = _mm256_packs_epi16(i0, i2);
        /* packs works per 128-bit lane: restore element order. */
        i0 = _mm256_permutevar8x32_epi32(i0, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
        _mm256_storeu_si256((__m256i *)y[i].qs, i0);
    }
}
#endif

static aria_err k_quantize_row(uint32_t t, const float *x, void *dst, uint32_t k)
{
#if defined(HAVE_X86_SIMD)
    if (t == ARIA_T_Q8_0) {
        if (k % 32)
            return ARIA_ERR_INVALID;
        quantize_q8_0_simd(x, dst, k / 32);
        return ARIA_OK;
    }
#endif
    return aria_quantize_row(t, x, dst, k);
}

/* ---- the scalar reference -------------------------------------------- */

#define COLS_TILE 4

/* Expands weight blocks to floats 256 at a time and dots them with f32
 * columns: exact up to float summation order. */
static void mm_dequant_f32(const aria_mm *m)
{
    const aria_type_info *ti = aria_type_info_get(m->wtype);
    uint32_t chunk = ti->block >= 256 ? ti->block : 256;
    size_t chunk_bytes = aria_row_bytes(m->wtype, chunk);
    float wf[256];
    for (uint32_t r = m->r0; r < m->r1; r++) {
        const uint8_t *w = (const uint8_t *)m->w + r * m->w_stride;
        for (uint32_t j0 = 0; j0 < m->n; j0 += COLS_TILE) {
            uint32_t nj = m->n - j0 < COLS_TILE ? m->n - j0 : COLS_TILE;
            float acc[COLS_TILE] = {0};
            for (uint32_t i = 0; i < m->k; i += chunk) {
                uint32_t len = m->k - i < chunk ? m->k - i : chunk;
                aria_dequantize_row(m->wtype, w + (size_t)(i / chunk) * chunk_bytes, wf, len);
                for (uint32_t j = 0; j < nj; j++) {
                    const float *x = (const float *)((const uint8_t *)m->x + (j0 + j) * m->x_stride) + i;
                    float s = 0;
                    for (uint32_t l = 0; l < len; l++)
                        s += wf[l] * x[l];
                    acc[j] += s;
                }
            }
            for (uint32_t j = 0; j < nj; j++)
                m->y[(size_t)(j0 + j) * m->y_stride + r] = acc[j] * m->scale;
        }
    }
}

#if defined(HAVE_X86_SIMD)
/* ---- AVX2 ------------------------------------------------------------ */

static inline float hsum_ps(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* Sum of the products of 32 signed bytes, as 8 int32 lanes in floats. */
static inline __m256 dot_i8(__m256i a, __m256i b)
{
    __m256i ax = _mm256_sign_epi8(a, a);
    __m256i sy = _mm256_sign_epi8(b, a);
    __m256i p16 = _mm256_maddubs_epi16(ax, sy);
    return _mm256_cvtepi32_ps(_mm256_madd_epi16(p16, _mm256_set1_epi16(1)));
}

static inline __m256i unpack_q4(const uint8_t *qs)
{
    __m128i b = _mm_loadu_si128((const __m128i *)qs);
    __m256i v = _mm256_set_m128i(_mm_srli_epi16(b, 4), b);
    v = _mm256_and_si256(v, _mm256_set1_epi8(0x0F));
    return _mm256_sub_epi8(v, _mm256_set1_epi8(8));
}

static inline float f16(aria_f16 h)
{
    return _cvtsh_ss(h);
}

/* One Q4_0/Q8_0 block's weights as 32 signed bytes, and its scale. */
static inline __m256i load_q0(const uint8_t *w, int is4, uint32_t b, float *dw)
{
    if (is4) {
        const aria_block_q4_0 *wb = (const aria_block_q4_0 *)w + b;
        *dw = f16(wb->d);
        return unpack_q4(wb->qs);
    }
    const aria_block_q8_0 *wb = (const aria_block_q8_0 *)w + b;
    *dw = f16(wb->d);
    return _mm256_loadu_si256((const __m256i *)wb->qs);
}

/* Generation (one column): four independent accumulators, so that the
 * loop is bound by loads and integer work, not by the latency of a single
 * chain of fused multiply-adds. */
static void mv_q_0(const aria_mm *m)
{
    const uint32_t nb = m->k / 32;
    const int is4 = m->wtype == ARIA_T_Q4_0;
    const aria_block_q8_0 *x = m->x;
    for (uint32_t r = m->r0; r < m->r1; r++) {
        const uint8_t *w = (const uint8_t *)m->w + r * m->w_stride;
        __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        uint32_t b = 0;
        for (; b + 4 <= nb; b += 4) {
            float d0, d1, d2, d3;
            __m256i w0 = load_q0(w, is4, b, &d0), w1 = load_q0(w, is4, b + 1, &d1);
            __m256i w2 = load_q0(w, is4, b + 2, &d2), w3 = load_q0(w, is4, b + 3, &d3);
            a0 = _mm256_fmadd_ps(_mm256_set1_ps(d0 * f16(x[b].d)),
                                 dot_i8(w0, _mm256_loadu_si256((const __m256i *)x[b].qs)), a0);
            a1 = _mm256_fmadd_ps(_mm256_set1_ps(d1 * f16(x[b + 1].d)),
                                 dot_i8(w1, _mm256_loadu_si256((const __m256i *)x[b + 1].qs)), a1);
            a2 = _mm256_fmadd_ps(_mm256_set1_ps(d2 * f16(x[b + 2].d)),
                                 dot_i8(w2, _mm256_loadu_si256((const __m256i *)x[b + 2].qs)), a2);
            a3 = _mm256_fmadd_ps(_mm256_set1_ps(d3 * f16(x[b + 3].d)),
                                 dot_i8(w3, _mm256_loadu_si256((const __m256i *)x[b + 3].qs)), a3);
        }
        for (; b < nb; b++) {
            float d0;
            __m256i w0 = load_q0(w, is4, b, &d0);
            a0 = _mm256_fmadd_ps(_mm256_set1_ps(d0 * f16(x[b].d)),
                                 dot_i8(w0, _mm256_loadu_si256((const __m256i *)x[b].qs)), a0);
        }
        m->y[r] = hsum_ps(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3))) * m->scale;
    }
}

/* Q4_0 or Q8_0 weights times Q8_0 columns, up to COLS_TILE columns per pass
 * so a weight block is unpacked once for all of them. */
static void mm_q_0(const aria_mm *m)
{
    const uint32_t nb = m->k / 32;
    const int is4 = m->wtype == ARIA_T_Q4_0;
    for (uint32_t j0 = 0; j0 < m->n; j0 += COLS_TILE) {
        uint32_t nj = m->n - j0 < COLS_TILE ? m->n - j0 : COLS_TILE;
        const aria_block_q8_0 *xs[COLS_TILE];
        for (uint32_t j = 0; j < nj; j++)
            xs[j] = (const aria_block_q8_0 *)((const uint8_t *)m->x + (j0 + j) * m->x_stride);
        for (uint32_t r = m->r0; r < m->r1; r++) {
            const uint8_t *w = (const uint8_t *)m->w + r * m->w_stride;
            __m256 acc[COLS_TILE];
            for (uint32_t j = 0; j < COLS_TILE; j++)
                acc[j] = _mm256_setzero_ps();
            for (uint32_t b = 0; b < nb; b++) {
                __m256i wq;
                float dw;
                if (is4) {
                    const aria_block_q4_0 *wb = (const aria_block_q4_0 *)w + b;
                    wq = unpack_q4(wb->qs);
                    dw = f16(wb->d);
                } else {
                    const aria_block_q8_0 *wb = (const aria_block_q8_0 *)w + b;
                    wq = _mm256_loadu_si256((const __m256i *)wb->qs);
                    dw = f16(wb->d);
                }
                for (uint32_t j = 0; j < nj; j++) {
                    const aria_block_q8_0 *xb = xs[j] + b;
                    __m256 d = _mm256_set1_ps(dw * f16(xb->d));
                    __m256i xq = _mm256_loadu_si256((const __m256i *)xb->qs);
                    acc[j] = _mm256_fmadd_ps(d, dot_i8(wq, xq), acc[j]);
                }
            }
            for (uint32_t j = 0; j < nj; j++)
                m->y[(size_t)(j0 + j) * m->y_stride + r] = hsum_ps(acc[j]) * m->scale;
        }
    }
}

/* F32, F16 or BF16 weights times f32 columns. */
static inline __m256 load_w8(uint32_t t, const uint8_t *w, uint32_t i)
{
    if (t == ARIA_T_F32)
        return _mm256_loadu_ps((const float *)w + i);
    __m128i h = _mm_loadu_si128((const __m128i *)((const uint16_t *)w + i));
    if (t == ARIA_T_F16)
        return _mm256_cvtph_ps(h);
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}

static void mm_float(const aria_mm *m)
{
    const uint32_t k8 = m->k / 8 * 8;
    for (uint32_t j0 = 0; j0 < m->n; j0 += COLS_TILE) {
        uint32_t nj = m->n - j0 < COLS_TILE ? m->n - j0 : COLS_TILE;
        const float *xs[COLS_TILE];
        for (uint32_t j = 0; j < nj; j++)
            xs[j] = (const float *)((const uint8_t *)m->x + (j0 + j) * m->x_stride);
        for (uint32_t r = m->r0; r < m->r1; r++) {
            const uint8_t *w = (const uint8_t *)m->w + r * m->w_stride;
            __m256 acc[COLS_TILE];
            for (uint32_t j = 0; j < COLS_TILE; j++)
                acc[j] = _mm256_setzero_ps();
            for (uint32_t i = 0; i < k8; i += 8) {
                __m256 wv = load_w8(m->wtype, w, i);
                for (uint32_t j = 0; j < nj; j++)
                    acc[j] = _mm256_fmadd_ps(wv, _mm256_loadu_ps(xs[j] + i), acc[j]);
            }
            for (uint32_t j = 0; j < nj; j++) {
                float s = hsum_ps(acc[j]);
                for (uint32_t i = k8; i < m->k; i++) {
                    float wv = m->wtype == ARIA_T_F32 ? ((const float *)w)[i]
                               : m->wtype == ARIA_T_F16 ? f16(((const uint16_t *)w)[i])
                                                        : aria_bf16_to_f32(((const uint16_t *)w)[i]);
                    s += wv * xs[j][i];
                }
                m->y[(size_t)(j0 + j) * m->y_stride + r] = s * m->scale;
            }
        }
    }
}

static inline void k_scale_min(int j, const uint8_t *q, int *d, int *mn)
{
    if (j < 4) {
        *d = q[j] & 63;
        *mn = q[j + 4] & 63;
    } else {
        *d = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
        *mn = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
    }
}

/* Sum of 32 products of unsigned (0..63) weights by signed activations. */
static inline __m256i dot_u8_i8(__m256i u, __m256i s)
{
    return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1));
}

/* One Q4_K or Q5_K super-block times one Q8_K block. */
static inline float dot_q45_K(const uint8_t *wb, int is5, const aria_block_q8_K *x)
{
    const uint8_t *scales = wb + 4;
    const uint8_t *qh = is5 ? wb + 16 : NULL;
    const uint8_t *qs = wb + (is5 ? 48 : 16);
    float d = f16(*(const aria_f16 *)wb) * x->d, dmin = f16(*(const aria_f16 *)(wb + 2)) * x->d;
    __m256i acc = _mm256_setzero_si256();
    int summ = 0;
    const __m256i low = _mm256_set1_epi8(0x0F);
    for (int j = 0; j < 4; j++) {
        int sc1, m1, sc2, m2;
        k_scale_min(2 * j, scales, &sc1, &m1);
        k_scale_min(2 * j + 1, scales, &sc2, &m2);
        summ += m1 * (x->bsums[4 * j] + x->bsums[4 * j + 1]) +
                m2 * (x->bsums[4 * j + 2] + x->bsums[4 * j + 3]);
        __m256i q = _mm256_loadu_si256((const __m256i *)(qs + 32 * j));
        __m256i lo = _mm256_and_si256(q, low);
        __m256i hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), low);
        if (is5) {
            __m256i h = _mm256_loadu_si256((const __m256i *)qh);
            __m256i b1 = _mm256_set1_epi8((char)(1 << (2 * j))), b2 = _mm256_set1_epi8((char)(2 << (2 * j)));
            lo = _mm256_or_si256(lo, _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(h, b1), b1),
                                                      _mm256_set1_epi8(16)));
            hi = _mm256_or_si256(hi, _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(h, b2), b2),
                                                      _mm256_set1_epi8(16)));
        }
        __m256i x1 = _mm256_loadu_si256((const __m256i *)(x->qs + 64 * j));
        __m256i x2 = _mm256_loadu_si256((const __m256i *)(x->qs + 64 * j + 32));
        acc = _mm256_add_epi32(acc, _mm256_mullo_epi32(dot_u8_i8(lo, x1), _mm256_set1_epi32(sc1)));
        acc = _mm256_add_epi32(acc, _mm256_mullo_epi32(dot_u8_i8(hi, x2), _mm256_set1_epi32(sc2)));
    }
    return d * hsum_ps(_mm256_cvtepi32_ps(acc)) - dmin * (float)summ;
}

/* One Q6_K super-block times one Q8_K block. */
static inline float dot_q6_K(const aria_block_q6_K *w, const aria_block_q8_K *x)
{
    __m256i acc = _mm256_setzero_si256();
    const __m256i low = _mm256_set1_epi8(0x0F), three = _mm256_set1_epi8(3);
    int bias = 0; /* the -32 offset, applied through bsums */
    for (int k = 0; k < 16; k++)
        bias += w->scales[k] * x->bsums[k];
    for (int half = 0; half < 2; half++) {
        const uint8_t *ql = w->ql + 64 * half, *qh = w->qh + 32 * half;
        const int8_t *sc = w->scales + 8 * half;
        const int8_t *xq = x->qs + 128 * half;
        __m256i l0 = _mm256_loadu_si256((const __m256i *)ql);
        __m256i l1 = _mm256_loadu_si256((const __m256i *)(ql + 32));
        __m256i h = _mm256_loadu_si256((const __m256i *)qh);
        __m256i q[4];
        q[0] = _mm256_or_si256(_mm256_and_si256(l0, low), _mm256_slli_epi16(_mm256_and_si256(h, three), 4));
        q[1] = _mm256_or_si256(_mm256_and_si256(l1, low),
                               _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 2), three), 4));
        q[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), low),
                               _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 4), three), 4));
        q[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), low),
                               _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 6), three), 4));
        for (int g = 0; g < 4; g++) {
            __m256i xv = _mm256_loadu_si256((const __m256i *)(xq + 32 * g));
            /* products of unsigned 0..63 with x, by 16-element halves */
            __m256i p = _mm256_maddubs_epi16(q[g], xv);
            __m256i s = _mm256_set_m128i(_mm_set1_epi16(sc[2 * g + 1]), _mm_set1_epi16(sc[2 * g]));
            acc = _mm256_add_epi32(acc, _mm256_madd_epi16(p, s));
        }
    }
    return f16(w->d) * x->d * (hsum_ps(_mm256_cvtepi32_ps(acc)) - 32.0f * (float)bias);
}

static void mm_k(const aria_mm *m)
{
    const uint32_t nb = m->k / 256;
    const size_t bb = aria_row_bytes(m->wtype, 256);
    for (uint32_t j = 0; j < m->n; j++) {
        const aria_block_q8_K *x = (const aria_block_q8_K *)((const uint8_t *)m->x + j * m->x_stride);
        for (uint32_t r = m->r0; r < m->r1; r++) {
            const uint8_t *w = (const uint8_t *)m->w + r * m->w_stride;
            float s = 0;
            for (uint32_t b = 0; b < nb; b++) {
                const uint8_t *wb = w + b * bb;
                s += m->wtype == ARIA_T_Q6_K ? dot_q6_K((const aria_block_q6_K *)wb, x + b)
                                             : dot_q45_K(wb, m->wtype == ARIA_T_Q5_K, x + b);
            }
            m->y[(size_t)j * m->y_stride + r] = s * m->scale;
        }
    }
}
#endif /* HAVE_X86_SIMD */


#if defined(ARIA_ISA_NEON)
/* ---- NEON (ARMv8.0: no dotprod needed) --------------------------------- */

static inline int32x4_t dot16(int8x16_t a, int8x16_t b, int32x4_t acc)
{
    int16x8_t lo = vmull_s8(vget_low_s8(a), vget_low_s8(b));
    int16x8_t hi = vmull_high_s8(a, b);
    return vpadalq_s16(vpadalq_s16(acc, lo), hi);
}

static void mm_q_0(const aria_mm *m)
{
    const uint32_t nb = m->k / 32;
    const int is4 = m->wtype == ARIA_T_Q4_0;
    for (uint32_t j0 = 0; j0 < m->n; j0 += COLS_TILE) {
        uint32_t nj = m->n - j0 < COLS_TILE ? m->n - j0 : COLS_TILE;
        const aria_block_q8_0 *xs[COLS_TILE];
        for (uint32_t j = 0; j < nj; j++)
            xs[j] = (const aria_block_q8_0 *)((const uint8_t *)m->x + (j0 + j) * m->x_stride);
        for (uint32_t r = m->r0; r < m->r1; r++) {
            const uint8_t *w = (const uint8_t *)m->w + r * m->w_stride;
            float32x4_t acc[COLS_TILE];
            for (uint32_t j = 0; j < COLS_TILE; j++)
                acc[j] = vdupq_n_f32(0);
            for (uint32_t b = 0; b < nb; b++) {
                int8x16_t w0, w1;
                float dw;
                if (is4) {
                    const aria_block_q4_0 *wb = (const aria_block_q4_0 *)w + b;
                    uint8x16_t q = vld1q_u8(wb->qs);
                    w0 = vsubq_s8(vreinterpretq_s8_u8(vandq_u8(q, vdupq_n_u8(0x0F))), vdupq_n_s8(8));
                    w1 = vsubq_s8(vreinterpretq_s8_u8(vshrq_n_u8(q, 4)), vdupq_n_s8(8));
                    dw = aria_f16_to_f32(wb->d);
                } else {
                    const aria_block_q8_0 *wb = (const aria_block_q8_0 *)w + b;
                    w0 = vld1q_s8(wb->qs);
                    w1 = vld1q_s8(wb->qs + 16);
                    dw = aria_f16_to_f32(wb->d);
                }
                for (uint32_t j = 0; j < nj; j++) {
                    const aria_block_q8_0 *xb = xs[j] + b;
                    int32x4_t s = dot16(w0, vld1q_s8(xb->qs), vdupq_n_s32(0));
                    s = dot16(w1, vld1q_s8(xb->qs + 16), s);
                    acc[j] = vmlaq_n_f32(acc[j], vcvtq_f32_s32(s), dw * aria_f16_to_f32(xb->d));
                }
            }
            for (uint32_t j = 0; j < nj; j++)
                m->y[(size_t)(j0 + j) * m->y_stride + r] = vaddvq_f32(acc[j]) * m->scale;
        }
    }
}

static inline float32x4_t load_w4(uint32_t t, const uint8_t *w, uint32_t i)
{
    if (t == ARIA_T_F32)
        return vld1q_f32((const float *)w + i);
    uint16x4_t h = vld1_u16((const uint16_t *)w + i);
    if (t == ARIA_T_F16)
        return vcvt_f32_f16(vreinterpret_f16_u16(h));
    return vreinterpretq_f32_u32(vshll_n_u16(h, 16));
}

static void mm_float(const aria_mm *m)
{
    const uint32_t k4 = m->k / 4 * 4;
    for (uint32_t j0 = 0; j0 < m->n; j0 += COLS_TILE) {
        uint32_t nj = m->n - j0 < COLS_TILE ? m->n - j0 : COLS_TILE;
        const float *xs[COLS_TILE];
        for (uint32_t j = 0; j < nj; j++)
            xs[j] = (const float *)((const uint8_t *)m->x + (j0 + j) * m->x_stride);
        for (uint32_t r = m->r0; r < m->r1; r++) {
            const uint8_t *w = (const uint8_t *)m->w + r * m->w_stride;
            float32x4_t acc[COLS_TILE];
            for (uint32_t j = 0; j < COLS_TILE; j++)
                acc[j] = vdupq_n_f32(0);
            for (uint32_t i = 0; i < k4; i += 4) {
                float32x4_t wv = load_w4(m->wtype, w, i);
                for (uint32_t j = 0; j < nj; j++)
                    acc[j] = vfmaq_f32(acc[j], wv, vld1q_f32(xs[j] + i));
            }
            for (uint32_t j = 0; j < nj; j++) {
                float s = vaddvq_f32(acc[j]);
                for (uint32_t i = k4; i < m->k; i++) {
                    float wv = m->wtype == ARIA_T_F32 ? ((const float *)w)[i]
                               : m->wtype == ARIA_T_F16 ? aria_f16_to_f32(((const uint16_t *)w)[i])
                                                        : aria_bf16_to_f32(((const uint16_t *)w)[i]);
                    s += wv * xs[j][i];
                }
                m->y[(size_t)(j0 + j) * m->y_stride + r] = s * m->scale;
            }
        }
    }
}
#endif /* ARIA_ISA_NEON */

static void k_matmul(const aria_mm *m)
{
#if defined(HAVE_X86_SIMD)
    switch (m->wtype) {
    case ARIA_T_F32:
    case ARIA_T_F16:
    case ARIA_T_BF16: mm_float(m); return;
    case ARIA_T_Q4_0:
    case ARIA_T_Q8_0:
        if (m->n == 1)
            mv_q_0(m);
        else
            mm_q_0(m);
        return;
    case ARIA_T_Q4_K:
    case ARIA_T_Q5_K:
    case ARIA_T_Q6_K: mm_k(m); return;
    }
#elif defined(ARIA_ISA_NEON)
    switch (m->wtype) {
    case ARIA_T_F32:
    case ARIA_T_F16:
    case ARIA_T_BF16: mm_float(m); return;
    case ARIA_T_Q4_0:
    case ARIA_T_Q8_0: mm_q_0(m); return;
    }
#endif
    mm_dequant_f32(m);
}

static const aria_kernel_vt kernels = {
    .hdr = {sizeof(aria_kernel_vt), ARIA_KERNEL_VERSION},
    .family = "gguf",
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
    .name = "gguf-kernels-" ISA_NAME,
    .version = ARIA_VERSION_STRING,
    .description = "matrix kernels for F32, F16, BF16, Q8_0, Q4_0, Q4_K, Q5_K, Q6_K (" ISA_NAME ")",
    .n_interfaces = 1,
    .interfaces = ifaces,
};

ARIA_PLUGIN(desc)
