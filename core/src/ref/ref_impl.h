/* Internal interface of the MPFR reference twins (round_ref.c, gemm_ref.c):
 * one rounding routine that takes an exact MPFR value, so products and sums
 * never pass through a double before their single rounding. */
#ifndef QCORE_REF_IMPL_H
#define QCORE_REF_IMPL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <mpfr.h>

#include "qcore/format.h"
#include "qcore/round.h"

/* Working precision of every exact step. Format values are doubles
 * (exponents -1074..1023); a product of two spans 2^-2148..2^2048 with 106
 * significant bits, and a sum of such a product and a double spans at most
 * 2048 + 2148 + 1 bits. 4400 bits hold all of that, plus the carry bits of
 * exact sums over long K, with no rounding; every exact step still checks
 * MPFR's ternary value (QC__REF_EXACT) rather than trusting this count. */
#define QC__REF_PREC 4400

/* A reference step that MPFR reports as inexact would make the reference
 * silently wrong; that is a programmer error, so stop loudly. */
#define QC__REF_EXACT(call)                                                                        \
    do {                                                                                           \
        if ((call) != 0) {                                                                         \
            fprintf(stderr, "%s:%d: reference step not exact: %s\n", __FILE__, __LINE__, #call);   \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* What one rounding step observed, for the counters of docs/mac.md. */
struct qc__ref_flags {
    bool overflow;  /* finite exact value, rounded (unbounded exponent) beyond max finite */
    bool underflow; /* nonzero exact value, zero result */
};

/* Rounds the exact value `x` (any MPFR value: NaN, +-inf, +-0 included) to
 * the scalar format `f` with `r` (NULL: rne), drawing stochastic bits from
 * qc_rng_u64(r->seed, r->stream, index). Returns the result, which is always
 * exactly a double, and sets *fl (never NULL). Block formats are not scalar
 * values: the caller rounds their elements (qc_format_element). */
double qc__ref_round(const struct qc_format *f, mpfr_srcptr x, const struct qc_round *r,
                     uint64_t index, struct qc__ref_flags *fl);

#endif
