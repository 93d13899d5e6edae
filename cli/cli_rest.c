/* libcurl requests to qlab-server for the REST client commands. */
#include "cli_rest.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_util.h"

const char cli_rest_opts_help[] =
    "      --server URL   the qlab-server (default $QLAB_SERVER or http://127.0.0.1:8080)\n"
    "      --token T      bearer token (default $QLAB_TOKEN)\n"
    "      --cacert FILE  verify an https:// server with this PEM CA file (default\n"
    "                     $QLAB_CACERT, else the system's CA store)\n"
    "      --json         the server's JSON instead of a table\n";

void cli_rest_init(struct cli_rest *r)
{
    const char *s = getenv("QLAB_SERVER"), *t = getenv("QLAB_TOKEN"), *ca = getenv("QLAB_CACERT");
    memset(r, 0, sizeof *r);
    snprintf(r->base, sizeof r->base, "%s", s && s[0] ? s : "http://127.0.0.1:8080");
    size_t n = strlen(r->base);
    while (n > 0 && r->base[n - 1] == '/')
        r->base[--n] = '\0';
    snprintf(r->token, sizeof r->token, "%s", t ? t : "");
    snprintf(r->cacert, sizeof r->cacert, "%s", ca ? ca : "");
    r->timeout_s = 60;
}

int cli_rest_take_opts(struct cli_rest *r, int *argc, char **argv, struct qc_err *err)
{
    int out = 1;
    for (int i = 1; i < *argc; i++) {
        const char *a = argv[i];
        bool server = strcmp(a, "--server") == 0 || strncmp(a, "--server=", 9) == 0;
        bool token = strcmp(a, "--token") == 0 || strncmp(a, "--token=", 8) == 0;
        bool cacert = strcmp(a, "--cacert") == 0 || strncmp(a, "--cacert=", 9) == 0;
        if (strcmp(a, "--") == 0) { /* the rest belongs to the command */
            while (i < *argc)
                argv[out++] = argv[i++];
            break;
        }
        if (!server && !token && !cacert) {
            argv[out++] = argv[i];
            continue;
        }
        const char *eq = strchr(a, '=');
        const char *v = eq ? eq + 1 : (i + 1 < *argc ? argv[++i] : NULL);
        const char *flag = server ? "--server" : token ? "--token" : "--cacert";
        if (!v || !v[0])
            return qc_err_set(err, QC_EINVAL, flag, "%s needs a value", flag);
        char *dst = server ? r->base : token ? r->token : r->cacert;
        size_t cap = server ? sizeof r->base : token ? sizeof r->token : sizeof r->cacert;
        if (strlen(v) >= cap)
            return qc_err_set(err, QC_EINVAL, flag, "%s is too long", flag);
        snprintf(dst, cap, "%s", v);
    }
    argv[out] = NULL;
    *argc = out;
    size_t n = strlen(r->base);
    while (n > 0 && r->base[n - 1] == '/')
        r->base[--n] = '\0';
    if (strncmp(r->base, "http://", 7) != 0 && strncmp(r->base, "https://", 8) != 0)
        return qc_err_set(err, QC_EINVAL, "--server",
                          "server '%s' must be an http:// or https:// URL", r->base);
    return QC_OK;
}

static size_t collect(char *p, size_t size, size_t n, void *ud)
{
    struct cli_buf *b = ud;
    if (b->len + size * n > CLI_REST_MAX_RESPONSE)
        return 0; /* aborts the transfer */
    cli_buf_append(b, p, size * n);
    return b->oom ? 0 : size * n;
}

static struct curl_slist *headers(const struct cli_rest *r, bool json)
{
    struct curl_slist *h = NULL;
    if (json)
        h = curl_slist_append(h, "Content-Type: application/json");
    if (r->token[0]) {
        char auth[300];
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", r->token);
        h = curl_slist_append(h, auth);
    }
    return h;
}

