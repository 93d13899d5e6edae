/* The SIMD kernels: fp32 quantization by bit-pattern rounding, and the
 * emulated GEMM over fp32 lanes. One source, compiled once per instruction
 * set (QC_SIMD_ISA = generic | avx2 | avx512) with GCC vector extensions, so
 * every variant executes the same operations lane by lane and produces the
 * same bits; only the vector width differs. */
#include <stdint.h>
#include <string.h>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

#include "base/rng_hd.h"
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
#define CB 2          /* vectors per row of a GEMM tile */
#define MR QC_KERN_MR /* rows of a GEMM tile */
#define NR (CB * VL)  /* columns of a GEMM tile: one packed B panel */

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
    case QC_ROUND_RNE: {
        /* The parity of the kept significand. With all 23 stored bits
         * dropped (a value in [q, 2q) for the quantum q) that is the
         * implicit bit, not the exponent field's lowest bit. */
        const vu sig = (a & 0x7fffffu) | ((vu)(ex != 0) & 0x800000u);
        inc = (half - 1u + ((sig >> (vu)s) & 1u)) & (vu)(s > 0);
        break;
    }
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

/* ---- Philox4x32-10 in lanes (base/rng_hd.h): the very bits of the
 * scalar generator, one block per 64-bit lane. Each 32-bit word lives in
 * the low half of a 64-bit lane; the high halves carry junk that the
 * multiplies ignore and the users drop. */

typedef uint64_t vq __attribute__((vector_size(VBYTES)));
#define VQ (VBYTES / 8)

/* The 64-bit products of the lanes' low 32-bit halves. */
static inline vq mul_lo32(vq a, vq b)
{
#if ISA_ID == ISA_avx512
    return (vq)_mm512_mul_epu32((__m512i)a, (__m512i)b);
#elif ISA_ID == ISA_avx2
    return (vq)_mm256_mul_epu32((__m256i)a, (__m256i)b);
#elif defined(__SSE2__)
    return (vq)_mm_mul_epu32((__m128i)a, (__m128i)b);
#else
    return (a & 0xffffffffu) * (b & 0xffffffffu);
#endif
}

/* qc__philox4(seed, block[l], stream) for every lane l: the four words,
 * each in the low half of w[0..3]'s lanes. */
static inline __attribute__((always_inline)) void philox4(uint64_t seed, uint64_t stream, vq block,
                                                          vq w[4])
{
    vq c0 = block, c1 = block >> 32;
    vq c2 = (vq){0} + (stream & 0xffffffffu), c3 = (vq){0} + (stream >> 32);
    const vq m0 = (vq){0} + 0xD2511F53u, m1 = (vq){0} + 0xCD9E8D57u;

#pragma GCC unroll 10
    for (uint32_t round = 0; round < 10; round++) {
        const uint32_t k0 = (uint32_t)seed + round * 0x9E3779B9u;
        const uint32_t k1 = (uint32_t)(seed >> 32) + round * 0xBB67AE85u;
        const vq p0 = mul_lo32(c0, m0), p1 = mul_lo32(c2, m1);
        const vq n0 = (p1 >> 32) ^ c1 ^ k0, n2 = (p0 >> 32) ^ c3 ^ k1;
        c1 = p1;
        c3 = p0;
        c0 = n0;
        c2 = n2;
    }
    w[0] = c0;
    w[1] = c1;
    w[2] = c2;
    w[3] = c3;
}

/* The 32-bit draws of 2*VL consecutive indices from `first`, a multiple
 * of 4 (qc__sr_draw): the VQ = VL/2 blocks from first/4 give four words
 * each, index first + 4l + w being word w of block l. lo gets indices
 * first .. first+VL-1, hi the next VL. */
static inline __attribute__((always_inline)) void random32x2(uint64_t seed, uint64_t stream,
                                                             uint64_t first, vu *lo, vu *hi)
{
    vq block = (vq){0} + (first >> 2), w[4];
    for (int l = 0; l < VQ; l++)
        block[l] += (uint64_t)l;
    philox4(seed, stream, block, w);
#if VL == 4
#define PAIRS    0, 4, 2, 6
#define QUADS_LO 0, 1, 4, 5
#define QUADS_HI 2, 3, 6, 7
#elif VL == 8
#define PAIRS    0, 8, 2, 10, 4, 12, 6, 14
#define QUADS_LO 0, 1, 8, 9, 2, 3, 10, 11
#define QUADS_HI 4, 5, 12, 13, 6, 7, 14, 15
#else
#define PAIRS    0, 16, 2, 18, 4, 20, 6, 22, 8, 24, 10, 26, 12, 28, 14, 30
#define QUADS_LO 0, 1, 16, 17, 2, 3, 18, 19, 4, 5, 20, 21, 6, 7, 22, 23
#define QUADS_HI 8, 9, 24, 25, 10, 11, 26, 27, 12, 13, 28, 29, 14, 15, 30, 31
#endif
    /* Words 0,1 (and 2,3) of each block side by side: block l's at 2l... */
    const vu w01 = __builtin_shufflevector((vu)w[0], (vu)w[1], PAIRS);
    const vu w23 = __builtin_shufflevector((vu)w[2], (vu)w[3], PAIRS);
    /* ... then block l's four words in a row: the first VL/4 blocks to lo. */
    *lo = __builtin_shufflevector(w01, w23, QUADS_LO);
    *hi = __builtin_shufflevector(w01, w23, QUADS_HI);
#undef PAIRS
#undef QUADS_LO
#undef QUADS_HI
}

/* The 32-bit draws of VL consecutive indices from any `first`, lane by
 * lane: for the few vectors that do not start a block. */
static inline vu random32_any(uint64_t seed, uint64_t stream, uint64_t first)
{
    vu r;
    for (int l = 0; l < VL; l++)
        r[l] = (uint32_t)qc__sr_draw(seed, stream, first + (uint64_t)l, 32);
    return r;
}

/* Stochastic rounding of fp32 patterns `u` to the plan's format (no gaps,
 * R <= 32), given R random bits per lane in `rnd`: rounds away from zero
 * iff f + rnd >= 2^R, where f is the R bits of the exact value just below
 * the kept last bit (base/round.c, round_mag). Left-aligned in 32 bits,
 * that carry is an unsigned overflow. */
