/* The CUDA backend against the CPU, bit for bit: every 8-bit code and every
 * product of two codes under each CFG, random and adversarial GEMMs for each
 * kind of accumulator and chunk size (transposes and strides included),
 * quantization in every format and rounding mode (block formats, scale
 * rules, stochastic rounding keyed by position), acc=native on exact sums,
 * convolution, and whole training runs ending with identical weights.
 *
 * The CPU side is the reference: the existing suites test it against the
 * MPFR twins, and it runs the same QC_HD arithmetic (the num/ *_hd.h headers) that the
 * kernels run. Where the CUDA runtime finds no device, or the build has no
 * CUDA backend, every GPU test skips with the reason; the first test checks
 * that the reason is given. Counters are compared too (NaNs compare equal
 * to NaNs: th_same_f). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qcore/backend.h"
#include "qcore/conv.h"
#include "qcore/gemm_cpu.h"
#include "qcore/train.h"
#include "test_helpers.h"

static struct qc_mac mac_of(const char *s)
{
    struct qc_mac m;
    struct qc_err err;
    cr_assert_eq(qc_mac_parse(&m, s, &err), QC_OK, "%s: %s", s, err.msg);
    return m;
}

/* The CUDA backend on device 0, or the test skips saying why there is none. */
static struct qc_backend *gpu_or_skip(void)
{
    struct qc_backend *be = NULL;
    struct qc_backend_opts o = {.threads = 1, .device = 0};
    struct qc_err err;
    int rc = qc_backend_create(&be, "cuda", &o, &err);

    if (rc == QC_EUNSUPP)
        cr_skip_test("no GPU to test on: %s", err.msg);
    cr_assert_eq(rc, QC_OK, "%s", err.msg);
    return be;
}

static struct qc_backend *cpu(void)
{
    struct qc_backend *be = NULL;
    struct qc_backend_opts o = {.threads = 2};
    struct qc_err err;
    cr_assert_eq(qc_backend_create(&be, "cpu", &o, &err), QC_OK, "%s", err.msg);
    return be;
}

static void same_floats(const float *got, const float *want, int64_t n, const char *what)
{
    for (int64_t i = 0; i < n; i++)
        cr_assert(th_same_f(got[i], want[i]), "%s: element %lld: gpu %a, cpu %a", what,
                  (long long)i, (double)got[i], (double)want[i]);
}

static void same_stats(const struct qc_round_stats *g, const struct qc_round_stats *c,
                       const char *what)
{
    cr_assert(th_same_stats(g, c),
              "%s: counters differ: gpu ops %llu ov %llu un %llu sw %llu, cpu ops %llu ov %llu "
              "un %llu sw %llu",
              what, (unsigned long long)g->ops, (unsigned long long)g->overflow,
              (unsigned long long)g->underflow, (unsigned long long)g->swamping,
              (unsigned long long)c->ops, (unsigned long long)c->overflow,
              (unsigned long long)c->underflow, (unsigned long long)c->swamping);
}

/* One GEMM on both backends with the same description; C starts as a
 * pattern so that a stride gap the GEMM must not touch is checked too. */
static void gemm_both(struct qc_backend *g, struct qc_backend *c, const float *a, const float *b,
                      const struct qc_gemm_desc *d, const struct qc_mac *m, const char *what)
{
    const int64_t nc = d->m * qc_gemm_ldc(d);
    float *cg = malloc((size_t)(nc + 1) * sizeof(float)),
          *cc = malloc((size_t)(nc + 1) * sizeof(float));
    struct qc_round_stats sg = {0}, sc = {0};
    struct qc_err err;

    for (int64_t i = 0; i < nc; i++)
        cg[i] = cc[i] = (float)(i % 7) - 3.5f;
    cr_assert_eq(qc_backend_gemm(c, cc, a, b, d, m, &sc, &err), QC_OK, "%s: cpu: %s", what,
                 err.msg);
    cr_assert_eq(qc_backend_gemm(g, cg, a, b, d, m, &sg, &err), QC_OK, "%s: gpu: %s", what,
                 err.msg);
    same_floats(cg, cc, nc, what);
    if (!m->native)
        same_stats(&sg, &sc, what);
    free(cg);
    free(cc);
}

