/* Sweep documents: checking them and expanding them into run specs. */
#include "qcore/sweep.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qcore/format.h"
#include "qcore/round.h"
#include "qcore/spec.h"
#include "sweep_impl.h"

/* The generator streams: one per parameter, the run index as the counter. */
#define STREAM_BASE 0x5357454550ull /* "SWEEP" */

struct param {
    const char *path;     /* the dotted path, borrowed from the document */
    const json_t *values; /* array, or NULL for a range */
    json_t *owned;        /* a typed axis's expanded values (== values), or NULL */
    char first[121];      /* the first of the comma-separated paths (run names use it) */
    double min, max;
    bool log, integer;
    int64_t n; /* values, or 0 for a range */
};

struct sweep {
    struct qc_sweep_info info;
    const json_t *base;
    uint64_t seed;
    struct param params[QC_SWEEP_PARAMS_MAX];
    int nparams;
};

static int get_int(int64_t *out, const json_t *o, const char *key, int64_t lo, int64_t hi,
                   const char *where, struct qc_err *err)
{
    const json_t *v = json_object_get(o, key);
    if (!v)
        return QC_OK;
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi) {
        char msg[160];
        snprintf(msg, sizeof msg, "%s must be an integer in %lld..%lld", key, (long long)lo,
                 (long long)hi);
        return qc__sweep_fail_at(err, where, key, msg);
    }
    *out = json_integer_value(v);
    return QC_OK;
}

static int parse_early_stop(struct qc_sweep_early_stop *es, const json_t *o, struct qc_err *err)
{
    static const char *const keys[] = {"metric", "mode", "grace_epochs", "min_runs", NULL};
    int rc;

    if (!json_is_object(o))
        return qc_err_set(err, QC_EINVAL, "/early_stop", "early_stop must be an object");
    if ((rc = qc__sweep_check_keys(o, "/early_stop", keys, err)) < 0)
        return rc;
    es->enabled = true;
    es->maximize = true;
    es->grace_epochs = 1;
    es->min_runs = 3;
    snprintf(es->metric, sizeof es->metric, "val_acc");
    const json_t *m = json_object_get(o, "metric");
    if (m) {
        const char *s = json_string_value(m);
        size_t n = s ? strlen(s) : 0;
        if (!s || n == 0 || n >= sizeof es->metric ||
            strspn(s, "abcdefghijklmnopqrstuvwxyz"
                      "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.") != n)
            return qc_err_set(err, QC_EINVAL, "/early_stop/metric",
                              "metric must be a metric name of 1..63 letters, digits, '_' or '.'");
        memcpy(es->metric, s, n + 1);
    }
    const json_t *mode = json_object_get(o, "mode");
    if (mode) {
        const char *s = json_string_value(mode);
        if (!s || (strcmp(s, "max") != 0 && strcmp(s, "min") != 0))
            return qc_err_set(err, QC_EINVAL, "/early_stop/mode",
                              "mode must be \"max\" or \"min\"");
        es->maximize = strcmp(s, "max") == 0;
    }
    if ((rc = get_int(&es->grace_epochs, o, "grace_epochs", 0, 100000, "/early_stop", err)) < 0 ||
        (rc = get_int(&es->min_runs, o, "min_runs", 2, 100000, "/early_stop", err)) < 0)
        return rc;
    return QC_OK;
}

/* One or more dotted paths separated by commas ("a.b,c.d"): no empty
 * path, no empty segment, 120 characters in all. */
static bool paths_ok(const char *path)
{
    size_t n = strlen(path);
    if (n == 0 || n > 120)
        return false;
    for (const char *c = path; *c; c++) {
        bool starts = c == path || c[-1] == ',' || c[-1] == '.';
        if ((*c == '.' || *c == ',') && (starts || c[1] == '\0'))
            return false;
    }
    return true;
}

static int parse_param(struct param *p, const char *path, const json_t *o,
                       enum qc_sweep_method method, struct qc_err *err)
{
    static const char *const keys[] = {"values", "min", "max", "log", "integer", NULL};
    json_t *axis;
    char where[160], seg[128];
    int rc;