static inline __attribute__((always_inline)) vu round_sr(vu u, vu rnd, const struct qc__f32_plan *p,
                                                         vu *n_ov, vu *n_un)
{
    const vu sign = u & 0x80000000u;
    const vu a = u & 0x7fffffffu;
    const vi neg = (vi)(sign != 0);
    const vi nan = (vi)(a > 0x7f800000u);
    const vi inf = (vi)(a == 0x7f800000u);
    const vu ex = a >> 23;
    const vi exx = (vi)ex - (vi)(ex == 0); /* subnormals share binade 1's spacing */
    vi d = p->emin_b - exx;
    d &= (vi)(d > 0);
    const vi s = p->base_shift + d; /* bits dropped below the kept last bit */
    const vu sig = (a & 0x7fffffu) | ((vu)(vi)(ex != 0) & 0x800000u);

    /* The dropped bits, left-aligned: sig << (32 - s), or sig >> (s - 32). */
    const vi lc = (32 - s) & (vi)(s >= 1) & (vi)(s <= 31); /* every count in 0..31 */
    const vi rc = (vi)sel(s > 63, (vu){0} + 31u, (vu)((s - 32) & (vi)(s >= 32)));
    vu t = sel(s >= 32, sig >> (vu)rc, sig << (vu)lc);
    t = sel(s == 0, (vu){0}, t);
    const uint32_t keep_mask = p->sr_bits >= 32 ? 0xffffffffu : ~((1u << (32 - p->sr_bits)) - 1);
    t &= keep_mask;
    const vu rs = p->sr_bits >= 32 ? rnd : rnd << (32 - p->sr_bits);
    const vi away = (vi)((t + rs) < t);

    /* Truncate, then one quantum more when away. */
    const vi big = (vi)(s > 23);
    const vu sc = (vu)(s & 31);
    const vu one = (vu){0} + 1u;
    const vu quantum = one << sc;
    vu r = (a & ~(quantum - 1u)) + ((vu)away & quantum);
    r = sel(big, (vu)away & p->min_sub_bits, r);

    const vi fin = ~(nan | inf);
    const vi ov = fin & (vi)(r > p->max_bits);
    r &= (vu)(r >= p->flush_bits); /* nosub */
    const vi un = fin & (vi)(a != 0) & (vi)(r == 0);
    *n_ov -= (vu)ov;
    *n_un -= (vu)un;
    vu out = r | sign;
    const vu ov_pos = sel(away, (vu){0} + p->ov_away_pos, (vu){0} + p->ov_keep_pos);
    const vu ov_neg = sel(away, (vu){0} + p->ov_away_neg, (vu){0} + p->ov_keep_neg);
    out = sel(ov, sel(neg, ov_neg, ov_pos), out);
    out = sel(inf, sel(neg, (vu){0} + p->inf_neg, (vu){0} + p->inf_pos), out);
    out = sel(nan, (vu){0} + 0x7fc00000u, out);
    return out;
}

/* Rounds m <= VL elements whose indices start anywhere at `first`, with
 * lane-by-lane draws; padding lanes hold +0, which rounds to +0 with no
 * events. Returns m. */
static int64_t sr_partial(float *out, const float *in, int64_t m, uint64_t first,
                          const struct qc__f32_plan *p, vu *n_ov, vu *n_un)
{
    float tmp[VL] = {0};
    memcpy(tmp, in, (size_t)m * sizeof(float));
    const vu rnd = random32_any(p->seed, p->stream, first);
    storeu(tmp, round_sr(loadu(tmp), rnd, p, n_ov, n_un));
    memcpy(out, tmp, (size_t)m * sizeof(float));
    return m;
}

static void quantize_sr(float *out, const float *in, int64_t n, uint64_t first,
                        const struct qc__f32_plan *pp, struct qc_round_stats *st)
{
    const struct qc__f32_plan p = *pp;
    const int64_t span = (int64_t)VL << 24; /* 32-bit lane counters */

    for (int64_t base = 0; base < n; base += span) {
        const int64_t end = base + span < n ? base + span : n;
        vu n_ov = {0}, n_un = {0};
        int64_t i = base;
        /* The elements before the first index that starts a Philox block,
         * then one block per four elements, 2*VL at a time, then the rest. */
        const int64_t head = (int64_t)((4 - ((first + (uint64_t)i) & 3)) & 3);
        if (head)
            i += sr_partial(out + i, in + i, end - i < head ? end - i : head, first + (uint64_t)i,
                            &p, &n_ov, &n_un);
        for (; i <= end - 2 * VL; i += 2 * VL) {
            vu lo, hi;
            random32x2(p.seed, p.stream, first + (uint64_t)i, &lo, &hi);
            storeu(out + i, round_sr(loadu(in + i), lo, &p, &n_ov, &n_un));
            storeu(out + i + VL, round_sr(loadu(in + i + VL), hi, &p, &n_ov, &n_un));
        }
        while (i < end)
            i += sr_partial(out + i, in + i, end - i < VL ? end - i : VL, first + (uint64_t)i, &p,
                            &n_ov, &n_un);
        if (st) {
            st->ops += (uint64_t)(end - base);
            for (int l = 0; l < VL; l++) {
                st->overflow += n_ov[l];
                st->underflow += n_un[l];
            }
        }
    }
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

enum { ACC_PLAIN = QC_KACC_PLAIN, ACC_MAGIC = QC_KACC_MAGIC, ACC_GENERIC = QC_KACC_GENERIC };
/* the fast regime's truncating accumulator (job->acc_rtz) */
enum { ACC_RTZ = 8 };
enum {
    PROD_NONE = QC_KPROD_NONE,
    PROD_FLUSH = QC_KPROD_FLUSH,
    PROD_MAGIC = QC_KPROD_MAGIC,
    PROD_GENERIC = QC_KPROD_GENERIC,
    PROD_F32 = QC_KPROD_F32,
    /* the fast regime's magic product whose rounding may underflow
     * (job->prod_uf) */
    PROD_MAGIC_UF = 16,
    PROD_FLUSH_UF = 17, /* the same for an exact product's flush */
};

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

static inline __attribute__((always_inline)) vf product(vf a, vf b, const struct qc__gemm_job *J,
                                                        const int kind, vu *n_ov, vu *n_un)
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
    } else if (kind == PROD_F32) {
        /* fp32 readings, fp32 products: the multiply is the product's one
         * rounding (rne, with subnormals). */
        *n_ov -= (vu)(is_finite((vu)a) & is_finite((vu)b) & ~is_finite((vu)p));
        *n_un -= (vu)((vi)(a != 0.0f) & (vi)(b != 0.0f) & (vi)(p == 0.0f));
    }
    return p;
}

/* The magic-constant rounding of the fast regime, where s is finite, its
 * rounding can neither overflow nor underflow, and s is never -0 (rne
 * accumulators start at +0, and +0 + -0 is +0): no checks, and the sign
 * rides through (v + M) - M, which rounds |v| symmetrically. */
static inline __attribute__((always_inline)) vf magic_fast(vf s, const struct qc__f32_plan *p)
{
    vu e = (vu)s & 0x7f800000u;
    e = sel((vi)e < (vi){0} + (int32_t)p->emin_bits, (vu){0} + p->emin_bits, e);
    const vf m = (vf)(e + p->magic_add);
    return (s + m) - m;
}

/* Truncation onto the plan's grid in the fast regime, where s is finite
 * and zero or at least the grid's quantum (sums of values on its lattice):
 * the bits below the quantum at s's binade (or at emin below it) go; the
 * sign stays. Truncating the round-to-odd sum equals truncating the exact
 * one for grids of at most 22 bits. */