/* "400 invalid_spec at /x: message" from the server's error body. */
static int http_error(long status, const struct cli_buf *b, struct qc_err *err)
{
    json_t *j = b->len ? json_loadb(b->data, b->len, 0, NULL) : NULL;
    json_t *e = json_object_get(j, "error");
    const char *code = json_string_value(json_object_get(e, "code"));
    const char *msg = json_string_value(json_object_get(e, "message"));
    const char *field = json_string_value(json_object_get(e, "field"));
    if (code && msg)
        qc_err_set(err, QC_EIO, field ? field : "", "server answered %ld %s%s%s: %s", status, code,
                   field && field[0] ? " at " : "", field ? field : "", msg);
    else
        qc_err_set(err, QC_EIO, "", "server answered HTTP %ld", status);
    json_decref(j);
    return QC_EIO;
}

int cli_rest_call(const struct cli_rest *r, const char *method, const char *path,
                  const json_t *body, long *status, json_t **out, struct qc_err *err)
{
    char url[1024], errbuf[CURL_ERROR_SIZE] = "";
    struct cli_buf resp;
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    int rc = QC_OK;

    *out = NULL;
    *status = 0;
    snprintf(url, sizeof url, "%s%s", r->base, path);
    cli_buf_init(&resp);
    CURL *c = curl_easy_init();
    if (!c || (body && !text)) {
        free(text);
        curl_easy_cleanup(c);
        return qc_err_set(err, QC_ENOMEM, "", "out of memory");
    }
    struct curl_slist *h = headers(r, body != NULL);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &resp);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    if (r->cacert[0]) /* verification stays on: the peer and its name */
        curl_easy_setopt(c, CURLOPT_CAINFO, r->cacert);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    if (r->timeout_s > 0)
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)(r->timeout_s * 1000));
    if (text) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, text);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(text));
    } else if (strcmp(method, "POST") == 0) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, 0L);
    }
    CURLcode cc = curl_easy_perform(c);
    if (cc != CURLE_OK) {
        rc = qc_err_set(err, QC_EIO, "--server", "cannot reach %s: %s", r->base,
                        errbuf[0] ? errbuf : curl_easy_strerror(cc));
    } else {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
        if (*status < 200 || *status > 299) {
            rc = http_error(*status, &resp, err);
        } else if (resp.len) {
            json_error_t je;
            *out = json_loadb(resp.data, resp.len, 0, &je);
            if (!*out)
                rc = qc_err_set(err, QC_EIO, "", "the server's answer is not JSON: %s", je.text);
        }
    }
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    cli_buf_free(&resp);
    free(text);
    return rc;
}

int cli_rest_raw(const struct cli_rest *r, const char *method, const char *path, const void *body,
                 size_t body_len, const char *content_type, const char *const *extra, long *status,
                 struct cli_buf *out, struct qc_err *err)
{
    char url[1024], errbuf[CURL_ERROR_SIZE] = "", ct[160];
    int rc = QC_OK;
    *status = 0;
    snprintf(url, sizeof url, "%s%s", r->base, path);
    CURL *c = curl_easy_init();
    if (!c)
        return qc_err_set(err, QC_ENOMEM, "", "out of memory");
    struct curl_slist *h = headers(r, false);
    if (body && content_type) {
        snprintf(ct, sizeof ct, "Content-Type: %s", content_type);
        h = curl_slist_append(h, ct);
    }
    for (int i = 0; extra && extra[i]; i++)
        h = curl_slist_append(h, extra[i]);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    if (r->timeout_s > 0)
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)(r->timeout_s * 1000));
    if (body || strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body ? body : "");
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(body ? body_len : 0));
    }
    size_t len0 = out->len;
    CURLcode cc = curl_easy_perform(c);
    if (cc != CURLE_OK) {
        rc = qc_err_set(err, QC_EIO, "--server", "cannot reach %s: %s", r->base,
                        errbuf[0] ? errbuf : curl_easy_strerror(cc));
    } else {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
        if (*status < 200 || *status > 299) {
            struct cli_buf e = {.data = out->data + len0, .len = out->len - len0};
            rc = http_error(*status, &e, err);
            out->len = len0;
        }
    }
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return rc;
}

