/* Internal interface between the net's passes (nn_pass.c) and its layers:
 * one forward and one backward per layer kind. A backward writes its input's
 * gradient with `acc` false (the only reader) or adds to it (a residual
 * source, zeroed before the pass). */
#ifndef QCORE_NN_IMPL_H
#define QCORE_NN_IMPL_H

#include "backend/ops.h"
#include "qcore/nn.h"

/* One GEMM of layer `l` in group `g` with the layer's resolved MAC; counts
 * into st->gemm[g] (and net->layer_stats[layer], when set) when st is
 * non-NULL; advances the net's SR stream. */
int qc__nn_gemm(struct qc_net *net, const struct qc_layer *l, enum qc_gemm_group g, float *c,
                const float *a, const float *b, struct qc_gemm_desc *d, struct qc_nn_stats *st,
                struct qc_err *err);

/* The (a, b) tensor formats of group g's GEMM for a layer kind. */
void qc__nn_operands(const struct qc_layer *l, enum qc_gemm_group g, const struct qc_format **a,
                     const struct qc_format **b);

/* qc__nn_gemm's path when the net's scale policy scales an operand
 * (nn_scale.c): operands quantized under their scales, handed to the GEMM
 * as already rounded, result multiplied by the tensor scales. */
int qc__nn_gemm_scaled(struct qc_net *net, const struct qc_layer *l, enum qc_gemm_group g, float *c,
                       const float *a, const float *b, const struct qc_gemm_desc *d,
                       struct qc_nn_stats *st, struct qc_err *err);

int qc__conv_forward(struct qc_net *net, struct qc_layer *l, int64_t nb, struct qc_nn_stats *st,
                     struct qc_err *err);
int qc__conv_backward(struct qc_net *net, struct qc_layer *l, int64_t nb, bool acc,
                      struct qc_nn_stats *st, struct qc_err *err);
int qc__linear_forward(struct qc_net *net, struct qc_layer *l, int64_t nb, struct qc_nn_stats *st,
                       struct qc_err *err);
int qc__linear_backward(struct qc_net *net, struct qc_layer *l, int64_t nb, bool acc,
                        struct qc_nn_stats *st, struct qc_err *err);
int qc__pool_forward(struct qc_net *net, struct qc_layer *l, int64_t nb, struct qc_err *err);
int qc__pool_backward(struct qc_net *net, struct qc_layer *l, int64_t nb, bool acc,
                      struct qc_err *err);
int qc__bn_forward(struct qc_net *net, struct qc_layer *l, int64_t nb, bool train,
                   struct qc_err *err);
int qc__bn_backward(struct qc_net *net, struct qc_layer *l, int64_t nb, bool acc,
                    struct qc_err *err);
int qc__relu_forward(struct qc_net *net, struct qc_layer *l, int64_t nb, struct qc_err *err);
int qc__relu_backward(struct qc_net *net, struct qc_layer *l, int64_t nb, bool acc,
                      struct qc_err *err);
int qc__add_forward(struct qc_net *net, struct qc_layer *l, int64_t nb, struct qc_err *err);
int qc__add_backward(struct qc_net *net, struct qc_layer *l, int64_t nb, bool acc0, bool acc1,
                     struct qc_err *err);
int qc__flatten_forward(struct qc_net *net, struct qc_layer *l, int64_t nb, struct qc_err *err);
int qc__flatten_backward(struct qc_net *net, struct qc_layer *l, int64_t nb, bool acc,
                         struct qc_err *err);

/* Runs backend operation `op` for layer l (nn_elementwise.c), naming the
 * layer and the operation in any error. */
int qc__nn_op(struct qc_net *net, const struct qc_layer *l, const struct qc_op *op,
              struct qc_err *err);
/* A map operation of backend/ops.h (ZERO, PUT, ADD, RELU, RELU_GRAD) over n
 * elements for layer l. */
int qc__nn_map(struct qc_net *net, const struct qc_layer *l, enum qc_op_kind kind, int64_t n,
               float *y, const float *x, const float *x2, bool acc, struct qc_err *err);

#endif
