/* Runs, their events and leases in SQLite. */
#include "server/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/jtext.h"
#include "server/run_query.h"
#include "server/srv.h"

static json_t *col_json_text(sqlite3_stmt *st, int i)
{
    const char *t = (const char *)sqlite3_column_text(st, i);
    json_t *j = t ? json_loads(t, 0, NULL) : NULL;
    return j ? j : json_null();
}

static json_t *col_num(sqlite3_stmt *st, int i)
{
    switch (sqlite3_column_type(st, i)) {
    case SQLITE_NULL:
        return json_null();
    case SQLITE_INTEGER:
        return json_integer(sqlite3_column_int64(st, i));
    default:
        return json_real(sqlite3_column_double(st, i));
    }
}

static json_t *col_str(sqlite3_stmt *st, int i)
{
    const char *t = (const char *)sqlite3_column_text(st, i);
    return t ? json_string(t) : json_null();
}

json_t *srv_run_json(sqlite3_stmt *st, bool with_spec)
{
    json_t *o = json_object();
    json_object_set_new(o, "id", json_integer(sqlite3_column_int64(st, 0)));
    json_object_set_new(o, "sweep", col_num(st, 1));
    json_object_set_new(o, "name", col_str(st, 2));
    json_object_set_new(o, "state", col_str(st, 3));
    json_object_set_new(o, "priority", col_num(st, 4));
    json_object_set_new(o, "attempt", col_num(st, 5));
    json_object_set_new(o, "max_attempts", col_num(st, 6));
    json_object_set_new(o, "worker", col_num(st, 7));
    json_object_set_new(o, "device", col_str(st, 8));
    json_object_set_new(o, "created", col_num(st, 9));
    json_object_set_new(o, "started", col_num(st, 10));
    json_object_set_new(o, "finished", col_num(st, 11));
    json_object_set_new(o, "lease_deadline", col_num(st, 12));
    json_object_set_new(o, "cancel_requested", json_boolean(sqlite3_column_int(st, 13)));
    json_object_set_new(o, "stop_requested", json_boolean(sqlite3_column_int(st, 14)));
    json_object_set_new(o, "error", col_str(st, 15));
    json_object_set_new(o, "summary", col_json_text(st, 16));
    json_object_set_new(o, "cost", col_json_text(st, 17));
    if (with_spec)
        json_object_set_new(o, "spec", col_json_text(st, 18));
    json_object_set_new(o, "tags", col_json_text(st, 19));
    json_object_set_new(o, "note", col_str(st, 20));
    json_object_set_new(o, "submitted_by", col_str(st, 21));
    json_object_set_new(o, "imported", json_boolean(sqlite3_column_type(st, 22) != SQLITE_NULL));
    return o;
}

static void jt_num(struct srv_jtext *j, sqlite3_stmt *st, int i)
{
    switch (sqlite3_column_type(st, i)) {
    case SQLITE_NULL:
        srv_jtext_lit(j, "null");
        break;
    case SQLITE_INTEGER:
        srv_jtext_int(j, sqlite3_column_int64(st, i));
        break;
    default:
        srv_jtext_real(j, sqlite3_column_double(st, i));
    }
}

/* A stored JSON column: copied when it is an object or an array (what the
 * server writes); anything else goes through jansson as srv_run_json
 * does, null when it does not parse. */
static void jt_json(struct srv_jtext *j, sqlite3_stmt *st, int i)
{
    const char *t = (const char *)sqlite3_column_text(st, i);
    int n = sqlite3_column_bytes(st, i);
    if (t && n >= 2 && ((t[0] == '{' && t[n - 1] == '}') || (t[0] == '[' && t[n - 1] == ']'))) {
        srv_jtext_raw(j, t, (size_t)n);
        return;
    }
    json_t *v = col_json_text(st, i);
    char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(v);
    srv_jtext_lit(j, text ? text : "null");
    free(text);
}

