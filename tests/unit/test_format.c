/* Tests of the format language (format.c): every string family of docs/formats.md
 * with its modifiers and aliases, the traits each yields, the exact error
 * messages, canonical names, and code <-> value round trips of every code of
 * every narrow format. */
#include <criterion/criterion.h>
#include <float.h>
#include <stdio.h>
#include <string.h>

#include "qcore/format.h"
#include "test_helpers.h"

/* --- parsing and traits ------------------------------------------------- */

struct traits_case {
    char s[32];
    enum qc_format_kind kind;
    int bits;
    double max_finite, min_normal, min_subnormal;
    bool has_inf, has_nan;
};

static const struct traits_case traits_cases[] = {
    {"fp32", QC_FMT_FLOAT, 32, FLT_MAX, 0x1p-126, 0x1p-149, true, true},
    {"fp16", QC_FMT_FLOAT, 16, 65504, 0x1p-14, 0x1p-24, true, true},
    {"bf16", QC_FMT_FLOAT, 16, 0x1.fep127, 0x1p-126, 0x1p-133, true, true},
    {"tf32", QC_FMT_FLOAT, 19, 0x1.ffcp127, 0x1p-126, 0x1p-136, true, true},
    {"e5m2", QC_FMT_FLOAT, 8, 57344, 0x1p-14, 0x1p-16, true, true},
    {"fp8_e5m2", QC_FMT_FLOAT, 8, 57344, 0x1p-14, 0x1p-16, true, true},
    {"e4m3", QC_FMT_FLOAT, 8, 240, 0x1p-6, 0x1p-9, true, true},
    {"fp8_e4m3", QC_FMT_FLOAT, 8, 448, 0x1p-6, 0x1p-9, false, true},
    {"e4m3:fn", QC_FMT_FLOAT, 8, 448, 0x1p-6, 0x1p-9, false, true},
    {"e4m3:inf1", QC_FMT_FLOAT, 8, 448, 0x1p-6, 0x1p-9, true, false},
    /* REFERENCE (CFG-4, E5M2, exponent code 31): 65536, 81920, 98304, inf;
     * so the largest finite e5m2:inf1 value is 98304, not 114688 (which is
     * where its inf code would sit, and e5m2:finite's max). */
    {"e5m2:inf1", QC_FMT_FLOAT, 8, 98304, 0x1p-14, 0x1p-16, true, false},
    {"e5m2:fn", QC_FMT_FLOAT, 8, 98304, 0x1p-14, 0x1p-16, false, true},
    {"e5m2:finite", QC_FMT_FLOAT, 8, 114688, 0x1p-14, 0x1p-16, false, false},
    {"e5m2:subnormal-as-normal", QC_FMT_FLOAT, 8, 57344, 0x1p-14, 3.814697265625e-05, true, true},
    {"e5m2:daz", QC_FMT_FLOAT, 8, 57344, 0x1p-14, 0x1p-14, true, true},
    {"e5m2:nosub", QC_FMT_FLOAT, 8, 57344, 0x1p-14, 0x1p-16, true, true},
    {"e5m2:sat", QC_FMT_FLOAT, 8, 57344, 0x1p-14, 0x1p-16, true, true},
    {"e6m5", QC_FMT_FLOAT, 12, 0x1.f8p31, 0x1p-30, 0x1p-35, true, true},
    {"e4m7:bias=10", QC_FMT_FLOAT, 12, 31.875, 0x1p-9, 0x1p-16, true, true},
    {"e7m7", QC_FMT_FLOAT, 15, 0x1.fep63, 0x1p-62, 0x1p-69, true, true},
    {"e3m2:finite", QC_FMT_FLOAT, 6, 28, 0.25, 0.0625, false, false},
    {"e2m1:finite", QC_FMT_FLOAT, 4, 6, 1, 0.5, false, false},
    {"e2m3:finite", QC_FMT_FLOAT, 6, 7.5, 1, 0.125, false, false},
    {"q8.13", QC_FMT_FIXED, 21, 128 - 0x1p-13, 0x1p-13, 0x1p-13, false, false},
    {"q16.16", QC_FMT_FIXED, 32, 32768 - 0x1p-16, 0x1p-16, 0x1p-16, false, false},
    {"q8.0", QC_FMT_FIXED, 8, 127, 1, 1, false, false},
    {"int8", QC_FMT_INT, 8, 127, 1, 1, false, false},
    {"int16", QC_FMT_INT, 16, 32767, 1, 1, false, false},
    {"mxfp8_e4m3", QC_FMT_MX, 8, 448, 0x1p-6, 0x1p-9, false, true},
    {"mxfp8_e5m2", QC_FMT_MX, 8, 57344, 0x1p-14, 0x1p-16, true, true},
    {"mxfp6_e3m2", QC_FMT_MX, 6, 28, 0.25, 0.0625, false, false},
    {"mxfp6_e2m3", QC_FMT_MX, 6, 7.5, 1, 0.125, false, false},
    {"mxfp4_e2m1", QC_FMT_MX, 4, 6, 1, 0.5, false, false},
    {"mxint8", QC_FMT_MX, 8, 127.0 / 64, 1.0 / 64, 1.0 / 64, false, false},
    {"bfp8@16", QC_FMT_BFP, 8, 127.0 / 64, 1.0 / 64, 1.0 / 64, false, false},
};

