/* The MAC's per-element arithmetic as QC_HD code: the product step of each
 * CFG, the rounded float add with its counters, the saturating fixed-point
 * add, and the chunked dot product of docs/mac.md in its one summation
 * order. mac.c wraps the dot product for the CPU GEMM's exact engine; the
 * CUDA GEMM runs the same function, one output element per thread. */
#ifndef QCORE_MAC_HD_H
#define QCORE_MAC_HD_H

#include "lane_hd.h"
#include "qcore/mac.h"
#include "round_hd.h"

/* The product step on an exact product: rounding (CFG-1/2) or flush. */
static inline QC_HD void qc__mac_product_step(struct qc_xval *p, const struct qc_mac *m,
                                              struct qc_round_stats *st)
{
    if (m->fused || p->cls != QC_X_FIN)
        return;
    if (!m->prod_exact) {
        struct qc_round rne;
        unsigned ev = 0;
        qc__round_set(&rne, QC_ROUND_RNE);
        double v = qc__round_x(&m->prod_round, p, &rne, 0, &ev);
        if (st) {
            st->overflow += (ev & QC_EV_OVERFLOW) != 0;
            st->underflow += (ev & QC_EV_UNDERFLOW) != 0;
        }
        qc__x_from_double(p, v);
        return;
    }
    if (m->prod_flush > 0.0) {
        struct qc_xval t;
        qc__x_from_double(&t, m->prod_flush);
        if (qc__x_cmp_mag(p, &t) < 0) {
            p->cls = QC_X_ZERO;
            if (st)
                st->underflow++;
        }
    }
}

/* acc + p rounded to a float accumulator, counting the step. */
static inline QC_HD double qc__mac_float_add(const struct qc_mac *m, double acc,
                                             const struct qc_xval *p, uint64_t index,
                                             struct qc_round_stats *st)
{
    struct qc_xval xa, s;
    unsigned ev = 0;

    qc__x_from_double(&xa, acc);
    qc__x_add(&s, &xa, p, m->acc_round.mode);
    double r = qc__round_x(&m->acc, &s, &m->acc_round, index, &ev);
    if (st) {
        st->overflow += (ev & QC_EV_OVERFLOW) != 0;
        st->underflow += (ev & QC_EV_UNDERFLOW) != 0;
        st->swamping += acc != 0.0 && qc__hd_isfinite(acc) && p->cls == QC_X_FIN && r == acc;
    }
    return r;
}

/* Saturating (or wrapping) add of two fixed-point codes. */
static inline QC_HD int64_t qc__mac_fixed_add(const struct qc_format *f, int64_t x, int64_t y,
                                              struct qc_round_stats *st)
{
    const int bits = f->kind == QC_FMT_FIXED ? f->ibits + f->fbits : f->ibits;
    const int64_t hi = (INT64_C(1) << (bits - 1)) - 1;
    const int64_t lo = f->kind == QC_FMT_FIXED ? -hi - 1 : -hi;
    int64_t s = x + y; /* |x|, |y| < 2^53: no int64 overflow */

    if (s >= lo && s <= hi)
        return s;
    if (st)
        st->overflow++;
    if (f->flags & QC_FMTF_WRAP) {
        uint64_t mask = (UINT64_C(1) << bits) - 1;
        uint64_t u = (uint64_t)s & mask;
        int64_t w = (int64_t)(u << (64 - bits)) >> (64 - bits);
        if (st && w == 0)
            st->underflow++; /* a nonzero exact sum that wrapped to zero */
        return w;
    }
    return s > hi ? hi : lo;
}

/* The state of one output element's dot product between products, so that
 * a caller may feed the products in pieces (the CUDA GEMM feeds them tile by
 * tile from shared memory) and still add them in the one order of
 * docs/mac.md: the chunk in progress, the running total, and the step that
 * numbers the stochastic-rounding draws. */
struct qc__dot {
    double acc, total;       /* float accumulators */
    int64_t acc_c, total_c;  /* fixed-point accumulators: codes on the 2^-N grid */
    int64_t chunk, in_chunk; /* products per chunk (>= 1); products in the open chunk */
    uint64_t step;           /* draws so far: products and chunk totals */
    bool fixed, nan;         /* fixed-point accumulator; a NaN product met (fixed only) */
    bool lanes;              /* the fp64 lane (lane_hd.h) computes this configuration */
};

/* A dot product of k products under `m`, nothing added yet. */
static inline QC_HD void qc__dot_init(struct qc__dot *s, const struct qc_mac *m, int64_t k)
{
    s->acc = 0.0;
    s->total = 0.0;
    s->acc_c = 0;
    s->total_c = 0;
    s->chunk = m->chunk > 0 && m->chunk < k ? m->chunk : (k > 0 ? k : 1);
    s->in_chunk = 0;
    s->step = 0;
    s->fixed = m->acc.kind != QC_FMT_FLOAT;
    s->nan = false;
    s->lanes = qc__lane_ok(m);
}

