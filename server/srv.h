/* The server's shared state and the request that every route handler
 * receives. Handlers have one signature (srv_handler): they read the
 * request, do their work in at most one database transaction, and either
 * set a JSON reply or return a QC_E* code with r->err filled, which the
 * dispatcher (http.c) turns into the status and the error body. */
#ifndef SRV_SRV_H
#define SRV_SRV_H

#include <jansson.h>
#include <microhttpd.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "qcore/error.h"
#include "server/auth.h"
#include "server/config.h"
#include "server/db.h"
#include "server/gate.h"
#include "server/hub.h"
#include "server/offload.h"

/* A connection's inactivity limit while a request is under way (its body
 * arriving, its answer leaving), in seconds; between requests and before
 * the headers are complete it is --header-timeout. */
#define SRV_IDLE_TIMEOUT_S 120u

/* Latency histogram buckets of /metrics, in seconds. */
#define SRV_LAT_BUCKETS 10

struct srv_stats {
    atomic_llong requests;
    atomic_llong points;                         /* metric points accepted */
    atomic_llong stream_reads;                   /* event-log reads by SSE streams */
    atomic_llong lat_count[SRV_LAT_BUCKETS + 1]; /* the last is +Inf */
    atomic_llong lat_sum_us;
    double started; /* monotonic */
};

struct srv_server {
    struct srv_config cfg;
    struct srv_db db;
    struct srv_hub hub;
    struct srv_offload offload; /* the threads of SRV_OFFLOAD handlers */
    struct srv_auth auth;
    struct srv_stats stats;
    struct MHD_Daemon *daemon;
    struct srv_cost *cost; /* hardware cost of runs (server/cost.h); NULL without hw/ */
    uint16_t port;
    bool tls;                 /* serving HTTPS */
    struct srv_gate gate;     /* the front door: listening, TLS, framing */
    char *tls_cert, *tls_key; /* the PEM files' text, alive as long as the daemon */
    /* The open writer transaction's effects, published after its commit;
     * guarded by the writer mutex (store.c: srv_tx_begin/srv_tx_end). */
    int64_t tx_event;
    bool tx_queued;
    atomic_int heavy_lists; /* metric-filtered run lists under way */
};

/* The return of a handler that parked its connection (srv_hub_wait): the
 * dispatcher calls it again when the connection is resumed. */
#define SRV_SUSPENDED 1

struct srv_req {
    struct srv_server *srv;
    struct MHD_Connection *conn;
    const struct srv_route *route;
    const char *method, *url;
    int64_t id; /* the {id} path segment, 0 when none */

    /* The caller, from the Authorization header. */
    enum srv_role role;
    int64_t worker_id; /* SRV_ROLE_WORKER: the token's worker */
    int token_index;   /* the token file entry used, -1 for none */
    const char *who;   /* the token's name (auth.h), NULL without a token file */

    /* The body: in memory (JSON routes) or in a temporary file (uploads). */
    char *body;
    size_t body_len, body_cap;
    FILE *body_file;
    char body_path[1200];
    uint32_t body_crc;
    bool too_big;
    int body_errno; /* a write or allocation of the body failed (ENOSPC, ENOMEM...) */

    /* The answer. */
    int status;                /* 200 unless set */
    int retry_after;           /* seconds for a 429/503's Retry-After (0: 1) */
    json_t *reply;             /* JSON body, owned */
    struct MHD_Response *resp; /* or a ready response (files, SSE), owned */
    char err_code[32];         /* error code override ("bad_json") */
    struct qc_err err;
    json_t *errors; /* every error of a spec or sweep, added to the error body; owned */

    /* Handler state that survives a suspension; freed with the request. */
    void *state;
    void (*state_free)(void *state);
    bool suspended_once;
    double t0; /* monotonic, for the latency histogram */

    /* An SRV_OFFLOAD handler: queued on the offload pool, then its result. */
    bool offload_queued, offloaded;
    int offload_rc;
    struct srv_req *offload_next;
};

typedef int (*srv_handler)(struct srv_req *r);

/* Route flags: who may call and what body it takes. */
enum {
    SRV_AUTH_PUBLIC = 0, /* anyone */
    SRV_AUTH_READ = 1,   /* read, admin */
    SRV_AUTH_ADMIN = 2,  /* admin */
    SRV_AUTH_JOIN = 3,   /* join, admin */
    SRV_AUTH_WORKER = 4, /* the worker named by {id}, or admin */
    SRV_AUTH_LEASE = 5,  /* a worker token (the handler checks the lease), admin */
    SRV_AUTH_MASK = 7,
    SRV_BODY_JSON = 1 << 4,     /* application/json body, parsed by the handler */
    SRV_BODY_FILE = 1 << 5,     /* raw body streamed to a temporary file */
    SRV_READ_OR_LEASE = 1 << 6, /* SRV_AUTH_LEASE also open to read tokens */
    SRV_QUERY_FILTERS = 1 << 7, /* the handler also takes open-ended filters (GET /runs) */
    SRV_QUERY_ANY = 1 << 8,     /* any query parameter (the dashboard's static files) */
    SRV_OFFLOAD = 1 << 9        /* runs on the offload pool (offload.h), never on an MHD thread */
};

struct srv_route {
    const char *method;
    const char *pattern; /* "/api/v1/runs/{id}/cancel" */
    srv_handler handler;
    unsigned flags;
    /* The query parameters it takes, comma-separated ("limit,cursor"); NULL
     * or "" for none. Any other is 400 bad_param naming it (GET routes also
     * take `token`, the EventSource's way to authenticate). schema/
     * openapi.yaml declares the same names (tests/server/test_openapi.c). */
    const char *query;
};

