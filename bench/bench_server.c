/* qlab-server benchmarks (bench_server.h). Each figure drives a real
 * qlab-server process over loopback HTTP with libcurl, as workers and the
 * dashboard do:
 *
 *  - server_ingest: 16 clients post 1000-point metric batches to their own
 *    leased runs; points/s against a raw SQLite bulk insert of the same rows
 *    into the same schema (srv_db_open: same migrations and pragmas), on the
 *    same disk, one transaction per 1000 rows, timed in the same run.
 *  - server_ingest_rate: the same points/s against the 200 000 points/s
 *    target.
 *  - server_runs_list_p99: GET /api/v1/runs pages over 10 000 runs while
 *    other clients post metrics; p99 latency against the 20 ms target.
 *  - server_downsample: GET .../metrics?max_points=2000 of a 1 000 000-point
 *    series; the median time against the 100 ms target. */
#include "bench_server.h"

#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_util.h"
#include "server/db.h"

#define CLIENTS 16
#define BATCH   1000
#define NAMES   4 /* metric names per batch: 250 steps of each */

/* ---- the server process --------------------------------------------------- */

struct server {
    pid_t pid;
    int port;
    char dir[PATH_MAX];
    char db[PATH_MAX + 16];
};

static bool server_bin(char *out, size_t len)
{
    const char *env = getenv("QLAB_SERVER_BIN");
    if (env && env[0]) {
        snprintf(out, len, "%s", env);
    } else {
        char self[PATH_MAX + 16];
        ssize_t n = readlink("/proc/self/exe", self, PATH_MAX - 1);
        if (n <= 0)
            return false;
        self[n] = '\0';
        char *slash = strrchr(self, '/');
        if (!slash)
            return false;
        if ((size_t)(slash - self) + sizeof "/qlab-server" > len)
            return false;
        memcpy(slash, "/qlab-server", sizeof "/qlab-server");
        snprintf(out, len, "%.*s", (int)(len - 1), self);
    }
    return access(out, X_OK) == 0;
}

static void remove_tree(const char *dir)
{
    /* The directory holds the databases and the data/ directory only. */
    char cmd[PATH_MAX + 32];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "qlab-bench: could not remove %s\n", dir);
}

/* Starts qlab-server on 127.0.0.1:0 with a fresh database; false (and
 * `why`) when the binary is missing. Dies when it does not start. */
