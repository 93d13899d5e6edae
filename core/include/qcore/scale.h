/* Scale policies for quantized GEMM operands: which power-of-two scale each
 * tensor (scalar formats) or each block (MX, BFP) gets, from its current
 * amax or from a prediction made of earlier iterations' amaxes, and the
 * quantization of an operand under the chosen scales, with what it cost
 * (clipped elements, scales that were too small or too large).
 *
 * A policy predicts an amax, the "basis", per scale unit (the tensor, or one
 * block); the unit's exponent is then the one arith.scale_rule gives for the
 * basis (qc_scale_exp), so every scale is a power of two and scaling never
 * rounds. Elements beyond the format's range under that scale saturate.
 * docs/training.md ("Scale policies") states every rule and counter.
 *
 * Thread safety: functions are reentrant; a slot is used by one thread at
 * a time (qc_scale_operand may use `threads` OpenMP threads inside). */
#ifndef QCORE_SCALE_H
#define QCORE_SCALE_H

#include <stdbool.h>
#include <stdint.h>

#include "qcore/quantize.h"

/* In the order of the spec's scaling.blocks.type (persisted in checkpoints:
 * append only). */
enum qc_scale_policy {
    QC_SCALE_POLICY_NONE = 0,         /* block scales from the current amax, tensors unscaled */
    QC_SCALE_POLICY_MAX = 1,          /* basis = current amax; tensors scaled too */
    QC_SCALE_POLICY_DELAYED = 2,      /* basis = max of the last `history` amaxes */
    QC_SCALE_POLICY_DELAY_UPDATE = 3, /* the previous scale; re-estimated on drift or age */
    QC_SCALE_POLICY_WMA = 4,          /* basis = weighted moving average of the last amaxes */
};

struct qc_scale_cfg {
    enum qc_scale_policy policy;
    int history;  /* 1..1024: window (delayed, wma), largest scale age (delay_update) */
    double drift; /* delay_update: binades, > 0 */
    double alpha; /* wma: weight ratio between consecutive entries, (0, 1] */
};

/* Events of the scaled quantization, summed over calls. */
struct qc_scale_stats {
    uint64_t scales;     /* scale decisions: one per tensor or finite block and call */
    uint64_t overflowed; /* ... whose scale could not hold the unit's current amax:
                            amax > max finite x 2^e (scale too small) */
    uint64_t wasted;     /* ... whose exponent exceeds the current amax's (the `max`
                            policy's) exponent: a top binade left unused */
    uint64_t elements;   /* finite elements quantized under a scale */
    uint64_t clipped;    /* ... beyond the format's max finite under their scale,
                            saturated to it */
    uint64_t fallbacks;  /* calls whose block count differed from the slot's: scaled
                            by the current amax, history untouched */
};

/* One GEMM operand's state across iterations: `units` scale units (1 for
 * a tensor, rows x blocks for a block format), each with its own history.
 * Caller-owned storage, zero-initialised = empty (sized at the first
 * recorded call); the arrays belong to the slot: qc_scale_slot_free. */
struct qc_scale_slot {
    int64_t units; /* 0: empty */
    int64_t steps; /* recorded calls */
    int head;      /* delayed, wma: ring position of the next record */
    float *hist;   /* delayed, wma: units x history amaxes (fp32 values, exact) */
    float *ref;    /* delay_update: the amax each unit's scale was made from */
    int32_t *age;  /* delay_update: recorded calls since that scale was made */
};

/* none, history 16, drift 1, alpha 0.5 (the spec's defaults). */
void qc_scale_cfg_init(struct qc_scale_cfg *c);
/* "none", "max", "delayed", "delay_update", "wma"; "?" otherwise. */
const char *qc_scale_policy_name(enum qc_scale_policy p);
/* QC_EINVAL (naming the key) for an out-of-range policy or parameter. */
int qc_scale_cfg_check(const struct qc_scale_cfg *c, struct qc_err *err);

/* Whether a tensor format is scaled under a policy other than none: every
 * format but plain fp32-or-wider IEEE (quantizing to those changes no fp32
 * value), as docs/spec.md says. */
