/* Unit tests of the server's storage without HTTP: the database opens with
 * its migrations applied and tracked by user_version, reopening changes
 * nothing, a newer schema is refused; transactions roll back whole; and
 * the lease rules (expiry requeues a run or fails it past its attempts,
 * start-up grace, lease checks) on a server's database and hub. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "server/migrations.h"
#include "server/srv.h"
#include "server/store.h"
#include "srvt.h"

static char dir[SRVT_PATH];
static char path[SRVT_PATH + 16];

static void dir_make(void)
{
    srvt_dir_make(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/t.db", dir);
}

static void dir_remove(void)
{
    srvt_dir_remove(dir);
}

/* The single integer a query answers (on a raw connection). */
static int64_t query_int(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK, "%s: %s", sql,
                 sqlite3_errmsg(db));
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW, "%s", sql);
    int64_t v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

static void query_text(sqlite3 *db, const char *sql, char *out, size_t len)
{
    sqlite3_stmt *st = NULL;
    cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK, "%s", sql);
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW, "%s", sql);
    const char *t = (const char *)sqlite3_column_text(st, 0);
    snprintf(out, len, "%s", t ? t : "(null)");
    sqlite3_finalize(st);
}

static void exec_ok(sqlite3 *db, const char *sql)
{
    char *msg = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
    cr_assert_eq(rc, SQLITE_OK, "%s: %s", sql, msg ? msg : "");
}

Test(storage, open_applies_every_migration, .init = dir_make, .fini = dir_remove)
{
    static struct srv_db d;
    struct qc_err err;
    char mode[32];
    cr_assert_gt(srv_nmigrations, 0);
    cr_assert_eq(srv_db_open(&d, path, false, &err), QC_OK, "%s", err.msg);
    cr_expect_eq(query_int(d.writer.db, "PRAGMA user_version"), srv_nmigrations);
    query_text(d.writer.db, "PRAGMA journal_mode", mode, sizeof mode);
    cr_expect_str_eq(mode, "wal");
    cr_expect_eq(query_int(d.writer.db, "PRAGMA foreign_keys"), 1);
    static const char *const tables[] = {"sweeps",       "workers", "runs",        "leases",
                                         "metric_names", "metrics", "checkpoints", "events"};
    for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++) {
        char sql[160];
        snprintf(sql, sizeof sql,
                 "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = '%s'",
                 tables[i]);
        cr_expect_eq(query_int(d.writer.db, sql), 1, "table %s", tables[i]);
    }
    srv_db_close(&d);
}

Test(storage, reopening_keeps_data_and_version, .init = dir_make, .fini = dir_remove)
{
    static struct srv_db d;
    struct qc_err err;
    cr_assert_eq(srv_db_open(&d, path, false, &err), QC_OK, "%s", err.msg);
    exec_ok(d.writer.db, "INSERT INTO sweeps (name, method, doc, created) VALUES "
                         "('kept', 'grid', '{}', 1)");
    int64_t objects = query_int(d.writer.db, "SELECT count(*) FROM sqlite_master");
    srv_db_close(&d);
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(srv_db_open(&d, path, true, &err), QC_OK, "reopen %d: %s", i, err.msg);
        cr_expect_eq(query_int(d.writer.db, "PRAGMA user_version"), srv_nmigrations);
        cr_expect_eq(query_int(d.writer.db, "SELECT count(*) FROM sweeps WHERE name = 'kept'"), 1);
        cr_expect_eq(query_int(d.writer.db, "SELECT count(*) FROM sqlite_master"), objects,
                     "no migration ran twice");
        srv_db_close(&d);
    }
}

