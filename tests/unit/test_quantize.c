/* Array quantization (quantize.c and its SIMD kernels) against the MPFR
 * reference qc_quantize_ref_f64: scalar formats under every mode, MX and BFP
 * blocks under every scale rule with short last blocks, random bit patterns
 * (NaN, inf, subnormals), stochastic rounding's reproducibility and bias, and
 * the refusal of fp32 output for formats it cannot hold. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <float.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qcore/quantize.h"
#include "qcore/ref.h"
#include "test_helpers.h"

/* The kernel variants qc_quantize_f32_isa accepts; unavailable ones are skipped. */
static const char *const isas[] = {"scalar", "generic", "avx2", "avx512"};

/* fp32 test data: `kind` 0 = values spread over [2^elo, 2^ehi] by octave,
 * 1 = raw 32-bit patterns (NaN, inf, subnormals, everything), 2 = a mix with
 * a special value every 37 elements and zero runs. */
static void fill_f32(float *x, int64_t n, int kind, int elo, int ehi, uint64_t seed)
{
    static const float specials[] = {0.0f,     -0.0f,     INFINITY,   -INFINITY, NAN,  FLT_MAX,
                                     -FLT_MAX, 0x1p-149f, -0x1p-149f, FLT_MIN,   1.0f, -1.0f};
    for (int64_t i = 0; i < n; i++) {
        if (kind == 1) {
            x[i] = th_bits_f32((uint32_t)th_next(&seed));
            continue;
        }
        double v = th_spread(&seed, elo, ehi);
        if (v > FLT_MAX || v < -FLT_MAX)
            v = v > 0 ? FLT_MAX : -FLT_MAX;
        x[i] = (float)v;
        if (kind == 2 && i % 37 == 5)
            x[i] = specials[(i / 37) % (sizeof specials / sizeof specials[0])];
        if (kind == 2 && i % 101 < 9)
            x[i] = 0.0f;
    }
}

/* When whole-array counters disagree, finds the first block (or element, for
 * a scalar format) whose own counters or values disagree between qc_quantize_f64
 * and the reference, and describes it: the reproducer for a failure report. */
static void describe_first_diff(char *buf, size_t len, const double *in, int64_t rows, int64_t cols,
                                const struct qc_format *f, const struct qc_round *r,
                                enum qc_scale_rule rule, uint64_t first)
{
    const int64_t B = qc_format_is_scalar(f) ? 1 : f->block;
    double a[4096], b[4096];
    snprintf(buf, len, "(no single block differs)");
    for (int64_t row = 0; row < rows; row++) {
        for (int64_t c0 = 0; c0 < cols; c0 += B) {
            const int64_t n = cols - c0 < B ? cols - c0 : B, at = row * cols + c0;
            struct qc_round_stats sa = {0}, sb = {0};
            qc_quantize_f64(a, in + at, 1, n, f, r, rule, first + (uint64_t)at, &sa, NULL);
            qc_quantize_ref_f64(b, in + at, 1, n, f, r, rule, first + (uint64_t)at, &sb, NULL);
            bool same = th_same_stats(&sa, &sb);
            for (int64_t i = 0; i < n; i++)
                same = same && th_same(a[i], b[i]);
            if (same)
                continue;
            int k =
                snprintf(buf, len,
                         "block at %lld: fast ov%llu uf%llu, ref ov%llu uf%llu; in:", (long long)at,
                         (unsigned long long)sa.overflow, (unsigned long long)sa.underflow,
                         (unsigned long long)sb.overflow, (unsigned long long)sb.underflow);
            for (int64_t i = 0; i < n && k > 0 && (size_t)k < len; i++)
                k += snprintf(buf + k, len - (size_t)k, " %a", in[at + i]);
            return;
        }
    }
}

/* Compares every fp32 kernel and the fp64 entry point with the reference on
 * one array; `what` names the case in failure messages. */
