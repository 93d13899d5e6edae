/* The element-wise operations of ops.h as QC_HD code: index i of each
 * operation, written once for the host loop (ops_host.c) and the GPU's
 * threads (cuda/ops_cuda.cu). Each body computes what the scalar layer
 * loop it replaced computed, in the same order and with the same
 * conversions, so a CPU run's bits are those of the loops and a GPU run's
 * bits are the CPU's.
 *
 * fp32 and fp64 operations here are single IEEE operations: both compilers
 * are forbidden to contract them into fused multiply-adds (gcc
 * -ffp-contract=off, nvcc -fmad=false in the Makefile) or to flush
 * subnormals (nvcc -ftz=false). One caveat both processors share with IEEE
 * 754: an operation that makes a NaN out of non-NaN operands (inf - inf)
 * gives each processor's own NaN pattern; NaNs stay NaNs. */
#ifndef QCORE_OPS_HD_H
#define QCORE_OPS_HD_H

#include "backend/ops.h"
#include "base/hd.h"
#include "num/round_hd.h"

static inline QC_HD bool qc__op_isnan(float x)
{
    return x != x;
}

/* max(x, 0) with NaN passing through, written as selects without a branch
 * on the sign (a data-dependent branch mispredicts half the time). */
static inline QC_HD float qc__op_relu(float x)
{
    const float pos = x > 0.0f ? x : 0.0f;

    return qc__op_isnan(x) ? x : pos;
}

/* dst = v, or dst += v. */
static inline QC_HD void qc__op_put(float *dst, float v, bool acc)
{
    *dst = acc ? *dst + v : v;
}

static inline QC_HD void qc__op_map_at(enum qc_op_kind kind, const struct qc_op_map *p, int64_t i)
{
    switch (kind) {
    case QC_OP_ZERO:
        p->y[i] = 0.0f;
        break;
    case QC_OP_PUT:
        qc__op_put(&p->y[i], p->x[i], p->acc);
        break;
    case QC_OP_ADD:
        p->y[i] = p->x[i] + p->x2[i];
        break;
    case QC_OP_RELU:
        /* NaN passes through, as IEEE maximum propagates it: an overflow to
         * NaN must reach the loss and the loss scaler, never become 0. */
        p->y[i] = qc__op_relu(p->x[i]);
        break;
    case QC_OP_RELU_GRAD: {
        /* The derivative at a NaN is NaN: the gradient says so too. */
        const float out = p->x[i], pass = out > 0.0f ? p->x2[i] : 0.0f;
        qc__op_put(&p->y[i], qc__op_isnan(out) ? out : pass, p->acc);
        break;
    }
    case QC_OP_NONFINITE:
        if (!qc__hd_isfinite((double)p->x[i]))
            *p->flag = 1;
        break;
    default:
        break;
    }
}

/* BIAS: element i, of channel ch. */
static inline QC_HD void qc__op_bias_at(const struct qc_op_bias *p, int64_t i, int64_t ch)
{
    p->y[i] += p->b[ch];
}

/* BIAS_GRAD: channel o, summed in ascending t in fp64. */
static inline QC_HD void qc__op_bias_grad_at(const struct qc_op_bias *p, int64_t o)
{
    double sum = 0.0;

    for (int64_t t = 0; t < p->count; t++)
        sum += p->dy[o * p->cstride + t * p->tstride];
    p->db[o] = (float)sum;
}

/* Output element y[a1][a0][e] from x[a0][a1][e]. */
static inline QC_HD void qc__op_swap_at(const struct qc_op_swap *p, int64_t a1, int64_t a0,
                                        int64_t e)
{
    qc__op_put(&p->y[(a1 * p->d0 + a0) * p->inner + e], p->x[(a0 * p->d1 + a1) * p->inner + e],
               p->acc);
}

/* Output (plane, y, xx) of the pooling: the first maximum of its window
 * (the first NaN wins over everything, as IEEE maximum propagates NaN), or
 * the mean as the window's fp32 sum in row order times 1/k^2. */
