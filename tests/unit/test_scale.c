/* Scale policies (scale.h, nn_scale.c): exponents of the scale rules worked
 * out by hand, each predictor on crafted amax sequences, clip and overflow
 * counting on crafted tensors, and the scaled GEMM of a layer against an
 * exact reference built here from the reference quantizer, qc_gemm_ref and
 * the power-of-two rescale. Expected values are derived in the comments. */
#include <criterion/criterion.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "qcore/gemm.h"
#include "qcore/nn.h"
#include "qcore/scale.h"
#include "qcore/ref.h"
#include "test_helpers.h"

static struct qc_scale_cfg policy(enum qc_scale_policy p, int history)
{
    struct qc_scale_cfg c;
    qc_scale_cfg_init(&c);
    c.policy = p;
    c.history = history;
    return c;
}

/* --- exponents ---------------------------------------------------------------- */

Test(scale, exponents_by_hand)
{
    const struct qc_format e4m3fn = th_format("fp8_e4m3"), e4m3 = th_format("e4m3");
    const struct qc_format e5m2 = th_format("e5m2"), q = th_format("q8.13");
    const struct qc_format i8 = th_format("int8"), mx = th_format("mxfp8_e4m3");
    const struct qc_format e5m2_cfg5 = th_format("e5m2:inf1:subnormal-as-normal");

    /* fp8_e4m3: max 448 = 1.75 x 2^8, top binade 2^8. */
    cr_expect_eq(qc_scale_exp(&e4m3fn, 1.0, QC_SCALE_FLOOR), -8);
    cr_expect_eq(qc_scale_exp(&e4m3fn, 448.0, QC_SCALE_FLOOR), 0);
    /* 500: floor(log2) = 8, e = 0 under floor (500 > 448 will clip); ceil
     * needs 448 x 2^e >= 500: e = 1; round: 500 between 480 and 512 (step 32
     * in [256, 512)) rounds to 512 > 448: e = 1. */
    cr_expect_eq(qc_scale_exp(&e4m3fn, 500.0, QC_SCALE_FLOOR), 0);
    cr_expect_eq(qc_scale_exp(&e4m3fn, 500.0, QC_SCALE_CEIL), 1);
    cr_expect_eq(qc_scale_exp(&e4m3fn, 500.0, QC_SCALE_ROUND), 1);
    /* 460 rounds to 448 (12 away, 480 is 20 away): round keeps e = 0, ceil
     * still moves up since 460 > 448. */
    cr_expect_eq(qc_scale_exp(&e4m3fn, 460.0, QC_SCALE_ROUND), 0);
    cr_expect_eq(qc_scale_exp(&e4m3fn, 460.0, QC_SCALE_CEIL), 1);
    /* IEEE-style e4m3: max 240 = 1.875 x 2^7. */
    cr_expect_eq(qc_scale_exp(&e4m3, 240.0, QC_SCALE_FLOOR), 0);
    cr_expect_eq(qc_scale_exp(&e4m3, 250.0, QC_SCALE_CEIL), 1);
    /* e5m2: max 57344 = 1.75 x 2^15. 3 -> 1 - 15; 0.001 -> -10 - 15. */
    cr_expect_eq(qc_scale_exp(&e5m2, 3.0, QC_SCALE_FLOOR), -14);
    cr_expect_eq(qc_scale_exp(&e5m2, 0.001, QC_SCALE_FLOOR), -25);
    /* Under CFG-5 e5m2 reads inf1: the top exponent code holds normals, max
     * 1.5 x 2^16, so the top binade is 2^16. */
    cr_expect_eq(e5m2_cfg5.max_finite, 98304.0);
    cr_expect_eq(qc_scale_exp(&e5m2_cfg5, 1.0, QC_SCALE_FLOOR), -16);
    /* q8.13: max 128 - 2^-13, top binade 2^6; int8: max 127, top 2^6. */
    cr_expect_eq(qc_scale_exp(&q, 1.0, QC_SCALE_FLOOR), -6);
    cr_expect_eq(qc_scale_exp(&q, 200.0, QC_SCALE_FLOOR), 1);
    cr_expect_eq(qc_scale_exp(&i8, 127.0, QC_SCALE_FLOOR), 0);
    cr_expect_eq(qc_scale_exp(&i8, 1000.0, QC_SCALE_FLOOR), 3);
    /* Nothing to scale: tensors keep 2^0, MX blocks take E8M0's smallest. */
    cr_expect_eq(qc_scale_exp(&e5m2, 0.0, QC_SCALE_FLOOR), 0);
    cr_expect_eq(qc_scale_exp(&mx, 0.0, QC_SCALE_FLOOR), -127);
    /* MX: e4m3 elements (elem_emax 8), clamped to E8M0's [-127, 127]. */
    cr_expect_eq(qc_scale_exp(&mx, 1.0, QC_SCALE_FLOOR), -8);
    cr_expect_eq(qc_scale_exp(&mx, 0x1p-140, QC_SCALE_FLOOR), -127);
    cr_expect_eq(qc_scale_exp(&mx, 0x1p130, QC_SCALE_FLOOR), 122);
    cr_expect_eq(qc_scale_exp(&mx, 0x1p140, QC_SCALE_FLOOR), INT32_MAX);
}

