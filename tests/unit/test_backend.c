/* The backend registry and vtable: the CPU backend computes what the CPU
 * GEMM computes, kinds this build lacks are refused (never a quiet CPU
 * fallback), and conv2d equals its definition as per-output dot products. */
#include <criterion/criterion.h>
#include <stdlib.h>

#include "qcore/backend.h"
#include "qcore/conv.h"
#include "qcore/gemm_cpu.h"
#include "qcore/ref.h"
#include "test_helpers.h"

static struct qc_mac mac_of(const char *s)
{
    struct qc_mac m;
    struct qc_err err;
    cr_assert_eq(qc_mac_parse(&m, s, &err), QC_OK, "%s: %s", s, err.msg);
    return m;
}

Test(backend, cpu_backend_gemm_matches_qc_gemm_cpu)
{
    struct qc_backend *be = NULL;
    struct qc_backend_opts opts = {.threads = 2};
    struct qc_err err;
    struct qc_mac m = mac_of("cfg=5,a=e5m2,b=e5m2,acc=e6m5,chunk=8");
    struct qc_gemm_desc d;
    float a[6 * 20], b[20 * 7], c1[6 * 7], c2[6 * 7];
    uint64_t s = 5;

    for (int i = 0; i < 6 * 20; i++)
        a[i] = (float)th_spread(&s, -4, 4);
    for (int i = 0; i < 20 * 7; i++)
        b[i] = (float)th_spread(&s, -4, 4);
    cr_assert_eq(qc_backend_create(&be, "cpu", &opts, &err), QC_OK, "%s", err.msg);
    cr_assert_str_eq(be->vt->kind, "cpu");
    cr_assert_eq(be->threads, 2);
    qc_gemm_desc_init(&d, 6, 7, 20);
    struct qc_round_stats s1 = {0}, s2 = {0};
    cr_assert_eq(qc_backend_gemm(be, c1, a, b, &d, &m, &s1, &err), QC_OK, "%s", err.msg);
    cr_assert_eq(qc_gemm_cpu(c2, a, b, &d, &m, 1, &s2, &err), QC_OK, "%s", err.msg);
    for (int i = 0; i < 6 * 7; i++)
        cr_assert(th_same_f(c1[i], c2[i]), "element %d", i);
    cr_assert(th_same_stats(&s1, &s2));
    qc_backend_destroy(be);
    qc_backend_destroy(NULL); /* a no-op */
}

Test(backend, missing_kinds_are_refused_not_replaced)
{
    struct qc_backend *be = (struct qc_backend *)&be;
    struct qc_err err;

    /* cuda: refused where there is no device (test_cuda.c checks both cases);
     * fpga exists, but only on a named board (test_fpga.c). */
    cr_assert_eq(qc_backend_create(&be, "fpga", NULL, &err), QC_EINVAL);
    cr_assert_null(be);
    cr_assert(strstr(err.msg, "board"), "%s", err.msg);
    cr_assert_eq(qc_backend_create(&be, "tpu", NULL, &err), QC_EINVAL);
    cr_assert(strstr(err.msg, "tpu"), "%s", err.msg);
}

/* The definition: output (img, o, y, x) is the MAC dot product over
 * (c, ki, kj) in that order, computed here as a 1x1xK reference GEMM. */
static float conv_at(const float *x, const float *w, const struct qc_conv2d_desc *d, int64_t img,
                     int64_t o, int64_t y, int64_t xx, const struct qc_mac *m)
{
    const int64_t k = d->c * d->kh * d->kw;
    float *col = calloc((size_t)k, sizeof(float)), out;
    struct qc_gemm_desc g;
    struct qc_err err;

    for (int64_t c = 0; c < d->c; c++)
        for (int64_t ki = 0; ki < d->kh; ki++)
            for (int64_t kj = 0; kj < d->kw; kj++) {
                int64_t iy = y * d->stride - d->pad + ki, ix = xx * d->stride - d->pad + kj;
                if (iy >= 0 && iy < d->h && ix >= 0 && ix < d->w)
                    col[(c * d->kh + ki) * d->kw + kj] =
                        x[((img * d->c + c) * d->h + iy) * d->w + ix];
            }
    qc_gemm_desc_init(&g, 1, 1, k);
    cr_assert_eq(qc_gemm_ref(&out, w + o * k, col, &g, m, NULL, &err), QC_OK, "%s", err.msg);
    free(col);
    return out;
}

Test(backend, conv2d_equals_its_definition)
{
    struct qc_conv2d_desc d = {
        .n = 2, .c = 3, .h = 9, .w = 8, .oc = 4, .kh = 3, .kw = 2, .stride = 2, .pad = 1};
    struct qc_mac m = mac_of("cfg=5,a=e5m2,b=e5m2,acc=e6m5,chunk=4");
    struct qc_backend *be;
    struct qc_err err;
    int64_t oh, ow;
    uint64_t s = 9;

    cr_assert_eq(qc_conv2d_out_shape(&d, &oh, &ow, &err), QC_OK);
    cr_assert_eq(oh, 5);
    cr_assert_eq(ow, 5);
    const int64_t nx = d.n * d.c * d.h * d.w, nw = d.oc * d.c * d.kh * d.kw;
    float *x = malloc((size_t)nx * sizeof(float)), *w = malloc((size_t)nw * sizeof(float));
    float *y = malloc((size_t)(d.n * d.oc * oh * ow) * sizeof(float));
    for (int64_t i = 0; i < nx; i++)
        x[i] = (float)th_spread(&s, -3, 3);
    for (int64_t i = 0; i < nw; i++)
        w[i] = (float)th_spread(&s, -3, 3);
    cr_assert_eq(qc_backend_create(&be, "cpu", NULL, &err), QC_OK);
    cr_assert_eq(qc_conv2d_forward(be, y, x, w, &d, &m, NULL, &err), QC_OK, "%s", err.msg);
    for (int64_t img = 0; img < d.n; img++)
        for (int64_t o = 0; o < d.oc; o++)
            for (int64_t yy = 0; yy < oh; yy++)
                for (int64_t xx = 0; xx < ow; xx++) {
                    float want = conv_at(x, w, &d, img, o, yy, xx, &m);
                    float got = y[((img * d.oc + o) * oh + yy) * ow + xx];
                    cr_assert(th_same_f(got, want), "(%lld,%lld,%lld,%lld): %a vs %a",
                              (long long)img, (long long)o, (long long)yy, (long long)xx,
                              (double)got, (double)want);
                }
    qc_backend_destroy(be);
    free(x);
    free(w);
    free(y);
}

Test(backend, conv2d_rejects_impossible_shapes)
{
    struct qc_conv2d_desc d = {
        .n = 1, .c = 1, .h = 2, .w = 2, .oc = 1, .kh = 5, .kw = 5, .stride = 1, .pad = 0};
    struct qc_err err;
    int64_t oh, ow;

    cr_assert_eq(qc_conv2d_out_shape(&d, &oh, &ow, &err), QC_EINVAL);
    cr_assert(strstr(err.msg, "larger than the padded input"), "%s", err.msg);
    d.kh = d.kw = 1;
    d.stride = 0;
    cr_assert_eq(qc_conv2d_out_shape(&d, &oh, &ow, &err), QC_EINVAL);
}
