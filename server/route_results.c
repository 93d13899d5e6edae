/* GET /sweeps/{id}/results: one row per run of a sweep, as JSON or CSV,
 * with the same columns either way (docs/api.md, "Results"): the run's
 * fields, the swept parameters, the final and best value of each metric,
 * the cost fields, then every other spec field by its dotted path. It is
 * the table the Python client turns into a DataFrame and `qlab export`
 * writes. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qcore/sweep.h"
#include "server/filter.h"
#include "server/srv.h"
#include "server/store.h"

/* The run fields, in column order, as srv_run_json names them, plus the
 * derived "duration". */
static const char *const run_fields[] = {
    "id",      "name",     "state",    "sweep", "worker",       "device", "attempt", "created",
    "started", "finished", "duration", "error", "submitted_by", "tags",   "imported"};

/* An ordered set of column names (a JSON object used as a set keeps the
 * insertion order: jansson preserves it). */
static void col_add(json_t *cols, const char *name)
{
    if (!json_object_get(cols, name))
        json_object_set_new(cols, name, json_true());
}

/* Flattens `v` into row[prefix...] with dotted keys; arrays and scalars are
 * leaves. Records each key in `cols` (may be NULL). */
static void flatten(json_t *row, json_t *cols, const char *prefix, const json_t *v)
{
    if (json_is_object(v) && json_object_size(v) > 0) {
        const char *k;
        json_t *x;
        json_object_foreach((json_t *)v, k, x)
        {
            char key[512];
            snprintf(key, sizeof key, "%s%s%s", prefix, prefix[0] ? "." : "", k);
            flatten(row, cols, key, x);
        }
        return;
    }
    if (!prefix[0])
        return;
    json_object_set(row, prefix, (json_t *)v);
    if (cols)
        col_add(cols, prefix);
}

/* The metrics whose best value is reported: evaluation metrics (val_*) and
 * the sweep's early-stopping metric. */
