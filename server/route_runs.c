/* Experiments and runs: create, list with filters, show, cancel, retry. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qcore/spec.h"
#include "server/filter.h"
#include "server/cost.h"
#include "server/jtext.h"
#include "server/run_query.h"
#include "server/srv.h"
#include "server/store.h"

/* Validates an experiment document with the core's parser and returns its
 * canonical form (new reference), or NULL with the 400 (and every error of
 * the document) set. */
json_t *srv_spec_canonical(struct srv_req *r, const json_t *doc)
{
    struct qc_spec *spec = malloc(sizeof *spec); /* ~80 KB: not on a pool thread's stack */
    json_t *out = NULL;
    if (!spec) {
        srv_fail(r, QC_ENOMEM, NULL, "", "out of memory");
        return NULL;
    }
    if (qc_spec_from_json(spec, doc, &r->err) < 0) {
        snprintf(r->err_code, sizeof r->err_code, "invalid_spec");
        srv_spec_errors(r, doc, false);
    } else if (!(out = qc_spec_to_json(spec))) {
        srv_fail(r, QC_ENOMEM, NULL, "", "out of memory");
    }
    free(spec);
    return out;
}

int srv_route_experiment_create(struct srv_req *r)
{
    struct srv_server *s = r->srv;
    int64_t priority, max_attempts, id = 0;
    int rc;
    if ((rc = srv_query_int(r, "priority", -1000000, 1000000, 0, &priority)) < 0 ||
        (rc = srv_query_int(r, "max_attempts", 1, 100, s->cfg.max_attempts, &max_attempts)) < 0)
        return rc;
    json_t *doc = srv_body_json(r);
    if (!doc)
        return QC_EINVAL;
    json_t *spec = srv_spec_canonical(r, doc);
    json_decref(doc);
    if (!spec)
        return r->err.code;
    struct srv_conn *c = srv_tx_begin(s, &r->err);
    if (!c) {
        json_decref(spec);
        return r->err.code;
    }
    rc = srv_run_insert(s, c, &id, 0, spec, priority, max_attempts, r->who, &r->err);
    if (rc >= 0)
        rc = srv_cost_attach(s, c, id, spec, &r->err);
    json_t *run = NULL;
    if (rc >= 0)
        rc = srv_run_load(c, id, true, &run, &r->err);
    rc = srv_tx_end(s, rc, &r->err);
    json_t *one = rc >= 0 ? json_pack("[O]", spec) : NULL;
    json_decref(spec);
    if (rc < 0) {
        json_decref(run);
        return rc;
    }
    json_t *warnings = srv_warnings_for(r, one);
    json_decref(one);
    return srv_reply(r, 201, json_pack("{s:o,s:o}", "run", run, "warnings", warnings));
}

/* ---- GET /runs: the SQL from run_query.c ----------------------------------- */

struct list_args {
    struct srv_run_query q;
    struct srv_req *r;
    int rc;
};

static enum MHD_Result each_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                const char *value)
{
    struct list_args *a = cls;
    (void)kind;
    if (a->rc < 0)
        return MHD_NO;
    a->rc = srv_run_query_add(&a->q, key, value, &a->r->err);
    if (a->rc < 0)
        snprintf(a->r->err_code, sizeof a->r->err_code, "bad_param");
    return a->rc < 0 ? MHD_NO : MHD_YES;
}

/* Interrupts a list query past its deadline (sqlite3_progress_handler). */
static int past_deadline(void *deadline)
{
    return srv_mono() > *(const double *)deadline;
}

static void add_bind(struct srv_sql *q, const struct srv_run_query_bind *b)
{
    if (b->type == SRV_B_INT)
        srv_sql_int(q, b->i);
    else if (b->type == SRV_B_REAL)
        srv_sql_real(q, b->d);
    else
        srv_sql_text(q, b->t);
}

/* The run list's SQL when a filter or an order_by is given (filter.c):
 * the legacy parameters' conditions (the first spec field through the
 * run_fields index), the filter's, then the keyset cursor of the order. */
