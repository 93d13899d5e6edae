/* Event streams under ingest (defect 11): every metric batch used to wake
 * every open event stream, and each stream then read the database, so 200
 * open dashboards cut ingest threefold. Wake-ups are coalesced: a stream
 * reads the event log at most once per 0.25 s window however many batches
 * arrive, and still receives every event. The server counts the reads
 * (qlab_event_stream_reads_total on /metrics). */
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

TestSuite(coalesce, .init = up, .fini = down);

static long long stream_reads(void)
{
    struct srvt_resp r;
    srvt_do(&r, &srv, &(struct srvt_req){.method = "GET", .path = "/metrics"});
    cr_assert_eq(r.status, 200);
    const char *p = strstr(r.body, "\nqlab_event_stream_reads_total ");
    cr_assert_not_null(p, "no qlab_event_stream_reads_total in /metrics");
    long long v = strtoll(p + 31, NULL, 10);
    srvt_resp_free(&r);
    return v;
}

#define STREAMS 12
#define BATCHES 120

Test(coalesce, a_burst_of_batches_wakes_each_stream_a_few_times_not_per_batch)
{
    struct srvt_worker w;
    struct srvt_lease l;
    struct srvt_sse e[STREAMS];
    srvt_register(&w, &srv, "w", 1);
    srvt_submit(&srv, "busy");
    srvt_lease(&l, &srv, &w);
    for (int i = 0; i < STREAMS; i++) {
        srvt_sse_open(&e[i], &srv, "/api/v1/events", NULL);
        cr_assert(srvt_sse_wait(&e[i], ": connected", 5));
    }
    srvt_sleep(0.3); /* every stream parked */
    long long before = stream_reads();
    double t0 = srvt_now();
    char path[96], body[128];
    snprintf(path, sizeof path, "/api/v1/runs/%lld/metrics", (long long)l.run);
    for (int b = 0; b < BATCHES; b++) {
        snprintf(body, sizeof body,
                 "{\"points\": [{\"step\": %d, \"name\": \"loss\", \"value\": 1}]}", b);
        json_decref(srvt_call(&srv, w.token, l.lease, "POST", path, body, 200));
    }
    double dt = srvt_now() - t0;
    /* Every stream gets the last batch's event. */
    char needle[64];
    snprintf(needle, sizeof needle, "\"last_step\":%d,", BATCHES - 1);
    for (int i = 0; i < STREAMS; i++)
        cr_expect(srvt_sse_wait(&e[i], needle, 5), "stream %d missed the last batch", i);
    long long reads = stream_reads() - before;
    for (int i = 0; i < STREAMS; i++)
        srvt_sse_close(&e[i]);
    /* One read per stream per window while the burst lasted, plus the one
     * that delivers the tail: far below one per batch. */
    long long bound = (long long)STREAMS * (long long)(dt / 0.25 + 3);
    cr_expect_leq(reads, bound,
                  "%lld stream reads for %d batches on %d streams in %.2f s (bound %lld; one per "
                  "batch would be %d)",
                  reads, BATCHES, STREAMS, dt, bound, BATCHES * STREAMS);
    cr_expect_lt(reads, (long long)BATCHES * STREAMS / 2);
}
