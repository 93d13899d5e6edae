/* libcurl multi driven by libuv (see qw_http.h): curl tells us which
 * sockets to watch (CURLMOPT_SOCKETFUNCTION) and when to wake it up
 * (CURLMOPT_TIMERFUNCTION); uv_poll and uv_timer report back through
 * curl_multi_socket_action. */
#include "qw_http.h"

#include <curl/curl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_MAX_RESPONSE (16u << 20)

struct qw_http {
    uv_loop_t *loop;
    CURLM *multi;
    uv_timer_t *timer;
    struct qw_http_req *reqs; /* every request not yet finished, doubly linked */
    struct sock *socks;       /* every watched socket */
    char *cacert;             /* CURLOPT_CAINFO, or NULL for the system store */
};

struct qw_http_req {
    struct qw_http *h;
    struct qw_http_req *prev, *next;
    CURL *easy;
    struct curl_slist *headers;
    void *body;
    bool own_body;
    char *resp;
    size_t resp_len, resp_cap, resp_max;
    bool overflow;
    bool done;     /* finished; its callback is about to run */
    bool canceled; /* canceled after it finished, before its callback */
    bool ok;       /* the transfer completed (any HTTP status) */
    qw_http_cb cb;
    void *ctx;
    char errbuf[CURL_ERROR_SIZE];
};

static void free_handle(uv_handle_t *hd)
{
    free(hd->data);
}

/* One watched socket. Freed in its close callback, never before. */
struct sock {
    uv_poll_t poll;
    struct qw_http *h;
    struct sock *prev, *next;
    curl_socket_t fd;
};

static void sock_close(struct sock *s)
{
    if (s->prev)
        s->prev->next = s->next;
    else
        s->h->socks = s->next;
    if (s->next)
        s->next->prev = s->prev;
    uv_poll_stop(&s->poll);
    uv_close((uv_handle_t *)&s->poll, free_handle);
}

static void dispatch_done(struct qw_http *h);

static void on_poll(uv_poll_t *p, int status, int events)
{
    struct sock *s = p->data;
    struct qw_http *h = s->h;
    int flags = 0, running;

    if (status < 0)
        flags = CURL_CSELECT_ERR;
    else {
        if (events & UV_READABLE)
            flags |= CURL_CSELECT_IN;
        if (events & UV_WRITABLE)
            flags |= CURL_CSELECT_OUT;
    }
    curl_multi_socket_action(h->multi, s->fd, flags, &running);
    dispatch_done(h);
}

static int on_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
    struct qw_http *h = userp;
    struct sock *s = socketp;
    int ev = 0;

    (void)easy;
    if (what == CURL_POLL_REMOVE) {
        if (s) {
            curl_multi_assign(h->multi, fd, NULL);
            sock_close(s);
        }
        return 0;
    }
    if (!s) {
        s = calloc(1, sizeof *s);
        if (!s)
            return -1;
        s->h = h;
        s->fd = fd;
        if (uv_poll_init_socket(h->loop, &s->poll, fd) != 0) {
            free(s);
            return -1;
        }
        s->poll.data = s;
        s->next = h->socks;
        if (h->socks)
            h->socks->prev = s;
        h->socks = s;
        curl_multi_assign(h->multi, fd, s);
    }
    if (what & CURL_POLL_IN)
        ev |= UV_READABLE;
    if (what & CURL_POLL_OUT)
        ev |= UV_WRITABLE;
    uv_poll_start(&s->poll, ev, on_poll);
    return 0;
}

