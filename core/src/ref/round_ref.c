/* Reference rounding and quantization (qc_round_value_ref, qc_quantize_ref_f64):
 * every rule of docs/formats.md spelled out one step at a time on exact MPFR
 * values. Slow on purpose; the fast versions are tested bit for bit against it,
 * so it shares no code with them. */
#include "ref_impl.h"

#include <math.h>

#include "qcore/ref.h"

/* Where docs/formats.md and docs/mac.md leave room, this reference reads them
 * as follows (the tests hold the fast paths to the same reading):
 * - an infinite input is not an overflow (its exact value was not finite);
 * - a wrapped fixed-point result counts overflow, and underflow too when it
 *   wraps to zero (a nonzero exact value, a zero result);
 * - the `round` scale rule rounds the block maximum with the elements' own
 *   mode and sign; sr, which has no element index there, counts as away;
 * - a block whose scale exceeds 127 reads NaN, and each of its finite values
 *   beyond elem max x 2^127 counts as an overflow. BFP shares E8M0's range. */

/* E8M0 (and the BFP exponent byte) hold e in [-127, 127]; 255 is NaN. */
#define SCALE_EMIN (-127)
#define SCALE_EMAX 127

static const struct qc_round round_rne; /* zero-initialised: rne */

static double signed_zero(bool neg)
{
    return neg ? -0.0 : 0.0;
}

/* The R random bits of element `index` (qc_sr_draw). */
static uint64_t sr_draw(const struct qc_round *r, uint64_t index, int *bits)
{
    int R = r->sr_bits;

    if (R <= 0)
        R = QC_SR_BITS_DEFAULT; /* a hand-built struct that left sr_bits at 0 */
    if (R > QC_SR_BITS_MAX)
        R = QC_SR_BITS_MAX;
    *bits = R;
    return qc_sr_draw(r->seed, r->stream, index, R);
}

/* On a grid: |x| lies `frac` quanta (exact, in [0, 1)) above the grid point
 * lo, whose index has parity `lo_odd`. Returns true when the result is the
 * next grid point away from zero, false when it is lo. */
static bool grid_away(mpfr_srcptr frac, bool lo_odd, bool neg, const struct qc_round *r,
                      uint64_t index)
{
    if (mpfr_zero_p(frac))
        return false; /* exact: every mode keeps it, sr draws nothing that matters */
    switch (r->mode) {
    case QC_ROUND_RNE: {
        int c = mpfr_cmp_d(frac, 0.5);
        return c > 0 || (c == 0 && lo_odd); /* tie: the neighbour with an even last bit */
    }
    case QC_ROUND_RNA:
        return mpfr_cmp_d(frac, 0.5) >= 0;
    case QC_ROUND_RTZ:
        return false;
    case QC_ROUND_RUP:
        return !neg; /* toward +inf: away from zero only for positive values */
    case QC_ROUND_RDN:
        return neg;
    case QC_ROUND_SR: {
        /* f: the R bits of the discarded fraction just below the kept last
         * bit, lower bits truncated; away iff f + u >= 2^R. */
        int R;
        uint64_t u = sr_draw(r, index, &R);
        mpfr_t fr, um;
        bool away;
        mpfr_inits2(QC__REF_PREC, fr, um, (mpfr_ptr)0);
        QC__REF_EXACT(mpfr_mul_2si(fr, frac, R, MPFR_RNDN));
        QC__REF_EXACT(mpfr_rint_floor(fr, fr, MPFR_RNDN));
        QC__REF_EXACT(mpfr_set_uj(um, u, MPFR_RNDN));
        QC__REF_EXACT(mpfr_add(fr, fr, um, MPFR_RNDN));
        away = mpfr_cmp_ui_2exp(fr, 1, R) >= 0;
        mpfr_clears(fr, um, (mpfr_ptr)0);
        return away;
    }
    }
    return false;
}

/* Compares 2a with s, i.e. a with s/2 (which need not be a double). */
static int cmp_half(mpfr_srcptr a, double s)
{
    mpfr_t a2;
    int c;
    mpfr_init2(a2, QC__REF_PREC);
    QC__REF_EXACT(mpfr_mul_2ui(a2, a, 1, MPFR_RNDN));
    c = mpfr_cmp_d(a2, s);
    mpfr_clear(a2);
    return c;
}

/* In the gap (0, s) of a daz or subnormal-as-normal value set: true when
 * |x| = a goes to s, false when it goes to zero (docs/formats.md, "Gapped
 * value sets"). */
