/* Emulated GEMM: C = A x B where every product and every addition follows a
 * struct qc_mac exactly (see mac.h). Conv2d reuses it through im2col.
 *
 * Inputs are fp32 arrays; they are first rounded (rne) to the multiplier's
 * reading of the input formats (mac->a_read, mac->b_read), unless the
 * description marks them already rounded; block formats take their blocks
 * along K. C receives each output's final accumulator value
 * (exact when the accumulator's values fit fp32; a wider accumulator's
 * result is rounded rne to fp32 on the way out).
 *
 * Results do not depend on the thread count, the ISA chosen at run time or
 * the backend: every output element is computed in one fixed order. */
#ifndef QCORE_GEMM_H
#define QCORE_GEMM_H

#include <stdbool.h>
#include <stdint.h>

#include "qcore/mac.h"

struct qc_gemm_desc {
    int64_t m, n, k;
    bool trans_a;   /* A stored as k x m (element (i,p) at a[p*lda + i]) */
    bool trans_b;   /* B stored as n x k (element (p,j) at b[j*ldb + p]) */
    int64_t lda, ldb, ldc; /* row strides in elements; 0 = dense */
    uint64_t sr_stream;    /* stochastic accumulator rounding: stream id */
    /* The operand already holds values of the multiplier's reading
     * (mac->a_read / b_read; block formats with their block scales applied)
     * and is read as is, never rounded again. A caller that chose the
     * scales itself (scale.h) needs this: rounding a block-format value a
     * second time picks the scale from the rounded block and can change
     * it. Values outside the reading are the caller's error; the result is
     * then whatever exact MAC arithmetic gives on them. */
    bool a_rounded, b_rounded;
};

/* Fills a dense, non-transposed description. */
void qc_gemm_desc_init(struct qc_gemm_desc *d, int64_t m, int64_t n, int64_t k);

/* Validates shapes and strides against the description. */
int qc_gemm_check(const struct qc_gemm_desc *d, const struct qc_mac *mac, struct qc_err *err);

/* The reference: scalar, exact wide arithmetic (MPFR), written to be read.
 * c:(m,n) a:(m,k) b:(k,n). Thread-safe; allocates. */
int qc_gemm_ref(float *c, const float *a, const float *b, const struct qc_gemm_desc *d,
                const struct qc_mac *mac, struct qc_round_stats *st, struct qc_err *err);

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