Test(scale, which_formats_are_scaled)
{
    static const char *const scaled[] = {"e5m2", "fp8_e4m3",   "bf16", "fp16",      "q8.13",
                                         "int8", "mxfp8_e4m3", "bfp8", "fp32:nosub"};
    static const char *const plain[] = {"fp32", "fp64", "e8m30"};
    for (size_t i = 0; i < sizeof scaled / sizeof scaled[0]; i++) {
        const struct qc_format f = th_format(scaled[i]);
        cr_expect(qc_scale_applies(&f), "%s", scaled[i]);
    }
    for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++) {
        const struct qc_format f = th_format(plain[i]);
        cr_expect(!qc_scale_applies(&f), "%s", plain[i]);
    }
}

/* --- predictors ---------------------------------------------------------------- */

/* One recorded call on a one-unit slot: the basis. */
static double step(struct qc_scale_slot *s, const struct qc_scale_cfg *c, double amax)
{
    double basis;
    struct qc_err err;
    cr_assert_eq(qc_scale_predict(&basis, &amax, 1, s, c, true, &err), 0, "%s", err.msg);
    return basis;
}

Test(scale, max_uses_the_current_amax)
{
    const struct qc_scale_cfg c = policy(QC_SCALE_POLICY_MAX, 4);
    struct qc_scale_slot s = {0};
    cr_expect_eq(step(&s, &c, 3.0), 3.0);
    cr_expect_eq(step(&s, &c, 0.5), 0.5);
    cr_expect_eq(s.units, 0, "max keeps no state");
}

Test(scale, delayed_takes_the_window_max)
{
    const struct qc_scale_cfg c = policy(QC_SCALE_POLICY_DELAYED, 3);
    const struct qc_format f = th_format("fp8_e4m3");
    struct qc_scale_slot s = {0};

    /* amaxes 1, 4, 2, 0.5, 0.25, 0.125, 8 with a window of 3, each recorded
     * after use: */
    double b = step(&s, &c, 1.0); /* no history: the current amax */
    cr_expect_eq(b, 1.0);
    cr_expect_eq(qc_scale_exp(&f, b, QC_SCALE_FLOOR), -8);
    cr_expect_eq(step(&s, &c, 4.0), 1.0); /* window {1} */
    b = step(&s, &c, 2.0);                /* window {1, 4} */
    cr_expect_eq(b, 4.0);
    cr_expect_eq(qc_scale_exp(&f, b, QC_SCALE_FLOOR), -6); /* 2 - 8 */
    cr_expect_eq(step(&s, &c, 0.5), 4.0);                  /* window {1, 4, 2} */
    cr_expect_eq(step(&s, &c, 0.25), 4.0);                 /* {4, 2, 0.5}: 1 has left */
    b = step(&s, &c, 0.125);                               /* {2, 0.5, 0.25} */
    cr_expect_eq(b, 2.0);
    cr_expect_eq(qc_scale_exp(&f, b, QC_SCALE_FLOOR), -7);
    b = step(&s, &c, 8.0); /* {0.5, 0.25, 0.125}: the jump to 8 is not seen yet */
    cr_expect_eq(b, 0.5);
    cr_expect_eq(qc_scale_exp(&f, b, QC_SCALE_FLOOR), -9);
    cr_expect_eq(step(&s, &c, 1.0), 8.0); /* {0.25, 0.125, 8} */
    cr_expect_eq(s.steps, 8);
    qc_scale_slot_free(&s);
}

Test(scale, wma_weights_newest_first)
{
    struct qc_scale_cfg c = policy(QC_SCALE_POLICY_WMA, 3);
    const struct qc_format f = th_format("fp8_e4m3");
    struct qc_scale_slot s = {0};

    c.alpha = 0.5;
    cr_expect_eq(step(&s, &c, 4.0), 4.0); /* no history */
    cr_expect_eq(step(&s, &c, 2.0), 4.0); /* {4}: 4/1 */
    /* newest first {2, 4}: (2 + 0.5*4) / 1.5 = 8/3, floor(log2) = 1 */
    double b = step(&s, &c, 1.0);
    cr_expect_float_eq(b, 8.0 / 3.0, 1e-15);
    cr_expect_eq(qc_scale_exp(&f, b, QC_SCALE_FLOOR), -7);
    /* {1, 2, 4}: (1 + 1 + 1) / 1.75 = 12/7 */
    b = step(&s, &c, 16.0);
    cr_expect_float_eq(b, 12.0 / 7.0, 1e-15);
    cr_expect_eq(qc_scale_exp(&f, b, QC_SCALE_FLOOR), -8);
    /* {16, 1, 2}, 4 has left: (16 + 0.5 + 0.5) / 1.75 = 68/7 */
    b = step(&s, &c, 1.0);
    cr_expect_float_eq(b, 68.0 / 7.0, 1e-14);
    qc_scale_slot_free(&s);

    /* alpha 1: the plain mean of the window. */
    c.alpha = 1.0;
    step(&s, &c, 1.0);
    step(&s, &c, 2.0);
    step(&s, &c, 6.0);
    b = step(&s, &c, 100.0);
    cr_expect_float_eq(b, 3.0, 1e-15); /* (1 + 2 + 6) / 3 */
    qc_scale_slot_free(&s);
}

