/* Internal interface between the net's passes (nn_pass.c) and its layers:
 * one forward and one backward per layer kind. A backward writes its input's
 * gradient with `acc` false (the only reader) or adds to it (a residual
 * source, zeroed before the pass). */
#ifndef QCORE_NN_IMPL_H
#define QCORE_NN_IMPL_H

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
void qc__pool_forward(struct qc_net *net, struct qc_layer *l, int64_t nb);
void qc__pool_backward(struct qc_net *net, struct qc_layer *l, int64_t nb, bool acc);
void qc__bn_forward(struct qc_net *net, struct qc_layer *l, int64_t nb, bool train);
void qc__bn_backward(struct qc_net *net, struct qc_layer *l, int64_t nb, bool acc);
void qc__relu_forward(struct qc_net *net, struct qc_layer *l, int64_t nb);
void qc__relu_backward(struct qc_net *net, struct qc_layer *l, int64_t nb, bool acc);
void qc__add_forward(struct qc_net *net, struct qc_layer *l, int64_t nb);
void qc__add_backward(struct qc_net *net, struct qc_layer *l, int64_t nb, bool acc0, bool acc1);
void qc__flatten_forward(struct qc_net *net, struct qc_layer *l, int64_t nb);
void qc__flatten_backward(struct qc_net *net, struct qc_layer *l, int64_t nb, bool acc);

/* dst = v or dst += v. */
static inline void qc__put(float *dst, float v, bool acc)
{
    *dst = acc ? *dst + v : v;
}

#endif
