/* The metric-line-to-points mapping (see qw_metrics.h): the core's
 * qc_metric_line_points, the one mapping `qlab upload` uses too, copied
 * into the worker's point type. */
#include "qw_metrics.h"

#include <stdlib.h>
#include <string.h>

#include "qcore/metric_line.h"

_Static_assert(QW_METRIC_NAME_MAX == QC_METRIC_NAME_MAX, "one metric name limit");

int qw_metrics_from_line(struct qw_point **out, int *n, int *nonfinite, const char *line,
                         struct qc_err *err)
{
    struct qc_metric_point *p = NULL;
    int rc = qc_metric_line_points(&p, n, nonfinite, line, err);
    *out = NULL;
    if (rc || *n == 0) {
        free(p);
        return rc;
    }
    if (!(*out = malloc((size_t)*n * sizeof **out))) {
        free(p);
        *n = 0;
        return qc_err_set(err, QC_ENOMEM, "", "out of memory for metric points");
    }
    for (int i = 0; i < *n; i++) {
        (*out)[i].step = p[i].step;
        (*out)[i].value = p[i].value;
        memcpy((*out)[i].name, p[i].name, sizeof p[i].name);
    }
    free(p);
    return QC_OK;
}

int64_t qw_metrics_batch_len(const struct qw_point *p, int64_t n, int max_names)
{
    /* Open addressing over indices into p: points of one line repeat the
     * names of the line before, so most probes hit at once. */
    enum { SLOTS = 2048 };
    int64_t slot[SLOTS];
    int distinct = 0;

    if (max_names > SLOTS / 2)
        max_names = SLOTS / 2;
    for (int i = 0; i < SLOTS; i++)
        slot[i] = -1;
    for (int64_t i = 0; i < n; i++) {
        uint32_t h = 2166136261u; /* FNV-1a */
        for (const char *c = p[i].name; *c; c++)
            h = (h ^ (unsigned char)*c) * 16777619u;
        uint32_t k = h % SLOTS;
        while (slot[k] >= 0 && strcmp(p[slot[k]].name, p[i].name) != 0)
            k = (k + 1) % SLOTS;
        if (slot[k] >= 0)
            continue;
        if (distinct == max_names)
            return i;
        slot[k] = i;
        distinct++;
    }
    return n;
}

bool qw_metrics_in_summary(const char *name)
{
    return strncmp(name, "layers_", 7) != 0;
}
