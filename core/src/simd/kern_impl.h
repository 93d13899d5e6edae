/* Internal interface of the SIMD kernels (simd/kern_simd.c, compiled once
 * per instruction set) and the plans that drive them. A plan is the format
 * and rounding mode folded into fp32 bit-pattern constants, prepared once per
 * call on the scalar side (num/quantize.c), so the kernels need nothing from
 * the layers above: only the rounding vocabulary of qcore/round.h. */
#ifndef QCORE_SIMD_KERN_IMPL_H
#define QCORE_SIMD_KERN_IMPL_H

#include <stdbool.h>
#include <stdint.h>

#include "qcore/round.h"

/* Rounding of fp32 values to a float format whose values are all fp32
 * values, by integer operations on the bit pattern. Valid for modes rne, rna,
 * rtz, rup, rdn and every float modifier. */
struct qc__f32_plan {
    int32_t base_shift; /* 23 - mbits: bits dropped in a normal binade */
    int32_t emin_b;     /* emin + 127, fp32-biased */
    uint32_t max_bits;  /* pattern of max finite */
    uint32_t min_normal_bits;
    uint32_t min_sub_bits;     /* pattern of the subnormal quantum 2^(emin - mbits) */
    uint32_t ov_pos, ov_neg;   /* results of finite overflow, sign included */
    uint32_t inf_pos, inf_neg; /* results of +-inf inputs */
    bool nosub;
    bool gap;                         /* daz / subnormal-as-normal: (0, gap_bits) has no grid */
    uint32_t gap_bits, gap_half_bits; /* smallest nonzero magnitude and its half */
    bool plain_fp32;                  /* the format is fp32 itself and the mode rne */
    /* The magic-constant rne rounding applies: mode rne, inf kept (has inf,
     * no sat), no gap, at most 22 significant bits, and 1.5 x 2^(emax + 1 +
     * base_shift) below fp32's top. */
    bool magic;
    bool magic_q;        /* the same for quantization, which handles any overflow result */
    uint32_t emin_bits;  /* (emin + 127) << 23 when emin + 127 >= 1, else 0 */
    uint32_t magic_add;  /* (base_shift << 23) + 0x400000: exponent field -> M */
    uint32_t flush_bits; /* nosub: min normal pattern; else 0 */
    enum qc_round_mode mode;
    /* Stochastic rounding (qc__f32_plan_init_sr): R <= 32 random bits per
     * element from Philox keyed (seed, stream, index), and the results of
     * an overflow that rounds away from zero or toward it. */
    int sr_bits;
    uint64_t seed, stream;
    uint32_t ov_away_pos, ov_away_neg, ov_keep_pos, ov_keep_neg;
};

/* Rows of A in one packed panel, and the widest column panel of B (in
 * floats) any variant uses. Every variant packs MR rows; its column panel
 * is `nr` = two vectors. */
#define QC_KERN_MR     4
#define QC_KERN_NR_MAX 32

/* Accumulator kinds and product steps of the fp32-lane kernels. */
enum { QC_KACC_PLAIN, QC_KACC_MAGIC, QC_KACC_GENERIC };
enum { QC_KPROD_NONE, QC_KPROD_FLUSH, QC_KPROD_MAGIC, QC_KPROD_GENERIC, QC_KPROD_F32 };

/* A stochastically rounding float accumulator in fp64 lanes
 * (kern->gemm_sr): its grid and its special results as fp64 bit patterns.
 * Each sum is rounded to odd in fp64, which keeps every bit that the R
 * random bits are compared with (mbits + 1 + R <= 52). */
struct qc__sr64 {
    int mbits, sr_bits;
    int32_t emin_b; /* emin + 1023 */
    uint64_t max_bits, min_sub_bits, flush_bits;
    uint64_t ov_away_pos, ov_away_neg, ov_keep_pos, ov_keep_neg, inf_pos, inf_neg;
    uint64_t seed, stream;
    int64_t stride; /* draw indices per output: K + chunks, rounded up to a multiple of 4 */
};

/* One emulated GEMM over SIMD lanes, on packed operands (gemm_cpu.c packs
 * them, rounded to the multiplier's reading):
 *   A: row panels of MR rows, K-major: panel p at ap + p*k*MR, element
 *      (r, kk) at [kk*MR + r];
 *   B: column panels of nr columns, K-major, element (kk, c) at [kk*nr + c]
 *      of the panel (a thread packs a block of K rows at a time).
 * Padding rows and columns are zero. Products are exact in the lanes; the
 * accumulator rounds once per step (docs/operations.md explains how). */