Test(cuda, a_device_or_the_reason_there_is_none)
{
    struct qc_backend_device devs[8];
    struct qc_backend *be = NULL;
    struct qc_backend_opts o = {.device = 0};
    struct qc_err err, why;

    qc_err_clear(&why);
    const int n = qc_backend_devices("cuda", devs, 8, &why);
    const int rc = qc_backend_create(&be, "cuda", &o, &err);
    cr_assert_geq(n, 0);
    if (n == 0) {
        /* Refused, never replaced by the CPU, and the reason says why. */
        cr_assert_eq(rc, QC_EUNSUPP, "rc %d", rc);
        cr_assert_null(be);
        cr_assert(strstr(err.msg, "cuda"), "%s", err.msg);
        cr_assert(strlen(why.msg) > 10, "no reason given: '%s'", why.msg);
        cr_log_info("no CUDA device here: %s", why.msg);
        return;
    }
    cr_assert_eq(rc, QC_OK, "%s", err.msg);
    cr_assert_str_eq(be->vt->kind, "cuda");
    cr_assert(devs[0].name[0] && devs[0].memory > 0);
    cr_assert(strstr(be->device, devs[0].name), "%s vs %s", be->device, devs[0].name);
    qc_backend_destroy(be);
    o.device = n; /* one past the last */
    cr_assert_eq(qc_backend_create(&be, "cuda", &o, &err), QC_EINVAL);
    cr_assert_null(be);
    cr_assert_eq(qc_backend_devices("cpu", devs, 8, &why), QC_EINVAL);
}

/* Every code of an 8-bit format as a value, NaN and inf codes included. */
static int all_codes(float *v, const char *fmt)
{
    const struct qc_format f = th_format(fmt);
    for (int c = 0; c < 256; c++)
        v[c] = (float)qc_format_decode(&f, (uint64_t)c);
    return 256;
}

Test(cuda, every_8bit_code_and_product_per_cfg)
{
    static const char *const fmts[] = {"e5m2", "e4m3", "fp8_e4m3", "e3m4", "e2m5"};
    static const char *const accs[] = {"fp32", "e6m5"};
    struct qc_backend *g = gpu_or_skip(), *c = cpu();
    float v[256], vt[256], out_g[256], out_c[256];
    char s[160], what[200];

    for (size_t f = 0; f < sizeof fmts / sizeof fmts[0]; f++) {
        const int n = all_codes(v, fmts[f]);
        memcpy(vt, v, sizeof v);
        for (int cfg = 1; cfg <= 6; cfg++) {
            /* Each code as the multiplier reads it (the input rounding). */
            struct qc_mac m;
            snprintf(s, sizeof s, "cfg=%d,a=%s,b=%s", cfg, fmts[f], fmts[f]);
            m = mac_of(s);
            struct qc_round rne = th_round("rne", 0);
            struct qc_round_stats sg = {0}, sc = {0};
            struct qc_err err;
            cr_assert_eq(qc_backend_quantize_f32(g, out_g, v, 1, n, &m.a_read, &rne, QC_SCALE_FLOOR,
                                                 0, &sg, &err),
                         QC_OK, "%s", err.msg);
            cr_assert_eq(
                qc_quantize_f32(out_c, v, 1, n, &m.a_read, &rne, QC_SCALE_FLOOR, 0, &sc, &err),
                QC_OK, "%s", err.msg);
            snprintf(what, sizeof what, "%s read by CFG-%d", fmts[f], cfg);
            same_floats(out_g, out_c, n, what);
            same_stats(&sg, &sc, what);
            /* Every product of two codes: a 256 x 1 by 1 x 256 GEMM. */
            for (size_t ac = 0; ac < sizeof accs / sizeof accs[0]; ac++) {
                snprintf(s, sizeof s, "cfg=%d,a=%s,b=%s,acc=%s", cfg, fmts[f], fmts[f], accs[ac]);
                m = mac_of(s);
                struct qc_gemm_desc d;
                qc_gemm_desc_init(&d, n, n, 1);
                gemm_both(g, c, v, vt, &d, &m, s);
            }
        }
    }
    qc_backend_destroy(g);
    qc_backend_destroy(c);
}

/* Fills x with n values of magnitude 2^elo .. 2^ehi, random signs. */
static void spread(float *x, int64_t n, uint64_t *seed, int elo, int ehi)
{
    for (int64_t i = 0; i < n; i++)
        x[i] = (float)th_spread(seed, elo, ehi);
}

