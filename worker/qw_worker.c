/* The worker's life on the event loop (see qw_worker.h). */
#include "qw_worker.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "qw_api.h"
#include "qw_backoff.h"
#include "qw_device.h"
#include "qw_drain.h"
#include "qw_fsop.h"
#include "qw_http.h"
#include "qw_job.h"
#include "qw_journal.h"
#include "qw_log.h"
#include "qw_mailbox.h"

#define DEFAULT_HEARTBEAT_S 5.0

struct qw_worker {
    uv_loop_t *loop;
    const struct qw_config *cfg;
    struct qw_http *http;
    struct qw_api api;
    struct qw_devices devs;
    struct qw_mailbox mb;
    struct qw_job_host host;
    struct qw_job **jobs;
    int njobs, capjobs;
    int lock_fd;

    int64_t id;
    char token[QW_TOKEN_MAX];
    double hb_s, lease_ttl_s;
    bool registered;
    struct qw_http_req *reg_req, *hb_req, *lease_req;
    uv_timer_t *reg_timer, *hb_timer, *lease_timer, *stop_timer;
    uv_signal_t *sigterm, *sigint;
    struct qw_drain drain; /* before a batch job's end (qw_drain.h) */
    struct qw_backoff reg_bo, lease_bo;
    bool lease_wait, hb_failing;
    bool stopping, closing, closed, forced;
    int signals;
    int leased;
    int exit_code;
};

static void maybe_lease(struct qw_worker *w);
static void do_register(struct qw_worker *w);
static void check_exit(struct qw_worker *w);
static void begin_shutdown(struct qw_worker *w, const char *why);

/* ---- jobs ---------------------------------------------------------------- */

static int add_job(struct qw_worker *w, struct qw_job *j)
{
    if (w->njobs == w->capjobs) {
        int cap = w->capjobs ? w->capjobs * 2 : 8;
        struct qw_job **p = realloc(w->jobs, (size_t)cap * sizeof *p);
        if (!p)
            return -1;
        w->jobs = p;
        w->capjobs = cap;
    }
    w->jobs[w->njobs++] = j;
    return 0;
}

static void on_slot_free(void *ctx, struct qw_job *j)
{
    struct qw_worker *w = ctx;
    struct qw_device *dev = qw_job_device(j); /* NULL for a recovered job: it holds no slot */

    if (dev && dev->free < dev->slots)
        dev->free++;
    maybe_lease(w);
}

static void on_finished(void *ctx, struct qw_job *j)
{
    struct qw_worker *w = ctx;

    for (int i = 0; i < w->njobs; i++)
        if (w->jobs[i] == j) {
            w->jobs[i] = w->jobs[--w->njobs];
            break;
        }
    qw_job_destroy(j);
    if (w->cfg->once && w->leased > 0 && w->njobs == 0 && !w->stopping)
        begin_shutdown(w, "--once: the run is over");
    check_exit(w);
    maybe_lease(w);
}

static void deliver(void *ctx, struct qw_event *ev)
{
    (void)ctx;
    qw_job_deliver(ev->target, ev);
}

/* ---- registration ------------------------------------------------------------ */

static void on_reg_timer(uv_timer_t *t)
{
    do_register(t->data);
}

static void on_hb_timer(uv_timer_t *t);