void srv_run_jtext(struct srv_jtext *j, sqlite3_stmt *st, bool with_spec)
{
    srv_jtext_lit(j, "{\"id\":");
    srv_jtext_int(j, sqlite3_column_int64(st, 0));
    srv_jtext_lit(j, ",\"sweep\":");
    jt_num(j, st, 1);
    srv_jtext_lit(j, ",\"name\":");
    srv_jtext_str(j, (const char *)sqlite3_column_text(st, 2));
    srv_jtext_lit(j, ",\"state\":");
    srv_jtext_str(j, (const char *)sqlite3_column_text(st, 3));
    srv_jtext_lit(j, ",\"priority\":");
    jt_num(j, st, 4);
    srv_jtext_lit(j, ",\"attempt\":");
    jt_num(j, st, 5);
    srv_jtext_lit(j, ",\"max_attempts\":");
    jt_num(j, st, 6);
    srv_jtext_lit(j, ",\"worker\":");
    jt_num(j, st, 7);
    srv_jtext_lit(j, ",\"device\":");
    srv_jtext_str(j, (const char *)sqlite3_column_text(st, 8));
    srv_jtext_lit(j, ",\"created\":");
    jt_num(j, st, 9);
    srv_jtext_lit(j, ",\"started\":");
    jt_num(j, st, 10);
    srv_jtext_lit(j, ",\"finished\":");
    jt_num(j, st, 11);
    srv_jtext_lit(j, ",\"lease_deadline\":");
    jt_num(j, st, 12);
    srv_jtext_lit(j, ",\"cancel_requested\":");
    srv_jtext_bool(j, sqlite3_column_int(st, 13));
    srv_jtext_lit(j, ",\"stop_requested\":");
    srv_jtext_bool(j, sqlite3_column_int(st, 14));
    srv_jtext_lit(j, ",\"error\":");
    srv_jtext_str(j, (const char *)sqlite3_column_text(st, 15));
    srv_jtext_lit(j, ",\"summary\":");
    jt_json(j, st, 16);
    srv_jtext_lit(j, ",\"cost\":");
    jt_json(j, st, 17);
    if (with_spec) {
        srv_jtext_lit(j, ",\"spec\":");
        jt_json(j, st, 18);
    }
    srv_jtext_lit(j, ",\"tags\":");
    jt_json(j, st, 19);
    srv_jtext_lit(j, ",\"note\":");
    srv_jtext_str(j, (const char *)sqlite3_column_text(st, 20));
    srv_jtext_lit(j, ",\"submitted_by\":");
    srv_jtext_str(j, (const char *)sqlite3_column_text(st, 21));
    srv_jtext_lit(j, ",\"imported\":");
    srv_jtext_bool(j, sqlite3_column_type(st, 22) != SQLITE_NULL);
    srv_jtext_lit(j, "}");
}

int srv_run_load(struct srv_conn *c, int64_t id, bool with_spec, json_t **out, struct qc_err *err)
{
    static const char sql[] = "SELECT " SRV_RUN_COLS " FROM runs WHERE id = ?";
    sqlite3_stmt *st = srv_stmt(c, sql, err);
    *out = NULL;
    if (!st)
        return QC_EIO;
    sqlite3_bind_int64(st, 1, id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *out = srv_run_json(st, with_spec);
        sqlite3_reset(st);
        return QC_OK;
    }
    sqlite3_reset(st);
    if (rc == SQLITE_DONE)
        return qc_err_set(err, QC_ENOTFOUND, "", "no run %lld", (long long)id);
    return srv_db_fail(c, err, "load run");
}

int64_t srv_event_add(struct srv_conn *c, const char *kind, int64_t run_id, int64_t sweep_id,
                      json_t *data, struct qc_err *err)
{
    static const char sql[] =
        "INSERT INTO events (t, kind, run_id, sweep_id, data) VALUES (?, ?, ?, ?, ?)";
    char *text = json_dumps(data, JSON_COMPACT);
    json_decref(data);
    sqlite3_stmt *st = srv_stmt(c, sql, err);
    if (!st || !text) {
        free(text);
        return st ? qc_err_set(err, QC_ENOMEM, "", "out of memory") : QC_EIO;
    }
    sqlite3_bind_double(st, 1, srv_now());
    sqlite3_bind_text(st, 2, kind, -1, SQLITE_STATIC);
    if (run_id > 0)
        sqlite3_bind_int64(st, 3, run_id);
    if (sweep_id > 0)
        sqlite3_bind_int64(st, 4, sweep_id);
    sqlite3_bind_text(st, 5, text, -1, free);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return srv_db_fail(c, err, "add event");
    return sqlite3_last_insert_rowid(c->db);
}

