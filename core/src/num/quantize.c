/* Array quantization: scalar formats element by element, block formats
 * (MX, BFP) block by block with a shared power-of-two scale. fp32 arrays in
 * the common float formats take the SIMD path; everything else, and every
 * stochastic rounding, goes through the exact scalar engine. The per-element
 * and per-block arithmetic is quantize_hd.h's, shared with the CUDA backend. */
#include "qcore/quantize.h"

#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <omp.h>

#include "qcore/cpu.h"
#include "simd/kern_impl.h"
#include "quantize_hd.h"
#include "quantize_impl.h"

static const char *const rule_names[] = {"floor", "ceil", "round"};

int qc_scale_rule_parse(enum qc_scale_rule *out, const char *s, struct qc_err *err)
{
    for (int i = 0; i < 3; i++) {
        if (strcmp(s, rule_names[i]) == 0) {
            *out = (enum qc_scale_rule)i;
            return QC_OK;
        }
    }
    return qc_err_set(err, QC_EINVAL, "", "unknown scale rule '%s' (floor, ceil, round)", s);
}

const char *qc_scale_rule_name(enum qc_scale_rule r)
{
    return (unsigned)r < 3 ? rule_names[r] : "?";
}

static uint32_t f32_bits(float x)
{
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    return u;
}

bool qc__f32_plan_init(struct qc__f32_plan *p, const struct qc_format *f, const struct qc_round *r)
{
    memset(p, 0, sizeof *p);
    if (f->kind != QC_FMT_FLOAT || !qc_format_fits_f32(f) || r->mode == QC_ROUND_SR)
        return false;
    const bool san = (f->flags & QC_FMTF_SAN) && f->mbits > 0;
    p->base_shift = 23 - f->mbits;
    /* subnormal-as-normal puts a binade of normals below emin. */
    p->emin_b = f->emin + 127 - san;
    p->gap = f->flags & (QC_FMTF_DAZ | QC_FMTF_SAN);
    p->gap_bits = f32_bits((float)f->min_subnormal);
    p->gap_half_bits = f32_bits((float)(f->min_subnormal / 2));
    p->max_bits = f32_bits((float)f->max_finite);
    p->min_normal_bits = f32_bits((float)f->min_normal);
    p->min_sub_bits = f32_bits((float)ldexp(1.0, f->emin - san - f->mbits));
    /* The special results come from the scalar engine: one source of truth. */
    p->ov_pos = f32_bits((float)qc_round_value(f, DBL_MAX, r, 0, NULL));
    p->ov_neg = f32_bits((float)qc_round_value(f, -DBL_MAX, r, 0, NULL));
    p->inf_pos = f32_bits((float)qc_round_value(f, INFINITY, r, 0, NULL));
    p->inf_neg = f32_bits((float)qc_round_value(f, -INFINITY, r, 0, NULL));
    p->nosub = f->flags & QC_FMTF_NOSUB;
    p->plain_fp32 = f->ebits == 8 && f->mbits == 23 && f->bias == 127 &&
                    (f->flags & ~QC_FMTF_BIAS) == 0 && r->mode == QC_ROUND_RNE;
    p->mode = r->mode;
    p->magic_q = r->mode == QC_ROUND_RNE && f->mbits <= 21 && p->emin_b >= 1 &&
                 f->emax + 1 + p->base_shift <= 126;
    p->magic = p->magic_q && !p->gap && f->has_inf && !(f->flags & QC_FMTF_SAT);
    p->emin_bits = p->emin_b >= 1 ? (uint32_t)p->emin_b << 23 : 0;
    p->magic_add = ((uint32_t)p->base_shift << 23) + 0x400000u;
    p->flush_bits = p->nosub ? p->min_normal_bits : 0;
    return true;
}