Test(scale, delay_update_reuses_until_drift_or_age)
{
    struct qc_scale_cfg c = policy(QC_SCALE_POLICY_DELAY_UPDATE, 4);
    const struct qc_format f = th_format("e5m2");
    struct qc_scale_slot s = {0};

    c.drift = 1.0;
    cr_expect_eq(step(&s, &c, 1.0), 1.0); /* no scale yet: made from 1, age 1 */
    cr_expect_eq(step(&s, &c, 1.5), 1.0); /* log2 1.5 = 0.58 <= 1: kept (age 2) */
    cr_expect_eq(step(&s, &c, 2.0), 1.0); /* exactly one binade is not more than 1 (age 3) */
    double b = step(&s, &c, 2.5);         /* log2 2.5 = 1.32 > 1: re-estimated */
    cr_expect_eq(b, 2.5);
    cr_expect_eq(qc_scale_exp(&f, b, QC_SCALE_FLOOR), -14); /* 1 - 15 */
    cr_expect_eq(step(&s, &c, 2.5), 2.5);                   /* age 1 -> 2 */
    cr_expect_eq(step(&s, &c, 2.5), 2.5);                   /* 2 -> 3 */
    cr_expect_eq(step(&s, &c, 3.0), 2.5);                   /* 3 -> 4; log2(3/2.5) = 0.26 */
    cr_expect_eq(step(&s, &c, 3.0), 3.0); /* served history = 4 calls: re-estimated */
    cr_expect_eq(step(&s, &c, 0.0), 0.0); /* a zero against 3: infinite drift */
    cr_expect_eq(qc_scale_exp(&f, 0.0, QC_SCALE_FLOOR), 0);
    cr_expect_eq(step(&s, &c, 0.0), 0.0); /* two zeros do not drift */
    cr_expect_eq(step(&s, &c, 1.0), 1.0); /* nonzero against zero: re-estimated */
    qc_scale_slot_free(&s);

    /* A wider drift tolerates more: 4x is 2 binades. */
    c.drift = 2.5;
    step(&s, &c, 1.0);
    cr_expect_eq(step(&s, &c, 4.0), 1.0);
    cr_expect_eq(step(&s, &c, 0.25), 1.0);
    cr_expect_eq(step(&s, &c, 8.0), 8.0); /* 3 binades */
    qc_scale_slot_free(&s);
}

Test(scale, zero_history_gives_the_current_amax)
{
    const struct qc_scale_cfg c = policy(QC_SCALE_POLICY_DELAYED, 4);
    struct qc_scale_slot s = {0};
    step(&s, &c, 0.0);
    step(&s, &c, 0.0);
    /* Nothing nonzero recorded: no scale information, as on the first call. */
    cr_expect_eq(step(&s, &c, 5.0), 5.0);
    cr_expect_eq(step(&s, &c, 1.0), 5.0);
    qc_scale_slot_free(&s);
}

Test(scale, evaluation_reads_state_without_changing_it)
{
    const struct qc_scale_cfg c = policy(QC_SCALE_POLICY_DELAYED, 2);
    struct qc_scale_slot s = {0};
    struct qc_err err;
    double amax = 7.0, basis;

    /* An empty slot stays empty when not recording. */
    cr_assert_eq(qc_scale_predict(&basis, &amax, 1, &s, &c, false, &err), 0);
    cr_expect_eq(basis, 7.0);
    cr_expect_eq(s.units, 0);
    step(&s, &c, 2.0);
    amax = 64.0;
    cr_assert_eq(qc_scale_predict(&basis, &amax, 1, &s, &c, false, &err), 0);
    cr_expect_eq(basis, 2.0);
    cr_expect_eq(s.steps, 1);
    /* 64 was not recorded: the window still holds {2}. */
    cr_expect_eq(step(&s, &c, 3.0), 2.0);
    cr_expect_eq(step(&s, &c, 1.0), 3.0);
    qc_scale_slot_free(&s);
}

