/* Sweep expansion (qc_sweep_expand): grid order and count, random sweeps
 * reproducible for a seed and different across seeds, value ranges (log,
 * integer), error pointers into the sweep document, the run cap, the early
 * stopping rule's settings, and schema/sweep.schema.json listing exactly
 * the keys the parser accepts. Run from the repository root (make test). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qcore/format.h"
#include "qcore/sweep.h"

#define SCHEMA "schema/sweep.schema.json"
#define BASE                                                                                       \
    "{\"name\": \"b\", \"model\": {\"arch\": \"lenet5\"}, \"dataset\": {\"name\": "                \
    "\"synthetic\"}}"

static json_t *doc_of(const char *text)
{
    json_error_t je;
    json_t *j = json_loads(text, JSON_REJECT_DUPLICATES, &je);
    cr_assert_not_null(j, "test document: %s: %s", je.text, text);
    return j;
}

/* Expands `text`, which must succeed; returns the specs (caller decrefs). */
static json_t *expand_ok(const char *text, struct qc_sweep_info *info)
{
    struct qc_err err;
    json_t *specs = NULL, *doc = doc_of(text);
    qc_err_clear(&err);
    int rc = qc_sweep_expand(&specs, info, doc, QC_SWEEP_DEFAULT_CAP, &err);
    json_decref(doc);
    cr_assert_eq(rc, QC_OK, "%s: %s\n%s", err.field, err.msg, text);
    cr_assert(json_is_array(specs));
    return specs;
}

/* Expands `text`, which must fail with `code` at `field`. */
static void expand_fails(const char *text, int64_t cap, int code, const char *field)
{
    struct qc_err err;
    json_t *specs = (json_t *)1, *doc = doc_of(text);
    qc_err_clear(&err);
    int rc = qc_sweep_expand(&specs, NULL, doc, cap, &err);
    json_decref(doc);
    cr_expect_eq(rc, code, "rc %d (%s at %s) for %s", rc, err.msg, err.field, text);
    cr_expect_null(specs, "nothing is handed out on failure");
    cr_expect_str_eq(err.field, field, "message: %s", err.msg);
    cr_expect(err.msg[0], "an error has a message");
    json_decref(specs);
}

/* The value at a dotted path of object keys (borrowed). */
static const json_t *at(const json_t *j, const char *path)
{
    char seg[64];
    while (j && *path) {
        size_t n = strcspn(path, ".");
        snprintf(seg, sizeof seg, "%.*s", (int)n, path);
        j = json_object_get(j, seg);
        path += n + (path[n] == '.');
    }
    return j;
}

/* ---- grid ---------------------------------------------------------------- */

Test(sweep, grid_is_the_cartesian_product_last_parameter_fastest)
{
    static const char *const accs[] = {"e6m5", "e5m10"};
    static const int seeds[] = {3, 1, 2};
    struct qc_sweep_info info;
    json_t *specs = expand_ok("{\"name\": \"g\", \"base\": " BASE ", \"parameters\": {"
                              "\"arith.forward.mac.acc\": {\"values\": [\"e6m5\", \"e5m10\"]},"
                              "\"train.seed\": {\"values\": [3, 1, 2]}}}",
                              &info);
    cr_assert_eq(json_array_size(specs), 6);
    cr_expect_eq(info.runs, 6);
    cr_expect_eq(info.method, QC_SWEEP_GRID);
    cr_expect_str_eq(info.name, "g");
    for (size_t i = 0; i < 6; i++) {
        const json_t *s = json_array_get(specs, i);
        char name[64];
        snprintf(name, sizeof name, "g acc=%s seed=%d", accs[i / 3], seeds[i % 3]);
        cr_expect_str_eq(json_string_value(at(s, "name")), name, "run %zu", i);
        cr_expect_str_eq(json_string_value(at(s, "arith.forward.mac.acc")), accs[i / 3]);
        cr_expect_eq(json_integer_value(at(s, "train.seed")), seeds[i % 3]);
        /* Canonical: every default written out. */
        cr_expect(json_is_integer(at(s, "train.batch_size")));
        cr_expect_str_eq(json_string_value(at(s, "dataset.name")), "synthetic");
    }
    json_decref(specs);
}

Test(sweep, grid_count_is_the_product_of_the_value_counts)
{
    struct qc_sweep_info info;
    json_t *specs = expand_ok("{\"name\": \"g\", \"base\": " BASE ", \"parameters\": {"
                              "\"train.seed\": {\"values\": [1, 2]},"
                              "\"train.epochs\": {\"values\": [1, 2, 3]},"
                              "\"train.batch_size\": {\"values\": [16, 32, 64, 128]}}}",
                              &info);
    cr_assert_eq(json_array_size(specs), 24);
    cr_expect_eq(info.runs, 24);
    /* Consecutive runs differ in the last parameter only, except at a wrap. */
    const json_t *a = json_array_get(specs, 0), *b = json_array_get(specs, 1);
    cr_expect_eq(json_integer_value(at(a, "train.seed")), json_integer_value(at(b, "train.seed")));
    cr_expect_eq(json_integer_value(at(a, "train.epochs")),
                 json_integer_value(at(b, "train.epochs")));
    cr_expect_neq(json_integer_value(at(a, "train.batch_size")),
                  json_integer_value(at(b, "train.batch_size")));
    /* Every combination exactly once. */
    for (size_t i = 0; i < 24; i++)
        for (size_t j = i + 1; j < 24; j++)
            cr_expect(!json_equal(json_array_get(specs, i), json_array_get(specs, j)),
                      "runs %zu and %zu are the same", i, j);
    json_decref(specs);
}