static bool wants_best(const char *name, const char *es_metric)
{
    return strncmp(name, "val_", 4) == 0 || (es_metric[0] && strcmp(name, es_metric) == 0);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

struct table {
    json_t *rows; /* array of objects, one per run */
    json_t *cols; /* ordered set of every column */
};

/* Builds the table of sweep `sweep_id` (reader connection). */
static int build(struct table *t, struct srv_conn *c, int64_t sweep_id, const json_t *axes,
                 const char *es_metric, struct qc_err *err)
{
    static const char runs_sql[] =
        "SELECT " SRV_RUN_COLS " FROM runs WHERE sweep_id = ? ORDER BY id";
    static const char best_sql[] =
        "SELECT m.run_id, n.name, max(m.value), min(m.value) FROM metrics m JOIN metric_names n "
        "ON n.id = m.name_id WHERE m.run_id IN (SELECT id FROM runs WHERE sweep_id = ?) GROUP BY "
        "m.run_id, m.name_id";
    json_t *metric_cols = json_object(), *best_cols = json_object(), *cost_cols = json_object(),
           *spec_cols = json_object(), *specs = json_array(), *costs = json_array();
    json_t *by_id = json_object();
    int rc = QC_OK;
    size_t i;
    const char *k;
    json_t *v;

    t->rows = json_array();
    t->cols = json_object();
    if (!metric_cols || !best_cols || !cost_cols || !spec_cols || !specs || !costs || !by_id ||
        !t->rows || !t->cols) {
        rc = qc_err_set(err, QC_ENOMEM, "", "out of memory");
        goto out;
    }
    for (i = 0; i < sizeof run_fields / sizeof run_fields[0]; i++)
        col_add(t->cols, run_fields[i]);
    /* The swept parameters first: "a.b,c.d" ties two paths to one value. */
    json_object_foreach((json_t *)axes, k, v)
    {
        char paths[1024];
        snprintf(paths, sizeof paths, "%s", k);
        for (char *save = NULL, *p = strtok_r(paths, ",", &save); p; p = strtok_r(NULL, ",", &save))
            col_add(t->cols, p);
    }

    sqlite3_stmt *st = srv_stmt(c, runs_sql, err);
    if (!st) {
        rc = QC_EIO;
        goto out;
    }
    sqlite3_bind_int64(st, 1, sweep_id);
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        json_t *run = srv_run_json(st, true), *row = json_object();
        for (i = 0; i < sizeof run_fields / sizeof run_fields[0]; i++)
            if (json_object_get(run, run_fields[i]))
                json_object_set(row, run_fields[i], json_object_get(run, run_fields[i]));
        const json_t *st0 = json_object_get(run, "started"),
                     *st1 = json_object_get(run, "finished");
        json_object_set_new(row, "duration",
                            json_is_number(st0) && json_is_number(st1)
                                ? json_real(json_number_value(st1) - json_number_value(st0))
                                : json_null());
        json_object_foreach(json_object_get(run, "summary"), k, v)
        {
            char key[128];
            snprintf(key, sizeof key, "metric.%s", k);
            json_object_set(row, key, v);
            col_add(metric_cols, key);
        }
        json_array_append(specs, json_object_get(run, "spec"));
        json_array_append(costs, json_object_get(run, "cost"));
        char id[32];
        snprintf(id, sizeof id, "%lld", (long long)json_integer_value(json_object_get(run, "id")));
        json_object_set(by_id, id, row);
        json_array_append_new(t->rows, row);
        json_decref(run);
    }
    if (step != SQLITE_DONE)
        rc = srv_db_fail(c, err, "results");
    sqlite3_reset(st);
    if (rc < 0)
        goto out;

    if (!(st = srv_stmt(c, best_sql, err))) {
        rc = QC_EIO;
        goto out;
    }
    sqlite3_bind_int64(st, 1, sweep_id);
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(st, 1);
        char id[32], key[128];
        if (!wants_best(name, es_metric))
            continue;
        snprintf(id, sizeof id, "%lld", (long long)sqlite3_column_int64(st, 0));
        snprintf(key, sizeof key, "best.%s", name);
        int col = srv_metric_maximize(name) ? 2 : 3;
        json_object_set_new(json_object_get(by_id, id), key,
                            sqlite3_column_type(st, col) == SQLITE_NULL
                                ? json_null()
                                : json_real(sqlite3_column_double(st, col)));
        col_add(best_cols, key);
    }
    if (step != SQLITE_DONE)
        rc = srv_db_fail(c, err, "best values");
    sqlite3_reset(st);
    if (rc < 0)
        goto out;

    /* Cost and spec fields, flattened, in the order first met. */
    json_array_foreach(t->rows, i, v)
    {
        const json_t *cost = json_array_get(costs, i);
        if (json_is_object(cost))
            flatten(v, cost_cols, "cost", cost);
        json_t *spec = json_deep_copy(json_array_get(specs, i));
        json_object_del(spec, "name"); /* the run's name column holds it */
        /* Spec columns go straight into the row; their keys were recorded
         * in spec_cols, and the axes already sit in t->cols. */
        flatten(v, spec_cols, "", spec);
        json_decref(spec);
    }
    json_t *sorted[2] = {metric_cols, best_cols};
    for (int s = 0; s < 2; s++) {
        const char **names = calloc(json_object_size(sorted[s]) + 1, sizeof *names);
        size_t n = 0;
        if (!names) {
            rc = qc_err_set(err, QC_ENOMEM, "", "out of memory");
            goto out;
        }
        json_object_foreach(sorted[s], k, v) names[n++] = k;
        qsort(names, n, sizeof *names, cmp_str);
        for (size_t j = 0; j < n; j++)
            col_add(t->cols, names[j]);
        free(names);
    }
    json_object_foreach(cost_cols, k, v) col_add(t->cols, k);
    json_object_foreach(spec_cols, k, v) col_add(t->cols, k);
out:
    json_decref(metric_cols);
    json_decref(best_cols);
    json_decref(cost_cols);
    json_decref(spec_cols);
    json_decref(specs);
    json_decref(costs);
    json_decref(by_id);
    return rc;
}

/* ---- output ------------------------------------------------------------- */

struct buf {
    char *p;
    size_t len, cap;
    bool oom;
};

