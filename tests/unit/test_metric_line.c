/* The metric-line-to-points mapping (qcore/metric_line.h) that the worker
 * streams with and `qlab upload` records with: names per line kind, nested
 * groups, the renamed scaler count, non-finite values left out, and bad
 * lines refused. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "qcore/metric_line.h"

static const struct qc_metric_point *find(const struct qc_metric_point *p, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (strcmp(p[i].name, name) == 0)
            return &p[i];
    return NULL;
}

static double value(const struct qc_metric_point *p, int n, const char *name)
{
    const struct qc_metric_point *x = find(p, n, name);
    cr_assert_not_null(x, "no point %s", name);
    return x->value;
}

Test(metric_line, step_lines_keep_names_and_join_groups)
{
    struct qc_metric_point *p;
    int n, nonfinite;
    struct qc_err err;
    cr_assert_eq(
        qc_metric_line_points(&p, &n, &nonfinite,
                              "{\"kind\":\"step\",\"step\":40,\"epoch\":1,\"train_loss\":0."
                              "5,\"skipped\":2,\"fwd\":{\"overflow_rate\":0.25,\"scaling\":"
                              "{\"clip_rate\":0.125}},\"note\":\"text\"}",
                              &err),
        QC_OK, "%s", err.msg);
    cr_expect_eq(n, 5);
    cr_expect_eq(nonfinite, 0);
    for (int i = 0; i < n; i++)
        cr_expect_eq(p[i].step, 40);
    cr_expect_eq(value(p, n, "train_loss"), 0.5);
    cr_expect_eq(value(p, n, "epoch"), 1);
    cr_expect_eq(value(p, n, "skipped_steps"), 2, "the scaler's count is renamed");
    cr_expect_eq(value(p, n, "fwd_overflow_rate"), 0.25);
    cr_expect_eq(value(p, n, "fwd_scaling_clip_rate"), 0.125);
    cr_expect_null(find(p, n, "kind"));
    cr_expect_null(find(p, n, "step"));
    free(p);
}

Test(metric_line, epoch_lines_prefix_all_but_validation)
{
    struct qc_metric_point *p;
    int n, nonfinite;
    struct qc_err err;
    cr_assert_eq(
        qc_metric_line_points(&p, &n, &nonfinite,
                              "{\"kind\":\"epoch\",\"step\":94,\"epoch\":0,\"train_loss\":1,"
                              "\"val_loss\":0.75,\"val_acc\":0.5,\"skipped\":3,\"bwd\":{"
                              "\"swamping_rate\":0.0625}}",
                              &err),
        QC_OK);
    cr_expect_eq(n, 5);
    cr_expect_eq(value(p, n, "val_acc"), 0.5);
    cr_expect_eq(value(p, n, "val_loss"), 0.75);
    cr_expect_eq(value(p, n, "epoch_train_loss"), 1);
    cr_expect_eq(value(p, n, "epoch_skipped_steps"), 3);
    cr_expect_eq(value(p, n, "epoch_bwd_swamping_rate"), 0.0625);
    cr_expect_null(find(p, n, "epoch"), "the step line carries it");
    free(p);
    cr_assert_eq(qc_metric_line_points(&p, &n, &nonfinite,
                                       "{\"kind\":\"eval\",\"step\":3,\"acc\":0.5}", &err),
                 QC_OK);
    cr_expect_eq(n, 1);
    cr_expect_str_eq(p[0].name, "eval_acc", "another kind prefixes its name");
    free(p);
}

Test(metric_line, bad_lines_are_refused)
{
    struct qc_metric_point *p = (struct qc_metric_point *)1;
    int n = 7, nonfinite = 7;
    struct qc_err err;
    cr_expect_eq(qc_metric_line_points(&p, &n, &nonfinite, "not json", &err), QC_EINVAL);
    cr_expect_null(p);
    cr_expect_eq(n, 0);
    cr_expect_eq(qc_metric_line_points(&p, &n, &nonfinite, "[1]", &err), QC_EINVAL);
    cr_expect_eq(
        qc_metric_line_points(&p, &n, &nonfinite, "{\"kind\":\"step\",\"step\":1.5}", &err),
        QC_EINVAL);
    cr_expect_str_eq(err.field, "/step");
    cr_expect_eq(qc_metric_line_points(&p, &n, &nonfinite, "{\"kind\":\"step\",\"step\":2}", &err),
                 QC_OK);
    cr_expect_eq(n, 0);
    cr_expect_null(p);
}
