/* Integration tests of the researcher's side of the API against the real
 * qlab-server: experiments, sweeps, the run list with its filters and
 * cursor paging, cancel and retry, the format catalogue, health and
 * Prometheus metrics. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

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

TestSuite(api, .init = up, .fini = down);

/* The 2 x 3 grid the tests share: acc outer, seed inner (the last parameter
 * varies fastest). */
static const char *const accs[] = {"e6m5", "e5m10"};
static const int seeds[] = {1, 2, 3};

static int64_t submit_grid(const char *name)
{
    char body[1024];
    snprintf(body, sizeof body,
             "{\"name\": \"%s\", \"base\": %s, \"parameters\": {"
             "\"arith.forward.mac.acc\": {\"values\": [\"%s\", \"%s\"]}, "
             "\"train.seed\": {\"values\": [%d, %d, %d]}}}",
             name, srvt_spec("base"), accs[0], accs[1], seeds[0], seeds[1], seeds[2]);
    json_t *j = srvt_json(&srv, "POST", "/api/v1/sweeps", body, 201);
    cr_expect_eq(srvt_int(j, "sweep.runs"), 6);
    cr_expect_eq(srvt_int(j, "sweep.counts.queued"), 6);
    cr_expect_str_eq(srvt_str(j, "sweep.method"), "grid");
    int64_t id = srvt_int(j, "sweep.id");
    json_decref(j);
    return id;
}

/* The ids of GET path's runs, in order; returns how many. */
static int list_ids(const char *path, int64_t *ids, int max)
{
    json_t *j = srvt_json(&srv, "GET", path, NULL, 200);
    const json_t *runs = json_object_get(j, "runs");
    cr_assert(json_is_array(runs), "%s", path);
    int n = (int)json_array_size(runs);
    cr_assert_leq(n, max);
    for (int i = 0; i < n; i++)
        ids[i] = json_integer_value(json_object_get(json_array_get(runs, (size_t)i), "id"));
    json_decref(j);
    return n;
}

Test(api, experiment_is_queued_with_its_canonical_spec)
{
    json_t *j = srvt_json(&srv, "POST", "/api/v1/experiments?priority=5&max_attempts=2",
                          srvt_spec("exp-one"), 201);
    int64_t id = srvt_int(j, "run.id");
    cr_expect_str_eq(srvt_str(j, "run.state"), "queued");
    cr_expect_str_eq(srvt_str(j, "run.name"), "exp-one");
    cr_expect_eq(srvt_int(j, "run.priority"), 5);
    cr_expect_eq(srvt_int(j, "run.max_attempts"), 2);
    cr_expect_eq(srvt_int(j, "run.attempt"), 0);
    cr_expect(json_is_null(srvt_at(j, "run.sweep")));
    cr_expect(json_is_null(srvt_at(j, "run.worker")));
    /* The hardware cost of its MACs (tests/server/test_cost.c has the rest). */
    cr_expect(json_is_string(srvt_at(j, "run.cost.status")));
    cr_expect(json_is_object(srvt_at(j, "run.summary")));
    /* The stored spec is the expanded one: defaults written out. */
    cr_expect_str_eq(srvt_str(j, "run.spec.dataset.name"), "synthetic");
    cr_expect_eq(srvt_int(j, "run.spec.train.epochs"), 1);
    cr_expect(json_is_integer(srvt_at(j, "run.spec.train.batch_size")));
    cr_expect(json_is_string(srvt_at(j, "run.spec.arith.forward.mac.acc")));
    json_decref(j);

    char path[64];
    snprintf(path, sizeof path, "/api/v1/runs/%lld", (long long)id);
    j = srvt_json(&srv, "GET", path, NULL, 200);
    cr_expect_eq(srvt_int(j, "run.id"), id);
    cr_expect(json_is_array(srvt_at(j, "run.leases")));
    cr_expect_eq(json_array_size(srvt_at(j, "run.leases")), 0);
    cr_expect_str_eq(srvt_str(j, "run.spec.model.arch"), "lenet5");
    json_decref(j);
    /* Defaults of the query parameters. */
    j = srvt_json(&srv, "POST", "/api/v1/experiments", srvt_spec("exp-two"), 201);
    cr_expect_eq(srvt_int(j, "run.priority"), 0);
    cr_expect_eq(srvt_int(j, "run.max_attempts"), 3);
    json_decref(j);
    srvt_stop_clean(&srv);
}