static void compare_all(const float *in, int64_t rows, int64_t cols, const struct qc_format *f,
                        const struct qc_round *r, enum qc_scale_rule rule, uint64_t first,
                        const char *what)
{
    const int64_t n = rows * cols;
    double *in64 = malloc(sizeof(double) * (size_t)n), *ref = malloc(sizeof(double) * (size_t)n),
           *out64 = malloc(sizeof(double) * (size_t)n);
    float *out32 = malloc(sizeof(float) * (size_t)n);
    struct qc_round_stats sref = {0}, s64 = {0};
    struct qc_err err;
    char rs[32];

    cr_assert(in64 && ref && out64 && out32);
    qc_round_describe(r, rs, sizeof rs);
    for (int64_t i = 0; i < n; i++)
        in64[i] = in[i];
    cr_assert_eq(qc_quantize_ref_f64(ref, in64, rows, cols, f, r, rule, first, &sref, &err), 0,
                 "%s", err.msg);

    cr_assert_eq(qc_quantize_f64(out64, in64, rows, cols, f, r, rule, first, &s64, &err), 0, "%s",
                 err.msg);
    for (int64_t i = 0; i < n; i++)
        if (!th_same(out64[i], ref[i])) {
            cr_expect_fail("%s: f64 %s %s rule %d: element %lld: in %a fast %a ref %a", what,
                           f->name, rs, (int)rule, (long long)i, in64[i], out64[i], ref[i]);
            break;
        }
    if (!th_same_stats(&s64, &sref)) {
        char diff[1024];
        describe_first_diff(diff, sizeof diff, in64, rows, cols, f, r, rule, first);
        cr_expect_fail("%s: f64 %s %s rule %d: stats ops %llu/%llu ov %llu/%llu uf %llu/%llu; %s",
                       what, f->name, rs, (int)rule, (unsigned long long)s64.ops,
                       (unsigned long long)sref.ops, (unsigned long long)s64.overflow,
                       (unsigned long long)sref.overflow, (unsigned long long)s64.underflow,
                       (unsigned long long)sref.underflow, diff);
    }

    if (qc_format_fits_f32(f)) {
        for (size_t k = 0; k < sizeof isas / sizeof isas[0]; k++) {
            struct qc_round_stats s32 = {0};
            int rc =
                qc_quantize_f32_isa(out32, in, rows, cols, f, r, rule, first, &s32, isas[k], &err);
            if (rc == QC_EUNSUPP)
                continue;
            cr_assert_eq(rc, 0, "%s", err.msg);
            for (int64_t i = 0; i < n; i++)
                if (!th_same_f(out32[i], (float)ref[i])) {
                    cr_expect_fail("%s: f32/%s %s %s rule %d: element %lld: in %a fast %a ref %a",
                                   what, isas[k], f->name, rs, (int)rule, (long long)i,
                                   (double)in[i], (double)out32[i], ref[i]);
                    break;
                }
            cr_expect(th_same_stats(&s32, &sref),
                      "%s: f32/%s %s %s: stats ops %llu/%llu ov %llu/%llu uf %llu/%llu", what,
                      isas[k], f->name, rs, (unsigned long long)s32.ops,
                      (unsigned long long)sref.ops, (unsigned long long)s32.overflow,
                      (unsigned long long)sref.overflow, (unsigned long long)s32.underflow,
                      (unsigned long long)sref.underflow);
        }
        /* The public entry point is one of the above; check it too. */
        cr_assert_eq(qc_quantize_f32(out32, in, rows, cols, f, r, rule, first, NULL, &err), 0);
        for (int64_t i = 0; i < n; i++)
            if (!th_same_f(out32[i], (float)ref[i])) {
                cr_expect_fail("%s: qc_quantize_f32 %s element %lld", what, f->name, (long long)i);
                break;
            }
    }
    free(in64);
    free(ref);
    free(out64);
    free(out32);
}

/* --- scalar formats ------------------------------------------------------- */

struct scalar_param {
    char fmt[32];
};

static struct scalar_param scalar_formats[] = {
    {"e5m2"},           {"e4m3"},      {"fp8_e4m3"},     {"fp16"},
    {"bf16"},           {"tf32"},      {"fp32"},         {"e3m2:finite"},
    {"e2m1:finite"},    {"e5m2:sat"},  {"e5m2:nosub"},   {"e5m2:subnormal-as-normal"},
    {"e5m2:daz"},       {"e5m2:inf1"}, {"e4m7:bias=10"}, {"e6m5"},
    {"fp16:nosub:sat"}, {"e8m7:daz"},  {"q8.8"},         {"q8.13:wrap"},
    {"q11.13"},         {"int8"},      {"int16"},        {"e11m51"},
    {"q16.16"},
};

static const char *const scalar_modes[] = {"rne", "rna", "rtz", "rup", "rdn", "sr:8", "sr:32"};

ParameterizedTestParameters(quantize, scalar_matches_ref)
{
    return cr_make_param_array(struct scalar_param, scalar_formats,
                               sizeof scalar_formats / sizeof scalar_formats[0]);
}

ParameterizedTest(struct scalar_param *p, quantize, scalar_matches_ref)
{
    const struct qc_format f = th_format(p->fmt);
    enum { N = 1500 };
    float *x = malloc(sizeof(float) * N);
    cr_assert_not_null(x);
    /* The format's range by octave, a few octaves beyond at both ends. */
    const int elo = (int)floor(log2(f.min_subnormal)) - 3;
    const int ehi = (int)floor(log2(f.max_finite)) + 3;
    for (size_t m = 0; m < sizeof scalar_modes / sizeof scalar_modes[0]; m++) {
        const struct qc_round r = th_round(scalar_modes[m], 17 + m);
        for (int kind = 0; kind < 3; kind++) {
            fill_f32(x, N, kind, elo < -160 ? -160 : elo, ehi > 130 ? 130 : ehi,
                     (uint64_t)(kind * 1000 + m));
            compare_all(x, 1, N, &f, &r, QC_SCALE_FLOOR, 1000 * m + 3, "scalar");
        }
    }
    free(x);
}

/* Every code of the small float formats and the points that decide its
 * rounding: the code itself, the midpoint to the next code (a tie), a
 * quarter either side of it, and the fp32 neighbours of the midpoint, with
 * both signs, and past the largest finite value. Biases of both parities,
 * so that the quantum's binade is sometimes even: rne's tie at 1.5 times
 * the smallest subnormal once rounded down there in the SIMD tail. Each
 * kernel runs the array whole (full vectors) and in windows of three (its
 * scalar tail), against the MPFR reference. */
