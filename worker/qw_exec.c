/* The training thread of one run (see qw_exec.h). */
#include "qw_exec.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "qcore/spec.h"
#include "qcore/train.h"
#include "qw_fsop.h"
#include "qw_log.h"

struct qw_exec {
    struct qw_exec_params p;
    uv_thread_t thread;
    struct qw_journal *journal; /* written by the thread before its first event */
    struct qw_event *done;      /* allocated up front: the DONE event can never fail */
    bool journal_failed, warned_nonfinite;
    char journal_msg[256];
};

static int on_metric(void *ctx, const char *line)
{
    struct qw_exec *x = ctx;
    struct qw_point *pts = NULL;
    struct qc_err err;
    int n = 0, nonfinite = 0;

    qc_err_clear(&err);
    if (qw_metrics_from_line(&pts, &n, &nonfinite, line, &err)) {
        qw_log_warn("run %" PRId64 ": metric line skipped: %s", x->p.run, err.msg);
        return 0;
    }
    if (nonfinite && !x->warned_nonfinite) {
        x->warned_nonfinite = true;
        qw_log_warn("run %" PRId64 ": non-finite metric values (NaN or inf) are not sent: JSON "
                    "cannot carry them",
                    x->p.run);
    }
    if (n == 0)
        return 0;
    /* Synced to the journal before the loop may send them. */
    if (qw_journal_append(x->journal, pts, n, x->p.stop, &err)) {
        free(pts);
        if (err.code !=
            QC_ECONFLICT) { /* ECONFLICT: stopped while full, nothing lost that matters */
            x->journal_failed = true;
            snprintf(x->journal_msg, sizeof x->journal_msg, "%.250s", err.msg);
        }
        return 1; /* stops the run: a point that cannot be kept must not be sent */
    }
    struct qw_event *ev = qw_event_create(QW_EV_POINTS, x->p.target);
    if (!ev) {
        free(pts);
        x->journal_failed = true;
        snprintf(x->journal_msg, sizeof x->journal_msg, "out of memory for metric events");
        return 1;
    }
    ev->points = pts;
    ev->n = n;
    ev->step = pts[n - 1].step;
    qw_mailbox_post(x->p.mb, ev);
    return 0;
}

static void on_checkpointed(void *ctx, const char *path, int64_t step)
{
    struct qw_exec *x = ctx;
    struct qc_err err;
    void *data;
    size_t len;

    /* Read now: the next checkpoint replaces this file. */
    qc_err_clear(&err);
    if (qw_fs_read(&data, &len, path, &err)) {
        qw_log_warn("run %" PRId64 ": checkpoint at step %" PRId64 " not uploaded: %s", x->p.run,
                    step, err.msg);
        return;
    }
    struct qw_event *ev = qw_event_create(QW_EV_CHECKPOINT, x->p.target);
    if (!ev) {
        free(data);
        return;
    }
    ev->data = data;
    ev->len = len;
    ev->step = step;
    ev->crc = (uint32_t)crc32(crc32(0L, Z_NULL, 0), data, (uInt)len);
    qw_mailbox_post(x->p.mb, ev);
}

static bool should_stop(void *ctx)
{
    struct qw_exec *x = ctx;
    return atomic_load(x->p.stop) != 0;
}

static void on_progress(void *ctx, const char *text)
{
    struct qw_exec *x = ctx;
    qw_log_debug("run %" PRId64 ": %s", x->p.run, text);
}

/* Spec text → training configuration, as `qlab train` does it, so the
 * fingerprint (and thus checkpoint compatibility) is the same everywhere. */
static int configure(struct qc_train_cfg *cfg, const char *text, struct qc_err *err)
{
    struct qc_spec *spec = malloc(sizeof *spec); /* ~80 KB: not on a thread's stack */
    char *canonical = NULL;
    int rc;

    if (!spec)
        return qc_err_set(err, QC_ENOMEM, "", "out of memory for the spec");
    if ((rc = qc_spec_parse(spec, text, strlen(text), err)))
        goto out;
    json_t *j = qc_spec_to_json(spec);
    canonical = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!canonical) {
        rc = qc_err_set(err, QC_ENOMEM, "", "out of memory for the canonical spec");
        goto out;
    }
    rc = qc_train_cfg_from_spec(cfg, spec, canonical, strlen(canonical), err);
out:
    free(canonical);
    free(spec);
    return rc;
}

static int prepare_dir(struct qw_exec *x, struct qc_err *err)
{
    char path[QW_PATH_MAX + 32];
    int rc;

    /* Only the checkpoint the server handed over may seed this attempt:
     * anything left from an earlier attempt here is not what its metric
     * history continues from. */
    if ((rc = qw_fs_remove(x->p.dir, err)) || (rc = qw_fs_mkdirs(x->p.dir, err)))
        return rc;
    if (!x->p.ckpt)
        return 0;
    qc_train_checkpoint_path(path, sizeof path, x->p.dir);
    return qw_fs_write_atomic(path, x->p.ckpt, x->p.ckpt_len, err);
}

