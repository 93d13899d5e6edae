/* Helpers of the server test suite (srvt.h): the real qlab-server process,
 * HTTP through libcurl, SSE streams with deadlines. */
#include "srvt.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <dirent.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

double srvt_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void srvt_sleep(double seconds)
{
    struct timespec ts = {.tv_sec = (time_t)seconds,
                          .tv_nsec = (long)((seconds - (double)(time_t)seconds) * 1e9)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* ---- files ---------------------------------------------------------------- */

void srvt_dir_make(char *out, size_t len)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(out, len, "%s/qlab-srvt-XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
    cr_assert_not_null(mkdtemp(out), "mkdtemp %s: %s", out, strerror(errno));
}

void srvt_dir_remove(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    if (!d)
        return;
    while ((de = readdir(d))) {
        char p[SRVT_PATH * 2];
        struct stat sb;
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
        if (lstat(p, &sb) == 0 && S_ISDIR(sb.st_mode))
            srvt_dir_remove(p);
        else
            unlink(p);
    }
    closedir(d);
    rmdir(dir);
}

void srvt_write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "cannot write %s", path);
    fputs(text, f);
    fclose(f);
}

/* ---- the process ---------------------------------------------------------- */

static const char *server_bin(void)
{
    const char *bin = getenv("QLAB_SERVER_BIN");
    cr_assert(bin && bin[0], "QLAB_SERVER_BIN must name the qlab-server binary (make test-server)");
    cr_assert(access(bin, X_OK) == 0, "QLAB_SERVER_BIN=%s is not executable", bin);
    return bin;
}

/* fork + exec of the server with stdout to `out_fd` and stderr to `err_fd`;
 * `fsize` > 0 limits the size of the files it may write (RLIMIT_FSIZE). */
