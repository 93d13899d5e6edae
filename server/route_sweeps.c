/* Sweeps: submit (expanded and validated by the core, stored with all its
 * runs in one transaction), list, show with counts by state, cancel. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qcore/sweep.h"
#include "server/filter.h"
#include "server/cost.h"
#include "server/srv.h"
#include "server/store.h"

static const char *const run_states[] = {"queued",    "leased", "running",
                                         "succeeded", "failed", "canceled"};

/* A sweep row plus its counts by state (new reference). */
int srv_sweep_load(struct srv_conn *c, int64_t id, bool with_doc, json_t **out, struct qc_err *err)
{
    static const char sql[] =
        "SELECT id, name, method, created, early_stop, doc, tags, note, submitted_by FROM sweeps "
        "WHERE id = ?";
    static const char counts_sql[] =
        "SELECT state, count(*) FROM runs WHERE sweep_id = ? GROUP BY state";
    sqlite3_stmt *st = srv_stmt(c, sql, err);
    *out = NULL;
    if (!st)
        return QC_EIO;
    sqlite3_bind_int64(st, 1, id);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        sqlite3_reset(st);
        return rc == SQLITE_DONE ? qc_err_set(err, QC_ENOTFOUND, "", "no sweep %lld", (long long)id)
                                 : srv_db_fail(c, err, "load sweep");
    }
    json_t *o = json_object();
    json_object_set_new(o, "id", json_integer(id));
    json_object_set_new(o, "name", json_string((const char *)sqlite3_column_text(st, 1)));
    json_object_set_new(o, "method", json_string((const char *)sqlite3_column_text(st, 2)));
    json_object_set_new(o, "created", json_real(sqlite3_column_double(st, 3)));
    const char *es = (const char *)sqlite3_column_text(st, 4);
    json_t *esj = es ? json_loads(es, 0, NULL) : NULL;
    json_object_set_new(o, "early_stop", esj ? esj : json_null());
    const char *tags = (const char *)sqlite3_column_text(st, 6);
    json_t *tagsj = tags ? json_loads(tags, 0, NULL) : NULL;
    json_object_set_new(o, "tags", tagsj ? tagsj : json_array());
    json_object_set_new(o, "note", json_string((const char *)sqlite3_column_text(st, 7)));
    const char *who = (const char *)sqlite3_column_text(st, 8);
    json_object_set_new(o, "submitted_by", who ? json_string(who) : json_null());
    if (with_doc) {
        /* The axes of plots and tables (qc_sweep_axes): typed axes expanded
         * in the order the runs got them. */
        json_t *doc = json_loads((const char *)sqlite3_column_text(st, 5), 0, NULL);
        json_t *axes = NULL;
        if (doc && qc_sweep_axes(&axes, doc, NULL) < 0)
            axes = NULL;
        json_object_set_new(o, "sweep", doc ? doc : json_null());
        json_object_set_new(o, "axes", axes ? axes : json_null());
    }
    sqlite3_reset(st);

    if (!(st = srv_stmt(c, counts_sql, err))) {
        json_decref(o);
        return QC_EIO;
    }
    json_t *counts = json_object();
    for (int i = 0; i < 6; i++)
        json_object_set_new(counts, run_states[i], json_integer(0));
    int64_t total = 0;
    sqlite3_bind_int64(st, 1, id);
    while (sqlite3_step(st) == SQLITE_ROW) {
        int64_t n = sqlite3_column_int64(st, 1);
        json_object_set_new(counts, (const char *)sqlite3_column_text(st, 0), json_integer(n));
        total += n;
    }
    sqlite3_reset(st);
    json_object_set_new(o, "runs", json_integer(total));
    json_object_set_new(o, "counts", counts);
    *out = o;
    return QC_OK;
}