static bool server_start(struct server *s, const char *label, char *why, size_t why_len)
{
    char bin[PATH_MAX], line[256];
    /* Before any client thread: curl's global setup is not thread-safe. */
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const char *tmp = getenv("TMPDIR");
    int pfd[2];
    size_t got = 0;

    if (!server_bin(bin, sizeof bin)) {
        snprintf(why, why_len,
                 "no qlab-server binary (set QLAB_SERVER_BIN or build it beside "
                 "qlab-bench)");
        return false;
    }
    snprintf(s->dir, sizeof s->dir, "%s/qlab-bench-%s-XXXXXX", tmp && tmp[0] ? tmp : "/tmp", label);
    if (!mkdtemp(s->dir))
        bench_die("mkdtemp %s: %s", s->dir, strerror(errno));
    snprintf(s->db, sizeof s->db, "%s/q.db", s->dir);
    if (pipe(pfd) != 0)
        bench_die("pipe: %s", strerror(errno));
    s->pid = fork();
    if (s->pid < 0)
        bench_die("fork: %s", strerror(errno));
    if (s->pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        /* The server's log goes beside its database, not into the figures. */
        char log[PATH_MAX + 16];
        snprintf(log, sizeof log, "%s/server.log", s->dir);
        FILE *lf = fopen(log, "w");
        if (lf)
            dup2(fileno(lf), 2);
        dup2(pfd[1], 1);
        execl(bin, bin, "--listen", "127.0.0.1:0", "--db", s->db, "--web", "", (char *)NULL);
        _exit(127);
    }
    close(pfd[1]);
    double deadline = bench_now() + 20;
    while (got < sizeof line - 1 && !memchr(line, '\n', got)) {
        struct pollfd p = {.fd = pfd[0], .events = POLLIN};
        int left = (int)((deadline - bench_now()) * 1000);
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
    s->port = colon && strncmp(line, "listening on http://", 20) == 0 ? atoi(colon + 1) : 0;
    if (s->port <= 0)
        bench_die("%s did not start (stdout: '%s')", bin, line);
    return true;
}

static void server_stop(struct server *s)
{
    int status;
    if (s->pid > 0) {
        kill(s->pid, SIGTERM);
        waitpid(s->pid, &status, 0);
        s->pid = 0;
    }
    remove_tree(s->dir);
}

/* ---- HTTP ----------------------------------------------------------------- */

/* One keep-alive connection. */
struct client {
    CURL *curl;
    int port;
    char lease_header[128];
    char *resp;
    size_t len, cap;
};

static size_t on_data(char *data, size_t size, size_t n, void *cls)
{
    struct client *c = cls;
    size_t add = size * n;
    if (c->len + add + 1 > c->cap) {
        size_t cap = c->cap ? c->cap : 65536;
        while (cap < c->len + add + 1)
            cap *= 2;
        char *p = realloc(c->resp, cap);
        if (!p)
            return 0;
        c->resp = p;
        c->cap = cap;
    }
    memcpy(c->resp + c->len, data, add);
    c->len += add;
    c->resp[c->len] = '\0';
    return add;
}

static void client_init(struct client *c, int port, const char *lease)
{
    memset(c, 0, sizeof *c);
    c->curl = curl_easy_init();
    if (!c->curl)
        bench_die("curl_easy_init failed");
    c->port = port;
    if (lease)
        snprintf(c->lease_header, sizeof c->lease_header, "X-Qlab-Lease: %s", lease);
    curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c->curl, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, c);
    curl_easy_setopt(c->curl, CURLOPT_TIMEOUT, 600L);
}

static void client_free(struct client *c)
{
    curl_easy_cleanup(c->curl);
    free(c->resp);
}

/* One request (body NULL: none); returns the status, the answer in c->resp. */
static long client_do(struct client *c, const char *method, const char *path, const char *body,
                      size_t len)
{
    char url[1024];
    struct curl_slist *h = NULL;
    long status = 0;
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", c->port, path);
    c->len = 0;
    if (c->resp)
        c->resp[0] = '\0';
    curl_easy_setopt(c->curl, CURLOPT_URL, url);
    curl_easy_setopt(c->curl, CURLOPT_CUSTOMREQUEST, method);
    h = curl_slist_append(h, "Expect:");
    if (body) {
        h = curl_slist_append(h, "Content-Type: application/json");
        curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    } else {
        curl_easy_setopt(c->curl, CURLOPT_HTTPGET, 1L);
        curl_easy_setopt(c->curl, CURLOPT_CUSTOMREQUEST, method);
    }
    if (c->lease_header[0])
        h = curl_slist_append(h, c->lease_header);
    curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, h);
    CURLcode cc = curl_easy_perform(c->curl);
    curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(h);
    return cc == CURLE_OK ? status : -1;
}

/* A request that must answer `want`; returns the parsed answer (or NULL
 * for an empty body). */
static json_t *call_json(struct client *c, const char *method, const char *path, const char *body,
                         long want)
{
    long st = client_do(c, method, path, body, body ? strlen(body) : 0);
    if (st != want)
        bench_die("%s %s: status %ld, want %ld: %.300s", method, path, st, want,
                  c->resp ? c->resp : "");
    return c->len ? json_loadb(c->resp, c->len, 0, NULL) : NULL;
}

/* ---- fixtures --------------------------------------------------------------- */

struct lease {
    int64_t run;
    char token[80];
};

static const char spec[] = "{\"name\": \"bench\", \"model\": {\"arch\": \"lenet5\"}, "
                           "\"dataset\": {\"name\": \"synthetic\"}}";

/* Registers a worker with `n` cpu devices and takes `n` leases of queued
 * runs (there must be that many). */
