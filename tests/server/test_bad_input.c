/* Integration tests of bad input against the real qlab-server: every case
 * answers the one JSON error shape with the right status, code and field
 * pointer, and nothing of a refused request is written. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "srvt.h"

static char dir[SRVT_PATH];
static struct srvt_server srv;

static void up(void)
{
    srvt_dir_make(dir, sizeof dir);
    srvt_start(&srv, dir, (const char *[]){"--max-body", "4096", "--max-sweep-runs", "20", NULL});
}

static void down(void)
{
    srvt_stop(&srv, SIGKILL);
    srvt_dir_remove(dir);
}

TestSuite(bad_input, .init = up, .fini = down);

static void expect(const char *method, const char *path, const char *body, long status,
                   const char *code, const char *field)
{
    struct srvt_resp r;
    srvt_do(&r, &srv, &(struct srvt_req){.method = method, .path = path, .body = body});
    srvt_expect_error(&r, status, code, field);
    srvt_resp_free(&r);
}

static int64_t count(const char *path, const char *key)
{
    json_t *j = srvt_json(&srv, "GET", path, NULL, 200);
    int64_t n = (int64_t)json_array_size(json_object_get(j, key));
    json_decref(j);
    return n;
}

Test(bad_input, malformed_json_is_bad_json_with_line_and_column)
{
    struct srvt_resp r;
    srvt_do(&r, &srv,
            &(struct srvt_req){.method = "POST",
                               .path = "/api/v1/experiments",
                               .body = "{\"name\": \"x\",\n \"model\": }"});
    srvt_expect_error(&r, 400, "bad_json", "");
    const char *msg = srvt_str(r.json, "error.message");
    cr_expect(strstr(msg, "line 2"), "the message has the line: %s", msg);
    srvt_resp_free(&r);
    expect("POST", "/api/v1/experiments", "", 400, "bad_json", "");
    expect("POST", "/api/v1/sweeps", "[1, 2", 400, "bad_json", "");
    expect("POST", "/api/v1/experiments", "{\"name\": \"a\", \"name\": \"b\"}", 400, "bad_json",
           "");
    expect("POST", "/api/v1/experiments", "[]", 400, "invalid_request", "");
    cr_expect_eq(count("/api/v1/runs", "runs"), 0);
}

Test(bad_input, spec_errors_point_at_the_field)
{
    /* Wrong types, unknown keys, bad format strings, out-of-range values. */
    expect(
        "POST", "/api/v1/experiments",
        "{\"name\": 5, \"model\": {\"arch\": \"lenet5\"}, \"dataset\": {\"name\": \"synthetic\"}}",
        400, "invalid_spec", "/name");
    expect("POST", "/api/v1/experiments",
           "{\"name\": \"x\", \"model\": {\"arch\": \"lenet5\"}, \"dataset\": {\"name\": "
           "\"synthetic\"}, \"train\": {\"epochs\": \"ten\"}}",
           400, "invalid_spec", "/train/epochs");
    expect("POST", "/api/v1/experiments",
           "{\"name\": \"x\", \"model\": {\"arch\": \"lenet5\"}, \"dataset\": {\"name\": "
           "\"synthetic\"}, \"colour\": \"blue\"}",
           400, "invalid_spec", "/colour");
    expect("POST", "/api/v1/experiments",
           "{\"name\": \"x\", \"model\": {\"arch\": \"lenet5\", \"depth\": 20}, \"dataset\": "
           "{\"name\": \"synthetic\"}}",
           400, "invalid_spec", "/model/depth");
    expect("POST", "/api/v1/experiments",
           "{\"name\": \"x\", \"model\": {\"arch\": \"lenet5\"}, \"dataset\": {\"name\": "
           "\"synthetic\"}, \"arith\": {\"forward\": {\"mac\": {\"acc\": \"e6m55\"}}}}",
           400, "invalid_spec", "/arith/forward/mac/acc");
    expect("POST", "/api/v1/experiments",
           "{\"name\": \"x\", \"model\": {\"arch\": \"lenet5\"}, \"dataset\": {\"name\": "
           "\"synthetic\"}, \"arith\": {\"forward\": {\"weights\": \"q8.99x\"}}}",
           400, "invalid_spec", "/arith/forward/weights");
    expect("POST", "/api/v1/experiments", "{\"model\": {\"arch\": \"lenet5\"}}", 400,
           "invalid_spec", NULL);
    cr_expect_eq(count("/api/v1/runs", "runs"), 0, "nothing was written");
}

