/* Workers: registration, the list, heartbeats (which renew leases and carry
 * cancel and early-stop decisions back), and the lease long-poll that
 * matches a queued run to a free device of the kind its spec asks for. */
#define _GNU_SOURCE /* POLLRDHUP */
#include <ctype.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/http.h"
#include "server/srv.h"
#include "server/store.h"

#define DEVICES_MAX 64

static bool ident_ok(const char *s, size_t max)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > max)
        return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && !strchr("_.-:", *s))
            return false;
    return true;
}

static bool printable(const char *s, size_t max)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > max)
        return false;
    for (; *s; s++)
        if (*s < ' ' || *s > '~')
            return false;
    return true;
}

static int check_devices(struct srv_req *r, const json_t *devs)
{
    static const char *const keys[] = {"id", "kind", "board", "emulated", "slots", "free", "info"};
    if (!json_is_array(devs) || json_array_size(devs) == 0 || json_array_size(devs) > DEVICES_MAX)
        return srv_fail(r, QC_EINVAL, "invalid_request", "/devices",
                        "devices must be an array of 1..%d devices", DEVICES_MAX);
    size_t i;
    const json_t *d;
    json_array_foreach(devs, i, d)
    {
        char f[64];
        const char *k;
        const json_t *v;
        snprintf(f, sizeof f, "/devices/%zu", i);
        if (!json_is_object(d))
            return srv_fail(r, QC_EINVAL, "invalid_request", f, "a device must be an object");
        json_object_foreach((json_t *)d, k, v)
        {
            bool known = false;
            for (size_t j = 0; j < sizeof keys / sizeof keys[0]; j++)
                known = known || strcmp(k, keys[j]) == 0;
            if (!known)
                return srv_fail(r, QC_EINVAL, "invalid_request", f, "unknown key '%.60s'", k);
        }
        const char *id = json_string_value(json_object_get(d, "id"));
        const char *kind = json_string_value(json_object_get(d, "kind"));
        const json_t *board = json_object_get(d, "board"), *slots = json_object_get(d, "slots");
        const json_t *freej = json_object_get(d, "free"), *em = json_object_get(d, "emulated");
        const json_t *info = json_object_get(d, "info");
        if (!ident_ok(id, 64))
            return srv_fail(r, QC_EINVAL, "invalid_request", f,
                            "id must be 1..64 letters, digits or _.-:");
        for (size_t j = 0; j < i; j++)
            if (strcmp(id, json_string_value(json_object_get(json_array_get(devs, j), "id"))) == 0)
                return srv_fail(r, QC_EINVAL, "invalid_request", f, "duplicate device id '%s'", id);
        if (!kind ||
            (strcmp(kind, "cpu") != 0 && strcmp(kind, "gpu") != 0 && strcmp(kind, "fpga") != 0))
            return srv_fail(r, QC_EINVAL, "invalid_request", f, "kind must be cpu, gpu or fpga");
        if (board && !json_is_null(board) && !printable(json_string_value(board), 128))
            return srv_fail(r, QC_EINVAL, "invalid_request", f, "board must be a short string");
        if (slots && (!json_is_integer(slots) || json_integer_value(slots) < 1 ||
                      json_integer_value(slots) > 1024))
            return srv_fail(r, QC_EINVAL, "invalid_request", f, "slots must be in 1..1024");
        if (freej && (!json_is_integer(freej) || json_integer_value(freej) < 0 ||
                      json_integer_value(freej) > 1024))
            return srv_fail(r, QC_EINVAL, "invalid_request", f, "free must be in 0..1024");
        if (em && !json_is_boolean(em))
            return srv_fail(r, QC_EINVAL, "invalid_request", f, "emulated must be a boolean");
        if (info && !json_is_object(info))
            return srv_fail(r, QC_EINVAL, "invalid_request", f, "info must be an object");
    }
    return QC_OK;
}

