/* The emulated GEMM (gemm_cpu.c, mac.c and the SIMD kernels) against the MPFR
 * reference qc_gemm_ref, bit for bit with equal counters: every CFG with e5m2
 * and e4m3 inputs over float, fixed-point and integer accumulators, chunking,
 * fused mode, stochastic accumulation, transposes and strides, several thread
 * counts; every pair of 8-bit codes under every CFG; and hand-computed
 * swamping, overflow, underflow and saturation cases. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <float.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qcore/cpu.h"
#include "qcore/gemm.h"
#include "qcore/quantize.h"
#include "qcore/gemm_cpu.h"
#include "qcore/ref.h"
#include "test_helpers.h"

static struct qc_mac mac_of(const char *s)
{
    struct qc_mac m;
    struct qc_err err;
    cr_assert_eq(qc_mac_parse(&m, s, &err), QC_OK, "mac '%s': %s", s, err.msg);
    return m;
}

/* One GEMM problem: operands laid out per the description, with padding
 * filled with NaN so that reading it shows up in C. */
struct problem {
    struct qc_gemm_desc d;
    float *a, *b;
    int64_t a_len, b_len, c_len;
};

static void problem_free(struct problem *p)
{
    free(p->a);
    free(p->b);
}

/* Values in [2^elo, 2^ehi] with random signs, ~8% zeros, and (if `specials`)
 * a rare inf or NaN. */
static float operand(uint64_t *s, int elo, int ehi, bool specials)
{
    uint64_t r = th_next(s);
    if (r % 100 < 8)
        return (r & 0x100) ? -0.0f : 0.0f;
    if (specials && r % 1000 == 999)
        return (r & 0x200) ? NAN : ((r & 0x100) ? -INFINITY : INFINITY);
    return (float)th_spread(s, elo, ehi);
}

static struct problem make_problem(int64_t m, int64_t n, int64_t k, bool ta, bool tb, int pad,
                                   int elo, int ehi, bool specials, uint64_t seed)
{
    struct problem p;
    qc_gemm_desc_init(&p.d, m, n, k);
    p.d.trans_a = ta;
    p.d.trans_b = tb;
    p.d.lda = pad ? (ta ? m : k) + pad : 0;
    p.d.ldb = pad ? (tb ? k : n) + pad : 0;
    p.d.ldc = pad ? n + pad : 0;
    p.d.sr_stream = seed % 5;
    const int64_t lda = p.d.lda ? p.d.lda : (ta ? m : k);
    const int64_t ldb = p.d.ldb ? p.d.ldb : (tb ? k : n);
    const int64_t arows = ta ? k : m, brows = tb ? n : k;
    p.a_len = arows * lda;
    p.b_len = brows * ldb;
    p.c_len = m * (p.d.ldc ? p.d.ldc : n);
    p.a = malloc(sizeof(float) * (size_t)(p.a_len + 1));
    p.b = malloc(sizeof(float) * (size_t)(p.b_len + 1));
    cr_assert(p.a && p.b);
    uint64_t s = seed;
    for (int64_t i = 0; i < p.a_len; i++)
        p.a[i] = (i % lda) < (ta ? m : k) ? operand(&s, elo, ehi, specials) : NAN;
    for (int64_t i = 0; i < p.b_len; i++)
        p.b[i] = (i % ldb) < (tb ? k : n) ? operand(&s, elo, ehi, specials) : NAN;
    return p;
}

/* Runs a 1 x 1 x k GEMM both ways; true if the bits or counters differ. */
static bool dot_differs(const float *a, const float *b, int64_t k, const struct qc_mac *mac,
                        const char *isa, uint64_t stream, char *buf, size_t len)
{
    struct qc_gemm_desc d;
    struct qc_round_stats sf = {0}, sr = {0};
    float cf = 0, cr = 0;
    qc_gemm_desc_init(&d, 1, 1, k);
    d.sr_stream = stream;
    if (qc_gemm_ref(&cr, a, b, &d, mac, &sr, NULL) ||
        qc_gemm_cpu_isa(&cf, a, b, &d, mac, 1, isa, &sf, NULL))
        return false;
    if (th_same_f(cf, cr) && th_same_stats(&sf, &sr))
        return false;
    int n = snprintf(buf, len,
                     "1x1x%lld stream %llu: fast %a ov%llu uf%llu sw%llu, ref %a ov%llu uf%llu "
                     "sw%llu; a,b:",
                     (long long)k, (unsigned long long)stream, (double)cf,
                     (unsigned long long)sf.overflow, (unsigned long long)sf.underflow,
                     (unsigned long long)sf.swamping, (double)cr, (unsigned long long)sr.overflow,
                     (unsigned long long)sr.underflow, (unsigned long long)sr.swamping);
    for (int64_t p = 0; p < k && n > 0 && (size_t)n < len; p++)
        n += snprintf(buf + n, len - (size_t)n, " %a,%a", (double)a[p], (double)b[p]);
    return true;
}

/* True if, with every row of A but i and every column of B but j zeroed,
 * the two differ (in C or the counters). */
static bool masked_differs(const struct problem *p, const struct qc_mac *mac, const char *isa,
                           int64_t i, int64_t j)
{
    const int64_t k = p->d.k, m = p->d.m, n = p->d.n;
    const int64_t lda = p->d.lda ? p->d.lda : (p->d.trans_a ? m : k);
    const int64_t ldb = p->d.ldb ? p->d.ldb : (p->d.trans_b ? k : n);
    float *a = malloc(sizeof(float) * (size_t)(p->a_len + 1));
    float *b = malloc(sizeof(float) * (size_t)(p->b_len + 1));
    float *cf = malloc(sizeof(float) * (size_t)(p->c_len + 1));
    float *cr = malloc(sizeof(float) * (size_t)(p->c_len + 1));
    struct qc_round_stats sf = {0}, sr = {0};
    bool differs = false;

    cr_assert(a && b && cf && cr);
    for (int64_t r = 0; r < m; r++)
        for (int64_t q = 0; q < k; q++) {
            const int64_t at = p->d.trans_a ? q * lda + r : r * lda + q;
            a[at] = r == i ? p->a[at] : 0.0f;
        }
    for (int64_t c = 0; c < n; c++)
        for (int64_t q = 0; q < k; q++) {
            const int64_t at = p->d.trans_b ? c * ldb + q : q * ldb + c;
            b[at] = c == j ? p->b[at] : 0.0f;
        }
    if (!qc_gemm_ref(cr, a, b, &p->d, mac, &sr, NULL) &&
        !qc_gemm_cpu_isa(cf, a, b, &p->d, mac, 1, isa, &sf, NULL)) {
        const int64_t ldc = p->d.ldc ? p->d.ldc : n;
        differs = !th_same_stats(&sf, &sr) || !th_same_f(cf[i * ldc + j], cr[i * ldc + j]);
    }
    free(a);
    free(b);
    free(cf);
    free(cr);
    return differs;
}

/* The reproducer of a failure: the shortest 1 x 1 x k' dot product, over the
 * first k' terms of some output's row and column, on which the two differ. */
static void shrink(char *buf, size_t len, const struct problem *p, const struct qc_mac *mac,
                   const char *isa)
{
    const int64_t k = p->d.k;
    const int64_t lda = p->d.lda ? p->d.lda : (p->d.trans_a ? p->d.m : k);
    const int64_t ldb = p->d.ldb ? p->d.ldb : (p->d.trans_b ? k : p->d.n);
    float *ar = malloc(sizeof(float) * (size_t)(k + 1)),
          *bc = malloc(sizeof(float) * (size_t)(k + 1));
    snprintf(buf, len, "(no single dot product differs)");
    for (int64_t i = 0; i < p->d.m; i++) {
        for (int64_t j = 0; j < p->d.n; j++) {
            for (int64_t q = 0; q < k; q++) {
                ar[q] = p->d.trans_a ? p->a[q * lda + i] : p->a[i * lda + q];
                bc[q] = p->d.trans_b ? p->b[j * ldb + q] : p->b[q * ldb + j];
            }
            if (!dot_differs(ar, bc, k, mac, isa, p->d.sr_stream, buf, len)) {
                /* Stochastic rounding depends on the output's position: keep
                 * the shape and zero every other row of A and column of B
                 * (zero products raise no counters). */
                if (masked_differs(p, mac, isa, i, j)) {
                    int n = snprintf(buf, len,
                                     "C[%lld][%lld] alone (other rows of A, columns of B zeroed) "
                                     "differs; a,b:",
                                     (long long)i, (long long)j);
                    for (int64_t q = 0; q < k && n > 0 && (size_t)n < len; q++)
                        n += snprintf(buf + n, len - (size_t)n, " %a,%a", (double)ar[q],
                                      (double)bc[q]);
                    free(ar);
                    free(bc);
                    return;
                }
                continue;
            }
            for (int64_t kk = 1; kk <= k; kk++)
                if (dot_differs(ar, bc, kk, mac, isa, p->d.sr_stream, buf, len))
                    break;
            free(ar);
            free(bc);
            return;
        }
    }
    free(ar);
    free(bc);
}