Test(sweep, checking_without_expanding_reports_the_count)
{
    struct qc_sweep_info info;
    struct qc_err err;
    json_t *doc = doc_of("{\"name\": \"g\", \"base\": " BASE ", \"priority\": 4, "
                         "\"max_attempts\": 7, \"parameters\": {"
                         "\"train.seed\": {\"values\": [1, 2, 3, 4, 5]}}}");
    cr_assert_eq(qc_sweep_expand(NULL, &info, doc, QC_SWEEP_DEFAULT_CAP, &err), QC_OK, "%s",
                 err.msg);
    cr_expect_eq(info.runs, 5);
    cr_expect_eq(info.priority, 4);
    cr_expect_eq(info.max_attempts, 7);
    cr_expect(!info.early_stop.enabled);
    json_decref(doc);
    doc = doc_of("{\"name\": \"g\", \"base\": " BASE ", \"parameters\": {}}");
    cr_assert_eq(qc_sweep_expand(NULL, &info, doc, QC_SWEEP_DEFAULT_CAP, &err), QC_OK);
    cr_expect_eq(info.runs, 1, "no parameters: the base alone");
    cr_expect_eq(info.priority, 0);
    cr_expect_eq(info.max_attempts, 3);
    json_decref(doc);
}

/* ---- random --------------------------------------------------------------- */

static const char *random_doc(int seed, int samples)
{
    static char text[1024];
    snprintf(text, sizeof text,
             "{\"name\": \"r\", \"base\": " BASE ", \"method\": \"random\", \"samples\": %d, "
             "\"seed\": %d, \"parameters\": {"
             "\"train.optimizer.lr\": {\"min\": 0.001, \"max\": 0.1, \"log\": true},"
             "\"train.batch_size\": {\"min\": 32, \"max\": 256, \"integer\": true},"
             "\"train.optimizer.momentum\": {\"min\": 0.5, \"max\": 0.99},"
             "\"arith.forward.mac.acc\": {\"values\": [\"e6m5\", \"e5m10\", \"fp32\"]}}}",
             samples, seed);
    return text;
}

Test(sweep, random_is_reproducible_for_a_seed_and_differs_across_seeds)
{
    struct qc_sweep_info info;
    json_t *a = expand_ok(random_doc(7, 30), &info);
    json_t *b = expand_ok(random_doc(7, 30), NULL);
    json_t *c = expand_ok(random_doc(8, 30), NULL);
    cr_expect_eq(info.method, QC_SWEEP_RANDOM);
    cr_expect_eq(info.runs, 30);
    cr_assert_eq(json_array_size(a), 30);
    cr_expect(json_equal(a, b), "same document, same runs");
    int same = 0;
    for (size_t i = 0; i < 30; i++)
        same += json_equal(json_array_get(a, i), json_array_get(c, i));
    cr_expect_eq(same, 0, "another seed draws other runs (%d equal)", same);
    /* Fewer samples are a prefix: run i does not depend on the count. */
    json_t *d = expand_ok(random_doc(7, 10), NULL);
    for (size_t i = 0; i < 10; i++)
        cr_expect(json_equal(json_array_get(a, i), json_array_get(d, i)), "run %zu", i);
    json_decref(a);
    json_decref(b);
    json_decref(c);
    json_decref(d);
}

Test(sweep, random_ranges_respect_bounds_log_and_integer)
{
    enum { N = 400 };
    json_t *specs = expand_ok(random_doc(3, N), NULL);
    int below_geo_mean = 0, below_mid = 0, acc_seen[3] = {0};
    static const char *const accs[] = {"e6m5", "e5m10", "fp32"};
    for (size_t i = 0; i < N; i++) {
        const json_t *s = json_array_get(specs, i);
        double lr = json_number_value(at(s, "train.optimizer.lr"));
        double mom = json_number_value(at(s, "train.optimizer.momentum"));
        const json_t *bs = at(s, "train.batch_size");
        cr_assert(lr >= 0.001 && lr <= 0.1, "lr %g", lr);
        cr_assert(mom >= 0.5 && mom <= 0.99, "momentum %g", mom);
        cr_assert(json_is_integer(bs), "integer: true gives integers");
        cr_assert(json_integer_value(bs) >= 32 && json_integer_value(bs) <= 256);
        below_geo_mean += lr < 0.01;
        below_mid += lr < 0.0505;
        const char *acc = json_string_value(at(s, "arith.forward.mac.acc"));
        for (int k = 0; k < 3; k++)
            acc_seen[k] += strcmp(acc, accs[k]) == 0;
    }
    /* Log-uniform: half the draws below the geometric mean 0.01, far more
     * than half below the arithmetic midpoint. */
    cr_expect(below_geo_mean > N * 4 / 10 && below_geo_mean < N * 6 / 10, "%d of %d below 0.01",
              below_geo_mean, N);
    cr_expect_gt(below_mid, N * 8 / 10, "%d of %d below the midpoint", below_mid, N);
    for (int k = 0; k < 3; k++)
        cr_expect(acc_seen[k] > N / 6, "value %s drawn %d times of %d", accs[k], acc_seen[k], N);
    json_decref(specs);
}