/* acc + p, rounded and counted: in the lane when both are finite, else by
 * the exact engine (infinities and NaNs are rare and follow its rules). */
static inline QC_HD double qc__dot_float_add(const struct qc__dot *s, const struct qc_mac *m,
                                             double acc, double p, uint64_t index,
                                             struct qc_round_stats *st)
{
    struct qc_xval xp;

    if (s->lanes && qc__hd_isfinite(acc) && qc__hd_isfinite(p))
        return qc__lane_add(m, acc, p, index, st);
    qc__x_from_double(&xp, p);
    return qc__mac_float_add(m, acc, &xp, index, st);
}

/* Adds the open chunk to the total and opens the next. */
static inline QC_HD void qc__dot_close_chunk(struct qc__dot *s, const struct qc_mac *m,
                                             uint64_t sr_base, struct qc_round_stats *st)
{
    if (!s->fixed) {
        s->total = qc__dot_float_add(s, m, s->total, s->acc, sr_base + s->step++, st);
    } else {
        s->total_c = qc__mac_fixed_add(&m->acc, s->total_c, s->acc_c, st);
        s->step++;
    }
    s->acc = 0.0;
    s->acc_c = 0;
    s->in_chunk = 0;
}

/* The next product a x b, inputs already rounded to m->a_read / m->b_read:
 * the CFG's product step, then the rounded add to the chunk; a full chunk
 * is added to the total. Stochastic rounding draws sr_base + step. */
static inline QC_HD void qc__dot_push(struct qc__dot *s, const struct qc_mac *m, double a, double b,
                                      uint64_t sr_base, struct qc_round_stats *st)
{
    struct qc_xval p;

    if (s->lanes) {
        /* The exact product is a * b in fp64 (lane_hd.h). */
        const double pl = qc__lane_product_step(m, qc__hd_dmul(a, b), st);
        s->acc = qc__dot_float_add(s, m, s->acc, pl, sr_base + s->step++, st);
        if (++s->in_chunk == s->chunk)
            qc__dot_close_chunk(s, m, sr_base, st);
        return;
    }
    qc__x_mul(&p, a, b);
    qc__mac_product_step(&p, m, st);
    if (!s->fixed) {
        s->acc = qc__mac_float_add(m, s->acc, &p, sr_base + s->step++, st);
    } else {
        /* Fixed point: the product converts to the grid, then adds. */
        unsigned ev = 0;
        double q = qc__round_x(&m->acc, &p, &m->acc_round, sr_base + s->step++, &ev);
        if (st) {
            st->overflow += (ev & QC_EV_OVERFLOW) != 0;
            st->underflow += (ev & QC_EV_UNDERFLOW) != 0 && p.cls == QC_X_FIN;
        }
        if (qc__hd_isnan(q)) /* fixed point cannot hold a NaN: the result will be NaN */
            s->nan = true;
        else
            s->acc_c =
                qc__mac_fixed_add(&m->acc, s->acc_c, (int64_t)qc__hd_ldexp(q, m->acc.fbits), st);
    }
    if (++s->in_chunk == s->chunk)
        qc__dot_close_chunk(s, m, sr_base, st);
}

/* The result after the last product: a short last chunk is added first.
 * Zero products give +0. */
static inline QC_HD double qc__dot_finish(struct qc__dot *s, const struct qc_mac *m,
                                          uint64_t sr_base, struct qc_round_stats *st)
{
    if (s->in_chunk > 0)
        qc__dot_close_chunk(s, m, sr_base, st);
    if (s->fixed)
        return s->nan ? qc__hd_nan() : qc__hd_ldexp((double)s->total_c, -m->acc.fbits);
    return s->total;
}

/* One output element: sum over k of a[kk*sa] * b[kk*sb] under `m`, inputs
 * already rounded to m->a_read / m->b_read, in the order of docs/mac.md:
 *
 *   total = 0; for each chunk: acc = 0; for k in chunk: acc = round(acc + p_k);
 *                              total = round(total + acc)
 *
 * Stochastic accumulator rounding draws indices sr_base + step with
 * m->acc_round's seed and stream. Counts events into `st` (not `ops`). A NaN
 * product makes a fixed-point dot product NaN. */
static inline QC_HD double qc__mac_dot_hd(const struct qc_mac *m, const double *a, int64_t sa,
                                          const double *b, int64_t sb, int64_t k, uint64_t sr_base,
                                          struct qc_round_stats *st)
{
    struct qc__dot s;

    qc__dot_init(&s, m, k);
    for (int64_t kk = 0; kk < k; kk++)
        qc__dot_push(&s, m, a[kk * sa], b[kk * sb], sr_base, st);
    return qc__dot_finish(&s, m, sr_base, st);
}

#endif
