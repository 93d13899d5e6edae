/* Validation that tells everything: POST /experiments/validate and
 * /sweeps/validate answer 200 with every error of the document at once
 * (qc_spec_check_all, qc_sweep_check_all) and warnings about the workers
 * registered now (no device of the kind a spec asks for, its dataset
 * installed nowhere). The same error lists ride in the 400 of a refused
 * submission (srv_spec_errors). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qcore/spec.h"
#include "qcore/sweep.h"
#include "server/srv.h"
#include "server/store.h"

#define ERRORS_MAX 64

json_t *srv_warnings_for(struct srv_req *r, const json_t *specs)
{
    json_t *w = NULL;
    struct qc_err err;
    struct srv_conn *c = srv_db_reader(&r->srv->db);
    if (!c || srv_spec_warnings(&w, c, specs, &err) < 0) {
        json_decref(w);
        return json_array(); /* advice only: a failed look-up must not refuse a submission */
    }
    return w;
}

void srv_spec_errors(struct srv_req *r, const json_t *doc, bool sweep)
{
    json_t *errors = NULL;
    int rc = sweep ? qc_sweep_check_all(&errors, doc, r->srv->cfg.max_sweep_runs, ERRORS_MAX, NULL)
                   : qc_spec_check_all(&errors, doc, ERRORS_MAX, NULL);
    (void)rc; /* the list is what matters; the caller reports the first error */
    json_decref(r->errors);
    r->errors = errors;
}

static json_t *warning(const char *code, const char *field, const char *msg)
{
    return json_pack("{s:s,s:s,s:s}", "code", code, "field", field, "message", msg);
}

/* Whether device list `devs` has a device a run asking for `kind` and
 * `board` may lease (the lease query's rule: any matches every kind). */
static bool has_device(const json_t *devs, const char *kind, const char *board)
{
    size_t i;
    const json_t *d;
    json_array_foreach(devs, i, d)
    {
        const char *k = json_string_value(json_object_get(d, "kind"));
        const char *b = json_string_value(json_object_get(d, "board"));
        if (!k || (strcmp(kind, "any") != 0 && strcmp(kind, k) != 0))
            continue;
        if (board && board[0] && (!b || strcmp(board, b) != 0))
            continue;
        return true;
    }
    return false;
}

/* Appends to `out` the warnings for canonical spec `spec` against the
 * registered workers (reader connection). Each distinct problem once:
 * `seen` (an object) remembers the messages already given. */
static int spec_warnings(json_t *out, json_t *seen, struct srv_conn *c, const json_t *spec,
                         struct qc_err *err)
{
    static const char sql[] = "SELECT name, devices, datasets FROM workers ORDER BY id";
    const json_t *dev = json_object_get(spec, "device"), *ds = json_object_get(spec, "dataset");
    const char *kind = json_string_value(json_object_get(dev, "kind"));
    const char *board = json_string_value(json_object_get(dev, "board"));
    const char *dname = json_string_value(json_object_get(ds, "name"));
    const char *ddir = json_string_value(json_object_get(ds, "dir"));
    int nworkers = 0, capable = 0, has_data = 0;
    char who[256] = "";
    json_t *w = NULL;
    if (!kind)
        kind = "any";
    /* Synthetic data is generated anywhere; a spec naming its own directory
     * says where the files are, which the workers' lists cannot. */
    bool check_data = dname && strncmp(dname, "synthetic", 9) != 0 && !(ddir && ddir[0]);

    sqlite3_stmt *st = srv_stmt(c, sql, err);
    if (!st)
        return QC_EIO;
    while (sqlite3_step(st) == SQLITE_ROW) {
        nworkers++;
        json_t *devs = json_loads((const char *)sqlite3_column_text(st, 1), 0, NULL);
        bool ok = has_device(devs, kind, board);
        json_decref(devs);
        if (!ok)
            continue;
        capable++;
        const char *dt = (const char *)sqlite3_column_text(st, 2);
        json_t *list = dt ? json_loads(dt, 0, NULL) : NULL;
        bool found = !list; /* a worker that does not say might have it */
        size_t i;
        const json_t *x;
        json_array_foreach(list, i, x) found = found || strcmp(json_string_value(x), dname) == 0;
        if (found) {
            has_data++;
        } else {
            size_t n = strlen(who);
            snprintf(who + n, sizeof who - n, "%s%s", n ? ", " : "",
                     (const char *)sqlite3_column_text(st, 0));
        }
        json_decref(list);
    }
    sqlite3_reset(st);
    char msg[512];
    if (nworkers == 0) {
        w = warning("no_workers", "",
                    "no worker is registered: the run waits in the queue until one joins");
    } else if (capable == 0) {
        if (strcmp(kind, "any") == 0)
            snprintf(msg, sizeof msg, "no registered worker has a device");
        else
            snprintf(msg, sizeof msg,
                     "no registered worker has a %s device%s%s: the run waits in the queue "
                     "until one joins",
                     kind, board && board[0] ? " on board " : "", board && board[0] ? board : "");
        w = warning("no_device", "/device/kind", msg);
    } else if (check_data && has_data == 0) {
        snprintf(msg, sizeof msg,
                 "no registered worker that can run it has the dataset '%s' installed (workers "
                 "without it: %s)",
                 dname, who);
        w = warning("no_dataset", "/dataset/name", msg);
    }
    if (w) {
        const char *m = json_string_value(json_object_get(w, "message"));
        if (!json_object_get(seen, m)) {
            json_object_set_new(seen, m, json_true());
            json_array_append(out, w);
        }
        json_decref(w);
    }
    return QC_OK;
}

