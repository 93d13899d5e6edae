/* Dense layers on batch x features: forward, grad-input and grad-weight as
 * emulated GEMMs (grad-weight reduces over the batch), biases in fp32. */
#include "nn_impl.h"

int qc__linear_forward(struct qc_net *net, struct qc_layer *l, int64_t nb, struct qc_nn_stats *st,
                       struct qc_err *err)
{
    const struct qc_layer *in = &net->layers[l->in[0]];
    struct qc_gemm_desc d;

    /* Y (nb x out) = X (nb x in) . W^T, W stored out x in */
    qc_gemm_desc_init(&d, nb, l->c, in->c);
    d.trans_b = true;
    int rc = qc__nn_gemm(net, l, QC_GEMM_FWD, l->out, in->out, net->params + l->w_off, &d, st, err);
    if (rc)
        return rc;
    struct qc_op op = {.kind = QC_OP_BIAS};
    op.u.bias = (struct qc_op_bias){
        .n = nb * l->c, .c = l->c, .inner = 1, .y = l->out, .b = net->params + l->b_off};
    return qc__nn_op(net, l, &op, err);
}

int qc__linear_backward(struct qc_net *net, struct qc_layer *l, int64_t nb, bool acc,
                        struct qc_nn_stats *st, struct qc_err *err)
{
    struct qc_layer *in = &net->layers[l->in[0]];
    struct qc_gemm_desc d;
    int rc;

    /* dW (out x in) = dY^T . X, dY stored nb x out */
    qc_gemm_desc_init(&d, l->c, in->c, nb);
    d.trans_a = true;
    if ((rc = qc__nn_gemm(net, l, QC_GEMM_WGRAD, net->grads + l->w_off, l->grad, in->out, &d, st,
                          err)))
        return rc;
    struct qc_op op = {.kind = QC_OP_BIAS_GRAD};
    op.u.bias = (struct qc_op_bias){.c = l->c,
                                    .db = net->grads + l->b_off,
                                    .dy = l->grad,
                                    .cstride = 1,
                                    .tstride = l->c,
                                    .count = nb};
    if ((rc = qc__nn_op(net, l, &op, err)))
        return rc;
    if (!in->grad_needed)
        return QC_OK;
    /* dX (nb x in) = dY . W; a residual source's in the net's scratch first */
    float *dx = acc ? net->scratch : in->grad;
    qc_gemm_desc_init(&d, nb, in->c, l->c);
    if ((rc = qc__nn_gemm(net, l, QC_GEMM_BWD, dx, l->grad, net->params + l->w_off, &d, st, err)) ||
        !acc)
        return rc;
    return qc__nn_map(net, l, QC_OP_PUT, nb * in->c, in->grad, dx, NULL, true, err);
}
