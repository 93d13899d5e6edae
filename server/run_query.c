/* GET /runs as SQL (run_query.h): filters from fixed fragments, values
 * bound, spec fields through the run_fields index. */
#include "server/run_query.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qcore/spec.h"
#include "server/store.h"

static const char *const run_states[] = {"queued",    "leased", "running",
                                         "succeeded", "failed", "canceled"};

void srv_run_query_init(struct srv_run_query *q)
{
    memset(q, 0, sizeof *q);
}

static void add_sql(struct srv_run_query *q, const char *frag)
{
    size_t n = strlen(q->conds);
    snprintf(q->conds + n, sizeof q->conds - n, "%s", frag);
}

static struct srv_run_query_bind *next_bind(struct srv_run_query *q)
{
    return &q->binds[q->nbinds++];
}

static void set_text(struct srv_run_query_bind *b, const char *t)
{
    b->type = SRV_B_TEXT;
    snprintf(b->t, sizeof b->t, "%s", t);
}

/* The spec value as the JSON value written: numbers and booleans compare as
 * numbers (json_extract returns them so), anything else as text. */
static void set_value(struct srv_run_query_bind *b, const char *v)
{
    char *end;
    if (strcmp(v, "true") == 0 || strcmp(v, "false") == 0) {
        *b = (struct srv_run_query_bind){.type = SRV_B_INT, .i = v[0] == 't'};
        return;
    }
    double d = strtod(v, &end);
    if (v[0] && !*end && isfinite(d)) {
        *b = (struct srv_run_query_bind){.type = SRV_B_REAL, .d = d};
        return;
    }
    set_text(b, v);
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

bool srv_spec_path_known(const char *dotted)
{
    char want[160], known[256];
    if (!dotted_path_ok(dotted))
        return false;
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

static int bad(struct qc_err *err, const char *key, const char *fmt, const char *what)
{
    char field[140];
    snprintf(field, sizeof field, "?%.130s", key);
    return qc_err_set(err, QC_EINVAL, field, fmt, what);
}

static int add_state(struct srv_run_query *q, const char *value, struct qc_err *err)
{
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
        if (found < 0)
            return qc_err_set(err, QC_EINVAL, "?state",
                              "state '%.*s' is not one of queued, leased, running, succeeded, "
                              "failed, canceled",
                              (int)(len > 40 ? 40 : len), p);
        q->states[found] = true;
        n++;
        p += len + (p[len] == ',');
    }
    if (n == 0)
        return qc_err_set(err, QC_EINVAL, "?state", "state is empty");
    q->any_state = true;
    return QC_OK;
}

static int add_metric(struct srv_run_query *q, const char *key, const char *value,
                      struct qc_err *err)
{
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
    char metric[96], path[128];
    snprintf(metric, sizeof metric, "%.*s", (int)(n < 90 ? n : 90), name);
    if (op < 0 || n >= 90 || !dotted_path_ok(metric) || strchr(metric, '.') || !value[0] || *end ||
        !isfinite(v))
        return qc_err_set(err, QC_EINVAL, "?metric",
                          "'%.100s' is not a metric filter like metric.val_acc.gte=0.8", key);
    snprintf(path, sizeof path, "$.\"%s\"", metric);
    add_sql(q, ops[op].sql);
    set_text(next_bind(q), path);
    *next_bind(q) = (struct srv_run_query_bind){.type = SRV_B_REAL, .d = v};
    q->scans = true;
    return QC_OK;
}

int srv_run_query_add(struct srv_run_query *q, const char *key, const char *value,
                      struct qc_err *err)
{
    if (!value)
        value = "";
    if (strcmp(key, "limit") == 0 || strcmp(key, "cursor") == 0 || strcmp(key, "spec") == 0 ||
        strcmp(key, "token") == 0 || strcmp(key, "filter") == 0 || strcmp(key, "order_by") == 0)
        return QC_OK; /* the caller's */
    if (q->nfilters >= SRV_RUN_QUERY_FILTERS)
        return bad(err, key, "too many filters (at most %s)", "32");
    q->nfilters++;
    if (strcmp(key, "sweep") == 0 || strcmp(key, "worker") == 0) {
        char *end;
        long long v = strtoll(value, &end, 10);
        if (!value[0] || *end || v <= 0)
            return bad(err, key, "%s must be a positive id", key);
        add_sql(q, key[0] == 's' ? " AND sweep_id = ?" : " AND worker_id = ?");
        *next_bind(q) = (struct srv_run_query_bind){.type = SRV_B_INT, .i = v};
        return QC_OK;
    }
    if (strcmp(key, "state") == 0)
        return add_state(q, value, err);
    if (strncmp(key, "metric.", 7) == 0)
        return add_metric(q, key, value, err);
    if (!srv_spec_path_known(key))
        return bad(err, key,
                   "unknown query parameter '%.100s': not sweep, state, worker, spec, filter, "
                   "order_by, limit, cursor, metric.NAME.OP, nor a spec field's dotted path "
                   "(schema/experiment.schema.json)",
                   key);
    char path[160];
    snprintf(path, sizeof path, "$.%s", key);
    if (!q->has_drive) { /* the first spec filter walks run_fields in run order */
        set_text(&q->drive[0], path);
        set_value(&q->drive[1], value);
        q->has_drive = true;
        return QC_OK;
    }
    add_sql(q, " AND EXISTS (SELECT 1 FROM run_fields g WHERE g.path_id = (SELECT id FROM "
               "spec_paths WHERE path = ?) AND g.value = ? AND g.run_id = runs.id)");
    set_text(next_bind(q), path);
    set_value(next_bind(q), value);
    return QC_OK;
}

static void bind_one(sqlite3_stmt *st, int k, const struct srv_run_query_bind *b)
{
    if (b->type == SRV_B_INT)
        sqlite3_bind_int64(st, k, b->i);
    else if (b->type == SRV_B_REAL)
        sqlite3_bind_double(st, k, b->d);
    else
        sqlite3_bind_text(st, k, b->t, -1, SQLITE_TRANSIENT);
}

sqlite3_stmt *srv_run_query_prepare(struct srv_run_query *q, struct srv_conn *c, int64_t cursor,
                                    int64_t limit, struct qc_err *err)
{
    char sql[6144];
    /* CROSS JOIN keeps run_fields the outer loop: its primary key gives the
     * matching runs of one (path, value) in id order, from the cursor on. */
    int n = snprintf(sql, sizeof sql, "%s%s",
                     q->has_drive ? "SELECT " SRV_RUN_COLS " FROM run_fields f CROSS JOIN runs ON "
                                    "runs.id = f.run_id WHERE f.path_id = (SELECT id FROM "
                                    "spec_paths WHERE path = ?) AND f.value = ? AND f.run_id > ?"
                                  : "SELECT " SRV_RUN_COLS " FROM runs WHERE id > ?",
                     q->conds);
    if (q->any_state) {
        n += snprintf(sql + n, sizeof sql - (size_t)n, " AND state IN (");
        for (int i = 0, k = 0; i < 6; i++)
            if (q->states[i])
                n += snprintf(sql + n, sizeof sql - (size_t)n, "%s'%s'", k++ ? ", " : "",
                              run_states[i]); /* a fixed table, never request text */
        n += snprintf(sql + n, sizeof sql - (size_t)n, ")");
    }
    snprintf(sql + n, sizeof sql - (size_t)n, "%s",
             q->has_drive ? " ORDER BY f.run_id LIMIT ?" : " ORDER BY id LIMIT ?");
    sqlite3_stmt *st = srv_stmt_once(c, sql, err);
    if (!st)
        return NULL;
    int k = 1;
    if (q->has_drive) {
        bind_one(st, k++, &q->drive[0]);
        bind_one(st, k++, &q->drive[1]);
    }
    sqlite3_bind_int64(st, k++, cursor);
    for (int i = 0; i < q->nbinds; i++)
        bind_one(st, k++, &q->binds[i]);
    sqlite3_bind_int64(st, k, limit + 1);
    return st;
}

int srv_run_fields_insert(struct srv_conn *c, int64_t run_id, const char *spec, struct qc_err *err)
{
    static const char paths_sql[] =
        "INSERT OR IGNORE INTO spec_paths (path) SELECT fullkey FROM json_tree(?) WHERE type NOT "
        "IN ('object', 'array', 'null') AND substr(fullkey, -1) <> ']'";
    static const char fields_sql[] =
        "INSERT OR IGNORE INTO run_fields (path_id, value, run_id) SELECT p.id, t.atom, ? FROM "
        "json_tree(?) t JOIN spec_paths p ON p.path = t.fullkey WHERE t.type NOT IN ('object', "
        "'array', 'null') AND substr(t.fullkey, -1) <> ']'";
    sqlite3_stmt *st = srv_stmt(c, paths_sql, err);
    if (!st)
        return QC_EIO;
    sqlite3_bind_text(st, 1, spec, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return srv_db_fail(c, err, "index spec paths");
    if (!(st = srv_stmt(c, fields_sql, err)))
        return QC_EIO;
    sqlite3_bind_int64(st, 1, run_id);
    sqlite3_bind_text(st, 2, spec, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? QC_OK : srv_db_fail(c, err, "index spec fields");
}
