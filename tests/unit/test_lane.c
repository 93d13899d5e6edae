/* The exact engine's fp64 lane (core/src/num/lane_hd.h), which the CUDA
 * GEMM runs too, against the MPFR reference: configurations where it
 * applies (float accumulators up to 51 bits, every rounding mode, sr bits,
 * nosub, sat, fn/inf1/finite, rounded CFG-1/2 products, fused) on data made
 * to hurt it: sums spanning far more than 53 bits (the round-to-odd fold
 * decides), exact cancellation (signed zeros under rdn), ties, subnormal and
 * overflowing sums, infinities and NaNs (the exact path's steps). The
 * scalar ISA forces the exact engine, so the lane is what runs. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>

#include "qcore/gemm_cpu.h"
#include "qcore/ref.h"
#include "test_helpers.h"

static const char *const lane_macs[] = {
    "cfg=1,a=bf16,b=bf16,acc=e8m40",
    "cfg=1,a=bf16,b=bf16,acc=e8m40,acc_rounding=rdn",
    "cfg=1,a=bf16,b=bf16,acc=e8m30,acc_rounding=rna",
    "cfg=1,a=bf16,b=bf16,acc=e8m23,acc_rounding=rup",
    "cfg=1,a=bf16,b=bf16,acc=e8m23,acc_rounding=rtz",
    "cfg=1,a=bf16,b=bf16,acc=e8m23,acc_rounding=sr:20,seed=9",
    "cfg=1,a=bf16,b=bf16,acc=e8m12,acc_rounding=sr:39,seed=2",
    "cfg=1,a=fp16,b=fp16,acc=e5m10:sat",
    "cfg=1,a=fp16,b=fp16,acc=e5m10:nosub,acc_rounding=rdn",
    "cfg=1,a=fp16,b=fp16,acc=e4m3:fn",
    "cfg=1,a=fp16,b=fp16,acc=e3m2:finite,acc_rounding=rup",
    "cfg=1,a=fp16,b=fp16,acc=e5m6:inf1,acc_rounding=sr:4,seed=1",
    "cfg=1,a=e5m2,b=e4m3,product=e5m3,acc=e6m5",
    "cfg=2,a=e4m3,b=e4m3,product=e4m3,acc=e6m9,acc_rounding=rdn",
    "cfg=2,a=bf16,b=bf16,product=bf16,acc=e8m20",
    "cfg=3,a=e5m2,b=e5m2,acc=e6m5,acc_rounding=rtz",
    "cfg=5,a=e5m2,b=e5m2,acc=e6m5",
    "cfg=6,a=e4m3,b=e5m2,acc=e5m4,acc_rounding=rna",
    "cfg=1,a=e4m3,b=e4m3,fused=1,acc=e4m4:nosub",
    "cfg=1,a=q8.8,b=q4.11,acc=e8m30",
    "cfg=1,a=mxfp8_e4m3,b=mxfp8_e5m2,acc=e8m20,acc_rounding=rdn",
    "cfg=1,a=bfp8@16,b=mxint8,acc=e8m23,acc_rounding=sr:12,seed=6",
};

static const int64_t lane_chunks[] = {0, 1, 3, 16};

/* Magnitudes from 2^elo to 2^ehi, random signs; one in `special` an inf, a
 * NaN or a zero; the row pairs (2r, 2r+1) of A negate each other in the
 * first half of K, so sums cancel exactly. */
static void fill(float *x, int64_t n, uint64_t *s, int elo, int ehi, int special)
{
    for (int64_t i = 0; i < n; i++) {
        const uint64_t r = th_next(s);
        if (special && r % (uint64_t)special == 0) {
            static const uint32_t pool[] = {0x7f800000, 0xff800000, 0x7fc00000, 0x00000000,
                                            0x80000000};
            x[i] = th_bits_f32(pool[(r >> 20) % 5]);
            continue;
        }
        x[i] = (float)th_spread(s, elo, ehi);
    }
}

