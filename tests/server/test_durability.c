/* Durability against the real qlab-server: after kill -9, a restart on the
 * same database finds every acknowledged run, state change and metric
 * point, nothing of an unacknowledged request half-written, and the
 * workers' leases still valid. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "srvt.h"

static char dir[SRVT_PATH];
static struct srvt_server srv;

static void mkdir_only(void)
{
    srvt_dir_make(dir, sizeof dir);
}

static void down(void)
{
    srvt_stop(&srv, SIGKILL);
    srvt_dir_remove(dir);
}

TestSuite(durability, .init = mkdir_only, .fini = down);

static char *batch_body(const char *name, int64_t first, int n)
{
    size_t cap = 32 + (size_t)n * 64;
    char *body = malloc(cap);
    size_t len = (size_t)snprintf(body, cap, "{\"points\": [");
    for (int i = 0; i < n; i++)
        len += (size_t)snprintf(body + len, cap - len,
                                "%s{\"step\": %lld, \"name\": \"%s\", \"value\": %d}", i ? "," : "",
                                (long long)(first + i), name, i);
    snprintf(body + len, cap - len, "]}");
    return body;
}

static int64_t series_len(int64_t run, const char *name)
{
    char path[128];
    snprintf(path, sizeof path, "/api/v1/runs/%lld/metrics?names=%s", (long long)run, name);
    json_t *j = srvt_json(&srv, "GET", path, NULL, 200);
    const json_t *steps = srvt_at(srvt_at(j, "series"), name);
    int64_t n = steps ? (int64_t)json_array_size(json_object_get(steps, "step")) : 0;
    json_decref(j);
    return n;
}

Test(durability, acknowledged_writes_survive_kill_9_and_leases_continue)
{
    enum { RUNS = 12, BATCHES = 8, PER = 250 };
    int64_t ids[RUNS];
    struct srvt_worker w;
    struct srvt_lease l;
    char path[128];

    srvt_start(&srv, dir, NULL);
    for (int i = 0; i < RUNS; i++)
        ids[i] = srvt_submit(&srv, "durable");
    srvt_register(&w, &srv, "w", 1);
    srvt_lease(&l, &srv, &w);
    cr_assert_eq(l.run, ids[0]);
    snprintf(path, sizeof path, "/api/v1/runs/%lld/start", (long long)l.run);
    json_decref(srvt_json_lease(&srv, "POST", path, l.lease, NULL, 200));
    snprintf(path, sizeof path, "/api/v1/runs/%lld/cancel", (long long)ids[RUNS - 1]);
    json_decref(srvt_json(&srv, "POST", path, NULL, 200));
    snprintf(path, sizeof path, "/api/v1/runs/%lld/metrics", (long long)l.run);
    for (int b = 0; b < BATCHES; b++) {
        char *body = batch_body("loss", (int64_t)b * PER, PER);
        json_t *j = srvt_json_lease(&srv, "POST", path, l.lease, body, 200);
        cr_assert_eq(srvt_int(j, "accepted"), PER);
        json_decref(j);
        free(body);
    }
    /* Right after the last acknowledgement: no chance to flush anything. */
    cr_assert_eq(srvt_stop(&srv, SIGKILL), 128 + SIGKILL);

    srvt_start(&srv, dir, NULL);
    json_t *j = srvt_json(&srv, "GET", "/api/v1/runs?limit=1000", NULL, 200);
    const json_t *runs = json_object_get(j, "runs");
    cr_assert_eq(json_array_size(runs), RUNS, "every acknowledged run is there");
    for (int i = 0; i < RUNS; i++) {
        const json_t *r = json_array_get(runs, (size_t)i);
        cr_expect_eq(srvt_int(r, "id"), ids[i]);
        const char *want = i == 0 ? "running" : i == RUNS - 1 ? "canceled" : "queued";
        cr_expect_str_eq(srvt_str(r, "state"), want, "run %d", i);
    }
    json_decref(j);
    cr_expect_eq(series_len(l.run, "loss"), BATCHES * PER, "every acknowledged point");
    j = srvt_json(&srv, "GET", "/api/v1/workers", NULL, 200);
    cr_expect_eq(srvt_int(j, "workers.0.id"), w.id);
    json_decref(j);

    /* The worker carries on with the same token and lease. */
    char hb[96], body[256];
    snprintf(hb, sizeof hb, "/api/v1/workers/%lld/heartbeat", (long long)w.id);
    snprintf(body, sizeof body, "{\"runs\": [{\"run\": %lld, \"lease\": \"%s\"}]}",
             (long long)l.run, l.lease);
    j = srvt_call(&srv, w.token, NULL, "POST", hb, body, 200);
    cr_expect_str_eq(srvt_str(j, "runs.0.action"), "continue");
    json_decref(j);
    char *more = batch_body("loss", (int64_t)BATCHES * PER - 10, 20);
    j = srvt_call(&srv, w.token, l.lease, "POST", path, more, 200);
    free(more);
    cr_expect_eq(srvt_int(j, "accepted"), 10);
    cr_expect_eq(srvt_int(j, "duplicates"), 10);
    json_decref(j);
    snprintf(path, sizeof path, "/api/v1/runs/%lld/complete", (long long)l.run);
    json_decref(srvt_call(&srv, w.token, l.lease, "POST", path, "{\"state\": \"succeeded\"}", 200));
    struct srvt_lease next;
    srvt_lease(&next, &srv, &w);
    cr_expect_eq(next.run, ids[1], "the queue continues in order");
    srvt_stop_clean(&srv);
}

