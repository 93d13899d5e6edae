/* The MAC configuration language and the error table: parsing, defaults
 * per CFG, the derived multiplier readings, canonical round trips, and
 * errors that name the offending key. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>

#include "qcore/gemm.h"
#include "qcore/mac.h"
#include "qcore/gemm_cpu.h"
#include "qcore/ref.h"
#include "test_helpers.h"

Test(mac, defaults)
{
    struct qc_mac m;
    struct qc_err err;

    cr_assert_eq(qc_mac_parse(&m, "", &err), QC_OK);
    cr_assert_eq(m.cfg, 1);
    cr_assert_str_eq(m.a.name, "fp32");
    cr_assert_str_eq(m.acc.name, "fp32");
    cr_assert(!m.prod_exact);
    cr_assert_str_eq(m.prod.name, "fp32", "CFG-1 product defaults to a's format");
    cr_assert_eq(m.chunk, 0);
    cr_assert_eq(m.acc_round.mode, QC_ROUND_RNE);
}

Test(mac, cfg_readings_follow_the_design)
{
    struct qc_mac m;
    struct qc_err err;

    cr_assert_eq(qc_mac_parse(&m, "cfg=4,a=e5m2,b=e5m2", &err), QC_OK, "%s", err.msg);
    cr_assert(m.a_read.flags & QC_FMTF_INF1);
    cr_assert(m.prod_exact, "CFG-4 products are exact");
    cr_assert_eq(m.a_read.max_finite, 98304.0);
    cr_assert_eq(qc_mac_parse(&m, "cfg=5,a=e5m2,b=e5m2", &err), QC_OK);
    cr_assert(m.a_read.flags & QC_FMTF_SAN);
    cr_assert_eq(qc_format_decode(&m.a_read, 0x01), ldexp(1.25, -15));
    cr_assert_eq(qc_mac_parse(&m, "cfg=6,a=e5m2,b=e5m2", &err), QC_OK);
    cr_assert_eq(qc_format_decode(&m.a_read, 0x01), 0.0);
    /* e5m2 x e5m2 is held by e6m5 (bias 31): flush below 2^-30. */
    cr_assert_eq(m.prod_flush, ldexp(1.0, -30));
    cr_assert_eq(qc_mac_parse(&m, "cfg=2,a=e4m3,b=e4m3", &err), QC_OK);
    cr_assert(m.prod_round.flags & QC_FMTF_NOSUB, "CFG-2 flushes subnormal products");
    cr_assert_eq(qc_mac_parse(&m, "cfg=1,a=e4m3,b=e4m3", &err), QC_OK);
    cr_assert_eq(m.prod_flush, 0.0, "CFG-1 keeps subnormal products");
}

Test(mac, multiplier_cases_from_the_study)
{
    struct qc_mac m;
    struct qc_err err;

    /* inf x 0 is NaN under every CFG. */
    for (int cfg = 1; cfg <= 6; cfg++) {
        char s[64];
        snprintf(s, sizeof s, "cfg=%d,a=e5m2,b=e5m2", cfg);
        cr_assert_eq(qc_mac_parse(&m, s, &err), QC_OK);
        cr_assert(isnan(qc_mac_multiply(&m, INFINITY, 0.0, NULL)), "cfg %d", cfg);
    }
    /* CFG-1 rounds 1.25 x 1.25 = 1.5625 to e5m2 (1.5); CFG-3 keeps it exact. */
    cr_assert_eq(qc_mac_parse(&m, "cfg=1,a=e5m2,b=e5m2", &err), QC_OK);
    cr_assert_eq(qc_mac_multiply(&m, 1.25, 1.25, NULL), 1.5);
    cr_assert_eq(qc_mac_parse(&m, "cfg=3,a=e5m2,b=e5m2", &err), QC_OK);
    cr_assert_eq(qc_mac_multiply(&m, 1.25, 1.25, NULL), 1.5625);
    /* CFG-3 flushes 2^-16 x 2^-16 (below 2^-30) and counts an underflow. */
    struct qc_round_stats st = {0};
    double p = qc_mac_multiply(&m, -ldexp(1, -16), ldexp(1, -16), &st);
    cr_assert(p == 0.0 && signbit(p), "flushed to -0");
    cr_assert_eq(st.underflow, 1);
}

