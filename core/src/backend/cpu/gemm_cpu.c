/* The CPU GEMM: packs A and B into panels rounded to the multiplier's
 * reading (fused with im2col and the transposed convolution's gather when B
 * is a view), then runs the SIMD lane kernel the configuration allows
 * (docs/operations.md lists when), else the exact scalar engine; acc=native
 * hands the rounded operands to OpenBLAS. Threads own disjoint tiles of C
 * and every output element is computed by one thread in one fixed order, so
 * the bits never depend on the thread count or the kernel. Scratch memory
 * comes from a workspace the caller may keep across calls, so a training
 * step in its steady state allocates nothing. */
#include "qcore/gemm_cpu.h"

#include <cblas.h>
#include <float.h>
#include <math.h>
#include <omp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "qcore/cpu.h"
#include "num/mac_impl.h"
#include "num/quantize_impl.h"
#include "simd/kern_impl.h"

#define MR QC_KERN_MR

/* ---- workspace --------------------------------------------------------------- */

enum {
    WS_APACK,   /* packed A: row panels over all of K */
    WS_ZA,      /* zero count of each column of packed A */
    WS_THREAD,  /* per thread: B block, row buffer, tile state, own zero counts */
    WS_A_DENSE, /* block-format A rounded along K, or the scalar engine's A */
    WS_B_DENSE, /* block-format B^T rounded along K, or a materialized view */
    WS_AQ,      /* the scalar engine's operands in double */
    WS_BQ,
    WS_SLOTS
};

struct qc_gemm_ws {
    void *buf[WS_SLOTS];
    size_t cap[WS_SLOTS];
    const char *kernel; /* what the last call ran (static string) */
};

struct qc_gemm_ws *qc_gemm_ws_create(void)
{
    return calloc(1, sizeof(struct qc_gemm_ws));
}

void qc_gemm_ws_destroy(struct qc_gemm_ws *ws)
{
    if (!ws)
        return;
    for (int i = 0; i < WS_SLOTS; i++)
        free(ws->buf[i]);
    free(ws);
}

const char *qc_gemm_ws_kernel(const struct qc_gemm_ws *ws)
{
    return ws && ws->kernel ? ws->kernel : "";
}

size_t qc_gemm_ws_bytes(const struct qc_gemm_ws *ws)
{
    size_t n = 0;
    for (int i = 0; ws && i < WS_SLOTS; i++)
        n += ws->cap[i];
    return n;
}

/* Slot `slot` with at least `bytes`, 64-byte aligned; grows (never shrinks)
 * so that repeated calls of the same shapes allocate nothing. NULL when out
 * of memory. The contents are not kept across a growth. */
static void *ws_get(struct qc_gemm_ws *ws, int slot, size_t bytes)
{
    bytes = (bytes + 63) / 64 * 64;
    if (bytes == 0)
        bytes = 64;
    if (ws->cap[slot] >= bytes)
        return ws->buf[slot];
    free(ws->buf[slot]);
    ws->buf[slot] = NULL;
    ws->cap[slot] = 0;
    void *p = NULL;
    if (posix_memalign(&p, 64, bytes) != 0)
        return NULL;
    ws->buf[slot] = p;
    ws->cap[slot] = bytes;
    return p;
}

static int oom(struct qc_err *err)
{
    return qc_err_set(err, QC_ENOMEM, "", "out of memory for GEMM scratch");
}

/* ---- operands ------------------------------------------------------------------ */

static float a_at(const float *a, const struct qc_gemm_desc *d, int64_t i, int64_t p)
{
    return d->trans_a ? a[p * qc_gemm_lda(d) + i] : a[i * qc_gemm_lda(d) + p];
}

static int threads_of(int threads)
{
    return threads > 0 ? threads : qc_cpu_count();
}

/* Rounds n fp32 values in place to a scalar reading (rne): the SIMD plan
 * where there is one, else the scalar engine. */
static void round_seg(float *x, int64_t n, const struct qc_format *f,
                      const struct qc__f32_plan *plan, const struct qc__kern *kern)
{
    static const struct qc_round rne = {.mode = QC_ROUND_RNE, .sr_bits = QC_SR_BITS_DEFAULT};

    if (plan) {
        kern->quantize_f32(x, x, n, plan, NULL);
        return;
    }
    for (int64_t i = 0; i < n; i++)
        x[i] = (float)qc_round_value(f, x[i], &rne, 0, NULL);
}

/* Rounds a dense rows x cols array from src into dst (in place when they
 * are equal), in parallel stripes of whole rows (rows are independent:
 * blocks never cross them). */
static int round_rows_from(float *dst, const float *src, int64_t rows, int64_t cols,
                           const struct qc_format *f, enum qc_scale_rule rule,
                           const struct qc__kern *kern, int threads, struct qc_err *err)
{
    struct qc_round rne;
    int rc = QC_OK;

    qc_round_init(&rne, QC_ROUND_RNE);
#pragma omp parallel num_threads(threads)
    {
        const int64_t t = omp_get_thread_num(), nt = omp_get_num_threads();
        const int64_t r0 = rows * t / nt, r1 = rows * (t + 1) / nt;
        struct qc_err mine;
        int my = r1 > r0 ? qc__quantize_f32_kern(dst + r0 * cols, src + r0 * cols, r1 - r0, cols, f,
                                                 &rne, rule, 0, NULL, kern, &mine)
                         : QC_OK;
#pragma omp critical
        if (my && !rc) {
            rc = my;
            if (err)
                *err = mine;
        }
    }
    return rc;
}

/* ---- plans ------------------------------------------------------------------------ */

enum family { FAM_NONE, FAM_F32, FAM_FIXED, FAM_WIDE, FAM_SR };

/* This call's magnitudes of the block readings' rounded values (NULL for
 * a scalar reading). */
struct block_stats {
    const struct qc__pack_stats *a, *b;
};

/* What the fast-regime decision needs to know about the products. */
struct prod_info {
    double pmax; /* the largest product magnitude the readings allow */
    int lsb;     /* every product is a multiple of 2^lsb */
    int bits;    /* and has at most this many significant bits */
};

static bool is_plain_fp32(const struct qc_format *f, unsigned allowed)
{
    return f->kind == QC_FMT_FLOAT && f->ebits == 8 && f->mbits == 23 && f->bias == 127 &&
           !(f->flags & ~(QC_FMTF_BIAS | allowed));
}

/* Exponent of the smallest quantum of a float reading. */
static int lsb_of(const struct qc_format *f)
{
    return ((f->flags & QC_FMTF_SAN) && f->mbits > 0 ? f->emin - 1 : f->emin) - f->mbits;
}

/* What bounds one operand's values as the kernels read them: its format
 * for a scalar float reading; for a block reading, whose scales decide the
 * range, the magnitudes of this call's rounded values (`st`: a_stats or
 * b_raw_stats after prepare_src). False where nothing useful does
 * (integer elements, a NaN scale). */
static bool reading_bounds(const struct qc_format *f, const struct qc__pack_stats *st, int *lsb,
                           int *bits, double *max)
{
    if (qc_format_is_scalar(f)) {
        if (f->kind != QC_FMT_FLOAT)
            return false;
        *lsb = lsb_of(f);
        *bits = f->mbits + 1;
        *max = f->max_finite;
        return true;
    }
    if (f->elem != QC_FMT_FLOAT || !st || !st->finite)
        return false;
    /* Each value has at most mbits + 1 significant bits, so none has a
     * quantum below 2^(ilogb(amin) - mbits); all zero: any bound holds. */
    *lsb = st->amin <= FLT_MAX ? ilogbf(st->amin) - f->mbits : 0;
    *bits = f->mbits + 1;
    *max = st->amax;
    return true;
}

/* The fp32-lane kernels' inputs and product step: float readings whose
 * products are exact fp32 values (significands within 24 bits, never below
 * 2^-149, never near the top), or fp32 readings whose product is rounded to
 * fp32 by the multiply itself (CFG-1's fp32 product). Block readings are
 * bounded per call (`bs`). */