int srv_run_event(struct srv_server *s, struct srv_conn *c, int64_t run_id, json_t *extra,
                  struct qc_err *err)
{
    static const char sql[] =
        "SELECT sweep_id, state, attempt, worker_id, device, error FROM runs WHERE id = ?";
    sqlite3_stmt *st = srv_stmt(c, sql, err);
    if (!st) {
        json_decref(extra);
        return QC_EIO;
    }
    sqlite3_bind_int64(st, 1, run_id);
    if (sqlite3_step(st) != SQLITE_ROW) {
        sqlite3_reset(st);
        json_decref(extra);
        return srv_db_fail(c, err, "run event");
    }
    int64_t sweep = sqlite3_column_int64(st, 0);
    json_t *d = json_object();
    json_object_set_new(d, "run", json_integer(run_id));
    json_object_set_new(d, "sweep", sweep ? json_integer(sweep) : json_null());
    json_object_set_new(d, "state", col_str(st, 1));
    json_object_set_new(d, "attempt", col_num(st, 2));
    json_object_set_new(d, "worker", col_num(st, 3));
    json_object_set_new(d, "device", col_str(st, 4));
    json_object_set_new(d, "error", col_str(st, 5));
    sqlite3_reset(st);
    if (extra)
        json_object_update(d, extra);
    json_decref(extra);
    int64_t id = srv_event_add(c, "run", run_id, sweep, d, err);
    if (id < 0)
        return (int)id;
    s->tx_event = id;
    return QC_OK;
}

int srv_run_insert(struct srv_server *s, struct srv_conn *c, int64_t *id, int64_t sweep_id,
                   const json_t *spec, int64_t priority, int64_t max_attempts, const char *who,
                   struct qc_err *err)
{
    static const char sql[] =
        "INSERT INTO runs (sweep_id, name, spec, device_kind, device_board, state, priority, "
        "max_attempts, created, queued_at, submitted_by) VALUES (?, ?, ?, ?, ?, 'queued', ?, ?, ?, "
        "?, ?)";
    const json_t *dev = json_object_get(spec, "device");
    const char *kind = json_string_value(json_object_get(dev, "kind"));
    const char *board = json_string_value(json_object_get(dev, "board"));
    char *text = json_dumps(spec, JSON_COMPACT);
    sqlite3_stmt *st = srv_stmt(c, sql, err);
    if (!st || !text) {
        free(text);
        return st ? qc_err_set(err, QC_ENOMEM, "", "out of memory") : QC_EIO;
    }
    double now = srv_now();
    if (sweep_id > 0)
        sqlite3_bind_int64(st, 1, sweep_id);
    sqlite3_bind_text(st, 2, json_string_value(json_object_get(spec, "name")), -1,
                      SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 3, text, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 4, kind ? kind : "any", -1, SQLITE_TRANSIENT);
    if (board && board[0])
        sqlite3_bind_text(st, 5, board, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 6, priority);
    sqlite3_bind_int64(st, 7, max_attempts);
    sqlite3_bind_double(st, 8, now);
    sqlite3_bind_double(st, 9, now);
    if (who)
        sqlite3_bind_text(st, 10, who, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        free(text);
        return srv_db_fail(c, err, "insert run");
    }
    *id = sqlite3_last_insert_rowid(c->db);
    rc = srv_run_fields_insert(c, *id, text, err);
    free(text);
    if (rc < 0)
        return rc;
    s->tx_queued = true;
    return srv_run_event(s, c, *id, NULL, err);
}

int srv_lease_end(struct srv_conn *c, int64_t run_id, const char *outcome, struct qc_err *err)
{
    static const char sql[] =
        "UPDATE leases SET ended = ?, outcome = ? WHERE run_id = ? AND ended IS NULL";
    sqlite3_stmt *st = srv_stmt(c, sql, err);
    if (!st)
        return QC_EIO;
    sqlite3_bind_double(st, 1, srv_now());
    sqlite3_bind_text(st, 2, outcome, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, run_id);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? QC_OK : srv_db_fail(c, err, "end lease");
}

int srv_lease_check(struct srv_conn *c, int64_t id, const char *lease, int64_t worker_id,
                    char *state, struct qc_err *err)
{
    static const char sql[] = "SELECT state, lease_token, worker_id FROM runs WHERE id = ?";
    sqlite3_stmt *st = srv_stmt(c, sql, err);
    if (!st)
        return QC_EIO;
    sqlite3_bind_int64(st, 1, id);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        sqlite3_reset(st);
        return rc == SQLITE_DONE ? qc_err_set(err, QC_ENOTFOUND, "", "no run %lld", (long long)id)
                                 : srv_db_fail(c, err, "lease check");
    }
    snprintf(state, 16, "%s", (const char *)sqlite3_column_text(st, 0));
    const char *tok = (const char *)sqlite3_column_text(st, 1);
    int64_t holder = sqlite3_column_int64(st, 2);
    bool ok = tok && lease && srv_token_eq(tok, lease) &&
              (strcmp(state, "leased") == 0 || strcmp(state, "running") == 0);
    bool mine = worker_id == 0 || holder == worker_id;
    sqlite3_reset(st);
    if (!lease || !lease[0])
        return qc_err_set(err, QC_EINVAL, "X-Qlab-Lease", "the X-Qlab-Lease header is required");
    if (!ok)
        return qc_err_set(err, QC_ESTALE, "X-Qlab-Lease",
                          "lease is not the current lease of run %lld (now %s)", (long long)id,
                          state);
    /* The current lease, presented by another worker's token (docs/api.md:
     * 403, not 409: the caller's token, not the run, is wrong). */
    if (!mine)
        return qc_err_set(err, QC_EFORBID, "Authorization", "run %lld is leased to another worker",
                          (long long)id);
    return QC_OK;
}

