/* Internal to the CUDA backend (C++ for nvcc only): the backend object, its
 * device buffers, CUDA error reporting, and the reduction of per-thread
 * rounding counters. The arithmetic itself is the library's QC_HD headers
 * (num/mac_hd.h, num/quantize_hd.h); these files add launch, tiling and
 * memory only. */
#ifndef QCORE_CUDA_IMPL_H
#define QCORE_CUDA_IMPL_H

#include <cublas_v2.h>
#include <cuda_runtime.h>

extern "C" {
#include "backend/backend_impl.h"
#include "num/gemm_view_hd.h"
#include "num/mac_hd.h"
#include "num/quantize_hd.h"
#include "num/quantize_impl.h"
#include "qcore/gemm.h"
}

/* Device scratch slots, each grown on demand and kept for the backend's
 * life so that a training step's GEMMs reuse them. */
enum {
    QC__CUDA_BUF_A32 = 0, /* fp32 operands as uploaded */
    QC__CUDA_BUF_B32,
    QC__CUDA_BUF_A64, /* operands widened to fp64 and rounded to the readings */
    QC__CUDA_BUF_B64,
    QC__CUDA_BUF_C,    /* the result, dense */
    QC__CUDA_BUF_ARGS, /* the MAC or format descriptions the kernels read */
    QC__CUDA_NBUF,
};

/* cuBLAS, opened at the first acc=native GEMM rather than linked: every
 * program that links libqcore would otherwise load it (and its 500 MB
 * libcublasLt) at start-up, GPU or not. */
struct qc__cublas {
    decltype(&cublasCreate_v2) create;
    decltype(&cublasDestroy_v2) destroy;
    decltype(&cublasSetStream_v2) set_stream;
    decltype(&cublasSgemm_v2) sgemm;
    decltype(&cublasGetStatusString) status;
};

/* The process's cuBLAS (loaded once, thread-safe); QC_EUNSUPP naming the
 * library when it cannot be loaded. */
int qc__cublas_get(const struct qc__cublas **out, struct qc_err *err);

struct qc__cuda_backend {
    struct qc_backend base; /* first: the registry frees the struct */
    int dev;
    cudaStream_t stream;
    cublasHandle_t blas; /* created at the first acc=native GEMM */
    void *buf[QC__CUDA_NBUF];
    size_t cap[QC__CUDA_NBUF];
    struct qc_round_stats *d_stats; /* device counters of the call in progress */
};

/* Turns a CUDA or cuBLAS failure into a QC_E* code with a message naming
 * `what` (out of device memory: QC_ENOMEM; anything else: QC_EINTERNAL). */
int qc__cuda_fail(cudaError_t e, const char *what, struct qc_err *err);
int qc__cublas_fail(const struct qc__cublas *b, cublasStatus_t s, const char *what,
                    struct qc_err *err);

/* *out = the device buffer of `slot`, at least `bytes` long (contents lost
 * when it grows). QC_ENOMEM when the device is out of memory. */
int qc__cuda_buf(struct qc__cuda_backend *cb, int slot, size_t bytes, void **out,
                 struct qc_err *err);

/* Waits for the backend's stream and reports a failed launch or copy. */
int qc__cuda_sync(struct qc__cuda_backend *cb, const char *what, struct qc_err *err);

/* Clears the device counters before a counted call, and adds them to *st
 * after it (st may be NULL: nothing to do). */
int qc__cuda_stats_begin(struct qc__cuda_backend *cb, struct qc_err *err);
int qc__cuda_stats_end(struct qc__cuda_backend *cb, struct qc_round_stats *st, struct qc_err *err);

/* Rounds a dense rows x cols fp64 device array in place to format f with r
 * (blocks of block formats along the rows), exactly as qc_quantize_f64,
 * counting into the device counters when `counted`. */
int qc__cuda_round_f64(struct qc__cuda_backend *cb, double *x, int64_t rows, int64_t cols,
                       const struct qc_format *f, const struct qc_round *r, enum qc_scale_rule rule,
                       uint64_t first, bool counted, struct qc_err *err);

/* out (rows x cols fp64) = in (rows x cols fp32), or its transpose
 * (cols x rows) when `transpose`. */
int qc__cuda_widen(struct qc__cuda_backend *cb, double *out, const float *in, int64_t rows,
                   int64_t cols, bool transpose, struct qc_err *err);

/* out = in rounded (rne) to fp32, NaN as the canonical quiet NaN. */
int qc__cuda_narrow(struct qc__cuda_backend *cb, float *out, const double *in, int64_t n,
                    struct qc_err *err);

/* The vtable entries (quantize_cuda.cu, gemm_cuda.cu). */
int qc__cuda_quantize_f32(struct qc_backend *be, float *out, const float *in, int64_t rows,
                          int64_t cols, const struct qc_format *f, const struct qc_round *r,
                          enum qc_scale_rule rule, uint64_t first_index, struct qc_round_stats *st,
                          struct qc_err *err);
int qc__cuda_gemm(struct qc_backend *be, float *c, const float *a, const float *b,
                  const struct qc_gemm_desc *d, const struct qc_mac *mac, struct qc_round_stats *st,
                  struct qc_err *err);

/* The training step's element-wise operations (ops_cuda.cu), and the
 * managed memory a net on this backend keeps its tensors in. */
int qc__cuda_op(struct qc_backend *be, const struct qc_op *op, struct qc_err *err);
extern const struct qc_backend_mem qc__cuda_mem;

/* Threads per block of the element-wise kernels, and how many blocks a
 * grid-stride loop over n elements launches. */
#define QC__CUDA_THREADS 256
static inline unsigned qc__cuda_blocks(int64_t n)
{
    int64_t b = (n + QC__CUDA_THREADS - 1) / QC__CUDA_THREADS;
    return (unsigned)(b < 1 ? 1 : b > 65535 * 8 ? 65535 * 8 : b);
}

/* Adds each thread's counters to the device counters: a warp reduction,
 * then one atomic add per counter and warp. Every thread of the block must
 * call it (out-of-range threads with zeros). Counter sums are integers, so
 * the order of the additions cannot change them. */
static __device__ __forceinline__ void qc__cuda_stats_flush(const struct qc_round_stats *mine,
                                                            struct qc_round_stats *dst)
{
    unsigned long long v[4] = {mine->ops, mine->overflow, mine->underflow, mine->swamping};

    for (int i = 0; i < 4; i++)
        for (int off = 16; off > 0; off >>= 1)
            v[i] += __shfl_down_sync(0xffffffffu, v[i], off);
    if ((threadIdx.x + threadIdx.y * blockDim.x) % 32 == 0) {
        unsigned long long *d = (unsigned long long *)dst;
        for (int i = 0; i < 4; i++)
            if (v[i])
                atomicAdd(&d[i], v[i]);
    }
}

/* A double result stored as fp32 (rne, as the CPU's cast), with NaN as the
 * canonical quiet NaN the CPU's cast gives (the GPU's own conversion would
 * give a different NaN pattern). */
static __device__ __forceinline__ float qc__cuda_to_f32(double v)
{
    return qc__hd_isnan(v) ? __int_as_float(0x7fc00000) : __double2float_rn(v);
}

#endif
