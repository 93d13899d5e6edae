/* The scalar rounding engine as QC_HD code: one exact value -> one value of
 * a format, with every rule of docs/formats.md (modes, overflow, nosub,
 * gapped value sets, fixed-point saturation and wrap) and the events a
 * rounding reports. round.c wraps it for the library; the CUDA kernels call
 * it directly, so both round with the same code. */
#ifndef QCORE_ROUND_HD_H
#define QCORE_ROUND_HD_H

#include "base/rng_hd.h"
#include "qcore/format.h"
#include "xval_hd.h"

/* qc_round_init without the library call: mode, default bits, zero seed. */
static inline QC_HD void qc__round_set(struct qc_round *r, enum qc_round_mode mode)
{
    r->mode = mode;
    r->sr_bits = QC_SR_BITS_DEFAULT;
    r->seed = 0;
    r->stream = 0;
}

/* Adds one rounding step's events to the counters (NULL-safe). */
static inline QC_HD void qc__count(struct qc_round_stats *st, unsigned ev)
{
    if (!st)
        return;
    st->ops++;
    st->overflow += (ev & QC_EV_OVERFLOW) != 0;
    st->underflow += (ev & QC_EV_UNDERFLOW) != 0;
}

static inline QC_HD uint64_t qc__sr_mask(int bits)
{
    return bits >= 64 ? ~UINT64_C(0) : (UINT64_C(1) << bits) - 1;
}

/* Rounds the magnitude sig x 2^exp (finite, normalized) to a multiple of
 * 2^q and returns that multiple. `neg` is the value's sign (directed modes),
 * *away tells whether it rounded away from zero, *inexact whether it moved. */
static inline QC_HD qc_u128 qc__round_mag(qc_u128 sig, int exp, int q, bool neg,
                                          const struct qc_round *r, uint64_t index, bool *away,
                                          bool *inexact)
{
    const int sh = q - exp;

    *away = false;
    if (sh <= 0) {
        *inexact = false;
        return sh <= -128 ? 0 : sig << -sh;
    }
    const qc_u128 kept = sh >= 128 ? 0 : sig >> sh;
    const bool rbit = sh - 1 < 128 && ((sig >> (sh - 1)) & 1);
    const qc_u128 below = sh - 1 >= 128 ? sig : sig & (((qc_u128)1 << (sh - 1)) - 1);
    const bool rest = below != 0;

    *inexact = rbit || rest;
    if (!*inexact)
        return kept;
    switch (r->mode) {
    case QC_ROUND_RNE:
        *away = rbit && (rest || (kept & 1));
        break;
    case QC_ROUND_RNA:
        *away = rbit;
        break;
    case QC_ROUND_RTZ:
        break;
    case QC_ROUND_RUP:
        *away = !neg;
        break;
    case QC_ROUND_RDN:
        *away = neg;
        break;
    case QC_ROUND_SR: {
        /* f: the R discarded bits just below the kept last bit. */
        const int bits = r->sr_bits;
        const uint64_t mask = qc__sr_mask(bits);
        uint64_t f;
        if (sh >= bits)
            f = sh - bits >= 128 ? 0 : (uint64_t)(sig >> (sh - bits)) & mask;
        else
            f = (uint64_t)(sig << (bits - sh)) & mask;
        uint64_t u = qc__sr_draw(r->seed, r->stream, index, bits);
        *away = bits >= 64 ? f + u < f : ((f + u) >> bits) != 0;
        break;
    }
    }
    return kept + *away;
}

/* The result of an overflow (or of an infinite input that the format
 * cannot hold) under the mode; `away` says which way sr went. */