Test(scale, units_are_independent_and_a_new_count_falls_back)
{
    const struct qc_scale_cfg c = policy(QC_SCALE_POLICY_DELAYED, 2);
    struct qc_scale_slot s = {0};
    struct qc_err err;
    double amax2[2] = {1.0, 8.0}, amax3[3] = {100.0, 200.0, 300.0}, b[3];

    cr_assert_eq(qc_scale_predict(b, amax2, 2, &s, &c, true, &err), 0);
    amax2[0] = 0.5;
    amax2[1] = 0.25;
    cr_assert_eq(qc_scale_predict(b, amax2, 2, &s, &c, true, &err), 0);
    cr_expect_eq(b[0], 1.0);
    cr_expect_eq(b[1], 8.0);
    /* Three units against a slot of two: the current amaxes, nothing recorded. */
    cr_assert_eq(qc_scale_predict(b, amax3, 3, &s, &c, true, &err), 1);
    cr_expect(b[0] == 100.0 && b[1] == 200.0 && b[2] == 300.0);
    cr_expect_eq(s.steps, 2);
    amax2[0] = amax2[1] = 2.0;
    cr_assert_eq(qc_scale_predict(b, amax2, 2, &s, &c, true, &err), 0);
    cr_expect_eq(b[0], 1.0); /* window {1, 0.5} */
    cr_expect_eq(b[1], 8.0); /* window {8, 0.25} */
    qc_scale_slot_free(&s);
}

/* --- clipping -------------------------------------------------------------------- */

static void quantize(float *out, int32_t *e, const float *in, int64_t rows, int64_t k,
                     const struct qc_format *f, const struct qc_scale_cfg *c,
                     struct qc_scale_slot *s, int threads, struct qc_scale_stats *st)
{
    struct qc_err err;
    cr_assert_eq(
        qc_scale_operand(out, e, in, rows, k, f, QC_SCALE_FLOOR, c, s, true, threads, st, &err),
        QC_OK, "%s", err.msg);
}

Test(scale, clipping_of_a_tensor_scale_is_counted)
{
    struct qc_scale_cfg c = policy(QC_SCALE_POLICY_DELAY_UPDATE, 16);
    const struct qc_format f = th_format("fp8_e4m3");
    struct qc_scale_slot s = {0};
    struct qc_scale_stats st = {0};
    float out[8];
    int32_t e;

    c.drift = 1.0;
    /* amax 1: e = 0 - 8, values x 256. */
    const float t1[] = {1.0f, -0.25f};
    quantize(out, &e, t1, 1, 2, &f, &c, &s, 1, &st);
    cr_expect_eq(e, -8);
    cr_expect(out[0] == 256.0f && out[1] == -64.0f);

    /* amax 1.95 is within one binade of 1: the scale stays 2^-8, which holds
     * up to 448/256 = 1.75. In [256, 512) fp8_e4m3 steps by 32 up to 448:
     * 1.7 x 256 = 435.2 -> 448 and 1.8 x 256 = 460.8 -> 448 round in range;
     * 1.9 x 256 = 486.4 -> 480 and -1.95 x 256 = -499.2 -> -512 round beyond
     * it: clipped to +-448. inf has no fp8_e4m3 code: NaN, not counted. */
    const float t2[] = {0.5f, 1.0f, 1.7f, 1.8f, 1.9f, -1.95f, INFINITY};
    quantize(out, &e, t2, 1, 7, &f, &c, &s, 1, &st);
    cr_expect_eq(e, -8);
    const float want2[] = {128.0f, 256.0f, 448.0f, 448.0f, 448.0f, -448.0f};
    for (int i = 0; i < 6; i++)
        cr_expect(out[i] == want2[i], "[%d] %a, expected %a", i, (double)out[i], (double)want2[i]);
    cr_expect(isnan(out[6]));
    cr_expect_eq(st.clipped, 2);
    cr_expect_eq(st.overflowed, 1);

    /* amax 0.6, 0.74 binades below 1: kept, though the current amax alone
     * would give 2^-9: one binade wasted. 0.6 x 256 = 153.6 -> 160 (step 16),
     * -0.1 x 256 = -25.6 -> -26 (step 2). */
    const float t3[] = {0.6f, -0.1f};
    quantize(out, &e, t3, 1, 2, &f, &c, &s, 1, &st);
    cr_expect_eq(e, -8);
    cr_expect(out[0] == 160.0f && out[1] == -26.0f, "%a %a", (double)out[0], (double)out[1]);
    cr_expect_eq(st.wasted, 1);

    /* amax 4: two binades away, re-estimated to 2^(2 - 8). */
    const float t4[] = {4.0f};
    quantize(out, &e, t4, 1, 1, &f, &c, &s, 1, &st);
    cr_expect_eq(e, -6);
    cr_expect_eq(out[0], 256.0f);
    cr_expect_eq(st.scales, 4);
    cr_expect_eq(st.overflowed, 1);
    cr_expect_eq(st.wasted, 1);
    cr_expect_eq(st.elements, 11); /* the finite ones: 2 + 6 + 2 + 1 */
    cr_expect_eq(st.clipped, 2);
    cr_expect_eq(st.fallbacks, 0);
    qc_scale_slot_free(&s);
}

