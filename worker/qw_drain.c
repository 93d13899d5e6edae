/* Draining before a batch job ends (see qw_drain.h). */
#include "qw_drain.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "qw_log.h"

uint64_t qw_drain_delay_ms(double end_time, double drain_before, double now)
{
    const double s = end_time - drain_before - now;
    return s > 0 ? (uint64_t)ceil(s * 1000.0) : 0;
}

static void fire(struct qw_drain *d, const char *why)
{
    if (d->fired)
        return;
    d->fired = true;
    if (d->timer)
        uv_timer_stop(d->timer);
    d->fire(d->ctx, why);
}

static void on_timer(uv_timer_t *t)
{
    fire(t->data, "draining before the job's end, --drain-before");
}

static void on_signal(uv_signal_t *s, int signum)
{
    struct qw_drain *d = s->data;
    char why[64];

    if (d->fired) {
        qw_log_info("signal %d: already draining", signum);
        return;
    }
    snprintf(why, sizeof why, "drain signal %d, --drain-signal", signum);
    fire(d, why);
}

static double wall_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int qw_drain_start(struct qw_drain *d, uv_loop_t *loop, const struct qw_config *cfg, qw_drain_fn fn,
                   void *ctx, struct qc_err *err)
{
    memset(d, 0, sizeof *d);
    d->fire = fn;
    d->ctx = ctx;
    if (cfg->drain_signal) {
        if (!(d->sig = calloc(1, sizeof *d->sig)))
            return qc_err_set(err, QC_ENOMEM, "", "out of memory");
        uv_signal_init(loop, d->sig);
        d->sig->data = d;
        uv_signal_start(d->sig, on_signal, cfg->drain_signal);
    }
    if (cfg->drain_before_s > 0 && cfg->end_time > 0) {
        if (!(d->timer = calloc(1, sizeof *d->timer)))
            return qc_err_set(err, QC_ENOMEM, "", "out of memory");
        uv_timer_init(loop, d->timer);
        d->timer->data = d;
        const double now = wall_now();
        const uint64_t ms = qw_drain_delay_ms(cfg->end_time, cfg->drain_before_s, now);
        if (ms == 0)
            qw_log_warn("the job ends in %.0f s, within --drain-before %.0f s: draining at once",
                        cfg->end_time - now, cfg->drain_before_s);
        else
            qw_log_info("the job ends in %.0f s: draining in %.0f s (--drain-before %.0f)",
                        cfg->end_time - now, (double)ms / 1000.0, cfg->drain_before_s);
        uv_timer_start(d->timer, on_timer, ms, 0);
    }
    return 0;
}

static void free_handle(uv_handle_t *h)
{
    free(h);
}

void qw_drain_close(struct qw_drain *d)
{
    if (d->timer)
        uv_close((uv_handle_t *)d->timer, free_handle);
    if (d->sig)
        uv_close((uv_handle_t *)d->sig, free_handle);
    d->timer = NULL;
    d->sig = NULL;
}