    qc__sweep_escape(seg, sizeof seg, path);
    snprintf(where, sizeof where, "/parameters/%s", seg);
    if (!paths_ok(path))
        return qc_err_set(err, QC_EINVAL, where,
                          "'%.100s' is not a dotted path into the experiment "
                          "(or several, separated by commas)",
                          path);
    if (!json_is_object(o))
        return qc_err_set(err, QC_EINVAL, where,
                          "a parameter must be an object with \"values\", a \"family\" of "
                          "formats, \"from\"/\"to\" integers or, for random sweeps, "
                          "\"min\" and \"max\"");
    memset(p, 0, sizeof *p);
    p->path = path;
    snprintf(p->first, sizeof p->first, "%.*s", (int)strcspn(path, ","), path);
    if ((rc = qc__sweep_axis(&axis, o, where, err)) < 0)
        return rc;
    if (rc == 1) {
        p->values = p->owned = axis;
        p->n = (int64_t)json_array_size(axis);
        return QC_OK;
    }
    if ((rc = qc__sweep_check_keys(o, where, keys, err)) < 0)
        return rc;
    p->values = json_object_get(o, "values");
    if (p->values) {
        if (json_object_size(o) != 1)
            return qc_err_set(err, QC_EINVAL, where, "\"values\" cannot be combined with a range");
        size_t n = json_array_size(p->values);
        if (!json_is_array(p->values) || n == 0 || n > QC_SWEEP_VALUES_MAX)
            return qc__sweep_fail_at(err, where, "values",
                                     "values must be an array of 1..1000 values");
        p->n = (int64_t)n;
        return QC_OK;
    }
    if (method != QC_SWEEP_RANDOM)
        return qc_err_set(err, QC_EINVAL, where, "grid parameters need \"values\"");
    const json_t *mn = json_object_get(o, "min"), *mx = json_object_get(o, "max");
    if (!json_is_number(mn) || !json_is_number(mx) ||
        !(json_number_value(mn) < json_number_value(mx)))
        return qc_err_set(err, QC_EINVAL, where, "a range needs numbers min < max");
    p->min = json_number_value(mn);
    p->max = json_number_value(mx);
    const json_t *lg = json_object_get(o, "log"), *in = json_object_get(o, "integer");
    if ((lg && !json_is_boolean(lg)) || (in && !json_is_boolean(in)))
        return qc_err_set(err, QC_EINVAL, where, "log and integer must be true or false");
    p->log = json_is_true(lg);
    p->integer = json_is_true(in);
    if (p->log && p->min <= 0)
        return qc_err_set(err, QC_EINVAL, where, "a log range needs min > 0");
    return QC_OK;
}

