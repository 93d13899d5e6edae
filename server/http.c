/* The libmicrohttpd side: routing a request to its handler, collecting the
 * body within its size limit, authenticating the caller, and turning a
 * handler's result into a response with the JSON error shape. */
#include "server/http.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "server/srv.h"
#include "server/store.h"

/* ---- routing ------------------------------------------------------------ */

/* Matches `path` against `pattern`; {id} takes a positive decimal id.
 * Returns 1 on a match, 0 when the shape differs, -1 when only the id is
 * malformed (a 400 rather than a 404). */
static int match(const char *pattern, const char *path, int64_t *id)
{
    const char *p = pattern, *u = path;
    while (*p && *u) {
        if (strncmp(p, "{id}", 4) == 0) {
            const char *s = u;
            int64_t v = 0;
            bool bad = false;
            while (*u && *u != '/') {
                if (!isdigit((unsigned char)*u) || v > (INT64_MAX - 9) / 10)
                    bad = true;
                else
                    v = v * 10 + (*u - '0');
                u++;
            }
            if (u == s)
                return 0;
            p += 4;
            if (bad || v == 0) {
                /* Only report a bad id when the rest of the path matches. */
                int64_t dummy;
                char rest_p[256];
                snprintf(rest_p, sizeof rest_p, "%s", p);
                return match(rest_p, u, &dummy) != 0 ? -1 : 0;
            }
            *id = v;
            continue;
        }
        if (*p != *u)
            return 0;
        p++;
        u++;
    }
    return *p == '\0' && *u == '\0';
}

/* Finds the route; sets *status to 404/405/400 when there is none. */
static const struct srv_route *route_find(const char *method, const char *url, int64_t *id,
                                          int *status, char *allow, size_t allow_len)
{
    bool path_known = false, bad_id = false;
    allow[0] = '\0';
    for (int i = 0; i < srv_nroutes; i++) {
        const struct srv_route *rt = &srv_routes[i];
        int64_t v = 0;
        int m = match(rt->pattern, url, &v);
        if (m < 0) {
            bad_id = true;
            continue;
        }
        if (m == 0)
            continue;
        bool same = strcmp(rt->method, method) == 0 ||
                    (strcmp(method, "HEAD") == 0 && strcmp(rt->method, "GET") == 0);
        if (same) {
            *id = v;
            return rt;
        }
        path_known = true;
        size_t n = strlen(allow);
        if (!strstr(allow, rt->method))
            snprintf(allow + n, allow_len - n, "%s%s", n ? ", " : "", rt->method);
    }
    /* Everything outside the API is the dashboard's static files. */
    if (!path_known && !bad_id && strncmp(url, "/api/", 5) != 0 && strcmp(url, "/metrics") != 0 &&
        strcmp(url, "/healthz") != 0 && (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0))
        return &srv_static_route;
    *status = bad_id ? 400 : path_known ? 405 : 404;
    return NULL;
}

/* ---- responses ---------------------------------------------------------- */

static const char *default_code(int code)
{
    switch (code) {
    case QC_EINVAL:
    case QC_ERANGE:
        return "invalid_request";
    case QC_ENOTFOUND:
        return "not_found";
    case QC_ECONFLICT:
        return "conflict";
    case QC_ESTALE:
        return "stale_lease";
    case QC_EUNAUTH:
        return "unauthorized";
    case QC_EFORBID:
        return "forbidden";
    case QC_ETOOBIG:
        return "too_large";
    case QC_EUNAVAIL:
        return "unavailable";
    case QC_EUNSUPP:
        return "unsupported";
    case QC_ECORRUPT:
        return "invalid_request";
    default:
        return "internal";
    }
}

