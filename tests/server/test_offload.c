/* A metric batch runs on the offload pool (server/offload.h), not on the
 * libmicrohttpd thread that read it: with one HTTP thread, a batch waiting
 * for the database's write lock used to hold every other connection of
 * that thread (a run list, the dashboard) until it was done. */
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "srvt.h"

static char dir[SRVT_PATH];
static struct srvt_server srv;

static void up(void)
{
    srvt_dir_make(dir, sizeof dir);
    srvt_start(&srv, dir, (const char *[]){"--threads", "1", "--busy-timeout", "20000", NULL});
}

static void down(void)
{
    srvt_stop(&srv, SIGKILL);
    srvt_dir_remove(dir);
}

TestSuite(offload, .init = up, .fini = down);

struct post {
    const struct srvt_lease *lease;
    long status;
    atomic_bool done;
};

static void *post_batch(void *p)
{
    struct post *a = p;
    char url[160], lh[128];
    static const char body[] = "{\"points\": [{\"step\": 1, \"name\": \"loss\", \"value\": 0.5}]}";
    snprintf(url, sizeof url, "http://127.0.0.1:%d/api/v1/runs/%lld/metrics", srv.port,
             (long long)a->lease->run);
    snprintf(lh, sizeof lh, "X-Qlab-Lease: %s", a->lease->lease);
    /* No assertions on this thread: the test reads the status. */
    CURL *c = curl_easy_init();
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    h = curl_slist_append(h, lh);
    FILE *devnull = fopen("/dev/null", "w");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 60000L);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, devnull);
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &a->status);
    fclose(devnull);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    atomic_store(&a->done, true);
    return NULL;
}

/* A leased run whose one-point batch (posted by thread *t into *a) waits
 * in its handler: another connection holds the database's write lock until
 * the caller rolls back and closes the handle returned. */
static sqlite3 *blocked_batch(struct srvt_lease *l, struct post *a, pthread_t *t)
{
    struct srvt_worker w;
    sqlite3 *db = NULL;

    srvt_submit(&srv, "a");
    srvt_register(&w, &srv, "w", 1);
    srvt_lease(l, &srv, &w);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    cr_assert_eq(sqlite3_open(srv.db, &db), SQLITE_OK);
    cr_assert_eq(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    cr_assert_eq(pthread_create(t, NULL, post_batch, a), 0);
    srvt_sleep(0.5); /* the batch is in its handler, waiting for BEGIN */
    return db;
}

Test(offload, a_batch_waiting_for_the_writer_holds_no_other_connection)
{
    struct srvt_lease l;
    struct post a = {.lease = &l};
    pthread_t t;
    sqlite3 *db = blocked_batch(&l, &a, &t);

    /* The only HTTP thread still answers a read on another connection. */
    struct srvt_resp r;
    srvt_do(&r, &srv,
            &(struct srvt_req){.method = "GET", .path = "/api/v1/runs", .timeout_ms = 5000});
    cr_expect_eq(r.status, 200, "the run list waited for the batch: status %ld", r.status);
    srvt_resp_free(&r);
    cr_expect_not(atomic_load(&a.done), "the batch was answered before the lock was released");

    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_close(db);
    pthread_join(t, NULL);
    cr_expect_eq(a.status, 200, "the batch, once the lock is free: %ld", a.status);
    char path[96];
    snprintf(path, sizeof path, "/api/v1/runs/%lld/metrics", (long long)l.run);
    json_t *j = srvt_json(&srv, "GET", path, NULL, 200);
    cr_expect_eq(json_array_size(srvt_at(j, "series.loss.step")), 1);
    json_decref(j);
}

Test(offload, stopping_waits_for_the_batches_under_way)
{
    /* SIGTERM while a batch waits for the lock: libmicrohttpd cannot stop
     * with a connection suspended, so the pool finishes the batch (once
     * the lock is released) before it stops; the server exits cleanly, and
     * a batch it acknowledged is stored. */
    struct srvt_lease l;
    struct post a = {.lease = &l};
    pthread_t t;
    sqlite3 *db = blocked_batch(&l, &a, &t);
    kill(srv.pid, SIGTERM);
    srvt_sleep(0.3);
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_close(db);
    cr_expect_eq(srvt_stop(&srv, SIGTERM), 0, "a clean exit: %s", srvt_log(&srv));
    pthread_join(t, NULL);

    srvt_start(&srv, dir, NULL);
    char path[96];
    snprintf(path, sizeof path, "/api/v1/runs/%lld/metrics", (long long)l.run);
    json_t *j = srvt_json(&srv, "GET", path, NULL, 200);
    size_t n = json_array_size(srvt_at(j, "series.loss.step"));
    cr_expect(a.status == 200 ? n == 1 : n <= 1, "status %ld, %zu points stored", a.status, n);
    json_decref(j);
}