static inline __attribute__((always_inline)) vf trunc_fast(vu s, const struct qc__f32_plan *p)
{
    const vi ex = (vi)((s & 0x7fffffffu) >> 23);
    vi d = p->emin_b - ex;
    d &= (vi)(d > 0);
    vi sh = p->base_shift + d;
    sh = (vi)sel((vi)(sh > 31), (vu){0} + 31u, (vu)sh); /* zero: every magnitude bit goes */
    return (vf)(s & ~((((vu){0} + 1u) << (vu)sh) - 1u));
}

/* acc + p rounded in the fast regime. `plain_add`: both lie on the
 * accumulator's grid of at most 10 bits, so the fp32 sum rounds to the same
 * value as the exact one (docs/operations.md); else round to odd first. */
static inline __attribute__((always_inline)) vf
step_fast(vf acc, vf p, const struct qc__f32_plan *pl, const int akind, const int plain_add)
{
    if (akind == ACC_PLAIN)
        return acc + p;
    if (akind == ACC_RTZ)
        return trunc_fast(sum_odd(acc, p), pl);
    return magic_fast(plain_add ? acc + p : (vf)sum_odd(acc, p), pl);
}

static inline __attribute__((always_inline)) vf
product_fast(vf a, vf b, const struct qc__gemm_job *J, const int pkind)
{
    const vf p = a * b;
    if (pkind == PROD_MAGIC_UF) {
        /* magic_fast rounds onto the subnormal grid too (its exponent is
         * clamped at emin); nosub then flushes what lands below the
         * smallest normal. A zero loses its sign, which no rne sum of the
         * fast regime can see (+0 + -0 is +0, and acc is never -0). */
        const vu r = (vu)magic_fast(p, &J->prod);
        return (vf)(r & (vu)((vi)(r & 0x7fffffffu) >= (vi){0} + (int32_t)J->prod.flush_bits));
    }
    if (pkind == PROD_FLUSH_UF) /* the zero's sign is as invisible as above */
        return (vf)((vu)p & (vu)((vf)((vu)p & 0x7fffffffu) >= J->flush));
    return pkind == PROD_MAGIC ? magic_fast(p, &J->prod) : p;
}

/* Stores lanes [0, cols) of row vectors v[0..CB) at dst. */
static inline __attribute__((always_inline)) void store_row(float *dst, const vu *v, int cols)
{
    for (int c = 0; c < CB; c++) {
        const int j0 = c * VL;
        if (j0 + VL <= cols) {
            storeu(dst + j0, v[c]);
        } else if (j0 < cols) {
            float tmp[VL];
            storeu(tmp, v[c]);
            memcpy(dst + j0, tmp, (size_t)(cols - j0) * sizeof(float));
        }
    }
}

/* One tile over K range [k0, k1) (kern_impl.h, qc__tile_fn). The loop runs
 * chunk by chunk, so the chunk-total add needs no test per product. */
static inline __attribute__((always_inline)) void
tile_t(const struct qc__gemm_job *J, const float *ap, const float *bp, int64_t k0, int64_t k1,
       void *state, float *c, int rows, int cols, const int akind, const int pkind, const int fast,
       const int plain_add, const int cnt, vu *counts)
{
    vf acc[MR][CB], tot[MR][CB];
    vu n_ov = counts[0], n_un = counts[1], n_sw = counts[2];
    const int64_t chunk = J->chunk;

    if (k0 == 0) {
#pragma GCC unroll 8
        for (int r = 0; r < MR; r++)
#pragma GCC unroll 8
            for (int q = 0; q < CB; q++)
                acc[r][q] = tot[r][q] = (vf){0};
    } else {
        memcpy(acc, state, sizeof acc);
        memcpy(tot, (char *)state + sizeof acc, sizeof tot);
    }
    const float *a = ap + k0 * MR, *b = bp;
    int64_t kk = k0;
    while (kk < k1) {
        const int64_t cend = (kk / chunk + 1) * chunk;
        const int64_t end = cend < k1 ? cend : k1;
        for (; kk < end; kk++, a += MR, b += NR) {
            vf bv[CB];
#pragma GCC unroll 8
            for (int q = 0; q < CB; q++)
                bv[q] = (vf)loadu(b + q * VL);
#pragma GCC unroll 8
            for (int r = 0; r < MR; r++) {
                const vf av = splat(a[r]);
#pragma GCC unroll 8
                for (int q = 0; q < CB; q++) {
                    if (fast) {
                        const vf p = product_fast(av, bv[q], J, pkind);
                        const vf s = step_fast(acc[r][q], p, &J->acc, akind, plain_add);
                        if (cnt && (pkind == PROD_MAGIC_UF || pkind == PROD_FLUSH_UF)) {
                            /* a nonzero exact product rounded to zero; a
                             * zero addend is never a swamp */
                            n_un -= (vu)((vi)(av * bv[q] != 0.0f) & (vi)(p == 0.0f));
                            n_sw -= (vu)((vi)(s == acc[r][q]) & (vi)(p != 0.0f));
                        } else if (cnt) {
                            /* raw r == acc: the driver takes the zero products off */
                            n_sw -= (vu)(s == acc[r][q]);
                        }
                        acc[r][q] = s;
                    } else {
                        const vf p = product(av, bv[q], J, pkind, &n_ov, &n_un);
                        acc[r][q] = acc_add(acc[r][q], p, &J->acc, akind, &n_ov, &n_un, &n_sw);
                    }
                }
            }
        }
        if (kk == cend || kk == J->k) {
#pragma GCC unroll 8
            for (int r = 0; r < MR; r++)
#pragma GCC unroll 8
                for (int q = 0; q < CB; q++) {
                    if (fast) {
                        const vf t = step_fast(tot[r][q], acc[r][q], &J->acc, akind, plain_add);
                        /* tot == 0 cannot pass: t would be acc, nonzero */
                        if (cnt)
                            n_sw -= (vu)((vi)(t == tot[r][q]) & (vi)(acc[r][q] != 0.0f));
                        tot[r][q] = t;
                    } else {
                        tot[r][q] =
                            acc_add(tot[r][q], acc[r][q], &J->acc, akind, &n_ov, &n_un, &n_sw);
                    }
                    acc[r][q] = (vf){0};
                }
        }
    }
    if (k1 == J->k) {
        for (int r = 0; r < rows; r++) {
            vu t[CB];
            for (int q = 0; q < CB; q++) {
                t[q] = (vu)tot[r][q];
                /* One canonical quiet NaN, whatever payload the adds left. */
                if (!fast)
                    t[q] =
                        sel((vi)((t[q] & 0x7fffffffu) > 0x7f800000u), (vu){0} + 0x7fc00000u, t[q]);
            }
            store_row(c + r * J->ldc, t, cols);
        }
    } else {
        memcpy(state, acc, sizeof acc);
        memcpy((char *)state + sizeof acc, tot, sizeof tot);
    }
    counts[0] = n_ov;
    counts[1] = n_un;
    counts[2] = n_sw;
}

