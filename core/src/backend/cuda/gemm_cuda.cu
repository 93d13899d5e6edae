/* The emulated GEMM on the GPU. The operands are widened to fp64 and
 * rounded to the multiplier's readings on the device (quantize_cuda.cu,
 * the CPU's qc_quantize_f64 path), A as m x k and B transposed to n x k so
 * that blocks of block formats run along K. Then one thread computes one
 * output element with the QC_HD dot product of num/mac_hd.h, fed tile by
 * tile from shared memory in ascending k: the same products, added in the
 * same order, with the same stochastic indices, as the CPU's exact engine.
 * acc=native rounds the inputs the same way and hands them to cuBLAS sgemm
 * (fast, fp32, its own order: not bit-reproducible, as on the CPU). */
#include "cuda_impl.h"

/* Output tile of a thread block, and the K slice it stages per step. */
#define TILE   16
#define TILE_K 16
/* Thread (ty, tx) stages column tx of the K slice: one column per thread. */
static_assert(TILE_K == TILE, "the staging loads one K column per thread column");

/* c (m x n, row stride ldc) = the MAC dot products of A's rows (m x k) with
 * Bt's rows (n x k). Thread (ty, tx) of block (by, bx) owns output
 * (by*TILE + ty, bx*TILE + tx); every thread of the block helps stage the
 * tiles, in range or not, so the barriers are uniform. */
static __global__ void __launch_bounds__(TILE *TILE)
    k_gemm_emul(float *c, int64_t ldc, const double *a, const double *bt, int64_t m, int64_t n,
                int64_t k, int64_t nchunks, const struct qc_mac *macp, struct qc_round_stats *st)
{
    __shared__ double as[TILE][TILE_K + 1], bs[TILE][TILE_K + 1];
    const struct qc_mac *mac = macp;
    const int tx = threadIdx.x, ty = threadIdx.y;
    const int64_t row_tiles = (m + TILE - 1) / TILE;
    struct qc_round_stats mine = {0, 0, 0, 0};
    struct qc_round_stats *want = st ? &mine : NULL;

    for (int64_t by = blockIdx.y; by < row_tiles; by += gridDim.y) {
        const int64_t i = by * TILE + ty, j = (int64_t)blockIdx.x * TILE + tx;
        const bool mine_ok = i < m && j < n;
        /* docs/mac.md: output (i, j) draws (i*n + j)*S + step, S = K + nchunks
         * rounded up to a multiple of 4. */
        const uint64_t base = qc__sr_dot_base((uint64_t)(i * n + j), (uint64_t)(k + nchunks));
        struct qc__dot s;

        qc__dot_init(&s, mac, k);
        for (int64_t k0 = 0; k0 < k; k0 += TILE_K) {
            /* Row ty of each tile: A row by*TILE+ty, Bt row bx*TILE+ty. */
            const int64_t ar = by * TILE + ty, br = (int64_t)blockIdx.x * TILE + ty;
            const int64_t kk = k0 + tx;
            as[ty][tx] = ar < m && kk < k ? a[ar * k + kk] : 0.0;
            bs[ty][tx] = br < n && kk < k ? bt[br * k + kk] : 0.0;
            __syncthreads();
            const int64_t len = k - k0 < TILE_K ? k - k0 : TILE_K;
            if (mine_ok)
                for (int64_t t = 0; t < len; t++)
                    qc__dot_push(&s, mac, as[ty][t], bs[tx][t], base, want);
            __syncthreads();
        }
        if (mine_ok)
            c[i * ldc + j] = qc__cuda_to_f32(qc__dot_finish(&s, mac, base, want));
    }
    if (st)
        qc__cuda_stats_flush(&mine, st);
}

/* Bt (n x k, dense fp64) gathered from the tensor `t` of a B view: element
 * (j, p) is B(p, j), read by the CPU's own view code (num/gemm_view_hd.h). */
static __global__ void k_gather_view(double *bt, const float *t, struct qc_gemm_conv v,
                                     enum qc_gemm_b_view view, int64_t n, int64_t k)
{
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n * k;
         i += (int64_t)gridDim.x * blockDim.x)
        bt[i] = (double)qc__view_value(&v, view, t, i % k, i / k);
}

/* A (m x k, dense) and Bt (n x k, dense) as fp64 on the device, rounded to
 * the multiplier's readings unless the description says they already are. */
static int stage_operands(struct qc__cuda_backend *cb, double **a64, double **b64, const float *a,
                          const float *b, const struct qc_gemm_desc *d, const struct qc_mac *mac,
                          struct qc_err *err)
{
    const int64_t m = d->m, n = d->n, k = d->k;
    float *a32, *b32;
    struct qc_round rne;
    cudaError_t e;
    int rc;