static inline QC_HD void qc__op_pool_at(const struct qc_op_pool *p, int64_t plane, int64_t y,
                                        int64_t xx)
{
    const int64_t o = (plane * p->oh + y) * p->ow + xx;
    const int64_t w = p->w, k = p->k, s = p->stride;
    const float *x = p->x + plane * p->h * w;

    if (p->max) {
        float best = -(float)qc__hd_inf(false);
        int32_t at = (int32_t)((y * s) * w + xx * s);
        for (int64_t i = 0; i < k; i++)
            for (int64_t j = 0; j < k; j++) {
                const int64_t q = (y * s + i) * w + xx * s + j;
                if (x[q] > best || (qc__op_isnan(x[q]) && !qc__op_isnan(best))) {
                    best = x[q];
                    at = (int32_t)q;
                }
            }
        p->y[o] = best;
        p->argmax[o] = at;
        return;
    }
    float sum = 0.0f;
    for (int64_t i = 0; i < k; i++)
        for (int64_t j = 0; j < k; j++)
            sum += x[(y * s + i) * w + xx * s + j];
    p->y[o] = sum * p->inv;
}

/* The windows over input position `pos` along one axis: those o < out with
 * o*stride <= pos < o*stride + k, as [*lo, *hi] (empty when *lo > *hi). */
static inline QC_HD void qc__op_pool_span(int64_t pos, int64_t k, int64_t stride, int64_t out,
                                          int64_t *lo, int64_t *hi)
{
    const int64_t last = pos / stride;

    *lo = pos - k + 1 <= 0 ? 0 : (pos - k + stride) / stride;
    *hi = last < out - 1 ? last : out - 1;
}

/* Input (plane, py, px)'s gradient, the windows over it spanning rows
 * [ylo, yhi] and columns [xlo, xhi] (qc__op_pool_span): their
 * contributions added in ascending output order, starting from 0 (or from
 * the gradient already there, with acc) -- the order in which a loop over
 * the outputs that scatters into its window adds them. */
static inline QC_HD void qc__op_pool_grad_at(const struct qc_op_pool *p, int64_t plane, int64_t py,
                                             int64_t px, int64_t ylo, int64_t yhi, int64_t xlo,
                                             int64_t xhi)
{
    const int64_t q = (plane * p->h + py) * p->w + px;
    const int32_t local = (int32_t)(py * p->w + px);
    float v = p->acc ? p->dx[q] : 0.0f;

    for (int64_t y = ylo; y <= yhi; y++)
        for (int64_t x = xlo; x <= xhi; x++) {
            const int64_t o = (plane * p->oh + y) * p->ow + x;
            if (!p->max)
                v += p->dy[o] * p->inv;
            else if (p->argmax[o] == local)
                v += p->dy[o];
        }
    p->dx[q] = v;
}

#define QC__BN_EPS      1e-5
#define QC__BN_MOMENTUM 0.1

/* Channel c's statistics: in training the batch's mean and 1/sqrt(var +
 * eps), summed in fp64 in ascending order, and the running statistics
 * moved toward them (the unbiased variance); in evaluation the running
 * ones. */
static inline QC_HD void qc__op_bn_stats_at(const struct qc_op_bn *p, int64_t c)
{
    const int64_t n = p->n;
    float mean, inv;

    if (p->train) {
        const float *x = p->x + c * n;
        double s = 0.0, s2 = 0.0;
        for (int64_t i = 0; i < n; i++)
            s += x[i];
        const double m = s / (double)n;
        for (int64_t i = 0; i < n; i++)
            s2 += (x[i] - m) * (x[i] - m);
        const double var = s2 / (double)n;
        mean = (float)m;
        inv = (float)(1.0 / qc__hd_sqrt(var + QC__BN_EPS));
        p->rmean[c] = (float)((1.0 - QC__BN_MOMENTUM) * p->rmean[c] + QC__BN_MOMENTUM * m);
        p->rvar[c] = (float)((1.0 - QC__BN_MOMENTUM) * p->rvar[c] +
                             QC__BN_MOMENTUM * (n > 1 ? s2 / (double)(n - 1) : var));
    } else {
        mean = p->rmean[c];
        inv = (float)(1.0 / qc__hd_sqrt((double)p->rvar[c] + QC__BN_EPS));
    }
    p->bmean[c] = mean;
    p->binv[c] = inv;
}

/* Element j of channel c. */
static inline QC_HD void qc__op_bn_apply_at(const struct qc_op_bn *p, int64_t c, int64_t j)
{
    const int64_t i = c * p->n + j;

    p->xh[i] = (p->x[i] - p->bmean[c]) * p->binv[c];
    p->y[i] = p->gamma[c] * p->xh[i] + p->beta[c];
}

