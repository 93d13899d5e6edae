/* The calls a worker makes for a run it leases: start, complete, release,
 * and checkpoint upload and download. Each names its lease in the
 * X-Qlab-Lease header; a lease that is no longer the run's current one gets
 * 409 stale_lease, so a worker back from a partition cannot overwrite a run
 * that moved on. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "server/srv.h"
#include "server/store.h"

static const char *lease_header(struct srv_req *r)
{
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "X-Qlab-Lease");
}

/* The worker the lease must belong to: the caller's, or any for admins. */
static int64_t holder(const struct srv_req *r)
{
    return r->role == SRV_ROLE_WORKER ? r->worker_id : 0;
}

static int finish_lease(struct srv_req *r, struct srv_conn *c, int rc)
{
    json_t *run = NULL;
    if (rc >= 0)
        rc = srv_run_load(c, r->id, false, &run, &r->err);
    if ((rc = srv_tx_end(r->srv, rc, &r->err)) < 0) {
        json_decref(run);
        return rc;
    }
    return srv_reply(r, 200, json_pack("{s:o}", "run", run));
}

static int exec_run(struct srv_req *r, struct srv_conn *c, const char *sql, double now)
{
    sqlite3_stmt *st = srv_stmt(c, sql, &r->err);
    if (!st)
        return QC_EIO;
    sqlite3_bind_double(st, 1, now);
    sqlite3_bind_int64(st, 2, r->id);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? QC_OK : srv_db_fail(c, &r->err, "update run");
}

int srv_route_run_start(struct srv_req *r)
{
    static const char sql[] = "UPDATE runs SET state = 'running', started = coalesce(started, ?) "
                              "WHERE id = ? AND state = 'leased'";
    char state[16];
    struct srv_conn *c = srv_tx_begin(r->srv, &r->err);
    if (!c)
        return r->err.code;
    int rc = srv_lease_check(c, r->id, lease_header(r), holder(r), state, &r->err);
    if (rc >= 0 && strcmp(state, "leased") == 0) {
        rc = exec_run(r, c, sql, srv_now());
        if (rc >= 0)
            rc = srv_run_event(r->srv, c, r->id, NULL, &r->err);
    }
    return finish_lease(r, c, rc);
}

int srv_route_run_release(struct srv_req *r)
{
    /* A release is the worker's choice (shutting down), not a failure: the
     * attempt does not count and the run keeps its place in the queue. */
    static const char sql[] =
        "UPDATE runs SET state = 'queued', worker_id = NULL, device = NULL, lease_token = NULL, "
        "lease_deadline = NULL, attempt = max(attempt - 1, 0), queued_at = min(queued_at, ?) "
        "WHERE id = ?";
    char state[16];
    struct srv_conn *c = srv_tx_begin(r->srv, &r->err);
    if (!c)
        return r->err.code;
    int rc = srv_lease_check(c, r->id, lease_header(r), holder(r), state, &r->err);
    if (rc >= 0)
        rc = exec_run(r, c, sql, srv_now());
    if (rc >= 0)
        rc = srv_lease_end(c, r->id, "released", &r->err);
    if (rc >= 0) {
        r->srv->tx_queued = true;
        rc = srv_run_event(r->srv, c, r->id, json_pack("{s:s}", "reason", "released"), &r->err);
    }
    return finish_lease(r, c, rc);
}

