/* The GEMM description (qcore/gemm.h) and its validation, shared by every
 * backend and by the reference twin so that all of them accept exactly the
 * same shapes. */
#include "qcore/gemm.h"

#include <string.h>

#include "gemm_view_hd.h"

/* Limits that keep every index product far from int64 overflow. */
#define DIM_MAX   (INT64_C(1) << 31)
#define ELEMS_MAX (INT64_C(1) << 36)

void qc_gemm_desc_init(struct qc_gemm_desc *d, int64_t m, int64_t n, int64_t k)
{
    memset(d, 0, sizeof *d);
    d->m = m;
    d->n = n;
    d->k = k;
}

float qc_gemm_b_value(const struct qc_gemm_desc *d, const float *b, int64_t p, int64_t j)
{
    if (d->b_view != QC_GEMM_B_ARRAY)
        return qc__view_value(d->b_conv, d->b_view, b, p, j);
    const int64_t ldb = qc_gemm_ldb(d);
    return d->trans_b ? b[j * ldb + p] : b[p * ldb + j];
}

void qc_gemm_b_dense(float *out, const float *b, const struct qc_gemm_desc *d)
{
    for (int64_t p = 0; p < d->k; p++)
        for (int64_t j = 0; j < d->n; j++)
            out[p * d->n + j] = qc_gemm_b_value(d, b, p, j);
}

void qc_gemm_b_rows(float *out, const float *b, const struct qc_gemm_desc *d, int64_t j0,
                    int64_t j1)
{
    const struct qc_gemm_conv *v = d->b_conv;
    const int64_t k = d->k;

    for (int64_t j = j0; j < j1; j++) {
        float *row = out + (j - j0) * k;
        switch (d->b_view) {
        case QC_GEMM_B_ARRAY: {
            const int64_t ldb = qc_gemm_ldb(d);
            if (d->trans_b)
                memcpy(row, b + j * ldb, (size_t)k * sizeof(float));
            else
                for (int64_t p = 0; p < k; p++)
                    row[p] = b[p * ldb + j];
            break;
        }
        case QC_GEMM_B_IM2COL:
        case QC_GEMM_B_DILATED: {
            /* row j = output position (bi, y, x); K runs over (c, ki, kj) */
            const int64_t bi = j / (v->gh * v->gw), y = j / v->gw % v->gh, x = j % v->gw;
            const bool dilated = d->b_view == QC_GEMM_B_DILATED;
            for (int64_t c = 0; c < v->c; c++) {
                const float *plane = b + (c * v->nb + bi) * v->h * v->w;
                for (int64_t ki = 0; ki < v->k; ki++)
                    for (int64_t kj = 0; kj < v->k; kj++)
                        *row++ = qc__view_tap(v, dilated, plane, y, x, ki, kj);
            }
            break;
        }
        case QC_GEMM_B_IM2COL_T: {
            /* row j = tap (c, ki, kj); K runs over output positions (bi, y, x) */
            const int64_t c = j / (v->k * v->k), ki = j / v->k % v->k, kj = j % v->k;
            for (int64_t bi = 0; bi < v->nb; bi++) {
                const float *plane = b + (c * v->nb + bi) * v->h * v->w;
                for (int64_t y = 0; y < v->gh; y++)
                    for (int64_t x = 0; x < v->gw; x++)
                        *row++ = qc__view_tap(v, false, plane, y, x, ki, kj);
            }
            break;
        }
        }
    }
}

/* A view's geometry must describe exactly a k x n B. */
static int check_view(const struct qc_gemm_desc *d, struct qc_err *err)
{
    const struct qc_gemm_conv *v = d->b_conv;

    if (d->b_view == QC_GEMM_B_ARRAY)
        return QC_OK;
    if ((unsigned)d->b_view > QC_GEMM_B_DILATED || !v)
        return qc_err_set(err, QC_EINVAL, "b_view", "GEMM B view %d without its geometry",
                          (int)d->b_view);
    if (d->trans_b || d->ldb)
        return qc_err_set(err, QC_EINVAL, "b_view", "a B view takes no transpose or stride");
    if (v->c < 1 || v->nb < 1 || v->h < 1 || v->w < 1 || v->k < 1 || v->stride < 1 || v->pad < 0 ||
        v->gh < 1 || v->gw < 1 || v->c > DIM_MAX || v->nb > DIM_MAX || v->h > DIM_MAX ||
        v->w > DIM_MAX || v->k > 64 || v->stride > DIM_MAX || v->pad > DIM_MAX || v->gh > DIM_MAX ||
        v->gw > DIM_MAX)
        return qc_err_set(err, QC_EINVAL, "b_view", "bad convolution geometry in a GEMM B view");
    if ((double)v->c * (double)v->nb * (double)v->h * (double)v->w > (double)ELEMS_MAX ||
        (double)v->nb * (double)v->gh * (double)v->gw > (double)ELEMS_MAX)
        return qc_err_set(err, QC_EINVAL, "b_view", "GEMM B view above 2^36 elements");
    const int64_t kk = v->c * v->k * v->k, cols = v->nb * v->gh * v->gw;
    const bool t = d->b_view == QC_GEMM_B_IM2COL_T;
    if ((t ? cols : kk) != d->k || (t ? kk : cols) != d->n)
        return qc_err_set(err, QC_EINVAL, "b_view",
                          "GEMM B view is %lld x %lld, the description says %lld x %lld",
                          (long long)(t ? cols : kk), (long long)(t ? kk : cols), (long long)d->k,
                          (long long)d->n);
    return QC_OK;
}

int qc_gemm_check(const struct qc_gemm_desc *d, const struct qc_mac *mac, struct qc_err *err)
{
    int rc;

    if (d->m < 0 || d->n < 0 || d->k < 0 || d->m > DIM_MAX || d->n > DIM_MAX || d->k > DIM_MAX)
        return qc_err_set(err, QC_EINVAL, "shape", "GEMM shape %lld x %lld x %lld is out of range",
                          (long long)d->m, (long long)d->n, (long long)d->k);
    if (d->m * d->k > ELEMS_MAX || d->k * d->n > ELEMS_MAX || d->m * d->n > ELEMS_MAX)
        return qc_err_set(err, QC_EINVAL, "shape", "GEMM operands above 2^36 elements");
    if (qc_gemm_lda(d) < (d->trans_a ? d->m : d->k) ||
        qc_gemm_ldb(d) < (d->trans_b ? d->k : d->n) || qc_gemm_ldc(d) < d->n)
        return qc_err_set(err, QC_EINVAL, "stride", "GEMM row stride smaller than the row");
    if ((rc = check_view(d, err)))
        return rc;
    if (mac->cfg < 1 || mac->cfg > 6 || (!mac->native && !qc_format_is_scalar(&mac->acc)))
        return qc_err_set(err, QC_EINVAL, "mac", "MAC configuration not resolved");
    return QC_OK;
}
