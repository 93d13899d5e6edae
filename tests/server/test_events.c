/* Integration tests of the live event streams (Server-Sent Events) against
 * the real qlab-server: a state change reaches a connected client within a
 * second, Last-Event-ID (or ?since=) resumes exactly after that event, and
 * a run's stream carries only that run. */
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
    srvt_start(&srv, dir, NULL);
}

static void down(void)
{
    srvt_stop(&srv, SIGKILL);
    srvt_dir_remove(dir);
}

TestSuite(events, .init = up, .fini = down);

/* The ids of the events in a stream's text, in order; returns how many. */
static int event_ids(const char *text, int64_t *ids, int max)
{
    int n = 0;
    for (const char *p = text; p && (p = strstr(p, "id: ")); p += 4) {
        if (p != text && p[-1] != '\n')
            continue;
        cr_assert_lt(n, max);
        ids[n++] = strtoll(p + 4, NULL, 10);
    }
    return n;
}

Test(events, state_change_arrives_within_a_second)
{
    struct srvt_sse e;
    srvt_sse_open(&e, &srv, "/api/v1/events", NULL);
    cr_assert(srvt_sse_wait(&e, ": connected", 5), "the stream opens: %s", e.buf ? e.buf : "");
    double t0 = srvt_now();
    int64_t id = srvt_submit(&srv, "watched");
    char needle[64];
    snprintf(needle, sizeof needle, "\"run\":%lld,", (long long)id);
    bool got = srvt_sse_wait(&e, needle, 1.0);
    double dt = srvt_now() - t0;
    cr_assert(got, "no event for run %lld within 1 s: %s", (long long)id, e.buf);
    cr_expect_lt(dt, 1.0);
    cr_expect(strstr(e.buf, "event: run\n"), "%s", e.buf);
    cr_expect(strstr(e.buf, "\"state\":\"queued\""), "%s", e.buf);

    /* A cancel is the next event, on the same connection. */
    char path[64];
    snprintf(path, sizeof path, "/api/v1/runs/%lld/cancel", (long long)id);
    t0 = srvt_now();
    json_decref(srvt_json(&srv, "POST", path, NULL, 200));
    cr_expect(srvt_sse_wait(&e, "\"state\":\"canceled\"", 1.0), "%s", e.buf);
    cr_expect_lt(srvt_now() - t0, 1.0);
    srvt_sse_close(&e);
    srvt_stop_clean(&srv);
}

Test(events, last_event_id_resumes_right_after_that_event)
{
    int64_t runs[4];
    for (int i = 0; i < 4; i++)
        runs[i] = srvt_submit(&srv, "r");
    /* The full history, from the start. */
    struct srvt_sse all;
    srvt_sse_open(&all, &srv, "/api/v1/events", "0");
    char needle[64];
    snprintf(needle, sizeof needle, "\"run\":%lld,", (long long)runs[3]);
    cr_assert(srvt_sse_wait(&all, needle, 5), "%s", all.buf ? all.buf : "");
    int64_t ids[16];
    int n = event_ids(all.buf, ids, 16);
    cr_assert_eq(n, 4, "one event per submit: %s", all.buf);
    for (int i = 1; i < n; i++)
        cr_expect_gt(ids[i], ids[i - 1], "ids increase");
    srvt_sse_close(&all);

    /* Resume after the second: exactly the third and fourth follow. */
    char last[32];
    snprintf(last, sizeof last, "%lld", (long long)ids[1]);
    struct srvt_sse e;
    srvt_sse_open(&e, &srv, "/api/v1/events", last);
    cr_assert(srvt_sse_wait(&e, needle, 5), "%s", e.buf ? e.buf : "");
    int64_t got[16];
    int m = event_ids(e.buf, got, 16);
    cr_assert_eq(m, 2, "%s", e.buf);
    cr_expect_eq(got[0], ids[2]);
    cr_expect_eq(got[1], ids[3]);
    snprintf(needle, sizeof needle, "\"run\":%lld,", (long long)runs[1]);
    cr_expect_null(strstr(e.buf, needle), "nothing at or before the resume point");
    /* ...and then live events. */
    int64_t later = srvt_submit(&srv, "later");
    snprintf(needle, sizeof needle, "\"run\":%lld,", (long long)later);
    cr_expect(srvt_sse_wait(&e, needle, 1.0), "%s", e.buf);
    srvt_sse_close(&e);

    /* ?since= is the same for clients that cannot set the header. */
    char path[64];
    snprintf(path, sizeof path, "/api/v1/events?since=%lld", (long long)ids[2]);
    srvt_sse_open(&e, &srv, path, NULL);
    cr_assert(srvt_sse_wait(&e, needle, 5), "%s", e.buf ? e.buf : "");
    m = event_ids(e.buf, got, 16);
    cr_assert_eq(m, 2, "%s", e.buf);
    cr_expect_eq(got[0], ids[3]);
    srvt_sse_close(&e);
}

Test(events, run_stream_carries_only_that_run_including_its_metrics)
{
    int64_t other = srvt_submit(&srv, "other");
    int64_t mine = srvt_submit(&srv, "mine");
    (void)other;
    struct srvt_worker w;
    struct srvt_lease l;
    srvt_register(&w, &srv, "w", 1);
    /* FIFO: the first lease takes `other`, the second `mine`. */
    srvt_lease(&l, &srv, &w);
    cr_assert_eq(l.run, other);
    struct srvt_lease l2;
    srvt_lease(&l2, &srv, &w);
    cr_assert_eq(l2.run, mine);

    char path[96];
    snprintf(path, sizeof path, "/api/v1/runs/%lld/events", (long long)mine);
    struct srvt_sse e;
    srvt_sse_open(&e, &srv, path, "0");
    cr_assert(srvt_sse_wait(&e, "\"state\":\"leased\"", 5), "%s", e.buf ? e.buf : "");
    snprintf(path, sizeof path, "/api/v1/runs/%lld/metrics", (long long)mine);
    json_decref(srvt_json_lease(&srv, "POST", path, l2.lease,
                                "{\"points\": [{\"step\": 7, \"name\": \"loss\", \"value\": 1},"
                                "{\"step\": 8, \"name\": \"loss\", \"value\": 0.5}]}",
                                200));
    cr_assert(srvt_sse_wait(&e, "event: metrics\n", 1.0), "%s", e.buf);
    cr_expect(srvt_sse_wait(&e, "\"last_step\":8", 1.0), "%s", e.buf);
    cr_expect(strstr(e.buf, "\"points\":2"), "%s", e.buf);
    char needle[64];
    snprintf(needle, sizeof needle, "\"run\":%lld,", (long long)other);
    cr_expect_null(strstr(e.buf, needle), "no event of another run: %s", e.buf);
    srvt_sse_close(&e);

    /* An unknown run has no stream. */
    struct srvt_resp r;
    srvt_do(&r, &srv, &(struct srvt_req){.method = "GET", .path = "/api/v1/runs/999/events"});
    srvt_expect_error(&r, 404, "not_found", NULL);
    srvt_resp_free(&r);
}

Test(events, malformed_last_event_id_is_refused)
{
    struct srvt_resp r;
    srvt_do(&r, &srv,
            &(struct srvt_req){
                .method = "GET", .path = "/api/v1/events", .headers = {"Last-Event-ID: soon"}});
    srvt_expect_error(&r, 400, "bad_param", "Last-Event-ID");
    srvt_resp_free(&r);
    srvt_do(&r, &srv, &(struct srvt_req){.method = "GET", .path = "/api/v1/events?since=-4"});
    srvt_expect_error(&r, 400, "bad_param", "?since");
    srvt_resp_free(&r);
}
