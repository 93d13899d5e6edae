/* The loop-side life of one leased run (see qw_job.h). */
#include "qw_job.h"

#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "qcore/checkpoint.h"
#include "qw_backoff.h"
#include "qw_exec.h"
#include "qw_fsop.h"
#include "qw_log.h"
#include "qw_metrics.h"

#define BATCH_MAX 5000 /* points per POST: far below the server's 100 000 */

enum phase {
    PH_DOWNLOAD, /* fetching the checkpoint to resume from */
    PH_TRAIN,    /* the training thread runs */
    PH_REPORT,   /* it ended: flush, upload, complete or release */
    PH_RECOVERED,
    PH_OVER,
};

enum reason { R_NONE, R_CANCEL, R_STOP, R_ABANDON, R_SHUTDOWN };
enum rq { RQ_NONE, RQ_DOWNLOAD, RQ_START, RQ_METRICS, RQ_CKPT, RQ_FINAL };

struct ckpt {
    void *data;
    size_t len;
    int64_t step;
    uint32_t crc;
    int64_t after; /* points received before it: all must be acknowledged first */
};

struct qw_job {
    struct qw_job_host host;
    int64_t run;
    char lease[QW_JOURNAL_TOKEN_MAX], token[QW_JOURNAL_TOKEN_MAX];
    struct qw_device *dev; /* NULL when recovered */
    bool slot_held;
    char *spec_text;
    struct {
        bool has, crc_known;
        int64_t size, step;
        uint32_t crc;
    } remote; /* the checkpoint the lease announced */
    int bad_downloads;
    enum phase phase;
    enum reason reason;
    bool started, thread_done, local_failure, final_release;
    int done_rc;
    char done_msg[512];

    struct qw_exec *exec;
    atomic_int stop;
    struct qw_journal *journal;

    /* Points received and not yet acknowledged: absolute indices
     * acked .. received, stored in pts[0 .. received - acked). */
    struct qw_point *pts;
    int64_t acked, received, cap, inflight_n;
    uint64_t first_pending_ms;
    struct ckpt ck, ck_flight;
    json_t *summary;
    int64_t last_step;

    struct qw_http_req *req;
    enum rq rq;
    uv_timer_t *timer;
    bool retry_wait, aborted, keep_files;
    struct qw_backoff bo;
    char dir[QW_PATH_MAX], jpath[QW_PATH_MAX];
};

static void pump(struct qw_job *j);

/* ---- small helpers ------------------------------------------------------- */

static const char *reason_name(enum reason r)
{
    static const char *const names[] = {"none", "cancel", "stop", "abandon", "shutdown"};
    return names[r];
}

static void ckpt_free(struct ckpt *c)
{
    free(c->data);
    memset(c, 0, sizeof *c);
}

static void on_timer(uv_timer_t *t)
{
    struct qw_job *j = t->data;
    j->retry_wait = false;
    pump(j);
}

static void arm(struct qw_job *j, uint64_t ms, bool retry)
{
    j->retry_wait = retry;
    uv_timer_start(j->timer, on_timer, ms, 0);
}

static void retry_later(struct qw_job *j, const char *what, const char *msg)
{
    uint64_t ms = qw_backoff_next_ms(&j->bo);
    qw_log_warn("run %" PRId64 ": %s failed (%s); retrying in %.1f s", j->run, what, msg,
                (double)ms / 1000.0);
    arm(j, ms, true);
}

/* Forgets the request in flight, putting back what it carried. */
static void cancel_req(struct qw_job *j)
{
    if (j->req) {
        qw_http_cancel(j->req);
        j->req = NULL;
    }
    if (j->rq == RQ_CKPT && j->ck_flight.data) {
        if (!j->ck.data)
            j->ck = j->ck_flight;
        else
            free(j->ck_flight.data);
        memset(&j->ck_flight, 0, sizeof j->ck_flight);
    }
    j->inflight_n = 0;
    j->rq = RQ_NONE;
}