static bool lanes_inputs(struct qc__gemm_job *J, const struct qc_mac *mac,
                         const struct qc_gemm_desc *d, const struct block_stats *bs,
                         struct prod_info *pi)
{
    const struct qc_format *fa = &mac->a_read, *fb = &mac->b_read, *pr = &mac->prod_round;
    struct qc_round rne;
    int lsb_a, lsb_b, bits_a, bits_b;
    double max_a, max_b;

    qc_round_init(&rne, QC_ROUND_RNE);
    if (!qc_format_fits_f32(fa) || !qc_format_fits_f32(fb) || d->k >= (INT64_C(1) << 26) ||
        !reading_bounds(fa, bs->a, &lsb_a, &bits_a, &max_a) ||
        !reading_bounds(fb, bs->b, &lsb_b, &bits_b, &max_b))
        return false;
    const bool exact = bits_a + bits_b <= 24 && lsb_a + lsb_b >= -149 && max_a * max_b < 0x1p127;
    J->prod_kind = QC_KPROD_NONE;
    J->flush = 0.0f;
    pi->pmax = max_a * max_b;
    pi->lsb = lsb_a + lsb_b;
    pi->bits = bits_a + bits_b;
    if (!mac->fused && !mac->prod_exact) {
        if (!exact) {
            /* fp32 x fp32 rounded to fp32: the multiply is that rounding. */
            if (!is_plain_fp32(pr, 0) || mac->cfg != 1)
                return false;
            J->prod_kind = QC_KPROD_F32;
            pi->pmax = FLT_MAX;
            pi->lsb = -149;
            pi->bits = 24;
            return true;
        }
        if (is_plain_fp32(pr, QC_FMTF_NOSUB)) {
            /* An exact fp32 product rounds to itself; nosub still flushes. */
            if (pr->flags & QC_FMTF_NOSUB) {
                J->prod_kind = QC_KPROD_FLUSH;
                J->flush = 0x1p-126f;
            }
            return true;
        }
        if (!qc__f32_plan_init(&J->prod, pr, &rne))
            return false;
        J->prod_kind = J->prod.magic ? QC_KPROD_MAGIC : QC_KPROD_GENERIC;
        pi->pmax = pr->max_finite;
        pi->lsb = lsb_of(pr);
        pi->bits = pr->mbits + 1;
    } else if (!exact) {
        return false;
    } else if (!mac->fused && mac->prod_flush > 0.0) {
        J->prod_kind = QC_KPROD_FLUSH;
        J->flush = mac->prod_flush >= 0x1p-149 ? (float)mac->prod_flush : 0.0f;
    }
    return true;
}

/* The float-accumulator kernel: products as above, an accumulator the
 * bit-pattern rounding supports, sums that cannot leave the fp32 range. */
static bool float_plan(struct qc__gemm_job *J, const struct qc_mac *mac,
                       const struct qc_gemm_desc *d, const struct block_stats *bs,
                       struct prod_info *pi)
{
    if (mac->acc.kind != QC_FMT_FLOAT || !lanes_inputs(J, mac, d, bs, pi) ||
        !qc__f32_plan_init(&J->acc, &mac->acc, &mac->acc_round))
        return false;
    if (!J->acc.plain_fp32 && mac->acc.mbits > 21)
        return false; /* round-to-odd needs two spare bits in fp32 */
    if (!J->acc.plain_fp32 && mac->acc.max_finite + pi->pmax >= (double)FLT_MAX)
        return false;
    J->acc_kind = J->acc.plain_fp32 ? QC_KACC_PLAIN
                  : J->acc.magic    ? QC_KACC_MAGIC
                                    : QC_KACC_GENERIC;
    return true;
}

/* The fixed-point kernel's plan: exact fp32 products, a saturating fixed or
 * int accumulator of at most 22 bits, rne or rtz. */
static bool fixed_plan(struct qc__gemm_job *J, const struct qc_mac *mac,
                       const struct qc_gemm_desc *d, const struct block_stats *bs,
                       struct prod_info *pi)
{
    const struct qc_format *f = &mac->acc;
    const enum qc_round_mode mode = mac->acc_round.mode;

    if ((f->kind != QC_FMT_FIXED && f->kind != QC_FMT_INT) || (f->flags & QC_FMTF_WRAP) ||
        (mode != QC_ROUND_RNE && mode != QC_ROUND_RTZ) || !lanes_inputs(J, mac, d, bs, pi) ||
        J->prod_kind == QC_KPROD_F32)
        return false;
    const int bits = f->kind == QC_FMT_FIXED ? f->ibits + f->fbits : f->ibits;
    if (bits > 22)
        return false;
    J->fx_rne = mode == QC_ROUND_RNE;
    J->fx_hi = (int32_t)((INT64_C(1) << (bits - 1)) - 1);
    J->fx_lo = f->kind == QC_FMT_FIXED ? -J->fx_hi - 1 : -J->fx_hi;
    J->fx_scale = ldexpf(1.0f, f->fbits);
    J->fx_inv = ldexpf(1.0f, -f->fbits);
    J->fx_clamp = 0x1p22f;
    return true;
}

/* The wide kernel's plan: an fp32 accumulator with rne (the only one it
 * does), any readings whose values are fp32 values (products exact in
 * fp64), and a product step that is either none, a flush, or rounding to
 * fp32 (rne, with nosub for CFG-2). */
static bool wide_plan(struct qc__gemm_job *J, const struct qc_mac *mac,
                      const struct qc_gemm_desc *d)
{
    const struct qc_format *pr = &mac->prod_round;

    if (d->k >= (INT64_C(1) << 26) || !qc__f32_plan_init(&J->acc, &mac->acc, &mac->acc_round) ||
        !J->acc.plain_fp32)
        return false;
    J->prod_kind = QC_KPROD_NONE;
    J->wide_flush = 0.0;
    if (!mac->fused && !mac->prod_exact) {
        if (!is_plain_fp32(pr, QC_FMTF_NOSUB))
            return false;
        J->prod_kind = QC_KPROD_GENERIC;
        J->wide_flush = (pr->flags & QC_FMTF_NOSUB) ? pr->min_normal : 0.0;
    } else if (!mac->fused && mac->prod_flush > 0.0) {
        J->prod_kind = QC_KPROD_FLUSH;
        J->wide_flush = mac->prod_flush;
    }
    return true;
}

static uint64_t f64_bits(double x)
{
    uint64_t u;
    memcpy(&u, &x, sizeof u);
    return u;
}

/* The stochastic kernel's plan: a float accumulator without gaps, at most
 * 32 random bits and mbits + 1 + R <= 52 (so that fp64's round to odd
 * keeps every bit compared), products as the wide kernel's. */
