/* Retention: deleting runs and sweeps with everything they own (metric
 * points, events, lease history, indexed spec fields, checkpoint rows and
 * files), and pruning old events. A run that a worker may still be
 * training (leased or running) is never deleted: the caller cancels it
 * first and deletes it once it is canceled, so no work disappears under a
 * worker. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server/srv.h"
#include "server/store.h"

struct reclaimed {
    int64_t runs, points, events, checkpoints;
    char **files; /* checkpoint files to unlink after the commit */
    size_t nfiles, capfiles;
};

static void reclaimed_free(struct reclaimed *z)
{
    for (size_t i = 0; i < z->nfiles; i++)
        free(z->files[i]);
    free(z->files);
}

static int keep_file(struct reclaimed *z, const char *dir, const char *name, struct qc_err *err)
{
    if (z->nfiles == z->capfiles) {
        size_t cap = z->capfiles ? 2 * z->capfiles : 16;
        char **p = realloc(z->files, cap * sizeof *p);
        if (!p)
            return qc_err_set(err, QC_ENOMEM, "", "out of memory");
        z->files = p;
        z->capfiles = cap;
    }
    size_t n = strlen(dir) + strlen(name) + 2;
    if (!(z->files[z->nfiles] = malloc(n)))
        return qc_err_set(err, QC_ENOMEM, "", "out of memory");
    snprintf(z->files[z->nfiles++], n, "%s/%s", dir, name);
    return QC_OK;
}

/* Runs `sql` with run id `id` bound; adds the changed rows to *count. */
static int del(struct srv_conn *c, const char *sql, int64_t id, int64_t *count, struct qc_err *err)
{
    sqlite3_stmt *st = srv_stmt(c, sql, err);
    if (!st)
        return QC_EIO;
    sqlite3_bind_int64(st, 1, id);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return srv_db_fail(c, err, "delete");
    if (count)
        *count += sqlite3_changes(c->db);
    return QC_OK;
}

/* Deletes run `id` and what it owns (open transaction). QC_ENOTFOUND, or
 * QC_ECONFLICT while a worker may hold it. */