static void on_timeout(uv_timer_t *t)
{
    struct qw_http *h = t->data;
    int running;

    curl_multi_socket_action(h->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    dispatch_done(h);
}

static int on_timer(CURLM *multi, long timeout_ms, void *userp)
{
    struct qw_http *h = userp;

    (void)multi;
    if (timeout_ms < 0)
        uv_timer_stop(h->timer);
    else /* 0 means "as soon as possible": the next loop iteration, never re-entrantly */
        uv_timer_start(h->timer, on_timeout, (uint64_t)timeout_ms, 0);
    return 0;
}

static size_t on_write(char *data, size_t size, size_t nmemb, void *userp)
{
    struct qw_http_req *r = userp;
    const size_t n = size * nmemb;

    if (r->resp_len + n > r->resp_max) {
        r->overflow = true;
        return 0; /* curl aborts the transfer with CURLE_WRITE_ERROR */
    }
    if (r->resp_len + n + 1 > r->resp_cap) {
        size_t cap = r->resp_cap ? r->resp_cap : 1024;
        while (cap < r->resp_len + n + 1)
            cap *= 2;
        char *p = realloc(r->resp, cap);
        if (!p)
            return 0;
        r->resp = p;
        r->resp_cap = cap;
    }
    memcpy(r->resp + r->resp_len, data, n);
    r->resp_len += n;
    r->resp[r->resp_len] = 0;
    return n;
}

static void unlink_req(struct qw_http_req *r)
{
    if (r->prev)
        r->prev->next = r->next;
    else
        r->h->reqs = r->next;
    if (r->next)
        r->next->prev = r->prev;
    r->prev = r->next = NULL;
}

static void req_free(struct qw_http_req *r)
{
    if (!r)
        return;
    if (r->easy)
        curl_easy_cleanup(r->easy);
    curl_slist_free_all(r->headers);
    if (r->own_body)
        free(r->body);
    free(r->resp);
    free(r);
}

/* Collects every finished transfer first and only then runs callbacks:
 * a callback may start or cancel requests, which must not disturb the
 * walk over curl's message queue. */
static void dispatch_done(struct qw_http *h)
{
    struct qw_http_req *done = NULL, **tail = &done;
    CURLMsg *m;
    int left;

    while ((m = curl_multi_info_read(h->multi, &left))) {
        if (m->msg != CURLMSG_DONE)
            continue;
        struct qw_http_req *r = NULL;
        CURL *easy = m->easy_handle;
        CURLcode res = m->data.result;
        curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&r);
        curl_multi_remove_handle(h->multi, easy);
        unlink_req(r);
        r->done = true;
        if (res != CURLE_OK) {
            if (r->overflow)
                snprintf(r->errbuf, sizeof r->errbuf, "response larger than %zu bytes",
                         r->resp_max);
            else if (!r->errbuf[0])
                snprintf(r->errbuf, sizeof r->errbuf, "%s", curl_easy_strerror(res));
        } else
            r->errbuf[0] = 0;
        r->ok = res == CURLE_OK;
        /* Reuse `next` as the done-list link: it is off the live list now. */
        *tail = r;
        tail = &r->next;
    }
    while (done) {
        struct qw_http_req *r = done;
        done = r->next;
        if (!r->canceled) {
            struct qw_http_resp resp = {
                .body = r->resp ? r->resp : "", .len = r->resp_len, .error = r->errbuf};
            double t = 0;
            if (r->ok)
                curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &resp.status);
            curl_easy_getinfo(r->easy, CURLINFO_TOTAL_TIME, &t);
            resp.elapsed_s = t;
            r->cb(r->ctx, &resp);
        }
        req_free(r);
    }
}

int qw_http_create(struct qw_http **out, uv_loop_t *loop, struct qc_err *err)
{
    struct qw_http *h = calloc(1, sizeof *h);

    *out = NULL;
    if (!h || !(h->timer = calloc(1, sizeof *h->timer))) {
        free(h);
        return qc_err_set(err, QC_ENOMEM, "", "out of memory for the HTTP client");
    }
    h->loop = loop;
    if (!(h->multi = curl_multi_init())) {
        free(h->timer);
        free(h);
        return qc_err_set(err, QC_EINTERNAL, "", "curl_multi_init failed");
    }
    uv_timer_init(loop, h->timer);
    h->timer->data = h;
    curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h);
    curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, on_timer);
    curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA, h);
    *out = h;
    return 0;
}