Test(format, traits_of_every_family)
{
    for (size_t i = 0; i < sizeof traits_cases / sizeof traits_cases[0]; i++) {
        const struct traits_case *c = &traits_cases[i];
        struct qc_format f = th_format(c->s);
        cr_expect_eq(f.kind, c->kind, "%s: kind", c->s);
        cr_expect_eq(f.bits, c->bits, "%s: bits %d", c->s, f.bits);
        cr_expect_eq(f.max_finite, c->max_finite, "%s: max %.17g want %.17g", c->s, f.max_finite,
                     c->max_finite);
        cr_expect_eq(f.min_normal, c->min_normal, "%s: min normal %a", c->s, f.min_normal);
        cr_expect_eq(f.min_subnormal, c->min_subnormal, "%s: min subnormal %a", c->s,
                     f.min_subnormal);
        cr_expect_eq(f.has_inf, c->has_inf, "%s: has_inf", c->s);
        cr_expect_eq(f.has_nan, c->has_nan, "%s: has_nan", c->s);
    }
}

/* fp64 is one of the "usual formats" of docs/formats.md; every double is its value. */
Test(format, fp64_parses)
{
    struct qc_format f;
    struct qc_err err;
    int rc = qc_format_parse(&f, "fp64", &err);
    cr_assert_eq(rc, QC_OK, "fp64: %s", err.msg);
    cr_expect_eq(f.max_finite, DBL_MAX);
    cr_expect_eq(f.min_normal, DBL_MIN);
    cr_expect_eq(f.min_subnormal, 0x1p-1074);
    cr_expect_eq(f.bits, 64);
}

Test(format, float_fields_and_bias)
{
    struct qc_format f = th_format("e4m7:bias=10:nosub");
    cr_expect_eq(f.ebits, 4);
    cr_expect_eq(f.mbits, 7);
    cr_expect_eq(f.bias, 10);
    cr_expect_eq(f.emin, -9);
    cr_expect_eq(f.emax, 4);
    cr_expect(f.flags & QC_FMTF_NOSUB);
    cr_expect(f.flags & QC_FMTF_BIAS);
    f = th_format("e5m2");
    cr_expect_eq(f.bias, 15);
    cr_expect_eq(f.emin, -14);
    cr_expect_eq(f.emax, 15);
    f = th_format("e8m23:bias=100");
    cr_expect_eq(f.emin, -99);
    cr_expect_eq(f.max_finite, ldexp(2 - 0x1p-23, 154));
    f = th_format("q8.13");
    cr_expect_eq(f.ibits, 8);
    cr_expect_eq(f.fbits, 13);
    f = th_format("e2m0");
    cr_expect_eq(f.bits, 3);
}

