/* Neural networks for quantized training: a small graph of layers with
 * forward and backward passes in which every GEMM-like product (forward,
 * grad-input, grad-weight) runs through the emulated MAC of the layer's
 * arithmetic.
 *
 * Layouts: convolutional features are CNHW (channel-major, then batch), so a
 * whole batch is one im2col GEMM and grad-weight is one dot product over
 * batch x positions; dense features are batch x features, row-major.
 * Parameters live in one flat fp32 array (the master weights), gradients in
 * a second of the same shape, so optimizers and checkpoints see flat arrays.
 *
 * Thread safety: a net is used by one thread at a time; the backend may use
 * several threads inside each GEMM and element-wise operation. */
#ifndef QCORE_NN_H
#define QCORE_NN_H

#include <stdbool.h>
#include <stdint.h>

#include "qcore/backend.h"
#include "qcore/mac.h"
#include "qcore/scale.h"

#define QC_NN_NAME_MAX   32
#define QC_NN_MAX_LAYERS 256

enum qc_layer_kind {
    QC_LAYER_INPUT = 0,
    QC_LAYER_CONV,   /* k x k, stride, pad; bias when there is no batchnorm */
    QC_LAYER_LINEAR, /* dense, with bias */
    QC_LAYER_RELU,
    QC_LAYER_MAXPOOL, /* k x k, stride */
    QC_LAYER_AVGPOOL, /* k x k, stride; k = 0: global average pool */
    QC_LAYER_BATCHNORM,
    QC_LAYER_ADD,     /* residual: out = in0 + in1 (same shape) */
    QC_LAYER_FLATTEN, /* CNHW -> batch x features */
};

/* The GEMM groups whose arithmetic a spec sets apart. */
enum qc_gemm_group { QC_GEMM_FWD = 0, QC_GEMM_BWD = 1, QC_GEMM_WGRAD = 2, QC_GEMM_GROUPS = 3 };

/* A layer's arithmetic: the formats of its operands and the MAC of each
 * GEMM group. The MACs' a/b formats are set per GEMM from the operand
 * formats (forward: activations x weights; grad-input: errors x weights;
 * grad-weight: errors x activations). */
struct qc_nn_arith {
    struct qc_format weights, activations, errors;
    struct qc_mac mac[QC_GEMM_GROUPS];
};

/* Events counted per GEMM group over a net (reset by the caller): the
 * MACs' rounding events, and what the scale policy did to the operands. */
struct qc_nn_stats {
    struct qc_round_stats gemm[QC_GEMM_GROUPS];
    struct qc_scale_stats scale[QC_GEMM_GROUPS];
};

/* GEMM operands with a scale state: a and b of each group of each layer. */
#define QC_NN_SCALE_SLOTS (QC_GEMM_GROUPS * 2)

struct qc_layer {
    enum qc_layer_kind kind;
    char name[QC_NN_NAME_MAX];
    int in[2];              /* input layer indices (in[1] for ADD only) */
    bool dense;             /* output is batch x features */
    int64_t c, h, w;        /* output shape per sample (dense: c features, h = w = 1) */
    int64_t k, stride, pad; /* conv and pooling geometry */
    bool bias;
    int64_t w_off, w_len; /* weights in the flat parameter array */
    int64_t b_off, b_len; /* bias (batchnorm: gamma at w_off, beta at b_off) */
    struct qc_nn_arith arith;
    struct qc_mac gm[QC_GEMM_GROUPS]; /* resolved MAC of each GEMM, operands in place */
    int nuse;                         /* how many layers read this one's output */
    int last_reader;                  /* the highest index of a layer reading it (0: none) */
    bool grad_needed; /* some layer at or before this one has parameters: the gradient of
                         this output is needed (false up to the first conv or linear) */

    /* batch-sized buffers, owned by the net, in its backend's memory. `grad`
     * holds this output's gradient only during a backward pass, from the
     * first write to it until this layer's own backward: layers whose
     * gradients are never live together share one buffer (the net's
     * grad_bufs). */
    float *out, *grad;
    float *saved;              /* bn: normalized input */
    int32_t *argmax;           /* maxpool */
    float *bn_mean, *bn_var;   /* batchnorm running statistics (part of the state) */
    float *bn_bmean, *bn_binv; /* batchnorm batch statistics of the last forward */
    double *bn_sums;           /* batchnorm: per channel, the last backward's gradient sums */
};

