/* Rounding modes and the counters a rounding step reports.
 *
 * A `struct qc_round` names how an exact value becomes a format value. The
 * stochastic mode draws its random bits from a counter-based generator keyed
 * by (seed, stream, element index), so a result never depends on thread
 * count, chunking of the work or backend. */
#ifndef QCORE_ROUND_H
#define QCORE_ROUND_H

#include <stdint.h>

#include "qcore/error.h"

enum qc_round_mode {
    QC_ROUND_RNE = 0, /* nearest, ties to even (default) */
    QC_ROUND_RNA = 1, /* nearest, ties away from zero */
    QC_ROUND_RTZ = 2, /* toward zero: truncation / bit masking */
    QC_ROUND_RUP = 3, /* toward +inf */
    QC_ROUND_RDN = 4, /* toward -inf */
    QC_ROUND_SR = 5,  /* stochastic with `sr_bits` random bits */
};

#define QC_SR_BITS_DEFAULT 32
#define QC_SR_BITS_MAX     64

struct qc_round {
    enum qc_round_mode mode;
    int sr_bits;     /* QC_ROUND_SR only: 1..64 */
    uint64_t seed;   /* QC_ROUND_SR only */
    uint64_t stream; /* QC_ROUND_SR only: separates tensors/steps under one seed */
};

/* Rounding-event counters. Each rounding step adds to them; see
 * docs/mac.md for the exact definitions (IEEE 754 overflow; underflow means
 * nonzero exact value rounded to zero; swamping: see qc_mac). */
struct qc_round_stats {
    uint64_t ops; /* rounding steps (or MACs, for a GEMM) */
    uint64_t overflow;
    uint64_t underflow;
    uint64_t swamping;
};

/* rne by default: a zero-initialised struct qc_round is rne. */
void qc_round_init(struct qc_round *r, enum qc_round_mode mode);
/* Parses "rne", "rna", "rtz", "rup", "rdn", "sr", "sr:R". Seed and stream are
 * left as they were. */
int qc_round_parse(struct qc_round *out, const char *s, struct qc_err *err);
/* Canonical text of a mode: "rne", "sr:12". Returns `buf`. */
const char *qc_round_describe(const struct qc_round *r, char *buf, int len);

void qc_round_stats_add(struct qc_round_stats *acc, const struct qc_round_stats *x);

/* The project's counter-based generator: Philox4x32-10 with key `seed`
 * and counter (index, stream). Returns 64 uniformly random bits (the
 * block's first two words). Pure. */
uint64_t qc_rng_u64(uint64_t seed, uint64_t stream, uint64_t index);
/* The `bits` (1..64) random bits stochastic rounding uses for element
 * `index` (docs/formats.md): word index mod 4 of the Philox block
 * (index / 4, stream), and above 32 bits the same word of block
 * (index / 4 + 2^63, stream) as the high half. Pure. */
uint64_t qc_sr_draw(uint64_t seed, uint64_t stream, uint64_t index, int bits);
/* The four words of the Philox4x32-10 block with key `seed` and counter
 * (lo, hi), as Random123 lists them. */
void qc_philox4x32(uint64_t seed, uint64_t lo, uint64_t hi, uint32_t out[4]);

#endif