static void take_leases(struct client *admin, struct lease *out, int n)
{
    char *body = malloc(256 + (size_t)n * 64), path[96];
    size_t len = (size_t)sprintf(body, "{\"name\": \"bench\", \"devices\": [");
    for (int i = 0; i < n; i++)
        len += (size_t)sprintf(body + len, "%s{\"id\": \"cpu%d\", \"kind\": \"cpu\"}", i ? "," : "",
                               i);
    sprintf(body + len, "]}");
    json_t *j = call_json(admin, "POST", "/api/v1/workers/register", body, 201);
    int64_t wid = json_integer_value(json_object_get(json_object_get(j, "worker"), "id"));
    json_decref(j);
    snprintf(path, sizeof path, "/api/v1/workers/%lld/lease", (long long)wid);
    for (int i = 0; i < n; i++) {
        sprintf(body, "{\"devices\": [\"cpu%d\"]}", i);
        j = call_json(admin, "POST", path, body, 200);
        out[i].run = json_integer_value(json_object_get(json_object_get(j, "run"), "id"));
        snprintf(out[i].token, sizeof out[i].token, "%s",
                 json_string_value(json_object_get(j, "lease")));
        json_decref(j);
    }
    free(body);
}

static const char *const metric_names[NAMES] = {"train_loss", "train_acc", "lr", "grad_norm"};

/* The value of point (step, name): deterministic, with rare spikes. */
static double point_value(int64_t step, int name)
{
    uint64_t h = (uint64_t)step * 0x9e3779b97f4a7c15ull + (uint64_t)name * 0xbf58476d1ce4e5b9ull;
    h ^= h >> 31;
    double v = 1.0 / (1.0 + (double)step * 1e-4) + (double)(h & 0xffff) * 1e-6;
    return (h >> 16) % 997 == 0 ? v * 50 : v;
}

/* A batch of BATCH points: `names` names of BATCH/names steps from
 * `first`. Caller frees. */
static char *batch_body(int64_t first, int names, size_t *len)
{
    size_t cap = 64 + BATCH * 80;
    char *b = malloc(cap);
    size_t n = (size_t)snprintf(b, cap, "{\"points\": [");
    int per = BATCH / names;
    for (int s = 0; s < per; s++)
        for (int k = 0; k < names; k++)
            n +=
                (size_t)snprintf(b + n, cap - n, "%s{\"step\":%lld,\"name\":\"%s\",\"value\":%.9g}",
                                 s || k ? "," : "", (long long)(first + s), metric_names[k],
                                 point_value(first + s, k));
    n += (size_t)snprintf(b + n, cap - n, "]}");
    *len = n;
    return b;
}

/* ---- ingest --------------------------------------------------------------- */

struct poster {
    int port;
    const struct lease *lease;
    char *const *bodies;
    const size_t *lens;
    int nbatches;
    atomic_int *go;
    double done_at;
    int failures;
};

static void *post_batches(void *p)
{
    struct poster *a = p;
    struct client c;
    char path[96];
    client_init(&c, a->port, a->lease->token);
    snprintf(path, sizeof path, "/api/v1/runs/%lld/metrics", (long long)a->lease->run);
    while (!atomic_load(a->go))
        ;
    for (int b = 0; b < a->nbatches; b++) {
        long st = client_do(&c, "POST", path, a->bodies[b], a->lens[b]);
        if (st != 200 || !strstr(c.resp, "\"accepted\":1000"))
            a->failures++;
    }
    a->done_at = bench_now();
    client_free(&c);
    return NULL;
}

/* Points/s of CLIENTS clients each posting `nbatches` batches to its lease. */
static double ingest_once(int port, const struct lease *leases, char *const *bodies,
                          const size_t *lens, int nbatches)
{
    struct poster a[CLIENTS];
    pthread_t t[CLIENTS];
    atomic_int go = 0;
    for (int i = 0; i < CLIENTS; i++) {
        a[i] = (struct poster){.port = port,
                               .lease = &leases[i],
                               .bodies = bodies,
                               .lens = lens,
                               .nbatches = nbatches,
                               .go = &go};
        if (pthread_create(&t[i], NULL, post_batches, &a[i]) != 0)
            bench_die("pthread_create failed");
    }
    bench_sleep(0.2); /* every client connected and spinning */
    double t0 = bench_now(), end = t0;
    atomic_store(&go, 1);
    for (int i = 0; i < CLIENTS; i++) {
        pthread_join(t[i], NULL);
        if (a[i].failures)
            bench_die("server_ingest: %d batches of client %d were not accepted whole",
                      a[i].failures, i);
        end = fmax(end, a[i].done_at);
    }
    return (double)CLIENTS * nbatches * BATCH / (end - t0);
}

