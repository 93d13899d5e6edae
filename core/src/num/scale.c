/* Scale policies (scale.h): the amax predictors with their per-unit state,
 * and the quantization of a GEMM operand under the predicted power-of-two
 * scales, counting what the prediction cost. Separate from quantize.c,
 * which knows one scale rule and no history; this file only decides the
 * exponents and hands each element to the same exact element rounding. */
#include "qcore/scale.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "quantize_impl.h"

static const char *const policy_names[] = {"none", "max", "delayed", "delay_update", "wma"};

void qc_scale_cfg_init(struct qc_scale_cfg *c)
{
    memset(c, 0, sizeof *c);
    c->policy = QC_SCALE_POLICY_NONE;
    c->history = 16;
    c->drift = 1.0;
    c->alpha = 0.5;
}

const char *qc_scale_policy_name(enum qc_scale_policy p)
{
    return (unsigned)p < sizeof policy_names / sizeof policy_names[0] ? policy_names[p] : "?";
}

int qc_scale_cfg_check(const struct qc_scale_cfg *c, struct qc_err *err)
{
    if ((unsigned)c->policy > QC_SCALE_POLICY_WMA)
        return qc_err_set(err, QC_EINVAL, "type", "invalid scale policy %d", (int)c->policy);
    if (c->history < 1 || c->history > 1024)
        return qc_err_set(err, QC_EINVAL, "history", "history %d is outside 1..1024", c->history);
    if (!(c->drift > 0 && c->drift <= 64))
        return qc_err_set(err, QC_EINVAL, "drift", "drift %g is outside (0, 64]", c->drift);
    if (!(c->alpha > 0 && c->alpha <= 1))
        return qc_err_set(err, QC_EINVAL, "alpha", "alpha %g is outside (0, 1]", c->alpha);
    return QC_OK;
}

bool qc_scale_applies(const struct qc_format *f)
{
    /* The spec's rule (spec_arith.c, "plain_wide"): fp32 and wider IEEE
     * formats without modifiers hold every fp32 value already. */
    return !(f->kind == QC_FMT_FLOAT && f->ebits >= 8 && f->mbits >= 23 && f->flags == 0);
}

int qc_scale_exp(const struct qc_format *f, double amax, enum qc_scale_rule rule)
{
    static const struct qc_round rne; /* zero-initialised: rne */

    if (qc_format_is_scalar(f))
        return qc__tensor_scale_exp(f, amax, rule, &rne);
    return qc_block_scale_exp(f, amax, rule, &rne);
}

static bool uses_hist(const struct qc_scale_cfg *c)
{
    return c->policy == QC_SCALE_POLICY_DELAYED || c->policy == QC_SCALE_POLICY_WMA;
}

int64_t qc_scale_slot_floats(const struct qc_scale_cfg *c, int64_t units)
{
    if (uses_hist(c))
        return units * c->history;
    return c->policy == QC_SCALE_POLICY_DELAY_UPDATE ? units : 0;
}

int64_t qc_scale_slot_ints(const struct qc_scale_cfg *c, int64_t units)
{
    return c->policy == QC_SCALE_POLICY_DELAY_UPDATE ? units : 0;
}

void qc_scale_slot_free(struct qc_scale_slot *s)
{
    free(s->hist);
    free(s->ref);
    free(s->age);
    memset(s, 0, sizeof *s);
}

int qc_scale_slot_alloc(struct qc_scale_slot *s, const struct qc_scale_cfg *c, int64_t units,
                        struct qc_err *err)
{
    qc_scale_slot_free(s);
    if (units < 1)
        return qc_err_set(err, QC_EINVAL, "", "a scale slot needs at least one unit");
    if (uses_hist(c))
        s->hist = calloc((size_t)(units * c->history), sizeof(float));
    if (c->policy == QC_SCALE_POLICY_DELAY_UPDATE) {
        s->ref = calloc((size_t)units, sizeof(float));
        s->age = calloc((size_t)units, sizeof(int32_t));
    }
    if ((uses_hist(c) && !s->hist) ||
        (c->policy == QC_SCALE_POLICY_DELAY_UPDATE && (!s->ref || !s->age))) {
        qc_scale_slot_free(s);
        return qc_err_set(err, QC_ENOMEM, "", "out of memory for the scale state of %lld units",
                          (long long)units);
    }
    s->units = units;
    return QC_OK;
}

/* The window of unit u, newest first: entries h_0 .. h_{n-1}. */
static float window_at(const struct qc_scale_slot *s, const struct qc_scale_cfg *c, int64_t u,
                       int j)
{
    const int pos = ((s->head - 1 - j) % c->history + c->history) % c->history;
    return s->hist[u * c->history + pos];
}

static bool drifted(double amax, double ref, double drift)
{
    if (amax == 0 || ref == 0)
        return amax != ref; /* a zero against a nonzero amax: infinitely far */
    return fabs(log2(amax) - log2(ref)) > drift;
}