bool qc__f32_plan_init_sr(struct qc__f32_plan *p, const struct qc_format *f,
                          const struct qc_round *r)
{
    struct qc_round base, rtz;

    if (r->mode != QC_ROUND_SR || r->sr_bits < 1 || r->sr_bits > 32 ||
        (f->flags & (QC_FMTF_DAZ | QC_FMTF_SAN)))
        return false;
    qc_round_init(&base, QC_ROUND_RNE);
    qc_round_init(&rtz, QC_ROUND_RTZ);
    if (!qc__f32_plan_init(p, f, &base))
        return false;
    /* An overflow rounded away goes where rne's would; toward zero, to max. */
    p->ov_away_pos = p->ov_pos;
    p->ov_away_neg = p->ov_neg;
    p->ov_keep_pos = f32_bits((float)qc_round_value(f, DBL_MAX, &rtz, 0, NULL));
    p->ov_keep_neg = f32_bits((float)qc_round_value(f, -DBL_MAX, &rtz, 0, NULL));
    p->mode = QC_ROUND_SR;
    p->magic = p->magic_q = p->plain_fp32 = false;
    p->sr_bits = r->sr_bits;
    p->seed = r->seed;
    p->stream = r->stream;
    return true;
}

/* The scale exponent of block format f for a block whose largest magnitude
 * amax is carried by elements of sign + (`pos`) and/or - (`neg`). */
static int scale_exp(const struct qc_format *f, double amax, bool pos, bool neg,
                     enum qc_scale_rule rule, const struct qc_round *r)
{
    struct qc_format el;

    qc_format_element(&el, f);
    return qc__scale_exp(f, &el, amax, pos, neg, rule, r);
}

int qc_block_scale_exp(const struct qc_format *f, double amax, enum qc_scale_rule rule,
                       const struct qc_round *r)
{
    return scale_exp(f, amax, true, false, rule, r);
}

int qc__tensor_scale_exp(const struct qc_format *f, double amax, enum qc_scale_rule rule,
                         const struct qc_round *r)
{
    if (!(amax > 0))
        return 0;
    /* The top binade is that of the largest finite value: emax for IEEE-style
     * formats, one more under inf1/fn/finite readings, M-2 for qM.N. */
    return qc__rule_exp(f, qc__hd_ilog2(f->max_finite), amax, true, false, rule, r);
}

static int check_round(const struct qc_round *r, struct qc_err *err)
{
    if ((unsigned)r->mode > QC_ROUND_SR)
        return qc_err_set(err, QC_EINVAL, "rounding", "invalid rounding mode %d", (int)r->mode);
    if (r->mode == QC_ROUND_SR && (r->sr_bits < 1 || r->sr_bits > QC_SR_BITS_MAX))
        return qc_err_set(err, QC_EINVAL, "rounding", "stochastic rounding bits %d outside 1..%d",
                          r->sr_bits, QC_SR_BITS_MAX);
    return QC_OK;
}

static int check_shape(int64_t rows, int64_t cols, struct qc_err *err)
{
    if (rows < 0 || cols < 0 || (cols > 0 && rows > INT64_MAX / cols))
        return qc_err_set(err, QC_EINVAL, "", "bad array shape %lld x %lld", (long long)rows,
                          (long long)cols);
    return QC_OK;
}

int qc__quantize_f32_check(const struct qc_format *f, const struct qc_round *r, int64_t rows,
                           int64_t cols, struct qc_err *err)
{
    int rc;

    if ((rc = check_round(r, err)) || (rc = check_shape(rows, cols, err)))
        return rc;
    if (!qc_format_fits_f32(f))
        return qc_err_set(err, QC_EINVAL, "format",
                          "%s: values do not all fit fp32 output exactly; use fp64 output",
                          f->name);
    return QC_OK;
}

int qc__block_exp(const struct qc_format *f, const double *in, int64_t len, enum qc_scale_rule rule,
                  const struct qc_round *r)
{
    struct qc_format el;

    qc_format_element(&el, f);
    return qc__block_exp_hd(f, &el, in, len, rule, r);
}

double qc__block_elem(const struct qc_format *el, double x, int e, const struct qc_round *r,
                      uint64_t index, struct qc_round_stats *st)
{
    return qc__block_elem_hd(el, x, e, r, index, st);
}

static void quantize_blocks_f64(double *out, const double *in, int64_t rows, int64_t cols,
                                const struct qc_format *f, const struct qc_round *r,
                                enum qc_scale_rule rule, uint64_t first, struct qc_round_stats *st)
{
    struct qc_format el;

