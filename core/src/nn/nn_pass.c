/* The forward and backward passes over a net's layers, the gradients'
 * overflow check, and softmax cross-entropy. The layers' GEMM wrapper is
 * nn_gemm.c. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "nn_impl.h"

int qc_net_forward(struct qc_net *net, const float *x, int64_t nb, bool train,
                   struct qc_nn_stats *st, struct qc_err *err)
{
    struct qc_layer *in = &net->layers[0];
    const int64_t hw = in->h * in->w;
    int rc = QC_OK;

    if (nb < 1 || nb > net->batch)
        return qc_err_set(err, QC_EINVAL, "batch", "batch of %lld outside 1..%lld", (long long)nb,
                          (long long)net->batch);
    net->scale_record = train; /* evaluation reads the scale state, never advances it */
    /* NCHW (dataset order) -> CNHW, by the host: the batch is in host memory
     * (the input buffer is the backend's, which the host can write too) */
    for (int64_t b = 0; b < nb; b++)
        for (int64_t c = 0; c < in->c; c++)
            memcpy(in->out + (c * nb + b) * hw, x + (b * in->c + c) * hw,
                   (size_t)hw * sizeof(float));
    for (int i = 1; i < net->n && rc == QC_OK; i++) {
        struct qc_layer *l = &net->layers[i];
        switch (l->kind) {
        case QC_LAYER_CONV:
            rc = qc__conv_forward(net, l, nb, st, err);
            break;
        case QC_LAYER_LINEAR:
            rc = qc__linear_forward(net, l, nb, st, err);
            break;
        case QC_LAYER_RELU:
            rc = qc__relu_forward(net, l, nb, err);
            break;
        case QC_LAYER_MAXPOOL:
        case QC_LAYER_AVGPOOL:
            rc = qc__pool_forward(net, l, nb, err);
            break;
        case QC_LAYER_BATCHNORM:
            rc = qc__bn_forward(net, l, nb, train, err);
            break;
        case QC_LAYER_ADD:
            rc = qc__add_forward(net, l, nb, err);
            break;
        case QC_LAYER_FLATTEN:
            rc = qc__flatten_forward(net, l, nb, err);
            break;
        case QC_LAYER_INPUT:
            break;
        }
    }
    return rc;
}

int qc_net_backward(struct qc_net *net, int64_t nb, struct qc_nn_stats *st, struct qc_err *err)
{
    int rc = QC_OK;

    net->scale_record = true;
    for (int i = net->n - 1; i >= 1 && rc == QC_OK; i--) {
        struct qc_layer *l = &net->layers[i];
        /* Residual sources gather several gradients: each starts at zero
         * just before its last reader, the first in this pass, adds to it
         * (until then its buffer may hold another layer's gradient:
         * qc_net_finalize shares them). The only reader of any other layer
         * writes its gradient outright. */
        for (int k = 0; k < 2 && rc == QC_OK; k++) {
            struct qc_layer *src = l->in[k] > 0 ? &net->layers[l->in[k]] : NULL;
            if (src && src->nuse > 1 && src->last_reader == i && (k == 0 || l->in[0] != l->in[1]))
                rc = qc__nn_map(net, src, QC_OP_ZERO, nb * src->c * src->h * src->w, src->grad,
                                NULL, NULL, false, err);
        }
        if (rc)
            break;
        const bool acc = net->layers[l->in[0]].nuse > 1;
        /* no layer before this one has parameters: no gradient to pass on */
        const bool to_input = !net->layers[l->in[0]].grad_needed;
        switch (l->kind) {
        case QC_LAYER_CONV:
            rc = qc__conv_backward(net, l, nb, acc, st, err);
            break;
        case QC_LAYER_LINEAR:
            rc = qc__linear_backward(net, l, nb, acc, st, err);
            break;
        case QC_LAYER_RELU:
            if (!to_input)
                rc = qc__relu_backward(net, l, nb, acc, err);
            break;
        case QC_LAYER_MAXPOOL:
        case QC_LAYER_AVGPOOL:
            if (!to_input)
                rc = qc__pool_backward(net, l, nb, acc, err);
            break;
        case QC_LAYER_BATCHNORM:
            rc = qc__bn_backward(net, l, nb, acc, err);
            break;
        case QC_LAYER_ADD:
            rc = qc__add_backward(net, l, nb, acc, net->layers[l->in[1]].nuse > 1, err);
            break;
        case QC_LAYER_FLATTEN:
            if (!to_input)
                rc = qc__flatten_backward(net, l, nb, acc, err);
            break;
        case QC_LAYER_INPUT:
            break;
        }
    }
    return rc;
}

int qc_net_grads_finite(struct qc_net *net, bool *finite, struct qc_err *err)
{
    struct qc_op op = {.kind = QC_OP_NONFINITE};
    int rc;

    *net->flag = 0;
    op.u.map = (struct qc_op_map){.n = net->nparams, .x = net->grads, .flag = net->flag};
    if ((rc = qc_backend_op(net->be, &op, err)))
        return rc;
    *finite = *net->flag == 0;
    return QC_OK;
}

double qc_softmax_xent(float *grad, const float *logits, const int32_t *labels, int64_t nb,
                       int64_t classes, float scale, int64_t *correct)
{
    double loss = 0.0;
    int64_t hits = 0;

    for (int64_t i = 0; i < nb; i++) {
        const float *z = logits + i * classes;
        int64_t best = 0;
        for (int64_t j = 1; j < classes; j++)
            if (z[j] > z[best])
                best = j;
        const double zmax = z[best];
        double sum = 0.0;
        for (int64_t j = 0; j < classes; j++)
            sum += exp((double)z[j] - zmax);
        const double lse = zmax + log(sum);
        loss += lse - z[labels[i]];
        hits += best == labels[i];
        for (int64_t j = 0; j < classes; j++) {
            double p = exp((double)z[j] - lse);
            grad[i * classes + j] = (float)((p - (j == labels[i])) * scale / (double)nb);
        }
    }
    if (correct)
        *correct = hits;
    return loss / (double)nb;
}
