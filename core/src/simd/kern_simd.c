/* The SIMD kernels: fp32 quantization by bit-pattern rounding, and the
 * emulated GEMM over fp32 lanes. One source, compiled once per instruction
 * set (QC_SIMD_ISA = generic | avx2 | avx512) with GCC vector extensions, so
 * every variant executes the same operations lane by lane and produces the
 * same bits; only the vector width differs. */
#include <stdint.h>
#include <string.h>

#include "kern_impl.h"

#define CAT2(a, b) a##b
#define CAT(a, b)  CAT2(a, b)
#define STR2(a)    #a
#define STR(a)     STR2(a)

#define ISA_generic 1
#define ISA_avx2    2
#define ISA_avx512  3
#define ISA_ID      CAT(ISA_, QC_SIMD_ISA)

#if ISA_ID == ISA_avx512
#define VBYTES 64
#elif ISA_ID == ISA_avx2
#define VBYTES 32
#else
#define VBYTES 16
#endif

#define VL (VBYTES / 4)
#define CB 1 /* vectors per row in the GEMM register block */
#define RB 4 /* rows per GEMM register block (gemm_cpu.c splits rows in multiples) */

typedef uint32_t vu __attribute__((vector_size(VBYTES)));
typedef int32_t vi __attribute__((vector_size(VBYTES)));
typedef float vf __attribute__((vector_size(VBYTES)));

