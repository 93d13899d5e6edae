/* Philox4x32-10, the counter-based generator behind stochastic rounding,
 * as QC_HD functions: the CPU (rng.c, the SIMD kernels) and the CUDA
 * kernels draw the random bits of element i from the same code, a pure
 * function of (seed, stream, i) with no state, so threads, blocking and
 * backends agree. */
#ifndef QCORE_RNG_HD_H
#define QCORE_RNG_HD_H

#include "hd.h"

#define QC__PHILOX_M0 UINT32_C(0xD2511F53)
#define QC__PHILOX_M1 UINT32_C(0xCD9E8D57)
#define QC__PHILOX_W0 UINT32_C(0x9E3779B9)
#define QC__PHILOX_W1 UINT32_C(0xBB67AE85)

/* The four output words of Philox4x32-10 with key `seed` and counter
 * (lo, hi), words in the order of Random123's known-answer vectors:
 * counter words lo, lo >> 32, hi, hi >> 32; key words seed, seed >> 32. */
static inline QC_HD void qc__philox4(uint64_t seed, uint64_t lo, uint64_t hi, uint32_t out[4])
{
    uint32_t c0 = (uint32_t)lo, c1 = (uint32_t)(lo >> 32);
    uint32_t c2 = (uint32_t)hi, c3 = (uint32_t)(hi >> 32);
    uint32_t k0 = (uint32_t)seed, k1 = (uint32_t)(seed >> 32);

    for (int round = 0; round < 10; round++) {
        uint64_t p0 = (uint64_t)QC__PHILOX_M0 * c0;
        uint64_t p1 = (uint64_t)QC__PHILOX_M1 * c2;
        uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1 ^ k0;
        uint32_t n2 = (uint32_t)(p0 >> 32) ^ c3 ^ k1;
        c1 = (uint32_t)p1;
        c3 = (uint32_t)p0;
        c0 = n0;
        c2 = n2;
        k0 += QC__PHILOX_W0;
        k1 += QC__PHILOX_W1;
    }
    out[0] = c0;
    out[1] = c1;
    out[2] = c2;
    out[3] = c3;
}

/* Key `seed`, counter (index, stream); the first two output words. The
 * general-purpose draw (qc_rng_u64: data order, augmentation, sweeps). */
static inline QC_HD uint64_t qc__philox(uint64_t seed, uint64_t stream, uint64_t index)
{
    uint32_t w[4];
    qc__philox4(seed, index, stream, w);
    return (uint64_t)w[0] | ((uint64_t)w[1] << 32);
}

/* The high counter bit that tells a stochastic-rounding draw's upper
 * words from its lower ones (block numbers stay below 2^62). */
#define QC__SR_HIGH_BLOCK (UINT64_C(1) << 63)

/* Stochastic rounding's `bits` (1..64) random bits for element `index`
 * (docs/formats.md): one Philox block serves four consecutive indices.
 * The low 32 bits are word index mod 4 of block (index / 4, stream); only
 * when more than 32 bits are asked for, the high 32 are the same word of
 * block (index / 4 + 2^63, stream). So the 32-bit draws that every SIMD
 * and GPU path uses cost a quarter of a Philox evaluation each. */
static inline QC_HD uint64_t qc__sr_draw(uint64_t seed, uint64_t stream, uint64_t index, int bits)
{
    uint32_t w[4];
    qc__philox4(seed, index >> 2, stream, w);
    uint64_t u = w[index & 3];
    if (bits > 32) {
        qc__philox4(seed, (index >> 2) | QC__SR_HIGH_BLOCK, stream, w);
        u |= (uint64_t)w[index & 3] << 32;
    }
    return bits >= 64 ? u : u & ((UINT64_C(1) << bits) - 1);
}

/* The first draw index of output (i, j) of a GEMM whose outputs each take
 * `steps` draws (products and chunk totals): (i*n + j) times `steps`
 * rounded up to a multiple of 4, so every output's draws start a Philox
 * block and its kernel evaluates one block per four steps. */
static inline QC_HD uint64_t qc__sr_dot_base(uint64_t output, uint64_t steps)
{
    return output * ((steps + 3) & ~UINT64_C(3));
}

#endif
