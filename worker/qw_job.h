/* One leased run as the event loop sees it: download its checkpoint, start
 * its training thread, POST start, then stream what the thread produces in
 * order (metric batches, checkpoint uploads) and finally complete or
 * release it. One request per run is in flight at a time, which keeps two
 * promises the server relies on:
 *   - a checkpoint at step S is uploaded only after every metric point the
 *     core wrote before it (steps <= S) was acknowledged, so a run resumed
 *     from the server's checkpoint re-creates exactly the points the
 *     server may lack;
 *   - complete is sent only after every point was acknowledged.
 * Failed calls are retried with back-off; a run whose lease is gone (401,
 * 403, 404, 409) is abandoned: training stops, its journal is dropped.
 *
 * A "recovered" job has no thread: it replays a journal found at start-up
 * with the lease and token it names, then releases the run.
 *
 * Ownership: the host (qw_worker) owns every job; a job tells it when the
 * device slot is free again and when it is over, and the host destroys it
 * then. Loop thread only. */
#ifndef QW_JOB_H
#define QW_JOB_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "qw_api.h"
#include "qw_config.h"
#include "qw_device.h"
#include "qw_journal.h"
#include "qw_mailbox.h"

struct qw_job;

struct qw_job_host {
    uv_loop_t *loop;
    struct qw_api *api;
    const struct qw_config *cfg;
    struct qw_mailbox *mb;
    void *ctx;
    /* The training thread ended: its device slot may take another run. */
    void (*slot_free)(void *ctx, struct qw_job *j);
    /* Nothing is left to do: the host removes and destroys the job. */
    void (*finished)(void *ctx, struct qw_job *j);
};

/* From a 200 answer of POST /workers/{id}/lease (`lease` borrowed), run on
 * `dev` (borrowed, outlives the job) with the worker token `token`. */
int qw_job_create(struct qw_job **out, const struct qw_job_host *host, const json_t *lease,
                  struct qw_device *dev, const char *token, struct qc_err *err);
/* From a journal found at start-up (both taken). */
int qw_job_create_recovered(struct qw_job **out, const struct qw_job_host *host,
                            struct qw_journal *journal, struct qw_journal_rec *rec,
                            struct qc_err *err);
/* Starts the job's work (call once, after the host has recorded it). */
void qw_job_begin(struct qw_job *j);
/* Instead of qw_job_begin: reports the run failed with `why` without
 * running it (the leased device cannot run what the spec asks for). */
void qw_job_refuse(struct qw_job *j, const char *why);
/* Must be called only after `finished`, or on a job whose thread has
 * ended (qw_job_thread_running false). NULL: no-op. */
void qw_job_destroy(struct qw_job *j);

/* Events of its training thread (mailbox deliveries); takes `ev`. */
void qw_job_deliver(struct qw_job *j, struct qw_event *ev);
/* A per-run action from a heartbeat or a metrics answer: "continue",
 * "cancel", "stop" or "abandon". */
void qw_job_action(struct qw_job *j, const char *action);
/* The worker is shutting down: stop training at the next step, upload
 * the checkpoint and release the run. */
void qw_job_shutdown(struct qw_job *j);
/* The shutdown deadline passed: cancel every request and timer; the
 * journal stays on disk for the next start. */
void qw_job_abort(struct qw_job *j);

int64_t qw_job_run(const struct qw_job *j);
/* The device whose slot the job holds or held; NULL for a recovered job. */
struct qw_device *qw_job_device(const struct qw_job *j);
bool qw_job_thread_running(const struct qw_job *j);
/* {"run", "lease", "step"} for the heartbeat, or NULL when this job's
 * lease is not the worker's to renew (recovered, over). New reference. */
json_t *qw_job_heartbeat_entry(const struct qw_job *j);

#endif