static int parse(struct sweep *sw, const json_t *doc, int64_t cap, struct qc_err *err)
{
    static const char *const keys[] = {"name",     "description",  "base",       "method",
                                       "samples",  "seed",         "parameters", "early_stop",
                                       "priority", "max_attempts", NULL};
    int rc;

    memset(sw, 0, sizeof *sw);
    if (!json_is_object(doc))
        return qc_err_set(err, QC_EINVAL, "", "a sweep must be a JSON object");
    if ((rc = qc__sweep_check_keys(doc, "", keys, err)) < 0)
        return rc;
    const char *name = json_string_value(json_object_get(doc, "name"));
    if (!name || !name[0] || strlen(name) > 128)
        return qc_err_set(err, QC_EINVAL, "/name", "name must be a string of 1..128 characters");
    for (const char *c = name; *c; c++)
        if (*c < ' ' || *c > '~')
            return qc_err_set(err, QC_EINVAL, "/name", "name must be printable ASCII");
    snprintf(sw->info.name, sizeof sw->info.name, "%s", name);
    sw->base = json_object_get(doc, "base");
    if (!json_is_object(sw->base))
        return qc_err_set(err, QC_EINVAL, "/base", "base must be an experiment object");

    const json_t *m = json_object_get(doc, "method");
    const char *ms = m ? json_string_value(m) : "grid";
    if (!ms || (strcmp(ms, "grid") != 0 && strcmp(ms, "random") != 0))
        return qc_err_set(err, QC_EINVAL, "/method", "method must be \"grid\" or \"random\"");
    sw->info.method = strcmp(ms, "grid") == 0 ? QC_SWEEP_GRID : QC_SWEEP_RANDOM;

    int64_t samples = 0, seed = 1;
    sw->info.max_attempts = 3;
    if ((rc = get_int(&samples, doc, "samples", 1, INT64_MAX, "", err)) < 0 ||
        (rc = get_int(&seed, doc, "seed", 0, INT64_MAX, "", err)) < 0 ||
        (rc = get_int(&sw->info.priority, doc, "priority", -1000000, 1000000, "", err)) < 0 ||
        (rc = get_int(&sw->info.max_attempts, doc, "max_attempts", 1, 100, "", err)) < 0)
        return rc;
    sw->seed = (uint64_t)seed;
    if (sw->info.method == QC_SWEEP_RANDOM && samples == 0)
        return qc_err_set(err, QC_EINVAL, "/samples", "a random sweep needs samples (>= 1)");
    if (sw->info.method == QC_SWEEP_GRID && json_object_get(doc, "samples"))
        return qc_err_set(err, QC_EINVAL, "/samples", "samples applies to random sweeps only");

    const json_t *params = json_object_get(doc, "parameters");
    if (!json_is_object(params))
        return qc_err_set(err, QC_EINVAL, "/parameters",
                          "parameters must be an object of dotted "
                          "paths");
    if (json_object_size(params) > QC_SWEEP_PARAMS_MAX)
        return qc_err_set(err, QC_EINVAL, "/parameters", "at most %d parameters",
                          QC_SWEEP_PARAMS_MAX);
    const char *path;
    const json_t *pv;
    json_object_foreach((json_t *)params, path, pv)
    {
        rc = parse_param(&sw->params[sw->nparams], path, pv, sw->info.method, err);
        sw->nparams++; /* counted even on failure: sweep_free releases what it holds */
        if (rc < 0)
            return rc;
    }

    /* The count first, so a huge grid is refused before anything is built. */
    int64_t runs = 1;
    if (sw->info.method == QC_SWEEP_RANDOM) {
        runs = samples;
    } else {
        for (int i = 0; i < sw->nparams; i++)
            runs = runs > cap / sw->params[i].n ? cap + 1 : runs * sw->params[i].n;
    }
    sw->info.runs = runs;
    if (runs > cap)
        return qc_err_set(err, QC_ERANGE,
                          sw->info.method == QC_SWEEP_GRID ? "/parameters" : "/samples",
                          "the sweep expands to more than %lld runs, the limit", (long long)cap);

    const json_t *es = json_object_get(doc, "early_stop");
    if (es && (rc = parse_early_stop(&sw->info.early_stop, es, err)) < 0)
        return rc;
    return QC_OK;
}

/* The value of parameter `p` in run `r` (new reference). */
static json_t *value_of(const struct sweep *sw, int pi, int64_t r, int64_t *index)
{
    const struct param *p = &sw->params[pi];
    *index = -1;
    if (sw->info.method == QC_SWEEP_GRID) {
        for (int i = sw->nparams - 1; i > pi; i--)
            r /= sw->params[i].n;
        *index = r % p->n;
        return json_deep_copy(json_array_get(p->values, (size_t)*index));
    }
    uint64_t u = qc_rng_u64(sw->seed, STREAM_BASE + (uint64_t)pi, (uint64_t)r);
    if (p->values) {
        *index = (int64_t)(u % (uint64_t)p->n);
        return json_deep_copy(json_array_get(p->values, (size_t)*index));
    }
    double x = (double)(u >> 11) * 0x1p-53;
    double v = p->log ? exp(log(p->min) + x * (log(p->max) - log(p->min)))
                      : p->min + x * (p->max - p->min);
    return p->integer ? json_integer((json_int_t)llround(v)) : json_real(v);
}

int qc_sweep_set_path(json_t *doc, const char *path, const json_t *value, struct qc_err *err)
{
    char seg[128];
    json_t *o = doc;
    const char *s = path;

    for (;;) {
        const char *dot = strchr(s, '.');
        size_t n = dot ? (size_t)(dot - s) : strlen(s);
        if (n == 0 || n >= sizeof seg)
            return qc_err_set(err, QC_EINVAL, "", "'%.100s' is not a dotted path", path);
        memcpy(seg, s, n);
        seg[n] = '\0';
        if (!dot) {
            json_t *copy = json_deep_copy(value);
            if (!copy || json_object_set_new(o, seg, copy) < 0)
                return qc_err_set(err, QC_ENOMEM, "", "out of memory");
            return QC_OK;
        }
        json_t *next = json_object_get(o, seg);
        if (!next) {
            next = json_object();
            if (!next || json_object_set_new(o, seg, next) < 0)
                return qc_err_set(err, QC_ENOMEM, "", "out of memory");
        } else if (!json_is_object(next)) {
            return qc_err_set(err, QC_EINVAL, "", "'%.100s': '%s' is not an object in the base",
                              path, seg);
        }
        o = next;
        s = dot + 1;
    }
}

