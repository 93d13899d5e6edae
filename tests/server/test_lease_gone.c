/* A worker that goes away while its lease long-poll is parked (defect 1):
 * the next queued run used to be leased to nobody, sit for the lease TTL
 * and burn an attempt (with --max-attempts 1 it ended failed without ever
 * starting). Now the parked connection is checked before a run is leased
 * to it, and a lease that never started gives its attempt back. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "srvt.h"

static char dir[SRVT_PATH];
static struct srvt_server srv;

static void up(void)
{
    srvt_dir_make(dir, sizeof dir);
    srvt_start(&srv, dir, (const char *[]){"--max-attempts", "1", "--lease-ttl", "0.5", NULL});
}

static void down(void)
{
    srvt_stop(&srv, SIGKILL);
    srvt_dir_remove(dir);
}

TestSuite(lease_gone, .init = up, .fini = down);

static json_t *run_get(int64_t id)
{
    char path[64];
    snprintf(path, sizeof path, "/api/v1/runs/%lld", (long long)id);
    return srvt_json(&srv, "GET", path, NULL, 200);
}

Test(lease_gone, a_parked_lease_whose_worker_left_takes_no_run)
{
    struct srvt_worker w;
    srvt_register(&w, &srv, "w", 1);
    char req[1024];
    const char *body = "{\"devices\": [\"cpu0\"], \"wait\": 10}";
    snprintf(req, sizeof req,
             "POST /api/v1/workers/%lld/lease HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
             "%s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
             (long long)w.id, w.token, strlen(body), body);
    int fd = srvt_raw_connect(&srv, NULL);
    cr_assert_geq(fd, 0);
    cr_assert(srvt_raw_send(fd, req, 0));
    srvt_sleep(0.3); /* parked in the hub by now */
    close(fd);       /* the worker dies */
    srvt_sleep(0.1);

    int64_t id = srvt_submit(&srv, "orphan");
    /* Past the lease TTL and a few expiry ticks: the run must still be
     * queued with no attempt spent (it used to be leased to nobody, then
     * failed: its one attempt expired). */
    srvt_sleep(1.5);
    json_t *j = run_get(id);
    cr_expect_str_eq(srvt_str(j, "run.state"), "queued", "error: %s",
                     json_string_value(srvt_at(j, "run.error")));
    cr_expect_eq(srvt_int(j, "run.attempt"), 0);
    cr_expect_eq(json_array_size(srvt_at(j, "run.leases")), 0, "no lease was handed out");
    json_decref(j);

    /* A live worker gets it. */
    struct srvt_lease l;
    srvt_lease(&l, &srv, &w);
    cr_expect_eq(l.run, id);
}

Test(lease_gone, a_lease_that_never_starts_does_not_fail_the_run)
{
    struct srvt_worker w;
    struct srvt_lease l;
    srvt_register(&w, &srv, "w", 1);
    int64_t id = srvt_submit(&srv, "never-started");
    srvt_lease(&l, &srv, &w); /* and never /start, never heartbeat */
    double end = srvt_now() + 5;
    json_t *j = NULL;
    for (;;) {
        j = run_get(id);
        if (strcmp(srvt_str(j, "run.state"), "leased") != 0 || srvt_now() > end)
            break;
        json_decref(j);
        srvt_sleep(0.05);
    }
    cr_expect_str_eq(srvt_str(j, "run.state"), "queued",
                     "with --max-attempts 1, a lease that expired before the run started must "
                     "requeue it, not fail it");
    cr_expect_eq(srvt_int(j, "run.attempt"), 0);
    cr_expect_str_eq(srvt_str(j, "run.leases.0.outcome"), "expired");
    json_decref(j);
}