static bool sr_plan(struct qc__gemm_job *J, const struct qc_mac *mac, const struct qc_gemm_desc *d)
{
    const struct qc_format *f = &mac->acc, *pr = &mac->prod_round;
    const struct qc_round *r = &mac->acc_round;
    struct qc_round rne, rtz;

    if (f->kind != QC_FMT_FLOAT || r->mode != QC_ROUND_SR || r->sr_bits < 1 || r->sr_bits > 32 ||
        !qc_format_fits_f32(f) || (f->flags & (QC_FMTF_DAZ | QC_FMTF_SAN)) ||
        f->mbits + 1 + r->sr_bits > 52 || d->k >= (INT64_C(1) << 26))
        return false;
    J->prod_kind = QC_KPROD_NONE;
    J->wide_flush = 0.0;
    if (!mac->fused && !mac->prod_exact) {
        if (!is_plain_fp32(pr, QC_FMTF_NOSUB))
            return false;
        J->prod_kind = QC_KPROD_GENERIC;
        J->wide_flush = (pr->flags & QC_FMTF_NOSUB) ? pr->min_normal : 0.0;
    } else if (!mac->fused && mac->prod_flush > 0.0) {
        J->prod_kind = QC_KPROD_FLUSH;
        J->wide_flush = mac->prod_flush;
    }
    qc_round_init(&rne, QC_ROUND_RNE);
    qc_round_init(&rtz, QC_ROUND_RTZ);
    struct qc__sr64 *P = &J->sr;
    P->mbits = f->mbits;
    P->sr_bits = r->sr_bits;
    P->emin_b = f->emin + 1023;
    P->max_bits = f64_bits(f->max_finite);
    P->min_sub_bits = f64_bits(ldexp(1.0, f->emin - f->mbits));
    P->flush_bits = (f->flags & QC_FMTF_NOSUB) ? f64_bits(f->min_normal) : 0;
    /* Overflows rounded away go where rne's do, toward zero to max. */
    P->ov_away_pos = f64_bits(qc_round_value(f, DBL_MAX, &rne, 0, NULL));
    P->ov_away_neg = f64_bits(qc_round_value(f, -DBL_MAX, &rne, 0, NULL));
    P->ov_keep_pos = f64_bits(qc_round_value(f, DBL_MAX, &rtz, 0, NULL));
    P->ov_keep_neg = f64_bits(qc_round_value(f, -DBL_MAX, &rtz, 0, NULL));
    P->inf_pos = f64_bits(qc_round_value(f, INFINITY, &rne, 0, NULL));
    P->inf_neg = f64_bits(qc_round_value(f, -INFINITY, &rne, 0, NULL));
    P->seed = r->seed;
    P->stream = d->sr_stream;
    /* draws per output: products and chunk totals, rounded up to a
     * multiple of 4 (the base of output 1) */
    const int64_t steps = d->k + (d->k > 0 ? (d->k + J->chunk - 1) / J->chunk : 0);
    P->stride = (int64_t)qc__sr_dot_base(1, (uint64_t)steps);
    return true;
}

/* ---- the fast regime ---------------------------------------------------------------- */

/* x > 0 rounded to nearest-even on a grid of p significant bits with an
 * unbounded exponent. */
static double rne_bits(double x, int p)
{
    int e;
    frexp(x, &e);
    const double s = ldexp(1.0, p - e);
    return rint(x * s) / s;
}

/* An upper bound on the magnitude after n rne adds of terms of magnitude
 * at most `step`, from 0, on a p-bit grid: rounding is monotone, so the
 * sequence b <- rne(b + step) bounds it; it settles once step is below half
 * an ulp of b. Past 4096 steps without settling, each further rounding
 * grows the bound by at most a factor 1 + 2^-p. INFINITY beyond `max`. */
static double add_bound(double step, int64_t n, int p, double max)
{
    double b = 0.0;
    for (int64_t i = 0; i < n; i++) {
        if (i == 4096) {
            const double left = (double)(n - i);
            b = (b + left * step) * exp(left * ldexp(1.0, -p)) * (1 + 0x1p-40);
            return b <= max ? b : INFINITY;
        }
        const double nb = rne_bits(nextafter(b + step, INFINITY), p);
        if (nb > max)
            return INFINITY;
        if (nb == b)
            return b;
        b = nb;
    }
    return b;
}

/* Largest magnitude, smallest nonzero magnitude and finiteness of an
 * operand after rounding to its reading, from those of the raw values:
 * rounding is monotone in the magnitude. */
static void rounded_stats(struct qc__pack_stats *s, const struct qc_format *f)
{
    static const struct qc_round rne = {.mode = QC_ROUND_RNE, .sr_bits = QC_SR_BITS_DEFAULT};

    if (!s->finite)
        return;
    const double hi = qc_round_value(f, s->amax, &rne, 0, NULL);
    const double lo = isinf(s->amin) ? INFINITY : qc_round_value(f, s->amin, &rne, 0, NULL);
    s->finite = isfinite(hi);
    s->amax = (float)fabs(hi);
    s->amin = lo == 0.0 || lo < f->min_subnormal ? (float)f->min_subnormal : (float)fabs(lo);
}

/* Decides the fast regime from the rounded operands' magnitudes: every
 * value finite, no product step event possible, no accumulator step that
 * can overflow or underflow. Then the kernel drops those checks and counts
 * swamping (or a fixed point underflow) as raw r == acc lanes. */
static void decide_fast(struct qc__gemm_job *J, enum family fam, const struct qc_mac *mac,
                        const struct prod_info *pi, const struct qc__pack_stats *sa,
                        const struct qc__pack_stats *sb)
{
    J->fast = J->plain_add = J->sw_eq = J->prod_uf = J->acc_rtz = 0;
    /* (pack_stats' zero pairs need fewer than 2^27 rows of A) */
    if (!sa->finite || !sb->finite || (fam != FAM_F32 && fam != FAM_FIXED) ||
        J->m >= (INT64_C(1) << 27) - QC_KERN_MR)
        return;
    bool prod_uf = false;
    const double pm = (double)sa->amax * sb->amax;   /* exact in double */
    const double pmin = (double)sa->amin * sb->amin; /* smallest nonzero product */
    double pr = pm;
    const struct qc_format *pf = &mac->prod_round;
    switch (J->prod_kind) {
    case QC_KPROD_NONE:
        break;
    case QC_KPROD_FLUSH:
        /* products that may be flushed: as for the magic product below */
        prod_uf = pmin < J->flush;
        if (prod_uf && fam != FAM_F32)
            return;
        break;
    case QC_KPROD_MAGIC:
        if (pm > pf->max_finite)
            return;
        /* A product that may round below the product format's range (to
         * its subnormals, to zero, or flushed under nosub) leaves the rest
         * fast: the kernel counts those underflows itself. */
        prod_uf = pmin < ((pf->flags & QC_FMTF_NOSUB) ? pf->min_normal : pf->min_subnormal);
        if (prod_uf && fam != FAM_F32)
            return;
        pr = pm * (1 + ldexp(1.0, -pf->mbits - 1));
        break;
    case QC_KPROD_F32:
        if (pm >= 0x1p126 || pmin < 0x1p-149)
            return;
        pr = pm * (1 + 0x1p-24);
        break;
    default:
        return;
    }
    const int64_t chunk = J->chunk;
    const int64_t nch = J->k > 0 ? (J->k + chunk - 1) / chunk : 0;
    if (fam == FAM_FIXED) {
        /* Every product converts inside the range; whether the sums stay
         * there the kernel checks. */
        if (pr * J->fx_scale + 1.0 > (double)J->fx_hi)
            return;
    } else if (J->acc_kind == QC_KACC_PLAIN) {
        if ((double)J->k * pr * exp((double)(J->k + nch) * 0x1p-24) >= 0x1p126)
            return;
    } else if (J->acc_kind == QC_KACC_MAGIC ||
               (J->acc_kind == QC_KACC_GENERIC &&
                (J->acc.mode == QC_ROUND_RNE || J->acc.mode == QC_ROUND_RTZ) && !J->acc.gap &&
                J->acc.emin_bits)) {
        /* rne on a grid without gaps: the magic-constant rounding, which
         * needs no inf, no saturation and no top of range once nothing
         * overflows (a format with fp32's range, bf16, too: the sums stay
         * far below the top, so the constant fits). rtz on such a grid:
         * truncation of the round-to-odd sum; it never grows a magnitude
         * past the exact sum's, so rne's bound below bounds it too. */
        const struct qc_format *f = &mac->acc;
        /* Products on the accumulator's lattice: no sum underflows. */
        if (J->acc.flush_bits || pi->lsb < f->emin - f->mbits)
            return;
        if (pr > 0.0) {
            const double step = pr > f->min_normal ? pr : f->min_normal;
            const double per_chunk =
                add_bound(step, chunk < J->k ? chunk : J->k, f->mbits + 1, f->max_finite);
            const double bound = isinf(per_chunk)
                                     ? INFINITY
                                     : add_bound(per_chunk, nch, f->mbits + 1, f->max_finite);
            if (isinf(bound) || ilogb(2 * bound) + 23 - f->mbits > 126)
                return;
        }
        if (J->acc.mode == QC_ROUND_RTZ) {
            /* an fp32 add is no substitute here: rounding a tiny negative
             * addend to nearest can cross a truncation boundary */
            J->acc_rtz = 1;
        } else {
            J->acc_kind = QC_KACC_MAGIC;
            J->plain_add = pi->bits <= f->mbits + 1 && f->mbits + 1 <= 10;
        }
    } else {
        return;
    }
    if (J->prod_kind == QC_KPROD_FLUSH && !prod_uf)
        J->prod_kind = QC_KPROD_NONE; /* nothing reaches the flush */
    J->fast = 1;
    J->prod_uf = prod_uf;
    J->sw_eq = !prod_uf;
}

