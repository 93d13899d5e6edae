/* Metric points: batches from workers (idempotent on run, step and name),
 * the run's summary of last values, the sweep's median stopping rule, and
 * reads with `since` cursors and min/max-preserving downsampling. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qcore/sweep.h"
#include "server/rollup.h"
#include "server/srv.h"
#include "server/store.h"

#define BATCH_MAX 100000
#define NAMES_MAX 256
#define NAME_LEN  64

bool srv_metric_name_ok(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n >= NAME_LEN)
        return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '_' && *s != '.' && *s != '/')
            return false;
    return true;
}

struct batch_names {
    int n;
    char name[NAMES_MAX][NAME_LEN];
    int64_t id[NAMES_MAX];
};

static int name_index(struct batch_names *bn, const char *name)
{
    for (int i = 0; i < bn->n; i++)
        if (strcmp(bn->name[i], name) == 0)
            return i;
    if (bn->n == NAMES_MAX)
        return -1;
    snprintf(bn->name[bn->n], NAME_LEN, "%s", name);
    return bn->n++;
}

/* The median rule for run `run` of sweep `sweep` (open transaction). Sets
 * *stop when the run's best `metric` over its first e points is worse than
 * the median of the other runs' best over their first e points, e being
 * the run's point count, once e > grace and min_runs runs have e points. */
static int median_rule(struct srv_conn *c, int64_t run, int64_t sweep, int64_t name_id,
                       const struct qc_sweep_early_stop *es, bool *stop, struct qc_err *err)
{
    static const char count_sql[] =
        "SELECT count(*) FROM metrics WHERE run_id = ? AND name_id = ? AND value IS NOT NULL";
    static const char best_sql[] =
        "SELECT max(v), min(v), count(*) FROM (SELECT value AS v FROM metrics WHERE run_id = ? "
        "AND name_id = ? AND value IS NOT NULL ORDER BY step LIMIT ?)";
    static const char peers_sql[] = "SELECT id FROM runs WHERE sweep_id = ? AND id != ?";
    *stop = false;
    sqlite3_stmt *st = srv_stmt(c, count_sql, err);
    if (!st)
        return QC_EIO;
    sqlite3_bind_int64(st, 1, run);
    sqlite3_bind_int64(st, 2, name_id);
    int64_t e = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    if (e <= es->grace_epochs)
        return QC_OK;

    sqlite3_stmt *best = srv_stmt(c, best_sql, err);
    sqlite3_stmt *peers = best ? srv_stmt(c, peers_sql, err) : NULL;
    if (!peers)
        return QC_EIO;
    double mine = 0, *vals = NULL;
    size_t n = 0, cap = 0;
    sqlite3_bind_int64(best, 1, run);
    sqlite3_bind_int64(best, 2, name_id);
    sqlite3_bind_int64(best, 3, e);
    if (sqlite3_step(best) == SQLITE_ROW)
        mine = sqlite3_column_double(best, es->maximize ? 0 : 1);
    sqlite3_reset(best);
    sqlite3_bind_int64(peers, 1, sweep);
    sqlite3_bind_int64(peers, 2, run);
    while (sqlite3_step(peers) == SQLITE_ROW) {
        int64_t peer = sqlite3_column_int64(peers, 0);
        sqlite3_reset(best);
        sqlite3_bind_int64(best, 1, peer);
        sqlite3_bind_int64(best, 2, name_id);
        sqlite3_bind_int64(best, 3, e);
        if (sqlite3_step(best) == SQLITE_ROW && sqlite3_column_int64(best, 2) == e) {
            if (n == cap) {
                cap = cap ? 2 * cap : 64;
                double *p = realloc(vals, cap * sizeof *p);
                if (!p)
                    break;
                vals = p;
            }
            vals[n++] = sqlite3_column_double(best, es->maximize ? 0 : 1);
        }
    }
    sqlite3_reset(best);
    sqlite3_reset(peers);
    /* min_runs counts this run too. */
    if ((int64_t)n + 1 >= es->min_runs && n > 0) {
        for (size_t i = 1; i < n; i++) /* insertion sort: n is a sweep's size */
            for (size_t j = i; j > 0 && vals[j - 1] > vals[j]; j--) {
                double t = vals[j];
                vals[j] = vals[j - 1];
                vals[j - 1] = t;
            }
        double median = n % 2 ? vals[n / 2] : 0.5 * (vals[n / 2 - 1] + vals[n / 2]);
        *stop = es->maximize ? mine < median : mine > median;
    }
    free(vals);
    return QC_OK;
}