static bool gap_up(mpfr_srcptr a, double s, bool neg, const struct qc_round *r, uint64_t index)
{
    switch (r->mode) {
    case QC_ROUND_RNE:
        return cmp_half(a, s) > 0; /* at s/2 exactly: 0 is the even neighbour */
    case QC_ROUND_RNA:
        return cmp_half(a, s) >= 0;
    case QC_ROUND_RTZ:
        return false;
    case QC_ROUND_RUP:
        return !neg;
    case QC_ROUND_RDN:
        return neg;
    case QC_ROUND_SR: {
        /* to s iff u * s < |x| * 2^R */
        int R;
        uint64_t u = sr_draw(r, index, &R);
        mpfr_t us, ax;
        bool up;
        mpfr_inits2(QC__REF_PREC, us, ax, (mpfr_ptr)0);
        QC__REF_EXACT(mpfr_set_uj(us, u, MPFR_RNDN));
        QC__REF_EXACT(mpfr_mul_d(us, us, s, MPFR_RNDN));
        QC__REF_EXACT(mpfr_mul_2si(ax, a, R, MPFR_RNDN));
        up = mpfr_cmp(us, ax) < 0;
        mpfr_clears(us, ax, (mpfr_ptr)0);
        return up;
    }
    }
    return false;
}

/* The overflow result of docs/formats.md: `away` says whether the rounding
 * went away from zero (it matters for sr, and infinite inputs count as away).
 * "inf" becomes NaN in a format without inf, and max finite in one with
 * neither (finite). */
static double overflow_result(const struct qc_format *f, bool neg, bool away,
                              const struct qc_round *r)
{
    bool to_inf;

    switch (r->mode) {
    case QC_ROUND_RNE:
    case QC_ROUND_RNA:
        to_inf = true;
        break;
    case QC_ROUND_RTZ:
        to_inf = false;
        break;
    case QC_ROUND_RUP:
        to_inf = !neg;
        break;
    case QC_ROUND_RDN:
        to_inf = neg;
        break;
    case QC_ROUND_SR:
    default:
        to_inf = away;
        break;
    }
    if ((f->flags & QC_FMTF_SAT) || (!f->has_inf && !f->has_nan))
        to_inf = false;
    if (!to_inf)
        return neg ? -f->max_finite : f->max_finite;
    if (!f->has_inf)
        return NAN; /* the canonical quiet NaN carries no sign */
    return neg ? -INFINITY : INFINITY;
}

static double round_float(const struct qc_format *f, mpfr_srcptr x, const struct qc_round *r,
                          uint64_t index, struct qc__ref_flags *fl)
{
    const bool neg = mpfr_signbit(x) != 0;
    const bool gapped = f->flags & (QC_FMTF_DAZ | QC_FMTF_SAN);
    mpfr_t a, t, lo, frac;
    double res;

    if (mpfr_nan_p(x))
        return NAN;
    if (mpfr_inf_p(x)) {
        /* Infinite inputs are not overflow (the exact value was not finite). */
        if (f->has_inf && !(f->flags & QC_FMTF_SAT))
            return neg ? -INFINITY : INFINITY;
        return overflow_result(f, neg, true, r);
    }
    if (mpfr_zero_p(x))
        return signed_zero(neg);

    mpfr_inits2(QC__REF_PREC, a, t, lo, frac, (mpfr_ptr)0);
    QC__REF_EXACT(mpfr_abs(a, x, MPFR_RNDN));

    if (gapped && mpfr_cmp_d(a, f->min_subnormal) < 0) {
        /* No grid between 0 and the smallest nonzero magnitude s
         * (daz: s = min normal; subnormal-as-normal: s = (1 + 2^-Y) 2^(emin-1)). */
        if (gap_up(a, f->min_subnormal, neg, r, index)) {
            res = neg ? -f->min_subnormal : f->min_subnormal;
        } else {
            fl->underflow = true;
            res = signed_zero(neg);
        }
        goto out;
    }

    /* a in [2^E, 2^(E+1)); the grid quantum is 2^(max(E, emin) - Y), except
     * that subnormal-as-normal values in [s, 2^emin) sit on 2^(emin-1-Y). */
    const long E = (long)mpfr_get_exp(a) - 1;
    long qexp;
    if ((f->flags & QC_FMTF_SAN) && E == f->emin - 1)
        qexp = f->emin - 1 - f->mbits;
    else
        qexp = (E > f->emin ? E : f->emin) - f->mbits;

    QC__REF_EXACT(mpfr_mul_2si(t, a, -qexp, MPFR_RNDN)); /* |x| in quanta */
    QC__REF_EXACT(mpfr_rint_floor(lo, t, MPFR_RNDN));    /* index of the neighbour below */
    QC__REF_EXACT(mpfr_sub(frac, t, lo, MPFR_RNDN));     /* distance above it, in [0, 1) */
    QC__REF_EXACT(mpfr_div_2ui(t, lo, 1, MPFR_RNDN));
    const bool lo_odd = !mpfr_integer_p(t);
    const bool away = grid_away(frac, lo_odd, neg, r, index);
    if (away)
        QC__REF_EXACT(mpfr_add_ui(lo, lo, 1, MPFR_RNDN));
    QC__REF_EXACT(mpfr_mul_2si(t, lo, qexp, MPFR_RNDN)); /* the magnitude, exponent unbounded */

    if (mpfr_cmp_d(t, f->max_finite) > 0) {
        fl->overflow = true;
        res = overflow_result(f, neg, away, r);
        goto out;
    }
    if (mpfr_zero_p(t) || ((f->flags & QC_FMTF_NOSUB) && mpfr_cmp_d(t, f->min_normal) < 0)) {
        /* rounded to zero, or a subnormal that nosub flushes: keeps its sign */
        fl->underflow = true;
        res = signed_zero(neg);
        goto out;
    }
    res = mpfr_get_d(t, MPFR_RNDN); /* a format value: exact */
    if (neg)
        res = -res;
out:
    mpfr_clears(a, t, lo, frac, (mpfr_ptr)0);
    return res;
}