Test(bad_input, sweep_errors_point_into_the_sweep_and_write_nothing)
{
    char body[1024];
    /* A bad swept value: its index. */
    snprintf(body, sizeof body,
             "{\"name\": \"s\", \"base\": %s, \"parameters\": {\"arith.forward.mac.acc\": "
             "{\"values\": [\"e6m5\", \"e5m10\", \"nope\"]}}}",
             srvt_spec("b"));
    expect("POST", "/api/v1/sweeps", body, 400, "invalid_sweep",
           "/parameters/arith.forward.mac.acc/values/2");
    /* A bad base: under /base. */
    snprintf(body, sizeof body,
             "{\"name\": \"s\", \"base\": {\"name\": \"b\", \"model\": {\"arch\": \"lenet5\"}, "
             "\"dataset\": {\"name\": \"synthetic\", \"colour\": 1}}, \"parameters\": "
             "{\"train.seed\": {\"values\": [1, 2]}}}");
    expect("POST", "/api/v1/sweeps", body, 400, "invalid_sweep", "/base/dataset/colour");
    /* Unknown keys of the sweep itself. */
    snprintf(body, sizeof body,
             "{\"name\": \"s\", \"base\": %s, \"parameters\": {}, \"grid\": true}", srvt_spec("b"));
    expect("POST", "/api/v1/sweeps", body, 400, "invalid_sweep", "/grid");
    /* Above the cap (--max-sweep-runs 20 here): 3 x 7 = 21. */
    snprintf(body, sizeof body,
             "{\"name\": \"s\", \"base\": %s, \"parameters\": {\"train.seed\": {\"values\": "
             "[1, 2, 3, 4, 5, 6, 7]}, \"train.epochs\": {\"values\": [1, 2, 3]}}}",
             srvt_spec("b"));
    expect("POST", "/api/v1/sweeps", body, 400, "sweep_too_large", "/parameters");
    cr_expect_eq(count("/api/v1/runs", "runs"), 0);
    cr_expect_eq(count("/api/v1/sweeps", "sweeps"), 0);
    /* At the cap is fine: 4 x 5 = 20. */
    snprintf(body, sizeof body,
             "{\"name\": \"s\", \"base\": %s, \"parameters\": {\"train.seed\": {\"values\": "
             "[1, 2, 3, 4, 5]}, \"train.epochs\": {\"values\": [1, 2, 3, 4]}}}",
             srvt_spec("b"));
    json_decref(srvt_json(&srv, "POST", "/api/v1/sweeps", body, 201));
    cr_expect_eq(count("/api/v1/runs?limit=1000", "runs"), 20);
}

Test(bad_input, oversized_body_is_413)
{
    size_t n = 8192;
    char *big = malloc(n + 1);
    memset(big, ' ', n);
    memcpy(big, "{\"name\": \"", 10);
    big[n - 2] = '"';
    big[n - 1] = '}';
    big[n] = '\0';
    expect("POST", "/api/v1/experiments", big, 413, "too_large", NULL);
    free(big);
    cr_expect_eq(count("/api/v1/runs", "runs"), 0);
    /* The server is fine afterwards. */
    srvt_submit(&srv, "after");
}

