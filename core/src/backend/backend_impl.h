/* Internal to the backend layer: the create function each backend folder
 * exports to the registry (backend.c). */
#ifndef QCORE_BACKEND_IMPL_H
#define QCORE_BACKEND_IMPL_H

#include "qcore/backend.h"

/* backend/cpu/backend_cpu.c */
int qc__backend_cpu_create(struct qc_backend **out, const struct qc_backend_opts *opts,
                           struct qc_err *err);

/* backend/cuda/backend_cuda.cu where nvcc built it, else backend/cuda/cuda_stub.c
 * (which refuses, saying why). */
int qc__backend_cuda_create(struct qc_backend **out, const struct qc_backend_opts *opts,
                            struct qc_err *err);
/* The GPUs the CUDA runtime finds (qc_backend_devices). */
int qc__backend_cuda_devices(struct qc_backend_device *out, int max, struct qc_err *why);

/* backend/fpga/backend_fpga.c */
int qc__backend_fpga_create(struct qc_backend **out, const struct qc_backend_opts *opts,
                            struct qc_err *err);
/* The real boards XRT finds (qc_backend_devices; qcore/fpga.h has more). */
int qc__backend_fpga_devices(struct qc_backend_device *out, int max, struct qc_err *why);

#endif