static void path_tag(char *out, size_t len, const char *state_dir, const char *sub, int64_t run,
                     const char *lease, const char *ext)
{
    /* The lease is part of the name: a journal still being replayed from
     * an earlier attempt never collides with a new lease of the same run. */
    const uint64_t h = qc_fingerprint(lease, strlen(lease));
    snprintf(out, len, "%s/%s/run-%" PRId64 "-%016" PRIx64 "%s", state_dir, sub, run, h, ext);
}

static void free_handle(uv_handle_t *h)
{
    free(h);
}

static void on_timer_closed(uv_handle_t *h)
{
    struct qw_job *j = h->data;
    free(h);
    j->timer = NULL;
    j->host.finished(j->host.ctx, j); /* destroys j */
}

/* The end: give the slot back, remove the run's files unless they must
 * survive, and let the host destroy the job once the timer is closed. */
static void over(struct qw_job *j)
{
    if (j->phase == PH_OVER)
        return;
    cancel_req(j);
    uv_timer_stop(j->timer);
    j->phase = PH_OVER;
    if (j->slot_held) {
        j->slot_held = false;
        j->host.slot_free(j->host.ctx, j);
    }
    if (!j->keep_files)
        qw_fsop_remove_async(j->host.loop, j->jpath, j->dev ? j->dir : NULL);
    uv_close((uv_handle_t *)j->timer, on_timer_closed);
}

static void abandon(struct qw_job *j, const char *why)
{
    if (j->reason == R_ABANDON || j->phase == PH_OVER)
        return;
    qw_log_warn("run %" PRId64 ": abandoned (%s): stopping it and dropping its journal", j->run,
                why);
    j->reason = R_ABANDON;
    atomic_store(&j->stop, 1);
    cancel_req(j);
    uv_timer_stop(j->timer);
    j->retry_wait = false;
    pump(j);
}

/* ---- requests ------------------------------------------------------------ */

static int send_req(struct qw_job *j, enum rq kind, struct qw_api_call *c, qw_http_cb cb)
{
    struct qc_err err;

    qc_err_clear(&err);
    c->token = j->token;
    c->lease = j->lease;
    j->rq = kind;
    if (qw_api_send(j->host.api, &j->req, c, cb, j, &err)) {
        j->rq = RQ_NONE;
        j->req = NULL;
        retry_later(j, "a request", err.msg);
        return -1;
    }
    return 0;
}

static void start_training(struct qw_job *j, void *ckpt, size_t len);

static void on_download(void *ctx, const struct qw_http_resp *resp)
{
    struct qw_job *j = ctx;
    struct qw_api_result r;

    j->req = NULL;
    j->rq = RQ_NONE;
    qw_api_parse(&r, resp, false);
    if (r.cls == QW_API_OK) {
        const uint32_t crc =
            (uint32_t)crc32(crc32(0L, Z_NULL, 0), (const Bytef *)resp->body, (uInt)resp->len);
        if ((j->remote.size > 0 && (int64_t)resp->len != j->remote.size) ||
            (j->remote.crc_known && crc != j->remote.crc)) {
            char msg[160];
            snprintf(msg, sizeof msg,
                     "checkpoint of %zu bytes, CRC-32 %08x; the lease said %" PRId64 " bytes, %08x",
                     resp->len, crc, j->remote.size, j->remote.crc);
            if (++j->bad_downloads < 3) {
                retry_later(j, "checkpoint download", msg);
            } else {
                qw_log_warn("run %" PRId64 ": %s; starting from scratch", j->run, msg);
                start_training(j, NULL, 0);
            }
        } else {
            void *copy = malloc(resp->len ? resp->len : 1);
            if (!copy) {
                retry_later(j, "checkpoint download", "out of memory");
            } else {
                memcpy(copy, resp->body, resp->len);
                qw_log_info("run %" PRId64 ": checkpoint of step %" PRId64
                            " downloaded (%zu bytes)",
                            j->run, j->remote.step, resp->len);
                start_training(j, copy, resp->len);
            }
        }
    } else if (r.status == 404) {
        qw_log_warn("run %" PRId64 ": the announced checkpoint is not there (%s); starting from "
                    "scratch",
                    j->run, r.msg);
        start_training(j, NULL, 0);
    } else if (r.cls == QW_API_RETRY) {
        retry_later(j, "checkpoint download", r.msg);
    } else {
        abandon(j, r.msg);
    }
    qw_api_result_free(&r);
}