/* Channel c: the sums of dy and of dy * xh (fp64, ascending), which are
 * dbeta and dgamma, kept in fp64 for the input's gradient. */
static inline QC_HD void qc__op_bn_sums_at(const struct qc_op_bn *p, int64_t c)
{
    const float *g = p->dy + c * p->n, *xh = p->xh + c * p->n;
    double sg = 0.0, sgx = 0.0;

    for (int64_t i = 0; i < p->n; i++) {
        sg += g[i];
        sgx += (double)g[i] * xh[i];
    }
    p->dgamma[c] = (float)sgx;
    p->dbeta[c] = (float)sg;
    p->sums[2 * c] = sg;
    p->sums[2 * c + 1] = sgx;
}

/* Element j of channel c. */
static inline QC_HD void qc__op_bn_grad_at(const struct qc_op_bn *p, int64_t c, int64_t j)
{
    const int64_t i = c * p->n + j;
    const double n = (double)p->n, sg = p->sums[2 * c], sgx = p->sums[2 * c + 1];
    const double k = (double)p->gamma[c] * p->binv[c] / n;

    qc__op_put(&p->dx[i], (float)(k * (n * p->dy[i] - sg - p->xh[i] * sgx)), p->acc);
}

/* A quantized optimizer value: one rne rounding to f (when `on`). */
static inline QC_HD float qc__op_q(const struct qc_format *f, bool on, float x)
{
    struct qc_round rne;

    if (!on)
        return x;
    qc__round_set(&rne, QC_ROUND_RNE);
    return (float)qc__round_value(f, (double)x, &rne, 0, NULL);
}

/* Parameter i's step: the gradient unscaled and decayed, the moment(s)
 * updated and rounded, the update rounded, the master rounded. */
static inline QC_HD void qc__op_optim_at(enum qc_op_kind kind, const struct qc_op_optim *p,
                                         int64_t i)
{
    const float g = p->grads[i] * p->grad_mul + p->weight_decay * p->params[i];
    float upd;

    if (kind == QC_OP_SGD) {
        const float m = qc__op_q(&p->moment, p->quant_moment, p->momentum * p->m[i] + g);
        p->m[i] = m;
        upd = p->nesterov ? g + p->momentum * m : m;
        upd *= p->lr_f;
    } else {
        const float m =
            qc__op_q(&p->moment, p->quant_moment, p->beta1 * p->m[i] + p->one_minus_beta1 * g);
        const float v = p->beta2 * p->v[i] + p->one_minus_beta2 * g * g;
        p->m[i] = m;
        p->v[i] = v;
        upd = (float)(p->lr * ((double)m / p->bc1) / (qc__hd_sqrt((double)v / p->bc2) + p->eps));
    }
    upd = qc__op_q(&p->update, p->quant_update, upd);
    p->params[i] = qc__op_q(&p->master, p->quant_master, p->params[i] - upd);
}

/* *q = a / b, *r = a % b for 0 <= a and 0 < b: in 32 bits when both fit,
 * since a GPU divides 64-bit integers in software, several times slower
 * (the index spaces of a step's tensors are far below 2^32). */
static inline QC_HD void qc__op_divmod(int64_t a, int64_t b, int64_t *q, int64_t *r)
{
    if (((uint64_t)a | (uint64_t)b) <= UINT32_MAX) {
        const uint32_t a32 = (uint32_t)a, b32 = (uint32_t)b;
        *q = a32 / b32;
        *r = a32 % b32;
    } else {
        *q = a / b;
        *r = a % b;
    }
}

/* Indices first, first + step, ... below n of `op`, each index split into
 * its coordinates (the GPU's threads: first = the thread's global index,
 * step = the grid's size). The host runs the same bodies in nested loops
 * over the coordinates instead (ops.c); the unit tests run both. */
