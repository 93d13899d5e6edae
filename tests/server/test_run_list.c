/* Spec-field filters on GET /runs (defect 5): they used to json_extract
 * every run's spec, so sixteen of them starved the thread pool. Now every
 * scalar spec field is indexed in run_fields (filled at insert, backfilled
 * by migration 3), the first spec filter walks that index in run order,
 * every list query has a deadline (--query-timeout) and metric-threshold
 * lists, which still read each candidate's summary, are bounded in number
 * (--heavy-lists). */
#include <criterion/criterion.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/migrations.h"
#include "server/run_query.h"
#include "server/srv.h"
#include "server/store.h"
#include "srvt.h"

static char dir[SRVT_PATH];
static struct srvt_server srv;

static void up(void)
{
    srvt_dir_make(dir, sizeof dir);
    srvt_start(&srv, dir, NULL);
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

static void rmdir_only(void)
{
    srvt_dir_remove(dir);
}

TestSuite(run_list, .init = up, .fini = down);

/* `nacc` accumulators x `nseeds` seeds, acc outer (ids 1..30 e6m5, 31..60
 * e5m10 for 2 x 30; e7m7 and e8m8 follow). */
static int64_t sweep_of(int nacc, int nseeds)
{
    static const char *const accs = "\"e6m5\", \"e5m10\", \"e7m7\", \"e8m8\"";
    char body[4096];
    size_t n = (size_t)snprintf(body, sizeof body,
                                "{\"name\": \"s\", \"base\": %s, \"parameters\": {"
                                "\"arith.forward.mac.acc\": {\"values\": [%.*s]}, "
                                "\"train.seed\": {\"values\": [",
                                srvt_spec("b"), nacc == 2 ? 15 : (int)strlen(accs), accs);
    for (int i = 1; i <= nseeds; i++)
        n += (size_t)snprintf(body + n, sizeof body - n, "%s%d", i > 1 ? "," : "", i);
    snprintf(body + n, sizeof body - n, "]}}}");
    json_t *j = srvt_json(&srv, "POST", "/api/v1/sweeps", body, 201);
    int64_t id = srvt_int(j, "sweep.id");
    json_decref(j);
    return id;
}

static int64_t sweep60(void)
{
    return sweep_of(2, 30);
}

/* The ids of every page of `path` (cursor paging with `limit`). */
static int list_all(const char *path, int limit, int64_t *ids, int max)
{
    char url[512], cursor[32] = "0";
    int n = 0;
    for (int pages = 0; pages < 100; pages++) {
        snprintf(url, sizeof url, "%s%slimit=%d&cursor=%s", path, strchr(path, '?') ? "&" : "?",
                 limit, cursor);
        json_t *j = srvt_json(&srv, "GET", url, NULL, 200);
        const json_t *runs = json_object_get(j, "runs");
        for (size_t i = 0; i < json_array_size(runs); i++) {
            cr_assert_lt(n, max);
            ids[n++] = json_integer_value(json_object_get(json_array_get(runs, i), "id"));
        }
        const json_t *next = json_object_get(j, "next_cursor");
        bool more = json_is_string(next);
        if (more)
            snprintf(cursor, sizeof cursor, "%s", json_string_value(next));
        json_decref(j);
        if (!more)
            break;
    }
    return n;
}

Test(run_list, spec_filters_page_through_exactly_the_matching_runs)
{
    int64_t ids[128];
    sweep60();
    srvt_submit(&srv, "lone"); /* id 61, seed 1, acc fp32 */
    int n = list_all("/api/v1/runs?train.seed=7", 100, ids, 128);
    cr_assert_eq(n, 2, "seed 7 is in both halves");
    cr_expect(ids[0] == 7 && ids[1] == 37, "%lld %lld", (long long)ids[0], (long long)ids[1]);
    n = list_all("/api/v1/runs?arith.forward.mac.acc=e5m10", 7, ids, 128);
    cr_assert_eq(n, 30, "paged 7 at a time");
    for (int i = 0; i < n; i++)
        cr_expect_eq(ids[i], 31 + i, "in id order, each once");
    /* Two spec filters, one numeric (written 1, asked 1.0), plus indexed columns. */
    n = list_all("/api/v1/runs?train.seed=1.0&arith.forward.mac.acc=e6m5&state=queued", 100, ids,
                 128);
    cr_expect(n == 1 && ids[0] == 1, "n %d", n);
    n = list_all("/api/v1/runs?train.seed=1", 100, ids, 128);
    cr_expect(n == 3 && ids[2] == 61, "the lone experiment too: n %d", n);
    /* A boolean and a real. */
    n = list_all("/api/v1/runs?dataset.augment=false&train.optimizer.lr=0.05", 100, ids, 128);
    cr_expect_eq(n, 61);
    n = list_all("/api/v1/runs?dataset.augment=true", 100, ids, 128);
    cr_expect_eq(n, 0);
    n = list_all("/api/v1/runs?train.seed=7&sweep=1&state=running", 100, ids, 128);
    cr_expect_eq(n, 0);
}

/* --query-timeout bounds every list: a microsecond is past after the
 * first thousand SQLite steps, which a 400-run scan of summaries needs and
 * an index probe for one run does not. */
Test(run_list, a_list_past_its_deadline_is_503_query_timeout, .init = mkdir_only,
     .fini = rmdir_only)
{
    srvt_start(&srv, dir, (const char *[]){"--query-timeout", "0.000001", NULL});
    sweep_of(4, 100);
    struct srvt_resp r;
    srvt_do(&r, &srv,
            &(struct srvt_req){.method = "GET", .path = "/api/v1/runs?metric.val_acc.gte=0.1"});
    srvt_expect_error(&r, 503, "query_timeout", NULL);
    cr_expect_str_eq(srvt_header(&r, "Retry-After"), "1");
    srvt_resp_free(&r);
    json_t *j =
        srvt_json(&srv, "GET", "/api/v1/runs?train.seed=3&arith.forward.mac.acc=e5m10", NULL, 200);
    cr_expect_eq(srvt_int(j, "runs.0.id"), 103);
    json_decref(j);
    srvt_stop(&srv, SIGKILL);
}

/* The query plan: the first spec filter is a range of run_fields' primary
 * key (path, value, run > cursor) and runs is reached by rowid; no scan of
 * runs, no json_extract of a spec. */
Test(run_list, a_spec_filter_is_an_index_walk, .init = mkdir_only, .fini = rmdir_only)
{
    static struct srv_db d;
    struct qc_err err;
    char path[SRVT_PATH + 16];
    snprintf(path, sizeof path, "%s/q.db", dir);
    cr_assert_eq(srv_db_open(&d, path, false, &err), QC_OK, "%s", err.msg);
    struct srv_run_query q;
    srv_run_query_init(&q);
    cr_assert_eq(srv_run_query_add(&q, "train.seed", "3", &err), QC_OK, "%s", err.msg);
    cr_assert_eq(srv_run_query_add(&q, "arith.forward.mac.acc", "e6m5", &err), QC_OK);
    cr_assert_eq(srv_run_query_add(&q, "state", "queued,running", &err), QC_OK);
    sqlite3_stmt *st = srv_run_query_prepare(&q, &d.writer, 0, 100, &err);
    cr_assert_not_null(st, "%s", err.msg);
    char sql[8192], plan[4096] = "";
    snprintf(sql, sizeof sql, "EXPLAIN QUERY PLAN %s", sqlite3_sql(st));
    sqlite3_finalize(st);
    cr_assert_eq(sqlite3_prepare_v2(d.writer.db, sql, -1, &st, NULL), SQLITE_OK, "%s",
                 sqlite3_errmsg(d.writer.db));
    while (sqlite3_step(st) == SQLITE_ROW) {
        size_t n = strlen(plan);
        snprintf(plan + n, sizeof plan - n, "%s\n", (const char *)sqlite3_column_text(st, 3));
    }
    sqlite3_finalize(st);
    cr_expect(strstr(plan, "SEARCH f USING PRIMARY KEY (path_id=? AND value=? AND run_id>?)"),
              "the first filter walks run_fields:\n%s", plan);
    cr_expect(strstr(plan, "SEARCH runs USING INTEGER PRIMARY KEY (rowid=?)"), "%s", plan);
    cr_expect(!strstr(plan, "SCAN runs"), "no scan of runs:\n%s", plan);
    cr_expect(!strstr(plan, "TEMP B-TREE"), "no sort: the index gives run order:\n%s", plan);
    srv_db_close(&d);
}

/* Migration 3 indexes the runs a version-2 database already holds. */
Test(run_list, migration_backfills_the_runs_already_stored, .init = mkdir_only, .fini = rmdir_only)
{
    char path[SRVT_PATH + 16];
    sqlite3 *db;
    snprintf(path, sizeof path, "%s/old.db", dir);
    cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
    for (int i = 0; i < 2; i++)
        cr_assert_eq(sqlite3_exec(db, srv_migrations[i].sql, NULL, NULL, NULL), SQLITE_OK, "%s",
                     sqlite3_errmsg(db));
    cr_assert_eq(sqlite3_exec(db,
                              "PRAGMA user_version=2; INSERT INTO runs (name, spec, device_kind, "
                              "state, created, queued_at) VALUES ('old', '{\"name\":\"old\","
                              "\"train\":{\"seed\":42,\"optimizer\":{\"lr\":0.5}},\"model\":"
                              "{\"hidden\":[3,4]},\"dataset\":{\"dir\":null}}', 'any', 'queued', "
                              "1, 1)",
                              NULL, NULL, NULL),
                 SQLITE_OK, "%s", sqlite3_errmsg(db));
    sqlite3_close(db);
    static struct srv_db d;
    struct qc_err err;
    cr_assert_eq(srv_db_open(&d, path, false, &err), QC_OK, "%s", err.msg);
    struct srv_run_query q;
    srv_run_query_init(&q);
    cr_assert_eq(srv_run_query_add(&q, "train.seed", "42", &err), QC_OK);
    sqlite3_stmt *st = srv_run_query_prepare(&q, &d.writer, 0, 10, &err);
    cr_assert_not_null(st, "%s", err.msg);
    cr_expect_eq(sqlite3_step(st), SQLITE_ROW, "the old run is found through the index");
    cr_expect_str_eq((const char *)sqlite3_column_text(st, 2), "old");
    sqlite3_finalize(st);
    /* Scalars only: no rows for objects, arrays, their elements or nulls. */
    cr_assert_eq(sqlite3_prepare_v2(d.writer.db,
                                    "SELECT group_concat(p.path, ' ') FROM run_fields "
                                    "f JOIN spec_paths p ON p.id = f.path_id",
                                    -1, &st, NULL),
                 SQLITE_OK);
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
    const char *paths = (const char *)sqlite3_column_text(st, 0);
    cr_expect(strstr(paths, "$.train.seed") && strstr(paths, "$.train.optimizer.lr") &&
                  strstr(paths, "$.name"),
              "%s", paths);
    cr_expect(!strstr(paths, "hidden") && !strstr(paths, "dir") && !strstr(paths, "$.train "), "%s",
              paths);
    sqlite3_finalize(st);
    srv_db_close(&d);
}