static inline vu loadu(const float *p)
{
    vu v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline void storeu(float *p, vu v)
{
    memcpy(p, &v, sizeof v);
}

/* x in every lane. Not `(vf){0} + x`: adding +0 would turn -0 into +0,
 * and the sign of a zero product matters (+0 + -0 is -0 under rdn). */
static inline vf splat(float x)
{
    vf v;
    for (int l = 0; l < VL; l++)
        v[l] = x;
    return v;
}

/* mask ? x : y, for comparison masks (all-ones or zero lanes). */
static inline vu sel(vi mask, vu x, vu y)
{
    return ((vu)mask & x) | (~(vu)mask & y);
}

static inline vi is_finite(vu bits)
{
    return (bits & 0x7f800000u) != 0x7f800000u;
}

/* Rounding a magnitude `a` below some s to 0 or s: lanes where it goes up,
 * given which lanes lie above s/2 and which at or above it (a tie goes to
 * 0 under rne, the even neighbour). */
static inline __attribute__((always_inline)) vi
zero_or_up(const enum qc_round_mode mode, vu a, vi neg, vi above_half, vi at_or_above_half)
{
    switch (mode) {
    case QC_ROUND_RNE:
        return above_half;
    case QC_ROUND_RNA:
        return at_or_above_half;
    case QC_ROUND_RUP:
        return (vi)(a != 0) & ~neg;
    case QC_ROUND_RDN:
        return (vi)(a != 0) & neg;
    default:
        return (vi){0};
    }
}

/* Rounds fp32 bit patterns `u` to the plan's format; counts overflow and
 * underflow lanes (mask lanes are -1, so subtracting counts them). */
static inline __attribute__((always_inline)) vu round_lanes_t(vu u, const struct qc__f32_plan *p,
                                                              const enum qc_round_mode mode,
                                                              const bool gap, vu *n_ov, vu *n_un)
{
    const vu sign = u & 0x80000000u;
    const vu a = u & 0x7fffffffu;
    const vi neg = (vi)(sign != 0);
    const vi nan = (vi)(a > 0x7f800000u);
    const vi inf = (vi)(a == 0x7f800000u);
    const vu ex = a >> 23;
    const vi exx = (vi)ex - (vi)(ex == 0); /* subnormals share binade 1's spacing */

    /* s: low pattern bits below the target quantum. */
    vi d = p->emin_b - exx;
    d &= (vi)(d > 0);
    vi s = p->base_shift + d;
    const vi big = (vi)(s > 23);
    s = (vi)sel(big, (vu)(vi){0} + 23, (vu)s);

    const vu one = (vu){0} + 1u;
    const vu mask = (one << (vu)s) - 1u;
    const vu half = (one << (vu)s) >> 1;
    vu inc;
    switch (mode) {
    case QC_ROUND_RNE:
        inc = (half - 1u + ((a >> (vu)s) & 1u)) & (vu)(s > 0);
        break;
    case QC_ROUND_RNA:
        inc = half;
        break;
    case QC_ROUND_RUP:
        inc = mask & ~(vu)neg;
        break;
    case QC_ROUND_RDN:
        inc = mask & (vu)neg;
        break;
    default: /* rtz */
        inc = (vu){0};
        break;
    }
    vu r = (a + inc) & ~mask;

    /* Below the quantum's half-binade the result is 0 or the quantum q:
     * with 24 bits dropped the value is in [q/2, q), at q/2 exactly when
     * its mantissa is 0 (fp32 subnormals stay below q/2). */
    const vi s24 = (vi)(p->base_shift + d == 24) & (vi)(ex != 0);
    const vi up_big = zero_or_up(mode, a, neg, s24 & (vi)((a & 0x7fffffu) != 0), s24);
    r = sel(big, (vu)up_big & p->min_sub_bits, r);

    if (gap) {
        /* daz / subnormal-as-normal: below the smallest nonzero magnitude
         * the neighbours are 0 and that magnitude (ties go to 0). */
        const vi gap_up =
            zero_or_up(mode, a, neg, (vi)(a > p->gap_half_bits), (vi)(a >= p->gap_half_bits));
        r = sel((vi)(a < p->gap_bits), (vu)gap_up & p->gap_bits, r);
    }

    const vi fin = ~(nan | inf);
    const vi ov = fin & (vi)(r > p->max_bits);
    r &= (vu)(r >= p->flush_bits); /* nosub (flush_bits = 0 otherwise) */
    const vi un = fin & (vi)(a != 0) & (vi)(r == 0);
    *n_ov -= (vu)ov;
    *n_un -= (vu)un;

    vu out = r | sign;
    out = sel(ov, sel(neg, (vu){0} + p->ov_neg, (vu){0} + p->ov_pos), out);
    out = sel(inf, sel(neg, (vu){0} + p->inf_neg, (vu){0} + p->inf_pos), out);
    out = sel(nan, (vu){0} + 0x7fc00000u, out);
    return out;
}

/* The same with the mode read from the plan (the GEMM's generic path). */
static inline __attribute__((always_inline)) vu round_lanes(vu u, const struct qc__f32_plan *p,
                                                            vu *n_ov, vu *n_un)
{
    return round_lanes_t(u, p, p->mode, p->gap, n_ov, n_un);
}

static void flush_counts(struct qc_round_stats *st, vu n_ov, vu n_un, vu n_sw)
{
    if (!st)
        return;
    for (int l = 0; l < VL; l++) {
        st->overflow += n_ov[l];
        st->underflow += n_un[l];
        st->swamping += n_sw[l];
    }
}

/* Round-to-nearest-even by the magic constant: M = 1.5 x 2^K has an ulp
 * equal to the target quantum at |v|'s exponent (or at emin below it), so
 * the fp32 add v + M rounds v once, to nearest even, onto the target grid,
 * and subtracting M is exact. Two integer ops find M. Requires the plan's
 * `magic` conditions (kern_impl.h). Returns unsigned-magnitude-safe bits
 * with v's sign restored (an underflow to zero keeps its sign). */
static inline __attribute__((always_inline)) vu round_magic(vu v, const struct qc__f32_plan *p,
                                                            vu *n_ov, vu *n_un)
{
    const vu a = v & 0x7fffffffu;
    vu e = a & 0x7f800000u;
    e = sel((vi)(e < p->emin_bits), (vu){0} + p->emin_bits, e);
    const vf m = (vf)(e + p->magic_add);
    vu r = (vu)(((vf)v + m) - m) & 0x7fffffffu;
    r &= (vu)(r >= p->flush_bits); /* nosub (flush_bits = 0 otherwise) */
    const vi fin = (vi)(a < 0x7f800000u);
    const vi ov = fin & (vi)(r > p->max_bits);
    *n_ov -= (vu)ov;
    *n_un -= (vu)(fin & (vi)(a != 0) & (vi)(r == 0));
    r = sel(ov, (vu){0} + 0x7f800000u, r);
    /* NaN lanes keep some NaN here; outputs are canonicalized at the end. */
    return r | (v & 0x80000000u);
}

/* round_magic for quantization: any overflow result (sat, fn, inf1,
 * finite formats too), and NaN made canonical. Under rne an infinite
 * input takes the same result as an overflow, so one blend serves both. */
static inline __attribute__((always_inline)) vu round_magic_q(vu v, const struct qc__f32_plan *p,
                                                              const bool gap, vu *n_ov, vu *n_un)
{
    const vu a = v & 0x7fffffffu;
    vu e = a & 0x7f800000u;
    e = sel((vi)(e < p->emin_bits), (vu){0} + p->emin_bits, e);
    const vf m = (vf)(e + p->magic_add);
    vu r = (vu)(((vf)v + m) - m) & 0x7fffffffu;
    r &= (vu)(r >= p->flush_bits);
    if (gap) /* daz / subnormal-as-normal: 0 or the smallest magnitude, ties to 0 */
        r = sel((vi)(a < p->gap_bits), (vu)(vi)(a > p->gap_half_bits) & p->gap_bits, r);
    const vi nan = (vi)(a > 0x7f800000u);
    const vi big = (vi)(r > p->max_bits) & ~nan;
    const vi neg = (vi)((v & 0x80000000u) != 0);
    *n_ov -= (vu)(big & (vi)(a < 0x7f800000u));
    *n_un -= (vu)((vi)(a != 0) & (vi)(r == 0));
    vu out = sel(big, sel(neg, (vu){0} + p->ov_neg, (vu){0} + p->ov_pos), r | (v & 0x80000000u));
    return sel(nan, (vu){0} + 0x7fc00000u, out);
}

/* One array pass for one (mode, gap) pair: the compiler sees constants
 * and a private copy of the plan, so nothing is reloaded or branched on in
 * the loop. `magic` takes the cheaper rne rounding where the plan allows. */
static inline __attribute__((always_inline)) void
quantize_t(float *out, const float *in, int64_t n, const struct qc__f32_plan *pp, const int magic,
           const enum qc_round_mode mode, const bool gap, struct qc_round_stats *st)
{
    const struct qc__f32_plan p = *pp;
    /* Lane counters are 32-bit: flush them every 2^24 vectors. */
    const int64_t span = (int64_t)VL << 24;

    for (int64_t base = 0; base < n; base += span) {
        const int64_t end = base + span < n ? base + span : n;
        vu n_ov = {0}, n_un = {0};
        int64_t i = base;
        for (; i <= end - VL; i += VL) {
            vu u = loadu(in + i), r;
            if (magic) {
                r = round_magic_q(u, &p, gap, &n_ov, &n_un);
            } else {
                r = round_lanes_t(u, &p, mode, gap, &n_ov, &n_un);
            }
            storeu(out + i, r);
        }
        if (i < end) {
            float tmp[VL] = {0};
            memcpy(tmp, in + i, (size_t)(end - i) * sizeof(float));
            /* Padding lanes hold +0, which rounds to +0 with no events. */
            vu r = round_lanes_t(loadu(tmp), &p, mode, gap, &n_ov, &n_un);
            storeu(tmp, r);
            memcpy(out + i, tmp, (size_t)(end - i) * sizeof(float));
        }
        if (st) {
            st->ops += (uint64_t)(end - base);
            flush_counts(st, n_ov, n_un, (vu){0});
        }
    }
}

#define QUANT(M, G)                                                                                \
    static void quantize_##M##_##G(float *out, const float *in, int64_t n,                         \
                                   const struct qc__f32_plan *p, struct qc_round_stats *st)        \
    {                                                                                              \
        quantize_t(out, in, n, p, 0, M, G, st);                                                    \
    }
