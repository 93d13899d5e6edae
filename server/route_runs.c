/* Experiments and runs: create, list with filters, show, cancel, retry. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qcore/spec.h"
#include "server/srv.h"
#include "server/store.h"

/* Validates an experiment document with the core's parser and returns its
 * canonical form (new reference), or NULL with the 400 set. */
static json_t *canonical_spec(struct srv_req *r, const json_t *doc)
{
    struct qc_spec *spec = malloc(sizeof *spec); /* ~80 KB: not on a pool thread's stack */
    json_t *out = NULL;
    if (!spec) {
        srv_fail(r, QC_ENOMEM, NULL, "", "out of memory");
        return NULL;
    }
    if (qc_spec_from_json(spec, doc, &r->err) < 0)
        snprintf(r->err_code, sizeof r->err_code, "invalid_spec");
    else if (!(out = qc_spec_to_json(spec)))
        srv_fail(r, QC_ENOMEM, NULL, "", "out of memory");
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
    json_t *spec = canonical_spec(r, doc);
    json_decref(doc);
    if (!spec)
        return r->err.code;
    struct srv_conn *c = srv_tx_begin(s, &r->err);
    if (!c) {
        json_decref(spec);
        return r->err.code;
    }
    rc = srv_run_insert(s, c, &id, 0, spec, priority, max_attempts, &r->err);
    json_t *run = NULL;
    if (rc >= 0)
        rc = srv_run_load(c, id, true, &run, &r->err);
    rc = srv_tx_end(s, rc, &r->err);
    json_decref(spec);
    if (rc < 0) {
        json_decref(run);
        return rc;
    }
    return srv_reply(r, 201, json_pack("{s:o}", "run", run));
}

/* ---- GET /runs: filters built from fixed SQL fragments, values bound ---- */

#define FILTERS_MAX 32

struct bind {
    enum { B_INT, B_REAL, B_TEXT } type;
    int64_t i;
    double d;
    const char *t; /* borrowed from the query string */
};

struct list_query {
    char sql[4096];
    struct bind binds[FILTERS_MAX * 2 + 8]; /* two per filter, then the states */
    int nbinds;
    char paths[FILTERS_MAX][160]; /* json paths "$.a.b" bound as text */
    int npaths;
    bool states[6]; /* ?state, collected over every occurrence */
    bool any_state;
    struct srv_req *r;
    int rc;
};

static const char *const run_states[] = {"queued",    "leased", "running",
                                         "succeeded", "failed", "canceled"};

static void add_sql(struct list_query *q, const char *frag)
{
    size_t n = strlen(q->sql);
    snprintf(q->sql + n, sizeof q->sql - n, "%s", frag);
}

static void bind_text(struct list_query *q, const char *t)
{
    q->binds[q->nbinds++] = (struct bind){.type = B_TEXT, .t = t};
}

/* The spec value as the JSON value written: numbers and booleans compare as
 * numbers (json_extract returns them so), anything else as text. */
static void bind_value(struct list_query *q, const char *v)
{
    char *end;
    if (strcmp(v, "true") == 0 || strcmp(v, "false") == 0) {
        q->binds[q->nbinds++] = (struct bind){.type = B_INT, .i = v[0] == 't'};
        return;
    }
    double d = strtod(v, &end);
    if (v[0] && !*end && isfinite(d)) {
        q->binds[q->nbinds++] = (struct bind){.type = B_REAL, .d = d};
        return;
    }
    bind_text(q, v);
}

static bool dotted_path_ok(const char *p)
{
    size_t n = strlen(p);
    if (n == 0 || n > 120 || p[0] == '.' || p[n - 1] == '.' || strstr(p, ".."))
        return false;
    for (const char *c = p; *c; c++)
        if (!isalnum((unsigned char)*c) && *c != '_' && *c != '.')
            return false;
    return true;
}

/* Whether the dotted path names a key the spec parser accepts (a layer
 * name under arith.layers matches the table's "*"). */
