/* Helpers of the server test suite: temporary directories, the real
 * qlab-server binary started on port 0 and stopped again, HTTP requests
 * through libcurl with the answer parsed as JSON, and Server-Sent Event
 * streams read with deadlines. Every helper fails the calling test loudly
 * (Criterion assertions) rather than returning an error to check. */
#ifndef QLAB_TESTS_SRVT_H
#define QLAB_TESTS_SRVT_H

#include <curl/curl.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define SRVT_PATH 512

/* A temporary directory, removed with everything in it by srvt_dir_remove. */
void srvt_dir_make(char *out, size_t len);
void srvt_dir_remove(const char *dir);

/* Writes `text` to `path` (test data files: token files). */
void srvt_write_file(const char *path, const char *text);

/* A qlab-server process ($QLAB_SERVER_BIN). */
struct srvt_server {
    pid_t pid;
    int port;
    char dir[SRVT_PATH]; /* its temporary directory (database, data, logs) */
    char db[SRVT_PATH + 16];
    char log[SRVT_PATH + 16];    /* its stderr */
    char token[160];             /* bearer token sent by srvt_json when not "" */
    long long fsize_limit;       /* set before srvt_start: RLIMIT_FSIZE of the process (0: none) */
    bool tls;                    /* it printed https:// (started with --tls-cert) */
    char cacert[SRVT_PATH + 16]; /* set before srvt_do: the CA file libcurl verifies with */
};

/* Starts the binary with --listen 127.0.0.1:0 --db <dir>/q.db and the extra
 * arguments (NULL-terminated, may be NULL), waits for its "listening on"
 * line and records the port. `dir` must exist; the server is killed when
 * the test process dies, whatever the reason. */
void srvt_start(struct srvt_server *s, const char *dir, const char *const *args);
/* Runs the binary with `args` until it exits (it must, within 10 s) and
 * returns its exit status; its stderr goes to `err_out` (NUL-terminated). */
int srvt_run_fail(const char *const *args, char *err_out, size_t err_len);
/* SIGTERM (or `sig`), then waits; returns the exit status (128 + signal when
 * killed). No-op returning -1 when not running. */
int srvt_stop(struct srvt_server *s, int sig);
/* The server's stderr so far (for failure messages); static buffer. */
const char *srvt_log(const struct srvt_server *s);

/* One HTTP exchange. */
struct srvt_req {
    const char *method;
    const char *path;         /* "/api/v1/runs?limit=2" */
    const char *token;        /* bearer token, NULL or "" for none */
    const char *body;         /* NULL: no body */
    size_t body_len;          /* 0: strlen(body) */
    const char *content_type; /* default application/json when a body is given */
    const char *headers[8];   /* extra "Name: value" lines, NULL-terminated */
    long timeout_ms;          /* default 10 s */
    bool expect_continue;     /* send "Expect: 100-continue" (curl waits for 100 before the body) */
};

struct srvt_resp {
    long status;
    char *body; /* NUL-terminated */
    size_t len;
    char *headers;  /* raw response header block */
    json_t *json;   /* the body parsed, or NULL */
    double seconds; /* how long the exchange took */
};

void srvt_do(struct srvt_resp *out, const struct srvt_server *s, const struct srvt_req *rq);
void srvt_resp_free(struct srvt_resp *r);
/* A response header's value ("" when absent); static buffer. */
const char *srvt_header(const struct srvt_resp *r, const char *name);

/* The common case: `method path` with a JSON body (may be NULL) as
 * s->token; asserts the status and returns the parsed body (new reference;
 * json_null() for an empty body). */
json_t *srvt_json(const struct srvt_server *s, const char *method, const char *path,
                  const char *body, long want_status);
/* The general form: `token` (NULL: none) and `lease` (NULL: no
 * X-Qlab-Lease header) given explicitly. */
json_t *srvt_call(const struct srvt_server *s, const char *token, const char *lease,
                  const char *method, const char *path, const char *body, long want_status);
/* srvt_json with the run-side lease header. */
json_t *srvt_json_lease(const struct srvt_server *s, const char *method, const char *path,
                        const char *lease, const char *body, long want_status);

/* Asserts that `resp` is an error with this status and code, and (when
 * `field` is not NULL) this field. */
void srvt_expect_error(const struct srvt_resp *r, long status, const char *code, const char *field);

/* A small valid experiment spec on the synthetic dataset (static buffer). */
const char *srvt_spec(const char *name);
/* Submits it; returns the run id. */
int64_t srvt_submit(const struct srvt_server *s, const char *name);

/* A registered worker with `ndev` cpu devices cpu0.. (up to 16). */
struct srvt_worker {
    int64_t id;
    char token[80];
};
void srvt_register(struct srvt_worker *w, const struct srvt_server *s, const char *name, int ndev);

/* A lease taken by worker `w` (wait 0: there must be a queued run). */
struct srvt_lease {
    int64_t run;
    char lease[80];
    char device[72];
};
void srvt_lease(struct srvt_lease *l, const struct srvt_server *s, const struct srvt_worker *w);

/* The fixture of the suites that post a run's metrics: a server started in
 * a fresh folder `dir` (fields of `s` set beforehand are kept), worker "w"
 * with one device, and a run submitted as `name` and leased to it. */
void srvt_up_leased(char *dir, size_t dirlen, struct srvt_server *s, struct srvt_worker *w,
                    struct srvt_lease *l, const char *name);
/* Kills the server (SIGKILL) and removes its folder. */
void srvt_down(struct srvt_server *s, const char *dir);

/* Raw TCP to the server, for what libcurl will not send (malformed
 * requests, half-sent ones, idle sockets). `src` binds the client side to
 * a local address ("127.0.0.2": another client address on loopback) or is
 * NULL. Returns the socket, or -1 when the connection is refused. */
int srvt_raw_connect(const struct srvt_server *s, const char *src);
/* Sends all of `data` (len 0: strlen); false when the peer is gone. */
bool srvt_raw_send(int fd, const char *data, size_t len);
/* Reads what arrives within `timeout_s` or until the peer closes (*closed
 * tells which); returns a NUL-terminated malloc'd buffer. */
char *srvt_raw_read(int fd, double timeout_s, bool *closed);

/* A Server-Sent Events stream, read through a libcurl multi handle. */
struct srvt_sse {
    CURLM *multi;
    CURL *easy;
    struct curl_slist *hdrs;
    char *buf;
    size_t len, cap;
    bool done;
};

void srvt_sse_open(struct srvt_sse *e, const struct srvt_server *s, const char *path,
                   const char *last_event_id);
/* Reads until the buffer contains `needle` or `timeout_s` passes; returns
 * whether it was found. */
bool srvt_sse_wait(struct srvt_sse *e, const char *needle, double timeout_s);
void srvt_sse_close(struct srvt_sse *e);

/* The value at a dotted path of object keys and array indices
 * ("run.spec.train.seed", "runs.0.id"); borrowed, NULL when absent. */
const json_t *srvt_at(const json_t *j, const char *path);
int64_t srvt_int(const json_t *j, const char *path);     /* asserts an integer */
const char *srvt_str(const json_t *j, const char *path); /* asserts a string */

/* A SIGTERM stop that must end with exit status 0 (under the sanitizer
 * build, also: no leak and no error report at shutdown). */
void srvt_stop_clean(struct srvt_server *s);

/* Monotonic seconds. */
double srvt_now(void);
void srvt_sleep(double seconds);

#endif
