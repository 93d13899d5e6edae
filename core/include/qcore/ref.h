/* The reference twins (core/src/ref/): slow, obviously correct versions of
 * rounding, quantization and the emulated GEMM, written with MPFR (exact wide
 * arithmetic, then the rounding rules spelled out one by one). Every fast
 * path (SIMD, threads, CUDA, the FPGA kernel) is tested bit for bit against
 * them. The only part of libqcore that uses MPFR. */
#ifndef QCORE_REF_H
#define QCORE_REF_H

#include <stdint.h>

#include "qcore/gemm.h"
#include "qcore/quantize.h"

/* Same contracts as qc_round_value and qc_quantize_f64; the fast versions are
 * tested bit for bit against them. */
double qc_round_value_ref(const struct qc_format *f, double x, const struct qc_round *r,
                          uint64_t index, struct qc_round_stats *st);
int qc_quantize_ref_f64(double *out, const double *in, int64_t rows, int64_t cols,
                        const struct qc_format *f, const struct qc_round *r,
                        enum qc_scale_rule rule, uint64_t first_index, struct qc_round_stats *st,
                        struct qc_err *err);

/* The reference: scalar, exact wide arithmetic (MPFR), written to be read.
 * c:(m,n) a:(m,k) b:(k,n). Thread-safe; allocates. */
int qc_gemm_ref(float *c, const float *a, const float *b, const struct qc_gemm_desc *d,
                const struct qc_mac *mac, struct qc_round_stats *st, struct qc_err *err);

#endif