/* The same rows straight into SQLite: same schema and pragmas (srv_db_open),
 * same batches in the same order, one transaction per batch. Points/s. */
static double raw_once(const char *path, int nbatches)
{
    static const char ins[] = "INSERT INTO metrics (run_id, name_id, step, value, t) "
                              "VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING";
    struct srv_db d;
    struct qc_err err;
    sqlite3_stmt *st = NULL;
    if (srv_db_open(&d, path, false, &err) < 0)
        bench_die("raw baseline: %s", err.msg);
    for (int k = 0; k < NAMES; k++) {
        char sql[128];
        snprintf(sql, sizeof sql, "INSERT INTO metric_names (name) VALUES ('%s')", metric_names[k]);
        sqlite3_exec(d.writer.db, sql, NULL, NULL, NULL);
    }
    if (sqlite3_prepare_v2(d.writer.db, ins, -1, &st, NULL) != SQLITE_OK)
        bench_die("raw baseline: %s", sqlite3_errmsg(d.writer.db));
    const int per = BATCH / NAMES;
    double t0 = bench_now();
    for (int b = 0; b < nbatches; b++)
        for (int c = 0; c < CLIENTS; c++) {
            sqlite3_exec(d.writer.db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
            double now = srv_now();
            for (int s = 0; s < per; s++)
                for (int k = 0; k < NAMES; k++) {
                    int64_t step = (int64_t)b * per + s;
                    sqlite3_bind_int64(st, 1, c + 1);
                    sqlite3_bind_int64(st, 2, k + 1);
                    sqlite3_bind_int64(st, 3, step);
                    sqlite3_bind_double(st, 4, point_value(step, k));
                    sqlite3_bind_double(st, 5, now);
                    if (sqlite3_step(st) != SQLITE_DONE)
                        bench_die("raw baseline: %s", sqlite3_errmsg(d.writer.db));
                    sqlite3_reset(st);
                }
            if (sqlite3_exec(d.writer.db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
                bench_die("raw baseline: %s", sqlite3_errmsg(d.writer.db));
        }
    double dt = bench_now() - t0;
    sqlite3_finalize(st);
    srv_db_close(&d);
    return (double)CLIENTS * nbatches * BATCH / dt;
}

void bench_server_ingest(void)
{
    enum { NBATCH = 40, REPS = 2 };
    struct server s;
    char why[256], extra[512];
    if (!server_start(&s, "ingest", why, sizeof why)) {
        bench_skip("server_ingest", why);
        return;
    }
    struct client admin;
    client_init(&admin, s.port, NULL);
    for (int i = 0; i < CLIENTS * REPS; i++)
        json_decref(call_json(&admin, "POST", "/api/v1/experiments", spec, 201));
    struct lease leases[CLIENTS * REPS];
    take_leases(&admin, leases, CLIENTS * REPS);

    char *bodies[NBATCH];
    size_t lens[NBATCH];
    for (int b = 0; b < NBATCH; b++)
        bodies[b] = batch_body((int64_t)b * (BATCH / NAMES), NAMES, &lens[b]);

    /* Alternate subject and baseline, each on fresh rows; best of each. */
    double best = 0, best_raw = 0;
    for (int r = 0; r < REPS; r++) {
        char raw[PATH_MAX + 32];
        snprintf(raw, sizeof raw, "%s/raw-%d.db", s.dir, r);
        best = fmax(best, ingest_once(s.port, &leases[r * CLIENTS], bodies, lens, NBATCH));
        best_raw = fmax(best_raw, raw_once(raw, NBATCH));
    }
    for (int b = 0; b < NBATCH; b++)
        free(bodies[b]);
    client_free(&admin);
    server_stop(&s);

    snprintf(extra, sizeof extra, "\"clients\":%d,\"batch_points\":%d,\"points\":%d", CLIENTS,
             BATCH, CLIENTS * NBATCH * BATCH);
    bench_emit(&(struct bench_figure){
        .bench = "server_ingest",
        .value = best,
        .unit = "points/s",
        .baseline = "sqlite_bulk_insert",
        .baseline_value = best_raw,
        .ratio = best / best_raw,
        .target_kind = BENCH_AT_LEAST,
        .target = 0.5,
        .threads = CLIENTS,
        .note = "16 HTTP clients, 1000-point batches, vs the same rows inserted directly, one "
                "transaction per batch",
        .extra = extra});
    bench_emit(&(struct bench_figure){.bench = "server_ingest_rate",
                                      .value = best,
                                      .unit = "points/s",
                                      .baseline = "target_rate",
                                      .baseline_value = 200000,
                                      .ratio = best / 200000,
                                      .target_kind = BENCH_AT_LEAST,
                                      .target = 1.0,
                                      .threads = CLIENTS,
                                      .extra = extra});
}

/* ---- run list under load -------------------------------------------------- */

#define LIST_RUNS    10000
#define READERS      6
#define WRITERS      2
#define LIST_SECONDS 3.0
#define SAMPLES_MAX  200000

struct reader {
    int port;
    int64_t sweep;
    double until;
    double *lat;
    int n;
    int failures;
    uint64_t rng;
};

static void *read_lists(void *p)
{
    struct reader *a = p;
    struct client c;
    char path[160];
    client_init(&c, a->port, NULL);
    for (int i = 0; bench_now() < a->until && a->n < SAMPLES_MAX; i++) {
        a->rng = a->rng * 6364136223846793005ull + 1442695040888963407ull;
        int cursor = (int)((a->rng >> 33) % (LIST_RUNS - 100));
        switch (i % 3) {
        case 0:
            snprintf(path, sizeof path, "/api/v1/runs?limit=100&cursor=%d", cursor);
            break;
        case 1:
            snprintf(path, sizeof path, "/api/v1/runs?state=queued&limit=100&cursor=%d", cursor);
            break;
        default:
            snprintf(path, sizeof path, "/api/v1/runs?sweep=%lld&limit=100&cursor=%d",
                     (long long)a->sweep, cursor);
        }
        double t0 = bench_now();
        long st = client_do(&c, "GET", path, NULL, 0);
        double dt = bench_now() - t0;
        if (st != 200 || !strstr(c.resp, "\"runs\":[{"))
            a->failures++;
        if (i >= 10) /* the first ones warm the connection and the caches */
            a->lat[a->n++] = dt;
    }
    client_free(&c);
    return NULL;
}

struct writer {
    int port;
    const struct lease *lease;
    double until;
    int64_t points;
};

static void *write_metrics(void *p)
{
    struct writer *a = p;
    struct client c;
    char path[96];
    client_init(&c, a->port, a->lease->token);
    snprintf(path, sizeof path, "/api/v1/runs/%lld/metrics", (long long)a->lease->run);
    for (int64_t b = 0; bench_now() < a->until; b++) {
        size_t len;
        char *body = batch_body(b * BATCH, 1, &len);
        if (client_do(&c, "POST", path, body, len) == 200)
            a->points += BATCH;
        free(body);
    }
    client_free(&c);
    return NULL;
}

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

void bench_server_runs_list(void)
{
    struct server s;
    char why[256], extra[512];
    if (!server_start(&s, "list", why, sizeof why)) {
        bench_skip("server_runs_list_p99", why);
        return;
    }
    struct client admin;
    client_init(&admin, s.port, NULL);
    /* 10 000 runs: one sweep of 1000 seeds x 10 epoch counts. */
    size_t cap = 16384, n;
    char *body = malloc(cap);
    n = (size_t)snprintf(body, cap,
                         "{\"name\": \"list\", \"base\": %s, \"parameters\": "
                         "{\"train.seed\": {\"values\": [",
                         spec);
    for (int i = 0; i < 1000; i++)
        n += (size_t)snprintf(body + n, cap - n, "%s%d", i ? "," : "", i);
    snprintf(body + n, cap - n, "]}, \"train.epochs\": {\"values\": [1,2,3,4,5,6,7,8,9,10]}}}");
    double t0 = bench_now();
    json_t *j = call_json(&admin, "POST", "/api/v1/sweeps", body, 201);
    double create_s = bench_now() - t0;
    free(body);
    int64_t sweep = json_integer_value(json_object_get(json_object_get(j, "sweep"), "id"));
    if (json_integer_value(json_object_get(json_object_get(j, "sweep"), "runs")) != LIST_RUNS)
        bench_die("server_runs_list: the sweep did not make %d runs", LIST_RUNS);
    json_decref(j);
    struct lease leases[WRITERS];
    take_leases(&admin, leases, WRITERS);

    double until = bench_now() + LIST_SECONDS;
    struct reader r[READERS];
    struct writer w[WRITERS];
    pthread_t tr[READERS], tw[WRITERS];
    for (int i = 0; i < WRITERS; i++) {
        w[i] = (struct writer){.port = s.port, .lease = &leases[i], .until = until};
        pthread_create(&tw[i], NULL, write_metrics, &w[i]);
    }
    for (int i = 0; i < READERS; i++) {
        r[i] = (struct reader){.port = s.port,
                               .sweep = sweep,
                               .until = until,
                               .lat = malloc(SAMPLES_MAX * sizeof(double)),
                               .rng = 0x1234567ull + (uint64_t)i};
        pthread_create(&tr[i], NULL, read_lists, &r[i]);
    }
    double *all = malloc((size_t)READERS * SAMPLES_MAX * sizeof(double));
    int total = 0, failures = 0;
    int64_t written = 0;
    for (int i = 0; i < READERS; i++) {
        pthread_join(tr[i], NULL);
        memcpy(all + total, r[i].lat, (size_t)r[i].n * sizeof(double));
        total += r[i].n;
        failures += r[i].failures;
        free(r[i].lat);
    }
    for (int i = 0; i < WRITERS; i++) {
        pthread_join(tw[i], NULL);
        written += w[i].points;
    }
    client_free(&admin);
    server_stop(&s);
    if (failures || total < 10)
        bench_die("server_runs_list: %d failed requests, %d measured", failures, total);
    qsort(all, (size_t)total, sizeof *all, cmp_double);
    double p50 = all[total / 2] * 1e3, p99 = all[(int)((double)total * 0.99)] * 1e3;
    double pmax = all[total - 1] * 1e3;
    free(all);
    snprintf(extra, sizeof extra,
             "\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"max_ms\":%.3f,\"requests\":%d,\"runs\":%d,"
             "\"readers\":%d,\"writers\":%d,\"writer_points_per_s\":%.0f,\"sweep_create_s\":%.2f",
             p50, p99, pmax, total, LIST_RUNS, READERS, WRITERS, (double)written / LIST_SECONDS,
             create_s);
    bench_emit(&(struct bench_figure){
        .bench = "server_runs_list_p99",
        .value = p99,
        .unit = "ms",
        .baseline = "target_ms",
        .baseline_value = 20,
        .ratio = p99 / 20,
        .target_kind = BENCH_AT_MOST,
        .target = 1.0,
        .threads = READERS + WRITERS,
        .note = "GET /api/v1/runs pages of 100 (plain, state, sweep filters) while 2 clients "
                "post metric batches",
        .extra = extra});
}

/* ---- downsampled read ----------------------------------------------------- */

#define SERIES_POINTS  1000000
#define SERIES_POSTERS 4

struct series_poster {
    int port;
    const struct lease *lease;
    int index;
    int failures;
};

static void *post_series(void *p)
{
    struct series_poster *a = p;
    struct client c;
    char path[96];
    client_init(&c, a->port, a->lease->token);
    snprintf(path, sizeof path, "/api/v1/runs/%lld/metrics", (long long)a->lease->run);
    for (int b = a->index; b < SERIES_POINTS / BATCH; b += SERIES_POSTERS) {
        size_t len;
        char *body = batch_body((int64_t)b * BATCH, 1, &len);
        if (client_do(&c, "POST", path, body, len) != 200)
            a->failures++;
        free(body);
    }
    client_free(&c);
    return NULL;
}

void bench_server_downsample(void)
{
    enum { REPS = 7, MAXP = 2000 };
    struct server s;
    char why[256], extra[512], path[160];
    if (!server_start(&s, "series", why, sizeof why)) {
        bench_skip("server_downsample", why);
        return;
    }
    struct client admin;
    client_init(&admin, s.port, NULL);
    json_decref(call_json(&admin, "POST", "/api/v1/experiments", spec, 201));
    struct lease l;
    take_leases(&admin, &l, 1);
    struct series_poster a[SERIES_POSTERS];
    pthread_t t[SERIES_POSTERS];
    double t0 = bench_now();
    for (int i = 0; i < SERIES_POSTERS; i++) {
        a[i] = (struct series_poster){.port = s.port, .lease = &l, .index = i};
        pthread_create(&t[i], NULL, post_series, &a[i]);
    }
    for (int i = 0; i < SERIES_POSTERS; i++) {
        pthread_join(t[i], NULL);
        if (a[i].failures)
            bench_die("server_downsample: %d batches failed", a[i].failures);
    }
    double load_s = bench_now() - t0;

    snprintf(path, sizeof path, "/api/v1/runs/%lld/metrics?names=train_loss&max_points=%d",
             (long long)l.run, MAXP);
    double times[REPS];
    size_t kept = 0;
    for (int r = -1; r < REPS; r++) {
        double t1 = bench_now();
        long st = client_do(&admin, "GET", path, NULL, 0);
        double dt = bench_now() - t1;
        if (st != 200)
            bench_die("GET %s: %ld", path, st);
        if (r < 0) { /* the first read checks the answer and warms the cache */
            json_t *j = json_loadb(admin.resp, admin.len, 0, NULL);
            const json_t *steps = json_object_get(
                json_object_get(json_object_get(j, "series"), "train_loss"), "step");
            kept = json_array_size(steps);
            if (!json_is_true(json_object_get(j, "downsampled")) || kept == 0 || kept > MAXP)
                bench_die("server_downsample: %zu points, downsampled %d", kept,
                          json_is_true(json_object_get(j, "downsampled")));
            json_decref(j);
            continue;
        }
        times[r] = dt;
    }
    qsort(times, REPS, sizeof times[0], cmp_double);
    double median = times[REPS / 2] * 1e3, best = times[0] * 1e3;

    /* Context: a bare SQLite scan of the same series from the same file. */
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    double scan_ms = NAN;
    if (sqlite3_open_v2(s.db, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db,
                           "SELECT step, value FROM metrics WHERE run_id = ? AND name_id = "
                           "(SELECT id FROM metric_names WHERE name = 'train_loss') "
                           "ORDER BY step",
                           -1, &st, NULL) == SQLITE_OK) {
        double acc = 0, t2 = bench_now();
        sqlite3_bind_int64(st, 1, l.run);
        while (sqlite3_step(st) == SQLITE_ROW)
            acc += sqlite3_column_double(st, 1);
        scan_ms = (bench_now() - t2) * 1e3;
        if (!(acc == acc))
            scan_ms = NAN;
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    client_free(&admin);
    server_stop(&s);

    snprintf(extra, sizeof extra,
             "\"series_points\":%d,\"max_points\":%d,\"returned\":%zu,\"best_ms\":%.2f,"
             "\"sqlite_scan_ms\":%.2f,\"load_points_per_s\":%.0f",
             SERIES_POINTS, MAXP, kept, best, scan_ms, SERIES_POINTS / load_s);
    bench_emit(&(struct bench_figure){
        .bench = "server_downsample",
        .value = median,
        .unit = "ms",
        .baseline = "target_ms",
        .baseline_value = 100,
        .ratio = median / 100,
        .target_kind = BENCH_AT_MOST,
        .target = 1.0,
        .threads = 1,
        .note = "median of 7 GETs of a 1M-point series at max_points=2000 (min/max buckets)",
        .extra = extra});
}