QUANT(QC_ROUND_RNE, 0)
QUANT(QC_ROUND_RNA, 0)
QUANT(QC_ROUND_RTZ, 0)
QUANT(QC_ROUND_RUP, 0)
QUANT(QC_ROUND_RDN, 0)
QUANT(QC_ROUND_RNE, 1)
QUANT(QC_ROUND_RNA, 1)
QUANT(QC_ROUND_RTZ, 1)
QUANT(QC_ROUND_RUP, 1)
QUANT(QC_ROUND_RDN, 1)

static void quantize_magic(float *out, const float *in, int64_t n, const struct qc__f32_plan *p,
                           struct qc_round_stats *st)
{
    quantize_t(out, in, n, p, 1, QC_ROUND_RNE, false, st);
}

static void quantize_magic_gap(float *out, const float *in, int64_t n, const struct qc__f32_plan *p,
                               struct qc_round_stats *st)
{
    quantize_t(out, in, n, p, 1, QC_ROUND_RNE, true, st);
}

static void quantize_f32(float *out, const float *in, int64_t n, const struct qc__f32_plan *p,
                         struct qc_round_stats *st)
{
    typedef void (*qfn)(float *, const float *, int64_t, const struct qc__f32_plan *,
                        struct qc_round_stats *);
    static const qfn table[2][5] = {
        {quantize_QC_ROUND_RNE_0, quantize_QC_ROUND_RNA_0, quantize_QC_ROUND_RTZ_0,
         quantize_QC_ROUND_RUP_0, quantize_QC_ROUND_RDN_0},
        {quantize_QC_ROUND_RNE_1, quantize_QC_ROUND_RNA_1, quantize_QC_ROUND_RTZ_1,
         quantize_QC_ROUND_RUP_1, quantize_QC_ROUND_RDN_1},
    };
    if (p->magic_q)
        (p->gap ? quantize_magic_gap : quantize_magic)(out, in, n, p, st);
    else
        table[p->gap][p->mode](out, in, n, p, st);
}

/* x + y rounded to fp32 by round-to-odd: RO(x) = RZ(x) | inexact. With s
 * the nearest sum and err = exact - s (TwoSum, exact), RZ is s one ulp
 * closer to zero when s overshot (err of the other sign). Rounding RO(x+y)
 * to a format of at most 22 significant bits equals rounding the exact sum.
 * Ordered comparisons make a non-finite s (NaN err) pass unchanged. */