Test(scale, clipping_of_block_scales_is_counted)
{
    const struct qc_scale_cfg c = policy(QC_SCALE_POLICY_DELAYED, 2);
    const struct qc_format f = th_format("mxfp8_e4m3@4");
    struct qc_scale_slot s = {0};
    struct qc_scale_stats st = {0};
    float out[16];
    int32_t e;

    /* Call 1, no history: block amaxes 1 and 8 give 2^-8 and 2^(3-8); every
     * value is an exact fp8_e4m3 element under them. */
    const float t1[] = {1, 0.5f, -0.25f, 0.125f, 8, 1, 2, 4};
    quantize(out, &e, t1, 1, 8, &f, &c, &s, 1, &st);
    cr_expect_eq(e, 0);
    for (int i = 0; i < 8; i++)
        cr_expect_eq(out[i], t1[i]);

    /* Call 2 uses call 1's amaxes. Block 0 at 2^-8: 1.9 -> 486.4 clips to
     * 448 (1.75); 0.1 -> 25.6 -> 26 (26/256); -0.2 -> -51.2 -> -52;
     * 0.3 -> 76.8 -> 80 (step 8). Block 1 at 2^-5 holds 2, 1, 0.5, 0.25
     * exactly, with one binade unused (amax 2 alone gives 2^-7). */
    const float t2[] = {1.9f, 0.1f, -0.2f, 0.3f, 2, 1, 0.5f, 0.25f};
    quantize(out, &e, t2, 1, 8, &f, &c, &s, 1, &st);
    const float want2[] = {1.75f, 26.0f / 256, -52.0f / 256, 80.0f / 256, 2, 1, 0.5f, 0.25f};
    for (int i = 0; i < 8; i++)
        cr_expect(out[i] == want2[i], "[%d] %a, expected %a", i, (double)out[i], (double)want2[i]);
    cr_expect_eq(st.clipped, 1);
    cr_expect_eq(st.overflowed, 1);
    cr_expect_eq(st.wasted, 1);

    /* Two rows: four blocks against a slot of two: current amaxes, counted. */
    float t3[16];
    for (int i = 0; i < 16; i++)
        t3[i] = 1.0f;
    quantize(out, &e, t3, 2, 8, &f, &c, &s, 1, &st);
    cr_expect_eq(st.fallbacks, 1);
    for (int i = 0; i < 16; i++)
        cr_expect_eq(out[i], 1.0f);

    /* Back to one row: windows {1, 1.9} and {8, 2} (the fallback recorded
     * nothing): 2^(0-8) and 2^(3-8), the second one binade too large. */
    quantize(out, &e, t3, 1, 8, &f, &c, &s, 1, &st);
    cr_expect_eq(st.scales, 2 + 2 + 4 + 2);
    cr_expect_eq(st.wasted, 2);
    cr_expect_eq(st.elements, 8 + 8 + 16 + 8);

    /* A block holding a NaN gets the NaN scale whatever the prediction. */
    float t5[8] = {1, NAN, 1, 1, 1, 1, 1, 1};
    quantize(out, &e, t5, 1, 8, &f, &c, &s, 1, &st);
    for (int i = 0; i < 4; i++)
        cr_expect(isnan(out[i]));
    cr_expect_eq(out[4], 1.0f);
    qc_scale_slot_free(&s);
}

/* The scaled quantization against the exact reference, element by element
 * and in its clip count, over units that take the SIMD rounding (quotients
 * exact in fp32) and units that cannot (values below fp32's normals once
 * scaled, fp32 subnormals, NaN): the second call is scaled by the first
 * call's amaxes (delayed, window of two), so values three times larger
 * clip. */
Test(scale, operand_matches_the_reference_on_every_path)
{
    static const char fmts[][24] = {"mxfp8_e4m3@8", "mxfp4_e2m1@8", "mxfp6_e3m2", "e4m3", "e5m2"};
    enum { ROWS = 3, K = 40, N = ROWS * K };
    const struct qc_scale_cfg c = policy(QC_SCALE_POLICY_DELAYED, 2);
    uint64_t seed = 31;
    for (size_t fi = 0; fi < sizeof fmts / sizeof fmts[0]; fi++) {
        const struct qc_format f = th_format(fmts[fi]);
        const bool block = !qc_format_is_scalar(&f);
        const int64_t bl = block ? f.block : K * ROWS;
        struct qc_format el;
        if (block) {
            qc_format_element(&el, &f);
        } else {
            char sat[160];
            snprintf(sat, sizeof sat, "%s:sat", fmts[fi]);
            el = th_format(sat);
        }
        float d1[N], d2[N], out[N];
        for (int i = 0; i < N; i++) {
            const int unit = i / (int)bl;
            d1[i] = (float)ldexp((double)(th_next(&seed) % 2000) / 1000.0 - 1.0, unit % 5 - 2);
            d2[i] = 3.0f * d1[i];
            if (block && unit % 3 == 1 && i % 4 == 0)
                d2[i] = (i % 8 ? 0x1p-140f : 0x1p-128f) * (float)(i % 7 + 1); /* fallbacks */
        }
        d2[N - 3] = NAN; /* the last unit: the NaN scale (a scalar format passes it) */
        struct qc_scale_slot slot = {0};
        struct qc_scale_stats st = {0};
        int32_t te;
        quantize(out, &te, d1, ROWS, K, &f, &c, &slot, 2, &st);
        memset(&st, 0, sizeof st);
        quantize(out, &te, d2, ROWS, K, &f, &c, &slot, 2, &st);
        uint64_t clipped = 0;
        for (int64_t u0 = 0; u0 < N; u0 += bl) {
            /* each unit of a row is K or a block long; rows hold whole blocks */
            const int64_t row = u0 / K, c0 = u0 % K;
            const int64_t len = block ? (K - c0 < bl ? K - c0 : bl) : N;
            double amax = 0;
            bool nan = false;
            for (int64_t i = 0; i < len; i++) {
                nan = nan || isnan(d2[u0 + i]);
                amax = fmax(amax, fabs((double)d1[u0 + i]));
            }
            const int e = block ? qc_scale_exp(&f, amax, QC_SCALE_FLOOR) : te;
            for (int64_t i = 0; i < len; i++) {
                const float x = d2[u0 + i];
                struct qc_round_stats rs = {0};
                double want;
                if (block && nan) {
                    want = NAN;
                } else if (isnan(x)) {
                    want = x;
                } else {
                    want = qc_round_value_ref(&el, ldexp(x, -e), NULL, 0, &rs);
                    if (block)
                        want = ldexp(want, e);
                }
                clipped += rs.overflow;
                cr_expect(th_same_f(out[u0 + i], (float)want),
                          "%s row %lld element %lld: %a -> %a, reference %a (e %d)", fmts[fi],
                          (long long)row, (long long)(c0 + i), (double)x, (double)out[u0 + i], want,
                          e);
            }
            if (block && c0 + len == K)
                u0 = (row + 1) * K - bl; /* the next row starts a block */
        }
        cr_expect_eq(st.clipped, clipped, "%s: clipped %llu, reference %llu", fmts[fi],
                     (unsigned long long)st.clipped, (unsigned long long)clipped);
        cr_expect_gt(clipped, 0, "%s: the data must clip", fmts[fi]);
        qc_scale_slot_free(&slot);
    }
}

