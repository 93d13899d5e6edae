/* The CPU GEMM: rounds the inputs to the multiplier's reading, then runs the
 * SIMD fp32-lane kernel when the configuration allows it (docs/mac.md lists
 * when), else the exact scalar engine, threaded over rows of C with OpenMP.
 * Each output element is computed by one thread in one fixed order, so the
 * bits never depend on the thread count or the kernel. */
#include "qcore/gemm_cpu.h"

#include <cblas.h>
#include <float.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "qcore/cpu.h"
#include "num/mac_impl.h"
#include "num/quantize_impl.h"
#include "simd/kern_impl.h"

static float a_at(const float *a, const struct qc_gemm_desc *d, int64_t i, int64_t p)
{
    return d->trans_a ? a[p * qc_gemm_lda(d) + i] : a[i * qc_gemm_lda(d) + p];
}

static float b_at(const float *b, const struct qc_gemm_desc *d, int64_t p, int64_t j)
{
    return d->trans_b ? b[j * qc_gemm_ldb(d) + p] : b[p * qc_gemm_ldb(d) + j];
}

/* A as m x k and B as n x k (each row one reduction vector), dense, in
 * double, rounded to the multiplier's reading: block formats get their
 * blocks along K this way. */
static int round_inputs(double **aq, double **bq, const float *a, const float *b,
                        const struct qc_gemm_desc *d, const struct qc_mac *mac, struct qc_err *err)
{
    struct qc_round rne;
    int rc;

    qc_round_init(&rne, QC_ROUND_RNE);
    *aq = malloc((size_t)(d->m * d->k + 1) * sizeof(double));
    *bq = malloc((size_t)(d->n * d->k + 1) * sizeof(double));
    if (!*aq || !*bq)
        return qc_err_set(err, QC_ENOMEM, "", "out of memory for GEMM operands");
    for (int64_t i = 0; i < d->m; i++)
        for (int64_t p = 0; p < d->k; p++)
            (*aq)[i * d->k + p] = a_at(a, d, i, p);
    for (int64_t j = 0; j < d->n; j++)
        for (int64_t p = 0; p < d->k; p++)
            (*bq)[j * d->k + p] = b_at(b, d, p, j);
    if ((!d->a_rounded && (rc = qc_quantize_f64(*aq, *aq, d->m, d->k, &mac->a_read, &rne,
                                                mac->scale_rule, 0, NULL, err))) ||
        (!d->b_rounded && (rc = qc_quantize_f64(*bq, *bq, d->n, d->k, &mac->b_read, &rne,
                                                mac->scale_rule, 0, NULL, err))))
        return rc;
    return QC_OK;
}

static int threads_of(int threads)
{
    return threads > 0 ? threads : qc_cpu_count();
}

/* The exact scalar engine over all of C. */
static void gemm_scalar(float *c, const double *aq, const double *bq, const struct qc_gemm_desc *d,
                        const struct qc_mac *mac_in, int threads, struct qc_round_stats *st)
{
    struct qc_mac m = *mac_in;
    const struct qc_mac *mac = &m;

    m.acc_round.stream = d->sr_stream; /* each GEMM call draws its own bits */
    const int64_t chunk = mac->chunk > 0 && mac->chunk < d->k ? mac->chunk : d->k;
    const int64_t nchunks = chunk > 0 ? (d->k + chunk - 1) / chunk : 0;
    const int64_t ldc = qc_gemm_ldc(d);
    struct qc_round_stats sum = {0};

#pragma omp parallel num_threads(threads)
    {
        struct qc_round_stats mine = {0};
#pragma omp for schedule(static)
        for (int64_t i = 0; i < d->m; i++) {
            for (int64_t j = 0; j < d->n; j++) {
                uint64_t base = (uint64_t)(i * d->n + j) * (uint64_t)(d->k + nchunks);
                double v = qc__mac_dot(mac, aq + i * d->k, 1, bq + j * d->k, 1, d->k, base, &mine);
                c[i * ldc + j] = (float)v;
            }
        }
#pragma omp critical
        qc_round_stats_add(&sum, &mine);
    }
    if (st) {
        sum.ops = (uint64_t)d->m * (uint64_t)d->n * (uint64_t)d->k;
        qc_round_stats_add(st, &sum);
    }
}