Test(api, grid_sweep_expands_in_order_with_each_value_written)
{
    int64_t sweep = submit_grid("grid");
    char path[128];
    snprintf(path, sizeof path, "/api/v1/runs?sweep=%lld&spec=1", (long long)sweep);
    json_t *j = srvt_json(&srv, "GET", path, NULL, 200);
    const json_t *runs = json_object_get(j, "runs");
    cr_assert_eq(json_array_size(runs), 6);
    int k = 0;
    for (int a = 0; a < 2; a++)
        for (int s = 0; s < 3; s++, k++) {
            const json_t *r = json_array_get(runs, (size_t)k);
            char want[96];
            snprintf(want, sizeof want, "grid acc=%s seed=%d", accs[a], seeds[s]);
            cr_expect_str_eq(srvt_str(r, "name"), want, "run %d", k);
            cr_expect_str_eq(srvt_str(r, "spec.arith.forward.mac.acc"), accs[a]);
            cr_expect_eq(srvt_int(r, "spec.train.seed"), seeds[s]);
            cr_expect_eq(srvt_int(r, "sweep"), sweep);
            cr_expect_str_eq(srvt_str(r, "state"), "queued");
        }
    json_decref(j);

    /* The sweep keeps the submitted document. */
    snprintf(path, sizeof path, "/api/v1/sweeps/%lld", (long long)sweep);
    j = srvt_json(&srv, "GET", path, NULL, 200);
    cr_expect_str_eq(srvt_str(j, "sweep.name"), "grid");
    cr_expect_eq(srvt_int(j, "sweep.runs"), 6);
    const json_t *params = srvt_at(j, "sweep.sweep.parameters");
    cr_expect_eq(json_array_size(json_object_get(json_object_get(params, "train.seed"), "values")),
                 3);
    json_decref(j);
}

Test(api, run_list_filters_by_sweep_state_and_spec_field)
{
    int64_t sweep = submit_grid("filters");
    int64_t lone = srvt_submit(&srv, "lone");
    int64_t ids[16];
    char path[256];

    snprintf(path, sizeof path, "/api/v1/runs?sweep=%lld", (long long)sweep);
    cr_expect_eq(list_ids(path, ids, 16), 6);
    cr_expect_eq(list_ids("/api/v1/runs?state=queued", ids, 16), 7);
    cr_expect_eq(list_ids("/api/v1/runs?state=canceled", ids, 16), 0);

    char cancel[64];
    snprintf(cancel, sizeof cancel, "/api/v1/runs/%lld/cancel", (long long)lone);
    json_decref(srvt_json(&srv, "POST", cancel, NULL, 200));
    cr_expect_eq(list_ids("/api/v1/runs?state=canceled", ids, 16), 1);
    cr_expect_eq(ids[0], lone);
    cr_expect_eq(list_ids("/api/v1/runs?state=queued", ids, 16), 6);
    cr_expect_eq(list_ids("/api/v1/runs?state=queued,canceled", ids, 16), 7);
    cr_expect_eq(list_ids("/api/v1/runs?state=queued&state=canceled", ids, 16), 7,
                 "state is repeatable: the states are alternatives");
    cr_expect_eq(list_ids("/api/v1/runs?state=running,succeeded", ids, 16), 0);

    /* Spec fields by dotted path, compared as the JSON value. */
    int n = list_ids("/api/v1/runs?arith.forward.mac.acc=e6m5", ids, 16);
    cr_expect_eq(n, 3);
    n = list_ids("/api/v1/runs?train.seed=2", ids, 16);
    cr_expect_eq(n, 2);
    snprintf(path, sizeof path, "/api/v1/runs?sweep=%lld&train.seed=3&arith.forward.mac.acc=e5m10",
             (long long)sweep);
    n = list_ids(path, ids, 16);
    cr_assert_eq(n, 1);
    snprintf(path, sizeof path, "/api/v1/runs/%lld", (long long)ids[0]);
    json_t *j = srvt_json(&srv, "GET", path, NULL, 200);
    cr_expect_str_eq(srvt_str(j, "run.name"), "filters acc=e5m10 seed=3");
    json_decref(j);
    cr_expect_eq(list_ids("/api/v1/runs?model.arch=lenet5", ids, 16), 7);
    cr_expect_eq(list_ids("/api/v1/runs?model.arch=mlp", ids, 16), 0);
    cr_expect_eq(list_ids("/api/v1/runs?dataset.augment=false", ids, 16), 7);
    /* Lists leave the spec out unless asked. */
    j = srvt_json(&srv, "GET", "/api/v1/runs?limit=1", NULL, 200);
    cr_expect_null(srvt_at(j, "runs.0.spec"));
    json_decref(j);
}