static inline __attribute__((always_inline)) vu sum_odd(vf x, vf y)
{
    const vf s = x + y;
    const vf bb = s - x;
    const vf err = (x - (s - bb)) + (y - bb);
    const vu inexact = (vu)((vi)(err < 0.0f) | (vi)(err > 0.0f));
    const vu overshot = (vu)((vi)((vu)err ^ (vu)s) >> 31);
    return ((vu)s + (overshot & inexact)) | (inexact & 1u);
}

enum { ACC_PLAIN, ACC_MAGIC, ACC_GENERIC };
enum { PROD_NONE, PROD_FLUSH, PROD_MAGIC, PROD_GENERIC };

/* acc <- round_acc(acc + y), counting events; swamping per docs/mac.md. */
static inline __attribute__((always_inline)) vf
acc_add(vf acc, vf y, const struct qc__f32_plan *p, const int kind, vu *n_ov, vu *n_un, vu *n_sw)
{
    vu r;
    if (kind == ACC_PLAIN) {
        /* fp32 with rne is IEEE addition itself; a nonzero sum of floats is
         * never below the subnormal quantum, so only overflow can occur. */
        r = (vu)(acc + y);
        *n_ov -= (vu)(is_finite((vu)acc) & is_finite((vu)y) & ~is_finite(r));
    } else if (kind == ACC_MAGIC) {
        r = round_magic(sum_odd(acc, y), p, n_ov, n_un);
    } else {
        const vu so = sum_odd(acc, y);
        r = round_lanes(so, p, n_ov, n_un);
        /* The FPU signs an exact zero sum as rne does; under rdn IEEE 754
         * makes it -0 unless both operands are +0: sign(x) | sign(y). */
        if (p->mode == QC_ROUND_RDN)
            r = sel((vi)((vf)so == 0.0f), ((vu)acc | (vu)y) & 0x80000000u, r);
    }
    const vi swamp = (vi)(acc != 0.0f) & (vi)(y != 0.0f) & is_finite((vu)acc) & is_finite((vu)y) &
                     (vi)((vf)r == acc);
    *n_sw -= (vu)swamp;
    return (vf)r;
}

static inline __attribute__((always_inline)) vf
product(vf a, vf b, const struct qc__gemm_f32_job *J, const int kind, vu *n_ov, vu *n_un)
{
    vf p = a * b;
    if (kind == PROD_MAGIC) {
        p = (vf)round_magic((vu)p, &J->prod, n_ov, n_un);
    } else if (kind == PROD_GENERIC) {
        p = (vf)round_lanes((vu)p, &J->prod, n_ov, n_un);
    } else if (kind == PROD_FLUSH) {
        const vu pb = (vu)p;
        const vu pa = pb & 0x7fffffffu;
        const vi tiny = (vi)(pa != 0) & (vi)((vf)pa < J->flush);
        *n_un -= (vu)tiny;
        p = (vf)sel(tiny, pb & 0x80000000u, pb);
    }
    return p;
}

/* Computes rows [i, i+rows) of C for columns [j, j + CB*VL). */
static inline __attribute__((always_inline)) void block(const struct qc__gemm_f32_job *J, int64_t i,
                                                        const int rows, int64_t j, const int akind,
                                                        const int pkind, vu *n_ov, vu *n_un,
                                                        vu *n_sw)
{
    vf acc[RB][CB], tot[RB][CB];

#pragma GCC unroll 8
    for (int r = 0; r < rows; r++)
#pragma GCC unroll 8
        for (int c = 0; c < CB; c++)
            acc[r][c] = tot[r][c] = (vf){0};
    int64_t left = J->chunk;
    for (int64_t kk = 0; kk < J->k; kk++) {
        vf bv[CB];
#pragma GCC unroll 8
        for (int c = 0; c < CB; c++)
            bv[c] = (vf)loadu(J->b + kk * J->n_pad + j + c * VL);
#pragma GCC unroll 8
        for (int r = 0; r < rows; r++) {
            const vf av = splat(J->a[(i + r) * J->k + kk]);
#pragma GCC unroll 8
            for (int c = 0; c < CB; c++) {
                vf p = product(av, bv[c], J, pkind, n_ov, n_un);
                acc[r][c] = acc_add(acc[r][c], p, &J->acc, akind, n_ov, n_un, n_sw);
            }
        }
        if (--left == 0 || kk == J->k - 1) {
#pragma GCC unroll 8
            for (int r = 0; r < rows; r++)
#pragma GCC unroll 8
                for (int c = 0; c < CB; c++) {
                    tot[r][c] = acc_add(tot[r][c], acc[r][c], &J->acc, akind, n_ov, n_un, n_sw);
                    acc[r][c] = (vf){0};
                }
            left = J->chunk;
        }
    }
    for (int r = 0; r < rows; r++) {
        float *crow = J->c + (i + r) * J->ldc;
        for (int c = 0; c < CB; c++) {
            /* One canonical quiet NaN, whatever payload the adds left. */
            vu t = (vu)tot[r][c];
            t = sel((vi)((t & 0x7fffffffu) > 0x7f800000u), (vu){0} + 0x7fc00000u, t);
            const int64_t j0 = j + c * VL;
            if (j0 + VL <= J->n) {
                storeu(crow + j0, t);
            } else if (j0 < J->n) {
                float tmp[VL];
                storeu(tmp, t);
                memcpy(crow + j0, tmp, (size_t)(J->n - j0) * sizeof(float));
            }
        }
    }
}

