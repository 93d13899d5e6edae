/* POST /runs/import: a run trained elsewhere (qlab train on a laptop,
 * `qlab upload`) recorded as a finished run, with its spec validated like
 * any submission, its metric points and its timings, in one transaction.
 * The client's `key` makes it idempotent: the same key answers the run
 * recorded the first time. Its checkpoint follows with PUT
 * /runs/{id}/checkpoint, which an admin may call without a lease for an
 * imported run. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/rollup.h"
#include "server/run_query.h"
#include "server/srv.h"
#include "server/store.h"

#define IMPORT_POINTS_MAX 1000000
#define KEY_MAX           128

static bool key_ok(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > KEY_MAX)
        return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && !strchr("_.:-", *s))
            return false;
    return true;
}

static bool printable(const char *s, size_t max)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > max)
        return false;
    for (; *s; s++)
        if ((unsigned char)*s < ' ')
            return false;
    return true;
}

/* The run with import key `key`, 0 when none. */
static int find_key(struct srv_conn *c, const char *key, int64_t *id, struct qc_err *err)
{
    static const char sql[] = "SELECT id FROM runs WHERE import_key = ?";
    sqlite3_stmt *st = srv_stmt(c, sql, err);
    *id = 0;
    if (!st)
        return QC_EIO;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *id = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? QC_OK : srv_db_fail(c, err, "import key");
}

/* Checks the body's fields other than the spec. */
static int check_body(struct srv_req *r, const json_t *doc)
{
    static const char *const keys[] = {"spec",     "key",    "state", "error", "started",
                                       "finished", "points", "tags",  "note",  "host"};
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)doc, k, v)
    {
        bool known = false;
        for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
            known = known || strcmp(k, keys[i]) == 0;
        if (!known) {
            char f[80];
            snprintf(f, sizeof f, "/%.70s", k);
            return srv_fail(r, QC_EINVAL, "invalid_request", f, "unknown key '%.60s'", k);
        }
    }
    const char *state = json_string_value(json_object_get(doc, "state"));
    const json_t *started = json_object_get(doc, "started"),
                 *finished = json_object_get(doc, "finished"),
                 *pts = json_object_get(doc, "points");
    const json_t *error = json_object_get(doc, "error"), *note = json_object_get(doc, "note");
    const json_t *host = json_object_get(doc, "host");
    if (!json_is_object(json_object_get(doc, "spec")))
        return srv_fail(r, QC_EINVAL, "invalid_request", "/spec", "spec (an object) is required");
    if (!key_ok(json_string_value(json_object_get(doc, "key"))))
        return srv_fail(r, QC_EINVAL, "invalid_request", "/key",
                        "key is required: 1..%d letters, digits or _.:- identifying the run (a "
                        "second import with the same key answers the first run)",
                        KEY_MAX);
    if (json_object_get(doc, "state") &&
        (!state || (strcmp(state, "succeeded") != 0 && strcmp(state, "failed") != 0 &&
                    strcmp(state, "canceled") != 0)))
        return srv_fail(r, QC_EINVAL, "invalid_request", "/state",
                        "state is succeeded, failed or canceled");
    if (started && !json_is_number(started))
        return srv_fail(r, QC_EINVAL, "invalid_request", "/started", "started is a time (s)");
    if (finished && !json_is_number(finished))
        return srv_fail(r, QC_EINVAL, "invalid_request", "/finished", "finished is a time (s)");
    if (started && finished && json_number_value(finished) < json_number_value(started))
        return srv_fail(r, QC_EINVAL, "invalid_request", "/finished", "finished is before started");
    if (error && !json_is_null(error) && !json_is_string(error))
        return srv_fail(r, QC_EINVAL, "invalid_request", "/error", "error is text or null");
    if (note && (!json_is_string(note) || json_string_length(note) > 65536))
        return srv_fail(r, QC_EINVAL, "invalid_request", "/note", "note is text (64 KiB at most)");
    if (host && !printable(json_string_value(host), 255))
        return srv_fail(r, QC_EINVAL, "invalid_request", "/host",
                        "host is 1..255 printable characters");
    if (json_object_get(doc, "tags")) {
        int rc = srv_tags_check(r, json_object_get(doc, "tags"), "/tags");
        if (rc < 0)
            return rc;
    }
    if (pts && (!json_is_array(pts) || json_array_size(pts) > IMPORT_POINTS_MAX))
        return srv_fail(r, QC_EINVAL, "invalid_request", "/points",
                        "points is an array of at most %d {\"step\", \"name\", \"value\"[, \"t\"]}",
                        IMPORT_POINTS_MAX);
    size_t i;
    json_array_foreach(pts, i, v)
    {
        const json_t *step = json_object_get(v, "step"), *val = json_object_get(v, "value");
        const json_t *t = json_object_get(v, "t");
        char f[48];
        snprintf(f, sizeof f, "/points/%zu", i);
        if (!json_is_object(v) || json_object_size(v) != 3u + (t != NULL) ||
            !json_is_integer(step) || json_integer_value(step) < 0 ||
            !(json_is_number(val) || json_is_null(val)) || (t && !json_is_number(t)))
            return srv_fail(r, QC_EINVAL, "invalid_request", f,
                            "a point is {\"step\": integer >= 0, \"name\": string, \"value\": "
                            "number or null[, \"t\": time]}");
        if (!srv_metric_name_ok(json_string_value(json_object_get(v, "name"))))
            return srv_fail(r, QC_EINVAL, "invalid_request", f,
                            "metric names are 1..63 letters, digits, '_', '.' or '/'");
    }
    return QC_OK;
}