static int check_keys(struct srv_req *r, const json_t *o, const char *const *keys)
{
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)o, k, v)
    {
        bool known = false;
        for (const char *const *p = keys; *p; p++)
            known = known || strcmp(*p, k) == 0;
        if (!known) {
            char f[80];
            snprintf(f, sizeof f, "/%.70s", k);
            return srv_fail(r, QC_EINVAL, "invalid_request", f, "unknown key '%.60s'", k);
        }
    }
    return QC_OK;
}

int srv_route_worker_register(struct srv_req *r)
{
    static const char *const keys[] = {"name",    "host",     "devices", "tags",
                                       "version", "datasets", NULL};
    static const char sql[] = "INSERT INTO workers (name, host, token, devices, tags, version, "
                              "registered, last_seen, datasets) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)";
    struct srv_server *s = r->srv;
    char token[65];
    int rc;
    /* Each join token may register --register-rate workers a minute: a
     * leaked join token cannot flood the worker table. */
    double wait_s = 0;
    if (r->role == SRV_ROLE_JOIN && !srv_auth_admit(&s->auth, r->token_index, &wait_s)) {
        char ra[32];
        r->status = 429;
        snprintf(ra, sizeof ra, "%.0f", wait_s < 1 ? 1 : wait_s + 0.5);
        r->retry_after = atoi(ra);
        return srv_fail(r, QC_EUNAVAIL, "rate_limited", "Authorization",
                        "this join token registered %.0f workers in the last minute; retry in "
                        "%s s",
                        s->cfg.register_per_min, ra);
    }
    json_t *doc = srv_body_json(r);
    if (!doc)
        return QC_EINVAL;
    const char *name = json_string_value(json_object_get(doc, "name"));
    const char *host = json_string_value(json_object_get(doc, "host"));
    const char *version = json_string_value(json_object_get(doc, "version"));
    const json_t *tags = json_object_get(doc, "tags");
    const json_t *datasets = json_object_get(doc, "datasets");
    if ((rc = check_keys(r, doc, keys)) < 0)
        goto out;
    /* The datasets installed there (POST /experiments/validate warns when
     * no worker has a spec's); absent: the worker does not say. */
    if (datasets && (!json_is_array(datasets) || json_array_size(datasets) > 64)) {
        rc = srv_fail(r, QC_EINVAL, "invalid_request", "/datasets",
                      "datasets must be an array of at most 64 names");
        goto out;
    }
    for (size_t i = 0; datasets && i < json_array_size(datasets); i++)
        if (!ident_ok(json_string_value(json_array_get(datasets, i)), 64)) {
            rc = srv_fail(r, QC_EINVAL, "invalid_request", "/datasets",
                          "a dataset name is 1..64 letters, digits or _.-:");
            goto out;
        }
    if (!printable(name, 128)) {
        rc = srv_fail(r, QC_EINVAL, "invalid_request", "/name",
                      "name must be 1..128 printable "
                      "characters");
        goto out;
    }
    if (host && !printable(host, 255)) {
        rc = srv_fail(r, QC_EINVAL, "invalid_request", "/host",
                      "host must be 1..255 printable "
                      "characters");
        goto out;
    }
    if (tags && (!json_is_array(tags) || json_array_size(tags) > 32)) {
        rc = srv_fail(r, QC_EINVAL, "invalid_request", "/tags",
                      "tags must be an array of at "
                      "most 32 strings");
        goto out;
    }
    for (size_t i = 0; tags && i < json_array_size(tags); i++)
        if (!ident_ok(json_string_value(json_array_get(tags, i)), 64)) {
            rc = srv_fail(r, QC_EINVAL, "invalid_request", "/tags",
                          "a tag is 1..64 letters, "
                          "digits or _.-:");
            goto out;
        }
    if ((rc = check_devices(r, json_object_get(doc, "devices"))) < 0)
        goto out;
    if (srv_token_random(token, sizeof token, 32) < 0) {
        rc = srv_fail(r, QC_EIO, NULL, "", "cannot read /dev/urandom");
        goto out;
    }
    char *devs = json_dumps(json_object_get(doc, "devices"), JSON_COMPACT);
    char *tagt = tags ? json_dumps(tags, JSON_COMPACT) : NULL;
    char *dst = datasets ? json_dumps(datasets, JSON_COMPACT) : NULL;
    struct srv_conn *c = srv_tx_begin(s, &r->err);
    if (!c) {
        free(devs);
        free(tagt);
        free(dst);
        rc = r->err.code;
        goto out;
    }
    sqlite3_stmt *st = srv_stmt(c, sql, &r->err);
    int64_t id = 0;
    rc = st ? QC_OK : QC_EIO;
    if (st) {
        double now = srv_now();
        sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 2, host ? host : "", -1, SQLITE_TRANSIENT);
        char hash[SRV_TOKEN_HASH_LEN + 1];
        srv_token_hash(hash, token); /* the database keeps the hash only */
        sqlite3_bind_text(st, 3, hash, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 4, devs, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 5, tagt ? tagt : "[]", -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 6, version ? version : "", -1, SQLITE_TRANSIENT);
        sqlite3_bind_double(st, 7, now);
        sqlite3_bind_double(st, 8, now);
        if (dst)
            sqlite3_bind_text(st, 9, dst, -1, SQLITE_TRANSIENT);
        if (sqlite3_step(st) != SQLITE_DONE)
            rc = srv_db_fail(c, &r->err, "register worker");
        sqlite3_reset(st);
        id = sqlite3_last_insert_rowid(c->db);
    }
    if (rc >= 0) {
        int64_t ev = srv_event_add(c, "worker", 0, 0,
                                   json_pack("{s:I,s:s,s:s}", "worker", (json_int_t)id, "name",
                                             name, "state", "registered"),
                                   &r->err);
        rc = ev < 0 ? (int)ev : QC_OK;
        s->tx_event = ev > 0 ? ev : 0;
    }
    rc = srv_tx_end(s, rc, &r->err);
    free(devs);
    free(tagt);
    free(dst);
    if (rc >= 0)
        rc = srv_reply(r, 201,
                       json_pack("{s:{s:I,s:s},s:s,s:f,s:f}", "worker", "id", (json_int_t)id,
                                 "name", name, "token", token, "heartbeat_interval",
                                 s->cfg.heartbeat, "lease_ttl", s->cfg.lease_ttl));
