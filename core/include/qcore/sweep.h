/* Sweeps: one base experiment and a set of parameters to vary, expanded into
 * the fully written experiment spec of every run. The server expands sweeps
 * when they are submitted and the CLI checks them before submitting, with
 * this one implementation (schema/sweep.schema.json, docs/sweeps.md).
 *
 *   {"name": "acc-study", "base": {...experiment...},
 *    "method": "grid" | "random", "samples": N, "seed": S,
 *    "parameters": {"arith.forward.mac.acc": {"values": ["e6m5", "e5m10"]},
 *                   "train.optimizer.lr": {"min": 0.01, "max": 0.1, "log": true}},
 *    "early_stop": {"metric": "val_acc", "mode": "max", "grace_epochs": 1, "min_runs": 3},
 *    "priority": 0, "max_attempts": 3}
 *
 * A parameter may also be a typed axis (docs/sweeps.md): a family of formats,
 *   {"family": "eXmY", "exp": [4, 5], "man": [2, 3], "mods": ["", "nosub"]},
 *   {"family": "qM.N", "bits": [16, 20], "int": [8]},
 *   {"family": "mx", "elem": ["fp8_e4m3", "fp4_e2m1"], "block": [16, 32]},
 *   {"family": "bfp", "bits": [4, 8], "block": [16]},
 * expanded member by member (each checked by the format parser) and ordered
 * by bit width, or an integer sequence {"from": 1, "to": 6, "step": 1}.
 *
 * Grid runs are the cartesian product, the last parameter varying fastest.
 * Random runs draw each parameter independently from its values (uniformly)
 * or its [min, max] range (uniform, or log-uniform with "log"; rounded with
 * "integer") with the counter-based generator keyed by `seed`, so the same
 * document always gives the same runs. Every run's spec is validated with
 * qc_spec_from_json; an error inside a swept value points at that value
 * (/parameters/train.seed/values/2), any other at /base/... .
 *
 * Thread safety: reentrant. */
#ifndef QCORE_SWEEP_H
#define QCORE_SWEEP_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "qcore/error.h"

#define QC_SWEEP_PARAMS_MAX  16
#define QC_SWEEP_VALUES_MAX  1000
#define QC_SWEEP_DEFAULT_CAP 10000

enum qc_sweep_method { QC_SWEEP_GRID = 0, QC_SWEEP_RANDOM };

/* The median stopping rule (docs/server.md): after `grace_epochs` epochs, a run
 * whose best `metric` so far is worse than the median of the other runs'
 * best at the same epoch count is stopped; needs `min_runs` runs there. */
struct qc_sweep_early_stop {
    bool enabled;
    char metric[64];
    bool maximize;
    int64_t grace_epochs;
    int64_t min_runs;
};

struct qc_sweep_info {
    char name[129];
    enum qc_sweep_method method;
    int64_t runs;                   /* how many runs the sweep expands to */
    int64_t priority, max_attempts; /* 0, 3 unless given */
    struct qc_sweep_early_stop early_stop;
};

/* Checks the document `sweep` (borrowed) and, when `specs_out` is not NULL,
 * expands it: `*specs_out` receives a new JSON array (caller decrefs) of the
 * canonical spec of every run (qc_spec_to_json), in run order, each named
 * "<sweep name> <param>=<value> ...". More than `cap` runs is QC_ERANGE at
 * "/parameters" before anything is expanded. Other errors are QC_EINVAL
 * with the field's JSON pointer. `info` may be NULL. */
int qc_sweep_expand(json_t **specs_out, struct qc_sweep_info *info, const json_t *sweep,
                    int64_t cap, struct qc_err *err);

/* The axes of the sweep document `sweep` (borrowed), for plots and tables:
 * a new object (caller decrefs) in *out with one key per parameter path, in
 * document order, each {"values": [...]} as the runs get them (typed axes
 * expanded and ordered), plus "bits": [...] (storage bits of each value, an
 * element's for block formats) when every value is a format string; a range
 * of a random sweep is {"min", "max", "log", "integer"}. Errors as for
 * qc_sweep_expand; no run cap applies. */
int qc_sweep_axes(json_t **out, const json_t *sweep, struct qc_err *err);

/* Sets the value at dotted `path` ("train.seed") in `doc`, creating missing
 * objects on the way. Steals nothing: `value` is copied. QC_EINVAL when a
 * segment on the way is not an object. */
int qc_sweep_set_path(json_t *doc, const char *path, const json_t *value, struct qc_err *err);

/* qc_spec_check_all for a sweep document: every error of the sweep and of
 * its runs' specs (expanded, at most `cap` runs), each pointing into the
 * sweep document. */
int qc_sweep_check_all(json_t **errors, const json_t *sweep, int64_t cap, int max,
                       struct qc_err *first);

#endif
