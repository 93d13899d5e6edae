/* The GEMM description (qcore/gemm.h) and its validation, shared by every
 * backend and by the reference twin so that all of them accept exactly the
 * same shapes. */
#include "qcore/gemm.h"

#include <string.h>

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

int qc_gemm_check(const struct qc_gemm_desc *d, const struct qc_mac *mac, struct qc_err *err)
{
    if (d->m < 0 || d->n < 0 || d->k < 0 || d->m > DIM_MAX || d->n > DIM_MAX || d->k > DIM_MAX)
        return qc_err_set(err, QC_EINVAL, "shape", "GEMM shape %lld x %lld x %lld is out of range",
                          (long long)d->m, (long long)d->n, (long long)d->k);
    if (d->m * d->k > ELEMS_MAX || d->k * d->n > ELEMS_MAX || d->m * d->n > ELEMS_MAX)
        return qc_err_set(err, QC_EINVAL, "shape", "GEMM operands above 2^36 elements");
    if (qc_gemm_lda(d) < (d->trans_a ? d->m : d->k) ||
        qc_gemm_ldb(d) < (d->trans_b ? d->k : d->n) || qc_gemm_ldc(d) < d->n)
        return qc_err_set(err, QC_EINVAL, "stride", "GEMM row stride smaller than the row");
    if (mac->cfg < 1 || mac->cfg > 6 || (!mac->native && !qc_format_is_scalar(&mac->acc)))
        return qc_err_set(err, QC_EINVAL, "mac", "MAC configuration not resolved");
    return QC_OK;
}
