/* The public face of the counter-based generator (qcore/round.h); the
 * arithmetic is rng_hd.h's, shared with the CUDA kernels. */
#include "qcore/round.h"

#include "rng_hd.h"

uint64_t qc_rng_u64(uint64_t seed, uint64_t stream, uint64_t index)
{
    return qc__philox(seed, stream, index);
}

uint64_t qc_sr_draw(uint64_t seed, uint64_t stream, uint64_t index, int bits)
{
    return qc__sr_draw(seed, stream, index, bits);
}

void qc_philox4x32(uint64_t seed, uint64_t lo, uint64_t hi, uint32_t out[4])
{
    qc__philox4(seed, lo, hi, out);
}