Test(storage, newer_schema_is_refused, .init = dir_make, .fini = dir_remove)
{
    static struct srv_db d;
    struct qc_err err;
    sqlite3 *raw = NULL;
    char sql[64], want[32];
    cr_assert_eq(sqlite3_open(path, &raw), SQLITE_OK);
    snprintf(sql, sizeof sql, "PRAGMA user_version = %d", srv_nmigrations + 1);
    exec_ok(raw, sql);
    sqlite3_close(raw);
    qc_err_clear(&err);
    cr_assert_eq(srv_db_open(&d, path, false, &err), QC_ECORRUPT, "%s", err.msg);
    cr_expect_str_eq(err.field, "--db");
    snprintf(want, sizeof want, "version %d", srv_nmigrations + 1);
    cr_expect(strstr(err.msg, want), "'%s' names the database's version", err.msg);
    /* Nothing was changed: the version is still the newer one. */
    cr_assert_eq(sqlite3_open(path, &raw), SQLITE_OK);
    cr_expect_eq(query_int(raw, "PRAGMA user_version"), srv_nmigrations + 1);
    sqlite3_close(raw);
}

Test(storage, unopenable_path_is_an_error, .init = dir_make, .fini = dir_remove)
{
    static struct srv_db d;
    struct qc_err err;
    char bad[SRVT_PATH + 32];
    snprintf(bad, sizeof bad, "%s/no/such/dir/q.db", dir);
    cr_expect_eq(srv_db_open(&d, bad, false, &err), QC_EIO);
    cr_expect_str_eq(err.field, "--db");
    cr_expect(strstr(err.msg, bad), "%s", err.msg);
}

Test(storage, failed_transaction_leaves_nothing, .init = dir_make, .fini = dir_remove)
{
    static struct srv_db d;
    struct qc_err err;
    cr_assert_eq(srv_db_open(&d, path, false, &err), QC_OK, "%s", err.msg);
    struct srv_conn *c = srv_db_write_begin(&d, &err);
    cr_assert_not_null(c, "%s", err.msg);
    exec_ok(c->db, "INSERT INTO sweeps (name, method, doc, created) VALUES ('a', 'grid', '{}', 1)");
    cr_expect_eq(srv_db_write_end(&d, false, &err), QC_OK);
    cr_expect_eq(query_int(d.writer.db, "SELECT count(*) FROM sweeps"), 0);
    c = srv_db_write_begin(&d, &err);
    cr_assert_not_null(c, "%s", err.msg);
    exec_ok(c->db, "INSERT INTO sweeps (name, method, doc, created) VALUES ('b', 'grid', '{}', 1)");
    cr_expect_eq(srv_db_write_end(&d, true, &err), QC_OK, "%s", err.msg);
    /* A reader sees the commit. */
    struct srv_conn *rd = srv_db_reader(&d);
    cr_assert_not_null(rd);
    cr_expect_eq(query_int(rd->db, "SELECT count(*) FROM sweeps"), 1);
    srv_db_close(&d);
}

Test(storage, foreign_keys_are_enforced, .init = dir_make, .fini = dir_remove)
{
    static struct srv_db d;
    struct qc_err err;
    cr_assert_eq(srv_db_open(&d, path, false, &err), QC_OK, "%s", err.msg);
    int rc = sqlite3_exec(d.writer.db,
                          "INSERT INTO runs (sweep_id, name, spec, device_kind, state, created, "
                          "queued_at) VALUES (999, 'r', '{}', 'any', 'queued', 1, 1)",
                          NULL, NULL, NULL);
    cr_expect_neq(rc, SQLITE_OK, "a run of a sweep that does not exist");
    rc = sqlite3_exec(d.writer.db,
                      "INSERT INTO runs (name, spec, device_kind, state, created, queued_at) "
                      "VALUES ('r', '{}', 'any', 'exploded', 1, 1)",
                      NULL, NULL, NULL);
    cr_expect_neq(rc, SQLITE_OK, "a state outside the six");
    srv_db_close(&d);
}

