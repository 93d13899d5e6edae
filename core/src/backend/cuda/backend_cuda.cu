/* The CUDA backend: the vtable over the CUDA quantizer (quantize_cuda.cu)
 * and GEMM (gemm_cuda.cu), the training step's element-wise operations on
 * managed memory (ops_cuda.cu), device selection, and the list
 * of GPUs the CUDA runtime finds. Built only where nvcc is (the Makefile);
 * cuda_stub.c stands in elsewhere. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuda_impl.h"

extern "C" {
#include "qcore/cpu.h"
}

static void cuda_destroy(struct qc_backend *be)
{
    struct qc__cuda_backend *cb = (struct qc__cuda_backend *)be;

    cudaSetDevice(cb->dev);
    for (int i = 0; i < QC__CUDA_NBUF; i++)
        cudaFree(cb->buf[i]);
    cudaFree(cb->d_stats);
    const struct qc__cublas *blas;
    if (cb->blas && qc__cublas_get(&blas, NULL) == QC_OK)
        blas->destroy(cb->blas);
    if (cb->stream)
        cudaStreamDestroy(cb->stream);
}

static const struct qc_backend_i cuda_backend_i = {
    .kind = "cuda",
    .gemm = qc__cuda_gemm,
    .quantize_f32 = qc__cuda_quantize_f32,
    .op = qc__cuda_op,
    .mem = &qc__cuda_mem,
    .destroy = cuda_destroy,
    .timing = NULL,
};

/* The number of devices, or 0 with the reason in `err`. */
static int device_count(struct qc_err *err)
{
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);

    if (e != cudaSuccess) {
        cudaGetLastError();
        qc_err_set(err, QC_EUNSUPP, "device", "cuda: no usable CUDA device: %s (%s)%s",
                   cudaGetErrorString(e), cudaGetErrorName(e),
                   e == cudaErrorInsufficientDriver
                       ? "; no NVIDIA driver is loaded here, or it is older than CUDA 13"
                       : "");
        return 0;
    }
    if (n == 0)
        qc_err_set(err, QC_EUNSUPP, "device", "cuda: the CUDA runtime finds no device");
    return n;
}

extern "C" int qc__backend_cuda_devices(struct qc_backend_device *out, int max, struct qc_err *why)
{
    const int n = device_count(why);
    int got = 0;

    for (int i = 0; i < n && got < max; i++) {
        cudaDeviceProp p;
        if (cudaGetDeviceProperties(&p, i) != cudaSuccess) {
            cudaGetLastError();
            continue;
        }
        struct qc_backend_device *d = &out[got++];
        memset(d, 0, sizeof *d);
        d->index = i;
        snprintf(d->name, sizeof d->name, "%.80s", p.name);
        d->memory = (uint64_t)p.totalGlobalMem;
        d->cc_major = p.major;
        d->cc_minor = p.minor;
    }
    return got;
}

extern "C" int qc__backend_cuda_create(struct qc_backend **out, const struct qc_backend_opts *opts,
                                       struct qc_err *err)
{
    const int dev = opts ? opts->device : 0;
    struct qc__cuda_backend *cb;
    cudaDeviceProp p;
    cudaError_t e;
    int n, rc;

    *out = NULL;
    if ((n = device_count(err)) == 0)
        return QC_EUNSUPP;
    if (dev < 0 || dev >= n)
        return qc_err_set(err, QC_EINVAL, "device", "cuda: device %d does not exist (%d found)",
                          dev, n);
    if ((e = cudaSetDevice(dev)) != cudaSuccess ||
        (e = cudaGetDeviceProperties(&p, dev)) != cudaSuccess)
        return qc__cuda_fail(e, "selecting the device", err);
    if (!(cb = (struct qc__cuda_backend *)calloc(1, sizeof *cb)))
        return qc_err_set(err, QC_ENOMEM, "", "out of memory for the CUDA backend");
    cb->dev = dev;
    cb->base.vt = &cuda_backend_i;
    /* Host threads, for the work a caller still does on the CPU beside the
     * device (conv2d's im2col, the scale policies). */
    cb->base.threads = opts && opts->threads > 0 ? opts->threads : qc_cpu_count();
    snprintf(cb->base.device, sizeof cb->base.device, "cuda:%d (%.60s, sm_%d%d)", dev, p.name,
             p.major, p.minor);
    if ((e = cudaStreamCreateWithFlags(&cb->stream, cudaStreamNonBlocking)) != cudaSuccess ||
        (e = cudaMalloc(&cb->d_stats, sizeof *cb->d_stats)) != cudaSuccess) {
        rc = qc__cuda_fail(e, "creating the backend's stream", err);
        cuda_destroy(&cb->base);
        free(cb);
        return rc;
    }
    *out = &cb->base;
    return QC_OK;
}