/* The basis of unit u from a non-empty slot, before any record. */
static double predict_one(const struct qc_scale_slot *s, const struct qc_scale_cfg *c, int64_t u,
                          double amax, bool *reestimate)
{
    const int n = s->steps < c->history ? (int)s->steps : c->history;
    double basis = 0.0;

    *reestimate = false;
    switch (c->policy) {
    case QC_SCALE_POLICY_DELAYED:
        for (int j = 0; j < n; j++)
            basis = fmax(basis, window_at(s, c, u, j));
        break;
    case QC_SCALE_POLICY_WMA: {
        /* Newest first, weights 1, alpha, alpha^2, ...: one fixed order. */
        double num = 0.0, den = 0.0, w = 1.0;
        for (int j = 0; j < n; j++) {
            num += w * window_at(s, c, u, j);
            den += w;
            w *= c->alpha;
        }
        basis = num / den;
        break;
    }
    case QC_SCALE_POLICY_DELAY_UPDATE:
        *reestimate = drifted(amax, s->ref[u], c->drift) || s->age[u] >= c->history;
        return *reestimate ? amax : s->ref[u];
    default:
        return amax;
    }
    /* Nothing nonzero recorded: no scale information, as on the first call. */
    return basis > 0 ? basis : amax;
}

int qc_scale_predict(double *basis, const double *amax, int64_t units, struct qc_scale_slot *s,
                     const struct qc_scale_cfg *c, bool record, struct qc_err *err)
{
    int rc;

    if (c->policy == QC_SCALE_POLICY_NONE || c->policy == QC_SCALE_POLICY_MAX) {
        memcpy(basis, amax, (size_t)units * sizeof *basis);
        return 0;
    }
    if (s->units != 0 && s->units != units) {
        memcpy(basis, amax, (size_t)units * sizeof *basis);
        return 1;
    }
    if (s->units == 0) {
        memcpy(basis, amax, (size_t)units * sizeof *basis);
        if (!record)
            return 0;
        if ((rc = qc_scale_slot_alloc(s, c, units, err)))
            return rc;
    } else {
        for (int64_t u = 0; u < units; u++) {
            bool re;
            basis[u] = predict_one(s, c, u, amax[u], &re);
            if (record && c->policy == QC_SCALE_POLICY_DELAY_UPDATE) {
                if (re) {
                    s->ref[u] = (float)amax[u]; /* an fp32 magnitude: exact */
                    s->age[u] = 0;
                }
            }
        }
    }
    if (!record)
        return 0;
    /* The current amaxes are recorded after use. */
    if (uses_hist(c)) {
        for (int64_t u = 0; u < units; u++)
            s->hist[u * c->history + s->head] = (float)amax[u];
        s->head = (s->head + 1) % c->history;
    } else if (c->policy == QC_SCALE_POLICY_DELAY_UPDATE) {
        for (int64_t u = 0; u < units; u++) {
            if (s->steps == 0)
                s->ref[u] = (float)amax[u];
            if (s->age[u] < INT32_MAX)
                s->age[u]++;
        }
    }
    s->steps++;
    return 0;
}

void qc_scale_stats_add(struct qc_scale_stats *acc, const struct qc_scale_stats *x)
{
    acc->scales += x->scales;
    acc->overflowed += x->overflowed;
    acc->wasted += x->wasted;
    acc->elements += x->elements;
    acc->clipped += x->clipped;
    acc->fallbacks += x->fallbacks;
}

/* The saturating version of a reading: what scaled elements are rounded to. */
static void saturating(struct qc_format *el, const struct qc_format *f)
{
    qc_format_element(el, f);
    el->flags = (el->flags & ~QC_FMTF_WRAP) | QC_FMTF_SAT;
}