static inline QC_HD void qc__op_run(const struct qc_op *op, int64_t first, int64_t step, int64_t n)
{
    /* Each kind its own loop, the kind a constant in it, so that the
     * compilers fold the bodies' switches out of the loops. */
    switch (op->kind) {
    case QC_OP_ZERO:
        for (int64_t i = first; i < n; i += step)
            qc__op_map_at(QC_OP_ZERO, &op->u.map, i);
        break;
    case QC_OP_PUT:
        for (int64_t i = first; i < n; i += step)
            qc__op_map_at(QC_OP_PUT, &op->u.map, i);
        break;
    case QC_OP_ADD:
        for (int64_t i = first; i < n; i += step)
            qc__op_map_at(QC_OP_ADD, &op->u.map, i);
        break;
    case QC_OP_RELU:
        for (int64_t i = first; i < n; i += step)
            qc__op_map_at(QC_OP_RELU, &op->u.map, i);
        break;
    case QC_OP_RELU_GRAD:
        for (int64_t i = first; i < n; i += step)
            qc__op_map_at(QC_OP_RELU_GRAD, &op->u.map, i);
        break;
    case QC_OP_NONFINITE:
        for (int64_t i = first; i < n; i += step)
            qc__op_map_at(QC_OP_NONFINITE, &op->u.map, i);
        break;
    case QC_OP_BIAS: {
        const struct qc_op_bias *p = &op->u.bias;
        for (int64_t i = first; i < n; i += step) {
            int64_t row, e, round, ch; /* row = round * c + ch */
            qc__op_divmod(i, p->inner, &row, &e);
            qc__op_divmod(row, p->c, &round, &ch);
            qc__op_bias_at(p, i, ch);
        }
        break;
    }
    case QC_OP_BIAS_GRAD:
        for (int64_t i = first; i < n; i += step)
            qc__op_bias_grad_at(&op->u.bias, i);
        break;
    case QC_OP_SWAP01: {
        const struct qc_op_swap *p = &op->u.swap;
        for (int64_t i = first; i < n; i += step) {
            int64_t q, e, a1, a0;
            qc__op_divmod(i, p->inner, &q, &e);
            qc__op_divmod(q, p->d0, &a1, &a0);
            qc__op_swap_at(p, a1, a0, e);
        }
        break;
    }
    case QC_OP_POOL: {
        const struct qc_op_pool *p = &op->u.pool;
        for (int64_t i = first; i < n; i += step) {
            int64_t q, x, plane, y;
            qc__op_divmod(i, p->ow, &q, &x);
            qc__op_divmod(q, p->oh, &plane, &y);
            qc__op_pool_at(p, plane, y, x);
        }
        break;
    }
    case QC_OP_POOL_GRAD: {
        const struct qc_op_pool *p = &op->u.pool;
        for (int64_t i = first; i < n; i += step) {
            int64_t q, px, plane, py, ylo, yhi, xlo, xhi;
            qc__op_divmod(i, p->w, &q, &px);
            qc__op_divmod(q, p->h, &plane, &py);
            qc__op_pool_span(py, p->k, p->stride, p->oh, &ylo, &yhi);
            qc__op_pool_span(px, p->k, p->stride, p->ow, &xlo, &xhi);
            qc__op_pool_grad_at(p, plane, py, px, ylo, yhi, xlo, xhi);
        }
        break;
    }
    case QC_OP_BN_STATS:
        for (int64_t i = first; i < n; i += step)
            qc__op_bn_stats_at(&op->u.bn, i);
        break;
    case QC_OP_BN_APPLY:
        for (int64_t i = first; i < n; i += step) {
            int64_t c, j;
            qc__op_divmod(i, op->u.bn.n, &c, &j);
            qc__op_bn_apply_at(&op->u.bn, c, j);
        }
        break;
    case QC_OP_BN_SUMS:
        for (int64_t i = first; i < n; i += step)
            qc__op_bn_sums_at(&op->u.bn, i);
        break;
    case QC_OP_BN_GRAD:
        for (int64_t i = first; i < n; i += step) {
            int64_t c, j;
            qc__op_divmod(i, op->u.bn.n, &c, &j);
            qc__op_bn_grad_at(&op->u.bn, c, j);
        }
        break;
    case QC_OP_SGD:
        for (int64_t i = first; i < n; i += step)
            qc__op_optim_at(QC_OP_SGD, &op->u.optim, i);
        break;
    case QC_OP_ADAM:
        for (int64_t i = first; i < n; i += step)
            qc__op_optim_at(QC_OP_ADAM, &op->u.optim, i);
        break;
    case QC_OP_KINDS:
        break;
    }
}

#endif
