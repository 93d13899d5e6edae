/* Quantization on the GPU: scalar formats one element per thread, block
 * formats (MX, BFP) one block per thread, each through the same QC_HD
 * functions the CPU's exact engine calls (qc__round_value and
 * qc__quantize_block_hd), so the values, the stochastic bits of element i
 * and the counters are the CPU's. The fp32 input is widened to fp64 first,
 * as the CPU's scalar path does. */
#include "cuda_impl.h"

static __global__ void k_widen(double *out, const float *in, int64_t rows, int64_t cols,
                               bool transpose)
{
    const int64_t n = rows * cols;

    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x) {
        const int64_t r = i / cols, c = i % cols;
        out[transpose ? c * rows + r : i] = (double)in[i];
    }
}

static __global__ void k_narrow(float *out, const double *in, int64_t n)
{
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x)
        out[i] = qc__cuda_to_f32(in[i]);
}

/* x[i] rounded to scalar format f, element i drawing index first + i. */
static __global__ void k_round_scalar(double *x, int64_t n, const struct qc_format *fp,
                                      const struct qc_round *rp, uint64_t first,
                                      struct qc_round_stats *st)
{
    const struct qc_format f = *fp;
    const struct qc_round r = *rp;
    struct qc_round_stats mine = {0, 0, 0, 0};

    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x)
        x[i] = qc__round_value(&f, x[i], &r, first + (uint64_t)i, st ? &mine : NULL);
    if (st)
        qc__cuda_stats_flush(&mine, st);
}

/* One thread per block of a block format: blocks of f->block values along
 * each row of a rows x cols array, the last of a row possibly short. */
static __global__ void k_round_blocks(double *x, int64_t rows, int64_t cols,
                                      const struct qc_format *fp, const struct qc_format *elp,
                                      const struct qc_round *rp, enum qc_scale_rule rule,
                                      uint64_t first, struct qc_round_stats *st)
{
    const struct qc_format f = *fp, el = *elp;
    const struct qc_round r = *rp;
    const int64_t per_row = (cols + f.block - 1) / f.block, n = rows * per_row;
    struct qc_round_stats mine = {0, 0, 0, 0};

    for (int64_t t = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; t < n;
         t += (int64_t)gridDim.x * blockDim.x) {
        const int64_t row = t / per_row, c = t % per_row * f.block;
        const int64_t len = cols - c < f.block ? cols - c : f.block;
        const int64_t at = row * cols + c;
        qc__quantize_block_hd(x + at, x + at, len, &f, &el, &r, rule, first + (uint64_t)at,
                              st ? &mine : NULL);
    }
    if (st)
        qc__cuda_stats_flush(&mine, st);
}

/* The descriptions a rounding kernel reads, copied to the device. */
struct round_args {
    struct qc_format f, el;
    struct qc_round r;
};

int qc__cuda_widen(struct qc__cuda_backend *cb, double *out, const float *in, int64_t rows,
                   int64_t cols, bool transpose, struct qc_err *err)
{
    if (rows * cols == 0)
        return QC_OK;
    k_widen<<<qc__cuda_blocks(rows * cols), QC__CUDA_THREADS, 0, cb->stream>>>(out, in, rows, cols,
                                                                               transpose);
    cudaError_t e = cudaGetLastError();
    return e == cudaSuccess ? QC_OK : qc__cuda_fail(e, "widening to fp64", err);
}

int qc__cuda_narrow(struct qc__cuda_backend *cb, float *out, const double *in, int64_t n,
                    struct qc_err *err)
{
    if (n == 0)
        return QC_OK;
    k_narrow<<<qc__cuda_blocks(n), QC__CUDA_THREADS, 0, cb->stream>>>(out, in, n);
    cudaError_t e = cudaGetLastError();
    return e == cudaSuccess ? QC_OK : qc__cuda_fail(e, "narrowing to fp32", err);
}