static void send_download(struct qw_job *j)
{
    char path[64];
    snprintf(path, sizeof path, "/runs/%" PRId64 "/checkpoint", j->run);
    struct qw_api_call c = {
        .method = "GET",
        .path = path,
        .max_response = (size_t)(j->remote.size > 0 ? j->remote.size + 4096 : (int64_t)300 << 20),
        .timeout_ms = (long)(j->host.cfg->http_timeout_s * 4000),
    };
    send_req(j, RQ_DOWNLOAD, &c, on_download);
}

static void on_start(void *ctx, const struct qw_http_resp *resp)
{
    struct qw_job *j = ctx;
    struct qw_api_result r;

    j->req = NULL;
    j->rq = RQ_NONE;
    qw_api_parse(&r, resp, false);
    if (r.cls == QW_API_OK) {
        j->started = true;
        qw_backoff_reset(&j->bo);
        qw_log_debug("run %" PRId64 ": start acknowledged", j->run);
        pump(j);
    } else if (r.cls == QW_API_RETRY) {
        retry_later(j, "start", r.msg);
    } else {
        abandon(j, r.msg);
    }
    qw_api_result_free(&r);
}

static void send_start(struct qw_job *j)
{
    char path[64];
    snprintf(path, sizeof path, "/runs/%" PRId64 "/start", j->run);
    struct qw_api_call c = {.method = "POST", .path = path};
    send_req(j, RQ_START, &c, on_start);
}

static void ack_points(struct qw_job *j, int64_t n)
{
    if (n <= 0)
        return;
    if (j->journal)
        qw_journal_ack(j->journal, n);
    const int64_t left = j->received - j->acked - n;
    memmove(j->pts, j->pts + n, (size_t)left * sizeof *j->pts);
    j->acked += n;
    j->first_pending_ms = uv_now(j->host.loop);
}

static void on_metrics(void *ctx, const struct qw_http_resp *resp)
{
    struct qw_job *j = ctx;
    struct qw_api_result r;
    const int64_t n = j->inflight_n;

    j->req = NULL;
    j->rq = RQ_NONE;
    j->inflight_n = 0;
    qw_api_parse(&r, resp, true);
    if (r.cls == QW_API_OK) {
        qw_backoff_reset(&j->bo);
        ack_points(j, n);
        const json_t *acc = json_object_get(r.json, "accepted");
        const json_t *dup = json_object_get(r.json, "duplicates");
        qw_log_debug("run %" PRId64 ": %" PRId64 " points sent (%" JSON_INTEGER_FORMAT
                     " accepted, %" JSON_INTEGER_FORMAT " duplicates)",
                     j->run, n, json_integer_value(acc), json_integer_value(dup));
        const char *action = json_string_value(json_object_get(r.json, "action"));
        if (action)
            qw_job_action(j, action);
        pump(j);
    } else if (r.cls == QW_API_RETRY) {
        retry_later(j, "metrics", r.msg);
    } else if (r.cls == QW_API_GONE) {
        abandon(j, r.msg);
    } else {
        qw_log_error("run %" PRId64 ": the server refused %" PRId64 " metric points (%s); they are "
                     "dropped",
                     j->run, n, r.msg);
        ack_points(j, n);
        pump(j);
    }
    qw_api_result_free(&r);
}

static void send_metrics(struct qw_job *j)
{
    char path[64];
    int64_t n = j->received - j->acked;
    json_t *pts = json_array(), *body = NULL;

    if (n > BATCH_MAX)
        n = BATCH_MAX;
    n = qw_metrics_batch_len(j->pts, n, QW_BATCH_NAMES_MAX);
    for (int64_t i = 0; pts && i < n; i++) {
        const struct qw_point *p = &j->pts[i];
        json_array_append_new(pts, json_pack("{s:I, s:s, s:f}", "step", (json_int_t)p->step, "name",
                                             p->name, "value", p->value));
    }
    body = pts ? json_pack("{s:o}", "points", pts) : NULL;
    if (!body) {
        retry_later(j, "metrics", "out of memory");
        return;
    }
    snprintf(path, sizeof path, "/runs/%" PRId64 "/metrics", j->run);
    struct qw_api_call c = {.method = "POST", .path = path, .json = body};
    j->inflight_n = n;
    if (send_req(j, RQ_METRICS, &c, on_metrics))
        j->inflight_n = 0;
    json_decref(body);
}