static const char *str_of(const json_t *v)
{
    return json_is_string(v) ? json_string_value(v) : "";
}

int srv_spec_warnings(json_t **out, struct srv_conn *c, const json_t *specs, struct qc_err *err)
{
    json_t *seen = json_object(), *done = json_object();
    size_t i;
    const json_t *spec;
    int rc = QC_OK;
    *out = json_array();
    json_array_foreach(specs, i, spec)
    {
        /* What the warnings depend on; a sweep's runs mostly share it. */
        const json_t *dev = json_object_get(spec, "device"), *ds = json_object_get(spec, "dataset");
        char key[600];
        snprintf(key, sizeof key, "%s|%s|%s|%s", str_of(json_object_get(dev, "kind")),
                 str_of(json_object_get(dev, "board")), str_of(json_object_get(ds, "name")),
                 str_of(json_object_get(ds, "dir")));
        if (json_object_get(done, key))
            continue;
        json_object_set_new(done, key, json_true());
        if ((rc = spec_warnings(*out, seen, c, spec, err)) < 0)
            break;
    }
    json_decref(done);
    json_decref(seen);
    return rc;
}

int srv_route_experiment_validate(struct srv_req *r)
{
    struct qc_spec *spec = malloc(sizeof *spec); /* ~80 KB: not on a pool thread's stack */
    json_t *errors = NULL, *warnings = NULL, *canon = NULL, *specs = NULL;
    struct qc_err first;
    int rc;
    json_t *doc = spec ? srv_body_json(r) : NULL;
    if (!spec) {
        rc = srv_fail(r, QC_ENOMEM, NULL, "", "out of memory");
        goto out;
    }
    if (!doc) {
        rc = QC_EINVAL;
        goto out;
    }
    qc_err_clear(&first);
    if (qc_spec_check_all(&errors, doc, ERRORS_MAX, &first) == QC_OK &&
        qc_spec_from_json(spec, doc, &first) == QC_OK)
        canon = qc_spec_to_json(spec);
    if (!errors) {
        rc = srv_fail(r, QC_ENOMEM, NULL, "", "out of memory");
        goto out;
    }
    struct srv_conn *c = srv_db_reader(&r->srv->db);
    if (!c) {
        rc = srv_fail(r, QC_EIO, NULL, "", "database: cannot open a reader");
        goto out;
    }
    specs = json_array();
    if (canon)
        json_array_append(specs, canon);
    if ((rc = srv_spec_warnings(&warnings, c, specs, &r->err)) < 0)
        goto out;
    rc = srv_reply(r, 200,
                   json_pack("{s:b,s:O,s:O,s:O}", "valid", json_array_size(errors) == 0 && canon,
                             "errors", errors, "warnings", warnings, "spec",
                             canon ? canon : json_null()));
out:
    json_decref(specs);
    json_decref(errors);
    json_decref(warnings);
    json_decref(canon);
    json_decref(doc);
    free(spec);
    return rc;
}

int srv_route_sweep_validate(struct srv_req *r)
{
    json_t *errors = NULL, *warnings = NULL, *specs = NULL, *axes = NULL;
    struct qc_sweep_info info;
    struct qc_err first;
    int rc;
    json_t *doc = srv_body_json(r);
    if (!doc)
        return QC_EINVAL;
    qc_err_clear(&first);
    memset(&info, 0, sizeof info);
    int crc = qc_sweep_check_all(&errors, doc, r->srv->cfg.max_sweep_runs, ERRORS_MAX, &first);
    if (crc == QC_OK &&
        qc_sweep_expand(&specs, &info, doc, r->srv->cfg.max_sweep_runs, &first) == QC_OK)
        qc_sweep_axes(&axes, doc, NULL);
    if (!errors) {
        rc = srv_fail(r, QC_ENOMEM, NULL, "", "out of memory");
        goto out;
    }
    struct srv_conn *c = srv_db_reader(&r->srv->db);
    if (!c) {
        rc = srv_fail(r, QC_EIO, NULL, "", "database: cannot open a reader");
        goto out;
    }
    if ((rc = srv_spec_warnings(&warnings, c, specs, &r->err)) < 0)
        goto out;
    bool valid = json_array_size(errors) == 0 && specs;
    rc = srv_reply(r, 200,
                   json_pack("{s:b,s:O,s:O,s:o,s:O}", "valid", valid, "errors", errors, "warnings",
                             warnings, "runs", valid ? json_integer(info.runs) : json_null(),
                             "axes", axes ? axes : json_null()));
out:
    json_decref(errors);
    json_decref(warnings);
    json_decref(specs);
    json_decref(axes);
    json_decref(doc);
    return rc;
}