/* --- the scaled GEMM of a layer ------------------------------------------------ */

/* A net of one linear layer: input k features, n outputs, batch m. */
static struct qc_backend *make_net(struct qc_net *net, int64_t m, int64_t n, int64_t k,
                                   const char *act, const char *wt, const char *mac,
                                   enum qc_scale_policy p, int history, int threads)
{
    struct qc_backend *be;
    struct qc_backend_opts o = {.threads = threads};
    struct qc_nn_arith a;
    struct qc_err err;
    int last;

    cr_assert_eq(qc_backend_create(&be, "cpu", &o, &err), QC_OK);
    cr_assert_eq(qc_net_init(net, k, 1, 1, m, be), QC_OK);
    cr_assert_geq(last = qc_net_add_simple(net, QC_LAYER_FLATTEN, "f", 0, 0, 0, &err), 0);
    cr_assert_geq(qc_net_add_linear(net, "fc", last, n, &err), 0, "%s", err.msg);
    cr_assert_eq(qc_net_finalize(net, &err), QC_OK);
    a.activations = th_format(act);
    a.weights = th_format(wt);
    a.errors = th_format("fp32");
    for (int g = 0; g < QC_GEMM_GROUPS; g++)
        cr_assert_eq(qc_mac_parse(&a.mac[g], mac, &err), QC_OK, "%s", err.msg);
    cr_assert_eq(qc_net_set_arith(net, &a, &err), QC_OK, "%s", err.msg);
    const struct qc_scale_cfg c = policy(p, history);
    cr_assert_eq(qc_net_set_scaling(net, &c, &err), QC_OK, "%s", err.msg);
    return be;
}

/* The layer's forward output for x (m x k), bias zero. */
static void forward(float *y, struct qc_net *net, const float *x, int64_t m, bool train,
                    struct qc_nn_stats *st)
{
    struct qc_err err;
    cr_assert_eq(qc_net_forward(net, x, m, train, st, &err), QC_OK, "%s", err.msg);
    const struct qc_layer *l = &net->layers[net->n - 1];
    memcpy(y, l->out, (size_t)(m * l->c) * sizeof(float));
}

/* x scaled by 2^-e and rounded with the reference to `sat` (the reading
 * with saturation), counting clipped values. */
static void ref_scaled(float *out, const float *x, int64_t len, int e, const char *sat,
                       uint64_t *clipped)
{
    const struct qc_format f = th_format(sat);
    for (int64_t i = 0; i < len; i++) {
        struct qc_round_stats rs = {0};
        out[i] = (float)qc_round_value_ref(&f, ldexp(x[i], -e), NULL, 0, &rs);
        *clipped += rs.overflow;
    }
}

/* Y = X W^T under the layer's MAC, from operands rounded here, then scaled
 * by 2^e: the reference of the scaled path. */
