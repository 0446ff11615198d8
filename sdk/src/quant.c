/* quant.c — reference conversions between f32 and the GGUF block formats.
 *
 * Slow and obvious on purpose: this is the definition the kernels are tested
 * against and what `aria-core quantize` writes. Rounding follows ggml's
 * reference functions (roundf for Q8_0, +8.5 truncation for Q4_0, the
 * 1.5·2^23 trick for nearest-even in Q8_K, lroundf for the ternary types). */
#include <aria/gguf.h>
#include <aria/quant.h>

#include <math.h>
#include <string.h>

float aria_f16_to_f32(aria_f16 h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f, mant = h & 0x3ff, bits;
    if (exp == 0x1f) {
        bits = sign | 0x7f800000u | mant << 13; /* inf or nan */
    } else if (exp == 0) {
        if (mant == 0) {
            bits = sign;
        } else { /* subnormal: normalize */
            int e = -1;
            do {
                mant <<= 1;
                e++;
            } while (!(mant & 0x400));
            bits = sign | (uint32_t)(127 - 15 - e) << 23 | (mant & 0x3ff) << 13;
        }
    } else {
        bits = sign | (exp + 127 - 15) << 23 | mant << 13;
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

aria_f16 aria_f32_to_f16(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000;
    uint32_t absx = x & 0x7fffffffu;
    if (absx >= 0x7f800000u) /* inf, nan (keep a quiet nan) */
        return (aria_f16)(sign | 0x7c00 | (absx > 0x7f800000u ? 0x200 | ((absx >> 13) & 0x3ff) : 0));
    if (absx >= 0x477ff000u) /* rounds to >= 65520: overflow to inf */
        return (aria_f16)(sign | 0x7c00);
    if (absx < 0x38800000u) { /* below the smallest normal half: subnormal */
        if (absx < 0x33000000u) /* < 2^-25: rounds to zero */
            return (aria_f16)sign;
        uint32_t e = absx >> 23;
        uint32_t m = (absx & 0x7fffff) | 0x800000;
        uint32_t shift = 126 - e; /* 14 - (e - 127) + 13 - 1 ... see below */
        /* value = m * 2^(e-150); half subnormal unit is 2^-24, so the
         * result is m * 2^(e-126) rounded: shift right by 126 - e. */
        uint32_t r = m >> shift;
        uint32_t rem = m & ((1u << shift) - 1), half = 1u << (shift - 1);
        if (rem > half || (rem == half && (r & 1)))
            r++;
        return (aria_f16)(sign | r);
    }
    uint32_t r = ((absx >> 13) - ((127 - 15) << 10));
    uint32_t rem = absx & 0x1fff;
    if (rem > 0x1000 || (rem == 0x1000 && (r & 1)))
        r++; /* may carry into the exponent, which is right */
    return (aria_f16)(sign | r);
}

float aria_bf16_to_f32(aria_bf16 h)
{
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

aria_bf16 aria_f32_to_bf16(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    if ((x & 0x7fffffffu) > 0x7f800000u) /* nan: keep it quiet */
        return (aria_bf16)((x >> 16) | 64);
    return (aria_bf16)((x + (0x7fff + ((x >> 16) & 1))) >> 16);
}

size_t aria_row_bytes(uint32_t t, uint64_t k)
{
    if (t == ARIA_T_I2_S)
        return k % 128 ? 0 : (size_t)(k / 4);
    if (t == ARIA_T_I8_ROW)
        return (size_t)k + sizeof(float);
    const aria_type_info *ti = aria_type_info_get(t);
    if (!ti || k % ti->block)
        return 0;
    return (size_t)(k / ti->block * ti->block_bytes);
}

/* The value of largest magnitude, with its sign. */
static float signed_absmax(const float *x, int n, float *amax_out)
{
    float amax = 0, max = 0;
    for (int j = 0; j < n; j++)
        if (amax < fabsf(x[j])) {
            amax = fabsf(x[j]);
            max = x[j];
        }
    *amax_out = amax;
    return max;
}

static int nearest_int(float f)
{
    float v = f + 12582912.f;
    int i;
    memcpy(&i, &v, 4);
    return (i & 0x007fffff) - 0x00400000;
}

static void quantize_q8_0(const float *x, aria_block_q8_0 *y, uint64_t nb)
{
    for (uint64_t i = 0; i < nb; i++, x += 32) {
        float amax = 0;
        for (int j = 0; j < 32; j++)
            amax = fmaxf(amax, fabsf(x[j]));
        float d = amax / 127, id = d ? 1.0f / d : 0.0f;
        y[i].d = aria_f32_to_f16(d);
        for (int j = 0; j < 32; j++)
            y[i].qs[j] = (int8_t)roundf(x[j] * id);
    }
}

static void quantize_q4_0(const float *x, aria_block_q4_0 *y, uint64_t nb)
{
    for (uint64_t i = 0; i < nb; i++, x += 32) {
        float amax, max = signed_absmax(x, 32, &amax);
        float d = max / -8, id = d ? 1.0f / d : 0.0f;
        y[i].d = aria_f32_to_f16(d);
        for (int j = 0; j < 16; j++) {
            int a = (int8_t)(x[j] * id + 8.5f), b = (int8_t)(x[j + 16] * id + 8.5f);
            uint8_t xi0 = (uint8_t)(a < 15 ? a : 15), xi1 = (uint8_t)(b < 15 ? b : 15);
            y[i].qs[j] = (uint8_t)(xi0 | xi1 << 4);
        }
    }
}

static void quantize_q8_K(const float *x, aria_block_q8_K *y, uint64_t nb)
{
    for (uint64_t i = 0; i < nb; i++, x += 256) {
        float amax, max = signed_absmax(x, 256, &amax);
        if (!amax) {
            memset(&y[i], 0, sizeof y[i]);
            continue;
        }
        float iscale = -127.f / max;
        for (int j = 0; j < 256; j++) {
            int v = nearest_int(iscale * x[j]);
            y[i].qs[j] = (int8_t)(v < 127 ? v : 127);
        }
        for (int j = 0; j < 16; j++) {
            int s = 0;
            for (int l = 0; l < 16; l++)
                s += y[i].qs[j * 16 + l];
            y[i].bsums[j] = (int16_t)s;
        }
        y[i].d = 1 / iscale;
    }
}

static uint8_t trit(float v, float id)
{
    return (uint8_t)(lroundf(v * id) + 1); /* -1, 0, 1 -> 0, 1, 2 */
}

static float block_absmax(const float *x, int n)
{
    float amax = 0;
    for (int j = 0; j < n; j++)
        amax = fmaxf(amax, fabsf(x[j]));
    return amax;
}

static void quantize_tq2_0(const float *x, aria_block_tq2_0 *y, uint64_t nb)
{
    for (uint64_t i = 0; i < nb; i++) {
        float d = block_absmax(x, 256), id = d ? 1.0f / d : 0.0f;
        y[i].d = aria_f32_to_f16(d);
        for (int j = 0; j < 64; j += 32, x += 128)
            for (int m = 0; m < 32; m++) {
                uint8_t q = 0;
                for (int n = 0; n < 4; n++)
                    q = (uint8_t)(q + ((trit(x[m + n * 32], id) & 3) << (2 * n)));
                y[i].qs[j + m] = q;
            }
    }
}

/* Five trits q0..q4 as one byte: the base-3 number 0.q0q1q2q3q4 scaled to
 * 256 and rounded up, so that multiplying by 3^n and taking the top bits
 * recovers trit n. */
static uint8_t pack_trits(const uint8_t *t, int n, int pad)
{
    unsigned q = 0;
    for (int k = 0; k < n; k++)
        q = q * 3 + t[k];
    for (int k = 0; k < pad; k++)
        q *= 3;
    return (uint8_t)((q * 256 + 242) / 243);
}

static void quantize_tq1_0(const float *x, aria_block_tq1_0 *y, uint64_t nb)
{
    for (uint64_t i = 0; i < nb; i++) {
        float d = block_absmax(x, 256), id = d ? 1.0f / d : 0.0f;
        y[i].d = aria_f32_to_f16(d);
        uint8_t t[5];
        for (int m = 0; m < 32; m++) { /* 160 values: byte m holds m + 32n */
            for (int n = 0; n < 5; n++)
                t[n] = trit(x[m + n * 32], id);
            y[i].qs[m] = pack_trits(t, 5, 0);
        }
        x += 160;
        for (int m = 0; m < 16; m++) { /* 80 values: byte 32 + m holds m + 16n */
            for (int n = 0; n < 5; n++)
                t[n] = trit(x[m + n * 16], id);
            y[i].qs[32 + m] = pack_trits(t, 5, 0);
        }
        x += 80;
        for (int j = 0; j < 4; j++) { /* 16 values: qh[j] holds j + 4n */
            for (int n = 0; n < 4; n++)
                t[n] = trit(x[j + n * 4], id);
            y[i].qh[j] = pack_trits(t, 4, 1);
        }
        x += 16;
    }
}

aria_err aria_quantize_row(uint32_t t, const float *x, void *dst, uint64_t k)
{
    size_t rb = aria_row_bytes(t, k);
    if (!rb)
        return ARIA_ERR_INVALID;
    switch (t) {
    case ARIA_T_F32: memcpy(dst, x, k * 4); break;
    case ARIA_T_F16:
        for (uint64_t i = 0; i < k; i++)
            ((aria_f16 *)dst)[i] = aria_f32_to_f16(x[i]);
        break;
    case ARIA_T_BF16:
        for (uint64_t i = 0; i < k; i++)
            ((aria_bf16 *)dst)[i] = aria_f32_to_bf16(x[i]);
        break;
    case ARIA_T_Q8_0: quantize_q8_0(x, dst, k / 32); break;
    case ARIA_T_Q4_0: quantize_q4_0(x, dst, k / 32); break;
    case ARIA_T_Q8_K: quantize_q8_K(x, dst, k / 256); break;
    case ARIA_T_TQ2_0: quantize_tq2_0(x, dst, k / 256); break;
    case ARIA_T_TQ1_0: quantize_tq1_0(x, dst, k / 256); break;
    default: return ARIA_ERR_UNSUPPORTED;
    }
    return ARIA_OK;
}

/* 6-bit scale and min j of a K-quant super-block. */
static void scale_min_k4(int j, const uint8_t *q, uint8_t *d, uint8_t *m)
{
    if (j < 4) {
        *d = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *d = (uint8_t)((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
        *m = (uint8_t)((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
    }
}

static void dequant_q4_K(const aria_block_q4_K *x, float *y, uint64_t nb)
{
    for (uint64_t i = 0; i < nb; i++) {
        float d = aria_f16_to_f32(x[i].d), dmin = aria_f16_to_f32(x[i].dmin);
        const uint8_t *q = x[i].qs;
        for (int j = 0, is = 0; j < 256; j += 64, is += 2, q += 32) {
            uint8_t sc, m;
            scale_min_k4(is, x[i].scales, &sc, &m);
            float d1 = d * sc, m1 = dmin * m;
            scale_min_k4(is + 1, x[i].scales, &sc, &m);
            float d2 = d * sc, m2 = dmin * m;
            for (int l = 0; l < 32; l++)
                *y++ = d1 * (q[l] & 0xF) - m1;
            for (int l = 0; l < 32; l++)
                *y++ = d2 * (q[l] >> 4) - m2;
        }
    }
}

static void dequant_q5_K(const aria_block_q5_K *x, float *y, uint64_t nb)
{
    for (uint64_t i = 0; i < nb; i++) {
        float d = aria_f16_to_f32(x[i].d), dmin = aria_f16_to_f32(x[i].dmin);
        const uint8_t *ql = x[i].qs, *qh = x[i].qh;
        uint8_t u1 = 1, u2 = 2;
        for (int j = 0, is = 0; j < 256; j += 64, is += 2, ql += 32, u1 <<= 2, u2 <<= 2) {
            uint8_t sc, m;
            scale_min_k4(is, x[i].scales, &sc, &m);
            float d1 = d * sc, m1 = dmin * m;
            scale_min_k4(is + 1, x[i].scales, &sc, &m);
            float d2 = d * sc, m2 = dmin * m;
            for (int l = 0; l < 32; l++)
                *y++ = d1 * ((ql[l] & 0xF) + (qh[l] & u1 ? 16 : 0)) - m1;
            for (int l = 0; l < 32; l++)
                *y++ = d2 * ((ql[l] >> 4) + (qh[l] & u2 ? 16 : 0)) - m2;
        }
    }
}

static void dequant_q6_K(const aria_block_q6_K *x, float *y, uint64_t nb)
{
    for (uint64_t i = 0; i < nb; i++) {
        float d = aria_f16_to_f32(x[i].d);
        const uint8_t *ql = x[i].ql, *qh = x[i].qh;
        const int8_t *sc = x[i].scales;
        for (int n = 0; n < 256; n += 128, y += 128, ql += 64, qh += 32, sc += 8)
            for (int l = 0; l < 32; l++) {
                int is = l / 16;
                int q1 = ((ql[l] & 0xF) | ((qh[l] >> 0) & 3) << 4) - 32;
                int q2 = ((ql[l + 32] & 0xF) | ((qh[l] >> 2) & 3) << 4) - 32;
                int q3 = ((ql[l] >> 4) | ((qh[l] >> 4) & 3) << 4) - 32;
                int q4 = ((ql[l + 32] >> 4) | ((qh[l] >> 6) & 3) << 4) - 32;
                y[l] = d * sc[is] * q1;
                y[l + 32] = d * sc[is + 2] * q2;
                y[l + 64] = d * sc[is + 4] * q3;
                y[l + 96] = d * sc[is + 6] * q4;
            }
    }
}

/* Trit n of a byte packed by pack_trits. */
static int unpack_trit(uint8_t q, int n)
{
    static const uint8_t pow3[5] = {1, 3, 9, 27, 81};
    uint8_t s = (uint8_t)(q * pow3[n]);
    return ((uint16_t)s * 3) >> 8;
}

aria_err aria_dequantize_row(uint32_t t, const void *src, float *y, uint64_t k)
{
    if (!aria_row_bytes(t, k) || t == ARIA_T_I2_S)
        return ARIA_ERR_INVALID;
    switch (t) {
    case ARIA_T_F32: memcpy(y, src, k * 4); break;
    case ARIA_T_F16:
        for (uint64_t i = 0; i < k; i++)
            y[i] = aria_f16_to_f32(((const aria_f16 *)src)[i]);
        break;
    case ARIA_T_BF16:
        for (uint64_t i = 0; i < k; i++)
            y[i] = aria_bf16_to_f32(((const aria_bf16 *)src)[i]);
        break;
    case ARIA_T_Q8_0: {
        const aria_block_q8_0 *x = src;
        for (uint64_t i = 0; i < k / 32; i++) {
            float d = aria_f16_to_f32(x[i].d);
            for (int j = 0; j < 32; j++)
                *y++ = x[i].qs[j] * d;
        }
        break;
    }
    case ARIA_T_Q4_0: {
        const aria_block_q4_0 *x = src;
        for (uint64_t i = 0; i < k / 32; i++, y += 32) {
            float d = aria_f16_to_f32(x[i].d);
            for (int j = 0; j < 16; j++) {
                y[j] = ((x[i].qs[j] & 0xF) - 8) * d;
                y[j + 16] = ((x[i].qs[j] >> 4) - 8) * d;
            }
        }
        break;
    }
    case ARIA_T_Q8_K: {
        const aria_block_q8_K *x = src;
        for (uint64_t i = 0; i < k / 256; i++)
            for (int j = 0; j < 256; j++)
                *y++ = x[i].d * x[i].qs[j];
        break;
    }
    case ARIA_T_Q4_K: dequant_q4_K(src, y, k / 256); break;
    case ARIA_T_Q5_K: dequant_q5_K(src, y, k / 256); break;
    case ARIA_T_Q6_K: dequant_q6_K(src, y, k / 256); break;
    case ARIA_T_TQ2_0: {
        const aria_block_tq2_0 *x = src;
        for (uint64_t i = 0; i < k / 256; i++) {
            float d = aria_f16_to_f32(x[i].d);
            for (int j = 0; j < 64; j += 32)
                for (int l = 0; l < 4; l++)
                    for (int m = 0; m < 32; m++)
                        *y++ = (float)(((x[i].qs[j + m] >> (2 * l)) & 3) - 1) * d;
        }
        break;
    }
    case ARIA_T_TQ1_0: {
        const aria_block_tq1_0 *x = src;
        for (uint64_t i = 0; i < k / 256; i++) {
            float d = aria_f16_to_f32(x[i].d);
            for (int n = 0; n < 5; n++)
                for (int m = 0; m < 32; m++)
                    *y++ = (float)(unpack_trit(x[i].qs[m], n) - 1) * d;
            for (int n = 0; n < 5; n++)
                for (int m = 0; m < 16; m++)
                    *y++ = (float)(unpack_trit(x[i].qs[32 + m], n) - 1) * d;
            for (int n = 0; n < 4; n++)
                for (int j = 0; j < 4; j++)
                    *y++ = (float)(unpack_trit(x[i].qh[j], n) - 1) * d;
        }
        break;
    }
    default: return ARIA_ERR_UNSUPPORTED;
    }
    return ARIA_OK;
}

void aria_i2s_dequantize_row(const uint8_t *src, float scale, float *dst, uint64_t k)
{
    for (uint64_t g0 = 0; g0 < k; g0 += 128, src += 32)
        for (int g = 0; g < 4; g++)
            for (int j = 0; j < 32; j++)
                dst[g0 + (uint64_t)g * 32 + (uint64_t)j] =
                    (float)(((src[j] >> (6 - 2 * g)) & 3) - 1) * scale;
}

void aria_i2s_pack_row(const int8_t *q, uint8_t *dst, uint64_t k)
{
    for (uint64_t g0 = 0; g0 < k; g0 += 128, dst += 32)
        for (int j = 0; j < 32; j++) {
            uint8_t b = 0;
            for (int g = 0; g < 4; g++)
                b = (uint8_t)(b | (uint8_t)(q[g0 + (uint64_t)g * 32 + (uint64_t)j] + 1) << (6 - 2 * g));
            dst[j] = b;
        }
}
