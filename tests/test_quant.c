/* test_quant.c — the reference formats: half/bfloat conversions against the
 * hardware, quantize-dequantize error bounds, and lossless ternary packing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <aria/gguf.h>
#include <aria/quant.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint32_t next_u32(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 16);
}
static float next_f(void) { return (float)((double)next_u32() / 4294967296.0 * 2 - 1); }

/* Every half converts to the float it denotes and back to itself. */
static void test_f16_roundtrip_all(void **state)
{
    (void)state;
    for (uint32_t h = 0; h < 65536; h++) {
        float f = aria_f16_to_f32((aria_f16)h);
        if (isnan(f))
            continue;
        assert_int_equal(aria_f32_to_f16(f), h);
    }
    assert_true(aria_f16_to_f32(0x3c00) == 1.0f);
    assert_true(aria_f16_to_f32(0xc000) == -2.0f);
    assert_true(aria_f16_to_f32(0x0001) == ldexpf(1, -24));
    assert_true(isinf(aria_f16_to_f32(aria_f32_to_f16(70000.0f))));
    assert_true(isnan(aria_f16_to_f32(aria_f32_to_f16(NAN))));
}

#if defined(__x86_64__)
__attribute__((target("f16c"))) static uint16_t hw_f16(float f)
{
    return (uint16_t)_cvtss_sh(f, 0);
}
#endif

/* Rounding of arbitrary floats matches F16C (round to nearest even). */
static void test_f16_matches_hardware(void **state)
{
    (void)state;
#if defined(__x86_64__)
    if (!__builtin_cpu_supports("f16c"))
        skip();
    for (int i = 0; i < 2000000; i++) {
        uint32_t bits = next_u32() << 1 ^ next_u32();
        float f;
        memcpy(&f, &bits, 4);
        if (isnan(f))
            continue;
        uint16_t want = hw_f16(f), got = aria_f32_to_f16(f);
        if (want != got)
            fail_msg("f32 %08x: hardware %04x, ours %04x", bits, want, got);
    }
#else
    skip();
#endif
}

static void test_bf16(void **state)
{
    (void)state;
    assert_int_equal(aria_f32_to_bf16(1.0f), 0x3f80);
    assert_true(aria_bf16_to_f32(0x3f80) == 1.0f);
    /* 1 + 2^-8 is a tie between 1 and 1 + 2^-7: even wins. */
    assert_int_equal(aria_f32_to_bf16(1.0f + ldexpf(1, -8)), 0x3f80);
    assert_int_equal(aria_f32_to_bf16(1.0f + 3 * ldexpf(1, -8)), 0x3f82);
    assert_true(isnan(aria_bf16_to_f32(aria_f32_to_bf16(NAN))));
}

/* Quantize then dequantize stays within the type's step. */
static void check_roundtrip(uint32_t t, uint64_t k, float tol_of_absmax)
{
    float *x = malloc(k * 4), *y = malloc(k * 4);
    void *q = malloc(aria_row_bytes(t, k));
    for (uint64_t i = 0; i < k; i++)
        x[i] = next_f() * 3;
    assert_int_equal(aria_quantize_row(t, x, q, k), ARIA_OK);
    assert_int_equal(aria_dequantize_row(t, q, y, k), ARIA_OK);
    for (uint64_t i = 0; i < k; i++)
        if (fabsf(x[i] - y[i]) > tol_of_absmax * 3)
            fail_msg("type %u element %llu: %g -> %g", t, (unsigned long long)i, x[i], y[i]);
    free(x);
    free(y);
    free(q);
}

static void test_roundtrip_bounds(void **state)
{
    (void)state;
    check_roundtrip(ARIA_T_F32, 64, 0);
    check_roundtrip(ARIA_T_F16, 64, 1e-3f);
    check_roundtrip(ARIA_T_BF16, 64, 8e-3f);
    check_roundtrip(ARIA_T_Q8_0, 1024, 1.0f / 127 / 2 + 1e-3f);
    /* one full step where the opposite extreme clamps at 15 */
    check_roundtrip(ARIA_T_Q4_0, 1024, 1.0f / 8 + 1e-3f);
    check_roundtrip(ARIA_T_Q8_K, 1024, 1.0f / 127 / 2 + 1e-4f);
}

static void test_q4_0_layout(void **state)
{
    (void)state;
    float x[32];
    for (int i = 0; i < 32; i++)
        x[i] = (float)(i - 16) / 2; /* -8 .. 7.5; largest magnitude -8 */
    aria_block_q4_0 b;
    assert_int_equal(aria_quantize_row(ARIA_T_Q4_0, x, &b, 32), ARIA_OK);
    assert_true(aria_f16_to_f32(b.d) == 1.0f); /* d = max / -8 = 1 */
    /* x[0] = -8 -> 0, x[16] = 0 -> 8: byte 0 is 0x80. */
    assert_int_equal(b.qs[0], 0x80);
    assert_int_equal(aria_quantize_row(ARIA_T_Q4_0, x, &b, 31), ARIA_ERR_INVALID);
}

/* Ternary weights with one scale per block survive TQ1_0 and TQ2_0 exactly,
 * and I2_S packs them exactly. */
static void test_ternary_lossless(void **state)
{
    (void)state;
    enum { K = 1024 };
    float x[K], y[K], s = 0.375f; /* exact in f16 */
    int8_t t[K];
    for (int i = 0; i < K; i++) {
        t[i] = (int8_t)(next_u32() % 3) - 1;
        x[i] = t[i] * s;
    }
    for (int b = 0; b < K; b += 256)
        x[b] = s; /* every block holds the full scale */
    t[0] = t[256] = t[512] = t[768] = 1;
    uint8_t buf[K];
    for (uint32_t ty = ARIA_T_TQ1_0; ty <= ARIA_T_TQ2_0; ty++) {
        assert_int_equal(aria_quantize_row(ty, x, buf, K), ARIA_OK);
        assert_int_equal(aria_dequantize_row(ty, buf, y, K), ARIA_OK);
        for (int i = 0; i < K; i++)
            if (x[i] != y[i])
                fail_msg("type %u element %d: %g -> %g", ty, i, x[i], y[i]);
    }
    uint8_t packed[K / 4];
    aria_i2s_pack_row(t, packed, K);
    aria_i2s_dequantize_row(packed, s, y, K);
    for (int i = 0; i < K; i++)
        assert_true(y[i] == t[i] * s);
    /* The documented layout: byte j of a group holds element g*32 + j at
     * bits 6 - 2g. */
    assert_int_equal((packed[5] >> 4) & 3, t[32 + 5] + 1);
    assert_int_equal(aria_row_bytes(ARIA_T_TQ2_0, 256), 66);
    assert_int_equal(aria_row_bytes(ARIA_T_TQ1_0, 512), 108);
    assert_int_equal(aria_row_bytes(ARIA_T_TQ1_0, 200), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_f16_roundtrip_all),
        cmocka_unit_test(test_f16_matches_hardware),
        cmocka_unit_test(test_bf16),
        cmocka_unit_test(test_roundtrip_bounds),
        cmocka_unit_test(test_q4_0_layout),
        cmocka_unit_test(test_ternary_lossless),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