/* The sweep's early-stop rule, if any (reader of the open transaction). */
static int early_stop_of(struct srv_conn *c, int64_t run, int64_t *sweep,
                         struct qc_sweep_early_stop *es, struct qc_err *err)
{
    static const char sql[] = "SELECT s.id, s.doc FROM runs r JOIN sweeps s ON s.id = r.sweep_id "
                              "WHERE r.id = ? AND s.early_stop IS NOT NULL";
    sqlite3_stmt *st = srv_stmt(c, sql, err);
    memset(es, 0, sizeof *es);
    if (!st)
        return QC_EIO;
    sqlite3_bind_int64(st, 1, run);
    if (sqlite3_step(st) == SQLITE_ROW) {
        *sweep = sqlite3_column_int64(st, 0);
        json_t *doc = json_loads((const char *)sqlite3_column_text(st, 1), 0, NULL);
        struct qc_sweep_info info;
        if (doc && qc_sweep_expand(NULL, &info, doc, INT64_MAX, NULL) == QC_OK)
            *es = info.early_stop;
        json_decref(doc);
    }
    sqlite3_reset(st);
    return QC_OK;
}

int srv_route_run_metrics_post(struct srv_req *r)
{
    static const char ins[] =
        "INSERT INTO metrics (run_id, name_id, step, value, t) VALUES (?, ?, ?, ?, ?) "
        "ON CONFLICT DO NOTHING";
    static const char last[] = "SELECT value FROM metrics WHERE run_id = ? AND name_id = ? "
                               "AND value IS NOT NULL ORDER BY step DESC LIMIT 1";
    static const char upd[] = "UPDATE runs SET summary = json_patch(summary, ?) WHERE id = ?";
    static const char flags[] = "SELECT cancel_requested, stop_requested FROM runs WHERE id = ?";
    static const char stop_sql[] = "UPDATE runs SET stop_requested = 1 WHERE id = ? AND "
                                   "stop_requested = 0";
    struct srv_server *s = r->srv;
    struct batch_names *bn = NULL;
    struct srv_rollup_batch roll;
    int64_t accepted = 0, dup = 0, last_step = -1;
    const char *action = "continue";
    char state[16];
    int rc;

    json_t *doc = srv_body_json(r);
    if (!doc)
        return QC_EINVAL;
    const json_t *pts = json_object_get(doc, "points");
    if (json_object_size(doc) != 1 || !json_is_array(pts) || json_array_size(pts) > BATCH_MAX) {
        json_decref(doc);
        return srv_fail(r, QC_EINVAL, "invalid_request", "/points",
                        "the body is {\"points\": [{\"step\", \"name\", \"value\"}...]} with at "
                        "most %d points",
                        BATCH_MAX);
    }
    srv_rollup_batch_init(&roll);
    bn = calloc(1, sizeof *bn);
    int *idx = calloc(json_array_size(pts) + 1, sizeof *idx);
    if (!bn || !idx) {
        rc = srv_fail(r, QC_ENOMEM, NULL, "", "out of memory");
        goto out;
    }
    /* Validate everything before writing anything. */
    for (size_t i = 0; i < json_array_size(pts); i++) {
        const json_t *p = json_array_get(pts, i);
        const json_t *step = json_object_get(p, "step"), *val = json_object_get(p, "value");
        const char *name = json_string_value(json_object_get(p, "name"));
        char f[48];
        snprintf(f, sizeof f, "/points/%zu", i);
        if (!json_is_object(p) || json_object_size(p) != 3 || !json_is_integer(step) ||
            json_integer_value(step) < 0 || !(json_is_number(val) || json_is_null(val))) {
            rc = srv_fail(r, QC_EINVAL, "invalid_request", f,
                          "a point is {\"step\": integer >= 0, \"name\": string, \"value\": "
                          "number or null}");
            goto out;
        }
        if (!srv_metric_name_ok(name)) {
            rc = srv_fail(r, QC_EINVAL, "invalid_request", f,
                          "metric names are 1..63 letters, digits, '_', '.' or '/'");
            goto out;
        }
        if ((idx[i] = name_index(bn, name)) < 0) {
            rc = srv_fail(r, QC_EINVAL, "invalid_request", f,
                          "more than %d metric names in one "
                          "batch",
                          NAMES_MAX);
            goto out;
        }
        if (json_integer_value(step) > last_step)
            last_step = json_integer_value(step);
    }

    struct srv_conn *c = srv_tx_begin(s, &r->err);
    if (!c) {
        rc = r->err.code;
        goto out;
    }
    rc = srv_lease_check(c, r->id,
                         MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "X-Qlab-Lease"),
                         r->role == SRV_ROLE_WORKER ? r->worker_id : 0, state, &r->err);
    for (int i = 0; rc >= 0 && i < bn->n; i++)
        rc = srv_metric_name_id(c, bn->name[i], &bn->id[i], &r->err);
    sqlite3_stmt *st = rc >= 0 ? srv_stmt(c, ins, &r->err) : NULL;
    if (rc >= 0 && !st)
        rc = QC_EIO;
    double now = srv_now();
    for (size_t i = 0; st && rc >= 0 && i < json_array_size(pts); i++) {
        const json_t *p = json_array_get(pts, i);
        const json_t *val = json_object_get(p, "value");
        int64_t step = json_integer_value(json_object_get(p, "step"));
        bool finite = json_is_number(val) && isfinite(json_number_value(val));
        sqlite3_bind_int64(st, 1, r->id);
        sqlite3_bind_int64(st, 2, bn->id[idx[i]]);
        sqlite3_bind_int64(st, 3, step);
        if (finite)
            sqlite3_bind_double(st, 4, json_number_value(val));
        else
            sqlite3_bind_null(st, 4);
        sqlite3_bind_double(st, 5, now);
        if (sqlite3_step(st) != SQLITE_DONE)
            rc = srv_db_fail(c, &r->err, "insert metric");
        else if (sqlite3_changes(c->db) == 0)
            dup++; /* a replayed point: neither stored nor rolled up again */
        else if ((rc = srv_rollup_batch_add(&roll, bn->id[idx[i]], step, !finite,
                                            finite ? json_number_value(val) : 0, now, &r->err)) >=
                 0)
            accepted++;
        sqlite3_reset(st);
    }
    /* The rollups, in the same transaction as their points. */
    if (rc >= 0)
        rc = srv_rollup_batch_write(c, r->id, &roll, &r->err);
    /* The summary: each name's latest finite value (replay-safe; a
     * non-finite point stays visible in the series as null). Per-layer
     * counters (layers_*, hundreds a run for deep models) stay series:
     * the summary keeps their sums over layers (fwd_swamping_rate, ...). */
    if (rc >= 0 && accepted > 0) {
        json_t *patch = json_object();
        sqlite3_stmt *ls = srv_stmt(c, last, &r->err);
        for (int i = 0; ls && i < bn->n; i++) {
            if (strncmp(bn->name[i], "layers_", 7) == 0)
                continue;
            sqlite3_bind_int64(ls, 1, r->id);
            sqlite3_bind_int64(ls, 2, bn->id[i]);
            if (sqlite3_step(ls) == SQLITE_ROW)
                json_object_set_new(patch, bn->name[i], json_real(sqlite3_column_double(ls, 0)));
            sqlite3_reset(ls);
        }
        sqlite3_stmt *us = ls ? srv_stmt(c, upd, &r->err) : NULL;
        if (!us) {
            rc = QC_EIO;
        } else {
            sqlite3_bind_text(us, 1, json_dumps(patch, JSON_COMPACT), -1, free);
            sqlite3_bind_int64(us, 2, r->id);
            if (sqlite3_step(us) != SQLITE_DONE)
                rc = srv_db_fail(c, &r->err, "summary");
            sqlite3_reset(us);
        }
        json_decref(patch);
    }
    /* The early-stop rule, when this batch carries the sweep's metric. */
    if (rc >= 0 && accepted > 0) {
        struct qc_sweep_early_stop es;
        int64_t sweep = 0;
        rc = early_stop_of(c, r->id, &sweep, &es, &r->err);
        for (int i = 0; rc >= 0 && es.enabled && i < bn->n; i++) {
            bool stop = false;
            if (strcmp(bn->name[i], es.metric) != 0)
                continue;
            rc = median_rule(c, r->id, sweep, bn->id[i], &es, &stop, &r->err);
            sqlite3_stmt *ss = rc >= 0 && stop ? srv_stmt(c, stop_sql, &r->err) : NULL;
            if (ss) {
                sqlite3_bind_int64(ss, 1, r->id);
                if (sqlite3_step(ss) != SQLITE_DONE)
                    rc = srv_db_fail(c, &r->err, "early stop");
                bool changed = sqlite3_changes(c->db) > 0;
                sqlite3_reset(ss);
                if (rc >= 0 && changed)
                    rc = srv_run_event(s, c, r->id,
                                       json_pack("{s:b,s:s}", "stop_requested", 1, "reason",
                                                 "median stopping rule"),
                                       &r->err);
            }
        }
    }
    if (rc >= 0 && (st = srv_stmt(c, flags, &r->err))) {
        sqlite3_bind_int64(st, 1, r->id);
        if (sqlite3_step(st) == SQLITE_ROW)
            action = sqlite3_column_int(st, 0)   ? "cancel"
                     : sqlite3_column_int(st, 1) ? "stop"
                                                 : "continue";
        sqlite3_reset(st);
    }
    if (rc >= 0 && accepted > 0) {
        int64_t ev = srv_event_add(c, "metrics", r->id, 0,
                                   json_pack("{s:I,s:I,s:I}", "run", (json_int_t)r->id, "last_step",
                                             (json_int_t)last_step, "points", (json_int_t)accepted),
                                   &r->err);
        if (ev < 0)
            rc = (int)ev;
        else
            s->tx_event = ev;
    }
    rc = srv_tx_end(s, rc, &r->err);
    if (rc >= 0) {
        atomic_fetch_add(&s->stats.points, accepted);
        rc = srv_reply(r, 200,
                       json_pack("{s:I,s:I,s:s}", "accepted", (json_int_t)accepted, "duplicates",
                                 (json_int_t)dup, "action", action));
    }
