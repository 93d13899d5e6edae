/* The CPU GEMM behind the cpu backend (backend/cpu/gemm_cpu.c): the
 * contract of qcore/gemm.h on this machine's cores, vectorized per ISA. Most
 * callers go through the backend (qcore/backend.h) instead. */
#ifndef QCORE_GEMM_CPU_H
#define QCORE_GEMM_CPU_H

#include "qcore/gemm.h"

/* The CPU implementation: vectorized and threaded over `threads` threads
 * (0 = all cores). Bit-identical to qc_gemm_ref. Allocates a rounded fp32
 * copy of A and one padded B panel shared by all threads (fp64 copies of
 * both on the exact scalar engine's path). */
int qc_gemm_cpu(float *c, const float *a, const float *b, const struct qc_gemm_desc *d,
                const struct qc_mac *mac, int threads, struct qc_round_stats *st,
                struct qc_err *err);

/* qc_gemm_cpu forced onto one kernel variant ("avx512", "avx2", "generic",
 * or "scalar" for the exact scalar engine alone): QC_EUNSUPP when this CPU
 * cannot run it. For tests and benchmarks; all variants give the same bits. */
int qc_gemm_cpu_isa(float *c, const float *a, const float *b, const struct qc_gemm_desc *d,
                    const struct qc_mac *mac, int threads, const char *isa,
                    struct qc_round_stats *st, struct qc_err *err);

#endif