/* True when the fp32-lane kernel computes exactly this configuration: float
 * inputs whose products are exact fp32 values, a product step and an
 * accumulator the bit-pattern rounding supports, and sums that cannot leave
 * the fp32 range. */
/* The fp32-lane kernels' inputs and product step: float readings whose
 * products are exact fp32 values (significands within 24 bits, never below
 * 2^-149, never near the top); returns the largest product magnitude. */
static bool lanes_inputs(struct qc__gemm_f32_job *J, const struct qc_mac *mac,
                         const struct qc_gemm_desc *d, double *pmax)
{
    const struct qc_format *fa = &mac->a_read, *fb = &mac->b_read;
    struct qc_round rne;

    qc_round_init(&rne, QC_ROUND_RNE);
    if (fa->kind != QC_FMT_FLOAT || fb->kind != QC_FMT_FLOAT || !qc_format_fits_f32(fa) ||
        !qc_format_fits_f32(fb) || d->k >= (INT64_C(1) << 26))
        return false;
    const int lsb_a = ((fa->flags & QC_FMTF_SAN) ? fa->emin - 1 : fa->emin) - fa->mbits;
    const int lsb_b = ((fb->flags & QC_FMTF_SAN) ? fb->emin - 1 : fb->emin) - fb->mbits;
    *pmax = fa->max_finite * fb->max_finite;
    if (fa->mbits + fb->mbits + 2 > 24 || lsb_a + lsb_b < -149 || *pmax >= 0x1p127)
        return false;
    J->prod_step = 0;
    J->flush = 0.0f;
    if (!mac->fused && !mac->prod_exact) {
        if (!qc__f32_plan_init(&J->prod, &mac->prod_round, &rne))
            return false;
        J->prod_step = 1;
        *pmax = mac->prod_round.max_finite;
    } else if (!mac->fused && mac->prod_flush > 0.0) {
        J->prod_step = 2;
        J->flush = mac->prod_flush >= 0x1p-149 ? (float)mac->prod_flush : 0.0f;
    }
    return true;
}

/* True when the fp32-lane kernel computes exactly this configuration: exact
 * fp32 products, an accumulator the bit-pattern rounding supports, and sums
 * that cannot leave the fp32 range. */
static bool fast_plan(struct qc__gemm_f32_job *J, const struct qc_mac *mac,
                      const struct qc_gemm_desc *d)
{
    double pmax;

    if (mac->acc.kind != QC_FMT_FLOAT || !lanes_inputs(J, mac, d, &pmax) ||
        !qc__f32_plan_init(&J->acc, &mac->acc, &mac->acc_round))
        return false;
    if (!J->acc.plain_fp32 && mac->acc.mbits > 21)
        return false; /* round-to-odd needs two spare bits in fp32 */
    if (!J->acc.plain_fp32 && mac->acc.max_finite + pmax >= (double)FLT_MAX)
        return false;
    return true;
}

/* The fixed-point kernel's plan: exact fp32 products, a saturating fixed or
 * int accumulator of at most 22 bits, rne or rtz. */
static bool fixed_plan(struct qc__gemm_f32_job *J, const struct qc_mac *mac,
                       const struct qc_gemm_desc *d)
{
    const struct qc_format *f = &mac->acc;
    const enum qc_round_mode mode = mac->acc_round.mode;
    double pmax;

    if ((f->kind != QC_FMT_FIXED && f->kind != QC_FMT_INT) || (f->flags & QC_FMTF_WRAP) ||
        (mode != QC_ROUND_RNE && mode != QC_ROUND_RTZ) || !lanes_inputs(J, mac, d, &pmax))
        return false;
    const int bits = f->kind == QC_FMT_FIXED ? f->ibits + f->fbits : f->ibits;
    if (bits > 22)
        return false;
    J->fx_rne = mode == QC_ROUND_RNE;
    J->fx_hi = (int32_t)((INT64_C(1) << (bits - 1)) - 1);
    J->fx_lo = f->kind == QC_FMT_FIXED ? -J->fx_hi - 1 : -J->fx_hi;
    J->fx_scale = ldexpf(1.0f, f->fbits);
    J->fx_inv = ldexpf(1.0f, -f->fbits);
    J->fx_clamp = 0x1p22f;
    return true;
}