int srv_route_run_complete(struct srv_req *r)
{
    static const char sql[] =
        "UPDATE runs SET state = ?, error = ?, finished = ?, summary = json_patch(summary, ?), "
        "lease_token = NULL, lease_deadline = NULL WHERE id = ?";
    char state[16];
    json_t *doc = srv_body_json(r);
    if (!doc)
        return QC_EINVAL;
    const char *to = json_string_value(json_object_get(doc, "state"));
    const json_t *error = json_object_get(doc, "error");
    const json_t *summary = json_object_get(doc, "summary");
    const char *k;
    const json_t *v;
    int rc = QC_OK;
    json_object_foreach(doc, k, v) if (strcmp(k, "state") != 0 && strcmp(k, "error") != 0 &&
                                       strcmp(k, "summary") != 0)
    {
        char f[80];
        snprintf(f, sizeof f, "/%.70s", k);
        rc = srv_fail(r, QC_EINVAL, "invalid_request", f, "unknown key '%.60s'", k);
    }
    if (rc >= 0 && (!to || (strcmp(to, "succeeded") != 0 && strcmp(to, "failed") != 0 &&
                            strcmp(to, "canceled") != 0)))
        rc = srv_fail(r, QC_EINVAL, "invalid_request", "/state",
                      "state must be succeeded, failed or canceled");
    if (rc >= 0 && error && !json_is_null(error) &&
        (!json_is_string(error) || json_string_length(error) > 4096))
        rc = srv_fail(r, QC_EINVAL, "invalid_request", "/error",
                      "error must be a string of at most 4096 bytes");
    if (rc >= 0 && summary && !json_is_object(summary))
        rc = srv_fail(r, QC_EINVAL, "invalid_request", "/summary", "summary must be an object");
    if (rc < 0) {
        json_decref(doc);
        return rc;
    }
    struct srv_conn *c = srv_tx_begin(r->srv, &r->err);
    if (!c) {
        json_decref(doc);
        return r->err.code;
    }
    rc = srv_lease_check(c, r->id, lease_header(r), holder(r), state, &r->err);
    sqlite3_stmt *st = rc >= 0 ? srv_stmt(c, sql, &r->err) : NULL;
    if (rc >= 0 && !st)
        rc = QC_EIO;
    if (st) {
        sqlite3_bind_text(st, 1, to, -1, SQLITE_TRANSIENT);
        if (json_is_string(error))
            sqlite3_bind_text(st, 2, json_string_value(error), -1, SQLITE_TRANSIENT);
        sqlite3_bind_double(st, 3, srv_now());
        sqlite3_bind_text(st, 4, summary ? json_dumps(summary, JSON_COMPACT) : strdup("{}"), -1,
                          free);
        sqlite3_bind_int64(st, 5, r->id);
        if (sqlite3_step(st) != SQLITE_DONE)
            rc = srv_db_fail(c, &r->err, "complete run");
        sqlite3_reset(st);
    }
    if (rc >= 0)
        rc = srv_lease_end(c, r->id, to, &r->err);
    if (rc >= 0)
        rc = srv_run_event(r->srv, c, r->id, NULL, &r->err);
    json_decref(doc);
    return finish_lease(r, c, rc);
}

/* ---- checkpoints -------------------------------------------------------- */

static int fsync_path(const char *path, bool dir)
{
    int fd = open(path, (dir ? O_RDONLY | O_DIRECTORY : O_RDONLY) | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

/* The headers of a checkpoint upload, checked before its body is read. */
static int ckpt_headers(struct srv_req *r, long long *step, unsigned long *crc)
{
    const char *crc_h = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "X-Qlab-Crc32");
    const char *step_h = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "X-Qlab-Step");
    char *end;
    *step = step_h ? strtoll(step_h, &end, 10) : -1;
    if (!step_h || !step_h[0] || *end || *step < 0)
        return srv_fail(r, QC_EINVAL, "invalid_request", "X-Qlab-Step",
                        "X-Qlab-Step must be the checkpoint's step (an integer >= 0)");
    *crc = crc_h ? strtoul(crc_h, &end, 16) : 0;
    if (!crc_h || !crc_h[0] || *end || strlen(crc_h) > 8)
        return srv_fail(r, QC_EINVAL, "invalid_request", "X-Qlab-Crc32",
                        "X-Qlab-Crc32 must be the body's CRC-32 in hex");
    return QC_OK;
}

int srv_checkpoint_put_begin(struct srv_req *r)
{
    long long step;
    unsigned long crc;
    char state[16];
    int rc = ckpt_headers(r, &step, &crc);
    if (rc < 0)
        return rc;
    /* The lease is checked again in the handler's transaction: it may move
     * on while the body arrives. This check only spares the disk a body
     * nobody may store. */
    struct srv_conn *c = srv_db_reader(&r->srv->db);
    if (!c)
        return srv_fail(r, QC_EIO, NULL, "", "database: cannot open a reader");
    if (r->role == SRV_ROLE_ADMIN && !lease_header(r)) /* an imported run's, as below */
        return srv_import_check(c, r->id, &r->err);
    return srv_lease_check(c, r->id, lease_header(r), holder(r), state, &r->err);
}