static void on_register(void *ctx, const struct qw_http_resp *resp)
{
    struct qw_worker *w = ctx;
    struct qw_api_result r;

    w->reg_req = NULL;
    qw_api_parse(&r, resp, true);
    const json_t *worker = json_object_get(r.json, "worker");
    const json_t *id = json_object_get(worker, "id");
    const char *tok = json_string_value(json_object_get(r.json, "token"));
    if (r.cls == QW_API_OK && (!json_is_integer(id) || json_integer_value(id) <= 0)) {
        r.cls = QW_API_RETRY;
        snprintf(r.msg, sizeof r.msg, "HTTP %ld without worker.id", r.status);
    }
    if (r.cls == QW_API_OK) {
        w->id = json_integer_value(id);
        snprintf(w->token, sizeof w->token, "%s", tok ? tok : "");
        const double hb = json_number_value(json_object_get(r.json, "heartbeat_interval"));
        w->lease_ttl_s = json_number_value(json_object_get(r.json, "lease_ttl"));
        w->hb_s = w->cfg->heartbeat_s > 0 ? w->cfg->heartbeat_s : hb > 0 ? hb : DEFAULT_HEARTBEAT_S;
        if (w->lease_ttl_s > 0 && w->hb_s > w->lease_ttl_s / 2)
            qw_log_warn("heartbeat every %.1f s against a lease TTL of %.1f s: leases may lapse",
                        w->hb_s, w->lease_ttl_s);
        w->registered = true;
        qw_backoff_reset(&w->reg_bo);
        qw_log_info("registered as worker %" PRId64 " (heartbeat %.1f s, lease TTL %.1f s)", w->id,
                    w->hb_s, w->lease_ttl_s);
        const uint64_t ms = (uint64_t)(w->hb_s * 1000.0);
        uv_timer_start(w->hb_timer, on_hb_timer, ms, ms);
        maybe_lease(w);
    } else if (r.status == 401 || r.status == 403) {
        qw_log_error("registration refused (%s): check the join token (--token, QLAB_TOKEN)",
                     r.msg);
        w->exit_code = 1;
        begin_shutdown(w, "registration refused");
    } else {
        const uint64_t ms = qw_backoff_next_ms(&w->reg_bo);
        qw_log_warn("registration failed (%s); retrying in %.1f s", r.msg, (double)ms / 1000.0);
        uv_timer_start(w->reg_timer, on_reg_timer, ms, 0);
    }
    qw_api_result_free(&r);
}

static void do_register(struct qw_worker *w)
{
    char host[256] = "";
    struct qc_err err;
    json_t *tags = json_array();

    if (w->stopping || w->reg_req)
        return;
    gethostname(host, sizeof host - 1);
    char buf[QW_NAME_MAX];
    snprintf(buf, sizeof buf, "%s", w->cfg->tags);
    char *save = NULL;
    for (char *t = strtok_r(buf, ",", &save); t && tags; t = strtok_r(NULL, ",", &save))
        if (*t)
            json_array_append_new(tags, json_string(t));
    json_t *datasets = qw_datasets_to_json();
    json_t *body =
        json_pack("{s:s, s:s, s:o, s:o, s:s, s:o}", "name", w->cfg->name, "host", host, "devices",
                  qw_devices_to_json(&w->devs, true), "tags", tags ? tags : json_array(), "version",
                  QW_VERSION, "datasets", datasets ? datasets : json_array());
    struct qw_api_call c = {
        .method = "POST", .path = "/workers/register", .token = w->cfg->token, .json = body};
    qc_err_clear(&err);
    w->registered = false;
    if (!body || qw_api_send(&w->api, &w->reg_req, &c, on_register, w, &err)) {
        const uint64_t ms = qw_backoff_next_ms(&w->reg_bo);
        qw_log_warn("cannot send the registration (%s); retrying in %.1f s",
                    body ? err.msg : "out of memory", (double)ms / 1000.0);
        uv_timer_start(w->reg_timer, on_reg_timer, ms, 0);
    }
    json_decref(body);
}

/* The server no longer knows us (its database was replaced, or we were
 * pruned): register again. Runs in flight keep their old lease and find
 * out for themselves whether it still holds. */
static void reregister(struct qw_worker *w, const char *why)
{
    if (!w->registered)
        return;
    qw_log_warn("the server does not know worker %" PRId64 " any more (%s); registering again",
                w->id, why);
    w->registered = false;
    uv_timer_stop(w->hb_timer);
    if (w->lease_req) {
        qw_http_cancel(w->lease_req);
        w->lease_req = NULL;
    }
    do_register(w);
}

/* ---- heartbeat ----------------------------------------------------------------- */

static void on_heartbeat(void *ctx, const struct qw_http_resp *resp)
{
    struct qw_worker *w = ctx;
    struct qw_api_result r;

    w->hb_req = NULL;
    qw_api_parse(&r, resp, true);
    if (r.cls == QW_API_OK) {
        if (w->hb_failing)
            qw_log_info("heartbeat answered again");
        w->hb_failing = false;
        const json_t *runs = json_object_get(r.json, "runs"), *e;
        size_t i;
        json_array_foreach(runs, i, e)
        {
            const json_int_t run = json_integer_value(json_object_get(e, "run"));
            const char *action = json_string_value(json_object_get(e, "action"));
            for (int k = 0; action && k < w->njobs; k++)
                if (qw_job_run(w->jobs[k]) == run) {
                    qw_job_action(w->jobs[k], action);
                    break; /* the job array may change below us: act on one */
                }
        }
    } else if (r.cls == QW_API_GONE && (r.status == 401 || r.status == 404)) {
        reregister(w, r.msg);
    } else {
        if (!w->hb_failing)
            qw_log_warn("heartbeat failed (%s); trying again every %.1f s", r.msg, w->hb_s);
        w->hb_failing = true;
    }
    qw_api_result_free(&r);
}