/* All rows [i0, i1) for one specialization. Counters are flushed after
 * every block, so the 32-bit lanes never wrap (a block adds at most
 * 3 x RB events per lane and K; K < 2^26 is checked by the caller). With
 * `cnt` 0 nothing reads the counters and the compiler drops their upkeep. */
static inline __attribute__((always_inline)) void
rows_t(const struct qc__gemm_f32_job *J, int64_t i0, int64_t i1, int64_t j0, int64_t j1,
       const int akind, const int pkind, const int cnt, struct qc_round_stats *st)
{
    for (int64_t j = j0; j < j1 && j < J->n; j += CB * VL) {
        for (int64_t i = i0; i < i1; i += RB) {
            vu n_ov = {0}, n_un = {0}, n_sw = {0};
            if (i + RB <= i1)
                block(J, i, RB, j, akind, pkind, &n_ov, &n_un, &n_sw);
            else
                for (int64_t t = i; t < i1; t++)
                    block(J, t, 1, j, akind, pkind, &n_ov, &n_un, &n_sw);
            if (cnt)
                flush_counts(st, n_ov, n_un, n_sw);
        }
    }
}

#define SPECIALIZE(A, P, C)                                                                        \
    static void gemm_##A##_##P##_##C(const struct qc__gemm_f32_job *J, int64_t i0, int64_t i1,     \
                                     int64_t j0, int64_t j1, struct qc_round_stats *st)            \
    {                                                                                              \
        rows_t(J, i0, i1, j0, j1, A, P, C, st);                                                    \
    }
#define SPECIALIZE_P(A, C)                                                                         \
    SPECIALIZE(A, PROD_NONE, C)                                                                    \
    SPECIALIZE(A, PROD_FLUSH, C) SPECIALIZE(A, PROD_MAGIC, C) SPECIALIZE(A, PROD_GENERIC, C)
SPECIALIZE_P(ACC_PLAIN, 0)
SPECIALIZE_P(ACC_MAGIC, 0)
SPECIALIZE_P(ACC_GENERIC, 0)
SPECIALIZE_P(ACC_PLAIN, 1)
SPECIALIZE_P(ACC_MAGIC, 1)
SPECIALIZE_P(ACC_GENERIC, 1)

typedef void (*gemm_fn)(const struct qc__gemm_f32_job *, int64_t, int64_t, int64_t, int64_t,
                        struct qc_round_stats *);
#define ROW(A, C)                                                                                  \
    {                                                                                              \
        gemm_##A##_PROD_NONE_##C, gemm_##A##_PROD_FLUSH_##C, gemm_##A##_PROD_MAGIC_##C,            \
            gemm_##A##_PROD_GENERIC_##C                                                            \
    }
static const gemm_fn gemm_table[2][3][4] = {
    {ROW(ACC_PLAIN, 0), ROW(ACC_MAGIC, 0), ROW(ACC_GENERIC, 0)},
    {ROW(ACC_PLAIN, 1), ROW(ACC_MAGIC, 1), ROW(ACC_GENERIC, 1)},
};

/* The product step's specialization for a job. */
static int prod_kind(const struct qc__gemm_f32_job *J)
{
    switch (J->prod_step) {
    case 1:
        return J->prod.magic ? PROD_MAGIC : PROD_GENERIC;
    case 2:
        return PROD_FLUSH;
    default:
        return PROD_NONE;
    }
}

static void gemm_f32(const struct qc__gemm_f32_job *J, int64_t i0, int64_t i1, int64_t j0,
                     int64_t j1, struct qc_round_stats *st)
{
    const int akind = J->acc.plain_fp32 ? ACC_PLAIN : J->acc.magic ? ACC_MAGIC : ACC_GENERIC;
    const int pkind = prod_kind(J);
    gemm_table[st != NULL][akind][pkind](J, i0, i1, j0, j1, st);
}

/* ---- The wide kernel: fp64 lanes for inputs whose products need more
 * than fp32's 24 bits (fp32, bf16 x bf16, ...) into an fp32 accumulator.
 * Products of two fp32 values are exact in fp64; each sum is rounded to
 * odd in fp64 (53 bits) and then to nearest in fp32, which equals the one
 * correct rounding of the exact sum. */

#define VLD (VBYTES / 8)

typedef double vd __attribute__((vector_size(VBYTES)));
typedef int64_t vl __attribute__((vector_size(VBYTES)));
typedef uint64_t vul __attribute__((vector_size(VBYTES)));
typedef float vfh __attribute__((vector_size(VBYTES / 2)));

