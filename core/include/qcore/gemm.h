/* Emulated GEMM: C = A x B where every product and every addition follows a
 * struct qc_mac exactly (see mac.h). Conv2d reuses it through im2col.
 *
 * Inputs are fp32 arrays; they are first rounded (rne) to the multiplier's
 * reading of the input formats (mac->a_read, mac->b_read), unless the
 * description marks them already rounded; block formats take their blocks
 * along K. C receives each output's final accumulator value
 * (exact when the accumulator's values fit fp32; a wider accumulator's
 * result is rounded rne to fp32 on the way out).
 *
 * Results do not depend on the thread count, the ISA chosen at run time or
 * the backend: every output element is computed in one fixed order. */
#ifndef QCORE_GEMM_H
#define QCORE_GEMM_H

#include <stdbool.h>
#include <stdint.h>

#include "qcore/mac.h"

/* How B is given. The views read a convolution's B straight from its
 * activation tensor (CNHW: channel, batch, row, column), so that the
 * unfolded matrix need never exist in memory; element (p, j) of B is then
 * defined by qc_gemm_b_value. */
enum qc_gemm_b_view {
    QC_GEMM_B_ARRAY = 0, /* an array, per trans_b and ldb */
    /* im2col: K = (c, ki, kj), N = (b, y, x) over the output grid gh x gw:
     * T[c][b][y*stride - pad + ki][x*stride - pad + kj], 0 outside. */
    QC_GEMM_B_IM2COL,
    QC_GEMM_B_IM2COL_T, /* its transpose: K = (b, y, x), N = (c, ki, kj) */
    /* the errors of a convolution, zero-dilated and padded (its
     * grad-input as a transposed convolution): K = (c, ki, kj), N = (b, y, x)
     * over the convolution's input grid gh x gw:
     * T[c][b][(y + pad - ki) / stride][(x + pad - kj) / stride] where both
     * divide exactly and land inside T, else 0. */
    QC_GEMM_B_DILATED,
};

/* The tensor and geometry behind a view. */
struct qc_gemm_conv {
    int64_t c, nb, h, w;    /* the tensor b points to: c x nb x h x w */
    int64_t k, stride, pad; /* square k x k kernel */
    int64_t gh, gw;         /* the column grid (see qc_gemm_b_view) */
};

struct qc_gemm_desc {
    int64_t m, n, k;
    bool trans_a;          /* A stored as k x m (element (i,p) at a[p*lda + i]) */
    bool trans_b;          /* B stored as n x k (element (p,j) at b[j*ldb + p]) */
    int64_t lda, ldb, ldc; /* row strides in elements; 0 = dense */
    uint64_t sr_stream;    /* stochastic accumulator rounding: stream id */
    /* The operand already holds values of the multiplier's reading
     * (mac->a_read / b_read; block formats with their block scales applied)
     * and is read as is, never rounded again. A caller that chose the
     * scales itself (scale.h) needs this: rounding a block-format value a
     * second time picks the scale from the rounded block and can change
     * it. Values outside the reading are the caller's error; the result is
     * then whatever exact MAC arithmetic gives on them. */
    bool a_rounded, b_rounded;
    /* B as a view (trans_b false, ldb 0); `b_conv` borrowed for the call. */
    enum qc_gemm_b_view b_view;
    const struct qc_gemm_conv *b_conv;
};

/* Row strides in elements, with the dense defaults filled in. */
static inline int64_t qc_gemm_lda(const struct qc_gemm_desc *d)
{
    return d->lda ? d->lda : (d->trans_a ? d->m : d->k);
}

static inline int64_t qc_gemm_ldb(const struct qc_gemm_desc *d)
{
    return d->ldb ? d->ldb : (d->trans_b ? d->k : d->n);
}

static inline int64_t qc_gemm_ldc(const struct qc_gemm_desc *d)
{
    return d->ldc ? d->ldc : d->n;
}

/* Fills a dense, non-transposed description. */
void qc_gemm_desc_init(struct qc_gemm_desc *d, int64_t m, int64_t n, int64_t k);

/* Element (p, j) of B, whatever its view. */
float qc_gemm_b_value(const struct qc_gemm_desc *d, const float *b, int64_t p, int64_t j);

/* B as a dense k x n row-major array (out: k*n floats): how a backend
 * without fused views, and the reference, read a view. */
void qc_gemm_b_dense(float *out, const float *b, const struct qc_gemm_desc *d);

/* Columns [j0, j1) of B as rows of `out` ((j1 - j0) x k floats; out[(j -
 * j0) * k + p] = B(p, j)): B^T's rows, in which blocks along K are
 * contiguous. Rows are independent, so callers may split the range. */
void qc_gemm_b_rows(float *out, const float *b, const struct qc_gemm_desc *d, int64_t j0,
                    int64_t j1);

/* Validates shapes and strides against the description (a view's geometry
 * must give exactly k x n), and that `mac` is resolved (qc_mac_resolve).
 * Every backend calls it first. */
int qc_gemm_check(const struct qc_gemm_desc *d, const struct qc_mac *mac, struct qc_err *err);

#endif