static void on_ckpt(void *ctx, const struct qw_http_resp *resp)
{
    struct qw_job *j = ctx;
    struct qw_api_result r;

    j->req = NULL;
    qw_api_parse(&r, resp, false);
    if (r.cls == QW_API_OK) {
        qw_backoff_reset(&j->bo);
        qw_log_info("run %" PRId64 ": checkpoint of step %" PRId64 " uploaded (%zu bytes)", j->run,
                    j->ck_flight.step, j->ck_flight.len);
        ckpt_free(&j->ck_flight);
        j->rq = RQ_NONE;
        pump(j);
    } else if (r.cls == QW_API_RETRY) {
        cancel_req(j); /* puts the checkpoint back unless a newer one came */
        retry_later(j, "checkpoint upload", r.msg);
    } else if (r.cls == QW_API_GONE) {
        ckpt_free(&j->ck_flight);
        j->rq = RQ_NONE;
        abandon(j, r.msg);
    } else {
        qw_log_error("run %" PRId64 ": the server refused the checkpoint of step %" PRId64
                     " (%s); not uploaded",
                     j->run, j->ck_flight.step, r.msg);
        ckpt_free(&j->ck_flight);
        j->rq = RQ_NONE;
        pump(j);
    }
    qw_api_result_free(&r);
}

static void send_ckpt(struct qw_job *j)
{
    char path[64], step[64], crc[64];
    const char *hdr[3] = {step, crc, NULL};

    j->ck_flight = j->ck;
    memset(&j->ck, 0, sizeof j->ck);
    snprintf(path, sizeof path, "/runs/%" PRId64 "/checkpoint", j->run);
    snprintf(step, sizeof step, "X-Qlab-Step: %" PRId64, j->ck_flight.step);
    snprintf(crc, sizeof crc, "X-Qlab-Crc32: %08x", j->ck_flight.crc);
    struct qw_api_call c = {
        .method = "PUT",
        .path = path,
        .bytes = j->ck_flight.data,
        .len = j->ck_flight.len,
        .mode = QW_BODY_BORROW, /* kept for a retry */
        .headers = hdr,
        .timeout_ms = (long)(j->host.cfg->http_timeout_s * 4000),
    };
    if (send_req(j, RQ_CKPT, &c, on_ckpt)) {
        j->ck = j->ck_flight;
        memset(&j->ck_flight, 0, sizeof j->ck_flight);
        j->rq = RQ_NONE;
    }
}

static void on_final(void *ctx, const struct qw_http_resp *resp)
{
    struct qw_job *j = ctx;
    struct qw_api_result r;

    j->req = NULL;
    j->rq = RQ_NONE;
    qw_api_parse(&r, resp, false);
    if (r.cls == QW_API_RETRY) {
        retry_later(j, j->final_release ? "release" : "complete", r.msg);
    } else {
        if (r.cls == QW_API_OK)
            qw_log_info("run %" PRId64 ": %s", j->run,
                        j->final_release ? "released" : "completion reported");
        else
            qw_log_warn("run %" PRId64 ": %s not accepted (%s); dropping the run", j->run,
                        j->final_release ? "release" : "completion", r.msg);
        over(j);
    }
    qw_api_result_free(&r);
}