/* ---- errors --------------------------------------------------------------- */

Test(sweep, errors_point_into_the_sweep_document)
{
    const int64_t cap = QC_SWEEP_DEFAULT_CAP;
    /* A swept value the spec refuses: that value. */
    expand_fails("{\"name\": \"s\", \"base\": " BASE ", \"parameters\": {\"train.seed\": "
                 "{\"values\": [1, 2]}, \"arith.forward.mac.acc\": {\"values\": "
                 "[\"e6m5\", \"e6m55\"]}}}",
                 cap, QC_EINVAL, "/parameters/arith.forward.mac.acc/values/1");
    expand_fails("{\"name\": \"s\", \"base\": " BASE ", \"parameters\": {\"train.seed\": "
                 "{\"values\": [1, -2, 3]}}}",
                 cap, QC_EINVAL, "/parameters/train.seed/values/1");
    /* A swept object whose inside is wrong still points at the value. */
    expand_fails("{\"name\": \"s\", \"base\": " BASE ", \"parameters\": {\"train.optimizer\": "
                 "{\"values\": [{\"type\": \"sgd\"}, {\"type\": \"sgd\", \"beta1\": 0.9}]}}}",
                 cap, QC_EINVAL, "/parameters/train.optimizer/values/1");
    /* Anything else in a run's spec: under /base. */
    expand_fails("{\"name\": \"s\", \"base\": {\"name\": \"b\", \"model\": {\"arch\": \"lenet5\"},"
                 " \"dataset\": {\"name\": \"synthetic\", \"colour\": 1}}, \"parameters\": "
                 "{\"train.seed\": {\"values\": [1]}}}",
                 cap, QC_EINVAL, "/base/dataset/colour");
    expand_fails("{\"name\": \"s\", \"base\": {\"name\": \"b\", \"model\": {\"arch\": \"lenet5\"}},"
                 " \"parameters\": {}}",
                 cap, QC_EINVAL, "/base/dataset");
    /* A path through a value that is not an object. */
    expand_fails("{\"name\": \"s\", \"base\": " BASE ", \"parameters\": {\"model.arch.depth\": "
                 "{\"values\": [20]}}}",
                 cap, QC_EINVAL, "/parameters/model.arch.depth");
    /* The sweep's own fields. */
    expand_fails("{\"base\": " BASE ", \"parameters\": {}}", cap, QC_EINVAL, "/name");
    expand_fails("{\"name\": \"s\", \"parameters\": {}}", cap, QC_EINVAL, "/base");
    expand_fails("{\"name\": \"s\", \"base\": " BASE "}", cap, QC_EINVAL, "/parameters");
    expand_fails("{\"name\": \"s\", \"base\": " BASE ", \"method\": \"bayes\", \"parameters\": {}}",
                 cap, QC_EINVAL, "/method");
    expand_fails("{\"name\": \"s\", \"base\": " BASE
                 ", \"method\": \"random\", \"parameters\": {}}",
                 cap, QC_EINVAL, "/samples");
    expand_fails("{\"name\": \"s\", \"base\": " BASE ", \"samples\": 3, \"parameters\": {}}", cap,
                 QC_EINVAL, "/samples");
    expand_fails("{\"name\": \"s\", \"base\": " BASE ", \"priority\": 1.5, \"parameters\": {}}",
                 cap, QC_EINVAL, "/priority");
    expand_fails("{\"name\": \"s\", \"base\": " BASE ", \"max_attempts\": 0, \"parameters\": {}}",
                 cap, QC_EINVAL, "/max_attempts");
    /* Parameters. */
    expand_fails("{\"name\": \"s\", \"base\": " BASE ", \"parameters\": {\"train.seed\": "
                 "{\"min\": 1, \"max\": 5}}}",
                 cap, QC_EINVAL, "/parameters/train.seed");
    expand_fails("{\"name\": \"s\", \"base\": " BASE ", \"parameters\": {\"train.seed\": "
                 "{\"values\": []}}}",
                 cap, QC_EINVAL, "/parameters/train.seed/values");
    expand_fails("{\"name\": \"s\", \"base\": " BASE ", \"parameters\": {\"train..seed\": "
                 "{\"values\": [1]}}}",
                 cap, QC_EINVAL, "/parameters/train..seed");
    expand_fails("{\"name\": \"s\", \"base\": " BASE ", \"method\": \"random\", \"samples\": 2, "
                 "\"parameters\": {\"train.optimizer.lr\": {\"min\": 0.1, \"max\": 0.01}}}",
                 cap, QC_EINVAL, "/parameters/train.optimizer.lr");
    expand_fails("{\"name\": \"s\", \"base\": " BASE ", \"method\": \"random\", \"samples\": 2, "
                 "\"parameters\": {\"train.optimizer.lr\": {\"min\": 0, \"max\": 1, "
                 "\"log\": true}}}",
                 cap, QC_EINVAL, "/parameters/train.optimizer.lr");
}

