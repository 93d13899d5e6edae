/* Metric points from the training core's JSON lines: each numeric field of
 * a line becomes one (step, name, value) point, the unit qlab-server stores
 * and deduplicates on. The worker streams a run's lines so, and `qlab
 * upload` records a local run so, with this one mapping (docs/worker.md):
 *   "step" lines: a field keeps its name ("train_loss", "lr"), nested
 *       group objects join with '_' ("fwd_overflow_rate"), and "skipped"
 *       (the scaler's running count) is "skipped_steps";
 *   "epoch" lines: "val_*" keep their names, every other field is prefixed
 *       "epoch_" ("epoch_train_loss", "epoch_fwd_swamping_rate",
 *       "epoch_skipped_steps"), so that they never collide with the step
 *       line the core writes at the same step;
 *   lines of another kind K: every field is prefixed "K_".
 * "kind" and "step" themselves are not points.
 *
 * Thread safety: reentrant. */
#ifndef QCORE_METRIC_LINE_H
#define QCORE_METRIC_LINE_H

#include <stdint.h>

#include "qcore/error.h"

#define QC_METRIC_NAME_MAX 64 /* bytes, NUL included */

struct qc_metric_point {
    int64_t step;
    double value;
    char name[QC_METRIC_NAME_MAX]; /* [A-Za-z0-9_], never empty */
};

/* Parses one line. On success *out is a malloc'ed array of *n points
 * (the caller frees it; NULL when *n is 0) and *nonfinite counts the
 * null fields left out: JSON cannot carry NaN or infinity, so the core
 * writes such a value as null.
 * QC_EINVAL for a line that is not a JSON object with an integer "step". */
int qc_metric_line_points(struct qc_metric_point **out, int *n, int *nonfinite, const char *line,
                          struct qc_err *err);

#endif
