/* The reference GEMM (qc_gemm_ref): docs/mac.md executed literally, one output
 * element at a time, every product and sum exact in MPFR before its single
 * rounding. Slow and written to be read; qc_gemm_cpu and the other backends
 * are tested bit for bit against it. */
#include "ref_impl.h"

#include <inttypes.h>
#include <math.h>

#include "qcore/ref.h"

static const struct qc_round round_rne; /* zero-initialised: rne */

/* Exact MPFR scratch for one output element; local, so calls are reentrant. */
struct work {
    mpfr_t a, b, p, sum;
};

static void work_init(struct work *w)
{
    mpfr_inits2(QC__REF_PREC, w->a, w->b, w->p, w->sum, (mpfr_ptr)0);
}

static void work_free(struct work *w)
{
    mpfr_clears(w->a, w->b, w->p, w->sum, (mpfr_ptr)0);
}

static bool is_float_acc(const struct qc_mac *mac)
{
    return mac->acc.kind == QC_FMT_FLOAT;
}

/* Rounds the fp32 inputs along K: out[r*k + p] holds row r's p-th value read
 * in `f` (rne; block formats take their blocks along that row); f NULL: the
 * values are already rounded and are taken as they are. `at(r, p)` is given
 * as the input pointer, a row stride and a K stride. */
static int read_inputs(double *out, const float *in, int64_t rows, int64_t k, int64_t rstride,
                       int64_t kstride, const struct qc_format *f, enum qc_scale_rule rule,
                       struct qc_err *err)
{
    double *row = malloc(sizeof *row * (size_t)(k > 0 ? k : 1));
    int rc = QC_OK;

    if (!row)
        return qc_err_set(err, QC_ENOMEM, "", "gemm_ref: out of memory");
    for (int64_t r = 0; r < rows; r++) {
        for (int64_t p = 0; p < k; p++)
            row[p] = in[r * rstride + p * kstride];
        if (!f) {
            for (int64_t p = 0; p < k; p++)
                out[r * k + p] = row[p];
        } else if (qc_format_is_scalar(f)) {
            for (int64_t p = 0; p < k; p++)
                out[r * k + p] = qc_round_value_ref(f, row[p], &round_rne, 0, NULL);
        } else {
            rc = qc_quantize_ref_f64(out + r * k, row, 1, k, f, &round_rne, rule, 0, NULL, err);
            if (rc)
                break;
        }
    }
    free(row);
    return rc;
}

/* Adds one rounding step's events to the counters (not ops: a GEMM counts MACs). */
static void count(struct qc_round_stats *st, const struct qc__ref_flags *fl)
{
    st->overflow += fl->overflow;
    st->underflow += fl->underflow;
}

/* w->p := multiply(a, b) per the CFG (docs/mac.md, "The multiplier"). */
static void multiply(struct work *w, double a, double b, const struct qc_mac *mac,
                     struct qc_round_stats *st)
{
    struct qc__ref_flags fl;

    QC__REF_EXACT(mpfr_set_d(w->a, a, MPFR_RNDN));
    QC__REF_EXACT(mpfr_set_d(w->b, b, MPFR_RNDN));
    /* Exact, IEEE specials included: inf x 0 and NaN give NaN, a zero
     * product carries the xor of the signs. */
    QC__REF_EXACT(mpfr_mul(w->p, w->a, w->b, MPFR_RNDN));
    if (mac->fused)
        return; /* the product step does not exist */
    if (mac->cfg >= 3 || mac->prod_exact) {
        /* exact, flushed to a signed zero below eP's smallest normal */
        QC__REF_EXACT(mpfr_set_d(w->a, mac->prod_flush, MPFR_RNDN));
        if (mpfr_regular_p(w->p) && mpfr_cmpabs(w->p, w->a) < 0) {
            mpfr_set_zero(w->p, mpfr_signbit(w->p) ? -1 : 1);
            st->underflow++;
        }
        return;
    }
    /* CFG-1/2: rounded rne to the product format (prod_round carries nosub for CFG-2) */
    double v = qc__ref_round(&mac->prod_round, w->p, &round_rne, 0, &fl);
    count(st, &fl);
    QC__REF_EXACT(mpfr_set_d(w->p, v, MPFR_RNDN));
}

/* Returns round_acc(acc + addend) where `addend` is exact, counting the
 * step's events. IEEE zero signs of the exact sum (754-2008 6.3): x + (-x)
 * and +0 + -0 are +0, -0 under rdn; two zeros of one sign keep it. */
