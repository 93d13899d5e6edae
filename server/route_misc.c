/* Health, Prometheus metrics, the format catalogue, and the dashboard's
 * static files. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "qcore/format.h"
#include "qcore/format_json.h"
#include "server/cost.h"
#include "server/http.h"
#include "server/srv.h"

int srv_route_healthz(struct srv_req *r)
{
    struct srv_conn *c = srv_db_reader(&r->srv->db);
    bool ok = c && sqlite3_exec(c->db, "SELECT 1 FROM runs LIMIT 1", NULL, NULL, NULL) == SQLITE_OK;
    if (!ok)
        return srv_fail(r, QC_EUNAVAIL, NULL, "", "the database is not readable");
    return srv_reply(
        r, 200, json_pack("{s:b,s:f}", "ok", 1, "uptime_s", srv_mono() - r->srv->stats.started));
}

/* ---- Prometheus text exposition ----------------------------------------- */

struct text {
    char *s;
    size_t len, cap;
};

static void tprintf(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void tprintf(struct text *t, const char *fmt, ...)
{
    va_list ap;
    for (;;) {
        va_start(ap, fmt);
        int n = vsnprintf(t->s ? t->s + t->len : NULL, t->s ? t->cap - t->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0)
            return;
        if (t->s && t->len + (size_t)n < t->cap) {
            t->len += (size_t)n;
            return;
        }
        size_t cap = t->cap ? t->cap * 2 : 4096;
        while (cap < t->len + (size_t)n + 1)
            cap *= 2;
        char *p = realloc(t->s, cap);
        if (!p)
            return;
        t->s = p;
        t->cap = cap;
    }
}

int srv_route_prometheus(struct srv_req *r)
{
    static const char states_sql[] = "SELECT state, count(*) FROM runs GROUP BY state";
    static const char live_sql[] = "SELECT count(*) FROM workers WHERE last_seen > ?";
    static const char *const states[] = {"queued",    "leased", "running",
                                         "succeeded", "failed", "canceled"};
    struct srv_server *s = r->srv;
    struct text t = {0};
    int64_t counts[6] = {0};
    struct srv_conn *c = srv_db_reader(&s->db);
    if (!c)
        return srv_fail(r, QC_EIO, NULL, "", "database: cannot open a reader");
    sqlite3_stmt *st = srv_stmt(c, states_sql, &r->err);
    if (!st)
        return QC_EIO;
    while (sqlite3_step(st) == SQLITE_ROW)
        for (int i = 0; i < 6; i++)
            if (strcmp((const char *)sqlite3_column_text(st, 0), states[i]) == 0)
                counts[i] = sqlite3_column_int64(st, 1);
    sqlite3_reset(st);
    int64_t live = 0;
    if ((st = srv_stmt(c, live_sql, &r->err))) {
        sqlite3_bind_double(st, 1, srv_now() - 3 * s->cfg.heartbeat - s->cfg.lease_ttl);
        if (sqlite3_step(st) == SQLITE_ROW)
            live = sqlite3_column_int64(st, 0);
        sqlite3_reset(st);
    }
    tprintf(&t, "# HELP qlab_runs Runs by state.\n# TYPE qlab_runs gauge\n");
    for (int i = 0; i < 6; i++)
        tprintf(&t, "qlab_runs{state=\"%s\"} %lld\n", states[i], (long long)counts[i]);
    tprintf(&t,
            "# HELP qlab_queue_depth Runs waiting for a worker.\n"
            "# TYPE qlab_queue_depth gauge\nqlab_queue_depth %lld\n",
            (long long)counts[0]);
    tprintf(&t,
            "# HELP qlab_workers_live Workers seen within their lease time.\n"
            "# TYPE qlab_workers_live gauge\nqlab_workers_live %lld\n",
            (long long)live);
    tprintf(&t,
            "# HELP qlab_metric_points_total Metric points accepted (rate() gives the "
            "ingest rate).\n# TYPE qlab_metric_points_total counter\n"
            "qlab_metric_points_total %lld\n",
            (long long)atomic_load(&s->stats.points));
    tprintf(&t,
            "# HELP qlab_event_stream_reads_total Reads of the event log by open event streams "
            "(coalesced: at most one per stream per 0.25 s).\n"
            "# TYPE qlab_event_stream_reads_total counter\nqlab_event_stream_reads_total %lld\n",
            (long long)atomic_load(&s->stats.stream_reads));
    tprintf(&t,
            "# HELP qlab_http_requests_total Requests received.\n"
            "# TYPE qlab_http_requests_total counter\nqlab_http_requests_total %lld\n",
            (long long)atomic_load(&s->stats.requests));
    tprintf(&t, "# HELP qlab_http_request_duration_seconds Latency of plain requests (not "
                "streams or long-polls).\n# TYPE qlab_http_request_duration_seconds histogram\n");
    long long cum = 0;
    for (int b = 0; b <= SRV_LAT_BUCKETS; b++) {
        cum += atomic_load(&s->stats.lat_count[b]);
        if (b < SRV_LAT_BUCKETS)
            tprintf(&t, "qlab_http_request_duration_seconds_bucket{le=\"%g\"} %lld\n",
                    srv_lat_bounds[b], cum);
        else
            tprintf(&t, "qlab_http_request_duration_seconds_bucket{le=\"+Inf\"} %lld\n", cum);
    }
    tprintf(&t,
            "qlab_http_request_duration_seconds_sum %.6f\n"
            "qlab_http_request_duration_seconds_count %lld\n",
            (double)atomic_load(&s->stats.lat_sum_us) * 1e-6, cum);
    char *cost = srv_cost_prometheus(s);
    if (cost)
        tprintf(&t, "%s", cost);
    free(cost);
    if (!t.s)
        return srv_fail(r, QC_ENOMEM, NULL, "", "out of memory");
    r->resp = MHD_create_response_from_buffer(t.len, t.s, MHD_RESPMEM_MUST_FREE);
    if (!r->resp) {
        free(t.s);
        return srv_fail(r, QC_ENOMEM, NULL, "", "out of memory");
    }
    MHD_add_response_header(r->resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                            "text/plain; version=0.0.4; charset=utf-8");
    r->status = 200;
    return QC_OK;
}

/* ---- formats ------------------------------------------------------------ */

int srv_route_formats(struct srv_req *r)
{
    json_t *list = json_array();
    for (int i = 0; i < qc_format_name_count(); i++) {
        struct qc_format f;
        if (qc_format_parse(&f, qc_format_name_at(i), NULL) == 0) {
            json_t *o = qc_format_to_json(&f);
            json_object_set_new(o, "name", json_string(qc_format_name_at(i)));
            json_object_set_new(o, "canonical", json_string(f.name));
            json_array_append_new(list, o);
        }
    }
    return srv_reply(r, 200, json_pack("{s:o}", "formats", list));
}

int srv_route_formats_validate(struct srv_req *r)
{
    struct qc_format f;
    struct qc_err err;
    json_t *doc = srv_body_json(r);
    if (!doc)
        return QC_EINVAL;
    const char *s = json_string_value(json_object_get(doc, "format"));
    int rc = QC_OK;
    if (!s || json_object_size(doc) != 1)
        rc = srv_fail(r, QC_EINVAL, "invalid_request", "/format",
                      "the body is {\"format\": \"<format string>\"}");
    else if (qc_format_parse(&f, s, &err) < 0)
        rc = srv_fail(r, QC_EINVAL, "invalid_format", "/format", "%s", err.msg);
    if (rc >= 0) {
        json_t *o = qc_format_to_json(&f);
        json_object_set_new(o, "valid", json_true());
        json_object_set_new(o, "canonical", json_string(f.name));
        rc = srv_reply(r, 200, o);
    }
    json_decref(doc);
    return rc;
}

/* ---- static files ------------------------------------------------------- */

static const char *content_type(const char *path)
{
    static const struct {
        const char *ext, *type;
    } types[] = {{".html", "text/html; charset=utf-8"},
                 {".js", "text/javascript; charset=utf-8"},
                 {".mjs", "text/javascript; charset=utf-8"},
                 {".css", "text/css; charset=utf-8"},
                 {".json", "application/json"},
                 {".svg", "image/svg+xml"},
                 {".png", "image/png"},
                 {".ico", "image/x-icon"},
                 {".map", "application/json"},
                 {".txt", "text/plain; charset=utf-8"}};
    const char *dot = strrchr(path, '.');
    for (size_t i = 0; dot && i < sizeof types / sizeof types[0]; i++)
        if (strcmp(dot, types[i].ext) == 0)
            return types[i].type;
    return "application/octet-stream";
}

int srv_route_static(struct srv_req *r)
{
    const struct srv_config *cfg = &r->srv->cfg;
    char path[PATH_MAX], real[PATH_MAX], root[PATH_MAX], etag[64];
    const char *url = r->url;
    struct stat sb;

    if (!cfg->web_dir[0])
        return srv_fail(r, QC_ENOTFOUND, NULL, "", "no dashboard is served");
    /* Refuse any ".." segment outright, then check the resolved path stays
     * under the web root (symlinks included). */
    if (url[0] != '/' || strstr(url, "/..") || strchr(url, '\\') || strlen(url) > 512)
        return srv_fail(r, QC_ENOTFOUND, NULL, "", "no such file");
    if (!realpath(cfg->web_dir, root))
        return srv_fail(r, QC_ENOTFOUND, NULL, "", "no dashboard is served");
    if ((size_t)snprintf(path, sizeof path, "%s%s%s", root, url,
                         url[strlen(url) - 1] == '/' ? "index.html" : "") >= sizeof path)
        return srv_fail(r, QC_ENOTFOUND, NULL, "", "no such file");
    if (!realpath(path, real) || strncmp(real, root, strlen(root)) != 0 ||
        (real[strlen(root)] != '/' && real[strlen(root)] != '\0') || stat(real, &sb) != 0 ||
        !S_ISREG(sb.st_mode))
        return srv_fail(r, QC_ENOTFOUND, NULL, "", "no such file");
    snprintf(etag, sizeof etag, "\"%llx-%llx\"", (unsigned long long)sb.st_size,
             (unsigned long long)sb.st_mtime);
    const char *inm =
        MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_NONE_MATCH);
    if (inm && strcmp(inm, etag) == 0) {
        r->resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
        r->status = 304;
    } else {
        int fd = open(real, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            return srv_fail(r, QC_ENOTFOUND, NULL, "", "no such file");
        /* The response owns the descriptor. */
        r->resp = MHD_create_response_from_fd((uint64_t)sb.st_size, fd);
        if (!r->resp) {
            close(fd);
            return srv_fail(r, QC_ENOMEM, NULL, "", "out of memory");
        }
        MHD_add_response_header(r->resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type(real));
        r->status = 200;
    }
    if (!r->resp)
        return srv_fail(r, QC_ENOMEM, NULL, "", "out of memory");
    MHD_add_response_header(r->resp, MHD_HTTP_HEADER_ETAG, etag);
    /* Revalidate every time: the files change with each deploy and the
     * ETag makes an unchanged file a 304. */
    MHD_add_response_header(r->resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    MHD_add_response_header(r->resp, "X-Content-Type-Options", "nosniff");
    return QC_OK;
}