static void send_final(struct qw_job *j)
{
    char path[64], msg[700];
    const char *state = NULL;
    json_t *body = NULL;

    j->final_release = false;
    if (j->phase == PH_RECOVERED)
        j->final_release = true;
    else if (j->local_failure) {
        state = "failed";
        snprintf(msg, sizeof msg, "worker %s: %s", j->host.cfg->name, j->done_msg);
    } else if (j->done_rc == 0 || (j->done_rc == QC_ECONFLICT && j->reason == R_STOP)) {
        state = "succeeded";
        msg[0] = 0;
    } else if (j->done_rc == QC_ECONFLICT && j->reason == R_CANCEL) {
        state = "canceled";
        snprintf(msg, sizeof msg, "canceled at step %" PRId64, j->last_step);
    } else if (j->done_rc == QC_ECONFLICT && j->reason == R_SHUTDOWN) {
        j->final_release = true;
    } else {
        state = "failed";
        snprintf(msg, sizeof msg, "%s", j->done_msg);
    }
    if (j->final_release) {
        snprintf(path, sizeof path, "/runs/%" PRId64 "/release", j->run);
        body = json_object();
    } else {
        snprintf(path, sizeof path, "/runs/%" PRId64 "/complete", j->run);
        body = json_pack("{s:s, s:O}", "state", state, "summary", j->summary);
        if (body && msg[0])
            json_object_set_new(body, "error", json_string(msg));
        qw_log_info("run %" PRId64 ": %s%s%s", j->run, state, msg[0] ? ": " : "", msg);
    }
    if (!body) {
        retry_later(j, "complete", "out of memory");
        return;
    }
    struct qw_api_call c = {.method = "POST", .path = path, .json = body};
    send_req(j, RQ_FINAL, &c, on_final);
    json_decref(body);
}

/* ---- the pump: what to do next --------------------------------------------- */

static void pump(struct qw_job *j)
{
    const struct qw_config *cfg = j->host.cfg;

    if (j->req || j->retry_wait || j->phase == PH_OVER || j->aborted)
        return;
    if (j->reason == R_ABANDON) {
        if (!j->exec)
            over(j);
        return; /* else: its thread still runs; QW_EV_DONE comes back here */
    }
    if (j->phase == PH_DOWNLOAD) {
        if (j->reason == R_NONE) {
            send_download(j);
            return;
        }
        /* Canceled, stopped or shutting down before training began:
         * report that (or release) without starting the run. */
        j->phase = PH_REPORT;
        j->thread_done = true;
        j->started = true;
        j->done_rc = QC_ECONFLICT;
        if (j->slot_held) {
            j->slot_held = false;
            j->host.slot_free(j->host.ctx, j);
        }
    }
    if (!j->started) {
        send_start(j);
        return;
    }
    const int64_t pending = j->received - j->acked;
    if (pending > 0) {
        const uint64_t now = uv_now(j->host.loop);
        const uint64_t flush_ms = (uint64_t)(cfg->flush_s * 1000.0);
        if (pending >= cfg->flush_points || j->thread_done || j->phase == PH_RECOVERED ||
            j->reason != R_NONE || (j->ck.data && j->ck.after > j->acked) ||
            now - j->first_pending_ms >= flush_ms)
            send_metrics(j);
        else
            arm(j, j->first_pending_ms + flush_ms - now, false);
        return;
    }
    if (j->ck.data) {
        send_ckpt(j);
        return;
    }
    if (j->thread_done || j->phase == PH_RECOVERED)
        send_final(j);
}

/* ---- training --------------------------------------------------------------- */

static void start_training(struct qw_job *j, void *ckpt, size_t len)
{
    const struct qw_config *cfg = j->host.cfg;
    struct qw_exec_params p;
    struct qc_err err;

    qc_err_clear(&err);
    memset(&p, 0, sizeof p);
    p.run = j->run;
    p.spec_json = j->spec_text;
    j->spec_text = NULL;
    snprintf(p.dir, sizeof p.dir, "%s", j->dir);
    p.ckpt = ckpt;
    p.ckpt_len = len;
    p.threads = j->dev->threads;
    p.gpu = j->dev->kind == QW_DEV_GPU;
    p.gpu_index = j->dev->index;
    if (j->dev->kind == QW_DEV_FPGA) {
        /* The board a run without one in its spec got: the completion's
         * summary names it (qlab show, the run page). */
        json_object_set_new(j->summary, "board", json_string(j->dev->board));
        json_object_set_new(j->summary, "board_emulated", json_boolean(j->dev->emulated));
        snprintf(p.board, sizeof p.board, "%s", j->dev->board);
        p.fpga_index = j->dev->index;
        snprintf(p.xclbin, sizeof p.xclbin, "%s", cfg->xclbin);
    }
    p.checkpoint_every = cfg->checkpoint_every;
    snprintf(p.journal_path, sizeof p.journal_path, "%s", j->jpath);
    snprintf(p.lease, sizeof p.lease, "%s", j->lease);
    snprintf(p.token, sizeof p.token, "%s", j->token);
    p.journal_max_bytes = cfg->journal_max_bytes;
    p.stop = &j->stop;
    p.mb = j->host.mb;
    p.target = j;
    j->phase = PH_TRAIN;
    if (qw_exec_start(&j->exec, &p, &err)) {
        qw_log_error("run %" PRId64 ": %s", j->run, err.msg);
        j->thread_done = true;
        j->local_failure = true;
        j->done_rc = err.code;
        snprintf(j->done_msg, sizeof j->done_msg, "%s", err.msg);
        j->phase = PH_REPORT;
    }
    pump(j);
}