Test(api, run_list_filters_by_metric_threshold)
{
    submit_grid("metrics");
    struct srvt_worker w;
    struct srvt_lease hi, lo;
    char path[128];
    int64_t ids[16];
    srvt_register(&w, &srv, "w", 1);
    srvt_lease(&hi, &srv, &w);
    srvt_lease(&lo, &srv, &w);
    snprintf(path, sizeof path, "/api/v1/runs/%lld/metrics", (long long)hi.run);
    json_decref(
        srvt_json_lease(&srv, "POST", path, hi.lease,
                        "{\"points\": [{\"step\": 1, \"name\": \"val_acc\", \"value\": 0.5},"
                        "{\"step\": 2, \"name\": \"val_acc\", \"value\": 0.9}]}",
                        200));
    snprintf(path, sizeof path, "/api/v1/runs/%lld/metrics", (long long)lo.run);
    json_decref(
        srvt_json_lease(&srv, "POST", path, lo.lease,
                        "{\"points\": [{\"step\": 1, \"name\": \"val_acc\", \"value\": 0.95},"
                        "{\"step\": 2, \"name\": \"val_acc\", \"value\": 0.4}]}",
                        200));
    /* The summary holds the last value, and the thresholds compare it. */
    cr_assert_eq(list_ids("/api/v1/runs?metric.val_acc.gte=0.8", ids, 16), 1);
    cr_expect_eq(ids[0], hi.run);
    cr_assert_eq(list_ids("/api/v1/runs?metric.val_acc.lt=0.8", ids, 16), 1);
    cr_expect_eq(ids[0], lo.run);
    cr_expect_eq(list_ids("/api/v1/runs?metric.val_acc.gt=0.9", ids, 16), 0);
    cr_expect_eq(list_ids("/api/v1/runs?metric.val_acc.lte=0.9", ids, 16), 2);
    cr_expect_eq(list_ids("/api/v1/runs?metric.val_acc.gte=0&state=leased", ids, 16), 2);
    cr_expect_eq(list_ids("/api/v1/runs?metric.train_loss.lt=100", ids, 16), 0,
                 "runs without the metric never match");
}