Test(sweep, unknown_keys_are_errors_at_every_level)
{
    const int64_t cap = QC_SWEEP_DEFAULT_CAP;
    expand_fails("{\"name\": \"s\", \"base\": " BASE ", \"parameters\": {}, \"grid\": true}", cap,
                 QC_EINVAL, "/grid");
    expand_fails("{\"name\": \"s\", \"base\": " BASE ", \"parameters\": {\"train.seed\": "
                 "{\"values\": [1], \"step\": 1}}}",
                 cap, QC_EINVAL, "/parameters/train.seed/step");
    expand_fails("{\"name\": \"s\", \"base\": " BASE ", \"parameters\": {}, \"early_stop\": "
                 "{\"patience\": 3}}",
                 cap, QC_EINVAL, "/early_stop/patience");
}

Test(sweep, run_cap_is_checked_before_expanding)
{
    /* 11 x 10 = 110 runs against a cap of 100, and exactly 100. */
    char doc[2048];
    size_t n = (size_t)snprintf(doc, sizeof doc,
                                "{\"name\": \"s\", \"base\": " BASE
                                ", \"parameters\": {\"train.seed\": {\"values\": [");
    for (int i = 0; i < 11; i++)
        n += (size_t)snprintf(doc + n, sizeof doc - n, "%s%d", i ? ", " : "", i);
    snprintf(doc + n, sizeof doc - n,
             "]}, \"train.epochs\": {\"values\": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]}}}");
    expand_fails(doc, 100, QC_ERANGE, "/parameters");
    struct qc_sweep_info info;
    struct qc_err err;
    json_t *specs = NULL, *d = doc_of(doc);
    cr_expect_eq(qc_sweep_expand(&specs, &info, d, 110, &err), QC_OK, "%s", err.msg);
    cr_expect_eq(json_array_size(specs), 110);
    json_decref(specs);
    json_decref(d);
    /* Random sweeps count their samples. */
    expand_fails(random_doc(1, 101), 100, QC_ERANGE, "/samples");

    /* 16 parameters of 1000 values: 10^48 runs must not wrap around. */
    size_t cap = 16 * 1000 * 8 + 512;
    char *big = malloc(cap);
    n = (size_t)snprintf(big, cap, "{\"name\": \"s\", \"base\": " BASE ", \"parameters\": {");
    for (int p = 0; p < 16; p++) {
        n += (size_t)snprintf(big + n, cap - n, "%s\"x.p%d\": {\"values\": [", p ? ", " : "", p);
        for (int v = 0; v < 1000; v++)
            n += (size_t)snprintf(big + n, cap - n, "%s%d", v ? "," : "", v);
        n += (size_t)snprintf(big + n, cap - n, "]}");
    }
    snprintf(big + n, cap - n, "}}");
    expand_fails(big, QC_SWEEP_DEFAULT_CAP, QC_ERANGE, "/parameters");
    free(big);
}

/* ---- early stopping -------------------------------------------------------- */

static struct qc_sweep_early_stop early_stop_of(const char *es)
{
    char text[1024];
    struct qc_sweep_info info;
    struct qc_err err;
    snprintf(text, sizeof text, "{\"name\": \"s\", \"base\": " BASE ", \"parameters\": {}%s%s}",
             es ? ", \"early_stop\": " : "", es ? es : "");
    json_t *doc = doc_of(text);
    int rc = qc_sweep_expand(NULL, &info, doc, QC_SWEEP_DEFAULT_CAP, &err);
    json_decref(doc);
    cr_assert_eq(rc, QC_OK, "%s: %s", err.field, err.msg);
    return info.early_stop;
}