/* qM.N and intN (also MX/BFP int elements, scaled by 2^-fbits): the grid is
 * 2^-fbits everywhere; then saturate (or wrap). No -0. */
static double round_fixed(const struct qc_format *f, mpfr_srcptr x, const struct qc_round *r,
                          uint64_t index, struct qc__ref_flags *fl)
{
    const bool neg = mpfr_signbit(x) != 0;
    const double vmax = f->max_finite;
    /* Two's complement qM.N reaches -2^(M-1); intN is symmetric. */
    const double vmin = f->kind == QC_FMT_FIXED ? -ldexp(1.0, f->ibits - 1) : -f->max_finite;
    mpfr_t t, lo, frac;
    double res;

    if (mpfr_nan_p(x))
        return NAN;
    if (mpfr_inf_p(x))
        return neg ? vmin : vmax; /* no inf to keep: saturate (wrap has no meaning here) */
    if (mpfr_zero_p(x))
        return 0.0;

    mpfr_inits2(QC__REF_PREC, t, lo, frac, (mpfr_ptr)0);
    QC__REF_EXACT(mpfr_abs(t, x, MPFR_RNDN));
    QC__REF_EXACT(mpfr_mul_2si(t, t, f->fbits, MPFR_RNDN)); /* |x| in quanta */
    QC__REF_EXACT(mpfr_rint_floor(lo, t, MPFR_RNDN));
    QC__REF_EXACT(mpfr_sub(frac, t, lo, MPFR_RNDN));
    QC__REF_EXACT(mpfr_div_2ui(t, lo, 1, MPFR_RNDN));
    const bool lo_odd = !mpfr_integer_p(t);
    if (grid_away(frac, lo_odd, neg, r, index))
        QC__REF_EXACT(mpfr_add_ui(lo, lo, 1, MPFR_RNDN));
    if (mpfr_zero_p(lo)) {
        fl->underflow = true;
        res = 0.0;
        goto out;
    }
    QC__REF_EXACT(mpfr_mul_2si(lo, lo, -f->fbits, MPFR_RNDN));
    if (neg)
        QC__REF_EXACT(mpfr_neg(lo, lo, MPFR_RNDN));

    if (mpfr_cmp_d(lo, vmax) > 0 || mpfr_cmp_d(lo, vmin) < 0) {
        fl->overflow = true;
        if (f->flags & QC_FMTF_WRAP) {
            /* two's complement wrap: modulo 2^M into [-2^(M-1), 2^(M-1)) */
            QC__REF_EXACT(mpfr_set_ui_2exp(t, 1, f->ibits, MPFR_RNDN));
            QC__REF_EXACT(mpfr_fmod(lo, lo, t, MPFR_RNDN));
            if (mpfr_cmp_ui_2exp(lo, 1, f->ibits - 1) >= 0)
                QC__REF_EXACT(mpfr_sub(lo, lo, t, MPFR_RNDN));
            else if (mpfr_cmp_d(lo, vmin) < 0)
                QC__REF_EXACT(mpfr_add(lo, lo, t, MPFR_RNDN));
            res = mpfr_get_d(lo, MPFR_RNDN) + 0.0; /* + 0.0: a wrapped zero is +0 */
            /* Underflow as defined: a nonzero exact value whose result is zero. */
            fl->underflow = res == 0.0;
        } else {
            res = mpfr_sgn(lo) > 0 ? vmax : vmin;
        }
        goto out;
    }
    res = mpfr_get_d(lo, MPFR_RNDN);
out:
    mpfr_clears(t, lo, frac, (mpfr_ptr)0);
    return res;
}