Test(api, cursor_paging_visits_every_run_once_in_id_order)
{
    int64_t sweep = submit_grid("pages");
    srvt_submit(&srv, "extra");
    int64_t all[16], got[16];
    int nall = list_ids("/api/v1/runs?limit=1000", all, 16), ngot = 0;
    cr_assert_eq(nall, 7);
    for (int i = 1; i < nall; i++)
        cr_expect_gt(all[i], all[i - 1], "ordered by id");

    char path[160], cursor[64] = "";
    int pages = 0;
    for (;;) {
        snprintf(path, sizeof path, "/api/v1/runs?limit=3%s%s", cursor[0] ? "&cursor=" : "",
                 cursor);
        json_t *j = srvt_json(&srv, "GET", path, NULL, 200);
        const json_t *runs = json_object_get(j, "runs");
        pages++;
        cr_assert_leq(json_array_size(runs), 3);
        for (size_t i = 0; i < json_array_size(runs); i++) {
            cr_assert_lt(ngot, 16);
            got[ngot++] = json_integer_value(json_object_get(json_array_get(runs, i), "id"));
        }
        const json_t *next = json_object_get(j, "next_cursor");
        cr_assert(next != NULL, "next_cursor is always present");
        if (json_is_null(next)) {
            json_decref(j);
            break;
        }
        cr_assert(json_is_string(next));
        cr_assert_eq(json_array_size(runs), 3, "a page with a next cursor is full");
        snprintf(cursor, sizeof cursor, "%s", json_string_value(next));
        json_decref(j);
        cr_assert_lt(pages, 10);
    }
    cr_expect_eq(pages, 3);
    cr_assert_eq(ngot, nall);
    for (int i = 0; i < nall; i++)
        cr_expect_eq(got[i], all[i], "page order at %d", i);

    /* Paging composes with a filter. */
    snprintf(path, sizeof path, "/api/v1/runs?sweep=%lld&limit=4", (long long)sweep);
    json_t *j = srvt_json(&srv, "GET", path, NULL, 200);
    cr_expect_eq(json_array_size(json_object_get(j, "runs")), 4);
    cr_assert(json_is_string(json_object_get(j, "next_cursor")));
    snprintf(path, sizeof path, "/api/v1/runs?sweep=%lld&limit=4&cursor=%s", (long long)sweep,
             json_string_value(json_object_get(j, "next_cursor")));
    json_decref(j);
    j = srvt_json(&srv, "GET", path, NULL, 200);
    cr_expect_eq(json_array_size(json_object_get(j, "runs")), 2);
    cr_expect(json_is_null(json_object_get(j, "next_cursor")));
    json_decref(j);
}

Test(api, sweeps_list_newest_first_with_paging)
{
    int64_t s1 = submit_grid("one"), s2 = submit_grid("two"), s3 = submit_grid("three");
    json_t *j = srvt_json(&srv, "GET", "/api/v1/sweeps?limit=2", NULL, 200);
    cr_assert_eq(json_array_size(json_object_get(j, "sweeps")), 2);
    cr_expect_eq(srvt_int(j, "sweeps.0.id"), s3);
    cr_expect_eq(srvt_int(j, "sweeps.1.id"), s2);
    cr_expect_eq(srvt_int(j, "sweeps.0.counts.queued"), 6);
    char path[96];
    snprintf(path, sizeof path, "/api/v1/sweeps?limit=2&cursor=%s", srvt_str(j, "next_cursor"));
    json_decref(j);
    j = srvt_json(&srv, "GET", path, NULL, 200);
    cr_assert_eq(json_array_size(json_object_get(j, "sweeps")), 1);
    cr_expect_eq(srvt_int(j, "sweeps.0.id"), s1);
    cr_expect(json_is_null(json_object_get(j, "next_cursor")));
    json_decref(j);
}

Test(api, cancel_of_a_queued_run_is_immediate_and_retry_requeues_it)
{
    int64_t id = srvt_submit(&srv, "to-cancel");
    char path[64];
    snprintf(path, sizeof path, "/api/v1/runs/%lld/cancel", (long long)id);
    json_t *j = srvt_json(&srv, "POST", path, NULL, 200);
    cr_expect_str_eq(srvt_str(j, "run.state"), "canceled");
    cr_expect(json_is_number(srvt_at(j, "run.finished")));
    json_decref(j);
    struct srvt_resp r;
    srvt_do(&r, &srv, &(struct srvt_req){.method = "POST", .path = path});
    srvt_expect_error(&r, 409, "conflict", NULL);
    srvt_resp_free(&r);

    snprintf(path, sizeof path, "/api/v1/runs/%lld/retry", (long long)id);
    j = srvt_json(&srv, "POST", path, NULL, 200);
    cr_expect_str_eq(srvt_str(j, "run.state"), "queued");
    cr_expect_eq(srvt_int(j, "run.attempt"), 0);
    cr_expect(json_is_null(srvt_at(j, "run.finished")));
    cr_expect(json_is_null(srvt_at(j, "run.error")));
    json_decref(j);
    srvt_do(&r, &srv, &(struct srvt_req){.method = "POST", .path = path});
    srvt_expect_error(&r, 409, "conflict", NULL);
    srvt_resp_free(&r);

    /* A queued run is leasable again. */
    struct srvt_worker w;
    struct srvt_lease l;
    srvt_register(&w, &srv, "w", 1);
    srvt_lease(&l, &srv, &w);
    cr_expect_eq(l.run, id);
}