static void on_hb_timer(uv_timer_t *t)
{
    struct qw_worker *w = t->data;
    struct qc_err err;
    char path[64];
    json_t *runs = json_array();

    if (w->hb_req || !w->registered)
        return; /* the previous one is still out: do not pile up */
    for (int i = 0; runs && i < w->njobs; i++) {
        json_t *e = qw_job_heartbeat_entry(w->jobs[i]);
        if (e)
            json_array_append_new(runs, e);
    }
    json_t *body =
        runs ? json_pack("{s:o, s:o}", "runs", runs, "devices", qw_devices_to_json(&w->devs, true))
             : NULL;
    snprintf(path, sizeof path, "/workers/%" PRId64 "/heartbeat", w->id);
    struct qw_api_call c = {.method = "POST", .path = path, .token = w->token, .json = body};
    qc_err_clear(&err);
    if (!body || qw_api_send(&w->api, &w->hb_req, &c, on_heartbeat, w, &err))
        qw_log_warn("cannot send a heartbeat: %s", body ? err.msg : "out of memory");
    json_decref(body);
}

/* ---- leasing -------------------------------------------------------------------- */

static void on_lease_timer(uv_timer_t *t)
{
    struct qw_worker *w = t->data;
    w->lease_wait = false;
    maybe_lease(w);
}

static void lease_later(struct qw_worker *w, const char *msg)
{
    const uint64_t ms = qw_backoff_next_ms(&w->lease_bo);
    qw_log_warn("lease request failed (%s); retrying in %.1f s", msg, (double)ms / 1000.0);
    w->lease_wait = true;
    uv_timer_start(w->lease_timer, on_lease_timer, ms, 0);
}

/* Fire and forget: gives back a run we cannot take (a device the lease
 * names that we do not have). */
static void on_giveback(void *ctx, const struct qw_http_resp *resp)
{
    (void)ctx;
    if (resp->status < 200 || resp->status >= 300)
        qw_log_warn("release of an unusable lease failed: HTTP %ld %s", resp->status, resp->error);
}

static void take_lease(struct qw_worker *w, const json_t *ans)
{
    const char *dev_id = json_string_value(json_object_get(ans, "device"));
    const json_t *run = json_object_get(ans, "run");
    const json_t *spec = json_object_get(run, "spec");
    const json_t *sdev = json_object_get(spec, "device");
    const char *kind = json_string_value(json_object_get(sdev, "kind"));
    const char *board = json_string_value(json_object_get(sdev, "board"));
    struct qw_device *dev = qw_devices_find(&w->devs, dev_id);
    struct qw_job *j = NULL;
    struct qc_err err;
    char why[256];

    qc_err_clear(&err);
    if (!dev || dev->free <= 0) {
        /* Not one of the devices we offered: give it straight back. */
        const json_int_t id = json_integer_value(json_object_get(run, "id"));
        const char *lease = json_string_value(json_object_get(ans, "lease"));
        char path[64];
        qw_log_error("lease of run %" JSON_INTEGER_FORMAT " names device '%s', which is not "
                     "free here; releasing it",
                     id, dev_id ? dev_id : "(none)");
        snprintf(path, sizeof path, "/runs/%" JSON_INTEGER_FORMAT "/release", id);
        struct qw_api_call c = {.method = "POST", .path = path, .token = w->token, .lease = lease};
        if (lease && id > 0)
            qw_api_send(&w->api, NULL, &c, on_giveback, w, &err);
        lease_later(w, "unusable lease");
        return;
    }
    dev->free--;
    if (qw_job_create(&j, &w->host, ans, dev, w->token, &err) || add_job(w, j)) {
        qw_log_error("cannot take the lease: %s", j ? "out of memory" : err.msg);
        if (j)
            qw_job_destroy(j);
        else
            dev->free++;
        lease_later(w, "bad lease answer");
        return;
    }
    w->leased++;
    const char *name = json_string_value(json_object_get(run, "name"));
    qw_log_info("run %" PRId64 " leased on %s: %s", qw_job_run(j), dev->id, name ? name : "");
    if (!qw_device_accepts(dev, kind, board, why, sizeof why))
        qw_job_refuse(j, why); /* never run it on another kind of device */
    else
        qw_job_begin(j);
}

