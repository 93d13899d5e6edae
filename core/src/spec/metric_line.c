/* The metric-line-to-points mapping (see qcore/metric_line.h). */
#include "qcore/metric_line.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct acc {
    struct qc_metric_point *p;
    int n, cap, nonfinite;
    int64_t step;
    bool oom;
};

static bool name_ok(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '_'))
            return false;
    return true;
}

/* jansson parses only finite numbers (it refuses 1e400), so `v` is one. */
static void add(struct acc *a, const char *name, double v)
{
    const size_t len = strlen(name);
    if (len >= QC_METRIC_NAME_MAX || !name_ok(name))
        return; /* not a name the server could key on; the core never writes one */
    if (a->n == a->cap) {
        int cap = a->cap ? a->cap * 2 : 32;
        struct qc_metric_point *p = realloc(a->p, (size_t)cap * sizeof *p);
        if (!p) {
            a->oom = true;
            return;
        }
        a->p = p;
        a->cap = cap;
    }
    struct qc_metric_point *pt = &a->p[a->n++];
    pt->step = a->step;
    pt->value = v;
    memcpy(pt->name, name, len + 1);
}

/* Walks an object; `prefix` ("" or "epoch_fwd_") is prepended to each key. */
static void walk(struct acc *a, const json_t *obj, const char *prefix, int depth)
{
    const char *key;
    json_t *v;
    char name[2 * QC_METRIC_NAME_MAX];

    json_object_foreach((json_t *)obj, key, v)
    {
        if (depth == 0 && (!strcmp(key, "kind") || !strcmp(key, "step")))
            continue;
        const char *k = key;
        if (depth == 0 && !strcmp(key, "skipped"))
            k = "skipped_steps";
        snprintf(name, sizeof name, "%s%s", prefix, k);
        if (json_is_number(v))
            add(a, name, json_number_value(v));
        else if (json_is_null(v))
            a->nonfinite++; /* the core writes NaN and infinity as null */
        else if (json_is_object(v) && depth < 3) {
            char sub[2 * QC_METRIC_NAME_MAX + 2];
            snprintf(sub, sizeof sub, "%s_", name);
            walk(a, v, sub, depth + 1);
        }
    }
}

int qc_metric_line_points(struct qc_metric_point **out, int *n, int *nonfinite, const char *line,
                          struct qc_err *err)
{
    json_error_t jerr;
    struct acc a = {0};
    json_t *root = json_loads(line, JSON_REJECT_DUPLICATES, &jerr);
    int rc = 0;

    *out = NULL;
    *n = *nonfinite = 0;
    if (!root || !json_is_object(root)) {
        rc = qc_err_set(err, QC_EINVAL, "", "metric line is not a JSON object: %s",
                        root ? "not an object" : jerr.text);
        goto out;
    }
    json_t *step = json_object_get(root, "step");
    if (!json_is_integer(step)) {
        rc = qc_err_set(err, QC_EINVAL, "/step", "metric line has no integer step");
        goto out;
    }
    a.step = json_integer_value(step);
    const char *kind = json_string_value(json_object_get(root, "kind"));
    if (!kind || !strcmp(kind, "step")) {
        walk(&a, root, "", 0);
    } else if (!strcmp(kind, "epoch")) {
        /* val_* are unique to the epoch line; the rest repeat names of the
         * step line at the same step with epoch-wide values. */
        const char *key;
        json_t *v;
        json_t *val = json_object(), *rest = json_object();
        if (!val || !rest) {
            json_decref(val);
            json_decref(rest);
            a.oom = true;
        } else {
            json_object_foreach(root, key, v)
            {
                if (!strcmp(key, "epoch"))
                    continue; /* the step line carries it already */
                json_object_set(strncmp(key, "val_", 4) == 0 ? val : rest, key, v);
            }
            walk(&a, val, "", 0);
            walk(&a, rest, "epoch_", 0);
            json_decref(val);
            json_decref(rest);
        }
    } else {
        char prefix[QC_METRIC_NAME_MAX];
        snprintf(prefix, sizeof prefix, "%s_", kind);
        walk(&a, root, prefix, 0);
    }
    if (a.oom) {
        free(a.p);
        a.p = NULL;
        a.n = 0;
        rc = qc_err_set(err, QC_ENOMEM, "", "out of memory for metric points");
        goto out;
    }
    *out = a.p;
    *n = a.n;
    *nonfinite = a.nonfinite;
out:
    json_decref(root);
    return rc;
}
