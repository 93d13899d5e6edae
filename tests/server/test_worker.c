/* Integration tests of the worker's side of the API against the real
 * qlab-server: registration, the lease long-poll, start, metric batches
 * (idempotent replays, since cursors, min/max-keeping downsampling),
 * heartbeats and their actions, stale leases, lost workers, checkpoints
 * with their CRC check, completion. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

#include "srvt.h"

static char dir[SRVT_PATH];
static struct srvt_server srv;

static void mkdir_only(void)
{
    srvt_dir_make(dir, sizeof dir);
}

static void up(void)
{
    mkdir_only();
    srvt_start(&srv, dir, NULL);
}

static void down(void)
{
    srvt_stop(&srv, SIGKILL);
    srvt_dir_remove(dir);
}

static json_t *run_get(int64_t id)
{
    char path[64];
    snprintf(path, sizeof path, "/api/v1/runs/%lld", (long long)id);
    return srvt_json(&srv, "GET", path, NULL, 200);
}

static void expect_state(int64_t id, const char *state)
{
    json_t *j = run_get(id);
    cr_expect_str_eq(srvt_str(j, "run.state"), state, "run %lld", (long long)id);
    json_decref(j);
}

/* POST /runs/{id}/metrics with `n` points of `name` from step `first`,
 * value = f(step); returns the answer. */
static double value_of(int64_t step)
{
    return 1.0 / (double)(step + 1);
}

static json_t *post_points(const struct srvt_lease *l, const char *name, int64_t first, int n,
                           long want)
{
    size_t cap = 64 + (size_t)n * 96;
    char *body = malloc(cap), path[96];
    size_t len = (size_t)snprintf(body, cap, "{\"points\": [");
    for (int i = 0; i < n; i++)
        len += (size_t)snprintf(body + len, cap - len,
                                "%s{\"step\": %lld, \"name\": \"%s\", "
                                "\"value\": %.17g}",
                                i ? "," : "", (long long)(first + i), name, value_of(first + i));
    snprintf(body + len, cap - len, "]}");
    snprintf(path, sizeof path, "/api/v1/runs/%lld/metrics", (long long)l->run);
    json_t *j = srvt_json_lease(&srv, "POST", path, l->lease, body, want);
    free(body);
    return j;
}

static void expect_batch(json_t *j, int64_t accepted, int64_t dup, const char *action)
{
    cr_expect_eq(srvt_int(j, "accepted"), accepted);
    cr_expect_eq(srvt_int(j, "duplicates"), dup);
    cr_expect_str_eq(srvt_str(j, "action"), action);
    json_decref(j);
}

static json_t *heartbeat(const struct srvt_worker *w, const struct srvt_lease *l)
{
    char path[96], body[256];
    snprintf(path, sizeof path, "/api/v1/workers/%lld/heartbeat", (long long)w->id);
    snprintf(body, sizeof body, "{\"runs\": [{\"run\": %lld, \"lease\": \"%s\", \"step\": 1}]}",
             (long long)l->run, l->lease);
    return srvt_call(&srv, w->token, NULL, "POST", path, body, 200);
}

static const char *heartbeat_action(const struct srvt_worker *w, const struct srvt_lease *l)
{
    static char action[16];
    json_t *j = heartbeat(w, l);
    cr_assert_eq(json_array_size(json_object_get(j, "runs")), 1);
    cr_expect_eq(srvt_int(j, "runs.0.run"), l->run);
    snprintf(action, sizeof action, "%s", srvt_str(j, "runs.0.action"));
    json_decref(j);
    return action;
}

static void run_call(const struct srvt_lease *l, const char *what, const char *body, long want)
{
    char path[96];
    snprintf(path, sizeof path, "/api/v1/runs/%lld/%s", (long long)l->run, what);
    json_decref(srvt_json_lease(&srv, "POST", path, l->lease, body, want));
}

