/* Retention: DELETE of a run or a sweep removes it with everything it owns
 * (metric points, events, lease history, indexed spec fields, the
 * checkpoint row and its file), never a run a worker may still hold (409:
 * cancel first), admin only; and --event-retention prunes old events. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "srvt.h"

#define ADMIN "admin-token-aaaaaaaaaaaaaaaa"
#define READ  "read-token-bbbbbbbbbbbbbbbbbb"
#define JOIN  "join-token-cccccccccccccccccc"

static char dir[SRVT_PATH];
static struct srvt_server srv;

static void start(const char *const *extra)
{
    char tokens[SRVT_PATH + 16];
    const char *args[16] = {"--token-file", tokens};
    int n = 2;
    snprintf(tokens, sizeof tokens, "%s/tokens", dir);
    srvt_write_file(tokens, "admin " ADMIN "\nread " READ "\njoin " JOIN "\n");
    for (int i = 0; extra && extra[i]; i++)
        args[n++] = extra[i];
    args[n] = NULL;
    srvt_start(&srv, dir, args);
    snprintf(srv.token, sizeof srv.token, "%s", ADMIN);
}

static void up(void)
{
    srvt_dir_make(dir, sizeof dir);
    start(NULL);
}

static void down(void)
{
    srvt_stop(&srv, SIGKILL);
    srvt_dir_remove(dir);
}

static void mkdir_only(void)
{
    srvt_dir_make(dir, sizeof dir);
}

TestSuite(retention, .init = up, .fini = down);

static int64_t count(const char *sql)
{
    sqlite3 *db;
    sqlite3_stmt *st;
    cr_assert_eq(sqlite3_open(srv.db, &db), SQLITE_OK);
    cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK, "%s", sqlite3_errmsg(db));
    int64_t n = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

static void call(const char *token, const char *lease, const char *method, const char *path,
                 const char *body, long want)
{
    json_decref(srvt_call(&srv, token, lease, method, path, body, want));
}

/* Worker `w` leases a run, starts it, posts `n` points and a checkpoint. */
static void work_on(const struct srvt_worker *w, struct srvt_lease *l, int n)
{
    char path[128], body[256];
    srvt_register((struct srvt_worker *)w, &srv, "w", 1);
    srvt_lease(l, &srv, w);
    snprintf(path, sizeof path, "/api/v1/runs/%lld/start", (long long)l->run);
    call(w->token, l->lease, "POST", path, NULL, 200);
    snprintf(path, sizeof path, "/api/v1/runs/%lld/metrics", (long long)l->run);
    for (int i = 0; i < n; i++) {
        snprintf(body, sizeof body,
                 "{\"points\": [{\"step\": %d, \"name\": \"loss\", \"value\": 1}]}", i);
        call(w->token, l->lease, "POST", path, body, 200);
    }
    const char data[] = "checkpoint-bytes";
    char crc[48], step[32], lh[128];
    snprintf(crc, sizeof crc, "X-Qlab-Crc32: %08lx",
             crc32(crc32(0L, Z_NULL, 0), (const Bytef *)data, sizeof data - 1));
    snprintf(step, sizeof step, "X-Qlab-Step: %d", n);
    snprintf(lh, sizeof lh, "X-Qlab-Lease: %s", l->lease);
    snprintf(path, sizeof path, "/api/v1/runs/%lld/checkpoint", (long long)l->run);
    struct srvt_resp r;
    srvt_do(&r, &srv,
            &(struct srvt_req){.method = "PUT",
                               .path = path,
                               .token = w->token,
                               .body = data,
                               .content_type = "application/octet-stream",
                               .headers = {crc, step, lh}});
    cr_assert_eq(r.status, 200, "%s", r.body);
    srvt_resp_free(&r);
}

/* Checkpoint files in the data directory. */
static int files_in_data(void)
{
    char path[SRVT_PATH + 16];
    snprintf(path, sizeof path, "%s/data", dir);
    DIR *d = opendir(path);
    cr_assert_not_null(d);
    int n = 0;
    for (struct dirent *de; (de = readdir(d));)
        n += strstr(de->d_name, ".ckpt") != NULL;
    closedir(d);
    return n;
}

