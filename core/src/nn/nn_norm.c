/* Batch normalisation over CNHW channels with fp32 statistics (accumulated
 * in double for order-independent accuracy); its inputs and outputs are
 * quantized where the neighbouring GEMMs read them. */
#include <math.h>

#include "nn_impl.h"

#define BN_EPS      1e-5
#define BN_MOMENTUM 0.1

void qc__bn_forward(struct qc_net *net, struct qc_layer *l, int64_t nb, bool train)
{
    const struct qc_layer *in = &net->layers[l->in[0]];
    const int64_t n = nb * l->h * l->w;
    const float *gamma = net->params + l->w_off, *beta = net->params + l->b_off;

    for (int64_t c = 0; c < l->c; c++) {
        const float *x = in->out + c * n;
        float mean, inv;
        if (train) {
            double s = 0.0, s2 = 0.0;
            for (int64_t i = 0; i < n; i++)
                s += x[i];
            const double m = s / (double)n;
            for (int64_t i = 0; i < n; i++)
                s2 += (x[i] - m) * (x[i] - m);
            const double var = s2 / (double)n;
            mean = (float)m;
            inv = (float)(1.0 / sqrt(var + BN_EPS));
            l->bn_mean[c] = (float)((1.0 - BN_MOMENTUM) * l->bn_mean[c] + BN_MOMENTUM * m);
            l->bn_var[c] = (float)((1.0 - BN_MOMENTUM) * l->bn_var[c] +
                                   BN_MOMENTUM * (n > 1 ? s2 / (double)(n - 1) : var));
        } else {
            mean = l->bn_mean[c];
            inv = (float)(1.0 / sqrt((double)l->bn_var[c] + BN_EPS));
        }
        l->bn_bmean[c] = mean;
        l->bn_binv[c] = inv;
        float *xh = l->saved + c * n, *y = l->out + c * n;
        for (int64_t i = 0; i < n; i++) {
            xh[i] = (x[i] - mean) * inv;
            y[i] = gamma[c] * xh[i] + beta[c];
        }
    }
}

void qc__bn_backward(struct qc_net *net, struct qc_layer *l, int64_t nb, bool acc)
{
    struct qc_layer *in = &net->layers[l->in[0]];
    const int64_t n = nb * l->h * l->w;
    const float *gamma = net->params + l->w_off;

    for (int64_t c = 0; c < l->c; c++) {
        const float *g = l->grad + c * n, *xh = l->saved + c * n;
        double sg = 0.0, sgx = 0.0;
        for (int64_t i = 0; i < n; i++) {
            sg += g[i];
            sgx += (double)g[i] * xh[i];
        }
        net->grads[l->w_off + c] = (float)sgx; /* dgamma */
        net->grads[l->b_off + c] = (float)sg;  /* dbeta */
        const double k = (double)gamma[c] * l->bn_binv[c] / (double)n;
        float *dx = in->grad + c * n;
        for (int64_t i = 0; i < n; i++)
            qc__put(&dx[i], (float)(k * ((double)n * g[i] - sg - xh[i] * sgx)), acc);
    }
}
