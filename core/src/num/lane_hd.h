/* The exact engine's fast lane (QC_HD): the same MAC steps as mac_hd.h's
 * exact values, on doubles, for the configurations where that is provably
 * the same thing:
 *
 * - every product of two operand values is exact in fp64 (their
 *   significands have at most 53 bits together and the product stays far
 *   inside fp64's range), so a * b is the exact product;
 * - an accumulator add acc + p is computed exactly as a double sum s plus
 *   its error e (TwoSum, exact for any two doubles whose sum does not
 *   overflow), and folded into the round-to-odd double y: s when e is 0 or
 *   s's last bit is 1, else the neighbour of s towards s + e. y keeps the
 *   exact sum's sign, its zero-ness, and its leading 52 bits (those of the
 *   truncated sum) with a sticky last bit; rounding y to a grid at least two
 *   bits coarser than y's last bit gives the rounding of the exact sum in
 *   every mode (round to odd, Boldo and Melquiond), and stochastic rounding
 *   reads only bits above y's last bit;
 * - the rounding of y to the accumulator format is round_hd.h's rounding
 *   with a 64-bit significand (qc__lane_round, a copy of qc__round_float for
 *   gapless formats).
 *
 * Infinite or NaN operands of an add go to the exact engine for that step.
 * Operands outside the multiplier's reading (gemm.h: the caller's error)
 * may be inexact here, as they are in the CPU's vector kernels. The CPU's
 * exact engine takes this lane too, so every GEMM test that forces the
 * scalar engine ("scalar") checks it against the MPFR reference. */
#ifndef QCORE_LANE_HD_H
#define QCORE_LANE_HD_H

#include "qcore/mac.h"
#include "round_hd.h"

/* Bounds of a reading's values: significant bits, the exponent of the
 * lowest bit any value can have, and the largest magnitude. */
static inline QC_HD void qc__lane_operand(const struct qc_format *f, int *sig, int *lsb,
                                          double *max)
{
    const bool block = f->kind == QC_FMT_MX || f->kind == QC_FMT_BFP;

    switch (f->elem) {
    case QC_FMT_FLOAT:
        *sig = f->mbits + 1;
        *lsb = f->emin - f->mbits - 1; /* one binade lower for subnormal-as-normal */
        break;
    case QC_FMT_FIXED:
        *sig = f->ibits + f->fbits;
        *lsb = -f->fbits;
        break;
    default: /* QC_FMT_INT, alone or as block elements (scaled by 2^-fbits) */
        *sig = f->ibits;
        *lsb = -f->fbits;
        break;
    }
    *max = f->max_finite;
    if (block) { /* E8M0 scales 2^-127 .. 2^127 */
        *lsb -= 127;
        *max = qc__hd_ldexp(*max, 127);
    }
}

/* True when a float accumulator can round from a round-to-odd double:
 * gapless, at most 51 significant bits (two spare bits in fp64), a grid no
 * finer than 2^-1072, stochastic bits above the sticky bit (also where the
 * sum is an fp64 subnormal), and values far inside fp64's range. */
static inline QC_HD bool qc__lane_format_ok(const struct qc_format *f, const struct qc_round *r)
{
    return f->kind == QC_FMT_FLOAT && !(f->flags & (QC_FMTF_DAZ | QC_FMTF_SAN)) && f->mbits <= 50 &&
           f->emin - f->mbits >= -1072 && f->max_finite < qc__hd_pow2(1000) &&
           (r->mode != QC_ROUND_SR ||
            (f->mbits + 1 + r->sr_bits <= 52 && f->emin - f->mbits - r->sr_bits >= -1073));
}

/* Whether `m`'s dot products may take the lane (see the top of the file). */
static inline QC_HD bool qc__lane_ok(const struct qc_mac *m)
{
    int sa, sb, la, lb;
    double ma, mb;
    struct qc_round rne;

    if (m->acc.kind != QC_FMT_FLOAT || !qc__lane_format_ok(&m->acc, &m->acc_round))
        return false;
    qc__lane_operand(&m->a_read, &sa, &la, &ma);
    qc__lane_operand(&m->b_read, &sb, &lb, &mb);
    if (sa + sb > 53 || la + lb < -1074 || !(qc__hd_dmul(ma, mb) < qc__hd_pow2(1000)))
        return false;
    qc__round_set(&rne, QC_ROUND_RNE);
    /* A rounded product (CFG-1/2) is exact before its one rounding. */
    return m->fused || m->prod_exact || qc__lane_format_ok(&m->prod_round, &rne);
}

/* y (finite, any double whose rounding is wanted; a round-to-odd sum in the
 * lane) rounded to gapless float format f with r: qc__round_float with the
 * significand in 64 bits. Or-s QC_EV_* into *ev. */