struct qc__gemm_job {
    int64_t m, n, k, ldc;
    int64_t chunk; /* >= 1 */
    int acc_kind;  /* QC_KACC_*: fp32 lanes */
    int prod_kind; /* QC_KPROD_* */
    float flush;   /* QC_KPROD_FLUSH: products below this magnitude become zero */
    /* The fast regime (gemm_cpu.c proves it per call from the operands'
     * largest magnitudes): every value is finite, no step can overflow or
     * underflow, so the kernel rounds without those checks. `plain_add`:
     * the operands lie on the accumulator's grid, so an fp32 add followed
     * by one rounding is exact (no round-to-odd). `sw_eq`: a product is
     * zero only when a factor is; the kernel then counts r == acc lanes and
     * the driver subtracts the zero products. `prod_uf` (with fast and a
     * magic or flush product, sw_eq off): a product's rounding may
     * underflow (to a subnormal or zero, nosub or CFG-3..6 flushing)
     * though nothing else can; the kernel counts those underflows and
     * skips zero products in swamping itself. `acc_rtz` (with fast): the
     * accumulator rounds toward zero, by truncating the round-to-odd sum. */
    int fast, plain_add, sw_eq, prod_uf, acc_rtz;
    /* The fixed-point fast regime is optimistic: it adds without
     * saturation and sets *escaped when a running sum left the format's
     * range, and the driver then runs the general kernel instead. */
    int *escaped;
    double wide_flush; /* the wide kernel's product flush (fp32 nosub: 2^-126), else 0 */
    /* fixed-point accumulators: codes in [fx_lo, fx_hi] on the grid 2^-N */
    int fx_rne; /* 1: rne, 0: rtz */
    int32_t fx_hi, fx_lo;
    float fx_scale, fx_inv, fx_clamp; /* 2^N, 2^-N, 2^22 */
    struct qc__f32_plan prod, acc;
    struct qc__sr64 sr;
};

/* Bytes of state one tile keeps between blocks of K (acc and chunk total
 * of every lane, in the widest lane type). */
#define QC_KERN_TILE_STATE (2 * QC_KERN_MR * QC_KERN_NR_MAX * 8)

/* One call: row panel `ap` (packed over all of K) against `np` consecutive
 * B panels (`bp`, each `bstride` floats after the last, packed over K range
 * [k0, k1) only), over that range. `state` (np x QC_KERN_TILE_STATE bytes)
 * carries the lanes between calls: read unless k0 == 0, written unless
 * k1 == k, when rows [0, rows) x columns [0, cols) of the run go to C at
 * `c` (row stride job->ldc) instead. Counters go to `st` (NULL: a variant
 * without them); under `sw_eq`, swamping (float) or underflow (fixed) there
 * is the raw count of r == acc or q == 0 lanes. */
typedef void (*qc__tile_fn)(const struct qc__gemm_job *job, const float *ap, const float *bp,
                            int64_t bstride, int np, int64_t k0, int64_t k1, void *state, float *c,
                            int rows, int64_t cols, int64_t i0, int64_t j0,
                            struct qc_round_stats *st);

/* What packing learns about a rounded operand panel. */
struct qc__pack_stats {
    float amax;         /* largest magnitude (inf or NaN: not finite) */
    float amin;         /* smallest nonzero magnitude (+inf: none) */
    bool finite;        /* no inf or NaN */
    int64_t zeros;      /* elements equal to zero */
    int64_t zero_pairs; /* sum over rows of zeros(row) * weight[row] */
};

struct qc__kern {
    const char *isa;
    int nr; /* columns of a B panel: two vectors */
    void (*quantize_f32)(float *out, const float *in, int64_t n, const struct qc__f32_plan *p,
                         struct qc_round_stats *st);
    /* Stochastic rounding: element i draws index first + i. */
    void (*quantize_sr)(float *out, const float *in, int64_t n, uint64_t first,
                        const struct qc__f32_plan *p, struct qc_round_stats *st);
    /* Largest and smallest nonzero magnitude, finiteness and zero count
     * of `rows` x `width` floats; with `weight` (one per row, < 2^27,
     * `width` a multiple of the vector) the zero count and the zero pairs
     * alone. Adds into *s. */
    void (*pack_stats)(struct qc__pack_stats *s, const float *x, int64_t rows, int64_t width,
                       const int32_t *weight);
    qc__tile_fn gemm_f32; /* fp32 lanes, float accumulator (job->acc) */
    /* fp64 lanes, fp32 accumulator only (`acc` unused; `prod_kind`
     * QC_KPROD_GENERIC means rounding to fp32 then flushing below
     * `wide_flush`). */
    qc__tile_fn gemm_wide;
    qc__tile_fn gemm_fixed; /* fp32 lanes, fixed-point accumulator (the fx_* fields) */
    /* fp64 lanes, a float accumulator with stochastic rounding (job->sr;
     * products as gemm_wide's) */
    qc__tile_fn gemm_sr;
};

extern const struct qc__kern qc__kern_generic;
extern const struct qc__kern qc__kern_avx2;
extern const struct qc__kern qc__kern_avx512;

/* The kernel for an ISA name ("auto" or NULL: the best this CPU runs);
 * NULL if this CPU cannot run it. */
const struct qc__kern *qc__kern_get(const char *isa);

#endif