static double add_round(struct work *w, double acc, mpfr_srcptr addend, const struct qc_mac *mac,
                        const struct qc_round *r, uint64_t index, struct qc_round_stats *st)
{
    struct qc__ref_flags fl;
    mpfr_t am;

    mpfr_init2(am, 53);
    QC__REF_EXACT(mpfr_set_d(am, acc, MPFR_RNDN));
    QC__REF_EXACT(mpfr_add(w->sum, am, addend, MPFR_RNDN));
    if (mpfr_zero_p(w->sum)) {
        const bool like_zeros =
            mpfr_zero_p(am) && mpfr_zero_p(addend) && !mpfr_signbit(am) == !mpfr_signbit(addend);
        const bool neg = like_zeros ? mpfr_signbit(am) : r->mode == QC_ROUND_RDN;
        mpfr_set_zero(w->sum, neg ? -1 : 1);
    }
    double v = qc__ref_round(&mac->acc, w->sum, r, index, &fl);
    count(st, &fl);
    /* Swamping: both operands nonzero and finite, and the add changed nothing. */
    if (is_float_acc(mac) && mpfr_regular_p(am) && mpfr_regular_p(addend) && v == acc)
        st->swamping++;
    mpfr_clear(am);
    return v;
}

/* One output element: the dot product of row a[0..k) and column b[0..k). */
static double dot(struct work *w, const double *a, const double *b, int64_t k,
                  const struct qc_mac *mac, const struct qc_round *r, uint64_t first_index,
                  struct qc_round_stats *st)
{
    const int64_t S = mac->chunk > 0 && mac->chunk < k ? mac->chunk : k;
    uint64_t step = 0; /* product adds and chunk-total adds, in order */
    double total = 0.0;

    for (int64_t c0 = 0; c0 < k; c0 += S) {
        const int64_t c1 = c0 + S < k ? c0 + S : k;
        double acc = 0.0;
        for (int64_t p = c0; p < c1; p++) {
            const uint64_t index = first_index + step;
            multiply(w, a[p], b[p], mac, st);
            if (is_float_acc(mac)) {
                acc = add_round(w, acc, w->p, mac, r, index, st);
            } else {
                /* Fixed point / int: the product goes to the Q grid first
                 * (rounding + saturation), then a saturating add that is
                 * exact on the grid. */
                struct qc__ref_flags fl;
                double q = qc__ref_round(&mac->acc, w->p, r, index, &fl);
                count(st, &fl);
                QC__REF_EXACT(mpfr_set_d(w->p, q, MPFR_RNDN));
                acc = add_round(w, acc, w->p, mac, r, index, st);
            }
            step++;
        }
        QC__REF_EXACT(mpfr_set_d(w->p, acc, MPFR_RNDN));
        total = add_round(w, total, w->p, mac, r, first_index + step, st);
        step++;
    }
    return total;
}

/* acc=native: the quantized inputs' exact dot product, rounded once to fp32.
 * The real native path (OpenBLAS sgemm) sums in its own order with fp32
 * roundings, so it is not bit-reproducible and is compared only loosely. */
static double dot_native(struct work *w, const double *a, const double *b, int64_t k,
                         const struct qc_format *fp32)
{
    struct qc__ref_flags fl;

    mpfr_set_zero(w->sum, 1);
    for (int64_t p = 0; p < k; p++) {
        QC__REF_EXACT(mpfr_set_d(w->a, a[p], MPFR_RNDN));
        QC__REF_EXACT(mpfr_set_d(w->b, b[p], MPFR_RNDN));
        QC__REF_EXACT(mpfr_mul(w->p, w->a, w->b, MPFR_RNDN));
        QC__REF_EXACT(mpfr_add(w->sum, w->sum, w->p, MPFR_RNDN));
    }
    return qc__ref_round(fp32, w->sum, &round_rne, 0, &fl);
}

static int check_desc(const struct qc_gemm_desc *d, const struct qc_mac *mac, struct qc_err *err)
{
    if (d->m < 0 || d->n < 0 || d->k < 0)
        return qc_err_set(err, QC_EINVAL, "",
                          "gemm_ref: negative shape m=%" PRId64 " n=%" PRId64 " k=%" PRId64, d->m,
                          d->n, d->k);
    if (d->lda < 0 || (d->lda && d->lda < (d->trans_a ? d->m : d->k)))
        return qc_err_set(err, QC_EINVAL, "lda", "gemm_ref: lda=%" PRId64 " shorter than a row",
                          d->lda);
    if (d->ldb < 0 || (d->ldb && d->ldb < (d->trans_b ? d->k : d->n)))
        return qc_err_set(err, QC_EINVAL, "ldb", "gemm_ref: ldb=%" PRId64 " shorter than a row",
                          d->ldb);
    if (d->ldc < 0 || (d->ldc && d->ldc < d->n))
        return qc_err_set(err, QC_EINVAL, "ldc", "gemm_ref: ldc=%" PRId64 " shorter than a row",
                          d->ldc);
    if (mac->cfg < 1 || mac->cfg > 6)
        return qc_err_set(err, QC_EINVAL, "cfg", "gemm_ref: cfg=%d outside 1..6", mac->cfg);
    if (!mac->native && !qc_format_is_scalar(&mac->acc))
        return qc_err_set(err, QC_EINVAL, "acc", "gemm_ref: accumulator %s is a block format",
                          mac->acc.name);
    return QC_OK;
}