/* The wide kernel's plan: an fp32 accumulator with rne (the only one it
 * does), any float readings that fit fp32 (their products are exact in
 * fp64), and a product step that is either none, a flush, or rounding to
 * fp32 (rne, with nosub for CFG-2). */
static bool wide_plan(struct qc__gemm_f32_job *J, const struct qc_mac *mac,
                      const struct qc_gemm_desc *d)
{
    const struct qc_format *pr = &mac->prod_round;

    /* Any reading whose values are fp32 values will do (block formats
     * included): products of two fp32 values are exact in fp64. */
    if (d->k >= (INT64_C(1) << 26) || !qc__f32_plan_init(&J->acc, &mac->acc, &mac->acc_round) ||
        !J->acc.plain_fp32)
        return false;
    J->prod_step = 0;
    J->wide_flush = 0.0;
    if (!mac->fused && !mac->prod_exact) {
        if (pr->ebits != 8 || pr->mbits != 23 || pr->bias != 127 ||
            (pr->flags & ~(QC_FMTF_NOSUB | QC_FMTF_BIAS)))
            return false;
        J->prod_step = 1;
        J->wide_flush = (pr->flags & QC_FMTF_NOSUB) ? pr->min_normal : 0.0;
    } else if (!mac->fused && mac->prod_flush > 0.0) {
        J->prod_step = 2;
        J->wide_flush = mac->prod_flush;
    }
    return true;
}

/* Rounds a dense rows x cols array from src into dst (in place when they
 * are equal), in parallel stripes of whole rows (rows are independent:
 * blocks never cross them). f NULL: the values are already rounded
 * (gemm.h, a_rounded) and are copied. */
static int round_rows_from(float *dst, const float *src, int64_t rows, int64_t cols,
                           const struct qc_format *f, enum qc_scale_rule rule,
                           const struct qc__kern *kern, int threads, struct qc_err *err)
{
    struct qc_round rne;
    int rc = QC_OK;

    if (!f) {
        if (dst != src) {
#pragma omp parallel for num_threads(threads) schedule(static)
            for (int64_t i = 0; i < rows; i++)
                memcpy(dst + i * cols, src + i * cols, (size_t)cols * sizeof(float));
        }
        return QC_OK;
    }
    qc_round_init(&rne, QC_ROUND_RNE);
#pragma omp parallel num_threads(threads)
    {
        const int64_t t = omp_get_thread_num(), nt = omp_get_num_threads();
        const int64_t r0 = rows * t / nt, r1 = rows * (t + 1) / nt;
        struct qc_err mine;
        int my = r1 > r0 ? qc__quantize_f32_kern(dst + r0 * cols, src + r0 * cols, r1 - r0, cols, f,
                                                 &rne, rule, 0, NULL, kern, &mine)
                         : QC_OK;
#pragma omp critical
        if (my && !rc) {
            rc = my;
            if (err)
                *err = mine;
        }
    }
    return rc;
}

static int round_rows(float *x, int64_t rows, int64_t cols, const struct qc_format *f,
                      enum qc_scale_rule rule, const struct qc__kern *kern, int threads,
                      struct qc_err *err)
{
    return round_rows_from(x, x, rows, cols, f, rule, kern, threads, err);
}

/* A as m x k and B as k x n_pad (zero-padded columns), fp32, rounded to the
 * multiplier's reading: the kernel's panels. Only for readings whose values
 * are fp32 values. */