static void on_lease(void *ctx, const struct qw_http_resp *resp)
{
    struct qw_worker *w = ctx;
    struct qw_api_result r;

    w->lease_req = NULL;
    qw_api_parse(&r, resp, true);
    if (r.cls == QW_API_OK) {
        qw_backoff_reset(&w->lease_bo);
        if (r.status != 204 && r.json)
            take_lease(w, r.json);
        maybe_lease(w);
    } else if (r.cls == QW_API_GONE && (r.status == 401 || r.status == 404)) {
        reregister(w, r.msg);
    } else {
        lease_later(w, r.msg);
    }
    qw_api_result_free(&r);
}

static void maybe_lease(struct qw_worker *w)
{
    struct qc_err err;
    char path[64];

    if (!w->registered || w->stopping || w->lease_req || w->lease_wait ||
        (w->cfg->once && w->leased > 0))
        return;
    json_t *ids = json_array();
    for (int i = 0; ids && i < w->devs.n; i++)
        if (w->devs.dev[i].free > 0)
            json_array_append_new(ids, json_string(w->devs.dev[i].id));
    if (!ids || json_array_size(ids) == 0) {
        json_decref(ids);
        return; /* every slot busy: a finishing run calls us again */
    }
    json_t *body = json_pack("{s:o, s:i}", "devices", ids, "wait", w->cfg->lease_wait_s);
    snprintf(path, sizeof path, "/workers/%" PRId64 "/lease", w->id);
    struct qw_api_call c = {
        .method = "POST",
        .path = path,
        .token = w->token,
        .json = body,
        .timeout_ms = (long)((w->cfg->lease_wait_s + w->cfg->http_timeout_s) * 1000.0),
    };
    qc_err_clear(&err);
    if (!body || qw_api_send(&w->api, &w->lease_req, &c, on_lease, w, &err))
        lease_later(w, body ? err.msg : "out of memory");
    json_decref(body);
}

/* ---- shutdown ------------------------------------------------------------------- */

static void free_handle(uv_handle_t *h)
{
    free(h);
}

static void close_all(struct qw_worker *w)
{
    if (w->closed)
        return;
    w->closed = true;
    if (w->reg_req)
        qw_http_cancel(w->reg_req);
    if (w->hb_req)
        qw_http_cancel(w->hb_req);
    if (w->lease_req)
        qw_http_cancel(w->lease_req);
    w->reg_req = w->hb_req = w->lease_req = NULL;
    qw_http_destroy(w->http);
    w->http = NULL;
    qw_mailbox_close(&w->mb);
    uv_timer_t *timers[] = {w->reg_timer, w->hb_timer, w->lease_timer, w->stop_timer};
    for (size_t i = 0; i < sizeof timers / sizeof timers[0]; i++)
        uv_close((uv_handle_t *)timers[i], free_handle);
    uv_close((uv_handle_t *)w->sigterm, free_handle);
    uv_close((uv_handle_t *)w->sigint, free_handle);
    qw_drain_close(&w->drain);
}

static void on_close_timer(uv_timer_t *t)
{
    close_all(t->data);
}

static void check_exit(struct qw_worker *w)
{
    if (w->stopping && w->njobs == 0 && !w->closed && !w->closing) {
        qw_log_info("every run is reported or released; exiting");
        /* From the next loop iteration: we may be inside an HTTP callback
         * here, and the client must not be destroyed under its caller. */
        w->closing = true;
        uv_timer_stop(w->stop_timer);
        uv_timer_start(w->stop_timer, on_close_timer, 0, 0);
    }
}

static void on_stop_timer(uv_timer_t *t)
{
    struct qw_worker *w = t->data;

    qw_log_error("shutdown deadline (%.1f s) passed with %d run(s) unfinished; their journals "
                 "stay for the next start",
                 w->cfg->shutdown_timeout_s, w->njobs);
    /* Aborting a job without a thread finishes it (asynchronously). */
    for (int i = w->njobs - 1; i >= 0; i--)
        if (i < w->njobs)
            qw_job_abort(w->jobs[i]);
    for (int i = 0; i < w->njobs; i++)
        if (qw_job_thread_running(w->jobs[i])) {
            w->forced = true;
            uv_stop(w->loop);
            return;
        }
}