int qc_scale_operand(float *out, int32_t *tensor_exp, const float *in, int64_t rows, int64_t k,
                     const struct qc_format *f, enum qc_scale_rule rule,
                     const struct qc_scale_cfg *c, struct qc_scale_slot *s, bool record,
                     int threads, struct qc_scale_stats *st, struct qc_err *err)
{
    const bool scalar = qc_format_is_scalar(f);
    const int64_t bl = scalar ? (k > 0 ? k : 1) : f->block;
    const int64_t nkb = scalar ? 1 : (k + bl - 1) / bl;
    const int64_t units = scalar ? 1 : rows * nkb;
    static const struct qc_round rne; /* zero-initialised: rne */
    struct qc_scale_stats mine = {0};
    struct qc_format el;
    double *amax = NULL, *basis = NULL;
    int32_t *exps = NULL;
    uint8_t *bad = NULL;
    int rc = QC_OK;

    *tensor_exp = 0;
    if (rows < 0 || k < 0)
        return qc_err_set(err, QC_EINVAL, "", "bad operand shape %lld x %lld", (long long)rows,
                          (long long)k);
    if (!qc_format_fits_f32(f))
        return qc_err_set(err, QC_EUNSUPP, "format",
                          "%s: scaled values do not all fit the fp32 operands of a GEMM", f->name);
    if (!s && c->policy != QC_SCALE_POLICY_NONE && c->policy != QC_SCALE_POLICY_MAX)
        return qc_err_set(err, QC_EINVAL, "", "scale policy '%s' needs its state",
                          qc_scale_policy_name(c->policy));
    if (rows == 0 || k == 0)
        return QC_OK;
    if (threads < 1)
        threads = 1;
    saturating(&el, f);
    amax = malloc((size_t)units * sizeof *amax);
    basis = malloc((size_t)units * sizeof *basis);
    exps = malloc((size_t)units * sizeof *exps);
    bad = calloc((size_t)units, 1);
    if (!amax || !basis || !exps || !bad) {
        rc = qc_err_set(err, QC_ENOMEM, "", "out of memory for %lld scale units", (long long)units);
        goto out;
    }

    /* The current amax of every unit over its finite values; a block
     * holding NaN or inf is marked (it gets the NaN scale). */
    if (scalar) {
        double m = 0.0;
#pragma omp parallel for num_threads(threads) schedule(static) reduction(max : m)
        for (int64_t i = 0; i < rows * k; i++) {
            const double x = fabs((double)in[i]);
            if (isfinite(x) && x > m)
                m = x;
        }
        amax[0] = m;
    } else {
#pragma omp parallel for num_threads(threads) schedule(static)
        for (int64_t u = 0; u < units; u++) {
            const int64_t r = u / nkb, c0 = (u % nkb) * bl;
            const int64_t len = k - c0 < bl ? k - c0 : bl;
            double m = 0.0;
            for (int64_t i = 0; i < len; i++) {
                const double x = fabs((double)in[r * k + c0 + i]);
                if (!isfinite(x))
                    bad[u] = 1;
                else if (x > m)
                    m = x;
            }
            amax[u] = m;
        }
    }

    rc = qc_scale_predict(basis, amax, units, s, c, record, err);
    if (rc < 0)
        goto out;
    mine.fallbacks += rc == 1;
    rc = QC_OK;

    /* Exponents, and whether each was too small or too large for the
     * unit's current amax. */
    uint64_t scales = 0, over = 0, wasted = 0;
#pragma omp parallel for num_threads(threads) schedule(static) reduction(+ : scales, over, wasted)
    for (int64_t u = 0; u < units; u++) {
        exps[u] = qc_scale_exp(f, basis[u], rule);
        if (bad[u] || exps[u] == INT32_MAX)
            continue;
        scales++;
        over += amax[u] > ldexp(el.max_finite, exps[u]);
        wasted += amax[u] > 0 && exps[u] > qc_scale_exp(f, amax[u], rule);
    }
    mine.scales = scales;
    mine.overflowed = over;
    mine.wasted = wasted;

    /* The elements: x / 2^e rounded exactly (the exponent moves, nothing
     * rounds before the one rounding), saturating; by the element format's
     * SIMD rounding where the quotients are exact fp32 values. */
    const struct qc__kern *kern = qc__kern_get(NULL);
    struct qc__f32_plan plan;
    const bool simd = kern && qc__f32_plan_init(&plan, &el, &rne);
    uint64_t elements = 0, clipped = 0;
#pragma omp parallel for num_threads(threads) schedule(static) reduction(+ : elements, clipped)
    for (int64_t u = 0; u < (scalar ? rows : units); u++) {
        struct qc_round_stats rs = {0};
        const int64_t r = scalar ? u : u / nkb, c0 = scalar ? 0 : (u % nkb) * bl;
        const int64_t len = scalar ? k : (k - c0 < bl ? k - c0 : bl);
        const int e = exps[scalar ? 0 : u];
        float *o = out + r * k + c0;
        const float *x = in + r * k + c0;
        if (!scalar && (bad[u] || e == INT32_MAX)) {
            for (int64_t i = 0; i < len; i++)
                o[i] = NAN; /* the NaN scale: every value of the block reads NaN */
            continue;
        }
        if (simd && qc__scaled_round_f32(o, x, len, e, !scalar, &plan, kern, &rs)) {
            elements += rs.ops;
            clipped += rs.overflow;
            continue;
        }
        for (int64_t i = 0; i < len; i++) {
            if (!isfinite(x[i])) { /* scalar formats only: NaN and inf pass through */
                o[i] = (float)qc_round_value(f, x[i], &rne, 0, NULL);
                continue;
            }
            const double v = qc__block_elem(&el, x[i], e, &rne, 0, &rs);
            o[i] = (float)(scalar ? v : ldexp(v, e)); /* exact: f fits fp32 */
        }
        elements += rs.ops;
        clipped += rs.overflow;
    }
    mine.elements = elements;
    mine.clipped = clipped;
    if (scalar)
        *tensor_exp = exps[0];
    if (st)
        qc_scale_stats_add(st, &mine);
out:
    free(amax);
    free(basis);
    free(exps);
    free(bad);
    return rc;
}
