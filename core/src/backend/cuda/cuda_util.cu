/* The CUDA backend's plumbing, shared by its quantizer and GEMM: CUDA and
 * cuBLAS errors as QC_E* codes, the growable device scratch buffers,
 * waiting for the stream, and the device-side rounding counters. */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

#include "cuda_impl.h"

int qc__cuda_fail(cudaError_t e, const char *what, struct qc_err *err)
{
    const int code = e == cudaErrorMemoryAllocation ? QC_ENOMEM : QC_EINTERNAL;

    cudaGetLastError(); /* clear a sticky launch error so the next call starts clean */
    return qc_err_set(err, code, "device", "CUDA: %s: %s (%s)", what, cudaGetErrorString(e),
                      cudaGetErrorName(e));
}

int qc__cublas_fail(const struct qc__cublas *b, cublasStatus_t s, const char *what,
                    struct qc_err *err)
{
    const int code = s == CUBLAS_STATUS_ALLOC_FAILED ? QC_ENOMEM : QC_EINTERNAL;

    return qc_err_set(err, code, "device", "cuBLAS: %s: %s", what, b->status(s));
}

static struct qc__cublas blas;
static char blas_why[256];
static pthread_once_t blas_once = PTHREAD_ONCE_INIT;

/* The library's soname, then the toolkit's copy this build was made with. */
static void blas_load(void)
{
    static const char *const names[] = {"libcublas.so.13", QC_CUDA_LIB "/libcublas.so.13",
                                        "libcublas.so"};
    void *lib = NULL;

    for (size_t i = 0; i < sizeof names / sizeof names[0] && !lib; i++)
        lib = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        snprintf(blas_why, sizeof blas_why, "cannot load cuBLAS (libcublas.so.13): %s", dlerror());
        return;
    }
    blas.create = (decltype(blas.create))dlsym(lib, "cublasCreate_v2");
    blas.destroy = (decltype(blas.destroy))dlsym(lib, "cublasDestroy_v2");
    blas.set_stream = (decltype(blas.set_stream))dlsym(lib, "cublasSetStream_v2");
    blas.sgemm = (decltype(blas.sgemm))dlsym(lib, "cublasSgemm_v2");
    blas.status = (decltype(blas.status))dlsym(lib, "cublasGetStatusString");
    if (!blas.create || !blas.destroy || !blas.set_stream || !blas.sgemm || !blas.status) {
        snprintf(blas_why, sizeof blas_why,
                 "cuBLAS (libcublas.so.13) lacks cublasSgemm_v2 and "
                 "its companions");
        blas.create = NULL;
    }
}

int qc__cublas_get(const struct qc__cublas **out, struct qc_err *err)
{
    pthread_once(&blas_once, blas_load);
    *out = &blas;
    if (!blas.create)
        return qc_err_set(err, QC_EUNSUPP, "device", "acc=native on the GPU: %s", blas_why);
    return QC_OK;
}

int qc__cuda_buf(struct qc__cuda_backend *cb, int slot, size_t bytes, void **out,
                 struct qc_err *err)
{
    cudaError_t e;

    if (bytes == 0)
        bytes = 1;
    if (cb->cap[slot] < bytes) {
        cudaFree(cb->buf[slot]);
        cb->buf[slot] = NULL;
        cb->cap[slot] = 0;
        if ((e = cudaMalloc(&cb->buf[slot], bytes)) != cudaSuccess) {
            char what[64];
            cb->buf[slot] = NULL;
            snprintf(what, sizeof what, "allocating %zu bytes", bytes);
            return qc__cuda_fail(e, what, err);
        }
        cb->cap[slot] = bytes;
    }
    *out = cb->buf[slot];
    return QC_OK;
}

int qc__cuda_sync(struct qc__cuda_backend *cb, const char *what, struct qc_err *err)
{
    cudaError_t e = cudaGetLastError();

    if (e == cudaSuccess)
        e = cudaStreamSynchronize(cb->stream);
    return e == cudaSuccess ? QC_OK : qc__cuda_fail(e, what, err);
}

int qc__cuda_stats_begin(struct qc__cuda_backend *cb, struct qc_err *err)
{
    cudaError_t e = cudaMemsetAsync(cb->d_stats, 0, sizeof *cb->d_stats, cb->stream);

    return e == cudaSuccess ? QC_OK : qc__cuda_fail(e, "clearing the counters", err);
}

int qc__cuda_stats_end(struct qc__cuda_backend *cb, struct qc_round_stats *st, struct qc_err *err)
{
    struct qc_round_stats got;
    cudaError_t e;

    if (!st)
        return QC_OK;
    e = cudaMemcpyAsync(&got, cb->d_stats, sizeof got, cudaMemcpyDeviceToHost, cb->stream);
    if (e == cudaSuccess)
        e = cudaStreamSynchronize(cb->stream);
    if (e != cudaSuccess)
        return qc__cuda_fail(e, "reading the counters", err);
    qc_round_stats_add(st, &got);
    return QC_OK;
}
