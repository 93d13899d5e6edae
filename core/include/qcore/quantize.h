/* Quantization of arrays: round every value to a format, once, exactly.
 *
 * Values go in and come out as fp32 or fp64 holding the rounded value (not
 * codes; see block.h for packed codes). For block formats (MX, BFP) the
 * array is `rows` x `cols`, row-major, and blocks of `block` consecutive
 * values along each row share a scale; the last block of a row may be short.
 *
 * Thread safety: all functions are reentrant; `out` may alias `in`. */
#ifndef QCORE_QUANTIZE_H
#define QCORE_QUANTIZE_H

#include <stdint.h>

#include "qcore/format.h"
#include "qcore/round.h"

/* How a block's shared scale is chosen from its largest magnitude amax. */
enum qc_scale_rule {
    QC_SCALE_FLOOR = 0, /* OCP: 2^(floor(log2 amax) - elem_emax) */
    QC_SCALE_CEIL = 1,  /* smallest 2^e with amax <= elem max x 2^e */
    QC_SCALE_ROUND = 2, /* floor, +1 when amax would round above the elem max */
};

int qc_scale_rule_parse(enum qc_scale_rule *out, const char *s, struct qc_err *err);
const char *qc_scale_rule_name(enum qc_scale_rule r);

/* Rounds one exactly given double to scalar format `f`. `index` selects the
 * stochastic-rounding random bits. Adds to `st` when non-NULL. */
double qc_round_value(const struct qc_format *f, double x, const struct qc_round *r, uint64_t index,
                      struct qc_round_stats *st);

/* Scalar formats: rows*cols = n values, `cols` ignored. Block formats: see
 * above; `rule` picks the scale. Returns QC_EINVAL when fp32 output cannot
 * hold the format's values exactly (use fp64 output). Element i draws the
 * stochastic bits for index `first_index + i`. */
int qc_quantize_f32(float *out, const float *in, int64_t rows, int64_t cols,
                    const struct qc_format *f, const struct qc_round *r, enum qc_scale_rule rule,
                    uint64_t first_index, struct qc_round_stats *st, struct qc_err *err);
int qc_quantize_f64(double *out, const double *in, int64_t rows, int64_t cols,
                    const struct qc_format *f, const struct qc_round *r, enum qc_scale_rule rule,
                    uint64_t first_index, struct qc_round_stats *st, struct qc_err *err);

/* qc_quantize_f32 forced onto one kernel variant: "avx512", "avx2",
 * "generic" or "scalar" (the exact scalar engine alone). QC_EUNSUPP when
 * this CPU cannot run it. For tests and benchmarks: all give the same bits. */
int qc_quantize_f32_isa(float *out, const float *in, int64_t rows, int64_t cols,
                        const struct qc_format *f, const struct qc_round *r,
                        enum qc_scale_rule rule, uint64_t first_index, struct qc_round_stats *st,
                        const char *isa, struct qc_err *err);

/* The block scale exponent for a block whose largest magnitude `amax`
 * (finite, > 0) is carried by a positive element (the `round` rule looks at
 * the sign under directed rounding): the rule applied to the element format,
 * clamped to the scale's range.
 * MX scales outside E8M0's range [-127, 127] return INT32_MAX (NaN scale). */
int qc_block_scale_exp(const struct qc_format *f, double amax, enum qc_scale_rule rule,
                       const struct qc_round *r);

#endif