void qw_job_deliver(struct qw_job *j, struct qw_event *ev)
{
    if (!j->journal && j->exec)
        j->journal = qw_exec_journal(j->exec);
    switch (ev->type) {
    case QW_EV_POINTS:
        if (j->reason == R_ABANDON || j->phase == PH_OVER) {
            if (j->journal)
                qw_journal_ack(j->journal, ev->n); /* nothing will send them */
            break;
        }
        if (j->received - j->acked + ev->n > j->cap) {
            int64_t cap = j->cap ? j->cap : 256;
            while (cap < j->received - j->acked + ev->n)
                cap *= 2;
            struct qw_point *p = realloc(j->pts, (size_t)cap * sizeof *p);
            if (!p) {
                abandon(j, "out of memory for metric points");
                break;
            }
            j->pts = p;
            j->cap = cap;
        }
        if (j->received == j->acked)
            j->first_pending_ms = uv_now(j->host.loop);
        memcpy(j->pts + (j->received - j->acked), ev->points, (size_t)ev->n * sizeof *ev->points);
        j->received += ev->n;
        j->last_step = ev->step;
        for (int i = 0; i < ev->n; i++)
            if (qw_metrics_in_summary(ev->points[i].name))
                json_object_set_new(j->summary, ev->points[i].name, json_real(ev->points[i].value));
        break;
    case QW_EV_CHECKPOINT:
        if (j->reason == R_ABANDON || j->phase == PH_OVER)
            break;
        ckpt_free(&j->ck); /* only the newest is worth uploading */
        j->ck.data = ev->data;
        j->ck.len = ev->len;
        j->ck.step = ev->step;
        j->ck.crc = ev->crc;
        j->ck.after = j->received;
        ev->data = NULL;
        break;
    case QW_EV_DONE:
        qw_exec_join(j->exec);
        j->exec = NULL;
        j->thread_done = true;
        j->done_rc = ev->rc;
        j->local_failure = ev->local_failure;
        snprintf(j->done_msg, sizeof j->done_msg, "%s", ev->msg);
        if (j->phase == PH_TRAIN)
            j->phase = PH_REPORT;
        qw_log_debug("run %" PRId64 ": training thread ended (rc %d, stop reason %s)", j->run,
                     ev->rc, reason_name(j->reason));
        if (j->slot_held) {
            j->slot_held = false;
            j->host.slot_free(j->host.ctx, j);
        }
        break;
    }
    qw_event_free(ev);
    pump(j);
}

/* ---- control ------------------------------------------------------------------ */

/* Tells the training thread to stop after its current step. A run still
 * downloading its checkpoint has no thread yet: the download is dropped and
 * the run goes straight to reporting. */
static void stop_training(struct qw_job *j)
{
    atomic_store(&j->stop, 1);
    if (j->phase == PH_DOWNLOAD) {
        cancel_req(j);
        uv_timer_stop(j->timer);
        j->retry_wait = false;
        pump(j);
    }
}