Test(worker, registered_worker_is_listed_with_its_devices, .init = up, .fini = down)
{
    struct srvt_worker w;
    srvt_register(&w, &srv, "gpu-box", 3);
    json_t *j = srvt_json(&srv, "GET", "/api/v1/workers", NULL, 200);
    cr_assert_eq(json_array_size(json_object_get(j, "workers")), 1);
    cr_expect_eq(srvt_int(j, "workers.0.id"), w.id);
    cr_expect_str_eq(srvt_str(j, "workers.0.name"), "gpu-box");
    cr_expect_eq(json_array_size(srvt_at(j, "workers.0.devices")), 3);
    cr_expect_str_eq(srvt_str(j, "workers.0.devices.2.id"), "cpu2");
    cr_expect(json_is_true(srvt_at(j, "workers.0.live")));
    cr_expect_eq(json_array_size(srvt_at(j, "workers.0.runs")), 0);
    cr_expect_null(srvt_at(j, "workers.0.token"), "the list never shows tokens");
    json_decref(j);
}

struct poll_arg {
    const struct srvt_server *srv;
    const struct srvt_worker *w;
    double wait;
    struct srvt_resp resp;
};

static void *long_poll(void *p)
{
    struct poll_arg *a = p;
    char path[96], body[96];
    snprintf(path, sizeof path, "/api/v1/workers/%lld/lease", (long long)a->w->id);
    snprintf(body, sizeof body, "{\"devices\": [\"cpu0\"], \"wait\": %g}", a->wait);
    srvt_do(&a->resp, a->srv,
            &(struct srvt_req){.method = "POST",
                               .path = path,
                               .token = a->w->token,
                               .body = body,
                               .timeout_ms = 30000});
    return NULL;
}

Test(worker, lease_long_poll_answers_as_soon_as_a_run_is_queued, .init = up, .fini = down)
{
    struct srvt_worker w;
    srvt_register(&w, &srv, "w", 1);
    struct poll_arg a = {.srv = &srv, .w = &w, .wait = 10};
    pthread_t t;
    double t0 = srvt_now();
    cr_assert_eq(pthread_create(&t, NULL, long_poll, &a), 0);
    srvt_sleep(0.4); /* the poll is parked by now */
    int64_t id = srvt_submit(&srv, "arrives-late");
    double submitted = srvt_now();
    pthread_join(t, NULL);
    double done = srvt_now();
    cr_assert_eq(a.resp.status, 200, "%s", a.resp.body);
    cr_expect_eq(srvt_int(a.resp.json, "run.id"), id);
    cr_expect_geq(done - t0, 0.35, "it waited for the run");
    cr_expect_lt(done - submitted, 1.0, "answered %.3f s after the submit (wait was 10 s)",
                 done - submitted);
    srvt_resp_free(&a.resp);
}

Test(worker, lease_long_poll_times_out_with_204, .init = up, .fini = down)
{
    struct srvt_worker w;
    srvt_register(&w, &srv, "w", 1);
    struct poll_arg a = {.srv = &srv, .w = &w, .wait = 0.5};
    double t0 = srvt_now();
    long_poll(&a);
    double dt = srvt_now() - t0;
    cr_expect_eq(a.resp.status, 204, "%s", a.resp.body);
    cr_expect_eq(a.resp.len, 0);
    cr_expect_geq(dt, 0.45);
    cr_expect_lt(dt, 5.0);
    srvt_resp_free(&a.resp);
}