/* ---- packing ---------------------------------------------------------------------- */

/* The operand sources after any block-format pre-rounding. */
struct src {
    const float *a;
    struct qc_gemm_desc d; /* A's and B's layout */
    const float *b;
    const struct qc_format *fa, *fb; /* readings to round to while packing; NULL: as they are */
    struct qc__f32_plan pa, pb;
    bool pa_ok, pb_ok; /* SIMD plans */
};

/* Columns [k0, k1) of all row panels of A. */
static void pack_a(float *ap, const struct src *s, int64_t mpan, int64_t k0, int64_t k1,
                   const struct qc__kern *kern)
{
    const struct qc_gemm_desc *d = &s->d;
    const int64_t K = d->k, m = d->m;

    for (int64_t p = 0; p < mpan; p++) {
        float *dst = ap + (p * K + k0) * MR;
        for (int r = 0; r < MR; r++) {
            const int64_t i = p * MR + r;
            if (i >= m) {
                for (int64_t kk = k0; kk < k1; kk++)
                    dst[(kk - k0) * MR + r] = 0.0f;
            } else if (!d->trans_a) {
                const float *row = s->a + i * qc_gemm_lda(d);
                for (int64_t kk = k0; kk < k1; kk++)
                    dst[(kk - k0) * MR + r] = row[kk];
            } else {
                for (int64_t kk = k0; kk < k1; kk++)
                    dst[(kk - k0) * MR + r] = a_at(s->a, d, i, kk);
            }
        }
        if (s->fa)
            round_seg(dst, (k1 - k0) * MR, s->fa, s->pa_ok ? &s->pa : NULL, kern);
    }
}

/* Zeros of packed A's columns [k0, k1) over row panels [p0, p1). */
static void count_za(int32_t *za, const float *ap, int64_t K, int64_t p0, int64_t p1, int64_t k0,
                     int64_t k1)
{
    for (int64_t kk = k0; kk < k1; kk++) {
        int32_t z = 0;
        for (int64_t p = p0; p < p1; p++)
            for (int r = 0; r < MR; r++)
                z += ap[(p * K + kk) * MR + r] == 0.0f;
        za[kk] = z;
    }
}

/* Row kk of B, columns [j0, j0 + cnt) (those beyond n read 0), into row[],
 * for B as a row-major array or an im2col / dilated view. */
static void b_row(float *row, const float *b, const struct qc_gemm_desc *d, int64_t kk, int64_t j0,
                  int64_t cnt)
{
    const int64_t n = d->n;
    const int64_t valid = j0 + cnt <= n ? cnt : (j0 < n ? n - j0 : 0);

    for (int64_t t = valid; t < cnt; t++)
        row[t] = 0.0f;
    if (d->b_view == QC_GEMM_B_ARRAY) {
        memcpy(row, b + kk * qc_gemm_ldb(d) + j0, (size_t)valid * sizeof(float));
        return;
    }
    const struct qc_gemm_conv *v = d->b_conv;
    const int64_t K = v->k, s = v->stride, pad = v->pad, gw = v->gw, gh = v->gh;
    const int64_t c = kk / (K * K), ki = kk / K % K, kj = kk % K;
    const bool dil = d->b_view == QC_GEMM_B_DILATED;
    /* The x whose source column is in range, [xa, xb), the same in every
     * row of the grid; zeros around. */
    int64_t xa, xb;
    if (!dil) { /* ix = x*s - pad + kj in [0, w) */
        xa = pad - kj > 0 ? (pad - kj + s - 1) / s : 0;
        xb = v->w - 1 + pad - kj >= 0 ? (v->w - 1 + pad - kj) / s + 1 : 0;
    } else { /* tx = x + pad - kj in [0, s*(w-1)] */
        xa = kj - pad > 0 ? kj - pad : 0;
        xb = s * (v->w - 1) + kj - pad + 1;
    }
    xb = xb > gw ? gw : xb;
    xa = xa > xb ? xb : xa;
    /* The grid position of j0, then row (b, y) by row. */
    int64_t bi = j0 / (gh * gw), y = j0 / gw % gh, x0 = j0 % gw;
    const float *plane = b + (c * v->nb + bi) * v->h * v->w;
    for (int64_t t = 0; t < valid;) {
        int64_t x1 = gw;
        if (x1 - x0 > valid - t)
            x1 = x0 + (valid - t);
        float *out = row + t - x0; /* out[x] for x in [x0, x1) */
        int64_t sy;
        bool yok;
        if (dil) {
            const int64_t ty = y + pad - ki;
            yok = ty >= 0 && ty % s == 0 && ty / s < v->h;
            sy = yok ? ty / s : 0;
        } else {
            sy = y * s - pad + ki;
            yok = sy >= 0 && sy < v->h;
        }
        const int64_t ra = yok ? (xa > x0 ? xa : x0) : x1, rb = yok ? (xb < x1 ? xb : x1) : x1;
        for (int64_t x = x0; x < ra; x++)
            out[x] = 0.0f;
        for (int64_t x = rb > ra ? rb : ra; x < x1; x++)
            out[x] = 0.0f;
        if (rb > ra) {
            const float *src = plane + sy * v->w;
            if (s == 1) {
                const float *q = dil ? src + pad - kj : src - pad + kj;
                memcpy(out + ra, q + ra, (size_t)(rb - ra) * sizeof(float));
            } else if (!dil) {
                const float *q = src - pad + kj;
                for (int64_t x = ra; x < rb; x++)
                    out[x] = q[x * s];
            } else {
                for (int64_t x = ra; x < rb; x++) {
                    const int64_t tx = x + pad - kj;
                    out[x] = tx % s == 0 ? src[tx / s] : 0.0f;
                }
            }
        }
        t += x1 - x0;
        x0 = 0;
        if (++y == gh) {
            y = 0;
            bi++;
            plane += v->h * v->w;
        }
    }
}

/* B rows [k0, k1) x panels [q0, q0 + np) into blk (panel t at t*(k1-k0)*nr),
 * rounded to the reading. `row` holds np*nr floats. */
