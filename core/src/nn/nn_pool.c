/* Max and average pooling over k x k windows of CNHW planes (global average
 * pooling is the k = h = w case), as backend operations (backend/ops_hd.h
 * has the arithmetic). No arithmetic here is a MAC: averages are fp32
 * means, as the pooling units of the studied accelerators compute them. */
#include "nn_impl.h"

static struct qc_op pool_op(struct qc_net *net, struct qc_layer *l, int64_t nb,
                            enum qc_op_kind kind)
{
    struct qc_layer *in = &net->layers[l->in[0]];
    struct qc_op op = {.kind = kind};

    op.u.pool = (struct qc_op_pool){.planes = l->c * nb,
                                    .h = in->h,
                                    .w = in->w,
                                    .oh = l->h,
                                    .ow = l->w,
                                    .k = l->k,
                                    .stride = l->stride,
                                    .max = l->kind == QC_LAYER_MAXPOOL,
                                    .inv = 1.0f / (float)(l->k * l->k),
                                    .x = in->out,
                                    .y = l->out,
                                    .argmax = l->argmax,
                                    .dy = l->grad,
                                    .dx = in->grad};
    return op;
}

int qc__pool_forward(struct qc_net *net, struct qc_layer *l, int64_t nb, struct qc_err *err)
{
    const struct qc_op op = pool_op(net, l, nb, QC_OP_POOL);

    return qc__nn_op(net, l, &op, err);
}

int qc__pool_backward(struct qc_net *net, struct qc_layer *l, int64_t nb, bool acc,
                      struct qc_err *err)
{
    struct qc_op op = pool_op(net, l, nb, QC_OP_POOL_GRAD);

    op.u.pool.acc = acc;
    return qc__nn_op(net, l, &op, err);
}