/* Inserts the points and returns the summary (each name's latest finite
 * value) in *summary (new reference). */
static int insert_points(struct srv_req *r, struct srv_conn *c, int64_t id, const json_t *pts,
                         double t_default, json_t **summary)
{
    struct srv_rollup_batch roll;
    static const char ins[] = "INSERT INTO metrics (run_id, name_id, step, value, t) VALUES (?, ?, "
                              "?, ?, ?) ON CONFLICT DO NOTHING";
    json_t *ids = json_object(), *last = json_object();
    size_t i;
    const json_t *p;
    int rc = QC_OK;
    *summary = json_object();
    srv_rollup_batch_init(&roll);
    sqlite3_stmt *st = srv_stmt(c, ins, &r->err);
    if (!st)
        rc = QC_EIO;
    json_array_foreach(pts, i, p)
    {
        if (rc < 0)
            break;
        const char *name = json_string_value(json_object_get(p, "name"));
        const json_t *val = json_object_get(p, "value"), *t = json_object_get(p, "t");
        int64_t step = json_integer_value(json_object_get(p, "step"));
        json_int_t nid;
        if (!json_object_get(ids, name)) {
            int64_t x;
            if ((rc = srv_metric_name_id(c, name, &x, &r->err)) < 0)
                break;
            json_object_set_new(ids, name, json_integer(x));
            st = srv_stmt(c, ins, &r->err); /* the name look-up used the connection */
            if (!st) {
                rc = QC_EIO;
                break;
            }
        }
        nid = json_integer_value(json_object_get(ids, name));
        bool finite = json_is_number(val) && isfinite(json_number_value(val));
        sqlite3_bind_int64(st, 1, id);
        sqlite3_bind_int64(st, 2, nid);
        sqlite3_bind_int64(st, 3, step);
        if (finite)
            sqlite3_bind_double(st, 4, json_number_value(val));
        else
            sqlite3_bind_null(st, 4);
        double when = t ? json_number_value(t) : t_default;
        sqlite3_bind_double(st, 5, when);
        if (sqlite3_step(st) != SQLITE_DONE)
            rc = srv_db_fail(c, &r->err, "insert metric");
        else if (sqlite3_changes(c->db)) /* a repeated point is neither stored nor rolled up */
            rc = srv_rollup_batch_add(&roll, nid, step, !finite,
                                      finite ? json_number_value(val) : 0, when, &r->err);
        sqlite3_reset(st);
        const json_t *prev = json_object_get(last, name);
        if (finite && (!prev || json_integer_value(prev) <= step)) {
            json_object_set_new(last, name, json_integer(step));
            json_object_set_new(*summary, name, json_real(json_number_value(val)));
        }
    }
    if (rc >= 0)
        rc = srv_rollup_batch_write(c, id, &roll, &r->err);
    srv_rollup_batch_free(&roll);
    json_decref(ids);
    json_decref(last);
    return rc;
}