Test(format, fp16_is_e5m10_and_fp8_e4m3_is_e4m3_fn)
{
    const char *pairs[][2] = {{"fp16", "e5m10"}, {"bf16", "e8m7"},        {"fp32", "e8m23"},
                              {"tf32", "e8m10"}, {"fp8_e4m3", "e4m3:fn"}, {"fp8_e5m2", "e5m2"}};
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        struct qc_format a = th_format(pairs[i][0]), b = th_format(pairs[i][1]);
        cr_expect(a.ebits == b.ebits && a.mbits == b.mbits && a.bias == b.bias &&
                      a.flags == b.flags && a.max_finite == b.max_finite &&
                      a.min_subnormal == b.min_subnormal && a.has_inf == b.has_inf &&
                      a.has_nan == b.has_nan,
                  "%s != %s", pairs[i][0], pairs[i][1]);
        cr_expect_str_eq(a.name, pairs[i][0], "an alias keeps its name");
    }
}

Test(format, block_formats)
{
    static const struct {
        char s[24];
        enum qc_format_kind elem;
        int block, elem_emax;
        double max;
    } cases[] = {
        {"mxfp8_e4m3", QC_FMT_FLOAT, 32, 8, 448},
        {"mxfp8_e5m2", QC_FMT_FLOAT, 32, 15, 57344},
        {"mxfp6_e3m2", QC_FMT_FLOAT, 32, 4, 28},
        {"mxfp6_e2m3", QC_FMT_FLOAT, 32, 2, 7.5},
        {"mxfp4_e2m1", QC_FMT_FLOAT, 32, 2, 6},
        {"mxint8", QC_FMT_INT, 32, 0, 127.0 / 64},
        {"mxfp4_e2m1@7", QC_FMT_FLOAT, 7, 2, 6},
        {"mxint8@4096", QC_FMT_INT, 4096, 0, 127.0 / 64},
        {"bfp8@16", QC_FMT_INT, 16, 0, 127.0 / 64},
        {"bfp4", QC_FMT_INT, 32, 0, 7.0 / 4},
        {"bfp24@1", QC_FMT_INT, 1, 0, ldexp(0x7fffff, -22)},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct qc_format f = th_format(cases[i].s), el;
        cr_expect(!qc_format_is_scalar(&f), "%s is a block format", cases[i].s);
        cr_expect_eq(f.elem, cases[i].elem, "%s elem kind", cases[i].s);
        cr_expect_eq(f.block, cases[i].block, "%s block", cases[i].s);
        cr_expect_eq(f.elem_emax, cases[i].elem_emax, "%s elem_emax", cases[i].s);
        cr_expect_eq(f.max_finite, cases[i].max, "%s max %.17g", cases[i].s, f.max_finite);
        qc_format_element(&el, &f);
        cr_expect(qc_format_is_scalar(&el), "%s element is scalar", cases[i].s);
        cr_expect_eq(el.kind, cases[i].elem);
        cr_expect(el.flags & QC_FMTF_SAT, "%s: OCP elements saturate", cases[i].s);
        cr_expect_eq(el.max_finite, cases[i].max);
    }
    struct qc_format s = th_format("e5m2"), el;
    qc_format_element(&el, &s);
    cr_expect_eq(el.flags, s.flags, "a scalar format is its own element");
}

Test(format, fits_f32)
{
    static const struct {
        char s[24];
        bool fits;
    } cases[] = {
        {"fp32", true},
        {"fp16", true},
        {"bf16", true},
        {"e5m2", true},
        {"e8m24", false},
        {"e9m2", false},
        {"e8m23:bias=126", false},
        {"q8.13", true},
        {"q16.16", false},
        {"int24", true},
        {"int25", false},
        {"q24.0", true},
        {"mxfp8_e4m3", true},
        {"mxint8", true},
        {"bfp24", true},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct qc_format f = th_format(cases[i].s);
        cr_expect_eq(qc_format_fits_f32(&f), cases[i].fits, "%s", cases[i].s);
    }
}

/* --- errors ----------------------------------------------------------------- */

struct error_case {
    char s[40];
    char msg[96]; /* exact message, or a part it must contain when `exact` is false */
    bool exact;
};