static void pack_b(float *blk, float *row, const struct src *s, int64_t k0, int64_t k1, int64_t q0,
                   int np, int nr, const struct qc__kern *kern)
{
    const struct qc_gemm_desc *d = &s->d;
    const int64_t kb = k1 - k0, j0 = q0 * nr, w = (int64_t)np * nr;
    const int64_t n = d->n;

    if (d->b_view == QC_GEMM_B_IM2COL_T) {
        /* Column j of B is row j of U = im2col(input): unfold it over the
         * block's positions (contiguous runs), then scatter down the panel. */
        struct qc_gemm_desc u;
        qc_gemm_desc_init(&u, 0, d->k, d->n);
        u.b_view = QC_GEMM_B_IM2COL;
        u.b_conv = d->b_conv;
        for (int t = 0; t < np; t++)
            for (int c = 0; c < nr; c++) {
                const int64_t j = j0 + (int64_t)t * nr + c;
                float *dst = blk + (int64_t)t * kb * nr + c;
                if (j >= n) {
                    for (int64_t kk = 0; kk < kb; kk++)
                        dst[kk * nr] = 0.0f;
                    continue;
                }
                b_row(row, s->b, &u, j, k0, kb);
                for (int64_t kk = 0; kk < kb; kk++)
                    dst[kk * nr] = row[kk];
            }
    } else if (d->b_view == QC_GEMM_B_ARRAY && d->trans_b) {
        const int64_t ldb = qc_gemm_ldb(d);
        for (int t = 0; t < np; t++)
            for (int c = 0; c < nr; c++) {
                const int64_t j = j0 + (int64_t)t * nr + c;
                float *dst = blk + (int64_t)t * kb * nr + c;
                if (j >= n) {
                    for (int64_t kk = 0; kk < kb; kk++)
                        dst[kk * nr] = 0.0f;
                    continue;
                }
                const float *src = s->b + j * ldb + k0;
                for (int64_t kk = 0; kk < kb; kk++)
                    dst[kk * nr] = src[kk];
            }
    } else {
        for (int64_t kk = k0; kk < k1; kk++) {
            b_row(row, s->b, d, kk, j0, w);
            for (int t = 0; t < np; t++)
                memcpy(blk + ((int64_t)t * kb + kk - k0) * nr, row + (int64_t)t * nr,
                       (size_t)nr * sizeof(float));
        }
    }
    if (s->fb)
        round_seg(blk, (int64_t)np * kb * nr, s->fb, s->pb_ok ? &s->pb : NULL, kern);
}

/* Raw magnitudes of B's stored values (a view: its whole tensor, one
 * h x w plane per row). */
static void b_raw_stats(struct qc__pack_stats *st, const struct src *s, int64_t r0, int64_t r1,
                        const struct qc__kern *kern)
{
    const struct qc_gemm_desc *d = &s->d;

    if (d->b_view != QC_GEMM_B_ARRAY) {
        const int64_t plane = d->b_conv->h * d->b_conv->w;
        kern->pack_stats(st, s->b + r0 * plane, 1, (r1 - r0) * plane, NULL);
        return;
    }
    const int64_t width = d->trans_b ? d->k : d->n;
    for (int64_t r = r0; r < r1; r++)
        kern->pack_stats(st, s->b + r * qc_gemm_ldb(d), 1, width, NULL);
}

/* Magnitudes of A's stored values. */
static void a_stats(struct qc__pack_stats *st, const struct src *s, const struct qc__kern *kern)
{
    const struct qc_gemm_desc *d = &s->d;
    const int64_t rows = d->trans_a ? d->k : d->m, width = d->trans_a ? d->m : d->k;

    for (int64_t r = 0; r < rows; r++)
        kern->pack_stats(st, s->a + r * qc_gemm_lda(d), 1, width, NULL);
}

/* Rows of b_raw_stats' loop. */
static int64_t b_raw_rows(const struct qc_gemm_desc *d)
{
    if (d->b_view != QC_GEMM_B_ARRAY)
        return d->b_conv->c * d->b_conv->nb;
    return d->trans_b ? d->n : d->k;
}

static void merge_stats(struct qc__pack_stats *into, const struct qc__pack_stats *s)
{
    into->finite = into->finite && s->finite;
    if (!(into->amax >= s->amax))
        into->amax = s->amax;
    if (s->amin < into->amin)
        into->amin = s->amin;
    into->zeros += s->zeros;
    into->zero_pairs += s->zero_pairs;
}

static void stats_init(struct qc__pack_stats *s)
{
    memset(s, 0, sizeof *s);
    s->finite = true;
    s->amin = INFINITY;
}

/* ---- the lane kernels' driver ---------------------------------------------------- */

static int gemm_lanes(float *c, const struct src *s, const struct qc_mac *mac,
                      struct qc__gemm_job *J, enum family fam, const struct prod_info *pi,
                      const struct qc__kern *kern, int threads, struct qc_gemm_ws *ws,
                      struct qc_round_stats *st, struct qc_err *err)
{
    const struct qc_gemm_desc *d = &s->d;
    const int nr = kern->nr;
    const int64_t K = d->k, mpan = (d->m + MR - 1) / MR, npan = (d->n + nr - 1) / nr;
    const bool counting = st != NULL;

    /* Blocks of K that keep a B block in L2, chunk-aligned where chunks
     * are shorter; all of K when it is short. */
    int64_t kc = K <= 768 ? K : 512;
    if (J->chunk < kc && kc < K)
        kc = kc / J->chunk * J->chunk;
    const int64_t kcb = kc > 0 ? kc : 1;
    int64_t ncp = 49152 / kcb / nr;
    if (ncp < 1)
        ncp = 1;
    /* Threads: no more than the work feeds (a tile run of 2^18 MACs each),
     * splitting columns of C unless there are too few. */
    const double macs = (double)d->m * (double)d->n * (double)(K > 0 ? K : 1);
    int nt = threads;
    if (macs / 262144.0 < nt)
        nt = macs < 262144.0 ? 1 : (int)(macs / 262144.0);
    const bool split_rows = npan < nt && mpan > npan;
    const int64_t units = split_rows ? mpan : npan;
    if (units < nt)
        nt = (int)units;
    if (nt < 1)
        nt = 1;
    const int64_t my_cols_max = split_rows ? npan : (npan + nt - 1) / nt;
    const int64_t my_rows_max = split_rows ? (mpan + nt - 1) / nt : mpan;
    if (ncp > my_cols_max)
        ncp = my_cols_max;
    const bool blocked = kc < K;

    /* Per thread: B block, row buffer, tile state, own zero counts. */
    const size_t blk_b = (size_t)(kcb * ncp * nr) * sizeof(float);
    const size_t row_b = (size_t)(ncp * nr > kcb ? ncp * nr : kcb) * sizeof(float);
    const size_t state_b = blocked ? (size_t)(my_rows_max * ncp) * QC_KERN_TILE_STATE : 0;
    const size_t za_b = counting && split_rows ? (size_t)(K + 1) * sizeof(int32_t) : 0;
    const size_t per = (blk_b + row_b + state_b + za_b + 255) / 64 * 64;
    float *ap = ws_get(ws, WS_APACK, (size_t)(mpan * MR * K + 1) * sizeof(float));
    int32_t *za = counting ? ws_get(ws, WS_ZA, (size_t)(K + 1) * sizeof(int32_t)) : NULL;
    char *thr = ws_get(ws, WS_THREAD, per * (size_t)nt);
    if (!ap || !thr || (counting && !za))
        return oom(err);

