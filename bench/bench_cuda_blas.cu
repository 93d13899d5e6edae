/* The GPU benchmark's baseline, compiled by nvcc: cuBLAS sgemm on data
 * already on the device, timed with CUDA events, best of `reps`. */
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <stdio.h>

extern "C" {
#include "bench_cuda.h"
}

/* Values in [-1, 1) from a hash of the index: any data will do for timing,
 * but not zeros, which some GPUs multiply faster. */
static __global__ void k_fill(float *x, int64_t n, uint32_t salt)
{
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x) {
        uint32_t h = (uint32_t)i * 2654435761u ^ salt;
        h ^= h >> 15;
        h *= 2246822519u;
        h ^= h >> 13;
        x[i] = (float)(h >> 8) * (2.0f / 16777216.0f) - 1.0f;
    }
}

extern "C" int bench_cuda_sgemm_time(int device, int64_t m, int64_t n, int64_t k, int reps,
                                     double *best_s, char *why, size_t why_len)
{
    float *a = NULL, *b = NULL, *c = NULL;
    cublasHandle_t h = NULL;
    cudaEvent_t t0 = NULL, t1 = NULL;
    const float one = 1.0f, zero = 0.0f;
    cudaError_t e;
    int rc = 1;

    *best_s = 0;
    if ((e = cudaSetDevice(device)) != cudaSuccess ||
        (e = cudaMalloc(&a, (size_t)(m * k) * sizeof(float))) != cudaSuccess ||
        (e = cudaMalloc(&b, (size_t)(k * n) * sizeof(float))) != cudaSuccess ||
        (e = cudaMalloc(&c, (size_t)(m * n) * sizeof(float))) != cudaSuccess ||
        (e = cudaEventCreate(&t0)) != cudaSuccess || (e = cudaEventCreate(&t1)) != cudaSuccess) {
        snprintf(why, why_len, "CUDA: %s", cudaGetErrorString(e));
        goto out;
    }
    k_fill<<<1024, 256>>>(a, m * k, 1u);
    k_fill<<<1024, 256>>>(b, k * n, 2u);
    if (cublasCreate(&h) != CUBLAS_STATUS_SUCCESS) {
        snprintf(why, why_len, "cuBLAS: cannot create a handle");
        h = NULL;
        goto out;
    }
    for (int r = -2; r < reps; r++) { /* two untimed warm-up calls */
        float ms = 0;
        cudaEventRecord(t0);
        if (cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, (int)n, (int)m, (int)k, &one, b, (int)n, a,
                        (int)k, &zero, c, (int)n) != CUBLAS_STATUS_SUCCESS) {
            snprintf(why, why_len, "cuBLAS: sgemm failed");
            goto out;
        }
        cudaEventRecord(t1);
        if ((e = cudaEventSynchronize(t1)) != cudaSuccess ||
            (e = cudaEventElapsedTime(&ms, t0, t1)) != cudaSuccess) {
            snprintf(why, why_len, "CUDA: %s", cudaGetErrorString(e));
            goto out;
        }
        if (r >= 0 && (*best_s == 0 || ms * 1e-3 < *best_s))
            *best_s = ms * 1e-3;
    }
    rc = 0;
out:
    if (h)
        cublasDestroy(h);
    if (t0)
        cudaEventDestroy(t0);
    if (t1)
        cudaEventDestroy(t1);
    cudaFree(a);
    cudaFree(b);
    cudaFree(c);
    return rc;
}