out:
    json_decref(doc);
    return rc;
}

int srv_route_worker_list(struct srv_req *r)
{
    static const char sql[] = "SELECT id, name, host, devices, tags, version, registered, "
                              "last_seen, datasets FROM workers ORDER BY id";
    static const char runs_sql[] = "SELECT id FROM runs WHERE worker_id = ? AND state IN "
                                   "('leased', 'running') ORDER BY id";
    struct srv_server *s = r->srv;
    struct srv_conn *c = srv_db_reader(&s->db);
    if (!c)
        return srv_fail(r, QC_EIO, NULL, "", "database: cannot open a reader");
    sqlite3_stmt *st = srv_stmt(c, sql, &r->err);
    sqlite3_stmt *rs = st ? srv_stmt(c, runs_sql, &r->err) : NULL;
    if (!st || !rs)
        return QC_EIO;
    json_t *list = json_array();
    double now = srv_now();
    while (sqlite3_step(st) == SQLITE_ROW) {
        int64_t id = sqlite3_column_int64(st, 0);
        double last = sqlite3_column_double(st, 7);
        json_t *devs = json_loads((const char *)sqlite3_column_text(st, 3), 0, NULL);
        json_t *tags = json_loads((const char *)sqlite3_column_text(st, 4), 0, NULL);
        json_t *runs = json_array();
        sqlite3_reset(rs);
        sqlite3_bind_int64(rs, 1, id);
        while (sqlite3_step(rs) == SQLITE_ROW)
            json_array_append_new(runs, json_integer(sqlite3_column_int64(rs, 0)));
        json_t *w = json_object();
        json_object_set_new(w, "id", json_integer(id));
        json_object_set_new(w, "name", json_string((const char *)sqlite3_column_text(st, 1)));
        json_object_set_new(w, "host", json_string((const char *)sqlite3_column_text(st, 2)));
        json_object_set_new(w, "devices", devs ? devs : json_array());
        json_object_set_new(w, "tags", tags ? tags : json_array());
        json_object_set_new(w, "version", json_string((const char *)sqlite3_column_text(st, 5)));
        json_object_set_new(w, "registered", json_real(sqlite3_column_double(st, 6)));
        json_object_set_new(w, "last_seen", json_real(last));
        json_object_set_new(w, "live",
                            json_boolean(now - last < 3 * s->cfg.heartbeat + s->cfg.lease_ttl));
        json_object_set_new(w, "runs", runs);
        const char *ds = (const char *)sqlite3_column_text(st, 8);
        json_t *dsj = ds ? json_loads(ds, 0, NULL) : NULL;
        json_object_set_new(w, "datasets", dsj ? dsj : json_null());
        json_array_append_new(list, w);
    }
    sqlite3_reset(rs);
    sqlite3_reset(st);
    return srv_reply(r, 200, json_pack("{s:o}", "workers", list));
}

