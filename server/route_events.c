/* Server-Sent Events: the event log streamed live, for one run or for
 * everything. A stream replays from Last-Event-ID (or ?since=), then parks
 * its connection in the hub until the next event or its 15 s keep-alive
 * comment is due: no thread is held and nothing polls. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/srv.h"
#include "server/store.h"

/* The keep-alive comment interval, which is also how long a stream whose
 * client left stays parked (the fuzzer builds with a shorter one). */
#ifndef SRV_SSE_KEEPALIVE_S
#define SRV_SSE_KEEPALIVE_S 15.0
#endif
#define KEEPALIVE_S     SRV_SSE_KEEPALIVE_S
#define EVENTS_PER_READ 200

struct sse {
    struct srv_server *srv;
    struct MHD_Connection *conn;
    int64_t run;       /* 0 = every event */
    int64_t cursor;    /* the last event id sent (or skipped) */
    double last_write; /* monotonic */
    struct srv_waiter waiter;
    char *buf;
    size_t len, off, cap;
};

static void put(struct sse *e, const char *s, size_t n)
{
    if (e->len + n > e->cap) {
        size_t cap = e->cap ? e->cap : 8192;
        while (cap < e->len + n)
            cap *= 2;
        char *b = realloc(e->buf, cap);
        if (!b)
            return; /* dropped; the client's Last-Event-ID recovers it */
        e->buf = b;
        e->cap = cap;
    }
    memcpy(e->buf + e->len, s, n);
    e->len += n;
}

/* Reads the events after the cursor, up to `upto`, into the buffer. */
static void fill(struct sse *e, int64_t upto)
{
    static const char sql[] = "SELECT id, kind, data FROM events WHERE id > ? AND id <= ? AND "
                              "(? = 0 OR run_id = ?) ORDER BY id LIMIT ?";
    struct srv_conn *c = srv_db_reader(&e->srv->db);
    sqlite3_stmt *st = c ? srv_stmt(c, sql, NULL) : NULL;
    if (!st)
        return;
    atomic_fetch_add(&e->srv->stats.stream_reads, 1);
    sqlite3_bind_int64(st, 1, e->cursor);
    sqlite3_bind_int64(st, 2, upto);
    sqlite3_bind_int64(st, 3, e->run);
    sqlite3_bind_int64(st, 4, e->run);
    sqlite3_bind_int(st, 5, EVENTS_PER_READ);
    int n = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        char head[96];
        int64_t id = sqlite3_column_int64(st, 0);
        int hl = snprintf(head, sizeof head, "id: %lld\nevent: %s\ndata: ", (long long)id,
                          (const char *)sqlite3_column_text(st, 1));
        put(e, head, (size_t)hl);
        put(e, (const char *)sqlite3_column_text(st, 2), (size_t)sqlite3_column_bytes(st, 2));
        put(e, "\n\n", 2);
        e->cursor = id;
        n++;
    }
    sqlite3_reset(st);
    if (n < EVENTS_PER_READ)
        e->cursor = upto; /* the rest up to `upto` belonged to other runs */
}

static ssize_t sse_read(void *cls, uint64_t pos, char *out, size_t max)
{
    struct sse *e = cls;
    (void)pos;
    for (;;) {
        if (e->off < e->len) {
            size_t n = e->len - e->off < max ? e->len - e->off : max;
            memcpy(out, e->buf + e->off, n);
            e->off += n;
            e->last_write = srv_mono();
            return (ssize_t)n;
        }
        e->off = e->len = 0;
        if (srv_hub_stopping(&e->srv->hub))
            return MHD_CONTENT_READER_END_OF_STREAM;
        int64_t upto = srv_hub_last_event(&e->srv->hub);
        if (upto > e->cursor) {
            fill(e, upto);
            if (e->len)
                continue;
        }
        if (srv_mono() - e->last_write >= KEEPALIVE_S) {
            put(e, ": keep-alive\n\n", 14);
            continue;
        }
        e->waiter = (struct srv_waiter){.conn = e->conn,
                                        .kind = SRV_WAIT_EVENT,
                                        .deadline = e->last_write + KEEPALIVE_S,
                                        .after = e->cursor};
        /* Returning 0 with the connection suspended is libmicrohttpd's
         * "no data yet"; it calls again once the hub resumes it. */
        if (srv_hub_wait(&e->srv->hub, &e->waiter))
            return 0;
    }
}

static void sse_free(void *cls)
{
    struct sse *e = cls;
    free(e->buf);
    free(e);
}

static int stream(struct srv_req *r, int64_t run)
{
    struct srv_server *s = r->srv;
    const char *last = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Last-Event-ID");
    int64_t since;
    int rc;
    if ((rc = srv_query_int(r, "since", 0, INT64_MAX, -1, &since)) < 0)
        return rc;
    if (last) {
        char *end;
        long long v = strtoll(last, &end, 10);
        if (!last[0] || *end || v < 0)
            return srv_fail(r, QC_EINVAL, "bad_param", "Last-Event-ID",
                            "Last-Event-ID must be an event id");
        since = v;
    }
    if (run > 0) {
        json_t *probe = NULL;
        struct srv_conn *c = srv_db_reader(&s->db);
        if (!c)
            return srv_fail(r, QC_EIO, NULL, "", "database: cannot open a reader");
        if ((rc = srv_run_load(c, run, false, &probe, &r->err)) < 0)
            return rc;
        json_decref(probe);
    }
    struct sse *e = calloc(1, sizeof *e);
    if (!e)
        return srv_fail(r, QC_ENOMEM, NULL, "", "out of memory");
    e->srv = s;
    e->conn = r->conn;
    e->run = run;
    e->cursor = since >= 0 ? since : srv_hub_last_event(&s->hub);
    e->last_write = srv_mono();
    put(e, "retry: 2000\n: connected\n\n", 25);
    r->resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 8192, sse_read, e, sse_free);
    if (!r->resp) {
        sse_free(e);
        return srv_fail(r, QC_ENOMEM, NULL, "", "out of memory");
    }
    MHD_add_response_header(r->resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
    MHD_add_response_header(r->resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    MHD_add_response_header(r->resp, "X-Accel-Buffering", "no");
    r->status = 200;
    return QC_OK;
}

int srv_route_events(struct srv_req *r)
{
    return stream(r, 0);
}

int srv_route_run_events(struct srv_req *r)
{
    return stream(r, r->id);
}