static void put(struct buf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void puts_(struct buf *b, const char *s)
{
    put(b, s, strlen(s));
}

/* One CSV field (RFC 4180): quoted when it holds a comma, a quote or a line
 * break, quotes doubled. */
static void csv_text(struct buf *b, const char *s)
{
    if (!strpbrk(s, ",\"\r\n")) {
        puts_(b, s);
        return;
    }
    put(b, "\"", 1);
    for (const char *p = s; *p; p++) {
        if (*p == '"')
            put(b, "\"\"", 2);
        else
            put(b, p, 1);
    }
    put(b, "\"", 1);
}

/* The shortest decimal that reads back as `v`: a normal double holds 15
 * decimal digits exactly, so %.15g (which drops trailing zeros) is the
 * shortest whenever 15 digits suffice, and 16 or 17 otherwise; subnormals
 * hold fewer, and are searched from one digit. */
static void fmt_double(char *out, size_t len, double v)
{
    for (int prec = v != 0 && fabs(v) < DBL_MIN ? 1 : 15; prec <= 17; prec++) {
        snprintf(out, len, "%.*g", prec, v);
        if (strtod(out, NULL) == v)
            return;
    }
}

static void csv_value(struct buf *b, const json_t *v)
{
    char num[40];
    if (!v || json_is_null(v))
        return;
    if (json_is_string(v)) {
        csv_text(b, json_string_value(v));
    } else if (json_is_integer(v)) {
        snprintf(num, sizeof num, "%lld", (long long)json_integer_value(v));
        puts_(b, num);
    } else if (json_is_real(v)) {
        double d = json_real_value(v);
        if (isfinite(d))
            fmt_double(num, sizeof num, d);
        else
            snprintf(num, sizeof num, "%s", isnan(d) ? "nan" : d > 0 ? "inf" : "-inf");
        puts_(b, num);
    } else if (json_is_boolean(v)) {
        puts_(b, json_is_true(v) ? "true" : "false");
    } else {
        char *t = json_dumps(v, JSON_COMPACT);
        if (!t) {
            b->oom = true;
            return;
        }
        csv_text(b, t);
        free(t);
    }
}

/* Whether the caller asked for CSV: ?format=csv, or an Accept header that
 * names text/csv (and ?format is not json). */
static int wants_csv(struct srv_req *r, bool *csv)
{
    const char *f = srv_query(r, "format");
    if (f) {
        if (strcmp(f, "csv") != 0 && strcmp(f, "json") != 0)
            return srv_fail(r, QC_EINVAL, "bad_param", "?format", "format is csv or json");
        *csv = strcmp(f, "csv") == 0;
        return QC_OK;
    }
    const char *acc = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT);
    *csv = acc && strstr(acc, "text/csv") != NULL;
    return QC_OK;
}

