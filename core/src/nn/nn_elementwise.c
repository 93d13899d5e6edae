/* The layers without arithmetic of note: ReLU, residual add, flatten (the
 * CNHW -> batch x features permutation) and the residual gradients' copies
 * and sums, each one backend operation (backend/ops.h) on the net's
 * buffers. */
#include <stdio.h>

#include "nn_impl.h"

int qc__nn_op(struct qc_net *net, const struct qc_layer *l, const struct qc_op *op,
              struct qc_err *err)
{
    int rc = qc_backend_op(net->be, op, err);

    if (rc) {
        char msg[sizeof err->msg];
        snprintf(msg, sizeof msg, "%s", err->msg);
        return qc_err_set(err, rc, err->field, "layer '%s': %s: %s", l->name, qc__op_name(op->kind),
                          msg);
    }
    return QC_OK;
}

int qc__nn_map(struct qc_net *net, const struct qc_layer *l, enum qc_op_kind kind, int64_t n,
               float *y, const float *x, const float *x2, bool acc, struct qc_err *err)
{
    struct qc_op op = {.kind = kind};

    op.u.map = (struct qc_op_map){.n = n, .y = y, .x = x, .x2 = x2, .acc = acc};
    return qc__nn_op(net, l, &op, err);
}

int qc__relu_forward(struct qc_net *net, struct qc_layer *l, int64_t nb, struct qc_err *err)
{
    return qc__nn_map(net, l, QC_OP_RELU, nb * l->c * l->h * l->w, l->out,
                      net->layers[l->in[0]].out, NULL, false, err);
}

int qc__relu_backward(struct qc_net *net, struct qc_layer *l, int64_t nb, bool acc,
                      struct qc_err *err)
{
    return qc__nn_map(net, l, QC_OP_RELU_GRAD, nb * l->c * l->h * l->w, net->layers[l->in[0]].grad,
                      l->out, l->grad, acc, err);
}

int qc__add_forward(struct qc_net *net, struct qc_layer *l, int64_t nb, struct qc_err *err)
{
    return qc__nn_map(net, l, QC_OP_ADD, nb * l->c * l->h * l->w, l->out, net->layers[l->in[0]].out,
                      net->layers[l->in[1]].out, false, err);
}

int qc__add_backward(struct qc_net *net, struct qc_layer *l, int64_t nb, bool acc0, bool acc1,
                     struct qc_err *err)
{
    const int64_t n = nb * l->c * l->h * l->w;
    int rc = qc__nn_map(net, l, QC_OP_PUT, n, net->layers[l->in[0]].grad, l->grad, NULL, acc0, err);

    return rc ? rc
              : qc__nn_map(net, l, QC_OP_PUT, n, net->layers[l->in[1]].grad, l->grad, NULL, acc1,
                           err);
}

/* The input's c x nb x (h*w) planes as nb rows of c*h*w features, or the
 * gradient back. */
static int flatten(struct qc_net *net, struct qc_layer *l, int64_t nb, bool back, bool acc,
                   struct qc_err *err)
{
    struct qc_layer *in = &net->layers[l->in[0]];
    struct qc_op op = {.kind = QC_OP_SWAP01};

    if (!back)
        op.u.swap = (struct qc_op_swap){
            .d0 = in->c, .d1 = nb, .inner = in->h * in->w, .y = l->out, .x = in->out};
    else
        op.u.swap = (struct qc_op_swap){
            .d0 = nb, .d1 = in->c, .inner = in->h * in->w, .y = in->grad, .x = l->grad, .acc = acc};
    return qc__nn_op(net, l, &op, err);
}

int qc__flatten_forward(struct qc_net *net, struct qc_layer *l, int64_t nb, struct qc_err *err)
{
    return flatten(net, l, nb, false, false, err);
}

int qc__flatten_backward(struct qc_net *net, struct qc_layer *l, int64_t nb, bool acc,
                         struct qc_err *err)
{
    return flatten(net, l, nb, true, acc, err);
}