static int check(const char *spec, int64_t m, int64_t n, int64_t k, uint64_t seed, int elo, int ehi,
                 int special)
{
    struct qc_mac mac;
    struct qc_gemm_desc d;
    struct qc_err err;
    struct qc_round_stats sr = {0}, ss = {0};
    float *a = malloc((size_t)(m * k) * sizeof(float)),
          *b = malloc((size_t)(k * n) * sizeof(float));
    float *cr = malloc((size_t)(m * n) * sizeof(float)),
          *cs = malloc((size_t)(m * n) * sizeof(float));
    uint64_t s = seed;
    int bad = 0;

    cr_assert_eq(qc_mac_parse(&mac, spec, &err), QC_OK, "%s: %s", spec, err.msg);
    fill(a, m * k, &s, elo, ehi, special);
    fill(b, k * n, &s, elo, ehi, special);
    for (int64_t i = 0; i + 1 < m; i += 2)
        for (int64_t p = 0; p < k / 2; p++)
            a[(i + 1) * k + p] = -a[i * k + p];
    qc_gemm_desc_init(&d, m, n, k);
    d.sr_stream = seed;
    cr_assert_eq(qc_gemm_ref(cr, a, b, &d, &mac, &sr, &err), QC_OK, "%s: %s", spec, err.msg);
    cr_assert_eq(qc_gemm_cpu_isa(cs, a, b, &d, &mac, 1, "scalar", &ss, &err), QC_OK, "%s: %s", spec,
                 err.msg);
    for (int64_t i = 0; i < m * n && !bad; i++)
        if (!th_same_f(cs[i], cr[i])) {
            cr_expect_fail("%s, K=%lld, exponents %d..%d: C[%lld] engine %a, reference %a", spec,
                           (long long)k, elo, ehi, (long long)i, (double)cs[i], (double)cr[i]);
            bad = 1;
        }
    if (!bad && !th_same_stats(&ss, &sr)) {
        cr_expect_fail("%s, K=%lld: counters ov %llu/%llu un %llu/%llu sw %llu/%llu", spec,
                       (long long)k, (unsigned long long)ss.overflow,
                       (unsigned long long)sr.overflow, (unsigned long long)ss.underflow,
                       (unsigned long long)sr.underflow, (unsigned long long)ss.swamping,
                       (unsigned long long)sr.swamping);
        bad = 1;
    }
    free(a);
    free(b);
    free(cr);
    free(cs);
    return bad;
}

Test(lane, matches_the_reference_on_hostile_sums)
{
    char spec[200];
    int bad = 0;

    for (size_t i = 0; i < sizeof lane_macs / sizeof lane_macs[0]; i++) {
        for (size_t c = 0; c < sizeof lane_chunks / sizeof lane_chunks[0]; c++) {
            snprintf(spec, sizeof spec, "%s,chunk=%lld", lane_macs[i], (long long)lane_chunks[c]);
            /* Wide exponent spread (round-to-odd decides), the inputs' own
             * range (overflow, underflow), and specials. */
            bad += check(spec, 6, 5, 37, 100 + i * 8 + c, -60, 60, 0);
            bad += check(spec, 4, 3, 50, 200 + i * 8 + c, -140, 130, 0);
            bad += check(spec, 4, 4, 23, 300 + i * 8 + c, -20, 20, 7);
        }
    }
    cr_expect_eq(bad, 0);
}

/* Sums whose exact value lies on or a hair beside a rounding tie of the
 * accumulator: acc = +-1, plus p = 2^-(Y+1) (1 + 2^-23)(1 + t 2^-23), for
 * t = -1 just below the tie by 2^-(Y+47) (the product is 1 - 2^-46), t = 0
 * on it plus 2^-(Y+24). For Y >= 7 the exact sum needs more bits than a
 * double holds, so only the round-to-odd fold keeps the bit that decides
 * between rounding to the tie's two sides (rna and sr show it). CFG-3
 * keeps the product exact. */
Test(lane, near_ties_follow_the_sticky_bits)
{
    static const char *const accs[] = {"e8m10", "e8m23", "e8m40", "e8m50", "e6m5"};
    static const char *const modes[] = {"rne", "rna", "rtz", "rup", "rdn", "sr:1", "sr:3"};
    char spec[160];
    int bad = 0;

    for (size_t ai = 0; ai < sizeof accs / sizeof accs[0]; ai++) {
        for (size_t mi = 0; mi < sizeof modes / sizeof modes[0]; mi++) {
            snprintf(spec, sizeof spec, "cfg=3,a=fp32,b=fp32,acc=%s,acc_rounding=%s,seed=%zu",
                     accs[ai], modes[mi], ai + 3 * mi);
            struct qc_mac mac;
            struct qc_err err;
            cr_assert_eq(qc_mac_parse(&mac, spec, &err), QC_OK, "%s: %s", spec, err.msg);
            const int y = mac.acc.mbits;
            for (int t = -1; t <= 1; t++) {
                for (int sgn = 0; sgn < 2; sgn++) {
                    float a[2] = {1.0f, ldexpf(1.0f + 0x1p-23f, -(y + 1))};
                    float b[2] = {sgn ? -1.0f : 1.0f, 1.0f + (float)t * 0x1p-23f};
                    float cr, cs;
                    struct qc_round_stats sr = {0}, ss = {0};
                    struct qc_gemm_desc d;
                    qc_gemm_desc_init(&d, 1, 1, 2);
                    d.sr_stream = (uint64_t)(t + 1);
                    cr_assert_eq(qc_gemm_ref(&cr, a, b, &d, &mac, &sr, &err), QC_OK);
                    cr_assert_eq(qc_gemm_cpu_isa(&cs, a, b, &d, &mac, 1, "scalar", &ss, &err),
                                 QC_OK);
                    if (!th_same_f(cr, cs) || !th_same_stats(&sr, &ss)) {
                        cr_expect_fail("%s t=%d sign %d: engine %a, reference %a", spec, t, sgn,
                                       (double)cs, (double)cr);
                        bad++;
                    }
                }
            }
        }
    }
    cr_expect_eq(bad, 0);
}