int srv_route_checkpoint_put(struct srv_req *r)
{
    static const char old_sql[] = "SELECT path FROM checkpoints WHERE run_id = ?";
    static const char put_sql[] =
        "INSERT INTO checkpoints (run_id, path, size, crc32, step, t) VALUES (?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (run_id) DO UPDATE SET path = excluded.path, size = excluded.size, crc32 = "
        "excluded.crc32, step = excluded.step, t = excluded.t";
    struct srv_server *s = r->srv;
    char state[16], name[96], path[1200], old[1200] = "", crc_hex[16];
    long long step;
    unsigned long want;
    int rc;

    if ((rc = ckpt_headers(r, &step, &want)) < 0)
        return rc;
    if (want != r->body_crc)
        return srv_fail(r, QC_EINVAL, "invalid_request", "X-Qlab-Crc32",
                        "the body's CRC-32 is %08x, not %08lx: the upload was damaged",
                        (unsigned)r->body_crc, want);
    if (r->body_len == 0)
        return srv_fail(r, QC_EINVAL, "invalid_request", "", "the checkpoint is empty");
    /* On disk before the database says it exists. */
    if (fflush(r->body_file) != 0 || fsync(fileno(r->body_file)) != 0)
        return srv_fail_storage(r, errno);
    snprintf(name, sizeof name, "run-%lld-step-%lld.ckpt", (long long)r->id, step);
    snprintf(path, sizeof path, "%s/%s", s->cfg.data_dir, name);
    snprintf(crc_hex, sizeof crc_hex, "%08x", (unsigned)r->body_crc);

    struct srv_conn *c = srv_tx_begin(s, &r->err);
    if (!c)
        return r->err.code;
    /* An admin uploads an imported run's checkpoint without a lease. */
    if (r->role == SRV_ROLE_ADMIN && !lease_header(r))
        rc = srv_import_check(c, r->id, &r->err);
    else
        rc = srv_lease_check(c, r->id, lease_header(r), holder(r), state, &r->err);
    sqlite3_stmt *st = rc >= 0 ? srv_stmt(c, old_sql, &r->err) : NULL;
    if (rc >= 0 && !st)
        rc = QC_EIO;
    if (st) {
        sqlite3_bind_int64(st, 1, r->id);
        if (sqlite3_step(st) == SQLITE_ROW)
            snprintf(old, sizeof old, "%s/%s", s->cfg.data_dir,
                     (const char *)sqlite3_column_text(st, 0));
        sqlite3_reset(st);
    }
    if (rc >= 0 && rename(r->body_path, path) != 0)
        rc = srv_fail(r, QC_EIO, NULL, "", "cannot store the checkpoint");
    if (rc >= 0) {
        r->body_path[0] = '\0'; /* kept: not unlinked with the request */
        fsync_path(s->cfg.data_dir, true);
        if (!(st = srv_stmt(c, put_sql, &r->err))) {
            rc = QC_EIO;
        } else {
            sqlite3_bind_int64(st, 1, r->id);
            sqlite3_bind_text(st, 2, name, -1, SQLITE_TRANSIENT);
            sqlite3_bind_int64(st, 3, (sqlite3_int64)r->body_len);
            sqlite3_bind_text(st, 4, crc_hex, -1, SQLITE_TRANSIENT);
            sqlite3_bind_int64(st, 5, step);
            sqlite3_bind_double(st, 6, srv_now());
            if (sqlite3_step(st) != SQLITE_DONE)
                rc = srv_db_fail(c, &r->err, "store checkpoint");
            sqlite3_reset(st);
        }
    }
    rc = srv_tx_end(s, rc, &r->err);
    /* The old file goes once the new one is committed; a crash in between
     * leaves an orphan file, never a row pointing at nothing. */
    if (rc >= 0 && old[0] && strcmp(old, path) != 0)
        unlink(old);
    if (rc < 0)
        return rc;
    return srv_reply(r, 200,
                     json_pack("{s:I,s:I,s:s}", "step", (json_int_t)step, "size",
                               (json_int_t)r->body_len, "crc32", crc_hex));
}

int srv_route_checkpoint_get(struct srv_req *r)
{
    static const char sql[] = "SELECT path, size, crc32, step FROM checkpoints WHERE run_id = ?";
    struct srv_server *s = r->srv;
    char path[1200], crc[16], step[32], state[16];
    int64_t size = 0;
    int rc;
    struct srv_conn *c = srv_db_reader(&s->db);
    if (!c)
        return srv_fail(r, QC_EIO, NULL, "", "database: cannot open a reader");
    if (r->role == SRV_ROLE_WORKER &&
        (rc = srv_lease_check(c, r->id, lease_header(r), holder(r), state, &r->err)) < 0)
        return rc;
    sqlite3_stmt *st = srv_stmt(c, sql, &r->err);
    if (!st)
        return QC_EIO;
    sqlite3_bind_int64(st, 1, r->id);
    if (sqlite3_step(st) != SQLITE_ROW) {
        sqlite3_reset(st);
        return srv_fail(r, QC_ENOTFOUND, NULL, "", "run %lld has no checkpoint", (long long)r->id);
    }
    snprintf(path, sizeof path, "%s/%s", s->cfg.data_dir, (const char *)sqlite3_column_text(st, 0));
    size = sqlite3_column_int64(st, 1);
    snprintf(crc, sizeof crc, "%s", (const char *)sqlite3_column_text(st, 2));
    snprintf(step, sizeof step, "%lld", (long long)sqlite3_column_int64(st, 3));
    sqlite3_reset(st);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return srv_fail(r, QC_EIO, NULL, "", "the checkpoint file of run %lld is missing",
                        (long long)r->id);
    /* libmicrohttpd owns the descriptor from here and closes it. */
    r->resp = MHD_create_response_from_fd((uint64_t)size, fd);
    if (!r->resp) {
        close(fd);
        return srv_fail(r, QC_ENOMEM, NULL, "", "out of memory");
    }
    MHD_add_response_header(r->resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/octet-stream");
    MHD_add_response_header(r->resp, "X-Qlab-Crc32", crc);
    MHD_add_response_header(r->resp, "X-Qlab-Step", step);
    r->status = 200;
    return QC_OK;
}
