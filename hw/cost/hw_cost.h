/* The hardware cost of a MAC configuration: every unit it needs
 * (multiplier, accumulator, converter, the MAC, an R x C array)
 * synthesized with the flows of hw_yosys.h or found in a store or the
 * committed table, assembled into one JSON object, with the calibration
 * of docs/cost.md applied where hw/calibration.json gives one.
 *
 * Thread-safe as long as the store is: everything else is read-only. */
#ifndef QHW_COST_H
#define QHW_COST_H

#include <jansson.h>
#include <stdbool.h>

#include "hw_params.h"
#include "hw_store.h"
#include "hw_yosys.h"

#define HW_ROWS_DEFAULT    16
#define HW_COLS_DEFAULT    4
#define HW_TIMEOUT_DEFAULT 900

/* Bits of hw_cost_opts.units. */
#define HW_UNITS_ALL ((1u << HW_UNIT_COUNT) - 1)

struct hw_cost_opts {
    int rows, cols;            /* the array; 0: 16 x 4 (the published system) */
    unsigned units;            /* 1 << HW_UNIT_* of the units wanted; 0: all */
    bool synth_array;          /* synthesize the array top; else rows x cols x the MAC's figures */
    bool no_gates;             /* skip the gate-count flow (units then have no "gates") */
    bool refresh;              /* synthesize even what is cached, and store it */
    bool lookup_only;          /* never synthesize: QC_EUNAVAIL when a figure is missing */
    int timeout_s;             /* per Yosys run; 0: HW_TIMEOUT_DEFAULT */
    const atomic_bool *cancel; /* NULL, or set to stop a running synthesis */
};

struct hw_cost_ctx {
    const struct hw_tool *tool;
    const struct hw_store *store; /* NULL: no store */
    const json_t *table;          /* the committed table, or NULL */
    const json_t *calib;          /* hw/calibration.json, or NULL */
    json_t *collect;              /* NULL, or an object that receives key -> figures of
                                     every run used (qlab cost --export); not thread-safe */
};

/* What one call did: Yosys runs made, figures found, seconds of synthesis. */
struct hw_cost_stats {
    int synthesized, cached;
    double seconds;
};

/* The cost object of `m` (resolved): {"mac_config", "kind", "mac",
 * "multiplier", "accumulator", "converter" (null without one), "array",
 * "calibrated" (null without a calibration), "gate_weights", "tool",
 * "flow", "rtl", "source": "cache" | "synthesized"}; each unit holds lut, ff,
 * carry, dsp, lut_nodsp and gates (a unit left out of o->units is null).
 * The array is {rows, cols, lut, ff, carry, dsp, "method"}: qarray adds no
 * logic to its MACs (operands are broadcast), so by default its figures are
 * rows x cols x the MAC's ("mac x rows x cols"); o->synth_array synthesizes
 * the top itself ("synthesized"), the MAC once, hierarchically. Errors: QC_EINVAL naming the MAC
 * field the RTL cannot express; QC_EUNAVAIL for lookup_only with a figure missing, or without
 * yosys; QC_EIO for a failed run. */
int hw_cost_mac(json_t **out, const struct hw_cost_ctx *c, const struct qc_mac *m,
                const struct hw_cost_opts *o, struct hw_cost_stats *st, struct qc_err *err);

/* Loads hw/calibration.json from the tool's hw/ folder; *out is NULL (and
 * QC_OK returned) when there is none. */
int hw_calib_load(json_t **out, const struct hw_tool *t, struct qc_err *err);

#endif