static void ref_gemm(float *y, const float *xs, const float *ws, int64_t m, int64_t n, int64_t k,
                     const char *mac_s, const char *act, const char *wt, bool pre_rounded, int e)
{
    struct qc_mac mac;
    struct qc_gemm_desc d;
    struct qc_err err;
    char s[256];

    snprintf(s, sizeof s, "%s,a=%s,b=%s", mac_s, act, wt);
    cr_assert_eq(qc_mac_parse(&mac, s, &err), QC_OK, "%s", err.msg);
    qc_gemm_desc_init(&d, m, n, k);
    d.trans_b = true;
    d.a_rounded = d.b_rounded = pre_rounded;
    cr_assert_eq(qc_gemm_ref(y, xs, ws, &d, &mac, NULL, &err), QC_OK, "%s", err.msg);
    for (int64_t i = 0; i < m * n; i++)
        y[i] = ldexpf(y[i], e) + 0.0f; /* + 0: the layer adds its zero bias */
}

Test(scale, scaled_layer_gemm_equals_the_exact_reference)
{
    enum { M = 5, N = 7, K = 20 };
    static const char mac[] = "cfg=5,acc=e8m10,chunk=4";
    struct qc_net net;
    float x[M * K], x2[M * K], xs[M * K], ws[N * K], y[M * N], want[M * N];
    uint64_t s = 99, clipped = 0;
    struct qc_nn_stats st;

    for (int th = 1; th <= 3; th += 2) {
        struct qc_backend *be =
            make_net(&net, M, N, K, "e4m3", "e5m2", mac, QC_SCALE_POLICY_DELAYED, 4, th);
        float *w = net.params + net.layers[2].w_off;
        /* amax(x) = 3 exactly, amax(w) = 0.75 exactly. */
        for (int i = 0; i < M * K; i++)
            x[i] = (float)(th_unit(&s) * 5.0 - 2.5);
        x[7] = -3.0f;
        for (int i = 0; i < N * K; i++)
            w[i] = (float)(th_unit(&s) * 1.4 - 0.7);
        w[3] = 0.75f;
        /* CFG-5 reads e4m3 as inf1 (max 448, top binade 2^8) and e5m2 as inf1
         * (max 98304, top 2^16): e_x = 1 - 8 = -7, e_w = -1 - 16 = -17. The
         * first call has no history: the current amaxes. */
        memset(&st, 0, sizeof st);
        forward(y, &net, x, M, true, &st);
        ref_scaled(xs, x, M * K, -7, "e4m3:inf1:subnormal-as-normal:sat", &clipped);
        ref_scaled(ws, w, N * K, -17, "e5m2:inf1:subnormal-as-normal:sat", &clipped);
        ref_gemm(want, xs, ws, M, N, K, mac, "e4m3", "e5m2", false, -24);
        for (int i = 0; i < M * N; i++)
            cr_expect(th_same_f(y[i], want[i]), "threads %d call 1 y[%d] %a, reference %a", th, i,
                      (double)y[i], (double)want[i]);
        cr_expect_eq(st.scale[QC_GEMM_FWD].scales, 2);

        /* Call 2 grows x's amax to 8, but the delayed scale still comes from
         * 3 (2^-7): values beyond 448/128 = 3.5 clip. */
        for (int i = 0; i < M * K; i++)
            x2[i] = x[i] * 2.0f;
        x2[11] = 8.0f;
        memset(&st, 0, sizeof st);
        clipped = 0;
        forward(y, &net, x2, M, true, &st);
        ref_scaled(xs, x2, M * K, -7, "e4m3:inf1:subnormal-as-normal:sat", &clipped);
        ref_gemm(want, xs, ws, M, N, K, mac, "e4m3", "e5m2", false, -24);
        for (int i = 0; i < M * N; i++)
            cr_expect(th_same_f(y[i], want[i]), "threads %d call 2 y[%d] %a, reference %a", th, i,
                      (double)y[i], (double)want[i]);
        cr_expect_gt(clipped, 0);
        cr_expect_eq(st.scale[QC_GEMM_FWD].clipped, clipped);
        cr_expect_eq(st.scale[QC_GEMM_FWD].overflowed, 1);
        qc_net_free(&net);
        qc_backend_destroy(be);
    }
}

/* Block scales from the previous call's block amaxes, elements rounded with
 * the reference, the GEMM reading them as they are. */