static int round_panels(float **a32, float **b32, int64_t n_pad, const float *a, const float *b,
                        const struct qc_gemm_desc *d, const struct qc_mac *mac,
                        const struct qc__kern *kern, int threads, struct qc_err *err)
{
    const struct qc_format *fa = d->a_rounded ? NULL : &mac->a_read;
    const struct qc_format *fb = d->b_rounded ? NULL : &mac->b_read;
    const bool b_rows = !fb || qc_format_is_scalar(fb); /* no blocks down B's columns */
    int rc;

    *a32 = malloc((size_t)(d->m * d->k + 1) * sizeof(float));
    *b32 = calloc((size_t)(d->k * n_pad + 1), sizeof(float));
    if (!*a32 || !*b32)
        return qc_err_set(err, QC_ENOMEM, "", "out of memory for GEMM panels");
    /* A dense operand is rounded straight into its panel: one pass. */
    if (!d->trans_a && qc_gemm_lda(d) == d->k) {
        if ((rc = round_rows_from(*a32, a, d->m, d->k, fa, mac->scale_rule, kern, threads, err)))
            return rc;
    } else {
#pragma omp parallel for num_threads(threads) schedule(static)
        for (int64_t i = 0; i < d->m; i++)
            for (int64_t p = 0; p < d->k; p++)
                (*a32)[i * d->k + p] = a_at(a, d, i, p);
        if ((rc = round_rows(*a32, d->m, d->k, fa, mac->scale_rule, kern, threads, err)))
            return rc;
    }
    if (b_rows && !d->trans_b && qc_gemm_ldb(d) == d->n && n_pad == d->n)
        return round_rows_from(*b32, b, d->k, d->n, fb, mac->scale_rule, kern, threads, err);
    if (b_rows) {
#pragma omp parallel for num_threads(threads) schedule(static)
        for (int64_t p = 0; p < d->k; p++)
            for (int64_t j = 0; j < d->n; j++)
                (*b32)[p * n_pad + j] = b_at(b, d, p, j);
        /* Zero padding rounds to zero in every format. */
        return round_rows(*b32, d->k, n_pad, fb, mac->scale_rule, kern, threads, err);
    }
    /* B's blocks run along K, down its columns: round B^T's rows. */
    float *bt = malloc((size_t)(d->n * d->k + 1) * sizeof(float));
    if (!bt)
        return qc_err_set(err, QC_ENOMEM, "", "out of memory for GEMM panels");
    for (int64_t j = 0; j < d->n; j++)
        for (int64_t p = 0; p < d->k; p++)
            bt[j * d->k + p] = b_at(b, d, p, j);
    rc = round_rows(bt, d->n, d->k, fb, mac->scale_rule, kern, threads, err);
    for (int64_t j = 0; !rc && j < d->n; j++)
        for (int64_t p = 0; p < d->k; p++)
            (*b32)[p * n_pad + j] = bt[j * d->k + p];
    free(bt);
    return rc;
}

/* Splits C into tiles of 4 rows (the kernel's row block) by `nb` columns
 * and hands contiguous runs of tiles to the threads: every element is still
 * computed by exactly one thread, and narrow GEMMs (few output channels,
 * many positions) keep every thread busy. */
static void run_fast(const struct qc_gemm_desc *d, const struct qc__gemm_f32_job *J,
                     void (*kernel)(const struct qc__gemm_f32_job *, int64_t, int64_t, int64_t,
                                    int64_t, struct qc_round_stats *),
                     int64_t nb, int threads, struct qc_round_stats *st)
{
    struct qc_round_stats sum = {0};
    const int64_t rblocks = (d->m + 3) / 4, cblocks = (d->n + nb - 1) / nb;
    const int64_t tiles = rblocks * cblocks;

#pragma omp parallel num_threads(threads)
    {
        struct qc_round_stats mine = {0};
        struct qc_round_stats *want = st ? &mine : NULL; /* no counters: faster kernel */
        const int64_t t = omp_get_thread_num(), nt = omp_get_num_threads();
        const int64_t t0 = tiles * t / nt, t1 = tiles * (t + 1) / nt;
        /* Column-major tile order: a thread's run of tiles shares B panels. */
        for (int64_t tile = t0; tile < t1;) {
            const int64_t cb = tile / rblocks, rb0 = tile % rblocks;
            int64_t rb1 = rb0 + (t1 - tile);
            if (rb1 > rblocks)
                rb1 = rblocks;
            const int64_t i1 = rb1 * 4 < d->m ? rb1 * 4 : d->m;
            kernel(J, rb0 * 4, i1, cb * nb, (cb + 1) * nb, want);
            tile += rb1 - rb0;
        }
#pragma omp critical
        qc_round_stats_add(&sum, &mine);
    }
    if (st) {
        sum.ops = (uint64_t)d->m * (uint64_t)d->n * (uint64_t)d->k;
        qc_round_stats_add(st, &sum);
    }
}