static const char *const macs[] = {
    "cfg=5,a=e5m2,b=e5m2,acc=e6m5",
    "cfg=5,a=e5m2,b=e5m2,acc=e6m5,acc_rounding=sr:8,seed=11",
    "cfg=1,a=e4m3,b=e4m3,acc=fp32",
    "cfg=2,a=e4m3,b=e4m3,product=e5m2,acc=fp16",
    "cfg=3,a=e4m3,b=e5m2,acc=bf16,acc_rounding=rtz",
    "cfg=4,a=fp8_e4m3,b=fp8_e4m3,acc=e5m10:sat,acc_rounding=rna",
    "cfg=6,a=e5m2,b=e5m2,acc=e4m7:bias=10:nosub,acc_rounding=rup",
    "cfg=5,a=e5m2,b=e5m2,acc=e6m5:daz,acc_rounding=rdn",
    "cfg=5,a=e5m2,b=e5m2,acc=e6m5:subnormal-as-normal,acc_rounding=sr,seed=5",
    "cfg=1,a=bf16,b=bf16,acc=fp32",
    "cfg=1,a=fp32,b=fp32,acc=fp32",
    "cfg=1,a=fp16,b=fp16,acc=e8m30",
    "cfg=2,a=bf16,b=bf16,product=e6m9,acc=fp64",
    "cfg=1,a=e4m3,b=e4m3,fused=1,acc=e5m6",
    "cfg=1,a=e4m3,b=e4m3,acc=q8.13",
    "cfg=1,a=e4m3,b=e4m3,acc=q4.6,acc_rounding=rtz",
    "cfg=5,a=e5m2,b=e5m2,acc=q8.13:wrap,acc_rounding=sr:4,seed=3",
    "cfg=1,a=e4m3,b=e4m3,acc=int12,acc_rounding=rna",
    "cfg=1,a=q8.8,b=q4.11,acc=q16.16",
    "cfg=1,a=int8,b=e4m3,acc=fp32",
    "cfg=1,a=mxfp8_e4m3,b=mxfp6_e2m3@16,acc=fp32",
    "cfg=1,a=mxfp4_e2m1,b=mxint8,acc=e6m5,scale_rule=round",
    "cfg=1,a=bfp8@16,b=bfp6@8,acc=fp32,scale_rule=ceil",
};

Test(cuda, random_gemms_every_accumulator_and_chunk)
{
    static const int64_t chunks[] = {0, 1, 5, 32};
    struct qc_backend *g = gpu_or_skip(), *c = cpu();
    const int64_t M = 19, N = 23, K = 67;
    float *a = malloc(sizeof(float) * (size_t)(M * K * 2));
    float *b = malloc(sizeof(float) * (size_t)(K * N * 2));
    uint64_t seed = 7;
    char s[200];

    for (size_t i = 0; i < sizeof macs / sizeof macs[0]; i++) {
        for (size_t ch = 0; ch < sizeof chunks / sizeof chunks[0]; ch++) {
            snprintf(s, sizeof s, "%s,chunk=%lld", macs[i], (long long)chunks[ch]);
            struct qc_mac m = mac_of(s);
            spread(a, M * K * 2, &seed, -6, 5);
            spread(b, K * N * 2, &seed, -6, 5);
            struct qc_gemm_desc d;
            qc_gemm_desc_init(&d, M, N, K);
            d.sr_stream = 3 + i;
            gemm_both(g, c, a, b, &d, &m, s);
            /* Transposed and strided operands, a strided C. */
            d.trans_a = ch & 1;
            d.trans_b = (ch >> 1) & 1;
            d.lda = (d.trans_a ? M : K) + 3;
            d.ldb = (d.trans_b ? K : N) + 2;
            d.ldc = N + 5;
            if (qc_gemm_lda(&d) * (d.trans_a ? K : M) > M * K * 2 ||
                qc_gemm_ldb(&d) * (d.trans_b ? N : K) > K * N * 2)
                continue;
            gemm_both(g, c, a, b, &d, &m, s);
        }
    }
    free(a);
    free(b);
    qc_backend_destroy(g);
    qc_backend_destroy(c);
}

/* Values that make the MAC's corner cases happen: signed zeros, inf, NaN,
 * fp32 subnormals, each format's extremes, x next to -x (cancellation),
 * and huge next to tiny (swamping, overflow, underflow). */
