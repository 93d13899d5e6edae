/* An asynchronous HTTP client for the worker's event loop: libcurl's multi
 * interface driven by libuv (uv_poll per socket, one uv_timer for curl's
 * timeouts), so that no request ever blocks the loop thread. Connections
 * are reused between requests to the same server.
 *
 * Ownership: the client is created and destroyed by the caller on the loop
 * thread; a request belongs to the client from qw_http_send until its
 * callback has returned (or until qw_http_cancel). Everything here must be
 * called on the loop thread. */
#ifndef QW_HTTP_H
#define QW_HTTP_H

#include <stddef.h>
#include <uv.h>

#include "qcore/error.h"

struct qw_http;
struct qw_http_req;

/* What came back. `status` is the HTTP status, 0 when no response arrived
 * (connection refused, timeout, reset, body above the limit); `error` then
 * says why ("" otherwise). `body` is NUL-terminated, `len` bytes without
 * the NUL; all of it is borrowed for the duration of the callback. */
struct qw_http_resp {
    long status;
    const char *body;
    size_t len;
    const char *error;
    double elapsed_s;
};

typedef void (*qw_http_cb)(void *ctx, const struct qw_http_resp *resp);

enum qw_http_body {
    QW_BODY_COPY = 0, /* copied at qw_http_send */
    QW_BODY_TAKE,     /* the client owns it from qw_http_send on and free()s it */
    QW_BODY_BORROW,   /* the caller keeps it alive until the callback or qw_http_cancel */
};

struct qw_http_opts {
    const char *method;         /* "GET", "POST", "PUT" */
    const char *url;            /* copied */
    const char *const *headers; /* "Name: value" strings, NULL-terminated, copied; may be NULL */
    void *body;                 /* request body; may be NULL */
    size_t len;
    enum qw_http_body body_mode; /* who owns `body` */
    long timeout_ms;             /* whole transfer; 0 = none */
    size_t max_response;         /* bytes; 0 = 16 MiB */
};

int qw_http_create(struct qw_http **out, uv_loop_t *loop, struct qc_err *err);
/* Verifies https:// servers against the PEM CA file `path` (copied; NULL or
 * "" = the system's CA store) for every request sent after the call. */
int qw_http_set_cacert(struct qw_http *h, const char *path, struct qc_err *err);
/* Aborts every pending request without calling its callback, and closes
 * the client's handles (freed by the loop's close callbacks). NULL: no-op. */
void qw_http_destroy(struct qw_http *h);

/* Starts a request; `cb(ctx, resp)` runs once, on the loop thread, when it
 * ends. `*out` (may be NULL) receives a handle valid until the callback
 * starts. On failure (QC_ENOMEM, QC_EINTERNAL) the callback never runs and
 * a QW_BODY_TAKE body has been freed. */
int qw_http_send(struct qw_http *h, struct qw_http_req **out, const struct qw_http_opts *o,
                 qw_http_cb cb, void *ctx, struct qc_err *err);
/* Aborts a request whose callback has not run yet; it never will. */
void qw_http_cancel(struct qw_http_req *r);

#endif