static int touch_worker(struct srv_conn *c, int64_t id, const json_t *devices, struct qc_err *err)
{
    static const char sql[] = "UPDATE workers SET last_seen = ?, devices = coalesce(?, devices) "
                              "WHERE id = ?";
    sqlite3_stmt *st = srv_stmt(c, sql, err);
    if (!st)
        return QC_EIO;
    sqlite3_bind_double(st, 1, srv_now());
    if (devices)
        sqlite3_bind_text(st, 2, json_dumps(devices, JSON_COMPACT), -1, free);
    sqlite3_bind_int64(st, 3, id);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return srv_db_fail(c, err, "touch worker");
    return sqlite3_changes(c->db)
               ? QC_OK
               : qc_err_set(err, QC_ENOTFOUND, "", "no worker %lld", (long long)id);
}

int srv_route_worker_heartbeat(struct srv_req *r)
{
    static const char *const keys[] = {"runs", "devices", NULL};
    static const char renew[] = "SELECT cancel_requested, stop_requested FROM runs WHERE id = ?";
    static const char extend[] = "UPDATE runs SET lease_deadline = ? WHERE id = ?";
    struct srv_server *s = r->srv;
    int rc;
    json_t *doc = srv_body_json(r);
    if (!doc)
        return QC_EINVAL;
    const json_t *runs = json_object_get(doc, "runs");
    const json_t *devs = json_object_get(doc, "devices");
    if ((rc = check_keys(r, doc, keys)) < 0 || (devs && (rc = check_devices(r, devs)) < 0)) {
        json_decref(doc);
        return rc;
    }
    if (runs && (!json_is_array(runs) || json_array_size(runs) > 1024)) {
        json_decref(doc);
        return srv_fail(r, QC_EINVAL, "invalid_request", "/runs", "runs must be an array");
    }
    json_t *actions = json_array();
    struct srv_conn *c = srv_tx_begin(s, &r->err);
    if (!c) {
        json_decref(actions);
        json_decref(doc);
        return r->err.code;
    }
    rc = touch_worker(c, r->id, devs, &r->err);
    for (size_t i = 0; rc >= 0 && i < json_array_size(runs); i++) {
        const json_t *e = json_array_get(runs, i);
        json_int_t run = json_integer_value(json_object_get(e, "run"));
        const char *lease = json_string_value(json_object_get(e, "lease"));
        char state[16], f[32];
        struct qc_err lerr;
        snprintf(f, sizeof f, "/runs/%zu", i);
        if (!json_is_object(e) || run <= 0 || !lease) {
            rc = srv_fail(r, QC_EINVAL, "invalid_request", f, "each entry needs run and lease");
            break;
        }
        const char *action = "continue";
        int lrc = srv_lease_check(c, run, lease, r->id, state, &lerr);
        if (lrc == QC_ESTALE || lrc == QC_ENOTFOUND) {
            action = "abandon";
        } else if (lrc < 0) {
            rc = lrc;
            r->err = lerr;
            break;
        } else {
            sqlite3_stmt *st = srv_stmt(c, renew, &r->err);
            sqlite3_stmt *ex = st ? srv_stmt(c, extend, &r->err) : NULL;
            if (!st || !ex) {
                rc = QC_EIO;
                break;
            }
            sqlite3_bind_int64(st, 1, run);
            if (sqlite3_step(st) == SQLITE_ROW)
                action = sqlite3_column_int(st, 0)   ? "cancel"
                         : sqlite3_column_int(st, 1) ? "stop"
                                                     : "continue";
            sqlite3_reset(st);
            sqlite3_bind_double(ex, 1, srv_now() + s->cfg.lease_ttl);
            sqlite3_bind_int64(ex, 2, run);
            if (sqlite3_step(ex) != SQLITE_DONE)
                rc = srv_db_fail(c, &r->err, "renew lease");
            sqlite3_reset(ex);
        }
        json_array_append_new(actions, json_pack("{s:I,s:s}", "run", run, "action", action));
    }
    rc = srv_tx_end(s, rc, &r->err);
    json_decref(doc);
    if (rc < 0) {
        json_decref(actions);
        return rc;
    }
    return srv_reply(r, 200, json_pack("{s:o}", "runs", actions));
}