Test(quantize, every_code_neighbourhood_matches_ref)
{
    static const char fmts[][32] = {
        "e5m2",        "e4m3",         "fp8_e4m3",
        "e3m4",        "e2m5",         "e3m2:finite",
        "e2m3:finite", "e2m1:finite",  "e5m2:sat",
        "e5m2:nosub",  "e5m2:daz",     "e4m3:inf1",
        "e4m3:bias=8", "e4m3:bias=10", "e4m3:sat:bias=6",
        "e3m4:bias=4", "e2m1:bias=2",  "e5m2:subnormal-as-normal",
        "e6m1",
    };
    static const char *const modes[] = {"rne", "rna", "rtz", "rup", "rdn"};
    enum { MAXN = 256 * 12 + 16 };
    float *x = malloc(sizeof(float) * MAXN), *out = malloc(sizeof(float) * MAXN);
    double *x64 = malloc(sizeof(double) * MAXN), *ref = malloc(sizeof(double) * MAXN);
    double *vals = malloc(sizeof(double) * 256);
    cr_assert(x && out && x64 && ref && vals);
    for (size_t fi = 0; fi < sizeof fmts / sizeof fmts[0]; fi++) {
        const struct qc_format f = th_format(fmts[fi]);
        cr_assert(f.bits <= 8, "%s", fmts[fi]);
        /* the finite non-negative values, ascending (codes of one sign are
         * monotone, but the sort keeps this independent of the encoding) */
        int nv = 0;
        for (uint64_t c = 0; c < (UINT64_C(1) << f.bits); c++) {
            const double v = qc_format_decode(&f, c);
            if (isfinite(v) && v >= 0 && !signbit(v))
                vals[nv++] = v;
        }
        for (int i = 1; i < nv; i++)
            for (int j = i; j > 0 && vals[j - 1] > vals[j]; j--) {
                const double t = vals[j];
                vals[j] = vals[j - 1];
                vals[j - 1] = t;
            }
        int64_t n = 0;
        for (int i = 0; i < nv; i++) {
            const double v = vals[i];
            /* past the top: the next step that code would have had */
            const double w = i + 1 < nv ? vals[i + 1] : v + (v - vals[i - 1]);
            const double pts[] = {v, v + (w - v) / 4, (v + w) / 2, v + 3 * (w - v) / 4};
            for (size_t k = 0; k < sizeof pts / sizeof pts[0]; k++) {
                x[n++] = (float)pts[k];
                x[n++] = -(float)pts[k];
            }
            const float mid = (float)((v + w) / 2);
            x[n++] = nextafterf(mid, 0.0f);
            x[n++] = nextafterf(mid, INFINITY);
        }
        cr_assert(n <= MAXN);
        for (int64_t i = 0; i < n; i++)
            x64[i] = x[i];
        for (size_t m = 0; m < sizeof modes / sizeof modes[0]; m++) {
            const struct qc_round r = th_round(modes[m], 0);
            compare_all(x, 1, n, &f, &r, QC_SCALE_FLOOR, 0, "codes");
            cr_assert_eq(qc_quantize_ref_f64(ref, x64, 1, n, &f, &r, QC_SCALE_FLOOR, 0, NULL, NULL),
                         0);
            for (size_t k = 1; k < sizeof isas / sizeof isas[0]; k++) {
                int rc = QC_OK;
                for (int64_t i = 0; i < n && rc == QC_OK; i += 3)
                    rc = qc_quantize_f32_isa(out + i, x + i, 1, n - i < 3 ? n - i : 3, &f, &r,
                                             QC_SCALE_FLOOR, 0, NULL, isas[k], NULL);
                if (rc == QC_EUNSUPP)
                    continue;
                cr_assert_eq(rc, 0);
                for (int64_t i = 0; i < n; i++)
                    if (!th_same_f(out[i], (float)ref[i])) {
                        cr_expect_fail("%s %s tail/%s: %a -> %a, ref %a", fmts[fi], modes[m],
                                       isas[k], (double)x[i], (double)out[i], ref[i]);
                        break;
                    }
            }
        }
    }
    free(x);
    free(out);
    free(x64);
    free(ref);
    free(vals);
}