    struct qc__pack_stats sa, sb;
    stats_init(&sa);
    stats_init(&sb);
    struct qc_round_stats sum = {0};
    const int64_t braw = b_raw_rows(d);
    int escaped = 0;
    J->escaped = &escaped;
again :

#pragma omp parallel num_threads(nt)
{
    const int t = omp_get_thread_num();
    struct qc__pack_stats mya, myb;
    stats_init(&mya);
    stats_init(&myb);
    /* 1. A, packed and rounded once, in K ranges. */
    {
        const int64_t k0 = K * t / nt, k1 = K * (t + 1) / nt;
        if (k1 > k0) {
            pack_a(ap, s, mpan, k0, k1, kern);
            for (int64_t p = 0; p < mpan; p++)
                kern->pack_stats(&mya, ap + (p * K + k0) * MR, 1, (k1 - k0) * MR, NULL);
            if (counting)
                count_za(za, ap, K, 0, mpan, k0, k1);
        }
    }
    /* 2. B's raw magnitudes. */
    {
        const int64_t r0 = braw * t / nt, r1 = braw * (t + 1) / nt;
        if (r1 > r0)
            b_raw_stats(&myb, s, r0, r1, kern);
    }
#pragma omp critical
    {
        merge_stats(&sa, &mya);
        merge_stats(&sb, &myb);
    }
#pragma omp barrier
#pragma omp single
    {
        if (s->fb)
            rounded_stats(&sb, s->fb);
        if (escaped) /* the second round: the general kernel */
            J->fast = J->sw_eq = J->plain_add = J->prod_uf = J->acc_rtz = 0;
        else
            decide_fast(J, fam, mac, pi, &sa, &sb);
        ws->kernel = fam == FAM_SR                  ? "sr"
                     : fam == FAM_WIDE              ? "wide"
                     : fam == FAM_FIXED             ? (J->fast ? "fixed/fast" : "fixed")
                     : !J->fast                     ? "f32"
                     : J->acc_rtz                   ? "f32/fast/rtz"
                     : J->acc_kind == QC_KACC_PLAIN ? "f32/fast/plain"
                     : J->plain_add                 ? "f32/fast/add"
                                                    : "f32/fast/odd";
    }
    /* 3. This thread's tiles. */
    const int64_t p0 = split_rows ? mpan * t / nt : 0, p1 = split_rows ? mpan * (t + 1) / nt : mpan;
    const int64_t q0 = split_rows ? 0 : npan * t / nt, q1 = split_rows ? npan : npan * (t + 1) / nt;
    char *mine = thr + per * (size_t)t;
    float *blk = (float *)mine;
    float *row = (float *)(mine + blk_b);
    char *state = mine + blk_b + row_b;
    int32_t *zat = za_b ? (int32_t *)(state + state_b) : za;
    struct qc_round_stats my = {0};
    const bool zcount = counting && J->sw_eq;
    int64_t sum_za = 0, zeros_b = 0, pairs = 0;
    if (zcount) {
        if (split_rows)
            count_za(zat, ap, K, p0, p1, 0, K);
        for (int64_t kk = 0; kk < K; kk++)
            sum_za += zat[kk];
    }
    const qc__tile_fn fn = fam == FAM_F32     ? kern->gemm_f32
                           : fam == FAM_FIXED ? kern->gemm_fixed
                           : fam == FAM_SR    ? kern->gemm_sr
                                              : kern->gemm_wide;
    for (int64_t qb = q0; qb < q1; qb += ncp) {
        const int np = (int)(q1 - qb < ncp ? q1 - qb : ncp);
        for (int64_t k0 = 0; k0 < K || k0 == 0; k0 += kcb) {
            const int64_t k1 = k0 + kcb < K ? k0 + kcb : K;
            const int64_t kb = k1 - k0;
            if (kb > 0)
                pack_b(blk, row, s, k0, k1, qb, np, nr, kern);
            if (zcount && kb > 0) {
                struct qc__pack_stats zs;
                stats_init(&zs);
                for (int q = 0; q < np; q++)
                    kern->pack_stats(&zs, blk + (int64_t)q * kb * nr, kb, nr, zat + k0);
                zeros_b += zs.zeros;
                pairs += zs.zero_pairs;
            }
            for (int64_t p = p0; p < p1; p++) {
                const int rows = (int)(d->m - p * MR < MR ? d->m - p * MR : MR);
                fn(J, ap + p * K * MR, blk, kb * nr, np, k0, k1,
                   state + (size_t)((p - p0) * ncp) * QC_KERN_TILE_STATE,
                   c + p * MR * qc_gemm_ldc(d) + qb * nr, rows, d->n - qb * nr, p * MR, qb * nr,
                   counting ? &my : NULL);
            }
            if (K == 0)
                break;
        }
    }
    if (zcount) {
        /* The kernel counted every lane whose sum stayed put; a zero
         * product (a zero factor) always does and is no swamp. */
        const int64_t zp = (q1 - q0) * nr * sum_za + (p1 - p0) * MR * zeros_b - pairs;
        if (fam == FAM_FIXED)
            my.underflow -= (uint64_t)zp;
        else
            my.swamping -= (uint64_t)zp;
    }
#pragma omp critical
    qc_round_stats_add(&sum, &my);
}
    if (escaped && J->fast) {
        /* A fixed-point sum left the range somewhere: saturation matters,
         * so the whole product again with the saturating kernel. */
        memset(&sum, 0, sizeof sum);
        stats_init(&sa);
        stats_init(&sb);
        goto again;
    }
    if (st) {
        sum.ops = (uint64_t)d->m * (uint64_t)d->n * (uint64_t)d->k;
        qc_round_stats_add(st, &sum);
    }
    return QC_OK;
}

/* ---- acc=native -------------------------------------------------------------------- */

/* OpenBLAS runs single-threaded inside our own parallel regions: one
 * thread pool in the process, and no spinning workers of a second one. */
static pthread_once_t blas_once = PTHREAD_ONCE_INIT;

static void blas_single(void)
{
    openblas_set_num_threads(1);
}

/* acc=native with B = im2col^T (a convolution's grad-weight): C (m x n) =
 * A (m x P) . U^T where U (n x P) is the unfolded input. Its long K (the
 * positions) is split across threads, each unfolding a block of columns of
 * U at a time and adding its partial product; the partials are summed at
 * the end (so the bits depend on the thread count, as native's may). */
static int native_unfold_t(float *c, const float *a, int64_t lda, CBLAS_TRANSPOSE tra,
                           const struct src *s, const struct qc__kern *kern, int nt,
                           struct qc_gemm_ws *ws, struct qc_err *err)
{
    const struct qc_gemm_desc *d = &s->d;
    const int64_t m = d->m, n = d->n, P = d->k, ldc = qc_gemm_ldc(d);
    struct qc_gemm_desc u; /* U as an im2col view: n x P */

    qc_gemm_desc_init(&u, 0, P, n);
    u.b_view = QC_GEMM_B_IM2COL;
    u.b_conv = d->b_conv;
    int64_t w = 65536 / n;
    w = w < 64 ? 64 : w / 16 * 16;
    if (w > P)
        w = P;
    const int64_t blocks = (P + w - 1) / w;
    if (blocks < nt)
        nt = (int)blocks;
    const size_t per = (size_t)(n * w + m * n + 16);
    float *buf = ws_get(ws, WS_THREAD, per * (size_t)nt * sizeof(float));
    if (!buf)
        return oom(err);
#pragma omp parallel num_threads(nt)
    {
        const int t = omp_get_thread_num();
        float *ub = buf + per * (size_t)t, *part = ub + n * w;
        const int64_t q0 = blocks * t / nt, q1 = blocks * (t + 1) / nt;
        for (int64_t q = q0; q < q1; q++) {
            const int64_t p0 = q * w, pw = P - p0 < w ? P - p0 : w;
            for (int64_t r = 0; r < n; r++)
                b_row(ub + r * pw, s->b, &u, r, p0, pw);
            if (s->fb)
                round_seg(ub, n * pw, s->fb, s->pb_ok ? &s->pb : NULL, kern);
            const float *ab = tra == CblasTrans ? a + p0 * lda : a + p0;
            cblas_sgemm(CblasRowMajor, tra, CblasTrans, (int)m, (int)n, (int)pw, 1.0f, ab, (int)lda,
                        ub, (int)pw, q == q0 ? 0.0f : 1.0f, part, (int)n);
        }
#pragma omp barrier
#pragma omp for schedule(static)
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < n; j++) {
                float v = 0.0f;
                for (int th = 0; th < nt; th++)
                    v += buf[per * (size_t)th + (size_t)(n * w + i * n + j)];
                c[i * ldc + j] = v;
            }
    }
    return QC_OK;
}

/* The rounded operands through OpenBLAS sgemm, its columns split across
 * threads; B (a view too) is unfolded block by block into a thread's own
 * buffer. Not bit-reproducible across thread counts, by contract
 * (docs/mac.md). */
static int gemm_native(float *c, const struct src *s, const struct qc__kern *kern, int threads,
                       struct qc_gemm_ws *ws, struct qc_round_stats *st, struct qc_err *err)
{
    const struct qc_gemm_desc *d = &s->d;
    const int64_t m = d->m, n = d->n, K = d->k, ldc = qc_gemm_ldc(d);

