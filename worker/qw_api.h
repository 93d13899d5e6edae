/* The worker's side of the REST contract (docs/api.md) on top of qw_http:
 * builds a request (base URL, /api/v1 prefix, bearer token, lease header,
 * JSON or binary body) and sorts every answer into what the caller should
 * do with it:
 *   QW_API_OK        2xx, and the body parsed when JSON was expected;
 *   QW_API_RETRY     no answer, 5xx, 408, 429, or a 2xx whose body is not
 *                    the JSON it should be: try again after a back-off;
 *   QW_API_GONE      401, 403, 404, 409: the thing (run, lease, worker) is
 *                    no longer ours; retrying cannot help;
 *   QW_API_REJECTED  any other 4xx: the request itself is wrong (a bug).
 * Loop thread only. */
#ifndef QW_API_H
#define QW_API_H

#include <jansson.h>
#include <stdbool.h>

#include "qw_config.h"
#include "qw_http.h"

struct qw_api {
    struct qw_http *http; /* borrowed */
    char base[QW_URL_MAX];
    long timeout_ms;
};

struct qw_api_call {
    const char *method;
    const char *path;  /* below /api/v1, e.g. "/runs/7/start" */
    const char *token; /* bearer token, "" or NULL for none */
    const char *lease; /* X-Qlab-Lease, or NULL */
    json_t *json;      /* JSON body (borrowed), or NULL */
    void *bytes;       /* else a binary body, with its ownership mode */
    size_t len;
    enum qw_http_body mode;
    const char *const *headers; /* extra "Name: value" lines, NULL-terminated */
    long timeout_ms;            /* 0: the default */
    size_t max_response;        /* 0: the client's default */
};

int qw_api_send(struct qw_api *a, struct qw_http_req **out, const struct qw_api_call *c,
                qw_http_cb cb, void *ctx, struct qc_err *err);

enum qw_api_class { QW_API_OK, QW_API_RETRY, QW_API_GONE, QW_API_REJECTED };

struct qw_api_result {
    enum qw_api_class cls;
    long status;
    json_t *json;  /* the parsed body (owned; qw_api_result_free), or NULL */
    char code[64]; /* error.code of an error body, or "" */
    char msg[512]; /* what went wrong, for logs: "HTTP 500 internal: ..." */
};

/* Classifies `resp`. With expect_json, a 2xx other than 204 must carry a
 * JSON object. */
void qw_api_parse(struct qw_api_result *r, const struct qw_http_resp *resp, bool expect_json);
void qw_api_result_free(struct qw_api_result *r);
const char *qw_api_class_name(enum qw_api_class c);

#endif