static void begin_shutdown(struct qw_worker *w, const char *why)
{
    if (w->stopping)
        return;
    w->stopping = true;
    qw_log_info("shutting down (%s): %d run(s) to stop and hand back", why, w->njobs);
    uv_timer_stop(w->reg_timer);
    uv_timer_stop(w->lease_timer);
    if (w->reg_req) {
        qw_http_cancel(w->reg_req);
        w->reg_req = NULL;
    }
    if (w->lease_req) {
        /* A lease granted at this very moment lapses on the server and is
         * re-queued after its TTL; waiting out a 30 s long-poll is worse. */
        qw_http_cancel(w->lease_req);
        w->lease_req = NULL;
    }
    for (int i = 0; i < w->njobs; i++)
        qw_job_shutdown(w->jobs[i]);
    const uint64_t ms = (uint64_t)(w->cfg->shutdown_timeout_s * 1000.0);
    uv_timer_start(w->stop_timer, on_stop_timer, ms, 0);
    check_exit(w);
}

static void on_signal(uv_signal_t *s, int signum)
{
    struct qw_worker *w = s->data;

    if (++w->signals > 1) {
        qw_log_warn("second signal: exiting now");
        w->forced = true;
        uv_stop(w->loop);
        return;
    }
    begin_shutdown(w, signum == SIGTERM ? "SIGTERM" : "SIGINT");
}

/* A drain is the orderly shutdown, triggered by the job's clock or the
 * scheduler's signal instead of SIGTERM: the runs are handed back
 * (checkpoint, release) while there is still time to do it. */
static void on_drain(void *ctx, const char *why)
{
    begin_shutdown(ctx, why);
}

/* ---- start-up ----------------------------------------------------------------------- */

static int lock_state_dir(struct qw_worker *w, struct qc_err *err)
{
    char path[QW_PATH_MAX + 16];

    snprintf(path, sizeof path, "%s/lock", w->cfg->state_dir);
    w->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (w->lock_fd < 0)
        return qc_err_set(err, QC_EIO, "state-dir", "%s: %s", path, strerror(errno));
    if (flock(w->lock_fd, LOCK_EX | LOCK_NB) != 0)
        return qc_err_set(err, QC_ECONFLICT, "state-dir",
                          "another qlab-worker uses the state directory %s", w->cfg->state_dir);
    return 0;
}