static const struct error_case error_cases[] = {
    {"e9m60", "e9m60: 9+60+1 bits exceed 64", true},
    {"e5m2:foo", "e5m2:foo: unknown modifier 'foo'", true},
    {"e1m2", "exponent bits 1", false},
    {"e12m3", "exponent bits 12", false},
    {"e5m53", "mantissa bits 53", false},
    {"e5m2:fn:inf1", "'fn' and 'inf1'", false},
    {"e5m2:inf1:finite", "'inf1' and 'finite'", false},
    {"q8.8:sat:wrap", "'sat' and 'wrap'", false},
    {"e5m2:daz:nosub", "'daz' and 'nosub'", false},
    {"e5m2:subnormal-as-normal:daz", "'daz' and 'subnormal-as-normal'", false},
    {"e5m2:wrap", "'wrap'", false},
    {"e5m2:sat:sat", "'sat' given twice", false},
    {"int8:nosub", "'nosub'", false},
    {"mxint8:sat", "'sat'", false},
    {"q8.8:bias=3", "bias=", false},
    {"e5m2:bias=x", "'x'", false},
    {"q0.8", "sign bit", false},
    {"q30.30", "30+30", false},
    {"int1", "integer bits 1", false},
    {"int54", "integer bits 54", false},
    {"bfp1", "bfp mantissa bits 1", false},
    {"bfp25@8", "bfp mantissa bits 25", false},
    {"mxint8@0", "'0'", false},
    {"mxfp4_e2m1@4097", "'4097'", false},
    {"e5m2@32", "'@'", false},
    {"e5m2::sat", "empty modifier", false},
    {"e5m2:", "empty modifier", false},
    {"foo", "unknown format 'foo'", false},
    {"e8m23:bias=-1000", "fp64 range", false},
    {"e11m52:fn", "fp64 range", false},
};

Test(format, errors_name_the_bad_part)
{
    for (size_t i = 0; i < sizeof error_cases / sizeof error_cases[0]; i++) {
        const struct error_case *c = &error_cases[i];
        struct qc_format f;
        struct qc_err err;
        qc_err_clear(&err);
        int rc = qc_format_parse(&f, c->s, &err);
        cr_expect_eq(rc, QC_EINVAL, "'%s' must be refused", c->s);
        cr_expect_eq(err.code, QC_EINVAL, "'%s': err.code", c->s);
        if (c->exact)
            cr_expect_str_eq(err.msg, c->msg, "'%s'", c->s);
        else
            cr_expect(strstr(err.msg, c->msg) != NULL, "'%s': message '%s' lacks '%s'", c->s,
                      err.msg, c->msg);
        /* Every message starts with the string it is about. */
        cr_expect(strncmp(err.msg, c->s, strlen(c->s)) == 0, "'%s': message '%s'", c->s, err.msg);
    }
    struct qc_format f;
    struct qc_err err;
    cr_expect_eq(qc_format_parse(&f, "", &err), QC_EINVAL);
}

/* --- canonical names -------------------------------------------------------- */

static void expect_same_format(const struct qc_format *a, const struct qc_format *b)
{
    cr_expect(a->kind == b->kind && a->elem == b->elem && a->bits == b->bits &&
                  a->ebits == b->ebits && a->mbits == b->mbits && a->bias == b->bias &&
                  a->emin == b->emin && a->emax == b->emax && a->ibits == b->ibits &&
                  a->fbits == b->fbits && a->block == b->block && a->flags == b->flags &&
                  a->has_inf == b->has_inf && a->has_nan == b->has_nan &&
                  th_same(a->max_finite, b->max_finite) && th_same(a->min_normal, b->min_normal) &&
                  th_same(a->min_subnormal, b->min_subnormal) && a->elem_emax == b->elem_emax,
              "'%s' and '%s' differ", a->name, b->name);
    cr_expect_str_eq(a->name, b->name);
}