Test(sweep, early_stop_settings_and_defaults)
{
    struct qc_sweep_early_stop es = early_stop_of(
        "{\"metric\": \"train_loss\", \"mode\": \"min\", \"grace_epochs\": 2, \"min_runs\": 4}");
    cr_expect(es.enabled);
    cr_expect_str_eq(es.metric, "train_loss");
    cr_expect(!es.maximize);
    cr_expect_eq(es.grace_epochs, 2);
    cr_expect_eq(es.min_runs, 4);
    es = early_stop_of("{}");
    cr_expect(es.enabled);
    cr_expect_str_eq(es.metric, "val_acc");
    cr_expect(es.maximize);
    cr_expect_eq(es.grace_epochs, 1);
    cr_expect_eq(es.min_runs, 3);
    es = early_stop_of(NULL);
    cr_expect(!es.enabled, "no early_stop, no rule");

    const int64_t cap = QC_SWEEP_DEFAULT_CAP;
    expand_fails("{\"name\": \"s\", \"base\": " BASE ", \"parameters\": {}, \"early_stop\": "
                 "{\"mode\": \"best\"}}",
                 cap, QC_EINVAL, "/early_stop/mode");
    expand_fails("{\"name\": \"s\", \"base\": " BASE ", \"parameters\": {}, \"early_stop\": "
                 "{\"min_runs\": 1}}",
                 cap, QC_EINVAL, "/early_stop/min_runs");
    expand_fails("{\"name\": \"s\", \"base\": " BASE ", \"parameters\": {}, \"early_stop\": "
                 "{\"metric\": \"val acc\"}}",
                 cap, QC_EINVAL, "/early_stop/metric");
    expand_fails("{\"name\": \"s\", \"base\": " BASE ", \"parameters\": {}, \"early_stop\": "
                 "{\"grace_epochs\": -1}}",
                 cap, QC_EINVAL, "/early_stop/grace_epochs");
    expand_fails("{\"name\": \"s\", \"base\": " BASE ", \"parameters\": {}, \"early_stop\": 5}",
                 cap, QC_EINVAL, "/early_stop");
}

Test(sweep, set_path_creates_the_objects_on_the_way)
{
    struct qc_err err;
    json_t *doc = json_object(), *v = json_integer(5);
    cr_assert_eq(qc_sweep_set_path(doc, "a.b.c", v, &err), QC_OK, "%s", err.msg);
    cr_expect_eq(json_integer_value(at(doc, "a.b.c")), 5);
    cr_assert_eq(qc_sweep_set_path(doc, "a.d", v, &err), QC_OK);
    cr_expect_eq(json_object_size(at(doc, "a")), 2, "siblings are kept");
    cr_expect_eq(qc_sweep_set_path(doc, "a.b.c.e", v, &err), QC_EINVAL, "c is a number");
    cr_expect_eq(qc_sweep_set_path(doc, "a..b", v, &err), QC_EINVAL);
    json_decref(v);
    json_decref(doc);
}

/* ---- typed axes ------------------------------------------------------------ */

/* The axes of `text` (must succeed; caller decrefs). */
static json_t *axes_ok(const char *text)
{
    struct qc_err err;
    json_t *axes = NULL, *doc = doc_of(text);
    qc_err_clear(&err);
    int rc = qc_sweep_axes(&axes, doc, &err);
    json_decref(doc);
    cr_assert_eq(rc, QC_OK, "%s: %s\n%s", err.field, err.msg, text);
    return axes;
}

/* The string values of array `a`, joined by spaces, into buf. */
static const char *joined(char *buf, size_t len, const json_t *a)
{
    size_t i, used = 0;
    const json_t *v;
    buf[0] = '\0';
    json_array_foreach(a, i, v)
    {
        char one[64];
        if (json_is_string(v))
            snprintf(one, sizeof one, "%s", json_string_value(v));
        else
            snprintf(one, sizeof one, "%lld", (long long)json_integer_value(v));
        used += (size_t)snprintf(buf + used, len - used, "%s%s", i ? " " : "", one);
        cr_assert_lt(used, len);
    }
    return buf;
}

#define SWEEP_WITH(param) "{\"name\": \"s\", \"base\": " BASE ", \"parameters\": {" param "}}"

Test(sweep, float_family_expands_every_split_ordered_by_bits)
{
    const char *text = SWEEP_WITH("\"arith.forward.mac.acc\": {\"family\": \"eXmY\", "
                                  "\"exp\": [5, 4], \"man\": [3, 2], \"mods\": [\"\", \"nosub\"]}");
    char buf[512];
    json_t *axes = axes_ok(text);
    const json_t *a = json_object_get(axes, "arith.forward.mac.acc");
    cr_expect_str_eq(joined(buf, sizeof buf, json_object_get(a, "values")),
                     "e4m2 e4m2:nosub e4m3 e4m3:nosub e5m2 e5m2:nosub e5m3 e5m3:nosub");
    cr_expect_str_eq(joined(buf, sizeof buf, json_object_get(a, "bits")), "7 7 8 8 8 8 9 9");

    /* The runs get the members in that order, each canonical. */
    struct qc_sweep_info info;
    json_t *specs = expand_ok(text, &info);
    cr_assert_eq(info.runs, 8);
    for (size_t i = 0; i < 8; i++) {
        struct qc_format f;
        const char *member = json_string_value(json_array_get(json_object_get(a, "values"), i));
        cr_assert_eq(qc_format_parse(&f, member, NULL), QC_OK, "%s", member);
        cr_expect_str_eq(json_string_value(at(json_array_get(specs, i), "arith.forward.mac.acc")),
                         f.name, "run %zu", i);
    }
    json_decref(specs);
    json_decref(axes);
}

