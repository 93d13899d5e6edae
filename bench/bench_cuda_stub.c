/* The GPU benchmark's baseline where the build has no CUDA backend (the
 * Makefile compiles this or bench_cuda_blas.cu): nothing to time. */
#include <stdio.h>

#include "bench_cuda.h"

int bench_cuda_sgemm_time(int device, int64_t m, int64_t n, int64_t k, int reps, double *best_s,
                          char *why, size_t why_len)
{
    (void)device;
    (void)m;
    (void)n;
    (void)k;
    (void)reps;
    *best_s = 0;
    snprintf(why, why_len, "this build has no CUDA backend");
    return 1;
}