void qw_job_action(struct qw_job *j, const char *action)
{
    if (!strcmp(action, "continue") || j->phase == PH_RECOVERED || j->phase == PH_OVER ||
        j->reason == R_ABANDON)
        return;
    if (!strcmp(action, "abandon")) {
        abandon(j, "the server says the lease is stale");
        return;
    }
    enum reason r = !strcmp(action, "cancel") ? R_CANCEL
                    : !strcmp(action, "stop") ? R_STOP
                                              : R_NONE;
    if (r == R_NONE) {
        qw_log_warn("run %" PRId64 ": unknown action '%s' ignored", j->run, action);
        return;
    }
    if (j->thread_done || j->reason == r)
        return; /* training is over: report what happened */
    qw_log_info("run %" PRId64 ": %s requested; stopping after the current step", j->run,
                r == R_CANCEL ? "cancel" : "early stop");
    j->reason = r;
    stop_training(j);
}

void qw_job_shutdown(struct qw_job *j)
{
    if (j->phase == PH_OVER)
        return;
    if (j->retry_wait) {
        /* A back-off may be long: the shutdown clock is short. Retries go
         * on at the base delay from here. */
        uv_timer_stop(j->timer);
        qw_backoff_reset(&j->bo);
        arm(j, 100, true);
    }
    if (j->phase == PH_RECOVERED || j->thread_done)
        return; /* nothing trains: finish reporting as planned */
    if (j->reason == R_NONE)
        j->reason = R_SHUTDOWN;
    stop_training(j);
}

void qw_job_abort(struct qw_job *j)
{
    if (j->phase == PH_OVER)
        return;
    j->aborted = true;
    j->keep_files = true;
    atomic_store(&j->stop, 1);
    if (!j->exec)
        over(j);
    else {
        cancel_req(j);
        uv_timer_stop(j->timer);
    }
}

int64_t qw_job_run(const struct qw_job *j)
{
    return j->run;
}

struct qw_device *qw_job_device(const struct qw_job *j)
{
    return j->dev;
}

bool qw_job_thread_running(const struct qw_job *j)
{
    return j->exec != NULL;
}

json_t *qw_job_heartbeat_entry(const struct qw_job *j)
{
    if (j->phase == PH_RECOVERED || j->phase == PH_OVER || j->reason == R_ABANDON)
        return NULL;
    return json_pack("{s:I, s:s, s:I}", "run", (json_int_t)j->run, "lease", j->lease, "step",
                     (json_int_t)j->last_step);
}

/* ---- life ---------------------------------------------------------------------- */

static struct qw_job *alloc_job(const struct qw_job_host *host, struct qc_err *err)
{
    struct qw_job *j = calloc(1, sizeof *j);

    if (!j || !(j->timer = calloc(1, sizeof *j->timer)) || !(j->summary = json_object())) {
        if (j)
            free(j->timer);
        free(j);
        qc_err_set(err, QC_ENOMEM, "", "out of memory for a job");
        return NULL;
    }
    j->host = *host;
    uv_timer_init(host->loop, j->timer);
    j->timer->data = j;
    atomic_init(&j->stop, 0);
    qw_backoff_init(&j->bo, 0.2, host->cfg->backoff_max_s, (uint64_t)(uintptr_t)j ^ uv_hrtime());
    return j;
}

/* The lease's checkpoint CRC: a hex string as in X-Qlab-Crc32, or a number. */
static bool parse_crc(const json_t *v, uint32_t *out)
{
    if (json_is_integer(v)) {
        *out = (uint32_t)json_integer_value(v);
        return true;
    }
    const char *s = json_string_value(v);
    char *end;
    if (!s || !*s)
        return false;
    unsigned long x = strtoul(s, &end, 16);
    if (*end || x > 0xffffffffUL)
        return false;
    *out = (uint32_t)x;
    return true;
}

int qw_job_create(struct qw_job **out, const struct qw_job_host *host, const json_t *lease,
                  struct qw_device *dev, const char *token, struct qc_err *err)
{
    const json_t *run = json_object_get(lease, "run");
    const char *ltok = json_string_value(json_object_get(lease, "lease"));
    const json_t *id = json_object_get(run, "id"), *spec = json_object_get(run, "spec");
    const json_t *ck = json_object_get(lease, "checkpoint");