/* Runs the reference, then qc_gemm_cpu with 1, 2 and 8 threads and every
 * available kernel; all must give the reference's bits and counters. Returns
 * false (after reporting) at the first difference. */
static bool check_problem(const struct problem *p, const struct qc_mac *mac, const char *what)
{
    const size_t cn = (size_t)(p->c_len + 1);
    float *ref = malloc(sizeof(float) * cn), *out = malloc(sizeof(float) * cn);
    struct qc_round_stats sref = {0};
    struct qc_err err;
    char ms[QC_MAC_TEXT_MAX];
    bool ok = true;
    char why[2048];

    cr_assert(ref && out);
    qc_mac_describe(mac, ms, sizeof ms);
    for (size_t i = 0; i < cn; i++)
        ref[i] = out[i] = -7.0f; /* the ldc padding must stay untouched */
    cr_assert_eq(qc_gemm_ref(ref, p->a, p->b, &p->d, mac, &sref, &err), 0, "%s", err.msg);

    /* qc_gemm_cpu itself (the best kernel) with 1, 2 and 8 threads, then
     * every kernel forced, with 2 threads. */
    static const struct {
        const char *isa;
        int threads;
    } runs[] = {{NULL, 1},      {NULL, 2},   {NULL, 8},    {"scalar", 2},
                {"generic", 2}, {"avx2", 2}, {"avx512", 2}};
    for (size_t ri = 0; ri < sizeof runs / sizeof runs[0] && ok; ri++) {
        {
            const char *isa_name = runs[ri].isa ? runs[ri].isa : "best";
            const int nthreads = runs[ri].threads;
            struct qc_round_stats s = {0};
            for (size_t i = 0; i < cn; i++)
                out[i] = -7.0f;
            int rc = runs[ri].isa ? qc_gemm_cpu_isa(out, p->a, p->b, &p->d, mac, nthreads,
                                                    runs[ri].isa, &s, &err)
                                  : qc_gemm_cpu(out, p->a, p->b, &p->d, mac, nthreads, &s, &err);
            if (rc == QC_EUNSUPP)
                continue;
            cr_assert_eq(rc, 0, "%s", err.msg);
            for (int64_t i = 0; i < p->c_len && ok; i++) {
                if (!th_same_f(out[i], ref[i])) {
                    shrink(why, sizeof why, p, mac, runs[ri].isa);
                    cr_expect_fail("%s [%s] %lldx%lldx%lld ta%d tb%d %s/%d threads: C[%lld] fast "
                                   "%a ref %a; reproducer %s",
                                   what, ms, (long long)p->d.m, (long long)p->d.n,
                                   (long long)p->d.k, p->d.trans_a, p->d.trans_b, isa_name,
                                   nthreads, (long long)i, (double)out[i], (double)ref[i], why);
                    ok = false;
                }
            }
            if (ok && !th_same_stats(&s, &sref)) {
                shrink(why, sizeof why, p, mac, runs[ri].isa);
                cr_expect_fail("%s [%s] %lldx%lldx%lld %s/%d threads: counters ops %llu/%llu "
                               "ov %llu/%llu uf %llu/%llu sw %llu/%llu; reproducer %s",
                               what, ms, (long long)p->d.m, (long long)p->d.n, (long long)p->d.k,
                               isa_name, nthreads, (unsigned long long)s.ops,
                               (unsigned long long)sref.ops, (unsigned long long)s.overflow,
                               (unsigned long long)sref.overflow, (unsigned long long)s.underflow,
                               (unsigned long long)sref.underflow, (unsigned long long)s.swamping,
                               (unsigned long long)sref.swamping, why);
                ok = false;
            }
        }
    }
    free(ref);
    free(out);
    return ok;
}

/* --- every CFG over the accumulators ---------------------------------------- */

static const char *const inputs[] = {"a=e5m2,b=e5m2", "a=e4m3,b=e4m3"};

static const char *const accs[] = {
    "acc=fp32",
    "acc=e6m5",
    "acc=e5m5",
    "acc=fp16",
    "acc=bf16",
    "acc=e4m7:bias=10,acc_rounding=rtz",
    "acc=e6m5:nosub",
    "acc=e5m5:sat",
    "acc=e6m5,acc_rounding=sr:8,seed=3",
    "acc=e5m5,acc_rounding=rup",
    "acc=q8.8",
    "acc=q8.13",
    "acc=q11.13",
    "acc=q8.13:wrap,acc_rounding=rtz",
    "acc=int16",
    "acc=q8.13,acc_rounding=sr:16,seed=4",
};

static const int64_t chunks[] = {0, 1, 7, 32};

struct cfg_param {
    int cfg;
};

static struct cfg_param cfgs[] = {{1}, {2}, {3}, {4}, {5}, {6}};

ParameterizedTestParameters(gemm, cfg_matches_ref)
{
    return cr_make_param_array(struct cfg_param, cfgs, sizeof cfgs / sizeof cfgs[0]);
}

ParameterizedTest(struct cfg_param *cp, gemm, cfg_matches_ref)
{
    uint64_t s = 1000 + (uint64_t)cp->cfg;
    int fails = 0;
    for (size_t in = 0; in < sizeof inputs / sizeof inputs[0]; in++) {
        for (size_t ac = 0; ac < sizeof accs / sizeof accs[0]; ac++) {
            const size_t variant = in * 16 + ac;
            char spec[QC_MAC_TEXT_MAX];
            snprintf(spec, sizeof spec, "cfg=%d,%s,%s,chunk=%lld,fused=%d", cp->cfg, inputs[in],
                     accs[ac], (long long)chunks[variant % 4], variant % 5 == 4);
            const struct qc_mac mac = mac_of(spec);
            /* Fixed-point accumulators get operands that keep sums in range
             * most of the time; float ones the inputs' whole range. */
            const bool fixed = mac.acc.kind != QC_FMT_FLOAT;
            const int64_t m = 1 + (int64_t)(th_next(&s) % 6), n = 1 + (int64_t)(th_next(&s) % 7);
            const int64_t k = variant % 7 == 0 ? 1 : 1 + (int64_t)(th_next(&s) % 60);
            struct problem p =
                make_problem(m, n, k, th_next(&s) & 1, th_next(&s) & 1, (int)(th_next(&s) % 3),
                             fixed ? -14 : -18, fixed ? 3 : 14, variant % 3 == 0, th_next(&s));
            fails += !check_problem(&p, &mac, "cfg");
            problem_free(&p);
        }
    }
    cr_expect_eq(fails, 0);
}

