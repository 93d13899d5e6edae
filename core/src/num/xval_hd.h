/* Exact values for the scalar rounding engine: a sign, a 126-bit significand
 * and an exponent, enough to hold any product of two doubles exactly and any
 * sum of a format value and such a product to within a jammed sticky bit,
 * which is all a single correct rounding needs. QC_HD code (base/hd.h):
 * the CPU and the CUDA kernels run these same functions. */
#ifndef QCORE_XVAL_HD_H
#define QCORE_XVAL_HD_H

#include "base/hd.h"
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

/* A zero, infinity or NaN of sign `neg` (no significand). */
static inline QC_HD void qc__x_special(struct qc_xval *x, enum qc_xcls cls, bool neg)
{
    x->cls = cls;
    x->neg = neg;
    x->exp = 0;
    x->sig = 0;
}

static inline QC_HD int qc__x_bitlen(qc_u128 v)
{
    uint64_t hi = (uint64_t)(v >> 64), lo = (uint64_t)v;

    if (hi)
        return 128 - qc__hd_clz64(hi);
    return lo ? 64 - qc__hd_clz64(lo) : 0;
}

/* Shifts right by s >= 0, jamming lost bits into bit 0. */
static inline QC_HD qc_u128 qc__x_shr_jam(qc_u128 v, int s)
{
    if (s <= 0)
        return v;
    if (s >= 128)
        return v != 0;
    qc_u128 lost = v & (((qc_u128)1 << s) - 1);
    return (v >> s) | (lost != 0);
}

/* Brings sig's top bit to QC_X_TOP (a zero significand makes a zero). */
static inline QC_HD void qc__x_normalize(struct qc_xval *x)
{
    int len = qc__x_bitlen(x->sig);

    if (len == 0) {
        x->cls = QC_X_ZERO;
        return;
    }
    int s = len - 1 - QC_X_TOP;
    if (s > 0)
        x->sig = qc__x_shr_jam(x->sig, s);
    else
        x->sig <<= -s;
    x->exp += s;
    x->cls = QC_X_FIN;
}

/* The finite or zero value (-1)^neg x sig x 2^exp, normalized. */
static inline QC_HD void qc__x_make(struct qc_xval *x, bool neg, qc_u128 sig, int exp)
{
    x->cls = QC_X_ZERO;
    x->neg = neg;
    x->sig = sig;
    x->exp = exp;
    qc__x_normalize(x);
}

/* Splits a finite nonzero double into a 53-bit integer significand and an
 * exponent: |d| = sig x 2^exp exactly. */
static inline QC_HD void qc__x_split_double(double d, uint64_t *sig, int *exp)
{
    const uint64_t bits = qc__hd_bits(d);
    const int e = (int)((bits >> 52) & 0x7ff);
    const uint64_t m = bits & ((UINT64_C(1) << 52) - 1);

    if (e == 0) {
        *sig = m;
        *exp = -1074;
    } else {
        *sig = m | (UINT64_C(1) << 52);
        *exp = e - 1075;
    }
}

static inline QC_HD void qc__x_from_double(struct qc_xval *x, double d)
{
    uint64_t sig;

    qc__x_special(x, QC_X_ZERO, qc__hd_signbit(d));
    if (qc__hd_isnan(d)) {
        x->cls = QC_X_NAN;
        return;
    }
    if (qc__hd_isinf(d)) {
        x->cls = QC_X_INF;
        return;
    }
    if (d == 0.0)
        return;
    qc__x_split_double(d, &sig, &x->exp);
    x->sig = sig;
    qc__x_normalize(x);
}

/* Exact product of two doubles (106 bits at most). inf x 0 is NaN. */
static inline QC_HD void qc__x_mul(struct qc_xval *out, double a, double b)
{
    uint64_t sa, sb;
    int ea, eb;

    qc__x_special(out, QC_X_ZERO, qc__hd_signbit(a) != qc__hd_signbit(b));
    if (qc__hd_isnan(a) || qc__hd_isnan(b)) {
        out->cls = QC_X_NAN;
        return;
    }
    if (qc__hd_isinf(a) || qc__hd_isinf(b)) {
        out->cls = (a == 0.0 || b == 0.0) ? QC_X_NAN : QC_X_INF;
        return;
    }
    if (a == 0.0 || b == 0.0)
        return;
    qc__x_split_double(a, &sa, &ea);
    qc__x_split_double(b, &sb, &eb);
    out->sig = (qc_u128)sa * sb;
    out->exp = ea + eb;
    qc__x_normalize(out);
}

/* Compares magnitudes of two finite normalized values: -1, 0, 1. */
static inline QC_HD int qc__x_cmp_mag(const struct qc_xval *a, const struct qc_xval *b)
{
    if (a->exp != b->exp)
        return a->exp < b->exp ? -1 : 1;
    if (a->sig != b->sig)
        return a->sig < b->sig ? -1 : 1;
    return 0;
}

/* a + b with one jammed bit at most; an exact zero sum is +0, or -0 under
 * `mode` rdn, as IEEE 754 prescribes. */
static inline QC_HD void qc__x_add(struct qc_xval *out, const struct qc_xval *a,
                                   const struct qc_xval *b, enum qc_round_mode mode)
{
    if (a->cls == QC_X_NAN || b->cls == QC_X_NAN) {
        qc__x_special(out, QC_X_NAN, false);
        return;
    }
    if (a->cls == QC_X_INF || b->cls == QC_X_INF) {
        if (a->cls == QC_X_INF && b->cls == QC_X_INF && a->neg != b->neg)
            qc__x_special(out, QC_X_NAN, false);
        else
            *out = a->cls == QC_X_INF ? *a : *b;
        return;
    }
    if (a->cls == QC_X_ZERO && b->cls == QC_X_ZERO) {
        qc__x_special(out, QC_X_ZERO, a->neg == b->neg ? a->neg : mode == QC_ROUND_RDN);
        return;
    }
    if (a->cls == QC_X_ZERO || b->cls == QC_X_ZERO) {
        *out = a->cls == QC_X_ZERO ? *b : *a;
        return;
    }

    /* Both finite and nonzero: let `big` be the larger magnitude. */
    const struct qc_xval *big = a, *small = b;
    if (qc__x_cmp_mag(a, b) < 0) {
        big = b;
        small = a;
    }
    qc_u128 s = qc__x_shr_jam(small->sig, big->exp - small->exp);
    qc__x_special(out, QC_X_FIN, big->neg);
    out->exp = big->exp;
    if (big->neg == small->neg) {
        out->sig = big->sig + s;
    } else {
        out->sig = big->sig - s;
        if (out->sig == 0) {
            qc__x_special(out, QC_X_ZERO, mode == QC_ROUND_RDN);
            return;
        }
    }
    qc__x_normalize(out);
}

#endif