static float nasty(uint64_t *s)
{
    static const float pool[] = {0.0f,       -0.0f,     1.0f,      -1.0f,     0x1p-149f,
                                 -0x1p-140f, 0x1p-126f, 57344.0f,  -57344.0f, 448.0f,
                                 240.0f,     0x1p-16f,  -0x1p-14f, 0x1p-9f,   65504.0f,
                                 0x1p100f,   -0x1p120f, 3.0e38f,   1.5f,      -1.75f};
    const uint64_t r = th_next(s) % 40;
    if (r < sizeof pool / sizeof pool[0])
        return pool[r];
    if (r == 39)
        return th_bits_f32(0x7fc00000); /* NaN */
    if (r == 38)
        return (th_next(s) & 1) ? th_bits_f32(0x7f800000) : th_bits_f32(0xff800000);
    return (float)th_spread(s, -20, 17);
}

Test(cuda, adversarial_gemms)
{
    static const char *const extra[] = {",chunk=0", ",chunk=3", ",chunk=16"};
    struct qc_backend *g = gpu_or_skip(), *c = cpu();
    const int64_t M = 13, N = 17, K = 40;
    float a[13 * 40], b[40 * 17];
    uint64_t seed = 99;
    char s[220];

    for (int round = 0; round < 3; round++) {
        for (size_t i = 0; i < sizeof macs / sizeof macs[0]; i++) {
            for (size_t e = 0; e < sizeof extra / sizeof extra[0]; e++) {
                snprintf(s, sizeof s, "%s%s", macs[i], extra[e]);
                struct qc_mac m = mac_of(s);
                for (int64_t t = 0; t < M * K; t++)
                    a[t] = nasty(&seed);
                for (int64_t t = 0; t < K * N; t++)
                    b[t] = nasty(&seed);
                /* Every other round: a row and its negation, for exact cancellation. */
                if (round == 1)
                    for (int64_t t = 0; t < K; t++)
                        a[K + t] = -a[t];
                struct qc_gemm_desc d;
                qc_gemm_desc_init(&d, M, N, K);
                d.sr_stream = (uint64_t)round;
                gemm_both(g, c, a, b, &d, &m, s);
            }
        }
    }
    qc_backend_destroy(g);
    qc_backend_destroy(c);
}

Test(cuda, operands_already_rounded_and_empty_shapes)
{
    struct qc_backend *g = gpu_or_skip(), *c = cpu();
    struct qc_mac m = mac_of("cfg=5,a=mxfp8_e4m3,b=mxfp8_e4m3,acc=e6m5,chunk=8");
    float a[9 * 33], b[33 * 5];
    uint64_t seed = 4;
    struct qc_gemm_desc d;

    spread(a, 9 * 33, &seed, -8, 8);
    spread(b, 33 * 5, &seed, -8, 8);
    qc_gemm_desc_init(&d, 9, 5, 33);
    d.a_rounded = d.b_rounded = true; /* read as they are, never rounded again */
    gemm_both(g, c, a, b, &d, &m, "already rounded");
    qc_gemm_desc_init(&d, 9, 5, 0); /* K = 0: every output is +0 */
    gemm_both(g, c, a, b, &d, &m, "k = 0");
    qc_gemm_desc_init(&d, 0, 5, 33);
    gemm_both(g, c, a, b, &d, &m, "m = 0");
    qc_backend_destroy(g);
    qc_backend_destroy(c);
}

static const char *const qformats[] = {
    "e5m2",
    "e4m3",
    "fp8_e4m3",
    "fp16",
    "bf16",
    "tf32",
    "e3m2:finite",
    "e4m3:sat",
    "e5m2:nosub",
    "e5m2:daz",
    "e4m3:subnormal-as-normal",
    "e4m3:inf1",
    "e4m7:bias=10",
    "q8.13",
    "q4.4:wrap",
    "int8",
    "int16",
    "mxfp8_e4m3",
    "mxfp8_e5m2",
    "mxfp6_e3m2",
    "mxfp6_e2m3@8",
    "mxfp4_e2m1",
    "mxint8@16",
    "bfp8@16",
    "bfp4@32",
};
static const char *const modes[] = {"rne", "rna", "rtz", "rup", "rdn", "sr", "sr:3", "sr:64"};