/* Configurations beyond the CFG x accumulator grid. */
Test(gemm, other_configs_match_ref)
{
    static const char *const specs[] = {
        "cfg=1", /* fp32 in, fp32 acc */
        "cfg=1,acc_rounding=rtz,chunk=16",
        "cfg=2,a=fp16,b=fp16,acc=fp32",
        "cfg=1,a=e5m2,b=e4m3,acc=e6m5", /* mixed inputs: product = a's format */
        "cfg=3,a=e5m2,b=e4m3,acc=fp32",
        "cfg=5,a=e4m3,b=e5m2,acc=e6m5,chunk=7",
        "cfg=1,a=e5m2,b=e5m2,product=fp16,acc=fp32",
        "cfg=2,a=e5m2,b=e5m2,product=e6m3,acc=e6m5",
        "cfg=1,a=e5m2,b=e5m2,product=e5m2:sat,acc=fp32",
        "cfg=1,a=fp8_e4m3,b=fp8_e4m3,acc=e5m5",
        "cfg=4,a=fp8_e4m3,b=fp8_e4m3,acc=e5m5",
        "cfg=5,a=e3m2:finite,b=e2m3:finite,acc=fp16",
        "cfg=5,a=e5m2,b=e5m2,acc=e6m5,fused=1,chunk=32",
        "cfg=1,a=e4m3,b=e4m3,acc=e4m7:bias=10:nosub,acc_rounding=rtz,chunk=8",
        "cfg=1,a=e4m3,b=e4m3,acc=e4m7:bias=12:sat,acc_rounding=rne,chunk=8",
        "cfg=1,a=e4m3,b=e4m3,acc=e5m10:daz",
        "cfg=1,a=e4m3,b=e4m3,acc=e5m10:subnormal-as-normal,acc_rounding=sr:4,seed=9",
        "cfg=1,a=e4m3,b=e4m3,acc=e5m5,acc_rounding=rdn",
        "cfg=1,a=e4m3,b=e4m3,acc=e5m5,acc_rounding=rna,fused=1",
        "cfg=1,a=e4m3,b=e4m3,acc=e5m5,acc_rounding=sr:64,seed=12345678901",
        "cfg=1,a=q8.8,b=q8.8,acc=q16.16",
        "cfg=3,a=q4.4,b=int8,acc=int16",
        "cfg=1,a=mxfp8_e4m3,b=mxfp8_e5m2,acc=fp32",
        "cfg=1,a=mxint8@7,b=bfp8@16,acc=e6m5",
        "cfg=3,a=mxfp4_e2m1,b=mxfp6_e3m2@7,acc=e5m5,chunk=7",
        "cfg=1,a=bf16,b=bf16,acc=fp32",
        "cfg=1,a=e8m10,b=e8m10,acc=e8m23:nosub",
        /* the wide (fp64-lane) kernel: fp32 products, each product step */
        "cfg=2,acc=fp32",
        "cfg=3,acc=fp32,chunk=5",
        "cfg=1,acc=fp32,fused=1",
        "cfg=2,a=bf16,b=fp16,acc=fp32,chunk=3",
        /* the fixed-point kernel: rne and rtz, each product step */
        "cfg=4,a=e5m2,b=e5m2,acc=q8.8,acc_rounding=rtz,chunk=5",
        "cfg=2,a=e4m3,b=e4m3,acc=q6.6,chunk=3",
        "cfg=1,a=e4m3,b=e5m2,acc=int12,acc_rounding=rtz",
        /* block scale rules reach the inputs of both paths */
        "cfg=1,a=mxfp4_e2m1@8,b=mxfp8_e4m3@4,acc=fp32,scale_rule=round",
        "cfg=1,a=mxfp6_e3m2@4,b=bfp6@8,acc=e6m5,scale_rule=ceil",
    };
    uint64_t s = 77;
    int fails = 0;
    for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++) {
        const struct qc_mac mac = mac_of(specs[i]);
        const int64_t m = 1 + (int64_t)(th_next(&s) % 7), n = 1 + (int64_t)(th_next(&s) % 9);
        const int64_t k = 1 + (int64_t)(th_next(&s) % 80);
        const bool fixed = mac.acc.kind != QC_FMT_FLOAT;
        struct problem p =
            make_problem(m, n, k, th_next(&s) & 1, th_next(&s) & 1, (int)(th_next(&s) % 2),
                         fixed ? -10 : -20, fixed ? 3 : 12, i % 4 == 1, th_next(&s));
        fails += !check_problem(&p, &mac, specs[i]);
        problem_free(&p);
    }
    cr_expect_eq(fails, 0);
}

/* Odd shapes: k = 0 and 1, single rows and columns, larger sizes. */
Test(gemm, shapes_match_ref)
{
    static const int64_t shapes[][3] = {{1, 1, 1},   {1, 1, 0},  {3, 2, 0},   {1, 17, 1},
                                        {17, 1, 33}, {5, 5, 1},  {2, 3, 129}, {13, 11, 9},
                                        {33, 31, 5}, {1, 64, 64}};
    const struct qc_mac mac = mac_of("cfg=5,a=e5m2,b=e5m2,acc=e6m5,chunk=32");
    uint64_t s = 5;
    int fails = 0;
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
        for (int t = 0; t < 4; t++) {
            struct problem p = make_problem(shapes[i][0], shapes[i][1], shapes[i][2], t & 1, t >> 1,
                                            t == 3 ? 5 : 0, -16, 12, false, th_next(&s));
            fails += !check_problem(&p, &mac, "shape");
            problem_free(&p);
        }
    cr_expect_eq(fails, 0);
}

/* Rounds operand x (rows x k as the problem stores it) to `f` with `rule`
 * along K, in place: A's rows, or B's columns. */
static void preround(float *x, const struct problem *p, bool is_b, const struct qc_format *f,
                     enum qc_scale_rule rule)
{
    const bool trans = is_b ? p->d.trans_b : p->d.trans_a;
    const int64_t rows = is_b ? p->d.n : p->d.m, k = p->d.k;
    const int64_t ld = is_b ? (p->d.ldb ? p->d.ldb : (trans ? k : p->d.n))
                            : (p->d.lda ? p->d.lda : (trans ? p->d.m : k));
    /* element (r, q) of the K-major view */
    const bool kmajor = is_b ? trans : !trans;
    float *v = malloc(sizeof(float) * (size_t)(rows * k + 1));
    struct qc_round rne;
    struct qc_err err;

    cr_assert_not_null(v);
    qc_round_init(&rne, QC_ROUND_RNE);
    for (int64_t r = 0; r < rows; r++)
        for (int64_t q = 0; q < k; q++)
            v[r * k + q] = kmajor ? x[r * ld + q] : x[q * ld + r];
    cr_assert_eq(qc_quantize_f32(v, v, rows, k, f, &rne, rule, 0, NULL, &err), 0, "%s", err.msg);
    for (int64_t r = 0; r < rows; r++)
        for (int64_t q = 0; q < k; q++)
            x[kmajor ? r * ld + q : q * ld + r] = v[r * k + q];
    free(v);
}

/* Operands marked already rounded (a_rounded, b_rounded) are read as they
 * are: every kernel agrees with the reference, and with block formats,
 * whose values re-rounded could change scale, the result is that of the
 * same values read as fp32 (exact products in both). The values come from
 * another scale rule than the MAC's, so a kernel that re-rounded would
 * differ. */
Test(gemm, pre_rounded_operands_are_read_as_they_are)
{
    static const struct {
        const char *mac, *fp32_twin;
        enum qc_scale_rule rule;
    } cases[] = {
        {"cfg=3,a=mxfp8_e4m3@8,b=mxfp4_e2m1@4,acc=fp32,chunk=8", "cfg=3,acc=fp32,chunk=8",
         QC_SCALE_CEIL},
        {"cfg=3,a=mxfp6_e3m2@4,b=bfp8@8,acc=fp32", "cfg=3,acc=fp32", QC_SCALE_ROUND},
        {"cfg=3,a=mxint8@8,b=mxfp8_e5m2@8,acc=e6m5,chunk=4", "cfg=3,acc=e6m5,chunk=4",
         QC_SCALE_CEIL},
        {"cfg=5,a=e5m2,b=e4m3,acc=e6m5,chunk=8", NULL, QC_SCALE_FLOOR},
        {"cfg=1,a=fp8_e4m3,b=fp8_e4m3,acc=fp32", NULL, QC_SCALE_FLOOR},
    };
    uint64_t s = 4242;
    int fails = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct qc_mac mac = mac_of(cases[i].mac);
        for (int t = 0; t < 4; t++) {
            const int64_t m = 1 + (int64_t)(th_next(&s) % 6), n = 1 + (int64_t)(th_next(&s) % 9);
            const int64_t k = 1 + (int64_t)(th_next(&s) % 40);
            struct problem p =
                make_problem(m, n, k, t & 1, t >> 1, t == 3 ? 2 : 0, -12, 8, false, th_next(&s));
            preround(p.a, &p, false, &mac.a_read, cases[i].rule);
            preround(p.b, &p, true, &mac.b_read, cases[i].rule);
            p.d.a_rounded = p.d.b_rounded = true;
            fails += !check_problem(&p, &mac, cases[i].mac);
            if (cases[i].fp32_twin) {
                const struct qc_mac twin = mac_of(cases[i].fp32_twin);
                const size_t cn = (size_t)(p.c_len + 1);
                float *c1 = calloc(cn, sizeof(float)), *c2 = calloc(cn, sizeof(float));
                struct qc_gemm_desc plain = p.d;
                plain.a_rounded = plain.b_rounded = false;
                cr_assert(c1 && c2);
                cr_assert_eq(qc_gemm_cpu(c1, p.a, p.b, &p.d, &mac, 2, NULL, NULL), 0);
                cr_assert_eq(qc_gemm_ref(c2, p.a, p.b, &plain, &twin, NULL, NULL), 0);
                for (int64_t j = 0; j < p.c_len; j++)
                    if (!th_same_f(c1[j], c2[j])) {
                        cr_expect_fail("%s: C[%lld] %a, as fp32 values %a", cases[i].mac,
                                       (long long)j, (double)c1[j], (double)c2[j]);
                        fails++;
                        break;
                    }
                free(c1);
                free(c2);
            }
            problem_free(&p);
        }
    }
    cr_expect_eq(fails, 0);
}

/* --- every pair of codes ------------------------------------------------------ */

struct pair_param {
    int cfg;
    char in[8];
    char acc[16];
};