int qc__cuda_round_f64(struct qc__cuda_backend *cb, double *x, int64_t rows, int64_t cols,
                       const struct qc_format *f, const struct qc_round *r, enum qc_scale_rule rule,
                       uint64_t first, bool counted, struct qc_err *err)
{
    struct round_args host;
    struct round_args *dev;
    cudaError_t e;

    if (rows * cols == 0)
        return QC_OK;
    /* The argument slot is free: every user of it waits for its kernels. */
    int rc;

    if ((rc = qc__cuda_buf(cb, QC__CUDA_BUF_ARGS, sizeof *dev, (void **)&dev, err)))
        return rc;
    memset(&host, 0, sizeof host);
    host.f = *f;
    qc_format_element(&host.el, f);
    host.r = *r;
    if ((e = cudaMemcpyAsync(dev, &host, sizeof host, cudaMemcpyHostToDevice, cb->stream)) !=
        cudaSuccess)
        return qc__cuda_fail(e, "copying the format", err);
    struct qc_round_stats *st = counted ? cb->d_stats : NULL;
    if (qc_format_is_scalar(f)) {
        k_round_scalar<<<qc__cuda_blocks(rows * cols), QC__CUDA_THREADS, 0, cb->stream>>>(
            x, rows * cols, &dev->f, &dev->r, first, st);
    } else {
        const int64_t nblk = rows * ((cols + f->block - 1) / f->block);
        k_round_blocks<<<qc__cuda_blocks(nblk), QC__CUDA_THREADS, 0, cb->stream>>>(
            x, rows, cols, &dev->f, &dev->el, &dev->r, rule, first, st);
    }
    /* Waiting here keeps `host` alive through the copy and frees the slot. */
    return qc__cuda_sync(cb, "rounding", err);
}

int qc__cuda_quantize_f32(struct qc_backend *be, float *out, const float *in, int64_t rows,
                          int64_t cols, const struct qc_format *f, const struct qc_round *r,
                          enum qc_scale_rule rule, uint64_t first_index, struct qc_round_stats *st,
                          struct qc_err *err)
{
    struct qc__cuda_backend *cb = (struct qc__cuda_backend *)be;
    const int64_t n = rows * cols;
    float *d32;
    double *d64;
    cudaError_t e;
    int rc;

    if ((rc = qc__quantize_f32_check(f, r, rows, cols, err)))
        return rc;
    if (n == 0)
        return QC_OK;
    if ((e = cudaSetDevice(cb->dev)) != cudaSuccess)
        return qc__cuda_fail(e, "selecting the device", err);
    if ((rc = qc__cuda_buf(cb, QC__CUDA_BUF_A32, (size_t)n * sizeof(float), (void **)&d32, err)) ||
        (rc = qc__cuda_buf(cb, QC__CUDA_BUF_A64, (size_t)n * sizeof(double), (void **)&d64, err)))
        return rc;
    if ((e = cudaMemcpyAsync(d32, in, (size_t)n * sizeof(float), cudaMemcpyDefault, cb->stream)) !=
        cudaSuccess)
        return qc__cuda_fail(e, "copying the input", err);
    if ((st && (rc = qc__cuda_stats_begin(cb, err))) ||
        (rc = qc__cuda_widen(cb, d64, d32, 1, n, false, err)) ||
        (rc = qc__cuda_round_f64(cb, d64, rows, cols, f, r, rule, first_index, st != NULL, err)) ||
        (rc = qc__cuda_narrow(cb, d32, d64, n, err)))
        return rc;
    if ((e = cudaMemcpyAsync(out, d32, (size_t)n * sizeof(float), cudaMemcpyDefault, cb->stream)) !=
        cudaSuccess)
        return qc__cuda_fail(e, "copying the result", err);
    if ((rc = qc__cuda_sync(cb, "quantizing", err)))
        return rc;
    return qc__cuda_stats_end(cb, st, err);
}