Test(scale, delayed_block_scales_equal_the_exact_reference)
{
    enum { M = 3, N = 4, K = 19, B = 8 };
    static const char mac[] = "cfg=1,acc=e6m5,chunk=5";
    struct qc_net net;
    float x[M * K], x2[M * K], xs[M * K], ws[N * K], y[M * N], want[M * N];
    uint64_t s = 7, clipped = 0;
    const struct qc_format e4m3 = th_format("fp8_e4m3:sat"), e2m1 = th_format("e2m1:finite:sat");
    struct qc_backend *be =
        make_net(&net, M, N, K, "mxfp8_e4m3@8", "mxfp4_e2m1@8", mac, QC_SCALE_POLICY_DELAYED, 2, 2);
    float *w = net.params + net.layers[2].w_off;

    for (int i = 0; i < M * K; i++)
        x[i] = (float)th_spread(&s, -6, 3);
    for (int i = 0; i < N * K; i++)
        w[i] = (float)th_spread(&s, -5, 0);
    forward(y, &net, x, M, true, NULL);
    for (int i = 0; i < M * K; i++)
        x2[i] = x[i] * (float)(0.5 + th_unit(&s) * 1.5);

    /* Reference: block (row, j) of 8 along K (the last one 3 long) gets
     * e = floor(log2 amax_call1) - elem_emax (e4m3: 8, e2m1: 2); each value
     * is x/2^e rounded to the saturating element format, times 2^e. */
    for (int pass = 0; pass < 2; pass++) {
        const float *src = pass == 0 ? x : w, *now = pass == 0 ? x2 : w;
        float *dst = pass == 0 ? xs : ws;
        const int rows = pass == 0 ? M : N, top = pass == 0 ? 8 : 2;
        const struct qc_format *el = pass == 0 ? &e4m3 : &e2m1;
        for (int r = 0; r < rows; r++)
            for (int j0 = 0; j0 < K; j0 += B) {
                const int len = K - j0 < B ? K - j0 : B;
                double amax = 0;
                for (int i = 0; i < len; i++)
                    amax = fmax(amax, fabs(src[r * K + j0 + i]));
                int ex;
                frexp(amax, &ex);
                const int e = ex - 1 - top;
                for (int i = 0; i < len; i++) {
                    struct qc_round_stats rs = {0};
                    const double v =
                        qc_round_value_ref(el, ldexp(now[r * K + j0 + i], -e), NULL, 0, &rs);
                    dst[r * K + j0 + i] = (float)ldexp(v, e);
                    clipped += rs.overflow;
                }
            }
    }
    struct qc_nn_stats st;
    memset(&st, 0, sizeof st);
    forward(y, &net, x2, M, true, &st);
    ref_gemm(want, xs, ws, M, N, K, mac, "mxfp8_e4m3@8", "mxfp4_e2m1@8", true, 0);
    for (int i = 0; i < M * N; i++)
        cr_expect(th_same_f(y[i], want[i]), "y[%d] %a, reference %a", i, (double)y[i],
                  (double)want[i]);
    cr_expect_gt(clipped, 0, "the data should make some block clip");
    cr_expect_eq(st.scale[QC_GEMM_FWD].clipped, clipped);
    qc_net_free(&net);
    qc_backend_destroy(be);
}

/* `max` on block formats is today's behaviour: the same bits as `none`. */
Test(scale, max_block_scales_are_the_plain_block_format)
{
    enum { M = 6, N = 5, K = 45 };
    static const char *const macs[] = {"cfg=1,acc=fp32", "cfg=3,acc=e6m5,chunk=8,scale_rule=round",
                                       "cfg=1,acc=fp32,scale_rule=ceil"};
    float x[M * K], y1[M * N], y2[M * N];
    uint64_t s = 5;

    for (size_t mi = 0; mi < sizeof macs / sizeof macs[0]; mi++) {
        struct qc_net a, b;
        struct qc_backend *ba =
            make_net(&a, M, N, K, "mxfp6_e3m2@16", "bfp8@8", macs[mi], QC_SCALE_POLICY_NONE, 4, 2);
        struct qc_backend *bb =
            make_net(&b, M, N, K, "mxfp6_e3m2@16", "bfp8@8", macs[mi], QC_SCALE_POLICY_MAX, 4, 2);
        for (int64_t i = 0; i < a.nparams; i++)
            a.params[i] = b.params[i] = (float)th_spread(&s, -8, 2);
        for (int i = 0; i < M * K; i++)
            x[i] = (float)th_spread(&s, -10, 4);
        forward(y1, &a, x, M, true, NULL);
        forward(y2, &b, x, M, true, NULL);
        for (int i = 0; i < M * N; i++)
            cr_expect(th_same_f(y1[i], y2[i]), "%s y[%d] none %a, max %a", macs[mi], i,
                      (double)y1[i], (double)y2[i]);
        qc_net_free(&a);
        qc_net_free(&b);
        qc_backend_destroy(ba);
        qc_backend_destroy(bb);
    }
}

Test(scale, formats_beyond_fp32_are_refused)
{
    struct qc_nn_arith a;
    struct qc_err err;
    const struct qc_scale_cfg c = policy(QC_SCALE_POLICY_DELAYED, 4);

    /* bf16 under CFG-4 reads inf1: its top exponent code holds normals up
     * to 2^128, beyond fp32. */
    a.weights = a.activations = th_format("bf16");
    a.errors = th_format("fp32");
    for (int g = 0; g < QC_GEMM_GROUPS; g++)
        cr_assert_eq(qc_mac_parse(&a.mac[g], "cfg=4", &err), QC_OK);
    cr_expect_eq(qc_nn_arith_check_scaling(&a, &c, "fc2", &err), QC_EUNSUPP);
    cr_expect(strstr(err.msg, "fc2") && strstr(err.msg, "bf16"), "%s", err.msg);
    for (int g = 0; g < QC_GEMM_GROUPS; g++)
        cr_assert_eq(qc_mac_parse(&a.mac[g], "cfg=1", &err), QC_OK);
    cr_expect_eq(qc_nn_arith_check_scaling(&a, &c, "fc2", &err), QC_OK, "%s", err.msg);
}