Test(cuda, quantize_every_format_and_mode)
{
    struct qc_backend *g = gpu_or_skip();
    const int64_t rows = 7, cols = 100, n = rows * cols;
    float in[700], out_g[700], out_c[700];
    uint64_t seed = 21;
    char what[160];

    for (size_t f = 0; f < sizeof qformats / sizeof qformats[0]; f++) {
        const struct qc_format fmt = th_format(qformats[f]);
        for (size_t md = 0; md < sizeof modes / sizeof modes[0]; md++) {
            for (int rule = QC_SCALE_FLOOR; rule <= QC_SCALE_ROUND; rule++) {
                if (qc_format_is_scalar(&fmt) && rule > QC_SCALE_FLOOR)
                    continue;
                const struct qc_round r = th_round(modes[md], 1000 + md);
                for (int64_t i = 0; i < n; i++)
                    in[i] = i % 5 == 4 ? nasty(&seed) : (float)th_spread(&seed, -12, 12);
                struct qc_round_stats sg = {0}, sc = {0};
                struct qc_err err;
                int rg = qc_backend_quantize_f32(g, out_g, in, rows, cols, &fmt, &r,
                                                 (enum qc_scale_rule)rule, 777, &sg, &err);
                int rc = qc_quantize_f32(out_c, in, rows, cols, &fmt, &r, (enum qc_scale_rule)rule,
                                         777, &sc, &err);
                snprintf(what, sizeof what, "%s %s rule %d", qformats[f], modes[md], rule);
                cr_assert_eq(rg, rc, "%s: gpu %d, cpu %d", what, rg, rc);
                if (rc)
                    continue;
                same_floats(out_g, out_c, n, what);
                same_stats(&sg, &sc, what);
            }
        }
    }
    qc_backend_destroy(g);
}

Test(cuda, stochastic_rounding_keyed_by_position)
{
    struct qc_backend *g = gpu_or_skip();
    const struct qc_format f = th_format("e4m3");
    float in[4096], whole[4096], parts[4096], other[4096];
    struct qc_err err;
    uint64_t seed = 5;
    int differ = 0;

    for (int i = 0; i < 4096; i++)
        in[i] = (float)th_spread(&seed, -4, 4);
    struct qc_round r = th_round("sr:12", 77);
    r.stream = 9;
    cr_assert_eq(
        qc_backend_quantize_f32(g, whole, in, 1, 4096, &f, &r, QC_SCALE_FLOOR, 100, NULL, &err),
        QC_OK);
    /* In two pieces with their own first indices: the same bits. */
    cr_assert_eq(
        qc_backend_quantize_f32(g, parts, in, 1, 1000, &f, &r, QC_SCALE_FLOOR, 100, NULL, &err),
        QC_OK);
    cr_assert_eq(qc_backend_quantize_f32(g, parts + 1000, in + 1000, 1, 3096, &f, &r,
                                         QC_SCALE_FLOOR, 1100, NULL, &err),
                 QC_OK);
    same_floats(parts, whole, 4096, "split");
    cr_assert_eq(qc_quantize_f32(other, in, 1, 4096, &f, &r, QC_SCALE_FLOOR, 100, NULL, &err),
                 QC_OK);
    same_floats(whole, other, 4096, "cpu");
    /* Another seed draws other bits. */
    r.seed = 78;
    cr_assert_eq(
        qc_backend_quantize_f32(g, other, in, 1, 4096, &f, &r, QC_SCALE_FLOOR, 100, NULL, &err),
        QC_OK);
    for (int i = 0; i < 4096; i++)
        differ += !th_same_f(other[i], whole[i]);
    cr_assert_gt(differ, 100, "only %d of 4096 values changed with the seed", differ);
    qc_backend_destroy(g);
}

Test(cuda, native_matches_on_exact_sums)
{
    /* acc=native sums in cuBLAS's own order; small integers make every order
     * exact, so the result must equal the CPU's (and the layout is checked). */
    struct qc_backend *g = gpu_or_skip(), *c = cpu();
    struct qc_mac m = mac_of("acc=native,a=e5m2,b=e5m2");
    float a[31 * 45], b[45 * 29];
    uint64_t seed = 8;
    struct qc_gemm_desc d;

    for (int i = 0; i < 31 * 45; i++)
        a[i] = (float)((int)(th_next(&seed) % 15) - 7);
    for (int i = 0; i < 45 * 29; i++)
        b[i] = (float)((int)(th_next(&seed) % 15) - 7);
    qc_gemm_desc_init(&d, 31, 29, 45);
    gemm_both(g, c, a, b, &d, &m, "native");
    d.trans_b = true; /* b as 29 x 45 */
    gemm_both(g, c, a, b, &d, &m, "native, B transposed");
    qc_backend_destroy(g);
    qc_backend_destroy(c);
}