/* Journals left by an earlier process: replay each, then release its run. */
static void recover_journals(struct qw_worker *w)
{
    char dir[QW_PATH_MAX + 16], path[QW_PATH_MAX + 300];
    struct dirent *e;
    DIR *d;

    snprintf(dir, sizeof dir, "%s/journal", w->cfg->state_dir);
    if (!(d = opendir(dir)))
        return;
    while ((e = readdir(d))) {
        const size_t n = strlen(e->d_name);
        if (n < 5 || strcmp(e->d_name + n - 4, ".jnl") != 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        struct qw_journal *jn = NULL;
        struct qw_journal_rec rec;
        struct qw_job *j = NULL;
        struct qc_err err;
        qc_err_clear(&err);
        if (qw_journal_load(&jn, &rec, path, &err)) {
            qw_log_warn("journal %s ignored and removed: %s", path, err.msg);
            qw_fs_remove(path, &err);
            continue;
        }
        qw_log_info("journal of run %" PRId64 " found with %" PRId64
                    " point(s): replaying, then releasing the run",
                    rec.run, rec.n);
        if (qw_job_create_recovered(&j, &w->host, jn, &rec, &err) || add_job(w, j)) {
            qw_log_error("cannot recover %s: %s", path, err.msg);
            qw_job_destroy(j);
        }
    }
    closedir(d);
}

int qw_worker_create(struct qw_worker **out, uv_loop_t *loop, const struct qw_config *cfg,
                     struct qc_err *err)
{
    struct qw_worker *w = calloc(1, sizeof *w);
    char sub[QW_PATH_MAX + 16];
    int rc;

    *out = NULL;
    if (!w)
        return qc_err_set(err, QC_ENOMEM, "", "out of memory");
    w->loop = loop;
    w->cfg = cfg;
    w->lock_fd = -1;
    if ((rc = qw_fs_mkdirs(cfg->state_dir, err)) || (rc = lock_state_dir(w, err)))
        goto fail;
    snprintf(sub, sizeof sub, "%s/journal", cfg->state_dir);
    if ((rc = qw_fs_mkdirs(sub, err)))
        goto fail;
    snprintf(sub, sizeof sub, "%s/runs", cfg->state_dir);
    if ((rc = qw_fs_mkdirs(sub, err)) || (rc = qw_devices_discover(&w->devs, cfg, err)) ||
        (rc = qw_http_create(&w->http, loop, err)) ||
        (rc = qw_http_set_cacert(w->http, cfg->cacert, err)) ||
        (rc = qw_mailbox_init(&w->mb, loop, deliver, w, err)))
        goto fail;
    w->api.http = w->http;
    snprintf(w->api.base, sizeof w->api.base, "%s", cfg->server);
    w->api.timeout_ms = (long)(cfg->http_timeout_s * 1000.0);
    w->host = (struct qw_job_host){.loop = loop,
                                   .api = &w->api,
                                   .cfg = cfg,
                                   .mb = &w->mb,
                                   .ctx = w,
                                   .slot_free = on_slot_free,
                                   .finished = on_finished};
    uv_timer_t **timers[] = {&w->reg_timer, &w->hb_timer, &w->lease_timer, &w->stop_timer};
    for (size_t i = 0; i < sizeof timers / sizeof timers[0]; i++) {
        if (!(*timers[i] = calloc(1, sizeof **timers[i]))) {
            rc = qc_err_set(err, QC_ENOMEM, "", "out of memory");
            goto fail; /* handles initialized so far are closed with the loop */
        }
        uv_timer_init(loop, *timers[i]);
        (*timers[i])->data = w;
    }
    w->sigterm = calloc(1, sizeof *w->sigterm);
    w->sigint = calloc(1, sizeof *w->sigint);
    if (!w->sigterm || !w->sigint) {
        rc = qc_err_set(err, QC_ENOMEM, "", "out of memory");
        goto fail;
    }
    uv_signal_init(loop, w->sigterm);
    uv_signal_init(loop, w->sigint);
    w->sigterm->data = w->sigint->data = w;
    uv_signal_start(w->sigterm, on_signal, SIGTERM);
    uv_signal_start(w->sigint, on_signal, SIGINT);
    qw_backoff_init(&w->reg_bo, 0.2, cfg->backoff_max_s, uv_hrtime());
    qw_backoff_init(&w->lease_bo, 0.2, cfg->backoff_max_s, uv_hrtime() + 1);
    for (int i = 0; i < w->devs.n; i++) {
        char *info = json_dumps(w->devs.dev[i].info, JSON_COMPACT);
        qw_log_info("device %s: %s, %d slot(s), %s", w->devs.dev[i].id,
                    qw_device_kind_name(w->devs.dev[i].kind), w->devs.dev[i].slots,
                    info ? info : "");
        free(info);
    }
    recover_journals(w);
    *out = w;
    return 0;
fail:
    /* A failure before the loop ran: nothing was sent. The process exits. */
    if (w->lock_fd >= 0)
        close(w->lock_fd);
    qw_devices_free(&w->devs);
    *out = NULL;
    free(w->jobs);
    /* Handles already initialized belong to the loop; main closes it. */
    if (w->http)
        qw_http_destroy(w->http);
    if (w->mb.async)
        qw_mailbox_close(&w->mb);
    uv_timer_t *ts[] = {w->reg_timer, w->hb_timer, w->lease_timer, w->stop_timer};
    for (size_t i = 0; i < 4; i++)
        if (ts[i] && ts[i]->loop)
            uv_close((uv_handle_t *)ts[i], free_handle);
        else
            free(ts[i]);
    free(w->sigterm);
    free(w->sigint);
    free(w);
    return err->code;
}

void qw_worker_start(struct qw_worker *w)
{
    qw_log_info("qlab-worker %s: server %s, state %s%s", QW_VERSION, w->cfg->server,
                w->cfg->state_dir, w->cfg->once ? ", --once" : "");
    for (int i = 0; i < w->njobs; i++)
        qw_job_begin(w->jobs[i]);
    do_register(w);
    struct qc_err err;
    qc_err_clear(&err);
    if (qw_drain_start(&w->drain, w->loop, w->cfg, on_drain, w, &err)) {
        qw_log_error("cannot arm the drain: %s", err.msg);
        w->exit_code = 1;
        begin_shutdown(w, "no drain");
    }
}

int qw_worker_exit_code(const struct qw_worker *w)
{
    return w->exit_code;
}

int qw_worker_forced(const struct qw_worker *w)
{
    return w->forced;
}

void qw_worker_destroy(struct qw_worker *w)
{
    if (!w)
        return;
    for (int i = 0; i < w->njobs; i++)
        qw_job_destroy(w->jobs[i]);
    free(w->jobs);
    qw_devices_free(&w->devs);
    if (w->lock_fd >= 0)
        close(w->lock_fd); /* releases the flock */
    free(w);
}