/* A run of panels: the tile body once per panel, counters flushed once. */
#define TILE_FN(NAME, A, P, F, PA, C)                                                              \
    static void NAME(const struct qc__gemm_job *J, const float *ap, const float *bp,               \
                     int64_t bstride, int np, int64_t k0, int64_t k1, void *state, float *c,       \
                     int rows, int64_t cols, int64_t i0, int64_t j0, struct qc_round_stats *st)    \
    {                                                                                              \
        vu counts[3] = {{0}, {0}, {0}};                                                            \
        (void)i0, (void)j0;                                                                        \
        for (int t = 0; t < np; t++) {                                                             \
            const int64_t left = cols - (int64_t)t * NR;                                           \
            tile_t(J, ap, bp + t * bstride, k0, k1, (char *)state + t * QC_KERN_TILE_STATE,        \
                   c + t * NR, rows, left < NR ? (int)left : NR, A, P, F, PA, C, counts);          \
        }                                                                                          \
        if (C)                                                                                     \
            flush_counts(st, counts[0], counts[1], counts[2]);                                     \
    }

/* The general kernels: every accumulator kind and product step, with and
 * without counters. */
#define GEN(A, P, C) TILE_FN(gen_##A##_##P##_##C, A, P, 0, 0, C)
#define GEN_P(A, C)                                                                                \
    GEN(A, PROD_NONE, C)                                                                           \
    GEN(A, PROD_FLUSH, C)                                                                          \
    GEN(A, PROD_MAGIC, C) GEN(A, PROD_GENERIC, C) GEN(A, PROD_F32, C)
GEN_P(ACC_PLAIN, 0)
GEN_P(ACC_MAGIC, 0)
GEN_P(ACC_GENERIC, 0)
GEN_P(ACC_PLAIN, 1)
GEN_P(ACC_MAGIC, 1)
GEN_P(ACC_GENERIC, 1)

#define GEN_ROW(A, C)                                                                              \
    {                                                                                              \
        gen_##A##_PROD_NONE_##C, gen_##A##_PROD_FLUSH_##C, gen_##A##_PROD_MAGIC_##C,               \
            gen_##A##_PROD_GENERIC_##C, gen_##A##_PROD_F32_##C                                     \
    }
static const qc__tile_fn gen_table[2][3][5] = {
    {GEN_ROW(ACC_PLAIN, 0), GEN_ROW(ACC_MAGIC, 0), GEN_ROW(ACC_GENERIC, 0)},
    {GEN_ROW(ACC_PLAIN, 1), GEN_ROW(ACC_MAGIC, 1), GEN_ROW(ACC_GENERIC, 1)},
};

/* The fast regime: fp32 or magic accumulators (round to odd, or the plain
 * add), products exact, rounded by the magic constant, or by the fp32
 * multiply. */
enum { FA_PLAIN, FA_ODD, FA_ADD, FA_RTZ };
#define FAST(FA, A, PA, P, C) TILE_FN(fast_##FA##_##P##_##C, A, P, 1, PA, C)
#define FAST_P(FA, A, PA, C)                                                                       \
    FAST(FA, A, PA, PROD_NONE, C)                                                                  \
    FAST(FA, A, PA, PROD_MAGIC, C)                                                                 \
    FAST(FA, A, PA, PROD_F32, C)                                                                   \
    FAST(FA, A, PA, PROD_MAGIC_UF, C) FAST(FA, A, PA, PROD_FLUSH_UF, C)
FAST_P(FA_PLAIN, ACC_PLAIN, 0, 0)
FAST_P(FA_ODD, ACC_MAGIC, 0, 0)
FAST_P(FA_ADD, ACC_MAGIC, 1, 0)
FAST_P(FA_RTZ, ACC_RTZ, 0, 0)
FAST_P(FA_PLAIN, ACC_PLAIN, 0, 1)
FAST_P(FA_ODD, ACC_MAGIC, 0, 1)
FAST_P(FA_ADD, ACC_MAGIC, 1, 1)
FAST_P(FA_RTZ, ACC_RTZ, 0, 1)

#define FAST_ROW(FA, C)                                                                            \
    {                                                                                              \
        fast_##FA##_PROD_NONE_##C, fast_##FA##_PROD_MAGIC_##C, fast_##FA##_PROD_F32_##C,           \
            fast_##FA##_PROD_MAGIC_UF_##C, fast_##FA##_PROD_FLUSH_UF_##C                           \
    }
static const qc__tile_fn fast_table[2][4][5] = {
    {FAST_ROW(FA_PLAIN, 0), FAST_ROW(FA_ODD, 0), FAST_ROW(FA_ADD, 0), FAST_ROW(FA_RTZ, 0)},
    {FAST_ROW(FA_PLAIN, 1), FAST_ROW(FA_ODD, 1), FAST_ROW(FA_ADD, 1), FAST_ROW(FA_RTZ, 1)},
};

static void gemm_f32(const struct qc__gemm_job *J, const float *ap, const float *bp,
                     int64_t bstride, int np, int64_t k0, int64_t k1, void *state, float *c,
                     int rows, int64_t cols, int64_t i0, int64_t j0, struct qc_round_stats *st)
{
    qc__tile_fn fn;
    if (J->fast) {
        const int fa = J->acc_rtz                 ? FA_RTZ
                       : J->acc_kind == ACC_PLAIN ? FA_PLAIN
                       : J->plain_add             ? FA_ADD
                                                  : FA_ODD;
        const int fp = J->prod_kind == PROD_MAGIC   ? (J->prod_uf ? 3 : 1)
                       : J->prod_kind == PROD_F32   ? 2
                       : J->prod_kind == PROD_FLUSH ? 4 /* always prod_uf */
                                                    : 0;
        fn = fast_table[st != NULL][fa][fp];
    } else {
        fn = gen_table[st != NULL][J->acc_kind][J->prod_kind];
    }
    fn(J, ap, bp, bstride, np, k0, k1, state, c, rows, cols, i0, j0, st);
}

/* ---- The wide kernel: fp64 lanes for inputs whose products need more
 * than fp32's 24 bits (fp32, bf16 x bf16, ...) into an fp32 accumulator.
 * Products of two fp32 values are exact in fp64; each sum is rounded to
 * odd in fp64 (53 bits) and then to nearest in fp32, which equals the one
 * correct rounding of the exact sum. A tile's NR columns run as two halves
 * of HD fp64 vectors. */

#define VLD (VBYTES / 8)
#define HD  (CB * VL / 2 / VLD) /* fp64 vectors per half panel: 2 */

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

/* Lane counters are 64-bit here; they are flushed per call like the fp32
 * kernel's. */
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

static inline __attribute__((always_inline)) vd product_d(vd a, vd b, const struct qc__gemm_job *J,
                                                          const int kind, vul *n_ov, vul *n_un)
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