Test(format, canonical_name_round_trips)
{
    static const char spellings[][40] = {
        "e5m2",
        "e5m2:nosub:sat",
        "e4m7:nosub:bias=10",
        "e4m7:bias=10:nosub",
        "e5m2:inf1:subnormal-as-normal",
        "e5m2:daz:inf1",
        "e3m2:finite:sat",
        "fp8_e4m3",
        "fp8_e4m3:sat",
        "fp16:nosub",
        "bf16",
        "tf32",
        "q8.13",
        "q8.8:wrap",
        "q11.13:sat",
        "int8",
        "int16:sat",
        "mxfp8_e4m3",
        "mxfp8_e5m2@16",
        "mxfp6_e3m2",
        "mxfp6_e2m3",
        "mxfp4_e2m1@7",
        "mxint8",
        "bfp8@16",
        "bfp4",
        "e4m3:fn:nosub",
        "e6m5:bias=40",
    };
    for (size_t i = 0; i < sizeof spellings / sizeof spellings[0]; i++) {
        struct qc_format a = th_format(spellings[i]), b;
        struct qc_err err;
        cr_assert_eq(qc_format_parse(&b, a.name, &err), QC_OK, "%s -> '%s': %s", spellings[i],
                     a.name, err.msg);
        expect_same_format(&a, &b);
    }
    /* The documented order: bias= first, then the modifiers in table order;
     * aliases stay aliases; blocks carry @B. */
    static const char expect[][2][40] = {
        {"e5m2:nosub:sat", "e5m2:sat:nosub"},
        {"e4m7:nosub:bias=10", "e4m7:bias=10:nosub"},
        {"e5m2:subnormal-as-normal:inf1", "e5m2:subnormal-as-normal:inf1"},
        {"fp8_e4m3", "fp8_e4m3"},
        {"mxfp4_e2m1", "mxfp4_e2m1@32"},
        {"bfp8@16", "bfp8@16"},
        {"q8.8:wrap", "q8.8:wrap"},
    };
    for (size_t i = 0; i < sizeof expect / sizeof expect[0]; i++) {
        struct qc_format f = th_format(expect[i][0]);
        cr_expect_str_eq(f.name, expect[i][1], "canonical name of %s", expect[i][0]);
    }
}

Test(format, named_table_parses_and_documents)
{
    int n = qc_format_name_count();
    cr_assert_geq(n, 12);
    for (int i = 0; i < n; i++) {
        const char *name = qc_format_name_at(i);
        cr_assert_not_null(name);
        struct qc_format f, g;
        struct qc_err err;
        cr_expect_eq(qc_format_parse(&f, name, &err), QC_OK, "%s: %s", name, err.msg);
        cr_expect_not_null(qc_format_alias_doc(name), "%s has a doc line", name);
        cr_expect_eq(qc_format_parse(&g, f.name, &err), QC_OK);
        expect_same_format(&f, &g);
    }
    cr_expect_null(qc_format_name_at(n));
    cr_expect_null(qc_format_alias_doc("e5m2"));
}

/* --- codes ------------------------------------------------------------------ */

