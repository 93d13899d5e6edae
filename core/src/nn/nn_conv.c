/* Convolution layers on CNHW batches. Forward, grad-input and grad-weight
 * are each one emulated GEMM whose every output is a single MAC dot product:
 * forward over K = (c, ki, kj), grad-weight over (batch, y, x), grad-input
 * over (o, ki, kj) of the zero-dilated, padded errors (a transposed
 * convolution), so no partial sums are ever added outside the MAC. */
#include <stdlib.h>
#include <string.h>

#include "nn_impl.h"

/* cols (c*k*k) x (nb*oh*ow) from x (c, nb, h, w). */
static void im2col(float *cols, const float *x, int64_t c, int64_t nb, int64_t h, int64_t w,
                   const struct qc_layer *l, int threads)
{
    const int64_t k = l->k, s = l->stride, p = l->pad, oh = l->h, ow = l->w;
    const int64_t ncol = nb * oh * ow;

#pragma omp parallel for schedule(static) collapse(2) num_threads(threads)
    for (int64_t ci = 0; ci < c; ci++)
        for (int64_t kk = 0; kk < k * k; kk++) {
            const int64_t ki = kk / k, kj = kk % k;
            float *row = cols + (ci * k * k + kk) * ncol;
            for (int64_t b = 0; b < nb; b++) {
                const float *xb = x + (ci * nb + b) * h * w;
                for (int64_t y = 0; y < oh; y++) {
                    const int64_t iy = y * s - p + ki;
                    float *dst = row + (b * oh + y) * ow;
                    for (int64_t xx = 0; xx < ow; xx++) {
                        const int64_t ix = xx * s - p + kj;
                        dst[xx] = (iy >= 0 && iy < h && ix >= 0 && ix < w) ? xb[iy * w + ix] : 0.0f;
                    }
                }
            }
        }
}

int qc__conv_forward(struct qc_net *net, struct qc_layer *l, int64_t nb, struct qc_nn_stats *st,
                     struct qc_err *err)
{
    const struct qc_layer *in = &net->layers[l->in[0]];
    const int64_t kk = in->c * l->k * l->k, n = nb * l->h * l->w;
    struct qc_gemm_desc d;

    im2col(l->saved, in->out, in->c, nb, in->h, in->w, l, net->be->threads);
    qc_gemm_desc_init(&d, l->c, n, kk);
    int rc =
        qc__nn_gemm(net, l, QC_GEMM_FWD, l->out, net->params + l->w_off, l->saved, &d, st, err);
    if (rc || !l->bias)
        return rc;
    const float *b = net->params + l->b_off;
    for (int64_t o = 0; o < l->c; o++)
        for (int64_t j = 0; j < n; j++)
            l->out[o * n + j] += b[o];
    return QC_OK;
}

/* The gathered errors: row (o, ki, kj), column (b, y, x) of the input grid
 * holds dY[o, b, (y+p-ki)/s, (x+p-kj)/s] where that is a whole in-range
 * position, else 0. */
static void gather_errors(float *g, const float *dy, const struct qc_layer *l,
                          const struct qc_layer *in, int64_t nb, int threads)
{
    const int64_t k = l->k, s = l->stride, p = l->pad, oh = l->h, ow = l->w;
    const int64_t h = in->h, w = in->w, ncol = nb * h * w;

#pragma omp parallel for schedule(static) collapse(2) num_threads(threads)
    for (int64_t o = 0; o < l->c; o++)
        for (int64_t kk = 0; kk < k * k; kk++) {
            const int64_t ki = kk / k, kj = kk % k;
            float *row = g + (o * k * k + kk) * ncol;
            for (int64_t b = 0; b < nb; b++) {
                const float *dyb = dy + (o * nb + b) * oh * ow;
                for (int64_t y = 0; y < h; y++) {
                    const int64_t ty = y + p - ki;
                    float *dst = row + (b * h + y) * w;
                    const bool yok = ty >= 0 && ty % s == 0 && ty / s < oh;
                    for (int64_t x = 0; x < w; x++) {
                        const int64_t tx = x + p - kj;
                        dst[x] = (yok && tx >= 0 && tx % s == 0 && tx / s < ow)
                                     ? dyb[(ty / s) * ow + tx / s]
                                     : 0.0f;
                    }
                }
            }
        }
}

int qc__conv_backward(struct qc_net *net, struct qc_layer *l, int64_t nb, bool acc,
                      struct qc_nn_stats *st, struct qc_err *err)
{
    struct qc_layer *in = &net->layers[l->in[0]];
    const int64_t kk = in->c * l->k * l->k, n = nb * l->h * l->w;
    struct qc_gemm_desc d;
    int rc;

    /* grad-weight: dW (oc x K) = dY (oc x n) . cols^T */
    qc_gemm_desc_init(&d, l->c, kk, n);
    d.trans_b = true;
    if ((rc = qc__nn_gemm(net, l, QC_GEMM_WGRAD, net->grads + l->w_off, l->grad, l->saved, &d, st,
                          err)))
        return rc;
    if (l->bias) {
        for (int64_t o = 0; o < l->c; o++) {
            double sum = 0.0;
            for (int64_t j = 0; j < n; j++)
                sum += l->grad[o * n + j];
            net->grads[l->b_off + o] = (float)sum;
        }
    }
    if (in->kind == QC_LAYER_INPUT)
        return QC_OK;

    /* grad-input: dX (c x nb*h*w) = W' (c x oc*k*k) . gathered dY */
    const int64_t k2 = l->k * l->k, kg = l->c * k2, nx = nb * in->h * in->w;
    const float *w = net->params + l->w_off;
    float *wt = malloc((size_t)(in->c * kg) * sizeof(float));
    float *dx = acc ? malloc((size_t)(in->c * nx) * sizeof(float)) : in->grad;
    if (!wt || !dx) {
        free(wt);
        if (acc)
            free(dx);
        return qc_err_set(err, QC_ENOMEM, "", "out of memory in conv '%s' backward", l->name);
    }
    for (int64_t c = 0; c < in->c; c++)
        for (int64_t o = 0; o < l->c; o++)
            memcpy(wt + c * kg + o * k2, w + (o * in->c + c) * k2, (size_t)k2 * sizeof(float));
    gather_errors(net->scratch, l->grad, l, in, nb, net->be->threads);
    qc_gemm_desc_init(&d, in->c, nx, kg);
    rc = qc__nn_gemm(net, l, QC_GEMM_BWD, dx, wt, net->scratch, &d, st, err);
    if (!rc && acc)
        for (int64_t i = 0; i < in->c * nx; i++)
            in->grad[i] += dx[i];
    free(wt);
    if (acc)
        free(dx);
    return rc;
}