static bool spec_path_known(const char *dotted)
{
    char want[160], known[256];
    snprintf(want, sizeof want, "/%s", dotted);
    for (char *c = want; *c; c++)
        if (*c == '.')
            *c = '/';
    for (int i = 0; qc_spec_known_path(known, sizeof known, i); i++) {
        const char *k = known, *w = want;
        while (*k && *w) {
            if (k[0] == '*' && (k[1] == '/' || !k[1])) { /* any one segment */
                k++;
                while (*w && *w != '/')
                    w++;
                continue;
            }
            if (*k != *w)
                break;
            k++;
            w++;
        }
        if (!*k && !*w)
            return true;
    }
    return false;
}

static enum MHD_Result each_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                const char *value)
{
    struct list_query *q = cls;
    (void)kind;
    if (q->rc < 0)
        return MHD_NO;
    if (!value)
        value = "";
    if (q->nbinds + 2 > FILTERS_MAX * 2) {
        char field[140];
        snprintf(field, sizeof field, "?%.130s", key);
        q->rc = srv_fail(q->r, QC_EINVAL, "bad_param", field, "too many filters");
        return MHD_NO;
    }
    if (strcmp(key, "sweep") == 0 || strcmp(key, "worker") == 0) {
        char *end;
        long long v = strtoll(value, &end, 10);
        if (!value[0] || *end || v <= 0) {
            q->rc = srv_fail(q->r, QC_EINVAL, "bad_param", key[0] == 's' ? "?sweep" : "?worker",
                             "%s must be a positive id", key);
            return MHD_NO;
        }
        add_sql(q, key[0] == 's' ? " AND sweep_id = ?" : " AND worker_id = ?");
        q->binds[q->nbinds++] = (struct bind){.type = B_INT, .i = v};
    } else if (strcmp(key, "state") == 0) {
        /* A comma list, and repeatable: every state named is an alternative
         * (one IN clause, added after the other filters). */
        const char *p = value;
        int n = 0;
        while (*p) {
            size_t len = strcspn(p, ",");
            int found = -1;
            for (int i = 0; i < 6; i++)
                if (strlen(run_states[i]) == len && strncmp(run_states[i], p, len) == 0)
                    found = i;
            if (found < 0) {
                q->rc = srv_fail(q->r, QC_EINVAL, "bad_param", "?state",
                                 "state '%.*s' is not one of queued, leased, running, succeeded, "
                                 "failed, canceled",
                                 (int)(len > 40 ? 40 : len), p);
                return MHD_NO;
            }
            q->states[found] = true;
            n++;
            p += len + (p[len] == ',');
        }
        if (n == 0) {
            q->rc = srv_fail(q->r, QC_EINVAL, "bad_param", "?state", "state is empty");
            return MHD_NO;
        }
        q->any_state = true;
    } else if (strncmp(key, "metric.", 7) == 0) {
        static const struct {
            const char *suffix, *sql;
        } ops[] = {{".gte", " AND json_extract(summary, ?) >= ?"},
                   {".gt", " AND json_extract(summary, ?) > ?"},
                   {".lte", " AND json_extract(summary, ?) <= ?"},
                   {".lt", " AND json_extract(summary, ?) < ?"}};
        const char *name = key + 7;
        size_t n = strlen(name);
        int op = -1;
        for (int i = 0; i < 4 && op < 0; i++) {
            size_t sl = strlen(ops[i].suffix);
            if (n > sl && strcmp(name + n - sl, ops[i].suffix) == 0) {
                op = i;
                n -= sl;
            }
        }
        char *end;
        double v = strtod(value, &end);
        char metric[96];
        snprintf(metric, sizeof metric, "%.*s", (int)(n < 90 ? n : 90), name);
        if (op < 0 || n >= 90 || !dotted_path_ok(metric) || strchr(metric, '.') || !value[0] ||
            *end || !isfinite(v) || q->npaths >= FILTERS_MAX) {
            q->rc = srv_fail(q->r, QC_EINVAL, "bad_param", "?metric",
                             "'%.100s' is not a metric filter like metric.val_acc.gte=0.8", key);
            return MHD_NO;
        }
        snprintf(q->paths[q->npaths], sizeof q->paths[0], "$.\"%s\"", metric);
        add_sql(q, ops[op].sql);
        bind_text(q, q->paths[q->npaths++]);
        q->binds[q->nbinds++] = (struct bind){.type = B_REAL, .d = v};
    } else if (strcmp(key, "limit") == 0 || strcmp(key, "cursor") == 0 ||
               strcmp(key, "spec") == 0 || strcmp(key, "token") == 0) {
        /* handled by the caller */
    } else {
        if (!dotted_path_ok(key) || q->npaths >= FILTERS_MAX || !spec_path_known(key)) {
            char field[140];
            snprintf(field, sizeof field, "?%.130s", key);
            q->rc = srv_fail(q->r, QC_EINVAL, "bad_param", field,
                             "unknown query parameter '%.100s': not sweep, state, worker, spec, "
                             "limit, cursor, metric.NAME.OP, nor a spec field's dotted path "
                             "(schema/experiment.schema.json)",
                             key);
            return MHD_NO;
        }
        snprintf(q->paths[q->npaths], sizeof q->paths[0], "$.%s", key);
        add_sql(q, " AND json_extract(spec, ?) = ?");
        bind_text(q, q->paths[q->npaths++]);
        bind_value(q, value);
    }
    return MHD_YES;
}