    qc_format_element(&el, f);
    for (int64_t row = 0; row < rows; row++) {
        for (int64_t c = 0; c < cols; c += f->block) {
            int64_t len = cols - c < f->block ? cols - c : f->block;
            int64_t at = row * cols + c;
            qc__quantize_block_hd(out + at, in + at, len, f, &el, r, rule, first + (uint64_t)at,
                                  st);
        }
    }
}

int qc_quantize_f64(double *out, const double *in, int64_t rows, int64_t cols,
                    const struct qc_format *f, const struct qc_round *r, enum qc_scale_rule rule,
                    uint64_t first_index, struct qc_round_stats *st, struct qc_err *err)
{
    int rc;

    if ((rc = check_round(r, err)) || (rc = check_shape(rows, cols, err)))
        return rc;
    if (!qc_format_is_scalar(f)) {
        quantize_blocks_f64(out, in, rows, cols, f, r, rule, first_index, st);
        return QC_OK;
    }
    const int64_t n = rows * cols;
    for (int64_t i = 0; i < n; i++)
        out[i] = qc_round_value(f, in[i], r, first_index + (uint64_t)i, st);
    return QC_OK;
}

/* One block through the exact engine, by way of doubles (exact: fp32
 * values are doubles, and block values fit fp32 by qc_format_fits_f32). */
static void block_f32_exact(float *out, const float *in, int64_t len, const struct qc_format *f,
                            const struct qc_format *el, const struct qc_round *r,
                            enum qc_scale_rule rule, uint64_t index, double *x,
                            struct qc_round_stats *st)
{
    for (int64_t i = 0; i < len; i++)
        x[i] = in[i];
    qc__quantize_block_hd(x, x, len, f, el, r, rule, index, st);
    for (int64_t i = 0; i < len; i++)
        out[i] = (float)x[i];
}

bool qc__scaled_round_f32(float *out, const float *in, int64_t len, int e, bool back,
                          const struct qc__f32_plan *plan, const struct qc__kern *kern,
                          struct qc_round_stats *st)
{
    float amax = 0.0f, amin = FLT_MAX;

    for (int64_t i = 0; i < len; i++) {
        const float a = fabsf(in[i]);
        if (!(a <= FLT_MAX))
            return false;
        amax = a > amax ? a : amax;
        amin = a > 0.0f && a < amin ? a : amin;
    }
    if (amax > 0.0f && (ldexp(amin, -e) < 0x1p-126 || ldexp(amax, -e) >= 0x1p127))
        return false;
    /* 2^-e is exact in double; each quotient is an fp32 value (checked
     * above), so the product rounds to itself. */
    const double down = ldexp(1.0, -e);
    for (int64_t i = 0; i < len; i++)
        out[i] = (float)((double)in[i] * down);
    kern->quantize_f32(out, out, len, plan, st);
    if (back) {
        const double up = ldexp(1.0, e);
        for (int64_t i = 0; i < len; i++)
            out[i] = (float)((double)out[i] * up); /* a block value: fits fp32 */
    }
    return true;
}

/* One block through the SIMD rounding of its element format (`plan`),
 * where qc__scaled_round_f32 allows it; false otherwise (also for the NaN
 * scale), nothing written. */
static bool block_f32_fast(float *out, const float *in, int64_t len, const struct qc_format *f,
                           const struct qc_format *el, const struct qc__f32_plan *plan,
                           const struct qc_round *r, enum qc_scale_rule rule,
                           const struct qc__kern *kern, struct qc_round_stats *st)
{
    float amax = 0.0f;
    bool pos = false, neg = false;

    for (int64_t i = 0; i < len; i++) {
        const float a = fabsf(in[i]);
        if (!(a <= FLT_MAX))
            return false; /* NaN or inf: the NaN scale */
        amax = a > amax ? a : amax;
    }
    for (int64_t i = 0; i < len; i++) {
        pos = pos || in[i] == amax;
        neg = neg || in[i] == -amax;
    }
    const int e = qc__scale_exp(f, el, amax, pos, neg, rule, r);
    return e != INT32_MAX && qc__scaled_round_f32(out, in, len, e, true, plan, kern, st);
}

/* Block formats, block by block: the SIMD element rounding where the
 * element format has a SIMD plan (rne, rtz, ...; not sr) and the block
 * allows it, else the exact engine. */