/* fp64 inputs beyond fp32's range and precision: through the f64 entry point. */
Test(quantize, f64_inputs_match_ref)
{
    static const char fmts[][32] = {"e11m51",       "e8m23",      "e5m2",     "q16.16", "int53",
                                    "e10m20:nosub", "mxfp8_e4m3", "mxint8@7", "bfp24@5"};
    enum { N = 700 };
    double in[N], out[N], ref[N];
    uint64_t s = 99;
    for (size_t fi = 0; fi < sizeof fmts / sizeof fmts[0]; fi++) {
        const struct qc_format f = th_format(fmts[fi]);
        for (int mode = 0; mode < 3; mode++) {
            const struct qc_round r = th_round(mode == 0 ? "rne" : mode == 1 ? "rtz" : "sr:16", 3);
            /* Block formats stay below 2^100, as in blocks_match_ref. */
            const bool block = !qc_format_is_scalar(&f);
            for (int i = 0; i < N; i++) {
                in[i] = i % 3 == 0 && !block ? th_bits_f64(th_next(&s))
                                             : th_spread(&s, -1100, block ? 99 : 1023);
                if (block && i % 97 == 5)
                    in[i] = i % 2 ? NAN : -INFINITY;
            }
            struct qc_round_stats a = {0}, b = {0};
            struct qc_err err;
            cr_assert_eq(qc_quantize_f64(out, in, 7, N / 7, &f, &r, QC_SCALE_FLOOR, 5, &a, &err),
                         0);
            cr_assert_eq(
                qc_quantize_ref_f64(ref, in, 7, N / 7, &f, &r, QC_SCALE_FLOOR, 5, &b, &err), 0);
            for (int i = 0; i < N; i++)
                if (!th_same(out[i], ref[i])) {
                    cr_expect_fail("%s mode %d element %d: in %a fast %a ref %a", fmts[fi], mode, i,
                                   in[i], out[i], ref[i]);
                    break;
                }
            cr_expect(th_same_stats(&a, &b), "%s mode %d: ov %llu/%llu uf %llu/%llu", fmts[fi],
                      mode, (unsigned long long)a.overflow, (unsigned long long)b.overflow,
                      (unsigned long long)a.underflow, (unsigned long long)b.underflow);
        }
    }
}

/* --- block formats --------------------------------------------------------- */

struct block_param {
    char fmt[32];
};

static struct block_param block_formats[] = {
    {"mxfp8_e4m3"},   {"mxfp8_e5m2"},   {"mxfp6_e3m2"},   {"mxfp6_e2m3"},   {"mxfp4_e2m1"},
    {"mxint8"},       {"mxfp8_e4m3@7"}, {"mxfp8_e5m2@7"}, {"mxfp6_e3m2@7"}, {"mxfp6_e2m3@7"},
    {"mxfp4_e2m1@7"}, {"mxint8@7"},     {"bfp8@16"},      {"bfp4@7"},       {"bfp2@3"},
    {"bfp16@32"},     {"mxfp4_e2m1@1"},
};

static const char *const block_modes[] = {"rne", "rtz", "rup", "rdn", "rna", "sr:8"};

/* Rows of 45 values (a full block of 32 and a short one of 13; with B = 7,
 * six full blocks and a short one of 3), each row at its own scale, with
 * blocks of wide dynamic range so small elements underflow. */
static void fill_blocks(float *x, int64_t rows, int64_t cols, int kind, uint64_t seed)
{
    fill_f32(x, rows * cols, kind == 0 ? 0 : 2, -12, 12, seed);
    for (int64_t r = 0; r < rows; r++) {
        const int shift = kind == 1 ? 0 : (int)(r * 37 % 200) - 100; /* -100 .. 99 */
        for (int64_t c = 0; c < cols; c++) {
            float *v = &x[r * cols + c];
            if (isfinite(*v))
                *v = ldexpf(*v, shift);
        }
    }
}

/* Keeps finite magnitudes below 2^100, so that no scale rule leaves E8M0's
 * range: scales beyond 127 have their own test (block_scale_beyond_127). */
static void tame(float *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        if (isfinite(x[i]) && fabsf(x[i]) > 0x1p100f)
            x[i] = ldexpf(x[i], -40);
}

ParameterizedTestParameters(quantize, blocks_match_ref)
{
    return cr_make_param_array(struct block_param, block_formats,
                               sizeof block_formats / sizeof block_formats[0]);
}

static void check_blocks(const struct qc_format *f, int rule_lo, int rule_hi)
{
    enum { ROWS = 9, COLS = 45 };
    float x[ROWS * COLS];
    for (size_t m = 0; m < sizeof block_modes / sizeof block_modes[0]; m++) {
        const struct qc_round r = th_round(block_modes[m], 5 + m);
        for (int rule = rule_lo; rule <= rule_hi; rule++) {
            for (int kind = 0; kind < 3; kind++) {
                fill_blocks(x, ROWS, COLS, kind, (uint64_t)(100 * m + 10 * rule + kind));
                if (kind == 2) {
                    /* raw bit patterns, one block each: NaN scales, huge and tiny values */
                    for (int i = 0; i < COLS; i++)
                        x[COLS + i] = th_bits_f32((uint32_t)(i * 0x9E3779B9u));
                    for (int i = 0; i < COLS; i++)
                        x[2 * COLS + i] = i == 3 ? 0x1.fffffep99f : 0x1p-140f * (float)i;
                }
                tame(x, ROWS * COLS);
                compare_all(x, ROWS, COLS, f, &r, (enum qc_scale_rule)rule, 77, "blocks");
            }
        }
    }
}

ParameterizedTest(struct block_param *p, quantize, blocks_match_ref)
{
    const struct qc_format f = th_format(p->fmt);
    check_blocks(&f, QC_SCALE_FLOOR, QC_SCALE_CEIL);
}

ParameterizedTestParameters(quantize, blocks_round_rule_matches_ref)
{
    return cr_make_param_array(struct block_param, block_formats,
                               sizeof block_formats / sizeof block_formats[0]);
}