static inline __attribute__((always_inline)) void
tile_d(const struct qc__gemm_job *J, const float *ap, const float *bp, int64_t k0, int64_t k1,
       void *state, float *c, int rows, int cols, const int pkind, vul *counts)
{
    vul n_ov = counts[0], n_un = counts[1], n_sw = counts[2];
    const int64_t chunk = J->chunk;

    for (int half = 0; half < 2; half++) {
        vd acc[MR][HD], tot[MR][HD];
        char *sv = (char *)state + (size_t)half * 2 * sizeof acc;
        if (k0 == 0) {
#pragma GCC unroll 8
            for (int r = 0; r < MR; r++)
#pragma GCC unroll 8
                for (int q = 0; q < HD; q++)
                    acc[r][q] = tot[r][q] = (vd){0};
        } else {
            memcpy(acc, sv, sizeof acc);
            memcpy(tot, sv + sizeof acc, sizeof tot);
        }
        const float *a = ap + k0 * MR, *b = bp + half * HD * VLD;
        int64_t kk = k0;
        while (kk < k1) {
            const int64_t cend = (kk / chunk + 1) * chunk;
            const int64_t end = cend < k1 ? cend : k1;
            for (; kk < end; kk++, a += MR, b += NR) {
                vd bv[HD];
#pragma GCC unroll 8
                for (int q = 0; q < HD; q++)
                    bv[q] = load_f32_as_f64(b + q * VLD);
#pragma GCC unroll 8
                for (int r = 0; r < MR; r++) {
                    const vd av = splat_d(a[r]);
#pragma GCC unroll 8
                    for (int q = 0; q < HD; q++)
                        acc[r][q] =
                            acc_add_d(acc[r][q], product_d(av, bv[q], J, pkind, &n_ov, &n_un),
                                      &n_ov, &n_un, &n_sw);
                }
            }
            if (kk == cend || kk == J->k) {
#pragma GCC unroll 8
                for (int r = 0; r < MR; r++)
#pragma GCC unroll 8
                    for (int q = 0; q < HD; q++) {
                        tot[r][q] = acc_add_d(tot[r][q], acc[r][q], &n_ov, &n_un, &n_sw);
                        acc[r][q] = (vd){0};
                    }
            }
        }
        if (k1 == J->k) {
            for (int r = 0; r < rows; r++) {
                float out[HD * VLD];
                for (int q = 0; q < HD; q++)
                    for (int l = 0; l < VLD; l++) {
                        const float v = (float)tot[r][q][l]; /* exact: an fp32 value */
                        out[q * VLD + l] = v != v ? __builtin_nanf("") : v;
                    }
                const int j0 = half * HD * VLD;
                const int n = cols - j0 < HD * VLD ? cols - j0 : HD * VLD;
                if (n > 0)
                    memcpy(c + r * J->ldc + j0, out, (size_t)n * sizeof(float));
            }
        } else {
            memcpy(sv, acc, sizeof acc);
            memcpy(sv + sizeof acc, tot, sizeof tot);
        }
    }
    counts[0] = n_ov;
    counts[1] = n_un;
    counts[2] = n_sw;
}

#define WIDE_FN(P, C)                                                                              \
    static void wide_##P##_##C(const struct qc__gemm_job *J, const float *ap, const float *bp,     \
                               int64_t bstride, int np, int64_t k0, int64_t k1, void *state,       \
                               float *c, int rows, int64_t cols, int64_t i0, int64_t j0,           \
                               struct qc_round_stats *st)                                          \
    {                                                                                              \
        vul counts[3] = {{0}, {0}, {0}};                                                           \
        (void)i0, (void)j0;                                                                        \
        for (int t = 0; t < np; t++) {                                                             \
            const int64_t left = cols - (int64_t)t * NR;                                           \
            tile_d(J, ap, bp + t * bstride, k0, k1, (char *)state + t * QC_KERN_TILE_STATE,        \
                   c + t * NR, rows, left < NR ? (int)left : NR, P, counts);                       \
        }                                                                                          \
        if (C)                                                                                     \
            for (int l = 0; l < VLD; l++) {                                                        \
                st->overflow += counts[0][l];                                                      \
                st->underflow += counts[1][l];                                                     \
                st->swamping += counts[2][l];                                                      \
            }                                                                                      \
    }
WIDE_FN(PROD_NONE, 0)
WIDE_FN(PROD_FLUSH, 0)
WIDE_FN(PROD_GENERIC, 0)
WIDE_FN(PROD_NONE, 1)
WIDE_FN(PROD_FLUSH, 1)
WIDE_FN(PROD_GENERIC, 1)

static void gemm_wide(const struct qc__gemm_job *J, const float *ap, const float *bp,
                      int64_t bstride, int np, int64_t k0, int64_t k1, void *state, float *c,
                      int rows, int64_t cols, int64_t i0, int64_t j0, struct qc_round_stats *st)
{
    static const qc__tile_fn table[2][3] = {
        {wide_PROD_NONE_0, wide_PROD_FLUSH_0, wide_PROD_GENERIC_0},
        {wide_PROD_NONE_1, wide_PROD_FLUSH_1, wide_PROD_GENERIC_1},
    };
    const int pk = J->prod_kind == PROD_GENERIC ? 2 : J->prod_kind == PROD_FLUSH ? 1 : 0;
    table[st != NULL][pk](J, ap, bp, bstride, np, k0, k1, state, c, rows, cols, i0, j0, st);
}

/* ---- Stochastic accumulator rounding in fp64 lanes: each sum rounded to
 * odd in fp64, then to the format with the output's draw for that step
 * (docs/mac.md: index (i*n + j)*S + step, S = K + chunks rounded up to a
 * multiple of 4). */

static inline vul sel64(vl mask, vul x, vul y)
{
    return ((vul)mask & x) | (~(vul)mask & y);
}

/* round_sr in 64-bit lanes: R <= 32 random bits per lane in `rnd`. */
static inline __attribute__((always_inline)) vd round_sr_d(vd x, vq rnd, const struct qc__sr64 *P,
                                                           vul *n_ov, vul *n_un)
{
    const vul u = (vul)x;
    const vul sign = u & 0x8000000000000000u;
    const vul a = u & 0x7fffffffffffffffu;
    const vl neg = (vl)(sign != 0);
    const vl nan = (vl)(a > 0x7ff0000000000000u);
    const vl inf = (vl)(a == 0x7ff0000000000000u);
    const vl ex = (vl)(a >> 52);
    vl d = P->emin_b - ex;
    d &= (vl)(d > 0);
    const vl s = (52 - P->mbits) + d; /* bits dropped, at least 29 */
    const vul sig = (a & 0x000fffffffffffffu) | 0x0010000000000000u;
    /* The dropped bits, left-aligned in 64: every shift count in 0..63. */
    const vl lc = (64 - s) & (vl)(s <= 63);
    const vl rc = (vl)sel64((vl)(s > 127), (vul){0} + 63u, (vul)((s - 64) & (vl)(s >= 64)));
    vul t = sel64((vl)(s >= 64), sig >> (vul)rc, sig << (vul)lc);
    t &= ~((UINT64_C(1) << (64 - P->sr_bits)) - 1);
    const vul rs = (vul)rnd << (64 - P->sr_bits);
    const vl away = (vl)((t + rs) < t);
    const vul quantum = ((vul){0} + 1u) << (vul)(s & 63);
    vul r = (a & ~(quantum - 1u)) + ((vul)away & quantum);
    r = sel64((vl)(s > 52), (vul)away & P->min_sub_bits, r);
    r = sel64((vl)(a == 0), (vul){0}, r);
    const vl fin = ~(nan | inf);
    const vl ov = fin & (vl)(r > P->max_bits);
    r &= (vul)(vl)(r >= P->flush_bits); /* nosub */
    *n_ov -= (vul)ov;
    *n_un -= (vul)(fin & (vl)(a != 0) & (vl)(r == 0));
    vul out = r | sign;
    const vul ovp = sel64(away, (vul){0} + P->ov_away_pos, (vul){0} + P->ov_keep_pos);
    const vul ovn = sel64(away, (vul){0} + P->ov_away_neg, (vul){0} + P->ov_keep_neg);
    out = sel64(ov, sel64(neg, ovn, ovp), out);
    out = sel64(inf, sel64(neg, (vul){0} + P->inf_neg, (vul){0} + P->inf_pos), out);
    return (vd)out;
}