/* The shortest dotted suffix of parameter i's (first) path that no other
 * parameter's path ends with: "acc" alone, or "forward.mac.acc" beside
 * "backward.mac.acc". */
static const char *short_key(const struct sweep *sw, int i)
{
    const char *path = sw->params[i].first, *key = path + strlen(path);
    for (;;) {
        while (key > path && key[-1] != '.')
            key--;
        bool unique = true;
        for (int j = 0; j < sw->nparams && unique; j++) {
            const char *other = sw->params[j].first;
            size_t ol = strlen(other), kl = strlen(key);
            unique = j == i || ol < kl || strcmp(other + ol - kl, key) != 0 ||
                     (ol > kl && other[ol - kl - 1] != '.');
        }
        if (unique || key == path)
            return key;
        key--; /* step over the '.' to take one more segment */
    }
}

/* Appends " key=value" to a run name. */
static void name_append(char *name, size_t len, const char *key, const json_t *v)
{
    char val[48];
    if (json_is_string(v))
        snprintf(val, sizeof val, "%s", json_string_value(v));
    else if (json_is_integer(v))
        snprintf(val, sizeof val, "%lld", (long long)json_integer_value(v));
    else if (json_is_real(v))
        snprintf(val, sizeof val, "%.4g", json_real_value(v));
    else {
        char *t = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        snprintf(val, sizeof val, "%s", t ? t : "?");
        free(t);
    }
    size_t used = strlen(name);
    if (used < len)
        snprintf(name + used, len - used, " %s=%s", key, val);
}

/* Whether JSON pointer `field` lies at or under one of the comma-separated
 * dotted `paths`. */
static bool under_param(const char *field, const char *paths)
{
    for (const char *p = paths; *p;) {
        char ptr[160];
        size_t n = 0;
        ptr[n++] = '/';
        for (; *p && *p != ',' && n + 1 < sizeof ptr; p++)
            ptr[n++] = *p == '.' ? '/' : *p;
        ptr[n] = '\0';
        if (*p == ',')
            p++;
        if (strncmp(field, ptr, n) == 0 && (field[n] == '\0' || field[n] == '/'))
            return true;
    }
    return false;
}

/* Maps an error inside run `r`'s spec to the sweep document. */
static void refile_error(struct qc_err *err, const struct sweep *sw, int64_t r)
{
    if (!err)
        return;
    for (int i = 0; i < sw->nparams; i++) {
        if (under_param(err->field, sw->params[i].path)) {
            char seg[128];
            int64_t index;
            json_t *v = value_of(sw, i, r, &index);
            qc__sweep_escape(seg, sizeof seg, sw->params[i].path);
            if (sw->params[i].owned) {
                /* A typed axis has no "values" to point into: name the member. */
                char msg[sizeof err->msg];
                snprintf(msg, sizeof msg, "%s", err->msg);
                snprintf(err->msg, sizeof err->msg, "member %.60s: %.300s",
                         json_is_string(v) ? json_string_value(v) : "?", msg);
                index = -1;
            }
            json_decref(v);
            if (index >= 0)
                snprintf(err->field, sizeof err->field, "/parameters/%s/values/%lld", seg,
                         (long long)index);
            else
                snprintf(err->field, sizeof err->field, "/parameters/%s", seg);
            return;
        }
    }
    qc_err_prefix_field(err, "/base");
}

/* qc_sweep_set_path for each of the comma-separated paths. */
static int set_paths(json_t *run, const char *paths, const json_t *v, struct qc_err *err)
{
    char one[121];
    for (const char *p = paths; *p;) {
        size_t n = strcspn(p, ",");
        snprintf(one, sizeof one, "%.*s", (int)n, p);
        int rc = qc_sweep_set_path(run, one, v, err);
        if (rc < 0)
            return rc;
        p += n + (p[n] == ',');
    }
    return QC_OK;
}

static void sweep_free(struct sweep *sw)
{
    for (int i = 0; i < sw->nparams; i++)
        json_decref(sw->params[i].owned);
    sw->nparams = 0;
}