/* The round rule bumps the scale when the block maximum "would round above"
 * elem max; the reference rounds it with the elements' own mode (and sign;
 * sr counts as away from zero): e.g. mxfp8_e4m3 with amax/2^e = 450 keeps
 * the floor scale under rne, as 450 rounds to 448 (mx_scale_rules_by_hand). */
ParameterizedTest(struct block_param *p, quantize, blocks_round_rule_matches_ref)
{
    const struct qc_format f = th_format(p->fmt);
    check_blocks(&f, QC_SCALE_ROUND, QC_SCALE_ROUND);
}

/* A scale beyond E8M0's 127 is the NaN scale: the block reads NaN, and a
 * finite value beyond the format's largest (elem max x 2^127) is an overflow. */
Test(quantize, block_scale_beyond_127)
{
    static const struct {
        char fmt[24];
        enum qc_scale_rule rule;
        double in[4];
        uint64_t overflow;
    } cases[] = {
        {"mxfp8_e4m3@4", QC_SCALE_FLOOR, {0x1p200, 1, 2, 3}, 1},
        {"mxfp8_e4m3@4", QC_SCALE_FLOOR, {0x1p200, -0x1p190, 2, 3}, 2},
        {"mxint8@4", QC_SCALE_CEIL, {(double)FLT_MAX, 1, 2, 3}, 1},
        {"bfp8@4", QC_SCALE_FLOOR, {-0x1p130, 1, 0, 3}, 1},
        /* 2^127 x 1.99 would need e = 127 for mxint8, within range: no NaN */
        {"mxint8@4", QC_SCALE_FLOOR, {0x1.fcp127, 1, 2, 3}, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct qc_format f = th_format(cases[i].fmt);
        const struct qc_round r = th_round("rne", 0);
        double ref[4], out[4];
        struct qc_round_stats sr = {0}, sf = {0};
        qc_quantize_ref_f64(ref, cases[i].in, 1, 4, &f, &r, cases[i].rule, 0, &sr, NULL);
        qc_quantize_f64(out, cases[i].in, 1, 4, &f, &r, cases[i].rule, 0, &sf, NULL);
        for (int j = 0; j < 4; j++) {
            cr_expect(cases[i].overflow == 0 || (isnan(ref[j]) && isnan(out[j])),
                      "#%zu [%d]: ref %a fast %a", i, j, ref[j], out[j]);
            cr_expect(th_same(ref[j], out[j]), "#%zu [%d]: ref %a fast %a", i, j, ref[j], out[j]);
        }
        cr_expect_eq(sr.overflow, cases[i].overflow, "ref #%zu: %llu overflows", i,
                     (unsigned long long)sr.overflow);
        cr_expect_eq(sf.overflow, cases[i].overflow, "fast #%zu: %llu overflows", i,
                     (unsigned long long)sf.overflow);
    }
}

/* Hand-computed MX blocks: the scale rules and the E8M0 limits. */
Test(quantize, mx_scale_rules_by_hand)
{
    const struct qc_format f = th_format("mxfp8_e4m3@4");
    const struct qc_round rne = th_round("rne", 0);
    /* amax 500: floor(log2 500) = 8 = emax_elem -> e = 0, and 500 clips to 448;
     * ceil: 500 > 448 -> e = 1 (500/2 = 250 -> 256); round: 500 rounds (rne)
     * to 512 > 448 -> e = 1. Element 1.0 stays 1 under every rule. */
    const double in[4] = {500, 1.0, -3.0, 0.0};
    const double want[3][4] = {{448, 1, -3, 0}, {512, 1, -3, 0}, {512, 1, -3, 0}};
    for (int rule = 0; rule < 3; rule++) {
        double ref[4], out[4];
        struct qc_round_stats st = {0};
        qc_quantize_ref_f64(ref, in, 1, 4, &f, &rne, (enum qc_scale_rule)rule, 0, &st, NULL);
        qc_quantize_f64(out, in, 1, 4, &f, &rne, (enum qc_scale_rule)rule, 0, NULL, NULL);
        for (int i = 0; i < 4; i++) {
            cr_expect(th_same(ref[i], want[rule][i]), "ref rule %d [%d]: %a", rule, i, ref[i]);
            cr_expect(th_same(out[i], want[rule][i]), "fast rule %d [%d]: %a", rule, i, out[i]);
        }
        cr_expect_eq(st.overflow, rule == 0 ? 1u : 0u, "floor clips 500: one overflow");
    }
    /* The round rule keeps the finer scale when the block maximum rounds to
     * elem max or below: 450 rounds (rne) to 448, so e stays 0 and 2^-9 (the
     * smallest subnormal) survives; at e = 1 it would be a tie to 0. */
    const double in2[4] = {450, 0x1p-9, 0, 0};
    double ref[4], out[4];
    qc_quantize_ref_f64(ref, in2, 1, 4, &f, &rne, QC_SCALE_ROUND, 0, NULL, NULL);
    cr_expect_eq(ref[0], 448);
    cr_expect_eq(ref[1], 0x1p-9);
    qc_quantize_f64(out, in2, 1, 4, &f, &rne, QC_SCALE_ROUND, 0, NULL, NULL);
    /* Rounding 450 up would bump the scale to e = 1 and lose 2^-9. */
    cr_expect_eq(out[0], 448, "fast round rule: %a", out[0]);
    cr_expect_eq(out[1], 0x1p-9, "fast round rule: %a", out[1]);

    /* Zero block: e = -127; tiny elements underflow at e = -127. */
    const double tiny[4] = {0x1p-140, 0x1p-137, 0, -0x1p-160};
    qc_quantize_ref_f64(ref, tiny, 1, 4, &f, &rne, QC_SCALE_FLOOR, 0, NULL, NULL);
    /* e = max(-137 - 8, -127) = -127: elements x 2^127 -> 2^-13 (subnormal
     * grid 2^-9: 0), 2^-10 -> 0 ... */
    cr_expect_eq(ref[1], 0.0);
    cr_expect(th_same(ref[3], -0.0));
    /* Scale beyond 127: a NaN block. */
    const double huge[4] = {0x1p200, 1, 2, 3};
    qc_quantize_ref_f64(ref, huge, 1, 4, &f, &rne, QC_SCALE_FLOOR, 0, NULL, NULL);
    qc_quantize_f64(out, huge, 1, 4, &f, &rne, QC_SCALE_FLOOR, 0, NULL, NULL);
    for (int i = 0; i < 4; i++)
        cr_expect(isnan(ref[i]) && isnan(out[i]), "[%d] ref %a fast %a", i, ref[i], out[i]);
    /* NaN or inf anywhere: the whole block reads NaN. */
    const double withinf[4] = {1, INFINITY, 2, 3};
    qc_quantize_ref_f64(ref, withinf, 1, 4, &f, &rne, QC_SCALE_FLOOR, 0, NULL, NULL);
    for (int i = 0; i < 4; i++)
        cr_expect(isnan(ref[i]));
    /* mxint8: 2^-6 steps of the scaled block maximum in [1, 2). */
    const struct qc_format mi = th_format("mxint8@2");
    const double ints[2] = {3.0, 0.01};
    qc_quantize_ref_f64(ref, ints, 1, 2, &mi, &rne, QC_SCALE_FLOOR, 0, NULL, NULL);
    cr_expect_eq(ref[0], 3.0);
    cr_expect_eq(ref[1], 0.0, "0.01 / 2 = 0.005 < 2^-7: rounds to 0");
}

/* --- stochastic rounding ---------------------------------------------------- */

Test(quantize, sr_is_reproducible_and_split_independent)
{
    enum { N = 1000, ROWS = 10, COLS = 100 };
    static const char fmts[][24] = {"e5m2", "q8.8", "int8", "mxfp4_e2m1@7", "bfp4@16", "e5m2:daz"};
    float x[N], whole[N], parts[N], again[N], other[N];
    fill_f32(x, N, 0, -10, 6, 4);
    for (size_t fi = 0; fi < sizeof fmts / sizeof fmts[0]; fi++) {
        const struct qc_format f = th_format(fmts[fi]);
        struct qc_round r = th_round("sr:12", 2024), r2 = r;
        r2.seed = 2025;
        struct qc_err err;
        cr_assert_eq(qc_quantize_f32(whole, x, ROWS, COLS, &f, &r, QC_SCALE_FLOOR, 500, NULL, &err),
                     0);
        cr_assert_eq(qc_quantize_f32(again, x, ROWS, COLS, &f, &r, QC_SCALE_FLOOR, 500, NULL, &err),
                     0);
        cr_assert_eq(
            qc_quantize_f32(other, x, ROWS, COLS, &f, &r2, QC_SCALE_FLOOR, 500, NULL, &err), 0);
        /* The same rows in three calls, each told where it starts. */
        const int64_t cut[] = {0, 3, 4, ROWS};
        for (int c = 0; c < 3; c++) {
            const int64_t r0 = cut[c], nr = cut[c + 1] - cut[c];
            cr_assert_eq(qc_quantize_f32(parts + r0 * COLS, x + r0 * COLS, nr, COLS, &f, &r,
                                         QC_SCALE_FLOOR, 500 + (uint64_t)(r0 * COLS), NULL, &err),
                         0);
        }
        int differ = 0;
        for (int i = 0; i < N; i++) {
            cr_expect(th_same_f(whole[i], again[i]), "%s: not reproducible at %d", fmts[fi], i);
            cr_expect(th_same_f(whole[i], parts[i]), "%s: split changes element %d", fmts[fi], i);
            differ += !th_same_f(whole[i], other[i]);
        }
        cr_expect_gt(differ, 0, "%s: another seed must change something", fmts[fi]);
    }
    /* Scalar formats may be split anywhere, even mid-row. */
    const struct qc_format f = th_format("e4m3");
    const struct qc_round r = th_round("sr:32", 8);
    cr_assert_eq(qc_quantize_f32(whole, x, 1, N, &f, &r, QC_SCALE_FLOOR, 0, NULL, NULL), 0);
    cr_assert_eq(qc_quantize_f32(parts, x, 1, 333, &f, &r, QC_SCALE_FLOOR, 0, NULL, NULL), 0);
    cr_assert_eq(
        qc_quantize_f32(parts + 333, x + 333, 1, N - 333, &f, &r, QC_SCALE_FLOOR, 333, NULL, NULL),
        0);
    for (int i = 0; i < N; i++)
        cr_expect(th_same_f(whole[i], parts[i]), "e4m3 split at 333: element %d", i);
}

/* The mean of many stochastic roundings of x is x, within 2^-R of an ulp
 * plus sampling noise (5 sigma, sigma <= ulp / 2 / sqrt(N)). */
Test(quantize, sr_is_unbiased)
{
    enum { N = 40000 };
    static const struct {
        char fmt[32];
        char mode[8];
        double x, ulp;
        int bits;
    } cases[] = {
        {"e5m2", "sr:32", 1.075, 0.25, 32},
        {"e5m2", "sr:4", 1.075, 0.25, 4},
        {"e5m2", "sr:4", -0x1.3p-16, 0x1p-16, 4}, /* subnormal grid */
        {"e4m3", "sr:8", 100.7, 8, 8},
        {"q8.8", "sr:16", 3.001, 0x1p-8, 16},
        {"int8", "sr:32", -7.3, 1, 32},
        {"e5m2:daz", "sr:32", 0x1.2p-16, 0x1p-14, 32}, /* the gap: 0 or 2^-14 */
        {"e5m2:subnormal-as-normal", "sr:32", 0x1.2p-16, 0x1.4p-15, 32},
    };
    float *in = malloc(sizeof(float) * N), *out = malloc(sizeof(float) * N);
    double *in64 = malloc(sizeof(double) * N), *out64 = malloc(sizeof(double) * N);
    cr_assert(in && out && in64 && out64);
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const struct qc_format f = th_format(cases[c].fmt);
        const struct qc_round r = th_round(cases[c].mode, 31 + c);
        for (int i = 0; i < N; i++) {
            in[i] = (float)cases[c].x;
            in64[i] = cases[c].x;
        }
        cr_assert_eq(qc_quantize_f32(out, in, 1, N, &f, &r, QC_SCALE_FLOOR, 0, NULL, NULL), 0);
        cr_assert_eq(qc_quantize_ref_f64(out64, in64, 1, N, &f, &r, QC_SCALE_FLOOR, 0, NULL, NULL),
                     0);
        double mean = 0, mean_ref = 0;
        for (int i = 0; i < N; i++) {
            mean += out[i];
            mean_ref += out64[i];
        }
        mean /= N;
        mean_ref /= N;
        const double bound = cases[c].ulp * (ldexp(1.0, -cases[c].bits) + 2.5 / sqrt(N));
        const double x = (double)(float)cases[c].x;
        cr_expect(fabs(mean - x) <= bound, "%s %s x=%a: fast mean %a off by %g > %g", cases[c].fmt,
                  cases[c].mode, x, mean, fabs(mean - x), bound);
        cr_expect(fabs(mean_ref - x) <= bound, "%s %s x=%a: ref mean %a off by %g > %g",
                  cases[c].fmt, cases[c].mode, x, mean_ref, fabs(mean_ref - x), bound);
    }
    free(in);
    free(out);
    free(in64);
    free(out64);
}

