/* Storage operations shared by the route handlers: runs as JSON, run
 * creation, state changes with their events, and lease checks. Every
 * function that writes takes the writer connection inside an open
 * transaction (srv_tx_begin) and never commits by itself. */
#ifndef SRV_STORE_H
#define SRV_STORE_H

#include <jansson.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

#include "server/db.h"

struct srv_server;

/* The columns srv_run_json reads, in order. */
#define SRV_RUN_COLS                                                                               \
    "id, sweep_id, name, state, priority, attempt, max_attempts, worker_id, device, created, "     \
    "started, finished, lease_deadline, cancel_requested, stop_requested, error, summary, "        \
    "cost, spec, tags, note, submitted_by, import_key"

#define SRV_RUN_NCOLS 23

/* A run from a row of SRV_RUN_COLS (new reference). */
json_t *srv_run_json(sqlite3_stmt *st, bool with_spec);

struct srv_jtext;
/* The same run appended as JSON text, field for field: what
 * json_dumps(srv_run_json(...), JSON_COMPACT) gives, except that the JSON
 * columns (summary, cost, spec, tags: objects and arrays only the server
 * writes, as compact JSON) are copied in rather than parsed and printed
 * again, so their numbers keep the stored spelling. */
void srv_run_jtext(struct srv_jtext *j, sqlite3_stmt *st, bool with_spec);

/* Loads sweep `id` with its counts by state (and, `with_doc`, the
 * submitted document and its axes) into *out (new reference);
 * QC_ENOTFOUND when none. In route_sweeps.c. */
int srv_sweep_load(struct srv_conn *c, int64_t id, bool with_doc, json_t **out, struct qc_err *err);

/* Loads run `id` (new reference in *out); QC_ENOTFOUND when none. */
int srv_run_load(struct srv_conn *c, int64_t id, bool with_spec, json_t **out, struct qc_err *err);

/* Inserts a queued run of the canonical spec `spec` (borrowed) and its
 * "run" event; *id receives the id. `who` (may be NULL) is the submitting
 * token's name. */
int srv_run_insert(struct srv_server *s, struct srv_conn *c, int64_t *id, int64_t sweep_id,
                   const json_t *spec, int64_t priority, int64_t max_attempts, const char *who,
                   struct qc_err *err);

/* Appends a "run" event with the run's current state (and `extra`'s keys,
 * stolen, may be NULL). */
int srv_run_event(struct srv_server *s, struct srv_conn *c, int64_t run_id, json_t *extra,
                  struct qc_err *err);

/* Cancels run `id` inside the open transaction: queued runs at once, leased
 * or running ones by request (the worker stops them at its next heartbeat).
 * `*changed` tells whether anything happened; finished runs: QC_ECONFLICT. */
int srv_run_cancel_tx(struct srv_server *s, struct srv_conn *c, int64_t id, bool *changed,
                      struct qc_err *err);

/* Ends the run's open lease row with `outcome`. */
int srv_lease_end(struct srv_conn *c, int64_t run_id, const char *outcome, struct qc_err *err);

/* Checks that `lease` is run `id`'s current lease held by `worker_id` (0 =
 * any worker: auth disabled or admin). QC_ENOTFOUND, QC_ESTALE when the
 * run moved on, or QC_EFORBID when another worker holds the lease.
 * `state` (16 bytes) receives the run's state. */
int srv_lease_check(struct srv_conn *c, int64_t id, const char *lease, int64_t worker_id,
                    char *state, struct qc_err *err);

/* Checks that run `id` was recorded by POST /runs/import (an admin may
 * then upload its checkpoint without a lease): QC_ENOTFOUND, or
 * QC_EINVAL naming the X-Qlab-Lease header any other run's upload needs. */
int srv_import_check(struct srv_conn *c, int64_t id, struct qc_err *err);

/* Requeues (attempts left) or fails every run whose lease deadline passed:
 * the hub's periodic tick. */
void srv_expire_leases(struct srv_server *s);

/* Gives every active lease `ttl` seconds from now: at start-up, so workers
 * that kept running while the server was down can heartbeat again. */
int srv_leases_grace(struct srv_server *s, struct qc_err *err);

/* The writer transaction of one request or tick: begin, then end with the
 * handler's result (commit when rc >= 0, else roll back). After a commit
 * the events it added are published to the hub. Returns rc, or the commit
 * error. */
struct srv_conn *srv_tx_begin(struct srv_server *s, struct qc_err *err); /* NULL: err set */
int srv_tx_end(struct srv_server *s, int rc, struct qc_err *err);

/* The metric name's id, creating it (inside the transaction). */
int srv_metric_name_id(struct srv_conn *c, const char *name, int64_t *id, struct qc_err *err);

/* Replaces any worker token the database still holds in clear (from a
 * server before hashing) by its hash; at start-up. */
int srv_worker_tokens_hash(struct srv_server *s, struct qc_err *err);

/* The worker a worker token belongs to (looked up by its hash), 0 when
 * none or on a database error (the caller then answers 401, as for an
 * unknown token). */
int64_t srv_worker_by_token(struct srv_server *s, const char *token);

#endif
