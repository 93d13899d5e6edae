/* The training step's element-wise operations (ops.h): their index spaces
 * and names, the host's loop over ops_hd.h, the dispatch to a backend's
 * device, and host memory for the backends without a device. */
#include "backend/ops.h"

#include <stdlib.h>

#include "backend/ops_hd.h"

int64_t qc__op_size(const struct qc_op *op)
{
    switch (op->kind) {
    case QC_OP_ZERO:
    case QC_OP_PUT:
    case QC_OP_ADD:
    case QC_OP_RELU:
    case QC_OP_RELU_GRAD:
    case QC_OP_NONFINITE:
        return op->u.map.n;
    case QC_OP_BIAS:
        return op->u.bias.n;
    case QC_OP_BIAS_GRAD:
        return op->u.bias.c;
    case QC_OP_SWAP01:
        return op->u.swap.d0 * op->u.swap.d1 * op->u.swap.inner;
    case QC_OP_POOL:
        return op->u.pool.planes * op->u.pool.oh * op->u.pool.ow;
    case QC_OP_POOL_GRAD:
        return op->u.pool.planes * op->u.pool.h * op->u.pool.w;
    case QC_OP_BN_STATS:
    case QC_OP_BN_SUMS:
        return op->u.bn.c;
    case QC_OP_BN_APPLY:
    case QC_OP_BN_GRAD:
        return op->u.bn.c * op->u.bn.n;
    case QC_OP_SGD:
    case QC_OP_ADAM:
        return op->u.optim.n;
    case QC_OP_KINDS:
        break;
    }
    return 0;
}

const char *qc__op_name(enum qc_op_kind kind)
{
    static const char *const names[QC_OP_KINDS] = {
        [QC_OP_ZERO] = "zeroing",
        [QC_OP_PUT] = "copy",
        [QC_OP_ADD] = "residual add",
        [QC_OP_RELU] = "relu",
        [QC_OP_RELU_GRAD] = "relu gradient",
        [QC_OP_NONFINITE] = "overflow check",
        [QC_OP_BIAS] = "bias",
        [QC_OP_BIAS_GRAD] = "bias gradient",
        [QC_OP_SWAP01] = "permutation",
        [QC_OP_POOL] = "pooling",
        [QC_OP_POOL_GRAD] = "pooling gradient",
        [QC_OP_BN_STATS] = "batchnorm statistics",
        [QC_OP_BN_APPLY] = "batchnorm",
        [QC_OP_BN_SUMS] = "batchnorm gradient sums",
        [QC_OP_BN_GRAD] = "batchnorm gradient",
        [QC_OP_SGD] = "SGD step",
        [QC_OP_ADAM] = "Adam step",
    };
    return (unsigned)kind < QC_OP_KINDS ? names[kind] : "unknown operation";
}

/* Below this many elements touched an operation runs on one thread: a
 * parallel region costs more than it saves. */
#define PAR_MIN 32768

/* The threads worth using for `work` elements. */
static int threads_for(int threads, int64_t work)
{
    return threads > 1 && work >= PAR_MIN ? threads : 1;
}

/* The host runs the bodies of ops_hd.h in nested loops over their
 * coordinates (qc__op_run's divisions would cost more than the bodies),
 * the outermost loop split across threads: each index writes only its own
 * outputs, so the split cannot change a bit. */
