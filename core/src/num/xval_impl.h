/* Exact values for the scalar rounding engine: a sign, a 126-bit significand
 * and an exponent, enough to hold any product of two doubles exactly and any
 * sum of a format value and such a product to within a jammed sticky bit,
 * which is all a single correct rounding needs. Internal to libqcore. */
#ifndef QCORE_XVAL_IMPL_H
#define QCORE_XVAL_IMPL_H

#include <stdbool.h>
#include <stdint.h>

#include "qcore/format.h"
#include "qcore/round.h"

__extension__ typedef unsigned __int128 qc_u128;

enum qc_xcls { QC_X_ZERO = 0, QC_X_FIN = 1, QC_X_INF = 2, QC_X_NAN = 3 };

/* A finite value is normalized: the significand's top bit is bit QC_X_TOP,
 * value = sig x 2^exp. Two spare bits above it absorb a sum's carry. Bits
 * lost to the right are jammed into bit 0 (it is set if any were nonzero):
 * every target keeps at most 54 significant bits, so bit 0 lies more than 70
 * bits below any rounding position and acts purely as a sticky bit. */
#define QC_X_TOP 125

struct qc_xval {
    enum qc_xcls cls;
    bool neg;
    int exp;
    qc_u128 sig;
};

/* Rounding events, or-ed into an `unsigned` by qc__round_x. */
enum { QC_EV_OVERFLOW = 1u, QC_EV_UNDERFLOW = 2u, QC_EV_INEXACT = 4u };

void qc__x_from_double(struct qc_xval *x, double d);
/* The finite or zero value (-1)^neg x sig x 2^exp, normalized. */
void qc__x_make(struct qc_xval *x, bool neg, qc_u128 sig, int exp);
/* Exact product of two doubles (106 bits at most). inf x 0 is NaN. */
void qc__x_mul(struct qc_xval *out, double a, double b);
/* a + b with one jammed bit at most; an exact zero sum is +0, or -0 under
 * `mode` rdn, as IEEE 754 prescribes. */
void qc__x_add(struct qc_xval *out, const struct qc_xval *a, const struct qc_xval *b,
               enum qc_round_mode mode);
/* Compares magnitudes of two finite normalized values: -1, 0, 1. */
int qc__x_cmp_mag(const struct qc_xval *a, const struct qc_xval *b);

/* Rounds `x` to scalar format `f` (float, fixed or int) with `r`; the
 * stochastic bits come from element `index`. Returns the value, exactly a
 * value of `f` (or NaN); or-s QC_EV_* into *ev. */
double qc__round_x(const struct qc_format *f, const struct qc_xval *x, const struct qc_round *r,
                   uint64_t index, unsigned *ev);

/* Adds one rounding step's events to the counters (NULL-safe). */
static inline void qc__count(struct qc_round_stats *st, unsigned ev)
{
    if (!st)
        return;
    st->ops++;
    st->overflow += (ev & QC_EV_OVERFLOW) != 0;
    st->underflow += (ev & QC_EV_UNDERFLOW) != 0;
}

#endif
