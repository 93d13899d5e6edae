/* The GEMM B views of qcore/gemm.h (im2col, its transpose, the dilated
 * view of a transposed convolution) as QC_HD code: element (p, j) of B
 * read from the activation tensor. The CPU's qc_gemm_b_value and
 * qc_gemm_b_rows and the CUDA backend's gather all read a view through
 * these two functions, so the CPU's view tests cover the GPU's reads. */
#ifndef QCORE_GEMM_VIEW_HD_H
#define QCORE_GEMM_VIEW_HD_H

#include "base/hd.h"
#include "qcore/gemm.h"

/* Tap (ki, kj) of output position (y, x) in one h x w plane: im2col reads
 * the input under the kernel; the dilated view reads the error at (y + pad
 * - ki, x + pad - kj) / stride where that is a whole grid point. 0
 * outside. */
static inline QC_HD float qc__view_tap(const struct qc_gemm_conv *v, bool dilated,
                                       const float *plane, int64_t y, int64_t x, int64_t ki,
                                       int64_t kj)
{
    if (!dilated) {
        const int64_t iy = y * v->stride - v->pad + ki, ix = x * v->stride - v->pad + kj;
        return iy < 0 || iy >= v->h || ix < 0 || ix >= v->w ? 0.0f : plane[iy * v->w + ix];
    }
    const int64_t ty = y + v->pad - ki, tx = x + v->pad - kj;
    if (ty < 0 || tx < 0 || ty % v->stride || tx % v->stride || ty / v->stride >= v->h ||
        tx / v->stride >= v->w)
        return 0.0f;
    return plane[ty / v->stride * v->w + tx / v->stride];
}

/* B(p, j) of a view (not QC_GEMM_B_ARRAY) over tensor b (c x nb x h x w).
 * im2col and the dilated view run K over taps (c, ki, kj) and N over
 * output positions (bi, y, x); the transpose swaps the two. */
static inline QC_HD float qc__view_value(const struct qc_gemm_conv *v, enum qc_gemm_b_view view,
                                         const float *b, int64_t p, int64_t j)
{
    if (view == QC_GEMM_B_IM2COL_T) {
        const int64_t t = p;
        p = j;
        j = t;
    }
    const int64_t c = p / (v->k * v->k), ki = p / v->k % v->k, kj = p % v->k;
    const int64_t bi = j / (v->gh * v->gw), y = j / v->gw % v->gh, x = j % v->gw;
    return qc__view_tap(v, view == QC_GEMM_B_DILATED, b + (c * v->nb + bi) * v->h * v->w, y, x, ki,
                        kj);
}

#endif