Test(worker, lease_start_metrics_heartbeat_complete, .init = up, .fini = down)
{
    struct srvt_worker w;
    struct srvt_lease l;
    int64_t id = srvt_submit(&srv, "life");
    srvt_register(&w, &srv, "w", 1);

    char path[96];
    snprintf(path, sizeof path, "/api/v1/workers/%lld/lease", (long long)w.id);
    json_t *j = srvt_call(&srv, w.token, NULL, "POST", path, "{\"devices\": [\"cpu0\"]}", 200);
    cr_expect_eq(srvt_int(j, "run.id"), id);
    cr_expect_str_eq(srvt_str(j, "run.state"), "leased");
    cr_expect_eq(srvt_int(j, "run.attempt"), 1);
    cr_expect_eq(srvt_int(j, "run.worker"), w.id);
    cr_expect_str_eq(srvt_str(j, "device"), "cpu0");
    cr_expect(json_is_null(json_object_get(j, "checkpoint")));
    cr_expect(json_is_number(json_object_get(j, "deadline")));
    cr_expect_str_eq(srvt_str(j, "run.spec.dataset.name"), "synthetic", "the spec travels along");
    l.run = id;
    snprintf(l.lease, sizeof l.lease, "%s", srvt_str(j, "lease"));
    json_decref(j);
    /* Nothing else is queued. */
    json_decref(srvt_call(&srv, w.token, NULL, "POST", path, "{\"devices\": [\"cpu0\"]}", 204));

    run_call(&l, "start", NULL, 200);
    expect_state(id, "running");
    run_call(&l, "start", NULL, 200); /* a retried start changes nothing */
    expect_state(id, "running");

    /* Batches are idempotent on (run, step, name). */
    const double t0 = (double)time(NULL);
    expect_batch(post_points(&l, "train_loss", 0, 100, 200), 100, 0, "continue");
    expect_batch(post_points(&l, "train_loss", 0, 100, 200), 0, 100, "continue");
    expect_batch(post_points(&l, "train_loss", 50, 100, 200), 50, 50, "continue");
    expect_batch(post_points(&l, "val_acc", 0, 10, 200), 10, 0, "continue");
    expect_batch(post_points(&l, "layers_conv2_fwd_swamping_rate", 0, 10, 200), 10, 0, "continue");

    snprintf(path, sizeof path, "/api/v1/runs/%lld/metrics", (long long)id);
    j = srvt_json(&srv, "GET", path, NULL, 200);
    cr_expect_eq(srvt_int(j, "run"), id);
    cr_expect_eq(srvt_int(j, "last_step"), 149);
    cr_expect(json_is_false(json_object_get(j, "downsampled")));
    const json_t *steps = srvt_at(j, "series.train_loss.step");
    const json_t *vals = srvt_at(j, "series.train_loss.value");
    cr_assert_eq(json_array_size(steps), 150, "nothing doubled");
    cr_assert_eq(json_array_size(vals), 150);
    for (size_t i = 0; i < 150; i++) {
        cr_expect_eq(json_integer_value(json_array_get(steps, i)), (json_int_t)i);
        cr_expect_float_eq(json_number_value(json_array_get(vals, i)), value_of((int64_t)i), 0);
    }
    cr_expect_eq(json_array_size(srvt_at(j, "series.val_acc.step")), 10);
    /* Each point carries when it was stored: during this test, and the
     * later batch (steps 100..149) no earlier than the first. */
    const json_t *times = srvt_at(j, "series.train_loss.time");
    const double t1 = (double)time(NULL) + 1;
    cr_assert_eq(json_array_size(times), 150);
    for (size_t i = 0; i < 150; i++) {
        double t = json_number_value(json_array_get(times, i));
        cr_expect(t >= t0 && t <= t1, "point %zu stored at %.3f, not in [%.0f, %.0f]", i, t, t0,
                  t1);
        if (i >= 100)
            cr_expect_geq(t, json_number_value(json_array_get(times, 99)));
    }
    json_decref(j);

    snprintf(path, sizeof path, "/api/v1/runs/%lld/metrics?since=99&names=train_loss",
             (long long)id);
    j = srvt_json(&srv, "GET", path, NULL, 200);
    steps = srvt_at(j, "series.train_loss.step");
    cr_assert_eq(json_array_size(steps), 50, "only steps after 99");
    cr_expect_eq(json_integer_value(json_array_get(steps, 0)), 100);
    cr_expect_null(srvt_at(j, "series.val_acc"), "names= selects the series");
    json_decref(j);

    /* The summary holds each metric's last value; per-layer counters stay
     * series only. */
    j = run_get(id);
    cr_expect_float_eq(json_number_value(srvt_at(j, "run.summary.train_loss")), value_of(149), 0);
    cr_expect_float_eq(json_number_value(srvt_at(j, "run.summary.val_acc")), value_of(9), 0);
    cr_expect_null(srvt_at(j, "run.summary.layers_conv2_fwd_swamping_rate"));
    json_decref(j);
    snprintf(path, sizeof path, "/api/v1/runs/%lld/metrics?names=layers_conv2_fwd_swamping_rate",
             (long long)id);
    j = srvt_json(&srv, "GET", path, NULL, 200);
    cr_expect_eq(json_array_size(srvt_at(j, "series.layers_conv2_fwd_swamping_rate.step")), 10);
    json_decref(j);

    cr_expect_str_eq(heartbeat_action(&w, &l), "continue");
    run_call(&l, "complete",
             "{\"state\": \"succeeded\", \"summary\": {\"val_acc\": 0.875, \"epochs\": 1}}", 200);
    j = run_get(id);
    cr_expect_str_eq(srvt_str(j, "run.state"), "succeeded");
    cr_expect(json_is_number(srvt_at(j, "run.finished")));
    cr_expect_float_eq(json_number_value(srvt_at(j, "run.summary.val_acc")), 0.875, 0);
    cr_expect_float_eq(json_number_value(srvt_at(j, "run.summary.train_loss")), value_of(149), 0,
                       "the summary merges");
    cr_assert_eq(json_array_size(srvt_at(j, "run.leases")), 1);
    cr_expect_str_eq(srvt_str(j, "run.leases.0.outcome"), "succeeded");
    cr_expect_eq(srvt_int(j, "run.leases.0.worker"), w.id);
    json_decref(j);
    /* The lease is over: its holder is told so. */
    json_decref(post_points(&l, "train_loss", 200, 1, 409));
    cr_expect_str_eq(heartbeat_action(&w, &l), "abandon");
    srvt_stop_clean(&srv);
}