    pthread_once(&blas_once, blas_single);
    ws->kernel = "native";
    if (st)
        st->ops += (uint64_t)m * (uint64_t)n * (uint64_t)K;
    if (m == 0 || n == 0)
        return QC_OK;
    if (K == 0) {
        for (int64_t i = 0; i < m; i++)
            memset(c + i * ldc, 0, (size_t)n * sizeof(float));
        return QC_OK;
    }
    /* A: as given when it needs no rounding, else rounded into scratch. */
    const float *a = s->a;
    int64_t lda = qc_gemm_lda(d);
    bool ta = d->trans_a;
    if (s->fa) {
        float *aq = ws_get(ws, WS_APACK, (size_t)(m * K) * sizeof(float));
        if (!aq)
            return oom(err);
        for (int64_t i = 0; i < m; i++)
            for (int64_t p = 0; p < K; p++)
                aq[i * K + p] = a_at(s->a, d, i, p);
        round_seg(aq, m * K, s->fa, s->pa_ok ? &s->pa : NULL, kern);
        a = aq;
        lda = K;
        ta = false;
    }
    const double macs = (double)m * (double)n * (double)K;
    int nt = threads;
    if (macs / 1048576.0 < nt)
        nt = macs < 1048576.0 ? 1 : (int)(macs / 1048576.0);
    const CBLAS_TRANSPOSE tra = ta ? CblasTrans : CblasNoTrans;
    if (d->b_view == QC_GEMM_B_IM2COL_T)
        return native_unfold_t(c, a, lda, tra, s, kern, nt, ws, err);
    const bool direct = d->b_view == QC_GEMM_B_ARRAY && !s->fb;
    /* Columns per block: B (K x nb) stays in L2. */
    int64_t nb = 65536 / K;
    nb = nb < 64 ? 64 : nb / 16 * 16;
    if (direct)
        nb = (n + nt - 1) / nt;
    if (nb > n)
        nb = n;
    const int64_t blocks = (n + nb - 1) / nb;
    if (blocks < nt)
        nt = (int)blocks;
    float *buf = NULL;
    if (!direct && !(buf = ws_get(ws, WS_THREAD, (size_t)(nt * K * nb + 1) * sizeof(float))))
        return oom(err);
#pragma omp parallel for num_threads(nt) schedule(static)
    for (int64_t q = 0; q < blocks; q++) {
        const int64_t j0 = q * nb, w = n - j0 < nb ? n - j0 : nb;
        if (direct) {
            const int64_t ldb = qc_gemm_ldb(d);
            const float *bb = d->trans_b ? s->b + j0 * ldb : s->b + j0;
            cblas_sgemm(CblasRowMajor, tra, d->trans_b ? CblasTrans : CblasNoTrans, (int)m, (int)w,
                        (int)K, 1.0f, a, (int)lda, bb, (int)ldb, 0.0f, c + j0, (int)ldc);
            continue;
        }
        float *bb = buf + (int64_t)omp_get_thread_num() * K * nb;
        if (d->b_view == QC_GEMM_B_ARRAY && d->trans_b) {
            const int64_t ldb = qc_gemm_ldb(d);
            for (int64_t p = 0; p < K; p++)
                for (int64_t j = 0; j < w; j++)
                    bb[p * w + j] = s->b[(j0 + j) * ldb + p];
        } else {
            for (int64_t p = 0; p < K; p++)
                b_row(bb + p * w, s->b, d, p, j0, w);
        }
        if (s->fb)
            round_seg(bb, K * w, s->fb, s->pb_ok ? &s->pb : NULL, kern);
        cblas_sgemm(CblasRowMajor, tra, CblasNoTrans, (int)m, (int)w, (int)K, 1.0f, a, (int)lda, bb,
                    (int)w, 0.0f, c + j0, (int)ldc);
    }
    return QC_OK;
}

/* ---- the exact scalar engine -------------------------------------------------------- */

/* The exact scalar engine over all of C, on A as m x k and B as n x k in
 * double (each row one reduction vector), rounded to the readings. */
static void gemm_scalar(float *c, const double *aq, const double *bq, const struct qc_gemm_desc *d,
                        const struct qc_mac *mac_in, int threads, struct qc_round_stats *st)
{
    struct qc_mac m = *mac_in;
    const struct qc_mac *mac = &m;

    m.acc_round.stream = d->sr_stream; /* each GEMM call draws its own bits */
    const int64_t chunk = mac->chunk > 0 && mac->chunk < d->k ? mac->chunk : d->k;
    const int64_t nchunks = chunk > 0 ? (d->k + chunk - 1) / chunk : 0;
    const int64_t ldc = qc_gemm_ldc(d);
    struct qc_round_stats sum = {0};

#pragma omp parallel num_threads(threads)
    {
        struct qc_round_stats mine = {0};
#pragma omp for schedule(static)
        for (int64_t i = 0; i < d->m; i++) {
            for (int64_t j = 0; j < d->n; j++) {
                const uint64_t base =
                    qc__sr_dot_base((uint64_t)(i * d->n + j), (uint64_t)(d->k + nchunks));
                double v = qc__mac_dot(mac, aq + i * d->k, 1, bq + j * d->k, 1, d->k, base, &mine);
                c[i * ldc + j] = (float)v;
            }
        }
#pragma omp critical
        qc_round_stats_add(&sum, &mine);
    }
    if (st) {
        sum.ops = (uint64_t)d->m * (uint64_t)d->n * (uint64_t)d->k;
        qc_round_stats_add(st, &sum);
    }
}

static int run_scalar(float *c, const float *a, const float *b, const struct qc_gemm_desc *d,
                      const struct qc_mac *mac, int threads, struct qc_gemm_ws *ws,
                      struct qc_round_stats *st, struct qc_err *err)
{
    struct qc_round rne;
    int rc;

    qc_round_init(&rne, QC_ROUND_RNE);
    double *aq = ws_get(ws, WS_AQ, (size_t)(d->m * d->k + 1) * sizeof(double));
    double *bq = ws_get(ws, WS_BQ, (size_t)(d->n * d->k + 1) * sizeof(double));
    if (!aq || !bq)
        return oom(err);
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int64_t i = 0; i < d->m; i++)
        for (int64_t p = 0; p < d->k; p++)
            aq[i * d->k + p] = a_at(a, d, i, p);
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int64_t j = 0; j < d->n; j++)
        for (int64_t p = 0; p < d->k; p++)
            bq[j * d->k + p] = qc_gemm_b_value(d, b, p, j);
    if ((!d->a_rounded && (rc = qc_quantize_f64(aq, aq, d->m, d->k, &mac->a_read, &rne,
                                                mac->scale_rule, 0, NULL, err))) ||
        (!d->b_rounded && (rc = qc_quantize_f64(bq, bq, d->n, d->k, &mac->b_read, &rne,
                                                mac->scale_rule, 0, NULL, err))))
        return rc;
    if (mac->native) {
        /* Readings beyond fp32: to fp32, then sgemm. */
        float *a32 = ws_get(ws, WS_A_DENSE, (size_t)(d->m * d->k + 1) * sizeof(float));
        float *b32 = ws_get(ws, WS_B_DENSE, (size_t)(d->k * d->n + 1) * sizeof(float));
        if (!a32 || !b32)
            return oom(err);
        for (int64_t i = 0; i < d->m * d->k; i++)
            a32[i] = (float)aq[i];
        for (int64_t j = 0; j < d->n; j++)
            for (int64_t p = 0; p < d->k; p++)
                b32[p * d->n + j] = (float)bq[j * d->k + p];
        struct src s;
        memset(&s, 0, sizeof s);
        qc_gemm_desc_init(&s.d, d->m, d->n, d->k);
        s.d.ldc = d->ldc;
        s.a = a32;
        s.b = b32;
        return gemm_native(c, &s, NULL, threads, ws, st, err);
    }
    ws->kernel = "scalar";
    gemm_scalar(c, aq, bq, d, mac, threads, st);
    return QC_OK;
}

