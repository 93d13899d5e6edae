/* Metric points from the training core's JSON lines: each numeric field of
 * a line becomes one (step, name, value) point, the unit the server stores
 * and deduplicates on. The mapping is the core's (qcore/metric_line.h),
 * shared with `qlab upload`; the naming rules are in docs/worker.md:
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
 * Thread safety: reentrant; called on the training threads. */
#ifndef QW_METRICS_H
#define QW_METRICS_H

#include <stdbool.h>
#include <stdint.h>

#include "qcore/error.h"

#define QW_METRIC_NAME_MAX 64 /* bytes, NUL included */
/* Distinct names the server takes in one metric batch (docs/api.md). */
#define QW_BATCH_NAMES_MAX 256

struct qw_point {
    int64_t step;
    double value;
    char name[QW_METRIC_NAME_MAX]; /* [A-Za-z0-9_], never empty */
};

/* Parses one line. On success *out is a malloc'ed array of *n points
 * (the caller frees it; NULL when *n is 0) and *nonfinite counts the
 * null fields left out: JSON cannot carry NaN or infinity, so the core
 * writes such a value as null.
 * QC_EINVAL for a line that is not a JSON object with an integer "step". */
int qw_metrics_from_line(struct qw_point **out, int *n, int *nonfinite, const char *line,
                         struct qc_err *err);

/* Whether a point belongs in the run's summary of last values: every name
 * but the per-layer counters (layers_*: dozens to hundreds a run, read as
 * series), whose sums over layers the summary keeps. */
bool qw_metrics_in_summary(const char *name);

/* How many of the first n points one batch may carry: all of them, or as
 * many as hold at most max_names distinct names (a run of a deep model
 * reports each layer's rates, hundreds of names a line). At least 1 when
 * n > 0. */
int64_t qw_metrics_batch_len(const struct qw_point *p, int64_t n, int max_names);

#endif