Test(worker, downsampling_keeps_each_spike_and_dip, .init = up, .fini = down)
{
    struct srvt_worker w;
    struct srvt_lease l;
    enum { N = 20000, SPIKE = 12345, DIP = 3333, MAXP = 200 };
    srvt_submit(&srv, "spiky");
    srvt_register(&w, &srv, "w", 1);
    srvt_lease(&l, &srv, &w);

    size_t cap = (size_t)N * 64 + 64;
    char *body = malloc(cap), path[128];
    size_t len = (size_t)snprintf(body, cap, "{\"points\": [");
    for (int i = 0; i < N; i++) {
        double v = i == SPIKE ? 50.0 : i == DIP ? -50.0 : 0.01 * (i % 7);
        len += (size_t)snprintf(body + len, cap - len,
                                "%s{\"step\": %d, \"name\": \"loss\", \"value\": %g}", i ? "," : "",
                                i, v);
    }
    snprintf(body + len, cap - len, "]}");
    snprintf(path, sizeof path, "/api/v1/runs/%lld/metrics", (long long)l.run);
    json_t *j = srvt_json_lease(&srv, "POST", path, l.lease, body, 200);
    free(body);
    cr_assert_eq(srvt_int(j, "accepted"), N);
    json_decref(j);

    snprintf(path, sizeof path, "/api/v1/runs/%lld/metrics?max_points=%d", (long long)l.run, MAXP);
    j = srvt_json(&srv, "GET", path, NULL, 200);
    cr_expect(json_is_true(json_object_get(j, "downsampled")));
    cr_expect_eq(srvt_int(j, "last_step"), N - 1);
    const json_t *steps = srvt_at(j, "series.loss.step"), *vals = srvt_at(j, "series.loss.value");
    size_t n = json_array_size(steps);
    cr_assert_eq(json_array_size(vals), n);
    cr_expect_leq(n, MAXP);
    cr_expect_geq(n, MAXP / 2, "the buckets are used");
    bool spike = false, dip = false;
    for (size_t i = 0; i < n; i++) {
        json_int_t s = json_integer_value(json_array_get(steps, i));
        double v = json_number_value(json_array_get(vals, i));
        if (i)
            cr_expect_gt(s, json_integer_value(json_array_get(steps, i - 1)), "steps ascend");
        spike = spike || (s == SPIKE && v == 50.0);
        dip = dip || (s == DIP && v == -50.0);
        cr_expect(v == 50.0 || v == -50.0 || (v >= 0 && v <= 0.06 + 1e-12),
                  "a kept point is a real point: step %lld value %g", (long long)s, v);
    }
    cr_expect(spike, "the spike at step %d survives", SPIKE);
    cr_expect(dip, "the dip at step %d survives", DIP);
    json_decref(j);

    /* Without max_points, or with room for everything, nothing is thinned. */
    snprintf(path, sizeof path, "/api/v1/runs/%lld/metrics?max_points=%d&since=%d",
             (long long)l.run, MAXP, N - 100);
    j = srvt_json(&srv, "GET", path, NULL, 200);
    cr_expect(json_is_false(json_object_get(j, "downsampled")));
    cr_expect_eq(json_array_size(srvt_at(j, "series.loss.step")), 99);
    json_decref(j);
}