static enum MHD_Result queue_json(struct MHD_Connection *conn, int status, json_t *body,
                                  const char *allow, int retry_after)
{
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    size_t len = text ? strlen(text) : 0;
    /* MUST_FREE: libmicrohttpd frees the jansson buffer (plain malloc). */
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        len, text ? text : (void *)"", text ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
    if (!resp) {
        free(text);
        return MHD_NO;
    }
    if (text)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (allow && allow[0])
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
    /* A busy database, a full list pool, shutting down, a rate limit:
     * worth a retry, and when. */
    if (status == 503 || status == 429) {
        char ra[16];
        snprintf(ra, sizeof ra, "%d", retry_after > 0 ? retry_after : 1);
        MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, ra);
    }
    enum MHD_Result ret = MHD_queue_response(conn, (unsigned)status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static enum MHD_Result queue_error(struct MHD_Connection *conn, int status, const char *code,
                                   const char *field, const char *msg, const char *allow,
                                   int retry_after, json_t *errors)
{
    json_t *e = json_pack("{s:{s:s,s:s,s:s}}", "error", "code", code, "message", msg, "field",
                          field ? field : "");
    if (e && errors)
        json_object_set(json_object_get(e, "error"), "errors", errors);
    enum MHD_Result ret = queue_json(conn, status, e, allow, retry_after);
    json_decref(e);
    return ret;
}

static enum MHD_Result finish(struct srv_req *r, int rc)
{
    if (rc < 0) {
        int status = qc_error_http_status(rc);
        if (status == 501)
            status = 400; /* a spec this build cannot run is the client's to fix */
        if (r->status >= 400)
            status = r->status; /* a handler's more precise status (415) */
        return queue_error(r->conn, status, r->err_code[0] ? r->err_code : default_code(rc),
                           r->err.field, r->err.msg[0] ? r->err.msg : qc_strerror(rc), NULL,
                           r->retry_after, r->errors);
    }
    if (r->resp) {
        enum MHD_Result ret =
            MHD_queue_response(r->conn, (unsigned)(r->status ? r->status : 200), r->resp);
        MHD_destroy_response(r->resp);
        r->resp = NULL;
        return ret;
    }
    return queue_json(r->conn, r->status ? r->status : 200, r->reply, NULL, 0);
}

/* ---- authentication ----------------------------------------------------- */

static int authenticate(struct srv_req *r)
{
    struct srv_server *s = r->srv;
    unsigned need = r->route->flags & SRV_AUTH_MASK;

    if (!s->auth.enabled) {
        r->role = SRV_ROLE_ADMIN;
        return QC_OK;
    }
    if (need == SRV_AUTH_PUBLIC)
        return QC_OK;
    const char *h =
        MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    const char *tok = NULL;
    if (h && strncasecmp(h, "Bearer ", 7) == 0)
        tok = h + 7;
    /* EventSource cannot set headers: the dashboard passes ?token= there. */
    if (!tok && strcmp(r->method, "GET") == 0)
        tok = srv_query(r, "token");
    if (!tok || !tok[0] || strlen(tok) > SRV_TOKEN_MAX)
        return srv_fail(r, QC_EUNAUTH, NULL, "Authorization", "a bearer token is required");
    r->role = srv_auth_find(&s->auth, tok, &r->token_index);
    r->who = r->token_index >= 0 ? s->auth.tokens[r->token_index].name : NULL;
    if (r->role == SRV_ROLE_NONE) {
        int64_t wid = srv_worker_by_token(s, tok);
        if (wid > 0) {
            r->role = SRV_ROLE_WORKER;
            r->worker_id = wid;
        }
    }
    if (r->role == SRV_ROLE_NONE)
        return srv_fail(r, QC_EUNAUTH, NULL, "Authorization", "unknown token");
    if (r->role == SRV_ROLE_ADMIN)
        return QC_OK;
    bool ok = false;
    switch (need) {
    case SRV_AUTH_READ:
        ok = r->role == SRV_ROLE_READ;
        break;
    case SRV_AUTH_JOIN:
        ok = r->role == SRV_ROLE_JOIN;
        break;
    case SRV_AUTH_WORKER:
        ok = r->role == SRV_ROLE_WORKER && r->worker_id == r->id;
        break;
    case SRV_AUTH_LEASE:
        ok = r->role == SRV_ROLE_WORKER ||
             (r->role == SRV_ROLE_READ && (r->route->flags & SRV_READ_OR_LEASE));
        break;
    default:
        ok = false;
    }
    if (!ok)
        return srv_fail(r, QC_EFORBID, NULL, "Authorization", "this token may not call %s %s",
                        r->method, r->route->pattern);
    return QC_OK;
}

/* ---- query parameters --------------------------------------------------- */

struct query_check {
    struct srv_req *r;
    int rc;
};

/* Whether `key` is one of the comma-separated names of `list`. */
static bool in_list(const char *list, const char *key)
{
    size_t n = strlen(key);
    for (const char *p = list; p && *p;) {
        size_t len = strcspn(p, ",");
        if (len == n && strncmp(p, key, n) == 0)
            return true;
        p += len + (p[len] == ',');
    }
    return false;
}

static enum MHD_Result query_key(void *cls, enum MHD_ValueKind kind, const char *key,
                                 const char *value)
{
    struct query_check *q = cls;
    const struct srv_route *rt = q->r->route;
    (void)kind;
    (void)value;
    if (in_list(rt->query, key) || (strcmp(key, "token") == 0 && strcmp(rt->method, "GET") == 0))
        return MHD_YES;
    /* GET /runs: spec-field and metric filters; the handler checks them. */
    if ((rt->flags & SRV_QUERY_FILTERS) && (strchr(key, '.') || isalpha((unsigned char)key[0])))
        return MHD_YES;
    char field[140];
    snprintf(field, sizeof field, "?%.130s", key);
    q->rc = srv_fail(q->r, QC_EINVAL, "bad_param", field,
                     "unknown query parameter '%.100s' for %s %s (it takes: %s)", key, rt->method,
                     rt->pattern, rt->query && rt->query[0] ? rt->query : "none");
    return MHD_NO;
}

/* Every query parameter must be one the route declares: a misspelt
 * `?dry_run=1` must not quietly queue a real run. */
static int check_query(struct srv_req *r)
{
    struct query_check q = {.r = r, .rc = QC_OK};
    if (r->route->flags & SRV_QUERY_ANY)
        return QC_OK;
    MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, query_key, &q);
    return q.rc;
}

