/* Max and average pooling over k x k windows of CNHW planes (global average
 * pooling is the k = h = w case). No arithmetic here is a MAC: averages are
 * fp32 means, as the pooling units of the studied accelerators compute them. */
#include <float.h>
#include <math.h>

#include "nn_impl.h"

void qc__pool_forward(struct qc_net *net, struct qc_layer *l, int64_t nb)
{
    const struct qc_layer *in = &net->layers[l->in[0]];
    const int64_t h = in->h, w = in->w, k = l->k, s = l->stride;
    const float inv = 1.0f / (float)(k * k);

    for (int64_t plane = 0; plane < l->c * nb; plane++) {
        const float *x = in->out + plane * h * w;
        for (int64_t y = 0; y < l->h; y++)
            for (int64_t xx = 0; xx < l->w; xx++) {
                const int64_t o = (plane * l->h + y) * l->w + xx;
                if (l->kind == QC_LAYER_MAXPOOL) {
                    float best = -INFINITY;
                    int32_t at = (int32_t)((y * s) * w + xx * s);
                    for (int64_t i = 0; i < k; i++)
                        for (int64_t j = 0; j < k; j++) {
                            const int64_t p = (y * s + i) * w + xx * s + j;
                            /* The first maximum wins a tie; the first NaN
                             * wins over everything (IEEE maximum propagates
                             * NaN, so an overflow is not pooled away). */
                            if (x[p] > best || (isnan(x[p]) && !isnan(best))) {
                                best = x[p];
                                at = (int32_t)p;
                            }
                        }
                    l->out[o] = best;
                    l->argmax[o] = at;
                } else {
                    float sum = 0.0f;
                    for (int64_t i = 0; i < k; i++)
                        for (int64_t j = 0; j < k; j++)
                            sum += x[(y * s + i) * w + xx * s + j];
                    l->out[o] = sum * inv;
                }
            }
    }
}

void qc__pool_backward(struct qc_net *net, struct qc_layer *l, int64_t nb, bool acc)
{
    struct qc_layer *in = &net->layers[l->in[0]];
    const int64_t h = in->h, w = in->w, k = l->k, s = l->stride;
    const float inv = 1.0f / (float)(k * k);

    /* Overlapping windows add into the same input: start from zero. */
    if (!acc)
        for (int64_t i = 0; i < l->c * nb * h * w; i++)
            in->grad[i] = 0.0f;
    for (int64_t plane = 0; plane < l->c * nb; plane++) {
        float *dx = in->grad + plane * h * w;
        for (int64_t y = 0; y < l->h; y++)
            for (int64_t xx = 0; xx < l->w; xx++) {
                const int64_t o = (plane * l->h + y) * l->w + xx;
                const float g = l->grad[o];
                if (l->kind == QC_LAYER_MAXPOOL) {
                    dx[l->argmax[o]] += g;
                    continue;
                }
                for (int64_t i = 0; i < k; i++)
                    for (int64_t j = 0; j < k; j++)
                        dx[(y * s + i) * w + xx * s + j] += g * inv;
            }
    }
}