static int quantize_blocks_f32(float *out, const float *in, int64_t rows, int64_t cols,
                               const struct qc_format *f, const struct qc_round *r,
                               enum qc_scale_rule rule, uint64_t first, struct qc_round_stats *st,
                               const struct qc__kern *kern, struct qc_err *err)
{
    struct qc_format el;
    struct qc__f32_plan plan;
    double *x = malloc((size_t)(f->block + 1) * sizeof(double));

    if (!x)
        return qc_err_set(err, QC_ENOMEM, "", "out of memory for a block of %d values", f->block);
    qc_format_element(&el, f);
    const bool simd = kern && qc__f32_plan_init(&plan, &el, r);
    for (int64_t row = 0; row < rows; row++) {
        for (int64_t c = 0; c < cols; c += f->block) {
            const int64_t len = cols - c < f->block ? cols - c : f->block;
            const int64_t at = row * cols + c;
            if (!simd || !block_f32_fast(out + at, in + at, len, f, &el, &plan, r, rule, kern, st))
                block_f32_exact(out + at, in + at, len, f, &el, r, rule, first + (uint64_t)at, x,
                                st);
        }
    }
    free(x);
    return QC_OK;
}

int qc__quantize_f32_kern(float *out, const float *in, int64_t rows, int64_t cols,
                          const struct qc_format *f, const struct qc_round *r,
                          enum qc_scale_rule rule, uint64_t first_index, struct qc_round_stats *st,
                          const struct qc__kern *kern, struct qc_err *err)
{
    struct qc__f32_plan plan;
    int rc;

    if ((rc = qc__quantize_f32_check(f, r, rows, cols, err)))
        return rc;
    if (!qc_format_is_scalar(f))
        return quantize_blocks_f32(out, in, rows, cols, f, r, rule, first_index, st, kern, err);
    const int64_t n = rows * cols;
    if (kern && qc__f32_plan_init(&plan, f, r)) {
        kern->quantize_f32(out, in, n, &plan, st);
        return QC_OK;
    }
    if (kern && qc__f32_plan_init_sr(&plan, f, r)) {
        /* Each element's bits depend on its index alone: any split of the
         * array over threads gives the same result. */
        const int nt = n >= (INT64_C(1) << 16) ? qc_cpu_count() : 1;
        struct qc_round_stats sum = {0};
#pragma omp parallel num_threads(nt)
        {
            const int64_t t = omp_get_thread_num(), k = omp_get_num_threads();
            const int64_t i0 = n * t / k / 64 * 64, i1 = t + 1 == k ? n : n * (t + 1) / k / 64 * 64;
            struct qc_round_stats mine = {0};
            if (i1 > i0)
                kern->quantize_sr(out + i0, in + i0, i1 - i0, first_index + (uint64_t)i0, &plan,
                                  st ? &mine : NULL);
#pragma omp critical
            qc_round_stats_add(&sum, &mine);
        }
        if (st)
            qc_round_stats_add(st, &sum);
        return QC_OK;
    }
    for (int64_t i = 0; i < n; i++)
        out[i] = (float)qc_round_value(f, in[i], r, first_index + (uint64_t)i, st);
    return QC_OK;
}

int qc_quantize_f32(float *out, const float *in, int64_t rows, int64_t cols,
                    const struct qc_format *f, const struct qc_round *r, enum qc_scale_rule rule,
                    uint64_t first_index, struct qc_round_stats *st, struct qc_err *err)
{
    return qc__quantize_f32_kern(out, in, rows, cols, f, r, rule, first_index, st,
                                 qc__kern_get(NULL), err);
}

int qc_quantize_f32_isa(float *out, const float *in, int64_t rows, int64_t cols,
                        const struct qc_format *f, const struct qc_round *r,
                        enum qc_scale_rule rule, uint64_t first_index, struct qc_round_stats *st,
                        const char *isa, struct qc_err *err)
{
    const struct qc__kern *kern = qc__kern_get(isa);

    if (!kern && strcmp(isa, "scalar") != 0)
        return qc_err_set(err, QC_EUNSUPP, "isa", "instruction set '%s' is not available here",
                          isa);
    return qc__quantize_f32_kern(out, in, rows, cols, f, r, rule, first_index, st, kern, err);
}
