/* Packed storage of formats as bit codes: fp8/fp6/fp4 element codes packed
 * little-endian bit by bit, and for MX one E8M0 scale byte per block, for BFP
 * one shared-exponent byte (biased by 127) per block.
 *
 * Encoding rounds `in` with `r` and `rule` exactly as qc_quantize_f32 does,
 * so decode(encode(x)) == quantize(x) bit for bit. */
#ifndef QCORE_BLOCK_H
#define QCORE_BLOCK_H

#include <stddef.h>
#include <stdint.h>

#include "qcore/quantize.h"

/* Bytes needed for the codes and the scales of a rows x cols array. */
size_t qc_pack_code_bytes(const struct qc_format *f, int64_t rows, int64_t cols);
size_t qc_pack_scale_bytes(const struct qc_format *f, int64_t rows, int64_t cols);

/* `codes` and `scales` must hold the sizes above (`scales` may be NULL for
 * scalar formats). QC_ERANGE when a value cannot be encoded (NaN in a format
 * without a NaN code); nothing useful is written then. */
int qc_pack_f32(uint8_t *codes, uint8_t *scales, const float *in, int64_t rows, int64_t cols,
                const struct qc_format *f, const struct qc_round *r, enum qc_scale_rule rule,
                struct qc_err *err);
int qc_unpack_f32(float *out, const uint8_t *codes, const uint8_t *scales, int64_t rows,
                  int64_t cols, const struct qc_format *f, struct qc_err *err);

#endif