/* ---- Server-Sent Events ------------------------------------------------- */

struct sse_parse {
    struct cli_buf line;
    char id[32], event[32];
    struct cli_buf data;
    int (*on_event)(void *ctx, const char *id, const char *event, const char *data);
    void *ctx;
    bool done;
};

static void sse_line(struct sse_parse *p, char *l)
{
    if (!l[0]) { /* blank line: dispatch */
        if (p->data.len) {
            cli_buf_append(&p->data, "", 1);
            if (p->on_event(p->ctx, p->id, p->event[0] ? p->event : "message", p->data.data))
                p->done = true;
        }
        p->data.len = 0;
        p->event[0] = '\0';
        return;
    }
    if (l[0] == ':') { /* a keep-alive comment: lets watchers re-check state */
        if (p->on_event(p->ctx, p->id, ":", ""))
            p->done = true;
        return;
    }
    char *v = strchr(l, ':');
    if (v) {
        *v++ = '\0';
        if (*v == ' ')
            v++;
    } else {
        v = l + strlen(l);
    }
    if (strcmp(l, "id") == 0)
        snprintf(p->id, sizeof p->id, "%s", v);
    else if (strcmp(l, "event") == 0)
        snprintf(p->event, sizeof p->event, "%s", v);
    else if (strcmp(l, "data") == 0) {
        if (p->data.len)
            cli_buf_append(&p->data, "\n", 1);
        cli_buf_append(&p->data, v, strlen(v));
    }
}

static size_t sse_write(char *ptr, size_t size, size_t n, void *ud)
{
    struct sse_parse *p = ud;
    for (size_t i = 0; i < size * n && !p->done; i++) {
        if (ptr[i] == '\n') {
            cli_buf_append(&p->line, "", 1);
            if (p->line.oom)
                return 0;
            sse_line(p, p->line.data);
            p->line.len = 0;
        } else if (ptr[i] != '\r') {
            cli_buf_append(&p->line, &ptr[i], 1);
        }
    }
    return p->done ? 0 : size * n; /* 0 ends the transfer once the caller has seen enough */
}

int cli_rest_sse(const struct cli_rest *r, const char *path,
                 int (*on_event)(void *ctx, const char *id, const char *event, const char *data),
                 void *ctx, struct qc_err *err)
{
    char url[1024], errbuf[CURL_ERROR_SIZE] = "";
    struct sse_parse p = {.on_event = on_event, .ctx = ctx};
    int rc = QC_OK;
    cli_buf_init(&p.line);
    cli_buf_init(&p.data);
    snprintf(url, sizeof url, "%s%s", r->base, path);
    CURL *c = curl_easy_init();
    if (!c)
        return qc_err_set(err, QC_ENOMEM, "", "out of memory");
    struct curl_slist *h = headers(r, false);
    h = curl_slist_append(h, "Accept: text/event-stream");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sse_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &p);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    if (r->cacert[0]) /* verification stays on: the peer and its name */
        curl_easy_setopt(c, CURLOPT_CAINFO, r->cacert);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    curl_easy_setopt(c, CURLOPT_FAILONERROR, 1L);
    CURLcode cc = curl_easy_perform(c);
    if (!(p.done && cc == CURLE_WRITE_ERROR) && cc != CURLE_OK)
        rc = qc_err_set(err, QC_EIO, "--server", "event stream from %s: %s", r->base,
                        errbuf[0] ? errbuf : curl_easy_strerror(cc));
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    cli_buf_free(&p.line);
    cli_buf_free(&p.data);
    return rc;
}

char *cli_rest_escape(const char *s)
{
    char *e = curl_easy_escape(NULL, s, (int)strlen(s));
    char *out = e ? strdup(e) : NULL; /* plain malloc for the caller's free() */
    curl_free(e);
    return out;
}