    if ((rc = qc__cuda_buf(cb, QC__CUDA_BUF_A32, (size_t)(m * k) * sizeof(float), (void **)&a32,
                           err)) ||
        (rc = qc__cuda_buf(cb, QC__CUDA_BUF_B32, (size_t)(n * k) * sizeof(float), (void **)&b32,
                           err)) ||
        (rc = qc__cuda_buf(cb, QC__CUDA_BUF_A64, (size_t)(m * k) * sizeof(double), (void **)a64,
                           err)) ||
        (rc = qc__cuda_buf(cb, QC__CUDA_BUF_B64, (size_t)(n * k) * sizeof(double), (void **)b64,
                           err)))
        return rc;
    if (m * k > 0) {
        /* A as stored: m rows of k (or k rows of m when transposed), strided. */
        const int64_t rows = d->trans_a ? k : m, cols = d->trans_a ? m : k;
        if ((e = cudaMemcpy2DAsync(a32, (size_t)cols * sizeof(float), a,
                                   (size_t)qc_gemm_lda(d) * sizeof(float),
                                   (size_t)cols * sizeof(float), (size_t)rows, cudaMemcpyDefault,
                                   cb->stream)) != cudaSuccess)
            return qc__cuda_fail(e, "copying A", err);
        if ((rc = qc__cuda_widen(cb, *a64, a32, rows, cols, d->trans_a, err)))
            return rc;
    }
    if (n * k > 0 && d->b_view != QC_GEMM_B_ARRAY) {
        /* A view (a convolution's unfolded operand): the tensor goes up as
         * it is, and Bt is gathered from it on the device. */
        const struct qc_gemm_conv *v = d->b_conv;
        const int64_t len = v->c * v->nb * v->h * v->w;
        if ((rc = qc__cuda_buf(cb, QC__CUDA_BUF_B32,
                               (size_t)(len > n * k ? len : n * k) * sizeof(float), (void **)&b32,
                               err)))
            return rc;
        if ((e = cudaMemcpyAsync(b32, b, (size_t)len * sizeof(float), cudaMemcpyDefault,
                                 cb->stream)) != cudaSuccess)
            return qc__cuda_fail(e, "copying B's tensor", err);
        k_gather_view<<<qc__cuda_blocks(n * k), QC__CUDA_THREADS, 0, cb->stream>>>(*b64, b32, *v,
                                                                                   d->b_view, n, k);
        if ((e = cudaGetLastError()) != cudaSuccess)
            return qc__cuda_fail(e, "gathering B's view", err);
    } else if (n * k > 0) {
        /* B as stored: k rows of n, or n rows of k when transposed (then it
         * is already Bt). */
        const int64_t rows = d->trans_b ? n : k, cols = d->trans_b ? k : n;
        if ((e = cudaMemcpy2DAsync(b32, (size_t)cols * sizeof(float), b,
                                   (size_t)qc_gemm_ldb(d) * sizeof(float),
                                   (size_t)cols * sizeof(float), (size_t)rows, cudaMemcpyDefault,
                                   cb->stream)) != cudaSuccess)
            return qc__cuda_fail(e, "copying B", err);
        if ((rc = qc__cuda_widen(cb, *b64, b32, rows, cols, !d->trans_b, err)))
            return rc;
    }
    qc__round_set(&rne, QC_ROUND_RNE);
    if ((!d->a_rounded && (rc = qc__cuda_round_f64(cb, *a64, m, k, &mac->a_read, &rne,
                                                   mac->scale_rule, 0, false, err))) ||
        (!d->b_rounded && (rc = qc__cuda_round_f64(cb, *b64, n, k, &mac->b_read, &rne,
                                                   mac->scale_rule, 0, false, err))))
        return rc;
    return qc__cuda_sync(cb, "staging the operands", err);
}

/* acc=native: the rounded operands, narrowed to fp32 as the CPU does, through
 * cuBLAS sgemm into a dense m x n result. Row-major C = A B is column-major
 * C^T = B^T A^T: with Bt (n x k row-major) read as k x n column-major and
 * transposed, and A (m x k row-major) as A^T, k x m column-major. */