Test(sweep, fixed_mx_and_bfp_families_and_integer_sequences)
{
    char buf[512];
    json_t *axes = axes_ok(SWEEP_WITH(
        "\"arith.forward.mac.acc\": {\"family\": \"qM.N\", \"bits\": [20, 16], \"int\": [8, 6]}, "
        "\"arith.forward.weights\": {\"family\": \"mx\", \"elem\": [\"fp8_e4m3\", \"fp4_e2m1\"], "
        "\"block\": [32, 16]}, "
        "\"arith.backward.errors\": {\"family\": \"bfp\", \"bits\": [8, 4]}, "
        "\"arith.forward.mac.cfg\": {\"from\": 1, \"to\": 6, \"step\": 2}"));
    const json_t *acc = json_object_get(axes, "arith.forward.mac.acc");
    cr_expect_str_eq(joined(buf, sizeof buf, json_object_get(acc, "values")),
                     "q6.10 q8.8 q6.14 q8.12");
    cr_expect_str_eq(joined(buf, sizeof buf, json_object_get(acc, "bits")), "16 16 20 20");
    const json_t *w = json_object_get(axes, "arith.forward.weights");
    cr_expect_str_eq(joined(buf, sizeof buf, json_object_get(w, "values")),
                     "mxfp4_e2m1@16 mxfp4_e2m1@32 mxfp8_e4m3@16 mxfp8_e4m3@32");
    cr_expect_str_eq(joined(buf, sizeof buf, json_object_get(w, "bits")), "4 4 8 8",
                     "an element's bits for block formats");
    cr_expect_str_eq(
        joined(buf, sizeof buf,
               json_object_get(json_object_get(axes, "arith.backward.errors"), "values")),
        "bfp4@32 bfp8@32", "block 32 by default");
    const json_t *cfg = json_object_get(axes, "arith.forward.mac.cfg");
    cr_expect_str_eq(joined(buf, sizeof buf, json_object_get(cfg, "values")), "1 3 5");
    cr_expect_null(json_object_get(cfg, "bits"), "integers are no formats");
    json_decref(axes);

    struct qc_sweep_info info;
    json_t *specs =
        expand_ok(SWEEP_WITH("\"arith.forward.mac.cfg\": {\"from\": 1, \"to\": 6}"), &info);
    cr_assert_eq(info.runs, 6);
    for (size_t i = 0; i < 6; i++)
        cr_expect_eq(json_integer_value(at(json_array_get(specs, i), "arith.forward.mac.cfg")),
                     (json_int_t)i + 1);
    json_decref(specs);
}

Test(sweep, random_sweeps_draw_from_typed_axes)
{
    struct qc_sweep_info info;
    json_t *specs = expand_ok("{\"name\": \"s\", \"base\": " BASE ", \"method\": \"random\", "
                              "\"samples\": 40, \"parameters\": {\"arith.forward.mac.acc\": "
                              "{\"family\": \"eXmY\", \"exp\": [5, 6], \"man\": [5]}}}",
                              &info);
    int seen[2] = {0, 0};
    for (size_t i = 0; i < 40; i++) {
        const char *acc = json_string_value(at(json_array_get(specs, i), "arith.forward.mac.acc"));
        cr_assert(acc && (!strcmp(acc, "e5m5") || !strcmp(acc, "e6m5")), "%s", acc ? acc : "?");
        seen[!strcmp(acc, "e6m5")]++;
    }
    cr_expect(seen[0] > 0 && seen[1] > 0, "both members drawn: %d %d", seen[0], seen[1]);
    json_decref(specs);
}