Test(storage, statements_are_prepared_once_per_literal, .init = dir_make, .fini = dir_remove)
{
    static struct srv_db d;
    static const char sql[] = "SELECT count(*) FROM runs";
    struct qc_err err;
    cr_assert_eq(srv_db_open(&d, path, false, &err), QC_OK, "%s", err.msg);
    sqlite3_stmt *a = srv_stmt(&d.writer, sql, &err);
    cr_assert_not_null(a, "%s", err.msg);
    cr_expect_eq(sqlite3_step(a), SQLITE_ROW);
    sqlite3_stmt *b = srv_stmt(&d.writer, sql, &err);
    cr_expect_eq(a, b);
    cr_expect_eq(sqlite3_step(b), SQLITE_ROW, "the cached statement comes back reset");
    sqlite3_reset(b);
    qc_err_clear(&err);
    cr_expect_null(srv_stmt(&d.writer, "SELECT nonsense FROM nowhere", &err));
    cr_expect_eq(err.code, QC_EIO);
    srv_db_close(&d);
}

/* ---- leases on a server's database and hub ------------------------------- */

static struct srv_server *srv;

static void srv_make(void)
{
    struct qc_err err;
    dir_make();
    srv = calloc(1, sizeof *srv);
    cr_assert_not_null(srv);
    srv_config_init(&srv->cfg);
    srv->cfg.lease_ttl = 30;
    cr_assert_eq(srv_db_open(&srv->db, path, false, &err), QC_OK, "%s", err.msg);
    /* No periodic tick: the tests call srv_expire_leases themselves. */
    cr_assert_eq(srv_hub_start(&srv->hub, 0, NULL, NULL, 3600), 0);
}

static void srv_free(void)
{
    if (srv) {
        srv_hub_free(&srv->hub);
        srv_db_close(&srv->db);
        free(srv);
        srv = NULL;
    }
    dir_remove();
}

/* A queued run (through the store, as the routes do). */
static int64_t add_run(const char *name, int64_t max_attempts)
{
    struct qc_err err;
    int64_t id = 0;
    json_t *spec = json_pack("{s:s,s:{s:s}}", "name", name, "device", "kind", "any");
    struct srv_conn *c = srv_tx_begin(srv, &err);
    cr_assert_not_null(c, "%s", err.msg);
    int rc = srv_run_insert(srv, c, &id, 0, spec, 0, max_attempts, NULL, &err);
    rc = srv_tx_end(srv, rc, &err);
    json_decref(spec);
    cr_assert_eq(rc, QC_OK, "%s", err.msg);
    return id;
}

static int64_t add_worker(const char *token)
{
    char sql[512];
    snprintf(sql, sizeof sql,
             "INSERT INTO workers (name, host, token, devices, registered, last_seen) VALUES "
             "('w', 'h', '%s', '[{\"id\":\"cpu0\",\"kind\":\"cpu\"}]', 1, 1)",
             token);
    exec_ok(srv->db.writer.db, sql);
    return sqlite3_last_insert_rowid(srv->db.writer.db);
}

/* Leases run `id` to `worker` as lease_try does, with the deadline `dt`
 * seconds from now, and (`started`) starts it as /start does. */
static void lease_run_as(int64_t id, int64_t worker, const char *token, double dt, bool started)
{
    char sql[512];
    snprintf(sql, sizeof sql,
             "UPDATE runs SET state = '%s', worker_id = %lld, device = 'cpu0', lease_token = "
             "'%s', lease_deadline = %.6f, attempt = attempt + 1 WHERE id = %lld; "
             "INSERT INTO leases (run_id, worker_id, device, attempt, started) SELECT id, "
             "worker_id, device, attempt, 1 FROM runs WHERE id = %lld;",
             started ? "running" : "leased", (long long)worker, token, srv_now() + dt,
             (long long)id, (long long)id);
    exec_ok(srv->db.writer.db, sql);
}

static void lease_run(int64_t id, int64_t worker, const char *token, double dt)
{
    lease_run_as(id, worker, token, dt, false);
}

static json_t *load_run(int64_t id)
{
    json_t *run = NULL;
    struct qc_err err;
    cr_assert_eq(srv_run_load(&srv->db.writer, id, true, &run, &err), QC_OK, "%s", err.msg);
    return run;
}