int srv_import_check(struct srv_conn *c, int64_t id, struct qc_err *err)
{
    static const char sql[] = "SELECT import_key IS NOT NULL FROM runs WHERE id = ?";
    sqlite3_stmt *st = srv_stmt(c, sql, err);
    if (!st)
        return QC_EIO;
    sqlite3_bind_int64(st, 1, id);
    int rc = sqlite3_step(st);
    bool imported = rc == SQLITE_ROW && sqlite3_column_int(st, 0);
    sqlite3_reset(st);
    if (rc == SQLITE_DONE)
        return qc_err_set(err, QC_ENOTFOUND, "", "no run %lld", (long long)id);
    if (rc != SQLITE_ROW)
        return srv_db_fail(c, err, "import check");
    if (!imported)
        return qc_err_set(err, QC_EINVAL, "X-Qlab-Lease",
                          "the X-Qlab-Lease header is required (only runs recorded by POST "
                          "/runs/import take a checkpoint without a lease)");
    return QC_OK;
}

struct srv_conn *srv_tx_begin(struct srv_server *s, struct qc_err *err)
{
    struct srv_conn *c = srv_db_write_begin(&s->db, err);
    if (!c)
        return NULL;
    s->tx_event = 0;
    s->tx_queued = false;
    return c;
}

int srv_tx_end(struct srv_server *s, int rc, struct qc_err *err)
{
    int64_t ev = s->tx_event;
    bool queued = s->tx_queued;
    int crc = srv_db_write_end(&s->db, rc >= 0, err);
    if (rc < 0)
        return rc;
    if (crc < 0)
        return crc;
    if (ev > 0 || queued)
        srv_hub_publish(&s->hub, ev, queued);
    return rc;
}

int srv_metric_name_id(struct srv_conn *c, const char *name, int64_t *id, struct qc_err *err)
{
    static const char get[] = "SELECT id FROM metric_names WHERE name = ?";
    static const char put[] = "INSERT INTO metric_names (name) VALUES (?)";
    sqlite3_stmt *st = srv_stmt(c, get, err);
    if (!st)
        return QC_EIO;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
    if (sqlite3_step(st) == SQLITE_ROW) {
        *id = sqlite3_column_int64(st, 0);
        sqlite3_reset(st);
        return QC_OK;
    }
    sqlite3_reset(st);
    if (!(st = srv_stmt(c, put, err)))
        return QC_EIO;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return srv_db_fail(c, err, "metric name");
    *id = sqlite3_last_insert_rowid(c->db);
    return QC_OK;
}

