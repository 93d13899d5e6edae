/* The qlab REST client's transport: which server, token and CA file (flags,
 * then QLAB_SERVER, QLAB_TOKEN and QLAB_CACERT), one blocking request with libcurl, and the
 * server's JSON error shape turned into a one-line message. Exit statuses
 * follow the CLI contract: 2 usage, 1 server or network error. */
#ifndef CLI_REST_H
#define CLI_REST_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "qcore/error.h"

#define CLI_REST_MAX_RESPONSE (256u << 20)

struct cli_rest {
    char base[512];    /* "http://127.0.0.1:8080", no trailing slash */
    char token[256];   /* "" = none */
    char cacert[1024]; /* PEM CA file verifying an https:// server; "" = the system store */
    double timeout_s;  /* whole request; 0 = none (streams) */
};

/* Fills from the environment (QLAB_SERVER, default http://127.0.0.1:8080;
 * QLAB_TOKEN; QLAB_CACERT). */
void cli_rest_init(struct cli_rest *r);

/* Applies the shared options --server URL, --token T and --cacert FILE found in argv, and
 * removes them from argv (so each command parses only its own). QC_EINVAL
 * when one lacks its value. */
int cli_rest_take_opts(struct cli_rest *r, int *argc, char **argv, struct qc_err *err);

/* One request. `body` (may be NULL) is sent as application/json. On a 2xx
 * answer *out receives the parsed JSON (NULL for an empty body; caller
 * decrefs) and *status the code. A non-2xx answer is QC_EIO with the
 * server's message ("400 invalid_spec at /arith/...: ..."), a network
 * failure QC_EIO naming the server. */
int cli_rest_call(const struct cli_rest *r, const char *method, const char *path,
                  const json_t *body, long *status, json_t **out, struct qc_err *err);

/* A request with any body and answer: `body` (body_len bytes, may be
 * NULL) sent as `content_type`, extra header lines (NULL-terminated, may
 * be NULL), the answer's bytes appended to `out` (caller-owned). Errors as
 * for cli_rest_call. */
struct cli_buf;
int cli_rest_raw(const struct cli_rest *r, const char *method, const char *path, const void *body,
                 size_t body_len, const char *content_type, const char *const *extra, long *status,
                 struct cli_buf *out, struct qc_err *err);

/* Streams GET `path` as Server-Sent Events: calls `on_event(ctx, id,
 * event, data)` for each event, and with event ":" for each keep-alive
 * comment, until it returns nonzero (the stream then ends with QC_OK) or
 * the connection fails (QC_EIO). */
int cli_rest_sse(const struct cli_rest *r, const char *path,
                 int (*on_event)(void *ctx, const char *id, const char *event, const char *data),
                 void *ctx, struct qc_err *err);

/* `s` percent-encoded for a query string: a new string (caller frees),
 * NULL when out of memory. */
char *cli_rest_escape(const char *s);

/* The shared options' help text. */
extern const char cli_rest_opts_help[];

#endif
