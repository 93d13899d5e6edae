/* A database another process holds locked (defect 2): the server used to
 * ignore its failed BEGIN IMMEDIATE and run the request's statements in
 * autocommit, so a "failed" (500) sweep had written part of its runs. Now
 * a write either happens whole or not at all, and a busy database answers
 * 503 unavailable with Retry-After. */
#include <criterion/criterion.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#include "srvt.h"

static char dir[SRVT_PATH];
static struct srvt_server srv;

static void up(void)
{
    srvt_dir_make(dir, sizeof dir);
    srvt_start(&srv, dir, (const char *[]){"--busy-timeout", "200", NULL});
}

static void down(void)
{
    srvt_stop(&srv, SIGKILL);
    srvt_dir_remove(dir);
}

TestSuite(busy, .init = up, .fini = down);

static sqlite3 *lock_db(void)
{
    sqlite3 *db = NULL;
    cr_assert_eq(sqlite3_open(srv.db, &db), SQLITE_OK);
    cr_assert_eq(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK, "%s",
                 sqlite3_errmsg(db));
    return db;
}

static void expect_busy(const char *path, const char *body)
{
    struct srvt_resp r;
    srvt_do(&r, &srv, &(struct srvt_req){.method = "POST", .path = path, .body = body});
    srvt_expect_error(&r, 503, "unavailable", NULL);
    cr_expect_str_eq(srvt_header(&r, "Retry-After"), "1");
    cr_expect(strstr(srvt_str(r.json, "error.message"), "locked"), "%s", r.body);
    srvt_resp_free(&r);
}

Test(busy, a_locked_database_writes_nothing_and_answers_503)
{
    char sweep[4096];
    snprintf(sweep, sizeof sweep,
             "{\"name\": \"s\", \"base\": %s, \"parameters\": {\"train.seed\": {\"values\": "
             "[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20]}}}",
             srvt_spec("b"));
    sqlite3 *db = lock_db();
    expect_busy("/api/v1/experiments", srvt_spec("one"));
    expect_busy("/api/v1/sweeps", sweep);
    /* A read still works beside the writer's lock (WAL). */
    json_t *h = srvt_json(&srv, "GET", "/healthz", NULL, 200);
    json_decref(h);
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_close(db);

    json_t *j = srvt_json(&srv, "GET", "/api/v1/runs", NULL, 200);
    cr_expect_eq(json_array_size(json_object_get(j, "runs")), 0,
                 "nothing of a refused write may exist: %zu runs",
                 json_array_size(json_object_get(j, "runs")));
    json_decref(j);
    j = srvt_json(&srv, "GET", "/api/v1/sweeps", NULL, 200);
    cr_expect_eq(json_array_size(json_object_get(j, "sweeps")), 0);
    json_decref(j);
    /* Once the lock is gone the same requests succeed. */
    j = srvt_json(&srv, "POST", "/api/v1/sweeps", sweep, 201);
    cr_expect_eq(srvt_int(j, "sweep.runs"), 20);
    json_decref(j);
}