void srv_expire_leases(struct srv_server *s)
{
    static const char find[] = "SELECT id, attempt, max_attempts, state = 'running' FROM runs "
                               "WHERE state IN ('leased', 'running') AND lease_deadline < ? "
                               "LIMIT 100";
    /* A lease that never started (its worker vanished before /start, or
     * never got the answer) gives its attempt back: only training counts. */
    static const char requeue[] =
        "UPDATE runs SET state = 'queued', worker_id = NULL, device = NULL, lease_token = NULL, "
        "lease_deadline = NULL, queued_at = ?, attempt = attempt - (state = 'leased') "
        "WHERE id = ?";
    static const char fail[] =
        "UPDATE runs SET state = 'failed', worker_id = NULL, device = NULL, lease_token = NULL, "
        "lease_deadline = NULL, finished = ?, error = ? WHERE id = ?";
    struct qc_err err;
    int rc = QC_OK;
    struct srv_conn *c = srv_tx_begin(s, &err);
    if (!c) { /* busy: the next tick tries again */
        fprintf(stderr, "qlab-server: lease expiry: %s\n", err.msg);
        return;
    }
    sqlite3_stmt *st = srv_stmt(c, find, &err);
    int64_t ids[100], attempts[100], maxes[100];
    bool started[100];
    int n = 0;
    if (!st) {
        srv_tx_end(s, QC_EIO, &err);
        return;
    }
    sqlite3_bind_double(st, 1, srv_now());
    while (n < 100 && sqlite3_step(st) == SQLITE_ROW) {
        ids[n] = sqlite3_column_int64(st, 0);
        attempts[n] = sqlite3_column_int64(st, 1);
        maxes[n] = sqlite3_column_int64(st, 2);
        started[n] = sqlite3_column_int(st, 3) != 0;
        n++;
    }
    sqlite3_reset(st);
    for (int i = 0; i < n && rc >= 0; i++) {
        bool give_up = started[i] && attempts[i] >= maxes[i];
        char msg[128];
        if (started[i])
            snprintf(msg, sizeof msg, "lease expired on attempt %lld of %lld",
                     (long long)attempts[i], (long long)maxes[i]);
        else
            snprintf(msg, sizeof msg, "lease expired before the run started (not counted)");
        st = srv_stmt(c, give_up ? fail : requeue, &err);
        if (!st) {
            rc = QC_EIO;
            break;
        }
        sqlite3_bind_double(st, 1, srv_now());
        if (give_up) {
            sqlite3_bind_text(st, 2, msg, -1, SQLITE_TRANSIENT);
            sqlite3_bind_int64(st, 3, ids[i]);
        } else {
            sqlite3_bind_int64(st, 2, ids[i]);
        }
        if (sqlite3_step(st) != SQLITE_DONE)
            rc = srv_db_fail(c, &err, "expire lease");
        sqlite3_reset(st);
        if (rc >= 0)
            rc = srv_lease_end(c, ids[i], "expired", &err);
        if (rc >= 0)
            rc = srv_run_event(s, c, ids[i], json_pack("{s:s}", "reason", msg), &err);
        if (!give_up)
            s->tx_queued = true;
    }
    rc = srv_tx_end(s, rc, &err);
    if (rc < 0)
        fprintf(stderr, "qlab-server: lease expiry: %s\n", err.msg);
}

int srv_worker_tokens_hash(struct srv_server *s, struct qc_err *err)
{
    static const char find[] = "SELECT id, token FROM workers WHERE token NOT LIKE 'sha256:%'";
    static const char set[] = "UPDATE workers SET token = ? WHERE id = ?";
    struct srv_conn *c = srv_tx_begin(s, err);
    if (!c)
        return err->code;
    int rc = QC_OK;
    sqlite3_stmt *st = srv_stmt(c, find, err), *up = st ? srv_stmt(c, set, err) : NULL;
    if (!up)
        rc = QC_EIO;
    while (rc >= 0 && sqlite3_step(st) == SQLITE_ROW) {
        char hash[SRV_TOKEN_HASH_LEN + 1];
        srv_token_hash(hash, (const char *)sqlite3_column_text(st, 1));
        sqlite3_reset(up);
        sqlite3_bind_text(up, 1, hash, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(up, 2, sqlite3_column_int64(st, 0));
        if (sqlite3_step(up) != SQLITE_DONE)
            rc = srv_db_fail(c, err, "hash worker token");
    }
    if (st)
        sqlite3_reset(st);
    if (up)
        sqlite3_reset(up);
    return srv_tx_end(s, rc, err);
}

int srv_leases_grace(struct srv_server *s, struct qc_err *err)
{
    static const char sql[] = "UPDATE runs SET lease_deadline = ? WHERE state IN ('leased', "
                              "'running') AND lease_deadline < ?";
    struct srv_conn *c = srv_tx_begin(s, err);
    int rc = QC_OK;
    if (!c)
        return err->code;
    sqlite3_stmt *st = srv_stmt(c, sql, err);
    if (!st) {
        rc = QC_EIO;
    } else {
        double d = srv_now() + s->cfg.lease_ttl;
        sqlite3_bind_double(st, 1, d);
        sqlite3_bind_double(st, 2, d);
        if (sqlite3_step(st) != SQLITE_DONE)
            rc = srv_db_fail(c, err, "lease grace");
        sqlite3_reset(st);
    }
    return srv_tx_end(s, rc, err);
}

int64_t srv_worker_by_token(struct srv_server *s, const char *token)
{
    static const char sql[] = "SELECT id FROM workers WHERE token = ?";
    char hash[SRV_TOKEN_HASH_LEN + 1];
    srv_token_hash(hash, token);
    token = hash; /* the database holds hashes only */
    struct srv_conn *c = srv_db_reader(&s->db);
    if (!c)
        return 0;
    sqlite3_stmt *st = srv_stmt(c, sql, NULL);
    if (!st)
        return 0;
    sqlite3_bind_text(st, 1, token, -1, SQLITE_TRANSIENT);
    int64_t id = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    return id;
}