/* ---- the access handler ------------------------------------------------- */

static int body_begin(struct srv_req *r)
{
    const struct srv_config *cfg = &r->srv->cfg;
    const char *cl =
        MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    size_t limit = (r->route->flags & SRV_BODY_FILE) ? cfg->max_checkpoint : cfg->max_body;
    if (cl && strtoull(cl, NULL, 10) > limit)
        return srv_fail(r, QC_ETOOBIG, NULL, "Content-Length",
                        "the body is larger than the limit of %zu bytes", limit);
    if (r->route->flags & SRV_BODY_JSON) {
        const char *ct =
            MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
        if (ct && strncasecmp(ct, "application/json", 16) != 0)
            return r->status = 415, srv_fail(r, QC_EINVAL, "unsupported_media_type", "Content-Type",
                                             "expected application/json, got '%.80s'", ct);
    }
    if (r->route->handler == srv_route_checkpoint_put) {
        int rc = srv_checkpoint_put_begin(r);
        if (rc < 0)
            return rc;
    }
    if (r->route->flags & SRV_BODY_FILE) {
        snprintf(r->body_path, sizeof r->body_path, "%s/upload-XXXXXX", cfg->data_dir);
        int fd = mkstemp(r->body_path);
        if (fd < 0 || !(r->body_file = fdopen(fd, "wb"))) {
            if (fd >= 0)
                close(fd);
            r->body_path[0] = '\0';
            return srv_fail(r, QC_EIO, NULL, "",
                            "cannot create an upload file in the data "
                            "directory");
        }
        r->body_crc = (uint32_t)crc32(0L, Z_NULL, 0);
    }
    return QC_OK;
}

static void body_append(struct srv_req *r, const char *data, size_t n)
{
    const struct srv_config *cfg = &r->srv->cfg;
    size_t limit = (r->route->flags & SRV_BODY_FILE) ? cfg->max_checkpoint : cfg->max_body;
    if (r->too_big || r->body_errno || r->body_len + n > limit) {
        if (!r->body_errno)
            r->too_big = true; /* keep reading (and dropping) so the 413 arrives */
        return;
    }
    if (r->body_file) {
        errno = 0;
        if (fwrite(data, 1, n, r->body_file) != n) {
            r->body_errno = errno ? errno : EIO; /* disk full: 507, not 413 */
            /* Give the space back at once; the rest of the body is dropped. */
            fclose(r->body_file);
            r->body_file = NULL;
            unlink(r->body_path);
            r->body_path[0] = '\0';
            return;
        }
        r->body_crc = (uint32_t)crc32(r->body_crc, (const Bytef *)data, (uInt)n);
        r->body_len += n;
        return;
    }
    if (r->body_len + n + 1 > r->body_cap) {
        size_t cap = r->body_cap ? r->body_cap : 4096;
        while (cap < r->body_len + n + 1)
            cap *= 2;
        char *b = realloc(r->body, cap);
        if (!b) {
            r->body_errno = ENOMEM;
            return;
        }
        r->body = b;
        r->body_cap = cap;
    }
    memcpy(r->body + r->body_len, data, n);
    r->body_len += n;
    r->body[r->body_len] = '\0';
}