Test(api, sweep_cancel_cancels_every_unfinished_run)
{
    int64_t sweep = submit_grid("doomed");
    struct srvt_worker w;
    struct srvt_lease l;
    srvt_register(&w, &srv, "w", 1);
    srvt_lease(&l, &srv, &w);
    char path[64];
    snprintf(path, sizeof path, "/api/v1/sweeps/%lld/cancel", (long long)sweep);
    json_t *j = srvt_json(&srv, "POST", path, NULL, 200);
    cr_expect_eq(srvt_int(j, "canceled"), 6);
    cr_expect_eq(srvt_int(j, "sweep.counts.canceled"), 5);
    cr_expect_eq(srvt_int(j, "sweep.counts.leased"), 1, "the leased run is asked to stop");
    json_decref(j);
    snprintf(path, sizeof path, "/api/v1/runs/%lld", (long long)l.run);
    j = srvt_json(&srv, "GET", path, NULL, 200);
    cr_expect(json_is_true(srvt_at(j, "run.cancel_requested")));
    json_decref(j);
}

Test(api, format_catalogue_and_validation)
{
    json_t *j = srvt_json(&srv, "GET", "/api/v1/formats", NULL, 200);
    const json_t *list = json_object_get(j, "formats");
    bool fp16 = false, e4m3 = false;
    for (size_t i = 0; i < json_array_size(list); i++) {
        const char *name = json_string_value(json_object_get(json_array_get(list, i), "name"));
        fp16 = fp16 || (name && strcmp(name, "fp16") == 0);
        e4m3 = e4m3 || (name && strcmp(name, "fp8_e4m3") == 0);
    }
    cr_expect(fp16 && e4m3, "the catalogue lists the named formats");
    json_decref(j);

    j = srvt_json(&srv, "POST", "/api/v1/formats/validate", "{\"format\": \"e5m2:sat\"}", 200);
    cr_expect(json_is_true(json_object_get(j, "valid")));
    cr_expect_eq(srvt_int(j, "bits"), 8);
    cr_expect(json_is_string(json_object_get(j, "canonical")));
    json_decref(j);
    struct srvt_resp r;
    srvt_do(&r, &srv,
            &(struct srvt_req){.method = "POST",
                               .path = "/api/v1/formats/validate",
                               .body = "{\"format\": \"e6m55\"}"});
    srvt_expect_error(&r, 400, "invalid_format", "/format");
    srvt_resp_free(&r);
}

Test(api, health_and_prometheus_metrics)
{
    json_t *j = srvt_json(&srv, "GET", "/healthz", NULL, 200);
    cr_expect(json_is_true(json_object_get(j, "ok")));
    json_decref(j);
    srvt_submit(&srv, "a");
    srvt_submit(&srv, "b");
    struct srvt_resp r;
    srvt_do(&r, &srv, &(struct srvt_req){.method = "GET", .path = "/metrics"});
    cr_assert_eq(r.status, 200);
    cr_expect(strstr(srvt_header(&r, "Content-Type"), "text/plain"), "%s",
              srvt_header(&r, "Content-Type"));
    cr_expect(strstr(r.body, "qlab_runs{state=\"queued\"} 2\n"), "%s", r.body);
    cr_expect(strstr(r.body, "qlab_queue_depth 2\n"), "%s", r.body);
    cr_expect(strstr(r.body, "qlab_http_request_duration_seconds_bucket{le=\"+Inf\"}"));
    cr_expect(strstr(r.body, "qlab_metric_points_total 0\n"));
    srvt_resp_free(&r);
}