static inline __attribute__((always_inline)) vd
sr_add(vd acc, vd y, vq rnd, const struct qc__sr64 *P, vul *n_ov, vul *n_un, vul *n_sw)
{
    const vd s = sum_odd_d(acc, y);
    const vd r = round_sr_d(s, rnd, P, n_ov, n_un);
    *n_sw -=
        (vul)((vl)(acc != 0.0) & (vl)(y != 0.0) & finite_d(acc) & finite_d(y) & (vl)(r == acc));
    return r;
}

/* The Philox words of draw step `step` for every lane of a tile: each
 * output's draws start a block (the stride is a multiple of 4), so step s
 * is word s mod 4 of block blk + s/4 in every lane, and a block serves
 * four steps. w holds the blocks of step block *cur. */
static inline __attribute__((always_inline)) void
sr_words(const struct qc__sr64 *P, vq blk[MR][HD], vq w[MR][HD][4], uint64_t step, uint64_t *cur)
{
    if (step >> 2 == *cur)
        return;
    *cur = step >> 2;
    for (int r = 0; r < MR; r++)
        for (int q = 0; q < HD; q++)
            philox4(P->seed, P->stream, blk[r][q] + *cur, w[r][q]);
}

static inline __attribute__((always_inline)) void tile_sr(const struct qc__gemm_job *J,
                                                          const float *ap, const float *bp,
                                                          int64_t k0, int64_t k1, void *state,
                                                          float *c, int rows, int cols, int64_t i0,
                                                          int64_t j0, const int pkind, vul *counts)
{
    const struct qc__sr64 *P = &J->sr;
    vul n_ov = counts[0], n_un = counts[1], n_sw = counts[2];
    const int64_t chunk = J->chunk;

    for (int half = 0; half < 2; half++) {
        vd acc[MR][HD], tot[MR][HD];
        vq blk[MR][HD];  /* each lane's first Philox block: its first draw index / 4 */
        vq w[MR][HD][4]; /* the words of the step block `cur` */
        uint64_t cur = UINT64_MAX;
        char *sv = (char *)state + (size_t)half * 2 * sizeof acc;
        for (int r = 0; r < MR; r++)
            for (int q = 0; q < HD; q++) {
                const int64_t j = j0 + half * HD * VLD + q * VLD;
                blk[r][q] = (vq){0} + (uint64_t)(((i0 + r) * J->n + j) * (P->stride / 4));
                for (int l = 0; l < VLD; l++)
                    blk[r][q][l] += (uint64_t)(l * (P->stride / 4));
            }
        if (k0 == 0) {
            for (int r = 0; r < MR; r++)
                for (int q = 0; q < HD; q++)
                    acc[r][q] = tot[r][q] = (vd){0};
        } else {
            memcpy(acc, sv, sizeof acc);
            memcpy(tot, sv + sizeof acc, sizeof tot);
        }
        const float *a = ap + k0 * MR, *b = bp + half * HD * VLD;
        int64_t kk = k0;
        while (kk < k1) {
            const int64_t ci = kk / chunk, cend = (ci + 1) * chunk;
            const int64_t end = cend < k1 ? cend : k1;
            for (; kk < end; kk++, a += MR, b += NR) {
                vd bv[HD];
                for (int q = 0; q < HD; q++)
                    bv[q] = load_f32_as_f64(b + q * VLD);
                const uint64_t step = (uint64_t)(kk + ci);
                sr_words(P, blk, w, step, &cur);
                for (int r = 0; r < MR; r++) {
                    const vd av = splat_d(a[r]);
                    for (int q = 0; q < HD; q++)
                        acc[r][q] = sr_add(acc[r][q], product_d(av, bv[q], J, pkind, &n_ov, &n_un),
                                           w[r][q][step & 3], P, &n_ov, &n_un, &n_sw);
                }
            }
            if (kk == cend || kk == J->k) {
                const uint64_t step = (uint64_t)(kk + ci);
                sr_words(P, blk, w, step, &cur);
                for (int r = 0; r < MR; r++)
                    for (int q = 0; q < HD; q++) {
                        tot[r][q] =
                            sr_add(tot[r][q], acc[r][q], w[r][q][step & 3], P, &n_ov, &n_un, &n_sw);
                        acc[r][q] = (vd){0};
                    }
            }
        }
        if (k1 == J->k) {
            for (int r = 0; r < rows; r++) {
                float out[HD * VLD];
                for (int q = 0; q < HD; q++)
                    for (int l = 0; l < VLD; l++) {
                        const float v = (float)tot[r][q][l]; /* exact: a value of the format */
                        out[q * VLD + l] = v != v ? __builtin_nanf("") : v;
                    }
                const int jj = half * HD * VLD;
                const int n = cols - jj < HD * VLD ? cols - jj : HD * VLD;
                if (n > 0)
                    memcpy(c + r * J->ldc + jj, out, (size_t)n * sizeof(float));
            }
        } else {
            memcpy(sv, acc, sizeof acc);
            memcpy(sv + sizeof acc, tot, sizeof tot);
        }
    }
    counts[0] = n_ov;
    counts[1] = n_un;
    counts[2] = n_sw;
}

#define SR_FN(P, C)                                                                                \
    static void sr_##P##_##C(const struct qc__gemm_job *J, const float *ap, const float *bp,       \
                             int64_t bstride, int np, int64_t k0, int64_t k1, void *state,         \
                             float *c, int rows, int64_t cols, int64_t i0, int64_t j0,             \
                             struct qc_round_stats *st)                                            \
    {                                                                                              \
        vul counts[3] = {{0}, {0}, {0}};                                                           \
        for (int t = 0; t < np; t++) {                                                             \
            const int64_t left = cols - (int64_t)t * NR;                                           \
            tile_sr(J, ap, bp + t * bstride, k0, k1, (char *)state + t * QC_KERN_TILE_STATE,       \
                    c + t * NR, rows, left < NR ? (int)left : NR, i0, j0 + t * NR, P, counts);     \
        }                                                                                          \
        if (C)                                                                                     \
            for (int l = 0; l < VLD; l++) {                                                        \
                st->overflow += counts[0][l];                                                      \
                st->underflow += counts[1][l];                                                     \
                st->swamping += counts[2][l];                                                      \
            }                                                                                      \
    }
