/* Philox4x32-10, the counter-based generator behind stochastic rounding,
 * as one QC_HD function: the CPU (rng.c) and the CUDA kernels draw the
 * random bits of element i from the same code, a pure function of (seed,
 * stream, i) with no state, so threads, blocking and backends agree. */
#ifndef QCORE_RNG_HD_H
#define QCORE_RNG_HD_H

#include "hd.h"

#define QC__PHILOX_M0 UINT32_C(0xD2511F53)
#define QC__PHILOX_M1 UINT32_C(0xCD9E8D57)
#define QC__PHILOX_W0 UINT32_C(0x9E3779B9)
#define QC__PHILOX_W1 UINT32_C(0xBB67AE85)

/* Key `seed`, counter (index, stream); the first two output words. */
static inline QC_HD uint64_t qc__philox(uint64_t seed, uint64_t stream, uint64_t index)
{
    uint32_t c0 = (uint32_t)index, c1 = (uint32_t)(index >> 32);
    uint32_t c2 = (uint32_t)stream, c3 = (uint32_t)(stream >> 32);
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
    return (uint64_t)c0 | ((uint64_t)c1 << 32);
}

#endif