Test(retention, a_run_is_deleted_with_all_it_owns_but_not_while_a_worker_holds_it)
{
    struct srvt_worker w;
    struct srvt_lease l;
    int64_t keep = srvt_submit(&srv, "keep");
    int64_t id = srvt_submit(&srv, "doomed");
    (void)keep;
    /* The worker takes the first queued run: keep. Run ids: keep=1, doomed=2. */
    work_on(&w, &l, 5);
    cr_assert_eq(l.run, keep);
    char path[96];
    snprintf(path, sizeof path, "/api/v1/runs/%lld", (long long)keep);
    call(ADMIN, NULL, "DELETE", path, NULL, 409); /* running: cancel first */
    call(READ, NULL, "DELETE", path, NULL, 403);
    call(w.token, NULL, "DELETE", path, NULL, 403);
    cr_expect_eq(files_in_data(), 1);

    /* A queued run goes at once. */
    snprintf(path, sizeof path, "/api/v1/runs/%lld", (long long)id);
    json_t *j = srvt_json(&srv, "DELETE", path, NULL, 200);
    cr_expect_eq(srvt_int(j, "deleted.runs"), 1);
    json_decref(j);
    json_decref(srvt_json(&srv, "GET", path, NULL, 404));
    call(ADMIN, NULL, "DELETE", path, NULL, 404);

    /* The running one: cancel, the worker reports it canceled, then delete. */
    snprintf(path, sizeof path, "/api/v1/runs/%lld/cancel", (long long)keep);
    call(ADMIN, NULL, "POST", path, NULL, 200);
    snprintf(path, sizeof path, "/api/v1/runs/%lld/complete", (long long)keep);
    call(w.token, l.lease, "POST", path, "{\"state\": \"canceled\"}", 200);
    snprintf(path, sizeof path, "/api/v1/runs/%lld", (long long)keep);
    j = srvt_json(&srv, "DELETE", path, NULL, 200);
    cr_expect_eq(srvt_int(j, "deleted.metric_points"), 5);
    cr_expect_eq(srvt_int(j, "deleted.checkpoints"), 1);
    cr_expect_gt(srvt_int(j, "deleted.events"), 3);
    json_decref(j);
    cr_expect_eq(count("SELECT count(*) FROM runs"), 0);
    cr_expect_eq(count("SELECT count(*) FROM metrics"), 0);
    cr_expect_eq(count("SELECT count(*) FROM leases"), 0);
    cr_expect_eq(count("SELECT count(*) FROM checkpoints"), 0);
    cr_expect_eq(count("SELECT count(*) FROM run_fields"), 0);
    cr_expect_eq(count("SELECT count(*) FROM events WHERE data NOT LIKE '%deleted%' AND "
                       "run_id IS NOT NULL"),
                 0, "only the deletion records remain of the runs' events");
    cr_expect_eq(files_in_data(), 0, "the checkpoint file is gone");
    /* The worker holding a stale lease learns the run is gone. */
    snprintf(path, sizeof path, "/api/v1/runs/%lld/metrics", (long long)keep);
    call(w.token, l.lease, "POST", path,
         "{\"points\": [{\"step\": 9, \"name\": \"loss\", \"value\": 1}]}", 404);
}

Test(retention, a_sweep_is_deleted_whole_or_not_at_all)
{
    char body[1024];
    snprintf(body, sizeof body,
             "{\"name\": \"s\", \"base\": %s, \"parameters\": {\"train.seed\": {\"values\": "
             "[1,2,3]}}}",
             srvt_spec("b"));
    json_t *j = srvt_json(&srv, "POST", "/api/v1/sweeps", body, 201);
    int64_t sid = srvt_int(j, "sweep.id");
    json_decref(j);
    struct srvt_worker w;
    struct srvt_lease l;
    work_on(&w, &l, 2); /* run 1 of the sweep is running */
    char path[96];
    snprintf(path, sizeof path, "/api/v1/sweeps/%lld", (long long)sid);
    call(ADMIN, NULL, "DELETE", path, NULL, 409);
    cr_expect_eq(count("SELECT count(*) FROM runs"), 3, "a refused delete deletes nothing");
    snprintf(path, sizeof path, "/api/v1/sweeps/%lld/cancel", (long long)sid);
    call(ADMIN, NULL, "POST", path, NULL, 200);
    snprintf(path, sizeof path, "/api/v1/runs/%lld/complete", (long long)l.run);
    call(w.token, l.lease, "POST", path, "{\"state\": \"canceled\"}", 200);
    snprintf(path, sizeof path, "/api/v1/sweeps/%lld", (long long)sid);
    j = srvt_json(&srv, "DELETE", path, NULL, 200);
    cr_expect_eq(srvt_int(j, "deleted.runs"), 3);
    cr_expect_eq(srvt_int(j, "deleted.metric_points"), 2);
    json_decref(j);
    json_decref(srvt_json(&srv, "GET", path, NULL, 404));
    cr_expect_eq(count("SELECT count(*) FROM runs"), 0);
    cr_expect_eq(count("SELECT count(*) FROM sweeps"), 0);
    cr_expect_eq(count("SELECT count(*) FROM run_fields"), 0);
    cr_expect_eq(files_in_data(), 0);
    /* The event stream announces it. */
    struct srvt_sse e;
    srvt_sse_open(&e, &srv, "/api/v1/events?since=0", NULL);
    cr_expect(srvt_sse_wait(&e, "\"state\":\"deleted\"", 5), "%s", e.buf ? e.buf : "");
    srvt_sse_close(&e);
}

Test(retention, old_events_are_pruned, .init = mkdir_only, .fini = down)
{
    start((const char *[]){"--event-retention", "3600", NULL});
    for (int i = 0; i < 5; i++)
        srvt_submit(&srv, "e");
    int64_t all = count("SELECT count(*) FROM events");
    cr_assert_geq(all, 5);
    /* Age three of them past the retention (the server keeps running). */
    sqlite3 *db;
    cr_assert_eq(sqlite3_open(srv.db, &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    cr_assert_eq(sqlite3_exec(db, "UPDATE events SET t = t - 7200 WHERE id <= 3", NULL, NULL, NULL),
                 SQLITE_OK, "%s", sqlite3_errmsg(db));
    sqlite3_close(db);
    double end = srvt_now() + 10;
    while (count("SELECT count(*) FROM events") > all - 3 && srvt_now() < end)
        srvt_sleep(0.1);
    cr_expect_eq(count("SELECT count(*) FROM events"), all - 3);
    cr_expect_eq(count("SELECT min(id) FROM events"), 4);
    cr_expect_eq(count("SELECT count(*) FROM runs"), 5, "runs stay: only events are pruned");
}