SR_FN(PROD_NONE, 0)
SR_FN(PROD_FLUSH, 0)
SR_FN(PROD_GENERIC, 0)
SR_FN(PROD_NONE, 1)
SR_FN(PROD_FLUSH, 1)
SR_FN(PROD_GENERIC, 1)

static void gemm_sr(const struct qc__gemm_job *J, const float *ap, const float *bp, int64_t bstride,
                    int np, int64_t k0, int64_t k1, void *state, float *c, int rows, int64_t cols,
                    int64_t i0, int64_t j0, struct qc_round_stats *st)
{
    static const qc__tile_fn table[2][3] = {
        {sr_PROD_NONE_0, sr_PROD_FLUSH_0, sr_PROD_GENERIC_0},
        {sr_PROD_NONE_1, sr_PROD_FLUSH_1, sr_PROD_GENERIC_1},
    };
    const int pk = J->prod_kind == PROD_GENERIC ? 2 : J->prod_kind == PROD_FLUSH ? 1 : 0;
    table[st != NULL][pk](J, ap, bp, bstride, np, k0, k1, state, c, rows, cols, i0, j0, st);
}

/* ---- Fixed-point accumulators: each exact fp32 product is scaled onto
 * the Q grid (x 2^N, exact), rounded once to an integer (rne by the magic
 * constant 1.5 x 2^23, rtz by truncation), saturated, and added in int32
 * with saturation. The plan bounds the format to 22 bits so every step is
 * exact in these lanes. In the fast regime (no sum can reach the range's
 * ends, every value finite) the clamps, saturation and NaN tracking go. */

static inline __attribute__((always_inline)) vi to_grid(vf p, const struct qc__gemm_job *J,
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

static inline __attribute__((always_inline)) vi to_grid_fast(vf p, const struct qc__gemm_job *J,
                                                             const int rne)
{
    vf v = p * J->fx_scale;
    if (rne) {
        const vf magic = (vf){0} + 12582912.0f;
        v = (v + magic) - magic;
    }
    return __builtin_convertvector(v, vi);
}

static inline __attribute__((always_inline)) vi sat_add(vi x, vi y, const struct qc__gemm_job *J,
                                                        vu *n_ov)
{
    const vi s = x + y; /* |x|, |y| < 2^22: no int32 overflow */
    const vi hi = (vi){0} + J->fx_hi, lo = (vi){0} + J->fx_lo;
    const vi over = (vi)(s > hi) | (vi)(s < lo);
    *n_ov -= (vu)over;
    vi r = (vi)sel((vi)(s > hi), (vu)hi, (vu)s);
    return (vi)sel((vi)(s < lo), (vu)lo, (vu)r);
}

static inline __attribute__((always_inline)) void
tile_fx(const struct qc__gemm_job *J, const float *ap, const float *bp, int64_t k0, int64_t k1,
        void *state, float *c, int rows, int cols, const int rne, const int pkind, const int fast,
        const int cnt, vu *counts)
{
    vi acc[MR][CB], tot[MR][CB], nan[MR][CB];
    vu n_ov = counts[0], n_un = counts[1];
    const int64_t chunk = J->chunk;
    /* fast: the running sums' extremes; unsigned adds, since a sum that
     * escaped may go on to wrap before the driver discards it */
    vi top = (vi){0} + J->fx_lo, bottom = (vi){0} + J->fx_hi;

    if (k0 == 0) {
#pragma GCC unroll 8
        for (int r = 0; r < MR; r++)
#pragma GCC unroll 8
            for (int q = 0; q < CB; q++)
                acc[r][q] = tot[r][q] = nan[r][q] = (vi){0};
    } else {
        memcpy(acc, state, sizeof acc);
        memcpy(tot, (char *)state + sizeof acc, sizeof tot);
        memcpy(nan, (char *)state + 2 * sizeof acc, sizeof nan);
    }
    const float *a = ap + k0 * MR, *b = bp;
    int64_t kk = k0;
    while (kk < k1) {
        const int64_t cend = (kk / chunk + 1) * chunk;
        const int64_t end = cend < k1 ? cend : k1;
        for (; kk < end; kk++, a += MR, b += NR) {
            vf bv[CB];
#pragma GCC unroll 8
            for (int q = 0; q < CB; q++)
                bv[q] = (vf)loadu(b + q * VL);
#pragma GCC unroll 8
            for (int r = 0; r < MR; r++) {
                const vf av = splat(a[r]);
#pragma GCC unroll 8
                for (int q = 0; q < CB; q++) {
                    if (fast) {
                        const vi g = to_grid_fast(product_fast(av, bv[q], J, pkind), J, rne);
                        if (cnt) /* raw q == 0: the driver takes the zero products off */
                            n_un -= (vu)(g == 0);
                        acc[r][q] = (vi)((vu)acc[r][q] + (vu)g);
                        top = (vi)sel(acc[r][q] > top, (vu)acc[r][q], (vu)top);
                        bottom = (vi)sel(acc[r][q] < bottom, (vu)acc[r][q], (vu)bottom);
                    } else {
                        const vf p = product(av, bv[q], J, pkind, &n_ov, &n_un);
                        acc[r][q] = sat_add(acc[r][q], to_grid(p, J, rne, &nan[r][q], &n_ov, &n_un),
                                            J, &n_ov);
                    }
                }
            }
        }
        if (kk == cend || kk == J->k) {
#pragma GCC unroll 8
            for (int r = 0; r < MR; r++)
#pragma GCC unroll 8
                for (int q = 0; q < CB; q++) {
                    if (fast) {
                        tot[r][q] = (vi)((vu)tot[r][q] + (vu)acc[r][q]);
                        top = (vi)sel(tot[r][q] > top, (vu)tot[r][q], (vu)top);
                        bottom = (vi)sel(tot[r][q] < bottom, (vu)tot[r][q], (vu)bottom);
                    } else {
                        tot[r][q] = sat_add(tot[r][q], acc[r][q], J, &n_ov);
                    }
                    acc[r][q] = (vi){0};
                }
        }
    }
    if (fast) {
        vi out = (vi)(top > (vi){0} + J->fx_hi) | (vi)(bottom < (vi){0} + J->fx_lo);
        int any = 0;
        for (int l = 0; l < VL; l++)
            any |= out[l];
        if (any)
            __atomic_store_n(J->escaped, 1, __ATOMIC_RELAXED);
    }
    if (k1 == J->k) {
        for (int r = 0; r < rows; r++) {
            vu t[CB];
            for (int q = 0; q < CB; q++) {
                const vf v =
                    __builtin_convertvector(tot[r][q], vf) * J->fx_inv; /* exact: 22 bits */
                t[q] = sel(nan[r][q], (vu){0} + 0x7fc00000u, (vu)v);
            }
            store_row(c + r * J->ldc, t, cols);
        }
    } else {
        memcpy(state, acc, sizeof acc);
        memcpy((char *)state + sizeof acc, tot, sizeof tot);
        memcpy((char *)state + 2 * sizeof acc, nan, sizeof nan);
    }
    counts[0] = n_ov;
    counts[1] = n_un;
}

#define FX_FN(R, P, F, C)                                                                          \
    static void fx_##R##_##P##_##F##_##C(                                                          \
        const struct qc__gemm_job *J, const float *ap, const float *bp, int64_t bstride, int np,   \
        int64_t k0, int64_t k1, void *state, float *c, int rows, int64_t cols, int64_t i0,         \
        int64_t j0, struct qc_round_stats *st)                                                     \
    {                                                                                              \
        vu counts[2] = {{0}, {0}};                                                                 \
        (void)i0, (void)j0;                                                                        \
        for (int t = 0; t < np; t++) {                                                             \
            const int64_t left = cols - (int64_t)t * NR;                                           \
            tile_fx(J, ap, bp + t * bstride, k0, k1, (char *)state + t * QC_KERN_TILE_STATE,       \
                    c + t * NR, rows, left < NR ? (int)left : NR, R, P, F, C, counts);             \
        }                                                                                          \
        if (C)                                                                                     \
            flush_counts(st, counts[0], counts[1], (vu){0});                                       \
    }