static const char *run_state(json_t *run)
{
    return json_string_value(json_object_get(run, "state"));
}

Test(lease, expired_lease_requeues_the_run, .init = srv_make, .fini = srv_free)
{
    int64_t w = add_worker("worker-token-aaaaaaaaaaaa");
    int64_t id = add_run("r", 3);
    lease_run_as(id, w, "lease-1", -1.0, true);
    uint64_t gen = srv_hub_queue_gen(&srv->hub);
    int64_t ev = srv_hub_last_event(&srv->hub);

    srv_expire_leases(srv);

    json_t *run = load_run(id);
    cr_expect_str_eq(run_state(run), "queued");
    cr_expect_eq(json_integer_value(json_object_get(run, "attempt")), 1,
                 "the lost attempt stays counted");
    cr_expect(json_is_null(json_object_get(run, "worker")));
    cr_expect(json_is_null(json_object_get(run, "lease_deadline")));
    json_decref(run);
    char outcome[32];
    query_text(srv->db.writer.db, "SELECT outcome FROM leases ORDER BY id DESC LIMIT 1", outcome,
               sizeof outcome);
    cr_expect_str_eq(outcome, "expired");
    cr_expect_eq(query_int(srv->db.writer.db, "SELECT count(*) FROM leases WHERE ended IS NULL"),
                 0);
    /* The change is an event, published, and waiting workers are woken. */
    cr_expect_gt(srv_hub_last_event(&srv->hub), ev);
    cr_expect_neq(srv_hub_queue_gen(&srv->hub), gen);
    char data[512];
    query_text(srv->db.writer.db, "SELECT data FROM events ORDER BY id DESC LIMIT 1", data,
               sizeof data);
    cr_expect(strstr(data, "\"queued\"") && strstr(data, "lease expired"), "%s", data);
}

Test(lease, expired_lease_past_the_last_attempt_fails_the_run, .init = srv_make, .fini = srv_free)
{
    int64_t w = add_worker("worker-token-aaaaaaaaaaaa");
    int64_t id = add_run("r", 2);
    lease_run_as(id, w, "lease-1", -1.0, true);
    srv_expire_leases(srv);
    json_t *run = load_run(id);
    cr_assert_str_eq(run_state(run), "queued");
    json_decref(run);
    lease_run_as(id, w, "lease-2", -1.0, true);
    srv_expire_leases(srv);
    run = load_run(id);
    cr_expect_str_eq(run_state(run), "failed");
    const char *error = json_string_value(json_object_get(run, "error"));
    cr_expect(error && strstr(error, "lease expired") && strstr(error, "attempt 2 of 2"), "%s",
              error ? error : "(null)");
    cr_expect(json_is_number(json_object_get(run, "finished")));
    json_decref(run);
    cr_expect_eq(
        query_int(srv->db.writer.db, "SELECT count(*) FROM leases WHERE outcome = 'expired'"), 2);
}

/* Defect 1: a lease whose run never started (its worker vanished before
 * /start, or never received the lease) gives its attempt back when it
 * expires, so a run with one attempt is not failed without ever running. */
Test(lease, an_expired_lease_that_never_started_is_not_counted, .init = srv_make, .fini = srv_free)
{
    int64_t w = add_worker("worker-token-aaaaaaaaaaaa");
    int64_t id = add_run("r", 1);
    for (int i = 0; i < 3; i++) {
        char tok[32];
        snprintf(tok, sizeof tok, "lease-%d", i);
        lease_run_as(id, w, tok, -1.0, false);
        srv_expire_leases(srv);
        json_t *run = load_run(id);
        cr_expect_str_eq(run_state(run), "queued", "expiry %d", i);
        cr_expect_eq(json_integer_value(json_object_get(run, "attempt")), 0);
        json_decref(run);
    }
    char data[512];
    query_text(srv->db.writer.db, "SELECT data FROM events ORDER BY id DESC LIMIT 1", data,
               sizeof data);
    cr_expect(strstr(data, "before the run started"), "%s", data);
    /* Started, the same expiry counts and the run fails on its one attempt. */
    lease_run_as(id, w, "lease-run", -1.0, true);
    srv_expire_leases(srv);
    json_t *run = load_run(id);
    cr_expect_str_eq(run_state(run), "failed");
    json_decref(run);
}

