/* The CPU GEMM behind the cpu backend (backend/cpu/gemm_cpu.c): the
 * contract of qcore/gemm.h on this machine's cores, vectorized per ISA. Most
 * callers go through the backend (qcore/backend.h) instead. */
#ifndef QCORE_GEMM_CPU_H
#define QCORE_GEMM_CPU_H

#include <stddef.h>

#include "qcore/gemm.h"

/* Scratch memory of CPU GEMMs (packed panels, per-thread blocks), kept
 * across calls so that a sequence of GEMMs of recurring shapes allocates
 * only on its first round. Owned by the caller; one per thread that calls
 * GEMMs (a GEMM uses its own threads inside). create: NULL when out of
 * memory; destroy(NULL) is a no-op. */
struct qc_gemm_ws;
struct qc_gemm_ws *qc_gemm_ws_create(void);
void qc_gemm_ws_destroy(struct qc_gemm_ws *ws);
/* The kernel the last call on this workspace ran: "f32/fast/add",
 * "f32/fast/odd", "f32/fast/plain", "f32", "fixed/fast", "fixed", "wide",
 * "native" or "scalar" (docs/operations.md); "" before any call. */
const char *qc_gemm_ws_kernel(const struct qc_gemm_ws *ws);
/* Bytes the workspace holds now. */
size_t qc_gemm_ws_bytes(const struct qc_gemm_ws *ws);

/* The CPU implementation: vectorized and threaded over `threads` threads
 * (0 = all cores), with scratch from `ws` (NULL: allocated and freed in the
 * call). `isa` forces a kernel variant ("avx512", "avx2", "generic", or
 * "scalar" for the exact scalar engine alone; NULL: the best this CPU
 * runs): QC_EUNSUPP when this CPU cannot run it. Bit-identical to
 * qc_gemm_ref for every thread count and variant. */
int qc_gemm_cpu_run(float *c, const float *a, const float *b, const struct qc_gemm_desc *d,
                    const struct qc_mac *mac, int threads, const char *isa, struct qc_gemm_ws *ws,
                    struct qc_round_stats *st, struct qc_err *err);

/* qc_gemm_cpu_run with the best variant and a scratch of its own. */
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
