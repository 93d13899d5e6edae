/* The training step's element-wise operations on the GPU (backend/ops.h),
 * and the memory a net's tensors live in when it trains on the GPU. Each
 * thread runs indices of the operation through qc__op_run, the very loop
 * body the host runs (backend/ops_hd.h); an index writes only its own
 * outputs, so the threads' order cannot change a bit.
 *
 * The tensors are CUDA managed memory: the kernels (GEMM staging included)
 * read and write them on the device, where they stay between operations,
 * and the host code that still touches them (the batch's upload, the loss,
 * checkpoints, the scale policies) reads and writes the same pointers. Every
 * entry of the backend waits for its stream before it returns, so the host
 * never touches managed memory while a kernel runs. */
#include <string.h>

#include "cuda_impl.h"

extern "C" {
#include "backend/ops_hd.h"
}

static __global__ void k_op(const struct qc_op op, int64_t n)
{
    qc__op_run(&op, blockIdx.x * (int64_t)blockDim.x + threadIdx.x, (int64_t)gridDim.x * blockDim.x,
               n);
}

int qc__cuda_op(struct qc_backend *be, const struct qc_op *op, struct qc_err *err)
{
    struct qc__cuda_backend *cb = (struct qc__cuda_backend *)be;
    const int64_t n = qc__op_size(op);
    cudaError_t e;

    if (n <= 0)
        return QC_OK;
    if ((e = cudaSetDevice(cb->dev)) != cudaSuccess)
        return qc__cuda_fail(e, "selecting the device", err);
    k_op<<<qc__cuda_blocks(n), QC__CUDA_THREADS, 0, cb->stream>>>(*op, n);
    return qc__cuda_sync(cb, qc__op_name(op->kind), err);
}

/* Managed memory, zeroed by the host (cudaMallocManaged does not clear it,
 * and a fresh allocation's pages are not yet on the device). */
static void *managed_alloc(size_t bytes)
{
    void *p = NULL;

    if (cudaMallocManaged(&p, bytes ? bytes : 1, cudaMemAttachGlobal) != cudaSuccess) {
        cudaGetLastError();
        return NULL;
    }
    memset(p, 0, bytes);
    return p;
}

static void managed_free(void *p)
{
    if (p)
        cudaFree(p);
}

const struct qc_backend_mem qc__cuda_mem = {
    .what = "CUDA managed",
    .alloc = managed_alloc,
    .free = managed_free,
};