Test(bad_input, unknown_route_wrong_method_and_bad_id)
{
    expect("GET", "/api/v1/nothing-here", NULL, 404, "not_found", NULL);
    expect("GET", "/api/v2/runs", NULL, 404, "not_found", NULL);
    expect("GET", "/api/v1/runs/1/nonsense", NULL, 404, "not_found", NULL);
    expect("GET", "/api/v1/runs/123", NULL, 404, "not_found", NULL);
    expect("POST", "/api/v1/sweeps/77/cancel", NULL, 404, "not_found", NULL);

    struct srvt_resp r;
    srvt_do(&r, &srv, &(struct srvt_req){.method = "PUT", .path = "/api/v1/runs/1"});
    srvt_expect_error(&r, 405, "method_not_allowed", NULL);
    cr_expect_str_eq(srvt_header(&r, "Allow"), "GET, PATCH, DELETE");
    srvt_resp_free(&r);
    srvt_do(&r, &srv, &(struct srvt_req){.method = "PUT", .path = "/api/v1/runs/1/metrics"});
    srvt_expect_error(&r, 405, "method_not_allowed", NULL);
    const char *allow = srvt_header(&r, "Allow");
    cr_expect(strstr(allow, "GET") && strstr(allow, "POST"), "Allow: %s", allow);
    srvt_resp_free(&r);
    srvt_do(&r, &srv, &(struct srvt_req){.method = "GET", .path = "/api/v1/experiments"});
    srvt_expect_error(&r, 405, "method_not_allowed", NULL);
    cr_expect_str_eq(srvt_header(&r, "Allow"), "POST");
    srvt_resp_free(&r);

    expect("GET", "/api/v1/runs/abc", NULL, 400, "bad_param", NULL);
    expect("GET", "/api/v1/runs/0", NULL, 400, "bad_param", NULL);
    expect("GET", "/api/v1/runs/-3", NULL, 400, "bad_param", NULL);
    expect("POST", "/api/v1/runs/99999999999999999999999/cancel", NULL, 400, "bad_param", NULL);
    expect("GET", "/api/v1/sweeps/1x", NULL, 400, "bad_param", NULL);
}

Test(bad_input, json_routes_want_json_content_type)
{
    struct srvt_resp r;
    srvt_do(&r, &srv,
            &(struct srvt_req){.method = "POST",
                               .path = "/api/v1/experiments",
                               .body = srvt_spec("typed"),
                               .content_type = "text/plain"});
    srvt_expect_error(&r, 415, "unsupported_media_type", "Content-Type");
    srvt_resp_free(&r);
    srvt_do(&r, &srv,
            &(struct srvt_req){.method = "POST",
                               .path = "/api/v1/experiments",
                               .body = srvt_spec("typed"),
                               .content_type = "application/json; charset=utf-8"});
    cr_expect_eq(r.status, 201, "%s", r.body);
    srvt_resp_free(&r);
    cr_expect_eq(count("/api/v1/runs", "runs"), 1);
}

Test(bad_input, query_parameters_are_checked)
{
    expect("GET", "/api/v1/runs?limit=0", NULL, 400, "bad_param", "?limit");
    expect("GET", "/api/v1/runs?limit=1001", NULL, 400, "bad_param", "?limit");
    expect("GET", "/api/v1/runs?limit=ten", NULL, 400, "bad_param", "?limit");
    expect("GET", "/api/v1/runs?cursor=-1", NULL, 400, "bad_param", "?cursor");
    expect("GET", "/api/v1/runs?state=sleeping", NULL, 400, "bad_param", "?state");
    expect("GET", "/api/v1/runs?sweep=first", NULL, 400, "bad_param", "?sweep");
    expect("GET", "/api/v1/runs?metric.val_acc.approx=1", NULL, 400, "bad_param", "?metric");
    expect("GET", "/api/v1/runs?metric.val_acc.gte=high", NULL, 400, "bad_param", "?metric");
    expect("GET", "/api/v1/runs?train..seed=1", NULL, 400, "bad_param", "?train..seed");
    expect("POST", "/api/v1/experiments?priority=urgent", srvt_spec("p"), 400, "bad_param",
           "?priority");
    expect("GET", "/api/v1/runs/1/metrics?max_points=-5", NULL, 400, "bad_param", "?max_points");
    /* Many filters are refused, not overrun. */
    char path[2048];
    size_t n = (size_t)snprintf(path, sizeof path, "/api/v1/runs?");
    for (int i = 0; i < 100; i++)
        n += (size_t)snprintf(path + n, sizeof path - n, "%ssweep=%d", i ? "&" : "", i + 1);
    expect("GET", path, NULL, 400, "bad_param", "?sweep");
    cr_expect_eq(count("/api/v1/runs", "runs"), 0);
}