static int custom_sql(struct srv_sql *sql, struct srv_req *r, const struct srv_run_query *q,
                      const struct srv_order *ord, int64_t limit)
{
    static const char *const states[] = {"queued",    "leased", "running",
                                         "succeeded", "failed", "canceled"};
    struct srv_sql where, after;
    int rc;
    srv_sql_init(&where);
    srv_sql_init(&after);
    if (q->has_drive) {
        srv_sql_add(&where, " AND runs.id IN (SELECT f.run_id FROM run_fields f WHERE f.path_id = "
                            "(SELECT id FROM spec_paths WHERE path = ?) AND f.value = ?)");
        for (int i = 0; i < 2; i++)
            add_bind(&where, &q->drive[i]);
    }
    srv_sql_add(&where, q->conds);
    for (int i = 0; i < q->nbinds; i++)
        add_bind(&where, &q->binds[i]);
    if (q->any_state) {
        srv_sql_add(&where, " AND state IN (");
        for (int i = 0, n = 0; i < 6; i++)
            if (q->states[i]) {
                srv_sql_add(&where, n++ ? ", ?" : "?");
                srv_sql_text(&where, states[i]);
            }
        srv_sql_add(&where, ")");
    }
    if ((rc = srv_filter_parse(&where, SRV_TABLE_RUNS, srv_query(r, "filter"), &r->err)) < 0 ||
        (rc = srv_cursor_where(&after, ord, srv_query(r, "cursor"), &r->err)) < 0) {
        snprintf(r->err_code, sizeof r->err_code, "bad_param");
        goto out;
    }
    /* NULL keys last, ties by id, in the order's direction. */
    if (!ord->key.text) {
        srv_sql_add(sql, "SELECT " SRV_RUN_COLS " FROM runs WHERE 1");
        srv_sql_append(sql, &where);
        srv_sql_append(sql, &after);
        srv_sql_add(sql, " ORDER BY id LIMIT ?");
    } else {
        srv_sql_add(sql, "SELECT * FROM (SELECT " SRV_RUN_COLS ", ");
        srv_sql_append(sql, &ord->key);
        srv_sql_add(sql, " AS okey FROM runs WHERE 1");
        srv_sql_append(sql, &where);
        srv_sql_add(sql, ") WHERE 1");
        srv_sql_append(sql, &after);
        srv_sql_add(sql, ord->desc ? " ORDER BY okey IS NULL, okey DESC, id DESC LIMIT ?"
                                   : " ORDER BY okey IS NULL, okey, id LIMIT ?");
    }
    srv_sql_int(sql, limit + 1);
    rc = sql->oom ? srv_fail(r, QC_ENOMEM, NULL, "", "out of memory") : QC_OK;
out:
    srv_sql_free(&where);
    srv_sql_free(&after);
    return rc;
}