/* --- fp32 output -------------------------------------------------------------- */

Test(quantize, f32_output_refused_when_values_do_not_fit)
{
    static const char fmts[][24] = {"e11m51", "e8m24", "e9m2",  "e8m23:bias=126",
                                    "q16.16", "int25", "e5m30", "q20.5"};
    float in[4] = {1, 2, 3, 4}, out[4];
    double in64[4] = {1, 2, 3, 4}, out64[4];
    for (size_t i = 0; i < sizeof fmts / sizeof fmts[0]; i++) {
        const struct qc_format f = th_format(fmts[i]);
        const struct qc_round r = th_round("rne", 0);
        struct qc_err err;
        qc_err_clear(&err);
        cr_expect_eq(qc_quantize_f32(out, in, 1, 4, &f, &r, QC_SCALE_FLOOR, 0, NULL, &err),
                     QC_EINVAL, "%s must refuse fp32 output", fmts[i]);
        cr_expect(strstr(err.msg, f.name) != NULL, "%s: message '%s'", fmts[i], err.msg);
        cr_expect_eq(qc_quantize_f64(out64, in64, 1, 4, &f, &r, QC_SCALE_FLOOR, 0, NULL, &err), 0,
                     "%s: fp64 output works", fmts[i]);
    }
    /* and formats that fit are accepted */
    const struct qc_format ok = th_format("q12.12");
    const struct qc_round r = th_round("rne", 0);
    cr_expect_eq(qc_quantize_f32(out, in, 1, 4, &ok, &r, QC_SCALE_FLOOR, 0, NULL, NULL), 0);
}

