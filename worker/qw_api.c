/* REST calls and the classification of their answers (see qw_api.h). */
#include "qw_api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_HEADERS 16

int qw_api_send(struct qw_api *a, struct qw_http_req **out, const struct qw_api_call *c,
                qw_http_cb cb, void *ctx, struct qc_err *err)
{
    char url[QW_URL_MAX + 512], auth[QW_TOKEN_MAX + 32], lease[QW_TOKEN_MAX + 32];
    const char *hdr[MAX_HEADERS + 1];
    int nh = 0;
    struct qw_http_opts o = {.method = c->method, .url = url, .headers = hdr};

    snprintf(url, sizeof url, "%s/api/v1%s", a->base, c->path);
    if (c->token && *c->token) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", c->token);
        hdr[nh++] = auth;
    }
    if (c->lease) {
        snprintf(lease, sizeof lease, "X-Qlab-Lease: %s", c->lease);
        hdr[nh++] = lease;
    }
    for (int i = 0; c->headers && c->headers[i] && nh < MAX_HEADERS - 2; i++)
        hdr[nh++] = c->headers[i];
    if (c->json) {
        char *text = json_dumps(c->json, JSON_COMPACT);
        if (!text) {
            if (c->mode == QW_BODY_TAKE)
                free(c->bytes);
            return qc_err_set(err, QC_ENOMEM, "", "out of memory for a request body");
        }
        hdr[nh++] = "Content-Type: application/json";
        o.body = text;
        o.len = strlen(text);
        o.body_mode = QW_BODY_TAKE;
    } else if (c->bytes) {
        hdr[nh++] = "Content-Type: application/octet-stream";
        o.body = c->bytes;
        o.len = c->len;
        o.body_mode = c->mode;
    } else if (strcmp(c->method, "GET") != 0) {
        hdr[nh++] = "Content-Type: application/json";
        o.body = "{}";
        o.len = 2;
        o.body_mode = QW_BODY_COPY;
    }
    hdr[nh] = NULL;
    o.timeout_ms = c->timeout_ms ? c->timeout_ms : a->timeout_ms;
    o.max_response = c->max_response;
    return qw_http_send(a->http, out, &o, cb, ctx, err);
}

void qw_api_parse(struct qw_api_result *r, const struct qw_http_resp *resp, bool expect_json)
{
    json_error_t jerr;
    const long s = resp->status;

    memset(r, 0, sizeof *r);
    r->status = s;
    if (s == 0) {
        r->cls = QW_API_RETRY;
        snprintf(r->msg, sizeof r->msg, "no answer: %s", resp->error);
        return;
    }
    if (resp->len)
        r->json = json_loadb(resp->body, resp->len, 0, &jerr);
    if (r->json && !json_is_object(r->json)) {
        json_decref(r->json);
        r->json = NULL;
    }
    if (s >= 200 && s < 300) {
        r->cls = QW_API_OK;
        if (expect_json && s != 204 && !r->json) {
            r->cls = QW_API_RETRY;
            snprintf(r->msg, sizeof r->msg,
                     "HTTP %ld with a body that is not a JSON object (%zu bytes)", s, resp->len);
        }
        return;
    }
    const json_t *e = r->json ? json_object_get(r->json, "error") : NULL;
    const char *code = json_string_value(json_object_get(e, "code"));
    const char *msg = json_string_value(json_object_get(e, "message"));
    snprintf(r->code, sizeof r->code, "%s", code ? code : "");
    snprintf(r->msg, sizeof r->msg, "HTTP %ld%s%s%s%s", s, code ? " " : "", code ? code : "",
             msg ? ": " : "", msg ? msg : "");
    if (s >= 500 || s == 408 || s == 429)
        r->cls = QW_API_RETRY;
    else if (s == 401 || s == 403 || s == 404 || s == 409)
        r->cls = QW_API_GONE;
    else
        r->cls = QW_API_REJECTED;
}

void qw_api_result_free(struct qw_api_result *r)
{
    json_decref(r->json);
    r->json = NULL;
}

const char *qw_api_class_name(enum qw_api_class c)
{
    static const char *const names[] = {"ok", "retry", "gone", "rejected"};
    return (unsigned)c < 4 ? names[c] : "?";
}