/* A writer that posts batches until the server dies, counting the
 * acknowledged ones. */
struct poster {
    const struct srvt_server *srv;
    const struct srvt_lease *lease;
    int per;
    atomic_int acked;
    atomic_bool stop;
};

static void *post_until_killed(void *p)
{
    struct poster *a = p;
    char path[128], lh[128];
    snprintf(path, sizeof path, "/api/v1/runs/%lld/metrics", (long long)a->lease->run);
    snprintf(lh, sizeof lh, "X-Qlab-Lease: %s", a->lease->lease);
    for (int b = 0; !atomic_load(&a->stop) && b < 100000; b++) {
        char *body = batch_body("x", (int64_t)b * a->per, a->per);
        /* No assertions on this thread: a dead server is the expected end. */
        CURL *c = curl_easy_init();
        char url[256];
        struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
        h = curl_slist_append(h, lh);
        snprintf(url, sizeof url, "http://127.0.0.1:%d%s", a->srv->port, path);
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
        FILE *devnull = fopen("/dev/null", "w");
        curl_easy_setopt(c, CURLOPT_WRITEDATA, devnull);
        CURLcode cc = curl_easy_perform(c);
        long status = 0;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        fclose(devnull);
        curl_slist_free_all(h);
        curl_easy_cleanup(c);
        free(body);
        if (cc != CURLE_OK || status != 200)
            break;
        atomic_fetch_add(&a->acked, 1);
    }
    return NULL;
}

Test(durability, kill_9_during_ingest_loses_no_acknowledged_batch_and_halves_none)
{
    enum { PER = 400 };
    struct srvt_worker w;
    struct srvt_lease l;
    srvt_start(&srv, dir, NULL);
    srvt_submit(&srv, "ingest");
    srvt_register(&w, &srv, "w", 1);
    srvt_lease(&l, &srv, &w);
    curl_global_init(CURL_GLOBAL_DEFAULT);

    struct poster a = {.srv = &srv, .lease = &l, .per = PER};
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, post_until_killed, &a), 0);
    while (atomic_load(&a.acked) < 5)
        srvt_sleep(0.005);
    srvt_sleep(0.05);
    srvt_stop(&srv, SIGKILL);
    atomic_store(&a.stop, true);
    pthread_join(t, NULL);
    int acked = atomic_load(&a.acked);

    srvt_start(&srv, dir, NULL);
    int64_t n = series_len(l.run, "x");
    cr_expect_geq(n, (int64_t)acked * PER, "%lld points for %d acknowledged batches", (long long)n,
                  acked);
    cr_expect_leq(n, (int64_t)(acked + 1) * PER, "at most the one batch in flight more");
    cr_expect_eq(n % PER, 0, "a batch is all or nothing: %lld points", (long long)n);
}
