/* The worker as a whole, on one libuv loop: registration, the heartbeat
 * timer, the lease long-poll whenever a device has a free slot, the jobs
 * of the leased runs, journals recovered at start-up, and the orderly
 * shutdown on SIGTERM/SIGINT (stop leasing, stop training at the next
 * step, upload checkpoints, release the runs, exit within
 * --shutdown-timeout).
 *
 * Ownership: created and destroyed by main; `cfg` is borrowed and must
 * outlive the worker. Loop thread only. */
#ifndef QW_WORKER_H
#define QW_WORKER_H

#include <uv.h>

#include "qcore/error.h"
#include "qw_config.h"

struct qw_worker;

/* Prepares the state directory (locked against a second worker), the
 * devices, the HTTP client and the signal handlers, and loads leftover
 * journals. Nothing is sent before qw_worker_start. */
int qw_worker_create(struct qw_worker **out, uv_loop_t *loop, const struct qw_config *cfg,
                     struct qc_err *err);
void qw_worker_start(struct qw_worker *w);
/* After uv_run returned: 0, or 1 after a fatal error (logged). */
int qw_worker_exit_code(const struct qw_worker *w);
/* True when uv_run returned with training threads still running (the
 * shutdown deadline passed): the process must exit without cleanup. */
int qw_worker_forced(const struct qw_worker *w);
/* After uv_run returned without qw_worker_forced. NULL: no-op. */
void qw_worker_destroy(struct qw_worker *w);

#endif