Test(bad_input, worker_and_run_side_bodies_are_checked)
{
    expect("POST", "/api/v1/workers/register", "{\"name\": \"w\"}", 400, "invalid_request",
           "/devices");
    expect("POST", "/api/v1/workers/register",
           "{\"name\": \"w\", \"devices\": [{\"id\": \"cpu0\", \"kind\": \"tpu\"}]}", 400,
           "invalid_request", "/devices/0");
    expect("POST", "/api/v1/workers/register",
           "{\"name\": \"w\", \"devices\": [{\"id\": \"cpu0\", \"kind\": \"cpu\"}], \"extra\": 1}",
           400, "invalid_request", "/extra");
    json_t *workers = srvt_json(&srv, "GET", "/api/v1/workers", NULL, 200);
    cr_expect_eq(json_array_size(json_object_get(workers, "workers")), 0);
    json_decref(workers);

    struct srvt_worker w;
    struct srvt_lease l;
    srvt_submit(&srv, "r");
    srvt_register(&w, &srv, "w", 1);
    char path[96];
    snprintf(path, sizeof path, "/api/v1/workers/%lld/lease", (long long)w.id);
    expect("POST", path, "{\"devices\": [\"gpu7\"]}", 400, "invalid_request", "/devices/0");
    expect("POST", path, "{\"devices\": [\"cpu0\"], \"wait\": \"long\"}", 400, "invalid_request",
           "/wait");
    srvt_lease(&l, &srv, &w);

    /* A batch with one bad point is refused whole. */
    snprintf(path, sizeof path, "/api/v1/runs/%lld/metrics", (long long)l.run);
    char lh[128];
    snprintf(lh, sizeof lh, "X-Qlab-Lease: %s", l.lease);
    struct srvt_resp r;
    srvt_do(&r, &srv,
            &(struct srvt_req){.method = "POST",
                               .path = path,
                               .body = "{\"points\": [{\"step\": 1, \"name\": \"a\", \"value\": 1},"
                                       "{\"step\": 2, \"name\": \"a\", \"value\": 2},"
                                       "{\"step\": 3, \"name\": \"a b\", \"value\": 3}]}",
                               .headers = {lh}});
    srvt_expect_error(&r, 400, "invalid_request", "/points/2");
    srvt_resp_free(&r);
    srvt_do(
        &r, &srv,
        &(struct srvt_req){.method = "POST",
                           .path = path,
                           .body = "{\"points\": [{\"step\": -1, \"name\": \"a\", \"value\": 1}]}",
                           .headers = {lh}});
    srvt_expect_error(&r, 400, "invalid_request", "/points/0");
    srvt_resp_free(&r);
    srvt_do(&r, &srv,
            &(struct srvt_req){.method = "POST",
                               .path = path,
                               .body = "{\"points\": [{\"step\": 1, \"name\": \"a\", "
                                       "\"value\": 1}]}"});
    srvt_expect_error(&r, 400, "invalid_request", "X-Qlab-Lease");
    srvt_resp_free(&r);
    json_t *j = srvt_json(&srv, "GET", path, NULL, 200);
    cr_expect_eq(json_object_size(json_object_get(j, "series")), 0, "no point was stored");
    cr_expect(json_is_null(json_object_get(j, "last_step")));
    json_decref(j);

    snprintf(path, sizeof path, "/api/v1/runs/%lld/complete", (long long)l.run);
    srvt_do(
        &r, &srv,
        &(struct srvt_req){
            .method = "POST", .path = path, .body = "{\"state\": \"exploded\"}", .headers = {lh}});
    srvt_expect_error(&r, 400, "invalid_request", "/state");
    srvt_resp_free(&r);
    snprintf(path, sizeof path, "/api/v1/runs/%lld", (long long)l.run);
    j = srvt_json(&srv, "GET", path, NULL, 200);
    cr_expect_str_eq(srvt_str(j, "run.state"), "leased");
    json_decref(j);
}
