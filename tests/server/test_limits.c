/* Connection limits (defect 4): 2050 idle sockets from one address used to
 * take every connection and make /healthz time out. Now one address may
 * hold --max-conn-per-ip connections, and a connection must complete its
 * request headers (and an idle keep-alive one its next request) within
 * --header-timeout. The attacker's sockets come from 127.0.0.2, the
 * legitimate client (libcurl) from 127.0.0.1. */
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
    srvt_start(&srv, dir,
               (const char *[]){"--max-conn-per-ip", "8", "--header-timeout", "1", NULL});
}

static void down(void)
{
    srvt_stop(&srv, SIGKILL);
    srvt_dir_remove(dir);
}

TestSuite(limits, .init = up, .fini = down);

#define ATTACK 40

Test(limits, one_address_cannot_take_every_connection)
{
    int fds[ATTACK];
    int open_after = 0;
    for (int i = 0; i < ATTACK; i++) {
        fds[i] = srvt_raw_connect(&srv, "127.0.0.2");
        cr_assert_geq(fds[i], 0, "the kernel accepts the connect (the server closes extras)");
    }
    /* One socket dribbles a header and never finishes it (slowloris). */
    cr_assert(srvt_raw_send(fds[0], "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ", 0));
    srvt_sleep(0.3);
    for (int i = 0; i < ATTACK; i++) {
        bool closed;
        free(srvt_raw_read(fds[i], 0.01, &closed));
        open_after += !closed;
    }
    cr_expect_leq(open_after, 8, "%d of %d sockets from one address stay open", open_after, ATTACK);
    /* Another client is served meanwhile. */
    json_decref(srvt_json(&srv, "GET", "/healthz", NULL, 200));

    /* Within the header timeout (1 s, checked at second granularity) every
     * idle or half-sent connection is closed. */
    int still = 0;
    for (int i = 0; i < ATTACK; i++) {
        bool closed;
        free(srvt_raw_read(fds[i], 4.0, &closed));
        still += !closed;
        close(fds[i]);
    }
    cr_expect_eq(still, 0, "%d idle connections outlived --header-timeout", still);
    /* The address may connect again once its sockets are gone. */
    int fd = srvt_raw_connect(&srv, "127.0.0.2");
    cr_assert_geq(fd, 0);
    cr_assert(
        srvt_raw_send(fd, "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 0));
    bool closed;
    char *got = srvt_raw_read(fd, 5.0, &closed);
    cr_expect(strstr(got, "200 OK") && strstr(got, "\"ok\":true"), "%s", got);
    free(got);
    close(fd);
}

Test(limits, a_keep_alive_connection_survives_slow_requests_but_not_idleness)
{
    /* A request whose headers are complete may take its time (the body of
     * a slow upload): the short timeout only guards the headers. */
    int fd = srvt_raw_connect(&srv, NULL);
    cr_assert_geq(fd, 0);
    const char *spec = srvt_spec("slow");
    char head[256];
    snprintf(head, sizeof head,
             "POST /api/v1/experiments HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
             "Content-Length: %zu\r\n\r\n",
             strlen(spec));
    cr_assert(srvt_raw_send(fd, head, 0));
    srvt_sleep(2.2); /* past --header-timeout, with the headers complete */
    cr_assert(srvt_raw_send(fd, spec, 0));
    bool closed;
    char *got = srvt_raw_read(fd, 1.0, &closed);
    cr_expect(strstr(got, "201 Created"), "a slow body is not cut off: %s", got);
    free(got);
    /* Then idle between requests: closed after the header timeout. */
    got = srvt_raw_read(fd, 4.0, &closed);
    cr_expect(closed, "an idle keep-alive connection is closed");
    free(got);
    close(fd);
}
