/* Internal: the exact scalar dot product behind every MAC configuration
 * (mac_hd.h holds its arithmetic, shared with the CUDA backend). */
#ifndef QCORE_MAC_IMPL_H
#define QCORE_MAC_IMPL_H

#include "mac_hd.h"
#include "qcore/mac.h"
#include "xval_impl.h"

/* One output element: sum over k of a[kk*sa] * b[kk*sb] under `m`, inputs
 * already rounded to m->a_read / m->b_read. Stochastic accumulator rounding
 * draws indices sr_base + step (docs/mac.md). Counts events into `st`
 * (not `ops`). A NaN product makes a fixed-point dot product NaN. */
double qc__mac_dot(const struct qc_mac *m, const double *a, int64_t sa, const double *b, int64_t sb,
                   int64_t k, uint64_t sr_base, struct qc_round_stats *st);

#endif
