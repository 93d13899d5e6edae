/* The hardware cost of an experiment: one MAC unit for each GEMM group of
 * its arithmetic (forward, grad-input, grad-weight), as hw_cost.h prices a
 * MAC configuration. The run's headline figures (lut, ff, dsp, gates and
 * the calibrated lut) are the sums over the three groups: a training
 * accelerator needs a MAC of each kind. Layer overrides that change a
 * group's MAC are priced in "layers" and left out of the sums. */
#ifndef QHW_SPEC_H
#define QHW_SPEC_H

#include "hw_cost.h"
#include "qcore/spec.h"

#define HW_SPEC_MACS_MAX (3 * (1 + QC_SPEC_LAYERS_MAX))

/* Every distinct MAC configuration of `s` (base groups first, then layer
 * overrides), as canonical text (QC_MAC_TEXT_MAX each). Returns the count. */
int hw_spec_macs(char (*out)[QC_MAC_TEXT_MAX], int max, const struct qc_spec *s);

/* The cost object of a spec: {"lut", "ff", "dsp", "gates", "lut_calibrated"
 * (numbers, or null when a group has no figure), "groups": {"forward":
 * {"mac", "lut", ...} | {"mac", "error", "field"}, ...}, "layers": {...},
 * "tool", "rtl", "status", "source"}. "status" is "ok", or what stands in
 * the way of the sums: "unsupported" (a group the RTL cannot express; its
 * entry has the error and the field), "pending" (lookup_only, a figure not
 * synthesized yet) or "unavailable" (not in any cache and no yosys here).
 * Only failures of the machinery (QC_EIO, QC_ENOMEM) are errors. */
int hw_cost_spec(json_t **out, const struct hw_cost_ctx *c, const struct qc_spec *s,
                 const struct hw_cost_opts *o, struct hw_cost_stats *st, struct qc_err *err);

#endif