Test(lease, live_leases_are_left_alone, .init = srv_make, .fini = srv_free)
{
    int64_t w = add_worker("worker-token-aaaaaaaaaaaa");
    int64_t live = add_run("live", 3), dead = add_run("dead", 3), queued = add_run("q", 3);
    lease_run(live, w, "lease-live", 60.0);
    lease_run(dead, w, "lease-dead", -0.5);
    srv_expire_leases(srv);
    json_t *a = load_run(live), *b = load_run(dead), *c = load_run(queued);
    cr_expect_str_eq(run_state(a), "leased");
    cr_expect_str_eq(run_state(b), "queued");
    cr_expect_str_eq(run_state(c), "queued");
    cr_expect_eq(json_integer_value(json_object_get(c, "attempt")), 0);
    json_decref(a);
    json_decref(b);
    json_decref(c);
}

Test(lease, start_up_grace_renews_overdue_leases, .init = srv_make, .fini = srv_free)
{
    struct qc_err err;
    int64_t w = add_worker("worker-token-aaaaaaaaaaaa");
    int64_t id = add_run("r", 3);
    lease_run(id, w, "lease-1", -100.0);
    double before = srv_now();
    cr_assert_eq(srv_leases_grace(srv, &err), QC_OK, "%s", err.msg);
    json_t *run = load_run(id);
    cr_expect_str_eq(run_state(run), "leased");
    double deadline = json_number_value(json_object_get(run, "lease_deadline"));
    cr_expect_geq(deadline, before + srv->cfg.lease_ttl - 1e-3);
    json_decref(run);
    srv_expire_leases(srv);
    run = load_run(id);
    cr_expect_str_eq(run_state(run), "leased", "the renewed lease does not expire");
    json_decref(run);
}

Test(lease, lease_check_tells_current_stale_and_foreign_leases, .init = srv_make, .fini = srv_free)
{
    struct qc_err err;
    char state[16];
    int64_t w1 = add_worker("worker-token-1111111111111"), w2 = add_worker("worker-token-2222222");
    int64_t id = add_run("r", 3);
    lease_run(id, w1, "lease-current", 60);
    struct srv_conn *c = &srv->db.writer;

    cr_expect_eq(srv_lease_check(c, id, "lease-current", w1, state, &err), QC_OK, "%s", err.msg);
    cr_expect_str_eq(state, "leased");
    cr_expect_eq(srv_lease_check(c, id, "lease-current", 0, state, &err), QC_OK,
                 "0 = any worker (admin)");
    cr_expect_eq(srv_lease_check(c, id, "lease-older", w1, state, &err), QC_ESTALE);
    cr_expect_str_eq(err.field, "X-Qlab-Lease");
    cr_expect_eq(srv_lease_check(c, id, NULL, w1, state, &err), QC_EINVAL);
    cr_expect_str_eq(err.field, "X-Qlab-Lease");
    cr_expect_eq(srv_lease_check(c, id, "", w1, state, &err), QC_EINVAL);
    cr_expect_eq(srv_lease_check(c, id, "lease-current", w2, state, &err), QC_EFORBID,
                 "another worker's lease: %s", err.msg);
    cr_expect_eq(srv_lease_check(c, id + 100, "lease-current", w1, state, &err), QC_ENOTFOUND);

    /* A finished run keeps no lease. */
    exec_ok(srv->db.writer.db, "UPDATE runs SET state = 'succeeded'");
    cr_expect_eq(srv_lease_check(c, id, "lease-current", w1, state, &err), QC_ESTALE);
    cr_expect_str_eq(state, "succeeded");
}