Test(cuda, conv2d_through_the_gpu_gemm)
{
    struct qc_conv2d_desc d = {
        .n = 2, .c = 3, .h = 9, .w = 8, .oc = 4, .kh = 3, .kw = 3, .stride = 2, .pad = 1};
    struct qc_backend *g = gpu_or_skip(), *c = cpu();
    struct qc_mac m = mac_of("cfg=5,a=e5m2,b=e5m2,acc=e6m5,chunk=4,acc_rounding=sr:6,seed=2");
    float x[2 * 3 * 9 * 8], w[4 * 27], yg[2 * 4 * 5 * 4], yc[2 * 4 * 5 * 4];
    struct qc_round_stats sg = {0}, sc = {0};
    struct qc_err err;
    uint64_t seed = 12;

    spread(x, 2 * 3 * 9 * 8, &seed, -3, 3);
    spread(w, 4 * 27, &seed, -3, 3);
    d.sr_stream = 40;
    cr_assert_eq(qc_conv2d_forward(g, yg, x, w, &d, &m, &sg, &err), QC_OK, "%s", err.msg);
    cr_assert_eq(qc_conv2d_forward(c, yc, x, w, &d, &m, &sc, &err), QC_OK, "%s", err.msg);
    same_floats(yg, yc, 2 * 4 * 5 * 4, "conv2d");
    same_stats(&sg, &sc, "conv2d");
    qc_backend_destroy(g);
    qc_backend_destroy(c);
}

Test(cuda, refuses_what_the_cpu_refuses)
{
    struct qc_backend *g = gpu_or_skip(), *c = cpu();
    struct qc_mac m = mac_of("cfg=5,a=e5m2,b=e5m2,acc=e6m5");
    const struct qc_format f64 = th_format("fp64");
    struct qc_round r = th_round("sr", 1);
    float a[4] = {1, 2, 3, 4}, out[4];
    struct qc_gemm_desc d;
    struct qc_err eg, ec;

    qc_gemm_desc_init(&d, 2, 2, -1);
    cr_assert_eq(qc_backend_gemm(g, out, a, a, &d, &m, NULL, &eg),
                 qc_backend_gemm(c, out, a, a, &d, &m, NULL, &ec));
    cr_assert_str_eq(eg.msg, ec.msg);
    cr_assert_eq(qc_backend_quantize_f32(g, out, a, 1, 4, &f64, &r, QC_SCALE_FLOOR, 0, NULL, &eg),
                 QC_EINVAL);
    cr_assert(strstr(eg.msg, "fp64"), "%s", eg.msg);
    r.sr_bits = 65;
    const struct qc_format e4 = th_format("e4m3");
    cr_assert_eq(qc_backend_quantize_f32(g, out, a, 1, 4, &e4, &r, QC_SCALE_FLOOR, 0, NULL, &eg),
                 QC_EINVAL);
    qc_backend_destroy(g);
    qc_backend_destroy(c);
}

/* Collects metric lines without the wall-clock field. */
struct sink {
    char text[1 << 15];
    size_t len;
};

static int collect(void *ctx, const char *line)
{
    struct sink *s = ctx;
    const char *cut = strstr(line, ",\"images_per_s\"");
    size_t n = cut ? (size_t)(cut - line) : strlen(line);
    cr_assert_lt(s->len + n + 2, sizeof s->text);
    memcpy(s->text + s->len, line, n);
    s->len += n;
    s->text[s->len++] = '\n';
    s->text[s->len] = '\0';
    return 0;
}

/* A training run to compare: an architecture, its MAC, and for the ResNet
 * Adam with bf16/e5m2/fp16 states and a dynamic loss scale, so that batch
 * normalization, residual adds, global pooling and the quantized optimizer
 * all run on the device. */
struct run_case {
    const char *arch, *mac;
    bool adam;
};

static void train_on(const char *backend, const struct run_case *rc_, struct sink *s,
                     struct qc_net *net)
{
    struct qc_train_cfg c;
    struct qc_train_opts o = {0};
    struct qc_train_hooks h = {.ctx = s, .metric = collect};
    struct qc_err err;