/* ---- the lease long-poll ------------------------------------------------ */

struct lease_state {
    struct srv_waiter waiter;
    double deadline; /* monotonic */
    int ndev;
    struct {
        char id[65];
        char kind[8];
        char board[129];
    } dev[DEVICES_MAX];
};

/* Finds the worker's registered devices named in the request. */
static int lease_parse(struct srv_req *r, struct lease_state *ls)
{
    static const char *const keys[] = {"devices", "wait", NULL};
    static const char sql[] = "SELECT devices FROM workers WHERE id = ?";
    int rc;
    json_t *doc = srv_body_json(r), *reg = NULL;
    if (!doc)
        return QC_EINVAL;
    if ((rc = check_keys(r, doc, keys)) < 0)
        goto out;
    const json_t *want = json_object_get(doc, "devices"), *wait = json_object_get(doc, "wait");
    if (!json_is_array(want) || json_array_size(want) > DEVICES_MAX) {
        rc = srv_fail(r, QC_EINVAL, "invalid_request", "/devices",
                      "devices must be an array of device ids with a free slot");
        goto out;
    }
    if (wait && (!json_is_number(wait) || !(json_number_value(wait) >= 0))) {
        rc = srv_fail(r, QC_EINVAL, "invalid_request", "/wait", "wait must be seconds >= 0");
        goto out;
    }
    double w = wait ? fmin(json_number_value(wait), r->srv->cfg.max_wait) : 0;
    ls->deadline = srv_mono() + w;

    struct srv_conn *c = srv_db_reader(&r->srv->db);
    sqlite3_stmt *st = c ? srv_stmt(c, sql, &r->err) : NULL;
    if (!st) {
        rc = srv_fail(r, QC_EIO, NULL, "", "database: cannot read the worker");
        goto out;
    }
    sqlite3_bind_int64(st, 1, r->id);
    if (sqlite3_step(st) == SQLITE_ROW)
        reg = json_loads((const char *)sqlite3_column_text(st, 0), 0, NULL);
    sqlite3_reset(st);
    if (!reg) {
        rc = srv_fail(r, QC_ENOTFOUND, NULL, "", "no worker %lld", (long long)r->id);
        goto out;
    }
    for (size_t i = 0; i < json_array_size(want); i++) {
        const char *id = json_string_value(json_array_get(want, i));
        const json_t *found = NULL;
        for (size_t j = 0; id && j < json_array_size(reg); j++)
            if (strcmp(id, json_string_value(json_object_get(json_array_get(reg, j), "id"))) == 0)
                found = json_array_get(reg, j);
        if (!found) {
            char f[32];
            snprintf(f, sizeof f, "/devices/%zu", i);
            rc = srv_fail(r, QC_EINVAL, "invalid_request", f,
                          "'%.64s' is not a device this worker registered", id ? id : "?");
            goto out;
        }
        snprintf(ls->dev[ls->ndev].id, sizeof ls->dev[0].id, "%s", id);
        snprintf(ls->dev[ls->ndev].kind, sizeof ls->dev[0].kind, "%s",
                 json_string_value(json_object_get(found, "kind")));
        const char *board = json_string_value(json_object_get(found, "board"));
        snprintf(ls->dev[ls->ndev].board, sizeof ls->dev[0].board, "%s", board ? board : "");
        ls->ndev++;
    }
out:
    json_decref(reg);
    json_decref(doc);
    return rc;
}

