/* The layers without arithmetic of note: ReLU, residual add, flatten (the
 * CNHW -> batch x features permutation) and the input permutation. */
#include <math.h>

#include "nn_impl.h"

void qc__relu_forward(struct qc_net *net, struct qc_layer *l, int64_t nb)
{
    const float *x = net->layers[l->in[0]].out;
    const int64_t n = nb * l->c * l->h * l->w;

    /* NaN passes through, as IEEE max(x, 0) with NaN propagation gives it:
     * an overflow to NaN (formats without inf) must reach the loss and the
     * loss scaler, never become a quiet zero. */
    for (int64_t i = 0; i < n; i++)
        l->out[i] = x[i] > 0.0f || isnan(x[i]) ? x[i] : 0.0f;
}

void qc__relu_backward(struct qc_net *net, struct qc_layer *l, int64_t nb, bool acc)
{
    float *dx = net->layers[l->in[0]].grad;
    const int64_t n = nb * l->c * l->h * l->w;

    /* The derivative at a NaN input is NaN: the gradient says so too. */
    for (int64_t i = 0; i < n; i++)
        qc__put(&dx[i], l->out[i] > 0.0f ? l->grad[i] : isnan(l->out[i]) ? l->out[i] : 0.0f, acc);
}

void qc__add_forward(struct qc_net *net, struct qc_layer *l, int64_t nb)
{
    const float *a = net->layers[l->in[0]].out, *b = net->layers[l->in[1]].out;
    const int64_t n = nb * l->c * l->h * l->w;

    for (int64_t i = 0; i < n; i++)
        l->out[i] = a[i] + b[i];
}

void qc__add_backward(struct qc_net *net, struct qc_layer *l, int64_t nb, bool acc0, bool acc1)
{
    float *da = net->layers[l->in[0]].grad, *db = net->layers[l->in[1]].grad;
    const int64_t n = nb * l->c * l->h * l->w;

    for (int64_t i = 0; i < n; i++) {
        qc__put(&da[i], l->grad[i], acc0);
        qc__put(&db[i], l->grad[i], acc1);
    }
}

void qc__flatten_forward(struct qc_net *net, struct qc_layer *l, int64_t nb)
{
    const struct qc_layer *in = &net->layers[l->in[0]];
    const int64_t hw = in->h * in->w;

    for (int64_t c = 0; c < in->c; c++)
        for (int64_t b = 0; b < nb; b++)
            for (int64_t p = 0; p < hw; p++)
                l->out[b * l->c + c * hw + p] = in->out[(c * nb + b) * hw + p];
}

void qc__flatten_backward(struct qc_net *net, struct qc_layer *l, int64_t nb, bool acc)
{
    struct qc_layer *in = &net->layers[l->in[0]];
    const int64_t hw = in->h * in->w;

    for (int64_t c = 0; c < in->c; c++)
        for (int64_t b = 0; b < nb; b++)
            for (int64_t p = 0; p < hw; p++)
                qc__put(&in->grad[(c * nb + b) * hw + p], l->grad[b * l->c + c * hw + p], acc);
}