Test(worker, cancel_reaches_a_running_worker, .init = up, .fini = down)
{
    struct srvt_worker w;
    struct srvt_lease l;
    srvt_submit(&srv, "to-stop");
    srvt_register(&w, &srv, "w", 1);
    srvt_lease(&l, &srv, &w);
    run_call(&l, "start", NULL, 200);
    cr_expect_str_eq(heartbeat_action(&w, &l), "continue");

    char path[64];
    snprintf(path, sizeof path, "/api/v1/runs/%lld/cancel", (long long)l.run);
    json_t *j = srvt_json(&srv, "POST", path, NULL, 200);
    cr_expect_str_eq(srvt_str(j, "run.state"), "running", "a running run is asked, not killed");
    cr_expect(json_is_true(srvt_at(j, "run.cancel_requested")));
    json_decref(j);
    cr_expect_str_eq(heartbeat_action(&w, &l), "cancel");
    expect_batch(post_points(&l, "loss", 0, 3, 200), 3, 0, "cancel");
    run_call(&l, "complete", "{\"state\": \"canceled\"}", 200);
    expect_state(l.run, "canceled");
}

Test(worker, stale_lease_is_refused_after_the_run_moved_on, .init = up, .fini = down)
{
    struct srvt_worker w;
    struct srvt_lease old, cur;
    srvt_submit(&srv, "moves");
    srvt_register(&w, &srv, "w", 1);
    srvt_lease(&old, &srv, &w);
    run_call(&old, "release", NULL, 200);
    expect_state(old.run, "queued");
    srvt_lease(&cur, &srv, &w);
    cr_assert_eq(cur.run, old.run);
    cr_assert_str_neq(cur.lease, old.lease, "each lease has its own token");

    char path[96];
    snprintf(path, sizeof path, "/api/v1/runs/%lld/metrics", (long long)old.run);
    struct srvt_resp r;
    char lh[128];
    snprintf(lh, sizeof lh, "X-Qlab-Lease: %s", old.lease);
    srvt_do(&r, &srv,
            &(struct srvt_req){.method = "POST",
                               .path = path,
                               .body = "{\"points\": [{\"step\": 1, \"name\": \"x\", "
                                       "\"value\": 1}]}",
                               .headers = {lh}});
    srvt_expect_error(&r, 409, "stale_lease", "X-Qlab-Lease");
    srvt_resp_free(&r);
    run_call(&old, "start", NULL, 409);
    run_call(&old, "complete", "{\"state\": \"failed\", \"error\": \"late\"}", 409);
    cr_expect_str_eq(heartbeat_action(&w, &old), "abandon");
    /* The current holder is unaffected. */
    expect_batch(post_points(&cur, "x", 1, 1, 200), 1, 0, "continue");
    expect_state(cur.run, "leased");
    json_t *j = run_get(cur.run);
    cr_expect_eq(srvt_int(j, "run.attempt"), 1, "a release does not count as an attempt");
    cr_expect_eq(json_array_size(srvt_at(j, "run.leases")), 2);
    cr_expect_str_eq(srvt_str(j, "run.leases.0.outcome"), "released");
    json_decref(j);
}