static struct pair_param pairs[] = {
    {1, "e5m2", "fp32"},  {2, "e5m2", "fp32"}, {3, "e5m2", "fp32"}, {4, "e5m2", "fp32"},
    {5, "e5m2", "fp32"},  {6, "e5m2", "fp32"}, {1, "e4m3", "fp32"}, {2, "e4m3", "fp32"},
    {3, "e4m3", "fp32"},  {4, "e4m3", "fp32"}, {5, "e4m3", "fp32"}, {6, "e4m3", "fp32"},
    {1, "e5m2", "e6m5"},  {3, "e5m2", "e6m5"}, {5, "e5m2", "e6m5"}, {6, "e4m3", "e5m5"},
    {5, "e5m2", "q8.13"},
};

ParameterizedTestParameters(gemm, every_code_pair_matches_ref)
{
    return cr_make_param_array(struct pair_param, pairs, sizeof pairs / sizeof pairs[0]);
}

/* A (256 x 1) holds every code of the CFG's reading of the input format,
 * B (1 x 256) too: C holds every product, through the product step and one
 * accumulator add. */
ParameterizedTest(struct pair_param *pp, gemm, every_code_pair_matches_ref)
{
    char spec[128];
    snprintf(spec, sizeof spec, "cfg=%d,a=%s,b=%s,acc=%s", pp->cfg, pp->in, pp->in, pp->acc);
    const struct qc_mac mac = mac_of(spec);
    struct problem p;
    qc_gemm_desc_init(&p.d, 256, 256, 1);
    p.a_len = p.b_len = 256;
    p.c_len = 256 * 256;
    p.a = malloc(sizeof(float) * 257);
    p.b = malloc(sizeof(float) * 257);
    cr_assert(p.a && p.b);
    for (int c = 0; c < 256; c++) {
        p.a[c] = (float)qc_format_decode(&mac.a_read, (uint64_t)c);
        p.b[c] = (float)qc_format_decode(&mac.b_read, (uint64_t)c);
    }
    cr_expect(check_problem(&p, &mac, "code pairs"));
    problem_free(&p);
}

/* --- hand-computed cases ------------------------------------------------------ */

struct hand_case {
    char mac[96];
    float a[4], b[4];
    int k;
    float want;
    uint64_t overflow, underflow, swamping;
};

static const struct hand_case hand_cases[] = {
    /* e6m5 at 1024 has spacing 32: + 1.0 changes nothing (swamped). */
    {"cfg=1,acc=e6m5", {1024, 1}, {1, 1}, 2, 1024, 0, 0, 1},
    /* ... and again in the chunk-total add when the 1 sits in its own chunk. */
    {"cfg=1,acc=e6m5,chunk=1", {1024, 1}, {1, 1}, 2, 1024, 0, 0, 1},
    /* 16 is exactly half the spacing: a tie to even (1024) under rne, swamped;
     * rna rounds away, so nothing is swamped. */
    {"cfg=1,acc=e6m5", {1024, 16}, {1, 1}, 2, 1024, 0, 0, 1},
    {"cfg=1,acc=e6m5,acc_rounding=rna", {1024, 16}, {1, 1}, 2, 1056, 0, 0, 0},
    /* a zero addend is not swamping */
    {"cfg=1,acc=e6m5", {1024, 0}, {1, 1}, 2, 1024, 0, 0, 0},
    /* e5m2 accumulator overflow: 57344 + 57344 -> inf, counted once */
    {"cfg=1,a=e5m2,b=e5m2,acc=e5m2", {57344, 57344}, {1, 1}, 2, INFINITY, 1, 0, 0},
    {"cfg=1,a=e5m2,b=e5m2,acc=e5m2,acc_rounding=rtz", {57344, 57344}, {1, 1}, 2, 57344, 1, 0, 1},
    {"cfg=1,a=e5m2,b=e5m2,acc=e5m2:sat", {57344, 57344}, {1, 1}, 2, 57344, 1, 0, 1},
    /* CFG-1 product overflow: 256 x 256 = 65536 > 57344 rounds to inf in e5m2 */
    {"cfg=1,a=e5m2,b=e5m2,acc=fp32", {256}, {256}, 1, INFINITY, 1, 0, 0},
    /* ... CFG-3 products are exact and never overflow */
    {"cfg=3,a=e5m2,b=e5m2,acc=fp32", {256}, {256}, 1, 65536, 0, 0, 0},
    /* CFG-2: 2^-10 x 2^-10 = 2^-20 is below e5m2's smallest normal: flushed */
    {"cfg=2,a=e5m2,b=e5m2,acc=fp32", {0x1p-10f}, {0x1p-10f}, 1, 0.0f, 0, 1, 0},
    /* ... CFG-1 keeps it as an e5m2 subnormal? 2^-20 < 2^-16: rounds to 0 */
    {"cfg=1,a=e5m2,b=e5m2,acc=fp32", {0x1p-10f}, {0x1p-6f}, 1, 0x1p-16f, 0, 0, 0},
    {"cfg=1,a=e5m2,b=e5m2,acc=fp32", {0x1p-10f}, {0x1p-10f}, 1, 0.0f, 0, 1, 0},
    /* CFG-3: eP = e6m5, smallest normal 2^-30: 2^-16 x 2^-16 flushes, 2^-15 x 2^-15 stays */
    {"cfg=3,a=e5m2,b=e5m2,acc=fp32", {0x1p-16f}, {0x1p-16f}, 1, 0.0f, 0, 1, 0},
    {"cfg=3,a=e5m2,b=e5m2,acc=fp32", {0x1p-15f}, {0x1p-15f}, 1, 0x1p-30f, 0, 0, 0},
    /* CFG-5 reads 2^-15 as 1.25 x 2^-15 (code 0x01); CFG-6 reads subnormals as 0 */
    {"cfg=5,a=e5m2,b=e5m2,acc=fp32", {0x1.4p-15f}, {4}, 1, 0x1.4p-13f, 0, 0, 0},
    {"cfg=6,a=e5m2,b=e5m2,acc=fp32", {0x1p-15f}, {4}, 1, 0.0f, 0, 0, 0},
    /* CFG-4 reads code 0x7d as 81920 (no NaN) */
    {"cfg=4,a=e5m2,b=e5m2,acc=fp32", {81920}, {0.5f}, 1, 40960, 0, 0, 0},
    /* inf x 0 is NaN under every CFG */
    {"cfg=1,a=e5m2,b=e5m2,acc=fp32", {INFINITY}, {0}, 1, NAN, 0, 0, 0},
    {"cfg=4,a=e5m2,b=e5m2,acc=fp32", {INFINITY}, {0}, 1, NAN, 0, 0, 0},
    /* signed zeros: a flushed negative product is -0; +0 + -0 = +0 ... */
    {"cfg=3,a=e5m2,b=e5m2,acc=fp32", {-0x1p-16f}, {0x1p-16f}, 1, 0.0f, 0, 1, 0},
    /* ... except under rdn, where it is -0 all the way out */
    {"cfg=3,a=e5m2,b=e5m2,acc=fp32,acc_rounding=rdn", {-0x1p-16f}, {0x1p-16f}, 1, -0.0f, 0, 1, 0},
    /* x + (-x) = +0 */
    {"cfg=1,acc=e6m5", {3, -3}, {1, 1}, 2, 0.0f, 0, 0, 0},
    {"cfg=1,acc=e6m5,acc_rounding=rdn", {3, -3}, {1, 1}, 2, -0.0f, 0, 0, 0},
    /* fixed point: saturating add, counted as overflow */
    {"cfg=1,acc=q8.8", {100, 100}, {1, 1}, 2, 127.99609375f, 1, 0, 0},
    {"cfg=1,acc=q8.8", {100, 100, -100}, {1, 1, 1}, 3, 27.99609375f, 1, 0, 0},
    {"cfg=1,acc=q8.8:wrap", {100, 100}, {1, 1}, 2, -56, 1, 0, 0},
    {"cfg=1,acc=q8.8", {-200}, {1}, 1, -128, 1, 0, 0},
    /* a product that converts to zero on the grid is an underflow, never swamping */
    {"cfg=1,acc=q8.8", {1, 0x1p-10f}, {1, 1}, 2, 1, 0, 1, 0},
    {"cfg=1,acc=q8.8,acc_rounding=rup", {1, 0x1p-10f}, {1, 1}, 2, 1.00390625f, 0, 0, 0},
    {"cfg=1,acc=int16", {20000, 20000}, {1, 1}, 2, 32767, 1, 0, 0},
    {"cfg=1,acc=int16", {2.5f}, {1}, 1, 2, 0, 0, 0},
    /* -0 x 1 = -0, and +0 + -0 is -0 under rdn: the sign of a zero operand
     * must survive into the kernel (it once broadcast -0 as +0). */
    {"cfg=1,a=e4m3,b=e4m3,acc=e5m5,acc_rounding=rdn", {-0.0f, -0.0f}, {1, 1}, 2, -0.0f, 0, 0, 0},
    /* fused: one rounding of acc + a*b; the e4m3 product 1.125 x 1.125 =
     * 1.265625 is never rounded to e4m3 (1.25) first. */
    {"cfg=1,a=e4m3,b=e4m3,acc=fp32,fused=1", {1.125f}, {1.125f}, 1, 1.265625f, 0, 0, 0},
    {"cfg=1,a=e4m3,b=e4m3,acc=fp32", {1.125f}, {1.125f}, 1, 1.25f, 0, 0, 0},
    /* Swamping needs a finite addend: max + inf saturates back to max (e5m5
     * max 64512) without swamping. */
    {"cfg=3,a=e4m3,b=e4m3,acc=e5m5:sat", {240, 240, INFINITY}, {240, 240, 1}, 3, 64512, 1, 0, 0},
    /* A NaN product in a fixed-point accumulator: the result is NaN, and the
     * later products are still converted and counted (2^-10 underflows). */
    {"cfg=1,acc=q8.8", {NAN, 0x1p-10f}, {1, 1}, 2, NAN, 0, 1, 0},
    /* the low bit-width accumulator: e4m7:bias=10 truncating */
    {"cfg=1,a=e4m3,b=e4m3,acc=e4m7:bias=10,acc_rounding=rtz", {30, 2}, {1, 1}, 2, 31.875f, 1, 0, 0},
};

