/* Internal to the num layer and the backends: the two steps of block
 * quantization, shared by quantize.c and the packed storage in block.c so
 * that decode(encode(x)) == quantize(x), and the bridge from a format to a
 * SIMD plan. */
#ifndef QCORE_QUANTIZE_IMPL_H
#define QCORE_QUANTIZE_IMPL_H

#include "qcore/quantize.h"
#include "simd/kern_impl.h"

/* The scale exponent of one block of `len` values: INT32_MAX for the NaN
 * scale (a NaN or inf in the block, or a scale above E8M0's range). */
int qc__block_exp(const struct qc_format *f, const double *in, int64_t len, enum qc_scale_rule rule,
                  const struct qc_round *r);
/* The exponent e of a per-tensor scale 2^e for scalar format `f` (the
 * scale rules of qc_block_scale_exp with the whole tensor as the block, and
 * f's top binade, that of its max finite, in place of elem_emax): amax/2^e
 * lands in that binade under `floor`. Not clamped (scaled values of an fp32
 * tensor stay far inside fp64); amax 0 (or not finite) gives 0. */
int qc__tensor_scale_exp(const struct qc_format *f, double amax, enum qc_scale_rule rule,
                         const struct qc_round *r);
/* x / 2^e rounded to element format `el` (counted into `st`). */
double qc__block_elem(const struct qc_format *el, double x, int e, const struct qc_round *r,
                      uint64_t index, struct qc_round_stats *st);

/* in / 2^e rounded by the SIMD `plan` of an element format, times 2^e
 * again when `back` (a block's values; else the scaled values), for `len`
 * values (out may alias in): the exact engine's result and counts, where
 * the quotients are exact fp32 values, i.e. every value finite and every
 * nonzero quotient a normal fp32 value below 2^127. False, with nothing
 * written, where that does not hold: the caller takes the exact engine. */
bool qc__scaled_round_f32(float *out, const float *in, int64_t len, int e, bool back,
                          const struct qc__f32_plan *plan, const struct qc__kern *kern,
                          struct qc_round_stats *st);

/* The argument checks of qc_quantize_f32 (rounding, shape, fp32 output),
 * shared with every backend's quantizer so that all refuse the same calls. */
int qc__quantize_f32_check(const struct qc_format *f, const struct qc_round *r, int64_t rows,
                           int64_t cols, struct qc_err *err);

/* Fills `p` and returns true when the SIMD path can round to `f` with `r`. */
bool qc__f32_plan_init(struct qc__f32_plan *p, const struct qc_format *f, const struct qc_round *r);
/* The same for stochastic rounding (kern->quantize_sr): formats without a
 * gap (no daz, no subnormal-as-normal), at most 32 random bits. */
bool qc__f32_plan_init_sr(struct qc__f32_plan *p, const struct qc_format *f,
                          const struct qc_round *r);

/* qc_quantize_f32 with an explicit kernel (NULL: the scalar engine only). */
int qc__quantize_f32_kern(float *out, const float *in, int64_t rows, int64_t cols,
                          const struct qc_format *f, const struct qc_round *r,
                          enum qc_scale_rule rule, uint64_t first_index, struct qc_round_stats *st,
                          const struct qc__kern *kern, struct qc_err *err);

#endif