Test(quantize, in_place_and_bad_arguments)
{
    float x[64], y[64];
    fill_f32(x, 64, 0, -5, 5, 1);
    memcpy(y, x, sizeof x);
    const struct qc_format f = th_format("mxfp4_e2m1@7");
    const struct qc_round r = th_round("rne", 0);
    float out[64];
    cr_assert_eq(qc_quantize_f32(out, x, 4, 16, &f, &r, QC_SCALE_FLOOR, 0, NULL, NULL), 0);
    cr_assert_eq(qc_quantize_f32(y, y, 4, 16, &f, &r, QC_SCALE_FLOOR, 0, NULL, NULL), 0);
    cr_expect(memcmp(out, y, sizeof y) == 0, "out may alias in");
    double d[8] = {1, 2, 3, 4, 5, 6, 7, 8}, dref[8];
    cr_assert_eq(qc_quantize_ref_f64(dref, d, 1, 8, &f, &r, QC_SCALE_FLOOR, 0, NULL, NULL), 0);
    cr_assert_eq(qc_quantize_ref_f64(d, d, 1, 8, &f, &r, QC_SCALE_FLOOR, 0, NULL, NULL), 0);
    cr_expect(memcmp(d, dref, sizeof d) == 0, "the reference may alias too");
    struct qc_err err;
    cr_expect_eq(qc_quantize_ref_f64(d, d, -1, 8, &f, &r, QC_SCALE_FLOOR, 0, NULL, &err),
                 QC_EINVAL);
    cr_expect_eq(qc_quantize_f32(y, y, -1, 8, &f, &r, QC_SCALE_FLOOR, 0, NULL, &err), QC_EINVAL);
}