static inline vd load_f32_as_f64(const float *p)
{
    vfh h;
    memcpy(&h, p, sizeof h);
    return __builtin_convertvector(h, vd);
}

static inline vd splat_d(float x)
{
    vd v;
    for (int l = 0; l < VLD; l++)
        v[l] = x;
    return v;
}

static inline vd to_f32(vd x)
{
    return __builtin_convertvector(__builtin_convertvector(x, vfh), vd);
}

static inline vl finite_d(vd x)
{
    return (vl)(((vul)x & 0x7ff0000000000000u) != 0x7ff0000000000000u);
}

static inline __attribute__((always_inline)) vd sum_odd_d(vd x, vd y)
{
    const vd s = x + y;
    const vd bb = s - x;
    const vd err = (x - (s - bb)) + (y - bb);
    const vul inexact = (vul)((vl)(err < 0.0) | (vl)(err > 0.0));
    const vul overshot = (vul)((vl)((vul)err ^ (vul)s) >> 63);
    return (vd)(((vul)s + (overshot & inexact)) | (inexact & 1u));
}

/* Lane counters are 64-bit here; they are flushed per block like the
 * fp32 kernel's. */
static inline __attribute__((always_inline)) vd acc_add_d(vd acc, vd y, vul *n_ov, vul *n_un,
                                                          vul *n_sw)
{
    const vd s = sum_odd_d(acc, y);
    const vd r = to_f32(s);
    const vl fin_in = finite_d(acc) & finite_d(y);
    *n_ov -= (vul)(fin_in & ~finite_d(r));
    *n_un -= (vul)((vl)(r == 0.0) & (vl)(s != 0.0));
    *n_sw -= (vul)((vl)(acc != 0.0) & (vl)(y != 0.0) & fin_in & (vl)(r == acc));
    return r;
}

static inline __attribute__((always_inline)) vd
product_d(vd a, vd b, const struct qc__gemm_f32_job *J, const int kind, vul *n_ov, vul *n_un)
{
    vd p = a * b;
    if (kind == PROD_GENERIC) { /* rounded to fp32 (rne), nosub for CFG-2 */
        const vd r = to_f32(p);
        const vd a_r = (vd)((vul)r & 0x7fffffffffffffffu);
        const vl flush = (vl)(a_r < J->wide_flush) & (vl)(a_r != 0.0);
        const vd q = (vd)(((vul)r & ~(vul)flush) | ((vul)p & 0x8000000000000000u & (vul)flush));
        *n_ov -= (vul)(finite_d(p) & ~finite_d(r));
        *n_un -= (vul)((vl)(q == 0.0) & (vl)(p != 0.0));
        p = q;
    } else if (kind == PROD_FLUSH) {
        const vd pa = (vd)((vul)p & 0x7fffffffffffffffu);
        const vl tiny = (vl)(pa != 0.0) & (vl)(pa < J->wide_flush);
        *n_un -= (vul)tiny;
        p = (vd)(((vul)p & ~(vul)tiny) | ((vul)p & 0x8000000000000000u & (vul)tiny));
    }
    return p;
}

static inline __attribute__((always_inline)) void block_d(const struct qc__gemm_f32_job *J,
                                                          int64_t i, const int rows, int64_t j,
                                                          const int pkind, vul *n_ov, vul *n_un,
                                                          vul *n_sw)
{
    vd acc[RB], tot[RB];

#pragma GCC unroll 8
    for (int r = 0; r < rows; r++)
        acc[r] = tot[r] = (vd){0};
    int64_t left = J->chunk;
    for (int64_t kk = 0; kk < J->k; kk++) {
        const vd bv = load_f32_as_f64(J->b + kk * J->n_pad + j);
#pragma GCC unroll 8
        for (int r = 0; r < rows; r++) {
            const vd av = splat_d(J->a[(i + r) * J->k + kk]);
            acc[r] = acc_add_d(acc[r], product_d(av, bv, J, pkind, n_ov, n_un), n_ov, n_un, n_sw);
        }
        if (--left == 0 || kk == J->k - 1) {
#pragma GCC unroll 8
            for (int r = 0; r < rows; r++) {
                tot[r] = acc_add_d(tot[r], acc[r], n_ov, n_un, n_sw);
                acc[r] = (vd){0};
            }
            left = J->chunk;
        }
    }
    for (int r = 0; r < rows; r++) {
        float out[VLD];
        for (int l = 0; l < VLD; l++) {
            const float v = (float)tot[r][l]; /* exact: an fp32 value */
            out[l] = v != v ? __builtin_nanf("") : v;
        }
        const int64_t n = J->n - j < VLD ? J->n - j : VLD;
        if (n > 0)
            memcpy(J->c + (i + r) * J->ldc + j, out, (size_t)n * sizeof(float));
    }
}