    *out = NULL;
    if (!json_is_integer(id) || json_integer_value(id) <= 0 || !ltok || !*ltok ||
        strlen(ltok) >= QW_JOURNAL_TOKEN_MAX || !json_is_object(spec))
        return qc_err_set(err, QC_EINVAL, "", "lease answer lacks run.id, run.spec or lease");
    struct qw_job *j = alloc_job(host, err);
    if (!j)
        return err->code;
    j->run = json_integer_value(id);
    snprintf(j->lease, sizeof j->lease, "%s", ltok);
    snprintf(j->token, sizeof j->token, "%s", token ? token : "");
    j->dev = dev;
    j->slot_held = true;
    j->spec_text = json_dumps(spec, JSON_COMPACT);
    if (json_is_object(ck)) {
        j->remote.has = true;
        j->remote.size = json_integer_value(json_object_get(ck, "size"));
        j->remote.step = json_integer_value(json_object_get(ck, "step"));
        j->remote.crc_known = parse_crc(json_object_get(ck, "crc32"), &j->remote.crc);
    }
    path_tag(j->dir, sizeof j->dir, host->cfg->state_dir, "runs", j->run, j->lease, "");
    path_tag(j->jpath, sizeof j->jpath, host->cfg->state_dir, "journal", j->run, j->lease, ".jnl");
    j->phase = PH_DOWNLOAD; /* left at once when there is nothing to download */
    if (!j->spec_text) {
        j->slot_held = false; /* the caller gives the slot back */
        qw_job_destroy(j);
        return qc_err_set(err, QC_ENOMEM, "", "out of memory for the spec");
    }
    *out = j;
    return 0;
}

int qw_job_create_recovered(struct qw_job **out, const struct qw_job_host *host,
                            struct qw_journal *journal, struct qw_journal_rec *rec,
                            struct qc_err *err)
{
    struct qw_job *j = alloc_job(host, err);

    *out = NULL;
    if (!j) {
        qw_journal_destroy(journal);
        free(rec->points);
        rec->points = NULL;
        return err->code;
    }
    j->run = rec->run;
    snprintf(j->lease, sizeof j->lease, "%s", rec->lease);
    snprintf(j->token, sizeof j->token, "%s", rec->token);
    snprintf(j->jpath, sizeof j->jpath, "%s", qw_journal_path(journal));
    j->journal = journal;
    j->pts = rec->points;
    j->cap = j->received = rec->n;
    rec->points = NULL;
    for (int64_t i = 0; i < rec->n; i++) {
        if (qw_metrics_in_summary(j->pts[i].name))
            json_object_set_new(j->summary, j->pts[i].name, json_real(j->pts[i].value));
        j->last_step = j->pts[i].step;
    }
    j->phase = PH_RECOVERED;
    j->started = true;
    *out = j;
    return 0;
}

void qw_job_refuse(struct qw_job *j, const char *why)
{
    qw_log_error("run %" PRId64 ": refused: %s", j->run, why);
    j->phase = PH_REPORT;
    j->thread_done = true;
    j->started = true;
    j->done_rc = QC_EUNSUPP;
    snprintf(j->done_msg, sizeof j->done_msg, "worker %s: %s", j->host.cfg->name, why);
    if (j->slot_held) {
        j->slot_held = false;
        j->host.slot_free(j->host.ctx, j);
    }
    pump(j);
}

void qw_job_begin(struct qw_job *j)
{
    if (j->phase == PH_DOWNLOAD && !j->remote.has) {
        start_training(j, NULL, 0);
        return;
    }
    if (j->phase == PH_DOWNLOAD)
        qw_log_info("run %" PRId64 ": resuming from the checkpoint of step %" PRId64, j->run,
                    j->remote.step);
    pump(j);
}

void qw_job_destroy(struct qw_job *j)
{
    if (!j)
        return;
    cancel_req(j);
    if (j->exec) {
        /* Only reached when the thread has ended or never will matter
         * (the process is exiting); join only what is joinable. */
        qw_exec_join(j->exec);
    }
    if (j->timer) /* never begun: close it without the finished callback */
        uv_close((uv_handle_t *)j->timer, free_handle);
    qw_journal_destroy(j->journal);
    free(j->pts);
    free(j->spec_text);
    ckpt_free(&j->ck);
    ckpt_free(&j->ck_flight);
    json_decref(j->summary);
    free(j);
}
