/* Integration tests of results and organisation against the real
 * qlab-server (with a token file, so submitters have names): the filter
 * grammar and order_by with keyset cursors, PATCH of runs and sweeps, the
 * results table as JSON and CSV, long metric points, imported runs and
 * their checkpoints, validation with every error and worker warnings. */
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "srvt.h"

#define ADMIN "admin-token-0123456789abcdef"
#define READ  "read-token-0123456789abcdef"

static char dir[SRVT_PATH];
static struct srvt_server srv;

static void up(void)
{
    char tokens[SRVT_PATH + 16];
    srvt_dir_make(dir, sizeof dir);
    snprintf(tokens, sizeof tokens, "%s/tokens", dir);
    srvt_write_file(tokens, "admin " ADMIN " alice\nread " READ "\njoin join-token-0123456789ab\n");
    const char *const args[] = {"--token-file", tokens, NULL};
    srvt_start(&srv, dir, args);
    snprintf(srv.token, sizeof srv.token, "%s", ADMIN);
}

/* A clean stop: under the sanitizers, a leak in these routes fails it. */
static void down(void)
{
    srvt_stop_clean(&srv);
    srvt_dir_remove(dir);
}

TestSuite(results, .init = up, .fini = down);

/* "/api/v1/runs?filter=<escaped>&rest" into a static buffer. */
static const char *with_param(const char *base, const char *key, const char *value,
                              const char *rest)
{
    static char buf[16384];
    char *e = curl_easy_escape(NULL, value, (int)strlen(value));
    cr_assert_not_null(e);
    snprintf(buf, sizeof buf, "%s%s%s=%s%s", base, strchr(base, '?') ? "&" : "?", key, e,
             rest ? rest : "");
    curl_free(e);
    return buf;
}

/* 2 accumulators x 3 seeds, acc outer. */
static int64_t grid(const char *name)
{
    char body[1024];
    snprintf(body, sizeof body,
             "{\"name\": \"%s\", \"base\": %s, \"parameters\": {"
             "\"arith.forward.mac.acc\": {\"values\": [\"e6m5\", \"e5m10\"]}, "
             "\"train.seed\": {\"values\": [1, 2, 3]}}}",
             name, srvt_spec("base"));
    json_t *j = srvt_json(&srv, "POST", "/api/v1/sweeps", body, 201);
    int64_t id = srvt_int(j, "sweep.id");
    cr_expect_str_eq(srvt_str(j, "sweep.submitted_by"), "alice");
    cr_expect(json_is_array(srvt_at(j, "warnings")));
    json_decref(j);
    return id;
}

static int count(const char *filter)
{
    json_t *j =
        srvt_json(&srv, "GET", with_param("/api/v1/runs", "filter", filter, NULL), NULL, 200);
    int n = (int)json_array_size(json_object_get(j, "runs"));
    json_decref(j);
    return n;
}

static void expect_bad(const char *path, const char *field)
{
    struct srvt_resp r;
    srvt_do(&r, &srv, &(struct srvt_req){.method = "GET", .path = path, .token = ADMIN});
    srvt_expect_error(&r, 400, "bad_param", field);
    srvt_resp_free(&r);
}