bool qc_scale_applies(const struct qc_format *f);

/* The exponent e of the scale 2^e that arith.scale_rule `rule` gives for a
 * unit whose (predicted) largest magnitude is `amax` >= 0, elements rounded
 * rne. Block formats: qc_block_scale_exp (E8M0 range; INT32_MAX = NaN
 * scale; amax 0 gives -127). Scalar formats: the tensor scale that puts
 * amax in f's top binade (that of its max finite) under `floor`; the same
 * ceil/round adjustments; not clamped; amax 0 gives 0. */
int qc_scale_exp(const struct qc_format *f, double amax, enum qc_scale_rule rule);

/* The bytes of a slot's arrays for `units` units under `c` (checkpoints). */
int64_t qc_scale_slot_floats(const struct qc_scale_cfg *c, int64_t units); /* hist + ref */
int64_t qc_scale_slot_ints(const struct qc_scale_cfg *c, int64_t units);   /* age */
/* Empties `s` and sizes it for `units` units (arrays zeroed). QC_ENOMEM. */
int qc_scale_slot_alloc(struct qc_scale_slot *s, const struct qc_scale_cfg *c, int64_t units,
                        struct qc_err *err);
void qc_scale_slot_free(struct qc_scale_slot *s); /* frees the arrays, empties it */

/* The predictor. For each unit u with current amax amax[u] (finite, >= 0),
 * basis[u] receives the amax its scale is made from this call:
 *   max           amax[u]
 *   delayed       max of the recorded window (the last min(steps, history)
 *                 calls' amaxes)
 *   wma           sum alpha^j h_j / sum alpha^j over that window, h_0 the
 *                 newest entry
 *   delay_update  ref[u], first replaced by amax[u] when the slot has no
 *                 scale yet, when |log2 amax[u] - log2 ref[u]| > drift (a
 *                 zero against a nonzero amax is an infinite drift), or when
 *                 the scale has served `history` recorded calls
 * An empty slot, or a prediction of 0 (no nonzero amax recorded), gives
 * amax[u]. With `record`, the call is then recorded (amax[u] enters the
 * window; delay_update's re-estimates are kept and the ages advance); an
 * empty slot is first sized for `units`. A slot sized for another unit
 * count is left alone and basis = amax: returns 1 (the fallback); else 0.
 * QC_ENOMEM when sizing fails. */
int qc_scale_predict(double *basis, const double *amax, int64_t units, struct qc_scale_slot *s,
                     const struct qc_scale_cfg *c, bool record, struct qc_err *err);

/* Quantizes one GEMM operand: `rows` reduction vectors of `k` values
 * (row-major, blocks along each row), in -> out (out may equal in). `f` is
 * the multiplier's reading of the operand's format (mac.a_read / b_read);
 * its values must be fp32 values (qc_format_fits_f32), else QC_EUNSUPP.
 * Scalar formats: one tensor scale 2^e, *tensor_exp = e, out = in / 2^e
 * rounded rne to f with saturation; the caller multiplies the GEMM result
 * by 2^(ea + eb). Block formats: each block's exponent from the policy,
 * out = elements (rne, saturated, as OCP) times the block scale, as
 * qc_quantize_f32 would give for that exponent; *tensor_exp = 0. A block
 * holding NaN or inf gets the NaN scale, as always; in a scalar tensor a
 * NaN or inf element stays NaN or inf (rounded without saturation, so a
 * loss scaler still sees it). The policy's state is `s`, which may be NULL
 * under none and max (they keep none; QC_EINVAL for the others); counts
 * add to `st` when non-NULL. Results do not depend on `threads`. */
int qc_scale_operand(float *out, int32_t *tensor_exp, const float *in, int64_t rows, int64_t k,
                     const struct qc_format *f, enum qc_scale_rule rule,
                     const struct qc_scale_cfg *c, struct qc_scale_slot *s, bool record,
                     int threads, struct qc_scale_stats *st, struct qc_err *err);

void qc_scale_stats_add(struct qc_scale_stats *acc, const struct qc_scale_stats *x);

#endif