/* ---- entry -------------------------------------------------------------------------- */

/* The kernels read fp32 panels: every rounded input must be an fp32 value
 * (block formats' scaled values are). */
static bool panels_ok(const struct qc_mac *mac)
{
    return qc_format_fits_f32(&mac->a_read) && qc_format_fits_f32(&mac->b_read);
}

/* The operand sources: block-format readings are rounded along K first
 * (their scales need whole blocks), into dense A (m x k) and B^T (n x k). */
static int prepare_src(struct src *s, const float *a, const float *b, const struct qc_gemm_desc *d,
                       const struct qc_mac *mac, const struct qc__kern *kern, int threads,
                       struct qc_gemm_ws *ws, struct qc_err *err)
{
    struct qc_round rne;
    int rc;

    qc_round_init(&rne, QC_ROUND_RNE);
    memset(s, 0, sizeof *s);
    s->a = a;
    s->b = b;
    s->d = *d;
    s->fa = d->a_rounded ? NULL : &mac->a_read;
    s->fb = d->b_rounded ? NULL : &mac->b_read;
    /* Rounding fp32 to fp32 with rne changes nothing the kernels see (NaN
     * payloads never reach an output: results are canonicalized). */
    if (s->fa && is_plain_fp32(s->fa, 0))
        s->fa = NULL;
    if (s->fb && is_plain_fp32(s->fb, 0))
        s->fb = NULL;
    if (s->fa && !qc_format_is_scalar(s->fa)) {
        float *ad = ws_get(ws, WS_A_DENSE, (size_t)(d->m * d->k + 1) * sizeof(float));
        if (!ad)
            return oom(err);
        for (int64_t i = 0; i < d->m; i++)
            for (int64_t p = 0; p < d->k; p++)
                ad[i * d->k + p] = a_at(a, d, i, p);
        if ((rc = round_rows_from(ad, ad, d->m, d->k, s->fa, mac->scale_rule, kern, threads, err)))
            return rc;
        s->a = ad;
        s->d.trans_a = false;
        s->d.lda = 0;
        s->fa = NULL;
    }
    if (s->fb && !qc_format_is_scalar(s->fb)) {
        /* B's blocks run along K, down its columns: round B^T's rows. */
        float *bt = ws_get(ws, WS_B_DENSE, (size_t)(d->n * d->k + 1) * sizeof(float));
        if (!bt)
            return oom(err);
#pragma omp parallel num_threads(threads)
        {
            const int64_t t = omp_get_thread_num(), nt = omp_get_num_threads();
            const int64_t j0 = d->n * t / nt, j1 = d->n * (t + 1) / nt;
            qc_gemm_b_rows(bt + j0 * d->k, b, d, j0, j1);
        }
        if ((rc = round_rows_from(bt, bt, d->n, d->k, s->fb, mac->scale_rule, kern, threads, err)))
            return rc;
        s->b = bt;
        s->d.trans_b = true;
        s->d.ldb = 0;
        s->d.b_view = QC_GEMM_B_ARRAY;
        s->d.b_conv = NULL;
        s->fb = NULL;
    }
    s->pa_ok = s->fa && qc__f32_plan_init(&s->pa, s->fa, &rne);
    s->pb_ok = s->fb && qc__f32_plan_init(&s->pb, s->fb, &rne);
    if (s->fb && d->b_view != QC_GEMM_B_ARRAY) {
        /* A view repeats each tensor value k x k times: round the tensor
         * once instead, and pack from the rounded copy. */
        const struct qc_gemm_conv *v = d->b_conv;
        const int64_t len = v->c * v->nb * v->h * v->w;
        float *t = ws_get(ws, WS_B_DENSE, (size_t)(len + 1) * sizeof(float));
        if (!t)
            return oom(err);
#pragma omp parallel num_threads(threads)
        {
            const int64_t i = omp_get_thread_num(), nt = omp_get_num_threads();
            const int64_t r0 = len * i / nt, r1 = len * (i + 1) / nt;
            memcpy(t + r0, b + r0, (size_t)(r1 - r0) * sizeof(float));
            round_seg(t + r0, r1 - r0, s->fb, s->pb_ok ? &s->pb : NULL, kern);
        }
        s->b = t;
        s->fb = NULL;
    }
    return QC_OK;
}

int qc_gemm_cpu_run(float *c, const float *a, const float *b, const struct qc_gemm_desc *d,
                    const struct qc_mac *mac, int threads, const char *isa, struct qc_gemm_ws *ws,
                    struct qc_round_stats *st, struct qc_err *err)
{
    const struct qc__kern *kern = NULL;
    struct qc_gemm_ws *own = NULL;
    struct qc__gemm_job job;
    struct prod_info pi;
    struct src s;
    int rc;

    if ((rc = qc_gemm_check(d, mac, err)))
        return rc;
    if (!isa || strcmp(isa, "scalar") != 0) {
        kern = qc__kern_get(isa);
        if (!kern)
            return qc_err_set(err, QC_EUNSUPP, "isa", "instruction set '%s' is not available here",
                              isa);
    }
    if (!ws && !(ws = own = qc_gemm_ws_create()))
        return oom(err);
    threads = threads_of(threads);
    memset(&job, 0, sizeof job);
    job.m = d->m;
    job.n = d->n;
    job.k = d->k;
    job.ldc = qc_gemm_ldc(d);
    job.chunk = mac->chunk > 0 && mac->chunk < d->k ? mac->chunk : (d->k ? d->k : 1);
    enum family fam = FAM_NONE;
    const bool lanes = kern && panels_ok(mac);
    if (lanes) {
        /* Block readings are rounded first, and bounded as rounded: the
         * plans below need their range, which their scales decide. */
        if ((rc = prepare_src(&s, a, b, d, mac, kern, threads, ws, err)))
            goto out;
        struct qc__pack_stats sa, sb;
        struct block_stats bs = {NULL, NULL};
        if (!qc_format_is_scalar(&mac->a_read)) {
            stats_init(&sa);
            a_stats(&sa, &s, kern);
            bs.a = &sa;
        }
        if (!qc_format_is_scalar(&mac->b_read)) {
            stats_init(&sb);
            b_raw_stats(&sb, &s, 0, b_raw_rows(&s.d), kern);
            bs.b = &sb;
        }
        if (!mac->native) {
            if (float_plan(&job, mac, d, &bs, &pi))
                fam = FAM_F32;
            else if (fixed_plan(&job, mac, d, &bs, &pi))
                fam = FAM_FIXED;
            else if (wide_plan(&job, mac, d))
                fam = FAM_WIDE;
            else if (sr_plan(&job, mac, d))
                fam = FAM_SR;
        }
    }
    if (fam != FAM_NONE || (lanes && mac->native)) {
        if (mac->native)
            rc = gemm_native(c, &s, kern, threads, ws, st, err);
        else
            rc = gemm_lanes(c, &s, mac, &job, fam, &pi, kern, threads, ws, st, err);
        goto out;
    }
    rc = run_scalar(c, a, b, d, mac, threads, ws, st, err);
out:
    qc_gemm_ws_destroy(own);
    return rc;
}

int qc_gemm_cpu_isa(float *c, const float *a, const float *b, const struct qc_gemm_desc *d,
                    const struct qc_mac *mac, int threads, const char *isa,
                    struct qc_round_stats *st, struct qc_err *err)
{
    return qc_gemm_cpu_run(c, a, b, d, mac, threads, isa, NULL, st, err);
}

int qc_gemm_cpu(float *c, const float *a, const float *b, const struct qc_gemm_desc *d,
                const struct qc_mac *mac, int threads, struct qc_round_stats *st,
                struct qc_err *err)
{
    return qc_gemm_cpu_run(c, a, b, d, mac, threads, NULL, NULL, st, err);
}