int qw_http_set_cacert(struct qw_http *h, const char *path, struct qc_err *err)
{
    char *copy = path && path[0] ? strdup(path) : NULL;
    if (path && path[0] && !copy)
        return qc_err_set(err, QC_ENOMEM, "", "out of memory");
    free(h->cacert);
    h->cacert = copy;
    return 0;
}

static void free_timer(uv_handle_t *hd)
{
    free(hd);
}

void qw_http_destroy(struct qw_http *h)
{
    if (!h)
        return;
    while (h->reqs) {
        struct qw_http_req *r = h->reqs;
        curl_multi_remove_handle(h->multi, r->easy);
        unlink_req(r);
        req_free(r);
    }
    /* Cleanup closes the cached connections; curl reports each socket's
     * removal through on_socket, which closes its poll handle. */
    curl_multi_cleanup(h->multi);
    while (h->socks)
        sock_close(h->socks);
    uv_close((uv_handle_t *)h->timer, free_timer);
    free(h->cacert);
    free(h);
}

int qw_http_send(struct qw_http *h, struct qw_http_req **out, const struct qw_http_opts *o,
                 qw_http_cb cb, void *ctx, struct qc_err *err)
{
    struct qw_http_req *r = calloc(1, sizeof *r);

    if (out)
        *out = NULL;
    if (!r) {
        if (o->body_mode == QW_BODY_TAKE)
            free(o->body);
        return qc_err_set(err, QC_ENOMEM, "", "out of memory for a request");
    }
    r->h = h;
    r->cb = cb;
    r->ctx = ctx;
    r->resp_max = o->max_response ? o->max_response : DEFAULT_MAX_RESPONSE;
    if (o->body_mode != QW_BODY_COPY) {
        r->body = o->body;
        r->own_body = o->body_mode == QW_BODY_TAKE;
    } else if (o->len) {
        if (!(r->body = malloc(o->len))) {
            free(r);
            return qc_err_set(err, QC_ENOMEM, "", "out of memory for a request body");
        }
        memcpy(r->body, o->body, o->len);
        r->own_body = true;
    }
    if (!(r->easy = curl_easy_init())) {
        req_free(r);
        return qc_err_set(err, QC_EINTERNAL, "", "curl_easy_init failed");
    }
    for (int i = 0; o->headers && o->headers[i]; i++) {
        struct curl_slist *l = curl_slist_append(r->headers, o->headers[i]);
        if (!l) {
            req_free(r);
            return qc_err_set(err, QC_ENOMEM, "", "out of memory for headers");
        }
        r->headers = l;
    }
    /* No "Expect: 100-continue" round trip before a large body. */
    struct curl_slist *l = curl_slist_append(r->headers, "Expect:");
    if (l)
        r->headers = l;
    CURL *e = r->easy;
    curl_easy_setopt(e, CURLOPT_URL, o->url);
    curl_easy_setopt(e, CURLOPT_PRIVATE, (char *)r);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->headers);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
    curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    if (h->cacert) /* peer and host verification stay on (libcurl's default) */
        curl_easy_setopt(e, CURLOPT_CAINFO, h->cacert);
    if (o->timeout_ms > 0)
        curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, o->timeout_ms);
    if (strcmp(o->method, "GET") != 0) {
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(r->body ? o->len : 0));
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->body ? (char *)r->body : "");
        if (strcmp(o->method, "POST") != 0)
            curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, o->method);
    }
    r->next = h->reqs;
    if (h->reqs)
        h->reqs->prev = r;
    h->reqs = r;
    if (curl_multi_add_handle(h->multi, e) != CURLM_OK) {
        unlink_req(r);
        req_free(r);
        return qc_err_set(err, QC_EINTERNAL, "", "curl_multi_add_handle failed");
    }
    if (out)
        *out = r;
    return 0;
}

void qw_http_cancel(struct qw_http_req *r)
{
    if (!r)
        return;
    if (r->done) { /* in the done list of dispatch_done: skipped, freed there */
        r->canceled = true;
        return;
    }
    curl_multi_remove_handle(r->h->multi, r->easy);
    unlink_req(r);
    req_free(r);
}
