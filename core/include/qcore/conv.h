/* 2-D convolution through the emulated GEMM (im2col), so its MAC semantics
 * are exactly the GEMM's with K = C_in x kh x kw, reduced in the order
 * (channel, kernel row, kernel column). */
#ifndef QCORE_CONV_H
#define QCORE_CONV_H

#include <stdint.h>

#include "qcore/backend.h"

struct qc_conv2d_desc {
    int64_t n, c, h, w;  /* input NCHW */
    int64_t oc, kh, kw;  /* filters: oc x c x kh x kw */
    int64_t stride, pad; /* same in both directions */
    uint64_t sr_stream;  /* stochastic rounding: image i uses stream sr_stream + i */
};

/* Output height and width; QC_EINVAL when the shape is impossible. */
int qc_conv2d_out_shape(const struct qc_conv2d_desc *d, int64_t *oh, int64_t *ow,
                        struct qc_err *err);

/* cols: (c*kh*kw) x (oh*ow) for image `img` of x; zero padding. */
void qc_im2col(float *cols, const float *x, const struct qc_conv2d_desc *d, int64_t img);

/* y:(n, oc, oh, ow) = conv(x:(n, c, h, w), w:(oc, c*kh*kw)) on backend `be`,
 * every output a MAC dot product of K = c*kh*kw terms. Allocates one
 * im2col buffer. */
int qc_conv2d_forward(struct qc_backend *be, float *y, const float *x, const float *w,
                      const struct qc_conv2d_desc *d, const struct qc_mac *mac,
                      struct qc_round_stats *st, struct qc_err *err);

#endif