static void thread_main(void *arg)
{
    struct qw_exec *x = arg;
    struct qc_train_cfg *cfg = calloc(1, sizeof *cfg);
    struct qc_train_opts opts;
    struct qc_err err;
    int rc;

    qc_err_clear(&err);
    memset(&opts, 0, sizeof opts);
    if (!cfg) {
        rc = qc_err_set(&err, QC_ENOMEM, "", "out of memory for the configuration");
        x->done->local_failure = 1;
        goto out;
    }
    if ((rc = prepare_dir(x, &err)) ||
        (rc = qw_journal_create(&x->journal, x->p.journal_path, x->p.run, x->p.lease, x->p.token,
                                x->p.journal_max_bytes, &err))) {
        x->done->local_failure = 1;
        goto out;
    }
    if ((rc = configure(cfg, x->p.spec_json, &err)))
        goto out;
    cfg->threads = x->p.threads;
    /* The run executes on the device it was leased for, whatever kind its
     * spec allowed (any): a GPU lease trains on that GPU, an FPGA lease on
     * that board's backend with the board's timing, a CPU lease on the CPU. */
    if (x->p.board[0]) {
        snprintf(cfg->backend, sizeof cfg->backend, "fpga");
        snprintf(cfg->board, sizeof cfg->board, "%s", x->p.board);
        cfg->device = x->p.fpga_index;
        snprintf(cfg->xclbin, sizeof cfg->xclbin, "%s", x->p.fpga_index >= 0 ? x->p.xclbin : "");
    } else {
        snprintf(cfg->backend, sizeof cfg->backend, "%s", x->p.gpu ? "cuda" : "cpu");
        cfg->device = x->p.gpu ? x->p.gpu_index : 0;
        cfg->board[0] = '\0';
    }
    snprintf(opts.checkpoint_dir, sizeof opts.checkpoint_dir, "%s", x->p.dir);
    opts.checkpoint_every = x->p.checkpoint_every;
    opts.resume = x->p.ckpt != NULL;
    struct qc_train_hooks hooks = {.ctx = x,
                                   .metric = on_metric,
                                   .progress = on_progress,
                                   .checkpointed = on_checkpointed,
                                   .should_stop = should_stop};
    if (x->p.gpu)
        qw_log_info("run %" PRId64 ": training%s on CUDA device %d", x->p.run,
                    opts.resume ? " (resuming from the server's checkpoint)" : "", x->p.gpu_index);
    else if (x->p.board[0])
        qw_log_info("run %" PRId64 ": training%s on %s board %s (%d host thread%s)", x->p.run,
                    opts.resume ? " (resuming from the server's checkpoint)" : "",
                    x->p.fpga_index >= 0 ? "FPGA" : "emulated FPGA", x->p.board, x->p.threads,
                    x->p.threads == 1 ? "" : "s");
    else
        qw_log_info("run %" PRId64 ": training%s on %d thread%s", x->p.run,
                    opts.resume ? " (resuming from the server's checkpoint)" : "", x->p.threads,
                    x->p.threads == 1 ? "" : "s");
    rc = qc_train_run(cfg, &opts, &hooks, NULL, &err);
    if (x->journal_failed) {
        x->done->local_failure = 1;
        snprintf(err.msg, sizeof err.msg, "metric journal: %s", x->journal_msg);
        err.field[0] = 0;
        rc = QC_EIO;
    }
out:
    x->done->rc = rc;
    if (rc && err.field[0])
        snprintf(x->done->msg, sizeof x->done->msg, "%.120s: %.380s", err.field, err.msg);
    else if (rc)
        snprintf(x->done->msg, sizeof x->done->msg, "%s", err.msg[0] ? err.msg : qc_strerror(rc));
    free(cfg);
    free(x->p.spec_json);
    x->p.spec_json = NULL;
    free(x->p.ckpt);
    x->p.ckpt = NULL;
    struct qw_event *done = x->done;
    x->done = NULL;
    qw_mailbox_post(x->p.mb, done); /* last touch of the mailbox */
}

int qw_exec_start(struct qw_exec **out, struct qw_exec_params *p, struct qc_err *err)
{
    struct qw_exec *x = calloc(1, sizeof *x);

    *out = NULL;
    if (!x || !(x->done = qw_event_create(QW_EV_DONE, p->target))) {
        free(x);
        free(p->spec_json);
        free(p->ckpt);
        return qc_err_set(err, QC_ENOMEM, "", "out of memory for an executor");
    }
    x->p = *p;
    if (uv_thread_create(&x->thread, thread_main, x) != 0) {
        qw_event_free(x->done);
        free(p->spec_json);
        free(p->ckpt);
        free(x);
        return qc_err_set(err, QC_EINTERNAL, "", "cannot start a training thread");
    }
    *out = x;
    return 0;
}

struct qw_journal *qw_exec_journal(struct qw_exec *x)
{
    return x->journal;
}

void qw_exec_join(struct qw_exec *x)
{
    if (!x)
        return;
    uv_thread_join(&x->thread);
    qw_event_free(x->done);
    free(x);
}