static inline __attribute__((always_inline)) void rows_d(const struct qc__gemm_f32_job *J,
                                                         int64_t i0, int64_t i1, int64_t j0,
                                                         int64_t j1, const int pkind, const int cnt,
                                                         struct qc_round_stats *st)
{
    for (int64_t j = j0; j < j1 && j < J->n; j += VLD) {
        for (int64_t i = i0; i < i1; i += RB) {
            vul n_ov = {0}, n_un = {0}, n_sw = {0};
            if (i + RB <= i1)
                block_d(J, i, RB, j, pkind, &n_ov, &n_un, &n_sw);
            else
                for (int64_t t = i; t < i1; t++)
                    block_d(J, t, 1, j, pkind, &n_ov, &n_un, &n_sw);
            if (cnt)
                for (int l = 0; l < VLD; l++) {
                    st->overflow += n_ov[l];
                    st->underflow += n_un[l];
                    st->swamping += n_sw[l];
                }
        }
    }
}

#define SPECIALIZE_D(P, C)                                                                         \
    static void gemm_d_##P##_##C(const struct qc__gemm_f32_job *J, int64_t i0, int64_t i1,         \
                                 int64_t j0, int64_t j1, struct qc_round_stats *st)                \
    {                                                                                              \
        rows_d(J, i0, i1, j0, j1, P, C, st);                                                       \
    }
SPECIALIZE_D(PROD_NONE, 0)
SPECIALIZE_D(PROD_FLUSH, 0)
SPECIALIZE_D(PROD_GENERIC, 0)
SPECIALIZE_D(PROD_NONE, 1)
SPECIALIZE_D(PROD_FLUSH, 1)
SPECIALIZE_D(PROD_GENERIC, 1)

static void gemm_wide(const struct qc__gemm_f32_job *J, int64_t i0, int64_t i1, int64_t j0,
                      int64_t j1, struct qc_round_stats *st)
{
    static const gemm_fn table[2][3] = {
        {gemm_d_PROD_NONE_0, gemm_d_PROD_FLUSH_0, gemm_d_PROD_GENERIC_0},
        {gemm_d_PROD_NONE_1, gemm_d_PROD_FLUSH_1, gemm_d_PROD_GENERIC_1},
    };
    const int pkind = J->prod_step == 1 ? 2 : J->prod_step == 2 ? 1 : 0;
    table[st != NULL][pkind](J, i0, i1, j0, j1, st);
}

/* ---- Fixed-point accumulators: each exact fp32 product is scaled onto
 * the Q grid (x 2^N, exact), rounded once to an integer (rne by the magic
 * constant 1.5 x 2^23, rtz by truncation), saturated, and added in int32
 * with saturation. The plan bounds the format to 22 bits so every step is
 * exact in these lanes. */

static inline __attribute__((always_inline)) vi to_grid(vf p, const struct qc__gemm_f32_job *J,
                                                        const int rne, vi *nan, vu *n_ov, vu *n_un)
{
    const vi isnan_ = (vi)(p != p);
    const vi fin = is_finite((vu)p);
    vf v = p * J->fx_scale;
    /* Beyond the clamp everything saturates: keep the rounding exact. */
    v = (vf)sel((vi)(v > J->fx_clamp), (vu)((vf){0} + J->fx_clamp), (vu)v);
    v = (vf)sel((vi)(v < -J->fx_clamp), (vu)((vf){0} - J->fx_clamp), (vu)v);
    v = (vf)sel(isnan_, (vu){0}, (vu)v);
    if (rne) {
        const vf magic = (vf){0} + 12582912.0f; /* 1.5 x 2^23: ulp 1 */
        v = (v + magic) - magic;
    }
    vi q = __builtin_convertvector(v, vi); /* truncates: rtz, exact after rne */
    const vi hi = (vi){0} + J->fx_hi, lo = (vi){0} + J->fx_lo;
    const vi over = (vi)(q > hi) | (vi)(q < lo);
    *n_ov -= (vu)(over & fin);
    q = (vi)sel((vi)(q > hi), (vu)hi, (vu)q);
    q = (vi)sel((vi)(q < lo), (vu)lo, (vu)q);
    *n_un -= (vu)((vi)(p != 0.0f) & fin & (vi)(q == 0));
    *nan |= isnan_;
    return q;
}

static inline __attribute__((always_inline)) vi sat_add(vi x, vi y,
                                                        const struct qc__gemm_f32_job *J, vu *n_ov)
{
    const vi s = x + y; /* |x|, |y| < 2^22: no int32 overflow */
    const vi hi = (vi){0} + J->fx_hi, lo = (vi){0} + J->fx_lo;
    const vi over = (vi)(s > hi) | (vi)(s < lo);
    *n_ov -= (vu)over;
    vi r = (vi)sel((vi)(s > hi), (vu)hi, (vu)s);
    return (vi)sel((vi)(s < lo), (vu)lo, (vu)r);
}