/* The SIMD stochastic path takes one Philox block per four elements: the
 * elements before the first block start, the 2*VL runs and the tail go
 * different ways. Every start offset mod 4 and every short length, on each
 * kernel variant this CPU runs, against the scalar engine. */
Test(quantize, sr_every_start_and_length_matches_the_scalar_engine)
{
    enum { N = 80 };
    float x[N], a[N], b[N];
    fill_f32(x, N, 0, -12, 10, 9);
    const struct qc_format f = th_format("e4m3");
    const struct qc_round r = th_round("sr:11", 31);
    int ran = 0;
    for (size_t v = 1; v < sizeof isas / sizeof isas[0]; v++) {
        if (qc_quantize_f32_isa(a, x, 1, 1, &f, &r, QC_SCALE_FLOOR, 0, NULL, isas[v], NULL) ==
            QC_EUNSUPP)
            continue;
        ran++;
        for (uint64_t first = 100; first < 104; first++)
            for (int64_t n = 0; n <= N; n++) {
                struct qc_round_stats sa = {0}, sb = {0};
                cr_assert_eq(qc_quantize_f32_isa(a, x, 1, n, &f, &r, QC_SCALE_FLOOR, first, &sa,
                                                 isas[v], NULL),
                             0);
                cr_assert_eq(qc_quantize_f32_isa(b, x, 1, n, &f, &r, QC_SCALE_FLOOR, first, &sb,
                                                 "scalar", NULL),
                             0);
                for (int64_t j = 0; j < n; j++)
                    cr_assert(th_same_f(a[j], b[j]), "%s first %llu n %lld: element %lld %a vs %a",
                              isas[v], (unsigned long long)first, (long long)n, (long long)j,
                              (double)a[j], (double)b[j]);
                cr_assert(th_same_stats(&sa, &sb), "%s first %llu n %lld: counters differ", isas[v],
                          (unsigned long long)first, (long long)n);
            }
    }
    cr_expect_geq(ran, 1, "generic runs everywhere");
}

/* Stochastic rounding of a large array runs its SIMD path on several
 * threads: the same bits and counters as the exact scalar engine, since
 * each element's random bits depend on its index alone. */
Test(quantize, sr_large_arrays_match_the_scalar_engine)
{
    enum { N = 200003 };
    static const char *const fmts[] = {"e4m3", "e5m2:sat", "fp16:nosub", "bf16"};
    float *x = malloc(sizeof(float) * N), *a = malloc(sizeof(float) * N),
          *b = malloc(sizeof(float) * N);
    cr_assert(x && a && b);
    fill_f32(x, N, 0, -30, 20, 5);
    for (size_t i = 0; i < sizeof fmts / sizeof fmts[0]; i++) {
        const struct qc_format f = th_format(fmts[i]);
        struct qc_round r = th_round(i % 2 ? "sr:13" : "sr", 99 + i);
        r.stream = 7 + i;
        struct qc_round_stats sa = {0}, sb = {0};
        struct qc_err err;
        cr_assert_eq(qc_quantize_f32(a, x, 1, N, &f, &r, QC_SCALE_FLOOR, 11, &sa, &err), 0, "%s",
                     err.msg);
        cr_assert_eq(
            qc_quantize_f32_isa(b, x, 1, N, &f, &r, QC_SCALE_FLOOR, 11, &sb, "scalar", &err), 0,
            "%s", err.msg);
        for (int64_t j = 0; j < N; j++)
            if (!th_same_f(a[j], b[j])) {
                cr_expect_fail("%s: element %lld: %a vs scalar %a", fmts[i], (long long)j,
                               (double)a[j], (double)b[j]);
                break;
            }
        cr_expect(th_same_stats(&sa, &sb), "%s: counters differ", fmts[i]);
    }
    free(x);
    free(a);
    free(b);
}
