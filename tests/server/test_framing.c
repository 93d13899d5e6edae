#define _GNU_SOURCE /* strcasestr */
/* Malformed HTTP framing (defect 10): oversized headers, a bad
 * Content-Length, a chunk-size overflow, a bad request line and their kin
 * used to get libmicrohttpd's HTML pages or no answer at all. The server's
 * gate now answers each with the documented JSON error (and closes), after
 * the answers to the well-formed requests before it on the connection. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server/gate.h"
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

TestSuite(framing, .init = up, .fini = down);

/* Sends `req` (len bytes) and returns everything the server answers until
 * it closes (malloc'd). */
static char *exchange(const char *req, size_t len)
{
    int fd = srvt_raw_connect(&srv, NULL);
    cr_assert_geq(fd, 0);
    srvt_raw_send(fd, req, len);
    bool closed;
    char *got = srvt_raw_read(fd, 5.0, &closed);
    close(fd);
    cr_expect(closed, "the server closes after a framing error: %.200s", got);
    return got;
}

/* The last response in `text` is `status` with a JSON error of `code`. */
static void expect_json_error(const char *what, const char *text, int status, const char *code)
{
    /* A response starts the text or follows the previous one's body (a
     * JSON body ends in '}'); the phrase inside a message does not count. */
    const char *last = text, *p = text;
    while ((p = strstr(p + 1, "HTTP/1.1 ")))
        if (p[-1] == '}' || p[-1] == '\n')
            last = p;
    cr_assert(strncmp(last, "HTTP/1.1 ", 9) == 0, "%s: no HTTP answer at all: '%.200s'", what,
              text);
    cr_expect_eq(atoi(last + 9), status, "%s: %.300s", what, last);
    cr_expect(strcasestr(last, "\r\nContent-Type: application/json\r\n"), "%s: %.300s", what, last);
    const char *body = strstr(last, "\r\n\r\n");
    cr_assert_not_null(body, "%s", what);
    json_t *j = json_loads(body + 4, 0, NULL);
    cr_assert_not_null(j, "%s: the body is not JSON: %.300s", what, body + 4);
    const json_t *e = json_object_get(j, "error");
    cr_expect_eq(json_object_size(e), 3, "%s: {code, message, field}: %s", what, body + 4);
    cr_expect_str_eq(json_string_value(json_object_get(e, "code")), code, "%s", what);
    cr_expect(json_string_length(json_object_get(e, "message")) > 0, "%s", what);
    cr_expect(json_is_string(json_object_get(e, "field")), "%s", what);
    json_decref(j);
}

static void expect_case(const char *what, const char *req, size_t len, int status, const char *code)
{
    char *got = exchange(req, len ? len : strlen(req));
    expect_json_error(what, got, status, code);
    free(got);
}

