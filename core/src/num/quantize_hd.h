/* Block quantization's per-block arithmetic as QC_HD code: the scale rules
 * (floor, ceil, round), a block's shared scale exponent, and the rounding of
 * its elements under that scale. quantize.c and block.c call it on the CPU
 * and the CUDA quantizer runs it one block per thread. The element format
 * `el` is the block format's element (qc_format_element), computed once by
 * the caller. */
#ifndef QCORE_QUANTIZE_HD_H
#define QCORE_QUANTIZE_HD_H

#include "qcore/quantize.h"
#include "round_hd.h"

#define QC__SCALE_EXP_MIN (-127)
#define QC__SCALE_EXP_MAX 127

/* Whether amax / 2^e, carrying sign `neg`, rounds (as the elements do)
 * beyond the element maximum. Stochastic rounding counts as rounding away
 * from zero, its worst case, so the block maximum is never clipped. */
static inline QC_HD bool qc__max_rounds_above(const struct qc_format *elem, double amax, int e,
                                              bool neg, const struct qc_round *r)
{
    struct qc_format el = *elem;
    struct qc_round rr;
    struct qc_xval x;
    unsigned ev = 0;

    el.flags &= ~QC_FMTF_SAT;
    qc__round_set(&rr, r ? r->mode : QC_ROUND_RNE);
    if (rr.mode == QC_ROUND_SR)
        rr.mode = neg ? QC_ROUND_RDN : QC_ROUND_RUP;
    qc__x_from_double(&x, neg ? -amax : amax);
    x.exp -= e;
    double v = qc__round_x(&el, &x, &rr, 0, &ev);
    /* A format without inf saturates instead: its overflow event says it. */
    return !(qc__hd_fabs(v) <= el.max_finite) || (ev & QC_EV_OVERFLOW);
}

/* The rule's exponent e for values of largest magnitude amax > 0, carried
 * by values of sign + (`pos`) and/or - (`neg`), scaled into scalar format
 * `el` whose top binade is [2^top, 2^(top+1)). Not clamped. */
static inline QC_HD int qc__rule_exp(const struct qc_format *el, int top, double amax, bool pos,
                                     bool neg, enum qc_scale_rule rule, const struct qc_round *r)
{
    int e = qc__hd_ilog2(amax) - top;

    switch (rule) {
    case QC_SCALE_FLOOR:
        break;
    case QC_SCALE_CEIL:
        if (amax > qc__hd_ldexp(el->max_finite, e))
            e++;
        break;
    case QC_SCALE_ROUND:
        if ((pos && qc__max_rounds_above(el, amax, e, false, r)) ||
            (neg && qc__max_rounds_above(el, amax, e, true, r)))
            e++;
        break;
    }
    return e;
}

/* The scale exponent of block format `f` (element `el`) for a block whose
 * largest magnitude amax is carried by elements of sign + (`pos`) and/or -
 * (`neg`); INT32_MAX for the NaN scale. */
static inline QC_HD int qc__scale_exp(const struct qc_format *f, const struct qc_format *el,
                                      double amax, bool pos, bool neg, enum qc_scale_rule rule,
                                      const struct qc_round *r)
{
    int e;

    if (!(amax > 0))
        return QC__SCALE_EXP_MIN;
    e = qc__rule_exp(el, f->elem_emax, amax, pos, neg, rule, r);
    if (e < QC__SCALE_EXP_MIN)
        e = QC__SCALE_EXP_MIN;
    if (e > QC__SCALE_EXP_MAX)
        return INT32_MAX;
    return e;
}

/* The scale exponent of one block of `len` values: INT32_MAX for the NaN
 * scale (a NaN or inf in the block, or a scale above E8M0's range). */
static inline QC_HD int qc__block_exp_hd(const struct qc_format *f, const struct qc_format *el,
                                         const double *in, int64_t len, enum qc_scale_rule rule,
                                         const struct qc_round *r)
{
    double amax = 0.0;
    bool pos = false, neg = false;

    for (int64_t i = 0; i < len; i++) {
        if (!qc__hd_isfinite(in[i]))
            return INT32_MAX; /* NaN or inf in the block: NaN scale (OCP MX) */
        if (qc__hd_fabs(in[i]) > amax)
            amax = qc__hd_fabs(in[i]);
    }
    for (int64_t i = 0; i < len; i++) {
        pos = pos || in[i] == amax;
        neg = neg || in[i] == -amax;
    }
    return qc__scale_exp(f, el, amax, pos, neg, rule, r);
}

/* x / 2^e rounded to element format `el` (counted into `st`). */
static inline QC_HD double qc__block_elem_hd(const struct qc_format *el, double x, int e,
                                             const struct qc_round *r, uint64_t index,
                                             struct qc_round_stats *st)
{
    struct qc_xval xv;
    unsigned ev = 0;

    /* Scale by moving the exponent of the exact value: never inexact. */
    qc__x_from_double(&xv, x);
    xv.exp -= e;
    double v = qc__round_x(el, &xv, r, index, &ev);
    qc__count(st, ev);
    return v;
}

/* Quantizes one block of `len` doubles (in -> out, which may alias) of
 * block format f; element i draws stochastic bits for index + i. */
static inline QC_HD void qc__quantize_block_hd(double *out, const double *in, int64_t len,
                                               const struct qc_format *f,
                                               const struct qc_format *el, const struct qc_round *r,
                                               enum qc_scale_rule rule, uint64_t index,
                                               struct qc_round_stats *st)
{
    const int e = qc__block_exp_hd(f, el, in, len, rule, r);
    const double top = qc__hd_ldexp(el->max_finite, 127); /* the largest MX value */

    for (int64_t i = 0; i < len; i++) {
        if (e == INT32_MAX) {
            /* NaN scale: a finite value beyond the format's range overflowed. */
            if (st) {
                st->ops++;
                st->overflow += qc__hd_isfinite(in[i]) && qc__hd_fabs(in[i]) > top;
            }
            out[i] = qc__hd_nan();
            continue;
        }
        out[i] = qc__hd_ldexp(qc__block_elem_hd(el, in[i], e, r, index + (uint64_t)i, st), e);
    }
}

#endif