out:
    srv_rollup_batch_free(&roll);
    free(idx);
    free(bn);
    json_decref(doc);
    return rc;
}

/* ---- reads -------------------------------------------------------------- */

int srv_route_run_metrics_get(struct srv_req *r)
{
    static const char names_sql[] = "SELECT DISTINCT n.id, n.name FROM metric_names n WHERE "
                                    "EXISTS (SELECT 1 FROM metrics m WHERE m.run_id = ? AND "
                                    "m.name_id = n.id) ORDER BY n.name";
    /* Per name: an index probe, where max(step) over the run would scan it. */
    static const char max_sql[] = "SELECT max(step) FROM metrics WHERE run_id = ? AND name_id = ?";
    int64_t since, max_points;
    int rc;
    json_t *run = NULL;
    if ((rc = srv_query_int(r, "since", -1, INT64_MAX, -1, &since)) < 0 ||
        (rc = srv_query_int(r, "max_points", 0, 1000000, 0, &max_points)) < 0)
        return rc;
    if (max_points == 1)
        max_points = 2; /* a bucket gives two points */
    const char *want = srv_query(r, "names");
    struct srv_conn *c = srv_db_reader(&r->srv->db);
    if (!c)
        return srv_fail(r, QC_EIO, NULL, "", "database: cannot open a reader");
    /* One read transaction: the series and last_step agree. */
    sqlite3_exec(c->db, "BEGIN", NULL, NULL, NULL);
    if ((rc = srv_run_load(c, r->id, false, &run, &r->err)) < 0)
        goto out;
    sqlite3_stmt *st = srv_stmt(c, names_sql, &r->err);
    if (!st) {
        rc = QC_EIO;
        goto out;
    }
    /* Every series of the run, however many (a fixed array used to stop
     * at 256 without saying so). */
    struct series_name {
        int64_t id;
        char name[NAME_LEN];
    } *sel = NULL;
    size_t n = 0, cap = 0;
    sqlite3_stmt *mx = srv_stmt(c, max_sql, &r->err);
    if (!mx) {
        sqlite3_reset(st);
        rc = QC_EIO;
        goto out;
    }
    int64_t last = -1; /* over every series of the run, whatever `names` selects */
    sqlite3_bind_int64(st, 1, r->id);
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *nm = (const char *)sqlite3_column_text(st, 1);
        sqlite3_reset(mx);
        sqlite3_bind_int64(mx, 1, r->id);
        sqlite3_bind_int64(mx, 2, sqlite3_column_int64(st, 0));
        if (sqlite3_step(mx) == SQLITE_ROW && sqlite3_column_type(mx, 0) != SQLITE_NULL &&
            sqlite3_column_int64(mx, 0) > last)
            last = sqlite3_column_int64(mx, 0);
        if (want) { /* comma list: keep exact matches only */
            bool hit = false;
            for (const char *p = want; *p && !hit;) {
                size_t len = strcspn(p, ",");
                hit = strlen(nm) == len && strncmp(nm, p, len) == 0;
                p += len + (p[len] == ',');
            }
            if (!hit)
                continue;
        }
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            struct series_name *p = realloc(sel, cap * sizeof *p);
            if (!p) {
                rc = srv_fail(r, QC_ENOMEM, NULL, "", "out of memory");
                break;
            }
            sel = p;
        }
        sel[n].id = sqlite3_column_int64(st, 0);
        snprintf(sel[n].name, NAME_LEN, "%s", nm);
        n++;
    }
    sqlite3_reset(st);
    sqlite3_reset(mx);
    json_t *series = json_object();
    bool down = false;
    for (size_t i = 0; i < n && rc >= 0; i++) {
        json_t *steps = json_array(), *values = json_array(), *times = json_array();
        rc = srv_series_read(c, r->id, sel[i].id, since, max_points, steps, values, times, &down,
                             &r->err);
        json_object_set_new(
            series, sel[i].name,
            json_pack("{s:o,s:o,s:o}", "step", steps, "value", values, "time", times));
    }
    free(sel);
    if (rc < 0) {
        json_decref(series);
        goto out;
    }
    rc = srv_reply(r, 200,
                   json_pack("{s:I,s:o,s:o,s:b}", "run", (json_int_t)r->id, "series", series,
                             "last_step", last >= 0 ? json_integer(last) : json_null(),
                             "downsampled", down));
out:
    sqlite3_exec(c->db, "COMMIT", NULL, NULL, NULL);
    json_decref(run);
    return rc;
}
