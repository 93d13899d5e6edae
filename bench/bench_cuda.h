/* GPU benchmarks of qlab-bench (group "cuda"): the emulated GEMM against
 * cuBLAS sgemm, and a ResNet-20 epoch emulated against the native path.
 * Where the build has no CUDA backend or the machine no GPU, each figure is
 * reported as skipped with the reason. */
#ifndef QLAB_BENCH_CUDA_H
#define QLAB_BENCH_CUDA_H

#include <stddef.h>
#include <stdint.h>

void bench_cuda_gemm(void);
void bench_cuda_train_epoch(void);

/* The baseline: the best time of one cuBLAS sgemm of m x n x k fp32 on
 * device-resident data (CUDA events), after warm-up calls. 0 on success;
 * otherwise nonzero with the reason in `why`. bench_cuda_blas.cu where the
 * CUDA backend is built, bench_cuda_stub.c elsewhere. */
int bench_cuda_sgemm_time(int device, int64_t m, int64_t n, int64_t k, int reps, double *best_s,
                          char *why, size_t why_len);

#endif