Test(format, decode_reference_values)
{
    static const struct {
        char s[32];
        uint64_t code;
        double v;
    } cases[] = {
        /* REFERENCE: CFG-4 E5M2, exponent code 31. */
        {"e5m2:inf1", 0x7c, 65536},
        {"e5m2:inf1", 0x7d, 81920},
        {"e5m2:inf1", 0x7e, 98304},
        {"e5m2:inf1", 0x7f, INFINITY},
        {"e5m2:inf1", 0xff, -INFINITY},
        /* CFG-5 reads exponent code 0 as normal; conventional subnormals; CFG-6 zero. */
        {"e5m2:subnormal-as-normal", 0x01, 3.814697265625e-05},
        {"e5m2:subnormal-as-normal", 0x02, 4.57763671875e-05},
        {"e5m2:subnormal-as-normal", 0x03, 5.340576171875e-05},
        {"e5m2:subnormal-as-normal", 0x81, -3.814697265625e-05},
        {"e5m2:subnormal-as-normal", 0x00, 0.0},
        {"e5m2", 0x01, 1.52587890625e-05},
        {"e5m2", 0x02, 3.0517578125e-05},
        {"e5m2", 0x03, 4.57763671875e-05},
        {"e5m2", 0x7b, 57344},
        {"e5m2", 0x7c, INFINITY},
        {"e5m2", 0x80, -0.0},
        {"e5m2:daz", 0x01, 0.0},
        {"e5m2:daz", 0x83, -0.0},
        {"e5m2:daz", 0x04, 0x1p-14},
        {"fp8_e4m3", 0x7e, 448},
        {"fp8_e4m3", 0x78, 256},
        {"fp8_e4m3", 0x01, 0x1p-9},
        {"e4m3", 0x77, 240},
        {"e4m3", 0x78, INFINITY},
        {"e2m1:finite", 0x7, 6},
        {"e2m1:finite", 0x1, 0.5},
        {"e2m1:finite", 0xf, -6},
        {"e3m2:finite", 0x1f, 28},
        {"int8", 0x7f, 127},
        {"int8", 0x81, -127},
        {"q4.4", 0x80, -8},
        {"q4.4", 0x7f, 7.9375},
        {"q4.4", 0xff, -0.0625},
        {"e4m7:bias=10", 0x7ff - 0x80, 31.875},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct qc_format f = th_format(cases[i].s);
        double v = qc_format_decode(&f, cases[i].code);
        cr_expect(th_same(v, cases[i].v), "%s code 0x%llx: %.17g want %.17g", cases[i].s,
                  (unsigned long long)cases[i].code, v, cases[i].v);
    }
    struct qc_format f = th_format("fp8_e4m3");
    cr_expect(isnan(qc_format_decode(&f, 0x7f)));
    cr_expect(isnan(qc_format_decode(&f, 0xff)));
    f = th_format("e5m2");
    cr_expect(isnan(qc_format_decode(&f, 0x7d)));
}

/* Every format of 8 bits or fewer (and two 12-bit ones) whose codes the
 * round-trip test walks. */
static const char narrow_formats[][40] = {
    "e4m3",
    "e5m2",
    "fp8_e4m3",
    "fp8_e5m2",
    "e3m4",
    "e2m5",
    "e5m2:sat",
    "e5m2:nosub",
    "e5m2:daz",
    "e5m2:subnormal-as-normal",
    "e5m2:fn",
    "e5m2:inf1",
    "e5m2:finite",
    "e5m2:bias=3",
    "e5m2:inf1:daz",
    "e5m2:inf1:subnormal-as-normal",
    "e4m3:inf1",
    "e4m3:daz",
    "e4m3:subnormal-as-normal",
    "e3m2:finite",
    "e2m1:finite",
    "e2m3:finite",
    "e3m2",
    "e2m1",
    "e6m1",
    "e4m3:fn:sat",
    "e2m0:finite",
    "e3m0:fn",
    "int8",
    "int4",
    "int2",
    "q4.4",
    "q8.0",
    "q1.7",
    "q2.2:wrap",
    "e4m7:bias=10",
    "e6m5",
};

