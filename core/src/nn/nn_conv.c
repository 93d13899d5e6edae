/* Convolution layers on CNHW batches. Forward, grad-input and grad-weight
 * are each one emulated GEMM whose every output is a single MAC dot product:
 * forward over K = (c, ki, kj), grad-weight over (batch, y, x), grad-input
 * over (o, ki, kj) of the zero-dilated, padded errors (a transposed
 * convolution), so no partial sums are ever added outside the MAC. The
 * unfolded operands are GEMM views (qcore/gemm.h): the backend reads them
 * from the tensors as it packs, and no unfolded matrix is ever stored. */
#include "nn_impl.h"

/* The convolution's input as the GEMM's view of it: the tensor of the
 * layer before, over this layer's output grid. */
static struct qc_gemm_conv unfold_of(const struct qc_layer *l, const struct qc_layer *in,
                                     int64_t nb)
{
    return (struct qc_gemm_conv){.c = in->c,
                                 .nb = nb,
                                 .h = in->h,
                                 .w = in->w,
                                 .k = l->k,
                                 .stride = l->stride,
                                 .pad = l->pad,
                                 .gh = l->h,
                                 .gw = l->w};
}

int qc__conv_forward(struct qc_net *net, struct qc_layer *l, int64_t nb, struct qc_nn_stats *st,
                     struct qc_err *err)
{
    const struct qc_layer *in = &net->layers[l->in[0]];
    const int64_t kk = in->c * l->k * l->k, n = nb * l->h * l->w;
    const struct qc_gemm_conv v = unfold_of(l, in, nb);
    struct qc_gemm_desc d;

    /* B is im2col(input), read straight from the input while packing */
    qc_gemm_desc_init(&d, l->c, n, kk);
    d.b_view = QC_GEMM_B_IM2COL;
    d.b_conv = &v;
    int rc = qc__nn_gemm(net, l, QC_GEMM_FWD, l->out, net->params + l->w_off, in->out, &d, st, err);
    if (rc || !l->bias)
        return rc;
    struct qc_op op = {.kind = QC_OP_BIAS};
    op.u.bias = (struct qc_op_bias){
        .n = l->c * n, .c = l->c, .inner = n, .y = l->out, .b = net->params + l->b_off};
    return qc__nn_op(net, l, &op, err);
}

int qc__conv_backward(struct qc_net *net, struct qc_layer *l, int64_t nb, bool acc,
                      struct qc_nn_stats *st, struct qc_err *err)
{
    struct qc_layer *in = &net->layers[l->in[0]];
    const int64_t kk = in->c * l->k * l->k, n = nb * l->h * l->w;
    const struct qc_gemm_conv v = unfold_of(l, in, nb);
    struct qc_gemm_desc d;
    int rc;

    /* grad-weight: dW (oc x K) = dY (oc x n) . cols^T */
    qc_gemm_desc_init(&d, l->c, kk, n);
    d.b_view = QC_GEMM_B_IM2COL_T;
    d.b_conv = &v;
    if ((rc = qc__nn_gemm(net, l, QC_GEMM_WGRAD, net->grads + l->w_off, l->grad, in->out, &d, st,
                          err)))
        return rc;
    if (l->bias) {
        struct qc_op op = {.kind = QC_OP_BIAS_GRAD};
        op.u.bias = (struct qc_op_bias){.c = l->c,
                                        .db = net->grads + l->b_off,
                                        .dy = l->grad,
                                        .cstride = n,
                                        .tstride = 1,
                                        .count = n};
        if ((rc = qc__nn_op(net, l, &op, err)))
            return rc;
    }
    if (!in->grad_needed)
        return QC_OK;

    /* grad-input: dX (c x nb*h*w) = W' (c x oc*k*k) . dilated dY, the net's
     * scratch holding W' and, for a residual source, dX before it is added */
    const int64_t k2 = l->k * l->k, kg = l->c * k2, nx = nb * in->h * in->w;
    float *wt = net->scratch;
    float *dx = acc ? net->scratch + in->c * kg : in->grad;
    struct qc_op op = {.kind = QC_OP_SWAP01};
    op.u.swap = (struct qc_op_swap){
        .d0 = l->c, .d1 = in->c, .inner = k2, .y = wt, .x = net->params + l->w_off};
    if ((rc = qc__nn_op(net, l, &op, err)))
        return rc;
    const struct qc_gemm_conv g = {.c = l->c,
                                   .nb = nb,
                                   .h = l->h,
                                   .w = l->w,
                                   .k = l->k,
                                   .stride = l->stride,
                                   .pad = l->pad,
                                   .gh = in->h,
                                   .gw = in->w};
    qc_gemm_desc_init(&d, in->c, nx, kg);
    d.b_view = QC_GEMM_B_DILATED;
    d.b_conv = &g;
    if ((rc = qc__nn_gemm(net, l, QC_GEMM_BWD, dx, wt, l->grad, &d, st, err)) || !acc)
        return rc;
    return qc__nn_map(net, l, QC_OP_PUT, in->c * nx, in->grad, dx, NULL, true, err);
}
