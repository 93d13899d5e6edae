/* Scalar rounding, fast (qc_round_value) against the MPFR reference
 * (qc_round_value_ref): every value of every narrow format, every midpoint
 * and its neighbours, the overflow and underflow edges and random doubles,
 * under every mode; plus hand-computed boundary cases that pin both to
 * docs/formats.md. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <float.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qcore/quantize.h"
#include "qcore/ref.h"
#include "test_helpers.h"

/* --- the fast engine against the reference -------------------------------- */

struct mode_case {
    const char *mode;
    uint64_t seed;
};

static const struct mode_case modes[] = {
    {"rne", 0},   {"rna", 0},  {"rtz", 0},   {"rup", 0},   {"rdn", 0},    {"sr:4", 1},
    {"sr:4", 99}, {"sr:1", 5}, {"sr:32", 7}, {"sr:32", 8}, {"sr:64", 11},
};
#define N_MODES (sizeof modes / sizeof modes[0])

struct values {
    double *v;
    size_t n, cap;
};

static void push(struct values *vs, double x)
{
    if (vs->n == vs->cap) {
        vs->cap = vs->cap ? 2 * vs->cap : 1024;
        vs->v = realloc(vs->v, vs->cap * sizeof *vs->v);
        cr_assert_not_null(vs->v);
    }
    vs->v[vs->n++] = x;
}

static void push_pm(struct values *vs, double x)
{
    push(vs, x);
    push(vs, -x);
}