Test(mac, canonical_text_round_trips)
{
    const char *cases[] = {
        "cfg=5,a=e5m2,b=e5m2,product=exact,acc=e6m5,acc_rounding=rne,chunk=32",
        "cfg=2,a=fp8_e4m3,b=e5m2,product=e6m3,acc=q8.13,acc_rounding=sr:12,seed=9,fused=1",
        "cfg=1,acc=native",
        "acc=e4m7:bias=10:nosub,acc_rounding=rtz,chunk=16",
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct qc_mac m1, m2;
        struct qc_err err;
        char t1[QC_MAC_TEXT_MAX], t2[QC_MAC_TEXT_MAX];
        cr_assert_eq(qc_mac_parse(&m1, cases[i], &err), QC_OK, "%s: %s", cases[i], err.msg);
        qc_mac_describe(&m1, t1, sizeof t1);
        cr_assert_eq(qc_mac_parse(&m2, t1, &err), QC_OK, "%s: %s", t1, err.msg);
        qc_mac_describe(&m2, t2, sizeof t2);
        cr_assert_str_eq(t1, t2);
    }
}

struct bad_mac {
    const char *text;
    const char *field;
    const char *needle;
};

Test(mac, errors_name_the_key)
{
    const struct bad_mac bad[] = {
        {"cfg=7", "cfg", "cfg '7'"},
        {"acc=e6m55", "acc", "e6m55"},
        {"acc=mxfp8_e4m3", "acc", "block format"},
        {"cfg=3,product=e6m5", "product", "CFG-1 and CFG-2"},
        {"acc_rounding=sr:99", "acc_rounding", "1..64"},
        {"chunk=-1", "chunk", "chunk '-1'"},
        {"fused=maybe", "fused", "maybe"},
        {"color=blue", "color", "unknown MAC key 'color'"},
        {"cfg", "", "not key=value"},
        {"a=e5m2:foo", "a", "unknown modifier 'foo'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct qc_mac m;
        struct qc_err err;
        cr_assert_eq(qc_mac_parse(&m, bad[i].text, &err), QC_EINVAL, "%s", bad[i].text);
        cr_assert_str_eq(err.field, bad[i].field, "%s", bad[i].text);
        cr_assert(strstr(err.msg, bad[i].needle), "%s: message '%s' lacks '%s'", bad[i].text,
                  err.msg, bad[i].needle);
    }
}

Test(error, table_drives_names_statuses_and_exits)
{
    struct qc_err err;

    cr_assert_str_eq(qc_error_name(QC_EINVAL), "EINVAL");
    cr_assert_eq(qc_error_http_status(QC_EINVAL), 400);
    cr_assert_eq(qc_error_http_status(QC_ECONFLICT), 409);
    cr_assert_eq(qc_error_http_status(QC_ENOTFOUND), 404);
    cr_assert_eq(qc_error_exit_code(QC_EINVAL), 2);
    cr_assert_eq(qc_error_exit_code(QC_EIO), 1);
    cr_assert_str_eq(qc_error_name(-12345), "EINTERNAL", "unknown codes map to internal");
    cr_assert_eq(qc_err_set(&err, QC_ERANGE, "/acc", "x=%d", 3), QC_ERANGE);
    qc_err_prefix_field(&err, "/arith/forward/mac");
    cr_assert_str_eq(err.field, "/arith/forward/mac/acc");
    cr_assert_str_eq(err.msg, "x=3");
}

/* The scale rule reaches the GEMM's block-format inputs: the MXFP4 block
 * {1, 2, 3, 7} clips 7 to 6 under floor (scale 2^0) and keeps it as 8 under
 * ceil (scale 2^1: elements 0.5, 1, 1.5, 4). */
Test(mac, scale_rule_changes_block_inputs)
{
    const float a[4] = {1, 2, 3, 7}, b[4] = {1, 1, 1, 1};
    const struct {
        const char *text;
        float want;
    } cases[] = {
        {"cfg=1,a=mxfp4_e2m1@4,acc=fp32,scale_rule=floor", 12.0f},
        {"cfg=1,a=mxfp4_e2m1@4,acc=fp32,scale_rule=ceil", 14.0f},
        {"cfg=1,a=mxfp4_e2m1@4,acc=fp32,scale_rule=round", 14.0f},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct qc_mac m;
        struct qc_err err;
        struct qc_gemm_desc d;
        float c = 0, cref = 0;
        cr_assert_eq(qc_mac_parse(&m, cases[i].text, &err), QC_OK, "%s", err.msg);
        qc_gemm_desc_init(&d, 1, 1, 4);
        cr_assert_eq(qc_gemm_cpu(&c, a, b, &d, &m, 1, NULL, &err), QC_OK, "%s", err.msg);
        cr_assert_eq(qc_gemm_ref(&cref, a, b, &d, &m, NULL, &err), QC_OK, "%s", err.msg);
        cr_assert_eq(c, cases[i].want, "%s: %g", cases[i].text, (double)c);
        cr_assert_eq(cref, cases[i].want, "%s (ref): %g", cases[i].text, (double)cref);
    }
}
