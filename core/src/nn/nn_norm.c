/* Batch normalisation over CNHW channels with fp32 statistics (accumulated
 * in fp64 in a fixed order), as backend operations (backend/ops_hd.h has
 * the arithmetic): per-channel statistics, then the elements; per-channel
 * gradient sums, then the input's gradient. Its inputs and outputs are
 * quantized where the neighbouring GEMMs read them. */
#include "nn_impl.h"

static struct qc_op bn_op(struct qc_net *net, struct qc_layer *l, int64_t nb, enum qc_op_kind kind)
{
    struct qc_layer *in = &net->layers[l->in[0]];
    struct qc_op op = {.kind = kind};

    op.u.bn = (struct qc_op_bn){.c = l->c,
                                .n = nb * l->h * l->w,
                                .x = in->out,
                                .gamma = net->params + l->w_off,
                                .beta = net->params + l->b_off,
                                .y = l->out,
                                .xh = l->saved,
                                .bmean = l->bn_bmean,
                                .binv = l->bn_binv,
                                .rmean = l->bn_mean,
                                .rvar = l->bn_var,
                                .sums = l->bn_sums,
                                .dy = l->grad,
                                .dx = in->grad,
                                .dgamma = net->grads + l->w_off,
                                .dbeta = net->grads + l->b_off};
    return op;
}

int qc__bn_forward(struct qc_net *net, struct qc_layer *l, int64_t nb, bool train,
                   struct qc_err *err)
{
    struct qc_op op = bn_op(net, l, nb, QC_OP_BN_STATS);
    int rc;

    op.u.bn.train = train;
    if ((rc = qc__nn_op(net, l, &op, err)))
        return rc;
    op.kind = QC_OP_BN_APPLY;
    return qc__nn_op(net, l, &op, err);
}

int qc__bn_backward(struct qc_net *net, struct qc_layer *l, int64_t nb, bool acc,
                    struct qc_err *err)
{
    struct qc_op op = bn_op(net, l, nb, QC_OP_BN_SUMS);
    int rc;

    op.u.bn.acc = acc;
    if ((rc = qc__nn_op(net, l, &op, err)))
        return rc;
    op.kind = QC_OP_BN_GRAD;
    return qc__nn_op(net, l, &op, err);
}
