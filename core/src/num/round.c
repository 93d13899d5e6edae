/* The library's entry to the scalar rounding engine (round_hd.h, shared
 * with the CUDA kernels). The SIMD kernels handle the common cases faster
 * and are tested bit for bit against it and against the MPFR reference. */
#include "qcore/quantize.h"

#include "round_hd.h"

double qc_round_value(const struct qc_format *f, double x, const struct qc_round *r, uint64_t index,
                      struct qc_round_stats *st)
{
    struct qc_round rne;

    if (!r) {
        qc__round_set(&rne, QC_ROUND_RNE);
        r = &rne;
    }
    return qc__round_value(f, x, r, index, st);
}