static inline QC_HD double qc__overflow_value(const struct qc_format *f, bool neg,
                                              const struct qc_round *r, bool away)
{
    bool to_inf = false;

    if (!(f->flags & QC_FMTF_SAT)) {
        switch (r->mode) {
        case QC_ROUND_RNE:
        case QC_ROUND_RNA:
            to_inf = true;
            break;
        case QC_ROUND_RTZ:
            break;
        case QC_ROUND_RUP:
            to_inf = !neg;
            break;
        case QC_ROUND_RDN:
            to_inf = neg;
            break;
        case QC_ROUND_SR:
            to_inf = away;
            break;
        }
    }
    if (to_inf && f->has_inf)
        return qc__hd_inf(neg);
    if (to_inf && f->has_nan)
        return qc__hd_nan();
    return neg ? -f->max_finite : f->max_finite;
}

/* Rounds within the gap (0, s) of a daz or subnormal-as-normal value set. */
static inline QC_HD double qc__round_gap(const struct qc_xval *x, double s,
                                         const struct qc_round *r, uint64_t index, unsigned *ev)
{
    struct qc_xval half;
    bool up = false;

    qc__x_from_double(&half, s * 0.5); /* exact: s is a normal double */
    int c = qc__x_cmp_mag(x, &half);
    switch (r->mode) {
    case QC_ROUND_RNE:
        up = c > 0; /* a tie goes to 0, the even neighbour */
        break;
    case QC_ROUND_RNA:
        up = c >= 0;
        break;
    case QC_ROUND_RTZ:
        break;
    case QC_ROUND_RUP:
        up = !x->neg;
        break;
    case QC_ROUND_RDN:
        up = x->neg;
        break;
    case QC_ROUND_SR: {
        /* Up iff u*s < |x|*2^R: compare |x| with u*s*2^-R, exactly. */
        struct qc_xval t, sx;
        uint64_t u = qc__sr_draw(r->seed, r->stream, index, r->sr_bits);
        if (u == 0) { /* 0 < |x|: always up */
            up = true;
            break;
        }
        /* s has at most 53 significant bits, u at most 64: the product fits. */
        qc__x_from_double(&sx, s);
        qc__x_make(&t, false, (sx.sig >> 72) * u, sx.exp + 72 - r->sr_bits);
        up = qc__x_cmp_mag(&t, x) < 0;
        break;
    }
    }
    if (!up) {
        *ev |= QC_EV_UNDERFLOW | QC_EV_INEXACT;
        return x->neg ? -0.0 : 0.0;
    }
    *ev |= QC_EV_INEXACT;
    return x->neg ? -s : s;
}

static inline QC_HD double qc__round_float(const struct qc_format *f, const struct qc_xval *x,
                                           const struct qc_round *r, uint64_t index, unsigned *ev)
{
    const int E = x->exp + QC_X_TOP; /* 2^E <= |x| < 2^(E+1) */
    int emin = f->emin;
    bool away, inexact;

    if (f->flags & (QC_FMTF_DAZ | QC_FMTF_SAN)) {
        struct qc_xval smin;
        qc__x_from_double(&smin, f->min_subnormal);
        if (qc__x_cmp_mag(x, &smin) < 0)
            return qc__round_gap(x, f->min_subnormal, r, index, ev);
        if ((f->flags & QC_FMTF_SAN) && f->mbits > 0)
            emin -= 1; /* code-0 normals extend the grid one binade down */
    }

    const int q = (E > emin ? E : emin) - f->mbits;
    qc_u128 k = qc__round_mag(x->sig, x->exp, q, x->neg, r, index, &away, &inexact);
    /* k <= 2^(mbits+1) <= 2^53: the conversion is exact. */
    double v = qc__hd_ldexp((double)(uint64_t)k, q);

    if (inexact)
        *ev |= QC_EV_INEXACT;
    if (v > f->max_finite) {
        *ev |= QC_EV_OVERFLOW;
        return qc__overflow_value(f, x->neg, r, away);
    }
    if (v == 0.0 || ((f->flags & QC_FMTF_NOSUB) && v < f->min_normal)) {
        *ev |= QC_EV_UNDERFLOW;
        return x->neg ? -0.0 : 0.0;
    }
    return x->neg ? -v : v;
}