Test(gemm, hand_computed_counters)
{
    for (size_t i = 0; i < sizeof hand_cases / sizeof hand_cases[0]; i++) {
        const struct hand_case *h = &hand_cases[i];
        const struct qc_mac mac = mac_of(h->mac);
        struct qc_gemm_desc d;
        qc_gemm_desc_init(&d, 1, 1, h->k);
        float ref = -7, out = -7;
        struct qc_round_stats sr = {0}, sf = {0};
        struct qc_err err;
        cr_assert_eq(qc_gemm_ref(&ref, h->a, h->b, &d, &mac, &sr, &err), 0, "%s", err.msg);
        cr_assert_eq(qc_gemm_cpu(&out, h->a, h->b, &d, &mac, 1, &sf, &err), 0, "%s", err.msg);
        const struct qc_round_stats want = {(uint64_t)h->k, h->overflow, h->underflow, h->swamping};
        cr_expect(th_same_f(ref, h->want) && th_same_stats(&sr, &want),
                  "ref #%zu %s: %a ov%llu uf%llu sw%llu, want %a ov%llu uf%llu sw%llu", i, h->mac,
                  (double)ref, (unsigned long long)sr.overflow, (unsigned long long)sr.underflow,
                  (unsigned long long)sr.swamping, (double)h->want, (unsigned long long)h->overflow,
                  (unsigned long long)h->underflow, (unsigned long long)h->swamping);
        cr_expect(th_same_f(out, h->want) && th_same_stats(&sf, &want),
                  "fast #%zu %s: %a ov%llu uf%llu sw%llu, want %a", i, h->mac, (double)out,
                  (unsigned long long)sf.overflow, (unsigned long long)sf.underflow,
                  (unsigned long long)sf.swamping, (double)h->want);
    }
}

/* The stochastic accumulator draws index (i*n + j)*S + step, S = K + nchunks
 * rounded up to a multiple of 4, with the GEMM's stream and the
 * configuration's seed: with K = 1 the only rounding draw is step 0. */
Test(gemm, sr_index_formula)
{
    const struct qc_mac mac = mac_of("cfg=1,acc=e5m2,acc_rounding=sr:1,seed=9");
    struct qc_gemm_desc d;
    qc_gemm_desc_init(&d, 3, 5, 1);
    d.sr_stream = 7;
    const float a[3] = {1.2f, 1.2f, 1.2f}, b[5] = {1, 1, 1, 1, 1};
    float ref[15], out[15];
    cr_assert_eq(qc_gemm_ref(ref, a, b, &d, &mac, NULL, NULL), 0);
    cr_assert_eq(qc_gemm_cpu(out, a, b, &d, &mac, 2, NULL, NULL), 0);
    const struct qc_format e5m2 = th_format("e5m2");
    struct qc_round r = mac.acc_round;
    r.stream = 7;
    int ups = 0;
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 5; j++) {
            /* K + chunks = 2 draws per output, rounded up to 4 */
            const uint64_t index = (uint64_t)(i * 5 + j) * 4;
            const double want = qc_round_value_ref(&e5m2, (double)1.2f, &r, index, NULL);
            cr_expect_eq(ref[i * 5 + j], (float)want, "ref C[%d][%d]", i, j);
            cr_expect_eq(out[i * 5 + j], (float)want, "fast C[%d][%d]", i, j);
            ups += want > 1.2;
        }
    cr_expect(ups > 0 && ups < 15, "sr:1 at 0.8 of a quantum: both outcomes occur (%d up)", ups);
}

/* acc=native is fast and not bit-reproducible: only the value (to fp32
 * accuracy) and the MAC count are compared. */
Test(gemm, native_is_close_and_counts_macs)
{
    const struct qc_mac mac = mac_of("cfg=5,a=e5m2,b=e5m2,acc=native");
    struct problem p = make_problem(9, 11, 70, false, true, 0, -6, 6, false, 3);
    float ref[99], out[99];
    struct qc_round_stats sr = {0}, sf = {0};
    cr_assert_eq(qc_gemm_ref(ref, p.a, p.b, &p.d, &mac, &sr, NULL), 0);
    cr_assert_eq(qc_gemm_cpu(out, p.a, p.b, &p.d, &mac, 2, &sf, NULL), 0);
    for (int i = 0; i < 99; i++) {
        /* |inputs| < 2^7, so |products| < 2^14: fp32 sums of 70 err by far less */
        const double tol = 70 * 0x1p14 * 0x1p-22;
        cr_expect(fabs((double)out[i] - (double)ref[i]) <= tol, "C[%d] %a vs %a", i, (double)out[i],
                  (double)ref[i]);
    }
    const struct qc_round_stats want = {9 * 11 * 70, 0, 0, 0};
    cr_expect(th_same_stats(&sr, &want) && th_same_stats(&sf, &want));
    problem_free(&p);
}

/* acc=native over the shapes that split it: B columns in several blocks
 * per thread and one per thread, A and B transposed or padded, inputs that
 * need rounding (e5m2) or not (fp32 array B: OpenBLAS reads it in place). */