static inline QC_HD double qc__lane_round(const struct qc_format *f, double y,
                                          const struct qc_round *r, uint64_t index, unsigned *ev)
{
    const bool neg = qc__hd_signbit(y);
    uint64_t sig, kept;
    int ex;
    bool away = false;

    if (y == 0.0)
        return y;
    qc__x_split_double(y, &sig, &ex); /* |y| = sig x 2^ex */
    const int E = 63 - qc__hd_clz64(sig) + ex;
    const int q = (E > f->emin ? E : f->emin) - f->mbits;
    const int sh = q - ex;
    if (sh <= 0) {
        kept = sig << -sh; /* exact: at most mbits + 1 bits */
    } else {
        kept = sh >= 64 ? 0 : sig >> sh;
        const bool rbit = sh - 1 < 64 && ((sig >> (sh - 1)) & 1);
        const uint64_t below = sh - 1 >= 64 ? sig : sig & ((UINT64_C(1) << (sh - 1)) - 1);
        const bool rest = below != 0;
        if (rbit || rest) {
            *ev |= QC_EV_INEXACT;
            switch (r->mode) {
            case QC_ROUND_RNE:
                away = rbit && (rest || (kept & 1));
                break;
            case QC_ROUND_RNA:
                away = rbit;
                break;
            case QC_ROUND_RTZ:
                break;
            case QC_ROUND_RUP:
                away = !neg;
                break;
            case QC_ROUND_RDN:
                away = neg;
                break;
            case QC_ROUND_SR: {
                /* f: the R discarded bits just below the kept last bit. */
                const int bits = r->sr_bits;
                const uint64_t mask = qc__sr_mask(bits);
                uint64_t fr;
                if (sh >= bits)
                    fr = sh - bits >= 64 ? 0 : (sig >> (sh - bits)) & mask;
                else
                    fr = (sig << (bits - sh)) & mask;
                const uint64_t u = qc__sr_draw(r->seed, r->stream, index, bits);
                away = bits >= 64 ? fr + u < fr : ((fr + u) >> bits) != 0;
                break;
            }
            }
            kept += away;
        }
    }
    const double v = qc__hd_ldexp((double)kept, q);
    if (v > f->max_finite) {
        *ev |= QC_EV_OVERFLOW;
        return qc__overflow_value(f, neg, r, away);
    }
    if (v == 0.0 || ((f->flags & QC_FMTF_NOSUB) && v < f->min_normal)) {
        *ev |= QC_EV_UNDERFLOW;
        return neg ? -0.0 : 0.0;
    }
    return neg ? -v : v;
}

/* The round-to-odd double of the exact sum a + b (no overflow). Under
 * rounding mode rdn an exact zero sum of anything but two +0 is -0, as
 * qc__x_add makes it. */
static inline QC_HD double qc__lane_sum_odd(double a, double b, enum qc_round_mode mode)
{
    const double s = qc__hd_dadd(a, b);
    const double bb = qc__hd_dsub(s, a);
    const double e = qc__hd_dadd(qc__hd_dsub(a, qc__hd_dsub(s, bb)),
                                 qc__hd_dsub(b, bb)); /* exact: s + e = a + b */

    if (e == 0.0) {
        if (s == 0.0 && mode == QC_ROUND_RDN &&
            (qc__hd_signbit(a) || qc__hd_signbit(b) || a != 0.0))
            return -0.0;
        return s;
    }
    uint64_t u = qc__hd_bits(s);
    if (u & 1)
        return s;
    /* s is nonzero here; step its magnitude towards s + e. */
    return qc__hd_double(qc__hd_signbit(e) == qc__hd_signbit(s) ? u + 1 : u - 1);
}

/* acc + p rounded to the accumulator, counting the step as
 * qc__mac_float_add does; both finite. */
static inline QC_HD double qc__lane_add(const struct qc_mac *m, double acc, double p,
                                        uint64_t index, struct qc_round_stats *st)
{
    unsigned ev = 0;
    const double y = qc__lane_sum_odd(acc, p, m->acc_round.mode);
    const double r = qc__lane_round(&m->acc, y, &m->acc_round, index, &ev);

    if (st) {
        st->overflow += (ev & QC_EV_OVERFLOW) != 0;
        st->underflow += (ev & QC_EV_UNDERFLOW) != 0;
        st->swamping += acc != 0.0 && p != 0.0 && r == acc;
    }
    return r;
}

/* The CFG's product step on an exact product p (qc__mac_product_step). */
static inline QC_HD double qc__lane_product_step(const struct qc_mac *m, double p,
                                                 struct qc_round_stats *st)
{
    if (m->fused || p == 0.0 || !qc__hd_isfinite(p))
        return p;
    if (!m->prod_exact) {
        struct qc_round rne;
        unsigned ev = 0;
        qc__round_set(&rne, QC_ROUND_RNE);
        const double v = qc__lane_round(&m->prod_round, p, &rne, 0, &ev);
        if (st) {
            st->overflow += (ev & QC_EV_OVERFLOW) != 0;
            st->underflow += (ev & QC_EV_UNDERFLOW) != 0;
        }
        return v;
    }
    if (m->prod_flush > 0.0 && qc__hd_fabs(p) < m->prod_flush) {
        if (st)
            st->underflow++;
        return qc__hd_signbit(p) ? -0.0 : 0.0;
    }
    return p;
}

#endif