Test(framing, every_malformed_request_gets_the_json_error_shape)
{
    size_t big = 100000;
    char *huge = malloc(big + 200);
    int n = snprintf(huge, 200, "GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: ");
    memset(huge + n, 'a', big);
    memcpy(huge + n + big, "\r\n\r\n", 4);
    expect_case("oversized headers", huge, (size_t)n + big + 4, 431, "headers_too_large");
    free(huge);
    expect_case("Content-Length abc",
                "POST /api/v1/experiments HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n", 0,
                400, "bad_request");
    expect_case("negative Content-Length",
                "POST /api/v1/experiments HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n", 0,
                400, "bad_request");
    expect_case("two Content-Lengths",
                "POST /api/v1/experiments HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                "Content-Length: 6\r\n\r\n",
                0, 400, "bad_request");
    expect_case("a Content-Length past any limit",
                "POST /api/v1/experiments HTTP/1.1\r\nHost: x\r\n"
                "Content-Length: 99999999999999999999999\r\n\r\n",
                0, 413, "too_large");
    expect_case("a chunk-size overflow",
                "POST /api/v1/experiments HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                "Transfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFFFFFF\r\nabc\r\n0\r\n\r\n",
                0, 413, "too_large");
    expect_case("a chunk size that is not hex",
                "POST /api/v1/experiments HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                "zz\r\n",
                0, 400, "bad_request");
    expect_case("Content-Length with chunked",
                "POST /api/v1/experiments HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
                0, 400, "bad_request");
    expect_case("another transfer coding",
                "POST /api/v1/experiments HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n",
                0, 501, "not_implemented");
    {
        /* A request line at the limit is 414; one a few KiB long (a metrics
         * read naming many per-layer series) goes through to the router. */
        char *line = malloc(SRV_GATE_LINE_MAX + 64);
        int k = snprintf(line, 64, "GET /api/v1/runs?x=");
        memset(line + k, 'a', SRV_GATE_LINE_MAX);
        strcpy(line + k + SRV_GATE_LINE_MAX, " HTTP/1.1\r\nHost: x\r\n\r\n");
        expect_case("a request line of 8 KiB", line, 0, 414, "uri_too_long");
        size_t ok = SRV_GATE_LINE_MAX / 2;
        strcpy(line + k + ok, " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        char *got = exchange(line, strlen(line));
        cr_expect(strncmp(got, "HTTP/1.1 ", 9) == 0 && atoi(got + 9) != 414, "%.200s", got);
        free(got);
        free(line);
    }
    expect_case("a request line of one word", "GARBAGE\r\n\r\n", 0, 400, "bad_request");
    expect_case("a request line without a target", "GET\r\nHost: x\r\n\r\n", 0, 400, "bad_request");
    expect_case("HTTP/9.9", "GET /healthz HTTP/9.9\r\nHost: x\r\n\r\n", 0, 505, "http_version");
    expect_case("a header without a colon", "GET /healthz HTTP/1.1\r\nHost x\r\n\r\n", 0, 400,
                "bad_request");
    expect_case("a folded header", "GET /healthz HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", 0, 400,
                "bad_request");
    expect_case("a control character in the target", "GET /he\x01lthz HTTP/1.1\r\n\r\n", 0, 400,
                "bad_request");
    /* The server is still there. */
    json_decref(srvt_json(&srv, "GET", "/healthz", NULL, 200));
}

Test(framing, good_requests_before_a_bad_one_are_answered_first)
{
    const char *req = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
                      "GET /api/v1/runs HTTP/1.1\r\nHost: x\r\n\r\n"
                      "GET /healthz HTTP/7.0\r\nHost: x\r\n\r\n"
                      "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    char *got = exchange(req, strlen(req));
    const char *first = strstr(got, "HTTP/1.1 200");
    cr_assert_not_null(first, "%s", got);
    cr_expect(strstr(got, "\"ok\":true"), "%s", got);
    cr_expect(strstr(got, "\"runs\":[]"), "the second request was answered: %s", got);
    expect_json_error("pipelined", got, 505, "http_version");
    int answers = 0;
    for (const char *p = got; (p = strstr(p, "HTTP/1.1 ")); p++)
        answers += p == got || p[-1] == '}' || p[-1] == '\n';
    cr_expect_eq(answers, 3, "two answers, the error, nothing after it: %s", got);
    free(got);
}

/* The framing check alone, fed one byte at a time: it holds a head until
 * it is complete and releases body bytes at once. */
Test(framing, the_check_releases_whole_heads_and_body_bytes)
{
    const char *req = "POST /x HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc"
                      "POST /y HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n";
    struct srv_frame f;
    srv_frame_init(&f);
    size_t n = strlen(req), released = 0,
           head1 = strlen("POST /x HTTP/1.1\r\nContent-Length: 3\r\n\r\n");
    for (size_t i = 0; i < n; i++) {
        released += srv_frame_feed(&f, req + i, 1);
        if (i + 1 < head1)
            cr_assert_eq(released, 0, "nothing of an incomplete head at byte %zu", i);
    }
    cr_expect_eq(released, n, "everything released once complete");
    cr_expect_eq(f.state, SRV_F_LINE);
    srv_frame_init(&f);
    const char *bad = "GET / HTTP/1.1\r\n\r\nGET / HTTP/2.5\r\n\r\n";
    cr_expect_eq(srv_frame_feed(&f, bad, strlen(bad)), strlen("GET / HTTP/1.1\r\n\r\n"));
    cr_expect_eq(f.state, SRV_F_BAD);
    cr_expect_eq(f.status, 505);
}