Test(sweep, typed_axis_errors_point_into_the_axis)
{
    const int64_t cap = QC_SWEEP_DEFAULT_CAP;
    const char *p = "/parameters/arith.forward.mac.acc";
    char field[128];
    expand_fails(SWEEP_WITH("\"arith.forward.mac.acc\": {\"family\": \"eXmY\", \"exp\": [4, 12], "
                            "\"man\": [2]}"),
                 cap, QC_EINVAL, (snprintf(field, sizeof field, "%s/exp/1", p), field));
    expand_fails(SWEEP_WITH("\"arith.forward.mac.acc\": {\"family\": \"eXmY\", \"exp\": [4]}"), cap,
                 QC_EINVAL, p);
    expand_fails(SWEEP_WITH("\"arith.forward.mac.acc\": {\"family\": \"posit\"}"), cap, QC_EINVAL,
                 (snprintf(field, sizeof field, "%s/family", p), field));
    expand_fails(SWEEP_WITH("\"arith.forward.mac.acc\": {\"family\": \"eXmY\", \"exp\": [4], "
                            "\"man\": [2], \"bias\": [3]}"),
                 cap, QC_EINVAL, (snprintf(field, sizeof field, "%s/bias", p), field));
    expand_fails(SWEEP_WITH("\"arith.forward.mac.acc\": {\"family\": \"qM.N\", \"bits\": [8], "
                            "\"int\": [9]}"),
                 cap, QC_EINVAL, p);
    expand_fails(SWEEP_WITH("\"arith.forward.mac.cfg\": {\"from\": 6, \"to\": 1}"), cap, QC_EINVAL,
                 "/parameters/arith.forward.mac.cfg");
    expand_fails(SWEEP_WITH("\"train.seed\": {\"from\": 0, \"to\": 100000}"), cap, QC_EINVAL,
                 "/parameters/train.seed");
    expand_fails(SWEEP_WITH("\"arith.forward.mac.cfg\": {\"from\": 1, \"to\": 6, \"step\": 0}"),
                 cap, QC_EINVAL, "/parameters/arith.forward.mac.cfg/step");

    /* A member the format parser refuses is named in the message. */
    struct qc_err err;
    json_t *specs = NULL,
           *doc = doc_of(SWEEP_WITH("\"arith.forward.mac.acc\": {\"family\": \"eXmY\", "
                                    "\"exp\": [4], \"man\": [2], \"mods\": [\"\", \"bogus\"]}"));
    cr_expect_eq(qc_sweep_expand(&specs, NULL, doc, cap, &err), QC_EINVAL);
    cr_expect_str_eq(err.field, p);
    cr_expect(strstr(err.msg, "member 'e4m2:bogus'"), "%s", err.msg);
    json_decref(doc);

    /* Twice the same member is refused. */
    doc = doc_of(SWEEP_WITH("\"arith.forward.mac.acc\": {\"family\": \"eXmY\", "
                            "\"exp\": [4, 4], \"man\": [2]}"));
    cr_expect_eq(qc_sweep_expand(&specs, NULL, doc, cap, &err), QC_EINVAL);
    cr_expect(strstr(err.msg, "twice"), "%s", err.msg);
    json_decref(doc);

    /* A member that parses but does not fit where it goes: the spec's
     * error, with the member named and the pointer at the axis. */
    doc = doc_of(SWEEP_WITH("\"arith.forward.mac.acc_rounding\": {\"family\": \"eXmY\", "
                            "\"exp\": [4], \"man\": [2]}"));
    cr_expect_eq(qc_sweep_expand(&specs, NULL, doc, cap, &err), QC_EINVAL);
    cr_expect_str_eq(err.field, "/parameters/arith.forward.mac.acc_rounding");
    cr_expect(strstr(err.msg, "member e4m2: "), "%s", err.msg);
    json_decref(doc);
    cr_expect_null(specs);
}

Test(sweep, comma_separated_paths_get_the_same_value)
{
    struct qc_sweep_info info;
    json_t *specs = expand_ok(
        SWEEP_WITH("\"arith.forward.weights,arith.forward.activations\": {\"family\": \"mx\", "
                   "\"elem\": [\"fp8_e4m3\", \"fp4_e2m1\"]}, \"train.seed\": {\"values\": [1, 2]}"),
        &info);
    cr_assert_eq(info.runs, 4);
    for (size_t i = 0; i < 4; i++) {
        const json_t *run = json_array_get(specs, i);
        const char *w = json_string_value(at(run, "arith.forward.weights"));
        const char *a = json_string_value(at(run, "arith.forward.activations"));
        cr_assert(w && a);
        cr_expect_str_eq(w, a, "run %zu: tied paths differ", i);
        struct qc_format f;
        cr_assert_eq(qc_format_parse(&f, i < 2 ? "mxfp4_e2m1@32" : "mxfp8_e4m3@32", NULL), QC_OK);
        cr_expect_str_eq(w, f.name, "run %zu: %s", i, w);
        cr_expect(strstr(json_string_value(json_object_get(run, "name")), " weights="),
                  "named by the first path: %s", json_string_value(json_object_get(run, "name")));
    }
    json_decref(specs);
    const int64_t cap = QC_SWEEP_DEFAULT_CAP;
    expand_fails(SWEEP_WITH("\"train.seed,\": {\"values\": [1]}"), cap, QC_EINVAL,
                 "/parameters/train.seed,");
    expand_fails(SWEEP_WITH("\"train.seed,,train.epochs\": {\"values\": [1]}"), cap, QC_EINVAL,
                 "/parameters/train.seed,,train.epochs");
    /* An error under the second path points at the parameter. */
    expand_fails(SWEEP_WITH("\"train.seed,train.epochs\": {\"values\": [1, -1]}"), cap, QC_EINVAL,
                 "/parameters/train.seed,train.epochs/values/1");
}