int srv_route_run_list(struct srv_req *r)
{
    int64_t limit, cursor;
    int rc;
    struct list_query *q = calloc(1, sizeof *q);
    if (!q)
        return srv_fail(r, QC_ENOMEM, NULL, "", "out of memory");
    q->r = r;
    if ((rc = srv_query_int(r, "limit", 1, 1000, 100, &limit)) < 0 ||
        (rc = srv_query_int(r, "cursor", 0, INT64_MAX, 0, &cursor)) < 0)
        goto out;
    bool with_spec = srv_query(r, "spec") && strcmp(srv_query(r, "spec"), "1") == 0;
    snprintf(q->sql, sizeof q->sql, "SELECT " SRV_RUN_COLS " FROM runs WHERE id > ?");
    MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, each_arg, q);
    if ((rc = q->rc) < 0)
        goto out;
    if (q->any_state) {
        add_sql(q, " AND state IN (");
        for (int i = 0, n = 0; i < 6; i++)
            if (q->states[i]) {
                add_sql(q, n++ ? ", ?" : "?");
                bind_text(q, run_states[i]);
            }
        add_sql(q, ")");
    }
    add_sql(q, " ORDER BY id LIMIT ?");

    struct srv_conn *c = srv_db_reader(&r->srv->db);
    if (!c) {
        rc = srv_fail(r, QC_EIO, NULL, "", "database: cannot open a reader");
        goto out;
    }
    sqlite3_stmt *st = srv_stmt_once(c, q->sql, &r->err);
    if (!st) {
        rc = QC_EIO;
        goto out;
    }
    int k = 1;
    sqlite3_bind_int64(st, k++, cursor);
    for (int i = 0; i < q->nbinds; i++, k++) {
        const struct bind *b = &q->binds[i];
        if (b->type == B_INT)
            sqlite3_bind_int64(st, k, b->i);
        else if (b->type == B_REAL)
            sqlite3_bind_double(st, k, b->d);
        else
            sqlite3_bind_text(st, k, b->t, -1, SQLITE_TRANSIENT);
    }
    sqlite3_bind_int64(st, k, limit + 1);
    json_t *runs = json_array();
    int64_t last = 0, n = 0;
    bool more = false;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (n == limit) {
            more = true;
            break;
        }
        last = sqlite3_column_int64(st, 0);
        json_array_append_new(runs, srv_run_json(st, with_spec));
        n++;
    }
    bool failed = rc != SQLITE_ROW && rc != SQLITE_DONE;
    if (failed)
        srv_db_fail(c, &r->err, "list runs");
    sqlite3_finalize(st);
    if (failed) {
        json_decref(runs);
        rc = QC_EIO;
        goto out;
    }
    char next[32];
    snprintf(next, sizeof next, "%lld", (long long)last);
    rc = srv_reply(r, 200,
                   json_pack("{s:o,s:o}", "runs", runs, "next_cursor",
                             more ? json_string(next) : json_null()));
out:
    free(q);
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
