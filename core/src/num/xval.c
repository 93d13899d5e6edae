/* Exact arithmetic on struct qc_xval: conversion from double, exact products
 * and single-sticky sums (see xval_impl.h for why one jammed bit suffices). */
#include "xval_impl.h"

#include <string.h>

static int bitlen(qc_u128 v)
{
    uint64_t hi = (uint64_t)(v >> 64), lo = (uint64_t)v;

    if (hi)
        return 128 - __builtin_clzll(hi);
    return lo ? 64 - __builtin_clzll(lo) : 0;
}

/* Shifts right by s >= 0, jamming lost bits into bit 0. */
static qc_u128 shr_jam(qc_u128 v, int s)
{
    if (s <= 0)
        return v;
    if (s >= 128)
        return v != 0;
    qc_u128 lost = v & (((qc_u128)1 << s) - 1);
    return (v >> s) | (lost != 0);
}

/* Brings sig's top bit to QC_X_TOP. */
static void normalize(struct qc_xval *x)
{
    int len = bitlen(x->sig);

    if (len == 0) {
        x->cls = QC_X_ZERO;
        return;
    }
    int s = len - 1 - QC_X_TOP;
    if (s > 0)
        x->sig = shr_jam(x->sig, s);
    else
        x->sig <<= -s;
    x->exp += s;
    x->cls = QC_X_FIN;
}

void qc__x_make(struct qc_xval *x, bool neg, qc_u128 sig, int exp)
{
    memset(x, 0, sizeof *x);
    x->neg = neg;
    x->sig = sig;
    x->exp = exp;
    normalize(x);
}

/* Splits a finite nonzero double into a 53-bit integer significand and an
 * exponent: |d| = sig x 2^exp exactly. */
static void split_double(double d, uint64_t *sig, int *exp)
{
    uint64_t bits;

    memcpy(&bits, &d, sizeof bits);
    int e = (int)((bits >> 52) & 0x7ff);
    uint64_t m = bits & ((UINT64_C(1) << 52) - 1);
    if (e == 0) {
        *sig = m;
        *exp = -1074;
    } else {
        *sig = m | (UINT64_C(1) << 52);
        *exp = e - 1075;
    }
}

void qc__x_from_double(struct qc_xval *x, double d)
{
    uint64_t sig;

    memset(x, 0, sizeof *x);
    x->neg = __builtin_signbit(d) != 0;
    if (__builtin_isnan(d)) {
        x->cls = QC_X_NAN;
        return;
    }
    if (__builtin_isinf(d)) {
        x->cls = QC_X_INF;
        return;
    }
    if (d == 0.0) {
        x->cls = QC_X_ZERO;
        return;
    }
    split_double(d, &sig, &x->exp);
    x->sig = sig;
    normalize(x);
}

void qc__x_mul(struct qc_xval *out, double a, double b)
{
    uint64_t sa, sb;
    int ea, eb;

    memset(out, 0, sizeof *out);
    out->neg = (__builtin_signbit(a) != 0) != (__builtin_signbit(b) != 0);
    if (__builtin_isnan(a) || __builtin_isnan(b)) {
        out->cls = QC_X_NAN;
        return;
    }
    if (__builtin_isinf(a) || __builtin_isinf(b)) {
        out->cls = (a == 0.0 || b == 0.0) ? QC_X_NAN : QC_X_INF;
        return;
    }
    if (a == 0.0 || b == 0.0) {
        out->cls = QC_X_ZERO;
        return;
    }
    split_double(a, &sa, &ea);
    split_double(b, &sb, &eb);
    out->sig = (qc_u128)sa * sb;
    out->exp = ea + eb;
    normalize(out);
}

int qc__x_cmp_mag(const struct qc_xval *a, const struct qc_xval *b)
{
    if (a->exp != b->exp)
        return a->exp < b->exp ? -1 : 1;
    if (a->sig != b->sig)
        return a->sig < b->sig ? -1 : 1;
    return 0;
}

void qc__x_add(struct qc_xval *out, const struct qc_xval *a, const struct qc_xval *b,
               enum qc_round_mode mode)
{
    if (a->cls == QC_X_NAN || b->cls == QC_X_NAN) {
        memset(out, 0, sizeof *out);
        out->cls = QC_X_NAN;
        return;
    }
    if (a->cls == QC_X_INF || b->cls == QC_X_INF) {
        if (a->cls == QC_X_INF && b->cls == QC_X_INF && a->neg != b->neg) {
            memset(out, 0, sizeof *out);
            out->cls = QC_X_NAN;
        } else {
            *out = a->cls == QC_X_INF ? *a : *b;
        }
        return;
    }
    if (a->cls == QC_X_ZERO && b->cls == QC_X_ZERO) {
        memset(out, 0, sizeof *out);
        out->cls = QC_X_ZERO;
        out->neg = a->neg == b->neg ? a->neg : mode == QC_ROUND_RDN;
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
    qc_u128 s = shr_jam(small->sig, big->exp - small->exp);
    memset(out, 0, sizeof *out);
    out->exp = big->exp;
    out->neg = big->neg;
    if (big->neg == small->neg) {
        out->sig = big->sig + s;
    } else {
        out->sig = big->sig - s;
        if (out->sig == 0) {
            out->cls = QC_X_ZERO;
            out->neg = mode == QC_ROUND_RDN;
            return;
        }
    }
    normalize(out);
}