double qc__ref_round(const struct qc_format *f, mpfr_srcptr x, const struct qc_round *r,
                     uint64_t index, struct qc__ref_flags *fl)
{
    fl->overflow = fl->underflow = false;
    if (!r)
        r = &round_rne;
    switch (f->kind) {
    case QC_FMT_FLOAT:
        return round_float(f, x, r, index, fl);
    case QC_FMT_FIXED:
    case QC_FMT_INT:
        return round_fixed(f, x, r, index, fl);
    case QC_FMT_MX:
    case QC_FMT_BFP:
        break;
    }
    return NAN; /* a block format has no scalar value without its block */
}

static void count(struct qc_round_stats *st, const struct qc__ref_flags *fl)
{
    if (!st)
        return;
    st->ops++;
    st->overflow += fl->overflow;
    st->underflow += fl->underflow;
}

double qc_round_value_ref(const struct qc_format *f, double x, const struct qc_round *r,
                          uint64_t index, struct qc_round_stats *st)
{
    struct qc__ref_flags fl;
    mpfr_t xm;
    double res;

    mpfr_init2(xm, 53);
    QC__REF_EXACT(mpfr_set_d(xm, x, MPFR_RNDN));
    res = qc__ref_round(f, xm, r, index, &fl);
    mpfr_clear(xm);
    count(st, &fl);
    return res;
}

/* Whether the block maximum, as the signed element y (|y| = amax / 2^e),
 * would round above elem max. The scale has no element index to draw random
 * bits with, so sr counts as rounding away from zero: "would round above"
 * then means "could", and the block maximum is never clipped. */
static bool max_rounds_above(const struct qc_format *elem, mpfr_srcptr y, const struct qc_round *r)
{
    struct qc__ref_flags fl;
    struct qc_round rr = *r;

    if (rr.mode == QC_ROUND_SR)
        rr.mode = mpfr_signbit(y) ? QC_ROUND_RDN : QC_ROUND_RUP;
    qc__ref_round(elem, y, &rr, 0, &fl); /* overflow: beyond elem max, exponent unbounded */
    return fl.overflow;
}

/* The shared exponent of a block with largest magnitude amax (finite, > 0),
 * before clamping: docs/formats.md "Block formats". `pos`/`neg` say which
 * signs the elements of magnitude amax carry: under rup and rdn the direction
 * of the block maximum's rounding depends on it. */
static long block_scale_exp(const struct qc_format *f, const struct qc_format *elem, double amax,
                            bool pos, bool neg, enum qc_scale_rule rule, const struct qc_round *r)
{
    int fe;
    frexp(amax, &fe);
    long e = (long)(fe - 1) - f->elem_emax; /* floor(log2 amax) - emax_elem */
    mpfr_t y;

    if (rule == QC_SCALE_FLOOR)
        return e;
    mpfr_init2(y, QC__REF_PREC);
    QC__REF_EXACT(mpfr_set_d(y, amax, MPFR_RNDN));
    QC__REF_EXACT(mpfr_mul_2si(y, y, -e, MPFR_RNDN)); /* amax / 2^e, exact */
    if (rule == QC_SCALE_CEIL) {
        /* amax / 2^e is below 2^(emax_elem+1); the floor scale fails to hold
         * it only when it exceeds elem max, and one step up always holds it. */
        if (mpfr_cmp_d(y, elem->max_finite) > 0)
            e++;
    } else {
        /* round: +1 when the block maximum would round above elem max. */
        bool above = pos && max_rounds_above(elem, y, r);
        QC__REF_EXACT(mpfr_neg(y, y, MPFR_RNDN));
        above = above || (neg && max_rounds_above(elem, y, r));
        if (above)
            e++;
    }
    mpfr_clear(y);
    return e;
}