static inline __attribute__((always_inline)) void block_fx(const struct qc__gemm_f32_job *J,
                                                           int64_t i, const int rows, int64_t j,
                                                           const int rne, const int pkind, vu *n_ov,
                                                           vu *n_un)
{
    vi acc[RB], tot[RB], nan[RB];

#pragma GCC unroll 8
    for (int r = 0; r < rows; r++)
        acc[r] = tot[r] = nan[r] = (vi){0};
    int64_t left = J->chunk;
    for (int64_t kk = 0; kk < J->k; kk++) {
        const vf bv = (vf)loadu(J->b + kk * J->n_pad + j);
#pragma GCC unroll 8
        for (int r = 0; r < rows; r++) {
            const vf av = splat(J->a[(i + r) * J->k + kk]);
            const vf p = product(av, bv, J, pkind, n_ov, n_un);
            acc[r] = sat_add(acc[r], to_grid(p, J, rne, &nan[r], n_ov, n_un), J, n_ov);
        }
        if (--left == 0 || kk == J->k - 1) {
#pragma GCC unroll 8
            for (int r = 0; r < rows; r++) {
                tot[r] = sat_add(tot[r], acc[r], J, n_ov);
                acc[r] = (vi){0};
            }
            left = J->chunk;
        }
    }
    for (int r = 0; r < rows; r++) {
        vf v = __builtin_convertvector(tot[r], vf) * J->fx_inv; /* exact: 22 bits */
        vu t = sel(nan[r], (vu){0} + 0x7fc00000u, (vu)v);
        float out[VL];
        storeu(out, t);
        const int64_t n = J->n - j < VL ? J->n - j : VL;
        if (n > 0)
            memcpy(J->c + (i + r) * J->ldc + j, out, (size_t)n * sizeof(float));
    }
}

static inline __attribute__((always_inline)) void
rows_fx(const struct qc__gemm_f32_job *J, int64_t i0, int64_t i1, int64_t j0, int64_t j1,
        const int rne, const int pkind, const int cnt, struct qc_round_stats *st)
{
    for (int64_t j = j0; j < j1 && j < J->n; j += VL) {
        for (int64_t i = i0; i < i1; i += RB) {
            vu n_ov = {0}, n_un = {0};
            if (i + RB <= i1)
                block_fx(J, i, RB, j, rne, pkind, &n_ov, &n_un);
            else
                for (int64_t t = i; t < i1; t++)
                    block_fx(J, t, 1, j, rne, pkind, &n_ov, &n_un);
            if (cnt)
                flush_counts(st, n_ov, n_un, (vu){0});
        }
    }
}

#define SPECIALIZE_FX(R, P, C)                                                                     \
    static void gemm_fx_##R##_##P##_##C(const struct qc__gemm_f32_job *J, int64_t i0, int64_t i1,  \
                                        int64_t j0, int64_t j1, struct qc_round_stats *st)         \
    {                                                                                              \
        rows_fx(J, i0, i1, j0, j1, R, P, C, st);                                                   \
    }
#define SPECIALIZE_FX_P(R, C)                                                                      \
    SPECIALIZE_FX(R, PROD_NONE, C)                                                                 \
    SPECIALIZE_FX(R, PROD_FLUSH, C)                                                                \
    SPECIALIZE_FX(R, PROD_MAGIC, C) SPECIALIZE_FX(R, PROD_GENERIC, C)
SPECIALIZE_FX_P(0, 0)
SPECIALIZE_FX_P(1, 0)
SPECIALIZE_FX_P(0, 1)
SPECIALIZE_FX_P(1, 1)

#define ROW_FX(R, C)                                                                               \
    {                                                                                              \
        gemm_fx_##R##_PROD_NONE_##C, gemm_fx_##R##_PROD_FLUSH_##C, gemm_fx_##R##_PROD_MAGIC_##C,   \
            gemm_fx_##R##_PROD_GENERIC_##C                                                         \
    }

static void gemm_fixed(const struct qc__gemm_f32_job *J, int64_t i0, int64_t i1, int64_t j0,
                       int64_t j1, struct qc_round_stats *st)
{
    static const gemm_fn table[2][2][4] = {{ROW_FX(0, 0), ROW_FX(1, 0)},
                                           {ROW_FX(0, 1), ROW_FX(1, 1)}};
    const int pkind = prod_kind(J);
    table[st != NULL][J->fx_rne][pkind](J, i0, i1, j0, j1, st);
}

const struct qc__kern CAT(qc__kern_, QC_SIMD_ISA) = {
    .isa = STR(QC_SIMD_ISA),
    .nb = CB * VL,
    .quantize_f32 = quantize_f32,
    .gemm_f32 = gemm_f32,
    .gemm_wide = gemm_wide,
    .gemm_fixed = gemm_fixed,
};