int srv_route_run_list(struct srv_req *r)
{
    struct srv_server *s = r->srv;
    int64_t limit, cursor = 0;
    int rc;
    bool heavy = false;
    struct srv_order ord;
    struct srv_sql sql;
    sqlite3_stmt *st = NULL;
    char *next = NULL;
    struct list_args *a = calloc(1, sizeof *a);
    memset(&ord, 0, sizeof ord);
    srv_sql_init(&sql);
    if (!a)
        return srv_fail(r, QC_ENOMEM, NULL, "", "out of memory");
    a->r = r;
    srv_run_query_init(&a->q);
    const char *filter = srv_query(r, "filter"), *order = srv_query(r, "order_by");
    bool custom = (filter && filter[strspn(filter, " ")]) || (order && order[0]);
    if ((rc = srv_query_int(r, "limit", 1, 1000, 100, &limit)) < 0 ||
        (!custom && (rc = srv_query_int(r, "cursor", 0, INT64_MAX, 0, &cursor)) < 0))
        goto out;
    bool with_spec = srv_query(r, "spec") && strcmp(srv_query(r, "spec"), "1") == 0;
    if (custom && (rc = srv_order_parse(&ord, SRV_TABLE_RUNS, order, false, &r->err)) < 0) {
        snprintf(r->err_code, sizeof r->err_code, "bad_param");
        goto out;
    }
    MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, each_arg, a);
    if ((rc = a->rc) < 0)
        goto out;
    if (custom && (rc = custom_sql(&sql, r, &a->q, &ord, limit)) < 0)
        goto out;
    /* A metric threshold reads the summary of every candidate run, and a
     * filter or an order_by may: at most --heavy-lists of those at once, so
     * they cannot take the thread pool. */
    if (a->q.scans || custom) {
        if (atomic_fetch_add(&s->heavy_lists, 1) >= s->cfg.heavy_lists) {
            atomic_fetch_sub(&s->heavy_lists, 1);
            rc = srv_fail(r, QC_EUNAVAIL, NULL, "",
                          "too many metric-filtered, filtered or ordered run lists at once "
                          "(--heavy-lists %d); retry, or narrow the list with sweep= or a spec "
                          "field",
                          s->cfg.heavy_lists);
            goto out;
        }
        heavy = true;
    }

    struct srv_conn *c = srv_db_reader(&s->db);
    if (!c) {
        rc = srv_fail(r, QC_EIO, NULL, "", "database: cannot open a reader");
        goto out;
    }
    if (custom) {
        if ((st = srv_stmt_once(c, sql.text, &r->err)) != NULL) {
            int k = 1;
            srv_sql_bind(&sql, st, &k);
        }
    } else {
        st = srv_run_query_prepare(&a->q, c, cursor, limit, &r->err);
    }
    if (!st) {
        rc = QC_EIO;
        goto out;
    }
    /* Every list query has a deadline (--query-timeout). */
    double deadline = srv_mono() + s->cfg.query_timeout;
    sqlite3_progress_handler(c->db, 1000, past_deadline, &deadline);
    /* The page is written as text: a jansson tree of 100 runs, each with
     * its cost and summary parsed from their stored JSON, cost the list
     * ten times what its query did. */
    struct srv_jtext out;
    srv_jtext_init(&out);
    srv_jtext_lit(&out, "{\"runs\":[");
    int64_t n = 0;
    bool more = false;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (n == limit) {
            more = true;
            break;
        }
        if (n)
            srv_jtext_lit(&out, ",");
        srv_run_jtext(&out, st, with_spec);
        if (++n == limit) {
            int64_t last = sqlite3_column_int64(st, 0);
            free(next);
            if (ord.key.text) {
                next = srv_cursor_make(&ord, st, SRV_RUN_NCOLS, last);
            } else if ((next = malloc(24)) != NULL) {
                snprintf(next, 24, "%lld", (long long)last);
            }
        }
    }
    sqlite3_progress_handler(c->db, 0, NULL, NULL);
    bool failed = rc != SQLITE_ROW && rc != SQLITE_DONE;
    if (failed && rc == SQLITE_INTERRUPT) {
        r->status = 503;
        srv_fail(r, QC_EUNAVAIL, "query_timeout", "",
                 "the run list ran past --query-timeout (%g s); narrow it with sweep=, state= "
                 "or a spec field",
                 s->cfg.query_timeout);
    } else if (failed) {
        srv_db_fail(c, &r->err, "list runs");
    } else if (more && !next) {
        failed = true;
        srv_fail(r, QC_ENOMEM, NULL, "", "out of memory");
    }
    if (failed) {
        srv_jtext_free(&out);
        rc = r->err.code;
        goto out;
    }
    srv_jtext_lit(&out, "],\"next_cursor\":");
    srv_jtext_str(&out, more ? next : NULL);
    srv_jtext_lit(&out, "}");
    size_t len;
    char *text = srv_jtext_take(&out, &len);
    rc = text ? srv_reply_text(r, 200, text, len)
              : srv_fail(r, QC_ENOMEM, NULL, "", "out of memory");
out:
    sqlite3_finalize(st);
    if (heavy)
        atomic_fetch_sub(&s->heavy_lists, 1);
    free(next);
    srv_order_free(&ord);
    srv_sql_free(&sql);
    free(a);
    return rc;
}

int srv_route_run_get(struct srv_req *r)
{
    static const char leases_sql[] = "SELECT worker_id, device, attempt, started, ended, outcome "
                                     "FROM leases WHERE run_id = ? ORDER BY id";
    struct srv_conn *c = srv_db_reader(&r->srv->db);
    json_t *run = NULL;
    if (!c)
        return srv_fail(r, QC_EIO, NULL, "", "database: cannot open a reader");
    int rc = srv_run_load(c, r->id, true, &run, &r->err);
    if (rc < 0)
        return rc;
    sqlite3_stmt *st = srv_stmt(c, leases_sql, &r->err);
    if (!st) {
        json_decref(run);
        return QC_EIO;
    }
    json_t *leases = json_array();
    sqlite3_bind_int64(st, 1, r->id);
    while (sqlite3_step(st) == SQLITE_ROW) {
        json_t *l = json_pack(
            "{s:I,s:s,s:I,s:f}", "worker", (json_int_t)sqlite3_column_int64(st, 0), "device",
            (const char *)sqlite3_column_text(st, 1), "attempt",
            (json_int_t)sqlite3_column_int64(st, 2), "started", sqlite3_column_double(st, 3));
        json_object_set_new(l, "ended",
                            sqlite3_column_type(st, 4) == SQLITE_NULL
                                ? json_null()
                                : json_real(sqlite3_column_double(st, 4)));
        const char *oc = (const char *)sqlite3_column_text(st, 5);
        json_object_set_new(l, "outcome", oc ? json_string(oc) : json_null());
        json_array_append_new(leases, l);
    }
    sqlite3_reset(st);
    json_object_set_new(run, "leases", leases);
    return srv_reply(r, 200, json_pack("{s:o}", "run", run));
}