int srv_route_run_import(struct srv_req *r)
{
    static const char sql[] =
        "INSERT INTO runs (name, spec, device_kind, device_board, state, attempt, max_attempts, "
        "device, error, summary, created, queued_at, started, finished, submitted_by, import_key, "
        "tags, note) VALUES (?, ?, ?, ?, ?, 1, 1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
    struct srv_server *s = r->srv;
    json_t *spec = NULL, *run = NULL, *summary = NULL;
    char *spec_text = NULL, *sum_text = NULL, *tags_text = NULL;
    int64_t id = 0;
    bool created = false;
    int rc;

    json_t *doc = srv_body_json(r);
    if (!doc)
        return QC_EINVAL;
    if ((rc = check_body(r, doc)) < 0)
        goto out;
    if (!(spec = srv_spec_canonical(r, json_object_get(doc, "spec")))) {
        /* Point the errors into the body: /spec/... */
        char f[sizeof r->err.field];
        snprintf(f, sizeof f, "/spec%.*s", (int)sizeof f - 6, r->err.field);
        snprintf(r->err.field, sizeof r->err.field, "%s", f);
        size_t i;
        json_t *e;
        json_array_foreach(r->errors, i, e)
        {
            char g[300];
            snprintf(g, sizeof g, "/spec%s", json_string_value(json_object_get(e, "field")));
            json_object_set_new(e, "field", json_string(g));
        }
        rc = r->err.code;
        goto out;
    }
    const json_t *dev = json_object_get(spec, "device");
    const char *kind = json_string_value(json_object_get(dev, "kind"));
    const char *board = json_string_value(json_object_get(dev, "board"));
    const char *state = json_string_value(json_object_get(doc, "state"));
    const char *error = json_string_value(json_object_get(doc, "error"));
    const char *host = json_string_value(json_object_get(doc, "host"));
    const char *note = json_string_value(json_object_get(doc, "note"));
    const char *key = json_string_value(json_object_get(doc, "key"));
    const json_t *t0 = json_object_get(doc, "started"), *t1 = json_object_get(doc, "finished");
    double now = srv_now();
    double finished = t1 ? json_number_value(t1) : now;

    struct srv_conn *c = srv_tx_begin(s, &r->err);
    if (!c) {
        rc = r->err.code;
        goto out;
    }
    if ((rc = find_key(c, key, &id, &r->err)) < 0 || id > 0)
        goto done; /* recorded already: the same answer, nothing written */
    spec_text = json_dumps(spec, JSON_COMPACT);
    tags_text = json_dumps(
        json_object_get(doc, "tags") ? json_object_get(doc, "tags") : json_array(), JSON_COMPACT);
    sqlite3_stmt *st = srv_stmt(c, sql, &r->err);
    if (rc >= 0 && (!st || !spec_text || !tags_text))
        rc = st ? srv_fail(r, QC_ENOMEM, NULL, "", "out of memory") : QC_EIO;
    if (rc >= 0) {
        sqlite3_bind_text(st, 1, json_string_value(json_object_get(spec, "name")), -1,
                          SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 2, spec_text, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 3, kind ? kind : "any", -1, SQLITE_TRANSIENT);
        if (board && board[0])
            sqlite3_bind_text(st, 4, board, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 5, state ? state : "succeeded", -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 6, host ? host : "local", -1, SQLITE_TRANSIENT);
        if (error)
            sqlite3_bind_text(st, 7, error, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 8, "{}", -1, SQLITE_STATIC);
        sqlite3_bind_double(st, 9, now);
        sqlite3_bind_double(st, 10, now);
        if (t0)
            sqlite3_bind_double(st, 11, json_number_value(t0));
        sqlite3_bind_double(st, 12, finished);
        if (r->who)
            sqlite3_bind_text(st, 13, r->who, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 14, key, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 15, tags_text, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 16, note ? note : "", -1, SQLITE_TRANSIENT);
        if (sqlite3_step(st) != SQLITE_DONE)
            rc = srv_db_fail(c, &r->err, "import run");
        sqlite3_reset(st);
        id = sqlite3_last_insert_rowid(c->db);
        created = rc >= 0;
    }
    if (rc >= 0) /* indexed like a submitted run's, for spec-field filters */
        rc = srv_run_fields_insert(c, id, spec_text, &r->err);
    if (rc >= 0)
        rc = insert_points(r, c, id, json_object_get(doc, "points"), finished, &summary);
    if (rc >= 0 && !(sum_text = json_dumps(summary, JSON_COMPACT)))
        rc = srv_fail(r, QC_ENOMEM, NULL, "", "out of memory");
    if (rc >= 0) {
        static const char upd[] = "UPDATE runs SET summary = ? WHERE id = ?";
        if (!(st = srv_stmt(c, upd, &r->err))) {
            rc = QC_EIO;
        } else {
            sqlite3_bind_text(st, 1, sum_text, -1, SQLITE_TRANSIENT);
            sqlite3_bind_int64(st, 2, id);
            if (sqlite3_step(st) != SQLITE_DONE)
                rc = srv_db_fail(c, &r->err, "summary");
            sqlite3_reset(st);
        }
    }
    if (rc >= 0)
        rc = srv_run_event(s, c, id, json_pack("{s:b}", "imported", 1), &r->err);
done:
    if (rc >= 0)
        rc = srv_run_load(c, id, true, &run, &r->err);
    rc = srv_tx_end(s, rc, &r->err);
    if (rc >= 0)
        rc = srv_reply(r, created ? 201 : 200,
                       json_pack("{s:O,s:b}", "run", run, "created", created));
out:
    json_decref(run);
    json_decref(summary);
    json_decref(spec);
    json_decref(doc);
    free(spec_text);
    free(sum_text);
    free(tags_text);
    return rc;
}