extern const struct srv_route srv_routes[];
extern const int srv_nroutes;

/* Reply helpers: set r->reply (stealing `body`) and the status; return 0. */
int srv_reply(struct srv_req *r, int status, json_t *body);
/* The same with a JSON body already written as text (`text`, `len` bytes,
 * malloc'ed: the response takes it, also on failure). QC_ENOMEM when the
 * response cannot be made. */
int srv_reply_text(struct srv_req *r, int status, char *text, size_t len);
/* Sets the error code string and r->err; returns `code`. */
int srv_fail(struct srv_req *r, int code, const char *err_code, const char *field, const char *fmt,
             ...) __attribute__((format(printf, 5, 6)));

/* A body that could not be kept (errno `e`): out of storage is 507
 * insufficient_storage (ENOSPC, EDQUOT, EFBIG), anything else 500. Never
 * 413: the body was within its limit, and a worker takes 413 as final. */
int srv_fail_storage(struct srv_req *r, int e);

/* The body parsed as a JSON object (new reference), or NULL with the 400
 * bad_json / invalid_request error set. */
json_t *srv_body_json(struct srv_req *r);

/* Query parameter, NULL when absent. */
const char *srv_query(struct srv_req *r, const char *key);
/* Integer query parameter within [lo, hi]; `def` when absent; QC_EINVAL
 * (bad_param, field "?key") when malformed. */
int srv_query_int(struct srv_req *r, const char *key, int64_t lo, int64_t hi, int64_t def,
                  int64_t *out);

/* Appends an event (in the open write transaction); returns its id or < 0. */
int64_t srv_event_add(struct srv_conn *c, const char *kind, int64_t run_id, int64_t sweep_id,
                      json_t *data /* stolen */, struct qc_err *err);

/* The route handlers (routes_*.c). */
int srv_route_healthz(struct srv_req *r);
int srv_route_prometheus(struct srv_req *r);
int srv_route_formats(struct srv_req *r);
int srv_route_formats_validate(struct srv_req *r);
int srv_route_static(struct srv_req *r);
int srv_route_experiment_create(struct srv_req *r);
int srv_route_sweep_create(struct srv_req *r);
int srv_route_sweep_list(struct srv_req *r);
int srv_route_sweep_get(struct srv_req *r);
int srv_route_sweep_cancel(struct srv_req *r);
int srv_route_run_list(struct srv_req *r);
int srv_route_run_get(struct srv_req *r);
int srv_route_run_cancel(struct srv_req *r);
int srv_route_run_retry(struct srv_req *r);
int srv_route_run_metrics_get(struct srv_req *r);
int srv_route_run_metrics_post(struct srv_req *r);
int srv_route_run_events(struct srv_req *r);
int srv_route_events(struct srv_req *r);
int srv_route_run_start(struct srv_req *r);
int srv_route_run_complete(struct srv_req *r);
int srv_route_run_release(struct srv_req *r);
int srv_route_checkpoint_put(struct srv_req *r);
/* Checks a checkpoint upload's headers and lease when they arrive, before
 * any of its body is read or written (http.c). */
int srv_checkpoint_put_begin(struct srv_req *r);
int srv_route_checkpoint_get(struct srv_req *r);
int srv_route_worker_register(struct srv_req *r);
int srv_route_worker_list(struct srv_req *r);
int srv_route_worker_heartbeat(struct srv_req *r);
int srv_route_worker_lease(struct srv_req *r);
int srv_route_run_delete(struct srv_req *r);
int srv_route_sweep_delete(struct srv_req *r);

/* Deletes up to 5000 events older than --event-retention (hub tick). */
void srv_events_prune(struct srv_server *s);

int srv_route_run_patch(struct srv_req *r);
int srv_route_sweep_patch(struct srv_req *r);
int srv_route_sweep_results(struct srv_req *r);
int srv_route_metrics_long(struct srv_req *r);
int srv_route_run_import(struct srv_req *r);
int srv_route_experiment_validate(struct srv_req *r);
int srv_route_sweep_validate(struct srv_req *r);

/* Every error of spec (or, `sweep`, sweep) document `doc` into r->errors,
 * which the error body carries as "errors" (route_validate.c). */
void srv_spec_errors(struct srv_req *r, const json_t *doc, bool sweep);
/* Warnings for the canonical specs `specs` (an array) against the workers
 * registered now: *out receives a new array of {"code", "field",
 * "message"} (route_validate.c). */
struct srv_conn;
int srv_spec_warnings(json_t **out, struct srv_conn *c, const json_t *specs, struct qc_err *err);
/* The same through this thread's reader, an empty array when the look-up
 * fails (the warnings of a 201). New reference. */
json_t *srv_warnings_for(struct srv_req *r, const json_t *specs);
/* The canonical form of experiment document `doc` (new reference), or NULL
 * with the 400 invalid_spec and its error list set (route_runs.c). */
json_t *srv_spec_canonical(struct srv_req *r, const json_t *doc);

/* A metric name: 1..63 letters, digits, '_', '.' or '/' (route_metrics.c). */
bool srv_metric_name_ok(const char *s);

/* Tags (route_tags.c): 1..64 letters, digits or _.-:/@+=; a list of at
 * most 32, checked with the JSON pointer `field` of the list. */
bool srv_tag_ok(const char *s);
int srv_tags_check(struct srv_req *r, const json_t *tags, const char *field);

/* Server lifecycle (server.c). */
int srv_server_start(struct srv_server *s, const struct srv_config *cfg, struct qc_err *err);
void srv_server_stop(struct srv_server *s);

#endif