Test(worker, lost_worker_runs_are_requeued_then_failed, .init = mkdir_only, .fini = down)
{
    srvt_start(&srv, dir, (const char *[]){"--lease-ttl", "0.4", "--max-attempts", "2", NULL});
    struct srvt_worker w;
    struct srvt_lease first, second;
    int64_t id = srvt_submit(&srv, "unlucky");
    srvt_register(&w, &srv, "w", 1);
    srvt_lease(&first, &srv, &w);
    run_call(&first, "start", NULL, 200); /* only a started attempt counts */
    /* No heartbeat: the lease expires within a tick or two. */
    double deadline = srvt_now() + 5;
    json_t *j = NULL;
    for (;;) {
        j = run_get(id);
        if (strcmp(srvt_str(j, "run.state"), "queued") == 0 || srvt_now() > deadline)
            break;
        json_decref(j);
        srvt_sleep(0.05);
    }
    cr_assert_str_eq(srvt_str(j, "run.state"), "queued", "the expired run is requeued");
    cr_expect_eq(srvt_int(j, "run.attempt"), 1);
    cr_expect_str_eq(srvt_str(j, "run.leases.0.outcome"), "expired");
    json_decref(j);
    cr_expect_str_eq(heartbeat_action(&w, &first), "abandon");
    json_decref(post_points(&first, "loss", 0, 1, 409));

    srvt_lease(&second, &srv, &w);
    cr_assert_eq(second.run, id);
    run_call(&second, "start", NULL, 200);
    deadline = srvt_now() + 5;
    for (;;) {
        j = run_get(id);
        if (strcmp(srvt_str(j, "run.state"), "running") != 0 || srvt_now() > deadline)
            break;
        json_decref(j);
        srvt_sleep(0.05);
    }
    cr_expect_str_eq(srvt_str(j, "run.state"), "failed", "past its last attempt the run fails");
    cr_expect_eq(srvt_int(j, "run.attempt"), 2);
    const char *err = srvt_str(j, "run.error");
    cr_expect(strstr(err, "lease expired"), "the reason is recorded: %s", err);
    json_decref(j);
}

Test(worker, heartbeats_keep_a_lease_alive, .init = mkdir_only, .fini = down)
{
    srvt_start(&srv, dir, (const char *[]){"--lease-ttl", "0.5", NULL});
    struct srvt_worker w;
    struct srvt_lease l;
    srvt_submit(&srv, "kept");
    srvt_register(&w, &srv, "w", 1);
    srvt_lease(&l, &srv, &w);
    double end = srvt_now() + 1.6;
    while (srvt_now() < end) {
        cr_assert_str_eq(heartbeat_action(&w, &l), "continue");
        srvt_sleep(0.1);
    }
    expect_state(l.run, "leased");
}

static int count_files(const char *d)
{
    DIR *dd = opendir(d);
    struct dirent *de;
    int n = 0;
    cr_assert_not_null(dd, "%s", d);
    while ((de = readdir(dd)))
        n += strstr(de->d_name, ".ckpt") != NULL;
    closedir(dd);
    return n;
}

static struct srvt_resp put_checkpoint(const struct srvt_lease *l, const unsigned char *data,
                                       size_t n, int64_t step, const char *crc_override)
{
    char path[96], lh[128], sh[64], ch[64];
    struct srvt_resp r;
    snprintf(path, sizeof path, "/api/v1/runs/%lld/checkpoint", (long long)l->run);
    snprintf(lh, sizeof lh, "X-Qlab-Lease: %s", l->lease);
    snprintf(sh, sizeof sh, "X-Qlab-Step: %lld", (long long)step);
    if (crc_override)
        snprintf(ch, sizeof ch, "X-Qlab-Crc32: %s", crc_override);
    else
        snprintf(ch, sizeof ch, "X-Qlab-Crc32: %08lx", crc32(0L, data, (uInt)n));
    srvt_do(&r, &srv,
            &(struct srvt_req){.method = "PUT",
                               .path = path,
                               .body = (const char *)data,
                               .body_len = n,
                               .content_type = "application/octet-stream",
                               .headers = {lh, sh, ch}});
    return r;
}