Test(sweep, check_all_reports_every_error_and_points_into_the_sweep)
{
    json_t *doc = doc_of(
        "{\"name\": \"s\", \"base\": {\"name\": \"b\", \"model\": {\"arch\": \"lenet5\"}, "
        "\"dataset\": {\"name\": \"synthetic\"}, \"train\": {\"epochs\": 0}}, \"parameters\": {"
        "\"arith.forward.mac.acc\": {\"family\": \"eXmY\", \"exp\": [4, 12], \"man\": [2]}, "
        "\"train.seed\": {\"values\": [1, -3]}, "
        "\"arith.forward.mac.cfg\": {\"from\": 3, \"to\": 1}}}");
    json_t *errors = NULL;
    struct qc_err first;
    cr_expect_eq(qc_sweep_check_all(&errors, doc, QC_SWEEP_DEFAULT_CAP, 64, &first), QC_EINVAL);
    cr_expect_str_eq(first.field, "/parameters/arith.forward.mac.acc/exp/1");
    cr_assert_eq(json_array_size(errors), 4, "%zu errors", json_array_size(errors));
    const char *want[] = {"/parameters/arith.forward.mac.acc/exp/1",
                          "/parameters/arith.forward.mac.cfg", "/base/train/epochs",
                          "/parameters/train.seed/values/1"};
    for (size_t i = 0; i < 4; i++)
        cr_expect_str_eq(json_string_value(json_object_get(json_array_get(errors, i), "field")),
                         want[i], "error %zu", i);
    json_decref(errors);
    json_decref(doc);
}

/* ---- the schema and the parser agree --------------------------------------- */

/* Whether the parser calls a key unknown at `field` in `doc`. */
static bool refused_as_unknown(const json_t *doc, const char *field)
{
    struct qc_err err;
    qc_err_clear(&err);
    int rc = qc_sweep_expand(NULL, NULL, doc, QC_SWEEP_DEFAULT_CAP, &err);
    return rc < 0 && strcmp(err.field, field) == 0 && strstr(err.msg, "unknown key");
}

/* Sets each property name of `props` to null in the object at the dotted
 * path `container` ("" for the top) of the document `text`: the parser must
 * not call it unknown at `ptr`/name. A name outside `props` must be called
 * unknown. A null value is wrong for most keys, but that is an error about
 * the value, not the key. */
static void check_keys(const json_t *props, const char *text, const char *container,
                       const char *ptr)
{
    const char *key;
    const json_t *v;
    char where[160];
    cr_assert(json_is_object(props) && json_object_size(props) > 0);
    json_object_foreach((json_t *)props, key, v)
    {
        json_t *doc = doc_of(text);
        json_t *obj = (json_t *)at(doc, container);
        cr_assert(json_is_object(obj), "%s", container);
        json_object_set_new(obj, key, json_null());
        snprintf(where, sizeof where, "%s/%s", ptr, key);
        cr_expect(!refused_as_unknown(doc, where),
                  "the schema lists '%s' but the parser refuses "
                  "it",
                  where);
        json_decref(doc);
    }
    json_t *doc = doc_of(text);
    json_object_set_new((json_t *)at(doc, container), "not_in_the_schema", json_null());
    snprintf(where, sizeof where, "%s/not_in_the_schema", ptr);
    cr_expect(refused_as_unknown(doc, where), "a key outside the schema is refused at %s", where);
    json_decref(doc);
}

Test(sweep, schema_and_parser_accept_the_same_keys)
{
    json_error_t je;
    json_t *schema = json_load_file(SCHEMA, JSON_REJECT_DUPLICATES, &je);
    cr_assert_not_null(schema, "%s:%d: %s (run from the repository root)", SCHEMA, je.line,
                       je.text);
    cr_expect(json_is_false(json_object_get(schema, "additionalProperties")));
    const json_t *top = json_object_get(schema, "properties");
    check_keys(top, "{\"name\": \"s\", \"base\": " BASE ", \"parameters\": {}}", "", "");
    check_keys(at(top, "early_stop.properties"),
               "{\"name\": \"s\", \"base\": " BASE ", \"parameters\": {}, \"early_stop\": {}}",
               "early_stop", "/early_stop");
    /* A parameter has several shapes: each shape's keys are accepted with
     * that shape's discriminator ("family") in place. The parameter sits
     * under a key without dots so that `at` can reach it. */
    const json_t *shapes = at(schema, "$defs.parameter.oneOf");
    cr_assert_geq(json_array_size(shapes), 7);
    size_t i;
    const json_t *shape;
    json_array_foreach(shapes, i, shape)
    {
        const json_t *props = json_object_get(shape, "properties");
        const json_t *fam = json_object_get(props, "family");
        char text[1024], family[64] = "";
        if (fam) {
            const json_t *c = json_object_get(fam, "const");
            const char *name =
                c ? json_string_value(c)
                  : json_string_value(json_array_get(json_object_get(fam, "enum"), 0));
            cr_assert_not_null(name, "shape %zu: family needs a const or an enum", i);
            snprintf(family, sizeof family, "\"family\": \"%s\"", name);
        }
        snprintf(text, sizeof text,
                 "{\"name\": \"s\", \"base\": " BASE ", \"method\": \"random\", "
                 "\"samples\": 1, \"parameters\": {\"name\": {%s}}}",
                 family);
        json_t *keys = json_deep_copy(props);
        json_object_del(keys, "family");
        if (json_object_size(keys) > 0)
            check_keys(keys, text, "parameters.name", "/parameters/name");
        json_decref(keys);
    }
    json_decref(schema);
}