static inline QC_HD double qc__round_fixed(const struct qc_format *f, const struct qc_xval *x,
                                           const struct qc_round *r, uint64_t index, unsigned *ev)
{
    const int bits =
        f->kind == QC_FMT_FIXED || f->elem == QC_FMT_FIXED ? f->ibits + f->fbits : f->ibits;
    const int64_t hi = (INT64_C(1) << (bits - 1)) - 1;
    const int64_t lo = f->elem == QC_FMT_FIXED ? -hi - 1 : -hi;
    const bool wrap = (f->flags & QC_FMTF_WRAP) != 0;
    const int E = x->exp + QC_X_TOP;
    bool away, inexact;
    int64_t c;

    if (E + f->fbits > bits) {
        /* |x| * 2^N >= 2^(bits+1): far outside the range. Wrapping still
         * needs the low bits, which round_mag keeps modulo 2^128. */
        *ev |= QC_EV_OVERFLOW;
        if (!wrap) {
            *ev |= QC_EV_INEXACT;
            return qc__hd_ldexp((double)(x->neg ? lo : hi), -f->fbits);
        }
    }
    qc_u128 k = qc__round_mag(x->sig, x->exp, -f->fbits, x->neg, r, index, &away, &inexact);
    if (inexact)
        *ev |= QC_EV_INEXACT;
    if (!wrap) {
        /* k < 2^(bits+2) here, so the signed value is exact in int64. */
        c = x->neg ? -(int64_t)(uint64_t)k : (int64_t)(uint64_t)k;
        if (c > hi || c < lo) {
            *ev |= QC_EV_OVERFLOW;
            c = c > hi ? hi : lo;
        }
    } else {
        uint64_t mask = (UINT64_C(1) << bits) - 1;
        uint64_t u = (uint64_t)k & mask;
        if (x->neg)
            u = (0 - u) & mask;
        c = (int64_t)(u << (64 - bits)) >> (64 - bits);
        if (k > (qc_u128)(x->neg ? (uint64_t)hi + 1 : (uint64_t)hi))
            *ev |= QC_EV_OVERFLOW;
    }
    if (c == 0)
        *ev |= QC_EV_UNDERFLOW;
    return qc__hd_ldexp((double)c, -f->fbits) + 0.0; /* + 0.0: fixed point has no -0 */
}

/* Rounds `x` to scalar format `f` (float, fixed or int) with `r`; the
 * stochastic bits come from element `index`. Returns the value, exactly a
 * value of `f` (or the canonical NaN); or-s QC_EV_* into *ev. */
static inline QC_HD double qc__round_x(const struct qc_format *f, const struct qc_xval *x,
                                       const struct qc_round *r, uint64_t index, unsigned *ev)
{
    const bool is_float = f->elem == QC_FMT_FLOAT;

    switch (x->cls) {
    case QC_X_NAN:
        return qc__hd_nan();
    case QC_X_ZERO:
        return is_float && x->neg ? -0.0 : 0.0;
    case QC_X_INF:
        if (!is_float) /* fixed point and integers saturate */
            return x->neg ? (f->elem == QC_FMT_FIXED ? -qc__hd_ldexp(1.0, f->ibits - 1)
                                                     : -f->max_finite)
                          : f->max_finite;
        if (f->has_inf && !(f->flags & QC_FMTF_SAT))
            return qc__hd_inf(x->neg);
        return qc__overflow_value(f, x->neg, r, true);
    case QC_X_FIN:
        break;
    }
    return is_float ? qc__round_float(f, x, r, index, ev) : qc__round_fixed(f, x, r, index, ev);
}

/* qc_round_value's arithmetic: one double rounded to scalar format `f`. */
static inline QC_HD double qc__round_value(const struct qc_format *f, double x,
                                           const struct qc_round *r, uint64_t index,
                                           struct qc_round_stats *st)
{
    struct qc_xval xv;
    unsigned ev = 0;

    qc__x_from_double(&xv, x);
    double v = qc__round_x(f, &xv, r, index, &ev);
    qc__count(st, ev);
    return v;
}

#endif