Test(gemm, native_is_close_on_every_blocking)
{
    static const struct {
        int64_t m, n, k;
        const char *mac;
    } cases[] = {
        {37, 700, 300, "cfg=5,a=e5m2,b=e5m2,acc=native"}, /* one block per thread */
        {5, 5000, 600, "cfg=5,a=e5m2,b=e5m2,acc=native"}, /* B beyond 4 MB a thread: L2 blocks */
        {64, 257, 129, "cfg=1,acc=native"},               /* fp32: B read in place */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        for (int v = 0; v < 4; v++) {
            const struct qc_mac mac = mac_of(cases[i].mac);
            struct problem p = make_problem(cases[i].m, cases[i].n, cases[i].k, v & 1, v & 2,
                                            v == 3 ? 3 : 0, -4, 4, false, 17 + i * 4 + (size_t)v);
            const int64_t ldc = p.d.ldc ? p.d.ldc : p.d.n;
            float *ref = calloc((size_t)(p.d.m * ldc), sizeof(float));
            float *out = calloc((size_t)(p.d.m * ldc), sizeof(float));
            cr_assert(ref && out);
            cr_assert_eq(qc_gemm_ref(ref, p.a, p.b, &p.d, &mac, NULL, NULL), 0);
            cr_assert_eq(qc_gemm_cpu(out, p.a, p.b, &p.d, &mac, 2, NULL, NULL), 0);
            /* |inputs| < 2^5: fp32 sums of k products err by far less */
            const double tol = (double)cases[i].k * 0x1p10 * 0x1p-20;
            int bad = 0;
            for (int64_t r = 0; r < p.d.m; r++)
                for (int64_t c = 0; c < p.d.n; c++)
                    bad += !(fabs((double)out[r * ldc + c] - (double)ref[r * ldc + c]) <= tol);
            cr_expect_eq(bad, 0, "case %zu variant %d: %d outputs off", i, v, bad);
            free(ref);
            free(out);
            problem_free(&p);
        }
}

Test(gemm, ref_rejects_bad_descriptions)
{
    const struct qc_mac mac = mac_of("cfg=1");
    const float a[4] = {1, 2, 3, 4}, b[4] = {1, 2, 3, 4};
    float c[4];
    struct qc_gemm_desc d;
    struct qc_err err;
    qc_gemm_desc_init(&d, 2, 2, 2);
    d.lda = 1;
    cr_expect_eq(qc_gemm_ref(c, a, b, &d, &mac, NULL, &err), QC_EINVAL);
    qc_gemm_desc_init(&d, -1, 2, 2);
    cr_expect_eq(qc_gemm_ref(c, a, b, &d, &mac, NULL, &err), QC_EINVAL);
    qc_gemm_desc_init(&d, 2, 2, 2);
    cr_expect_eq(qc_gemm_ref(c, a, b, &d, &mac, NULL, &err), 0);
    cr_expect_eq(c[0], 7.0f);
    cr_expect_eq(c[3], 22.0f);
}

/* The tests above loop over the kernel variants and step over one this CPU
 * cannot run (QC_EUNSUPP). These make that visible in the report, one test
 * per variant: a variant that runs here gives the reference's bits on a
 * small GEMM and quantization; one that cannot run is reported skipped. */
static void kernel_variant_runs(const char *isa)
{
    const struct qc_mac mac = mac_of("cfg=1,a=e4m3,b=e4m3,acc=fp16");
    const struct qc_format f = th_format("bf16");
    const struct qc_round r = th_round("rne", 0);
    const float a[6] = {1.5f, -2, 0.375f, 3, 0.25f, -1}, b[6] = {2, -0.5f, 1, 1.75f, -3, 0.125f};
    const float in[4] = {1.00390625f, -3.3f, 0.1f, 1e30f};
    float c[4], cref[4], q[4], qref[4];
    struct qc_gemm_desc d;
    struct qc_err err;

    qc_gemm_desc_init(&d, 2, 2, 3);
    const int grc = qc_gemm_cpu_isa(c, a, b, &d, &mac, 1, isa, NULL, &err);
    const int qrc = qc_quantize_f32_isa(q, in, 1, 4, &f, &r, QC_SCALE_FLOOR, 0, NULL, isa, &err);
    if (!qc_cpu_isa_available(isa)) {
        cr_assert_eq(grc, QC_EUNSUPP, "gemm on %s: %d", isa, grc);
        cr_assert_eq(qrc, QC_EUNSUPP, "quantize on %s: %d", isa, qrc);
        cr_skip_test("this CPU cannot run the %s kernels: the GEMM and quantize tests left "
                     "them out",
                     isa);
    }
    cr_assert_eq(grc, 0, "gemm on %s: %s", isa, err.msg);
    cr_assert_eq(qrc, 0, "quantize on %s: %s", isa, err.msg);
    cr_assert_eq(qc_gemm_ref(cref, a, b, &d, &mac, NULL, &err), 0, "%s", err.msg);
    cr_assert_eq(
        qc_quantize_f32_isa(qref, in, 1, 4, &f, &r, QC_SCALE_FLOOR, 0, NULL, "scalar", &err), 0,
        "%s", err.msg);
    for (int i = 0; i < 4; i++) {
        cr_expect(th_same_f(c[i], cref[i]), "%s: C[%d] %a, reference %a", isa, i, (double)c[i],
                  (double)cref[i]);
        cr_expect(th_same_f(q[i], qref[i]), "%s: q[%d] %a, reference %a", isa, i, (double)q[i],
                  (double)qref[i]);
    }
}

Test(gemm, the_generic_kernels_run_here)
{
    kernel_variant_runs("generic");
}

Test(gemm, the_avx2_kernels_run_here_or_are_reported_skipped)
{
    kernel_variant_runs("avx2");
}

Test(gemm, the_avx512_kernels_run_here_or_are_reported_skipped)
{
    kernel_variant_runs("avx512");
}

/* --- the fast regime and the blocked kernels ------------------------------------ */

/* Values with exponents in [elo, ehi], a fraction `zeros` of them zero (the
 * ReLU-like sparsity of training operands). */
static void fill_sparse(float *x, int64_t n, int elo, int ehi, double zeros, uint64_t *s)
{
    for (int64_t i = 0; i < n; i++)
        x[i] =
            th_unit(s) < zeros ? ((th_next(s) & 1) ? -0.0f : 0.0f) : (float)th_spread(s, elo, ehi);
}

/* The kernel a configuration runs on a problem (best ISA, 2 threads). */
static const char *kernel_of(const struct problem *p, const struct qc_mac *mac)
{
    static char name[32];
    struct qc_gemm_ws *ws = qc_gemm_ws_create();
    float *c = malloc(sizeof(float) * (size_t)(p->c_len + 1));
    struct qc_round_stats st = {0};
    cr_assert(ws && c);
    cr_assert_eq(qc_gemm_cpu_run(c, p->a, p->b, &p->d, mac, 2, NULL, ws, &st, NULL), 0);
    snprintf(name, sizeof name, "%s", qc_gemm_ws_kernel(ws));
    qc_gemm_ws_destroy(ws);
    free(c);
    return name;
}

/* Each fast kernel on operands whose magnitudes let the driver prove that
 * no step overflows or underflows: bits and counters equal the
 * reference's for every thread count and ISA, with sparse operands (the
 * swamping count subtracts the zero products) and with K long enough to be
 * split into blocks, and the driver did pick the kernel named. */
Test(gemm, fast_kernels_match_ref)
{
    static const struct {
        const char *mac, *kernel;
        int elo, ehi;
        int64_t m, n, k;
    } cases[] = {
        {"cfg=5,a=e5m2,b=e5m2,acc=e6m5,chunk=32", "f32/fast/add", -4, 3, 7, 37, 100},
        {"cfg=5,a=e5m2,b=e5m2,acc=e6m5,chunk=32", "f32/fast/add", -4, 3, 5, 19, 1000},
        {"cfg=5,a=e5m2,b=e5m2,acc=e6m5", "f32/fast/add", -4, 3, 3, 17, 900},
        {"cfg=5,a=e5m2,b=e5m2,acc=e6m5,chunk=7", "f32/fast/add", -4, 3, 9, 20, 830},
        {"cfg=1,a=e5m2,b=e5m2,acc=bf16,chunk=16", "f32/fast/add", -5, 4, 6, 33, 64},
        {"cfg=1,a=e4m3,b=e4m3,acc=fp16,chunk=16", "f32/fast/odd", -4, 2, 5, 18, 120},
        {"cfg=4,a=e4m3,b=e4m3,acc=e5m10,chunk=8", "f32/fast/odd", -6, 1, 6, 21, 800},
        {"cfg=1,acc=fp32", "f32/fast/plain", -8, 8, 7, 23, 90},
        {"cfg=1,acc=fp32,chunk=64", "f32/fast/plain", -8, 8, 4, 17, 1100},
        {"cfg=3,a=e4m3,b=e4m3,acc=fp32,chunk=8", "f32/fast/plain", -4, 3, 5, 29, 77},
        {"cfg=1,a=fp16,b=fp16,acc=fp32", "f32/fast/plain", -6, 6, 6, 18, 50},
        {"cfg=5,a=e5m2,b=e5m2,acc=q8.13", "fixed/fast", -6, 0, 7, 19, 60},
        {"cfg=5,a=e5m2,b=e5m2,acc=q8.13,acc_rounding=rtz,chunk=8", "fixed/fast", -6, 0, 5, 31, 70},
        {"cfg=2,a=e4m3,b=e4m3,acc=q12.10", "fixed/fast", -3, 1, 4, 17, 900},
        /* sums that leave q8.8's range: the optimistic fixed kernel gives
         * way to the saturating one */
        {"cfg=5,a=e5m2,b=e5m2,acc=q8.8", "fixed", 0, 4, 5, 18, 100},
        /* stochastic accumulator rounding: the fp64-lane kernel, Philox in lanes */
        {"cfg=5,a=e5m2,b=e5m2,acc=e6m5,acc_rounding=sr,chunk=32,seed=5", "sr", -4, 3, 7, 21, 100},
        {"cfg=3,a=e4m3,b=e4m3,acc=bf16,acc_rounding=sr:12,seed=2", "sr", -4, 3, 5, 18, 900},
        {"cfg=5,a=e5m2,b=e5m2,acc=e5m2:sat,acc_rounding=sr:16,chunk=8,seed=7", "sr", 0, 12, 6, 17,
         60},
        {"cfg=1,acc=e6m5:nosub,acc_rounding=sr:20,seed=3", "sr", -20, 10, 5, 19, 40},
        /* the general kernels, for contrast: an accumulator that can
         * overflow, and one whose rounding is not rne */
        {"cfg=5,a=e5m2,b=e5m2,acc=e5m2,chunk=32", "f32", 0, 15, 5, 18, 100},
        {"cfg=1,a=e4m3,b=e4m3,acc=e4m7:bias=10,acc_rounding=rtz,chunk=8", "f32", -4, 3, 6, 20, 900},
    };
    static const double sparsity[] = {0.08, 0.5};
    uint64_t s = 99;
    int fails = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct qc_mac mac = mac_of(cases[i].mac);
        for (int v = 0; v < 2; v++) {
            struct problem p = make_problem(cases[i].m, cases[i].n, cases[i].k, v, !v, v ? 3 : 0, 0,
                                            0, false, th_next(&s));
            /* operands: the problem's layout, our values (padding stays NaN) */
            const int64_t lda = p.d.lda ? p.d.lda : (p.d.trans_a ? p.d.m : p.d.k);
            const int64_t ldb = p.d.ldb ? p.d.ldb : (p.d.trans_b ? p.d.k : p.d.n);
            for (int64_t q = 0; q < p.a_len; q++)
                if ((q % lda) < (p.d.trans_a ? p.d.m : p.d.k))
                    fill_sparse(p.a + q, 1, cases[i].elo, cases[i].ehi, sparsity[v], &s);
            for (int64_t q = 0; q < p.b_len; q++)
                if ((q % ldb) < (p.d.trans_b ? p.d.k : p.d.n))
                    fill_sparse(p.b + q, 1, cases[i].elo, cases[i].ehi, sparsity[v], &s);
            fails += !check_problem(&p, &mac, cases[i].mac);
            const char *kern = kernel_of(&p, &mac);
            cr_expect_str_eq(kern, cases[i].kernel, "%s: ran %s", cases[i].mac, kern);
            problem_free(&p);
        }
    }
    cr_expect_eq(fails, 0);
}