Test(format, decode_encode_round_trip_every_code)
{
    for (size_t fi = 0; fi < sizeof narrow_formats / sizeof narrow_formats[0]; fi++) {
        const struct qc_format f = th_format(narrow_formats[fi]);
        const uint64_t n = UINT64_C(1) << f.bits;
        const bool is_float = f.kind == QC_FMT_FLOAT;
        bool saw_max = false, saw_min_sub = false;
        int bad = 0;

        for (uint64_t code = 0; code < n; code++) {
            const double v = qc_format_decode(&f, code);
            uint64_t back = ~UINT64_C(0);
            int rc = qc_format_encode(&back, &f, v);

            if (isnan(v)) {
                /* NaN codes map to the one canonical NaN code. */
                cr_expect(f.has_nan, "%s: code 0x%llx is NaN in a format without NaN", f.name,
                          (unsigned long long)code);
                cr_expect_eq(rc, QC_OK, "%s: NaN must encode", f.name);
                cr_expect(isnan(qc_format_decode(&f, back)), "%s: canonical NaN code 0x%llx",
                          f.name, (unsigned long long)back);
                continue;
            }
            if (isfinite(v) && fabs(v) == f.max_finite)
                saw_max = true;
            if (isfinite(v) && fabs(v) == f.min_subnormal)
                saw_min_sub = true;
            /* qM.N reaches -2^(M-1), one ulp beyond -max. */
            const double lowest = f.kind == QC_FMT_FIXED ? -ldexp(1.0, f.ibits - 1) : -f.max_finite;
            if (isfinite(v))
                cr_expect(v <= f.max_finite && (v >= lowest || f.kind == QC_FMT_INT) &&
                              (v == 0 || fabs(v) >= f.min_subnormal),
                          "%s: code 0x%llx decodes to %.17g outside the traits", f.name,
                          (unsigned long long)code, v);
            else
                cr_expect(f.has_inf, "%s: inf code in a format without inf", f.name);

            uint64_t want = code;
            const uint64_t mall = is_float ? (UINT64_C(1) << f.mbits) - 1 : 0;
            const uint64_t expfield = is_float ? (code >> f.mbits) & ((1u << f.ebits) - 1) : 1;
            if (is_float && (f.flags & QC_FMTF_DAZ) && expfield == 0 && (code & mall)) {
                /* daz: a subnormal code reads as a zero of its sign */
                cr_expect(v == 0.0, "%s: daz code 0x%llx reads %.17g", f.name,
                          (unsigned long long)code, v);
                want = code & (UINT64_C(1) << (f.bits - 1));
            }
            if (f.kind == QC_FMT_INT && v == -ldexp(1.0, f.bits - 1)) {
                /* -2^(N-1) is outside the symmetric range: not a value */
                cr_expect_eq(rc, QC_ERANGE, "%s: code 0x%llx", f.name, (unsigned long long)code);
                continue;
            }
            if (rc != QC_OK || back != want) {
                if (bad++ < 4)
                    cr_expect_fail("%s: code 0x%llx -> %.17g -> rc %d code 0x%llx", f.name,
                                   (unsigned long long)code, v, rc, (unsigned long long)back);
            }
        }
        cr_expect(saw_max, "%s: max finite %.17g is no code's value", f.name, f.max_finite);
        cr_expect(saw_min_sub, "%s: min subnormal %.17g is no code's value", f.name,
                  f.min_subnormal);
        cr_expect_eq(bad, 0, "%s: %d codes failed the round trip", f.name, bad);
    }
}

Test(format, encode_refuses_non_values)
{
    uint64_t code;
    struct qc_format f = th_format("e5m2");
    cr_expect_eq(qc_format_encode(&code, &f, 1.1), QC_ERANGE, "not on the grid");
    cr_expect_eq(qc_format_encode(&code, &f, 1e6), QC_ERANGE, "beyond max");
    cr_expect_eq(qc_format_encode(&code, &f, 0x1p-17), QC_ERANGE, "below min subnormal");
    cr_expect_eq(qc_format_encode(&code, &f, -0.0), QC_OK);
    cr_expect_eq(code, 0x80, "-0 has the negative-zero code");
    f = th_format("e3m2:finite");
    cr_expect_eq(qc_format_encode(&code, &f, NAN), QC_ERANGE, "no NaN code");
    cr_expect_eq(qc_format_encode(&code, &f, INFINITY), QC_ERANGE, "no inf code");
    f = th_format("e5m2:inf1");
    cr_expect_eq(qc_format_encode(&code, &f, NAN), QC_ERANGE);
    cr_expect_eq(qc_format_encode(&code, &f, -INFINITY), QC_OK);
    cr_expect_eq(code, 0xff);
    f = th_format("e5m2:daz");
    cr_expect_eq(qc_format_encode(&code, &f, 0x1p-16), QC_ERANGE, "daz has no subnormals");
    f = th_format("e5m2:subnormal-as-normal");
    cr_expect_eq(qc_format_encode(&code, &f, 0x1p-15), QC_ERANGE, "1.00 x 2^-15 is zero's code");
    cr_expect_eq(qc_format_encode(&code, &f, 0x1.4p-15), QC_OK);
    cr_expect_eq(code, 0x01);
    f = th_format("q4.4");
    cr_expect_eq(qc_format_encode(&code, &f, 8.0), QC_ERANGE);
    cr_expect_eq(qc_format_encode(&code, &f, 0.03125), QC_ERANGE);
    cr_expect_eq(qc_format_encode(&code, &f, NAN), QC_ERANGE);
}