int srv_run_cancel_tx(struct srv_server *s, struct srv_conn *c, int64_t id, bool *changed,
                      struct qc_err *err)
{
    static const char now_sql[] = "UPDATE runs SET state = 'canceled', finished = ?, error = "
                                  "'canceled while queued' WHERE id = ? AND state = 'queued'";
    static const char req_sql[] = "UPDATE runs SET cancel_requested = 1 WHERE id = ? AND state IN "
                                  "('leased', 'running') AND cancel_requested = 0";
    char state[16];
    json_t *run = NULL;
    int rc = srv_run_load(c, id, false, &run, err);
    *changed = false;
    if (rc < 0)
        return rc;
    snprintf(state, sizeof state, "%s", json_string_value(json_object_get(run, "state")));
    json_decref(run);
    if (strcmp(state, "succeeded") == 0 || strcmp(state, "failed") == 0 ||
        strcmp(state, "canceled") == 0)
        return qc_err_set(err, QC_ECONFLICT, "", "run %lld is already %s", (long long)id, state);
    bool queued = strcmp(state, "queued") == 0;
    sqlite3_stmt *st = srv_stmt(c, queued ? now_sql : req_sql, err);
    if (!st)
        return QC_EIO;
    if (queued) {
        sqlite3_bind_double(st, 1, srv_now());
        sqlite3_bind_int64(st, 2, id);
    } else {
        sqlite3_bind_int64(st, 1, id);
    }
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return srv_db_fail(c, err, "cancel");
    if (sqlite3_changes(c->db) == 0)
        return QC_OK; /* a cancel was already requested */
    *changed = true;
    return srv_run_event(s, c, id, queued ? NULL : json_pack("{s:b}", "cancel_requested", 1), err);
}

int srv_route_run_cancel(struct srv_req *r)
{
    struct srv_server *s = r->srv;
    bool changed;
    json_t *run = NULL;
    struct srv_conn *c = srv_tx_begin(s, &r->err);
    if (!c)
        return r->err.code;
    int rc = srv_run_cancel_tx(s, c, r->id, &changed, &r->err);
    if (rc >= 0)
        rc = srv_run_load(c, r->id, false, &run, &r->err);
    if ((rc = srv_tx_end(s, rc, &r->err)) < 0)
        return rc;
    return srv_reply(r, 200, json_pack("{s:o}", "run", run));
}

int srv_route_run_retry(struct srv_req *r)
{
    static const char sql[] =
        "UPDATE runs SET state = 'queued', attempt = 0, cancel_requested = 0, stop_requested = 0, "
        "error = NULL, finished = NULL, queued_at = ? WHERE id = ? AND state IN ('failed', "
        "'canceled')";
    struct srv_server *s = r->srv;
    json_t *run = NULL;
    struct srv_conn *c = srv_tx_begin(s, &r->err);
    if (!c)
        return r->err.code;
    int rc = srv_run_load(c, r->id, false, &run, &r->err);
    sqlite3_stmt *st = rc >= 0 ? srv_stmt(c, sql, &r->err) : NULL;
    if (rc >= 0 && !st)
        rc = QC_EIO;
    if (st) {
        sqlite3_bind_double(st, 1, srv_now());
        sqlite3_bind_int64(st, 2, r->id);
        if (sqlite3_step(st) != SQLITE_DONE)
            rc = srv_db_fail(c, &r->err, "retry");
        else if (sqlite3_changes(c->db) == 0)
            rc = qc_err_set(&r->err, QC_ECONFLICT, "",
                            "run %lld is %s; only failed or canceled "
                            "runs can be retried",
                            (long long)r->id, json_string_value(json_object_get(run, "state")));
        sqlite3_reset(st);
    }
    json_decref(run);
    run = NULL;
    if (rc >= 0) {
        s->tx_queued = true;
        rc = srv_run_event(s, c, r->id, json_pack("{s:s}", "reason", "retry"), &r->err);
    }
    if (rc >= 0)
        rc = srv_run_load(c, r->id, false, &run, &r->err);
    if ((rc = srv_tx_end(s, rc, &r->err)) < 0) {
        json_decref(run);
        return rc;
    }
    return srv_reply(r, 200, json_pack("{s:o}", "run", run));
}