struct qc_net {
    struct qc_layer layers[QC_NN_MAX_LAYERS];
    int n;         /* layers[0] is the input, layers[n-1] gives the logits */
    int64_t batch; /* buffers are sized for this many samples */
    int64_t nparams;
    float *params, *grads; /* flat master weights and their gradients */
    int64_t nstate;        /* batchnorm running statistics, flattened */
    float *state;
    struct qc_backend *be;            /* borrowed */
    const struct qc_backend_mem *mem; /* where the buffers live (be's memory) */
    float *scratch;                   /* a grad-input's permuted filters, then a gradient to add */
    int64_t scratch_len;
    int32_t *flag;                      /* qc_net_grads_finite's answer, in the net's memory */
    float *grad_bufs[QC_NN_MAX_LAYERS]; /* the layers' shared gradient buffers */
    int ngrad_bufs;
    float *scale_buf[2]; /* scaled GEMM operands (nn_scale.c), kept across steps */
    int64_t scale_len[2];
    uint64_t sr_stream;          /* advanced per GEMM call for stochastic rounding */
    struct qc_scale_cfg scaling; /* scale policy of quantized operands (none: as zeroed) */
    /* Scale state of operand o of group g of layer i at
     * [(i * QC_GEMM_GROUPS + g) * 2 + o]; n * QC_NN_SCALE_SLOTS slots, owned
     * by the net (NULL under none and max, which keep no state). */
    struct qc_scale_slot *scale_slots;
    bool scale_record; /* the pass in progress records amaxes (training passes) */
    /* Per-layer counts: NULL, or n entries (owned by the caller) to which
     * every GEMM given a struct qc_nn_stats also adds its own events, at its
     * layer's index; the sums in that struct are the same either way. */
    struct qc_nn_stats *layer_stats;
};

/* Building. qc_net_init prepares an empty net with the input shape; the
 * add_* calls append layers (returning the new layer's index, or a negative
 * QC_E* code) and qc_net_finalize allocates parameters and buffers. The
 * caller owns the net: qc_net_free. `arith` is copied. */
int qc_net_init(struct qc_net *net, int64_t c, int64_t h, int64_t w, int64_t batch,
                struct qc_backend *be);
int qc_net_add_conv(struct qc_net *net, const char *name, int from, int64_t out_c, int64_t k,
                    int64_t stride, int64_t pad, bool bias, struct qc_err *err);
int qc_net_add_linear(struct qc_net *net, const char *name, int from, int64_t out_features,
                      struct qc_err *err);
int qc_net_add_simple(struct qc_net *net, enum qc_layer_kind kind, const char *name, int from,
                      int64_t k, int64_t stride, struct qc_err *err);
int qc_net_add_residual(struct qc_net *net, const char *name, int a, int b, struct qc_err *err);
int qc_net_finalize(struct qc_net *net, struct qc_err *err);
void qc_net_free(struct qc_net *net);

/* Sets every layer's arithmetic (then per-layer overrides by name) and
 * resolves each GEMM's MAC; errors name the layer. Call after finalize. */
int qc_net_set_arith(struct qc_net *net, const struct qc_nn_arith *a, struct qc_err *err);
int qc_net_set_layer_arith(struct qc_net *net, const char *name, const struct qc_nn_arith *a,
                           struct qc_err *err);
int qc_net_find(const struct qc_net *net, const char *name);

/* Sets the scale policy of every GEMM operand whose tensor format
 * qc_scale_applies to (scale.h, docs/training.md) and empties the policy's
 * state. Call after the arithmetic is set. QC_EUNSUPP naming the layer when
 * a scaled operand's reading does not fit fp32; QC_ENOMEM. Forward passes
 * with `train` and backward passes record amaxes into the state;
 * evaluation passes only read it. */
int qc_net_set_scaling(struct qc_net *net, const struct qc_scale_cfg *c, struct qc_err *err);
/* The same check on an arithmetic alone (for specs, before any net is
 * built); `layer` names it in the message (NULL: the global arithmetic). */
int qc_nn_arith_check_scaling(const struct qc_nn_arith *a, const struct qc_scale_cfg *c,
                              const char *layer, struct qc_err *err);

/* Kaiming-normal weights, zero biases, unit batchnorm, from `seed`. */
void qc_net_init_params(struct qc_net *net, uint64_t seed);

/* Forward pass of `nb` <= batch samples, x: nb x c x h x w (NCHW, as a
 * dataset gives them). `train` selects batch statistics for batchnorm.
 * The logits are layers[n-1].out (nb x classes). */
int qc_net_forward(struct qc_net *net, const float *x, int64_t nb, bool train,
                   struct qc_nn_stats *st, struct qc_err *err);
/* Backward pass from dL/dlogits in layers[n-1].grad; fills net->grads
 * (overwritten, not accumulated). */
int qc_net_backward(struct qc_net *net, int64_t nb, struct qc_nn_stats *st, struct qc_err *err);

/* *finite = whether every gradient in net->grads is finite, checked where
 * the net's tensors live (the loss scaler's overflow test). QC_OK, or the
 * backend's error. */
int qc_net_grads_finite(struct qc_net *net, bool *finite, struct qc_err *err);

/* Softmax cross-entropy over nb x classes logits: returns the mean loss,
 * writes dL/dlogits x `scale` into grad (the loss scale) and the number of
 * correct argmax predictions into *correct. */
double qc_softmax_xent(float *grad, const float *logits, const int32_t *labels, int64_t nb,
                       int64_t classes, float scale, int64_t *correct);

#endif
