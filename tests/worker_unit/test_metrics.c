/* Unit tests of the metric naming (worker/qw_metrics.c): the JSON lines of
 * the training core become (step, name, value) points under the rules of
 * docs/worker.md, and lines that are no metric line are refused with an
 * error naming why. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "worker/qw_metrics.h"

struct parsed {
    struct qw_point *p;
    int n, nonfinite;
};

static struct parsed parse(const char *line)
{
    struct parsed r = {0};
    struct qc_err err;
    int rc = qw_metrics_from_line(&r.p, &r.n, &r.nonfinite, line, &err);
    cr_assert_eq(rc, 0, "line %s: %s", line, err.msg);
    cr_assert_eq(r.p == NULL, r.n == 0, "points allocated exactly when there are some");
    return r;
}

/* The points as "name=value@step" joined by spaces, in line order. */
static char *text(const struct parsed *r)
{
    static char buf[4096];
    size_t len = 0;

    buf[0] = 0;
    for (int i = 0; i < r->n; i++)
        len += (size_t)snprintf(buf + len, sizeof buf - len, "%s%s=%g@%lld", i ? " " : "",
                                r->p[i].name, r->p[i].value, (long long)r->p[i].step);
    return buf;
}

static void expect_points(const char *line, const char *want)
{
    struct parsed r = parse(line);
    cr_expect_str_eq(text(&r), want, "line %s", line);
    cr_expect_eq(r.nonfinite, 0);
    free(r.p);
}

Test(metrics, a_step_line_keeps_its_names_and_joins_groups_with_underscores)
{
    expect_points("{\"kind\":\"step\",\"step\":40,\"epoch\":1,\"train_loss\":0.5,\"lr\":0.125,"
                  "\"fwd\":{\"macs\":1024,\"overflow_rate\":0.25,"
                  "\"scaling\":{\"clip_rate\":0.5}},\"skipped\":3}",
                  "epoch=1@40 train_loss=0.5@40 lr=0.125@40 fwd_macs=1024@40 "
                  "fwd_overflow_rate=0.25@40 fwd_scaling_clip_rate=0.5@40 skipped_steps=3@40");
}

Test(metrics, a_line_without_a_kind_is_a_step_line)
{
    expect_points("{\"step\":7,\"train_loss\":2,\"skipped\":1}",
                  "train_loss=2@7 skipped_steps=1@7");
}

Test(metrics, an_epoch_line_prefixes_all_but_the_validation_fields)
{
    /* "epoch" is on the step line of the same step already; "skipped" is
     * renamed before the prefix. */
    expect_points("{\"kind\":\"epoch\",\"step\":100,\"epoch\":2,\"train_loss\":0.3,"
                  "\"val_loss\":0.4,\"val_acc\":0.875,\"skipped\":5,"
                  "\"fwd\":{\"swamping_rate\":0.0625}}",
                  "val_loss=0.4@100 val_acc=0.875@100 epoch_train_loss=0.3@100 "
                  "epoch_skipped_steps=5@100 epoch_fwd_swamping_rate=0.0625@100");
}

Test(metrics, a_line_of_another_kind_prefixes_every_field_with_the_kind)
{
    expect_points("{\"kind\":\"eval\",\"step\":3,\"acc\":0.5,\"skipped\":1,\"fwd\":{\"macs\":2}}",
                  "eval_acc=0.5@3 eval_skipped_steps=1@3 eval_fwd_macs=2@3");
}

Test(metrics, strings_booleans_arrays_and_deep_groups_are_no_points)
{
    /* Groups nest three deep at most: a_b_c_d is a point, a_b_c_d_e is not. */
    expect_points("{\"step\":1,\"name\":\"x\",\"ok\":true,\"list\":[1,2],"
                  "\"a\":{\"b\":{\"c\":{\"d\":4,\"e\":{\"f\":5}}}},\"n\":1}",
                  "a_b_c_d=4@1 n=1@1");
}

Test(metrics, names_the_server_cannot_key_on_are_left_out)
{
    char line[512], name[QW_METRIC_NAME_MAX + 1];

    expect_points("{\"step\":1,\"bad-name\":1,\"spa ce\":2,\"ok_1\":3}", "ok_1=3@1");
    /* QW_METRIC_NAME_MAX counts the NUL: one character less fits. */
    memset(name, 'x', sizeof name);
    name[QW_METRIC_NAME_MAX - 1] = 0;
    snprintf(line, sizeof line, "{\"step\":2,\"%s\":1,\"%sy\":2}", name, name);
    struct parsed r = parse(line);
    cr_assert_eq(r.n, 1);
    cr_expect_str_eq(r.p[0].name, name);
    cr_expect_eq(r.p[0].value, 1);
    free(r.p);
    /* A prefix can push a name past the limit too. */
    name[QW_METRIC_NAME_MAX - 6] = 0;
    snprintf(line, sizeof line, "{\"kind\":\"epoch\",\"step\":2,\"%s\":1}", name);
    r = parse(line);
    cr_expect_eq(r.n, 0, "epoch_ + %zu characters is too long", strlen(name));
    free(r.p);
}

