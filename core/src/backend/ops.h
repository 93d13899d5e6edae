/* The element-wise operations of a training step: everything a step does
 * besides its GEMMs and quantizations (activations, residual adds and
 * copies, biases, pooling, batch normalization, the optimizers' updates,
 * the overflow check), as descriptions a backend runs where its tensors
 * live. The net (core/src/nn/) and the optimizer (core/src/train/optim.c)
 * describe each operation and hand it to qc_backend_op; a backend with a
 * device (CUDA) runs it there, on its own memory (qc_backend_mem), so that
 * a step's tensors need not come back to the host between layers.
 *
 * Every operation is a map over an index space of qc__op_size(op)
 * elements: index i computes and writes its own outputs and nobody else's,
 * in an order fixed by the description (ops_hd.h). So the host runs the
 * indices in a loop and a GPU one per thread, through the same QC_HD code,
 * and both give the same bits. Reductions that must add in one order (batch
 * statistics, bias gradients) are maps over channels: one index sums its
 * channel in ascending order.
 *
 * Pointers are to memory the backend's qc_backend_mem gave (host memory for
 * the CPU backend). Nothing here is owned by the description. */
#ifndef QCORE_BACKEND_OPS_H
#define QCORE_BACKEND_OPS_H

#include <stdbool.h>
#include <stdint.h>

#include "qcore/backend.h"
#include "qcore/format.h"

enum qc_op_kind {
    QC_OP_ZERO = 0,  /* map: y[i] = +0 */
    QC_OP_PUT,       /* map: y[i] = x[i], or y[i] += x[i] with acc */
    QC_OP_ADD,       /* map: y[i] = x[i] + x2[i] */
    QC_OP_RELU,      /* map: y[i] = x[i] > 0 or NaN ? x[i] : 0 */
    QC_OP_RELU_GRAD, /* map: y[i] (+)= x[i] > 0 ? x2[i] : NaN x[i] ? x[i] : 0 (x the output,
                        x2 its gradient) */
    QC_OP_NONFINITE, /* map: *flag = 1 when x[i] is inf or NaN (flag untouched otherwise) */
    QC_OP_BIAS,      /* bias: y[i] += b[(i / inner) % c] */
    QC_OP_BIAS_GRAD, /* bias: db[o] = sum over t < count of dy[o * cstride + t * tstride] */
    QC_OP_SWAP01,    /* swap: y [d1][d0][inner] (+)= x [d0][d1][inner] */
    QC_OP_POOL,      /* pool: one output */
    QC_OP_POOL_GRAD, /* pool: one input's gradient, gathered from the windows over it */
    QC_OP_BN_STATS,  /* bn: one channel's batch (train) or running (eval) statistics */
    QC_OP_BN_APPLY,  /* bn: one normalized element */
    QC_OP_BN_SUMS,   /* bn: one channel's gradient sums, dgamma and dbeta */
    QC_OP_BN_GRAD,   /* bn: one input's gradient */
    QC_OP_SGD,       /* optim: one parameter */
    QC_OP_ADAM,      /* optim: one parameter */
    QC_OP_KINDS,
};

/* ZERO, PUT, ADD, RELU, RELU_GRAD, NONFINITE over n elements. */
struct qc_op_map {
    int64_t n;
    float *y;
    const float *x, *x2;
    int32_t *flag; /* NONFINITE */
    bool acc;
};

/* BIAS (n elements) and BIAS_GRAD (c channels). A convolution's CNHW
 * output has inner = nb*h*w, cstride = inner, tstride = 1, count = inner; a
 * dense layer's batch x features has inner = 1, cstride = 1, tstride = c,
 * count = nb. */
struct qc_op_bias {
    int64_t n, c, inner;
    float *y;
    const float *b;
    float *db;
    const float *dy;
    int64_t cstride, tstride, count;
};

/* SWAP01: the two leading axes of x [d0][d1][inner] exchanged, one output
 * element per index (NCHW <-> CNHW, flatten, transposed filters). */
struct qc_op_swap {
    int64_t d0, d1, inner;
    float *y;
    const float *x;
    bool acc;
};

/* POOL (planes x oh x ow outputs) and POOL_GRAD (planes x h x w inputs):
 * k x k windows at `stride` over h x w planes. Max pooling records the
 * winner's index in its plane; average pooling multiplies the window's sum
 * by inv = 1/k^2. */
struct qc_op_pool {
    int64_t planes, h, w, oh, ow, k, stride;
    bool max, acc;
    float inv;
    const float *x; /* POOL: input planes */
    float *y;       /* POOL: output planes */
    int32_t *argmax;
    const float *dy; /* POOL_GRAD: the output's gradient */
    float *dx;       /* POOL_GRAD: the input's gradient */
};

/* Batch normalization of c channels of n elements each (CNHW: channel-major
 * planes). STATS and SUMS map over channels, APPLY and GRAD over c * n
 * elements. */
struct qc_op_bn {
    int64_t c, n;
    bool train, acc;
    const float *x, *gamma, *beta;
    float *y, *xh;              /* the output, the normalized input */
    float *bmean, *binv;        /* the statistics a forward used */
    float *rmean, *rvar;        /* running statistics */
    double *sums;               /* per channel: the gradient's sum and its dot with xh */
    const float *dy;            /* the output's gradient */
    float *dx, *dgamma, *dbeta; /* gradients */
};

/* SGD and ADAM over n parameters. The constants are the step's, converted
 * once on the host exactly as a scalar loop would convert them. */
struct qc_op_optim {
    int64_t n;
    float *params, *m, *v;
    const float *grads;
    float grad_mul, weight_decay, momentum, lr_f; /* SGD: momentum and lr as fp32 */
    bool nesterov;
    float beta1, one_minus_beta1, beta2, one_minus_beta2; /* ADAM, as fp32 */
    double lr, bc1, bc2, eps;                             /* ADAM: bias corrections */
    bool quant_moment, quant_update, quant_master;
    struct qc_format moment, update, master;
};

struct qc_op {
    enum qc_op_kind kind;
    union {
        struct qc_op_map map;
        struct qc_op_bias bias;
        struct qc_op_swap swap;
        struct qc_op_pool pool;
        struct qc_op_bn bn;
        struct qc_op_optim optim;
    } u;
};

/* The size of an operation's index space. */
int64_t qc__op_size(const struct qc_op *op);
/* The operation's name, for messages ("relu", "batchnorm statistics"). */
const char *qc__op_name(enum qc_op_kind kind);

/* Runs `op` on backend `be`: on its device when it has one, else on the
 * host. Returns QC_OK, or the backend's error (a failed launch). */
int qc_backend_op(struct qc_backend *be, const struct qc_op *op, struct qc_err *err);

/* Runs `op` on the host with up to `threads` threads (the backends without
 * a device of their own); the bits do not depend on `threads`. */
void qc__op_host(const struct qc_op *op, int threads);

#endif
