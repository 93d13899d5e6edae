/* Convolution as im2col + the emulated GEMM: one image at a time, the
 * filters as A (oc x K) and the unfolded image as B (K x oh*ow), so the
 * output lands in NCHW order without a transpose. */
#include "qcore/conv.h"

#include <stdlib.h>
#include <string.h>

int qc_conv2d_out_shape(const struct qc_conv2d_desc *d, int64_t *oh, int64_t *ow,
                        struct qc_err *err)
{
    const int64_t lim = INT64_C(1) << 24;

    if (d->n < 0 || d->c < 1 || d->h < 1 || d->w < 1 || d->oc < 1 || d->kh < 1 || d->kw < 1 ||
        d->stride < 1 || d->pad < 0 || d->n > lim || d->c > lim || d->h > lim || d->w > lim ||
        d->oc > lim || d->kh > lim || d->kw > lim || d->pad > lim || d->stride > lim)
        return qc_err_set(err, QC_EINVAL, "shape", "bad convolution parameters");
    int64_t hh = d->h + 2 * d->pad - d->kh, ww = d->w + 2 * d->pad - d->kw;
    if (hh < 0 || ww < 0)
        return qc_err_set(err, QC_EINVAL, "shape",
                          "kernel %lldx%lld larger than the padded input %lldx%lld",
                          (long long)d->kh, (long long)d->kw, (long long)(d->h + 2 * d->pad),
                          (long long)(d->w + 2 * d->pad));
    *oh = hh / d->stride + 1;
    *ow = ww / d->stride + 1;
    return QC_OK;
}

void qc_im2col(float *cols, const float *x, const struct qc_conv2d_desc *d, int64_t img)
{
    const int64_t oh = (d->h + 2 * d->pad - d->kh) / d->stride + 1;
    const int64_t ow = (d->w + 2 * d->pad - d->kw) / d->stride + 1;
    const float *xi = x + img * d->c * d->h * d->w;

    for (int64_t c = 0; c < d->c; c++)
        for (int64_t ki = 0; ki < d->kh; ki++)
            for (int64_t kj = 0; kj < d->kw; kj++) {
                float *row = cols + ((c * d->kh + ki) * d->kw + kj) * oh * ow;
                for (int64_t y = 0; y < oh; y++) {
                    const int64_t iy = y * d->stride - d->pad + ki;
                    for (int64_t xx = 0; xx < ow; xx++) {
                        const int64_t ix = xx * d->stride - d->pad + kj;
                        row[y * ow + xx] = (iy >= 0 && iy < d->h && ix >= 0 && ix < d->w)
                                               ? xi[(c * d->h + iy) * d->w + ix]
                                               : 0.0f;
                    }
                }
            }
}

int qc_conv2d_forward(struct qc_backend *be, float *y, const float *x, const float *w,
                      const struct qc_conv2d_desc *d, const struct qc_mac *mac,
                      struct qc_round_stats *st, struct qc_err *err)
{
    int64_t oh, ow;
    int rc;

    if ((rc = qc_conv2d_out_shape(d, &oh, &ow, err)))
        return rc;
    const int64_t k = d->c * d->kh * d->kw;
    float *cols = malloc((size_t)(k * oh * ow) * sizeof(float));
    if (!cols)
        return qc_err_set(err, QC_ENOMEM, "", "out of memory for im2col");
    struct qc_gemm_desc g;
    qc_gemm_desc_init(&g, d->oc, oh * ow, k);
    for (int64_t img = 0; img < d->n && rc == QC_OK; img++) {
        qc_im2col(cols, x, d, img);
        g.sr_stream = d->sr_stream + (uint64_t)img;
        rc = qc_backend_gemm(be, y + img * d->oc * oh * ow, w, cols, &g, mac, st, err);
    }
    free(cols);
    return rc;
}