static pid_t spawn(const char *const *argv, int out_fd, int err_fd, long long fsize)
{
    pid_t pid = fork();
    cr_assert_neq(pid, -1, "fork: %s", strerror(errno));
    if (pid == 0) {
        /* The server must not outlive a crashed or killed test. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (fsize > 0) {
            struct rlimit rl = {.rlim_cur = (rlim_t)fsize, .rlim_max = (rlim_t)fsize};
            if (setrlimit(RLIMIT_FSIZE, &rl) != 0)
                _exit(126);
        }
        dup2(out_fd, 1);
        dup2(err_fd, 2);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    return pid;
}

const char *srvt_log(const struct srvt_server *s)
{
    static char buf[4096];
    buf[0] = '\0';
    FILE *f = fopen(s->log, "r");
    if (f) {
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        buf[n] = '\0';
        fclose(f);
    }
    return buf;
}

void srvt_start(struct srvt_server *s, const char *dir, const char *const *args)
{
    const char *argv[48];
    int n = 0, pfd[2];
    char line[256];
    size_t got = 0;

    s->pid = 0;
    snprintf(s->dir, sizeof s->dir, "%s", dir);
    snprintf(s->db, sizeof s->db, "%s/q.db", dir);
    snprintf(s->log, sizeof s->log, "%s/server.log", dir);
    argv[n++] = server_bin();
    argv[n++] = "--listen";
    argv[n++] = "127.0.0.1:0";
    argv[n++] = "--db";
    argv[n++] = s->db;
    argv[n++] = "--web";
    argv[n++] = "";
    for (int i = 0; args && args[i]; i++) {
        cr_assert_lt(n, 46);
        argv[n++] = args[i];
    }
    argv[n] = NULL;

    cr_assert_eq(pipe(pfd), 0);
    int err = open(s->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
    cr_assert_geq(err, 0, "cannot open %s", s->log);
    s->pid = spawn(argv, pfd[1], err, s->fsize_limit);
    close(pfd[1]);
    close(err);

    /* "listening on http://127.0.0.1:PORT\n", within 20 s (sanitizer builds
     * start slowly on a loaded machine). */
    double deadline = srvt_now() + 20;
    while (got < sizeof line - 1 && !memchr(line, '\n', got)) {
        struct pollfd p = {.fd = pfd[0], .events = POLLIN};
        int left = (int)((deadline - srvt_now()) * 1000);
        if (left <= 0 || poll(&p, 1, left) <= 0)
            break;
        ssize_t r = read(pfd[0], line + got, sizeof line - 1 - got);
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(pfd[0]);
    line[got] = '\0';
    const char *colon = strrchr(line, ':');
    s->tls = strncmp(line, "listening on https://", 21) == 0;
    s->port =
        colon && (s->tls || strncmp(line, "listening on http://", 20) == 0) ? atoi(colon + 1) : 0;
    if (s->port <= 0) {
        srvt_stop(s, SIGKILL);
        cr_assert_fail("qlab-server did not start: stdout '%s', stderr: %s", line, srvt_log(s));
    }
}

int srvt_stop(struct srvt_server *s, int sig)
{
    int status = 0;
    if (s->pid <= 0)
        return -1;
    kill(s->pid, sig ? sig : SIGTERM);
    /* A clean stop takes milliseconds; give sanitizer builds 20 s, then kill. */
    double deadline = srvt_now() + 20;
    pid_t r;
    while ((r = waitpid(s->pid, &status, WNOHANG)) == 0 && srvt_now() < deadline)
        srvt_sleep(0.01);
    if (r == 0) {
        kill(s->pid, SIGKILL);
        waitpid(s->pid, &status, 0);
        s->pid = 0;
        return 255;
    }
    s->pid = 0;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int srvt_run_fail(const char *const *args, char *err_out, size_t err_len)
{
    const char *argv[32];
    int n = 0, status = 0;
    char path[] = "/tmp/qlab-srvt-err-XXXXXX";
    argv[n++] = server_bin();
    for (int i = 0; args[i] && n < 31; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    int devnull = open("/dev/null", O_WRONLY);
    pid_t pid = spawn(argv, devnull, fd, 0);
    close(devnull);
    double deadline = srvt_now() + 10;
    pid_t r;
    while ((r = waitpid(pid, &status, WNOHANG)) == 0 && srvt_now() < deadline)
        srvt_sleep(0.01);
    if (r == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
    }
    ssize_t len = pread(fd, err_out, err_len - 1, 0);
    err_out[len > 0 ? len : 0] = '\0';
    close(fd);
    unlink(path);
    cr_assert_neq(r, 0, "qlab-server kept running; stderr: %s", err_out);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* ---- HTTP ----------------------------------------------------------------- */

struct buf {
    char *p;
    size_t len, cap;
};

static void buf_put(struct buf *b, const char *data, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        cr_assert_not_null(p);
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, data, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static size_t on_data(char *data, size_t size, size_t n, void *cls)
{
    buf_put(cls, data, size * n);
    return size * n;
}

static void curl_once(void)
{
    static bool done;
    if (!done) {
        curl_global_init(CURL_GLOBAL_DEFAULT);
        done = true;
    }
}

void srvt_do(struct srvt_resp *out, const struct srvt_server *s, const struct srvt_req *rq)
{
    struct buf body = {0}, heads = {0};
    struct curl_slist *h = NULL;
    char url[1024], line[300];
    CURLcode cc;

    curl_once();
    memset(out, 0, sizeof *out);
    CURL *c = curl_easy_init();
    cr_assert_not_null(c);
    snprintf(url, sizeof url, "%s://127.0.0.1:%d%s", s->tls ? "https" : "http", s->port, rq->path);
    curl_easy_setopt(c, CURLOPT_URL, url);
    if (s->cacert[0])
        curl_easy_setopt(c, CURLOPT_CAINFO, s->cacert);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, rq->method);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, rq->timeout_ms ? rq->timeout_ms : 10000L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &heads);
    if (strcmp(rq->method, "HEAD") == 0)
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    if (rq->body) {
        size_t n = rq->body_len ? rq->body_len : strlen(rq->body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, rq->body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)n);
        snprintf(line, sizeof line, "Content-Type: %s",
                 rq->content_type ? rq->content_type : "application/json");
        h = curl_slist_append(h, line);
    } else if (strcmp(rq->method, "POST") == 0 || strcmp(rq->method, "PUT") == 0) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
    }
    /* No "Expect: 100-continue" round trip for larger bodies, unless asked. */
    h = curl_slist_append(h, rq->expect_continue ? "Expect: 100-continue" : "Expect:");
    if (rq->token && rq->token[0]) {
        snprintf(line, sizeof line, "Authorization: Bearer %s", rq->token);
        h = curl_slist_append(h, line);
    }
    for (int i = 0; i < 8 && rq->headers[i]; i++)
        h = curl_slist_append(h, rq->headers[i]);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    double t0 = srvt_now();
    cc = curl_easy_perform(c);
    out->seconds = srvt_now() - t0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
    curl_easy_cleanup(c);
    curl_slist_free_all(h);
    if (!body.p)
        buf_put(&body, "", 0);
    if (!heads.p)
        buf_put(&heads, "", 0);
    out->body = body.p;
    out->len = body.len;
    out->headers = heads.p;
    cr_assert_eq(cc, CURLE_OK, "%s %s: %s", rq->method, rq->path, curl_easy_strerror(cc));
    out->json = body.len ? json_loadb(body.p, body.len, 0, NULL) : NULL;
}

void srvt_resp_free(struct srvt_resp *r)
{
    free(r->body);
    free(r->headers);
    json_decref(r->json);
    memset(r, 0, sizeof *r);
}

const char *srvt_header(const struct srvt_resp *r, const char *name)
{
    static char val[512];
    size_t n = strlen(name);
    val[0] = '\0';
    for (const char *p = r->headers; p && *p;) {
        const char *eol = strchr(p, '\n');
        size_t len = eol ? (size_t)(eol - p) : strlen(p);
        if (len > n && strncasecmp(p, name, n) == 0 && p[n] == ':') {
            const char *v = p + n + 1;
            while (*v == ' ')
                v++;
            size_t vl = (size_t)(p + len - v);
            while (vl && (v[vl - 1] == '\r' || v[vl - 1] == ' '))
                vl--;
            snprintf(val, sizeof val, "%.*s", (int)vl, v);
            return val;
        }
        p = eol ? eol + 1 : p + len;
    }
    return val;
}

json_t *srvt_call(const struct srvt_server *s, const char *token, const char *lease,
                  const char *method, const char *path, const char *body, long want_status)
{
    char lh[128];
    struct srvt_resp r;
    struct srvt_req rq = {.method = method, .path = path, .token = token, .body = body};
    if (lease) {
        snprintf(lh, sizeof lh, "X-Qlab-Lease: %s", lease);
        rq.headers[0] = lh;
    }
    srvt_do(&r, s, &rq);
    cr_assert_eq(r.status, want_status, "%s %s: status %ld, want %ld: %.600s", method, path,
                 r.status, want_status, r.body);
    json_t *j = r.json ? json_incref(r.json) : json_null();
    cr_assert(r.len == 0 || r.json, "%s %s: the body is not JSON: %.300s", method, path, r.body);
    srvt_resp_free(&r);
    return j;
}

json_t *srvt_json(const struct srvt_server *s, const char *method, const char *path,
                  const char *body, long want_status)
{
    return srvt_call(s, s->token, NULL, method, path, body, want_status);
}

json_t *srvt_json_lease(const struct srvt_server *s, const char *method, const char *path,
                        const char *lease, const char *body, long want_status)
{
    return srvt_call(s, s->token, lease, method, path, body, want_status);
}

void srvt_expect_error(const struct srvt_resp *r, long status, const char *code, const char *field)
{
    cr_assert_eq(r->status, status, "status %ld, want %ld: %.400s", r->status, status, r->body);
    cr_assert_not_null(r->json, "an error body must be JSON: %.300s", r->body);
    cr_assert_str_eq(srvt_header(r, "Content-Type"), "application/json");
    const json_t *e = json_object_get(r->json, "error");
    cr_assert(json_is_object(e), "no error object: %s", r->body);
    /* code, message, field; a refused spec or sweep adds every error. */
    const json_t *all = json_object_get(e, "errors");
    cr_assert(json_object_size(e) == 3 || (json_object_size(e) == 4 && json_is_array(all)),
              "error has exactly code, message, field (and errors): %s", r->body);
    cr_assert_str_eq(json_string_value(json_object_get(e, "code")), code, "%s", r->body);
    const char *msg = json_string_value(json_object_get(e, "message"));
    cr_assert(msg && msg[0], "an error has a message: %s", r->body);
    const char *f = json_string_value(json_object_get(e, "field"));
    cr_assert_not_null(f, "field is a string (maybe empty): %s", r->body);
    if (field)
        cr_assert_str_eq(f, field, "%s", r->body);
}

const json_t *srvt_at(const json_t *j, const char *path)
{
    char seg[128];
    const char *p = path;
    while (j && *p) {
        size_t n = strcspn(p, ".");
        snprintf(seg, sizeof seg, "%.*s", (int)n, p);
        if (json_is_array(j)) {
            char *end;
            long i = strtol(seg, &end, 10);
            j = *end || i < 0 ? NULL : json_array_get(j, (size_t)i);
        } else {
            j = json_object_get(j, seg);
        }
        p += n + (p[n] == '.');
    }
    return j;
}

int64_t srvt_int(const json_t *j, const char *path)
{
    const json_t *v = srvt_at(j, path);
    cr_assert(json_is_integer(v), "%s is not an integer", path);
    return json_integer_value(v);
}

const char *srvt_str(const json_t *j, const char *path)
{
    const json_t *v = srvt_at(j, path);
    cr_assert(json_is_string(v), "%s is not a string", path);
    return json_string_value(v);
}

void srvt_stop_clean(struct srvt_server *s)
{
    int status = srvt_stop(s, SIGTERM);
    cr_expect_eq(status, 0, "qlab-server exited with %d after SIGTERM; its log: %s", status,
                 srvt_log(s));
}

/* ---- the API's common steps ----------------------------------------------- */

const char *srvt_spec(const char *name)
{
    static char buf[512];
    snprintf(buf, sizeof buf,
             "{\"name\": \"%s\", \"model\": {\"arch\": \"lenet5\"}, "
             "\"dataset\": {\"name\": \"synthetic\"}, \"train\": {\"epochs\": 1}}",
             name);
    return buf;
}

int64_t srvt_submit(const struct srvt_server *s, const char *name)
{
    json_t *j = srvt_json(s, "POST", "/api/v1/experiments", srvt_spec(name), 201);
    int64_t id = json_integer_value(json_object_get(json_object_get(j, "run"), "id"));
    cr_assert_gt(id, 0);
    json_decref(j);
    return id;
}

void srvt_register(struct srvt_worker *w, const struct srvt_server *s, const char *name, int ndev)
{
    char body[4096];
    size_t n = (size_t)snprintf(body, sizeof body,
                                "{\"name\": \"%s\", \"host\": \"testhost\", \"version\": \"t\", "
                                "\"tags\": [\"test\"], \"devices\": [",
                                name);
    cr_assert(ndev >= 1 && ndev <= 16);
    for (int i = 0; i < ndev; i++)
        n += (size_t)snprintf(body + n, sizeof body - n,
                              "%s{\"id\": \"cpu%d\", \"kind\": \"cpu\", \"slots\": 1, "
                              "\"free\": 1, \"emulated\": false, \"info\": {\"cores\": 2}}",
                              i ? ", " : "", i);
    snprintf(body + n, sizeof body - n, "]}");
    json_t *j = srvt_json(s, "POST", "/api/v1/workers/register", body, 201);
    w->id = json_integer_value(json_object_get(json_object_get(j, "worker"), "id"));
    const char *tok = json_string_value(json_object_get(j, "token"));
    cr_assert_gt(w->id, 0);
    cr_assert(tok && strlen(tok) >= 32 && strlen(tok) < sizeof w->token, "token: %s",
              tok ? tok : "(none)");
    snprintf(w->token, sizeof w->token, "%s", tok);
    json_decref(j);
}

void srvt_lease(struct srvt_lease *l, const struct srvt_server *s, const struct srvt_worker *w)
{
    char path[96];
    snprintf(path, sizeof path, "/api/v1/workers/%lld/lease", (long long)w->id);
    json_t *j =
        srvt_call(s, w->token, NULL, "POST", path, "{\"devices\": [\"cpu0\"], \"wait\": 0}", 200);
    l->run = json_integer_value(json_object_get(json_object_get(j, "run"), "id"));
    const char *lease = json_string_value(json_object_get(j, "lease"));
    const char *dev = json_string_value(json_object_get(j, "device"));
    cr_assert_gt(l->run, 0);
    cr_assert(lease && lease[0] && strlen(lease) < sizeof l->lease);
    cr_assert(dev && strlen(dev) < sizeof l->device);
    snprintf(l->lease, sizeof l->lease, "%s", lease);
    snprintf(l->device, sizeof l->device, "%s", dev);
    json_decref(j);
}

void srvt_up_leased(char *dir, size_t dirlen, struct srvt_server *s, struct srvt_worker *w,
                    struct srvt_lease *l, const char *name)
{
    srvt_dir_make(dir, dirlen);
    srvt_start(s, dir, NULL);
    srvt_register(w, s, "w", 1);
    srvt_submit(s, name);
    srvt_lease(l, s, w);
}

void srvt_down(struct srvt_server *s, const char *dir)
{
    srvt_stop(s, SIGKILL);
    srvt_dir_remove(dir);
}

/* ---- raw sockets ---------------------------------------------------------- */

int srvt_raw_connect(const struct srvt_server *s, const char *src)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert_geq(fd, 0);
    if (src) {
        struct sockaddr_in a = {.sin_family = AF_INET};
        cr_assert_eq(inet_pton(AF_INET, src, &a.sin_addr), 1);
        cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0, "bind %s: %s", src,
                     strerror(errno));
    }
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons((uint16_t)s->port)};
    inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
    if (connect(fd, (struct sockaddr *)&to, sizeof to) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

bool srvt_raw_send(int fd, const char *data, size_t len)
{
    if (!len)
        len = strlen(data);
    while (len) {
        ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
        if (n <= 0)
            return false;
        data += n;
        len -= (size_t)n;
    }
    return true;
}

char *srvt_raw_read(int fd, double timeout_s, bool *closed)
{
    struct buf b = {0};
    double end = srvt_now() + timeout_s;
    *closed = false;
    buf_put(&b, "", 0);
    for (;;) {
        int left = (int)((end - srvt_now()) * 1000);
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (left <= 0 || poll(&p, 1, left) <= 0)
            break;
        char chunk[4096];
        ssize_t n = recv(fd, chunk, sizeof chunk, 0);
        if (n <= 0) {
            *closed = true;
            break;
        }
        buf_put(&b, chunk, (size_t)n);
    }
    return b.p;
}

/* ---- SSE ------------------------------------------------------------------ */

static size_t on_sse(char *data, size_t size, size_t n, void *cls)
{
    struct srvt_sse *e = cls;
    struct buf b = {e->buf, e->len, e->cap};
    buf_put(&b, data, size * n);
    e->buf = b.p;
    e->len = b.len;
    e->cap = b.cap;
    return size * n;
}

void srvt_sse_open(struct srvt_sse *e, const struct srvt_server *s, const char *path,
                   const char *last_event_id)
{
    char url[512], line[256];
    curl_once();
    memset(e, 0, sizeof *e);
    e->multi = curl_multi_init();
    e->easy = curl_easy_init();
    cr_assert(e->multi && e->easy);
    snprintf(url, sizeof url, "%s://127.0.0.1:%d%s", s->tls ? "https" : "http", s->port, path);
    if (s->cacert[0])
        curl_easy_setopt(e->easy, CURLOPT_CAINFO, s->cacert);
    curl_easy_setopt(e->easy, CURLOPT_URL, url);
    curl_easy_setopt(e->easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e->easy, CURLOPT_WRITEFUNCTION, on_sse);
    curl_easy_setopt(e->easy, CURLOPT_WRITEDATA, e);
    e->hdrs = curl_slist_append(e->hdrs, "Accept: text/event-stream");
    if (s->token[0]) {
        snprintf(line, sizeof line, "Authorization: Bearer %s", s->token);
        e->hdrs = curl_slist_append(e->hdrs, line);
    }
    if (last_event_id) {
        snprintf(line, sizeof line, "Last-Event-ID: %s", last_event_id);
        e->hdrs = curl_slist_append(e->hdrs, line);
    }
    curl_easy_setopt(e->easy, CURLOPT_HTTPHEADER, e->hdrs);
    curl_multi_add_handle(e->multi, e->easy);
}

bool srvt_sse_wait(struct srvt_sse *e, const char *needle, double timeout_s)
{
    double deadline = srvt_now() + timeout_s;
    for (;;) {
        int running = 0;
        curl_multi_perform(e->multi, &running);
        if (e->buf && strstr(e->buf, needle))
            return true;
        if (!running)
            e->done = true;
        double left = deadline - srvt_now();
        if (e->done || left <= 0)
            return false;
        curl_multi_poll(e->multi, NULL, 0, left < 0.05 ? (int)(left * 1000) + 1 : 50, NULL);
    }
}

void srvt_sse_close(struct srvt_sse *e)
{
    if (e->multi && e->easy)
        curl_multi_remove_handle(e->multi, e->easy);
    if (e->easy)
        curl_easy_cleanup(e->easy);
    if (e->multi)
        curl_multi_cleanup(e->multi);
    curl_slist_free_all(e->hdrs);
    free(e->buf);
    memset(e, 0, sizeof *e);
}
