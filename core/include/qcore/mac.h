/* MAC configuration: how one dot product is computed in emulated hardware.
 *
 * A configuration names the input formats, the multiplier CFG (1..6), the
 * product format, the accumulator format with its rounding, the chunk size
 * and fused mode. Semantics (docs/mac.md):
 *
 *   total = 0
 *   for each chunk of `chunk` products (0: one chunk), in order:
 *       acc = 0
 *       for k in chunk: acc = round_acc(acc + multiply(a[k], b[k]))
 *       total = round_acc(total + acc)
 *
 * `acc=native` is the exception: inputs are quantized, then OpenBLAS sgemm
 * sums them in fp32 in an unspecified order (fast, not bit-reproducible). */
#ifndef QCORE_MAC_H
#define QCORE_MAC_H

#include <stdbool.h>
#include <stdint.h>

#include "qcore/format.h"
#include "qcore/quantize.h"
#include "qcore/round.h"

#define QC_MAC_TEXT_MAX 256

struct qc_mac {
    /* --- as configured --- */
    int cfg;               /* multiplier configuration 1..6 */
    struct qc_format a, b; /* input formats (default fp32) */
    bool prod_exact;       /* product=exact (default for cfg >= 3) */
    struct qc_format prod; /* product format for cfg 1-2 (default: a's) */
    bool native;           /* acc=native */
    struct qc_format acc;  /* accumulator format (default fp32) */
    struct qc_round acc_round;
    int64_t chunk;                 /* products per chunk; 0 = all of K */
    bool fused;                    /* acc + a*b rounded once, product never rounded */
    enum qc_scale_rule scale_rule; /* block-format inputs: how block scales are chosen */

    /* --- derived by qc_mac_resolve --- */
    struct qc_format a_read, b_read; /* the formats the multiplier reads */
    struct qc_format prod_round;     /* cfg 1-2: product format (+nosub for cfg 2) */
    double prod_flush;               /* |exact product| below this flushes to 0 */
};

/* Defaults: cfg=1, a=b=fp32, product=a, acc=fp32, acc_rounding=rne, chunk=0. */
void qc_mac_init(struct qc_mac *m);
/* Parses "cfg=5,a=e5m2,b=e5m2,product=exact,acc=e6m5,acc_rounding=rne,chunk=32,
 * fused=0,seed=7,scale_rule=floor" (any subset, any order) over the defaults
 * and resolves.
 * Errors name the key: field is the key ("acc"), message quotes the value. */
int qc_mac_parse(struct qc_mac *out, const char *s, struct qc_err *err);
/* Validates the configured fields and fills the derived ones. Call after
 * changing any configured field by hand. */
int qc_mac_resolve(struct qc_mac *m, struct qc_err *err);
/* Canonical text; parses back to the same configuration. Returns `buf`. */
const char *qc_mac_describe(const struct qc_mac *m, char *buf, int len);

/* The multiplier alone: the product of two values already in a_read/b_read,
 * as the CFG computes it (rounded for cfg 1-2, exact + flush otherwise),
 * returned as a double: exact whenever the two significands have at most 53
 * bits together (every pair of fp32-exact inputs does), else rounded rne.
 * For tests and tools; the GEMMs never go through it. */
double qc_mac_multiply(const struct qc_mac *m, double a, double b, struct qc_round_stats *st);

#endif