void qc__op_host(const struct qc_op *op, int threads)
{
    switch (op->kind) {
    case QC_OP_BIAS: {
        const struct qc_op_bias *p = &op->u.bias;
        const int64_t rows = p->inner > 0 ? p->n / p->inner : 0;
#pragma omp parallel for num_threads(threads_for(threads, p->n)) schedule(static)
        for (int64_t row = 0; row < rows; row++)
            for (int64_t j = 0; j < p->inner; j++)
                qc__op_bias_at(p, row * p->inner + j, row % p->c);
        break;
    }
    case QC_OP_SWAP01: {
        const struct qc_op_swap *p = &op->u.swap;
#pragma omp parallel for num_threads(threads_for(threads, qc__op_size(op))) schedule(static)
        for (int64_t a1 = 0; a1 < p->d1; a1++)
            for (int64_t a0 = 0; a0 < p->d0; a0++)
                for (int64_t e = 0; e < p->inner; e++)
                    qc__op_swap_at(p, a1, a0, e);
        break;
    }
    case QC_OP_POOL: {
        const struct qc_op_pool *p = &op->u.pool;
#pragma omp parallel for num_threads(threads_for(threads, p->planes * p->h * p->w)) schedule(static)
        for (int64_t plane = 0; plane < p->planes; plane++)
            for (int64_t y = 0; y < p->oh; y++)
                for (int64_t x = 0; x < p->ow; x++)
                    qc__op_pool_at(p, plane, y, x);
        break;
    }
    case QC_OP_POOL_GRAD: {
        /* The column spans once per operation, the row span once per row. */
        const struct qc_op_pool *p = &op->u.pool;
        int64_t *xs = malloc((size_t)(2 * p->w) * sizeof *xs);
        if (!xs) {
            qc__op_run(op, 0, 1, qc__op_size(op));
            break;
        }
        for (int64_t x = 0; x < p->w; x++)
            qc__op_pool_span(x, p->k, p->stride, p->ow, &xs[2 * x], &xs[2 * x + 1]);
#pragma omp parallel for num_threads(threads_for(threads, qc__op_size(op))) schedule(static)
        for (int64_t plane = 0; plane < p->planes; plane++)
            for (int64_t y = 0; y < p->h; y++) {
                int64_t ylo, yhi;
                qc__op_pool_span(y, p->k, p->stride, p->oh, &ylo, &yhi);
                for (int64_t x = 0; x < p->w; x++)
                    qc__op_pool_grad_at(p, plane, y, x, ylo, yhi, xs[2 * x], xs[2 * x + 1]);
            }
        free(xs);
        break;
    }
    case QC_OP_BN_STATS:
    case QC_OP_BN_SUMS: {
        const struct qc_op_bn *p = &op->u.bn;
#pragma omp parallel for num_threads(threads_for(threads, p->c * p->n)) schedule(static)
        for (int64_t c = 0; c < p->c; c++)
            if (op->kind == QC_OP_BN_STATS)
                qc__op_bn_stats_at(p, c);
            else
                qc__op_bn_sums_at(p, c);
        break;
    }
    case QC_OP_BN_APPLY:
    case QC_OP_BN_GRAD: {
        const struct qc_op_bn *p = &op->u.bn;
#pragma omp parallel for num_threads(threads_for(threads, p->c * p->n)) schedule(static)
        for (int64_t c = 0; c < p->c; c++)
            for (int64_t j = 0; j < p->n; j++)
                if (op->kind == QC_OP_BN_APPLY)
                    qc__op_bn_apply_at(p, c, j);
                else
                    qc__op_bn_grad_at(p, c, j);
        break;
    }
    case QC_OP_NONFINITE:
        /* every index may set the one flag: one thread */
        qc__op_run(op, 0, 1, qc__op_size(op));
        break;
    default: {
        /* One coordinate, the flat index, or a channel: contiguous slices
         * per thread. Channel maps touch count elements each. */
        const int64_t n = qc__op_size(op);
        const int64_t work = op->kind == QC_OP_BIAS_GRAD ? n * op->u.bias.count : n;
        int nt = threads_for(threads, work);
        if (nt > n)
            nt = n > 0 ? (int)n : 1;
#pragma omp parallel for num_threads(nt) schedule(static)
        for (int t = 0; t < nt; t++)
            qc__op_run(op, n * t / nt, 1, n * (t + 1) / nt);
        break;
    }
    }
}

int qc_backend_op(struct qc_backend *be, const struct qc_op *op, struct qc_err *err)
{
    if (be && be->vt->op)
        return be->vt->op(be, op, err);
    qc__op_host(op, be ? be->threads : 1);
    return QC_OK;
}

static void *host_alloc(size_t bytes)
{
    return calloc(bytes ? bytes : 1, 1);
}

static const struct qc_backend_mem host_mem = {
    .what = "host",
    .alloc = host_alloc,
    .free = free,
};

const struct qc_backend_mem *qc_backend_mem(const struct qc_backend *be)
{
    return be && be->vt->mem ? be->vt->mem : &host_mem;
}