int qc_sweep_expand(json_t **specs_out, struct qc_sweep_info *info, const json_t *doc, int64_t cap,
                    struct qc_err *err)
{
    struct sweep sw;
    struct qc_spec *spec = NULL;
    json_t *out = NULL, *run = NULL;
    int rc;

    if (specs_out)
        *specs_out = NULL;
    if ((rc = parse(&sw, doc, cap, err)) < 0)
        goto fail;
    if (info)
        *info = sw.info;
    if (!specs_out) {
        sweep_free(&sw);
        return QC_OK;
    }

    spec = malloc(sizeof *spec); /* ~80 KB: not on the stack */
    out = json_array();
    if (!spec || !out) {
        rc = qc_err_set(err, QC_ENOMEM, "", "out of memory");
        goto fail;
    }
    for (int64_t r = 0; r < sw.info.runs; r++) {
        char name[QC_SPEC_NAME_MAX + 1];
        snprintf(name, sizeof name, "%s", sw.info.name);
        run = json_deep_copy(sw.base);
        if (!run) {
            rc = qc_err_set(err, QC_ENOMEM, "", "out of memory");
            goto fail;
        }
        for (int i = 0; i < sw.nparams; i++) {
            int64_t index;
            json_t *v = value_of(&sw, i, r, &index);
            rc = v ? set_paths(run, sw.params[i].path, v, err)
                   : qc_err_set(err, QC_ENOMEM, "", "out of memory");
            if (v)
                name_append(name, sizeof name, short_key(&sw, i), v);
            json_decref(v);
            if (rc < 0) {
                char seg[128];
                qc__sweep_escape(seg, sizeof seg, sw.params[i].path);
                if (err)
                    snprintf(err->field, sizeof err->field, "/parameters/%s", seg);
                goto fail;
            }
        }
        json_object_set_new(run, "name", json_string(name));
        if ((rc = qc_spec_from_json(spec, run, err)) < 0) {
            refile_error(err, &sw, r);
            goto fail;
        }
        json_decref(run);
        run = qc_spec_to_json(spec);
        if (!run || json_array_append_new(out, run) < 0) {
            run = NULL;
            rc = qc_err_set(err, QC_ENOMEM, "", "out of memory");
            goto fail;
        }
        run = NULL;
    }
    free(spec);
    sweep_free(&sw);
    *specs_out = out;
    return QC_OK;
fail:
    json_decref(run);
    json_decref(out);
    free(spec);
    sweep_free(&sw);
    return rc;
}

/* "bits" for an axis whose values are all format strings, else NULL. */
static json_t *axis_bits(const json_t *values)
{
    json_t *bits = json_array();
    size_t i;
    const json_t *v;

    json_array_foreach(values, i, v)
    {
        struct qc_format f;
        if (!bits || !json_is_string(v) || qc_format_parse(&f, json_string_value(v), NULL) < 0 ||
            json_array_append_new(bits, json_integer(f.bits)) < 0) {
            json_decref(bits);
            return NULL;
        }
    }
    return bits;
}

int qc_sweep_axes(json_t **out, const json_t *doc, struct qc_err *err)
{
    struct sweep sw;
    json_t *axes = NULL;
    int rc;

    *out = NULL;
    if ((rc = parse(&sw, doc, INT64_MAX, err)) < 0)
        goto out;
    axes = json_object();
    for (int i = 0; axes && i < sw.nparams; i++) {
        const struct param *p = &sw.params[i];
        json_t *a = json_object();
        if (!a || json_object_set_new(axes, p->path, a) < 0) {
            json_decref(axes);
            axes = NULL;
            break;
        }
        if (p->values) {
            json_object_set_new(a, "values", json_deep_copy(p->values));
            json_t *bits = axis_bits(p->values);
            if (bits)
                json_object_set_new(a, "bits", bits);
        } else {
            json_object_set_new(a, "min", json_real(p->min));
            json_object_set_new(a, "max", json_real(p->max));
            json_object_set_new(a, "log", json_boolean(p->log));
            json_object_set_new(a, "integer", json_boolean(p->integer));
        }
    }
    if (!axes) {
        rc = qc_err_set(err, QC_ENOMEM, "", "out of memory");
        goto out;
    }
    *out = axes;
    rc = QC_OK;
out:
    sweep_free(&sw);
    return rc;
}
