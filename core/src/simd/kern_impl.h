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
    uint32_t emin_bits;  /* (emin + 127) << 23 */
    uint32_t magic_add;  /* (base_shift << 23) + 0x400000: exponent field -> M */
    uint32_t flush_bits; /* nosub: min normal pattern; else 0 */
    enum qc_round_mode mode;
};

/* One emulated GEMM over fp32 lanes: inputs already rounded to the
 * multiplier's reading; products exact in fp32; the accumulator rounds
 * through an exact round-to-odd fp32 sum (docs/mac.md explains why that is
 * a single correct rounding). */
struct qc__gemm_f32_job {
    const float *a; /* m x k row-major */
    const float *b; /* k x n_pad row-major, zero-padded columns */
    float *c;       /* m x n, row stride ldc */
    int64_t m, n, k, n_pad, ldc;
    int64_t chunk; /* >= 1 */
    int prod_step; /* 0: none (fused), 1: round with `prod`, 2: flush below `flush` */
    float flush;
    double wide_flush; /* the wide kernel's product flush (fp32 nosub: 2^-126), else 0 */
    /* fixed-point accumulators: codes in [fx_lo, fx_hi] on the grid 2^-N */
    int fx_rne; /* 1: rne, 0: rtz */
    int32_t fx_hi, fx_lo;
    float fx_scale, fx_inv, fx_clamp; /* 2^N, 2^-N, 2^22 */
    struct qc__f32_plan prod, acc;
};

/* Columns a kernel computes at once; B's padded width is a multiple. */
#define QC_KERN_NB_MAX 64

struct qc__kern {
    const char *isa;
    int nb; /* column block: n_pad must be a multiple of it */
    void (*quantize_f32)(float *out, const float *in, int64_t n, const struct qc__f32_plan *p,
                         struct qc_round_stats *st);
    /* Rows [i0, i1) x columns [j0, j1) of C; j0 a multiple of nb. */
    void (*gemm_f32)(const struct qc__gemm_f32_job *job, int64_t i0, int64_t i1, int64_t j0,
                     int64_t j1, struct qc_round_stats *st);
    /* fp64 lanes, fp32 accumulator only (`acc` unused; `prod_step` 1 means
     * rounding to fp32 then flushing below `wide_flush`). */
    void (*gemm_wide)(const struct qc__gemm_f32_job *job, int64_t i0, int64_t i1, int64_t j0,
                      int64_t j1, struct qc_round_stats *st);
    /* fp32 lanes with a fixed-point accumulator (the fx_* fields). */
    void (*gemm_fixed)(const struct qc__gemm_f32_job *job, int64_t i0, int64_t i1, int64_t j0,
                       int64_t j1, struct qc_round_stats *st);
};

extern const struct qc__kern qc__kern_generic;
extern const struct qc__kern qc__kern_avx2;
extern const struct qc__kern qc__kern_avx512;

/* The kernel for an ISA name ("auto" or NULL: the best this CPU runs);
 * NULL if this CPU cannot run it. */
const struct qc__kern *qc__kern_get(const char *isa);

#endif