/* In one transaction: the best queued run any of the devices can take
 * (highest priority, then longest queued), leased to it. *run is NULL when
 * there is none. */
static int lease_try(struct srv_req *r, struct lease_state *ls, json_t **out)
{
    static const char find[] =
        "SELECT id, priority, queued_at FROM runs WHERE state = 'queued' AND (device_kind = "
        "'any' OR device_kind = ?) AND (device_board IS NULL OR device_board = ?) "
        "ORDER BY priority DESC, queued_at, id LIMIT 1";
    static const char take[] =
        "UPDATE runs SET state = 'leased', worker_id = ?, device = ?, lease_token = ?, "
        "lease_deadline = ?, attempt = attempt + 1, cancel_requested = 0, stop_requested = 0 "
        "WHERE id = ? AND state = 'queued'";
    static const char hist[] = "INSERT INTO leases (run_id, worker_id, device, attempt, started) "
                               "SELECT id, worker_id, device, attempt, ? FROM runs WHERE id = ?";
    static const char ckpt[] = "SELECT size, crc32, step FROM checkpoints WHERE run_id = ?";
    struct srv_server *s = r->srv;
    char token[65];
    int64_t best = 0, best_prio = 0;
    double best_q = 0;
    int best_dev = -1;
    json_t *run = NULL;
    int rc = QC_OK;

    *out = NULL;
    if (srv_token_random(token, sizeof token, 32) < 0)
        return srv_fail(r, QC_EIO, NULL, "", "cannot read /dev/urandom");
    struct srv_conn *c = srv_tx_begin(s, &r->err);
    if (!c)
        return r->err.code;
    rc = touch_worker(c, r->id, NULL, &r->err);
    sqlite3_stmt *st = rc >= 0 ? srv_stmt(c, find, &r->err) : NULL;
    for (int i = 0; st && i < ls->ndev; i++) {
        sqlite3_reset(st);
        sqlite3_bind_text(st, 1, ls->dev[i].kind, -1, SQLITE_TRANSIENT);
        if (ls->dev[i].board[0])
            sqlite3_bind_text(st, 2, ls->dev[i].board, -1, SQLITE_TRANSIENT);
        else
            sqlite3_bind_null(st, 2);
        if (sqlite3_step(st) == SQLITE_ROW) {
            int64_t id = sqlite3_column_int64(st, 0), prio = sqlite3_column_int64(st, 1);
            double q = sqlite3_column_double(st, 2);
            if (best_dev < 0 || prio > best_prio ||
                (prio == best_prio && (q < best_q || (q == best_q && id < best)))) {
                best = id;
                best_prio = prio;
                best_q = q;
                best_dev = i;
            }
        }
    }
    if (st)
        sqlite3_reset(st);
    if (rc >= 0 && !st)
        rc = QC_EIO;
    if (rc >= 0 && best_dev >= 0) {
        double deadline = srv_now() + s->cfg.lease_ttl;
        if (!(st = srv_stmt(c, take, &r->err))) {
            rc = QC_EIO;
        } else {
            sqlite3_bind_int64(st, 1, r->id);
            sqlite3_bind_text(st, 2, ls->dev[best_dev].id, -1, SQLITE_TRANSIENT);
            sqlite3_bind_text(st, 3, token, -1, SQLITE_TRANSIENT);
            sqlite3_bind_double(st, 4, deadline);
            sqlite3_bind_int64(st, 5, best);
            if (sqlite3_step(st) != SQLITE_DONE)
                rc = srv_db_fail(c, &r->err, "lease");
            sqlite3_reset(st);
        }
        if (rc >= 0 && (st = srv_stmt(c, hist, &r->err))) {
            sqlite3_bind_double(st, 1, srv_now());
            sqlite3_bind_int64(st, 2, best);
            if (sqlite3_step(st) != SQLITE_DONE)
                rc = srv_db_fail(c, &r->err, "lease history");
            sqlite3_reset(st);
        }
        if (rc >= 0)
            rc = srv_run_event(s, c, best, NULL, &r->err);
        if (rc >= 0)
            rc = srv_run_load(c, best, true, &run, &r->err);
        json_t *cp = json_null();
        if (rc >= 0 && (st = srv_stmt(c, ckpt, &r->err))) {
            sqlite3_bind_int64(st, 1, best);
            if (sqlite3_step(st) == SQLITE_ROW) {
                json_decref(cp);
                cp = json_pack("{s:I,s:s,s:I}", "size", (json_int_t)sqlite3_column_int64(st, 0),
                               "crc32", (const char *)sqlite3_column_text(st, 1), "step",
                               (json_int_t)sqlite3_column_int64(st, 2));
            }
            sqlite3_reset(st);
        }
        if (rc >= 0)
            *out = json_pack("{s:o,s:s,s:s,s:f,s:o}", "run", run, "lease", token, "device",
                             ls->dev[best_dev].id, "deadline", deadline, "checkpoint", cp);
        else {
            json_decref(run);
            json_decref(cp);
        }
    }
    rc = srv_tx_end(s, rc, &r->err);
    if (rc < 0) {
        json_decref(*out);
        *out = NULL;
    }
    return rc;
}