Test(results, filter_grammar)
{
    int64_t sw = grid("g");
    char f[256];
    cr_expect_eq(count("arith.forward.mac.acc = \"e6m5\""), 3);
    cr_expect_eq(count("arith.forward.mac.acc = e6m5 and train.seed >= 2"), 2);
    cr_expect_eq(count("train.seed in (1, 3)"), 4);
    cr_expect_eq(count("train.seed != 2"), 4);
    cr_expect_eq(count("train.seed <> 2 AND train.seed < 3"), 2);
    cr_expect_eq(count("name like '%seed=3%'"), 2);
    cr_expect_eq(count("spec.train.seed == 1"), 2);
    cr_expect_eq(count("metric.val_acc = null"), 6);
    cr_expect_eq(count("metric.val_acc != null"), 0);
    cr_expect_eq(count("submitted_by = alice and imported = false"), 6);
    cr_expect_eq(count("train.optimizer.nesterov = false"), 6, "booleans compare as 0/1");
    snprintf(f, sizeof f, "sweep = %lld and state in (queued, running)", (long long)sw);
    cr_expect_eq(count(f), 6);
    cr_expect_eq(count("  "), 6, "an empty filter filters nothing");

    static const char *const bad[] = {
        "arith.forward.mac.acc = \"e6m5",
        "train.seed >",
        "train.seed ~ 1",
        "x.y = 1",
        "tag < 1",
        "tag = null",
        "train.seed in 1",
        "train.seed in (1",
        "train.seed in (1 2)",
        "metric. = 1",
        "train.seed = 1 or train.seed = 2",
        "= 1",
        "train.seed = 1 and",
        "metric.val_acc < null",
        "train.seed like 5",
        "name = \x01",
        "cost.a/b > 1",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        expect_bad(with_param("/api/v1/runs", "filter", bad[i], NULL), "?filter");
    /* The limits: conditions, list values, length. */
    char big[8192] = "";
    for (int i = 0; i < 33; i++)
        snprintf(big + strlen(big), sizeof big - strlen(big), "%strain.seed > 0", i ? " and " : "");
    expect_bad(with_param("/api/v1/runs", "filter", big, NULL), "?filter");
    snprintf(big, sizeof big, "train.seed in (0");
    for (int i = 1; i < 101; i++)
        snprintf(big + strlen(big), sizeof big - strlen(big), ", %d", i);
    strcat(big, ")");
    expect_bad(with_param("/api/v1/runs", "filter", big, NULL), "?filter");
    memset(big, 'a', 4200);
    big[4200] = '\0';
    expect_bad(with_param("/api/v1/runs", "filter", big, NULL), "?filter");
    /* A value longer than a token holds is refused, never shortened. */
    snprintf(big, sizeof big, "name = \"");
    memset(big + 8, 'x', 1500);
    snprintf(big + 1508, sizeof big - 1508, "\"");
    expect_bad(with_param("/api/v1/runs", "filter", big, NULL), "?filter");
    cr_expect_eq(count("cost.energy_pj > 1"), 0, "a cost field: none yet");
    /* The error names the column. */
    struct srvt_resp r;
    srvt_do(&r, &srv,
            &(struct srvt_req){
                .method = "GET",
                .path = with_param("/api/v1/runs", "filter", "train.seed = 1 and bogus = 2", NULL),
                .token = ADMIN});
    cr_expect(strstr(r.body, "column 20") && strstr(r.body, "unknown field 'bogus'"), "%s", r.body);
    srvt_resp_free(&r);
    /* Unknown plain parameters are refused too. */
    expect_bad("/api/v1/runs?no.such.path=1", "?no.such.path");
    expect_bad("/api/v1/runs?bogus=1", "?bogus");
}

/* The ids of path, following next_cursor with pages of `limit`. */
static int walk(const char *order, int limit, int64_t *ids, int max)
{
    char rest[64], cursor[512] = "";
    int n = 0;
    for (int pages = 0; pages < 50; pages++) {
        snprintf(rest, sizeof rest, "&limit=%d", limit);
        char path[2048];
        snprintf(path, sizeof path, "%s", with_param("/api/v1/runs", "order_by", order, rest));
        if (cursor[0])
            snprintf(path + strlen(path), sizeof path - strlen(path), "&cursor=%s", cursor);
        json_t *j = srvt_json(&srv, "GET", path, NULL, 200);
        size_t i;
        json_t *x;
        json_array_foreach(json_object_get(j, "runs"), i, x)
        {
            cr_assert_lt(n, max);
            ids[n++] = json_integer_value(json_object_get(x, "id"));
        }
        const char *next = json_string_value(json_object_get(j, "next_cursor"));
        snprintf(cursor, sizeof cursor, "%s", next ? next : "");
        json_decref(j);
        if (!next)
            return n;
    }
    cr_assert_fail("paging did not end");
    return n;
}

/* Posts val_acc points for the run leased by w and completes it. */
static int64_t finish_one(const struct srvt_worker *w, const char *vals)
{
    struct srvt_lease l;
    char path[96], body[512];
    srvt_lease(&l, &srv, w);
    snprintf(path, sizeof path, "/api/v1/runs/%lld/metrics", (long long)l.run);
    snprintf(body, sizeof body, "{\"points\": [%s]}", vals);
    json_decref(srvt_call(&srv, w->token, l.lease, "POST", path, body, 200));
    snprintf(path, sizeof path, "/api/v1/runs/%lld/complete", (long long)l.run);
    json_decref(
        srvt_call(&srv, w->token, l.lease, "POST", path, "{\"state\": \"succeeded\"}", 200));
    return l.run;
}

Test(results, order_by_pages_stay_in_order_with_nulls_last)
{
    int64_t all[16], paged[16];
    grid("o");
    int n = walk("-train.seed", 100, all, 16);
    cr_assert_eq(n, 6);
    /* Seeds 3, 3, 2, 2, 1, 1, ties by id descending. */
    int64_t want[] = {6, 3, 5, 2, 4, 1};
    for (int i = 0; i < 6; i++)
        cr_expect_eq(all[i], want[i], "position %d: %lld", i, (long long)all[i]);
    cr_expect_eq(walk("-train.seed", 1, paged, 16), 6);
    cr_expect_arr_eq(paged, all, sizeof all[0] * 6);

    /* Two runs get metrics; the other four keep NULL keys, last either way. */
    struct srvt_worker w;
    srvt_register(&w, &srv, "w", 1);
    int64_t a = finish_one(&w, "{\"step\": 1, \"name\": \"val_acc\", \"value\": 0.25}");
    int64_t b = finish_one(&w, "{\"step\": 1, \"name\": \"val_acc\", \"value\": 0.75}");
    for (int dir_ = 0; dir_ < 2; dir_++) {
        const char *ord = dir_ ? "-metric.val_acc" : "metric.val_acc";
        cr_expect_eq(walk(ord, 100, all, 16), 6);
        cr_expect_eq(all[0], dir_ ? b : a, "%s", ord);
        cr_expect_eq(all[1], dir_ ? a : b, "%s", ord);
        cr_expect_eq(walk(ord, 1, paged, 16), 6, "%s: pages across the NULLs", ord);
        cr_expect_arr_eq(paged, all, sizeof all[0] * 6, "%s", ord);
        cr_expect_eq(walk(ord, 4, paged, 16), 6);
        cr_expect_arr_eq(paged, all, sizeof all[0] * 6, "%s", ord);
    }
    cr_expect_eq(walk("best.val_acc", 2, paged, 16), 6);
    cr_expect_eq(paged[0], a);
    cr_expect_eq(walk("name", 2, paged, 16), 6);

    /* A cursor belongs to its order; junk is refused; the plain cursor
     * (an id) still pages the default order. */
    json_t *j = srvt_json(
        &srv, "GET", with_param("/api/v1/runs", "order_by", "-train.seed", "&limit=2"), NULL, 200);
    char other[1024];
    snprintf(other, sizeof other, "%s", with_param("/api/v1/runs", "order_by", "name", "&cursor="));
    strcat(other, json_string_value(json_object_get(j, "next_cursor")));
    json_decref(j);
    expect_bad(other, "?cursor");
    expect_bad(with_param("/api/v1/runs", "order_by", "name", "&cursor=!!!"), "?cursor");
    expect_bad(with_param("/api/v1/runs", "order_by", "name", "&cursor=e30"), "?cursor");
    expect_bad("/api/v1/runs?cursor=abc", "?cursor");
    expect_bad(with_param("/api/v1/runs", "order_by", "-nope", NULL), "?order_by");
    expect_bad(with_param("/api/v1/runs", "order_by", "tag", NULL), "?order_by");
    j = srvt_json(&srv, "GET", "/api/v1/runs?limit=3&cursor=2", NULL, 200);
    cr_expect_eq(srvt_int(j, "runs.0.id"), 3);
    cr_expect_str_eq(srvt_str(j, "next_cursor"), "5");
    json_decref(j);

    /* Sweeps: newest first by default, any field with order_by. */
    grid("a-second");
    j = srvt_json(&srv, "GET", "/api/v1/sweeps?limit=1", NULL, 200);
    cr_expect_eq(srvt_int(j, "sweeps.0.id"), 2);
    cr_expect_str_eq(srvt_str(j, "next_cursor"), "2");
    json_decref(j);
    j = srvt_json(&srv, "GET", "/api/v1/sweeps?limit=1&cursor=2", NULL, 200);
    cr_expect_eq(srvt_int(j, "sweeps.0.id"), 1);
    json_decref(j);
    j = srvt_json(&srv, "GET", with_param("/api/v1/sweeps", "order_by", "name", "&limit=1"), NULL,
                  200);
    cr_expect_str_eq(srvt_str(j, "sweeps.0.name"), "a-second");
    char next[600];
    snprintf(next, sizeof next, "%s", with_param("/api/v1/sweeps", "order_by", "name", "&cursor="));
    strcat(next, json_string_value(json_object_get(j, "next_cursor")));
    json_decref(j);
    j = srvt_json(&srv, "GET", next, NULL, 200);
    cr_expect_str_eq(srvt_str(j, "sweeps.0.name"), "o");
    json_decref(j);
    j = srvt_json(
        &srv, "GET",
        with_param("/api/v1/sweeps", "filter", "runs = 6 and base.model.arch = lenet5", NULL), NULL,
        200);
    cr_expect_eq(json_array_size(json_object_get(j, "sweeps")), 2);
    json_decref(j);
    expect_bad(with_param("/api/v1/sweeps", "filter", "metric.val_acc > 1", NULL), "?filter");
}

Test(results, patch_runs_and_sweeps)
{
    int64_t sw = grid("p");
    json_t *j = srvt_json(&srv, "PATCH", "/api/v1/runs/2",
                          "{\"name\": \"renamed\", \"note\": \"# Note\\nline two\", \"tags\": "
                          "[\"b\", \"a\", \"b\"], \"add_tags\": [\"c\"], \"remove_tags\": [\"a\"]}",
                          200);
    cr_expect_str_eq(srvt_str(j, "run.name"), "renamed");
    cr_expect_str_eq(srvt_str(j, "run.note"), "# Note\nline two");
    cr_expect_eq(json_array_size(srvt_at(j, "run.tags")), 2);
    cr_expect_str_eq(srvt_str(j, "run.tags.0"), "b");
    cr_expect_str_eq(srvt_str(j, "run.tags.1"), "c");
    json_decref(j);
    j = srvt_json(&srv, "PATCH", "/api/v1/runs/2", "{\"remove_tags\": [\"b\"]}", 200);
    cr_expect_str_eq(srvt_str(j, "run.name"), "renamed", "untouched fields stay");
    cr_expect_str_eq(srvt_str(j, "run.tags.0"), "c");
    json_decref(j);
    cr_expect_eq(count("tag = c"), 1);
    cr_expect_eq(count("tag != c"), 5);
    cr_expect_eq(count("tag in (x, c)"), 1);
    cr_expect_eq(count("tags like 'C%'"), 1);
    cr_expect_eq(count("note like '%line two'"), 1);

    char path[64];
    snprintf(path, sizeof path, "/api/v1/sweeps/%lld", (long long)sw);
    j = srvt_json(&srv, "PATCH", path, "{\"tags\": [\"study\"], \"note\": \"n\", \"name\": \"P\"}",
                  200);
    cr_expect_str_eq(srvt_str(j, "sweep.name"), "P");
    json_decref(j);
    j = srvt_json(&srv, "GET", path, NULL, 200);
    cr_expect_str_eq(srvt_str(j, "sweep.tags.0"), "study");
    cr_expect_str_eq(srvt_str(j, "sweep.note"), "n");
    const json_t *seed = json_object_get(srvt_at(j, "sweep.axes"), "train.seed");
    cr_expect_eq(json_integer_value(json_array_get(json_object_get(seed, "values"), 2)), 3);
    json_decref(j);

    static const struct {
        const char *body, *field;
    } bad[] = {{"{}", ""},
               {"{\"tags\": \"x\"}", "/tags"},
               {"{\"tags\": [\"a b\"]}", "/tags/0"},
               {"{\"add_tags\": [\"\"]}", "/add_tags/0"},
               {"{\"note\": 5}", "/note"},
               {"{\"name\": \"\"}", "/name"},
               {"{\"name\": \"a\\nb\"}", "/name"},
               {"{\"owner\": \"x\"}", "/owner"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct srvt_resp r;
        srvt_do(
            &r, &srv,
            &(struct srvt_req){
                .method = "PATCH", .path = "/api/v1/runs/1", .body = bad[i].body, .token = ADMIN});
        srvt_expect_error(&r, 400, "invalid_request", bad[i].field);
        srvt_resp_free(&r);
    }
    char many[2048] = "{\"add_tags\": [";
    for (int i = 0; i < 33; i++)
        snprintf(many + strlen(many), sizeof many - strlen(many), "%s\"t%d\"", i ? ", " : "", i);
    strcat(many, "]}");
    struct srvt_resp r;
    srvt_do(&r, &srv,
            &(struct srvt_req){
                .method = "PATCH", .path = "/api/v1/runs/1", .body = many, .token = ADMIN});
    srvt_expect_error(&r, 400, "invalid_request", "/add_tags");
    srvt_resp_free(&r);
    srvt_do(&r, &srv,
            &(struct srvt_req){.method = "PATCH",
                               .path = "/api/v1/runs/99",
                               .body = "{\"note\": \"\"}",
                               .token = ADMIN});
    srvt_expect_error(&r, 404, "not_found", NULL);
    srvt_resp_free(&r);
    srvt_do(&r, &srv,
            &(struct srvt_req){.method = "PATCH",
                               .path = "/api/v1/runs/1",
                               .body = "{\"note\": \"\"}",
                               .token = READ});
    srvt_expect_error(&r, 403, "forbidden", NULL);
    srvt_resp_free(&r);
}

Test(results, results_table_json_and_csv)
{
    int64_t sw = grid("r");
    struct srvt_worker w;
    srvt_register(&w, &srv, "w", 1);
    int64_t a = finish_one(&w, "{\"step\": 1, \"name\": \"val_acc\", \"value\": 0.5}, "
                               "{\"step\": 2, \"name\": \"val_acc\", \"value\": 0.75}, "
                               "{\"step\": 3, \"name\": \"val_acc\", \"value\": 0.625}, "
                               "{\"step\": 3, \"name\": \"train_loss\", \"value\": 1.5}, "
                               "{\"step\": 2, \"name\": \"val_loss\", \"value\": 0.25}, "
                               "{\"step\": 3, \"name\": \"val_loss\", \"value\": null}");
    char path[128];
    snprintf(path, sizeof path, "/api/v1/runs/%lld", (long long)a);
    json_decref(
        srvt_json(&srv, "PATCH", path, "{\"name\": \"a,\\\"b\\\"\", \"tags\": [\"t1\"]}", 200));

    snprintf(path, sizeof path, "/api/v1/sweeps/%lld/results", (long long)sw);
    json_t *j = srvt_json(&srv, "GET", path, NULL, 200);
    const json_t *cols = json_object_get(j, "columns"), *rows = json_object_get(j, "rows");
    cr_assert_eq(json_array_size(rows), 6);
    static const char *const first[] = {"id",
                                        "name",
                                        "state",
                                        "sweep",
                                        "worker",
                                        "device",
                                        "attempt",
                                        "created",
                                        "started",
                                        "finished",
                                        "duration",
                                        "error",
                                        "submitted_by",
                                        "tags",
                                        "imported",
                                        "arith.forward.mac.acc",
                                        "train.seed",
                                        "metric.train_loss",
                                        "metric.val_acc",
                                        "metric.val_loss",
                                        "best.val_acc",
                                        "best.val_loss"};
    for (size_t i = 0; i < sizeof first / sizeof first[0]; i++)
        cr_expect_str_eq(json_string_value(json_array_get(cols, i)), first[i], "column %zu", i);
    /* Then the cost fields (the runs are priced at insert, or pending). */
    size_t c = sizeof first / sizeof first[0];
    while (c < json_array_size(cols) &&
           !strncmp(json_string_value(json_array_get(cols, c)), "cost.", 5))
        c++;
    cr_expect_gt(c, sizeof first / sizeof first[0], "cost columns after the best values");
    cr_expect_str_eq(json_string_value(json_array_get(cols, c)), "model.arch",
                     "then the spec fields");
    const json_t *row = NULL, *x;
    size_t i;
    json_array_foreach(rows, i, x)
    {
        cr_expect_eq(json_object_size(x), json_array_size(cols), "every row has every column");
        if (json_integer_value(json_object_get(x, "id")) == a)
            row = x;
    }
    cr_assert_not_null(row);
    cr_expect_eq(json_real_value(json_object_get(row, "metric.val_acc")), 0.625, "final");
    cr_expect_eq(json_real_value(json_object_get(row, "best.val_acc")), 0.75, "best: max");
    cr_expect_eq(json_real_value(json_object_get(row, "best.val_loss")), 0.25, "best: min");
    cr_expect_eq(json_real_value(json_object_get(row, "metric.val_loss")), 0.25,
                 "the last finite value");
    cr_expect_str_eq(json_string_value(json_object_get(row, "state")), "succeeded");
    cr_expect_str_eq(json_string_value(json_object_get(row, "submitted_by")), "alice");
    cr_expect(json_is_real(json_object_get(row, "duration")) ||
              json_is_null(json_object_get(row, "duration")));
    cr_expect(json_is_null(json_object_get(json_array_get(rows, 5), "metric.val_acc")));
    json_decref(j);

    /* CSV: by ?format and by Accept, the same columns, RFC 4180 quoting. */
    struct srvt_resp r;
    char csvpath[160];
    snprintf(csvpath, sizeof csvpath, "%s?format=csv", path);
    srvt_do(&r, &srv, &(struct srvt_req){.method = "GET", .path = csvpath, .token = READ});
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_expect_str_eq(srvt_header(&r, "Content-Type"), "text/csv; charset=utf-8");
    cr_expect(strstr(srvt_header(&r, "Content-Disposition"), "results.csv"));
    cr_expect_eq(strncmp(r.body, "id,name,state,sweep,worker,", 27), 0, "%.80s", r.body);
    cr_expect(strstr(r.body, ",\"a,\"\"b\"\"\",succeeded,"), "%s", r.body);
    cr_expect(strstr(r.body, ",\"[\"\"t1\"\"]\",false,"), "tags as JSON in one cell");
    cr_expect(strstr(r.body, ",0.625,0.25,0.75,0.25,"), "finals then bests");
    int lines = 0;
    for (const char *p = r.body; (p = strstr(p, "\r\n")); p += 2)
        lines++;
    cr_expect_eq(lines, 7, "a header and six rows");
    struct srvt_resp r2;
    srvt_do(&r2, &srv,
            &(struct srvt_req){.method = "GET",
                               .path = path,
                               .token = READ,
                               .headers = {"Accept: text/csv, */*;q=0.1"}});
    cr_expect_eq(r2.len, r.len);
    cr_expect_eq(memcmp(r2.body, r.body, r.len), 0, "Accept gives the same bytes");
    srvt_resp_free(&r);
    srvt_resp_free(&r2);
    snprintf(csvpath, sizeof csvpath, "%s?format=xml", path);
    expect_bad(csvpath, "?format");
    srvt_do(
        &r, &srv,
        &(struct srvt_req){.method = "GET", .path = "/api/v1/sweeps/99/results", .token = READ});
    srvt_expect_error(&r, 404, "not_found", NULL);
    srvt_resp_free(&r);

    /* Long points of the sweep, and of runs by id. */
    snprintf(path, sizeof path, "/api/v1/metrics?sweep=%lld&names=val_acc", (long long)sw);
    j = srvt_json(&srv, "GET", path, NULL, 200);
    const json_t *pts = json_object_get(j, "points");
    cr_assert_eq(json_array_size(pts), 3);
    cr_expect_eq(srvt_int(j, "points.1.step"), 2);
    cr_expect_eq(json_real_value(srvt_at(j, "points.1.value")), 0.75);
    cr_expect(json_is_real(srvt_at(j, "points.1.time")));
    json_decref(j);
    snprintf(path, sizeof path, "/api/v1/metrics?runs=%lld,99&format=csv&names=val_loss",
             (long long)a);
    srvt_do(&r, &srv, &(struct srvt_req){.method = "GET", .path = path, .token = READ});
    cr_assert_eq(r.status, 200);
    char head[64];
    snprintf(head, sizeof head, "run,name,step,value,time\r\n%lld,val_loss,2,0.25,", (long long)a);
    cr_expect_eq(strncmp(r.body, head, strlen(head)), 0, "%s", r.body);
    snprintf(head, sizeof head, "%lld,val_loss,3,,", (long long)a);
    cr_expect(strstr(r.body, head), "a null value is an empty cell: %s", r.body);
    srvt_resp_free(&r);
    expect_bad("/api/v1/metrics", "?runs");
    expect_bad("/api/v1/metrics?runs=1,x", "?runs");
    expect_bad("/api/v1/metrics?runs=1&names=a%20b", "?names");
}

static const char import_ok[] =
    "{\"key\": \"k-1\", \"spec\": {\"name\": \"laptop\", \"model\": {\"arch\": \"mlp\", "
    "\"hidden\": "
    "[8]}, \"dataset\": {\"name\": \"synthetic\"}}, \"started\": 100, \"finished\": 160.5, "
    "\"host\": \"lap\", \"tags\": [\"local\"], \"note\": \"by hand\", \"points\": ["
    "{\"step\": 1, \"name\": \"val_acc\", \"value\": 0.5}, "
    "{\"step\": 2, \"name\": \"val_acc\", \"value\": 0.7, \"t\": 150}, "
    "{\"step\": 2, \"name\": \"train_loss\", \"value\": null}]}";

Test(results, import_is_validated_idempotent_and_takes_its_checkpoint)
{
    json_t *j = srvt_json(&srv, "POST", "/api/v1/runs/import", import_ok, 201);
    int64_t id = srvt_int(j, "run.id");
    cr_expect(json_is_true(srvt_at(j, "created")));
    cr_expect_str_eq(srvt_str(j, "run.state"), "succeeded");
    cr_expect_str_eq(srvt_str(j, "run.device"), "lap");
    cr_expect_str_eq(srvt_str(j, "run.submitted_by"), "alice");
    cr_expect_str_eq(srvt_str(j, "run.tags.0"), "local");
    cr_expect(json_is_true(srvt_at(j, "run.imported")));
    cr_expect_eq(json_real_value(srvt_at(j, "run.summary.val_acc")), 0.7);
    cr_expect_null(srvt_at(j, "run.summary.train_loss"), "no finite value, no summary");
    cr_expect_eq(json_number_value(srvt_at(j, "run.finished")), 160.5);
    cr_expect_str_eq(srvt_str(j, "run.spec.dataset.name"), "synthetic", "canonical spec");
    json_decref(j);
    j = srvt_json(&srv, "POST", "/api/v1/runs/import", import_ok, 200);
    cr_expect_eq(srvt_int(j, "run.id"), id, "the same key is the same run");
    cr_expect(json_is_false(srvt_at(j, "created")));
    json_decref(j);
    char path[96];
    snprintf(path, sizeof path, "/api/v1/metrics?runs=%lld", (long long)id);
    j = srvt_json(&srv, "GET", path, NULL, 200);
    cr_expect_eq(json_array_size(json_object_get(j, "points")), 3);
    cr_expect_eq(json_number_value(srvt_at(j, "points.0.time")), 160.5, "t defaults to finished");
    cr_expect_eq(json_number_value(srvt_at(j, "points.1.time")), 150);
    json_decref(j);
    cr_expect_eq(count("imported = true and tag = local"), 1);

    /* Its checkpoint, by an admin without a lease. */
    static const char ck[] = "checkpoint bytes";
    char crc[48];
    snprintf(crc, sizeof crc, "X-Qlab-Crc32: %08lx",
             crc32(crc32(0L, Z_NULL, 0), (const Bytef *)ck, (uInt)strlen(ck)));
    snprintf(path, sizeof path, "/api/v1/runs/%lld/checkpoint", (long long)id);
    struct srvt_resp r;
    srvt_do(&r, &srv,
            &(struct srvt_req){.method = "PUT",
                               .path = path,
                               .token = ADMIN,
                               .body = ck,
                               .content_type = "application/octet-stream",
                               .headers = {"X-Qlab-Step: 2", crc}});
    cr_expect_eq(r.status, 200, "%s", r.body);
    srvt_resp_free(&r);
    srvt_do(&r, &srv, &(struct srvt_req){.method = "GET", .path = path, .token = READ});
    cr_expect_eq(r.status, 200);
    cr_expect_eq(r.len, strlen(ck));
    srvt_resp_free(&r);
    /* A queued run's checkpoint still needs the lease. */
    int64_t q = srvt_submit(&srv, "queued");
    snprintf(path, sizeof path, "/api/v1/runs/%lld/checkpoint", (long long)q);
    srvt_do(&r, &srv,
            &(struct srvt_req){.method = "PUT",
                               .path = path,
                               .token = ADMIN,
                               .body = ck,
                               .content_type = "application/octet-stream",
                               .headers = {"X-Qlab-Step: 2", crc}});
    srvt_expect_error(&r, 400, "invalid_request", "X-Qlab-Lease");
    srvt_resp_free(&r);

    static const struct {
        const char *body, *code, *field;
    } bad[] = {
        {"{\"spec\": {}}", "invalid_request", "/key"},
        {"{\"key\": \"a b\", \"spec\": {}}", "invalid_request", "/key"},
        {"{\"key\": \"k\"}", "invalid_request", "/spec"},
        {"{\"key\": \"k\", \"spec\": {}, \"state\": \"running\"}", "invalid_request", "/state"},
        {"{\"key\": \"k\", \"spec\": {}, \"started\": 5, \"finished\": 4}", "invalid_request",
         "/finished"},
        {"{\"key\": \"k\", \"spec\": {}, \"extra\": 1}", "invalid_request", "/extra"},
        {"{\"key\": \"k\", \"spec\": {}, \"points\": [{\"step\": 1, \"name\": \"a b\", \"value\": "
         "1}]}",
         "invalid_request", "/points/0"},
        {"{\"key\": \"k\", \"spec\": {}, \"points\": [{\"step\": -1, \"name\": \"a\", \"value\": "
         "1}]}",
         "invalid_request", "/points/0"},
        {"{\"key\": \"k\", \"spec\": {}, \"tags\": [\"a b\"]}", "invalid_request", "/tags/0"},
        {"{\"key\": \"k\", \"spec\": {\"name\": \"x\", \"model\": {\"arch\": \"mlp\", \"hidden\": "
         "[8]}, \"dataset\": {\"name\": \"synthetic\"}, \"arith\": {\"forward\": {\"mac\": "
         "{\"acc\": "
         "\"e6m55\"}}}}}",
         "invalid_spec", "/spec/arith/forward/mac/acc"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        srvt_do(&r, &srv,
                &(struct srvt_req){.method = "POST",
                                   .path = "/api/v1/runs/import",
                                   .body = bad[i].body,
                                   .token = ADMIN});
        srvt_expect_error(&r, 400, bad[i].code, bad[i].field);
        if (strcmp(bad[i].code, "invalid_spec") == 0)
            cr_expect_str_eq(json_string_value(srvt_at(r.json, "error.errors.0.field")),
                             "/spec/arith/forward/mac/acc");
        srvt_resp_free(&r);
    }
    srvt_do(&r, &srv,
            &(struct srvt_req){
                .method = "POST", .path = "/api/v1/runs/import", .body = import_ok, .token = READ});
    srvt_expect_error(&r, 403, "forbidden", NULL);
    srvt_resp_free(&r);
    cr_expect_eq(count("imported = true"), 1, "nothing else was written");
}

Test(results, validation_lists_every_error_and_warns_about_workers)
{
    static const char bad[] =
        "{\"name\": \"x\", \"model\": {\"arch\": \"lenet5\"}, \"dataset\": {\"name\": "
        "\"synthetic\"}, \"arith\": {\"forward\": {\"mac\": {\"acc\": \"e6m55\", \"cfg\": 9}}}}";
    json_t *j = srvt_json(&srv, "POST", "/api/v1/experiments/validate", bad, 200);
    cr_expect(json_is_false(srvt_at(j, "valid")));
    cr_expect_geq(json_array_size(srvt_at(j, "errors")), 2);
    cr_expect(json_is_null(srvt_at(j, "spec")));
    json_decref(j);
    struct srvt_resp r;
    srvt_do(&r, &srv,
            &(struct srvt_req){
                .method = "POST", .path = "/api/v1/experiments", .body = bad, .token = ADMIN});
    srvt_expect_error(&r, 400, "invalid_spec", NULL);
    cr_expect_geq(json_array_size(srvt_at(r.json, "error.errors")), 2);
    srvt_resp_free(&r);

    static const char gpu_mnist[] =
        "{\"name\": \"g\", \"model\": {\"arch\": \"mlp\", \"hidden\": [8]}, \"dataset\": "
        "{\"name\": \"mnist\"}, \"device\": {\"kind\": \"%s\"}}";
    char body[512];
    snprintf(body, sizeof body, gpu_mnist, "cpu");
    j = srvt_json(&srv, "POST", "/api/v1/experiments/validate", body, 200);
    cr_expect(json_is_true(srvt_at(j, "valid")));
    cr_expect_str_eq(srvt_str(j, "warnings.0.code"), "no_workers");
    cr_expect_str_eq(srvt_str(j, "spec.device.kind"), "cpu");
    json_decref(j);

    /* One worker with cpu devices and only synthetic data. */
    json_decref(srvt_json(&srv, "POST", "/api/v1/workers/register",
                          "{\"name\": \"w\", \"devices\": [{\"id\": \"cpu0\", \"kind\": \"cpu\"}], "
                          "\"datasets\": [\"synthetic\"]}",
                          201));
    j = srvt_json(&srv, "GET", "/api/v1/workers", NULL, 200);
    cr_expect_str_eq(srvt_str(j, "workers.0.datasets.0"), "synthetic");
    json_decref(j);
    j = srvt_json(&srv, "POST", "/api/v1/experiments/validate", body, 200);
    cr_expect_eq(json_array_size(srvt_at(j, "warnings")), 1);
    cr_expect_str_eq(srvt_str(j, "warnings.0.code"), "no_dataset");
    cr_expect_str_eq(srvt_str(j, "warnings.0.field"), "/dataset/name");
    json_decref(j);
    snprintf(body, sizeof body, gpu_mnist, "gpu");
    j = srvt_json(&srv, "POST", "/api/v1/experiments", body, 201);
    cr_expect_str_eq(srvt_str(j, "warnings.0.code"), "no_device", "a 201 carries them too");
    json_decref(j);
    j = srvt_json(&srv, "POST", "/api/v1/experiments/validate", srvt_spec("fine"), 200);
    cr_expect(json_is_true(srvt_at(j, "valid")));
    cr_expect_eq(json_array_size(srvt_at(j, "warnings")), 0);
    json_decref(j);

    snprintf(body, sizeof body,
             "{\"name\": \"s\", \"base\": %s, \"parameters\": {\"train.seed\": {\"values\": [1, "
             "2, \"x\"]}, \"arith.forward.mac.acc\": {\"values\": [\"e6m5\", \"nope\"]}}}",
             srvt_spec("b"));
    j = srvt_json(&srv, "POST", "/api/v1/sweeps/validate", body, 200);
    cr_expect(json_is_false(srvt_at(j, "valid")));
    cr_expect_geq(json_array_size(srvt_at(j, "errors")), 2);
    json_decref(j);
    snprintf(body, sizeof body,
             "{\"name\": \"s\", \"base\": {\"name\": \"b\", \"model\": {\"arch\": \"mlp\", "
             "\"hidden\": [8]}, \"dataset\": {\"name\": \"fashion-mnist\"}}, \"parameters\": "
             "{\"train.seed\": {\"values\": [1, 2, 3]}}}");
    j = srvt_json(&srv, "POST", "/api/v1/sweeps/validate", body, 200);
    cr_expect(json_is_true(srvt_at(j, "valid")));
    cr_expect_eq(srvt_int(j, "runs"), 3);
    cr_expect_eq(json_array_size(srvt_at(j, "warnings")), 1, "one warning for three runs");
    cr_expect_eq(json_array_size(
                     json_object_get(json_object_get(srvt_at(j, "axes"), "train.seed"), "values")),
                 3);
    json_decref(j);

    srvt_do(&r, &srv,
            &(struct srvt_req){
                .method = "POST", .path = "/api/v1/sweeps/validate", .body = "[1]", .token = READ});
    srvt_expect_error(&r, 400, "invalid_request", NULL);
    srvt_resp_free(&r);
    srvt_do(&r, &srv,
            &(struct srvt_req){.method = "POST",
                               .path = "/api/v1/workers/register",
                               .body = "{\"name\": \"w2\", \"devices\": [{\"id\": \"c\", \"kind\": "
                                       "\"cpu\"}], \"datasets\": [\"a b\"]}",
                               .token = ADMIN});
    srvt_expect_error(&r, 400, "invalid_request", "/datasets");
    srvt_resp_free(&r);
}