static void req_free(struct srv_req *r)
{
    if (r->state_free)
        r->state_free(r->state);
    json_decref(r->reply);
    json_decref(r->errors);
    if (r->resp)
        MHD_destroy_response(r->resp);
    if (r->body_file)
        fclose(r->body_file);
    if (r->body_path[0])
        unlink(r->body_path); /* a handler that kept the upload renamed it */
    free(r->body);
    free(r);
}

enum MHD_Result srv_http_access(void *cls, struct MHD_Connection *conn, const char *url,
                                const char *method, const char *version, const char *upload_data,
                                size_t *upload_data_size, void **con_cls)
{
    struct srv_server *s = cls;
    struct srv_req *r = *con_cls;
    (void)version;

    if (!r) {
        int64_t id = 0;
        int status = 404;
        char allow[64];
        const struct srv_route *rt = route_find(method, url, &id, &status, allow, sizeof allow);
        atomic_fetch_add(&s->stats.requests, 1);
        if (!rt) {
            /* Answer at once; libmicrohttpd discards any body. The request
             * still gets a completion callback with *con_cls == NULL. */
            if (status == 405)
                return queue_error(conn, 405, "method_not_allowed", "",
                                   "this path does not take that method", allow, 0, NULL);
            if (status == 400)
                return queue_error(conn, 400, "bad_param", "", "malformed id in the path", NULL, 0,
                                   NULL);
            return queue_error(conn, 404, "not_found", "", "no such route", NULL, 0, NULL);
        }
        /* The headers are complete: the short header timeout ends here. */
        MHD_set_connection_option(conn, MHD_CONNECTION_OPTION_TIMEOUT, SRV_IDLE_TIMEOUT_S);
        r = calloc(1, sizeof *r);
        if (!r)
            return MHD_NO;
        r->srv = s;
        r->conn = conn;
        r->route = rt;
        r->method = method;
        r->url = url;
        r->id = id;
        r->token_index = -1;
        r->t0 = srv_mono();
        *con_cls = r;
        int rc = authenticate(r);
        if (rc == 0)
            rc = check_query(r);
        if (rc == 0)
            rc = body_begin(r);
        if (rc < 0)
            return finish(r, rc);
        return MHD_YES;
    }
    if (r->offloaded) /* back from the offload pool with its answer (or error) */
        return finish(r, r->offload_rc);
    if (r->err.code < 0) /* answered already (auth or limits); drop the body */
        return (*upload_data_size = 0, MHD_YES);
    if (*upload_data_size) {
        body_append(r, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (r->body_errno || (r->body_file && fflush(r->body_file) != 0 && (r->body_errno = errno)))
        return finish(r, srv_fail_storage(r, r->body_errno));
    if (r->too_big) {
        size_t limit = (r->route->flags & SRV_BODY_FILE) ? s->cfg.max_checkpoint : s->cfg.max_body;
        return finish(r, srv_fail(r, QC_ETOOBIG, NULL, "",
                                  "the body is larger than the limit "
                                  "of %zu bytes",
                                  limit));
    }
    if (r->route->flags & SRV_OFFLOAD) {
        if (r->offload_queued)
            return MHD_YES; /* still on the pool */
        if (srv_offload_push(&s->offload, r)) {
            r->offload_queued = true; /* suspended until the pool has run it */
            return MHD_YES;
        }
    } /* (the pool is stopping: run it here) */
    int rc = r->route->handler(r);
    if (rc == SRV_SUSPENDED) {
        r->suspended_once = true;
        return MHD_YES;
    }
    return finish(r, rc);
}

void srv_http_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                        enum MHD_RequestTerminationCode toe)
{
    struct srv_server *s = cls;
    struct srv_req *r = *con_cls;
    (void)toe;
    /* Waiting for the next request on a keep-alive connection: the short
     * timeout again, so idle sockets cannot pile up. */
    MHD_set_connection_option(conn, MHD_CONNECTION_OPTION_TIMEOUT,
                              (unsigned)s->cfg.header_timeout_s);
    if (!r)
        return;
    /* Streams and long-polls would swamp the histogram: only plain requests. */
    if (!r->suspended_once &&
        !(r->route->handler == srv_route_events || r->route->handler == srv_route_run_events)) {
        double dt = srv_mono() - r->t0;
        int b = 0;
        while (b < SRV_LAT_BUCKETS && dt > srv_lat_bounds[b])
            b++;
        atomic_fetch_add(&s->stats.lat_count[b], 1);
        atomic_fetch_add(&s->stats.lat_sum_us, (long long)(dt * 1e6));
    }
    req_free(r);
    *con_cls = NULL;
}