/* --- convolution views ---------------------------------------------------------- */

/* A B view (qc_gemm_b_view) packed straight from its tensor gives the bits
 * and counters of the reference on the unfolded matrix, for every view,
 * stride and padding, fast and general kernels, the exact scalar engine,
 * and K split into blocks. */
Test(gemm, conv_views_match_ref)
{
    static const struct {
        int64_t c, nb, h, w, k, stride, pad, oc;
    } geo[] = {
        {3, 2, 7, 6, 3, 1, 1, 5}, {2, 3, 9, 8, 5, 1, 2, 4},   {4, 2, 8, 8, 3, 2, 1, 6},
        {1, 2, 6, 6, 1, 2, 0, 3}, {2, 4, 16, 16, 3, 1, 1, 3},
    };
    static const char *const macs[] = {
        "cfg=5,a=e5m2,b=e5m2,acc=e6m5,chunk=32",
        "cfg=1,a=e4m3,b=e4m3,acc=e4m7:bias=10,acc_rounding=rtz,chunk=8",
        "cfg=5,a=e5m2,b=e5m2,acc=q8.13",
        "cfg=3,acc=fp32,chunk=5",
        /* block readings: B gathered along K (qc_gemm_b_rows) and rounded
         * first, then the lane kernels bounded by the rounded values */
        "cfg=1,a=mxfp8_e4m3,b=mxfp8_e5m2,acc=fp32",
        "cfg=3,a=mxfp4_e2m1@8,b=mxfp6_e3m2@4,acc=e6m5,chunk=7",
    };
    static const enum qc_gemm_b_view views[] = {QC_GEMM_B_IM2COL, QC_GEMM_B_IM2COL_T,
                                                QC_GEMM_B_DILATED};
    static const struct {
        const char *isa;
        int threads;
    } runs[] = {{NULL, 1}, {NULL, 2}, {NULL, 3}, {"generic", 2}, {"scalar", 2}};
    uint64_t s = 123;
    int fails = 0;
    for (size_t g = 0; g < sizeof geo / sizeof geo[0]; g++) {
        const int64_t k = geo[g].k, st = geo[g].stride, pad = geo[g].pad;
        const int64_t oh = (geo[g].h + 2 * pad - k) / st + 1,
                      ow = (geo[g].w + 2 * pad - k) / st + 1;
        for (size_t v = 0; v < 3; v++) {
            struct qc_gemm_conv cv = {.k = k, .stride = st, .pad = pad};
            struct qc_gemm_desc d;
            int64_t m, n, kk;
            if (views[v] == QC_GEMM_B_DILATED) {
                /* grad-input: the tensor is dY (oc, nb, oh, ow); columns run
                 * over the input grid */
                cv.c = geo[g].oc, cv.nb = geo[g].nb, cv.h = oh, cv.w = ow;
                cv.gh = geo[g].h, cv.gw = geo[g].w;
                m = geo[g].c, kk = geo[g].oc * k * k, n = geo[g].nb * geo[g].h * geo[g].w;
            } else {
                cv.c = geo[g].c, cv.nb = geo[g].nb, cv.h = geo[g].h, cv.w = geo[g].w;
                cv.gh = oh, cv.gw = ow;
                const int64_t cols = geo[g].nb * oh * ow, rows = geo[g].c * k * k;
                m = geo[g].oc;
                kk = views[v] == QC_GEMM_B_IM2COL ? rows : cols;
                n = views[v] == QC_GEMM_B_IM2COL ? cols : rows;
            }
            qc_gemm_desc_init(&d, m, n, kk);
            d.b_view = views[v];
            d.b_conv = &cv;
            d.sr_stream = g;
            const int64_t tlen = cv.c * cv.nb * cv.h * cv.w;
            float *a = malloc(sizeof(float) * (size_t)(m * kk + 1));
            float *t = malloc(sizeof(float) * (size_t)(tlen + 1));
            float *ref = malloc(sizeof(float) * (size_t)(m * n + 1));
            float *out = malloc(sizeof(float) * (size_t)(m * n + 1));
            cr_assert(a && t && ref && out);
            fill_sparse(a, m * kk, -4, 2, 0.1, &s);
            fill_sparse(t, tlen, -4, 2, 0.4, &s);
            for (size_t mi = 0; mi < sizeof macs / sizeof macs[0]; mi++) {
                const struct qc_mac mac = mac_of(macs[mi]);
                struct qc_round_stats sr = {0};
                struct qc_err err;
                cr_assert_eq(qc_gemm_ref(ref, a, t, &d, &mac, &sr, &err), 0, "%s", err.msg);
                for (size_t r = 0; r < sizeof runs / sizeof runs[0]; r++) {
                    struct qc_round_stats sf = {0};
                    int rc = qc_gemm_cpu_run(out, a, t, &d, &mac, runs[r].threads, runs[r].isa,
                                             NULL, &sf, &err);
                    if (rc == QC_EUNSUPP)
                        continue;
                    cr_assert_eq(rc, 0, "%s", err.msg);
                    int64_t bad = -1;
                    for (int64_t q = 0; q < m * n && bad < 0; q++)
                        if (!th_same_f(out[q], ref[q]))
                            bad = q;
                    if (bad >= 0 || !th_same_stats(&sf, &sr)) {
                        cr_expect_fail(
                            "geometry %zu view %d %s (%s, %d threads): C[%lld] %a vs "
                            "ref %a; sw %llu/%llu uf %llu/%llu ov %llu/%llu",
                            g, (int)views[v], macs[mi], runs[r].isa ? runs[r].isa : "best",
                            runs[r].threads, (long long)bad, bad >= 0 ? (double)out[bad] : 0.0,
                            bad >= 0 ? (double)ref[bad] : 0.0, (unsigned long long)sf.swamping,
                            (unsigned long long)sr.swamping, (unsigned long long)sf.underflow,
                            (unsigned long long)sr.underflow, (unsigned long long)sf.overflow,
                            (unsigned long long)sr.overflow);
                        fails++;
                    }
                }
            }
            free(a);
            free(t);
            free(ref);
            free(out);
        }
    }
    cr_expect_eq(fails, 0);
}

/* Sums that land on the accumulator's rounding decisions: for every
 * nonnegative code c of a small accumulator format and its successor w,
 * a two-term dot product 1 * c + 1 * t with t a quarter, half (the tie),
 * three quarters of the step w - c, and the tie's fp32 neighbours, both
 * signs: the first add puts c in the accumulator exactly, the second
 * rounds. Every kernel against the reference, values and counts. */
