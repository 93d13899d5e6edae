/* Draining before a batch job ends: a worker started by a scheduler (a
 * SLURM job with a time limit) stops leasing and hands its runs back
 * before the scheduler kills it, so that no lease dies with the job. Two
 * triggers, either of which fires once: a timer at --end-time minus
 * --drain-before, and the --drain-signal (what SLURM's --signal sends).
 * What a drain does is the caller's `fire` callback (qw_worker.c: the
 * orderly shutdown that checkpoints and releases every run).
 *
 * Ownership: the struct is the caller's; its handles are heap-allocated,
 * live on the loop and are freed in their close callbacks. Loop thread only. */
#ifndef QW_DRAIN_H
#define QW_DRAIN_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "qcore/error.h"
#include "qw_config.h"

typedef void (*qw_drain_fn)(void *ctx, const char *why);

struct qw_drain {
    uv_timer_t *timer; /* NULL when there is no end time to drain before */
    uv_signal_t *sig;  /* NULL when no drain signal is configured */
    qw_drain_fn fire;
    void *ctx;
    bool fired;
};

/* Milliseconds from `now` until the drain is due, for a job ending at
 * `end_time` (Unix seconds) and a margin of `drain_before` seconds; 0 when
 * it is due already. */
uint64_t qw_drain_delay_ms(double end_time, double drain_before, double now);

/* Arms the timer (when cfg->drain_before_s > 0) and the signal handler
 * (when cfg->drain_signal != 0). QC_ENOMEM on allocation failure. */
int qw_drain_start(struct qw_drain *d, uv_loop_t *loop, const struct qw_config *cfg,
                   qw_drain_fn fire, void *ctx, struct qc_err *err);
/* Closes the handles; safe on a zeroed struct and when called twice. */
void qw_drain_close(struct qw_drain *d);

#endif