/* Adjacent values lo < hi: their midpoint and the doubles either side of it. */
static void push_mid(struct values *vs, double lo, double hi)
{
    if (!isfinite(lo) || !isfinite(hi) || !(lo < hi))
        return;
    double mid = lo / 2 + hi / 2; /* exact for format neighbours */
    push(vs, mid);
    push(vs, nextafter(mid, -INFINITY));
    push(vs, nextafter(mid, INFINITY));
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The test inputs for format f: its values, midpoints, edges, random doubles. */
static struct values inputs_for(const struct qc_format *f, uint64_t rs)
{
    struct values vs = {0}, codes = {0};
    const bool enumerate = f->bits <= 12;
    const uint64_t ncodes = UINT64_C(1) << (f->bits < 63 ? f->bits : 63);

    if (enumerate) {
        for (uint64_t c = 0; c < ncodes; c++) {
            double v = qc_format_decode(f, c);
            if (!isnan(v))
                push(&codes, v);
        }
        qsort(codes.v, codes.n, sizeof *codes.v, cmp_double);
        for (size_t i = 0; i < codes.n; i++) {
            push(&vs, codes.v[i]);
            if (i + 1 < codes.n)
                push_mid(&vs, codes.v[i], codes.v[i + 1]);
        }
        free(codes.v);
    } else {
        /* Wide formats: random codes and their successors. */
        for (int i = 0; i < 2000; i++) {
            uint64_t c = th_next(&rs) & (ncodes - 1);
            double a = qc_format_decode(f, c), b = qc_format_decode(f, c + 1);
            push(&vs, a);
            if (a > b) {
                double t = a;
                a = b;
                b = t;
            }
            push_mid(&vs, a, b);
        }
    }

    const double max = f->max_finite, s = f->min_subnormal, mn = f->min_normal;
    /* The quantum of the top binade (fixed point: one ulp). */
    const double qtop = f->kind == QC_FMT_FLOAT ? ldexp(1.0, f->emax - f->mbits) : mn;
    const double edges[] = {
        max,
        nextafter(max, INFINITY),
        max + qtop / 2,
        nextafter(max + qtop / 2, 0),
        nextafter(max + qtop / 2, INFINITY),
        max + qtop,
        max + 1.5 * qtop,
        2 * max,
        4 * max,
        1e300,
        DBL_MAX,
        INFINITY,
        0.0,
        s,
        s / 2,
        nextafter(s / 2, 0),
        nextafter(s / 2, 1),
        0.75 * s,
        0.25 * s,
        s * 1.5,
        mn,
        nextafter(mn, 0),
        mn / 2,
        mn - s / 2,
        0x1p-1074,
        DBL_MIN,
        1.0,
        0.5,
        1.0 / 3,
    };
    for (size_t i = 0; i < sizeof edges / sizeof edges[0]; i++)
        push_pm(&vs, edges[i]);
    push(&vs, NAN);
    push(&vs, -NAN);
    if (f->kind == QC_FMT_FIXED) {
        const double lowest = -ldexp(1.0, f->ibits - 1);
        push(&vs, lowest - mn / 2);
        push(&vs, lowest - mn);
        push(&vs, ldexp(1.0, f->ibits));      /* wraps to 0 */
        push(&vs, ldexp(1.0, f->ibits) + mn); /* wraps to one ulp */
        push(&vs, -ldexp(3.0, f->ibits - 1)); /* wraps to 2^(M-1) - ... */
    }

    /* Random doubles over the format's range by octave, and raw bit patterns. */
    int elo = (int)floor(log2(s)) - 4, ehi = (int)floor(log2(max)) + 3;
    for (int i = 0; i < 2500; i++)
        push(&vs, th_spread(&rs, elo, ehi));
    for (int i = 0; i < 300; i++)
        push(&vs, th_bits_f64(th_next(&rs)));
    return vs;
}

/* Rounds every input under every mode with both engines; returns the number
 * of disagreements and describes the first in `first`. */
static size_t compare_engines(const struct qc_format *f, const struct values *vs, char *first,
                              size_t len)
{
    size_t bad = 0;
    for (size_t m = 0; m < N_MODES; m++) {
        const struct qc_round r = th_round(modes[m].mode, modes[m].seed);
        for (size_t i = 0; i < vs->n; i++) {
            /* Indices with high bits set too: the generator's counter is 64-bit. */
            const uint64_t index = (i & 1) ? i : i + (UINT64_C(0x5a5a) << 40);
            struct qc_round_stats sf = {0}, sr = {0};
            const double x = vs->v[i];
            const double a = qc_round_value(f, x, &r, index, &sf);
            const double b = qc_round_value_ref(f, x, &r, index, &sr);
            if (th_same(a, b) && th_same_stats(&sf, &sr))
                continue;
            if (bad++ == 0)
                snprintf(first, len,
                         "%s %s seed %llu index %llu: x=%a (%.17g): fast %a ov%llu uf%llu, "
                         "ref %a ov%llu uf%llu",
                         f->name, modes[m].mode, (unsigned long long)modes[m].seed,
                         (unsigned long long)index, x, x, a, (unsigned long long)sf.overflow,
                         (unsigned long long)sf.underflow, b, (unsigned long long)sr.overflow,
                         (unsigned long long)sr.underflow);
        }
    }
    return bad;
}

struct fmt_param {
    char s[40];
};

/* Regressions these formats caught: sr in the daz / subnormal-as-normal gap
 * with all-zero random bits (e5m2:daz sr:4 seed 1 index 1007, x = -2^-16
 * rounds to -2^-14), and wrap formats counting the overflow of values far
 * beyond the range (q4.4:wrap, |x| >= 1.5*2^125). */
static struct fmt_param exhaustive_formats[] = {
    {"e4m3"},
    {"e5m2"},
    {"fp8_e4m3"},
    {"e3m4"},
    {"e2m5"},
    {"e5m2:sat"},
    {"e5m2:nosub"},
    {"e5m2:daz"},
    {"e5m2:subnormal-as-normal"},
    {"e5m2:fn"},
    {"e5m2:inf1"},
    {"e5m2:finite"},
    {"e5m2:bias=20"},
    {"e5m2:inf1:subnormal-as-normal"},
    {"e5m2:inf1:daz"},
    {"e4m3:inf1"},
    {"e4m3:daz"},
    {"e4m3:subnormal-as-normal"},
    {"e4m3:sat:nosub"},
    {"e4m3:fn:sat"},
    {"e3m2:finite"},
    {"e2m1:finite"},
    {"e2m3:finite"},
    {"e3m0"},
    {"e6m5"},
    {"e5m5"},
    {"e4m7:bias=10"},
    {"e4m7:bias=10:nosub:sat"},
    {"int8"},
    {"int4"},
    {"q4.4"},
    {"q8.0"},
    {"q4.4:wrap"},
    {"q1.7:wrap"},
    {"q8.0:sat"},
    /* wider formats: random codes, their neighbours and midpoints */
    {"fp16"},
    {"bf16"},
    {"tf32"},
    {"fp32"},
    {"fp32:nosub"},
    {"e8m23:subnormal-as-normal"},
    {"e11m51"},
    {"q8.13"},
    {"q11.13"},
    {"q16.16:wrap"},
    {"int16"},
    {"int53"},
};

ParameterizedTestParameters(round, fast_matches_ref)
{
    return cr_make_param_array(struct fmt_param, exhaustive_formats,
                               sizeof exhaustive_formats / sizeof exhaustive_formats[0]);
}

ParameterizedTest(struct fmt_param *p, round, fast_matches_ref)
{
    const struct qc_format f = th_format(p->s);
    struct values vs = inputs_for(&f, 0x1234 + (uint64_t)f.bits);
    char first[512] = "";
    size_t bad = compare_engines(&f, &vs, first, sizeof first);
    cr_expect_eq(bad, 0, "%zu of %zu roundings differ; first: %s", bad, vs.n * N_MODES, first);
    free(vs.v);
}

/* Every value of a format rounds to itself in every mode, with no events. */
ParameterizedTestParameters(round, values_are_fixed_points)
{
    return cr_make_param_array(struct fmt_param, exhaustive_formats,
                               sizeof exhaustive_formats / sizeof exhaustive_formats[0]);
}

ParameterizedTest(struct fmt_param *p, round, values_are_fixed_points)
{
    const struct qc_format f = th_format(p->s);
    if (f.bits > 12)
        cr_skip_test("%s has %d bits: too many codes to enumerate (the random-code test covers it)",
                     p->s, f.bits);
    for (size_t m = 0; m < N_MODES; m++) {
        const struct qc_round r = th_round(modes[m].mode, modes[m].seed);
        for (uint64_t c = 0; c < (UINT64_C(1) << f.bits); c++) {
            const double v = qc_format_decode(&f, c);
            if (isnan(v) || (f.kind == QC_FMT_INT && v == -ldexp(1.0, f.bits - 1)))
                continue;
            if (isinf(v) && (f.flags & QC_FMTF_SAT))
                continue; /* sat turns inf inputs into max finite */
            if ((f.flags & QC_FMTF_NOSUB) && v != 0 && fabs(v) < f.min_normal)
                continue; /* nosub: subnormal codes are not results */
            struct qc_round_stats st = {0};
            const double got = qc_round_value_ref(&f, v, &r, c, &st);
            const double fast = qc_round_value(&f, v, &r, c, NULL);
            const double want = v == 0 && f.kind != QC_FMT_FLOAT ? 0.0 : v;
            cr_expect(th_same(got, want) && th_same(fast, want), "%s %s: %a -> ref %a fast %a",
                      f.name, modes[m].mode, v, got, fast);
            cr_expect(st.overflow == 0 && st.underflow == 0);
        }
    }
}

/* --- hand-computed boundaries ------------------------------------------------ */

struct boundary {
    char fmt[40];
    char mode[8];
    double x, want;
    int overflow, underflow;
};

/* e5m2 near 1: grid 0.25. e5m2 max 57344 = 1.75 x 2^15, next grid point 65536. */
static const struct boundary boundaries[] = {
    /* ties in every mode */
    {"e5m2", "rne", 1.125, 1.0, 0, 0},
    {"e5m2", "rne", 1.375, 1.5, 0, 0},
    {"e5m2", "rne", -1.125, -1.0, 0, 0},
    {"e5m2", "rna", 1.125, 1.25, 0, 0},
    {"e5m2", "rna", -1.375, -1.5, 0, 0},
    {"e5m2", "rtz", 1.375, 1.25, 0, 0},
    {"e5m2", "rtz", -1.49, -1.25, 0, 0},
    {"e5m2", "rup", 1.125, 1.25, 0, 0},
    {"e5m2", "rup", -1.49, -1.25, 0, 0},
    {"e5m2", "rdn", 1.49, 1.25, 0, 0},
    {"e5m2", "rdn", -1.26, -1.5, 0, 0},
    {"e5m2", "rne", 3.75, 4.0, 0, 0},          /* tie into the next binade: 4 is even */
    {"e5m2", "rne", 0x1.2p-16, 0x1p-16, 0, 0}, /* subnormal grid 2^-16 */
    {"e5m2", "rne", 0x1p-17, 0.0, 0, 1},       /* half the smallest subnormal: tie to 0 */
    {"e5m2", "rna", 0x1p-17, 0x1p-16, 0, 0},
    {"e5m2", "rne", -0x1p-18, -0.0, 0, 1}, /* underflow keeps the sign */
    {"e5m2", "rup", 0x1p-40, 0x1p-16, 0, 0},
    {"e5m2", "rup", -0x1p-40, -0.0, 0, 1},
    {"e5m2", "rne", 0x1.8p-16, 0x1p-15, 0, 0},
    {"e5m2", "rne", -0.0, -0.0, 0, 0},
    {"e5m2", "rne", 0.0, 0.0, 0, 0},
    /* overflow by mode */
    {"e5m2", "rne", 60000, 57344, 0, 0},
    {"e5m2", "rne", 61440, INFINITY, 1, 0}, /* tie between 57344 and 65536: 65536 even */
    {"e5m2", "rne", 61439, 57344, 0, 0},
    {"e5m2", "rna", 61440, INFINITY, 1, 0},
    {"e5m2", "rtz", 1e9, 57344, 1, 0},
    {"e5m2", "rtz", 65535, 57344, 0, 0}, /* rounds to 57344: no overflow */
    {"e5m2", "rup", 57345, INFINITY, 1, 0},
    {"e5m2", "rup", -1e9, -57344, 1, 0},
    {"e5m2", "rdn", -57345, -INFINITY, 1, 0},
    {"e5m2", "rdn", 1e9, 57344, 1, 0},
    {"e5m2", "rne", INFINITY, INFINITY, 0, 0}, /* not an overflow: not finite */
    {"e5m2", "rtz", -INFINITY, -INFINITY, 0, 0},
    {"e5m2", "rne", NAN, NAN, 0, 0},
    /* sat */
    {"e5m2:sat", "rne", 1e9, 57344, 1, 0},
    {"e5m2:sat", "rup", -1e9, -57344, 1, 0},
    {"e5m2:sat", "rne", INFINITY, 57344, 0, 0},
    {"e5m2:sat", "rne", -INFINITY, -57344, 0, 0},
    /* fn: 448 = 1.110 x 2^8, 480 would be 1.111 x 2^8 (the NaN code) */
    {"fp8_e4m3", "rne", 464, 448, 0, 0},
    {"fp8_e4m3", "rne", 464.5, NAN, 1, 0},
    {"fp8_e4m3", "rne", 480, NAN, 1, 0},
    {"fp8_e4m3", "rtz", 479, 448, 0, 0},
    {"fp8_e4m3", "rtz", 500, 448, 1, 0},
    {"fp8_e4m3", "rup", 449, NAN, 1, 0},
    {"fp8_e4m3", "rup", -1000, -448, 1, 0},
    {"fp8_e4m3", "rne", INFINITY, NAN, 0, 0},
    {"fp8_e4m3", "rtz", INFINITY, 448, 0, 0},
    {"fp8_e4m3", "rdn", -INFINITY, NAN, 0, 0},
    {"fp8_e4m3:sat", "rne", 1000, 448, 1, 0},
    /* inf1: 98304 = 1.10 x 2^16, inf at 1.11 x 2^16 = 114688 */
    {"e5m2:inf1", "rne", 106496, 98304, 0, 0},
    {"e5m2:inf1", "rne", 106497, INFINITY, 1, 0},
    {"e5m2:inf1", "rne", 81920, 81920, 0, 0},
    {"e5m2:inf1", "rne", NAN, NAN, 0, 0},
    /* finite: neither inf nor NaN; overflow saturates in every mode */
    {"e3m2:finite", "rne", 29.9, 28, 0, 0},
    {"e3m2:finite", "rne", 30, 28, 1, 0}, /* tie to 32 (even): beyond max */
    {"e3m2:finite", "rne", 31, 28, 1, 0},
    {"e3m2:finite", "rup", 1e9, 28, 1, 0},
    {"e3m2:finite", "rne", -INFINITY, -28, 0, 0},
    {"e2m1:finite", "rne", 5, 4, 0, 0},
    {"e2m1:finite", "rne", 6.9, 6, 0, 0},
    {"e2m1:finite", "rne", 7, 6, 1, 0},
    {"e2m1:finite", "rne", 7.0001, 6, 1, 0},
    /* nosub: round as if subnormals existed, then flush */
    {"e5m2:nosub", "rne", 0x1p-15, 0.0, 0, 1},
    {"e5m2:nosub", "rne", -0x1.8p-15, -0.0, 0, 1},
    {"e5m2:nosub", "rne", 0x1.ep-15, 0x1p-14, 0, 0}, /* rounds up to the smallest normal */
    {"e5m2:nosub", "rtz", 0x1.fp-15, 0.0, 0, 1},
    {"e5m2:nosub", "rne", 0x1p-14, 0x1p-14, 0, 0},
    /* daz: value set {0} u normals; s = 2^-14 */
    {"e5m2:daz", "rne", 0x1p-15, 0.0, 0, 1}, /* s/2: 0 is even */
    {"e5m2:daz", "rne", 0x1.0000000000001p-15, 0x1p-14, 0, 0},
    {"e5m2:daz", "rna", 0x1p-15, 0x1p-14, 0, 0},
    {"e5m2:daz", "rtz", 0x1.fp-15, 0.0, 0, 1},
    {"e5m2:daz", "rup", 0x1p-60, 0x1p-14, 0, 0},
    {"e5m2:daz", "rup", -0x1p-60, -0.0, 0, 1},
    {"e5m2:daz", "rdn", -0x1p-60, -0x1p-14, 0, 0},
    /* subnormal-as-normal: s = 1.25 x 2^-15, grid 2^-17 up to 2^-14 */
    {"e5m2:subnormal-as-normal", "rne", 0x1p-15, 3.814697265625e-05, 0, 0},
    {"e5m2:subnormal-as-normal", "rne", 0x1.4p-16, 0.0, 0, 1}, /* s/2 */
    {"e5m2:subnormal-as-normal", "rne", 0x1.41p-16, 0x1.4p-15, 0, 0},
    {"e5m2:subnormal-as-normal", "rna", -0x1.4p-16, -0x1.4p-15, 0, 0},
    {"e5m2:subnormal-as-normal", "rne", 0x1.bp-15, 0x1.cp-15, 0, 0},
    {"e5m2:subnormal-as-normal", "rne", 0x1.ep-15, 0x1p-14, 0, 0}, /* tie: 2^-14 even */
    {"e5m2:subnormal-as-normal", "rne", 0x1.dp-15, 0x1.cp-15, 0, 0},
    {"e5m2:subnormal-as-normal", "rtz", 0x1.3p-15, 0.0, 0, 1}, /* below s */
    {"e5m2:subnormal-as-normal", "rup", 0x1.3p-15, 0x1.4p-15, 0, 0},
    /* bias= shifts the range: e4m7:bias=10 has max 31.875, min normal 2^-9 */
    {"e4m7:bias=10", "rne", 31.9, 31.875, 0, 0},
    {"e4m7:bias=10", "rne", 31.9375, INFINITY, 1, 0},
    {"e4m7:bias=10", "rtz", 1000, 31.875, 1, 0},
    {"e4m7:bias=10", "rtz", 1.00390625 + 0x1p-20, 1.0, 0, 0},
    {"e4m7:bias=10:nosub", "rne", 0x1p-10, 0.0, 0, 1},
    {"e4m7:bias=10", "rne", 0x1p-17, 0.0, 0, 1},
    {"e4m7:bias=10", "rne", 0x1p-16, 0x1p-16, 0, 0},
    /* fixed point: grid 2^-N, range [-2^(M-1), 2^(M-1) - 2^-N] */
    {"q8.8", "rne", 200, 127.99609375, 1, 0},
    {"q8.8", "rne", 127.994140625, 127.9921875, 0, 0},  /* tie: 32766 / 256 is even */
    {"q8.8", "rne", 127.998046875, 127.99609375, 1, 0}, /* tie to 128 (even): saturates */
    {"q8.8", "rne", 127.9990234375, 127.99609375, 1, 0},
    {"q8.8", "rne", -200, -128, 1, 0},
    {"q8.8", "rne", -128.001953125, -128, 0, 0},
    {"q8.8", "rne", INFINITY, 127.99609375, 0, 0},
    {"q8.8", "rne", -INFINITY, -128, 0, 0},
    {"q8.8", "rne", 0x1p-9, 0.0, 0, 1},
    {"q8.8", "rne", -0x1p-9, 0.0, 0, 1}, /* no -0 */
    {"q8.8", "rne", -0.0, 0.0, 0, 0},
    {"q8.8", "rne", 0x3p-9, 0x1p-7, 0, 0},
    {"q8.8", "rna", 0x1p-9, 0x1p-8, 0, 0},
    {"q8.8", "rdn", -0x1p-30, -0x1p-8, 0, 0},
    {"q8.8", "rup", -0x1p-30, 0.0, 0, 1},
    {"q8.8:wrap", "rne", 200, -56, 1, 0},
    {"q8.8:wrap", "rne", -129, 127, 1, 0},
    {"q8.8:wrap", "rne", 128.5, -127.5, 1, 0},
    {"q8.8:sat", "rne", 128.5, 127.99609375, 1, 0},
    {"q8.13", "rtz", 1.00006103515625 * 3, 3.0001220703125, 0, 0},
    /* int: symmetric */
    {"int8", "rne", 127.5, 127, 1, 0},
    {"int8", "rne", 126.5, 126, 0, 0},
    {"int8", "rna", 126.5, 127, 0, 0},
    {"int8", "rne", -127.5, -127, 1, 0},
    {"int8", "rne", -128, -127, 1, 0},
    {"int8", "rne", 0.5, 0.0, 0, 1},
    {"int8", "rne", 1.5, 2.0, 0, 0},
    {"int16", "rne", 40000, 32767, 1, 0},
    /* wide formats: one rounding of the exact double, never via fp32 */
    {"fp16", "rne", 1.0 + 0x1p-11 + 0x1p-40, 1.0 + 0x1p-10, 0, 0},
    {"bf16", "rne", 1.0 + 0x1p-8 + 0x1p-30, 1.0 + 0x1p-7, 0, 0},
    {"fp32", "rne", 1.0 + 0x1p-24 + 0x1p-52, 1.0 + 0x1p-23, 0, 0},
    {"fp32", "rne", 0x1p-150, 0.0, 0, 1},
    {"fp32", "rne", 0x1.8p-150, 0x1p-149, 0, 0},
    {"fp32", "rne", 0x1.ffffffp127, INFINITY, 1, 0},
};

Test(round, boundaries_by_hand)
{
    for (size_t i = 0; i < sizeof boundaries / sizeof boundaries[0]; i++) {
        const struct boundary *c = &boundaries[i];
        const struct qc_format f = th_format(c->fmt);
        const struct qc_round r = th_round(c->mode, 0);
        struct qc_round_stats sf = {0}, sr = {0};
        const double a = qc_round_value(&f, c->x, &r, 0, &sf);
        const double b = qc_round_value_ref(&f, c->x, &r, 0, &sr);
        cr_expect(th_same(b, c->want) && (int)sr.overflow == c->overflow &&
                      (int)sr.underflow == c->underflow && sr.ops == 1,
                  "ref %s %s x=%a: %a ov%d uf%d, want %a ov%d uf%d", c->fmt, c->mode, c->x, b,
                  (int)sr.overflow, (int)sr.underflow, c->want, c->overflow, c->underflow);
        cr_expect(th_same(a, c->want) && (int)sf.overflow == c->overflow &&
                      (int)sf.underflow == c->underflow && sf.ops == 1,
                  "fast %s %s x=%a: %a ov%d uf%d, want %a ov%d uf%d", c->fmt, c->mode, c->x, a,
                  (int)sf.overflow, (int)sf.underflow, c->want, c->overflow, c->underflow);
    }
}

/* NaN results are one canonical quiet NaN, whatever the input's sign or payload. */
Test(round, nan_is_canonical)
{
    const double canon = NAN;
    const double inputs[] = {NAN, -NAN, th_bits_f64(UINT64_C(0x7ff0000000000001)),
                             th_bits_f64(UINT64_C(0xfff8000000000123))};
    const char *fmts[] = {"e5m2", "fp8_e4m3", "e5m2:inf1", "q8.8", "int8", "fp32"};
    const struct qc_round rne = th_round("rne", 0);
    for (size_t fi = 0; fi < sizeof fmts / sizeof fmts[0]; fi++) {
        const struct qc_format f = th_format(fmts[fi]);
        for (size_t i = 0; i < sizeof inputs / sizeof inputs[0]; i++) {
            const double a = qc_round_value(&f, inputs[i], &rne, 0, NULL);
            const double b = qc_round_value_ref(&f, inputs[i], &rne, 0, NULL);
            cr_expect(memcmp(&a, &canon, 8) == 0 && memcmp(&b, &canon, 8) == 0,
                      "%s: NaN input %d gives fast %a ref %a", fmts[fi], (int)i, a, b);
        }
    }
    /* An overflow to "inf" in a format without inf is the canonical NaN too. */
    const struct qc_format f = th_format("fp8_e4m3");
    const double a = qc_round_value(&f, -1000, &rne, 0, NULL);
    cr_expect(memcmp(&a, &canon, 8) == 0, "%a", a);
}

/* sr:R draws f + u >= 2^R: with R = 1 and f = 1 (fraction >= 1/2) the result
 * rounds away exactly when the element's one random bit (qc_sr_draw, the
 * low bit of word i mod 4 of Philox block i/4) is 1. */
Test(round, sr_follows_the_generator_bits)
{
    const struct qc_format f = th_format("e5m2");
    struct qc_round r = th_round("sr:1", 42);
    r.stream = 3;
    for (uint64_t i = 0; i < 256; i++) {
        const uint64_t u = qc_sr_draw(42, 3, i, 1);
        const double got = qc_round_value(&f, 1.2, &r, i, NULL); /* f = 1: 0.8 of a quantum */
        const double ref = qc_round_value_ref(&f, 1.2, &r, i, NULL);
        cr_expect_eq(got, u ? 1.25 : 1.0, "index %llu", (unsigned long long)i);
        cr_expect_eq(ref, got);
        /* f = 0 (fraction below 1/2): never away with one bit */
        cr_expect_eq(qc_round_value_ref(&f, 1.1, &r, i, NULL), 1.0);
        cr_expect_eq(qc_round_value(&f, 1.1, &r, i, NULL), 1.0);
    }
}