Test(gemm, accumulator_rounding_decisions_match_ref)
{
    static const char *const acc_fmts[] = {"e6m5", "e5m10", "e4m7:bias=10", "e4m7:bias=10:nosub",
                                           "e5m2", "e4m3",  "e4m3:bias=8",  "e5m3:sat",
                                           "q8.8", "q4.11", "int12"};
    static const char *const modes[] = {"rne", "rtz", "rup", "rdn", "rna"};
    int fails = 0;
    for (size_t ai = 0; ai < sizeof acc_fmts / sizeof acc_fmts[0]; ai++) {
        const struct qc_format f = th_format(acc_fmts[ai]);
        /* The nonnegative codes (float or two's complement alike: the low
         * half), every one of a small format, a sample of a wide one, and
         * each with the step to the next value (past the top: the last
         * step again). */
        const uint64_t half = UINT64_C(1) << (f.bits - 1);
        const uint64_t stride = half > 1024 ? half / 512 : 1;
        double vals[1100], steps[1100];
        int nv = 0;
        for (uint64_t code = 0; code < half; code = code + stride < half ? code + stride
                                                    : code + 1 < half    ? half - 1
                                                                         : half) {
            const double v = qc_format_decode(&f, code);
            if (!isfinite(v) || signbit(v))
                continue;
            double w = code + 1 < half ? qc_format_decode(&f, code + 1) : NAN;
            if (!(isfinite(w) && w > v))
                w = v + (v - qc_format_decode(&f, code - 1));
            vals[nv] = v;
            steps[nv++] = w - v;
        }
        cr_assert(nv > 0 && nv <= 1100);
        /* 5 offsets x 2 signs per code */
        const int64_t n = (int64_t)nv * 10;
        struct problem p = make_problem(1, n, 2, false, false, 0, 0, 0, false, 1);
        p.a[0] = p.a[1] = 1.0f;
        for (int i = 0; i < nv; i++) {
            const float c = (float)vals[i], step = (float)steps[i], tie = step / 2;
            const float off[5] = {step / 4, tie, 3 * step / 4, nextafterf(tie, 0.0f),
                                  nextafterf(tie, INFINITY)};
            for (int o = 0; o < 5; o++)
                for (int sg = 0; sg < 2; sg++) {
                    const int64_t j = (int64_t)i * 10 + o * 2 + sg;
                    p.b[j] = sg ? -c : c;
                    p.b[n + j] = sg ? -off[o] : off[o];
                }
        }
        for (size_t m = 0; m < sizeof modes / sizeof modes[0]; m++) {
            char spec[96];
            /* exact products (e5m2 x e6m16 fits fp32) keep the lane
             * kernels, float and fixed; fp32 readings would take the
             * scalar engine */
            snprintf(spec, sizeof spec, "cfg=3,a=e5m2,b=e6m16,acc=%s,acc_rounding=%s", acc_fmts[ai],
                     modes[m]);
            const struct qc_mac mac = mac_of(spec);
            fails += !check_problem(&p, &mac, spec);
        }
        problem_free(&p);
    }
    cr_expect_eq(fails, 0);
}

/* Operands small enough that products underflow the product step (CFG-1's
 * e5m2 rounding, CFG-2's nosub flush, CFG-3..6's flush below eP's smallest
 * normal) while the accumulator provably cannot overflow: the fast regime
 * with the product's underflows counted in the kernel, for rne and rtz
 * accumulators, against the reference. */
Test(gemm, fast_regime_with_underflowing_products_matches_ref)
{
    static const char *const specs[] = {
        "cfg=1,a=e5m2,b=e5m2,acc=e6m5,chunk=16",
        "cfg=2,a=e5m2,b=e5m2,acc=e6m5",
        "cfg=5,a=e5m2,b=e5m2,acc=e6m5,chunk=8",
        "cfg=3,a=e5m2,b=e5m2,acc=fp32",
        "cfg=5,a=e5m2,b=e5m2,acc=e6m5,acc_rounding=rtz",
        "cfg=1,a=e5m2,b=e5m2,acc=e8m10,acc_rounding=rtz,chunk=4",
        "cfg=6,a=e4m3,b=e4m3,acc=e5m10,chunk=32",
    };
    uint64_t s = 4242;
    int fails = 0;
    for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++) {
        const struct qc_mac mac = mac_of(specs[i]);
        for (int rep = 0; rep < 3; rep++) {
            /* magnitudes 2^-17 .. 2^3: products from 2^-34 to 2^6 */
            struct problem p = make_problem(5 + rep, 17 + 3 * rep, 40 + 20 * rep, rep == 1,
                                            rep == 2, 0, -17, 3, false, th_next(&s));
            fails += !check_problem(&p, &mac, specs[i]);
            problem_free(&p);
        }
    }
    cr_expect_eq(fails, 0);
}

/* qc_gemm_b_rows gives B^T's rows exactly as qc_gemm_b_value defines B,
 * for every view and for arrays transposed or not, with padding in the
 * row stride, over any split of the rows. */
Test(gemm, b_rows_match_the_view_definition)
{
    static const struct qc_gemm_conv geo[] = {
        /* c, nb, h, w, k, stride, pad, gh, gw (the grid is filled below) */
        {3, 2, 7, 6, 3, 1, 1, 0, 0},
        {2, 3, 9, 8, 5, 2, 2, 0, 0},
        {1, 2, 6, 6, 1, 2, 0, 0, 0},
        {2, 1, 5, 7, 3, 3, 2, 0, 0},
    };
    uint64_t s = 99;
    for (size_t g = 0; g < sizeof geo / sizeof geo[0]; g++) {
        for (int v = 0; v < 5; v++) {
            struct qc_gemm_conv cv = geo[g];
            const int64_t oh = (cv.h + 2 * cv.pad - cv.k) / cv.stride + 1,
                          ow = (cv.w + 2 * cv.pad - cv.k) / cv.stride + 1;
            struct qc_gemm_desc d;
            int64_t kk, n, len;
            if (v < 2) { /* arrays, 3 floats of padding per row */
                kk = 5 + (int64_t)g, n = 7 + (int64_t)g;
                qc_gemm_desc_init(&d, 1, n, kk);
                d.trans_b = v == 1;
                d.ldb = (d.trans_b ? kk : n) + 3;
                len = (d.trans_b ? n : kk) * d.ldb;
            } else if (v == 4) { /* dilated: the tensor is on the output grid */
                const int64_t h = cv.h, w = cv.w;
                cv.h = oh, cv.w = ow, cv.gh = h, cv.gw = w;
                kk = cv.c * cv.k * cv.k, n = cv.nb * h * w;
                qc_gemm_desc_init(&d, 1, n, kk);
                d.b_view = QC_GEMM_B_DILATED;
                len = cv.c * cv.nb * cv.h * cv.w;
            } else {
                cv.gh = oh, cv.gw = ow;
                const int64_t rows = cv.c * cv.k * cv.k, cols = cv.nb * oh * ow;
                const bool t = v == 3;
                kk = t ? cols : rows, n = t ? rows : cols;
                qc_gemm_desc_init(&d, 1, n, kk);
                d.b_view = t ? QC_GEMM_B_IM2COL_T : QC_GEMM_B_IM2COL;
                len = cv.c * cv.nb * cv.h * cv.w;
            }
            if (d.b_view != QC_GEMM_B_ARRAY)
                d.b_conv = &cv;
            float *b = malloc(sizeof(float) * (size_t)len);
            float *rows = malloc(sizeof(float) * (size_t)(n * kk));
            cr_assert(b && rows);
            for (int64_t i = 0; i < len; i++)
                b[i] = (float)(th_next(&s) % 1000) + 1.0f; /* never 0: padding shows */
            /* three uneven pieces */
            const int64_t j1 = n / 3, j2 = n - n / 4;
            qc_gemm_b_rows(rows, b, &d, 0, j1);
            qc_gemm_b_rows(rows + j1 * kk, b, &d, j1, j2);
            qc_gemm_b_rows(rows + j2 * kk, b, &d, j2, n);
            int64_t bad = -1;
            for (int64_t j = 0; j < n && bad < 0; j++)
                for (int64_t p = 0; p < kk && bad < 0; p++)
                    if (rows[j * kk + p] != qc_gemm_b_value(&d, b, p, j))
                        bad = j * kk + p;
            cr_expect_eq(bad, -1, "geometry %zu view %d: row %lld column %lld", g, v,
                         (long long)(bad / kk), (long long)(bad % kk));
            free(b);
            free(rows);
        }
    }
}

/* A workspace kept across calls stops growing once it has served each
 * shape: the steady state of a training step allocates nothing. */
Test(gemm, workspace_reaches_a_steady_size)
{
    const struct qc_mac mac = mac_of("cfg=5,a=e5m2,b=e5m2,acc=e6m5,chunk=32");
    struct problem p1 = make_problem(20, 50, 900, false, true, 0, -4, 2, false, 1);
    struct problem p2 = make_problem(30, 9, 40, true, false, 0, -4, 2, false, 2);
    struct qc_gemm_ws *ws = qc_gemm_ws_create();
    float *c = malloc(sizeof(float) * 2000);
    cr_assert(ws && c);
    size_t sizes[3];
    for (int round = 0; round < 3; round++) {
        cr_assert_eq(qc_gemm_cpu_run(c, p1.a, p1.b, &p1.d, &mac, 2, NULL, ws, NULL, NULL), 0);
        cr_assert_eq(qc_gemm_cpu_run(c, p2.a, p2.b, &p2.d, &mac, 2, NULL, ws, NULL, NULL), 0);
        sizes[round] = qc_gemm_ws_bytes(ws);
    }
    cr_expect(sizes[0] > 0);
    cr_expect_eq(sizes[1], sizes[0]);
    cr_expect_eq(sizes[2], sizes[0]);
    qc_gemm_ws_destroy(ws);
    free(c);
    problem_free(&p1);
    problem_free(&p2);
}