Test(metrics, null_values_are_counted_as_non_finite_and_not_sent)
{
    /* The core writes a NaN or infinite loss as null (JSON has no spelling
     * for them). */
    struct parsed r = parse("{\"step\":9,\"train_loss\":null,\"lr\":0.5,"
                            "\"fwd\":{\"overflow_rate\":null}}");
    cr_expect_str_eq(text(&r), "lr=0.5@9");
    cr_expect_eq(r.nonfinite, 2);
    free(r.p);
}

Test(metrics, a_line_with_only_names_yields_no_points)
{
    struct parsed r = parse("{\"kind\":\"step\",\"step\":4}");
    cr_expect_eq(r.n, 0);
    cr_expect_null(r.p);
}

Test(metrics, lines_that_are_no_metric_line_are_refused)
{
    static const struct {
        const char *line, *field, *msg;
    } bad[] = {
        {"", "", "not a JSON object"},
        {"[1,2]", "", "not an object"},
        {"{\"step\":1,", "", "not a JSON object"},
        {"{\"loss\":1}", "/step", "no integer step"},
        {"{\"step\":1.5,\"loss\":1}", "/step", "no integer step"},
        {"{\"step\":\"3\",\"loss\":1}", "/step", "no integer step"},
        {"{\"step\":1,\"loss\":1,\"loss\":2}", "", "duplicate"},
        {"{\"step\":1,\"loss\":1e400}", "", "overflow"},
    };
    struct qw_point *p = (struct qw_point *)1;
    struct qc_err err;
    int n = -1, nonfinite = -1;

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        qc_err_clear(&err);
        cr_expect_eq(qw_metrics_from_line(&p, &n, &nonfinite, bad[i].line, &err), QC_EINVAL,
                     "line '%s'", bad[i].line);
        cr_expect_null(p);
        cr_expect_eq(n, 0);
        cr_expect_str_eq(err.field, bad[i].field, "line '%s'", bad[i].line);
        cr_expect(strstr(err.msg, bad[i].msg), "line '%s': %s", bad[i].line, err.msg);
    }
}

Test(metrics, per_layer_counters_flatten_to_layers_layer_group_rate)
{
    expect_points("{\"kind\":\"step\",\"step\":4,\"total_steps\":16,\"layers\":{\"conv1\":{\"fwd\":"
                  "{\"swamping_rate\":0.25}},\"s2b1_c1\":{\"wgrad\":{\"clip_rate\":0.5}}}}",
                  "total_steps=16@4 layers_conv1_fwd_swamping_rate=0.25@4 "
                  "layers_s2b1_c1_wgrad_clip_rate=0.5@4");
    cr_expect(!qw_metrics_in_summary("layers_conv1_fwd_swamping_rate"), "series only");
    cr_expect(qw_metrics_in_summary("fwd_swamping_rate"), "the sums stay in the summary");
    cr_expect(qw_metrics_in_summary("total_steps"));
}

/* Points named n0 n1 ... by `names`, one per entry. */
static struct qw_point *named(const int *names, int n)
{
    struct qw_point *p = calloc((size_t)n, sizeof *p);
    for (int i = 0; i < n; i++)
        snprintf(p[i].name, sizeof p[i].name, "n%d", names[i]);
    return p;
}

Test(metrics, a_batch_holds_at_most_the_servers_number_of_names)
{
    /* 300 step lines of 300 names each: a batch stops before name 257. */
    int *ids = malloc(90000 * sizeof *ids);
    for (int i = 0; i < 90000; i++)
        ids[i] = i % 300;
    struct qw_point *p = named(ids, 90000);
    cr_expect_eq(qw_metrics_batch_len(p, 90000, QW_BATCH_NAMES_MAX), 256);
    /* Repeated names cost nothing: 5 lines of 200 names fit whole. */
    for (int i = 0; i < 1000; i++)
        ids[i] = i % 200;
    free(p);
    p = named(ids, 1000);
    cr_expect_eq(qw_metrics_batch_len(p, 1000, QW_BATCH_NAMES_MAX), 1000);
    cr_expect_eq(qw_metrics_batch_len(p, 1000, 3), 3, "n0 n1 n2, then n3 would be the 4th name");
    cr_expect_eq(qw_metrics_batch_len(p, 0, 3), 0);
    free(p);
    free(ids);
}