/* One block of n values (n >= 1) starting at flat element index `first`. */
static void quantize_block(double *out, const double *in, int64_t n, const struct qc_format *f,
                           const struct qc_format *elem, const struct qc_round *r,
                           enum qc_scale_rule rule, uint64_t first, struct qc_round_stats *st)
{
    bool special = false, pos = false, neg = false;
    double amax = 0.0;
    long e = SCALE_EMIN;
    mpfr_t y;

    for (int64_t i = 0; i < n; i++) {
        if (!isfinite(in[i]))
            special = true;
        else if (fabs(in[i]) > amax)
            amax = fabs(in[i]);
    }
    for (int64_t i = 0; i < n; i++) {
        pos = pos || in[i] == amax;
        neg = neg || in[i] == -amax;
    }
    if (!special && amax > 0.0) {
        e = block_scale_exp(f, elem, amax, pos, neg, rule, r);
        if (e < SCALE_EMIN)
            e = SCALE_EMIN; /* tiny elements then underflow */
    }
    const bool nan_scale = special || e > SCALE_EMAX;
    /* The largest magnitude of the block format: elem max at the top scale. */
    const double fmt_max = ldexp(elem->max_finite, SCALE_EMAX);

    mpfr_init2(y, QC__REF_PREC);
    for (int64_t i = 0; i < n; i++) {
        struct qc__ref_flags fl = {false, false};
        /* Copy before writing: `out` may alias `in`. */
        const double x = in[i];
        if (nan_scale) {
            /* A NaN scale makes the whole block NaN. Only a finite value beyond
             * what any scale can hold counts as overflow. */
            fl.overflow = !special && fabs(x) > fmt_max;
            out[i] = NAN;
        } else {
            QC__REF_EXACT(mpfr_set_d(y, x, MPFR_RNDN));
            QC__REF_EXACT(mpfr_mul_2si(y, y, -e, MPFR_RNDN)); /* x / X, exact */
            double v = qc__ref_round(elem, y, r, first + (uint64_t)i, &fl);
            out[i] = ldexp(v, (int)e); /* element x 2^e: a fp64 value, exact */
        }
        count(st, &fl);
    }
    mpfr_clear(y);
}

int qc_quantize_ref_f64(double *out, const double *in, int64_t rows, int64_t cols,
                        const struct qc_format *f, const struct qc_round *r,
                        enum qc_scale_rule rule, uint64_t first_index, struct qc_round_stats *st,
                        struct qc_err *err)
{
    if (!out || !in || !f)
        return qc_err_set(err, QC_EINVAL, "", "quantize: NULL argument");
    if (rows < 0 || cols < 0)
        return qc_err_set(err, QC_EINVAL, "", "quantize: negative shape %lldx%lld", (long long)rows,
                          (long long)cols);
    if (rule != QC_SCALE_FLOOR && rule != QC_SCALE_CEIL && rule != QC_SCALE_ROUND)
        return qc_err_set(err, QC_EINVAL, "", "quantize: unknown scale rule %d", (int)rule);
    if (!r)
        r = &round_rne;
    if ((unsigned)r->mode > QC_ROUND_SR)
        return qc_err_set(err, QC_EINVAL, "rounding", "quantize: unknown rounding mode %d",
                          (int)r->mode);
    if (r->mode == QC_ROUND_SR && (r->sr_bits < 1 || r->sr_bits > QC_SR_BITS_MAX))
        return qc_err_set(err, QC_EINVAL, "rounding",
                          "quantize: stochastic rounding bits %d outside 1..%d", r->sr_bits,
                          QC_SR_BITS_MAX);

    if (qc_format_is_scalar(f)) {
        for (int64_t i = 0; i < rows * cols; i++)
            out[i] = qc_round_value_ref(f, in[i], r, first_index + (uint64_t)i, st);
        return QC_OK;
    }
    if (f->block < 1)
        return qc_err_set(err, QC_EINVAL, "", "quantize: %s has no block length", f->name);

    struct qc_format elem;
    qc_format_element(&elem, f);
    for (int64_t row = 0; row < rows; row++) {
        for (int64_t c0 = 0; c0 < cols; c0 += f->block) {
            const int64_t len = cols - c0 < f->block ? cols - c0 : f->block;
            const int64_t at = row * cols + c0;
            quantize_block(out + at, in + at, len, f, &elem, r, rule, first_index + (uint64_t)at,
                           st);
        }
    }
    return QC_OK;
}