/* acc=native: the rounded inputs through OpenBLAS sgemm (b32 is k x ldb). */
static void gemm_native(float *c, const float *a32, const float *b32, int64_t ldb,
                        const struct qc_gemm_desc *d, struct qc_round_stats *st)
{
    if (d->m > 0 && d->n > 0) {
        if (d->k == 0) {
            for (int64_t i = 0; i < d->m; i++)
                memset(c + i * qc_gemm_ldc(d), 0, (size_t)d->n * sizeof(float));
        } else {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)d->m, (int)d->n, (int)d->k,
                        1.0f, a32, (int)d->k, b32, (int)ldb, 0.0f, c, (int)qc_gemm_ldc(d));
        }
    }
    if (st)
        st->ops += (uint64_t)d->m * (uint64_t)d->n * (uint64_t)d->k;
}

/* The kernels read fp32 panels: every rounded input must be an fp32 value
 * (block formats' scaled values are). */
static bool panels_ok(const struct qc_mac *mac)
{
    return qc_format_fits_f32(&mac->a_read) && qc_format_fits_f32(&mac->b_read);
}

int qc_gemm_cpu_isa(float *c, const float *a, const float *b, const struct qc_gemm_desc *d,
                    const struct qc_mac *mac, int threads, const char *isa,
                    struct qc_round_stats *st, struct qc_err *err)
{
    const struct qc__kern *kern = NULL;
    double *aq = NULL, *bq = NULL;
    float *a32 = NULL, *b32 = NULL;
    struct qc__gemm_f32_job job;
    int rc;

    if ((rc = qc_gemm_check(d, mac, err)))
        return rc;
    if (!isa || strcmp(isa, "scalar") != 0) {
        kern = qc__kern_get(isa);
        if (!kern)
            return qc_err_set(err, QC_EUNSUPP, "isa", "instruction set '%s' is not available here",
                              isa);
    }
    threads = threads_of(threads);
    memset(&job, 0, sizeof job);
    bool wide = false, fixed = false;
    if (kern && panels_ok(mac) &&
        (mac->native || fast_plan(&job, mac, d) || (fixed = fixed_plan(&job, mac, d)) ||
         (wide = wide_plan(&job, mac, d)))) {
        const int64_t n_pad = (d->n + kern->nb - 1) / kern->nb * kern->nb;
        /* Next to OpenBLAS's own threads, an OpenMP region only spins against
         * them: the native path rounds its inputs on this thread. */
        if ((rc = round_panels(&a32, &b32, n_pad, a, b, d, mac, kern, mac->native ? 1 : threads,
                               err)))
            goto out;
        if (mac->native) {
            gemm_native(c, a32, b32, n_pad, d, st);
        } else {
            job.a = a32;
            job.b = b32;
            job.c = c;
            job.m = d->m;
            job.n = d->n;
            job.k = d->k;
            job.n_pad = n_pad;
            job.ldc = qc_gemm_ldc(d);
            job.chunk = mac->chunk > 0 && mac->chunk < d->k ? mac->chunk : (d->k ? d->k : 1);
            run_fast(d, &job,
                     wide    ? kern->gemm_wide
                     : fixed ? kern->gemm_fixed
                             : kern->gemm_f32,
                     kern->nb, threads, st);
        }
        goto out;
    }
    if ((rc = round_inputs(&aq, &bq, a, b, d, mac, err)))
        goto out;
    if (mac->native) {
        /* Readings beyond fp32 or in block formats: to fp32, then sgemm. */
        a32 = malloc((size_t)(d->m * d->k + 1) * sizeof(float));
        b32 = malloc((size_t)(d->k * d->n + 1) * sizeof(float));
        if (!a32 || !b32) {
            rc = qc_err_set(err, QC_ENOMEM, "", "out of memory for GEMM operands");
            goto out;
        }
        for (int64_t i = 0; i < d->m * d->k; i++)
            a32[i] = (float)aq[i];
        for (int64_t j = 0; j < d->n; j++)
            for (int64_t p = 0; p < d->k; p++)
                b32[p * d->n + j] = (float)bq[j * d->k + p];
        gemm_native(c, a32, b32, d->n, d, st);
    } else {
        gemm_scalar(c, aq, bq, d, mac, threads, st);
    }
out:
    free(aq);
    free(bq);
    free(a32);
    free(b32);
    return rc;
}

int qc_gemm_cpu(float *c, const float *a, const float *b, const struct qc_gemm_desc *d,
                const struct qc_mac *mac, int threads, struct qc_round_stats *st,
                struct qc_err *err)
{
    return qc_gemm_cpu_isa(c, a, b, d, mac, threads, NULL, st, err);
}
