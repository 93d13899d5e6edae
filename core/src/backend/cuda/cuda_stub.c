/* The CUDA backend's stand-in for builds without nvcc: the kind exists in
 * the registry and refuses, saying why, and lists no devices. The Makefile
 * compiles this file or backend_cuda.cu, never both. */
#include <stddef.h>

#include "backend/backend_impl.h"

int qc__backend_cuda_create(struct qc_backend **out, const struct qc_backend_opts *opts,
                            struct qc_err *err)
{
    (void)opts;
    *out = NULL;
    return qc_err_set(err, QC_EUNSUPP, "device",
                      "cuda: this build has no CUDA backend (nvcc was not found when it was "
                      "built; see docs/cuda.md)");
}

int qc__backend_cuda_devices(struct qc_backend_device *out, int max, struct qc_err *why)
{
    (void)out;
    (void)max;
    qc_err_set(why, QC_EUNSUPP, "device",
               "cuda: this build has no CUDA backend (nvcc was not found when it was built)");
    return 0;
}