int srv_route_sweep_results(struct srv_req *r)
{
    static const char sql[] = "SELECT doc FROM sweeps WHERE id = ?";
    struct table t = {0};
    json_t *doc = NULL, *axes = NULL;
    struct qc_sweep_info info;
    bool csv = false;
    int rc;
    if ((rc = wants_csv(r, &csv)) < 0)
        return rc;
    struct srv_conn *c = srv_db_reader(&r->srv->db);
    if (!c)
        return srv_fail(r, QC_EIO, NULL, "", "database: cannot open a reader");
    sqlite3_stmt *st = srv_stmt(c, sql, &r->err);
    if (!st)
        return QC_EIO;
    sqlite3_bind_int64(st, 1, r->id);
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW)
        doc = json_loads((const char *)sqlite3_column_text(st, 0), 0, NULL);
    sqlite3_reset(st);
    if (step == SQLITE_DONE)
        return srv_fail(r, QC_ENOTFOUND, NULL, "", "no sweep %lld", (long long)r->id);
    if (step != SQLITE_ROW)
        return srv_db_fail(c, &r->err, "load sweep");
    /* A stored sweep passed these at submission; a failure now means the
     * parser changed since: the table goes without axes then. */
    memset(&info, 0, sizeof info);
    if (!doc || qc_sweep_axes(&axes, doc, NULL) < 0)
        axes = json_object();
    if (doc)
        qc_sweep_expand(NULL, &info, doc, INT64_MAX, NULL);
    rc = build(&t, c, r->id, axes, info.early_stop.enabled ? info.early_stop.metric : "", &r->err);
    json_decref(doc);
    json_decref(axes);
    if (rc < 0)
        goto out;

    /* Every row gets every column, null (an empty cell) where a run has
     * none; the CSV is written from the rows as they are. */
    json_t *columns = json_array();
    size_t i;
    const char *k;
    json_t *v, *row;
    json_object_foreach(t.cols, k, v) json_array_append_new(columns, json_string(k));
    if (!csv) {
        json_t *rows = json_array();
        json_array_foreach(t.rows, i, row)
        {
            json_t *full = json_object();
            json_object_foreach(t.cols, k, v)
            {
                json_t *x = json_object_get(row, k);
                json_object_set(full, k, x ? x : json_null());
            }
            json_array_append_new(rows, full);
        }
        rc = srv_reply(r, 200,
                       json_pack("{s:I,s:o,s:o}", "sweep", (json_int_t)r->id, "columns", columns,
                                 "rows", rows));
        goto out;
    }
    struct buf b = {0};
    json_array_foreach(columns, i, v)
    {
        if (i)
            put(&b, ",", 1);
        csv_text(&b, json_string_value(v));
    }
    put(&b, "\r\n", 2);
    json_array_foreach(t.rows, i, row)
    {
        size_t j = 0;
        json_object_foreach(t.cols, k, v)
        {
            if (j++)
                put(&b, ",", 1);
            csv_value(&b, json_object_get(row, k));
        }
        put(&b, "\r\n", 2);
    }
    json_decref(columns);
    if (b.oom) {
        free(b.p);
        rc = srv_fail(r, QC_ENOMEM, NULL, "", "out of memory");
        goto out;
    }
    /* MUST_FREE: libmicrohttpd frees the buffer (plain malloc). */
    r->resp = MHD_create_response_from_buffer(b.len, b.p, MHD_RESPMEM_MUST_FREE);
    if (!r->resp) {
        free(b.p);
        rc = srv_fail(r, QC_ENOMEM, NULL, "", "out of memory");
        goto out;
    }
    char disp[96];
    snprintf(disp, sizeof disp, "attachment; filename=\"sweep-%lld-results.csv\"",
             (long long)r->id);
    MHD_add_response_header(r->resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/csv; charset=utf-8");
    MHD_add_response_header(r->resp, MHD_HTTP_HEADER_CONTENT_DISPOSITION, disp);
    MHD_add_response_header(r->resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    r->status = 200;
    rc = QC_OK;
out:
    json_decref(t.rows);
    json_decref(t.cols);
    return rc;
}

/* ---- GET /metrics: the points of several runs, long form ----------------- */

#define LONG_POINTS_MAX 2000000
#define LONG_RUNS_MAX   1000

/* Appends " AND col IN (?, ...)" for the comma list `list` of positive ids
 * (runs) or metric names; QC_EINVAL naming `param`. */
static int in_list(struct srv_req *r, struct srv_sql *q, const char *col, const char *list,
                   const char *param, bool ids)
{
    int n = 0;
    srv_sql_add(q, " AND ");
    srv_sql_add(q, col);
    srv_sql_add(q, " IN (");
    for (const char *p = list; *p;) {
        size_t len = strcspn(p, ",");
        char item[80];
        snprintf(item, sizeof item, "%.*s", (int)(len < 79 ? len : 79), p);
        char *end;
        long long v = ids ? strtoll(item, &end, 10) : 0;
        if (n == LONG_RUNS_MAX || len == 0 || len >= 64 ||
            (ids ? (*end || v <= 0) : !srv_metric_name_ok(item)))
            return srv_fail(r, QC_EINVAL, "bad_param", param,
                            ids ? "%s is a comma list of at most %d run ids"
                                : "%s is a comma list of at most %d metric names",
                            param + 1, LONG_RUNS_MAX);
        srv_sql_add(q, n++ ? ", ?" : "?");
        if (ids)
            srv_sql_int(q, v);
        else
            srv_sql_text(q, item);
        p += len + (p[len] == ',');
    }
    srv_sql_add(q, ")");
    return n ? QC_OK : srv_fail(r, QC_EINVAL, "bad_param", param, "%s is empty", param + 1);
}

int srv_route_metrics_long(struct srv_req *r)
{
    const char *runs = srv_query(r, "runs"), *names = srv_query(r, "names");
    int64_t sweep;
    bool csv = false;
    struct srv_sql q;
    struct buf b = {0};
    json_t *points = NULL;
    sqlite3_stmt *st = NULL;
    int rc;
    srv_sql_init(&q);
    if ((rc = wants_csv(r, &csv)) < 0 ||
        (rc = srv_query_int(r, "sweep", 1, INT64_MAX, 0, &sweep)) < 0)
        return rc;
    if (!runs && !sweep)
        return srv_fail(r, QC_EINVAL, "bad_param", "?runs",
                        "name the runs (runs=1,2,3) or a sweep (sweep=ID)");
    srv_sql_add(&q, "SELECT m.run_id, n.name, m.step, m.value, m.t FROM metrics m JOIN "
                    "metric_names n ON n.id = m.name_id WHERE 1");
    if (runs && (rc = in_list(r, &q, "m.run_id", runs, "?runs", true)) < 0)
        goto out;
    if (sweep) {
        srv_sql_add(&q, " AND m.run_id IN (SELECT id FROM runs WHERE sweep_id = ?)");
        srv_sql_int(&q, sweep);
    }
    if (names && (rc = in_list(r, &q, "n.name", names, "?names", false)) < 0)
        goto out;
    srv_sql_add(&q, " ORDER BY m.run_id, m.name_id, m.step");
    if (q.oom) {
        rc = srv_fail(r, QC_ENOMEM, NULL, "", "out of memory");
        goto out;
    }
    struct srv_conn *c = srv_db_reader(&r->srv->db);
    if (!c) {
        rc = srv_fail(r, QC_EIO, NULL, "", "database: cannot open a reader");
        goto out;
    }
    if (!(st = srv_stmt_once(c, q.text, &r->err))) {
        rc = QC_EIO;
        goto out;
    }
    int k = 1;
    srv_sql_bind(&q, st, &k);
    if (csv)
        puts_(&b, "run,name,step,value,time\r\n");
    else
        points = json_array();
    int64_t n = 0;
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        if (++n > LONG_POINTS_MAX) {
            rc = srv_fail(r, QC_EINVAL, "bad_param", "?names",
                          "more than %d points: choose fewer runs or metric names (names=)",
                          LONG_POINTS_MAX);
            goto out;
        }
        int64_t run = sqlite3_column_int64(st, 0), s = sqlite3_column_int64(st, 2);
        const char *name = (const char *)sqlite3_column_text(st, 1);
        bool null = sqlite3_column_type(st, 3) == SQLITE_NULL;
        double v = sqlite3_column_double(st, 3), t = sqlite3_column_double(st, 4);
        if (csv) {
            char line[200], vb[40], tb[40];
            fmt_double(vb, sizeof vb, v);
            fmt_double(tb, sizeof tb, t);
            snprintf(line, sizeof line, "%lld,%s,%lld,%s,%s\r\n", (long long)run, name,
                     (long long)s, null ? "" : vb, tb);
            puts_(&b, line);
        } else {
            json_array_append_new(points, json_pack("{s:I,s:s,s:I,s:o,s:f}", "run", (json_int_t)run,
                                                    "name", name, "step", (json_int_t)s, "value",
                                                    null ? json_null() : json_real(v), "time", t));
        }
    }
    if (step != SQLITE_DONE) {
        rc = srv_db_fail(c, &r->err, "read metrics");
        goto out;
    }
    if (!csv) {
        rc = srv_reply(r, 200, json_pack("{s:O}", "points", points));
        goto out;
    }
    if (b.oom) {
        rc = srv_fail(r, QC_ENOMEM, NULL, "", "out of memory");
        goto out;
    }
    /* MUST_FREE: libmicrohttpd frees the buffer (plain malloc). */
    r->resp = MHD_create_response_from_buffer(b.len, b.p ? b.p : strdup(""), MHD_RESPMEM_MUST_FREE);
    if (!r->resp) {
        rc = srv_fail(r, QC_ENOMEM, NULL, "", "out of memory");
        goto out;
    }
    b.p = NULL;
    MHD_add_response_header(r->resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/csv; charset=utf-8");
    MHD_add_response_header(r->resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    r->status = 200;
    rc = QC_OK;
out:
    sqlite3_finalize(st);
    json_decref(points);
    free(b.p);
    srv_sql_free(&q);
    return rc;
}