    qc_train_cfg_init(&c);
    snprintf(c.dataset, sizeof c.dataset, "synthetic:train=256:test=64:h=12:w=12");
    snprintf(c.model.arch, sizeof c.model.arch, "%s", rc_->arch);
    c.model.depth = 8;
    snprintf(c.backend, sizeof c.backend, "%s", backend);
    c.epochs = 1;
    c.batch = 32;
    c.log_interval = 2;
    c.seed = 3;
    c.threads = 2;
    c.fingerprint = 0x77;
    for (int g = 0; g < QC_GEMM_GROUPS; g++)
        cr_assert_eq(qc_mac_parse(&c.arith.mac[g], rc_->mac, &err), QC_OK, "%s", err.msg);
    if (rc_->adam) {
        c.optim.kind = QC_OPTIM_ADAM;
        c.optim.lr = 0.002;
        c.optim.weight_decay = 1e-4;
        c.optim.quant_momentum = c.optim.quant_update = c.optim.quant_master = true;
        c.optim.moment = th_format("bf16");
        c.optim.update = th_format("e5m2");
        c.optim.master = th_format("fp16");
        c.loss.kind = QC_LOSS_SCALE_DYNAMIC;
        c.loss.scale = 1024;
        c.loss.growth_interval = 2;
        c.loss.growth = 2;
        c.loss.backoff = 0.5;
        c.loss.min = 1;
        c.loss.max = 65536;
    }
    o.max_steps = 6;
    int rc = qc_train_run(&c, &o, &h, net, &err);
    cr_assert(rc == QC_OK || rc == QC_ECONFLICT, "%s: rc %d: %s", backend, rc, err.msg);
}

static const struct run_case runs[] = {
    {"lenet5", "cfg=5,a=e5m2,b=e5m2,acc=e6m5,chunk=8,acc_rounding=sr:8,seed=4", false},
    {"lenet5", "cfg=1,a=e4m3,b=e4m3,acc=q8.13,chunk=16", false},
    {"resnet", "cfg=5,a=e4m3,b=e4m3,acc=fp16,chunk=16", true},
};

/* The runs the GPU test compares are valid runs on the CPU (checked here,
 * where there may be no GPU): every one trains its six steps to a finite
 * loss, and the dynamic loss scale of the Adam run grows. */
Test(cuda, training_cases_train_on_the_cpu)
{
    for (size_t i = 0; i < sizeof runs / sizeof runs[0]; i++) {
        struct sink *sc = calloc(1, sizeof *sc);
        struct qc_net nc;
        train_on("cpu", &runs[i], sc, &nc);
        cr_assert(strstr(sc->text, "\"step\":6"), "%s: %s", runs[i].arch, sc->text);
        cr_assert(!strstr(sc->text, "\"train_loss\":null"), "%s: %s", runs[i].arch, sc->text);
        if (runs[i].adam)
            cr_assert(strstr(sc->text, "\"loss_scale\":8192"), "%s: %s", runs[i].arch, sc->text);
        qc_net_free(&nc);
        free(sc);
    }
}

Test(cuda, training_steps_end_with_the_same_weights)
{
    struct qc_backend *probe = gpu_or_skip();
    qc_backend_destroy(probe);

    for (size_t i = 0; i < sizeof runs / sizeof runs[0]; i++) {
        struct sink *sg = calloc(1, sizeof *sg), *sc = calloc(1, sizeof *sc);
        struct qc_net ng, nc;
        train_on("cuda", &runs[i], sg, &ng);
        train_on("cpu", &runs[i], sc, &nc);
        cr_assert_str_eq(sg->text, sc->text, "%s %s", runs[i].arch, runs[i].mac);
        cr_assert_eq(ng.nparams, nc.nparams);
        cr_assert_eq(ng.nstate, nc.nstate);
        /* The net's tensors are in the GPU's managed memory, which the host
         * reads as it reads its own. */
        for (int64_t p = 0; p < nc.nparams; p++)
            cr_assert(th_same_f(ng.params[p], nc.params[p]), "%s: weight %lld: %a vs %a",
                      runs[i].mac, (long long)p, (double)ng.params[p], (double)nc.params[p]);
        for (int64_t p = 0; p < nc.nstate; p++)
            cr_assert(th_same_f(ng.state[p], nc.state[p]), "%s: running statistic %lld: %a vs %a",
                      runs[i].mac, (long long)p, (double)ng.state[p], (double)nc.state[p]);
        qc_net_free(&ng);
        qc_net_free(&nc);
        free(sg);
        free(sc);
    }
}