Test(worker, checkpoints_are_checked_stored_and_handed_to_the_next_lease, .init = up, .fini = down)
{
    struct srvt_worker w;
    struct srvt_lease l;
    enum { SIZE = 300000 };
    unsigned char *data = malloc(SIZE);
    for (int i = 0; i < SIZE; i++)
        data[i] = (unsigned char)(i * 131 + (i >> 8));
    srvt_submit(&srv, "ckpt");
    srvt_register(&w, &srv, "w", 1);
    srvt_lease(&l, &srv, &w);
    char path[96], data_dir[SRVT_PATH + 16], lh[128];
    snprintf(path, sizeof path, "/api/v1/runs/%lld/checkpoint", (long long)l.run);
    snprintf(data_dir, sizeof data_dir, "%s/data", dir);
    snprintf(lh, sizeof lh, "X-Qlab-Lease: %s", l.lease);

    struct srvt_resp r;
    srvt_do(&r, &srv, &(struct srvt_req){.method = "GET", .path = path, .headers = {lh}});
    srvt_expect_error(&r, 404, "not_found", NULL);
    srvt_resp_free(&r);

    /* A damaged upload is refused and stores nothing. */
    r = put_checkpoint(&l, data, SIZE, 10, "deadbeef");
    srvt_expect_error(&r, 400, "invalid_request", "X-Qlab-Crc32");
    srvt_resp_free(&r);
    cr_expect_eq(count_files(data_dir), 0);

    r = put_checkpoint(&l, data, SIZE, 10, NULL);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_expect_eq(srvt_int(r.json, "step"), 10);
    cr_expect_eq(srvt_int(r.json, "size"), SIZE);
    char crc[16];
    snprintf(crc, sizeof crc, "%08lx", crc32(0L, data, SIZE));
    cr_expect_str_eq(srvt_str(r.json, "crc32"), crc);
    srvt_resp_free(&r);

    srvt_do(&r, &srv, &(struct srvt_req){.method = "GET", .path = path, .headers = {lh}});
    cr_assert_eq(r.status, 200);
    cr_assert_eq(r.len, SIZE);
    cr_expect_eq(memcmp(r.body, data, SIZE), 0, "the bytes come back unchanged");
    cr_expect_str_eq(srvt_header(&r, "X-Qlab-Crc32"), crc);
    cr_expect_str_eq(srvt_header(&r, "X-Qlab-Step"), "10");
    cr_expect_str_eq(srvt_header(&r, "Content-Type"), "application/octet-stream");
    srvt_resp_free(&r);

    /* A newer checkpoint replaces the old file. */
    data[0] ^= 0xff;
    r = put_checkpoint(&l, data, SIZE / 2, 20, NULL);
    cr_assert_eq(r.status, 200, "%s", r.body);
    srvt_resp_free(&r);
    cr_expect_eq(count_files(data_dir), 1, "the previous checkpoint file is gone");

    /* The next lease of the run learns where to resume. */
    run_call(&l, "release", NULL, 200);
    char lpath[96];
    snprintf(lpath, sizeof lpath, "/api/v1/workers/%lld/lease", (long long)w.id);
    json_t *j = srvt_call(&srv, w.token, NULL, "POST", lpath, "{\"devices\": [\"cpu0\"]}", 200);
    cr_expect_eq(srvt_int(j, "run.id"), l.run);
    cr_expect_eq(srvt_int(j, "checkpoint.step"), 20);
    cr_expect_eq(srvt_int(j, "checkpoint.size"), SIZE / 2);
    snprintf(crc, sizeof crc, "%08lx", crc32(0L, data, SIZE / 2));
    cr_expect_str_eq(srvt_str(j, "checkpoint.crc32"), crc);
    json_decref(j);
    free(data);
}

Test(worker, failed_run_can_be_retried, .init = up, .fini = down)
{
    struct srvt_worker w;
    struct srvt_lease l;
    srvt_submit(&srv, "flaky");
    srvt_register(&w, &srv, "w", 1);
    srvt_lease(&l, &srv, &w);
    run_call(&l, "complete", "{\"state\": \"failed\", \"error\": \"NaN loss at step 7\"}", 200);
    json_t *j = run_get(l.run);
    cr_expect_str_eq(srvt_str(j, "run.state"), "failed");
    cr_expect_str_eq(srvt_str(j, "run.error"), "NaN loss at step 7");
    json_decref(j);
    char path[64];
    snprintf(path, sizeof path, "/api/v1/runs/%lld/retry", (long long)l.run);
    j = srvt_json(&srv, "POST", path, NULL, 200);
    cr_expect_str_eq(srvt_str(j, "run.state"), "queued");
    cr_expect_eq(srvt_int(j, "run.attempt"), 0);
    json_decref(j);
    struct srvt_lease again;
    srvt_lease(&again, &srv, &w);
    cr_expect_eq(again.run, l.run);
}