static int run_delete_tx(struct srv_server *s, struct srv_conn *c, int64_t id, struct reclaimed *z,
                         struct qc_err *err)
{
    static const char state_sql[] = "SELECT state FROM runs WHERE id = ?";
    static const char ckpt_sql[] = "SELECT path FROM checkpoints WHERE run_id = ?";
    static const char del_leases[] = "DELETE FROM leases WHERE run_id = ?";
    static const char del_ckpt[] = "DELETE FROM checkpoints WHERE run_id = ?";
    static const char del_points[] = "DELETE FROM metrics WHERE run_id = ?";
    static const char del_rollups[] = "DELETE FROM metric_rollups WHERE run_id = ?"; /* rollup.h */
    static const char del_fields[] = "DELETE FROM run_fields WHERE run_id = ?";
    static const char del_events[] = "DELETE FROM events WHERE run_id = ?";
    static const char del_cost[] = "DELETE FROM hw_pending WHERE run_id = ?"; /* cost.c */
    static const char del_run[] = "DELETE FROM runs WHERE id = ?";
    char state[16] = "";
    sqlite3_stmt *st = srv_stmt(c, state_sql, err);
    if (!st)
        return QC_EIO;
    sqlite3_bind_int64(st, 1, id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        snprintf(state, sizeof state, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_reset(st);
    if (rc != SQLITE_ROW)
        return rc == SQLITE_DONE ? qc_err_set(err, QC_ENOTFOUND, "", "no run %lld", (long long)id)
                                 : srv_db_fail(c, err, "load run");
    if (strcmp(state, "leased") == 0 || strcmp(state, "running") == 0)
        return qc_err_set(err, QC_ECONFLICT, "",
                          "run %lld is %s: cancel it first (POST /api/v1/runs/%lld/cancel) and "
                          "delete it once it is canceled",
                          (long long)id, state, (long long)id);
    if (!(st = srv_stmt(c, ckpt_sql, err)))
        return QC_EIO;
    sqlite3_bind_int64(st, 1, id);
    rc = QC_OK;
    if (sqlite3_step(st) == SQLITE_ROW) {
        rc = keep_file(z, s->cfg.data_dir, (const char *)sqlite3_column_text(st, 0), err);
        z->checkpoints++;
    }
    sqlite3_reset(st);
    if (rc >= 0)
        rc = del(c, del_leases, id, NULL, err);
    if (rc >= 0)
        rc = del(c, del_ckpt, id, NULL, err);
    if (rc >= 0)
        rc = del(c, del_points, id, &z->points, err);
    if (rc >= 0)
        rc = del(c, del_rollups, id, NULL, err);
    if (rc >= 0)
        rc = del(c, del_fields, id, NULL, err);
    if (rc >= 0)
        rc = del(c, del_events, id, &z->events, err);
    if (rc >= 0)
        rc = del(c, del_cost, id, NULL, err);
    if (rc >= 0)
        rc = del(c, del_run, id, &z->runs, err);
    return rc;
}

/* The answer: what was reclaimed; the files go once the rows are gone. */
static int finish(struct srv_req *r, int rc, struct reclaimed *z, const char *what)
{
    rc = srv_tx_end(r->srv, rc, &r->err);
    if (rc >= 0)
        for (size_t i = 0; i < z->nfiles; i++)
            unlink(
                z->files[i]); /* a crash before this leaves an orphan file, never a dangling row */
    reclaimed_free(z);
    if (rc < 0)
        return rc;
    return srv_reply(r, 200,
                     json_pack("{s:{s:s,s:I,s:I,s:I,s:I,s:I}}", "deleted", "what", what, "id",
                               (json_int_t)r->id, "runs", (json_int_t)z->runs, "metric_points",
                               (json_int_t)z->points, "events", (json_int_t)z->events,
                               "checkpoints", (json_int_t)z->checkpoints));
}

static int announce(struct srv_server *s, struct srv_conn *c, const char *kind, int64_t run,
                    int64_t sweep, struct qc_err *err)
{
    /* Dashboards drop what was deleted; the run's own stream hears it too.
     * Added after the owner's events were deleted, it stays as the record
     * of the deletion. */
    json_t *d = json_pack("{s:s}", "state", "deleted");
    json_object_set_new(d, kind, json_integer(run > 0 ? run : sweep));
    int64_t ev = srv_event_add(c, kind, run, sweep, d, err);
    if (ev < 0)
        return (int)ev;
    s->tx_event = ev;
    return QC_OK;
}

int srv_route_run_delete(struct srv_req *r)
{
    struct reclaimed z = {0};
    struct srv_conn *c = srv_tx_begin(r->srv, &r->err);
    if (!c)
        return r->err.code;
    int rc = run_delete_tx(r->srv, c, r->id, &z, &r->err);
    if (rc >= 0)
        rc = announce(r->srv, c, "run", r->id, 0, &r->err);
    return finish(r, rc, &z, "run");
}

int srv_route_sweep_delete(struct srv_req *r)
{
    static const char sweep_sql[] = "SELECT 1 FROM sweeps WHERE id = ?";
    static const char runs_sql[] = "SELECT id, state FROM runs WHERE sweep_id = ? ORDER BY id";
    static const char del_events[] = "DELETE FROM events WHERE sweep_id = ?";
    static const char del_sweep[] = "DELETE FROM sweeps WHERE id = ?";
    struct reclaimed z = {0};
    int64_t *ids = NULL;
    size_t n = 0, cap = 0;
    struct srv_conn *c = srv_tx_begin(r->srv, &r->err);
    if (!c)
        return r->err.code;
    int rc = QC_OK;
    sqlite3_stmt *st = srv_stmt(c, sweep_sql, &r->err);
    if (!st) {
        rc = QC_EIO;
    } else {
        sqlite3_bind_int64(st, 1, r->id);
        if (sqlite3_step(st) != SQLITE_ROW)
            rc = qc_err_set(&r->err, QC_ENOTFOUND, "", "no sweep %lld", (long long)r->id);
        sqlite3_reset(st);
    }
    /* Every run must be deletable before any is deleted. */
    if (rc >= 0 && !(st = srv_stmt(c, runs_sql, &r->err)))
        rc = QC_EIO;
    if (rc >= 0) {
        int64_t busy = 0;
        sqlite3_bind_int64(st, 1, r->id);
        while (rc >= 0 && sqlite3_step(st) == SQLITE_ROW) {
            const char *state = (const char *)sqlite3_column_text(st, 1);
            if (strcmp(state, "leased") == 0 || strcmp(state, "running") == 0) {
                busy = sqlite3_column_int64(st, 0);
                break;
            }
            if (n == cap) {
                cap = cap ? 2 * cap : 64;
                int64_t *p = realloc(ids, cap * sizeof *p);
                if (!p) {
                    rc = qc_err_set(&r->err, QC_ENOMEM, "", "out of memory");
                    break;
                }
                ids = p;
            }
            ids[n++] = sqlite3_column_int64(st, 0);
        }
        sqlite3_reset(st);
        if (rc >= 0 && busy)
            rc = qc_err_set(&r->err, QC_ECONFLICT, "",
                            "sweep %lld has runs a worker may hold (run %lld is leased or "
                            "running): cancel the sweep first (POST /api/v1/sweeps/%lld/cancel) "
                            "and delete it once its runs are finished",
                            (long long)r->id, (long long)busy, (long long)r->id);
    }
    for (size_t i = 0; rc >= 0 && i < n; i++)
        rc = run_delete_tx(r->srv, c, ids[i], &z, &r->err);
    if (rc >= 0)
        rc = del(c, del_events, r->id, &z.events, &r->err);
    if (rc >= 0)
        rc = del(c, del_sweep, r->id, NULL, &r->err);
    if (rc >= 0)
        rc = announce(r->srv, c, "sweep", 0, r->id, &r->err);
    free(ids);
    return finish(r, rc, &z, "sweep");
}

void srv_events_prune(struct srv_server *s)
{
    /* Bounded per tick, so a first prune of a large log does not hold the
     * writer for long; the next ticks finish it. */
    static const char sql[] = "DELETE FROM events WHERE id IN (SELECT id FROM events WHERE t < ? "
                              "ORDER BY t LIMIT 5000)";
    struct qc_err err;
    if (s->cfg.event_retention <= 0)
        return;
    struct srv_conn *c = srv_tx_begin(s, &err);
    if (!c)
        return; /* busy: the next tick */
    int rc = QC_OK;
    sqlite3_stmt *st = srv_stmt(c, sql, &err);
    if (!st) {
        rc = QC_EIO;
    } else {
        sqlite3_bind_double(st, 1, srv_now() - s->cfg.event_retention);
        if (sqlite3_step(st) != SQLITE_DONE)
            rc = srv_db_fail(c, &err, "prune events");
        sqlite3_reset(st);
    }
    if ((rc = srv_tx_end(s, rc, &err)) < 0)
        fprintf(stderr, "qlab-server: event pruning: %s\n", err.msg);
}