int qc_gemm_ref(float *c, const float *a, const float *b, const struct qc_gemm_desc *d,
                const struct qc_mac *mac, struct qc_round_stats *st, struct qc_err *err)
{
    struct qc_round_stats local = {0, 0, 0, 0};
    struct qc_format fp32;
    struct qc_round r;
    struct work w;
    double *aq = NULL, *bq = NULL;
    float *bv = NULL;
    int rc;

    if (!c || !a || !b || !d || !mac)
        return qc_err_set(err, QC_EINVAL, "", "gemm_ref: NULL argument");
    if ((rc = check_desc(d, mac, err)))
        return rc;
    if (d->b_view != QC_GEMM_B_ARRAY) {
        /* A view is read through its definition (qc_gemm_b_value). */
        struct qc_gemm_desc dd = *d;
        if ((rc = qc_gemm_check(d, mac, err)))
            return rc;
        bv = malloc(sizeof *bv * (size_t)(d->k * d->n > 0 ? d->k * d->n : 1));
        if (!bv)
            return qc_err_set(err, QC_ENOMEM, "", "gemm_ref: out of memory");
        qc_gemm_b_dense(bv, b, d);
        dd.b_view = QC_GEMM_B_ARRAY;
        dd.b_conv = NULL;
        rc = qc_gemm_ref(c, a, bv, &dd, mac, st, err);
        free(bv);
        return rc;
    }
    const int64_t m = d->m, n = d->n, k = d->k;
    const int64_t lda = d->lda ? d->lda : (d->trans_a ? m : k);
    const int64_t ldb = d->ldb ? d->ldb : (d->trans_b ? k : n);
    const int64_t ldc = d->ldc ? d->ldc : n;
    if ((rc = qc_format_parse(&fp32, "fp32", err)))
        return rc;

    /* aq: row i of A along K; bq: column j of B along K (both K-contiguous). */
    aq = malloc(sizeof *aq * (size_t)(m * k > 0 ? m * k : 1));
    bq = malloc(sizeof *bq * (size_t)(n * k > 0 ? n * k : 1));
    if (!aq || !bq) {
        rc = qc_err_set(err, QC_ENOMEM, "", "gemm_ref: out of memory");
        goto out;
    }
    rc = read_inputs(aq, a, m, k, d->trans_a ? 1 : lda, d->trans_a ? lda : 1,
                     d->a_rounded ? NULL : &mac->a_read, mac->scale_rule, err);
    if (!rc)
        rc = read_inputs(bq, b, n, k, d->trans_b ? ldb : 1, d->trans_b ? 1 : ldb,
                         d->b_rounded ? NULL : &mac->b_read, mac->scale_rule, err);
    if (rc)
        goto out;

    r = mac->acc_round;
    r.stream = d->sr_stream; /* the GEMM's stream; the seed is the configuration's */
    work_init(&w);
    const int64_t S = mac->chunk > 0 && mac->chunk < k ? mac->chunk : k;
    const int64_t nchunks = k > 0 ? (k + S - 1) / S : 0;
    for (int64_t i = 0; i < m; i++) {
        for (int64_t j = 0; j < n; j++) {
            double v;
            if (mac->native) {
                v = dot_native(&w, aq + i * k, bq + j * k, k, &fp32);
            } else {
                /* draws: k + nchunks per output, rounded up to a multiple
                 * of 4 so each output starts a Philox block (docs/mac.md) */
                const uint64_t first =
                    (uint64_t)(i * n + j) * (((uint64_t)(k + nchunks) + 3) / 4 * 4);
                v = dot(&w, aq + i * k, bq + j * k, k, mac, &r, first, &local);
            }
            c[i * ldc + j] = (float)v; /* v is a double: one rne rounding to fp32 */
        }
    }
    work_free(&w);
    local.ops = (uint64_t)(m * n * k);
    if (mac->native)
        local.overflow = local.underflow = local.swamping = 0; /* native reports only MACs */
    if (st) {
        st->ops += local.ops;
        st->overflow += local.overflow;
        st->underflow += local.underflow;
        st->swamping += local.swamping;
    }
out:
    free(aq);
    free(bq);
    return rc;
}