int srv_route_sweep_create(struct srv_req *r)
{
    static const char sql[] = "INSERT INTO sweeps (name, method, doc, early_stop, created, "
                              "submitted_by) VALUES (?, ?, ?, "
                              "?, ?, ?)";
    struct srv_server *s = r->srv;
    struct qc_sweep_info info;
    json_t *specs = NULL, *sweep = NULL;
    int64_t sweep_id = 0;
    int rc;

    json_t *doc = srv_body_json(r);
    if (!doc)
        return QC_EINVAL;
    rc = qc_sweep_expand(&specs, &info, doc, s->cfg.max_sweep_runs, &r->err);
    if (rc < 0) {
        snprintf(r->err_code, sizeof r->err_code, "%s",
                 rc == QC_ERANGE ? "sweep_too_large" : "invalid_sweep");
        if (rc != QC_ERANGE)
            srv_spec_errors(r, doc, true);
        json_decref(doc);
        return rc == QC_ERANGE ? QC_EINVAL : rc;
    }
    if (!json_object_get(doc, "max_attempts"))
        info.max_attempts = s->cfg.max_attempts;

    char *text = json_dumps(doc, JSON_COMPACT);
    json_t *es = json_object_get(doc, "early_stop");
    char *es_text = es ? json_dumps(es, JSON_COMPACT) : NULL;
    struct srv_conn *c = srv_tx_begin(s, &r->err);
    if (!c) {
        free(text);
        free(es_text);
        json_decref(specs);
        json_decref(doc);
        return r->err.code;
    }
    sqlite3_stmt *st = srv_stmt(c, sql, &r->err);
    rc = st && text ? QC_OK : QC_EIO;
    if (st && text) {
        sqlite3_bind_text(st, 1, info.name, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 2, info.method == QC_SWEEP_GRID ? "grid" : "random", -1,
                          SQLITE_STATIC);
        sqlite3_bind_text(st, 3, text, -1, SQLITE_TRANSIENT);
        if (es_text)
            sqlite3_bind_text(st, 4, es_text, -1, SQLITE_TRANSIENT);
        sqlite3_bind_double(st, 5, srv_now());
        if (r->who)
            sqlite3_bind_text(st, 6, r->who, -1, SQLITE_TRANSIENT);
        if (sqlite3_step(st) != SQLITE_DONE)
            rc = srv_db_fail(c, &r->err, "insert sweep");
        sqlite3_reset(st);
        sweep_id = sqlite3_last_insert_rowid(c->db);
    }
    for (size_t i = 0; rc >= 0 && i < json_array_size(specs); i++) {
        int64_t run_id;
        rc = srv_run_insert(s, c, &run_id, sweep_id, json_array_get(specs, i), info.priority,
                            info.max_attempts, r->who, &r->err);
        if (rc >= 0)
            rc = srv_cost_attach(s, c, run_id, json_array_get(specs, i), &r->err);
    }
    if (rc >= 0) {
        int64_t ev = srv_event_add(c, "sweep", 0, sweep_id,
                                   json_pack("{s:I,s:s,s:I}", "sweep", (json_int_t)sweep_id,
                                             "state", "created", "runs", (json_int_t)info.runs),
                                   &r->err);
        rc = ev < 0 ? (int)ev : QC_OK;
        if (ev > 0)
            s->tx_event = ev;
    }
    if (rc >= 0)
        rc = srv_sweep_load(c, sweep_id, false, &sweep, &r->err);
    rc = srv_tx_end(s, rc, &r->err);
    free(text);
    free(es_text);
    json_t *warnings = rc >= 0 ? srv_warnings_for(r, specs) : NULL;
    json_decref(specs);
    json_decref(doc);
    if (rc < 0) {
        json_decref(sweep);
        return rc;
    }
    return srv_reply(r, 201, json_pack("{s:o,s:o}", "sweep", sweep, "warnings", warnings));
}