#define FX_GEN_P(R, C)                                                                             \
    FX_FN(R, PROD_NONE, 0, C)                                                                      \
    FX_FN(R, PROD_FLUSH, 0, C) FX_FN(R, PROD_MAGIC, 0, C) FX_FN(R, PROD_GENERIC, 0, C)
#define FX_FAST_P(R, C) FX_FN(R, PROD_NONE, 1, C) FX_FN(R, PROD_MAGIC, 1, C)
FX_GEN_P(0, 0)
FX_GEN_P(1, 0)
FX_GEN_P(0, 1)
FX_GEN_P(1, 1)
FX_FAST_P(0, 0)
FX_FAST_P(1, 0)
FX_FAST_P(0, 1)
FX_FAST_P(1, 1)

#define FX_GEN_ROW(R, C)                                                                           \
    {                                                                                              \
        fx_##R##_PROD_NONE_0_##C, fx_##R##_PROD_FLUSH_0_##C, fx_##R##_PROD_MAGIC_0_##C,            \
            fx_##R##_PROD_GENERIC_0_##C                                                            \
    }

static void gemm_fixed(const struct qc__gemm_job *J, const float *ap, const float *bp,
                       int64_t bstride, int np, int64_t k0, int64_t k1, void *state, float *c,
                       int rows, int64_t cols, int64_t i0, int64_t j0, struct qc_round_stats *st)
{
    static const qc__tile_fn gen[2][2][4] = {{FX_GEN_ROW(0, 0), FX_GEN_ROW(1, 0)},
                                             {FX_GEN_ROW(0, 1), FX_GEN_ROW(1, 1)}};
    static const qc__tile_fn fast[2][2][2] = {
        {{fx_0_PROD_NONE_1_0, fx_0_PROD_MAGIC_1_0}, {fx_1_PROD_NONE_1_0, fx_1_PROD_MAGIC_1_0}},
        {{fx_0_PROD_NONE_1_1, fx_0_PROD_MAGIC_1_1}, {fx_1_PROD_NONE_1_1, fx_1_PROD_MAGIC_1_1}},
    };
    const qc__tile_fn fn = J->fast ? fast[st != NULL][J->fx_rne][J->prod_kind == PROD_MAGIC]
                                   : gen[st != NULL][J->fx_rne][J->prod_kind];
    fn(J, ap, bp, bstride, np, k0, k1, state, c, rows, cols, i0, j0, st);
}

/* ---- Packing statistics ------------------------------------------------- */

static void pack_stats(struct qc__pack_stats *s, const float *x, int64_t rows, int64_t width,
                       const int32_t *weight)
{
    const int64_t n = rows * width;
    vu amax = {0}, amin = (vu){0} + 0x7fffffffu, nz = {0}, bad = {0};
    int64_t i = 0;

    if (weight) {
        /* Panel rows (`width` a multiple of VL): zeros and zero pairs only.
         * Lanes are 32-bit: flushed every 16 rows (weights < 2^27). */
        for (int64_t r0 = 0; r0 < rows; r0 += 16) {
            const int64_t r1 = r0 + 16 < rows ? r0 + 16 : rows;
            vu zs = {0}, ps = {0};
            for (int64_t r = r0; r < r1; r++) {
                const vu wv = (vu){0} + (uint32_t)weight[r];
                for (int64_t j = 0; j < width; j += VL, i += VL) {
                    const vu z = (vu)(vi)((loadu(x + i) & 0x7fffffffu) == 0);
                    zs -= z;
                    ps += z & wv;
                }
            }
            for (int l = 0; l < VL; l++) {
                s->zeros += zs[l];
                s->zero_pairs += ps[l];
            }
        }
        return;
    } else {
        for (; i + VL <= n; i += VL) {
            const vu a = loadu(x + i) & 0x7fffffffu;
            const vi zero = (vi)(a == 0);
            nz -= (vu)zero;
            amax = sel((vi)a > (vi)amax, a, amax);
            amin = sel(((vi)a < (vi)amin) & ~zero, a, amin);
            bad |= (vu)(vi)(a >= 0x7f800000u);
        }
    }
    uint32_t mx = 0, mn = 0x7fffffffu;
    bool fin = s->finite;
    for (int l = 0; l < VL; l++) {
        s->zeros += nz[l];
        mx = amax[l] > mx ? amax[l] : mx;
        mn = amin[l] < mn ? amin[l] : mn;
        fin = fin && !bad[l];
    }
    for (; i < n; i++) {
        uint32_t a;
        memcpy(&a, x + i, sizeof a);
        a &= 0x7fffffffu;
        s->zeros += a == 0;
        mx = a > mx ? a : mx;
        mn = a != 0 && a < mn ? a : mn;
        fin = fin && a < 0x7f800000u;
    }
    float fmx, fmn;
    memcpy(&fmx, &mx, sizeof fmx);
    memcpy(&fmn, &mn, sizeof fmn);
    s->finite = fin;
    if (!(s->amax >= fmx)) /* NaN patterns compare above inf as integers */
        s->amax = fmx;
    if (fmn < s->amin)
        s->amin = fmn;
}

const struct qc__kern CAT(qc__kern_, QC_SIMD_ISA) = {
    .isa = STR(QC_SIMD_ISA),
    .nr = NR,
    .quantize_f32 = quantize_f32,
    .quantize_sr = quantize_sr,
    .pack_stats = pack_stats,
    .gemm_f32 = gemm_f32,
    .gemm_wide = gemm_wide,
    .gemm_fixed = gemm_fixed,
    .gemm_sr = gemm_sr,
};
