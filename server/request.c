/* What a route handler uses of its request: the JSON body, query
 * parameters, and the reply or error it leaves for the access handler
 * (http.c) to send. Apart from http.c so that handlers call down into it
 * and http.c calls down into the handlers, never in a circle. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/http.h"
#include "server/srv.h"

/* Upper bounds of the latency histogram buckets (seconds). */
const double srv_lat_bounds[SRV_LAT_BUCKETS] = {0.0005, 0.001, 0.0025, 0.005, 0.01,
                                                0.025,  0.05,  0.1,    0.5,   2.5};

int srv_reply(struct srv_req *r, int status, json_t *body)
{
    json_decref(r->reply);
    r->reply = body;
    r->status = status;
    return QC_OK;
}

int srv_reply_text(struct srv_req *r, int status, char *text, size_t len)
{
    /* MUST_FREE: libmicrohttpd frees the text (plain malloc). */
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(text);
        return srv_fail(r, QC_ENOMEM, NULL, "", "out of memory");
    }
    /* The headers queue_json (http.c) gives a JSON answer. */
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (r->resp)
        MHD_destroy_response(r->resp);
    r->resp = resp;
    r->status = status;
    return QC_OK;
}

int srv_fail(struct srv_req *r, int code, const char *err_code, const char *field, const char *fmt,
             ...)
{
    va_list ap;
    char msg[sizeof r->err.msg];
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    qc_err_set(&r->err, code, field ? field : "", "%s", msg);
    snprintf(r->err_code, sizeof r->err_code, "%s", err_code ? err_code : "");
    return code;
}

int srv_fail_storage(struct srv_req *r, int e)
{
    if (e == ENOSPC || e == EDQUOT || e == EFBIG) {
        r->status = 507;
        return srv_fail(r, QC_EIO, "insufficient_storage", "",
                        "the server cannot store the upload (%s); nothing was kept, retry later",
                        strerror(e));
    }
    return srv_fail(r, e == ENOMEM ? QC_ENOMEM : QC_EIO, NULL, "",
                    "the server could not keep the body (%s); nothing was kept", strerror(e));
}

json_t *srv_body_json(struct srv_req *r)
{
    json_error_t je;
    if (!r->body || r->body_len == 0) {
        srv_fail(r, QC_EINVAL, "bad_json", "", "the request needs a JSON body");
        return NULL;
    }
    json_t *j = json_loadb(r->body, r->body_len, JSON_REJECT_DUPLICATES, &je);
    if (!j) {
        srv_fail(r, QC_EINVAL, "bad_json", "", "line %d, column %d: %s", je.line, je.column,
                 je.text);
        return NULL;
    }
    if (!json_is_object(j)) {
        json_decref(j);
        srv_fail(r, QC_EINVAL, "invalid_request", "", "the body must be a JSON object");
        return NULL;
    }
    return j;
}

const char *srv_query(struct srv_req *r, const char *key)
{
    return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, key);
}

int srv_query_int(struct srv_req *r, const char *key, int64_t lo, int64_t hi, int64_t def,
                  int64_t *out)
{
    const char *v = srv_query(r, key);
    char field[80];
    snprintf(field, sizeof field, "?%s", key);
    *out = def;
    if (!v)
        return QC_OK;
    char *end;
    long long x = strtoll(v, &end, 10);
    if (!v[0] || *end || x < lo || x > hi)
        return srv_fail(r, QC_EINVAL, "bad_param", field, "%s must be an integer in %lld..%lld",
                        key, (long long)lo, (long long)hi);
    *out = x;
    return QC_OK;
}