/* Whether the client of a parked long-poll has gone away (closed or reset
 * its connection while it waited): a run leased to it would sit leased to
 * nobody until the lease expires. POLLRDHUP sees the peer's FIN even with
 * unread bytes before it (a TLS close_notify). */
static bool client_gone(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (!ci)
        return false;
    struct pollfd p = {.fd = ci->connect_fd, .events = POLLRDHUP};
    return poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL));
}

int srv_route_worker_lease(struct srv_req *r)
{
    struct srv_server *s = r->srv;
    struct lease_state *ls = r->state;
    int rc;
    if (!ls) {
        ls = calloc(1, sizeof *ls);
        if (!ls)
            return srv_fail(r, QC_ENOMEM, NULL, "", "out of memory");
        r->state = ls;
        r->state_free = free;
        if ((rc = lease_parse(r, ls)) < 0)
            return rc;
    }
    for (;;) {
        uint64_t gen = srv_hub_queue_gen(&s->hub);
        json_t *lease = NULL;
        if (client_gone(r->conn))
            return srv_fail(r, QC_EUNAVAIL, NULL, "", "the worker closed its connection");
        if ((rc = lease_try(r, ls, &lease)) < 0)
            return rc;
        if (lease)
            return srv_reply(r, 200, lease);
        if (srv_hub_stopping(&s->hub) || srv_mono() >= ls->deadline)
            return srv_reply(r, 204, NULL);
        ls->waiter = (struct srv_waiter){
            .conn = r->conn, .kind = SRV_WAIT_QUEUE, .deadline = ls->deadline, .gen = gen};
        if (srv_hub_wait(&s->hub, &ls->waiter))
            return SRV_SUSPENDED;
    }
}