static int gemm_native(struct qc__cuda_backend *cb, float *dc, const double *a64, const double *b64,
                       const struct qc_gemm_desc *d, struct qc_err *err)
{
    const int64_t m = d->m, n = d->n, k = d->k;
    const float one = 1.0f, zero = 0.0f;
    float *a32 = (float *)cb->buf[QC__CUDA_BUF_A32], *b32 = (float *)cb->buf[QC__CUDA_BUF_B32];
    const struct qc__cublas *blas;
    cublasStatus_t s;
    cudaError_t e;
    int rc;

    if ((rc = qc__cublas_get(&blas, err)))
        return rc;

    if (k == 0) {
        e = cudaMemsetAsync(dc, 0, (size_t)(m * n) * sizeof(float), cb->stream);
        return e == cudaSuccess ? QC_OK : qc__cuda_fail(e, "clearing C", err);
    }
    if ((rc = qc__cuda_narrow(cb, a32, a64, m * k, err)) ||
        (rc = qc__cuda_narrow(cb, b32, b64, n * k, err)))
        return rc;
    if (!cb->blas) {
        if ((s = blas->create(&cb->blas)) != CUBLAS_STATUS_SUCCESS) {
            cb->blas = NULL;
            return qc__cublas_fail(blas, s, "creating the handle", err);
        }
    }
    if ((s = blas->set_stream(cb->blas, cb->stream)) != CUBLAS_STATUS_SUCCESS ||
        (s = blas->sgemm(cb->blas, CUBLAS_OP_T, CUBLAS_OP_N, (int)n, (int)m, (int)k, &one, b32,
                         (int)k, a32, (int)k, &zero, dc, (int)n)) != CUBLAS_STATUS_SUCCESS)
        return qc__cublas_fail(blas, s, "sgemm", err);
    return QC_OK;
}

int qc__cuda_gemm(struct qc_backend *be, float *c, const float *a, const float *b,
                  const struct qc_gemm_desc *d, const struct qc_mac *mac_in,
                  struct qc_round_stats *st, struct qc_err *err)
{
    struct qc__cuda_backend *cb = (struct qc__cuda_backend *)be;
    const int64_t m = d->m, n = d->n, k = d->k;
    double *a64, *b64;
    struct qc_mac *dmac;
    float *dc;
    cudaError_t e;
    int rc;

    if ((rc = qc_gemm_check(d, mac_in, err)))
        return rc;
    if (m == 0 || n == 0)
        return QC_OK;
    if ((e = cudaSetDevice(cb->dev)) != cudaSuccess)
        return qc__cuda_fail(e, "selecting the device", err);
    if ((rc = stage_operands(cb, &a64, &b64, a, b, d, mac_in, err)) ||
        (rc = qc__cuda_buf(cb, QC__CUDA_BUF_C, (size_t)(m * n) * sizeof(float), (void **)&dc, err)))
        return rc;
    if (mac_in->native) {
        if ((rc = gemm_native(cb, dc, a64, b64, d, err)))
            return rc;
    } else {
        /* Each GEMM call draws its own stochastic bits (as gemm_cpu.c). */
        struct qc_mac mac = *mac_in;
        mac.acc_round.stream = d->sr_stream;
        const int64_t chunk = mac.chunk > 0 && mac.chunk < k ? mac.chunk : k;
        const int64_t nchunks = chunk > 0 ? (k + chunk - 1) / chunk : 0;
        const int64_t col_tiles = (n + TILE - 1) / TILE, row_tiles = (m + TILE - 1) / TILE;
        if (col_tiles > INT32_MAX)
            return qc_err_set(err, QC_EINVAL, "shape", "GEMM with %lld columns is too wide",
                              (long long)n);
        if ((rc = qc__cuda_buf(cb, QC__CUDA_BUF_ARGS, sizeof mac, (void **)&dmac, err)))
            return rc;
        if ((e = cudaMemcpyAsync(dmac, &mac, sizeof mac, cudaMemcpyHostToDevice, cb->stream)) !=
            cudaSuccess)
            return qc__cuda_fail(e, "copying the MAC", err);
        if (st && (rc = qc__cuda_stats_begin(cb, err)))
            return rc;
        dim3 grid((unsigned)col_tiles, (unsigned)(row_tiles < 65535 ? row_tiles : 65535));
        k_gemm_emul<<<grid, dim3(TILE, TILE), 0, cb->stream>>>(dc, n, a64, b64, m, n, k, nchunks,
                                                               dmac, st ? cb->d_stats : NULL);
        /* Waiting here keeps `mac` alive through its copy. */
        if ((rc = qc__cuda_sync(cb, "the emulated GEMM", err)))
            return rc;
    }
    if ((e = cudaMemcpy2DAsync(c, (size_t)qc_gemm_ldc(d) * sizeof(float), dc,
                               (size_t)n * sizeof(float), (size_t)n * sizeof(float), (size_t)m,
                               cudaMemcpyDefault, cb->stream)) != cudaSuccess)
        return qc__cuda_fail(e, "copying C", err);
    if ((rc = qc__cuda_sync(cb, "copying C", err)))
        return rc;
    if (st) {
        struct qc_round_stats sum = {0, 0, 0, 0};
        if (!mac_in->native && (rc = qc__cuda_stats_end(cb, &sum, err)))
            return rc;
        sum.ops = (uint64_t)m * (uint64_t)n * (uint64_t)k;
        qc_round_stats_add(st, &sum);
    }
    return QC_OK;
}