int srv_route_sweep_list(struct srv_req *r)
{
    int64_t limit, n = 0;
    int rc;
    struct srv_order ord;
    struct srv_sql where, after, sql;
    sqlite3_stmt *st = NULL;
    int64_t *ids = NULL;
    char *next = NULL;
    json_t *list = NULL;
    srv_sql_init(&where);
    srv_sql_init(&after);
    srv_sql_init(&sql);
    memset(&ord, 0, sizeof ord);
    if ((rc = srv_query_int(r, "limit", 1, 1000, 100, &limit)) < 0)
        goto out;
    /* Newest first unless order_by says otherwise. */
    if ((rc = srv_order_parse(&ord, SRV_TABLE_SWEEPS, srv_query(r, "order_by"), true, &r->err)) <
            0 ||
        (rc = srv_filter_parse(&where, SRV_TABLE_SWEEPS, srv_query(r, "filter"), &r->err)) < 0 ||
        (rc = srv_cursor_where(&after, &ord, srv_query(r, "cursor"), &r->err)) < 0) {
        snprintf(r->err_code, sizeof r->err_code, "bad_param");
        goto out;
    }
    if (!ord.key.text) {
        srv_sql_add(&sql, "SELECT id FROM sweeps WHERE 1");
        srv_sql_append(&sql, &where);
        srv_sql_append(&sql, &after);
        srv_sql_add(&sql, " ORDER BY id DESC LIMIT ?");
    } else {
        srv_sql_add(&sql, "SELECT * FROM (SELECT id, ");
        srv_sql_append(&sql, &ord.key);
        srv_sql_add(&sql, " AS okey FROM sweeps WHERE 1");
        srv_sql_append(&sql, &where);
        srv_sql_add(&sql, ") WHERE 1");
        srv_sql_append(&sql, &after);
        srv_sql_add(&sql, ord.desc ? " ORDER BY okey IS NULL, okey DESC, id DESC LIMIT ?"
                                   : " ORDER BY okey IS NULL, okey, id LIMIT ?");
    }
    srv_sql_int(&sql, limit + 1);
    ids = malloc((size_t)(limit + 1) * sizeof *ids);
    if (sql.oom || !ids) {
        rc = srv_fail(r, QC_ENOMEM, NULL, "", "out of memory");
        goto out;
    }
    struct srv_conn *c = srv_db_reader(&r->srv->db);
    if (!c) {
        rc = srv_fail(r, QC_EIO, NULL, "", "database: cannot open a reader");
        goto out;
    }
    if (!(st = srv_stmt_once(c, sql.text, &r->err))) {
        rc = QC_EIO;
        goto out;
    }
    int k = 1;
    srv_sql_bind(&sql, st, &k);
    while (n <= limit && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        ids[n++] = sqlite3_column_int64(st, 0);
        if (n == limit) {
            if (ord.key.text) {
                next = srv_cursor_make(&ord, st, 1, ids[n - 1]);
            } else if ((next = malloc(24)) != NULL) {
                snprintf(next, 24, "%lld", (long long)ids[n - 1]);
            }
        }
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        rc = srv_db_fail(c, &r->err, "list sweeps");
        goto out;
    }
    bool more = n > limit;
    if (more)
        n = limit;
    if (more && !next) {
        rc = srv_fail(r, QC_ENOMEM, NULL, "", "out of memory");
        goto out;
    }
    list = json_array();
    for (int64_t i = 0; i < n; i++) {
        json_t *sw;
        if ((rc = srv_sweep_load(c, ids[i], false, &sw, &r->err)) < 0)
            goto out;
        json_array_append_new(list, sw);
    }
    rc = srv_reply(r, 200,
                   json_pack("{s:O,s:o}", "sweeps", list, "next_cursor",
                             more ? json_string(next) : json_null()));
out:
    json_decref(list);
    sqlite3_finalize(st);
    free(ids);
    free(next);
    srv_order_free(&ord);
    srv_sql_free(&where);
    srv_sql_free(&after);
    srv_sql_free(&sql);
    return rc;
}

int srv_route_sweep_get(struct srv_req *r)
{
    struct srv_conn *c = srv_db_reader(&r->srv->db);
    json_t *sw;
    if (!c)
        return srv_fail(r, QC_EIO, NULL, "", "database: cannot open a reader");
    int rc = srv_sweep_load(c, r->id, true, &sw, &r->err);
    if (rc < 0)
        return rc;
    return srv_reply(r, 200, json_pack("{s:o}", "sweep", sw));
}

int srv_route_sweep_cancel(struct srv_req *r)
{
    static const char sql[] = "SELECT id FROM runs WHERE sweep_id = ? AND state IN ('queued', "
                              "'leased', 'running')";
    struct srv_server *s = r->srv;
    json_t *sw = NULL;
    int64_t *ids = NULL;
    size_t n = 0, cap = 0;
    int64_t canceled = 0;
    struct srv_conn *c = srv_tx_begin(s, &r->err);
    if (!c)
        return r->err.code;
    int rc = srv_sweep_load(c, r->id, false, &sw, &r->err);
    json_decref(sw);
    sw = NULL;
    sqlite3_stmt *st = rc >= 0 ? srv_stmt(c, sql, &r->err) : NULL;
    if (rc >= 0 && !st)
        rc = QC_EIO;
    if (st) {
        sqlite3_bind_int64(st, 1, r->id);
        while (sqlite3_step(st) == SQLITE_ROW) {
            if (n == cap) {
                cap = cap ? cap * 2 : 64;
                int64_t *p = realloc(ids, cap * sizeof *ids);
                if (!p) {
                    rc = srv_fail(r, QC_ENOMEM, NULL, "", "out of memory");
                    break;
                }
                ids = p;
            }
            ids[n++] = sqlite3_column_int64(st, 0);
        }
        sqlite3_reset(st);
    }
    for (size_t i = 0; rc >= 0 && i < n; i++) {
        bool changed;
        rc = srv_run_cancel_tx(s, c, ids[i], &changed, &r->err);
        canceled += changed;
    }
    if (rc >= 0)
        rc = srv_sweep_load(c, r->id, false, &sw, &r->err);
    rc = srv_tx_end(s, rc, &r->err);
    free(ids);
    if (rc < 0) {
        json_decref(sw);
        return rc;
    }
    return srv_reply(r, 200, json_pack("{s:o,s:I}", "sweep", sw, "canceled", (json_int_t)canceled));
}
